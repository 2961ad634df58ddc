//! `ProcessorFiles`: `process_file` and `process_chunked` on a processor.

use transmogrify_core::{ArrayMode, ErrorMode, Processor, ProcessorConfig};
use transmogrify_io::{ProcessorFiles, WriteResultExt};

use crate::support::{TestResult, config};

/// Twenty-five records, every fourth with a child array, record 9 and 17 broken.
fn lines() -> String {
    (0..25)
        .map(|i| match i {
            9 => "{\"id\": 9, \"v\": tru}\n".to_string(),
            17 => "[17]\n".to_string(),
            i if i % 4 == 0 => {
                format!("{{\"id\": {i}, \"items\": [{{\"n\": {i}}}, {{\"n\": 0}}]}}\n")
            }
            i => format!("{{\"id\": {i}, \"late_{}\": true}}\n", i / 10),
        })
        .collect()
}

/// Skip mode, positional ids, a fixed extraction time.
fn skip_processor() -> Result<Processor, Box<dyn std::error::Error>> {
    let config = ProcessorConfig::builder()
        .with_on_error(ErrorMode::Skip)
        .with_id_strategy(transmogrify_core::IdStrategy::Positional)
        .with_extract_time(Some(0))
        .build()?;
    Ok(Processor::new(config))
}

#[test]
fn chunked_processing_gives_the_tables_of_the_whole_file_in_parts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, lines())?;
    let processor = skip_processor()?;
    let whole = processor.process_file(&path, "events")?;
    assert_eq!(whole.num_rows("main"), Some(23));
    for chunk_size in [1, 2, 7, 25, 1000] {
        let chunked = processor.process_chunked(&path, "events", chunk_size)?;
        let files = |r: &transmogrify_core::ProcessingResult| r.to_csv_bytes();
        assert_eq!(files(&chunked)?, files(&whole)?, "chunks of {chunk_size}");
        let errors: Vec<(u64, u64)> = chunked
            .errors()
            .iter()
            .map(|e| (e.error.position.ordinal, e.error.position.line))
            .collect();
        assert_eq!(errors, [(9, 10), (17, 18)], "chunks of {chunk_size}");
        // One part per chunk of records (bad ones count), each its own batches.
        let parts: Vec<usize> = processor
            .chunks(&path, "events", chunk_size)?
            .map(|p| p.map(|p| p.record_count() as usize + p.errors().len()))
            .collect::<Result<_, _>>()?;
        let expected: Vec<usize> = (0..25)
            .step_by(chunk_size)
            .map(|start| chunk_size.min(25 - start))
            .collect();
        assert_eq!(parts, expected);
    }
    // Strict mode stops at the first bad record, with its position in the file.
    let strict = Processor::new(config(true, ArrayMode::Smart));
    let err = strict
        .process_chunked(&path, "events", 4)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains(
            "line 10, column 16 (byte 294, record 9): invalid JSON: invalid literal `tru`"
        ),
        "{err}"
    );
    let err = strict
        .chunks(&path, "events", 0)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        err,
        "invalid option chunk_size: a chunk holds at least one record"
    );
    Ok(())
}

#[test]
fn files_numbered_as_parts_of_one_data_set_combine_into_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let text = lines();
    let cut = text.match_indices('\n').nth(11).map_or(0, |(i, _)| i + 1);
    let (whole, a, b) = (
        dir.path().join("whole.jsonl"),
        dir.path().join("a.jsonl"),
        dir.path().join("b.jsonl"),
    );
    std::fs::write(&whole, &text)?;
    std::fs::write(&a, &text[..cut])?;
    std::fs::write(&b, &text[cut..])?;
    let p = skip_processor()?;
    let one = p.process_file(&whole, "t")?;
    // The second file's records are numbered on from the first file's twelve.
    let parts = transmogrify_core::ProcessingResult::combine_results([
        p.process_file(&a, "t")?,
        p.process_file_at(&b, "t", 12)?,
    ])?;
    for table in one.table_names() {
        assert_eq!(parts.rows(&table)?, one.rows(&table)?, "{table}");
    }
    // Its bad record (the whole's record 17, its own 6th line) keeps its place in
    // the file and gets its number in the whole.
    let error = &parts.errors()[1].error;
    assert_eq!(
        (
            error.position.ordinal,
            error.position.line,
            error.position.byte_offset
        ),
        (
            17,
            6,
            one.errors()[1].error.position.byte_offset - cut as u64
        )
    );
    assert!(error.to_string().contains("record 17"), "{error}");
    // Numbered alike, the two files' ids would repeat: refused.
    assert!(
        transmogrify_core::ProcessingResult::combine_results([
            p.process_file(&a, "t")?,
            p.process_file(&b, "t")?,
        ])
        .is_err()
    );
    Ok(())
}

#[test]
fn in_memory_json_gives_the_errors_the_file_reader_gives() -> TestResult {
    let dir = tempfile::tempdir()?;
    let text = "[{\"a\":1},   {\"b\": [1, 2,, 3]},\n   {\"a\":3}, {\"c\": tru}]";
    let path = dir.path().join("bad.json");
    std::fs::write(&path, text)?;
    let p = skip_processor()?;
    let name = path.to_string_lossy().into_owned();
    let from_file = p.process_file(&path, "t")?;
    let mut session = p.session("t");
    session.push_json_text(text.as_bytes(), &name)?;
    let in_memory = session.finish()?;
    let errors = |r: &transmogrify_core::ProcessingResult| -> Vec<String> {
        r.errors()
            .iter()
            .map(|b| format!("{} | {}", b.error, b.raw))
            .collect()
    };
    assert_eq!(errors(&in_memory), errors(&from_file));
    assert_eq!(from_file.errors()[0].error.excerpt, "{\"b\": [1, 2,, 3]}");
    // Strict mode stops at the same error, told the same way.
    let strict = Processor::new(config(true, ArrayMode::Smart));
    let file_error = strict.process_file(&path, "t").err().map(|e| e.to_string());
    let mut session = strict.session("t");
    let memory_error = session
        .push_json_text(text.as_bytes(), &name)
        .err()
        .map(|e| e.to_string());
    assert_eq!(memory_error, file_error);
    Ok(())
}

#[test]
fn in_skip_mode_every_way_of_reading_a_file_keeps_the_records_before_a_break() -> TestResult {
    // A JSON array whose structure breaks, a CSV quote that never closes and
    // gzipped JSONL cut short: the records before the break, then its row in the
    // errors table, through process_file, process_file_at, process_chunked and
    // chunks alike.
    let dir = tempfile::tempdir()?;
    let lines: String = (0..10).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    let gz = crate::support::gzip(lines.as_bytes());
    let cases: [(&str, Vec<u8>, usize); 3] = [
        (
            "broken.json",
            b"[{\"a\":1},{\"a\":[1,}, {\"a\":4}]".to_vec(),
            1,
        ),
        ("open.csv", b"a,b\n1,2\n\"3,4\n5,6\n".to_vec(), 1),
        ("cut.jsonl.gz", gz[..gz.len() - 12].to_vec(), 9),
    ];
    let processor = skip_processor()?;
    for (name, bytes, rows) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes)?;
        let whole = processor.process_file(&path, "t")?;
        assert_eq!(whole.num_rows("main"), Some(rows), "{name}");
        assert_eq!(whole.errors().len(), 1, "{name}");
        let csv = |r: &transmogrify_core::ProcessingResult| r.to_csv_bytes();
        for chunk_size in [1, 2, 100] {
            let chunked = processor.process_chunked(&path, "t", chunk_size)?;
            assert_eq!(
                csv(&chunked)?,
                csv(&whole)?,
                "{name}, chunks of {chunk_size}"
            );
            let parts = processor.chunks(&path, "t", chunk_size)?;
            let mut all = processor.empty_result("t");
            for part in parts {
                all.merge(part?)?;
            }
            assert_eq!(csv(&all)?, csv(&whole)?, "{name}, chunks of {chunk_size}");
        }
        // From an ordinal of its own: the rows and the error numbered on from it.
        let at = processor.process_file_at(&path, "t", 100)?;
        assert_eq!(at.num_rows("main"), Some(rows), "{name}");
        let ordinals: Vec<u64> = at
            .errors()
            .iter()
            .map(|e| e.error.position.ordinal)
            .collect();
        assert_eq!(ordinals, [100 + rows as u64], "{name}");
    }
    Ok(())
}
