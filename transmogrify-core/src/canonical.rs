//! Canonical JSON of a record, for content-hash ids: keys sorted by their bytes,
//! duplicate keys resolved to the last value, no whitespace, strings minimally
//! escaped, numbers in their exact source text. Iterative, so depth is no danger.
//!
//! The same walk, keeping keys in source order, rewrites a record whose objects
//! repeat a key: each key stays where it first appeared, with its last value.

use hashbrown::HashMap;
use hashbrown::hash_map::Entry;

use crate::parse::{PResult, ParseError, Parser, Peek, write_json_string};

/// No segment: the end of a list.
const NONE: usize = usize::MAX;

/// A run of output bytes, `text[start..end]`, and the segment after it in its list.
#[derive(Clone, Copy)]
struct Seg {
    start: usize,
    end: usize,
    next: usize,
}

/// A list of segments, the output of a value (or of a part of one) in order: its
/// first and last segment, [`NONE`] when empty.
#[derive(Clone, Copy)]
struct List {
    head: usize,
    tail: usize,
}

impl List {
    const EMPTY: List = List {
        head: NONE,
        tail: NONE,
    };
}

/// The output being put together: bytes written in the order they are read, and
/// lists of runs of them in the order they are written out. An object's members
/// are put in order by relinking their lists, so nothing is copied again however
/// deep the value nests, and a run of values that stay in place (an array of
/// numbers) is one segment.
#[derive(Default)]
struct Rope {
    text: Vec<u8>,
    segs: Vec<Seg>,
}

impl Rope {
    /// Ends `list` with the bytes written to the text from `start` on.
    fn take_from(&mut self, list: &mut List, start: usize) {
        let end = self.text.len();
        if let Some(tail) = self.segs.get_mut(list.tail)
            && tail.end == start
        {
            // Right after the list's last bytes: the same run goes on.
            tail.end = end;
            return;
        }
        let seg = self.segs.len();
        self.segs.push(Seg {
            start,
            end,
            next: NONE,
        });
        match self.segs.get_mut(list.tail) {
            Some(tail) => tail.next = seg,
            None => list.head = seg,
        }
        list.tail = seg;
    }

    /// Ends `list` with `bytes`.
    fn push(&mut self, list: &mut List, bytes: &[u8]) {
        let start = self.text.len();
        self.text.extend_from_slice(bytes);
        self.take_from(list, start);
    }

    /// Ends `list` with `other`'s segments.
    fn append(&mut self, list: &mut List, other: List) {
        if other.head == NONE {
            return;
        }
        match self.segs.get_mut(list.tail) {
            Some(tail) => tail.next = other.head,
            None => list.head = other.head,
        }
        list.tail = other.tail;
    }

    /// The bytes of `list`, in order.
    fn write(&self, list: List) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len());
        let mut at = list.head;
        while let Some(seg) = self.segs.get(at) {
            out.extend_from_slice(self.text.get(seg.start..seg.end).unwrap_or_default());
            if at == list.tail {
                break;
            }
            at = seg.next;
        }
        out
    }
}

/// An object member read: its key's bytes in the key buffer (unescaped, to order
/// members by), and its output, `"key":value`.
#[derive(Clone, Copy)]
struct Member {
    key: (usize, usize),
    list: List,
}

/// A container being read: an array's output so far, or an object's key buffer
/// start, the start of its members in the list of open objects' members, and the
/// member being read.
enum Frame {
    Array {
        list: List,
    },
    Object {
        keys: usize,
        members: usize,
        member: Member,
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

/// One pass over the value, writing each byte of the output once; each object's
/// members are put in order as it closes by relinking their output ([`Rope`]), so
/// the time is linear in the input however deep it nests.
fn rewrite(bytes: &[u8], nesting_limit: usize, sorted: bool) -> PResult<Vec<u8>> {
    let mut p = Parser::checked(bytes, nesting_limit);
    let mut scratch = Vec::new();
    let mut rope = Rope {
        text: Vec::with_capacity(bytes.len()),
        segs: Vec::new(),
    };
    let mut keys: Vec<u8> = Vec::new();
    // The members of the objects still open, innermost last.
    let mut members: Vec<Member> = Vec::new();
    let mut kept: Vec<List> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root = List::EMPTY;
    loop {
        let open = stack.len();
        let current = match stack.last_mut() {
            Some(Frame::Array { list }) => list,
            Some(Frame::Object { member, .. }) => &mut member.list,
            None => &mut root,
        };
        match p.peek_value()? {
            Peek::Object => {
                deeper(open, nesting_limit, &p)?;
                if p.begin_object()? {
                    let keys_start = keys.len();
                    let member = read_member(&mut p, &mut scratch, &mut keys, &mut rope)?;
                    stack.push(Frame::Object {
                        keys: keys_start,
                        members: members.len(),
                        member,
                    });
                    continue;
                }
                rope.push(current, b"{}");
            }
            Peek::Array => {
                deeper(open, nesting_limit, &p)?;
                if p.begin_array()? {
                    let mut list = List::EMPTY;
                    rope.push(&mut list, b"[");
                    stack.push(Frame::Array { list });
                    continue;
                }
                rope.push(current, b"[]");
            }
            Peek::String => {
                let start = rope.text.len();
                match p.plain_string_token() {
                    // Without escapes in the input, the token is already in
                    // canonical form.
                    Some(raw) => {
                        rope.text.push(b'"');
                        rope.text.extend_from_slice(raw);
                        rope.text.push(b'"');
                    }
                    None => write_json_string(&mut rope.text, p.string(&mut scratch)?.as_bytes()),
                }
                rope.take_from(current, start);
            }
            Peek::Number => rope.push(current, p.number()?.0.as_bytes()),
            Peek::True => {
                p.literal(b"true")?;
                rope.push(current, b"true");
            }
            Peek::False => {
                p.literal(b"false")?;
                rope.push(current, b"false");
            }
            Peek::Null => {
                p.literal(b"null")?;
                rope.push(current, b"null");
            }
        }
        // A value ended: close the containers that end here, each handing its
        // output to the one around it.
        loop {
            match stack.last_mut() {
                None => {
                    p.expect_end()?;
                    return Ok(rope.write(root));
                }
                Some(Frame::Object {
                    keys: keys_start,
                    members: first,
                    member,
                }) => {
                    members.push(*member);
                    if p.next_member()? {
                        *member = read_member(&mut p, &mut scratch, &mut keys, &mut rope)?;
                        break;
                    }
                    let (keys_start, first) = (*keys_start, *first);
                    let object = members.get_mut(first..).unwrap_or_default();
                    keep_members(object, &keys, sorted, &mut kept);
                    let mut list = List::EMPTY;
                    rope.push(&mut list, b"{");
                    for (i, &member) in kept.iter().enumerate() {
                        if i > 0 {
                            rope.push(&mut list, b",");
                        }
                        rope.append(&mut list, member);
                    }
                    rope.push(&mut list, b"}");
                    members.truncate(first);
                    keys.truncate(keys_start);
                    stack.pop();
                    hand_over(&mut stack, &mut root, &mut rope, list);
                }
                Some(Frame::Array { list }) => {
                    if p.next_element()? {
                        rope.push(list, b",");
                        break;
                    }
                    rope.push(list, b"]");
                    let list = *list;
                    stack.pop();
                    hand_over(&mut stack, &mut root, &mut rope, list);
                }
            }
        }
    }
}

/// Ends the output of the container now innermost (or the root) with `list`, a
/// value that just closed.
fn hand_over(stack: &mut [Frame], root: &mut List, rope: &mut Rope, list: List) {
    let current = match stack.last_mut() {
        Some(Frame::Array { list }) => list,
        Some(Frame::Object { member, .. }) => &mut member.list,
        None => root,
    };
    rope.append(current, list);
}

/// Reads a member's key and colon: the key into `keys`, `"key":` into the output.
fn read_member(
    p: &mut Parser<'_>,
    scratch: &mut Vec<u8>,
    keys: &mut Vec<u8>,
    rope: &mut Rope,
) -> PResult<Member> {
    let key = read_key(p, scratch, keys)?;
    let mut list = List::EMPTY;
    let start = rope.text.len();
    write_json_string(&mut rope.text, keys.get(key.0..key.1).unwrap_or_default());
    rope.text.push(b':');
    rope.take_from(&mut list, start);
    Ok(Member { key, list })
}

/// Sets `kept` to the outputs of an object's members that are written, in order.
/// Sorted: by key bytes, the last of equal keys kept; otherwise in source order,
/// each key at its first place with its last value.
fn keep_members(object: &mut [Member], keys: &[u8], sorted: bool, kept: &mut Vec<List>) {
    kept.clear();
    let key = |m: &Member| keys.get(m.key.0..m.key.1).unwrap_or_default();
    if sorted {
        // Stable: source order among equal keys, so the last of them is the one kept.
        object.sort_by(|a, b| key(a).cmp(key(b)));
        for (i, m) in object.iter().enumerate() {
            if object.get(i + 1).is_none_or(|next| key(next) != key(m)) {
                kept.push(m.list);
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
    kept.extend(places.iter().filter_map(|&i| object.get(i)).map(|m| m.list));
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
