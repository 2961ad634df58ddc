//! Where executors deliver the result of each chunk.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use transmogrify_core::{ProcessingResult, ResultCollector};
use transmogrify_io::{OutputFile, OutputSummary, StreamingOutput, TableJob, TableJobs};

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
    writers: usize,
}

/// Writes table files on up to `n` scoped threads, each taking the next table.
#[derive(Debug, Clone, Copy)]
pub struct ThreadedTables(pub usize);

impl TableJobs for ThreadedTables {
    fn run_all<'a>(&self, jobs: Vec<TableJob<'a>>) -> Vec<transmogrify_io::Result<OutputFile>> {
        let n = jobs.len();
        let threads = self.0.clamp(1, n.max(1));
        if threads <= 1 {
            return jobs.into_iter().map(|job| job()).collect();
        }
        let jobs: Vec<Mutex<Option<TableJob<'a>>>> =
            jobs.into_iter().map(|j| Mutex::new(Some(j))).collect();
        let results: Vec<Mutex<Option<transmogrify_io::Result<OutputFile>>>> =
            (0..n).map(|_| Mutex::new(None)).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let (Some(job), Some(slot)) = (jobs.get(i), results.get(i)) else {
                            break;
                        };
                        if let Some(job) = job.lock().take() {
                            *slot.lock() = Some(job());
                        }
                    }
                });
            }
        });
        results
            .into_iter()
            .map(|r| {
                r.into_inner().unwrap_or_else(|| {
                    Err(transmogrify_io::Error::Internal(
                        "a table job did not run".into(),
                    ))
                })
            })
            .collect()
    }

    fn threads(&self) -> usize {
        self.0.max(1)
    }
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
            writers: crate::executor::default_workers(),
        }
    }

    /// Writes up to `n` table files at once when finishing. Defaults to the number of
    /// cores.
    #[must_use]
    pub fn with_writers(mut self, n: usize) -> Self {
        self.writers = n.max(1);
        self
    }

    /// Writes the final files (parts still waiting behind a missing one go first,
    /// in order).
    pub fn finish(self) -> Result<OutputSummary> {
        let writers = self.writers;
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
        Ok(out.finish_with(&ThreadedTables(writers))?)
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
