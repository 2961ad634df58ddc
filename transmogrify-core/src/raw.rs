//! A result as plain Arrow record batches, for crossing process boundaries (Arrow IPC)
//! or spilling to disk, and back.
//!
//! Each chunk becomes one record batch. Data columns are named by their source path
//! as a JSON array of keys (`["user","name"]`), or `#value` for the `value` column of
//! scalar elements, and carry the kinds of value seen in field metadata `kinds`. Row
//! ids are `#id`, parent ids `#parent`, element positions `#index` (UInt64). Schema
//! metadata holds `rows`, `time` and `has_data`.

#![expect(
    clippy::indexing_slicing,
    reason = "windows(2) always yields slices of two"
)]

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StringArray, UInt64Array, new_empty_array,
};
use arrow_schema::{DataType, Field, Schema};

use crate::config::ProcessorConfig;
use crate::error::{Error, Position, RecordError, RecordErrorKind, Result};
use crate::result::{BadRecord, ColKey, ProcessingResult, ResultTable, TableChunk, TableKey};

/// A [`ProcessingResult`] as plain Arrow record batches.
#[derive(Debug, Clone)]
pub struct RawResult {
    /// The entity name.
    pub entity: String,
    /// Records flattened.
    pub records: u64,
    /// Tables in order of first appearance.
    pub tables: Vec<RawTable>,
    /// Bad records of skip mode (see [`ProcessingResult::errors_batch`] for the layout),
    /// with a `kind` column beside (each error's kind as JSON text, so that it comes
    /// back as the same kind, not as its message only).
    pub errors: Option<RecordBatch>,
}

/// One table of a [`RawResult`].
#[derive(Debug, Clone)]
pub struct RawTable {
    /// Array keys from the record root.
    pub path: Vec<String>,
    /// After how many keys of `path` each array step comes (see
    /// [`TableSchema::array_levels`](crate::TableSchema::array_levels)).
    pub array_levels: Vec<u32>,
    /// One batch per chunk.
    pub batches: Vec<RecordBatch>,
}

const ID: &str = "#id";
const PARENT: &str = "#parent";
const INDEX: &str = "#index";
const VALUE: &str = "#value";

fn arc_path(path: &[String]) -> Arc<[Arc<str>]> {
    path.iter().map(|s| Arc::from(s.as_str())).collect()
}

fn bad(what: &str) -> Error {
    Error::Combine(format!("not a raw transmogrify result: {what}"))
}

impl ProcessingResult {
    /// This result as plain record batches (no copy of cell data).
    pub fn to_raw(&self) -> Result<RawResult> {
        let mut tables = Vec::with_capacity(self.tables.len());
        for t in self.raw_tables() {
            let (path, array_levels) = (t.path.clone(), t.array_levels.clone());
            tables.push(RawTable {
                path,
                array_levels,
                batches: t.collect::<Result<_>>()?,
            });
        }
        Ok(RawResult {
            entity: self.entity.to_string(),
            records: self.records,
            tables,
            errors: self.raw_errors_batch()?,
        })
    }

    /// [`errors_batch`](Self::errors_batch) with each error's kind as JSON text.
    fn raw_errors_batch(&self) -> Result<Option<RecordBatch>> {
        let Some(batch) = self.errors_batch()? else {
            return Ok(None);
        };
        let mut fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new("kind", DataType::Utf8, false));
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(StringArray::from_iter_values(
            self.errors
                .iter()
                .map(|b| b.error.kind.to_json().to_string()),
        )));
        Ok(Some(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?))
    }

    /// Rebuilds a result from [`ProcessingResult::to_raw`]'s output; `config` must be
    /// the configuration it was made with.
    pub fn from_raw(raw: RawResult, config: ProcessorConfig) -> Result<ProcessingResult> {
        let mut tables = Vec::with_capacity(raw.tables.len());
        for t in raw.tables {
            let mut chunks = Vec::with_capacity(t.batches.len());
            for b in &t.batches {
                chunks.push(Arc::new(batch_to_chunk(b)?));
            }
            if t.array_levels.windows(2).any(|w| w[0] > w[1])
                || t.array_levels
                    .last()
                    .is_some_and(|&l| l as usize != t.path.len())
            {
                return Err(bad("array levels do not fit the table path"));
            }
            tables.push(ResultTable {
                key: TableKey {
                    keys: arc_path(&t.path),
                    levels: Arc::from(t.array_levels),
                },
                chunks,
            });
        }
        let errors = match &raw.errors {
            Some(b) => bad_records(b)?,
            None => Vec::new(),
        };
        Ok(ProcessingResult::from_parts(
            Arc::from(raw.entity.as_str()),
            Arc::new(config),
            tables,
            errors,
            raw.records,
        ))
    }

    /// The tables of [`to_raw`](Self::to_raw), each chunk made a record batch only
    /// when its turn comes: spilling a result this way holds one chunk's batch at a
    /// time rather than the schemas of them all.
    ///
    /// ```
    /// use transmogrify_core::Processor;
    ///
    /// let mut session = Processor::default().session("t");
    /// session.push(br#"{"a":1,"b":[{"c":2},{"c":3}]}"#)?;
    /// let result = session.finish()?;
    /// let tables: Vec<(Vec<String>, usize)> = result
    ///     .raw_tables()
    ///     .map(|t| (t.path.clone(), t.map(|b| b.map(|b| b.num_rows()).unwrap_or(0)).sum()))
    ///     .collect();
    /// assert_eq!(tables, [(vec![], 1), (vec!["b".to_string()], 2)]);
    /// # Ok::<(), transmogrify_core::Error>(())
    /// ```
    pub fn raw_tables(&self) -> impl Iterator<Item = RawChunks<'_>> {
        self.tables.iter().map(|t| RawChunks {
            path: t.key.keys.iter().map(|s| s.to_string()).collect(),
            array_levels: t.key.levels.to_vec(),
            chunks: t.chunks.iter(),
        })
    }

    /// The layout of this result ([`layout_only`](Self::layout_only)) as one chunk per
    /// table: the union of the table's columns in order of first appearance, the kinds
    /// of value seen OR-ed together, the rows summed, one empty array shared by every
    /// column. The final [`schemas`](Self::schemas) depend only on these, so a layout
    /// kept this way is as small as the tables' columns, however many chunks it covers.
    ///
    /// ```
    /// use transmogrify_core::{ProcessingResult, Processor};
    ///
    /// let processor = Processor::default();
    /// let part = |text: &str| {
    ///     let mut session = processor.session("t");
    ///     session.push(text.as_bytes())?;
    ///     session.finish()
    /// };
    /// let mut layout = part(r#"{"a":1}"#)?.compact_layout();
    /// assert!(!layout.merge_layout(&part(r#"{"a":"x"}"#)?)?);
    /// assert!(layout.merge_layout(&part(r#"{"b":true}"#)?)?);
    /// let all = ProcessingResult::combine_results([
    ///     part(r#"{"a":1}"#)?,
    ///     part(r#"{"a":"x"}"#)?,
    ///     part(r#"{"b":true}"#)?,
    /// ])?;
    /// assert_eq!(layout.schemas()?[0].schema, all.schemas()?[0].schema);
    /// assert_eq!(layout.num_rows("t"), Some(3));
    /// # Ok::<(), transmogrify_core::Error>(())
    /// ```
    pub fn compact_layout(&self) -> ProcessingResult {
        let tables = self
            .tables
            .iter()
            .map(|t| {
                let mut layout = LayoutChunk::default();
                for chunk in &t.chunks {
                    layout.add(chunk);
                }
                ResultTable {
                    key: t.key.clone(),
                    chunks: layout.into_chunks(),
                }
            })
            .collect();
        self.with_tables(tables)
    }

    /// Adds the layout of `other` to this [`compact_layout`](Self::compact_layout),
    /// keeping it compact; returns whether `other` brought a table or a column this
    /// layout lacked.
    ///
    /// # Errors
    /// [`Error::Combine`] when `other` was made for another entity or with other
    /// naming or value options.
    pub fn merge_layout(&mut self, other: &ProcessingResult) -> Result<bool> {
        Ok(self.merge_layout_changes(other)?.columns)
    }

    /// [`merge_layout`](Self::merge_layout), telling also whether `other` brought a
    /// kind of value a column had not had (in typed mode, a column's type may change
    /// with it).
    ///
    /// ```
    /// use transmogrify_core::{LayoutChange, Processor};
    /// let processor = Processor::default();
    /// let mut layout = processor.process(br#"{"a": 1}"#, "t")?.compact_layout();
    /// let change = layout.merge_layout_changes(&processor.process(br#"{"a": 2.5}"#, "t")?)?;
    /// assert_eq!(change, LayoutChange { columns: false, kinds: true });
    /// # Ok::<(), transmogrify_core::Error>(())
    /// ```
    pub fn merge_layout_changes(&mut self, other: &ProcessingResult) -> Result<LayoutChange> {
        self.check_combinable(other)?;
        let mut index = self.table_index();
        let mut changed = LayoutChange::default();
        for table in &other.tables {
            let i = *index.entry(table.key.clone()).or_insert_with(|| {
                changed.columns = true;
                self.tables.push(ResultTable {
                    key: table.key.clone(),
                    chunks: Vec::new(),
                });
                self.tables.len() - 1
            });
            let mine = self
                .tables
                .get_mut(i)
                .ok_or_else(|| Error::Internal("layout table index out of range".into()))?;
            let mut layout = LayoutChunk::default();
            for chunk in mine.chunks.drain(..) {
                layout.add(&chunk);
            }
            for chunk in &table.chunks {
                let added = layout.add(chunk);
                changed.columns |= added.columns;
                changed.kinds |= added.kinds;
            }
            mine.chunks = layout.into_chunks();
        }
        self.errors.extend(other.errors.iter().cloned());
        self.records += other.records;
        Ok(changed)
    }

    /// A copy that keeps tables, columns, kinds, row counts and errors but no cells:
    /// enough to work out the final [`schemas`](ProcessingResult::schemas) of a run
    /// whose data was already written or spilled. Its batches are empty.
    pub fn layout_only(&self) -> ProcessingResult {
        let tables = self
            .tables
            .iter()
            .map(|t| ResultTable {
                key: t.key.clone(),
                chunks: t
                    .chunks
                    .iter()
                    .map(|c| {
                        Arc::new(TableChunk {
                            rows: c.rows,
                            has_data: false,
                            // Fresh empty arrays: a zero-length slice would keep the
                            // whole buffer alive.
                            columns: c
                                .columns
                                .iter()
                                .map(|(k, kinds, a)| {
                                    (k.clone(), *kinds, new_empty_array(a.data_type()))
                                })
                                .collect(),
                            ids: new_empty_array(c.ids.data_type()),
                            parent_ids: c
                                .parent_ids
                                .as_ref()
                                .map(|a| new_empty_array(a.data_type())),
                            indices: None,
                            time: c.time,
                        })
                    })
                    .collect(),
            })
            .collect();
        self.with_tables(tables)
    }
}

/// One table of a result whose chunks become record batches one at a time (see
/// [`ProcessingResult::raw_tables`]).
#[derive(Debug)]
pub struct RawChunks<'a> {
    /// Array keys from the record root.
    pub path: Vec<String>,
    /// After how many keys of `path` each array step comes.
    pub array_levels: Vec<u32>,
    chunks: std::slice::Iter<'a, Arc<TableChunk>>,
}

impl Iterator for RawChunks<'_> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.chunks.next().map(|c| chunk_to_batch(c))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

/// What a part brought to a run's layout
/// ([`ProcessingResult::merge_layout_changes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayoutChange {
    /// A table or a column the layout lacked.
    pub columns: bool,
    /// A kind of value a column had not had.
    pub kinds: bool,
}

/// A table's cell-less layout being gathered from its chunks (see
/// [`ProcessingResult::compact_layout`]).
#[derive(Default)]
struct LayoutChunk {
    chunk: Option<TableChunk>,
    /// (hashbrown's fast hasher: a sparse table has tens of thousands of columns)
    index: hashbrown::HashMap<ColKey, usize>,
    /// One empty array per data type, shared by the columns.
    empties: Vec<ArrayRef>,
}

impl LayoutChunk {
    /// Adds `c`'s rows, columns and kinds; returns whether it brought a column (or
    /// parent ids) or a column's kind the layout lacked.
    fn add(&mut self, c: &TableChunk) -> LayoutChange {
        let LayoutChunk {
            chunk,
            index,
            empties,
        } = self;
        let mut empty = |dt: &DataType| match empties.iter().find(|a| a.data_type() == dt) {
            Some(a) => a.clone(),
            None => {
                let a = new_empty_array(dt);
                empties.push(a.clone());
                a
            }
        };
        let layout = chunk.get_or_insert_with(|| TableChunk {
            rows: 0,
            has_data: false,
            columns: Vec::new(),
            ids: new_empty_array(c.ids.data_type()),
            parent_ids: None,
            indices: None,
            time: c.time,
        });
        layout.rows += c.rows;
        let mut changed = LayoutChange::default();
        if let (None, Some(p)) = (&layout.parent_ids, &c.parent_ids) {
            layout.parent_ids = Some(new_empty_array(p.data_type()));
            changed.columns = true;
        }
        for (key, kinds, array) in &c.columns {
            match index.get(key).and_then(|&i| layout.columns.get_mut(i)) {
                Some(column) => {
                    changed.kinds |= column.1 | kinds != column.1;
                    column.1 |= kinds;
                }
                None => {
                    index.insert(key.clone(), layout.columns.len());
                    layout
                        .columns
                        .push((key.clone(), *kinds, empty(array.data_type())));
                    changed.columns = true;
                }
            }
        }
        changed
    }

    fn into_chunks(self) -> Vec<Arc<TableChunk>> {
        self.chunk.map(Arc::new).into_iter().collect()
    }
}

fn chunk_to_batch(c: &TableChunk) -> Result<RecordBatch> {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (key, kinds, array) in &c.columns {
        let name = match key {
            ColKey::Value => VALUE.to_string(),
            ColKey::Path(p) => {
                let keys: Vec<&str> = p.iter().map(|s| &**s).collect();
                serde_json::to_string(&keys).map_err(|e| Error::Internal(e.to_string()))?
            }
        };
        let meta = HashMap::from([("kinds".to_string(), kinds.to_string())]);
        fields.push(Field::new(name, DataType::Utf8, true).with_metadata(meta));
        arrays.push(array.clone());
    }
    fields.push(Field::new(ID, DataType::Utf8, true));
    arrays.push(c.ids.clone());
    if let Some(p) = &c.parent_ids {
        fields.push(Field::new(PARENT, DataType::Utf8, true));
        arrays.push(p.clone());
    }
    if let Some(idx) = &c.indices {
        fields.push(Field::new(INDEX, DataType::UInt64, false));
        arrays.push(Arc::new(UInt64Array::from(idx.clone())));
    }
    let meta = HashMap::from([
        ("rows".to_string(), c.rows.to_string()),
        ("time".to_string(), c.time.to_string()),
        ("has_data".to_string(), c.has_data.to_string()),
    ]);
    let schema = Arc::new(Schema::new_with_metadata(fields, meta));
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(if c.has_data {
        c.rows
    } else {
        0
    }));
    Ok(RecordBatch::try_new_with_options(schema, arrays, &options)?)
}

fn batch_to_chunk(b: &RecordBatch) -> Result<TableChunk> {
    let schema = b.schema();
    let meta = schema.metadata();
    let num = |k: &str| -> Result<i64> {
        meta.get(k)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(&format!("metadata {k:?} missing")))
    };
    let rows = usize::try_from(num("rows")?).map_err(|_| bad("negative row count"))?;
    let time = num("time")?;
    let has_data = meta.get("has_data").map(String::as_str) != Some("false");
    let mut chunk = TableChunk {
        rows,
        has_data,
        columns: Vec::new(),
        ids: Arc::new(StringArray::from(Vec::<String>::new())),
        parent_ids: None,
        indices: None,
        time,
    };
    for (field, array) in schema.fields().iter().zip(b.columns()) {
        match field.name().as_str() {
            ID => chunk.ids = array.clone(),
            PARENT => chunk.parent_ids = Some(array.clone()),
            INDEX => {
                let a = array
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .ok_or_else(|| bad("#index is not UInt64"))?;
                chunk.indices = Some(a.values().to_vec());
            }
            name => {
                let key = if name == VALUE {
                    ColKey::Value
                } else {
                    let keys: Vec<String> =
                        serde_json::from_str(name).map_err(|_| bad("bad column key"))?;
                    ColKey::Path(arc_path(&keys))
                };
                let kinds = field
                    .metadata()
                    .get("kinds")
                    .and_then(|k| k.parse().ok())
                    .ok_or_else(|| bad("column kinds missing"))?;
                if array.data_type() != &DataType::Utf8 {
                    return Err(bad("data column is not UTF-8"));
                }
                chunk.columns.push((key, kinds, array.clone()));
            }
        }
    }
    if chunk.parent_ids.is_some() && chunk.indices.is_none() && has_data {
        return Err(bad("child chunk without #index"));
    }
    Ok(chunk)
}

fn bad_records(b: &RecordBatch) -> Result<Vec<BadRecord>> {
    let col = |name: &str| -> Result<&ArrayRef> {
        b.column_by_name(name)
            .ok_or_else(|| bad(&format!("errors column {name:?} missing")))
    };
    let text = |name: &str| -> Result<&StringArray> {
        col(name)?
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| bad(&format!("errors column {name:?} is not text")))
    };
    let int = |name: &str| -> Result<&UInt64Array> {
        col(name)?
            .as_any()
            .downcast_ref::<UInt64Array>()
            .ok_or_else(|| bad(&format!("errors column {name:?} is not UInt64")))
    };
    let (source, message, excerpt, raw) = (
        text("source")?,
        text("message")?,
        text("excerpt")?,
        text("raw")?,
    );
    let (ordinal, line, column, offset) = (
        int("ordinal")?,
        int("line")?,
        int("column")?,
        int("byte_offset")?,
    );
    // The kind as JSON, where the batch has it and it reads back to the message.
    let kinds = b
        .column_by_name("kind")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>());
    let kind = |i: usize| -> RecordErrorKind {
        let message = message.value(i);
        kinds
            .and_then(|k| serde_json::from_str::<serde_json::Value>(k.value(i)).ok())
            .and_then(|json| RecordErrorKind::from_json(&json))
            .filter(|kind| kind.to_string() == message)
            .unwrap_or_else(|| RecordErrorKind::Input(message.to_string()))
    };
    let truncated = col("raw_truncated")?
        .as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or_else(|| bad("raw_truncated is not Boolean"))?;
    Ok((0..b.num_rows())
        .map(|i| BadRecord {
            error: RecordError {
                source_name: Arc::from(source.value(i)),
                position: Position {
                    ordinal: ordinal.value(i),
                    line: line.value(i),
                    column: column.value(i),
                    byte_offset: offset.value(i),
                },
                kind: kind(i),
                excerpt: excerpt.value(i).to_string(),
            },
            raw: raw.value(i).to_string(),
            raw_truncated: truncated.value(i),
        })
        .collect())
}
