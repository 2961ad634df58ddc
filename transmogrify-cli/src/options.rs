//! From arguments to a processor configuration, inputs and an executor.

use std::path::Path;

use transmogrify_core::{ArrayMode, ErrorMode, IdStrategy, ProcessorConfig, parse_timestamp};
use transmogrify_parallel::{
    Chunking, Executor, ProcessExecutor, SequentialExecutor, ThreadExecutor,
};

use crate::args::{
    ArrayModeArg, ExecutorArg, IdStrategyArg, InputArgs, OnErrorArg, ProcessingArgs,
};
use crate::fail::Fail;

/// The entity name: as given, or the first input's file stem without compression and
/// format extensions.
pub fn entity(input: &InputArgs) -> Result<String, Fail> {
    if let Some(e) = &input.entity {
        if e.trim().is_empty() {
            return Err(Fail::usage("the entity name must not be empty"));
        }
        return Ok(e.clone());
    }
    let first = input
        .inputs
        .first()
        .map(Path::new)
        .unwrap_or(Path::new("-"));
    if first.as_os_str() == "-" {
        return Err(Fail::usage("reading standard input needs an entity name")
            .with_hint("pass --entity NAME"));
    }
    // `<(command)` is `/dev/fd/63`: a number names no data set.
    let numbered = first.parent().and_then(Path::file_name) == Some("fd".as_ref())
        && first
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    if numbered {
        return Err(Fail::usage(format!(
            "{} is a pipe, whose name is no data set's",
            first.display()
        ))
        .with_hint("pass --entity NAME"));
    }
    // A directory is named by its own name, `.` included.
    let is_dir = first.is_dir();
    let first = match first.canonicalize() {
        Ok(full) if is_dir => full,
        _ => first.to_path_buf(),
    };
    let mut name = first
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("records")
        .to_string();
    if is_dir {
        return Ok(name);
    }
    // The compression's extension, then the format's, in any case (as the format is
    // known: `EVENTS.JSONL.GZ` is `EVENTS`); another extension is cut as a file
    // stem is (`dump.txt` is `dump`).
    let mut cut_ext = |exts: &[&str]| {
        for ext in exts {
            let cut = name.len().saturating_sub(ext.len());
            if cut > 0 && name.get(cut..).is_some_and(|e| e.eq_ignore_ascii_case(ext)) {
                name.truncate(cut);
                return true;
            }
        }
        false
    };
    cut_ext(&[".gz", ".zst"]);
    let known = cut_ext(&[".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".parquet"]);
    if !known && let Some(stem) = Path::new(&name).file_stem().and_then(|s| s.to_str()) {
        name = stem.to_string();
    }
    if name.is_empty() {
        name = "records".to_string();
    }
    Ok(name)
}

/// The processor configuration the flags describe.
/// The processor's configuration; `main_columns` lead the main table (a CSV
/// input's header).
pub fn config(p: &ProcessingArgs, main_columns: Vec<String>) -> Result<ProcessorConfig, Fail> {
    let mut patterns = Vec::new();
    for spec in &p.id_field {
        let (pattern, field) = spec.split_once('=').ok_or_else(|| {
            Fail::usage(format!("--id-field {spec:?} is not PATTERN=FIELD"))
                .with_hint("use `=id` for the main table, `orders=order_id` for a child table")
        })?;
        patterns.push((pattern.to_string(), field.to_string()));
    }
    let strategy = match (p.id_strategy, patterns.is_empty()) {
        (None, true) | (Some(IdStrategyArg::Random), true) => IdStrategy::Random,
        (None | Some(IdStrategyArg::Fields), false) => IdStrategy::Fields(patterns),
        (Some(IdStrategyArg::Fields), true) => {
            return Err(Fail::usage(
                "--id-strategy fields needs at least one --id-field",
            ));
        }
        (Some(IdStrategyArg::Positional), true) => IdStrategy::Positional,
        (Some(IdStrategyArg::ContentHash), true) => IdStrategy::ContentHash,
        (Some(_), false) => {
            return Err(Fail::usage(
                "--id-field only goes with --id-strategy fields",
            ));
        }
    };
    if p.max_depth == 0 {
        return Err(
            Fail::usage("--max-depth must be at least 1, got 0").with_hint(
                "a value larger than --nesting-limit or 1,024 counts as the smaller of the two",
            ),
        );
    }
    let extract_time = match &p.extract_time {
        None => None,
        Some(t) => Some(parse_timestamp(t).ok_or_else(|| {
            Fail::usage(format!("--extract-time {t:?} is not a time"))
                .with_hint("write it as YYYY-MM-DD HH:MM:SS[.ffffff] (UTC)")
        })?),
    };
    let mode = match p.array_mode {
        ArrayModeArg::Smart => ArrayMode::Smart,
        ArrayModeArg::Separate => ArrayMode::Separate,
        ArrayModeArg::Inline => ArrayMode::Inline,
        ArrayModeArg::Index => ArrayMode::Index,
        ArrayModeArg::Skip => ArrayMode::Skip,
    };
    let off = |name: &str, no: bool| if no { None } else { Some(name.to_string()) };
    Ok(ProcessorConfig::builder()
        .with_cast_to_string(!p.typed)
        .with_separator(p.separator.clone())
        .with_array_mode(mode)
        .with_array_index_field(p.array_index_column.as_deref())
        .with_id_strategy(strategy)
        .with_id_field(off(&p.id_column, p.no_id_column).as_deref())
        .with_parent_field(off(&p.parent_column, p.no_parent_column).as_deref())
        .with_time_field(off(&p.time_column, p.no_time_column).as_deref())
        .with_skip_null(!p.keep_nulls)
        .with_include_empty(p.keep_empty)
        // Records nested past the limit are errors: no depth beyond it is reached,
        // and none beyond the deepest the flattener keeps as columns.
        .with_max_depth(
            p.max_depth
                .min(p.nesting_limit.max(1))
                .min(transmogrify_core::MAX_SUPPORTED_DEPTH),
        )
        .with_nesting_limit(p.nesting_limit)
        .with_max_record_bytes(max_record_bytes(p)?)
        .with_max_columns(p.max_columns)
        .with_abbreviate_field_names(p.abbreviate_columns)
        .with_abbreviate_table_names(p.abbreviate_tables)
        .with_extract_time(extract_time)
        .with_main_columns(main_columns)
        .with_on_error(match p.on_error {
            OnErrorArg::Strict => ErrorMode::Strict,
            OnErrorArg::Skip => ErrorMode::Skip,
        })
        .build()?)
}

/// Parses `8MiB`, `512k`, `100000` (bytes) or `5000r` (records).
pub fn chunking(text: &str) -> Result<Chunking, Fail> {
    let t = text.trim().to_ascii_lowercase();
    let bad = || {
        Fail::usage(format!("--chunk-size {text:?} is not a size"))
            .with_hint("write bytes like 8MiB, 512k, 100000, or records like 5000r")
    };
    if let Some(n) = t.strip_suffix('r') {
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        return Ok(Chunking::records(n));
    }
    let bytes = bytes_of(&t).ok_or_else(bad)?;
    Ok(Chunking::bytes(bytes))
}

/// Parses a size in bytes (`256MiB`, `64k`, `100000`) given to `flag`.
/// The largest record `--max-record-size` allows.
pub fn max_record_bytes(p: &ProcessingArgs) -> Result<u64, Fail> {
    size("--max-record-size", &p.max_record_size)
}

fn size(flag: &str, text: &str) -> Result<u64, Fail> {
    bytes_of(&text.trim().to_ascii_lowercase()).ok_or_else(|| {
        Fail::usage(format!("{flag} {text:?} is not a size"))
            .with_hint("write bytes like 256MiB, 64k, 100000")
    })
}

/// The bytes a lowercase size (`8mib`, `512k`, `100000`) stands for, if above 0.
fn bytes_of(t: &str) -> Option<u64> {
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&b| b > 0)
}

/// The executor the flags name.
pub fn executor(kind: ExecutorArg, workers: Option<usize>) -> Result<Box<dyn Executor>, Fail> {
    let workers = match workers {
        Some(n) if n == 0 || n > transmogrify_parallel::MAX_WORKERS => {
            return Err(Fail::usage(format!(
                "--workers must be between 1 and {}, got {n}",
                transmogrify_parallel::MAX_WORKERS
            )));
        }
        Some(n) => n,
        None => transmogrify_parallel::default_workers(),
    };
    Ok(match kind {
        ExecutorArg::Sequential => Box::new(SequentialExecutor),
        ExecutorArg::Threads => Box::new(ThreadExecutor::new(workers)),
        ExecutorArg::Processes => {
            // This binary is its own worker: `transmogrify __worker`.
            let exe = std::env::current_exe()
                .map_err(|e| Fail::io(format!("cannot find this program's path: {e}")))?;
            Box::new(ProcessExecutor::new(workers).with_program(exe, vec!["__worker".into()]))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(chunking("8MiB").ok(), Some(Chunking::bytes(8 << 20)));
        assert_eq!(chunking("512k").ok(), Some(Chunking::bytes(512_000)));
        assert_eq!(chunking("100000").ok(), Some(Chunking::bytes(100_000)));
        assert_eq!(chunking("5000r").ok(), Some(Chunking::records(5000)));
        assert!(chunking("0").is_err());
        assert!(chunking("12 parsecs").is_err());
    }
}
