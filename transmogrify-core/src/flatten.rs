//! The flattener: walks one record's JSON bytes and writes straight into per-table
//! column buffers, with no document tree in between.
//!
//! Paths are interned as nodes of a trie (one node per distinct key under a parent
//! node, plus an "element" node under each array that became a child table). A node
//! knows its table and, once it held a value, its column, so the hot path is one hash
//! lookup per key. Ids are assigned when a record ends, parents before children, so
//! an id field that comes after an array in the record still names the array's rows.
//! A record that fails half way is rolled back: rows, columns, tables and nodes it
//! created are removed, so a bad record leaves no trace in skip mode.

#![expect(
    clippy::indexing_slicing,
    reason = "every index is a node, table, column or row id the flattener made itself; no input byte is ever used as an index"
)]

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use hashbrown::{Equivalent, HashMap};

use crate::canonical::{Canonical, has_repeated_keys, without_repeated_keys};
use crate::columns::{ColumnFull, SizeHints, TextColumn, kind, size_key};
use crate::config::{ArrayMode, ErrorMode, IdStrategy, ProcessorConfig};
use crate::error::{Error, Position, RecordError, RecordErrorKind, Result, excerpt};
use crate::ids::{FieldPatterns, IdContext, NamePrefix, Rng, write_uuid5};
use crate::naming::Abbreviator;
use crate::parse::{NumberKind, ParseError, Parser, Peek};
use crate::result::{
    Admitted, BadRecord, ColKey, ProcessingResult, ResultTable, TableChunk, TableKey, VALUE_COLUMN,
};

const NONE: u32 = u32::MAX;

#[derive(Debug)]
struct Node {
    parent: u32,
    key: Arc<str>,
    /// The table this node's values go to.
    table: u32,
    /// Column in `table`, or `NONE`.
    column: u32,
    /// Element node of the child table made from arrays at this node, or `NONE`.
    elem: u32,
    /// The child looked up first in this node's last object, or `NONE`.
    first_hint: u32,
    /// The sibling looked up right after this node in its parent's last object, or
    /// `NONE`. Records mostly repeat their key order, so these hints usually spare the
    /// hash lookup.
    next_hint: u32,
    /// The object (numbered per session) that last held this key: meeting it twice in
    /// one object means a repeated key.
    stamp: u64,
    /// The key holds no quote, backslash or control character, so where it is written
    /// plainly in the input its raw bytes are the key itself (see [`Parser::try_key`]).
    plain_key: bool,
    /// The key's bytes when it has at most [`SHORT_KEY`] of them (zeros after): a
    /// predicted key is compared here, in the node just read, rather than in the
    /// key's own allocation, which is rarely in the cache any more.
    short: [u8; SHORT_KEY],
}

/// Longest key kept in the node itself (most keys of real records are shorter).
const SHORT_KEY: usize = 16;

impl Node {
    /// A node of `key` under `parent`, its values going to `table`; `plain_key` as
    /// the field says (a key of the input: checked here), or not (the root and the
    /// element nodes of arrays, which are never looked up by key).
    fn new(parent: u32, key: Arc<str>, table: u32, plain_key: bool) -> Node {
        let mut short = [0u8; SHORT_KEY];
        if let Some(head) = short.get_mut(..key.len()) {
            head.copy_from_slice(key.as_bytes());
        }
        Node {
            parent,
            plain_key: plain_key && key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'),
            key,
            table,
            column: NONE,
            elem: NONE,
            first_hint: NONE,
            next_hint: NONE,
            stamp: 0,
            short,
        }
    }

    /// The key's bytes, from the node itself when it is short.
    #[inline]
    fn key_bytes(&self) -> &[u8] {
        self.short
            .get(..self.key.len())
            .unwrap_or_else(|| self.key.as_bytes())
    }
}

#[derive(Debug, PartialEq, Eq)]
struct NodeKey {
    parent: u32,
    key: Arc<str>,
}

impl Hash for NodeKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        NodeKeyRef {
            parent: self.parent,
            key: &self.key,
        }
        .hash(state);
    }
}

struct NodeKeyRef<'k> {
    parent: u32,
    key: &'k str,
}

impl Hash for NodeKeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u32(self.parent);
        state.write(self.key.as_bytes());
    }
}

impl Equivalent<NodeKey> for NodeKeyRef<'_> {
    fn equivalent(&self, k: &NodeKey) -> bool {
        self.parent == k.parent && self.key == &*k.key
    }
}

#[derive(Debug)]
struct Table {
    /// Keys from the record root and array levels.
    key: TableKey,
    /// `path` joined by the separator, for ids and id-field patterns.
    path_joined: String,
    parent: u32,
    columns: Vec<TextColumn>,
    col_keys: Vec<ColKey>,
    col_nodes: Vec<u32>,
    value_col: u32,
    rows: usize,
    ids: TextColumn,
    parent_rows: Vec<u32>,
    indices: Vec<u64>,
    /// Field whose value names rows (fields strategy), and the columns it names, in
    /// the order of their claim to the name (see [`Table::claim_id_field`]).
    id_field: Option<String>,
    id_field_cols: Vec<u32>,
    // Rollback checkpoint, set when the table is first touched by a record.
    epoch: u64,
    record_start: usize,
    cols_at_start: usize,
}

impl Table {
    /// Adds column `idx` to those the id field names, in the order of their claim
    /// to the name: as the naming rules give it (fewer keys first, then by key), so
    /// that a row's id depends on its own values only, never on which column the
    /// run met first.
    fn claim_id_field(&mut self, idx: usize) {
        let keys = &self.col_keys;
        let at = self
            .id_field_cols
            .partition_point(|&c| keys[c as usize] < keys[idx]);
        self.id_field_cols.insert(at, idx as u32);
    }

    fn new(key: TableKey, parent: u32, sep: &str, patterns: Option<&FieldPatterns>) -> Self {
        let path_joined = key.keys.iter().map(|s| &**s).collect::<Vec<_>>().join(sep);
        let id_field = patterns
            .and_then(|p| p.field_for(&path_joined))
            .map(str::to_string);
        Table {
            key,
            path_joined,
            parent,
            columns: Vec::new(),
            col_keys: Vec::new(),
            col_nodes: Vec::new(),
            value_col: NONE,
            rows: 0,
            ids: TextColumn::default(),
            parent_rows: Vec::new(),
            indices: Vec::new(),
            id_field,
            id_field_cols: Vec::new(),
            epoch: 0,
            record_start: 0,
            cols_at_start: 0,
        }
    }
}

/// Why a record failed inside the flattener.
enum Fail {
    Parse(ParseError),
    /// What the record is instead, and where its value starts.
    NotObject(&'static str, usize),
    TooLarge(u64),
    /// An object repeats a key: the record is flattened again from a rewrite where
    /// the last value wins.
    RepeatedKey,
    /// A table (its name) would get more columns than the limit; named when the
    /// limit is met, as a table the record made is gone once it is rolled back.
    Columns(String),
    Other(Error),
}

impl From<ParseError> for Box<Fail> {
    fn from(e: ParseError) -> Self {
        Box::new(Fail::Parse(e))
    }
}

impl From<Error> for Box<Fail> {
    fn from(e: Error) -> Self {
        Box::new(Fail::Other(e))
    }
}

impl From<ColumnFull> for Box<Fail> {
    fn from(e: ColumnFull) -> Self {
        Box::new(Fail::Other(e.into()))
    }
}

/// The walk's result. The failure is boxed: the result of every step of the walk
/// then fits in registers (a `Fail` is 56 bytes, which would be returned through
/// memory on every call).
type FResult<T> = std::result::Result<T, Box<Fail>>;

/// Offset bytes per byte of values past which a batch counts as sparse (see
/// [`Flattener::buffered_bytes_over`]).
const SPARSE_OFFSETS_PER_BYTE: usize = 8;

/// Offset bytes a batch may take whatever its values (see
/// [`Flattener::buffered_bytes_over`]).
const SPARSE_MIN_OFFSET_BYTES: usize = 2 << 20;

/// The mutable state of one flattening session: one per thread or worker.
pub(crate) struct Flattener {
    cfg: Arc<ProcessorConfig>,
    entity: Arc<str>,
    source: Arc<str>,
    extract_time: i64,
    nodes: Vec<Node>,
    node_map: HashMap<NodeKey, u32>,
    tables: Vec<Table>,
    patterns: Option<FieldPatterns>,
    /// How column names are shortened, when they are (for matching id fields).
    field_names: Option<Abbreviator>,
    rng: Rng,
    /// Buffers of content-hash ids' canonical JSON, kept between records.
    canonical: Canonical,
    epoch: u64,
    touched: Vec<u32>,
    /// `(table, column, kinds before)` for every column whose kinds grew during the
    /// current record, so a rollback can restore them.
    kind_log: Vec<(u32, u32, u16)>,
    /// The columns the tables had in the run's earlier parts, when this session
    /// flattens one of several parts in turn ([`crate::ColumnsSeen`]).
    seen: Option<crate::ColumnsSeen>,
    /// `(table, column)` for every column the current record added to `seen`, so a
    /// rollback can take them out.
    seen_log: Vec<(u32, ColKey)>,
    key_scratch: Vec<u8>,
    /// Room for a column's key in `sizes`.
    size_key: String,
    /// Number of the object being walked (see `Node::stamp`).
    object_stamp: u64,
    /// Whether the record being walked repeats a key in some object.
    repeated_key: bool,
    text_scratch: Vec<u8>,
    batch_records: usize,
    records: u64,
    next_ordinal: u64,
    /// The least and greatest record ordinals pushed or rejected.
    ordinal_span: Option<(u64, u64)>,
    // Output so far.
    chunks: Vec<Vec<Arc<TableChunk>>>,
    /// Bytes of the arrays in `chunks`.
    chunk_bytes: usize,
    errors: Vec<BadRecord>,
    /// Room for new columns, from earlier sessions of the processor.
    sizes: Arc<SizeHints>,
    /// Whether this session's first batch has been recorded in `sizes`.
    sized: bool,
}

/// The key of a table's data column in [`SizeHints`].
fn column_size_key<'k>(key: &'k mut String, table_path: &str, column: &ColKey) -> &'k str {
    match column {
        ColKey::Path(path) => size_key(key, table_path, path.iter().map(|p| &**p)),
        ColKey::Value => size_key(key, table_path, ["[value]"]),
    }
}

/// The key of a table's id column in [`SizeHints`].
fn id_size_key<'k>(key: &'k mut String, table_path: &str) -> &'k str {
    size_key(key, table_path, ["[id]"])
}

impl Flattener {
    pub(crate) fn new(
        cfg: Arc<ProcessorConfig>,
        entity: &str,
        extract_time: i64,
        sizes: Arc<SizeHints>,
    ) -> Self {
        let patterns = match &cfg.id_strategy {
            IdStrategy::Fields(p) => Some(FieldPatterns::new(p, &cfg.separator)),
            _ => None,
        };
        let mut main = Table::new(TableKey::main(), NONE, &cfg.separator, patterns.as_ref());
        let mut size_key = String::new();
        main.ids = sizes.column(id_size_key(&mut size_key, ""));
        let mut flattener = Flattener {
            entity: Arc::from(entity),
            source: Arc::from("<input>"),
            extract_time,
            nodes: vec![Node::new(NONE, Arc::from(""), 0, false)],
            node_map: HashMap::new(),
            tables: vec![main],
            patterns,
            field_names: cfg
                .naming
                .abbreviate_field_names
                .then(|| Abbreviator::for_fields(&cfg.naming)),
            rng: Rng::from_os(),
            canonical: Canonical::default(),
            epoch: 0,
            touched: Vec::new(),
            kind_log: Vec::new(),
            seen: None,
            seen_log: Vec::new(),
            key_scratch: Vec::new(),
            size_key,
            object_stamp: 0,
            repeated_key: false,
            text_scratch: Vec::new(),
            batch_records: 0,
            records: 0,
            next_ordinal: 0,
            ordinal_span: None,
            chunks: vec![Vec::new()],
            chunk_bytes: 0,
            errors: Vec::new(),
            sizes,
            sized: false,
            cfg,
        };
        // Declared main columns are written with or without values: they count
        // against the column limit from the start.
        if !flattener.cfg.main_columns.is_empty() {
            flattener.set_columns_seen(crate::ColumnsSeen::default());
        }
        flattener
    }

    /// Counts the tables' columns with those of the run's earlier parts (and the
    /// declared main columns).
    pub(crate) fn set_columns_seen(&mut self, seen: crate::ColumnsSeen) {
        let declared = self
            .cfg
            .main_columns
            .iter()
            .map(|key| ColKey::Path(Arc::from([Arc::<str>::from(key.as_str())])));
        seen.declare(&self.tables[0].key, declared);
        self.seen = Some(seen);
    }

    pub(crate) fn set_source(&mut self, source: &str) {
        self.source = Arc::from(source);
    }

    pub(crate) fn source(&self) -> &Arc<str> {
        &self.source
    }

    /// The entity name: the main table's.
    pub(crate) fn entity(&self) -> &str {
        &self.entity
    }

    pub(crate) fn set_next_ordinal(&mut self, ordinal: u64) {
        self.next_ordinal = ordinal;
    }

    pub(crate) fn next_ordinal(&self) -> u64 {
        self.next_ordinal
    }

    pub(crate) fn config(&self) -> &ProcessorConfig {
        &self.cfg
    }

    /// Flattens one record (measured against the size limit when `measure`). In
    /// skip mode a bad record is recorded and `Ok` returned.
    /// Flattens one record at `pos`: `measure`d against the size limit by its
    /// bytes, and `inside` when its bytes are its source's, so that an error in it
    /// is placed where it is in them (not for text a reader made of a row).
    pub(crate) fn push(
        &mut self,
        bytes: &[u8],
        pos: Position,
        measure: bool,
        inside: bool,
    ) -> Result<()> {
        self.next_ordinal = pos.ordinal + 1;
        self.note_ordinal(pos.ordinal);
        match self.flatten_record(bytes, pos, measure) {
            Ok(()) => {
                self.records += 1;
                self.batch_records += 1;
                if self.batch_records >= self.cfg.batch_size || self.buffered_bytes_over() {
                    self.flush()?;
                }
                Ok(())
            }
            Err(fail) => {
                let error = self.record_error(*fail, bytes, pos, inside)?;
                self.reject(error, bytes)
            }
        }
    }

    #[inline]
    fn note_ordinal(&mut self, ordinal: u64) {
        self.ordinal_span = Some(match self.ordinal_span {
            Some((first, last)) => (first.min(ordinal), last.max(ordinal)),
            None => (ordinal, ordinal),
        });
    }

    /// Records or raises a bad record found outside the flattener (by a reader).
    pub(crate) fn reject(&mut self, error: RecordError, raw: &[u8]) -> Result<()> {
        self.note_ordinal(error.position.ordinal);
        match self.cfg.on_error {
            ErrorMode::Strict => Err(Error::from(error)),
            ErrorMode::Skip => {
                let limit = self.cfg.max_error_raw_bytes.min(raw.len());
                let mut cut = limit;
                while cut > 0 && cut < raw.len() && (raw[cut] & 0xC0) == 0x80 {
                    cut -= 1;
                }
                self.errors.push(BadRecord {
                    error,
                    raw: String::from_utf8_lossy(&raw[..cut]).into_owned(),
                    raw_truncated: cut < raw.len(),
                });
                Ok(())
            }
        }
    }

    fn record_error(
        &self,
        fail: Fail,
        bytes: &[u8],
        pos: Position,
        inside: bool,
    ) -> Result<RecordError> {
        let (kind, at) = match fail {
            Fail::Parse(ParseError::Syntax(e, at)) => (RecordErrorKind::Syntax(e), at),
            Fail::Parse(ParseError::TooDeep(at)) => (
                RecordErrorKind::TooDeep {
                    limit: self.cfg.nesting_limit,
                },
                at,
            ),
            Fail::Columns(table) => (
                RecordErrorKind::TooManyColumns {
                    table,
                    limit: self.cfg.max_columns,
                },
                0,
            ),
            Fail::NotObject(found, at) => (RecordErrorKind::NotAnObject { found }, at),
            Fail::TooLarge(size) => (
                RecordErrorKind::TooLarge {
                    size,
                    limit: self.cfg.max_record_bytes,
                    whole: true,
                },
                0,
            ),
            Fail::RepeatedKey => {
                return Err(Error::Internal(
                    "a record still repeats a key after its rewrite".into(),
                ));
            }
            Fail::Other(e) => return Err(e),
        };
        Ok(RecordError {
            source_name: self.source.clone(),
            position: if inside { pos.advanced(bytes, at) } else { pos },
            kind,
            excerpt: excerpt(bytes, at),
        })
    }

    fn table_label(&self, table: u32) -> String {
        let t = &self.tables[table as usize];
        if t.key.keys.is_empty() {
            self.entity.to_string()
        } else {
            format!("{}{}{}", self.entity, self.cfg.separator, t.path_joined)
        }
    }

    /// Whether the batch should be cut before its record count is reached: when its
    /// columns hold more than the configured bytes, or when they are sparse.
    ///
    /// Every column a batch touches gets an offset (4 bytes) for every row of its
    /// table once the batch is cut, a value or not. Records that each carry a few of
    /// thousands of keys (a map of user-defined properties) touch a new set of
    /// columns with every record, so a batch of `n` of them costs `n * n` offsets
    /// (in every writer too, row by row) for `n` records' worth of values. A batch of
    /// such records is cut once those offsets pass [`SPARSE_OFFSETS_PER_BYTE`] times
    /// the bytes of its values and [`SPARSE_MIN_OFFSET_BYTES`]; ordinary records,
    /// whose columns are mostly filled, never come near that.
    fn buffered_bytes_over(&self) -> bool {
        // Checked every record; cheap enough as a sum over tables' columns only when
        // the record count suggests it could matter.
        if self.batch_records % 64 != 0 {
            return false;
        }
        let (mut data, mut offsets) = (0usize, 0usize);
        for t in &self.tables {
            data += t.ids.byte_len();
            for c in &t.columns {
                if c.len() > 0 {
                    data += c.data_len();
                    offsets += (t.rows + 1) * 4;
                }
            }
        }
        data + offsets > self.cfg.batch_bytes()
            || (offsets > SPARSE_MIN_OFFSET_BYTES && offsets > SPARSE_OFFSETS_PER_BYTE * data)
    }

    fn flatten_record(&mut self, bytes: &[u8], pos: Position, measure: bool) -> FResult<()> {
        if measure && bytes.len() as u64 > self.cfg.max_record_bytes {
            return Err(Fail::TooLarge(bytes.len() as u64).into());
        }
        match self.flatten_once(bytes, bytes, pos) {
            // Rare: rather than undo values in place, flatten a rewrite of the record
            // in which each repeated key keeps its first place and its last value.
            Err(fail) if matches!(*fail, Fail::RepeatedKey) => {
                let unique = without_repeated_keys(bytes, self.cfg.nesting_limit)?;
                self.flatten_once(&unique, bytes, pos)
            }
            // The walk stops at the column past the limit: the record may yet be
            // malformed further on (that is its error, whatever the order of its
            // keys), or repeat a key whose last value needs no such column.
            Err(fail) if matches!(*fail, Fail::Columns(_)) => {
                if !has_repeated_keys(bytes, self.cfg.nesting_limit)? {
                    return Err(fail);
                }
                let unique = without_repeated_keys(bytes, self.cfg.nesting_limit)?;
                self.flatten_once(&unique, bytes, pos)
            }
            result => result,
        }
    }

    /// One walk of `bytes`; `record` is the record as given (for ids that hash it).
    fn flatten_once(&mut self, bytes: &[u8], record: &[u8], pos: Position) -> FResult<()> {
        self.epoch += 1;
        self.touched.clear();
        self.repeated_key = false;
        let nodes_at_start = self.nodes.len();
        let tables_at_start = self.tables.len();
        let mut p = Parser::checked(bytes, self.cfg.nesting_limit);
        let result = (|| -> FResult<()> {
            let found = match p.peek_value()? {
                Peek::Object => None,
                Peek::Array => Some("an array"),
                Peek::String => Some("a string"),
                Peek::Number => Some("a number"),
                Peek::True | Peek::False => Some("a boolean"),
                Peek::Null => Some("null"),
            };
            if let Some(found) = found {
                return Err(Fail::NotObject(found, p.pos()).into());
            }
            let row = self.new_row(0, NONE as usize, 0);
            self.object(&mut p, 0, row, 0, 1)?;
            p.expect_end()?;
            if self.repeated_key {
                return Err(Fail::RepeatedKey.into());
            }
            self.assign_ids(record, pos.ordinal)
        })();
        if result.is_err() {
            self.rollback_to(nodes_at_start, tables_at_start);
        }
        self.kind_log.clear();
        self.seen_log.clear();
        result
    }

    // ---- the walk ------------------------------------------------------------------

    fn object(
        &mut self,
        p: &mut Parser<'_>,
        t: u32,
        row: usize,
        node: u32,
        depth: usize,
    ) -> FResult<()> {
        if !p.begin_object()? {
            return Ok(());
        }
        self.object_stamp += 1;
        let stamp = self.object_stamp;
        let mut prev = NONE;
        loop {
            // Records mostly repeat their keys in order: first try the key that came
            // next last time, compared raw against the input (no scan, no UTF-8 check).
            let hint = if prev == NONE {
                self.nodes[node as usize].first_hint
            } else {
                self.nodes[prev as usize].next_hint
            };
            let child = match self.nodes.get(hint as usize) {
                Some(n) if n.parent == node && n.plain_key && p.try_key(n.key_bytes()) => hint,
                _ => {
                    let mut scratch = std::mem::take(&mut self.key_scratch);
                    let key = p.key(&mut scratch)?;
                    let child = self.predicted_child(node, prev, key);
                    self.key_scratch = scratch;
                    child
                }
            };
            let seen = &mut self.nodes[child as usize].stamp;
            if *seen == stamp {
                self.repeated_key = true;
            }
            *seen = stamp;
            self.value(p, t, row, child, depth)?;
            if !p.next_member()? {
                return Ok(());
            }
            prev = child;
        }
    }

    /// One value held at `node` by a container at `depth`.
    fn value(
        &mut self,
        p: &mut Parser<'_>,
        t: u32,
        row: usize,
        node: u32,
        depth: usize,
    ) -> FResult<()> {
        match p.peek_value()? {
            Peek::Object => {
                if depth + 1 > self.cfg.max_depth {
                    self.json_text(p, t, row, node, depth)
                } else {
                    self.object(p, t, row, node, depth + 1)
                }
            }
            Peek::Array => self.array(p, t, row, node, depth),
            Peek::String => self.string(p, t, row, node),
            Peek::Number => {
                let (text, k) = p.number()?;
                self.set(t, row, node, text.as_bytes(), self.number_kinds(text, k))
            }
            Peek::True => {
                p.literal(b"true")?;
                self.set(t, row, node, b"true", kind::BOOL)
            }
            Peek::False => {
                p.literal(b"false")?;
                self.set(t, row, node, b"false", kind::BOOL)
            }
            Peek::Null => {
                p.literal(b"null")?;
                if !self.cfg.skip_null {
                    let col = self.column(t, node)?;
                    self.tables[t as usize].columns[col].set_null(row);
                }
                Ok(())
            }
        }
    }

    fn string(&mut self, p: &mut Parser<'_>, t: u32, row: usize, node: u32) -> FResult<()> {
        if p.empty_string() {
            if self.cfg.include_empty {
                self.set(t, row, node, b"", kind::STRING)?;
            }
            return Ok(());
        }
        let col = self.column(t, node)?;
        self.string_cell(p, t, row, col)
    }

    /// Unescapes the string at the parser straight into the column's buffer.
    fn string_cell(&mut self, p: &mut Parser<'_>, t: u32, row: usize, col: usize) -> FResult<()> {
        self.note_kinds(t, col, kind::STRING);
        let column = &mut self.tables[t as usize].columns[col];
        let out = column.begin(row);
        match p.string_into(out) {
            Ok(_) => Ok(column.commit(kind::STRING)?),
            Err(e) => {
                column.abort();
                Err(e.into())
            }
        }
    }

    /// The kinds of a number. Exactness (does `f64` hold it? does `Decimal128`?) only
    /// matters for typed columns, so text mode skips those checks.
    #[inline]
    fn number_kinds(&self, text: &str, k: NumberKind) -> u16 {
        if self.cfg.cast_to_string {
            match k {
                NumberKind::Int => kind::INT,
                NumberKind::BigInt => kind::BIGINT,
                NumberKind::Float => kind::FLOAT,
            }
        } else {
            number_kinds(text, k)
        }
    }

    #[inline]
    fn set(&mut self, t: u32, row: usize, node: u32, bytes: &[u8], kinds: u16) -> FResult<()> {
        let col = self.column(t, node)?;
        self.cell(t, row, col, bytes, kinds)
    }

    #[inline]
    fn cell(&mut self, t: u32, row: usize, col: usize, bytes: &[u8], kinds: u16) -> FResult<()> {
        self.note_kinds(t, col, kinds);
        self.tables[t as usize].columns[col].set(row, bytes, kinds)?;
        Ok(())
    }

    #[inline]
    fn note_kinds(&mut self, t: u32, col: usize, kinds: u16) {
        let before = self.tables[t as usize].columns[col].kinds;
        if before | kinds != before {
            self.kind_log.push((t, col as u32, before));
        }
    }

    /// Keeps the value at the parser (a container) as compact JSON text, unless empty.
    fn json_text(
        &mut self,
        p: &mut Parser<'_>,
        t: u32,
        row: usize,
        node: u32,
        depth: usize,
    ) -> FResult<()> {
        let mut text = std::mem::take(&mut self.text_scratch);
        text.clear();
        let r = p.compact_value(depth, &mut text);
        let r = match r {
            Ok(()) if text == b"[]" || text == b"{}" => Ok(()),
            Ok(()) => self
                .note_repeated_keys(&text)
                .and_then(|()| self.set(t, row, node, &text, kind::JSON)),
            Err(e) => Err(e.into()),
        };
        self.text_scratch = text;
        r
    }

    fn array(
        &mut self,
        p: &mut Parser<'_>,
        t: u32,
        row: usize,
        node: u32,
        depth: usize,
    ) -> FResult<()> {
        let mode = self.cfg.array_mode;
        if mode == ArrayMode::Skip {
            return Ok(p.skip_value(depth)?);
        }
        if mode == ArrayMode::Inline || depth + 1 > self.cfg.max_depth {
            return self.json_text(p, t, row, node, depth);
        }
        match mode {
            ArrayMode::Index => {
                if !p.begin_array()? {
                    return Ok(());
                }
                let mut i = 0u64;
                let mut digits = itoa_buf();
                loop {
                    let child = self.child_node(node, itoa(&mut digits, i));
                    self.value(p, t, row, child, depth + 1)?;
                    i += 1;
                    if !p.next_element()? {
                        return Ok(());
                    }
                }
            }
            ArrayMode::Smart => {
                // Arrays of scalars stay JSON text; any object element makes the
                // array a child table.
                let mut text = std::mem::take(&mut self.text_scratch);
                text.clear();
                let r = match p.compact_scalar_array(depth, &mut text) {
                    Ok(true) if text == b"[]" => Ok(()),
                    Ok(true) => self
                        .note_repeated_keys(&text)
                        .and_then(|()| self.set(t, row, node, &text, kind::JSON)),
                    Ok(false) => {
                        self.text_scratch = text;
                        return self.child_rows(p, t, row, node, depth);
                    }
                    Err(e) => Err(e.into()),
                };
                self.text_scratch = text;
                r
            }
            _ => self.child_rows(p, t, row, node, depth),
        }
    }

    /// Each element of the array at the parser becomes a row of the child table at `node`.
    fn child_rows(
        &mut self,
        p: &mut Parser<'_>,
        t: u32,
        row: usize,
        node: u32,
        depth: usize,
    ) -> FResult<()> {
        if !p.begin_array()? {
            return Ok(());
        }
        let mut i = 0u64;
        loop {
            match p.peek_value()? {
                Peek::Object => {
                    let (ct, r) = self.elem_row(t, node, row, i)?;
                    if depth + 2 > self.cfg.max_depth {
                        self.elem_json_text(p, ct, r, depth + 1)?;
                    } else {
                        let elem = self.nodes[node as usize].elem;
                        self.object(p, ct, r, elem, depth + 2)?;
                    }
                }
                Peek::Array => {
                    let mut text = std::mem::take(&mut self.text_scratch);
                    text.clear();
                    let res = match p.compact_value(depth + 1, &mut text) {
                        Ok(()) if text == b"[]" => Ok(()),
                        Ok(()) => self.note_repeated_keys(&text).and_then(|()| {
                            self.elem_row(t, node, row, i)
                                .and_then(|(ct, r)| self.value_cell(ct, r, &text, kind::JSON))
                        }),
                        Err(e) => Err(e.into()),
                    };
                    self.text_scratch = text;
                    res?;
                }
                Peek::String => {
                    if p.empty_string() {
                        if self.cfg.include_empty {
                            let (ct, r) = self.elem_row(t, node, row, i)?;
                            self.value_cell(ct, r, b"", kind::STRING)?;
                        }
                    } else {
                        let (ct, r) = self.elem_row(t, node, row, i)?;
                        let col = self.value_column(ct)?;
                        self.string_cell(p, ct, r, col)?;
                    }
                }
                Peek::Number => {
                    let (text, k) = p.number()?;
                    let (ct, r) = self.elem_row(t, node, row, i)?;
                    self.value_cell(ct, r, text.as_bytes(), self.number_kinds(text, k))?;
                }
                Peek::True => {
                    p.literal(b"true")?;
                    let (ct, r) = self.elem_row(t, node, row, i)?;
                    self.value_cell(ct, r, b"true", kind::BOOL)?;
                }
                Peek::False => {
                    p.literal(b"false")?;
                    let (ct, r) = self.elem_row(t, node, row, i)?;
                    self.value_cell(ct, r, b"false", kind::BOOL)?;
                }
                Peek::Null => {
                    p.literal(b"null")?;
                    if !self.cfg.skip_null {
                        let (ct, r) = self.elem_row(t, node, row, i)?;
                        let col = self.value_column(ct)?;
                        self.tables[ct as usize].columns[col].set_null(r);
                    }
                }
            }
            i += 1;
            if !p.next_element()? {
                return Ok(());
            }
        }
    }

    /// Notes a repeated key in an object of `text`, a value kept as JSON text, so
    /// that the record is flattened again without it (the last value of the key
    /// wins there as everywhere). Only text holding an object is looked at.
    fn note_repeated_keys(&mut self, text: &[u8]) -> FResult<()> {
        if !self.repeated_key
            && memchr::memchr(b'{', text).is_some()
            && crate::canonical::has_repeated_keys(text, self.cfg.nesting_limit)?
        {
            self.repeated_key = true;
        }
        Ok(())
    }

    /// An array's object element at the depth limit: its JSON text in the `value`
    /// column of its row, as deeper objects are kept, but for `{}`, which as
    /// everywhere makes nothing (the row has its ids alone).
    fn elem_json_text(
        &mut self,
        p: &mut Parser<'_>,
        t: u32,
        row: usize,
        depth: usize,
    ) -> FResult<()> {
        let mut text = std::mem::take(&mut self.text_scratch);
        text.clear();
        let r = match p.compact_value(depth, &mut text) {
            Ok(()) if text == b"{}" => Ok(()),
            Ok(()) => self
                .note_repeated_keys(&text)
                .and_then(|()| self.value_cell(t, row, &text, kind::JSON)),
            Err(e) => Err(e.into()),
        };
        self.text_scratch = text;
        r
    }

    fn value_cell(&mut self, t: u32, row: usize, bytes: &[u8], kinds: u16) -> FResult<()> {
        let col = self.value_column(t)?;
        self.cell(t, row, col, bytes, kinds)
    }

    /// A new row for element `index` of the array at `node` (of table `t`, row `row`),
    /// creating the child table on its first row.
    #[inline]
    fn elem_row(&mut self, t: u32, node: u32, row: usize, index: u64) -> FResult<(u32, usize)> {
        let ct = self.child_table(t, node)?;
        Ok((ct, self.new_row(ct, row, index)))
    }

    // ---- interning -----------------------------------------------------------------

    /// The child `key` of `parent`, trying first the child that followed `prev` (or
    /// came first, when `prev` is `NONE`) last time.
    #[inline]
    fn predicted_child(&mut self, parent: u32, prev: u32, key: &str) -> u32 {
        let hint = if prev == NONE {
            self.nodes[parent as usize].first_hint
        } else {
            self.nodes[prev as usize].next_hint
        };
        if let Some(n) = self.nodes.get(hint as usize)
            && n.parent == parent
            && crate::parse::key_eq(n.key_bytes(), key.as_bytes())
        {
            return hint;
        }
        let child = self.child_node(parent, key);
        if prev == NONE {
            self.nodes[parent as usize].first_hint = child;
        } else {
            self.nodes[prev as usize].next_hint = child;
        }
        child
    }

    #[inline]
    fn child_node(&mut self, parent: u32, key: &str) -> u32 {
        if let Some(&id) = self.node_map.get(&NodeKeyRef { parent, key }) {
            return id;
        }
        let id = self.nodes.len() as u32;
        let key: Arc<str> = Arc::from(key);
        let table = self.nodes[parent as usize].table;
        self.nodes.push(Node::new(parent, key.clone(), table, true));
        self.node_map.insert(NodeKey { parent, key }, id);
        id
    }

    /// The column of `node` in table `t`, created on first use.
    #[inline]
    fn column(&mut self, t: u32, node: u32) -> FResult<usize> {
        let c = self.nodes[node as usize].column;
        if c != NONE {
            return Ok(c as usize);
        }
        self.new_column(t, node)
    }

    #[cold]
    #[inline(never)]
    fn new_column(&mut self, t: u32, node: u32) -> FResult<usize> {
        // The relative path: keys from the table's element node (exclusive) down.
        let mut path: Vec<Arc<str>> = Vec::new();
        let mut n = node;
        while n != NONE && self.nodes[n as usize].table == t && !self.is_table_root(n, t) {
            path.push(self.nodes[n as usize].key.clone());
            n = self.nodes[n as usize].parent;
        }
        path.reverse();
        let sep = self.cfg.separator.clone();
        // The column's name before any clash of names is settled: its keys joined,
        // shortened when column names are.
        let names_id = self.tables[t as usize]
            .id_field
            .as_deref()
            .is_some_and(|f| match &self.field_names {
                Some(abbreviator) => abbreviator.join(&path, &sep) == f,
                None => joined_eq(&path, &sep, f),
            });
        let key = ColKey::Path(Arc::from(path));
        self.admit_column(t, &key)?;
        let table = &mut self.tables[t as usize];
        let idx = table.columns.len();
        table.columns.push(self.sizes.column(column_size_key(
            &mut self.size_key,
            &table.path_joined,
            &key,
        )));
        table.col_keys.push(key);
        table.col_nodes.push(node);
        if names_id {
            table.claim_id_field(idx);
        }
        self.nodes[node as usize].column = idx as u32;
        Ok(idx)
    }

    /// Whether table `t` may get column `key`: a table has at most `max_columns`,
    /// counting those of the run's earlier parts when the session knows them.
    fn admit_column(&mut self, t: u32, key: &ColKey) -> FResult<()> {
        let limit = self.cfg.max_columns;
        let table = &self.tables[t as usize];
        match &self.seen {
            None if table.columns.len() >= limit => Err(Fail::Columns(self.table_label(t)).into()),
            None => Ok(()),
            Some(seen) => match seen.admit(&table.key, key, limit) {
                Admitted::Known => Ok(()),
                Admitted::New => {
                    self.seen_log.push((t, key.clone()));
                    Ok(())
                }
                Admitted::Refused => Err(Fail::Columns(self.table_label(t)).into()),
            },
        }
    }

    fn is_table_root(&self, node: u32, t: u32) -> bool {
        if t == 0 {
            return node == 0;
        }
        let parent = self.nodes[node as usize].parent;
        parent != NONE && self.nodes[parent as usize].elem == node
    }

    fn value_column(&mut self, t: u32) -> FResult<usize> {
        if self.tables[t as usize].value_col != NONE {
            return Ok(self.tables[t as usize].value_col as usize);
        }
        self.admit_column(t, &ColKey::Value)?;
        let table = &mut self.tables[t as usize];
        let idx = table.columns.len();
        table.columns.push(self.sizes.column(column_size_key(
            &mut self.size_key,
            &table.path_joined,
            &ColKey::Value,
        )));
        table.col_keys.push(ColKey::Value);
        table.col_nodes.push(NONE);
        table.value_col = idx as u32;
        if table.id_field.as_deref() == Some(VALUE_COLUMN) {
            table.claim_id_field(idx);
        }
        Ok(idx)
    }

    /// The child table for arrays at `node` (a node of table `t`), created on first use.
    #[inline]
    fn child_table(&mut self, t: u32, node: u32) -> FResult<u32> {
        let elem = self.nodes[node as usize].elem;
        if elem != NONE {
            return Ok(self.nodes[elem as usize].table);
        }
        self.new_child_table(t, node)
    }

    #[cold]
    #[inline(never)]
    fn new_child_table(&mut self, t: u32, node: u32) -> FResult<u32> {
        let ct = self.tables.len() as u32;
        let mut path: Vec<Arc<str>> = self.tables[t as usize].key.keys.to_vec();
        let mut rel = Vec::new();
        let mut n = node;
        while n != NONE && !self.is_table_root(n, t) {
            rel.push(self.nodes[n as usize].key.clone());
            n = self.nodes[n as usize].parent;
        }
        rel.reverse();
        path.extend(rel);
        let elem = self.nodes.len() as u32;
        self.nodes.push(Node::new(node, Arc::from(""), ct, false));
        self.nodes[node as usize].elem = elem;
        let mut levels = self.tables[t as usize].key.levels.to_vec();
        levels.push(path.len() as u32);
        let mut table = Table::new(
            TableKey {
                keys: Arc::from(path),
                levels: Arc::from(levels),
            },
            t,
            &self.cfg.separator,
            self.patterns.as_ref(),
        );
        table.ids = self
            .sizes
            .column(id_size_key(&mut self.size_key, &table.path_joined));
        self.tables.push(table);
        self.chunks.push(Vec::new());
        Ok(ct)
    }

    // ---- rows, ids and rollback ----------------------------------------------------

    #[inline]
    fn touch(&mut self, t: u32) {
        let epoch = self.epoch;
        let table = &mut self.tables[t as usize];
        if table.epoch != epoch {
            table.epoch = epoch;
            table.record_start = table.rows;
            table.cols_at_start = table.columns.len();
            self.touched.push(t);
        }
    }

    #[inline]
    fn new_row(&mut self, t: u32, parent_row: usize, index: u64) -> usize {
        self.touch(t);
        let table = &mut self.tables[t as usize];
        table.rows += 1;
        table.parent_rows.push(parent_row as u32);
        table.indices.push(index);
        table.rows - 1
    }

    fn assign_ids(&mut self, record: &[u8], ordinal: u64) -> FResult<()> {
        let mut buf = [0u8; 36];
        if matches!(self.cfg.id_strategy, IdStrategy::Random) {
            // The default, and the only strategy that needs nothing of the row: no
            // parent id, field or name to look up.
            for &t in &self.touched {
                let table = &mut self.tables[t as usize];
                for r in table.record_start..table.rows {
                    self.rng.uuid4(&mut buf);
                    table.ids.set_fixed(r, &buf)?;
                }
            }
            return Ok(());
        }
        let mut name: Vec<u8> = Vec::new();
        let mut siblings: Option<(usize, u32, NamePrefix)> = None;
        for ti in 0..self.touched.len() {
            let t = self.touched[ti] as usize;
            let (start, end) = (self.tables[t].record_start, self.tables[t].rows);
            for r in start..end {
                name.clear();
                let id: &[u8] = {
                    let table = &self.tables[t];
                    let parent_id = if table.parent == NONE {
                        None
                    } else {
                        self.tables[table.parent as usize]
                            .ids
                            .value(table.parent_rows[r] as usize)
                    };
                    let field_value = table.id_field_cols.iter().find_map(|&c| {
                        table.columns[c as usize].value(r).filter(|v| !v.is_empty())
                    });
                    match &self.cfg.id_strategy {
                        IdStrategy::Random => self.rng.uuid4(&mut buf).as_bytes(),
                        IdStrategy::Fields(_) if field_value.is_some() => {
                            write_uuid5(field_value.unwrap_or_default(), &mut buf).as_bytes()
                        }
                        IdStrategy::ContentHash if parent_id.is_none() => {
                            let canonical =
                                self.canonical.sorted(record, self.cfg.nesting_limit)?;
                            write_uuid5(canonical, &mut buf).as_bytes()
                        }
                        IdStrategy::Custom(generator) => {
                            let ctx = IdContext {
                                entity: &self.entity,
                                table_path: &table.path_joined,
                                record_ordinal: ordinal,
                                parent_id: parent_id.and_then(|p| std::str::from_utf8(p).ok()),
                                index: parent_id.map(|_| table.indices[r]),
                                record,
                            };
                            name = generator.generate(&ctx).into_bytes();
                            &name
                        }
                        _ => match parent_id {
                            None => {
                                let mut digits = itoa_buf();
                                name.extend_from_slice(self.entity.as_bytes());
                                name.push(b':');
                                name.extend_from_slice(itoa(&mut digits, ordinal).as_bytes());
                                write_uuid5(&name, &mut buf).as_bytes()
                            }
                            Some(parent) => {
                                // `<parent id>:<array path>:<index>`: the elements of one
                                // array share all but the index, hashed once for them all.
                                let parent_row = table.parent_rows[r];
                                if siblings
                                    .as_ref()
                                    .is_some_and(|(pt, pr, _)| (*pt, *pr) != (t, parent_row))
                                {
                                    siblings = None;
                                }
                                let (_, _, prefix) = siblings.get_or_insert_with(|| {
                                    let path = table.path_joined.as_bytes();
                                    (t, parent_row, NamePrefix::new(&[parent, b":", path, b":"]))
                                });
                                let mut digits = itoa_buf();
                                let index = itoa(&mut digits, table.indices[r]);
                                prefix.uuid5(index.as_bytes(), &mut buf).as_bytes()
                            }
                        },
                    }
                };
                self.tables[t].ids.set(r, id, kind::STRING)?;
            }
        }
        Ok(())
    }

    fn rollback_to(&mut self, nodes_at_start: usize, tables_at_start: usize) {
        if let Some(seen) = &self.seen {
            seen.forget(
                self.seen_log
                    .drain(..)
                    .map(|(t, key)| (&self.tables[t as usize].key, key)),
            );
        }
        for (t, col, before) in self.kind_log.drain(..).rev() {
            if let Some(c) = self
                .tables
                .get_mut(t as usize)
                .and_then(|table| table.columns.get_mut(col as usize))
            {
                c.kinds = before;
            }
        }
        for &t in &self.touched {
            let t = t as usize;
            if t >= tables_at_start {
                continue;
            }
            let table = &mut self.tables[t];
            let (start, cols) = (table.record_start, table.cols_at_start);
            for c in table.columns.iter_mut() {
                c.truncate(start);
            }
            for node in table.col_nodes.drain(cols..) {
                if node != NONE && (node as usize) < nodes_at_start {
                    self.nodes[node as usize].column = NONE;
                }
            }
            table.columns.truncate(cols);
            table.col_keys.truncate(cols);
            if table.value_col != NONE && table.value_col as usize >= cols {
                table.value_col = NONE;
            }
            table.id_field_cols.retain(|&c| (c as usize) < cols);
            table.ids.truncate(start);
            table.parent_rows.truncate(start);
            table.indices.truncate(start);
            table.rows = start;
            table.epoch = 0;
        }
        // Columns created on old nodes of old tables that were not touched by a row of
        // this record cannot exist: a column is only created while writing a row.
        self.tables.truncate(tables_at_start);
        self.chunks.truncate(tables_at_start);
        for (id, node) in (nodes_at_start..).zip(self.nodes.drain(nodes_at_start..)) {
            // Element nodes are not in the map: the entry of their parent and key (an
            // empty one) may be an older node's, which stays.
            let key = NodeKeyRef {
                parent: node.parent,
                key: &node.key,
            };
            if self.node_map.get(&key).is_some_and(|&n| n as usize == id) {
                self.node_map.remove(&key);
            }
        }
        for node in &mut self.nodes {
            for link in [&mut node.elem, &mut node.first_hint, &mut node.next_hint] {
                if *link != NONE && *link as usize >= nodes_at_start {
                    *link = NONE;
                }
            }
        }
        self.touched.clear();
    }

    // ---- batches -------------------------------------------------------------------

    /// Moves everything buffered into Arrow chunks.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.flush_batch(false)
    }

    /// [`flush`](Self::flush); `last` when the session ends with it, so that the
    /// emptied columns are not given room again.
    fn flush_batch(&mut self, last: bool) -> Result<()> {
        self.batch_records = 0;
        if !self.sized {
            self.sized = true;
            self.sizes.record(self.tables.iter().flat_map(|table| {
                let mut name = String::new();
                id_size_key(&mut name, &table.path_joined);
                let id = (name, table.ids.size());
                let columns = table.columns.iter().zip(&table.col_keys).map(|(c, key)| {
                    let mut name = String::new();
                    column_size_key(&mut name, &table.path_joined, key);
                    (name, c.size())
                });
                std::iter::once(id).chain(columns)
            }));
        }
        // Parent ids of child rows need the parent's ids, so build those arrays first.
        let mut parent_ids: Vec<Option<arrow_array::ArrayRef>> =
            Vec::with_capacity(self.tables.len());
        for t in 0..self.tables.len() {
            let table = &self.tables[t];
            if table.parent == NONE || table.rows == 0 {
                parent_ids.push(None);
                continue;
            }
            let parent = &self.tables[table.parent as usize];
            // Room for one UUID a row.
            let mut col = TextColumn::with_capacity(table.rows, table.rows * 36);
            for (r, &pr) in table.parent_rows.iter().enumerate() {
                if let Some(id) = parent.ids.value(pr as usize) {
                    col.set(r, id, kind::STRING)?;
                }
            }
            parent_ids.push(Some(col.finish_last(table.rows)?));
        }
        for (t, parent_id) in parent_ids.into_iter().enumerate() {
            let table = &mut self.tables[t];
            let rows = table.rows;
            if rows == 0 {
                continue;
            }
            let used = table.columns.iter().filter(|c| c.len() > 0).count();
            let mut columns = Vec::with_capacity(used);
            for (i, c) in table.columns.iter_mut().enumerate() {
                if c.len() == 0 {
                    continue;
                }
                let kinds = c.kinds;
                let array = if last {
                    c.finish_last(rows)?
                } else {
                    c.finish(rows)?
                };
                columns.push((table.col_keys[i].clone(), kinds, array));
            }
            let ids = if last {
                table.ids.finish_last(rows)?
            } else {
                table.ids.finish(rows)?
            };
            let indices = if table.parent == NONE {
                None
            } else {
                Some(std::mem::take(&mut table.indices))
            };
            table.indices.clear();
            table.parent_rows.clear();
            table.rows = 0;
            table.record_start = 0;
            self.chunk_bytes += columns
                .iter()
                .map(|(_, _, a)| a.get_array_memory_size())
                .chain(parent_id.iter().map(|a| a.get_array_memory_size()))
                .sum::<usize>()
                + ids.get_array_memory_size()
                + indices.as_ref().map_or(0, |i| i.capacity() * 8);
            self.chunks[t].push(Arc::new(TableChunk {
                rows,
                has_data: true,
                columns,
                ids,
                parent_ids: parent_id,
                indices,
                time: self.extract_time,
            }));
        }
        Ok(())
    }

    /// Bytes the rows flattened so far take: their Arrow arrays, and the values and
    /// offsets of the rows not yet cut into them.
    pub(crate) fn memory_bytes(&self) -> usize {
        let buffered: usize = self
            .tables
            .iter()
            .map(|t| {
                t.ids.byte_len()
                    + t.columns
                        .iter()
                        .filter(|c| c.len() > 0)
                        .map(|c| c.byte_len())
                        .sum::<usize>()
            })
            .sum();
        self.chunk_bytes + buffered
    }

    /// Ends the session.
    pub(crate) fn finish(mut self) -> Result<ProcessingResult> {
        self.flush_batch(true)?;
        let mut tables = Vec::new();
        for (t, chunks) in std::mem::take(&mut self.chunks).into_iter().enumerate() {
            if chunks.is_empty() {
                continue;
            }
            tables.push(ResultTable {
                key: self.tables[t].key.clone(),
                chunks,
            });
        }
        let mut result = ProcessingResult::from_parts(
            self.entity.clone(),
            self.cfg.clone(),
            tables,
            std::mem::take(&mut self.errors),
            self.records,
        );
        result.ordinals = self.ordinal_span.map(|(first, last)| (first, last + 1));
        Ok(result)
    }
}

fn joined_eq(path: &[Arc<str>], sep: &str, want: &str) -> bool {
    let mut rest = want;
    for (i, c) in path.iter().enumerate() {
        if i > 0 {
            match rest.strip_prefix(sep) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        match rest.strip_prefix(&**c) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty() && !path.is_empty()
}

fn number_kinds(text: &str, k: NumberKind) -> u16 {
    match k {
        NumberKind::Int => {
            if text.len() >= 16
                && text
                    .parse::<i64>()
                    .is_ok_and(|v| v.unsigned_abs() > 1 << 53)
            {
                kind::INT | kind::INT_BEYOND_F64
            } else {
                kind::INT
            }
        }
        NumberKind::BigInt => {
            let digits = text.trim_start_matches('-').len();
            if digits > 38 {
                kind::BIGINT | kind::BIGINT_BEYOND_DECIMAL
            } else {
                kind::BIGINT
            }
        }
        NumberKind::Float => {
            if float_is_exact(text) {
                kind::FLOAT
            } else {
                kind::FLOAT | kind::FLOAT_INEXACT
            }
        }
    }
}

/// Whether `f64` holds the number `text` exactly enough to print it back with all its
/// significant digits: the shortest text of the `f64` it parses to (what a reader
/// prints) has the same digits at the same place, and it is finite.
///
/// Counted in place, without parsing, for the common case: a number of at most 15
/// significant digits whose first is within 10^±300 is one (an `f64` tells 15-digit
/// decimals apart throughout its normal range). Only longer numbers (a computed
/// `0.30000000000000004`) and those near or beyond the range (subnormals, which
/// hold fewer digits) are parsed and printed back.
fn float_is_exact(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Most floats are short: at most 15 characters hold at most 15 digits, and
    // without an exponent they are far within range.
    if bytes.len() <= 15 && !bytes.iter().any(|&b| b | 0x20 == b'e') {
        return true;
    }
    let (mantissa, exponent) = match bytes.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => (&bytes[..at], bytes.get(at + 1..)),
        None => (bytes, None),
    };
    let Some((first, last, whole)) = significant_span(mantissa) else {
        // Zero, whatever its exponent.
        return true;
    };
    let exponent = match exponent {
        None => Some(0),
        Some(e) => std::str::from_utf8(e)
            .ok()
            .and_then(|e| e.parse::<i64>().ok()),
    };
    let magnitude = exponent.map(|e| e.saturating_add(whole as i64 - 1 - first as i64));
    if last - first < 15 && magnitude.is_some_and(|m| (-300..=300).contains(&m)) {
        return true;
    }
    let Some(magnitude) = magnitude else {
        return false;
    };
    let Ok(value) = text.parse::<f64>() else {
        return false;
    };
    if !value.is_finite() || value == 0.0 {
        return false;
    }
    // The shortest text of the value, `d.ddde±x`, against the text's own digits.
    let shortest = format!("{:e}", value.abs());
    let (digits, power) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let Ok(power) = power.parse::<i64>() else {
        return false;
    };
    let printed: Vec<u8> = digits.bytes().filter(u8::is_ascii_digit).collect();
    let printed = printed
        .iter()
        .rposition(|&d| d != b'0')
        .map_or(&printed[..0], |end| &printed[..=end]);
    let own = mantissa
        .iter()
        .filter(|b| b.is_ascii_digit())
        .skip(first)
        .take(last - first + 1);
    power == magnitude && own.eq(printed.iter())
}

/// Among the digits of `mantissa` (a number's text before its exponent): the
/// positions of the first and last that are not zero and how many come before the
/// decimal point; `None` when all are zero.
fn significant_span(mantissa: &[u8]) -> Option<(usize, usize, usize)> {
    let (mut first, mut last, mut digits, mut whole) = (None, 0usize, 0usize, None);
    for &b in mantissa {
        match b {
            b'0'..=b'9' => {
                if b != b'0' {
                    first.get_or_insert(digits);
                    last = digits;
                }
                digits += 1;
            }
            b'.' => whole = Some(digits),
            _ => {}
        }
    }
    first.map(|first| (first, last, whole.unwrap_or(digits)))
}

pub(crate) fn itoa_buf() -> [u8; 20] {
    [0u8; 20]
}

/// The decimal text of `v`, written into the end of `buf`.
pub(crate) fn itoa(buf: &mut [u8; 20], mut v: u64) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_exactness() {
        assert!(float_is_exact("0.1"));
        assert!(float_is_exact("1e5"));
        assert!(float_is_exact("123456789012345.0"));
        assert!(!float_is_exact("3.14159265358979323846"));
        assert!(!float_is_exact("1e400"));
        assert!(!float_is_exact("1e-400"));
        assert!(float_is_exact("0.0e10"));
        // Computed doubles print 16 or 17 digits, which their `f64` holds.
        assert!(float_is_exact("0.30000000000000004"));
        assert!(float_is_exact("1.0000000000000002"));
        assert!(float_is_exact("51.50735000000001"));
        assert!(float_is_exact("2.2250738585072014e-308"));
        assert!(float_is_exact("1.7976931348623157e308"));
        assert!(!float_is_exact("9007199254740993.0"));
        assert!(!float_is_exact("0.30000000000000001"));
        // Subnormals hold fewer digits.
        assert!(!float_is_exact("1.234567e-320"));
        assert!(float_is_exact("5e-324"));
        assert!(!float_is_exact("4.9e-324"));
    }

    /// The rule said otherwise: the number's exact decimal value against that of the
    /// shortest text of the `f64` it parses to, both written out in full.
    fn float_is_exact_by_parsing(text: &str) -> bool {
        fn decimal(text: &str) -> Option<(String, i64)> {
            let (mantissa, exponent) = match text.split_once(['e', 'E']) {
                Some((m, e)) => (m, e.parse::<i64>().ok()?),
                None => (text, 0),
            };
            let mantissa = mantissa.trim_start_matches('-');
            let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            let all = format!("{int}{frac}");
            let lead = all.len() - all.trim_start_matches('0').len();
            let digits = all.trim_matches('0').to_string();
            // The power of ten of the first significant digit.
            let power = exponent + int.len() as i64 - 1 - lead as i64;
            Some((digits, power))
        }
        match decimal(text) {
            Some((digits, _)) if digits.is_empty() => return true,
            None => return false,
            _ => {}
        }
        let Ok(value) = text.parse::<f64>() else {
            return false;
        };
        if !value.is_finite() || value == 0.0 {
            return false;
        }
        decimal(text) == decimal(&format!("{:e}", value.abs()))
    }

    #[test]
    fn float_exactness_agrees_with_parsing() {
        let mut cases: Vec<String> = [
            "0",
            "-0.0",
            "0e999",
            "1e308",
            "1.7976931348623157e308",
            "2e308",
            "1e-320",
            "4.9e-324",
            "2e-324",
            "1E+5",
            "1e-5",
            "-12.5e-3",
            "100",
            "0.0010",
            "123456789012345",
            "1234567890123456",
            "0.000000000000000000001",
            "1e99999999999999999999",
            "1e-99999999999999999999",
            "9.99999999999999e300",
            "1e301",
            "1e-301",
            "0.1e-300",
            "10e299",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d_u64);
        for _ in 0..20_000 {
            let state = rng.next_u64();
            let zeros = "0".repeat((state % 5) as usize);
            let digits = (state >> 8) % 10_u64.pow((state % 19) as u32 % 19 + 1);
            let point = (state >> 40) % 22;
            let mut text = format!("{zeros}{digits}");
            if (point as usize) < text.len() {
                text.insert(point as usize, '.');
                if text.starts_with('.') {
                    text.insert(0, '0');
                }
            }
            if state & (1 << 50) != 0 {
                text = format!("{text}e{}", (state >> 52) as i64 % 700 - 350);
            }
            if state & (1 << 51) != 0 {
                text.insert(0, '-');
            }
            cases.push(text);
        }
        for text in &cases {
            assert_eq!(
                float_is_exact(text),
                float_is_exact_by_parsing(text),
                "{text}"
            );
        }
    }

    #[test]
    fn itoa_writes_decimal() {
        let mut b = itoa_buf();
        assert_eq!(itoa(&mut b, 0), "0");
        assert_eq!(itoa(&mut b, 1234567890), "1234567890");
        assert_eq!(itoa(&mut b, u64::MAX), "18446744073709551615");
    }

    #[test]
    fn keys_of_every_length_are_told_apart_when_predicted() -> Result<()> {
        use arrow_array::Array;
        use arrow_array::cast::AsArray;
        // Keys of 1 to 40 bytes, and pairs alike in all but their last byte on either
        // side of the length kept in the node, in the same order in every record, so
        // that each is predicted from the record before; odd records swap each pair's
        // key for its twin, where the prediction must be refused.
        let mut keys: Vec<String> = (1..=40)
            .map(|n| format!("k{}", "x".repeat(n - 1)))
            .collect();
        let twins = [
            "a".repeat(SHORT_KEY - 1),
            "a".repeat(SHORT_KEY),
            "a".repeat(SHORT_KEY + 1),
        ];
        for stem in &twins {
            keys.push(format!("{stem}b"));
        }
        let text: String = (0..6)
            .map(|r| {
                let members: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        let key = match k.strip_suffix('b') {
                            Some(stem) if r % 2 == 1 && k.starts_with('a') => format!("{stem}c"),
                            _ => k.clone(),
                        };
                        format!("\"{key}\":\"{r}:{key}\"")
                    })
                    .collect();
                format!("{{{}}}\n", members.join(","))
            })
            .collect();
        let result = crate::Processor::default().process(text.as_bytes(), "t")?;
        let batches = result.table("t")?;
        let batch = batches
            .first()
            .ok_or_else(|| Error::Internal("no batch".into()))?;
        assert_eq!(batches.len(), 1);
        let mut checked = 0;
        for r in 0..6 {
            for key in &keys {
                let key = match key.strip_suffix('b') {
                    Some(stem) if r % 2 == 1 && key.starts_with('a') => format!("{stem}c"),
                    _ => key.clone(),
                };
                for twin in [
                    &key,
                    &format!(
                        "{}{}",
                        &key[..key.len() - 1],
                        if key.ends_with('b') { 'c' } else { 'b' }
                    ),
                ] {
                    let Some(column) = batch.column_by_name(twin) else {
                        continue;
                    };
                    let cells = column.as_string::<i32>();
                    let want = (twin == &key).then(|| format!("{r}:{key}"));
                    let got = (!cells.is_null(r)).then(|| cells.value(r).to_string());
                    assert_eq!(got, want, "row {r}, column {twin}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 6 * (40 + 2 * twins.len()));
        Ok(())
    }

    #[test]
    fn sparse_records_are_cut_into_short_batches_and_dense_ones_are_not() -> Result<()> {
        let cfg = Arc::new(ProcessorConfig::default());
        let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        // Each record: 25 keys drawn from 50,000 (a map of user-defined properties).
        let mut sparse = Flattener::new(cfg.clone(), "t", 0, Arc::new(SizeHints::default()));
        for i in 0..1000 {
            let keys: Vec<String> = (0..25)
                .map(|_| format!(r#""k{}":{i}"#, rng.next_u64() % 50_000))
                .collect();
            let record = format!("{{{}}}", keys.join(","));
            sparse.push(record.as_bytes(), Position::default(), true, true)?;
        }
        sparse.flush()?;
        let rows: Vec<usize> = sparse.chunks[0].iter().map(|c| c.rows).collect();
        assert_eq!(rows.iter().sum::<usize>(), 1000);
        assert!(rows.len() > 3 && rows.iter().all(|&r| r <= 256), "{rows:?}");
        // A key met once keeps no batch's worth of room for the next batch.
        let rooms: Vec<usize> = sparse.tables[0]
            .columns
            .iter()
            .map(|c| c.capacity().0)
            .collect();
        assert!(rooms.iter().filter(|&&r| r > 64).count() < rooms.len() / 100);
        // The same number of keys, always the same 25: one batch of the batch size.
        let mut dense = Flattener::new(cfg, "t", 0, Arc::new(SizeHints::default()));
        for i in 0..1000 {
            let keys: Vec<String> = (0..25).map(|k| format!(r#""k{k}":{i}"#)).collect();
            let record = format!("{{{}}}", keys.join(","));
            dense.push(record.as_bytes(), Position::default(), true, true)?;
        }
        dense.flush()?;
        let rows: Vec<usize> = dense.chunks[0].iter().map(|c| c.rows).collect();
        assert_eq!(rows, [1000]);
        Ok(())
    }

    #[test]
    fn a_later_session_starts_its_columns_with_the_room_of_the_first_batch() -> Result<()> {
        let cfg = Arc::new(ProcessorConfig::default());
        let sizes = Arc::new(SizeHints::default());
        let record = |i: usize| format!(r#"{{"name":"n{i:04}","items":[{{"sku":"s{i}"}}]}}"#);
        let mut first = Flattener::new(cfg.clone(), "t", 0, sizes.clone());
        for i in 0..500 {
            first.push(record(i).as_bytes(), Position::default(), true, true)?;
        }
        first.finish()?;
        let mut second = Flattener::new(cfg, "t", 0, sizes);
        second.push(record(0).as_bytes(), Position::default(), true, true)?;
        let main = &second.tables[0];
        let name = main.columns[0].capacity();
        assert!(name.0 >= 500 && name.1 >= 500 * 5, "{name:?}");
        assert!(
            main.ids.capacity().1 >= 500 * 36,
            "{:?}",
            main.ids.capacity()
        );
        let items = &second.tables[1];
        assert!(
            items.columns[0].capacity().1 >= 500 * 2,
            "{:?}",
            items.columns[0].capacity()
        );
        Ok(())
    }
}
