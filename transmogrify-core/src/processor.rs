//! [`Processor`] and its push-style [`Session`].

use std::sync::Arc;

use serde_json::Value;

use crate::columns::SizeHints;
use crate::config::ProcessorConfig;
use crate::error::{Position, RecordError, Result};
use crate::flatten::Flattener;
use crate::frame::{JsonLines, JsonRecords};
use crate::result::{ColumnsSeen, ProcessingResult};
use crate::time::now_micros;

/// Flattens records into tables. Cheap to clone and safe to share between threads:
/// every call works on its own [`Session`].
///
/// ```
/// use transmogrify_core::{Processor, ProcessorConfig};
/// let processor = Processor::new(ProcessorConfig::builder().with_id_field(None).with_time_field(None).build()?);
/// let result = processor.process(
///     br#"{"user": {"name": "Ann", "orders": [{"sku": "A1", "qty": 2}]}}"#,
///     "customers",
/// )?;
/// assert_eq!(result.table_names(), ["customers", "customers_user_orders"]);
/// assert_eq!(result.rows("main")?[0]["user_name"], "Ann");
/// assert_eq!(result.rows("customers_user_orders")?[0]["qty"], "2");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Processor {
    config: Arc<ProcessorConfig>,
    extract_time: i64,
    /// Column sizes seen by its sessions (room for the columns of later ones).
    sizes: Arc<SizeHints>,
}

impl Default for Processor {
    fn default() -> Self {
        Processor::new(ProcessorConfig::default())
    }
}

impl Processor {
    /// A processor with `config`. The extraction time is the configured one, or now:
    /// one value for everything this processor flattens.
    pub fn new(config: ProcessorConfig) -> Self {
        let extract_time = config.extract_time.unwrap_or_else(now_micros);
        Processor {
            config: Arc::new(config),
            extract_time,
            sizes: Arc::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ProcessorConfig {
        &self.config
    }

    /// The extraction time stamped on every row, in microseconds since the Unix epoch.
    pub fn extract_time(&self) -> i64 {
        self.extract_time
    }

    /// A new push-style session for `entity_name`.
    pub fn session(&self, entity_name: &str) -> Session {
        Session {
            flattener: Flattener::new(
                self.config.clone(),
                entity_name,
                self.extract_time,
                self.sizes.clone(),
            ),
        }
    }

    /// An empty result for `entity_name` with this processor's configuration.
    pub fn empty_result(&self, entity_name: &str) -> ProcessingResult {
        ProcessingResult::empty(entity_name, (*self.config).clone())
    }

    /// Flattens a JSON text: a top-level array of records, one object, or concatenated
    /// objects (JSONL included). Its records are numbered from 0 (see
    /// [`process_at`](Self::process_at) for a part of a larger data set).
    ///
    /// The text is read as a file whose name does not tell its format would be
    /// (JSONL if its first line holds a whole object and the next line starts
    /// another: [`looks_like_jsonl`](crate::looks_like_jsonl)), so that it gives the
    /// records, errors and ordinals the file readers give. In skip mode a broken
    /// record is recorded and the next one read: in JSONL from the next line,
    /// otherwise from where the broken record ends by its strings and brackets
    /// ([`ValueExtent`](crate::ValueExtent)). Where they do not tell (brackets that do
    /// not match, the text's end inside a record), and between records (a missing
    /// comma, text after the array), the error ends the text.
    pub fn process(&self, json: &[u8], entity_name: &str) -> Result<ProcessingResult> {
        self.process_at(json, entity_name, 0)
    }

    /// [`process`](Self::process) for a part of a larger data set whose first record
    /// is record `first_ordinal` (from 0) of the whole: positional ids, ordinals and
    /// error positions are those of one run over the whole, so parts flattened apart
    /// (on threads of the caller's own) combine without repeating an id.
    ///
    /// ```
    /// use transmogrify_core::{IdStrategy, Processor, ProcessorConfig, ProcessingResult};
    /// let config = ProcessorConfig::builder().with_id_strategy(IdStrategy::Positional);
    /// let processor = Processor::new(config.build()?);
    /// let whole = processor.process(br#"[{"a": 1}, {"a": 2}, {"a": 3}]"#, "t")?;
    /// let first = processor.process_at(br#"[{"a": 1}, {"a": 2}]"#, "t", 0)?;
    /// let rest = processor.process_at(br#"[{"a": 3}]"#, "t", 2)?;
    /// let parts = ProcessingResult::combine_results([first, rest])?;
    /// assert_eq!(parts.rows("main")?, whole.rows("main")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn process_at(
        &self,
        json: &[u8],
        entity_name: &str,
        first_ordinal: u64,
    ) -> Result<ProcessingResult> {
        let mut session = self.session(entity_name);
        session.set_next_ordinal(first_ordinal);
        session.push_json_text(json, "<input>")?;
        session.finish()
    }

    /// Flattens records given as JSON values, numbered from 0 (see
    /// [`process_batch_at`](Self::process_batch_at) for a part of a larger data
    /// set). Their numbers are kept as serde_json gives them: every digit, but an
    /// exponent in its form (`1e5` becomes `1e+5`); [`process`](Self::process) keeps
    /// the input's text.
    pub fn process_batch(&self, records: &[Value], entity_name: &str) -> Result<ProcessingResult> {
        self.process_batch_at(records, entity_name, 0)
    }

    /// [`process_batch`](Self::process_batch) for a part of a larger data set whose
    /// first record is record `first_ordinal` of the whole (see
    /// [`process_at`](Self::process_at)): chunks of one list flattened on several
    /// threads combine into the tables one call over the whole list gives.
    ///
    /// ```
    /// use transmogrify_core::{IdStrategy, Processor, ProcessorConfig, ProcessingResult};
    /// let processor = Processor::new(
    ///     ProcessorConfig::builder().with_id_strategy(IdStrategy::Positional).build()?,
    /// );
    /// let records: Vec<serde_json::Value> = (0..10).map(|i| serde_json::json!({"n": i})).collect();
    /// let parts = std::thread::scope(|s| {
    ///     let handles: Vec<_> = records
    ///         .chunks(4)
    ///         .enumerate()
    ///         .map(|(i, chunk)| {
    ///             let processor = &processor;
    ///             s.spawn(move || processor.process_batch_at(chunk, "t", (i * 4) as u64))
    ///         })
    ///         .collect();
    ///     handles.into_iter().map(|h| h.join().unwrap()).collect::<Result<Vec<_>, _>>()
    /// })?;
    /// let combined = ProcessingResult::combine_results(parts)?;
    /// assert_eq!(combined.rows("main")?, processor.process_batch(&records, "t")?.rows("main")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn process_batch_at(
        &self,
        records: &[Value],
        entity_name: &str,
        first_ordinal: u64,
    ) -> Result<ProcessingResult> {
        let mut session = self.session(entity_name);
        session.set_next_ordinal(first_ordinal);
        for record in records {
            session.push_value(record)?;
        }
        session.finish()
    }

    /// Flattens one JSON value: an array of records or one record.
    pub fn process_value(&self, value: &Value, entity_name: &str) -> Result<ProcessingResult> {
        match value {
            Value::Array(records) => self.process_batch(records, entity_name),
            record => self.process_batch(std::slice::from_ref(record), entity_name),
        }
    }

    /// Flattens records given as raw JSON bytes, one record each.
    pub fn process_records<I, R>(&self, records: I, entity_name: &str) -> Result<ProcessingResult>
    where
        I: IntoIterator<Item = R>,
        R: AsRef<[u8]>,
    {
        let mut session = self.session(entity_name);
        for record in records {
            session.push(record.as_ref())?;
        }
        session.finish()
    }
}

/// One flattening pass, fed a record at a time; owns all mutable state, so each
/// thread or worker has its own.
///
/// ```
/// use transmogrify_core::{Position, Processor};
/// let processor = Processor::default();
/// let mut session = processor.session("events");
/// session.set_source("events.jsonl");
/// session.push_at(br#"{"type": "click"}"#, Position::line_start(0, 1, 0))?;
/// let err = session.push_at(br#"{"type": }"#, Position::line_start(1, 2, 18)).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "events.jsonl: line 2, column 10 (byte 27, record 1): invalid JSON: expected a JSON value, found '}' near `{\"type\": }`"
/// );
/// let result = session.finish()?;
/// assert_eq!(result.num_rows("main"), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Session {
    flattener: Flattener,
}

impl Session {
    /// This session as one of a run's parts flattened one after another: a table's
    /// columns are counted against [`max_columns`](ProcessorConfig::max_columns)
    /// with those `seen` in the parts before (see [`ColumnsSeen`]).
    pub fn with_columns_seen(mut self, seen: ColumnsSeen) -> Self {
        self.flattener.set_columns_seen(seen);
        self
    }

    /// Names the source in error messages (a file path, `<stdin>`, …).
    pub fn set_source(&mut self, name: &str) {
        self.flattener.set_source(name);
    }

    /// Sets the ordinal of the next record pushed with [`Session::push`] (for a chunk
    /// that starts inside a larger input).
    pub fn set_next_ordinal(&mut self, ordinal: u64) {
        self.flattener.set_next_ordinal(ordinal);
    }

    /// The ordinal the next record pushed with [`Session::push`] gets.
    pub fn next_ordinal(&self) -> u64 {
        self.flattener.next_ordinal()
    }

    /// The configuration in force.
    pub fn config(&self) -> &ProcessorConfig {
        self.flattener.config()
    }

    /// Flattens the JSON bytes of one record, numbered after the previous one. Error
    /// positions are relative to the record (line 1, column 1 is its first byte).
    pub fn push(&mut self, record: &[u8]) -> Result<()> {
        let ordinal = self.flattener.next_ordinal();
        self.flattener
            .push(record, Position::line_start(ordinal, 1, 0), true, true)
    }

    /// Flattens the JSON bytes of one record that starts at `position` of its source.
    ///
    /// In strict mode a bad record is an error (and leaves no rows behind); in skip
    /// mode it is recorded in the result's [`errors`](ProcessingResult::errors).
    pub fn push_at(&mut self, record: &[u8], position: Position) -> Result<()> {
        self.flattener.push(record, position, true, true)
    }

    /// Flattens the JSON bytes of one record that starts at `position` of its
    /// source, as [`push_at`](Self::push_at) does, without measuring them against
    /// [`ProcessorConfig::max_record_bytes`]: for a record its reader measured by its
    /// own text in the input (a CSV row, whose JSON object is longer by its column
    /// names).
    ///
    /// ```
    /// use transmogrify_core::{Position, Processor, ProcessorConfig};
    /// let config = ProcessorConfig::builder().with_max_record_bytes(8).build()?;
    /// let mut session = Processor::new(config).session("rows");
    /// // `1,2` under the header `a,b`: 3 bytes as CSV, 13 as JSON.
    /// session.push_measured(br#"{"a":1,"b":2}"#, Position::line_start(0, 2, 4))?;
    /// assert!(session.push_at(br#"{"a":1,"b":2}"#, Position::line_start(1, 3, 8)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_measured(&mut self, record: &[u8], position: Position) -> Result<()> {
        self.flattener.push(record, position, false, true)
    }

    /// Flattens the JSON text a reader made of one row of its input (a CSV or
    /// Parquet row) that starts at `position`, measured against
    /// [`ProcessorConfig::max_record_bytes`] by that text unless `measured` (as
    /// [`push_measured`](Self::push_measured)). The text is not the input's, so a
    /// record error in it (a row nested deeper than the limit, say) is placed at the
    /// row.
    ///
    /// ```
    /// use transmogrify_core::{ErrorMode, Position, Processor, ProcessorConfig};
    /// let config = ProcessorConfig::builder()
    ///     .with_nesting_limit(2)
    ///     .with_on_error(ErrorMode::Skip)
    ///     .build()?;
    /// let mut session = Processor::new(config).session("rows");
    /// // Row 7 of a Parquet file, its row group at byte 1202.
    /// session.push_made(br#"{"d":{"a":{"b":1}}}"#, Position::line_start(7, 8, 1202), false)?;
    /// let result = session.finish()?;
    /// assert_eq!(result.errors()[0].error.position, Position::line_start(7, 8, 1202));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_made(&mut self, record: &[u8], position: Position, measured: bool) -> Result<()> {
        self.flattener.push(record, position, !measured, false)
    }

    /// Flattens one record given as a JSON value.
    pub fn push_value(&mut self, record: &Value) -> Result<()> {
        let bytes = json_bytes(record)
            .map_err(|e| crate::Error::Internal(format!("serializing a JSON value: {e}")))?;
        self.push(&bytes)
    }

    /// Flattens every record of an in-memory JSON text, read as a file whose name does
    /// not tell its format would be: line by line if it reads as JSONL
    /// ([`looks_like_jsonl`](crate::looks_like_jsonl), [`JsonLines`]), else as JSON
    /// ([`JsonRecords`]). In skip mode a broken record is recorded and splitting goes
    /// on after it (for JSON, see [`JsonRecords::recover`]); text whose structure
    /// breaks (a syntax error between records, brackets that do not match) ends
    /// there, with a row in the errors table whose raw text is the rest
    /// ([`JsonRecords::unread`]), after the records before it.
    pub fn push_json_text(&mut self, json: &[u8], source: &str) -> Result<()> {
        self.set_source(source);
        let base = self.flattener.next_ordinal();
        if crate::frame::looks_like_jsonl(json) {
            // One record per line, each a bad record of its own if it is one.
            for (line, mut pos) in JsonLines::new(json, Position::line_start(0, 1, 0)) {
                pos.ordinal += base;
                self.flattener.push(line, pos, true, true)?;
            }
            return Ok(());
        }
        let skip = self.config().on_error() == crate::ErrorMode::Skip;
        let mut records = JsonRecords::new(json, source);
        while let Some(item) = records.next() {
            match item {
                Ok((bytes, mut pos)) => {
                    pos.ordinal += base;
                    self.flattener.push(bytes, pos, true, true)?;
                }
                Err(mut e) => {
                    e.position.ordinal += base;
                    let unread = records.unread();
                    // In skip mode a broken record is recorded and splitting goes on
                    // after it, where its strings and brackets end it.
                    let raw = records.recover();
                    if let Some(raw) = raw {
                        // The excerpt keeps to the record, as the file readers' does.
                        let start = (raw.as_ptr() as usize).saturating_sub(json.as_ptr() as usize);
                        let at = usize::try_from(e.position.byte_offset)
                            .unwrap_or(usize::MAX)
                            .saturating_sub(start);
                        e.excerpt = crate::error::excerpt(raw, at);
                    }
                    match raw {
                        Some(raw) if skip => self.reject(e, raw)?,
                        // Nothing tells where to go on: the text ends here, its row
                        // in the errors table holding the rest as written.
                        None if skip => return self.reject(e, unread),
                        _ => return Err(e.into()),
                    }
                }
            }
        }
        Ok(())
    }

    /// Hands in a record that a reader could not decode: an error in strict mode,
    /// recorded in skip mode. Counts as a record for ordinals.
    pub fn reject(&mut self, error: RecordError, raw: &[u8]) -> Result<()> {
        let next = self
            .flattener
            .next_ordinal()
            .max(error.position.ordinal + 1);
        self.flattener.set_next_ordinal(next);
        self.flattener.reject(error, raw)
    }

    /// Cuts the rows buffered so far into Arrow chunks now (they are also cut every
    /// `batch_size` records).
    pub fn flush(&mut self) -> Result<()> {
        self.flattener.flush()
    }

    /// About how many bytes of memory the records flattened so far take (their Arrow
    /// arrays and the rows not yet cut into them): what [`Session::finish`]'s result
    /// will hold. A caller flattening a long input in parts can end a part when this
    /// passes a budget.
    ///
    /// ```
    /// use transmogrify_core::Processor;
    ///
    /// let mut session = Processor::default().session("t");
    /// let empty = session.memory_bytes();
    /// for i in 0..1000 {
    ///     session.push(format!(r#"{{"n":{i},"text":"{}"}}"#, "x".repeat(100)).as_bytes())?;
    /// }
    /// assert!(session.memory_bytes() >= empty + 1000 * 100);
    /// # Ok::<(), transmogrify_core::Error>(())
    /// ```
    pub fn memory_bytes(&self) -> usize {
        self.flattener.memory_bytes()
    }

    /// Ends the session and returns its tables.
    pub fn finish(self) -> Result<ProcessingResult> {
        if self.flattener.entity().is_empty() {
            return Err(crate::error::ConfigError::EmptyEntityName.into());
        }
        self.flattener.finish()
    }

    /// The source name in force.
    pub fn source(&self) -> &str {
        self.flattener.source()
    }
}

/// `value` as compact JSON text, byte for byte as `serde_json::to_vec` writes it,
/// without recursion: a value nested far past the nesting limit is then an error of
/// its depth, as the same text is, rather than the end of the thread's stack.
fn json_bytes(value: &Value) -> serde_json::Result<Vec<u8>> {
    enum Step<'a> {
        Value(&'a Value),
        Key(&'a str),
        Byte(u8),
    }
    let mut out = Vec::new();
    let mut steps = vec![Step::Value(value)];
    while let Some(step) = steps.pop() {
        match step {
            Step::Value(Value::Array(items)) => {
                out.push(b'[');
                steps.push(Step::Byte(b']'));
                for (i, item) in items.iter().enumerate().rev() {
                    steps.push(Step::Value(item));
                    if i > 0 {
                        steps.push(Step::Byte(b','));
                    }
                }
            }
            Step::Value(Value::Object(map)) => {
                out.push(b'{');
                steps.push(Step::Byte(b'}'));
                for (i, (key, item)) in map.iter().enumerate().rev() {
                    steps.push(Step::Value(item));
                    steps.push(Step::Byte(b':'));
                    steps.push(Step::Key(key));
                    if i > 0 {
                        steps.push(Step::Byte(b','));
                    }
                }
            }
            Step::Value(scalar) => serde_json::to_writer(&mut out, scalar)?,
            Step::Key(key) => serde_json::to_writer(&mut out, key)?,
            Step::Byte(byte) => out.push(byte),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod json_bytes_tests {
    use super::*;

    #[test]
    fn values_are_written_as_serde_json_writes_them() -> std::result::Result<(), serde_json::Error>
    {
        let text = r#"{"b":[1,2.5,-0,1e5,"x\"y\u00e9",null,true,{},[]],"a":{"c":[[{"d":12345678901234567890}]]},"":""}"#;
        for value in [
            serde_json::from_str::<Value>(text)?,
            Value::Null,
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!("\u{1}"),
        ] {
            assert_eq!(json_bytes(&value)?, serde_json::to_vec(&value)?);
        }
        Ok(())
    }
}
