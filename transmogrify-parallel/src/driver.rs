//! The loop every executor shares: plan chunks, run them, deliver results, count.

#![expect(
    clippy::indexing_slicing,
    reason = "input indices come from the planner, which only hands out indices of the job's inputs"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use transmogrify_core::{
    ColumnCensus, ColumnsSeen, ErrorMode, Position, ProcessingResult, Processor, Session,
};
use transmogrify_io::SpilledPart;

use crate::chunk::{RangeReader, bytes_between, flatten_into, read_range};
use crate::error::{Error, Result};
use crate::job::Job;
use crate::ledger::Ledger;
use crate::plan::{Body, Chunk, InputFormat, Layout, LongLine, Planned, Scanner, jsonl_ranges};
use crate::report::{FailedChunk, RunReport};
use crate::sink::ResultSink;

/// Runs chunks; one per worker, owned by its worker.
pub(crate) trait ChunkRunner: Send {
    /// Flattens `chunk`. Ranges must publish their counts to the ledger before waiting
    /// for their base.
    fn run(&mut self, chunk: &Chunk, ctx: &Ctx<'_>) -> Result<Delivery>;

    /// Flattens consecutive chunks as one part, if this runner can (`None`: the
    /// chunks are run one by one), handing each result (or a result still to be
    /// decoded, when [`Ctx::handoff`] can take it) to `done` with the chunks it
    /// covers. A runner may end the part early, after a chunk that took its rows past
    /// the job's [`part_memory`](Job::part_memory), and go on in a new one; every
    /// chunk is covered once, in order. On an error, the chunks not yet handed over
    /// are run one by one.
    fn run_group(
        &mut self,
        _chunks: &[Chunk],
        _ctx: &Ctx<'_>,
        _done: &mut dyn FnMut(&[Chunk], Outcome),
    ) -> Option<Result<()>> {
        None
    }

    /// Whether the planner may hand this runner a chunk as a group of pieces (ranges
    /// of a JSONL file, or what the planner reads of other inputs), which it flattens
    /// as one part unless the part grows too large.
    fn splits_ranges(&self) -> bool {
        false
    }

    /// Whether the planner may hand this runner ranges of a plain CSV file to read
    /// itself (with several workers, so that they parse the file together).
    fn reads_csv_ranges(&self) -> bool {
        false
    }

    /// Whether a failure of this runner is worth one retry (a dead worker process).
    fn retryable(&self, _error: &Error) -> bool {
        false
    }

    /// Runs `chunk` up to a result still to be decoded, which another thread then
    /// decodes and delivers while this runner goes on with its next chunk (`None`:
    /// this runner cannot; see [`Ctx::handoff`]).
    fn run_deferred(&mut self, _chunk: &Chunk, _ctx: &Ctx<'_>) -> Option<Result<Deferred>> {
        None
    }

    /// Whether [`ChunkRunner::run_deferred`] is worth a thread of its own to decode
    /// and deliver this runner's results.
    fn defers(&self) -> bool {
        false
    }
}

/// A chunk's result still to be decoded (a worker process's frame).
pub(crate) struct Deferred(Box<dyn FnOnce() -> Result<Delivery> + Send>);

impl Deferred {
    pub(crate) fn new(decode: impl FnOnce() -> Result<Delivery> + Send + 'static) -> Self {
        Deferred(Box::new(decode))
    }
}

/// A chunk's result for the sink: whole, or spilled by a worker process into the
/// sink's [`spill_dir`](ResultSink::spill_dir).
pub(crate) enum Delivery {
    Whole(ProcessingResult),
    Spilled(SpilledPart),
}

impl From<ProcessingResult> for Delivery {
    fn from(result: ProcessingResult) -> Self {
        Delivery::Whole(result)
    }
}

impl Delivery {
    /// What the run report counts of it: records, and bad records skipped.
    fn counts(&self) -> (u64, u64) {
        let result = match self {
            Delivery::Whole(result) => result,
            Delivery::Spilled(part) => part.layout(),
        };
        (result.record_count(), result.errors().len() as u64)
    }

    /// Hands it to `sink` as the part of chunk `seq`.
    fn hand_to(self, seq: u64, sink: &dyn ResultSink) -> Result<()> {
        match self {
            Delivery::Whole(result) => sink.accept(seq, result),
            Delivery::Spilled(part) => sink.accept_spilled(seq, part),
        }
    }
}

/// A chunk's result (or the result of a part of several chunks) on its way to the
/// sink, from its runner or through the thread that delivers the runner's results.
pub(crate) struct Handoff {
    chunks: Vec<Chunk>,
    attempts: u32,
    result: Outcome,
}

/// What a runner needs besides the chunk.
pub(crate) struct Ctx<'a> {
    pub(crate) job: &'a Job,
    pub(crate) ledger: &'a Ledger,
    /// Where the runner hands results it does not decode itself
    /// ([`ChunkRunner::run_deferred`]): a thread of its own decodes and delivers them
    /// in the order they come, so that a worker process flattens its next chunk
    /// meanwhile, rather than wait while its last result is decoded and written.
    pub(crate) handoff: Option<crossbeam::channel::Sender<Handoff>>,
}

impl Ctx<'_> {
    pub(crate) fn processor(&self) -> &Processor {
        &self.job.processor
    }
}

/// Runs a chunk in this process; a range of a file is read into `buf`.
pub(crate) fn run_in_process(
    chunk: &Chunk,
    ctx: &Ctx<'_>,
    buf: &mut Vec<u8>,
    seen: &ColumnsSeen,
) -> Result<ProcessingResult> {
    let mut session = ctx
        .processor()
        .session(&ctx.job.entity)
        .with_columns_seen(seen.clone());
    run_into(&mut session, chunk, ctx, buf)?;
    Ok(session.finish()?)
}

/// Runs consecutive chunks in this process as one part, as if they were one chunk,
/// unless the part's rows pass the job's part memory: then the part ends after the
/// chunk that took them past it and the next chunk starts a new one.
///
/// Pieces of one JSONL range (consecutive ranges of one file) are read and counted
/// all before the first is flattened, as one range would be: the worker of the next
/// chunk waits only for these counts, not for the flattening. With `count_first`
/// off (a runner alone, whose next chunk comes after this one), each piece's
/// counts are those its flattening found, published once it is flattened, which
/// spares a pass over the bytes (about 2% of a one-thread run); should the group
/// fail, the pieces left are counted then.
pub(crate) fn run_group_in_process(
    chunks: &[Chunk],
    ctx: &Ctx<'_>,
    buf: &mut Vec<u8>,
    reader: &mut RangeReader,
    count_first: bool,
    seen: &ColumnsSeen,
    done: &mut dyn FnMut(&[Chunk], Outcome),
) -> Result<()> {
    let session_of_part = || {
        ctx.processor()
            .session(&ctx.job.entity)
            .with_columns_seen(seen.clone())
    };
    let pieces = match (chunks.first(), chunks.last()) {
        (Some(first), Some(last)) if pieces_of_a_range(chunks) => {
            let input = &ctx.job.inputs[first.input];
            reader.read(input.path(), first.start, last.end, buf)?;
            if count_first {
                for chunk in chunks {
                    publish_counts(chunk, ctx, piece(buf, first.start, chunk)?);
                }
            }
            Some(first.start)
        }
        _ => None,
    };
    // Pieces whose counts are not yet published.
    let mut counted = if count_first || pieces.is_none() {
        chunks.len()
    } else {
        0
    };
    let mut session = session_of_part();
    let mut from = 0;
    let result = (|| -> Result<()> {
        for (i, chunk) in chunks.iter().enumerate() {
            match pieces {
                Some(start) => {
                    let (records, lines) =
                        flatten_lines(&mut session, chunk, ctx, piece(buf, start, chunk)?)?;
                    if counted == i {
                        ctx.ledger.publish(chunk.seq, records, lines);
                        counted += 1;
                    }
                }
                None => run_into(&mut session, chunk, ctx, buf)?,
            }
            let last = i + 1 == chunks.len();
            if last || session.memory_bytes() as u64 > ctx.job.part_memory {
                let part = std::mem::replace(&mut session, session_of_part());
                done(&chunks[from..=i], Outcome::Ready(part.finish()?.into()));
                from = i + 1;
            }
        }
        Ok(())
    })();
    if let (Err(_), Some(start)) = (&result, pieces) {
        for chunk in chunks.get(counted..).unwrap_or_default() {
            if let Some(data) = bytes_between(buf, start, chunk.start, chunk.end) {
                publish_counts(chunk, ctx, data);
            }
        }
    }
    result
}

/// Whether `chunks` are pieces of one JSONL range: consecutive ranges of one file.
pub(crate) fn pieces_of_a_range(chunks: &[Chunk]) -> bool {
    chunks.first().is_some_and(|first| {
        chunks
            .iter()
            .all(|c| matches!(c.body, Body::Range) && c.input == first.input)
    }) && chunks.windows(2).all(|w| w[0].end == w[1].start)
}

/// The bytes of `chunk` in `buf`, which holds the file from byte `start`.
fn piece<'b>(buf: &'b [u8], start: u64, chunk: &Chunk) -> Result<&'b [u8]> {
    bytes_between(buf, start, chunk.start, chunk.end)
        .ok_or_else(|| Error::Config(format!("chunk {} is outside its group", chunk.seq)))
}

/// Publishes the record and line counts of a JSONL range, `data`, for the chunks
/// after it.
fn publish_counts(chunk: &Chunk, ctx: &Ctx<'_>, data: &[u8]) {
    let (records, lines) = transmogrify_core::JsonLines::count(data);
    ctx.ledger.publish(chunk.seq, records, lines);
}

/// Flattens the lines of a JSONL range, `data`, into `session` once the counts of
/// the chunks before it give its first ordinal and line; its records and lines.
fn flatten_lines(
    session: &mut Session,
    chunk: &Chunk,
    ctx: &Ctx<'_>,
    data: &[u8],
) -> Result<(u64, u64)> {
    let (ordinal, line) = ctx.ledger.base(chunk.seq)?;
    flatten_into(
        session,
        &ctx.job.inputs[chunk.input].name(),
        data,
        Layout::Lines { line },
        Position::line_start(ordinal, line, chunk.start),
        &[],
    )
}

/// Flattens a chunk into `session`, after the records it holds.
fn run_into(session: &mut Session, chunk: &Chunk, ctx: &Ctx<'_>, buf: &mut Vec<u8>) -> Result<()> {
    let input = &ctx.job.inputs[chunk.input];
    match &chunk.body {
        Body::Range => {
            read_range(input.path(), chunk.start, chunk.end, buf)?;
            publish_counts(chunk, ctx, buf);
            flatten_lines(session, chunk, ctx, buf).map(drop)
        }
        Body::Raw(batch) => {
            let (ordinal, _) = ctx.ledger.base(chunk.seq)?;
            flatten_raw_into(session, &input.name(), batch, ordinal)
        }
        Body::TooLarge(long) => {
            let (ordinal, line) = ctx.ledger.base(chunk.seq)?;
            let limit = ctx.job.processor.config().max_record_bytes();
            let batch = long.batch(&input.name(), ordinal, line, chunk.start, limit);
            flatten_raw_into(session, &input.name(), &batch, ordinal)
        }
        Body::CsvRange { ranges, range } => {
            let (ordinal, _) = ctx.ledger.base(chunk.seq)?;
            flatten_csv_range_into(session, &input.name(), ranges, range, ordinal)
        }
        Body::Inline { data, layout, ends } => {
            let (ordinal, _) = ctx.ledger.base(chunk.seq)?;
            let line = match layout {
                Layout::Lines { line } => *line,
                _ => 0,
            };
            flatten_into(
                session,
                &input.name(),
                data,
                *layout,
                Position::line_start(ordinal, line, chunk.start),
                ends,
            )
            .map(drop)
        }
    }
}

/// A stream that counts the bytes read from it into the job's progress.
struct CountingRead<R> {
    inner: R,
    progress: Option<Arc<AtomicU64>>,
}

impl<R: std::io::Read> std::io::Read for CountingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &self.progress {
            p.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// The smallest piece a chunk is planned in.
const MIN_PIECE_BYTES: u64 = 256 * 1024;

/// Plans the chunks of every input in order, registering them in the ledger.
pub(crate) struct Plan<'a> {
    job: &'a Job,
    ledger: &'a Ledger,
    /// The run's tally, for the bytes of inputs that no chunk carries.
    tally: &'a Tally,
    /// Bytes of the current input carried by the chunks planned of it so far.
    input_read: u64,
    /// Workers sharing the chunks (the last ranges of a file shrink when several).
    workers: usize,
    /// Size of the pieces a chunk is planned in, as one group (`None`: whole chunks).
    unit: Option<u64>,
    input: usize,
    seq: u64,
    /// Where the last chunk planned of the current input ends.
    read_to: u64,
    ranges: std::vec::IntoIter<(u64, u64)>,
    scanner: Option<Scanner<Box<dyn std::io::Read + Send>>>,
    reader: Option<Box<dyn transmogrify_io::Reader>>,
    /// Bytes of the reader's file counted into chunks so far.
    reader_counted: u64,
    /// The current input is a plain CSV file cut into ranges of whole rows.
    csv: Option<transmogrify_io::CsvSplitter>,
    /// Whether plain CSV files are cut into ranges for the runners to read.
    csv_ranges: bool,
    /// Rows in the ranges of the current CSV file planned so far.
    csv_rows: u64,
    /// Whether the current input was opened.
    started: bool,
    /// The current input is a file of at most an eighth of a chunk: its chunks may
    /// share a part with those of the small inputs around it, up to half a chunk in
    /// all.
    small: bool,
    /// The current input is read by the scanner in pieces (see `unit`), grouped
    /// into parts of up to a chunk.
    scanned_pieces: bool,
    /// A chunk planned ahead while gathering a group, with how it groups.
    held: Option<(Planned, Grouping)>,
    /// Records in the chunks planned so far (inline chunks only).
    planned_records: u64,
    /// Whether a chunk of the current input was planned.
    input_planned: bool,
    /// The record limit is reached: nothing more is planned.
    limit_reached: bool,
    /// A JSONL line too long to be a record, planned after the range before it.
    long_line: Option<(u64, u64, Arc<LongLine>)>,
    /// An input that failed, planned after the errors table's row for it.
    failed_after: Option<Planned>,
    /// Input bytes counted as read outside any chunk ([`Plan::count_read`]).
    counted_read: u64,
    /// The current input is a stream, counted into the job's progress as it is
    /// read ([`CountingRead`]), not as its chunks finish.
    streaming: bool,
}

impl<'a> Plan<'a> {
    /// Plans for `workers` workers; `pieces`: chunks as groups of pieces (see
    /// [`ChunkRunner::splits_ranges`]); `csv`: plain CSV files as ranges (see
    /// [`ChunkRunner::reads_csv_ranges`]), with two workers or more.
    pub(crate) fn new(
        job: &'a Job,
        ledger: &'a Ledger,
        tally: &'a Tally,
        workers: usize,
        pieces: bool,
        csv: bool,
    ) -> Self {
        Plan {
            csv: None,
            csv_ranges: csv && workers > 1,
            csv_rows: 0,
            job,
            ledger,
            tally,
            input_read: 0,
            workers,
            unit: pieces.then(|| (job.chunking.bytes / 32).max(MIN_PIECE_BYTES)),
            input: 0,
            seq: 0,
            read_to: 0,
            ranges: Vec::new().into_iter(),
            scanner: None,
            reader: None,
            reader_counted: 0,
            started: false,
            small: false,
            scanned_pieces: false,
            held: None,
            planned_records: 0,
            input_planned: false,
            limit_reached: false,
            long_line: None,
            failed_after: None,
            counted_read: 0,
            streaming: false,
        }
    }

    /// Whether every input was read to its end: the plan was not cut short by a
    /// cancelled run or a record limit.
    pub(crate) fn read_through(&self) -> bool {
        !self.limit_reached && !self.ledger.is_cancelled() && self.input >= self.job.inputs.len()
    }

    /// Input bytes counted as read outside any chunk so far.
    pub(crate) fn counted_read(&self) -> u64 {
        self.counted_read
    }

    fn open_input(&mut self) -> Result<()> {
        let input = &self.job.inputs[self.input];
        // Chunks cut by record count stay as asked; a sample reads one part.
        let file_len = if input.is_stdin() {
            None
        } else {
            std::fs::metadata(input.path())
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len())
        };
        self.small = self.job.chunking.records.is_none()
            && self.job.limit.is_none()
            && file_len.is_some_and(|len| len <= self.job.chunking.bytes / 8);
        // Null cells of CSV and Parquet rows are left out where the processor would
        // drop them anyway (a wide, sparse file then costs what its values cost).
        let skip_null = self.job.processor.config().readers_skip_null();
        if let Some(options) = input.reader_options() {
            let options = self.reader_batches(options.clone().with_skip_null(skip_null));
            // Several workers parse a large plain CSV file together, each a range of
            // its rows; one worker is faster fed by the planner as it reads.
            let csv = options.format().or_else(|| {
                transmogrify_io::InputFormat::from_extension(&input.path().to_string_lossy())
            }) == Some(transmogrify_io::InputFormat::Csv);
            if csv
                && self.csv_ranges
                && !self.small
                && self.job.chunking.records.is_none()
                && self.job.limit.is_none()
                && !input.is_stream()
                && let Some(splitter) = transmogrify_io::CsvSplitter::open(input.path(), &options)?
            {
                self.csv = Some(splitter);
                self.reader = None;
                self.scanner = None;
                return Ok(());
            }
            self.reader = Some(if input.is_stdin() {
                // Counted as it is read, for the progress.
                self.streaming = true;
                let stdin = transmogrify_io::Input::from_reader(
                    &input.name(),
                    self.counting(Box::new(std::io::stdin())),
                    None,
                )?;
                transmogrify_io::reader_for(stdin, &options)?
            } else {
                transmogrify_io::open_reader(input.path(), &options)?
            });
            self.scanner = None;
            return Ok(());
        }
        let stream = input.is_stream();
        if !stream && crate::plan::compressed_file(input.path())? {
            // gzip or zstd under a plain name: through the decompressing readers.
            let options = self.reader_batches(
                transmogrify_io::ReaderOptions::builder()
                    .with_format(io_format(input.format()))
                    .with_skip_null(skip_null)
                    .build()?,
            );
            self.reader = Some(transmogrify_io::open_reader(input.path(), &options)?);
            self.scanner = None;
            return Ok(());
        }
        let splittable = input.format() == InputFormat::Jsonl
            && !stream
            && self.job.chunking.records.is_none()
            && self.job.limit.is_none();
        if splittable {
            self.ranges =
                jsonl_ranges(input.path(), self.job.chunking.bytes, self.workers)?.into_iter();
            self.scanner = None;
        } else {
            let mut stream_format = input.format();
            let reader: Box<dyn std::io::Read + Send> = if stream {
                let source: Box<dyn std::io::Read + Send> = if input.is_stdin() {
                    Box::new(std::io::stdin())
                } else {
                    Box::new(
                        std::fs::File::open(input.path())
                            .map_err(|e| Error::io(input.path(), e))?,
                    )
                };
                self.streaming = true;
                let source = self.counting(source);
                let mut buffered = std::io::BufReader::with_capacity(1 << 16, source);
                let head = std::io::BufRead::fill_buf(&mut buffered)
                    .map_err(|e| Error::io(input.path(), e))?;
                let parquet = input.is_told_by_head() && head.starts_with(b"PAR1");
                let compressed = crate::plan::compressed_head(head);
                if compressed {
                    self.tally
                        .compressed_streams
                        .fetch_add(1, Ordering::Relaxed);
                }
                if compressed || parquet {
                    // A compressed stream goes through the decompressing readers
                    // (which tell its format by its text, where nothing names it),
                    // and so does Parquet, told by its first bytes.
                    let format = if input.is_told_by_head() {
                        None
                    } else {
                        io_format(input.format())
                    };
                    let options = self.reader_batches(
                        transmogrify_io::ReaderOptions::builder()
                            .with_format(format)
                            .with_skip_null(skip_null)
                            .build()?,
                    );
                    let compressed =
                        transmogrify_io::Input::from_reader(&input.name(), buffered, None)?;
                    self.reader = Some(transmogrify_io::reader_for(compressed, &options)?);
                    self.scanner = None;
                    return Ok(());
                }
                if input.is_told_by_head() && opens_array(head) {
                    stream_format = InputFormat::Json;
                }
                Box::new(buffered)
            } else {
                Box::new(std::fs::File::open(input.path()).map_err(|e| Error::io(input.path(), e))?)
            };
            let mut chunking = self.job.chunking;
            if let Some(limit) = self.job.limit {
                chunking.records = Some(chunking.records.unwrap_or(limit).min(limit).max(1));
            }
            if let Some(unit) = self
                .unit
                .filter(|_| chunking.records.is_none() && !self.small)
            {
                chunking.bytes = chunking.bytes.min(unit);
                self.scanned_pieces = true;
            }
            let largest = self.job.processor.config().max_record_bytes();
            let mut scanner = Scanner::new(reader, input.name(), stream_format, chunking)
                .with_max_record(largest)
                .with_stop_at_long(self.strict());
            if let Some(len) = file_len {
                // One read takes the whole of a small file, the next finds its end.
                scanner = scanner.with_block(usize::try_from(len).map_or(usize::MAX, |l| l + 1));
            }
            self.scanner = Some(scanner);
        }
        Ok(())
    }

    /// Whether the first bad record ends the run: a record over the size limit
    /// then ends its input where it passes the limit, rather than being read past.
    fn strict(&self) -> bool {
        self.job.processor.config().on_error() == ErrorMode::Strict
    }

    /// `source`, a stream, counted into the progress as it is read.
    fn counting(
        &self,
        source: Box<dyn std::io::Read + Send>,
    ) -> CountingRead<Box<dyn std::io::Read + Send>> {
        CountingRead {
            inner: source,
            progress: self.job.progress.clone(),
        }
    }

    /// `options` with batches of the job's chunks where they are counted in
    /// records (a reader's batch is a chunk), and of no more than the job's record
    /// limit; records no larger than the processor takes.
    fn reader_batches(
        &self,
        options: transmogrify_io::ReaderOptions,
    ) -> transmogrify_io::ReaderOptions {
        // A record the processor refuses as too large is not held whole by the
        // reader either.
        let largest = self.job.processor.config().max_record_bytes();
        let largest = options.max_record_bytes().min(largest);
        let options = options
            .with_max_record_bytes(largest)
            .with_stop_at_long_record(self.strict());
        let records = match (self.job.chunking.records, self.job.limit) {
            (Some(n), Some(limit)) => Some(n.min(limit)),
            (n, limit) => n.or(limit),
        };
        match records.and_then(|n| usize::try_from(n.max(1)).ok()) {
            Some(n) => options.with_batch_records(n),
            None => options,
        }
    }

    /// The current input was read to its end: what its chunks did not carry (all
    /// of an input without records, a CSV header, a Parquet footer, the tail of a
    /// compressed file) counts as read too, so that a run's bytes are its inputs'.
    /// Then moves on to the next input.
    fn finish_input(&mut self) {
        let input = &self.job.inputs[self.input];
        let file_len = (!input.is_stream())
            .then(|| std::fs::metadata(input.path()).ok())
            .flatten()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len());
        let read = match (file_len, &self.reader, &self.scanner) {
            (Some(len), _, _) => len,
            (None, Some(reader), _) => reader.bytes_read(),
            (None, None, Some(scanner)) => scanner.bytes_read(),
            (None, None, None) => 0,
        };
        self.count_read(read.saturating_sub(self.input_read));
        self.next_input();
    }

    /// Counts `bytes` of the current input as read, that no chunk carries (into
    /// the progress too, unless the input is a stream, counted as it is read).
    fn count_read(&mut self, bytes: u64) {
        self.counted_read += bytes;
        if bytes > 0 {
            self.tally.bytes.fetch_add(bytes, Ordering::Relaxed);
            if let Some(p) = &self.job.progress
                && !self.streaming
            {
                p.fetch_add(bytes, Ordering::Relaxed);
            }
        }
    }

    /// Moves on to the next input.
    fn next_input(&mut self) {
        self.input_read = 0;
        self.streaming = false;
        self.read_to = 0;
        self.reader_counted = 0;
        self.reader = None;
        self.csv = None;
        self.csv_rows = 0;
        self.scanner = None;
        self.ranges = Vec::new().into_iter();
        self.input += 1;
        self.started = false;
        self.small = false;
        self.scanned_pieces = false;
        self.input_planned = false;
    }

    /// The current input cannot be read further: report it and move on. In skip
    /// mode, where the error has a place (JSON whose structure breaks), the errors
    /// table gets a row for it first, so that it says where reading stopped.
    fn fail_input(&mut self, error: Error) -> Planned {
        let input = self.input;
        // The part not read starts where the chunks planned end (estimated from
        // their records' text), or at the error if that is before.
        let placed = self
            .reader
            .as_ref()
            .is_none_or(|reader| reader.positions_are_bytes());
        let start = match error.record_error() {
            Some(record) if placed => self.read_to.min(record.position.byte_offset),
            _ => self.read_to,
        };
        // What the reader read past its last batch (to the end, for a quote that
        // never closes) was read all the same.
        if let Some(reader) = &self.reader {
            self.count_read(reader.bytes_read().saturating_sub(self.reader_counted));
        }
        // The rest of the input is not read: up to its end, where it has one.
        let end = self
            .job
            .inputs
            .get(input)
            .and_then(|i| std::fs::metadata(i.path()).ok())
            .filter(std::fs::Metadata::is_file)
            .map_or(start, |m| m.len().max(start));
        // Rows of a Parquet input lost with its last row group count as read, as
        // those of another group do: the records after them keep their numbers.
        let (place, records) = match &error {
            Error::Input(input) => match input.lost_rows() {
                Some((first, last)) => (input.lost_rows_record(), last - first + 1),
                None => (None, 1),
            },
            _ => (None, 1),
        };
        let record = place
            .or_else(|| error.record_error().cloned())
            .or_else(|| self.unread_input_record(&error, start));
        // The bad record's text as written, where the reader kept it.
        let raw = match &error {
            Error::Input(input) => input.stopped_raw().map(<[u8]>::to_vec),
            _ => None,
        };
        let at = record
            .as_ref()
            .map_or(start, |r| r.position.byte_offset.max(start));
        let failed = |seq| Planned::Failed {
            input,
            seq,
            error,
            lost: false,
            start,
            end,
        };
        let planned = self.row_then(record, raw, (at, at), records, failed);
        self.next_input();
        planned
    }

    /// For an input that failed before any of it was planned and whose error has no
    /// place of its own (a Parquet footer that cannot be read, a JSON path that is
    /// not there), the errors table's row that stands for the whole input in skip
    /// mode: at its first record, where its footer starts for a Parquet file (else
    /// at `start`), the error as the message. `None` in strict mode, or once some
    /// of the input was planned.
    fn unread_input_record(
        &self,
        error: &Error,
        start: u64,
    ) -> Option<transmogrify_core::RecordError> {
        let skip = self.job.processor.config().on_error() == ErrorMode::Skip;
        if !skip || self.input_planned {
            return None;
        }
        let name = self.job.inputs.get(self.input)?.name();
        let text = error.to_string();
        let message = text.strip_prefix(&format!("{name}: ")).unwrap_or(&text);
        let at = match error {
            Error::Input(transmogrify_io::Error::Parquet {
                footer: Some((first, _)),
                ..
            }) => *first,
            _ => start,
        };
        Some(transmogrify_core::RecordError {
            source_name: Arc::from(name.as_str()),
            position: Position::line_start(0, 1, at),
            kind: transmogrify_core::RecordErrorKind::Input(message.to_string()),
            excerpt: String::new(),
        })
    }

    /// In skip mode, where `record` says where an input stopped being read, a chunk
    /// of that bad record alone (bytes `start..end`, standing for `records`
    /// records), so that the errors table has a row for it (its raw text `raw`, or
    /// its excerpt), with the failure `failed` makes of the next sequence number
    /// planned after it; otherwise that failure itself, on a sequence number of its
    /// own that counts `records` (none without `record`).
    fn row_then(
        &mut self,
        record: Option<transmogrify_core::RecordError>,
        raw: Option<Vec<u8>>,
        (start, end): (u64, u64),
        records: u64,
        failed: impl FnOnce(u64) -> Planned,
    ) -> Planned {
        let skip = self.job.processor.config().on_error() == ErrorMode::Skip;
        let has_record = record.is_some();
        let Some(record) = record.filter(|_| skip) else {
            // The failure takes a place of its own in input order, counting the
            // records it stands for (none without a bad record): later inputs number
            // theirs after them, and a strict run finds it before their errors.
            let seq = self.seq;
            self.seq += 1;
            let counted = if has_record { records } else { 0 };
            self.ledger.register(seq, self.input, Some((counted, 0)));
            let mut planned = failed(seq);
            if let Planned::Failed { lost, .. } = &mut planned {
                // The sink, which takes parts in order, is told none comes.
                *lost = true;
            }
            return planned;
        };
        let mut batch = transmogrify_io::RawBatch::default();
        let raw = raw.unwrap_or_else(|| record.excerpt.clone().into_bytes());
        batch.push_bad(record, &raw);
        let row = self.emit(start, end, Body::Raw(Arc::new(batch)), Some((records, 0)));
        self.failed_after = Some(failed(self.seq));
        row
    }

    /// Counts planned records; at the job's limit the sample is complete and nothing
    /// more is read.
    fn count(&mut self, records: u64) {
        self.planned_records += records;
        if self.job.limit.is_some_and(|l| self.planned_records >= l) {
            self.limit_reached = true;
        }
    }

    fn emit(&mut self, start: u64, end: u64, body: Body, counts: Option<(u64, u64)>) -> Planned {
        let seq = self.seq;
        self.seq += 1;
        self.read_to = self.read_to.max(end);
        self.input_planned = true;
        self.ledger.register(seq, self.input, counts);
        Planned::Chunk(Chunk {
            seq,
            input: self.input,
            start,
            end,
            read: end.saturating_sub(start),
            streamed: self.streaming,
            body,
        })
    }
}

impl Iterator for Plan<'_> {
    type Item = Planned;

    /// The next chunk; chunks of small inputs come in groups of up to half a chunk's
    /// bytes, the pieces of a scanned input in groups of up to a chunk.
    fn next(&mut self) -> Option<Planned> {
        let (item, grouping) = match self.held.take() {
            Some(held) => held,
            None => self.plan_one()?,
        };
        let first = match item {
            Planned::Chunk(chunk) if grouping != Grouping::Alone => chunk,
            other => return Some(other),
        };
        let budget = match grouping {
            Grouping::Small => self.job.chunking.bytes / 2,
            _ => self.job.chunking.bytes,
        };
        let mut bytes = first.end.saturating_sub(first.start);
        let mut group = vec![first];
        while bytes < budget {
            match self.plan_one() {
                Some((Planned::Chunk(chunk), g))
                    if g == grouping && bytes + chunk.end.saturating_sub(chunk.start) <= budget =>
                {
                    bytes += chunk.end.saturating_sub(chunk.start);
                    group.push(chunk);
                }
                Some(other) => {
                    self.held = Some(other);
                    break;
                }
                None => break,
            }
        }
        if group.len() == 1 {
            group.pop().map(Planned::Chunk)
        } else {
            Some(Planned::Group(group))
        }
    }
}

/// How a planned chunk may share a part with the chunks planned after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grouping {
    /// A part of its own.
    Alone,
    /// With the chunks of the small inputs around it.
    Small,
    /// With the next pieces of the same input (its index).
    Piece(usize),
}

impl Plan<'_> {
    /// The next chunk or failed input, with how it groups.
    fn plan_one(&mut self) -> Option<(Planned, Grouping)> {
        let item = self.plan_next()?;
        self.input_read += match &item {
            Planned::Chunk(c) => c.read,
            Planned::Group(chunks) => chunks.iter().map(|c| c.read).sum(),
            Planned::Failed { .. } => 0,
        };
        let grouping = match &item {
            Planned::Chunk(c) if self.scanned_pieces && matches!(c.body, Body::Inline { .. }) => {
                Grouping::Piece(c.input)
            }
            _ if self.small => Grouping::Small,
            _ => Grouping::Alone,
        };
        Some((item, grouping))
    }

    fn plan_next(&mut self) -> Option<Planned> {
        if let Some(failed) = self.failed_after.take() {
            return Some(failed);
        }
        loop {
            if self.limit_reached
                || self.ledger.is_cancelled()
                || self.input >= self.job.inputs.len()
            {
                return None;
            }
            if let Some((start, end, long)) = self.long_line.take() {
                let counts = (u64::from(!long.blank), 1);
                return Some(self.emit(start, end, Body::TooLarge(long), Some(counts)));
            }
            if let Some((start, mut end)) = self.ranges.next() {
                // A line longer than the largest record is read past here, not read
                // whole by a worker: a range of the lines before it, then the line.
                let limit = self.job.processor.config().max_record_bytes();
                if end - start > limit {
                    let path = self.job.inputs[self.input].path();
                    let window = self.job.chunking.bytes;
                    match crate::plan::long_last_line(path, start, end, window, limit) {
                        Ok(Some((at, long))) => {
                            self.long_line = Some((at, end, Arc::new(long)));
                            if at == start {
                                continue;
                            }
                            end = at;
                        }
                        Ok(None) => {}
                        Err(error) => return Some(self.fail_input(error)),
                    }
                }
                let Some(unit) = self.unit.filter(|&u| end - start > u) else {
                    return Some(self.emit(start, end, Body::Range, None));
                };
                let path = self.job.inputs[self.input].path();
                let pieces = match crate::plan::split_range(path, start, end, unit) {
                    Ok(pieces) => pieces,
                    Err(error) => return Some(self.fail_input(error)),
                };
                let mut group: Vec<Chunk> = Vec::with_capacity(pieces.len());
                for (start, end) in pieces {
                    if let Planned::Chunk(chunk) = self.emit(start, end, Body::Range, None) {
                        group.push(chunk);
                    }
                }
                return Some(Planned::Group(group));
            }
            if let Some(splitter) = self.csv.as_mut() {
                // Whole chunks: a CSV row's bytes can be far more than its values
                // (a wide, sparse file is mostly delimiters), and each part has a
                // cost in its columns.
                let next = splitter
                    .next_range(self.job.chunking.bytes)
                    .and_then(|range| Ok(range.zip(Some(splitter.ranges()?))));
                match next {
                    Ok(Some((range, ranges))) if splitter.ends_in_quotes() => {
                        // A quote that never closes took the rest of the file: its
                        // range is read here, as one pass reads it, so that the rows
                        // before the quote are kept and the quote stops the input.
                        self.csv = None;
                        match ranges.reader_from(&range, self.csv_rows) {
                            Ok(reader) => self.reader = Some(reader),
                            Err(error) => return Some(self.fail_input(error.into())),
                        }
                        self.reader_counted = 0;
                        continue;
                    }
                    Ok(Some((range, ranges))) => {
                        self.csv_rows += range.records;
                        return Some(self.emit(
                            range.start,
                            range.end,
                            Body::CsvRange { ranges, range },
                            Some((range.records, 0)),
                        ));
                    }
                    Ok(None) => {
                        self.finish_input();
                        continue;
                    }
                    Err(error) => return Some(self.fail_input(error.into())),
                }
            }
            if let Some(reader) = self.reader.as_mut() {
                let before = reader.bytes_read();
                let counted = self.reader_counted;
                match reader.next() {
                    Some(Ok(batch)) if batch.is_empty() => continue,
                    Some(Ok(mut batch)) => {
                        // A sample ends at its size, within a batch if need be.
                        if let Some(limit) = self.job.limit {
                            let left = limit.saturating_sub(self.planned_records);
                            batch
                                .items
                                .truncate(usize::try_from(left).unwrap_or(usize::MAX));
                        }
                        let records = batch.len() as u64;
                        let after = reader.bytes_read().max(before);
                        let (start, end) = if reader.positions_are_bytes() {
                            raw_span(&batch)
                        } else {
                            (before, after)
                        };
                        self.count(records);
                        let mut planned = self.emit(
                            start,
                            end,
                            Body::Raw(std::sync::Arc::new(batch)),
                            Some((records, 0)),
                        );
                        // What the reader read of the file since the last batch (the
                        // first batch's count starts at the file's start: a small
                        // file is read whole as it is opened).
                        if let Planned::Chunk(chunk) = &mut planned {
                            chunk.read = after.saturating_sub(counted);
                        }
                        self.reader_counted = after;
                        return Some(planned);
                    }
                    // A Parquet file goes on past a row group it cannot decode.
                    Some(Err(error)) if reader.goes_on_after_error() => {
                        let lost = error
                            .lost_rows()
                            .map_or(0, |(first, last)| last - first + 1);
                        let end = reader.bytes_read().max(before);
                        self.reader_counted = end;
                        self.read_to = self.read_to.max(end);
                        // In skip mode the errors table has a row where the rows lost
                        // start; either way they count, so the rows after keep their
                        // numbers.
                        let record = error.lost_rows_record();
                        let input = self.input;
                        let failed = |seq| Planned::Failed {
                            input,
                            seq,
                            error: error.into(),
                            lost: false,
                            start: before,
                            end,
                        };
                        return Some(self.row_then(record, None, (before, end), lost, failed));
                    }
                    Some(Err(error)) => return Some(self.fail_input(error.into())),
                    None => {
                        self.finish_input();
                        continue;
                    }
                }
            }
            if let Some(scanner) = self.scanner.as_mut() {
                // A sample's last chunk ends at the sample's size.
                if let Some(limit) = self.job.limit {
                    scanner.limit_records(limit.saturating_sub(self.planned_records));
                }
                match scanner.next_chunk() {
                    Ok(Some(mut c)) => {
                        self.count(c.records);
                        // What the input took since the last chunk, separators and
                        // brackets included: the chunks' bytes are the input's.
                        let read = c.end.saturating_sub(self.read_to);
                        let counts = Some((c.records, c.lines));
                        let body = match c.long.take() {
                            Some(long) => Body::TooLarge(Arc::new(long)),
                            None => Body::Inline {
                                data: c.data,
                                layout: c.layout,
                                ends: c.ends,
                            },
                        };
                        let mut planned = self.emit(c.start, c.end, body, counts);
                        if let Planned::Chunk(chunk) = &mut planned {
                            chunk.read = read;
                        }
                        return Some(planned);
                    }
                    Ok(None) => {
                        self.finish_input();
                        continue;
                    }
                    Err(error) => return Some(self.fail_input(error)),
                }
            }
            // Nothing open: open the current input (or move past a finished range list).
            if self.started {
                self.finish_input();
                continue;
            }
            self.started = true;
            if let Err(error) = self.open_input() {
                return Some(self.fail_input(error));
            }
        }
    }
}

/// Shared bookkeeping of a run.
pub(crate) struct Tally {
    records: AtomicU64,
    bad: AtomicU64,
    bytes: AtomicU64,
    ok: AtomicU64,
    retried: AtomicU64,
    /// Inputs read as streams (standard input, a pipe) whose data is compressed.
    compressed_streams: AtomicU64,
    failed: Mutex<Vec<(FailedChunk, Error)>>,
    /// Set when the sink refused a part: the run cannot succeed.
    fatal: Mutex<Option<String>>,
    /// The columns of every table in the parts delivered, where several workers
    /// flatten parts each (see [`Error::ColumnsPastLimit`]).
    census: Option<Mutex<ColumnCensus>>,
    /// A table whose records passed the column limit together.
    columns_past: Mutex<Option<String>>,
}

impl Tally {
    pub(crate) fn new() -> Self {
        Tally {
            records: AtomicU64::new(0),
            bad: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            compressed_streams: AtomicU64::new(0),
            failed: Mutex::new(Vec::new()),
            fatal: Mutex::new(None),
            census: None,
            columns_past: Mutex::new(None),
        }
    }

    /// A tally that counts the columns of the parts delivered, for a run whose
    /// workers each check the column limit against their own parts only.
    pub(crate) fn counting_columns() -> Self {
        Tally {
            census: Some(Mutex::new(ColumnCensus::default())),
            ..Tally::new()
        }
    }

    /// Notes a table whose records passed the column limit together.
    fn columns_past(&self, table: String) {
        self.columns_past.lock().get_or_insert(table);
    }
}

/// Runs one planned item on `runner`, with retries, delivering the result to `sink`.
pub(crate) fn handle(
    item: Planned,
    runner: &mut dyn ChunkRunner,
    ctx: &Ctx<'_>,
    sink: &dyn ResultSink,
    tally: &Tally,
) {
    let strict = ctx.job.processor.config().on_error() == ErrorMode::Strict;
    match item {
        Planned::Failed {
            input,
            seq,
            mut error,
            lost,
            start,
            end,
        } => {
            // A reader numbers an input's records from 0: the error that stopped it
            // gets the run's number, as the errors table does.
            if let Some(record) = error.record_error_mut()
                && let Ok(base) = ctx.ledger.input_base(input)
            {
                record.position.ordinal += base;
            }
            if lost {
                // The sink waits for parts in order: this one is not coming.
                let _ = sink.gap(seq);
            }
            let name = ctx
                .job
                .inputs
                .get(input)
                .map(|i| i.name())
                .unwrap_or_default();
            // Damaged compressed data fails the run in any mode: what was decompressed
            // before the decoder noticed may be wrong, and is part of the run's
            // results already.
            let corrupt = matches!(&error, Error::Input(e) if e.is_corrupt_input());
            if corrupt {
                tally.fatal.lock().get_or_insert_with(|| error.to_string());
            }
            tally.failed.lock().push((
                FailedChunk {
                    index: seq,
                    input: name,
                    start,
                    end,
                    attempts: 1,
                    error: error.to_string(),
                },
                error,
            ));
            if strict || corrupt {
                ctx.ledger.cancel_after(seq);
            }
        }
        Planned::Group(chunks) => {
            let Some(first) = chunks.first() else {
                return;
            };
            let mut died = false;
            let mut delivered = 0;
            let total = chunks.len();
            let last = chunks.last().map(|c| c.seq);
            if !ctx.ledger.is_cancelled_for(first.seq) {
                let mut done = |covered: &[Chunk], result: Outcome| {
                    delivered += covered.len();
                    // A part before the group's end: the worker holds the rest.
                    let until = last.filter(|_| delivered < total);
                    crate::sink::holding_until(until, || {
                        hand_over(covered.to_vec(), 1, result, ctx, sink, tally);
                    });
                };
                // A panic is met again, and reported, chunk by chunk below.
                let run = catch_panic(|| runner.run_group(&chunks, ctx, &mut done));
                match run.unwrap_or(None) {
                    Some(Ok(())) if delivered == chunks.len() => return,
                    Some(Ok(())) => {}
                    Some(Err(e)) => died = runner.retryable(&e),
                    None => {}
                }
            }
            // Not as one part (or it failed): the chunks not yet delivered chunk by
            // chunk, each with its own retries, gaps and errors, as if never grouped.
            let failed = tally.failed.lock().len();
            for (i, chunk) in chunks.into_iter().enumerate().skip(delivered) {
                crate::sink::holding_until(last.filter(|_| i + 1 < total), || {
                    handle(Planned::Chunk(chunk), runner, ctx, sink, tally);
                });
            }
            if died && tally.failed.lock().len() == failed {
                // The chunk the worker died on succeeded when run again.
                tally.retried.fetch_add(1, Ordering::Relaxed);
            }
        }
        Planned::Chunk(chunk) => {
            if ctx.ledger.is_cancelled_for(chunk.seq) {
                let _ = sink.gap(chunk.seq);
                return;
            }
            let mut attempts = 0;
            let outcome = loop {
                attempts += 1;
                let run = catch_panic(|| {
                    let run = if ctx.handoff.is_some() {
                        runner
                            .run_deferred(&chunk, ctx)
                            .map(|r| r.map(Outcome::Deferred))
                    } else {
                        None
                    };
                    run.unwrap_or_else(|| runner.run(&chunk, ctx).map(Outcome::Ready))
                });
                match run.unwrap_or_else(|panic| Err(Error::Panicked(panic))) {
                    Ok(r) => break Ok(r),
                    Err(e) if attempts <= ctx.job.retries && runner.retryable(&e) => continue,
                    Err(e) => break Err(e),
                }
            };
            match outcome {
                Ok(result) => {
                    if attempts > 1 {
                        tally.retried.fetch_add(1, Ordering::Relaxed);
                    }
                    hand_over(vec![chunk], attempts, result, ctx, sink, tally);
                }
                Err(Error::Cancelled) => {
                    let _ = sink.gap(chunk.seq);
                }
                Err(e) => fail(chunk, attempts, e, ctx, sink, tally, strict),
            }
        }
    }
}

/// Runs `f`, catching a panic as its message: a worker that panics on a chunk fails
/// that chunk, and the run with it, instead of dying while the others wait for its
/// chunk (the panic hook has reported where it happened).
fn catch_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        transmogrify_io::panic_message(payload.as_ref()).unwrap_or_else(|| "no message".into())
    })
}

/// A chunk's result as its runner gives it.
pub(crate) enum Outcome {
    Ready(Delivery),
    /// To be decoded and delivered by the thread behind [`Ctx::handoff`].
    Deferred(Deferred),
}

/// Hands the result of `chunks` (one chunk, or a part of several) on: one still to
/// be decoded to the output thread, one decoded already (or that the thread cannot
/// take) to the sink here.
fn hand_over(
    chunks: Vec<Chunk>,
    attempts: u32,
    result: Outcome,
    ctx: &Ctx<'_>,
    sink: &dyn ResultSink,
    tally: &Tally,
) {
    let handed = Handoff {
        chunks,
        attempts,
        result,
    };
    let here = match (&handed.result, &ctx.handoff) {
        (Outcome::Deferred(_), Some(handoff)) => {
            handoff.send(handed).err().map(|back| back.into_inner())
        }
        _ => Some(handed),
    };
    if let Some(handed) = here {
        deliver_handoff(handed, ctx, sink, tally);
    }
}

/// Delivers the result of a chunk or part, decoding it first if its runner left that
/// to be done (a result that cannot be decoded fails its chunks).
pub(crate) fn deliver_handoff(
    handed: Handoff,
    ctx: &Ctx<'_>,
    sink: &dyn ResultSink,
    tally: &Tally,
) {
    let Handoff {
        chunks,
        attempts,
        result,
    } = handed;
    let result = match result {
        Outcome::Ready(result) => Ok(result),
        Outcome::Deferred(decode) => (decode.0)(),
    };
    match result {
        Ok(result) => deliver(&chunks, attempts, result, ctx, sink, tally),
        Err(e) => {
            let strict = ctx.job.processor.config().on_error() == ErrorMode::Strict;
            let first = chunks.first().map_or(0, |c| c.seq);
            let mut error = Some(e);
            for chunk in chunks {
                // The first chunk fails with the error; the others of its part name it.
                let e = error.take().unwrap_or_else(|| {
                    Error::Config(format!(
                        "the part it was flattened in with chunk {first} could not be read back"
                    ))
                });
                fail(chunk, attempts, e, ctx, sink, tally, strict);
            }
        }
    }
}

/// Counts the result of `chunks` (one chunk, or a group flattened as one) and hands it
/// to the sink as the first chunk's part; the others leave a gap.
fn deliver(
    chunks: &[Chunk],
    attempts: u32,
    result: Delivery,
    ctx: &Ctx<'_>,
    sink: &dyn ResultSink,
    tally: &Tally,
) {
    let Some(first) = chunks.first() else {
        return;
    };
    let bytes: u64 = chunks.iter().map(|c| c.read).sum();
    let (records, bad) = result.counts();
    tally.records.fetch_add(records, Ordering::Relaxed);
    tally.bad.fetch_add(bad, Ordering::Relaxed);
    tally.bytes.fetch_add(bytes, Ordering::Relaxed);
    tally.ok.fetch_add(chunks.len() as u64, Ordering::Relaxed);
    if let Some(p) = &ctx.job.progress {
        // A stream's bytes were counted as they were read.
        let finished: u64 = chunks.iter().filter(|c| !c.streamed).map(|c| c.read).sum();
        p.fetch_add(finished, Ordering::Relaxed);
    }
    if let Some(census) = &tally.census {
        let layout = match &result {
            Delivery::Whole(result) => result,
            Delivery::Spilled(part) => part.layout(),
        };
        if let Some(table) = census.lock().add(layout) {
            tally.columns_past(table);
        }
    }
    // The other chunks' gaps first: a sink that holds a worker back until the part
    // next in line comes (to bound the parts waiting) could otherwise wait for a
    // gap only this worker would leave, after its part.
    let mut delivered = Ok(());
    for chunk in chunks.iter().skip(1) {
        delivered = sink.gap(chunk.seq);
        if delivered.is_err() {
            break;
        }
    }
    if delivered.is_ok() {
        delivered = result.hand_to(first.seq, sink);
    }
    if let Err(e) = delivered {
        // The output cannot take more (disk full, …): fatal in any mode.
        tally.fatal.lock().get_or_insert_with(|| e.to_string());
        ctx.ledger.cancel_after(first.seq);
        tally.failed.lock().push((
            FailedChunk {
                index: first.seq,
                input: ctx.job.inputs[first.input].name(),
                start: first.start,
                end: first.end,
                attempts,
                error: e.to_string(),
            },
            e,
        ));
    }
}

fn fail(
    chunk: Chunk,
    attempts: u32,
    error: Error,
    ctx: &Ctx<'_>,
    sink: &dyn ResultSink,
    tally: &Tally,
    stop: bool,
) {
    if tally.census.is_some()
        && let Some(transmogrify_core::RecordErrorKind::TooManyColumns { table, .. }) =
            error.record_error().map(|e| &e.kind)
    {
        tally.columns_past(table.clone());
    }
    // Later chunks need this chunk's counts for their ordinals: count it here if the
    // runner died before it could.
    let mut data = Vec::new();
    let path = ctx.job.inputs[chunk.input].path();
    match chunk.body {
        Body::Range => match read_range(path, chunk.start, chunk.end, &mut data) {
            Ok(()) => {
                let (records, lines) = transmogrify_core::JsonLines::count(&data);
                ctx.ledger.publish(chunk.seq, records, lines);
            }
            Err(_) => {
                data.clear();
                ctx.ledger.cancel_after(chunk.seq);
            }
        },
        // Its text, for the errors table in skip mode.
        Body::CsvRange { .. }
            if !stop && read_range(path, chunk.start, chunk.end, &mut data).is_err() =>
        {
            data.clear();
        }
        _ => {}
    }
    // A file that cannot be read or written (a full disk, a vanished input) fails
    // the run in any mode: later chunks would fail alike, and skipping them would
    // leave out what is not bad data.
    let io = is_io(&error);
    // So is a bug, which the same chunk would meet again.
    let io = io || matches!(error, Error::Panicked(_));
    if io {
        tally.fatal.lock().get_or_insert_with(|| error.to_string());
    }
    let stop = stop || io;
    let input = ctx.job.inputs[chunk.input].name();
    let error = Error::Chunk {
        index: chunk.seq,
        input: input.clone(),
        start: chunk.start,
        end: chunk.end,
        source: Box::new(error),
    };
    // In skip mode the chunk takes its place in the output as one row of the errors
    // table, where its records would have been; otherwise the sink, which waits for
    // chunks in order, is told that this one is not coming.
    let row = if stop {
        None
    } else {
        error_row(&chunk, &error, &input, &data, ctx).ok()
    };
    let mut stop = stop;
    match row.map(|row| sink.accept(chunk.seq, row)) {
        Some(Ok(())) => {
            tally.bad.fetch_add(1, Ordering::Relaxed);
        }
        Some(Err(e)) => {
            // The output cannot take more (disk full, …): fatal in any mode.
            tally.fatal.lock().get_or_insert_with(|| e.to_string());
            stop = true;
        }
        None => {
            let _ = sink.gap(chunk.seq);
        }
    }
    tally.failed.lock().push((
        FailedChunk {
            index: chunk.seq,
            input,
            start: chunk.start,
            end: chunk.end,
            attempts,
            error: error.to_string(),
        },
        error,
    ));
    if stop {
        ctx.ledger.cancel_after(chunk.seq);
    }
}

/// The errors table's row for a failed chunk: at its first record, the chunk's
/// error as the message, and its text (`data`, the range of the file it read, or
/// an inline chunk's bytes; none for a reader's batch) as the raw text, cut as any
/// record's is.
fn error_row(
    chunk: &Chunk,
    error: &Error,
    input: &str,
    data: &[u8],
    ctx: &Ctx<'_>,
) -> Result<ProcessingResult> {
    let (ordinal, line) = ctx.ledger.base(chunk.seq)?;
    // Where the chunk starts, as its records' positions count from it.
    let (line, data) = match &chunk.body {
        Body::Range | Body::TooLarge(_) => (line, data),
        Body::Inline { data, layout, .. } => match layout {
            Layout::Lines { line } => (*line, &data[..]),
            _ => (0, &data[..]),
        },
        Body::CsvRange { range, .. } => (range.line, data),
        Body::Raw(batch) => {
            let first = batch.items.first().map(|item| match item {
                transmogrify_io::RawItem::Record { position, .. } => position.line,
                transmogrify_io::RawItem::Bad { error, .. } => error.position.line,
            });
            (first.unwrap_or(ordinal + 1), data)
        }
    };
    let mut session = ctx.processor().session(&ctx.job.entity);
    session.set_source(input);
    session.set_next_ordinal(ordinal);
    session.reject(
        transmogrify_core::RecordError {
            source_name: Arc::from(input),
            position: Position::line_start(ordinal, line, chunk.start),
            kind: transmogrify_core::RecordErrorKind::Input(error.to_string()),
            excerpt: transmogrify_core::excerpt(data, 0),
        },
        data,
    )?;
    Ok(session.finish()?)
}

/// Whether `e` is at heart an operating system's error on a file (not bad data).
fn is_io(e: &Error) -> bool {
    match e {
        Error::Io { .. } | Error::Input(transmogrify_io::Error::Io { .. }) => true,
        Error::Chunk { source, .. } => is_io(source),
        _ => false,
    }
}

/// Turns the tally into a report, or into the first error in input order when the
/// run must fail (strict mode).
pub(crate) fn finish(
    tally: Tally,
    job: &Job,
    executor: &str,
    workers: usize,
    started: Instant,
) -> Result<RunReport> {
    let mut failed = tally.failed.into_inner();
    failed.sort_by_key(|(f, _)| (f.index, f.start));
    let strict = job.processor.config().on_error() == ErrorMode::Strict;
    if tally.fatal.into_inner().is_some() {
        // The output failed: report the sink's own error, not a record's.
        if let Some(i) = failed.iter().position(|(_, e)| {
            matches!(e, Error::Sink(_) | Error::Input(_) | Error::Io { .. })
                || is_io(e)
                || e.is_panic()
        }) {
            return Err(failed.swap_remove(i).1);
        }
    }
    if let Some(table) = tally.columns_past.into_inner() {
        return Err(Error::ColumnsPastLimit {
            table,
            limit: job.processor.config().max_columns(),
        });
    }
    // An option that does not fit an input (a JSON path for a JSONL file) is not bad
    // data: it fails the run in skip mode too.
    if let Some(i) = failed.iter().position(|(_, e)| {
        matches!(
            e,
            Error::Input(transmogrify_io::Error::InvalidOption { .. })
        )
    }) {
        return Err(failed.swap_remove(i).1);
    }
    if strict && !failed.is_empty() {
        let (_, error) = failed.swap_remove(0);
        return Err(error);
    }
    Ok(RunReport {
        executor: executor.to_string(),
        workers,
        records: tally.records.into_inner(),
        bad_records: tally.bad.into_inner(),
        tables: Vec::new(),
        bytes_read: tally.bytes.into_inner(),
        chunks_succeeded: tally.ok.into_inner(),
        failed_chunks: failed.into_iter().map(|(f, _)| f).collect(),
        retried_chunks: tally.retried.into_inner(),
        wall_time: started.elapsed(),
        worker_peak_rss: None,
        compressed_streams: tally.compressed_streams.into_inner(),
    })
}

/// The source byte range a reader batch covers, from its items' positions.
/// The reader format of an input chunked here (`None`: the reader tells).
fn io_format(format: InputFormat) -> Option<transmogrify_io::InputFormat> {
    match format {
        InputFormat::Json => Some(transmogrify_io::InputFormat::Json),
        InputFormat::Jsonl => Some(transmogrify_io::InputFormat::Jsonl),
        InputFormat::Reader => None,
    }
}

/// Whether `head` (after a byte order mark and whitespace) opens a JSON array.
fn opens_array(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

pub(crate) fn raw_span(batch: &transmogrify_io::RawBatch) -> (u64, u64) {
    use transmogrify_io::RawItem;
    let offset = |item: &RawItem| match item {
        RawItem::Record { position, .. } => position.byte_offset,
        RawItem::Bad { error, .. } => error.position.byte_offset,
    };
    let start = batch.items.first().map_or(0, offset);
    let end = batch.items.last().map_or(0, |item| {
        let len = match item {
            RawItem::Record { range, .. } | RawItem::Bad { range, .. } => range.len() as u64,
        };
        offset(item) + len
    });
    (start, end.max(start))
}

/// Flattens the rows of a CSV range, the first of which gets ordinal `ordinal`,
/// into `session`.
pub(crate) fn flatten_csv_range_into(
    session: &mut Session,
    source: &str,
    ranges: &transmogrify_io::CsvRanges,
    range: &transmogrify_io::CsvRange,
    ordinal: u64,
) -> Result<()> {
    let mut read = 0u64;
    for batch in ranges.reader(range)? {
        let batch = batch?;
        flatten_raw_into(session, source, &batch, ordinal + read)?;
        read += batch.len() as u64;
    }
    // The planner counted the rows to number the ranges after this one.
    if read != range.records {
        return Err(Error::io(
            source,
            std::io::Error::other(format!(
                "bytes {}..{} hold {read} CSV rows where {} were counted; \
                 was the file changed while it was read?",
                range.start, range.end, range.records
            )),
        ));
    }
    Ok(())
}

/// Flattens a reader batch whose first item gets ordinal `ordinal` into `session`,
/// after the records it holds.
pub(crate) fn flatten_raw_into(
    session: &mut Session,
    source: &str,
    batch: &transmogrify_io::RawBatch,
    ordinal: u64,
) -> Result<()> {
    use transmogrify_io::RawItem;
    let first = match batch.items.first() {
        Some(RawItem::Record { position, .. }) => position.ordinal,
        Some(RawItem::Bad { error, .. }) => error.position.ordinal,
        None => ordinal,
    };
    // Readers number records within their input; a run numbers them across inputs.
    let shift = |o: u64| o.wrapping_sub(first).wrapping_add(ordinal);
    session.set_source(source);
    for item in &batch.items {
        match item {
            RawItem::Record { range, position } => {
                let position = Position {
                    ordinal: shift(position.ordinal),
                    ..*position
                };
                batch.push_to_session(session, range, position)?;
            }
            RawItem::Bad { error, range } => {
                let mut error = error.clone();
                error.position.ordinal = shift(error.position.ordinal);
                session.reject(error, batch.bytes(range))?;
            }
        }
    }
    Ok(())
}
