//! `transmogrify bench`.

use crate::support::*;

#[test]
fn prints_a_row_per_configuration() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = example("events.jsonl");
    let r = run(
        dir.path(),
        &[
            "bench",
            &input,
            "--executors",
            "sequential,threads,processes",
            "--workers",
            "1,2",
            "-f",
            "csv",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (lines, footer) = table_and_footer(&r.stdout);
    assert_eq!(
        lines[0],
        "executor    workers   seconds   writing      MB/s    records/s    peak RSS  per worker"
    );
    // What was measured, and the machine it ran on.
    assert_eq!(
        std::fs::metadata(&input)?.len(),
        13_180,
        "the example changed"
    );
    assert_eq!(
        footer[0],
        "13.2 kB of input, written as csv; one run of each"
    );
    let cores = std::thread::available_parallelism()?.get();
    let machine = footer.get(1).copied().unwrap_or_default();
    assert!(machine.starts_with(&format!("{cores} core")), "{machine}");
    if cfg!(target_os = "linux") {
        assert!(machine.contains(" GiB of memory, linux "), "{machine}");
    }
    let configs: Vec<(String, String)> = lines[1..]
        .iter()
        .map(|l| {
            let mut f = l.split_whitespace();
            (
                f.next().unwrap_or("").to_string(),
                f.next().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("sequential", "1"),
        ("threads", "1"),
        ("threads", "2"),
        ("processes", "1"),
        ("processes", "2"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(configs, want);
    assert!(
        lines[1].contains("MB") && lines[1].ends_with("(1.00x)"),
        "{}",
        lines[1]
    );
    // The peak of the largest worker process, where there are worker processes;
    // the seconds spent writing the tables after the last record, part of the run's.
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        assert!(
            number(3).is_some_and(|w| w >= 0.0 && number(2).is_some_and(|s| w <= s)),
            "{line}"
        );
        let per_worker = fields.get(8..10).unwrap_or_default();
        if line.starts_with("processes") {
            assert!(
                per_worker[0].parse::<f64>().is_ok_and(|v| v > 0.0) && per_worker[1].ends_with('B'),
                "{line}"
            );
        } else {
            assert_eq!(per_worker.first(), Some(&"-"), "{line}");
        }
    }
    Ok(())
}

/// The lines of a bench's table (its header first) and those after it.
fn table_and_footer(stdout: &str) -> (Vec<&str>, Vec<&str>) {
    let lines: Vec<&str> = stdout.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.is_empty())
        .unwrap_or(lines.len());
    (
        lines[..end].to_vec(),
        lines.get(end + 1..).unwrap_or_default().to_vec(),
    )
}

/// Records per second of each row of a bench table.
fn records_per_second(stdout: &str) -> Vec<f64> {
    table_and_footer(stdout)
        .0
        .into_iter()
        .skip(1)
        .map(|l| {
            l.split_whitespace()
                .nth(5)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        })
        .collect()
}

#[test]
fn every_run_reads_standard_input_and_the_input_options() -> TestResult {
    let dir = tempfile::tempdir()?;
    let events = std::fs::read(example("events.jsonl"))?;
    let args = ["--workers", "1,2", "-f", "csv"];
    // Standard input is read once, and every run reads all of it.
    let r = run(
        dir.path(),
        &[&["bench", "-", "-e", "events"], &args[..]].concat(),
        Some(&events),
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rates = records_per_second(&r.stdout);
    assert_eq!(rates.len(), 5, "{}", r.stdout);
    assert!(rates.iter().all(|&rate| rate > 0.0), "{}", r.stdout);
    // The CSV options reach the runs: without them the header would be the comment.
    std::fs::write(dir.path().join("t.csv"), "# exported 2024\na,b\n1,2\n")?;
    let r = run(dir.path(), &[&["bench", "t.csv"], &args[..]].concat(), None)?;
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("the row has 2 fields but the header has 1"),
        "{}",
        r.stderr
    );
    let r = run(
        dir.path(),
        &[&["bench", "t.csv", "--csv-skip-rows", "1"], &args[..]].concat(),
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(records_per_second(&r.stdout).iter().all(|&rate| rate > 0.0));
    Ok(())
}

#[test]
fn repeat_keeps_the_fastest_of_several_runs() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = example("events.jsonl");
    let args = [
        "bench",
        &input,
        "--executors",
        "sequential,threads",
        "--workers",
        "2",
    ];
    let r = run(dir.path(), &[&args[..], &["--repeat", "3"]].concat(), None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (lines, footer) = table_and_footer(&r.stdout);
    // A row per configuration, not per run.
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(lines[1].starts_with("sequential        1"), "{}", r.stdout);
    assert!(lines[2].starts_with("threads           2"), "{}", r.stdout);
    assert_eq!(
        footer[0],
        "13.2 kB of input, written as parquet; the fastest of 3 runs of each"
    );
    let r = run(dir.path(), &[&args[..], &["--repeat", "0"]].concat(), None)?;
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains("--repeat must be at least 1"),
        "{}",
        r.stderr
    );
    // A format no run can write is refused before the first run.
    let r = run(dir.path(), &[&args[..], &["-f", "xml"]].concat(), None)?;
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (
            2,
            "",
            "error: no writer for format \"xml\" (known: csv, json, jsonl, ndjson, parquet)\n"
        )
    );
    Ok(())
}

#[test]
fn each_configuration_runs_once_and_the_first_is_the_speed_up_base() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("none.jsonl"), "")?;
    let r = run(
        dir.path(),
        &[
            "bench",
            "none.jsonl",
            "--executors",
            "threads,sequential,threads",
            "--workers",
            "2,1,2",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (lines, _) = table_and_footer(&r.stdout);
    let configurations: Vec<(&str, &str)> = lines
        .iter()
        .skip(1)
        .map(|l| {
            let mut words = l.split_whitespace();
            (words.next().unwrap_or(""), words.next().unwrap_or(""))
        })
        .collect();
    assert_eq!(
        configurations,
        [("threads", "2"), ("threads", "1"), ("sequential", "1")]
    );
    // An empty input still has the first row as its base.
    assert!(lines[1].ends_with("(1.00x)"), "{}", lines[1]);
    Ok(())
}

/// Data with a bad record: strict runs fail with the record's place, and
/// `--on-error skip` runs measure the good records.
#[test]
fn skip_mode_measures_data_with_bad_records() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("bad.jsonl"),
        "{\"a\":1}\n{\"a\":tru}\n{\"a\":3}\n",
    )?;
    let args = ["bench", "bad.jsonl", "--executors", "sequential,threads"];
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("bad.jsonl: line 2, column 6 (byte 13, record 1)"),
        "{}",
        r.stderr
    );
    let r = run(
        dir.path(),
        &[&args[..], &["--on-error", "skip"]].concat(),
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (lines, _) = table_and_footer(&r.stdout);
    assert_eq!(lines.len(), 1 + 1 + 2, "{}", r.stdout);
    Ok(())
}
