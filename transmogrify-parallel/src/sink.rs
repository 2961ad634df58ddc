//! Where executors deliver the result of each chunk.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::thread::ThreadId;

use parking_lot::{Condvar, Mutex};
use transmogrify_core::{ProcessingResult, ResultCollector};
use transmogrify_io::{
    OutputFile, OutputSummary, PartPreparer, PreparedPart, SpilledPart, StreamingOutput, TableJob,
    TableJobs,
};

use crate::error::{Error, Result};

/// Receives each chunk's result, from any worker thread, in any order; `seq` is the
/// chunk's place in the input.
///
/// [`ResultCollector`] is the in-memory sink; [`StreamingSink`] writes files in
/// bounded memory.
pub trait ResultSink: Send + Sync {
    /// Takes the result of chunk `seq`.
    fn accept(&self, seq: u64, part: ProcessingResult) -> Result<()>;

    /// A run of `entity` starts (the executors call it first): a sink that writes
    /// files learns the main table's name, to write it without rows should no
    /// part arrive. Does nothing by default.
    fn start(&self, _entity: &str) {}

    /// Chunk `seq` failed and will never arrive (skip mode). Does nothing by default.
    fn gap(&self, _seq: u64) -> Result<()> {
        Ok(())
    }

    /// The run failed (a bad record in strict mode, an input or the output that
    /// could not be read or written): the parts taken are not the whole input, and
    /// no output may look complete. The executors call it before returning their
    /// error. Does nothing by default.
    fn abandon(&self) {}

    /// A directory into which worker processes may spill the parts they flatten
    /// ([`PartSpiller`](transmogrify_io::PartSpiller)), to hand them over through
    /// [`accept_spilled`](Self::accept_spilled) rather than whole through a pipe.
    /// `None` by default: every part comes whole.
    fn spill_dir(&self) -> Option<PathBuf> {
        None
    }

    /// Takes the part of chunk `seq`, spilled into [`spill_dir`](Self::spill_dir).
    /// A sink without a spill directory is never given one: by default an error.
    fn accept_spilled(&self, seq: u64, part: SpilledPart) -> Result<()> {
        drop(part);
        Err(Error::Config(format!(
            "chunk {seq}: this sink takes no spilled parts"
        )))
    }
}

impl ResultSink for ResultCollector {
    fn accept(&self, seq: u64, part: ProcessingResult) -> Result<()> {
        self.deposit(seq, part);
        Ok(())
    }
}

/// Parts waiting for their turn, and whether a thread is handing parts over.
struct Ordered {
    next: u64,
    /// Each with the thread that brought it.
    pending: BTreeMap<u64, Option<(PreparedPart, ThreadId)>>,
    /// A worker is handing the parts next in line to the output (outside this lock):
    /// the others leave theirs here and go back to work.
    draining: bool,
    /// The output refused a part: the run is over, and nobody waits for their turn.
    failed: bool,
}

/// How long a worker waits for its turn without any part being written before it
/// stops waiting (the part before its own may never come: a worker that died).
const MAX_STALL: std::time::Duration = std::time::Duration::from_secs(10);

thread_local! {
    /// The last chunk the worker handing a part over still holds after it (the rest
    /// of a group it flattens in several parts), if any: it must not wait for its
    /// turn once the part next in line is one of those.
    static HOLDS_UNTIL: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with this thread marked as holding the chunks after the parts it hands
/// over up to chunk `until` (or none).
pub(crate) fn holding_until<T>(until: Option<u64>, f: impl FnOnce() -> T) -> T {
    /// Puts the mark back as it was, on a panic too (a worker goes on after one).
    struct Restore(Option<u64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            HOLDS_UNTIL.with(|h| h.set(self.0));
        }
    }
    let _restore = Restore(HOLDS_UNTIL.with(|h| h.replace(until)));
    f()
}

/// Writes chunk results to files through a [`StreamingOutput`] as they arrive: parts
/// are handed to the output in input order (a part that arrives early waits only for
/// the ones before it), so memory stays bounded by the workers' chunks in flight, not
/// by the input.
///
/// One worker at a time hands parts to the output, and it does so outside the lock
/// that guards the waiting parts: a worker whose part is not next, or comes while
/// another worker is writing, leaves it and goes back to flattening, unless many
/// parts already wait (then it waits for the writing worker to catch up). Each
/// worker first makes its own part ready ([`PartPreparer`]: for spilled formats,
/// its tables encoded), and a part written from its arrays is left for the worker
/// that brought it to drop: freeing buffers another thread allocated locks that
/// thread's allocator arena.
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
    /// Signalled whenever the writing worker takes a part or stops.
    taken: Condvar,
    out: Mutex<Option<StreamingOutput>>,
    /// Encodes each part in the worker that brings it.
    preparer: PartPreparer,
    /// Parts written from their arrays, left for the worker that brought them to
    /// drop (see [`StreamingSink::offer`]).
    spent: Mutex<Vec<(ThreadId, ProcessingResult)>>,
    /// The output's spill directory, for worker processes' parts.
    spill_dir: Option<PathBuf>,
    writers: usize,
    /// Set when the run failed ([`ResultSink::abandon`]): nothing is written.
    abandoned: std::sync::atomic::AtomicBool,
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
        let panicked = std::thread::scope(|s| {
            let threads: Vec<_> = (0..threads)
                .map(|_| {
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
                    })
                })
                .collect();
            // Joined here, so that a job's panic is not replaced by the scope's own.
            let mut panicked = None;
            for thread in threads {
                if let Err(payload) = thread.join() {
                    panicked.get_or_insert(payload);
                }
            }
            panicked
        });
        // A writer's panic goes on with its own message, as on one thread.
        if let Some(payload) = panicked {
            std::panic::resume_unwind(payload);
        }
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
            preparer: out.preparer(),
            spill_dir: out.spill_dir().map(PathBuf::from),
            spent: Mutex::new(Vec::new()),
            state: Mutex::new(Ordered {
                next: 0,
                pending: BTreeMap::new(),
                draining: false,
                failed: false,
            }),
            taken: Condvar::new(),
            out: Mutex::new(Some(out)),
            writers: crate::executor::default_workers(),
            abandoned: std::sync::atomic::AtomicBool::new(false),
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
    ///
    /// # Errors
    /// [`Error::Config`] when the run failed (the executor returned an error, see
    /// [`ResultSink::abandon`]): the parts taken are not the whole input, so no
    /// table file is written and the unfinished ones are removed, as by
    /// [`abort`](Self::abort).
    pub fn finish(self) -> Result<OutputSummary> {
        if self.abandoned.load(std::sync::atomic::Ordering::Acquire) {
            self.abort();
            return Err(Error::Config(
                "the run failed, so its output was not written".to_string(),
            ));
        }
        // Parts written but not yet dropped by their workers.
        drop(self.spent.into_inner());
        let writers = self.writers;
        let mut state = self.state.into_inner();
        let mut out = self
            .out
            .into_inner()
            .ok_or_else(|| Error::Config("the output was already finished".into()))?;
        for (_, part) in std::mem::take(&mut state.pending) {
            if let Some((part, _)) = part {
                out.add_prepared(part)?;
            }
        }
        Ok(out.finish_with(&ThreadedTables(writers))?)
    }

    /// Drops everything: spill files and unfinished table files are removed, and no
    /// table file gets its name.
    pub fn abort(self) {
        drop(self.out.into_inner());
    }

    /// Parts allowed to wait, for their turn or while a worker writes, before the
    /// next to come waits too: one per worker, as many as when every worker waited
    /// for its turn.
    fn max_waiting(&self) -> usize {
        self.writers.max(2)
    }

    /// Drops the parts `me` brought that have been written.
    fn drop_spent(&self, me: ThreadId) {
        let mine: Vec<(ThreadId, ProcessingResult)> = {
            let mut spent = self.spent.lock();
            if spent.is_empty() {
                return;
            }
            let (mine, others) = std::mem::take(&mut *spent)
                .into_iter()
                .partition(|(by, _)| *by == me);
            *spent = others;
            mine
        };
        drop(mine);
    }

    /// Leaves part `seq` (`None`: it will not come) and, unless another worker is at
    /// it, hands every part that is next in line to the output.
    fn offer(&self, seq: u64, part: Option<PreparedPart>) -> Result<()> {
        let me = std::thread::current().id();
        self.drop_spent(me);
        // A gap holds no memory: its worker never waits for its turn.
        let gap = part.is_none();
        let until = HOLDS_UNTIL.with(std::cell::Cell::get);
        let mut state = self.state.lock();
        state.pending.insert(seq, part.map(|p| (p, me)));
        // Unless the part next in line is here and nobody is writing, back to work;
        // but not while too many parts wait (each holds a part's memory; the gaps
        // left by parts that cover several chunks hold nothing): a worker
        // ahead of the others then waits for the writing to catch up. (The worker
        // holding the next part never waits, so the writing goes on.)
        let mut progress = (state.next, std::time::Instant::now());
        while state.draining || !state.pending.contains_key(&state.next) {
            let waiting = state.pending.values().filter(|p| p.is_some()).count();
            // Nor does a worker that holds the part next in line, unflattened.
            let holds_next = until.is_some_and(|u| state.next > seq && state.next <= u);
            if state.failed || gap || holds_next || waiting <= self.max_waiting() {
                return Ok(());
            }
            if state.next != progress.0 {
                progress = (state.next, std::time::Instant::now());
            } else if progress.1.elapsed() >= MAX_STALL {
                return Ok(());
            }
            self.taken.wait_for(&mut state, MAX_STALL);
            // Parts this worker brought may have been written meanwhile.
            parking_lot::MutexGuard::unlocked(&mut state, || self.drop_spent(me));
        }
        state.draining = true;
        loop {
            let next = state.next;
            let Some(part) = state.pending.remove(&next) else {
                state.draining = false;
                self.taken.notify_all();
                return Ok(());
            };
            state.next += 1;
            self.taken.notify_all();
            drop(state);
            let (added, by) = match (part, self.out.lock().as_mut()) {
                (Some((part, by)), Some(out)) => (out.add_prepared(part), Some(by)),
                _ => (Ok(None), None),
            };
            // A part's arrays are thousands of small buffers in a wide table: freed
            // here, each would lock the allocator's arena of the thread that made
            // it, while that thread allocates the next part's. Its own thread drops
            // it when it brings its next part (or the sink goes).
            let added = match (added, by) {
                (Ok(Some(spent)), Some(by)) if by != me => {
                    self.spent.lock().push((by, spent));
                    Ok(())
                }
                (added, _) => added.map(drop),
            };
            state = self.state.lock();
            if let Err(e) = added {
                state.draining = false;
                state.failed = true;
                self.taken.notify_all();
                return Err(e.into());
            }
        }
    }
}

impl ResultSink for StreamingSink {
    /// The output writes the main table of `entity` without rows if no part comes,
    /// unless it was given an entity of its own
    /// ([`StreamingOutput::with_entity`]).
    fn start(&self, entity: &str) {
        let mut out = self.out.lock();
        if let Some(output) = out.take() {
            *out = Some(match output.entity() {
                Some(_) => output,
                None => output.with_entity(entity),
            });
        }
    }

    fn abandon(&self) {
        self.abandoned
            .store(true, std::sync::atomic::Ordering::Release);
    }

    fn accept(&self, seq: u64, part: ProcessingResult) -> Result<()> {
        // A part that is next in line while nobody writes is written by this
        // worker at once: encoding it first would only hold it twice.
        let next = {
            let state = self.state.lock();
            state.next == seq && !state.draining
        };
        if next {
            return self.offer(seq, Some(part.into()));
        }
        match self.preparer.prepare(part) {
            Ok(part) => self.offer(seq, Some(part)),
            Err(e) => {
                let mut state = self.state.lock();
                state.failed = true;
                self.taken.notify_all();
                Err(e.into())
            }
        }
    }

    fn gap(&self, seq: u64) -> Result<()> {
        self.offer(seq, None)
    }

    fn spill_dir(&self) -> Option<PathBuf> {
        self.spill_dir.clone()
    }

    fn accept_spilled(&self, seq: u64, part: SpilledPart) -> Result<()> {
        self.offer(seq, Some(part.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use transmogrify_core::{IdStrategy, Processor, ProcessorConfig};
    use transmogrify_io::WriteOptions;

    /// A processor with positional ids, whose part `i` holds the one record `{"n":i}`,
    /// and a fresh directory for CSV sinks.
    struct Fixture {
        processor: Processor,
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Result<Self> {
            let config = ProcessorConfig::builder()
                .with_id_strategy(IdStrategy::Positional)
                .with_extract_time(Some(0))
                .build()
                .map_err(|e| Error::Config(e.to_string()))?;
            Ok(Fixture {
                processor: Processor::new(config),
                dir: tempfile::tempdir().map_err(|e| Error::Config(e.to_string()))?,
            })
        }

        fn part(&self, i: u64) -> Result<ProcessingResult> {
            let mut session = self.processor.session("t");
            session.set_next_ordinal(i);
            session.push(format!("{{\"n\":{i}}}").as_bytes())?;
            Ok(session.finish()?)
        }

        fn sink(&self, writers: usize) -> Result<StreamingSink> {
            let out = StreamingOutput::new(
                self.dir.path(),
                "csv",
                self.processor.config(),
                WriteOptions::default(),
            )?;
            Ok(StreamingSink::new(out).with_writers(writers))
        }

        /// The first cell of every row of the table written.
        fn written(&self) -> Result<Vec<String>> {
            let text = std::fs::read_to_string(self.dir.path().join("t.csv"))
                .map_err(|e| Error::Config(e.to_string()))?;
            Ok(text
                .lines()
                .skip(1)
                .filter_map(|l| l.split(',').next())
                .map(str::to_string)
                .collect())
        }
    }

    #[test]
    fn parts_from_many_threads_in_any_order_are_written_in_order() -> Result<()> {
        let fixture = Fixture::new()?;
        // Part i holds record i; parts 13 and 29 never come.
        let part = |i: u64| fixture.part(i);
        let sink = fixture.sink(1)?;
        let next = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| -> Result<()> {
            let workers: Vec<_> = (0..4u64)
                .map(|worker| {
                    let (sink, next, part) = (&sink, &next, &part);
                    s.spawn(move || -> Result<()> {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if i >= 40 {
                                return Ok(());
                            }
                            // Later parts of a worker tend to come before earlier ones of
                            // another.
                            std::thread::sleep(std::time::Duration::from_micros(
                                (worker * 37 + i * 11) % 300,
                            ));
                            if i == 13 || i == 29 {
                                sink.gap(i)?;
                            } else {
                                sink.accept(i, part(i)?)?;
                            }
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker
                    .join()
                    .map_err(|_| Error::Config("a worker panicked".into()))??;
            }
            Ok(())
        })?;
        let summary = sink.finish()?;
        assert_eq!(summary.files[0].rows, 38);
        let want: Vec<String> = (0..40)
            .filter(|i| *i != 13 && *i != 29)
            .map(|i| i.to_string())
            .collect();
        assert_eq!(fixture.written()?, want);
        Ok(())
    }

    /// A gap never holds its worker back, even while more parts wait than the sink
    /// lets wait, nor does a part whose worker holds chunks after it: a worker that
    /// delivers a group of chunks leaves their gaps before its part, and flattens
    /// the rest of a group it hands over in several parts after them; the part
    /// next in line may be one of those (a worker waiting with them in hand
    /// stalled runs of more workers than cores for the sink's ten seconds, again
    /// and again).
    #[test]
    fn a_gap_is_left_without_waiting() -> Result<()> {
        let fixture = Fixture::new()?;
        // Two parts may wait; part 0 is not there yet.
        let sink = fixture.sink(1)?;
        sink.accept(1, fixture.part(1)?)?;
        sink.accept(2, fixture.part(2)?)?;
        let (left_tx, left_rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| -> Result<()> {
            let (sink, fixture) = (&sink, &fixture);
            // A third part waits for the writing to catch up.
            let waiting = s.spawn(move || sink.accept(3, fixture.part(3)?));
            while sink.state.lock().pending.len() < 3 {
                std::thread::yield_now();
            }
            let gap = s.spawn(move || {
                let left = sink.gap(4);
                let _ = left_tx.send(());
                left
            });
            // The gap is left at once, before part 0 comes (a hang guard far
            // shorter than the sink's own wait, not a measure of speed).
            let left = left_rx.recv_timeout(std::time::Duration::from_secs(5));
            sink.accept(0, fixture.part(0)?)?;
            for handle in [waiting, gap] {
                handle
                    .join()
                    .map_err(|_| Error::Config("a worker panicked".into()))??;
            }
            assert!(left.is_ok(), "the gap waited for its turn");
            Ok(())
        })?;
        sink.finish()?;
        assert_eq!(fixture.written()?, ["0", "1", "2", "3"]);
        Ok(())
    }

    /// A worker that hands over part of a group and holds the group's next chunks
    /// waits for its turn while the part next in line is another's, and stops
    /// waiting once it is one of its own.
    #[test]
    fn a_worker_holding_the_next_chunk_does_not_wait_for_it() -> Result<()> {
        let fixture = Fixture::new()?;
        let sink = fixture.sink(1)?;
        sink.accept(6, fixture.part(6)?)?;
        sink.accept(7, fixture.part(7)?)?;
        let (left_tx, left_rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| -> Result<()> {
            let (sink, fixture) = (&sink, &fixture);
            // More parts wait than the sink lets wait.
            let waiting = s.spawn(move || sink.accept(8, fixture.part(8)?));
            while sink.state.lock().pending.len() < 3 {
                std::thread::yield_now();
            }
            // Chunks 3 to 5 are one worker's: it hands over part 3, holding 4 and 5.
            let holder = s.spawn(move || -> Result<()> {
                holding_until(Some(5), || sink.accept(3, fixture.part(3)?))?;
                let _ = left_tx.send(());
                holding_until(Some(5), || sink.accept(4, fixture.part(4)?))?;
                sink.accept(5, fixture.part(5)?)
            });
            while sink.state.lock().pending.len() < 4 {
                std::thread::yield_now();
            }
            // Part 3 waits for 0 to 2, another worker's.
            let early = left_rx.try_recv();
            for i in 0..3 {
                sink.accept(i, fixture.part(i)?)?;
            }
            // Then part 4, next in line, is the holder's own: it goes on at once (a
            // hang guard far shorter than the sink's own wait).
            let left = left_rx.recv_timeout(std::time::Duration::from_secs(5));
            for handle in [waiting, holder] {
                handle
                    .join()
                    .map_err(|_| Error::Config("a worker panicked".into()))??;
            }
            assert!(early.is_err(), "part 3 did not wait for part 0");
            assert!(left.is_ok(), "the holder waited for its own chunk");
            Ok(())
        })?;
        sink.finish()?;
        let all: Vec<String> = (0..9).map(|i| i.to_string()).collect();
        assert_eq!(fixture.written()?, all);
        Ok(())
    }

    /// A part written by another worker than the one that brought it waits, as
    /// it was, for that worker to drop it; one written by its own worker is gone.
    #[test]
    fn written_parts_go_back_to_the_worker_that_brought_them() -> Result<()> {
        let fixture = Fixture::new()?;
        let sink = fixture.sink(1)?;
        let held = |sink: &StreamingSink| -> Vec<(ThreadId, u64)> {
            let spent = sink.spent.lock();
            spent
                .iter()
                .map(|(by, p)| (*by, p.record_count()))
                .collect()
        };
        let (ready, go) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let (ready_tx, ready_rx) = ready;
        let (go_tx, go_rx) = go;
        std::thread::scope(|s| -> Result<()> {
            let (sink, fixture) = (&sink, &fixture);
            let helper = s.spawn(move || -> Result<()> {
                // Part 1 waits for part 0.
                sink.accept(1, fixture.part(1)?)?;
                let _ = ready_tx.send(std::thread::current().id());
                let _ = go_rx.recv();
                // Bringing part 2 drops part 1; part 2, next in line, is written by
                // this thread and not held.
                sink.accept(2, fixture.part(2)?)
            });
            let helper_id = ready_rx
                .recv()
                .map_err(|_| Error::Config("the helper stopped".into()))?;
            // The main thread brings part 0 and writes parts 0 and 1.
            sink.accept(0, fixture.part(0)?)?;
            assert_eq!(held(sink), [(helper_id, 1)]);
            let _ = go_tx.send(());
            helper
                .join()
                .map_err(|_| Error::Config("a worker panicked".into()))?
        })?;
        assert_eq!(held(&sink), []);
        sink.finish()?;
        assert_eq!(fixture.written()?, ["0", "1", "2"]);
        Ok(())
    }

    #[test]
    fn a_worker_far_ahead_waits_for_the_parts_before_its_own() -> Result<()> {
        let fixture = Fixture::new()?;
        let part = |i: u64| fixture.part(i);
        let sink = fixture.sink(2)?;
        let accepted = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| -> Result<()> {
            // Odd chunks are gaps (chunks another part covers), even ones parts.
            let ahead = s.spawn(|| -> Result<()> {
                for i in 1..=20 {
                    if i % 2 == 1 {
                        sink.gap(i)?;
                    } else {
                        sink.accept(i, part(i)?)?;
                    }
                    accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                Ok(())
            });
            // Part 0 is late: the worker ahead leaves two parts (one per writer) and
            // the gaps around them, and waits with its third, rather than piling up
            // all ten.
            let offered = || accepted.load(std::sync::atomic::Ordering::SeqCst);
            let start = std::time::Instant::now();
            while offered() < 5 && start.elapsed() < std::time::Duration::from_secs(10) {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            assert_eq!(offered(), 5);
            sink.accept(0, part(0)?)?;
            ahead
                .join()
                .map_err(|_| Error::Config("a worker panicked".into()))?
        })?;
        assert_eq!(accepted.into_inner(), 20);
        let summary = sink.finish()?;
        assert_eq!(summary.files[0].rows, 11);
        let want: Vec<String> = (0..21).step_by(2).map(|i| i.to_string()).collect();
        assert_eq!(fixture.written()?, want);
        Ok(())
    }

    /// A table job's panic goes on with its own message, on threads as on one.
    #[test]
    fn a_writers_panic_keeps_its_message_on_threads() {
        for threads in [1, 2, 3] {
            let jobs: Vec<TableJob<'_>> = (0..4)
                .map(|i| {
                    Box::new(move || {
                        if i == 2 {
                            panic!("writer {i} on fire");
                        }
                        Ok(OutputFile {
                            table: format!("t{i}"),
                            path: PathBuf::from(format!("t{i}.csv")),
                            rows: 0,
                            bytes: 0,
                        })
                    }) as TableJob<'_>
                })
                .collect();
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ThreadedTables(threads).run_all(jobs)
            }));
            let message = caught
                .err()
                .and_then(|p| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            assert_eq!(message, "writer 2 on fire", "{threads} threads");
        }
    }
}
