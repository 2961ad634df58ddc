//! The same broken JSON read every way there is: chunked by the executors, streamed
//! by `transmogrify-io`'s reader (from the file, or as the array a JSON path picks in
//! a wrapper object), and split in memory; JSON arrays, and streams of values that
//! read as JSONL or as JSON. Every way keeps the same records, passes over the same
//! bad ones, and stops at the same error.

use std::path::Path;

use transmogrify_core::{ErrorMode, IdStrategy, Processor, ProcessorConfig, RecordError};
use transmogrify_io::{ProcessorFiles, ReaderOptions, WriteResultExt};
use transmogrify_parallel::{Chunking, Executor, Input, Job, SequentialExecutor, ThreadExecutor};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What one way of reading gave: the main table (as CSV) and each bad record passed
/// over, or the error that ended the input. Records are named by ordinal, so that
/// the array's place in a wrapper object does not count.
#[derive(Debug, PartialEq, Clone)]
enum Outcome {
    Read {
        main: Vec<u8>,
        bad: Vec<String>,
    },
    /// A run in skip mode whose input ended at a bad record: the records before
    /// it, and every bad one with the last (the library's skip mode gives the
    /// same as `Read`, having no report to say the input ended).
    Stopped {
        main: Vec<u8>,
        bad: Vec<String>,
    },
    Ended(String),
}

impl Outcome {
    /// `Stopped` as the library gives it.
    fn as_read(&self) -> Outcome {
        match self {
            Outcome::Stopped { main, bad } => Outcome::Read {
                main: main.clone(),
                bad: bad.clone(),
            },
            other => other.clone(),
        }
    }

    /// Whether the input ended before its end.
    fn ended(&self) -> bool {
        matches!(self, Outcome::Stopped { .. } | Outcome::Ended(_))
    }
}

fn named(error: &RecordError) -> String {
    format!("record {}: {}", error.position.ordinal, error.kind)
}

/// [`named`] from an error's message (`…, record 3): invalid JSON: … near `…``), as
/// a run's report gives the error of a chunk that failed.
fn named_in(message: &str) -> String {
    let Some((_, rest)) = message.split_once(", record ") else {
        return message.to_string();
    };
    let (ordinal, what) = rest.split_once("): ").unwrap_or((rest, ""));
    let what = what.split(" near `").next().unwrap_or(what);
    format!("record {ordinal}: {what}")
}

/// A run's outcome: an input that could not be read to its end is a chunk that
/// failed, which the report lists (the command line's exit code 1).
fn ran(
    run: transmogrify_parallel::Result<(
        transmogrify_core::ProcessingResult,
        transmogrify_parallel::RunReport,
    )>,
    text: &str,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    match run {
        Ok((result, report)) if !report.failed_chunks.is_empty() => {
            // The failed chunk's record is the last bad one, in the errors table.
            let Outcome::Read { main, bad } = read(result)? else {
                return Err("not read".into());
            };
            let failed = named_in(&report.failed_chunks[0].error);
            assert!(
                bad.last().is_some_and(|last| last.starts_with(&failed)),
                "{text}: {failed} is not the last of {bad:?}"
            );
            Ok(Outcome::Stopped { main, bad })
        }
        Ok((result, _)) => read(result),
        Err(e) => Ok(ended(e.record_error(), text)),
    }
}

fn read(
    result: transmogrify_core::ProcessingResult,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let main = result
        .to_csv_bytes()?
        .into_iter()
        .next()
        .map(|file| file.bytes)
        .unwrap_or_default();
    let bad = result
        .errors()
        .iter()
        .map(|e| format!("{} {}", named(&e.error), e.raw))
        .collect();
    Ok(Outcome::Read { main, bad })
}

fn ended(error: Option<&RecordError>, text: &str) -> Outcome {
    match error {
        Some(error) => Outcome::Ended(named(error)),
        None => panic!("{text}: an error without a record's position"),
    }
}

/// `text` (held in `file`) read by the executors from `input`, by `process_file`
/// and in memory; the outcomes, named by the way.
fn usual_ways(
    processor: &Processor,
    file: &Path,
    input: &Input,
    text: &str,
) -> Result<Vec<(&'static str, Outcome)>, Box<dyn std::error::Error>> {
    let mut outcomes = Vec::new();
    for (way, threads) in [("one thread", 0), ("two threads", 2)] {
        let job = Job::new(processor.clone(), "t", vec![input.clone()])
            .with_chunking(Chunking::bytes(24));
        let run = match threads {
            0 => SequentialExecutor.run_to_result(&job),
            n => ThreadExecutor::new(n).run_to_result(&job),
        };
        outcomes.push((way, ran(run, text)?));
    }
    outcomes.push((
        "process_file",
        match processor.process_file(file, "t") {
            Ok(result) => read(result)?,
            Err(e) => ended(e.record_error(), text),
        },
    ));
    outcomes.push((
        "in memory",
        match processor.process(text.as_bytes(), "t") {
            Ok(result) => read(result)?,
            Err(e) => ended(e.as_record_error(), text),
        },
    ));
    Ok(outcomes)
}

/// A JSON array `text` read every way ([`usual_ways`], and as the array a JSON path
/// picks in a wrapper object).
fn every_way(
    processor: &Processor,
    dir: &Path,
    text: &str,
) -> Result<Vec<(&'static str, Outcome)>, Box<dyn std::error::Error>> {
    let file = dir.join("array.json");
    std::fs::write(&file, text)?;
    let mut outcomes = usual_ways(processor, &file, &Input::json(&file), text)?;
    let wrapped = dir.join("wrapped.json");
    std::fs::write(
        &wrapped,
        format!("{{\"meta\": {{\"n\": [1]}}, \"data\": {text}}}"),
    )?;
    let picked = ReaderOptions::builder()
        .with_json_path(Some("data"))
        .build()?;
    let job = Job::new(
        processor.clone(),
        "t",
        vec![Input::with_reader(&wrapped, picked)],
    );
    outcomes.push((
        "a JSON path",
        ran(SequentialExecutor.run_to_result(&job), text)?,
    ));
    Ok(outcomes)
}

/// `text` read every way that tells its format by its content ([`usual_ways`]), as
/// from a file whose name does not say it.
fn every_way_by_content(
    processor: &Processor,
    dir: &Path,
    text: &str,
) -> Result<Vec<(&'static str, Outcome)>, Box<dyn std::error::Error>> {
    let file = dir.join("records");
    std::fs::write(&file, text)?;
    usual_ways(processor, &file, &Input::detect(&file)?, text)
}

/// Breaks texts at random, the same way from the same seed.
struct Breaker(u64);

impl Breaker {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }

    /// `base` with one or two of its bytes from `from` on dropped, doubled or replaced
    /// by one of `bytes`; `None` if that is not UTF-8.
    fn broken(&mut self, base: &str, from: usize, bytes: &[u8]) -> Option<String> {
        let mut text = base.as_bytes().to_vec();
        for _ in 0..1 + self.next(2) {
            let at = from + self.next(text.len() - from);
            match self.next(3) {
                0 => {
                    text.remove(at);
                }
                1 => text.insert(at, text[at]),
                _ => text[at] = bytes[self.next(bytes.len())],
            }
        }
        String::from_utf8(text).ok()
    }
}

/// Whether every way gave the same as the first; panics naming the first that did
/// not. True when bad records were passed over.
///
/// The wrapper object around the array picked by a JSON path goes on after the text:
/// where the text breaks off (an element or the array left open), what comes next
/// differs, and so may the error, though the input ends all the same.
fn alike(outcomes: &[(&'static str, Outcome)], text: &str) -> bool {
    let (first, expected) = &outcomes[0];
    for (way, got) in &outcomes[1..] {
        if *way == "a JSON path" && expected.ended() {
            assert!(got.ended(), "{text}: {way}: {got:?}");
            continue;
        }
        if matches!(got, Outcome::Stopped { .. }) {
            assert_eq!(got, expected, "{text}: {way} against {first}");
        }
        assert_eq!(
            got.as_read(),
            expected.as_read(),
            "{text}: {way} against {first}"
        );
    }
    matches!(expected, Outcome::Read { bad, .. } if !bad.is_empty())
}

fn skip_processor() -> Result<Processor, Box<dyn std::error::Error>> {
    let config = ProcessorConfig::builder()
        .with_on_error(ErrorMode::Skip)
        .with_id_strategy(IdStrategy::Positional)
        .with_extract_time(Some(0))
        .build()?;
    Ok(Processor::new(config))
}

#[test]
fn broken_arrays_are_read_alike_every_way() -> TestResult {
    let dir = tempfile::tempdir()?;
    let processor = skip_processor()?;
    // Passed over: elements whose strings and brackets tell where they end.
    for text in [
        r#"[{"a":1}, {"a": tru, "s": "]}\""}, {"a": 3 "b": 3}, {"a":4}, 5x, {"a":6}]"#,
        r#"[{"a": "x\q"}, {"a": [1,]}, null, "s]", {"a": 2}]"#,
    ] {
        assert!(
            alike(&every_way(&processor, dir.path(), text)?, text),
            "{text}"
        );
    }
    // The end of the input: where brackets do not match, the input ends inside an
    // element, no value starts, or the elements are not apart.
    for text in [
        r#"[{"a":1}, {"a": [1, 2}, {"b": 3}, {"a": 4}]"#,
        r#"[{"a":1}, {"a": ]}, {"a": 4}]"#,
        r#"[{"a":1}, {"a": [2, {"b": 3}"#,
        r#"[{"a":1}, #, {"a": 4}]"#,
        r#"[{"a":1} {"a":2}]"#,
        r#"[{"a":1},,{"a":2}]"#,
    ] {
        let outcomes = every_way(&processor, dir.path(), text)?;
        assert!(!alike(&outcomes, text), "{text}");
        assert!(outcomes[0].1.ended(), "{text}");
    }
    Ok(())
}

#[test]
fn arrays_broken_at_random_are_read_alike_every_way() -> TestResult {
    let dir = tempfile::tempdir()?;
    let processor = skip_processor()?;
    let base = r#"[{"id": 1, "tags": ["a", "b]"], "o": {"k": [1, 2.5e3, {"x": null}]}}, {"id": 2, "s": "q\"uote"}, 3, {"id": 4, "items": [{"n": true}, {"n": false}]}, {"id": 5}]"#;
    let mut breaker = Breaker(0x2545_F491_4F6C_DD1D);
    let (mut passed_over, mut ended) = (0, 0);
    for _ in 0..150 {
        // A byte after the opening bracket dropped, doubled, or replaced by one that
        // matters to JSON's structure.
        let Some(text) = breaker.broken(base, 1, b"{}[],:\"\\ x#") else {
            continue;
        };
        let outcomes = every_way(&processor, dir.path(), &text)?;
        if alike(&outcomes, &text) {
            passed_over += 1;
        } else if outcomes[0].1.ended() {
            ended += 1;
        }
    }
    assert!(passed_over > 20 && ended > 20, "{passed_over} {ended}");
    Ok(())
}

#[test]
fn streams_of_values_are_read_alike_every_way() -> TestResult {
    let dir = tempfile::tempdir()?;
    let processor = skip_processor()?;
    for text in [
        // JSONL: a bad line is a bad record, whatever it holds.
        "{\"a\": 1}\n{\"a\": tru}\n{\"a\": [1,}\n{\"a\": 2} {\"a\": 3}\n{\"a\": 4}}\n\n{\"a\": 5}\n",
        // JSON values one after another, an object over several lines.
        "{\n  \"a\": 1\n}\n{\"a\":\n tru}\n{\"a\": 3} {\"a\": 4}",
    ] {
        assert!(
            alike(&every_way_by_content(&processor, dir.path(), text)?, text),
            "{text}"
        );
    }
    // JSON whose brackets do not match ends there.
    let text = "{\n  \"a\": 1\n}\n{\"a\": [1}\n{\"a\": 3}";
    let outcomes = every_way_by_content(&processor, dir.path(), text)?;
    assert!(!alike(&outcomes, text));
    assert!(outcomes[0].1.ended(), "{text}");

    // JSONL broken at random (what no longer starts with an object is CSV to the
    // file readers, and not JSON text at all).
    let base = "{\"id\": 1, \"tags\": [\"a\", \"b]\"]}\n{\"id\": 2, \"s\": \"q\\\"uote\"}\n{\"id\": 3, \"o\": {\"k\": [1, 2]}}\n{\"id\": 4}\n";
    let mut breaker = Breaker(0x9E37_79B9_7F4A_7C15);
    let mut read_alike = 0;
    for _ in 0..150 {
        let Some(text) = breaker.broken(base, 0, b"{}[],:\"\\ x#\n") else {
            continue;
        };
        if !text.trim_start().starts_with('{') {
            continue;
        }
        alike(&every_way_by_content(&processor, dir.path(), &text)?, &text);
        read_alike += 1;
    }
    assert!(read_alike > 100, "{read_alike}");
    Ok(())
}
