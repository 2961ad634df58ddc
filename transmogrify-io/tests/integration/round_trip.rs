//! Round trips: every writer's files read back equal the result's tables, in every
//! array mode, in text and typed modes.

use arrow_array::RecordBatch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use transmogrify_core::{ArrayMode, ProcessingResult};
use transmogrify_io::{OutputBytes, WriteOptions, WriteResultExt};

use crate::support::{TestResult, cell, parse_json_rows, processor, rows_of, tables};

const SAMPLE: &str = r#"[
  {"id": 1, "name": "Ann, \"the\" first\nline", "score": 1.5, "ok": true,
   "big": 12345678901234567890, "mixed": 1, "ratio": 2,
   "user": {"contact": {"email": "a@x.io"}, "tags": ["a", "b"]},
   "orders": [{"sku": "A", "qty": 2, "items": [{"n": 1}, {"n": 2}]}, {"sku": "B", "qty": null}],
   "matrix": [[1, 2], [3]], "empty": [], "nothing": null},
  {"id": 2, "name": "Bø ☃", "score": 2, "ok": false, "big": 5, "mixed": "x", "ratio": 2.25,
   "orders": [{"sku": "C", "qty": 1e5, "items": []}], "tags": [1, "two", 3.0]},
  {"id": 3, "late": "only here", "orders": [{"sku": "D", "extra": {"deep": true}}]}
]"#;

const MODES: [ArrayMode; 5] = [
    ArrayMode::Smart,
    ArrayMode::Separate,
    ArrayMode::Inline,
    ArrayMode::Index,
    ArrayMode::Skip,
];

fn file<'a>(files: &'a [OutputBytes], table: &str) -> &'a OutputBytes {
    match files.iter().find(|f| f.table == table) {
        Some(f) => f,
        None => panic!("no file for {table}"),
    }
}

fn check_parquet(result: &ProcessingResult, files: &[OutputBytes]) -> TestResult {
    for (name, cols, rows) in tables(result) {
        let bytes = Bytes::from(file(files, &name).bytes.clone());
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()?;
        let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>()?;
        let expected = result.table(&name)?;
        if let Some(b) = batches.first() {
            let got: Vec<_> = b
                .schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect();
            assert_eq!(got, cols, "{name}");
            assert_eq!(b.schema(), expected[0].schema(), "{name}");
        }
        assert_eq!(rows_of(&batches), rows, "{name}");
    }
    Ok(())
}

fn check_csv(result: &ProcessingResult, files: &[OutputBytes]) -> TestResult {
    for (name, cols, rows) in tables(result) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(&file(files, &name).bytes[..]);
        let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
        let names: Vec<String> = cols.iter().map(|c| c.0.clone()).collect();
        assert_eq!(header, names, "{name}");
        let mut got = Vec::new();
        for record in reader.records() {
            got.push(record?.iter().map(str::to_string).collect::<Vec<_>>());
        }
        let want: Vec<Vec<String>> = rows
            .iter()
            .map(|r| names.iter().map(|n| cell(&r[n])).collect())
            .collect();
        assert_eq!(got, want, "{name}");
    }
    Ok(())
}

fn check_json(result: &ProcessingResult, files: &[OutputBytes], lines: bool) -> TestResult {
    for (name, cols, rows) in tables(result) {
        let bytes = &file(files, &name).bytes;
        let got = parse_json_rows(bytes, lines)?;
        assert_eq!(got, rows, "{name}");
        if let Some(first) = got.first() {
            let keys: Vec<&String> = first.keys().collect();
            let names: Vec<&String> = cols.iter().map(|c| &c.0).collect();
            assert_eq!(
                keys, names,
                "{name}: every row carries every column in order"
            );
        }
    }
    Ok(())
}

#[test]
fn every_writer_in_every_mode() -> TestResult {
    for text in [true, false] {
        for mode in MODES {
            let result = processor(text, mode).process(SAMPLE.as_bytes(), "things")?;
            let options = WriteOptions::default();
            check_parquet(&result, &result.to_bytes("parquet", &options)?)?;
            check_csv(&result, &result.to_bytes("csv", &options)?)?;
            check_json(&result, &result.to_bytes("json", &options)?, false)?;
            check_json(&result, &result.to_bytes("jsonl", &options)?, true)?;
        }
    }
    Ok(())
}

#[test]
fn typed_columns_get_their_types() -> TestResult {
    let result = processor(false, ArrayMode::Smart).process(SAMPLE.as_bytes(), "things")?;
    let main = result.table_schema("main")?;
    let ty = |n: &str| {
        main.schema
            .field_with_name(n)
            .map(|f| f.data_type().to_string())
    };
    assert_eq!(ty("id")?, "Int64");
    assert_eq!(ty("score")?, "Float64");
    assert_eq!(ty("ok")?, "Boolean");
    assert_eq!(ty("mixed")?, "Utf8");
    assert_eq!(ty("big")?, "Decimal128(38, 0)");
    let files = result.to_parquet_bytes()?;
    check_parquet(&result, &files)?;
    Ok(())
}

#[test]
fn parquet_options_and_csv_delimiter() -> TestResult {
    use transmogrify_io::ParquetCompression;
    let result = processor(true, ArrayMode::Smart).process(SAMPLE.as_bytes(), "things")?;
    for compression in [
        ParquetCompression::Snappy,
        ParquetCompression::Zstd(3),
        ParquetCompression::Gzip(6),
        ParquetCompression::None,
    ] {
        let options = WriteOptions::builder()
            .with_parquet_compression(compression)
            .with_row_group_size(1)
            .build()?;
        let files = result.to_bytes("parquet", &options)?;
        check_parquet(&result, &files)?;
        let meta = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(files[0].bytes.clone()))?;
        assert_eq!(meta.metadata().num_row_groups(), 3);
    }
    let options = WriteOptions::builder().with_csv_delimiter(b'\t').build()?;
    let files = result.to_bytes("csv", &options)?;
    let text = String::from_utf8(files[1].bytes.clone())?;
    assert!(text.starts_with("sku\tqty\t"), "{text}");
    // Delimiters that would not make a CSV file of UTF-8 text are refused.
    for (delimiter, reason) in [
        (b'"', "cannot be a quote or a line break"),
        (b'\n', "cannot be a quote or a line break"),
        (0xE9, "must be an ASCII character"),
    ] {
        let error = WriteOptions::builder()
            .with_csv_delimiter(delimiter)
            .build();
        assert_eq!(
            error.err().map(|e| e.to_string()),
            Some(format!("invalid option csv_delimiter: {reason}"))
        );
    }
    Ok(())
}
