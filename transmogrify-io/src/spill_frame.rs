//! Spilled chunks of sparse records in a compact form.
//!
//! A chunk of records drawing from thousands of keys has thousands of columns, each
//! with a value in a few of its rows. As Arrow columns, every one of them holds an
//! offset and a validity bit for each row of the chunk, and the chunk's schema a
//! field for each: 9 MB of records with 25 properties out of 50,000 keys spilled as
//! 518 MB, of which 366 MB were offsets and 90 MB schemas (an Arrow IPC file has its
//! schema at both ends). Such a chunk is spilled as its cells instead (see
//! [`compact_chunk`]) and made again as it was when read back ([`expand_chunk`]):
//! the tables written from it are the same.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::{
    Array, ArrayRef, BooleanArray, ListArray, RecordBatch, RecordBatchOptions, StringArray,
    UInt32Array,
};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema};

use crate::error::{Error, Result};

/// Schema metadata key marking a compact chunk; its value is the chunk's row count.
const CELLS: &str = "#cells";
/// The only field metadata key of a chunk's columns (the kinds of value of a data
/// column, see [`transmogrify_core::RawTable`]).
const KINDS: &str = "kinds";

const NAMES: &str = "#names";
const KIND_TEXTS: &str = "#kinds";
const NULLABLE: &str = "#nullable";
const ENDS: &str = "#ends";
const ROWS: &str = "#rows";
const VALUES: &str = "#values";

/// Bytes a compact chunk must spare at the least: ordinary records (API events,
/// orders) never come near, so their chunks are kept as they are.
const MIN_SAVED: usize = 256 * 1024;

/// Bytes a field takes in an Arrow IPC schema besides its name, about (the schema is
/// written twice per frame).
const FIELD_BYTES: usize = 2 * 64;

/// `batch` (a chunk in the engine's raw form, see [`transmogrify_core::RawTable`]) as
/// its cells, where its text columns with values in at most a quarter of its rows
/// would take at least 256 KiB and twice as many bytes as their cells; `None` where
/// it is better kept as it is. [`expand_chunk`] makes it again.
///
/// The compact chunk is one row of lists: the chunk's column names, their kinds
/// (null for columns without), whether each is nullable and the running count of
/// cells up to each; for the sparse columns, each cell's row and text, column after
/// column; every other column as a list of its own named by its position.
pub(crate) fn compact_chunk(batch: &RecordBatch) -> Option<RecordBatch> {
    let rows = batch.num_rows();
    let schema = batch.schema();
    if schema.metadata().contains_key(CELLS) {
        return None;
    }
    let mut sparse = vec![false; batch.num_columns()];
    let (mut saved, mut cost) = (0usize, 0usize);
    // The lists' text, which must fit 32-bit offsets.
    let (mut cells, mut text_bytes, mut name_bytes) = (0usize, 0usize, 0usize);
    for ((field, column), sparse) in schema.fields().iter().zip(batch.columns()).zip(&mut sparse) {
        if field.metadata().keys().any(|k| k != KINDS) {
            return None;
        }
        name_bytes += field.name().len();
        let present = column.len() - column.null_count();
        if field.data_type() == &DataType::Utf8
            && field.metadata().contains_key(KINDS)
            && column.len() == rows
            && present * 4 <= rows
        {
            *sparse = true;
            saved += 4 * (rows + 1) + rows.div_ceil(8) + FIELD_BYTES + 2 * field.name().len();
            cost += 8 * present + 12 + field.name().len();
            cells += present;
            let offsets = column.as_string_opt::<i32>()?.value_offsets();
            let span = offsets.last().zip(offsets.first()).map(|(l, f)| l - f);
            text_bytes += usize::try_from(span.unwrap_or(0)).ok()?;
        }
    }
    let fits = |bytes: usize| i32::try_from(bytes).is_ok();
    if saved < MIN_SAVED || saved < 2 * cost || !fits(text_bytes) || !fits(name_bytes) {
        return None;
    }
    let columns = batch.num_columns();
    let mut names = StringBuilder::with_capacity(columns, name_bytes);
    let mut kinds = StringBuilder::with_capacity(columns, 4 * columns);
    let mut nullable = BooleanBuilder::with_capacity(columns);
    let mut ends = Vec::with_capacity(columns);
    let mut cell_rows: Vec<u32> = Vec::with_capacity(cells);
    let mut values = StringBuilder::with_capacity(cells, text_bytes);
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (i, ((field, column), &sparse)) in schema
        .fields()
        .iter()
        .zip(batch.columns())
        .zip(&sparse)
        .enumerate()
    {
        names.append_value(field.name());
        kinds.append_option(field.metadata().get(KINDS));
        nullable.append_value(field.is_nullable());
        if sparse {
            // A sparse column has nulls (or no rows at all).
            let text = column.as_string_opt::<i32>()?;
            for row in text.nulls().into_iter().flat_map(|n| n.valid_indices()) {
                cell_rows.push(u32::try_from(row).ok()?);
                values.append_value(text.value(row));
            }
        } else {
            let list = list_of(column);
            fields.push(Field::new(i.to_string(), list.data_type().clone(), false));
            arrays.push(Arc::new(list));
        }
        ends.push(u32::try_from(cell_rows.len()).ok()?);
    }
    let lists: [(&str, ArrayRef); 6] = [
        (NAMES, Arc::new(names.finish())),
        (KIND_TEXTS, Arc::new(kinds.finish())),
        (NULLABLE, Arc::new(nullable.finish())),
        (ENDS, Arc::new(UInt32Array::from(ends))),
        (ROWS, Arc::new(UInt32Array::from(cell_rows))),
        (VALUES, Arc::new(values.finish())),
    ];
    for (name, array) in lists {
        let list = list_of(&array);
        fields.push(Field::new(name, list.data_type().clone(), false));
        arrays.push(Arc::new(list));
    }
    let mut metadata = schema.metadata().clone();
    metadata.insert(CELLS.to_string(), rows.to_string());
    RecordBatch::try_new(
        Arc::new(Schema::new_with_metadata(fields, metadata)),
        arrays,
    )
    .ok()
}

/// `array` as the one element of a list.
fn list_of(array: &ArrayRef) -> ListArray {
    ListArray::new(
        Arc::new(Field::new_list_field(array.data_type().clone(), true)),
        OffsetBuffer::from_lengths([array.len()]),
        array.clone(),
        None,
    )
}

/// The chunk `batch` holds: made again from its cells where it is compact (see
/// [`compact_chunk`]), else `batch` itself. A compact chunk whose lists do not fit
/// together is an error.
pub(crate) fn expand_chunk(batch: RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let Some(rows) = schema.metadata().get(CELLS) else {
        return Ok(batch);
    };
    let bad = |what: &str| Error::Internal(format!("a compact chunk is damaged: {what}"));
    let rows: usize = rows.parse().map_err(|_| bad("row count"))?;
    let list = |name: &str| -> Result<ArrayRef> {
        let column = batch
            .column_by_name(name)
            .and_then(|c| c.as_list_opt::<i32>())
            .ok_or_else(|| bad(name))?;
        if column.len() != 1 {
            return Err(bad(name));
        }
        Ok(column.value(0))
    };
    let (names, kinds, nullable, ends, cell_rows, values) = (
        list(NAMES)?,
        list(KIND_TEXTS)?,
        list(NULLABLE)?,
        list(ENDS)?,
        list(ROWS)?,
        list(VALUES)?,
    );
    let (Some(names), Some(kinds), Some(nullable), Some(ends), Some(cell_rows), Some(values)) = (
        names.as_string_opt::<i32>(),
        kinds.as_string_opt::<i32>(),
        nullable.as_any().downcast_ref::<BooleanArray>(),
        ends.as_primitive_opt::<UInt32Type>(),
        cell_rows.as_primitive_opt::<UInt32Type>(),
        values.as_string_opt::<i32>(),
    ) else {
        return Err(bad("cell lists"));
    };
    let columns = names.len();
    if kinds.len() != columns || nullable.len() != columns || ends.len() != columns {
        return Err(bad("column lists"));
    }
    if cell_rows.len() != values.len() || values.null_count() != 0 {
        return Err(bad("cells"));
    }
    // The whole columns, by position.
    let mut dense: HashMap<usize, ArrayRef> = HashMap::new();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if let Ok(i) = field.name().parse::<usize>() {
            let list = column.as_list_opt::<i32>().ok_or_else(|| bad("a column"))?;
            if list.len() != 1 {
                return Err(bad("a column"));
            }
            dense.insert(i, list.value(0));
        }
    }
    // The text columns' offsets and validity, one after the other in two buffers
    // shared by all (their values are the cells' own text): a column is a slice of
    // each, as a column read from an Arrow IPC file is of the file.
    let sparse = columns.saturating_sub(dense.len());
    let mut offsets: Vec<i32> = Vec::with_capacity(sparse * (rows + 1));
    let mut valid = BooleanBufferBuilder::new(sparse * rows);
    let mut spans = Vec::with_capacity(columns);
    let mut start = 0usize;
    for i in 0..columns {
        let end = ends.value(i) as usize;
        if end < start || end > values.len() {
            return Err(bad("cell ranges"));
        }
        if dense.contains_key(&i) {
            if end != start {
                return Err(bad("cells of a whole column"));
            }
            spans.push(None);
        } else {
            spans.push(Some((offsets.len(), valid.len())));
            let rows_of = cell_rows
                .values()
                .get(start..end)
                .ok_or_else(|| bad("cells"))?;
            text_column(
                rows,
                rows_of,
                values.value_offsets(),
                start,
                &mut offsets,
                &mut valid,
            )?;
        }
        start = end;
    }
    let offsets = ScalarBuffer::from(offsets);
    let valid = valid.finish();
    let mut fields = Vec::with_capacity(columns);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns);
    for (i, span) in spans.into_iter().enumerate() {
        let array: ArrayRef = match span {
            None => dense.remove(&i).ok_or_else(|| bad("a column"))?,
            // SAFETY: `text_column` laid the offsets out: rising from a cell's start
            // in `values` by the length of each cell in turn, so that each value is
            // one whole cell, a string of a valid string array.
            Some((at, bit)) => Arc::new(unsafe {
                StringArray::new_unchecked(
                    OffsetBuffer::new_unchecked(offsets.slice(at, rows + 1)),
                    values.values().clone(),
                    Some(NullBuffer::new(valid.slice(bit, rows))),
                )
            }),
        };
        let mut field = Field::new(names.value(i), array.data_type().clone(), nullable.value(i));
        if kinds.is_valid(i) {
            field = field.with_metadata(HashMap::from([(
                KINDS.to_string(),
                kinds.value(i).to_string(),
            )]));
        }
        fields.push(field);
        arrays.push(array);
    }
    let mut metadata = schema.metadata().clone();
    metadata.remove(CELLS);
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new_with_metadata(fields, metadata)),
        arrays,
        &options,
    )
    .map_err(|e| Error::arrow("reading a compact chunk", e))
}

/// Lays out a text column of `rows` rows whose cells are values `first..` of the
/// cells' text (`value_offsets`, one per cell and one more) at `cell_rows`
/// (ascending), null elsewhere: appends its `rows + 1` offsets into the cells' text
/// and `rows` validity bits.
fn text_column(
    rows: usize,
    cell_rows: &[u32],
    value_offsets: &[i32],
    first: usize,
    offsets: &mut Vec<i32>,
    valid: &mut BooleanBufferBuilder,
) -> Result<()> {
    let bad = || Error::Internal("a compact chunk is damaged: cell rows".into());
    let mut at = *value_offsets.get(first).ok_or_else(bad)?;
    if value_offsets.len() < first + cell_rows.len() + 1 {
        return Err(bad());
    }
    let base = valid.len();
    offsets.push(at);
    // Runs of nulls between the cells, each cell one row past its run.
    for (&row, pair) in cell_rows.iter().zip(value_offsets.windows(2).skip(first)) {
        let (row, [_, end]) = (row as usize, pair) else {
            return Err(bad());
        };
        let gap = row.checked_sub(valid.len() - base).ok_or_else(bad)?;
        if row >= rows {
            return Err(bad());
        }
        offsets.resize(offsets.len() + gap, at);
        valid.append_n(gap, false);
        at = *end;
        offsets.push(at);
        valid.append(true);
    }
    let gap = rows - (valid.len() - base);
    offsets.resize(offsets.len() + gap, at);
    valid.append_n(gap, false);
    Ok(())
}

/// Checks that `batch`, decoded from Arrow IPC without Arrow's own checks (as from
/// another process: the reader's `with_skip_validation`), is well formed before any
/// of its arrays is read: buffers as long as their arrays need, and each string
/// column's offsets in order, within its values and on character boundaries of
/// valid UTF-8. Arrow's own checks go over each string offset in a generic loop,
/// where this checks a whole column's UTF-8 at once.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{RecordBatch, StringArray};
/// let batch = RecordBatch::try_from_iter([("a", Arc::new(StringArray::from(vec!["x", "é"])) as _)])?;
/// transmogrify_io::check_decoded(&batch)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Arrow`] naming what is wrong.
pub fn check_decoded(batch: &RecordBatch) -> Result<()> {
    let damaged = |e: arrow_schema::ArrowError| Error::arrow("checking a decoded batch", e);
    for column in batch.columns() {
        let data = column.to_data();
        data.validate().map_err(damaged)?;
        data.validate_nulls().map_err(damaged)?;
        match column.as_any().downcast_ref::<StringArray>() {
            Some(strings) => check_strings(strings.offsets(), strings.values().as_slice())
                .map_err(|what| {
                    damaged(arrow_schema::ArrowError::InvalidArgumentError(what.into()))
                })?,
            None => data.validate_full().map_err(damaged)?,
        }
    }
    Ok(())
}

/// Whether `offsets` cut `values` into strings: in order, within `values`, on
/// character boundaries, and the bytes they span valid UTF-8.
fn check_strings(offsets: &[i32], values: &[u8]) -> std::result::Result<(), &'static str> {
    let (Some(&first), Some(&last)) = (offsets.first(), offsets.last()) else {
        return Ok(());
    };
    let span = usize::try_from(first)
        .ok()
        .zip(usize::try_from(last).ok())
        .and_then(|(first, last)| values.get(first..last))
        .ok_or("string offsets out of range")?;
    let text = simdutf8::basic::from_utf8(span).map_err(|_| "strings are not UTF-8")?;
    // In order, and each at a character boundary of the span: then every string is
    // valid UTF-8 too.
    let at_boundary = |o: &i32| text.is_char_boundary(o.abs_diff(first) as usize);
    if !offsets.is_sorted() || !offsets.iter().all(at_boundary) {
        return Err("string offsets out of order");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::UInt64Array;

    /// A raw chunk of `rows` rows and `columns` data columns, column `c` with a
    /// value in every `c % 7 + 2`nd row (the first two nowhere, the third in every
    /// row), then row ids, parent ids and positions.
    fn chunk(rows: usize, columns: usize) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for c in 0..columns {
            let every = if c == 2 {
                1
            } else {
                c % 7 + 2 + 40 * usize::from(c > 3)
            };
            let text: StringArray = (0..rows)
                .map(|r| (c > 1 && r % every == c % every).then(|| format!("v{c}.{r}")))
                .collect();
            let meta = HashMap::from([(KINDS.to_string(), (c % 5 + 1).to_string())]);
            fields
                .push(Field::new(format!("[\"k{c}\"]"), DataType::Utf8, true).with_metadata(meta));
            arrays.push(Arc::new(text));
        }
        fields.push(Field::new("#id", DataType::Utf8, true));
        arrays.push(Arc::new(StringArray::from_iter_values(
            (0..rows).map(|r| format!("id{r}")),
        )));
        fields.push(Field::new("#parent", DataType::Utf8, true));
        arrays.push(Arc::new(StringArray::from_iter_values(
            (0..rows).map(|r| format!("p{}", r / 3)),
        )));
        fields.push(Field::new("#index", DataType::UInt64, false));
        arrays.push(Arc::new(UInt64Array::from_iter_values(
            (0..rows as u64).map(|r| r % 3),
        )));
        let meta = HashMap::from([
            ("rows".to_string(), rows.to_string()),
            ("time".to_string(), "1700000000000000".to_string()),
            ("has_data".to_string(), "true".to_string()),
        ]);
        RecordBatch::try_new(Arc::new(Schema::new_with_metadata(fields, meta)), arrays)
    }

    /// `batch` as an Arrow IPC file.
    fn ipc(batch: &RecordBatch) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut bytes = Vec::new();
        let mut writer = arrow_ipc::writer::FileWriter::try_new(&mut bytes, &batch.schema())?;
        writer.write(batch)?;
        writer.finish()?;
        drop(writer);
        Ok(bytes)
    }

    /// `batch` written as an Arrow IPC file and read back.
    fn through_ipc(batch: &RecordBatch) -> Result<RecordBatch, Box<dyn std::error::Error>> {
        let bytes = ipc(batch)?;
        let mut reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None)?;
        Ok(reader.next().ok_or("no batch")??)
    }

    #[test]
    fn damaged_strings_are_refused() {
        let text = "añb€".as_bytes(); // a, ñ (2 bytes), b, € (3 bytes)
        let check = |offsets: &[i32], values: &[u8]| check_strings(offsets, values).err();
        assert_eq!(check(&[0, 1, 3, 4, 7], text), None);
        assert_eq!(check(&[1, 3], text), None);
        assert_eq!(check(&[], text), None);
        let refused = Some;
        // Inside ñ, inside €, past the end, before the start, out of order.
        assert_eq!(
            check(&[0, 2, 7], text),
            refused("string offsets out of order")
        );
        assert_eq!(
            check(&[0, 4, 5, 7], text),
            refused("string offsets out of order")
        );
        assert_eq!(check(&[0, 8], text), refused("string offsets out of range"));
        assert_eq!(
            check(&[-1, 3], text),
            refused("string offsets out of range")
        );
        assert_eq!(
            check(&[0, 3, 1, 7], text),
            refused("string offsets out of order")
        );
        // A lone continuation byte, and a character cut at the end of the span.
        assert_eq!(check(&[0, 2], b"a\x80"), refused("strings are not UTF-8"));
        assert_eq!(check(&[0, 5], text), refused("strings are not UTF-8"));
    }

    #[test]
    fn a_sparse_chunk_is_spilled_as_its_cells_and_read_back_as_it_was()
    -> Result<(), Box<dyn std::error::Error>> {
        let original = chunk(300, 3_000)?;
        let compact = compact_chunk(&original).ok_or("not compact")?;
        // Cells, not offsets: one row of lists, the three whole columns (the one
        // with a value in every row, ids, parent ids and positions) kept as they are.
        assert_eq!(compact.num_rows(), 1);
        assert_eq!(compact.num_columns(), 6 + 4);
        let (dense, cells) = (ipc(&original)?.len(), ipc(&compact)?.len());
        assert!(cells * 10 < dense, "{cells} bytes against {dense}");
        let back = expand_chunk(through_ipc(&compact)?)?;
        assert_eq!(back.schema(), original.schema());
        assert!(back == original, "the chunk read back differs");
        Ok(())
    }

    #[test]
    fn ordinary_chunks_are_spilled_as_they_are() -> Result<(), Box<dyn std::error::Error>> {
        // A few hundred rows of a hundred columns: little to spare.
        assert!(compact_chunk(&chunk(600, 100)?).is_none());
        // Thousands of columns without rows are spared their schema, and come back.
        let empty = chunk(0, 3_000)?;
        let compact = compact_chunk(&empty).ok_or("not compact")?;
        assert!(expand_chunk(through_ipc(&compact)?)? == empty);
        // A chunk passed through as it is.
        let plain = chunk(10, 5)?;
        assert!(expand_chunk(plain.clone())? == plain);
        Ok(())
    }

    #[test]
    fn a_damaged_compact_chunk_is_an_error_not_a_wrong_table()
    -> Result<(), Box<dyn std::error::Error>> {
        let original = chunk(300, 3_000)?;
        let compact = compact_chunk(&original).ok_or("not compact")?;
        // Claim more rows than the cells were taken from: the cells no longer fall
        // where they should, and a cell row past the end is caught.
        let schema = compact.schema();
        let mut metadata = schema.metadata().clone();
        metadata.insert(CELLS.to_string(), "10".to_string());
        let relabelled = RecordBatch::try_new(
            Arc::new(Schema::new_with_metadata(schema.fields().clone(), metadata)),
            compact.columns().to_vec(),
        )?;
        let err = expand_chunk(relabelled).err().ok_or("no error")?;
        assert!(err.to_string().contains("damaged"), "{err}");
        Ok(())
    }
}
