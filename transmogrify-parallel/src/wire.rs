//! The pipe protocol between the process executor and its workers.
//!
//! Frames are `[kind: u8][length: u64 LE][payload]`. Control payloads are JSON; a
//! chunk carries its records after its JSON header; a result carries one Arrow IPC
//! stream per record batch of its raw form ([`RawResult`]).
//!
//! A JSONL range planned as a group of pieces goes to a worker as one chunk with
//! its pieces' ends. The worker counts every piece ([`COUNTED`] with a count per
//! piece), takes the base of the first ([`BASE`]) and flattens the pieces in order,
//! ending a part after the piece that takes the part's rows past the job's part
//! memory: each part comes back as a [`PART`] frame naming the last piece it covers.

#![expect(
    clippy::indexing_slicing,
    reason = "fixed-size prefixes are indexed only after `get` proved them present"
)]

use std::io::{Read, Write};
use std::sync::Arc;

use arrow_array::RecordBatch;
use serde_json::{Value, json};
use transmogrify_core::{
    ArrayMode, ErrorMode, IdStrategy, NamingOptions, Position, ProcessingResult, ProcessorConfig,
    RawResult, RawTable, RecordError, RecordErrorKind,
};

use transmogrify_io::{PartSpiller, SpilledFrames};

use crate::error::{Error, Result};

pub(crate) const INIT: u8 = b'I';
pub(crate) const CHUNK: u8 = b'C';
pub(crate) const COUNTED: u8 = b'N';
pub(crate) const BASE: u8 = b'B';
pub(crate) const RESULT: u8 = b'R';
pub(crate) const FAILED: u8 = b'E';
/// A chunk of a group was flattened into the worker's open session; the part's
/// result comes with the group's last chunk, or as the answer ([`RESULT`]) to the
/// chunk that took the part's rows past the job's part memory.
pub(crate) const HELD: u8 = b'H';
/// The result of the pieces of a group up to the one its header names (`through`,
/// an index among the group's pieces), after the JSON header.
pub(crate) const PART: u8 = b'P';
/// A worker's first answer, after the init frame: the [`PROTOCOL`] it speaks.
pub(crate) const READY: u8 = b'Y';

/// The version of these frames, which a worker of another version of this crate may
/// not read the same way (a chunk's element ends follow its bytes since version 2;
/// a JSONL range comes in pieces, answered by [`PART`] frames, since version 3;
/// parts may be spilled by the worker into the output's spill directory, since version 4).
/// The caller sends it in the init frame and the worker answers with its own; either
/// side refuses the other's when they differ.
pub(crate) const PROTOCOL: u64 = 4;

/// Largest frame accepted, as a guard against a corrupted stream.
const MAX_FRAME: u64 = 1 << 40;

fn bad(message: impl Into<String>) -> Error {
    Error::Worker {
        program: "protocol".into(),
        message: message.into(),
    }
}

pub(crate) fn write_frame(w: &mut impl Write, kind: u8, parts: &[&[u8]]) -> std::io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    w.write_all(&[kind])?;
    w.write_all(&(len as u64).to_le_bytes())?;
    for p in parts {
        w.write_all(p)?;
    }
    w.flush()
}

/// Reads a frame; `None` on a clean end of stream.
pub(crate) fn read_frame(r: &mut impl Read) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut payload = Vec::new();
    Ok(read_frame_into(r, &mut payload)?.map(|kind| (kind, payload)))
}

/// A frame buffer holding more than this, and more than twice the frame it is to
/// take next, is let go rather than kept for the frames after.
const KEPT_FRAME_BUFFER: usize = 64 * 1024 * 1024;

/// Reads a frame's payload into `payload` (a buffer reused from frame to frame, so
/// that chunks and results are not allocated afresh every time) and returns its
/// kind; `None` on a clean end of stream.
pub(crate) fn read_frame_into(
    r: &mut impl Read,
    payload: &mut Vec<u8>,
) -> std::io::Result<Option<u8>> {
    payload.clear();
    let mut kind = [0u8; 1];
    match r.read_exact(&mut kind) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    if payload.capacity() > KEPT_FRAME_BUFFER && payload.capacity() / 2 > len as usize {
        *payload = Vec::new();
    }
    payload.reserve(len as usize);
    r.take(len).read_to_end(payload)?;
    if payload.len() as u64 != len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(kind[0]))
}

/// `[u32 header length][JSON header][body]`.
pub(crate) fn with_header(header: &Value, body: &[u8]) -> Vec<u8> {
    let h = header.to_string();
    let mut out = Vec::with_capacity(4 + h.len() + body.len());
    out.extend_from_slice(&(h.len() as u32).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(body);
    out
}

pub(crate) fn split_header(payload: &[u8]) -> Result<(Value, &[u8])> {
    let len = payload
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| bad("short frame"))?;
    let header = payload
        .get(4..4 + len)
        .ok_or_else(|| bad("short frame header"))?;
    let header: Value =
        serde_json::from_slice(header).map_err(|e| bad(format!("bad header: {e}")))?;
    Ok((header, &payload[4 + len..]))
}

pub(crate) fn get_u64(v: &Value, key: &str) -> Result<u64> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| bad(format!("field {key:?} missing")))
}

pub(crate) fn get_str<'v>(v: &'v Value, key: &str) -> Result<&'v str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("field {key:?} missing")))
}

/// An array of two-number arrays (pieces' seqs and ends, or their counts), as pairs;
/// `None` if `v` is anything else.
pub(crate) fn pairs(v: &Value) -> Option<Vec<(u64, u64)>> {
    v.as_array()?
        .iter()
        .map(|p| match p.as_array().map(Vec::as_slice) {
            Some([a, b]) => a.as_u64().zip(b.as_u64()),
            _ => None,
        })
        .collect()
}

/// The pieces of a JSONL range as a chunk header gives them: each piece's seq and
/// end, the ends increasing.
pub(crate) fn pieces_from(v: &Value) -> Result<Vec<(u64, u64)>> {
    let pieces = pairs(v).ok_or_else(|| bad("the pieces are not each a seq and an end"))?;
    if pieces.windows(2).any(|w| w[0].1 > w[1].1) {
        return Err(bad("pieces out of order"));
    }
    Ok(pieces)
}

pub(crate) fn position_json(p: &Position) -> Value {
    json!({"ordinal": p.ordinal, "line": p.line, "column": p.column, "byte_offset": p.byte_offset})
}

pub(crate) fn position_from(v: &Value) -> Result<Position> {
    Ok(Position {
        ordinal: get_u64(v, "ordinal")?,
        line: get_u64(v, "line")?,
        column: get_u64(v, "column")?,
        byte_offset: get_u64(v, "byte_offset")?,
    })
}

// ---- configuration ---------------------------------------------------------------

/// The configuration as JSON, with the processor's extraction time fixed in it.
pub(crate) fn config_to_json(c: &ProcessorConfig, extract_time: i64) -> Result<Value> {
    let ids = match c.id_strategy() {
        IdStrategy::Random => json!("random"),
        IdStrategy::Positional => json!("positional"),
        IdStrategy::ContentHash => json!("content_hash"),
        IdStrategy::Fields(p) => json!({ "fields": p }),
        IdStrategy::Custom(_) => {
            return Err(Error::Config(
                "a custom id generator cannot run in worker processes; use threads".to_string(),
            ));
        }
        _ => return Err(Error::Config("unknown id strategy".to_string())),
    };
    let mode = match c.array_mode() {
        ArrayMode::Smart => "smart",
        ArrayMode::Separate => "separate",
        ArrayMode::Inline => "inline",
        ArrayMode::Index => "index",
        ArrayMode::Skip => "skip",
        _ => return Err(Error::Config("unknown array mode".to_string())),
    };
    let n = c.naming();
    Ok(json!({
        "separator": c.separator(),
        "cast_to_string": c.cast_to_string(),
        "include_empty": c.include_empty(),
        "skip_null": c.skip_null(),
        "id_field": c.id_field(),
        "parent_field": c.parent_field(),
        "time_field": c.time_field(),
        "array_mode": mode,
        "array_index_field": c.array_index_field(),
        "max_depth": c.max_depth(),
        "nesting_limit": c.nesting_limit(),
        "max_record_bytes": c.max_record_bytes(),
        "max_columns": c.max_columns(),
        "id_strategy": ids,
        "extract_time": extract_time,
        "naming": {
            "abbreviate_field_names": n.abbreviate_field_names,
            "abbreviate_table_names": n.abbreviate_table_names,
            "max_field_component_length": n.max_field_component_length,
            "max_table_component_length": n.max_table_component_length,
            "preserve_leaf_component": n.preserve_leaf_component,
            "custom_abbreviations": n.custom_abbreviations,
        },
        "batch_size": c.batch_size(),
        "optimize_for_memory": c.optimize_for_memory(),
        "skip_errors": c.on_error() == ErrorMode::Skip,
        "max_error_raw_bytes": c.max_error_raw_bytes(),
        "main_columns": c.main_columns(),
    }))
}

pub(crate) fn config_from_json(v: &Value) -> Result<ProcessorConfig> {
    let b = |k: &str| {
        v.get(k)
            .and_then(Value::as_bool)
            .ok_or_else(|| bad(format!("{k} missing")))
    };
    let u = |k: &str| get_u64(v, k).map(|n| n as usize);
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let ids = match v.get("id_strategy") {
        Some(Value::String(s)) if s == "random" => IdStrategy::Random,
        Some(Value::String(s)) if s == "positional" => IdStrategy::Positional,
        Some(Value::String(s)) if s == "content_hash" => IdStrategy::ContentHash,
        Some(Value::Object(o)) => {
            let pairs: Vec<(String, String)> =
                serde_json::from_value(o.get("fields").cloned().unwrap_or(Value::Null))
                    .map_err(|e| bad(format!("id fields: {e}")))?;
            IdStrategy::Fields(pairs)
        }
        _ => return Err(bad("id_strategy missing")),
    };
    let n = v.get("naming").ok_or_else(|| bad("naming missing"))?;
    let nb = |k: &str| {
        n.get(k)
            .and_then(Value::as_bool)
            .ok_or_else(|| bad(format!("{k} missing")))
    };
    let naming = NamingOptions {
        abbreviate_field_names: nb("abbreviate_field_names")?,
        abbreviate_table_names: nb("abbreviate_table_names")?,
        max_field_component_length: get_u64(n, "max_field_component_length")? as usize,
        max_table_component_length: get_u64(n, "max_table_component_length")? as usize,
        preserve_leaf_component: nb("preserve_leaf_component")?,
        custom_abbreviations: serde_json::from_value(
            n.get("custom_abbreviations")
                .cloned()
                .unwrap_or(Value::Null),
        )
        .map_err(|e| bad(format!("abbreviations: {e}")))?,
    };
    let mode = ArrayMode::parse(s("array_mode").unwrap_or("")).ok_or_else(|| bad("array_mode"))?;
    let config = ProcessorConfig::builder()
        .with_separator(s("separator").unwrap_or_default())
        .with_cast_to_string(b("cast_to_string")?)
        .with_include_empty(b("include_empty")?)
        .with_skip_null(b("skip_null")?)
        .with_id_field(s("id_field"))
        .with_parent_field(s("parent_field"))
        .with_time_field(s("time_field"))
        .with_array_mode(mode)
        .with_array_index_field(s("array_index_field"))
        .with_max_depth(u("max_depth")?)
        .with_nesting_limit(u("nesting_limit")?)
        .with_max_record_bytes(get_u64(v, "max_record_bytes")?)
        .with_max_columns(u("max_columns")?)
        .with_id_strategy(ids)
        .with_extract_time(v.get("extract_time").and_then(Value::as_i64))
        .with_naming(naming)
        .with_batch_size(u("batch_size")?)
        .with_optimize_for_memory(b("optimize_for_memory")?)
        .with_on_error(if b("skip_errors")? {
            ErrorMode::Skip
        } else {
            ErrorMode::Strict
        })
        .with_max_error_raw_bytes(u("max_error_raw_bytes")?)
        .with_main_columns(
            v.get("main_columns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        )
        .build()
        .map_err(|e| bad(format!("configuration: {e}")))?;
    Ok(config)
}

// ---- errors ----------------------------------------------------------------------

pub(crate) fn record_error_json(r: &RecordError) -> Value {
    json!({
        "source": &*r.source_name,
        "position": position_json(&r.position),
        "kind": r.kind.to_string(),
        "kind_json": r.kind.to_json(),
        "excerpt": r.excerpt,
    })
}

/// A record error back from JSON, of the same kind as the original; one whose kind
/// is not told apart keeps its message (as [`RecordErrorKind::Input`]), so it
/// still prints exactly as the original.
pub(crate) fn record_error_from(r: &Value) -> Result<RecordError> {
    let message = get_str(r, "kind")?;
    let kind = r
        .get("kind_json")
        .and_then(RecordErrorKind::from_json)
        .filter(|kind| kind.to_string() == message)
        .unwrap_or_else(|| RecordErrorKind::Input(message.to_string()));
    Ok(RecordError {
        source_name: Arc::from(get_str(r, "source")?),
        position: position_from(r.get("position").unwrap_or(&Value::Null))?,
        kind,
        excerpt: get_str(r, "excerpt")?.to_string(),
    })
}

/// Bytes of one item of a reader batch on the wire: kind (0 a record, 1 a bad one),
/// range start and end, then the record's ordinal, line, column and byte offset (a
/// bad item's position is its error's), each a little-endian `u64`.
const RAW_ITEM_BYTES: usize = 7 * 8;

/// The items of a reader batch as they follow its bytes in a chunk frame (their
/// count goes in the header as `items`), and the errors of its bad items, in order
/// (the header's `bad`). Fixed-size binary items: a batch holds up to a thousand
/// records or so, and a JSON object for each cost more than flattening them.
pub(crate) fn raw_items(batch: &transmogrify_io::RawBatch) -> (Vec<u8>, Value) {
    use transmogrify_io::RawItem;
    let mut out = Vec::with_capacity(batch.items.len() * RAW_ITEM_BYTES);
    let mut bad = Vec::new();
    for item in &batch.items {
        let (kind, range, p) = match item {
            RawItem::Record { range, position } => (0u64, range, *position),
            RawItem::Bad { error, range } => {
                bad.push(record_error_json(error));
                (1, range, error.position)
            }
        };
        for v in [
            kind,
            range.start as u64,
            range.end as u64,
            p.ordinal,
            p.line,
            p.column,
            p.byte_offset,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    (out, Value::Array(bad))
}

/// The ends of a chunk's values, as the 8-byte integers that follow its bytes in a
/// chunk frame (their count goes in the header, as `ends`).
pub(crate) fn ends_bytes(ends: &[usize]) -> Vec<u8> {
    ends.iter()
        .flat_map(|&end| (end as u64).to_le_bytes())
        .collect()
}

/// A chunk frame's body split into the chunk's bytes and the `count` value ends
/// that follow them ([`ends_bytes`]).
pub(crate) fn split_ends(body: &[u8], count: u64) -> Result<(&[u8], Vec<usize>)> {
    let cut = usize::try_from(count)
        .ok()
        .and_then(|count| count.checked_mul(8))
        .and_then(|n| body.len().checked_sub(n))
        .ok_or_else(|| bad("a chunk frame too short for its value ends"))?;
    let (data, ends) = body.split_at(cut);
    let ends = ends
        .chunks_exact(8)
        .map(|b| {
            let mut end = [0u8; 8];
            end.copy_from_slice(b);
            usize::try_from(u64::from_le_bytes(end)).unwrap_or(usize::MAX)
        })
        .collect();
    Ok((data, ends))
}

/// A range of a CSV file as a chunk frame's header fields: the range, the file's
/// first range (the worker reads the header from it) and the reader options.
pub(crate) fn csv_range_json(
    ranges: &transmogrify_io::CsvRanges,
    range: &transmogrify_io::CsvRange,
) -> Value {
    let o = ranges.options();
    let csv = o.csv();
    let range_json = |r: &transmogrify_io::CsvRange| json!([r.start, r.end, r.line, r.records]);
    json!({
        "range": range_json(range),
        "first": range_json(&ranges.first()),
        "delimiter": csv.delimiter(),
        "quote": csv.quote(),
        "header": csv.has_header(),
        "nulls": csv.null_values(),
        "skip_rows": csv.skip_rows(),
        "batch_records": o.batch_records(),
        "batch_bytes": o.batch_bytes(),
        "infer_types": o.infer_types(),
        "max_record_bytes": o.max_record_bytes(),
        "skip_null": o.skip_null(),
    })
}

/// The reader of `path`'s ranges and the range a [`csv_range_json`] header names.
pub(crate) fn csv_range_from(
    v: &Value,
    path: &std::path::Path,
) -> Result<(transmogrify_io::CsvRanges, transmogrify_io::CsvRange)> {
    let range_from = |key: &str| -> Result<transmogrify_io::CsvRange> {
        let a = v
            .get(key)
            .and_then(Value::as_array)
            .filter(|a| a.len() == 4)
            .ok_or_else(|| bad("a CSV range missing"))?;
        let n = |i: usize| {
            a.get(i)
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("a CSV range's bounds missing"))
        };
        Ok(transmogrify_io::CsvRange {
            start: n(0)?,
            end: n(1)?,
            line: n(2)?,
            records: n(3)?,
        })
    };
    let byte = |key: &str| {
        v.get(key)
            .and_then(Value::as_u64)
            .and_then(|b| u8::try_from(b).ok())
            .ok_or_else(|| bad("a CSV option missing"))
    };
    let flag = |key: &str| {
        v.get(key)
            .and_then(Value::as_bool)
            .ok_or_else(|| bad("a CSV option missing"))
    };
    let size = |key: &str| {
        v.get(key)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| bad("a reader option missing"))
    };
    let nulls: Vec<String> = v
        .get("nulls")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("the CSV null values missing"))?
        .iter()
        .map(|n| n.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("a CSV null value is not text"))?;
    let csv = transmogrify_io::CsvOptions::default()
        .with_delimiter(byte("delimiter")?)
        .with_quote(byte("quote")?)
        .with_has_header(flag("header")?)
        .with_null_values(nulls)
        .with_skip_rows(size("skip_rows")?);
    let options = transmogrify_io::ReaderOptions::builder()
        .with_format(Some(transmogrify_io::InputFormat::Csv))
        .with_csv(csv)
        .with_batch_records(size("batch_records")?)
        .with_batch_bytes(size("batch_bytes")?)
        .with_infer_types(flag("infer_types")?)
        .with_max_record_bytes(
            v.get("max_record_bytes")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("a reader option missing"))?,
        )
        .with_skip_null(flag("skip_null")?)
        .build()?;
    let ranges = transmogrify_io::CsvRanges::open(path, &options, range_from("first")?)?;
    Ok((ranges, range_from("range")?))
}

/// A reader batch back from a chunk frame's body (its bytes, then `count` items of
/// [`raw_items`]) and the errors of its bad items.
pub(crate) fn raw_batch_from(
    body: &[u8],
    count: u64,
    bad_items: &Value,
) -> Result<transmogrify_io::RawBatch> {
    use transmogrify_io::RawItem;
    let cut = usize::try_from(count)
        .ok()
        .and_then(|count| count.checked_mul(RAW_ITEM_BYTES))
        .and_then(|n| body.len().checked_sub(n))
        .ok_or_else(|| bad("a chunk frame too short for its items"))?;
    let (data, items) = body.split_at(cut);
    let mut errors = bad_items.as_array().map(|a| a.iter()).into_iter().flatten();
    let mut batch = transmogrify_io::RawBatch {
        data: data.to_vec(),
        items: Vec::with_capacity(items.len() / RAW_ITEM_BYTES),
        measured: false,
        made: false,
    };
    for item in items.chunks_exact(RAW_ITEM_BYTES) {
        let mut v = [0u64; 7];
        for (slot, bytes) in v.iter_mut().zip(item.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(bytes);
            *slot = u64::from_le_bytes(b);
        }
        let [kind, start, end, ordinal, line, column, byte_offset] = v;
        let range = usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .filter(|&(a, b)| a <= b && b <= data.len())
            .map(|(a, b)| a..b)
            .ok_or_else(|| bad("an item's range is outside its batch"))?;
        batch.items.push(match kind {
            0 => RawItem::Record {
                range,
                position: Position {
                    ordinal,
                    line,
                    column,
                    byte_offset,
                },
            },
            _ => RawItem::Bad {
                error: record_error_from(
                    errors
                        .next()
                        .ok_or_else(|| bad("a bad item without its error"))?,
                )?,
                range,
            },
        });
    }
    Ok(batch)
}

pub(crate) fn error_to_json(e: &Error) -> Value {
    let mut v = match e.record_error() {
        Some(r) => json!({
            "message": e.to_string(),
            "record": record_error_json(r),
        }),
        None => json!({ "message": e.to_string() }),
    };
    // An operating system's error (a full disk, a file that cannot be opened) stays
    // one on the caller's side: its exit code and hint are those of an I/O error.
    if let (Some((path, io)), Some(fields)) = (io_failure(e), v.as_object_mut()) {
        fields.insert(
            "io".into(),
            json!({
                "path": path.to_string_lossy(),
                "os_error": io.raw_os_error(),
                "message": io.to_string(),
            }),
        );
    }
    v
}

/// The file and operating system error at the root of `e`, if it is one.
fn io_failure(e: &Error) -> Option<(&std::path::Path, &std::io::Error)> {
    match e {
        Error::Io { path, source } => Some((path, source)),
        Error::Input(transmogrify_io::Error::Io { path, source }) => Some((path, source)),
        Error::Chunk { source, .. } => io_failure(source),
        Error::Sink(source) => {
            source
                .downcast_ref::<transmogrify_io::Error>()
                .and_then(|e| match e {
                    transmogrify_io::Error::Io { path, source } => Some((path.as_path(), source)),
                    _ => None,
                })
        }
        _ => None,
    }
}

pub(crate) fn error_from_json(v: &Value, program: &str) -> Error {
    if let Some(r) = v.get("record") {
        if let Ok(record) = record_error_from(r) {
            return Error::Core(record.into());
        }
    }
    if let Some(io) = v.get("io") {
        let path = io.get("path").and_then(Value::as_str);
        let code = io
            .get("os_error")
            .and_then(Value::as_i64)
            .and_then(|c| i32::try_from(c).ok());
        let message = io.get("message").and_then(Value::as_str);
        if let Some(path) = path {
            let source = match (code, message) {
                (Some(code), _) => std::io::Error::from_raw_os_error(code),
                (None, Some(message)) => std::io::Error::other(message.to_string()),
                (None, None) => std::io::Error::other("failed without a message"),
            };
            return Error::io(path, source);
        }
    }
    Error::Worker {
        program: program.to_string(),
        message: v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("failed without a message")
            .to_string(),
    }
}

// ---- results ---------------------------------------------------------------------

/// Appends `batch` to `out` as an Arrow IPC stream after its length (8 bytes).
fn push_ipc(out: &mut Vec<u8>, batch: &RecordBatch) -> Result<()> {
    let at = out.len();
    out.extend_from_slice(&[0; 8]);
    {
        let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut *out, &batch.schema())
            .map_err(|e| bad(format!("arrow ipc: {e}")))?;
        w.write(batch).map_err(|e| bad(format!("arrow ipc: {e}")))?;
        w.finish().map_err(|e| bad(format!("arrow ipc: {e}")))?;
    }
    let len = (out.len() - at - 8) as u64;
    out[at..at + 8].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn ipc_batch(bytes: &[u8]) -> Result<RecordBatch> {
    let reader = arrow_ipc::reader::StreamReader::try_new(bytes, None)
        .map_err(|e| bad(format!("arrow ipc: {e}")))?;
    // SAFETY: no array of the batch is read before `checked` has made the checks
    // skipped here (Arrow's own took nearly 6% of the samples of a run on two worker
    // processes, a sixth of the calling process's, going over each string offset in a
    // generic loop where `checked` checks a whole column's UTF-8 at once).
    let mut reader = unsafe { reader.with_skip_validation(true) };
    let batch = reader
        .next()
        .ok_or_else(|| bad("empty arrow ipc stream"))?
        .map_err(|e| bad(format!("arrow ipc: {e}")))?;
    checked(batch)
}

/// `batch` once its arrays are shown to be well formed (see
/// [`transmogrify_io::check_decoded`]).
fn checked(batch: RecordBatch) -> Result<RecordBatch> {
    transmogrify_io::check_decoded(&batch).map_err(|e| bad(e.to_string()))?;
    Ok(batch)
}

/// A result frame's payload.
#[cfg(test)]
pub(crate) fn encode_result(raw: &RawResult) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    encode_result_into(raw, None, &mut out)?;
    Ok(out)
}

/// The payload of a result frame for `part` (into `out`, cleared first): the part
/// itself, or with a `spiller`, the part spilled and its layout.
pub(crate) fn encode_part_into(
    part: ProcessingResult,
    spiller: Option<&mut PartSpiller>,
    out: &mut Vec<u8>,
) -> Result<()> {
    match spiller {
        None => encode_result_into(&part.to_raw()?, None, out),
        Some(spiller) => {
            let spilled = spiller.spill(part)?;
            encode_result_into(&spilled.layout().to_raw()?, Some(spilled.tables()), out)
        }
    }
}

/// A result frame's payload, written into `out` (cleared first; a buffer reused from
/// result to result): its header, then each batch's IPC stream after its length.
/// With `spilled`, `raw` is a spilled part's layout and the header tells where its
/// frames are.
pub(crate) fn encode_result_into(
    raw: &RawResult,
    spilled: Option<&[SpilledFrames]>,
    out: &mut Vec<u8>,
) -> Result<()> {
    out.clear();
    let tables: Vec<Value> = raw
        .tables
        .iter()
        .map(|t| json!({"path": t.path, "levels": t.array_levels, "batches": t.batches.len()}))
        .collect();
    let mut header = json!({
        "entity": raw.entity,
        "records": raw.records,
        "tables": tables,
        "errors": raw.errors.is_some(),
    });
    if let Some(spilled) = spilled {
        let spilled: Vec<Value> = spilled
            .iter()
            .map(|t| {
                json!({
                    "path": t.path,
                    "levels": t.array_levels,
                    "file": t.file,
                    "frames": t.frames,
                })
            })
            .collect();
        header["spilled"] = Value::Array(spilled);
    }
    let header = header.to_string();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for batch in raw.tables.iter().flat_map(|t| &t.batches) {
        push_ipc(out, batch)?;
    }
    if let Some(e) = &raw.errors {
        push_ipc(out, e)?;
    }
    Ok(())
}

/// A table's path and array levels in a result header.
fn table_key_from(t: &Value) -> Result<(Vec<String>, Vec<u32>)> {
    let path: Vec<String> = serde_json::from_value(t.get("path").cloned().unwrap_or(Value::Null))
        .map_err(|e| bad(format!("table path: {e}")))?;
    let array_levels: Vec<u32> =
        serde_json::from_value(t.get("levels").cloned().unwrap_or(Value::Null))
            .map_err(|e| bad(format!("table levels: {e}")))?;
    Ok((path, array_levels))
}

/// A result frame's payload: the part, or a spilled part's layout and where its
/// frames are.
pub(crate) fn decode_result(payload: &[u8]) -> Result<(RawResult, Option<Vec<SpilledFrames>>)> {
    let (header, mut body) = split_header(payload)?;
    let mut next = || -> Result<RecordBatch> {
        let len = body
            .get(..8)
            .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as usize)
            .ok_or_else(|| bad("short result body"))?;
        let bytes = body
            .get(8..8 + len)
            .ok_or_else(|| bad("short result batch"))?;
        body = &body[8 + len..];
        ipc_batch(bytes)
    };
    let mut tables = Vec::new();
    for t in header
        .get("tables")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("tables missing"))?
    {
        let (path, array_levels) = table_key_from(t)?;
        let n = get_u64(t, "batches")?;
        let mut batches = Vec::with_capacity(n as usize);
        for _ in 0..n {
            batches.push(next()?);
        }
        tables.push(RawTable {
            path,
            array_levels,
            batches,
        });
    }
    let errors = if header.get("errors").and_then(Value::as_bool) == Some(true) {
        Some(next()?)
    } else {
        None
    };
    let spilled = match header.get("spilled") {
        None => None,
        Some(spilled) => {
            let mut tables = Vec::new();
            for t in spilled
                .as_array()
                .ok_or_else(|| bad("spilled tables not a list"))?
            {
                let (path, array_levels) = table_key_from(t)?;
                let frames: Vec<(u64, u64)> =
                    serde_json::from_value(t.get("frames").cloned().unwrap_or(Value::Null))
                        .map_err(|e| bad(format!("spilled frames: {e}")))?;
                tables.push(SpilledFrames {
                    path,
                    array_levels,
                    file: get_str(t, "file")?.to_string(),
                    frames,
                });
            }
            Some(tables)
        }
    };
    let raw = RawResult {
        entity: get_str(&header, "entity")?.to_string(),
        records: get_u64(&header, "records")?,
        tables,
        errors,
    };
    Ok((raw, spilled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use transmogrify_core::{ProcessingResult, Processor};

    /// `ENOSPC` (no space left on device) on Linux and macOS alike.
    const ENOSPC: i32 = 28;

    #[test]
    fn an_operating_system_error_stays_one_across_the_pipe() {
        let full = std::io::Error::from_raw_os_error(ENOSPC);
        let spill = std::path::PathBuf::from("/out/.transmogrify-spill-1/w2-0.ipc");
        let in_worker = Error::Chunk {
            index: 3,
            input: "big.jsonl".into(),
            start: 0,
            end: 10,
            source: Box::new(Error::Input(transmogrify_io::Error::Io {
                path: spill.clone(),
                source: full,
            })),
        };
        let back = error_from_json(&error_to_json(&in_worker), "transmogrify");
        let Error::Io { path, source } = &back else {
            panic!("not an I/O error: {back:?}");
        };
        assert_eq!(path, &spill);
        assert_eq!(source.raw_os_error(), Some(ENOSPC));
        assert_eq!(source.kind(), std::io::ErrorKind::StorageFull);
        // Anything else keeps its message, as the worker's.
        let other = Error::Config("no such thing".into());
        let back = error_from_json(&error_to_json(&other), "transmogrify");
        assert_eq!(
            back.to_string(),
            "worker process transmogrify: no such thing"
        );
    }

    #[test]
    fn configuration_round_trips() -> Result<()> {
        let config = ProcessorConfig::builder()
            .with_separator(".")
            .with_cast_to_string(false)
            .with_id_strategy(IdStrategy::Fields(vec![("".into(), "id".into())]))
            .with_array_mode(ArrayMode::Index)
            .with_custom_abbreviations([("customer", "c")])
            .with_on_error(ErrorMode::Skip)
            .with_time_field(None)
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        let back = config_from_json(&config_to_json(&config, 42)?)?;
        assert_eq!(config_to_json(&back, 42)?, config_to_json(&config, 42)?);
        assert_eq!(back.extract_time(), Some(42));
        Ok(())
    }

    #[test]
    fn frames_and_results_reuse_one_buffer() -> Result<()> {
        let io = |e: std::io::Error| Error::io("<test pipe>", e);
        let mut pipe = Vec::new();
        for (kind, body) in [(b'A', &b"abc"[..]), (b'B', b""), (b'C', b"0123456789")] {
            write_frame(&mut pipe, kind, &[body]).map_err(io)?;
        }
        // Cut short inside the last frame's payload.
        write_frame(&mut pipe, b'D', &[b"xyz"]).map_err(io)?;
        pipe.pop();
        let mut r = pipe.as_slice();
        let mut buf = Vec::new();
        let mut read = Vec::new();
        for _ in 0..3 {
            let kind = read_frame_into(&mut r, &mut buf).map_err(io)?;
            read.push((
                kind.map(char::from),
                String::from_utf8_lossy(&buf).into_owned(),
            ));
        }
        assert_eq!(
            read,
            [
                (Some('A'), "abc".into()),
                (Some('B'), "".into()),
                (Some('C'), "0123456789".into())
            ]
        );
        let cut = read_frame_into(&mut r, &mut buf).map_err(|e| e.kind());
        assert_eq!(cut, Err(std::io::ErrorKind::UnexpectedEof));
        assert_eq!(read_frame_into(&mut r, &mut buf).map_err(io)?, None);

        // Two results encoded one after the other into one buffer decode as each
        // encoded alone.
        let config = ProcessorConfig::builder()
            .with_extract_time(Some(1))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        let p = Processor::new(config.clone());
        let mut out = Vec::new();
        for records in [
            &[r#"{"a":1,"k":[{"b":2},{"b":3}]}"#][..],
            &[r#"{"z":"x"}"#, r#"{"z":"y"}"#],
        ] {
            let mut s = p.session("t");
            for record in records {
                s.push(record.as_bytes())?;
            }
            let raw = s.finish()?.to_raw()?;
            encode_result_into(&raw, None, &mut out)?;
            assert_eq!(out, encode_result(&raw)?);
            let back = ProcessingResult::from_raw(decode_result(&out)?.0, config.clone())?;
            let again = ProcessingResult::from_raw(raw, config.clone())?;
            assert_eq!(back.to_record_batches()?, again.to_record_batches()?);
        }
        Ok(())
    }

    #[test]
    fn value_ends_follow_the_chunk_bytes() -> Result<()> {
        let mut body = b"{}[1]".to_vec();
        body.extend(ends_bytes(&[2, 5]));
        assert_eq!(split_ends(&body, 2)?, (&b"{}[1]"[..], vec![2, 5]));
        assert_eq!(split_ends(b"{}", 0)?, (&b"{}"[..], Vec::new()));
        let short = split_ends(b"{}", 1).err().map(|e| e.to_string());
        assert_eq!(
            short.as_deref(),
            Some("worker process protocol: a chunk frame too short for its value ends")
        );
        Ok(())
    }

    #[test]
    fn reader_batches_travel_as_their_bytes_and_fixed_size_items() -> Result<()> {
        use transmogrify_core::{RecordError, RecordErrorKind};
        use transmogrify_io::{RawBatch, RawItem};
        let at = |ordinal, line, column, byte_offset| Position {
            ordinal,
            line,
            column,
            byte_offset,
        };
        let batch = RawBatch {
            data: br#"{"a":"1"}x,y,z{"a":"2"}"#.to_vec(),
            items: vec![
                RawItem::Record {
                    range: 0..9,
                    position: at(7, 2, 1, 10),
                },
                RawItem::Bad {
                    error: RecordError {
                        source_name: Arc::from("in.csv"),
                        position: at(8, 3, 1, 14),
                        kind: RecordErrorKind::Input(
                            "the row has 3 fields but the header has 1".into(),
                        ),
                        excerpt: "x,y,z".into(),
                    },
                    range: 9..14,
                },
                RawItem::Record {
                    range: 14..23,
                    position: at(9, 4, 1, u64::MAX),
                },
            ],
            measured: false,
            made: false,
        };
        let (items, bad) = raw_items(&batch);
        assert_eq!(items.len(), 3 * RAW_ITEM_BYTES);
        let mut body = batch.data.clone();
        body.extend_from_slice(&items);
        let back = raw_batch_from(&body, 3, &bad)?;
        assert_eq!(back.data, batch.data);
        assert_eq!(format!("{:?}", back.items), format!("{:?}", batch.items));
        // A body cut short, or an item reaching past the bytes, is refused.
        let short = raw_batch_from(&body[..body.len() - 1], 3, &bad).err();
        assert_eq!(
            short.map(|e| e.to_string()).as_deref(),
            Some("worker process protocol: an item's range is outside its batch")
        );
        let none = raw_batch_from(&body, 3, &Value::Array(Vec::new())).err();
        assert_eq!(
            none.map(|e| e.to_string()).as_deref(),
            Some("worker process protocol: a bad item without its error")
        );
        Ok(())
    }

    #[test]
    fn csv_ranges_travel_with_their_reader_options() -> Result<()> {
        use transmogrify_io::{CsvOptions, CsvSplitter, InputFormat, ReaderOptions};
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("rows.txt");
        std::fs::write(&path, "skip me\na;'b;c'\nNA;x\n'y\nz';-\n")
            .map_err(|e| Error::io(&path, e))?;
        let options = ReaderOptions::builder()
            .with_format(Some(InputFormat::Csv))
            .with_csv(
                CsvOptions::default()
                    .with_delimiter(b';')
                    .with_quote(b'\'')
                    .with_has_header(false)
                    .with_null_values(["NA", "-"])
                    .with_skip_rows(1),
            )
            .with_batch_records(7)
            .with_batch_bytes(1000)
            .with_infer_types(false)
            .with_max_record_bytes(5000)
            .with_skip_null(true)
            .build()?;
        let mut splitter = CsvSplitter::open(&path, &options)?.ok_or_else(|| bad("not plain"))?;
        let first = splitter.next_range(1)?.ok_or_else(|| bad("no range"))?;
        let second = splitter
            .next_range(1)?
            .ok_or_else(|| bad("no second range"))?;
        let ranges = splitter.ranges()?;
        let header = csv_range_json(&ranges, &second);
        let (back, range) = csv_range_from(&header, &path)?;
        assert_eq!(range, second);
        assert_eq!(back.first(), first);
        assert_eq!(format!("{:?}", back.options()), format!("{:?}", options));
        let rows = |r: &transmogrify_io::CsvRanges| -> Result<Vec<String>> {
            let mut out = Vec::new();
            for batch in r.reader(&second)? {
                let batch = batch?;
                for item in &batch.items {
                    if let transmogrify_io::RawItem::Record { range, position } = item {
                        let text = String::from_utf8_lossy(batch.bytes(range));
                        out.push(format!("{} {text}", position.line));
                    }
                }
            }
            Ok(out)
        };
        assert_eq!(rows(&back)?, rows(&ranges)?);
        assert_eq!(rows(&back)?, [r#"3 {"column_2":"x"}"#]);
        Ok(())
    }

    /// A configuration that keeps bad records (skip mode), with a fixed time.
    fn skip_mode() -> Result<ProcessorConfig> {
        ProcessorConfig::builder()
            .with_on_error(ErrorMode::Skip)
            .with_extract_time(Some(1))
            .build()
            .map_err(|e| Error::Config(e.to_string()))
    }

    #[test]
    fn results_round_trip_through_ipc() -> Result<()> {
        let config = skip_mode()?;
        let p = Processor::new(config.clone());
        let mut s = p.session("t");
        s.push(br#"{"a":1,"k":[{"b":2}]}"#)?;
        // The bad middle record is recorded in skip mode.
        s.push(br#"{"a": }"#)?;
        s.push(br#"{"c":[1]}"#)?;
        let r = s.finish()?;
        let (raw, spilled) = decode_result(&encode_result(&r.to_raw()?)?)?;
        assert_eq!(spilled, None);
        let back = ProcessingResult::from_raw(raw, config)?;
        assert_eq!(back.to_record_batches()?, r.to_record_batches()?);
        assert_eq!(back.errors().len(), 1);
        assert_eq!(
            back.errors()[0].error.to_string(),
            r.errors()[0].error.to_string()
        );
        Ok(())
    }

    /// A part a worker spills is sent as its layout and where its frames are: the
    /// other side gets back the part's records, bad records and schemas, and the
    /// frames' places.
    #[test]
    fn spilled_parts_are_sent_as_their_layout_and_frames() -> Result<()> {
        let config = skip_mode()?;
        let p = Processor::new(config.clone());
        let part = || -> Result<ProcessingResult> {
            let mut s = p.session("t");
            s.push(br#"{"a":1,"k":[{"b":2},{"b":3}]}"#)?;
            s.push(br#"{"a": }"#)?;
            s.push(br#"{"c":"x"}"#)?;
            Ok(s.finish()?)
        };
        let dir = tempfile::tempdir().map_err(|e| Error::Config(e.to_string()))?;
        let mut spiller = PartSpiller::new(dir.path(), "w7")?;
        let mut out = Vec::new();
        encode_part_into(part()?, Some(&mut spiller), &mut out)?;
        let (raw, spilled) = decode_result(&out)?;
        let layout = ProcessingResult::from_raw(raw, config)?;
        let whole = part()?;
        assert_eq!(layout.record_count(), 2);
        assert_eq!(layout.errors().len(), 1);
        let shape = |r: &ProcessingResult| -> Result<Vec<_>> {
            Ok(r.schemas()?
                .into_iter()
                .map(|t| (r.num_rows(&t.name), t.name, t.schema))
                .collect())
        };
        assert_eq!(shape(&layout)?, shape(&whole)?);
        let spilled = spilled.ok_or_else(|| bad("not sent as spilled"))?;
        let files: Vec<(&str, usize)> = spilled
            .iter()
            .map(|t| (t.file.as_str(), t.frames.len()))
            .collect();
        assert_eq!(files, [("w7-0.ipc", 1), ("w7-1.ipc", 1)]);
        for t in &spilled {
            let size = std::fs::metadata(dir.path().join(&t.file))
                .map_err(|e| Error::Config(e.to_string()))?
                .len();
            assert_eq!(t.frames, [(0, size)]);
        }
        // Without a spiller, the part itself.
        encode_part_into(part()?, None, &mut out)?;
        assert!(decode_result(&out)?.1.is_none());
        Ok(())
    }

    #[test]
    fn result_batches_are_checked_when_read() -> Result<()> {
        let strings = arrow_array::StringArray::from(vec![Some("añb"), None, Some("€")]);
        let batch = RecordBatch::try_from_iter([("s", Arc::new(strings) as _)])
            .map_err(|e| bad(e.to_string()))?;
        let mut bytes = Vec::new();
        let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut bytes, &batch.schema())
            .map_err(|e| bad(e.to_string()))?;
        writer.write(&batch).map_err(|e| bad(e.to_string()))?;
        writer.finish().map_err(|e| bad(e.to_string()))?;
        drop(writer);
        assert_eq!(ipc_batch(&bytes)?, batch);
        // The same stream with the ñ's second byte (0xB1) made a lone lead byte.
        let at = bytes
            .windows(2)
            .position(|w| w == [0xC3, 0xB1])
            .ok_or_else(|| bad("no ñ"))?;
        bytes[at + 1] = b'x';
        let err = ipc_batch(&bytes).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "worker process protocol: checking a decoded batch: Invalid argument error: \
                 strings are not UTF-8"
            )
        );
        Ok(())
    }
}
