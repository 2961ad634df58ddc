//! The two phases of a one-thread run to Parquet, each alone and in memory: the
//! input flattened into one result (no parts, no spill), then that result encoded
//! as Parquet files held in memory (no disk). Their sum is what a one-thread run
//! would take if it had neither the spill nor the parts between them: the floor of
//! any design that encodes the pages on the thread that flattens.
//!
//! ```sh
//! cargo run --release -p transmogrify-benches --example phases -- FILE.jsonl [ROUNDS]
//! ```
//!
//! Holds the input, the whole result and the encoded files in memory at once
//! (a peak RSS of 412,040 KiB for 150 MB of API events, one round).

use std::time::Instant;

use transmogrify_core::Processor;
use transmogrify_io::{WriteOptions, WriteResultExt};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: phases FILE.jsonl [ROUNDS]")?;
    let rounds: usize = args.next().map_or(Ok(5), |r| r.parse())?;
    let data = std::fs::read(&path)?;
    let mb = data.len() as f64 / 1e6;
    let processor = Processor::default();
    println!("{path}: {mb:.1} MB, {rounds} rounds");
    println!("round  flatten s   MB/s  parquet s   MB/s    sum s   MB/s");
    for round in 1..=rounds {
        let start = Instant::now();
        let result = processor.process(&data, "events")?;
        let flattened = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let files = result.to_bytes("parquet", &WriteOptions::default())?;
        let encoded = start.elapsed().as_secs_f64();
        drop(files);
        let sum = flattened + encoded;
        println!(
            "{round:>5} {flattened:>10.3} {:>6.1} {encoded:>10.3} {:>6.1} {sum:>8.3} {:>6.1}",
            mb / flattened,
            mb / encoded,
            mb / sum
        );
    }
    Ok(())
}
