//! CSV writer (RFC 4180): one header with the table's full column set, a null cell
//! as an empty field, fields quoted only when they need it, CRLF-free `\n` line ends.
//!
//! Cells are written as text: booleans `true`/`false`, integers and decimals with
//! their digits, floats in the shortest form that reads back to the same value,
//! timestamps `YYYY-MM-DD HH:MM:SS.ffffff`.

use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, SchemaRef, TimeUnit};

use crate::error::{Error, Result};
use crate::writer::{TableWriter, WriteOptions, WriteSummary, WriterFactory};

/// Makes [`CsvWriter`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvWriterFactory;

impl WriterFactory for CsvWriterFactory {
    fn extension(&self) -> &str {
        "csv"
    }

    fn create(
        &self,
        out: Box<dyn Write + Send>,
        schema: &SchemaRef,
        options: &WriteOptions,
    ) -> Result<Box<dyn TableWriter>> {
        Ok(Box::new(CsvWriter::new(
            out,
            schema,
            options.csv_delimiter,
        )?))
    }
}

/// Writes one table as CSV.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{RecordBatch, StringArray};
/// use arrow_schema::{DataType, Field, Schema};
/// use transmogrify_io::{CsvWriter, TableWriter};
/// let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true)]));
/// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(vec![Some("x,y"), None]))])?;
/// let mut out = Vec::new();
/// let mut writer = Box::new(CsvWriter::new(&mut out, &schema, b',')?);
/// writer.write(&batch)?;
/// writer.finish()?;
/// assert_eq!(String::from_utf8(out)?, "a\n\"x,y\"\n\"\"\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CsvWriter<W: Write> {
    writer: csv::Writer<W>,
    rows: u64,
    cell: String,
}

fn csv_err(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io("<csv output>", io),
        other => Error::Internal(format!("CSV writer: {other:?}")),
    }
}

impl<W: Write + Send> CsvWriter<W> {
    /// A writer into `out` that writes the header of `schema` at once.
    pub fn new(out: W, schema: &SchemaRef, delimiter: u8) -> Result<Self> {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(out);
        writer
            .write_record(schema.fields().iter().map(|f| f.name().as_bytes()))
            .map_err(csv_err)?;
        Ok(CsvWriter {
            writer,
            rows: 0,
            cell: String::new(),
        })
    }
}

impl<W: Write + Send> TableWriter for CsvWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        for row in 0..batch.num_rows() {
            for column in batch.columns() {
                self.cell.clear();
                cell_text(column.as_ref(), row, &mut self.cell)?;
                self.writer
                    .write_field(self.cell.as_bytes())
                    .map_err(csv_err)?;
            }
            self.writer.write_record(None::<&[u8]>).map_err(csv_err)?;
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<WriteSummary> {
        self.writer
            .flush()
            .map_err(|e| Error::io("<csv output>", e))?;
        Ok(WriteSummary { rows: self.rows })
    }
}

/// Appends the text of `array[row]` to `out` (nothing for a null).
pub fn cell_text(array: &dyn Array, row: usize, out: &mut String) -> Result<()> {
    use std::fmt::Write as _;
    if array.is_null(row) {
        return Ok(());
    }
    let _ = match array.data_type() {
        DataType::Utf8 => {
            out.push_str(array.as_string::<i32>().value(row));
            Ok(())
        }
        DataType::Int64 => write!(out, "{}", array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt64 => write!(out, "{}", array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(row);
            match serde_json::Number::from_f64(v) {
                Some(n) => write!(out, "{n}"),
                None => write!(out, "{v}"),
            }
        }
        DataType::Boolean => {
            out.push_str(if array.as_boolean().value(row) {
                "true"
            } else {
                "false"
            });
            Ok(())
        }
        DataType::Decimal128(_, _) => {
            out.push_str(&array.as_primitive::<Decimal128Type>().value_as_string(row));
            Ok(())
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let v = array.as_primitive::<TimestampMicrosecondType>().value(row);
            out.push_str(&transmogrify_core::format_timestamp(v));
            Ok(())
        }
        other => {
            return Err(Error::Internal(format!(
                "no text form for a {other} column"
            )));
        }
    };
    Ok(())
}
