//! Checking a JSON value that comes in pieces, without holding it.

use crate::error::SyntaxError;
use crate::parse::first_char;

/// Checks that one JSON value is well formed, its bytes fed in pieces of any size,
/// in memory that grows only with its nesting: for values a reader skips (the
/// members around a JSON path's records) and so never parses. Errors are those the
/// engine gives a record, at the same places: a misspelt literal or a malformed
/// number at its first byte, a bad escape at its backslash, a byte that is not
/// UTF-8 at the first byte of its sequence, anything else where it is found. (A
/// character that cannot stand where it is, past ASCII, is named as U+FFFD when
/// its bytes are split between two pieces.)
///
/// ```
/// use transmogrify_core::{JsonCheck, Checked, SyntaxError};
/// let mut check = JsonCheck::new();
/// assert_eq!(check.feed(br#"{"a": [1, tr"#, false), Checked::More);
/// assert_eq!(check.feed(br#"ue], "b": {}}, "next""#, false), Checked::Done(13));
/// let mut check = JsonCheck::new();
/// assert_eq!(check.feed(br#"[1, nul"#, false), Checked::More);
/// assert_eq!(
///     check.feed(br#"k]"#, false),
///     Checked::Invalid { at: 4, error: SyntaxError::InvalidLiteral("nulk".into()) }
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct JsonCheck {
    /// Bytes fed before the current piece.
    fed: u64,
    /// The open containers, innermost last: `{` or `[`.
    open: Vec<u8>,
    state: State,
    /// Where the unfinished token (a number, a literal, an escape or a UTF-8
    /// sequence) began, for an error found in a later piece.
    token: u64,
    /// A literal's letters so far (its first 21).
    word: Vec<u8>,
}

/// What [`JsonCheck::feed`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The value goes on past this piece.
    More,
    /// The value is well formed and ends after this many bytes of the piece.
    Done(usize),
    /// The value is malformed: `error` at byte `at` from the value's first byte.
    Invalid {
        /// Offset from the value's first byte.
        at: u64,
        /// What is wrong there.
        error: SyntaxError,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// A value must come (at the start, after `:` or `,` in an array).
    #[default]
    Value,
    /// After `[`: a value or `]`.
    FirstElement,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value in a container: `,` or its closer.
    After,
    /// Inside a string (a key's or a value's).
    Str { key: bool },
    /// After a backslash in a string.
    Escape { key: bool },
    /// In the hex digits of a `\u` escape: `digits` read so far, their value, and
    /// the high surrogate before it when this is the second of a pair.
    Hex {
        key: bool,
        digits: u8,
        value: u32,
        pair: bool,
    },
    /// After a high surrogate's escape: `\` of the low one must come (`seen` 0) then
    /// `u` (`seen` 1).
    Low { key: bool, seen: u8 },
    /// Inside a UTF-8 sequence: `left` continuation bytes to come, the next in
    /// `lo..=hi`.
    Utf8 { key: bool, left: u8, lo: u8, hi: u8 },
    /// In a number, at `part`.
    Number(Part),
    /// In a literal's letters; which one its first letter says.
    Literal,
    /// The value has ended.
    Done,
}

/// Where a number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// After `-`.
    Minus,
    /// After a leading `0`.
    Zero,
    /// In the integer's digits.
    Int,
    /// After `.`.
    Dot,
    /// In the fraction's digits.
    Frac,
    /// After `e`.
    Exp,
    /// After the exponent's sign.
    ExpSign,
    /// In the exponent's digits.
    ExpDigits,
}

impl Part {
    /// Whether a number may end here.
    fn complete(self) -> bool {
        matches!(self, Part::Zero | Part::Int | Part::Frac | Part::ExpDigits)
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl JsonCheck {
    /// For a value whose first byte is the next one fed (whitespace before it is
    /// passed over).
    pub fn new() -> Self {
        JsonCheck::default()
    }

    /// Where an unfinished token began (offset from the value's first byte): the
    /// bytes from there on are those an error found later would be reported at, so a
    /// reader that wants the error's line and column keeps them. `None` between
    /// tokens.
    pub fn token_start(&self) -> Option<u64> {
        match self.state {
            State::Number(_)
            | State::Literal
            | State::Escape { .. }
            | State::Hex { .. }
            | State::Low { .. }
            | State::Utf8 { .. } => Some(self.token),
            _ => None,
        }
    }

    /// Checks the next piece of the value; `last` if no byte comes after it.
    pub fn feed(&mut self, piece: &[u8], last: bool) -> Checked {
        let mut i = 0;
        while i < piece.len() {
            let at = self.fed + i as u64;
            let b = piece.get(i).copied().unwrap_or(0);
            let invalid = |error| Checked::Invalid { at, error };
            let unexpected = |expected| Checked::Invalid {
                at,
                error: SyntaxError::UnexpectedChar {
                    expected,
                    found: first_char(piece.get(i..).unwrap_or_default()),
                },
            };
            match self.state {
                State::Done => return Checked::Done(i),
                State::Value | State::FirstElement | State::FirstKey | State::Key if is_ws(b) => {}
                State::Colon | State::After if is_ws(b) => {}
                State::FirstElement if b == b']' => self.close(),
                State::FirstKey if b == b'}' => self.close(),
                State::FirstKey | State::Key => {
                    if b != b'"' {
                        let expected = if self.state == State::Key {
                            "a string key"
                        } else {
                            "a string key or '}'"
                        };
                        return unexpected(expected);
                    }
                    self.state = State::Str { key: true };
                }
                State::Value | State::FirstElement => match b {
                    b'{' | b'[' => {
                        self.open.push(b);
                        self.state = if b == b'{' {
                            State::FirstKey
                        } else {
                            State::FirstElement
                        };
                    }
                    b'"' => self.state = State::Str { key: false },
                    b'-' => self.start_token(at, State::Number(Part::Minus)),
                    b'0' => self.start_token(at, State::Number(Part::Zero)),
                    b'1'..=b'9' => self.start_token(at, State::Number(Part::Int)),
                    b't' | b'f' | b'n' => {
                        self.start_token(at, State::Literal);
                        self.word.clear();
                        self.word.push(b);
                    }
                    _ => return unexpected("a JSON value"),
                },
                State::Colon => {
                    if b != b':' {
                        return unexpected("':'");
                    }
                    self.state = State::Value;
                }
                State::After => match (self.open.last(), b) {
                    (Some(b'{'), b',') => self.state = State::Key,
                    (Some(_), b',') => self.state = State::Value,
                    (Some(b'{'), b'}') | (Some(b'['), b']') => self.close(),
                    (Some(b'{'), _) => return unexpected("',' or '}'"),
                    _ => return unexpected("',' or ']'"),
                },
                State::Str { key } => match b {
                    b'"' => self.end_string(key),
                    b'\\' => self.start_token(at, State::Escape { key }),
                    0..=0x1f => return invalid(SyntaxError::ControlCharacter),
                    0x20..=0x7f => {}
                    _ => match utf8_lead(b) {
                        Some((left, lo, hi)) => {
                            self.start_token(at, State::Utf8 { key, left, lo, hi });
                        }
                        None => return invalid(SyntaxError::InvalidUtf8),
                    },
                },
                State::Utf8 { key, left, lo, hi } => {
                    if !(lo..=hi).contains(&b) {
                        return Checked::Invalid {
                            at: self.token,
                            error: SyntaxError::InvalidUtf8,
                        };
                    }
                    self.state = if left == 1 {
                        State::Str { key }
                    } else {
                        State::Utf8 {
                            key,
                            left: left - 1,
                            lo: 0x80,
                            hi: 0xbf,
                        }
                    };
                }
                State::Escape { key } => match b {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                        self.state = State::Str { key };
                    }
                    b'u' => {
                        self.state = State::Hex {
                            key,
                            digits: 0,
                            value: 0,
                            pair: false,
                        };
                    }
                    _ => return self.invalid_token(SyntaxError::InvalidEscape),
                },
                State::Hex {
                    key,
                    digits,
                    value,
                    pair,
                } => {
                    let Some(d) = char::from(b).to_digit(16) else {
                        return self.invalid_token(SyntaxError::InvalidEscape);
                    };
                    let value = (value << 4) | d;
                    if digits < 3 {
                        self.state = State::Hex {
                            key,
                            digits: digits + 1,
                            value,
                            pair,
                        };
                    } else if pair {
                        if !(0xDC00..0xE000).contains(&value) {
                            return self.invalid_token(SyntaxError::LoneSurrogate);
                        }
                        self.state = State::Str { key };
                    } else if (0xD800..0xDC00).contains(&value) {
                        self.state = State::Low { key, seen: 0 };
                    } else if (0xDC00..0xE000).contains(&value) {
                        return self.invalid_token(SyntaxError::LoneSurrogate);
                    } else {
                        self.state = State::Str { key };
                    }
                }
                State::Low { key, seen } => match (seen, b) {
                    (0, b'\\') => self.state = State::Low { key, seen: 1 },
                    (1, b'u') => {
                        self.state = State::Hex {
                            key,
                            digits: 0,
                            value: 0,
                            pair: true,
                        };
                    }
                    _ => return self.invalid_token(SyntaxError::LoneSurrogate),
                },
                State::Number(part) => {
                    let next = match (part, b) {
                        (Part::Minus, b'0') => Some(Part::Zero),
                        (Part::Minus, b'1'..=b'9') => Some(Part::Int),
                        (Part::Zero, b'0'..=b'9') => {
                            return self.invalid_token(SyntaxError::LeadingZero);
                        }
                        (Part::Int, b'0'..=b'9') => Some(Part::Int),
                        (Part::Zero | Part::Int, b'.') => Some(Part::Dot),
                        (Part::Dot | Part::Frac, b'0'..=b'9') => Some(Part::Frac),
                        (Part::Zero | Part::Int | Part::Frac, b'e' | b'E') => Some(Part::Exp),
                        (Part::Exp, b'+' | b'-') => Some(Part::ExpSign),
                        (Part::Exp | Part::ExpSign | Part::ExpDigits, b'0'..=b'9') => {
                            Some(Part::ExpDigits)
                        }
                        _ => None,
                    };
                    match next {
                        Some(next) => self.state = State::Number(next),
                        // A letter or dot glued to the number (`1x`, `1.2.3`) is the
                        // number's error, as the engine has it.
                        None if !part.complete()
                            || b.is_ascii_alphabetic()
                            || matches!(b, b'.' | b'_') =>
                        {
                            return self.invalid_token(SyntaxError::InvalidNumber);
                        }
                        None => {
                            self.end_value();
                            continue;
                        }
                    }
                }
                State::Literal => {
                    if b.is_ascii_alphanumeric() {
                        if self.word.len() <= 20 {
                            self.word.push(b);
                        }
                    } else {
                        if let Err(error) = self.end_literal(None) {
                            return self.invalid_token(error);
                        }
                        self.end_value();
                        continue;
                    }
                }
            }
            i += 1;
        }
        self.fed += piece.len() as u64;
        if self.state == State::Done {
            return Checked::Done(piece.len());
        }
        if !last {
            return Checked::More;
        }
        // The input ends here.
        let at = self.fed;
        let end = |expected| Checked::Invalid {
            at,
            error: SyntaxError::UnexpectedEnd { expected },
        };
        let after = if self.open.last() == Some(&b'{') {
            "',' or '}'"
        } else {
            "',' or ']'"
        };
        match self.state {
            State::Number(part) if part.complete() && self.open.is_empty() => {
                Checked::Done(piece.len())
            }
            State::Number(part) if part.complete() => end(after),
            State::Number(_) => self.invalid_token(SyntaxError::InvalidNumber),
            State::Literal => match self.end_literal(Some(at)) {
                Ok(()) if self.open.is_empty() => Checked::Done(piece.len()),
                Ok(()) => end(after),
                Err(error @ SyntaxError::UnexpectedEnd { .. }) => Checked::Invalid { at, error },
                Err(error) => self.invalid_token(error),
            },
            State::Str { .. } | State::Utf8 { .. } => end("the end of the string"),
            State::Escape { .. } => end("an escape sequence"),
            State::Hex { .. } => self.invalid_token(SyntaxError::InvalidEscape),
            State::Low { .. } => self.invalid_token(SyntaxError::LoneSurrogate),
            State::Value | State::FirstElement => end("a JSON value"),
            State::FirstKey => end("a string key or '}'"),
            State::Key => end("a string key"),
            State::Colon => end("':'"),
            State::After => end(after),
            State::Done => Checked::Done(piece.len()),
        }
    }

    fn start_token(&mut self, at: u64, state: State) {
        self.token = at;
        self.state = state;
    }

    fn invalid_token(&self, error: SyntaxError) -> Checked {
        Checked::Invalid {
            at: self.token,
            error,
        }
    }

    /// A string ended: a key's colon comes next, or the value has ended.
    fn end_string(&mut self, key: bool) {
        if key {
            self.state = State::Colon;
        } else {
            self.end_value();
        }
    }

    /// A value ended: what comes after it in its container, or the end.
    fn end_value(&mut self) {
        self.state = if self.open.is_empty() {
            State::Done
        } else {
            State::After
        };
    }

    /// A container closed.
    fn close(&mut self) {
        self.open.pop();
        self.end_value();
    }

    /// Whether the literal's letters are its word; `end` if the input ends after
    /// them, where a word cut short (`tru`) is an unexpected end.
    fn end_literal(&self, end: Option<u64>) -> Result<(), SyntaxError> {
        let (word, name): (&[u8], _) = match self.word.first() {
            Some(b't') => (b"true", "`true`"),
            Some(b'f') => (b"false", "`false`"),
            _ => (b"null", "`null`"),
        };
        if self.word == word {
            return Ok(());
        }
        if end.is_some() && self.word.len() < word.len() && word.starts_with(&self.word) {
            return Err(SyntaxError::UnexpectedEnd { expected: name });
        }
        let mut found: String = self.word.iter().take(20).map(|&c| char::from(c)).collect();
        if self.word.len() > 20 {
            found.push('…');
        }
        Err(SyntaxError::InvalidLiteral(found.into()))
    }
}

/// A UTF-8 sequence's lead byte (past ASCII): the continuation bytes to come and
/// the range of the first of them; `None` for a byte no sequence starts with.
fn utf8_lead(b: u8) -> Option<(u8, u8, u8)> {
    match b {
        0xc2..=0xdf => Some((1, 0x80, 0xbf)),
        0xe0 => Some((2, 0xa0, 0xbf)),
        0xe1..=0xec | 0xee..=0xef => Some((2, 0x80, 0xbf)),
        0xed => Some((2, 0x80, 0x9f)),
        0xf0 => Some((3, 0x90, 0xbf)),
        0xf1..=0xf3 => Some((3, 0x80, 0xbf)),
        0xf4 => Some((3, 0x80, 0x8f)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::parse::{ParseError, Parser};

    /// The engine's verdict on the value at the start of `bytes`: where it ends, or
    /// its error.
    fn engine(bytes: &[u8]) -> Result<u64, (u64, SyntaxError)> {
        let mut p = Parser::checked(bytes, usize::MAX);
        match p.skip_value(0) {
            Ok(()) => Ok(p.pos() as u64),
            Err(ParseError::Syntax(e, at)) => Err((at as u64, e)),
            Err(ParseError::TooDeep(at)) => Err((at as u64, SyntaxError::TrailingCharacters)),
        }
    }

    /// The check's verdict, `bytes` fed in pieces cut at `cuts`.
    fn checked(bytes: &[u8], cuts: &[usize]) -> Result<u64, (u64, SyntaxError)> {
        let mut check = JsonCheck::new();
        let mut from = 0;
        let mut ends: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
        ends.sort_unstable();
        ends.push(bytes.len());
        for (k, &to) in ends.iter().enumerate() {
            let to = to.max(from);
            let piece = bytes.get(from..to).unwrap_or_default();
            match check.feed(piece, k + 1 == ends.len()) {
                Checked::More => from = to,
                Checked::Done(n) => return Ok((from + n) as u64),
                Checked::Invalid { at, error } => return Err((at, error)),
            }
        }
        Err((u64::MAX, SyntaxError::TrailingCharacters))
    }

    #[test]
    fn errors_are_the_engines_at_the_same_places() {
        let cases: &[&[u8]] = &[
            br#"{"a": [1, 2.5e-3, true, false, null, "x\"\u00e9\ud83d\ude00"], "b": {}}"#,
            b"[]",
            b"\"caf\xc3\xa9\"",
            b"-0",
            b"12 ",
            b"{\"a\" 1}",
            b"{\"a\": tru}",
            b"[nul",
            b"[truex]",
            b"[1, 01]",
            b"[1.]",
            b"[-]",
            b"[1e+]",
            b"[1.2.3]",
            b"[1x]",
            b"[1",
            b"[1,",
            b"{",
            b"{\"a\":1,}",
            b"{1:2}",
            b"[1 2]",
            b"[1}",
            b"{\"a\":1]",
            b"\"a\\qb\"",
            b"\"a\\u12g4\"",
            b"\"a\\u12",
            b"\"a\\",
            b"\"a\\ud800\"",
            b"\"a\\ud800\\u0041\"",
            b"\"a\\udc00\"",
            b"\"a\tb\"",
            b"\"abc",
            b"\"a\xffb\"",
            b"\"a\xe2\x82\"",
            b"\"a\xed\xa0\x80\"",
            b"[\xff]",
            b"x",
            b"",
            b"   ",
            b"[\"a\", {\"b\": [nan]}]",
            b"[ttttttttttttttttttttttttttt]",
        ];
        for case in cases {
            let text = String::from_utf8_lossy(case);
            let whole = checked(case, &[]);
            assert_eq!(whole, engine(case), "{text}");
            for cut in 0..=case.len() {
                assert_eq!(checked(case, &[cut]), whole, "{text} cut at {cut}");
            }
        }
    }

    #[test]
    fn the_unfinished_token_is_told() {
        let mut check = JsonCheck::new();
        assert_eq!(check.feed(b"[1, \"ab\\u00", false), Checked::More);
        assert_eq!(check.token_start(), Some(7));
        assert_eq!(check.feed(b"e9\", 12", false), Checked::More);
        assert_eq!(check.token_start(), Some(16));
        assert_eq!(check.feed(b"3, ", false), Checked::More);
        assert_eq!(check.token_start(), None);
    }

    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"{".to_vec()),
            Just(b"}".to_vec()),
            Just(b"[".to_vec()),
            Just(b"]".to_vec()),
            Just(b",".to_vec()),
            Just(b":".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\"k\":".to_vec()),
            Just(b"\\".to_vec()),
            Just(b"\\u".to_vec()),
            Just(b"d83d".to_vec()),
            Just(b"de00".to_vec()),
            Just(b"0".to_vec()),
            Just(b"17".to_vec()),
            Just(b"-".to_vec()),
            Just(b".".to_vec()),
            Just(b"e".to_vec()),
            Just(b"+".to_vec()),
            Just(b"true".to_vec()),
            Just(b"fals".to_vec()),
            Just(b"null".to_vec()),
            Just(b"x".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\x01".to_vec()),
            Just(b"\xc3\xa9".to_vec()),
            Just(b"\xe2\x82".to_vec()),
            Just(b"\xff".to_vec()),
        ]
    }

    proptest! {
        /// Any bytes, cut anywhere: the check agrees with the engine on whether the
        /// value is well formed and where it ends; on ASCII, on its error and place
        /// too (past ASCII the engine finds a string's bad UTF-8 after its end).
        #[test]
        fn agrees_with_the_engine(
            pieces in proptest::collection::vec(piece(), 0..40),
            cuts in proptest::collection::vec(0usize..200, 0..4),
        ) {
            let bytes = pieces.concat();
            let ours = checked(&bytes, &cuts);
            let theirs = engine(&bytes);
            prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}", String::from_utf8_lossy(&bytes));
            if bytes.is_ascii() || ours.is_ok() {
                prop_assert_eq!(&ours, &theirs, "{:?}", String::from_utf8_lossy(&bytes));
            }
            // A character past ASCII that is not where it may be is named as
            // U+FFFD if its bytes are cut apart.
            let named = |r: Result<u64, (u64, SyntaxError)>| match r {
                Err((at, SyntaxError::UnexpectedChar { expected, found })) if !found.is_ascii() => {
                    Err((at, SyntaxError::UnexpectedChar { expected, found: '\u{fffd}' }))
                }
                other => other,
            };
            prop_assert_eq!(named(ours), named(checked(&bytes, &[])));
        }
    }
}
