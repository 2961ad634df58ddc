//! The [`TableWriter`] trait, writer factories, the [`WriterRegistry`] and
//! [`WriteOptions`].

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::csv_writer::CsvWriterFactory;
use crate::error::{Error, Result};
use crate::json_writer::{JsonFormat, JsonWriterFactory};
use crate::parquet_writer::ParquetWriterFactory;

/// Default field delimiter of CSV output.
pub const DEFAULT_CSV_OUTPUT_DELIMITER: u8 = b',';
/// Default most rows per Parquet row group.
pub const DEFAULT_ROW_GROUP_SIZE: usize = 65_536;
/// Default most buffered bytes per Parquet row group (a group closes early past it).
pub const DEFAULT_ROW_GROUP_BYTES: usize = 32 * 1024 * 1024;
/// Default input bytes flattened per part of a streamed run before the part is
/// spilled to disk (or, for text-mode CSV, written out).
pub const DEFAULT_PART_BYTES: usize = 16 * 1024 * 1024;
/// File name of the data dictionary.
pub const DATA_DICTIONARY_FILE: &str = "_schema.json";

/// Writes the batches of one output table to a byte sink.
///
/// Every batch handed to a writer has the table's full schema (the one the writer
/// was created with). `finish` writes any footer and flushes.
pub trait TableWriter: Send {
    /// Writes one batch.
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    /// Writes any footer, flushes, and tells what was written.
    fn finish(self: Box<Self>) -> Result<WriteSummary>;
}

/// What a [`TableWriter`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Rows written.
    pub rows: u64,
}

/// Makes [`TableWriter`]s of one format; registered by name in a [`WriterRegistry`].
pub trait WriterFactory: Send + Sync {
    /// The file extension of the format, without a dot (`csv`).
    fn extension(&self) -> &str;
    /// A writer of a table with `schema` into `out`.
    fn create(
        &self,
        out: Box<dyn Write + Send>,
        schema: &SchemaRef,
        options: &WriteOptions,
    ) -> Result<Box<dyn TableWriter>>;

    /// A writer of the table named `table` (as results name it: the entity for the
    /// main table) whose file is `file_name`, with `schema`, into `out`: what the
    /// outputs call. By default [`create`](Self::create); a writer that needs to
    /// know which table it writes (to route tables to a database, say) implements
    /// this as well.
    fn create_table(
        &self,
        table: &str,
        file_name: &str,
        out: Box<dyn Write + Send>,
        schema: &SchemaRef,
        options: &WriteOptions,
    ) -> Result<Box<dyn TableWriter>> {
        let _ = (table, file_name);
        self.create(out, schema, options)
    }
}

/// Writer factories by format name: `csv`, `json`, `jsonl`, `parquet`, plus any
/// registered by the user.
///
/// ```
/// use std::sync::Arc;
/// use transmogrify_io::{WriterRegistry, WriteOptions};
/// let mut registry = WriterRegistry::default();
/// assert_eq!(registry.names(), ["csv", "json", "jsonl", "ndjson", "parquet"]);
/// let jsonl = registry.get("jsonl")?;
/// registry.register("lines", jsonl);
/// assert_eq!(registry.get("lines")?.extension(), "jsonl");
/// assert!(registry.get("xml").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct WriterRegistry {
    factories: BTreeMap<String, Arc<dyn WriterFactory>>,
}

impl fmt::Debug for WriterRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterRegistry")
            .field("formats", &self.names())
            .finish()
    }
}

/// The built-in CSV writer as registered by default: a streamed output that is handed
/// this very factory may write each part's rows straight into the table files (see
/// [`crate::StreamingOutput`]), since it knows their bytes.
static BUILTIN_CSV: std::sync::LazyLock<Arc<dyn WriterFactory>> =
    std::sync::LazyLock::new(|| Arc::new(CsvWriterFactory));

/// Whether `factory` is the built-in CSV writer (under any format name).
pub(crate) fn is_builtin_csv(factory: &Arc<dyn WriterFactory>) -> bool {
    Arc::ptr_eq(factory, &BUILTIN_CSV)
}

impl Default for WriterRegistry {
    fn default() -> Self {
        let mut registry = WriterRegistry::empty();
        registry.register("csv", BUILTIN_CSV.clone());
        registry.register("json", Arc::new(JsonWriterFactory(JsonFormat::Array)));
        let lines: Arc<dyn WriterFactory> = Arc::new(JsonWriterFactory(JsonFormat::Lines));
        registry.register("jsonl", lines.clone());
        registry.register("ndjson", lines);
        registry.register("parquet", Arc::new(ParquetWriterFactory));
        registry
    }
}

impl WriterRegistry {
    /// A registry without any format.
    pub fn empty() -> Self {
        WriterRegistry {
            factories: BTreeMap::new(),
        }
    }

    /// Registers (or replaces) the writer of format `name`.
    pub fn register(&mut self, name: &str, factory: Arc<dyn WriterFactory>) {
        self.factories.insert(name.to_ascii_lowercase(), factory);
    }

    /// The writer factory of format `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Result<Arc<dyn WriterFactory>> {
        self.factories
            .get(&name.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| Error::UnknownFormat {
                name: name.to_string(),
                known: self.names(),
            })
    }

    /// The registered format names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.factories.keys().cloned().collect()
    }
}

/// Compression of Parquet output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum ParquetCompression {
    /// Snappy.
    #[default]
    Snappy,
    /// Zstandard at a level (1–22).
    Zstd(i32),
    /// gzip at a level (0–9).
    Gzip(u32),
    /// No compression.
    None,
}

impl ParquetCompression {
    /// Parses `snappy`, `zstd`, `gzip` or `none` (default levels).
    pub fn parse(name: &str) -> Option<ParquetCompression> {
        Some(match name.to_ascii_lowercase().as_str() {
            "snappy" => ParquetCompression::Snappy,
            "zstd" => ParquetCompression::Zstd(3),
            "gzip" => ParquetCompression::Gzip(6),
            "none" | "uncompressed" => ParquetCompression::None,
            _ => return None,
        })
    }
}

/// Options of writers and of the output directory. Build with
/// [`WriteOptions::builder`].
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub(crate) csv_delimiter: u8,
    pub(crate) parquet_compression: ParquetCompression,
    pub(crate) row_group_size: usize,
    pub(crate) row_group_bytes: usize,
    pub(crate) overwrite: bool,
    pub(crate) data_dictionary: bool,
    pub(crate) write_errors: bool,
    pub(crate) part_bytes: usize,
    pub(crate) spill_dir: Option<PathBuf>,
    pub(crate) kept_files: Vec<PathBuf>,
    pub(crate) registry: Arc<WriterRegistry>,
    /// Processors the table jobs of this output leave unused, which a writer may
    /// borrow to encode columns in parallel (set while a threaded output is written).
    pub(crate) spare: Option<Arc<crate::spare::Spare>>,
    /// The thread output files are written on, if they are written behind (set by
    /// a [`crate::StreamingOutput`] that writes its spill so).
    pub(crate) behind: Option<crate::behind::WriteBehind>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            csv_delimiter: DEFAULT_CSV_OUTPUT_DELIMITER,
            parquet_compression: ParquetCompression::default(),
            row_group_size: DEFAULT_ROW_GROUP_SIZE,
            row_group_bytes: DEFAULT_ROW_GROUP_BYTES,
            overwrite: false,
            data_dictionary: false,
            write_errors: true,
            part_bytes: DEFAULT_PART_BYTES,
            spill_dir: None,
            kept_files: Vec::new(),
            registry: Arc::new(WriterRegistry::default()),
            spare: None,
            behind: None,
        }
    }
}

impl WriteOptions {
    /// A builder starting from the defaults.
    pub fn builder() -> WriteOptionsBuilder {
        WriteOptionsBuilder {
            options: WriteOptions::default(),
        }
    }

    /// The CSV delimiter.
    pub fn csv_delimiter(&self) -> u8 {
        self.csv_delimiter
    }

    /// The Parquet compression.
    pub fn parquet_compression(&self) -> ParquetCompression {
        self.parquet_compression
    }

    /// Most rows per Parquet row group.
    pub fn row_group_size(&self) -> usize {
        self.row_group_size
    }

    /// Most buffered bytes per Parquet row group.
    pub fn row_group_bytes(&self) -> usize {
        self.row_group_bytes
    }

    /// The writer registry in use.
    pub fn registry(&self) -> &WriterRegistry {
        &self.registry
    }
}

/// Builder of [`WriteOptions`].
///
/// ```
/// use transmogrify_io::{ParquetCompression, WriteOptions};
/// let options = WriteOptions::builder()
///     .with_parquet_compression(ParquetCompression::Zstd(3))
///     .with_row_group_size(10_000)
///     .with_overwrite(true)
///     .with_data_dictionary(true)
///     .build()?;
/// assert_eq!(options.row_group_size(), 10_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct WriteOptionsBuilder {
    options: WriteOptions,
}

impl WriteOptionsBuilder {
    /// CSV field delimiter: an ASCII character other than a quote or a line break.
    /// Defaults to [`DEFAULT_CSV_OUTPUT_DELIMITER`] (`,`).
    pub fn with_csv_delimiter(mut self, delimiter: u8) -> Self {
        self.options.csv_delimiter = delimiter;
        self
    }

    /// Parquet compression. Defaults to [`ParquetCompression::Snappy`].
    pub fn with_parquet_compression(mut self, compression: ParquetCompression) -> Self {
        self.options.parquet_compression = compression;
        self
    }

    /// Most rows per Parquet row group. Defaults to [`DEFAULT_ROW_GROUP_SIZE`].
    pub fn with_row_group_size(mut self, rows: usize) -> Self {
        self.options.row_group_size = rows;
        self
    }

    /// Most buffered bytes per Parquet row group: its pages as encoded so far, or
    /// for a table of [`WIDE_TABLE_COLUMNS`](crate::WIDE_TABLE_COLUMNS) columns or
    /// more its cells as held. Defaults to [`DEFAULT_ROW_GROUP_BYTES`].
    pub fn with_row_group_bytes(mut self, bytes: usize) -> Self {
        self.options.row_group_bytes = bytes;
        self
    }

    /// Whether writing into a non-empty directory (replacing files of the same
    /// names) is allowed. Defaults to `false`.
    pub fn with_overwrite(mut self, yes: bool) -> Self {
        self.options.overwrite = yes;
        self
    }

    /// Whether to write the data dictionary [`DATA_DICTIONARY_FILE`]. Defaults to
    /// `false`.
    pub fn with_data_dictionary(mut self, yes: bool) -> Self {
        self.options.data_dictionary = yes;
        self
    }

    /// Whether bad records of skip mode are written to an `<entity>_errors` file.
    /// Defaults to `true`.
    pub fn with_write_errors(mut self, yes: bool) -> Self {
        self.options.write_errors = yes;
        self
    }

    /// Input bytes flattened per part of a streamed run. Defaults to
    /// [`DEFAULT_PART_BYTES`].
    pub fn with_part_bytes(mut self, bytes: usize) -> Self {
        self.options.part_bytes = bytes;
        self
    }

    /// Where a streamed run spills its parts. Defaults to `None`: a hidden
    /// directory inside the output directory, removed at the end. (Text-mode CSV
    /// spills nothing: its rows go straight to hidden files in the output directory.)
    /// A Parquet writer keeps the footer of a wide table (see
    /// [`WIDE_TABLE_COLUMNS`](crate::WIDE_TABLE_COLUMNS)) beyond 8 MiB in an unnamed
    /// file here, or in the system's temporary directory if `None`.
    pub fn with_spill_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.options.spill_dir = dir;
        self
    }

    /// Files the output must never replace, such as the run's own inputs when they
    /// lie in the output directory and overwriting is allowed. A table file that
    /// would take the place of one of them (the same file, however it is named)
    /// fails the output with [`Error::WouldReplaceKeptFile`] before any file gets
    /// its final name. Defaults to none.
    pub fn with_kept_files<P: Into<PathBuf>>(mut self, files: impl IntoIterator<Item = P>) -> Self {
        self.options.kept_files = files.into_iter().map(Into::into).collect();
        self
    }

    /// The writer registry formats are looked up in. Defaults to
    /// [`WriterRegistry::default`].
    pub fn with_registry(mut self, registry: WriterRegistry) -> Self {
        self.options.registry = Arc::new(registry);
        self
    }

    /// Validates the options.
    pub fn build(self) -> Result<WriteOptions> {
        let o = &self.options;
        let invalid = |option, reason: &str| {
            Err(Error::InvalidOption {
                option,
                reason: reason.to_string(),
            })
        };
        if o.row_group_size == 0 {
            return invalid("row_group_size", "must be at least 1");
        }
        if matches!(o.csv_delimiter, b'"' | b'\n' | b'\r') {
            return invalid("csv_delimiter", "cannot be a quote or a line break");
        }
        if !o.csv_delimiter.is_ascii() {
            // A byte of its own past ASCII is no character: the file would not be
            // UTF-8.
            return invalid("csv_delimiter", "must be an ASCII character");
        }
        match o.parquet_compression {
            ParquetCompression::Zstd(l) if !(1..=22).contains(&l) => {
                return invalid("parquet_compression", "zstd level must be 1 to 22");
            }
            ParquetCompression::Gzip(l) if l > 9 => {
                return invalid("parquet_compression", "gzip level must be 0 to 9");
            }
            _ => {}
        }
        Ok(self.options)
    }
}
