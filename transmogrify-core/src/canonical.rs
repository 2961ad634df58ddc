//! Canonical JSON of a record, for content-hash ids: keys sorted by their bytes,
//! duplicate keys resolved to the last value, no whitespace, strings minimally
//! escaped, numbers in their exact source text. Iterative, so depth is no danger.
//!
//! The same walk, keeping keys in source order, rewrites a record whose objects
//! repeat a key: each key stays where it first appeared, with its last value.
//!
//! The output is put together from runs of the input where the input is already
//! canonical (a plain string or key, a number, a literal, the punctuation between
//! them), so a compact record copies little but the members it moves, and a
//! compact record whose keys are already in order is its own canonical form.

use hashbrown::HashMap;
use hashbrown::hash_map::Entry;

use crate::parse::{PResult, ParseError, Parser, Peek, write_json_string};

/// No segment: the end of a list.
const NONE: usize = usize::MAX;

/// Addresses from this one up are in the rope's own text (less this), those below
/// it in the input.
const TEXT: usize = 1 << (usize::BITS - 1);

/// The first bytes of the rope's own text: punctuation for places where the
/// input's own is not next to what it joins.
const PUNCTUATION: &[u8; 6] = b",:{}[]";
const COMMA: usize = TEXT;
const COLON: usize = TEXT + 1;
const OPEN_BRACE: usize = TEXT + 2;
const OPEN_BRACKET: usize = TEXT + 4;

/// A run of output bytes, at the addresses `start..end` (see [`TEXT`]), and the
/// segment after it in its list.
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

/// The output being put together: runs of the input and of bytes written here,
/// in lists in the order they are written out. An object's members are put in
/// order by relinking their lists, so nothing is copied however deep the value
/// nests, and runs that meet end to end (in the input or here) become one.
struct Rope {
    text: Vec<u8>,
    segs: Vec<Seg>,
}

impl Default for Rope {
    fn default() -> Self {
        Rope {
            text: PUNCTUATION.to_vec(),
            segs: Vec::new(),
        }
    }
}

impl Rope {
    /// Ends `list` with the bytes at `start..end`.
    fn add(&mut self, list: &mut List, start: usize, end: usize) {
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

    /// Ends `list` with the one punctuation byte at `at`.
    fn punctuation(&mut self, list: &mut List, at: usize) {
        self.add(list, at, at + 1);
    }

    /// Ends `list` with the bytes `write` puts at the end of the text.
    fn write_with(&mut self, list: &mut List, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.text.len();
        write(&mut self.text);
        let end = self.text.len();
        self.add(list, TEXT + start, TEXT + end);
    }

    /// Ends `list` with `other`'s segments (joining the two runs that meet).
    fn append(&mut self, list: &mut List, other: List) {
        let Some(&first) = self.segs.get(other.head) else {
            return;
        };
        if let Some(tail) = self.segs.get_mut(list.tail) {
            if tail.end == first.start {
                tail.end = first.end;
                if other.head != other.tail {
                    tail.next = first.next;
                    list.tail = other.tail;
                }
                return;
            }
            tail.next = other.head;
        } else {
            list.head = other.head;
        }
        list.tail = other.tail;
    }

    /// The bytes of `seg`, from `src` or the text.
    fn bytes<'s>(&'s self, src: &'s [u8], seg: &Seg) -> &'s [u8] {
        let found = if seg.start >= TEXT {
            self.text.get(seg.start - TEXT..seg.end - TEXT)
        } else {
            src.get(seg.start..seg.end)
        };
        found.unwrap_or_default()
    }

    /// The bytes of `list`: a run of `src` when it is one, or else copied into `out`
    /// in order.
    fn write<'s>(&'s self, src: &'s [u8], list: List, out: &'s mut Vec<u8>) -> &'s [u8] {
        if list.head == list.tail
            && let Some(seg) = self.segs.get(list.head)
        {
            return self.bytes(src, seg);
        }
        out.clear();
        let mut at = list.head;
        while let Some(seg) = self.segs.get(at) {
            out.extend_from_slice(self.bytes(src, seg));
            if at == list.tail {
                break;
            }
            at = seg.next;
        }
        out
    }
}

/// An object member read: its key's bytes (unescaped, to order members by: a run
/// of the input, or of the key buffer from [`TEXT`] up) and their first eight, its output `"key":value`,
/// its place among the object's members and the input's comma after it, if any.
#[derive(Clone, Copy)]
struct Member {
    key: (usize, usize),
    /// The key's first eight bytes (see [`head`]).
    head: u64,
    list: List,
    ordinal: usize,
    comma: usize,
}

/// A container being read: an array's output so far, or where an object opens in
/// the input, its key buffer start, the start of its members in the list of open
/// objects' members, and the member being read.
enum Frame {
    Array {
        list: List,
    },
    Object {
        open: usize,
        keys: usize,
        members: usize,
        member: Member,
    },
}

/// The buffers of canonical rewrites, kept from one record to the next.
#[derive(Default)]
pub(crate) struct Canonical {
    rope: Rope,
    scratch: Vec<u8>,
    /// The keys that had escapes, unescaped.
    keys: Vec<u8>,
    /// The members of the objects still open, innermost last.
    members: Vec<Member>,
    kept: Vec<Member>,
    places: Vec<usize>,
    stack: Vec<Frame>,
    out: Vec<u8>,
}

/// Buffers larger than this are given back after a record, so that one large
/// record does not hold its memory for the rest of the run.
const KEEP_BYTES: usize = 1 << 22;

impl Canonical {
    /// The canonical form of the JSON value in `bytes`.
    pub(crate) fn sorted<'s>(
        &'s mut self,
        bytes: &'s [u8],
        nesting_limit: usize,
    ) -> PResult<&'s [u8]> {
        self.rewrite(bytes, nesting_limit, true)
    }

    /// Gives back buffers grown past [`KEEP_BYTES`] for a large record.
    fn trim(&mut self) {
        if self.rope.text.capacity() > KEEP_BYTES
            || self.rope.segs.capacity() * std::mem::size_of::<Seg>() > KEEP_BYTES
            || self.out.capacity() > KEEP_BYTES
            || self.members.capacity() * std::mem::size_of::<Member>() > KEEP_BYTES
        {
            *self = Canonical::default();
        }
    }
}

/// The canonical form of the JSON value in `bytes`.
#[cfg(test)]
pub(crate) fn canonical_json(bytes: &[u8], nesting_limit: usize) -> PResult<Vec<u8>> {
    Canonical::default()
        .sorted(bytes, nesting_limit)
        .map(<[u8]>::to_vec)
}

/// `bytes` as compact JSON with keys in source order, every repeated key kept at its
/// first place with its last value.
pub(crate) fn without_repeated_keys(bytes: &[u8], nesting_limit: usize) -> PResult<Vec<u8>> {
    Canonical::default()
        .rewrite(bytes, nesting_limit, false)
        .map(<[u8]>::to_vec)
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

impl Canonical {
    /// One pass over the value: each object's members are put in order as it
    /// closes by relinking their output ([`Rope`]), so the time is linear in the
    /// input however deep it nests.
    fn rewrite<'s>(
        &'s mut self,
        bytes: &'s [u8],
        nesting_limit: usize,
        sorted: bool,
    ) -> PResult<&'s [u8]> {
        self.trim();
        let Canonical {
            rope,
            scratch,
            keys,
            members,
            kept,
            places,
            stack,
            out,
        } = self;
        rope.text.truncate(PUNCTUATION.len());
        rope.segs.clear();
        keys.clear();
        members.clear();
        stack.clear();
        let mut p = Parser::checked(bytes, nesting_limit);
        let mut root = List::EMPTY;
        loop {
            let open = stack.len();
            let current = match stack.last_mut() {
                Some(Frame::Array { list }) => list,
                Some(Frame::Object { member, .. }) => &mut member.list,
                None => &mut root,
            };
            let peek = p.peek_value()?;
            let at = p.pos();
            match peek {
                Peek::Object => {
                    deeper(open, nesting_limit, &p)?;
                    if p.begin_object()? {
                        let keys_start = keys.len();
                        let member = read_member(&mut p, scratch, keys, rope, 0)?;
                        stack.push(Frame::Object {
                            open: at,
                            keys: keys_start,
                            members: members.len(),
                            member,
                        });
                        continue;
                    }
                    empty(rope, current, at, p.pos(), OPEN_BRACE);
                }
                Peek::Array => {
                    deeper(open, nesting_limit, &p)?;
                    if p.begin_array()? {
                        let mut list = List::EMPTY;
                        rope.add(&mut list, at, at + 1);
                        stack.push(Frame::Array { list });
                        continue;
                    }
                    empty(rope, current, at, p.pos(), OPEN_BRACKET);
                }
                Peek::String => match p.plain_string_token() {
                    // Without escapes in the input, the token is already in
                    // canonical form.
                    Some(_) => rope.add(current, at, p.pos()),
                    None => {
                        let text = p.string(scratch)?.as_bytes();
                        rope.write_with(current, |t| write_json_string(t, text));
                    }
                },
                Peek::Number => {
                    p.number()?;
                    rope.add(current, at, p.pos());
                }
                Peek::True | Peek::False | Peek::Null => {
                    p.literal(match peek {
                        Peek::True => b"true",
                        Peek::False => b"false",
                        _ => b"null",
                    })?;
                    rope.add(current, at, p.pos());
                }
            }
            // A value ended: close the containers that end here, each handing its
            // output to the one around it.
            loop {
                match stack.last_mut() {
                    None => {
                        p.expect_end()?;
                        return Ok(rope.write(bytes, root, out));
                    }
                    Some(Frame::Object {
                        open,
                        keys: keys_start,
                        members: first,
                        member,
                    }) => {
                        let mut done = *member;
                        let more = p.next_member()?;
                        let after = p.pos();
                        if more {
                            // The input's comma, when it is right before the next key.
                            if bytes.get(after.wrapping_sub(1)) == Some(&b',') {
                                done.comma = after - 1;
                            }
                            members.push(done);
                            *member = read_member(&mut p, scratch, keys, rope, done.ordinal + 1)?;
                            break;
                        }
                        members.push(done);
                        let (open, keys_start, first) = (*open, *keys_start, *first);
                        let object = members.get_mut(first..).unwrap_or_default();
                        keep_members(object, bytes, keys, sorted, kept, places);
                        let mut list = List::EMPTY;
                        rope.add(&mut list, open, open + 1);
                        let mut before: Option<Member> = None;
                        for &m in kept.iter() {
                            if let Some(prev) = before {
                                if prev.ordinal + 1 == m.ordinal && prev.comma != NONE {
                                    rope.punctuation(&mut list, prev.comma);
                                } else {
                                    rope.punctuation(&mut list, COMMA);
                                }
                            }
                            rope.append(&mut list, m.list);
                            before = Some(m);
                        }
                        // The input's closing brace, just consumed.
                        rope.add(&mut list, after - 1, after);
                        members.truncate(first);
                        keys.truncate(keys_start);
                        stack.pop();
                        hand_over(stack, &mut root, rope, list);
                    }
                    Some(Frame::Array { list }) => {
                        // The comma or bracket just consumed, from the input.
                        let more = p.next_element()?;
                        let after = p.pos();
                        rope.add(list, after - 1, after);
                        if more {
                            break;
                        }
                        let list = *list;
                        stack.pop();
                        hand_over(stack, &mut root, rope, list);
                    }
                }
            }
        }
    }
}

/// Ends `current` with an empty object or array that opened at `at` and closed
/// just before `after`: the input's own bytes when they are just the two, or
/// else the two from `punctuation` on.
fn empty(rope: &mut Rope, current: &mut List, at: usize, after: usize, punctuation: usize) {
    if after == at + 2 {
        rope.add(current, at, after);
    } else {
        rope.add(current, punctuation, punctuation + 2);
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

/// Reads a member's key and colon: an escaped key into `keys`, `"key":` into the
/// output (from the input when the key has no escapes).
fn read_member(
    p: &mut Parser<'_>,
    scratch: &mut Vec<u8>,
    keys: &mut Vec<u8>,
    rope: &mut Rope,
    ordinal: usize,
) -> PResult<Member> {
    let at = p.pos();
    let mut list = List::EMPTY;
    let (key, head) = match p.plain_key()? {
        Some(raw) => {
            let end = at + 1 + raw.len();
            if p.pos() == end + 2 {
                // `"key":` as written.
                rope.add(&mut list, at, end + 2);
            } else {
                rope.add(&mut list, at, end + 1);
                rope.punctuation(&mut list, COLON);
            }
            ((at + 1, end), head(raw))
        }
        None => {
            let start = keys.len();
            keys.extend_from_slice(p.key(scratch)?.as_bytes());
            let key = keys.get(start..).unwrap_or_default();
            rope.write_with(&mut list, |t| {
                write_json_string(t, key);
                t.push(b':');
            });
            ((TEXT + start, TEXT + keys.len()), head(key))
        }
    };
    Ok(Member {
        key,
        head,
        list,
        ordinal,
        comma: NONE,
    })
}

/// A key's first eight bytes, zero-padded, as a big-endian number: where two
/// keys' heads differ, the keys order as their heads do.
#[inline]
fn head(key: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = key.len().min(8);
    if let (Some(to), Some(from)) = (word.get_mut(..n), key.get(..n)) {
        to.copy_from_slice(from);
    }
    u64::from_be_bytes(word)
}

/// A member's key bytes: from the input, or from the key buffer.
fn key_of<'k>(m: &Member, src: &'k [u8], keys: &'k [u8]) -> &'k [u8] {
    let (start, end) = m.key;
    let found = if start >= TEXT {
        keys.get(start - TEXT..end - TEXT)
    } else {
        src.get(start..end)
    };
    found.unwrap_or_default()
}

/// Sets `kept` to an object's members that are written, in order. Sorted: by
/// key bytes, the last of equal keys kept; otherwise in source order, each key
/// at its first place with its last value.
fn keep_members(
    object: &mut [Member],
    src: &[u8],
    keys: &[u8],
    sorted: bool,
    kept: &mut Vec<Member>,
    places: &mut Vec<usize>,
) {
    kept.clear();
    let key = |m: &Member| key_of(m, src, keys);
    if sorted {
        let order = |a: &Member, b: &Member| a.head.cmp(&b.head).then_with(|| key(a).cmp(key(b)));
        // Most objects are written with their keys in one order every time, often
        // already sorted: then nothing moves.
        if !object.is_sorted_by(|a, b| order(a, b).is_lt()) {
            // Equal keys stay in source order, so the last of them is kept.
            object.sort_unstable_by(|a, b| order(a, b).then(a.ordinal.cmp(&b.ordinal)));
        }
        for (i, m) in object.iter().enumerate() {
            if object.get(i + 1).is_none_or(|next| order(next, m).is_ne()) {
                kept.push(*m);
            }
        }
        return;
    }
    // Each key's first place, holding its last member.
    places.clear();
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
    kept.extend(places.iter().filter_map(|&i| object.get(i)).copied());
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

    /// Writes `node` as JSON text, with whitespace (a space and a line feed) at
    /// each place where `spaces` says so, in turn.
    fn write(node: &Node, spaces: &mut impl Iterator<Item = bool>, out: &mut String) {
        fn space(spaces: &mut impl Iterator<Item = bool>, out: &mut String) {
            if spaces.next().unwrap_or(false) {
                out.push_str(" \n");
            }
        }
        match node {
            Node::Leaf(text) => out.push_str(text),
            Node::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(spaces, out);
                    write(item, spaces, out);
                    space(spaces, out);
                }
                space(spaces, out);
                out.push(']');
            }
            Node::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(spaces, out);
                    out.push_str(&serde_json::Value::from(key.as_str()).to_string());
                    space(spaces, out);
                    out.push(':');
                    space(spaces, out);
                    write(value, spaces, out);
                    space(spaces, out);
                }
                space(spaces, out);
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
        /// normalises), and escapes as we do. The values are rewritten one after
        /// another with the same buffers, as a run's records are.
        #[test]
        fn rewrites_match_serde_json(
            roots in prop::collection::vec(node(), 1..4),
            spaces in prop::collection::vec(any::<bool>(), 1..40),
        ) {
            let mut buffers = Canonical::default();
            for root in &roots {
                let mut text = String::new();
                let mut places = spaces.iter().copied().cycle();
                write(root, &mut places, &mut text);
                let value: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let unique = without_repeated_keys(text.as_bytes(), 64).map(String::from_utf8);
                prop_assert_eq!(unique, Ok(Ok(value.to_string())));
                let canonical = buffers
                    .sorted(text.as_bytes(), 64)
                    .map(|c| String::from_utf8(c.to_vec()));
                prop_assert_eq!(canonical, Ok(Ok(sorted(value).to_string())));
            }
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
