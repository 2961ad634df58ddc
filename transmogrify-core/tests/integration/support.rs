//! Shared helpers: configurations and a plain-text rendering of tables.

use arrow_array::RecordBatch;
use serde_json::Value;
use transmogrify_core::{ProcessingResult, Processor, ProcessorConfig, ProcessorConfigBuilder};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A builder without metadata columns, so tables show data only.
pub fn bare() -> ProcessorConfigBuilder {
    ProcessorConfig::builder()
        .with_id_field(None)
        .with_parent_field(None)
        .with_time_field(None)
}

/// Flattens `json` with `config` under entity `t`.
pub fn flatten(
    json: &str,
    config: ProcessorConfigBuilder,
) -> Result<ProcessingResult, Box<dyn std::error::Error>> {
    Ok(Processor::new(config.build()?).process(json.as_bytes(), "t")?)
}

/// Renders every table: `# name`, a header line, then one line per row, cells joined by
/// `|`, nulls shown as `∅`.
pub fn render(result: &ProcessingResult) -> Result<String, Box<dyn std::error::Error>> {
    let mut out = String::new();
    for (name, batches) in result.to_record_batches()? {
        out.push_str(&format!("# {name}\n"));
        out.push_str(&render_batches(&batches)?);
    }
    Ok(out)
}

/// Renders batches of one table: a header line and one line per row.
pub fn render_batches(batches: &[RecordBatch]) -> Result<String, Box<dyn std::error::Error>> {
    let mut out = String::new();
    if batches.first().is_none_or(|b| b.num_columns() == 0) {
        return Ok(out);
    }
    if let Some(first) = batches.first() {
        let names: Vec<&str> = first
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        out.push_str(&names.join("|"));
        out.push('\n');
    }
    for batch in batches {
        let mut rows = Vec::new();
        transmogrify_core::batch_rows(batch, &mut rows)?;
        for row in rows {
            let cells: Vec<String> = row
                .values()
                .map(|v| match v {
                    Value::Null => "∅".to_string(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.push_str(&cells.join("|"));
            out.push('\n');
        }
    }
    Ok(out)
}

/// Flattens and renders in one go.
pub fn tables(
    json: &str,
    config: ProcessorConfigBuilder,
) -> Result<String, Box<dyn std::error::Error>> {
    render(&flatten(json, config)?)
}

/// Compares rendered tables with an expected text whose lines may be indented.
#[track_caller]
pub fn assert_tables(got: &str, expected: &str) {
    let expected: String = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        got, expected,
        "\n--- got ---\n{got}\n--- expected ---\n{expected}"
    );
}
