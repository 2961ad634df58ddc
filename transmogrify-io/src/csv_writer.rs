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
use arrow_array::{
    Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
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
/// Output is byte for byte what the `csv` crate writes with the same delimiter and
/// `\n` terminator: a field is quoted when it holds the delimiter, a quote, `\r` or
/// `\n` (quotes doubled inside), and a record that would otherwise be empty (one
/// column, empty or null cell) is written as `""`. Text columns are written straight
/// from their Arrow buffers into a block buffer.
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
    out: W,
    buf: Vec<u8>,
    delimiter: u8,
    rows: u64,
}

/// Bytes gathered before they are handed to the output.
const BLOCK: usize = 256 * 1024;

fn io_err(e: std::io::Error) -> Error {
    Error::io("<csv output>", e)
}

impl<W: Write + Send> CsvWriter<W> {
    /// A writer into `out` that writes the header of `schema` at once.
    pub fn new(out: W, schema: &SchemaRef, delimiter: u8) -> Result<Self> {
        let mut writer = CsvWriter {
            out,
            buf: Vec::with_capacity(BLOCK + BLOCK / 4),
            delimiter,
            rows: 0,
        };
        writer.header(schema)?;
        Ok(writer)
    }

    /// Writes the header record of `schema`.
    pub(crate) fn header(&mut self, schema: &SchemaRef) -> Result<()> {
        let start = self.buf.len();
        for (i, field) in schema.fields().iter().enumerate() {
            if i > 0 {
                self.buf.push(self.delimiter);
            }
            push_field(&mut self.buf, field.name().as_bytes(), self.delimiter);
        }
        self.end_record(start)
    }

    /// A writer of rows only (no header) into `out`, gathering blocks in `buf`
    /// (emptied first; handed back by [`CsvWriter::end_rows`] for the next writer).
    pub(crate) fn rows_into(out: W, delimiter: u8, mut buf: Vec<u8>) -> Self {
        buf.clear();
        CsvWriter {
            out,
            buf,
            delimiter,
            rows: 0,
        }
    }

    /// Hands the rest of the rows to the output; returns how many rows were written
    /// and the block buffer.
    /// Writes the rows of `columns` (`rows` of them), laid out as the header says:
    /// [`TableWriter::write`] without a batch.
    pub(crate) fn write_columns(
        &mut self,
        columns: &[arrow_array::ArrayRef],
        rows: usize,
    ) -> Result<()> {
        let delimiter = self.delimiter;
        let cells_of: Vec<Cells<'_>> = columns
            .iter()
            .map(|c| {
                if let Some(array) = c.as_string_opt::<i32>() {
                    Cells::Text {
                        array,
                        plain: plain_text(array, delimiter),
                    }
                } else if let Some(array) = c.as_primitive_opt::<Int64Type>() {
                    Cells::Int(array)
                } else if let Some(array) = c.as_primitive_opt::<Float64Type>() {
                    Cells::Float(array)
                } else if let Some(array) = c.as_boolean_opt() {
                    Cells::Bool(array)
                } else if let Some(array) = c.as_primitive_opt::<TimestampMicrosecondType>() {
                    Cells::Time(array)
                } else {
                    Cells::Other(c.as_ref())
                }
            })
            .collect();
        let mut cells = CellWriter::new(delimiter);
        if let Some(fast) = fast_columns(&cells_of) {
            // Batches without columns null throughout go without counting gaps.
            return if fast.gaps {
                self.write_rows::<true>(&fast, &mut cells, rows)
            } else {
                self.write_rows::<false>(&fast, &mut cells, rows)
            };
        }
        for row in 0..rows {
            let start = self.buf.len();
            for (i, column) in cells_of.iter().enumerate() {
                if i > 0 {
                    self.buf.push(delimiter);
                }
                cells.push(&mut self.buf, column, row)?;
            }
            self.end_record(start)?;
        }
        self.rows += rows as u64;
        Ok(())
    }

    pub(crate) fn end_rows(mut self) -> Result<(u64, Vec<u8>)> {
        self.out.write_all(&self.buf).map_err(io_err)?;
        self.buf.clear();
        Ok((self.rows, self.buf))
    }

    /// Writes a record of `columns` columns whose non-empty cells are `cells`:
    /// (column, text) in ascending order of column; the other columns are empty.
    /// A wide record with a few cells costs its delimiters as one fill. (The
    /// reference of the widening tests.)
    #[cfg(test)]
    pub(crate) fn write_cells<'t>(
        &mut self,
        columns: usize,
        cells: impl IntoIterator<Item = (usize, &'t [u8])>,
    ) -> Result<()> {
        let start = self.buf.len();
        let delimiter = self.delimiter;
        // Delimiters written so far, so the column the next cell starts in.
        let mut at = 0;
        for (column, text) in cells {
            if text.is_empty() {
                continue;
            }
            let gap = column.saturating_sub(at);
            self.buf.resize(self.buf.len() + gap, delimiter);
            at += gap;
            push_field(&mut self.buf, text, delimiter);
        }
        let rest = columns.saturating_sub(1).saturating_sub(at);
        self.buf.resize(self.buf.len() + rest, delimiter);
        self.rows += 1;
        self.end_record(start)
    }

    /// Ends the record begun at `start` in the buffer; hands a full block on.
    fn end_record(&mut self, start: usize) -> Result<()> {
        if self.buf.len() == start {
            self.buf.extend_from_slice(b"\"\"");
        }
        self.buf.push(b'\n');
        if self.buf.len() >= BLOCK {
            self.out.write_all(&self.buf).map_err(io_err)?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// A column as the writer reads it.
enum Cells<'a> {
    /// Text; `plain` when no cell of the batch needs quotes (checked once per
    /// batch over the column's whole value buffer, which is far cheaper than per cell).
    Text {
        array: &'a StringArray,
        plain: bool,
    },
    Int(&'a Int64Array),
    Float(&'a Float64Array),
    Bool(&'a BooleanArray),
    Time(&'a TimestampMicrosecondArray),
    Other(&'a dyn Array),
}

/// Whether no value of `array` holds the delimiter, a quote, `\r` or `\n`.
fn plain_text(array: &StringArray, delimiter: u8) -> bool {
    let offsets = array.value_offsets();
    let (Some(&start), Some(&end)) = (offsets.first(), offsets.last()) else {
        return true;
    };
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return false;
    };
    array.value_data().get(start..end).is_some_and(|bytes| {
        memchr::memchr3(b'"', b'\n', b'\r', bytes).is_none()
            && memchr::memchr(delimiter, bytes).is_none()
    })
}

impl<W: Write + Send> TableWriter for CsvWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_columns(batch.columns(), batch.num_rows())
    }

    fn finish(mut self: Box<Self>) -> Result<WriteSummary> {
        self.out.write_all(&self.buf).map_err(io_err)?;
        self.buf.clear();
        self.out.flush().map_err(io_err)?;
        Ok(WriteSummary { rows: self.rows })
    }
}

/// Writes one cell of any kind of column: every cell of the general path, and the
/// cells of [`CsvWriter::write_rows`] that are not plain text.
struct CellWriter {
    delimiter: u8,
    int: itoa::Buffer,
    float: zmij::Buffer,
    /// Whether the texts of numbers, booleans and timestamps never need quotes (the
    /// delimiter is none of their characters).
    number_plain: bool,
    bool_plain: bool,
    time_plain: bool,
    /// The last timestamp written and its text: the extraction time, in every row,
    /// is formatted once.
    time: Option<(i64, String)>,
    /// Text of a cell of another type.
    cell: String,
}

impl CellWriter {
    fn new(delimiter: u8) -> Self {
        CellWriter {
            delimiter,
            int: itoa::Buffer::new(),
            float: zmij::Buffer::new(),
            number_plain: !matches!(delimiter, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'),
            bool_plain: !b"truefals".contains(&delimiter),
            time_plain: !matches!(delimiter, b'0'..=b'9' | b'-' | b' ' | b':' | b'.'),
            time: None,
            cell: String::new(),
        }
    }

    /// Appends the cell of `row` of `column` (nothing for a null).
    #[inline]
    fn push(&mut self, buf: &mut Vec<u8>, column: &Cells<'_>, row: usize) -> Result<()> {
        let delimiter = self.delimiter;
        let known = |buf: &mut Vec<u8>, text: &[u8], plain: bool| {
            if plain {
                buf.extend_from_slice(text);
            } else {
                push_field(buf, text, delimiter);
            }
        };
        match column {
            Cells::Text { array, plain } => {
                if array.is_valid(row) {
                    if *plain {
                        push_plain(buf, array, row);
                    } else {
                        push_field(buf, array.value(row).as_bytes(), delimiter);
                    }
                }
            }
            Cells::Int(array) => {
                if array.is_valid(row) {
                    let text = self.int.format(array.value(row));
                    known(buf, text.as_bytes(), self.number_plain);
                }
            }
            Cells::Float(array) => {
                if array.is_valid(row) {
                    let v = array.value(row);
                    if v.is_finite() {
                        let text = self.float.format_finite(v);
                        known(buf, text.as_bytes(), self.number_plain);
                    } else {
                        self.cell.clear();
                        cell_text(*array, row, &mut self.cell)?;
                        push_field(buf, self.cell.as_bytes(), delimiter);
                    }
                }
            }
            Cells::Bool(array) => {
                if array.is_valid(row) {
                    let text: &[u8] = if array.value(row) { b"true" } else { b"false" };
                    known(buf, text, self.bool_plain);
                }
            }
            Cells::Time(array) => {
                if array.is_valid(row) {
                    let v = array.value(row);
                    let text = match &self.time {
                        Some((last, text)) if *last == v => text,
                        _ => {
                            let text = transmogrify_core::format_timestamp(v);
                            &self.time.insert((v, text)).1
                        }
                    };
                    known(buf, text.as_bytes(), self.time_plain);
                }
            }
            Cells::Other(array) => {
                self.cell.clear();
                cell_text(*array, row, &mut self.cell)?;
                push_field(buf, self.cell.as_bytes(), delimiter);
            }
        }
        Ok(())
    }
}

/// A column of a batch written by [`CsvWriter::write_rows`].
enum FastCells<'c, 'a> {
    /// Text that needs no quotes, with null cells spanning no bytes: copied as it is.
    Plain(&'a [i32], &'a [u8]),
    /// Anything else: written cell by cell through a [`CellWriter`].
    Cell(&'c Cells<'a>),
}

/// The columns of a batch as [`CsvWriter::write_rows`] writes them: each with the
/// number of delimiters before it, which also stand for the columns before it that
/// are null in every row of the batch (sparse data conformed to a wide layout has
/// thousands), and the delimiters after the last one.
struct FastRow<'c, 'a> {
    columns: Vec<(usize, FastCells<'c, 'a>)>,
    trailing: usize,
    /// Whether some column is null throughout (so some gap is not one delimiter).
    gaps: bool,
}

/// The columns of a batch for [`CsvWriter::write_rows`]: when there are at least two
/// (a record of one empty cell is written as `""`) and some are plain text or null
/// in every row.
fn fast_columns<'c, 'a>(columns: &'c [Cells<'a>]) -> Option<FastRow<'c, 'a>> {
    if columns.len() < 2 {
        return None;
    }
    let mut fast = Vec::with_capacity(columns.len());
    // Delimiters before the next column written.
    let mut gap = 0;
    let mut any = false;
    let mut gaps = false;
    for column in columns {
        let cells = match column {
            _ if all_null(column) => {
                gap += 1;
                gaps = true;
                continue;
            }
            Cells::Text { array, plain: true } if nulls_are_empty(array) => {
                any = true;
                FastCells::Plain(array.value_offsets(), array.value_data())
            }
            other => FastCells::Cell(other),
        };
        fast.push((gap, cells));
        gap = 1;
    }
    // The first column has no delimiter before it.
    (any || gaps).then_some(FastRow {
        columns: fast,
        trailing: gap - 1,
        gaps,
    })
}

/// Whether every cell of the column is null.
fn all_null(column: &Cells<'_>) -> bool {
    let array: &dyn Array = match column {
        Cells::Text { array, .. } => *array,
        Cells::Int(array) => *array,
        Cells::Float(array) => *array,
        Cells::Bool(array) => *array,
        Cells::Time(array) => *array,
        Cells::Other(array) => *array,
    };
    array.null_count() == array.len()
}

/// Whether every null cell of `array` spans no bytes (so it reads as empty text).
fn nulls_are_empty(array: &StringArray) -> bool {
    let Some(nulls) = array.nulls() else {
        return true;
    };
    let offsets = array.value_offsets();
    nulls
        .iter()
        .zip(offsets.windows(2))
        .all(|(valid, range)| valid || range.first() == range.last())
}

impl<W: Write + Send> CsvWriter<W> {
    /// Writes rows with some plain text columns (see [`fast_columns`]). The room a
    /// row needs for its plain cells, delimiters and line end is reserved once, then
    /// plain cells are copied as whole 16- or 48-byte blocks cut back to their
    /// length, without a capacity check for every cell and delimiter; other cells go
    /// through `cells` in between.
    fn write_rows<const GAPS: bool>(
        &mut self,
        fast: &FastRow<'_, '_>,
        cells: &mut CellWriter,
        rows: usize,
    ) -> Result<()> {
        let columns = &fast.columns;
        for (_, column) in columns {
            let len = match column {
                FastCells::Plain(offsets, _) => offsets.len(),
                FastCells::Cell(_) => usize::MAX,
            };
            if len < rows + 1 {
                return Err(Error::Internal(
                    "a text column is shorter than its batch".into(),
                ));
            }
        }
        let delimiter = self.delimiter;
        // The delimiters and the line end.
        let width = columns.iter().map(|(gap, _)| gap).sum::<usize>() + fast.trailing + 1;
        for row in 0..rows {
            // Room for the plain cells, the delimiters and the line end.
            let mut len = width;
            for (_, column) in columns {
                if let FastCells::Plain(offsets, _) = column {
                    // SAFETY: `offsets` has at least `rows + 1` entries (checked above).
                    let (start, end) =
                        unsafe { (*offsets.get_unchecked(row), *offsets.get_unchecked(row + 1)) };
                    len += (end - start) as usize;
                }
            }
            // And for one 48-byte block copied past the end.
            self.buf.reserve(len + 48);
            let mut base = self.buf.len();
            let mut out = self.buf.spare_capacity_mut().as_mut_ptr().cast::<u8>();
            let mut at = 0usize;
            for (i, (gap, column)) in columns.iter().enumerate() {
                if GAPS {
                    // SAFETY: what is written from `out` stays within `len` bytes.
                    unsafe { write_delimiters(out.add(at), delimiter, *gap) };
                    at += gap;
                } else if i > 0 {
                    // SAFETY: as above.
                    unsafe { out.add(at).write(delimiter) };
                    at += 1;
                }
                match column {
                    FastCells::Plain(offsets, data) => {
                        // SAFETY: as above for the offsets; a valid Arrow array's
                        // offsets ascend within its value buffer.
                        let (start, end) = unsafe {
                            (
                                *offsets.get_unchecked(row) as usize,
                                *offsets.get_unchecked(row + 1) as usize,
                            )
                        };
                        let n = end - start;
                        // SAFETY: `data[start..end]` is in bounds (above); a block is
                        // read only where `data` holds all of it, and written at most
                        // 48 bytes past `at`, within the room reserved past `len`.
                        unsafe {
                            let from = data.as_ptr().add(start);
                            if n <= 16 && start + 16 <= data.len() {
                                std::ptr::copy_nonoverlapping(from, out.add(at), 16);
                            } else if n <= 48 && start + 48 <= data.len() {
                                std::ptr::copy_nonoverlapping(from, out.add(at), 48);
                            } else {
                                std::ptr::copy_nonoverlapping(from, out.add(at), n);
                            }
                        }
                        at += n;
                    }
                    FastCells::Cell(column) => {
                        // SAFETY: the `at` bytes after `base` were all written above.
                        unsafe { self.buf.set_len(base + at) };
                        cells.push(&mut self.buf, column, row)?;
                        // What is left of the row fits in `len` again.
                        self.buf.reserve(len + 48);
                        base = self.buf.len();
                        out = self.buf.spare_capacity_mut().as_mut_ptr().cast::<u8>();
                        at = 0;
                    }
                }
            }
            // SAFETY: the delimiters and line end are within `len`, and every byte up to
            // them is written.
            unsafe {
                if GAPS {
                    write_delimiters(out.add(at), delimiter, fast.trailing);
                    at += fast.trailing;
                }
                out.add(at).write(b'\n');
                self.buf.set_len(base + at + 1);
            }
            if self.buf.len() >= BLOCK {
                self.out.write_all(&self.buf).map_err(io_err)?;
                self.buf.clear();
            }
        }
        self.rows += rows as u64;
        Ok(())
    }
}

/// Writes `n` delimiters at `out`: one (nearly always) without a call to `memset`.
///
/// # Safety
/// `out` must be valid for writes of `n` bytes.
#[inline(always)]
unsafe fn write_delimiters(out: *mut u8, delimiter: u8, n: usize) {
    // SAFETY: as the caller promises.
    unsafe {
        match n {
            0 => {}
            1 => out.write(delimiter),
            _ => out.write_bytes(delimiter, n),
        }
    }
}

/// Appends the value of `row` of a text column that needs no quotes. A short value
/// (most cells, ids and timestamps included) is copied as a whole 16- or 48-byte
/// block of the column's buffer, cut back to its length after, which saves a call to
/// `memcpy` for each cell.
#[inline(always)]
fn push_plain(buf: &mut Vec<u8>, array: &StringArray, row: usize) {
    let offsets = array.value_offsets();
    let (Some(&start), Some(&end)) = (offsets.get(row), offsets.get(row + 1)) else {
        return;
    };
    let (start, len) = (start as usize, end.saturating_sub(start) as usize);
    let data = array.value_data();
    let copied = match len {
        0..=16 => push_block::<16>(buf, data, start, len),
        17..=48 => push_block::<48>(buf, data, start, len),
        _ => false,
    };
    if !copied && let Some(value) = data.get(start..start + len) {
        buf.extend_from_slice(value);
    }
}

/// Appends `data[start..start + len]` (`len <= N`) by copying `N` bytes and cutting
/// back; `false` when fewer than `N` bytes follow `start`.
#[inline(always)]
fn push_block<const N: usize>(buf: &mut Vec<u8>, data: &[u8], start: usize, len: usize) -> bool {
    let Some(block) = data
        .get(start..start + N)
        .and_then(|b| <&[u8; N]>::try_from(b).ok())
    else {
        return false;
    };
    let at = buf.len();
    buf.extend_from_slice(block);
    buf.truncate(at + len);
    true
}

/// U+FEFF in UTF-8.
const BYTE_ORDER_MARK: &[u8] = b"\xef\xbb\xbf";

/// Appends one field, quoted if it needs to be.
#[inline]
pub(crate) fn push_field(buf: &mut Vec<u8>, field: &[u8], delimiter: u8) {
    if !needs_quotes(field, delimiter) {
        buf.extend_from_slice(field);
        return;
    }
    buf.push(b'"');
    let mut rest = field;
    while let Some(at) = rest.iter().position(|&b| b == b'"') {
        let (head, tail) = rest.split_at(at + 1);
        buf.extend_from_slice(head);
        buf.push(b'"');
        rest = tail;
    }
    buf.extend_from_slice(rest);
    buf.push(b'"');
}

/// Whether `field` holds the delimiter, a quote, `\r` or `\n` (eight bytes at a time).
#[inline]
fn needs_quotes(field: &[u8], delimiter: u8) -> bool {
    // A field that starts with a byte order mark: first in a file, a reader would
    // take it for the file's mark and drop it from the value.
    if field.starts_with(BYTE_ORDER_MARK) {
        return true;
    }
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has = |word: u64, byte: u8| {
        let x = word ^ (LO * u64::from(byte));
        x.wrapping_sub(LO) & !x & HI
    };
    let mut chunks = field.chunks_exact(8);
    for chunk in chunks.by_ref() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_le_bytes(bytes);
        if has(word, delimiter) | has(word, b'"') | has(word, b'\n') | has(word, b'\r') != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r')
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
        DataType::Int64 => {
            out.push_str(itoa::Buffer::new().format(array.as_primitive::<Int64Type>().value(row)));
            Ok(())
        }
        DataType::UInt64 => write!(out, "{}", array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(row);
            if v.is_finite() {
                // The text serde_json writes for the number.
                out.push_str(zmij::Buffer::new().format_finite(v));
                Ok(())
            } else {
                write!(out, "{v}")
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::ArrayRef;
    use arrow_schema::{Field, Schema};

    use super::*;

    /// What the `csv` crate writes for the same cells (nulls as empty fields).
    fn reference(names: &[String], rows: &[Vec<Option<String>>], delimiter: u8) -> Vec<u8> {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        writer.write_record(names).ok();
        for row in rows {
            for cell in row {
                writer.write_field(cell.as_deref().unwrap_or("")).ok();
            }
            writer.write_record(None::<&[u8]>).ok();
        }
        writer.into_inner().unwrap_or_default()
    }

    /// Writes `batch` with `delimiter` and compares with [`reference`] for `rows`.
    fn assert_writes_like_the_csv_crate(
        batch: &RecordBatch,
        names: &[String],
        rows: &[Vec<Option<String>>],
        delimiter: u8,
        context: &dyn std::fmt::Debug,
    ) -> Result<()> {
        let mut out = Vec::new();
        let mut writer = Box::new(CsvWriter::new(&mut out, &batch.schema(), delimiter)?);
        writer.write(batch)?;
        writer.finish()?;
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&reference(names, rows, delimiter)),
            "{context:?}"
        );
        Ok(())
    }

    #[test]
    fn writes_what_the_csv_crate_writes() -> Result<()> {
        let alphabet = [
            "a", "b", ",", ";", "\t", "\"", "\n", "\r", " ", "é", "漢", "0",
        ];
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut next = |n: usize| (rng.next_u64() % n as u64) as usize;
        for round in 0..300 {
            let delimiter = [b',', b';', b'\t'][round % 3];
            let columns = 1 + next(3);
            let text = |next: &mut dyn FnMut(usize) -> usize| {
                let len = next(20);
                (0..len)
                    .map(|_| alphabet[next(alphabet.len())])
                    .collect::<String>()
            };
            let names: Vec<String> = (0..columns).map(|_| text(&mut next)).collect();
            let rows: Vec<Vec<Option<String>>> = (0..1 + next(5))
                .map(|_| {
                    (0..columns)
                        .map(|_| (next(4) > 0).then(|| text(&mut next)))
                        .collect()
                })
                .collect();
            let schema = Arc::new(Schema::new(
                names
                    .iter()
                    .map(|n| Field::new(n, arrow_schema::DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            ));
            let arrays: Vec<ArrayRef> = (0..columns)
                .map(|c| {
                    let cells: Vec<Option<&str>> = rows.iter().map(|r| r[c].as_deref()).collect();
                    Arc::new(StringArray::from(cells)) as ArrayRef
                })
                .collect();
            let batch = RecordBatch::try_new(schema.clone(), arrays)
                .map_err(|e| Error::arrow("test batch", e))?;
            assert_writes_like_the_csv_crate(&batch, &names, &rows, delimiter, &round)?;
        }
        Ok(())
    }

    #[test]
    fn columns_null_in_every_row_are_written_as_their_delimiters() -> Result<()> {
        // Sparse rows: most columns of a batch are null in every row, in runs at the
        // start, in the middle and at the end, among text and number columns.
        let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut next = |n: usize| (rng.next_u64() % n as u64) as usize;
        for round in 0..200 {
            let delimiter = [b',', b';', b'\t'][round % 3];
            let columns = 2 + next(40);
            let rows = next(6);
            // A column is empty throughout, or has a value in about a third of rows.
            let kinds: Vec<usize> = (0..columns).map(|_| next(4)).collect();
            let names: Vec<String> = (0..columns).map(|c| format!("c{c}")).collect();
            let mut cells: Vec<Vec<Option<String>>> = vec![Vec::new(); rows];
            let mut arrays: Vec<ArrayRef> = Vec::new();
            let mut fields = Vec::new();
            for (c, kind) in kinds.iter().enumerate() {
                let column: Vec<Option<i64>> = (0..rows)
                    .map(|r| (*kind > 1 && next(3) == 0).then_some((r * 31 + c) as i64 - 50))
                    .collect();
                for (r, v) in column.iter().enumerate() {
                    cells[r].push(v.map(|v| {
                        if *kind == 3 {
                            format!("t,{v}")
                        } else {
                            v.to_string()
                        }
                    }));
                }
                if *kind == 3 || *kind == 0 {
                    let text: Vec<Option<String>> =
                        (0..rows).map(|r| cells[r][c].clone()).collect();
                    arrays.push(Arc::new(StringArray::from(text)) as ArrayRef);
                    fields.push(Field::new(&names[c], arrow_schema::DataType::Utf8, true));
                } else {
                    arrays.push(Arc::new(Int64Array::from(column)) as ArrayRef);
                    fields.push(Field::new(&names[c], arrow_schema::DataType::Int64, true));
                }
            }
            let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
                .map_err(|e| Error::arrow("test batch", e))?;
            assert_writes_like_the_csv_crate(&batch, &names, &cells, delimiter, &round)?;
        }
        Ok(())
    }

    #[test]
    fn rows_given_as_their_cells_are_written_like_the_csv_crate() -> Result<()> {
        // Records of 1-60 columns with a few cells each (at the first and last column
        // too), some needing quotes, some empty (written as nothing, like a null).
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut next = |n: usize| (rng.next_u64() % n as u64) as usize;
        let texts = [
            "x",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "",
            "é",
            "a;b",
            "t\tb",
        ];
        for round in 0..300 {
            let delimiter = [b',', b';', b'\t'][round % 3];
            let columns = 1 + next(60);
            let names: Vec<String> = (0..columns).map(|c| format!("c{c}")).collect();
            let mut rows: Vec<Vec<Option<String>>> = Vec::new();
            let mut out = Vec::new();
            let mut writer = CsvWriter::rows_into(&mut out, delimiter, Vec::new());
            writer.header(&Arc::new(Schema::new(
                names
                    .iter()
                    .map(|n| Field::new(n, arrow_schema::DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            )))?;
            for _ in 0..next(5) {
                let mut row: Vec<Option<String>> = vec![None; columns];
                for _ in 0..next(4) {
                    let column = match next(3) {
                        0 => 0,
                        1 => columns - 1,
                        _ => next(columns),
                    };
                    row[column] = Some(texts[next(texts.len())].to_string());
                }
                let cells: Vec<(usize, &[u8])> = row
                    .iter()
                    .enumerate()
                    .filter_map(|(c, v)| v.as_deref().map(|v| (c, v.as_bytes())))
                    .collect();
                writer.write_cells(columns, cells)?;
                rows.push(row);
            }
            let (written, _) = writer.end_rows()?;
            assert_eq!(written, rows.len() as u64);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&reference(&names, &rows, delimiter)),
                "round {round}"
            );
        }
        Ok(())
    }

    #[test]
    fn plain_cells_of_every_length_in_sliced_batches() -> Result<()> {
        // Lengths 0 to 60 around the 16- and 48-byte block copies, the last values ending at
        // the end of the column's buffer, nulls between, and batches that are
        // slices of a larger one (offsets not starting at 0).
        let cells: Vec<Option<String>> = (0..=60usize)
            .flat_map(|len| {
                let text: String = (0..len)
                    .map(|i| char::from(b'a' + (i % 26) as u8))
                    .collect();
                [Some(text), None]
            })
            .chain([Some("é漢".to_string())])
            .collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", arrow_schema::DataType::Utf8, true),
            Field::new("w", arrow_schema::DataType::Utf8, true),
        ]));
        let reversed: Vec<Option<String>> = cells.iter().rev().cloned().collect();
        let array = |c: &[Option<String>]| -> ArrayRef {
            Arc::new(StringArray::from(
                c.iter().map(|v| v.as_deref()).collect::<Vec<_>>(),
            ))
        };
        let batch = RecordBatch::try_new(schema.clone(), vec![array(&cells), array(&reversed)])
            .map_err(|e| Error::arrow("test batch", e))?;
        for (offset, len) in [(0, cells.len()), (1, cells.len() - 1), (17, 40), (70, 13)] {
            let mut out = Vec::new();
            let mut writer = Box::new(CsvWriter::new(&mut out, &schema, b',')?);
            writer.write(&batch.slice(offset, len))?;
            writer.finish()?;
            let rows: Vec<Vec<Option<String>>> = (offset..offset + len)
                .map(|r| vec![cells[r].clone(), reversed[r].clone()])
                .collect();
            let names = ["v".to_string(), "w".to_string()];
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&reference(&names, &rows, b',')),
                "slice {offset}+{len}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_null_cell_over_bytes_is_still_empty() -> Result<()> {
        // Arrow lets a null slot span bytes (here "zzz"); the cell is empty all the same.
        let offsets = arrow_buffer::OffsetBuffer::new(vec![0, 1, 4, 5].into());
        let values = arrow_buffer::Buffer::from(b"azzzb".to_vec());
        let nulls = arrow_buffer::NullBuffer::from(vec![true, false, true]);
        let odd = StringArray::try_new(offsets, values, Some(nulls))
            .map_err(|e| Error::arrow("test array", e))?;
        let plain = StringArray::from(vec!["x", "y", "z"]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("odd", arrow_schema::DataType::Utf8, true),
            Field::new("plain", arrow_schema::DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(odd), Arc::new(plain)])
            .map_err(|e| Error::arrow("test batch", e))?;
        let mut out = Vec::new();
        let mut writer = Box::new(CsvWriter::new(&mut out, &schema, b',')?);
        writer.write(&batch)?;
        writer.finish()?;
        assert_eq!(String::from_utf8_lossy(&out), "odd,plain\na,x\n,y\nb,z\n");
        Ok(())
    }

    #[test]
    fn a_field_that_starts_with_a_byte_order_mark_is_quoted() {
        // First in a file (the first column's name), unquoted, it would read as the
        // file's byte order mark.
        for (field, want) in [
            ("\u{feff}g", "\"\u{feff}g\""),
            ("g\u{feff}", "g\u{feff}"),
            ("\u{feff}\"", "\"\u{feff}\"\"\""),
        ] {
            let mut buf = Vec::new();
            push_field(&mut buf, field.as_bytes(), b',');
            assert_eq!(String::from_utf8_lossy(&buf), want);
        }
    }

    #[test]
    fn needs_quotes_finds_special_bytes_at_every_position() {
        for len in 0..20 {
            for at in 0..len {
                for special in [b',', b'"', b'\n', b'\r'] {
                    let mut field = vec![b'x'; len];
                    field[at] = special;
                    assert!(needs_quotes(&field, b','), "{len} {at} {special}");
                }
            }
            assert!(!needs_quotes(&vec![b'x'; len], b','));
            assert!(!needs_quotes(&vec![0xff; len], b','));
        }
    }

    #[test]
    fn typed_cells_are_written_as_their_text() -> Result<()> {
        use arrow_array::{BooleanArray, Float64Array, Int64Array, TimestampMicrosecondArray};
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", arrow_schema::DataType::Int64, true),
            Field::new("f", arrow_schema::DataType::Float64, true),
            Field::new("b", arrow_schema::DataType::Boolean, true),
            Field::new(
                "t",
                arrow_schema::DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        let t0 = 1_704_164_645_123_456; // 2024-01-02 03:04:05.123456
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![
                    Some(0),
                    Some(-42),
                    Some(i64::MIN),
                    None,
                    Some(i64::MAX),
                    Some(7),
                ])),
                Arc::new(Float64Array::from(vec![
                    Some(1.0),
                    Some(0.1),
                    Some(1e21),
                    Some(-0.0),
                    Some(f64::NAN),
                    None,
                ])),
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    None,
                    Some(true),
                    Some(false),
                    Some(true),
                ])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        Some(t0),
                        Some(t0),
                        None,
                        Some(0),
                        Some(t0),
                        Some(-1),
                    ])
                    .with_timezone("UTC"),
                ),
            ],
        )
        .map_err(|e| Error::arrow("test batch", e))?;
        let mut out = Vec::new();
        let mut writer = Box::new(CsvWriter::new(&mut out, &schema, b',')?);
        writer.write(&batch)?;
        writer.finish()?;
        assert_eq!(
            String::from_utf8_lossy(&out),
            "i,f,b,t\n\
             0,1.0,true,2024-01-02 03:04:05.123456\n\
             -42,0.1,false,2024-01-02 03:04:05.123456\n\
             -9223372036854775808,1e+21,,\n\
             ,-0.0,true,1970-01-01 00:00:00.000000\n\
             9223372036854775807,NaN,false,2024-01-02 03:04:05.123456\n\
             7,,true,1969-12-31 23:59:59.999999\n"
        );
        // A delimiter that is one of their characters quotes them as the csv crate does.
        let text = String::from_utf8_lossy(&out).into_owned();
        let mut lines = text.lines();
        let names: Vec<String> = lines
            .next()
            .unwrap_or_default()
            .split(',')
            .map(str::to_string)
            .collect();
        let rows: Vec<Vec<Option<String>>> = lines
            .map(|l| l.split(',').map(|c| Some(c.to_string())).collect())
            .collect();
        for delimiter in [b'-', b'.', b'e', b'+', b'1', b':', b' ', b't', b's', b';'] {
            assert_writes_like_the_csv_crate(&batch, &names, &rows, delimiter, &delimiter)?;
        }
        Ok(())
    }
}
