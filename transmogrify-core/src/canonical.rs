//! Canonical JSON of a record, for content-hash ids: keys sorted by their bytes,
//! duplicate keys resolved to the last value, no whitespace, strings minimally
//! escaped, numbers in their exact source text. Iterative, so depth is no danger.
//!
//! The same walk, keeping keys in source order, rewrites a record whose objects
//! repeat a key: each key stays where it first appeared, with its last value.

use hashbrown::HashMap;
use hashbrown::hash_map::Entry;

use crate::parse::{PResult, ParseError, Parser, Peek, write_json_string};

/// A value read, in the order values start: its text, or the extent of a
/// container (the nodes of its elements or members' values, up to `end`).
#[derive(Clone, Copy)]
enum Node {
    /// A scalar, `{}` or `[]`: its output text, `text[.0..1]`.
    Text(usize, usize),
    /// An array whose elements are the nodes before `end`.
    Array { end: usize },
    /// An object: its members in output order are `members[first..first + len]`.
    Object {
        first: usize,
        len: usize,
        end: usize,
    },
}

impl Node {
    /// The node after this one and all of its contents, this one being at `at`.
    fn after(self, at: usize) -> usize {
        match self {
            Node::Text(..) => at + 1,
            Node::Array { end } | Node::Object { end, .. } => end,
        }
    }
}

/// An object member: its key's bytes in the key buffer, its value's node.
#[derive(Clone, Copy)]
struct Member {
    key: (usize, usize),
    node: usize,
}

/// A container being read: its node, and for an object where its members begin
/// in the list of open objects' members and the key of the member being read.
enum Frame {
    Object {
        node: usize,
        members: usize,
        key: (usize, usize),
    },
    Array {
        node: usize,
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

/// Reads the value into a list of nodes (each object's members put in output order
/// as it closes), then writes the nodes out: time linear in the input however
/// deep it nests, no allocation per value.
fn rewrite(bytes: &[u8], nesting_limit: usize, sorted: bool) -> PResult<Vec<u8>> {
    let mut p = Parser::checked(bytes, nesting_limit);
    let mut scratch = Vec::new();
    let mut text: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut keys: Vec<u8> = Vec::new();
    let mut nodes: Vec<Node> = Vec::new();
    // The members of the objects still open, innermost last; then of those closed.
    let mut open_members: Vec<Member> = Vec::new();
    let mut members: Vec<Member> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let at = text.len();
        match p.peek_value()? {
            Peek::Object => {
                deeper(stack.len(), nesting_limit, &p)?;
                if p.begin_object()? {
                    let key = read_key(&mut p, &mut scratch, &mut keys)?;
                    stack.push(Frame::Object {
                        node: nodes.len(),
                        members: open_members.len(),
                        key,
                    });
                    nodes.push(Node::Object {
                        first: 0,
                        len: 0,
                        end: 0,
                    });
                    continue;
                }
                text.extend_from_slice(b"{}");
            }
            Peek::Array => {
                deeper(stack.len(), nesting_limit, &p)?;
                if p.begin_array()? {
                    stack.push(Frame::Array { node: nodes.len() });
                    nodes.push(Node::Array { end: 0 });
                    continue;
                }
                text.extend_from_slice(b"[]");
            }
            Peek::String => match p.plain_string_token() {
                // Without escapes in the input, the token is already in canonical form.
                Some(raw) => {
                    text.push(b'"');
                    text.extend_from_slice(raw);
                    text.push(b'"');
                }
                None => write_json_string(&mut text, p.string(&mut scratch)?.as_bytes()),
            },
            Peek::Number => text.extend_from_slice(p.number()?.0.as_bytes()),
            Peek::True => {
                p.literal(b"true")?;
                text.extend_from_slice(b"true");
            }
            Peek::False => {
                p.literal(b"false")?;
                text.extend_from_slice(b"false");
            }
            Peek::Null => {
                p.literal(b"null")?;
                text.extend_from_slice(b"null");
            }
        }
        nodes.push(Node::Text(at, text.len()));
        // A value ended: hand it to its container; close containers that end here.
        let mut value = nodes.len() - 1;
        loop {
            match stack.last_mut() {
                None => {
                    p.expect_end()?;
                    return Ok(write_nodes(&nodes, &members, &keys, &text));
                }
                Some(Frame::Object {
                    node,
                    members: first,
                    key,
                }) => {
                    open_members.push(Member {
                        key: *key,
                        node: value,
                    });
                    if p.next_member()? {
                        *key = read_key(&mut p, &mut scratch, &mut keys)?;
                        break;
                    }
                    let (node, first) = (*node, *first);
                    let object = open_members.get_mut(first..).unwrap_or_default();
                    let start = members.len();
                    keep_members(object, &keys, sorted, &mut members);
                    let end = nodes.len();
                    if let Some(slot) = nodes.get_mut(node) {
                        *slot = Node::Object {
                            first: start,
                            len: members.len() - start,
                            end,
                        };
                    }
                    open_members.truncate(first);
                    stack.pop();
                    value = node;
                }
                Some(Frame::Array { node }) => {
                    if p.next_element()? {
                        break;
                    }
                    let node = *node;
                    let end = nodes.len();
                    if let Some(slot) = nodes.get_mut(node) {
                        *slot = Node::Array { end };
                    }
                    stack.pop();
                    value = node;
                }
            }
        }
    }
}

/// Appends to `out` the members of an object that are written, in order. Sorted:
/// by key bytes, the last of equal keys kept; otherwise in source order, each key
/// at its first place with its last value.
fn keep_members(object: &mut [Member], keys: &[u8], sorted: bool, out: &mut Vec<Member>) {
    let key = |m: &Member| keys.get(m.key.0..m.key.1).unwrap_or_default();
    if sorted {
        // Stable: source order among equal keys, so the last of them is the one kept.
        object.sort_by(|a, b| key(a).cmp(key(b)));
        for (i, m) in object.iter().enumerate() {
            if object.get(i + 1).is_none_or(|next| key(next) != key(m)) {
                out.push(*m);
            }
        }
        return;
    }
    // Each key's first place, holding its last member.
    let mut places: Vec<usize> = Vec::with_capacity(object.len());
    let mut at: HashMap<&[u8], usize> = HashMap::with_capacity(object.len());
    for (i, m) in object.iter().enumerate() {
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
    out.extend(places.iter().filter_map(|&i| object.get(i)));
}

/// What is left to write, the next last.
enum Step {
    Node(usize),
    Byte(u8),
    /// A member's key and colon, after a comma unless it is its object's first.
    Key(Member, bool),
}

/// Writes the value the nodes hold, from the first.
fn write_nodes(nodes: &[Node], members: &[Member], keys: &[u8], text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + keys.len() * 2);
    let mut todo = vec![Step::Node(0)];
    while let Some(step) = todo.pop() {
        match step {
            Step::Byte(b) => out.push(b),
            Step::Key(m, first) => {
                if !first {
                    out.push(b',');
                }
                write_json_string(&mut out, keys.get(m.key.0..m.key.1).unwrap_or_default());
                out.push(b':');
            }
            Step::Node(at) => match nodes.get(at) {
                Some(&Node::Text(a, b)) => {
                    out.extend_from_slice(text.get(a..b).unwrap_or_default())
                }
                Some(&Node::Array { end }) => {
                    out.push(b'[');
                    todo.push(Step::Byte(b']'));
                    // The elements, the last pushed first.
                    let mut elements = Vec::new();
                    let mut child = at + 1;
                    while child < end {
                        elements.push(child);
                        child = nodes.get(child).map_or(end, |n| n.after(child));
                    }
                    for (i, &child) in elements.iter().enumerate().rev() {
                        todo.push(Step::Node(child));
                        if i > 0 {
                            todo.push(Step::Byte(b','));
                        }
                    }
                }
                Some(&Node::Object { first, len, .. }) => {
                    out.push(b'{');
                    todo.push(Step::Byte(b'}'));
                    let object = members.get(first..first + len).unwrap_or_default();
                    for (i, m) in object.iter().enumerate().rev() {
                        todo.push(Step::Node(m.node));
                        todo.push(Step::Key(*m, i == 0));
                    }
                }
                None => {}
            },
        }
    }
    out
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

    /// Deep objects of keys out of order: each level's members are put in order
    /// as they close, without copying what lies inside them again.
    #[test]
    fn deep_objects_are_rewritten_whole() {
        let depth = 20_000;
        let text = "{\"b\":".repeat(depth) + "0" + &",\"a\":1}".repeat(depth);
        let want = "{\"a\":1,\"b\":".repeat(depth) + "0" + &"}".repeat(depth);
        let got = canonical_json(text.as_bytes(), depth + 1).map(String::from_utf8);
        assert!(got == Ok(Ok(want)), "{:?}", got.map(|t| t.map(|t| t.len())));
        let unique = without_repeated_keys(text.as_bytes(), depth + 1).map(String::from_utf8);
        assert!(unique == Ok(Ok(text)), "in source order");
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
