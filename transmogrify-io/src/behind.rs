//! Files written behind their writer: bytes are gathered into pieces that a thread
//! of their own hands to the kernel, so that the writer goes on while the kernel
//! copies them into the page cache.
//!
//! A run's spill (the parts it keeps on disk until the tables are written) is as
//! large as its input, and its output about half as large: writing them with
//! `write` on the flattening thread was about 7% of a one-thread run to Parquet,
//! the kernel's page-cache work and copy. A [`BehindFile`] only copies the bytes
//! into a piece and, once the piece is full (or the writer flushes), sends it to
//! the [`WriteBehind`] thread, which writes the pieces of every file in the order
//! they came and gives them back. About [`PIECES`] exist, so a writer that runs
//! ahead of the disk waits for one to come back. An error writing a file is kept
//! and returned by the next piece handed over for the file or by
//! [`BehindFile::finish`], which also waits until every byte handed over is
//! written.
//!
//! Without the thread ([`WriteBehind::inline`]) a piece is written as it is handed
//! over, and the pieces are still shared by the files: one buffer, however many
//! files are written one after another.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam::channel::{Receiver, Sender, bounded, unbounded};

/// Bytes of a piece.
const PIECE: usize = 256 * 1024;

/// Pieces made before a writer waits for one to come back (8 MiB). Bursts of a
/// few megabytes (a part's spill frames) then go without waiting. More are made
/// only while none is with the thread: pieces being filled are never waited for.
const PIECES: usize = 32;

/// The first error writing a file, kept for its writer.
type Failed = Arc<Mutex<Option<std::io::Error>>>;

/// A copy of the first error kept in `failed`, if any (the original stays kept).
fn failure(failed: &Failed) -> std::io::Result<()> {
    match &*failed.lock().unwrap_or_else(PoisonError::into_inner) {
        Some(e) => Err(match e.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(e.kind(), e.to_string()),
        }),
        None => Ok(()),
    }
}

/// Writes `bytes` to `file` unless writing it failed before; keeps the error.
fn write_piece(file: &File, bytes: &[u8], failed: &Failed) {
    if failure(failed).is_ok()
        && let Err(e) = (&*file).write_all(bytes)
    {
        *failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
    }
}

/// The error of a file handed to a thread that is gone.
fn ended() -> std::io::Error {
    std::io::Error::other("the thread writing the file ended")
}

enum Job {
    /// `bytes` to be appended to `file`, unless writing it failed before.
    Write {
        file: Arc<File>,
        bytes: Vec<u8>,
        failed: Failed,
    },
    /// Everything handed over before is written: say so.
    Done(Sender<()>),
}

/// The thread that writes [`BehindFile`]s (or none), and the pieces that go back
/// and forth. The thread ends when the last handle to it is dropped.
#[derive(Clone)]
pub(crate) struct WriteBehind(Arc<Shared>);

struct Shared {
    /// To the thread; `None` when pieces are written as they are handed over.
    jobs: Option<Sender<Job>>,
    /// Pieces written, to be filled again.
    spare: Receiver<Vec<u8>>,
    give: Sender<Vec<u8>>,
    /// Pieces made so far.
    made: AtomicUsize,
    /// Pieces with the thread.
    away: Arc<AtomicUsize>,
}

impl std::fmt::Debug for WriteBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBehind")
            .field("thread", &self.0.jobs.is_some())
            .field("pieces", &self.0.made.load(Ordering::Relaxed))
            .finish()
    }
}

impl WriteBehind {
    /// Starts the thread (without one if it cannot be started).
    pub(crate) fn start() -> WriteBehind {
        Self::new(true)
    }

    /// Pieces written as they are handed over, on the writer's thread.
    pub(crate) fn inline() -> WriteBehind {
        Self::new(false)
    }

    fn new(thread: bool) -> WriteBehind {
        let (give, spare) = unbounded::<Vec<u8>>();
        let away = Arc::new(AtomicUsize::new(0));
        let (jobs, take) = unbounded::<Job>();
        let (back, counted) = (give.clone(), away.clone());
        let started = thread
            && std::thread::Builder::new()
                .name("transmogrify-write".into())
                .spawn(move || {
                    for job in take {
                        match job {
                            Job::Write {
                                file,
                                mut bytes,
                                failed,
                            } => {
                                write_piece(&file, &bytes, &failed);
                                drop(file);
                                bytes.clear();
                                // Back before it is counted back, so that a writer
                                // that finds none away finds this one.
                                let _ = back.send(bytes);
                                counted.fetch_sub(1, Ordering::Release);
                            }
                            Job::Done(done) => {
                                let _ = done.send(());
                            }
                        }
                    }
                })
                .is_ok();
        WriteBehind(Arc::new(Shared {
            jobs: started.then_some(jobs),
            spare,
            give,
            made: AtomicUsize::new(0),
            away,
        }))
    }

    /// An empty piece: one given back, a new one while fewer than [`PIECES`]
    /// exist or none is with the thread, or else the next one the thread gives
    /// back.
    fn piece(&self) -> Vec<u8> {
        let shared = &self.0;
        if let Ok(piece) = shared.spare.try_recv() {
            return piece;
        }
        if shared.made.load(Ordering::Relaxed) < PIECES || shared.away.load(Ordering::Acquire) == 0
        {
            shared.made.fetch_add(1, Ordering::Relaxed);
            return Vec::with_capacity(PIECE);
        }
        shared
            .spare
            .recv()
            .unwrap_or_else(|_| Vec::with_capacity(PIECE))
    }
}

/// A file appended to a piece at a time through a [`WriteBehind`].
pub(crate) struct BehindFile {
    file: Arc<File>,
    behind: WriteBehind,
    /// The piece being filled (no capacity: none yet).
    piece: Vec<u8>,
    failed: Failed,
}

impl BehindFile {
    /// Appends to `file` through `behind`.
    pub(crate) fn new(file: File, behind: WriteBehind) -> BehindFile {
        BehindFile {
            file: Arc::new(file),
            behind,
            piece: Vec::new(),
            failed: Arc::default(),
        }
    }

    /// The file, for calls that do not write (reserving blocks ahead, say).
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Hands over the piece being filled, after checking that the file's earlier
    /// pieces were written.
    fn hand_over(&mut self) -> std::io::Result<()> {
        failure(&self.failed)?;
        if self.piece.capacity() == 0 {
            return Ok(());
        }
        let mut bytes = std::mem::take(&mut self.piece);
        let shared = &self.behind.0;
        match &shared.jobs {
            Some(jobs) if !bytes.is_empty() => {
                shared.away.fetch_add(1, Ordering::Relaxed);
                let job = Job::Write {
                    file: self.file.clone(),
                    bytes,
                    failed: self.failed.clone(),
                };
                jobs.send(job).map_err(|_| ended())
            }
            _ => {
                write_piece(&self.file, &bytes, &self.failed);
                bytes.clear();
                let _ = shared.give.send(bytes);
                failure(&self.failed)
            }
        }
    }

    /// Waits until every byte appended is written; the file, or the first error
    /// writing to it.
    pub(crate) fn finish(self) -> std::io::Result<File> {
        self.finish_later()?.wait()
    }

    /// Hands over the last bytes; [`Finishing::wait`] waits until they are written
    /// (on another thread, say: the one that syncs the file).
    pub(crate) fn finish_later(mut self) -> std::io::Result<Finishing> {
        self.hand_over()?;
        let written = match &self.behind.0.jobs {
            Some(jobs) => {
                let (done, wait) = bounded(1);
                jobs.send(Job::Done(done)).map_err(|_| ended())?;
                Some(wait)
            }
            None => None,
        };
        Ok(Finishing {
            file: self.file.clone(),
            failed: self.failed.clone(),
            written,
        })
    }
}

impl Write for BehindFile {
    /// Takes all of `bytes` (see [`Write::write_all`]).
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.write_all(bytes).map(|()| bytes.len())
    }

    /// Appends `bytes`: the file has them once [`finish`](BehindFile::finish)
    /// returns.
    fn write_all(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if self.piece.capacity() == 0 {
                self.piece = self.behind.piece();
            }
            let room = self.piece.capacity() - self.piece.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.piece.extend_from_slice(now);
            bytes = rest;
            if self.piece.len() == self.piece.capacity() {
                self.hand_over()?;
            }
        }
        Ok(())
    }

    /// Hands over the piece being filled, so that no piece stays with a file
    /// between two writers' turns (a spill frame, say).
    fn flush(&mut self) -> std::io::Result<()> {
        self.hand_over()
    }
}

impl Drop for BehindFile {
    /// A piece never handed over goes back to the spares.
    fn drop(&mut self) {
        if self.piece.capacity() > 0 {
            let mut piece = std::mem::take(&mut self.piece);
            piece.clear();
            let _ = self.behind.0.give.send(piece);
        }
    }
}

/// A [`BehindFile`] whose last bytes are handed over ([`BehindFile::finish_later`]).
pub(crate) struct Finishing {
    file: Arc<File>,
    failed: Failed,
    /// Says when the bytes are written (none for a file written inline).
    written: Option<Receiver<()>>,
}

impl Finishing {
    /// Waits until every byte appended is written; the file, or the first error
    /// writing to it.
    pub(crate) fn wait(self) -> std::io::Result<File> {
        if let Some(written) = &self.written {
            written.recv().map_err(|_| ended())?;
        }
        failure(&self.failed)?;
        // The thread let go of the file with the last piece it wrote.
        Arc::try_unwrap(self.file).or_else(|file| file.try_clone())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::{BehindFile, PIECE, PIECES, WriteBehind};

    /// Bytes `0, 1, 2, …` (wrapping), `len` of them, starting at `from`.
    fn counting(from: usize, len: usize) -> Vec<u8> {
        (from..from + len).map(|i| (i % 251) as u8).collect()
    }

    /// Writes to `files` files through `behind`, in turns of every length from 1
    /// byte to a few pieces, flushing some; each file's bytes as written.
    fn interleaved(behind: &WriteBehind, files: usize) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let paths: Vec<_> = (0..files)
            .map(|i| dir.path().join(format!("{i}")))
            .collect();
        let mut open = paths
            .iter()
            .map(|p| Ok(BehindFile::new(std::fs::File::create(p)?, behind.clone())))
            .collect::<std::io::Result<Vec<_>>>()?;
        let mut written = vec![0usize; files];
        let lengths = [1, 7, PIECE - 1, 1, PIECE, 3 * PIECE + 5, 4096, 0, 100];
        for (turn, &len) in lengths.iter().cycle().take(4 * lengths.len()).enumerate() {
            let i = turn % files;
            open[i].write_all(&counting(written[i], len))?;
            written[i] += len;
            if turn % 3 == 0 {
                open[i].flush()?;
            }
        }
        for file in open {
            file.finish()?;
        }
        for (i, path) in paths.iter().enumerate() {
            assert_eq!(std::fs::read(path)?, counting(0, written[i]), "file {i}");
        }
        Ok(())
    }

    #[test]
    fn files_written_behind_get_their_bytes_in_order() -> Result<(), Box<dyn std::error::Error>> {
        interleaved(&WriteBehind::start(), 5)
    }

    #[test]
    fn files_written_inline_get_their_bytes_in_order() -> Result<(), Box<dyn std::error::Error>> {
        interleaved(&WriteBehind::inline(), 5)
    }

    #[test]
    fn more_files_than_pieces_each_holding_one_do_not_wait_forever()
    -> Result<(), Box<dyn std::error::Error>> {
        // Every file keeps the piece it is filling: beyond `PIECES` of them, with
        // none away on the thread to come back, new pieces are made rather than
        // waited for.
        let dir = tempfile::tempdir()?;
        let behind = WriteBehind::start();
        let mut files = Vec::new();
        for i in 0..PIECES + 8 {
            let mut file = BehindFile::new(
                std::fs::File::create(dir.path().join(format!("{i}")))?,
                behind.clone(),
            );
            file.write_all(&[i as u8])?;
            files.push(file);
        }
        for file in files {
            file.finish()?;
        }
        for i in 0..PIECES + 8 {
            assert_eq!(std::fs::read(dir.path().join(format!("{i}")))?, [i as u8]);
        }
        interleaved(&behind, PIECES + 8)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_write_is_the_error_of_the_next_piece_and_of_finish()
    -> Result<(), Box<dyn std::error::Error>> {
        for behind in [WriteBehind::start(), WriteBehind::inline()] {
            // Every write to /dev/full fails with "no space left on device".
            let full = std::fs::OpenOptions::new().write(true).open("/dev/full")?;
            let mut file = BehindFile::new(full, behind.clone());
            let piece = vec![7u8; PIECE];
            // The first piece fails on the thread (or at once, inline); a later
            // piece, or the end, reports it.
            let mut failed = None;
            for _ in 0..4 {
                if let Err(e) = file.write_all(&piece) {
                    failed = Some(e);
                    break;
                }
            }
            let e = match failed {
                Some(e) => e,
                None => file
                    .finish()
                    .err()
                    .ok_or("writing to /dev/full succeeded")?,
            };
            assert_eq!(e.raw_os_error(), Some(28), "{behind:?}: {e}");
            assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
        }
        Ok(())
    }

    #[test]
    fn a_finished_file_is_handed_back_whole() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("f");
        let behind = WriteBehind::start();
        let mut file = BehindFile::new(std::fs::File::create(&path)?, behind);
        file.write_all(&counting(0, PIECE + 10))?;
        let finishing = file.finish_later()?;
        // Waited for elsewhere, as a commit does.
        let file = std::thread::spawn(move || finishing.wait())
            .join()
            .map_err(|_| "panicked")??;
        assert_eq!(file.metadata()?.len(), (PIECE + 10) as u64);
        assert_eq!(std::fs::read(&path)?, counting(0, PIECE + 10));
        Ok(())
    }
}
