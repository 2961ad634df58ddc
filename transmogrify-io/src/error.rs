//! The error type of the I/O crate.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading inputs or writing outputs.
///
/// Errors about input name the source (a path, or `-` for stdin) and where in it the
/// problem is: line, column, byte offset (in the decompressed stream) and record
/// number for text inputs, the row for Parquet.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error of the flattening engine, including bad records in strict mode
    /// (see [`Error::record_error`]).
    #[error(transparent)]
    Core(#[from] transmogrify_core::Error),
    /// A file or directory could not be opened, created, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Reading an input failed part way through.
    #[error("{source_name}: read failed at byte {byte_offset}: {source}")]
    Read {
        /// The source's name.
        source_name: String,
        /// Bytes of the input read before the failure.
        byte_offset: u64,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A compressed input is damaged or cut short ([`Error::is_corrupt_input`] tells
    /// which). Data cut short inside a record is [`Error::Stopped`] instead.
    #[error(
        "{source_name}: {} {compression} data after byte {byte_offset} of the decompressed stream: {source}",
        if source.kind() == std::io::ErrorKind::UnexpectedEof { "truncated" } else { "damaged" }
    )]
    Decompress {
        /// The source's name.
        source_name: String,
        /// `gzip` or `zstd`.
        compression: &'static str,
        /// Bytes decompressed successfully before the failure.
        byte_offset: u64,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV input could not be parsed.
    #[error("{source_name}: line {line} (byte {byte_offset}): CSV error: {source}")]
    Csv {
        /// The source's name.
        source_name: String,
        /// Line of the input (1-based).
        line: u64,
        /// Byte offset in the (decompressed) input.
        byte_offset: u64,
        /// The CSV parser's error.
        #[source]
        source: csv::Error,
    },
    /// A Parquet input is corrupt or cannot be read.
    #[error(
        "{source_name}: {}corrupt or unreadable Parquet: {source}",
        place_text(*rows, *footer)
    )]
    Parquet {
        /// The source's name.
        source_name: String,
        /// The first and last row of the batch being read, if the footer was read:
        /// the damage is somewhere in them (a batch is decoded as a whole).
        rows: Option<(u64, u64)>,
        /// The first and last byte of the file's footer (its metadata, their length
        /// and the closing `PAR1`), when the footer is what could not be read and
        /// the file is read as stored: the last 8 bytes when they do not say where
        /// the metadata starts.
        footer: Option<(u64, u64)>,
        /// Where the row group holding the first of `rows` starts in the file (the
        /// offset of its first page), when the rows are known.
        group_offset: Option<u64>,
        /// The Parquet reader's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A Parquet column type that has no JSON form.
    #[error("{source_name}: column {column:?} has type {data_type}, which cannot be read as JSON")]
    UnsupportedParquetType {
        /// The source's name.
        source_name: String,
        /// The column (dotted path).
        column: String,
        /// Its Arrow type.
        data_type: arrow_schema::DataType,
    },
    /// A Parquet struct column with two fields of one name: a row's object would
    /// keep only one of their values.
    #[error(
        "{source_name}: column {column:?} has two fields named {field:?}, and a record keeps \
         one value of a key: rename one of them to read the file"
    )]
    RepeatedParquetField {
        /// The source's name.
        source_name: String,
        /// The struct column (dotted path).
        column: String,
        /// The name its fields share.
        field: String,
    },
    /// A Parquet column nested deeper than
    /// [`PARQUET_MAX_DEPTH`](crate::PARQUET_MAX_DEPTH) levels.
    #[error(
        "{source_name}: column {column:?} is nested more than {limit} levels deep, \
         deeper than a Parquet input is read"
    )]
    ParquetTooDeep {
        /// The source's name.
        source_name: String,
        /// The top-level column.
        column: String,
        /// The limit.
        limit: usize,
    },
    /// A bad record the input cannot be read past, in any error mode: a CSV quote
    /// that never closes takes every later row into its field; compressed data
    /// cut short ends inside a record. `raw` is the record's text as written (its
    /// first bytes), for an errors table.
    #[error("{error}")]
    Stopped {
        /// What is wrong, and where.
        error: Box<transmogrify_core::RecordError>,
        /// The bad record's text as written (cut).
        raw: Vec<u8>,
    },
    /// The `path` option names something that is not in the input.
    #[error("{source_name}: path {path:?} not found: {reason}")]
    PathNotFound {
        /// The source's name.
        source_name: String,
        /// The path option.
        path: String,
        /// What was found instead.
        reason: String,
    },
    /// The input's format could not be recognised.
    #[error(
        "{source_name}: cannot tell the input format (name it explicitly: json, jsonl, csv or parquet)"
    )]
    UnknownInputFormat {
        /// The source's name.
        source_name: String,
    },
    /// No writer is registered under this format name.
    #[error("no writer for format {name:?} (known: {})", known.join(", "))]
    UnknownFormat {
        /// The format asked for.
        name: String,
        /// The registered format names.
        known: Vec<String>,
    },
    /// The output directory already holds files and overwriting was not allowed.
    #[error("{}: output directory is not empty (set `WriteOptionsBuilder::with_overwrite(true)` to write into it)", path.display())]
    OutputDirNotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// A file of the output would replace a file it was told to keep (see
    /// [`WriteOptionsBuilder::with_kept_files`](crate::WriteOptionsBuilder::with_kept_files)),
    /// such as an input in the output directory: no file of the output got its
    /// final name.
    #[error("{}: a table's file would replace this file, one of the run's inputs; no output file was written", path.display())]
    WouldReplaceKeptFile {
        /// The file's path in the output directory.
        path: PathBuf,
    },
    /// An option or a combination of options is invalid.
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// The option.
        option: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// Writing Parquet failed.
    #[error("{}: writing Parquet failed: {source}", path.display())]
    ParquetWrite {
        /// The output (a file, or `<memory>`).
        path: PathBuf,
        /// The Parquet writer's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Building, converting or (de)serialising Arrow data failed.
    #[error("{context}: {source}")]
    Arrow {
        /// What was being done.
        context: String,
        /// Arrow's error.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// A custom writer failed.
    #[error("{format} writer: {source}")]
    Writer {
        /// The writer's format name.
        format: String,
        /// Its error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A custom writer's error ([`Error::Writer`]), with the file it was writing.
    #[error("{}: {source}", path.display())]
    Output {
        /// The table's file.
        path: PathBuf,
        /// The writer's error.
        #[source]
        source: Box<Error>,
    },
    /// An internal invariant broke. This is a bug; please report it with the input.
    #[error("internal error (this is a bug, please report it): {0}")]
    Internal(String),
}

/// Whether `path` is the stand-in name a writer gives its output, which it knows
/// only as a stream (`<parquet output>`).
fn is_unnamed_output(path: &std::path::Path) -> bool {
    path.to_str()
        .is_some_and(|p| p.starts_with('<') && p.ends_with(" output>"))
}

impl Error {
    /// Whether a compressed input is damaged rather than cut short: its decoder found
    /// data it cannot decode, or a checksum that does not match. Damaged data can
    /// decode to wrong text before the decoder notices, so the records decompressed
    /// before the error cannot be trusted either (those before a cut can: the data
    /// only ends early).
    ///
    /// ```
    /// use transmogrify_io::Error;
    /// let at = |kind: std::io::ErrorKind| Error::Decompress {
    ///     source_name: "events.jsonl.gz".into(),
    ///     compression: "gzip",
    ///     byte_offset: 100,
    ///     source: std::io::Error::new(kind, "…"),
    /// };
    /// assert!(at(std::io::ErrorKind::InvalidInput).is_corrupt_input());
    /// assert!(!at(std::io::ErrorKind::UnexpectedEof).is_corrupt_input());
    /// ```
    pub fn is_corrupt_input(&self) -> bool {
        matches!(self, Error::Decompress { source, .. } if source.kind() != std::io::ErrorKind::UnexpectedEof)
    }

    /// This error of a writer with its output named `path`: a stand-in name is
    /// replaced, and an operating system's error inside a Parquet writer's error
    /// becomes an [`Error::Io`] (a full disk is an I/O error whatever wrote to it);
    /// a custom writer's error is wrapped with the path ([`Error::Output`]).
    pub(crate) fn at_output(self, path: &std::path::Path) -> Self {
        match self {
            Error::Io {
                path: unnamed,
                source,
            } if is_unnamed_output(&unnamed) => Error::Io {
                path: path.to_path_buf(),
                source,
            },
            Error::ParquetWrite {
                path: unnamed,
                source,
            } if is_unnamed_output(&unnamed) => match source {
                parquet::errors::ParquetError::External(inner) => {
                    match inner.downcast::<std::io::Error>() {
                        Ok(io) => Error::Io {
                            path: path.to_path_buf(),
                            source: *io,
                        },
                        Err(inner) => Error::ParquetWrite {
                            path: path.to_path_buf(),
                            source: parquet::errors::ParquetError::External(inner),
                        },
                    }
                }
                source => Error::ParquetWrite {
                    path: path.to_path_buf(),
                    source,
                },
            },
            // A custom writer knows only its stream: its error gets the file.
            writer @ Error::Writer { .. } => Error::Output {
                path: path.to_path_buf(),
                source: Box::new(writer),
            },
            other => other,
        }
    }

    /// The bad record inside, if this error is about one record.
    pub fn record_error(&self) -> Option<&transmogrify_core::RecordError> {
        match self {
            Error::Core(e) => e.as_record_error(),
            Error::Stopped { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The bad record inside, to change (its position renumbered, say).
    pub fn record_error_mut(&mut self) -> Option<&mut transmogrify_core::RecordError> {
        match self {
            Error::Core(e) => e.as_record_error_mut(),
            Error::Stopped { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The first and last row of a Parquet input that could not be decoded
    /// ([`Error::Parquet`] naming its rows): a reader that goes on after it
    /// ([`Reader::goes_on_after_error`](crate::Reader::goes_on_after_error)) has
    /// lost them.
    pub fn lost_rows(&self) -> Option<(u64, u64)> {
        match self {
            Error::Parquet {
                rows: Some((first, last)),
                ..
            } => Some((*first, (*last).max(*first))),
            _ => None,
        }
    }

    /// For the rows [`lost_rows`](Self::lost_rows) names, the bad record an errors
    /// table gets: where they start (ordinal and line are the row number, as for
    /// Parquet rows, and the byte offset is where their row group starts), no raw
    /// text.
    pub fn lost_rows_record(&self) -> Option<transmogrify_core::RecordError> {
        let (first, _) = self.lost_rows()?;
        let Error::Parquet { source_name, .. } = self else {
            return None;
        };
        let text = self.to_string();
        let message = text
            .strip_prefix(&format!("{source_name}: "))
            .unwrap_or(&text)
            .to_string();
        Some(transmogrify_core::RecordError {
            source_name: std::sync::Arc::from(source_name.as_str()),
            position: transmogrify_core::Position::line_start(
                first,
                first + 1,
                match self {
                    Error::Parquet { group_offset, .. } => group_offset.unwrap_or(0),
                    _ => 0,
                },
            ),
            kind: transmogrify_core::RecordErrorKind::Input(message),
            excerpt: String::new(),
        })
    }

    /// The text as written of the bad record that stopped an input
    /// ([`Error::Stopped`]).
    pub fn stopped_raw(&self) -> Option<&[u8]> {
        match self {
            Error::Stopped { raw, .. } => Some(raw),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn arrow(context: impl Into<String>, source: arrow_schema::ArrowError) -> Self {
        Error::Arrow {
            context: context.into(),
            source,
        }
    }
}

impl From<transmogrify_core::RecordError> for Error {
    fn from(e: transmogrify_core::RecordError) -> Self {
        Error::Core(e.into())
    }
}

/// `row 7: `, `rows 0-1023: ` or `footer (bytes 3180-6708): ` before a Parquet
/// error, or nothing.
fn place_text(rows: Option<(u64, u64)>, footer: Option<(u64, u64)>) -> String {
    match (rows, footer) {
        (Some((first, last)), _) if first == last => format!("row {first}: "),
        (Some((first, last)), _) => format!("rows {first}-{last}: "),
        (None, Some((first, last))) => format!("footer (bytes {first}-{last}): "),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ENOSPC` (no space left on device) on Linux and macOS alike.
    const ENOSPC: i32 = 28;

    #[test]
    fn a_writer_error_names_the_file_and_a_full_disk_is_an_io_error() {
        let file = std::path::Path::new("out/t.parquet");
        let full = || std::io::Error::from_raw_os_error(ENOSPC);
        let parquet = Error::ParquetWrite {
            path: PathBuf::from("<parquet output>"),
            source: parquet::errors::ParquetError::External(Box::new(full())),
        };
        let Error::Io { path, source } = parquet.at_output(file) else {
            panic!("not an I/O error");
        };
        assert_eq!(
            (path.as_path(), source.raw_os_error()),
            (file, Some(ENOSPC))
        );
        let text = Error::io("<json output>", full()).at_output(file);
        assert!(text.to_string().starts_with("out/t.parquet: "), "{text}");
        let other = Error::ParquetWrite {
            path: PathBuf::from("<parquet output>"),
            source: parquet::errors::ParquetError::General("bad".into()),
        };
        assert_eq!(
            other.at_output(file).to_string(),
            "out/t.parquet: writing Parquet failed: Parquet error: bad"
        );
        // A path a custom writer gave stays as it is.
        let named = Error::io("elsewhere.log", full()).at_output(file);
        assert!(named.to_string().starts_with("elsewhere.log: "), "{named}");
        // A custom writer's own error gets the file's name.
        let custom = Error::Writer {
            format: "markdown".into(),
            source: "no room".into(),
        };
        assert_eq!(
            custom.at_output(file).to_string(),
            "out/t.parquet: markdown writer: no room"
        );
    }
}
