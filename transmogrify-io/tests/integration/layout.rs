//! Output layout: file names, refusal to overwrite, no half-written files, errors
//! table, data dictionary, registry lookups.

use std::io::Write;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde_json::Value;
use transmogrify_core::{ArrayMode, ErrorMode, Processor, ProcessorConfig};
use transmogrify_io::{
    Error, Result, TableWriter, WriteOptions, WriteResultExt, WriteSummary, WriterFactory,
    WriterRegistry,
};

use crate::support::{TestResult, processor};

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

const DATA: &[u8] =
    br#"[{"id": 1, "user": {"orders": [{"sku": "A", "items": [{"n": 1}]}]}}, {"id": 2}]"#;

#[cfg(unix)]
#[test]
fn kept_files_are_never_replaced() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out");
    let result = processor(false, ArrayMode::Smart).process(DATA, "shop")?;
    std::fs::create_dir(&out)?;
    // An input in the output directory, under the name of a child table's file, and
    // reached through a link as well.
    std::fs::write(out.join("shop_user_orders.csv"), "input")?;
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(out.join("shop_user_orders.csv"), &link)?;
    let options = WriteOptions::builder()
        .with_overwrite(true)
        .with_kept_files([&link])
        .build()?;
    let err = result.write_all("csv", &out, &options).err();
    assert_eq!(
        err.map(|e| e.to_string()).unwrap_or_default(),
        format!(
            "{}: a table's file would replace this file, one of the run's inputs; no output \
             file was written",
            out.join("shop_user_orders.csv").display()
        )
    );
    // No file got its name, none is left half-written, the input is as it was.
    assert_eq!(names(&out), ["shop_user_orders.csv"]);
    assert_eq!(
        std::fs::read_to_string(out.join("shop_user_orders.csv"))?,
        "input"
    );
    // Files the output does not reach are no trouble.
    let options = WriteOptions::builder()
        .with_overwrite(true)
        .with_kept_files([dir.path().join("elsewhere.csv")])
        .build()?;
    result.write_all("csv", &out, &options)?;
    assert_eq!(
        names(&out),
        [
            "shop.csv",
            "shop_user_orders.csv",
            "shop_user_orders_items.csv"
        ]
    );
    Ok(())
}

#[test]
fn files_dictionary_and_refusal() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out");
    let result = processor(false, ArrayMode::Smart).process(DATA, "shop")?;
    let options = WriteOptions::builder().with_data_dictionary(true).build()?;
    let summary = result.write_all("csv", &out, &options)?;
    assert_eq!(
        names(&out),
        [
            "_schema.json",
            "shop.csv",
            "shop_user_orders.csv",
            "shop_user_orders_items.csv"
        ]
    );
    assert_eq!(
        summary.files.iter().map(|f| f.rows).collect::<Vec<_>>(),
        [2, 1, 1]
    );
    let dict: Value = serde_json::from_slice(&std::fs::read(out.join("_schema.json"))?)?;
    let items = &dict["tables"][2];
    assert_eq!(items["name"], "shop_user_orders_items");
    assert_eq!(items["file"], "shop_user_orders_items.csv");
    assert_eq!(items["parent"], "shop_user_orders");
    assert_eq!(items["parent_id_column"], "__parent_extract_id");
    assert_eq!(items["rows"], 1);
    assert_eq!(
        items["columns"][0],
        serde_json::json!({"name": "n", "type": "int64", "nullable": true, "role": "data"})
    );
    assert_eq!(dict["tables"][0]["parent"], Value::Null);

    let err = result
        .write_all("csv", &out, &WriteOptions::default())
        .err();
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.ends_with(
            "out: output directory is not empty (set `WriteOptionsBuilder::with_overwrite(true)` \
             to write into it)"
        ),
        "{msg}"
    );
    let again = WriteOptions::builder().with_overwrite(true).build()?;
    result.write_all("parquet", &out, &again)?;
    assert!(out.join("shop.parquet").exists());

    let unknown = result.write_all("xml", dir.path().join("x"), &WriteOptions::default());
    assert_eq!(
        unknown.err().map(|e| e.to_string()).unwrap_or_default(),
        "no writer for format \"xml\" (known: csv, json, jsonl, ndjson, parquet)"
    );
    Ok(())
}

#[test]
fn skip_mode_writes_an_errors_table() -> TestResult {
    let config = ProcessorConfig::builder()
        .with_on_error(ErrorMode::Skip)
        .build()?;
    let input =
        transmogrify_io::Input::from_bytes("ev.jsonl", b"{\"a\":1}\n{\"a\": tru}\n[1]\n".to_vec())?;
    let mut reader = transmogrify_io::reader_for(input, &Default::default())?;
    let result = transmogrify_io::process_reader(&Processor::new(config), &mut *reader, "ev")?;
    let dir = tempfile::tempdir()?;
    result.write_all_jsonl(dir.path())?;
    assert_eq!(names(dir.path()), ["ev.jsonl", "ev_errors.jsonl"]);
    let text = std::fs::read_to_string(dir.path().join("ev_errors.jsonl"))?;
    let first: Value = serde_json::from_str(text.lines().next().unwrap_or_default())?;
    assert_eq!(first["line"], 2);
    assert_eq!(first["raw"], "{\"a\": tru}");
    assert_eq!(text.lines().count(), 2);
    Ok(())
}

/// A writer factory for tests: files with extension `.0`, writers made by `1` from
/// the output sink.
struct Factory<F>(&'static str, F);

impl<F> WriterFactory for Factory<F>
where
    F: Fn(Box<dyn Write + Send>) -> Box<dyn TableWriter> + Send + Sync,
{
    fn extension(&self) -> &str {
        self.0
    }
    fn create(
        &self,
        out: Box<dyn Write + Send>,
        _schema: &SchemaRef,
        _options: &WriteOptions,
    ) -> Result<Box<dyn TableWriter>> {
        Ok((self.1)(out))
    }
}

/// A writer that fails on its second batch.
struct FailingWriter(u32, Box<dyn Write + Send>);

impl TableWriter for FailingWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.0 += 1;
        let _ = writeln!(self.1, "{} rows", batch.num_rows());
        if self.0 > 1 {
            return Err(Error::Writer {
                format: "failing".into(),
                source: "disk on fire".into(),
            });
        }
        Ok(())
    }
    fn finish(self: Box<Self>) -> Result<WriteSummary> {
        Ok(WriteSummary::default())
    }
}

#[test]
fn a_failed_write_leaves_no_file_behind() -> TestResult {
    let config = ProcessorConfig::builder().with_batch_size(1).build()?;
    let result = Processor::new(config).process(b"{\"a\":1}\n{\"a\":2}\n", "t")?;
    let mut registry = WriterRegistry::default();
    registry.register(
        "failing",
        Arc::new(Factory("txt", |out| {
            Box::new(FailingWriter(0, out)) as Box<dyn TableWriter>
        })),
    );
    let options = WriteOptions::builder().with_registry(registry).build()?;
    let dir = tempfile::tempdir()?;
    let err = result.write_all("failing", dir.path(), &options).err();
    // Named by the table's file.
    assert_eq!(
        err.map(|e| e.to_string()).unwrap_or_default(),
        format!(
            "{}: failing writer: disk on fire",
            dir.path().join("t.txt").display()
        )
    );
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
    Ok(())
}

/// A writer that writes 3 MiB per batch and hands its output sink to `kept` when it
/// finishes, where it stays alive after the run.
struct KeepingWriter(
    Option<Box<dyn Write + Send>>,
    Arc<std::sync::Mutex<Vec<Box<dyn Write + Send>>>>,
);

impl TableWriter for KeepingWriter {
    fn write(&mut self, _batch: &RecordBatch) -> Result<()> {
        let out = self
            .0
            .as_mut()
            .ok_or_else(|| Error::Internal("finished".into()))?;
        out.write_all(&vec![b'x'; 3 << 20])
            .map_err(|e| Error::Internal(e.to_string()))
    }
    fn finish(mut self: Box<Self>) -> Result<WriteSummary> {
        if let Some(mut out) = self.0.take() {
            out.flush().map_err(|e| Error::Internal(e.to_string()))?;
            self.1.lock().unwrap_or_else(|e| e.into_inner()).push(out);
        }
        Ok(WriteSummary::default())
    }
}

#[test]
fn a_writer_that_keeps_its_sink_does_not_hold_up_the_run() -> TestResult {
    let result = Processor::new(ProcessorConfig::default()).process(b"{\"a\":1}\n", "t")?;
    let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut registry = WriterRegistry::default();
    let sinks = kept.clone();
    registry.register(
        "keeping",
        Arc::new(Factory("bin", move |out| {
            Box::new(KeepingWriter(Some(out), sinks.clone())) as Box<dyn TableWriter>
        })),
    );
    let options = WriteOptions::builder().with_registry(registry).build()?;
    let dir = tempfile::tempdir()?;
    let out = dir.path().to_path_buf();
    // The files are written, synced and renamed, and the run returns, although every
    // sink (with the writeback thread's queue it was given) is still alive.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let written = result
            .write_all("keeping", &out, &options)
            .map(|s| s.files.len());
        let _ = done.send(written.map_err(|e| e.to_string()));
    });
    let files = finished.recv_timeout(std::time::Duration::from_secs(60))??;
    assert_eq!(files, 1);
    assert_eq!(names(dir.path()), ["t.bin"]);
    assert_eq!(std::fs::metadata(dir.path().join("t.bin"))?.len(), 3 << 20);
    assert_eq!(kept.lock().map(|k| k.len()).unwrap_or(0), 1);
    Ok(())
}

#[test]
fn bytes_equal_files() -> TestResult {
    let result = processor(true, ArrayMode::Smart).process(DATA, "shop")?;
    let dir = tempfile::tempdir()?;
    for format in ["csv", "json", "jsonl", "parquet"] {
        let out = dir.path().join(format);
        let summary = result.write_all(format, &out, &WriteOptions::default())?;
        let bytes = result.to_bytes(format, &WriteOptions::default())?;
        assert_eq!(bytes.len(), summary.files.len());
        for (b, f) in bytes.iter().zip(&summary.files) {
            assert_eq!(std::fs::read(&f.path)?, b.bytes, "{format}");
            assert_eq!(f.bytes, b.bytes.len() as u64);
        }
    }
    let json = result.to_json_bytes()?;
    assert!(json[2].bytes.starts_with(b"[\n{\"n\":\"1\","));
    Ok(())
}
