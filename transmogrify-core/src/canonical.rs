//! Canonical JSON of a record, for content-hash ids: keys sorted by their bytes,
//! duplicate keys resolved to the last value, no whitespace, strings minimally
//! escaped, numbers in their exact source text. Iterative, so depth is no danger.
//!
//! The same walk, keeping keys in source order, rewrites a record whose objects
//! repeat a key: each key stays where it first appeared, with its last value.

use hashbrown::HashMap;
use hashbrown::hash_map::Entry;

use crate::parse::{PResult, ParseError, Parser, Peek, write_json_string};

/// An object member: its key's bytes in the key buffer, its value's in the output.
#[derive(Clone, Copy)]
struct Member {
    key: (usize, usize),
    value: (usize, usize),
}

/// A container being rewritten. An object's values are written to the output as they
/// come, from `start` on, without keys or commas; when it closes they are put in order
/// behind their keys.
enum Frame {
    Object {
        start: usize,
        /// Where its members begin in the member list, and its keys in the key buffer.
        members: usize,
        keys: usize,
        /// The key of the member being read, and where its value begins.
        key: (usize, usize),
        value: usize,
    },
    Array,
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

/// Whether an object in the JSON value `bytes` repeats a key (compared unescaped).
pub(crate) fn has_repeated_keys(bytes: &[u8], nesting_limit: usize) -> PResult<bool> {
    let mut p = Parser::checked(bytes, nesting_limit);
    let mut scratch = Vec::new();
    // The keys of the open objects, back to back, and where each lies.
    let mut keys: Vec<u8> = Vec::new();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    // Per open container: where its keys' spans begin (`None`: an array).
    let mut stack: Vec<Option<usize>> = Vec::new();
    loop {
        match p.peek_value()? {
            Peek::Object => {
                deeper(stack.len(), nesting_limit, &p)?;
                if p.begin_object()? {
                    stack.push(Some(spans.len()));
                    spans.push(read_key(&mut p, &mut scratch, &mut keys)?);
                    continue;
                }
            }
            Peek::Array => {
                deeper(stack.len(), nesting_limit, &p)?;
                if p.begin_array()? {
                    stack.push(None);
                    continue;
                }
            }
            Peek::String => {
                p.string(&mut scratch)?;
            }
            Peek::Number => {
                p.number()?;
            }
            Peek::True => p.literal(b"true")?,
            Peek::False => p.literal(b"false")?,
            Peek::Null => p.literal(b"null")?,
        }
        loop {
            match stack.last() {
                None => {
                    p.expect_end()?;
                    return Ok(false);
                }
                Some(&Some(first)) => {
                    if p.next_member()? {
                        spans.push(read_key(&mut p, &mut scratch, &mut keys)?);
                        break;
                    }
                    let key = |&(a, b): &(usize, usize)| keys.get(a..b).unwrap_or_default();
                    let mut object: Vec<&[u8]> = spans
                        .get(first..)
                        .unwrap_or_default()
                        .iter()
                        .map(key)
                        .collect();
                    object.sort_unstable();
                    if object.windows(2).any(|w| w.first() == w.get(1)) {
                        return Ok(true);
                    }
                    let keys_start = spans.get(first).map_or(keys.len(), |s| s.0);
                    keys.truncate(keys_start);
                    spans.truncate(first);
                    stack.pop();
                }
                Some(None) => {
                    if p.next_element()? {
                        break;
                    }
                    stack.pop();
                }
            }
        }
    }
}

/// One pass over the value, writing into one output buffer: no allocation per value.
fn rewrite(bytes: &[u8], nesting_limit: usize, sorted: bool) -> PResult<Vec<u8>> {
    let mut p = Parser::checked(bytes, nesting_limit);
    let mut scratch = Vec::new();
    let mut out = Vec::with_capacity(bytes.len());
    let mut keys: Vec<u8> = Vec::new();
    let mut members: Vec<Member> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut held: Vec<u8> = Vec::new();
    loop {
        match p.peek_value()? {
            Peek::Object => {
                deeper(stack.len(), nesting_limit, &p)?;
                if p.begin_object()? {
                    let keys_start = keys.len();
                    let key = read_key(&mut p, &mut scratch, &mut keys)?;
                    stack.push(Frame::Object {
                        start: out.len(),
                        members: members.len(),
                        keys: keys_start,
                        key,
                        value: out.len(),
                    });
                    continue;
                }
                out.extend_from_slice(b"{}");
            }
            Peek::Array => {
                deeper(stack.len(), nesting_limit, &p)?;
                if p.begin_array()? {
                    out.push(b'[');
                    stack.push(Frame::Array);
                    continue;
                }
                out.extend_from_slice(b"[]");
            }
            Peek::String => match p.plain_string_token() {
                // Without escapes in the input, the token is already in canonical form.
                Some(raw) => {
                    out.push(b'"');
                    out.extend_from_slice(raw);
                    out.push(b'"');
                }
                None => write_json_string(&mut out, p.string(&mut scratch)?.as_bytes()),
            },
            Peek::Number => out.extend_from_slice(p.number()?.0.as_bytes()),
            Peek::True => {
                p.literal(b"true")?;
                out.extend_from_slice(b"true");
            }
            Peek::False => {
                p.literal(b"false")?;
                out.extend_from_slice(b"false");
            }
            Peek::Null => {
                p.literal(b"null")?;
                out.extend_from_slice(b"null");
            }
        }
        // A value ended: hand it to its container; close containers that end here.
        loop {
            match stack.last_mut() {
                None => {
                    p.expect_end()?;
                    return Ok(out);
                }
                Some(Frame::Object {
                    start,
                    members: first,
                    keys: keys_start,
                    key,
                    value,
                }) => {
                    members.push(Member {
                        key: *key,
                        value: (*value, out.len()),
                    });
                    if p.next_member()? {
                        *key = read_key(&mut p, &mut scratch, &mut keys)?;
                        *value = out.len();
                        break;
                    }
                    let (start, first, keys_start) = (*start, *first, *keys_start);
                    let object = members.get_mut(first..).unwrap_or_default();
                    close_object(&mut out, &mut held, start, &keys, object, sorted);
                    members.truncate(first);
                    keys.truncate(keys_start);
                    stack.pop();
                }
                Some(Frame::Array) => {
                    if p.next_element()? {
                        out.push(b',');
                        break;
                    }
                    out.push(b']');
                    stack.pop();
                }
            }
        }
    }
}

/// A container opening inside `open` others: an error past the nesting limit.
fn deeper(open: usize, nesting_limit: usize, p: &Parser<'_>) -> PResult<()> {
    if open + 1 > nesting_limit {
        return Err(ParseError::TooDeep(p.pos()));
    }
    Ok(())
}

/// Reads a key and its colon into `keys`; returns where it lies there.
fn read_key(
    p: &mut Parser<'_>,
    scratch: &mut Vec<u8>,
    keys: &mut Vec<u8>,
) -> PResult<(usize, usize)> {
    let start = keys.len();
    match p.plain_key()? {
        Some(key) => keys.extend_from_slice(key),
        None => keys.extend_from_slice(p.key(scratch)?.as_bytes()),
    }
    Ok((start, keys.len()))
}

/// Rewrites the values of an object (`out[start..]`) as the object: `{`, members in
/// order behind their keys, `}`. Sorted: by key bytes, the last of equal keys kept;
/// otherwise in source order, each key at its first place with its last value.
fn close_object(
    out: &mut Vec<u8>,
    held: &mut Vec<u8>,
    start: usize,
    keys: &[u8],
    members: &mut [Member],
    sorted: bool,
) {
    let key = |m: &Member| keys.get(m.key.0..m.key.1).unwrap_or_default();
    held.clear();
    held.extend_from_slice(out.get(start..).unwrap_or_default());
    out.truncate(start);
    out.push(b'{');
    let write = |out: &mut Vec<u8>, m: &Member| {
        if out.len() > start + 1 {
            out.push(b',');
        }
        write_json_string(out, key(m));
        out.push(b':');
        let value = held.get(m.value.0 - start..m.value.1 - start);
        out.extend_from_slice(value.unwrap_or_default());
    };
    if sorted {
        // Stable: source order among equal keys, so the last of them is the one kept.
        members.sort_by(|a, b| key(a).cmp(key(b)));
        for (i, m) in members.iter().enumerate() {
            if members.get(i + 1).is_none_or(|next| key(next) != key(m)) {
                write(out, m);
            }
        }
    } else {
        // Each key's first place, holding its last member.
        let mut places: Vec<usize> = Vec::with_capacity(members.len());
        let mut at: HashMap<&[u8], usize> = HashMap::with_capacity(members.len());
        for (i, m) in members.iter().enumerate() {
            match at.entry(key(m)) {
                Entry::Occupied(place) => {
                    if let Some(slot) = places.get_mut(*place.get()) {
                        *slot = i;
                    }
                }
                Entry::Vacant(place) => {
                    place.insert(places.len());
                    places.push(i);
                }
            }
        }
        for &i in &places {
            if let Some(m) = members.get(i) {
                write(out, m);
            }
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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

    /// A JSON value to write as text: objects may repeat keys.
    #[derive(Debug, Clone)]
    enum Node {
        Leaf(&'static str),
        Array(Vec<Node>),
        Object(Vec<(String, Node)>),
    }

    fn node() -> impl Strategy<Value = Node> {
        let leaf = prop::sample::select(vec![
            "1",
            "-0",
            "2.50",
            "12345678901234567890123",
            "true",
            "false",
            "null",
            r#""""#,
            r#""x""#,
            r#""a\"b""#,
            r#""\u00e9\n\u0001""#,
            r#""é/\/""#,
        ])
        .prop_map(Node::Leaf);
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Node::Array),
                prop::collection::vec(("[ab\"é\\\n]{0,2}", inner), 0..5).prop_map(Node::Object),
            ]
        })
    }

    fn write(node: &Node, space: &str, out: &mut String) {
        match node {
            Node::Leaf(text) => out.push_str(text),
            Node::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(space);
                    write(item, space, out);
                }
                out.push_str(space);
                out.push(']');
            }
            Node::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(space);
                    out.push_str(&serde_json::Value::from(key.as_str()).to_string());
                    out.push_str(space);
                    out.push(':');
                    write(value, space, out);
                }
                out.push_str(space);
                out.push('}');
            }
        }
    }

    /// `value` with the keys of every object sorted by their bytes.
    fn sorted(value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                let mut members: Vec<(String, Value)> = map.into_iter().collect();
                members.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(members.into_iter().map(|(k, v)| (k, sorted(v))).collect())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
            other => other,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        /// Both rewrites agree with serde_json, which keeps each repeated key at its
        /// first place with its last value, numbers as written (but for exponents, which it
        /// normalises), and escapes as we do.
        #[test]
        fn rewrites_match_serde_json(root in node(), spaced in any::<bool>()) {
            let mut text = String::new();
            write(&root, if spaced { " \n" } else { "" }, &mut text);
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let unique = without_repeated_keys(text.as_bytes(), 64).map(String::from_utf8);
            prop_assert_eq!(unique, Ok(Ok(value.to_string())));
            let canonical = canonical_json(text.as_bytes(), 64).map(String::from_utf8);
            prop_assert_eq!(canonical, Ok(Ok(sorted(value).to_string())));
        }
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
