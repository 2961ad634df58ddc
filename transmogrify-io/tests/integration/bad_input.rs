//! Bad input: each error names the source and the position.

use std::path::PathBuf;

use transmogrify_core::{ArrayMode, ErrorMode, Processor, ProcessorConfig};
use transmogrify_io::{ReaderOptions, process_file};

use crate::support::{TestResult, config};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn error_of(name: &str) -> String {
    let processor = Processor::new(config(true, ArrayMode::Smart));
    match process_file(&processor, data(name), "t", &ReaderOptions::default()) {
        Ok(_) => panic!("{name} was accepted"),
        Err(e) => e.to_string().replace(&*data("").to_string_lossy(), ""),
    }
}

#[test]
fn truncated_json_array() {
    assert_eq!(
        error_of("truncated.json"),
        "truncated.json: line 2, column 8 (byte 18, record 1): invalid JSON: unexpected end of input, expected a JSON value near `{\"b\":`"
    );
}

#[test]
fn bad_jsonl_line() {
    assert_eq!(
        error_of("bad_line.jsonl"),
        "bad_line.jsonl: line 2, column 7 (byte 15, record 1): invalid JSON: expected a JSON value, found '}' near `{\"a\": }`"
    );
}

#[test]
fn unterminated_csv_quote() {
    assert_eq!(
        error_of("unterminated.csv"),
        "unterminated.csv: line 2, column 3 (byte 10, record 0): unterminated quoted field: the quote opened here is never closed near `1,\"Ann 2,Bo`"
    );
}

#[test]
fn corrupt_parquet() {
    assert_eq!(
        error_of("corrupt.parquet"),
        "corrupt.parquet: corrupt or unreadable Parquet: EOF: Parquet file too small. Size is 36 but need 543976553"
    );
}

#[test]
fn parquet_that_makes_the_decoder_panic_is_an_error_about_the_file() {
    // The parquet crate panics on these (found by mutating valid files) rather than
    // failing: a column chunk at a negative offset, and a page whose arrays do not
    // add up.
    assert_eq!(
        error_of("bad_chunk_offset.parquet"),
        "bad_chunk_offset.parquet: row 0: corrupt or unreadable Parquet: column start and length should not be negative"
    );
    assert_eq!(
        error_of("bad_page.parquet"),
        "bad_page.parquet: row 0: corrupt or unreadable Parquet: offset + len out of bounds"
    );
}

#[test]
fn a_json_path_is_refused_for_input_that_is_not_json() -> TestResult {
    let processor = Processor::new(config(true, ArrayMode::Smart));
    let options = ReaderOptions::builder()
        .with_json_path(Some("data.items"))
        .build()?;
    for (name, what) in [("bad_line.jsonl", "JSONL"), ("unterminated.csv", "CSV")] {
        let error = match process_file(&processor, data(name), "t", &options) {
            Ok(_) => return Err(format!("{name} was read with a JSON path").into()),
            Err(e) => e.to_string().replace(&*data("").to_string_lossy(), ""),
        };
        assert_eq!(
            error,
            format!(
                "invalid option json_path: it picks an array inside JSON input, and {name} is {what} input"
            )
        );
    }
    Ok(())
}

#[test]
fn corrupt_gzip() {
    // The file is cut in half: the lines before the cut were read.
    assert_eq!(
        error_of("corrupt.jsonl.gz"),
        "corrupt.jsonl.gz: corrupt or truncated gzip data after byte 10802 of the decompressed stream: incomplete deflate stream"
    );
}

#[test]
fn skip_mode_keeps_going_and_records_the_bad_line() -> TestResult {
    let config = ProcessorConfig::builder()
        .with_on_error(ErrorMode::Skip)
        .build()?;
    let processor = Processor::new(config);
    let result = process_file(
        &processor,
        data("bad_line.jsonl"),
        "t",
        &ReaderOptions::default(),
    )?;
    assert_eq!(result.num_rows("main"), Some(2));
    assert_eq!(result.errors().len(), 1);
    assert_eq!(result.errors()[0].error.position.line, 2);
    assert_eq!(result.errors()[0].raw, "{\"a\": }");
    Ok(())
}

#[test]
fn missing_file_names_the_path() {
    let msg = error_of("nope.json");
    assert!(msg.starts_with("nope.json: "), "{msg}");
}
