//! Splitting an in-memory JSON text into records with their positions.

#![expect(
    clippy::indexing_slicing,
    reason = "slices run between positions the parser or memchr returned within the same input"
)]

use memchr::memchr_iter;

use crate::error::{Position, RecordError, RecordErrorKind, count_chars, excerpt};
use crate::parse::{ParseError, Parser, Peek};

/// The records of a JSON text held in memory: the elements of a top-level array, a
/// single top-level object, or a stream of concatenated values (one per line in
/// JSONL, or just one after another). A UTF-8 byte order mark is skipped.
///
/// Each item is a record's bytes with the position of its first byte. A syntax error
/// that makes the boundaries of later records unknowable ends the iteration with
/// that error.
///
/// ```
/// use transmogrify_core::JsonRecords;
/// let text = b"[\n  {\"a\": 1},\n  {\"a\": 2}\n]";
/// let records: Vec<_> = JsonRecords::new(text, "inline.json").collect::<Result<_, _>>()?;
/// assert_eq!(records[1].0, br#"{"a": 2}"#);
/// assert_eq!((records[1].1.line, records[1].1.column, records[1].1.ordinal), (3, 3, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JsonRecords<'a> {
    bytes: &'a [u8],
    parser: Parser<'a>,
    source: std::sync::Arc<str>,
    state: State,
    ordinal: u64,
    /// Position of `bytes[0]` in the source.
    base: Position,
    // Line bookkeeping: `line` is the line of byte `line_pos`, which starts at
    // `line_start` (or before `bytes` while `line == base.line`).
    line: u64,
    line_pos: usize,
    line_start: usize,
    /// Characters of the line from `line_start` to `chars_pos`: counted on from there,
    /// so a long line (a one-line array) is counted once, not once per record.
    chars_pos: usize,
    chars: u64,
    /// Where the record being split began.
    record_start: usize,
    /// After an error in a stream of values: where the error was.
    failed_in_stream: Option<usize>,
    /// After an error inside an element of an array: the state to go on in.
    failed_in_element: Option<State>,
    /// The element being split, if any, and the state after it.
    splitting: Option<State>,
    /// The bytes are known to be valid JSON: records are found by their brackets alone.
    valid: bool,
    /// Where each record ends, as measured already ([`JsonRecords::with_ends`]).
    ends: &'a [usize],
    /// Records found so far through `ends`.
    ended: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    InArray { first: bool },
    Elements { first: bool },
    Stream,
    Done,
}

/// Deepest nesting the splitter tolerates while skipping over a record.
const SPLIT_NESTING_LIMIT: usize = 1 << 20;

impl<'a> JsonRecords<'a> {
    /// Records of `bytes`, whose errors name `source`.
    pub fn new(bytes: &'a [u8], source: &str) -> Self {
        let start = if bytes.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let mut parser = Parser::new(bytes, SPLIT_NESTING_LIMIT);
        parser.set_pos(start);
        JsonRecords {
            bytes,
            parser,
            source: std::sync::Arc::from(source),
            state: State::Start,
            ordinal: 0,
            base: Position::line_start(0, 1, 0),
            line: 1,
            line_pos: 0,
            line_start: 0,
            chars_pos: 0,
            chars: 0,
            record_start: 0,
            failed_in_stream: None,
            failed_in_element: None,
            splitting: None,
            valid: false,
            ends: &[],
            ended: 0,
        }
    }

    /// Tells the splitter that the bytes are valid JSON, as a planner that checked
    /// them already knows (the parallel planner checks every element it hands out):
    /// records are then found by their strings and brackets alone, without checking
    /// them a second time. The records' own parse still checks them.
    ///
    /// ```
    /// use transmogrify_core::{JsonRecords, Position};
    /// let start = Position::line_start(0, 1, 0);
    /// let text = br#"{"a":"]}"},{"b":[1,{"c":"\""}]}, 7"#;
    /// let items: Vec<_> = JsonRecords::elements(text, "checked.json", start)
    ///     .known_valid()
    ///     .map(|r| r.map(|(bytes, _)| bytes))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(items, [&br#"{"a":"]}"}"#[..], br#"{"b":[1,{"c":"\""}]}"#, b"7"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn known_valid(mut self) -> Self {
        self.valid = true;
        self
    }

    /// Tells the splitter where each record ends (offsets in the bytes, one per
    /// record in order), as a planner that measured the records already knows: the
    /// records are then cut there without being looked through again. Records past
    /// the last end are found as usual. The records' own parse still checks them.
    ///
    /// ```
    /// use transmogrify_core::{JsonRecords, Position};
    /// let start = Position::line_start(0, 1, 0);
    /// let text = br#"{"a":1},{"b":[2]}"#;
    /// let items: Vec<_> = JsonRecords::elements(text, "measured.json", start)
    ///     .with_ends(&[7, 17])
    ///     .map(|r| r.map(|(bytes, pos)| (bytes, pos.column)))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(items, [(&br#"{"a":1}"#[..], 1), (br#"{"b":[2]}"#, 9)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_ends(mut self, ends: &'a [usize]) -> Self {
        self.ends = ends;
        self
    }

    /// The elements of a comma-separated list that `bytes` holds: the inside of a JSON
    /// array from its first element to (at most) its last, as a planner hands it out.
    /// `start` is the position of `bytes[0]` (its ordinal is the first element's).
    ///
    /// ```
    /// use transmogrify_core::{JsonRecords, Position};
    /// let start = Position { ordinal: 10, line: 3, column: 5, byte_offset: 40 };
    /// let items: Vec<_> = JsonRecords::elements(b"{\"a\":1},\n {\"a\":2}", "big.json", start)
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(items[1].1, Position { ordinal: 11, line: 4, column: 2, byte_offset: 50 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn elements(bytes: &'a [u8], source: &str, start: Position) -> Self {
        let mut records = JsonRecords::new(bytes, source);
        records.parser.set_pos(0);
        records.state = State::Elements { first: true };
        records.ordinal = start.ordinal;
        records.base = start;
        records.line = start.line;
        records
    }

    /// Concatenated values (objects one after another, or one per line) held in
    /// `bytes`, whose first byte is at `start` in the source.
    pub fn values(bytes: &'a [u8], source: &str, start: Position) -> Self {
        let mut records = JsonRecords::elements(bytes, source, start);
        records.state = State::Stream;
        records
    }

    fn position_of(&mut self, at: usize) -> Position {
        let at = at.min(self.bytes.len());
        if at >= self.line_pos {
            let segment = &self.bytes[self.line_pos..at];
            for nl in memchr_iter(b'\n', segment) {
                self.line += 1;
                self.line_start = self.line_pos + nl + 1;
            }
            self.line_pos = at;
        }
        if self.chars_pos < self.line_start || at < self.chars_pos {
            (self.chars_pos, self.chars) = (self.line_start, 0);
        }
        if let Some(segment) = self.bytes.get(self.chars_pos..at) {
            self.chars += count_chars(segment);
            self.chars_pos = at;
        }
        let first_line = self.line == self.base.line;
        Position {
            ordinal: self.ordinal,
            line: self.line,
            column: if first_line { self.base.column } else { 1 } + self.chars,
            byte_offset: self.base.byte_offset + at as u64,
        }
    }

    fn error(&mut self, e: ParseError) -> RecordError {
        let (kind, at) = match e {
            ParseError::Syntax(s, at) => (RecordErrorKind::Syntax(s), at),
            ParseError::TooDeep(at) => (
                RecordErrorKind::TooDeep {
                    limit: SPLIT_NESTING_LIMIT,
                },
                at,
            ),
        };
        self.failed_in_stream = (self.state == State::Stream).then_some(at);
        self.failed_in_element = self.splitting.take();
        self.state = State::Done;
        RecordError {
            source_name: self.source.clone(),
            position: self.position_of(at),
            kind,
            excerpt: excerpt(self.bytes, at),
        }
    }

    fn record(&mut self) -> Result<(&'a [u8], Position), ParseError> {
        self.parser.skip_ws();
        let start = self.parser.pos();
        self.record_start = start;
        match self.ends.get(self.ended) {
            Some(&end) if end > start && end <= self.bytes.len() => {
                self.ended += 1;
                self.parser.set_pos(end);
            }
            _ if self.valid => self.parser.skip_valid_value(),
            _ => self.parser.skip_value(0)?,
        }
        let end = self.parser.pos();
        let pos = self.position_of(start);
        self.ordinal += 1;
        Ok((&self.bytes[start..end], pos))
    }

    /// Splits the next element of an array ([`record`](Self::record)), noting that an
    /// error on the way is inside an element ([`recover`](Self::recover)).
    fn element(&mut self) -> Result<Option<(&'a [u8], Position)>, ParseError> {
        self.parser.skip_ws();
        let start = self.parser.pos();
        if self.ends.get(self.ended).is_none()
            && !matches!(
                self.bytes.get(start),
                None | Some(b'{' | b',' | b']' | b'}' | b':')
            )
        {
            // Not an object: the engine refuses it, whatever it holds, as it refuses
            // it from the file readers, which end it where its brackets and strings
            // close (or the end of the text, which then ends the array).
            let (end, closed) = balanced_end(self.bytes, start);
            self.record_start = start;
            self.parser.set_pos(end);
            let pos = self.position_of(start);
            self.ordinal += 1;
            if !closed {
                self.state = State::Done;
            }
            return Ok(Some((&self.bytes[start..end], pos)));
        }
        self.splitting = Some(self.state);
        let record = self.record()?;
        self.splitting = None;
        Ok(Some(record))
    }

    fn step(&mut self) -> Result<Option<(&'a [u8], Position)>, ParseError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    self.parser.skip_ws();
                    if self.parser.pos() >= self.bytes.len() {
                        self.state = State::Done;
                        return Ok(None);
                    }
                    if self.parser.peek_value()? == Peek::Array {
                        let more = self.parser.begin_array()?;
                        self.state = if more {
                            State::InArray { first: true }
                        } else {
                            self.parser.expect_end()?;
                            State::Done
                        };
                    } else {
                        self.state = State::Stream;
                    }
                }
                State::InArray { first } => {
                    if !first && !self.parser.next_element()? {
                        self.parser.expect_end()?;
                        self.state = State::Done;
                        return Ok(None);
                    }
                    self.state = State::InArray { first: false };
                    return self.element();
                }
                State::Elements { first } => {
                    self.parser.skip_ws();
                    if self.parser.pos() >= self.bytes.len() {
                        self.state = State::Done;
                        return Ok(None);
                    }
                    if !first && !self.parser.next_element()? {
                        // A `]` ends the list early: only whitespace may follow.
                        self.parser.expect_end()?;
                        self.state = State::Done;
                        return Ok(None);
                    }
                    self.state = State::Elements { first: false };
                    return self.element();
                }
                State::Stream => {
                    self.parser.skip_ws();
                    if self.parser.pos() >= self.bytes.len() {
                        self.state = State::Done;
                        return Ok(None);
                    }
                    return self.record().map(Some);
                }
            }
        }
    }
}

impl<'a> JsonRecords<'a> {
    /// After an error in a record, returns the bad record's raw text and moves past
    /// it, so that splitting can go on; the bad record keeps its ordinal.
    ///
    /// In a stream of values (JSONL, concatenated objects) the record ends at the end
    /// of its line. Inside an array an element ends where its brackets and strings
    /// close, as the file readers of `transmogrify-io` find it: the array then goes on
    /// from there (an element cut short by the end of the text is the last).
    /// `None` where the error is not inside a record (a missing comma between two
    /// elements, text after the array): what follows cannot be told apart, and
    /// splitting stays over.
    ///
    /// ```
    /// use transmogrify_core::JsonRecords;
    /// let mut records = JsonRecords::new(b"{\"a\":1}\n{\"a\": }\n{\"a\":3}\n", "f.jsonl");
    /// assert!(records.next().is_some_and(|r| r.is_ok()));
    /// assert!(records.next().is_some_and(|r| r.is_err()));
    /// assert_eq!(records.recover(), Some(&b"{\"a\": }\n"[..]));
    /// let (third, pos) = records.next().ok_or("a third record")??;
    /// assert_eq!((third, pos.line, pos.ordinal), (&b"{\"a\":3}"[..], 3, 2));
    ///
    /// let mut records = JsonRecords::new(br#"[{"a": tru}, {"a": "]"}]"#, "f.json");
    /// assert!(records.next().is_some_and(|r| r.is_err()));
    /// assert_eq!(records.recover(), Some(&br#"{"a": tru}"#[..]));
    /// let (second, pos) = records.next().ok_or("a second record")??;
    /// assert_eq!((second, pos.column, pos.ordinal), (&br#"{"a": "]"}"#[..], 14, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recover(&mut self) -> Option<&'a [u8]> {
        if let Some(next) = self.failed_in_element.take() {
            let start = self.record_start;
            // No value where one should start: nothing tells where to go on.
            if matches!(
                self.bytes.get(start),
                None | Some(b',' | b']' | b'}' | b':')
            ) {
                return None;
            }
            let (end, closed) = balanced_end(self.bytes, start);
            let raw = self.bytes.get(start..end)?;
            self.parser.set_pos(end);
            self.ordinal += 1;
            self.state = if closed { next } else { State::Done };
            return Some(raw);
        }
        let at = self.failed_in_stream.take()?;
        let resume =
            memchr::memchr(b'\n', self.bytes.get(at..)?).map_or(self.bytes.len(), |i| at + i + 1);
        let raw = self.bytes.get(self.record_start.min(resume)..resume)?;
        self.parser.set_pos(resume);
        self.ordinal += 1;
        self.state = State::Stream;
        Some(raw)
    }
}

/// Where the value starting at `start` ends ([`ValueEnd`], [`scalar_end`]), and
/// whether it closes before the end of `bytes`.
fn balanced_end(bytes: &[u8], start: usize) -> (usize, bool) {
    let rest = bytes.get(start..).unwrap_or_default();
    if !matches!(rest.first(), Some(b'{' | b'[' | b'"')) {
        return (start + scalar_end(rest).unwrap_or(rest.len()), true);
    }
    match ValueEnd::new().scan(rest) {
        Some(n) => (start + n, true),
        None => (bytes.len(), false),
    }
}

/// Where a JSON value ends, found by its brackets and strings alone (nothing else in
/// it is checked), over its bytes given in one piece or in several: how the readers
/// of this workspace find a record's end, so that a record broken inside is passed
/// over alike whichever of them reads it.
///
/// A value starting with `{`, `[` or `"` ends where its brackets balance or its
/// string closes; any other value is a scalar ([`scalar_end`]).
///
/// ```
/// use transmogrify_core::ValueEnd;
/// let mut end = ValueEnd::new();
/// assert_eq!(end.scan(br#"{"a": "}\"", "b": [tru"#), None);
/// assert_eq!(end.scan(br#"e]}, {"c": 1}"#), Some(3));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ValueEnd {
    /// Brackets open.
    depth: u64,
    in_string: bool,
    /// The last byte scanned was a backslash inside a string.
    escaped: bool,
}

impl ValueEnd {
    /// For a value whose first byte is the next one scanned.
    pub fn new() -> Self {
        ValueEnd::default()
    }

    /// For what is left of a value of which `depth` brackets are open.
    pub fn inside(depth: u64) -> Self {
        ValueEnd {
            depth,
            ..ValueEnd::default()
        }
    }

    /// Scans the next bytes of the value: `Some(n)` if it ends with `bytes[n - 1]`,
    /// `None` if it goes on past them.
    pub fn scan(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut i = 0;
        loop {
            if self.escaped {
                // The byte after a backslash, whatever it is, is part of the string.
                bytes.get(i)?;
                i += 1;
                self.escaped = false;
            }
            if self.in_string {
                let at = memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
                let b = bytes[i + at];
                i += at + 1;
                if b == b'\\' {
                    self.escaped = true;
                    continue;
                }
                self.in_string = false;
                if self.depth == 0 {
                    return Some(i);
                }
                continue;
            }
            let &b = bytes.get(i)?;
            i += 1;
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Where a scalar (a number or a literal, well formed or not) ends among `bytes`: at
/// the first byte that is JSON structure or whitespace; `None` if there is none.
///
/// ```
/// assert_eq!(transmogrify_core::scalar_end(b"tru, 3"), Some(3));
/// assert_eq!(transmogrify_core::scalar_end(b"12e"), None);
/// ```
pub fn scalar_end(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| {
        matches!(
            b,
            b',' | b']' | b'}' | b'[' | b'{' | b'"' | b':' | b' ' | b'\t' | b'\n' | b'\r'
        )
    })
}

impl<'a> Iterator for JsonRecords<'a> {
    type Item = Result<(&'a [u8], Position), RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => Some(Err(self.error(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SyntaxError;

    fn split(text: &str) -> Vec<Result<(String, u64, u64, u64), String>> {
        JsonRecords::new(text.as_bytes(), "t")
            .map(|r| {
                r.map(|(b, p)| {
                    (
                        String::from_utf8_lossy(b).into_owned(),
                        p.line,
                        p.column,
                        p.byte_offset,
                    )
                })
                .map_err(|e| e.to_string())
            })
            .collect()
    }

    #[test]
    fn positions_on_long_lines_are_counted_from_the_line_start() -> Result<(), RecordError> {
        // A one-line array (as most tools write them), then some elements on lines of
        // their own, with multi-byte characters before and inside the records.
        let mut text = String::from("[");
        for i in 0..300 {
            if i > 0 {
                text.push(',');
            }
            if i % 97 == 0 {
                text.push_str("\n  ");
            }
            text.push_str(&format!(r#"{{"k":"{}","i":{i}}}"#, "é日".repeat(i % 5)));
        }
        text.push(']');
        let start = Position::line_start(0, 1, 0);
        let mut n = 0;
        for item in JsonRecords::new(text.as_bytes(), "t") {
            let (record, pos) = item?;
            let at = record.as_ptr() as usize - text.as_ptr() as usize;
            let want = Position {
                ordinal: n,
                ..start.advanced(text.as_bytes(), at)
            };
            assert_eq!(pos, want, "record {n}");
            n += 1;
        }
        assert_eq!(n, 300);
        Ok(())
    }

    #[test]
    fn measured_ends_cut_the_records_as_found_and_bad_ones_are_ignored() {
        let text = "{\"a\":\"x,y\"},\n [1, {\"b\":2}] , \"s\", 7";
        let start = Position::line_start(5, 3, 100);
        let cut = |ends: &[usize]| -> Vec<(String, Position)> {
            JsonRecords::elements(text.as_bytes(), "t", start)
                .known_valid()
                .with_ends(ends)
                .map(|r| r.map(|(b, p)| (String::from_utf8_lossy(b).into_owned(), p)))
                .collect::<Result<_, _>>()
                .unwrap_or_default()
        };
        let found = cut(&[]);
        assert_eq!(
            found.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(),
            ["{\"a\":\"x,y\"}", "[1, {\"b\":2}]", "\"s\"", "7"]
        );
        assert_eq!(
            found[1].1,
            Position {
                ordinal: 6,
                line: 4,
                column: 2,
                byte_offset: 114
            }
        );
        // The same ends, measured: the same records at the same positions.
        assert_eq!(cut(&[11, 26, 32, 35]), found);
        // Only some measured; or ends that cannot be (not past the record's start,
        // past the bytes): the rest are found as usual.
        assert_eq!(cut(&[11]), found);
        assert_eq!(cut(&[11, 0]), found);
        assert_eq!(cut(&[11, 26, 32, 99]), found);
    }

    #[test]
    fn arrays_objects_and_streams() {
        assert_eq!(
            split("\u{feff}[{\"a\":1} , 2]"),
            vec![
                Ok(("{\"a\":1}".into(), 1, 3, 4)),
                Ok(("2".into(), 1, 13, 14))
            ]
        );
        assert_eq!(
            split(" {\"a\":[1]} "),
            vec![Ok(("{\"a\":[1]}".into(), 1, 2, 1))]
        );
        assert_eq!(
            split("{\"a\":1}\n\n{\"b\":2}{\"c\":3}\n"),
            vec![
                Ok(("{\"a\":1}".into(), 1, 1, 0)),
                Ok(("{\"b\":2}".into(), 3, 1, 9)),
                Ok(("{\"c\":3}".into(), 3, 8, 16)),
            ]
        );
        assert_eq!(split("[]"), vec![]);
        assert_eq!(split("  \n"), vec![]);
    }

    #[test]
    fn truncated_array_names_the_position() {
        let got: Vec<_> = JsonRecords::new(b"[{\"a\":1},\n {\"b\":", "f.json").collect();
        assert!(got[0].is_ok());
        let err = got[1].clone().err();
        let err = err.map(|e| {
            (
                e.position.line,
                e.position.column,
                e.position.byte_offset,
                e.kind,
            )
        });
        assert_eq!(
            err,
            Some((
                2,
                7,
                16,
                RecordErrorKind::Syntax(SyntaxError::UnexpectedEnd {
                    expected: "a JSON value"
                })
            ))
        );
        assert_eq!(got.len(), 2);
    }
}

/// The non-blank lines of JSONL text held in memory, each with its position (a final
/// line without a newline counts; a trailing `\r` is dropped; lines holding only
/// whitespace are skipped and get no ordinal).
///
/// ```
/// use transmogrify_core::{JsonLines, Position};
/// let text = b"{\"a\":1}\r\n\n  \n{\"a\":2}";
/// let lines: Vec<_> = JsonLines::new(text, Position::line_start(5, 10, 100)).collect();
/// assert_eq!(lines[1].0, b"{\"a\":2}");
/// assert_eq!(lines[1].1, Position::line_start(6, 13, 113));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct JsonLines<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u64,
    ordinal: u64,
    byte_offset: u64,
}

impl<'a> JsonLines<'a> {
    /// Lines of `bytes`, whose first byte starts a line at `start`. At the very start
    /// of a source (byte offset 0) a UTF-8 byte order mark is skipped.
    pub fn new(bytes: &'a [u8], start: Position) -> Self {
        let bom = start.byte_offset == 0 && bytes.starts_with(b"\xEF\xBB\xBF");
        JsonLines {
            bytes,
            pos: if bom { 3 } else { 0 },
            line: start.line,
            ordinal: start.ordinal,
            byte_offset: start.byte_offset,
        }
    }

    /// `(records, lines)` in `bytes`: non-blank lines, and lines counted as the
    /// iterator would (a final line without a newline counts).
    pub fn count(bytes: &[u8]) -> (u64, u64) {
        let mut records = 0;
        let mut lines = 0;
        let mut start = 0;
        while start < bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
            lines += 1;
            if !is_blank(&bytes[start..end]) {
                records += 1;
            }
            start = end + 1;
        }
        (records, lines)
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b" \t\r".contains(b))
}

impl<'a> Iterator for JsonLines<'a> {
    type Item = (&'a [u8], Position);

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.bytes.len() {
            let start = self.pos;
            let end =
                memchr::memchr(b'\n', &self.bytes[start..]).map_or(self.bytes.len(), |i| start + i);
            self.pos = end + 1;
            let line = self.line;
            self.line += 1;
            let raw = &self.bytes[start..end];
            if is_blank(raw) {
                continue;
            }
            let text = raw.strip_suffix(b"\r").unwrap_or(raw);
            let pos = Position::line_start(self.ordinal, line, self.byte_offset + start as u64);
            self.ordinal += 1;
            return Some((text, pos));
        }
        None
    }
}
