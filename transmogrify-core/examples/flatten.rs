//! Flattens a JSON or JSONL file and prints every table as CSV.
//!
//! `cargo run -p transmogrify-core --example flatten -- FILE [ENTITY]`

use std::error::Error;

use transmogrify_core::{IdStrategy, Processor, ProcessorConfig};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: flatten FILE [ENTITY]")?;
    let entity = match args.next() {
        Some(e) => e,
        None => std::path::Path::new(&path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("records")
            .to_string(),
    };
    let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let config = ProcessorConfig::builder()
        .with_id_strategy(IdStrategy::Positional)
        .build()?;
    let processor = Processor::new(config);
    let mut session = processor.session(&entity);
    session.push_json_text(&bytes, &path)?;
    let result = session.finish()?;
    for (name, _) in result.to_record_batches()? {
        let rows = result.rows(&name)?;
        let schema = result.table_schema(&name)?;
        println!("== {name} ({} rows)", rows.len());
        let header: Vec<String> = schema
            .schema
            .fields()
            .iter()
            .map(|f| csv_field(f.name()))
            .collect();
        println!("{}", header.join(","));
        for row in rows {
            let cells: Vec<String> = schema
                .schema
                .fields()
                .iter()
                .map(|f| match &row[f.name()] {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => csv_field(s),
                    other => csv_field(&other.to_string()),
                })
                .collect();
            println!("{}", cells.join(","));
        }
        println!();
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
