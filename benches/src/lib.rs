//! Benchmark data for Transmogrify: realistic nested JSON records of any size,
//! deterministic from a seed.
//!
//! A [`Shape`] says what a record looks like ([`Shape::ApiEvents`], [`Shape::Orders`],
//! [`Shape::Wide`], [`Shape::Sparse`]), a [`Size`] how much to make, a [`Format`] how records are framed
//! (JSONL or one JSON array). Record `i` depends only on the seed and `i`, so a
//! larger data set starts with the records of a smaller one and JSONL and JSON
//! outputs hold the same records.
//!
//! The data is written as text built by hand rather than through `serde_json`, because
//! the spelling of the input matters to a flattener that keeps numbers' exact text:
//! `1.0`, `1e5`, 20-digit integers, `\u` escapes and raw UTF-8 all appear on purpose.
//!
//! ```
//! use transmogrify_benches::{Format, Shape, Size, generate};
//!
//! let data = generate(Shape::Orders, Size::Records(3), Format::Jsonl, 42);
//! assert_eq!(data.iter().filter(|&&b| b == b'\n').count(), 3);
//! for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
//!     let order: serde_json::Value = serde_json::from_slice(line)?;
//!     assert!(order["items"].is_array());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use crate::json::Json;
pub use crate::rng::Rng;
pub use crate::shapes::{SPARSE_KEYS, SPARSE_PROPERTIES, WIDE_COLUMNS};

mod json;
mod rng;
mod shapes;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

/// What the generated records look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// API events of about 5–10 KB: 7 levels deep, arrays of objects (items,
    /// discounts, attachments, audit trail, tracking events), arrays of scalars, fields
    /// in some records only, fields whose type varies, unicode, escapes, big integers.
    ApiEvents,
    /// Orders of about 500 bytes with one to four line items.
    Orders,
    /// Flat records of [`WIDE_COLUMNS`] columns of mixed kinds.
    Wide,
    /// Flat records of about 450 bytes with [`SPARSE_PROPERTIES`] of [`SPARSE_KEYS`]
    /// keys each: a table of tens of thousands of columns, each mostly empty.
    Sparse,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 4] = [Shape::ApiEvents, Shape::Orders, Shape::Wide, Shape::Sparse];

    /// The shape's name: `api-events`, `orders`, `wide` or `sparse`.
    pub fn name(self) -> &'static str {
        match self {
            Shape::ApiEvents => "api-events",
            Shape::Orders => "orders",
            Shape::Wide => "wide",
            Shape::Sparse => "sparse",
        }
    }

    /// The record at `index` for `seed`.
    pub fn record(self, seed: u64, index: u64) -> Json {
        let mut rng = Rng::fork(seed, index);
        match self {
            Shape::ApiEvents => shapes::api_event(&mut rng, index),
            Shape::Orders => shapes::order(&mut rng, index),
            Shape::Wide => shapes::wide(&mut rng, index),
            Shape::Sparse => shapes::sparse(&mut rng, index),
        }
    }

    /// Appends the JSON text of the record at `index` for `seed` to `out`.
    pub fn write_record(self, seed: u64, index: u64, out: &mut Vec<u8>) {
        self.record(seed, index).write(out);
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Shape {
    type Err = String;

    fn from_str(s: &str) -> Result<Shape, String> {
        Shape::ALL
            .into_iter()
            .find(|shape| shape.name() == s)
            .ok_or_else(|| {
                format!("unknown shape `{s}` (expected api-events, orders, wide or sparse)")
            })
    }
}

/// How records are framed in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One record per line, each line ending in `\n`.
    Jsonl,
    /// One JSON array of records, one element per line.
    JsonArray,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "json" => Ok(Format::JsonArray),
            _ => Err(format!("unknown format `{s}` (expected jsonl or json)")),
        }
    }
}

/// How much data to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    /// Records until the output holds at least this many bytes (the last record is
    /// complete, so the output is a little larger).
    Bytes(u64),
    /// Exactly this many records.
    Records(u64),
}

impl FromStr for Size {
    type Err = String;

    /// Parses `1000` (bytes), `64KB`, `4MiB`, `1GB` (decimal and binary units) or
    /// `500r` / `500records`.
    fn from_str(s: &str) -> Result<Size, String> {
        let lower = s.trim().to_ascii_lowercase();
        let split = lower
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(lower.len());
        let (digits, unit) = lower.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("bad size `{s}`: expected a number with an optional unit"))?;
        let bytes = |mult: u64| {
            n.checked_mul(mult)
                .map(Size::Bytes)
                .ok_or_else(|| format!("size `{s}` is too large"))
        };
        match unit {
            "" | "b" => bytes(1),
            "k" | "kb" => bytes(1_000),
            "kib" => bytes(1 << 10),
            "m" | "mb" => bytes(1_000_000),
            "mib" => bytes(1 << 20),
            "g" | "gb" => bytes(1_000_000_000),
            "gib" => bytes(1 << 30),
            "r" | "rec" | "records" => Ok(Size::Records(n)),
            _ => Err(format!(
                "bad size unit in `{s}` (expected B, KB, KiB, MB, MiB, GB, GiB or r)"
            )),
        }
    }
}

/// What [`write_data`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Records written.
    pub records: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes `size` worth of `shape` records framed as `format` to `out`, streaming one
/// record at a time (memory stays at one record, whatever the size).
pub fn write_data<W: Write>(
    shape: Shape,
    size: Size,
    format: Format,
    seed: u64,
    mut out: W,
) -> io::Result<Summary> {
    let mut summary = Summary::default();
    let mut buf = Vec::with_capacity(16 * 1024);
    if format == Format::JsonArray {
        buf.extend_from_slice(b"[\n");
    }
    loop {
        let done = match size {
            Size::Records(n) => summary.records >= n,
            Size::Bytes(n) => summary.bytes + buf.len() as u64 >= n,
        };
        if done {
            break;
        }
        if format == Format::JsonArray && summary.records > 0 {
            buf.extend_from_slice(b",\n");
        }
        shape.write_record(seed, summary.records, &mut buf);
        if format == Format::Jsonl {
            buf.push(b'\n');
        }
        summary.records += 1;
        out.write_all(&buf)?;
        summary.bytes += buf.len() as u64;
        buf.clear();
    }
    if format == Format::JsonArray {
        buf.extend_from_slice(b"\n]\n");
    }
    out.write_all(&buf)?;
    summary.bytes += buf.len() as u64;
    out.flush()?;
    Ok(summary)
}

/// Generates `size` worth of `shape` records framed as `format`, in memory.
pub fn generate(shape: Shape, size: Size, format: Format, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_data(shape, size, format, seed, &mut out);
    out
}

/// The non-empty lines of a JSONL text: the records, without their `\n`.
pub fn jsonl_lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn depth(v: &Value) -> usize {
        match v {
            Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
            Value::Array(a) => a.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        for shape in Shape::ALL {
            for format in [Format::Jsonl, Format::JsonArray] {
                let a = generate(shape, Size::Bytes(50_000), format, 7);
                let b = generate(shape, Size::Bytes(50_000), format, 7);
                let c = generate(shape, Size::Bytes(50_000), format, 8);
                assert_eq!(a, b, "{shape} {format:?}");
                assert_ne!(a, c, "{shape} {format:?}");
            }
        }
    }

    #[test]
    fn pinned_output_never_changes() {
        // A fingerprint of the first records: changing the generator changes every
        // benchmark's input, which should be a deliberate act.
        let data = generate(Shape::Orders, Size::Records(1), Format::Jsonl, 1);
        let text = String::from_utf8_lossy(&data);
        assert!(text.starts_with(r#"{"order_id":"ORD-00000000","customer_id":"CUST"#));
        let fnv = |bytes: &[u8]| {
            bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
        };
        let all: Vec<u64> = Shape::ALL
            .iter()
            .map(|s| fnv(&generate(*s, Size::Records(5), Format::Jsonl, 1)))
            .collect();
        assert_eq!(
            all,
            [
                7413539120716362030,
                11226254838551282903,
                10063193215089510996,
                10156588036977385587
            ]
        );
    }

    #[test]
    fn records_never_repeat_a_key() -> TestResult {
        let data = generate(Shape::ApiEvents, Size::Records(300), Format::Jsonl, 7);
        for line in jsonl_lines(&data) {
            let text = std::str::from_utf8(line)?;
            let value: serde_json::Value = serde_json::from_str(text)?;
            fn meta_keys(v: &serde_json::Value) -> usize {
                match v {
                    serde_json::Value::Object(m) => m
                        .iter()
                        .map(|(k, v)| usize::from(k.starts_with("meta_")) + meta_keys(v))
                        .sum(),
                    serde_json::Value::Array(a) => a.iter().map(meta_keys).sum(),
                    _ => 0,
                }
            }
            let parsed = meta_keys(&value);
            // A repeated key would be written twice but parsed once.
            assert_eq!(text.matches("\"meta_").count(), parsed, "{text}");
        }
        Ok(())
    }

    #[test]
    fn jsonl_and_json_array_parse_and_hold_the_same_records() -> TestResult {
        for shape in Shape::ALL {
            let lines = generate(shape, Size::Records(40), Format::Jsonl, 3);
            let array = generate(shape, Size::Records(40), Format::JsonArray, 3);
            let from_lines: Vec<Value> = jsonl_lines(&lines)
                .into_iter()
                .map(serde_json::from_slice)
                .collect::<Result<_, _>>()?;
            let from_array: Vec<Value> = serde_json::from_slice(&array)?;
            assert_eq!(from_lines.len(), 40);
            assert_eq!(from_lines, from_array, "{shape}");
        }
        Ok(())
    }

    #[test]
    fn size_in_bytes_is_reached_with_whole_records() -> TestResult {
        for format in [Format::Jsonl, Format::JsonArray] {
            let mut out = Vec::new();
            let summary = write_data(Shape::ApiEvents, Size::Bytes(100_000), format, 5, &mut out)?;
            assert_eq!(summary.bytes, out.len() as u64);
            assert!(summary.bytes >= 100_000);
            assert!(summary.bytes < 100_000 + 20_000);
            let fewer = generate(
                Shape::ApiEvents,
                Size::Records(summary.records - 1),
                format,
                5,
            );
            assert!(
                (fewer.len() as u64) < 100_000 + if format == Format::JsonArray { 5 } else { 0 }
            );
        }
        Ok(())
    }

    #[test]
    fn api_events_look_like_api_events() -> TestResult {
        let data = generate(Shape::ApiEvents, Size::Records(200), Format::Jsonl, 11);
        let records: Vec<Value> = jsonl_lines(&data)
            .into_iter()
            .map(serde_json::from_slice)
            .collect::<Result<_, _>>()?;
        let mean = data.len() / records.len();
        assert!((5_000..=10_000).contains(&mean), "mean record size {mean}");
        assert!(records.iter().all(|r| depth(r) >= 5));
        assert!(records.iter().any(|r| depth(r) >= 7));
        let items = |r: &Value| r["data"]["object"]["items"].as_array().map(Vec::len);
        assert!(records.iter().all(|r| items(r).unwrap_or(0) >= 3));
        // Fields in some records only, and fields of varying type.
        let has = |key: &str| records.iter().filter(|r| r.get(key).is_some()).count();
        assert!(has("coupon") > 0 && has("coupon") < records.len());
        let priorities: Vec<&Value> = records.iter().filter_map(|r| r.get("priority")).collect();
        assert!(priorities.iter().any(|v| v.is_number()));
        assert!(priorities.iter().any(|v| v.is_string()));
        // Exact spellings the flattener must keep.
        let text = String::from_utf8_lossy(&data);
        for needle in [
            "1.0", "1e5", "\\u00", "\\n", "\\\"", "Zürich", ":null", ":\"\"",
        ] {
            assert!(text.contains(needle), "{needle} missing");
        }
        assert!(records.iter().any(|r| {
            r["metrics"]["trace_id"]
                .as_number()
                .is_some_and(|n| n.as_i64().is_none())
        }));
        Ok(())
    }

    #[test]
    fn orders_wide_and_sparse_records_have_their_sizes() -> TestResult {
        let data = generate(Shape::Orders, Size::Records(200), Format::Jsonl, 2);
        let mean = data.len() / 200;
        assert!((350..=700).contains(&mean), "mean order size {mean}");
        let data = generate(Shape::Wide, Size::Records(50), Format::Jsonl, 2);
        let mut columns = std::collections::BTreeSet::new();
        for line in jsonl_lines(&data) {
            let record: Value = serde_json::from_slice(line)?;
            let object = record.as_object().ok_or("not an object")?;
            assert!(object.values().all(|v| !v.is_object() && !v.is_array()));
            columns.extend(object.keys().cloned());
        }
        assert!(columns.len() > 200, "{} columns", columns.len());
        let data = generate(Shape::Sparse, Size::Records(400), Format::Jsonl, 2);
        let mean = data.len() / 400;
        assert!(
            (350..=600).contains(&mean),
            "mean sparse record size {mean}"
        );
        let mut keys = std::collections::BTreeSet::new();
        for line in jsonl_lines(&data) {
            let record: Value = serde_json::from_slice(line)?;
            let object = record.as_object().ok_or("not an object")?;
            assert_eq!(object.len(), SPARSE_PROPERTIES + 2);
            keys.extend(object.keys().cloned());
        }
        // 10,000 draws from 50,000 keys: about 9,000 distinct.
        assert!(
            (8_000..=10_002).contains(&keys.len()),
            "{} keys",
            keys.len()
        );
        Ok(())
    }

    #[test]
    fn the_flattener_takes_every_shape_in_text_and_typed_mode() -> TestResult {
        use transmogrify_core::{Processor, ProcessorConfig};
        for shape in Shape::ALL {
            let data = generate(shape, Size::Records(30), Format::Jsonl, 9);
            for text in [true, false] {
                let config = ProcessorConfig::builder()
                    .with_cast_to_string(text)
                    .build()?;
                let result = Processor::new(config).process(&data, "bench")?;
                assert_eq!(result.num_rows("main"), Some(30), "{shape} text={text}");
                let tables = result.to_record_batches()?;
                if shape == Shape::ApiEvents {
                    for child in [
                        "bench_data_object_items",
                        "bench_data_object_items_discounts",
                        "bench_audit",
                        "bench_audit_changes",
                    ] {
                        assert!(tables.iter().any(|(name, _)| name == child), "{child}");
                    }
                } else if shape == Shape::Wide {
                    assert_eq!(tables.len(), 1);
                    assert!(tables[0].1[0].num_columns() > 200);
                }
            }
        }
        Ok(())
    }

    #[test]
    fn sizes_parse() {
        assert_eq!("1000".parse(), Ok(Size::Bytes(1000)));
        assert_eq!("4MiB".parse(), Ok(Size::Bytes(4 << 20)));
        assert_eq!("2mb".parse(), Ok(Size::Bytes(2_000_000)));
        assert_eq!("500r".parse(), Ok(Size::Records(500)));
        assert_eq!("7records".parse(), Ok(Size::Records(7)));
        assert!("x".parse::<Size>().is_err());
        assert!("5 parsecs".parse::<Size>().is_err());
        assert!("99999999999999999999GB".parse::<Size>().is_err());
        assert_eq!("api-events".parse(), Ok(Shape::ApiEvents));
        assert!("nope".parse::<Shape>().is_err());
        assert_eq!("json".parse(), Ok(Format::JsonArray));
    }
}
