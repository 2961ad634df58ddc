//! Inputs and helpers shared by the executor tests.

use std::path::{Path, PathBuf};

use transmogrify_core::{ErrorMode, IdStrategy, ProcessingResult, Processor, ProcessorConfig};
use transmogrify_parallel::{
    Chunking, Executor, Input, Job, ProcessExecutor, SequentialExecutor, ThreadExecutor,
};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A nested, heterogeneous record.
pub fn record(i: usize) -> String {
    let mut r = format!(
        r#"{{"id":{i},"name":"user \"{i}\" é","amount":{}.{:02},"user":{{"age":{},"tags":["a{}","b"]}}"#,
        i * 7 % 1000,
        i % 100,
        20 + i % 50,
        i % 3
    );
    if i % 3 == 0 {
        r.push_str(&format!(
            r#","orders":[{{"sku":"S{i}","lines":[{{"q":{}}},{{"q":2,"note":null}}]}},{{"sku":"T{i}"}}]"#,
            i % 5
        ));
    }
    if i % 7 == 0 {
        r.push_str(&format!(
            r#","extra":{{"flag":true,"big":1234567890123456789{}}}"#,
            i % 10
        ));
    }
    if i % 11 == 0 {
        r.push_str(r#","events":[1,{"kind":"x"},[2,3]]"#);
    }
    r.push('}');
    r
}

/// A wide flat record.
pub fn wide(i: usize) -> String {
    let cols: Vec<String> = (0..60).map(|c| format!("\"c{c}\":{}", i * c)).collect();
    format!("{{{}}}", cols.join(","))
}

pub struct Inputs {
    pub dir: tempfile::TempDir,
}

impl Inputs {
    pub fn new() -> Result<Self, Box<dyn std::error::Error>> {
        Ok(Inputs {
            dir: tempfile::tempdir()?,
        })
    }

    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }

    pub fn jsonl(
        &self,
        name: &str,
        records: &[String],
    ) -> Result<PathBuf, Box<dyn std::error::Error>> {
        let mut text = records.join("\n");
        text.push('\n');
        self.write(name, &text)
    }

    pub fn json_array(
        &self,
        name: &str,
        records: &[String],
    ) -> Result<PathBuf, Box<dyn std::error::Error>> {
        self.write(name, &format!("[\n  {}\n]\n", records.join(",\n  ")))
    }
}

pub fn processor(skip: bool) -> Result<Processor, Box<dyn std::error::Error>> {
    Ok(Processor::new(config(skip).build()?))
}

/// The configuration of [`processor`], to change further.
pub fn config(skip: bool) -> transmogrify_core::ProcessorConfigBuilder {
    ProcessorConfig::builder()
        .with_id_strategy(IdStrategy::Positional)
        .with_extract_time(Some(1_700_000_000_000_000))
        .with_on_error(if skip {
            ErrorMode::Skip
        } else {
            ErrorMode::Strict
        })
        .with_batch_size(7)
}

pub fn worker() -> &'static str {
    env!("CARGO_BIN_EXE_transmogrify-worker")
}

/// Every executor configuration under test.
pub fn executors() -> Vec<Box<dyn Executor>> {
    let mut out: Vec<Box<dyn Executor>> = vec![Box::new(SequentialExecutor)];
    for w in [1, 2, 4] {
        out.push(Box::new(ThreadExecutor::new(w)));
        out.push(Box::new(
            ProcessExecutor::new(w).with_program(worker(), Vec::new()),
        ));
    }
    // Results decoded on output threads, and by the threads that talk to the
    // workers, whatever the machine's cores make the default.
    out.push(Box::new(
        ProcessExecutor::new(2)
            .with_program(worker(), Vec::new())
            .with_output_threads(true),
    ));
    out.push(Box::new(
        ProcessExecutor::new(1)
            .with_program(worker(), Vec::new())
            .with_output_threads(false),
    ));
    out
}

pub fn chunkings() -> Vec<Chunking> {
    vec![
        Chunking::records(1),
        Chunking::bytes(1),
        Chunking::bytes(700),
        Chunking::records(13),
        Chunking::bytes(1 << 30),
    ]
}

pub fn job(
    p: &Processor,
    entity: &str,
    inputs: &[&Path],
) -> Result<Job, Box<dyn std::error::Error>> {
    let inputs = inputs
        .iter()
        .map(Input::detect)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Job::new(p.clone(), entity, inputs))
}

/// Rows of one table.
pub type Rows = Vec<serde_json::Map<String, serde_json::Value>>;

/// Every table of a result, as Arrow batches concatenated into one per table, and the
/// bad records, so results cut into different chunks compare equal.
pub fn tables(
    result: &ProcessingResult,
) -> Result<Vec<(String, Rows)>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for name in result.table_names() {
        out.push((name.clone(), result.rows(&name)?));
    }
    let errors: Vec<serde_json::Map<String, serde_json::Value>> = result
        .errors()
        .iter()
        .map(|e| {
            let mut m = serde_json::Map::new();
            m.insert("error".into(), e.error.to_string().into());
            m.insert("raw".into(), e.raw.clone().into());
            m
        })
        .collect();
    out.push(("<errors>".into(), errors));
    Ok(out)
}

/// A sink that collects the parts it is given and counts them.
#[derive(Default)]
pub struct CountingSink {
    pub inner: transmogrify_core::ResultCollector,
    pub parts: std::sync::atomic::AtomicU64,
}

impl transmogrify_parallel::ResultSink for CountingSink {
    fn accept(&self, seq: u64, part: ProcessingResult) -> transmogrify_parallel::Result<()> {
        self.parts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.deposit(seq, part);
        Ok(())
    }
}
