//! Canonical JSON of a record, for content-hash ids: keys sorted by their bytes,
//! duplicate keys resolved to the last value, no whitespace, strings minimally
//! escaped, numbers in their exact source text. Iterative, so depth is no danger.
//!
//! The same walk, keeping keys in source order, rewrites a record whose objects
//! repeat a key: each key stays where it first appeared, with its last value.

use crate::parse::{PResult, ParseError, Parser, Peek, write_json_string};

enum Frame {
    Object {
        members: Vec<(String, Vec<u8>)>,
        key: String,
    },
    Array {
        out: Vec<u8>,
    },
}

/// The canonical form of the JSON value in `bytes`.
pub(crate) fn canonical_json(bytes: &[u8], nesting_limit: usize) -> PResult<Vec<u8>> {
    rewrite(bytes, nesting_limit, true)
}

/// `bytes` as compact JSON with keys in source order, every repeated key kept at its
/// first place with its last value.
pub(crate) fn without_repeated_keys(bytes: &[u8], nesting_limit: usize) -> PResult<Vec<u8>> {
    rewrite(bytes, nesting_limit, false)
}

fn rewrite(bytes: &[u8], nesting_limit: usize, sorted: bool) -> PResult<Vec<u8>> {
    let mut p = Parser::new(bytes, nesting_limit);
    let mut scratch = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let mut value = match p.peek_value()? {
            Peek::Object => {
                if stack.len() + 1 > nesting_limit {
                    return Err(ParseError::TooDeep(p.pos()));
                }
                if p.begin_object()? {
                    let key = p.key(&mut scratch)?.to_string();
                    stack.push(Frame::Object {
                        members: Vec::new(),
                        key,
                    });
                    continue;
                }
                b"{}".to_vec()
            }
            Peek::Array => {
                if stack.len() + 1 > nesting_limit {
                    return Err(ParseError::TooDeep(p.pos()));
                }
                if p.begin_array()? {
                    stack.push(Frame::Array { out: vec![b'['] });
                    continue;
                }
                b"[]".to_vec()
            }
            Peek::String => {
                let mut v = Vec::new();
                write_json_string(&mut v, p.string(&mut scratch)?.as_bytes());
                v
            }
            Peek::Number => p.number()?.0.as_bytes().to_vec(),
            Peek::True => {
                p.literal(b"true")?;
                b"true".to_vec()
            }
            Peek::False => {
                p.literal(b"false")?;
                b"false".to_vec()
            }
            Peek::Null => {
                p.literal(b"null")?;
                b"null".to_vec()
            }
        };
        // Hand the finished value to its container; close containers that end here.
        loop {
            let closed = match stack.last_mut() {
                None => {
                    p.expect_end()?;
                    return Ok(value);
                }
                Some(Frame::Object { members, key }) => {
                    members.push((std::mem::take(key), value));
                    if p.next_member()? {
                        *key = p.key(&mut scratch)?.to_string();
                        None
                    } else {
                        let mut members = std::mem::take(members);
                        if sorted {
                            // Stable: source order among equal keys, so the last wins below.
                            members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                        } else {
                            members = last_values_first_places(members);
                        }
                        let mut out = vec![b'{'];
                        let mut first = true;
                        for (i, (k, v)) in members.iter().enumerate() {
                            if members.get(i + 1).is_some_and(|next| next.0 == *k) {
                                continue;
                            }
                            if !first {
                                out.push(b',');
                            }
                            first = false;
                            write_json_string(&mut out, k.as_bytes());
                            out.push(b':');
                            out.extend_from_slice(v);
                        }
                        out.push(b'}');
                        Some(out)
                    }
                }
                Some(Frame::Array { out }) => {
                    if out.len() > 1 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&value);
                    if p.next_element()? {
                        None
                    } else {
                        out.push(b']');
                        Some(std::mem::take(out))
                    }
                }
            };
            match closed {
                None => break,
                Some(v) => {
                    stack.pop();
                    value = v;
                }
            }
        }
    }
}

/// Members with each repeated key at its first place and with its last value.
fn last_values_first_places(members: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out: Vec<(String, Vec<u8>)> = Vec::with_capacity(members.len());
    for (key, value) in members {
        match at.get(&key) {
            Some(&i) => {
                if let Some(slot) = out.get_mut(i) {
                    slot.1 = value;
                }
            }
            None => {
                at.insert(key.clone(), out.len());
                out.push((key, value));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_and_keeps_number_text() {
        let c = canonical_json(
            br#" {"b": [1.0, {"z":1, "a":"\u0041"}], "a": -0, "a": 1e5, "c": {}} "#,
            64,
        );
        assert_eq!(
            c.map(|v| String::from_utf8_lossy(&v).into_owned()),
            Ok(r#"{"a":1e5,"b":[1.0,{"a":"A","z":1}],"c":{}}"#.to_string())
        );
    }

    #[test]
    fn repeated_keys_keep_their_first_place_and_last_value() {
        let c = without_repeated_keys(
            br#"{"b":1,"a":{"x":1},"b":[2],"a":3,"c":{"k":1,"k":2}}"#,
            64,
        );
        assert_eq!(
            c.map(|v| String::from_utf8_lossy(&v).into_owned()),
            Ok(r#"{"b":[2],"a":3,"c":{"k":2}}"#.to_string())
        );
    }

    #[test]
    fn deep_input_is_an_error_not_a_crash() {
        let deep = "[".repeat(5000) + &"]".repeat(5000);
        assert!(matches!(
            canonical_json(deep.as_bytes(), 1024),
            Err(ParseError::TooDeep(_))
        ));
    }
}
