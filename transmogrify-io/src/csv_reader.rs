//! CSV reader: each row becomes a JSON object keyed by the header.
//!
//! Parsing is the `csv` crate's. The bytes it reads pass through a small quote
//! tracker, because the parser accepts a quote left open at the end of the input as
//! if it were closed; the tracker turns that into an error naming where the quote
//! opened. A quoted field that runs on past the largest record is read past by the
//! tracker alone (the parser is handed what ends the row instead), so that a quote
//! that never closes costs no more memory than the largest record.

use std::io::{BufRead, Read};
use std::sync::Arc;

use transmogrify_core::{Position, RecordError, RecordErrorKind};

use crate::error::{Error, Result};
use crate::input::{Compression, Input, cut_short, read_error};
use crate::json_text::{is_json_number, json_key, push_json_string};
use crate::reader::{Batcher, RawBatch, Reader, ReaderOptions, Stepper, next_batch};

/// Default field delimiter.
pub const DEFAULT_CSV_DELIMITER: u8 = b',';
/// Default quote character.
pub const DEFAULT_CSV_QUOTE: u8 = b'"';

/// Options of the CSV reader.
///
/// ```
/// use transmogrify_io::CsvOptions;
/// let options = CsvOptions::default()
///     .with_delimiter(b';')
///     .with_null_values(["", "NA"])
///     .with_skip_rows(2);
/// assert_eq!(options.delimiter(), b';');
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// `None`: `,`, or a tab for a `.tsv` file.
    delimiter: Option<u8>,
    quote: u8,
    has_header: bool,
    null_values: Vec<String>,
    skip_rows: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: None,
            quote: DEFAULT_CSV_QUOTE,
            has_header: true,
            null_values: vec![String::new()],
            skip_rows: 0,
        }
    }
}

impl CsvOptions {
    /// The field delimiter. Defaults to [`DEFAULT_CSV_DELIMITER`] (`,`), or a tab
    /// for a file whose name ends in `.tsv` (before `.gz` or `.zst`).
    #[must_use]
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = Some(delimiter);
        self
    }

    /// The quote character (doubled inside a quoted field). Defaults to
    /// [`DEFAULT_CSV_QUOTE`] (`"`).
    #[must_use]
    pub fn with_quote(mut self, quote: u8) -> Self {
        self.quote = quote;
        self
    }

    /// Whether the first row (after `skip_rows`) names the columns; without a header
    /// columns are named `column_1`, `column_2`, …. Defaults to `true`.
    #[must_use]
    pub fn with_has_header(mut self, yes: bool) -> Self {
        self.has_header = yes;
        self
    }

    /// Cell texts read as null. Defaults to the empty string only.
    #[must_use]
    pub fn with_null_values<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        values: I,
    ) -> Self {
        self.null_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Lines skipped before the header (or the first row). Defaults to 0.
    #[must_use]
    pub fn with_skip_rows(mut self, n: usize) -> Self {
        self.skip_rows = n;
        self
    }

    /// The field delimiter set ([`DEFAULT_CSV_DELIMITER`] if none was; see
    /// [`delimiter_for`](Self::delimiter_for)).
    pub fn delimiter(&self) -> u8 {
        self.delimiter.unwrap_or(DEFAULT_CSV_DELIMITER)
    }

    /// The field delimiter of the file named `name`: the one set, else a tab for a
    /// `.tsv` file (compressed too) and [`DEFAULT_CSV_DELIMITER`] for any other.
    ///
    /// ```
    /// use transmogrify_io::CsvOptions;
    /// assert_eq!(CsvOptions::default().delimiter_for("people.tsv.gz"), b'\t');
    /// assert_eq!(CsvOptions::default().delimiter_for("people.csv"), b',');
    /// assert_eq!(CsvOptions::default().with_delimiter(b';').delimiter_for("people.tsv"), b';');
    /// ```
    pub fn delimiter_for(&self, name: &str) -> u8 {
        self.delimiter.unwrap_or_else(|| {
            let lower = name.to_ascii_lowercase();
            if crate::input::without_compression(&lower).ends_with(".tsv") {
                b'\t'
            } else {
                DEFAULT_CSV_DELIMITER
            }
        })
    }

    /// These options as the file named `name` is read with: its delimiter decided
    /// ([`delimiter_for`](Self::delimiter_for)).
    pub(crate) fn for_file(&self, name: &str) -> CsvOptions {
        CsvOptions {
            delimiter: Some(self.delimiter_for(name)),
            ..self.clone()
        }
    }

    /// The quote character.
    pub fn quote(&self) -> u8 {
        self.quote
    }

    /// Whether the first row names the columns.
    pub fn has_header(&self) -> bool {
        self.has_header
    }

    /// Lines skipped before the header (or the first row).
    pub fn skip_rows(&self) -> usize {
        self.skip_rows
    }

    /// Cell texts read as null.
    pub fn null_values(&self) -> &[String] {
        &self.null_values
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |option, reason: &str| {
            Err(Error::InvalidOption {
                option,
                reason: reason.to_string(),
            })
        };
        if !self.delimiter().is_ascii() {
            return bad("csv delimiter", "must be an ASCII character");
        }
        if !self.quote.is_ascii() {
            return bad("csv quote", "must be an ASCII character");
        }
        if self.delimiter() == self.quote {
            return bad("csv delimiter", "must differ from the quote character");
        }
        if matches!(self.delimiter(), b'\n' | b'\r') {
            return bad("csv delimiter", "a line break cannot delimit fields");
        }
        if matches!(self.quote, b'\n' | b'\r') {
            return bad("csv quote", "a line break cannot quote fields");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    StartField,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Follows quoting over every byte the parser reads.
struct QuoteTracker {
    state: QuoteState,
    delimiter: u8,
    quote: u8,
    offset: u64,
    line: u64,
    /// Characters of the current line so far.
    col: u64,
    /// The last byte fed (none before the first).
    last: Option<u8>,
    /// (offset, line, column) of the first byte of each sequence that is not UTF-8,
    /// from the oldest record not yet emitted on (bad rows are rare: in a file that is
    /// not UTF-8 at all, a few per row of the bytes read ahead).
    bad_utf8: std::collections::VecDeque<(u64, u64, u64)>,
    /// The start of a character cut by the end of the bytes fed, and its offset.
    utf8_carry: (Vec<u8>, u64),
    /// (offset, line, column) of each byte that follows a field's closing quote
    /// without ending the field (`"x"y`), from the oldest record not yet emitted on.
    stray: std::collections::VecDeque<(u64, u64, u64)>,
    /// Line, column and offset of the last opening quote.
    opened: (u64, u64, u64),
    /// (offset, line) of line starts outside quotes not yet claimed by a record: the
    /// parser skips blank lines without counting them, so lines are counted here.
    line_starts: std::collections::VecDeque<(u64, u64)>,
    /// A line start seen, kept back until the line proves not to be blank.
    pending_line: Option<(u64, u64)>,
    /// A carriage return ended the bytes fed, and whether it was inside quotes: a
    /// line break unless a line feed follows (a lone CR ends a line, as it ends a
    /// row for the parser).
    cr_pending: Option<bool>,
    /// The last line that holds more than line breaks.
    content_line: u64,
    /// Where the current row starts: after the last line break outside quotes (a
    /// CR that ended the bytes fed is not counted yet).
    row_start: u64,
}

impl QuoteTracker {
    /// Notes where `bytes` (fed next; none at the end of the input) are not UTF-8,
    /// before [`feed`](Self::feed) moves the line and column past them.
    fn note_bad_utf8(&mut self, bytes: &[u8]) {
        let base = self.offset;
        if bytes.is_empty() {
            // The input ends inside a character.
            let (carry, at) = std::mem::take(&mut self.utf8_carry);
            if !carry.is_empty() {
                self.bad_cut_character(&carry, at);
            }
            return;
        }
        // Where to go on from in `bytes`, past the end of a character the last read
        // cut.
        let mut from = 0;
        if !self.utf8_carry.0.is_empty() {
            let (mut carry, at) = std::mem::take(&mut self.utf8_carry);
            let cut = carry.len();
            let take = bytes.len().min(4 - cut.min(4));
            carry.extend_from_slice(bytes.get(..take).unwrap_or_default());
            match std::str::from_utf8(&carry) {
                Err(e) if e.valid_up_to() == 0 => match e.error_len() {
                    // Still cut (this read was that short): wait for more.
                    None => {
                        self.utf8_carry = (carry, at);
                        return;
                    }
                    Some(n) => {
                        self.bad_cut_character(carry.get(..cut).unwrap_or_default(), at);
                        from = n.saturating_sub(cut);
                    }
                },
                // The character is whole: its length by its first byte.
                _ => {
                    let len = match carry.first() {
                        Some(&b) if b >= 0xF0 => 4,
                        Some(&b) if b >= 0xE0 => 3,
                        _ => 2,
                    };
                    from = len - cut;
                }
            }
        }
        // (index in `bytes`, line, characters of the line before the index)
        let mut cursor = (
            from,
            self.line,
            self.col + chars(bytes.get(..from).unwrap_or_default()),
        );
        if self.cr_pending.is_some() && bytes.first() != Some(&b'\n') {
            // A lone CR ended the last bytes (no character was cut there).
            cursor = (0, self.line + 1, 0);
        }
        while let Some(rest) = bytes.get(cursor.0..) {
            let Err(e) = std::str::from_utf8(rest) else {
                return;
            };
            let at = cursor.0 + e.valid_up_to();
            let seg = bytes.get(cursor.0..at).unwrap_or_default();
            // The bad byte after `seg` is no line feed: a CR ending it is lone.
            match line_breaks(seg, bytes.get(at).copied()) {
                (n, Some(j)) => {
                    cursor.1 += n;
                    cursor.2 = chars(seg.get(j..).unwrap_or_default());
                }
                (_, None) => cursor.2 += chars(seg),
            }
            let Some(n) = e.error_len() else {
                // A character cut by the end of these bytes: judged with the next.
                let tail = bytes.get(at..).unwrap_or_default().to_vec();
                self.utf8_carry = (tail, base + at as u64);
                return;
            };
            self.bad_utf8
                .push_back((base + at as u64, cursor.1, cursor.2 + 1));
            cursor.2 += chars(bytes.get(at..at + n).unwrap_or_default());
            cursor.0 = at + n;
        }
    }

    /// Notes the bad character `cut` at offset `at`, the last bytes fed: no line
    /// break in them, and the column counted their first.
    fn bad_cut_character(&mut self, cut: &[u8], at: u64) {
        let column = (self.col + 1).saturating_sub(chars(cut));
        self.bad_utf8.push_back((at, self.line, column));
    }

    /// Whether `c`, after a field's closing quote, ends the field.
    fn ends_field(&self, c: u8) -> bool {
        c == self.delimiter || c == b'\n' || c == b'\r'
    }

    /// Lets go of the bad bytes and stray quotes noted before offset `start`, where
    /// the next record begins (records come in order), so that neither list grows
    /// with the input whatever rows are refused on other grounds.
    fn let_go(&mut self, start: u64) {
        for list in [&mut self.bad_utf8, &mut self.stray] {
            while list.front().is_some_and(|&(at, _, _)| at < start) {
                list.pop_front();
            }
        }
    }

    /// Follows `bytes`, from one line break or quote to the next: the bytes between
    /// change nothing but the column, counted only where a quote opens and at the end.
    fn feed(&mut self, bytes: &[u8]) {
        let base = self.offset;
        // The current line's characters before `counted` (a place in `bytes`).
        let (mut counted, mut line_chars) = (0, self.col);
        let mut i = 0;
        if let Some(quoted) = self.cr_pending.take_if(|_| !bytes.is_empty())
            && bytes.first() != Some(&b'\n')
        {
            // The carriage return that ended the last bytes was a line break.
            self.line += 1;
            line_chars = 0;
            if !quoted {
                self.pending_line = Some((base, self.line));
                self.row_start = base;
            }
        }
        if self.state == QuoteState::QuoteInQuoted {
            // A quote ended the previous bytes inside quotes: doubled, or the closing one.
            match bytes.first() {
                Some(&c) if c == self.quote => {
                    self.state = QuoteState::Quoted;
                    i = 1;
                }
                Some(&c) => {
                    if !self.ends_field(c) {
                        self.stray.push_back((base, self.line, self.col + 1));
                    }
                    self.state = QuoteState::Unquoted;
                }
                None => {}
            }
        }
        // Bytes since the last event, not yet looked at for a blank line.
        let mut unseen = i;
        while let Some(k) =
            memchr::memchr3(self.quote, b'\n', b'\r', bytes.get(i..).unwrap_or_default())
        {
            let at = i + k;
            let between = bytes.get(unseen..at).unwrap_or_default();
            if !between.is_empty() {
                self.line_not_blank();
            }
            let quoted = self.state == QuoteState::Quoted;
            if bytes.get(at) == Some(&b'\r') {
                match bytes.get(at + 1) {
                    // A CRLF: the line feed breaks the line.
                    Some(b'\n') => {}
                    // A lone CR breaks it.
                    Some(_) => {
                        self.line += 1;
                        line_chars = 0;
                        counted = at + 1;
                        if !quoted {
                            self.pending_line = Some((base + at as u64 + 1, self.line));
                            self.row_start = base + at as u64 + 1;
                        }
                    }
                    // The next bytes tell.
                    None => self.cr_pending = Some(quoted),
                }
                i = at + 1;
            } else if bytes.get(at) == Some(&b'\n') {
                self.line += 1;
                (counted, line_chars) = (at + 1, 0);
                if !quoted {
                    self.pending_line = Some((base + at as u64 + 1, self.line));
                    self.row_start = base + at as u64 + 1;
                }
                i = at + 1;
            } else {
                self.line_not_blank();
                if quoted {
                    match bytes.get(at + 1) {
                        Some(&c) if c == self.quote => i = at + 2,
                        Some(&c) => {
                            if !self.ends_field(c) {
                                line_chars += chars(bytes.get(counted..at + 1).unwrap_or_default());
                                counted = at + 1;
                                self.stray.push_back((
                                    base + at as u64 + 1,
                                    self.line,
                                    line_chars + 1,
                                ));
                            }
                            self.state = QuoteState::Unquoted;
                            i = at + 1;
                        }
                        None => {
                            self.state = QuoteState::QuoteInQuoted;
                            i = at + 1;
                        }
                    }
                } else {
                    let before = match at.checked_sub(1) {
                        Some(j) => bytes.get(j).copied(),
                        None => self.last,
                    };
                    if before.is_none_or(|c| c == self.delimiter || c == b'\n' || c == b'\r') {
                        line_chars += chars(bytes.get(counted..at).unwrap_or_default());
                        counted = at;
                        self.opened = (self.line, line_chars + 1, base + at as u64);
                        self.state = QuoteState::Quoted;
                    }
                    i = at + 1;
                }
            }
            unseen = i;
        }
        if !bytes.get(unseen..).unwrap_or_default().is_empty() {
            self.line_not_blank();
        }
        self.col = line_chars + chars(bytes.get(counted..).unwrap_or_default());
        self.offset = base + bytes.len() as u64;
        self.last = bytes.last().copied().or(self.last);
        if matches!(self.state, QuoteState::StartField | QuoteState::Unquoted) {
            self.state = match self.last {
                Some(c) if c != self.delimiter && c != b'\n' && c != b'\r' => QuoteState::Unquoted,
                _ => QuoteState::StartField,
            };
        }
    }

    /// The line start kept back is a record's: its line holds more than line breaks.
    fn line_not_blank(&mut self) {
        self.content_line = self.line;
        if let Some(start) = self.pending_line.take() {
            self.line_starts.push_back(start);
        }
    }
}

/// The first of `noted` (offset, line, column), from the oldest on, before `end`, as
/// a position of record `ordinal`.
fn first_at(
    noted: &std::collections::VecDeque<(u64, u64, u64)>,
    end: Option<u64>,
    ordinal: u64,
) -> Option<Position> {
    let &(byte_offset, line, column) = noted.front()?;
    end.is_none_or(|end| byte_offset < end).then_some(Position {
        ordinal,
        line,
        column,
        byte_offset,
    })
}

/// Reads past a UTF-8 byte order mark at the start of `reader`, if there is one:
/// the bytes read past (3 or 0). It is not part of the first line's first field
/// (where it would hide the quote opening the field), and takes no column.
pub(crate) fn skip_bom(reader: &mut dyn BufRead) -> std::io::Result<u64> {
    let head = loop {
        match reader.fill_buf() {
            Ok(head) => break head,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    if head.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
        return Ok(3);
    }
    Ok(0)
}

/// Reads past one line of `reader`, to its line feed, CRLF or lone CR (or the end),
/// without holding it: the bytes read past (0 at the end). Every byte read past is
/// also added to `offset` as it goes, so that where a read fails, `offset` is where
/// the data that could be read ended.
pub(crate) fn skip_line(reader: &mut dyn BufRead, offset: &mut u64) -> std::io::Result<u64> {
    let mut n = 0u64;
    let mut take = |reader: &mut dyn BufRead, k: usize, n: &mut u64| {
        reader.consume(k);
        *n += k as u64;
        *offset += k as u64;
    };
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(n);
        }
        match memchr::memchr2(b'\n', b'\r', buf) {
            Some(i) => {
                let cr = buf.get(i) == Some(&b'\r');
                take(reader, i + 1, &mut n);
                // A CR's line feed, if one follows, is its line's too.
                if cr {
                    loop {
                        match reader.fill_buf() {
                            Ok(next) => {
                                if next.first() == Some(&b'\n') {
                                    take(reader, 1, &mut n);
                                }
                                break;
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                return Ok(n);
            }
            None => {
                let len = buf.len();
                take(reader, len, &mut n);
            }
        }
    }
}

/// `bytes` without the line breaks that end them.
fn without_line_breaks(bytes: &[u8]) -> &[u8] {
    let text = bytes.len()
        - bytes
            .iter()
            .rev()
            .take_while(|&&c| c == b'\n' || c == b'\r')
            .count();
    bytes.get(..text).unwrap_or_default()
}

/// The line breaks in `seg` (a line feed, a CRLF, a lone CR), `next` being the byte
/// after it, and where the line after the last of them starts.
fn line_breaks(seg: &[u8], next: Option<u8>) -> (u64, Option<usize>) {
    let (mut n, mut last) = (0, None);
    for i in memchr::memchr2_iter(b'\n', b'\r', seg) {
        let lone_cr = seg.get(i) == Some(&b'\r') && seg.get(i + 1).copied().or(next) != Some(b'\n');
        if seg.get(i) == Some(&b'\n') || lone_cr {
            n += 1;
            last = Some(i + 1);
        }
    }
    (n, last)
}

/// Characters in `bytes`: every byte that does not continue a multi-byte sequence.
fn chars(bytes: &[u8]) -> u64 {
    // Byte-wide sums over blocks that cannot overflow them vectorize best.
    bytes
        .chunks(255)
        .map(|block| {
            let n = block
                .iter()
                .fold(0u8, |n, &c| n + u8::from((c & 0xC0) != 0x80));
            u64::from(n)
        })
        .sum()
}

impl QuoteTracker {
    /// The (offset, line) of the record the parser places at `offset`: the parser's
    /// offset includes blank lines skipped before the record.
    fn line_at(&mut self, offset: u64) -> Option<(u64, u64)> {
        while let Some(&(at, line)) = self.line_starts.front() {
            if at < offset {
                self.line_starts.pop_front();
            } else {
                return Some((at, line));
            }
        }
        None
    }
}

/// The bytes the parser reads, followed by the quote tracker and kept in the raw
/// window on the way. A row that grows past the largest record is read past here,
/// so that the parser never holds more than about that much of a row.
struct Tee {
    inner: Box<dyn BufRead + Send>,
    tracker: QuoteTracker,
    window: RawWindow,
    /// The first bytes of the current row (from its offset), taken when they leave
    /// the window: a row too long for the window still has its head at hand.
    head: Option<(u64, Vec<u8>)>,
    /// The largest record, in bytes ([`ReaderOptions::max_record_bytes`]).
    limit: u64,
    /// Bytes for the parser that did not come from the input: what ends a row read
    /// past (a closing quote if a field's quote is open, and a line break).
    made: &'static [u8],
    /// Bytes of the input read past the end of a row read past, not yet fed.
    left: Vec<u8>,
    /// A row read past, not yet claimed by the reader.
    overrun: Option<Overrun>,
    /// Whether a row longer than the largest record ends the input where it
    /// passes it, rather than being read past
    /// ([`ReaderOptions::stop_at_long_record`]).
    stop: bool,
    /// Whether the input ended so, at a row cut short.
    stopped: bool,
}

/// A row longer than the largest record, read past by a [`Tee`].
#[derive(Debug, Clone, Copy)]
struct Overrun {
    /// Bytes of the input the parser did not see, less the bytes made for it.
    shift: u64,
    /// Where the row's bytes end (its line break, or the end of the input).
    end: u64,
    /// Whether the input ended inside the row's open quote.
    at_end: bool,
    /// Whether the row was cut short where it passed the largest record, the
    /// input read no further.
    cut: bool,
}

/// What the parser reads before the input: a record of its own (see
/// [`CsvReader::build`]).
const PRIMER: &[u8] = b"_\n";

/// Bytes of a row kept for its raw text when it is too large to be a record.
const HEAD: usize = crate::reader::OVERSIZE_PREFIX;

impl Tee {
    /// Feeds `bytes`, the next of the input, to the tracker and the raw window,
    /// keeping the current row's head if it is about to leave the window.
    fn take_in(&mut self, bytes: &[u8]) {
        let row = self.tracker.row_start;
        if self.window.would_drop(row, bytes.len()) {
            self.keep_head();
        }
        self.window.add(self.tracker.offset, bytes);
        self.tracker.note_bad_utf8(bytes);
        self.tracker.feed(bytes);
    }

    /// Takes the current row's head from the window, unless it is taken already.
    fn keep_head(&mut self) {
        let row = self.tracker.row_start;
        if self.head.as_ref().is_some_and(|(at, _)| *at == row) {
            return;
        }
        let end = row.saturating_add(HEAD as u64).min(self.tracker.offset);
        if let Some(bytes) = self.window.get(row, end) {
            self.head = Some((row, bytes));
        }
    }

    /// The first bytes of the row from `start` to `end` as written (up to [`HEAD`]
    /// of them), if they are still at hand.
    fn row_head(&self, start: u64, end: u64) -> Option<Vec<u8>> {
        let end = end.min(start.saturating_add(HEAD as u64));
        if let Some(bytes) = self.window.get(start, end) {
            return Some(bytes);
        }
        let (at, head) = self.head.as_ref().filter(|(at, _)| *at <= start)?;
        let from = usize::try_from(start - at).ok()?;
        let to = usize::try_from(end - at).ok()?;
        head.get(from..to).map(<[u8]>::to_vec)
    }

    /// Whether the parser, which has taken every byte so far, is in a row longer
    /// than the largest record.
    fn row_too_long(&self) -> bool {
        let t = &self.tracker;
        // A CR outside quotes that ended the bytes fed ended the row.
        t.cr_pending != Some(false) && t.offset.saturating_sub(t.row_start) > self.limit
    }

    /// Reads past the rest of a row already longer than the largest record,
    /// following its quotes to its line break outside them (or to the end of the
    /// input), and leaves what ends the row for the parser.
    fn read_past(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.keep_head();
        let t = &mut self.tracker;
        let from = t.offset;
        // Whether the head kept runs to here: it then grows with what is read past.
        let grow = self
            .head
            .as_ref()
            .is_some_and(|(at, head)| *at == t.row_start && at + head.len() as u64 == from);
        // What the parser needs to end the row where it stands.
        self.made = match t.state {
            QuoteState::Quoted => b"\"\n",
            _ => b"\n",
        };
        if self.stop {
            self.overrun = Some(Overrun {
                shift: 0,
                end: from,
                at_end: false,
                cut: true,
            });
            self.stopped = true;
            return Ok(());
        }
        loop {
            let n = match self.inner.read(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let t = &mut self.tracker;
            let bytes = buf.get(..n).unwrap_or_default();
            if bytes.is_empty() {
                // The end of the input: inside quotes, a quote that never closed
                // (the reader tells); otherwise the row simply ends here.
                let at_end = matches!(t.state, QuoteState::Quoted);
                self.made = if at_end { b"" } else { self.made };
                self.overrun = Some(Overrun {
                    shift: (t.offset - from).saturating_sub(self.made.len() as u64),
                    end: t.offset,
                    at_end,
                    cut: false,
                });
                return Ok(());
            }
            // The row's head grows to its full length from what is read past.
            if let Some((_, head)) = self.head.as_mut().filter(|_| grow) {
                let more = HEAD.saturating_sub(head.len()).min(bytes.len());
                head.extend_from_slice(bytes.get(..more).unwrap_or_default());
            }
            // Line by line, to the first line break outside quotes.
            let mut start = 0;
            for at in memchr::memchr2_iter(b'\n', b'\r', bytes) {
                let line_end = t.offset + (at - start) as u64;
                t.feed(bytes.get(start..=at).unwrap_or_default());
                start = at + 1;
                if t.row_start == t.offset || t.cr_pending == Some(false) {
                    self.left = bytes.get(start..).unwrap_or_default().to_vec();
                    self.overrun = Some(Overrun {
                        shift: (t.offset - from).saturating_sub(self.made.len() as u64),
                        end: line_end,
                        at_end: false,
                        cut: false,
                    });
                    // No character is cut at a line break.
                    t.utf8_carry = Default::default();
                    return Ok(());
                }
            }
            t.feed(bytes.get(start..).unwrap_or_default());
        }
    }
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stopped && self.made.is_empty() {
            return Ok(0);
        }
        if self.made.is_empty()
            && self.left.is_empty()
            && self.overrun.is_none()
            && self.row_too_long()
        {
            self.read_past(buf)?;
        }
        if !self.made.is_empty() {
            let n = self.made.len().min(buf.len());
            buf.get_mut(..n)
                .unwrap_or_default()
                .copy_from_slice(self.made.get(..n).unwrap_or_default());
            self.made = self.made.get(n..).unwrap_or_default();
            return Ok(n);
        }
        let n = if self.left.is_empty() {
            self.inner.read(buf)?
        } else {
            let n = self.left.len().min(buf.len());
            buf.get_mut(..n)
                .unwrap_or_default()
                .copy_from_slice(self.left.get(..n).unwrap_or_default());
            self.left.drain(..n);
            n
        };
        let bytes = buf.get(..n).unwrap_or_default();
        self.take_in(bytes);
        Ok(n)
    }
}

/// The last bytes read, so that a row that may be bad can take its bytes as written
/// when it is read (the parser's fields lose its quoting: `"x"y` reads as `xy`).
/// A ring of at most [`RAW_WINDOW`] bytes: a row of up to [`RAW_ROW`] bytes is
/// always in it when read, whatever came before.
struct RawWindow {
    bytes: std::collections::VecDeque<u8>,
    /// Offset in the input of `bytes[0]`.
    start: u64,
}

/// What a CSV reader saw of a row as it read it.
enum Seen {
    /// Nothing a bad row has.
    Clean,
    /// Something a bad row has, and the row's bytes if they were kept.
    Suspect(Option<Vec<u8>>),
    /// Longer than the largest record: its size (line break aside), or the bytes
    /// of it read if it was cut short (`whole` false), and its first bytes.
    TooLarge {
        size: u64,
        whole: bool,
        head: Vec<u8>,
    },
}

/// The longest row whose raw text is its bytes as written (a longer one's is made
/// from its fields).
const RAW_ROW: usize = 1 << 20;

/// Bytes a [`RawWindow`] keeps: a row of [`RAW_ROW`] bytes and the parser's reads
/// around it.
const RAW_WINDOW: usize = RAW_ROW + 2 * crate::input::BUFFER_SIZE;

impl RawWindow {
    fn new(start: u64) -> Self {
        RawWindow {
            bytes: std::collections::VecDeque::new(),
            start,
        }
    }

    /// Takes `data`, read at offset `at` (where the last bytes ended), letting the
    /// oldest bytes go past [`RAW_WINDOW`].
    fn add(&mut self, at: u64, data: &[u8]) {
        if at != self.start + self.bytes.len() as u64 {
            self.bytes.clear();
            self.start = at;
        }
        self.bytes.extend(data);
        let over = self.bytes.len().saturating_sub(RAW_WINDOW);
        self.bytes.drain(..over);
        self.start = at + data.len() as u64 - self.bytes.len() as u64;
    }

    /// Whether adding `n` bytes drops the byte at `offset`, which is here.
    fn would_drop(&self, offset: u64, n: usize) -> bool {
        let over = (self.bytes.len() + n).saturating_sub(RAW_WINDOW) as u64;
        offset >= self.start && offset < self.start + over
    }

    /// Lets go of the bytes before offset `offset`.
    fn let_go(&mut self, offset: u64) {
        let dead = offset.saturating_sub(self.start);
        let dead = usize::try_from(dead)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        self.bytes.drain(..dead);
        self.start += dead as u64;
    }

    /// Bytes `from..to` of the input, if they are all here.
    fn get(&self, from: u64, to: u64) -> Option<Vec<u8>> {
        let at = usize::try_from(from.checked_sub(self.start)?).ok()?;
        let end = usize::try_from(to.checked_sub(self.start)?).ok()?;
        if at > end || end > self.bytes.len() {
            return None;
        }
        Some(self.bytes.range(at..end).copied().collect())
    }
}

/// Reads CSV rows from an [`Input`] as JSON object records.
pub(crate) struct CsvReader {
    source: Arc<str>,
    compression: Compression,
    counter: Arc<std::sync::atomic::AtomicU64>,
    total: Option<u64>,
    reader: csv::Reader<Tee>,
    /// Column names, already JSON-quoted (`"name":`).
    /// Shared by the readers of one file's ranges.
    keys: Arc<Vec<Vec<u8>>>,
    /// The header's column names, as written (empty without a header, and in the
    /// readers of a file's later ranges).
    names: Vec<String>,
    has_header: bool,
    null_values: Vec<Vec<u8>>,
    /// Whether null cells are left out of the records (see
    /// [`ReaderOptions::skip_null`](crate::ReaderOptions::skip_null)).
    skip_null: bool,
    infer: bool,
    delimiter: u8,
    quote: u8,
    skipped_bytes: u64,
    skipped_lines: u64,
    ordinal: u64,
    record: csv::ByteRecord,
    /// The row read last, not yet emitted, and what was seen of it as it was read.
    pending: Option<(csv::ByteRecord, Position, Seen)>,
    batcher: Batcher,
    done: bool,
    /// The start of the header as text (an excerpt, and its fields as they would be
    /// written), where a quote was still open after it: if no row follows, the quote
    /// never closed and the header took the whole input.
    open_header: Option<(String, Vec<u8>)>,
    /// Where the header starts in the input (after the lines skipped).
    skipped_header_start: u64,
}

impl CsvReader {
    pub(crate) fn new(input: Input, options: &ReaderOptions) -> Result<Self> {
        let mut input = input;
        let csv_options = &options.csv;
        let mut skipped_bytes = skip_bom(&mut input.reader)
            .map_err(|e| read_error(&input.name, input.compression, e, 0))?;
        let mut skipped_lines = 0u64;
        for _ in 0..csv_options.skip_rows {
            // A failed read names where the data ended, not the line's start.
            let mut read = skipped_bytes;
            let n = skip_line(&mut input.reader, &mut read)
                .map_err(|e| read_error(&input.name, input.compression, e, read))?;
            if n == 0 {
                break;
            }
            skipped_bytes += n;
            skipped_lines += 1;
        }
        let mut reader =
            CsvReader::build(input, options, Arc::default(), skipped_bytes, skipped_lines);
        if csv_options.has_header {
            let mut header = csv::ByteRecord::new();
            let got = match reader.reader.read_byte_record(&mut header) {
                Ok(got) => got,
                Err(e) => {
                    // A failed read names where the data it could read ended.
                    let at = if e.is_io_error() {
                        reader.reader.get_ref().tracker.offset
                    } else {
                        skipped_bytes
                    };
                    let line = skipped_lines + 1;
                    return Err(csv_error(&reader.source, reader.compression, e, at, line));
                }
            };
            // Where the header ends (its line break aside), as the rows are measured.
            // (A quote in it that never closes is told below, once rows are read.)
            let (mut header_end, mut open, mut whole) = (None, false, true);
            if let Some(overrun) = reader.reader.get_mut().overrun.take() {
                reader.skipped_bytes += overrun.shift;
                header_end = Some(overrun.end);
                open = overrun.at_end;
                whole = !overrun.cut;
            }
            let end = reader.parser_offset();
            let header_end = header_end.unwrap_or_else(|| end - reader.break_before(end));
            let limit = reader.reader.get_ref().limit;
            if header_end - skipped_bytes > limit && got && !open {
                // A header longer than the largest record: no row is read without it.
                let head = reader
                    .reader
                    .get_ref()
                    .row_head(skipped_bytes, header_end)
                    .unwrap_or_default();
                let error = RecordError {
                    source_name: reader.source.clone(),
                    position: Position::line_start(0, skipped_lines + 1, skipped_bytes),
                    kind: RecordErrorKind::TooLarge {
                        size: header_end - skipped_bytes,
                        limit,
                        whole,
                    },
                    excerpt: transmogrify_core::excerpt(&head, 0),
                };
                return Err(bad_header(error, head));
            }
            if got {
                let start = Position::line_start(0, skipped_lines + 1, skipped_bytes);
                // The header as written (as its fields make it, should it be gone).
                let raw = |reader: &CsvReader| {
                    reader
                        .reader
                        .get_ref()
                        .row_head(skipped_bytes, header_end)
                        .unwrap_or_else(|| reader.raw_text(&header, false, HEAD))
                };
                let tracker = &mut reader.reader.get_mut().tracker;
                tracker.let_go(skipped_bytes);
                let stray = first_at(&tracker.stray, Some(header_end), 0);
                let names = header.iter().position(|f| std::str::from_utf8(f).is_err());
                let failure = match (names, stray) {
                    // Names that are not text: refused rather than changed.
                    (Some(i), _) => Some((
                        first_at(&tracker.bad_utf8, None, 0).unwrap_or(start),
                        format!("the header's field {} is not valid UTF-8", i + 1),
                    )),
                    // `"a"b`: refused, as in a row, rather than read as `ab`.
                    (None, Some(at)) => Some((
                        at,
                        "text after a field's closing quote in the header (a quote inside \
                         a quoted field is written twice)"
                            .to_string(),
                    )),
                    (None, None) => None,
                };
                if let Some((position, message)) = failure {
                    let raw = raw(&reader);
                    let error = RecordError {
                        source_name: reader.source.clone(),
                        position,
                        kind: RecordErrorKind::Input(message),
                        excerpt: transmogrify_core::excerpt(&raw, 0),
                    };
                    return Err(bad_header(error, raw));
                }
                if reader.reader.get_ref().tracker.state == QuoteState::Quoted {
                    // Its last field after its opening quote, as it stands in the input.
                    let raw = reader.raw_text(&header, true, HEAD);
                    reader.open_header = Some((transmogrify_core::excerpt(&raw, 0), raw));
                }
                reader.names = header_names(&header);
                reader.keys = Arc::new(header_keys(&header));
            }
        }
        Ok(reader)
    }

    /// Fails where the header's quote opened if it never closed (the header took
    /// every row); reads the first row to tell, where a quote was open after it.
    pub(crate) fn check_header(&mut self) -> Result<()> {
        if self.open_header.is_some() {
            self.step()?;
        }
        Ok(())
    }

    /// The header's column names (none without a header).
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// A reader of rows that continue a file after its header: `input` holds the
    /// file's bytes from `offset` (the start of line `line`) on, the first of them
    /// record `ordinal`, and `keys` are the header's (empty without one).
    pub(crate) fn continuing(
        input: Input,
        options: &ReaderOptions,
        keys: Arc<Vec<Vec<u8>>>,
        (offset, line): (u64, u64),
        ordinal: u64,
    ) -> Self {
        let mut reader = CsvReader::build(input, options, keys, offset, line.saturating_sub(1));
        reader.ordinal = ordinal;
        reader
    }

    /// The header's keys, already JSON-quoted (`"name":`).
    pub(crate) fn keys(&self) -> Arc<Vec<Vec<u8>>> {
        self.keys.clone()
    }

    /// A reader of `input` whose first byte is byte `skipped_bytes` of the source and
    /// starts line `skipped_lines + 1`.
    fn build(
        input: Input,
        options: &ReaderOptions,
        keys: Arc<Vec<Vec<u8>>>,
        skipped_bytes: u64,
        skipped_lines: u64,
    ) -> Self {
        // A `.tsv` file's delimiter is a tab unless one was set.
        let csv_options = &options.csv.for_file(&input.name);
        let Input {
            name,
            reader,
            compression,
            total_bytes,
            raw_read,
            ..
        } = input;
        let tee = Tee {
            inner: reader,
            window: RawWindow::new(skipped_bytes),
            head: None,
            limit: options.max_record_bytes.max(1),
            made: PRIMER,
            left: Vec::new(),
            overrun: None,
            stop: options.stop_at_long_record,
            stopped: false,
            tracker: QuoteTracker {
                state: QuoteState::StartField,
                delimiter: csv_options.delimiter(),
                quote: csv_options.quote,
                offset: skipped_bytes,
                line: skipped_lines + 1,
                col: 0,
                last: None,
                opened: (0, 0, 0),
                bad_utf8: Default::default(),
                utf8_carry: Default::default(),
                stray: Default::default(),
                line_starts: Default::default(),
                pending_line: Some((skipped_bytes, skipped_lines + 1)),
                cr_pending: None,
                content_line: skipped_lines + 1,
                row_start: skipped_bytes,
            },
        };
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(csv_options.delimiter())
            .quote(csv_options.quote)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(crate::input::BUFFER_SIZE)
            .from_reader(tee);
        // The parser keeps a copy of the first record it reads (as headers, which
        // go unused): it reads the primer first, so that the copy is two bytes and
        // not a first row of up to the largest record. It reads nothing past it.
        let primed = csv.read_byte_record(&mut csv::ByteRecord::new());
        debug_assert!(matches!(primed, Ok(true)), "{primed:?}");
        CsvReader {
            source: name,
            compression,
            counter: raw_read,
            total: total_bytes,
            reader: csv,
            keys,
            names: Vec::new(),
            has_header: csv_options.has_header,
            null_values: csv_options
                .null_values
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect(),
            skip_null: options.skip_null,
            infer: options.infer_types,
            delimiter: csv_options.delimiter(),
            quote: csv_options.quote,
            skipped_bytes,
            skipped_lines,
            ordinal: 0,
            record: csv::ByteRecord::new(),
            pending: None,
            // Rows are measured by their bytes in the input.
            batcher: Batcher::new(options).measured(),
            done: false,
            open_header: None,
            skipped_header_start: skipped_bytes,
        }
    }

    fn key(&mut self, i: usize) -> &[u8] {
        if self.keys.len() <= i {
            let keys = Arc::make_mut(&mut self.keys);
            while keys.len() <= i {
                let n = keys.len() + 1;
                keys.push(json_key(&format!("column_{n}")));
            }
        }
        self.keys.get(i).map_or(&[][..], Vec::as_slice)
    }

    /// Reads one row; the previous one is emitted once it is known not to be the last
    /// (the last may hold an unterminated quote). False at the end.
    fn step(&mut self) -> Result<bool> {
        let got = match self.reader.read_byte_record(&mut self.record) {
            Ok(got) => got,
            Err(e) => return Err(self.read_failed(e)),
        };
        if !got {
            if let Some((record, position, seen)) = self.pending.take() {
                let tracker = &self.reader.get_ref().tracker;
                // (A row cut short where it passed the limit is that row alone.)
                if tracker.state == QuoteState::Quoted && !self.reader.get_ref().stopped {
                    let (line, column, byte_offset) = tracker.opened;
                    // Lines after the quote's own that the field took (blank lines
                    // at the end of the input aside).
                    let taken = tracker.content_line.saturating_sub(line);
                    // The row as written, to the end (its first bytes if it is long),
                    // without the line break that ends the input.
                    let mut raw = match seen {
                        Seen::Suspect(Some(bytes)) => bytes,
                        Seen::TooLarge { head, .. } => head,
                        _ => {
                            let tee = self.reader.get_ref();
                            let start = position.byte_offset;
                            tee.row_head(start, tee.tracker.offset)
                                .unwrap_or_else(|| self.raw_text(&record, true, HEAD))
                        }
                    };
                    raw.truncate(without_line_breaks(&raw).len());
                    let message = if taken > 0 {
                        format!(
                            "unterminated quoted field: the quote opened here is never closed, \
                             so its field took the rest of the input ({taken} more line{}), \
                             and no later row can be read",
                            if taken == 1 { "" } else { "s" }
                        )
                    } else {
                        "unterminated quoted field: the quote opened here is never closed".into()
                    };
                    let error = RecordError {
                        source_name: self.source.clone(),
                        position: Position {
                            ordinal: position.ordinal,
                            line,
                            column,
                            byte_offset,
                        },
                        kind: RecordErrorKind::Input(message),
                        excerpt: transmogrify_core::excerpt(&raw, 0),
                    };
                    if taken > 0 {
                        // Rows taken into the field cannot be told apart: not a row
                        // to step over, whatever the mode.
                        return Err(Error::Stopped {
                            error: Box::new(error),
                            raw,
                        });
                    }
                    self.batcher.batch.push_bad(error, &raw);
                } else {
                    self.emit(&record, position, None, seen);
                }
            } else if self.ordinal == 0
                && let Some((excerpt, fields)) = self.open_header.take()
                && self.reader.get_ref().tracker.state == QuoteState::Quoted
            {
                // No row after a header whose quote never closed: the header took
                // every row, which would otherwise be lost without a word. Its raw
                // text is the rest of the input as written, from the header's start.
                let tee = self.reader.get_ref();
                let (line, column, byte_offset) = tee.tracker.opened;
                let raw = tee
                    .row_head(self.skipped_header_start, tee.tracker.offset)
                    .unwrap_or(fields);
                let error = RecordError {
                    source_name: self.source.clone(),
                    position: Position {
                        ordinal: 0,
                        line,
                        column,
                        byte_offset,
                    },
                    kind: RecordErrorKind::Input(
                        "unterminated quoted field in the header: the quote opened here is \
                         never closed, and the header took the rest of the input"
                            .into(),
                    ),
                    excerpt,
                };
                return Err(bad_header(error, raw));
            }
            return Ok(false);
        }
        let (line, byte) = self
            .record
            .position()
            .map_or((0, 0), |p| (p.line() - 1, p.byte() - PRIMER.len() as u64));
        let byte = byte + self.skipped_bytes;
        let (byte, line) = self
            .reader
            .get_mut()
            .tracker
            .line_at(byte)
            .unwrap_or((byte, line + self.skipped_lines));
        let position = Position::line_start(self.ordinal, line, byte);
        self.ordinal += 1;
        // A row read past ends where the tracker found its line break.
        let mut row_end = None;
        if let Some(overrun) = self.reader.get_mut().overrun.take() {
            // The parser's offsets from here on leave out the bytes it did not see.
            self.skipped_bytes += overrun.shift;
            if !overrun.at_end {
                row_end = Some((overrun.end, !overrun.cut));
            }
        }
        // Where the parser stands: past the row's line break.
        let end = self.parser_offset();
        let seen = match row_end {
            Some((row_end, whole)) => self.too_large(position.byte_offset, row_end, whole),
            None => self.look_at(&self.record, position.byte_offset, end),
        };
        self.reader.get_mut().window.let_go(end);
        let record = std::mem::take(&mut self.record);
        let next = position.byte_offset;
        if let Some((previous, position, seen)) = self.pending.replace((record, position, seen)) {
            self.emit(&previous, position, Some(next), seen);
            self.record = previous;
        }
        Ok(true)
    }

    /// The error that ends the input where reading a row failed. The row before it
    /// ended where it should and is emitted first; a compressed input cut short
    /// inside a row makes that row's bytes so far a bad record the input stops at.
    fn read_failed(&mut self, e: csv::Error) -> Error {
        let row_start = self.reader.get_ref().tracker.row_start;
        if let Some((record, position, seen)) = self.pending.take() {
            self.emit(&record, position, Some(row_start), seen);
            self.record = record;
        }
        let t = &self.reader.get_ref().tracker;
        let (offset, line) = (t.offset, t.line);
        if !e.is_io_error() {
            return csv_error(&self.source, self.compression, e, offset, line);
        }
        let csv::ErrorKind::Io(io) = e.into_kind() else {
            return Error::Internal("a CSV I/O error without its cause".into());
        };
        let tee = self.reader.get_mut();
        let line = match tee.tracker.line_at(row_start) {
            Some((at, line)) if at == row_start => line,
            _ => line,
        };
        let partial = tee.row_head(row_start, offset).unwrap_or_default();
        let position = Position::line_start(self.ordinal, line, row_start);
        cut_short(
            &self.source,
            self.compression,
            io,
            offset,
            position,
            &partial,
        )
    }

    /// The offset in the input where the parser stands.
    fn parser_offset(&self) -> u64 {
        self.reader.position().byte() - PRIMER.len() as u64 + self.skipped_bytes
    }

    /// What a row from offset `start` to `end` (its line break excluded), longer
    /// than the largest record, is: a bad row of that size (of the bytes read of
    /// it, where it was cut short: `whole` false), whose raw text is its first
    /// bytes as written (its first fields as read, should they be gone).
    fn too_large(&self, start: u64, end: u64, whole: bool) -> Seen {
        let head = self
            .reader
            .get_ref()
            .row_head(start, end)
            .unwrap_or_else(|| self.raw_text(&self.record, false, HEAD));
        Seen::TooLarge {
            size: end.saturating_sub(start),
            whole,
            head,
        }
    }

    /// Looks at the row just read, from offset `start` to `end`: whether it may be a
    /// bad row (a field count not the header's, bytes that are not UTF-8, text after
    /// a closing quote, a quote still open), and if so its bytes, taken now while
    /// they are at hand (for a row of at most [`RAW_ROW`] bytes), for its raw text.
    fn look_at(&self, record: &csv::ByteRecord, start: u64, end: u64) -> Seen {
        let tee = self.reader.get_ref();
        if end.saturating_sub(start) > tee.limit {
            // Longer than the largest record, line break aside?
            let size = end - start - self.break_before(end);
            if size > tee.limit {
                return self.too_large(start, start + size, true);
            }
        }
        let suspect = (self.has_header && record.len() != self.keys.len())
            || simdutf8::basic::from_utf8(record.as_slice()).is_err()
            || record
                .iter()
                .any(|f| f.first().is_some_and(|&c| (c & 0xC0) == 0x80))
            || tee
                .tracker
                .stray
                .iter()
                .any(|&(at, _, _)| at >= start && at < end)
            || tee.tracker.state == QuoteState::Quoted;
        if !suspect {
            return Seen::Clean;
        }
        let short = end.saturating_sub(start) <= RAW_ROW as u64;
        Seen::Suspect(tee.window.get(start, end).filter(|_| short))
    }

    /// The bytes of the line break that ends the input at offset `end` (0 to 2).
    fn break_before(&self, end: u64) -> u64 {
        let window = &self.reader.get_ref().window;
        match window.get(end.saturating_sub(2), end).as_deref() {
            Some([b'\r', b'\n']) => 2,
            Some([.., b'\n' | b'\r']) => 1,
            _ => 0,
        }
    }

    /// A bad row as CSV text, for its error and the errors table: each field as the
    /// parser read it, quoted (quotes doubled) where it holds the delimiter, a quote
    /// or a line break, so that the row reads back as the same fields. With
    /// `open_last`, the last field is the one whose quote never closed: it is written
    /// after its opening quote, with no closing one, as it stood in the input.
    /// The text is cut at `cap` bytes (fields past them are not looked at).
    fn raw_text(&self, record: &csv::ByteRecord, open_last: bool, cap: usize) -> Vec<u8> {
        let size = record.as_slice().len() + 2 * record.len();
        let mut raw = Vec::with_capacity(size.min(cap.saturating_add(2)));
        let last = record.len().saturating_sub(1);
        for (i, field) in record.iter().enumerate() {
            if raw.len() >= cap {
                break;
            }
            if i > 0 {
                raw.push(self.delimiter);
            }
            let open = open_last && i == last;
            let quoted = open
                || field
                    .iter()
                    .any(|&c| c == self.delimiter || c == self.quote || c == b'\n' || c == b'\r');
            if !quoted {
                raw.extend_from_slice(field);
                continue;
            }
            raw.push(self.quote);
            for &c in field {
                raw.push(c);
                if c == self.quote {
                    raw.push(c);
                }
            }
            if !open {
                raw.push(self.quote);
            }
        }
        raw.truncate(cap);
        raw
    }

    /// A bad row whose error is at `position`: its raw text is its bytes as written
    /// (`raw`, taken when it was read), without its line break, or made from its
    /// fields for a row too long to keep.
    fn bad(
        &mut self,
        record: &csv::ByteRecord,
        raw: Option<Vec<u8>>,
        position: Position,
        message: String,
    ) {
        let raw = match raw {
            Some(bytes) => without_line_breaks(&bytes).to_vec(),
            None => self.raw_text(record, false, usize::MAX),
        };
        let error = RecordError {
            source_name: self.source.clone(),
            position,
            kind: RecordErrorKind::Input(message),
            excerpt: transmogrify_core::excerpt(&raw, 0),
        };
        self.batcher.batch.push_bad(error, &raw);
    }

    /// Adds one row as a JSON object record; `end` is where the next row starts,
    /// `seen` what was seen of it as it was read (see [`look_at`](Self::look_at)):
    /// a row seen clean is not looked at again.
    fn emit(&mut self, record: &csv::ByteRecord, position: Position, end: Option<u64>, seen: Seen) {
        self.reader.get_mut().tracker.let_go(position.byte_offset);
        let raw = match seen {
            Seen::Clean => return self.push_record(record, position),
            Seen::Suspect(raw) => raw,
            Seen::TooLarge { size, whole, head } => {
                let limit = self.reader.get_ref().limit;
                let batch = &mut self.batcher.batch;
                return batch.push_too_large(&self.source, position, (size, whole), limit, &head);
            }
        };
        if self.has_header && record.len() != self.keys.len() {
            let fields = |n: usize| match n {
                1 => "1 field".to_string(),
                n => format!("{n} fields"),
            };
            let message = format!(
                "the row has {} but the header has {}",
                fields(record.len()),
                self.keys.len()
            );
            return self.bad(record, raw, position, message);
        }
        // The fields lie end to end in the record: when the whole is UTF-8 and no field
        // starts inside a character, every field is; only otherwise look at each.
        let whole_fields = simdutf8::basic::from_utf8(record.as_slice()).is_ok()
            && record
                .iter()
                .all(|f| f.first().is_none_or(|&c| (c & 0xC0) != 0x80));
        if !whole_fields
            && let Some(i) = record.iter().position(|f| std::str::from_utf8(f).is_err())
        {
            // At the first byte that is not UTF-8 (the row's start if the tracker
            // somehow saw none).
            let tracker = &self.reader.get_ref().tracker;
            let at = first_at(&tracker.bad_utf8, end, position.ordinal).unwrap_or(position);
            return self.bad(
                record,
                raw,
                at,
                format!("field {} is not valid UTF-8", i + 1),
            );
        }
        // `"x"y`: the parser would join the text after the closing quote to the field.
        if let Some(at) = first_at(&self.reader.get_ref().tracker.stray, end, position.ordinal) {
            return self.bad(
                record,
                raw,
                at,
                "text after a field's closing quote (a quote inside a quoted field is written twice)"
                    .into(),
            );
        }
        self.push_record(record, position);
    }

    /// Adds a good row as a JSON object record (measured already, by its bytes in
    /// the input: see [`RawBatch::measured`]).
    fn push_record(&mut self, record: &csv::ByteRecord, position: Position) {
        let mut out = std::mem::take(&mut self.batcher.batch.data);
        let start = out.len();
        out.push(b'{');
        let mut first = true;
        for (i, field) in record.iter().enumerate() {
            let null = self
                .null_values
                .iter()
                .any(|n| n.len() == field.len() && (n.is_empty() || n == field));
            if null && self.skip_null {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(self.key(i));
            if null {
                out.extend_from_slice(b"null");
            } else if self.infer && (is_json_number(field) || field == b"true" || field == b"false")
            {
                out.extend_from_slice(field);
            } else {
                push_json_string(&mut out, field);
            }
        }
        out.push(b'}');
        let batch = &mut self.batcher.batch;
        batch.data = out;
        batch.items.push(crate::reader::RawItem::Record {
            range: start..batch.data.len(),
            position,
        });
    }
}

/// A header that cannot be read: an error no row is read past, in any mode, whose
/// raw text (for an errors table, where the header is a later input's) is `raw`.
fn bad_header(error: RecordError, mut raw: Vec<u8>) -> Error {
    raw.truncate(HEAD);
    Error::Stopped {
        error: Box::new(error),
        raw,
    }
}

fn csv_error(name: &str, compression: Compression, e: csv::Error, offset: u64, line: u64) -> Error {
    if e.is_io_error() {
        if let csv::ErrorKind::Io(io) = e.into_kind() {
            return read_error(name, compression, io, offset);
        }
        return Error::Internal("a CSV I/O error without its cause".into());
    }
    Error::Csv {
        source_name: name.to_string(),
        line,
        byte_offset: offset,
        source: e,
    }
}

/// Column keys from a header row (see [`header_names`]).
fn header_keys(header: &csv::ByteRecord) -> Vec<Vec<u8>> {
    header_names(header).iter().map(|n| json_key(n)).collect()
}

/// The column names of a header, so that no column is lost: each name as written
/// (its first time), `column_<n>` for an empty one (`n` its position from 1), and
/// `<name>_2`, `<name>_3`, … for one met again. Names as written come first: a
/// made-up name skips every name the header has (`a,a,a_2` gives `a`, `a_3`,
/// `a_2`; `,column_1` gives `column_1_2`, `column_1`).
fn header_names(header: &csv::ByteRecord) -> Vec<String> {
    let texts: Vec<String> = header
        .iter()
        .map(|field| String::from_utf8_lossy(field).into_owned())
        .collect();
    distinct_names(&texts, true)
}

/// `texts` made distinct as [`header_names`] makes a header's (with `name_empty`,
/// an empty one named `column_<n>`; otherwise kept, but for a repeat): for the
/// columns of any table read as records (CSV, Parquet), so that no column is lost.
pub(crate) fn distinct_names(texts: &[String], name_empty: bool) -> Vec<String> {
    let named = |t: &String| !(name_empty && t.is_empty());
    let taken: std::collections::HashSet<&str> = texts
        .iter()
        .filter(|t| named(t))
        .map(String::as_str)
        .collect();
    let mut made: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut first: std::collections::HashSet<&str> = std::collections::HashSet::new();
    // The number each base's search goes on from: every one below it is taken
    // (names only ever get taken), so a name repeated n times costs n, not n².
    let mut next: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut names = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        if named(text) && first.insert(text) {
            names.push(text.clone());
            continue;
        }
        let base = if named(text) {
            text.clone()
        } else {
            format!("column_{}", i + 1)
        };
        let free = |name: &String| !taken.contains(name.as_str()) && !made.contains(name);
        let name = if !named(text) && free(&base) {
            base
        } else {
            let from = next.get(&base).copied().unwrap_or(2);
            let (n, name) = (from..)
                .map(|n| (n, format!("{base}_{n}")))
                .find(|(_, name)| free(name))
                .unwrap_or_default();
            next.insert(base, n + 1);
            name
        };
        made.insert(name.clone());
        names.push(name);
    }
    names
}

impl Stepper for CsvReader {
    fn step(&mut self) -> Result<bool> {
        CsvReader::step(self)
    }

    fn batcher_and_done(&mut self) -> (&mut Batcher, &mut bool) {
        (&mut self.batcher, &mut self.done)
    }
}

impl Iterator for CsvReader {
    type Item = Result<RawBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        next_batch(self)
    }
}

impl Reader for CsvReader {
    fn source_name(&self) -> &str {
        &self.source
    }

    fn bytes_read(&self) -> u64 {
        self.counter.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn total_bytes(&self) -> Option<u64> {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_window_keeps_the_last_bytes_read() {
        let mut w = RawWindow::new(10);
        w.add(10, b"1,2\n3,");
        w.add(16, b"4\n");
        assert_eq!(w.get(10, 14), Some(b"1,2\n".to_vec()));
        assert_eq!(w.get(14, 18), Some(b"3,4\n".to_vec()));
        assert_eq!((w.get(9, 12), w.get(14, 19)), (None, None));
        w.let_go(14);
        assert_eq!(
            (w.get(10, 14), w.get(14, 18)),
            (None, Some(b"3,4\n".to_vec()))
        );
        // Past its size the oldest bytes go: a row of RAW_ROW bytes read after far
        // more is all there.
        let mut w = RawWindow::new(0);
        let mut at = 0;
        for _ in 0..40 {
            w.add(at, &vec![b'x'; 100_000]);
            at += 100_000;
        }
        let row = vec![b'y'; RAW_ROW];
        w.add(at, &row);
        w.add(at + RAW_ROW as u64, b"next");
        assert_eq!(w.get(at, at + RAW_ROW as u64), Some(row));
        assert_eq!(w.bytes.len(), RAW_WINDOW);
        assert_eq!(w.get(0, 10), None);
    }

    fn tracker() -> QuoteTracker {
        QuoteTracker {
            state: QuoteState::StartField,
            delimiter: b';',
            quote: b'\'',
            offset: 0,
            line: 1,
            col: 0,
            last: None,
            opened: (0, 0, 0),
            bad_utf8: Default::default(),
            utf8_carry: Default::default(),
            stray: Default::default(),
            line_starts: Default::default(),
            pending_line: Some((0, 1)),
            cr_pending: None,
            content_line: 1,
            row_start: 0,
        }
    }

    /// The tracker's rules, one byte at a time.
    fn bytewise(t: &mut QuoteTracker, bytes: &[u8]) {
        for &b in bytes {
            if let Some(quoted) = t.cr_pending.take()
                && b != b'\n'
            {
                t.line += 1;
                t.col = 0;
                if !quoted {
                    t.pending_line = Some((t.offset, t.line));
                    t.row_start = t.offset;
                }
            }
            t.state = match (t.state, b) {
                (QuoteState::Quoted, b) if b == t.quote => QuoteState::QuoteInQuoted,
                (QuoteState::Quoted, _) => QuoteState::Quoted,
                (QuoteState::StartField, b) if b == t.quote => {
                    t.opened = (t.line, t.col + 1, t.offset);
                    QuoteState::Quoted
                }
                (QuoteState::QuoteInQuoted, b) if b == t.quote => QuoteState::Quoted,
                (_, b) if b == t.delimiter || b == b'\n' || b == b'\r' => QuoteState::StartField,
                _ => QuoteState::Unquoted,
            };
            if b != b'\n' && b != b'\r' {
                t.line_not_blank();
            }
            t.offset += 1;
            if b == b'\n' {
                t.line += 1;
                t.col = 0;
                if t.state != QuoteState::Quoted {
                    t.pending_line = Some((t.offset, t.line));
                    t.row_start = t.offset;
                }
            } else if (b & 0xC0) != 0x80 {
                t.col += 1;
            }
            if b == b'\r' {
                t.cr_pending = Some(t.state == QuoteState::Quoted);
            }
        }
    }

    #[test]
    fn tracker_follows_its_rules_byte_by_byte_in_any_pieces() {
        let alphabet: [&[u8]; 7] = [b"a", b"'", b";", b"\n", b"\r", "é".as_bytes(), b"xyz"];
        let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next_u64();
        for _ in 0..5_000 {
            let len = (next() % 60) as usize;
            let text: Vec<u8> = (0..len)
                .flat_map(|_| alphabet[(next() % 7) as usize].iter().copied())
                .collect();
            let (mut fast, mut slow) = (tracker(), tracker());
            let mut rest = &text[..];
            while !rest.is_empty() {
                let (piece, tail) = rest.split_at(1 + (next() % 24) as usize % rest.len());
                fast.feed(piece);
                bytewise(&mut slow, piece);
                let seen = |t: &QuoteTracker| {
                    (
                        t.state,
                        t.offset,
                        t.line,
                        t.col,
                        t.opened,
                        t.line_starts.clone(),
                        t.pending_line,
                        t.cr_pending,
                        t.content_line,
                        t.row_start,
                    )
                };
                assert_eq!(
                    seen(&fast),
                    seen(&slow),
                    "{:?}",
                    String::from_utf8_lossy(&text)
                );
                rest = tail;
            }
        }
    }
}
