//! Times executors into memory.
use std::time::Instant;
use transmogrify_core::{Processor, ProcessorConfig};
use transmogrify_parallel::{
    Executor, Input, Job, ProcessExecutor, SequentialExecutor, ThreadExecutor,
};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("path")?;
    let size = std::fs::metadata(&path)?.len() as f64 / 1e6;
    let p = Processor::new(ProcessorConfig::default());
    let job = Job::new(p, "e", vec![Input::detect(&path)?]);
    let worker = std::env::current_exe()?
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("transmogrify-worker"))
        .ok_or("w")?;
    let execs: Vec<Box<dyn Executor>> = vec![
        Box::new(SequentialExecutor),
        Box::new(ThreadExecutor::new(1)),
        Box::new(ThreadExecutor::new(2)),
        Box::new(ProcessExecutor::new(1).with_program(&worker, vec![])),
        Box::new(ProcessExecutor::new(2).with_program(&worker, vec![])),
    ];
    for e in execs {
        let t = Instant::now();
        let sink = transmogrify_core::ResultCollector::new();
        let r = e.run(&job, &sink)?;
        let s = t.elapsed().as_secs_f64();
        println!(
            "{} x{}: {:.2}s {:.0} MB/s ({} records)",
            e.name(),
            e.workers(),
            s,
            size / s,
            r.records
        );
    }
    Ok(())
}
