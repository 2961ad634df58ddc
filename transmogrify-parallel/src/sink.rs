//! Where executors deliver the result of each chunk.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use transmogrify_core::{ProcessingResult, ResultCollector};
use transmogrify_io::{OutputSummary, StreamingOutput};

use crate::error::{Error, Result};

/// Receives each chunk's result, from any worker thread, in any order; `seq` is the
/// chunk's place in the input.
///
/// [`ResultCollector`] is the in-memory sink; [`StreamingSink`] writes files in
/// bounded memory.
pub trait ResultSink: Send + Sync {
    /// Takes the result of chunk `seq`.
    fn accept(&self, seq: u64, part: ProcessingResult) -> Result<()>;

    /// Chunk `seq` failed and will never arrive (skip mode). Does nothing by default.
    fn gap(&self, _seq: u64) -> Result<()> {
        Ok(())
    }
}

impl ResultSink for ResultCollector {
    fn accept(&self, seq: u64, part: ProcessingResult) -> Result<()> {
        self.deposit(seq, part);
        Ok(())
    }
}

struct Ordered {
    next: u64,
    pending: BTreeMap<u64, Option<ProcessingResult>>,
    out: Option<StreamingOutput>,
}

impl Ordered {
    /// Hands every part that is next in line to the output.
    fn drain(&mut self) -> Result<()> {
        while let Some(part) = self.pending.remove(&self.next) {
            self.next += 1;
            if let (Some(part), Some(out)) = (part, self.out.as_mut()) {
                out.add(part)?;
            }
        }
        Ok(())
    }
}

/// Writes chunk results to files through a [`StreamingOutput`] as they arrive: parts
/// are spilled in input order (a part that arrives early waits only for the ones
/// before it), so memory stays bounded by the workers' chunks in flight, not by the
/// input.
///
/// ```
/// use transmogrify_core::Processor;
/// use transmogrify_io::{StreamingOutput, WriteOptions};
/// use transmogrify_parallel::{Chunking, Executor, Input, Job, StreamingSink, ThreadExecutor};
///
/// let dir = tempfile::tempdir()?;
/// let input = dir.path().join("in.jsonl");
/// std::fs::write(&input, "{\"a\":1}\n{\"a\":2,\"late\":true}\n")?;
/// let processor = Processor::default();
/// let out = dir.path().join("out");
/// let sink = StreamingSink::new(StreamingOutput::new(&out, "csv", processor.config(), WriteOptions::default())?);
/// let job = Job::new(processor, "t", vec![Input::jsonl(&input)]).with_chunking(Chunking::records(1));
/// ThreadExecutor::new(2).run(&job, &sink)?;
/// let summary = sink.finish()?;
/// assert_eq!(summary.files[0].rows, 2);
/// assert!(std::fs::read_to_string(out.join("t.csv"))?.starts_with("a,late,"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StreamingSink {
    state: Mutex<Ordered>,
}

impl StreamingSink {
    /// A sink writing through `out`.
    pub fn new(out: StreamingOutput) -> Self {
        StreamingSink {
            state: Mutex::new(Ordered {
                next: 0,
                pending: BTreeMap::new(),
                out: Some(out),
            }),
        }
    }

    /// Writes the final files (parts still waiting behind a missing one go first,
    /// in order).
    pub fn finish(self) -> Result<OutputSummary> {
        let mut state = self.state.into_inner();
        let mut out = state
            .out
            .take()
            .ok_or_else(|| Error::Config("the output was already finished".into()))?;
        for (_, part) in std::mem::take(&mut state.pending) {
            if let Some(part) = part {
                out.add(part)?;
            }
        }
        Ok(out.finish()?)
    }

    /// Drops everything: spill files are removed and no table file is written.
    pub fn abort(self) {
        drop(self.state.into_inner().out.take());
    }
}

impl ResultSink for StreamingSink {
    fn accept(&self, seq: u64, part: ProcessingResult) -> Result<()> {
        let mut state = self.state.lock();
        state.pending.insert(seq, Some(part));
        state.drain()
    }

    fn gap(&self, seq: u64) -> Result<()> {
        let mut state = self.state.lock();
        state.pending.insert(seq, None);
        state.drain()
    }
}
