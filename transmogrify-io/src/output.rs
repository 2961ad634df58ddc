//! Output layout: `<dir>/<file_stem>.<ext>` per table, an errors table, the data
//! dictionary, files that appear only once complete; and the
//! [`WriteResultExt`] extension trait of [`ProcessingResult`].

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};
use serde_json::{Value, json};
use transmogrify_core::{ColumnRole, Convert, ProcessingResult, TableSchema};

use crate::behind::{BehindFile, Finishing};
use crate::error::{Error, Result};
use crate::spare::Spare;
use crate::typed_text::converter;
use crate::writer::{DATA_DICTIONARY_FILE, WriteOptions, WriteSummary, WriterFactory};

/// One file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// The table's name (`<entity>_errors` for bad records).
    pub table: String,
    /// Where the file is (for in-memory output, just its file name).
    pub path: PathBuf,
    /// Rows written.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// What a run wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputSummary {
    /// One entry per table file (errors table included), in table order.
    pub files: Vec<OutputFile>,
    /// The data dictionary, if written.
    pub dictionary: Option<PathBuf>,
    /// The errors table's name, if it was written (see [`errors_table_name`]).
    pub errors_table: Option<String>,
    /// What the user may want to know of the output (see [`id_field_warnings`]).
    pub warnings: Vec<String>,
}

/// Warnings about [`IdStrategy::Fields`](transmogrify_core::IdStrategy::Fields)
/// patterns that gave no table its ids from a field: a pattern that matches no
/// table (a typo, or keys joined by another separator), and a table whose pattern
/// names a column the table does not have. Either way those rows got positional
/// ids, as the specification has it, which is easy to miss.
///
/// ```
/// use transmogrify_core::{IdStrategy, Processor, ProcessorConfig};
/// let config = ProcessorConfig::builder()
///     .with_id_strategy(IdStrategy::Fields(vec![
///         ("".into(), "event_id".into()),
///         ("user_orders".into(), "order_id".into()),
///     ]))
///     .build()?;
/// let result = Processor::new(config).process(br#"{"id": 1, "orders": [{"order_id": 7}]}"#, "e")?;
/// assert_eq!(
///     transmogrify_io::id_field_warnings(&result, &result.schemas()?),
///     [
///         "the id field pattern \"user_orders\" gives no table its ids (paths are array \
///          keys joined by \"_\", like \"orders\")",
///         "table e has no column \"event_id\" for its ids (pattern \"\"): \
///          its rows have positional ids",
///     ]
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn id_field_warnings(layout: &ProcessingResult, schemas: &[TableSchema]) -> Vec<String> {
    let config = layout.config();
    let transmogrify_core::IdStrategy::Fields(patterns) = config.id_strategy() else {
        return Vec::new();
    };
    let sep = config.separator();
    let mut used: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for schema in schemas {
        let Some((pattern, field)) = config.id_field_rule(&schema.path) else {
            continue;
        };
        used.insert(pattern);
        if schema.num_rows == 0 || !schema.id_field_columns(field, config).is_empty() {
            continue;
        }
        let mut warning = format!(
            "table {} has no column {field:?} for its ids (pattern {pattern:?}): its rows \
             have positional ids",
            schema.name
        );
        // A column written under that name, renamed as names clashed: say which
        // name the field finds it by.
        let renamed = schema
            .schema
            .fields()
            .iter()
            .zip(&schema.roles)
            .position(|(f, role)| *role == ColumnRole::Data && f.name() == field);
        if let Some(base) = renamed.and_then(|i| schema.id_field_name(i, config)) {
            warning.push_str(&format!(
                " (the column written as {field:?} got its suffix as names clashed; \
                 id fields name it {base:?}, its keys joined)"
            ));
        }
        out.push(warning);
    }
    let example = schemas
        .iter()
        .find(|s| !s.path.is_empty())
        .map(|s| s.path.join(sep));
    let mut unused = Vec::new();
    for (pattern, _) in patterns {
        if used.contains(pattern.as_str()) || pattern == "*" {
            continue;
        }
        let mut warning = format!("the id field pattern {pattern:?} gives no table its ids");
        if let Some(example) = &example {
            warning.push_str(&format!(
                " (paths are array keys joined by {sep:?}, like {example:?})"
            ));
        }
        unused.push(warning);
    }
    unused.extend(out);
    unused
}

/// The name of the errors table of a run whose entity is `entity` and whose tables
/// are named `table_names`: `<entity>_errors`, or where a table of the data has that
/// name or a file name alike (an array called `errors`), the first of
/// `<entity>_errors_2`, `<entity>_errors_3`, … that none has. So the data's tables
/// keep their names and files whether or not a run meets bad records.
///
/// ```
/// use transmogrify_io::errors_table_name;
/// assert_eq!(errors_table_name("events", &["events", "events_items"]), "events_errors");
/// assert_eq!(errors_table_name("events", &["events", "events_errors"]), "events_errors_2");
/// ```
pub fn errors_table_name<S: AsRef<str>>(entity: &str, table_names: &[S]) -> String {
    let stems: HashSet<String> = transmogrify_core::unique_file_stems(table_names)
        .iter()
        .map(|stem| stem.to_lowercase())
        .collect();
    let base = format!("{entity}_errors");
    let free = |name: &str| {
        table_names.iter().all(|t| t.as_ref() != name) && {
            let stem = transmogrify_core::file_stem(name).to_lowercase();
            !stems.contains(&stem)
                && !transmogrify_core::RESERVED_FILE_STEMS
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&stem))
        }
    };
    let mut name = base.clone();
    let mut n = 2;
    while !free(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

/// One table file produced in memory by [`WriteResultExt::to_bytes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputBytes {
    /// The table's name.
    pub table: String,
    /// The file name it would have in a directory.
    pub file_name: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// Checks that `dir` is empty or absent (unless `overwrite`), and creates it. What
/// runs that no longer run left there (a run killed outright leaves its spill
/// directory and unfinished files under hidden names) is removed first.
pub(crate) fn prepare_dir(dir: &Path, overwrite: bool) -> Result<()> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            let mut others = false;
            for entry in entries.flatten() {
                let name = entry.file_name();
                let gone = match name.to_str().and_then(maker_of) {
                    Some(pid) if ended(pid) => remove_leftover(&entry.path()),
                    _ => false,
                };
                others |= !gone;
            }
            if !overwrite && others {
                return Err(Error::OutputDirNotEmpty {
                    path: dir.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A link to nothing (on the way to it, too): said so, rather than that
            // the link exists.
            if let Some((link, missing)) = dangling_link(dir) {
                return Err(Error::io(
                    link,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!(
                            "a link to {}, which does not exist (make it, or give the \
                             directory's own path)",
                            missing.display()
                        ),
                    ),
                ));
            }
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
        }
        Err(e) => Err(Error::io(dir, e)),
    }
}

enum Target {
    File(BufWriter<File>),
    /// A file written behind (see [`crate::behind`]).
    Behind(BehindFile),
    Memory(Vec<u8>),
}

struct SinkState {
    target: Target,
    bytes: u64,
    /// Bytes written since writeback was last started.
    unsynced: u64,
    reserve: Reserve,
    /// The output directory's writeback thread.
    writeback: Option<WritebackQueue>,
}

/// Bytes written to a file between two starts of its writeback: what is left for the
/// final sync of each file is at most this much (a sync of 20 MB of dirty pages takes
/// about 6 ms here, one of pages already written back 0.2 ms; 150 MB to CSV on two
/// threads: the slowest final sync 9.6-15.5 ms with 8 MB, 3.7-6.7 ms with 2 MB).
pub(crate) const WRITEBACK_EVERY: u64 = 2 << 20;

/// Bytes an output file's writer gathers before it writes them: writers that hand
/// over many small pieces (a Parquet column chunk appended to its row group goes
/// through in 8 KiB pieces) reach the file in fewer calls; larger pieces go
/// straight through.
const FILE_BUFFER_BYTES: usize = 64 * 1024;

/// Asks the kernel to start writing the file's dirty pages to disk now, without
/// waiting: by the time the file is synced most of it is on disk, rather than all of
/// it being written then. Only a hint; the sync reports any error.
#[cfg(target_os = "linux")]
pub(crate) fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range only reads its integer arguments; the descriptor is
    // open for as long as `file` is borrowed.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn start_writeback(_file: &File) {}

/// Hands the memory the allocator holds free back to the system: between a run's
/// flattening and the writing of its spilled tables. With several workers, glibc's
/// allocator keeps what each thread freed in that thread's arena, where the writing
/// (on other threads) does not reuse it; the peak RSS was the sum of the two phases.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn release_free_memory() {
    // SAFETY: malloc_trim takes an integer and only touches the allocator's own state.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_free_memory() {}

/// Allocations of this size or more are mapped from the system on their own (and
/// handed back when freed) by [`bound_allocator_caches`].
pub const ALLOCATOR_MAP_THRESHOLD: usize = 8 * 1024 * 1024;

/// Free memory at the top of an allocator heap beyond which it is handed back, set
/// by [`bound_allocator_caches`].
pub const ALLOCATOR_TRIM_THRESHOLD: usize = 16 * 1024 * 1024;

/// Environment variables with which the user tunes glibc's allocator (left as they
/// are by [`bound_allocator_caches`]).
const ALLOCATOR_TUNING_VARIABLES: [&str; 4] = [
    "GLIBC_TUNABLES",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
];

/// Whether [`bound_allocator_caches`] changes the allocator's settings, given the
/// process's environment (`var`): not when the user tunes the allocator already.
fn allocator_left_to_default(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    ALLOCATOR_TUNING_VARIABLES
        .iter()
        .all(|name| var(name).is_none())
}

/// Keeps the memory glibc's allocator holds for reuse bounded, for a process that
/// runs a long job: call it first thing in `main`. Returns whether the settings were
/// changed (not when the environment tunes the allocator already, nor where the
/// allocator is not glibc's).
///
/// By default glibc raises the size from which it maps an allocation on its own to
/// that of the largest block freed so far (up to 32 MiB) and keeps free memory up to
/// twice that at the top of each thread's heap. A run hands chunks of input (4 MiB
/// by default) and their results from thread to thread: those blocks then come from
/// the heaps, where they leave free gaps that are never handed back. Over a 3 GB JSON
/// array read by the process executor's main process, its memory grew to 308 MB;
/// with this, 122 MB for 1 GB where it had reached 256 MB (the time is the same).
/// The settings are [`ALLOCATOR_MAP_THRESHOLD`] and [`ALLOCATOR_TRIM_THRESHOLD`].
///
/// ```
/// let changed = transmogrify_io::bound_allocator_caches();
/// # let _ = changed;
/// ```
pub fn bound_allocator_caches() -> bool {
    if !allocator_left_to_default(|name| std::env::var_os(name)) {
        return false;
    }
    set_allocator_thresholds()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_allocator_thresholds() -> bool {
    // SAFETY: mallopt takes two integers and only changes the allocator's settings.
    unsafe {
        libc::mallopt(
            libc::M_MMAP_THRESHOLD,
            ALLOCATOR_MAP_THRESHOLD as libc::c_int,
        ) == 1
            && libc::mallopt(
                libc::M_TRIM_THRESHOLD,
                ALLOCATOR_TRIM_THRESHOLD as libc::c_int,
            ) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_allocator_thresholds() -> bool {
    false
}

/// Bytes whose writeback the writeback thread starts between two flushes of the
/// disk's write cache (see [`Writeback`]).
pub(crate) const FLUSH_EVERY: u64 = 16 << 20;

/// Asks the disk to make what was written to `file` so far durable, by a sync of the
/// file through a descriptor of its own: a disk with a write cache (a virtual disk
/// whose host buffers writes) holds written data until it is told to flush, and a
/// flush then takes as long as writing all of it. Flushed once in a while during a
/// run, the final sync of each file has only the last of it left to wait for: seven
/// files of 150 MB in all on such a disk, the final syncs took 65-69 ms without and
/// 5-6 ms with a flush every 16 MB. A new open file description has its own record
/// of write errors, so a failure here is still reported by the file's own final
/// sync. Only a hint.
#[cfg(target_os = "linux")]
fn flush_disk_cache(file: &File) {
    use std::os::fd::AsRawFd;
    if let Ok(own) = File::open(format!("/proc/self/fd/{}", file.as_raw_fd())) {
        let _ = own.sync_data();
    }
}

#[cfg(not(target_os = "linux"))]
fn flush_disk_cache(_file: &File) {}

/// Starts the writeback of files on a thread of its own: the kernel does the work of
/// submitting dirty pages on the calling thread, which can then go on with the next
/// part at once. Every [`FLUSH_EVERY`] bytes the thread also has the disk flush its
/// write cache, waiting for it there rather than on the run's final syncs. The
/// thread starts when its queue is first asked for and ends when this is dropped,
/// once every writeback handed to it has started.
#[derive(Debug, Default)]
pub(crate) struct Writeback {
    queue: Option<WritebackQueue>,
    /// The thread; it returns how many times it had the disk flush its cache.
    thread: Option<std::thread::JoinHandle<usize>>,
}

/// Hands files to a [`Writeback`]'s thread: a second descriptor of the file, and the
/// bytes written to it since its writeback last started; `None` stops the thread.
pub(crate) type WritebackQueue = std::sync::mpsc::Sender<Option<(File, u64)>>;

impl Writeback {
    /// The queue of the writeback thread, started with the first call (none if no
    /// thread can be started).
    pub(crate) fn queue(&mut self) -> Option<WritebackQueue> {
        if self.queue.is_none() {
            let (queue, files) = std::sync::mpsc::channel::<Option<(File, u64)>>();
            let spawned = std::thread::Builder::new()
                .name("tm-writeback".into())
                .spawn(move || {
                    let (mut unflushed, mut flushes) = (0u64, 0usize);
                    // Until the owner stops it: a sink still holding the queue then
                    // starts its writebacks itself.
                    for (file, bytes) in files.iter().map_while(|item| item) {
                        start_writeback(&file);
                        unflushed += bytes;
                        if unflushed >= FLUSH_EVERY {
                            unflushed = 0;
                            flush_disk_cache(&file);
                            flushes += 1;
                        }
                    }
                    flushes
                });
            if let Ok(thread) = spawned {
                self.queue = Some(queue);
                self.thread = Some(thread);
            }
        }
        self.queue.clone()
    }

    /// Starts writing `file`'s dirty pages back (on this thread if no other can),
    /// `bytes` having been written to it since the last start.
    pub(crate) fn start(&mut self, file: &File, bytes: u64) {
        let queue = self.queue();
        queue_writeback(queue.as_ref(), file, bytes);
    }

    /// Stops the thread once it has started every writeback handed to it so far, and
    /// waits for it; returns how many times it had the disk flush its cache.
    fn close(&mut self) -> usize {
        if let Some(queue) = self.queue.take() {
            let _ = queue.send(None);
        }
        self.thread
            .take()
            .map_or(0, |thread| thread.join().unwrap_or(0))
    }
}

/// Hands `file` to the writeback thread behind `queue`, or starts its writeback on
/// this thread if there is none.
fn queue_writeback(queue: Option<&WritebackQueue>, file: &File, bytes: u64) {
    // A second descriptor of the same open file, for the other thread.
    let sent = match (queue, file.try_clone()) {
        (Some(queue), Ok(copy)) => queue.send(Some((copy, bytes))).is_ok(),
        _ => false,
    };
    if !sent {
        start_writeback(file);
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        self.close();
    }
}

/// Disk blocks reserved ahead of a file being written, [`RESERVE_STEP`] bytes at a
/// time: the file system then allocates them in one go rather than block by block as
/// pages are written and written back (150 MB written in 256 KB blocks with writeback
/// started every 8 MB and a sync at the end: 39 -> 27 ms of CPU on ext4). The file
/// grows ahead of its data meanwhile; [`Reserve::release`] cuts it back to its length.
/// Files of less than a megabyte are left alone.
#[derive(Debug, Default)]
pub(crate) struct Reserve {
    /// The file's length as reserved so far (0: nothing reserved).
    end: u64,
    /// Reserving failed once (not supported, or no space left): not tried again.
    off: bool,
}

impl Reserve {
    /// Reserves the next step once `written` bytes come close to the end of the last.
    #[inline]
    pub(crate) fn ahead(&mut self, file: &File, written: u64) {
        if self.off || written < RESERVE_FROM || written + RESERVE_STEP / 2 < self.end {
            return;
        }
        let end = written.max(self.end) + RESERVE_STEP;
        if reserve(file, end, RESERVE_STEP) {
            self.end = end;
        } else {
            self.off = true;
        }
    }

    /// Cuts the file back to `len`, its data, if anything was reserved past it.
    pub(crate) fn release(&mut self, file: &File, len: u64) -> std::io::Result<()> {
        if self.end > len {
            file.set_len(len)?;
            self.end = len;
        }
        Ok(())
    }
}

/// Bytes a file has before blocks are reserved ahead of it.
const RESERVE_FROM: u64 = 1 << 20;

/// Bytes reserved ahead of a file at a time.
pub(crate) const RESERVE_STEP: u64 = 8 << 20;

/// Space a file system keeps free, besides a reservation, for blocks to be reserved
/// ahead on it. Near a full disk, blocks held in reserve by one file would fail
/// another's writes: without this, a 19 MB input failed for want of space on a
/// 40 MB file system when 38 MB were enough.
#[cfg(any(target_os = "linux", test))]
const RESERVE_HEADROOM: u64 = 1 << 30;

/// Whether a file system with `available` bytes free has room to reserve `more`.
#[cfg(any(target_os = "linux", test))]
fn room_to_reserve(available: u64, more: u64) -> bool {
    available >= RESERVE_HEADROOM.saturating_add(more)
}

/// Allocates the blocks of `file` up to `end` (growing it to `end`, `more` bytes past
/// what it holds); whether it did. Nothing is reserved on a file system nearly full
/// ([`RESERVE_HEADROOM`]).
#[cfg(target_os = "linux")]
fn reserve(file: &File, end: u64, more: u64) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(len) = libc::off_t::try_from(end) else {
        return false;
    };
    // SAFETY: an all-zero `statvfs` is a valid value of this plain C struct.
    let mut fs: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatvfs writes only into `fs`; the descriptor is open for as long as
    // `file` is borrowed.
    if unsafe { libc::fstatvfs(file.as_raw_fd(), &mut fs) } != 0 {
        return false;
    }
    #[allow(
        clippy::useless_conversion,
        reason = "the fields are 32-bit on some platforms"
    )]
    let available = u64::from(fs.f_bavail).saturating_mul(u64::from(fs.f_frsize));
    if !room_to_reserve(available, more) {
        return false;
    }
    // SAFETY: fallocate only reads its integer arguments; the descriptor is open for
    // as long as `file` is borrowed.
    unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn reserve(_file: &File, _end: u64, _more: u64) -> bool {
    false
}

/// The byte sink handed to a writer; the caller keeps a handle to finish the file.
#[derive(Clone)]
struct Sink(Arc<Mutex<SinkState>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let SinkState {
            target,
            unsynced,
            bytes,
            reserve,
            writeback,
        } = &mut *state;
        // Bytes taken, and the file they went to.
        let (n, file) = match target {
            Target::File(f) => (f.write(buf)?, f.get_ref()),
            Target::Behind(f) => {
                f.write_all(buf)?;
                (buf.len(), f.file())
            }
            Target::Memory(v) => {
                v.extend_from_slice(buf);
                *bytes += buf.len() as u64;
                return Ok(buf.len());
            }
        };
        *unsynced += n as u64;
        if *unsynced >= WRITEBACK_EVERY {
            queue_writeback(writeback.as_ref(), file, *unsynced);
            *unsynced = 0;
        }
        reserve.ahead(file, *bytes + n as u64);
        *bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut state.target {
            Target::File(f) => f.flush(),
            Target::Behind(_) | Target::Memory(_) => Ok(()),
        }
    }
}

/// Hidden name of a spill directory of this process (a random suffix follows).
pub(crate) fn spill_prefix() -> String {
    format!(".transmogrify-spill-{}-", std::process::id())
}

/// The process that made `name`, if it is one of the hidden entries a run makes
/// ([`spill_prefix`], [`table_temp_name`], [`pending_name`]).
fn maker_of(name: &str) -> Option<u32> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = name.strip_prefix(".transmogrify-spill-") {
        // `<pid>-` and the six letters or digits a temporary directory's name ends in.
        let (pid, suffix) = rest.split_once('-')?;
        let made = suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric());
        return (digits(pid) && made).then(|| pid.parse().ok()).flatten();
    }
    if let Some(rest) = name.strip_prefix(".transmogrify-table-") {
        let (pid, n) = rest.strip_suffix(".csv.tmp")?.split_once('-')?;
        return (digits(pid) && digits(n))
            .then(|| pid.parse().ok())
            .flatten();
    }
    // A table file being written: `.<stem>.<extension>.tmp-<pid>`, of the built-in
    // formats only (a name cut short ends in `~` and a hash instead).
    let (file, pid) = name.strip_prefix('.')?.rsplit_once(".tmp-")?;
    let ours = [".parquet", ".csv", ".json", ".jsonl"]
        .iter()
        .any(|ext| file.ends_with(ext))
        || file.rsplit_once('~').is_some_and(|(_, hash)| {
            hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
        });
    ours.then(|| pid.parse().ok()).flatten()
}

/// Whether no process `pid` runs any more (a run killed outright, by SIGKILL or a
/// power cut, left its hidden entries behind). Elsewhere than on Linux: never known.
fn ended(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        let Ok(id) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 sends nothing; kill(2) only checks that the process exists.
        let found = unsafe { libc::kill(id, 0) } == 0;
        !found && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        false
    }
}

/// Removes from `dir` the spill directories of runs that no longer run (a spill
/// directory given apart from the output: `--spill-dir`).
pub(crate) fn remove_leftover_spills(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if name.starts_with(".transmogrify-spill-") && maker_of(name).is_some_and(ended) {
            remove_leftover(&entry.path());
        }
    }
}

/// Removes what a run that no longer runs left behind, where it is what a run
/// leaves: a spill directory holding only spill files (`*.ipc`), or a file it did
/// not finish. Anything else of such a name (a directory of other files, a link)
/// is left alone; whether it was removed.
fn remove_leftover(path: &Path) -> bool {
    let Ok(found) = fs::symlink_metadata(path) else {
        return false;
    };
    if found.is_file() {
        let spill = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".transmogrify-spill-"));
        return !spill && fs::remove_file(path).is_ok();
    }
    let only_spill_files = found.is_dir()
        && fs::read_dir(path).is_ok_and(|entries| {
            entries.into_iter().all(|entry| {
                entry.is_ok_and(|e| {
                    e.file_type().is_ok_and(|t| t.is_file())
                        && e.file_name().to_str().is_some_and(|n| n.ends_with(".ipc"))
                })
            })
        });
    only_spill_files && fs::remove_dir_all(path).is_ok()
}

/// Hidden name of the `n`th table file this process writes as the run goes.
pub(crate) fn table_temp_name(n: u64) -> String {
    format!(".transmogrify-table-{}-{n}.csv.tmp", std::process::id())
}

/// Longest file name most file systems take, in bytes.
const NAME_MAX: usize = 255;

/// Hidden name under which this process writes `file_name` until it is complete.
///
/// A name that fits the file system's limit gets a hidden name that fits too: the
/// name is cut and a hash of it added, so that a table named up to the limit is
/// written, and one beyond it fails where it is given its final name.
fn pending_name(file_name: &str) -> String {
    hidden_name(file_name, &format!(".tmp-{}", std::process::id()))
}

/// `.<file_name><end>`, with `file_name` cut and a hash of it added where that
/// would not fit the file system's limit (see [`pending_name`]).
fn hidden_name(file_name: &str, end: &str) -> String {
    if file_name.len() + 1 + end.len() <= NAME_MAX {
        return format!(".{file_name}{end}");
    }
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(file_name, &mut hasher);
    let hash = format!("~{:016x}", std::hash::Hasher::finish(&hasher));
    let mut cut = NAME_MAX.saturating_sub(1 + hash.len() + end.len());
    while !file_name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(".{}{hash}{end}", &file_name[..cut])
}

/// Files are made under hidden names, and given their final names, under a read lock
/// of this gate; [`stop_and_remove_unfinished`] takes it for writing and closes it, so
/// that nothing new appears once an interrupted run's files are removed.
static GATE: std::sync::RwLock<bool> = std::sync::RwLock::new(false);

/// Runs `make` (which makes a file or gives one its final name) unless the process is
/// stopping ([`stop_and_remove_unfinished`]).
pub(crate) fn gated<T>(make: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    let stopped = GATE.read().unwrap_or_else(PoisonError::into_inner);
    if *stopped {
        return Err(stopping());
    }
    make()
}

/// The error of a file not made or renamed because the process is stopping.
fn stopping() -> std::io::Error {
    std::io::Error::other("the run is being stopped")
}

/// Outputs of this process whose files all got their final names.
static COMMITTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many outputs of this process have given all their files their final names:
/// after [`stop_and_remove_unfinished`], which waits for renames under way, it
/// tells whether a run's files were complete when it was stopped.
pub fn committed_outputs() -> usize {
    COMMITTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Whether the process is stopping ([`stop_and_remove_unfinished`] was called): the
/// errors its threads meet from then on (files gone, or not made) are the stop's,
/// not their own.
pub fn is_stopping() -> bool {
    *GATE.read().unwrap_or_else(PoisonError::into_inner)
}

/// [`remove_unfinished`] for a process about to exit (on Ctrl-C, say): once it
/// returns, no file is made or renamed in any output directory of this process,
/// so none appears after the removal while its other threads wind down. Returns how
/// many entries went.
pub fn stop_and_remove_unfinished(dir: &Path) -> usize {
    let mut stopped = GATE.write().unwrap_or_else(PoisonError::into_inner);
    *stopped = true;
    remove_unfinished(dir)
}

/// Removes from `dir` what this process has written there under hidden names and not
/// yet given its final name: spill directories, tables written as the run goes, files
/// being written. Meant for an interrupted run; entries of other processes are left
/// alone. Returns how many entries went.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("kept.csv"), "a\n")?;
/// assert_eq!(transmogrify_io::remove_unfinished(dir.path()), 0);
/// assert!(dir.path().join("kept.csv").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn remove_unfinished(dir: &Path) -> usize {
    let spill = spill_prefix();
    let table = format!(".transmogrify-table-{}-", std::process::id());
    // `.<name>.tmp-<pid>`: what follows an empty name.
    let pending = pending_name("");
    let pending_end = pending.get(1..).unwrap_or_default();
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        let gone = if name.starts_with(&spill) {
            fs::remove_dir_all(&path).is_ok()
        } else if name.starts_with(&table) || (name.starts_with('.') && name.ends_with(pending_end))
        {
            fs::remove_file(&path).is_ok()
        } else {
            false
        };
        removed += usize::from(gone);
    }
    removed
}

/// A file being written under a hidden temporary name, removed unless committed.
pub(crate) struct PendingFile {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl PendingFile {
    pub(crate) fn new(dir: &Path, file_name: &str) -> Self {
        PendingFile {
            tmp: dir.join(pending_name(file_name)),
            dest: dir.join(file_name),
            committed: false,
        }
    }

    /// A file written at `tmp` whose final name is not known yet (it is `tmp` until
    /// [`PendingFile::named`]).
    pub(crate) fn temporary(tmp: PathBuf) -> Self {
        PendingFile {
            dest: tmp.clone(),
            tmp,
            committed: false,
        }
    }

    /// The file, to be renamed to `file_name` in `dir`.
    pub(crate) fn named(mut self, dir: &Path, file_name: &str) -> Self {
        self.dest = dir.join(file_name);
        self
    }

    /// Where the file is being written.
    pub(crate) fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Where the file will be once committed.
    pub(crate) fn dest(&self) -> &Path {
        &self.dest
    }

    /// Syncs the (flushed) file to disk.
    fn sync(self, file: File) -> Result<Self> {
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        Ok(self)
    }

    /// Renames the (synced) file to its final name (the caller holds the gate open,
    /// see [`Commits::finish`]).
    fn rename(mut self) -> Result<()> {
        fs::rename(&self.tmp, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        self.committed = true;
        Ok(())
    }
}

/// The first link on the way to `dir` that leads to nothing, and the path it ends
/// at that does not exist (following a chain of links to its last).
fn dangling_link(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let mut on_the_way = PathBuf::new();
    for part in dir.components() {
        on_the_way.push(part);
        let is_link = fs::symlink_metadata(&on_the_way).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link || fs::metadata(&on_the_way).is_ok() {
            continue;
        }
        let mut at = on_the_way.clone();
        for _ in 0..40 {
            let Ok(target) = fs::read_link(&at) else {
                break;
            };
            let next = at
                .parent()
                .map_or_else(|| target.clone(), |p| p.join(&target));
            if !fs::symlink_metadata(&next).is_ok_and(|m| m.file_type().is_symlink()) {
                return Some((on_the_way, next));
            }
            at = next;
        }
        return Some((on_the_way, at));
    }
    None
}

/// The hidden name an earlier run's file at `dest` is moved aside to while a run's
/// files get their names (see [`Commits::finish`]).
fn aside_name(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    // A name up to the limit gets an aside name that fits too, as a pending one does.
    dest.with_file_name(hidden_name(
        &name,
        &format!(".replaced-{}", std::process::id()),
    ))
}

/// In debug builds, for the tests that stop a run while its files are renamed: a
/// pause of `TRANSMOGRIFY_TEST_RENAME_PAUSE_MS` after each rename.
#[cfg(debug_assertions)]
fn pause_between_renames() {
    if let Some(ms) = std::env::var("TRANSMOGRIFY_TEST_RENAME_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// What makes a file the same file under any of its names: its device and inode,
/// or elsewhere than on Unix its canonical path.
#[derive(Debug, PartialEq, Eq)]
struct FileId(#[cfg(unix)] (u64, u64), #[cfg(not(unix))] PathBuf);

impl FileId {
    /// The identity of the file at `path`, if there is one.
    fn of(path: &Path) -> Option<FileId> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(path).ok().map(|m| FileId((m.dev(), m.ino())))
        }
        #[cfg(not(unix))]
        {
            path.canonicalize().ok().map(FileId)
        }
    }
}

/// Whether `a` and `b` name the same existing file, under any of its names (links
/// included).
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let (a, b) = (dir.path().join("a"), dir.path().join("b"));
/// # std::fs::write(&a, "x")?;
/// # std::fs::write(&b, "x")?;
/// use transmogrify_io::same_file;
/// assert!(same_file(&a, &dir.path().join(".").join("a")));
/// assert!(!same_file(&a, &b));
/// assert!(!same_file(&a, &dir.path().join("missing")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn same_file(a: &Path, b: &Path) -> bool {
    matches!((FileId::of(a), FileId::of(b)), (Some(a), Some(b)) if a == b)
}

/// Commits of the files of one output directory.
///
/// A finished file is flushed at once (so a full disk is reported by the table that
/// hit it); syncing it to disk happens on a background thread while the next table
/// is written, since a sync mostly waits on the device. [`Commits::finish`] waits
/// for every sync, then gives every file its final name, one right after the other,
/// and syncs the directory: a run stopped before then leaves only hidden temporary
/// files, never some tables of the output without the others.
pub(crate) struct Commits {
    dir: PathBuf,
    running: Mutex<Vec<std::thread::JoinHandle<Result<PendingFile>>>>,
    /// Starts the writeback of the directory's files as they are written.
    writeback: Mutex<Writeback>,
    /// Files no file of the output may replace (see [`Commits::keeping`]).
    kept: Vec<FileId>,
}

impl Commits {
    pub(crate) fn new(dir: &Path) -> Self {
        Commits {
            dir: dir.to_path_buf(),
            running: Mutex::new(Vec::new()),
            writeback: Mutex::new(Writeback::default()),
            kept: Vec::new(),
        }
    }

    /// These commits, refusing to rename a file over any of `files` (those that
    /// exist now): [`Commits::finish`] then fails before any rename.
    pub(crate) fn keeping(mut self, files: &[PathBuf]) -> Self {
        self.kept = files.iter().filter_map(|f| FileId::of(f)).collect();
        self
    }

    /// The queue of the directory's writeback thread (see [`Writeback`]).
    fn writeback(&self) -> Option<WritebackQueue> {
        self.writeback
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .queue()
    }

    /// Flushes `file`, then syncs and renames it in the background.
    fn add(&self, pending: PendingFile, file: BufWriter<File>) -> Result<()> {
        let file = file
            .into_inner()
            .map_err(|e| Error::io(&pending.tmp, e.into_error()))?;
        self.add_file(pending, file)
    }

    /// Syncs `file` (written in full) and renames it in the background.
    pub(crate) fn add_file(&self, pending: PendingFile, file: File) -> Result<()> {
        self.add_reserved(pending, file, Reserve::default(), 0)
    }

    /// [`Commits::add_file`] for a file of `len` bytes with blocks `reserve`d past
    /// them, which are given back first, in the background too: cutting a file can
    /// wait for a journal commit that another file's sync started and, on a file
    /// system that discards freed blocks, for the disk. The table writers of 150 MB
    /// of API events to Parquet waited 3.3 ms for it on one thread and 8.4 ms on two (ext4
    /// mounted with `discard`), time they now spend on the next table.
    pub(crate) fn add_reserved(
        &self,
        pending: PendingFile,
        file: File,
        reserve: Reserve,
        len: u64,
    ) -> Result<()> {
        self.commit(pending, move || Ok(file), reserve, len)
    }

    /// [`Commits::add_reserved`] for a file written behind: its commit first waits
    /// for the last bytes to be written.
    fn add_when_written(
        &self,
        pending: PendingFile,
        file: Finishing,
        reserve: Reserve,
        len: u64,
    ) -> Result<()> {
        self.commit(pending, move || file.wait(), reserve, len)
    }

    /// Commits the file `file` gives in the background (see [`Commits::add_reserved`]).
    fn commit(
        &self,
        pending: PendingFile,
        file: impl FnOnce() -> std::io::Result<File> + Send + 'static,
        mut reserve: Reserve,
        len: u64,
    ) -> Result<()> {
        let handle = std::thread::Builder::new()
            .name("tm-commit".into())
            .spawn(move || {
                let file = file().map_err(|e| Error::io(&pending.dest, e))?;
                reserve
                    .release(&file, len)
                    .map_err(|e| Error::io(&pending.tmp, e))?;
                pending.sync(file)
            })
            .map_err(|e| Error::io(&self.dir, e))?;
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(handle);
        Ok(())
    }

    /// Waits for every sync (the first error, if any, and then no file is renamed),
    /// renames every file, and makes the renames durable (not every platform can
    /// sync a directory).
    pub(crate) fn finish(self) -> Result<()> {
        let synced: Result<Vec<PendingFile>> = self.join_all().into_iter().collect();
        let synced = synced?;
        if let Some(kept) = synced
            .iter()
            .find(|p| FileId::of(&p.dest).is_some_and(|id| self.kept.contains(&id)))
        {
            return Err(Error::WouldReplaceKeptFile {
                path: kept.dest.clone(),
            });
        }
        // Every file is renamed, or none: a stop (Ctrl-C) waits until the renames
        // are done, and after it none starts. So an interrupted run never leaves
        // some tables under their final names and others missing, or with --force
        // some new beside others of an earlier run.
        let stopped = GATE.read().unwrap_or_else(PoisonError::into_inner);
        if *stopped {
            let first = synced.first().map_or(&self.dir, |p| &p.dest);
            return Err(Error::io(first, stopping()));
        }
        // An earlier run's files (with --force) are moved aside first and removed
        // only once every new file has its name: where one cannot be replaced (a
        // directory in its place, a file that cannot be renamed), the earlier set
        // is put back whole, never left beside some of the new one.
        if let Some(dir) = synced.iter().find(|p| p.dest.is_dir()) {
            return Err(Error::io(
                &dir.dest,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "a directory is where this output file goes",
                ),
            ));
        }
        let mut aside: Vec<(PathBuf, PathBuf)> = Vec::new();
        let put_back = |aside: &[(PathBuf, PathBuf)]| {
            for (dest, old) in aside.iter().rev() {
                let _ = fs::rename(old, dest);
            }
        };
        for pending in &synced {
            if fs::symlink_metadata(&pending.dest).is_err() {
                continue;
            }
            let old = aside_name(&pending.dest);
            if let Err(e) = fs::rename(&pending.dest, &old) {
                put_back(&aside);
                return Err(Error::io(&pending.dest, e));
            }
            aside.push((pending.dest.clone(), old));
        }
        let mut named: Vec<PathBuf> = Vec::new();
        for pending in synced {
            let dest = pending.dest.clone();
            if let Err(e) = pending.rename() {
                for new in &named {
                    let _ = fs::remove_file(new);
                }
                put_back(&aside);
                return Err(e);
            }
            named.push(dest);
            #[cfg(debug_assertions)]
            pause_between_renames();
        }
        for (_, old) in &aside {
            let _ = fs::remove_file(old);
        }
        COMMITTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        drop(stopped);
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn join_all(&self) -> Vec<Result<PendingFile>> {
        let running =
            std::mem::take(&mut *self.running.lock().unwrap_or_else(PoisonError::into_inner));
        running
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Internal("a file commit panicked".into())))
            })
            .collect()
    }
}

impl Drop for Commits {
    /// An output abandoned on an error still waits for its syncs, and then removes
    /// the temporary files.
    fn drop(&mut self) {
        self.join_all();
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Receives the batches of one table.
pub(crate) type BatchSink<'a> = dyn FnMut(&RecordBatch) -> Result<()> + 'a;
/// Hands the batches of one table to a sink.
pub(crate) type FillTable<'a> = dyn FnMut(&mut BatchSink<'_>) -> Result<()> + 'a;
/// Hands the batches of the table a schema describes to a sink.
pub(crate) type TableBatches<'a> = dyn FnMut(&TableSchema, &mut BatchSink<'_>) -> Result<()> + 'a;

/// Where table files go: a directory, or memory.
pub(crate) enum Destination<'a> {
    Dir(&'a Path, &'a Commits),
    Memory(&'a mut Vec<OutputBytes>),
}

/// Writes one table file with `factory`; `fill` hands the batches to the writer.
pub(crate) fn write_file(
    dest: &mut Destination<'_>,
    factory: &dyn WriterFactory,
    options: &WriteOptions,
    table: &str,
    stem: &str,
    schema: &SchemaRef,
    fill: &mut FillTable<'_>,
) -> Result<OutputFile> {
    let file_name = format!("{stem}.{}", factory.extension());
    let (target, pending, writeback) = match dest {
        Destination::Dir(dir, commits) => {
            let pending = PendingFile::new(dir, &file_name);
            let file =
                gated(|| File::create(&pending.tmp)).map_err(|e| Error::io(&pending.tmp, e))?;
            let writeback = commits.writeback();
            let target = match &options.behind {
                Some(behind) => Target::Behind(BehindFile::new(file, behind.clone())),
                None => Target::File(BufWriter::with_capacity(FILE_BUFFER_BYTES, file)),
            };
            (target, Some(pending), writeback)
        }
        Destination::Memory(_) => (Target::Memory(Vec::new()), None, None),
    };
    let sink = Sink(Arc::new(Mutex::new(SinkState {
        target,
        bytes: 0,
        unsynced: 0,
        reserve: Reserve::default(),
        writeback,
    })));
    // A writer knows only its sink: its errors are given the file's name here.
    let named = match &pending {
        Some(pending) => pending.dest.clone(),
        None => PathBuf::from(&file_name),
    };
    let mut writer = factory
        .create_table(table, &file_name, Box::new(sink.clone()), schema, options)
        .map_err(|e| e.at_output(&named))?;
    fill(&mut |batch| writer.write(batch)).map_err(|e| e.at_output(&named))?;
    let WriteSummary { rows } = writer.finish().map_err(|e| e.at_output(&named))?;
    let (target, bytes, reserve) = {
        let mut state = sink.0.lock().unwrap_or_else(PoisonError::into_inner);
        let target = std::mem::replace(&mut state.target, Target::Memory(Vec::new()));
        (target, state.bytes, std::mem::take(&mut state.reserve))
    };
    let path = match (target, pending, dest) {
        (Target::File(file), Some(pending), Destination::Dir(_, commits)) => {
            let path = pending.dest.clone();
            let file = file
                .into_inner()
                .map_err(|e| Error::io(&pending.tmp, e.into_error()))?;
            commits.add_reserved(pending, file, reserve, bytes)?;
            path
        }
        (Target::Behind(file), Some(pending), Destination::Dir(_, commits)) => {
            let path = pending.dest.clone();
            // The commit waits for the last bytes to be written, not this thread.
            let file = file.finish_later().map_err(|e| Error::io(&path, e))?;
            commits.add_when_written(pending, file, reserve, bytes)?;
            path
        }
        (Target::Memory(data), _, Destination::Memory(out)) => {
            out.push(OutputBytes {
                table: table.to_string(),
                file_name: file_name.clone(),
                bytes: data,
            });
            PathBuf::from(file_name)
        }
        _ => return Err(Error::Internal("output target mismatch".into())),
    };
    Ok(OutputFile {
        table: table.to_string(),
        path,
        rows,
        bytes,
    })
}

/// One table file to write: a job handed to a [`TableJobs`] runner.
pub type TableJob<'a> = Box<dyn FnOnce() -> Result<OutputFile> + Send + 'a>;

/// Runs the table-writing jobs of a finished output and returns their results in
/// the order given. [`Sequential`] runs them one after another; an executor can
/// spread them over threads (this crate has no pool of its own: beyond the
/// background syncs of finished files, it only starts the column-encoding helpers
/// that [`TableJobs::threads`] allows).
pub trait TableJobs: Sync {
    /// Runs every job; result `i` belongs to job `i`.
    fn run_all<'a>(&self, jobs: Vec<TableJob<'a>>) -> Vec<Result<OutputFile>>;

    /// How many jobs run at once. With more than one, a writer still at work once
    /// fewer tables are left than threads may encode its columns on the threads left
    /// idle (the Parquet writer does), so that the last large table does not write
    /// alone on one thread.
    fn threads(&self) -> usize {
        1
    }
}

/// Runs table jobs one after another on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sequential;

impl TableJobs for Sequential {
    fn run_all<'a>(&self, jobs: Vec<TableJob<'a>>) -> Vec<Result<OutputFile>> {
        jobs.into_iter().map(|job| job()).collect()
    }
}

/// Hands the batches of the table a schema describes to a sink; shareable between
/// threads.
pub(crate) type SharedTableBatches<'a> =
    dyn Fn(&TableSchema, &mut BatchSink<'_>) -> Result<()> + Sync + 'a;

/// Writes every table of `schemas` into `dir` through `jobs` (batches from
/// `batches_of`), then the errors table and the data dictionary.
///
/// `sizes` estimates each table's bytes: the jobs are handed out largest first, so
/// that runners of several threads do not end waiting on one big table started
/// last. The summary keeps the order of `schemas`.
#[expect(
    clippy::too_many_arguments,
    reason = "internal; each argument is a different part of one output"
)]
pub(crate) fn write_tables_with(
    dir: &Path,
    format: &str,
    options: &WriteOptions,
    layout: &ProcessingResult,
    schemas: &[TableSchema],
    sizes: &[u64],
    batches_of: &SharedTableBatches<'_>,
    jobs: &dyn TableJobs,
) -> Result<OutputSummary> {
    let factory = options.registry.get(format)?;
    let factory = factory.as_ref();
    let table_file = |schema: &TableSchema, options: &WriteOptions, commits: &Commits| {
        write_table(dir, commits, factory, options, schema, &mut |sink| {
            batches_of(schema, sink)
        })
    };
    write_table_files(
        dir,
        format,
        options,
        layout,
        schemas,
        sizes,
        &table_file,
        jobs,
    )
}

/// Writes the file of the table `schema` describes into `dir` with `factory`; `fill`
/// hands the batches to the writer.
pub(crate) fn write_table(
    dir: &Path,
    commits: &Commits,
    factory: &dyn WriterFactory,
    options: &WriteOptions,
    schema: &TableSchema,
    fill: &mut FillTable<'_>,
) -> Result<OutputFile> {
    write_file(
        &mut Destination::Dir(dir, commits),
        factory,
        options,
        &schema.name,
        &schema.file_stem,
        &schema.schema,
        fill,
    )
}

/// Makes the file of one table, committed through the given [`Commits`].
pub(crate) type TableFile<'a> =
    dyn Fn(&TableSchema, &WriteOptions, &Commits) -> Result<OutputFile> + Sync + 'a;

/// [`write_tables_with`], each table's file made by `table_file`.
#[expect(
    clippy::too_many_arguments,
    reason = "internal; each argument is a different part of one output"
)]
pub(crate) fn write_table_files(
    dir: &Path,
    format: &str,
    options: &WriteOptions,
    layout: &ProcessingResult,
    schemas: &[TableSchema],
    sizes: &[u64],
    table_file: &TableFile<'_>,
    jobs: &dyn TableJobs,
) -> Result<OutputSummary> {
    let factory = options.registry.get(format)?;
    let factory = factory.as_ref();
    let threads = jobs.threads();
    let spare = (threads > 1).then(|| Arc::new(Spare::new(threads)));
    let with_spare;
    let options = match &spare {
        Some(spare) => {
            with_spare = WriteOptions {
                spare: Some(spare.clone()),
                ..options.clone()
            };
            &with_spare
        }
        None => options,
    };
    let spare = spare.as_deref();
    let all_commits = Commits::new(dir).keeping(&options.kept_files);
    let commits = &all_commits;
    let mut order: Vec<usize> = (0..schemas.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes.get(i).copied().unwrap_or(0)));
    let tables: Vec<TableJob<'_>> = order
        .iter()
        .filter_map(|&i| schemas.get(i))
        .map(|schema| {
            Box::new(move || {
                if let Some(spare) = spare {
                    spare.occupy();
                }
                let file = table_file(schema, options, commits);
                if let Some(spare) = spare {
                    spare.vacate();
                }
                file
            }) as TableJob<'_>
        })
        .collect();
    let mut files: Vec<Option<OutputFile>> = (0..schemas.len()).map(|_| None).collect();
    for (&i, file) in order.iter().zip(jobs.run_all(tables)) {
        if let Some(slot) = files.get_mut(i) {
            *slot = Some(file?);
        }
    }
    let summary = OutputSummary {
        files: files.into_iter().flatten().collect(),
        ..OutputSummary::default()
    };
    let summary = write_extras(
        Destination::Dir(dir, commits),
        factory,
        format,
        options,
        layout,
        schemas,
        summary,
    )?;
    all_commits.finish()?;
    Ok(summary)
}

/// Writes every table of `schemas` (batches from `batches_of`), then the errors
/// table and the data dictionary. `layout` gives the entity, configuration and
/// bad records.
pub(crate) fn write_tables(
    mut dest: Destination<'_>,
    format: &str,
    options: &WriteOptions,
    layout: &ProcessingResult,
    schemas: &[TableSchema],
    batches_of: &mut TableBatches<'_>,
) -> Result<OutputSummary> {
    let factory = options.registry.get(format)?;
    let mut summary = OutputSummary::default();
    for schema in schemas {
        let file = write_file(
            &mut dest,
            factory.as_ref(),
            options,
            &schema.name,
            &schema.file_stem,
            &schema.schema,
            &mut |sink| batches_of(schema, sink),
        )?;
        summary.files.push(file);
    }
    write_extras(
        dest,
        factory.as_ref(),
        format,
        options,
        layout,
        schemas,
        summary,
    )
}

/// The errors table and the data dictionary, after the tables in `summary`.
fn write_extras(
    mut dest: Destination<'_>,
    factory: &dyn WriterFactory,
    format: &str,
    options: &WriteOptions,
    layout: &ProcessingResult,
    schemas: &[TableSchema],
    mut summary: OutputSummary,
) -> Result<OutputSummary> {
    summary.warnings = id_field_warnings(layout, schemas);
    let mut errors_file = None;
    if options.write_errors {
        if let Some((table, stem, errors)) = errors_table(layout, schemas)? {
            let file = write_file(
                &mut dest,
                factory,
                options,
                &table,
                &stem,
                &errors.schema(),
                &mut |sink| sink(&errors),
            )?;
            errors_file = Some((table.clone(), stem, file.rows, errors.schema()));
            summary.errors_table = Some(table);
            summary.files.push(file);
        }
    }
    if options.data_dictionary {
        if let Destination::Dir(dir, commits) = dest {
            let doc = dictionary(layout, schemas, factory.extension(), format, errors_file);
            let text = serde_json::to_vec_pretty(&doc)
                .map_err(|e| Error::Internal(format!("data dictionary: {e}")))?;
            let pending = PendingFile::new(dir, DATA_DICTIONARY_FILE);
            let file =
                gated(|| File::create(&pending.tmp)).map_err(|e| Error::io(&pending.tmp, e))?;
            let mut file = BufWriter::new(file);
            file.write_all(&text)
                .map_err(|e| Error::io(&pending.tmp, e))?;
            let path = pending.dest.clone();
            commits.add(pending, file)?;
            summary.dictionary = Some(path);
        }
    }
    Ok(summary)
}

/// The short name of a column type used in data dictionaries (`string`, `int64`,
/// `float64`, `boolean`, `decimal(38,0)`, `timestamp(us, UTC)`).
///
/// ```
/// use arrow_schema::DataType;
/// assert_eq!(transmogrify_io::type_name(&DataType::Utf8), "string");
/// ```
pub fn type_name(dt: &DataType) -> String {
    match dt {
        DataType::Utf8 => "string".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float64 => "float64".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        DataType::Timestamp(_, _) => "timestamp(us, UTC)".into(),
        other => other.to_string(),
    }
}

fn role_name(role: &ColumnRole) -> &'static str {
    match role {
        ColumnRole::Id => "id",
        ColumnRole::ParentId => "parent_id",
        ColumnRole::ArrayIndex => "array_index",
        ColumnRole::Time => "extract_time",
        _ => "data",
    }
}

/// The data dictionary of `result` (the `_schema.json` written beside its tables) for
/// output files with extension `ext`: tables, columns, types, parent tables and link
/// columns, row counts.
///
/// ```
/// use transmogrify_core::Processor;
/// let result = Processor::default().process(br#"{"id": 1, "tags": [{"t": "x"}]}"#, "items")?;
/// let doc = transmogrify_io::data_dictionary(&result, "csv")?;
/// assert_eq!(doc["tables"][1]["name"], "items_tags");
/// assert_eq!(doc["tables"][1]["parent"], "items");
/// assert_eq!(doc["tables"][1]["file"], "items_tags.csv");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn data_dictionary(result: &ProcessingResult, ext: &str) -> Result<Value> {
    let schemas = result.schemas()?;
    let errors = errors_table(result, &schemas)?
        .map(|(name, stem, batch)| (name, stem, batch.num_rows() as u64, batch.schema()));
    Ok(dictionary(result, &schemas, ext, ext, errors))
}

/// The errors table of `layout`, whose tables are `schemas`, if it has bad records:
/// its name (see [`errors_table_name`]), file stem and rows.
fn errors_table(
    layout: &ProcessingResult,
    schemas: &[TableSchema],
) -> Result<Option<(String, String, arrow_array::RecordBatch)>> {
    let Some(batch) = layout.errors_batch()? else {
        return Ok(None);
    };
    let names: Vec<&str> = schemas.iter().map(|s| s.name.as_str()).collect();
    let name = errors_table_name(layout.entity_name(), &names);
    let stem = transmogrify_core::file_stem(&name);
    Ok(Some((name, stem, batch)))
}

/// The data dictionary: tables, columns, types, parent tables and link columns, rows.
fn dictionary(
    layout: &ProcessingResult,
    schemas: &[TableSchema],
    ext: &str,
    format: &str,
    errors: Option<(String, String, u64, SchemaRef)>,
) -> Value {
    let cfg = layout.config();
    let tables: Vec<Value> = schemas
        .iter()
        .map(|s| {
            let columns: Vec<Value> = s
                .schema
                .fields()
                .iter()
                .zip(&s.roles)
                .map(|(f, role)| {
                    json!({
                        "name": f.name(),
                        "type": type_name(f.data_type()),
                        "nullable": f.is_nullable(),
                        "role": role_name(role),
                    })
                })
                .collect();
            let column_of = |wanted: ColumnRole| {
                s.roles
                    .iter()
                    .position(|r| *r == wanted)
                    .map(|i| s.schema.field(i).name().clone())
            };
            json!({
                "name": s.name,
                "file": format!("{}.{ext}", s.file_stem),
                "path": s.path,
                "parent": s.parent,
                "id_column": column_of(ColumnRole::Id),
                "parent_id_column": column_of(ColumnRole::ParentId),
                "rows": s.num_rows,
                "columns": columns,
            })
        })
        .collect();
    json!({
        "entity": layout.entity_name(),
        "format": format,
        "records": layout.record_count(),
        "separator": cfg.separator(),
        "tables": tables,
        "errors": errors.map(|(name, stem, rows, schema)| json!({
            "name": name,
            "file": format!("{stem}.{ext}"),
            "rows": rows,
            "columns": schema.fields().iter().map(|f| json!({
                "name": f.name(),
                "type": type_name(f.data_type()),
                "nullable": f.is_nullable(),
            })).collect::<Vec<Value>>(),
        })),
    })
}

/// Writing a [`ProcessingResult`] held in memory.
///
/// ```
/// use transmogrify_core::Processor;
/// use transmogrify_io::WriteResultExt;
/// let result = Processor::default().process(br#"{"id": 1, "tags": [{"t": "x"}]}"#, "items")?;
/// let dir = tempfile::tempdir()?;
/// let summary = result.write_all_parquet(dir.path().join("out"))?;
/// assert_eq!(summary.files.len(), 2);
/// assert!(dir.path().join("out/items_tags.parquet").exists());
/// let files = result.to_csv_bytes()?;
/// assert!(String::from_utf8(files[0].bytes.clone())?.starts_with("id,__extract_id,"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait WriteResultExt {
    /// Writes every table as `<dir>/<file_stem>.<ext>` in the format registered as
    /// `format`, plus `<entity>_errors` for bad records and, if asked, the data
    /// dictionary. Refuses a non-empty `dir` unless overwriting is allowed.
    fn write_all(
        &self,
        format: &str,
        dir: impl AsRef<Path>,
        options: &WriteOptions,
    ) -> Result<OutputSummary>;

    /// Every table file in memory, in table order.
    fn to_bytes(&self, format: &str, options: &WriteOptions) -> Result<Vec<OutputBytes>>;

    /// [`write_all`](WriteResultExt::write_all) as Parquet with default options.
    fn write_all_parquet(&self, dir: impl AsRef<Path>) -> Result<OutputSummary> {
        self.write_all("parquet", dir, &WriteOptions::default())
    }

    /// [`write_all`](WriteResultExt::write_all) as CSV with default options.
    fn write_all_csv(&self, dir: impl AsRef<Path>) -> Result<OutputSummary> {
        self.write_all("csv", dir, &WriteOptions::default())
    }

    /// [`write_all`](WriteResultExt::write_all) as JSON with default options.
    fn write_all_json(&self, dir: impl AsRef<Path>) -> Result<OutputSummary> {
        self.write_all("json", dir, &WriteOptions::default())
    }

    /// [`write_all`](WriteResultExt::write_all) as JSONL with default options.
    fn write_all_jsonl(&self, dir: impl AsRef<Path>) -> Result<OutputSummary> {
        self.write_all("jsonl", dir, &WriteOptions::default())
    }

    /// [`to_bytes`](WriteResultExt::to_bytes) as Parquet with default options.
    fn to_parquet_bytes(&self) -> Result<Vec<OutputBytes>> {
        self.to_bytes("parquet", &WriteOptions::default())
    }

    /// [`to_bytes`](WriteResultExt::to_bytes) as CSV with default options.
    fn to_csv_bytes(&self) -> Result<Vec<OutputBytes>> {
        self.to_bytes("csv", &WriteOptions::default())
    }

    /// [`to_bytes`](WriteResultExt::to_bytes) as JSON with default options.
    fn to_json_bytes(&self) -> Result<Vec<OutputBytes>> {
        self.to_bytes("json", &WriteOptions::default())
    }

    /// [`to_bytes`](WriteResultExt::to_bytes) as JSONL with default options.
    fn to_jsonl_bytes(&self) -> Result<Vec<OutputBytes>> {
        self.to_bytes("jsonl", &WriteOptions::default())
    }
}

fn result_batches(
    result: &ProcessingResult,
    schema: &TableSchema,
    convert: &Convert<'_>,
    sink: &mut BatchSink<'_>,
) -> Result<()> {
    for batch in result.batches_converted(schema, convert) {
        sink(&batch?)?;
    }
    Ok(())
}

impl WriteResultExt for ProcessingResult {
    fn write_all(
        &self,
        format: &str,
        dir: impl AsRef<Path>,
        options: &WriteOptions,
    ) -> Result<OutputSummary> {
        let dir = dir.as_ref();
        let convert = converter(&options.registry.get(format)?);
        prepare_dir(dir, options.overwrite)?;
        let schemas = self.schemas()?;
        let commits = Commits::new(dir).keeping(&options.kept_files);
        let summary = write_tables(
            Destination::Dir(dir, &commits),
            format,
            options,
            self,
            &schemas,
            &mut |schema, sink| result_batches(self, schema, convert, sink),
        )?;
        commits.finish()?;
        Ok(summary)
    }

    fn to_bytes(&self, format: &str, options: &WriteOptions) -> Result<Vec<OutputBytes>> {
        let mut out = Vec::new();
        let schemas = self.schemas()?;
        let convert = converter(&options.registry.get(format)?);
        write_tables(
            Destination::Memory(&mut out),
            format,
            options,
            self,
            &schemas,
            &mut |schema, sink| result_batches(self, schema, convert, sink),
        )?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::{
        BufWriter, Commits, FLUSH_EVERY, File, NAME_MAX, PendingFile, RESERVE_HEADROOM,
        RESERVE_STEP, Reserve, Writeback, allocator_left_to_default, bound_allocator_caches,
        pending_name, prepare_dir, remove_unfinished, room_to_reserve,
    };

    /// What a run killed outright leaves behind goes when the next run prepares the
    /// directory; what a running process or anyone else put there stays.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_killed_runs_leftovers_go_before_the_next_run() -> Result<(), Box<dyn std::error::Error>> {
        let mut child = std::process::Command::new("true").spawn()?;
        let dead = child.id();
        child.wait()?;
        let dir = tempfile::tempdir()?;
        let spill = dir
            .path()
            .join(format!(".transmogrify-spill-{dead}-x1Y2z3"));
        std::fs::create_dir(&spill)?;
        std::fs::write(spill.join("table-0.ipc"), "frames")?;
        let leftovers = [
            format!(".transmogrify-table-{dead}-0.csv.tmp"),
            format!(".events.parquet.tmp-{dead}"),
            format!(".{}~0123456789abcdef.tmp-{dead}", "t".repeat(200)),
        ];
        for name in &leftovers {
            std::fs::write(dir.path().join(name), "part")?;
        }
        // In a spill directory of its own only spills go.
        let apart = tempfile::tempdir()?;
        for name in &leftovers {
            std::fs::write(apart.path().join(name), "part")?;
        }
        let apart_spill = apart
            .path()
            .join(format!(".transmogrify-spill-{dead}-aBc123"));
        std::fs::create_dir(&apart_spill)?;
        super::remove_leftover_spills(apart.path());
        assert!(!apart_spill.exists());
        assert_eq!(std::fs::read_dir(apart.path())?.count(), leftovers.len());
        prepare_dir(dir.path(), false)?;
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 0);
        // Named like a run's but not what a run leaves: a directory of other files,
        // or one with a directory in it, and a file named like a spill directory.
        for (name, inside) in [
            (format!(".transmogrify-spill-{dead}-mine12"), "precious.txt"),
            (
                format!(".transmogrify-spill-{dead}-nest12"),
                "sub/table-0.ipc",
            ),
        ] {
            let kept = dir.path().join(name).join(inside);
            std::fs::create_dir_all(kept.parent().ok_or("no parent")?)?;
            std::fs::write(&kept, "x")?;
            prepare_dir(dir.path(), true)?;
            assert!(kept.exists(), "{}", kept.display());
        }
        // A running process's (this one's), and files of names that are not ours.
        let kept = [
            format!(".events.parquet.tmp-{}", std::process::id()),
            format!(".notes.tmp-{dead}"),
            format!(".transmogrify-spill-{dead}"),
            format!(".transmogrify-spill-{dead}-abcdef"),
        ];
        for name in &kept {
            std::fs::write(dir.path().join(name), "x")?;
            assert!(matches!(
                prepare_dir(dir.path(), false),
                Err(crate::Error::OutputDirNotEmpty { .. })
            ));
            prepare_dir(dir.path(), true)?;
            assert!(dir.path().join(name).exists());
            std::fs::remove_file(dir.path().join(name))?;
        }
        Ok(())
    }

    #[test]
    fn the_allocator_is_left_alone_when_the_user_tunes_it() {
        assert!(allocator_left_to_default(|_| None));
        for name in [
            "GLIBC_TUNABLES",
            "MALLOC_MMAP_THRESHOLD_",
            "MALLOC_TRIM_THRESHOLD_",
        ] {
            let set = |var: &str| (var == name).then(|| "1".into());
            assert!(!allocator_left_to_default(set), "{name}");
        }
        // Other variables do not count.
        assert!(allocator_left_to_default(|var: &str| {
            (var == "MALLOC_ARENA_MAX").then(|| "2".into())
        }));
        // glibc takes the settings; elsewhere nothing changes.
        let untuned = allocator_left_to_default(|name| std::env::var_os(name));
        let glibc = cfg!(all(target_os = "linux", target_env = "gnu"));
        assert_eq!(bound_allocator_caches(), untuned && glibc);
    }

    #[test]
    fn writeback_runs_on_its_own_thread_and_ends_with_its_owner()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("w");
        let mut file = File::create(&path)?;
        let mut writeback = Writeback::default();
        for round in 0..50u8 {
            file.write_all(&[round; 4096])?;
            // As if an eighth of the flush interval had been written each time.
            writeback.start(&file, FLUSH_EVERY / 8);
        }
        assert!(writeback.thread.is_some());
        // Closing waits for the thread, which has taken every file by then and had
        // the disk flush once every eight of them.
        assert_eq!(writeback.close(), 6);
        assert!(writeback.thread.is_none() && writeback.queue.is_none());
        drop(writeback);
        drop(file);
        let data = std::fs::read(&path)?;
        assert_eq!(data.len(), 50 * 4096);
        assert!(
            data.chunks(4096)
                .enumerate()
                .all(|(i, c)| c.iter().all(|&b| usize::from(b) == i))
        );
        Ok(())
    }

    /// `block` written `times` into `file`, blocks reserved ahead as a table file's
    /// are; the reservation and the bytes written.
    fn written_ahead(
        file: &mut File,
        block: &[u8],
        times: usize,
    ) -> std::io::Result<(Reserve, u64)> {
        let mut reserve = Reserve::default();
        let mut written = 0u64;
        for _ in 0..times {
            file.write_all(block)?;
            written += block.len() as u64;
            reserve.ahead(file, written);
        }
        Ok((reserve, written))
    }

    #[test]
    fn nothing_is_reserved_on_a_nearly_full_file_system() {
        let step = RESERVE_STEP;
        assert!(room_to_reserve(RESERVE_HEADROOM + step, step));
        assert!(!room_to_reserve(RESERVE_HEADROOM + step - 1, step));
        assert!(!room_to_reserve(40 << 20, step));
        assert!(!room_to_reserve(u64::MAX - 1, u64::MAX));
    }

    #[test]
    fn blocks_reserved_ahead_are_given_back_and_the_data_is_intact()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("grown");
        let mut file = File::create(&path)?;
        let block: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        let (mut reserve, written) = written_ahead(&mut file, &block, 40)?;
        // 12 MB written: room was reserved past it (where the platform can).
        let len = file.metadata()?.len();
        if cfg!(target_os = "linux") && !reserve.off {
            assert!(len > written && len <= written + RESERVE_STEP, "{len}");
        }
        reserve.release(&file, written)?;
        drop(file);
        let data = std::fs::read(&path)?;
        assert_eq!(data.len() as u64, written);
        assert!(data.chunks(block.len()).all(|c| c == block.as_slice()));
        Ok(())
    }

    #[test]
    fn files_get_their_names_together_once_all_are_synced() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let commits = Commits::new(dir.path());
        for name in ["a.csv", "b.csv"] {
            let pending = PendingFile::new(dir.path(), name);
            let mut file = BufWriter::new(File::create(&pending.tmp)?);
            file.write_all(name.as_bytes())?;
            commits.add(pending, file)?;
            // Synced or not, nothing has its final name before the end.
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!dir.path().join("a.csv").exists());
        }
        commits.finish()?;
        let mut names: Vec<String> = std::fs::read_dir(dir.path())?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        names.sort();
        assert_eq!(names, ["a.csv", "b.csv"]);
        assert_eq!(std::fs::read(dir.path().join("b.csv"))?, b"b.csv");
        Ok(())
    }

    #[test]
    fn a_file_committed_with_blocks_reserved_ahead_ends_at_its_data()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let commits = Commits::new(dir.path());
        let pending = PendingFile::new(dir.path(), "big.parquet");
        let mut file = File::create(&pending.tmp)?;
        let block: Vec<u8> = (0..=250u8).cycle().take(100_003).collect();
        let (reserve, written) = written_ahead(&mut file, &block, 30)?;
        if cfg!(target_os = "linux") && !reserve.off {
            assert!(file.metadata()?.len() > written);
        }
        // Cut back (on the commit's thread), synced, renamed.
        commits.add_reserved(pending, file, reserve, written)?;
        commits.finish()?;
        let data = std::fs::read(dir.path().join("big.parquet"))?;
        assert_eq!(data.len() as u64, written);
        assert!(data.chunks(block.len()).all(|c| c == block.as_slice()));
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }

    #[test]
    fn an_abandoned_output_leaves_no_files() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let commits = Commits::new(dir.path());
        let pending = PendingFile::new(dir.path(), "a.csv");
        let file = BufWriter::new(File::create(&pending.tmp)?);
        commits.add(pending, file)?;
        drop(commits);
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 0);
        Ok(())
    }

    #[test]
    fn a_name_up_to_the_limit_has_a_hidden_name_within_it() -> Result<(), Box<dyn std::error::Error>>
    {
        let end = format!(".tmp-{}", std::process::id());
        assert_eq!(pending_name("a.csv"), format!(".a.csv{end}"));
        // Near the limit: cut (never inside a character), told apart by a hash.
        let long = |last: &str| format!("{}{last}.parquet", "é".repeat(123));
        let (x, y) = (pending_name(&long("x")), pending_name(&long("y")));
        assert_ne!(x, y);
        for name in [&x, &y] {
            assert!(
                name.len() <= NAME_MAX && name.len() > NAME_MAX - 2,
                "{name}"
            );
            assert!(name.starts_with(".éé") && name.ends_with(&end), "{name}");
        }
        assert_eq!(x, pending_name(&long("x")));
        // The file systems here take it, and an interrupted run's cleanup finds it.
        let dir = tempfile::tempdir()?;
        let dest = long("x");
        assert_eq!(dest.len(), NAME_MAX);
        let pending = PendingFile::new(dir.path(), &dest);
        File::create(&pending.tmp)?;
        std::fs::write(dir.path().join(&dest), "kept")?;
        assert_eq!(remove_unfinished(dir.path()), 1);
        let left: Vec<_> = std::fs::read_dir(dir.path())?.collect::<Result<_, _>>()?;
        assert_eq!(left.len(), 1);
        Ok(())
    }
}
