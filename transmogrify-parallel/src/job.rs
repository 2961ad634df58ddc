//! What to run: a processor, an entity, inputs and chunking.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use transmogrify_core::Processor;

use crate::plan::{Chunking, Input};

/// Default number of retries of a chunk whose worker process died.
pub const DEFAULT_RETRIES: u32 = 1;

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
    /// Read only about this many records (whole chunks of them), for sampling.
    /// Defaults to `None`: everything.
    pub limit: Option<u64>,
    /// Input bytes of the chunks finished so far, updated as chunks finish (for
    /// progress bars). Defaults to `None`.
    pub progress: Option<Arc<AtomicU64>>,
}

impl Job {
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
        }
    }

    /// Counts finished input bytes into `counter` as the run goes.
    #[must_use]
    pub fn with_progress(mut self, counter: Arc<AtomicU64>) -> Self {
        self.progress = Some(counter);
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

    /// Sets the retries of chunks whose worker died.
    #[must_use]
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
}
