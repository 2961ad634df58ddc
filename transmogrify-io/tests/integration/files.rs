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

/// A JSON array read from memory and from a file gives the same tables and the same
/// errors, whether a broken element is skipped or ends the input.
#[test]
fn a_broken_array_element_is_skipped_alike_in_memory_and_from_a_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("broken.json");
    let processor = skip_processor()?;
    let texts = [
        "[{\"a\":1},\n {\"a\": tru, \"s\": \"]}\\\"\"},\n {\"a\": 3 \"b\": 3},\n {\"a\":4}, 5x, {\"a\":6}]",
        "[{\"a\":1}, {\"a\": [2, {\"b\": 3}",
        "[{\"a\": \"x\\q\"}, {\"a\": [1,]}, null, {\"a\": 2}]",
        "[{\"a\": ]}, {\"a\": 2}]",
        "[{\"a\":1} {\"a\":2}]",
        "[{\"a\":1},,{\"a\":2}]",
        "[{\"a\":1}]x",
        "[{\"a\":[1,2}, {\"a\":2}]",
    ];
    let mut recovered = 0;
    for text in texts {
        recovered += usize::from(same_from_file_and_memory(
            &processor,
            &path,
            text.as_bytes(),
        )?);
    }
    assert_eq!(recovered, 3);
    // Arrays broken at random: a byte after the opening bracket dropped, doubled or
    // replaced by one that matters to JSON's structure. (Without its bracket the text
    // is a stream of values, which in memory is split line by line, as JSONL.)
    let base = br#"[{"id": 1, "tags": ["a", "b]"], "o": {"k": [1, 2.5e3, {"x": null}]}}, {"id": 2, "s": "q\"uote"}, 3, {"id": 4, "items": [{"n": true}, {"n": false}]}, {"id": 5}]"#;
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    };
    let mut outcomes = [0usize; 2];
    for _ in 0..400 {
        let mut text = base.to_vec();
        for _ in 0..1 + next(2) {
            let at = 1 + next(text.len() - 1);
            match next(3) {
                0 => {
                    text.remove(at);
                }
                1 => text.insert(at, text[at]),
                _ => text[at] = b"{}[],:\"\\ x1"[next(11)],
            }
        }
        let ok = same_from_file_and_memory(&processor, &path, &text)?;
        outcomes[usize::from(ok)] += 1;
    }
    // Both kinds of outcome were met: broken elements skipped, and inputs refused.
    assert!(outcomes.iter().all(|&n| n > 50), "{outcomes:?}");
    Ok(())
}

/// Reads `text` from a file at `path` and from memory; checks that both give the
/// same main table and errors, or fail alike; whether a broken element was skipped.
fn same_from_file_and_memory(
    processor: &Processor,
    path: &std::path::Path,
    text: &[u8],
) -> Result<bool, Box<dyn std::error::Error>> {
    let shown = String::from_utf8_lossy(text).into_owned();
    std::fs::write(path, text)?;
    match (
        processor.process_file(path, "t"),
        processor.process(text, "t"),
    ) {
        (Ok(file), Ok(memory)) => {
            let main = |r: &transmogrify_core::ProcessingResult| {
                r.to_csv_bytes().map(|f| f[0].bytes.clone())
            };
            assert_eq!(main(&file)?, main(&memory)?, "{shown}");
            let errors = |r: &transmogrify_core::ProcessingResult| -> Vec<String> {
                r.errors()
                    .iter()
                    .map(|e| format!("{:?} {:?} {}", e.error.position, e.error.kind, e.raw))
                    .collect()
            };
            assert_eq!(errors(&file), errors(&memory), "{shown}");
            Ok(!memory.errors().is_empty())
        }
        (Err(file), Err(memory)) => {
            // The source's name and the excerpt (of the record, or of the text around)
            // differ; the place and the message do not.
            let place = |e: &str| {
                e.split_once(": ")
                    .map(|(_, rest)| rest.split(" near `").next().unwrap_or(rest).to_string())
            };
            assert_eq!(
                place(&file.to_string()),
                place(&memory.to_string()),
                "{shown}"
            );
            Ok(false)
        }
        (file, memory) => panic!("{shown}: from a file {file:?}, in memory {memory:?}"),
    }
}
