//! Readers and writers of Transmogrify: everything between files and the flattening
//! engine of `transmogrify-core`.
//!
//! **In**: a [`Reader`] is an iterator of [`RawBatch`]es, each holding the JSON text of
//! a run of records with their positions (source, record ordinal, line, column, byte
//! offset in the decompressed stream). [`open_reader`] picks the reader for a file:
//! streaming JSON (a top-level array element by element, one object, concatenated
//! objects, or a nested array picked by a `path` such as `data.items`), JSONL, CSV
//! and Parquet (nested columns become the JSON they stand for). `.gz` and `.zst` are
//! decompressed on the fly; `-` is stdin; the format comes from the extension or
//! the first bytes. [`drive`] / [`push_batch`] hand batches to a
//! [`Session`](transmogrify_core::Session); [`ProcessorFiles`] gives a
//! [`Processor`](transmogrify_core::Processor) `process_file` and `process_chunked`.
//!
//! **Out**: a [`TableWriter`] writes one table's batches to one file; a
//! [`WriterRegistry`] maps format names (`csv`, `json`, `jsonl`, `parquet`, and any
//! registered by the user) to [`WriterFactory`]s. [`WriteResultExt`] writes a
//! [`ProcessingResult`](transmogrify_core::ProcessingResult) as
//! `<dir>/<table file stem>.<ext>` per table, plus `<entity>_errors` for bad records
//! of skip mode and an optional data dictionary `_schema.json`.
//!
//! The design decision that matters: **outputs are written only when each table's
//! final layout is known**, without holding the data. [`StreamingOutput`] spills
//! each part of a run to Arrow IPC files in the engine's raw form and keeps only a
//! cell-less layout in memory; at the end every table is written in one pass with
//! its unified columns and types. (Text-mode CSV is the exception: its rows are
//! written as CSV while the run goes, and a table whose layout changed is written
//! again at the end from those rows, to the same bytes.) A column that first
//! appears in the last record is in every file, with nulls above it, and memory
//! stays bounded by the part size.
//! Every file is written under a hidden temporary name, synced and renamed when
//! complete, so a failed or killed run never leaves a file that looks finished.
//!
//! ```
//! use transmogrify_core::{IdStrategy, Processor, ProcessorConfig};
//! use transmogrify_io::{Input, ReaderOptions, WriteOptions, reader_for, stream_to_dir};
//!
//! let processor = Processor::new(
//!     ProcessorConfig::builder().with_id_strategy(IdStrategy::Positional).build()?,
//! );
//! let json = br#"{"data": {"items": [{"id": 1}, {"id": 2, "tags": [{"t": "x"}]}]}}"#;
//! let input = Input::from_bytes("wrapped.json", json.to_vec())?;
//! let options = ReaderOptions::builder().with_json_path(Some("data.items")).build()?;
//! let mut reader = reader_for(input, &options)?;
//! let dir = tempfile::tempdir()?;
//! let summary = stream_to_dir(&processor, &mut *reader, "items", dir.path(), "parquet", WriteOptions::default())?;
//! assert_eq!(summary.files[0].rows, 2);
//! assert!(dir.path().join("items_tags.parquet").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub use crate::csv_reader::{CsvOptions, DEFAULT_CSV_DELIMITER, DEFAULT_CSV_QUOTE};
pub use crate::csv_split::{CsvRange, CsvRanges, CsvSplitter};
pub use crate::csv_writer::{CsvWriter, CsvWriterFactory, cell_text};
pub use crate::error::{Error, Result};
pub use crate::files::{Chunks, ProcessorFiles};
pub use crate::guard::{panic_is_guarded, panic_message};
pub use crate::input::{Compression, Input, InputFormat};
pub use crate::json_writer::{JsonFormat, JsonWriter, JsonWriterFactory};
pub use crate::output::{
    ALLOCATOR_MAP_THRESHOLD, ALLOCATOR_TRIM_THRESHOLD, OutputBytes, OutputFile, OutputSummary,
    Sequential, TableJob, TableJobs, WriteResultExt, bound_allocator_caches, committed_outputs,
    data_dictionary, errors_table_name, id_field_warnings, is_stopping, remove_unfinished,
    same_file, stop_and_remove_unfinished, type_name,
};
pub use crate::parquet_reader::PARQUET_MAX_DEPTH;
pub use crate::parquet_writer::{
    DICTIONARY_PAGE_LIMIT, DICTIONARY_SAMPLE_ROWS, ParquetWriter, ParquetWriterFactory, SLICE_ROWS,
    WIDE_TABLE_COLUMNS,
};
pub use crate::reader::{
    DEFAULT_READER_BATCH_BYTES, DEFAULT_READER_BATCH_RECORDS, OVERSIZE_PREFIX, RawBatch, RawItem,
    Reader, ReaderOptions, ReaderOptionsBuilder, csv_header, csv_skipped_whole, drive, open_reader,
    process_file, process_reader, push_batch, reader_for,
};
pub use crate::spill_frame::check_decoded;
pub use crate::stream::{
    PartPreparer, PartSpiller, PreparedPart, SpilledFrames, SpilledPart, StreamingOutput,
    WriteProgress, stream_to_dir,
};
pub use crate::writer::{
    DATA_DICTIONARY_FILE, DEFAULT_CSV_OUTPUT_DELIMITER, DEFAULT_PART_BYTES,
    DEFAULT_ROW_GROUP_BYTES, DEFAULT_ROW_GROUP_SIZE, ParquetCompression, TableWriter, WriteOptions,
    WriteOptionsBuilder, WriteSummary, WriterFactory, WriterRegistry,
};

mod behind;
mod csv_reader;
mod csv_split;
mod csv_widen;
mod csv_writer;
mod error;
mod files;
mod guard;
mod input;
mod json_reader;
mod json_text;
mod json_writer;
mod jsonl_reader;
mod output;
mod parquet_footer;
mod parquet_reader;
mod parquet_runs;
mod parquet_text;
mod parquet_writer;
mod reader;
mod spare;
mod spill_frame;
mod stream;
#[cfg(test)]
mod test_output;
#[cfg(test)]
mod test_rng;
mod typed_text;
mod writer;
