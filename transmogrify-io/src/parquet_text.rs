//! Parquet column chunks of a flat table's text columns, encoded here instead of by
//! the `parquet` crate's Arrow writer, and the assembly of any chunk encoded here
//! (these and [`crate::parquet_runs`]) into the bytes and metadata a row group takes.
//!
//! The crate compares every value with its page's smallest and largest so far, and
//! for a dictionary hashes it and copies it into buffers of its own: outside
//! compression, its text columns took about a fifth of the samples of a one-thread
//! run of API events to Parquet. Here a dictionary column's pages take their
//! smallest and largest values from the distinct entries they use (each entry is
//! compared once per page, not once per row), a plain column's values are compared
//! by their first eight bytes before the rest, a hash table entry keeps a value's
//! length and first eight bytes (most lookups read nothing else), a page without
//! nulls has its levels as one run, a plain page is compressed from where its
//! values were gathered, and a page's rows are taken in one loop per encoding. The
//! whole run takes about 5% less (0.476 against 0.501 s, medians of 15 alternating
//! runs). A chunk goes through one more copy when it joins its row group, in 8 KiB
//! pieces, which the output's file buffer gathers.
//!
//! The pages are those the crate writes: a `PLAIN` dictionary page and
//! `RLE_DICTIONARY` data pages (given up for `PLAIN` pages once the dictionary
//! passes its limit), or `PLAIN` data pages alone, each (version 1) with its
//! definition levels in the run-length and bit-packing hybrid, snappy-compressed or
//! not; with the crate's statistics (truncated as it truncates them), definition
//! level histograms, column index and offset index.

use std::hash::BuildHasher;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use bytes::Bytes;
use parquet::basic::{
    BoundaryOrder, Compression, Encoding, EncodingMask, PageType, Type as PhysicalType,
};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, LevelHistogram, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use crate::error::{Error, Result};
use crate::parquet_runs::{bits_for, hybrid, repeat};
use crate::parquet_writer::pq_err;

/// Bytes the statistics and the column index keep of a value at most (the
/// `parquet` crate's default truncation lengths).
const STATISTICS_TRUNCATE_BYTES: usize = 64;

/// One data page of a chunk, encoded (and compressed if the chunk is).
pub(crate) struct EncodedPage {
    pub(crate) buf: Bytes,
    /// Its size before compression.
    pub(crate) uncompressed: usize,
    pub(crate) rows: usize,
    pub(crate) nulls: usize,
    pub(crate) encoding: Encoding,
    /// Its smallest and largest value, when statistics are kept and it has values.
    pub(crate) min_max: Option<(Vec<u8>, Vec<u8>)>,
}

/// A chunk's dictionary page, encoded (and compressed if the chunk is).
pub(crate) struct DictionaryPage {
    pub(crate) buf: Bytes,
    pub(crate) uncompressed: usize,
    pub(crate) entries: usize,
}

/// What [`assemble`] makes a chunk of.
pub(crate) struct Chunk<'a> {
    pub(crate) descr: &'a ColumnDescPtr,
    pub(crate) compressed: bool,
    pub(crate) dictionary: Option<DictionaryPage>,
    pub(crate) pages: &'a [EncodedPage],
    /// Whether the chunk carries min/max statistics and a column index.
    pub(crate) statistics: bool,
    pub(crate) offset_index: bool,
    /// Bytes of all the values (the chunk's size statistics).
    pub(crate) value_bytes: i64,
}

/// The bytes of `chunk` (its first page at offset 0) and what the row group needs
/// to know of them, for
/// [`SerializedRowGroupWriter::append_column`](parquet::file::writer::SerializedRowGroupWriter::append_column).
pub(crate) fn assemble(chunk: Chunk<'_>) -> Result<(Bytes, ColumnCloseResult)> {
    let too_big = |what: &str| Error::Internal(format!("{what} too large for Parquet"));
    let estimated = chunk.pages.iter().map(|p| p.buf.len()).sum::<usize>()
        + chunk.dictionary.as_ref().map_or(0, |d| d.buf.len());
    let mut sink = TrackedWrite::new(Vec::with_capacity(estimated + 1024));
    let mut writer = SerializedPageWriter::new(&mut sink);
    let (mut compressed, mut uncompressed) = (0i64, 0i64);
    let mut page_stats = Vec::new();
    let mut encodings = vec![Encoding::RLE];
    let dictionary_page_offset = match &chunk.dictionary {
        Some(dictionary) => {
            let spec = writer
                .write_page(CompressedPage::new(
                    Page::DictionaryPage {
                        buf: dictionary.buf.clone(),
                        num_values: u32::try_from(dictionary.entries)
                            .map_err(|_| too_big("a dictionary"))?,
                        encoding: Encoding::PLAIN,
                        is_sorted: false,
                    },
                    dictionary.uncompressed,
                ))
                .map_err(pq_err)?;
            compressed += spec.compressed_size as i64;
            uncompressed += spec.uncompressed_size as i64;
            encodings.push(Encoding::PLAIN);
            page_stats.push(PageEncodingStats {
                page_type: PageType::DICTIONARY_PAGE,
                encoding: Encoding::PLAIN,
                count: 1,
            });
            Some(spec.offset as i64)
        }
        None => None,
    };
    let mut offsets = OffsetIndexBuilder::new();
    let mut data_page_offset = None;
    for page in chunk.pages {
        let spec = writer
            .write_page(CompressedPage::new(
                Page::DataPage {
                    buf: page.buf.clone(),
                    num_values: u32::try_from(page.rows).map_err(|_| too_big("a page"))?,
                    encoding: page.encoding,
                    def_level_encoding: Encoding::RLE,
                    rep_level_encoding: Encoding::RLE,
                    statistics: None,
                },
                page.uncompressed,
            ))
            .map_err(pq_err)?;
        data_page_offset.get_or_insert(spec.offset as i64);
        compressed += spec.compressed_size as i64;
        uncompressed += spec.uncompressed_size as i64;
        offsets.append_offset_and_size(
            spec.offset as i64,
            i32::try_from(spec.compressed_size).map_err(|_| too_big("a page"))?,
        );
        offsets.append_row_count(page.rows as i64);
        if !encodings.contains(&page.encoding) {
            encodings.push(page.encoding);
        }
        match page_stats
            .iter_mut()
            .find(|s| s.page_type == PageType::DATA_PAGE && s.encoding == page.encoding)
        {
            Some(stats) => stats.count += 1,
            None => page_stats.push(PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding: page.encoding,
                count: 1,
            }),
        }
    }
    writer.close().map_err(pq_err)?;
    let bytes = Bytes::from(sink.into_inner().map_err(pq_err)?);
    let rows: usize = chunk.pages.iter().map(|p| p.rows).sum();
    let nulls: usize = chunk.pages.iter().map(|p| p.nulls).sum();
    // Definition level histograms, as the crate keeps them for optional columns.
    let nullable = chunk.descr.max_def_level() > 0;
    let histogram = |nulls: usize, rows: usize| {
        nullable.then(|| LevelHistogram::from(vec![nulls as i64, (rows - nulls) as i64]))
    };
    let mut metadata = ColumnChunkMetaData::builder(chunk.descr.clone())
        .set_compression(if chunk.compressed {
            Compression::SNAPPY
        } else {
            Compression::UNCOMPRESSED
        })
        .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
        .set_page_encoding_stats(page_stats)
        .set_total_compressed_size(compressed)
        .set_total_uncompressed_size(uncompressed)
        .set_num_values(rows as i64)
        .set_data_page_offset(data_page_offset.unwrap_or(0))
        .set_dictionary_page_offset(dictionary_page_offset);
    let mut column_index = None;
    if chunk.statistics {
        let mut values = chunk.pages.iter().filter_map(|p| p.min_max.as_ref());
        let bounds = values.next().map(|(min, max)| {
            values.fold((min, max), |(min, max), (lo, hi)| {
                (min.min(lo), max.max(hi))
            })
        });
        let statistics = match bounds {
            None => ValueStatistics::<ByteArray>::new(None, None, None, Some(nulls as u64), false),
            Some((min, max)) => {
                let (min, min_exact) = truncate_min(min);
                let (max, max_exact) = truncate_max(max);
                ValueStatistics::new(
                    Some(ByteArray::from(min)),
                    Some(ByteArray::from(max)),
                    None,
                    Some(nulls as u64),
                    false,
                )
                .with_min_is_exact(min_exact)
                .with_max_is_exact(max_exact)
            }
        };
        metadata = metadata
            .set_statistics(Statistics::ByteArray(statistics))
            .set_unencoded_byte_array_data_bytes(Some(chunk.value_bytes))
            .set_definition_level_histogram(histogram(nulls, rows));
        let mut index = ColumnIndexBuilder::new(PhysicalType::BYTE_ARRAY);
        // Compared untruncated, over the pages with values, as the crate does.
        let (mut ascending, mut descending) = (true, true);
        let mut last: Option<&(Vec<u8>, Vec<u8>)> = None;
        for page in chunk.pages {
            match &page.min_max {
                Some(pair) => {
                    if let Some((last_min, last_max)) = last {
                        ascending &= last_min <= &pair.0 && last_max <= &pair.1;
                        descending &= pair.0 <= *last_min && pair.1 <= *last_max;
                    }
                    last = Some(pair);
                    index.append(
                        false,
                        truncate_min(&pair.0).0,
                        truncate_max(&pair.1).0,
                        page.nulls as i64,
                        None,
                    );
                }
                None => index.append(true, Vec::new(), Vec::new(), page.nulls as i64, None),
            }
            index.append_histograms(&None, &histogram(page.nulls, page.rows));
        }
        index.set_boundary_order(match (ascending, descending) {
            (true, _) => BoundaryOrder::ASCENDING,
            (false, true) => BoundaryOrder::DESCENDING,
            (false, false) => BoundaryOrder::UNORDERED,
        });
        column_index = Some(index.build().map_err(pq_err)?);
    }
    let metadata = metadata.build().map_err(pq_err)?;
    let bytes_written = bytes.len() as u64;
    Ok((
        bytes,
        ColumnCloseResult {
            bytes_written,
            rows_written: rows as u64,
            metadata,
            bloom_filter: None,
            column_index,
            offset_index: chunk.offset_index.then(|| offsets.build()),
        },
    ))
}

/// The smallest and largest of `values`, if there are any.
pub(crate) fn bounds_of<'a>(
    mut values: impl Iterator<Item = &'a [u8]>,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let first = values.next()?;
    let (min, max) = values.fold((first, first), |(min, max), v| (min.min(v), max.max(v)));
    Some((min.to_vec(), max.to_vec()))
}

/// A lower bound of `value` of at most [`STATISTICS_TRUNCATE_BYTES`] bytes (its
/// longest prefix that ends between characters), and whether it is `value` itself.
pub(crate) fn truncate_min(value: &[u8]) -> (Vec<u8>, bool) {
    if value.len() <= STATISTICS_TRUNCATE_BYTES {
        return (value.to_vec(), true);
    }
    let cut = match std::str::from_utf8(value) {
        Ok(text) => (1..=STATISTICS_TRUNCATE_BYTES).rfind(|&at| text.is_char_boundary(at)),
        Err(_) => Some(STATISTICS_TRUNCATE_BYTES),
    };
    match cut.and_then(|at| value.get(..at)) {
        Some(prefix) => (prefix.to_vec(), false),
        None => (value.to_vec(), true),
    }
}

/// An upper bound of `value` of at most [`STATISTICS_TRUNCATE_BYTES`] bytes (a
/// prefix with its last character that can be raised raised, without making it
/// longer), and whether it is `value` itself (also when no bound is that short).
pub(crate) fn truncate_max(value: &[u8]) -> (Vec<u8>, bool) {
    if value.len() <= STATISTICS_TRUNCATE_BYTES {
        return (value.to_vec(), true);
    }
    let raised = match std::str::from_utf8(value) {
        Ok(text) => (STATISTICS_TRUNCATE_BYTES.saturating_sub(3)..=STATISTICS_TRUNCATE_BYTES)
            .rfind(|&at| text.is_char_boundary(at))
            .and_then(|at| text.get(..at))
            .and_then(raise_last_char),
        Err(_) => value
            .get(..STATISTICS_TRUNCATE_BYTES)
            .and_then(|prefix| raise_last_byte(prefix.to_vec())),
    };
    match raised {
        Some(bound) => (bound, false),
        None => (value.to_vec(), true),
    }
}

/// `text` up to and including its last character that has a successor of the same
/// length in UTF-8, raised to it.
fn raise_last_char(text: &str) -> Option<Vec<u8>> {
    text.char_indices().rev().find_map(|(at, c)| {
        let next = char::from_u32(u32::from(c) + 1).filter(|n| n.len_utf8() == c.len_utf8())?;
        let mut bound = text.as_bytes().get(..at)?.to_vec();
        let mut buf = [0u8; 4];
        bound.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
        Some(bound)
    })
}

/// `bytes` raised by one as a big-endian number, if it is not all 0xff.
fn raise_last_byte(mut bytes: Vec<u8>) -> Option<Vec<u8>> {
    for byte in bytes.iter_mut().rev() {
        let (raised, overflow) = byte.overflowing_add(1);
        *byte = raised;
        if !overflow {
            return Some(bytes);
        }
    }
    None
}

/// How a [`TextChunk`] is written: the settings the file's writer properties give
/// its column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextSettings {
    /// Whether values go through a dictionary (until it passes `dictionary_limit`).
    pub(crate) dictionary: bool,
    /// Whether pages are snappy-compressed.
    pub(crate) compressed: bool,
    /// Whether the chunk carries min/max statistics and a column index.
    pub(crate) statistics: bool,
    pub(crate) offset_index: bool,
    /// Rows and (plain) value bytes a data page takes at most, about.
    pub(crate) page_rows: usize,
    pub(crate) page_bytes: usize,
    /// Bytes of the dictionary page after which the dictionary is given up.
    pub(crate) dictionary_limit: usize,
}

/// A chunk's dictionary: its page (each entry as its length, four bytes
/// little-endian, and bytes) and a hash table of its entries.
struct Dictionary {
    page: Vec<u8>,
    /// Each entry's bytes in `page`.
    entries: Vec<std::ops::Range<usize>>,
    table: hashbrown::HashTable<Slot>,
    hasher: hashbrown::DefaultHashBuilder,
    /// For each entry, the last data page (counted from 1) that used it.
    seen_in: Vec<u32>,
    /// Whether it was given up: pages from then on are plain.
    given_up: bool,
}

/// An entry in the dictionary's hash table: enough of the value to tell most
/// others from it without reading the page.
#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    /// The value's first eight bytes, zero-padded (see [`key`]).
    head: u64,
    len: u32,
    entry: u32,
}

impl Dictionary {
    fn new() -> Self {
        Dictionary {
            page: Vec::new(),
            entries: Vec::new(),
            table: hashbrown::HashTable::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            seen_in: Vec::new(),
            given_up: false,
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entry `i`'s bytes.
    fn entry(&self, i: usize) -> &[u8] {
        self.entries
            .get(i)
            .and_then(|range| self.page.get(range.clone()))
            .unwrap_or_default()
    }

    /// The entry of `value`, added if it is new.
    fn intern(&mut self, value: &[u8]) -> Result<u32> {
        let hash = self.hasher.hash_one(value);
        let (head, len) = (key(value), value.len());
        let page = &self.page;
        let entries = &self.entries;
        let found = self.table.find(hash, |slot| {
            slot.head == head
                && slot.len as usize == len
                && (len <= 8
                    || entries
                        .get(slot.entry as usize)
                        .and_then(|range| page.get(range.start + 8..range.end))
                        == value.get(8..))
        });
        if let Some(slot) = found {
            return Ok(slot.entry);
        }
        let entry = u32::try_from(self.entries.len())
            .map_err(|_| Error::Internal("too many dictionary entries".into()))?;
        let len =
            u32::try_from(len).map_err(|_| Error::Internal("a value of 4 GiB or more".into()))?;
        self.page.extend_from_slice(&len.to_le_bytes());
        let start = self.page.len();
        self.page.extend_from_slice(value);
        self.entries.push(start..self.page.len());
        self.seen_in.push(0);
        let slot = Slot {
            hash,
            head,
            len,
            entry,
        };
        self.table.insert_unique(hash, slot, |slot| slot.hash);
        Ok(entry)
    }
}

/// A page's smallest and largest values so far, compared by their first eight
/// bytes (as a big-endian number) before the rest.
#[derive(Default)]
struct Bounds {
    min: Vec<u8>,
    max: Vec<u8>,
    min_key: u64,
    max_key: u64,
    any: bool,
}

/// A value's first eight bytes, zero-padded, as a big-endian number: if two
/// values' keys differ they order as the keys do.
///
/// Read straight from the value, as one or two loads: copying a shorter value
/// into a zeroed array first took a call to `memcpy` per value, 2.4% of the
/// instructions of a one-thread run to Parquet.
#[inline]
fn key(value: &[u8]) -> u64 {
    if let Some(word) = value.first_chunk::<8>() {
        return u64::from_be_bytes(*word);
    }
    let n = value.len();
    if let (Some(first), Some(last)) = (value.first_chunk::<4>(), value.last_chunk::<4>()) {
        // Four to seven bytes: the last four overlap the first four, where they
        // are the same bytes in the same places.
        let high = u64::from(u32::from_be_bytes(*first)) << 32;
        return high | u64::from(u32::from_be_bytes(*last)) << (8 * (8 - n));
    }
    value
        .iter()
        .zip((0..8).rev())
        .fold(0, |k, (&b, i)| k | u64::from(b) << (8 * i))
}

impl Bounds {
    fn add(&mut self, value: &[u8]) {
        let k = key(value);
        if !self.any {
            self.any = true;
            (self.min_key, self.max_key) = (k, k);
            self.min.extend_from_slice(value);
            self.max.extend_from_slice(value);
            return;
        }
        if k < self.min_key || (k == self.min_key && value < self.min.as_slice()) {
            self.min_key = k;
            self.min.clear();
            self.min.extend_from_slice(value);
        }
        if k > self.max_key || (k == self.max_key && value > self.max.as_slice()) {
            self.max_key = k;
            self.max.clear();
            self.max.extend_from_slice(value);
        }
    }

    /// The bounds, and the page's next bounds empty.
    fn take(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        let any = std::mem::take(&mut self.any);
        let pair = (std::mem::take(&mut self.min), std::mem::take(&mut self.max));
        any.then_some(pair)
    }
}

thread_local! {
    /// This thread's snappy encoder (its hash table) and the buffer a page is
    /// compressed into before it is copied out at its size, shared by the chunks
    /// the thread writes (one of each per column would be megabytes for a table
    /// of a hundred columns).
    static SNAPPY: std::cell::RefCell<(snap::raw::Encoder, Vec<u8>)> =
        std::cell::RefCell::new((snap::raw::Encoder::new(), Vec::new()));
}

/// `page` compressed with snappy (its raw format, as Parquet takes it).
fn snappy(page: &[u8]) -> Result<Bytes> {
    SNAPPY.with(|cell| {
        let mut guard = cell
            .try_borrow_mut()
            .map_err(|_| Error::Internal("snappy's buffer in use".into()))?;
        let (encoder, packed) = &mut *guard;
        let need = snap::raw::max_compress_len(page.len());
        if packed.len() < need {
            packed.resize(need, 0);
        }
        let n = encoder
            .compress(page, packed)
            .map_err(|e| Error::Internal(format!("snappy could not compress a page: {e}")))?;
        Ok(Bytes::copy_from_slice(packed.get(..n).unwrap_or_default()))
    })
}

/// The values of a text column's rows.
struct Rows<'a> {
    data: &'a [u8],
    offsets: &'a [i32],
    nulls: Option<&'a arrow_buffer::NullBuffer>,
}

impl Rows<'_> {
    /// Row `row`'s value, `None` if it is null.
    fn get(&self, row: usize) -> Option<&[u8]> {
        if self.nulls.is_some_and(|n| n.is_null(row)) {
            return None;
        }
        let value = match (self.offsets.get(row), self.offsets.get(row + 1)) {
            (Some(&start), Some(&end)) => self.data.get(start as usize..end as usize),
            _ => None,
        };
        Some(value.unwrap_or_default())
    }
}

/// One row group's chunk of a flat table's text column, being written (see the
/// module's documentation).
pub(crate) struct TextChunk {
    descr: ColumnDescPtr,
    settings: TextSettings,
    dictionary: Option<Dictionary>,
    /// The page in progress: its definition levels (optional columns only, from
    /// its first null: before it, every row has a value), its values as entries
    /// or plain, its rows and nulls.
    levels: Vec<u8>,
    indices: Vec<u32>,
    plain: Vec<u8>,
    page_rows: usize,
    page_nulls: usize,
    /// The entries the page in progress uses, each once.
    used: Vec<u32>,
    bounds: Bounds,
    /// Bytes left at the start of `plain` for the page's definition levels.
    gap: usize,
    pages: Vec<EncodedPage>,
    value_bytes: i64,
}

impl TextChunk {
    /// An empty chunk of the column `descr`.
    pub(crate) fn new(descr: ColumnDescPtr, settings: TextSettings) -> Self {
        // The levels of a page of `page_rows` rows, bit-packed (with a run's
        // header byte per 504) and their length. Runs of nulls and values of
        // eight to fifteen rows, one after another, take more: such a page is put
        // together by copying its values after its levels.
        let rows = settings.page_rows.max(1);
        let gap = 4 + rows.div_ceil(8) + rows.div_ceil(504) + 8;
        TextChunk {
            descr,
            dictionary: settings.dictionary.then(Dictionary::new),
            settings: TextSettings {
                page_rows: rows,
                ..settings
            },
            levels: Vec::new(),
            indices: Vec::new(),
            plain: vec![0; gap],
            page_rows: 0,
            page_nulls: 0,
            used: Vec::new(),
            bounds: Bounds::default(),
            gap,
            pages: Vec::new(),
            value_bytes: 0,
        }
    }

    /// Whether values of the page in progress go through the dictionary.
    fn by_dictionary(&self) -> bool {
        self.dictionary.as_ref().is_some_and(|d| !d.given_up)
    }

    /// Appends the rows of `column`, a text column.
    pub(crate) fn write(&mut self, column: &dyn Array) -> Result<()> {
        let text = column
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::Internal("a text chunk's column that is not text".into()))?;
        let nulls = text.nulls().filter(|n| n.null_count() > 0);
        if nulls.is_some() && self.descr.max_def_level() == 0 {
            return Err(Error::Internal("nulls in a required text column".into()));
        }
        let rows = Rows {
            data: text.value_data(),
            offsets: text.value_offsets(),
            nulls,
        };
        let mut row = 0;
        while row < text.len() {
            // Up to the end of the page in progress, at its row limit.
            let to = text.len().min(
                row + self
                    .settings
                    .page_rows
                    .saturating_sub(self.page_rows)
                    .max(1),
            );
            row = if self.by_dictionary() {
                self.entries(&rows, row, to)?
            } else {
                self.plain_values(&rows, row, to)?
            };
            // A dictionary past its limit is given up: its page ends as it began,
            // the next ones are plain.
            let full = self
                .dictionary
                .as_ref()
                .is_some_and(|d| !d.given_up && d.page.len() > self.settings.dictionary_limit);
            if full
                || self.page_rows >= self.settings.page_rows
                || self.plain.len() >= self.gap + self.settings.page_bytes
            {
                self.end_page()?;
            }
            if full && let Some(dictionary) = self.dictionary.as_mut() {
                dictionary.given_up = true;
            }
        }
        Ok(())
    }

    /// Adds a row's definition level to the page in progress (kept from the
    /// page's first null on), and counts the row.
    fn level(&mut self, valid: bool) {
        if !valid && self.page_nulls == 0 {
            self.levels.resize(self.page_rows, 1);
        }
        if self.page_nulls > 0 || !valid {
            self.levels.push(u8::from(valid));
        }
        self.page_rows += 1;
        self.page_nulls += usize::from(!valid);
    }

    /// Adds rows `from..to` to the page in progress as dictionary entries, up to
    /// and including a row whose new entry takes the dictionary past its limit;
    /// returns the row after the last one added.
    fn entries(&mut self, rows: &Rows<'_>, from: usize, to: usize) -> Result<usize> {
        let page = self.pages.len() as u32 + 1;
        let limit = self.settings.dictionary_limit;
        for row in from..to {
            let value = rows.get(row);
            self.level(value.is_some());
            let Some(value) = value else {
                continue;
            };
            let Some(dictionary) = self.dictionary.as_mut() else {
                return Err(Error::Internal(
                    "a dictionary page without its dictionary".into(),
                ));
            };
            self.value_bytes += value.len() as i64;
            let entries = dictionary.len();
            let i = dictionary.intern(value)?;
            self.indices.push(i);
            if let Some(seen) = dictionary.seen_in.get_mut(i as usize)
                && *seen != page
            {
                *seen = page;
                self.used.push(i);
            }
            if dictionary.len() > entries && dictionary.page.len() > limit {
                return Ok(row + 1);
            }
        }
        Ok(to)
    }

    /// Adds rows `from..to` to the page in progress as plain values, up to and
    /// including the row that takes the page past its size; returns the row after
    /// the last one added.
    fn plain_values(&mut self, rows: &Rows<'_>, from: usize, to: usize) -> Result<usize> {
        let full = self.gap + self.settings.page_bytes;
        for row in from..to {
            let value = rows.get(row);
            self.level(value.is_some());
            let Some(value) = value else {
                continue;
            };
            self.value_bytes += value.len() as i64;
            let len = u32::try_from(value.len())
                .map_err(|_| Error::Internal("a value of 4 GiB or more".into()))?;
            self.plain.extend_from_slice(&len.to_le_bytes());
            self.plain.extend_from_slice(value);
            if self.settings.statistics {
                self.bounds.add(value);
            }
            if self.plain.len() >= full {
                return Ok(row + 1);
            }
        }
        Ok(to)
    }

    /// Encodes the page in progress, if it has rows.
    fn end_page(&mut self) -> Result<()> {
        if self.page_rows == 0 {
            return Ok(());
        }
        let too_big = || Error::Internal("a page too large for Parquet".into());
        // The definition levels, after their length; then the entries, or the
        // plain values, which are in `plain` after a gap the rest goes at the
        // end of (so that they are not copied once more).
        let mut head = Vec::with_capacity(64 + self.indices.len());
        if self.descr.max_def_level() > 0 {
            head.extend_from_slice(&[0; 4]);
            if self.page_nulls == 0 {
                repeat(1, self.page_rows, 1, &mut head);
            } else {
                hybrid(&self.levels, 1, &mut head);
            }
            let len = u32::try_from(head.len() - 4).map_err(|_| too_big())?;
            if let Some(prefix) = head.get_mut(..4) {
                prefix.copy_from_slice(&len.to_le_bytes());
            }
        }
        let by_dictionary = self.by_dictionary();
        // A dictionary page's smallest and largest values, from the entries it uses
        // (a plain page's are in `bounds`).
        let mut entry_bounds = None;
        let plain_from = if by_dictionary {
            let dictionary = self.dictionary.as_ref();
            let entries = dictionary.map_or(0, Dictionary::len);
            let bit_width = bits_for(entries.saturating_sub(1));
            head.push(bit_width);
            hybrid(&self.indices, bit_width, &mut head);
            if self.settings.statistics
                && let Some(d) = dictionary
            {
                entry_bounds = bounds_of(self.used.iter().map(|&i| d.entry(i as usize)));
            }
            None
        } else {
            match self.gap.checked_sub(head.len()) {
                Some(from) => {
                    if let Some(to) = self.plain.get_mut(from..self.gap) {
                        to.copy_from_slice(&head);
                    }
                    Some(from)
                }
                // Levels longer than the gap (runs of eight to fifteen rows).
                None => {
                    head.extend_from_slice(self.plain.get(self.gap..).unwrap_or_default());
                    None
                }
            }
        };
        let page = match plain_from {
            Some(from) => self.plain.get(from..).unwrap_or_default(),
            None => head.as_slice(),
        };
        let uncompressed = page.len();
        let buf = if self.settings.compressed {
            snappy(page)?
        } else {
            match plain_from {
                Some(from) => {
                    let mut next = Vec::with_capacity(self.plain.capacity());
                    next.resize(self.gap, 0);
                    Bytes::from(std::mem::replace(&mut self.plain, next)).slice(from..)
                }
                None => Bytes::from(head),
            }
        };
        self.pages.push(EncodedPage {
            buf,
            uncompressed,
            rows: self.page_rows,
            nulls: self.page_nulls,
            encoding: if by_dictionary {
                Encoding::RLE_DICTIONARY
            } else {
                Encoding::PLAIN
            },
            min_max: entry_bounds.or_else(|| self.bounds.take()),
        });
        self.levels.clear();
        self.indices.clear();
        self.plain.truncate(self.gap);
        self.used.clear();
        (self.page_rows, self.page_nulls) = (0, 0);
        Ok(())
    }

    /// Rows written so far.
    pub(crate) fn rows(&self) -> usize {
        self.pages.iter().map(|p| p.rows).sum::<usize>() + self.page_rows
    }

    /// Bytes the chunk would take if it ended now, about.
    pub(crate) fn estimated_bytes(&self) -> usize {
        self.dictionary.as_ref().map_or(0, |d| d.page.len())
            + self.pages.iter().map(|p| p.buf.len()).sum::<usize>()
            + self.plain.len()
            + self.indices.len()
            + self.levels.len() / 8
    }

    /// The chunk's bytes and what the row group needs to know of them (see
    /// [`assemble`]).
    pub(crate) fn close(mut self) -> Result<(Bytes, ColumnCloseResult)> {
        self.end_page()?;
        let dictionary = match self.dictionary.take() {
            Some(d) => {
                let uncompressed = d.page.len();
                let buf = if self.settings.compressed {
                    snappy(&d.page)?
                } else {
                    Bytes::from(d.page)
                };
                Some(DictionaryPage {
                    buf,
                    uncompressed,
                    entries: d.entries.len(),
                })
            }
            None => None,
        };
        assemble(Chunk {
            descr: &self.descr,
            compressed: self.settings.compressed,
            dictionary,
            pages: &self.pages,
            statistics: self.settings.statistics,
            offset_index: self.settings.offset_index,
            value_bytes: self.value_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::key;

    /// The first eight bytes, zero-padded, as a big-endian number: the definition.
    fn padded(value: &[u8]) -> u64 {
        let mut bytes = [0u8; 8];
        for (to, from) in bytes.iter_mut().zip(value) {
            *to = *from;
        }
        u64::from_be_bytes(bytes)
    }

    #[test]
    fn a_key_is_the_first_eight_bytes_zero_padded_and_orders_as_they_do() {
        let mut values: Vec<Vec<u8>> = Vec::new();
        for n in 0..=12usize {
            values.push((0..n).map(|i| b'a' + i as u8).collect());
            values.push((0..n).map(|i| 0xff - i as u8).collect());
            values.push(vec![0; n]);
            values.push((0..n).map(|i| (i as u8).wrapping_mul(37) ^ 0x5a).collect());
        }
        for v in &values {
            assert_eq!(key(v), padded(v), "{v:?}");
        }
        for a in &values {
            for b in &values {
                if key(a) < key(b) {
                    assert!(a < b, "{a:?} {b:?}");
                }
            }
        }
    }
}
