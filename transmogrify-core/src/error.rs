//! The error type of the core crate.

use std::fmt;
use std::sync::Arc;

use arrow_schema::ArrowError;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The processor configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// One input record could not be flattened.
    #[error("{0}")]
    Record(Box<RecordError>),
    /// Building or converting Arrow data failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] ArrowError),
    /// Results that cannot be combined (different entities or options).
    #[error("{0}")]
    Combine(String),
    /// No table has this name.
    #[error("no table named {0:?} in the result")]
    UnknownTable(String),
    /// A limit of the engine was exceeded outside any single record.
    #[error("{0}")]
    Limit(String),
    /// An internal invariant broke. This is a bug; please report it with the input.
    #[error("internal error (this is a bug, please report it): {0}")]
    Internal(String),
}

impl Error {
    /// The record error inside, if this is one.
    pub fn as_record_error(&self) -> Option<&RecordError> {
        match self {
            Error::Record(e) => Some(e),
            _ => None,
        }
    }

    /// The record error inside, to change (its position renumbered, say).
    pub fn as_record_error_mut(&mut self) -> Option<&mut RecordError> {
        match self {
            Error::Record(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RecordError> for Error {
    fn from(e: RecordError) -> Self {
        Error::Record(Box::new(e))
    }
}

/// An invalid option or combination of options, found by
/// [`ProcessorConfigBuilder::build`](crate::ProcessorConfigBuilder::build).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The separator is empty.
    #[error("the separator must not be empty")]
    EmptySeparator,
    /// The entity name is empty: it names the main table and leads every other
    /// table's name.
    #[error("the entity name must not be empty: it names the main table")]
    EmptyEntityName,
    /// A metadata field name is empty.
    #[error("the {option} must not be empty (switch the field off instead)")]
    EmptyFieldName {
        /// Which option.
        option: &'static str,
    },
    /// Two metadata fields share a name.
    #[error("{first} and {second} are both named {name:?}; metadata fields need distinct names")]
    DuplicateFieldName {
        /// The first option.
        first: &'static str,
        /// The second option.
        second: &'static str,
        /// The shared name.
        name: String,
    },
    /// A numeric option is outside its range.
    #[error("{option} must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// Which option.
        option: &'static str,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
        /// The value given.
        value: u64,
    },
    /// More main columns are declared (a CSV header) than a table may have: each is
    /// written even where it has no value.
    #[error("{columns} main columns are declared, more than the limit of {limit} columns")]
    MainColumnsPastLimit {
        /// The columns declared (distinct keys).
        columns: usize,
        /// The limit in force.
        limit: usize,
    },
    /// `IdStrategy::Fields` was chosen without any pattern.
    #[error("the `fields` id strategy needs at least one pattern (path pattern = field name)")]
    NoIdFields,
    /// An id-field pattern is malformed.
    #[error("invalid id field pattern {pattern:?}: {reason}")]
    BadIdPattern {
        /// The pattern.
        pattern: String,
        /// Why it is refused.
        reason: &'static str,
    },
}

/// Where a record sits in its source.
///
/// Lines and columns are 1-based; `column` counts characters, `byte_offset` counts
/// bytes from the start of the source (0-based), `ordinal` counts records (0-based,
/// every record counted whether or not it is valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Position {
    /// Record number in the source, from 0.
    pub ordinal: u64,
    /// Line number, from 1.
    pub line: u64,
    /// Column in characters, from 1.
    pub column: u64,
    /// Byte offset from the start of the source, from 0.
    pub byte_offset: u64,
}

impl Position {
    /// The position of record `ordinal` starting at the very beginning of its source line.
    pub fn line_start(ordinal: u64, line: u64, byte_offset: u64) -> Self {
        Position {
            ordinal,
            line,
            column: 1,
            byte_offset,
        }
    }

    /// The position `offset` bytes into `bytes`, a record that starts at `self`.
    ///
    /// Counts the lines and characters in between, so it is meant for the error path.
    pub fn advanced(&self, bytes: &[u8], offset: usize) -> Position {
        let before = bytes.get(..offset).unwrap_or(bytes);
        let (newlines, line_start) = match memchr::memrchr(b'\n', before) {
            Some(last) => (
                count_byte(b'\n', before.get(..last).unwrap_or_default()) + 1,
                last + 1,
            ),
            None => (0, 0),
        };
        let chars = count_chars(before.get(line_start..).unwrap_or_default());
        let offset = before.len();
        Position {
            ordinal: self.ordinal,
            line: self.line + newlines,
            column: if newlines == 0 {
                self.column + chars
            } else {
                1 + chars
            },
            byte_offset: self.byte_offset + offset as u64,
        }
    }
}

/// Sums one byte's worth of matches per block of 255, which vectorizes well.
fn count_where(bytes: &[u8], hit: impl Fn(u8) -> bool) -> u64 {
    bytes
        .chunks(255)
        .map(|block| u64::from(block.iter().fold(0u8, |n, &b| n + u8::from(hit(b)))))
        .sum()
}

fn count_byte(needle: u8, hay: &[u8]) -> u64 {
    count_where(hay, |b| b == needle)
}

/// Number of characters in possibly invalid UTF-8: every byte that does not
/// continue a multi-byte sequence starts one.
pub(crate) fn count_chars(bytes: &[u8]) -> u64 {
    count_where(bytes, |b| (b & 0xC0) != 0x80)
}

/// What was wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordErrorKind {
    /// The JSON text is malformed.
    Syntax(SyntaxError),
    /// The record is valid JSON but not an object.
    NotAnObject {
        /// What it is instead (`array`, `string`, …).
        found: &'static str,
    },
    /// The record nests deeper than the hard nesting limit.
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// The record is larger than the configured maximum record size.
    TooLarge {
        /// The record's size in bytes, or with `whole` false the bytes of it read.
        size: u64,
        /// The limit in force.
        limit: u64,
        /// Whether the record was read to its end, so that `size` is its size. In
        /// strict mode a reader stops once a record passes the limit (the run ends
        /// there, and a stream that never ends a record would never be done), so
        /// `size` is then only how much of it was read.
        whole: bool,
    },
    /// A table would get more columns than the configured maximum.
    TooManyColumns {
        /// The table's name as it would be written.
        table: String,
        /// The limit in force.
        limit: usize,
    },
    /// The record could not be decoded by its reader (CSV, Parquet, …).
    Input(String),
}

impl fmt::Display for RecordErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordErrorKind::Syntax(e) => write!(f, "invalid JSON: {e}"),
            RecordErrorKind::NotAnObject { found } => {
                write!(f, "a record must be a JSON object, found {found}")
            }
            RecordErrorKind::TooDeep { limit } => {
                write!(
                    f,
                    "the record nests deeper than the limit of {limit} levels"
                )
            }
            RecordErrorKind::TooLarge {
                size,
                limit,
                whole: true,
            } => write!(
                f,
                "the record is {size} bytes, larger than the limit of {limit} bytes"
            ),
            RecordErrorKind::TooLarge {
                size,
                limit,
                whole: false,
            } => write!(
                f,
                "the record runs past {size} bytes, larger than the limit of {limit} bytes \
                 (read no further)"
            ),
            RecordErrorKind::TooManyColumns { table, limit } => write!(
                f,
                "table {table} would get more than the limit of {limit} columns"
            ),
            RecordErrorKind::Input(msg) => f.write_str(msg),
        }
    }
}

/// What a syntax error can say was expected, and what a record that is not an
/// object can be: a kind sent between processes as JSON is made again from these
/// (see [`RecordErrorKind::from_json`]).
const KNOWN_TEXTS: &[&str] = &[
    "a JSON value",
    "a scalar",
    "a string key",
    "a string key or '}'",
    "',' or ']'",
    "',' or '}'",
    "':'",
    "']'",
    "'}'",
    "the rest of the record",
    "the rest of the value",
    "an escape sequence",
    "the end of the string",
    "`true`",
    "`false`",
    "`null`",
    "an array",
    "a string",
    "a number",
    "a boolean",
    "null",
];

fn known_text(text: &str) -> Option<&'static str> {
    KNOWN_TEXTS.iter().copied().find(|known| *known == text)
}

impl RecordErrorKind {
    /// The kind as JSON, for sending between processes; [`RecordErrorKind::from_json`]
    /// makes it again.
    ///
    /// ```
    /// use transmogrify_core::{RecordErrorKind, SyntaxError};
    /// let kind = RecordErrorKind::Syntax(SyntaxError::InvalidLiteral("tru".into()));
    /// assert_eq!(RecordErrorKind::from_json(&kind.to_json()), Some(kind));
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            RecordErrorKind::Syntax(e) => match e {
                SyntaxError::UnexpectedEnd { expected } => {
                    json!({"syntax": "unexpected_end", "expected": expected})
                }
                SyntaxError::UnexpectedChar { expected, found } => {
                    json!({"syntax": "unexpected_char", "expected": expected, "found": found.to_string()})
                }
                SyntaxError::InvalidLiteral(word) => {
                    json!({"syntax": "invalid_literal", "word": &**word})
                }
                SyntaxError::InvalidEscape => json!({"syntax": "invalid_escape"}),
                SyntaxError::LoneSurrogate => json!({"syntax": "lone_surrogate"}),
                SyntaxError::ControlCharacter => json!({"syntax": "control_character"}),
                SyntaxError::LeadingZero => json!({"syntax": "leading_zero"}),
                SyntaxError::InvalidNumber => json!({"syntax": "invalid_number"}),
                SyntaxError::InvalidUtf8 => json!({"syntax": "invalid_utf8"}),
                SyntaxError::TrailingCharacters => json!({"syntax": "trailing_characters"}),
            },
            RecordErrorKind::NotAnObject { found } => json!({"not_an_object": found}),
            RecordErrorKind::TooDeep { limit } => json!({"too_deep": limit}),
            RecordErrorKind::TooLarge {
                size,
                limit,
                whole: true,
            } => json!({"too_large": size, "limit": limit}),
            RecordErrorKind::TooLarge {
                size,
                limit,
                whole: false,
            } => json!({"too_large": size, "limit": limit, "whole": false}),
            RecordErrorKind::TooManyColumns { table, limit } => {
                json!({"too_many_columns": table, "limit": limit})
            }
            RecordErrorKind::Input(message) => json!({"input": message}),
        }
    }

    /// A kind from [`RecordErrorKind::to_json`]; `None` for JSON that is not one
    /// (such as one from another version).
    pub fn from_json(value: &serde_json::Value) -> Option<RecordErrorKind> {
        let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
        let number = |key: &str| value.get(key).and_then(serde_json::Value::as_u64);
        if let Some(syntax) = text("syntax") {
            let expected = || text("expected").and_then(known_text);
            return Some(RecordErrorKind::Syntax(match syntax {
                "unexpected_end" => SyntaxError::UnexpectedEnd {
                    expected: expected()?,
                },
                "unexpected_char" => SyntaxError::UnexpectedChar {
                    expected: expected()?,
                    found: text("found")?.chars().next()?,
                },
                "invalid_literal" => SyntaxError::InvalidLiteral(text("word")?.into()),
                "invalid_escape" => SyntaxError::InvalidEscape,
                "lone_surrogate" => SyntaxError::LoneSurrogate,
                "control_character" => SyntaxError::ControlCharacter,
                "leading_zero" => SyntaxError::LeadingZero,
                "invalid_number" => SyntaxError::InvalidNumber,
                "invalid_utf8" => SyntaxError::InvalidUtf8,
                "trailing_characters" => SyntaxError::TrailingCharacters,
                _ => return None,
            }));
        }
        if let Some(found) = text("not_an_object") {
            return Some(RecordErrorKind::NotAnObject {
                found: known_text(found)?,
            });
        }
        if let Some(limit) = number("too_deep") {
            return Some(RecordErrorKind::TooDeep {
                limit: usize::try_from(limit).ok()?,
            });
        }
        if let Some(size) = number("too_large") {
            return Some(RecordErrorKind::TooLarge {
                size,
                limit: number("limit")?,
                whole: value
                    .get("whole")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(true),
            });
        }
        if let Some(table) = text("too_many_columns") {
            return Some(RecordErrorKind::TooManyColumns {
                table: table.to_string(),
                limit: usize::try_from(number("limit")?).ok()?,
            });
        }
        text("input").map(|message| RecordErrorKind::Input(message.to_string()))
    }
}

/// A malformed piece of JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyntaxError {
    /// The text ended in the middle of a value.
    UnexpectedEnd {
        /// What was expected.
        expected: &'static str,
    },
    /// A character that cannot stand here.
    UnexpectedChar {
        /// What was expected.
        expected: &'static str,
        /// The character found (or the byte, if it is not valid UTF-8).
        found: char,
    },
    /// A word that is not one of JSON's literals (`tru`, `nul`, `nan`): its first
    /// 20 characters. Its first letter (`t`, `f` or `n`) says which literal was
    /// expected.
    InvalidLiteral(Box<str>),
    /// A backslash escape that JSON does not know.
    InvalidEscape,
    /// A `\u` escape of a surrogate without its pair.
    LoneSurrogate,
    /// A control character inside a string.
    ControlCharacter,
    /// A number with a leading zero, like `01`.
    LeadingZero,
    /// A malformed number, like `1.` or `-`.
    InvalidNumber,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// Something after the end of the value.
    TrailingCharacters,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyntaxError::UnexpectedEnd { expected } => {
                write!(f, "unexpected end of input, expected {expected}")
            }
            SyntaxError::UnexpectedChar { expected, found } => {
                write!(f, "expected {expected}, found {}", Found(*found))
            }
            SyntaxError::InvalidLiteral(found) => {
                let expected = match found.as_bytes().first() {
                    Some(b't') => "true",
                    Some(b'f') => "false",
                    _ => "null",
                };
                write!(f, "invalid literal `{found}`, expected `{expected}`")
            }
            SyntaxError::InvalidEscape => f.write_str("invalid escape sequence in string"),
            SyntaxError::LoneSurrogate => f.write_str("lone surrogate in \\u escape"),
            SyntaxError::ControlCharacter => {
                f.write_str("control character in string (must be escaped)")
            }
            SyntaxError::LeadingZero => f.write_str("number with a leading zero"),
            SyntaxError::InvalidNumber => f.write_str("malformed number"),
            SyntaxError::InvalidUtf8 => f.write_str("invalid UTF-8"),
            SyntaxError::TrailingCharacters => f.write_str("trailing characters after the value"),
        }
    }
}

/// A character met where JSON has no place for it, as an error names it: quoted
/// if it shows as itself, else by its code point and what it is (a NUL byte, a
/// control character, a byte order mark, a space JSON does not take), so that a
/// message never holds an invisible character or an escape of Rust's.
struct Found(char);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        let what = match c {
            '\0' => "a NUL byte; is the input UTF-16?",
            '\u{feff}' => "a byte order mark",
            '\u{fffd}' => {
                "bytes that are not UTF-8, read as the replacement character; is the input UTF-16 or Latin-1?"
            }
            c if c.is_control() => "a control character",
            c if c.is_whitespace() => "a space that JSON does not take",
            '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' => "an invisible character",
            c => return write!(f, "'{c}'"),
        };
        write!(f, "U+{:04X} ({what})", u32::from(c))
    }
}

/// A record that could not be flattened, with its exact position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The source's name (a file path, `<stdin>` for standard input, or a
    /// caller-given label).
    pub source_name: Arc<str>,
    /// Where the problem is (the error position, not the record start).
    pub position: Position,
    /// What is wrong.
    pub kind: RecordErrorKind,
    /// A short excerpt of the input around the position.
    pub excerpt: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.position;
        write!(
            f,
            "{}: line {}, column {} (byte {}, record {}): {}",
            self.source_name, p.line, p.column, p.byte_offset, p.ordinal, self.kind
        )?;
        if !self.excerpt.is_empty() {
            write!(f, " near `{}`", self.excerpt)?;
        }
        Ok(())
    }
}

impl std::error::Error for RecordError {}

/// An excerpt of at most about 40 characters of `bytes` around `offset`, on one line.
pub fn excerpt(bytes: &[u8], offset: usize) -> String {
    const RADIUS: usize = 20;
    let offset = offset.min(bytes.len());
    let mut start = offset.saturating_sub(RADIUS);
    let mut end = (offset + RADIUS).min(bytes.len());
    // Keep to character boundaries where the text is UTF-8.
    let continues = |i: usize| bytes.get(i).is_some_and(|b| (b & 0xC0) == 0x80);
    while start > 0 && continues(start) {
        start -= 1;
    }
    while continues(end) {
        end += 1;
    }
    let text = String::from_utf8_lossy(bytes.get(start..end).unwrap_or_default());
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_found_is_named_so_that_it_shows() {
        let found = |c: char| {
            SyntaxError::UnexpectedChar {
                expected: "a JSON value",
                found: c,
            }
            .to_string()
        };
        assert_eq!(found('x'), "expected a JSON value, found 'x'");
        assert_eq!(found('é'), "expected a JSON value, found 'é'");
        assert_eq!(
            found('\u{1}'),
            "expected a JSON value, found U+0001 (a control character)"
        );
        assert_eq!(
            found('\0'),
            "expected a JSON value, found U+0000 (a NUL byte; is the input UTF-16?)"
        );
        assert_eq!(
            found('\u{feff}'),
            "expected a JSON value, found U+FEFF (a byte order mark)"
        );
        assert_eq!(
            found('\u{a0}'),
            "expected a JSON value, found U+00A0 (a space that JSON does not take)"
        );
        assert_eq!(
            found('\u{200b}'),
            "expected a JSON value, found U+200B (an invisible character)"
        );
        assert!(found('\u{fffd}').starts_with("expected a JSON value, found U+FFFD (bytes that"));
    }

    #[test]
    fn every_kind_a_bad_record_gets_goes_to_json_and_back()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let config = crate::ProcessorConfig::builder()
            .with_on_error(crate::ErrorMode::Skip)
            .with_max_depth(8)
            .with_nesting_limit(8)
            .with_max_columns(3)
            .build()?;
        let processor = crate::Processor::new(config);
        let mut lines: Vec<Vec<u8>> = [
            r#"{"a": tru}"#,
            r#"{"a": nul"#,
            r#"{"a" 1}"#,
            r#"{"a": 1,}"#,
            r#"{1: 2}"#,
            r#"{"a": [1 2]}"#,
            r#"{"a": "\q"}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": 1} x"#,
            r#"{"a": "x"#,
            r#"{"a": "\"#,
            r#"[1]"#,
            r#""s""#,
            r#"7"#,
            r#"true"#,
            r#"null"#,
            r#"{"a":[[[[[[[[[[1]]]]]]]]]]}"#,
            r#"{"a": 1, "b": 2, "c": 3, "d": 4}"#,
        ]
        .iter()
        .map(|l| l.as_bytes().to_vec())
        .collect();
        lines.push(b"{\"a\": \"\x01\"}".to_vec());
        lines.push(b"{\"a\": \"\xff\"}".to_vec());
        let mut text = Vec::new();
        for line in &lines {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
        let result = processor.process(&text, "t")?;
        assert_eq!(result.errors().len(), lines.len());
        for bad in result.errors() {
            let kind = &bad.error.kind;
            assert!(!matches!(kind, RecordErrorKind::Input(_)), "{kind}");
            assert_eq!(
                RecordErrorKind::from_json(&kind.to_json()).as_ref(),
                Some(kind),
                "{kind}"
            );
        }
        // A record read no further (strict mode) keeps that too.
        for whole in [true, false] {
            let kind = RecordErrorKind::TooLarge {
                size: 2_000,
                limit: 1_000,
                whole,
            };
            assert_eq!(RecordErrorKind::from_json(&kind.to_json()), Some(kind));
        }
        Ok(())
    }

    #[test]
    fn advanced_counts_lines_and_characters() {
        let start = Position {
            ordinal: 3,
            line: 10,
            column: 5,
            byte_offset: 100,
        };
        let bytes = "{\"é\": 1,\n  \"b\": x}".as_bytes();
        let same_line = start.advanced(bytes, 6);
        assert_eq!((same_line.line, same_line.column), (10, 10));
        let x = bytes.iter().position(|&b| b == b'x').unwrap_or(0);
        let next_line = start.advanced(bytes, x);
        assert_eq!(next_line.line, 11);
        assert_eq!(next_line.column, 8);
        assert_eq!(next_line.byte_offset, 100 + x as u64);
    }

    #[test]
    fn advanced_agrees_with_a_byte_by_byte_count() {
        let start = Position {
            ordinal: 0,
            line: 7,
            column: 3,
            byte_offset: 40,
        };
        let pieces: [&[u8]; 5] = [b"a", b"\n", "é".as_bytes(), "日".as_bytes(), b"\xff"];
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d_u64);
        for _ in 0..2_000 {
            let state = rng.next_u64();
            // Long runs without line breaks too, past the 255-byte blocks.
            let n = (state % 700) as usize;
            let bytes: Vec<u8> = (0..n)
                .flat_map(|k| {
                    let r = state.rotate_left(k as u32 % 64) >> 3;
                    pieces[if r % 11 == 0 { (r % 5) as usize } else { 0 }]
                        .iter()
                        .copied()
                })
                .collect();
            let offset = (state >> 20) as usize % (bytes.len() + 1);
            let (mut line, mut column) = (start.line, start.column);
            for &b in &bytes[..offset] {
                if b == b'\n' {
                    (line, column) = (line + 1, 1);
                } else if (b & 0xC0) != 0x80 {
                    column += 1;
                }
            }
            let got = start.advanced(&bytes, offset);
            assert_eq!(
                (got.line, got.column),
                (line, column),
                "{bytes:?} at {offset}"
            );
            assert_eq!(got.byte_offset, start.byte_offset + offset as u64);
        }
    }

    #[test]
    fn excerpt_is_one_line_and_bounded() {
        let text = b"0123456789012345678901234567890123456789\nabc";
        let e = excerpt(text, 40);
        assert!(e.len() <= 44, "{e}");
        assert!(!e.contains('\n'));
    }
}
