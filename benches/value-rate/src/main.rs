//! How fast serde_json, with its default features, parses a JSONL file: the ceiling
//! the performance goals compare one worker of `transmogrify flatten` with.
//!
//! Usage: `value-rate [--ignored-any] FILE`
//!
//! Reads the whole file into memory first, then parses every non-empty line into a
//! `serde_json::Value` (dropped before the next line is parsed), or validates it into
//! `IgnoredAny`, and prints one JSON line: the parse time alone (reading excluded),
//! the records, the bytes and the rate in MB/s (10^6 bytes). A line that does not
//! parse is an error naming its line number.

use std::process::ExitCode;
use std::time::Instant;

use serde::de::IgnoredAny;
use serde_json::Value;

fn main() -> ExitCode {
    let mut ignored_any = false;
    let mut path = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--ignored-any" => ignored_any = true,
            "-h" | "--help" => {
                println!("usage: value-rate [--ignored-any] FILE");
                return ExitCode::SUCCESS;
            }
            _ if path.is_none() => path = Some(arg),
            _ => return fail(&format!("unexpected argument {arg}")),
        }
    }
    let Some(path) = path else {
        return fail("usage: value-rate [--ignored-any] FILE");
    };
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) => return fail(&format!("{path}: {e}")),
    };
    let start = Instant::now();
    let mut records = 0u64;
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = if ignored_any {
            serde_json::from_slice::<IgnoredAny>(line).map(drop)
        } else {
            serde_json::from_slice::<Value>(line).map(|value| drop(std::hint::black_box(value)))
        };
        if let Err(e) = parsed {
            return fail(&format!("{path}: line {}: {e}", i + 1));
        }
        records += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"parse_seconds\": {seconds:.6}, \"records\": {records}, \"bytes\": {}, \"mb_per_second\": {:.1}, \"into\": \"{}\"}}",
        data.len(),
        data.len() as f64 / seconds / 1e6,
        if ignored_any { "IgnoredAny" } else { "Value" }
    );
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("value-rate: {message}");
    ExitCode::from(2)
}
