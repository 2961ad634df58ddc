//! The error type of the parallel crate.

use std::path::PathBuf;

/// Everything that can go wrong while running a job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading an input or a worker's pipe failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file (or `-` for stdin, or the worker program).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A `transmogrify-io` reader failed (unreadable, corrupt or truncated input).
    #[error(transparent)]
    Input(#[from] transmogrify_io::Error),
    /// The engine reported an error (a bad record in strict mode, a limit, …).
    #[error(transparent)]
    Core(#[from] transmogrify_core::Error),
    /// A chunk failed; in strict mode this stops the run.
    #[error("chunk {index} of {input} (bytes {start}..{end}) failed: {source}")]
    Chunk {
        /// The chunk's sequence number.
        index: u64,
        /// The input's name.
        input: String,
        /// First byte of the chunk in its input.
        start: u64,
        /// End of the chunk in its input.
        end: u64,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// A worker process misbehaved or died.
    #[error("worker process {program}: {message}")]
    Worker {
        /// The worker program.
        program: String,
        /// What happened, with the worker's stderr when there was any.
        message: String,
    },
    /// An option or combination of options cannot run.
    #[error("{0}")]
    Config(String),
    /// The run was stopped because another chunk failed first.
    #[error("cancelled after an earlier failure")]
    Cancelled,
    /// A table's records passed [`max_columns`](transmogrify_core::ProcessorConfig::max_columns)
    /// together in a run of several workers, each of which checks the limit against
    /// the columns of its own parts only. Which records pass it is decided in input
    /// order: run the job with [`SequentialExecutor`](crate::SequentialExecutor),
    /// which gives every executor's files when no record passes it.
    #[error(
        "table {table} would get more than the limit of {limit} columns in a run of several \
         workers, each of which counts the columns of its own parts: which records pass the \
         limit is decided in input order, by the sequential executor"
    )]
    ColumnsPastLimit {
        /// The table's name as it would be written.
        table: String,
        /// The limit in force.
        limit: usize,
    },
    /// A worker panicked while it flattened a chunk: a bug, which ends the run in
    /// any mode instead of leaving the other workers waiting for the chunk.
    #[error("a worker panicked (this is a bug, please report it with the input): {0}")]
    Panicked(String),
    /// The result sink refused a part.
    #[error("writing results: {0}")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The record error at the root of this error, if any (the first bad record of a
    /// strict run, with its position).
    pub fn record_error(&self) -> Option<&transmogrify_core::RecordError> {
        match self {
            Error::Core(e) => e.as_record_error(),
            Error::Chunk { source, .. } => source.record_error(),
            Error::Input(e) => e.record_error(),
            _ => None,
        }
    }

    /// Whether this is (a chunk's failure from) a worker's panic: a bug, which
    /// fails the run in any mode.
    pub fn is_panic(&self) -> bool {
        match self {
            Error::Panicked(_) => true,
            Error::Chunk { source, .. } => source.is_panic(),
            _ => false,
        }
    }

    /// The record error at the root of this error, to change (its position
    /// renumbered, say).
    pub fn record_error_mut(&mut self) -> Option<&mut transmogrify_core::RecordError> {
        match self {
            Error::Core(e) => e.as_record_error_mut(),
            Error::Chunk { source, .. } => source.record_error_mut(),
            Error::Input(e) => e.record_error_mut(),
            _ => None,
        }
    }
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
