//! What to run: a processor, an entity, inputs and chunking.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use transmogrify_core::Processor;

use crate::plan::{Chunking, Input};

/// Default number of retries of a chunk whose worker process died.
pub const DEFAULT_RETRIES: u32 = 1;

/// Default [`Job::part_memory`]: 4 MiB, about 3 MiB of API-event records. A part
/// that small is still in the processor's caches when it is written: one thread
/// writes CSV about 5% faster than with parts of a whole 8 MiB chunk (11 MB of rows),
/// at a third less peak memory, and two threads as fast.
pub const DEFAULT_PART_MEMORY: u64 = 4 * 1024 * 1024;

/// A flattening job: the same for every executor.
#[derive(Debug, Clone)]
pub struct Job {
    /// The processor (configuration and extraction time).
    pub processor: Processor,
    /// The entity name.
    pub entity: String,
    /// Inputs, flattened in order; record ordinals run on across them.
    pub inputs: Vec<Input>,
    /// How inputs are cut into chunks.
    pub chunking: Chunking,
    /// Retries of a chunk whose worker process died. Defaults to [`DEFAULT_RETRIES`].
    pub retries: u32,
    /// Read only this many records, for sampling. Defaults to `None`: everything.
    pub limit: Option<u64>,
    /// Input bytes of the chunks finished so far, updated as chunks finish (for
    /// progress bars); standard input and pipes, which may be slow to fill a chunk,
    /// count as they are read. Defaults to `None`.
    pub progress: Option<Arc<AtomicU64>>,
    /// Set once every input has been read to its end (its chunks planned, some
    /// perhaps still being flattened) to the bytes [`progress`](Self::progress)
    /// reaches when every chunk has succeeded: the total of inputs whose size is not
    /// known beforehand (standard input, pipes). Defaults to `None`.
    pub input_total: Option<Arc<AtomicU64>>,
    /// Memory a part's flattened rows may take before the part ends early. The
    /// in-process executors plan a chunk as pieces of a thirty-second of it (at least
    /// 256 KiB: ranges of a JSONL file, or what the planner reads of a JSON array or
    /// standard input), flattened as one part; once the rows flattened so far pass
    /// this, they are handed over as a part of their own and the next piece starts a
    /// fresh one. Records that flatten to far more than
    /// their own size (wide, sparse ones) then cost a bounded amount of memory per
    /// worker. Output is the same however parts are cut. Defaults to
    /// [`DEFAULT_PART_MEMORY`].
    pub part_memory: u64,
}

impl Job {
    /// Whether every input can be read again from its start: files, not standard
    /// input or a pipe, which a run reads once.
    pub fn can_run_again(&self) -> bool {
        self.inputs.iter().all(|input| !input.is_stream())
    }

    /// A job with default chunking.
    pub fn new(processor: Processor, entity: impl Into<String>, inputs: Vec<Input>) -> Self {
        Job {
            processor,
            entity: entity.into(),
            inputs,
            chunking: Chunking::default(),
            retries: DEFAULT_RETRIES,
            limit: None,
            progress: None,
            input_total: None,
            part_memory: DEFAULT_PART_MEMORY,
        }
    }

    /// Counts finished input bytes into `counter` as the run goes (see
    /// [`Job::progress`]).
    #[must_use]
    pub fn with_progress(mut self, counter: Arc<AtomicU64>) -> Self {
        self.progress = Some(counter);
        self
    }

    /// Sets `total`, once every input has been read to its end, to the bytes the
    /// [`with_progress`](Self::with_progress) counter reaches when every chunk has
    /// succeeded (see [`Job::input_total`]).
    #[must_use]
    pub fn with_input_total(mut self, total: Arc<AtomicU64>) -> Self {
        self.input_total = Some(total);
        self
    }

    /// Reads only the first `records` records (for a schema sample).
    #[must_use]
    pub fn with_limit(mut self, records: Option<u64>) -> Self {
        self.limit = records;
        self
    }

    /// Sets the chunking.
    #[must_use]
    pub fn with_chunking(mut self, chunking: Chunking) -> Self {
        self.chunking = chunking;
        self
    }

    /// Sets the memory a part may take before it ends early (see
    /// [`Job::part_memory`]).
    #[must_use]
    pub fn with_part_memory(mut self, bytes: u64) -> Self {
        self.part_memory = bytes;
        self
    }

    /// Sets the retries of chunks whose worker died.
    #[must_use]
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
}
