//! Memory check: generates a JSON array or JSONL file of a given size, streams it to
//! Parquet with default settings and reports the peak resident memory (VmHWM).
//!
//! ```text
//! tm-memcheck <json|jsonl> <size-in-MB> [work-dir] [output-format]
//! ```
//!
//! The output format defaults to `parquet`.
//!
//! The work directory (default: a temporary one) receives `input.<ext>` and `out/`;
//! both are removed at the end unless a directory was given.

use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use transmogrify_core::{IdStrategy, Processor, ProcessorConfig};
use transmogrify_io::{ReaderOptions, WriteOptions, open_reader, stream_to_dir};

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Writes records until the file reaches `size` bytes; returns the record count.
fn generate(path: &Path, jsonl: bool, size: u64) -> Result<u64, Box<dyn Error>> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut written = 0u64;
    let mut n = 0u64;
    if !jsonl {
        out.write_all(b"[\n")?;
        written += 2;
    }
    while written < size {
        let sep = if jsonl || n == 0 { "" } else { ",\n" };
        let extra = if n % 1000 == 999 {
            format!(r#","note{}":"rare {n}""#, n % 7)
        } else {
            String::new()
        };
        let record = format!(
            r#"{sep}{{"id":{n},"name":"user-{n}","active":{},"score":{}.5,"address":{{"city":"City {}","zip":"{:05}"}},"orders":[{{"sku":"A-{n}","qty":{},"price":9.99,"items":[{{"k":1}},{{"k":2}}]}},{{"sku":"B-{n}","qty":1,"price":0.5}}],"tags":["t{}","x"]{extra}}}"#,
            n % 2 == 0,
            n % 100,
            n % 50,
            n % 99_999,
            n % 5,
            n % 3
        );
        out.write_all(record.as_bytes())?;
        written += record.len() as u64;
        if jsonl {
            out.write_all(b"\n")?;
            written += 1;
        }
        n += 1;
    }
    if !jsonl {
        out.write_all(b"\n]\n")?;
    }
    out.flush()?;
    Ok(n)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: tm-memcheck <json|jsonl> <size-in-MB> [work-dir] [output-format]";
    let jsonl = match args.get(1).map(String::as_str) {
        Some("json") => false,
        Some("jsonl") => true,
        _ => return Err(usage.into()),
    };
    let mb: u64 = args.get(2).and_then(|s| s.parse().ok()).ok_or(usage)?;
    let temp;
    let work = match args.get(3) {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            Path::new(dir).to_path_buf()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let input = work.join(if jsonl { "input.jsonl" } else { "input.json" });
    let started = Instant::now();
    let records = generate(&input, jsonl, mb * 1_000_000)?;
    let size = std::fs::metadata(&input)?.len();
    println!(
        "generated {} ({size} bytes, {records} records) in {:.1}s; peak RSS so far {} kB",
        input.display(),
        started.elapsed().as_secs_f64(),
        peak_rss_kb().unwrap_or(0)
    );
    let config = ProcessorConfig::builder()
        .with_id_strategy(IdStrategy::Positional)
        .build()?;
    let processor = Processor::new(config);
    let out_dir = work.join("out");
    let started = Instant::now();
    let mut reader = open_reader(&input, &ReaderOptions::default())?;
    let options = WriteOptions::builder().with_overwrite(true).build()?;
    let format = args.get(4).map_or("parquet", String::as_str);
    let summary = stream_to_dir(
        &processor,
        &mut *reader,
        "events",
        &out_dir,
        format,
        options,
    )?;
    let secs = started.elapsed().as_secs_f64();
    for f in &summary.files {
        println!("  {}: {} rows, {} bytes", f.path.display(), f.rows, f.bytes);
    }
    println!(
        "streamed to {format} in {secs:.1}s ({:.1} MB/s); peak RSS (VmHWM) {} kB",
        size as f64 / 1e6 / secs,
        peak_rss_kb().unwrap_or(0)
    );
    if args.get(3).is_some() {
        std::fs::remove_file(&input)?;
        std::fs::remove_dir_all(&out_dir)?;
    }
    Ok(())
}
