//! Executors of Transmogrify: the same flattening job run sequentially, on threads or
//! on worker processes, with the same result every way.
//!
//! A [`Job`] names a [`Processor`](transmogrify_core::Processor), an entity and
//! [`Input`]s; an [`Executor`] ([`SequentialExecutor`], [`ThreadExecutor`],
//! [`ProcessExecutor`]) cuts the inputs into chunks, flattens each chunk with its own
//! state and hands the chunk results to a [`ResultSink`] (in memory, or a streaming
//! writer), returning a [`RunReport`].
//!
//! The design decision that matters: JSONL files are cut into byte ranges without a
//! line-counting pass, so a chunk does not know the ordinal of its first record (which
//! positional ids and error line numbers need). Each worker counts its own range's
//! lines first and publishes the count; a chunk's base is the sum over the chunks
//! before it, which are counted in parallel. Ids are therefore exactly those of a
//! sequential run, whatever the executor, worker count or chunk size. A plain CSV file
//! read by two threads or more is cut too, into ranges of whole rows: its rows can
//! hold line breaks inside quotes, so the planner follows the quoting (a cheap pass)
//! to cut it and counts each range's rows as it goes, and each worker (thread or
//! process) parses its own ranges. Other inputs (JSON arrays, compressed files, standard input, Parquet) are
//! read by the planner and handed out in batches.
//!
//! ```
//! use transmogrify_core::{IdStrategy, Processor, ProcessorConfig};
//! use transmogrify_parallel::{Chunking, Executor, Input, Job, SequentialExecutor, ThreadExecutor};
//!
//! let dir = std::env::temp_dir().join(format!("tm-lib-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("orders.jsonl");
//! let lines: String = (0..100).map(|i| format!("{{\"id\":{i},\"items\":[{{\"n\":{i}}}]}}\n")).collect();
//! std::fs::write(&path, lines)?;
//! let config = ProcessorConfig::builder()
//!     .with_id_strategy(IdStrategy::Positional)
//!     .with_extract_time(Some(0))
//!     .build()?;
//! let job = Job::new(Processor::new(config), "orders", vec![Input::jsonl(&path)])
//!     .with_chunking(Chunking::bytes(256));
//! let (sequential, _) = SequentialExecutor.run_to_result(&job)?;
//! let (threaded, report) = ThreadExecutor::new(2).run_to_result(&job)?;
//! assert!(report.chunks_succeeded > 1);
//! assert_eq!(threaded.rows("orders_items")?, sequential.rows("orders_items")?);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub use crate::error::{Error, Result};
pub use crate::executor::{
    Executor, MAX_WORKERS, SequentialExecutor, ThreadExecutor, default_workers,
};
pub use crate::job::{DEFAULT_PART_MEMORY, DEFAULT_RETRIES, Job};
pub use crate::plan::{Chunking, DEFAULT_CHUNK_BYTES, Input, InputFormat};
pub use crate::processes::{ProcessExecutor, WORKER_ENV, stop_workers};
pub use crate::report::{FailedChunk, RunReport};
pub use crate::sink::{ResultSink, StreamingSink, ThreadedTables};
pub use crate::worker::{ABORT_ENV, PANIC_LINE, worker_main};

mod chunk;
mod driver;
mod error;
mod executor;
mod job;
mod ledger;
mod plan;
mod processes;
mod report;
mod sink;
mod wire;
mod worker;
