//! Parquet writer over the `parquet` crate's Arrow writer.
//!
//! Columns keep the table's Arrow types: all text in text mode, one type per column
//! in typed mode. A row group closes at the configured row count or when its
//! buffered data passes the configured size, which bounds the writer's memory.
//!
//! Batches are re-cut into slices of [`SLICE_ROWS`] rows before they reach the Arrow
//! writer, and a row group may only close at a slice boundary: page and row-group
//! boundaries then depend on the rows alone, never on how the input was chunked, so
//! every executor writes the same bytes.

use std::io::Write;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::writer::{ParquetCompression, TableWriter, WriteOptions, WriteSummary, WriterFactory};

/// Makes [`ParquetWriter`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParquetWriterFactory;

impl WriterFactory for ParquetWriterFactory {
    fn extension(&self) -> &str {
        "parquet"
    }

    fn create(
        &self,
        out: Box<dyn Write + Send>,
        schema: &SchemaRef,
        options: &WriteOptions,
    ) -> Result<Box<dyn TableWriter>> {
        Ok(Box::new(ParquetWriter::new(out, schema, options)?))
    }
}

fn pq_err(e: parquet::errors::ParquetError) -> Error {
    Error::ParquetWrite {
        path: PathBuf::from("<parquet output>"),
        source: e,
    }
}

/// Rows handed to the Arrow writer at a time (a multiple of its mini-batch size).
pub const SLICE_ROWS: usize = 8192;

/// Writes one table as a Parquet file.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{RecordBatch, StringArray};
/// use arrow_schema::{DataType, Field, Schema};
/// use transmogrify_io::{ParquetWriter, TableWriter, WriteOptions};
/// let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true)]));
/// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(vec!["x"]))])?;
/// let mut out = Vec::new();
/// let mut writer = Box::new(ParquetWriter::new(&mut out, &schema, &WriteOptions::default())?);
/// writer.write(&batch)?;
/// assert_eq!(writer.finish()?.rows, 1);
/// assert!(out.starts_with(b"PAR1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ParquetWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    schema: SchemaRef,
    rows: u64,
    max_group_bytes: usize,
    /// Rows received but not yet written, at most one slice's worth.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
}

impl<W: Write + Send> ParquetWriter<W> {
    /// A writer of tables with `schema` into `out`.
    pub fn new(out: W, schema: &SchemaRef, options: &WriteOptions) -> Result<Self> {
        let compression = match options.parquet_compression {
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Zstd(level) => {
                Compression::ZSTD(ZstdLevel::try_new(level).map_err(pq_err)?)
            }
            ParquetCompression::Gzip(level) => {
                Compression::GZIP(GzipLevel::try_new(level).map_err(pq_err)?)
            }
            ParquetCompression::None => Compression::UNCOMPRESSED,
        };
        let mut props = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(options.row_group_size.max(1)))
            .set_max_row_group_bytes(Some(options.row_group_bytes.max(1)));
        // Row ids and parent ids are (nearly) unique: a dictionary would only cost time
        // before falling back to plain encoding.
        for field in schema.fields() {
            let role = field.metadata().get(transmogrify_core::ROLE_METADATA_KEY);
            if matches!(role.map(String::as_str), Some("id" | "parent_id")) {
                // Nor would min/max statistics of random keys help any reader.
                let path = ColumnPath::from(field.name().as_str());
                props = props
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_statistics_enabled(path, EnabledStatistics::None);
            }
        }
        let props = props.build();
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(props)).map_err(pq_err)?;
        Ok(ParquetWriter {
            writer,
            schema: schema.clone(),
            rows: 0,
            max_group_bytes: options.row_group_bytes.max(1),
            pending: Vec::new(),
            pending_rows: 0,
        })
    }

    /// Writes the pending rows as one slice and closes the row group if it is full.
    fn write_slice(&mut self) -> Result<()> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let slice = if self.pending.len() == 1 {
            self.pending.remove(0)
        } else {
            let parts = std::mem::take(&mut self.pending);
            arrow_select::concat::concat_batches(&self.schema, &parts)
                .map_err(|e| Error::arrow("joining rows for Parquet", e))?
        };
        self.pending.clear();
        self.pending_rows = 0;
        self.writer.write(&slice).map_err(pq_err)?;
        if self.writer.in_progress_size() >= self.max_group_bytes {
            self.writer.flush().map_err(pq_err)?;
        }
        Ok(())
    }
}

impl<W: Write + Send> TableWriter for ParquetWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (SLICE_ROWS - self.pending_rows).min(batch.num_rows() - offset);
            self.pending.push(batch.slice(offset, take));
            self.pending_rows += take;
            offset += take;
            if self.pending_rows == SLICE_ROWS {
                self.write_slice()?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<WriteSummary> {
        self.write_slice()?;
        self.writer.finish().map_err(pq_err)?;
        self.writer
            .inner_mut()
            .flush()
            .map_err(|e| Error::io("<parquet output>", e))?;
        Ok(WriteSummary { rows: self.rows })
    }
}

#[cfg(test)]
mod tests {
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use transmogrify_core::Processor;

    use crate::output::WriteResultExt;

    #[test]
    fn ids_are_not_dictionary_encoded_but_data_is() -> Result<(), Box<dyn std::error::Error>> {
        let records: String = (0..500)
            .map(|i| format!("{{\"kind\":\"k{}\"}}\n", i % 3))
            .collect();
        let result = Processor::default().process(records.as_bytes(), "t")?;
        let files = result.to_parquet_bytes()?;
        let reader = SerializedFileReader::new(bytes::Bytes::from(files[0].bytes.clone()))?;
        let group = reader.metadata().row_group(0);
        let dictionary = |name: &str| -> Option<bool> {
            let column = group
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)?;
            Some(
                column
                    .encodings()
                    .any(|e| e == Encoding::RLE_DICTIONARY || e == Encoding::PLAIN_DICTIONARY),
            )
        };
        assert_eq!(dictionary("kind"), Some(true));
        assert_eq!(dictionary("__extract_id"), Some(false));
        Ok(())
    }
}
