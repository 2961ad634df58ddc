//! The worker side of the process executor: reads chunks from stdin, writes results
//! to stdout, until its input ends.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use transmogrify_core::{Position, Processor, Session};
use transmogrify_io::PartSpiller;

use crate::chunk::{bytes_between, flatten_into, read_range};
use crate::error::{Error, Result};
use crate::job::DEFAULT_PART_MEMORY;
use crate::plan::Layout;
use crate::wire::{
    self, BASE, CHUNK, COUNTED, FAILED, HELD, INIT, PART, READY, RESULT, get_str, get_u64,
    position_from, read_frame, read_frame_into, split_header, write_frame,
};

/// How a worker program's panic hook begins the one line it writes to stderr, the
/// panic's message and place after it: a worker process that exits 101 after such a
/// line is reported as a panic with that message ([`Error::Panicked`]), not run again.
pub const PANIC_LINE: &str =
    "error: internal error (this is a bug, please report it with the input): ";

/// Environment variable that makes a worker abort on a given chunk, for tests of crash
/// handling: `<chunk index>` aborts every time, `<chunk index>:<marker file>` aborts
/// only while the marker file does not exist (and creates it), so a retry succeeds.
pub const ABORT_ENV: &str = "TRANSMOGRIFY_WORKER_ABORT";

/// Runs a worker on this process's stdin and stdout; the entry point of the
/// `transmogrify-worker` binary and of `transmogrify __worker`. The process's
/// allocator keeps its caches bounded ([`transmogrify_io::bound_allocator_caches`]).
pub fn worker_main() -> ExitCode {
    transmogrify_io::bound_allocator_caches();
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut input = BufReader::new(stdin.lock());
    let mut output = BufWriter::new(stdout.lock());
    match serve(&mut input, &mut output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Its parent reads this; a closed stderr is no reason to panic.
            let _ = writeln!(std::io::stderr(), "transmogrify worker: {e}");
            ExitCode::from(3)
        }
    }
}

fn io(e: std::io::Error) -> Error {
    Error::io("<worker pipe>", e)
}

fn serve(input: &mut impl Read, output: &mut impl Write) -> Result<()> {
    let Some((INIT, payload)) = read_frame(input).map_err(io)? else {
        return Err(Error::Config("the worker expected an init frame".into()));
    };
    let (init, _) = split_header(&payload)?;
    let theirs = init.get("protocol").and_then(serde_json::Value::as_u64);
    if theirs != Some(wire::PROTOCOL) {
        let theirs = theirs.map_or("none".to_string(), |v| v.to_string());
        return Err(Error::Config(format!(
            "this worker reads frames of protocol {} and was sent protocol {theirs}: it is \
             from another version of transmogrify than the program that started it",
            wire::PROTOCOL
        )));
    }
    write_frame(output, READY, &[wire::PROTOCOL.to_string().as_bytes()]).map_err(io)?;
    let config = wire::config_from_json(init.get("config").unwrap_or(&serde_json::Value::Null))?;
    let entity = get_str(&init, "entity")?.to_string();
    let processor = Processor::new(config);
    // Where a part of a group ends: after the chunk or piece that takes its rows past
    // this.
    let part_memory = init
        .get("part_memory")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(DEFAULT_PART_MEMORY);
    let abort = std::env::var(ABORT_ENV).ok();
    // Where the caller's output reads spilled parts, if it does: parts go there,
    // and only where they are goes back.
    let mut spiller = match init.get("spill_dir").and_then(serde_json::Value::as_str) {
        Some(dir) => Some(PartSpiller::new(dir, &spill_stem())?),
        None => None,
    };
    // The bytes of the chunk being flattened, reused from chunk to chunk.
    let mut buf = Vec::new();
    // The session of a group of chunks still open (between its chunks).
    let mut session: Option<Session> = None;
    // The columns of every part this worker flattens, so that a single worker counts
    // `max_columns` over the run, as one thread does.
    let seen = transmogrify_core::ColumnsSeen::default();
    // The frame read and the result written, reused likewise.
    let (mut payload, mut result) = (Vec::new(), Vec::new());
    while let Some(kind) = read_frame_into(input, &mut payload).map_err(io)? {
        if kind != CHUNK {
            return Err(Error::Config(format!(
                "unexpected frame {:?}",
                kind as char
            )));
        }
        let (header, data) = split_header(&payload)?;
        if header.get("pieces").is_some() {
            // A JSONL range in pieces: its parts are sent as they end.
            session = None;
            let mut pieces = Pieces {
                processor: &processor,
                entity: &entity,
                part_memory,
                abort: abort.as_deref(),
                spiller: spiller.as_mut(),
                seen: &seen,
            };
            if let Err(e) = pieces.run(&header, input, output, &mut buf, &mut result) {
                let body = wire::error_to_json(&e).to_string();
                write_frame(output, FAILED, &[body.as_bytes()]).map_err(io)?;
            }
            continue;
        }
        let seq = get_u64(&header, "seq")?;
        maybe_abort(abort.as_deref(), seq);
        // A chunk marked `more` leaves its records in the session for the next chunk
        // of its group, unless they take the part past the part memory; the part's
        // last chunk sends the result of them all.
        let more = header.get("more").and_then(serde_json::Value::as_bool) == Some(true);
        let mut open = session
            .take()
            .unwrap_or_else(|| processor.session(&entity).with_columns_seen(seen.clone()));
        let outcome = run(&mut open, &header, data, input, output, &mut buf).and_then(|()| {
            if more && open.memory_bytes() as u64 <= part_memory {
                session = Some(open);
                Ok(None)
            } else {
                wire::encode_part_into(open.finish()?, spiller.as_mut(), &mut result)?;
                Ok(Some(()))
            }
        });
        match outcome {
            Ok(Some(())) => write_frame(output, RESULT, &[&result]).map_err(io)?,
            Ok(None) => write_frame(output, HELD, &[]).map_err(io)?,
            Err(e) => {
                let body = wire::error_to_json(&e).to_string();
                write_frame(output, FAILED, &[body.as_bytes()]).map_err(io)?;
            }
        }
    }
    Ok(())
}

fn maybe_abort(spec: Option<&str>, seq: u64) {
    let Some(spec) = spec else { return };
    let (index, marker) = match spec.split_once(':') {
        Some((i, m)) => (i, Some(PathBuf::from(m))),
        None => (spec, None),
    };
    if index.parse::<u64>() != Ok(seq) {
        return;
    }
    if let Some(marker) = marker {
        if marker.exists() {
            return;
        }
        let _ = std::fs::write(&marker, b"aborted once\n");
    }
    std::process::abort();
}

/// The stem of a worker's spill files' names: unique among the workers of a run
/// (the process id, and the time for a process id used again).
fn spill_stem() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("w{}-{nanos}", std::process::id())
}

/// What a worker needs to flatten a JSONL range planned as pieces.
struct Pieces<'a> {
    processor: &'a Processor,
    entity: &'a str,
    part_memory: u64,
    abort: Option<&'a str>,
    /// Where its parts are spilled, if they are.
    spiller: Option<&'a mut PartSpiller>,
    /// The columns of the worker's parts so far.
    seen: &'a transmogrify_core::ColumnsSeen,
}

impl Pieces<'_> {
    /// Flattens the range a frame describes, its `pieces` being each piece's seq and
    /// end: counts every piece, sends the counts, takes the first piece's base, and
    /// sends a [`PART`] frame for every part as it ends (after the piece that takes
    /// its rows past the part memory, and after the last piece).
    fn run(
        &mut self,
        header: &serde_json::Value,
        input: &mut impl Read,
        output: &mut impl Write,
        buf: &mut Vec<u8>,
        result: &mut Vec<u8>,
    ) -> Result<()> {
        let source = get_str(header, "source")?;
        let start = get_u64(header, "start")?;
        let path = PathBuf::from(get_str(header, "path")?);
        let pieces = wire::pieces_from(header.get("pieces").unwrap_or(&serde_json::Value::Null))?;
        let (Some(&(first, _)), Some(&(_, end))) = (pieces.first(), pieces.last()) else {
            return Err(Error::Config("a range of no pieces".into()));
        };
        read_range(&path, start, end, buf)?;
        // Each piece's seq, offset in the file, bytes and counts.
        let mut slices = Vec::with_capacity(pieces.len());
        let mut from = start;
        for &(seq, end) in &pieces {
            let piece = bytes_between(buf, start, from, end)
                .ok_or_else(|| Error::Config(format!("piece {seq} is outside its range")))?;
            slices.push((seq, from, piece, transmogrify_core::JsonLines::count(piece)));
            from = end;
        }
        let counts: Vec<[u64; 2]> = slices.iter().map(|&(_, _, _, (r, l))| [r, l]).collect();
        let counted = json!({"seq": first, "pieces": counts}).to_string();
        write_frame(output, COUNTED, &[counted.as_bytes()]).map_err(io)?;
        let Some((BASE, base)) = read_frame(input).map_err(io)? else {
            return Err(Error::Config("the worker expected a base frame".into()));
        };
        let (base, _) = split_header(&base)?;
        let (mut ordinal, mut line) = (get_u64(&base, "ordinal")?, get_u64(&base, "line")?);
        let session_of = || {
            self.processor
                .session(self.entity)
                .with_columns_seen(self.seen.clone())
        };
        let mut session = session_of();
        for (i, &(seq, offset, piece, (records, lines))) in slices.iter().enumerate() {
            maybe_abort(self.abort, seq);
            flatten_into(
                &mut session,
                source,
                piece,
                Layout::Lines { line },
                Position::line_start(ordinal, line, offset),
                &[],
            )?;
            ordinal += records;
            line += lines;
            if i + 1 == slices.len() || session.memory_bytes() as u64 > self.part_memory {
                let part = std::mem::replace(&mut session, session_of());
                wire::encode_part_into(part.finish()?, self.spiller.as_deref_mut(), result)?;
                let head = wire::with_header(&json!({ "through": i }), &[]);
                write_frame(output, PART, &[&head, result]).map_err(io)?;
            }
        }
        Ok(())
    }
}

/// Flattens the chunk a frame describes into `session`.
fn run(
    session: &mut Session,
    header: &serde_json::Value,
    data: &[u8],
    input: &mut impl Read,
    output: &mut impl Write,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let seq = get_u64(header, "seq")?;
    let source = get_str(header, "source")?;
    let start = get_u64(header, "start")?;
    let kind = get_str(header, "kind")?;
    if kind == "range" {
        let path = PathBuf::from(get_str(header, "path")?);
        read_range(&path, start, get_u64(header, "end")?, buf)?;
        let data = buf.as_slice();
        let (records, lines) = transmogrify_core::JsonLines::count(data);
        let counted = json!({"seq": seq, "records": records, "lines": lines}).to_string();
        write_frame(output, COUNTED, &[counted.as_bytes()]).map_err(io)?;
        let Some((BASE, base)) = read_frame(input).map_err(io)? else {
            return Err(Error::Config("the worker expected a base frame".into()));
        };
        let (base, _) = split_header(&base)?;
        let (ordinal, line) = (get_u64(&base, "ordinal")?, get_u64(&base, "line")?);
        flatten_into(
            session,
            source,
            data,
            Layout::Lines { line },
            Position::line_start(ordinal, line, start),
            &[],
        )
        .map(drop)
    } else if kind == "csv" {
        let path = PathBuf::from(get_str(header, "path")?);
        let (ranges, range) =
            wire::csv_range_from(header.get("csv").unwrap_or(&serde_json::Value::Null), &path)?;
        crate::driver::flatten_csv_range_into(
            session,
            source,
            &ranges,
            &range,
            get_u64(header, "ordinal")?,
        )
    } else if kind == "raw" {
        let mut batch = wire::raw_batch_from(
            data,
            get_u64(header, "items")?,
            header.get("bad").unwrap_or(&serde_json::Value::Null),
        )?;
        // Records their reader measured by their text in the input (CSV rows).
        batch.measured = header.get("measured").and_then(serde_json::Value::as_bool) == Some(true);
        // Records made of a reader's rows (CSV, Parquet): errors are placed at them.
        batch.made = header.get("made").and_then(serde_json::Value::as_bool) == Some(true);
        crate::driver::flatten_raw_into(session, source, &batch, get_u64(header, "ordinal")?)
    } else {
        let ordinal = get_u64(header, "ordinal")?;
        let layout = match kind {
            "lines" => Layout::Lines {
                line: get_u64(header, "line")?,
            },
            "elements" => Layout::Elements {
                first: position_from(header.get("first").unwrap_or(&serde_json::Value::Null))?,
            },
            _ => Layout::Values {
                first: position_from(header.get("first").unwrap_or(&serde_json::Value::Null))?,
            },
        };
        let line = match layout {
            Layout::Lines { line } => line,
            _ => 0,
        };
        // The ends of the values the planner measured follow the bytes.
        let count = header.get("ends").and_then(serde_json::Value::as_u64);
        let (data, ends) = wire::split_ends(data, count.unwrap_or(0))?;
        flatten_into(
            session,
            source,
            data,
            layout,
            Position::line_start(ordinal, line, start),
            &ends,
        )
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::with_header;
    use transmogrify_core::ProcessorConfig;

    /// Frames as read back: kind and payload.
    type Frames = Vec<(u8, Vec<u8>)>;

    /// What a worker answers to an init frame with `init` as its header, and to one
    /// chunk of `{"a":1}` lines after it.
    fn answers(mut init: serde_json::Value) -> Result<(Result<()>, Frames)> {
        let config = ProcessorConfig::builder()
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        init["config"] = wire::config_to_json(&config, 0)?;
        init["entity"] = json!("t");
        let mut input = Vec::new();
        let chunk = json!({"seq": 0, "source": "t.jsonl", "start": 0, "end": 8,
                           "kind": "lines", "line": 1, "ordinal": 0});
        for (kind, frame) in [
            (INIT, with_header(&init, &[])),
            (CHUNK, with_header(&chunk, b"{\"a\":1}\n")),
        ] {
            write_frame(&mut input, kind, &[&frame]).map_err(io)?;
        }
        let mut output = Vec::new();
        let served = serve(&mut input.as_slice(), &mut output);
        let mut frames = Vec::new();
        let mut out = output.as_slice();
        while let Some(frame) = read_frame(&mut out).map_err(io)? {
            frames.push(frame);
        }
        Ok((served, frames))
    }

    #[test]
    fn a_worker_answers_with_its_protocol_and_refuses_another() -> Result<()> {
        let (served, frames) = answers(json!({"protocol": wire::PROTOCOL}))?;
        assert!(served.is_ok(), "{served:?}");
        let kinds: Vec<char> = frames.iter().map(|(k, _)| *k as char).collect();
        assert_eq!(kinds, ['Y', 'R']);
        assert_eq!(frames[0].1, wire::PROTOCOL.to_string().into_bytes());

        for init in [json!({}), json!({"protocol": 1})] {
            let (served, frames) = answers(init.clone())?;
            let theirs = init
                .get("protocol")
                .map_or("none".into(), |v| v.to_string());
            assert_eq!(
                served.err().map(|e| e.to_string()),
                Some(format!(
                    "this worker reads frames of protocol {} and was sent protocol \
                     {theirs}: it is from another version of transmogrify than \
                     the program that started it",
                    wire::PROTOCOL
                ))
            );
            assert!(frames.is_empty());
        }
        Ok(())
    }
}
