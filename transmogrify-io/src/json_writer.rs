//! JSON and JSONL writers: one type, two formats.
//!
//! JSON writes one array per table (`[` … `]`, one row object per line), JSONL one
//! row object per line. Every row carries every column of the table, nulls as
//! `null`, so readers see the full column set. Typed columns keep their JSON type;
//! timestamps are strings `YYYY-MM-DD HH:MM:SS.ffffff`.

use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, SchemaRef, TimeUnit};

use crate::csv_writer::cell_text;
use crate::error::{Error, Result};
use crate::json_text::{json_key, push_json_string};
use crate::writer::{TableWriter, WriteOptions, WriteSummary, WriterFactory};

/// Which JSON layout a [`JsonWriter`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum JsonFormat {
    /// One JSON array per table.
    #[default]
    Array,
    /// One JSON object per line (JSONL).
    Lines,
}

/// Makes [`JsonWriter`]s of one [`JsonFormat`].
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonWriterFactory(pub JsonFormat);

impl WriterFactory for JsonWriterFactory {
    fn extension(&self) -> &str {
        match self.0 {
            JsonFormat::Array => "json",
            JsonFormat::Lines => "jsonl",
        }
    }

    fn create(
        &self,
        out: Box<dyn Write + Send>,
        _schema: &SchemaRef,
        _options: &WriteOptions,
    ) -> Result<Box<dyn TableWriter>> {
        Ok(Box::new(JsonWriter::new(out, self.0)))
    }
}

/// Writes one table as a JSON array or as JSONL.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use transmogrify_io::{JsonFormat, JsonWriter, TableWriter};
/// let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
/// let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![Some(1), None]))])?;
/// let mut out = Vec::new();
/// let mut writer = Box::new(JsonWriter::new(&mut out, JsonFormat::Lines));
/// writer.write(&batch)?;
/// writer.finish()?;
/// assert_eq!(String::from_utf8(out)?, "{\"n\":1}\n{\"n\":null}\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JsonWriter<W: Write> {
    out: W,
    format: JsonFormat,
    rows: u64,
    /// Rows not yet handed to `out` (up to [`WRITE_AT`] bytes and a row).
    buf: Vec<u8>,
    keys: Vec<Vec<u8>>,
}

fn io_err(e: std::io::Error) -> Error {
    Error::io("<json output>", e)
}

impl<W: Write + Send> JsonWriter<W> {
    /// A writer of `format` into `out`.
    pub fn new(out: W, format: JsonFormat) -> Self {
        JsonWriter {
            out,
            format,
            rows: 0,
            buf: Vec::new(),
            keys: Vec::new(),
        }
    }
}

impl<W: Write + Send> TableWriter for JsonWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let schema = batch.schema();
        if self.keys.len() != schema.fields().len() {
            // Each member's start, with what comes before it: `{"a":`, `,"b":`.
            self.keys = (schema.fields().iter().enumerate())
                .map(|(i, f)| [if i == 0 { b"{" } else { b"," }, &json_key(f.name())[..]].concat())
                .collect();
        }
        let columns: Vec<JsonColumn<'_>> = batch
            .columns()
            .iter()
            .map(|column| JsonColumn::of(column.as_ref()))
            .collect();
        for row in 0..batch.num_rows() {
            if self.format == JsonFormat::Array {
                self.buf
                    .extend_from_slice(if self.rows == 0 { b"[\n" } else { b",\n" });
            }
            if columns.is_empty() {
                self.buf.push(b'{');
            }
            for (column, key) in columns.iter().zip(&self.keys) {
                self.buf.extend_from_slice(key);
                column.push(row, &mut self.buf)?;
            }
            self.buf.push(b'}');
            if self.format == JsonFormat::Lines {
                self.buf.push(b'\n');
            }
            self.rows += 1;
            if self.buf.len() >= WRITE_AT {
                self.out.write_all(&self.buf).map_err(io_err)?;
                self.buf.clear();
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<WriteSummary> {
        if self.format == JsonFormat::Array {
            let end: &[u8] = if self.rows == 0 { b"[]\n" } else { b"\n]\n" };
            self.buf.extend_from_slice(end);
        }
        self.out.write_all(&self.buf).map_err(io_err)?;
        self.out.flush().map_err(io_err)?;
        Ok(WriteSummary { rows: self.rows })
    }
}

/// Bytes of rows a [`JsonWriter`] gathers before handing them to its output: one
/// write per row cost a call (and, for the output's files, a lock) per row.
const WRITE_AT: usize = 64 * 1024;

/// A column of a batch as a [`JsonWriter`] reads it, its type looked up once per
/// batch rather than once per cell.
enum JsonColumn<'a> {
    Text(&'a StringArray),
    Time(&'a TimestampMicrosecondArray),
    Int(&'a Int64Array),
    Float(&'a Float64Array),
    Bool(&'a BooleanArray),
    Other(&'a dyn Array),
}

impl<'a> JsonColumn<'a> {
    fn of(array: &'a dyn Array) -> Self {
        match array.data_type() {
            DataType::Utf8 => array
                .as_string_opt::<i32>()
                .map_or(JsonColumn::Other(array), JsonColumn::Text),
            DataType::Timestamp(TimeUnit::Microsecond, _) => array
                .as_primitive_opt::<TimestampMicrosecondType>()
                .map_or(JsonColumn::Other(array), JsonColumn::Time),
            DataType::Int64 => array
                .as_primitive_opt::<Int64Type>()
                .map_or(JsonColumn::Other(array), JsonColumn::Int),
            DataType::Float64 => array
                .as_primitive_opt::<Float64Type>()
                .map_or(JsonColumn::Other(array), JsonColumn::Float),
            DataType::Boolean => array
                .as_boolean_opt()
                .map_or(JsonColumn::Other(array), JsonColumn::Bool),
            _ => JsonColumn::Other(array),
        }
    }

    /// Appends the JSON text of the cell in `row` (see [`json_cell`]).
    #[inline]
    fn push(&self, row: usize, out: &mut Vec<u8>) -> Result<()> {
        match self {
            JsonColumn::Text(array) if array.is_valid(row) => {
                push_json_string(out, array.value(row).as_bytes());
            }
            JsonColumn::Time(array) if array.is_valid(row) => {
                let time = transmogrify_core::format_timestamp(array.value(row));
                push_json_string(out, time.as_bytes());
            }
            JsonColumn::Int(array) if array.is_valid(row) => {
                out.extend_from_slice(itoa::Buffer::new().format(array.value(row)).as_bytes());
            }
            // The text serde_json writes for the number (as `cell_text` has it).
            JsonColumn::Float(array) if array.is_valid(row) && array.value(row).is_finite() => {
                let mut number = zmij::Buffer::new();
                out.extend_from_slice(number.format_finite(array.value(row)).as_bytes());
            }
            JsonColumn::Bool(array) if array.is_valid(row) => {
                out.extend_from_slice(if array.value(row) { b"true" } else { b"false" });
            }
            JsonColumn::Text(_)
            | JsonColumn::Time(_)
            | JsonColumn::Int(_)
            | JsonColumn::Bool(_) => {
                out.extend_from_slice(b"null");
            }
            // Nulls, and whatever is not a finite number, as `json_cell` writes them.
            JsonColumn::Float(array) => json_cell(*array, row, out)?,
            JsonColumn::Other(array) => json_cell(*array, row, out)?,
        }
        Ok(())
    }
}

/// Appends the JSON text of `array[row]` for the cells [`JsonColumn`] leaves to it:
/// nulls, and numbers as [`cell_text`] writes them (a float that is not finite,
/// unsigned integers, decimals).
fn json_cell(array: &dyn Array, row: usize, out: &mut Vec<u8>) -> Result<()> {
    if array.is_null(row) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    match array.data_type() {
        DataType::Int64
        | DataType::UInt64
        | DataType::Float64
        | DataType::Boolean
        | DataType::Decimal128(_, _) => {
            let mut text = String::new();
            cell_text(array, row, &mut text)?;
            out.extend_from_slice(text.as_bytes());
        }
        other => {
            return Err(Error::Internal(format!(
                "no JSON form for a {other} column"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
    use arrow_array::{
        Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
        TimestampMicrosecondArray,
    };
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    use serde_json::{Map, Value};

    use super::{JsonFormat, JsonWriter, WRITE_AT};
    use crate::writer::TableWriter;

    /// Rows `from..to`: text with escapes, non-ASCII and nulls, then a timestamp,
    /// an integer, a float and a boolean as typed mode has them.
    fn batch(from: i64, to: i64) -> Result<RecordBatch, Box<dyn std::error::Error>> {
        let text = |i: i64| match i % 5 {
            0 => None,
            1 => Some(format!("line {i}\nwith \"quotes\" and \\ and \u{1}")),
            2 => Some(format!("smörgåsbord ✓ {i}")),
            3 => Some(String::new()),
            _ => Some(format!("{i}")),
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("t \"x\"", DataType::Utf8, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("n", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("b", DataType::Boolean, true),
        ]));
        let columns: Vec<arrow_array::ArrayRef> = vec![
            Arc::new(StringArray::from_iter((from..to).map(text))),
            Arc::new(
                TimestampMicrosecondArray::from_iter(
                    (from..to).map(|i| (i % 7 != 0).then_some(i * 1_000_001)),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from_iter(
                (from..to).map(|i| (i % 3 != 0).then_some(-i)),
            )),
            Arc::new(Float64Array::from_iter((from..to).map(|i| {
                (i % 4 != 0).then_some(match i % 3 {
                    0 => i as f64 / 8.0,
                    1 => (i as f64).powi(40),
                    _ => -0.1 * i as f64,
                })
            }))),
            Arc::new(BooleanArray::from_iter(
                (from..to).map(|i| (i % 6 != 0).then_some(i % 4 < 2)),
            )),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    /// The rows as JSON objects, made without the writer.
    fn expected_rows(to: i64) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let b = batch(0, to)?;
        let text = b.column(0).as_string_opt::<i32>().ok_or("text")?;
        let at = (b.column(1))
            .as_primitive_opt::<TimestampMicrosecondType>()
            .ok_or("at")?;
        let n = b.column(2).as_primitive_opt::<Int64Type>().ok_or("n")?;
        let f = b.column(3).as_primitive_opt::<Float64Type>().ok_or("f")?;
        let flag = b.column(4).as_boolean_opt().ok_or("b")?;
        let cell = |valid: bool, v: Value| if valid { v } else { Value::Null };
        Ok((0..b.num_rows())
            .map(|r| {
                let mut row = Map::new();
                let t = Value::from(text.value(r));
                row.insert("t \"x\"".into(), cell(text.is_valid(r), t));
                let time = transmogrify_core::format_timestamp(at.value(r));
                row.insert("at".into(), cell(at.is_valid(r), Value::from(time)));
                row.insert("n".into(), cell(n.is_valid(r), Value::from(n.value(r))));
                row.insert("f".into(), cell(f.is_valid(r), Value::from(f.value(r))));
                row.insert(
                    "b".into(),
                    cell(flag.is_valid(r), Value::from(flag.value(r))),
                );
                Value::Object(row).to_string()
            })
            .collect())
    }

    #[test]
    fn rows_past_the_write_size_come_out_whole_in_both_formats()
    -> Result<(), Box<dyn std::error::Error>> {
        let rows = 4_000;
        let want = expected_rows(rows)?;
        for format in [JsonFormat::Lines, JsonFormat::Array] {
            let mut out = Vec::new();
            let mut writer = Box::new(JsonWriter::new(&mut out, format));
            // Batches of uneven sizes, the second alone more than one write's worth.
            for (from, to) in [(0, 7), (7, 3_500), (3_500, rows)] {
                writer.write(&batch(from, to)?)?;
            }
            assert_eq!(writer.finish()?.rows, rows as u64);
            let text = String::from_utf8(out)?;
            assert!(text.len() > 2 * WRITE_AT, "{}", text.len());
            let expected = match format {
                JsonFormat::Lines => want.iter().map(|row| format!("{row}\n")).collect(),
                JsonFormat::Array => format!("[\n{}\n]\n", want.join(",\n")),
            };
            assert_eq!(text, expected, "{format:?}");
        }
        Ok(())
    }

    #[test]
    fn no_rows_and_no_columns() -> Result<(), Box<dyn std::error::Error>> {
        for (format, rows, want) in [
            (JsonFormat::Array, 0, "[]\n"),
            (JsonFormat::Lines, 0, ""),
            (JsonFormat::Array, 2, "[\n{},\n{}\n]\n"),
            (JsonFormat::Lines, 2, "{}\n{}\n"),
        ] {
            let schema = Arc::new(Schema::empty());
            let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
            let empty = RecordBatch::try_new_with_options(schema, vec![], &options)?;
            let mut out = Vec::new();
            let mut writer = Box::new(JsonWriter::new(&mut out, format));
            writer.write(&empty)?;
            writer.finish()?;
            assert_eq!(String::from_utf8(out)?, want, "{format:?} {rows}");
        }
        Ok(())
    }
}
