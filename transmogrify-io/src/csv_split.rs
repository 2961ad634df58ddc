//! Cutting a plain CSV file into ranges of whole rows, each read on its own, so that
//! several workers parse one file at once.
//!
//! Rows may hold line breaks inside quotes, so a range can only end where the quotes
//! so far are closed. [`CsvSplitter`] follows the quoting from the start of the file
//! (a pass over the bytes with `memchr`, far cheaper than parsing them) and ends each
//! range after the first line break outside quotes at or past the size asked for. It
//! counts the rows of each range as the parser does (a row starts at the first byte
//! after a line ending that is not itself a line ending), so that every range's first
//! record ordinal is known before any range is read. [`CsvRanges::reader`] then reads
//! a range with the CSV reader, which numbers its rows' lines and byte offsets from
//! the range's start: the same positions, records and errors as reading the whole
//! file in one pass.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::csv_reader::CsvReader;
use crate::error::{Error, Result};
use crate::input::{BUFFER_SIZE, Compression, Input};
use crate::reader::{Reader, ReaderOptions};

/// One range of a CSV file cut by a [`CsvSplitter`]: whole rows, the first starting
/// at the start of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvRange {
    /// First byte of the range.
    pub start: u64,
    /// End of the range (exclusive).
    pub end: u64,
    /// Line number of the range's first byte (1-based).
    pub line: u64,
    /// Rows in the range (records; a header row is not one).
    pub records: u64,
}

/// Quoting state of the scan, as the CSV parser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// After a line ending (or at the start): line endings here end no row.
    RowStart,
    /// After a delimiter.
    FieldStart,
    /// Inside an unquoted field (or after a quoted field's closing quote).
    Unquoted,
    /// Inside quotes.
    Quoted,
    /// A quote inside quotes: doubled, or the closing one.
    QuoteInQuoted,
}

/// Cuts a plain CSV file into [`CsvRange`]s of whole rows, one after another.
///
/// ```
/// use transmogrify_io::{CsvSplitter, InputFormat, ReaderOptions};
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("rows.csv");
/// std::fs::write(&path, "id,note\n1,\"two\nlines\"\n2,x\n3,y\n")?;
/// let options = ReaderOptions::builder().with_format(Some(InputFormat::Csv)).build()?;
/// let mut splitter = CsvSplitter::open(&path, &options)?.expect("a plain file");
/// // Ranges of at least 10 bytes, cut at line breaks outside quotes.
/// let first = splitter.next_range(10)?.expect("a first range");
/// assert_eq!((first.start, first.end, first.line, first.records), (0, 22, 1, 1));
/// let second = splitter.next_range(10)?.expect("a second range");
/// assert_eq!((second.start, second.end, second.line, second.records), (22, 30, 4, 2));
/// assert_eq!(splitter.next_range(10)?, None);
/// assert!(!splitter.ends_in_quotes());
/// // Each range reads on its own, with the positions of the whole file.
/// let ranges = splitter.ranges()?;
/// let batch = ranges.reader(&second)?.next().expect("a batch")?;
/// assert_eq!(batch.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CsvSplitter {
    path: PathBuf,
    options: ReaderOptions,
    file: BufReader<File>,
    len: u64,
    /// Bytes scanned so far (the file's offset of the next byte to look at).
    offset: u64,
    scan: Scan,
    /// Where the range being scanned starts, and its line.
    start: u64,
    start_line: u64,
    /// The rows' keys, read from the header once the first range is cut.
    ranges: Option<Arc<CsvRanges>>,
}

impl std::fmt::Debug for CsvSplitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSplitter")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl CsvSplitter {
    /// A splitter for `path`, or `None` when it is not a plain (uncompressed,
    /// regular) file: such inputs are read in one pass.
    pub fn open(path: impl AsRef<Path>, options: &ReaderOptions) -> Result<Option<CsvSplitter>> {
        let path = path.as_ref();
        let name = path.display().to_string();
        if Compression::from_extension(&name) != Compression::None {
            return Ok(None);
        }
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            return Ok(None);
        }
        let mut head = [0u8; 4];
        let n = read_head(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
        if Compression::from_magic(head.get(..n).unwrap_or_default()) != Compression::None {
            return Ok(None);
        }
        file.rewind().map_err(|e| Error::io(path, e))?;
        let mut file = BufReader::with_capacity(BUFFER_SIZE, file);
        // Lines skipped before the header are raw lines, quotes or not (as the reader
        // skips them).
        // A byte order mark is not the header's (as the reader reads it).
        let mut offset = crate::csv_reader::skip_bom(&mut file).map_err(|e| Error::io(path, e))?;
        let mut line = 1u64;
        for _ in 0..options.csv.skip_rows() {
            let n = crate::csv_reader::skip_line(&mut file, &mut offset)
                .map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            line += 1;
        }
        Ok(Some(CsvSplitter {
            path: path.to_path_buf(),
            options: options.for_csv_file(&name),
            file,
            len: meta.len(),
            offset,
            scan: Scan {
                line,
                state: State::RowStart,
                rows: 0,
                header: options.csv.has_header(),
                after_cr: false,
                quoted_cr: false,
                cr_row: false,
            },
            start: 0,
            start_line: 1,
            ranges: None,
        }))
    }

    /// The next range: from the end of the last one to the first line break outside
    /// quotes at least `target` bytes on (or the end of the file). `None` at the end.
    pub fn next_range(&mut self, target: u64) -> Result<Option<CsvRange>> {
        if self.start >= self.len {
            return Ok(None);
        }
        let want = self.start.saturating_add(target.max(1));
        let (delimiter, quote) = (self.options.csv.delimiter(), self.options.csv.quote());
        loop {
            let buf = self.file.fill_buf().map_err(|e| Error::io(&self.path, e))?;
            if buf.is_empty() {
                break;
            }
            let mut i = 0;
            let mut cut = None;
            while i < buf.len() {
                let Some(&b) = buf.get(i) else { break };
                let rest = buf.get(i..).unwrap_or_default();
                match self.scan.state {
                    State::RowStart => match b {
                        b'\n' => {
                            if self.scan.line_break(self.offset + i as u64 + 1, want) {
                                cut = Some(i + 1);
                                break;
                            }
                        }
                        b'\r' => {
                            // A CR after a CR: the first was lone, a line break.
                            if self.scan.after_cr {
                                self.scan.line += 1;
                            }
                            self.scan.after_cr = true;
                        }
                        _ => {
                            self.scan.rows += 1;
                            // A row after a lone CR (a line break): the line holding
                            // it is not cut after (see `Scan::cr_row`).
                            if std::mem::take(&mut self.scan.after_cr) {
                                self.scan.line += 1;
                                self.scan.cr_row = true;
                            }
                            self.scan.state = State::FieldStart;
                            continue;
                        }
                    },
                    State::FieldStart | State::QuoteInQuoted if b == quote => {
                        self.scan.state = State::Quoted;
                    }
                    State::FieldStart | State::Unquoted | State::QuoteInQuoted => {
                        // Outside quotes only quotes and line endings matter: a quote
                        // opens a field's quotes right after a delimiter (or at the
                        // start of a row or field, the state says which).
                        let Some(k) = memchr::memchr3(quote, b'\n', b'\r', rest) else {
                            self.scan.state = match buf.last() {
                                Some(&c) if c == delimiter => State::FieldStart,
                                _ => State::Unquoted,
                            };
                            i = buf.len();
                            continue;
                        };
                        // (At `k` = 0 a quote is not at a field's start: the arm
                        // above takes one there.)
                        let field_start = k
                            .checked_sub(1)
                            .is_some_and(|j| rest.get(j) == Some(&delimiter));
                        i += k;
                        match buf.get(i).copied().unwrap_or(0) {
                            b'\n' => {
                                self.scan.state = State::RowStart;
                                if self.scan.line_break(self.offset + i as u64 + 1, want) {
                                    cut = Some(i + 1);
                                    break;
                                }
                            }
                            b'\r' => {
                                self.scan.state = State::RowStart;
                                self.scan.after_cr = true;
                            }
                            _ if field_start => self.scan.state = State::Quoted,
                            _ => self.scan.state = State::Unquoted,
                        }
                    }
                    State::Quoted => {
                        // A CR that ended the last buffer, inside quotes, is a line
                        // break unless a line feed follows.
                        if std::mem::take(&mut self.scan.quoted_cr) && b != b'\n' {
                            self.scan.line += 1;
                        }
                        match memchr::memchr3(quote, b'\n', b'\r', rest) {
                            Some(k) => {
                                i += k;
                                match (buf.get(i), buf.get(i + 1)) {
                                    (Some(b'\n'), _) => self.scan.line += 1,
                                    (Some(b'\r'), Some(b'\n')) => {}
                                    (Some(b'\r'), Some(_)) => self.scan.line += 1,
                                    (Some(b'\r'), None) => self.scan.quoted_cr = true,
                                    _ => self.scan.state = State::QuoteInQuoted,
                                }
                            }
                            None => {
                                i = buf.len();
                                continue;
                            }
                        }
                    }
                }
                i += 1;
            }
            let used = cut.unwrap_or(buf.len());
            self.file.consume(used);
            self.offset += used as u64;
            if cut.is_some() {
                break;
            }
        }
        let mut records = std::mem::take(&mut self.scan.rows);
        if self.scan.header && records > 0 {
            // The file's first row names the columns.
            records -= 1;
            self.scan.header = false;
        }
        // A row the next range starts was counted when its first byte was seen: that
        // is never before the cut (a cut is always at a row's start).
        let range = CsvRange {
            start: self.start,
            end: self.offset,
            line: self.start_line,
            records,
        };
        self.start = self.offset;
        self.start_line = self.scan.line;
        if self.ranges.is_none() {
            self.ranges = Some(Arc::new(CsvRanges::new(&self.path, &self.options, range)?));
        }
        Ok(Some(range))
    }

    /// Whether the file ends inside quotes: a quote that opens a field in the last
    /// range cut never closes, and that range is a row taken over the rest of the
    /// file rather than whole rows (known once the last range is cut).
    pub fn ends_in_quotes(&self) -> bool {
        self.start >= self.len && self.scan.state == State::Quoted
    }

    /// What reads the ranges cut so far (once the first is cut: it holds the header).
    pub fn ranges(&self) -> Result<Arc<CsvRanges>> {
        self.ranges
            .clone()
            .ok_or_else(|| Error::Internal("no CSV range was cut yet".into()))
    }
}

/// What the scan knows at its place in the file.
#[derive(Debug)]
struct Scan {
    /// Line of the place.
    line: u64,
    state: State,
    /// Rows started since the range began.
    rows: u64,
    /// The header row is still to be passed over (not a record).
    header: bool,
    /// A CR outside quotes since the last line break.
    after_cr: bool,
    /// A CR inside quotes ended the last buffer.
    quoted_cr: bool,
    /// A row started after a lone CR since the last line break. The reader places
    /// such a row at the next line start it knows of, so the range must not end with
    /// it: its position would then differ from a reading of the whole file.
    cr_row: bool,
}

impl Scan {
    /// A line break outside quotes, ending at file offset `end`: whether the range
    /// may end there. It must reach `want` and hold the header row where there is
    /// one (the first range's reader reads it).
    fn line_break(&mut self, end: u64, want: u64) -> bool {
        self.line += 1;
        let cr_row = std::mem::take(&mut self.cr_row);
        self.after_cr = false;
        end >= want && !cr_row && !(self.header && self.rows == 0)
    }
}

/// Reads whole bytes into `head` (fewer at the end of the file).
fn read_head(file: &mut File, head: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = head.get_mut(n..).filter(|r| !r.is_empty()) {
        match file.read(rest)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Reads the [`CsvRange`]s of one file, each on its own: shared by the workers.
#[derive(Debug)]
pub struct CsvRanges {
    path: PathBuf,
    name: Arc<str>,
    options: ReaderOptions,
    /// The first range (from the start of the file, with the header).
    first: CsvRange,
    /// The header's keys, already JSON-quoted (`"name":`).
    keys: Arc<Vec<Vec<u8>>>,
}

impl CsvRanges {
    /// The reader of the ranges of `path` whose first range (the one that starts the
    /// file, with the header) is `first`: what a [`CsvSplitter`] hands out, made
    /// again where only the ranges are known (in a worker process, say).
    pub fn open(
        path: impl AsRef<Path>,
        options: &ReaderOptions,
        first: CsvRange,
    ) -> Result<CsvRanges> {
        CsvRanges::new(path.as_ref(), options, first)
    }

    /// The options the ranges are read with.
    pub fn options(&self) -> &ReaderOptions {
        &self.options
    }

    /// The first range (from the start of the file, with the header).
    pub fn first(&self) -> CsvRange {
        self.first
    }

    fn new(path: &Path, options: &ReaderOptions, first: CsvRange) -> Result<CsvRanges> {
        let name: Arc<str> = Arc::from(path.display().to_string());
        let keys = if options.csv.has_header() {
            CsvReader::new(range_input(path, &name, first)?, options)?.keys()
        } else {
            Arc::default()
        };
        Ok(CsvRanges {
            path: path.to_path_buf(),
            options: options.for_csv_file(&name),
            name,
            first,
            keys,
        })
    }

    /// A reader of `range`'s rows, numbered (lines, byte offsets) as in the whole
    /// file; record ordinals start at 0 in each range but the first.
    pub fn reader(&self, range: &CsvRange) -> Result<Box<dyn Reader>> {
        self.reader_from(range, 0)
    }

    /// A reader of `range`'s rows, as [`reader`](Self::reader) gives, whose first row
    /// (in a range but the first) is record `ordinal` of the file: its errors then
    /// name the records as a reading of the whole file does.
    pub fn reader_from(&self, range: &CsvRange, ordinal: u64) -> Result<Box<dyn Reader>> {
        let input = range_input(&self.path, &self.name, *range)?;
        if range.start == self.first.start {
            return Ok(Box::new(CsvReader::new(input, &self.options)?));
        }
        Ok(Box::new(CsvReader::continuing(
            input,
            &self.options,
            self.keys.clone(),
            (range.start, range.line),
            ordinal,
        )))
    }
}

/// The bytes of `range` as an input named `name` (its offsets are the range's).
fn range_input(path: &Path, name: &Arc<str>, range: CsvRange) -> Result<Input> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    file.seek(SeekFrom::Start(range.start))
        .map_err(|e| Error::io(path, e))?;
    let len = range.end.saturating_sub(range.start);
    // Bytes read of the range, for a planner that reads one itself.
    let raw_read = Arc::new(AtomicU64::new(0));
    let counting = crate::input::Counting {
        inner: file.take(len),
        count: raw_read.clone(),
    };
    Ok(Input {
        name: name.clone(),
        path: Some(path.to_path_buf()),
        reader: Box::new(BufReader::with_capacity(BUFFER_SIZE, counting)),
        compression: Compression::None,
        total_bytes: Some(len),
        raw_read,
    })
}
