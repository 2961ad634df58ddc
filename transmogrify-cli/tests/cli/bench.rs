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
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "executor    workers   seconds      MB/s    records/s    peak RSS"
    );
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
    Ok(())
}
