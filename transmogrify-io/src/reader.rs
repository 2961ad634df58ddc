//! The [`Reader`] trait, its batches of raw records, reader options, and driving a
//! reader into a [`Session`].

use std::ops::Range;
use std::path::Path;

use transmogrify_core::{Position, ProcessingResult, Processor, RecordError, Session};

use crate::csv_reader::{CsvOptions, CsvReader};
use crate::error::{Error, Result};
use crate::input::{Input, InputFormat};
use crate::json_reader::JsonReader;
use crate::jsonl_reader::JsonlReader;
use crate::parquet_reader::ParquetReader;

/// Default number of records per [`RawBatch`].
pub const DEFAULT_READER_BATCH_RECORDS: usize = 1024;
/// Default number of record bytes per [`RawBatch`] (a batch closes after the record
/// that crosses it).
pub const DEFAULT_READER_BATCH_BYTES: usize = 1024 * 1024;

/// One item of a [`RawBatch`], in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawItem {
    /// The JSON text of one record at `range` of the batch's data.
    Record {
        /// Where its bytes are in [`RawBatch::data`].
        range: Range<usize>,
        /// Where it starts in its source.
        position: Position,
    },
    /// A record the reader could not decode (it still takes an ordinal).
    Bad {
        /// What is wrong and where.
        error: RecordError,
        /// Its raw bytes (possibly cut) in [`RawBatch::data`].
        range: Range<usize>,
    },
}

/// Bytes of a record over the size limit kept for its error report: more than the
/// errors table keeps of a record by default
/// ([`DEFAULT_MAX_ERROR_RAW_BYTES`](transmogrify_core::DEFAULT_MAX_ERROR_RAW_BYTES)),
/// so that it says the text was cut, as it does for a record held whole.
pub const OVERSIZE_PREFIX: usize = 64 * 1024;

/// A batch of raw records: their bytes back to back in `data`, and one item each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawBatch {
    /// The bytes of every item.
    pub data: Vec<u8>,
    /// The records and bad records, in input order.
    pub items: Vec<RawItem>,
    /// Whether the reader measured each record against the size limit by its own
    /// text in the input (a CSV row's bytes, shorter than the JSON object it
    /// becomes by its column names), so that the records are not measured again by
    /// their JSON text ([`Session::push_measured`]).
    pub measured: bool,
    /// Whether the records' JSON text is the reader's own making (CSV and Parquet
    /// rows), not the input's bytes: an error in a record is then placed at the
    /// record ([`Session::push_made`]), not at a place in text the input does not
    /// have.
    pub made: bool,
}

impl RawBatch {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the batch has no item.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The bytes at `range` (empty if out of bounds).
    pub fn bytes(&self, range: &Range<usize>) -> &[u8] {
        self.data.get(range.clone()).unwrap_or_default()
    }

    /// Appends a record's bytes.
    pub fn push_record(&mut self, bytes: &[u8], position: Position) {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.items.push(RawItem::Record {
            range: start..self.data.len(),
            position,
        });
    }

    /// Appends a bad record.
    pub fn push_bad(&mut self, error: RecordError, raw: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(raw);
        self.items.push(RawItem::Bad {
            error,
            range: start..self.data.len(),
        });
    }

    /// Appends a record over the size limit (`size` bytes, the limit `limit`) as a
    /// bad record, keeping only `prefix` of its text; `whole`: whether it was read
    /// to its end (else `size` is the bytes of it read).
    pub fn push_too_large(
        &mut self,
        source: &std::sync::Arc<str>,
        position: Position,
        (size, whole): (u64, bool),
        limit: u64,
        prefix: &[u8],
    ) {
        let error = RecordError {
            source_name: source.clone(),
            position,
            kind: transmogrify_core::RecordErrorKind::TooLarge { size, limit, whole },
            excerpt: transmogrify_core::excerpt(prefix, 0),
        };
        self.push_bad(error, prefix);
    }

    /// Flattens the record at `range`, which starts at `position`, into `session`
    /// (measured against the size limit unless the reader measured it).
    pub fn push_to_session(
        &self,
        session: &mut Session,
        range: &Range<usize>,
        position: Position,
    ) -> transmogrify_core::Result<()> {
        match (self.made, self.measured) {
            (true, measured) => session.push_made(self.bytes(range), position, measured),
            (false, true) => session.push_measured(self.bytes(range), position),
            (false, false) => session.push_at(self.bytes(range), position),
        }
    }

    /// Hands every item to `session` in order (see [`push_batch`]).
    pub fn push_to(&self, session: &mut Session) -> Result<()> {
        push_batch(session, self)
    }
}

/// A source of records: an iterator of [`RawBatch`]es that also reports progress.
///
/// An `Err` item is fatal (the input cannot be read further); bad records that the
/// reader could step over come as [`RawItem::Bad`] instead.
pub trait Reader: Iterator<Item = Result<RawBatch>> + Send {
    /// The source's name in messages (a path, `<stdin>` for standard input).
    fn source_name(&self) -> &str;
    /// Bytes read from the underlying file so far (compressed bytes for compressed
    /// files), for progress bars.
    fn bytes_read(&self) -> u64;
    /// The size of the underlying file, when known.
    fn total_bytes(&self) -> Option<u64>;
    /// Whether the records' positions give their byte offsets in the (uncompressed)
    /// input, as they do for JSON, JSONL and CSV. Parquet rows have none: a planner then
    /// measures what a batch covered by [`Reader::bytes_read`].
    fn positions_are_bytes(&self) -> bool {
        true
    }
    /// Whether the reader goes on with the rest of its input after the error it
    /// has just handed on: a Parquet file past a row group it could not decode (the
    /// error names the group's rows that are lost). `false` by default: an error
    /// ends the reader.
    fn goes_on_after_error(&self) -> bool {
        false
    }
}

/// Options of the readers. Build with [`ReaderOptions::builder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderOptions {
    pub(crate) format: Option<InputFormat>,
    pub(crate) json_path: Option<Vec<String>>,
    pub(crate) csv: CsvOptions,
    pub(crate) batch_records: usize,
    pub(crate) batch_bytes: usize,
    pub(crate) infer_types: bool,
    pub(crate) max_record_bytes: u64,
    pub(crate) stop_at_long_record: bool,
    pub(crate) skip_null: bool,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            format: None,
            json_path: None,
            csv: CsvOptions::default(),
            batch_records: DEFAULT_READER_BATCH_RECORDS,
            batch_bytes: DEFAULT_READER_BATCH_BYTES,
            infer_types: true,
            max_record_bytes: transmogrify_core::DEFAULT_MAX_RECORD_BYTES,
            stop_at_long_record: false,
            skip_null: false,
        }
    }
}

impl ReaderOptions {
    /// These options as the CSV file named `name` is read with (its delimiter
    /// decided: see [`CsvOptions::delimiter_for`]).
    pub(crate) fn for_csv_file(&self, name: &str) -> ReaderOptions {
        ReaderOptions {
            csv: self.csv.for_file(name),
            ..self.clone()
        }
    }

    /// A builder starting from the defaults.
    pub fn builder() -> ReaderOptionsBuilder {
        ReaderOptionsBuilder {
            options: ReaderOptions::default(),
            path: None,
        }
    }

    /// The format forced by the options, if any.
    pub fn format(&self) -> Option<InputFormat> {
        self.format
    }

    /// The CSV options.
    pub fn csv(&self) -> &CsvOptions {
        &self.csv
    }

    /// Whether the CSV and Parquet readers leave null cells out of their records
    /// (see [`ReaderOptionsBuilder::with_skip_null`]).
    pub fn skip_null(&self) -> bool {
        self.skip_null
    }

    /// Records per batch at most (see [`ReaderOptionsBuilder::with_batch_records`]).
    pub fn batch_records(&self) -> usize {
        self.batch_records
    }

    /// Record bytes per batch (see [`ReaderOptionsBuilder::with_batch_bytes`]).
    pub fn batch_bytes(&self) -> usize {
        self.batch_bytes
    }

    /// Whether CSV cells that read as numbers or booleans are given as such (see
    /// [`ReaderOptionsBuilder::with_infer_types`]).
    pub fn infer_types(&self) -> bool {
        self.infer_types
    }

    /// The largest record read (see [`ReaderOptionsBuilder::with_max_record_bytes`]).
    pub fn max_record_bytes(&self) -> u64 {
        self.max_record_bytes
    }

    /// These options with [`ReaderOptionsBuilder::with_skip_null`] set to `yes`.
    pub fn with_skip_null(mut self, yes: bool) -> Self {
        self.skip_null = yes;
        self
    }

    /// These options with [`ReaderOptionsBuilder::with_batch_records`] set to `n`.
    pub fn with_batch_records(mut self, n: usize) -> Self {
        self.batch_records = n;
        self
    }

    /// These options with [`ReaderOptionsBuilder::with_max_record_bytes`] set to
    /// `bytes`.
    pub fn with_max_record_bytes(mut self, bytes: u64) -> Self {
        self.max_record_bytes = bytes;
        self
    }

    /// Whether reading ends at a record over the size limit (see
    /// [`ReaderOptionsBuilder::with_stop_at_long_record`]).
    pub fn stop_at_long_record(&self) -> bool {
        self.stop_at_long_record
    }

    /// These options with [`ReaderOptionsBuilder::with_stop_at_long_record`] set to
    /// `yes`.
    pub fn with_stop_at_long_record(mut self, yes: bool) -> Self {
        self.stop_at_long_record = yes;
        self
    }
}

/// Builder of [`ReaderOptions`].
///
/// ```
/// use transmogrify_io::{InputFormat, ReaderOptions};
/// let options = ReaderOptions::builder()
///     .with_format(Some(InputFormat::Json))
///     .with_json_path(Some("data.items"))
///     .build()?;
/// assert_eq!(options.format(), Some(InputFormat::Json));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ReaderOptionsBuilder {
    options: ReaderOptions,
    path: Option<String>,
}

impl ReaderOptionsBuilder {
    /// The input format. Defaults to `None`: detected from the file name's extension,
    /// else from the first bytes.
    pub fn with_format(mut self, format: Option<InputFormat>) -> Self {
        self.options.format = format;
        self
    }

    /// For JSON: a dotted path (`data.items`) to a nested array inside one wrapper
    /// object, whose elements are the records (streamed like a top-level array; an
    /// object there is one record). Keys before and after it are skipped without
    /// being held in memory. Defaults to `None` (the top level).
    pub fn with_json_path(mut self, path: Option<&str>) -> Self {
        self.path = path.map(str::to_string);
        self
    }

    /// CSV options. Defaults to [`CsvOptions::default`].
    pub fn with_csv(mut self, csv: CsvOptions) -> Self {
        self.options.csv = csv;
        self
    }

    /// Records per batch. Defaults to [`DEFAULT_READER_BATCH_RECORDS`].
    pub fn with_batch_records(mut self, n: usize) -> Self {
        self.options.batch_records = n;
        self
    }

    /// Record bytes per batch. Defaults to [`DEFAULT_READER_BATCH_BYTES`].
    pub fn with_batch_bytes(mut self, n: usize) -> Self {
        self.options.batch_bytes = n;
        self
    }

    /// Whether CSV cells that look like JSON numbers or booleans are handed on as
    /// such, so typed mode infers column types. Text mode renders them with their
    /// exact text either way. Defaults to `true`.
    pub fn with_infer_types(mut self, yes: bool) -> Self {
        self.options.infer_types = yes;
        self
    }

    /// Largest JSON or JSONL record the reader buffers; a larger one is skipped over
    /// without being held in memory and handed on as a bad record. Defaults to the
    /// engine's [`DEFAULT_MAX_RECORD_BYTES`](transmogrify_core::DEFAULT_MAX_RECORD_BYTES).
    pub fn with_max_record_bytes(mut self, bytes: u64) -> Self {
        self.options.max_record_bytes = bytes;
        self
    }

    /// Whether the reader stops at a JSON, JSONL or CSV record larger than
    /// [`with_max_record_bytes`](Self::with_max_record_bytes) once it has read past
    /// the limit: the record is handed on as a bad record of the bytes read so far
    /// ([`RecordErrorKind::TooLarge`](transmogrify_core::RecordErrorKind::TooLarge)
    /// with `whole` false) and nothing after it is read. For strict mode, where the
    /// first bad record ends the run: reading on to the record's end would only
    /// measure it, and a stream that never ends it (`/dev/zero`, a pipe that keeps
    /// writing) would never be done. Defaults to `false`: the record is read past,
    /// measured, and reading goes on after it.
    pub fn with_stop_at_long_record(mut self, yes: bool) -> Self {
        self.options.stop_at_long_record = yes;
        self
    }

    /// Whether the CSV and Parquet readers leave null cells (a CSV null value, a
    /// Parquet null) out of the records they make, instead of writing them as
    /// `null`. A processor with `skip_null` (its default) drops null values anyway,
    /// so its tables are the same either way, and a wide, sparse input (thousands of
    /// columns, a few with a value in each row) is read many times faster. With the
    /// processor's `skip_null` off, leave this off too: its null cells, and columns
    /// that hold nothing else, come from the nulls. Defaults to `false`.
    pub fn with_skip_null(mut self, yes: bool) -> Self {
        self.options.skip_null = yes;
        self
    }

    /// Validates the options.
    pub fn build(self) -> Result<ReaderOptions> {
        let mut options = self.options;
        if options.batch_records == 0 {
            return Err(Error::InvalidOption {
                option: "batch_records",
                reason: "must be at least 1".into(),
            });
        }
        if let Some(path) = self.path {
            let keys: Vec<String> = path.split('.').map(str::to_string).collect();
            if keys.iter().any(String::is_empty) {
                return Err(Error::InvalidOption {
                    option: "json_path",
                    reason: format!("{path:?} has an empty component"),
                });
            }
            options.json_path = Some(keys);
        }
        options.csv.validate()?;
        Ok(options)
    }
}

/// Opens a file (or `-` for stdin) and returns a reader for its format.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("events.jsonl");
/// # std::fs::write(&path, "{\"a\":1}\n\n{\"a\":2}")?;
/// use transmogrify_io::{RawItem, ReaderOptions, open_reader};
/// let mut reader = open_reader(&path, &ReaderOptions::default())?;
/// let batch = reader.next().transpose()?.unwrap_or_default();
/// assert_eq!(batch.len(), 2);
/// let RawItem::Record { position, .. } = &batch.items[1] else { panic!() };
/// assert_eq!((position.ordinal, position.line, position.byte_offset), (1, 3, 9));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_reader(path: impl AsRef<Path>, options: &ReaderOptions) -> Result<Box<dyn Reader>> {
    reader_for(Input::open(path)?, options)
}

/// A reader for an opened [`Input`].
pub fn reader_for(mut input: Input, options: &ReaderOptions) -> Result<Box<dyn Reader>> {
    let format = match options.format {
        Some(f) => f,
        None => input.detect_format()?,
    };
    if options.json_path.is_some() && format != InputFormat::Json {
        // Not silently left out: the records would not be the ones asked for.
        return Err(Error::InvalidOption {
            option: "json_path",
            reason: format!(
                "it picks an array inside JSON input, and {} is {} input",
                input.name(),
                match format {
                    InputFormat::Json => "JSON",
                    InputFormat::Jsonl => "JSONL",
                    InputFormat::Csv => "CSV",
                    InputFormat::Parquet => "Parquet",
                }
            ),
        });
    }
    Ok(match format {
        InputFormat::Json => Box::new(JsonReader::new(input, options)),
        InputFormat::Jsonl => Box::new(JsonlReader::new(input, options)),
        InputFormat::Csv => Box::new(CsvReader::new(input, options)?),
        InputFormat::Parquet => Box::new(ParquetReader::new(input, options)?),
    })
}

/// The column names of the header of the CSV file at `path` (with `options`' CSV
/// settings: delimiter, quote, rows skipped; gzip and zstd as anywhere), in their
/// order: empty names become `column_<n>`, repeated ones `<name>_2`, …, as the
/// reader names them. `None` for a file read without a header or without rows.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("t.csv");
/// # std::fs::write(&path, "id,,name,id\n1,2,3,4\n")?;
/// use transmogrify_io::{ReaderOptions, csv_header};
/// let names = csv_header(&path, &ReaderOptions::default())?;
/// assert_eq!(names, Some(vec!["id".into(), "column_2".into(), "name".into(), "id_2".into()]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn csv_header(path: impl AsRef<Path>, options: &ReaderOptions) -> Result<Option<Vec<String>>> {
    let mut reader = CsvReader::new(Input::open(path)?, options)?;
    // A header whose quote never closes took every row: an error, not names.
    reader.check_header()?;
    Ok(Some(reader.names().to_vec()).filter(|names| !names.is_empty()))
}

/// The lines of the CSV file at `path` when `options`' CSV
/// [`skip_rows`](CsvOptions::with_skip_rows) skips all of them, so that nothing (no
/// header, no row) is read from it; `None` when something follows the lines skipped
/// (and when none is skipped). Gzip and zstd are read as anywhere.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("t.csv");
/// # std::fs::write(&path, "a report\nid,name\n")?;
/// use transmogrify_io::{CsvOptions, ReaderOptions, csv_skipped_whole};
/// let skip = |n| ReaderOptions::builder().with_csv(CsvOptions::default().with_skip_rows(n)).build();
/// assert_eq!(csv_skipped_whole(&path, &skip(1)?)?, None);
/// assert_eq!(csv_skipped_whole(&path, &skip(2)?)?, Some(2));
/// assert_eq!(csv_skipped_whole(&path, &skip(5)?)?, Some(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn csv_skipped_whole(path: impl AsRef<Path>, options: &ReaderOptions) -> Result<Option<u64>> {
    use std::io::BufRead;
    let skip = options.csv.skip_rows();
    if skip == 0 {
        return Ok(None);
    }
    let mut input = Input::open(path)?;
    let mut offset =
        crate::csv_reader::skip_bom(&mut input.reader).map_err(|e| input.read_error(e, 0))?;
    let mut lines = 0u64;
    for _ in 0..skip {
        let mut read = offset;
        let n = crate::csv_reader::skip_line(&mut input.reader, &mut read)
            .map_err(|e| input.read_error(e, read))?;
        if n == 0 {
            break;
        }
        offset += n;
        lines += 1;
    }
    let more = loop {
        match input.reader.fill_buf() {
            Ok(rest) => break !rest.is_empty(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(input.read_error(e, offset)),
        }
    };
    Ok((!more).then_some(lines))
}

/// Hands every item of `batch` to `session` in order: records with
/// [`Session::push_at`], bad ones with [`Session::reject`]. In strict mode the first
/// bad record is an error.
pub fn push_batch(session: &mut Session, batch: &RawBatch) -> Result<()> {
    for item in &batch.items {
        match item {
            RawItem::Record { range, position } => {
                batch.push_to_session(session, range, *position)?
            }
            RawItem::Bad { error, range } => session.reject(error.clone(), batch.bytes(range))?,
        }
    }
    Ok(())
}

/// Drives every batch of `reader` into `session`.
///
/// An input that cannot be read past a bad record (its structure breaks, its
/// compressed data is cut short inside a record: an error with a
/// [`record_error`](Error::record_error)) ends there: in skip mode with that
/// record's row in the errors table, its raw text what was not read
/// ([`Error::stopped_raw`]), after the records before it; in strict mode with the
/// error. In skip mode a Parquet input goes on past rows it cannot decode
/// ([`Error::lost_rows`]), the errors table getting a row where they start, as
/// the executors do. Other errors (damaged compressed data, a failed read) are
/// errors in any mode.
pub fn drive<R: Reader + ?Sized>(reader: &mut R, session: &mut Session) -> Result<()> {
    session.set_source(reader.source_name());
    while let Some(batch) = reader.next() {
        let error = match batch {
            Ok(batch) => {
                push_batch(session, &batch)?;
                continue;
            }
            Err(error) => error,
        };
        match skipped(error, session, reader.goes_on_after_error())? {
            Skipped::GoesOn { record, after } => {
                // The rows after them keep their numbers.
                session.reject(record, b"")?;
                session.set_next_ordinal(session.next_ordinal().max(after));
            }
            Skipped::Ends { record, raw } => {
                session.reject(record, &raw)?;
                return Ok(());
            }
        }
    }
    Ok(())
}

/// What skip mode makes of an error a reader ended a batch with (see [`drive`]).
pub(crate) enum Skipped {
    /// Rows the reader could not decode and goes on after: the errors table's row
    /// where they start, and the ordinal after the last of them.
    GoesOn { record: RecordError, after: u64 },
    /// The bad record the input stops at, with its text as written.
    Ends { record: RecordError, raw: Vec<u8> },
}

/// `error` as [`Skipped`] where `session` skips bad records and the error has a
/// place (`goes_on`: whether the reader goes on after rows it lost); otherwise the
/// error itself, which ends the reading in any mode.
pub(crate) fn skipped(error: Error, session: &Session, goes_on: bool) -> Result<Skipped> {
    if session.config().on_error() != transmogrify_core::ErrorMode::Skip {
        return Err(error);
    }
    if goes_on
        && let (Some(record), Some((_, last))) = (error.lost_rows_record(), error.lost_rows())
    {
        return Ok(Skipped::GoesOn {
            record,
            after: last + 1,
        });
    }
    match error.record_error() {
        Some(record) => {
            let raw = error
                .stopped_raw()
                .unwrap_or(record.excerpt.as_bytes())
                .to_vec();
            Ok(Skipped::Ends {
                record: record.clone(),
                raw,
            })
        }
        None => Err(error),
    }
}

/// Flattens a whole reader in memory.
///
/// ```
/// use transmogrify_io::{Input, ReaderOptions, process_reader, reader_for};
/// use transmogrify_core::Processor;
/// let input = Input::from_bytes("inline.json", br#"[{"a": 1}, {"a": 2, "b": [{"c": 3}]}]"#.to_vec())?;
/// let mut reader = reader_for(input, &ReaderOptions::default())?;
/// let result = process_reader(&Processor::default(), &mut *reader, "things")?;
/// assert_eq!(result.table_names(), ["things", "things_b"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn process_reader<R: Reader + ?Sized>(
    processor: &Processor,
    reader: &mut R,
    entity_name: &str,
) -> Result<ProcessingResult> {
    let mut session = processor.session(entity_name);
    drive(reader, &mut session)?;
    Ok(session.finish()?)
}

/// Opens `path` and flattens it in memory (for inputs that fit; see
/// [`StreamingOutput`](crate::StreamingOutput) for bounded memory). The reader
/// leaves null cells out where `processor` skips nulls
/// ([`ReaderOptionsBuilder::with_skip_null`]).
pub fn process_file(
    processor: &Processor,
    path: impl AsRef<Path>,
    entity_name: &str,
    options: &ReaderOptions,
) -> Result<ProcessingResult> {
    // Null cells the processor would drop are left out by the reader.
    let skip_null = options.skip_null || processor.config().readers_skip_null();
    let mut reader = open_reader(path, &options.clone().with_skip_null(skip_null))?;
    process_reader(processor, &mut *reader, entity_name)
}

/// Collects records into batches of the configured size.
/// A reader that reads one record (or bad record) at a time into its [`Batcher`].
pub(crate) trait Stepper {
    /// Reads the next record into the batcher; `false` at the end of the input.
    fn step(&mut self) -> Result<bool>;
    /// The batcher and the reader's "finished" flag.
    fn batcher_and_done(&mut self) -> (&mut Batcher, &mut bool);
}

/// The next batch of a [`Stepper`]: records until the batch is full or the input
/// ends. A read error (a truncated or corrupt compressed stream, a failing disk)
/// ends the reader: the records read whole before it come first, as a batch of
/// their own, then the error.
pub(crate) fn next_batch<S: Stepper>(reader: &mut S) -> Option<Result<RawBatch>> {
    if *reader.batcher_and_done().1 {
        return reader.batcher_and_done().0.error.take().map(Err);
    }
    loop {
        match reader.step() {
            Ok(true) => {
                let (batcher, _) = reader.batcher_and_done();
                if batcher.is_full() {
                    return batcher.take().map(Ok);
                }
            }
            Ok(false) => {
                let (batcher, done) = reader.batcher_and_done();
                *done = true;
                return batcher.take().map(Ok);
            }
            Err(e) => {
                let (batcher, done) = reader.batcher_and_done();
                *done = true;
                return match batcher.take() {
                    Some(batch) => {
                        batcher.error = Some(e);
                        Some(Ok(batch))
                    }
                    None => Some(Err(e)),
                };
            }
        }
    }
}

pub(crate) struct Batcher {
    pub(crate) batch: RawBatch,
    max_records: usize,
    max_bytes: usize,
    /// Whether the batches' records are measured by their reader (see
    /// [`RawBatch::measured`]).
    measured: bool,
    /// The error that ended the reader, once the records before it are handed over.
    error: Option<Error>,
}

impl Batcher {
    pub(crate) fn new(options: &ReaderOptions) -> Self {
        Batcher {
            batch: RawBatch::default(),
            max_records: options.batch_records.max(1),
            max_bytes: options.batch_bytes.max(1),
            measured: false,
            error: None,
        }
    }

    /// This batcher, for a reader that measures its records itself (see
    /// [`RawBatch::measured`]) and makes their JSON text ([`RawBatch::made`]).
    pub(crate) fn measured(mut self) -> Self {
        self.measured = true;
        self
    }

    pub(crate) fn is_full(&self) -> bool {
        self.batch.items.len() >= self.max_records || self.batch.data.len() >= self.max_bytes
    }

    pub(crate) fn take(&mut self) -> Option<RawBatch> {
        if self.batch.is_empty() {
            None
        } else {
            let mut batch = std::mem::take(&mut self.batch);
            batch.measured = self.measured;
            batch.made = self.measured;
            Some(batch)
        }
    }
}
