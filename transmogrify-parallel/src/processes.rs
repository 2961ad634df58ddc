//! The process executor: chunks flattened by worker processes.

#![expect(
    clippy::indexing_slicing,
    reason = "headers are JSON objects built right here, so setting their keys cannot fail"
)]

use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use parking_lot::Mutex;
use serde_json::json;
use transmogrify_core::{ProcessingResult, ProcessorConfig};
use transmogrify_io::SpilledPart;

use crate::driver::{ChunkRunner, Ctx, Deferred, Delivery, Outcome, pieces_of_a_range};
use crate::error::{Error, Result};
use crate::executor::{Executor, default_workers, run_pool};
use crate::job::Job;
use crate::plan::{Body, Chunk, Layout};
use crate::report::RunReport;
use crate::sink::ResultSink;
use crate::wire::{
    self, BASE, CHUNK, COUNTED, FAILED, HELD, INIT, PART, READY, RESULT, get_u64, position_json,
    read_frame_into, with_header, write_frame,
};

/// Environment variable naming the worker program (overrides the search).
pub const WORKER_ENV: &str = "TRANSMOGRIFY_WORKER";

/// Most stderr kept from a worker, for error messages.
const STDERR_KEEP: usize = 16 * 1024;

/// Runs chunks on worker processes, one chunk at a time each. Chunks travel over the
/// worker's stdin (a JSONL range as its path and byte range, other chunks with their
/// bytes); results come back over its stdout as Arrow IPC streams. A worker that dies
/// fails its chunk, which is retried once on a fresh worker, then reported (in skip
/// mode also as a row of the errors table, with the chunk's text); never a hang.
///
/// Where the sink reads spilled parts ([`ResultSink::spill_dir`]: a
/// [`StreamingSink`](crate::StreamingSink) to Parquet, JSON or JSONL), a worker
/// spills each part there itself, into files of its own, and sends back only the
/// part's layout and where its frames are: the parts go neither through the pipe nor
/// through this process (150 MB of API events to Parquet on two workers: 0.316 s
/// against 0.344 s when they came back whole). Their frames are checked as they
/// are read back, as results from the pipe are.
///
/// As on threads, a chunk of a JSONL file is planned as pieces of a 32nd of it (at
/// least 256 KiB), and a worker ends a part after the piece that takes the part's
/// rows past the job's [`part_memory`](Job::part_memory), sending each part back as
/// it ends: memory stays bounded by the part, not the chunk, however many columns
/// the records draw from (9 MB of records over 50,000 keys: 161–172 MB in the main
/// process and 67–68 MB in each worker, where whole chunks took 669–690 MB and 336–440
/// MB).
/// A worker that dies inside a chunk's pieces has the parts it sent kept and the
/// pieces after them run again one by one.
///
/// The worker program is, in order: the one given with
/// [`ProcessExecutor::with_program`], the `TRANSMOGRIFY_WORKER` environment variable,
/// `transmogrify-worker` beside the current executable, or `transmogrify __worker`
/// beside it. It must be of the same version as this crate: a worker first answers
/// with the version of its frames, and one that answers otherwise (an older build
/// left on the path) fails its chunk with an error saying so, naming the program.
///
/// A program of your own that depends on this crate has no `transmogrify-worker`
/// beside it: let it be its own worker, running [`worker_main`](crate::worker_main)
/// when given an argument of your choice, and name it with that argument:
///
/// ```no_run
/// use transmogrify_parallel::{Executor, Input, Job, ProcessExecutor, worker_main};
/// fn main() -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
///     if std::env::args().nth(1).as_deref() == Some("__worker") {
///         return Ok(worker_main());
///     }
///     let executor = ProcessExecutor::new(2)
///         .with_program(std::env::current_exe()?, vec!["__worker".to_string()]);
///     let job = Job::new(Default::default(), "events", vec![Input::detect("events.jsonl")?]);
///     let (result, _report) = executor.run_to_result(&job)?;
///     println!("{:?} rows", result.num_rows("main"));
///     Ok(std::process::ExitCode::SUCCESS)
/// }
/// ```
///
/// Workers run in process groups of their own, so a terminal's Ctrl-C reaches your
/// program alone: a handler that stops the program calls [`stop_workers`] first; a
/// program that ends without it leaves each worker to exit when its pipe closes,
/// after its chunk at most.
///
/// Workers get the processor's configuration over their pipe, so a custom id
/// generator ([`IdStrategy::Custom`](transmogrify_core::IdStrategy::Custom)) cannot
/// run there: such a job is refused with a configuration error (run it on threads).
///
/// While a worker flattens its next chunk, its last result can be decoded and handed
/// to the output on a thread of its own ([`ProcessExecutor::with_output_threads`]):
/// by default where the workers leave a core free (one worker on two cores: 150 MB
/// of API events to CSV in 0.316 s against 0.398 s).
#[derive(Debug, Clone)]
pub struct ProcessExecutor {
    workers: usize,
    program: Option<(PathBuf, Vec<String>)>,
    env: Vec<(String, String)>,
    output_threads: Option<bool>,
}

impl Default for ProcessExecutor {
    fn default() -> Self {
        ProcessExecutor::new(default_workers())
    }
}

impl ProcessExecutor {
    /// An executor with `workers` processes (at least 1, at most
    /// [`MAX_WORKERS`](crate::MAX_WORKERS)).
    pub fn new(workers: usize) -> Self {
        ProcessExecutor {
            workers: workers.clamp(1, crate::MAX_WORKERS),
            program: None,
            env: Vec::new(),
            output_threads: None,
        }
    }

    /// Whether each worker's results are decoded and handed to the output on a
    /// thread of its own, while the worker flattens its next chunk; otherwise the
    /// thread that talks to the worker does it between chunks, and the worker waits.
    /// By default, when there are fewer workers than cores (with a worker on every
    /// core, the output threads would only take turns with them).
    ///
    /// ```
    /// use transmogrify_parallel::{Executor, ProcessExecutor};
    /// let executor = ProcessExecutor::new(2).with_output_threads(true);
    /// assert_eq!(executor.workers(), 2);
    /// ```
    #[must_use]
    pub fn with_output_threads(mut self, on: bool) -> Self {
        self.output_threads = Some(on);
        self
    }

    /// Sets an environment variable for the workers (for example [`ABORT_ENV`](crate::ABORT_ENV)
    /// in crash tests).
    #[must_use]
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs `program args…` as the worker.
    #[must_use]
    pub fn with_program(mut self, program: impl Into<PathBuf>, args: Vec<String>) -> Self {
        self.program = Some((program.into(), args));
        self
    }

    /// The worker program and its arguments, as found.
    pub fn program(&self) -> Result<(PathBuf, Vec<String>)> {
        if let Some(p) = &self.program {
            return Ok(p.clone());
        }
        if let Some(p) = std::env::var_os(WORKER_ENV) {
            return Ok((PathBuf::from(p), Vec::new()));
        }
        let exe = std::env::current_exe().map_err(|e| Error::io("<current executable>", e))?;
        let mut dirs = Vec::new();
        if let Some(dir) = exe.parent() {
            dirs.push(dir.to_path_buf());
            // Test and example binaries live one level below the binaries.
            if let Some(up) = dir.parent() {
                dirs.push(up.to_path_buf());
            }
        }
        for dir in &dirs {
            let worker = dir.join(format!(
                "transmogrify-worker{}",
                std::env::consts::EXE_SUFFIX
            ));
            if worker.is_file() {
                return Ok((worker, Vec::new()));
            }
        }
        for dir in &dirs {
            let cli = dir.join(format!("transmogrify{}", std::env::consts::EXE_SUFFIX));
            if cli.is_file() {
                return Ok((cli, vec!["__worker".to_string()]));
            }
        }
        Err(Error::Config(format!(
            "no worker program found beside {}; set {WORKER_ENV} to the transmogrify-worker binary",
            exe.display()
        )))
    }
}

impl Executor for ProcessExecutor {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn workers(&self) -> usize {
        self.workers
    }

    fn run(&self, job: &Job, sink: &dyn ResultSink) -> Result<RunReport> {
        let started = self.program().and_then(|found| {
            let config =
                wire::config_to_json(job.processor.config(), job.processor.extract_time())?;
            Ok((found, config))
        });
        let ((program, args), config) = match started {
            Ok(started) => started,
            Err(e) => return crate::executor::settle(Err(e), sink),
        };
        let mut init = json!({
            "protocol": wire::PROTOCOL,
            "config": config,
            "entity": job.entity,
            "part_memory": job.part_memory,
        });
        // Workers spill their parts where the sink reads them, and send only where
        // they are: the parts do not go through the pipe and this process.
        if let Some(dir) = sink.spill_dir().as_deref().and_then(Path::to_str) {
            init["spill_dir"] = json!(dir);
        }
        let init = with_header(&init, &[]);
        let defer = self
            .output_threads
            .unwrap_or(self.workers < default_workers());
        let peak = Arc::new(AtomicU64::new(0));
        let runners = (0..self.workers)
            .map(|_| ProcessRunner {
                peak: peak.clone(),
                defer,
                program: program.clone(),
                args: args.clone(),
                env: self.env.clone(),
                init: init.clone(),
                worker: None,
                frame: Vec::new(),
                spare: Arc::default(),
            })
            .collect();
        let mut report = run_pool(job, sink, runners, self.name())?;
        // Every worker has ended (its runner dropped with its thread).
        report.worker_peak_rss = Some(peak.load(Ordering::Relaxed)).filter(|&p| p > 0);
        Ok(report)
    }
}

struct Worker {
    /// Shared with [`LIVE`], so that [`stop_workers`] can end it from any thread.
    child: Arc<Mutex<Child>>,
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<Vec<u8>>>,
    drain: Option<JoinHandle<()>>,
    /// Whether it answered with this version's protocol ([`READY`]).
    ready: bool,
    /// The largest peak memory of the run's workers, which this one's joins as it ends.
    peak: Arc<AtomicU64>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let mut child = self.child.lock();
        // Read while it lives: once it is gone, its memory is no one's to tell.
        if let Some(bytes) = peak_rss_of(child.id()) {
            self.peak.fetch_max(bytes, Ordering::Relaxed);
        }
        let _ = child.kill();
        let _ = child.wait();
        drop(child);
        if let Some(d) = self.drain.take() {
            end_drain(d);
        }
    }
}

/// A live process's peak resident memory in bytes: `VmHWM` in its `/proc` status
/// (Linux), `None` elsewhere or when it cannot be read.
fn peak_rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// The worker processes of this process's runs; `None` once [`stop_workers`] was
/// called, and no worker is started after that.
static LIVE: Mutex<Option<Vec<std::sync::Weak<Mutex<Child>>>>> = Mutex::new(Some(Vec::new()));

/// Ends every worker process of this process's runs, waits for each to be gone,
/// and starts none after: for a process about to exit (on Ctrl-C or SIGTERM), so
/// that no worker writes a file after its run's unfinished files were removed, and
/// no dead worker's chunk is retried on a new one. Workers run in a process group
/// of their own, so a terminal's Ctrl-C reaches this process alone: its handler
/// calls this. A process that ends without doing so (killed outright) leaves each
/// worker to exit when it next reads or writes its pipe, after its chunk at most.
///
/// ```
/// transmogrify_parallel::stop_workers();
/// ```
pub fn stop_workers() {
    let workers = LIVE.lock().take();
    for worker in workers.into_iter().flatten() {
        if let Some(child) = worker.upgrade() {
            let mut child = child.lock();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How long a dead worker's stderr may stay open before its reader is left behind.
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits for the thread reading a dead worker's stderr to reach the end of it. The
/// pipe stays open as long as a process the worker started lives on (a wrapper
/// script's child waiting on its input): after [`DRAIN_GRACE`] the thread is left to
/// end on its own, with what it read so far already kept.
fn end_drain(drain: JoinHandle<()>) {
    let started = std::time::Instant::now();
    while !drain.is_finished() && started.elapsed() < DRAIN_GRACE {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    if drain.is_finished() {
        let _ = drain.join();
    }
}

/// A worker's result frame, decoded into the result it stands for: the part, or a
/// part it spilled.
fn decode(frame: &[u8], config: ProcessorConfig) -> Result<Delivery> {
    let (raw, spilled) = wire::decode_result(frame)?;
    let result = ProcessingResult::from_raw(raw, config)?;
    Ok(match spilled {
        None => Delivery::Whole(result),
        Some(tables) => Delivery::Spilled(SpilledPart::new(result, tables)),
    })
}

struct ProcessRunner {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    init: Vec<u8>,
    worker: Option<Worker>,
    /// The worker's frames are read into this, reused from frame to frame.
    frame: Vec<u8>,
    /// Frame buffers whose results were decoded on another thread, for reuse.
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Whether its results are decoded and delivered on a thread of their own.
    defer: bool,
    /// The run's workers' largest peak memory ([`RunReport::worker_peak_rss`]).
    peak: Arc<AtomicU64>,
}

impl ProcessRunner {
    fn spawn(&self) -> Result<Worker> {
        // Registered as it starts, or not started once the process is stopping.
        let mut live = LIVE.lock();
        let Some(workers) = live.as_mut() else {
            return Err(Error::Config(
                "the run is stopping: no worker process is started".into(),
            ));
        };
        let mut command = Command::new(&self.program);
        // In a group of their own: a terminal's Ctrl-C stops the run, which stops its
        // workers ([`stop_workers`]), rather than killing workers under a run that
        // would see them die before it knows it is stopping.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(&self.program, e))?;
        let (Some(stdin), Some(stdout), Some(mut err)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(self.died("its pipes could not be opened".into(), &[]));
        };
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        // Drained on its own thread so a chatty worker never blocks on a full pipe.
        let drain = std::thread::Builder::new()
            .name("tm-worker-stderr".into())
            .spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut kept = sink.lock();
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > STDERR_KEEP {
                        let cut = kept.len() - STDERR_KEEP;
                        kept.drain(..cut);
                    }
                }
            })
            .map_err(|e| Error::io(&self.program, e))?;
        let child = Arc::new(Mutex::new(child));
        workers.retain(|w| w.strong_count() > 0);
        workers.push(Arc::downgrade(&child));
        drop(live);
        let mut worker = Worker {
            child,
            stdin: BufWriter::new(stdin),
            stdout: BufReader::new(stdout),
            stderr,
            drain: Some(drain),
            ready: false,
            peak: self.peak.clone(),
        };
        write_frame(&mut worker.stdin, INIT, &[&self.init])
            .map_err(|e| self.died(format!("sending its configuration: {e}"), &[]))?;
        Ok(worker)
    }

    fn died(&self, what: String, stderr: &[u8]) -> Error {
        let stderr = String::from_utf8_lossy(stderr);
        let stderr = stderr.trim();
        Error::Worker {
            program: self.program.display().to_string(),
            message: if stderr.is_empty() {
                what
            } else {
                format!("{what}; its stderr: {stderr}")
            },
        }
    }

    /// Ends a worker that broke, with an error describing how.
    fn bury(&mut self, what: &str) -> Error {
        let Some(mut w) = self.worker.take() else {
            return self.died(what.to_string(), &[]);
        };
        let status = {
            let mut child = w.child.lock();
            let _ = child.kill();
            child.wait().ok()
        };
        if let Some(d) = w.drain.take() {
            end_drain(d);
        }
        let stderr = w.stderr.lock().clone();
        // A worker that panicked exits 101 after its panic hook's one line: a bug the
        // chunk would meet again, reported as a thread's panic is.
        if status.and_then(|s| s.code()) == Some(101) {
            let said = String::from_utf8_lossy(&stderr);
            let said = said
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix(crate::PANIC_LINE));
            return Error::Panicked(said.unwrap_or(what).to_string());
        }
        let how = match status {
            Some(s) => format!("{what} (it exited with {s})"),
            None => what.to_string(),
        };
        self.died(how, &stderr)
    }

    /// Sends `chunk` to the worker and waits for its result; with `more`, the worker
    /// keeps the chunk's records for the next chunk of a group and answers `None`.
    fn exchange(&mut self, chunk: &Chunk, ctx: &Ctx<'_>, more: bool) -> Result<Option<Delivery>> {
        if !self.send_and_wait(chunk, ctx, more)? {
            return Ok(None);
        }
        decode(&self.frame, ctx.job.processor.config().clone()).map(Some)
    }

    /// Sends `chunk` to the worker and waits for its answer: `true` when it is a
    /// result, left undecoded in `self.frame`.
    fn send_and_wait(&mut self, chunk: &Chunk, ctx: &Ctx<'_>, more: bool) -> Result<bool> {
        if self.worker.is_none() {
            self.worker = Some(self.spawn()?);
        }
        let input = &ctx.job.inputs[chunk.input];
        let mut header = json!({
            "seq": chunk.seq,
            "source": input.name(),
            "start": chunk.start,
            "end": chunk.end,
        });
        if more {
            header["more"] = json!(true);
        }
        // The ends of a chunk's values, or a reader batch's items, after its bytes.
        let mut ends_bytes: Vec<u8> = Vec::new();
        // A line too long to be a record goes as the batch of its bad record.
        let long_batch;
        let body = match &chunk.body {
            Body::TooLarge(long) => {
                let (ordinal, line) = ctx.ledger.base(chunk.seq)?;
                let limit = ctx.job.processor.config().max_record_bytes();
                let batch = long.batch(&input.name(), ordinal, line, chunk.start, limit);
                long_batch = Body::Raw(std::sync::Arc::new(batch));
                &long_batch
            }
            body => body,
        };
        let data: &[u8] = match body {
            Body::TooLarge(_) => &[],
            Body::Raw(batch) => {
                let (ordinal, _) = ctx.ledger.base(chunk.seq)?;
                header["kind"] = json!("raw");
                header["ordinal"] = json!(ordinal);
                header["items"] = json!(batch.items.len());
                header["measured"] = json!(batch.measured);
                header["made"] = json!(batch.made);
                let (items, bad) = wire::raw_items(batch);
                header["bad"] = bad;
                ends_bytes = items;
                &batch.data
            }
            Body::CsvRange { ranges, range } => {
                let (ordinal, _) = ctx.ledger.base(chunk.seq)?;
                header["kind"] = json!("csv");
                header["ordinal"] = json!(ordinal);
                header["path"] = json!(input.path().to_string_lossy());
                header["csv"] = wire::csv_range_json(ranges, range);
                &[]
            }
            Body::Range => {
                header["kind"] = json!("range");
                header["path"] = json!(input.path().to_string_lossy());
                &[]
            }
            Body::Inline { data, layout, ends } => {
                let (ordinal, _) = ctx.ledger.base(chunk.seq)?;
                header["ordinal"] = json!(ordinal);
                if !ends.is_empty() {
                    header["ends"] = json!(ends.len());
                    ends_bytes = wire::ends_bytes(ends);
                }
                match layout {
                    Layout::Lines { line } => {
                        header["kind"] = json!("lines");
                        header["line"] = json!(line);
                    }
                    Layout::Elements { first } => {
                        header["kind"] = json!("elements");
                        header["first"] = position_json(first);
                    }
                    Layout::Values { first } => {
                        header["kind"] = json!("values");
                        header["first"] = position_json(first);
                    }
                }
                data
            }
        };
        // The chunk's bytes go out as they are, after the header: copying them into
        // one frame would allocate (and free) a chunk's size for every chunk.
        let head = with_header(&header, &[]);
        let Some(w) = self.worker.as_mut() else {
            return Err(Error::Config("worker vanished".into()));
        };
        if let Err(e) = write_frame(&mut w.stdin, CHUNK, &[&head, data, &ends_bytes]) {
            return Err(self.bury(&format!("it stopped reading its input ({e})")));
        }
        let mut frame = std::mem::take(&mut self.frame);
        let answer = self.answer(chunk, ctx, more, &mut frame);
        self.frame = frame;
        answer
    }

    /// Reads the worker's next frame into `frame` and returns its kind; its first
    /// answer, telling its version, is checked and passed over.
    fn next_frame(&mut self, frame: &mut Vec<u8>) -> Result<u8> {
        loop {
            let Some(w) = self.worker.as_mut() else {
                return Err(Error::Config("worker vanished".into()));
            };
            let kind = match read_frame_into(&mut w.stdout, frame) {
                Ok(Some(kind)) => kind,
                Ok(None) => return Err(self.bury("it died while flattening the chunk")),
                Err(e) => return Err(self.bury(&format!("its output broke off ({e})"))),
            };
            if w.ready {
                return Ok(kind);
            }
            // Its first answer tells its version; an older worker answers the chunk
            // instead.
            let payload = frame.as_slice();
            if kind == READY && payload == wire::PROTOCOL.to_string().as_bytes() {
                w.ready = true;
                continue;
            }
            let answer = match kind {
                READY => format!("protocol {}", String::from_utf8_lossy(payload)),
                other => format!("a frame {:?}", other as char),
            };
            let _ = self.bury("it is from another version");
            return Err(Error::Config(format!(
                "worker program {}: it answered with {answer} where this version's worker \
                 answers with protocol {}: it is from another version of transmogrify; \
                 rebuild or reinstall it, or set {WORKER_ENV} to this version's \
                 transmogrify-worker",
                self.program.display(),
                wire::PROTOCOL
            )));
        }
    }

    /// Sends the worker the base (first ordinal and line) of chunk `seq`, once the
    /// chunks before it are counted.
    fn send_base(&mut self, seq: u64, ctx: &Ctx<'_>) -> Result<()> {
        let (ordinal, line) = match ctx.ledger.base(seq) {
            Ok(b) => b,
            Err(e) => {
                // Cancelled: this worker is mid-chunk; end it.
                self.worker = None;
                return Err(e);
            }
        };
        let base = with_header(&json!({"ordinal": ordinal, "line": line}), &[]);
        let Some(w) = self.worker.as_mut() else {
            return Err(Error::Config("worker vanished".into()));
        };
        if let Err(e) = write_frame(&mut w.stdin, BASE, &[&base]) {
            return Err(self.bury(&format!("it stopped reading its input ({e})")));
        }
        Ok(())
    }

    /// Reads the worker's frames (into `frame`) until its answer to `chunk`: `true`
    /// when it is a result (left in `frame`); `false` when the worker holds the
    /// chunk's records for the next chunk of its part (only with `more`).
    fn answer(
        &mut self,
        chunk: &Chunk,
        ctx: &Ctx<'_>,
        more: bool,
        frame: &mut Vec<u8>,
    ) -> Result<bool> {
        loop {
            match self.next_frame(frame)? {
                COUNTED => {
                    let counted = parse_control(frame, "count")?;
                    ctx.ledger.publish(
                        chunk.seq,
                        get_u64(&counted, "records")?,
                        get_u64(&counted, "lines")?,
                    );
                    self.send_base(chunk.seq, ctx)?;
                }
                RESULT => return Ok(true),
                HELD if more => return Ok(false),
                FAILED => return Err(self.failure(frame)?),
                other => {
                    return Err(self.bury(&format!("it sent an unknown frame {:?}", other as char)));
                }
            }
        }
    }

    /// The error a worker's [`FAILED`] frame, `frame`, reports.
    fn failure(&self, frame: &[u8]) -> Result<Error> {
        let v = parse_control(frame, "error")?;
        Ok(wire::error_from_json(
            &v,
            &self.program.display().to_string(),
        ))
    }

    /// Runs a JSONL range planned as `chunks`, its pieces (consecutive ranges of one
    /// file), as one chunk on the worker, which reads it, counts every piece and
    /// flattens the pieces in parts of about the job's part memory: each part is
    /// handed to `done` as it comes, while the worker goes on with the next.
    fn run_pieces(
        &mut self,
        chunks: &[Chunk],
        ctx: &Ctx<'_>,
        done: &mut dyn FnMut(&[Chunk], Outcome),
    ) -> Result<()> {
        let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
            return Ok(());
        };
        if self.worker.is_none() {
            self.worker = Some(self.spawn()?);
        }
        let input = &ctx.job.inputs[first.input];
        let pieces: Vec<[u64; 2]> = chunks.iter().map(|c| [c.seq, c.end]).collect();
        let header = json!({
            "seq": first.seq,
            "source": input.name(),
            "start": first.start,
            "end": last.end,
            "kind": "range",
            "path": input.path().to_string_lossy(),
            "pieces": pieces,
        });
        let Some(w) = self.worker.as_mut() else {
            return Err(Error::Config("worker vanished".into()));
        };
        if let Err(e) = write_frame(&mut w.stdin, CHUNK, &[&with_header(&header, &[])]) {
            return Err(self.bury(&format!("it stopped reading its input ({e})")));
        }
        let mut frame = std::mem::take(&mut self.frame);
        let parts = self.parts(chunks, ctx, done, &mut frame);
        self.frame = frame;
        parts
    }

    /// The result in `frame` (after a JSON header, with `header`), to be decoded on
    /// another thread; `frame` is left with a buffer handed back by an earlier
    /// result, for the next frame.
    fn deferred(&self, frame: &mut Vec<u8>, ctx: &Ctx<'_>, header: bool) -> Deferred {
        let spare = self.spare.lock().pop().unwrap_or_default();
        let mut taken = std::mem::replace(frame, spare);
        let config = ctx.job.processor.config().clone();
        let spare = self.spare.clone();
        Deferred::new(move || {
            let decoded = if header {
                wire::split_header(&taken).and_then(|(_, body)| decode(body, config))
            } else {
                decode(&taken, config)
            };
            taken.clear();
            spare.lock().push(taken);
            decoded
        })
    }

    /// Reads the worker's answers to a range of `chunks` (see
    /// [`ProcessRunner::run_pieces`]) into `frame` until the part of the last piece.
    fn parts(
        &mut self,
        chunks: &[Chunk],
        ctx: &Ctx<'_>,
        done: &mut dyn FnMut(&[Chunk], Outcome),
        frame: &mut Vec<u8>,
    ) -> Result<()> {
        let mut from = 0;
        while from < chunks.len() {
            match self.next_frame(frame)? {
                COUNTED => {
                    let counted = parse_control(frame, "count")?;
                    // Each piece's records and lines.
                    let counts = counted.get("pieces").and_then(wire::pairs);
                    let Some(counts) = counts.filter(|c| c.len() == chunks.len()) else {
                        return Err(self.bury(&format!(
                            "it did not count the {} pieces of its range",
                            chunks.len()
                        )));
                    };
                    for (chunk, (records, lines)) in chunks.iter().zip(counts) {
                        ctx.ledger.publish(chunk.seq, records, lines);
                    }
                    if let Some(first) = chunks.first() {
                        self.send_base(first.seq, ctx)?;
                    }
                }
                PART => {
                    let (head, body) = wire::split_header(frame)?;
                    let through = get_u64(&head, "through")
                        .ok()
                        .and_then(|t| usize::try_from(t).ok())
                        .filter(|t| (from..chunks.len()).contains(t));
                    let Some(through) = through else {
                        return Err(self.bury(&format!(
                            "it sent a part of pieces it was not sent ({head})"
                        )));
                    };
                    // Decoded on the output thread where there is one, while this
                    // thread reads the worker's next part.
                    let result = if ctx.handoff.is_some() {
                        Outcome::Deferred(self.deferred(frame, ctx, true))
                    } else {
                        Outcome::Ready(decode(body, ctx.job.processor.config().clone())?)
                    };
                    done(&chunks[from..=through], result);
                    from = through + 1;
                }
                FAILED => return Err(self.failure(frame)?),
                other => {
                    return Err(self.bury(&format!("it sent an unknown frame {:?}", other as char)));
                }
            }
        }
        Ok(())
    }
}

/// A control frame's JSON payload (`what` it holds, for the error).
fn parse_control(frame: &[u8], what: &str) -> Result<serde_json::Value> {
    serde_json::from_slice(frame)
        .map_err(|e| Error::Config(format!("bad {what} from a worker: {e}")))
}

impl ChunkRunner for ProcessRunner {
    fn run(&mut self, chunk: &Chunk, ctx: &Ctx<'_>) -> Result<Delivery> {
        self.exchange(chunk, ctx, false)?
            .ok_or_else(|| self.bury("it sent no result"))
    }

    fn defers(&self) -> bool {
        self.defer
    }

    fn run_deferred(&mut self, chunk: &Chunk, ctx: &Ctx<'_>) -> Option<Result<Deferred>> {
        Some(self.send_and_wait(chunk, ctx, false).and_then(|result| {
            if !result {
                return Err(self.bury("it sent no result"));
            }
            let mut frame = std::mem::take(&mut self.frame);
            let deferred = self.deferred(&mut frame, ctx, false);
            self.frame = frame;
            Ok(deferred)
        }))
    }

    fn run_group(
        &mut self,
        chunks: &[Chunk],
        ctx: &Ctx<'_>,
        done: &mut dyn FnMut(&[Chunk], Outcome),
    ) -> Option<Result<()>> {
        if chunks.len() > 1 && pieces_of_a_range(chunks) {
            return Some(self.run_pieces(chunks, ctx, done));
        }
        // Chunk by chunk into the worker's open session, which ends a part after the
        // chunk that takes its rows past the part memory, and after the last.
        let last = chunks.len().checked_sub(1)?;
        let mut from = 0;
        for (i, chunk) in chunks.iter().enumerate() {
            match self.exchange(chunk, ctx, i < last) {
                Ok(Some(result)) => {
                    done(&chunks[from..=i], Outcome::Ready(result));
                    from = i + 1;
                }
                Ok(None) if i < last => {}
                Ok(None) => return Some(Err(self.bury("it sent no result"))),
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(()))
    }

    fn splits_ranges(&self) -> bool {
        true
    }

    fn reads_csv_ranges(&self) -> bool {
        true
    }

    fn retryable(&self, error: &Error) -> bool {
        matches!(error, Error::Worker { .. })
    }
}
