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
    /// The base of each chunk whose earlier chunks are all counted, in order: kept as
    /// the counts come, so a base costs the same at the millionth chunk as at the
    /// first.
    bases: Vec<(u64, u64)>,
    /// Chunks after this one are cancelled (the earliest failed chunk of a strict run).
    cancelled_after: Option<u64>,
}

impl State {
    /// Extends the known bases as far as the counts allow. A chunk's first line
    /// follows the lines of the chunk before it when both are of the same input
    /// (an input's chunks are consecutive), and is 1 otherwise.
    fn advance(&mut self) {
        while let Some(&(input, _)) = self.chunks.get(self.bases.len()) {
            let i = self.bases.len();
            let base = match i.checked_sub(1) {
                None => (0, 1),
                Some(prev) => {
                    let (prev_input, counts) = self.chunks[prev];
                    let Some((records, lines)) = counts else {
                        break;
                    };
                    let (ordinal, line) = self.bases[prev];
                    let line = if prev_input == input { line + lines } else { 1 };
                    (ordinal + records, line)
                }
            };
            self.bases.push(base);
        }
    }
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
        s.advance();
        self.changed.notify_all();
    }

    /// Publishes the counts of chunk `seq`.
    pub(crate) fn publish(&self, seq: u64, records: u64, lines: u64) {
        let mut s = self.state.lock();
        if let Some(c) = s.chunks.get_mut(seq as usize) {
            c.1 = Some((records, lines));
        }
        s.advance();
        self.changed.notify_all();
    }

    /// The ordinal of the first record of input `input`: the records of every chunk
    /// of the inputs before it (registered before its own, in input order), once
    /// they are counted. [`Error::Cancelled`] if one of them never will be.
    pub(crate) fn input_base(&self, input: usize) -> Result<u64> {
        let mut s = self.state.lock();
        loop {
            let Some(last) = s.chunks.partition_point(|&(i, _)| i < input).checked_sub(1) else {
                return Ok(0);
            };
            if let (Some(&(ordinal, _)), (_, Some((records, _)))) =
                (s.bases.get(last), s.chunks[last])
            {
                return Ok(ordinal + records);
            }
            if s.cancelled_after.is_some_and(|c| last as u64 > c) {
                return Err(Error::Cancelled);
            }
            self.changed.wait(&mut s);
        }
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
            if let Some(&base) = s.bases.get(seq as usize) {
                return Ok(base);
            }
            self.changed.wait(&mut s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_of_many_chunks_counted_in_any_order_are_the_sums_before_them() -> Result<()> {
        // 20,000 chunks over inputs of 1-5 chunks, counted out of order.
        let mut chunks = Vec::new();
        let mut input = 0;
        while chunks.len() < 20_000 {
            for _ in 0..1 + input % 5 {
                let n = chunks.len() as u64;
                chunks.push((input, n * 7 % 13, n * 5 % 11));
            }
            input += 1;
        }
        let l = Ledger::default();
        for (seq, (input, _, _)) in chunks.iter().enumerate() {
            l.register(seq as u64, *input, None);
        }
        // Odd chunks first, then even ones from the last to the first.
        let odd = (1..chunks.len()).step_by(2);
        let even = (0..chunks.len()).step_by(2).rev();
        for seq in odd.chain(even) {
            let (_, records, lines) = chunks[seq];
            l.publish(seq as u64, records, lines);
        }
        let (mut ordinal, mut line) = (0, 1);
        for (seq, (input, records, lines)) in chunks.iter().enumerate() {
            if seq > 0 && chunks[seq - 1].0 != *input {
                line = 1;
            }
            assert_eq!(l.base(seq as u64)?, (ordinal, line), "chunk {seq}");
            ordinal += records;
            line += lines;
        }
        Ok(())
    }

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
