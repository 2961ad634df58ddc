//! The rest of the pipeline: executors (groups `executors`), many small inputs
//! (`small_inputs`), writers (`writers`), readers (`readers`), on generated
//! API-event data, and streamed output to files (`streaming`), on API events and on
//! sparse records whose tables gain columns part after part. Throughput counts input
//! bytes.
//!
//! The bench binary is also its own worker program for the process executor: started
//! with `TRANSMOGRIFY_BENCH_WORKER` set, it serves chunks instead of benchmarking.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use transmogrify_benches::{Format, Shape, Size, generate};
use transmogrify_core::{ProcessingResult, Processor, ProcessorConfig, ResultCollector};
use transmogrify_io::{
    ReaderOptions, WriteOptions, WriteResultExt, open_reader, reader_for, stream_to_dir,
};
use transmogrify_parallel::{
    Chunking, Executor, Input, Job, ProcessExecutor, SequentialExecutor, ThreadExecutor,
};

const SEED: u64 = 42;
const WORKER_ENV: &str = "TRANSMOGRIFY_BENCH_WORKER";

fn processor() -> Processor {
    typed_or_text(false)
}

/// The benchmarks' processor, in typed mode if `typed`.
fn typed_or_text(typed: bool) -> Processor {
    match ProcessorConfig::builder()
        .with_extract_time(Some(0))
        .with_cast_to_string(!typed)
        .build()
    {
        Ok(c) => Processor::new(c),
        Err(e) => panic!("benchmark configuration rejected: {e}"),
    }
}

/// A scratch directory with the generated inputs.
struct Files {
    _dir: tempfile::TempDir,
    jsonl: PathBuf,
    json: PathBuf,
    /// The same array on one line, as most tools write JSON.
    json_one_line: PathBuf,
    gzip: PathBuf,
    csv: PathBuf,
    parquet: PathBuf,
}

fn write(path: &Path, bytes: &[u8]) {
    if let Err(e) = std::fs::write(path, bytes) {
        panic!("{}: {e}", path.display());
    }
}

impl Files {
    fn new(bytes: u64) -> Files {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("scratch directory: {e}"),
        };
        let p = |name: &str| dir.path().join(name);
        let jsonl = generate(Shape::ApiEvents, Size::Bytes(bytes), Format::Jsonl, SEED);
        write(&p("events.jsonl"), &jsonl);
        write(
            &p("events.json"),
            &generate(
                Shape::ApiEvents,
                Size::Bytes(bytes),
                Format::JsonArray,
                SEED,
            ),
        );
        let mut one_line = b"[".to_vec();
        for (i, line) in jsonl
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            if i > 0 {
                one_line.push(b',');
            }
            one_line.extend_from_slice(line);
        }
        one_line.push(b']');
        write(&p("events-one-line.json"), &one_line);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let gz = gz.write_all(&jsonl).and_then(|()| gz.finish());
        match gz {
            Ok(gz) => write(&p("events.jsonl.gz"), &gz),
            Err(e) => panic!("gzip: {e}"),
        }
        // Flat data for CSV and Parquet: the wide shape, flattened once.
        let wide = generate(Shape::Wide, Size::Bytes(bytes), Format::Jsonl, SEED);
        let flat = match processor().process(&wide, "wide") {
            Ok(r) => r,
            Err(e) => panic!("flattening wide data: {e}"),
        };
        let csv = flat.to_csv_bytes();
        let parquet = flat.to_parquet_bytes();
        match (csv, parquet) {
            (Ok(csv), Ok(parquet)) => {
                write(&p("wide.csv"), &csv[0].bytes);
                write(&p("wide.parquet"), &parquet[0].bytes);
            }
            (Err(e), _) | (_, Err(e)) => panic!("writing wide data: {e}"),
        }
        Files {
            jsonl: p("events.jsonl"),
            json: p("events.json"),
            json_one_line: p("events-one-line.json"),
            gzip: p("events.jsonl.gz"),
            csv: p("wide.csv"),
            parquet: p("wide.parquet"),
            _dir: dir,
        }
    }
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Sequential, threads and processes at 1 and 2 workers, into memory.
fn executors(c: &mut Criterion) {
    let files = Files::new(32 << 20);
    let job = Job::new(processor(), "events", vec![Input::jsonl(&files.jsonl)])
        .with_chunking(Chunking::bytes(2 << 20));
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => panic!("bench executable: {e}"),
    };
    let process = |n: usize| {
        ProcessExecutor::new(n)
            .with_program(&exe, Vec::new())
            .with_env(WORKER_ENV, "1")
    };
    let runs: Vec<(String, Box<dyn Executor>)> = vec![
        ("sequential/1".into(), Box::new(SequentialExecutor)),
        ("threads/1".into(), Box::new(ThreadExecutor::new(1))),
        ("threads/2".into(), Box::new(ThreadExecutor::new(2))),
        ("processes/1".into(), Box::new(process(1))),
        ("processes/2".into(), Box::new(process(2))),
    ];
    let mut group = c.benchmark_group("executors");
    group.throughput(Throughput::Bytes(size(&files.jsonl)));
    for (name, executor) in &runs {
        group.bench_function(name.as_str(), |b| {
            b.iter(|| {
                let sink = ResultCollector::new();
                match executor.run(&job, &sink) {
                    Ok(report) => black_box(report.records),
                    Err(e) => panic!("{name}: {e}"),
                }
            })
        });
    }
    group.finish();

    // CSV input: read by the planner for one worker, in ranges by the workers for two.
    let csv = match Input::detect(&files.csv) {
        Ok(input) => input,
        Err(e) => panic!("{}: {e}", files.csv.display()),
    };
    let job = Job::new(processor(), "wide", vec![csv]).with_chunking(Chunking::bytes(2 << 20));
    let mut group = c.benchmark_group("executors_csv_input");
    group.throughput(Throughput::Bytes(size(&files.csv)));
    for workers in [1, 2] {
        group.bench_function(format!("threads/{workers}"), |b| {
            let executor = ThreadExecutor::new(workers);
            b.iter(|| {
                let sink = ResultCollector::new();
                match executor.run(&job, &sink) {
                    Ok(report) => black_box(report.records),
                    Err(e) => panic!("csv on {workers} threads: {e}"),
                }
            })
        });
    }
    group.finish();
}

/// The same records as one JSONL file and as one small JSON file each (about 1,000
/// API events), on one and two threads, into memory: what many small inputs cost.
fn small_inputs(c: &mut Criterion) {
    let files = Files::new(8 << 20);
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("scratch directory: {e}"),
    };
    let text = match std::fs::read(&files.jsonl) {
        Ok(t) => t,
        Err(e) => panic!("{}: {e}", files.jsonl.display()),
    };
    let mut small = Vec::new();
    for (i, line) in text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let path = dir.path().join(format!("event-{i:05}.json"));
        write(&path, line);
        small.push(Input::json(&path));
    }
    let jobs = [
        (
            "one_file",
            Job::new(processor(), "events", vec![Input::jsonl(&files.jsonl)]),
        ),
        ("file_per_record", Job::new(processor(), "events", small)),
    ];
    let mut group = c.benchmark_group("small_inputs");
    group.throughput(Throughput::Bytes(size(&files.jsonl)));
    for (name, job) in &jobs {
        let runs: [(&str, Box<dyn Executor>); 2] = [
            ("sequential", Box::new(SequentialExecutor)),
            ("threads-2", Box::new(ThreadExecutor::new(2))),
        ];
        for (executor_name, executor) in &runs {
            group.bench_function(format!("{name}/{executor_name}"), |b| {
                b.iter(|| {
                    let sink = ResultCollector::new();
                    match executor.run(job, &sink) {
                        Ok(report) => black_box(report.records),
                        Err(e) => panic!("{name}: {e}"),
                    }
                })
            });
        }
    }
    group.finish();
}

/// Each writer, from a flattened result held in memory.
fn writers(c: &mut Criterion) {
    let data = generate(Shape::ApiEvents, Size::Bytes(4 << 20), Format::Jsonl, SEED);
    let result: ProcessingResult = match processor().process(&data, "events") {
        Ok(r) => r,
        Err(e) => panic!("flattening: {e}"),
    };
    let mut group = c.benchmark_group("writers");
    group.throughput(Throughput::Bytes(data.len() as u64));
    for format in ["csv", "json", "jsonl", "parquet"] {
        group.bench_function(format, |b| {
            b.iter(|| match result.to_bytes(format, &WriteOptions::default()) {
                Ok(files) => black_box(files.len()),
                Err(e) => panic!("{format}: {e}"),
            })
        });
    }
    group.finish();
}

/// Each reader, reading every record's bytes without flattening.
fn readers(c: &mut Criterion) {
    let files = Files::new(8 << 20);
    let mut group = c.benchmark_group("readers");
    for (name, path) in [
        ("json", &files.json),
        ("json_one_line", &files.json_one_line),
        ("jsonl", &files.jsonl),
        ("jsonl.gz", &files.gzip),
        ("csv", &files.csv),
        ("parquet", &files.parquet),
    ] {
        group.throughput(Throughput::Bytes(size(path)));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut reader = match open_reader(path, &ReaderOptions::default()) {
                    Ok(r) => r,
                    Err(e) => panic!("{name}: {e}"),
                };
                let mut records = 0;
                for batch in reader.by_ref() {
                    match batch {
                        Ok(batch) => records += batch.len(),
                        Err(e) => panic!("{name}: {e}"),
                    }
                }
                black_box(records)
            })
        });
    }
    group.finish();
}

/// Streamed output (`stream_to_dir`, one thread, parts of 256 KiB of input) into a
/// directory, CSV and Parquet: API events, and sparse records (25 properties out of
/// 50,000 keys), whose CSV tables gain columns with nearly every part and are widened
/// at the end, and whose Parquet tables have thousands of columns.
fn streaming(c: &mut Criterion) {
    let inputs = [
        (
            "api-events",
            generate(Shape::ApiEvents, Size::Bytes(4 << 20), Format::Jsonl, SEED),
        ),
        (
            "sparse",
            generate(Shape::Sparse, Size::Bytes(256 << 10), Format::Jsonl, SEED),
        ),
    ];
    let mut group = c.benchmark_group("streaming");
    for (shape, data) in &inputs {
        group.throughput(Throughput::Bytes(data.len() as u64));
        let runs = [
            ("csv", false, "csv"),
            ("parquet", false, "parquet"),
            ("csv", true, "csv-typed"),
        ];
        for (format, typed, name) in runs {
            let processor = typed_or_text(typed);
            group.bench_function(format!("{shape}/{name}"), |b| {
                b.iter(|| {
                    let dir = match tempfile::tempdir() {
                        Ok(d) => d,
                        Err(e) => panic!("scratch directory: {e}"),
                    };
                    let written = transmogrify_io::Input::from_bytes("in.jsonl", data.clone())
                        .and_then(|input| reader_for(input, &ReaderOptions::default()))
                        .and_then(|mut reader| {
                            let options =
                                WriteOptions::builder().with_part_bytes(256 << 10).build()?;
                            let dir = dir.path();
                            stream_to_dir(&processor, &mut *reader, "t", dir, format, options)
                        });
                    match written {
                        Ok(summary) => black_box(summary.files.len()),
                        Err(e) => panic!("{shape} to {format}: {e}"),
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Command-line options (`--measurement-time`, `--sample-size` …) take the place
    // of these.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = executors, small_inputs, writers, readers, streaming
}

fn main() {
    if std::env::var_os(WORKER_ENV).is_some() {
        let code = transmogrify_parallel::worker_main();
        std::process::exit(if code == std::process::ExitCode::SUCCESS {
            0
        } else {
            3
        });
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
