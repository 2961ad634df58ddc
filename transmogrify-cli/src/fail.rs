//! Errors of the command line, each with its exit code.

use std::fmt;

/// Exit code of a run that succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit code of a data error: bad input in strict mode, failed chunks.
pub const EXIT_DATA: u8 = 1;
/// Exit code of a usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of an I/O error.
pub const EXIT_IO: u8 = 3;
/// Exit code of a bug (a panic), on one thread or in a worker thread or process.
pub const EXIT_BUG: u8 = 101;

/// A failure to report: one sentence, an optional hint, an exit code.
#[derive(Debug)]
pub struct Fail {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl Fail {
    pub fn usage(message: impl Into<String>) -> Self {
        Fail {
            code: EXIT_USAGE,
            message: message.into(),
            hint: None,
        }
    }

    pub fn io(message: impl Into<String>) -> Self {
        Fail {
            code: EXIT_IO,
            message: message.into(),
            hint: None,
        }
    }

    pub fn data(message: impl Into<String>) -> Self {
        Fail {
            code: EXIT_DATA,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds the hint for the operating system error behind `e`, if it has one and
    /// there is no other hint.
    fn hinted_by(self, e: &(dyn std::error::Error + 'static)) -> Self {
        use std::io::ErrorKind;
        let damaged = std::iter::successors(Some(e), |err| err.source()).any(|err| {
            let input = err.downcast_ref::<transmogrify_io::Error>().or_else(|| {
                match err.downcast_ref::<transmogrify_parallel::Error>() {
                    Some(transmogrify_parallel::Error::Input(input)) => Some(input),
                    _ => None,
                }
            });
            input.is_some_and(transmogrify_io::Error::is_corrupt_input)
        });
        if damaged && self.hint.is_none() {
            return self.with_hint(
                "the compressed data is damaged, and what it decompressed to before this \
                 point may be wrong too, so no table was written (in any --on-error mode); \
                 `gzip -t` or `zstd -t` checks a file",
            );
        }
        let hint = io_cause(e).and_then(|io| match io.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => Some(
                "the disk is full: the output directory's, or the one --spill-dir names, \
                 where a run keeps its parts while it runs (hidden `.transmogrify-*` \
                 entries; by default in the output directory)",
            ),
            #[cfg(unix)]
            _ if io.raw_os_error() == Some(libc::EMFILE) => Some(
                "a run keeps a file open for each table as it goes; \
                 allow more open files (`ulimit -n`)",
            ),
            _ => None,
        });
        match hint {
            Some(h) if self.hint.is_none() => self.with_hint(h),
            _ => self,
        }
    }
}

/// The first operating system error in `e`'s chain of causes.
fn io_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    std::iter::successors(Some(e), |err| err.source())
        .find_map(|err| err.downcast_ref::<std::io::Error>())
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

/// The command-line option that sets the configuration's `option`.
fn flag(option: &str) -> String {
    match option {
        "id_field" => "--id-column".into(),
        "parent_field" => "--parent-column".into(),
        "time_field" => "--time-column".into(),
        "array_index_field" => "--array-index-column".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

impl From<transmogrify_core::ConfigError> for Fail {
    fn from(e: transmogrify_core::ConfigError) -> Self {
        use transmogrify_core::ConfigError as E;
        match e {
            E::EmptySeparator => Fail::usage("--separator must not be empty"),
            E::EmptyFieldName { option } => {
                let flag = flag(option);
                let hint = if option == "array_index_field" {
                    "without --array-index-column there is no such column".to_string()
                } else {
                    format!("{} leaves the column out", flag.replacen("--", "--no-", 1))
                };
                Fail::usage(format!("{flag} must not be empty")).with_hint(hint)
            }
            E::DuplicateFieldName {
                first,
                second,
                name,
            } => Fail::usage(format!(
                "{} and {} both name the column {name:?}; metadata columns need distinct names",
                flag(first),
                flag(second)
            )),
            E::OutOfRange {
                option,
                min,
                max,
                value,
            } => Fail::usage(format!(
                "{} must be between {min} and {max}, got {value}",
                flag(option)
            )),
            E::NoIdFields => {
                Fail::usage("--id-strategy fields needs at least one --id-field PATTERN=FIELD")
            }
            E::BadIdPattern { pattern, reason } => {
                Fail::usage(format!("--id-field with pattern {pattern:?}: {reason}"))
                    .with_hint("use `=id` for the main table, `orders=order_id` for a child table")
            }
            other => Fail::usage(format!("invalid configuration: {other}")),
        }
    }
}

/// The hint for a bad record in strict mode: skip mode, and for a record over a
/// limit, the option that raises it.
fn skip_hint(record: &transmogrify_core::RecordError) -> &'static str {
    use transmogrify_core::RecordErrorKind as K;
    match record.kind {
        K::TooLarge { .. } => {
            "a record is held whole in memory: raise --max-record-size to take it, or use \
             --on-error skip to write it to the errors table and carry on (records in an \
             array inside one JSON object are read one by one with --json-path)"
        }
        K::TooManyColumns { .. } => {
            "raise --max-columns to take it, or use --on-error skip to write it to the \
             errors table and carry on"
        }
        K::TooDeep { .. } => {
            "raise --nesting-limit to take it, or use --on-error skip to write it to the \
             errors table and carry on"
        }
        _ => "use --on-error skip to write bad records to the errors table and carry on",
    }
}

impl From<transmogrify_core::Error> for Fail {
    fn from(e: transmogrify_core::Error) -> Self {
        use transmogrify_core::Error as E;
        match &e {
            E::Config(_) => Fail::usage(e.to_string()),
            E::Record(record) => Fail::data(e.to_string()).with_hint(skip_hint(record)),
            _ => Fail::data(e.to_string()),
        }
    }
}

impl From<transmogrify_parallel::Error> for Fail {
    fn from(e: transmogrify_parallel::Error) -> Self {
        use transmogrify_parallel::Error as E;
        if let Some(record) = e.record_error() {
            // The record's own position says it all; the chunk is an implementation detail.
            let fail = Fail::data(record.to_string());
            // A record of a chunk can be skipped; an input that breaks off (its
            // structure, or a header) cannot be read past that point in any mode.
            return if matches!(e, E::Chunk { .. }) {
                fail.with_hint(skip_hint(record))
            } else {
                fail.with_hint(
                    "the input cannot be read past this point (skip mode stops here too, \
                     after the records before it)",
                )
            };
        }
        // An input's options refused by its reader (a JSON path for JSONL input).
        fn input_error(e: &E) -> Option<&transmogrify_io::Error> {
            match e {
                E::Input(input) => Some(input),
                E::Chunk { source, .. } => input_error(source),
                _ => None,
            }
        }
        let usage = matches!(
            input_error(&e),
            Some(
                transmogrify_io::Error::InvalidOption { .. }
                    | transmogrify_io::Error::UnknownInputFormat { .. }
            )
        );
        let fail = match &e {
            E::Input(kept @ transmogrify_io::Error::WouldReplaceKeptFile { .. }) => {
                return Fail::would_replace_input(kept);
            }
            // Inputs read again are flattened again on one thread: these are read once.
            E::ColumnsPastLimit { .. } => {
                return Fail::data(e.to_string()).with_hint(
                    "standard input and pipes are read once: run with --executor sequential \
                     to find the records past the limit, or raise --max-columns",
                );
            }
            _ if e.is_panic() => Fail {
                code: EXIT_BUG,
                message: e.to_string(),
                hint: None,
            },
            _ if usage => Fail::usage(e.to_string()),
            E::Io { .. } => Fail::io(e.to_string()),
            E::Input(transmogrify_io::Error::Io { .. }) => Fail::io(e.to_string()),
            E::Chunk { source, .. } if matches!(**source, E::Io { .. }) => Fail::io(e.to_string()),
            E::Config(_) => Fail::usage(e.to_string()),
            E::Core(transmogrify_core::Error::Config(_)) => Fail::usage(e.to_string()),
            E::Sink(source) if io_cause(source.as_ref()).is_some() => Fail::io(e.to_string()),
            _ => Fail::data(e.to_string()),
        };
        fail.hinted_by(&e)
    }
}

impl Fail {
    /// A table file that would replace an input: a usage error.
    fn would_replace_input(e: &transmogrify_io::Error) -> Fail {
        Fail::usage(e.to_string())
            .with_hint("write into another directory (-o), or name the tables otherwise (--entity)")
    }
}

impl From<transmogrify_io::Error> for Fail {
    fn from(e: transmogrify_io::Error) -> Self {
        if e.stopped_raw().is_some() {
            return Fail::data(e.to_string()).with_hint(
                "the input cannot be read past this point (skip mode stops here too, after \
                 the records before it)",
            );
        }
        if let Some(record) = e.record_error() {
            return Fail::data(e.to_string()).with_hint(skip_hint(record));
        }
        let fail = match &e {
            transmogrify_io::Error::Io { .. } => Fail::io(e.to_string()),
            transmogrify_io::Error::OutputDirNotEmpty { path } => Fail::io(format!(
                "{}: the output directory is not empty",
                path.display()
            ))
            .with_hint("pass --force to write into it anyway, or choose another directory"),
            transmogrify_io::Error::WouldReplaceKeptFile { .. } => {
                return Fail::would_replace_input(&e);
            }
            transmogrify_io::Error::UnknownFormat { .. }
            | transmogrify_io::Error::InvalidOption { .. }
            | transmogrify_io::Error::UnknownInputFormat { .. } => Fail::usage(e.to_string()),
            _ => Fail::data(e.to_string()),
        };
        fail.hinted_by(&e)
    }
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;

    use super::{EXIT_IO, Fail};

    const FULL: &str = "the disk is full: the output directory's, or the one --spill-dir \
                        names, where a run keeps its parts while it runs (hidden \
                        `.transmogrify-*` entries; by default in the output directory)";

    fn io(kind: ErrorKind) -> transmogrify_io::Error {
        transmogrify_io::Error::Io {
            path: "out/.transmogrify-table-1-0.csv.tmp".into(),
            source: kind.into(),
        }
    }

    #[test]
    fn a_full_disk_gets_a_hint_wherever_the_error_is_wrapped() {
        let fail = Fail::from(io(ErrorKind::StorageFull));
        assert_eq!((fail.code, fail.hint.as_deref()), (EXIT_IO, Some(FULL)));
        let wrapped = transmogrify_parallel::Error::Sink(Box::new(io(ErrorKind::QuotaExceeded)));
        let fail = Fail::from(wrapped);
        assert_eq!((fail.code, fail.hint.as_deref()), (EXIT_IO, Some(FULL)));
        assert!(
            fail.message.starts_with("writing results: out/"),
            "{}",
            fail.message
        );
        assert_eq!(Fail::from(io(ErrorKind::NotFound)).hint, None);
    }
}
