//! Parquet reader: each row becomes the JSON object it would have been.
//!
//! Structs become objects, lists arrays, maps objects keyed by the map key's text;
//! integers and decimals become JSON numbers with their exact digits, floats numbers
//! that always show a fraction or exponent (so `3.0` stays a float), dates and
//! timestamps strings (`2024-01-02`, `2024-01-02 03:04:05.123`), UUIDs their
//! hyphenated text, fixed-size binary hex, binary a string (hex when it is not
//! UTF-8). The record is then flattened exactly as that JSON
//! text would be. Positions: the ordinal is the row number, the line the row number
//! plus one, the column 1 and the byte offset where the row's row group starts in
//! the file (its first page).

use std::fs::File;
use std::io::{Seek, Write};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use transmogrify_core::Position;

use crate::error::{Error, Result};
use crate::guard::guarded;
use crate::input::{Compression, Input};
use crate::json_text::{json_key, push_json_string};
use crate::reader::{RawBatch, Reader, ReaderOptions};

/// Reads Parquet rows as JSON object records.
pub(crate) struct ParquetReader {
    source: Arc<str>,
    batches: Batches,
    /// The first and last row being decoded, named by a decoding error.
    reading: Option<(u64, u64)>,
    row: u64,
    num_rows: u64,
    /// Rows a batch holds (the last may hold fewer).
    batch_rows: u64,
    total: Option<u64>,
    /// Whether null cells are left out of the records (see
    /// [`ReaderOptions::skip_null`](crate::ReaderOptions::skip_null)).
    skip_null: bool,
    /// Per row of the batch being converted, its columns with a value (when
    /// `skip_null`).
    present: Vec<Vec<u32>>,
    /// The file's leaf columns.
    leaves: usize,
    /// Batches converted but not yet handed on (see [`BATCH_SPREAD`]).
    queued: std::collections::VecDeque<RawBatch>,
    /// The columns' keys, already JSON-quoted (`"name":`), once the first batch
    /// has been read.
    keys: Option<Vec<Vec<u8>>>,
    done: bool,
    /// Whether the reading goes on after the error just handed on (the rows of a
    /// damaged row group are lost, the next group's are read).
    goes_on: bool,
    /// Each row group's first row and where it starts in the file (its first
    /// page): a row's byte offset is its group's.
    groups: Vec<(u64, u64)>,
}

/// The first and last byte of the footer of the Parquet file `file`: from where its
/// last 8 bytes (the metadata's length, then `PAR1`) say the metadata starts, or
/// just those 8 when they do not say where in the file (`None` for a file of fewer
/// than 8 bytes).
fn footer_bytes(file: &File) -> Option<(u64, u64)> {
    use std::io::{Read, SeekFrom};
    let len = file.metadata().ok()?.len();
    let tail = len.checked_sub(8)?;
    let mut end = [0u8; 8];
    let mut file = file;
    file.seek(SeekFrom::Start(tail)).ok()?;
    file.read_exact(&mut end).ok()?;
    let (meta_len, magic) = end.split_at(4);
    let meta_len = u64::from(u32::from_le_bytes(meta_len.try_into().ok()?));
    let start = match tail.checked_sub(meta_len) {
        Some(start) if magic == b"PAR1" && start >= 4 => start,
        _ => tail,
    };
    Some((start, len - 1))
}

/// Each row group's first row and the offset of its first page (a dictionary
/// page, or else the first data page, of any of its columns) in the file.
fn group_starts(metadata: &parquet::file::metadata::ParquetMetaData) -> Vec<(u64, u64)> {
    let mut first = 0u64;
    metadata
        .row_groups()
        .iter()
        .map(|group| {
            let offset = group
                .columns()
                .iter()
                .map(|c| c.dictionary_page_offset().unwrap_or(c.data_page_offset()))
                .min()
                .and_then(|o| u64::try_from(o).ok())
                .unwrap_or(0);
            let start = (first, offset);
            first += u64::try_from(group.num_rows()).unwrap_or(0);
            start
        })
        .collect()
}

/// Where a [`ParquetReader`]'s rows come from.
enum Batches {
    /// Batches of rows with every column, over the whole file.
    Rows(Box<Rows>),
    /// A row group at a time, its columns a slice at a time: see [`RowGroups`].
    RowGroups(Box<RowGroups>),
}

/// A wide file (more columns than [`PARQUET_BATCH_CELLS`] allows in batches of the
/// usual size) whose null cells are left out, read a row group at a time: the
/// group's columns are decoded a slice at a time, every row of the group at once,
/// and each row's cells with a value kept as JSON text until the group's last
/// slice is done. The parquet crate keeps state for each column it decodes (a
/// 4 KiB index buffer for each dictionary-encoded column, besides the arrays), so
/// decoding every column together takes memory in proportion to the columns;
/// decoded a slice at a time, it takes one slice's. It is also faster: each column
/// is decoded in one batch rather than a few hundred rows at a time. A group whose
/// cells would take more than [`GROUP_TEXT_BUDGET`] bytes of text is read in rows
/// instead, as [`Batches::Rows`] reads the file.
struct RowGroups {
    file: File,
    metadata: ArrowReaderMetadata,
    /// Each root column's leaf columns.
    root_leaves: Vec<usize>,
    /// Most cells decoded at once ([`SLICE_CELLS`]).
    slice_cells: usize,
    /// Most bytes of text a group read in slices takes ([`GROUP_TEXT_BUDGET`]).
    budget: usize,
    /// The next row group to read.
    next_group: usize,
    /// The group being read in rows, if it is.
    rows: Option<ParquetRecordBatchReader>,
    /// The row after the group being read.
    group_end: u64,
    /// The group read in slices, its rows not yet handed on.
    sliced: Sliced,
}

/// Batches of rows with every column, and what it takes to go on past a row group
/// that cannot be decoded.
///
/// A batch may span row groups and is decoded as a whole, so a batch that fails is
/// read again from its first row within that row's group alone: if that goes
/// through, the damage was further on and the reading goes on with the next group;
/// if not, the rest of the group is reported lost (one error) and the reading goes
/// on with the next group. So only the rows of damaged groups are lost, and no row
/// is read twice.
struct Rows {
    reader: ParquetRecordBatchReader,
    file: File,
    metadata: ArrowReaderMetadata,
    /// While the group whose rows end before this row is read alone after a failed
    /// batch.
    alone_until: Option<u64>,
    /// Whether that group is read a row at a time, each row that holds text that is
    /// not UTF-8 a bad record (see [`ParquetReader::read`]), and how many such rows
    /// in a row were met so far.
    one_by_one: Option<u32>,
}

/// Most rows in a row, read one at a time, that may fail for text that is not
/// UTF-8 before the rest of their row group is taken as damaged (a dictionary page
/// that holds such text fails every row that reads it).
const BAD_TEXT_ROWS_IN_A_ROW: u32 = 64;

impl Rows {
    /// The row group holding `row`: its index and its first and after-last rows.
    fn group_of(&self, row: u64) -> Option<(usize, u64, u64)> {
        let mut start = 0u64;
        for (i, group) in self.metadata.metadata().row_groups().iter().enumerate() {
            let end = start + u64::try_from(group.num_rows()).unwrap_or(0);
            if row < end {
                return Some((i, start, end));
            }
            start = end;
        }
        None
    }

    /// Reads on from `row` (the first row of a group, or one inside group `group`
    /// when `alone`): that group alone, or every group from it.
    fn restart(
        &mut self,
        group: usize,
        skip: u64,
        alone: bool,
        batch_rows: u64,
    ) -> parquet::errors::Result<()> {
        use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
        let groups = self.metadata.metadata().num_row_groups();
        let chosen: Vec<usize> = if alone {
            vec![group]
        } else {
            (group..groups).collect()
        };
        let rows: u64 = chosen
            .iter()
            .filter_map(|&g| self.metadata.metadata().row_groups().get(g))
            .map(|g| u64::try_from(g.num_rows()).unwrap_or(0))
            .sum();
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
            self.file.try_clone()?,
            self.metadata.clone(),
        )
        .with_row_groups(chosen)
        .with_batch_size(usize::try_from(batch_rows).unwrap_or(usize::MAX));
        if skip > 0 {
            let skip = usize::try_from(skip).unwrap_or(usize::MAX);
            let select = usize::try_from(rows)
                .unwrap_or(usize::MAX)
                .saturating_sub(skip);
            builder = builder.with_row_selection(RowSelection::from(vec![
                RowSelector::skip(skip),
                RowSelector::select(select),
            ]));
        }
        self.reader = builder.build()?;
        Ok(())
    }
}

/// A row group's rows as their cells' text, each cell `,"key":value`.
#[derive(Default)]
struct Sliced {
    rows: Vec<Vec<u8>>,
    /// Each row's cells.
    cells: Vec<u32>,
    /// The rows already handed on.
    taken: usize,
}

/// The most bytes of JSON text a row group read in slices may take (see
/// [`RowGroups`]).
const GROUP_TEXT_BUDGET: usize = 64 << 20;

/// How far the records of one batch handed on may spread: their rows times the
/// columns their cells may fill (their cells, or the file's leaf columns if fewer).
/// A batch is flattened as one part of the output, and a sparse table's part takes
/// room in every column used among its rows. A 10,000-column file of 5,000 rows
/// with about 200 values each, two threads: whole batches of 1,024 rows peaked at
/// 518 MiB to CSV (two processes 556 MiB); to CSV or Parquet a spread of 4M at
/// 344–359 MiB, 2M at 273–310 MiB, 1M at 228–259 MiB. A 20,008-column file of 1,500
/// rows with about 400 values each, to CSV: 385 MiB (two processes 705 MiB) in
/// batches of 838 rows, 169–171 MiB (161 MiB) at 1M.
/// Fewer rows a batch cost time where every part of a table has all its columns
/// to write: at 1M, 50,002 columns to CSV on two threads took 8.2 s against 6.6 s.
const BATCH_SPREAD: usize = 1 << 20;

/// The spread of the rows of a batch being made (see [`BATCH_SPREAD`]).
struct Spread {
    /// The file's leaf columns.
    columns: usize,
    rows: usize,
    cells: usize,
}

impl Spread {
    fn new(columns: usize) -> Self {
        Spread {
            columns,
            rows: 0,
            cells: 0,
        }
    }

    /// Counts a row of `cells` cells if the batch has room for it (a batch always
    /// has room for its first row).
    fn add(&mut self, cells: usize) -> bool {
        let (rows, total) = (self.rows + 1, self.cells.saturating_add(cells));
        if self.rows > 0 && rows.saturating_mul(total.min(self.columns)) > BATCH_SPREAD {
            return false;
        }
        (self.rows, self.cells) = (rows, total);
        true
    }
}

/// Most cells (rows times leaf columns) in one slice of a row group (see
/// [`RowGroups`]). A 50,002-column file of 20,439 rows in one row group, to Parquet
/// on two threads: 4M cells a slice (205 columns) peaked at 200–213 MiB, 16M at
/// 249–250 MiB (the slice's arrays), 1M no lower (200–210 MiB).
const SLICE_CELLS: usize = 1 << 22;

/// Most cells (rows times leaf columns) in one batch read from a Parquet file:
/// [`DEFAULT_READER_BATCH_RECORDS`](crate::DEFAULT_READER_BATCH_RECORDS) rows of up
/// to 16,384 columns, fewer rows of a wider file. The parquet crate gives every leaf
/// column of a batch its own arrays (offsets, validity), so a batch of 1,024 rows
/// of 50,000 text columns holds 200 MB of offsets alone. Fewer rows are not free
/// either: each batch costs the crate a few microseconds per column (50,000 columns
/// of 20,439 rows: 10 s at 335 rows a batch, 31 s at 83, 5.8 s at 1,024).
pub(crate) const PARQUET_BATCH_CELLS: usize = 1 << 24;

/// The most bytes of values (by the row groups' own sizes, uncompressed) a batch
/// read from a Parquet file holds: rows of 100 KB texts are read some eighty at a
/// time, not a thousand (100 MB, held twice over as the batch and its records).
pub(crate) const PARQUET_BATCH_BYTES: usize = 8 << 20;

impl ParquetReader {
    pub(crate) fn new(mut input: Input, options: &ReaderOptions) -> Result<Self> {
        let name = input.name.clone();
        // Parquet needs random access: a plain file is read in place, anything else
        // (stdin, compressed) is first copied to an anonymous temporary file.
        let (file, copied) = match (&input.path, input.compression) {
            // (A named pipe, say, is not a file to read in place: it was opened.)
            (Some(path), Compression::None)
                if std::fs::metadata(path).is_ok_and(|m| m.is_file()) =>
            {
                (
                    File::open(path).map_err(|e| Error::io(path.clone(), e))?,
                    None,
                )
            }
            _ => {
                let mut tmp = tempfile::tempfile().map_err(|e| Error::io("<temporary file>", e))?;
                // A failed copy is taken as a failed read: writes to a temporary file
                // rarely fail.
                // The error names the decompressed byte where the data ends.
                let mut copied = 0u64;
                loop {
                    let n = match input.reader.fill_buf() {
                        Ok([]) => break,
                        Ok(bytes) => {
                            tmp.write_all(bytes)
                                .map_err(|e| Error::io("<temporary file>", e))?;
                            bytes.len()
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(input.read_error(e, copied)),
                    };
                    input.reader.consume(n);
                    copied += n as u64;
                }
                tmp.flush().map_err(|e| Error::io("<temporary file>", e))?;
                tmp.rewind().map_err(|e| Error::io("<temporary file>", e))?;
                // What was read of the input (compressed bytes, for compressed input).
                (tmp, Some(input.bytes_read()))
            }
        };
        // The size of input read whole first (standard input, a pipe, compressed
        // data) is what was read of it.
        let total = copied.or(input.total_bytes);
        let corrupt_at = |footer, e: Box<dyn std::error::Error + Send + Sync>| Error::Parquet {
            source_name: name.to_string(),
            rows: None,
            footer,
            group_offset: None,
            source: e,
        };
        let corrupt = |e| corrupt_at(None, e);
        // The parquet crate may panic on a malformed footer rather than fail. A
        // footer it cannot read is named by where it is in the input, when that is
        // not compressed.
        let stored = input.compression == Compression::None;
        let bad_footer = |e| corrupt_at(stored.then(|| footer_bytes(&file)).flatten(), e);
        let load = |options: ArrowReaderOptions| {
            guarded(|| ArrowReaderMetadata::load(&file, options))
                .map_err(|panic| bad_footer(panic.into()))?
                .map_err(|e| bad_footer(Box::new(e)))
        };
        // The Arrow schema a writer may embed (`ARROW:schema`) refines the column
        // types (time zones, large strings); one that cannot be decoded (Arrow's
        // decoder stops at 64 levels of nesting) leaves the file's own schema.
        let metadata = match load(ArrowReaderOptions::new()) {
            Ok(metadata) => metadata,
            Err(e) => {
                load(ArrowReaderOptions::new().with_skip_arrow_metadata(true)).map_err(|_| e)?
            }
        };
        check_depth(metadata.schema(), &name)?;
        let (batches, num_rows, batch_rows, leaves, groups) = guarded(|| {
            let groups = group_starts(metadata.metadata());
            let num_rows =
                u64::try_from(metadata.metadata().file_metadata().num_rows()).unwrap_or(0);
            let leaves = metadata.parquet_schema().num_columns();
            let wide_rows = batch_rows(options.batch_records, leaves);
            let (bytes, all_rows) =
                metadata
                    .metadata()
                    .row_groups()
                    .iter()
                    .fold((0i64, 0i64), |(b, r), g| {
                        (
                            b.saturating_add(g.total_byte_size()),
                            r.saturating_add(g.num_rows()),
                        )
                    });
            let row_bytes = usize::try_from(bytes.checked_div(all_rows).unwrap_or(0))
                .unwrap_or(0)
                .max(1);
            let rows = wide_rows.min((PARQUET_BATCH_BYTES / row_bytes).max(1));
            let batches = if options.skip_null && wide_rows < options.batch_records {
                let schema = metadata.parquet_schema();
                let mut root_leaves = vec![0; schema.root_schema().get_fields().len()];
                for leaf in 0..leaves {
                    if let Some(n) = root_leaves.get_mut(schema.get_column_root_idx(leaf)) {
                        *n += 1;
                    }
                }
                Batches::RowGroups(Box::new(RowGroups {
                    file,
                    metadata,
                    root_leaves,
                    slice_cells: SLICE_CELLS,
                    budget: GROUP_TEXT_BUDGET,
                    next_group: 0,
                    rows: None,
                    group_end: 0,
                    sliced: Sliced::default(),
                }))
            } else {
                let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
                    file.try_clone()?,
                    metadata.clone(),
                );
                Batches::Rows(Box::new(Rows {
                    reader: builder.with_batch_size(rows).build()?,
                    file,
                    metadata,
                    alone_until: None,
                    one_by_one: None,
                }))
            };
            Ok((batches, num_rows, rows as u64, leaves, groups))
        })
        .map_err(|panic| corrupt(panic.into()))?
        .map_err(|e: parquet::errors::ParquetError| corrupt(Box::new(e)))?;
        Ok(ParquetReader {
            source: name,
            batches,
            reading: None,
            row: 0,
            num_rows,
            batch_rows: batch_rows.max(1),
            total,
            skip_null: options.skip_null,
            present: Vec::new(),
            leaves,
            queued: Default::default(),
            keys: None,
            done: false,
            goes_on: false,
            groups,
        })
    }

    /// The row group holding `row`: its first row, the next group's first row and
    /// where it starts in the file.
    fn group_of(&self, row: u64) -> (u64, u64, u64) {
        let after = self.groups.partition_point(|&(first, _)| first <= row);
        let (first, offset) = after
            .checked_sub(1)
            .and_then(|i| self.groups.get(i))
            .copied()
            .unwrap_or((0, 0));
        let next = self.groups.get(after).map_or(u64::MAX, |g| g.0);
        (first, next, offset)
    }

    /// Gives each record of `batch`, and the rows an error names, their row group's
    /// byte offset; marks the batch's text as made of the rows ([`RawBatch::made`]).
    fn place(&self, read: &mut Result<RawBatch>) {
        match read {
            Ok(batch) => {
                // The records are JSON text made of the rows.
                batch.made = true;
                // Rows come in order: one group holds runs of them.
                let mut group = (0, 0, 0);
                for item in &mut batch.items {
                    let position = match item {
                        crate::reader::RawItem::Record { position, .. } => position,
                        crate::reader::RawItem::Bad { error, .. } => &mut error.position,
                    };
                    if !(group.0..group.1).contains(&position.ordinal) {
                        group = self.group_of(position.ordinal);
                    }
                    position.byte_offset = group.2;
                }
            }
            Err(Error::Parquet {
                rows: Some((first, _)),
                group_offset,
                ..
            }) => *group_offset = Some(self.group_of(*first).2),
            Err(_) => {}
        }
    }

    /// The records of `batch`; `bytes_for`, the file's schema when the batch was read
    /// with its columns of text alone as bytes ([`read_text_as_bytes`]), makes a row
    /// with text that is not UTF-8 a bad record.
    fn convert(
        &mut self,
        batch: &RecordBatch,
        bytes_for: Option<&arrow_schema::SchemaRef>,
    ) -> Result<RawBatch> {
        // Every batch of the file has its schema: the types are checked and the
        // keys quoted at the first.
        let keys = match self.keys.take() {
            Some(keys) => keys,
            None => keys_of(&batch.schema(), &self.source)?,
        };
        let schema = batch.schema();
        let columns: Vec<Column<'_>> = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(column, field)| Column::of(field, column.as_ref()))
            .collect();
        if self.skip_null {
            fill_present(&mut self.present, batch);
        }
        // Text read as bytes: each column's rows whose text is not UTF-8.
        let bad_text: Vec<(usize, Vec<bool>)> = match bytes_for {
            Some(original) => original
                .fields()
                .iter()
                .zip(batch.columns())
                .enumerate()
                .filter_map(|(c, (field, column))| {
                    Some((c, bad_text(field.data_type(), column.as_ref())?))
                })
                .collect(),
            None => Vec::new(),
        };
        // Batches handed on are held to BATCH_SPREAD: the rest wait in `queued`.
        let mut spread = Spread::new(self.leaves);
        let mut out = RawBatch::default();
        for row in 0..batch.num_rows() {
            let present = self.present.get(row).filter(|_| self.skip_null);
            let cells = present.map_or(keys.len(), Vec::len);
            if !spread.add(cells) {
                self.queued.push_back(std::mem::take(&mut out));
                spread = Spread::new(self.leaves);
                spread.add(cells);
            }
            match present {
                Some(present) => {
                    let cells = present.iter().filter_map(|&c| {
                        let (key, column) = (keys.get(c as usize)?, columns.get(c as usize)?);
                        Some((key.as_slice(), column))
                    });
                    push_row(&mut out, self.row, row, cells);
                }
                None => {
                    let cells = keys.iter().zip(&columns);
                    let cells = cells.map(|(k, c)| (k.as_slice(), c));
                    push_row(&mut out, self.row, row, cells);
                }
            }
            let bad = bad_text
                .iter()
                .find(|(_, rows)| rows.get(row) == Some(&true));
            if let Some(&(c, _)) = bad {
                let name = schema.field(c).name();
                refuse_last(
                    &mut out,
                    &self.source,
                    format!(
                        "column {name:?} holds text that is not valid UTF-8 (a Parquet STRING \
                     value; its bytes are written as hex in the raw text)"
                    ),
                );
            }
        }
        self.queued.push_back(out);
        self.row += batch.num_rows() as u64;
        self.keys = Some(keys);
        Ok(self.queued.pop_front().unwrap_or_default())
    }

    /// The records of `batch`, read with its columns of text alone as bytes
    /// (`original` the file's schema), once the reader was `restarted` past them: a
    /// reader that could not be restarted is an error after them.
    fn hand_on_bytes(
        &mut self,
        batch: &RecordBatch,
        original: &arrow_schema::SchemaRef,
        restarted: parquet::errors::Result<()>,
    ) -> Option<Result<RawBatch>> {
        let converted = self.convert(batch, Some(original));
        if let Err(e) = restarted {
            self.queued.push_back(converted.unwrap_or_default());
            return Some(Err(self.corrupt(e)));
        }
        Some(converted)
    }

    /// The error for a failed read of the rows being read.
    fn corrupt(&self, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        Error::Parquet {
            source_name: self.source.to_string(),
            rows: self.reading,
            footer: None,
            group_offset: None,
            source: e.into(),
        }
    }

    /// The next batch of records, `None` after the last.
    fn read(&mut self) -> Option<Result<RawBatch>> {
        if let Some(batch) = self.queued.pop_front() {
            return Some(Ok(batch));
        }
        loop {
            let Batches::Rows(rows) = &mut self.batches else {
                return self.read_groups();
            };
            // The rows of the batch being read: a batch is decoded as a whole.
            let end = rows.alone_until.unwrap_or(self.num_rows).max(self.row + 1);
            self.reading = Some((self.row, (self.row + self.batch_rows).min(end) - 1));
            match rows.reader.next() {
                Some(Ok(batch)) => {
                    if let Some(failed) = &mut rows.one_by_one {
                        *failed = 0;
                    }
                    return Some(self.convert(&batch, None));
                }
                None if rows.alone_until.is_none() => return None,
                // The group read alone is done: on with the next ones.
                None => {
                    rows.one_by_one = None;
                    let end = rows.alone_until.take().unwrap_or(self.row);
                    let short = self.row < end;
                    let first = self.row;
                    self.row = self.row.max(end);
                    let restarted = match rows.group_of(self.row) {
                        Some((group, _, _)) => rows.restart(group, 0, false, self.batch_rows),
                        None => Ok(()),
                    };
                    let more = self.row < self.num_rows;
                    if short {
                        // Fewer rows than the footer gives the group: those are lost.
                        self.goes_on = more && restarted.is_ok();
                        return Some(Err(Error::Parquet {
                            source_name: self.source.to_string(),
                            rows: Some((first, end - 1)),
                            footer: None,
                            group_offset: None,
                            source: "the row group holds fewer rows than its footer says".into(),
                        }));
                    }
                    if !more {
                        return None;
                    }
                    if let Err(e) = restarted {
                        return Some(Err(self.corrupt(e)));
                    }
                }
                Some(Err(e)) => {
                    let Some((group, start, group_end)) = rows.group_of(self.row) else {
                        return Some(Err(self.corrupt(e)));
                    };
                    // Text that is not UTF-8 in a column of text alone: the rest of
                    // this row group is read again with such columns read as bytes,
                    // and its rows with such text are bad records of their own.
                    if is_bad_text(&e) && rows.one_by_one.is_none() {
                        let skip = self.row - start;
                        let read =
                            read_text_as_bytes(&rows.file, &rows.metadata, group, skip, None);
                        if let Ok(batch) = read {
                            rows.alone_until = None;
                            // On with the next group (none after the last).
                            let restarted = rows.restart(group + 1, 0, false, self.batch_rows);
                            let original = rows.metadata.schema().clone();
                            return self.hand_on_bytes(&batch, &original, restarted);
                        }
                    }
                    // Text that is not UTF-8 within lists, structs or maps: the
                    // rest of the group is read a row at a time, and each row the
                    // decoder refuses for it is a bad record of its own.
                    if is_bad_text(&e) {
                        let failed = match rows.one_by_one {
                            None => {
                                rows.one_by_one = Some(0);
                                rows.alone_until = Some(group_end);
                                let skip = self.row - start;
                                if let Err(e) = rows.restart(group, skip, true, 1) {
                                    return Some(Err(self.corrupt(e)));
                                }
                                continue;
                            }
                            Some(failed) => failed,
                        };
                        // The row's bad text may be in a column of text alone: then
                        // the row reads with such columns as bytes, and is refused
                        // by name, with its text.
                        let skip = self.row - start;
                        let alone =
                            read_text_as_bytes(&rows.file, &rows.metadata, group, skip, Some(1));
                        if let Ok(batch) = alone {
                            rows.one_by_one = Some(0);
                            let restarted = rows.restart(group, skip + 1, true, 1);
                            let original = rows.metadata.schema().clone();
                            return self.hand_on_bytes(&batch, &original, restarted);
                        }
                        if failed < BAD_TEXT_ROWS_IN_A_ROW {
                            rows.one_by_one = Some(failed + 1);
                            let bad = bad_text_row(&self.source, self.row, &e);
                            self.row += 1;
                            if let Err(e) = rows.restart(group, self.row - start, true, 1) {
                                self.queued.push_back(bad);
                                return Some(Err(self.corrupt(e)));
                            }
                            return Some(Ok(bad));
                        }
                        // So many rows: the rest of the group is damaged.
                        rows.one_by_one = None;
                    }
                    if rows.alone_until.is_none() {
                        // Read again from this batch's first row, its group alone.
                        rows.alone_until = Some(group_end);
                        let skip = self.row - start;
                        if let Err(e) = rows.restart(group, skip, true, self.batch_rows) {
                            return Some(Err(self.corrupt(e)));
                        }
                        continue;
                    }
                    // The group fails alone too: the rest of it is lost (and the
                    // rest of the file, should the next groups not open).
                    rows.alone_until = None;
                    let more = group + 1 < rows.metadata.metadata().num_row_groups();
                    self.goes_on =
                        more && rows.restart(group + 1, 0, false, self.batch_rows).is_ok();
                    let lost_until = if self.goes_on {
                        group_end
                    } else {
                        self.num_rows.max(group_end)
                    };
                    let error = Error::Parquet {
                        source_name: self.source.to_string(),
                        rows: Some((self.row, lost_until - 1)),
                        footer: None,
                        group_offset: None,
                        source: e.into(),
                    };
                    self.row = lost_until;
                    return Some(Err(error));
                }
            }
        }
    }

    /// [`read`](Self::read) for [`Batches::RowGroups`].
    fn read_groups(&mut self) -> Option<Result<RawBatch>> {
        loop {
            let Batches::RowGroups(groups) = &mut self.batches else {
                return None;
            };
            if let Some(reader) = &mut groups.rows {
                let end = groups.group_end;
                self.reading = Some((self.row, (self.row + self.batch_rows).min(end) - 1));
                match reader.next() {
                    Some(Ok(batch)) => return Some(self.convert(&batch, None)),
                    Some(Err(e)) => {
                        // The rest of the group is lost; on with the next one.
                        groups.rows = None;
                        let error = Error::Parquet {
                            source_name: self.source.to_string(),
                            rows: Some((self.row, end - 1)),
                            footer: None,
                            group_offset: None,
                            source: e.into(),
                        };
                        self.row = end;
                        self.goes_on = true;
                        return Some(Err(error));
                    }
                    None => {
                        groups.rows = None;
                        continue;
                    }
                }
            }
            if groups.sliced.has_rows() {
                let rows = usize::try_from(self.batch_rows).unwrap_or(usize::MAX);
                let out = groups.sliced.take(rows, self.leaves, self.row);
                self.row += out.len() as u64;
                return Some(Ok(out));
            }
            let group = groups.next_group;
            let metadata = Arc::clone(groups.metadata.metadata());
            if group >= metadata.num_row_groups() {
                return None;
            }
            groups.next_group += 1;
            groups.sliced = Sliced::default();
            let keys = match self.keys.take() {
                Some(keys) => keys,
                None => match keys_of(groups.metadata.schema(), &self.source) {
                    Ok(keys) => keys,
                    Err(e) => return Some(Err(e)),
                },
            };
            let rows = u64::try_from(metadata.row_group(group).num_rows()).unwrap_or(0);
            groups.group_end = self.row + rows;
            if rows == 0 {
                self.keys = Some(keys);
                continue;
            }
            self.reading = Some((self.row, self.row + rows - 1));
            let read = groups.start(group, &keys, self.batch_rows, &mut self.present);
            self.keys = Some(keys);
            if let Err(e) = read {
                // The group is lost; on with the next one.
                let error = Error::Parquet {
                    source_name: self.source.to_string(),
                    rows: self.reading,
                    footer: None,
                    group_offset: None,
                    source: e.into(),
                };
                groups.rows = None;
                groups.sliced = Sliced::default();
                self.row = groups.group_end;
                self.goes_on = true;
                return Some(Err(error));
            }
        }
    }
}

impl RowGroups {
    /// Starts reading row group `group`: in slices if its text fits
    /// the budget, else in batches of `batch_rows` rows.
    fn start(
        &mut self,
        group: usize,
        keys: &[Vec<u8>],
        batch_rows: u64,
        present: &mut Vec<Vec<u32>>,
    ) -> parquet::errors::Result<()> {
        if self.estimate(group, keys) <= self.budget {
            if let Some(sliced) = self.slice(group, keys, present)? {
                self.sliced = sliced;
                return Ok(());
            }
        }
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
            self.file.try_clone()?,
            self.metadata.clone(),
        );
        let rows = usize::try_from(batch_rows).unwrap_or(usize::MAX);
        let reader = builder
            .with_row_groups(vec![group])
            .with_batch_size(rows)
            .build()?;
        self.rows = Some(reader);
        Ok(())
    }

    /// The bytes of text row group `group`'s cells with a value would take, by its
    /// metadata: each leaf column's values counted with their key, plus its
    /// decompressed pages. Too low for a dictionary of a few long values, which
    /// [`slice`](Self::slice) sees as it goes.
    fn estimate(&self, group: usize, keys: &[Vec<u8>]) -> usize {
        let schema = self.metadata.parquet_schema();
        let Some(group) = self.metadata.metadata().row_groups().get(group) else {
            return 0;
        };
        let rows = usize::try_from(group.num_rows()).unwrap_or(usize::MAX);
        // Beyond a thousand slices or so, the slices' own cost shows.
        if rows.saturating_mul(schema.num_columns()) > self.slice_cells.saturating_mul(1024) {
            return usize::MAX;
        }
        group
            .columns()
            .iter()
            .enumerate()
            .map(|(leaf, column)| {
                let values = u64::try_from(column.num_values()).unwrap_or(0);
                let nulls = column.statistics().and_then(|s| s.null_count_opt());
                let present = values.saturating_sub(nulls.unwrap_or(0));
                let key = keys
                    .get(schema.get_column_root_idx(leaf))
                    .map_or(0, Vec::len)
                    + 1;
                let pages = u64::try_from(column.uncompressed_size()).unwrap_or(0);
                let text = present.saturating_mul(key as u64).saturating_add(pages);
                usize::try_from(text).unwrap_or(usize::MAX)
            })
            .fold(0, usize::saturating_add)
    }

    /// Row group `group`'s rows as their cells' text, its root columns decoded a
    /// slice of at most [`SLICE_CELLS`] cells at a time (a single root column may
    /// take more); `None` once the text passes the budget.
    fn slice(
        &self,
        group: usize,
        keys: &[Vec<u8>],
        present: &mut Vec<Vec<u32>>,
    ) -> parquet::errors::Result<Option<Sliced>> {
        let metadata = self.metadata.metadata();
        let rows = metadata
            .row_groups()
            .get(group)
            .map_or(0, |g| usize::try_from(g.num_rows()).unwrap_or(0));
        let slice_leaves = (self.slice_cells / rows.max(1)).max(1);
        let mut sliced = Sliced {
            rows: vec![Vec::new(); rows],
            cells: vec![0; rows],
            taken: 0,
        };
        let mut text = 0;
        let mut first = 0;
        while first < self.root_leaves.len() {
            let (mut end, mut leaves) = (first, 0);
            while let Some(&n) = self.root_leaves.get(end) {
                if end > first && leaves + n > slice_leaves {
                    break;
                }
                leaves += n;
                end += 1;
            }
            let mask = ProjectionMask::roots(self.metadata.parquet_schema(), first..end);
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
                self.file.try_clone()?,
                self.metadata.clone(),
            )
            .with_row_groups(vec![group])
            .with_projection(mask)
            .with_batch_size(rows.max(1))
            .build()?;
            let keys = keys.get(first..end).unwrap_or_default();
            let mut read = 0;
            for batch in reader {
                let batch = batch?;
                let to = sliced.rows.get_mut(read..).unwrap_or_default();
                let cells = sliced.cells.get_mut(read..).unwrap_or_default();
                text += push_cells(&batch, keys, present, to, cells);
                read += batch.num_rows();
            }
            if read != rows {
                return Err(parquet::errors::ParquetError::General(format!(
                    "row group {group} has {read} rows of columns {first} to {}, not {rows}",
                    end - 1
                )));
            }
            if text > self.budget {
                return Ok(None);
            }
            first = end;
        }
        Ok(Some(sliced))
    }
}

impl Sliced {
    /// The next rows as records, the first numbered `ordinal`: at most `records`,
    /// and fewer where their cells spread over more columns (of `columns`) than
    /// [`BATCH_SPREAD`] allows.
    fn take(&mut self, records: usize, columns: usize, ordinal: u64) -> RawBatch {
        let mut out = RawBatch::default();
        let (mut end, mut spread) = (self.taken, Spread::new(columns));
        while end < self.rows.len()
            && end - self.taken < records
            && spread.add(self.cells.get(end).map_or(0, |&n| n as usize))
        {
            end += 1;
        }
        let rows = self.rows.get_mut(self.taken..end).unwrap_or_default();
        for (ordinal, row) in (ordinal..).zip(rows) {
            let start = out.data.len();
            out.data.push(b'{');
            // Each cell starts with a comma, which the row's first drops.
            out.data.extend_from_slice(row.get(1..).unwrap_or_default());
            out.data.push(b'}');
            *row = Vec::new();
            out.items.push(crate::reader::RawItem::Record {
                range: start..out.data.len(),
                position: Position::line_start(ordinal, ordinal + 1, 0),
            });
        }
        self.taken = end;
        out
    }

    /// Whether rows are left to hand on.
    fn has_rows(&self) -> bool {
        self.taken < self.rows.len()
    }
}

/// How deep a Parquet input's columns may nest (each struct, list or map one level).
/// The `parquet` crate's readers recurse into a column's levels on the stack of the
/// thread that reads it: a thread of the default 2 MiB reads 100 levels in a debug
/// build as well as in a release build (which would take about 250).
pub const PARQUET_MAX_DEPTH: usize = 100;

/// Refuses a schema with a column nested deeper than [`PARQUET_MAX_DEPTH`], before
/// any reader of its columns is made.
fn check_depth(schema: &arrow_schema::Schema, source: &str) -> Result<()> {
    for field in schema.fields() {
        let mut deepest = 0;
        let mut open = vec![(field.data_type(), 0usize)];
        while let Some((dt, depth)) = open.pop() {
            deepest = deepest.max(depth);
            if deepest > PARQUET_MAX_DEPTH {
                return Err(Error::ParquetTooDeep {
                    source_name: source.to_string(),
                    column: field.name().clone(),
                    limit: PARQUET_MAX_DEPTH,
                });
            }
            match dt {
                DataType::Struct(fields) => {
                    open.extend(fields.iter().map(|f| (f.data_type(), depth + 1)));
                }
                DataType::List(f)
                | DataType::LargeList(f)
                | DataType::ListView(f)
                | DataType::LargeListView(f)
                | DataType::FixedSizeList(f, _)
                | DataType::Map(f, _) => open.push((f.data_type(), depth + 1)),
                DataType::Dictionary(_, value) => open.push((value, depth)),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The keys of `schema`'s columns, JSON-quoted, once their types are checked. Two
/// columns are two keys: a name met again is `<name>_2`, `<name>_3`, … as a CSV
/// header's is, so that no column's values are lost.
fn keys_of(schema: &arrow_schema::Schema, source: &str) -> Result<Vec<Vec<u8>>> {
    for field in schema.fields() {
        check_type(field.data_type(), field.name(), source)?;
    }
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    Ok(crate::csv_reader::distinct_names(&names, false)
        .iter()
        .map(|name| json_key(name))
        .collect())
}

/// Fills `present` with each row of `batch`'s columns with a value, in column
/// order (the lists are kept from batch to batch).
fn fill_present(present: &mut Vec<Vec<u32>>, batch: &RecordBatch) {
    present.resize_with(batch.num_rows(), Vec::new);
    present.iter_mut().for_each(Vec::clear);
    for (c, column) in batch.columns().iter().enumerate() {
        let values = rows_with_values(column.as_ref());
        let c = c as u32;
        match values {
            None => {}
            Some(None) => present.iter_mut().for_each(|cells| cells.push(c)),
            Some(Some(nulls)) => {
                for r in nulls.valid_indices() {
                    if let Some(cells) = present.get_mut(r) {
                        cells.push(c);
                    }
                }
            }
        }
    }
}

/// Appends each row of `batch`'s cells with a value to its row in `rows`, each
/// as `,"key":value` (`keys` are the batch's columns'), and counts them in `counts`;
/// returns the bytes appended.
fn push_cells(
    batch: &RecordBatch,
    keys: &[Vec<u8>],
    present: &mut Vec<Vec<u32>>,
    rows: &mut [Vec<u8>],
    counts: &mut [u32],
) -> usize {
    let columns = batch.columns();
    let schema = batch.schema();
    let fields = schema.fields();
    fill_present(present, batch);
    let mut text = 0;
    for (row, ((cells, out), count)) in present.iter().zip(rows).zip(counts).enumerate() {
        *count = count.saturating_add(cells.len() as u32);
        let before = out.len();
        for &c in cells {
            let c = c as usize;
            if let (Some(key), Some(column), Some(field)) =
                (keys.get(c), columns.get(c), fields.get(c))
            {
                out.push(b',');
                out.extend_from_slice(key);
                write_field_value(field, column.as_ref(), row, out);
            }
        }
        text += out.len() - before;
    }
    text
}

/// Row `row` of `source` as a bad record: the decoder refused it for text that is
/// not UTF-8 (`e`), so it has no text to show.
fn bad_text_row(source: &Arc<str>, row: u64, e: &dyn std::error::Error) -> RawBatch {
    let mut batch = RawBatch::default();
    batch.items.push(crate::reader::RawItem::Bad {
        error: transmogrify_core::RecordError {
            source_name: source.clone(),
            position: Position::line_start(row, row + 1, 0),
            kind: transmogrify_core::RecordErrorKind::Input(format!(
                "the row holds text that is not valid UTF-8 in a list, struct or map (a \
                 Parquet STRING value; the decoder refuses the row: {e})"
            )),
            excerpt: String::new(),
        },
        range: 0..0,
    });
    batch
}

/// Whether `e` is the parquet crate's refusal of text that is not UTF-8.
fn is_bad_text(e: &dyn std::error::Error) -> bool {
    let text = e.to_string();
    text.contains("non UTF-8") || text.contains("invalid utf-8")
}

/// Rows `skip..` of row group `group` (`take` of them, or all to its end), each
/// column of text alone (not in a list, struct or map) read as bytes, whatever they
/// hold, and the other columns as always. The parquet crate refuses a batch holding
/// text that is not UTF-8, and cannot be told to read text as bytes.
fn read_text_as_bytes(
    file: &File,
    metadata: &ArrowReaderMetadata,
    group: usize,
    skip: u64,
    take: Option<usize>,
) -> std::result::Result<RecordBatch, Box<dyn std::error::Error + Send + Sync>> {
    use arrow_array::{ArrayRef, BinaryArray, RecordBatchOptions};
    use arrow_schema::{Field, Schema};
    use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
    use parquet::column::reader::ColumnReader;
    use parquet::file::reader::RowGroupReader;
    use parquet::file::serialized_reader::SerializedRowGroupReader;

    let schema = metadata.schema();
    let parquet = metadata.parquet_schema();
    let rows = usize::try_from(metadata.metadata().row_group(group).num_rows())?;
    let skip = usize::try_from(skip)?;
    let wanted = rows.saturating_sub(skip);
    let wanted = take.map_or(wanted, |take| take.min(wanted));
    // Each root column of text alone, and its leaf.
    let mut text = Vec::new();
    for leaf in 0..parquet.num_columns() {
        let root = parquet.get_column_root_idx(leaf);
        let column = parquet.column(leaf);
        let holds_text = schema
            .fields()
            .get(root)
            .is_some_and(|f| is_text(f.data_type()));
        if holds_text && column.max_rep_level() == 0 {
            text.push((root, leaf));
        }
    }
    if text.is_empty() {
        return Err("no column of text alone".into());
    }
    let others: Vec<usize> = (0..schema.fields().len())
        .filter(|root| !text.iter().any(|(r, _)| r == root))
        .collect();
    let mut builder =
        ParquetRecordBatchReaderBuilder::new_with_metadata(file.try_clone()?, metadata.clone())
            .with_row_groups(vec![group])
            .with_projection(ProjectionMask::roots(parquet, others.iter().copied()))
            .with_batch_size(wanted.max(1));
    if skip > 0 || wanted < rows {
        builder = builder.with_row_selection(RowSelection::from(vec![
            RowSelector::skip(skip),
            RowSelector::select(wanted),
            RowSelector::skip(rows.saturating_sub(skip).saturating_sub(wanted)),
        ]));
    }
    let rest = match builder.build()?.next().transpose()? {
        Some(batch) => batch,
        None => RecordBatch::new_empty(Arc::new(Schema::empty())),
    };
    // The group's column chunks, found by the metadata already read.
    let group_reader = SerializedRowGroupReader::new(
        Arc::new(file.try_clone()?),
        metadata.metadata().row_group(group),
        metadata.metadata().page_index_for_row_group(group),
        Arc::new(parquet::file::properties::ReaderProperties::builder().build()),
    )?;
    let mut columns: Vec<(usize, Field, ArrayRef)> = Vec::new();
    for &(root, leaf) in &text {
        let ColumnReader::ByteArrayColumnReader(mut values) =
            group_reader.get_column_reader(leaf)?
        else {
            return Err("a text column that is not of bytes".into());
        };
        let optional = parquet.column(leaf).max_def_level() > 0;
        values.skip_records(skip)?;
        let (mut got, mut levels) = (Vec::new(), Vec::new());
        let mut read = 0;
        while read < wanted {
            let (records, _, _) = values.read_records(
                wanted - read,
                optional.then_some(&mut levels),
                None,
                &mut got,
            )?;
            if records == 0 {
                break;
            }
            read += records;
        }
        let mut got = got.iter();
        let cells: Vec<Option<&[u8]>> = if optional {
            let max = parquet.column(leaf).max_def_level();
            levels
                .iter()
                .map(|&l| {
                    if l == max {
                        got.next().map(|v| v.data())
                    } else {
                        None
                    }
                })
                .collect()
        } else {
            got.map(|v| Some(v.data())).collect()
        };
        if cells.len() != wanted || rest.num_rows() != wanted && !others.is_empty() {
            return Err("the row group's columns do not hold as many rows".into());
        }
        let field = schema.field(root);
        columns.push((
            root,
            Field::new(field.name(), DataType::Binary, true)
                .with_metadata(field.metadata().clone()),
            Arc::new(BinaryArray::from(cells)),
        ));
    }
    let rest_schema = rest.schema();
    for (i, root) in others.iter().enumerate() {
        columns.push((*root, rest_schema.field(i).clone(), rest.column(i).clone()));
    }
    columns.sort_by_key(|(root, _, _)| *root);
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) =
        columns.into_iter().map(|(_, f, a)| (f, a)).unzip();
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(wanted)),
    )?)
}

/// Which rows of `array`, a column of text alone read as bytes by
/// [`read_text_as_bytes`] (`original` its type in the file), hold text that is not
/// UTF-8; `None` when none does (or the column is not such a column).
fn bad_text(original: &DataType, array: &dyn Array) -> Option<Vec<bool>> {
    if !is_text(original) || array.data_type() != &DataType::Binary {
        return None;
    }
    let a = array.as_binary::<i32>();
    let marks: Vec<bool> = (0..a.len())
        .map(|i| a.is_valid(i) && std::str::from_utf8(a.value(i)).is_err())
        .collect();
    marks.contains(&true).then_some(marks)
}

/// Whether a column of type `dt` holds text (dictionary-encoded or not).
fn is_text(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => {
            matches!(
                **values,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
        }
        _ => false,
    }
}

/// Turns the record `push_row` appended last into a bad record of `message`, its
/// text kept as the raw text.
fn refuse_last(out: &mut RawBatch, source: &Arc<str>, message: String) {
    let Some(crate::reader::RawItem::Record { range, position }) = out.items.pop() else {
        return;
    };
    let excerpt = transmogrify_core::excerpt(out.data.get(range.clone()).unwrap_or_default(), 0);
    out.items.push(crate::reader::RawItem::Bad {
        error: transmogrify_core::RecordError {
            source_name: source.clone(),
            position,
            kind: transmogrify_core::RecordErrorKind::Input(message),
            excerpt,
        },
        range,
    });
}

/// Appends row `row` of a batch whose first row is `first_ordinal` as the JSON
/// object of `cells` (each a key, already quoted, and the column of its value).
fn push_row<'a, 'b: 'a>(
    out: &mut RawBatch,
    first_ordinal: u64,
    row: usize,
    cells: impl Iterator<Item = (&'a [u8], &'a Column<'b>)>,
) {
    let start = out.data.len();
    out.data.push(b'{');
    for (i, (key, column)) in cells.enumerate() {
        if i > 0 {
            out.data.push(b',');
        }
        out.data.extend_from_slice(key);
        column.write(row, &mut out.data);
    }
    out.data.push(b'}');
    let ordinal = first_ordinal + row as u64;
    out.items.push(crate::reader::RawItem::Record {
        range: start..out.data.len(),
        position: Position::line_start(ordinal, ordinal + 1, 0),
    });
}

/// A column of a batch being turned into records, its type looked up once per batch
/// where it is the common text column, rather than once per cell.
enum Column<'a> {
    Text(&'a StringArray),
    Other(&'a arrow_schema::Field, &'a dyn Array),
}

impl<'a> Column<'a> {
    fn of(field: &'a arrow_schema::Field, array: &'a dyn Array) -> Self {
        match array.as_string_opt::<i32>() {
            Some(text) => Column::Text(text),
            None => Column::Other(field, array),
        }
    }

    /// Appends the JSON text of the value in `row` (see [`write_value`]).
    #[inline]
    fn write(&self, row: usize, out: &mut Vec<u8>) {
        match self {
            Column::Text(text) if text.is_valid(row) => write_str(out, text.value(row)),
            Column::Text(_) => out.extend_from_slice(b"null"),
            Column::Other(field, array) => write_field_value(field, *array, row, out),
        }
    }
}

/// Rows per batch read from a file of `leaves` leaf columns: `batch_records`, or
/// fewer where that many rows would pass [`PARQUET_BATCH_CELLS`].
fn batch_rows(batch_records: usize, leaves: usize) -> usize {
    batch_records
        .min(PARQUET_BATCH_CELLS / leaves.max(1))
        .max(1)
}

/// The rows of `column` with a value: `None` for none, `Some(None)` for every row,
/// else those its validity names.
fn rows_with_values(column: &dyn Array) -> Option<Option<&arrow_buffer::NullBuffer>> {
    match (column.data_type(), column.nulls()) {
        (DataType::Null, _) => None,
        (_, Some(nulls)) if nulls.null_count() == nulls.len() => None,
        (_, nulls) => Some(nulls),
    }
}

/// Refuses types [`write_value`] has no JSON form for, before any row is converted.
fn check_type(dt: &DataType, column: &str, source: &str) -> Result<()> {
    let ok = match dt {
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_)
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _)
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Duration(_) => true,
        DataType::Struct(fields) => {
            let mut names = std::collections::HashSet::new();
            for f in fields {
                if !names.insert(f.name()) {
                    return Err(Error::RepeatedParquetField {
                        source_name: source.to_string(),
                        column: column.to_string(),
                        field: f.name().clone(),
                    });
                }
                check_type(f.data_type(), &format!("{column}.{}", f.name()), source)?;
            }
            true
        }
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _) => {
            check_type(f.data_type(), column, source)?;
            true
        }
        DataType::Map(f, _) => {
            check_type(f.data_type(), column, source)?;
            true
        }
        // Dictionary-encoded columns (pandas' categoricals, say): their values'.
        DataType::Dictionary(key, value) if key.is_dictionary_key_type() => {
            check_type(value, column, source)?;
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::UnsupportedParquetType {
            source_name: source.to_string(),
            column: column.to_string(),
            data_type: dt.clone(),
        })
    }
}

fn write_display(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

fn write_float(out: &mut Vec<u8>, v: f64, text: impl FnOnce() -> String) {
    if v.is_finite() {
        out.extend_from_slice(text().as_bytes());
    } else if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v > 0.0 {
        out.extend_from_slice(b"\"Infinity\"");
    } else {
        out.extend_from_slice(b"\"-Infinity\"");
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    push_json_string(out, s.as_bytes());
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => write_str(out, s),
        Err(_) => write_hex(out, b),
    }
}

/// A duration of `v` units of `10^-digits` seconds as ISO 8601 text, in seconds
/// whatever its length (`PT5000S`, `PT1.5S`, `-PT0.000001S`, `PT0S`): its unit
/// is part of its value, which a bare count would lose.
fn iso_duration(v: i64, digits: u32) -> String {
    let scale = 10u64.pow(digits);
    let magnitude = v.unsigned_abs();
    let sign = if v < 0 { "-" } else { "" };
    let (whole, fraction) = (magnitude / scale, magnitude % scale);
    if fraction == 0 {
        return format!("{sign}PT{whole}S");
    }
    let fraction = format!("{fraction:0width$}", width = digits as usize);
    format!("{sign}PT{whole}.{}S", fraction.trim_end_matches('0'))
}

/// The date (or with `time`, the date and time) `v` units of `10^-digits` seconds
/// after 1970-01-01 (with `digits` 0 and no `time`, `v` days), in the proleptic
/// Gregorian calendar, as text: `2024-01-02`, `2024-01-02 03:04:05.123`, the
/// fraction only when it is not zero, in groups of three digits; a year past 9999
/// or before 0 with its sign (`+294247-01-10 04:00:54.775807`, `-0001-12-31`).
/// Any `i64` is a date here, where `chrono` stops at about 262,000 years.
fn far_instant(v: i64, digits: u32, time: bool) -> String {
    let per_second = 10i128.pow(digits);
    let v = i128::from(v);
    let (seconds, fraction) = if time || digits > 0 {
        (v.div_euclid(per_second), v.rem_euclid(per_second))
    } else {
        (v * 86_400, 0)
    };
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    // Howard Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    let mut text = if (0..=9999).contains(&year) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:+05}-{month:02}-{day:02}")
    };
    if time {
        let nanos = fraction * 10i128.pow(9 - digits);
        text.push(' ');
        text.push_str(&clock(of_day, nanos));
    }
    text
}

/// A timestamp's or a duration's value in `row`, in units of `10^-digits` seconds,
/// and `digits`.
fn ticks(array: &dyn Array, row: usize) -> (i64, u32) {
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            (array.as_primitive::<TimestampSecondType>().value(row), 0)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => (
            array.as_primitive::<TimestampMillisecondType>().value(row),
            3,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => (
            array.as_primitive::<TimestampMicrosecondType>().value(row),
            6,
        ),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => (
            array.as_primitive::<TimestampNanosecondType>().value(row),
            9,
        ),
        DataType::Duration(TimeUnit::Second) => {
            (array.as_primitive::<DurationSecondType>().value(row), 0)
        }
        DataType::Duration(TimeUnit::Millisecond) => (
            array.as_primitive::<DurationMillisecondType>().value(row),
            3,
        ),
        DataType::Duration(TimeUnit::Microsecond) => (
            array.as_primitive::<DurationMicrosecondType>().value(row),
            6,
        ),
        DataType::Duration(TimeUnit::Nanosecond) => {
            (array.as_primitive::<DurationNanosecondType>().value(row), 9)
        }
        _ => (0, 0),
    }
}

/// A time of day `v` units of `10^-digits` seconds after midnight as text
/// (`03:04:05.123`); one that is not in a day (a negative time, or 24 hours and
/// more) keeps its hours as they are (`25:00:00`, `-01:00:00`), never null.
fn time_of_day(v: i64, digits: u32) -> String {
    let per_second = 10i128.pow(digits);
    let v = i128::from(v);
    let sign = if v < 0 { "-" } else { "" };
    let v = v.abs();
    let nanos = (v % per_second) * 10i128.pow(9 - digits);
    format!("{sign}{}", clock(v / per_second, nanos))
}

/// `seconds` after midnight and `nanos` as `HH:MM:SS` with the fraction when it
/// is not zero, in groups of three digits (as `chrono` writes times).
fn clock(seconds: i128, nanos: i128) -> String {
    let (h, m, s) = (seconds / 3_600, seconds / 60 % 60, seconds % 60);
    let fraction = if nanos == 0 {
        String::new()
    } else if nanos % 1_000_000 == 0 {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    };
    format!("{h:02}:{m:02}:{s:02}{fraction}")
}

/// `b` as a JSON string of lowercase hex digits.
fn write_hex(out: &mut Vec<u8>, b: &[u8]) {
    let digit = |n: u8| if n < 10 { b'0' + n } else { b'a' + n - 10 };
    out.push(b'"');
    for &x in b {
        out.push(digit(x >> 4));
        out.push(digit(x & 15));
    }
    out.push(b'"');
}

/// Whether `field` holds UUIDs (Parquet's `UUID` logical type, Arrow's `arrow.uuid`
/// extension type): their values are written as UUID text.
fn is_uuid(field: &arrow_schema::Field) -> bool {
    field.extension_type_name() == Some("arrow.uuid")
        && matches!(field.data_type(), DataType::FixedSizeBinary(16))
}

/// Appends the JSON text of the value in `row` of `array`, the values of `field`:
/// a UUID as its hyphenated lowercase text, any other value as [`write_value`]
/// writes it.
fn write_field_value(
    field: &arrow_schema::Field,
    array: &dyn Array,
    row: usize,
    out: &mut Vec<u8>,
) {
    if !is_uuid(field) || array.is_null(row) {
        return write_value(array, row, out);
    }
    let Some(bytes) = array.as_fixed_size_binary_opt().map(|a| a.value(row)) else {
        return write_value(array, row, out);
    };
    let mut hex = Vec::with_capacity(34);
    write_hex(&mut hex, bytes);
    let digits = hex.get(1..33).unwrap_or_default();
    out.push(b'"');
    for (i, part) in [0..8, 8..12, 12..16, 16..20, 20..32]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push(b'-');
        }
        out.extend_from_slice(digits.get(part).unwrap_or_default());
    }
    out.push(b'"');
}

/// The key of a dictionary array's row `row` (`keys` are of an integer type).
fn dictionary_key(keys: &dyn Array, row: usize) -> Option<usize> {
    let key = match keys.data_type() {
        DataType::Int8 => i64::from(keys.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => i64::from(keys.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => i64::from(keys.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => keys.as_primitive::<Int64Type>().value(row),
        DataType::UInt8 => i64::from(keys.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => i64::from(keys.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => i64::from(keys.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => i64::try_from(keys.as_primitive::<UInt64Type>().value(row)).ok()?,
        _ => return None,
    };
    usize::try_from(key).ok()
}

/// Appends the JSON text of `array[row]`. The type was accepted by [`check_type`].
fn write_value(array: &dyn Array, row: usize, out: &mut Vec<u8>) {
    if array.is_null(row) {
        out.extend_from_slice(b"null");
        return;
    }
    match array.data_type() {
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            match dictionary_key(dictionary.keys(), row) {
                Some(key) if key < dictionary.values().len() => {
                    write_value(dictionary.values().as_ref(), key, out);
                }
                _ => out.extend_from_slice(b"null"),
            }
        }
        DataType::Boolean => {
            let v = array.as_boolean().value(row);
            out.extend_from_slice(if v { b"true" } else { b"false" });
        }
        DataType::Int8 => write_display(out, array.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => write_display(out, array.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => write_display(out, array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => write_display(out, array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => write_display(out, array.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => write_display(out, array.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => write_display(out, array.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => write_display(out, array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float16 => {
            let v = array.as_primitive::<Float16Type>().value(row);
            write_float(out, v.to_f64(), || format!("{:?}", v.to_f32()));
        }
        DataType::Float32 => {
            let v = array.as_primitive::<Float32Type>().value(row);
            write_float(out, f64::from(v), || format!("{v:?}"));
        }
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(row);
            write_float(out, v, || format!("{v:?}"));
        }
        DataType::Decimal32(_, _) => {
            let text = array.as_primitive::<Decimal32Type>().value_as_string(row);
            out.extend_from_slice(text.as_bytes());
        }
        DataType::Decimal64(_, _) => {
            let text = array.as_primitive::<Decimal64Type>().value_as_string(row);
            out.extend_from_slice(text.as_bytes());
        }
        DataType::Decimal128(_, _) => {
            let text = array.as_primitive::<Decimal128Type>().value_as_string(row);
            out.extend_from_slice(text.as_bytes());
        }
        DataType::Decimal256(_, _) => {
            let text = array.as_primitive::<Decimal256Type>().value_as_string(row);
            out.extend_from_slice(text.as_bytes());
        }
        DataType::Utf8 => write_str(out, array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => write_str(out, array.as_string::<i64>().value(row)),
        DataType::Utf8View => write_str(out, array.as_string_view().value(row)),
        DataType::Binary => write_bytes(out, array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => write_bytes(out, array.as_binary::<i64>().value(row)),
        DataType::BinaryView => write_bytes(out, array.as_binary_view().value(row)),
        // Fixed-size bytes (hashes, ids) are never text: hex throughout, so that
        // every value of a column reads the same way.
        DataType::FixedSizeBinary(_) => write_hex(out, array.as_fixed_size_binary().value(row)),
        // Dates, times and timestamps past what the calendar type takes (DuckDB's
        // `infinity` is the largest timestamp) are written all the same, by the
        // same rules (see [`far_instant`]), never as null.
        DataType::Date32 => {
            let days = i64::from(array.as_primitive::<Date32Type>().value(row));
            write_str(out, &far_instant(days, 0, false));
        }
        DataType::Date64 => {
            let ms = array.as_primitive::<Date64Type>().value(row);
            write_str(out, &far_instant(ms, 3, false));
        }
        DataType::Timestamp(_, _) => {
            let (v, digits) = ticks(array, row);
            write_str(out, &far_instant(v, digits, true));
        }
        DataType::Time32(unit) => {
            let (v, digits) = match unit {
                TimeUnit::Second => (array.as_primitive::<Time32SecondType>().value(row), 0),
                _ => (array.as_primitive::<Time32MillisecondType>().value(row), 3),
            };
            write_str(out, &time_of_day(i64::from(v), digits));
        }
        DataType::Time64(unit) => {
            let (v, digits) = match unit {
                TimeUnit::Microsecond => {
                    (array.as_primitive::<Time64MicrosecondType>().value(row), 6)
                }
                _ => (array.as_primitive::<Time64NanosecondType>().value(row), 9),
            };
            write_str(out, &time_of_day(v, digits));
        }
        DataType::Duration(_) => {
            let (v, digits) = ticks(array, row);
            write_str(out, &iso_duration(v, digits));
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            out.push(b'{');
            for (i, (f, col)) in fields.iter().zip(s.columns()).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, f.name());
                out.push(b':');
                write_field_value(f, col.as_ref(), row, out);
            }
            out.push(b'}');
        }
        DataType::List(f) => write_list(f, &array.as_list::<i32>().value(row), out),
        DataType::LargeList(f) => write_list(f, &array.as_list::<i64>().value(row), out),
        DataType::ListView(f) => write_list(f, &array.as_list_view::<i32>().value(row), out),
        DataType::LargeListView(f) => write_list(f, &array.as_list_view::<i64>().value(row), out),
        DataType::FixedSizeList(f, _) => {
            write_list(f, &array.as_fixed_size_list().value(row), out);
        }
        DataType::Map(entry, _) => {
            let map = array.as_map();
            let (key_field, value_field) = match entry.data_type() {
                DataType::Struct(fields) => (fields.first(), fields.get(1)),
                _ => (None, None),
            };
            let entries = map.value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            out.push(b'{');
            for i in 0..entries.len() {
                if i > 0 {
                    out.push(b',');
                }
                let mut key = Vec::new();
                match key_field {
                    Some(f) => write_field_value(f, keys.as_ref(), i, &mut key),
                    None => write_value(keys.as_ref(), i, &mut key),
                }
                if key.first() == Some(&b'"') {
                    out.extend_from_slice(&key);
                } else {
                    push_json_string(out, &key);
                }
                out.push(b':');
                match value_field {
                    Some(f) => write_field_value(f, values.as_ref(), i, out),
                    None => write_value(values.as_ref(), i, out),
                }
            }
            out.push(b'}');
        }
        _ => out.extend_from_slice(b"null"),
    }
}

fn write_list(field: &arrow_schema::Field, values: &arrow_array::ArrayRef, out: &mut Vec<u8>) {
    out.push(b'[');
    for i in 0..values.len() {
        if i > 0 {
            out.push(b',');
        }
        write_field_value(field, values.as_ref(), i, out);
    }
    out.push(b']');
}

impl Iterator for ParquetReader {
    type Item = Result<RawBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // Malformed pages may make the parquet crate panic rather than fail, or give
        // arrays whose buffers do not add up, on which reading a value panics.
        self.goes_on = false;
        let mut read = guarded(|| self.read()).unwrap_or_else(|panic| {
            self.goes_on = false;
            Some(Err(self.corrupt(panic)))
        });
        if let Some(read) = &mut read {
            self.place(read);
        }
        self.done = match &read {
            Some(Ok(_)) => false,
            Some(Err(_)) => !self.goes_on,
            None => true,
        };
        read
    }
}

impl Reader for ParquetReader {
    fn source_name(&self) -> &str {
        &self.source
    }

    fn bytes_read(&self) -> u64 {
        match (self.total, self.num_rows) {
            (Some(t), n) if n > 0 => (u128::from(t) * u128::from(self.row) / u128::from(n)) as u64,
            // Without rows, the footer was all there was to read.
            (Some(t), _) => t,
            (None, _) => 0,
        }
    }

    fn total_bytes(&self) -> Option<u64> {
        self.total
    }

    fn positions_are_bytes(&self) -> bool {
        false
    }

    fn goes_on_after_error(&self) -> bool {
        !self.done
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{Int64Builder, MapBuilder, StringBuilder};
    use arrow_array::{
        ArrayRef, BinaryArray, Date32Array, Decimal128Array, Float32Array, StringArray, StructArray,
    };
    use arrow_schema::{Field, Fields};

    use super::*;

    fn json_of(columns: Vec<(&str, ArrayRef)>) -> Vec<String> {
        let Ok(batch) = RecordBatch::try_from_iter(columns) else {
            return vec!["bad batch".into()];
        };
        (0..batch.num_rows())
            .map(|row| {
                let mut out = Vec::new();
                for (i, c) in batch.columns().iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    let field = batch.schema_ref().field(i).clone();
                    Column::of(&field, c.as_ref()).write(row, &mut out);
                }
                String::from_utf8_lossy(&out).into_owned()
            })
            .collect()
    }

    #[test]
    fn maps_structs_and_scalars_become_json() {
        let mut map = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
        map.keys().append_value("a");
        map.values().append_value(1);
        map.keys().append_value("b\"");
        map.values().append_null();
        let _ = map.append(true);
        let _ = map.append(false);
        let fields = Fields::from(vec![Field::new("x", DataType::Float32, true)]);
        let floats: ArrayRef = Arc::new(Float32Array::from(vec![Some(0.1), Some(3.0)]));
        let nulls = arrow_buffer::NullBuffer::from(vec![true, false]);
        let s = StructArray::try_new(fields, vec![floats], Some(nulls));
        let Ok(s) = s else {
            panic!("struct");
        };
        let dec = Decimal128Array::from(vec![12345, -5]).with_precision_and_scale(10, 2);
        let Ok(dec) = dec else {
            panic!("decimal");
        };
        let got = json_of(vec![
            ("m", Arc::new(map.finish())),
            ("s", Arc::new(s)),
            ("d", Arc::new(dec)),
            ("day", Arc::new(Date32Array::from(vec![0, 19_000]))),
            (
                "bin",
                Arc::new(BinaryArray::from(vec![&b"ok"[..], &[0xff, 0x00][..]])),
            ),
            (
                "text",
                Arc::new(StringArray::from(vec![Some("a \"b\"\n\u{1}é"), None])),
            ),
        ]);
        assert_eq!(
            got,
            [
                r#"{"a":1,"b\"":null} {"x":0.1} 123.45 "1970-01-01" "ok" "a \"b\"\n\u0001é""#,
                r#"null null -0.05 "2022-01-08" "ff00" null"#
            ]
        );
    }

    #[test]
    fn dates_times_and_timestamps_of_any_value_are_text() {
        use arrow_array::{
            Date64Array, Time32SecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
            TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
        };
        // In chrono's range as chrono writes them; past it (DuckDB's `infinity` is
        // the largest microsecond timestamp) by the same rules, never null.
        let got = json_of(vec![
            (
                "day",
                Arc::new(Date32Array::from(vec![
                    19_000,
                    -1,
                    i32::MAX,
                    i32::MIN,
                    -719_468,
                ])),
            ),
            (
                "ms_day",
                Arc::new(Date64Array::from(vec![
                    1_641_600_000_000,
                    -1,
                    i64::MAX,
                    i64::MIN,
                    0,
                ])),
            ),
            (
                "us",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    1_700_000_000_123_456,
                    -1,
                    i64::MAX,
                    i64::MIN,
                    0,
                ])),
            ),
            (
                "ns",
                Arc::new(TimestampNanosecondArray::from(vec![1, -1, i64::MAX, 0, 0])),
            ),
            (
                "ms",
                Arc::new(TimestampMillisecondArray::from(vec![
                    1_700_000_000_120,
                    1 << 62,
                    0,
                    0,
                    0,
                ])),
            ),
            (
                "s",
                Arc::new(TimestampSecondArray::from(vec![
                    0,
                    -62_167_219_201,
                    0,
                    0,
                    0,
                ])),
            ),
            (
                "time",
                Arc::new(Time32SecondArray::from(vec![3_723, 90_000, -3_600, 0, 0])),
            ),
            (
                "time_ns",
                Arc::new(Time64NanosecondArray::from(vec![
                    5,
                    86_400_000_000_000,
                    0,
                    0,
                    0,
                ])),
            ),
        ]);
        assert_eq!(
            got,
            [
                r#""2022-01-08" "2022-01-08" "2023-11-14 22:13:20.123456" "1970-01-01 00:00:00.000000001" "2023-11-14 22:13:20.120" "1970-01-01 00:00:00" "01:02:03" "00:00:00.000000005""#,
                r#""1969-12-31" "1969-12-31" "1969-12-31 23:59:59.999999" "1969-12-31 23:59:59.999999999" "+146140482-04-24 15:36:27.904" "-0001-12-31 23:59:59" "25:00:00" "24:00:00""#,
                r#""+5881580-07-11" "+292278994-08-17" "+294247-01-10 04:00:54.775807" "2262-04-11 23:47:16.854775807" "1970-01-01 00:00:00" "1970-01-01 00:00:00" "-01:00:00" "00:00:00""#,
                r#""-5877641-06-23" "-292275055-05-16" "-290308-12-21 19:59:05.224192" "1970-01-01 00:00:00" "1970-01-01 00:00:00" "1970-01-01 00:00:00" "00:00:00" "00:00:00""#,
                r#""0000-03-01" "1970-01-01" "1970-01-01 00:00:00" "1970-01-01 00:00:00" "1970-01-01 00:00:00" "1970-01-01 00:00:00" "00:00:00" "00:00:00""#,
            ]
        );
    }

    #[test]
    fn small_decimals_and_list_views_are_read() {
        use arrow_array::{Decimal32Array, Decimal64Array, Int8Array, ListViewArray};
        use arrow_buffer::ScalarBuffer;
        let d32 = Decimal32Array::from(vec![Some(125), None]).with_precision_and_scale(5, 2);
        let d64 =
            Decimal64Array::from(vec![Some(-123_456), Some(7)]).with_precision_and_scale(12, 3);
        let (Ok(d32), Ok(d64)) = (d32, d64) else {
            panic!("decimals");
        };
        // Views may overlap and come in any order.
        let values: ArrayRef = Arc::new(Int8Array::from(vec![1, 2, 3]));
        let item = Arc::new(Field::new("item", DataType::Int8, true));
        let views = ListViewArray::try_new(
            item,
            ScalarBuffer::from(vec![1, 0]),
            ScalarBuffer::from(vec![2, 3]),
            values,
            None,
        );
        let Ok(views) = views else {
            panic!("list view");
        };
        let got = json_of(vec![
            ("a", Arc::new(d32)),
            ("b", Arc::new(d64)),
            ("c", Arc::new(views)),
        ]);
        assert_eq!(got, ["1.25 -123.456 [2,3]", "null 0.007 [1,2,3]"]);
    }

    #[test]
    fn durations_keep_their_unit_as_iso_8601_seconds() {
        use arrow_array::{
            DurationMicrosecondArray, DurationMillisecondArray, DurationNanosecondArray,
            DurationSecondArray,
        };
        let got = json_of(vec![
            ("s", Arc::new(DurationSecondArray::from(vec![5000, -7, 0]))),
            (
                "ms",
                Arc::new(DurationMillisecondArray::from(vec![5000, -1500, 1])),
            ),
            (
                "us",
                Arc::new(DurationMicrosecondArray::from(vec![5000, i64::MIN, -1])),
            ),
            (
                "ns",
                Arc::new(DurationNanosecondArray::from(vec![
                    5000,
                    i64::MAX,
                    1_000_000_000,
                ])),
            ),
        ]);
        assert_eq!(
            got,
            [
                r#""PT5000S" "PT5S" "PT0.005S" "PT0.000005S""#,
                r#""-PT7S" "-PT1.5S" "-PT9223372036854.775808S" "PT9223372036.854775807S""#,
                r#""PT0S" "PT0.001S" "-PT0.000001S" "PT1S""#,
            ]
        );
    }

    #[test]
    fn dictionary_columns_are_their_values() {
        use arrow_array::types::{Int8Type, UInt16Type};
        use arrow_array::{DictionaryArray, Int8Array, Int64Array, StringArray, UInt16Array};
        let values: ArrayRef = Arc::new(StringArray::from(vec![Some("red"), None, Some("b\"")]));
        let keys = Int8Array::from(vec![Some(0), Some(2), None, Some(1), Some(0)]);
        let Ok(colours) = DictionaryArray::<Int8Type>::try_new(keys, values) else {
            panic!("dictionary");
        };
        let numbers: ArrayRef = Arc::new(Int64Array::from(vec![10, -20]));
        let keys = UInt16Array::from(vec![1, 1, 0, 0, 1]);
        let Ok(numbers) = DictionaryArray::<UInt16Type>::try_new(keys, numbers) else {
            panic!("dictionary");
        };
        let got = json_of(vec![("c", Arc::new(colours)), ("n", Arc::new(numbers))]);
        assert_eq!(
            got,
            [
                r#""red" -20"#,
                r#""b\"" -20"#,
                "null 10",
                "null 10",
                r#""red" -20"#
            ]
        );
        assert!(
            check_type(
                &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                "c",
                "f"
            )
            .is_ok()
        );
        assert!(
            check_type(
                &DataType::Dictionary(Box::new(DataType::Utf8), Box::new(DataType::Utf8)),
                "c",
                "f"
            )
            .is_err()
        );
    }

    #[test]
    fn wide_files_are_read_in_fewer_rows_a_batch() {
        assert_eq!(batch_rows(1024, 5), 1024);
        assert_eq!(batch_rows(1024, 16_384), 1024);
        assert_eq!(batch_rows(1024, 50_000), 335);
        assert_eq!(batch_rows(100, 50_000), 100);
        assert_eq!(batch_rows(1024, 20_000_000), 1);
        assert_eq!(batch_rows(1024, 0), 1024);
    }

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// A file of 20 rows in row groups of 7, with a struct, a list, a dictionary
    /// column, an all-null column and sparse columns.
    fn wide_test_file() -> std::result::Result<Vec<u8>, Box<dyn std::error::Error>> {
        use arrow_array::builder::{Int64Builder, ListBuilder};
        use arrow_array::{DictionaryArray, Int64Array, NullArray, StringArray};
        use parquet::arrow::ArrowWriter;
        use parquet::file::properties::WriterProperties;

        let rows = 20;
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows));
        let fields = Fields::from(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]);
        let a: ArrayRef = Arc::new(Int64Array::from_iter(
            (0..rows).map(|r| (r % 2 == 0).then_some(r * 10)),
        ));
        let b: ArrayRef = Arc::new(StringArray::from_iter(
            (0..rows).map(|r| (r % 3 == 0).then(|| format!("b\"{r}"))),
        ));
        let nulls = arrow_buffer::NullBuffer::from_iter((0..rows).map(|r| r % 5 != 4));
        let s: ArrayRef = Arc::new(StructArray::try_new(fields, vec![a, b], Some(nulls))?);
        let mut list = ListBuilder::new(Int64Builder::new());
        for r in 0..rows {
            if r % 4 == 1 {
                list.append_null();
            } else {
                list.values().append_slice(&(0..r % 3).collect::<Vec<_>>());
                list.append(true);
            }
        }
        let l: ArrayRef = Arc::new(list.finish());
        let keys = arrow_array::Int8Array::from_iter(
            (0..rows).map(|r| (r % 7 != 0).then_some((r % 2) as i8)),
        );
        let colours: ArrayRef = Arc::new(StringArray::from(vec!["red", "blue"]));
        let d: ArrayRef = Arc::new(DictionaryArray::<arrow_array::types::Int8Type>::try_new(
            keys, colours,
        )?);
        let mut columns = vec![
            ("id".to_string(), ids),
            ("s".to_string(), s),
            ("l".to_string(), l),
            ("d".to_string(), d),
            (
                "none".to_string(),
                Arc::new(NullArray::new(rows as usize)) as ArrayRef,
            ),
        ];
        for c in 0..8 {
            let values = (0..rows).map(|r| ((r + c) % 6 == 0).then(|| format!("v{c}.{r}")));
            columns.push((format!("c{c}"), Arc::new(StringArray::from_iter(values))));
        }
        let batch = RecordBatch::try_from_iter_with_nullable(
            columns
                .into_iter()
                .map(|(name, column)| (name, column, true)),
        )?;
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(7))
            .build();
        let mut bytes = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props))?;
        writer.write(&batch)?;
        writer.close()?;
        Ok(bytes)
    }

    /// Every record `reader` gives: its text and position.
    fn records_of(reader: ParquetReader) -> std::result::Result<Vec<(String, Position)>, Error> {
        let mut records = Vec::new();
        for batch in reader {
            let batch = batch?;
            for item in &batch.items {
                if let crate::reader::RawItem::Record { range, position } = item {
                    let text = String::from_utf8_lossy(batch.bytes(range)).into_owned();
                    records.push((text, *position));
                }
            }
        }
        Ok(records)
    }

    #[test]
    fn wide_files_read_a_row_group_in_slices_give_the_same_records() -> TestResult {
        let bytes = wide_test_file()?;
        let open = |batch_records: usize| {
            let options = ReaderOptions::builder()
                .with_skip_null(true)
                .with_batch_records(batch_records)
                .build()?;
            ParquetReader::new(Input::from_bytes("w.parquet", bytes.clone())?, &options)
        };
        // In batches of whole rows (the file is narrow for 1,024 rows a batch).
        let rows = open(1024)?;
        assert!(matches!(rows.batches, Batches::Rows(_)));
        let want = records_of(rows)?;
        assert_eq!(want.len(), 20);
        assert_eq!(
            want[0].0,
            r#"{"id":0,"s":{"a":0,"b":"b\"0"},"l":[],"c0":"v0.0","c6":"v6.0"}"#
        );
        assert_eq!(
            want[8].0,
            r#"{"id":8,"s":{"a":80,"b":null},"l":[0,1],"d":"red","c4":"v4.8"}"#
        );
        assert_eq!(want[9].0, r#"{"id":9,"d":"blue","c3":"v3.9"}"#);
        // A row's byte offset is its row group's first page: the first group's
        // right after the file's magic number, rows 7-13 the second's, 14-19 the
        // third's.
        let groups = {
            let mut file = tempfile::tempfile()?;
            file.write_all(&bytes)?;
            group_starts(ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())?.metadata())
        };
        assert_eq!(groups.iter().map(|g| g.0).collect::<Vec<_>>(), [0, 7, 14]);
        assert_eq!(groups.first().map(|g| g.1), Some(4));
        assert!(groups.windows(2).all(|w| w[0].1 < w[1].1), "{groups:?}");
        for (row, (_, position)) in want.iter().enumerate() {
            let group = groups[row / 7];
            assert_eq!(
                *position,
                Position::line_start(row as u64, row as u64 + 1, group.1)
            );
        }
        // So many rows a batch that the file counts as wide: a row group at a
        // time, two leaf columns a slice, or every group over its budget.
        for (slice_cells, budget) in [
            (14, GROUP_TEXT_BUDGET),
            (1, GROUP_TEXT_BUDGET),
            (1 << 20, 0),
        ] {
            let mut reader = open(1 << 24)?;
            let Batches::RowGroups(groups) = &mut reader.batches else {
                panic!("a wide file is read a row group at a time");
            };
            groups.slice_cells = slice_cells;
            groups.budget = budget;
            assert_eq!(
                records_of(reader)?,
                want,
                "{slice_cells} cells, budget {budget}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_batch_spreads_over_at_most_a_million_cells() {
        // Rows of 10 cells out of 50,000 columns: 323 rows (323 × 3,230 cells).
        let mut spread = Spread::new(50_000);
        let rows = std::iter::repeat(10).take_while(|&n| spread.add(n)).count();
        assert_eq!(rows, 323);
        // Full rows of 2,000 columns: 524 rows; a first row always fits.
        let mut spread = Spread::new(2_000);
        assert_eq!(
            std::iter::repeat(2_000)
                .take_while(|&n| spread.add(n))
                .count(),
            524
        );
        let mut spread = Spread::new(5_000_000);
        assert!(spread.add(5_000_000));
        assert!(!spread.add(1));
    }

    /// `batch` as a Parquet file, with the `parquet` crate's default settings.
    fn parquet_of(batch: &RecordBatch) -> std::result::Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut bytes = Vec::new();
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None)?;
        writer.write(batch)?;
        writer.close()?;
        Ok(bytes)
    }

    #[test]
    fn every_codec_parquet_offers_is_read() -> TestResult {
        use parquet::basic::{BrotliLevel, Compression as Codec, GzipLevel, ZstdLevel};
        let batch = RecordBatch::try_from_iter([
            (
                "n",
                Arc::new(arrow_array::Int64Array::from_iter_values(0..500)) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from_iter_values(
                    (0..500).map(|i| format!("v{}", i % 7)),
                )) as ArrayRef,
            ),
        ])?;
        let want: Vec<String> = (0..500)
            .map(|i| format!(r#"{{"n":{i},"s":"v{}"}}"#, i % 7))
            .collect();
        for codec in [
            Codec::UNCOMPRESSED,
            Codec::SNAPPY,
            Codec::GZIP(GzipLevel::default()),
            Codec::LZ4,
            Codec::LZ4_RAW,
            Codec::ZSTD(ZstdLevel::default()),
            Codec::BROTLI(BrotliLevel::default()),
        ] {
            let mut bytes = Vec::new();
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(codec)
                .build();
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props))?;
            writer.write(&batch)?;
            writer.close()?;
            let reader = ParquetReader::new(
                Input::from_bytes("c.parquet", bytes)?,
                &ReaderOptions::default(),
            )?;
            let got: Vec<String> = records_of(reader)?.into_iter().map(|(t, _)| t).collect();
            assert_eq!(got, want, "{codec}");
        }
        Ok(())
    }

    /// A one-row file of a column `d` nested `depth` levels deep (structs `{"s": …}`
    /// and lists of one element in turn, around the number 1), with the Arrow
    /// schema embedded as `ArrowWriter` embeds it, and the row's JSON text.
    fn nested_file(depth: usize) -> std::result::Result<(Vec<u8>, String), String> {
        use arrow_array::ListArray;
        use arrow_buffer::OffsetBuffer;
        let mut array: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![1]));
        let mut text = "1".to_string();
        for level in 0..depth {
            if level % 2 == 0 {
                let field = Arc::new(Field::new("s", array.data_type().clone(), false));
                array = Arc::new(StructArray::new(
                    Fields::from(vec![field]),
                    vec![array],
                    None,
                ));
                text = format!(r#"{{"s":{text}}}"#);
            } else {
                let field = Arc::new(Field::new("item", array.data_type().clone(), false));
                array = Arc::new(
                    ListArray::try_new(field, OffsetBuffer::from_lengths([1]), array, None)
                        .map_err(|e| e.to_string())?,
                );
                text = format!("[{text}]");
            }
        }
        let batch = RecordBatch::try_from_iter([("d", array)]).map_err(|e| e.to_string())?;
        let bytes = parquet_of(&batch).map_err(|e| e.to_string())?;
        Ok((bytes, format!(r#"{{"d":{text}}}"#)))
    }

    #[test]
    fn columns_nested_to_the_limit_are_read_on_a_small_stack_and_deeper_ones_refused() -> TestResult
    {
        // Made on a thread with room for the writer's recursion; read on a thread of
        // the default 2 MiB. Past 64 levels Arrow cannot decode the schema the
        // writer embeds (`ARROW:schema`), and the file's own schema is read.
        let big = std::thread::Builder::new()
            .name("writer".into())
            .stack_size(64 << 20);
        let files = big
            .spawn(|| {
                [
                    nested_file(PARQUET_MAX_DEPTH),
                    nested_file(PARQUET_MAX_DEPTH + 1),
                ]
            })
            .map_err(|e| e.to_string())?
            .join()
            .map_err(|_| "the writer's thread panicked")?;
        let [deepest, too_deep] = files;
        let ((deepest, text), (too_deep, _)) = (deepest?, too_deep?);
        let small = std::thread::Builder::new()
            .name("reader".into())
            .stack_size(2 << 20);
        let read = small
            .spawn(move || {
                let open = |name: &str, bytes: Vec<u8>| {
                    ParquetReader::new(Input::from_bytes(name, bytes)?, &ReaderOptions::default())
                };
                let records = open("deep.parquet", deepest).and_then(records_of);
                let refused = open("deeper.parquet", too_deep).and_then(records_of);
                (
                    records.map(|r| r.into_iter().map(|(text, _)| text).collect::<Vec<_>>()),
                    refused.map_err(|e| e.to_string()),
                )
            })
            .map_err(|e| e.to_string())?
            .join()
            .map_err(|_| "the reader's thread panicked")?;
        assert_eq!(read.0?, [text]);
        assert_eq!(
            read.1.err().as_deref(),
            Some(
                "deeper.parquet: column \"d\" is nested more than 100 levels deep, deeper than \
                 a Parquet input is read"
            )
        );
        Ok(())
    }

    #[test]
    fn rows_of_large_values_are_read_a_few_at_a_time() -> TestResult {
        // 12 rows of 1 MiB texts in one row group: read at most 8 MiB of them a
        // batch (8 rows), not the 1,024 rows a batch of small ones holds.
        let texts: Vec<String> = (0..12u8)
            .map(|i| char::from(b'a' + i).to_string().repeat(1 << 20))
            .collect();
        let column: ArrayRef = Arc::new(StringArray::from(texts.clone()));
        let batch = RecordBatch::try_from_iter(vec![("s", column)])?;
        let bytes = parquet_of(&batch)?;
        let options = ReaderOptions::builder().build()?;
        let reader = ParquetReader::new(Input::from_bytes("big.parquet", bytes)?, &options)?;
        let mut sizes = Vec::new();
        let mut records = Vec::new();
        for batch in reader {
            let batch = batch?;
            sizes.push(batch.len());
            for item in &batch.items {
                if let crate::reader::RawItem::Record { range, .. } = item {
                    records.push(batch.bytes(range).to_vec());
                }
            }
        }
        assert_eq!(sizes, [7, 5]);
        let expected: Vec<Vec<u8>> = texts
            .iter()
            .map(|t| format!("{{\"s\":\"{t}\"}}").into_bytes())
            .collect();
        assert!(records == expected, "the records differ");
        Ok(())
    }

    #[test]
    fn columns_that_share_a_name_keep_their_values_apart() -> TestResult {
        use arrow_array::Int32Array;

        // `a` twice and `a_2` once: the second `a` is `a_3` (a name as written comes
        // first, as in a CSV header), so no column's values are lost; nulls go as
        // ever.
        let a: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        let b: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), None]));
        let c: ArrayRef = Arc::new(StringArray::from(vec![None, Some("y")]));
        let batch = RecordBatch::try_from_iter(vec![("a", a), ("a", b), ("a_2", c)])?;
        let bytes = parquet_of(&batch)?;
        for skip_null in [true, false] {
            let options = ReaderOptions::builder().with_skip_null(skip_null).build()?;
            let input = Input::from_bytes("d.parquet", bytes.clone())?;
            let reader = ParquetReader::new(input, &options)?;
            let records: Vec<String> = records_of(reader)?.into_iter().map(|(t, _)| t).collect();
            let expected = if skip_null {
                [r#"{"a":1,"a_3":"x"}"#, r#"{"a":2,"a_2":"y"}"#]
            } else {
                [
                    r#"{"a":1,"a_3":"x","a_2":null}"#,
                    r#"{"a":2,"a_3":null,"a_2":"y"}"#,
                ]
            };
            assert_eq!(records, expected, "{skip_null}");
        }
        Ok(())
    }

    #[test]
    fn a_struct_with_two_fields_of_one_name_is_refused_by_name() -> TestResult {
        use arrow_array::{Int32Array, StructArray};
        use arrow_schema::{Field, Fields};

        // A row's object would keep one of the two: the file is refused, not read
        // with one field's values lost.
        let fields = Fields::from(vec![
            Field::new("x", DataType::Int32, true),
            Field::new("x", DataType::Int32, true),
        ]);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![1, 2])),
            Arc::new(Int32Array::from(vec![3, 4])),
        ];
        let s: ArrayRef = Arc::new(StructArray::try_new(fields, columns, None)?);
        let outer = StructArray::try_from(vec![("s", s)])?;
        let batch = RecordBatch::try_from_iter(vec![("o", Arc::new(outer) as ArrayRef)])?;
        let bytes = parquet_of(&batch)?;
        let input = Input::from_bytes("f.parquet", bytes)?;
        let error = match ParquetReader::new(input, &ReaderOptions::default()) {
            Err(e) => e.to_string(),
            Ok(reader) => match records_of(reader) {
                Err(e) => e.to_string(),
                Ok(records) => format!("read {records:?}"),
            },
        };
        assert_eq!(
            error,
            "f.parquet: column \"o.s\" has two fields named \"x\", and a record keeps one value \
             of a key: rename one of them to read the file"
        );
        Ok(())
    }

    #[test]
    fn batches_too_spread_are_handed_on_in_parts() -> TestResult {
        use arrow_array::Int32Array;

        // 1,024 rows of 1,100 columns: 1,126,400 cells, handed on as 953 rows and 71.
        let columns = (0..1100).map(|c| {
            let values = (0..1024).map(|r| c * 10_000 + r);
            (
                format!("c{c}"),
                Arc::new(Int32Array::from_iter_values(values)) as ArrayRef,
            )
        });
        let batch = RecordBatch::try_from_iter(columns)?;
        let bytes = parquet_of(&batch)?;
        for skip_null in [true, false] {
            let options = ReaderOptions::builder().with_skip_null(skip_null).build()?;
            let reader =
                ParquetReader::new(Input::from_bytes("s.parquet", bytes.clone())?, &options)?;
            let mut sizes = Vec::new();
            let mut records = Vec::new();
            for batch in reader {
                let batch = batch?;
                sizes.push(batch.len());
                for item in &batch.items {
                    if let crate::reader::RawItem::Record { range, position } = item {
                        records.push((batch.bytes(range).to_vec(), *position));
                    }
                }
            }
            assert_eq!(sizes, [953, 71]);
            for (r, (text, position)) in records.iter().enumerate() {
                // One row group, whose first page follows the magic number.
                assert_eq!(*position, Position::line_start(r as u64, r as u64 + 1, 4));
                let cells: Vec<String> = (0..1100)
                    .map(|c| format!("\"c{c}\":{}", c * 10_000 + r))
                    .collect();
                assert_eq!(
                    String::from_utf8_lossy(text),
                    format!("{{{}}}", cells.join(","))
                );
            }
            assert_eq!(records.len(), 1024);
        }
        Ok(())
    }

    #[test]
    fn uuids_read_as_their_text_and_fixed_size_bytes_as_hex() -> TestResult {
        use arrow_array::{FixedSizeBinaryArray, ListArray, StructArray};
        use arrow_buffer::{NullBuffer, OffsetBuffer};
        use arrow_schema::{Field, Schema};
        use parquet::arrow::ArrowWriter;
        use parquet::arrow::arrow_writer::ArrowWriterOptions;

        let uuid = |name: &str| {
            Field::new(name, DataType::FixedSizeBinary(16), true).with_metadata(
                std::collections::HashMap::from([(
                    "ARROW:extension:name".to_string(),
                    "arrow.uuid".to_string(),
                )]),
            )
        };
        let ids = [
            Some(*b"\x12\x34\x56\x78\x12\x34\x56\x78\x12\x34\x56\x78\x12\x34\x56\x78"),
            // Bytes that are text too: a UUID all the same.
            Some(*b"ABCDEFGHIJKLMNOP"),
            None,
        ];
        let id = FixedSizeBinaryArray::try_from_sparse_iter_with_size(ids.iter().copied(), 16)?;
        let hash = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
            [Some(*b"ABCD"), Some(*b"\xff\x00\x01\x02"), None].into_iter(),
            4,
        )?;
        let inner = Arc::new(uuid("u"));
        let nested = StructArray::new(
            vec![inner.as_ref().clone()].into(),
            vec![Arc::new(id.clone()) as ArrayRef],
            Some(NullBuffer::from(vec![true, false, true])),
        );
        let item = Arc::new(uuid("item"));
        let list = ListArray::new(
            item.clone(),
            OffsetBuffer::from_lengths([2, 0, 1]),
            Arc::new(FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                [ids[1], ids[0], ids[0]].into_iter(),
                16,
            )?),
            None,
        );
        let schema = Arc::new(Schema::new(vec![
            uuid("id"),
            Field::new("hash", DataType::FixedSizeBinary(4), true),
            Field::new("s", nested.data_type().clone(), true),
            Field::new("l", list.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(id),
                Arc::new(hash),
                Arc::new(nested),
                Arc::new(list),
            ],
        )?;
        let want = [
            r#"{"id":"12345678-1234-5678-1234-567812345678","hash":"41424344","s":{"u":"12345678-1234-5678-1234-567812345678"},"l":["41424344-4546-4748-494a-4b4c4d4e4f50","12345678-1234-5678-1234-567812345678"]}"#,
            r#"{"id":"41424344-4546-4748-494a-4b4c4d4e4f50","hash":"ff000102","s":null,"l":[]}"#,
            r#"{"id":null,"hash":null,"s":{"u":null},"l":["12345678-1234-5678-1234-567812345678"]}"#,
        ];
        // With the Arrow schema stored in the file, and with only Parquet's own
        // logical type (as most writers leave it).
        for skip_arrow_metadata in [false, true] {
            let mut bytes = Vec::new();
            let options = ArrowWriterOptions::new().with_skip_arrow_metadata(skip_arrow_metadata);
            let mut writer =
                ArrowWriter::try_new_with_options(&mut bytes, schema.clone(), options)?;
            writer.write(&batch)?;
            writer.close()?;
            let options = ReaderOptions::builder().build()?;
            let reader = ParquetReader::new(Input::from_bytes("u.parquet", bytes)?, &options)?;
            let got: Vec<String> = records_of(reader)?.into_iter().map(|(t, _)| t).collect();
            assert_eq!(got, want, "{skip_arrow_metadata}");
        }
        Ok(())
    }
}
