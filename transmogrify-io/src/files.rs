//! `process_file` and `process_chunked` on a [`Processor`]: the front door of the
//! original library, for files of any format [`open_reader`] knows.

use std::path::Path;

use transmogrify_core::{ProcessingResult, Processor};

use crate::error::{Error, Result};
use crate::reader::{RawBatch, RawItem, Reader, ReaderOptions, Skipped, open_reader, skipped};

/// Files flattened by a [`Processor`] in memory: whole, or a chunk of records at a
/// time. For output in bounded memory whatever the input's size, and on several
/// threads or processes, run an executor of `transmogrify-parallel` into a
/// streaming sink instead.
///
/// A CSV file's rows come with the columns they have values for, in order of first
/// value, as JSON records do. For the header's order, and its columns empty
/// throughout written too (as the command line does), declare the header's names
/// as the main table's first columns:
/// `ProcessorConfig::builder().with_main_columns(csv_header(path, &options)?.unwrap_or_default())`
/// (see [`csv_header`](crate::csv_header)).
///
/// ```
/// use transmogrify_core::{IdStrategy, Processor, ProcessorConfig};
/// use transmogrify_io::ProcessorFiles;
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("events.jsonl");
/// # std::fs::write(&path, "{\"id\": 1, \"items\": [{\"n\": 1}]}\n{\"id\": 2}\n{\"id\": 3}\n")?;
/// let processor = Processor::new(
///     ProcessorConfig::builder().with_id_strategy(IdStrategy::Positional).build()?,
/// );
/// let whole = processor.process_file(&path, "events")?;
/// // Two records at a time, each chunk its own part, numbered on: the same tables.
/// let chunked = processor.process_chunked(&path, "events", 2)?;
/// assert_eq!(chunked.rows("main")?, whole.rows("main")?);
/// assert_eq!(chunked.main_table()?.len(), 2);
/// // Or the chunks one by one, each written before the next is read.
/// let sizes: Vec<usize> = processor
///     .chunks(&path, "events", 2)?
///     .map(|part| part.map(|p| p.num_rows("main").unwrap_or(0)))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(sizes, [2, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ProcessorFiles {
    /// Flattens the file at `path` (JSON, JSONL, CSV or Parquet, compressed or not;
    /// see [`open_reader`]) in memory, as one part.
    fn process_file(&self, path: impl AsRef<Path>, entity_name: &str) -> Result<ProcessingResult>;

    /// [`process_file`](Self::process_file) for a file that is a part of a larger
    /// data set, its first record numbered `first_ordinal` (the records of the
    /// files before it): as [`Processor::process_at`] numbers a part, so that
    /// positional ids are those of one pass over every file and the parts combine
    /// ([`ProcessingResult::combine_results`]). Error positions keep their lines and
    /// bytes in the file, and give the record's number in the whole.
    ///
    /// ```
    /// use transmogrify_core::{IdStrategy, ProcessingResult, Processor, ProcessorConfig};
    /// use transmogrify_io::ProcessorFiles;
    /// # let dir = tempfile::tempdir()?;
    /// # let (a, b, both) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"), dir.path().join("ab.jsonl"));
    /// # std::fs::write(&a, "{\"id\": 1}\n{\"id\": 2}\n")?;
    /// # std::fs::write(&b, "{\"id\": 3}\n")?;
    /// # std::fs::write(&both, "{\"id\": 1}\n{\"id\": 2}\n{\"id\": 3}\n")?;
    /// let processor = Processor::new(
    ///     ProcessorConfig::builder().with_id_strategy(IdStrategy::Positional).build()?,
    /// );
    /// let first = processor.process_file(&a, "events")?;
    /// let second = processor.process_file_at(&b, "events", 2)?;
    /// let parts = ProcessingResult::combine_results([first, second])?;
    /// // The rows (and ids) of the two files read as one.
    /// assert_eq!(parts.rows("main")?, processor.process_file(&both, "events")?.rows("main")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn process_file_at(
        &self,
        path: impl AsRef<Path>,
        entity_name: &str,
        first_ordinal: u64,
    ) -> Result<ProcessingResult>;

    /// Flattens the file at `path` `chunk_size` records at a time, each chunk a part
    /// of its own (its own Arrow batches), numbered on from the chunk before, and
    /// returns the parts combined: the tables [`process_file`](Self::process_file)
    /// gives, ids included.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a `chunk_size` of 0; else as
    /// [`process_file`](Self::process_file).
    fn process_chunked(
        &self,
        path: impl AsRef<Path>,
        entity_name: &str,
        chunk_size: usize,
    ) -> Result<ProcessingResult>;

    /// The parts [`process_chunked`](Self::process_chunked) combines, flattened one
    /// at a time as the iterator is advanced: memory holds one chunk's records.
    ///
    /// # Errors
    /// As [`process_chunked`](Self::process_chunked), for opening the file; each
    /// item is the chunk's result or the error that ends the iteration.
    fn chunks(
        &self,
        path: impl AsRef<Path>,
        entity_name: &str,
        chunk_size: usize,
    ) -> Result<Chunks>;
}

impl ProcessorFiles for Processor {
    fn process_file(&self, path: impl AsRef<Path>, entity_name: &str) -> Result<ProcessingResult> {
        crate::reader::process_file(self, path, entity_name, &ReaderOptions::default())
    }

    fn process_file_at(
        &self,
        path: impl AsRef<Path>,
        entity_name: &str,
        first_ordinal: u64,
    ) -> Result<ProcessingResult> {
        // Null cells the processor would drop are left out by the reader.
        let options = ReaderOptions::default().with_skip_null(self.config().readers_skip_null());
        let mut reader = open_reader(path, &options)?;
        let mut session = self.session(entity_name);
        session.set_source(reader.source_name());
        while let Some(batch) = reader.next() {
            let mut batch = match batch {
                Ok(batch) => batch,
                // In skip mode, as `process_file` does (see `drive`).
                Err(error) => match skipped(error, &session, reader.goes_on_after_error())? {
                    Skipped::GoesOn { mut record, after } => {
                        record.position.ordinal += first_ordinal;
                        session.reject(record, b"")?;
                        let after = after + first_ordinal;
                        session.set_next_ordinal(session.next_ordinal().max(after));
                        continue;
                    }
                    Skipped::Ends { mut record, raw } => {
                        record.position.ordinal += first_ordinal;
                        session.reject(record, &raw)?;
                        break;
                    }
                },
            };
            for item in &mut batch.items {
                let position = match item {
                    RawItem::Record { position, .. } => position,
                    RawItem::Bad { error, .. } => &mut error.position,
                };
                position.ordinal += first_ordinal;
            }
            crate::reader::push_batch(&mut session, &batch)?;
        }
        Ok(session.finish()?)
    }

    fn process_chunked(
        &self,
        path: impl AsRef<Path>,
        entity_name: &str,
        chunk_size: usize,
    ) -> Result<ProcessingResult> {
        let mut all = self.empty_result(entity_name);
        for part in self.chunks(path, entity_name, chunk_size)? {
            all.merge(part?)?;
        }
        Ok(all)
    }

    fn chunks(
        &self,
        path: impl AsRef<Path>,
        entity_name: &str,
        chunk_size: usize,
    ) -> Result<Chunks> {
        if chunk_size == 0 {
            return Err(Error::InvalidOption {
                option: "chunk_size",
                reason: "a chunk holds at least one record".to_string(),
            });
        }
        // Null cells the processor would drop are left out by the reader.
        let options = ReaderOptions::default().with_skip_null(self.config().readers_skip_null());
        Ok(Chunks {
            processor: self.clone(),
            entity: entity_name.to_string(),
            chunk_size,
            reader: open_reader(path, &options)?,
            batch: RawBatch::default(),
            next_item: 0,
            done: false,
            seen: transmogrify_core::ColumnsSeen::default(),
        })
    }
}

/// The parts of a file, `chunk_size` records each: see [`ProcessorFiles::chunks`].
pub struct Chunks {
    processor: Processor,
    entity: String,
    chunk_size: usize,
    reader: Box<dyn Reader>,
    /// The reader's batch being handed out, from `next_item` on.
    batch: RawBatch,
    next_item: usize,
    done: bool,
    /// The tables' columns in the chunks before, which count against the limit.
    seen: transmogrify_core::ColumnsSeen,
}

impl Chunks {
    /// The next chunk's result, `None` at the end of the file.
    fn next_chunk(&mut self) -> Result<Option<ProcessingResult>> {
        let mut session = self
            .processor
            .session(&self.entity)
            .with_columns_seen(self.seen.clone());
        session.set_source(self.reader.source_name());
        let mut items = 0;
        while items < self.chunk_size {
            if self.next_item >= self.batch.items.len() {
                if self.done {
                    break;
                }
                match self.reader.next() {
                    Some(Ok(batch)) => {
                        self.batch = batch;
                        self.next_item = 0;
                        continue;
                    }
                    // In skip mode, as `process_file` does (see `drive`): the
                    // errors table's row counts as one of the chunk's items.
                    Some(Err(error)) => {
                        let goes_on = self.reader.goes_on_after_error();
                        match skipped(error, &session, goes_on)? {
                            Skipped::GoesOn { record, .. } => session.reject(record, b"")?,
                            Skipped::Ends { record, raw } => {
                                session.reject(record, &raw)?;
                                self.done = true;
                            }
                        }
                        items += 1;
                        continue;
                    }
                    None => {
                        self.done = true;
                        break;
                    }
                }
            }
            let Some(item) = self.batch.items.get(self.next_item) else {
                continue;
            };
            match item {
                RawItem::Record { range, position } => {
                    self.batch.push_to_session(&mut session, range, *position)?;
                }
                RawItem::Bad { error, range } => {
                    session.reject(error.clone(), self.batch.bytes(range))?;
                }
            }
            self.next_item += 1;
            items += 1;
        }
        if items == 0 {
            return Ok(None);
        }
        Ok(Some(session.finish()?))
    }
}

impl Iterator for Chunks {
    type Item = Result<ProcessingResult>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done && self.next_item >= self.batch.items.len() {
            return None;
        }
        match self.next_chunk() {
            Ok(Some(part)) => Some(Ok(part)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                self.batch = RawBatch::default();
                Some(Err(e))
            }
        }
    }
}
