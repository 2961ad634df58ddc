//! JSONL / NDJSON reader: one record per line.
//!
//! Lines holding only whitespace are skipped and take no ordinal; a trailing `\r` is
//! dropped (CRLF files); a last line without a newline counts. A bad line is one bad
//! record, reported by the engine, and in skip mode reading goes on at the next line.

use std::io::BufRead;
use std::sync::Arc;

use transmogrify_core::Position;

use crate::error::Result;
use crate::input::{Input, cut_short};
use crate::reader::{
    Batcher, OVERSIZE_PREFIX, RawBatch, Reader, ReaderOptions, Stepper, next_batch,
};

/// Reads JSONL records from an [`Input`].
pub(crate) struct JsonlReader {
    input: Input,
    source: Arc<str>,
    line: u64,
    offset: u64,
    ordinal: u64,
    line_buf: Vec<u8>,
    /// Bytes of the line being read taken from the input so far (it may hold fewer).
    line_read: usize,
    batcher: Batcher,
    done: bool,
    max_record: u64,
    /// Whether reading ends at a line over `max_record` once past it
    /// ([`ReaderOptions::stop_at_long_record`]).
    stop_at_long: bool,
}

impl JsonlReader {
    pub(crate) fn new(input: Input, options: &ReaderOptions) -> Self {
        JsonlReader {
            source: input.name.clone(),
            input,
            line: 1,
            offset: 0,
            ordinal: 0,
            line_buf: Vec::new(),
            line_read: 0,
            batcher: Batcher::new(options),
            done: false,
            max_record: options.max_record_bytes.max(1),
            stop_at_long: options.stop_at_long_record,
        }
    }

    /// Reads one line into `line_buf`, keeping at most `max_record` bytes of it (or
    /// [`OVERSIZE_PREFIX`], if more, for the raw text of a longer one) and the line
    /// end; returns the length read and the length of its content (without `\n` or
    /// `\r\n`). A line that passes `max_record` bytes of text (not blanks) is read
    /// no further where reading stops at it: then its content's length is the
    /// length read.
    fn read_line(&mut self) -> std::io::Result<(usize, usize)> {
        let cap = usize::try_from(self.max_record)
            .unwrap_or(usize::MAX)
            .max(OVERSIZE_PREFIX)
            .saturating_add(2);
        let mut total = 0;
        self.line_read = 0;
        let mut last = 0u8;
        loop {
            let available = match self.input.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok((total, total));
            }
            let (take, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let before_newline = match take.checked_sub(2) {
                Some(i) => available.get(i).copied().unwrap_or(0),
                None => last,
            };
            last = available.get(take - 1).copied().unwrap_or(0);
            let room = cap.saturating_sub(self.line_buf.len()).min(take);
            self.line_buf
                .extend_from_slice(available.get(..room).unwrap_or_default());
            self.input.reader.consume(take);
            total += take;
            self.line_read = total;
            // Past the limit whatever its line end (`\r\n`) and a byte order mark.
            let past = total as u64 > self.max_record.saturating_add(5);
            if !done && past && self.stop_at_long && !is_blank(&self.line_buf) {
                return Ok((total, total));
            }
            if done {
                let end = if before_newline == b'\r' && total >= 2 {
                    2
                } else {
                    1
                };
                return Ok((total, total - end));
            }
        }
    }

    /// Reads one line into the batch; false at the end of the input.
    fn step(&mut self) -> Result<bool> {
        self.line_buf.clear();
        let (n, content) = match self.read_line() {
            Ok(read) => read,
            Err(e) => {
                // The line read so far, a byte order mark before the first aside.
                let bom = if self.offset == 0 && self.line_buf.starts_with(b"\xEF\xBB\xBF") {
                    3
                } else {
                    0
                };
                let position = Position::line_start(self.ordinal, self.line, self.offset + bom);
                let partial = self.line_buf.get(bom as usize..).unwrap_or_default();
                return Err(cut_short(
                    &self.source,
                    self.input.compression,
                    e,
                    self.offset + self.line_read as u64,
                    position,
                    partial,
                ));
            }
        };
        if n == 0 {
            return Ok(false);
        }
        let start = self.offset;
        let line = self.line;
        self.offset += n as u64;
        self.line += 1;
        let mut text = self.line_buf.as_slice();
        text = text.strip_suffix(b"\n").unwrap_or(text);
        text = text.strip_suffix(b"\r").unwrap_or(text);
        // A byte order mark before the first line: not part of the record (its three
        // bytes count in offsets, not in columns).
        let mut bom = 0;
        if start == 0
            && let Some(rest) = text.strip_prefix(b"\xEF\xBB\xBF")
        {
            text = rest;
            bom = 3;
        }
        if is_blank(text) {
            return Ok(true);
        }
        let position = Position::line_start(self.ordinal, line, start + bom);
        let size = (content - bom as usize) as u64;
        if size > self.max_record {
            // Cut short where reading stops at it (no line end, yet more to read).
            let whole = n > content || self.input.reader.fill_buf().map_or(true, <[u8]>::is_empty);
            let prefix = text.get(..OVERSIZE_PREFIX).unwrap_or(text);
            self.batcher.batch.push_too_large(
                &self.source,
                position,
                (size, whole),
                self.max_record,
                prefix,
            );
            if !whole {
                return Ok(false);
            }
        } else {
            self.batcher.batch.push_record(text, position);
        }
        self.ordinal += 1;
        Ok(true)
    }
}

/// Whether `text` holds only blanks (a line of them is no record).
fn is_blank(text: &[u8]) -> bool {
    text.iter().all(|b| b" \t\r".contains(b))
}

impl Stepper for JsonlReader {
    fn step(&mut self) -> Result<bool> {
        JsonlReader::step(self)
    }

    fn batcher_and_done(&mut self) -> (&mut Batcher, &mut bool) {
        (&mut self.batcher, &mut self.done)
    }
}

impl Iterator for JsonlReader {
    type Item = Result<RawBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        next_batch(self)
    }
}

impl Reader for JsonlReader {
    fn source_name(&self) -> &str {
        &self.source
    }

    fn bytes_read(&self) -> u64 {
        self.input.bytes_read()
    }

    fn total_bytes(&self) -> Option<u64> {
        self.input.total_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use transmogrify_core::RecordErrorKind;

    use crate::reader::RawItem;

    #[test]
    fn an_oversized_line_is_a_bad_record() -> Result<()> {
        let text = format!("{{\"a\":\"{}\"}}\n{{\"b\":1}}", "y".repeat(70_000));
        let input = Input::from_bytes("l.jsonl", text.into_bytes())?;
        let options = ReaderOptions::builder()
            .with_max_record_bytes(1000)
            .build()?;
        let items: Vec<RawItem> = JsonlReader::new(input, &options)
            .map(|b| b.map(|b| b.items))
            .collect::<Result<Vec<_>>>()?
            .concat();
        assert_eq!(items.len(), 2);
        let RawItem::Bad { error, range } = &items[0] else {
            return Err(crate::Error::Internal("expected a bad record".into()));
        };
        assert_eq!(
            error.kind,
            RecordErrorKind::TooLarge {
                size: 70_008,
                limit: 1000,
                whole: true
            }
        );
        // Its first 64 KiB are kept for its raw text, whatever the limit.
        assert_eq!(range.len(), OVERSIZE_PREFIX);
        let RawItem::Record { position, .. } = &items[1] else {
            return Err(crate::Error::Internal("expected a record".into()));
        };
        assert_eq!(
            (position.ordinal, position.line, position.byte_offset),
            (1, 2, 70_009)
        );
        Ok(())
    }
}
