//! Processor configuration: every option of the behavioural contract with its default.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::error::ConfigError;
use crate::ids::IdGenerator;

/// Default separator joining nested keys into column and table names.
pub const DEFAULT_SEPARATOR: &str = "_";
/// Default name of the row id column.
pub const DEFAULT_ID_FIELD: &str = "__extract_id";
/// Default name of the parent id column of child rows.
pub const DEFAULT_PARENT_FIELD: &str = "__parent_extract_id";
/// Default name of the extraction time column.
pub const DEFAULT_TIME_FIELD: &str = "__extract_datetime";
/// Default depth below which objects are kept as JSON text.
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// Largest accepted `max_depth`: flattening recurses once per level.
pub const MAX_SUPPORTED_DEPTH: usize = 1024;
/// Default hard nesting limit: a deeper record is an error.
pub const DEFAULT_NESTING_LIMIT: usize = 1024;
/// Largest accepted nesting limit (skipping and capturing are iterative, so this is
/// only a guard against absurd memory use).
pub const MAX_NESTING_LIMIT: usize = 1 << 20;
/// Default number of main records per Arrow record batch.
pub const DEFAULT_BATCH_SIZE: usize = 1000;
/// Default maximum size of one record in bytes.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 256 * 1024 * 1024;
/// Default maximum number of columns in one table.
pub const DEFAULT_MAX_COLUMNS: usize = 100_000;
/// Default component length limit for abbreviated names.
pub const DEFAULT_MAX_COMPONENT_LENGTH: usize = 4;
/// Default number of bytes of a bad record's raw text kept in skip mode.
pub const DEFAULT_MAX_ERROR_RAW_BYTES: usize = 4096;
/// Buffered column bytes after which a batch is cut early, whatever `batch_size` says.
pub const DEFAULT_BATCH_BYTES: usize = 32 * 1024 * 1024;
/// The same when `optimize_for_memory` is on.
pub const LOW_MEMORY_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// How arrays are turned into tables and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum ArrayMode {
    /// Arrays holding objects become child tables; arrays of scalars stay in the
    /// parent row as one JSON-text column.
    #[default]
    Smart,
    /// Every array becomes a child table; scalars become rows with a `value` column.
    Separate,
    /// Every array is kept whole as JSON text in the parent row.
    Inline,
    /// Elements are flattened into the parent as `key_0_…`, `key_1_…`.
    Index,
    /// Arrays are dropped.
    Skip,
}

impl ArrayMode {
    /// Parses `smart`, `separate`, `inline`, `index` or `skip`.
    pub fn parse(name: &str) -> Option<ArrayMode> {
        Some(match name {
            "smart" => ArrayMode::Smart,
            "separate" => ArrayMode::Separate,
            "inline" => ArrayMode::Inline,
            "index" => ArrayMode::Index,
            "skip" => ArrayMode::Skip,
            _ => return None,
        })
    }
}

/// What to do with a bad record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum ErrorMode {
    /// Stop at the first bad record.
    #[default]
    Strict,
    /// Skip bad records, keep every one in the result's error list, carry on.
    Skip,
}

/// How row ids are made.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum IdStrategy {
    /// UUID v4 for every row.
    #[default]
    Random,
    /// UUID v5 of a field's text value, chosen per table by path patterns
    /// (`""` main table, `orders` an array path, `user_*` a path and all below it,
    /// `*` everything). Rows without the field get positional ids.
    Fields(Vec<(String, String)>),
    /// UUID v5 of `<entity>:<record ordinal>` for main rows and of
    /// `<parent id>:<array path>:<index>` for child rows.
    Positional,
    /// UUID v5 of the record's canonical JSON for main rows; child rows positional.
    ///
    /// The canonical JSON sorts keys, writes strings with the fewest escapes, and
    /// keeps each number as its text: `1e5`, `1E5` and `100000` are three contents
    /// (and [`Processor::process_batch`](crate::Processor::process_batch) writes an
    /// exponent as serde_json does, `1e+5`). A record's nulls are part of it: CSV
    /// and Parquet readers keep null cells under this strategy, so that a row gets
    /// the id of the same record as JSON. A CSV cell that reads as a number or
    /// boolean is hashed as one.
    ContentHash,
    /// A caller-supplied generator.
    Custom(Arc<dyn IdGenerator>),
}

impl fmt::Debug for IdStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdStrategy::Random => f.write_str("Random"),
            IdStrategy::Fields(p) => f.debug_tuple("Fields").field(p).finish(),
            IdStrategy::Positional => f.write_str("Positional"),
            IdStrategy::ContentHash => f.write_str("ContentHash"),
            IdStrategy::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl IdStrategy {
    /// True when ids depend only on the input (and so match across runs and executors).
    pub fn is_deterministic(&self) -> bool {
        !matches!(self, IdStrategy::Random)
    }
}

/// Options shortening long names (all off by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamingOptions {
    /// Shorten column name components.
    pub abbreviate_field_names: bool,
    /// Shorten table name components.
    pub abbreviate_table_names: bool,
    /// Longest column name component kept as is.
    pub max_field_component_length: usize,
    /// Longest table name component kept as is.
    pub max_table_component_length: usize,
    /// Never shorten the last component of a name.
    pub preserve_leaf_component: bool,
    /// Abbreviations merged over the built-in dictionary.
    pub custom_abbreviations: BTreeMap<String, String>,
}

impl Default for NamingOptions {
    fn default() -> Self {
        NamingOptions {
            abbreviate_field_names: false,
            abbreviate_table_names: false,
            max_field_component_length: DEFAULT_MAX_COMPONENT_LENGTH,
            max_table_component_length: DEFAULT_MAX_COMPONENT_LENGTH,
            preserve_leaf_component: true,
            custom_abbreviations: BTreeMap::new(),
        }
    }
}

/// The validated configuration of a [`Processor`](crate::Processor).
///
/// Build it with [`ProcessorConfig::builder`]; [`ProcessorConfig::default`] gives
/// every default of the contract.
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    pub(crate) separator: String,
    pub(crate) cast_to_string: bool,
    pub(crate) include_empty: bool,
    pub(crate) skip_null: bool,
    pub(crate) id_field: Option<String>,
    pub(crate) parent_field: Option<String>,
    pub(crate) time_field: Option<String>,
    pub(crate) array_mode: ArrayMode,
    pub(crate) array_index_field: Option<String>,
    pub(crate) max_depth: usize,
    pub(crate) nesting_limit: usize,
    pub(crate) max_record_bytes: u64,
    pub(crate) max_columns: usize,
    pub(crate) id_strategy: IdStrategy,
    pub(crate) extract_time: Option<i64>,
    pub(crate) naming: NamingOptions,
    pub(crate) batch_size: usize,
    pub(crate) optimize_for_memory: bool,
    pub(crate) on_error: ErrorMode,
    pub(crate) max_error_raw_bytes: usize,
    pub(crate) main_columns: Vec<String>,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            separator: DEFAULT_SEPARATOR.to_string(),
            cast_to_string: true,
            include_empty: false,
            skip_null: true,
            id_field: Some(DEFAULT_ID_FIELD.to_string()),
            parent_field: Some(DEFAULT_PARENT_FIELD.to_string()),
            time_field: Some(DEFAULT_TIME_FIELD.to_string()),
            array_mode: ArrayMode::Smart,
            array_index_field: None,
            max_depth: DEFAULT_MAX_DEPTH,
            nesting_limit: DEFAULT_NESTING_LIMIT,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_columns: DEFAULT_MAX_COLUMNS,
            id_strategy: IdStrategy::Random,
            extract_time: None,
            naming: NamingOptions::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            optimize_for_memory: false,
            on_error: ErrorMode::Strict,
            max_error_raw_bytes: DEFAULT_MAX_ERROR_RAW_BYTES,
            main_columns: Vec::new(),
        }
    }
}

impl ProcessorConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> ProcessorConfigBuilder {
        ProcessorConfigBuilder {
            config: ProcessorConfig::default(),
            max_depth_given: false,
        }
    }

    /// A builder starting from this configuration.
    pub fn to_builder(&self) -> ProcessorConfigBuilder {
        ProcessorConfigBuilder {
            config: self.clone(),
            max_depth_given: true,
        }
    }

    /// Separator joining nested keys.
    pub fn separator(&self) -> &str {
        &self.separator
    }
    /// Whether every cell is text (`true`) or columns are typed (`false`).
    pub fn cast_to_string(&self) -> bool {
        self.cast_to_string
    }
    /// Whether empty strings are kept.
    pub fn include_empty(&self) -> bool {
        self.include_empty
    }
    /// Whether `null` values are skipped.
    pub fn skip_null(&self) -> bool {
        self.skip_null
    }
    /// Whether a reader may leave a row's null cells out of its record (CSV and
    /// Parquet readers do, for wide sparse files): nulls are skipped, and no id
    /// hashes the record's content, which its nulls are part of.
    pub fn readers_skip_null(&self) -> bool {
        self.skip_null && !matches!(self.id_strategy, IdStrategy::ContentHash)
    }
    /// Name of the id column, if on.
    pub fn id_field(&self) -> Option<&str> {
        self.id_field.as_deref()
    }
    /// Name of the parent id column, if on.
    pub fn parent_field(&self) -> Option<&str> {
        self.parent_field.as_deref()
    }
    /// Name of the extraction time column, if on.
    pub fn time_field(&self) -> Option<&str> {
        self.time_field.as_deref()
    }
    /// Name of the element position column of child rows, if on.
    pub fn array_index_field(&self) -> Option<&str> {
        self.array_index_field.as_deref()
    }
    /// Top-level keys whose columns come first in the main table, in this order,
    /// each written even if no record gives it a value (see
    /// [`ProcessorConfigBuilder::with_main_columns`]).
    pub fn main_columns(&self) -> &[String] {
        &self.main_columns
    }
    /// The array mode.
    pub fn array_mode(&self) -> ArrayMode {
        self.array_mode
    }
    /// Depth past which objects are kept as JSON text.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }
    /// Hard nesting limit.
    pub fn nesting_limit(&self) -> usize {
        self.nesting_limit
    }
    /// Largest accepted record in bytes.
    pub fn max_record_bytes(&self) -> u64 {
        self.max_record_bytes
    }
    /// Largest number of columns per table.
    pub fn max_columns(&self) -> usize {
        self.max_columns
    }
    /// The id strategy.
    pub fn id_strategy(&self) -> &IdStrategy {
        &self.id_strategy
    }
    /// With [`IdStrategy::Fields`], the pattern (as given) and the field that give
    /// the ids of the table whose array path is `path` (its keys; none for the main
    /// table): the most specific pattern that matches. `None` when no pattern does
    /// (the table's ids are positional) or for another strategy.
    ///
    /// ```
    /// use transmogrify_core::{IdStrategy, ProcessorConfig};
    /// let config = ProcessorConfig::builder()
    ///     .with_id_strategy(IdStrategy::Fields(vec![
    ///         ("".into(), "id".into()),
    ///         ("user_*".into(), "uid".into()),
    ///     ]))
    ///     .build()?;
    /// assert_eq!(config.id_field_rule::<&str>(&[]), Some(("", "id")));
    /// assert_eq!(config.id_field_rule(&["user", "orders"]), Some(("user_*", "uid")));
    /// assert_eq!(config.id_field_rule(&["tags"]), None);
    /// # Ok::<(), transmogrify_core::ConfigError>(())
    /// ```
    pub fn id_field_rule<S: AsRef<str>>(&self, path: &[S]) -> Option<(&str, &str)> {
        let IdStrategy::Fields(patterns) = &self.id_strategy else {
            return None;
        };
        let joined = path
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<&str>>()
            .join(&self.separator);
        let rules = crate::ids::FieldPatterns::new(patterns, &self.separator);
        let (pattern, field) = rules.rule_for(&joined)?;
        // The same strings, borrowed from the configuration rather than the rules
        // (the last pattern given wins among equal ones, as in the rules).
        patterns
            .iter()
            .rev()
            .find(|(p, f)| p == pattern && f == field)
            .map(|(p, f)| (p.as_str(), f.as_str()))
    }
    /// The fixed extraction time in microseconds since the Unix epoch, if set.
    pub fn extract_time(&self) -> Option<i64> {
        self.extract_time
    }
    /// Naming options.
    pub fn naming(&self) -> &NamingOptions {
        &self.naming
    }
    /// Main records per record batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
    /// Whether memory is favoured over speed.
    pub fn optimize_for_memory(&self) -> bool {
        self.optimize_for_memory
    }
    /// The error mode.
    pub fn on_error(&self) -> ErrorMode {
        self.on_error
    }
    /// Bytes of a bad record's raw text kept in skip mode.
    pub fn max_error_raw_bytes(&self) -> usize {
        self.max_error_raw_bytes
    }
    pub(crate) fn batch_bytes(&self) -> usize {
        if self.optimize_for_memory {
            LOW_MEMORY_BATCH_BYTES
        } else {
            DEFAULT_BATCH_BYTES
        }
    }
}

/// Builder of [`ProcessorConfig`]; every setter consumes and returns the builder.
///
/// ```
/// use transmogrify_core::{ArrayMode, IdStrategy, ProcessorConfig};
/// let config = ProcessorConfig::builder()
///     .with_separator(".")
///     .with_array_mode(ArrayMode::Separate)
///     .with_id_strategy(IdStrategy::Positional)
///     .build()?;
/// assert_eq!(config.separator(), ".");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ProcessorConfigBuilder {
    config: ProcessorConfig,
    /// Whether the depth was given (else a nesting limit below the default depth
    /// lowers it to the limit).
    max_depth_given: bool,
}

impl ProcessorConfigBuilder {
    /// Separator joining nested keys. Defaults to [`DEFAULT_SEPARATOR`].
    pub fn with_separator(mut self, separator: impl Into<String>) -> Self {
        self.config.separator = separator.into();
        self
    }
    /// Text cells (`true`) or typed columns (`false`). Defaults to `true`.
    pub fn with_cast_to_string(mut self, yes: bool) -> Self {
        self.config.cast_to_string = yes;
        self
    }
    /// Keep empty strings. Defaults to `false`.
    pub fn with_include_empty(mut self, yes: bool) -> Self {
        self.config.include_empty = yes;
        self
    }
    /// Skip `null` values. Defaults to `true`.
    pub fn with_skip_null(mut self, yes: bool) -> Self {
        self.config.skip_null = yes;
        self
    }
    /// Name of the id column, `None` to switch it off. Defaults to [`DEFAULT_ID_FIELD`].
    pub fn with_id_field(mut self, name: Option<&str>) -> Self {
        self.config.id_field = name.map(str::to_string);
        self
    }
    /// Name of the parent id column, `None` to switch it off.
    /// Defaults to [`DEFAULT_PARENT_FIELD`].
    pub fn with_parent_field(mut self, name: Option<&str>) -> Self {
        self.config.parent_field = name.map(str::to_string);
        self
    }
    /// Name of the extraction time column, `None` to switch it off.
    /// Defaults to [`DEFAULT_TIME_FIELD`].
    pub fn with_time_field(mut self, name: Option<&str>) -> Self {
        self.config.time_field = name.map(str::to_string);
        self
    }
    /// The array mode. Defaults to [`ArrayMode::Smart`].
    pub fn with_array_mode(mut self, mode: ArrayMode) -> Self {
        self.config.array_mode = mode;
        self
    }
    /// Name of a column holding each child row's position in its array.
    /// Defaults to `None` (off).
    pub fn with_array_index_field(mut self, name: Option<&str>) -> Self {
        self.config.array_index_field = name.map(str::to_string);
        self
    }
    /// Declares the main table's first columns: the columns of these top-level keys
    /// come first, in this order (the rest after them in order of first
    /// appearance), and each is written even if no record gives it a value, its
    /// cells null. What a CSV header declares: the command line passes a CSV
    /// input's header, so that its columns keep their order and none is left out
    /// for being empty. None by default.
    ///
    /// ```
    /// use transmogrify_core::{Processor, ProcessorConfig};
    /// let config = ProcessorConfig::builder()
    ///     .with_id_field(None)
    ///     .with_time_field(None)
    ///     .with_main_columns(["a", "b", "c"])
    ///     .build()?;
    /// let result = Processor::new(config).process(br#"[{"c": 3, "a": 1}, {"d": 4}]"#, "t")?;
    /// let schema = result.table_schema("main")?.schema;
    /// let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    /// assert_eq!(names, ["a", "b", "c", "d"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_main_columns<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.main_columns = keys.into_iter().map(Into::into).collect();
        self
    }
    /// Depth past which objects are kept as JSON text. Defaults to [`DEFAULT_MAX_DEPTH`],
    /// or the nesting limit where that is lower. At most the nesting limit.
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.config.max_depth = depth;
        self.max_depth_given = true;
        self
    }
    /// Hard nesting limit; deeper records are errors. Defaults to [`DEFAULT_NESTING_LIMIT`].
    /// A limit below the default depth ([`DEFAULT_MAX_DEPTH`]) lowers the depth to it,
    /// unless a depth is given ([`with_max_depth`](Self::with_max_depth)).
    pub fn with_nesting_limit(mut self, limit: usize) -> Self {
        self.config.nesting_limit = limit;
        self
    }
    /// Largest accepted record. Defaults to [`DEFAULT_MAX_RECORD_BYTES`].
    pub fn with_max_record_bytes(mut self, limit: u64) -> Self {
        self.config.max_record_bytes = limit;
        self
    }
    /// Largest number of columns per table. Defaults to [`DEFAULT_MAX_COLUMNS`].
    /// Columns of values count, the id, parent id, time and array index columns do
    /// not; [declared main columns](Self::with_main_columns) count whether or not
    /// they get a value, and more of them than the limit are refused by
    /// [`build`](Self::build).
    pub fn with_max_columns(mut self, limit: usize) -> Self {
        self.config.max_columns = limit;
        self
    }
    /// The id strategy. Defaults to [`IdStrategy::Random`].
    pub fn with_id_strategy(mut self, strategy: IdStrategy) -> Self {
        self.config.id_strategy = strategy;
        self
    }
    /// Fixed extraction time in microseconds since the Unix epoch (UTC).
    /// Defaults to `None`: the time the [`Processor`](crate::Processor) is created.
    pub fn with_extract_time(mut self, micros: Option<i64>) -> Self {
        self.config.extract_time = micros;
        self
    }
    /// All naming options at once. Defaults to [`NamingOptions::default`].
    pub fn with_naming(mut self, naming: NamingOptions) -> Self {
        self.config.naming = naming;
        self
    }
    /// Shorten column name components. Defaults to `false`.
    pub fn with_abbreviate_field_names(mut self, yes: bool) -> Self {
        self.config.naming.abbreviate_field_names = yes;
        self
    }
    /// Shorten table name components. Defaults to `false`.
    pub fn with_abbreviate_table_names(mut self, yes: bool) -> Self {
        self.config.naming.abbreviate_table_names = yes;
        self
    }
    /// Longest column name component kept. Defaults to [`DEFAULT_MAX_COMPONENT_LENGTH`].
    pub fn with_max_field_component_length(mut self, len: usize) -> Self {
        self.config.naming.max_field_component_length = len;
        self
    }
    /// Longest table name component kept. Defaults to [`DEFAULT_MAX_COMPONENT_LENGTH`].
    pub fn with_max_table_component_length(mut self, len: usize) -> Self {
        self.config.naming.max_table_component_length = len;
        self
    }
    /// Never shorten the last name component. Defaults to `true`.
    pub fn with_preserve_leaf_component(mut self, yes: bool) -> Self {
        self.config.naming.preserve_leaf_component = yes;
        self
    }
    /// Abbreviations merged over the built-in dictionary. Defaults to none.
    pub fn with_custom_abbreviations<K: Into<String>, V: Into<String>>(
        mut self,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.config
            .naming
            .custom_abbreviations
            .extend(entries.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }
    /// Main records per record batch. Defaults to [`DEFAULT_BATCH_SIZE`].
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.config.batch_size = size;
        self
    }
    /// Favour memory over speed (smaller buffers). Defaults to `false`.
    pub fn with_optimize_for_memory(mut self, yes: bool) -> Self {
        self.config.optimize_for_memory = yes;
        self
    }
    /// Stop at the first bad record or skip and record it. Defaults to [`ErrorMode::Strict`].
    pub fn with_on_error(mut self, mode: ErrorMode) -> Self {
        self.config.on_error = mode;
        self
    }
    /// Bytes of a bad record kept in the error list. Defaults to [`DEFAULT_MAX_ERROR_RAW_BYTES`].
    pub fn with_max_error_raw_bytes(mut self, len: usize) -> Self {
        self.config.max_error_raw_bytes = len;
        self
    }

    /// Validates the options and their combinations.
    pub fn build(self) -> Result<ProcessorConfig, ConfigError> {
        let mut c = self.config;
        if !self.max_depth_given {
            c.max_depth = c.max_depth.min(c.nesting_limit.max(1));
        }
        if c.separator.is_empty() {
            return Err(ConfigError::EmptySeparator);
        }
        let fields = [
            ("id_field", &c.id_field),
            ("parent_field", &c.parent_field),
            ("time_field", &c.time_field),
            ("array_index_field", &c.array_index_field),
        ];
        for (i, (option, name)) in fields.iter().enumerate() {
            let Some(name) = name else { continue };
            if name.is_empty() {
                return Err(ConfigError::EmptyFieldName { option });
            }
            for (second, other) in fields.iter().skip(i + 1) {
                if other.as_deref() == Some(name.as_str()) {
                    return Err(ConfigError::DuplicateFieldName {
                        first: option,
                        second,
                        name: name.clone(),
                    });
                }
            }
        }
        range("max_depth", c.max_depth, 1, MAX_SUPPORTED_DEPTH)?;
        range("nesting_limit", c.nesting_limit, 1, MAX_NESTING_LIMIT)?;
        if c.max_depth > c.nesting_limit {
            return Err(ConfigError::OutOfRange {
                option: "max_depth",
                min: 1,
                max: c.nesting_limit as u64,
                value: c.max_depth as u64,
            });
        }
        range("batch_size", c.batch_size, 1, usize::MAX)?;
        range("max_columns", c.max_columns, 1, usize::MAX)?;
        let declared: std::collections::HashSet<&str> =
            c.main_columns.iter().map(String::as_str).collect();
        if declared.len() > c.max_columns {
            return Err(ConfigError::MainColumnsPastLimit {
                columns: declared.len(),
                limit: c.max_columns,
            });
        }
        if c.max_record_bytes == 0 {
            return Err(ConfigError::OutOfRange {
                option: "max_record_bytes",
                min: 1,
                max: u64::MAX,
                value: 0,
            });
        }
        range(
            "max_field_component_length",
            c.naming.max_field_component_length,
            1,
            usize::MAX,
        )?;
        range(
            "max_table_component_length",
            c.naming.max_table_component_length,
            1,
            usize::MAX,
        )?;
        if let IdStrategy::Fields(patterns) = &c.id_strategy {
            if patterns.is_empty() {
                return Err(ConfigError::NoIdFields);
            }
            for (pattern, field) in patterns {
                if field.is_empty() {
                    return Err(ConfigError::BadIdPattern {
                        pattern: pattern.clone(),
                        reason: "the field name is empty",
                    });
                }
                let star_ok = pattern == "*"
                    || !pattern.contains('*')
                    || pattern
                        .strip_suffix('*')
                        .is_some_and(|p| p.ends_with(c.separator.as_str()) && !p.contains('*'));
                if !star_ok {
                    return Err(ConfigError::BadIdPattern {
                        pattern: pattern.clone(),
                        reason: "`*` may only stand alone or end a pattern after the separator",
                    });
                }
            }
        }
        Ok(c)
    }
}

fn range(option: &'static str, value: usize, min: usize, max: usize) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::OutOfRange {
            option,
            min: min as u64,
            max: max as u64,
            value: value as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let c = ProcessorConfig::default();
        assert_eq!(c.separator(), "_");
        assert!(c.cast_to_string());
        assert!(c.skip_null());
        assert!(!c.include_empty());
        assert_eq!(c.id_field(), Some("__extract_id"));
        assert_eq!(c.parent_field(), Some("__parent_extract_id"));
        assert_eq!(c.time_field(), Some("__extract_datetime"));
        assert_eq!(c.array_mode(), ArrayMode::Smart);
        assert_eq!(c.max_depth(), 64);
        assert!(matches!(c.id_strategy(), IdStrategy::Random));
        assert!(c.naming().preserve_leaf_component);
        assert_eq!(c.naming().max_field_component_length, 4);
    }

    #[test]
    fn a_nesting_limit_below_the_default_depth_lowers_the_depth() -> Result<(), ConfigError> {
        let c = ProcessorConfig::builder().with_nesting_limit(3).build()?;
        assert_eq!((c.max_depth(), c.nesting_limit()), (3, 3));
        // A depth given is kept, and past the limit it is refused.
        let c = ProcessorConfig::builder()
            .with_max_depth(2)
            .with_nesting_limit(3)
            .build()?;
        assert_eq!(c.max_depth(), 2);
        let e = ProcessorConfig::builder()
            .with_nesting_limit(3)
            .with_max_depth(64)
            .build();
        assert_eq!(
            e.err().map(|e| e.to_string()).as_deref(),
            Some("max_depth must be between 1 and 3, got 64")
        );
        Ok(())
    }

    #[test]
    fn invalid_combinations_are_typed_errors() {
        let e = ProcessorConfig::builder().with_separator("").build();
        assert_eq!(e.err(), Some(ConfigError::EmptySeparator));
        let e = ProcessorConfig::builder()
            .with_parent_field(Some("__extract_id"))
            .build();
        assert_eq!(
            e.err(),
            Some(ConfigError::DuplicateFieldName {
                first: "id_field",
                second: "parent_field",
                name: "__extract_id".into()
            })
        );
        let e = ProcessorConfig::builder().with_batch_size(0).build();
        assert!(matches!(
            e,
            Err(ConfigError::OutOfRange {
                option: "batch_size",
                ..
            })
        ));
        let e = ProcessorConfig::builder()
            .with_id_strategy(IdStrategy::Fields(vec![]))
            .build();
        assert_eq!(e.err(), Some(ConfigError::NoIdFields));
        let e = ProcessorConfig::builder()
            .with_id_strategy(IdStrategy::Fields(vec![("a*b".into(), "id".into())]))
            .build();
        assert!(matches!(e, Err(ConfigError::BadIdPattern { .. })));
        let e = ProcessorConfig::builder().with_max_depth(2000).build();
        assert!(matches!(
            e,
            Err(ConfigError::OutOfRange {
                option: "max_depth",
                ..
            })
        ));
        let e = ProcessorConfig::builder().with_id_field(Some("")).build();
        assert_eq!(
            e.err(),
            Some(ConfigError::EmptyFieldName { option: "id_field" })
        );
    }
}
