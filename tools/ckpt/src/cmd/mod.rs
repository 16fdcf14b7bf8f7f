//! The subcommands of the `ckpt` binary.

pub mod checkpoint;
pub mod freeze;
pub mod inspect;
pub mod kill;
pub mod restart;
pub mod sys;

/// An error for the user: printed as one line `ckpt: <msg>`, then the
/// process exits with `code`.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    /// Empty: print nothing (e.g. stdout was closed).
    pub msg: String,
}

impl CliError {
    pub fn new(msg: impl Into<String>) -> Self {
        CliError {
            code: 1,
            msg: msg.into(),
        }
    }

    /// SIGINT/SIGTERM/SIGHUP arrived: exit 130 after the tree was resumed.
    pub fn interrupted() -> Self {
        let sig = match sys::interrupted() {
            Some(libc::SIGTERM) => "SIGTERM",
            Some(libc::SIGHUP) => "SIGHUP",
            _ => "SIGINT",
        };
        CliError {
            code: 130,
            msg: format!("interrupted by {sig}"),
        }
    }
}

/// Appends a formatted line to a `String`.
#[macro_export]
macro_rules! outln {
    ($s:expr) => {
        $s.push('\n')
    };
    ($s:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($s, $($arg)*);
    }};
}

/// Writes `s` to stdout. A closed stdout (EPIPE) ends quietly.
pub fn emit(s: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(CliError {
            code: 1,
            msg: String::new(),
        }),
        Err(e) => Err(CliError::new(format!(
            "cannot write to stdout: {}",
            sys::io_msg(&e)
        ))),
    }
}
