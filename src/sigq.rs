// SPDX-License-Identifier: GPL-2.0

//! Queued signals with their values (SIGQ records): a thread's, read with
//! its THREAD record, and a process's, read with its PROC record, each
//! under the same siglock as the pending masks they explain (src/thread.c,
//! src/proc.c copy the queue).
//!
//! The queue's length is known only under the siglock, a spinlock, where
//! nothing can be allocated: the C helpers copy what fits and say how many
//! there are, and the reader makes room and reads again.

use kernel::{prelude::*, transmute::AsBytes};

use crate::{format::*, image::Writer};

// SAFETY: `repr(C)` structs of integers and integer arrays with no padding
// (asserted in format.rs): every byte is initialised.
unsafe impl AsBytes for ckpt_hdr_sigq {}
// SAFETY: as above.
unsafe impl AsBytes for ckpt_siginfo {}
// SAFETY: integers and integer arrays only: all zeroes is a valid value.
unsafe impl Zeroable for ckpt_siginfo {}

/// How many times a queue that grew between two reads is read again
/// before `EBUSY` (only a sender outside the held tree can grow it).
const TRIES: u32 = 4;

/// Reads a queue into `q[at..]` with `read`, which copies what fits into
/// the slice it is given and returns how many signals are queued; makes
/// room and reads again while they do not fit. Leaves `q` ending after the
/// signals read; returns how many.
pub(crate) fn read(
    q: &mut KVVec<ckpt_siginfo>,
    at: usize,
    mut read: impl FnMut(&mut [ckpt_siginfo]) -> Result<u32>,
) -> Result<u32> {
    for _ in 0..TRIES {
        let room = q.get_mut(at..).ok_or(EINVAL)?;
        let nr = read(room)?;
        if nr > CKPT_SIGQ_MAX {
            return Err(EOVERFLOW);
        }
        if nr as usize <= room.len() {
            q.truncate(at + nr as usize);
            return Ok(nr);
        }
        q.resize(at + nr as usize, Zeroable::zeroed(), GFP_KERNEL_ACCOUNT)?;
    }
    Err(EBUSY)
}

/// Writes the SIGQ record of `entries` (none if it is empty).
pub(crate) fn write(w: &mut Writer<'_>, scope: u32, entries: &[ckpt_siginfo]) -> Result {
    if entries.is_empty() {
        return Ok(());
    }
    let bytes = entries.as_bytes();
    let rec = ckpt_hdr_sigq {
        h: ckpt_hdr {
            r#type: CKPT_HDR_SIGQ,
            len: u32::try_from(core::mem::size_of::<ckpt_hdr_sigq>() + bytes.len())
                .map_err(|_| EOVERFLOW)?,
        },
        nr: entries.len() as u32,
        scope,
    };
    w.record(&[rec.as_bytes(), bytes])
}
