//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  transmogrify flatten events.jsonl -o out/
      Flatten to Parquet files in out/ (one per table), with a progress bar.
  transmogrify flatten dump.json.gz -o out/ -f csv --entity orders --id-field '=order_id'
      Gzipped JSON array to CSV; main-table ids derived from order_id.
  cat events.jsonl | transmogrify flatten - -o out/ --entity events --on-error skip
      Read stdin, keep going past bad records (they go to events_errors).
  transmogrify schema events.jsonl --sample 1000 --mermaid
      Show the tables a sample would produce, as an ER diagram.
  transmogrify bench events.jsonl --executors threads,processes --workers 1,2
      Compare executors on your own data.

Exit codes: 0 success, 1 data error (bad input in strict mode, failed chunks),
2 usage or configuration error, 3 I/O error, 130 interrupted, 101 a bug (a panic).";

/// Flatten nested JSON, JSONL, CSV and Parquet into linked relational tables.
#[derive(Debug, Parser)]
#[command(name = "transmogrify", version, after_help = EXAMPLES, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Flatten inputs into one file per table in an output directory.
    #[command(after_help = EXAMPLES)]
    Flatten(FlattenArgs),
    /// Show the tables, columns, types, links and row counts the inputs would produce.
    Schema(SchemaArgs),
    /// Measure executors and worker counts on your own data (MB/s, records/s, peak
    /// memory of the run and of its largest worker process).
    Bench(BenchArgs),
    /// Run as a worker process of the process executor (internal).
    #[command(name = "__worker", hide = true)]
    Worker,
}

/// Input format names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormatArg {
    /// Tell by extension, then by the first bytes (standard input and pipes, read
    /// once: by name, else a JSON array or Parquet if they say so, else JSONL).
    Auto,
    /// A JSON array of records, one object, or concatenated objects.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header.
    Csv,
    /// Apache Parquet (nested columns are flattened like JSON).
    Parquet,
}

/// Array modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArrayModeArg {
    /// Arrays of objects become child tables; arrays of scalars stay as JSON text.
    Smart,
    /// Every array becomes a child table.
    Separate,
    /// Every array stays as JSON text.
    Inline,
    /// Elements become columns key_0, key_1, …
    Index,
    /// Arrays are dropped.
    Skip,
}

/// Id strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdStrategyArg {
    /// Random UUID v4.
    Random,
    /// UUID v5 of the record's position: stable across runs and executors.
    Positional,
    /// UUID v5 of the record's content (main rows); child rows positional.
    ContentHash,
    /// UUID v5 of fields named by --id-field (rows without them are positional).
    Fields,
}

/// Error modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnErrorArg {
    /// Stop at the first bad record.
    Strict,
    /// Skip bad records; write them to the `<entity>_errors` table.
    Skip,
}

/// Executors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecutorArg {
    /// One thread.
    Sequential,
    /// A pool of threads.
    Threads,
    /// A pool of worker processes.
    Processes,
}

/// Parquet compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    /// Snappy.
    Snappy,
    /// Zstandard.
    Zstd,
    /// Gzip.
    Gzip,
    /// No compression.
    None,
}

/// Where the data comes from.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Input files (`-` for standard input); `.gz` and `.zst` are decompressed. A
    /// directory stands for the `.json`, `.jsonl`, `.ndjson`, `.csv`, `.tsv` and
    /// `.parquet` files under it (compressed too), in order of path; hidden ones are
    /// left out.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Name of the data set: the main table's name and the prefix of the others
    /// [default: the first input's name without its format's and compression's
    /// extensions; a directory's whole name]
    #[arg(long, short = 'e')]
    pub entity: Option<String>,
    /// Input format.
    #[arg(long, value_enum, default_value_t = InputFormatArg::Auto)]
    pub input_format: InputFormatArg,
    /// In JSON input, the dotted path of the array of records inside a wrapper object
    /// (for example `data.items`).
    #[arg(long, value_name = "PATH")]
    pub json_path: Option<String>,
    /// CSV input: field delimiter (`\t` or `tab` for a tab) [default: `,`, a tab for
    /// `.tsv` files]
    #[arg(long, value_name = "CHAR", value_parser = one_char)]
    pub csv_delimiter: Option<char>,
    /// CSV input: quote character.
    #[arg(long, default_value = "\"", value_name = "CHAR", value_parser = one_char)]
    pub csv_quote: char,
    /// CSV input: a cell text that means null (repeatable; the texts given replace
    /// the default, so add `--csv-null ''` to keep empty cells null) [default: empty
    /// cell].
    #[arg(long, value_name = "TEXT")]
    pub csv_null: Vec<String>,
    /// CSV input: the first row is data, not a header (columns are named column_1, …).
    #[arg(long)]
    pub csv_no_header: bool,
    /// CSV input: lines to skip before the header.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub csv_skip_rows: usize,
}

/// How records become tables.
#[derive(Debug, Clone, Args)]
pub struct ProcessingArgs {
    /// Typed columns (Int64, Float64, Boolean, …) instead of text.
    #[arg(long)]
    pub typed: bool,
    /// Separator joining nested keys into names.
    #[arg(long, default_value = "_")]
    pub separator: String,
    /// How arrays are handled.
    #[arg(long, value_enum, default_value_t = ArrayModeArg::Smart)]
    pub array_mode: ArrayModeArg,
    /// Add each child row's position in its array as this column.
    #[arg(long, value_name = "NAME")]
    pub array_index_column: Option<String>,
    /// How row ids are made [default: random, or fields with --id-field].
    #[arg(long, value_enum)]
    pub id_strategy: Option<IdStrategyArg>,
    /// Derive ids of the tables matching PATTERN from FIELD (repeatable): `=id` for the
    /// main table, `orders=order_id`, `user_*=uid`, `*=id`.
    #[arg(long, value_name = "PATTERN=FIELD")]
    pub id_field: Vec<String>,
    /// Name of the row id column.
    #[arg(long, default_value = transmogrify_core::DEFAULT_ID_FIELD, value_name = "NAME")]
    pub id_column: String,
    /// Name of the parent id column of child tables.
    #[arg(long, default_value = transmogrify_core::DEFAULT_PARENT_FIELD, value_name = "NAME")]
    pub parent_column: String,
    /// Name of the extraction time column.
    #[arg(long, default_value = transmogrify_core::DEFAULT_TIME_FIELD, value_name = "NAME")]
    pub time_column: String,
    /// Leave out the row id column.
    #[arg(long, conflicts_with = "id_column")]
    pub no_id_column: bool,
    /// Leave out the parent id column.
    #[arg(long, conflicts_with = "parent_column")]
    pub no_parent_column: bool,
    /// Leave out the extraction time column.
    #[arg(long, conflicts_with = "time_column")]
    pub no_time_column: bool,
    /// Keep null values as null cells (default: skip them).
    #[arg(long)]
    pub keep_nulls: bool,
    /// Keep empty strings (default: skip them).
    #[arg(long)]
    pub keep_empty: bool,
    /// Objects nested deeper than this are kept as JSON text (from 1; a larger
    /// value than the nesting limit or 1,024 counts as the smaller of the two).
    #[arg(long, default_value_t = transmogrify_core::DEFAULT_MAX_DEPTH, value_name = "N")]
    pub max_depth: usize,
    /// Records nested deeper than this are errors.
    #[arg(long, default_value_t = transmogrify_core::DEFAULT_NESTING_LIMIT, value_name = "N")]
    pub nesting_limit: usize,
    /// Records longer than this (`256MiB`, `64k`, bytes) are bad records, read past
    /// without being held in memory.
    #[arg(long, default_value = "256MiB", value_name = "SIZE")]
    pub max_record_size: String,
    /// A record that would give a table more columns than this is a bad record
    /// (every column a batch touches costs memory for each of its rows).
    #[arg(long, default_value_t = transmogrify_core::DEFAULT_MAX_COLUMNS, value_name = "N")]
    pub max_columns: usize,
    /// Shorten long column name components (customer → cust, …).
    #[arg(long)]
    pub abbreviate_columns: bool,
    /// Shorten long table name components.
    #[arg(long)]
    pub abbreviate_tables: bool,
    /// Fixed extraction time, `YYYY-MM-DD HH:MM:SS[.ffffff]` UTC [default: now].
    #[arg(long, value_name = "TIME")]
    pub extract_time: Option<String>,
    /// What a bad record does.
    #[arg(long, value_enum, default_value_t = OnErrorArg::Strict)]
    pub on_error: OnErrorArg,
}

/// How the work is spread.
#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// Executor.
    #[arg(long, value_enum, default_value_t = ExecutorArg::Threads)]
    pub executor: ExecutorArg,
    /// Workers [default: the number of cores].
    #[arg(long, short = 'j', value_name = "N")]
    pub workers: Option<usize>,
    /// Chunk size: bytes (`4MiB`, `512k`, `100000`) or records (`5000r`). A byte
    /// chunk is read and reported as pieces of a thirty-second of it (at least 256 KiB).
    #[arg(long, default_value = "4MiB", value_name = "SIZE")]
    pub chunk_size: String,
}

/// `transmogrify flatten`.
#[derive(Debug, Clone, Args)]
pub struct FlattenArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Flattening options.
    #[command(flatten)]
    pub processing: ProcessingArgs,
    /// Execution options.
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Output directory (created if missing).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: PathBuf,
    /// Output format: parquet, csv, json, jsonl (or ndjson), or a registered writer.
    #[arg(
        long,
        short = 'f',
        default_value = "parquet",
        value_name = "FORMAT",
        value_parser = format_name
    )]
    pub format: String,
    /// Parquet compression (default: snappy).
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,
    /// Parquet rows per row group (default: 65,536; a row group also ends at about
    /// 32 MiB).
    #[arg(long, value_name = "N")]
    pub row_group_size: Option<usize>,
    /// CSV output: field delimiter (default `,`; `\t` or `tab` for a tab).
    #[arg(long, value_name = "CHAR", value_parser = one_char)]
    pub output_delimiter: Option<char>,
    /// Write into a non-empty output directory, replacing files of the same names.
    #[arg(long)]
    pub force: bool,
    /// Where flattened parts wait until the final files are written (an existing
    /// directory; default: the output directory). The run makes a hidden directory
    /// there and removes it at the end. Parquet, JSON and JSONL output need free space
    /// there of about 1.1 times the input for API events (2.8 times for records
    /// drawing from thousands of keys); CSV is written as the run goes.
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
    /// Also write `_schema.json`: tables, columns, types, links, row counts.
    #[arg(long)]
    pub dictionary: bool,
    /// Write a machine-readable run report (JSON) to this file (`-`: standard
    /// output): records, bytes, tables, files, failed chunks, warnings, seconds (in
    /// all, flattening, and writing the tables after the last record), MB/s, and the
    /// peak memory of this process and of its largest worker process; for a failed
    /// run, its error and exit code.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress bar and no summary (warnings and errors are still shown).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `transmogrify schema`.
#[derive(Debug, Clone, Args)]
pub struct SchemaArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Flattening options.
    #[command(flatten)]
    pub processing: ProcessingArgs,
    /// Read only this many records (at least 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub sample: Option<u64>,
    /// Print JSON instead of a tree.
    #[arg(long, conflicts_with = "mermaid")]
    pub json: bool,
    /// Print a Mermaid ER diagram.
    #[arg(long)]
    pub mermaid: bool,
}

/// `transmogrify bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Executors to compare (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [ExecutorArg::Sequential, ExecutorArg::Threads, ExecutorArg::Processes])]
    pub executors: Vec<ExecutorArg>,
    /// Worker counts to compare (comma-separated) [default: 1 and the number of cores].
    #[arg(long, value_delimiter = ',', value_name = "N,…")]
    pub workers: Vec<usize>,
    /// Output format written during the runs.
    #[arg(
        long,
        short = 'f',
        default_value = "parquet",
        value_name = "FORMAT",
        value_parser = format_name
    )]
    pub format: String,
    /// Typed columns.
    #[arg(long)]
    pub typed: bool,
    /// Chunk size, as for flatten.
    #[arg(long, default_value = "4MiB", value_name = "SIZE")]
    pub chunk_size: String,
    /// Runs of each configuration, one after another; the fastest is shown, with its
    /// memory (one run is at the mercy of whatever else the machine does).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: usize,
    /// What a bad record does in the runs.
    #[arg(long, value_enum, default_value_t = OnErrorArg::Strict)]
    pub on_error: OnErrorArg,
}

/// One character, or a tab written as `\t` or `tab` (a tab is awkward to type in a
/// shell).
fn one_char(text: &str) -> Result<char, String> {
    match text {
        "\\t" | "tab" | "TAB" => return Ok('\t'),
        _ => {}
    }
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(format!(
            "{text:?} is not one character (write a tab as \\t or tab)"
        )),
    }
}

/// An output format's name as the writers are registered under: `-f CSV` is `csv`.
fn format_name(name: &str) -> Result<String, String> {
    Ok(name.to_ascii_lowercase())
}
