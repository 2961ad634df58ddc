//! `gen-data SHAPE SIZE FORMAT SEED OUTPUT`: writes benchmark data.
//!
//! SHAPE is `api-events`, `orders`, `wide` or `sparse`; SIZE a byte count (`64MB`, `1GiB`) or a
//! record count (`1000r`); FORMAT `jsonl` or `json`; SEED an integer; OUTPUT a path or
//! `-` for stdout. Example: `gen-data api-events 100MB jsonl 42 events.jsonl`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use transmogrify_benches::{Format, Shape, Size, write_data};

const USAGE: &str = "usage: gen-data SHAPE SIZE FORMAT SEED OUTPUT
  SHAPE   api-events | orders | wide | sparse
  SIZE    bytes (1000, 64KB, 4MiB, 1GB) or records (500r)
  FORMAT  jsonl | json
  SEED    unsigned integer; the same seed gives the same bytes
  OUTPUT  file path, or - for stdout";

fn run(args: &[String]) -> Result<(), String> {
    let [shape, size, format, seed, output] = args else {
        return Err(format!("expected 5 arguments, got {}\n{USAGE}", args.len()));
    };
    let shape: Shape = shape.parse()?;
    let size: Size = size.parse()?;
    let format: Format = format.parse()?;
    let seed: u64 = seed
        .parse()
        .map_err(|e| format!("bad seed `{seed}`: {e}"))?;
    let out: Box<dyn Write> = if output == "-" {
        Box::new(io::stdout().lock())
    } else {
        Box::new(File::create(output).map_err(|e| format!("cannot create {output}: {e}"))?)
    };
    let summary = write_data(
        shape,
        size,
        format,
        seed,
        BufWriter::with_capacity(1 << 20, out),
    )
    .map_err(|e| format!("writing {output}: {e}"))?;
    eprintln!(
        "gen-data: {} {shape} records, {} bytes -> {output}",
        summary.records, summary.bytes
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gen-data: {message}");
            ExitCode::from(2)
        }
    }
}
