//! Flattening one chunk: the work every executor (and every worker process) does.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use transmogrify_core::{JsonLines, JsonRecords, Position, Session};

use crate::error::{Error, Result};
use crate::plan::Layout;

/// Bytes `from..to` of a file in `data`, which holds the file from byte `start`
/// (as [`read_range`] leaves it); `None` if they are not all there.
pub(crate) fn bytes_between(data: &[u8], start: u64, from: u64, to: u64) -> Option<&[u8]> {
    let at = |offset: u64| usize::try_from(offset.checked_sub(start)?).ok();
    data.get(at(from)?..at(to)?)
}

/// Reads bytes `start..end` of a file into `data` (replacing its contents). A worker
/// passes the same buffer for every chunk: its pages are reused rather than faulted
/// in afresh for each chunk.
pub(crate) fn read_range(path: &Path, start: u64, end: u64, data: &mut Vec<u8>) -> Result<()> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    file.seek(SeekFrom::Start(start))
        .map_err(|e| Error::io(path, e))?;
    let len = usize::try_from(end.saturating_sub(start))
        .map_err(|_| Error::Config(format!("chunk of {} bytes is too large", end - start)))?;
    data.clear();
    data.reserve(len);
    file.take(len as u64)
        .read_to_end(data)
        .map_err(|e| Error::io(path, e))?;
    if data.len() != len {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "the file ended at byte {} inside a chunk that ends at {end}",
                    start + data.len() as u64
                ),
            ),
        ));
    }
    Ok(())
}

/// Reads the JSONL ranges of one runner. With read-ahead, once a range is read the
/// range after it (a quarter longer) is read on a thread of its own while the caller
/// flattens the first: reading was about 2.5% of a one-thread run to Parquet, the
/// kernel copying the file out of the page cache. The next range is taken from
/// what was read ahead where it starts there (the rest, if it is longer, read
/// then), and read as before otherwise.
#[derive(Default)]
pub(crate) struct RangeReader {
    /// Whether ranges are read ahead (with a core to spare for it).
    ahead: bool,
    /// The read ahead under way: its file, where it starts, and the thread.
    pending: Option<(std::path::PathBuf, u64, std::thread::JoinHandle<Vec<u8>>)>,
    /// A buffer for the next read ahead (the last range's, once it is done with).
    spare: Vec<u8>,
}

impl RangeReader {
    /// A reader that reads ahead or not.
    pub(crate) fn new(ahead: bool) -> Self {
        RangeReader {
            ahead,
            ..RangeReader::default()
        }
    }

    /// Reads bytes `start..end` of the file at `path` into `data`, as
    /// [`read_range`] does, and starts reading the next range ahead.
    pub(crate) fn read(
        &mut self,
        path: &Path,
        start: u64,
        end: u64,
        data: &mut Vec<u8>,
    ) -> Result<()> {
        match self.pending.take() {
            Some((file, from, thread)) if file == path && from == start => {
                let mut read = thread.join().unwrap_or_default();
                let want = usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX);
                if read.len() >= want {
                    read.truncate(want);
                    self.spare = std::mem::replace(data, read);
                } else {
                    // Short (the file ended sooner, or reading failed): the rest
                    // is read now, and any error with it.
                    let have = read.len() as u64;
                    let mut rest = std::mem::replace(data, read);
                    read_range(path, start + have, end, &mut rest)?;
                    data.extend_from_slice(&rest);
                    self.spare = rest;
                }
            }
            other => {
                if let Some((_, _, thread)) = other {
                    self.spare = thread.join().unwrap_or_default();
                }
                read_range(path, start, end, data)?;
            }
        }
        if self.ahead {
            // A quarter more: ranges end at the first line end after their size,
            // and one a little longer than the last would otherwise have its tail
            // read, and the whole range copied to make room for it.
            let len = end - start;
            self.read_ahead(path, end, len + len / 4);
        }
        Ok(())
    }

    /// Starts reading up to `len` bytes of the file at `path` from `start` on a
    /// thread of its own (nothing if no thread can be started).
    fn read_ahead(&mut self, path: &Path, start: u64, len: u64) {
        let mut data = std::mem::take(&mut self.spare);
        let file = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("transmogrify-read".into())
            .spawn(move || {
                data.clear();
                // A range cut short by an error is read again by the caller.
                let _ = File::open(&file).and_then(|mut f| {
                    f.seek(SeekFrom::Start(start))?;
                    data.reserve(usize::try_from(len).unwrap_or(0));
                    f.take(len).read_to_end(&mut data)
                });
                data
            });
        if let Ok(thread) = thread {
            self.pending = Some((path.to_path_buf(), start, thread));
        }
    }
}

/// Flattens the records of `data`, laid out as `layout`, into `session` after the
/// records it already holds. `start` gives the first record's ordinal and, for lines,
/// the line and byte offset of `data[0]`. `ends`: where the planner measured each
/// array element or value to end, if it tells (else they are measured here).
/// Returns the records and, for lines, the lines of `data` (as
/// [`JsonLines::count`] counts them).
pub(crate) fn flatten_into(
    session: &mut Session,
    source: &str,
    data: &[u8],
    layout: Layout,
    start: Position,
    ends: &[usize],
) -> Result<(u64, u64)> {
    let Position {
        ordinal,
        line,
        byte_offset: start_offset,
        ..
    } = start;
    session.set_source(source);
    let mut records = 0;
    match layout {
        Layout::Lines { .. } => {
            let mut lines = JsonLines::new(data, Position::line_start(ordinal, line, start_offset));
            for (record, pos) in lines.by_ref() {
                session.push_at(record, pos)?;
                records += 1;
            }
            return Ok((records, lines.next_line() - line));
        }
        Layout::Elements { first } | Layout::Values { first } => {
            let first = Position { ordinal, ..first };
            // The planner measured every value it put in the chunk by its strings and
            // brackets; each record's own parse checks it.
            let items = match layout {
                Layout::Elements { .. } => JsonRecords::elements(data, source, first),
                _ => JsonRecords::values(data, source, first),
            };
            let items = items.known_valid().with_ends(ends);
            for item in items {
                let (record, pos) = item.map_err(transmogrify_core::Error::from)?;
                session.push_at(record, pos)?;
                records += 1;
            }
        }
    }
    Ok((records, 0))
}

#[cfg(test)]
mod tests {
    use super::{RangeReader, read_range};

    #[test]
    fn ranges_read_ahead_are_the_bytes_read_as_they_come() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("in.jsonl");
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &bytes)?;
        // Consecutive ranges shorter and longer than the one before (read ahead
        // as long as the last), a range elsewhere, and the end of the file.
        let ranges = [
            (0, 100),
            (100, 300),
            (300, 450),
            (450, 2_000),
            (2_000, 2_001),
            (10, 20),
            (20, 10_000),
        ];
        for ahead in [true, false] {
            let mut reader = RangeReader::new(ahead);
            let mut data = Vec::new();
            for (start, end) in ranges {
                reader.read(&path, start, end, &mut data)?;
                assert_eq!(data, bytes[start as usize..end as usize], "{start}..{end}");
            }
        }
        Ok(())
    }

    #[test]
    fn a_range_past_the_end_is_the_error_it_is_without_reading_ahead()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("in.jsonl");
        std::fs::write(&path, b"0123456789")?;
        let mut data = Vec::new();
        let expected = read_range(&path, 6, 14, &mut data)
            .err()
            .ok_or("a range past the end was read")?
            .to_string();
        let mut reader = RangeReader::new(true);
        reader.read(&path, 0, 6, &mut data)?;
        assert_eq!(data, b"012345");
        // Read ahead: 6..12, of which the file has 6..10.
        let e = reader
            .read(&path, 6, 14, &mut data)
            .err()
            .ok_or("a range past the end was read")?;
        assert_eq!(e.to_string(), expected);
        Ok(())
    }
}
