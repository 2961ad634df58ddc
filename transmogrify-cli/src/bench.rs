//! `transmogrify bench`: every chosen executor and worker count on the user's data,
//! each run in a child process of this program so its peak memory is its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use serde_json::Value;

use crate::args::{BenchArgs, ExecutorArg, InputArgs, OnErrorArg};
use crate::fail::{EXIT_DATA, EXIT_IO, Fail};
use crate::progress::human_bytes;

fn name(e: ExecutorArg) -> &'static str {
    match e {
        ExecutorArg::Sequential => "sequential",
        ExecutorArg::Threads => "threads",
        ExecutorArg::Processes => "processes",
    }
}

/// One measured configuration.
pub struct Row {
    pub executor: &'static str,
    pub workers: usize,
    pub seconds: f64,
    /// Of `seconds`, those spent writing the tables after the last record was
    /// flattened (Parquet encoding and spilled parts read back, files synced).
    pub writing: f64,
    pub mb_per_s: f64,
    pub records_per_s: f64,
    pub peak_rss: Option<u64>,
    /// Peak resident memory of the largest worker process (processes only).
    pub worker_peak_rss: Option<u64>,
    /// Input bytes the run read.
    pub bytes: u64,
}

/// What a bench measured, and on what.
pub struct Bench {
    /// A row per configuration, in the order run.
    pub rows: Vec<Row>,
    /// Input bytes every run read.
    pub input_bytes: u64,
    /// What the runs wrote (`parquet`, `csv` …, `typed` added in typed mode).
    pub output: String,
    /// Runs of each configuration (the fastest is the row).
    pub repeat: usize,
}

pub fn run(args: &BenchArgs) -> Result<Bench, Fail> {
    let exe = std::env::current_exe()
        .map_err(|e| Fail::io(format!("cannot find this program's path: {e}")))?;
    let scratch = std::env::temp_dir().join(format!("transmogrify-bench-{}", std::process::id()));
    let mut workers = args.workers.clone();
    if workers.is_empty() {
        workers = vec![1, transmogrify_parallel::default_workers()];
    }
    // Each configuration once, in the order first given.
    let mut seen = std::collections::HashSet::new();
    workers.retain(|w| seen.insert(*w));
    let mut seen = std::collections::HashSet::new();
    let executors: Vec<ExecutorArg> = args
        .executors
        .iter()
        .copied()
        .filter(|e| seen.insert(name(*e)))
        .collect();
    if let Some(n) = workers
        .iter()
        .find(|&&w| w == 0 || w > transmogrify_parallel::MAX_WORKERS)
    {
        return Err(Fail::usage(format!(
            "--workers must be between 1 and {}, got {n}",
            transmogrify_parallel::MAX_WORKERS
        )));
    }
    if args.repeat == 0 {
        return Err(Fail::usage("--repeat must be at least 1"));
    }
    // A format no run can write is told before any run.
    if let Err(e) = transmogrify_io::WriterRegistry::default().get(&args.format) {
        return Err(Fail::usage(e.to_string()));
    }
    let entity = crate::options::entity(&args.input)?;
    let running = stop_runs_on_interrupt(scratch.clone());
    let inputs = match replayable(&args.input.inputs, &scratch.join("inputs")) {
        Ok(inputs) => inputs,
        Err(fail) => {
            let _ = std::fs::remove_dir_all(&scratch);
            return Err(fail);
        }
    };
    let mut rows = Vec::new();
    for &executor in &executors {
        let counts: Vec<usize> = if executor == ExecutorArg::Sequential {
            vec![1]
        } else {
            workers.clone()
        };
        for w in counts {
            let mut fastest: Option<Row> = None;
            for _ in 0..args.repeat {
                let row = Run {
                    args,
                    exe: &exe,
                    inputs: &inputs,
                    entity: &entity,
                    scratch: &scratch,
                    running: &running,
                }
                .measure(executor, w)
                .inspect_err(|_| {
                    let _ = std::fs::remove_dir_all(&scratch);
                })?;
                if fastest.as_ref().is_none_or(|f| row.seconds < f.seconds) {
                    fastest = Some(row);
                }
            }
            rows.extend(fastest);
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(Bench {
        input_bytes: rows.first().map_or(0, |r| r.bytes),
        rows,
        output: if args.typed {
            format!("{} (typed)", args.format)
        } else {
            args.format.clone()
        },
        repeat: args.repeat,
    })
}

/// Set by the interrupt handler as it starts: the run it stops is not a failure to
/// report, and the handler ends the process.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// After a run ended, if an interrupt is being handled (or may be: the run was
/// interrupted itself, as a terminal's Ctrl-C reaches the whole process group),
/// waits for the handler to end the process, so that the stopped run is not told
/// as a failed one.
fn await_interrupt(run_interrupted: bool) {
    let grace = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while run_interrupted && !INTERRUPTED.load(Ordering::SeqCst) {
        if std::time::Instant::now() > grace {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    if INTERRUPTED.load(Ordering::SeqCst) {
        // The handler exits within a minute (its run's cleanup); then this does.
        std::thread::sleep(std::time::Duration::from_secs(70));
        std::process::exit(130);
    }
}

/// On Ctrl-C or SIGTERM, stops the run under way (its process id is in the counter
/// returned; 0 between runs) as a stopped `flatten` stops, waits for it, removes the
/// bench's scratch directory and exits with status 130.
fn stop_runs_on_interrupt(scratch: PathBuf) -> Arc<AtomicU32> {
    let running = Arc::new(AtomicU32::new(0));
    let seen = running.clone();
    let _ = ctrlc::set_handler(move || {
        INTERRUPTED.store(true, Ordering::SeqCst);
        #[cfg(unix)]
        if let Ok(pid) = i32::try_from(seen.load(Ordering::SeqCst))
            && pid > 0
        {
            // SAFETY: signals and waits for this process's own child, by its id.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            // The run removes its unfinished files before it exits (a minute at
            // most; then the scratch directory goes regardless).
            for _ in 0..600 {
                let mut status = 0;
                // SAFETY: as above; `status` is a valid place for the status.
                let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                if waited != 0 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        let _ = std::fs::remove_dir_all(&scratch);
        say!(
            "{}interrupted: the bench's runs were stopped and their files removed",
            crate::progress::interrupt_lead()
        );
        std::process::exit(130);
    });
    running
}

/// What every run of a bench shares: its options, this program, the inputs as the
/// runs read them, the entity, the scratch directory and where the process id of
/// the run under way goes.
struct Run<'a> {
    args: &'a BenchArgs,
    exe: &'a Path,
    inputs: &'a [PathBuf],
    entity: &'a str,
    scratch: &'a Path,
    running: &'a AtomicU32,
}

impl Run<'_> {
    /// One run of `executor` with `w` workers, in a child process of this program.
    fn measure(&self, executor: ExecutorArg, w: usize) -> Result<Row, Fail> {
        let Run {
            args,
            exe,
            inputs,
            entity,
            scratch,
            running,
        } = *self;
        let out = scratch.join(format!("{}-{w}", name(executor)));
        let report = scratch.join(format!("{}-{w}.json", name(executor)));
        // An earlier run's files are removed first, not replaced inside the timed run.
        let _ = std::fs::remove_dir_all(&out);
        let mut cmd = Command::new(exe);
        cmd.arg("flatten")
            .args(inputs)
            .args(input_options(&args.input))
            .args(["--entity", entity])
            .arg("-o")
            .arg(&out)
            .args(["--force", "--quiet", "-f", &args.format])
            .args(["--executor", name(executor), "--workers", &w.to_string()])
            .args(["--chunk-size", &args.chunk_size])
            .arg("--report")
            .arg(&report);
        if args.typed {
            cmd.arg("--typed");
        }
        if args.on_error == OnErrorArg::Skip {
            cmd.args(["--on-error", "skip"]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Fail::io(format!("cannot run {}: {e}", exe.display())))?;
        running.store(child.id(), Ordering::SeqCst);
        let output = child.wait_with_output();
        running.store(0, Ordering::SeqCst);
        let output = output.map_err(|e| Fail::io(format!("cannot run {}: {e}", exe.display())))?;
        if !output.status.success() {
            await_interrupt(output.status.code() == Some(130));
            let told = String::from_utf8_lossy(&output.stderr)
                .trim()
                .trim_start_matches("error: ")
                .to_string();
            // A run killed by a signal (the OOM killer's, say) says nothing itself.
            #[cfg(unix)]
            let killed = std::os::unix::process::ExitStatusExt::signal(&output.status);
            #[cfg(not(unix))]
            let killed: Option<i32> = None;
            let (code, cause) = match (output.status.code(), killed) {
                (Some(c), _) => (u8::try_from(c).unwrap_or(EXIT_DATA), told),
                (None, Some(signal)) => (
                    EXIT_IO,
                    format!(
                        "it was killed by signal {signal}{}{}",
                        if signal == 9 {
                            " (SIGKILL: out of memory, perhaps)"
                        } else {
                            ""
                        },
                        if told.is_empty() {
                            String::new()
                        } else {
                            format!(": {told}")
                        }
                    ),
                ),
                (None, None) => (EXIT_IO, format!("it ended without an exit code: {told}")),
            };
            return Err(Fail {
                code,
                message: format!(
                    "the {} run with {w} worker{} failed: {cause}",
                    name(executor),
                    if w == 1 { "" } else { "s" },
                ),
                hint: None,
            });
        }
        read_row(&report, name(executor), w)
    }
}

/// The inputs as every run reads them: one that can be read only once (standard
/// input, a named pipe) is first copied into `dir`, under its own name (standard input
/// as `stdin.jsonl`, JSONL as `flatten` takes it) so that its format is told as before.
fn replayable(inputs: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>, Fail> {
    let mut out = Vec::with_capacity(inputs.len());
    for (i, path) in inputs.iter().enumerate() {
        let stdin = path.as_os_str() == "-";
        let stream = stdin || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir());
        if !stream {
            out.push(path.clone());
            continue;
        }
        let name = match path.file_name() {
            Some(name) if !stdin => name.to_os_string(),
            _ => "stdin.jsonl".into(),
        };
        let copy = dir.join(i.to_string()).join(name);
        let failed = |e: std::io::Error| Fail::io(format!("copying {}: {e}", path.display()));
        std::fs::create_dir_all(copy.parent().unwrap_or(dir)).map_err(failed)?;
        let mut to = std::fs::File::create(&copy).map_err(failed)?;
        if stdin {
            std::io::copy(&mut std::io::stdin().lock(), &mut to).map_err(failed)?;
        } else {
            std::io::copy(&mut std::fs::File::open(path).map_err(failed)?, &mut to)
                .map_err(failed)?;
        }
        out.push(copy);
    }
    Ok(out)
}

/// The input options of `flatten` as given to `bench`.
fn input_options(input: &InputArgs) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(format) = crate::flatten::format_name(input.input_format) {
        out.extend(["--input-format".into(), format.into()]);
    }
    if let Some(path) = &input.json_path {
        out.extend(["--json-path".into(), path.clone()]);
    }
    if let Some(delimiter) = input.csv_delimiter {
        out.extend(["--csv-delimiter".into(), delimiter.to_string()]);
    }
    out.extend(["--csv-quote".into(), input.csv_quote.to_string()]);
    for null in &input.csv_null {
        out.extend(["--csv-null".into(), null.clone()]);
    }
    if input.csv_no_header {
        out.push("--csv-no-header".into());
    }
    out.extend(["--csv-skip-rows".into(), input.csv_skip_rows.to_string()]);
    out
}

fn read_row(report: &Path, executor: &'static str, workers: usize) -> Result<Row, Fail> {
    let text = std::fs::read_to_string(report)
        .map_err(|e| Fail::io(format!("{}: {e}", report.display())))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| Fail::io(format!("{}: {e}", report.display())))?;
    let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let seconds = f("wall_seconds");
    Ok(Row {
        executor,
        workers,
        seconds,
        writing: f("write_seconds"),
        mb_per_s: f("mb_per_second"),
        records_per_s: if seconds > 0.0 {
            f("records") / seconds
        } else {
            0.0
        },
        peak_rss: v.get("peak_rss_bytes").and_then(Value::as_u64),
        worker_peak_rss: v.get("worker_peak_rss_bytes").and_then(Value::as_u64),
        bytes: v.get("bytes_read").and_then(Value::as_u64).unwrap_or(0),
    })
}

impl Bench {
    /// The table, then what was measured and on what machine.
    pub fn report(&self) -> String {
        let runs = match self.repeat {
            1 => "one run of each".to_string(),
            n => format!("the fastest of {n} runs of each"),
        };
        format!(
            "{}\n{} of input, written as {}; {runs}\n{}\n",
            table(&self.rows),
            human_bytes(self.input_bytes),
            self.output,
            machine(),
        )
    }
}

/// This machine as a benchmark's reader needs it: cores, processor and memory.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut line = format!("{cores} {}", if cores == 1 { "core" } else { "cores" });
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, m)| m.trim());
    if let Some(model) = model.filter(|m| !m.is_empty()) {
        line.push_str(&format!(" ({model})"));
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    if let Some(kib) = kib {
        line.push_str(&format!(", {:.1} GiB of memory", kib as f64 / 1048576.0));
    }
    format!(
        "{line}, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<11} {:>7} {:>9} {:>9} {:>9} {:>12} {:>11} {:>11}\n",
        "executor", "workers", "seconds", "writing", "MB/s", "records/s", "peak RSS", "per worker"
    );
    // Speed-up over the first row by time, which an empty input has too.
    let base = rows.first().map(|r| r.seconds).unwrap_or(0.0);
    for r in rows {
        let speedup = if r.seconds > 0.0 {
            base / r.seconds
        } else {
            1.0
        };
        out.push_str(&format!(
            "{:<11} {:>7} {:>9.2} {:>9.2} {:>9.1} {:>12.0} {:>11} {:>11}  ({speedup:.2}x)\n",
            r.executor,
            r.workers,
            r.seconds,
            r.writing,
            r.mb_per_s,
            r.records_per_s,
            r.peak_rss.map(human_bytes).unwrap_or_else(|| "n/a".into()),
            r.worker_peak_rss
                .map(human_bytes)
                .unwrap_or_else(|| "-".into()),
        ));
    }
    out
}
