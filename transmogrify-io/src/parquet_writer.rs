//! Parquet writer over the `parquet` crate's Arrow column writers.
//!
//! Columns keep the table's Arrow types: all text in text mode, one type per column
//! in typed mode. A row group closes at the configured row count or when its
//! buffered data passes the configured size, which bounds the writer's memory.
//!
//! Batches are re-cut into slices of [`SLICE_ROWS`] rows before they reach the
//! column writers, a slice ending early at the row that takes its values' bytes to
//! the row group's byte limit (rows of large texts are not held by the thousand),
//! and a row group may only close at a slice boundary: page and row-group
//! boundaries then depend on the rows alone, never on how the input was chunked,
//! so every executor writes the same bytes.
//!
//! With snappy or no compression, the text columns of a flat table that is not
//! wide are encoded here rather than by the crate's column writers: parent ids and
//! the extraction time by their runs ([`crate::parquet_runs`]), the data columns
//! as text ([`crate::parquet_text`]), with the crate's encodings, statistics and
//! page indexes. Row ids and typed columns, and every column with zstd or gzip,
//! stay with the crate. Each chunk is appended to the row group as a whole.
//!
//! When an output is written on several threads and fewer tables are left than
//! threads, a writer encodes each slice's columns on the idle ones too (each column
//! still sees the same slices in the same order, so the bytes are the same).
//!
//! A table of [`WIDE_TABLE_COLUMNS`] columns or more (records drawing from
//! thousands of keys) keeps its row group's slices as their cells (the values not
//! null, column by column) until the row group is full, at the row limit or once
//! the cells pass the byte limit, and then writes it a block of columns at a time:
//! the column writers of one block exist at once, not those of every column. Each
//! column still sees the same slices in the same order, so the pages are those it
//! would have had written slice by slice; only the size a row group closes at is
//! measured on the cells held instead of the pages encoded. Such a table's column
//! chunks carry statistics but no page indexes, and its footer is kept row group by
//! row group as encoded bytes, beyond 8 MiB in an unnamed temporary file (in the
//! spill directory if one is set): the `parquet` crate's file writer would keep
//! every row group's metadata in memory until the file closes, tens of megabytes
//! per row group of tens of thousands of columns. The bytes are those the crate
//! writes.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{FieldRef, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter, TrackedWrite};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::parquet_footer::{FOOTER_MEMORY_BYTES, Footer};
use crate::parquet_runs::RunColumn;
use crate::parquet_text::{TextChunk, TextSettings};
use crate::spare::{PARALLEL_MIN_BYTES, Spare, borrow, in_parts, split_points, weight};
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

/// A `parquet` crate error while writing (its file named once known, see
/// `Error::at_output`).
pub(crate) fn pq_err(e: parquet::errors::ParquetError) -> Error {
    Error::ParquetWrite {
        path: PathBuf::from("<parquet output>"),
        source: e,
    }
}

/// Largest dictionary a column chunk keeps before it falls back to plain encoding.
///
/// Columns of few distinct values (codes, countries, flags) fit easily; columns of
/// mostly distinct values (names, timestamps, free text) give up after a few thousand
/// values instead of hashing a megabyte of them first, as the `parquet` crate's
/// default would. On the API-event sample the files are the same size and writing
/// is about 7% faster. A text column whose first rows are almost all distinct (see
/// [`DICTIONARY_SAMPLE_ROWS`]) has no dictionary at all.
pub const DICTIONARY_PAGE_LIMIT: usize = 64 * 1024;

/// Rows handed to the Arrow writer at a time (a multiple of its mini-batch size),
/// unless their values reach the row group's byte limit first.
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
    /// The file and its column writers' factory, from the first slice on (for
    /// tables other than wide ones).
    file: Option<(SerializedFileWriter<W>, ArrowRowGroupWriterFactory)>,
    /// A wide table's file, from the first slice on.
    wide: Option<WideFile<W>>,
    /// Where the file goes, until it is started.
    out: Option<W>,
    compression: Compression,
    /// The row group being written, if any.
    group: Option<RowGroup>,
    schema: SchemaRef,
    rows: u64,
    max_group_rows: usize,
    max_group_bytes: usize,
    /// Rows received but not yet written, at most one slice's worth.
    pending: Vec<Part>,
    pending_rows: usize,
    /// The values' bytes in the pending rows (see [`row_bytes`]).
    pending_bytes: usize,
    /// Processors this writer may borrow from the other table jobs.
    spare: Option<Arc<Spare>>,
    /// A wide table's row group in progress, as the slices it will be written in
    /// (see [`WIDE_TABLE_COLUMNS`]); `None` for other tables.
    held: Option<Held>,
    /// Where a wide table's footer goes once it passes `footer_memory` bytes.
    spill_dir: Option<PathBuf>,
    footer_memory: usize,
    /// The columns whose chunks are encoded here rather than by the `parquet`
    /// crate (see [`own_columns`]); empty when there are none.
    own: Vec<Option<Own>>,
}

/// A wide table's file: its row groups are written here and its footer kept row
/// group by row group (see [`Footer`]), since the `parquet` crate's file writer
/// keeps every row group's metadata until it closes.
struct WideFile<W: Write + Send> {
    out: TrackedWrite<W>,
    /// The file's layout (schema, properties, Arrow metadata), as a file writer of
    /// no rows.
    layout: SerializedFileWriter<std::io::Sink>,
    schema: parquet::schema::types::SchemaDescPtr,
    footer: Footer,
}

/// A wide table's row group in progress: its slices as their cells.
struct Held {
    /// The column writers' factories of each block of columns, once the file is
    /// started (see [`ParquetWriter::write_held`]).
    blocks: Vec<ArrowRowGroupWriterFactory>,
    /// Batches waiting for their slice.
    pending: Vec<Cells>,
    slices: Vec<Cells>,
    rows: usize,
    /// Bytes the slices' cells take.
    bytes: usize,
    /// Each column's type, as an index into `types`.
    type_of: Vec<usize>,
    /// The table's column types, each once.
    types: Vec<arrow_schema::DataType>,
    /// [`SLICE_ROWS`] nulls of each of `types`.
    nulls: Vec<ArrayRef>,
}

impl Held {
    /// An empty row group of a table with `schema`.
    fn new(schema: &SchemaRef) -> Self {
        let mut types: Vec<arrow_schema::DataType> = Vec::new();
        let type_of = schema
            .fields()
            .iter()
            .map(|f| match types.iter().position(|t| t == f.data_type()) {
                Some(t) => t,
                None => {
                    types.push(f.data_type().clone());
                    types.len() - 1
                }
            })
            .collect();
        let nulls = types
            .iter()
            .map(|t| arrow_array::new_null_array(t, SLICE_ROWS))
            .collect();
        Held {
            blocks: Vec::new(),
            pending: Vec::new(),
            slices: Vec::new(),
            rows: 0,
            bytes: 0,
            type_of,
            types,
            nulls,
        }
    }

    /// Column `i` of `cells` (of this table).
    fn column(&self, cells: &Cells, i: usize) -> Result<ArrayRef> {
        let t = self.type_of.get(i).copied().unwrap_or_default();
        let (from, to) = cells.range(i)?;
        if from == to {
            let nulls = self
                .nulls
                .get(t)
                .ok_or_else(|| Error::Internal("no nulls of a column's type".into()))?;
            return Ok(if cells.len <= nulls.len() {
                nulls.slice(0, cells.len)
            } else {
                arrow_array::new_null_array(nulls.data_type(), cells.len)
            });
        }
        let values = match (cells.values.get(t), cells.first.get(i)) {
            (Some(values), Some(&first)) => values.slice(first as usize, to - from),
            _ => return Err(Error::Internal("no cells of a column's type".into())),
        };
        if to - from == cells.len {
            return Ok(values);
        }
        let rows = cells.rows.get(from..to).unwrap_or_default();
        placed(
            &values,
            rows.iter().map(|&r| r as usize).zip(0u32..),
            cells.len,
        )
    }
}

/// The first slice of a table, which decides its columns' settings.
trait Sample {
    /// Rows of the slice.
    fn num_rows(&self) -> usize;
    /// Cells of column `i` that are not null.
    fn cells(&self, i: usize) -> usize;
    /// The first `n` (at most) rows of column `i`.
    fn head(&self, i: usize, n: usize) -> Option<ArrayRef>;
}

/// A slice of a wide table, as its cells.
struct HeldSample<'a>(&'a Held, &'a Cells);

impl Sample for HeldSample<'_> {
    fn num_rows(&self) -> usize {
        self.1.len
    }

    fn cells(&self, i: usize) -> usize {
        self.1.range(i).map_or(0, |(from, to)| to - from)
    }

    fn head(&self, i: usize, n: usize) -> Option<ArrayRef> {
        let column = self.0.column(self.1, i).ok()?;
        Some(column.slice(0, n.min(column.len())))
    }
}

/// The cells (values not null) of a slice of a wide table, column by column: a
/// few buffers for the whole slice however many columns it has, where arrays
/// of their own would cost a few hundred bytes for every column of every batch.
struct Cells {
    len: usize,
    /// Where each column's cells start in `rows`, and where the last one's end.
    starts: Vec<u32>,
    /// The row of each cell.
    rows: Vec<u32>,
    /// The cells of each column type (see [`Held::types`]), column by column.
    values: Vec<ArrayRef>,
    /// Where each column's cells start among those of its type.
    first: Vec<u32>,
}

impl Cells {
    /// The cells of `batch`, a batch of `held`'s table.
    fn of_batch(batch: &RecordBatch, held: &Held) -> Result<Self> {
        // Each column's index among the batch's columns of its type.
        let mut sources: Vec<Vec<&dyn Array>> = vec![Vec::new(); held.types.len()];
        let mut source_of = Vec::with_capacity(batch.num_columns());
        for (column, &t) in batch.columns().iter().zip(&held.type_of) {
            let of_type = sources
                .get_mut(t)
                .ok_or_else(|| Error::Internal("a column of no type".into()))?;
            source_of.push(of_type.len());
            of_type.push(column.as_ref());
        }
        let columns = batch.columns();
        Cells::picked(batch.num_rows(), held, sources, |i, cell| {
            let (Some(column), Some(&source)) = (columns.get(i), source_of.get(i)) else {
                return Err(Error::Internal("a batch without a column".into()));
            };
            match column.logical_nulls() {
                Some(nulls) if nulls.null_count() == column.len() => {}
                Some(nulls) => nulls.valid_indices().try_for_each(|r| cell(r, source, r))?,
                None => (0..column.len()).try_for_each(|r| cell(r, source, r))?,
            }
            Ok(())
        })
    }

    /// Rows `start..start + len` of `parts`, batches of `held`'s table one after
    /// the other, as the cells of one slice.
    fn gather(parts: &[Cells], start: usize, len: usize, held: &Held) -> Result<Self> {
        let end = start + len;
        let sources = (0..held.types.len())
            .map(|t| {
                parts
                    .iter()
                    .map(|part| part.values.get(t).map(|v| v.as_ref()))
                    .collect::<Option<Vec<&dyn Array>>>()
                    .ok_or_else(|| Error::Internal("no cells of a column's type".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        Cells::picked(len, held, sources, |i, cell| {
            let mut first_row = 0;
            for (source, part) in parts.iter().enumerate() {
                let (from_row, to_row) = (start.max(first_row), end.min(first_row + part.len));
                if from_row < to_row {
                    let (from, to) = part.range(i)?;
                    let rows = part.rows.get(from..to).unwrap_or_default();
                    let first = part.first.get(i).copied().unwrap_or_default() as usize;
                    let skip = rows.partition_point(|&r| first_row + (r as usize) < from_row);
                    for (k, &r) in rows.iter().enumerate().skip(skip) {
                        let row = first_row + r as usize;
                        if row >= to_row {
                            break;
                        }
                        cell(row - start, source, first + k)?;
                    }
                }
                first_row += part.len;
                if first_row >= end {
                    break;
                }
            }
            Ok(())
        })
    }

    /// The cells of `len` rows of `held`'s table that `cells_of` gives for each
    /// column, in order of rows: the row, which of the column type's `sources`
    /// the value is in, and where.
    fn picked(
        len: usize,
        held: &Held,
        sources: Vec<Vec<&dyn Array>>,
        mut cells_of: impl FnMut(usize, &mut dyn FnMut(usize, usize, usize) -> Result<()>) -> Result<()>,
    ) -> Result<Self> {
        let too_many = || Error::Internal("a slice of over 4 billion cells".into());
        let columns = held.type_of.len();
        let mut starts = Vec::with_capacity(columns + 1);
        let mut first = Vec::with_capacity(columns);
        let mut rows: Vec<u32> = Vec::new();
        // For each type, which cell of which source array.
        let mut picks: Vec<Vec<(usize, usize)>> = vec![Vec::new(); held.types.len()];
        for (i, &t) in held.type_of.iter().enumerate() {
            let picks = picks
                .get_mut(t)
                .ok_or_else(|| Error::Internal("a column of no type".into()))?;
            starts.push(u32::try_from(rows.len()).map_err(|_| too_many())?);
            first.push(u32::try_from(picks.len()).map_err(|_| too_many())?);
            cells_of(i, &mut |row, source, k| {
                rows.push(u32::try_from(row).map_err(|_| too_many())?);
                picks.push((source, k));
                Ok(())
            })?;
        }
        starts.push(u32::try_from(rows.len()).map_err(|_| too_many())?);
        let values = sources
            .iter()
            .zip(&picks)
            .zip(&held.types)
            .map(|((sources, picks), data_type)| {
                if picks.is_empty() {
                    return Ok(arrow_array::new_empty_array(data_type));
                }
                arrow_select::interleave::interleave(sources, picks)
                    .map_err(|e| Error::arrow("keeping rows for Parquet", e))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Cells {
            len,
            starts,
            rows,
            values,
            first,
        })
    }

    /// Where column `i`'s cells are in `rows`.
    fn range(&self, i: usize) -> Result<(usize, usize)> {
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&from), Some(&to)) => Ok((from as usize, to as usize)),
            _ => Err(Error::Internal("a column out of range".into())),
        }
    }

    /// Bytes these cells take.
    fn bytes(&self) -> usize {
        (self.starts.capacity() + self.rows.capacity() + self.first.capacity()) * 4
            + self
                .values
                .iter()
                .map(|v| v.get_array_memory_size())
                .sum::<usize>()
    }
}

/// The column writers of the row group being written.
struct RowGroup {
    writers: Vec<ArrowColumnWriter>,
    /// The chunks encoded here (see [`own_columns`]), by column; their writers in
    /// `writers` are left unused.
    own: Vec<Option<OwnChunk>>,
    rows: usize,
}

impl RowGroup {
    fn estimated_bytes(&self) -> usize {
        self.writers
            .iter()
            .map(ArrowColumnWriter::get_estimated_total_bytes)
            .sum::<usize>()
            + self
                .own
                .iter()
                .flatten()
                .map(OwnChunk::estimated_bytes)
                .sum::<usize>()
    }
}

/// How a column whose chunks are encoded here is encoded.
#[derive(Debug, Clone, Copy)]
enum Own {
    /// By its runs (see [`crate::parquet_runs`]), with statistics or not.
    Runs { statistics: bool },
    /// As text (see [`crate::parquet_text`]).
    Text,
}

/// A chunk encoded here.
enum OwnChunk {
    Runs(RunColumn),
    /// Boxed: its page in progress and statistics take a few hundred bytes.
    Text(Box<TextChunk>),
}

impl OwnChunk {
    fn write(&mut self, column: &dyn Array) -> Result<()> {
        match self {
            OwnChunk::Runs(chunk) => chunk.write(column),
            OwnChunk::Text(chunk) => chunk.write(column),
        }
    }

    fn rows(&self) -> usize {
        match self {
            OwnChunk::Runs(chunk) => chunk.rows(),
            OwnChunk::Text(chunk) => chunk.rows(),
        }
    }

    fn estimated_bytes(&self) -> usize {
        match self {
            OwnChunk::Runs(chunk) => chunk.estimated_bytes(),
            OwnChunk::Text(chunk) => chunk.estimated_bytes(),
        }
    }

    fn close(self) -> Result<(bytes::Bytes, parquet::column::writer::ColumnCloseResult)> {
        match self {
            OwnChunk::Runs(chunk) => chunk.close(),
            OwnChunk::Text(chunk) => chunk.close(),
        }
    }
}

/// Which columns of a table with `schema` have their chunks encoded here, and how.
/// Only text columns of a flat table that is not wide, without compression or with
/// snappy (zstd and gzip keep the `parquet` crate's encoding): parent ids (random
/// keys, without statistics, as row ids) and the extraction time (with) by their
/// runs, the data columns as text. Row ids stay with the crate, which writes them
/// plain as they are (a chunk encoded here goes through one more copy). Empty when
/// there are none.
fn own_columns(schema: &SchemaRef, compression: Compression) -> Vec<Option<Own>> {
    let flat = schema.fields().iter().all(|f| !f.data_type().is_nested());
    let codec = matches!(compression, Compression::SNAPPY | Compression::UNCOMPRESSED);
    if !(flat && codec) || written_by_blocks(schema) {
        return Vec::new();
    }
    let own: Vec<Option<Own>> = schema
        .fields()
        .iter()
        .map(|field| {
            if field.data_type() != &arrow_schema::DataType::Utf8 {
                return None;
            }
            let role = field
                .metadata()
                .get(transmogrify_core::ROLE_METADATA_KEY)
                .map(String::as_str);
            match (role, field.is_nullable()) {
                (Some("parent_id"), false) => Some(Own::Runs { statistics: false }),
                (Some("time"), false) => Some(Own::Runs { statistics: true }),
                (Some(_), _) => None,
                (None, _) => Some(Own::Text),
            }
        })
        .collect();
    if own.iter().any(Option::is_some) {
        own
    } else {
        Vec::new()
    }
}

/// The compression `options` ask for.
fn compression(options: &WriteOptions) -> Result<Compression> {
    Ok(match options.parquet_compression {
        ParquetCompression::Snappy => Compression::SNAPPY,
        ParquetCompression::Zstd(level) => {
            Compression::ZSTD(ZstdLevel::try_new(level).map_err(pq_err)?)
        }
        ParquetCompression::Gzip(level) => {
            Compression::GZIP(GzipLevel::try_new(level).map_err(pq_err)?)
        }
        ParquetCompression::None => Compression::UNCOMPRESSED,
    })
}

/// Rows at the top of a table that decide whether a text column gets a dictionary.
///
/// A column with at least 98% distinct values among its first 512 (or whose
/// distinct values there pass [`DICTIONARY_PAGE_LIMIT`]) is written plain from its
/// first page. Values drawn at random from fewer than about 10,000 look less
/// distinct than that, and more of them would not fit the dictionary anyway: a
/// dictionary is only left out where it would be given up, and its hash table is
/// spared (API events to Parquet: 4% fewer instructions, files 0.6-2% smaller; wide
/// records: 5% smaller). The decision depends on the rows alone.
pub const DICTIONARY_SAMPLE_ROWS: usize = 512;

/// Whether a text column is distinct enough at its top to go without a dictionary
/// (see [`DICTIONARY_SAMPLE_ROWS`]).
fn mostly_distinct(column: &ArrayRef) -> bool {
    let Some(text) = column.as_string_opt::<i32>() else {
        return false;
    };
    let mut seen = hashbrown::HashSet::with_capacity(256);
    let (mut values, mut bytes) = (0usize, 0usize);
    for row in 0..text.len().min(DICTIONARY_SAMPLE_ROWS) {
        if text.is_null(row) {
            continue;
        }
        values += 1;
        let value = text.value(row);
        if seen.insert(value) {
            bytes += value.len();
            if bytes > DICTIONARY_PAGE_LIMIT {
                return true;
            }
        }
    }
    values >= 64 && 50 * seen.len() >= 49 * values
}

/// The most bytes of a column's first values [`snappy_shrinks`] compresses.
const SNAPPY_SAMPLE_BYTES: usize = 256 * 1024;

/// Whether snappy shrinks the plain encoding of a text `column`'s values (a column
/// sample) by a tenth or more. Plain columns it shrinks less (hex checksums, random
/// keys, sampled at the top of a table, see [`DICTIONARY_SAMPLE_ROWS`]) are written
/// uncompressed: of the API events' columns, two (3.7 MB of 112 MB of pages), whose
/// compression took about 1% of a one-thread run for 0.2% of the output.
///
/// The sample is cut at [`SNAPPY_SAMPLE_BYTES`]: a sample of rows of 100 KB texts
/// compressed whole took 33 MB, and snappy's output buffer 39 MB more, for a moment
/// at the start of each table.
fn snappy_shrinks(column: &ArrayRef) -> bool {
    let Some(text) = column.as_string_opt::<i32>() else {
        return true;
    };
    // The bytes of the values of this slice of the column (its buffer may hold more).
    let offsets = text.value_offsets();
    let bytes = match (offsets.first(), offsets.last()) {
        (Some(&first), Some(&last)) => usize::try_from(last - first).unwrap_or(0),
        _ => 0,
    };
    let mut plain = Vec::with_capacity(SNAPPY_SAMPLE_BYTES.min(bytes + 4 * text.len()));
    for value in text.iter().flatten() {
        if plain.len() >= SNAPPY_SAMPLE_BYTES {
            break;
        }
        let value = value.as_bytes();
        let take = value.len().min(SNAPPY_SAMPLE_BYTES - plain.len());
        plain.extend_from_slice(&(value.len() as u32).to_le_bytes());
        plain.extend_from_slice(value.get(..take).unwrap_or_default());
    }
    snap::raw::Encoder::new()
        .compress_vec(&plain)
        .map_or(true, |packed| 10 * packed.len() <= 9 * plain.len())
}

/// The Parquet writer properties of a table with `schema` whose first slice of rows
/// is `first`.
fn properties(
    schema: &SchemaRef,
    compression: Compression,
    max_group_rows: usize,
    max_group_bytes: usize,
    first: Option<&dyn Sample>,
) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(max_group_rows))
        .set_max_row_group_bytes(Some(max_group_bytes))
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_LIMIT);
    // A wide table's statistics are its column chunks' own, without page indexes:
    // the parquet crate keeps each row group's page indexes until the file closes
    // (memory that grows with the input), and the footer is written row group by
    // row group (see [`ParquetWriter::write_held`]). Sparse columns have a page or
    // two per chunk, so a page index would tell a reader little more.
    if written_by_blocks(schema) {
        props = props
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_offset_index_disabled(true);
    }
    // In a wide table (records drawing from thousands of keys), a column with values
    // in fewer than one row in a hundred of the first slice is written without
    // compression: its pages are run-length encoded nulls and a few values, which
    // snappy does not shrink, and each snappy column keeps a compressor of 2 KB
    // while the row group is written (100 MB for 50,000 columns).
    let sparse: Vec<bool> = (0..schema.fields().len())
        .map(|i| {
            compression == Compression::SNAPPY
                && schema.fields().len() >= WIDE_TABLE_COLUMNS
                && first.is_some_and(|rows| rows.cells(i) * 100 < rows.num_rows())
        })
        .collect();
    // A column's own settings take a few hundred bytes of the properties, which the
    // file keeps until it closes: where most columns are sparse, no compression is
    // the default and the others are given theirs (about 11 MB less peak memory for
    // 50,000 columns).
    let default = if 2 * sparse.iter().filter(|s| **s).count() > sparse.len() {
        Compression::UNCOMPRESSED
    } else {
        compression
    };
    props = props.set_compression(default);
    for (i, (field, &sparse)) in schema.fields().iter().zip(&sparse).enumerate() {
        let path = ColumnPath::from(field.name().as_str());
        let role = field.metadata().get(transmogrify_core::ROLE_METADATA_KEY);
        let mut codec = compression;
        if matches!(role.map(String::as_str), Some("id" | "parent_id")) {
            // Row ids and parent ids are (nearly) unique: a dictionary would only
            // cost time before falling back to plain encoding, and min/max
            // statistics of random keys help no reader.
            props = props
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_statistics_enabled(path.clone(), EnabledStatistics::None);
            // Row ids are random or hashed hex: snappy, which has no entropy coding,
            // shrinks them by a few percent (hyphens, length prefixes) at the cost of
            // a tenth of the whole write. Parent ids repeat from row to row and do
            // compress; zstd and gzip shrink hex too and keep every column.
            if compression == Compression::SNAPPY && role.map(String::as_str) == Some("id") {
                codec = Compression::UNCOMPRESSED;
            }
        } else if sparse {
            codec = Compression::UNCOMPRESSED;
        } else if let Some(head) = first
            .and_then(|rows| rows.head(i, DICTIONARY_SAMPLE_ROWS))
            .filter(mostly_distinct)
        {
            // Plain from the first page: the values would go through the
            // dictionary's hash table only to be written plain after all.
            props = props.set_column_dictionary_enabled(path.clone(), false);
            if compression == Compression::SNAPPY && !snappy_shrinks(&head) {
                codec = Compression::UNCOMPRESSED;
            }
        }
        if codec != default {
            props = props.set_column_compression(path, codec);
        }
    }
    props.build()
}

impl<W: Write + Send> ParquetWriter<W> {
    /// A writer of tables with `schema` into `out`.
    pub fn new(out: W, schema: &SchemaRef, options: &WriteOptions) -> Result<Self> {
        let compression = compression(options)?;
        Ok(ParquetWriter {
            file: None,
            wide: None,
            out: Some(out),
            compression,
            group: None,
            schema: schema.clone(),
            rows: 0,
            max_group_rows: options.row_group_size.max(1),
            max_group_bytes: options.row_group_bytes.max(1),
            pending: Vec::new(),
            pending_rows: 0,
            pending_bytes: 0,
            spare: options.spare.clone(),
            held: written_by_blocks(schema).then(|| Held::new(schema)),
            spill_dir: options.spill_dir.clone(),
            footer_memory: FOOTER_MEMORY_BYTES,
            own: own_columns(schema, compression),
        })
    }

    /// Starts the file, whose column settings depend on its `first` slice of rows.
    fn open(&mut self, first: Option<&dyn Sample>) -> Result<()> {
        let Some(out) = self.out.take() else {
            return Ok(());
        };
        let props = properties(
            &self.schema,
            self.compression,
            self.max_group_rows,
            self.max_group_bytes,
            first,
        );
        // The Arrow writer sets up the file (schema, Arrow metadata); the row groups
        // are written here, column by column, so that columns can be encoded on
        // several threads. Each column sees the same slices in the same order either
        // way: the bytes do not depend on the threads.
        if written_by_blocks(&self.schema) {
            let (layout, _) =
                ArrowWriter::try_new(std::io::sink(), self.schema.clone(), Some(props))
                    .and_then(ArrowWriter::into_serialized_writer)
                    .map_err(pq_err)?;
            let schema = Arc::new(parquet::schema::types::SchemaDescriptor::new(
                layout.schema_descr().root_schema_ptr(),
            ));
            let footer = Footer::new(
                schema.clone(),
                layout.properties(),
                self.footer_memory,
                self.spill_dir.clone(),
            );
            let mut out = TrackedWrite::new(out);
            out.write_all(b"PAR1")
                .map_err(|e| Error::io("<parquet output>", e))?;
            self.wide = Some(WideFile {
                out,
                layout,
                schema,
                footer,
            });
            return Ok(());
        }
        let file = ArrowWriter::try_new(out, self.schema.clone(), Some(props))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(pq_err)?;
        self.file = Some(file);
        Ok(())
    }

    /// The file and its column writers' factory, once started.
    fn file(&mut self) -> Result<&mut (SerializedFileWriter<W>, ArrowRowGroupWriterFactory)> {
        self.file
            .as_mut()
            .ok_or_else(|| Error::Internal("the Parquet file was not started".into()))
    }

    /// Writes the pending rows as one slice and closes the row group if it is full.
    fn write_slice(&mut self) -> Result<()> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending_rows);
        self.pending_bytes = 0;
        if let Some(mut held) = self.held.take() {
            let result = self.hold(&mut held, rows);
            self.held = Some(held);
            return result;
        }
        let slice = Rows::new(std::mem::take(&mut self.pending), rows);
        self.open(Some(&slice))?;
        self.write_rows(slice)
    }

    /// Keeps a wide table's pending `rows` as a slice of its row group (or row
    /// groups), writing each row group that fills: at the row limit, or once its
    /// cells pass the byte limit.
    fn hold(&mut self, held: &mut Held, rows: usize) -> Result<()> {
        let slice = Cells::gather(&std::mem::take(&mut held.pending), 0, rows, held)?;
        self.open(Some(&HeldSample(held, &slice)))?;
        if rows <= self.max_group_rows.saturating_sub(held.rows) {
            return self.keep(held, slice);
        }
        let mut start = 0;
        while start < rows {
            let room = self.max_group_rows.saturating_sub(held.rows).max(1);
            let len = room.min(rows - start);
            let cells = Cells::gather(std::slice::from_ref(&slice), start, len, held)?;
            self.keep(held, cells)?;
            start += len;
        }
        Ok(())
    }

    /// Adds `cells` to the held row group and writes it if it is full.
    fn keep(&mut self, held: &mut Held, cells: Cells) -> Result<()> {
        held.rows += cells.len;
        held.bytes += cells.bytes();
        held.slices.push(cells);
        if held.rows >= self.max_group_rows || held.bytes >= self.max_group_bytes {
            self.write_held(held)?;
        }
        Ok(())
    }

    /// Writes a wide table's held row group, if any rows are held, a block of
    /// [`BLOCK_COLUMNS`] columns at a time: each column is written from all the
    /// slices, closed and appended to the file before the next block's writers
    /// exist. A row group's column writers hold several kilobytes each even when
    /// empty; for tens of thousands of columns at once that was hundreds of
    /// megabytes.
    fn write_held(&mut self, held: &mut Held) -> Result<()> {
        if held.rows == 0 {
            return Ok(());
        }
        let slices = std::mem::take(&mut held.slices);
        let rows = std::mem::replace(&mut held.rows, 0);
        held.bytes = 0;
        let (schema, spare) = (self.schema.clone(), self.spare.clone());
        let file = self
            .wide
            .as_mut()
            .ok_or_else(|| Error::Internal("the Parquet file was not started".into()))?;
        if held.blocks.is_empty() {
            held.blocks = block_factories(&file.layout, &schema)?;
        }
        let index = file.footer.row_groups();
        let mut row_group = SerializedRowGroupWriter::new(
            file.schema.clone(),
            file.layout.properties().clone(),
            &mut file.out,
            i32::try_from(index).map_err(|_| Error::Internal("too many row groups".into()))?,
            None,
        );
        let fields = schema.fields();
        let blocks = fields.chunks(BLOCK_COLUMNS).zip(&held.blocks);
        for (first, (block, factory)) in (0..).step_by(BLOCK_COLUMNS).zip(blocks) {
            let writers = factory.create_column_writers(index).map_err(pq_err)?;
            let weights: Vec<usize> = (first..first + block.len())
                .map(|i| {
                    slices
                        .iter()
                        .map(|cells| cells.range(i).map_or(0, |(from, to)| to - from))
                        .sum::<usize>()
                        + 1
                })
                .collect();
            let chunks = each_column(writers, &weights, spare.as_deref(), &|i, mut writer| {
                let field = block
                    .get(i)
                    .ok_or_else(|| Error::Internal("a column out of range".into()))?;
                for cells in &slices {
                    let column = held.column(cells, first + i)?;
                    for leaf in compute_leaves(field, &column).map_err(pq_err)? {
                        writer.write(&leaf).map_err(pq_err)?;
                    }
                }
                writer.close().map_err(pq_err)
            })?;
            for chunk in chunks {
                chunk.append_to_row_group(&mut row_group).map_err(pq_err)?;
            }
        }
        // The cells go before the row group's metadata is built and encoded.
        drop(slices);
        let mut metadata = Arc::unwrap_or_clone(row_group.close().map_err(pq_err)?);
        if fields.is_empty() {
            let rows = i64::try_from(rows).map_err(|_| Error::Internal("too many rows".into()))?;
            metadata = metadata
                .into_builder()
                .set_num_rows(rows)
                .build()
                .map_err(pq_err)?;
        }
        file.footer.add(metadata)?;
        // The row group's cells, writers and metadata (hundreds of thousands of
        // allocations for such a table) are free now; what glibc's allocator keeps
        // of them, spread over its arenas, is handed back before the next row group
        // is gathered.
        crate::output::release_free_memory();
        Ok(())
    }

    /// Writes `rows` into row groups that close at the row limit, or before their
    /// estimated size passes the byte limit (split by the average row size so far),
    /// as the `parquet` crate's Arrow writer does.
    fn write_rows(&mut self, mut rows: Rows) -> Result<()> {
        loop {
            if self.group.is_none() {
                let own = self.own.clone();
                let (file, columns) = self.file()?;
                let writers = columns
                    .create_column_writers(file.flushed_row_groups().len())
                    .map_err(pq_err)?;
                let (props, descriptors) = (file.properties(), file.schema_descr());
                let own = own
                    .into_iter()
                    .enumerate()
                    .map(|(i, own)| {
                        let descr = descriptors.column(i);
                        own.map(|own| match own {
                            Own::Runs { statistics } => OwnChunk::Runs(RunColumn::new(
                                descr,
                                statistics,
                                !props.offset_index_disabled(),
                                props.data_page_row_count_limit(),
                            )),
                            Own::Text => {
                                let path = descr.path().clone();
                                OwnChunk::Text(Box::new(TextChunk::new(
                                    descr,
                                    TextSettings {
                                        dictionary: props.dictionary_enabled(&path),
                                        compressed: props.compression(&path) == Compression::SNAPPY,
                                        statistics: props.statistics_enabled(&path)
                                            != EnabledStatistics::None,
                                        offset_index: !props.offset_index_disabled(),
                                        page_rows: props.data_page_row_count_limit(),
                                        page_bytes: props.column_data_page_size_limit(&path),
                                        dictionary_limit: props
                                            .column_dictionary_page_size_limit(&path),
                                    },
                                )))
                            }
                        })
                    })
                    .collect();
                self.group = Some(RowGroup {
                    writers,
                    own,
                    rows: 0,
                });
            }
            let group = self
                .group
                .as_mut()
                .ok_or_else(|| Error::Internal("no row group in progress".into()))?;
            let buffered = group.rows;
            let mut split_at = (buffered + rows.num_rows() > self.max_group_rows)
                .then(|| self.max_group_rows - buffered);
            let candidate = split_at.unwrap_or_else(|| rows.num_rows());
            let current = group.estimated_bytes();
            if let Some(average) = current.checked_div(buffered) {
                if current >= self.max_group_bytes {
                    self.flush()?;
                    continue;
                }
                if let Some(fit) = (self.max_group_bytes - current).checked_div(average)
                    && candidate > fit
                {
                    if fit == 0 {
                        self.flush()?;
                        continue;
                    }
                    split_at = Some(fit);
                }
            }
            let rest = split_at.map(|n| rows.split_off(n));
            let spare = self.spare.as_deref();
            let group = self
                .group
                .as_mut()
                .ok_or_else(|| Error::Internal("no row group in progress".into()))?;
            write_columns(
                &mut group.writers,
                self.schema.fields(),
                &rows,
                spare,
                &mut group.own,
            )?;
            group.rows += rows.num_rows();
            if group.rows >= self.max_group_rows || group.estimated_bytes() >= self.max_group_bytes
            {
                self.flush()?;
            }
            match rest {
                Some(rest) => rows = rest,
                None => return Ok(()),
            }
        }
    }

    /// Closes the row group in progress, if any, and appends it to the file.
    fn flush(&mut self) -> Result<()> {
        let Some(group) = self.group.take() else {
            return Ok(());
        };
        let chunks = close_columns(group.writers, self.spare.as_deref())?;
        let mut row_group = self.file()?.0.next_row_group().map_err(pq_err)?;
        // A table with chunks encoded here is flat: its chunks are its columns, one
        // each.
        let mut own = group.own.into_iter();
        for chunk in chunks {
            match own.next().flatten().filter(|own| own.rows() > 0) {
                Some(own) => {
                    let (bytes, close) = own.close()?;
                    row_group.append_column(&bytes, close).map_err(pq_err)?;
                }
                None => chunk.append_to_row_group(&mut row_group).map_err(pq_err)?,
            }
        }
        row_group.close().map_err(pq_err)?;
        Ok(())
    }
}

/// Writes one slice's columns (`rows`) to their column writers, each column joined
/// from its parts only as it is written (a chunk encoded here takes the parts as
/// they are); on spare processors too when there are any and the slice is large
/// enough to be worth it.
fn write_columns(
    writers: &mut [ArrowColumnWriter],
    fields: &[FieldRef],
    rows: &Rows,
    spare: Option<&Spare>,
    own: &mut [Option<OwnChunk>],
) -> Result<()> {
    // A nested table (written by users) feeds a writer per leaf, on one thread.
    if writers.len() != fields.len() {
        let mut writers = writers.iter_mut();
        for (i, field) in fields.iter().enumerate() {
            let column = rows.column(i)?;
            for leaf in compute_leaves(field, &column).map_err(pq_err)? {
                let Some(writer) = writers.next() else {
                    return Ok(());
                };
                writer.write(&leaf).map_err(pq_err)?;
            }
        }
        return Ok(());
    }
    // A flat table, this crate's tables: a writer, or a chunk encoded here, per field.
    let own = own
        .iter_mut()
        .map(Option::as_mut)
        .chain(std::iter::repeat_with(|| None));
    let mut columns: Vec<(&mut ArrowColumnWriter, Option<&mut OwnChunk>)> =
        writers.iter_mut().zip(own).collect();
    let write = |start: usize, part: &mut [(&mut ArrowColumnWriter, Option<&mut OwnChunk>)]| {
        for (i, (writer, own)) in (start..).zip(part.iter_mut()) {
            match own {
                Some(own) => {
                    for piece in rows.pieces(i, rows.start, rows.len)? {
                        own.write(piece.as_ref())?;
                    }
                }
                None => {
                    let field = fields
                        .get(i)
                        .ok_or_else(|| Error::Internal("a column out of range".into()))?;
                    for leaf in compute_leaves(field, &rows.column(i)?).map_err(pq_err)? {
                        writer.write(&leaf).map_err(pq_err)?;
                    }
                }
            }
        }
        Ok(())
    };
    if spare.is_none() {
        return write(0, &mut columns);
    }
    let weights: Vec<usize> = (0..fields.len()).map(|i| rows.weight(i)).collect();
    let helpers = if weights.iter().sum::<usize>() >= PARALLEL_MIN_BYTES {
        borrow(spare, columns.len().saturating_sub(1))
    } else {
        0
    };
    if helpers == 0 {
        return write(0, &mut columns);
    }
    let result = in_parts(&mut columns, &split_points(&weights, helpers + 1), &write);
    if let Some(spare) = spare {
        (0..helpers).for_each(|_| spare.vacate());
    }
    result
}

/// Tables of at least this many columns (records drawing from thousands of keys)
/// are wide to the Parquet writer: it keeps a row group's rows as their cells
/// (values not null) and writes it a block of columns at a time when it is full
/// (see [`ParquetWriter`]), and with snappy writes the sparsest columns
/// uncompressed.
pub const WIDE_TABLE_COLUMNS: usize = 1024;

/// A batch waiting for its slice.
struct Part {
    rows: usize,
    columns: Vec<ArrayRef>,
}

impl Part {
    fn new(batch: &RecordBatch) -> Self {
        Part {
            rows: batch.num_rows(),
            columns: batch.columns().to_vec(),
        }
    }

    /// Column `i`.
    fn column(&self, i: usize) -> Result<&ArrayRef> {
        self.columns
            .get(i)
            .ok_or_else(|| Error::Internal("a batch without a column".into()))
    }
}

/// The rows of a slice as the batches they came in (all of one schema), `start..`
/// `start + len` of them. A column is joined from its batches only when it is
/// written, one at a time.
struct Rows {
    parts: Arc<[Part]>,
    start: usize,
    len: usize,
}

impl Rows {
    /// The `rows` rows of `parts`.
    fn new(parts: Vec<Part>, rows: usize) -> Self {
        Rows {
            parts: parts.into(),
            start: 0,
            len: rows,
        }
    }

    fn num_rows(&self) -> usize {
        self.len
    }

    /// Keeps the first `n` rows; the others.
    fn split_off(&mut self, n: usize) -> Rows {
        let n = n.min(self.len);
        let rest = Rows {
            parts: self.parts.clone(),
            start: self.start + n,
            len: self.len - n,
        };
        self.len = n;
        rest
    }

    /// The pieces of column `i` that make up rows `start..start + len`.
    fn pieces(&self, i: usize, start: usize, len: usize) -> Result<Vec<ArrayRef>> {
        let end = start + len;
        let mut first = 0;
        let mut pieces = Vec::new();
        for part in self.parts.iter() {
            let (from, to) = (start.max(first), end.min(first + part.rows));
            if from < to {
                let column = part.column(i)?;
                pieces.push(if to - from == part.rows {
                    column.clone()
                } else {
                    column.slice(from - first, to - from)
                });
            }
            first += part.rows;
            if first >= end {
                break;
            }
        }
        Ok(pieces)
    }

    /// Rows `start..start + len` of column `i` as one array.
    fn joined(&self, i: usize, start: usize, len: usize) -> Result<ArrayRef> {
        let mut pieces = self.pieces(i, start, len)?;
        match pieces.len() {
            // No rows: the column's first part, cut to nothing.
            0 => Ok(self
                .parts
                .first()
                .map(|part| part.column(i))
                .transpose()?
                .map(|column| column.slice(0, 0))
                .ok_or_else(|| Error::Internal("a slice without batches".into()))?),
            1 => pieces
                .pop()
                .ok_or_else(|| Error::Internal("no rows in a slice".into())),
            _ => {
                let refs: Vec<&dyn Array> = pieces.iter().map(|a| a.as_ref()).collect();
                arrow_select::concat::concat(&refs)
                    .map_err(|e| Error::arrow("joining rows for Parquet", e))
            }
        }
    }

    /// Column `i` of these rows.
    fn column(&self, i: usize) -> Result<ArrayRef> {
        self.joined(i, self.start, self.len)
    }

    /// Column `i`'s share of the work of writing these rows (see [`weight`]).
    fn weight(&self, i: usize) -> usize {
        self.pieces(i, self.start, self.len)
            .map(|pieces| pieces.iter().map(weight).sum())
            .unwrap_or(0)
    }
}

impl Sample for Rows {
    fn num_rows(&self) -> usize {
        self.len
    }

    fn cells(&self, i: usize) -> usize {
        self.pieces(i, self.start, self.len)
            .map(|pieces| pieces.iter().map(|a| a.len() - a.null_count()).sum())
            .unwrap_or(0)
    }

    fn head(&self, i: usize, n: usize) -> Option<ArrayRef> {
        self.joined(i, self.start, n.min(self.len)).ok()
    }
}

/// A column of `len` rows with cell `values[k]` at each `(row, k)` of `cells`,
/// nulls elsewhere.
fn placed(
    values: &ArrayRef,
    cells: impl IntoIterator<Item = (usize, u32)>,
    len: usize,
) -> Result<ArrayRef> {
    let mut keys = vec![0u32; len];
    let mut valid = arrow_buffer::BooleanBufferBuilder::new(len);
    valid.append_n(len, false);
    for (row, k) in cells {
        if let Some(key) = keys.get_mut(row) {
            *key = k;
            valid.set_bit(row, true);
        }
    }
    let indices = arrow_array::UInt32Array::new(
        keys.into(),
        Some(arrow_buffer::NullBuffer::new(valid.finish())),
    );
    arrow_select::take::take(values.as_ref(), &indices, None)
        .map_err(|e| Error::arrow("joining rows for Parquet", e))
}

/// Closes every column writer of a row group (its last pages, dictionary and
/// compression), on spare processors too when there are any.
fn close_columns(
    writers: Vec<ArrowColumnWriter>,
    spare: Option<&Spare>,
) -> Result<Vec<ArrowColumnChunk>> {
    let weights: Vec<usize> = writers
        .iter()
        .map(ArrowColumnWriter::get_estimated_total_bytes)
        .collect();
    each_column(writers, &weights, spare, &|_, writer| {
        writer.close().map_err(pq_err)
    })
}

/// The chunks `finish` makes of `writers` (given each writer's index), on spare
/// processors too when there are any, in parts of about equal `weights`.
fn each_column(
    writers: Vec<ArrowColumnWriter>,
    weights: &[usize],
    spare: Option<&Spare>,
    finish: &(dyn Fn(usize, ArrowColumnWriter) -> Result<ArrowColumnChunk> + Sync),
) -> Result<Vec<ArrowColumnChunk>> {
    let helpers = borrow(spare, writers.len().saturating_sub(1));
    if helpers == 0 {
        return writers
            .into_iter()
            .enumerate()
            .map(|(i, writer)| finish(i, writer))
            .collect();
    }
    let ends = split_points(weights, helpers + 1);
    let mut slots: Vec<(Option<ArrowColumnWriter>, Option<ArrowColumnChunk>)> =
        writers.into_iter().map(|w| (Some(w), None)).collect();
    let result = in_parts(&mut slots, &ends, &|start, part| {
        for (i, (writer, chunk)) in part.iter_mut().enumerate() {
            if let Some(w) = writer.take() {
                *chunk = Some(finish(start + i, w)?);
            }
        }
        Ok(())
    });
    if let Some(spare) = spare {
        (0..helpers).for_each(|_| spare.vacate());
    }
    result?;
    slots
        .into_iter()
        .map(|(_, chunk)| chunk.ok_or_else(|| Error::Internal("a column was not closed".into())))
        .collect()
}

/// Of `len` rows of `batch` from `offset`, how many to take so that their values'
/// bytes ([`row_bytes`]) reach `room` at the last of them at most, and those
/// bytes: all of them if they stay below `room`, else up to and including the row
/// that reaches it (at least one row). The rows' values alone decide where that is,
/// never how the rows were batched, so every executor cuts alike.
fn rows_within(batch: &RecordBatch, offset: usize, len: usize, room: usize) -> (usize, usize) {
    if len == 0 {
        return (0, 0);
    }
    let total: usize = batch
        .columns()
        .iter()
        .map(|c| range_bytes(c.as_ref(), offset, len))
        .sum();
    if total < room {
        return (len, total);
    }
    let mut sizes = vec![0usize; len];
    for column in batch.columns() {
        row_bytes(column.as_ref(), offset, &mut sizes);
    }
    let mut sum = 0usize;
    for (i, size) in sizes.iter().enumerate() {
        sum += size;
        if sum >= room {
            return (i + 1, sum);
        }
    }
    (len, sum)
}

/// The bytes of the values of `column`'s rows `offset..offset + len` (see
/// [`row_bytes`]).
fn range_bytes(column: &dyn Array, offset: usize, len: usize) -> usize {
    match value_offsets(column) {
        Some(Offsets::Small(o)) => range_of(o, offset, len),
        Some(Offsets::Large(o)) => range_of(o, offset, len),
        None => {
            let nulls = column
                .nulls()
                .map_or(0, |n| n.slice(offset, len).null_count());
            (len - nulls) * fixed_width(column.data_type())
        }
    }
}

/// Adds the bytes of each of `column`'s rows from `offset` to `sizes` (one per
/// row): a text's or binary value's length, a fixed-width value's width (8 for
/// other types), none for a null (a wide table's thousands of mostly null columns
/// weigh what their values do).
fn row_bytes(column: &dyn Array, offset: usize, sizes: &mut [usize]) {
    let add = |sizes: &mut [usize], at: &dyn Fn(usize) -> usize| {
        for (i, size) in sizes.iter_mut().enumerate() {
            if column.is_valid(offset + i) {
                *size += at(offset + i);
            }
        }
    };
    match value_offsets(column) {
        Some(Offsets::Small(o)) => add(sizes, &|i| range_of(o, i, 1)),
        Some(Offsets::Large(o)) => add(sizes, &|i| range_of(o, i, 1)),
        None => {
            let width = fixed_width(column.data_type());
            add(sizes, &|_| width);
        }
    }
}

/// A text or binary column's value offsets.
enum Offsets<'a> {
    Small(&'a [i32]),
    Large(&'a [i64]),
}

fn value_offsets(column: &dyn Array) -> Option<Offsets<'_>> {
    use arrow_schema::DataType as T;
    Some(match column.data_type() {
        T::Utf8 => Offsets::Small(column.as_string_opt::<i32>()?.value_offsets()),
        T::Binary => Offsets::Small(column.as_binary_opt::<i32>()?.value_offsets()),
        T::LargeUtf8 => Offsets::Large(column.as_string_opt::<i64>()?.value_offsets()),
        T::LargeBinary => Offsets::Large(column.as_binary_opt::<i64>()?.value_offsets()),
        _ => return None,
    })
}

/// The bytes between offsets `offset` and `offset + len` of `offsets`.
fn range_of<O: arrow_array::OffsetSizeTrait>(offsets: &[O], offset: usize, len: usize) -> usize {
    match (offsets.get(offset), offsets.get(offset + len)) {
        (Some(a), Some(b)) => (b.as_usize()).saturating_sub(a.as_usize()),
        _ => 0,
    }
}

/// A fixed-width type's bytes a value (8 for the others).
fn fixed_width(t: &arrow_schema::DataType) -> usize {
    match t {
        arrow_schema::DataType::Boolean => 1,
        t => t.primitive_width().unwrap_or(8),
    }
}

/// Columns a wide table's row group is written in at a time (see
/// [`ParquetWriter::write_held`]).
const BLOCK_COLUMNS: usize = 512;

/// Whether a table with `schema` is written a block of columns at a time: a wide
/// one (see [`WIDE_TABLE_COLUMNS`]) whose columns are one Parquet column each, or
/// one without columns, whose rows only its row groups' counts hold (the `parquet`
/// crate counts a row group's rows by its columns).
fn written_by_blocks(schema: &SchemaRef) -> bool {
    let fields = schema.fields();
    fields.is_empty()
        || (fields.len() >= WIDE_TABLE_COLUMNS && fields.iter().all(|f| !f.data_type().is_nested()))
}

/// A column writer factory for each block of [`BLOCK_COLUMNS`] columns of `file`,
/// of a table with `schema` whose columns are one Parquet column each: they make
/// the same writers as the file's own factory for those columns (of the same
/// column types, shared with the file), without those of the other columns.
fn block_factories<W: Write + Send>(
    file: &SerializedFileWriter<W>,
    schema: &SchemaRef,
) -> Result<Vec<ArrowRowGroupWriterFactory>> {
    let root = file.schema_descr().root_schema();
    schema
        .fields()
        .chunks(BLOCK_COLUMNS)
        .zip(root.get_fields().chunks(BLOCK_COLUMNS))
        .map(|(fields, types)| {
            let block = parquet::schema::types::Type::group_type_builder(root.name())
                .with_fields(types.to_vec())
                .build()
                .map_err(pq_err)?;
            let writer = SerializedFileWriter::new(
                std::io::sink(),
                Arc::new(block),
                file.properties().clone(),
            )
            .map_err(pq_err)?;
            Ok(ArrowRowGroupWriterFactory::new(
                &writer,
                Arc::new(Schema::new(fields.to_vec())),
            ))
        })
        .collect()
}

impl<W: Write + Send> TableWriter for ParquetWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        let mut offset = 0;
        while offset < batch.num_rows() {
            let mut take = (SLICE_ROWS - self.pending_rows).min(batch.num_rows() - offset);
            // A slice also ends at the row that takes its values past the row
            // group's byte limit: rows of large values (100 KB texts) would otherwise
            // hold thousands of times that, and make row groups of gigabytes.
            let room = self.max_group_bytes.saturating_sub(self.pending_bytes);
            let (rows_fit, bytes) = rows_within(batch, offset, take, room);
            let full = rows_fit < take || bytes >= room;
            take = rows_fit;
            self.pending_bytes += bytes;
            let rows = if take == batch.num_rows() {
                batch.clone()
            } else {
                batch.slice(offset, take)
            };
            match &mut self.held {
                Some(held) => {
                    let cells = Cells::of_batch(&rows, held)?;
                    held.pending.push(cells);
                }
                None => self.pending.push(Part::new(&rows)),
            }
            self.pending_rows += take;
            offset += take;
            if self.pending_rows == SLICE_ROWS || full {
                self.write_slice()?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<WriteSummary> {
        self.write_slice()?;
        if let Some(mut held) = self.held.take() {
            self.write_held(&mut held)?;
        }
        self.flush()?;
        // A table without rows is a file all the same.
        self.open(None)?;
        if let Some(mut file) = self.wide.take() {
            file.footer.write_to(&mut file.out)?;
            file.out
                .flush()
                .map_err(|e| Error::io("<parquet output>", e))?;
            return Ok(WriteSummary { rows: self.rows });
        }
        let (file, _) = self.file()?;
        file.finish().map_err(pq_err)?;
        file.inner_mut()
            .flush()
            .map_err(|e| Error::io("<parquet output>", e))?;
        Ok(WriteSummary { rows: self.rows })
    }
}

#[cfg(test)]
mod tests {
    use parquet::basic::{Compression, Encoding};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use transmogrify_core::Processor;

    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;

    use crate::test_output::FillsUp;

    use super::{
        DICTIONARY_PAGE_LIMIT, ParquetWriter, Part, Rows, SLICE_ROWS, SNAPPY_SAMPLE_BYTES,
        WIDE_TABLE_COLUMNS, compression, properties, snappy_shrinks,
    };
    use crate::output::WriteResultExt;
    use crate::parquet_footer::FOOTER_MEMORY_BYTES;
    use crate::spare::Spare;
    use crate::writer::{DEFAULT_ROW_GROUP_BYTES, ParquetCompression, TableWriter, WriteOptions};

    /// Hex text of `n` bytes that snappy cannot shrink by a tenth.
    fn random_hex(n: usize, seed: u64) -> String {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                char::from(b"0123456789abcdef"[(state >> 60) as usize])
            })
            .collect()
    }

    /// Snappy is tried on the column's first values up to a bound, not on all of
    /// them (rows of large texts made a sample of tens of megabytes), and on the
    /// values of the slice it is given, not on the rest of their buffer.
    #[test]
    fn snappy_is_tried_on_the_first_values_of_the_slice() {
        let column = |values: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(values)) };
        let repeated = "the same words again and again ".repeat(4_000);
        assert!(snappy_shrinks(&column(vec![repeated.clone(); 4])));
        assert!(!snappy_shrinks(&column(vec![random_hex(100_000, 1); 1])));
        // Incompressible values past the bound first, then many that shrink.
        let mut values: Vec<String> = (0..4)
            .map(|i| random_hex(SNAPPY_SAMPLE_BYTES / 3, i))
            .collect();
        values.extend(std::iter::repeat_n(repeated.clone(), 200));
        assert!(!snappy_shrinks(&column(values)));
        // A slice of incompressible values whose buffer goes on with values that
        // shrink.
        let mut values = vec![random_hex(50_000, 7); 2];
        values.extend(std::iter::repeat_n(repeated, 50));
        assert!(!snappy_shrinks(&column(values).slice(0, 2)));
    }

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
        // A narrow table has page indexes.
        assert!(
            group
                .columns()
                .iter()
                .all(|c| c.offset_index_offset().is_some())
        );
        Ok(())
    }

    /// Every column chunk, of text and typed tables, narrow and wide, under each codec,
    /// is encoded plain or with a dictionary: encodings every common reader takes
    /// (fastparquet, one of pandas' engines, reads no delta encoding).
    #[test]
    fn files_use_only_the_encodings_every_reader_takes() -> Result<(), Box<dyn std::error::Error>> {
        let records: String = (0..3_000u64)
            .map(|i| {
                format!(
                    "{{\"id\":{i},\"big\":1234567890123456789{},\"f\":{i}.5,\"b\":{},\"k{}\":\"v\",\"items\":[{{\"n\":{i}}},{{\"n\":\"x\"}}]}}\n",
                    i % 10,
                    i % 2 == 0,
                    i % 1_500
                )
            })
            .collect();
        let allowed = [Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY];
        let mut chunks = 0;
        for typed in [false, true] {
            let config = transmogrify_core::ProcessorConfig::builder()
                .with_cast_to_string(!typed)
                .build()?;
            let result = Processor::new(config).process(records.as_bytes(), "t")?;
            for codec in [
                ParquetCompression::Snappy,
                ParquetCompression::Zstd(3),
                ParquetCompression::None,
            ] {
                let options = WriteOptions::builder()
                    .with_parquet_compression(codec)
                    .build()?;
                for file in result.to_bytes("parquet", &options)? {
                    let reader = SerializedFileReader::new(bytes::Bytes::from(file.bytes))?;
                    let metadata = reader.metadata();
                    for group in metadata.row_groups() {
                        for column in group.columns() {
                            let encodings: Vec<Encoding> = column.encodings().collect();
                            assert!(
                                encodings.iter().all(|e| allowed.contains(e)),
                                "{} {}: {encodings:?}",
                                file.table,
                                column.column_path()
                            );
                            chunks += 1;
                        }
                    }
                }
            }
        }
        // The main table is wide (1,500 keys and more): written a block at a time.
        assert!(chunks > 2 * 3 * 1_500, "{chunks} column chunks");
        Ok(())
    }

    #[test]
    fn dictionaries_only_for_columns_whose_values_repeat() -> Result<(), Box<dyn std::error::Error>>
    {
        // 20,000 rows: `name` holds distinct 32-digit hex values (which snappy cannot
        // shrink) throughout; `late` repeats 100 values over the first 1,000 rows and is
        // distinct after them (720 KB as a dictionary, under the `parquet` crate's
        // default limit of 1 MB, past ours); `city` takes 3,000 values at random,
        // `kind` three.
        let hex = |i: u64| {
            let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let records: String = (0..20_000u64)
            .map(|i| {
                let name = format!("{:016x}{:016x}", hex(2 * i), hex(2 * i + 1));
                let late = if i < 1_000 {
                    format!("r{}", i % 100)
                } else {
                    format!("{:016x}{:016x}", hex(3 * i), hex(3 * i + 1))
                };
                let city = format!("city {}", hex(5 * i) % 3_000);
                format!(
                    "{{\"kind\":\"k{}\",\"name\":\"{name}\",\"late\":\"{late}\",\"city\":\"{city}\"}}\n",
                    i % 3
                )
            })
            .collect();
        let result = Processor::default().process(records.as_bytes(), "t")?;
        let files = result.to_parquet_bytes()?;
        let reader = SerializedFileReader::new(bytes::Bytes::from(files[0].bytes.clone()))?;
        let group = reader.metadata().row_group(0);
        let column = |name: &str| {
            group
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .cloned()
                .ok_or("no such column")
        };
        // Encodings of the data pages of a column of row group 0.
        let data_pages = |name: &str| -> Result<Vec<Encoding>, Box<dyn std::error::Error>> {
            let index = group
                .columns()
                .iter()
                .position(|c| c.column_path().string() == name)
                .ok_or("no such column")?;
            let mut pages = reader.get_row_group(0)?.get_column_page_reader(index)?;
            let mut encodings = Vec::new();
            while let Some(page) = pages.get_next_page()? {
                if page.page_type() != parquet::basic::PageType::DICTIONARY_PAGE {
                    encodings.push(page.encoding());
                }
            }
            Ok(encodings)
        };
        // Distinct from the first rows: plain from the first page, no dictionary.
        assert_eq!(column("name")?.dictionary_page_offset(), None);
        let name_pages = data_pages("name")?;
        assert!(
            name_pages.iter().all(|e| *e == Encoding::PLAIN),
            "{name_pages:?}"
        );
        // Distinct later: the dictionary is given up at our limit, far below the
        // crate's own 1 MB, as soon as it passes it (by one value of 32 bytes and
        // its length).
        let index = group
            .columns()
            .iter()
            .position(|c| c.column_path().string() == "late")
            .ok_or("no such column")?;
        let mut pages = reader.get_row_group(0)?.get_column_page_reader(index)?;
        let dictionary = pages.get_next_page()?.ok_or("no pages")?;
        assert_eq!(
            dictionary.page_type(),
            parquet::basic::PageType::DICTIONARY_PAGE
        );
        let dictionary_bytes = dictionary.buffer().len();
        assert!(
            (DICTIONARY_PAGE_LIMIT + 1..=DICTIONARY_PAGE_LIMIT + 36).contains(&dictionary_bytes),
            "{dictionary_bytes}"
        );
        let late_pages = data_pages("late")?;
        assert_eq!(late_pages.first(), Some(&Encoding::RLE_DICTIONARY));
        assert_eq!(late_pages.last(), Some(&Encoding::PLAIN));
        // Values that repeat keep their dictionary all along, even when the first
        // rows of a column of 3,000 values are mostly distinct.
        for name in ["kind", "city"] {
            let pages = data_pages(name)?;
            assert!(
                pages.iter().all(|e| *e == Encoding::RLE_DICTIONARY),
                "{name}: {pages:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_table_without_rows_is_a_parquet_file_with_its_columns()
    -> Result<(), Box<dyn std::error::Error>> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        for batches in [0, 1] {
            let mut out = Vec::new();
            let mut writer = Box::new(ParquetWriter::new(
                &mut out,
                &schema,
                &WriteOptions::default(),
            )?);
            for _ in 0..batches {
                writer.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            assert_eq!(writer.finish()?.rows, 0);
            let reader = SerializedFileReader::new(bytes::Bytes::from(out))?;
            let metadata = reader.metadata().file_metadata();
            assert_eq!(metadata.num_rows(), 0);
            let names: Vec<&str> = metadata
                .schema_descr()
                .columns()
                .iter()
                .map(|c| c.name())
                .collect();
            assert_eq!(names, ["a", "n"]);
        }
        Ok(())
    }

    #[test]
    fn a_table_without_columns_keeps_its_rows_in_its_row_groups()
    -> Result<(), Box<dyn std::error::Error>> {
        // Records of arrays only, written without ids or times.
        let schema = Arc::new(Schema::empty());
        let mut out = Vec::new();
        let options = WriteOptions {
            row_group_size: 5,
            ..WriteOptions::default()
        };
        let mut writer = Box::new(ParquetWriter::new(&mut out, &schema, &options)?);
        for rows in [3, 4] {
            let batch = RecordBatch::try_new_with_options(
                schema.clone(),
                Vec::new(),
                &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
            )?;
            writer.write(&batch)?;
        }
        assert_eq!(writer.finish()?.rows, 7);
        let reader = SerializedFileReader::new(bytes::Bytes::from(out))?;
        assert_eq!(reader.metadata().file_metadata().num_rows(), 7);
        let groups: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, [5, 2]);
        assert_eq!(
            reader
                .metadata()
                .file_metadata()
                .schema_descr()
                .num_columns(),
            0
        );
        Ok(())
    }

    #[test]
    fn with_snappy_ids_times_and_random_text_are_stored_uncompressed()
    -> Result<(), Box<dyn std::error::Error>> {
        // `hex` is distinct random hex (snappy shrinks it by a few percent), `note`
        // distinct text that shrinks by half.
        let mut rng = crate::test_rng::XorShift::new(3);
        let records: String = (0..300)
            .map(|i| {
                format!(
                    "{{\"kind\":\"k{}\",\"hex\":\"{:016x}{:016x}\",\"note\":\"order {i:06} shipped to the north warehouse\",\"items\":[{{\"n\":1}},{{\"n\":2}}]}}\n",
                    i % 3,
                    rng.next_u64(),
                    rng.next_u64()
                )
            })
            .collect();
        let result = Processor::default().process(records.as_bytes(), "t")?;
        let codecs = |options: &WriteOptions| -> Result<Vec<(String, Compression)>, Box<dyn std::error::Error>> {
            let mut codecs = Vec::new();
            for file in result.to_bytes("parquet", options)? {
                let reader = SerializedFileReader::new(bytes::Bytes::from(file.bytes.clone()))?;
                for column in reader.metadata().row_group(0).columns() {
                    let name = format!("{}.{}", file.table, column.column_path().string());
                    codecs.push((name, column.compression()));
                }
            }
            Ok(codecs)
        };
        let snappy = codecs(&WriteOptions::default())?;
        let expected = |name: &str, codec| (name.to_string(), codec);
        assert!(
            snappy.contains(&expected("t.kind", Compression::SNAPPY)),
            "{snappy:?}"
        );
        assert!(snappy.contains(&expected("t.__extract_id", Compression::UNCOMPRESSED)));
        // Plain columns whose first values snappy does not shrink by a tenth.
        assert!(snappy.contains(&expected("t.hex", Compression::UNCOMPRESSED)));
        assert!(snappy.contains(&expected("t.note", Compression::SNAPPY)));
        assert!(snappy.contains(&expected("t_items.n", Compression::SNAPPY)));
        assert!(snappy.contains(&expected("t_items.__extract_id", Compression::UNCOMPRESSED)));
        // Parent ids and times are written by their runs, without compression.
        assert!(snappy.contains(&expected(
            "t_items.__parent_extract_id",
            Compression::UNCOMPRESSED
        )));
        assert!(snappy.contains(&expected(
            "t_items.__extract_datetime",
            Compression::UNCOMPRESSED
        )));
        let zstd = codecs(
            &WriteOptions::builder()
                .with_parquet_compression(ParquetCompression::Zstd(3))
                .build()?,
        )?;
        assert!(!zstd.is_empty());
        assert!(
            zstd.iter()
                .all(|(_, codec)| matches!(codec, Compression::ZSTD(_))),
            "{zstd:?}"
        );
        Ok(())
    }

    /// What the parquet crate's own Arrow writer makes of `batch` fed in slices of
    /// [`SLICE_ROWS`] rows, with the settings this writer would choose; checked to
    /// have at least three row groups.
    fn reference_bytes(
        batch: &RecordBatch,
        options: &WriteOptions,
    ) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let schema = batch.schema();
        let rows = batch.num_rows();
        // The slices: of SLICE_ROWS rows, or ending at the row that takes their
        // values to the byte limit.
        let mut slices = Vec::new();
        let mut offset = 0;
        while offset < rows {
            let len = SLICE_ROWS.min(rows - offset);
            let (len, _) = super::rows_within(batch, offset, len, options.row_group_bytes);
            slices.push(batch.slice(offset, len));
            offset += len;
        }
        let mut expected = Vec::new();
        let first = slices.first().cloned().unwrap_or_else(|| batch.clone());
        let mut reference = ArrowWriter::try_new(
            &mut expected,
            schema.clone(),
            Some(properties(
                &schema,
                compression(options)?,
                options.row_group_size,
                options.row_group_bytes,
                Some(&Rows::new(vec![Part::new(&first)], first.num_rows())),
            )),
        )?;
        for slice in &slices {
            reference.write(slice)?;
        }
        reference.close()?;
        let groups = SerializedFileReader::new(bytes::Bytes::from(expected.clone()))?
            .metadata()
            .num_row_groups();
        assert!(groups >= 3, "{groups} row groups");
        Ok(expected)
    }

    /// A table of `rows` rows of text columns of every kind this writer encodes
    /// itself, from a fixed seed: short codes with nulls (a dictionary), unique
    /// keys with nulls (plain), values that repeat for the first half and are
    /// unique after (a dictionary given up), long text of characters of one to
    /// four bytes (statistics truncated; in the first half, now and then the
    /// largest value there can be of its length, which no shorter bound exceeds),
    /// empty strings and nulls,
    /// nulls alone, and a required column.
    fn edge_text_table(rows: usize) -> Result<RecordBatch, Box<dyn std::error::Error>> {
        let mut rng = crate::test_rng::XorShift::new(0x0bad_cafe_f00d_1234);
        let chars = [
            'a', 'z', '~', '\u{7f}', '\u{7ff}', 'é', '中', '\u{ffff}', '😀',
        ];
        let mut columns: Vec<Vec<Option<String>>> =
            (0..7).map(|_| Vec::with_capacity(rows)).collect();
        for r in 0..rows {
            let n = rng.next_u64();
            let len = [40, 70][(n % 2) as usize];
            let long: String = (0..len)
                .map(|_| chars[(rng.next_u64() % chars.len() as u64) as usize])
                .collect();
            let row = [
                (n % 10 != 0).then(|| format!("c{}", n % 7)),
                (n % 13 != 0).then(|| format!("{:016x}-{r}", rng.next_u64())),
                Some(if r < rows / 2 {
                    format!("g{}", r % 10)
                } else {
                    format!("g{r}")
                }),
                match r % 1_000 {
                    7 if r < rows / 2 => Some("\u{10ffff}".repeat(30)),
                    _ => (n % 17 != 0).then_some(long),
                },
                (r % 3 != 0).then(String::new),
                None,
                Some(format!("r{}", n % 50)),
            ];
            for (column, cell) in columns.iter_mut().zip(row) {
                column.push(cell);
            }
        }
        let names = [
            "codes", "unique", "grows", "long", "empty", "nulls", "required",
        ];
        let fields: Vec<Field> = names
            .iter()
            .map(|name| Field::new(*name, DataType::Utf8, *name != "required"))
            .collect();
        let arrays: Vec<ArrayRef> = columns
            .into_iter()
            .map(|column| Arc::new(StringArray::from(column)) as ArrayRef)
            .collect();
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }

    #[test]
    fn text_columns_encoded_here_read_back_with_the_parquet_crates_statistics()
    -> Result<(), Box<dyn std::error::Error>> {
        use arrow_array::Array;
        use arrow_array::cast::AsArray;
        use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
        use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
        use parquet::file::page_index::column_index::ColumnIndexMetaData;

        let batch = edge_text_table(60_000)?;
        let schema = batch.schema();
        let metadata = |file: Vec<u8>| -> Result<Arc<ParquetMetaData>, Box<dyn std::error::Error>> {
            let options =
                ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
            let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
                bytes::Bytes::from(file),
                options,
            )?;
            Ok(builder.metadata().clone())
        };
        for codec in [ParquetCompression::Snappy, ParquetCompression::None] {
            let options = WriteOptions::builder()
                .with_row_group_size(25_000)
                .with_parquet_compression(codec)
                .build()?;
            let mut out = Vec::new();
            let mut writer = Box::new(ParquetWriter::new(&mut out, &schema, &options)?);
            for (offset, len) in [(0, 1), (1, 999), (1_000, 59_000)] {
                writer.write(&batch.slice(offset, len))?;
            }
            assert_eq!(writer.finish()?.rows, 60_000);
            assert_eq!(read_back(&out, &schema)?, batch);
            let ours = metadata(out)?;
            let theirs = metadata(reference_bytes(&batch, &options)?)?;
            let index = ours.page_index().ok_or("no page index")?;
            assert_eq!(ours.num_row_groups(), 3);
            assert_eq!(theirs.num_row_groups(), 3);
            for (g, (group, reference)) in ours
                .row_groups()
                .iter()
                .zip(theirs.row_groups())
                .enumerate()
            {
                for (c, (chunk, expected)) in
                    group.columns().iter().zip(reference.columns()).enumerate()
                {
                    let name = schema.field(c).name();
                    let at = format!("{name} in row group {g} ({codec:?})");
                    // The chunk's statistics are the crate's, truncation included.
                    assert_eq!(chunk.statistics(), expected.statistics(), "{at}");
                    assert_eq!(chunk.compression(), expected.compression(), "{at}");
                    assert_eq!(
                        chunk.dictionary_page_offset().is_some(),
                        expected.dictionary_page_offset().is_some(),
                        "{at}"
                    );
                    let encodings: Vec<Encoding> = chunk.encodings().collect();
                    assert_eq!(encodings, expected.encodings().collect::<Vec<_>>(), "{at}");
                    assert_eq!(
                        chunk.definition_level_histogram(),
                        expected.definition_level_histogram(),
                        "{at}"
                    );
                    assert_eq!(
                        chunk.unencoded_byte_array_data_bytes(),
                        expected.unencoded_byte_array_data_bytes(),
                        "{at}"
                    );
                    // Each page's entry in the column index bounds its rows.
                    let values = batch.column(c).as_string::<i32>();
                    let pages = index
                        .offset_index(g, c)
                        .ok_or("no offset index")?
                        .page_locations();
                    let column_index = index.column_index(g, c).ok_or("no column index")?;
                    let ColumnIndexMetaData::BYTE_ARRAY(bounds) = column_index else {
                        panic!("{at}: {column_index:?}");
                    };
                    let first_row = g * 25_000;
                    for (p, page) in pages.iter().enumerate() {
                        let start = first_row + page.first_row_index as usize;
                        let end = pages
                            .get(p + 1)
                            .map_or(first_row + group.num_rows() as usize, |next| {
                                first_row + next.first_row_index as usize
                            });
                        let rows: Vec<Option<&str>> = (start..end)
                            .map(|r| values.is_valid(r).then(|| values.value(r)))
                            .collect();
                        let nulls = rows.iter().filter(|v| v.is_none()).count();
                        assert_eq!(column_index.null_count(p), Some(nulls as i64), "{at}");
                        assert_eq!(column_index.is_null_page(p), nulls == rows.len(), "{at}");
                        if nulls == rows.len() {
                            continue;
                        }
                        let (min, max) = (
                            bounds.min_value(p).ok_or("no minimum")?,
                            bounds.max_value(p).ok_or("no maximum")?,
                        );
                        for value in rows.iter().flatten() {
                            assert!(min <= value.as_bytes(), "{at}, page {p}: {value:?}");
                            assert!(value.as_bytes() <= max, "{at}, page {p}: {value:?}");
                        }
                    }
                }
            }
            // The dictionary of the column that turns unique is given up in the
            // middle row group: pages through it, then plain pages.
            let grows = ours.row_group(1).column(2);
            assert!(grows.dictionary_page_offset().is_some());
            let encodings: Vec<Encoding> = grows.encodings().collect();
            assert!(
                encodings.contains(&Encoding::RLE_DICTIONARY),
                "{encodings:?}"
            );
            assert!(encodings.contains(&Encoding::PLAIN), "{encodings:?}");
        }
        Ok(())
    }

    #[test]
    fn levels_in_runs_of_eight_longer_than_their_room_read_back()
    -> Result<(), Box<dyn std::error::Error>> {
        // Nulls and values in runs of eight: each run repeats, two bytes for eight
        // rows, more than the room a page keeps for its levels before its plain
        // values (a unique key per value); and a dictionary column alike.
        let rows = 45_000;
        let unique: StringArray = (0..rows)
            .map(|r| ((r / 8) % 2 == 0).then(|| format!("{:08x}-{r}", r * 7919)))
            .collect();
        let codes: StringArray = (0..rows)
            .map(|r| ((r / 8) % 2 == 1).then(|| format!("c{}", r % 5)))
            .collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("unique", DataType::Utf8, true),
            Field::new("codes", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(unique) as ArrayRef, Arc::new(codes) as ArrayRef],
        )?;
        for codec in [ParquetCompression::Snappy, ParquetCompression::None] {
            let options = WriteOptions::builder()
                .with_row_group_size(15_000)
                .with_parquet_compression(codec)
                .build()?;
            let written = expected_bytes(&batch, &options)?;
            let reference = reference_bytes(&batch, &options)?;
            let stats = |file: &[u8]| -> Result<Vec<_>, Box<dyn std::error::Error>> {
                let reader = SerializedFileReader::new(bytes::Bytes::from(file.to_vec()))?;
                Ok(reader
                    .metadata()
                    .row_groups()
                    .iter()
                    .flat_map(|g| g.columns().iter().map(|c| c.statistics().cloned()))
                    .collect())
            };
            assert_eq!(stats(&written)?, stats(&reference)?, "{codec:?}");
        }
        Ok(())
    }

    /// The bytes `batch` is expected to be written as, however its rows arrive:
    /// with zstd, the parquet crate's own (see [`reference_bytes`]); otherwise,
    /// with text columns encoded here, this writer's when handed `batch` whole,
    /// checked to read back as `batch`, in as many row groups as the crate's.
    fn expected_bytes(
        batch: &RecordBatch,
        options: &WriteOptions,
    ) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let reference = reference_bytes(batch, options)?;
        if matches!(options.parquet_compression, ParquetCompression::Zstd(_)) {
            return Ok(reference);
        }
        let mut out = Vec::new();
        let mut writer = Box::new(ParquetWriter::new(&mut out, &batch.schema(), options)?);
        writer.write(batch)?;
        assert_eq!(writer.finish()?.rows, batch.num_rows() as u64);
        assert_eq!(read_back(&out, &batch.schema())?, *batch);
        let groups = |file: &[u8]| {
            SerializedFileReader::new(bytes::Bytes::from(file.to_vec()))
                .map(|r| r.metadata().num_row_groups())
        };
        assert_eq!(groups(&out)?, groups(&reference)?);
        Ok(out)
    }

    #[test]
    fn sparse_rows_in_small_batches_give_the_same_bytes() -> Result<(), Box<dyn std::error::Error>>
    {
        // 400 columns over 20,000 rows, each row with a value in about 3 of them (a
        // column is null throughout most slices), handed over 96 rows at a time.
        let (columns, rows) = (400, 20_000);
        let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut cells: Vec<Vec<Option<String>>> = vec![vec![None; rows]; columns];
        for (r, row) in (0..rows).map(|r| (r, r % 7)) {
            for k in 0..=(row % 4) {
                let c = (rng.next_u64() % columns as u64) as usize;
                cells[c][r] = Some(format!("v{}-{k}", rng.next_u64() % 1000));
            }
        }
        let fields: Vec<Field> = (0..columns)
            .map(|c| Field::new(format!("c{c}"), DataType::Utf8, true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let arrays: Vec<ArrayRef> = cells
            .into_iter()
            .map(|column| Arc::new(StringArray::from(column)) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays)?;
        // Row groups closed inside slices by the row limit, and by the byte limit;
        // with zstd the crate encodes every column, with snappy this writer does.
        let limits = [(5_000, DEFAULT_ROW_GROUP_BYTES), (1 << 20, 64 << 10)];
        let codecs = [ParquetCompression::Zstd(1), ParquetCompression::Snappy];
        for ((group_rows, group_bytes), codec) in
            limits.into_iter().flat_map(|l| codecs.map(|c| (l, c)))
        {
            let options = WriteOptions::builder()
                .with_row_group_size(group_rows)
                .with_row_group_bytes(group_bytes)
                .with_parquet_compression(codec)
                .build()?;
            let expected = expected_bytes(&batch, &options)?;
            let mut out = Vec::new();
            let mut writer = Box::new(ParquetWriter::new(&mut out, &schema, &options)?);
            for offset in (0..rows).step_by(96) {
                writer.write(&batch.slice(offset, 96.min(rows - offset)))?;
            }
            assert_eq!(writer.finish()?.rows, rows as u64);
            assert!(
                out == expected,
                "bytes differ ({group_rows} rows, {group_bytes} bytes, {codec:?})"
            );
        }
        Ok(())
    }

    #[test]
    fn rows_of_large_values_close_slices_and_row_groups_at_the_byte_limit()
    -> Result<(), Box<dyn std::error::Error>> {
        // 3,000 rows of 5-15 KB texts (and a null in every seventh), about 30 MB,
        // with a row group limit of 1 MiB: a slice ends at the row that takes its
        // values past the limit, so no more than that is held, and every row group
        // closes there, however the rows are handed over.
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let rows = 3_000;
        let texts: Vec<Option<String>> = (0..rows)
            .map(|r| {
                let len = 5_000 + (rng.next_u64() % 10_000) as usize;
                // Random letters: snappy does not shrink them much.
                let text: String = (0..len)
                    .map(|_| char::from(b'a' + (rng.next_u64() % 26) as u8))
                    .collect();
                (r % 7 != 3).then_some(text)
            })
            .collect();
        let ids: Vec<String> = (0..rows).map(|r| format!("id-{r}")).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("text", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(ids.clone())),
                Arc::new(StringArray::from(texts.clone())),
            ],
        )?;
        let limit = 1 << 20;
        let options = WriteOptions::builder()
            .with_row_group_bytes(limit)
            .build()?;
        let mut whole = Vec::new();
        let mut writer = Box::new(ParquetWriter::new(&mut whole, &schema, &options)?);
        writer.write(&batch)?;
        writer.finish()?;
        let mut out = Vec::new();
        let mut writer = Box::new(ParquetWriter::new(&mut out, &schema, &options)?);
        let mut offset = 0;
        for len in [1, 95, 400, 33, 751].iter().cycle() {
            let len = (*len).min(rows - offset);
            writer.write(&batch.slice(offset, len))?;
            // Held: under the limit, or one row past it until the slice is written.
            assert!(writer.pending_bytes < limit, "{}", writer.pending_bytes);
            offset += len;
            if offset == rows {
                break;
            }
        }
        writer.finish()?;
        assert!(
            out == whole,
            "the bytes depend on how the rows were handed over"
        );
        assert_eq!(read_back(&out, &schema)?, batch);
        // Row groups close once their pages pass the limit: they hold about the
        // limit (the rows of a slice or two), not thousands of rows.
        let reader = SerializedFileReader::new(bytes::Bytes::from(out))?;
        let groups: Vec<(i64, i64)> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| (g.num_rows(), g.compressed_size()))
            .collect();
        assert!(groups.len() > 12, "{groups:?}");
        for &(rows, bytes) in &groups {
            assert!(rows < 300 && bytes < 2 * limit as i64, "{groups:?}");
        }
        Ok(())
    }

    /// A table of as many columns as make a table wide, plus some, and `rows` rows:
    /// text columns with values in about one row in 300, in one in 20 (neither
    /// sparse enough to go uncompressed nor dense), dense ones, one null
    /// throughout, one dense in its first rows and sparse after, and integer
    /// columns, sparse and dense.
    fn wide_table(rows: usize) -> Result<RecordBatch, Box<dyn std::error::Error>> {
        let columns = WIDE_TABLE_COLUMNS + 40;
        let mut rng = crate::test_rng::XorShift::new(0x51_7cc1_b727_220a);
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for c in 0..columns {
            let every = match c % 10 {
                0 => 20,
                1 => 1,
                _ => 300,
            };
            let cell = |r: usize, rng: &mut crate::test_rng::XorShift| {
                let n = rng.next_u64();
                let dense_start = c == 5 && r < 1_000;
                (c != 7 && (dense_start || n % every == 0)).then_some(n % 5_000)
            };
            if c % 97 == 3 {
                fields.push(Field::new(format!("n{c}"), DataType::Int64, true));
                let values: arrow_array::Int64Array = (0..rows)
                    .map(|r| cell(r, &mut rng).map(|n| n as i64 - 2_500))
                    .collect();
                arrays.push(Arc::new(values));
            } else {
                fields.push(Field::new(format!("c{c}"), DataType::Utf8, true));
                let values: StringArray = (0..rows)
                    .map(|r| cell(r, &mut rng).map(|n| format!("v{n}")))
                    .collect();
                arrays.push(Arc::new(values));
            }
        }
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }

    /// `batch` written with `options`, handed over in uneven batches (which slices
    /// cut and join).
    fn written_unevenly(
        batch: &RecordBatch,
        options: &WriteOptions,
    ) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        written_unevenly_with_footer_memory(batch, options, FOOTER_MEMORY_BYTES)
    }

    /// [`written_unevenly`], a wide table's footer kept in at most `footer_memory`
    /// bytes.
    fn written_unevenly_with_footer_memory(
        batch: &RecordBatch,
        options: &WriteOptions,
        footer_memory: usize,
    ) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let rows = batch.num_rows();
        let mut out = Vec::new();
        let mut writer = Box::new(ParquetWriter::new(&mut out, &batch.schema(), options)?);
        writer.footer_memory = footer_memory;
        let mut offset = 0;
        for len in [1, 95, 4_000, 333, 7_571].iter().cycle() {
            let len = (*len).min(rows - offset);
            writer.write(&batch.slice(offset, len))?;
            offset += len;
            if offset == rows {
                break;
            }
        }
        assert_eq!(writer.finish()?.rows, rows as u64);
        Ok(out)
    }

    /// The rows of `file` read back as one batch of `schema`.
    fn read_back(
        file: &[u8],
        schema: &arrow_schema::SchemaRef,
    ) -> Result<RecordBatch, Box<dyn std::error::Error>> {
        let read: Vec<RecordBatch> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                bytes::Bytes::from(file.to_vec()),
            )?
            .build()?
            .collect::<Result<_, _>>()?;
        Ok(arrow_select::concat::concat_batches(schema, &read)?)
    }

    #[test]
    fn a_wide_table_kept_compact_gives_the_parquet_crates_own_bytes()
    -> Result<(), Box<dyn std::error::Error>> {
        let batch = wide_table(12_000)?;
        let schema = batch.schema();
        let options = WriteOptions::builder().with_row_group_size(5_000).build()?;
        let expected = reference_bytes(&batch, &options)?;
        for spare in [None, Some(Arc::new(Spare::new(3)))] {
            let options = WriteOptions {
                spare: spare.clone(),
                ..options.clone()
            };
            let out = written_unevenly(&batch, &options)?;
            assert!(out == expected, "bytes differ (spare: {})", spare.is_some());
        }
        // The values come back, and the sparsest columns are not compressed.
        let reader = SerializedFileReader::new(bytes::Bytes::from(expected.clone()))?;
        let codec = |name: &str| {
            reader
                .metadata()
                .row_group(0)
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .map(|c| c.compression())
        };
        assert_eq!(codec("c2"), Some(Compression::UNCOMPRESSED));
        assert_eq!(codec("c7"), Some(Compression::UNCOMPRESSED));
        assert_eq!(codec("c0"), Some(Compression::SNAPPY));
        assert_eq!(codec("c1"), Some(Compression::SNAPPY));
        assert_eq!(codec("c5"), Some(Compression::SNAPPY));
        // Statistics per column chunk, no page indexes.
        for group in reader.metadata().row_groups() {
            for column in group.columns() {
                assert_eq!(column.offset_index_offset(), None);
                assert_eq!(column.column_index_offset(), None);
            }
            let c0 = group.column(0).statistics().ok_or("no statistics")?;
            assert!(c0.min_bytes_opt().is_some() && c0.max_bytes_opt().is_some());
        }
        assert!(
            read_back(&expected, &schema)? == batch,
            "the values read back differ"
        );
        Ok(())
    }

    #[test]
    fn a_wide_tables_footer_kept_on_disk_gives_the_parquet_crates_own_bytes()
    -> Result<(), Box<dyn std::error::Error>> {
        // 18 row groups: more than a one-byte list header counts.
        let batch = wide_table(12_000)?;
        let options = WriteOptions::builder().with_row_group_size(700).build()?;
        let expected = reference_bytes(&batch, &options)?;
        let reader = SerializedFileReader::new(bytes::Bytes::from(expected.clone()))?;
        assert_eq!(reader.metadata().num_row_groups(), 18);
        // Kept in memory, moved to a file after every row group, after a few.
        for footer_memory in [FOOTER_MEMORY_BYTES, 0, 200_000] {
            let out = written_unevenly_with_footer_memory(&batch, &options, footer_memory)?;
            assert!(
                out == expected,
                "bytes differ ({footer_memory} bytes in memory)"
            );
        }
        // No rows: the crate's file of no row groups.
        let empty = batch.slice(0, 0);
        let mut expected = Vec::new();
        ArrowWriter::try_new(
            &mut expected,
            batch.schema(),
            Some(properties(
                &batch.schema(),
                Compression::SNAPPY,
                700,
                1 << 20,
                None,
            )),
        )?
        .close()?;
        let mut out = Vec::new();
        let mut writer = Box::new(ParquetWriter::new(&mut out, &empty.schema(), &options)?);
        writer.write(&empty)?;
        assert_eq!(writer.finish()?.rows, 0);
        assert!(out == expected, "the files of no rows differ");
        // A spill directory that cannot take the footer is an error naming it.
        let options = WriteOptions::builder()
            .with_row_group_size(700)
            .with_spill_dir(Some("/nonexistent/transmogrify-spill".into()))
            .build()?;
        let err = written_unevenly_with_footer_memory(&batch, &options, 0)
            .err()
            .ok_or("writing succeeded")?;
        assert!(
            err.to_string().contains("parquet footer spill file"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn a_wide_row_group_closes_once_its_cells_pass_the_byte_limit()
    -> Result<(), Box<dyn std::error::Error>> {
        // A slice of 8,192 rows holds about 4 MB of values (a tenth of the columns
        // are dense): with a limit of 1 MiB a slice ends at the row that takes its
        // values to 1 MiB, and closes its row group; with the default one row
        // group holds them all.
        let batch = wide_table(20_000)?;
        let schema = batch.schema();
        let mut cuts = Vec::new();
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = SLICE_ROWS.min(batch.num_rows() - offset);
            let (len, _) = super::rows_within(&batch, offset, len, 1 << 20);
            cuts.push(len as i64);
            offset += len;
        }
        assert!(
            cuts.len() > 8 && cuts.iter().all(|&n| n < 2_000),
            "{cuts:?}"
        );
        for (limit, groups) in [(1 << 20, cuts), (DEFAULT_ROW_GROUP_BYTES, vec![20_000])] {
            let mut files = Vec::new();
            for spare in [None, Some(Arc::new(Spare::new(3)))] {
                let options = WriteOptions::builder()
                    .with_row_group_bytes(limit)
                    .build()?;
                let options = WriteOptions { spare, ..options };
                files.push(written_unevenly(&batch, &options)?);
            }
            assert!(files[0] == files[1], "bytes differ with spare threads");
            let reader = SerializedFileReader::new(bytes::Bytes::from(files[0].clone()))?;
            let rows: Vec<i64> = reader
                .metadata()
                .row_groups()
                .iter()
                .map(|g| g.num_rows())
                .collect();
            assert_eq!(rows, groups, "row groups with a limit of {limit} bytes");
            assert!(
                read_back(&files[0], &schema)? == batch,
                "the values read back differ"
            );
        }
        Ok(())
    }

    #[test]
    fn output_failing_while_a_wide_row_group_is_written_is_an_error()
    -> Result<(), Box<dyn std::error::Error>> {
        // Three row groups: the output fails in the first, in the last, and in the
        // footer.
        let batch = wide_table(12_000)?;
        let grouped = WriteOptions::builder().with_row_group_size(5_000).build()?;
        let whole = written_unevenly(&batch, &grouped)?;
        let reader = SerializedFileReader::new(bytes::Bytes::from(whole.clone()))?;
        let last = reader
            .metadata()
            .row_group(2)
            .columns()
            .first()
            .map_or(0, |c| c.byte_range().0 as usize);
        assert!(last > 10_000, "the last row group starts at {last}");
        for left in [10_000, last + 1_000, whole.len() - 10] {
            for spare in [None, Some(Arc::new(Spare::new(3)))] {
                let options = WriteOptions {
                    spare,
                    ..grouped.clone()
                };
                let mut writer = Box::new(ParquetWriter::new(
                    FillsUp { left },
                    &batch.schema(),
                    &options,
                )?);
                let written = writer
                    .write(&batch.slice(0, 9_000))
                    .and_then(|()| writer.write(&batch.slice(9_000, 3_000)))
                    .and_then(|()| writer.finish());
                let Err(e) = written else {
                    panic!("{left} bytes of room: the write succeeded");
                };
                assert!(
                    format!("{e}").contains("no space left on the test device"),
                    "{left} bytes of room: {e}"
                );
            }
        }
        Ok(())
    }

    /// A table of `columns` text columns and `rows` rows: short codes (dictionary
    /// pages), longer unique text and some nulls, from a fixed seed.
    fn text_table(columns: usize, rows: usize) -> Result<RecordBatch, Box<dyn std::error::Error>> {
        let fields: Vec<Field> = (0..columns)
            .map(|c| Field::new(format!("c{c}"), DataType::Utf8, true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next_u64();
        let arrays: Vec<ArrayRef> = (0..columns)
            .map(|c| {
                let values: StringArray = (0..rows)
                    .map(|_| {
                        let r = next();
                        match (c % 3, r % 10) {
                            (_, 0) => None,
                            (0, _) => Some(format!("k{}", r % 7)),
                            (1, _) => Some(format!("{r:016x}-{c}")),
                            _ => Some(format!("v{}", r % 5000)),
                        }
                    })
                    .collect();
                Arc::new(values) as ArrayRef
            })
            .collect();
        Ok(RecordBatch::try_new(schema, arrays)?)
    }

    #[test]
    fn columns_encoded_on_spare_threads_give_the_same_bytes()
    -> Result<(), Box<dyn std::error::Error>> {
        let batch = text_table(24, 30_000)?;
        let schema = batch.schema();
        // Row groups closed by the row limit, then by the byte limit; columns
        // encoded by the crate (zstd), and here (snappy).
        let limits = [(10_000, DEFAULT_ROW_GROUP_BYTES), (65_536, 1 << 20)];
        let codecs = [ParquetCompression::Zstd(1), ParquetCompression::Snappy];
        for ((rows, bytes), codec) in limits.into_iter().flat_map(|l| codecs.map(|c| (l, c))) {
            let options = WriteOptions::builder()
                .with_row_group_size(rows)
                .with_row_group_bytes(bytes)
                .with_parquet_compression(codec)
                .build()?;
            let expected = expected_bytes(&batch, &options)?;
            for spare in [None, Some(Arc::new(Spare::new(4)))] {
                let options = WriteOptions {
                    spare: spare.clone(),
                    ..options.clone()
                };
                let mut out = Vec::new();
                let mut writer = Box::new(ParquetWriter::new(&mut out, &schema, &options)?);
                writer.write(&batch.slice(0, 1_000))?;
                writer.write(&batch.slice(1_000, batch.num_rows() - 1_000))?;
                assert_eq!(writer.finish()?.rows, batch.num_rows() as u64);
                assert!(
                    out == expected,
                    "bytes differ (spare: {}, {codec:?})",
                    spare.is_some()
                );
                // Every borrowed processor was given back.
                if let Some(spare) = spare {
                    assert_eq!((0..5).filter(|_| spare.try_take()).count(), 4);
                }
            }
        }
        Ok(())
    }
}
