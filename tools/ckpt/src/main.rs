//! `ckpt`: take, show, decode and verify rust-ckpt checkpoint images.
//!
//! Every error is one line `ckpt: <cause>[: hint]` on stderr; the exit code
//! is 1 (2 for usage errors, 130 when interrupted).

mod cmd;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use cmd::checkpoint::FreezeMode;
use cmd::CliError;

#[derive(Parser)]
#[command(
    name = "ckpt",
    version,
    about = "Take, show, decode and verify rust-ckpt process-tree checkpoints"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Checkpoint the process tree under PID into FILE (needs root).
    Checkpoint {
        /// The root process of the tree.
        #[arg(value_parser = clap::value_parser!(i32).range(1..))]
        pid: i32,
        /// The image file to create (truncated, mode 0600).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
        /// How to hold the tree still during the checkpoint.
        #[arg(long, value_enum, default_value = "signal")]
        freeze: FreezeMode,
        /// The cgroup v2 directory to freeze (default: the root's cgroup).
        #[arg(long, value_name = "PATH")]
        cgroup: Option<PathBuf>,
        /// Seconds to wait for the tree to stop or freeze.
        #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
        timeout: Duration,
        /// Print the time spent freezing, in the ioctl and thawing (stderr).
        #[arg(long)]
        timings: bool,
        /// After a successful checkpoint, kill the tree instead of resuming
        /// it; return once every process of it has exited.
        #[arg(long)]
        kill: bool,
    },
    /// Recreate the tree in an image, with its pids, and resume it; wait
    /// for its root and exit with its status (needs root).
    Restart {
        /// The image.
        file: PathBuf,
        /// Return once it runs, printing its pid, instead of waiting.
        #[arg(long)]
        detach: bool,
        /// Restore inside a new pid namespace whose init is ckpt, the tree
        /// keeping its pids there.
        #[arg(long)]
        new_pidns: bool,
    },
    /// Show the tree in an image, like `pstree -p`.
    Show {
        /// The image (`-`: standard input).
        file: PathBuf,
    },
    /// Print every record and field of an image.
    Decode {
        /// The image (`-`: standard input).
        file: PathBuf,
        /// Print JSON (the schema in README.md).
        #[arg(long)]
        json: bool,
    },
    /// Check an image against every rule of the format.
    Verify {
        /// The image (`-`: standard input).
        file: PathBuf,
    },
    /// Whether the module is loaded, and its ABI version.
    Info,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(v > 0.0 && v <= 86_400.0) {
        return Err(format!(
            "'{s}' must be more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

fn dispatch(cli: Cli) -> Result<(), CliError> {
    match cli.cmd {
        Command::Checkpoint {
            pid,
            output,
            freeze,
            cgroup,
            timeout,
            timings,
            kill,
        } => {
            if kill && freeze == FreezeMode::Running {
                return Err(CliError {
                    code: 2,
                    msg: "--kill needs the tree held: not with --freeze running".into(),
                });
            }
            if cgroup.is_some() && freeze != FreezeMode::Cgroup {
                return Err(CliError {
                    code: 2,
                    msg: "--cgroup is only used with --freeze cgroup".into(),
                });
            }
            cmd::checkpoint::run(&cmd::checkpoint::Options {
                pid,
                output,
                freeze,
                cgroup,
                timeout,
                timings,
                kill,
            })
        }
        Command::Restart {
            file,
            detach,
            new_pidns,
        } => cmd::restart::run(&cmd::restart::Options {
            image: file,
            detach,
            new_pidns,
        }),
        Command::Show { file } => cmd::inspect::show(&file),
        Command::Decode { file, json } => cmd::inspect::decode(&file, json),
        Command::Verify { file } => cmd::inspect::verify(&file),
        Command::Info => cmd::inspect::info(),
    }
}

/// Prints one line on stderr, ignoring a closed stderr.
fn say(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "ckpt: {msg}");
}

fn main() {
    let code = match Cli::try_parse() {
        Ok(cli) => match dispatch(cli) {
            Ok(()) => 0,
            Err(e) => {
                if !e.msg.is_empty() {
                    say(&e.msg);
                }
                e.code
            }
        },
        Err(e) => usage(&e),
    };
    std::process::exit(code);
}

/// Help and version go to stdout (exit 0); usage errors are one line
/// (exit 2).
fn usage(e: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            2
        }
        _ => {
            // clap's text is several lines: keep its first paragraph (the
            // cause) and its tips, on one line.
            let text = e.to_string();
            let mut paragraphs = text.split("\n\n");
            let mut msg = paragraphs
                .next()
                .unwrap_or("bad usage")
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
                .trim_start_matches("error: ")
                .to_string();
            for l in paragraphs.flat_map(str::lines).map(str::trim) {
                if l.starts_with("tip:") {
                    msg.push_str("; ");
                    msg.push_str(l);
                }
            }
            say(&format!("{msg}: see 'ckpt --help'"));
            2
        }
    }
}
