//! Parquet reader: each row becomes the JSON object it would have been.
//!
//! Structs become objects, lists arrays, maps objects keyed by the map key's text;
//! integers and decimals become JSON numbers with their exact digits, floats numbers
//! that always show a fraction or exponent (so `3.0` stays a float), dates and
//! timestamps strings (`2024-01-02`, `2024-01-02 03:04:05.123`), binary a string
//! (hex when it is not UTF-8). The record is then flattened exactly as that JSON
//! text would be. Positions: the ordinal is the row number, the line the row number
//! plus one.

use std::fs::File;
use std::io::{Seek, Write};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use transmogrify_core::Position;

use crate::error::{Error, Result};
use crate::guard::guarded;
use crate::input::{Compression, Input};
use crate::json_text::{json_key, push_json_string};
use crate::reader::{RawBatch, Reader, ReaderOptions};

/// Reads Parquet rows as JSON object records.
pub(crate) struct ParquetReader {
    source: Arc<str>,
    reader: ParquetRecordBatchReader,
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
    /// The columns' keys, already JSON-quoted (`"name":`), once the first batch
    /// has been read.
    keys: Option<Vec<Vec<u8>>>,
    done: bool,
}

/// Most cells (rows times leaf columns) in one batch read from a Parquet file:
/// [`DEFAULT_READER_BATCH_RECORDS`](crate::DEFAULT_READER_BATCH_RECORDS) rows of up
/// to 16,384 columns, fewer rows of a wider file. The parquet crate gives every leaf
/// column of a batch its own arrays (offsets, validity), so a batch of 1,024 rows
/// of 50,000 text columns holds 200 MB of offsets alone. Fewer rows are not free
/// either: each batch costs the crate a few microseconds per column (50,000 columns
/// of 20,439 rows: 10 s at 335 rows a batch, 31 s at 83, 5.8 s at 1,024).
pub(crate) const PARQUET_BATCH_CELLS: usize = 1 << 24;

impl ParquetReader {
    pub(crate) fn new(mut input: Input, options: &ReaderOptions) -> Result<Self> {
        let name = input.name.clone();
        // Parquet needs random access: a plain file is read in place, anything else
        // (stdin, compressed) is first copied to an anonymous temporary file.
        let file = match (&input.path, input.compression) {
            // (A named pipe, say, is not a file to read in place: it was opened.)
            (Some(path), Compression::None)
                if std::fs::metadata(path).is_ok_and(|m| m.is_file()) =>
            {
                File::open(path).map_err(|e| Error::io(path.clone(), e))?
            }
            _ => {
                let mut tmp = tempfile::tempfile().map_err(|e| Error::io("<temporary file>", e))?;
                // A failed copy is taken as a failed read: writes to a temporary file
                // rarely fail.
                std::io::copy(&mut input.reader, &mut tmp).map_err(|e| input.read_error(e, 0))?;
                tmp.flush().map_err(|e| Error::io("<temporary file>", e))?;
                tmp.rewind().map_err(|e| Error::io("<temporary file>", e))?;
                tmp
            }
        };
        let corrupt = |e: Box<dyn std::error::Error + Send + Sync>| Error::Parquet {
            source_name: name.to_string(),
            rows: None,
            source: e,
        };
        // The parquet crate may panic on a malformed footer rather than fail.
        let (reader, num_rows, batch_rows) = guarded(|| {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
            let num_rows =
                u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
            let rows = batch_rows(
                options.batch_records,
                builder.parquet_schema().num_columns(),
            );
            let reader = builder.with_batch_size(rows).build()?;
            Ok((reader, num_rows, rows as u64))
        })
        .map_err(|panic| corrupt(panic.into()))?
        .map_err(|e: parquet::errors::ParquetError| corrupt(Box::new(e)))?;
        Ok(ParquetReader {
            source: name,
            reader,
            row: 0,
            num_rows,
            batch_rows: batch_rows.max(1),
            total: input.total_bytes,
            skip_null: options.skip_null,
            present: Vec::new(),
            keys: None,
            done: false,
        })
    }

    fn convert(&mut self, batch: &RecordBatch) -> Result<RawBatch> {
        let mut out = RawBatch::default();
        // Every batch of the file has its schema: the types are checked and the
        // keys quoted at the first.
        let keys = match self.keys.take() {
            Some(keys) => keys,
            None => {
                let schema = batch.schema();
                for (field, column) in schema.fields().iter().zip(batch.columns()) {
                    check_type(column.data_type(), field.name(), &self.source)?;
                }
                schema.fields().iter().map(|f| json_key(f.name())).collect()
            }
        };
        if self.skip_null {
            self.convert_present(batch, &keys, &mut out);
        } else {
            for row in 0..batch.num_rows() {
                let cells = keys.iter().zip(batch.columns());
                let cells = cells.map(|(k, c)| (k.as_slice(), c.as_ref()));
                push_row(&mut out, self.row, row, cells);
            }
        }
        self.row += batch.num_rows() as u64;
        self.keys = Some(keys);
        Ok(out)
    }

    /// [`convert`](Self::convert) without the null cells: each row gets the columns
    /// with a value in it, in column order. The columns' validity is read a column at
    /// a time (skipping 64 rows of nulls at once), so a wide, sparse file costs what
    /// its values cost, not rows times columns.
    fn convert_present(&mut self, batch: &RecordBatch, keys: &[Vec<u8>], out: &mut RawBatch) {
        let rows = batch.num_rows();
        let columns = batch.columns();
        // Each row's columns with a value, in column order (the lists are kept from
        // batch to batch).
        self.present.resize_with(rows, Vec::new);
        self.present.iter_mut().for_each(Vec::clear);
        for (c, column) in columns.iter().enumerate() {
            let c = c as u32;
            match rows_with_values(column.as_ref()) {
                None => {}
                Some(None) => self.present.iter_mut().for_each(|cells| cells.push(c)),
                Some(Some(nulls)) => {
                    for r in nulls.valid_indices() {
                        if let Some(cells) = self.present.get_mut(r) {
                            cells.push(c);
                        }
                    }
                }
            }
        }
        for (row, cells) in self.present.iter().take(rows).enumerate() {
            let cells = cells.iter().filter_map(|&c| {
                let (key, column) = (keys.get(c as usize)?, columns.get(c as usize)?);
                Some((key.as_slice(), column.as_ref()))
            });
            push_row(out, self.row, row, cells);
        }
    }
}

/// Appends row `row` of a batch whose first row is `first_ordinal` as the JSON
/// object of `cells` (each a key, already quoted, and the column of its value).
fn push_row<'a>(
    out: &mut RawBatch,
    first_ordinal: u64,
    row: usize,
    cells: impl Iterator<Item = (&'a [u8], &'a dyn Array)>,
) {
    let start = out.data.len();
    out.data.push(b'{');
    for (i, (key, column)) in cells.enumerate() {
        if i > 0 {
            out.data.push(b',');
        }
        out.data.extend_from_slice(key);
        write_value(column, row, &mut out.data);
    }
    out.data.push(b'}');
    let ordinal = first_ordinal + row as u64;
    out.items.push(crate::reader::RawItem::Record {
        range: start..out.data.len(),
        position: Position::line_start(ordinal, ordinal + 1, 0),
    });
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
            for f in fields {
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
        Err(_) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            write_str(out, &hex);
        }
    }
}

fn write_opt(out: &mut Vec<u8>, v: Option<impl std::fmt::Display>) {
    match v {
        Some(v) => write_str(out, &v.to_string()),
        None => out.extend_from_slice(b"null"),
    }
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
        DataType::FixedSizeBinary(_) => write_bytes(out, array.as_fixed_size_binary().value(row)),
        DataType::Date32 => write_opt(out, array.as_primitive::<Date32Type>().value_as_date(row)),
        DataType::Date64 => write_opt(out, array.as_primitive::<Date64Type>().value_as_date(row)),
        DataType::Timestamp(unit, _) => {
            let dt = match unit {
                TimeUnit::Second => array
                    .as_primitive::<TimestampSecondType>()
                    .value_as_datetime(row),
                TimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .value_as_datetime(row),
                TimeUnit::Microsecond => array
                    .as_primitive::<TimestampMicrosecondType>()
                    .value_as_datetime(row),
                TimeUnit::Nanosecond => array
                    .as_primitive::<TimestampNanosecondType>()
                    .value_as_datetime(row),
            };
            write_opt(out, dt);
        }
        DataType::Time32(TimeUnit::Second) => {
            write_opt(
                out,
                array.as_primitive::<Time32SecondType>().value_as_time(row),
            );
        }
        DataType::Time32(_) => write_opt(
            out,
            array
                .as_primitive::<Time32MillisecondType>()
                .value_as_time(row),
        ),
        DataType::Time64(TimeUnit::Microsecond) => write_opt(
            out,
            array
                .as_primitive::<Time64MicrosecondType>()
                .value_as_time(row),
        ),
        DataType::Time64(_) => write_opt(
            out,
            array
                .as_primitive::<Time64NanosecondType>()
                .value_as_time(row),
        ),
        DataType::Duration(unit) => {
            let v = match unit {
                TimeUnit::Second => array.as_primitive::<DurationSecondType>().value(row),
                TimeUnit::Millisecond => array.as_primitive::<DurationMillisecondType>().value(row),
                TimeUnit::Microsecond => array.as_primitive::<DurationMicrosecondType>().value(row),
                TimeUnit::Nanosecond => array.as_primitive::<DurationNanosecondType>().value(row),
            };
            write_display(out, v);
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
                write_value(col.as_ref(), row, out);
            }
            out.push(b'}');
        }
        DataType::List(_) => write_list(&array.as_list::<i32>().value(row), out),
        DataType::LargeList(_) => write_list(&array.as_list::<i64>().value(row), out),
        DataType::ListView(_) => write_list(&array.as_list_view::<i32>().value(row), out),
        DataType::LargeListView(_) => write_list(&array.as_list_view::<i64>().value(row), out),
        DataType::FixedSizeList(_, _) => write_list(&array.as_fixed_size_list().value(row), out),
        DataType::Map(_, _) => {
            let map = array.as_map();
            let entries = map.value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            out.push(b'{');
            for i in 0..entries.len() {
                if i > 0 {
                    out.push(b',');
                }
                let mut key = Vec::new();
                write_value(keys.as_ref(), i, &mut key);
                if key.first() == Some(&b'"') {
                    out.extend_from_slice(&key);
                } else {
                    push_json_string(out, &key);
                }
                out.push(b':');
                write_value(values.as_ref(), i, out);
            }
            out.push(b'}');
        }
        _ => out.extend_from_slice(b"null"),
    }
}

fn write_list(values: &arrow_array::ArrayRef, out: &mut Vec<u8>) {
    out.push(b'[');
    for i in 0..values.len() {
        if i > 0 {
            out.push(b',');
        }
        write_value(values.as_ref(), i, out);
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
        // The rows of the batch being read: a batch is decoded as a whole.
        let last = (self.row + self.batch_rows).min(self.num_rows.max(self.row + 1)) - 1;
        let rows = Some((self.row, last));
        let read = guarded(|| match self.reader.next()? {
            Ok(batch) => Some(self.convert(&batch)),
            Err(e) => Some(Err(Error::Parquet {
                source_name: self.source.to_string(),
                rows,
                source: Box::new(e),
            })),
        });
        let read = read.unwrap_or_else(|panic| {
            Some(Err(Error::Parquet {
                source_name: self.source.to_string(),
                rows,
                source: panic.into(),
            }))
        });
        self.done = !matches!(read, Some(Ok(_)));
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
            _ => 0,
        }
    }

    fn total_bytes(&self) -> Option<u64> {
        self.total
    }

    fn positions_are_bytes(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{Int64Builder, MapBuilder, StringBuilder};
    use arrow_array::{
        ArrayRef, BinaryArray, Date32Array, Decimal128Array, Float32Array, StructArray,
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
                    write_value(c.as_ref(), row, &mut out);
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
        ]);
        assert_eq!(
            got,
            [
                r#"{"a":1,"b\"":null} {"x":0.1} 123.45 "1970-01-01" "ok""#,
                r#"null null -0.05 "2022-01-08" "ff00""#
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
}
