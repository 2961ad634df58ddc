//! JSON and JSONL writers: one type, two formats.
//!
//! JSON writes one array per table (`[` … `]`, one row object per line), JSONL one
//! row object per line. Every row carries every column of the table, nulls as
//! `null`, so readers see the full column set. Typed columns keep their JSON type;
//! timestamps are strings `YYYY-MM-DD HH:MM:SS.ffffff`.

use std::io::Write;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::{Error, Result};
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
    rows_buf: Vec<serde_json::Map<String, serde_json::Value>>,
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
            rows_buf: Vec::new(),
        }
    }
}

impl<W: Write + Send> TableWriter for JsonWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows_buf.clear();
        transmogrify_core::batch_rows(batch, &mut self.rows_buf)?;
        for row in &self.rows_buf {
            if self.format == JsonFormat::Array {
                let sep: &[u8] = if self.rows == 0 { b"[\n" } else { b",\n" };
                self.out.write_all(sep).map_err(io_err)?;
            }
            serde_json::to_writer(&mut self.out, row)
                .map_err(|e| Error::io("<json output>", e.into()))?;
            if self.format == JsonFormat::Lines {
                self.out.write_all(b"\n").map_err(io_err)?;
            }
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
