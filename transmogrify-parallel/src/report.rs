//! What a run did.

use std::fmt;
use std::time::Duration;

/// A chunk that failed (after its retries), named by its place in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedChunk {
    /// The chunk's sequence number.
    pub index: u64,
    /// The input's name.
    pub input: String,
    /// First byte of the chunk in its input (for an input that cannot be read
    /// further, where its last good chunk ended).
    pub start: u64,
    /// End of the chunk in its input (for an input that cannot be read further,
    /// the input's end where it is a file).
    pub end: u64,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub error: String,
}

/// The summary of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// The executor's name.
    pub executor: String,
    /// Workers used.
    pub workers: usize,
    /// Records flattened.
    pub records: u64,
    /// Bad records skipped (skip mode).
    pub bad_records: u64,
    /// Rows per table, when the caller filled them in from the final result.
    pub tables: Vec<(String, usize)>,
    /// Bytes of the input files the chunks that succeeded took (a compressed file's
    /// compressed bytes), and the rest of each input read to its end (all of an input
    /// without records, a CSV header, a Parquet footer), as
    /// [`Job::with_progress`](crate::Job::with_progress) counts them.
    pub bytes_read: u64,
    /// Chunks that succeeded. A chunk here is a unit of work as the executors run
    /// it: the in-process executors and worker processes read a byte-sized
    /// [`Chunking`](crate::Chunking) chunk as pieces of a thirty-second of it (at
    /// least 256 KiB), and each piece is counted, failed and retried on its own.
    pub chunks_succeeded: u64,
    /// Chunks that failed, in input order.
    pub failed_chunks: Vec<FailedChunk>,
    /// Chunks that succeeded only after a retry.
    pub retried_chunks: u64,
    /// Wall time of the run.
    pub wall_time: Duration,
    /// The largest peak resident memory of the run's worker processes, in bytes,
    /// read as each ends (Linux); `None` for the executors without worker processes,
    /// and where it cannot be read.
    pub worker_peak_rss: Option<u64>,
    /// Inputs read as streams (standard input, a pipe) whose data was compressed,
    /// and so counted in [`bytes_read`](Self::bytes_read) as stored.
    pub compressed_streams: u64,
}

impl RunReport {
    /// Throughput in MB/s (10^6 bytes per second).
    pub fn mb_per_second(&self) -> f64 {
        let secs = self.wall_time.as_secs_f64();
        if secs == 0.0 {
            0.0
        } else {
            self.bytes_read as f64 / 1e6 / secs
        }
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} records ({} bad) in {:.2}s with {} ({} workers): {:.1} MB/s, {} chunks ok, {} failed",
            self.records,
            self.bad_records,
            self.wall_time.as_secs_f64(),
            self.executor,
            self.workers,
            self.mb_per_second(),
            self.chunks_succeeded,
            self.failed_chunks.len()
        )
    }
}
