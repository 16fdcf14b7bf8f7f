//! The JSON form of an [`Image`] (`ckpt decode --json`).
//!
//! The schema is documented in README.md and is stable: fields may be added,
//! never renamed or removed. Mirror structs keep the shared format structs
//! free of serde.

use serde::ser::{Serialize, Serializer};

use crate::bytes::cstr;
use crate::image::{Image, Task};

#[derive(serde::Serialize)]
struct JsonImage<'a> {
    size: usize,
    head: JsonHead,
    tasks_nr: Option<u32>,
    tasks: Vec<JsonTask>,
    tail: Option<JsonTail>,
    error: Option<JsonError>,
    records: Vec<JsonRecord<'a>>,
}

#[derive(serde::Serialize)]
struct JsonHead {
    magic: u64,
    version: u32,
    arch: u32,
    flags: u64,
    time_ns: u64,
    root_pid: i32,
    reserved: u32,
    release: String,
}

#[derive(serde::Serialize)]
struct JsonTask {
    index: usize,
    parent: i32,
    vpid: i32,
    vtgid: i32,
    vppid: i32,
    vpgid: i32,
    vsid: i32,
    // From the TASK record: `null` if the image ended before it.
    state: Option<u32>,
    exit_state: Option<u32>,
    exit_code: Option<i32>,
    exit_signal: Option<i32>,
    pdeath_signal: Option<i32>,
    flags: Option<u32>,
    uid: Option<u32>,
    euid: Option<u32>,
    suid: Option<u32>,
    gid: Option<u32>,
    egid: Option<u32>,
    sgid: Option<u32>,
    start_time_ns: Option<u64>,
    comm: Option<String>,
    nr_threads: Option<u32>,
}

#[derive(serde::Serialize)]
struct JsonTail {
    magic: u64,
    records: u32,
    crc32: u32,
}

#[derive(serde::Serialize)]
struct JsonError {
    error: i32,
    reserved: u32,
    reason: String,
}

#[derive(serde::Serialize)]
struct JsonRecord<'a> {
    offset: usize,
    #[serde(rename = "type")]
    r#type: std::borrow::Cow<'a, str>,
    len: u32,
}

fn task(t: &Task) -> JsonTask {
    let k = t.task;
    JsonTask {
        index: t.index,
        parent: t.pids.parent,
        vpid: t.pids.vpid,
        vtgid: t.pids.vtgid,
        vppid: t.pids.vppid,
        vpgid: t.pids.vpgid,
        vsid: t.pids.vsid,
        state: k.map(|k| k.state),
        exit_state: k.map(|k| k.exit_state),
        exit_code: k.map(|k| k.exit_code),
        exit_signal: k.map(|k| k.exit_signal),
        pdeath_signal: k.map(|k| k.pdeath_signal),
        flags: k.map(|k| k.flags),
        uid: k.map(|k| k.uid),
        euid: k.map(|k| k.euid),
        suid: k.map(|k| k.suid),
        gid: k.map(|k| k.gid),
        egid: k.map(|k| k.egid),
        sgid: k.map(|k| k.sgid),
        start_time_ns: k.map(|k| k.start_time_ns),
        comm: k.map(|k| cstr(&k.comm)),
        nr_threads: k.map(|k| k.nr_threads),
    }
}

impl Serialize for Image {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = &self.head;
        JsonImage {
            size: self.size,
            head: JsonHead {
                magic: h.magic,
                version: h.version,
                arch: h.arch,
                flags: h.flags,
                time_ns: h.time_ns,
                root_pid: h.root_pid,
                reserved: h.reserved,
                release: cstr(&h.release),
            },
            tasks_nr: self.tasks_nr(),
            tasks: self.tasks.iter().map(task).collect(),
            tail: self.tail.map(|t| JsonTail {
                magic: t.magic,
                records: t.records,
                crc32: t.crc32,
            }),
            error: self.error.map(|e| JsonError {
                error: e.error,
                reserved: e.reserved,
                reason: cstr(&e.reason),
            }),
            records: self
                .records
                .iter()
                .map(|r| JsonRecord {
                    offset: r.offset,
                    r#type: match crate::image::record_name(r.r#type) {
                        Some(n) => n.into(),
                        None => r.type_name().into(),
                    },
                    len: r.len,
                })
                .collect(),
        }
        .serialize(s)
    }
}
