//! `transmogrify flatten`.

use crate::support::*;

const INPUT: &str = r#"{"id":1,"user":{"name":"Ann, \"A\""},"tags":["x","y"],"orders":[{"sku":"a","qty":2},{"sku":"b"}]}
{"id":2,"user":{"name":"Bo"},"orders":[],"late":1.50}
"#;

#[test]
fn jsonl_to_csv_exact_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("shop.jsonl"), INPUT)?;
    let mut args = vec!["flatten", "shop.jsonl", "-o", "out", "-f", "csv"];
    args.extend_from_slice(FIXED);
    let r = run(dir.path(), &args, None)?;
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    let out = dir.path().join("out");
    assert_eq!(names(&out)?, ["shop.csv", "shop_orders.csv"]);
    let main = std::fs::read_to_string(out.join("shop.csv"))?;
    let id0 = transmogrify_core::uuid5("shop:0");
    let id1 = transmogrify_core::uuid5("shop:1");
    assert_eq!(
        main,
        format!(
            "id,user_name,tags,late,__extract_id,__extract_datetime\n\
             1,\"Ann, \"\"A\"\"\",\"[\"\"x\"\",\"\"y\"\"]\",,{id0},2024-01-02 03:04:05.000000\n\
             2,Bo,,1.50,{id1},2024-01-02 03:04:05.000000\n"
        )
    );
    let orders = std::fs::read_to_string(out.join("shop_orders.csv"))?;
    let o0 = transmogrify_core::uuid5(&format!("{id0}:orders:0"));
    let o1 = transmogrify_core::uuid5(&format!("{id0}:orders:1"));
    assert_eq!(
        orders,
        format!(
            "sku,qty,__extract_id,__parent_extract_id,__extract_datetime\n\
             a,2,{o0},{id0},2024-01-02 03:04:05.000000\n\
             b,,{o1},{id0},2024-01-02 03:04:05.000000\n"
        )
    );
    Ok(())
}

#[test]
fn every_executor_writes_the_same_bytes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut text = String::new();
    for i in 0..300 {
        text.push_str(&format!(
            "{{\"i\":{i},\"k\":[{{\"v\":{i}}}],\"s\":\"{}\"}}\n",
            "x".repeat(i % 17)
        ));
    }
    std::fs::write(dir.path().join("n.jsonl"), &text)?;
    let mut first: Option<Vec<Vec<u8>>> = None;
    for (executor, workers) in [("sequential", "1"), ("threads", "2"), ("processes", "2")] {
        let out = format!("out-{executor}");
        let report = format!("{executor}.json");
        let mut args = vec![
            "flatten",
            "n.jsonl",
            "-o",
            &out,
            "--executor",
            executor,
            "--workers",
            workers,
            "--chunk-size",
            "1k",
            "--report",
            &report,
        ];
        args.extend_from_slice(FIXED);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{executor}: {}", r.stderr);
        // The run report gives the largest worker process's peak memory, on processes.
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(&report))?)?;
        let worker_peak = report["worker_peak_rss_bytes"].as_u64();
        if executor == "processes" {
            assert!(worker_peak.is_some_and(|b| b > 1 << 20), "{report}");
        } else {
            assert!(report["worker_peak_rss_bytes"].is_null(), "{report}");
        }
        let files: Vec<Vec<u8>> = names(&dir.path().join(&out))?
            .iter()
            .map(|n| std::fs::read(dir.path().join(&out).join(n)))
            .collect::<Result<_, _>>()?;
        assert_eq!(files.len(), 2);
        match &first {
            None => first = Some(files),
            Some(f) => assert!(f == &files, "{executor} wrote different bytes"),
        }
    }
    Ok(())
}

/// The report's worker memory is that of the run's worker processes alone: not that
/// of a process the shell ran before it and replaced by this one (`exec`), nor of
/// this one's other children.
#[test]
fn worker_memory_is_the_workers_alone() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("n.jsonl"),
        "{\"a\":[{\"b\":1}]}\n".repeat(200),
    )?;
    for executor in ["threads", "processes"] {
        // `dd` holds a 300 MB buffer, then the shell becomes the run.
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                "dd if=/dev/zero of=/dev/null bs=300M count=1 2>/dev/null; exec \"$0\" \"$@\"",
                bin(),
                "flatten",
                "n.jsonl",
                "-o",
                executor,
                "--executor",
                executor,
                "-j",
                "2",
                "--report",
                "-",
                "-q",
            ])
            .current_dir(dir.path())
            .output()?;
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let peak = report["worker_peak_rss_bytes"].as_u64();
        if executor == "processes" {
            assert!(
                peak.is_some_and(|b| b > 1 << 20 && b < 200 << 20),
                "{report}"
            );
        } else {
            assert_eq!(peak, None, "{report}");
        }
    }
    Ok(())
}

/// A run whose stderr takes nothing (a full disk) still writes its tables and
/// succeeds: a warning it cannot show is no reason to fail.
#[test]
fn a_stderr_that_takes_nothing_does_not_fail_the_run() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("n.jsonl"), "{\"a\":1}\n")?;
    let out = std::process::Command::new(bin())
        .args([
            "flatten",
            "n.jsonl",
            "-o",
            "out",
            "-f",
            "csv",
            "--compression",
            "zstd",
        ])
        .current_dir(dir.path())
        .stderr(std::fs::File::create("/dev/full")?)
        .output()?;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(names(&dir.path().join("out"))?, ["n.csv"]);
    Ok(())
}

/// Options that do nothing with the others given are warned of.
#[test]
fn options_that_do_nothing_here_are_warned_of() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("n.jsonl"), "{\"a\":[1]}\n")?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "n.jsonl",
            "-o",
            "out",
            "--executor",
            "sequential",
            "-j",
            "4",
            "--array-mode",
            "inline",
            "--array-index-column",
            "i",
            "-q",
        ],
        None,
    )?;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            0,
            "warning: --workers applies to --executor threads or processes only\n\
             warning: --array-index-column applies to --array-mode smart or separate only \
             (the modes that make child rows)\n"
        )
    );
    Ok(())
}

/// A format named in capitals is the same format: its options are not warned of,
/// and the files it would write are known before the run.
#[test]
fn format_names_are_not_case_sensitive() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("n.jsonl"), "{\"a\":1,\"b\":\"x\"}\n")?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "n.jsonl",
            "-o",
            "out",
            "-f",
            "CSV",
            "--output-delimiter",
            ";",
            "--no-id-column",
            "--no-time-column",
            "-q",
        ],
        None,
    )?;
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/n.csv"))?,
        "a;b\n1;x\n"
    );
    let r = run(
        dir.path(),
        &[
            "flatten",
            "n.jsonl",
            "-o",
            "out2",
            "-f",
            "Csv",
            "--report",
            "out2/n.csv",
            "-q",
        ],
        None,
    )?;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("is named like the output's files"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("out2").exists());
    Ok(())
}

/// One wide table and two threads: the second thread, with no table of its own to
/// write, encodes columns of the first; the file is the same.
#[test]
fn a_lone_parquet_table_written_on_two_threads_has_the_same_bytes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut text = String::new();
    for i in 0..9_000u64 {
        let fields: Vec<String> = (0..24)
            .map(|c| match c % 3 {
                0 => format!("\"f{c}\":\"k{}\"", (i * 7 + c) % 5),
                1 => format!("\"f{c}\":{}", i * 1_000 + c),
                _ => format!("\"f{c}\":\"text {i} of column {c}\""),
            })
            .collect();
        text.push_str(&format!("{{{}}}\n", fields.join(",")));
    }
    std::fs::write(dir.path().join("w.jsonl"), &text)?;
    let mut files = Vec::new();
    for (executor, workers) in [("sequential", "1"), ("threads", "2")] {
        let out = format!("out-{executor}");
        let mut args = vec![
            "flatten",
            "w.jsonl",
            "-o",
            &out,
            "-f",
            "parquet",
            "--executor",
            executor,
            "--workers",
            workers,
        ];
        args.extend_from_slice(FIXED);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{executor}: {}", r.stderr);
        assert_eq!(names(&dir.path().join(&out))?, ["w.parquet"]);
        files.push(std::fs::read(dir.path().join(&out).join("w.parquet"))?);
    }
    assert!(files[0] == files[1], "the two runs wrote different bytes");
    Ok(())
}

#[test]
fn csv_columns_keep_the_headers_order_and_empty_columns() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("in.csv"), "a,b,c,d\n1,,3,\n4,5,6,\n")?;
    std::fs::write(dir.path().join("head.csv"), "a,b\n")?;
    for (input, extra, expected) in [
        ("in.csv", None, "a,b,c,d\n1,,3,\n4,5,6,\n"),
        ("in.csv", Some("--keep-nulls"), "a,b,c,d\n1,,3,\n4,5,6,\n"),
        ("head.csv", None, "a,b\n"),
    ] {
        let out = format!("out-{input}-{}", extra.is_some());
        let mut args = vec![
            "flatten",
            input,
            "-o",
            &out,
            "-f",
            "csv",
            "--no-id-column",
            "--no-time-column",
            "--quiet",
        ];
        args.extend(extra);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let text = std::fs::read_to_string(dir.path().join(&out).join(input))?;
        assert_eq!(text, expected, "{input} {extra:?}");
    }
    // A JSON input has no header: its columns come in order of first values.
    std::fs::write(
        dir.path().join("in.jsonl"),
        "{\"a\":1,\"b\":null,\"c\":3}\n{\"a\":4,\"b\":5,\"c\":6}\n",
    )?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "in.jsonl",
            "-o",
            "j",
            "-f",
            "csv",
            "--no-id-column",
            "--no-time-column",
            "-q",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("j/in.csv"))?,
        "a,c,b\n1,3,\n4,6,5\n"
    );
    Ok(())
}

#[test]
fn empty_input_writes_the_main_table_without_rows_in_every_format() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("none.jsonl"), "")?;
    std::fs::write(dir.path().join("none.json"), "[]")?;
    for (input, format, expected) in [
        ("none.jsonl", "csv", "__extract_id,__extract_datetime\n"),
        ("none.json", "json", "[]\n"),
        ("none.jsonl", "jsonl", ""),
    ] {
        let out = format!("out-{format}");
        let mut args = vec!["flatten", input, "-o", &out, "-f", format];
        args.extend_from_slice(FIXED);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let out = dir.path().join(&out);
        assert_eq!(names(&out)?, [format!("none.{format}")]);
        assert_eq!(
            std::fs::read_to_string(out.join(format!("none.{format}")))?,
            expected
        );
    }
    let mut args = vec!["flatten", "none.json", "-o", "pq", "--dictionary"];
    args.extend_from_slice(FIXED);
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        names(&dir.path().join("pq"))?,
        ["_schema.json", "none.parquet"]
    );
    let parquet = std::fs::read(dir.path().join("pq/none.parquet"))?;
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
    let dictionary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        dir.path().join("pq/_schema.json"),
    )?)?;
    assert_eq!(dictionary["tables"][0]["name"], "none");
    assert_eq!(dictionary["tables"][0]["rows"], 0);
    Ok(())
}

#[test]
fn stdin_json_array_typed_parquet_with_report_and_dictionary() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = br#"[{"n": 1, "f": 1.5, "ok": true, "big": 12345678901234567890}, {"n": 2, "f": 2, "ok": false, "big": 1}]"#;
    let mut args = vec![
        "flatten",
        "-",
        "--input-format",
        "json",
        "--entity",
        "nums",
        "-o",
        "out",
        "--typed",
        "--dictionary",
        "--report",
        "report.json",
        "--compression",
        "zstd",
    ];
    args.extend_from_slice(FIXED);
    let r = run(dir.path(), &args, Some(input))?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        names(&dir.path().join("out"))?,
        ["_schema.json", "nums.parquet"]
    );
    let parquet = std::fs::read(dir.path().join("out/nums.parquet"))?;
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json"))?)?;
    assert_eq!(report["records"], 2);
    assert_eq!(report["tables"][0]["name"], "nums");
    assert_eq!(report["tables"][0]["rows"], 2);
    assert!(report["peak_rss_bytes"].as_u64().is_some_and(|b| b > 0));
    // The run's seconds split into flattening and writing the tables after.
    let secs = |key: &str| report[key].as_f64().ok_or(format!("no {key} in {report}"));
    let (wall, flatten, write) = (
        secs("wall_seconds")?,
        secs("flatten_seconds")?,
        secs("write_seconds")?,
    );
    assert!(flatten > 0.0 && write > 0.0, "{report}");
    assert!((flatten + write - wall).abs() < 1e-9, "{report}");
    // Its bytes are those of every file written, the dictionary too.
    let sizes: u64 = ["out/_schema.json", "out/nums.parquet"]
        .iter()
        .map(|f| std::fs::metadata(dir.path().join(f)).map(|m| m.len()))
        .sum::<std::io::Result<u64>>()?;
    assert_eq!(report["output_bytes"], sizes, "{report}");
    let dictionary = std::fs::read_to_string(dir.path().join("out/_schema.json"))?;
    for needle in [
        "\"nums\"",
        "\"int64\"",
        "\"float64\"",
        "\"boolean\"",
        "\"decimal(38,0)\"",
    ] {
        assert!(dictionary.contains(needle), "{needle} not in {dictionary}");
    }
    Ok(())
}

#[test]
fn csv_input_options_and_output_delimiter() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("p.csv"),
        "junk line\nname;score\nann;1\nbo;NA\n",
    )?;
    let mut args = vec![
        "flatten",
        "p.csv",
        "-o",
        "out",
        "-f",
        "csv",
        "--csv-delimiter",
        ";",
        "--csv-skip-rows",
        "1",
        "--csv-null",
        "NA",
        "--output-delimiter",
        "|",
        "--no-id-column",
        "--no-time-column",
    ];
    args.extend_from_slice(FIXED);
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/p.csv"))?,
        "name|score\nann|1\nbo|\n"
    );
    Ok(())
}

#[test]
fn skipping_every_line_of_a_csv_file_is_warned_of() -> TestResult {
    // Four lines, a header among them: skipping all of them (or more) reads nothing
    // from the file, which is said, for each such file, in flatten as in schema.
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("p.csv"), "junk\nmore junk\nname\nann\n")?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"only\n")?;
    std::fs::write(dir.path().join("one.csv.gz"), gz.finish()?)?;
    std::fs::write(dir.path().join("empty.csv"), "")?;
    for skip in ["4", "9"] {
        for command in ["flatten", "schema"] {
            let mut args = vec![command, "p.csv", "one.csv.gz", "empty.csv"];
            if command == "flatten" {
                args.extend(["-o", "out", "--force", "-q"]);
            }
            args.extend(["--csv-skip-rows", skip]);
            let r = run(dir.path(), &args, None)?;
            assert_eq!(r.code, 0, "{}", r.stderr);
            let warnings: Vec<&str> = r
                .stderr
                .lines()
                .filter(|l| l.starts_with("warning: "))
                .collect();
            assert_eq!(
                warnings,
                [
                    format!(
                        "warning: p.csv: --csv-skip-rows {skip} skips all 4 of its lines, so no \
                         header and no row is read from it"
                    ),
                    format!(
                        "warning: one.csv.gz: --csv-skip-rows {skip} skips its only line, so no \
                         header and no row is read from it"
                    ),
                ],
                "{command} {skip}"
            );
        }
    }
    // Three lines skipped leave a header: no warning.
    let r = run(
        dir.path(),
        &[
            "flatten",
            "p.csv",
            "-o",
            "out",
            "--force",
            "-q",
            "--csv-skip-rows",
            "3",
        ],
        None,
    )?;
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    Ok(())
}

#[test]
fn tabs_can_be_written_as_backslash_t_or_tab() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("t.csv"), "name\tnote\nann\t\"a,b\"\n")?;
    for (input, output) in [("\\t", "tab"), ("tab", "\\t"), ("\t", "TAB")] {
        let mut args = vec![
            "flatten",
            "t.csv",
            "-o",
            "out",
            "-f",
            "csv",
            "--force",
            "--csv-delimiter",
            input,
            "--output-delimiter",
            output,
            "--no-id-column",
            "--no-time-column",
        ];
        args.extend_from_slice(FIXED);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out/t.csv"))?,
            "name\tnote\nann\ta,b\n"
        );
    }
    let r = run(
        dir.path(),
        &["flatten", "t.csv", "-o", "out", "--csv-delimiter", "ab"],
        None,
    )?;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("\"ab\" is not one character (write a tab as \\t or tab)"),
        "{}",
        r.stderr
    );
    Ok(())
}

#[test]
fn tsv_files_are_read_with_tabs() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir(&data)?;
    std::fs::write(data.join("a.csv"), "name,note\nann,\"x\ty\"\n")?;
    std::fs::write(data.join("b.tsv"), "name\tnote\nbo\ta,b\n")?;
    let mut args = vec![
        "flatten",
        "data",
        "-o",
        "out",
        "-f",
        "jsonl",
        "--entity",
        "people",
        "--no-id-column",
        "--no-time-column",
    ];
    args.extend_from_slice(FIXED);
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/people.jsonl"))?,
        "{\"name\":\"ann\",\"note\":\"x\\ty\"}\n{\"name\":\"bo\",\"note\":\"a,b\"}\n"
    );
    // A delimiter given is used for every file, .tsv too.
    let r = run(
        dir.path(),
        &[
            "flatten",
            "data/b.tsv",
            "-o",
            "out2",
            "--csv-delimiter",
            ",",
        ],
        None,
    )?;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the row has 2 fields but the header has 1"),
        "{}",
        r.stderr
    );
    Ok(())
}

#[test]
fn csv_columns_are_the_headers_whatever_their_nulls() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("n.csv"),
        "a,gone,b
1,,
,,2
",
    )?;
    for (keep, want) in [
        (false, "a,gone,b\n1,,\n,,2\n"),
        (true, "a,gone,b\n1,,\n,,2\n"),
    ] {
        let mut args = vec![
            "flatten",
            "n.csv",
            "-o",
            "out",
            "-f",
            "csv",
            "--force",
            "--no-id-column",
            "--no-time-column",
        ];
        if keep {
            args.push("--keep-nulls");
        }
        args.extend_from_slice(FIXED);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let got = std::fs::read_to_string(dir.path().join("out/n.csv"))?;
        assert_eq!(got, want, "--keep-nulls {keep}");
    }
    Ok(())
}

#[test]
fn processing_options_reach_the_engine() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("d.jsonl"),
        "{\"customer\":{\"address\":{\"city\":\"Oslo\"}},\"tags\":[\"a\",null],\"e\":\"\",\"n\":null}\n",
    )?;
    let mut args = vec![
        "flatten",
        "d.jsonl",
        "-o",
        "out",
        "-f",
        "jsonl",
        "--separator",
        ".",
        "--array-mode",
        "separate",
        "--keep-nulls",
        "--keep-empty",
        "--abbreviate-columns",
        "--id-column",
        "rid",
        "--parent-column",
        "pid",
        "--no-time-column",
        "--array-index-column",
        "pos",
    ];
    args.extend_from_slice(FIXED);
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let main = std::fs::read_to_string(dir.path().join("out/d.jsonl"))?;
    let id = transmogrify_core::uuid5("d:0");
    assert_eq!(
        main,
        format!("{{\"cust.addr.city\":\"Oslo\",\"e\":\"\",\"n\":null,\"rid\":\"{id}\"}}\n")
    );
    let tags = std::fs::read_to_string(dir.path().join("out/d.tags.jsonl"))?;
    assert!(
        tags.contains("\"value\":\"a\"") && tags.contains("\"value\":null"),
        "{tags}"
    );
    assert!(
        tags.contains("\"pos\":\"1\"") && tags.contains(&format!("\"pid\":\"{id}\"")),
        "{tags}"
    );
    Ok(())
}

#[test]
fn the_example_data_flattens() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = example("events.jsonl");
    let r = run(dir.path(), &["flatten", &input, "-o", "out"], None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        names(&dir.path().join("out"))?,
        [
            "events.parquet",
            "events_cart_items.parquet",
            "events_payment_attempts.parquet"
        ]
    );
    // Not a terminal: no progress bar, only the summary.
    assert!(
        r.stderr.starts_with("flattened 40 records into 3 tables"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains('\r'));
    Ok(())
}

#[test]
fn compressed_input_is_known_by_its_bytes_on_stdin_and_under_any_name() -> TestResult {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let text = br#"[{"id": 1, "tags": [{"t": "a"}]}, {"id": 2, "ok": false}]"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text)?;
    let gzipped = gz.finish()?;
    std::fs::write(dir.path().join("plain.json"), text)?;
    // A gzipped file whose name says plain JSON.
    std::fs::write(dir.path().join("packed.json"), &gzipped)?;
    let flatten = |input: &str, out: &str, stdin: Option<&[u8]>| {
        let mut args = vec![
            "flatten",
            input,
            "--input-format",
            "json",
            "--entity",
            "e",
            "-o",
            out,
            "-f",
            "csv",
        ];
        args.extend_from_slice(FIXED);
        run(dir.path(), &args, stdin)
    };
    let r = flatten("plain.json", "plain", None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let want = std::fs::read_to_string(dir.path().join("plain/e_tags.csv"))?;
    assert_eq!(want.lines().count(), 2, "{want}");
    for (input, out, stdin) in [
        ("packed.json", "packed", None),
        ("-", "stdin", Some(&gzipped[..])),
    ] {
        let r = flatten(input, out, stdin)?;
        assert_eq!(r.code, 0, "{input}: {}", r.stderr);
        for table in ["e.csv", "e_tags.csv"] {
            let got = std::fs::read_to_string(dir.path().join(out).join(table))?;
            let want = std::fs::read_to_string(dir.path().join("plain").join(table))?;
            assert_eq!(got, want, "{input}: {table}");
        }
    }
    Ok(())
}

#[test]
fn the_entity_is_the_file_stem_without_its_extensions_in_any_case() -> TestResult {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let gz_text = |text: &[u8]| -> std::io::Result<Vec<u8>> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text)?;
        gz.finish()
    };
    std::fs::write(
        dir.path().join("ORDERS.CSV.GZ"),
        gz_text(b"id,name\n1,a\n")?,
    )?;
    std::fs::write(dir.path().join("Events.Jsonl"), "{\"a\": [{\"b\": 1}]}\n")?;
    std::fs::write(dir.path().join("plain.data.csv"), "x\n1\n")?;
    std::fs::write(dir.path().join("dump.txt"), "{\"x\": 1}\n")?;
    std::fs::write(dir.path().join("v1.2.log.gz"), gz_text(b"{\"x\": 1}\n")?)?;
    for (input, out, tables) in [
        ("ORDERS.CSV.GZ", "o1", vec!["ORDERS.csv"]),
        ("Events.Jsonl", "o2", vec!["Events.csv", "Events_a.csv"]),
        ("plain.data.csv", "o3", vec!["plain.data.csv"]),
        ("dump.txt", "o4", vec!["dump.csv"]),
        ("v1.2.log.gz", "o5", vec!["v1.2.csv"]),
    ] {
        let r = run(
            dir.path(),
            &["flatten", input, "-o", out, "-f", "csv", "-q"],
            None,
        )?;
        assert_eq!(r.code, 0, "{input}: {}", r.stderr);
        assert_eq!(names(&dir.path().join(out))?, tables, "{input}");
    }
    Ok(())
}

#[test]
fn a_directory_stands_for_the_data_files_under_it() -> TestResult {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let dumps = dir.path().join("dumps");
    std::fs::create_dir_all(dumps.join("sub"))?;
    std::fs::write(dumps.join("b.json"), r#"{"id":2}"#)?;
    std::fs::write(dumps.join("a.jsonl"), "{\"id\":1}\n")?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(br#"[{"id":3,"t":[{"x":1}]}]"#)?;
    std::fs::write(dumps.join("sub").join("c.json.gz"), gz.finish()?)?;
    // Not data, hidden, or the output: left out.
    std::fs::write(dumps.join(".hidden.json"), r#"{"id":99}"#)?;
    std::fs::write(dumps.join("README.txt"), "not data")?;
    // Links back up and to a directory already read: nothing is read twice.
    std::os::unix::fs::symlink("..", dumps.join("sub").join("up"))?;
    std::os::unix::fs::symlink("sub", dumps.join("zz-again"))?;

    let mut args = vec!["flatten", "dumps", "-o", "dumps/out", "-f", "csv"];
    args.extend_from_slice(FIXED);
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dumps.join("out");
    // Named after the directory; files in order of path, subdirectories included.
    assert_eq!(names(&out)?, ["dumps.csv", "dumps_t.csv"]);
    let main = std::fs::read_to_string(out.join("dumps.csv"))?;
    let ids: Vec<&str> = main
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);

    // Again, into the same directory: its own output is not read back.
    args.push("--force");
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(out.join("dumps.csv"))?, main);

    // The same as naming the files.
    let mut named = vec![
        "flatten",
        "dumps/a.jsonl",
        "dumps/b.json",
        "dumps/sub/c.json.gz",
        "-e",
        "dumps",
        "-o",
        "named",
        "-f",
        "csv",
    ];
    named.extend_from_slice(FIXED);
    let r = run(dir.path(), &named, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    for name in ["dumps.csv", "dumps_t.csv"] {
        assert_eq!(
            std::fs::read(out.join(name))?,
            std::fs::read(dir.path().join("named").join(name))?,
            "{name}"
        );
    }

    // A directory without data files is a usage error.
    std::fs::create_dir(dir.path().join("empty"))?;
    let r = run(
        dir.path(),
        &["flatten", "empty", "-o", "o", "-f", "csv"],
        None,
    )?;
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: empty: the directory holds no .json, .jsonl, .ndjson, .csv, .tsv or .parquet files\n"
    );
    Ok(())
}

#[test]
fn a_directory_reads_files_whose_names_are_not_utf8() -> TestResult {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir(&data)?;
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.jsonl");
    std::fs::write(data.join(name), "{\"id\":9}\n")?;
    let mut args = vec!["flatten", "data", "-o", "out", "-f", "csv"];
    args.extend_from_slice(FIXED);
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let main = std::fs::read_to_string(dir.path().join("out").join("data.csv"))?;
    assert!(main.starts_with("id,"), "{main}");
    assert!(
        main.lines().nth(1).is_some_and(|l| l.starts_with("9,")),
        "{main}"
    );
    Ok(())
}

/// A named pipe (as a shell's `<(command)` is too) is opened once and read front to
/// back, like standard input: it was opened again after its format was looked at,
/// which waited for a writer that had gone.
#[cfg(unix)]
#[test]
fn a_named_pipe_is_read_once_with_every_executor() -> TestResult {
    use std::process::Command;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir()?;
    let cases = [
        ("pipe.jsonl", "events.jsonl"),
        ("pipe", "events.jsonl"),
        ("pipe.json", "customers.json"),
    ];
    for (pipe, example_file) in cases {
        let mut args = vec!["flatten", "-e", "t", "-f", "csv"];
        args.extend_from_slice(FIXED);
        let source = example(example_file);
        let expected = dir.path().join(format!("file-{pipe}"));
        let expected_dir = expected.to_string_lossy().into_owned();
        let r = run(
            dir.path(),
            &[&args[..], &[source.as_str(), "-o", &expected_dir]].concat(),
            None,
        )?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        for executor in ["sequential", "threads", "processes"] {
            let fifo = dir.path().join(pipe);
            let _ = std::fs::remove_file(&fifo);
            assert!(Command::new("mkfifo").arg(&fifo).status()?.success());
            let mut writer = Command::new("sh")
                .arg("-c")
                .arg(format!("cat '{source}' > '{}'", fifo.display()))
                .spawn()?;
            let out = format!("{pipe}-{executor}");
            let mut child = Command::new(bin())
                .args(&args)
                .args([pipe, "-o", &out, "--executor", executor, "-j", "2"])
                .args(["--chunk-size", "1KiB"])
                .current_dir(dir.path())
                .spawn()?;
            let deadline = Instant::now() + Duration::from_secs(60);
            let status = loop {
                if let Some(status) = child.try_wait()? {
                    break Some(status);
                }
                if Instant::now() > deadline {
                    child.kill()?;
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let _ = writer.kill();
            writer.wait()?;
            assert!(
                status.is_some_and(|s| s.success()),
                "{pipe}, {executor}: {status:?}"
            );
            let got = dir.path().join(&out);
            assert_eq!(names(&got)?, names(&expected)?, "{pipe}, {executor}");
            for name in names(&got)? {
                assert_eq!(
                    std::fs::read(got.join(&name))?,
                    std::fs::read(expected.join(&name))?,
                    "{pipe}, {executor}: {name}"
                );
            }
        }
    }
    Ok(())
}

/// A run keeps a file open for each table as it goes: the program raises its soft
/// limit on open files to the hard one, and past that says what to do.
#[cfg(unix)]
#[test]
fn more_tables_than_the_soft_open_file_limit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let records: String = (0..200)
        .map(|i| format!("{{\"id\":{i},\"k{i}\":[{{\"x\":{i}}}]}}\n"))
        .collect();
    std::fs::write(dir.path().join("t.jsonl"), records)?;
    let under = |limit: &str, out: &str, format: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit {limit} 64 && exec \"$0\" \"$@\""))
            .arg(bin())
            .args(["flatten", "t.jsonl", "-o", out, "-f", format, "-q"])
            .current_dir(dir.path())
            .output()
    };
    for format in ["csv", "parquet"] {
        let soft = under("-Sn", &format!("soft-{format}"), format)?;
        assert_eq!(
            soft.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&soft.stderr)
        );
        assert_eq!(
            names(&dir.path().join(format!("soft-{format}")))?.len(),
            201
        );
        let hard = under("-n", &format!("hard-{format}"), format)?;
        let stderr = String::from_utf8(hard.stderr)?;
        assert_eq!(hard.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.ends_with(
                "\nhint: a run keeps a file open for each table as it goes; \
                 allow more open files (`ulimit -n`)\n"
            ),
            "{stderr}"
        );
        // Nothing left behind, hidden or not.
        assert_eq!(
            left_behind(&dir.path().join(format!("hard-{format}")))?,
            Vec::<String>::new()
        );
    }
    Ok(())
}

#[test]
fn records_larger_than_a_chunk_get_a_note_pointing_at_json_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let items: Vec<String> = (0..1000)
        .map(|i| format!(r#"{{"sku": "S{i:05}", "qty": {}}}"#, i % 7))
        .collect();
    let wrapped = format!(
        r#"{{"meta": {{"page": 1}}, "data": [{}]}}"#,
        items.join(", ")
    );
    std::fs::write(dir.path().join("dump.json"), &wrapped)?;
    let size = wrapped.len();
    assert_eq!(size, 29_031);
    let r = run(
        dir.path(),
        &["flatten", "dump.json", "-o", "a", "--chunk-size", "16k"],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(lines[0].starts_with("flattened 1 record into 2 tables (1001 rows)"));
    assert_eq!(
        lines[1..],
        [
            "note: the input is one record of 29.0 kB, more than a chunk (16.0 kB): each \
             record is flattened whole, in memory that grows with it. If the records are an \
             array inside the input (`{\"data\": [...]}`), --json-path data reads them one at \
             a time; the largest table here is dump_data (1000 rows)."
        ]
    );
    // Picked: a thousand records, no note; nor for records smaller than a chunk, nor
    // when quiet.
    let elements = format!("[{}]", items.join(", "));
    std::fs::write(dir.path().join("list.json"), elements)?;
    for (args, records) in [
        (
            &[
                "flatten",
                "dump.json",
                "-o",
                "b",
                "--json-path",
                "data",
                "--chunk-size",
                "16k",
            ][..],
            Some("flattened 1000 records into 1 table"),
        ),
        (
            &["flatten", "list.json", "-o", "c", "--chunk-size", "1k"],
            Some("flattened 1000 records"),
        ),
        (
            &[
                "flatten",
                "dump.json",
                "-o",
                "d",
                "--chunk-size",
                "16k",
                "--quiet",
            ],
            None,
        ),
    ] {
        let r = run(dir.path(), args, None)?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        match records {
            Some(start) => {
                assert!(r.stderr.starts_with(start), "{args:?}: {}", r.stderr);
                assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
            }
            None => assert_eq!(r.stderr, "", "{args:?}"),
        }
    }
    Ok(())
}

#[test]
fn id_field_patterns_that_give_no_ids_and_parquet_options_elsewhere_are_warned_of() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("ids.jsonl"),
        "{\"event_id\":\"e1\",\"orders\":[{\"order_id\":1,\"lines\":[{\"q\":1}]}]}\n",
    )?;
    let args = [
        "flatten",
        "ids.jsonl",
        "-o",
        "out",
        "-f",
        "csv",
        "--id-field",
        "=event_id",
        "--id-field",
        "user_orders=order_id",
        "--id-field",
        "orders_lines=line_id",
        "--compression",
        "zstd",
        "--report",
        "report.json",
    ];
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(
        warnings,
        [
            "warning: --compression applies to Parquet output only",
            "warning: the id field pattern \"user_orders\" gives no table its ids (paths are \
             array keys joined by \"_\", like \"orders\")",
            "warning: table ids_orders_lines has no column \"line_id\" for its ids (pattern \
             \"orders_lines\"): its rows have positional ids",
        ]
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json"))?)?;
    // The report has every warning, the options' too.
    let reported: Vec<String> = report["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| format!("warning: {}", w.as_str().unwrap_or_default()))
        .collect();
    assert_eq!(reported, warnings);
    // Quiet runs have no summary, but their warnings.
    let mut quiet = args.to_vec();
    quiet[3] = "out2";
    quiet.push("--quiet");
    let r = run(dir.path(), &quiet, None)?;
    assert_eq!(r.code, 0);
    assert_eq!(r.stderr.lines().collect::<Vec<_>>(), warnings);
    Ok(())
}

#[test]
fn the_report_goes_to_stdout_says_when_a_run_failed_and_never_replaces_a_table() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::copy(example("events.jsonl"), dir.path().join("ev.jsonl"))?;
    std::fs::write(dir.path().join("bad.jsonl"), "{\"a\":1}\n{\"a\":tru}\n")?;
    // `-` is standard output.
    let r = run(
        dir.path(),
        &["flatten", "ev.jsonl", "-o", "out", "--report", "-", "-q"],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout)?;
    assert_eq!(report["records"], 40);
    assert!(!dir.path().join("-").exists());
    // A failed run's report gives the error and the exit code.
    let r = run(
        dir.path(),
        &[
            "flatten",
            "bad.jsonl",
            "-o",
            "bad",
            "--report",
            "bad.json",
            "-q",
        ],
        None,
    )?;
    assert_eq!(r.code, 1);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bad.json"))?)?;
    assert_eq!(report["exit_code"], 1);
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("bad.jsonl: line 2, column 6 (byte 13, record 1)")),
        "{report}"
    );
    // A report's directory is made if missing; one that cannot be made stops the
    // run before it starts.
    let r = run(
        dir.path(),
        &[
            "flatten",
            "ev.jsonl",
            "-o",
            "o1",
            "--report",
            "new/dir/r.json",
            "-q",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.path().join("new/dir/r.json").is_file());
    std::fs::write(dir.path().join("plain"), "a file")?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "ev.jsonl",
            "-o",
            "o2",
            "--report",
            "plain/r.json",
            "-q",
        ],
        None,
    )?;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: plain/r.json: cannot make the report's directory"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("o2").exists());
    // Beside the tables, a report named like them is refused; another name is not.
    let r = run(
        dir.path(),
        &[
            "flatten",
            "ev.jsonl",
            "-o",
            "o3",
            "-f",
            "csv",
            "--report",
            "o3/ev.csv",
            "-q",
        ],
        None,
    )?;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: --report o3/ev.csv is named like the output's files")
    );
    assert!(!dir.path().join("o3").exists());
    let r = run(
        dir.path(),
        &[
            "flatten",
            "ev.jsonl",
            "-o",
            "o4",
            "-f",
            "csv",
            "--report",
            "o4/run.json",
            "-q",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        names(&dir.path().join("o4"))?,
        [
            "ev.csv",
            "ev_cart_items.csv",
            "ev_payment_attempts.csv",
            "run.json"
        ]
    );
    Ok(())
}

#[test]
fn a_csv_option_for_parquet_output_is_warned_of() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = example("events.jsonl");
    let r = run(
        dir.path(),
        &["flatten", &input, "-o", "out", "--output-delimiter", ";"],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("warning: --output-delimiter applies to CSV output only\n"),
        "{}",
        r.stderr
    );
    Ok(())
}

#[test]
fn parts_wait_in_the_spill_dir_and_the_files_are_the_same() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Long enough (about 15 MB) that the run is still going when its spill
    // directory is looked for.
    let mut text = String::with_capacity(16 << 20);
    for i in 0..150_000 {
        text.push_str(&format!(
            "{{\"i\":{i},\"name\":\"record {i}\",\"items\":[{{\"n\":{i}}},{{\"n\":{}}}]}}\n",
            i + 1
        ));
    }
    std::fs::write(dir.path().join("big.jsonl"), text)?;
    std::fs::create_dir(dir.path().join("scratch"))?;
    let scratch = dir.path().join("scratch");
    for format in ["parquet", "jsonl"] {
        let here = format!("here-{format}");
        let mut args = vec!["flatten", "big.jsonl", "-o", &here, "-f", format];
        args.extend_from_slice(FIXED);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{}", r.stderr);

        let elsewhere = format!("elsewhere-{format}");
        let mut args = vec!["flatten", "big.jsonl", "-o", &elsewhere, "-f", format];
        args.extend_from_slice(FIXED);
        args.extend_from_slice(&["--spill-dir", "scratch"]);
        let mut child = std::process::Command::new(bin())
            .args(&args)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        // The run's spill directory is in `scratch`, not in the output directory.
        let ours = format!(".transmogrify-spill-{}-", child.id());
        let out = dir.path().join(&elsewhere);
        let (mut in_scratch, mut in_out) = (false, false);
        while child.try_wait()?.is_none() {
            in_scratch |= names(&scratch)?.iter().any(|n| n.starts_with(&ours));
            in_out |= left_behind(&out)?.iter().any(|n| n.starts_with(&ours));
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let done = child.wait_with_output()?;
        assert_eq!(
            done.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        assert!(in_scratch, "{format}: no spill directory seen in scratch");
        assert!(
            !in_out,
            "{format}: a spill directory in the output directory"
        );
        // Removed at the end; the tables are byte for byte those of the default.
        assert_eq!(names(&scratch)?, Vec::<String>::new());
        let here = dir.path().join(&here);
        assert_eq!(names(&out)?, names(&here)?);
        for name in names(&here)? {
            assert_eq!(
                std::fs::read(out.join(&name))?,
                std::fs::read(here.join(&name))?,
                "{name}"
            );
        }
    }
    Ok(())
}

#[test]
fn a_spill_dir_that_is_not_a_directory_is_a_usage_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a.jsonl"), "{\"x\":1}\n")?;
    std::fs::write(dir.path().join("taken"), "a file")?;
    for (spill, message) in [
        ("missing", "No such file or directory (os error 2)"),
        ("taken", "not a directory"),
    ] {
        let r = run(
            dir.path(),
            &["flatten", "a.jsonl", "-o", "out", "--spill-dir", spill],
            None,
        )?;
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert_eq!(r.stderr, format!("error: --spill-dir {spill}: {message}\n"));
        // Checked before anything is made.
        assert!(!dir.path().join("out").exists());
    }
    Ok(())
}

#[test]
fn a_spill_dir_that_is_the_output_directory_may_not_be_there_yet() -> TestResult {
    // The default, named: made with the output directory.
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a.jsonl"), "{\"x\":1,\"i\":[{\"n\":2}]}\n")?;
    for (n, spill) in ["new0/out", "new1/out/", "./new2/out"]
        .into_iter()
        .enumerate()
    {
        let out = format!("new{n}/out");
        let args = [
            "flatten",
            "a.jsonl",
            "-o",
            &out,
            "--spill-dir",
            spill,
            "--quiet",
        ];
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{spill}: {}", r.stderr);
        assert_eq!(names(&dir.path().join(&out))?, ["a.parquet", "a_i.parquet"]);
    }
    Ok(())
}

#[test]
fn a_run_never_writes_over_its_own_inputs() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = "{\"k\":\"v\",\"items\":[{\"n\":1}]}\n";
    std::fs::create_dir(dir.path().join("d"))?;
    std::fs::write(dir.path().join("d/big.jsonl"), data)?;
    std::fs::write(dir.path().join("d/e_items.jsonl"), data)?;
    // `input` into its own directory, as JSONL, with --force.
    let into_d = |input: &str, more: &[&str]| {
        let mut args = vec!["flatten", input, "-o", "d", "-f", "jsonl", "--force"];
        args.extend_from_slice(more);
        run(dir.path(), &args, None)
    };
    let unchanged = || -> Result<bool, std::io::Error> {
        Ok(
            std::fs::read_to_string(dir.path().join("d/big.jsonl"))? == data
                && std::fs::read_to_string(dir.path().join("d/e_items.jsonl"))? == data,
        )
    };
    const HINT: &str =
        "hint: write into another directory (-o), or name the tables otherwise (--entity)\n";
    // The main table's file would be the input itself: refused before anything is
    // read.
    let r = into_d("d/big.jsonl", &[])?;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        format!(
            "error: d/big.jsonl: the main table's file d/big.jsonl would replace this input\n{HINT}"
        )
    );
    assert!(unchanged()?);
    assert_eq!(
        names(&dir.path().join("d"))?,
        ["big.jsonl", "e_items.jsonl"]
    );
    // A child table's file would be the input (known only once the run has its
    // tables): no file of the output gets its name, and the input is as it was.
    let r = into_d("d/e_items.jsonl", &["--entity", "e"])?;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        format!(
            "error: d/e_items.jsonl: a table's file would replace this file, one of the run's \
             inputs; no output file was written\n{HINT}"
        )
    );
    assert!(unchanged()?);
    assert_eq!(
        names(&dir.path().join("d"))?,
        ["big.jsonl", "e_items.jsonl"]
    );
    // Nor is the report written over an input.
    let args = [
        "flatten",
        "d/big.jsonl",
        "-o",
        "out",
        "--report",
        "d/big.jsonl",
    ];
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "error: --report d/big.jsonl is one of the inputs\n"
    );
    assert!(unchanged()?);
    // Another input in the output directory, whose name no table has, is no trouble.
    let r = into_d("d/big.jsonl", &["--entity", "t"])?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(unchanged()?);
    assert_eq!(
        names(&dir.path().join("d"))?,
        ["big.jsonl", "e_items.jsonl", "t.jsonl", "t_items.jsonl"]
    );
    Ok(())
}

#[test]
fn a_failed_run_removes_the_parent_directories_it_made() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("late.jsonl"), "{\"a\":1}\n{\"a\":tru}\n")?;
    std::fs::create_dir(dir.path().join("kept"))?;
    let r = run(
        dir.path(),
        &["flatten", "late.jsonl", "-o", "kept/made/deeper", "-q"],
        None,
    )?;
    assert_eq!(r.code, 1, "{}", r.stderr);
    // The directories the run made are gone; the one that was there stays.
    assert_eq!(names(&dir.path().join("kept"))?, Vec::<String>::new());
    // A made directory the run did not leave empty stays, with what is in it.
    std::fs::create_dir_all(dir.path().join("kept/x"))?;
    let r = run(
        dir.path(),
        &["flatten", "late.jsonl", "-o", "kept/x/y", "-q"],
        None,
    )?;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(names(&dir.path().join("kept"))?, ["x"]);
    assert_eq!(names(&dir.path().join("kept/x"))?, Vec::<String>::new());
    Ok(())
}

#[test]
fn id_fields_find_columns_by_their_written_names_before_clashes() -> TestResult {
    let dir = tempfile::tempdir()?;
    // The specification's test vectors.
    let uuid_of = |text: &str| match text {
        "123" => "ed2a5f87-17c9-59b7-a855-049cd6b9fc61",
        "CUST001" => "7c5c410b-1dac-5b87-ab7c-da1f9932eee5",
        _ => "",
    };
    // Shortened column names: the field is the name as written.
    std::fs::write(
        dir.path().join("c.jsonl"),
        "{\"customer\":{\"id\":\"123\"}}\n",
    )?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "c.jsonl",
            "-o",
            "c",
            "-f",
            "csv",
            "--abbreviate-columns",
            "--id-field",
            "=cust_id",
            "--no-time-column",
        ],
        None,
    )?;
    assert!(r.code == 0 && !r.stderr.contains("warning"), "{}", r.stderr);
    let csv = std::fs::read_to_string(dir.path().join("c/c.csv"))?;
    assert_eq!(
        csv,
        format!("cust_id,__extract_id\n123,{}\n", uuid_of("123"))
    );
    // A data column renamed for the id column's sake is still found by its name.
    std::fs::write(dir.path().join("i.jsonl"), "{\"id\":123}\n")?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "i.jsonl",
            "-o",
            "i",
            "-f",
            "csv",
            "--id-column",
            "id",
            "--id-field",
            "=id",
            "--no-time-column",
        ],
        None,
    )?;
    assert!(r.code == 0 && !r.stderr.contains("warning"), "{}", r.stderr);
    let csv = std::fs::read_to_string(dir.path().join("i/i.csv"))?;
    assert_eq!(csv, format!("id_2,id\n123,{}\n", uuid_of("123")));
    // Two paths named alike: the one that keeps the name gives the id where the row
    // has it, whichever came first in the input; the other where it alone is there.
    std::fs::write(
        dir.path().join("a.jsonl"),
        "{\"a\":{\"b\":\"CUST001\"},\"a_b\":\"123\"}\n{\"a\":{\"b\":\"CUST001\"}}\n",
    )?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "a.jsonl",
            "-o",
            "a",
            "-f",
            "csv",
            "--id-field",
            "=a_b",
            "--no-time-column",
        ],
        None,
    )?;
    assert!(r.code == 0 && !r.stderr.contains("warning"), "{}", r.stderr);
    let csv = std::fs::read_to_string(dir.path().join("a/a.csv"))?;
    assert_eq!(
        csv,
        format!(
            "a_b_2,a_b,__extract_id\nCUST001,123,{}\nCUST001,,{}\n",
            uuid_of("123"),
            uuid_of("CUST001")
        )
    );
    // The suffixed name finds nothing, and the warning says which name does.
    let r = run(
        dir.path(),
        &[
            "flatten",
            "a.jsonl",
            "-o",
            "a2",
            "-f",
            "csv",
            "--id-field",
            "=a_b_2",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "warning: table a has no column \"a_b_2\" for its ids (pattern \"\"): its rows \
             have positional ids (the column written as \"a_b_2\" got its suffix as names \
             clashed; id fields name it \"a_b\", its keys joined)\n"
        ),
        "{}",
        r.stderr
    );
    Ok(())
}

#[test]
fn a_json_array_on_stdin_is_told_by_its_first_bytes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let array = b"\n  [{\"a\": 1, \"b\": [{\"c\": 1}]},\n   {\"a\": 2}]";
    let lines = b"{\"a\": 1, \"b\": [{\"c\": 1}]}\n{\"a\": 2}\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, array)?;
    let gz = gz.finish()?;
    let mut outputs = Vec::new();
    for (name, input, executor) in [
        ("lines", &lines[..], "sequential"),
        ("array", &array[..], "sequential"),
        ("array-threads", &array[..], "threads"),
        ("array-processes", &array[..], "processes"),
        ("array-gz", &gz[..], "threads"),
    ] {
        let mut args = vec![
            "flatten",
            "-",
            "-o",
            name,
            "-f",
            "csv",
            "--entity",
            "e",
            "--executor",
            executor,
        ];
        args.extend_from_slice(FIXED);
        let r = run(dir.path(), &args, Some(input))?;
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        outputs.push((
            std::fs::read_to_string(dir.path().join(name).join("e.csv"))?,
            std::fs::read_to_string(dir.path().join(name).join("e_b.csv"))?,
        ));
    }
    // The same tables as the same records given one per line.
    assert!(outputs.iter().all(|o| o == &outputs[0]), "{outputs:?}");
    assert!(
        outputs[0]
            .0
            .starts_with("a,__extract_id,__extract_datetime\n1,")
    );
    // Parquet too, told by its magic bytes.
    let mut args = vec!["flatten", "-", "-o", "pq", "--entity", "e"];
    args.extend_from_slice(FIXED);
    let r = run(dir.path(), &args, Some(lines))?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let parquet = std::fs::read(dir.path().join("pq/e.parquet"))?;
    let mut args = vec![
        "flatten", "-", "-o", "from-pq", "-f", "csv", "--entity", "e",
    ];
    args.extend_from_slice(FIXED);
    let r = run(dir.path(), &args, Some(&parquet))?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let main = std::fs::read_to_string(dir.path().join("from-pq/e.csv"))?;
    // The main table's rows read back as records, their ids and time among the
    // data (renamed, as the new metadata columns take the names).
    let data_id = outputs[0]
        .0
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').nth(1));
    assert_eq!(
        main.lines().take(2).collect::<Vec<_>>(),
        [
            "a,__extract_id_2,__extract_datetime_2,__extract_id,__extract_datetime".to_string(),
            format!(
                "1,{},2024-01-02 03:04:05.000000,{},2024-01-02 03:04:05.000000",
                data_id.unwrap_or_default(),
                data_id.unwrap_or_default()
            ),
        ]
    );
    assert_eq!(main.lines().count(), 3, "{main}");
    Ok(())
}

/// The report's bytes read are the input's bytes, brackets, separators and blanks
/// between records included, whatever the chunk size and executor.
#[test]
fn the_bytes_read_are_the_inputs_at_any_chunk_size() -> TestResult {
    let dir = tempfile::tempdir()?;
    let files = [
        ("a.json", "[{\"a\":1}, {\"a\":2},\n  {\"a\":3}] \n"),
        ("v.json", "{\"a\":1}\n{\"a\":2}  \n\n"),
        ("l.jsonl", "\u{feff}{\"a\":1}\n\n{\"a\":2}\r\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text)?;
        for chunk in ["4MiB", "1r", "8"] {
            for executor in ["sequential", "threads", "processes"] {
                let out = format!("out-{name}-{chunk}-{executor}");
                let args = [
                    "flatten",
                    name,
                    "-o",
                    &out,
                    "-q",
                    "--chunk-size",
                    chunk,
                    "--executor",
                    executor,
                    "--report",
                    "r.json",
                ];
                let r = run(dir.path(), &args, None)?;
                assert_eq!(r.code, 0, "{out}: {}", r.stderr);
                let report: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json"))?)?;
                assert_eq!(report["bytes_read"], text.len(), "{out}");
            }
        }
    }
    Ok(())
}

/// Inputs without records were read too: the report counts their bytes (a JSON
/// array without elements, a CSV header, blank lines, a Parquet file without rows,
/// standard input), as the progress does.
#[test]
fn the_bytes_read_count_inputs_without_records() -> TestResult {
    let dir = tempfile::tempdir()?;
    let report = |args: &[&str],
                  stdin: Option<&[u8]>|
     -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let mut all = args.to_vec();
        all.extend(["-q", "--force", "--report", "r.json"]);
        let r = run(dir.path(), &all, stdin)?;
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        Ok(serde_json::from_str(&std::fs::read_to_string(
            dir.path().join("r.json"),
        )?)?)
    };
    let files = [
        ("e.json", "[]"),
        ("s.json", "[ ]\n\n"),
        ("h.csv", "a,b\n"),
        ("b.jsonl", "\n\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text)?;
        for executor in ["sequential", "threads", "processes"] {
            let r = report(
                &["flatten", name, "-o", "out", "--executor", executor],
                None,
            )?;
            assert_eq!(r["records"], 0, "{name} {executor}");
            assert_eq!(r["bytes_read"], text.len(), "{name} {executor}");
        }
    }
    // With records before and after, the bytes are every input's.
    std::fs::write(dir.path().join("r.jsonl"), "{\"a\":1}\n")?;
    let r = report(
        &["flatten", "e.json", "r.jsonl", "h.csv", "-o", "out"],
        None,
    )?;
    assert_eq!(
        (&r["records"], &r["bytes_read"]),
        (&1.into(), &(2 + 8 + 4).into())
    );
    // Standard input, and a Parquet file without rows (the output of `[]`).
    let r = report(
        &[
            "flatten",
            "-",
            "--input-format",
            "json",
            "-e",
            "e",
            "-o",
            "out",
        ],
        Some(b"[ ]\n"),
    )?;
    assert_eq!(r["bytes_read"], 4);
    report(&["flatten", "e.json", "-o", "pq", "-f", "parquet"], None)?;
    let parquet = dir.path().join("pq").join("e.parquet");
    let size = std::fs::metadata(&parquet)?.len();
    for executor in ["sequential", "threads"] {
        let args = [
            "flatten",
            "pq/e.parquet",
            "-o",
            "out",
            "--executor",
            executor,
        ];
        let r = report(&args, None)?;
        assert_eq!(
            (&r["records"], &r["bytes_read"]),
            (&0.into(), &size.into()),
            "{executor}"
        );
    }
    let args = [
        "flatten",
        "-",
        "--input-format",
        "parquet",
        "-e",
        "p",
        "-o",
        "out",
    ];
    let r = report(&args, Some(&std::fs::read(&parquet)?))?;
    assert_eq!((&r["records"], &r["bytes_read"]), (&0.into(), &size.into()));
    // A Parquet file with rows, on standard input too.
    report(&["flatten", "r.jsonl", "-o", "pq", "-f", "parquet"], None)?;
    let parquet = std::fs::read(dir.path().join("pq").join("r.parquet"))?;
    let r = report(&args, Some(&parquet))?;
    assert_eq!(
        (&r["records"], &r["bytes_read"]),
        (&1.into(), &parquet.len().into())
    );
    Ok(())
}

/// Content-hash ids hash a record with its nulls, whatever the input format: a
/// Parquet row or a CSV row with null cells gets the id of the same JSON record.
#[test]
fn content_hash_ids_count_null_cells_in_every_format() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("ch.jsonl"),
        "{\"a\":1,\"n\":null}\n{\"a\":2,\"n\":null}\n",
    )?;
    std::fs::write(dir.path().join("ch.csv"), "a,n\n1,\n2,\n")?;
    let args = [
        "flatten", "ch.jsonl", "-o", "pq", "-f", "parquet", "--typed",
    ];
    let r = run(
        dir.path(),
        &[
            &args[..],
            &["--keep-nulls", "--no-id-column", "--no-time-column"],
        ]
        .concat(),
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ids = |input: &str, executor: &str| -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let args = [
            "flatten",
            input,
            "-e",
            "ch",
            "-o",
            "out",
            "-f",
            "jsonl",
            "--force",
            "--id-strategy",
            "content-hash",
            "--executor",
            executor,
        ];
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{input}: {}", r.stderr);
        let text = std::fs::read_to_string(dir.path().join("out").join("ch.jsonl"))?;
        let mut ids = Vec::new();
        for line in text.lines() {
            let row: serde_json::Value = serde_json::from_str(line)?;
            ids.push(row["__extract_id"].as_str().unwrap_or_default().to_string());
        }
        Ok(ids)
    };
    let want = ids("ch.jsonl", "sequential")?;
    assert_eq!(want.len(), 2);
    for input in ["pq/ch.parquet", "ch.csv"] {
        for executor in ["sequential", "threads", "processes"] {
            assert_eq!(ids(input, executor)?, want, "{input} {executor}");
        }
    }
    Ok(())
}

#[test]
fn a_run_with_force_replaces_files_named_up_to_the_limit() -> TestResult {
    // A table whose file name is cut to the limit: the earlier run's file is moved
    // aside under a hidden name that fits the file system's too, and replaced.
    let dir = tempfile::tempdir()?;
    let key = "k".repeat(300);
    std::fs::write(
        dir.path().join("long.jsonl"),
        format!("{{\"{key}\":[{{\"a\":1}}],\"x\":1}}\n"),
    )?;
    let mut seen = Vec::new();
    for round in 0..2 {
        let args = [
            "flatten",
            "long.jsonl",
            "-o",
            "out",
            "-f",
            "csv",
            "--force",
            "--quiet",
        ];
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "round {round}: {}", r.stderr);
        // Two tables, nothing hidden left beside them.
        let names = names(&dir.path().join("out"))?;
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names.iter().any(|n| n.len() == 244 && n.ends_with(".csv")),
            "{names:?}"
        );
        seen.push(names);
    }
    assert_eq!(seen[0], seen[1]);
    Ok(())
}
