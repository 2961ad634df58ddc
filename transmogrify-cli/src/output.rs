//! Where flattened tables go (through `transmogrify-io`'s writers), and how inputs are
//! opened.

use std::path::Path;

use transmogrify_parallel::{Input, InputFormat};

use crate::args::{InputArgs, InputFormatArg};
use crate::fail::Fail;

/// Whether `path`'s name says it is compressed (`.gz`, `.zst`, …).
pub fn is_compressed(path: &Path) -> bool {
    transmogrify_io::Compression::from_extension(&path.to_string_lossy())
        != transmogrify_io::Compression::None
}

/// The executor input for `path`: JSON and JSONL files are chunked by the executors
/// themselves; everything else (CSV, Parquet, compressed files, JSON paths) goes
/// through the io readers.
pub fn input(path: &Path, args: &InputArgs) -> Result<Input, Fail> {
    let csv_options_given = args.csv_delimiter.is_some_and(|d| d != ',')
        || args.csv_quote != '"'
        || !args.csv_null.is_empty()
        || args.csv_no_header
        || args.csv_skip_rows > 0;
    let native = args.json_path.is_none() && !is_compressed(path) && !csv_options_given;
    match args.input_format {
        InputFormatArg::Json if native => return Ok(Input::new(path, InputFormat::Json)),
        InputFormatArg::Jsonl if native => return Ok(Input::new(path, InputFormat::Jsonl)),
        InputFormatArg::Auto if native => {
            let detected = Input::detect(path)?;
            if detected.format() != InputFormat::Reader {
                return Ok(detected);
            }
        }
        _ => {}
    }
    Ok(Input::with_reader(path, reader_options(args)?))
}

/// The io readers' options from the input options.
fn reader_options(args: &InputArgs) -> Result<transmogrify_io::ReaderOptions, Fail> {
    let byte = |c: char, what: &str| -> Result<u8, Fail> {
        u8::try_from(u32::from(c))
            .ok()
            .filter(u8::is_ascii)
            .ok_or_else(|| Fail::usage(format!("{what} {c:?} must be one ASCII character")))
    };
    // A `.tsv` file's fields are separated by tabs unless told otherwise (the
    // reader's default).
    let mut csv = transmogrify_io::CsvOptions::default();
    if let Some(delimiter) = args.csv_delimiter {
        csv = csv.with_delimiter(byte(delimiter, "--csv-delimiter")?);
    }
    let csv = csv
        .with_quote(byte(args.csv_quote, "--csv-quote")?)
        .with_has_header(!args.csv_no_header)
        .with_skip_rows(args.csv_skip_rows);
    let csv = if args.csv_null.is_empty() {
        csv
    } else {
        csv.with_null_values(args.csv_null.clone())
    };
    let format = crate::flatten::format_name(args.input_format)
        .and_then(transmogrify_io::InputFormat::parse);
    Ok(transmogrify_io::ReaderOptions::builder()
        .with_format(format)
        .with_json_path(args.json_path.as_deref())
        .with_csv(csv)
        .build()?)
}

/// The header of the first CSV file among `files` (standard input and named pipes
/// aside: they cannot be read twice), whose columns then lead the main table in its
/// order, each written even if empty throughout; none when no such file has one.
/// A header longer than `largest` bytes is an error, read past as a row would be;
/// a bad header is an error here in the run's first input only, and otherwise
/// left for the run to report, numbered after the records of the inputs before it.
/// A header of more columns than `max_columns` is an error in any mode: each of its
/// columns is written, empty or not.
pub fn csv_header(
    files: &[std::path::PathBuf],
    args: &InputArgs,
    largest: u64,
    max_columns: usize,
) -> Result<Vec<String>, Fail> {
    for (i, path) in files.iter().enumerate().filter(|(_, p)| regular(p)) {
        let options = reader_options(args)?.with_max_record_bytes(largest);
        if is_csv(path, &options)? {
            return match transmogrify_io::csv_header(path, &options) {
                Ok(header) => {
                    let header = header.unwrap_or_default();
                    let distinct: std::collections::HashSet<&String> = header.iter().collect();
                    if distinct.len() > max_columns {
                        return Err(Fail::data(format!(
                            "{}: the CSV header names {} columns, more than the limit of \
                             {max_columns} columns (--max-columns)",
                            path.display(),
                            distinct.len()
                        ))
                        .with_hint(
                            "a header's columns are all written, with a value or without, \
                             so raise --max-columns to take them (in any --on-error mode)",
                        ));
                    }
                    Ok(header)
                }
                // After other inputs, the run numbers its record.
                Err(e) if i > 0 && e.record_error().is_some() => Ok(Vec::new()),
                // No row can be read without its header, in any mode.
                Err(e) => Err(match e.record_error() {
                    Some(record) => Fail::data(record.to_string()).with_hint(
                        "the header names the columns, and no row is read without it \
                         (in any --on-error mode); --csv-no-header reads it as a row",
                    ),
                    None => e.into(),
                }),
            };
        }
    }
    Ok(Vec::new())
}

/// Whether `path` is a regular file (standard input and named pipes cannot be read
/// twice).
fn regular(path: &&std::path::PathBuf) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// Whether the file at `path` is read as CSV: the format given or named by the
/// extension; only a file whose name says nothing is opened to be told by its bytes.
fn is_csv(path: &std::path::Path, options: &transmogrify_io::ReaderOptions) -> Result<bool, Fail> {
    let named = options
        .format()
        .or_else(|| transmogrify_io::InputFormat::from_extension(&path.to_string_lossy()));
    let format = match named {
        Some(format) => format,
        None => transmogrify_io::Input::open(path)?.detect_format()?,
    };
    Ok(format == transmogrify_io::InputFormat::Csv)
}

/// A warning for each CSV file among `files` (standard input and named pipes aside)
/// whose lines `--csv-skip-rows` skips all of, so that nothing is read from it.
pub fn csv_skipped_whole(
    files: &[std::path::PathBuf],
    args: &InputArgs,
) -> Result<Vec<String>, Fail> {
    let mut warnings = Vec::new();
    if args.csv_skip_rows == 0 {
        return Ok(warnings);
    }
    let options = reader_options(args)?;
    for path in files.iter().filter(regular) {
        if !is_csv(path, &options)? {
            continue;
        }
        // An empty file has nothing to skip, nor to read.
        if let Some(lines) =
            transmogrify_io::csv_skipped_whole(path, &options)?.filter(|&lines| lines > 0)
        {
            let lines = match lines {
                1 => "its only line".to_string(),
                n => format!("all {n} of its lines"),
            };
            warnings.push(format!(
                "{}: --csv-skip-rows {} skips {lines}, so no header and no row is read from it",
                path.display(),
                args.csv_skip_rows
            ));
        }
    }
    Ok(warnings)
}

/// What a run wrote.
pub struct Written {
    /// Every table (errors table included) and its rows.
    pub tables: Vec<(String, usize)>,
    /// Every file written.
    pub files: Vec<std::path::PathBuf>,
    /// Bytes written.
    pub bytes: u64,
    /// The errors table's name, when there were bad records.
    pub errors_table: Option<String>,
    /// What the user may want to know of the output.
    pub warnings: Vec<String>,
}

/// The output directory being written, through a streaming sink.
pub struct Target {
    sink: transmogrify_parallel::StreamingSink,
    /// How far the table files are written.
    writes: std::sync::Arc<transmogrify_io::WriteProgress>,
}

impl Target {
    /// Checks the directory (refusing a non-empty one without `--force`) and the
    /// format, before any input is read; no table's file may replace one of the
    /// `inputs`. The final files are written by up to
    /// `writers` threads (the executor's workers: one for the sequential executor).
    /// With fewer workers than cores, the spill and the files are written on a
    /// thread of their own while the workers go on.
    pub fn create(
        args: &crate::args::FlattenArgs,
        processor: &transmogrify_core::Processor,
        entity: &str,
        writers: usize,
        inputs: &[std::path::PathBuf],
    ) -> Result<Target, Fail> {
        use crate::args::CompressionArg;
        use transmogrify_io::{ParquetCompression, StreamingOutput, WriteOptions};
        let delimiter = u8::try_from(u32::from(args.output_delimiter.unwrap_or(',')))
            .ok()
            .filter(u8::is_ascii)
            .ok_or_else(|| Fail::usage("--output-delimiter must be one ASCII character"))?;
        if matches!(delimiter, b'"' | b'\r' | b'\n') {
            return Err(Fail::usage(
                "--output-delimiter cannot be a quote or a line break",
            ));
        }
        let compression = match args.compression.unwrap_or(CompressionArg::Snappy) {
            CompressionArg::Snappy => ParquetCompression::Snappy,
            CompressionArg::Zstd => ParquetCompression::Zstd(3),
            CompressionArg::Gzip => ParquetCompression::Gzip(6),
            CompressionArg::None => ParquetCompression::None,
        };
        // The output directory itself, the default, is made if it is not there.
        let apart = args
            .spill_dir
            .as_ref()
            .filter(|dir| !same_path(dir, &args.output));
        if let Some(dir) = apart {
            match std::fs::metadata(dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(Fail::usage(format!(
                        "--spill-dir {}: not a directory",
                        dir.display()
                    )));
                }
                Err(e) => return Err(Fail::usage(format!("--spill-dir {}: {e}", dir.display()))),
            }
        }
        let mut options = WriteOptions::builder()
            .with_spill_dir(args.spill_dir.clone())
            .with_kept_files(inputs.iter().filter(|p| p.as_os_str() != "-").cloned())
            .with_overwrite(args.force)
            .with_data_dictionary(args.dictionary)
            .with_parquet_compression(compression)
            .with_csv_delimiter(delimiter);
        if let Some(n) = args.row_group_size {
            if n == 0 {
                return Err(Fail::usage("--row-group-size must be at least 1"));
            }
            options = options.with_row_group_size(n);
        }
        let out = StreamingOutput::new(
            &args.output,
            &args.format,
            processor.config(),
            options.build()?,
        )?
        .with_entity(entity)
        .with_write_behind(writers < transmogrify_parallel::default_workers());
        let writes = std::sync::Arc::new(transmogrify_io::WriteProgress::default());
        let out = out.with_write_progress(writes.clone());
        Ok(Target {
            sink: transmogrify_parallel::StreamingSink::new(out).with_writers(writers),
            writes,
        })
    }

    /// How far [`finish`](Self::finish) has got in writing the table files.
    pub fn writes(&self) -> std::sync::Arc<transmogrify_io::WriteProgress> {
        self.writes.clone()
    }

    /// The sink the executor delivers to.
    pub fn sink(&self) -> &dyn transmogrify_parallel::ResultSink {
        &self.sink
    }

    /// Leaves no table file behind.
    pub fn abort(self) {
        self.sink.abort();
    }

    /// Writes the final files.
    pub fn finish(self) -> Result<Written, Fail> {
        let summary = self.sink.finish()?;
        let mut files: Vec<std::path::PathBuf> =
            summary.files.iter().map(|f| f.path.clone()).collect();
        files.extend(summary.dictionary.clone());
        Ok(Written {
            tables: summary
                .files
                .iter()
                .map(|f| {
                    (
                        f.table.clone(),
                        usize::try_from(f.rows).unwrap_or(usize::MAX),
                    )
                })
                .collect(),
            // Every file written, the data dictionary too.
            bytes: summary.files.iter().map(|f| f.bytes).sum::<u64>()
                + summary
                    .dictionary
                    .as_ref()
                    .and_then(|d| std::fs::metadata(d).ok())
                    .map_or(0, |m| m.len()),
            errors_table: summary.errors_table.clone(),
            warnings: summary.warnings.clone(),
            files,
        })
    }
}

/// Whether `a` and `b` name the same path as written (`out`, `out/`, `./out`).
fn same_path(a: &std::path::Path, b: &std::path::Path) -> bool {
    fn parts(p: &std::path::Path) -> impl Iterator<Item = std::path::Component<'_>> {
        p.components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
    }
    parts(a).eq(parts(b))
}
