//! [`ProcessingResult`]: the tables of a run as ordered lists of Arrow chunks.
//!
//! Chunks are kept exactly as the flattener produced them (text cells, columns keyed
//! by source path). Names, the union of columns and typed-mode types are worked out
//! when the result is read, over every chunk at once, so combining results is only
//! list concatenation and the output cannot depend on how the input was split.

#![expect(
    clippy::indexing_slicing,
    reason = "indices come from enumerating the result's own tables and names"
)]

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray, UInt64Array, new_null_array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde_json::{Map, Number, Value};

use crate::config::{IdStrategy, ProcessorConfig};
use crate::error::{Error, RecordError, Result};
use crate::naming::{Abbreviator, assign_unique, unique_file_stems};
use crate::time::format_timestamp;
use crate::typed::{Convert, convert_text, decide};

/// Field metadata key naming the role of a metadata column in a table's Arrow schema
/// (`id`, `parent_id` or `time`), so writers can treat them specially: Parquet, for
/// one, does not dictionary-encode unique keys, and encodes parent ids and the
/// extraction time, whose values come in runs, by their runs.
pub const ROLE_METADATA_KEY: &str = "transmogrify:role";

fn role_meta(role: &str) -> HashMap<String, String> {
    HashMap::from([(ROLE_METADATA_KEY.to_string(), role.to_string())])
}

/// Name of the `value` column holding scalar array elements in child tables.
pub const VALUE_COLUMN: &str = "value";

/// Identity of a column inside its table: the key path from the table's row, or the
/// `value` column of scalar elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ColKey {
    Path(Arc<[Arc<str>]>),
    Value,
}

impl Ord for ColKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (ColKey::Value, ColKey::Value) => Ordering::Equal,
            (ColKey::Value, _) => Ordering::Less,
            (_, ColKey::Value) => Ordering::Greater,
            (ColKey::Path(a), ColKey::Path(b)) => path_order(a, b),
        }
    }
}

impl PartialOrd for ColKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Fewer components first, then component by component.
fn path_order(a: &[Arc<str>], b: &[Arc<str>]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Identity of a table: the keys from the record root to its array, and after how
/// many of those keys each array step comes (`a[].b[]` is keys `[a, b]`, levels
/// `[1, 2]`; `a.b[]` is keys `[a, b]`, levels `[2]`: two tables, never merged).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TableKey {
    pub(crate) keys: Arc<[Arc<str>]>,
    pub(crate) levels: Arc<[u32]>,
}

impl TableKey {
    pub(crate) fn main() -> Self {
        TableKey {
            keys: Arc::from(Vec::new()),
            levels: Arc::from(Vec::new()),
        }
    }

    /// The table holding the arrays of this one.
    pub(crate) fn parent(&self) -> Option<TableKey> {
        let (_, up) = self.levels.split_last()?;
        let cut = up.last().map_or(0, |&l| l as usize);
        Some(TableKey {
            keys: self
                .keys
                .get(..cut)
                .map(Arc::from)
                .unwrap_or_else(|| Arc::from(Vec::new())),
            levels: Arc::from(up),
        })
    }
}

impl Ord for TableKey {
    fn cmp(&self, other: &Self) -> Ordering {
        path_order(&self.keys, &other.keys).then_with(|| {
            self.levels
                .len()
                .cmp(&other.levels.len())
                .then_with(|| self.levels.cmp(&other.levels))
        })
    }
}

impl PartialOrd for TableKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One batch of one table, as flattened.
#[derive(Debug, Clone)]
pub(crate) struct TableChunk {
    pub(crate) rows: usize,
    /// False for the chunks of a layout-only result, which keep column keys, kinds and
    /// row counts but no cells.
    pub(crate) has_data: bool,
    /// Columns with at least one cell written in this batch: key, kinds seen, text.
    pub(crate) columns: Vec<(ColKey, u16, ArrayRef)>,
    pub(crate) ids: ArrayRef,
    pub(crate) parent_ids: Option<ArrayRef>,
    pub(crate) indices: Option<Vec<u64>>,
    pub(crate) time: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct ResultTable {
    pub(crate) key: TableKey,
    pub(crate) chunks: Vec<Arc<TableChunk>>,
}

/// A record skipped in [`ErrorMode::Skip`](crate::ErrorMode::Skip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// What was wrong and where.
    pub error: RecordError,
    /// The record's raw text (lossily decoded), cut to the configured size.
    pub raw: String,
    /// Whether `raw` was cut.
    pub raw_truncated: bool,
}

/// What a column of an output table holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColumnRole {
    /// Data from the input.
    Data,
    /// The row id.
    Id,
    /// The parent row's id.
    ParentId,
    /// The element's position in its array.
    ArrayIndex,
    /// The extraction time.
    Time,
}

/// The layout of one output table.
#[derive(Debug, Clone)]
pub struct TableSchema {
    /// The table name (`<entity>` for the main table, `<entity>_<path>` for others).
    pub name: String,
    /// A file-name-safe stem for the table, unique within the result.
    pub file_stem: String,
    /// Array keys from the record root (empty for the main table).
    pub path: Vec<String>,
    /// After how many keys of `path` each array step comes (`a[].b[]` is `[1, 2]`,
    /// `a.b[]` is `[2]`); empty for the main table.
    pub array_levels: Vec<u32>,
    /// The parent table's name, for child tables.
    pub parent: Option<String>,
    /// The Arrow schema of the table's batches.
    pub schema: SchemaRef,
    /// Role of each column of `schema`.
    pub roles: Vec<ColumnRole>,
    /// Number of rows.
    pub num_rows: usize,
    /// Internal: where each data column comes from.
    sources: Vec<Source>,
    index: usize,
    /// Internal: the position in `sources` of each data column, built on first use
    /// (shared by clones: `sources` never changes).
    positions: Positions,
}

/// Where each data column of a [`TableSchema`] is, by its key (see `chunk_batch`).
#[derive(Clone, Default)]
struct Positions(Arc<OnceLock<hashbrown::HashMap<ColKey, usize>>>);

impl std::fmt::Debug for Positions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Positions")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    Data(ColKey, DataType),
    Id,
    ParentId,
    Index,
    Time,
}

impl TableSchema {
    /// The data columns an id field named `field` gives this table its ids from
    /// (with [`IdStrategy::Fields`]), by their index in `schema`: those whose name
    /// before any clash of names is settled is `field` (their keys joined by the
    /// separator, shortened when column names are; `value` for the values of
    /// scalar elements), in the order of their claim to the name. A row's id comes
    /// from the first of them it has a value in.
    ///
    /// ```
    /// use transmogrify_core::{IdStrategy, Processor, ProcessorConfig};
    /// let config = ProcessorConfig::builder()
    ///     .with_id_strategy(IdStrategy::Fields([("".into(), "a_b".into())].into()))
    ///     .build()?;
    /// let p = Processor::new(config.clone());
    /// let result = p.process(br#"{"a": {"b": "x"}, "a_b": "y"}"#, "t")?;
    /// let schema = &result.schemas()?[0];
    /// // `a_b` keeps its name and comes first; the nested path is written `a_b_2`.
    /// let names: Vec<&str> = schema
    ///     .id_field_columns("a_b", &config)
    ///     .into_iter()
    ///     .map(|i| schema.schema.field(i).name().as_str())
    ///     .collect();
    /// assert_eq!(names, ["a_b", "a_b_2"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn id_field_columns(&self, field: &str, config: &ProcessorConfig) -> Vec<usize> {
        let abbreviator = Abbreviator::for_fields(&config.naming);
        let mut found: Vec<(&ColKey, usize)> = self
            .sources
            .iter()
            .enumerate()
            .filter_map(|(i, source)| match source {
                Source::Data(key @ ColKey::Path(p), _)
                    if abbreviator.join(p, &config.separator) == field =>
                {
                    Some((key, i))
                }
                Source::Data(key @ ColKey::Value, _) if field == VALUE_COLUMN => Some((key, i)),
                _ => None,
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, i)| i).collect()
    }

    /// The name an id field gives data column `i` by (see
    /// [`TableSchema::id_field_columns`]); `None` for metadata columns.
    pub fn id_field_name(&self, i: usize, config: &ProcessorConfig) -> Option<String> {
        match self.sources.get(i)? {
            Source::Data(ColKey::Path(p), _) => {
                Some(Abbreviator::for_fields(&config.naming).join(p, &config.separator))
            }
            Source::Data(ColKey::Value, _) => Some(VALUE_COLUMN.to_string()),
            _ => None,
        }
    }

    /// For each column of this schema, where the same column (same source, same type)
    /// is in `other`, if it is there at all. Names are not compared: a later layout
    /// of a table may rename a column (see the naming rules) without it becoming
    /// another column.
    ///
    /// ```
    /// use transmogrify_core::{Processor, ProcessingResult};
    /// let p = Processor::default();
    /// let early = p.process(br#"{"a": "1"}"#, "t")?;
    /// let all = ProcessingResult::combine_results([
    ///     p.process(br#"{"a": "1"}"#, "t")?,
    ///     p.process(br#"{"b": "2", "a": "3"}"#, "t")?,
    /// ])?;
    /// let (early, all) = (&early.schemas()?[0], &all.schemas()?[0]);
    /// // a, then the id and the extraction time; b is new.
    /// assert_eq!(early.positions_in(all), [Some(0), Some(2), Some(3)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn positions_in(&self, other: &TableSchema) -> Vec<Option<usize>> {
        let at: HashMap<&Source, usize> = other
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| (s, i))
            .collect();
        self.sources.iter().map(|s| at.get(s).copied()).collect()
    }

    /// Whether this schema has the same columns as `other` in the same order (by
    /// source and type; names may differ): rows of one are rows of the other.
    ///
    /// ```
    /// use transmogrify_core::{Processor, ProcessingResult};
    /// let p = Processor::default();
    /// let one = p.process(br#"{"a": "1"}"#, "t")?;
    /// let two = p.process(br#"{"a": "2"}"#, "t")?;
    /// let wider = p.process(br#"{"a": "3", "b": "4"}"#, "t")?;
    /// let (one, two, wider) = (&one.schemas()?[0], &two.schemas()?[0], &wider.schemas()?[0]);
    /// assert!(one.same_columns(two));
    /// assert!(!one.same_columns(wider));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn same_columns(&self, other: &TableSchema) -> bool {
        self.sources == other.sources
    }

    /// Data columns (those of [`ColumnRole::Data`]); they come first.
    pub fn data_columns(&self) -> usize {
        self.roles
            .iter()
            .take_while(|r| **r == ColumnRole::Data)
            .count()
    }

    /// Whether rows laid out as `earlier` become rows of this schema by adding empty
    /// cells after their data columns: this schema's data columns begin with all of
    /// `earlier`'s, in order, and the columns after them (ids, index, time) are the
    /// same. So it is for a table's schemas as a run's layout grows part by part
    /// ([`ProcessingResult::merge_layout`] only ever adds columns at the end).
    ///
    /// ```
    /// use transmogrify_core::{Processor, ProcessingResult};
    /// let p = Processor::default();
    /// let early = p.process(br#"{"a": "1"}"#, "t")?;
    /// let mut layout = early.compact_layout();
    /// layout.merge_layout(&p.process(br#"{"b": "2", "a": "3"}"#, "t")?)?;
    /// let (early, all) = (&early.schemas()?[0], &layout.schemas()?[0]);
    /// assert_eq!((early.data_columns(), all.data_columns()), (1, 2));
    /// assert!(all.extends(early));
    /// assert!(!early.extends(all));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn extends(&self, earlier: &TableSchema) -> bool {
        let (mine, theirs) = (self.data_columns(), earlier.data_columns());
        mine >= theirs
            && self.sources.get(..theirs) == earlier.sources.get(..theirs)
            && self.sources.get(mine..) == earlier.sources.get(theirs..)
    }

    /// [`TableSchema::extends`], whatever types the data columns have: in typed mode
    /// a later layout of a table may give a column another type (its values brought
    /// another kind), the column staying where it was.
    pub fn extends_untyped(&self, earlier: &TableSchema) -> bool {
        let (mine, theirs) = (self.data_columns(), earlier.data_columns());
        let same = |a: &[Source], b: &[Source]| {
            a.len() == b.len()
                && a.iter().zip(b).all(|pair| match pair {
                    (Source::Data(x, _), Source::Data(y, _)) => x == y,
                    (x, y) => x == y,
                })
        };
        mine >= theirs
            && same(
                self.sources.get(..theirs).unwrap_or_default(),
                earlier.sources.get(..theirs).unwrap_or_default(),
            )
            && same(
                self.sources.get(mine..).unwrap_or_default(),
                earlier.sources.get(theirs..).unwrap_or_default(),
            )
    }
}

/// The main table's columns `order` (in order of first appearance, with their
/// kinds) with those of the `declared` top-level keys first, in that order; a
/// declared key that no record gave a value comes without kinds (its cells null).
fn declared_first(order: Vec<(ColKey, u16)>, declared: &[String]) -> Vec<(ColKey, u16)> {
    let mut rest: Vec<Option<(ColKey, u16)>> = order.into_iter().map(Some).collect();
    let at: HashMap<String, usize> = rest
        .iter()
        .enumerate()
        .filter_map(|(i, column)| match column {
            Some((ColKey::Path(path), _)) if path.len() == 1 => {
                path.first().map(|key| (key.to_string(), i))
            }
            _ => None,
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(rest.len() + declared.len());
    for key in declared {
        if !seen.insert(key.as_str()) {
            continue;
        }
        let present = at
            .get(key.as_str())
            .and_then(|&i| rest.get_mut(i))
            .and_then(Option::take);
        out.push(present.unwrap_or_else(|| {
            let path: Vec<Arc<str>> = vec![Arc::from(key.as_str())];
            (ColKey::Path(Arc::from(path)), 0)
        }));
    }
    out.extend(rest.into_iter().flatten());
    out
}

/// The tables produced by a run, each an ordered list of Arrow record batches.
///
/// ```
/// use transmogrify_core::{Processor, ProcessingResult};
/// let processor = Processor::default();
/// let a = processor.process(br#"{"id": 1, "tags": [{"t": "x"}]}"#, "items")?;
/// let b = processor.process(br#"{"id": 2, "extra": true}"#, "items")?;
/// let all = ProcessingResult::combine_results([a, b])?;
/// assert_eq!(all.table_names(), ["items", "items_tags"]);
/// assert_eq!(all.num_rows("main"), Some(2));
/// let main = all.main_table()?;
/// assert_eq!(main[1].schema().field(1).name(), "extra");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProcessingResult {
    pub(crate) entity: Arc<str>,
    pub(crate) config: Arc<ProcessorConfig>,
    pub(crate) tables: Vec<ResultTable>,
    pub(crate) errors: Vec<BadRecord>,
    pub(crate) records: u64,
    /// The record ordinals the result's records (bad ones too) were given, first and
    /// after the last, where known: results that share ordinals cannot be combined
    /// when ids come from them.
    pub(crate) ordinals: Option<(u64, u64)>,
}

impl ProcessingResult {
    pub(crate) fn from_parts(
        entity: Arc<str>,
        config: Arc<ProcessorConfig>,
        tables: Vec<ResultTable>,
        errors: Vec<BadRecord>,
        records: u64,
    ) -> Self {
        ProcessingResult {
            entity,
            config,
            tables,
            errors,
            records,
            ordinals: None,
        }
    }

    /// An empty result for `entity`.
    pub fn empty(entity: &str, config: ProcessorConfig) -> Self {
        Self::from_parts(
            Arc::from(entity),
            Arc::new(config),
            Vec::new(),
            Vec::new(),
            0,
        )
    }

    /// The entity name.
    pub fn entity_name(&self) -> &str {
        &self.entity
    }

    /// The configuration the result was made with.
    pub fn config(&self) -> &ProcessorConfig {
        &self.config
    }

    /// Number of records flattened (bad records not counted).
    pub fn record_count(&self) -> u64 {
        self.records
    }

    /// Bad records skipped in skip mode, in input order.
    pub fn errors(&self) -> &[BadRecord] {
        &self.errors
    }

    /// Whether no table has a row.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Appends `other`'s chunks after this result's, table by table. No row is copied.
    ///
    /// The results must come from the same entity and options (see
    /// [`combine_results`](Self::combine_results)). Rows keep one extraction time:
    /// this result's, should `other` come from a processor made at another time.
    pub fn merge(&mut self, other: ProcessingResult) -> Result<()> {
        self.check_combinable(&other)?;
        if self.tables.is_empty() && self.errors.is_empty() && self.records == 0 {
            *self = other;
            return Ok(());
        }
        let time = self
            .tables
            .iter()
            .flat_map(|t| t.chunks.first())
            .map(|c| c.time)
            .next();
        let mut index = self.table_index();
        for mut table in other.tables {
            if let Some(time) = time {
                for chunk in &mut table.chunks {
                    if chunk.time != time {
                        let mut same = TableChunk::clone(chunk);
                        same.time = time;
                        *chunk = Arc::new(same);
                    }
                }
            }
            match index.get(&table.key) {
                Some(&i) => self.tables[i].chunks.extend(table.chunks),
                None => {
                    index.insert(table.key.clone(), self.tables.len());
                    self.tables.push(table);
                }
            }
        }
        self.errors.extend(other.errors);
        self.records += other.records;
        self.ordinals = match (self.ordinals, other.ordinals) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
        Ok(())
    }

    /// Where each table is in `tables`, by key.
    pub(crate) fn table_index(&self) -> HashMap<TableKey, usize> {
        self.tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.key.clone(), i))
            .collect()
    }

    /// A result with `tables` and this one's entity, configuration, errors and record
    /// count.
    pub(crate) fn with_tables(&self, tables: Vec<ResultTable>) -> ProcessingResult {
        let mut result = ProcessingResult::from_parts(
            self.entity.clone(),
            self.config.clone(),
            tables,
            self.errors.clone(),
            self.records,
        );
        result.ordinals = self.ordinals;
        result
    }

    /// Whether `other` may be merged into this result: same entity, same naming and
    /// value options.
    pub(crate) fn check_combinable(&self, other: &ProcessingResult) -> Result<()> {
        if other.entity != self.entity {
            return Err(Error::Combine(format!(
                "results of entity {:?} and {:?} cannot be combined",
                self.entity, other.entity
            )));
        }
        let (a, b) = (&self.config, &other.config);
        // Each option that names columns or makes values, with its two settings.
        let differ = [
            ("separator", a.separator != b.separator),
            ("cast_to_string", a.cast_to_string != b.cast_to_string),
            ("skip_null", a.skip_null != b.skip_null),
            ("include_empty", a.include_empty != b.include_empty),
            ("array_mode", a.array_mode != b.array_mode),
            ("max_depth", a.max_depth != b.max_depth),
            ("id_field", a.id_field != b.id_field),
            ("parent_field", a.parent_field != b.parent_field),
            ("time_field", a.time_field != b.time_field),
            (
                "array_index_field",
                a.array_index_field != b.array_index_field,
            ),
            ("naming (abbreviations)", a.naming != b.naming),
        ];
        let names: Vec<&str> = differ
            .iter()
            .filter(|(_, differs)| *differs)
            .map(|(name, _)| *name)
            .collect();
        if !names.is_empty() {
            return Err(Error::Combine(format!(
                "results made with different naming or value options cannot be combined: \
                 they differ in {}",
                names.join(", ")
            )));
        }
        let (ids, numbered) = match (&a.id_strategy, &b.id_strategy) {
            (IdStrategy::Random, IdStrategy::Random)
            | (IdStrategy::ContentHash, IdStrategy::ContentHash) => (true, false),
            // A custom generator is handed each record's ordinal.
            (IdStrategy::Positional, IdStrategy::Positional)
            | (IdStrategy::Custom(_), IdStrategy::Custom(_)) => (true, true),
            (IdStrategy::Fields(x), IdStrategy::Fields(y)) => (x == y, true),
            _ => (false, false),
        };
        if !ids {
            return Err(Error::Combine(
                "results made with different id strategies cannot be combined".to_string(),
            ));
        }
        // Positional ids (and the fallback of field ids, and custom ids, which may)
        // come from record ordinals: parts numbered alike would repeat them.
        if let (true, Some(mine), Some(theirs)) = (numbered, self.ordinals, other.ordinals)
            && mine.0 < theirs.1
            && theirs.0 < mine.1
        {
            return Err(Error::Combine(format!(
                "both results hold records numbered {} to {}, so their positional ids \
                 would repeat: flatten each part from its first record's ordinal \
                 (Processor::process_batch_at, Session::set_next_ordinal) or run an executor",
                mine.0.max(theirs.0),
                mine.1.min(theirs.1) - 1
            )));
        }
        Ok(())
    }

    /// Concatenates results in the order given (the order of the input they came
    /// from), without copying a row.
    ///
    /// The results must share the entity, the naming and value options (separator,
    /// typed or text, nulls and empty strings, array mode, depth, metadata column
    /// names, naming options) and the id strategy; with positional ids (or field
    /// ids, which fall back to them, or custom ids, which are handed the ordinals)
    /// their records must be numbered apart, as [`Processor::process_batch_at`] and
    /// [`Processor::process_at`] number a part of a larger data set: parts each
    /// numbered from 0 would repeat each other's ids, and are refused. Every row
    /// gets the first result's extraction time (one per run), should the parts come
    /// from processors made at different times.
    ///
    /// [`Processor::process_batch_at`]: crate::Processor::process_batch_at
    /// [`Processor::process_at`]: crate::Processor::process_at
    pub fn combine_results(results: impl IntoIterator<Item = ProcessingResult>) -> Result<Self> {
        let mut iter = results.into_iter();
        let mut first = iter
            .next()
            .ok_or_else(|| Error::Combine("there are no results to combine".to_string()))?;
        for r in iter {
            first.merge(r)?;
        }
        Ok(first)
    }

    /// The layout of every table, main table first, in order of first appearance.
    ///
    /// A result without records still has its main table, without rows and with
    /// its metadata columns only, so that a run over empty input writes the main
    /// table's file like any other run.
    pub fn schemas(&self) -> Result<Vec<TableSchema>> {
        let cfg = &*self.config;
        let sep = cfg.separator.as_str();
        let table_abbr = Abbreviator::for_tables(&cfg.naming);
        let field_abbr = Abbreviator::for_fields(&cfg.naming);
        let placeholder;
        let tables: &[ResultTable] = if self.tables.is_empty() {
            placeholder = [ResultTable {
                key: TableKey::main(),
                chunks: Vec::new(),
            }];
            &placeholder
        } else {
            &self.tables
        };
        let table_entries: Vec<(TableKey, String)> = tables
            .iter()
            .map(|t| {
                let name = if t.key.keys.is_empty() {
                    self.entity.to_string()
                } else {
                    format!("{}{sep}{}", self.entity, table_abbr.join(&t.key.keys, sep))
                };
                (t.key.clone(), name)
            })
            .collect();
        let names = assign_unique(&table_entries, &[], sep);
        let stems = unique_file_stems(&names);
        let by_key: HashMap<&TableKey, usize> = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (&t.key, i))
            .collect();
        let mut out = Vec::with_capacity(tables.len());
        for (i, table) in tables.iter().enumerate() {
            let parent_key = table.key.parent();
            let is_child = parent_key.is_some();
            // Union of columns in order of first appearance, with all their kinds.
            let mut order: Vec<(ColKey, u16)> = Vec::new();
            let mut seen: hashbrown::HashMap<&ColKey, usize> = hashbrown::HashMap::new();
            let mut rows = 0;
            for chunk in &table.chunks {
                rows += chunk.rows;
                for (key, kinds, _) in &chunk.columns {
                    match seen.get(key) {
                        Some(&k) => order[k].1 |= kinds,
                        None => {
                            seen.insert(key, order.len());
                            order.push((key.clone(), *kinds));
                        }
                    }
                }
            }
            drop(seen);
            if !is_child && !cfg.main_columns.is_empty() {
                order = declared_first(order, &cfg.main_columns);
            }
            let mut reserved: Vec<&str> = Vec::new();
            reserved.extend(cfg.id_field.as_deref());
            if is_child {
                reserved.extend(cfg.parent_field.as_deref());
                reserved.extend(cfg.array_index_field.as_deref());
            }
            reserved.extend(cfg.time_field.as_deref());
            let entries: Vec<(ColKey, String)> = order
                .iter()
                .map(|(key, _)| {
                    let name = match key {
                        ColKey::Value => VALUE_COLUMN.to_string(),
                        ColKey::Path(p) => field_abbr.join(p, sep),
                    };
                    (key.clone(), name)
                })
                .collect();
            let col_names = assign_unique(&entries, &reserved, sep);
            let mut fields = Vec::new();
            let mut roles = Vec::new();
            let mut sources = Vec::new();
            for ((key, kinds), name) in order.into_iter().zip(col_names) {
                let dt = if cfg.cast_to_string {
                    DataType::Utf8
                } else {
                    decide(kinds)
                };
                fields.push(Field::new(name, dt.clone(), true));
                roles.push(ColumnRole::Data);
                sources.push(Source::Data(key, dt));
            }
            if let Some(f) = &cfg.id_field {
                fields.push(Field::new(f, DataType::Utf8, false).with_metadata(role_meta("id")));
                roles.push(ColumnRole::Id);
                sources.push(Source::Id);
            }
            if is_child {
                if let Some(f) = &cfg.parent_field {
                    fields.push(
                        Field::new(f, DataType::Utf8, false).with_metadata(role_meta("parent_id")),
                    );
                    roles.push(ColumnRole::ParentId);
                    sources.push(Source::ParentId);
                }
                if let Some(f) = &cfg.array_index_field {
                    let dt = if cfg.cast_to_string {
                        DataType::Utf8
                    } else {
                        DataType::Int64
                    };
                    fields.push(Field::new(f, dt, false));
                    roles.push(ColumnRole::ArrayIndex);
                    sources.push(Source::Index);
                }
            }
            if let Some(f) = &cfg.time_field {
                let dt = if cfg.cast_to_string {
                    DataType::Utf8
                } else {
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
                };
                fields.push(Field::new(f, dt, false).with_metadata(role_meta("time")));
                roles.push(ColumnRole::Time);
                sources.push(Source::Time);
            }
            let parent = parent_key
                .as_ref()
                .and_then(|p| by_key.get(p))
                .map(|&p| names[p].clone());
            out.push(TableSchema {
                name: names[i].clone(),
                file_stem: stems[i].clone(),
                path: table.key.keys.iter().map(|s| s.to_string()).collect(),
                array_levels: table.key.levels.to_vec(),
                parent,
                schema: Arc::new(Schema::new(fields)),
                roles,
                num_rows: rows,
                sources,
                index: i,
                positions: Positions::default(),
            });
        }
        Ok(out)
    }

    /// Table names, main table first, in order of first appearance.
    pub fn table_names(&self) -> Vec<String> {
        self.schemas()
            .map(|s| s.into_iter().map(|t| t.name).collect())
            .unwrap_or_default()
    }

    fn find(&self, schemas: Vec<TableSchema>, name: &str) -> Option<TableSchema> {
        let main = name == "main" || name == &*self.entity;
        schemas
            .into_iter()
            .find(|t| t.name == name || (main && t.array_levels.is_empty()))
    }

    /// The schema of one table; `"main"` names the main table.
    pub fn table_schema(&self, name: &str) -> Result<TableSchema> {
        self.find(self.schemas()?, name)
            .ok_or_else(|| Error::UnknownTable(name.to_string()))
    }

    /// Number of rows of a table; `"main"` names the main table.
    pub fn num_rows(&self, name: &str) -> Option<usize> {
        self.table_schema(name).ok().map(|t| t.num_rows)
    }

    /// The record batches of a table, all with the table's full schema; `"main"` names
    /// the main table.
    pub fn table(&self, name: &str) -> Result<Vec<RecordBatch>> {
        let schema = self.table_schema(name)?;
        self.batches(&schema).collect()
    }

    /// The main table's record batches.
    pub fn main_table(&self) -> Result<Vec<RecordBatch>> {
        self.table("main")
    }

    /// Every table's name and record batches, main table first.
    pub fn to_record_batches(&self) -> Result<Vec<(String, Vec<RecordBatch>)>> {
        self.schemas()?
            .into_iter()
            .map(|s| {
                let batches = self.batches(&s).collect::<Result<Vec<_>>>()?;
                Ok((s.name, batches))
            })
            .collect()
    }

    /// The batches of the table `schema` describes (from [`ProcessingResult::schemas`]),
    /// converted one at a time, for writers that stream.
    pub fn batches<'s>(
        &'s self,
        schema: &'s TableSchema,
    ) -> impl Iterator<Item = Result<RecordBatch>> + 's {
        self.batches_converted(schema, &convert_text)
    }

    /// [`ProcessingResult::batches`], with the text cells of every typed data column
    /// (type other than `Utf8`) converted by `convert`, given the column's type,
    /// instead of [`convert_text`]. A batch's schema takes the types of the arrays
    /// `convert` returns: a text format can render typed columns straight from their
    /// text, without building the typed values first.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Array, ArrayRef, StringArray};
    /// use transmogrify_core::{Processor, ProcessorConfig};
    /// let config = ProcessorConfig::builder().with_cast_to_string(false).build()?;
    /// let result = Processor::new(config).process(br#"[{"n": 1}, {"n": 2.5}]"#, "main")?;
    /// let schema = &result.schemas()?[0];
    /// let keep_text = |a: &ArrayRef, _: &arrow_schema::DataType| Ok(a.clone());
    /// let batch = result.batches_converted(schema, &keep_text).next().unwrap()?;
    /// let n = batch.column_by_name("n").unwrap();
    /// let n = n.as_any().downcast_ref::<StringArray>().unwrap();
    /// assert_eq!((n.value(0), n.value(1)), ("1", "2.5"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn batches_converted<'s>(
        &'s self,
        schema: &'s TableSchema,
        convert: &'s Convert<'s>,
    ) -> impl Iterator<Item = Result<RecordBatch>> + 's {
        self.table_chunks(schema)
            .iter()
            .filter(|c| c.has_data)
            .map(move |c| self.chunk_batch(schema, c, convert))
    }

    /// The chunks of the table `schema` describes: by index when the schema came
    /// from this result, else by table identity (a schema of a combined result
    /// applies to the chunks of any of its parts).
    fn table_chunks(&self, schema: &TableSchema) -> &[Arc<TableChunk>] {
        let same = |t: &&ResultTable| {
            *t.key.levels == *schema.array_levels
                && t.key
                    .keys
                    .iter()
                    .map(|s| &**s)
                    .eq(schema.path.iter().map(String::as_str))
        };
        let table = match self.tables.get(schema.index) {
            Some(t) if same(&t) => Some(t),
            _ => self.tables.iter().find(same),
        };
        table.map(|t| t.chunks.as_slice()).unwrap_or_default()
    }

    /// The columns of [`ProcessingResult::batches_converted`]'s batches, with each
    /// batch's row count, without the batches: a writer that needs only the arrays
    /// (a text format) is spared a batch schema of the arrays' types, which for a
    /// typed table of many columns costs more than the columns themselves.
    ///
    /// ```
    /// use arrow_array::{Array, ArrayRef};
    /// use transmogrify_core::{Processor, ProcessorConfig};
    /// let config = ProcessorConfig::builder().with_cast_to_string(false).build()?;
    /// let result = Processor::new(config).process(br#"[{"n": 1}, {"n": 2.5}]"#, "main")?;
    /// let schema = &result.schemas()?[0];
    /// let keep_text = |a: &ArrayRef, _: &arrow_schema::DataType| Ok(a.clone());
    /// let (columns, rows) = result.columns_converted(schema, &keep_text).next().unwrap()?;
    /// assert_eq!((columns.len(), rows), (schema.schema.fields().len(), 2));
    /// assert_eq!(columns[0].len(), 2);
    /// # Ok::<(), transmogrify_core::Error>(())
    /// ```
    pub fn columns_converted<'s>(
        &'s self,
        schema: &'s TableSchema,
        convert: &'s Convert<'s>,
    ) -> impl Iterator<Item = Result<(Vec<ArrayRef>, usize)>> + 's {
        self.table_chunks(schema)
            .iter()
            .filter(|c| c.has_data)
            .map(move |c| Ok((self.chunk_columns(schema, c, convert)?, c.rows)))
    }

    fn chunk_batch(
        &self,
        schema: &TableSchema,
        chunk: &TableChunk,
        convert: &Convert<'_>,
    ) -> Result<RecordBatch> {
        let arrays = self.chunk_columns(schema, chunk, convert)?;
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(chunk.rows));
        let fields = schema.schema.fields();
        let retyped = fields
            .iter()
            .zip(&arrays)
            .any(|(f, a)| f.data_type() != a.data_type());
        let batch_schema = if retyped {
            let fields: Vec<Field> = fields
                .iter()
                .zip(&arrays)
                .map(|(f, a)| f.as_ref().clone().with_data_type(a.data_type().clone()))
                .collect();
            Arc::new(Schema::new_with_metadata(
                fields,
                schema.schema.metadata().clone(),
            ))
        } else {
            schema.schema.clone()
        };
        Ok(RecordBatch::try_new_with_options(
            batch_schema,
            arrays,
            &options,
        )?)
    }

    /// The arrays of one chunk laid out as `schema` (see [`ProcessingResult::chunk_batch`]).
    fn chunk_columns(
        &self,
        schema: &TableSchema,
        chunk: &TableChunk,
        convert: &Convert<'_>,
    ) -> Result<Vec<ArrayRef>> {
        let text = self.config.cast_to_string;
        // Each of the chunk's columns finds its place in the schema by its key: a
        // sparse table has tens of thousands of columns, of which a chunk has cells
        // in a few hundred; the others share one array of nulls per type.
        let positions = schema.positions.0.get_or_init(|| {
            let mut at = hashbrown::HashMap::with_capacity(schema.sources.len());
            for (i, source) in schema.sources.iter().enumerate() {
                if let Source::Data(key, _) = source {
                    at.insert(key.clone(), i);
                }
            }
            at
        });
        let mut found: Vec<Option<&ArrayRef>> = vec![None; schema.sources.len()];
        for (key, _, array) in &chunk.columns {
            if let Some(slot) = positions.get(key).and_then(|&i| found.get_mut(i)) {
                *slot = Some(array);
            }
        }
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.sources.len());
        let mut nulls: Vec<ArrayRef> = Vec::new();
        for (source, array) in schema.sources.iter().zip(found) {
            arrays.push(match source {
                Source::Data(_, dt) => match array {
                    Some(array) if *dt == DataType::Utf8 => Arc::clone(array),
                    Some(array) => convert(array, dt)?,
                    None => match nulls.iter().find(|a| a.data_type() == dt) {
                        Some(shared) => Arc::clone(shared),
                        None => {
                            let fresh = new_null_array(dt, chunk.rows);
                            nulls.push(Arc::clone(&fresh));
                            fresh
                        }
                    },
                },
                Source::Id => chunk.ids.clone(),
                Source::ParentId => chunk
                    .parent_ids
                    .clone()
                    .ok_or_else(|| Error::Internal("child rows without parent ids".into()))?,
                Source::Index => {
                    let idx = chunk.indices.as_deref().unwrap_or_default();
                    if text {
                        Arc::new(decimal_text(idx)?)
                    } else {
                        Arc::new(Int64Array::from_iter_values(
                            idx.iter().map(|&i| i64::try_from(i).unwrap_or(i64::MAX)),
                        ))
                    }
                }
                Source::Time => {
                    if text {
                        time_text(chunk.time, chunk.rows)?
                    } else {
                        Arc::new(
                            TimestampMicrosecondArray::from_iter_values(std::iter::repeat_n(
                                chunk.time, chunk.rows,
                            ))
                            .with_timezone("UTC"),
                        )
                    }
                }
            });
        }
        Ok(arrays)
    }

    /// The rows of a table as JSON objects (nulls included as `null`), for inspection
    /// and tests; `"main"` names the main table.
    pub fn rows(&self, name: &str) -> Result<Vec<Map<String, Value>>> {
        let mut out = Vec::new();
        for batch in self.table(name)? {
            batch_rows(&batch, &mut out)?;
        }
        Ok(out)
    }

    /// The bad records of skip mode as one batch: `source`, `ordinal`, `line`, `column`,
    /// `byte_offset`, `message`, `excerpt`, `raw`, `raw_truncated`. `None` when there are none.
    pub fn errors_batch(&self) -> Result<Option<RecordBatch>> {
        if self.errors.is_empty() {
            return Ok(None);
        }
        let e = &self.errors;
        let schema = Arc::new(Schema::new(vec![
            Field::new("source", DataType::Utf8, false),
            Field::new("ordinal", DataType::UInt64, false),
            Field::new("line", DataType::UInt64, false),
            Field::new("column", DataType::UInt64, false),
            Field::new("byte_offset", DataType::UInt64, false),
            Field::new("message", DataType::Utf8, false),
            Field::new("excerpt", DataType::Utf8, false),
            Field::new("raw", DataType::Utf8, false),
            Field::new("raw_truncated", DataType::Boolean, false),
        ]));
        let u64s = |f: fn(&BadRecord) -> u64| -> ArrayRef {
            Arc::new(UInt64Array::from_iter_values(e.iter().map(f)))
        };
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                e.iter().map(|b| b.error.source_name.to_string()),
            )),
            u64s(|b| b.error.position.ordinal),
            u64s(|b| b.error.position.line),
            u64s(|b| b.error.position.column),
            u64s(|b| b.error.position.byte_offset),
            Arc::new(StringArray::from_iter_values(
                e.iter().map(|b| b.error.kind.to_string()),
            )),
            Arc::new(StringArray::from_iter_values(
                e.iter().map(|b| b.error.excerpt.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                e.iter().map(|b| b.raw.as_str()),
            )),
            Arc::new(
                e.iter()
                    .map(|b| Some(b.raw_truncated))
                    .collect::<BooleanArray>(),
            ),
        ];
        Ok(Some(RecordBatch::try_new(schema, arrays)?))
    }
}

/// Appends the rows of `batch` to `out` as JSON objects.
pub fn batch_rows(batch: &RecordBatch, out: &mut Vec<Map<String, Value>>) -> Result<()> {
    let schema = batch.schema();
    for row in 0..batch.num_rows() {
        let mut map = Map::new();
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            map.insert(field.name().clone(), cell(column, row)?);
        }
        out.push(map);
    }
    Ok(())
}

fn cell(array: &ArrayRef, row: usize) -> Result<Value> {
    if array.is_null(row) {
        return Ok(Value::Null);
    }
    let any = array.as_any();
    let v = if let Some(a) = any.downcast_ref::<StringArray>() {
        Value::String(a.value(row).to_string())
    } else if let Some(a) = any.downcast_ref::<Int64Array>() {
        Value::from(a.value(row))
    } else if let Some(a) = any.downcast_ref::<UInt64Array>() {
        Value::from(a.value(row))
    } else if let Some(a) = any.downcast_ref::<Float64Array>() {
        Value::from(a.value(row))
    } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
        Value::Bool(a.value(row))
    } else if let Some(a) = any.downcast_ref::<Decimal128Array>() {
        let text = a.value(row).to_string();
        text.parse::<Number>()
            .map(Value::Number)
            .unwrap_or(Value::String(text))
    } else if let Some(a) = any.downcast_ref::<TimestampMicrosecondArray>() {
        Value::String(format_timestamp(a.value(row)))
    } else {
        return Err(Error::Internal(format!(
            "no JSON form for {}",
            array.data_type()
        )));
    };
    Ok(v)
}

/// Collects results from many threads at once and assembles them in input order.
///
/// Depositing is lock-free (a concurrent queue); only [`ResultCollector::finish`] orders
/// the parts, by the sequence number each was deposited with.
///
/// ```
/// use transmogrify_core::{Processor, ResultCollector};
/// let processor = Processor::default();
/// let collector = ResultCollector::new();
/// std::thread::scope(|s| {
///     for (seq, text) in [r#"{"n":1}"#, r#"{"n":2}"#].into_iter().enumerate() {
///         let (processor, collector) = (&processor, &collector);
///         s.spawn(move || {
///             let r = processor.process(text.as_bytes(), "t").map_err(|e| e.to_string());
///             collector.deposit(seq as u64, r.unwrap_or_else(|_| processor.empty_result("t")));
///         });
///     }
/// });
/// let all = collector.finish()?;
/// assert_eq!(all.rows("main")?[1]["n"], "2");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct ResultCollector {
    parts: crossbeam::queue::SegQueue<(u64, ProcessingResult)>,
}

impl ResultCollector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands in the result of part `seq` (parts are combined in `seq` order).
    pub fn deposit(&self, seq: u64, result: ProcessingResult) {
        self.parts.push((seq, result));
    }

    /// Number of parts deposited so far.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether nothing was deposited.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Combines every deposited part in sequence order.
    pub fn finish(self) -> Result<ProcessingResult> {
        let mut parts: Vec<(u64, ProcessingResult)> = Vec::with_capacity(self.parts.len());
        while let Some(p) = self.parts.pop() {
            parts.push(p);
        }
        parts.sort_by_key(|p| p.0);
        ProcessingResult::combine_results(parts.into_iter().map(|p| p.1))
    }
}

/// The extraction time `time` as text on each of `rows` rows: a slice of the
/// longest such column made so far on this thread for the same time (a run has
/// one), so that a table's chunks share one buffer instead of each filling its own.
fn time_text(time: i64, rows: usize) -> Result<ArrayRef> {
    thread_local! {
        static MADE: std::cell::RefCell<Option<(i64, ArrayRef)>> = const { std::cell::RefCell::new(None) };
    }
    MADE.with(|made| {
        let mut made = made.borrow_mut();
        if let Some((t, column)) = made.as_ref()
            && *t == time
            && column.len() >= rows
        {
            return Ok(column.slice(0, rows));
        }
        let column: ArrayRef = Arc::new(repeated_text(&format_timestamp(time), rows.max(4096))?);
        *made = Some((time, column.clone()));
        Ok(column.slice(0, rows))
    })
}

/// `text` in each of `rows` rows, written straight into one buffer (no string per
/// row, no regrowth).
fn repeated_text(text: &str, rows: usize) -> Result<StringArray> {
    let too_long = || Error::Internal("a repeated cell is too long for a chunk".into());
    let len = i32::try_from(text.len()).map_err(|_| too_long())?;
    let count = i32::try_from(rows).map_err(|_| too_long())?;
    len.checked_mul(count).ok_or_else(too_long)?;
    let offsets: Vec<i32> = (0..=count).map(|i| i * len).collect();
    Ok(StringArray::try_new(
        arrow_buffer::OffsetBuffer::new(offsets.into()),
        text.repeat(rows).into_bytes().into(),
        None,
    )?)
}

/// The decimal text of each of `values`, written straight into one buffer.
fn decimal_text(values: &[u64]) -> Result<StringArray> {
    let mut offsets: Vec<i32> = Vec::with_capacity(values.len() + 1);
    let mut bytes: Vec<u8> = Vec::with_capacity(values.len() * 2);
    let mut digits = crate::flatten::itoa_buf();
    offsets.push(0);
    for &v in values {
        bytes.extend_from_slice(crate::flatten::itoa(&mut digits, v).as_bytes());
        offsets.push(
            i32::try_from(bytes.len())
                .map_err(|_| Error::Internal("an index column is too long for a chunk".into()))?,
        );
    }
    Ok(StringArray::try_new(
        arrow_buffer::OffsetBuffer::new(offsets.into()),
        bytes.into(),
        None,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(array: &StringArray) -> Vec<&str> {
        array.iter().map(|v| v.unwrap_or("<null>")).collect()
    }

    #[test]
    fn repeated_and_decimal_text_columns() -> Result<()> {
        let t = repeated_text("2024-01-02 03:04:05.000006", 3)?;
        assert_eq!(texts(&t), ["2024-01-02 03:04:05.000006"; 3]);
        assert_eq!(repeated_text("x", 0)?.len(), 0);
        let d = decimal_text(&[0, 7, 10, 18_446_744_073_709_551_615])?;
        assert_eq!(texts(&d), ["0", "7", "10", "18446744073709551615"]);
        assert_eq!(decimal_text(&[])?.len(), 0);
        Ok(())
    }

    #[test]
    fn time_columns_of_any_length_and_time() -> Result<()> {
        use arrow_array::cast::AsArray;
        let texts_of = |time: i64, rows: usize| -> Result<Vec<String>> {
            let column = time_text(time, rows)?;
            let column = column
                .as_string_opt::<i32>()
                .ok_or_else(|| Error::Internal("not text".into()))?;
            Ok(column
                .iter()
                .map(|v| v.unwrap_or("<null>").to_string())
                .collect())
        };
        let one = "2024-01-02 03:04:05.000006";
        let other = "2024-01-02 03:04:05.000007";
        // Shorter and longer than the column made first, another time, and back.
        for (time, rows, text) in [
            (1_704_164_645_000_006, 3, one),
            (1_704_164_645_000_006, 5000, one),
            (1_704_164_645_000_006, 10_000, one),
            (1_704_164_645_000_006, 0, one),
            (1_704_164_645_000_007, 2, other),
            (1_704_164_645_000_006, 7, one),
        ] {
            assert_eq!(texts_of(time, rows)?, vec![text.to_string(); rows]);
        }
        Ok(())
    }
}

/// The columns each table has in results that arrive in any order (from workers
/// that each flatten a part of the input), to tell when a table's records together
/// pass [`max_columns`](ProcessorConfig::max_columns): a worker checks the limit
/// against the columns of its own parts only, so which records pass it is decided
/// in input order only, as one flattener reading every record does.
///
/// ```
/// use transmogrify_core::{ColumnCensus, Processor, ProcessorConfig};
/// let processor = Processor::new(ProcessorConfig::builder().with_max_columns(2).build()?);
/// let mut census = ColumnCensus::default();
/// assert_eq!(census.add(&processor.process(br#"{"a": 1}"#, "t")?), None);
/// assert_eq!(census.add(&processor.process(br#"{"b": 1}"#, "t")?), None);
/// // A third column of table t, which no part passed on its own.
/// assert_eq!(census.add(&processor.process(br#"{"c": 1}"#, "t")?).as_deref(), Some("t"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct ColumnCensus {
    tables: HashMap<TableKey, std::collections::HashSet<ColKey>>,
}

impl ColumnCensus {
    /// Counts `result`'s columns: the name of a table that now has more columns than
    /// its configuration allows, or that a record of `result` was refused for (a
    /// bad record of [`TooManyColumns`](crate::RecordErrorKind::TooManyColumns)).
    pub fn add(&mut self, result: &ProcessingResult) -> Option<String> {
        let refused = result.errors.iter().find_map(|bad| match &bad.error.kind {
            crate::RecordErrorKind::TooManyColumns { table, .. } => Some(table.clone()),
            _ => None,
        });
        let limit = result.config.max_columns;
        let mut past = None;
        for table in &result.tables {
            let seen = self.tables.entry(table.key.clone()).or_default();
            for chunk in &table.chunks {
                seen.extend(chunk.columns.iter().map(|(key, _, _)| key.clone()));
            }
            if seen.len() > limit && past.is_none() {
                past = Some(if table.key.keys.is_empty() {
                    result.entity.to_string()
                } else {
                    let path = table.key.keys.join(&result.config.separator);
                    format!("{}{}{path}", result.entity, result.config.separator)
                });
            }
        }
        refused.or(past)
    }
}

/// The columns every table has had in a run's parts so far, shared by the sessions
/// that flatten the parts one after another ([`Session::with_columns_seen`]), so
/// that [`max_columns`](ProcessorConfig::max_columns) counts a table's columns over
/// the whole run, not over each part: a record that would give its table more is a
/// bad record however the input was cut into parts.
///
/// [`Session::with_columns_seen`]: crate::Session::with_columns_seen
///
/// ```
/// use transmogrify_core::{ColumnsSeen, Processor, ProcessorConfig};
/// let processor = Processor::new(ProcessorConfig::builder().with_max_columns(2).build()?);
/// let seen = ColumnsSeen::default();
/// let mut first = processor.session("t").with_columns_seen(seen.clone());
/// first.push(br#"{"a": 1, "b": 2}"#)?;
/// first.finish()?;
/// // The next part: table t already has two columns.
/// let mut second = processor.session("t").with_columns_seen(seen);
/// second.push(br#"{"b": 3}"#)?;
/// assert!(second.push(br#"{"c": 4}"#).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ColumnsSeen(Arc<std::sync::Mutex<SeenColumns>>);

type SeenColumns = HashMap<TableKey, std::collections::HashSet<ColKey>>;

/// What [`ColumnsSeen::admit`] says of a column.
pub(crate) enum Admitted {
    /// The table had it already.
    Known,
    /// The table has it now.
    New,
    /// It would take the table past the limit.
    Refused,
}

impl ColumnsSeen {
    /// Whether table `table` may have column `key` with at most `limit` columns.
    pub(crate) fn admit(&self, table: &TableKey, key: &ColKey, limit: usize) -> Admitted {
        let mut tables = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let columns = tables.entry(table.clone()).or_default();
        if columns.contains(key) {
            Admitted::Known
        } else if columns.len() >= limit {
            Admitted::Refused
        } else {
            columns.insert(key.clone());
            Admitted::New
        }
    }

    /// Counts `columns` as table `table`'s whatever the records give it (declared
    /// columns, written with or without values).
    pub(crate) fn declare(&self, table: &TableKey, columns: impl Iterator<Item = ColKey>) {
        let mut tables = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tables.entry(table.clone()).or_default().extend(columns);
    }

    /// Takes back columns admitted for a record that was not kept.
    pub(crate) fn forget<'a>(&self, columns: impl Iterator<Item = (&'a TableKey, ColKey)>) {
        let mut tables = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (table, key) in columns {
            if let Some(set) = tables.get_mut(table) {
                set.remove(&key);
            }
        }
    }
}
