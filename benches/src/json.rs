//! A minimal JSON tree that is written exactly as built.
//!
//! `serde_json` would reformat numbers (`1.0`, `1e5`, 20-digit integers) and decide
//! escaping on its own; the benchmarks need those spellings in the input on purpose.

/// A JSON value whose text form is fully controlled by the generator.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number written exactly as this text (must be valid JSON number syntax).
    Num(String),
    /// A string; non-ASCII characters are written as UTF-8.
    Str(String),
    /// A string with every non-ASCII character written as a `\uXXXX` escape.
    AsciiStr(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object with keys in this order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// A number from an integer.
    pub fn int(n: impl Into<i128>) -> Json {
        Json::Num(n.into().to_string())
    }

    /// A string.
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// Appends the JSON text of this value to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(true) => out.extend_from_slice(b"true"),
            Json::Bool(false) => out.extend_from_slice(b"false"),
            Json::Num(text) => out.extend_from_slice(text.as_bytes()),
            Json::Str(s) => write_str(s, false, out),
            Json::AsciiStr(s) => write_str(s, true, out),
            Json::Arr(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Json::Obj(fields) => {
                out.push(b'{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(key, false, out);
                    out.push(b':');
                    value.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

fn write_str(s: &str, ascii_only: bool, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '/' if ascii_only => out.extend_from_slice(b"\\/"),
            c if (c as u32) < 0x20 || (ascii_only && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Builds a [`Json::Obj`] from `key => value` pairs; values go through `Into<Json>`.
#[macro_export]
macro_rules! obj {
    ($($key:expr => $value:expr),* $(,)?) => {
        $crate::Json::Obj(vec![$(($key.to_string(), $crate::Json::from($value))),*])
    };
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::Str(s)
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}

impl From<u64> for Json {
    fn from(n: u64) -> Json {
        Json::int(n)
    }
}

impl From<i64> for Json {
    fn from(n: i64) -> Json {
        Json::int(n)
    }
}

impl From<Vec<Json>> for Json {
    fn from(items: Vec<Json>) -> Json {
        Json::Arr(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &Json) -> String {
        let mut out = Vec::new();
        v.write(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn numbers_keep_their_spelling() {
        let v = Json::Arr(vec![
            Json::Num("1.0".into()),
            Json::Num("1e5".into()),
            Json::Num("12345678901234567890".into()),
        ]);
        assert_eq!(text(&v), "[1.0,1e5,12345678901234567890]");
    }

    #[test]
    fn strings_are_escaped() -> Result<(), serde_json::Error> {
        let v = obj! {
            "q" => "a \"b\" \\ c\nd\te\u{1}",
            "u" => Json::AsciiStr("Zürich 🚀 a/b".into()),
            "raw" => "Zürich",
        };
        let t = text(&v);
        assert_eq!(
            t,
            r#"{"q":"a \"b\" \\ c\nd\te\u0001","u":"Z\u00fcrich \ud83d\ude80 a\/b","raw":"Zürich"}"#
        );
        let back: serde_json::Value = serde_json::from_str(&t)?;
        assert_eq!(back["u"], "Zürich 🚀 a/b");
        assert_eq!(back["q"], "a \"b\" \\ c\nd\te\u{1}");
        Ok(())
    }
}
