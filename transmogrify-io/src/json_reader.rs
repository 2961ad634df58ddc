//! Streaming JSON reader: a top-level array element by element, one object, or
//! concatenated values, optionally below a `path` of a wrapper object.
//!
//! The reader only finds where each record starts and ends, by its strings and
//! brackets ([`ValueExtent`], as the executors' planner and the in-memory splitter
//! find it); validating and flattening a record is the engine's job, so a malformed
//! record is reported by the engine with its exact position. Only structure between
//! records (a missing comma, text after the array), and a record whose strings and
//! brackets do not tell where it ends, end the input here. Positions follow
//! [`JsonRecords`](transmogrify_core::JsonRecords): the same input gives the same
//! positions, without holding more than one record and a read buffer in memory.

#![expect(
    clippy::indexing_slicing,
    reason = "the scanner indexes its buffer only below its length: `pos`, `keep` and `counted` are kept within it across refills and compaction"
)]

use std::io::Read;
use std::sync::Arc;

use transmogrify_core::{
    Checked, Extent, JsonCheck, JsonRecords, Position, RecordError, RecordErrorKind, SyntaxError,
    ValueExtent, excerpt,
};

use crate::error::{Error, Result};
use crate::input::{Input, cut_short};
use crate::reader::{Batcher, OVERSIZE_PREFIX, RawBatch, Reader, ReaderOptions};

const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// Inside the wrapper object at `level` of the path, before a key.
    Navigate {
        level: usize,
        first: bool,
    },
    InArray {
        first: bool,
    },
    Stream,
    /// After the picked array: `open` wrapper objects still to close, the rest of
    /// the innermost read member by member.
    AfterArray {
        open: usize,
    },
    Trailer,
    Done,
}

/// How far [`JsonReader::scan_value`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scanned {
    /// To the value's end.
    Whole,
    /// To the end of the input, inside the value.
    Ended,
    /// To a closing bracket that does not match: not the one given.
    Mismatch(u8),
    /// Past the largest record, where reading stops there
    /// ([`ReaderOptions::stop_at_long_record`]).
    Cut,
    /// Nowhere: no value starts with the byte there.
    NoValue,
}

/// Reads JSON records from an [`Input`] in bounded memory.
pub(crate) struct JsonReader {
    input: Input,
    source: Arc<str>,
    buf: Vec<u8>,
    /// Scan position in `buf`.
    pos: usize,
    /// Start of the bytes that must stay in `buf` (the record being scanned).
    keep: Option<usize>,
    eof: bool,
    /// Offset of `buf[0]` in the source.
    base: u64,
    /// `buf[..counted]` has been counted into `line` / `col`.
    counted: usize,
    line: u64,
    col: u64,
    state: State,
    ordinal: u64,
    path: Option<Vec<String>>,
    batcher: Batcher,
    pending_error: Option<Error>,
    max_record: u64,
    /// Whether reading ends at a record past `max_record`
    /// ([`ReaderOptions::stop_at_long_record`]).
    stop_at_long: bool,
    /// The first bytes of a record that grew past `max_record` (then no longer kept).
    oversize: Option<Vec<u8>>,
    /// Where the record being scanned starts.
    record_at: Option<Position>,
    /// Where the raw text of a structural error starts when that is not where the
    /// error is: the start of the record it is in.
    raw_start: Option<RawStart>,
}

/// Where the raw text of an error that ends the input starts.
enum RawStart {
    /// At this index of the buffer.
    At(usize),
    /// Before the buffer: these are its first bytes.
    Prefix(Vec<u8>),
}

impl JsonReader {
    pub(crate) fn new(input: Input, options: &ReaderOptions) -> Self {
        JsonReader {
            source: input.name.clone(),
            input,
            buf: Vec::with_capacity(READ_CHUNK * 2),
            pos: 0,
            keep: None,
            eof: false,
            base: 0,
            counted: 0,
            line: 1,
            col: 0,
            state: State::Start,
            ordinal: 0,
            path: options.json_path.clone(),
            batcher: Batcher::new(options),
            pending_error: None,
            max_record: options.max_record_bytes.max(1),
            stop_at_long: options.stop_at_long_record,
            oversize: None,
            record_at: None,
            raw_start: None,
        }
    }

    /// Counts lines and characters of `buf[counted..idx]`.
    fn count_to(&mut self, idx: usize) {
        let idx = idx.min(self.buf.len());
        if idx <= self.counted {
            return;
        }
        let segment = &self.buf[self.counted..idx];
        let mut tail = segment;
        if let Some(last) = memchr::memrchr(b'\n', segment) {
            self.line += memchr::memchr_iter(b'\n', segment).count() as u64;
            self.col = 0;
            tail = &segment[last + 1..];
        }
        self.col += tail.iter().filter(|&&b| (b & 0xC0) != 0x80).count() as u64;
        self.counted = idx;
    }

    fn position(&mut self, idx: usize) -> Position {
        self.count_to(idx);
        Position {
            ordinal: self.ordinal,
            line: self.line,
            column: self.col + 1,
            byte_offset: self.base + idx as u64,
        }
    }

    /// Reads more input; false at the end.
    fn fill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if let Some(k) = self.keep {
            if (self.buf.len() - k) as u64 > self.max_record && self.oversize.is_none() {
                let end = (k + OVERSIZE_PREFIX).min(self.buf.len());
                self.oversize = Some(self.buf[k..end].to_vec());
                self.keep = None;
            }
        }
        let cut = self.keep.unwrap_or(self.pos).min(self.pos);
        if cut > 0 && cut * 2 >= self.buf.len() {
            self.count_to(cut);
            self.buf.drain(..cut);
            self.base += cut as u64;
            self.pos -= cut;
            self.counted = self.counted.saturating_sub(cut);
            if let Some(k) = self.keep.as_mut() {
                *k -= cut;
            }
        }
        let len = self.buf.len();
        self.buf.resize(len + READ_CHUNK, 0);
        let n = loop {
            match self.input.reader.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(len);
                    let offset = self.base + len as u64;
                    // Inside a record: its bytes so far (the first, once it grew
                    // past the largest record).
                    let partial = match (&self.oversize, self.keep) {
                        (Some(prefix), _) => Some(prefix.as_slice()),
                        (None, Some(k)) => self.buf.get(k..),
                        (None, None) => None,
                    };
                    return Err(match (self.record_at, partial) {
                        (Some(position), Some(partial)) => cut_short(
                            &self.source,
                            self.input.compression,
                            e,
                            offset,
                            position,
                            partial,
                        ),
                        _ => self.input.read_error(e, offset),
                    });
                }
            }
        };
        self.buf.truncate(len + n);
        // The first bytes of a record past the largest, as they come.
        if let Some(prefix) = self.oversize.as_mut() {
            let take = OVERSIZE_PREFIX.saturating_sub(prefix.len()).min(n);
            prefix.extend_from_slice(&self.buf[len..len + take]);
        }
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    fn peek(&mut self) -> Result<Option<u8>> {
        while self.pos >= self.buf.len() {
            if !self.fill()? {
                return Ok(None);
            }
        }
        Ok(Some(self.buf[self.pos]))
    }

    fn skip_ws(&mut self) -> Result<Option<u8>> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                other => return Ok(other),
            }
        }
    }

    /// Moves past the value at `pos` (which is not whitespace), or what is left of
    /// one, as far as `extent` finds it reaches ([`ValueExtent`]).
    fn scan_value(&mut self, mut extent: ValueExtent) -> Result<Scanned> {
        let starts_value = self
            .buf
            .get(self.pos)
            .is_some_and(|&b| ValueExtent::starts_value(b));
        loop {
            if self.pos >= self.buf.len() && !self.fill()? {
                return Ok(match extent.scan(&[], true) {
                    Extent::Found(_) => Scanned::Whole,
                    Extent::More | Extent::Check => Scanned::Ended,
                });
            }
            let at = self.pos;
            match extent.scan(&self.buf[at..], self.eof) {
                Extent::Found(n) => {
                    self.pos += n;
                    return Ok(Scanned::Whole);
                }
                Extent::More => {
                    self.pos = self.buf.len();
                    if self.stop_at_long && self.oversize.is_some() {
                        return Ok(Scanned::Cut);
                    }
                }
                Extent::Check => {
                    return Ok(match extent.mismatch() {
                        Some((k, closer)) => {
                            self.pos = at + k;
                            Scanned::Mismatch(closer)
                        }
                        None if !starts_value => Scanned::NoValue,
                        None => {
                            self.pos = self.buf.len();
                            Scanned::Ended
                        }
                    });
                }
            }
        }
    }

    /// The error of a value that [`scan_value`](Self::scan_value) could not measure
    /// (`scanned`), outside the records: where it went wrong, `expected` naming
    /// what should have come at the end of the input.
    fn unmeasured(&mut self, scanned: Scanned, expected: &'static str) -> Result<()> {
        let found = self.buf.get(self.pos).copied();
        match scanned {
            Scanned::Whole => Ok(()),
            Scanned::Ended => self.unexpected(None, expected),
            Scanned::NoValue => self.unexpected(found, "a JSON value"),
            Scanned::Mismatch(b'}') => self.unexpected(found, "'}'"),
            Scanned::Mismatch(_) => self.unexpected(found, "']'"),
            Scanned::Cut => Err(Error::Internal(
                "a value outside the records cut short as a record".into(),
            )),
        }
    }

    /// A structural error at `at`: it ends the input, after the records before it
    /// (in skip mode too: the records after it cannot be told apart).
    fn syntax(&mut self, error: SyntaxError, at: usize) -> Result<()> {
        let position = self.position(at);
        let record_error = RecordError {
            source_name: self.source.clone(),
            position,
            kind: RecordErrorKind::Syntax(error),
            excerpt: excerpt(&self.buf, at),
        };
        let from = self.raw_start.take().unwrap_or(RawStart::At(at));
        Err(self.stopped(record_error, from))
    }

    /// The error that ends the input at a structural `error`, with the raw text of
    /// what was not read as records: from `from` (the bad record's start, or where
    /// the error is between records) to the end of the input, its first
    /// [`OVERSIZE_PREFIX`] bytes. The input is read no further after it.
    fn stopped(&mut self, error: RecordError, from: RawStart) -> Error {
        self.state = State::Done;
        let raw = match from {
            RawStart::Prefix(prefix) => {
                // Read on to the prefix's full length (or the input's end).
                self.oversize = Some(prefix);
                while self
                    .oversize
                    .as_ref()
                    .is_some_and(|p| p.len() < OVERSIZE_PREFIX)
                    && matches!(self.fill(), Ok(true))
                {}
                self.oversize.take().unwrap_or_default()
            }
            RawStart::At(at) => {
                // Kept through the reads (which may move it to the buffer's front),
                // with no limit on what is kept; a read that fails leaves the text
                // as far as it got.
                self.keep = Some(at.min(self.buf.len()));
                self.max_record = u64::MAX;
                while self.buf.len() - self.keep.unwrap_or(0) < OVERSIZE_PREFIX
                    && matches!(self.fill(), Ok(true))
                {}
                let at = self.keep.take().unwrap_or(0);
                let end = self.buf.len().min(at.saturating_add(OVERSIZE_PREFIX));
                self.buf.get(at..end).unwrap_or_default().to_vec()
            }
        };
        Error::Stopped {
            error: Box::new(error),
            raw,
        }
    }

    fn unexpected(&mut self, found: Option<u8>, expected: &'static str) -> Result<()> {
        let at = self.pos;
        match found {
            None => self.syntax(SyntaxError::UnexpectedEnd { expected }, at),
            Some(b) => {
                let found = self.buf[at..]
                    .utf8_chunks()
                    .next()
                    .and_then(|c| c.valid().chars().next())
                    .unwrap_or(char::from(b));
                self.syntax(SyntaxError::UnexpectedChar { expected, found }, at)
            }
        }
    }

    fn path_not_found(&self, reason: String) -> Error {
        Error::PathNotFound {
            source_name: self.source.to_string(),
            path: self.path.as_deref().unwrap_or_default().join("."),
            reason,
        }
    }

    /// Scans one record at `pos` and adds it to the batch; `next` is the state after
    /// it. A record whose strings and brackets do not tell where it ends (they do
    /// not match, or the input ends inside it) ends the input with the error its
    /// parse finds, as the planner of `transmogrify-parallel` does.
    fn record(&mut self, next: State) -> Result<()> {
        let start = self.pos;
        if let Some(b @ (b',' | b']' | b'}' | b':')) = self.buf.get(start).copied() {
            return self.unexpected(Some(b), "a JSON value");
        }
        let position = self.position(start);
        self.keep = Some(start);
        self.record_at = Some(position);
        let scanned = self.scan_value(ValueExtent::new());
        self.record_at = None;
        let scanned = scanned?;
        let start = self.keep.take().unwrap_or(0);
        let oversize = self.oversize.take();
        let whole = scanned != Scanned::Cut;
        if scanned != Scanned::Whole && whole {
            // The raw text of the error that ends the input starts with the record.
            return match oversize {
                None => {
                    self.raw_start = Some(RawStart::At(start));
                    self.unreadable(start, position, scanned)
                }
                Some(prefix) => {
                    self.raw_start = Some(RawStart::Prefix(prefix));
                    self.unmeasured(scanned, "the rest of the record")
                }
            };
        }
        if let Some(mut prefix) = oversize {
            let size = self.base + self.pos as u64 - position.byte_offset;
            // Of the bytes read, only the record's.
            prefix.truncate(usize::try_from(size).unwrap_or(usize::MAX));
            self.batcher.batch.push_too_large(
                &self.source,
                position,
                (size, whole),
                self.max_record,
                &prefix,
            );
            if !whole {
                // Read no further: the run ends at it.
                self.ordinal += 1;
                self.state = State::Done;
                return Ok(());
            }
        } else {
            self.batcher
                .batch
                .push_record(&self.buf[start..self.pos], position);
        }
        self.ordinal += 1;
        self.state = next;
        Ok(())
    }

    /// Ends the input with the error of the record at `start` (at `position`) that
    /// [`scan_value`](Self::scan_value) could not measure: the one its parse finds.
    fn unreadable(&mut self, start: usize, position: Position, scanned: Scanned) -> Result<()> {
        let parsed = JsonRecords::values(&self.buf[start..], &self.source, position).next();
        if let Some(Err(error)) = parsed {
            self.raw_start = None;
            return Err(self.stopped(error, RawStart::At(start)));
        }
        self.unmeasured(scanned, "the rest of the record")
    }

    /// Advances the state machine; false once the input is done.
    fn step(&mut self) -> Result<bool> {
        match self.state {
            State::Done => return Ok(false),
            State::Start => {
                while self.buf.len() < 3 && self.fill()? {}
                if self.buf.starts_with(b"\xEF\xBB\xBF") {
                    // Three bytes, and no column (editors do not show it).
                    self.pos = 3;
                    self.counted = 3;
                }
                let first = self.skip_ws()?;
                self.state = match (first, self.path.is_some()) {
                    (None, _) => State::Done,
                    (Some(b'{'), true) => {
                        self.pos += 1;
                        State::Navigate {
                            level: 0,
                            first: true,
                        }
                    }
                    // Not an object, which a path goes into: malformed, or another
                    // value (an array, a scalar).
                    (Some(b), true) => {
                        if b != b'[' && !self.skip_member_value(Some(b))? {
                            return Ok(true);
                        }
                        let found = match b {
                            b'[' => {
                                "an array, not an object (without a path its elements are \
                                 the records)"
                            }
                            b'"' => "a string, not an object",
                            b't' | b'f' => "a boolean, not an object",
                            b'n' => "null, not an object",
                            _ => "a number, not an object",
                        };
                        return Err(self.path_not_found(format!("the input is {found}")));
                    }
                    (Some(b'['), false) => {
                        self.pos += 1;
                        if self.skip_ws()? == Some(b']') {
                            self.pos += 1;
                            State::Trailer
                        } else {
                            State::InArray { first: true }
                        }
                    }
                    (Some(_), false) => State::Stream,
                };
            }
            State::Navigate { level, first } => self.navigate(level, first)?,
            State::InArray { first } => {
                let after = match &self.path {
                    Some(p) => State::AfterArray { open: p.len() },
                    None => State::Trailer,
                };
                let b = self.skip_ws()?;
                if first && b.is_none() {
                    self.unexpected(None, "a JSON value or ']'")?;
                    return Ok(true);
                }
                if !first {
                    match b {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            self.state = after;
                            return Ok(true);
                        }
                        other => {
                            self.unexpected(other, "',' or ']'")?;
                            return Ok(true);
                        }
                    }
                    let b = self.skip_ws()?;
                    if b.is_none() {
                        self.unexpected(None, "a JSON value")?;
                        return Ok(true);
                    }
                }
                self.record(State::InArray { first: false })?;
            }
            State::Stream => {
                if self.skip_ws()?.is_some() {
                    self.record(State::Stream)?;
                } else {
                    self.state = State::Done;
                }
            }
            State::AfterArray { open } => self.after_array(open)?,
            State::Trailer => match self.skip_ws()? {
                None => self.state = State::Done,
                Some(_) => {
                    let at = self.pos;
                    self.syntax(SyntaxError::TrailingCharacters, at)?;
                }
            },
        }
        Ok(true)
    }

    /// Inside a wrapper object at `level`: finds the key of the path.
    fn navigate(&mut self, level: usize, first: bool) -> Result<()> {
        let wanted = self
            .path
            .as_ref()
            .and_then(|p| p.get(level).cloned())
            .unwrap_or_default();
        let depth = self.path.as_ref().map_or(0, Vec::len);
        let mut b = self.skip_ws()?;
        if !first {
            match b {
                Some(b',') => {
                    self.pos += 1;
                    b = self.skip_ws()?;
                }
                Some(b'}') => {
                    return Err(self.path_not_found(format!("no key {wanted:?} in the object")));
                }
                other => return self.unexpected(other, "',' or '}'"),
            }
        }
        match b {
            Some(b'"') => {}
            Some(b'}') if first => {
                return Err(self.path_not_found(format!("no key {wanted:?} in the object")));
            }
            other => return self.unexpected(other, "a string key"),
        }
        let Some(key) = self.member_key()? else {
            return Ok(());
        };
        let value = self.skip_ws()?;
        if key.as_deref() != Some(wanted.as_str()) {
            if !self.skip_member_value(value)? {
                return Ok(());
            }
            self.state = State::Navigate {
                level,
                first: false,
            };
            return Ok(());
        }
        let last = level + 1 == depth;
        match value {
            Some(b'[') if last => {
                self.pos += 1;
                self.state = if self.skip_ws()? == Some(b']') {
                    self.pos += 1;
                    State::AfterArray { open: depth }
                } else {
                    State::InArray { first: true }
                };
                Ok(())
            }
            Some(b'{') if last => self.record(State::AfterArray { open: depth }),
            Some(b'{') => {
                self.pos += 1;
                self.state = State::Navigate {
                    level: level + 1,
                    first: true,
                };
                Ok(())
            }
            None => self.unexpected(None, "a JSON value"),
            Some(b'[') => Err(self.path_not_found(format!(
                "{wanted:?} holds an array, and a path does not go into arrays: it ends at \
                 the array of records"
            ))),
            Some(_) => {
                Err(self.path_not_found(format!("{wanted:?} holds neither an array nor an object")))
            }
        }
    }

    /// The key of a wrapper object's member at `pos` (a string), moving past it and
    /// its `:`; `None` inside if it is not a string JSON can read. `None` outside
    /// if the input ends there with an error (the state is then done).
    fn member_key(&mut self) -> Result<Option<Option<String>>> {
        let key_start = self.pos;
        self.keep = Some(key_start);
        let scanned = self.scan_value(ValueExtent::new())?;
        let key_start = self.keep.take().unwrap_or(0);
        if self.oversize.take().is_some() {
            return Err(self.path_not_found("a key is larger than the record size limit".into()));
        }
        if scanned != Scanned::Whole {
            self.unexpected(None, "'\"'")?;
            return Ok(None);
        }
        let mut check = JsonCheck::new();
        if let Checked::Invalid { at, error } = check.feed(&self.buf[key_start..self.pos], true) {
            let at = key_start + usize::try_from(at).unwrap_or(0);
            self.syntax(error, at)?;
            return Ok(None);
        }
        let key: Option<String> = serde_json::from_slice(&self.buf[key_start..self.pos]).ok();
        match self.skip_ws()? {
            Some(b':') => self.pos += 1,
            other => {
                self.unexpected(other, "':'")?;
                return Ok(None);
            }
        }
        Ok(Some(key))
    }

    /// Moves past a wrapper object's member value that starts with `value`,
    /// checking it as the engine checks a record ([`JsonCheck`]) without holding
    /// more of it than an unfinished token; false if the input ends there with an
    /// error.
    fn skip_member_value(&mut self, value: Option<u8>) -> Result<bool> {
        if value.is_none() {
            self.unexpected(None, "a JSON value")?;
            return Ok(false);
        }
        let start = self.base + self.pos as u64;
        let mut check = JsonCheck::new();
        loop {
            if self.pos >= self.buf.len() {
                // The bytes an error found later would be reported at stay.
                self.keep = check
                    .token_start()
                    .and_then(|t| (start + t).checked_sub(self.base))
                    .and_then(|i| usize::try_from(i).ok());
                let more = self.fill();
                self.keep = None;
                // Past the largest record, a token is let go of (its error, if any,
                // is then reported where the buffer starts).
                self.oversize = None;
                if !more? {
                    // The input ends inside the value, or just after a number.
                    return match check.feed(&[], true) {
                        Checked::Invalid { at, error } => {
                            let at = self.index_of(start + at);
                            self.syntax(error, at)?;
                            Ok(false)
                        }
                        _ => Ok(true),
                    };
                }
            }
            match check.feed(&self.buf[self.pos..], false) {
                Checked::More => self.pos = self.buf.len(),
                Checked::Done(n) => {
                    self.pos += n;
                    return Ok(true);
                }
                Checked::Invalid { at, error } => {
                    let at = self.index_of(start + at);
                    self.syntax(error, at)?;
                    return Ok(false);
                }
            }
        }
    }

    /// The index in the buffer of the byte at `offset` in the source (its first byte
    /// if that one is gone).
    fn index_of(&self, offset: u64) -> usize {
        offset
            .checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok())
            .map_or(0, |i| i.min(self.buf.len()))
    }

    /// After the path's array (or object), in the innermost of the `open` wrapper
    /// objects around it: its next member, or its end. The path's key met again
    /// in that object ends the input with an error there: the records came from
    /// the first, where a record's repeated key would keep the last.
    fn after_array(&mut self, open: usize) -> Result<()> {
        let Some(level) = open.checked_sub(1) else {
            self.state = State::Trailer;
            return Ok(());
        };
        match self.skip_ws()? {
            Some(b'}') => {
                self.pos += 1;
                self.state = if level == 0 {
                    State::Trailer
                } else {
                    State::AfterArray { open: level }
                };
                return Ok(());
            }
            Some(b',') => self.pos += 1,
            other => return self.unexpected(other, "',' or '}'"),
        }
        match self.skip_ws()? {
            Some(b'"') => {}
            other => return self.unexpected(other, "a string key"),
        }
        let key_at = self.pos;
        let Some(key) = self.member_key()? else {
            return Ok(());
        };
        let wanted = self.path.as_ref().and_then(|p| p.get(level));
        if let (Some(key), Some(wanted)) = (&key, wanted)
            && key == wanted
        {
            let message = format!(
                "the JSON path's key {wanted:?} appears again in its object: its records \
                 were read from the first {wanted:?}, and the input stops at the second \
                 (a record's repeated key keeps its last value)"
            );
            let record_error = RecordError {
                source_name: self.source.clone(),
                position: self.position(key_at),
                kind: RecordErrorKind::Input(message),
                excerpt: excerpt(&self.buf, key_at),
            };
            return Err(self.stopped(record_error, RawStart::At(key_at)));
        }
        let value = self.skip_ws()?;
        self.skip_member_value(value)?;
        Ok(())
    }
}

impl Iterator for JsonReader {
    type Item = Result<RawBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending_error.take() {
            return Some(Err(e));
        }
        loop {
            match self.step() {
                Ok(true) => {
                    if self.batcher.is_full() {
                        return self.batcher.take().map(Ok);
                    }
                }
                Ok(false) => return self.batcher.take().map(Ok),
                Err(e) => {
                    self.state = State::Done;
                    return match self.batcher.take() {
                        Some(batch) => {
                            self.pending_error = Some(e);
                            Some(Ok(batch))
                        }
                        None => Some(Err(e)),
                    };
                }
            }
        }
    }
}

impl Reader for JsonReader {
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
    use crate::reader::RawItem;

    /// Records as text and bad items as messages, in order.
    fn items(text: &[u8], options: &ReaderOptions) -> Result<Vec<String>> {
        let input = Input::from_bytes("t.json", text.to_vec())?;
        let mut out = Vec::new();
        for batch in JsonReader::new(input, options) {
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    out.push(format!("error: {e}"));
                    break;
                }
            };
            for item in &batch.items {
                out.push(match item {
                    RawItem::Record { range, .. } => {
                        String::from_utf8_lossy(batch.bytes(range)).into_owned()
                    }
                    RawItem::Bad { error, .. } => format!("bad: {error}"),
                });
            }
        }
        Ok(out)
    }

    /// Asserts that reading `text` ends with an error whose message starts with
    /// `error`.
    fn ends_with_error(text: &[u8], options: &ReaderOptions, error: &str) -> Result<()> {
        let got = items(text, options)?;
        let message = got.last().cloned().unwrap_or_default();
        assert!(
            message.starts_with(&format!("error: {error}")),
            "{}: {got:?}",
            String::from_utf8_lossy(text)
        );
        Ok(())
    }

    #[test]
    fn structure_between_records_is_checked() -> Result<()> {
        let options = ReaderOptions::default();
        assert_eq!(
            items(b"[{\"a\":1} {\"a\":2}]", &options)?,
            [
                "{\"a\":1}",
                "error: t.json: line 1, column 10 (byte 9, record 1): invalid JSON: expected ',' or ']', found '{' near `[{\"a\":1} {\"a\":2}]`"
            ]
        );
        assert_eq!(
            items(b"[{\"a\":1},]", &options)?,
            [
                "{\"a\":1}",
                "error: t.json: line 1, column 10 (byte 9, record 1): invalid JSON: expected a JSON value, found ']' near `[{\"a\":1},]`"
            ]
        );
        assert_eq!(
            items(b"[{\"a\":1}]\n x", &options)?,
            [
                "{\"a\":1}",
                "error: t.json: line 2, column 2 (byte 11, record 1): invalid JSON: trailing characters after the value near `[{\"a\":1}]  x`"
            ]
        );
        assert_eq!(items(b"[ ]", &options)?, Vec::<String>::new());
        assert_eq!(items(b"", &options)?, Vec::<String>::new());
        // Inside a record the reader only matches brackets; the engine validates.
        assert_eq!(items(b"[{\"a\": }, 3]", &options)?, ["{\"a\": }", "3"]);
        Ok(())
    }

    #[test]
    fn brackets_that_do_not_match_end_the_input() -> Result<()> {
        let options = ReaderOptions::default();
        // In a record: the error its parse finds, after the records before it.
        assert_eq!(
            items(b"[{\"a\":1}, {\"b\": [1}, {\"c\": 3}]", &options)?,
            [
                "{\"a\":1}",
                "error: t.json: line 1, column 19 (byte 18, record 1): invalid JSON: expected ',' or ']', found '}' near `{\"b\": [1}, {\"c\": 3}]`"
            ]
        );
        assert_eq!(
            items(b"[{\"a\":1}, {\"b\": [1", &options)?,
            [
                "{\"a\":1}",
                "error: t.json: line 1, column 19 (byte 18, record 1): invalid JSON: unexpected end of input, expected ',' or ']' near `{\"b\": [1`"
            ]
        );
        // Beside the path, and after the picked array.
        let picked = ReaderOptions::builder()
            .with_json_path(Some("data"))
            .build()?;
        assert_eq!(
            items(b"{\"x\": {\"y\": [1}, \"data\": [{\"a\":1}]}", &picked)?,
            [
                "error: t.json: line 1, column 15 (byte 14, record 0): invalid JSON: expected ',' or ']', found '}' near `{\"x\": {\"y\": [1}, \"data\": [{\"a\":1}]`"
            ]
        );
        assert_eq!(
            items(b"{\"x\": {\"y\": [1", &picked)?,
            [
                "error: t.json: line 1, column 15 (byte 14, record 0): invalid JSON: unexpected end of input, expected ',' or ']' near `1`"
            ]
        );
        assert_eq!(
            items(b"{\"data\": [{\"a\":1}], \"z\": [}", &picked)?,
            [
                "{\"a\":1}",
                "error: t.json: line 1, column 27 (byte 26, record 1): invalid JSON: expected a JSON value, found '}' near `\": [{\"a\":1}], \"z\": [}`"
            ]
        );
        Ok(())
    }

    /// Input that does not start with an object fails as malformed where it is, or,
    /// well formed, as not the object a path goes into.
    #[test]
    fn a_path_into_input_that_is_no_object() -> Result<()> {
        let picked = ReaderOptions::builder()
            .with_json_path(Some("data.items"))
            .build()?;
        for (text, error) in [
            (
                &b"@{\"data\": {\"items\": []}}"[..],
                "t.json: line 1, column 1 (byte 0, record 0): invalid JSON: expected a JSON \
                 value, found '@'",
            ),
            (
                b" tru {\"data\": {\"items\": []}}",
                "t.json: line 1, column 2 (byte 1, record 0): invalid JSON: invalid literal `tru`",
            ),
            (
                b"\n01",
                "t.json: line 2, column 1 (byte 1, record 0): invalid JSON: number with a \
                 leading zero",
            ),
            (
                b"\"a\\q\"",
                "t.json: line 1, column 3 (byte 2, record 0): invalid JSON: invalid escape",
            ),
            (
                b"[{\"data\": 1}]",
                "t.json: path \"data.items\" not found: the input is an array, not an object \
                 (without a path its elements are the records)",
            ),
            (
                b"12",
                "t.json: path \"data.items\" not found: the input is a number, not an object",
            ),
            (
                b" \"x\"",
                "t.json: path \"data.items\" not found: the input is a string, not an object",
            ),
            (
                b"false",
                "t.json: path \"data.items\" not found: the input is a boolean, not an object",
            ),
            (
                b"null\n",
                "t.json: path \"data.items\" not found: the input is null, not an object",
            ),
        ] {
            ends_with_error(text, &picked, error)?;
        }
        Ok(())
    }

    /// Values beside the path are checked as records are, wherever they are and
    /// however the reads cut them, without being held.
    #[test]
    fn values_beside_the_path_are_checked_as_records_are() -> Result<()> {
        let picked = ReaderOptions::builder()
            .with_json_path(Some("data.items"))
            .build()?;
        let cases: [(&[u8], &str); 7] = [
            (
                b"{\"data\": {\"items\": [{\"id\": 1}]}, \"after\": abc}",
                "line 1, column 43 (byte 42, record 1): invalid JSON: expected a JSON value, \
                 found 'a'",
            ),
            (
                b"{\"meta\": tru, \"data\": {\"items\": [{\"id\": 1}]}}",
                "line 1, column 10 (byte 9, record 0): invalid JSON: invalid literal `tru`",
            ),
            (
                b"{\"meta\": [1, 01], \"data\": {\"items\": []}}",
                "line 1, column 14 (byte 13, record 0): invalid JSON: number with a leading zero",
            ),
            (
                b"{\"data\": {\"n\": \"a\\qb\", \"items\": []}}",
                "line 1, column 18 (byte 17, record 0): invalid JSON: invalid escape",
            ),
            (
                b"{\"data\": {\"items\": [{\"id\": 1}]},\n \"s\": \"x\xffy\"}",
                "line 2, column 9 (byte 41, record 1): invalid JSON: invalid UTF-8",
            ),
            (
                b"{\"k\\q\": 1, \"data\": {\"items\": []}}",
                "line 1, column 4 (byte 3, record 0): invalid JSON: invalid escape",
            ),
            (
                b"{\"data\": {\"items\": [{\"id\": 1}], \"t\": \"a\tb\"}}",
                "line 1, column 40 (byte 39, record 1): invalid JSON: control character",
            ),
        ];
        for (text, error) in cases {
            ends_with_error(text, &picked, &format!("t.json: {error}"))?;
        }
        // A literal cut by the reads (64 KiB apart) is named whole, at its start.
        let mut long = b"{\"pad\": \"".to_vec();
        long.resize(READ_CHUNK - 9, b'p');
        long.extend_from_slice(b"\", \"x\": nulL, \"data\": {\"items\": []}}");
        let got = items(&long, &picked)?;
        assert_eq!(
            got.last()
                .map(|m| m.split(" near ").next().unwrap_or_default()),
            Some(
                format!(
                    "error: t.json: line 1, column {} (byte {}, record 0): invalid JSON: \
                     invalid literal `nulL`, expected `null`",
                    READ_CHUNK,
                    READ_CHUNK - 1
                )
                .as_str()
            )
        );
        Ok(())
    }

    #[test]
    fn the_paths_key_met_again_in_its_object_ends_the_input_there() -> Result<()> {
        let picked = ReaderOptions::builder()
            .with_json_path(Some("data.items"))
            .build()?;
        // In the inner object, after other members; in the outer one, after the
        // inner object closed. Keys beside the path may repeat.
        let inner =
            b"{\"data\": {\"items\": [{\"a\":1},{\"a\":2}], \"n\": 1,\n \"items\": [{\"a\":3}]}}";
        assert_eq!(
            items(inner, &picked)?,
            [
                "{\"a\":1}",
                "{\"a\":2}",
                "error: t.json: line 2, column 2 (byte 47, record 2): the JSON path's key \"items\" \
                 appears again in its object: its records were read from the first \"items\", and \
                 the input stops at the second (a record's repeated key keeps its last value) near \
                 `,{\"a\":2}], \"n\": 1,  \"items\": [{\"a\":3}]}}`"
            ]
        );
        let outer = b"{\"data\": {\"items\": [{\"a\":1}], \"x\": 2, \"x\": 3}, \"data\": {}}";
        assert_eq!(
            items(outer, &picked)?,
            [
                "{\"a\":1}",
                "error: t.json: line 1, column 48 (byte 47, record 1): the JSON path's key \"data\" \
                 appears again in its object: its records were read from the first \"data\", and \
                 the input stops at the second (a record's repeated key keeps its last value) near \
                 `], \"x\": 2, \"x\": 3}, \"data\": {}}`"
            ]
        );
        // Members after the array are read as members.
        assert_eq!(
            items(b"{\"data\": {\"items\": [], \"k\" 1}}", &picked)?,
            [
                "error: t.json: line 1, column 28 (byte 27, record 0): invalid JSON: expected ':', found '1' near `: {\"items\": [], \"k\" 1}}`"
            ]
        );
        assert_eq!(
            items(
                b"{\"data\": {\"items\": [{\"a\":1}], \"k\": [1, {}]}, \"z\": \"}\"} ",
                &picked
            )?,
            ["{\"a\":1}"]
        );
        Ok(())
    }

    #[test]
    fn an_array_that_ends_after_its_bracket_expects_a_value_or_its_end() -> Result<()> {
        let got = items(b"[ ", &ReaderOptions::default())?;
        assert_eq!(
            got,
            [
                "error: t.json: line 1, column 3 (byte 2, record 0): invalid JSON: unexpected end of \
              input, expected a JSON value or ']' near `[`"
            ]
        );
        Ok(())
    }

    #[test]
    fn an_oversized_record_is_skipped_without_being_held() -> Result<()> {
        let options = ReaderOptions::builder()
            .with_max_record_bytes(100)
            .build()?;
        let big = format!("[{{\"a\":\"{}\"}}, {{\"b\":1}}]", "x".repeat(300_000));
        let got = items(big.as_bytes(), &options)?;
        assert_eq!(got.len(), 2);
        assert!(
            got[0].starts_with("bad: t.json: line 1, column 2 (byte 1, record 0): the record is 300008 bytes, larger than the limit of 100 bytes"),
            "{}",
            &got[0][..200.min(got[0].len())]
        );
        assert_eq!(got[1], "{\"b\":1}");
        Ok(())
    }
}
