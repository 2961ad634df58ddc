//! JSONL / NDJSON reader: one record per line.
//!
//! Lines holding only whitespace are skipped and take no ordinal; a trailing `\r` is
//! dropped (CRLF files); a last line without a newline counts. A bad line is one bad
//! record, reported by the engine, and in skip mode reading goes on at the next line.

use std::io::BufRead;
use std::sync::Arc;

use transmogrify_core::Position;

use crate::error::Result;
use crate::input::Input;
use crate::reader::{Batcher, RawBatch, Reader, ReaderOptions};

/// Reads JSONL records from an [`Input`].
pub(crate) struct JsonlReader {
    input: Input,
    source: Arc<str>,
    line: u64,
    offset: u64,
    ordinal: u64,
    line_buf: Vec<u8>,
    batcher: Batcher,
    done: bool,
}

impl JsonlReader {
    pub(crate) fn new(input: Input, options: &ReaderOptions) -> Self {
        JsonlReader {
            source: input.name.clone(),
            input,
            line: 1,
            offset: 0,
            ordinal: 0,
            line_buf: Vec::new(),
            batcher: Batcher::new(options),
            done: false,
        }
    }

    /// Reads one line into the batch; false at the end of the input.
    fn step(&mut self) -> Result<bool> {
        self.line_buf.clear();
        let n = loop {
            match self.input.reader.read_until(b'\n', &mut self.line_buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.input.read_error(e, self.offset)),
            }
        };
        if n == 0 {
            return Ok(false);
        }
        let start = self.offset;
        let line = self.line;
        self.offset += n as u64;
        self.line += 1;
        let mut text = self.line_buf.as_slice();
        text = text.strip_suffix(b"\n").unwrap_or(text);
        text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(|b| b" \t\r".contains(b)) {
            return Ok(true);
        }
        self.batcher
            .batch
            .push_record(text, Position::line_start(self.ordinal, line, start));
        self.ordinal += 1;
        Ok(true)
    }
}

impl Iterator for JsonlReader {
    type Item = Result<RawBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            match self.step() {
                Ok(true) => {
                    if self.batcher.is_full() {
                        return self.batcher.take().map(Ok);
                    }
                }
                Ok(false) => {
                    self.done = true;
                    return self.batcher.take().map(Ok);
                }
                Err(e) => {
                    // Records read before the failure are lost with it: a read error
                    // ends the run in every error mode.
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl Reader for JsonlReader {
    fn source_name(&self) -> &str {
        &self.source
    }

    fn bytes_read(&self) -> u64 {
        self.input.bytes_read()
    }

    fn total_bytes(&self) -> Option<u64> {
        self.input.total_bytes()
    }
}
