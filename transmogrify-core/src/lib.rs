//! The flattening engine of Transmogrify: nested JSON records in, linked relational
//! tables out, as Arrow record batches.
//!
//! A [`Processor`] (configured by a [`ProcessorConfig`]) turns each record into one row
//! of the main table and one row per array element in a child table, every child row
//! carrying its parent row's id. The result is a [`ProcessingResult`]: each table an
//! ordered list of Arrow record batches that can be combined with results of other
//! chunks, threads or processes.
//!
//! The design decision that matters: records are flattened **while they are parsed**.
//! A pull parser over the record's bytes drives the flattener, which writes values
//! straight into per-table column buffers, so no document tree is built, numbers keep
//! their exact text, and a bad record can be rolled back without a trace. Names and
//! types are settled only when a result is read, over every chunk at once, so the
//! output does not depend on how the input was split.
//!
//! This crate does no I/O and starts no threads; readers, writers and executors live
//! in `transmogrify-io` and `transmogrify-parallel`.
//!
//! Records given as [`serde_json::Value`]s ([`Processor::process_batch`]) keep every
//! digit and the order of their keys because this crate turns on serde_json's
//! `arbitrary_precision` and `preserve_order` features. Cargo turns features on for
//! the whole build, so a program that depends on this crate gets them in its own
//! uses of serde_json too: numbers in a `Value` keep their text (an exponent in
//! serde_json's form, `1e+5`) and objects keep their keys in order.
//!
//! ```
//! use transmogrify_core::{IdStrategy, Processor, ProcessorConfig};
//!
//! let config = ProcessorConfig::builder()
//!     .with_id_strategy(IdStrategy::Positional)
//!     .with_extract_time(Some(0))
//!     .build()?;
//! let processor = Processor::new(config);
//! let result = processor.process(
//!     br#"[{"id": "c1", "orders": [{"sku": "A", "items": [{"n": 1}, {"n": 2}]}]}]"#,
//!     "customers",
//! )?;
//! assert_eq!(
//!     result.table_names(),
//!     ["customers", "customers_orders", "customers_orders_items"]
//! );
//! let orders = result.rows("customers_orders")?;
//! let items = result.rows("customers_orders_items")?;
//! assert_eq!(items.len(), 2);
//! // Grandchildren link to their real parent row, not to the root.
//! assert_eq!(items[0]["__parent_extract_id"], orders[0]["__extract_id"]);
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

pub use crate::check::{Checked, JsonCheck};
pub use crate::config::{
    ArrayMode, DEFAULT_BATCH_SIZE, DEFAULT_ID_FIELD, DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_COMPONENT_LENGTH, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ERROR_RAW_BYTES,
    DEFAULT_MAX_RECORD_BYTES, DEFAULT_NESTING_LIMIT, DEFAULT_PARENT_FIELD, DEFAULT_SEPARATOR,
    DEFAULT_TIME_FIELD, ErrorMode, IdStrategy, MAX_NESTING_LIMIT, MAX_SUPPORTED_DEPTH,
    NamingOptions, ProcessorConfig, ProcessorConfigBuilder,
};
pub use crate::error::{
    ConfigError, Error, Position, RecordError, RecordErrorKind, Result, SyntaxError, excerpt,
};
pub use crate::frame::{Extent, JsonLines, JsonRecords, ValueExtent, looks_like_jsonl};
pub use crate::ids::{ID_NAMESPACE, IdContext, IdGenerator, uuid5};
pub use crate::naming::{
    BUILTIN_ABBREVIATIONS, MAX_FILE_STEM, RESERVED_FILE_STEMS, file_stem, unique_cleaned,
    unique_file_stems,
};
pub use crate::parse::write_json_string;
pub use crate::processor::{Processor, Session};
pub use crate::raw::{LayoutChange, RawChunks, RawResult, RawTable};
pub use crate::result::{
    BadRecord, ColumnCensus, ColumnRole, ColumnsSeen, ProcessingResult, ROLE_METADATA_KEY,
    ResultCollector, TableSchema, VALUE_COLUMN, batch_rows,
};
pub use crate::time::{format_timestamp, now_micros, parse_timestamp};
pub use crate::typed::{Convert, convert_text};

mod canonical;
mod check;
mod columns;
mod config;
mod error;
mod flatten;
mod frame;
mod ids;
mod naming;
mod parse;
mod processor;
mod raw;
mod result;
#[cfg(test)]
mod test_rng;
mod time;
mod typed;
