//! Where executors deliver the result of each chunk.

use transmogrify_core::{ProcessingResult, ResultCollector};

use crate::error::Result;

/// Receives each chunk's result, from any worker thread, in any order; `seq` is the
/// chunk's place in the input.
///
/// [`ResultCollector`] is the in-memory sink; a streaming writer that spills parts to
/// disk keeps memory bounded.
pub trait ResultSink: Send + Sync {
    /// Takes the result of chunk `seq`.
    fn accept(&self, seq: u64, part: ProcessingResult) -> Result<()>;
}

impl ResultSink for ResultCollector {
    fn accept(&self, seq: u64, part: ProcessingResult) -> Result<()> {
        self.deposit(seq, part);
        Ok(())
    }
}
