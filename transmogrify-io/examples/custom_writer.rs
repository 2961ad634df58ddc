//! A custom writer plugged in by format name: every table as a Markdown table,
//! headed by the table's name.
//!
//! Run with `cargo run -p transmogrify-io --example custom_writer`.

use std::io::Write;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use transmogrify_core::Processor;
use transmogrify_io::{
    Error, Result, TableWriter, WriteOptions, WriteResultExt, WriteSummary, WriterFactory,
    WriterRegistry, cell_text,
};

/// Makes [`MarkdownWriter`]s; registered as format `markdown`.
struct MarkdownFactory;

impl WriterFactory for MarkdownFactory {
    fn extension(&self) -> &str {
        "md"
    }

    fn create(
        &self,
        mut out: Box<dyn Write + Send>,
        schema: &SchemaRef,
        _options: &WriteOptions,
    ) -> Result<Box<dyn TableWriter>> {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let io = |e| Error::Writer {
            format: "markdown".into(),
            source: Box::new(e),
        };
        writeln!(out, "| {} |", names.join(" | ")).map_err(io)?;
        writeln!(out, "|{}", "---|".repeat(names.len())).map_err(io)?;
        Ok(Box::new(MarkdownWriter { out, rows: 0 }))
    }

    /// What the outputs call, naming the table: a heading, then the table.
    fn create_table(
        &self,
        table: &str,
        _file_name: &str,
        mut out: Box<dyn Write + Send>,
        schema: &SchemaRef,
        options: &WriteOptions,
    ) -> Result<Box<dyn TableWriter>> {
        writeln!(out, "## {table}\n").map_err(|e| Error::Writer {
            format: "markdown".into(),
            source: Box::new(e),
        })?;
        self.create(out, schema, options)
    }
}

/// Writes one table as a Markdown table.
struct MarkdownWriter {
    out: Box<dyn Write + Send>,
    rows: u64,
}

impl TableWriter for MarkdownWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        for row in 0..batch.num_rows() {
            let mut cells = Vec::with_capacity(batch.num_columns());
            for column in batch.columns() {
                let mut cell = String::new();
                cell_text(column.as_ref(), row, &mut cell)?;
                cells.push(cell.replace('|', "\\|"));
            }
            writeln!(self.out, "| {} |", cells.join(" | ")).map_err(|e| Error::Writer {
                format: "markdown".into(),
                source: Box::new(e),
            })?;
            self.rows += 1;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<WriteSummary> {
        self.out.flush().map_err(|e| Error::Writer {
            format: "markdown".into(),
            source: Box::new(e),
        })?;
        Ok(WriteSummary { rows: self.rows })
    }
}

/// Registers the writer, writes a small result with it and checks the files.
pub fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let mut registry = WriterRegistry::default();
    registry.register("markdown", Arc::new(MarkdownFactory));
    let options = WriteOptions::builder().with_registry(registry).build()?;

    let processor = Processor::default();
    let result = processor.process(
        br#"[{"name": "Ann", "pets": [{"kind": "cat"}, {"kind": "dog"}]}, {"name": "Bo|b"}]"#,
        "people",
    )?;
    let dir = tempfile::tempdir()?;
    let summary = result.write_all("markdown", dir.path().join("out"), &options)?;
    for file in &summary.files {
        println!("{} ({} rows)", file.path.display(), file.rows);
        print!("{}", std::fs::read_to_string(&file.path)?);
    }
    let people = std::fs::read_to_string(dir.path().join("out/people.md"))?;
    assert!(people.starts_with("## people\n\n| name | __extract_id | __extract_datetime |"));
    let pets = std::fs::read_to_string(dir.path().join("out/people_pets.md"))?;
    assert!(pets.starts_with("## people_pets\n\n| kind |"));
    assert!(people.contains("| Bo\\|b |"));
    Ok(())
}
