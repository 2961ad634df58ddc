//! Every executor, worker count and chunk size gives the sequential result.

use std::sync::atomic::{AtomicUsize, Ordering};
use transmogrify_core::{ProcessingResult, Processor};

use transmogrify_parallel::{Chunking, Executor, ResultSink, SequentialExecutor};

use crate::support::*;

fn check(job: &transmogrify_parallel::Job, what: &str) -> TestResult {
    let (expected, report) = SequentialExecutor.run_to_result(job)?;
    let expected = tables(&expected)?;
    assert!(report.records > 0, "{what}: nothing flattened");
    for chunking in chunkings() {
        let job = job.clone().with_chunking(chunking);
        for executor in executors() {
            let (got, report): (ProcessingResult, _) = executor.run_to_result(&job)?;
            assert!(
                tables(&got)? == expected,
                "{what}: {} x{} with {chunking:?} differs from sequential",
                executor.name(),
                executor.workers()
            );
            assert!(
                report.failed_chunks.is_empty(),
                "{what}: {:?}",
                report.failed_chunks
            );
        }
    }
    Ok(())
}

#[test]
fn jsonl_nested() -> TestResult {
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..120).map(record).collect();
    let path = inputs.jsonl("nested.jsonl", &records)?;
    check(
        &job(&processor(false)?, "events", &[&path])?,
        "nested jsonl",
    )
}

#[test]
fn json_array_nested() -> TestResult {
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..90).map(record).collect();
    let path = inputs.json_array("nested.json", &records)?;
    check(
        &job(&processor(false)?, "events", &[&path])?,
        "nested json array",
    )
}

#[test]
fn wide_records_and_several_inputs() -> TestResult {
    let inputs = Inputs::new()?;
    let a: Vec<String> = (0..40).map(wide).collect();
    let b: Vec<String> = (40..70).map(record).collect();
    let pa = inputs.jsonl("a.jsonl", &a)?;
    let pb = inputs.json_array("b.json", &b)?;
    check(
        &job(&processor(false)?, "mixed", &[&pa, &pb])?,
        "two inputs",
    )
}

#[test]
fn skip_mode_with_bad_records() -> TestResult {
    let inputs = Inputs::new()?;
    let mut records: Vec<String> = (0..80).map(record).collect();
    records[5] = r#"{"id": 5, "broken": }"#.to_string();
    records[33] = "[1,2,3]".to_string();
    records[34] = String::new();
    records[60] = r#"{"id": "bad \x escape"}"#.to_string();
    let path = inputs.jsonl("bad.jsonl", &records)?;
    let job = job(&processor(true)?, "events", &[&path])?;
    let (result, report) = SequentialExecutor.run_to_result(&job)?;
    assert_eq!(report.bad_records, 3);
    assert_eq!(result.num_rows("main"), Some(76));
    let lines: Vec<u64> = result
        .errors()
        .iter()
        .map(|e| e.error.position.line)
        .collect();
    assert_eq!(lines, [6, 34, 61]);
    check(&job, "skip mode")
}

#[test]
fn strict_mode_reports_the_first_bad_record_the_same_way_everywhere() -> TestResult {
    let inputs = Inputs::new()?;
    let mut records: Vec<String> = (0..60).map(record).collect();
    records[41] = r#"{"id": 41, "oops": tru}"#.to_string();
    records[52] = r#"{"id": 52"#.to_string();
    let path = inputs.jsonl("strict.jsonl", &records)?;
    let job = job(&processor(false)?, "events", &[&path])?;
    let expected = "line 42, column 20 (byte 5000, record 41)";
    for chunking in chunkings() {
        let job = job.clone().with_chunking(chunking);
        for executor in executors() {
            let err = executor
                .run_to_result(&job)
                .err()
                .ok_or("expected an error")?;
            let record = err.record_error().ok_or("expected a record error")?;
            assert_eq!(record.position.line, 42, "{}: {err}", executor.name());
            assert_eq!(record.position.ordinal, 41);
            assert!(record.to_string().contains(expected), "{record}");
            assert!(
                record
                    .to_string()
                    .contains("invalid JSON: invalid literal `tru`, expected `true`"),
                "{record}"
            );
            // The same kind, from worker processes too.
            assert_eq!(
                record.kind,
                transmogrify_core::RecordErrorKind::Syntax(
                    transmogrify_core::SyntaxError::InvalidLiteral("tru".into())
                ),
                "{}",
                executor.name()
            );
        }
    }
    Ok(())
}

/// A gzip file of `n` records, one per line.
fn gzip_jsonl(
    inputs: &Inputs,
    name: &str,
    n: usize,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    use std::io::Write;
    let records: Vec<String> = (0..n).map(record).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all((records.join("\n") + "\n").as_bytes())?;
    let path = inputs.dir.path().join(name);
    std::fs::write(&path, gz.finish()?)?;
    Ok(path)
}

#[test]
fn inputs_read_by_the_io_readers() -> TestResult {
    let inputs = Inputs::new()?;
    let gz_path = gzip_jsonl(&inputs, "events.jsonl.gz", 60)?;
    let mut csv = String::from("id,name,score\n");
    for i in 0..40 {
        csv.push_str(&format!("{i},\"name, {i}\",{}.5\n", i * 3));
    }
    csv.push_str("40,\"unterminated,1\n");
    let csv_path = inputs.write("people.csv", &csv)?;
    let job = job(&processor(true)?, "mixed", &[&gz_path, &csv_path])?;
    let (result, report) = SequentialExecutor.run_to_result(&job)?;
    assert_eq!(result.num_rows("main"), Some(100));
    assert!(report.records >= 100, "{report:?}");
    // The gzip input's records come first, then the CSV rows, ordinals running on.
    let main = result.rows("main")?;
    assert_eq!(main[60]["name"], "name, 0");
    assert_eq!(
        main[60]["__extract_id"],
        transmogrify_core::uuid5("mixed:60").as_str()
    );
    // The bytes read are the files' (the compressed file's, not its text's), as the
    // progress bar's total is.
    let size = std::fs::metadata(&gz_path)?.len() + csv.len() as u64;
    assert_eq!(report.bytes_read, size);
    for executor in executors() {
        let (_, report): (ProcessingResult, _) = executor.run_to_result(&job)?;
        assert_eq!(report.bytes_read, size, "{}", executor.name());
    }
    check(&job, "gzip and csv inputs")
}

/// Once every input is read, the job's input total is what the progress counter
/// reaches when every chunk is done: the inputs' bytes as stored. A sample, which
/// stops before the end, leaves it unset.
#[test]
fn the_input_total_is_what_progress_reaches() -> TestResult {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..300).map(record).collect();
    let plain = inputs.jsonl("events.jsonl", &records)?;
    let gz_path = gzip_jsonl(&inputs, "events.jsonl.gz", 50)?;
    let csv_path = inputs.write("people.csv", "id,name\n1,Ann\n2,Bob\n")?;
    let size = [&plain, &gz_path, &csv_path]
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()))
        .sum::<Result<u64, _>>()?;
    let job = job(&processor(false)?, "t", &[&plain, &gz_path, &csv_path])?
        .with_chunking(Chunking::bytes(4096));
    for executor in executors() {
        let (progress, total) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let job = job
            .clone()
            .with_progress(progress.clone())
            .with_input_total(total.clone());
        executor.run_to_result(&job)?;
        assert_eq!(
            (
                total.load(Ordering::SeqCst),
                progress.load(Ordering::SeqCst)
            ),
            (size, size),
            "{}",
            executor.name()
        );
    }
    let total = Arc::new(AtomicU64::new(0));
    let sample = job.with_limit(Some(10)).with_input_total(total.clone());
    SequentialExecutor.run_to_result(&sample)?;
    assert_eq!(total.load(Ordering::SeqCst), 0);
    Ok(())
}

#[test]
fn chunks_and_limits_counted_in_records_hold_for_inputs_read_by_the_io_readers() -> TestResult {
    let inputs = Inputs::new()?;
    let gz_path = gzip_jsonl(&inputs, "many.jsonl.gz", 600)?;
    let job = job(&processor(false)?, "many", &[&gz_path])?.with_chunking(Chunking::records(10));
    for executor in executors() {
        let (result, report): (ProcessingResult, _) = executor.run_to_result(&job)?;
        assert_eq!(
            (report.chunks_succeeded, result.num_rows("main")),
            (60, Some(600)),
            "{}",
            executor.name()
        );
    }
    // A limit reads that many records, not a whole batch of the reader.
    let sample = job
        .clone()
        .with_chunking(Chunking::default())
        .with_limit(Some(25));
    let (result, _) = SequentialExecutor.run_to_result(&sample)?;
    assert_eq!(result.num_rows("main"), Some(25));
    check(&job, "gzip input in chunks of ten records")
}

/// A CSV file whose rows hold line breaks, doubled quotes and delimiters inside
/// quotes, with blank lines, CRLF endings and bad rows: several workers read it in
/// ranges of whole rows (cut only outside quotes) and must number and flatten every
/// row as one reader does.
fn tricky_csv() -> Vec<u8> {
    let mut csv = b"\xef\xbb\xbfid,note,score\r\n".to_vec();
    for i in 0..150 {
        let row = match i % 7 {
            0 => format!("{i},\"two\nlines, {i}\",{i}.5\n"),
            1 => format!("{i},\"he said \"\"hi\"\"\",\r\n"),
            2 => format!("\n{i},plain,{i}\n"),
            3 => format!("{i},\"a\n\n\nb\",-{i}\r\n"),
            4 if i % 2 == 0 => format!("{i},too,many,fields\n"),
            5 => format!("{i},\"x\",\"\"\n"),
            _ => format!("{i},\"\",{i}\n"),
        };
        csv.extend_from_slice(row.as_bytes());
    }
    // A quote left open on the last line (one that took later lines would stop the
    // input).
    csv.extend_from_slice(b"150,caf\xe9,1\n151,last,\"open quote\n");
    csv
}

#[test]
fn csv_rows_read_in_ranges_by_several_workers() -> TestResult {
    let inputs = Inputs::new()?;
    let path = inputs.dir.path().join("tricky.csv");
    std::fs::write(&path, tricky_csv())?;
    let job = job(&processor(true)?, "rows", &[&path])?;
    let (result, report) = SequentialExecutor.run_to_result(&job)?;
    // 152 rows: 11 with too many fields, one not UTF-8, one whose quote never closes.
    assert_eq!(report.bad_records, 13);
    assert_eq!(result.num_rows("main"), Some(139));
    let main = result.rows("main")?;
    assert_eq!(main[0]["note"], "two\nlines, 0");
    assert_eq!(main[1]["note"], "he said \"hi\"");
    assert_eq!(main[3]["note"], "a\n\n\nb");
    let lines: Vec<u64> = result
        .errors()
        .iter()
        .map(|e| e.error.position.line)
        .collect();
    assert_eq!(lines.first(), Some(&11));
    assert_eq!(lines.last(), Some(&(lines[lines.len() - 2] + 1)));
    check(&job, "tricky csv")?;

    // Strict: the first bad row stops every executor with the same error.
    let strict = crate::support::job(&processor(false)?, "rows", &[&path])?;
    // The error of the row, without the chunk that met it (chunks differ by run).
    let row_error = |e: transmogrify_parallel::Error| match e {
        transmogrify_parallel::Error::Chunk { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    let expected = row_error(
        SequentialExecutor
            .run_to_result(&strict)
            .err()
            .ok_or("the sequential run should fail")?,
    );
    assert!(
        expected.contains("line 11, column 1 (byte 85, record 4): the row has 4 fields"),
        "{expected}"
    );
    for chunking in chunkings() {
        let strict = strict.clone().with_chunking(chunking);
        for executor in executors() {
            let got = row_error(
                executor
                    .run_to_result(&strict)
                    .err()
                    .ok_or("a strict run should fail")?,
            );
            assert_eq!(
                got,
                expected,
                "{} x{} {chunking:?}",
                executor.name(),
                executor.workers()
            );
        }
    }
    Ok(())
}

/// A file's name and bytes.
type File = (String, Vec<u8>);

/// Every file in `dir`, name and bytes.
fn files(dir: &std::path::Path) -> Result<Vec<File>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            std::fs::read(entry.path())?,
        ));
    }
    out.sort();
    Ok(out)
}

fn write(
    executor: &dyn Executor,
    job: &transmogrify_parallel::Job,
    dir: &std::path::Path,
    format: &str,
) -> TestResult {
    let options = transmogrify_io::WriteOptions::builder()
        .with_data_dictionary(true)
        .build()?;
    let out = transmogrify_io::StreamingOutput::new(dir, format, job.processor.config(), options)?;
    let sink = Counting {
        inner: transmogrify_parallel::StreamingSink::new(out),
        whole: AtomicUsize::new(0),
        spilled: AtomicUsize::new(0),
    };
    executor.run(job, &sink)?;
    let (whole, spilled) = (sink.whole.into_inner(), sink.spilled.into_inner());
    // Worker processes spill their parts where the output reads them (but for CSV,
    // written from the parts' arrays); threads hand theirs over whole.
    if executor.name() == "processes" && format != "csv" {
        assert_eq!(whole, 0, "{format}");
        assert!(spilled > 0, "{format}");
    } else {
        assert_eq!(spilled, 0, "{} {format}", executor.name());
    }
    sink.inner.finish()?;
    Ok(())
}

/// Passes parts on to a streaming sink, counting those that come whole and those
/// spilled by worker processes.
struct Counting {
    inner: transmogrify_parallel::StreamingSink,
    whole: AtomicUsize,
    spilled: AtomicUsize,
}

impl ResultSink for Counting {
    fn accept(&self, seq: u64, part: ProcessingResult) -> transmogrify_parallel::Result<()> {
        self.whole.fetch_add(1, Ordering::Relaxed);
        self.inner.accept(seq, part)
    }

    fn gap(&self, seq: u64) -> transmogrify_parallel::Result<()> {
        self.inner.gap(seq)
    }

    fn start(&self, entity: &str) {
        self.inner.start(entity);
    }

    fn spill_dir(&self) -> Option<std::path::PathBuf> {
        self.inner.spill_dir()
    }

    fn accept_spilled(
        &self,
        seq: u64,
        part: transmogrify_io::SpilledPart,
    ) -> transmogrify_parallel::Result<()> {
        self.spilled.fetch_add(1, Ordering::Relaxed);
        self.inner.accept_spilled(seq, part)
    }
}

#[test]
fn written_files_are_byte_identical() -> TestResult {
    let inputs = Inputs::new()?;
    let mut records: Vec<String> = (0..150).map(record).collect();
    records[17] = r#"{"broken": "#.to_string();
    records.push(r#"{"id":"last","only_here":{"x":[{"y":1}]}}"#.to_string());
    let path = inputs.jsonl("all.jsonl", &records)?;
    for typed in [false, true] {
        let mut processor = processor(true)?;
        if typed {
            processor = transmogrify_core::Processor::new(
                processor
                    .config()
                    .to_builder()
                    .with_cast_to_string(false)
                    .build()?,
            );
        }
        let base = job(&processor, "events", &[&path])?;
        for format in ["csv", "json", "jsonl", "parquet"] {
            let expected_dir = inputs.dir.path().join(format!("expected-{format}-{typed}"));
            write(&SequentialExecutor, &base, &expected_dir, format)?;
            let expected = files(&expected_dir)?;
            assert!(
                expected
                    .iter()
                    .any(|(n, _)| *n == format!("events_errors.{format}"))
            );
            for chunking in [
                Chunking::records(1),
                Chunking::bytes(3000),
                Chunking::bytes(1 << 30),
            ] {
                let job = base.clone().with_chunking(chunking);
                for (i, executor) in executors().into_iter().enumerate() {
                    let dir = inputs.dir.path().join(format!(
                        "{format}-{typed}-{i}-{}-{}-{chunking:?}",
                        executor.name(),
                        executor.workers()
                    ));
                    write(&*executor, &job, &dir, format)?;
                    let got = files(&dir)?;
                    let names: Vec<&String> = got.iter().map(|f| &f.0).collect();
                    assert_eq!(names, expected.iter().map(|f| &f.0).collect::<Vec<_>>());
                    for ((name, bytes), (_, want)) in got.iter().zip(&expected) {
                        assert!(
                            bytes == want,
                            "{name} differs: {format} typed={typed} {} x{} {chunking:?}",
                            executor.name(),
                            executor.workers()
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn parquet_row_groups_do_not_depend_on_chunking() -> TestResult {
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..30_000)
        .map(|i| {
            format!(
                "{{\"i\":{i},\"s\":\"{}\",\"k\":[{{\"v\":{}}}]}}",
                "z".repeat(i % 40),
                i % 13
            )
        })
        .collect();
    let path = inputs.jsonl("rg.jsonl", &records)?;
    // Batches of the default size, cut differently by each chunking.
    let processor = transmogrify_core::Processor::new(
        processor(false)?
            .config()
            .to_builder()
            .with_batch_size(transmogrify_core::DEFAULT_BATCH_SIZE)
            .build()?,
    );
    let base = job(&processor, "rg", &[&path])?;
    let options = || {
        transmogrify_io::WriteOptions::builder()
            .with_row_group_bytes(256 * 1024)
            .build()
    };
    let mut first: Option<Vec<File>> = None;
    for (executor, chunking) in [
        (
            Box::new(SequentialExecutor) as Box<dyn Executor>,
            Chunking::bytes(1 << 30),
        ),
        (
            Box::new(transmogrify_parallel::ThreadExecutor::new(2)),
            Chunking::records(333),
        ),
        (
            Box::new(transmogrify_parallel::ThreadExecutor::new(2)),
            Chunking::bytes(100_000),
        ),
    ] {
        let dir = inputs
            .dir
            .path()
            .join(format!("rg-{}-{chunking:?}", executor.name()));
        let out = transmogrify_io::StreamingOutput::new(
            &dir,
            "parquet",
            base.processor.config(),
            options()?,
        )?;
        let sink = transmogrify_parallel::StreamingSink::new(out);
        executor.run(&base.clone().with_chunking(chunking), &sink)?;
        sink.finish()?;
        let got = files(&dir)?;
        match &first {
            None => first = Some(got),
            Some(f) => assert!(
                f == &got,
                "{} with {chunking:?} wrote different Parquet",
                executor.name()
            ),
        }
    }
    Ok(())
}

#[test]
fn parquet_input_reports_the_bytes_it_read() -> TestResult {
    use transmogrify_io::WriteResultExt;
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..300).map(record).collect();
    let flat = processor(false)?.process((records.join("\n") + "\n").as_bytes(), "rows")?;
    let parquet = flat.to_parquet_bytes()?;
    let main = parquet.first().ok_or("no Parquet table")?;
    let path = inputs.dir.path().join("rows.parquet");
    std::fs::write(&path, &main.bytes)?;
    let job = job(&processor(true)?, "rows", &[&path])?;
    // Parquet rows carry no byte offsets: the reports count the file's bytes as read.
    let size = main.bytes.len() as u64;
    let (_, report) = SequentialExecutor.run_to_result(&job)?;
    assert_eq!(report.bytes_read, size);
    for executor in executors() {
        let (_, report): (ProcessingResult, _) = executor.run_to_result(&job)?;
        assert_eq!(report.bytes_read, size, "{}", executor.name());
    }
    check(&job, "parquet input")
}

/// Thirty small inputs of every kind the planner reads: JSONL, JSON arrays, single
/// objects, gzip, CSV, and one with a bad record.
pub(crate) fn small_inputs(
    inputs: &Inputs,
) -> Result<Vec<std::path::PathBuf>, Box<dyn std::error::Error>> {
    use std::io::Write;
    let mut paths = Vec::new();
    for i in 0..30 {
        let records: Vec<String> = (i * 4..i * 4 + 4).map(record).collect();
        let path = match i % 6 {
            0 => inputs.jsonl(&format!("s{i:02}.jsonl"), &records)?,
            1 => inputs.json_array(&format!("s{i:02}.json"), &records)?,
            2 => inputs.write(&format!("s{i:02}.json"), &record(i * 4))?,
            3 => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all((records.join("\n") + "\n").as_bytes())?;
                let path = inputs.dir.path().join(format!("s{i:02}.jsonl.gz"));
                std::fs::write(&path, gz.finish()?)?;
                path
            }
            4 => inputs.write(
                &format!("s{i:02}.csv"),
                &format!("id,name\n{i},\"n {i}\"\n"),
            )?,
            _ if i == 17 => inputs.write("s17.jsonl", "{\"id\": 1}\n{\"id\": tru}\n")?,
            _ => inputs.jsonl(&format!("s{i:02}.jsonl"), &records[..1])?,
        };
        paths.push(path);
    }
    Ok(paths)
}

#[test]
fn small_inputs_share_parts_and_give_the_same_tables() -> TestResult {
    let inputs = Inputs::new()?;
    let paths = small_inputs(&inputs)?;
    let paths: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let (good, bad): (Vec<&std::path::Path>, _) =
        paths.iter().partition(|p| !p.ends_with("s17.jsonl"));
    let bad = *bad.first().ok_or("no bad input")?;

    // Every executor and chunking gives the sequential result, bad file and all.
    let skip = job(&processor(true)?, "small", &paths)?;
    check(&skip, "small inputs")?;
    let (result, _) = SequentialExecutor.run_to_result(&skip)?;
    // The bad file's first record comes through; its second is the one bad record.
    assert_eq!(result.errors().len(), 1);
    assert!(
        result.errors()[0]
            .error
            .to_string()
            .starts_with(&format!("{}: line 2, column 8", bad.display())),
        "{}",
        result.errors()[0].error
    );

    // With the default chunk size the small inputs share parts; with chunks of one
    // byte each input (or less) is a part of its own. The tables are the same.
    let good = job(&processor(false)?, "small", &good)?;
    for executor in executors() {
        let mut parts = Vec::new();
        let mut results = Vec::new();
        for chunking in [Chunking::default(), Chunking::bytes(1)] {
            let sink = CountingSink::default();
            let report = executor.run(&good.clone().with_chunking(chunking), &sink)?;
            assert!(report.failed_chunks.is_empty(), "{report:?}");
            parts.push(sink.parts.into_inner());
            results.push(tables(&sink.inner.finish()?)?);
        }
        assert!(results[0] == results[1], "{}", executor.name());
        assert!(parts[1] >= 29, "{}: {parts:?}", executor.name());
        assert!(parts[0] <= 5, "{}: {parts:?}", executor.name());
    }

    // A bad file among small ones stops a strict run with its own error.
    let strict = job(&processor(false)?, "small", &paths)?;
    let alone = job(&processor(false)?, "small", &[bad])?;
    let want = SequentialExecutor
        .run_to_result(&alone)
        .err()
        .ok_or("expected an error")?;
    let want = want.record_error().ok_or("expected a record error")?;
    for executor in executors() {
        let err = executor
            .run_to_result(&strict)
            .err()
            .ok_or("expected an error")?;
        let got = err.record_error().ok_or("expected a record error")?;
        assert_eq!(got.source_name, want.source_name, "{}", executor.name());
        assert_eq!(got.position.line, want.position.line);
        assert_eq!(got.position.column, want.position.column);
        assert_eq!(got.position.byte_offset, want.position.byte_offset);
        assert_eq!(got.kind.to_string(), want.kind.to_string());
    }
    Ok(())
}

#[test]
fn parts_end_early_when_their_rows_pass_the_part_memory() -> TestResult {
    // About 1.5 MB of records: the default 4 MiB chunk is planned (or, for a JSON
    // array, read) as pieces of 256 KiB.
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..12_000).map(record).collect();
    for path in [
        inputs.jsonl("big.jsonl", &records)?,
        inputs.json_array("big.json", &records)?,
    ] {
        let pieces = std::fs::metadata(&path)?.len() / (256 * 1024);
        assert!(pieces >= 5, "{pieces}");
        let job = job(&processor(false)?, "events", &[&path])?;
        let (expected, _) = SequentialExecutor.run_to_result(&job)?;
        let expected = tables(&expected)?;
        for executor in executors() {
            let mut parts = Vec::new();
            for part_memory in [transmogrify_parallel::DEFAULT_PART_MEMORY, 1] {
                let sink = CountingSink::default();
                let report = executor.run(&job.clone().with_part_memory(part_memory), &sink)?;
                assert!(report.failed_chunks.is_empty(), "{report:?}");
                assert_eq!(report.records, 12_000);
                // (Whole chunks are compared with sequential runs elsewhere.)
                if part_memory == 1 {
                    assert!(
                        tables(&sink.inner.finish()?)? == expected,
                        "{}: {} x{} with parts cut early differs from sequential",
                        path.display(),
                        executor.name(),
                        executor.workers()
                    );
                }
                parts.push(sink.parts.into_inner());
            }
            let what = format!(
                "{}: {} x{}: {parts:?}",
                path.display(),
                executor.name(),
                executor.workers()
            );
            // One part per chunk (two or so with several workers, which share a JSONL
            // file), and a part per piece when every piece passes the limit: on
            // threads and in worker processes alike.
            assert!(parts[0] <= 3, "{what}");
            assert!(parts[1] > pieces, "{what}");
        }
    }
    Ok(())
}

#[test]
fn input_without_records_still_writes_the_main_table_through_a_streaming_sink() -> TestResult {
    // The output is not told the entity: the executors tell the sink.
    let inputs = Inputs::new()?;
    let empty = inputs.jsonl("empty.jsonl", &[])?;
    let array = inputs.dir.path().join("empty.json");
    std::fs::write(&array, "[]")?;
    for (format, header) in [
        ("csv", "__extract_id,__extract_datetime\n"),
        ("parquet", ""),
    ] {
        for (i, executor) in executors().iter().enumerate() {
            for path in [&empty, &array] {
                let job = job(&processor(false)?, "t", &[path])?;
                let dir = inputs.dir.path().join(format!(
                    "empty-{format}-{i}-{}-{}-{}",
                    executor.name(),
                    executor.workers(),
                    path.extension()
                        .map(|e| e.to_string_lossy())
                        .unwrap_or_default()
                ));
                let out = transmogrify_io::StreamingOutput::new(
                    &dir,
                    format,
                    job.processor.config(),
                    transmogrify_io::WriteOptions::default(),
                )?;
                let sink = transmogrify_parallel::StreamingSink::new(out);
                executor.run(&job, &sink)?;
                let summary = sink.finish()?;
                let file = dir.join(format!("t.{format}"));
                assert_eq!(summary.files.len(), 1, "{}", dir.display());
                assert_eq!(summary.files[0].rows, 0, "{}", dir.display());
                if format == "csv" {
                    assert_eq!(std::fs::read_to_string(&file)?, header, "{}", dir.display());
                } else {
                    assert!(
                        std::fs::read(&file)?.starts_with(b"PAR1"),
                        "{}",
                        dir.display()
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn a_column_limit_passed_across_chunks_gives_the_sequential_result() -> TestResult {
    // Records drawing 5 keys each from 40, so that the main table passes 30 columns
    // only over several records: which records are bad is decided in input order,
    // whatever the executor, its workers and the chunks.
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..80)
        .map(|i| {
            let keys: Vec<String> = (0..5)
                .map(|k| format!("\"k{}\":{k}", (i * 7 + k * 3) % 40))
                .collect();
            format!("{{\"id\":{i},{}}}", keys.join(","))
        })
        .collect();
    let path = inputs.jsonl("keys.jsonl", &records)?;
    for skip in [true, false] {
        let config = config(skip).with_max_columns(30).build()?;
        let job = job(&Processor::new(config), "keys", &[&path])?;
        if skip {
            let (result, _) = SequentialExecutor.run_to_result(&job)?;
            let refused = result.errors().len();
            assert!(refused > 0 && refused < 80, "{refused} records refused");
            assert_eq!(result.table_schema("keys")?.data_columns(), 30);
            check(&job, "records past the column limit")?;
        } else {
            let first = |executor: &dyn Executor, job: &transmogrify_parallel::Job| {
                executor
                    .run_to_result(job)
                    .err()
                    .and_then(|e| e.record_error().map(|r| r.to_string()))
            };
            let expected = first(&SequentialExecutor, &job).ok_or("expected a record error")?;
            for chunking in chunkings() {
                let job = job.clone().with_chunking(chunking);
                for executor in executors() {
                    assert_eq!(
                        first(&*executor, &job).as_ref(),
                        Some(&expected),
                        "{} x{} with {chunking:?}",
                        executor.name(),
                        executor.workers()
                    );
                }
            }
        }
    }
    Ok(())
}

/// Records which thread handed over which chunk, part or gap, in order.
#[derive(Default)]
struct Calls(parking_lot::Mutex<Vec<(std::thread::ThreadId, bool, u64)>>);

impl ResultSink for Calls {
    fn accept(&self, seq: u64, _part: ProcessingResult) -> transmogrify_parallel::Result<()> {
        self.0.lock().push((std::thread::current().id(), true, seq));
        Ok(())
    }

    fn gap(&self, seq: u64) -> transmogrify_parallel::Result<()> {
        self.0
            .lock()
            .push((std::thread::current().id(), false, seq));
        Ok(())
    }
}

#[test]
fn a_group_of_chunks_leaves_its_gaps_before_its_part() -> TestResult {
    // Chunks of 1 MiB read as pieces of 256 KiB, each group flattened as one part:
    // the group's other chunks are gaps, left first, so that a sink holding the
    // worker back until the part next in line comes is never waiting for a gap
    // only this worker would leave.
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..40_000).map(record).collect();
    let path = inputs.jsonl("big.jsonl", &records)?;
    assert!(std::fs::metadata(&path)?.len() > 3 << 20);
    let job = job(&processor(false)?, "t", &[&path])?.with_chunking(Chunking::bytes(1 << 20));
    let calls = Calls::default();
    transmogrify_parallel::ThreadExecutor::new(4).run(&job, &calls)?;
    let calls = calls.0.into_inner();
    let parts = calls.iter().filter(|c| c.1).count();
    let gaps = calls.iter().filter(|c| !c.1).count();
    assert!(parts >= 3 && gaps >= 3, "{parts} parts, {gaps} gaps");
    // Each thread's own calls: a part is never followed by the gap of the chunk
    // after it, and every gap comes before a part of an earlier chunk.
    let threads: std::collections::HashSet<_> = calls.iter().map(|c| c.0).collect();
    for thread in threads {
        let mine: Vec<(bool, u64)> = calls
            .iter()
            .filter(|c| c.0 == thread)
            .map(|c| (c.1, c.2))
            .collect();
        for pair in mine.windows(2) {
            if let [(true, part), (false, gap)] = pair {
                assert_ne!(*gap, part + 1, "{mine:?}");
            }
        }
        for (i, (is_part, seq)) in mine.iter().enumerate() {
            if !is_part {
                let part = mine[i..].iter().find(|(p, _)| *p).map(|(_, s)| *s);
                assert!(part.is_some_and(|p| p < *seq), "{mine:?}");
            }
        }
    }
    Ok(())
}
