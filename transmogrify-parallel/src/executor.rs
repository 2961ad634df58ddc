//! The executor trait and the in-process executors.

use std::time::Instant;

use transmogrify_core::{ProcessingResult, ResultCollector};

use crate::chunk::RangeReader;
use crate::driver::{
    ChunkRunner, Ctx, Delivery, Handoff, Outcome, Plan, Tally, deliver_handoff, finish, handle,
    run_group_in_process, run_in_process,
};
use crate::error::Result;
use crate::job::Job;
use crate::ledger::Ledger;
use crate::plan::{Chunk, Planned};
use crate::report::RunReport;
use crate::sink::ResultSink;

/// Runs a [`Job`], delivering each chunk's result to a sink. Every executor gives the
/// same result for the same job (with deterministic ids and a fixed extraction time,
/// byte-identical output).
pub trait Executor: Send + Sync {
    /// A short name for reports (`sequential`, `threads`, `processes`).
    fn name(&self) -> &'static str;

    /// Number of workers.
    fn workers(&self) -> usize;

    /// Runs the job. In strict mode the first bad record (in input order) is the
    /// error; in skip mode failed chunks are listed in the report.
    fn run(&self, job: &Job, sink: &dyn ResultSink) -> Result<RunReport>;

    /// Runs the job into memory and returns the combined result with the report
    /// (whose `tables` lists the rows of every table). A run of several workers that
    /// ends in [`Error::ColumnsPastLimit`](crate::Error::ColumnsPastLimit) is run
    /// again by [`SequentialExecutor`] when its inputs can be read again
    /// ([`Job::can_run_again`]), for the result one pass in input order gives.
    fn run_to_result(&self, job: &Job) -> Result<(ProcessingResult, RunReport)> {
        let collector = ResultCollector::new();
        let mut report = match self.run(job, &collector) {
            Err(crate::Error::ColumnsPastLimit { .. }) if job.can_run_again() => {
                return SequentialExecutor.run_to_result(job);
            }
            run => run?,
        };
        let result = if collector.is_empty() {
            job.processor.empty_result(&job.entity)
        } else {
            collector.finish()?
        };
        report.tables = result
            .schemas()?
            .into_iter()
            .map(|t| (t.name, t.num_rows))
            .collect();
        Ok((result, report))
    }
}

#[derive(Default)]
pub(crate) struct InProcess {
    /// The bytes of the chunk being flattened, reused from chunk to chunk.
    buf: Vec<u8>,
    reader: RangeReader,
    /// The runner is alone: no other waits for its chunks' counts before it
    /// flattens them (see [`run_group_in_process`]).
    alone: bool,
    /// The columns of the tables in the parts this runner flattened (see
    /// [`ColumnsSeen`](transmogrify_core::ColumnsSeen)).
    seen: transmogrify_core::ColumnsSeen,
}

impl InProcess {
    /// The runner of a run with no other: its chunks come one after another, so it
    /// publishes each piece's counts once it has flattened it, and with a core to
    /// spare it reads the next range of the input while it flattens one.
    fn alone() -> Self {
        InProcess {
            reader: RangeReader::new(default_workers() > 1),
            alone: true,
            ..InProcess::default()
        }
    }
}

impl ChunkRunner for InProcess {
    fn run(&mut self, chunk: &Chunk, ctx: &Ctx<'_>) -> Result<Delivery> {
        run_in_process(chunk, ctx, &mut self.buf, &self.seen).map(Delivery::from)
    }

    fn run_group(
        &mut self,
        chunks: &[Chunk],
        ctx: &Ctx<'_>,
        done: &mut dyn FnMut(&[Chunk], Outcome),
    ) -> Option<Result<()>> {
        Some(run_group_in_process(
            chunks,
            ctx,
            &mut self.buf,
            &mut self.reader,
            !self.alone,
            &self.seen,
            done,
        ))
    }

    fn splits_ranges(&self) -> bool {
        true
    }

    fn reads_csv_ranges(&self) -> bool {
        true
    }
}

/// Runs every chunk on the calling thread, one after another.
///
/// ```
/// use transmogrify_core::{IdStrategy, Processor, ProcessorConfig};
/// use transmogrify_parallel::{Executor, Input, Job, SequentialExecutor};
///
/// let dir = std::env::temp_dir().join(format!("tm-seq-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("events.jsonl");
/// std::fs::write(&path, "{\"id\":1,\"tags\":[{\"t\":\"a\"}]}\n{\"id\":2}\n")?;
/// let processor = Processor::new(ProcessorConfig::builder().with_id_strategy(IdStrategy::Positional).build()?);
/// let job = Job::new(processor, "events", vec![Input::jsonl(&path)]);
/// let (result, report) = SequentialExecutor.run_to_result(&job)?;
/// assert_eq!(report.records, 2);
/// assert_eq!(report.tables, [("events".to_string(), 2), ("events_tags".to_string(), 1)]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SequentialExecutor;

impl Executor for SequentialExecutor {
    fn name(&self) -> &'static str {
        "sequential"
    }

    fn workers(&self) -> usize {
        1
    }

    fn run(&self, job: &Job, sink: &dyn ResultSink) -> Result<RunReport> {
        sink.start(&job.entity);
        settle(run_sequential(job, sink, self.name()), sink)
    }
}

/// `result`, after telling `sink` that the run failed if it did: whatever it took is
/// not the whole input.
pub(crate) fn settle(result: Result<RunReport>, sink: &dyn ResultSink) -> Result<RunReport> {
    if result.is_err() {
        sink.abandon();
    }
    result
}

/// Refuses a job without an entity name (it names the main table) before anything
/// is read.
fn check_entity(job: &Job) -> Result<()> {
    if job.entity.is_empty() {
        return Err(transmogrify_core::Error::from(
            transmogrify_core::ConfigError::EmptyEntityName,
        )
        .into());
    }
    Ok(())
}

/// [`SequentialExecutor::run`].
fn run_sequential(job: &Job, sink: &dyn ResultSink, name: &'static str) -> Result<RunReport> {
    check_entity(job)?;
    {
        let started = Instant::now();
        let ledger = Ledger::default();
        let tally = Tally::new();
        let ctx = Ctx {
            job,
            ledger: &ledger,
            handoff: None,
        };
        let mut runner = InProcess::alone();
        let plan = Plan::new(job, &ledger, &tally, 1, runner.splits_ranges(), false);
        run_plan(job, plan, |item| {
            handle(item, &mut runner, &ctx, sink, &tally);
            true
        });
        finish(tally, job, name, 1, started)
    }
}

/// Runs chunks on a pool of scoped threads, each with its own flattening state; results
/// are deposited without a global lock and combined in input order. A pool of one
/// worker runs its chunks as [`SequentialExecutor`] does (the next range of the input
/// read while one is flattened, given a core to spare), with the planning on a thread
/// of its own.
///
/// ```
/// use transmogrify_core::Processor;
/// use transmogrify_parallel::{Chunking, Executor, Input, Job, ThreadExecutor};
///
/// let dir = std::env::temp_dir().join(format!("tm-thr-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("big.json");
/// std::fs::write(&path, "[{\"n\":1},{\"n\":2},{\"n\":3}]")?;
/// let job = Job::new(Processor::default(), "big", vec![Input::json(&path)])
///     .with_chunking(Chunking::records(1));
/// let (result, report) = ThreadExecutor::new(2).run_to_result(&job)?;
/// assert_eq!(report.chunks_succeeded, 3);
/// assert_eq!(result.rows("main")?[2]["n"], "3");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ThreadExecutor {
    workers: usize,
}

impl Default for ThreadExecutor {
    fn default() -> Self {
        ThreadExecutor::new(default_workers())
    }
}

/// The most workers an executor runs: more are taken as this many. Each worker
/// thread reserves 16 MiB of address space for its stack, and tens of thousands of
/// them exhaust what a process may map.
pub const MAX_WORKERS: usize = 1024;

/// The number of cores available, at least 1.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Stack size of worker threads: flattening recurses once per nesting level.
pub(crate) const WORKER_STACK: usize = 16 * 1024 * 1024;

impl ThreadExecutor {
    /// An executor with `workers` threads (at least 1, at most [`MAX_WORKERS`]).
    pub fn new(workers: usize) -> Self {
        ThreadExecutor {
            workers: workers.clamp(1, MAX_WORKERS),
        }
    }
}

impl Executor for ThreadExecutor {
    fn name(&self) -> &'static str {
        "threads"
    }

    fn workers(&self) -> usize {
        self.workers
    }

    fn run(&self, job: &Job, sink: &dyn ResultSink) -> Result<RunReport> {
        // A single worker takes every chunk in order, as the sequential executor
        // does, and runs them as it does.
        let runners = match self.workers {
            1 => vec![InProcess::alone()],
            n => (0..n).map(|_| InProcess::default()).collect(),
        };
        run_pool(job, sink, runners, self.name())
    }
}

/// Hands every item of `plan` to `each` (until it returns false); then, if every
/// input was read to its end, sets the job's [`input_total`](Job::input_total) to
/// the bytes the progress counter reaches once every chunk has succeeded.
fn run_plan(job: &Job, mut plan: Plan<'_>, mut each: impl FnMut(Planned) -> bool) {
    let mut planned = 0;
    for item in plan.by_ref() {
        planned += item.read_bytes();
        if !each(item) {
            return;
        }
    }
    if let Some(total) = job.input_total.as_ref().filter(|_| plan.read_through()) {
        total.store(
            planned + plan.counted_read(),
            std::sync::atomic::Ordering::SeqCst,
        );
    }
}

/// Plans on one thread and runs chunks on one thread per runner.
pub(crate) fn run_pool<R: ChunkRunner>(
    job: &Job,
    sink: &dyn ResultSink,
    runners: Vec<R>,
    name: &'static str,
) -> Result<RunReport> {
    sink.start(&job.entity);
    settle(run_pool_unsettled(job, sink, runners, name), sink)
}

/// [`run_pool`], without telling the sink of a failure.
fn run_pool_unsettled<R: ChunkRunner>(
    job: &Job,
    sink: &dyn ResultSink,
    runners: Vec<R>,
    name: &'static str,
) -> Result<RunReport> {
    check_entity(job)?;
    let started = Instant::now();
    let workers = runners.len();
    let pieces = runners.iter().all(ChunkRunner::splits_ranges);
    let csv = runners.iter().all(ChunkRunner::reads_csv_ranges);
    let ledger = Ledger::default();
    // A single worker flattens every part in order, counting the columns of each
    // against those before it as one thread does; several count their own parts'.
    let tally = if workers > 1 {
        Tally::counting_columns()
    } else {
        Tally::new()
    };
    let (tx, rx) = crossbeam::channel::bounded(workers * 2);
    let scope_result = crossbeam::thread::scope(|s| {
        let (ledger, tally) = (&ledger, &tally);
        s.builder()
            .name("tm-planner".into())
            // It reads Parquet inputs, whose nested columns the reader recurses into.
            .stack_size(WORKER_STACK)
            .spawn(move |_| {
                let plan = Plan::new(job, ledger, tally, workers, pieces, csv);
                run_plan(job, plan, |item| tx.send(item).is_ok());
            })
            .map_err(|e| crate::Error::Config(format!("cannot start the planner thread: {e}")))?;
        for (i, mut runner) in runners.into_iter().enumerate() {
            let rx = rx.clone();
            // A runner whose results another thread decodes and delivers: that
            // thread takes one result at a time, in the order they come, while the
            // runner goes on with its next chunk.
            let handoff = if runner.defers() {
                let (give, take) = crossbeam::channel::bounded::<Handoff>(1);
                s.builder()
                    .name(format!("tm-output-{i}"))
                    .spawn(move |_| {
                        let ctx = Ctx {
                            job,
                            ledger,
                            handoff: None,
                        };
                        for handed in take.iter() {
                            deliver_handoff(handed, &ctx, sink, tally);
                        }
                    })
                    .map_err(|e| {
                        crate::Error::Config(format!("cannot start an output thread: {e}"))
                    })?;
                Some(give)
            } else {
                None
            };
            s.builder()
                .name(format!("tm-worker-{i}"))
                .stack_size(WORKER_STACK)
                .spawn(move |_| {
                    let ctx = Ctx {
                        job,
                        ledger,
                        handoff,
                    };
                    for item in rx.iter() {
                        handle(item, &mut runner, &ctx, sink, tally);
                    }
                })
                .map_err(|e| crate::Error::Config(format!("cannot start a worker thread: {e}")))?;
        }
        drop(rx);
        Ok::<(), crate::Error>(())
    });
    match scope_result {
        Ok(r) => r?,
        Err(_) => {
            return Err(crate::Error::Config(
                "a worker thread panicked (this is a bug, please report it)".to_string(),
            ));
        }
    }
    finish(tally, job, name, workers, started)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Delivery;
    use crate::plan::Chunking;
    use crate::{Error, Input};
    use transmogrify_core::{Processor, ProcessorConfig};

    /// Flattens chunks as the threads executor does, but panics on chunk 3.
    #[derive(Default)]
    struct PanicsOnThree(InProcess);

    impl ChunkRunner for PanicsOnThree {
        fn run(&mut self, chunk: &Chunk, ctx: &Ctx<'_>) -> Result<Delivery> {
            assert!(chunk.seq != 3, "chunk 3 is on fire");
            self.0.run(chunk, ctx)
        }
    }

    /// A worker's panic fails the run with its message in any mode, promptly: the
    /// other workers, and the sink waiting for the chunk, are not left waiting.
    #[test]
    fn a_workers_panic_ends_the_run_with_its_message()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("r.jsonl");
        let records: String = (0..24).map(|i| format!("{{\"a\":{i}}}\n")).collect();
        std::fs::write(&path, records)?;
        for mode in [
            transmogrify_core::ErrorMode::Strict,
            transmogrify_core::ErrorMode::Skip,
        ] {
            let processor = Processor::new(ProcessorConfig::builder().with_on_error(mode).build()?);
            let job = Job::new(processor, "r", vec![Input::jsonl(&path)]).with_chunking(Chunking {
                records: Some(1),
                ..Chunking::default()
            });
            let sink = ResultCollector::new();
            let runners = vec![PanicsOnThree::default(), PanicsOnThree::default()];
            let run = run_pool(&job, &sink, runners, "threads");
            match run {
                Err(Error::Chunk {
                    index: 3, source, ..
                }) => assert_eq!(
                    source.to_string(),
                    "a worker panicked (this is a bug, please report it with the input): chunk \
                     3 is on fire"
                ),
                other => panic!("{mode:?}: {other:?}"),
            }
        }
        Ok(())
    }
}
