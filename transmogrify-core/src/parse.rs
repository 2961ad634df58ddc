//! A pull parser over the bytes of one JSON value.
//!
//! The flattener drives it directly, so no document tree is ever built: strings come
//! back borrowed from the input when they hold no escapes, numbers come back as their
//! exact source text, and containers are walked by the caller. Skipping and copying a
//! value are iterative, so no input depth can overflow the stack.

#![expect(
    clippy::indexing_slicing,
    reason = "each slice ends at a position the scanner reached by checking it against the input length first, and the tables are indexed by a byte (256 entries)"
)]

use crate::error::SyntaxError;

/// A syntax error at a byte offset of the parsed slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Malformed JSON.
    Syntax(SyntaxError, usize),
    /// Nesting deeper than the limit.
    TooDeep(usize),
}

pub(crate) type PResult<T> = Result<T, ParseError>;

/// The kind of the next value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peek {
    Object,
    Array,
    String,
    Number,
    True,
    False,
    Null,
}

/// What a number looks like; decides its type in typed mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberKind {
    /// An integer that fits in `i64`.
    Int,
    /// An integer that does not fit in `i64`.
    BigInt,
    /// A number with a fraction or exponent.
    Float,
}

// Bytes that end the fast scan of a string: quote, backslash and control characters.
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Index of the first byte at or after `i` that ends a plain run of string bytes
/// (a quote, a backslash or a control character), and whether the run was all ASCII.
/// Eight bytes at a time, ASCII or not (non-ASCII text is validated afterwards).
#[inline]
fn scan_plain(bytes: &[u8], mut i: usize) -> (usize, bool) {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut high = 0u64;
    #[cfg(target_arch = "x86_64")]
    {
        // Sixteen bytes at a time with SSE2 (part of every x86-64 processor).
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        let mut any_high = 0i32;
        while let Some(block) = bytes.get(i..i + 16) {
            // SAFETY: SSE2 is enabled on every x86-64 target; `block` is 16 readable
            // bytes and `_mm_loadu_si128` accepts any alignment.
            let (stop, top) = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                // Unsigned v <= 0x1f: min(v, 0x1f) == v.
                let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
                let stop = _mm_or_si128(_mm_or_si128(quote, backslash), control);
                (_mm_movemask_epi8(stop), _mm_movemask_epi8(v))
            };
            if stop == 0 {
                any_high |= top;
                i += 16;
                continue;
            }
            let plain = stop.trailing_zeros();
            let before = (1i32 << plain) - 1;
            return (i + plain as usize, (any_high | (top & before)) == 0);
        }
        if any_high != 0 {
            high = HI;
        }
    }
    while let Some(word) = bytes.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        let quote = w ^ (LO * u64::from(b'"'));
        let backslash = w ^ (LO * u64::from(b'\\'));
        // Exact as yes/no tests: a zero byte (quote, backslash) or a byte below 0x20.
        let stop = (quote.wrapping_sub(LO) & !quote)
            | (backslash.wrapping_sub(LO) & !backslash)
            | (w.wrapping_sub(LO * 0x20) & !w);
        let stop = stop & HI;
        if stop == 0 {
            high |= w;
            i += 8;
            continue;
        }
        // The tests above can flag bytes after the first stop (a borrow runs on),
        // never before it: the lowest flag is the stop.
        let plain = (stop.trailing_zeros() / 8) as usize;
        let before = u64::MAX.checked_shr(64 - 8 * plain as u32).unwrap_or(0);
        return (i + plain, (high | (w & before)) & HI == 0);
    }
    // Fewer than eight bytes left.
    let mut ascii = high & HI == 0;
    while let Some(&b) = bytes.get(i) {
        if STRING_STOP[b as usize] {
            break;
        }
        ascii &= b < 0x80;
        i += 1;
    }
    (i, ascii)
}

/// Equality of two keys, inline for the short ones keys mostly are (no call into
/// `memcmp` for every key of every record).
#[inline(always)]
pub(crate) fn key_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n > 16 {
        return a == b;
    }
    if let (Some(a0), Some(b0), Some(a1), Some(b1)) = (
        a.first_chunk::<8>(),
        b.first_chunk::<8>(),
        a.last_chunk::<8>(),
        b.last_chunk::<8>(),
    ) {
        return a0 == b0 && a1 == b1;
    }
    if let (Some(a0), Some(b0), Some(a1), Some(b1)) = (
        a.first_chunk::<4>(),
        b.first_chunk::<4>(),
        a.last_chunk::<4>(),
        b.last_chunk::<4>(),
    ) {
        return a0 == b0 && a1 == b1;
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// `bytes` as text: unchecked when `known_valid`, validated otherwise.
///
/// `known_valid` may only be true for bytes made of raw runs that [`scan_plain`] found
/// all-ASCII, or raw runs of an input checked valid as a whole and cut only at ASCII
/// bytes (quotes, backslashes), and of characters written by unescaping
/// (`char::encode_utf8`): all are valid UTF-8 by construction.
#[inline]
fn checked_str(bytes: &[u8], known_valid: bool, at: usize) -> PResult<&str> {
    if known_valid {
        // SAFETY: per the contract above, every byte is either an ASCII byte that
        // `scan_plain` examined, part of a run of valid UTF-8 cut at character
        // boundaries (ASCII bytes), or part of a UTF-8 sequence produced by
        // `char::encode_utf8`, so `bytes` is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    to_str(bytes, at)
}

/// The character `bytes` start with, U+FFFD for a byte that starts none (or none
/// at all).
pub(crate) fn first_char(bytes: &[u8]) -> char {
    let tail = bytes.get(..bytes.len().min(4)).unwrap_or_default();
    let valid = match std::str::from_utf8(tail) {
        Ok(s) => s,
        Err(e) => {
            std::str::from_utf8(tail.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default()
        }
    };
    valid.chars().next().unwrap_or('\u{fffd}')
}

pub(crate) struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    nesting_limit: usize,
    /// All of `bytes` is known to be valid UTF-8: then so is every run of it between
    /// two ASCII bytes, and strings need no checking of their own.
    valid_utf8: bool,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(bytes: &'a [u8], nesting_limit: usize) -> Self {
        Parser {
            bytes,
            pos: 0,
            nesting_limit,
            valid_utf8: false,
        }
    }

    /// A parser of `bytes` that checks them for valid UTF-8 at once, in one fast
    /// pass, instead of string by string. Invalid input is still parsed string by
    /// string, so an error names the string that holds the bad byte.
    pub(crate) fn checked(bytes: &'a [u8], nesting_limit: usize) -> Self {
        Parser {
            valid_utf8: simdutf8::basic::from_utf8(bytes).is_ok(),
            ..Parser::new(bytes, nesting_limit)
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    fn syntax<T>(&self, e: SyntaxError, at: usize) -> PResult<T> {
        Err(ParseError::Syntax(e, at))
    }

    fn unexpected<T>(&self, expected: &'static str) -> PResult<T> {
        match self.bytes.get(self.pos) {
            None => self.syntax(SyntaxError::UnexpectedEnd { expected }, self.pos),
            Some(_) => {
                let found = self.char_at(self.pos);
                self.syntax(SyntaxError::UnexpectedChar { expected, found }, self.pos)
            }
        }
    }

    fn char_at(&self, at: usize) -> char {
        first_char(self.bytes.get(at..).unwrap_or_default())
    }

    #[inline]
    pub(crate) fn skip_ws(&mut self) {
        // Every JSON whitespace byte is at most b' ': one comparison settles the next
        // byte of compact JSON, where no whitespace comes.
        if self.bytes.get(self.pos).is_none_or(|&b| b > b' ') {
            return;
        }
        while let Some(&b) = self.bytes.get(self.pos) {
            if b == b' ' || b == b'\n' || b == b'\r' || b == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// Skips whitespace and tells what the next value is, without consuming it.
    #[inline]
    pub(crate) fn peek_value(&mut self) -> PResult<Peek> {
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b'{') => Ok(Peek::Object),
            Some(b'[') => Ok(Peek::Array),
            Some(b'"') => Ok(Peek::String),
            Some(b'-' | b'0'..=b'9') => Ok(Peek::Number),
            Some(b't') => Ok(Peek::True),
            Some(b'f') => Ok(Peek::False),
            Some(b'n') => Ok(Peek::Null),
            _ => self.unexpected("a JSON value"),
        }
    }

    /// Fails unless only whitespace is left.
    pub(crate) fn expect_end(&mut self) -> PResult<()> {
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return self.syntax(SyntaxError::TrailingCharacters, self.pos);
        }
        Ok(())
    }

    /// Consumes `{` (the caller has peeked it) and tells whether the object has a first key.
    #[inline]
    pub(crate) fn begin_object(&mut self) -> PResult<bool> {
        self.pos += 1;
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b'}') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b'"') => Ok(true),
            _ => self.unexpected("a string key or '}'"),
        }
    }

    /// After a member value: consumes `,` (true, a key follows) or `}` (false).
    #[inline]
    pub(crate) fn next_member(&mut self) -> PResult<bool> {
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b',') => {
                self.pos += 1;
                self.skip_ws();
                if self.bytes.get(self.pos) == Some(&b'"') {
                    Ok(true)
                } else {
                    self.unexpected("a string key")
                }
            }
            Some(b'}') => {
                self.pos += 1;
                Ok(false)
            }
            _ => self.unexpected("',' or '}'"),
        }
    }

    /// If the key at the parser is written exactly as `key` (raw bytes, then the
    /// closing quote and a colon), consumes it with the colon and returns true;
    /// otherwise leaves the parser as it was. `key` must hold no quote, backslash or
    /// control character, so that the string cannot end inside it and its bytes,
    /// being `key`'s own, are valid UTF-8.
    #[inline]
    pub(crate) fn try_key(&mut self, key: &[u8]) -> bool {
        let start = self.pos + 1;
        let end = start + key.len();
        if !(self
            .bytes
            .get(start..end)
            .is_some_and(|raw| key_eq(raw, key))
            && self.bytes.get(end) == Some(&b'"'))
        {
            return false;
        }
        let at = self.pos;
        self.pos = end + 1;
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b':') {
            self.pos += 1;
            true
        } else {
            self.pos = at;
            false
        }
    }

    /// Parses a key and the colon after it.
    #[inline]
    pub(crate) fn key<'s>(&mut self, scratch: &'s mut Vec<u8>) -> PResult<&'s str>
    where
        'a: 's,
    {
        let key = self.string(scratch)?;
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b':') {
            self.pos += 1;
            Ok(key)
        } else {
            self.unexpected("':'")
        }
    }

    /// Like [`Parser::key`] for a key that needs no unescaping: its raw bytes, from the
    /// input. `None` (nothing consumed) for a key with escapes.
    pub(crate) fn plain_key(&mut self) -> PResult<Option<&'a [u8]>> {
        let Some(key) = self.plain_string_token() else {
            return Ok(None);
        };
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b':') {
            self.pos += 1;
            Ok(Some(key))
        } else {
            self.unexpected("':'")
        }
    }

    /// Consumes `[` and tells whether the array has a first element.
    #[inline]
    pub(crate) fn begin_array(&mut self) -> PResult<bool> {
        self.pos += 1;
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// After an element: consumes `,` (true) or `]` (false).
    #[inline]
    pub(crate) fn next_element(&mut self) -> PResult<bool> {
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b']') => {
                self.pos += 1;
                Ok(false)
            }
            _ => self.unexpected("',' or ']'"),
        }
    }

    /// Parses a string at the current position (which holds `"`), borrowing it from the
    /// input when it has no escapes and unescaping into `scratch` otherwise.
    #[inline]
    pub(crate) fn string<'s>(&mut self, scratch: &'s mut Vec<u8>) -> PResult<&'s str>
    where
        'a: 's,
    {
        let start = self.pos + 1;
        let bytes = self.bytes;
        let (i, ascii) = scan_plain(bytes, start);
        match bytes.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                checked_str(&bytes[start..i], ascii || self.valid_utf8, start)
            }
            Some(b'\\') => {
                scratch.clear();
                scratch.extend_from_slice(&bytes[start..i]);
                self.pos = i;
                let raw_ascii = self.unescape_rest(scratch)? && ascii;
                checked_str(scratch, raw_ascii || self.valid_utf8, start)
            }
            Some(_) => self.syntax(SyntaxError::ControlCharacter, i),
            None => self.syntax(
                SyntaxError::UnexpectedEnd {
                    expected: "the end of the string",
                },
                bytes.len(),
            ),
        }
    }

    /// Appends the unescaped string at the current position to `out`; returns whether
    /// it was empty.
    pub(crate) fn string_into(&mut self, out: &mut Vec<u8>) -> PResult<bool> {
        let before = out.len();
        let start = self.pos + 1;
        let bytes = self.bytes;
        let (i, ascii) = scan_plain(bytes, start);
        out.extend_from_slice(&bytes[start..i]);
        self.pos = i;
        let raw_ascii = match bytes.get(i) {
            Some(b'"') => {
                self.pos += 1;
                ascii
            }
            _ => self.unescape_rest(out)? && ascii,
        };
        // Escapes only ever produce valid UTF-8; raw bytes need checking unless ASCII.
        if !raw_ascii && !self.valid_utf8 && std::str::from_utf8(&out[before..]).is_err() {
            out.truncate(before);
            // At the first bad byte: escapes are ASCII, so the string's raw bytes are
            // valid exactly as far as its unescaped text is.
            let end = self.pos.saturating_sub(1).max(start);
            let at = std::str::from_utf8(&bytes[start..end])
                .err()
                .map_or(start, |e| start + e.valid_up_to());
            return self.syntax(SyntaxError::InvalidUtf8, at);
        }
        Ok(out.len() == before)
    }

    /// Continues a string from `self.pos` (inside it), appending to `out` up to and
    /// including the closing quote's consumption. Returns whether every raw (unescaped)
    /// byte copied was ASCII.
    fn unescape_rest(&mut self, out: &mut Vec<u8>) -> PResult<bool> {
        let bytes = self.bytes;
        let mut all_ascii = true;
        loop {
            let run = self.pos;
            let (i, ascii) = scan_plain(bytes, run);
            all_ascii &= ascii;
            out.extend_from_slice(&bytes[run..i]);
            match bytes.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(all_ascii);
                }
                Some(b'\\') => {
                    let esc = i;
                    let c = match bytes.get(i + 1) {
                        Some(&c) => c,
                        None => {
                            return self.syntax(
                                SyntaxError::UnexpectedEnd {
                                    expected: "an escape sequence",
                                },
                                bytes.len(),
                            );
                        }
                    };
                    self.pos = i + 2;
                    match c {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hi = self.hex4(esc)?;
                            let ch = if (0xD800..0xDC00).contains(&hi) {
                                if bytes.get(self.pos) != Some(&b'\\')
                                    || bytes.get(self.pos + 1) != Some(&b'u')
                                {
                                    return self.syntax(SyntaxError::LoneSurrogate, esc);
                                }
                                self.pos += 2;
                                let lo = self.hex4(esc)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.syntax(SyntaxError::LoneSurrogate, esc);
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return self.syntax(SyntaxError::LoneSurrogate, esc);
                            } else {
                                hi
                            };
                            let ch = char::from_u32(ch).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return self.syntax(SyntaxError::InvalidEscape, esc),
                    }
                }
                Some(_) => return self.syntax(SyntaxError::ControlCharacter, i),
                None => {
                    return self.syntax(
                        SyntaxError::UnexpectedEnd {
                            expected: "the end of the string",
                        },
                        bytes.len(),
                    );
                }
            }
        }
    }

    fn hex4(&mut self, esc: usize) -> PResult<u32> {
        let Some(digits) = self.bytes.get(self.pos..self.pos + 4) else {
            return self.syntax(SyntaxError::InvalidEscape, esc);
        };
        let mut v = 0u32;
        for &d in digits {
            let n = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return self.syntax(SyntaxError::InvalidEscape, esc),
            };
            v = (v << 4) | u32::from(n);
        }
        self.pos += 4;
        Ok(v)
    }

    /// Parses a number and returns its exact text and kind.
    #[inline]
    pub(crate) fn number(&mut self) -> PResult<(&'a str, NumberKind)> {
        let bytes = self.bytes;
        let start = self.pos;
        let mut i = start;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        match bytes.get(i) {
            Some(b'0') => {
                i += 1;
                if matches!(bytes.get(i), Some(b'0'..=b'9')) {
                    return self.syntax(SyntaxError::LeadingZero, start);
                }
            }
            Some(b'1'..=b'9') => {
                while matches!(bytes.get(i), Some(b'0'..=b'9')) {
                    i += 1;
                }
            }
            _ => return self.syntax(SyntaxError::InvalidNumber, start),
        }
        let int_digits = i - int_start;
        let mut float = false;
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            let d = i;
            while matches!(bytes.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            if i == d {
                return self.syntax(SyntaxError::InvalidNumber, start);
            }
            float = true;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let d = i;
            while matches!(bytes.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            if i == d {
                return self.syntax(SyntaxError::InvalidNumber, start);
            }
            float = true;
        }
        // A letter or dot glued to the number (`1x`, `1.2.3`) is an error here rather
        // than a confusing one about separators.
        if matches!(bytes.get(i), Some(b'a'..=b'z' | b'A'..=b'Z' | b'.' | b'_')) {
            return self.syntax(SyntaxError::InvalidNumber, start);
        }
        self.pos = i;
        let text = ascii(&bytes[start..i]);
        let kind = if float {
            NumberKind::Float
        } else if int_digits < 19 || text.parse::<i64>().is_ok() {
            NumberKind::Int
        } else {
            NumberKind::BigInt
        };
        Ok((text, kind))
    }

    /// If the string at the current position is `""`, consumes it and returns true.
    #[inline]
    pub(crate) fn empty_string(&mut self) -> bool {
        if self.bytes.get(self.pos + 1) == Some(&b'"') {
            self.pos += 2;
            true
        } else {
            false
        }
    }

    /// Consumes `true`, `false` or `null` (whichever was peeked).
    #[inline]
    pub(crate) fn literal(&mut self, word: &'static [u8]) -> PResult<()> {
        let end = self.pos + word.len();
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        if rest.len() < word.len() && word.starts_with(rest) {
            // The input ends inside the word (`tru`): it is cut short, not misspelt.
            let expected = match word {
                b"true" => "`true`",
                b"false" => "`false`",
                _ => "`null`",
            };
            return self.syntax(SyntaxError::UnexpectedEnd { expected }, self.bytes.len());
        }
        if self.bytes.get(self.pos..end) == Some(word)
            && !matches!(
                self.bytes.get(end),
                Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9')
            )
        {
            self.pos = end;
            Ok(())
        } else {
            self.bad_literal(rest)
        }
    }

    /// The error for a misspelt literal at the current position, `rest` the input
    /// from there.
    #[cold]
    #[inline(never)]
    fn bad_literal(&self, rest: &[u8]) -> PResult<()> {
        // The word as far as letters and digits go (`tru`, `nan`, `t`); the peek
        // that led here saw its first letter, `t`, `f` or `n`.
        let len = rest
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        let mut found: String = rest
            .iter()
            .take(len.min(20))
            .map(|&c| char::from(c))
            .collect();
        if len > 20 {
            found.push('…');
        }
        self.syntax(SyntaxError::InvalidLiteral(found.into()), self.pos)
    }

    /// Skips one value at `depth` (the depth of the value's container), iteratively.
    pub(crate) fn skip_value(&mut self, depth: usize) -> PResult<()> {
        self.walk(depth, &mut NoSink)
    }

    /// Moves past the value at the current position, which the caller knows to be
    /// valid JSON, by its strings and brackets alone: no checking, several times faster
    /// than [`Parser::skip_value`].
    pub(crate) fn skip_valid_value(&mut self) {
        let bytes = self.bytes;
        let mut i = self.pos;
        match bytes.get(i) {
            Some(b'{' | b'[') => {}
            Some(b'"') => {
                self.pos = end_of_valid_string(bytes, i + 1);
                return;
            }
            _ => {
                // A number or a literal: as far as the characters they are made of go.
                while bytes
                    .get(i)
                    .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                {
                    i += 1;
                }
                self.pos = i;
                return;
            }
        }
        let mut depth = 0usize;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => {
                    i = end_of_valid_string(bytes, i + 1);
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.pos = i;
    }

    /// Writes one value as compact JSON to `out` (strings re-escaped minimally,
    /// numbers in their exact text), iteratively.
    pub(crate) fn compact_value(&mut self, depth: usize, out: &mut Vec<u8>) -> PResult<()> {
        self.walk(depth, &mut CompactSink { out })
    }

    /// Writes the array at the current position (`[`) to `out` as compact JSON, like
    /// [`Parser::compact_value`], and returns true; unless one of its elements is an
    /// object: then nothing is written, the parser is left at the array and false is
    /// returned. One pass for the common array of scalars, rather than one to look
    /// for objects and another to write it.
    pub(crate) fn compact_scalar_array(
        &mut self,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> PResult<bool> {
        if depth + 1 > self.nesting_limit {
            return Err(ParseError::TooDeep(self.pos));
        }
        let (save, mark) = (self.pos, out.len());
        out.push(b'[');
        if !self.begin_array()? {
            out.push(b']');
            return Ok(true);
        }
        loop {
            // Scalars are written here as `walk` would write them; only a nested
            // array goes through it.
            match self.peek_value()? {
                Peek::Object => {
                    self.pos = save;
                    out.truncate(mark);
                    return Ok(false);
                }
                Peek::Array => self.compact_value(depth + 1, out)?,
                scalar => self.scalar(scalar, &mut CompactSink { out: &mut *out })?,
            }
            if !self.next_element()? {
                out.push(b']');
                return Ok(true);
            }
            out.push(b',');
        }
    }

    /// Consumes the scalar (string, number or literal) `peek` announced and hands its
    /// compact text to `sink`. Containers are the caller's.
    #[inline]
    fn scalar<S: Sink + ?Sized>(&mut self, peek: Peek, sink: &mut S) -> PResult<()> {
        match peek {
            Peek::String => sink.string(self),
            Peek::Number => {
                let (text, _) = self.number()?;
                sink.bytes(text.as_bytes());
                Ok(())
            }
            Peek::True | Peek::False | Peek::Null => {
                let word: &'static [u8] = match peek {
                    Peek::True => b"true",
                    Peek::False => b"false",
                    _ => b"null",
                };
                self.literal(word)?;
                sink.bytes(word);
                Ok(())
            }
            Peek::Object | Peek::Array => self.unexpected("a scalar"),
        }
    }

    fn walk(&mut self, depth: usize, sink: &mut dyn Sink) -> PResult<()> {
        // Stack of open containers: true for objects.
        let mut stack: Vec<bool> = Vec::new();
        loop {
            // Parse one value (opening containers as needed).
            match self.peek_value()? {
                Peek::Object => {
                    if depth + stack.len() + 1 > self.nesting_limit {
                        return Err(ParseError::TooDeep(self.pos));
                    }
                    sink.byte(b'{');
                    if self.begin_object()? {
                        stack.push(true);
                        self.walk_key(sink)?;
                        continue;
                    }
                    sink.byte(b'}');
                }
                Peek::Array => {
                    if depth + stack.len() + 1 > self.nesting_limit {
                        return Err(ParseError::TooDeep(self.pos));
                    }
                    sink.byte(b'[');
                    if self.begin_array()? {
                        stack.push(false);
                        continue;
                    }
                    sink.byte(b']');
                }
                scalar => self.scalar(scalar, sink)?,
            }
            // Close finished containers, or move on to the next member/element.
            loop {
                match stack.last() {
                    None => return Ok(()),
                    Some(true) => {
                        if self.next_member()? {
                            sink.byte(b',');
                            self.walk_key(sink)?;
                            break;
                        }
                        sink.byte(b'}');
                        stack.pop();
                    }
                    Some(false) => {
                        if self.next_element()? {
                            sink.byte(b',');
                            break;
                        }
                        sink.byte(b']');
                        stack.pop();
                    }
                }
            }
        }
    }

    fn walk_key(&mut self, sink: &mut dyn Sink) -> PResult<()> {
        sink.string(self)?;
        self.skip_ws();
        if self.bytes.get(self.pos) != Some(&b':') {
            return self.unexpected("':'");
        }
        self.pos += 1;
        sink.byte(b':');
        Ok(())
    }

    /// The raw bytes of the string token at the current position, if it needs no
    /// unescaping, and moves past it.
    pub(crate) fn plain_string_token(&mut self) -> Option<&'a [u8]> {
        let start = self.pos + 1;
        let bytes = self.bytes;
        let (i, ascii) = scan_plain(bytes, start);
        if bytes.get(i) == Some(&b'"')
            && (ascii || self.valid_utf8 || std::str::from_utf8(&bytes[start..i]).is_ok())
        {
            self.pos = i + 1;
            Some(&bytes[start..i])
        } else {
            None
        }
    }
}

fn to_str(bytes: &[u8], at: usize) -> PResult<&str> {
    std::str::from_utf8(bytes).map_err(|e| {
        ParseError::Syntax(
            SyntaxError::InvalidUtf8,
            at + e.valid_up_to().min(bytes.len()),
        )
    })
}

/// Where a valid string whose contents start at `from` ends: just past its closing quote.
fn end_of_valid_string(bytes: &[u8], mut from: usize) -> usize {
    loop {
        match memchr::memchr2(b'"', b'\\', bytes.get(from..).unwrap_or_default()) {
            Some(k) if bytes.get(from + k) == Some(&b'"') => return from + k + 1,
            // A backslash escapes the byte after it.
            Some(k) => from += k + 2,
            None => return bytes.len(),
        }
    }
}

/// Text of a slice the number scanner accepted: only ASCII digits, signs, dots and `e`.
fn ascii(bytes: &[u8]) -> &str {
    debug_assert!(bytes.is_ascii());
    // SAFETY: the number scanner accepts only ASCII digits, signs, `.`, `e` and `E`,
    // and ASCII is valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

trait Sink {
    fn byte(&mut self, b: u8);
    fn bytes(&mut self, b: &[u8]);
    fn string(&mut self, p: &mut Parser<'_>) -> PResult<()>;
}

struct NoSink;

impl Sink for NoSink {
    fn byte(&mut self, _: u8) {}
    fn bytes(&mut self, _: &[u8]) {}
    fn string(&mut self, p: &mut Parser<'_>) -> PResult<()> {
        if p.plain_string_token().is_some() {
            return Ok(());
        }
        let mut scratch = Vec::new();
        p.string(&mut scratch).map(|_| ())
    }
}

struct CompactSink<'o> {
    out: &'o mut Vec<u8>,
}

impl Sink for CompactSink<'_> {
    fn byte(&mut self, b: u8) {
        self.out.push(b);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }
    fn string(&mut self, p: &mut Parser<'_>) -> PResult<()> {
        if let Some(raw) = p.plain_string_token() {
            // No escapes and no control characters: already minimal.
            self.out.push(b'"');
            self.out.extend_from_slice(raw);
            self.out.push(b'"');
            return Ok(());
        }
        let mut scratch = Vec::new();
        let s = p.string(&mut scratch)?;
        write_json_string(self.out, s.as_bytes());
        Ok(())
    }
}

/// Writes `s` as a JSON string with minimal escaping.
/// Appends `text` to `out` as a JSON string with minimal escaping: `"` and `\\`, the
/// short escapes (`\\n`, `\\r`, `\\t`, `\\b`, `\\f`) and `\\u00XX` for other control
/// characters; every other byte is copied as it is, so UTF-8 text stays UTF-8. The
/// form every JSON text of Transmogrify uses.
///
/// ```
/// let mut out = Vec::new();
/// transmogrify_core::write_json_string(&mut out, "a\"b\\c\nd\u{1}é".as_bytes());
/// assert_eq!(String::from_utf8(out)?, r#""a\"b\\c\nd\u0001é""#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_json_string(out: &mut Vec<u8>, text: &[u8]) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    let mut rest = text;
    loop {
        let (plain, tail) = rest.split_at(clean_prefix(rest));
        out.extend_from_slice(plain);
        let Some((&b, after)) = tail.split_first() else {
            break;
        };
        push_escape(out, b);
        rest = after;
    }
    out.push(b'"');
}

/// Appends the escape of `b`, a byte a JSON string must escape.
fn push_escape(out: &mut Vec<u8>, b: u8) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
    }
}

/// How many leading bytes of `bytes` need no escaping, eight at a time: each word is
/// tested for control characters, quotes and backslashes all at once, and a tail
/// shorter than a word as a word of its bytes and plain ones (most cells are
/// shorter than a word or two, where a byte-by-byte scan took most of the time).
#[inline]
fn clean_prefix(bytes: &[u8]) -> usize {
    let mut i = 0;
    while let Some(word) = bytes.get(i..i + 8) {
        let mut block = [0u8; 8];
        block.copy_from_slice(word);
        if let Some(k) = first_escape(u64::from_le_bytes(block)) {
            return i + k;
        }
        i += 8;
    }
    let tail = bytes.len() - i;
    if tail == 0 {
        return i;
    }
    i + first_escape(tail_word(bytes, tail)).unwrap_or(tail)
}

/// The last `tail` bytes of `text` (fewer than eight) in the low end of a word, plain
/// bytes above them: the text's last word shifted down where there is one (no copy
/// through memory), byte by byte where the text is shorter than a word.
#[inline]
fn tail_word(text: &[u8], tail: usize) -> u64 {
    /// Eight bytes that need no escaping, for the room beyond a tail.
    const PLAIN: u64 = u64::from_le_bytes([b'a'; 8]);
    let low = match text
        .len()
        .checked_sub(8)
        .and_then(|start| text.get(start..))
    {
        Some(last) => {
            let mut block = [0u8; 8];
            block.copy_from_slice(last);
            u64::from_le_bytes(block) >> (8 * (8 - tail))
        }
        None => text
            .get(text.len() - tail..)
            .unwrap_or_default()
            .iter()
            .rev()
            .fold(0u64, |word, &b| (word << 8) | u64::from(b)),
    };
    low | (PLAIN << (8 * tail))
}

/// The first byte of `word` (little-endian) that a JSON string must escape (a
/// control character, `"` or `\`), if any. Of the flags the subtractions leave,
/// the lowest is exact (a borrow only runs upwards from a byte flagged itself).
#[inline]
fn first_escape(word: u64) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let control = word.wrapping_sub(0x20 * ONES) & !word & HIGH;
    let quote = zero_byte(word ^ (u64::from(b'"') * ONES));
    let backslash = zero_byte(word ^ (u64::from(b'\\') * ONES));
    let flags = control | quote | backslash;
    (flags != 0).then(|| (flags.trailing_zeros() / 8) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_eq_is_slice_equality() {
        let keys: Vec<Vec<u8>> = (0..=40usize)
            .flat_map(|n| {
                let base: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                let mut variants = vec![base.clone()];
                for at in 0..n {
                    let mut v = base.clone();
                    v[at] ^= 0x20;
                    variants.push(v);
                }
                variants
            })
            .collect();
        for a in &keys {
            for b in &keys {
                assert_eq!(key_eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn try_key_takes_only_the_exact_key_and_its_colon() {
        let mut p = Parser::new(br#"{"ab" : 1, "abc":2, "a\u0062":3, "ab"}"#, 64);
        assert!(p.begin_object().unwrap_or(false));
        assert!(!p.try_key(b"a"));
        assert!(!p.try_key(b"abc"));
        assert!(p.try_key(b"ab"));
        assert_eq!(p.bytes.get(p.pos..p.pos + 2), Some(&b" 1"[..]));
        p.pos += 2;
        assert!(p.next_member().unwrap_or(false));
        assert!(!p.try_key(b"ab"));
        assert!(p.try_key(b"abc"));
        p.pos += 1;
        assert!(p.next_member().unwrap_or(false));
        // Escaped: not the raw bytes, so left to the full parse.
        let at = p.pos;
        assert!(!p.try_key(b"ab"));
        assert_eq!(p.pos, at);
        let mut scratch = Vec::new();
        assert_eq!(p.key(&mut scratch).ok(), Some("ab"));
        p.pos += 1;
        assert!(p.next_member().unwrap_or(false));
        // No colon after the key: refused, parser unmoved.
        let at = p.pos;
        assert!(!p.try_key(b"ab"));
        assert_eq!(p.pos, at);
    }

    #[test]
    fn compact_scalar_array_is_compact_value_or_nothing() -> PResult<()> {
        for text in [
            "[]",
            "[ ]",
            "[1, \"a\\u0062\" , true,null, [2, [3]], -1.5e3 ]",
            "[false, \"q\\\"t\\t\", \"é\", 0, [], [\"x\"]]",
            "[[{\"x\": 1}]]",
            "[1, {\"x\": 1}]",
            "[{\"x\": 1}, 2]",
        ] {
            let mut whole = Vec::new();
            Parser::new(text.as_bytes(), 64).compact_value(0, &mut whole)?;
            let mut p = Parser::new(text.as_bytes(), 64);
            let mut out = b"kept".to_vec();
            if p.compact_scalar_array(0, &mut out)? {
                assert_eq!(out.get(4..), Some(&whole[..]), "{text}");
                p.expect_end()?;
            } else {
                assert!(text.contains("[1, {") || text.starts_with("[{"), "{text}");
                assert_eq!((out.as_slice(), p.pos), (&b"kept"[..], 0), "{text}");
            }
        }
        let mut p = Parser::new(b"[1, 2", 64);
        assert!(p.compact_scalar_array(0, &mut Vec::new()).is_err());
        Ok(())
    }

    #[test]
    fn scan_plain_agrees_with_a_byte_by_byte_scan() {
        let alphabet = [
            b'a', b'Z', b' ', b'"', b'\\', 0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xa9, 0xff,
        ];
        let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15_u64);
        for _ in 0..20_000 {
            let state = rng.next_u64();
            let len = (state % 80) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|k| {
                    let r = state.rotate_left(k as u32 * 5);
                    // Mostly plain letters, so that runs are long enough for words.
                    if r % 7 == 0 {
                        alphabet[((r >> 8) % alphabet.len() as u64) as usize]
                    } else {
                        b'a' + (r % 26) as u8
                    }
                })
                .collect();
            for start in 0..=len {
                let end = (start..len)
                    .find(|&i| STRING_STOP[bytes[i] as usize])
                    .unwrap_or(len);
                let ascii = bytes[start..end].iter().all(|&b| b < 0x80);
                assert_eq!(
                    scan_plain(&bytes, start),
                    (end, ascii),
                    "{bytes:?} from {start}"
                );
            }
        }
    }

    #[test]
    fn escapes_are_found_a_word_at_a_time_as_byte_by_byte() {
        let needs_escape = |c: u8| c < 0x20 || c == b'"' || c == b'\\';
        let bytes = [
            0u8, 0x1f, 0x20, b'"', b'\\', b'a', 0x7f, 0x80, 0xff, 0x21, 0x5b, 0x5d,
        ];
        let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..100_000 {
            let r = rng.next_u64();
            let word: [u8; 8] = std::array::from_fn(|k| {
                let pick = (r >> (k * 8)) as u8;
                if pick % 3 == 0 {
                    bytes[usize::from(pick) % bytes.len()]
                } else {
                    pick
                }
            });
            let want = word.iter().position(|&c| needs_escape(c));
            assert_eq!(first_escape(u64::from_le_bytes(word)), want, "{word:?}");
            assert_eq!(clean_prefix(&word), want.unwrap_or(8), "{word:?}");
            // Texts of up to two words: whole words, tails after a word, short ones.
            let r = rng.next_u64();
            let plain: [u8; 8] = std::array::from_fn(|k| b'a' + ((r >> (k * 5)) % 26) as u8);
            let two = [plain, word].concat();
            for len in 0..=16 {
                let text = if len <= 8 { &word[..len] } else { &two[..len] };
                let clean = text.iter().position(|&c| needs_escape(c)).unwrap_or(len);
                assert_eq!(clean_prefix(text), clean, "{text:?}");
                for tail in 1..=len.min(7) {
                    let mut want = [b'a'; 8];
                    want[..tail].copy_from_slice(&text[len - tail..]);
                    let got = tail_word(text, tail);
                    assert_eq!(got, u64::from_le_bytes(want), "{text:?} {tail}");
                }
            }
        }
    }

    #[test]
    fn write_json_string_escapes_as_serde_json_does() {
        let alphabet = [
            'a', 'Z', ' ', '"', '\\', '\0', '\n', '\t', '\u{1f}', '\u{7f}', 'é', '😀',
        ];
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d_u64);
        for _ in 0..20_000 {
            let state = rng.next_u64();
            let len = (state % 70) as usize;
            let text: String = (0..len)
                .map(|k| {
                    let r = state.rotate_left(k as u32 * 5);
                    // Mostly plain letters, so that whole blocks go without escapes.
                    if r % 9 == 0 {
                        alphabet[((r >> 8) % alphabet.len() as u64) as usize]
                    } else {
                        char::from(b'a' + (r % 26) as u8)
                    }
                })
                .collect();
            let mut out = Vec::new();
            write_json_string(&mut out, text.as_bytes());
            let want = serde_json::Value::from(text.as_str()).to_string();
            assert_eq!(String::from_utf8_lossy(&out), want, "{text:?}");
        }
    }

    fn value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            any::<i32>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
            "[a\"\\\\{}\\[\\]é,: ]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec(("[a\"\\\\}\\]]{0,3}", inner), 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// On valid JSON the unchecked skip ends where the checking one does, whatever
        /// follows the value.
        #[test]
        fn skipping_valid_values_ends_where_checking_does(
            v in value(),
            after in proptest::sample::select(vec!["", ",", " ", "]", "}", "\n", "{}", "[1]", "\"x\""]),
        ) {
            let text = format!("{v}{after}");
            let mut checked = Parser::new(text.as_bytes(), 64);
            checked.skip_value(0).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e:?}")))?;
            let mut unchecked = Parser::new(text.as_bytes(), 64);
            unchecked.skip_valid_value();
            proptest::prop_assert_eq!(unchecked.pos(), checked.pos(), "{}", text);
        }
    }

    fn compact(text: &str) -> PResult<String> {
        let mut p = Parser::new(text.as_bytes(), 64);
        let mut out = Vec::new();
        p.compact_value(0, &mut out)?;
        p.expect_end()?;
        Ok(String::from_utf8(out).unwrap_or_default())
    }

    #[test]
    fn compact_keeps_number_text_and_normalises_strings() {
        assert_eq!(
            compact(" [ 1.0 , 1e5, -0, 12345678901234567890, \"a\\u00e9\\n\" , {\"k\" : [ ] } ] "),
            Ok(r#"[1.0,1e5,-0,12345678901234567890,"aé\n",{"k":[]}]"#.to_string())
        );
    }

    #[test]
    fn strings_unescape_and_reject_bad_escapes() {
        let mut scratch = Vec::new();
        let mut p = Parser::new(br#""a\"b\\c\/\ud83d\ude00""#, 8);
        assert_eq!(p.string(&mut scratch), Ok("a\"b\\c/😀"));
        let mut p = Parser::new(br#""\ud83d x""#, 8);
        assert_eq!(
            p.string(&mut scratch),
            Err(ParseError::Syntax(SyntaxError::LoneSurrogate, 1))
        );
        let mut p = Parser::new(b"\"a\\qb\"", 8);
        assert_eq!(
            p.string(&mut scratch),
            Err(ParseError::Syntax(SyntaxError::InvalidEscape, 2))
        );
        let mut p = Parser::new(b"\"a\nb\"", 8);
        assert_eq!(
            p.string(&mut scratch),
            Err(ParseError::Syntax(SyntaxError::ControlCharacter, 2))
        );
        let mut p = Parser::new(b"\"a\xffb\"", 8);
        assert_eq!(
            p.string(&mut scratch),
            Err(ParseError::Syntax(SyntaxError::InvalidUtf8, 2))
        );
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_first_bad_byte() {
        // After an escape too: escapes are ASCII, so offsets in the raw text hold.
        for (text, at) in [
            (&b"\"ab\xffc\""[..], 3),
            (b"\"ab\\n\xffc\"", 5),
            (b"\"\\u00e9x\xe9\"", 8),
        ] {
            let mut out = Vec::new();
            let got = Parser::new(text, 8).string_into(&mut out);
            assert_eq!(
                got,
                Err(ParseError::Syntax(SyntaxError::InvalidUtf8, at)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn numbers_follow_the_grammar() {
        let kind = |t: &str| Parser::new(t.as_bytes(), 8).number().map(|(_, k)| k);
        assert_eq!(kind("0"), Ok(NumberKind::Int));
        assert_eq!(kind("-9223372036854775808"), Ok(NumberKind::Int));
        assert_eq!(kind("9223372036854775808"), Ok(NumberKind::BigInt));
        assert_eq!(kind("1.5e-3"), Ok(NumberKind::Float));
        assert_eq!(
            kind("01"),
            Err(ParseError::Syntax(SyntaxError::LeadingZero, 0))
        );
        assert_eq!(
            kind("1."),
            Err(ParseError::Syntax(SyntaxError::InvalidNumber, 0))
        );
        assert_eq!(
            kind("-"),
            Err(ParseError::Syntax(SyntaxError::InvalidNumber, 0))
        );
        assert!(compact("NaN").is_err());
        assert!(compact("Infinity").is_err());
    }

    #[test]
    fn depth_limit_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let mut p = Parser::new(deep.as_bytes(), 1024);
        assert_eq!(p.skip_value(0), Err(ParseError::TooDeep(1024)));
        let mut p = Parser::new(deep.as_bytes(), 200_000);
        assert_eq!(p.skip_value(0), Ok(()));
    }

    #[test]
    fn parse_errors_stay_small() {
        // Every step of the parser returns a `PResult`: a larger error makes every
        // return move more bytes (a `String` in a variant cost the flattener 1%).
        assert!(std::mem::size_of::<SyntaxError>() <= 24);
        assert!(std::mem::size_of::<ParseError>() <= 32);
    }

    #[test]
    fn structure_errors_point_at_the_byte() {
        assert_eq!(
            compact(r#"{"a" 1}"#),
            Err(ParseError::Syntax(
                SyntaxError::UnexpectedChar {
                    expected: "':'",
                    found: '1'
                },
                5
            ))
        );
        assert_eq!(
            compact(r#"[1,2"#),
            Err(ParseError::Syntax(
                SyntaxError::UnexpectedEnd {
                    expected: "',' or ']'"
                },
                4
            ))
        );
        assert_eq!(
            compact("{} x"),
            Err(ParseError::Syntax(SyntaxError::TrailingCharacters, 3))
        );
    }
}
