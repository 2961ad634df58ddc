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

/// Flattens the records of `data`, laid out as `layout`, into `session` after the
/// records it already holds. `start` gives the first record's ordinal and, for lines,
/// the line and byte offset of `data[0]`. `ends`: where the planner measured each
/// array element or value to end, if it tells (else they are measured here).
pub(crate) fn flatten_into(
    session: &mut Session,
    source: &str,
    data: &[u8],
    layout: Layout,
    start: Position,
    ends: &[usize],
) -> Result<()> {
    let Position {
        ordinal,
        line,
        byte_offset: start_offset,
        ..
    } = start;
    session.set_source(source);
    match layout {
        Layout::Lines { .. } => {
            for (record, pos) in
                JsonLines::new(data, Position::line_start(ordinal, line, start_offset))
            {
                session.push_at(record, pos)?;
            }
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
            }
        }
    }
    Ok(())
}
