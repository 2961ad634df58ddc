//! Streaming output in bounded memory: parts are spilled, final files are written
//! once the full layout of every table is known.
//!
//! See [`StreamingOutput`] for the design.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::Buffer;
use arrow_ipc::reader::FileDecoder;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_schema::{DataType, Field, Schema};
use transmogrify_core::{
    ProcessingResult, Processor, ProcessorConfig, RawChunks, RawResult, RawTable, TableSchema,
};

use crate::behind::{BehindFile, WriteBehind};
use crate::csv_widen::{Failure, Retyping, Widening};
use crate::csv_writer::CsvWriter;
use crate::error::{Error, Result};
use crate::output::{
    BatchSink, Commits, OutputFile, OutputSummary, PendingFile, Reserve, Sequential, TableJobs,
    WRITEBACK_EVERY, Writeback, gated, prepare_dir, release_free_memory, write_table,
    write_table_files, write_tables_with,
};
use crate::reader::{Reader, push_batch};
use crate::typed_text::{cell_as, converter, typed_cells};
use crate::writer::{WriteOptions, is_builtin_csv};

struct Spill {
    path: Vec<String>,
    array_levels: Vec<u32>,
    file_path: PathBuf,
    /// Open while parts are added (written behind, see [`crate::behind`]); closed
    /// before the tables are written, so that removing a written table's spill file
    /// frees its pages there and then.
    file: Option<BehindFile>,
    /// Where each frame (one Arrow IPC file per chunk) is, in order.
    frames: Vec<FrameAt>,
    /// Files of the table's frames spilled elsewhere ([`SpilledPart`]s, by worker
    /// processes): [`FrameAt::source`] `i + 1` is `sources[i]`.
    sources: Vec<PathBuf>,
    /// Bytes in this spill's own file.
    own_bytes: u64,
    /// Bytes of every frame, in this file and the others.
    bytes: u64,
    reserve: Reserve,
}

/// Where one spilled frame is: in which file (0: the spill's own, `i + 1`: its
/// source `i`), at which offset, how long.
#[derive(Debug, Clone, Copy)]
struct FrameAt {
    source: usize,
    offset: u64,
    len: u64,
}

impl Spill {
    /// Notes a frame of `len` bytes just written to the spill's own file.
    fn wrote(&mut self, len: u64) {
        self.frames.push(FrameAt {
            source: 0,
            offset: self.own_bytes,
            len,
        });
        self.own_bytes += len;
        self.bytes += len;
    }

    /// Appends frames already encoded: `bytes`, of frames `frames` long.
    fn append(&mut self, bytes: &[u8], frames: &[u64]) -> Result<()> {
        let file = self.file.as_mut().ok_or_else(closed)?;
        gated(|| file.write_all(bytes)).map_err(|e| Error::io(&self.file_path, e))?;
        for &len in frames {
            self.wrote(len);
        }
        if let Some(file) = &self.file {
            self.reserve.ahead(file.file(), self.own_bytes);
        }
        Ok(())
    }

    /// Takes in frames spilled into another file, `source`, at the places `frames`
    /// gives (offset and length).
    fn refer(&mut self, source: &Path, frames: &[(u64, u64)]) {
        let known = self.sources.iter().position(|s| s == source);
        let index = match known {
            Some(i) => i,
            None => {
                self.sources.push(source.to_path_buf());
                self.sources.len() - 1
            }
        } + 1;
        for &(offset, len) in frames {
            self.frames.push(FrameAt {
                source: index,
                offset,
                len,
            });
            self.bytes += len;
        }
    }

    /// Appends `table`'s chunks, one Arrow IPC frame each.
    fn write_frames(&mut self, table: RawChunks<'_>) -> Result<()> {
        for batch in table {
            let batch = batch?;
            let file = self.file.as_mut().ok_or_else(closed)?;
            let len = write_frame_to(file, &self.file_path, &batch, None)?;
            self.wrote(len);
            if let Some(file) = &self.file {
                self.reserve.ahead(file.file(), self.own_bytes);
            }
        }
        Ok(())
    }

    /// Closes the spill's own file once every byte handed to it is written.
    fn close(&mut self) -> Result<()> {
        match self.file.take() {
            Some(file) => file
                .finish()
                .map(drop)
                .map_err(|e| Error::io(&self.file_path, e)),
            None => Ok(()),
        }
    }

    /// Hands every frame to `each`, in order, as it is read from its file; frames
    /// from other files are checked as they are decoded (see [`decode_frame`]).
    /// `ahead`: the frames are read on a thread of their own, the next one while
    /// `each` takes the last (with a core to spare, see
    /// [`StreamingOutput::with_write_behind`]).
    fn read_frames(
        &self,
        ahead: bool,
        mut each: impl FnMut(Vec<RecordBatch>, u64) -> Result<()>,
    ) -> Result<()> {
        if !ahead {
            return self.read_each(|frame, bytes| {
                each(decode_frame(&bytes, frame.source != 0)?, frame.len)
            });
        }
        std::thread::scope(|scope| {
            let (give, take) = crossbeam::channel::bounded::<(FrameAt, Buffer)>(4);
            let reader = std::thread::Builder::new()
                .name("transmogrify-read".into())
                .spawn_scoped(scope, move || {
                    // Stops early once the frames are no longer taken.
                    self.read_each(|frame, bytes| {
                        give.send((*frame, bytes))
                            .map_err(|_| Error::Internal("spill frames no longer read".into()))
                    })
                });
            let Ok(reader) = reader else {
                return self.read_each(|frame, bytes| {
                    each(decode_frame(&bytes, frame.source != 0)?, frame.len)
                });
            };
            let taken = take.iter().try_for_each(|(frame, bytes)| {
                each(decode_frame(&bytes, frame.source != 0)?, frame.len)
            });
            drop(take);
            let read = reader
                .join()
                .unwrap_or_else(|_| Err(Error::Internal("reading a spill panicked".into())));
            // An error taking a frame comes first: the reader then only stopped.
            taken.and(read)
        })
    }

    /// Reads every frame, in order, and hands it to `each`.
    fn read_each(&self, mut each: impl FnMut(&FrameAt, Buffer) -> Result<()>) -> Result<()> {
        let mut files: Vec<Option<(BufReader<File>, u64)>> =
            (0..=self.sources.len()).map(|_| None).collect();
        for frame in &self.frames {
            let path = match frame.source {
                0 => &self.file_path,
                i => self
                    .sources
                    .get(i - 1)
                    .ok_or_else(|| Error::Internal("spill source out of range".into()))?,
            };
            let slot = files
                .get_mut(frame.source)
                .ok_or_else(|| Error::Internal("spill source out of range".into()))?;
            if slot.is_none() {
                let file = File::open(path).map_err(|e| Error::io(path, e))?;
                *slot = Some((BufReader::new(file), 0));
            }
            let Some((file, at)) = slot.as_mut() else {
                continue;
            };
            if *at != frame.offset {
                file.seek(SeekFrom::Start(frame.offset))
                    .map_err(|e| Error::io(path, e))?;
            }
            let bytes = read_frame(file, frame.len).map_err(|e| Error::io(path, e))?;
            *at = frame.offset + frame.len;
            each(frame, bytes)?;
        }
        Ok(())
    }

    /// The spill's own file and the others it took frames from.
    fn files(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.file_path).chain(&self.sources)
    }
}

/// The error for a spill written to after it was closed.
fn closed() -> Error {
    Error::Internal("spill file already closed".into())
}

/// Bytes gathered before a spill write: the Arrow IPC writer hands over a frame in
/// many small pieces (headers, padding, short buffers), which would otherwise be one
/// system call each.
const SPILL_BUFFER: usize = 256 * 1024;

/// Writes one spill frame: gathers small pieces in `buf` (shared by every table, so
/// that many tables do not each hold a buffer) if there is one (a file written
/// behind gathers them itself), passes large ones straight through, counts the
/// bytes and keeps the first I/O error (so that a full disk is reported as such,
/// not as an Arrow error).
struct FrameWriter<'w, W: Write> {
    file: &'w mut W,
    buf: Option<&'w mut Vec<u8>>,
    bytes: u64,
    error: Option<std::io::Error>,
}

impl<W: Write> FrameWriter<'_, W> {
    /// Keeps the first error and hands back a copy for the caller.
    fn keep(&mut self, e: std::io::Error) -> std::io::Error {
        let copy = std::io::Error::new(e.kind(), e.to_string());
        self.error.get_or_insert(e);
        copy
    }

    fn drain(&mut self) -> std::io::Result<()> {
        let Some(buf) = self.buf.as_deref_mut().filter(|b| !b.is_empty()) else {
            return Ok(());
        };
        let result = self.file.write_all(buf);
        buf.clear();
        result.map_err(|e| self.keep(e))
    }
}

impl<W: Write> Write for FrameWriter<'_, W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match self.buf.as_deref_mut() {
            Some(buf) if data.len() < SPILL_BUFFER => {
                if buf.len() + data.len() > SPILL_BUFFER {
                    self.drain()?;
                }
                if let Some(buf) = self.buf.as_deref_mut() {
                    buf.extend_from_slice(data);
                }
            }
            _ => {
                self.drain()?;
                self.file.write_all(data).map_err(|e| self.keep(e))?;
            }
        }
        self.bytes += data.len() as u64;
        Ok(data.len())
    }

    /// Writes what is gathered, and has the file hand over what it gathered.
    fn flush(&mut self) -> std::io::Result<()> {
        self.drain()?;
        self.file.flush().map_err(|e| self.keep(e))
    }
}

/// Writes `batch` as one spill frame at the end of `file` (at `path`, for errors),
/// gathering small pieces in `buffer` if given; the frame's length.
fn write_frame_to(
    file: &mut impl Write,
    path: &Path,
    batch: &RecordBatch,
    mut buffer: Option<&mut Vec<u8>>,
) -> Result<u64> {
    // The IPC writer's finish drains it; a frame that failed part way may have left
    // bytes in it.
    if let Some(buffer) = buffer.as_deref_mut() {
        buffer.clear();
    }
    let mut out = FrameWriter {
        file,
        buf: buffer,
        bytes: 0,
        error: None,
    };
    let written = write_frame(batch, &mut out);
    if let Some(e) = out.error.take() {
        return Err(Error::io(path, e));
    }
    written?;
    Ok(out.bytes)
}

/// Encodes `batch` (made compact where that is smaller) as one Arrow IPC file frame.
fn write_frame(batch: &RecordBatch, out: &mut impl Write) -> Result<()> {
    let compact = crate::spill_frame::compact_chunk(batch);
    let batch = compact.as_ref().unwrap_or(batch);
    IpcWriteOptions::try_new(8, false, arrow_ipc::MetadataVersion::V5)
        .and_then(|o| FileWriter::try_new_with_options(out, &batch.schema(), o))
        .and_then(|mut w| {
            w.write(batch)?;
            w.finish()
        })
        .map_err(|e| Error::arrow("spilling a chunk", e))
}

/// Makes parts ready for a [`StreamingOutput`] in the thread that flattened them
/// ([`StreamingOutput::preparer`]), so that the output, taking parts one at a time
/// and in order, only appends their bytes; and so that their arrays, thousands of
/// small buffers in a wide table, are freed by the thread that allocated them.
#[derive(Debug, Clone, Copy)]
pub struct PartPreparer {
    /// Whether the output spills parts (otherwise it writes them from their arrays).
    spill: bool,
}

/// A part made ready by a [`PartPreparer`], for [`StreamingOutput::add_prepared`].
#[derive(Debug)]
pub struct PreparedPart(Prepared);

/// A part left as it is: the output does all the work when it is added (as
/// [`StreamingOutput::add`] does), for a part the same thread adds at once.
impl From<ProcessingResult> for PreparedPart {
    fn from(part: ProcessingResult) -> Self {
        PreparedPart(Prepared::Whole(part))
    }
}

#[derive(Debug)]
enum Prepared {
    /// For an output writing parts from their arrays.
    Whole(ProcessingResult),
    /// Spilled by a [`PartSpiller`] (in another process), into the output's spill
    /// directory.
    Elsewhere(SpilledPart),
    /// Encoded as spill frames, keeping only the part's layout.
    Spilled {
        layout: ProcessingResult,
        tables: Vec<SpilledTable>,
    },
}

/// A part's chunks of one table as spill frames.
#[derive(Debug)]
struct SpilledTable {
    path: Vec<String>,
    array_levels: Vec<u32>,
    /// The frames, one after the other.
    bytes: Vec<u8>,
    /// The length of each frame.
    frames: Vec<u64>,
}

impl PartPreparer {
    /// Encodes `part` for its output, dropping its arrays.
    ///
    /// # Errors
    /// [`Error::Arrow`] when a chunk cannot be encoded.
    pub fn prepare(&self, part: ProcessingResult) -> Result<PreparedPart> {
        if !self.spill {
            return Ok(part.into());
        }
        let mut tables = Vec::new();
        for table in part.raw_tables() {
            let mut spilled = SpilledTable {
                path: table.path.clone(),
                array_levels: table.array_levels.clone(),
                bytes: Vec::new(),
                frames: Vec::new(),
            };
            for batch in table {
                let start = spilled.bytes.len();
                write_frame(&batch?, &mut spilled.bytes)?;
                spilled.frames.push((spilled.bytes.len() - start) as u64);
            }
            tables.push(spilled);
        }
        let layout = part.compact_layout();
        drop(part);
        Ok(PreparedPart(Prepared::Spilled { layout, tables }))
    }
}

/// Spills parts into files of its own, in the spill directory of a
/// [`StreamingOutput`] that may be in another process
/// ([`StreamingOutput::spill_dir`]): a worker process writes the parts it flattens
/// there and hands the output only where their frames are ([`SpilledPart`]), rather
/// than the parts themselves. Each table gets a file of the spiller's, named after
/// its `stem`, appended part after part.
///
/// ```
/// use transmogrify_core::Processor;
/// use transmogrify_io::{PartSpiller, StreamingOutput, WriteOptions};
/// let processor = Processor::default();
/// let dir = tempfile::tempdir()?;
/// let mut out = StreamingOutput::new(dir.path(), "jsonl", processor.config(), WriteOptions::default())?;
/// let spill_dir = out.spill_dir().expect("JSONL output spills its parts").to_path_buf();
/// // In a worker process, given `spill_dir`:
/// let mut spiller = PartSpiller::new(&spill_dir, "worker-1")?;
/// let spilled = spiller.spill(processor.process(br#"{"a": 1, "b": [{"c": 2}]}"#, "t")?)?;
/// assert_eq!(spilled.tables().len(), 2);
/// // Back in the output's process:
/// out.add_prepared(spilled.into())?;
/// out.finish()?;
/// assert!(std::fs::read_to_string(dir.path().join("t_b.jsonl"))?.contains(r#""c":"2""#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PartSpiller {
    dir: PathBuf,
    stem: String,
    files: HashMap<TableKey, SpillerFile>,
    /// [`FrameWriter`]'s buffer, reused for every frame.
    buffer: Vec<u8>,
}

/// One table's file of a [`PartSpiller`].
#[derive(Debug)]
struct SpillerFile {
    name: String,
    file: File,
}

/// Where the frames of a part spilled by a [`PartSpiller`] are, with the part's
/// layout: what a [`StreamingOutput`] needs of the part. It becomes a
/// [`PreparedPart`] through `From`.
#[derive(Debug)]
pub struct SpilledPart {
    layout: ProcessingResult,
    tables: Vec<SpilledFrames>,
}

/// A part's frames of one table: in which file of the output's spill directory, at
/// which offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpilledFrames {
    /// The table's path ([`transmogrify_core::RawTable::path`]).
    pub path: Vec<String>,
    /// The table's array levels ([`transmogrify_core::RawTable::array_levels`]).
    pub array_levels: Vec<u32>,
    /// The file's name in the spill directory.
    pub file: String,
    /// Each frame's offset in the file and length, in order.
    pub frames: Vec<(u64, u64)>,
}

impl SpilledPart {
    /// A part whose `layout` is its [`ProcessingResult::compact_layout`] and whose
    /// frames are where `tables` say (as sent by another process).
    pub fn new(layout: ProcessingResult, tables: Vec<SpilledFrames>) -> Self {
        SpilledPart { layout, tables }
    }

    /// The part's layout: its tables' columns and rows, records and bad records,
    /// without cells.
    pub fn layout(&self) -> &ProcessingResult {
        &self.layout
    }

    /// Where each table's frames are.
    pub fn tables(&self) -> &[SpilledFrames] {
        &self.tables
    }
}

impl From<SpilledPart> for PreparedPart {
    fn from(part: SpilledPart) -> Self {
        PreparedPart(Prepared::Elsewhere(part))
    }
}

impl PartSpiller {
    /// A spiller writing into `dir` (a [`StreamingOutput::spill_dir`]), its files'
    /// names starting with `stem` (unique among the spillers of the directory:
    /// letters, digits, `-` and `_`).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a stem of other characters.
    pub fn new(dir: impl Into<PathBuf>, stem: &str) -> Result<Self> {
        if !plain_name(stem) {
            return Err(Error::InvalidOption {
                option: "spill file stem",
                reason: format!("{stem:?} is not made of letters, digits, '-' and '_'"),
            });
        }
        Ok(PartSpiller {
            dir: dir.into(),
            stem: stem.to_string(),
            files: HashMap::new(),
            buffer: Vec::new(),
        })
    }

    /// Appends `part`'s chunks to the spiller's files (one Arrow IPC frame per
    /// chunk, as [`StreamingOutput`] spills them), and drops its arrays.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be created or written, [`Error::Arrow`] when
    /// a chunk cannot be encoded.
    pub fn spill(&mut self, part: ProcessingResult) -> Result<SpilledPart> {
        let mut tables = Vec::new();
        for table in part.raw_tables() {
            let (path, array_levels) = (table.path.clone(), table.array_levels.clone());
            let key = (path.clone(), array_levels.clone());
            let n = self.files.len();
            let file = match self.files.entry(key) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let name = format!("{}-{n}.ipc", self.stem);
                    let path = self.dir.join(&name);
                    let file =
                        gated(|| File::create_new(&path)).map_err(|e| Error::io(&path, e))?;
                    e.insert(SpillerFile { name, file })
                }
            };
            let mut frames = Vec::new();
            for batch in table {
                // Where the frame starts: the file's end, after any bytes a frame that
                // failed part way left behind (its part failed; a run that goes on,
                // in skip mode, spills the next parts after them).
                let path = self.dir.join(&file.name);
                let at = file
                    .file
                    .stream_position()
                    .map_err(|e| Error::io(&path, e))?;
                let len = write_frame_to(&mut file.file, &path, &batch?, Some(&mut self.buffer))?;
                frames.push((at, len));
            }
            tables.push(SpilledFrames {
                path,
                array_levels,
                file: file.name.clone(),
                frames,
            });
        }
        let layout = part.compact_layout();
        drop(part);
        Ok(SpilledPart { layout, tables })
    }
}

/// The path of the file `name` of a [`SpilledFrames`] in `dir`: a name a
/// [`PartSpiller`] gave (`<stem>-<n>.ipc`), so that no other file can be read as
/// a spill.
fn spilled_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let valid = name
        .strip_suffix(".ipc")
        .and_then(|stem| stem.rsplit_once('-'))
        .is_some_and(|(stem, n)| plain_name(stem) && n.bytes().all(|b| b.is_ascii_digit()));
    if !valid || name.starts_with("table-") {
        return Err(Error::Internal(format!(
            "a part was spilled into {name:?}, which is no spill file's name"
        )));
    }
    Ok(dir.join(name))
}

/// Whether `name` is made of ASCII letters, digits, `-` and `_` only (and is not
/// empty): a name that stays inside a directory, whatever the platform.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How far [`StreamingOutput::finish`] has got in writing the table files: bytes of
/// spilled parts read back into them, of all there are. CSV written as the parts
/// arrive has nothing spilled: its total stays 0.
#[derive(Debug, Default)]
pub struct WriteProgress {
    read: AtomicU64,
    total: AtomicU64,
}

impl WriteProgress {
    /// Bytes of spilled parts read back into the table files so far.
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Bytes of spilled parts in all, once the files are being written (0 before).
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

/// Writes the tables of a run given part by part, in bounded memory, with every
/// table's final column set and types.
///
/// A streamed run flattens its input in parts (a few MB of input each). Each part's
/// tables go to disk as they are, in the engine's raw Arrow form
/// ([`ProcessingResult::raw_tables`]), one spill file per table, one Arrow IPC stream
/// per chunk (each chunk has its own columns). In memory stays only one cell-less
/// layout of every part so far (each table's columns, kinds of value and row count:
/// [`ProcessingResult::merge_layout`]), as large as the tables' columns.
///
/// At the end that layout gives every table's final schema: the union of its columns
/// and, in typed mode, each column's type unified over the whole input. Each table
/// is then written in one pass over its spill file, chunk by chunk, every chunk
/// widened to the final schema (nulls where a chunk lacks a column). So a column
/// that first appears in the last record is in every output file, and memory holds
/// one part while reading plus one chunk and the writer's buffers while writing.
///
/// CSV (the built-in writer) skips the spill: each part's rows are written as CSV
/// straight into a hidden file per table, in the table's layout as known so far
/// (in typed mode, each column's cells as its type so far makes them), under the
/// header of the table's first layout. At the end a table whose layout never
/// changed after its first rows is complete as it is and only renamed. Otherwise
/// its file is written again under the final header: runs of rows written in the
/// final layout are copied as they are, earlier runs are read back and widened (an
/// empty field for each column they lack) and, where a column's type changed since,
/// its cells are made again from their JSON text (the text as written, or kept
/// aside when written otherwise: `2.50` written as `2.5` for a float column that
/// later meets a string). The bytes are the same either way.
///
/// With overwriting allowed, files of the same names are replaced; other files in
/// the directory are left alone.
///
/// ```
/// use transmogrify_core::Processor;
/// use transmogrify_io::{StreamingOutput, WriteOptions};
/// let processor = Processor::default();
/// let dir = tempfile::tempdir()?;
/// let mut out = StreamingOutput::new(dir.path(), "csv", processor.config(), WriteOptions::default())?;
/// out.add(processor.process(br#"{"a": 1}"#, "t")?)?;
/// out.add(processor.process(br#"{"a": 2, "late": "x"}"#, "t")?)?;
/// out.finish()?;
/// let text = std::fs::read_to_string(dir.path().join("t.csv"))?;
/// assert!(text.starts_with("a,late,__extract_id"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StreamingOutput {
    dir: PathBuf,
    format: String,
    options: WriteOptions,
    config: ProcessorConfig,
    spills: Vec<Spill>,
    /// Whether spill files are written behind ([`Self::with_write_behind`]).
    write_behind: bool,
    /// How far the table files are written ([`Self::with_write_progress`]).
    progress: Option<Arc<WriteProgress>>,
    /// What they are written through (on a thread of its own, or not), made with
    /// the first.
    behind: Option<WriteBehind>,
    by_key: HashMap<TableKey, usize>,
    layout: Option<ProcessingResult>,
    /// The entity whose main table is written, without rows, when no part arrives.
    entity: Option<String>,
    /// CSV tables written as parts arrive, instead of spilled (the built-in writer).
    direct: Option<DirectCsv>,
    /// Last, so that it is removed after the files in it are closed (with no file
    /// descriptor to spare, as when too many were open, it could not be).
    spill_dir: tempfile::TempDir,
}

impl StreamingOutput {
    /// Output into `dir` (checked and created now) in the registered `format`.
    pub fn new(
        dir: impl AsRef<Path>,
        format: &str,
        config: &ProcessorConfig,
        options: WriteOptions,
    ) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        options.registry.get(format)?;
        prepare_dir(&dir, options.overwrite)?;
        let spill_parent = options.spill_dir.clone().unwrap_or_else(|| dir.clone());
        if options.spill_dir.is_some() {
            // (The output directory's were removed as it was prepared.)
            crate::output::remove_leftover_spills(&spill_parent);
        }
        let mut builder = tempfile::Builder::new();
        // The process id in the name tells whose spill it is (an interrupted run removes
        // its own, and only its own: `remove_unfinished`).
        let prefix = crate::output::spill_prefix();
        builder.prefix(&prefix);
        // Only this user may read or write the spill files (they are read back
        // without being validated again).
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
        let spill_dir =
            gated(|| builder.tempdir_in(&spill_parent)).map_err(|e| Error::io(&spill_parent, e))?;
        let delimiter = options.csv_delimiter;
        let direct = (is_builtin_csv(&options.registry.get(format)?)
            && !matches!(delimiter, b'"' | b'\r' | b'\n'))
        .then(|| DirectCsv {
            delimiter,
            typed: !config.cast_to_string(),
            kept_dir: spill_dir.path().to_path_buf(),
            tables: Vec::new(),
            by_key: HashMap::new(),
            buf: Vec::new(),
            schemas: Vec::new(),
            writeback: Writeback::default(),
        });
        Ok(StreamingOutput {
            dir,
            format: format.to_string(),
            options,
            config: config.clone(),
            spill_dir,
            spills: Vec::new(),
            write_behind: false,
            progress: None,
            behind: None,
            by_key: HashMap::new(),
            layout: None,
            entity: None,
            direct,
        })
    }

    /// The entity of the run: when no part arrives (the input was empty, or every
    /// chunk failed in skip mode), [`finish`](Self::finish) still writes its main
    /// table, without rows, so that a reader of the output finds the file. Without
    /// it such a run writes no file. (The executors of `transmogrify-parallel` give
    /// their job's entity to the output of a `StreamingSink` that has none.)
    ///
    /// ```
    /// use transmogrify_core::ProcessorConfig;
    /// use transmogrify_io::{StreamingOutput, WriteOptions};
    /// let dir = tempfile::tempdir()?;
    /// let out = dir.path().join("out");
    /// let config = ProcessorConfig::default();
    /// let output = StreamingOutput::new(&out, "csv", &config, WriteOptions::default())?
    ///     .with_entity("events");
    /// output.finish()?;
    /// let text = std::fs::read_to_string(out.join("events.csv"))?;
    /// assert_eq!(text, "__extract_id,__extract_datetime\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_entity(mut self, entity: &str) -> Self {
        self.entity = Some(entity.to_string());
        self
    }

    /// The entity given with [`with_entity`](Self::with_entity), if any.
    pub fn entity(&self) -> Option<&str> {
        self.entity.as_deref()
    }

    /// Whether the spill and the table files are written behind: gathered into
    /// pieces of 256 KiB that a thread of their own writes (about 8 MiB of them at
    /// most), so that the caller goes on flattening while the kernel copies the
    /// bytes into the page cache; and each table's spilled parts read back on
    /// another while its writer encodes them. Faster where a core would otherwise
    /// be idle (one worker on a machine of two cores or more: 150 MB of API events
    /// to Parquet in 0.778 s instead of 0.835 s); where every core flattens, the
    /// threads only take turns with them. Off by default. The files are the same
    /// either way.
    ///
    /// ```
    /// use transmogrify_core::Processor;
    /// use transmogrify_io::{StreamingOutput, WriteOptions};
    /// let processor = Processor::default();
    /// let dir = tempfile::tempdir()?;
    /// let mut out = StreamingOutput::new(dir.path(), "parquet", processor.config(), WriteOptions::default())?
    ///     .with_write_behind(true);
    /// out.add(processor.process(br#"{"a": 1}"#, "t")?)?;
    /// assert_eq!(out.finish()?.files[0].rows, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_write_behind(mut self, on: bool) -> Self {
        self.write_behind = on;
        self
    }

    /// Counts into `progress` how far [`finish`](Self::finish) has got in writing
    /// the table files.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use transmogrify_core::Processor;
    /// use transmogrify_io::{StreamingOutput, WriteOptions, WriteProgress};
    /// let processor = Processor::default();
    /// let dir = tempfile::tempdir()?;
    /// let progress = Arc::new(WriteProgress::default());
    /// let mut out = StreamingOutput::new(dir.path(), "parquet", processor.config(), WriteOptions::default())?
    ///     .with_write_progress(progress.clone());
    /// out.add(processor.process(br#"{"a": 1}"#, "t")?)?;
    /// out.finish()?;
    /// assert!(progress.total() > 0);
    /// assert_eq!(progress.read(), progress.total());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_write_progress(mut self, progress: Arc<WriteProgress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Spills one part (the result of the next stretch of input, in order).
    pub fn add(&mut self, part: ProcessingResult) -> Result<()> {
        self.add_whole(&part)
    }

    fn add_whole(&mut self, part: &ProcessingResult) -> Result<()> {
        if self.direct.is_none() {
            for table in part.raw_tables() {
                self.spill_table(table)?;
            }
        }
        let changed = self.add_layout(part)?;
        if let (Some(direct), Some(layout)) = (&mut self.direct, &self.layout) {
            direct.write_part(part, layout, changed, &self.dir)?;
        }
        Ok(())
    }

    /// What [`prepare`](PartPreparer::prepare)s parts for this output, in any thread.
    pub fn preparer(&self) -> PartPreparer {
        PartPreparer {
            spill: self.direct.is_none(),
        }
    }

    /// Adds a part [`prepare`](PartPreparer::prepare)d by this output's
    /// [`preparer`](Self::preparer): [`add`](Self::add) with the spill frames
    /// already encoded. A part written from its arrays is handed back, to be
    /// dropped where the caller pleases (by the thread that made it, say); an
    /// encoded one is dropped table by table as it is written.
    pub fn add_prepared(&mut self, part: PreparedPart) -> Result<Option<ProcessingResult>> {
        match part.0 {
            Prepared::Whole(part) => self.add_whole(&part).map(|()| Some(part)),
            Prepared::Spilled { layout, tables } => {
                if self.direct.is_some() {
                    return Err(Error::Internal(
                        "a part prepared for spilling given to direct output".into(),
                    ));
                }
                for table in tables {
                    self.spill(&table.path, &table.array_levels)?
                        .append(&table.bytes, &table.frames)?;
                }
                self.add_layout(&layout).map(|_| None)
            }
            Prepared::Elsewhere(SpilledPart { layout, tables }) => {
                if self.direct.is_some() {
                    return Err(Error::Internal(
                        "a part spilled elsewhere given to direct output".into(),
                    ));
                }
                for table in tables {
                    let file = spilled_file(self.spill_dir.path(), &table.file)?;
                    self.spill(&table.path, &table.array_levels)?
                        .refer(&file, &table.frames);
                }
                self.add_layout(&layout).map(|_| None)
            }
        }
    }

    /// Where parts may be spilled by a [`PartSpiller`] (in another process) for
    /// [`add_prepared`](Self::add_prepared); none where the output writes parts from
    /// their arrays (the built-in CSV writer).
    pub fn spill_dir(&self) -> Option<&Path> {
        self.direct.is_none().then(|| self.spill_dir.path())
    }

    /// Merges a part's layout into the run's; whether the tables' schemas may change
    /// with it.
    fn add_layout(&mut self, part: &ProcessingResult) -> Result<bool> {
        match &mut self.layout {
            Some(all) => {
                let change = all.merge_layout_changes(part)?;
                // In typed mode a new kind may change a column's type.
                Ok(change.columns || (change.kinds && !self.config.cast_to_string()))
            }
            None => {
                self.layout = Some(part.compact_layout());
                Ok(true)
            }
        }
    }

    /// The spill of the table `path` (`array_levels`), opened on first use.
    fn spill(&mut self, path: &[String], array_levels: &[u32]) -> Result<&mut Spill> {
        let key = (path.to_vec(), array_levels.to_vec());
        let i = match self.by_key.get(&key) {
            Some(&i) => i,
            None => self.open_spill(key)?,
        };
        self.spills
            .get_mut(i)
            .ok_or_else(|| Error::Internal("spill index out of range".into()))
    }

    /// Opens the spill of the table `key` names; its index.
    fn open_spill(&mut self, key: TableKey) -> Result<usize> {
        let (path, array_levels) = (key.0.clone(), key.1.clone());
        let file_path = self
            .spill_dir
            .path()
            .join(format!("table-{}.ipc", self.spills.len()));
        let file = gated(|| File::create(&file_path)).map_err(|e| Error::io(&file_path, e))?;
        let thread = self.write_behind;
        let behind = self.behind.get_or_insert_with(|| {
            if thread {
                WriteBehind::start()
            } else {
                WriteBehind::inline()
            }
        });
        let file = BehindFile::new(file, behind.clone());
        self.by_key.insert(key, self.spills.len());
        self.spills.push(Spill {
            path,
            array_levels,
            file_path,
            file: Some(file),
            frames: Vec::new(),
            sources: Vec::new(),
            own_bytes: 0,
            bytes: 0,
            reserve: Reserve::default(),
        });
        Ok(self.spills.len() - 1)
    }

    /// Appends a part's chunks of one table to the table's spill file, one Arrow IPC
    /// frame per chunk.
    fn spill_table(&mut self, table: RawChunks<'_>) -> Result<()> {
        self.spill(&table.path, &table.array_levels)?
            .write_frames(table)
    }

    /// The merged layout of every part so far (no cells).
    pub fn layout(&self) -> Option<&ProcessingResult> {
        self.layout.as_ref()
    }

    /// Writes every table with its final schema, then the errors table and the data
    /// dictionary; removes the spill files.
    pub fn finish(self) -> Result<OutputSummary> {
        self.finish_with(&Sequential)
    }

    /// [`StreamingOutput::finish`], with the table files written by `jobs` (which may
    /// write several at once).
    pub fn finish_with(mut self, jobs: &dyn TableJobs) -> Result<OutputSummary> {
        for spill in &mut self.spills {
            spill.close()?;
        }
        let layout = match (self.layout.take(), &self.entity) {
            (Some(layout), _) => layout,
            (None, Some(entity)) => ProcessingResult::empty(entity, self.config.clone()),
            (None, None) => return Ok(OutputSummary::default()),
        };
        let schemas = layout.schemas()?;
        release_free_memory();
        if let Some(direct) = self.direct.take() {
            let summary = direct.finish(
                &self.dir,
                &self.format,
                &self.options,
                &layout,
                &schemas,
                jobs,
            )?;
            self.spill_dir
                .close()
                .map_err(|e| Error::io(&self.dir, e))?;
            return Ok(summary);
        }
        let entity = layout.entity_name().to_string();
        let (spills, by_key, config) = (&self.spills, &self.by_key, &self.config);
        let progress = self.progress.as_deref();
        let remover = Remover::start();
        // With a core to spare (the spill was written behind), each table's frames
        // are read ahead of its writer.
        let ahead = self.write_behind;
        let convert = converter(&self.options.registry.get(&self.format)?);
        let batches_of = |schema: &TableSchema, sink: &mut BatchSink<'_>| -> Result<()> {
            let key = table_key(schema);
            let Some(&i) = by_key.get(&key) else {
                return Ok(());
            };
            let spill = spills
                .get(i)
                .ok_or_else(|| Error::Internal("spill index out of range".into()))?;
            spill.read_frames(ahead, |batches, bytes| {
                for batch in batches {
                    let batch = crate::spill_frame::expand_chunk(batch)?;
                    let raw = RawResult {
                        entity: entity.clone(),
                        records: 0,
                        tables: vec![RawTable {
                            path: spill.path.clone(),
                            array_levels: spill.array_levels.clone(),
                            batches: vec![batch],
                        }],
                        errors: None,
                    };
                    let part = ProcessingResult::from_raw(raw, config.clone())?;
                    for out in part.batches_converted(schema, convert) {
                        sink(&out?)?;
                    }
                }
                if let Some(progress) = progress {
                    progress.read.fetch_add(bytes, Ordering::Relaxed);
                }
                Ok(())
            })?;
            // Read: its page-cache pages go now rather than all at once at the end,
            // while the writers go on. (Whatever is left goes with the directory.)
            for file in spill.files() {
                remover.remove(file);
            }
            Ok(())
        };
        let sizes: Vec<u64> = schemas
            .iter()
            .map(|schema| {
                by_key
                    .get(&table_key(schema))
                    .and_then(|&i| spills.get(i))
                    .map_or(0, |spill| spill.bytes)
            })
            .collect();
        if let Some(progress) = progress {
            progress
                .total
                .store(sizes.iter().sum::<u64>(), Ordering::Relaxed);
        }
        // Writers spill (a wide Parquet table's footer) where the parts were, and
        // write the files behind if the parts were.
        let options = WriteOptions {
            spill_dir: Some(self.spill_dir.path().to_path_buf()),
            behind: self.behind.take().filter(|_| self.write_behind),
            ..self.options.clone()
        };
        let summary = write_tables_with(
            &self.dir,
            &self.format,
            &options,
            &layout,
            &schemas,
            &sizes,
            &batches_of,
            jobs,
        )?;
        remover.finish();
        drop(self.spills);
        self.spill_dir
            .close()
            .map_err(|e| Error::io(&self.dir, e))?;
        Ok(summary)
    }
}

/// Removes spill files on a thread of its own, so that freeing a read spill's
/// page-cache pages (a few milliseconds for tens of megabytes) does not hold up the
/// table writers; on the calling thread if no thread can be started.
struct Remover {
    queue: Option<std::sync::mpsc::Sender<PathBuf>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Remover {
    fn start() -> Remover {
        let (queue, paths) = std::sync::mpsc::channel::<PathBuf>();
        let thread = std::thread::Builder::new()
            .name("tm-remove".into())
            .spawn(move || {
                for path in paths {
                    let _ = std::fs::remove_file(path);
                }
            })
            .ok();
        Remover {
            queue: thread.is_some().then_some(queue),
            thread,
        }
    }

    /// Removes `path`, now or soon; errors are ignored (the spill directory goes at
    /// the end with whatever is left in it).
    fn remove(&self, path: &Path) {
        let queued = self
            .queue
            .as_ref()
            .is_some_and(|q| q.send(path.to_path_buf()).is_ok());
        if !queued {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Waits until every file handed over is removed.
    fn finish(mut self) {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The CSV tables of a streamed output, written part by part (see
/// [`StreamingOutput`]).
struct DirectCsv {
    delimiter: u8,
    /// Typed mode: each cell is written as its column's type so far makes it.
    typed: bool,
    /// Where the text of typed cells written as another is kept ([`Kept`]).
    kept_dir: PathBuf,
    tables: Vec<DirectTable>,
    by_key: HashMap<TableKey, usize>,
    /// The CSV writer's block buffer, handed from one part's writer to the next.
    buf: Vec<u8>,
    /// The tables' layouts as of the last part that brought a new table or column.
    schemas: Vec<TableSchema>,
    writeback: Writeback,
}

/// One table's CSV file while the run goes on.
struct DirectTable {
    /// Hidden in the output directory until committed; removed if never committed.
    pending: PendingFile,
    file: File,
    /// Column names of the header at the top of the file.
    header: Vec<String>,
    /// Runs of rows written with one layout each, in file order.
    segments: Vec<Segment>,
    /// The layout of the last run: each later one extends it
    /// ([`TableSchema::extends`]), so the runs need keep only their column counts.
    layout: Option<TableSchema>,
    /// Bytes in the file.
    bytes: u64,
    rows: u64,
    /// Bytes written since writeback was last started.
    unsynced: u64,
    reserve: Reserve,
    /// Typed mode: the text of the cells not written as their JSON text.
    kept: Option<Kept>,
}

/// In typed mode, a column's cells are written as its type so far makes them (`5`
/// in a float column as `5.0`, `2.50` as `2.5`). Should a later value change the
/// column's type, the rows written are made again from their cells' JSON text: the
/// text as written where it is that text, else the text kept here. Each frame holds
/// a written batch's columns whose cells were written otherwise (an Arrow IPC file
/// of text columns), in the table's spill directory.
struct Kept {
    path: PathBuf,
    file: File,
    frames: Vec<KeptFrame>,
    bytes: u64,
}

/// The kept text of some data columns for rows `first..first + rows` of a table.
struct KeptFrame {
    first: u64,
    rows: u64,
    /// The data columns, in the frame's order.
    columns: Vec<usize>,
    offset: u64,
    len: u64,
}

/// Rows `start..end` (bytes) of a table's file, written in a layout of `columns`
/// columns of which the first `data` are data columns: the table's final layout
/// extends it (see [`TableSchema::extends`]).
struct Segment {
    data: usize,
    columns: usize,
    start: u64,
    end: u64,
    /// The table's rows before the run.
    first_row: u64,
    /// Typed mode: the data columns written as a type other than `Utf8`, with values
    /// in the run (by index), their types as written and whether written as their
    /// JSON text.
    typed: BTreeMap<usize, (DataType, bool)>,
}

impl Segment {
    /// Whether the rows are laid out as `schema`'s (which extends theirs).
    fn fits(&self, schema: &TableSchema) -> bool {
        self.data == schema.data_columns() && self.columns == schema.schema.fields().len()
    }

    /// The data columns whose cells must be made again for `schema`'s types: written
    /// as another type, unless as their JSON text for a `Utf8` column.
    fn retyped(&self, schema: &TableSchema) -> Vec<usize> {
        let fields = schema.schema.fields();
        self.typed
            .iter()
            .filter(|&(&i, (written, faithful))| {
                fields.get(i).is_some_and(|f| {
                    f.data_type() != written && !(*faithful && *f.data_type() == DataType::Utf8)
                })
            })
            .map(|(&i, _)| i)
            .collect()
    }
}

/// The cells of a chunk's `columns` (every data cell as its JSON text) as written in
/// typed mode: each typed data column's (not `Utf8`) as its type so far makes them.
/// Notes in `runs` the typed data columns with values, with their types and whether
/// every cell is written as its JSON text; returns (also) those that are not.
fn typed_cells_of(
    schema: &TableSchema,
    columns: &[ArrayRef],
    runs: &mut BTreeMap<usize, (DataType, bool)>,
) -> Result<(Vec<ArrayRef>, Vec<usize>)> {
    let mut cells = columns.to_vec();
    let mut otherwise = Vec::new();
    let fields = schema.schema.fields().iter().take(schema.data_columns());
    for ((i, field), slot) in fields.enumerate().zip(&mut cells) {
        let data_type = field.data_type();
        // A column the chunk lacks is an array of nulls of its type.
        if *data_type == DataType::Utf8
            || slot.data_type() != &DataType::Utf8
            || slot.null_count() == slot.len()
        {
            continue;
        }
        let written = typed_cells(slot, data_type)?;
        let faithful = same_text(slot, &written);
        if !faithful {
            otherwise.push(i);
        }
        *slot = written;
        runs.entry(i)
            .and_modify(|w| w.1 &= faithful)
            .or_insert_with(|| (data_type.clone(), faithful));
    }
    Ok((cells, otherwise))
}

/// Whether `cells` holds the text `text` holds (`false` when unsure: the cells are
/// then kept, which costs a little space and no correctness).
fn same_text(text: &ArrayRef, cells: &ArrayRef) -> bool {
    if Arc::ptr_eq(text, cells) {
        return true;
    }
    match (text.as_string_opt::<i32>(), cells.as_string_opt::<i32>()) {
        (Some(a), Some(b)) => {
            a.value_offsets() == b.value_offsets()
                && a.value_data() == b.value_data()
                && a.nulls() == b.nulls()
        }
        _ => false,
    }
}

/// Keeps the JSON text of `columns` of `original` (the table's rows from `first`
/// on) in the table's [`Kept`] file, made in `dir` for table `table`.
fn keep(
    kept: &mut Option<Kept>,
    dir: &Path,
    table: usize,
    first: u64,
    original: &[ArrayRef],
    columns: &[usize],
) -> Result<()> {
    let kept = match kept {
        Some(kept) => kept,
        None => {
            let path = dir.join(format!("kept-{table}.ipc"));
            let file = gated(|| File::create(&path)).map_err(|e| Error::io(&path, e))?;
            kept.insert(Kept {
                path,
                file,
                frames: Vec::new(),
                bytes: 0,
            })
        }
    };
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(format!("c{c}"), DataType::Utf8, true))
        .collect();
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|&c| {
            original
                .get(c)
                .cloned()
                .ok_or_else(|| Error::Internal("kept column out of range".into()))
        })
        .collect::<Result<_>>()?;
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| Error::arrow("keeping typed cells", e))?;
    let mut frame = Vec::new();
    IpcWriteOptions::try_new(8, false, arrow_ipc::MetadataVersion::V5)
        .and_then(|o| FileWriter::try_new_with_options(&mut frame, &batch.schema(), o))
        .and_then(|mut w| {
            w.write(&batch)?;
            w.finish()
        })
        .map_err(|e| Error::arrow("keeping typed cells", e))?;
    kept.file
        .write_all(&frame)
        .map_err(|e| Error::io(&kept.path, e))?;
    kept.frames.push(KeptFrame {
        first,
        rows: batch.num_rows() as u64,
        columns: columns.to_vec(),
        offset: kept.bytes,
        len: frame.len() as u64,
    });
    kept.bytes += frame.len() as u64;
    Ok(())
}

/// Counts the bytes written to a file.
struct Counted<'f> {
    file: &'f mut File,
    bytes: u64,
}

impl Write for Counted<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(data)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// `e`, an I/O error of a writer that did not know its file, placed at `path`.
fn at(e: Error, path: &Path) -> Error {
    match e {
        Error::Io { source, .. } => Error::io(path, source),
        other => other,
    }
}

/// A table by its array path: its keys and where the arrays come in them.
type TableKey = (Vec<String>, Vec<u32>);

/// The [`TableKey`] of the table `schema` describes.
fn table_key(schema: &TableSchema) -> TableKey {
    (schema.path.clone(), schema.array_levels.clone())
}

/// The column names of a table's header.
fn names(schema: &TableSchema) -> Vec<String> {
    schema
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

impl DirectCsv {
    /// Appends the rows of `part` to the tables' files, in the layout of `layout`
    /// (every part so far, this one included; `changed` if this part brought a new
    /// table or column to it, which only then is worked out again).
    fn write_part(
        &mut self,
        part: &ProcessingResult,
        layout: &ProcessingResult,
        changed: bool,
        dir: &Path,
    ) -> Result<()> {
        if changed || self.schemas.is_empty() {
            self.schemas = layout.schemas()?;
        }
        let schemas = std::mem::take(&mut self.schemas);
        let written = self.write_tables(part, &schemas, dir);
        self.schemas = schemas;
        written
    }

    /// [`DirectCsv::write_part`] with the layouts at hand.
    fn write_tables(
        &mut self,
        part: &ProcessingResult,
        schemas: &[TableSchema],
        dir: &Path,
    ) -> Result<()> {
        let keep_text = |a: &ArrayRef, _: &DataType| Ok(Arc::clone(a));
        for schema in schemas {
            // Typed mode: every data cell as its JSON text, rendered below.
            let mut chunks = part.columns_converted(schema, &keep_text).peekable();
            if chunks.peek().is_none() {
                continue;
            }
            let key = table_key(schema);
            let (i, fresh) = match self.by_key.get(&key) {
                Some(&i) => (i, false),
                None => {
                    // Unique to this process and file: several outputs may share a
                    // directory (entities streamed side by side).
                    static FILES: std::sync::atomic::AtomicU64 =
                        std::sync::atomic::AtomicU64::new(0);
                    let tmp = dir.join(crate::output::table_temp_name(
                        FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                    ));
                    // Read back if the table's layout changes later; never an existing
                    // file taken over.
                    let file = gated(|| {
                        File::options()
                            .read(true)
                            .write(true)
                            .create_new(true)
                            .open(&tmp)
                    })
                    .map_err(|e| Error::io(&tmp, e))?;
                    self.by_key.insert(key, self.tables.len());
                    self.tables.push(DirectTable {
                        pending: PendingFile::temporary(tmp),
                        file,
                        header: names(schema),
                        segments: Vec::new(),
                        layout: None,
                        bytes: 0,
                        rows: 0,
                        unsynced: 0,
                        reserve: Reserve::default(),
                        kept: None,
                    });
                    (self.tables.len() - 1, true)
                }
            };
            let table = self
                .tables
                .get_mut(i)
                .ok_or_else(|| Error::Internal("table index out of range".into()))?;
            let mut out = Counted {
                file: &mut table.file,
                bytes: 0,
            };
            let tmp = table.pending.tmp();
            let same = match &table.layout {
                Some(last) if last.same_columns(schema) => true,
                Some(last) if !schema.extends_untyped(last) => {
                    return Err(Error::Internal(format!(
                        "the columns of table {} changed order between parts",
                        schema.name
                    )));
                }
                _ => false,
            };
            let mut buf = std::mem::take(&mut self.buf);
            if fresh {
                let mut writer = CsvWriter::rows_into(&mut out, self.delimiter, buf);
                writer.header(&schema.schema).map_err(|e| at(e, tmp))?;
                buf = writer.end_rows().map_err(|e| at(e, tmp))?.1;
            }
            let start = table.bytes + out.bytes;
            let first_row = table.rows;
            let mut typed = BTreeMap::new();
            let mut row = first_row;
            let mut writer = CsvWriter::rows_into(&mut out, self.delimiter, buf);
            for chunk in chunks {
                let (columns, rows) = chunk?;
                if self.typed {
                    let (cells, otherwise) = typed_cells_of(schema, &columns, &mut typed)?;
                    if !otherwise.is_empty() {
                        keep(
                            &mut table.kept,
                            &self.kept_dir,
                            i,
                            row,
                            &columns,
                            &otherwise,
                        )?;
                    }
                    writer.write_columns(&cells, rows)
                } else {
                    writer.write_columns(&columns, rows)
                }
                .map_err(|e| at(e, tmp))?;
                row += rows as u64;
            }
            let (rows, buf) = writer.end_rows().map_err(|e| at(e, tmp))?;
            self.buf = buf;
            let written = out.bytes;
            table.bytes += written;
            table.rows += rows;
            match table.segments.last_mut() {
                Some(last) if same => {
                    last.end = table.bytes;
                    for (i, (data_type, faithful)) in typed {
                        last.typed
                            .entry(i)
                            .and_modify(|w| w.1 &= faithful)
                            .or_insert((data_type, faithful));
                    }
                }
                _ => {
                    table.segments.push(Segment {
                        data: schema.data_columns(),
                        columns: schema.schema.fields().len(),
                        start,
                        end: table.bytes,
                        first_row,
                        typed,
                    });
                    table.layout = Some(schema.clone());
                }
            }
            table.unsynced += written;
            if table.unsynced >= WRITEBACK_EVERY {
                self.writeback.start(&table.file, table.unsynced);
                table.unsynced = 0;
            }
            table.reserve.ahead(&table.file, table.bytes);
        }
        Ok(())
    }

    /// Commits every table's file under its final name (written again where the
    /// layout changed), then the errors table and the data dictionary.
    fn finish(
        self,
        dir: &Path,
        format: &str,
        options: &WriteOptions,
        layout: &ProcessingResult,
        schemas: &[TableSchema],
        jobs: &dyn TableJobs,
    ) -> Result<OutputSummary> {
        let DirectCsv {
            delimiter,
            mut tables,
            by_key,
            ..
        } = self;
        // Every file is cut back to its data before any is synced: a file system
        // such as ext4 makes a cut wait for the journal commit a sync has started.
        for table in &mut tables {
            table
                .reserve
                .release(&table.file, table.bytes)
                .map_err(|e| Error::io(table.pending.tmp(), e))?;
        }
        let sizes: Vec<u64> = schemas
            .iter()
            .map(|s| {
                by_key
                    .get(&table_key(s))
                    .and_then(|&i| tables.get(i))
                    .map_or(0, |t| t.bytes)
            })
            .collect();
        let tables: Vec<std::sync::Mutex<Option<DirectTable>>> = tables
            .into_iter()
            .map(|t| std::sync::Mutex::new(Some(t)))
            .collect();
        let factory = options.registry.get(format)?;
        let table_file = |schema: &TableSchema, options: &WriteOptions, commits: &Commits| {
            let file_name = format!("{}.{}", schema.file_stem, factory.extension());
            let table = by_key
                .get(&table_key(schema))
                .and_then(|&i| tables.get(i))
                .and_then(|t| {
                    t.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .take()
                });
            let Some(table) = table else {
                // A table without rows: its header only.
                return write_table(dir, commits, factory.as_ref(), options, schema, &mut |_| {
                    Ok(())
                });
            };
            finish_table(table, schema, &file_name, dir, delimiter, commits)
        };
        write_table_files(
            dir,
            format,
            options,
            layout,
            schemas,
            &sizes,
            &table_file,
            jobs,
        )
    }
}

/// Commits one table's file: as it is when every row was written in the final
/// layout under the final header, else written again (see [`StreamingOutput`]).
fn finish_table(
    table: DirectTable,
    schema: &TableSchema,
    file_name: &str,
    dir: &Path,
    delimiter: u8,
    commits: &Commits,
) -> Result<OutputFile> {
    let DirectTable {
        pending,
        file: mut written,
        header,
        segments,
        layout,
        rows,
        bytes,
        kept,
        ..
    } = table;
    if layout.is_some_and(|last| !schema.extends_untyped(&last)) {
        return Err(Error::Internal(format!(
            "the final columns of table {} do not extend those written",
            schema.name
        )));
    }
    let retyped: Vec<Vec<usize>> = segments.iter().map(|s| s.retyped(schema)).collect();
    let done = header == names(schema)
        && segments.iter().all(|s| s.fits(schema))
        && retyped.iter().all(Vec::is_empty);
    if done {
        let pending = pending.named(dir, file_name);
        let path = pending.dest().to_path_buf();
        commits.add_file(pending, written)?;
        return Ok(OutputFile {
            table: schema.name.clone(),
            path,
            rows,
            bytes,
        });
    }
    let fresh = PendingFile::new(dir, file_name);
    let mut file = gated(|| File::create(fresh.tmp())).map_err(|e| Error::io(fresh.tmp(), e))?;
    let source = pending.tmp().to_path_buf();
    let read_err = |e: std::io::Error| Error::io(&source, e);
    let write_err = |e: std::io::Error| Error::io(fresh.tmp(), e);
    let mut out = Counted {
        file: &mut file,
        bytes: 0,
    };
    let mut writer = CsvWriter::rows_into(&mut out, delimiter, Vec::new());
    writer
        .header(&schema.schema)
        .map_err(|e| at(e, fresh.tmp()))?;
    writer.end_rows().map_err(|e| at(e, fresh.tmp()))?;
    let mut kept_cells = KeptCells {
        kept: kept.as_ref(),
        file: None,
        next: 0,
        current: None,
    };
    let fields = schema.schema.fields();
    for (segment, retyped) in segments.iter().zip(&retyped) {
        written
            .seek(SeekFrom::Start(segment.start))
            .map_err(read_err)?;
        let mut run = (&written).take(segment.end - segment.start);
        if segment.fits(schema) && retyped.is_empty() {
            let copied = std::io::copy(&mut run, &mut *out.file).map_err(write_err)?;
            out.bytes += copied;
            continue;
        }
        // The run's data columns are the first final ones; the columns after them
        // come after the new ones.
        let widening = Widening {
            delimiter,
            columns: segment.columns,
            at: segment.data,
            added: fields.len().saturating_sub(segment.columns),
        };
        let copied = if retyped.is_empty() {
            widening.copy(run, &mut *out.file)
        } else {
            let types: Vec<&DataType> = retyped
                .iter()
                .filter_map(|&i| fields.get(i).map(|f| f.data_type()))
                .collect();
            let mut render = |row: u64, p: usize, text: Option<&[u8]>, out: &mut Vec<u8>| {
                let (Some(&column), Some(to)) = (retyped.get(p), types.get(p)) else {
                    return Err(Failure::Row("a retyped column out of range".into()));
                };
                let kept = kept_cells
                    .text(segment.first_row + row, column)
                    .map_err(Failure::Other)?;
                let Some(text) = kept.unwrap_or(text) else {
                    return Ok(());
                };
                let text = std::str::from_utf8(text)
                    .map_err(|_| Failure::Row("a cell is not UTF-8".into()))?;
                cell_as(text, to, out).map_err(Failure::Other)
            };
            Retyping {
                widening,
                columns: retyped,
            }
            .copy(run, &mut *out.file, &mut render)
        };
        out.bytes += copied.map_err(|e| match e {
            Failure::Read(e) => Error::io(&source, e),
            Failure::Write(e) => Error::io(fresh.tmp(), e),
            Failure::Row(what) => Error::Internal(format!(
                "reading back rows of {} from {}: {what}",
                schema.name,
                source.display()
            )),
            Failure::Other(e) => e,
        })?;
    }
    drop(kept_cells);
    if let Some(kept) = kept {
        drop(kept.file);
        let _ = std::fs::remove_file(&kept.path);
    }
    let bytes = out.bytes;
    drop(written);
    drop(pending);
    let path = fresh.dest().to_path_buf();
    commits.add_file(fresh, file)?;
    Ok(OutputFile {
        table: schema.name.clone(),
        path,
        rows,
        bytes,
    })
}

/// The kept text of a table's cells ([`Kept`]), read a frame at a time as the rows
/// written are read back in order.
struct KeptCells<'k> {
    kept: Option<&'k Kept>,
    file: Option<BufReader<File>>,
    /// The first frame not wholly before the row last asked for.
    next: usize,
    /// The frame `next`, once read.
    current: Option<(usize, RecordBatch)>,
}

impl KeptCells<'_> {
    /// The kept text of row `row` of data column `column` (`Some(None)` for a null),
    /// `None` if not kept. Rows are asked for in ascending order.
    fn text(&mut self, row: u64, column: usize) -> Result<Option<Option<&[u8]>>> {
        let Some(kept) = self.kept else {
            return Ok(None);
        };
        while kept
            .frames
            .get(self.next)
            .is_some_and(|f| f.first + f.rows <= row)
        {
            self.next += 1;
        }
        let Some(frame) = kept.frames.get(self.next) else {
            return Ok(None);
        };
        let Some(at) = frame.columns.iter().position(|&c| c == column) else {
            return Ok(None);
        };
        if frame.first > row {
            return Ok(None);
        }
        if self.current.as_ref().is_none_or(|(i, _)| *i != self.next) {
            let file = match &mut self.file {
                Some(file) => file,
                None => {
                    let file = File::open(&kept.path).map_err(|e| Error::io(&kept.path, e))?;
                    self.file.insert(BufReader::new(file))
                }
            };
            file.seek(SeekFrom::Start(frame.offset))
                .map_err(|e| Error::io(&kept.path, e))?;
            let bytes = read_frame(file, frame.len).map_err(|e| Error::io(&kept.path, e))?;
            let batch = decode_frame(&bytes, false)?
                .into_iter()
                .next()
                .ok_or_else(|| Error::Internal("a kept frame without rows".into()))?;
            self.current = Some((self.next, batch));
        }
        let text = self
            .current
            .as_ref()
            .and_then(|(_, batch)| batch.columns().get(at))
            .and_then(|a| a.as_string_opt::<i32>())
            .ok_or_else(|| Error::Internal("a kept column is not text".into()))?;
        let i = usize::try_from(row - frame.first)
            .map_err(|_| Error::Internal("kept row out of range".into()))?;
        if i >= text.len() {
            return Err(Error::Internal("kept row out of range".into()));
        }
        Ok(Some(text.is_valid(i).then(|| text.value(i).as_bytes())))
    }
}

/// The next frame of a spill file, `len` bytes, read without zeroing a buffer first.
fn read_frame(file: &mut impl Read, len: u64) -> std::io::Result<Buffer> {
    let mut frame = Vec::with_capacity(
        usize::try_from(len).map_err(|_| std::io::Error::other("spill frame too large"))?,
    );
    file.take(len).read_to_end(&mut frame)?;
    if frame.len() as u64 != len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Buffer::from_vec(frame))
}

/// The chunks of one spill frame (an Arrow IPC file), as slices of the frame itself;
/// with `check`, each checked ([`check_decoded`](crate::check_decoded)) for a frame
/// another process wrote.
fn decode_frame(frame: &Buffer, check: bool) -> Result<Vec<RecordBatch>> {
    let bad = |what: &str| Error::Internal(format!("a spilled chunk is damaged: {what}"));
    let trailer_start = frame
        .len()
        .checked_sub(10)
        .ok_or_else(|| bad("too short"))?;
    let trailer: [u8; 10] = frame
        .get(trailer_start..)
        .and_then(|t| t.try_into().ok())
        .ok_or_else(|| bad("no trailer"))?;
    let footer_len = arrow_ipc::reader::read_footer_length(trailer)
        .map_err(|e| Error::arrow("reading a spilled chunk", e))?;
    let footer_bytes = trailer_start
        .checked_sub(footer_len)
        .and_then(|start| frame.get(start..trailer_start))
        .ok_or_else(|| bad("footer out of range"))?;
    let footer = arrow_ipc::root_as_footer(footer_bytes).map_err(|e| bad(&e.to_string()))?;
    let schema =
        arrow_ipc::convert::try_fb_to_schema(footer.schema().ok_or_else(|| bad("no schema"))?)
            .map_err(|e| Error::arrow("reading a spilled chunk", e))?;
    // SAFETY: the frame is an Arrow IPC file this run wrote moments ago, from arrays
    // the engine built and checked, into a temporary directory of its own (created
    // private, removed at the end). Checking it again (the UTF-8 of every string)
    // would cost 6% of a run's instructions. A frame another process wrote is
    // checked below before any of its arrays is read.
    let mut decoder = unsafe {
        FileDecoder::new(std::sync::Arc::new(schema), footer.version()).with_skip_validation(true)
    };
    let block_of = |block: &arrow_ipc::Block| -> Result<Buffer> {
        let offset = usize::try_from(block.offset()).map_err(|_| bad("block offset"))?;
        let len = usize::try_from(block.metaDataLength())
            .ok()
            .zip(usize::try_from(block.bodyLength()).ok())
            .map(|(m, b)| m + b)
            .ok_or_else(|| bad("block length"))?;
        if offset.checked_add(len).is_none_or(|end| end > frame.len()) {
            return Err(bad("block out of range"));
        }
        Ok(frame.slice_with_length(offset, len))
    };
    for block in footer.dictionaries().iter().flatten() {
        decoder
            .read_dictionary(block, &block_of(block)?)
            .map_err(|e| Error::arrow("reading a spilled chunk", e))?;
    }
    let mut batches = Vec::new();
    for block in footer.recordBatches().iter().flatten() {
        if let Some(batch) = decoder
            .read_record_batch(block, &block_of(block)?)
            .map_err(|e| Error::arrow("reading a spilled chunk", e))?
        {
            if check {
                crate::check_decoded(&batch)?;
            }
            batches.push(batch);
        }
    }
    Ok(batches)
}

/// Flattens everything `reader` yields and writes it into `dir` in `format`, in
/// bounded memory: a part is cut every [`WriteOptions`] `part_bytes` of input.
///
/// ```
/// use transmogrify_core::Processor;
/// use transmogrify_io::{Input, ReaderOptions, WriteOptions, reader_for, stream_to_dir};
/// let input = Input::from_bytes("in.jsonl", b"{\"a\":1}\n{\"a\":2,\"b\":[{\"c\":1}]}\n".to_vec())?;
/// let mut reader = reader_for(input, &ReaderOptions::default())?;
/// let dir = tempfile::tempdir()?;
/// let summary = stream_to_dir(&Processor::default(), &mut *reader, "t", dir.path(), "jsonl", WriteOptions::default())?;
/// assert_eq!(summary.files.iter().map(|f| f.rows).collect::<Vec<_>>(), [2, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn stream_to_dir<R: Reader + ?Sized>(
    processor: &Processor,
    reader: &mut R,
    entity_name: &str,
    dir: impl AsRef<Path>,
    format: &str,
    options: WriteOptions,
) -> Result<OutputSummary> {
    let part_bytes = options.part_bytes.max(1);
    let mut out = StreamingOutput::new(dir, format, processor.config(), options)?;
    let source = reader.source_name().to_string();
    // A table's columns count against the limit over every part.
    let seen = transmogrify_core::ColumnsSeen::default();
    let mut session = processor
        .session(entity_name)
        .with_columns_seen(seen.clone());
    session.set_source(&source);
    let mut bytes = 0usize;
    for batch in &mut *reader {
        let batch = batch?;
        push_batch(&mut session, &batch)?;
        bytes += batch.data.len();
        if bytes >= part_bytes {
            let next = session.next_ordinal();
            let mut fresh = processor
                .session(entity_name)
                .with_columns_seen(seen.clone());
            fresh.set_source(&source);
            fresh.set_next_ordinal(next);
            out.add(std::mem::replace(&mut session, fresh).finish()?)?;
            bytes = 0;
        }
    }
    out.add(session.finish()?)?;
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spiller's next frame starts at its file's end, after whatever bytes a frame
    /// that failed part way left there: the parts spilled before and after them are
    /// read back as they were.
    #[test]
    fn bytes_a_failed_frame_left_are_passed_over() -> Result<()> {
        let config = ProcessorConfig::builder()
            .with_id_strategy(transmogrify_core::IdStrategy::Positional)
            .with_extract_time(Some(0))
            .build()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let processor = Processor::new(config);
        let dir = tempfile::tempdir().map_err(|e| Error::io("<temp>", e))?;
        let texts = [r#"{"a": 1, "k": [{"b": 1}]}"#, r#"{"a": 2, "c": "x"}"#];
        let mut outputs = Vec::new();
        for spilled in [false, true] {
            let out_dir = dir.path().join(format!("out-{spilled}"));
            let options = WriteOptions::default();
            let mut out = StreamingOutput::new(&out_dir, "jsonl", processor.config(), options)?;
            let spill_dir = out
                .spill_dir()
                .ok_or_else(|| Error::Internal("JSONL output spills".into()))?
                .to_path_buf();
            let mut spiller = PartSpiller::new(&spill_dir, "w1")?;
            for (ordinal, text) in (0..).zip(texts) {
                let part = processor.process_at(text.as_bytes(), "t", ordinal)?;
                if !spilled {
                    out.add(part)?;
                    continue;
                }
                let done = spiller.spill(part)?;
                // What a frame that failed part way leaves after the part's frames.
                for file in spiller.files.values_mut() {
                    file.file
                        .write_all(b"left behind")
                        .map_err(|e| Error::io(&file.name, e))?;
                }
                out.add_prepared(done.into())?;
            }
            out.finish()?;
            let read = |name: &str| std::fs::read_to_string(out_dir.join(name));
            let files = (read("t.jsonl"), read("t_k.jsonl"));
            outputs.push((
                files.0.map_err(|e| Error::io("t.jsonl", e))?,
                files.1.map_err(|e| Error::io("t_k.jsonl", e))?,
            ));
        }
        assert_eq!(outputs[1], outputs[0]);
        assert_eq!(outputs[0].1.lines().count(), 1);
        Ok(())
    }
}
