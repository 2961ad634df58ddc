//! Column buffers the flattener writes into, turned into Arrow arrays per batch.

use std::sync::Arc;

use arrow_array::{ArrayRef, StringArray};
use arrow_buffer::{
    BooleanBuffer, BooleanBufferBuilder, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer,
};

use crate::error::{Error, Result};

/// A column took more than one Arrow batch holds. A one-byte error, so that the
/// result of appending a value (done for nearly every value) fits in a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnFull {
    /// More than 2 GiB of text.
    Text,
    /// More than 4 billion rows.
    Rows,
}

impl From<ColumnFull> for Error {
    fn from(full: ColumnFull) -> Self {
        Error::Limit(
            match full {
                ColumnFull::Text => {
                    "a column holds more than 2 GiB of text in one batch; lower the batch size"
                }
                ColumnFull::Rows => "more than 4 billion rows in one batch",
            }
            .to_string(),
        )
    }
}

/// Kinds of value seen in a column, as bits; typed mode picks a type from their union.
pub(crate) mod kind {
    pub(crate) const BOOL: u16 = 1;
    pub(crate) const INT: u16 = 2;
    pub(crate) const BIGINT: u16 = 4;
    pub(crate) const FLOAT: u16 = 8;
    pub(crate) const STRING: u16 = 16;
    pub(crate) const JSON: u16 = 32;
    /// A float that `f64` cannot hold exactly (the shortest text of the `f64` it
    /// parses to lacks some of its significant digits, or it is out of range).
    pub(crate) const FLOAT_INEXACT: u16 = 64;
    /// An integer beyond ±2^53, which `f64` cannot hold exactly.
    pub(crate) const INT_BEYOND_F64: u16 = 128;
    /// An integer with more than 38 digits, beyond `Decimal128`.
    pub(crate) const BIGINT_BEYOND_DECIMAL: u16 = 256;
}

/// A growing UTF-8 column: Arrow's `StringArray` layout, built in place.
///
/// Rows are written in order but lazily: a row with no value is filled with a null
/// only when a later row (or the end of the batch) is written.
///
/// Nulls are not tracked value by value: a row of no bytes is null unless it is
/// listed in `empty`, the rows holding an empty string (rare: only kept on request).
/// The validity bitmap is made once per batch, from the offsets.
#[derive(Debug)]
pub(crate) struct TextColumn {
    data: Vec<u8>,
    offsets: Vec<i32>,
    /// Rows (ascending) whose value is an empty string, not a null.
    empty: Vec<u32>,
    pub(crate) kinds: u16,
}

impl Default for TextColumn {
    fn default() -> Self {
        TextColumn {
            data: Vec::new(),
            offsets: vec![0],
            empty: Vec::new(),
            kinds: 0,
        }
    }
}

impl TextColumn {
    /// An empty column with room for `rows` rows of `bytes` bytes in all.
    pub(crate) fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        TextColumn {
            data: Vec::with_capacity(bytes),
            offsets,
            empty: Vec::new(),
            kinds: 0,
        }
    }

    /// Room for rows and bytes.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> (usize, usize) {
        (self.offsets.capacity() - 1, self.data.capacity())
    }

    /// Rows and bytes held, for [`SizeHints`].
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.len(), self.data.len())
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Bytes of the values so far.
    pub(crate) fn data_len(&self) -> usize {
        self.data.len()
    }

    /// Bytes held, for batch size accounting.
    pub(crate) fn byte_len(&self) -> usize {
        self.data.len() + self.offsets.len() * 4
    }

    #[inline]
    fn end(&self) -> i32 {
        self.offsets.last().copied().unwrap_or(0)
    }

    /// Fills rows up to (excluding) `row` with nulls.
    #[inline]
    pub(crate) fn pad_to(&mut self, row: usize) {
        if self.len() < row {
            let end = self.end();
            self.offsets.resize(row + 1, end);
        }
    }

    /// Starts the value of `row` and hands out the data buffer to append its bytes to;
    /// finish with [`TextColumn::commit`]. A second value for the same row replaces the
    /// first (duplicate keys: the last one wins).
    #[inline]
    pub(crate) fn begin(&mut self, row: usize) -> &mut Vec<u8> {
        if self.len() > row {
            self.truncate(row);
        }
        self.pad_to(row);
        &mut self.data
    }

    /// Ends the value started by [`TextColumn::begin`].
    #[inline]
    pub(crate) fn commit(&mut self, kinds: u16) -> std::result::Result<(), ColumnFull> {
        let end = i32::try_from(self.data.len()).map_err(|_| ColumnFull::Text)?;
        if end == self.end() {
            self.empty
                .push(u32::try_from(self.len()).map_err(|_| ColumnFull::Rows)?);
        }
        self.offsets.push(end);
        self.kinds |= kinds;
        Ok(())
    }

    /// Drops a value started with [`TextColumn::begin`] but not committed.
    pub(crate) fn abort(&mut self) {
        let end = self.end() as usize;
        self.data.truncate(end);
    }

    /// Writes a whole value for `row`.
    #[inline(always)]
    pub(crate) fn set(
        &mut self,
        row: usize,
        bytes: &[u8],
        kinds: u16,
    ) -> std::result::Result<(), ColumnFull> {
        self.begin(row).extend_from_slice(bytes);
        self.commit(kinds)
    }

    /// [`TextColumn::set`] of a text of known length (an id), copied without a call.
    #[inline]
    pub(crate) fn set_fixed<const N: usize>(
        &mut self,
        row: usize,
        bytes: &[u8; N],
    ) -> std::result::Result<(), ColumnFull> {
        self.begin(row).extend_from_slice(bytes);
        self.commit(kind::STRING)
    }

    /// Writes a null for `row`.
    pub(crate) fn set_null(&mut self, row: usize) {
        if self.len() > row {
            self.truncate(row);
        }
        self.pad_to(row + 1);
    }

    /// Keeps the first `rows` rows (and drops any uncommitted bytes).
    pub(crate) fn truncate(&mut self, rows: usize) {
        if self.len() > rows {
            self.offsets.truncate(rows + 1);
            while self.empty.last().is_some_and(|&r| r as usize >= rows) {
                self.empty.pop();
            }
        }
        let end = self.end() as usize;
        self.data.truncate(end);
    }

    /// The value of `row`, if it was written and is not null.
    pub(crate) fn value(&self, row: usize) -> Option<&[u8]> {
        let start = *self.offsets.get(row)? as usize;
        let end = *self.offsets.get(row + 1)? as usize;
        if start == end && self.empty.binary_search(&u32::try_from(row).ok()?).is_err() {
            return None;
        }
        self.data.get(start..end)
    }

    /// Turns the first `rows` rows into an Arrow array (padding with nulls) and
    /// empties the column for the next batch, keeping its kinds.
    pub(crate) fn finish(&mut self, rows: usize) -> Result<ArrayRef> {
        self.finish_batch(rows, true)
    }

    /// [`finish`](Self::finish) for the last batch of a column: the emptied column
    /// is left without room, sparing two allocations that would only be freed.
    pub(crate) fn finish_last(&mut self, rows: usize) -> Result<ArrayRef> {
        self.finish_batch(rows, false)
    }

    fn finish_batch(&mut self, rows: usize, more: bool) -> Result<ArrayRef> {
        self.pad_to(rows);
        let data_cap = if more { self.data.len() } else { 0 };
        let data = std::mem::replace(&mut self.data, Vec::with_capacity(data_cap));
        let mut offsets = std::mem::take(&mut self.offsets);
        offsets.truncate(rows + 1);
        let nulls = validity(&offsets, &self.empty);
        self.empty.clear();
        // The next batch starts with room for as many rows, unless this one had
        // values in fewer than one row in eight: a sparse column (one of thousands
        // of keys each record picks a few of) would otherwise hold a batch's worth
        // of offsets for every key ever seen.
        let values = rows - nulls.as_ref().map_or(0, NullBuffer::null_count);
        if more {
            let room = if values * 8 >= rows { rows + 1 } else { 1 };
            self.offsets = Vec::with_capacity(room);
        }
        self.offsets.push(0);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let data = Buffer::from_vec(data);
        debug_assert!(std::str::from_utf8(data.as_slice()).is_ok());
        // SAFETY: offsets start at 0, never decrease and end within `data`, because
        // they are only ever pushed as `data.len()` after appending and truncated
        // together with `data`; every committed value is valid UTF-8: text the parser
        // checked (or unescaped from checked text), ASCII number text and literals,
        // compact JSON made of those, and ids (ASCII UUIDs or a generator's `String`).
        // Values are contiguous, so `data` as a whole is valid UTF-8 too.
        let array = unsafe { StringArray::new_unchecked(offsets, data, nulls) };
        Ok(Arc::new(array))
    }
}

/// Rows and bytes of the first batch of each column in the sessions of a processor
/// so far, keyed by table and column path. A column met again in the next chunk
/// starts with that much room: its first batch then grows without copying itself
/// again at every doubling (later batches keep the room of the one before).
#[derive(Debug, Default)]
pub(crate) struct SizeHints(std::sync::RwLock<std::collections::HashMap<String, (usize, usize)>>);

impl SizeHints {
    /// A new column for `key`, with the room its first batch took last time.
    pub(crate) fn column(&self, key: &str) -> TextColumn {
        // Read-locked: the workers of a processor look up every new column of
        // every part here, thousands at once on wide tables.
        let hint = self.0.read().ok().and_then(|sizes| sizes.get(key).copied());
        match hint {
            Some((rows, bytes)) => TextColumn::with_capacity(rows, bytes),
            None => TextColumn::default(),
        }
    }

    /// Remembers the sizes of first batches.
    pub(crate) fn record(&self, sizes: impl IntoIterator<Item = (String, (usize, usize))>) {
        if let Ok(mut all) = self.0.write() {
            all.extend(sizes);
        }
    }
}

/// The key of a column in [`SizeHints`], written into `key` (emptied first).
pub(crate) fn size_key<'k, 'a>(
    key: &'k mut String,
    table: &str,
    column: impl IntoIterator<Item = &'a str>,
) -> &'k str {
    key.clear();
    key.push_str(table);
    for part in column {
        key.push('\u{1f}');
        key.push_str(part);
    }
    key
}

/// The validity of the rows `offsets` delimit: a row of no bytes is null unless it
/// is one of `empty` (ascending). `None` when no row is null.
fn validity(offsets: &[i32], empty: &[u32]) -> Option<NullBuffer> {
    let rows = offsets.len().saturating_sub(1);
    let starts = offsets.get(..rows).unwrap_or_default();
    let ends = offsets.get(1..).unwrap_or_default();
    let words: Vec<u64> = starts
        .chunks(64)
        .zip(ends.chunks(64))
        .map(|(s, e)| {
            s.iter()
                .zip(e)
                .enumerate()
                .fold(0u64, |word, (bit, (s, e))| {
                    word | (u64::from(s != e) << bit)
                })
                // Arrow bitmaps are little-endian.
                .to_le()
        })
        .collect();
    let valid = BooleanBuffer::new(Buffer::from_vec(words), 0, rows);
    let empty = empty
        .get(..empty.partition_point(|&row| (row as usize) < rows))
        .unwrap_or_default();
    if valid.count_set_bits() + empty.len() >= rows {
        // Every row of no bytes is an empty string.
        return None;
    }
    if empty.is_empty() {
        return Some(NullBuffer::new(valid));
    }
    let mut bits = BooleanBufferBuilder::new(rows);
    bits.append_buffer(&valid);
    for &row in empty {
        bits.set_bit(row as usize, true);
    }
    Some(NullBuffer::new(bits.finish()))
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;

    use super::*;

    #[test]
    fn lazy_nulls_duplicates_and_truncation() -> Result<()> {
        let mut c = TextColumn::default();
        c.set(1, b"b", kind::STRING)?;
        c.set(3, b"x", kind::STRING)?;
        c.set(3, b"d", kind::INT)?;
        assert_eq!(c.value(3), Some(&b"d"[..]));
        assert_eq!(c.value(0), None);
        c.set(4, b"gone", kind::STRING)?;
        c.truncate(4);
        let a = c.finish(5)?;
        let a = a.as_any().downcast_ref::<StringArray>().cloned();
        let a = a.ok_or_else(|| Error::Internal("not a string array".into()))?;
        let got: Vec<Option<&str>> = a.iter().collect();
        assert_eq!(got, [None, Some("b"), None, Some("d"), None]);
        assert_eq!(c.len(), 0);
        assert_eq!(c.kinds, kind::STRING | kind::INT);
        Ok(())
    }

    #[test]
    fn empty_strings_stay_apart_from_nulls() -> Result<()> {
        let mut c = TextColumn::default();
        c.set(0, b"", kind::STRING)?;
        c.set_null(1);
        c.set(2, b"x", kind::STRING)?;
        c.set(3, b"", kind::STRING)?;
        c.truncate(3);
        c.set(4, b"", kind::STRING)?;
        assert_eq!(c.value(0), Some(&b""[..]));
        assert_eq!(c.value(1), None);
        assert_eq!(c.value(3), None);
        assert_eq!(c.value(4), Some(&b""[..]));
        let a = c.finish(6)?;
        let a = a.as_any().downcast_ref::<StringArray>().cloned();
        let a = a.ok_or_else(|| Error::Internal("not a string array".into()))?;
        let got: Vec<Option<&str>> = a.iter().collect();
        assert_eq!(got, [Some(""), None, Some("x"), None, Some(""), None]);
        // The next batch starts with no empty strings remembered, and a batch
        // without nulls has no validity bitmap.
        c.set(0, b"y", kind::STRING)?;
        c.set(1, b"", kind::STRING)?;
        let b = c.finish(2)?;
        assert_eq!(b.null_count(), 0);
        assert!(b.logical_nulls().is_none());
        Ok(())
    }
}
