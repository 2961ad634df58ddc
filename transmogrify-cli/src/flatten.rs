//! `transmogrify flatten` and `transmogrify schema`: inputs through an executor into
//! files, or into a schema listing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use transmogrify_core::{ProcessingResult, Processor};
use transmogrify_parallel::{
    Chunking, Executor, Input, InputFormat, Job, ResultSink, RunReport, SequentialExecutor,
};

use crate::args::{
    ArrayModeArg, ExecutorArg, FlattenArgs, InputArgs, InputFormatArg, ProcessingArgs, SchemaArgs,
};
use crate::fail::{EXIT_DATA, EXIT_OK, Fail};
use crate::output;
use crate::progress::{Progress, counted, human_bytes};
use crate::{options, print, schema as show};

/// The input `files` (from [`input_files`]) as the executors take them.
pub fn inputs(args: &InputArgs, files: &[PathBuf]) -> Result<Vec<Input>, Fail> {
    files.iter().map(|path| output::input(path, args)).collect()
}

/// Extensions of the data files a directory input stands for (each also compressed).
const DATA_EXTENSIONS: [&str; 6] = ["json", "jsonl", "ndjson", "csv", "tsv", "parquet"];

/// The input files: files as given, and for a directory every file under it, at any
/// depth, whose name ends in a data extension (`.json`, `.jsonl`, `.ndjson`, `.csv`,
/// `.tsv`, `.parquet`, each optionally `.gz` or `.zst`), in order of path. Hidden files and
/// directories (`.name`) and the `skip` directory are left out.
pub fn input_files(paths: &[PathBuf], skip: Option<&Path>) -> Result<Vec<PathBuf>, Fail> {
    let stdin_count = paths.iter().filter(|p| p.as_os_str() == "-").count();
    if stdin_count > 1 {
        return Err(Fail::usage("standard input (`-`) can be read only once"));
    }
    let skip = skip.and_then(|s| s.canonicalize().ok());
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(path.clone());
            continue;
        }
        // (Asked as `exists` does, a path that cannot be looked at, in a directory
        // without permission to search, say, would be no such file.)
        let found = match std::fs::metadata(path) {
            Ok(found) => found,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Fail::io(format!("{}: no such file", path.display()))
                    .with_hint("check the path; use `-` to read standard input"));
            }
            Err(e) => return Err(Fail::io(format!("{}: {e}", path.display()))),
        };
        if found.is_dir() {
            let before = out.len();
            // (A directory named twice is read twice, as a file named twice is.)
            let mut seen = std::collections::HashSet::new();
            walk(path, skip.as_deref(), &mut seen, &mut out)?;
            if out.len() == before {
                // The output directory's files are never inputs.
                let is_output = skip.is_some() && path.canonicalize().ok() == skip;
                let message = if is_output {
                    "it is the output directory, whose files are never inputs"
                } else {
                    "the directory holds no .json, .jsonl, .ndjson, .csv, .tsv or .parquet files"
                };
                let fail = Fail::usage(format!("{}: {message}", path.display()));
                return Err(if is_output {
                    fail.with_hint("write the tables to another directory (-o)")
                } else {
                    fail
                });
            }
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// Adds the data files under `dir` to `out`, in order of path. `seen` holds the
/// directories walked so far (as canonical paths): a directory reached again through
/// a link is not walked again, so links (a loop of them included) read nothing twice.
fn walk(
    dir: &Path,
    skip: Option<&Path>,
    seen: &mut std::collections::HashSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) -> Result<(), Fail> {
    let unreadable = |e: std::io::Error| Fail::io(format!("{}: {e}", dir.display()));
    let canonical = dir.canonicalize().map_err(unreadable)?;
    if skip == Some(canonical.as_path()) || !seen.insert(canonical) {
        return Ok(());
    }
    // The kind of each entry comes with the directory listing; only links are
    // followed to what they point to.
    let mut entries = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .map(|e| {
            let e = e?;
            let kind = e.file_type()?;
            let (dir, file) = if kind.is_symlink() {
                let path = e.path();
                (path.is_dir(), path.is_file())
            } else {
                (kind.is_dir(), kind.is_file())
            };
            Ok((e.path(), dir, file))
        })
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(unreadable)?;
    entries.sort();
    for (path, is_dir, is_file) in entries {
        // (A name that is not UTF-8 is judged by its readable part.)
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        if is_dir {
            walk(&path, skip, seen, out)?;
            continue;
        }
        let name = name.to_ascii_lowercase();
        let plain = [".gz", ".zst", ".zstd"]
            .iter()
            .find_map(|c| name.strip_suffix(c))
            .unwrap_or(&name);
        let data = plain
            .rsplit_once('.')
            .is_some_and(|(_, ext)| DATA_EXTENSIONS.contains(&ext));
        if data && is_file {
            out.push(path);
        }
    }
    Ok(())
}

fn total_bytes(paths: &[PathBuf]) -> Option<u64> {
    let mut total = 0;
    for p in paths {
        if p.as_os_str() == "-" {
            return None;
        }
        // (A named pipe has no length to go by.)
        total += std::fs::metadata(p).ok().filter(|m| m.is_file())?.len();
    }
    Some(total)
}

/// Whether the input file at `path` is compressed, told by its name or by its first
/// bytes (which the readers go by: gzip data in a file named `.jsonl` is read as
/// gzip). `-` and pipes are not looked at: the run's report counts those it found
/// compressed.
fn stored_compressed(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    if output::is_compressed(path) {
        return true;
    }
    let mut head = [0u8; 4];
    let read = std::fs::File::open(path).and_then(|mut f| {
        use std::io::Read;
        f.read(&mut head)
    });
    read.is_ok_and(|n| {
        transmogrify_io::Compression::from_magic(head.get(..n).unwrap_or_default())
            != transmogrify_io::Compression::None
    })
}

/// Peak resident memory of this process, from `/proc/self/status` (Linux).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn run(args: &FlattenArgs) -> Result<u8, Fail> {
    let started = Instant::now();
    if let Some(path) = args.report.as_deref().filter(|p| !is_stdout(p)) {
        check_report_path(path, args)?;
    }
    let run = flatten(args, started);
    // A failed run says so in its report too, for whatever runs it (unless the
    // report's own path was the trouble).
    // (An interrupted run's is written as it stops, by the handler.)
    let report_trouble = matches!(&run, Err(fail) if fail.message.starts_with("--report "));
    if let (Err(fail), Some(path), false) = (&run, &args.report, report_trouble) {
        let warnings = TOLD.lock().map(|told| told.clone()).unwrap_or_default();
        let value = json!({
            "error": fail.message,
            "exit_code": fail.code,
            "warnings": warnings,
            "wall_seconds": started.elapsed().as_secs_f64(),
        });
        let _ = write_run_report(path, &value);
    }
    run
}

/// The warnings a run told before it ends, for the report of a run that fails.
static TOLD: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Keeps `warnings`, told, for the report should the run fail.
fn told(warnings: &[String]) {
    if let Ok(mut told) = TOLD.lock() {
        told.extend_from_slice(warnings);
    }
}

/// Held by whatever writes the run's report: the run as it ends, or the Ctrl-C
/// handler, which holds it until the process exits.
static REPORT_WRITE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Writes the run's own report, unless Ctrl-C or SIGTERM came first: the report
/// the handler writes then says so, and is never written over by the run's.
fn write_run_report(path: &Path, value: &serde_json::Value) -> Result<(), Fail> {
    let _held = REPORT_WRITE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if interrupted() {
        return Ok(());
    }
    write_json(path, value)
}

/// Finds a report that could not be written before the run rather than after it:
/// its directory is made if missing (as the output directory is, which the run
/// makes), and a report beside the tables named like one of them is refused.
fn check_report_path(path: &Path, args: &FlattenArgs) -> Result<(), Fail> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let ext = output_extension(&args.format);
    let table_like = path.extension().is_some_and(|e| e == ext)
        || path.file_name().is_some_and(|n| n == "_schema.json");
    let beside = match (dir.canonicalize(), args.output.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => dir == args.output,
    };
    if table_like && beside {
        return Err(Fail::usage(format!(
            "--report {} is named like the output's files",
            path.display()
        ))
        .with_hint("give the report another name or directory, e.g. run-report.json"));
    }
    // (The output directory too, before the run makes it.)
    if path.is_dir() || path == args.output {
        return Err(
            Fail::usage(format!("--report {} is a directory", path.display()))
                .with_hint("give the report a file name, e.g. run-report.json"),
        );
    }
    if dir != args.output
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return Err(Fail::io(format!(
            "{}: cannot make the report's directory: {e}",
            path.display()
        )));
    }
    Ok(())
}

/// Refuses, before anything is read, a run that would write over one of its own
/// inputs: the main table's file (`<entity>.<ext>` in the output directory, as when
/// `-o` is the input's directory and `--force` is given) or the report. The other
/// tables' files are checked by the output once their names are known, before any
/// file gets its name.
fn check_inputs_kept(files: &[PathBuf], args: &FlattenArgs, entity: &str) -> Result<(), Fail> {
    let main = args.output.join(format!(
        "{}.{}",
        transmogrify_core::file_stem(entity),
        output_extension(&args.format)
    ));
    // (Without --force a directory holding an input is refused as not empty.)
    if let Some(input) = files
        .iter()
        .find(|f| args.force && transmogrify_io::same_file(f, &main))
    {
        return Err(Fail::usage(format!(
            "{}: the main table's file {} would replace this input",
            input.display(),
            main.display()
        ))
        .with_hint("write into another directory (-o), or name the tables otherwise (--entity)"));
    }
    if let Some(report) = args.report.as_deref().filter(|p| !is_stdout(p))
        && let Some(input) = files.iter().find(|f| transmogrify_io::same_file(f, report))
    {
        return Err(Fail::usage(format!(
            "--report {} is one of the inputs",
            input.display()
        )));
    }
    Ok(())
}

/// The extension of the files written in `format`.
fn output_extension(format: &str) -> &str {
    match format {
        "ndjson" => "jsonl",
        other => other,
    }
}

/// Whether a `--report` path means standard output.
fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Writes `value` as pretty JSON to `path` (`-`: standard output).
fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), Fail> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Fail::io(format!("encoding the report: {e}")))?
        + "\n";
    if is_stdout(path) {
        return print(&text).map(drop);
    }
    let failed = |e: std::io::Error| Fail::io(format!("{}: {e}", path.display()));
    // Through a link, the file it names.
    let file = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(path) {
            Ok(file) => file,
            // A link to nothing yet: written through it, as it stands.
            Err(_) => return std::fs::write(path, text).map_err(failed),
        },
        _ => path.to_path_buf(),
    };
    let existing = std::fs::metadata(&file).ok();
    // A device or a pipe (`/dev/stderr`) is written as it is.
    if existing.as_ref().is_some_and(|m| !m.is_file()) {
        return std::fs::write(&file, text).map_err(failed);
    }
    // A file whole or not at all: written beside it, with its permissions, then
    // given its name (a full disk leaves no empty or cut report). Where nothing can
    // be made beside it (a directory shared read-only), it is written in place.
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    let temp = file.with_file_name(format!(
        ".{}.{}.tmp",
        name.unwrap_or_else(|| "report".into()),
        std::process::id()
    ));
    let Ok(mut out) = std::fs::File::create(&temp) else {
        return std::fs::write(&file, text).map_err(failed);
    };
    if let Err(e) = std::io::Write::write_all(&mut out, text.as_bytes()) {
        drop(out);
        let _ = std::fs::remove_file(&temp);
        return Err(failed(e));
    }
    drop(out);
    let kept = match &existing {
        Some(m) => std::fs::set_permissions(&temp, m.permissions()),
        None => Ok(()),
    };
    if let Err(e) = kept.and_then(|()| std::fs::rename(&temp, &file)) {
        let _ = std::fs::remove_file(&temp);
        return Err(failed(e));
    }
    Ok(())
}

fn flatten(args: &FlattenArgs, started: Instant) -> Result<u8, Fail> {
    if args.output.as_os_str() == "-" {
        return Err(Fail::usage(
            "-o - names no directory: the tables are files, and standard output takes none",
        )
        .with_hint("name a directory (a directory called - is ./-)"));
    }
    let entity = options::entity(&args.input)?;
    let files = input_files(&args.input.inputs, Some(&args.output))?;
    check_inputs_kept(&files, args, &entity)?;
    let largest = options::max_record_bytes(&args.processing)?;
    let header = output::csv_header(&files, &args.input, largest, args.processing.max_columns)?;
    let config = options::config(&args.processing, header)?;
    let processor = Processor::new(config);
    let inputs = inputs(&args.input, &files)?;
    let chunking = options::chunking(&args.exec.chunk_size)?;
    let mut executor = options::executor(args.exec.executor, args.exec.workers)?;
    // Options that do nothing here are warned of, quiet or not, and in the report.
    let mut warned = Vec::new();
    // Several workers count --max-columns over their own parts: which records pass a
    // limit that the run meets is decided in input order, by reading the inputs
    // again on one thread. Standard input and pipes are read once: with a limit
    // given, they are flattened on one thread from the start.
    if executor.workers() > 1
        && args.processing.max_columns != transmogrify_core::DEFAULT_MAX_COLUMNS
        && inputs.iter().any(transmogrify_parallel::Input::is_stream)
    {
        warned.push(
            "--max-columns with standard input or a pipe: flattened on one thread, as which \
             records pass the limit is decided in input order and the input is read once"
                .to_string(),
        );
        executor = options::executor(ExecutorArg::Sequential, None)?;
    }
    for (given, option, format, name) in [
        (
            args.compression.is_some(),
            "--compression",
            "parquet",
            "Parquet",
        ),
        (
            args.row_group_size.is_some(),
            "--row-group-size",
            "parquet",
            "Parquet",
        ),
        (
            args.output_delimiter.is_some(),
            "--output-delimiter",
            "csv",
            "CSV",
        ),
    ] {
        if given && args.format != format {
            warned.push(format!("{option} applies to {name} output only"));
        }
    }
    if args.exec.executor == ExecutorArg::Sequential && args.exec.workers.is_some_and(|n| n > 1) {
        warned.push("--workers applies to --executor threads or processes only".to_string());
    }
    warned.extend(processing_warnings(&args.processing));
    warned.extend(output::csv_skipped_whole(&files, &args.input)?);
    for warning in &warned {
        say!("warning: {warning}");
    }
    told(&warned);
    // Before the target makes its first unfinished file (a spill directory), so that
    // an interrupt at any point after leaves none behind.
    let made = dirs_to_make(&args.output);
    remove_unfinished_on_interrupt(
        args.output.clone(),
        made.clone(),
        args.spill_dir.clone(),
        args.report.clone().map(|path| (path, started)),
    );
    let mut target = output::Target::create(args, &processor, &entity, executor.workers(), &files)?;
    let draw = !args.quiet && crate::progress::can_draw();
    let progress = Progress::start(total_bytes(&files), draw, Box::new(std::io::stderr()));
    let json_input = inputs.iter().any(|i| i.format() == InputFormat::Json);
    let job = Job::new(processor, entity.clone(), inputs)
        .with_chunking(chunking)
        .with_progress(progress.counter())
        .with_input_total(progress.later_total());
    let mut executor = executor;
    let mut run = executor.run(&job, target.sink());
    // Several workers each check --max-columns against their own parts: when a
    // table's records pass it together, which of them pass it is decided in input
    // order, by one worker reading every record (inputs that can be read again).
    if let Err(transmogrify_parallel::Error::ColumnsPastLimit { table, limit }) = &run
        && job.can_run_again()
    {
        let warning = format!(
            "table {table} would get more than the limit of {limit} columns \
             (--max-columns) in this run of several workers; flattening again on one \
             thread, in input order, to tell which records pass it"
        );
        say!("warning: {warning}");
        told(std::slice::from_ref(&warning));
        warned.push(warning);
        target.abort();
        progress
            .counter()
            .store(0, std::sync::atomic::Ordering::Relaxed);
        target = output::Target::create(args, &job.processor, &entity, 1, &files)?;
        executor = options::executor(ExecutorArg::Sequential, None)?;
        run = executor.run(&job, target.sink());
    }
    let mut report = match run {
        Ok(r) => r,
        Err(e) => {
            progress.finish();
            target.abort();
            // The run made the directory (and maybe its parents) and wrote nothing:
            // they go too (a directory that holds anything stays).
            remove_dirs(&made);
            return Err(damage_behind(&e, &files).unwrap_or_else(|| e.into()));
        }
    };
    // Every record is flattened; what remains is writing the tables out.
    let flattened = started.elapsed();
    // The tables are written (Parquet encoded, spilled parts read back) as the
    // line says so.
    progress.all_read(Some(target.writes()));
    let finished = target.finish();
    progress.finish();
    let mut written = match finished {
        Ok(written) => written,
        Err(e) => {
            // Writing the tables failed (a full disk): what was written is removed,
            // and so are the directories the run made.
            remove_dirs(&made);
            return Err(e);
        }
    };
    report.tables = written.tables.clone();
    let run_warnings = written.warnings.clone();
    written.warnings.splice(0..0, warned);
    // Told after any errors, and in the report with the other warnings.
    let closing = closing_warnings(&report, &written);
    written.warnings.extend(closing.iter().cloned());
    let wall = started.elapsed();
    if let Some(path) = &args.report {
        write_report(
            path,
            &report,
            &written,
            Seconds {
                wall: wall.as_secs_f64(),
                flattened: flattened.as_secs_f64(),
            },
            &executor_name(&*executor),
        )?;
    }
    if !args.quiet {
        // A compressed input's bytes are counted as stored.
        let compressed = files.iter().filter(|f| stored_compressed(f)).count()
            + usize::try_from(report.compressed_streams).unwrap_or(usize::MAX);
        let compressed = match compressed {
            0 => "",
            n if n == files.len() => " of compressed input",
            _ => " of input as stored",
        };
        summary(
            &report,
            &written,
            wall.as_secs_f64(),
            compressed,
            &args.output,
        );
    }
    // Warnings are not the summary: shown when quiet too.
    for warning in &run_warnings {
        say!("warning: {warning}");
    }
    if !args.quiet
        && json_input
        && args.input.json_path.is_none()
        && let Some(note) = large_records_note(&report, &written, &entity, chunking.bytes)
    {
        say!("{note}");
    }
    // Failed chunks are errors: reported even when quiet, and first.
    let code = report_failed(&report, EXIT_OK);
    for warning in &closing {
        say!("warning: {warning}");
    }
    Ok(code)
}

/// The warnings a run's counts make: bad records skipped, chunks run again after
/// their worker process died.
fn closing_warnings(report: &RunReport, written: &output::Written) -> Vec<String> {
    let mut warnings = Vec::new();
    if report.bad_records > 0 {
        warnings.push(format!(
            "{} skipped; see the {} table",
            counted(report.bad_records, "bad record"),
            written.errors_table.as_deref().unwrap_or("errors")
        ));
    }
    if report.retried_chunks > 0 {
        let what = match report.retried_chunks {
            1 => "a worker process died; its chunk was run again on a new one".to_string(),
            n => format!("worker processes died on {n} chunks; each was run again on a new one"),
        };
        warnings.push(format!("{what}, and succeeded"));
    }
    warnings
}

/// For a bad record of a compressed input (strict mode), the damage in its
/// compressed data that made it, if any: damaged data decompresses to wrong text
/// before the decoder notices, and that text is what the record error names.
fn damage_behind(e: &transmogrify_parallel::Error, files: &[PathBuf]) -> Option<Fail> {
    let record = e.record_error()?;
    let path = files
        .iter()
        .find(|f| f.display().to_string() == *record.source_name)?;
    let input = transmogrify_io::Input::open(path).ok()?;
    if input.compression() == transmogrify_io::Compression::None {
        return None;
    }
    match input.check() {
        Err(damage) if damage.is_corrupt_input() => Some(Fail::from(damage)),
        _ => None,
    }
}

fn executor_name(e: &dyn Executor) -> String {
    format!("{} x{}", e.name(), e.workers())
}

/// How long a run took: in all, and until its last record was flattened (the rest
/// went to writing the tables: spilled parts read back, Parquet encoded, files
/// synced and put in place).
struct Seconds {
    wall: f64,
    flattened: f64,
}

fn write_report(
    path: &Path,
    report: &RunReport,
    written: &output::Written,
    seconds: Seconds,
    executor: &str,
) -> Result<(), Fail> {
    let wall = seconds.wall;
    let failed: Vec<_> = report
        .failed_chunks
        .iter()
        .map(|f| {
            json!({"index": f.index, "input": f.input, "start": f.start, "end": f.end,
                   "attempts": f.attempts, "error": f.error})
        })
        .collect();
    let tables: Vec<_> = written
        .tables
        .iter()
        .map(|(name, rows)| json!({"name": name, "rows": rows}))
        .collect();
    let value = json!({
        "executor": executor,
        "workers": report.workers,
        "records": report.records,
        "bad_records": report.bad_records,
        "bytes_read": report.bytes_read,
        "chunks_succeeded": report.chunks_succeeded,
        "chunks_failed": failed,
        "retried_chunks": report.retried_chunks,
        "tables": tables,
        "warnings": written.warnings,
        "files": written.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "output_bytes": written.bytes,
        "wall_seconds": wall,
        "flatten_seconds": seconds.flattened,
        "write_seconds": (wall - seconds.flattened).max(0.0),
        "mb_per_second": if wall > 0.0 { report.bytes_read as f64 / 1e6 / wall } else { 0.0 },
        "peak_rss_bytes": peak_rss(),
        "worker_peak_rss_bytes": report.worker_peak_rss,
    });
    // The report never takes the place of an output file.
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if let Some(file) = written.files.iter().find(|f| same(path, f)) {
        return Err(Fail::usage(format!(
            "--report {} would overwrite the output file {}",
            path.display(),
            file.display()
        ))
        .with_hint("write the report elsewhere; the output is complete"));
    }
    write_run_report(path, &value)
}

fn summary(
    report: &RunReport,
    written: &output::Written,
    wall: f64,
    compressed: &str,
    dir: &std::path::Path,
) {
    let rows: usize = written.tables.iter().map(|t| t.1).sum();
    let mb_s = if wall > 0.0 {
        report.bytes_read as f64 / 1e6 / wall
    } else {
        0.0
    };
    let mut text = format!(
        "flattened {} into {} ({}) in {:.2} s, {:.1} MB/s{}; wrote {} to {}",
        counted(report.records, "record"),
        counted(written.tables.len() as u64, "table"),
        counted(rows as u64, "row"),
        wall,
        mb_s,
        compressed,
        human_bytes(written.bytes),
        dir.display()
    );
    if !report.failed_chunks.is_empty() {
        text.push_str(&format!(
            "\n{} part(s) of the input could not be read; their records are missing",
            report.failed_chunks.len()
        ));
    }
    say!("{text}");
}

/// A note for JSON records larger on average than a chunk (`chunk_bytes`): each
/// record is flattened whole, so memory grows with it, as when a file wraps its
/// records in one object (`{"data": [...]}`) read as a single record.
fn large_records_note(
    report: &RunReport,
    written: &output::Written,
    entity: &str,
    chunk_bytes: u64,
) -> Option<String> {
    let average = report.bytes_read.checked_div(report.records)?;
    if average <= chunk_bytes {
        return None;
    }
    let largest = written
        .tables
        .iter()
        .filter(|(name, _)| name != entity && Some(name) != written.errors_table.as_ref())
        .max_by_key(|(_, rows)| *rows)
        .map(|(name, rows)| format!("; the largest table here is {name} ({rows} rows)"))
        .unwrap_or_default();
    let (noun, size) = if report.records == 1 {
        ("the input is one record of", human_bytes(average))
    } else {
        ("the records average", human_bytes(average))
    };
    Some(format!(
        "note: {noun} {size}, more than a chunk ({}): each record is flattened whole, in \
         memory that grows with it. If the records are an array inside the input \
         (`{{\"data\": [...]}}`), --json-path data reads them one at a time{largest}.",
        human_bytes(chunk_bytes)
    ))
}

pub fn schema(args: &SchemaArgs) -> Result<u8, Fail> {
    // Nothing to remove: Ctrl-C or SIGTERM stops it at once, as it does a run.
    let _ = ctrlc::set_handler(|| {
        say!("{}interrupted", crate::progress::interrupt_lead());
        std::process::exit(EXIT_INTERRUPTED);
    });
    let entity = options::entity(&args.input)?;
    for warning in processing_warnings(&args.processing) {
        say!("warning: {warning}");
    }
    let files = input_files(&args.input.inputs, None)?;
    for warning in output::csv_skipped_whole(&files, &args.input)? {
        say!("warning: {warning}");
    }
    let largest = options::max_record_bytes(&args.processing)?;
    let header = output::csv_header(&files, &args.input, largest, args.processing.max_columns)?;
    let config = options::config(&args.processing, header)?;
    let id = config.id_field().map(str::to_string);
    let parent = config.parent_field().map(str::to_string);
    let processor = Processor::new(config);
    let inputs = inputs(&args.input, &files)?;
    // A whole input read on a terminal shows its progress (a sample is soon read).
    let draw = args.sample.is_none() && crate::progress::can_draw();
    let progress = Progress::start_then(
        total_bytes(&files),
        draw,
        Box::new(std::io::stderr()),
        "laying out the tables",
    );
    let job = Job::new(processor, entity.clone(), inputs)
        .with_chunking(Chunking::default())
        .with_limit(args.sample)
        .with_progress(progress.counter())
        .with_input_total(progress.later_total());
    let layouts = Layouts::default();
    let run = SequentialExecutor.run(&job, &layouts);
    progress.finish();
    let report = run?;
    let result = layouts.finish(&job)?;
    let tables = result.schemas()?;
    let text = if args.json {
        // The same document `--dictionary` writes beside the tables.
        let v = transmogrify_io::data_dictionary(&result, "parquet")?;
        serde_json::to_string_pretty(&v).map_err(|e| Fail::io(e.to_string()))? + "\n"
    } else if args.mermaid {
        show::mermaid(&tables, id.as_deref(), parent.as_deref())
    } else {
        let mut tree = show::tree(&tables);
        if !result.errors().is_empty() {
            let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
            let name = transmogrify_io::errors_table_name(&entity, &names);
            let n = result.errors().len();
            // The columns the errors table is written with.
            let columns = result
                .errors_batch()?
                .map(|b| {
                    let names: Vec<String> = b
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect();
                    names.join(", ")
                })
                .unwrap_or_default();
            tree.push_str(&format!(
                "{name} ({n} bad record{}: {columns})\n",
                if n == 1 { "" } else { "s" }
            ));
        }
        tree
    };
    let code = print(&text)?;
    // An input that could not be read to its end (skip mode): the tables are those
    // of the records before it, as a run would write them, and it is an error.
    Ok(report_failed(&report, code))
}

/// Warnings for processing options that do nothing with the others given, for
/// `flatten` and `schema` alike.
fn processing_warnings(p: &ProcessingArgs) -> Vec<String> {
    let mut warned = Vec::new();
    if p.array_index_column.is_some()
        && !matches!(p.array_mode, ArrayModeArg::Smart | ArrayModeArg::Separate)
    {
        warned.push(
            "--array-index-column applies to --array-mode smart or separate only (the modes \
             that make child rows)"
                .to_string(),
        );
    }
    warned
}

/// Reports each failed chunk of `report` on stderr: the exit code is then a data
/// error's, else `code`.
fn report_failed(report: &RunReport, code: u8) -> u8 {
    for f in &report.failed_chunks {
        say!("error: {}", f.error);
    }
    if report.failed_chunks.is_empty() {
        code
    } else {
        EXIT_DATA
    }
}

/// Exit status after Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: i32 = 130;

/// Set first thing on Ctrl-C or SIGTERM, before the run's workers are stopped: an
/// error the run meets from then on (no worker to start) is the stop's.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether Ctrl-C or SIGTERM has come ([`INTERRUPTED`]).
fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Once Ctrl-C or SIGTERM has stopped the run, waits for the handler that removes
/// its unfinished files to exit the process: the run's own end (an error it met
/// because its files were being removed, or its success just before) is not the
/// outcome then. Exits itself if the handler has not after a minute.
pub fn await_interrupt() {
    if !interrupted() {
        return;
    }
    for _ in 0..600 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    say!("interrupted");
    std::process::exit(EXIT_INTERRUPTED);
}

/// The directories a run writing into `dir` makes: `dir` and those of its parents
/// that do not exist yet, `dir` first.
fn dirs_to_make(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect()
}

/// Removes the directories `made` by the run ([`dirs_to_make`]), deepest first,
/// as long as they are empty.
fn remove_dirs(made: &[PathBuf]) {
    for dir in made {
        if std::fs::remove_dir(dir).is_err() {
            break;
        }
    }
}

/// On Ctrl-C or SIGTERM, removes the files this run left unfinished in `dir` (none of
/// them has its final name yet) and its spill directory in `spill_dir` (if the run
/// spills elsewhere), and the directories the run `made` ([`dirs_to_make`]) that
/// are left empty, writes the run's `report` (its path, and when the run started)
/// saying so, and exits with [`EXIT_INTERRUPTED`].
fn remove_unfinished_on_interrupt(
    dir: PathBuf,
    made: Vec<PathBuf>,
    spill_dir: Option<PathBuf>,
    report: Option<(PathBuf, Instant)>,
) {
    let _ = ctrlc::set_handler(move || {
        INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        // Worker processes first (in a group of their own, a terminal's Ctrl-C does
        // not reach them, and a run would start new ones): none writes a file after
        // the removal.
        transmogrify_parallel::stop_workers();
        crate::progress::clear_for_exit();
        let mut removed = transmogrify_io::stop_and_remove_unfinished(&dir);
        // The run's own report is not written after this (nor while this is).
        let _report = REPORT_WRITE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let report = |error: &str| {
            if let Some((path, started)) = &report {
                let value = json!({
                    "error": error,
                    "exit_code": EXIT_INTERRUPTED,
                    "wall_seconds": started.elapsed().as_secs_f64(),
                });
                let _ = write_json(path, &value);
            }
        };
        // Once the run is stopped, no file is made anywhere (the gate is the
        // process's): nothing appears in the spill directory after this.
        if let Some(spill_dir) = &spill_dir {
            removed += transmogrify_io::remove_unfinished(spill_dir);
        }
        // The files got their final names before the stop (all of them: a stop
        // waits for the renames under way); what was removed is what was left of
        // the parts.
        if transmogrify_io::committed_outputs() > 0 {
            say!(
                "{}interrupted: the run's files in {} were already complete",
                crate::progress::interrupt_lead(),
                dir.display()
            );
            report("interrupted after the run's files were complete");
            std::process::exit(EXIT_INTERRUPTED);
        }
        report("interrupted: no table was written");
        remove_dirs(&made);
        say!(
            "{}interrupted: removed {removed} unfinished file(s) from {}",
            crate::progress::interrupt_lead(),
            dir.display()
        );
        std::process::exit(EXIT_INTERRUPTED);
    });
}

/// Keeps of each part only its layout (tables, columns, kinds of value, row counts and
/// errors, no cells): all a schema needs, in memory that does not grow with the data.
#[derive(Default)]
struct Layouts(std::sync::Mutex<std::collections::BTreeMap<u64, ProcessingResult>>);

impl ResultSink for Layouts {
    fn accept(&self, seq: u64, part: ProcessingResult) -> transmogrify_parallel::Result<()> {
        let layout = part.compact_layout();
        drop(part);
        if let Ok(mut parts) = self.0.lock() {
            parts.insert(seq, layout);
        }
        Ok(())
    }
}

impl Layouts {
    /// The parts' layouts combined in input order.
    fn finish(self, job: &Job) -> Result<ProcessingResult, Fail> {
        let parts = self.0.into_inner().unwrap_or_default();
        if parts.is_empty() {
            return Ok(job.processor.empty_result(&job.entity));
        }
        Ok(ProcessingResult::combine_results(parts.into_values())?)
    }
}

/// The input format flag as the io crate names it.
pub fn format_name(f: InputFormatArg) -> Option<&'static str> {
    match f {
        InputFormatArg::Auto => None,
        InputFormatArg::Json => Some("json"),
        InputFormatArg::Jsonl => Some("jsonl"),
        InputFormatArg::Csv => Some("csv"),
        InputFormatArg::Parquet => Some("parquet"),
    }
}
