//! `stop_and_remove_unfinished`: once an interrupted run's files are removed, this
//! process makes and renames no more files, so none appears while its threads wind
//! down. (A test binary of its own: the stop is for the whole process.)

use transmogrify_core::Processor;
use transmogrify_io::{StreamingOutput, WriteOptions, WriteResultExt, stop_and_remove_unfinished};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn after_the_stop_no_file_is_made_or_named() -> TestResult {
    let processor = Processor::default();
    let dir = tempfile::tempdir()?;
    // A streamed output with a part spilled: its hidden spill directory exists.
    let mut out = StreamingOutput::new(
        dir.path().join("streamed"),
        "parquet",
        processor.config(),
        WriteOptions::default(),
    )?;
    out.add(processor.process(br#"{"a": 1, "b": [{"c": 2}]}"#, "t")?)?;
    let streamed = dir.path().join("streamed");
    assert_eq!(std::fs::read_dir(&streamed)?.count(), 1);
    assert_eq!(stop_and_remove_unfinished(&streamed), 1);
    assert_eq!(std::fs::read_dir(&streamed)?.count(), 0);
    // Finishing it now makes nothing.
    let error = match out.finish() {
        Ok(_) => return Err("a stopped output was finished".into()),
        Err(e) => e.to_string(),
    };
    assert!(error.ends_with("the run is being stopped"), "{error}");
    assert_eq!(std::fs::read_dir(&streamed)?.count(), 0);
    // Nor does a new output, of any kind.
    let result = processor.process(br#"{"a": 1}"#, "t")?;
    let error = match result.write_all_csv(dir.path().join("later")) {
        Ok(_) => return Err("a file was written after the stop".into()),
        Err(e) => e.to_string(),
    };
    assert!(error.ends_with("the run is being stopped"), "{error}");
    let later = dir.path().join("later");
    assert!(!later.exists() || std::fs::read_dir(&later)?.count() == 0);
    let error =
        match StreamingOutput::new(&later, "csv", processor.config(), WriteOptions::default()) {
            Ok(_) => return Err("a spill directory was made after the stop".into()),
            Err(e) => e.to_string(),
        };
    assert!(error.ends_with("the run is being stopped"), "{error}");
    Ok(())
}
