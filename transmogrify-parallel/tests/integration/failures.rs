//! Dead workers: retried once, then reported; never a hang. Damaged inputs: only
//! what is damaged is lost.

use std::path::PathBuf;

use transmogrify_parallel::{
    ABORT_ENV, Chunking, Executor, Job, MAX_WORKERS, ProcessExecutor, SequentialExecutor,
    ThreadExecutor,
};

use crate::support::*;

/// A job of fifty records in chunks of ten (`skip`: a processor in skip mode).
fn fifty_records(inputs: &Inputs, skip: bool) -> Result<Job, Box<dyn std::error::Error>> {
    let records: Vec<String> = (0..50).map(record).collect();
    let path = inputs.jsonl("crash.jsonl", &records)?;
    Ok(job(&processor(skip)?, "events", &[&path])?.with_chunking(Chunking::records(10)))
}

/// Asked for more workers than a process can start threads for, an executor runs
/// [`MAX_WORKERS`] (before, each thread's stack was mapped until the process
/// aborted).
#[test]
fn workers_beyond_the_most_are_the_most() -> TestResult {
    let inputs = Inputs::new()?;
    let job = fifty_records(&inputs, false)?;
    let (expected, _) = SequentialExecutor.run_to_result(&job)?;
    let executor = ThreadExecutor::new(100_000);
    assert_eq!(executor.workers(), MAX_WORKERS);
    let (got, _) = executor.run_to_result(&job)?;
    assert!(tables(&got)? == tables(&expected)?);
    assert_eq!(ProcessExecutor::new(usize::MAX).workers(), MAX_WORKERS);
    Ok(())
}

/// A job without an entity name is refused by every executor before it reads.
#[test]
fn a_job_without_an_entity_name_is_refused() -> TestResult {
    let inputs = Inputs::new()?;
    let mut job = fifty_records(&inputs, true)?;
    job.entity = String::new();
    let executors: [Box<dyn Executor>; 3] = [
        Box::new(SequentialExecutor),
        Box::new(ThreadExecutor::new(2)),
        Box::new(ProcessExecutor::new(2).with_program(worker(), Vec::new())),
    ];
    for executor in executors {
        let got = executor.run_to_result(&job).err().map(|e| e.to_string());
        assert_eq!(
            got.as_deref(),
            Some(
                "invalid configuration: the entity name must not be empty: it names the main table"
            ),
            "{}",
            executor.name()
        );
    }
    Ok(())
}

#[test]
fn a_worker_killed_once_is_retried_and_the_output_is_complete() -> TestResult {
    let inputs = Inputs::new()?;
    let job = fifty_records(&inputs, false)?;
    let (expected, _) = SequentialExecutor.run_to_result(&job)?;
    // Results decoded by the thread that talks to the worker, and on threads of
    // their own.
    for output_threads in [false, true] {
        let marker = inputs.dir.path().join(format!("aborted-{output_threads}"));
        let executor = ProcessExecutor::new(2)
            .with_program(worker(), Vec::new())
            .with_env(ABORT_ENV, format!("2:{}", marker.display()))
            .with_output_threads(output_threads);
        let (got, report) = executor.run_to_result(&job)?;
        assert!(marker.exists(), "the worker did not abort");
        assert_eq!(report.retried_chunks, 1);
        assert!(report.failed_chunks.is_empty());
        assert!(tables(&got)? == tables(&expected)?);
        // The largest worker's peak memory, read from the workers still alive at
        // their end.
        assert!(
            report.worker_peak_rss.is_some_and(|b| b > 1 << 20),
            "{:?}",
            report.worker_peak_rss
        );
    }
    Ok(())
}

/// A worker that dies after spilling parts into the output's spill directory leaves
/// those parts as they were: the chunk it died on is spilled again by a fresh worker,
/// and the files are those of a sequential run.
#[test]
fn a_worker_killed_while_spilling_its_parts_leaves_the_files_complete() -> TestResult {
    let inputs = Inputs::new()?;
    let job = fifty_records(&inputs, true)?;
    let write = |executor: &dyn Executor, dir: &std::path::Path| -> TestResult {
        let out = transmogrify_io::StreamingOutput::new(
            dir,
            "parquet",
            job.processor.config(),
            transmogrify_io::WriteOptions::default(),
        )?;
        let sink = transmogrify_parallel::StreamingSink::new(out);
        let report = executor.run(&job, &sink)?;
        assert!(
            report.failed_chunks.is_empty(),
            "{:?}",
            report.failed_chunks
        );
        sink.finish()?;
        Ok(())
    };
    let files = |dir: &std::path::Path| -> std::io::Result<Vec<(String, Vec<u8>)>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            files.push((name, std::fs::read(entry.path())?));
        }
        files.sort();
        Ok(files)
    };
    let expected_dir = inputs.dir.path().join("expected");
    write(&SequentialExecutor, &expected_dir)?;
    let marker = inputs.dir.path().join("aborted");
    let executor = ProcessExecutor::new(2)
        .with_program(worker(), Vec::new())
        .with_env(ABORT_ENV, format!("3:{}", marker.display()));
    let got_dir = inputs.dir.path().join("got");
    write(&executor, &got_dir)?;
    assert!(marker.exists(), "the worker did not abort");
    let (expected, got) = (files(&expected_dir)?, files(&got_dir)?);
    let names: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "events.parquet",
            "events_events.parquet",
            "events_orders.parquet",
            "events_orders_lines.parquet"
        ]
    );
    assert!(got == expected, "the files differ from a sequential run's");
    Ok(())
}

#[test]
fn a_worker_killed_inside_a_group_of_small_inputs_is_retried_chunk_by_chunk() -> TestResult {
    let inputs = Inputs::new()?;
    let paths = crate::equivalence::small_inputs(&inputs)?;
    let paths: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let job = job(&processor(true)?, "small", &paths)?;
    let marker = inputs.dir.path().join("aborted");
    // Chunk 4 is in the middle of the first group of small inputs.
    let executor = ProcessExecutor::new(2)
        .with_program(worker(), Vec::new())
        .with_env(ABORT_ENV, format!("4:{}", marker.display()));
    // The group is run again chunk by chunk; the chunk it died on counts as retried.
    retried_once(&executor, &job, &marker, 30)
}

/// Runs `job` on `executor`, whose worker dies once (leaving `marker`): the chunk it
/// died on is retried, and all `chunks` succeed with the tables of a sequential run.
fn retried_once(
    executor: &ProcessExecutor,
    job: &transmogrify_parallel::Job,
    marker: &std::path::Path,
    chunks: u64,
) -> TestResult {
    let (expected, _) = SequentialExecutor.run_to_result(job)?;
    let (got, report) = executor.run_to_result(job)?;
    assert!(marker.exists(), "the worker did not abort");
    assert_eq!(report.retried_chunks, 1);
    assert!(
        report.failed_chunks.is_empty(),
        "{:?}",
        report.failed_chunks
    );
    assert_eq!(report.chunks_succeeded, chunks);
    assert!(tables(&got)? == tables(&expected)?);
    Ok(())
}

#[test]
fn a_worker_that_always_dies_fails_its_chunk_by_name() -> TestResult {
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..50).map(record).collect();
    let path = inputs.jsonl("crash.jsonl", &records)?;
    // Skip mode: the run goes on and names the failed chunk.
    let job = job(&processor(true)?, "events", &[&path])?.with_chunking(Chunking::records(10));
    for output_threads in [false, true] {
        let executor = ProcessExecutor::new(2)
            .with_program(worker(), Vec::new())
            .with_env(ABORT_ENV, "3")
            .with_output_threads(output_threads);
        fails_chunk_3_by_name(&job, &executor)?;
    }
    Ok(())
}

/// A CSV file read in ranges of whole rows by worker processes: the row of the
/// errors table for a range whose worker always dies is at the range's first line
/// (which quoted line breaks and the header put past its ordinal) with its text.
#[test]
fn a_csv_range_whose_worker_always_dies_is_a_row_at_its_first_line() -> TestResult {
    let inputs = Inputs::new()?;
    let mut text = String::from("id,note\n");
    for i in 0..400 {
        if i % 7 == 0 {
            text.push_str(&format!("{i},\"two\nlines\"\n"));
        } else {
            text.push_str(&format!("{i},row {i}\n"));
        }
    }
    let path = inputs.write("rows.csv", &text)?;
    let job = job(&processor(true)?, "rows", &[&path])?.with_chunking(Chunking::bytes(1024));
    let executor = ProcessExecutor::new(2)
        .with_program(worker(), Vec::new())
        .with_env(ABORT_ENV, "3");
    let (got, report) = executor.run_to_result(&job)?;
    assert_eq!(report.failed_chunks.len(), 1, "{:?}", report.failed_chunks);
    let failed = &report.failed_chunks[0];
    assert_eq!(failed.index, 3);
    let (start, end) = (failed.start as usize, failed.end as usize);
    let errors = got.errors();
    assert_eq!(errors.len(), 1);
    let row = &errors[0];
    let p = &row.error.position;
    // The rows before the range, and the lines before it.
    let ids_before = text[..start]
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("lines"))
        .count();
    let lines_before = text[..start].matches('\n').count() as u64;
    assert_eq!(
        (p.ordinal, p.line, p.column, p.byte_offset),
        (ids_before as u64, lines_before + 1, 1, failed.start)
    );
    assert_eq!(row.raw, text[start..end]);
    assert_eq!(row.error.kind.to_string(), failed.error);
    Ok(())
}

/// `executor`, whose worker always dies on chunk 3 of `job`, fails that chunk by name
/// and delivers the others (skip mode), or fails the run naming it (strict mode).
fn fails_chunk_3_by_name(
    job: &transmogrify_parallel::Job,
    executor: &ProcessExecutor,
) -> TestResult {
    let (got, report) = executor.run_to_result(job)?;
    assert_eq!(report.failed_chunks.len(), 1);
    let failed = &report.failed_chunks[0];
    assert_eq!((failed.index, failed.attempts), (3, 2));
    assert!(
        failed.error.contains("it died while flattening the chunk"),
        "{}",
        failed.error
    );
    assert!(failed.error.contains("chunk 3 of"), "{}", failed.error);
    assert_eq!(report.chunks_succeeded, 4);
    // Everything else is there, with the ids a full run gives.
    let (full, _) = SequentialExecutor.run_to_result(job)?;
    let full_ids: Vec<_> = full
        .rows("main")?
        .into_iter()
        .map(|r| r["__extract_id"].clone())
        .collect();
    let got_ids: Vec<_> = got
        .rows("main")?
        .into_iter()
        .map(|r| r["__extract_id"].clone())
        .collect();
    assert_eq!(got_ids.len(), 40);
    assert_eq!(&got_ids[..30], &full_ids[..30]);
    assert_eq!(&got_ids[30..], &full_ids[40..]);
    // The lost records are not lost without a trace: the errors table has a row for
    // the chunk, at its first record, with the chunk's error and its text.
    let text = std::fs::read_to_string(job.inputs[0].path())?;
    // Where each line starts.
    let starts: Vec<u64> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i as u64 + 1))
        .collect();
    let start = starts[30];
    let errors = got.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(report.bad_records, 1);
    let row = &errors[0];
    let p = &row.error.position;
    assert_eq!(
        (p.ordinal, p.line, p.column, p.byte_offset),
        (30, 31, 1, start)
    );
    assert_eq!((failed.start, failed.end), (start, starts[40]));
    assert_eq!(row.error.kind.to_string(), failed.error);
    assert_eq!(*row.error.source_name, job.inputs[0].name());
    assert_eq!(row.raw, text[starts[30] as usize..starts[40] as usize]);
    assert!(!row.raw_truncated);
    // Strict mode: the run fails and names the chunk.
    let strict = job.clone();
    let mut strict = strict;
    strict.processor = processor(false)?;
    let err = executor
        .run_to_result(&strict)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("chunk 3 of"), "{err}");
    Ok(())
}

#[test]
fn a_missing_worker_program_is_a_clear_error() -> TestResult {
    let inputs = Inputs::new()?;
    let path = inputs.jsonl("a.jsonl", &[record(1)])?;
    let job = job(&processor(false)?, "events", &[&path])?;
    let err = ProcessExecutor::new(1)
        .with_program("/nonexistent/transmogrify-worker", Vec::new())
        .run_to_result(&job)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("/nonexistent/transmogrify-worker"), "{err}");
    Ok(())
}

#[test]
#[cfg(unix)]
fn a_worker_of_another_version_is_refused_by_name() -> TestResult {
    let inputs = Inputs::new()?;
    let path = inputs.jsonl("a.jsonl", &[record(1), record(2)])?;
    let job = job(&processor(false)?, "events", &[&path])?;
    // A worker of an earlier version answers the chunk at once, with no word of its
    // version: here, the count of a chunk's records.
    let count = br#"{"seq":0,"records":2,"lines":2}"#;
    let mut frame = b"N".to_vec();
    frame.extend_from_slice(&(count.len() as u64).to_le_bytes());
    frame.extend_from_slice(count);
    let answer = inputs.dir.path().join("answer");
    std::fs::write(&answer, &frame)?;
    let size = std::fs::metadata(&path)?.len();
    // The second script leaves a process behind that holds the worker's stderr open
    // until its input ends: ending the worker must not wait for it.
    for script in [
        format!("cat '{}'; cat > /dev/null", answer.display()),
        format!(
            "exec 3<&0; cat <&3 > /dev/null & cat '{}'; wait",
            answer.display()
        ),
    ] {
        let started = std::time::Instant::now();
        let err = ProcessExecutor::new(1)
            .with_program("/bin/sh", vec!["-c".into(), script.clone()])
            .run_to_result(&job)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            format!(
                "chunk 0 of {} (bytes 0..{size}) failed: worker program /bin/sh: it \
                 answered with a frame 'N' where this version's worker answers with \
                 protocol 4: it is from another version of transmogrify; rebuild or \
                 reinstall it, or set TRANSMOGRIFY_WORKER to this version's \
                 transmogrify-worker",
                path.display()
            ),
            "{script}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{script}"
        );
    }
    Ok(())
}

/// About 1.5 MB of records, one JSONL range planned as pieces of 256 KiB.
fn pieces_file(
    inputs: &Inputs,
    records: &[String],
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let path = inputs.jsonl("pieces.jsonl", records)?;
    assert!(std::fs::metadata(&path)?.len() > 5 * 256 * 1024);
    Ok(path)
}

#[test]
fn a_worker_killed_inside_a_range_of_pieces_is_retried_piece_by_piece() -> TestResult {
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..12_000).map(record).collect();
    let path = pieces_file(&inputs, &records)?;
    let job = job(&processor(false)?, "events", &[&path])?;
    let pieces = std::fs::metadata(&path)?.len().div_ceil(256 * 1024);
    // Piece 3 is inside the range the worker is sent first. With parts of a piece
    // each, the worker has sent the first three when it dies and they are kept;
    // with parts of 4 MiB, it has sent none. Either way the pieces not delivered
    // are run again one by one, each a part of its own: as many parts as pieces.
    for part_memory in [transmogrify_parallel::DEFAULT_PART_MEMORY, 1] {
        let marker = inputs.dir.path().join(format!("aborted-{part_memory}"));
        let executor = ProcessExecutor::new(1)
            .with_program(worker(), Vec::new())
            .with_env(ABORT_ENV, format!("3:{}", marker.display()));
        let sink = CountingSink::default();
        let job = job.clone().with_part_memory(part_memory);
        executor.run(&job, &sink)?;
        assert_eq!(sink.parts.into_inner(), pieces);
        std::fs::remove_file(&marker)?;
        retried_once(&executor, &job, &marker, pieces)?;
    }
    Ok(())
}

#[test]
fn a_bad_record_inside_a_range_of_pieces_is_reported_at_its_place() -> TestResult {
    let inputs = Inputs::new()?;
    let mut records: Vec<String> = (0..12_000).map(record).collect();
    records[9_000] = r#"{"id": 9000, "oops": tru}"#.to_string();
    let path = pieces_file(&inputs, &records)?;
    let line_start: usize = records[..9_000].iter().map(|r| r.len() + 1).sum();
    let expected = format!(
        "{}: line 9001, column 22 (byte {}, record 9000): invalid JSON: invalid literal `tru`, expected `true`",
        path.display(),
        line_start + 21
    );
    let strict = job(&processor(false)?, "events", &[&path])?;
    let skip = job(&processor(true)?, "events", &[&path])?;
    let (kept, _) = SequentialExecutor.run_to_result(&skip)?;
    assert_eq!(kept.record_count(), 11_999);
    for part_memory in [transmogrify_parallel::DEFAULT_PART_MEMORY, 1] {
        for workers in [1, 2] {
            let executor = ProcessExecutor::new(workers).with_program(worker(), Vec::new());
            let err = executor
                .run_to_result(&strict.clone().with_part_memory(part_memory))
                .err()
                .ok_or("expected an error")?;
            let record = err.record_error().ok_or("expected a record error")?;
            assert!(record.to_string().starts_with(&expected), "{record}");
            let (got, report) =
                executor.run_to_result(&skip.clone().with_part_memory(part_memory))?;
            assert_eq!(report.bad_records, 1);
            assert!(
                report.failed_chunks.is_empty(),
                "{:?}",
                report.failed_chunks
            );
            assert!(tables(&got)? == tables(&kept)?);
        }
    }
    Ok(())
}

/// `batch` as Parquet bytes in row groups of `group_rows` rows.
fn parquet_bytes(
    batch: &arrow_array::RecordBatch,
    group_rows: usize,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(bytes)
}

/// Where each row group of the Parquet file at `path` starts: its first page (a
/// dictionary page, or else the first data page, of any column).
fn group_starts(path: &std::path::Path) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let reader = SerializedFileReader::new(std::fs::File::open(path)?)?;
    let mut starts = Vec::new();
    for group in reader.metadata().row_groups() {
        let first = group
            .columns()
            .iter()
            .map(|c| c.dictionary_page_offset().unwrap_or(c.data_page_offset()))
            .min()
            .unwrap_or(0);
        starts.push(u64::try_from(first)?);
    }
    Ok(starts)
}

/// A Parquet input of 3,000 rows in row groups of 500 whose group `group` (rows
/// `500 × group` on) cannot be decoded (its text column's page damaged), and the
/// same file undamaged.
fn damaged_parquet(
    inputs: &Inputs,
    group: usize,
) -> Result<(PathBuf, PathBuf), Box<dyn std::error::Error>> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..3000));
    let names: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..3000).map(|i| format!("name {i} {}", "x".repeat(i % 50))),
    ));
    let batch = RecordBatch::try_from_iter([("id", ids), ("name", names)])?;
    let mut bytes = parquet_bytes(&batch, 500)?;
    let clean = inputs.dir.path().join("clean.parquet");
    std::fs::write(&clean, &bytes)?;
    let start = SerializedFileReader::new(std::fs::File::open(&clean)?)?
        .metadata()
        .row_group(group)
        .column(1)
        .data_page_offset();
    for b in bytes.iter_mut().skip(usize::try_from(start)? + 30).take(40) {
        *b ^= 0xff;
    }
    let damaged = inputs.dir.path().join(format!("damaged-{group}.parquet"));
    std::fs::write(&damaged, &bytes)?;
    Ok((clean, damaged))
}

/// A Parquet row nested past the limit is a bad record at the row: its ordinal,
/// line (row + 1), column 1 and the byte where its row group starts, with every
/// executor (the JSON text a row is read as is not the file's, so no place in it
/// is given).
#[test]
fn a_parquet_row_past_the_nesting_limit_is_placed_at_its_row() -> TestResult {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StructArray};
    use arrow_schema::{DataType, Field};
    use transmogrify_core::{ErrorMode, IdStrategy, Processor, ProcessorConfig};

    let inputs = Inputs::new()?;
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..20));
    let inner: ArrayRef = Arc::new(StructArray::from(vec![(
        Arc::new(Field::new("c", DataType::Int64, false)),
        Arc::new(Int64Array::from_iter_values(0..20)) as ArrayRef,
    )]));
    let outer: ArrayRef = Arc::new(StructArray::from(vec![(
        Arc::new(Field::new("b", inner.data_type().clone(), false)),
        inner,
    )]));
    let batch = RecordBatch::try_from_iter([("id", ids), ("a", outer)])?;
    let path = inputs.dir.path().join("deep.parquet");
    std::fs::write(&path, parquet_bytes(&batch, 8)?)?;
    let starts = group_starts(&path)?;
    assert_eq!(starts.len(), 3);
    let processor = Processor::new(
        ProcessorConfig::builder()
            .with_id_strategy(IdStrategy::Positional)
            .with_on_error(ErrorMode::Skip)
            .with_nesting_limit(2)
            .build()?,
    );
    let want: Vec<String> = (0..20u64)
        .map(|row| {
            let start = starts[usize::try_from(row / 8)?];
            Ok(format!("{row} {} 1 {start}", row + 1))
        })
        .collect::<Result<_, std::num::TryFromIntError>>()?;
    for executor in executors() {
        let (got, _) = executor.run_to_result(&job(&processor, "t", &[&path])?)?;
        let places: Vec<String> = got
            .errors()
            .iter()
            .map(|bad| {
                let p = &bad.error.position;
                format!("{} {} {} {}", p.ordinal, p.line, p.column, p.byte_offset)
            })
            .collect();
        assert_eq!(places, want, "{}", executor.name());
    }
    Ok(())
}

#[test]
fn a_damaged_parquet_row_group_loses_its_rows_only_with_every_executor() -> TestResult {
    let inputs = Inputs::new()?;
    // A group in the middle, and the last.
    for group in [3, 5] {
        lose_a_damaged_group(&inputs, group)?;
    }
    Ok(())
}

fn lose_a_damaged_group(inputs: &Inputs, group: usize) -> TestResult {
    let (clean, damaged) = damaged_parquet(inputs, group)?;
    let (first, last) = (group * 500, group * 500 + 499);
    let (all, _) = SequentialExecutor.run_to_result(&job(&processor(true)?, "t", &[&clean])?)?;
    // The undamaged file's rows but those of the damaged group, with the same ids.
    let mut expected = tables(&all)?;
    expected.retain(|(name, _)| name != "<errors>");
    for (_, rows) in &mut expected {
        rows.retain(|row| {
            row.get("id")
                .and_then(|v| v.as_str())
                .and_then(|id| id.parse::<u64>().ok())
                .is_none_or(|id| !(first..=last).contains(&(id as usize)))
        });
    }
    let want = format!(
        "{}: rows {first}-{last}: corrupt or unreadable Parquet: ",
        damaged.display()
    );
    let group_start = group_starts(&clean)?.get(group).copied().unwrap_or(0);
    assert!(group_start > 4, "{group_start}");
    for chunking in [Chunking::records(300), Chunking::bytes(1 << 30)] {
        let job = job(&processor(true)?, "t", &[&damaged])?.with_chunking(chunking);
        for executor in executors() {
            let (got, report) = executor.run_to_result(&job)?;
            assert_eq!(got.num_rows("main"), Some(2500), "{}", executor.name());
            let mut got_tables = tables(&got)?;
            got_tables.retain(|(name, _)| name != "<errors>");
            assert!(got_tables == expected, "{}", executor.name());
            let errors: Vec<&str> = report
                .failed_chunks
                .iter()
                .map(|f| f.error.as_str())
                .collect();
            assert_eq!(errors.len(), 1, "{}: {errors:?}", executor.name());
            assert!(errors[0].starts_with(&want), "{}", errors[0]);
            // The errors table has a row where the rows lost start.
            let bad: Vec<String> = got
                .errors()
                .iter()
                .map(|bad| {
                    let e = &bad.error;
                    let p = &e.position;
                    format!(
                        "{} {} {} {}: {}",
                        e.source_name, p.ordinal, p.line, p.byte_offset, e.kind
                    )
                })
                .collect();
            // Its byte offset is where the damaged row group starts.
            let row = format!(
                "{} {first} {} {group_start}: rows {first}-{last}: corrupt or unreadable \
                 Parquet: ",
                damaged.display(),
                first + 1
            );
            assert_eq!(bad.len(), 1, "{}: {bad:?}", executor.name());
            assert!(bad[0].starts_with(&row), "{}: {}", executor.name(), bad[0]);
        }
    }
    // In strict mode the run stops there, naming the rows.
    let error = SequentialExecutor
        .run_to_result(&job(&processor(false)?, "t", &[&damaged])?)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains(&want), "{error}");
    Ok(())
}

#[test]
fn a_failed_run_leaves_no_output_that_looks_complete_even_when_finished() -> TestResult {
    let inputs = Inputs::new()?;
    let mut records: Vec<String> = (0..3000).map(record).collect();
    records[2900] = r#"{"id": 2900, "oops": tru}"#.to_string();
    let path = inputs.jsonl("bad.jsonl", &records)?;
    let job = job(&processor(false)?, "events", &[&path])?.with_chunking(Chunking::bytes(8192));
    for (i, executor) in executors().into_iter().enumerate() {
        for format in ["csv", "parquet"] {
            let out = inputs.dir.path().join(format!("out-{i}-{format}"));
            let output = transmogrify_io::StreamingOutput::new(
                &out,
                format,
                job.processor.config(),
                transmogrify_io::WriteOptions::default(),
            )?
            .with_entity("events");
            let sink = transmogrify_parallel::StreamingSink::new(output);
            let run = executor.run(&job, &sink);
            assert!(run.is_err(), "{}", executor.name());
            let finished = sink.finish().err().map(|e| e.to_string());
            assert_eq!(
                finished.as_deref(),
                Some("the run failed, so its output was not written"),
                "{}",
                executor.name()
            );
            let left: Vec<_> = std::fs::read_dir(&out)?.collect::<Result<_, _>>()?;
            assert!(left.is_empty(), "{}: {left:?}", executor.name());
        }
    }
    Ok(())
}

#[test]
fn an_input_that_breaks_off_is_reported_from_its_last_good_chunk_to_its_end() -> TestResult {
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..300).map(record).collect();
    let mut text = format!("[\n  {}", records.join(",\n  "));
    // The array is cut inside its 201st element: the structure is lost there.
    let cut = text.match_indices(",\n  ").nth(199).map_or(0, |(at, _)| at) + 10;
    text.truncate(cut);
    let path = inputs.write("cut.json", &text)?;
    let job = job(&processor(true)?, "events", &[&path])?.with_chunking(Chunking::bytes(4096));
    for executor in executors() {
        let (got, report) = executor.run_to_result(&job)?;
        let failed: Vec<(u64, u64)> = report
            .failed_chunks
            .iter()
            .map(|f| (f.start, f.end))
            .collect();
        assert_eq!(failed.len(), 1, "{}", executor.name());
        let (start, end) = failed[0];
        assert_eq!(end, text.len() as u64, "{}", executor.name());
        assert!(
            start > 0 && start < end,
            "{}: {start}..{end}",
            executor.name()
        );
        assert_eq!(got.num_rows("main"), Some(200), "{}", executor.name());
    }
    Ok(())
}

/// A worker process that panics (exits 101 after its panic hook's line) is not run
/// again: the run fails at once, in skip mode too, with the panic's message.
#[test]
#[cfg(unix)]
fn a_worker_process_that_panics_fails_the_run_with_its_message() -> TestResult {
    let inputs = Inputs::new()?;
    let records: Vec<String> = (0..50).map(record).collect();
    let path = inputs.jsonl("crash.jsonl", &records)?;
    let job = job(&processor(true)?, "events", &[&path])?.with_chunking(Chunking::records(10));
    let script = "head -c 1 > /dev/null; echo 'error: internal error (this is a bug, please \
                  report it with the input): on fire at src/x.rs:1:2' >&2; exit 101";
    let err = ProcessExecutor::new(2)
        .with_program("/bin/sh", vec!["-c".into(), script.into()])
        .run_to_result(&job)
        .err();
    match err {
        Some(transmogrify_parallel::Error::Chunk { source, .. }) => assert_eq!(
            source.to_string(),
            "a worker panicked (this is a bug, please report it with the input): on fire at \
             src/x.rs:1:2"
        ),
        other => panic!("{other:?}"),
    }
    Ok(())
}
