//! Inputs and chunk planning.
//!
//! A plain JSONL file is cut into byte ranges aligned to line starts by looking only at
//! the bytes around each cut, so planning never reads the file; each worker reads its
//! own range. Every other input (a JSON array, concatenated JSON values, JSONL read
//! from a pipe) is read once by a fast scanning reader that hands out batches of whole
//! records. Record ordinals and line numbers of a range are not known until a worker
//! has counted its lines; the [`Ledger`](crate::ledger::Ledger) hands each chunk its
//! base once every earlier chunk is counted.

#![expect(
    clippy::indexing_slicing,
    reason = "buffer slices end at positions already checked against the buffer length"
)]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use transmogrify_core::{
    Extent, JsonLines, JsonRecords, Position, RecordErrorKind, SyntaxError, ValueExtent,
};

use crate::error::{Error, Result};

/// Default chunk size in bytes: 4 MiB.
///
/// A chunk's rows are still in the processor's caches when they are written: on the
/// 150 MB API-event file of the comparison, 4 MiB chunks beat 8 MiB ones by 2–5% on
/// every format and executor (medians of nine alternating runs: CSV on two threads
/// 0.252 s against 0.265 s, Parquet 0.438 against 0.452 s, two worker processes 0.340
/// against 0.354 s and 0.530 against 0.541 s), orders, wide records and JSON arrays
/// alike, at the same or less peak memory; 2 and 3 MiB measured no faster, 1 MiB
/// slower.
pub const DEFAULT_CHUNK_BYTES: u64 = 4 * 1024 * 1024;

/// The format of an input the executors read themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum InputFormat {
    /// One JSON object per line; blank lines skipped.
    #[default]
    Jsonl,
    /// A top-level array of records, one object, or concatenated objects.
    Json,
    /// Read through `transmogrify-io`'s readers (CSV, Parquet, compressed files, JSON
    /// arrays inside a wrapper object) by the planner; chunks are its record batches,
    /// of the job's chunk size where that is counted in records
    /// ([`Chunking::records`]), else of the reader options' batch size. A plain CSV
    /// file read by several workers is cut into byte ranges of whole rows instead.
    Reader,
}

/// One input of a job: a file, or standard input (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    path: PathBuf,
    format: InputFormat,
    reader: Option<Arc<transmogrify_io::ReaderOptions>>,
    /// Read once and named by nothing (standard input, a pipe without an
    /// extension): JSONL, unless its first bytes open a JSON array or are
    /// Parquet's, or say it is compressed.
    told_by_head: bool,
}

impl Input {
    /// An input of the given format.
    pub fn new(path: impl Into<PathBuf>, format: InputFormat) -> Self {
        Input {
            path: path.into(),
            format,
            reader: None,
            told_by_head: false,
        }
    }

    /// JSONL read once (standard input, a pipe), unless its first bytes open a JSON
    /// array or are Parquet's, or say it is compressed (then what it holds is told
    /// by its text).
    fn told_by_head(path: PathBuf) -> Self {
        Input {
            told_by_head: true,
            ..Input::jsonl(path)
        }
    }

    /// Whether the format is told by the input's first bytes as it is read.
    pub(crate) fn is_told_by_head(&self) -> bool {
        self.told_by_head
    }

    /// An input read by `transmogrify-io` with `options` (any format it reads; the
    /// format and compression are detected unless the options name them).
    pub fn with_reader(path: impl Into<PathBuf>, options: transmogrify_io::ReaderOptions) -> Self {
        Input {
            path: path.into(),
            format: InputFormat::Reader,
            reader: Some(Arc::new(options)),
            told_by_head: false,
        }
    }

    pub(crate) fn reader_options(&self) -> Option<&transmogrify_io::ReaderOptions> {
        self.reader.as_deref()
    }

    /// A JSONL input.
    pub fn jsonl(path: impl Into<PathBuf>) -> Self {
        Self::new(path, InputFormat::Jsonl)
    }

    /// A JSON input.
    pub fn json(path: impl Into<PathBuf>) -> Self {
        Self::new(path, InputFormat::Json)
    }

    /// An input whose format is told by its extension (`.json`, `.jsonl`, `.ndjson`,
    /// `.csv`, `.parquet`, each maybe with `.gz` or `.zst`) or, failing that, by its
    /// first bytes, as `transmogrify-io` tells them. Plain JSON and JSONL files are
    /// chunked by the executors; everything else goes through `transmogrify-io`'s
    /// readers. Standard input is JSONL, or a JSON array or Parquet if its first
    /// bytes say so (compressed, told by the text it holds); so is a named pipe or
    /// another input that can be read only once, unless its name says otherwise.
    pub fn detect(path: impl Into<PathBuf>) -> Result<Self> {
        use transmogrify_io::{Compression, InputFormat as Io};
        let path = path.into();
        if is_stdin(&path) {
            return Ok(Input::told_by_head(path));
        }
        let name = path.to_string_lossy().into_owned();
        if is_stream(&path) {
            // Read once, front to back: told by its name alone (JSONL if that says
            // nothing, like standard input), as looking at it would use it up.
            let format = Io::from_extension(&name);
            return match (Compression::from_extension(&name), format) {
                (Compression::None, Some(Io::Json)) => Ok(Input::json(path)),
                (Compression::None, Some(Io::Jsonl)) => Ok(Input::jsonl(path)),
                (Compression::None, None) => Ok(Input::told_by_head(path)),
                (_, format) => {
                    let options = transmogrify_io::ReaderOptions::builder()
                        .with_format(format)
                        .build()?;
                    Ok(Input::with_reader(path, options))
                }
            };
        }
        let compressed =
            Compression::from_extension(&name) != Compression::None || compressed_file(&path)?;
        let format = match Io::from_extension(&name) {
            Some(f) => Some(f),
            None if compressed => None,
            None => {
                let mut head = vec![0u8; 64 * 1024];
                let n = File::open(&path)
                    .and_then(|mut f| f.read(&mut head))
                    .map_err(|e| Error::io(&path, e))?;
                let head = &head[..n];
                let magic = compressed_head(head);
                if head.is_empty() {
                    // An empty file is an empty JSONL file: no records.
                    Some(Io::Jsonl)
                } else if magic {
                    None
                } else {
                    Io::sniff(head)
                }
            }
        };
        match (compressed, format) {
            (false, Some(Io::Json)) => Ok(Input::json(path)),
            (false, Some(Io::Jsonl)) => Ok(Input::jsonl(path)),
            (_, format) => {
                let options = transmogrify_io::ReaderOptions::builder()
                    .with_format(format)
                    .build()?;
                Ok(Input::with_reader(path, options))
            }
        }
    }

    /// The path (`-` for standard input).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format.
    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// The name used in messages (`<stdin>` for standard input).
    pub fn name(&self) -> String {
        if self.is_stdin() {
            "<stdin>".to_string()
        } else {
            self.path.display().to_string()
        }
    }

    pub(crate) fn is_stdin(&self) -> bool {
        is_stdin(&self.path)
    }

    /// Whether the input can only be read once, front to back: standard input, or
    /// anything but a regular file (a named pipe, a shell's `<(command)`, a device),
    /// or a file that says it is empty. A job of such inputs cannot be run again
    /// ([`Job::can_run_again`](crate::Job::can_run_again)).
    pub fn is_stream(&self) -> bool {
        is_stream(&self.path)
    }
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Whether `path` can only be read once, front to back: standard input, or anything
/// but a regular file (a named pipe, a shell's `<(command)`, a device), or a file
/// that says it is empty (Linux's `/proc` files say so and hold text all the same).
/// Such an input is opened once and read as standard input is, never cut into byte
/// ranges.
pub(crate) fn is_stream(path: &Path) -> bool {
    is_stdin(path) || std::fs::metadata(path).is_ok_and(|m| !m.is_file() || m.len() == 0)
}

/// Whether bytes start as gzip or zstd data do.
pub(crate) fn compressed_head(head: &[u8]) -> bool {
    transmogrify_io::Compression::from_magic(head) != transmogrify_io::Compression::None
}

/// Whether a file holds gzip or zstd data, whatever its name says (`dump.json` that is
/// gzipped goes through the decompressing readers).
pub(crate) fn compressed_file(path: &Path) -> Result<bool> {
    let mut head = [0u8; 4];
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(compressed_head(&head[..n]))
}

/// How inputs are cut into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// Target chunk size in bytes. Defaults to [`DEFAULT_CHUNK_BYTES`].
    pub bytes: u64,
    /// Cut after this many records instead (the input is then read by the planner).
    pub records: Option<u64>,
}

impl Default for Chunking {
    fn default() -> Self {
        Chunking {
            bytes: DEFAULT_CHUNK_BYTES,
            records: None,
        }
    }
}

impl Chunking {
    /// Chunks of about `bytes` bytes (at least 1: 0 is taken as 1). With several
    /// workers, the last chunks of a JSONL file are smaller (down to an eighth of
    /// `bytes`), so that the workers finish together.
    pub fn bytes(bytes: u64) -> Self {
        Chunking {
            bytes: bytes.max(1),
            records: None,
        }
    }

    /// Chunks of `records` records (at least 1: 0 is taken as 1).
    pub fn records(records: u64) -> Self {
        Chunking {
            bytes: u64::MAX,
            records: Some(records.max(1)),
        }
    }
}

/// How the records of an in-memory chunk are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// JSONL lines; the first byte starts line `line`.
    Lines { line: u64 },
    /// Comma-separated array elements; the first starts at `first`.
    Elements { first: Position },
    /// Concatenated values; the first starts at `first`.
    Values { first: Position },
}

/// What a chunk holds.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// A byte range of a JSONL file that the worker reads and counts itself.
    Range,
    /// Records already read by the planner.
    Inline {
        data: Arc<[u8]>,
        layout: Layout,
        /// Where each array element or value ends in `data`, as the planner
        /// measured it (empty for lines).
        ends: Arc<[usize]>,
    },
    /// A batch from a `transmogrify-io` reader, positions and all.
    Raw(Arc<transmogrify_io::RawBatch>),
    /// A JSONL line longer than the largest record the processor takes, read past by
    /// the planner rather than held: one bad record.
    TooLarge(Arc<LongLine>),
    /// Whole rows of a plain CSV file, which the worker reads itself.
    CsvRange {
        ranges: Arc<transmogrify_io::CsvRanges>,
        range: transmogrify_io::CsvRange,
    },
}

/// One unit of work.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub(crate) seq: u64,
    pub(crate) input: usize,
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// Bytes of the input file the chunk took, for progress and the report: `end -
    /// start`, but for a reader's batch what the reader read from the file for it
    /// (compressed bytes of a compressed file, where `start..end` are positions in
    /// the decompressed stream; a CSV batch's span ends with its last record's
    /// JSON form, not its row).
    pub(crate) read: u64,
    /// The input is a stream, whose bytes count into the job's progress as they
    /// are read rather than as its chunks finish.
    pub(crate) streamed: bool,
    pub(crate) body: Body,
}

/// Something the planner hands out: a chunk (its counts, when known, are in the
/// ledger), or the error that ended an input.
pub(crate) enum Planned {
    Chunk(Chunk),
    /// Consecutive chunks of small inputs, flattened into one part where the runner
    /// can (one part per input would cost more than flattening them).
    Group(Vec<Chunk>),
    Failed {
        input: usize,
        seq: u64,
        error: Error,
        /// Whether the failure takes `seq` itself, counted in the ledger: rows of an
        /// input that goes on past them (a damaged Parquet row group), so that the
        /// rows after keep their ordinals; or, where no errors-table row stands for
        /// it (strict mode, or an error of no record), an input that ends there, so
        /// that later inputs number their records after it and a strict run meets
        /// it first. Otherwise (skip mode, after its row's chunk) `seq` is the next
        /// chunk's.
        lost: bool,
        /// The bytes of the input the failure covers, as far as known: from the end
        /// of its last chunk to its end when the input ends there.
        start: u64,
        end: u64,
    },
}

impl Planned {
    /// Input bytes the progress counter gets when this succeeds ([`Chunk::read`]);
    /// none for a failure.
    pub(crate) fn read_bytes(&self) -> u64 {
        match self {
            Planned::Chunk(chunk) => chunk.read,
            Planned::Group(chunks) => chunks.iter().map(|c| c.read).sum(),
            Planned::Failed { .. } => 0,
        }
    }
}

/// Byte ranges of a plain JSONL file for `workers` workers, each cut moved forward to
/// the start of a line by reading only the bytes after it.
///
/// Ranges are `chunk_bytes` long until the rest of the file is short. With several
/// workers each of the last ones is then a share of the rest (a `2 × workers`-th of
/// it, at least an eighth of `chunk_bytes`), so that the workers run out of input
/// together instead of one flattening the last full chunk while the others wait.
pub(crate) fn jsonl_ranges(
    path: &Path,
    chunk_bytes: u64,
    workers: usize,
) -> Result<Vec<(u64, u64)>> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let chunk_bytes = chunk_bytes.max(1);
    let step = |from: u64| -> u64 {
        if workers <= 1 {
            return chunk_bytes;
        }
        let share = len.saturating_sub(from) / (workers as u64).saturating_mul(2);
        share.clamp((chunk_bytes / 8).max(1), chunk_bytes)
    };
    let mut cuts = vec![0u64];
    let mut target = step(0);
    let mut buf = vec![0u8; 64 * 1024];
    while target < len {
        let cut = cut_after(&mut file, path, target, len, &mut buf)?;
        if cut >= len {
            break;
        }
        if cut > *cuts.last().unwrap_or(&0) {
            cuts.push(cut);
        }
        target = cut.max(target).saturating_add(step(cut) - 1);
        target = target.max(cut + 1);
    }
    cuts.push(len);
    cuts.dedup();
    Ok(cuts.windows(2).map(|w| (w[0], w[1])).collect())
}

/// Where a range cut near `target` (at least 1) goes: right after the first newline at
/// or after byte `target - 1`, or at `len`.
fn cut_after(file: &mut File, path: &Path, target: u64, len: u64, buf: &mut [u8]) -> Result<u64> {
    file.seek(SeekFrom::Start(target - 1))
        .map_err(|e| Error::io(path, e))?;
    let mut at = target - 1;
    loop {
        let n = file.read(buf).map_err(|e| Error::io(path, e))?;
        let Some(read) = buf.get(..n).filter(|r| !r.is_empty()) else {
            return Ok(len);
        };
        if let Some(i) = memchr::memchr(b'\n', read) {
            return Ok((at + i as u64 + 1).min(len));
        }
        at += n as u64;
    }
}

/// A JSONL line longer than the largest record: what its bad record needs, without
/// its bytes.
#[derive(Debug)]
pub(crate) struct LongLine {
    /// Bytes of its text (without its line end, or a byte order mark before it).
    pub(crate) size: u64,
    /// Its first bytes (at most [`transmogrify_io::OVERSIZE_PREFIX`]).
    pub(crate) prefix: Vec<u8>,
    /// Bytes before its text where it starts (a byte order mark).
    pub(crate) skip: u64,
    /// Whether it holds only blanks (then it is no record, as a blank line is not).
    pub(crate) blank: bool,
    /// Where it starts, for a value of a JSON input (a line's place is its line's
    /// start, known once the lines before it are counted).
    pub(crate) position: Option<Position>,
    /// Whether it was read to its end, so that `size` is its size (else the input
    /// stopped at it: see [`Scanner::with_stop_at_long`]).
    pub(crate) whole: bool,
}

impl LongLine {
    /// The line as a batch of one bad record, from `source`, at `ordinal` and `line`
    /// with the line starting at byte `start`; `limit`: the largest record.
    pub(crate) fn batch(
        &self,
        source: &str,
        ordinal: u64,
        line: u64,
        start: u64,
        limit: u64,
    ) -> transmogrify_io::RawBatch {
        let mut batch = transmogrify_io::RawBatch::default();
        if !self.blank {
            let position = match self.position {
                Some(at) => Position { ordinal, ..at },
                None => Position::line_start(ordinal, line, start + self.skip),
            };
            let size = (self.size, self.whole);
            batch.push_too_large(&Arc::from(source), position, size, limit, &self.prefix);
        }
        batch
    }
}

/// The last line of the range `start..end` of a JSONL file, if it is longer than
/// `limit` bytes: where it starts, and what its bad record needs (read through
/// once, not held). Ranges end at the first line end after a cut made at most
/// `window` bytes past their start, so only their last line can be that long, and
/// it starts within `window` bytes.
pub(crate) fn long_last_line(
    path: &Path,
    start: u64,
    end: u64,
    window: u64,
    limit: u64,
) -> Result<Option<(u64, LongLine)>> {
    let io = |e: std::io::Error| Error::io(path, e);
    let mut file = File::open(path).map_err(io)?;
    let mut read_at = |at: u64, len: u64| -> Result<Vec<u8>> {
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        let mut bytes = Vec::new();
        (&mut file).take(len).read_to_end(&mut bytes).map_err(io)?;
        Ok(bytes)
    };
    // Its line end, if it has one (the last line of a file may not).
    let tail = read_at(end.saturating_sub(2), end.min(2))?;
    let ending = match tail.as_slice() {
        [.., b'\r', b'\n'] => 2,
        [.., b'\n'] => 1,
        _ => 0,
    };
    let text_end = end - ending;
    let head_len = window.min(text_end.saturating_sub(start));
    let head = read_at(start, head_len)?;
    let line_start = match memchr::memrchr(b'\n', &head) {
        Some(i) => start + i as u64 + 1,
        None => start,
    };
    let mut skip = 0;
    if line_start == 0 && read_at(0, 3)?.as_slice() == b"\xEF\xBB\xBF" {
        skip = 3;
    }
    // A CRLF line's `\r` is dropped with its `\n`; a last line's alone too.
    let mut text_end = text_end;
    if ending == 0 && read_at(text_end.saturating_sub(1), 1)?.as_slice() == b"\r" {
        text_end -= 1;
    }
    let size = text_end.saturating_sub(line_start + skip);
    if size <= limit {
        return Ok(None);
    }
    let from = line_start + skip;
    let prefix = read_at(from, (transmogrify_io::OVERSIZE_PREFIX as u64).min(size))?;
    let mut blank = prefix.iter().all(|b| b" \t\r".contains(b));
    if blank {
        // Read on until a byte that is not a blank, or the line's end.
        file.seek(SeekFrom::Start(from + prefix.len() as u64))
            .map_err(io)?;
        let mut rest = (&mut file).take(size - prefix.len() as u64);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = rest.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            if !buf[..n].iter().all(|b| b" \t\r".contains(b)) {
                blank = false;
                break;
            }
        }
    }
    Ok(Some((
        line_start,
        LongLine {
            size,
            prefix,
            skip,
            blank,
            position: None,
            whole: true,
        },
    )))
}

/// The range `start..end` of a JSONL file cut at line starts into pieces of about
/// `unit` bytes (the last may be shorter; a line longer than `unit` is one piece).
pub(crate) fn split_range(path: &Path, start: u64, end: u64, unit: u64) -> Result<Vec<(u64, u64)>> {
    let unit = unit.max(1);
    if end.saturating_sub(start) <= unit {
        return Ok(vec![(start, end)]);
    }
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut pieces = Vec::new();
    let mut from = start;
    while end.saturating_sub(from) > unit {
        let cut = cut_after(&mut file, path, from + unit, end, &mut buf)?;
        if cut >= end {
            break;
        }
        pieces.push((from, cut));
        from = cut;
    }
    pieces.push((from, end));
    Ok(pieces)
}

/// An inline chunk found by the [`Scanner`]: its bytes, layout, record and line
/// counts, and byte range in the source.
pub(crate) struct Scanned {
    pub(crate) data: Arc<[u8]>,
    pub(crate) layout: Layout,
    /// Where each array element or value ends in `data` (empty for lines).
    pub(crate) ends: Arc<[usize]>,
    pub(crate) records: u64,
    pub(crate) lines: u64,
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// A line too long to be a record, read past instead of held (then `data` is
    /// empty).
    pub(crate) long: Option<LongLine>,
}

impl Scanned {
    /// A record too long to hold, as a chunk of its own: bytes `start..end` of the
    /// input, `lines` of them.
    fn long(layout: Layout, start: u64, end: u64, lines: u64, long: LongLine) -> Scanned {
        Scanned {
            data: Arc::from([]),
            layout,
            ends: Arc::from([]),
            records: u64::from(!long.blank),
            lines,
            start,
            end,
            long: Some(long),
        }
    }
}

/// Reads a stream once and cuts it into inline chunks of whole records.
pub(crate) struct Scanner<R> {
    reader: R,
    name: String,
    format: InputFormat,
    chunking: Chunking,
    buf: Vec<u8>,
    /// Source offset of `buf[0]`.
    buf_offset: u64,
    eof: bool,
    state: ScanState,
    /// Position of the next record (or of `buf[0]` for lines).
    next: Position,
    records_seen: u64,
    /// Bytes asked of the reader at a time.
    block: usize,
    /// The last bytes consumed (at most [`HISTORY`]).
    history: Vec<u8>,
    /// The largest record: a longer line is read past, not held.
    max_record: u64,
    /// Whether the input ends at a record longer than `max_record` instead (see
    /// [`Scanner::with_stop_at_long`]).
    stop_at_long: bool,
    /// The error that ended the input, held back while the records before it go out
    /// as a chunk of their own.
    deferred: Option<Error>,
    /// Measures each value ([`ValueExtent`]), its scratch space kept from value to
    /// value.
    extent: ValueExtent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanState {
    Start,
    Lines,
    Elements { first: bool },
    Values,
    Done,
}

const READ_BLOCK: usize = 1 << 20;
/// Bytes of the input kept after they are consumed, for an error's excerpt (which
/// takes 20 before the error, and the rest of a character).
const HISTORY: usize = 32;
/// The longest a token can run past an error it causes when cut short: a surrogate pair
/// escape (`\ud83d\ude00`) is 12 bytes.
const TOKEN_REACH: u64 = 16;

impl<R: Read> Scanner<R> {
    pub(crate) fn new(reader: R, name: String, format: InputFormat, chunking: Chunking) -> Self {
        Scanner {
            reader,
            name,
            format,
            chunking,
            buf: Vec::new(),
            buf_offset: 0,
            eof: false,
            state: ScanState::Start,
            next: Position::line_start(0, 1, 0),
            records_seen: 0,
            block: READ_BLOCK,
            history: Vec::with_capacity(HISTORY),
            max_record: transmogrify_core::DEFAULT_MAX_RECORD_BYTES,
            stop_at_long: false,
            deferred: None,
            extent: ValueExtent::new(),
        }
    }

    /// Reads `block` bytes at a time (at least one): a file known to be small is read
    /// in one block of its size rather than into a buffer of a full block (tests cut
    /// tokens at every place with tiny blocks).
    pub(crate) fn with_block(mut self, block: usize) -> Self {
        self.block = block.clamp(1, READ_BLOCK);
        self
    }

    /// Lines longer than `bytes` are read past rather than held (see
    /// [`Scanned::long`]).
    pub(crate) fn with_max_record(mut self, bytes: u64) -> Self {
        self.max_record = bytes.max(1);
        self
    }

    /// Whether a record longer than the largest ends the input where it passes it,
    /// its bad record made of the bytes read (strict mode, whose run ends there: a
    /// stream that never ends the record is then not read forever). Otherwise it
    /// is read past, measured, and the input goes on after it.
    pub(crate) fn with_stop_at_long(mut self, yes: bool) -> Self {
        self.stop_at_long = yes;
        self
    }

    /// Ends the chunks from here on after at most `records` records (what a sample
    /// still takes), at the latest.
    pub(crate) fn limit_records(&mut self, records: u64) {
        let records = self.chunking.records.map_or(records, |n| n.min(records));
        self.chunking.records = Some(records.max(1));
    }

    /// Bytes taken from the reader so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.buf_offset + self.buf.len() as u64
    }

    /// Reads more input; false at the end.
    fn fill(&mut self, want: usize) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let old = self.buf.len();
        self.buf.resize(old + want.max(self.block), 0);
        let mut filled = old;
        while filled < self.buf.len() {
            match self.reader.read(&mut self.buf[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&self.name, e)),
            }
        }
        self.buf.truncate(filled);
        Ok(filled > old)
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        // The last bytes consumed stay for the excerpt of an error right after them.
        let kept = &self.buf[n.saturating_sub(HISTORY)..n];
        let room = HISTORY - kept.len();
        let old = self.history.len().saturating_sub(room);
        self.history.drain(..old);
        self.history.extend_from_slice(kept);
        self.buf.drain(..n);
        self.buf_offset += n as u64;
    }

    /// The next chunk with its `(records, lines)`, or `None` at the end.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<Scanned>> {
        loop {
            match self.state {
                ScanState::Done => return self.deferred.take().map_or(Ok(None), Err),
                ScanState::Start => {
                    if self.buf.len() < 4 && !self.eof {
                        self.fill(self.block)?;
                        continue;
                    }
                    if self.buf.starts_with(b"\xEF\xBB\xBF") {
                        // Three bytes, and no column: editors do not show it (JSONL
                        // lines count it the same way).
                        self.next.byte_offset += 3;
                        self.consume(3);
                    }
                    if self.format == InputFormat::Jsonl {
                        self.state = ScanState::Lines;
                        continue;
                    }
                    let ws = self
                        .buf
                        .iter()
                        .take_while(|b| b" \t\r\n".contains(b))
                        .count();
                    if ws == self.buf.len() && !self.eof {
                        self.fill(self.block)?;
                        continue;
                    }
                    self.next = self.next.advanced(&self.buf, ws);
                    self.consume(ws);
                    if self.buf.first() == Some(&b'[') {
                        self.next = self.next.advanced(&self.buf, 1);
                        self.consume(1);
                        self.state = ScanState::Elements { first: true };
                    } else {
                        self.state = ScanState::Values;
                    }
                }
                ScanState::Lines => return self.lines(),
                ScanState::Elements { .. } | ScanState::Values => return self.values(),
            }
        }
    }

    fn lines(&mut self) -> Result<Option<Scanned>> {
        let target = self.chunking.bytes.min(usize::MAX as u64) as usize;
        let max_records = self.chunking.records.unwrap_or(u64::MAX);
        // Gather whole lines until the chunk is big enough or the input ends.
        let mut end = 0;
        let mut records = 0;
        let mut lines = 0;
        // Bytes after `end` known to hold no line end (searched once only).
        let mut searched = 0;
        loop {
            match memchr::memchr(b'\n', &self.buf[end + searched..]) {
                Some(i) => {
                    let i = searched + i;
                    searched = 0;
                    let line = &self.buf[end..end + i];
                    lines += 1;
                    if !line.iter().all(|b| b" \t\r".contains(b)) {
                        records += 1;
                    }
                    end += i + 1;
                    if records >= max_records || end >= target {
                        break;
                    }
                }
                None => {
                    searched = self.buf.len() - end;
                    // (A CRLF line's `\r` aside.)
                    if searched as u64 > self.max_record.saturating_add(1) {
                        if end > 0 {
                            // The lines before it go first.
                            break;
                        }
                        return self.long_line().map(Some);
                    }
                    if !self.fill(self.block)? {
                        if end < self.buf.len() {
                            let (r, l) = JsonLines::count(&self.buf[end..]);
                            records += r;
                            lines += l;
                            end = self.buf.len();
                        }
                        self.state = ScanState::Done;
                        break;
                    }
                }
            }
        }
        if end == 0 {
            return Ok(None);
        }
        let data: Arc<[u8]> = Arc::from(&self.buf[..end]);
        let first_line = self.next.line;
        let start = self.buf_offset;
        self.consume(end);
        self.next.line += lines;
        Ok(Some(Scanned {
            data,
            layout: Layout::Lines { line: first_line },
            ends: Arc::from([]),
            records,
            lines,
            start,
            end: start + end as u64,
            long: None,
        }))
    }

    /// Reads past the line at the start of the buffer, longer than the largest
    /// record, keeping only what its bad record needs.
    fn long_line(&mut self) -> Result<Scanned> {
        let start = self.buf_offset;
        let first_line = self.next.line;
        let prefix_len = self.buf.len().min(transmogrify_io::OVERSIZE_PREFIX);
        let prefix = self.buf[..prefix_len].to_vec();
        let layout = Layout::Lines { line: first_line };
        let mut blank = true;
        let mut len: u64 = 0;
        let mut last = 0u8;
        let mut whole = true;
        let ended = loop {
            let (take, found) = match memchr::memchr(b'\n', &self.buf) {
                Some(i) => (i, true),
                None => (self.buf.len(), false),
            };
            let text = &self.buf[..take];
            if blank {
                blank = text.iter().all(|b| b" \t\r".contains(b));
            }
            if let Some(&b) = text.last() {
                last = b;
            }
            len += take as u64;
            if found {
                self.consume(take + 1);
                break true;
            }
            self.consume(take);
            // Read no further (once past blanks) where the run ends at it.
            if self.stop_at_long && !blank {
                whole = false;
                break false;
            }
            if !self.fill(self.block)? {
                break false;
            }
        };
        // A `\r` before the line end (or the input's end) is not the line's text.
        let size = len - u64::from(whole && last == b'\r');
        self.next.line += 1;
        if !ended {
            self.state = ScanState::Done;
        }
        let long = LongLine {
            size,
            prefix,
            skip: 0,
            blank,
            position: None,
            whole,
        };
        Ok(Scanned::long(layout, start, self.buf_offset, 1, long))
    }

    fn values(&mut self) -> Result<Option<Scanned>> {
        let target = self.chunking.bytes.min(usize::MAX as u64) as usize;
        let max_records = self.chunking.records.unwrap_or(u64::MAX);
        let elements = matches!(self.state, ScanState::Elements { .. });
        let mut cursor = 0usize;
        let mut records = 0u64;
        let mut first_pos: Option<Position> = None;
        let mut chunk_start = 0usize;
        // Where each value ends in `buf`.
        let mut ends: Vec<usize> = Vec::new();
        // Positions are advanced incrementally from the last record, never rescanned.
        let mut mark = (0usize, self.next);
        // An error after some records ends the input once those records went out as
        // a chunk: what a chunk holds must not depend on where chunks are cut.
        macro_rules! fail {
            ($error:expr) => {{
                let error = $error;
                self.state = ScanState::Done;
                if first_pos.is_none() {
                    return Err(error);
                }
                self.deferred = Some(error);
                break;
            }};
        }
        macro_rules! fill {
            ($want:expr) => {
                match self.fill($want) {
                    Ok(more) => more,
                    Err(error) => fail!(error),
                }
            };
        }
        loop {
            // Move past the separator before the next element.
            let ws = self.buf[cursor..]
                .iter()
                .take_while(|b| b" \t\r\n".contains(b))
                .count();
            let mut at = cursor + ws;
            if at >= self.buf.len() {
                if fill!(self.block) {
                    continue;
                }
                if elements {
                    let first = matches!(self.state, ScanState::Elements { first: true });
                    let expected = if first {
                        "a JSON value or ']'"
                    } else {
                        "',' or ']'"
                    };
                    fail!(self.syntax(at, expected));
                }
                self.state = ScanState::Done;
                break;
            }
            if elements {
                let first = matches!(self.state, ScanState::Elements { first: true });
                match self.buf[at] {
                    b']' => {
                        let rest_ws = self.buf[at + 1..]
                            .iter()
                            .take_while(|b| b" \t\r\n".contains(b))
                            .count();
                        if at + 1 + rest_ws < self.buf.len() {
                            fail!(self.error_at(at + 1 + rest_ws, SyntaxError::TrailingCharacters));
                        }
                        if !self.eof && fill!(self.block) {
                            continue;
                        }
                        self.state = ScanState::Done;
                        break;
                    }
                    b',' if !first => {
                        at += 1;
                        let ws2 = self.buf[at..]
                            .iter()
                            .take_while(|b| b" \t\r\n".contains(b))
                            .count();
                        at += ws2;
                        if at >= self.buf.len() {
                            if fill!(self.block) {
                                continue;
                            }
                            fail!(self.syntax(at, "a JSON value"));
                        }
                    }
                    _ if first => {}
                    _ => fail!(self.syntax(at, "',' or ']'")),
                }
            }
            // One whole value starting at `at`.
            let start_pos = mark
                .1
                .advanced(&self.buf[mark.0..], at - mark.0)
                .with_ordinal(self.records_seen);
            mark = (at, start_pos);
            // A value (an array element, or one of a stream of values) is measured by
            // its strings and brackets alone: its own parse (in the worker) checks it,
            // so that a bad value is a bad record like a bad line, and the input is
            // not parsed twice. Where the brackets do not tell (they do not match, or
            // the input ends first), the value is parsed here, to name the error that
            // ends the input.
            self.extent.reset();
            let measured = match self.extent.scan(&self.buf[at..], self.eof) {
                Extent::Found(len) => Some(len),
                Extent::More if (self.buf.len() - at) as u64 > self.max_record => {
                    // Longer than the largest record: read past, not held.
                    if first_pos.is_some() {
                        // The values before it go first; it starts the next chunk.
                        mark = (0, self.next);
                        break;
                    }
                    return self.long_value(at, start_pos, elements).map(Some);
                }
                Extent::More => {
                    // Twice as much, but not much past the largest record: a longer
                    // value is then found out (above) before it is held whole.
                    let held = self.buf.len() - at;
                    let room = usize::try_from(self.max_record)
                        .unwrap_or(usize::MAX)
                        .saturating_add(1)
                        .saturating_sub(held);
                    let grow = self.buf.len().max(self.block).min(room.max(self.block));
                    fill!(grow);
                    continue;
                }
                Extent::Check => None,
            };
            let mut items = JsonRecords::values(&self.buf[at..], &self.name, start_pos);
            let item = match measured {
                Some(len) => Some(Ok(len)),
                None => items.next().map(|item| item.map(|(bytes, _)| bytes.len())),
            };
            match item {
                Some(Ok(len)) if at + len == self.buf.len() && !self.eof => {
                    // A value that ends where the read ended may go on (`12|34`).
                    fill!(self.block);
                    continue;
                }
                Some(Ok(len)) => {
                    let end = at + len;
                    if first_pos.is_none() {
                        first_pos = Some(start_pos);
                        chunk_start = at;
                    }
                    if elements {
                        self.state = ScanState::Elements { first: false };
                    }
                    ends.push(end);
                    records += 1;
                    self.records_seen += 1;
                    cursor = end;
                    if records >= max_records || end - chunk_start >= target {
                        break;
                    }
                }
                Some(Err(e)) => {
                    // A read may end inside a token (`tru|e`, `\ud83d|\ude00`): an error
                    // that close to the end of what was read is judged again with more.
                    let near_end = e.position.byte_offset + TOKEN_REACH
                        >= self.buf_offset + self.buf.len() as u64;
                    let incomplete = matches!(e.kind, RecordErrorKind::Syntax(_)) && near_end;
                    if incomplete && !self.eof {
                        let grow = self.buf.len().max(self.block);
                        fill!(grow);
                        continue;
                    }
                    fail!(self.stopped(e, at));
                }
                None => {
                    self.state = ScanState::Done;
                    break;
                }
            }
        }
        let Some(first) = first_pos else {
            return Ok(None);
        };
        let data: Arc<[u8]> = Arc::from(&self.buf[chunk_start..cursor]);
        let start = self.buf_offset + chunk_start as u64;
        let mut end = self.buf_offset + cursor as u64;
        if self.deferred.is_none()
            && let Some(tail) = self.closing_tail(cursor, elements)
        {
            // The input's closing bracket and the blanks after the last value go with
            // it: the chunks take the whole input (for its count of bytes read).
            end += tail as u64;
            self.state = ScanState::Done;
        }
        if self.deferred.is_none() {
            // (After an error nothing more is read, and the mark may be past the cursor.)
            self.next = mark.1.advanced(&self.buf[mark.0..], cursor - mark.0);
        }
        self.consume(cursor);
        let layout = if elements {
            Layout::Elements { first }
        } else {
            Layout::Values { first }
        };
        let ends = ends.iter().map(|end| end - chunk_start).collect();
        Ok(Some(Scanned {
            data,
            layout,
            ends,
            records,
            lines: 0,
            start,
            end,
            long: None,
        }))
    }

    /// Reads past the value at `at` in the buffer (at `position`), longer than the
    /// largest record and measured so far by the value extent up to the buffer's
    /// end, keeping only what its bad record needs. Where its brackets do not match
    /// or the input ends inside it, the input ends there with the error.
    fn long_value(&mut self, at: usize, position: Position, elements: bool) -> Result<Scanned> {
        let start = self.buf_offset + at as u64;
        const PREFIX: usize = transmogrify_io::OVERSIZE_PREFIX;
        let prefix_end = self.buf.len().min(at + PREFIX);
        let mut prefix = self.buf[at..prefix_end].to_vec();
        // The value's first bytes, taken as they come: `bytes` of it in the buffer.
        let take = |prefix: &mut Vec<u8>, bytes: &[u8]| {
            let n = PREFIX.saturating_sub(prefix.len()).min(bytes.len());
            prefix.extend_from_slice(&bytes[..n]);
        };
        let mut size = (self.buf.len() - at) as u64;
        // The position of the buffer's first byte, as it is consumed.
        self.next = position.advanced(&self.buf[at..], self.buf.len() - at);
        self.consume(self.buf.len());
        // Read no further where the run ends at it.
        let whole = !self.stop_at_long;
        if whole {
            loop {
                if !self.fill(self.block)? {
                    let kind = SyntaxError::UnexpectedEnd {
                        expected: "the rest of the value",
                    };
                    let error = self.record_error_at(0, kind);
                    return Err(stopped(error, prefix));
                }
                match self.extent.scan(&self.buf, self.eof) {
                    Extent::Found(len) => {
                        take(&mut prefix, &self.buf[..len]);
                        size += len as u64;
                        self.next = self.next.advanced(&self.buf, len);
                        self.consume(len);
                        break;
                    }
                    Extent::More => {
                        take(&mut prefix, &self.buf);
                        let len = self.buf.len();
                        size += len as u64;
                        self.next = self.next.advanced(&self.buf, len);
                        self.consume(len);
                    }
                    Extent::Check => {
                        let (i, kind) = match self.extent.mismatch() {
                            Some((i, closer)) => {
                                let found = self.buf.get(i).map_or('?', |&b| char::from(b));
                                let expected = if closer == b'}' {
                                    "',' or '}'"
                                } else {
                                    "',' or ']'"
                                };
                                (i, SyntaxError::UnexpectedChar { expected, found })
                            }
                            None => (
                                self.buf.len(),
                                SyntaxError::UnexpectedEnd {
                                    expected: "the rest of the value",
                                },
                            ),
                        };
                        let error = self.record_error_at(i, kind);
                        // The raw text of what was not read: the value's start, read on
                        // to the prefix's full length (or the input's end).
                        take(&mut prefix, &self.buf);
                        let mut read = self.buf.len();
                        while prefix.len() < PREFIX && matches!(self.fill(self.block), Ok(true)) {
                            take(&mut prefix, &self.buf[read..]);
                            read = self.buf.len();
                        }
                        return Err(stopped(error, prefix));
                    }
                }
            }
        }
        self.records_seen += 1;
        let layout = if elements {
            self.state = ScanState::Elements { first: false };
            Layout::Elements { first: position }
        } else {
            Layout::Values { first: position }
        };
        if !whole {
            self.state = ScanState::Done;
        }
        let long = LongLine {
            size,
            prefix,
            skip: 0,
            blank: false,
            position: Some(position),
            whole,
        };
        Ok(Scanned::long(layout, start, self.buf_offset, 0, long))
    }

    /// If only blanks follow `cursor` to the end of the input (and, in an array, its
    /// closing bracket), how many bytes they are; reads on as far as it takes to
    /// tell.
    fn closing_tail(&mut self, cursor: usize, elements: bool) -> Option<usize> {
        let blanks = |s: &[u8]| s.iter().take_while(|b| b" \t\r\n".contains(b)).count();
        let mut closed = !elements;
        let mut n = 0;
        loop {
            let rest = &self.buf[cursor..];
            n += blanks(&rest[n..]);
            if !closed && rest.get(n) == Some(&b']') {
                closed = true;
                n += 1;
                n += blanks(&rest[n..]);
            }
            if cursor + n < self.buf.len() {
                // Something else follows.
                return None;
            }
            match self.fill(self.block) {
                Ok(true) => {}
                Ok(false) => return closed.then_some(n),
                // Met again, and reported, when the next chunk is read.
                Err(_) => return None,
            }
        }
    }

    /// The structural error at `at` that ends the input between records: its raw
    /// text is what follows (see [`stopped`](Self::stopped)).
    fn error_at(&mut self, at: usize, kind: SyntaxError) -> Error {
        let error = self.record_error_at(at, kind);
        self.stopped(error, at)
    }

    fn record_error_at(&mut self, at: usize, kind: SyntaxError) -> transmogrify_core::RecordError {
        let position = self
            .next
            .advanced(&self.buf, at)
            .with_ordinal(self.records_seen);
        self.state = ScanState::Done;
        transmogrify_core::RecordError {
            source_name: Arc::from(self.name.as_str()),
            position,
            kind: RecordErrorKind::Syntax(kind),
            // From the bytes around the error, whether or not those before it
            // were consumed with an earlier chunk: the same at any chunk size.
            excerpt: {
                let upto = at.saturating_add(HISTORY).min(self.buf.len());
                let mut text = self.history.clone();
                text.extend_from_slice(&self.buf[..upto]);
                transmogrify_core::excerpt(&text, self.history.len() + at)
            },
        }
    }

    /// The error that ends the input at `error`, with the raw text of what was not
    /// read as records: from `from` in the buffer (the bad record's start, or where
    /// the error is between records) to the end of the input, its first
    /// [`OVERSIZE_PREFIX`](transmogrify_io::OVERSIZE_PREFIX) bytes, as
    /// `transmogrify-io`'s JSON reader has it.
    fn stopped(&mut self, error: transmogrify_core::RecordError, from: usize) -> Error {
        let want = transmogrify_io::OVERSIZE_PREFIX;
        // A read that fails leaves the text as far as it got.
        while self.buf.len().saturating_sub(from) < want
            && matches!(self.fill(self.block), Ok(true))
        {}
        let end = self.buf.len().min(from.saturating_add(want));
        let raw = self.buf.get(from..end).unwrap_or_default().to_vec();
        stopped(error, raw)
    }

    fn syntax(&mut self, at: usize, expected: &'static str) -> Error {
        let kind = match self.buf.get(at) {
            None => SyntaxError::UnexpectedEnd { expected },
            Some(&b) => SyntaxError::UnexpectedChar {
                expected,
                found: char::from(b),
            },
        };
        self.error_at(at, kind)
    }
}

/// An error that ends an input at a bad record, whose text as written is `raw`.
fn stopped(error: transmogrify_core::RecordError, raw: Vec<u8>) -> Error {
    Error::Input(transmogrify_io::Error::Stopped {
        error: Box::new(error),
        raw,
    })
}

trait WithOrdinal {
    fn with_ordinal(self, ordinal: u64) -> Self;
}

impl WithOrdinal for Position {
    fn with_ordinal(mut self, ordinal: u64) -> Self {
        self.ordinal = ordinal;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `head`, then `x` without end (a pipe that keeps writing), up to 64 MiB so
    /// that a scanner that reads past a record fails the test rather than hanging.
    fn endless(head: &[u8]) -> impl Read + use<> {
        std::io::Read::chain(
            std::io::Cursor::new(head.to_vec()),
            std::io::Read::take(std::io::repeat(b'x'), 64 << 20),
        )
    }

    #[test]
    fn an_array_that_ends_after_its_bracket_expects_a_value_or_its_end() {
        for (text, expected) in [
            ("[", "expected a JSON value or ']'"),
            ("[ \n", "expected a JSON value or ']'"),
            ("[{\"a\":1}", "expected ',' or ']'"),
        ] {
            let (_, error) = scan_in_blocks(text.as_bytes(), InputFormat::Json, 1);
            let error = error.unwrap_or_default();
            assert!(
                error.contains(&format!("unexpected end of input, {expected}")),
                "{text:?}: {error}"
            );
        }
    }

    #[test]
    fn stopping_at_a_long_record_reads_no_further()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        // Told to stop at it (strict mode), a line or a value that passes the
        // largest record ends the input a block past the limit, a bad record of
        // the bytes read; otherwise it is read to its end (here the stream's).
        for (format, head, first, at) in [
            (
                InputFormat::Jsonl,
                &b"{\"a\":1}\n{\"a\":\""[..],
                "{\"a\":1}\n",
                (8, 2, 1),
            ),
            (
                InputFormat::Json,
                &b"[{\"a\":1},\n {\"a\":\""[..],
                "{\"a\":1}",
                (11, 2, 2),
            ),
        ] {
            for stop in [true, false] {
                let mut s = Scanner::new(endless(head), "t".into(), format, Chunking::bytes(40))
                    .with_block(64 * 1024)
                    .with_max_record(100_000)
                    .with_stop_at_long(stop);
                let chunk = s.next_chunk()?.ok_or("no first chunk")?;
                assert_eq!(String::from_utf8_lossy(&chunk.data), first, "{format:?}");
                let chunk = match s.next_chunk() {
                    Ok(chunk) => chunk.ok_or("no second chunk")?,
                    // A value read to the input's end never ends.
                    Err(_) if !stop && format == InputFormat::Json => {
                        assert_eq!(s.bytes_read(), head.len() as u64 + (64 << 20));
                        continue;
                    }
                    Err(e) => {
                        return Err(e.to_string().chars().take(200).collect::<String>().into());
                    }
                };
                let long = chunk.long.ok_or("not a long record")?;
                assert_eq!(long.whole, !stop, "{format:?}");
                let batch = long.batch("t", 1, 2, chunk.start, 100_000);
                let transmogrify_io::RawItem::Bad { error, .. } = &batch.items[0] else {
                    return Err("not a bad record".into());
                };
                let (byte, line, column) = at;
                let p = error.position;
                assert_eq!(
                    (p.byte_offset, p.line, p.column),
                    (byte, line, column),
                    "{format:?}"
                );
                if stop {
                    assert!(long.size > 100_000 && long.size < 300_000, "{}", long.size);
                    assert!(error.to_string().contains(&format!(
                        "the record runs past {} bytes, larger than the limit of 100000 bytes \
                         (read no further)",
                        long.size
                    )));
                    assert!(s.bytes_read() < 400_000, "{}", s.bytes_read());
                    assert!(s.next_chunk()?.is_none());
                } else {
                    assert_eq!(s.bytes_read(), head.len() as u64 + (64 << 20));
                }
            }
        }
        Ok(())
    }

    fn scan(text: &str, format: InputFormat, chunking: Chunking) -> Vec<(String, u64, u64, u64)> {
        let mut s = Scanner::new(text.as_bytes(), "t".into(), format, chunking);
        let mut out = Vec::new();
        while let Ok(Some(c)) = s.next_chunk() {
            out.push((
                String::from_utf8_lossy(&c.data).into_owned(),
                c.records,
                c.lines,
                c.start,
            ));
        }
        out
    }

    /// Every chunk (text, records, layout, span) and the error that ends the scan, if
    /// any, reading `block` bytes at a time.
    fn scan_in_blocks(text: &[u8], format: InputFormat, block: usize) -> (String, Option<String>) {
        let mut s = Scanner::new(text, "t".into(), format, Chunking::bytes(40)).with_block(block);
        let mut out = String::new();
        loop {
            match s.next_chunk() {
                Ok(Some(c)) => out.push_str(&format!(
                    "{:?} {} {:?} {}..{}\n",
                    String::from_utf8_lossy(&c.data),
                    c.records,
                    c.layout,
                    c.start,
                    c.end
                )),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn reads_cut_anywhere_give_the_same_chunks_and_errors() {
        // Tokens of every kind, so that some read ends inside each: literals, numbers
        // with fractions and exponents, escapes, surrogate pairs, multi-byte characters.
        let items = r#"{"t":true,"f":false,"n":null}, {"x":-12.5e+3,"y":0.25}, {"s":"a\"b\\c\u00e9\ud83d\ude00","u":"é日😀"}, 123456, -0.5e-7, true, "plain", null, [1,[2,{"z":[]}]], {"deep":{"k":[true,false,null,1e5]}}"#;
        let inputs: Vec<(Vec<u8>, InputFormat)> = vec![
            (format!("[{items}]").into_bytes(), InputFormat::Json),
            (
                format!(" [\n {items} \n] \n").into_bytes(),
                InputFormat::Json,
            ),
            (items.replace(", ", "\n").into_bytes(), InputFormat::Json),
            // Truncated, and with a bad literal.
            (format!("[{items}").into_bytes(), InputFormat::Json),
            (
                format!("[{items}, {{\"b\":tru}}]").into_bytes(),
                InputFormat::Json,
            ),
        ];
        for (text, format) in inputs {
            let whole = scan_in_blocks(&text, format, 1 << 20);
            for block in 1..48 {
                assert_eq!(
                    scan_in_blocks(&text, format, block),
                    whole,
                    "reading {block} bytes at a time: {}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }

    #[test]
    fn arrays_are_cut_into_element_batches() {
        let got = scan(
            " [ {\"a\":1}, {\"a\":[2]} ,{\"a\":3} ] ",
            InputFormat::Json,
            Chunking::records(2),
        );
        assert_eq!(
            got,
            [
                ("{\"a\":1}, {\"a\":[2]}".to_string(), 2, 0, 3),
                ("{\"a\":3}".to_string(), 1, 0, 23),
            ]
        );
    }

    #[test]
    fn a_bad_element_whose_brackets_match_is_a_record_of_the_chunk() {
        let got = scan(
            r#"[{"a":1}, {"b": tru, "c": "\q"}, {"d":3}]"#,
            InputFormat::Json,
            Chunking::default(),
        );
        assert_eq!(
            got,
            [(
                r#"{"a":1}, {"b": tru, "c": "\q"}, {"d":3}"#.to_string(),
                3,
                0,
                1
            )]
        );
        // So is a bad value of a stream of values, and the chunk knows where each
        // value ends.
        let mut s = Scanner::new(
            &b"{\"a\":1}\n{\"b\": tru}{\"c\":\"}\"}\n 7"[..],
            "f".into(),
            InputFormat::Json,
            Chunking::default(),
        );
        let chunk = s
            .next_chunk()
            .ok()
            .flatten()
            .map(|c| (c.records, c.ends.to_vec()));
        assert_eq!(chunk, Some((4, vec![7, 18, 27, 30])));
        // Brackets that do not match end the input after the elements before them.
        let mut s = Scanner::new(
            &br#"[{"a":1}, {"b": [1}, {"d":3}]"#[..],
            "f".into(),
            InputFormat::Json,
            Chunking::default(),
        );
        let first = s.next_chunk().ok().flatten().map(|c| (c.data, c.records));
        assert_eq!(first, Some((Arc::from(&br#"{"a":1}"#[..]), 1)));
        let err = s.next_chunk().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "f: line 1, column 19 (byte 18, record 1): invalid JSON: expected ',' or ']', found '}' near `{\"b\": [1}, {\"d\":3}]`"
            )
        );
    }

    #[test]
    fn lines_keep_counts() {
        let got = scan("{}\n\n{}\n{}", InputFormat::Jsonl, Chunking::records(2));
        assert_eq!(
            got,
            [
                ("{}\n\n{}\n".to_string(), 2, 3, 0),
                ("{}".to_string(), 1, 1, 7)
            ]
        );
    }

    #[test]
    fn truncated_arrays_are_errors_after_the_records_before_them() {
        for chunking in [Chunking::default(), Chunking::records(1)] {
            let mut s = Scanner::new(
                &b"[{\"a\":1},{\"a\":"[..],
                "f".into(),
                InputFormat::Json,
                chunking,
            );
            // Whatever the chunk size, the element before the error is a chunk...
            let first = s.next_chunk().ok().flatten().map(|c| (c.data, c.records));
            assert_eq!(first, Some((Arc::from(&b"{\"a\":1}"[..]), 1)));
            // ... and the error ends the input.
            let err = s.next_chunk().err().map(|e| e.to_string());
            assert_eq!(
                err.as_deref(),
                Some(
                    "f: line 1, column 15 (byte 14, record 1): invalid JSON: unexpected end of input, expected a JSON value near `{\"a\":`"
                )
            );
            assert!(matches!(s.next_chunk(), Ok(None)));
        }
    }

    #[test]
    fn detection_by_extension_then_content() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("tm-detect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let gzipped = {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(b"[{\"a\":1}]")
                .map_err(|e| Error::io(&dir, e))?;
            gz.finish().map_err(|e| Error::io(&dir, e))?
        };
        let cases: [(&str, &[u8], InputFormat); 7] = [
            // Named as plain JSON but gzipped: the decompressing readers take it.
            ("packed.json", &gzipped, InputFormat::Reader),
            ("a.json", b"{}", InputFormat::Json),
            ("a.ndjson", b"{}", InputFormat::Jsonl),
            ("a.csv", b"x,y\n1,2\n", InputFormat::Reader),
            ("lines", b"{\"a\":1}\n{\"a\":2}\n", InputFormat::Jsonl),
            ("pretty", b"{\n  \"a\": 1\n}\n", InputFormat::Json),
            ("table", b"x,y\n1,2\n", InputFormat::Reader),
        ];
        for (name, bytes, want) in cases {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
            assert_eq!(Input::detect(&path)?.format(), want, "{name}");
        }
        assert_eq!(Input::detect("-")?.format(), InputFormat::Jsonl);
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(())
    }

    /// A JSONL file holding `text`, in a directory removed when dropped.
    fn jsonl_file(text: &str) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("<temp dir>", e))?;
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        Ok((dir, path))
    }

    #[test]
    fn a_range_splits_into_pieces_at_line_starts() -> Result<()> {
        let text = "{\"a\":1}\n{\"a\":22}\n\n{\"a\":333}\n{}";
        let (_dir, path) = jsonl_file(text)?;
        assert_eq!(
            split_range(&path, 0, 30, 1)?,
            [(0, 8), (8, 17), (17, 18), (18, 28), (28, 30)]
        );
        assert_eq!(split_range(&path, 8, 28, 10)?, [(8, 18), (18, 28)]);
        assert_eq!(split_range(&path, 8, 28, 20)?, [(8, 28)]);
        // A line longer than the unit is one piece; no piece passes the range's end.
        assert_eq!(split_range(&path, 18, 30, 3)?, [(18, 28), (28, 30)]);
        // Pieces of every unit tile the range and each but the first starts a line.
        for unit in 1..32 {
            let pieces = split_range(&path, 8, 30, unit)?;
            assert_eq!(pieces.first().map(|p| p.0), Some(8));
            assert_eq!(pieces.last().map(|p| p.1), Some(30));
            for w in pieces.windows(2) {
                assert_eq!(w[0].1, w[1].0);
                assert_eq!(text.as_bytes()[w[1].0 as usize - 1], b'\n');
            }
        }
        Ok(())
    }

    #[test]
    fn jsonl_ranges_align_to_lines() -> Result<()> {
        let (_dir, path) = jsonl_file("{\"a\":1}\n{\"a\":22}\n\n{\"a\":333}\n{}")?;
        assert_eq!(
            jsonl_ranges(&path, 1, 1)?,
            [(0, 8), (8, 17), (17, 18), (18, 28), (28, 30)]
        );
        assert_eq!(jsonl_ranges(&path, 10, 1)?, [(0, 17), (17, 28), (28, 30)]);
        assert_eq!(jsonl_ranges(&path, 1000, 1)?, [(0, 30)]);
        Ok(())
    }

    #[test]
    fn the_last_ranges_shrink_when_several_workers_share_them() -> Result<()> {
        // 1,000 lines of 10 bytes; chunks of 1,000 bytes.
        let (_dir, path) = jsonl_file(&"{\"a\":123}\n".repeat(1000))?;
        let lens = |workers| -> Result<Vec<u64>> {
            let ranges = jsonl_ranges(&path, 1000, workers)?;
            assert_eq!(ranges.first().map(|r| r.0), Some(0));
            assert_eq!(ranges.last().map(|r| r.1), Some(10_000));
            assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0));
            assert!(ranges.iter().all(|r| r.0 % 10 == 0 && r.1 % 10 == 0));
            Ok(ranges.iter().map(|r| r.1 - r.0).collect())
        };
        assert_eq!(lens(1)?, [1000; 10]);
        // Two workers: full chunks while 4,000 bytes or more are left, then a quarter
        // of the rest, down to an eighth of a chunk (each rounded up to a line).
        assert_eq!(
            lens(2)?,
            [
                1000, 1000, 1000, 1000, 1000, 1000, 1000, 750, 570, 420, 320, 240, 180, 130, 130,
                130, 130
            ]
        );
        Ok(())
    }
}
