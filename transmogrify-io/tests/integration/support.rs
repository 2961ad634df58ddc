//! Shared helpers.

use std::io::Write;

use arrow_array::RecordBatch;
use arrow_schema::DataType;
use serde_json::{Map, Value};
use transmogrify_core::{ArrayMode, IdStrategy, ProcessingResult, Processor, ProcessorConfig};
use transmogrify_io::{Input, ReaderOptions, process_reader, reader_for};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type Rows = Vec<Map<String, Value>>;
/// A table as name, (column name, type) pairs and rows.
pub type Table = (String, Vec<(String, DataType)>, Rows);

/// A fixed extraction time: 2024-01-02 03:04:05.678901 UTC.
pub const TIME: i64 = 1_704_164_645_678_901;

pub fn config(text: bool, mode: ArrayMode) -> ProcessorConfig {
    match ProcessorConfig::builder()
        .with_id_strategy(IdStrategy::Positional)
        .with_extract_time(Some(TIME))
        .with_cast_to_string(text)
        .with_array_mode(mode)
        .build()
    {
        Ok(c) => c,
        Err(e) => panic!("config: {e}"),
    }
}

pub fn processor(text: bool, mode: ArrayMode) -> Processor {
    Processor::new(config(text, mode))
}

/// Flattens in-memory bytes through the reader for `name`'s format.
pub fn read_bytes(
    processor: &Processor,
    name: &str,
    bytes: Vec<u8>,
    options: &ReaderOptions,
) -> Result<ProcessingResult, transmogrify_io::Error> {
    let input = Input::from_bytes(name, bytes)?;
    let mut reader = reader_for(input, options)?;
    process_reader(processor, &mut *reader, "things")
}

/// Every table: name, column names and types, rows.
pub fn tables(result: &ProcessingResult) -> Vec<Table> {
    let schemas = match result.schemas() {
        Ok(s) => s,
        Err(e) => panic!("schemas: {e}"),
    };
    schemas
        .into_iter()
        .map(|s| {
            let cols = s
                .schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect();
            let rows = match result.rows(&s.name) {
                Ok(r) => r,
                Err(e) => panic!("rows: {e}"),
            };
            (s.name, cols, rows)
        })
        .collect()
}

pub fn rows_of(batches: &[RecordBatch]) -> Rows {
    let mut out = Vec::new();
    for b in batches {
        if let Err(e) = transmogrify_core::batch_rows(b, &mut out) {
            panic!("batch_rows: {e}");
        }
    }
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).unwrap_or_default()
}

/// The text a CSV cell should hold for a JSON value of a result row.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The rows of a JSON output (an array of objects) or, with `lines`, a JSONL one.
pub fn parse_json_rows(bytes: &[u8], lines: bool) -> Result<Rows, serde_json::Error> {
    if lines {
        bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(serde_json::from_slice::<Map<String, Value>>)
            .collect()
    } else {
        serde_json::from_slice(bytes)
    }
}
