//! A JSONL of 1,000,000 records of which 1% are corrupted in assorted ways: skip mode
//! keeps exactly the good ones and lists exactly the bad ones with their lines; strict
//! mode stops at the first with its line.

use std::io::Write;

use transmogrify_core::{ErrorMode, IdStrategy, Processor, ProcessorConfig};
use transmogrify_parallel::{Chunking, Executor, Input, Job, ThreadExecutor};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const RECORDS: usize = 1_000_000;

/// The corruption for record `i`, if it is one of the 1%.
fn corrupt(i: usize) -> Option<String> {
    if i % 100 != 37 {
        return None;
    }
    Some(match (i / 100) % 6 {
        0 => format!("{{\"i\":{i},\"v\":"),
        1 => format!("{{\"i\":{i}}} trailing"),
        2 => format!("{{\"i\":{i},\"s\":\"bad \\x escape\"}}"),
        3 => format!("[{i}]"),
        4 => format!("{{\"i\":{i},\"n\":NaN}}"),
        _ => format!("{{\"i\":{i},\"s\":\"\u{1}\"}}"),
    })
}

fn input(dir: &std::path::Path) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let path = dir.join("million.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for i in 0..RECORDS {
        match corrupt(i) {
            Some(bad) => writeln!(f, "{bad}")?,
            None => writeln!(f, "{{\"i\":{i},\"tags\":[{{\"t\":{}}}]}}", i % 7)?,
        }
    }
    f.flush()?;
    Ok(path)
}

fn job(path: &std::path::Path, mode: ErrorMode) -> Result<Job, Box<dyn std::error::Error>> {
    let config = ProcessorConfig::builder()
        .with_on_error(mode)
        .with_id_strategy(IdStrategy::Positional)
        .with_time_field(None)
        .with_batch_size(10_000)
        .build()?;
    Ok(
        Job::new(Processor::new(config), "m", vec![Input::jsonl(path)])
            .with_chunking(Chunking::bytes(2 << 20)),
    )
}

#[test]
fn skip_keeps_exactly_the_good_records_and_strict_stops_at_the_first_bad_one() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = input(dir.path())?;
    let bad: Vec<usize> = (0..RECORDS).filter(|&i| corrupt(i).is_some()).collect();
    assert_eq!(bad.len(), RECORDS / 100);

    let (result, report) = ThreadExecutor::new(2).run_to_result(&job(&path, ErrorMode::Skip)?)?;
    assert_eq!(result.num_rows("m"), Some(RECORDS - bad.len()));
    assert_eq!(result.num_rows("m_tags"), Some(RECORDS - bad.len()));
    assert_eq!(report.records, (RECORDS - bad.len()) as u64);
    assert_eq!(report.bad_records, bad.len() as u64);
    let lines: Vec<u64> = result
        .errors()
        .iter()
        .map(|e| e.error.position.line)
        .collect();
    let expected: Vec<u64> = bad.iter().map(|&i| i as u64 + 1).collect();
    assert_eq!(lines, expected);
    let ordinals: Vec<u64> = result
        .errors()
        .iter()
        .map(|e| e.error.position.ordinal)
        .collect();
    assert_eq!(ordinals, bad.iter().map(|&i| i as u64).collect::<Vec<_>>());
    // The good records are all there, in order: their `i` never skips a good one.
    let mut expect = (0..RECORDS).filter(|&i| corrupt(i).is_none());
    for batch in result.main_table()? {
        let column = batch
            .column_by_name("i")
            .ok_or("no column i")?
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .ok_or("not text")?
            .clone();
        for v in column.iter() {
            assert_eq!(v.map(str::to_string), expect.next().map(|i| i.to_string()));
        }
    }
    assert_eq!(expect.next(), None);

    let err = ThreadExecutor::new(2)
        .run_to_result(&job(&path, ErrorMode::Strict)?)
        .err()
        .ok_or("strict mode must fail")?;
    let record = err.record_error().ok_or("a record error")?;
    assert_eq!((record.position.line, record.position.ordinal), (38, 37));
    Ok(())
}
