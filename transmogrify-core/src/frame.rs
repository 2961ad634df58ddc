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
    /// After an error inside a record: the state to go on in.
    failed_in_record: Option<State>,
    /// After an error: where the text not read as records starts (the start of
    /// the record it is in, or the error between records).
    unread_from: Option<usize>,
    /// The state after the record being split, while it is.
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
            failed_in_record: None,
            unread_from: None,
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
        self.unread_from = Some(if self.splitting.is_some() {
            self.record_start
        } else {
            at
        });
        self.failed_in_record = self.splitting.take();
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

    /// Splits the next record ([`record`](Self::record)), noting that an error on the
    /// way is inside a record ([`recover`](Self::recover)).
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
            // it from the other readers, which find its end by its strings and
            // brackets (where they do not tell, its parse below names the error).
            if let Some(len) = extent_at(self.bytes, start) {
                self.record_start = start;
                self.parser.set_pos(start + len);
                let pos = self.position_of(start);
                self.ordinal += 1;
                return Ok(Some((&self.bytes[start..start + len], pos)));
            }
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
                    return self.element();
                }
            }
        }
    }
}

impl<'a> JsonRecords<'a> {
    /// After an error, the text not read as records: from the start of the record
    /// the error is in (or from the error, between records) to the end. What an
    /// errors table keeps of text whose structure breaks, where
    /// [`recover`](Self::recover) finds no way on.
    ///
    /// ```
    /// use transmogrify_core::JsonRecords;
    /// let mut records = JsonRecords::new(br#"[{"a": 1} {"a": 2}, {"b": [}]"#, "f.json");
    /// assert!(records.next().is_some_and(|r| r.is_ok()));
    /// assert!(records.next().is_some_and(|r| r.is_err()));
    /// assert_eq!(records.unread(), br#"{"a": 2}, {"b": [}]"#);
    /// let mut records = JsonRecords::new(br#"[{"a": 1}, {"b": [}, {"c": 3}]"#, "f.json");
    /// assert!(records.nth(1).is_some_and(|r| r.is_err()));
    /// assert_eq!(records.recover(), None);
    /// assert_eq!(records.unread(), br#"{"b": [}, {"c": 3}]"#);
    /// ```
    pub fn unread(&self) -> &'a [u8] {
        let from = self.unread_from.unwrap_or(self.bytes.len());
        self.bytes.get(from..).unwrap_or_default()
    }

    /// After an error in a record, returns the bad record's raw text and moves past
    /// it, so that splitting can go on; the bad record keeps its ordinal.
    ///
    /// The record ends where its strings and brackets say ([`ValueExtent`]), as the
    /// other readers find it, and splitting goes on from there. `None` where they do
    /// not tell (brackets that do not match, the end of the text inside the record),
    /// or where the error is not inside a record (a missing comma between two
    /// elements, text after the array): what follows cannot be told apart, and
    /// splitting stays over. (JSONL is split by lines instead: [`JsonLines`].)
    ///
    /// ```
    /// use transmogrify_core::JsonRecords;
    /// let mut records = JsonRecords::new(br#"[{"a": tru}, {"a": "]"}]"#, "f.json");
    /// assert!(records.next().is_some_and(|r| r.is_err()));
    /// assert_eq!(records.recover(), Some(&br#"{"a": tru}"#[..]));
    /// let (second, pos) = records.next().ok_or("a second record")??;
    /// assert_eq!((second, pos.column, pos.ordinal), (&br#"{"a": "]"}"#[..], 14, 1));
    ///
    /// let mut records = JsonRecords::new(b"{\"a\": 1}\n{\"a\":\n tru}\n{\"a\": 3}", "f.json");
    /// assert!(records.next().is_some_and(|r| r.is_ok()));
    /// assert!(records.next().is_some_and(|r| r.is_err()));
    /// assert_eq!(records.recover(), Some(&b"{\"a\":\n tru}"[..]));
    /// let (third, pos) = records.next().ok_or("a third record")??;
    /// assert_eq!((third, pos.line, pos.ordinal), (&b"{\"a\": 3}"[..], 4, 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recover(&mut self) -> Option<&'a [u8]> {
        let next = self.failed_in_record.take()?;
        let start = self.record_start;
        // No value where one should start, or one whose strings and brackets do not
        // tell where it ends: nothing tells where to go on.
        if matches!(self.bytes.get(start), Some(b',' | b']' | b'}' | b':')) {
            return None;
        }
        let end = start + extent_at(self.bytes, start)?;
        let raw = self.bytes.get(start..end)?;
        self.parser.set_pos(end);
        self.ordinal += 1;
        self.state = next;
        Some(raw)
    }
}

/// Whether JSON text reads as JSONL, as a file whose name does not tell its format
/// is read: it starts with an object (after whitespace and a byte order mark) whose
/// first line holds it whole (the line ends with `}`), and the next line starts
/// another object or there is none.
///
/// ```
/// use transmogrify_core::looks_like_jsonl;
/// assert!(looks_like_jsonl(b"{\"a\": 1}\n{\"a\": 2}\n"));
/// assert!(!looks_like_jsonl(b"{\n  \"a\": 1\n}\n"));
/// assert!(!looks_like_jsonl(b"[{\"a\": 1}]"));
/// ```
pub fn looks_like_jsonl(text: &[u8]) -> bool {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let text = text.trim_ascii_start();
    if !text.starts_with(b"{") {
        return false;
    }
    let Some(nl) = memchr::memchr(b'\n', text) else {
        return false;
    };
    let (first, next) = text.split_at(nl);
    let next = next.get(1..).unwrap_or_default().trim_ascii_start();
    first.trim_ascii_end().ends_with(b"}") && (next.is_empty() || next.starts_with(b"{"))
}

/// How far the value starting at `start` reaches ([`ValueExtent`], the end of `bytes`
/// being the end of the input): its length, or `None` where its strings and
/// brackets do not tell.
fn extent_at(bytes: &[u8], start: usize) -> Option<usize> {
    match ValueExtent::new().scan(bytes.get(start..).unwrap_or_default(), true) {
        Extent::Found(len) => Some(len),
        Extent::More | Extent::Check => None,
    }
}

/// How far a JSON value reaches, judged by its strings and brackets alone, as a valid
/// value's would be: what lies between them is not checked. The readers of this
/// workspace find each record's end this way, whether the input is read from a file,
/// a stream or memory, so that a record broken inside is a bad record alike for them
/// all, and input whose structure breaks ends alike for them all.
///
/// A value is a string (to its closing quote), an object or array (to the bracket
/// that closes it: each `}` or `]` must close the bracket opened last), or a run of
/// the bytes numbers and literals are made of (`-12.5e3`, `true`, or `tru`). Where
/// these do not tell (brackets that do not match, a value that starts with another
/// byte, the input's end inside a string or brackets) the value must be parsed to
/// name what is wrong: [`Extent::Check`].
///
/// The value's bytes may come in pieces, each [`scan`](Self::scan)ned on from where
/// the one before ended.
///
/// ```
/// use transmogrify_core::{Extent, ValueExtent};
/// let mut extent = ValueExtent::new();
/// assert_eq!(extent.scan(br#"{"a": "}\"", "b": [tru"#, false), Extent::More);
/// assert_eq!(extent.scan(br#"e]}, {"c": 1}"#, false), Extent::Found(3));
/// let mut extent = ValueExtent::new();
/// assert_eq!(extent.scan(br#"{"a": [1, 2}, {"b": 3}]"#, false), Extent::Check);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ValueExtent {
    /// The closing brackets expected, the innermost last.
    closers: Vec<u8>,
    /// What is being scanned.
    mode: ExtentMode,
    /// Where the last piece had a closing bracket that does not match, and the one
    /// expected there.
    mismatch: Option<(usize, u8)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ExtentMode {
    /// Nothing yet: the value's first byte comes next.
    #[default]
    Start,
    /// Between the strings of an object or array.
    Brackets,
    /// Inside a string; `escaped` after a backslash.
    String { escaped: bool },
    /// A number or a literal.
    Token,
}

/// How far a value reaches, as far as [`ValueExtent::scan`] can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// It ends after this many bytes of the piece scanned.
    Found(usize),
    /// It goes on past the piece.
    More,
    /// Its strings and brackets do not tell where it ends: it needs a parse.
    Check,
}

/// Whether `b` can be part of a number or a literal (`true`, `-1.5e3`).
fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
}

impl ValueExtent {
    /// For a value whose first byte is the next one scanned.
    pub fn new() -> Self {
        ValueExtent::default()
    }

    /// For the rest of `open` objects whose first bytes were scanned already (the
    /// objects around a picked array, once the array is read).
    pub fn inside_objects(open: usize) -> Self {
        ValueExtent {
            closers: vec![b'}'; open],
            mode: ExtentMode::Brackets,
            mismatch: None,
        }
    }

    /// Whether a value may start with `b` (one that starts with any other byte
    /// is [`Extent::Check`] at once).
    pub fn starts_value(b: u8) -> bool {
        matches!(b, b'{' | b'[' | b'"') || token_byte(b)
    }

    /// Makes this scanner ready for another value (keeping its scratch space).
    pub fn reset(&mut self) {
        self.closers.clear();
        self.mode = ExtentMode::Start;
        self.mismatch = None;
    }

    /// After [`Extent::Check`]: where in the piece scanned a closing bracket does not
    /// match, and the closing bracket expected there (`None` where the value starts
    /// with a byte no value starts with, or the input ended inside it).
    pub fn mismatch(&self) -> Option<(usize, u8)> {
        self.mismatch
    }

    /// Scans `piece`, the next bytes of the value; `eof`: none follow it.
    pub fn scan(&mut self, piece: &[u8], eof: bool) -> Extent {
        let short = if eof { Extent::Check } else { Extent::More };
        let mut i = 0;
        if self.mode == ExtentMode::Start {
            match piece.first() {
                None => return short,
                Some(b'"') => self.mode = ExtentMode::String { escaped: false },
                Some(b'{') => {
                    self.closers.push(b'}');
                    self.mode = ExtentMode::Brackets;
                }
                Some(b'[') => {
                    self.closers.push(b']');
                    self.mode = ExtentMode::Brackets;
                }
                Some(&b) if token_byte(b) => self.mode = ExtentMode::Token,
                Some(_) => return Extent::Check,
            }
            i = 1;
        }
        match self.mode {
            ExtentMode::Start | ExtentMode::Brackets => {}
            ExtentMode::Token => {
                return match piece[i..].iter().position(|&b| !token_byte(b)) {
                    Some(len) => Extent::Found(i + len),
                    None if eof => Extent::Found(piece.len()),
                    None => Extent::More,
                };
            }
            ExtentMode::String { escaped } => match string_rest(piece, i, escaped) {
                Ok(end) if self.closers.is_empty() => return Extent::Found(end),
                Ok(end) => {
                    i = end;
                    self.mode = ExtentMode::Brackets;
                }
                Err(escaped) => {
                    self.mode = ExtentMode::String { escaped };
                    return short;
                }
            },
        }
        while let Some(&b) = piece.get(i) {
            i += 1;
            match b {
                b'"' => match string_rest(piece, i, false) {
                    Ok(end) => i = end,
                    Err(escaped) => {
                        self.mode = ExtentMode::String { escaped };
                        return short;
                    }
                },
                b'{' => self.closers.push(b'}'),
                b'[' => self.closers.push(b']'),
                b'}' | b']' => match self.closers.pop() {
                    Some(closer) if closer == b => {
                        if self.closers.is_empty() {
                            return Extent::Found(i);
                        }
                    }
                    Some(closer) => {
                        self.mismatch = Some((i - 1, closer));
                        return Extent::Check;
                    }
                    None => return Extent::Check,
                },
                _ => {}
            }
        }
        short
    }
}

/// Where the string whose contents go on at `from` in `piece` ends (after a
/// backslash just before `from` if `escaped`): the index after its closing quote, or,
/// if the piece ends first, whether it ends right after a backslash.
fn string_rest(piece: &[u8], mut from: usize, escaped: bool) -> Result<usize, bool> {
    if escaped {
        if from >= piece.len() {
            return Err(true);
        }
        from += 1;
    }
    loop {
        let Some(k) = memchr::memchr2(b'"', b'\\', &piece[from..]) else {
            return Err(false);
        };
        if piece[from + k] == b'"' {
            return Ok(from + k + 1);
        }
        // A backslash escapes the byte after it.
        from += k + 2;
        if from > piece.len() {
            return Err(true);
        }
    }
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

    #[test]
    fn values_are_measured_by_their_strings_and_brackets() {
        use Extent::{Check, Found, More};
        for (text, eof, want) in [
            (r#"{"a":"]}\"[{"}, {"b":1}"#, false, Found(14)),
            (r#"[1,[2,{"c":[]}]],3"#, false, Found(16)),
            (r#""x\\",1"#, false, Found(5)),
            ("-12.5e+3, 4", false, Found(8)),
            ("tru}", false, Found(3)),
            // Not checked here: the value's own parse finds what is wrong inside.
            (r#"{"a": tru, "b": 1e999999, "c": "\q"}"#, false, Found(36)),
            // Cut short by the read, or by the end of the input.
            (r#"{"a":[1,2"#, false, More),
            (r#"{"a":[1,2"#, true, Check),
            (r#"{"a":"x\"#, false, More),
            ("12", false, More),
            ("12", true, Found(2)),
            ("", false, More),
            // Brackets that do not match, or no value at all: parsed to name the error.
            (r#"{"a":[1,2}, {"b":1}]"#, false, Check),
            (",1", false, Check),
            ("]", true, Check),
            ("#1", false, Check),
        ] {
            assert_eq!(
                ValueExtent::new().scan(text.as_bytes(), eof),
                want,
                "{text:?}"
            );
            // In pieces of every size, each scanned on from the one before.
            for size in 1..=text.len().max(1) {
                let mut extent = ValueExtent::new();
                let mut seen = 0;
                let mut got = More;
                for (i, piece) in text.as_bytes().chunks(size).enumerate() {
                    let last = (i + 1) * size >= text.len();
                    got = match extent.scan(piece, eof && last) {
                        Found(n) => Found(seen + n),
                        other => other,
                    };
                    seen += piece.len();
                    if got != More {
                        break;
                    }
                }
                if text.is_empty() {
                    got = extent.scan(b"", eof);
                }
                assert_eq!(got, want, "{text:?} in pieces of {size}");
            }
        }
        let mut extent = ValueExtent::new();
        assert_eq!(extent.scan(br#"{"a": [1}"#, false), Check);
        assert_eq!(extent.mismatch(), Some((8, b']')));
        let mut rest = ValueExtent::inside_objects(2);
        assert_eq!(rest.scan(br#", "b": {"c": "}"}}} x"#, false), Found(19));
    }
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

    /// The number of the line read next: once the lines are all read, the first
    /// line's number and the lines counted, as [`JsonLines::count`] counts them.
    ///
    /// ```
    /// use transmogrify_core::{JsonLines, Position};
    /// let text = b"{\"a\":1}\n\n{\"a\":2}";
    /// let mut lines = JsonLines::new(text, Position::line_start(0, 1, 0));
    /// assert_eq!(lines.by_ref().count(), 2);
    /// assert_eq!(lines.next_line(), 1 + JsonLines::count(text).1);
    /// ```
    pub fn next_line(&self) -> u64 {
        self.line
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
