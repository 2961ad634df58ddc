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
        "unterminated.csv: line 2, column 3 (byte 10, record 0): unterminated quoted field: \
         the quote opened here is never closed, so its field took the rest of the input (1 more \
         line), and no later row can be read near `1,\"Ann 2,Bo`"
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
        "bad_chunk_offset.parquet: rows 0-11: corrupt or unreadable Parquet: column start and length should not be negative"
    );
    assert_eq!(
        error_of("bad_page.parquet"),
        "bad_page.parquet: rows 0-40: corrupt or unreadable Parquet: offset + len out of bounds"
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
        "corrupt.jsonl.gz: truncated gzip data after byte 10802 of the decompressed stream: incomplete deflate stream"
    );
}

#[test]
fn the_records_before_a_corrupt_stream_come_before_its_error() -> TestResult {
    // 992 whole lines decompress before the damage, the last of them ending at byte
    // 10,802; they are handed over, then the error.
    let mut reader = transmogrify_io::open_reader(
        data("corrupt.jsonl.gz"),
        &ReaderOptions::builder().with_batch_records(300).build()?,
    )?;
    let mut sizes = Vec::new();
    let mut error = None;
    for batch in &mut *reader {
        match batch {
            Ok(batch) => sizes.push(batch.items.len()),
            Err(e) => error = Some(e.to_string()),
        }
    }
    assert_eq!(sizes, [300, 300, 300, 92]);
    assert_eq!(
        error.map(|e| e.replace(&*data("").to_string_lossy(), "")),
        Some(
            "corrupt.jsonl.gz: truncated gzip data after byte 10802 of the \
             decompressed stream: incomplete deflate stream"
                .to_string()
        )
    );
    Ok(())
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

#[test]
fn a_damaged_page_is_reported_with_the_rows_of_its_batch() -> TestResult {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    // 3,000 rows in row groups of 500; the reader decodes batches of 1,024 rows.
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..3000));
    let names: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..3000).map(|i| format!("name {i} {}", "x".repeat(i % 50))),
    ));
    let batch = RecordBatch::try_from_iter([("id", ids), ("name", names)])?;
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(500))
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props))?;
    writer.write(&batch)?;
    writer.close()?;
    // Damage the text column of row group 3 (rows 1,500-1,999): batch 1,024-2,047.
    let meta = SerializedFileReader::new(bytes::Bytes::from(bytes.clone()))?
        .metadata()
        .row_group(3)
        .column(1)
        .clone();
    let start = usize::try_from(meta.data_page_offset())?;
    for b in bytes.iter_mut().skip(start + 30).take(40) {
        *b ^= 0xff;
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("x.parquet");
    std::fs::write(&path, &bytes)?;
    let processor = Processor::new(config(true, ArrayMode::Smart));
    let error = process_file(&processor, &path, "t", &ReaderOptions::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    // The batch of rows 1,024-2,047 fails; read again within its first row's group
    // (rows 1,000-1,499) it goes through, and the group after fails alone.
    let want = format!(
        "{}: rows 1500-1999: corrupt or unreadable Parquet: ",
        path.display()
    );
    assert!(error.starts_with(&want), "{error}");
    // A reader goes on past the damaged group: every other row, each once, with
    // its own row number, and one error naming the rows lost.
    for options in [
        ReaderOptions::default(),
        ReaderOptions::builder()
            .with_skip_null(true)
            .with_batch_records(1 << 24)
            .build()?,
    ] {
        let mut ordinals = Vec::new();
        let mut errors = Vec::new();
        let mut reader = transmogrify_io::open_reader(&path, &options)?;
        while let Some(batch) = reader.next() {
            match batch {
                Ok(batch) => ordinals.extend(batch.items.iter().filter_map(|item| match item {
                    transmogrify_io::RawItem::Record { position, .. } => Some(position.ordinal),
                    transmogrify_io::RawItem::Bad { .. } => None,
                })),
                Err(e) => {
                    assert!(reader.goes_on_after_error());
                    errors.push(e.to_string());
                }
            }
        }
        let expected: Vec<u64> = (0..1500).chain(2000..3000).collect();
        assert_eq!(ordinals, expected);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with(&want), "{}", errors[0]);
    }
    // Read a row group at a time, a slice of its columns at a time (as a wide
    // file whose nulls are left out is): the rows of the damaged group.
    let options = ReaderOptions::builder()
        .with_skip_null(true)
        .with_batch_records(1 << 24)
        .build()?;
    let error = process_file(&processor, &path, "t", &options)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let want = format!(
        "{}: rows 1500-1999: corrupt or unreadable Parquet: ",
        path.display()
    );
    assert!(error.starts_with(&want), "{error}");
    Ok(())
}
