//! JSON and JSONL writers: one type, two formats.
//!
//! JSON writes one array per table (`[` … `]`, one row object per line), JSONL one
//! row object per line. Every row carries every column of the table, nulls as
//! `null`, so readers see the full column set. Typed columns keep their JSON type;
//! timestamps are strings `YYYY-MM-DD HH:MM:SS.ffffff`.

use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, RecordBatch};
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
    line: Vec<u8>,
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
            line: Vec::new(),
            keys: Vec::new(),
        }
    }
}

impl<W: Write + Send> TableWriter for JsonWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let schema = batch.schema();
        if self.keys.len() != schema.fields().len() {
            self.keys = schema.fields().iter().map(|f| json_key(f.name())).collect();
        }
        for row in 0..batch.num_rows() {
            self.line.clear();
            if self.format == JsonFormat::Array {
                self.line
                    .extend_from_slice(if self.rows == 0 { b"[\n" } else { b",\n" });
            }
            self.line.push(b'{');
            for (i, (column, key)) in batch.columns().iter().zip(&self.keys).enumerate() {
                if i > 0 {
                    self.line.push(b',');
                }
                self.line.extend_from_slice(key);
                json_cell(column.as_ref(), row, &mut self.line)?;
            }
            self.line.push(b'}');
            if self.format == JsonFormat::Lines {
                self.line.push(b'\n');
            }
            self.out.write_all(&self.line).map_err(io_err)?;
            self.rows += 1;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<WriteSummary> {
        if self.format == JsonFormat::Array {
            let end: &[u8] = if self.rows == 0 { b"[]\n" } else { b"\n]\n" };
            self.out.write_all(end).map_err(io_err)?;
        }
        self.out.flush().map_err(io_err)?;
        Ok(WriteSummary { rows: self.rows })
    }
}

/// Appends the JSON text of `array[row]`: strings and timestamps as strings, numbers
/// and booleans as such, null as `null`.
fn json_cell(array: &dyn Array, row: usize, out: &mut Vec<u8>) -> Result<()> {
    if array.is_null(row) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    match array.data_type() {
        DataType::Utf8 => push_json_string(out, array.as_string::<i32>().value(row).as_bytes()),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let v = array.as_primitive::<TimestampMicrosecondType>().value(row);
            push_json_string(out, transmogrify_core::format_timestamp(v).as_bytes());
        }
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
