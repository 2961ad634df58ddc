//! The two phases of a one-thread run to Parquet, each alone and in memory: the
//! input flattened into one result (no parts, no spill), then that result encoded
//! as Parquet files held in memory (no disk). Their sum is what a one-thread run
//! would take if it had neither the spill nor the parts between them: the floor of
//! any design that encodes the pages on the thread that flattens.
//!
//! Given a part size, each round also flattens the input in parts of about that
//! many bytes (cut at line ends, one result each, as the command line's parts),
//! combines them and encodes the combination: the same two phases with the parts
//! but still without the spill.
//!
//! ```sh
//! cargo run --release -p transmogrify-benches --example phases -- FILE.jsonl [ROUNDS [PART_MB]]
//! ```
//!
//! Holds the input, the whole result and the encoded files in memory at once
//! (a peak RSS of 412,040 KiB for 150 MB of API events, one round, no parts).

use std::time::Instant;

use transmogrify_core::{ProcessingResult, Processor};
use transmogrify_io::{WriteOptions, WriteResultExt};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Fallible<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: phases FILE.jsonl [ROUNDS [PART_MB]]")?;
    let rounds: usize = args.next().map_or(Ok(5), |r| r.parse())?;
    let part_bytes: Option<usize> = args
        .next()
        .map(|mb| mb.parse::<f64>().map(|mb| (mb * 1e6) as usize))
        .transpose()?;
    let data = std::fs::read(&path)?;
    let mb = data.len() as f64 / 1e6;
    let processor = Processor::default();
    println!("{path}: {mb:.1} MB, {rounds} rounds");
    println!("round  input       flatten s   MB/s  parquet s   MB/s    sum s   MB/s");
    for round in 1..=rounds {
        let start = Instant::now();
        let result = processor.process(&data, "events")?;
        let flattened = start.elapsed().as_secs_f64();
        row(round, "whole", mb, flattened, encode(&result)?);
        drop(result);
        if let Some(part_bytes) = part_bytes {
            let start = Instant::now();
            let parts = parts(&data, part_bytes)
                .map(|part| processor.process(part, "events"))
                .collect::<Result<Vec<_>, _>>()?;
            let flattened = start.elapsed().as_secs_f64();
            let count = parts.len();
            let result = ProcessingResult::combine_results(parts)?;
            row(
                round,
                &format!("{count} parts"),
                mb,
                flattened,
                encode(&result)?,
            );
        }
    }
    Ok(())
}

/// Seconds to encode `result` as Parquet files in memory.
fn encode(result: &ProcessingResult) -> Fallible<f64> {
    let start = Instant::now();
    let files = result.to_bytes("parquet", &WriteOptions::default())?;
    let seconds = start.elapsed().as_secs_f64();
    drop(files);
    Ok(seconds)
}

/// `data` cut into pieces of about `size` bytes, each ending at a line end.
fn parts(data: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    let size = size.max(1);
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = rest
            .get(size..)
            .and_then(|tail| tail.iter().position(|&b| b == b'\n'))
            .map_or(rest.len(), |i| size + i + 1);
        let (part, tail) = rest.split_at(cut);
        rest = tail;
        Some(part)
    })
}

fn row(round: usize, input: &str, mb: f64, flattened: f64, encoded: f64) {
    let sum = flattened + encoded;
    println!(
        "{round:>5}  {input:<10} {flattened:>9.3} {:>6.1} {encoded:>10.3} {:>6.1} {sum:>8.3} {:>6.1}",
        mb / flattened,
        mb / encoded,
        mb / sum
    );
}
