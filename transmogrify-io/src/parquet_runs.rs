//! Parquet column chunks of text columns whose values come in runs: the parent id
//! column of a child table (a parent's children are rows one after another) and the
//! extraction time column (one value for a whole run).
//!
//! The `parquet` crate's writer hashes every value into its dictionary and, without
//! one, writes each value out and compresses the page: for these two columns that
//! was about a twentieth of writing API events to Parquet. Here a value is only
//! compared with the one before it. Each run adds an entry to the chunk's
//! dictionary, and each row the entry's index; the chunk is a dictionary page
//! (`PLAIN`) and data pages of the indices (`RLE_DICTIONARY`, in the run-length and
//! bit-packing hybrid), as the crate's own dictionary encoding writes them, so any
//! reader of Parquet reads it. It is not compressed: parent ids are random or
//! hashed hex, which snappy barely shrinks, and indices are already packed.
//!
//! A value that comes back after another has a second entry, which readers take as
//! they take any dictionary (the dictionary is not required to be distinct); in
//! the tables written here a parent's children are never apart.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use bytes::Bytes;
use parquet::basic::Encoding;
use parquet::column::writer::ColumnCloseResult;
use parquet::schema::types::ColumnDescPtr;

use crate::error::{Error, Result};
use crate::parquet_text::{Chunk, DictionaryPage, EncodedPage, assemble, bounds_of};

/// Most groups of eight values in one bit-packed run (a one-byte run header, as
/// other writers keep them).
const MAX_PACKED_GROUPS: usize = 63;

/// One row group's chunk of a text column whose values come in runs, being written.
pub(crate) struct RunColumn {
    descr: ColumnDescPtr,
    /// Whether the chunk carries min/max statistics (and a column index).
    statistics: bool,
    /// Whether the chunk carries an offset index.
    offset_index: bool,
    /// Rows per data page.
    page_rows: usize,
    /// The dictionary page: each entry as its length (four bytes, little-endian)
    /// and bytes.
    dictionary: Vec<u8>,
    /// Where each entry's bytes start in `dictionary`.
    starts: Vec<usize>,
    /// The rows of the data page in progress, as entries.
    indices: Vec<u32>,
    /// Encoded data pages, with their rows and their first and last entries.
    pages: Vec<DataPage>,
    rows: usize,
    /// Bytes of all the values (the chunk's size statistics).
    value_bytes: i64,
}

struct DataPage {
    buf: Bytes,
    rows: usize,
    /// Entries of the page's rows (indices only grow, so they are all between).
    entries: std::ops::RangeInclusive<usize>,
}

impl RunColumn {
    /// An empty chunk of the column `descr`, in data pages of `page_rows` rows.
    pub(crate) fn new(
        descr: ColumnDescPtr,
        statistics: bool,
        offset_index: bool,
        page_rows: usize,
    ) -> Self {
        RunColumn {
            descr,
            statistics,
            offset_index,
            page_rows: page_rows.max(1),
            dictionary: Vec::new(),
            starts: Vec::new(),
            indices: Vec::new(),
            pages: Vec::new(),
            rows: 0,
            value_bytes: 0,
        }
    }

    /// Entry `i`'s bytes.
    fn entry(&self, i: usize) -> &[u8] {
        let start = self.starts.get(i).copied().unwrap_or(0);
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.dictionary.len(), |next| next - 4);
        self.dictionary.get(start..end).unwrap_or_default()
    }

    /// Appends the rows of `column`, a text column without nulls.
    pub(crate) fn write(&mut self, column: &dyn Array) -> Result<()> {
        let text = column
            .as_string_opt::<i32>()
            .filter(|t| t.null_count() == 0)
            .ok_or_else(|| Error::Internal("a run column that is not text without nulls".into()))?;
        let data = text.value_data();
        for ends in text.value_offsets().windows(2) {
            let (start, end) = match ends {
                [start, end] => (*start as usize, *end as usize),
                _ => continue,
            };
            let value = data.get(start..end).unwrap_or_default();
            // The last entry is the end of the dictionary.
            let same = self
                .starts
                .last()
                .is_some_and(|&at| self.dictionary.get(at..) == Some(value));
            if !same {
                let len = u32::try_from(value.len())
                    .map_err(|_| Error::Internal("a value of 4 GiB or more".into()))?;
                self.dictionary.extend_from_slice(&len.to_le_bytes());
                self.starts.push(self.dictionary.len());
                self.dictionary.extend_from_slice(value);
            }
            let index = u32::try_from(self.starts.len() - 1)
                .map_err(|_| Error::Internal("too many runs".into()))?;
            self.indices.push(index);
            self.value_bytes += value.len() as i64;
            if self.indices.len() >= self.page_rows {
                self.end_page();
            }
        }
        self.rows += text.len();
        Ok(())
    }

    /// Encodes the data page in progress, if it has rows.
    fn end_page(&mut self) {
        let (Some(&first), Some(&last)) = (self.indices.first(), self.indices.last()) else {
            return;
        };
        let bit_width = bits_for(self.starts.len().saturating_sub(1));
        let mut buf = Vec::with_capacity(1 + self.indices.len() * usize::from(bit_width) / 8 + 16);
        buf.push(bit_width);
        hybrid(&self.indices, bit_width, &mut buf);
        self.pages.push(DataPage {
            buf: Bytes::from(buf),
            rows: self.indices.len(),
            entries: first as usize..=last as usize,
        });
        self.indices.clear();
    }

    /// Rows written so far.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes the chunk would take if it ended now, about.
    pub(crate) fn estimated_bytes(&self) -> usize {
        self.dictionary.len()
            + self.pages.iter().map(|p| p.buf.len()).sum::<usize>()
            + self.indices.len() * 4
    }

    /// The smallest and largest of entries `entries`, if statistics are kept.
    fn min_max(&self, entries: std::ops::RangeInclusive<usize>) -> Option<(Vec<u8>, Vec<u8>)> {
        if !self.statistics {
            return None;
        }
        bounds_of(entries.map(|i| self.entry(i)))
    }

    /// The chunk's bytes (dictionary page first, at offset 0) and what the row
    /// group needs to know of them (see [`assemble`]).
    pub(crate) fn close(mut self) -> Result<(Bytes, ColumnCloseResult)> {
        self.end_page();
        let pages: Vec<EncodedPage> = self
            .pages
            .iter()
            .map(|page| EncodedPage {
                buf: page.buf.clone(),
                uncompressed: page.buf.len(),
                rows: page.rows,
                nulls: 0,
                encoding: Encoding::RLE_DICTIONARY,
                min_max: self.min_max(page.entries.clone()),
            })
            .collect();
        let dictionary = std::mem::take(&mut self.dictionary);
        assemble(Chunk {
            descr: &self.descr,
            compressed: false,
            dictionary: Some(DictionaryPage {
                uncompressed: dictionary.len(),
                buf: Bytes::from(dictionary),
                entries: self.starts.len(),
            }),
            pages: &pages,
            statistics: self.statistics,
            offset_index: self.offset_index,
            value_bytes: self.value_bytes,
        })
    }
}

/// Bits an index up to `max` takes (none for a dictionary of one entry).
pub(crate) fn bits_for(max: usize) -> u8 {
    (usize::BITS - max.leading_zeros()) as u8
}

/// Appends `values` (each below `2^bit_width`) in Parquet's run-length and
/// bit-packing hybrid: runs of eight and more equal values that can start at a
/// group boundary as run-length runs, everything else bit-packed in groups of
/// eight (the last group padded with zeros).
pub(crate) fn hybrid<T: Copy + Into<u32> + PartialEq>(
    values: &[T],
    bit_width: u8,
    out: &mut Vec<u8>,
) {
    let mut packed_from = 0;
    // A maximal run of equal values, `values[start..end]`, of eight or more: the
    // values waiting to be packed fill their last group from it first, and the
    // rest repeats if eight or more are left.
    let mut run = |start: usize, end: usize, value: T, out: &mut Vec<u8>| {
        let fill = (8 - (start - packed_from) % 8) % 8;
        if end - start >= fill + 8 {
            bit_pack(
                values.get(packed_from..start + fill).unwrap_or_default(),
                bit_width,
                out,
            );
            repeat(value.into(), end - start - fill, bit_width, out);
            packed_from = end;
        }
    };
    let Some(&first) = values.first() else {
        return;
    };
    let (mut start, mut current) = (0, first);
    for (i, &value) in values.iter().enumerate().skip(1) {
        if value != current {
            if i - start >= 8 {
                run(start, i, current, out);
            }
            (start, current) = (i, value);
        }
    }
    if values.len() - start >= 8 {
        run(start, values.len(), current, out);
    }
    bit_pack(
        values.get(packed_from..).unwrap_or_default(),
        bit_width,
        out,
    );
}

/// Appends a run-length run: `count` times `value`.
pub(crate) fn repeat(value: u32, count: usize, bit_width: u8, out: &mut Vec<u8>) {
    uleb128((count as u64) << 1, out);
    let bytes = value.to_le_bytes();
    out.extend_from_slice(
        bytes
            .get(..usize::from(bit_width).div_ceil(8))
            .unwrap_or_default(),
    );
}

/// Appends `values` as bit-packed runs of at most [`MAX_PACKED_GROUPS`] groups of
/// eight, the last group padded with zeros.
fn bit_pack<T: Copy + Into<u32>>(values: &[T], bit_width: u8, out: &mut Vec<u8>) {
    let width = usize::from(bit_width);
    for run in values.chunks(MAX_PACKED_GROUPS * 8) {
        let groups = run.len().div_ceil(8);
        uleb128(((groups as u64) << 1) | 1, out);
        // Eight values of `width` bits are `width` bytes: none for width 0.
        if width == 0 {
            continue;
        }
        for group in run.chunks(8) {
            let mut eight = [0u32; 8];
            for (to, &from) in eight.iter_mut().zip(group) {
                *to = from.into();
            }
            if width <= 16 {
                let packed = eight
                    .iter()
                    .zip((0..).step_by(width))
                    .fold(0u128, |acc, (&v, at)| acc | (u128::from(v) << at));
                out.extend_from_slice(packed.to_le_bytes().get(..width).unwrap_or_default());
                continue;
            }
            let (mut acc, mut bits) = (0u64, 0usize);
            for v in eight {
                acc |= u64::from(v) << bits;
                bits += width;
                while bits >= 8 {
                    out.push(acc as u8);
                    acc >>= 8;
                    bits -= 8;
                }
            }
        }
    }
}

/// Appends `value` as an unsigned LEB128 varint.
fn uleb128(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::basic::{Compression, Encoding};
    use parquet::file::metadata::PageIndexPolicy;
    use parquet::file::page_index::column_index::ColumnIndexMetaData;
    use parquet::file::statistics::Statistics;

    use super::{bit_pack, hybrid};
    use crate::test_output::FillsUp;
    use crate::test_rng::XorShift;
    use crate::{ParquetWriter, TableWriter, WriteOptions};

    fn encoded(values: &[u32], bit_width: u8) -> Vec<u8> {
        let mut out = Vec::new();
        hybrid(values, bit_width, &mut out);
        out
    }

    /// The hybrid's bytes, as the Parquet format lays them out.
    #[test]
    fn runs_of_eight_and_more_repeat_and_the_rest_is_packed() {
        // Bit-packed, the format's own example: 0..8 at three bits.
        assert_eq!(
            encoded(&[0, 1, 2, 3, 4, 5, 6, 7], 3),
            [0x03, 0x88, 0xc6, 0xfa]
        );
        // A run of ten: its length doubled (20), then the value in one byte.
        assert_eq!(encoded(&[5; 10], 3), [0x14, 0x05]);
        // Three values fill their group of eight from the run that follows them,
        // and the eight left repeat: 1 2 3 7 7 7 7 7 packed, then 8 times 7.
        assert_eq!(
            encoded(&[1, 2, 3, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7], 3),
            [0x03, 0xd1, 0xfe, 0xff, 0x10, 0x07]
        );
        // A run too short to repeat after filling a group is packed, and the last
        // group padded with zeros: 1 2 3 and nine 7s are two groups.
        let mut packed = Vec::new();
        bit_pack(&[1u32, 2, 3, 7, 7, 7, 7, 7, 7, 7, 7, 7], 3, &mut packed);
        assert_eq!(encoded(&[1, 2, 3, 7, 7, 7, 7, 7, 7, 7, 7, 7], 3), packed);
        assert_eq!(packed, [0x05, 0xd1, 0xfe, 0xff, 0xff, 0x0f, 0x00]);
        // A one-entry dictionary takes no bits: a run is its length alone.
        assert_eq!(encoded(&[0; 20_000], 0), [0xc0, 0xb8, 0x02]);
        // Long packed stretches are cut into runs of at most 63 groups.
        let distinct: Vec<u32> = (0..1_000).collect();
        let bytes = encoded(&distinct, 10);
        // 504 values (63 groups of ten bytes), then 496 (62 groups).
        assert_eq!(bytes.first(), Some(&((63 << 1) | 1)));
        assert_eq!(bytes.get(1 + 630), Some(&((62 << 1) | 1)));
        assert_eq!(bytes.len(), 1 + 630 + 1 + 620);
    }

    /// The hybrid as the format describes it, decided at the start of each
    /// maximal run: gives the same bytes on random runs of every length, at the
    /// starts and ends of groups.
    #[test]
    fn runs_are_found_as_a_run_by_run_encoder_finds_them() {
        fn by_runs(values: &[u32], bit_width: u8) -> Vec<u8> {
            let mut out = Vec::new();
            let (mut packed_from, mut i) = (0, 0);
            while let Some(&value) = values.get(i) {
                let run = values[i..].iter().take_while(|&&v| v == value).count();
                let fill = (8 - (i - packed_from) % 8) % 8;
                if run >= fill + 8 {
                    bit_pack(&values[packed_from..i + fill], bit_width, &mut out);
                    super::repeat(value, run - fill, bit_width, &mut out);
                    packed_from = i + run;
                }
                i += run;
            }
            bit_pack(&values[packed_from..], bit_width, &mut out);
            out
        }
        let mut rng = crate::test_rng::XorShift::new(0x7777_1234_abcd_0001);
        for round in 0..300 {
            let mut values = Vec::new();
            while values.len() < 1 + round * 3 {
                let run = [1, 1, 2, 7, 8, 9, 15, 16, 17, 40][(rng.next_u64() % 10) as usize];
                let value = (rng.next_u64() % 5) as u32;
                values.extend(std::iter::repeat_n(value, run));
            }
            assert_eq!(encoded(&values, 3), by_runs(&values, 3), "{values:?}");
        }
        assert_eq!(encoded(&[] as &[u32], 3), by_runs(&[], 3));
    }

    /// Packing eight values at a time gives the bytes of packing them one bit
    /// after another, least significant first, at every width up to 32 bits
    /// (none for width 0), the last group padded with zeros.
    #[test]
    fn bit_packing_at_every_width_lays_the_bits_out_in_order() {
        let mut rng = crate::test_rng::XorShift::new(0x1234_5678_9abc_def1);
        for width in 0..=32u8 {
            let mask = if width == 32 {
                u32::MAX
            } else {
                (1u32 << width) - 1
            };
            let values: Vec<u32> = (0..1_013).map(|_| rng.next_u64() as u32 & mask).collect();
            let mut expected = Vec::new();
            for run in values.chunks(504) {
                expected.push(((run.len().div_ceil(8) as u8) << 1) | 1);
                let mut bits: Vec<bool> = Vec::new();
                for k in 0..run.len().div_ceil(8) * 8 {
                    let v = run.get(k).copied().unwrap_or(0);
                    bits.extend((0..width).map(|b| v >> b & 1 == 1));
                }
                expected.extend(bits.chunks(8).map(|byte| {
                    byte.iter()
                        .enumerate()
                        .fold(0u8, |acc, (b, &on)| acc | (u8::from(on) << b))
                }));
            }
            let mut packed = Vec::new();
            bit_pack(&values, width, &mut packed);
            assert_eq!(packed, expected, "width {width}");
        }
    }

    fn role(name: &str, role: &str) -> Field {
        Field::new(name, DataType::Utf8, false).with_metadata(HashMap::from([(
            transmogrify_core::ROLE_METADATA_KEY.to_string(),
            role.to_string(),
        )]))
    }

    /// 150,000 rows: parent ids in runs of every length (long ones across pages and
    /// row groups, values that come back after others, a stretch of distinct ones),
    /// two extraction times, and a data column.
    fn runs_table() -> Result<RecordBatch, Box<dyn std::error::Error>> {
        let mut rng = XorShift::new(7);
        let mut parents: Vec<String> = Vec::new();
        while parents.len() < 150_000 {
            let r = rng.next_u64();
            let len = match parents.len() {
                // A long run across page and row-group boundaries.
                n if (60_000..61_000).contains(&n) => 30_000,
                // A stretch of distinct values (indices of 17 bits).
                n if (100_000..130_000).contains(&n) => 1,
                _ => 1 + (r % 20) as usize,
            };
            // Now and then a value comes back after others.
            let value = if r % 13 == 0 && parents.len() > 100 {
                parents[parents.len() - 50].clone()
            } else {
                format!("{:016x}-{}", r, parents.len())
            };
            parents.extend(std::iter::repeat_n(value, len));
        }
        parents.truncate(150_000);
        let times = (0..parents.len()).map(|i| {
            if i < 100_000 {
                "2026-01-01 00:00:00.000000"
            } else {
                "2025-12-31 23:59:59.999999"
            }
        });
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Utf8, true),
            role("__parent_extract_id", "parent_id"),
            role("__extract_datetime", "time"),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter(
                (0..parents.len()).map(|i| (i % 3 == 0).then(|| format!("v{}", i % 7))),
            )),
            Arc::new(StringArray::from_iter_values(&parents)),
            Arc::new(StringArray::from_iter_values(times)),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    /// `batch` written into `out` in batches of 1 to 3,000 rows.
    fn written_unevenly(
        batch: &RecordBatch,
        out: impl std::io::Write + Send,
    ) -> crate::error::Result<u64> {
        let mut rng = XorShift::new(11);
        let mut writer = Box::new(ParquetWriter::new(
            out,
            &batch.schema(),
            &WriteOptions::default(),
        )?);
        let mut at = 0;
        while at < batch.num_rows() {
            let len = (1 + (rng.next_u64() % 3_000) as usize).min(batch.num_rows() - at);
            writer.write(&batch.slice(at, len))?;
            at += len;
        }
        Ok(writer.finish()?.rows)
    }

    /// The runs table (see [`runs_table`]), written in uneven batches, reads back as
    /// it was written; the chunks are dictionary-encoded, uncompressed, with
    /// statistics of the times only, and an offset index of 20,000-row pages.
    #[test]
    fn run_columns_read_back_as_written() -> Result<(), Box<dyn std::error::Error>> {
        let whole = runs_table()?;
        let times = whole.column(2).as_string::<i32>().clone();
        let mut out = Vec::new();
        assert_eq!(written_unevenly(&whole, &mut out)?, 150_000);

        let bytes = bytes::Bytes::from(out);
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
        let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(bytes, options)?;
        let metadata = builder.metadata().clone();
        let batches: Vec<RecordBatch> = builder.build()?.collect::<Result<_, _>>()?;
        let read = arrow_select::concat::concat_batches(&batches[0].schema(), &batches)?;
        for i in 0..whole.num_columns() {
            assert_eq!(
                read.column(i).as_ref(),
                whole.column(i).as_ref(),
                "column {i}"
            );
        }

        assert_eq!(metadata.num_row_groups(), 3);
        let page_index = metadata.page_index().ok_or("no page index")?;
        for (g, group) in metadata.row_groups().iter().enumerate() {
            let rows = group.num_rows() as usize;
            let (start, end) = (g * 65_536, g * 65_536 + rows);
            for c in [1, 2] {
                let chunk = group.column(c);
                assert_eq!(chunk.compression(), Compression::UNCOMPRESSED);
                let encodings: Vec<Encoding> = chunk.encodings().collect();
                assert!(
                    encodings.contains(&Encoding::RLE_DICTIONARY),
                    "{encodings:?}"
                );
                let pages = page_index
                    .offset_index(g, c)
                    .ok_or("no offset index")?
                    .page_locations();
                assert_eq!(pages.len(), rows.div_ceil(20_000));
                let firsts: Vec<i64> = pages.iter().map(|p| p.first_row_index).collect();
                let expected: Vec<i64> = (0..rows as i64).step_by(20_000).collect();
                assert_eq!(firsts, expected);
            }
            assert!(group.column(1).statistics().is_none());
            let (min, max) = (
                times
                    .iter()
                    .flatten()
                    .take(end)
                    .skip(start)
                    .min()
                    .ok_or("no rows")?,
                times
                    .iter()
                    .flatten()
                    .take(end)
                    .skip(start)
                    .max()
                    .ok_or("no rows")?,
            );
            match group.column(2).statistics() {
                Some(Statistics::ByteArray(s)) => {
                    assert_eq!(s.min_opt().map(|v| v.data()), Some(min.as_bytes()));
                    assert_eq!(s.max_opt().map(|v| v.data()), Some(max.as_bytes()));
                    assert_eq!(s.null_count_opt(), Some(0));
                }
                other => panic!("time statistics: {other:?}"),
            }
            assert!(matches!(
                page_index.column_index(g, 2),
                Some(ColumnIndexMetaData::BYTE_ARRAY(_))
            ));
        }
        Ok(())
    }

    /// An output that fails while a run column's chunk is written (in the first and
    /// the last row group) is an error naming the failure.
    #[test]
    fn output_failing_in_a_run_column_is_an_error() -> Result<(), Box<dyn std::error::Error>> {
        let batch = runs_table()?;
        let mut whole = Vec::new();
        written_unevenly(&batch, &mut whole)?;
        let reader = parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(whole))?;
        let metadata = parquet::file::reader::FileReader::metadata(&reader);
        for (group, column) in [(0, 1), (0, 2), (2, 1)] {
            let (start, len) = metadata.row_group(group).column(column).byte_range();
            let left = (start + len / 2) as usize;
            let Err(e) = written_unevenly(&batch, FillsUp { left }) else {
                panic!("{left} bytes of room: the write succeeded");
            };
            assert!(
                e.to_string().contains("no space left on the test device"),
                "{left} bytes of room: {e}"
            );
        }
        Ok(())
    }
}
