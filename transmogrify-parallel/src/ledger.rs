//! Record ordinals and line numbers for chunks whose counts are learnt late.
//!
//! Chunks are numbered in input order. Each chunk's record and line counts are
//! published once known (by the planner, or by the worker that counted its range); a
//! chunk's base (its first record's ordinal and, within its input, first line) is the
//! sum over earlier chunks, so a worker waits only until the chunks before it are
//! counted, which every worker does first thing. This is one lock per chunk, off the
//! hot path.

#![expect(
    clippy::indexing_slicing,
    reason = "chunk numbers index the ledger only after it was grown to hold them"
)]

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};

#[derive(Debug, Default)]
struct State {
    /// Per chunk: input index and, once known, `(records, lines)`.
    chunks: Vec<(usize, Option<(u64, u64)>)>,
    /// Chunks after this one are cancelled (the earliest failed chunk of a strict run).
    cancelled_after: Option<u64>,
}

/// Shared counts of every chunk of a run.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    state: Mutex<State>,
    changed: Condvar,
}

impl Ledger {
    /// Registers chunk `seq` of `input` (chunks are registered in order).
    pub(crate) fn register(&self, seq: u64, input: usize, counts: Option<(u64, u64)>) {
        let mut s = self.state.lock();
        let i = seq as usize;
        if s.chunks.len() <= i {
            s.chunks.resize(i + 1, (input, None));
        }
        s.chunks[i] = (input, counts);
        self.changed.notify_all();
    }

    /// Publishes the counts of chunk `seq`.
    pub(crate) fn publish(&self, seq: u64, records: u64, lines: u64) {
        let mut s = self.state.lock();
        if let Some(c) = s.chunks.get_mut(seq as usize) {
            c.1 = Some((records, lines));
        }
        self.changed.notify_all();
    }

    /// Cancels every chunk after `seq`; waiters for them get [`Error::Cancelled`].
    /// Chunks up to `seq` carry on, so the earliest failure in input order is found
    /// whatever the timing.
    pub(crate) fn cancel_after(&self, seq: u64) {
        let mut s = self.state.lock();
        s.cancelled_after = Some(s.cancelled_after.map_or(seq, |c| c.min(seq)));
        self.changed.notify_all();
    }

    /// Whether anything was cancelled (the planner stops).
    pub(crate) fn is_cancelled(&self) -> bool {
        self.state.lock().cancelled_after.is_some()
    }

    /// Whether chunk `seq` is cancelled.
    pub(crate) fn is_cancelled_for(&self, seq: u64) -> bool {
        self.state.lock().cancelled_after.is_some_and(|c| seq > c)
    }

    /// `(first ordinal, first line)` of chunk `seq`, waiting for earlier counts.
    pub(crate) fn base(&self, seq: u64) -> Result<(u64, u64)> {
        let mut s = self.state.lock();
        loop {
            if s.cancelled_after.is_some_and(|c| seq > c) {
                return Err(Error::Cancelled);
            }
            let i = seq as usize;
            if let Some(&(input, _)) = s.chunks.get(i) {
                let earlier = &s.chunks[..i];
                if earlier.iter().all(|c| c.1.is_some()) {
                    let ordinal = earlier.iter().map(|c| c.1.map_or(0, |c| c.0)).sum();
                    let line = 1 + earlier
                        .iter()
                        .filter(|c| c.0 == input)
                        .map(|c| c.1.map_or(0, |c| c.1))
                        .sum::<u64>();
                    return Ok((ordinal, line));
                }
            }
            self.changed.wait(&mut s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_sum_earlier_chunks_and_restart_lines_per_input() -> Result<()> {
        let l = Ledger::default();
        l.register(0, 0, Some((3, 4)));
        l.register(1, 0, None);
        l.register(2, 1, Some((5, 0)));
        l.register(3, 1, None);
        assert_eq!(l.base(0)?, (0, 1));
        assert_eq!(l.base(1)?, (3, 5));
        std::thread::scope(|s| {
            let waiter = s.spawn(|| l.base(3));
            l.publish(1, 2, 2);
            assert_eq!(waiter.join().ok().and_then(|r| r.ok()), Some((10, 1)));
        });
        l.cancel_after(2);
        assert!(matches!(l.base(3), Err(Error::Cancelled)));
        assert_eq!(l.base(2)?, (5, 1));
        Ok(())
    }
}
