//! Usage errors, missing inputs, existing outputs, bad data: messages and exit codes.

use crate::support::*;

#[test]
fn bad_arguments_exit_2_with_usage() -> TestResult {
    let dir = tempfile::tempdir()?;
    let r = run(dir.path(), &["flatten", "x.jsonl"], None)?;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--output <DIR>"), "{}", r.stderr);
    let r = run(
        dir.path(),
        &["flatten", "x.jsonl", "-o", "o", "--array-mode", "sideways"],
        None,
    )?;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("invalid value 'sideways'"),
        "{}",
        r.stderr
    );
    let r = run(dir.path(), &["flatten", "-", "-o", "o"], Some(b"{}"))?;
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: reading standard input needs an entity name\nhint: pass --entity NAME\n"
    );
    std::fs::write(dir.path().join("x.jsonl"), "{}\n")?;
    let r = run(
        dir.path(),
        &["flatten", "x.jsonl", "-o", "o", "--id-field", "nope"],
        None,
    )?;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("error: --id-field \"nope\" is not PATTERN=FIELD"),
        "{}",
        r.stderr
    );
    let r = run(
        dir.path(),
        &["flatten", "x.jsonl", "-o", "o", "--separator", ""],
        None,
    )?;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (2, "error: --separator must not be empty\n")
    );
    // Configuration errors name the option as it is written on the command line.
    for (args, expected) in [
        (
            &["--nesting-limit", "0"][..],
            "error: --nesting-limit must be between 1 and 1048576, got 0\n",
        ),
        (
            &["--max-depth", "0"],
            "error: --max-depth must be at least 1, got 0\nhint: a value larger than \
             --nesting-limit or 1,024 counts as the smaller of the two\n",
        ),
        (
            &["--no-time-column", "--time-column", "t"],
            "error: the argument '--no-time-column' cannot be used with '--time-column <NAME>'\n\n\
             Usage: transmogrify flatten --output <DIR> --no-time-column <INPUT>...\n\n\
             For more information, try '--help'.\n",
        ),
        (
            &["-j", "0"],
            "error: --workers must be between 1 and 1024, got 0\n",
        ),
        (
            &["-j", "100000"],
            "error: --workers must be between 1 and 1024, got 100000\n",
        ),
        (
            &["--id-column", ""],
            "error: --id-column must not be empty\nhint: --no-id-column leaves the column out\n",
        ),
        (
            &["--id-column", "k", "--time-column", "k"],
            "error: --id-column and --time-column both name the column \"k\"; \
             metadata columns need distinct names\n",
        ),
        (
            &["-f", "csv", "--output-delimiter", "\""],
            "error: --output-delimiter cannot be a quote or a line break\n",
        ),
    ] {
        let mut all = vec!["flatten", "x.jsonl", "-o", "o3"];
        all.extend_from_slice(args);
        let r = run(dir.path(), &all, None)?;
        assert_eq!((r.code, r.stderr.as_str()), (2, expected), "{args:?}");
        assert!(!dir.path().join("o3").exists(), "{args:?}");
    }
    // A depth limit above what is kept counts as the most that is: no error.
    let r = run(
        dir.path(),
        &[
            "flatten",
            "x.jsonl",
            "-o",
            "deep",
            "--max-depth",
            "2000",
            "--nesting-limit",
            "2000",
            "--quiet",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        dir.path(),
        &["flatten", "x.jsonl", "-o", "o", "-f", "xlsx"],
        None,
    )?;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no writer for format \"xlsx\""),
        "{}",
        r.stderr
    );
    // Standard output takes no tables, and `<(command)` names no data set.
    let r = run(dir.path(), &["flatten", "x.jsonl", "-o", "-"], None)?;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            2,
            "error: -o - names no directory: the tables are files, and standard output \
             takes none\nhint: name a directory (a directory called - is ./-)\n"
        )
    );
    assert!(!dir.path().join("-").exists());
    let r = run(
        dir.path(),
        &["flatten", "/dev/fd/0", "-o", "o4"],
        Some(b"{}"),
    )?;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            2,
            "error: /dev/fd/0 is a pipe, whose name is no data set's\nhint: pass --entity NAME\n"
        )
    );
    let r = run(
        dir.path(),
        &["flatten", "x.jsonl", "-o", "o2", "--chunk-size", "lots"],
        None,
    )?;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--chunk-size \"lots\" is not a size"),
        "{}",
        r.stderr
    );
    Ok(())
}

#[test]
fn help_and_version_exit_0() -> TestResult {
    let dir = tempfile::tempdir()?;
    let r = run(dir.path(), &["--help"], None)?;
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("Examples:") && r.stdout.contains("Exit codes:"),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), &["flatten", "--help"], None)?;
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("--on-error <ON_ERROR>"), "{}", r.stdout);
    let r = run(dir.path(), &["--version"], None)?;
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, concat!("transmogrify ", env!("CARGO_PKG_VERSION")))
    );
    Ok(())
}

#[test]
fn a_missing_input_exits_3() -> TestResult {
    let dir = tempfile::tempdir()?;
    let r = run(dir.path(), &["flatten", "missing.jsonl", "-o", "out"], None)?;
    assert_eq!(r.code, 3);
    assert_eq!(
        r.stderr,
        "error: missing.jsonl: no such file\nhint: check the path; use `-` to read standard input\n"
    );
    assert!(!dir.path().join("out").exists());
    // A path that cannot be looked at is not said to be missing: the system's
    // reason is given (as for a directory without permission to search).
    std::fs::write(dir.path().join("x.jsonl"), "{}\n")?;
    let r = run(
        dir.path(),
        &["flatten", "x.jsonl/y.jsonl", "-o", "out"],
        None,
    )?;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (3, "error: x.jsonl/y.jsonl: Not a directory (os error 20)\n")
    );
    Ok(())
}

#[test]
fn an_existing_output_needs_force() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a.jsonl"), "{\"x\":1}\n")?;
    std::fs::create_dir(dir.path().join("out"))?;
    std::fs::write(dir.path().join("out/keep.txt"), "mine")?;
    let r = run(dir.path(), &["flatten", "a.jsonl", "-o", "out", "-q"], None)?;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            3,
            "error: out: the output directory is not empty\nhint: pass --force to write \
             into it anyway, or choose another directory\n"
        )
    );
    assert_eq!(names(&dir.path().join("out"))?, ["keep.txt"]);
    let r = run(
        dir.path(),
        &["flatten", "a.jsonl", "-o", "out", "-q", "--force"],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(names(&dir.path().join("out"))?, ["a.parquet", "keep.txt"]);
    Ok(())
}

#[test]
fn a_forced_run_that_cannot_name_a_file_leaves_the_earlier_set_whole() -> TestResult {
    // An earlier run's three tables, then a directory where one of them was: the
    // forced run fails naming it, before any file of the earlier set is replaced.
    let dir = tempfile::tempdir()?;
    let input = "{\"a\": 1, \"orders\": [{\"b\": 2, \"items\": [{\"c\": 3}]}]}\n";
    std::fs::write(dir.path().join("s.jsonl"), input)?;
    let args = [
        "flatten", "s.jsonl", "-o", "out", "-f", "csv", "-q", "--force",
    ];
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("out");
    let tables = ["s.csv", "s_orders.csv", "s_orders_items.csv"];
    let earlier: Vec<String> = tables
        .iter()
        .map(|t| std::fs::read_to_string(out.join(t)))
        .collect::<Result<_, _>>()?;
    std::fs::remove_file(out.join("s_orders.csv"))?;
    std::fs::create_dir(out.join("s_orders.csv"))?;
    let r = run(dir.path(), &args, None)?;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            3,
            "error: out/s_orders.csv: a directory is where this output file goes\n"
        )
    );
    assert_eq!(names(&out)?, tables);
    for (table, text) in tables.iter().zip(&earlier) {
        if *table != "s_orders.csv" {
            assert_eq!(&std::fs::read_to_string(out.join(table))?, text, "{table}");
        }
    }
    // Once it can, the forced run replaces the set, and nothing of the earlier one
    // is left beside it.
    std::fs::remove_dir(out.join("s_orders.csv"))?;
    std::fs::write(out.join("s_orders.csv"), &earlier[1])?;
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(names(&out)?, tables);
    Ok(())
}

const BAD: &str = "{\"a\":1}\n{\"a\":2,\"b\":[1,}\n\n{\"a\":3}\n[4]\n";

#[test]
fn bad_json_in_strict_mode_exits_1_with_the_position() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("bad.jsonl"), BAD)?;
    let r = run(
        dir.path(),
        &["flatten", "bad.jsonl", "-o", "out", "-f", "csv"],
        None,
    )?;
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "error: bad.jsonl: line 2, column 15 (byte 22, record 1): invalid JSON: expected a JSON value, found '}' near `{\"a\":2,\"b\":[1,}`\n\
         hint: use --on-error skip to write bad records to the errors table and carry on\n"
    );
    // Nothing that looks finished is left behind.
    let left: Vec<String> = left_behind(&dir.path().join("out"))?
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    Ok(())
}

#[test]
fn bad_json_in_skip_mode_keeps_the_good_records() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("bad.jsonl"), BAD)?;
    let mut args = vec![
        "flatten",
        "bad.jsonl",
        "-o",
        "out",
        "-f",
        "csv",
        "--on-error",
        "skip",
    ];
    args.extend_from_slice(&FIXED[..4]);
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("\nwarning: 2 bad records skipped; see the bad_errors table\n"),
        "{}",
        r.stderr
    );
    // A warning, shown when quiet too.
    let mut quiet = args.clone();
    quiet.extend(["--force", "--quiet", "--report", "r.json"]);
    let r = run(dir.path(), &quiet, None)?;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            0,
            "warning: 2 bad records skipped; see the bad_errors table\n"
        )
    );
    // The report has it with the other warnings.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json"))?)?;
    assert_eq!(
        report["warnings"],
        serde_json::json!(["2 bad records skipped; see the bad_errors table"])
    );
    let main = std::fs::read_to_string(dir.path().join("out/bad.csv"))?;
    let rows: Vec<&str> = main
        .lines()
        .map(|l| l.split(',').next().unwrap_or(""))
        .collect();
    assert_eq!(rows, ["a", "1", "3"]);
    let errors = std::fs::read_to_string(dir.path().join("out/bad_errors.csv"))?;
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(
        lines[0],
        "source,ordinal,line,column,byte_offset,message,excerpt,raw,raw_truncated"
    );
    assert!(lines[1].starts_with("bad.jsonl,1,2,15,22,"), "{}", lines[1]);
    assert_eq!(
        lines[2],
        "bad.jsonl,3,5,1,33,\"a record must be a JSON object, found an array\",[4],[4],false"
    );
    assert_eq!(lines.len(), 3);
    Ok(())
}

#[test]
fn an_array_called_errors_keeps_its_table_and_bad_records_go_beside_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = "{\"id\":1,\"errors\":[{\"code\":\"E1\"}]}\n{\"id\":2,\"x\":tru}\n";
    std::fs::write(dir.path().join("api.jsonl"), input)?;
    let mut args = vec![
        "flatten",
        "api.jsonl",
        "-o",
        "out",
        "-f",
        "csv",
        "--on-error",
        "skip",
        "--dictionary",
        "--report",
        "report.json",
    ];
    args.extend_from_slice(&FIXED[..4]);
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("1 bad record skipped; see the api_errors_2 table"),
        "{}",
        r.stderr
    );
    let out = dir.path().join("out");
    assert_eq!(
        names(&out)?,
        [
            "_schema.json",
            "api.csv",
            "api_errors.csv",
            "api_errors_2.csv"
        ]
    );
    let data = std::fs::read_to_string(out.join("api_errors.csv"))?;
    assert!(data.starts_with("code,__extract_id,"), "{data}");
    let errors = std::fs::read_to_string(out.join("api_errors_2.csv"))?;
    assert!(
        errors
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("api.jsonl,1,2,"))
    );
    let dictionary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("_schema.json"))?)?;
    assert_eq!(dictionary["tables"][1]["name"], "api_errors");
    assert_eq!(dictionary["errors"]["name"], "api_errors_2");
    assert_eq!(dictionary["errors"]["file"], "api_errors_2.csv");
    assert_eq!(dictionary["errors"]["rows"], 1);
    assert_eq!(dictionary["errors"]["columns"][3]["name"], "column");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json"))?)?;
    let tables: Vec<&str> = report["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(tables, ["api", "api_errors", "api_errors_2"]);
    Ok(())
}

#[test]
fn file_names_made_alike_do_not_depend_on_record_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (a, b) = ("{\"a/b\":[{\"x\":1}]}\n", "{\"a_b\":[{\"y\":2}]}\n");
    for (name, text) in [("k1", format!("{a}{b}")), ("k2", format!("{b}{a}"))] {
        std::fs::write(dir.path().join(format!("{name}.jsonl")), text)?;
        let input = format!("{name}.jsonl");
        let mut args = vec!["flatten", &input, "-o", name, "-f", "csv", "--entity", "k"];
        args.extend_from_slice(FIXED);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let out = dir.path().join(name);
        assert_eq!(names(&out)?, ["k.csv", "k_a_b.csv", "k_a_b_2.csv"]);
        // `k_a_b` is already a file name and keeps it; `k_a/b` gets the `_2`.
        let plain = std::fs::read_to_string(out.join("k_a_b.csv"))?;
        assert!(plain.starts_with("y,"), "{name}: {plain}");
        let made = std::fs::read_to_string(out.join("k_a_b_2.csv"))?;
        assert!(made.starts_with("x,"), "{name}: {made}");
    }
    // A table called `_schema` leaves the data dictionary its file.
    std::fs::write(dir.path().join("one.jsonl"), "{\"a\":1}\n")?;
    let mut args = vec![
        "flatten",
        "one.jsonl",
        "-o",
        "dict",
        "-f",
        "json",
        "--entity",
        "_schema",
        "--dictionary",
    ];
    args.extend_from_slice(FIXED);
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("dict");
    assert_eq!(names(&out)?, ["_schema.json", "_schema_2.json"]);
    let table = std::fs::read_to_string(out.join("_schema_2.json"))?;
    assert!(table.starts_with("[\n{\"a\":\"1\","), "{table}");
    let dictionary = std::fs::read_to_string(out.join("_schema.json"))?;
    assert!(
        dictionary.contains("\"file\": \"_schema_2.json\""),
        "{dictionary}"
    );
    Ok(())
}

#[test]
fn tables_with_names_too_long_for_a_file_name_get_cut_file_names() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Two keys of 300 characters alike in their first 250: `a_<key>` is 302.
    let (x, y) = (
        "k".repeat(250) + &"x".repeat(50),
        "k".repeat(250) + &"y".repeat(50),
    );
    std::fs::write(
        dir.path().join("a.jsonl"),
        format!("{{\"{x}\":[{{\"v\":1}}],\"{y}\":[{{\"v\":2}}]}}\n"),
    )?;
    let stem = format!("a_{}", "k".repeat(238));
    for format in ["csv", "parquet"] {
        let r = run(
            dir.path(),
            &["flatten", "a.jsonl", "-o", format, "-f", format, "-q"],
            None,
        )?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            names(&dir.path().join(format))?,
            [
                format!("a.{format}"),
                format!("{stem}.{format}"),
                format!("{stem}_2.{format}")
            ]
        );
    }
    let csv = |name: &str| std::fs::read_to_string(dir.path().join("csv").join(name));
    assert!(csv(&format!("{stem}.csv"))?.starts_with("v,__extract_id"));
    assert!(csv(&format!("{stem}.csv"))?.contains("\n1,"));
    assert!(csv(&format!("{stem}_2.csv"))?.contains("\n2,"));
    Ok(())
}

#[test]
fn a_parquet_file_that_makes_the_decoder_panic_is_a_data_error_in_one_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let bad = format!(
        "{}/../transmogrify-io/tests/data/bad_chunk_offset.parquet",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::copy(bad, dir.path().join("bad.parquet"))?;
    for executor in ["sequential", "threads", "processes"] {
        let r = run(
            dir.path(),
            &[
                "flatten",
                "bad.parquet",
                "-o",
                "out",
                "--executor",
                executor,
                "-j",
                if executor == "sequential" { "1" } else { "2" },
            ],
            None,
        )?;
        assert_eq!(r.code, 1, "{executor}: {}", r.stderr);
        assert_eq!(
            r.stderr,
            "error: bad.parquet: rows 0-11: corrupt or unreadable Parquet: column start and length should not be negative\n",
            "{executor}"
        );
    }
    Ok(())
}

#[test]
fn a_json_path_for_jsonl_input_is_a_usage_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("a.jsonl"),
        "{\"data\":{\"items\":[{\"x\":1}]}}\n",
    )?;
    for executor in ["sequential", "threads", "processes"] {
        // Not bad data: a usage error in skip mode too, and no output directory left.
        for mode in ["strict", "skip"] {
            let r = run(
                dir.path(),
                &[
                    "flatten",
                    "a.jsonl",
                    "-o",
                    "out",
                    "--json-path",
                    "data.items",
                    "--executor",
                    executor,
                    "--on-error",
                    mode,
                ],
                None,
            )?;
            assert_eq!(r.code, 2, "{executor} {mode}: {}", r.stderr);
            assert_eq!(
                r.stderr,
                "error: invalid option json_path: it picks an array inside JSON input, and a.jsonl is JSONL input\n",
                "{executor} {mode}"
            );
            assert!(!dir.path().join("out").exists(), "{executor} {mode}");
        }
    }
    Ok(())
}

#[test]
fn broken_structure_under_a_json_path_ends_the_input_in_skip_mode_too_with_its_row() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (text, error) in [
        (
            r#"{"data":{"items":[{"a":1} {"a":2},{"a":3}]}}"#,
            "error: w.json: line 1, column 27 (byte 26, record 1): invalid JSON: expected ',' or ']', found '{' near `\":{\"items\":[{\"a\":1} {\"a\":2},{\"a\":3}]}}`",
        ),
        (
            r#"{"data":{"items":[{"a":1},{"a":2}]}} xyz"#,
            "error: w.json: line 1, column 38 (byte 37, record 2): invalid JSON: trailing characters after the value near `[{\"a\":1},{\"a\":2}]}} xyz`",
        ),
    ] {
        std::fs::write(dir.path().join("w.json"), text)?;
        for executor in ["sequential", "threads", "processes"] {
            let r = run(
                dir.path(),
                &[
                    "flatten",
                    "w.json",
                    "-o",
                    "out",
                    "-f",
                    "csv",
                    "--force",
                    "--json-path",
                    "data.items",
                    "--on-error",
                    "skip",
                    "--no-id-column",
                    "--no-time-column",
                    "--executor",
                    executor,
                ],
                None,
            )?;
            // Like a broken top-level array: the records before it are written, and
            // the run fails.
            assert_eq!(r.code, 1, "{executor}: {}", r.stderr);
            assert!(r.stderr.contains(error), "{executor}: {}", r.stderr);
            let rows = std::fs::read_to_string(dir.path().join("out/w.csv"))?;
            let want = if text.contains("xyz") {
                "a\n1\n2\n"
            } else {
                "a\n1\n"
            };
            assert_eq!(rows, want, "{executor}");
            // The errors table says where reading stopped.
            let errors = std::fs::read_to_string(dir.path().join("out/w_errors.csv"))?;
            let place = if text.contains("xyz") {
                "w.json,2,1,38,37,"
            } else {
                "w.json,1,1,27,26,"
            };
            assert_eq!(errors.lines().count(), 2, "{executor}: {errors}");
            assert!(
                errors
                    .lines()
                    .nth(1)
                    .is_some_and(|row| row.starts_with(place)),
                "{executor}: {errors}"
            );
        }
    }
    Ok(())
}

#[test]
fn a_bad_element_of_a_json_array_is_a_bad_record_with_every_executor() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Bad inside, brackets intact: the array goes on after it.
    let text = "[{\"a\":1},\n {\"a\": tru, \"s\": \"x\u{e9}\"},\n {\"a\":\"\\q\"}, [4], {\"a\":5}]";
    std::fs::write(dir.path().join("arr.json"), text)?;
    let mut outputs = Vec::new();
    for (executor, chunk) in [
        ("sequential", "8MiB"),
        ("threads", "8MiB"),
        ("threads", "10"),
        ("processes", "10"),
    ] {
        let out = format!("out-{executor}-{chunk}");
        let mut args = vec![
            "flatten",
            "arr.json",
            "-o",
            &out,
            "-f",
            "csv",
            "--on-error",
            "skip",
            "--executor",
            executor,
            "--chunk-size",
            chunk,
        ];
        args.extend_from_slice(&FIXED[..4]);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{executor} {chunk}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("3 bad records skipped; see the arr_errors table"),
            "{}",
            r.stderr
        );
        let main = std::fs::read_to_string(dir.path().join(&out).join("arr.csv"))?;
        let errors = std::fs::read_to_string(dir.path().join(&out).join("arr_errors.csv"))?;
        outputs.push((main, errors));
    }
    let (main, errors) = &outputs[0];
    let firsts: Vec<&str> = main
        .lines()
        .map(|l| l.split(',').next().unwrap_or(""))
        .collect();
    assert_eq!(firsts, ["a", "1", "5"]);
    assert_eq!(
        errors.lines().collect::<Vec<_>>(),
        [
            "source,ordinal,line,column,byte_offset,message,excerpt,raw,raw_truncated",
            "arr.json,1,2,8,17,\"invalid JSON: invalid literal `tru`, expected `true`\",\"{\"\"a\"\": tru, \"\"s\"\": \"\"x\u{e9}\"\"}\",\"{\"\"a\"\": tru, \"\"s\"\": \"\"x\u{e9}\"\"}\",false",
            "arr.json,2,3,8,42,invalid JSON: invalid escape sequence in string,\"{\"\"a\"\":\"\"\\q\"\"}\",\"{\"\"a\"\":\"\"\\q\"\"}\",false",
            "arr.json,3,3,14,48,\"a record must be a JSON object, found an array\",[4],[4],false",
        ]
    );
    // Every executor and chunk size writes the same bytes.
    for other in &outputs[1..] {
        assert_eq!(other, &outputs[0]);
    }
    // Strict: the first bad element stops the run, named where it is.
    let r = run(dir.path(), &["flatten", "arr.json", "-o", "strict"], None)?;
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.lines().next(),
        Some(
            "error: arr.json: line 2, column 8 (byte 17, record 1): invalid JSON: invalid literal `tru`, expected `true` near `{\"a\": tru, \"s\": \"x\u{e9}\"}`"
        )
    );
    Ok(())
}

#[test]
fn a_byte_order_mark_counts_in_byte_offsets_not_in_columns() -> TestResult {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let files: [(&str, &[u8], &str); 4] = [
        (
            "b.json",
            b"\xef\xbb\xbf[{\"a\":1},\n{\"a\":-}]\n",
            "line 2, column 6 (byte 18, record 1)",
        ),
        (
            "c.json",
            b"\xef\xbb\xbf[{\"a\":-}]",
            "line 1, column 7 (byte 9, record 0)",
        ),
        (
            "b.jsonl",
            b"\xef\xbb\xbf{\"a\":-}\n",
            "line 1, column 6 (byte 8, record 0)",
        ),
        (
            "d.json",
            b"\xef\xbb\xbf{\"d\":[{\"a\":-}]}",
            "line 1, column 12 (byte 14, record 0)",
        ),
    ];
    for (file, text, position) in files {
        std::fs::write(dir.path().join(file), text)?;
        // The same bytes gzipped are read by the streaming readers.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text)?;
        std::fs::write(dir.path().join(format!("{file}.gz")), gz.finish()?)?;
        for name in [file.to_string(), format!("{file}.gz")] {
            for executor in ["sequential", "threads", "processes"] {
                let mut args = vec![
                    "flatten",
                    name.as_str(),
                    "-o",
                    "out",
                    "--force",
                    "--executor",
                    executor,
                    "--chunk-size",
                    "1",
                ];
                if file == "d.json" {
                    args.extend(["--json-path", "d"]);
                }
                let r = run(dir.path(), &args, None)?;
                assert_eq!(r.code, 1, "{executor} {name}: {}", r.stderr);
                assert!(
                    r.stderr.starts_with(&format!(
                        "error: {name}: {position}: invalid JSON: malformed number"
                    )),
                    "{executor} {name}: {}",
                    r.stderr
                );
            }
        }
    }
    Ok(())
}

#[test]
fn the_hint_says_whether_skip_mode_gets_past_the_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("s.json"), r#"[{"a":1} {"a":2}]"#)?;
    std::fs::write(
        dir.path().join("s.jsonl"),
        "{\"a\":1}\n{\"a\":\n{\"a\":2}\n",
    )?;
    for (file, hint) in [
        (
            "s.json",
            "hint: the input cannot be read past this point (skip mode stops here too, after the records before it)\n",
        ),
        (
            "s.jsonl",
            "hint: use --on-error skip to write bad records to the errors table and carry on\n",
        ),
    ] {
        let r = run(dir.path(), &["flatten", file, "-o", "out", "--force"], None)?;
        assert_eq!(r.code, 1, "{file}: {}", r.stderr);
        assert!(r.stderr.ends_with(hint), "{file}: {}", r.stderr);
    }
    Ok(())
}

/// A record over a limit is an error whose hint names the option that raises the
/// limit, as well as skip mode; for a large record, `--json-path` too.
#[test]
fn a_record_over_a_limit_is_hinted_at_the_option_that_raises_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let long = format!("{{\"a\":1}}\n{{\"a\":\"{}\"}}\n", "x".repeat(200));
    std::fs::write(dir.path().join("long.jsonl"), long)?;
    let items = vec!["{\"a\":1}"; 40].join(",");
    std::fs::write(
        dir.path().join("wrap.json"),
        format!("{{\"data\":[{items}]}}"),
    )?;
    std::fs::write(
        dir.path().join("deep.jsonl"),
        "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}\n",
    )?;
    // Two columns of values at most: a third is one too many.
    std::fs::write(
        dir.path().join("wide.jsonl"),
        "{\"a\":1}\n{\"b\":1,\"c\":2}\n",
    )?;
    let wide = "hint: raise --max-columns to take it, or use --on-error skip to write it to \
                the errors table and carry on\n";
    let large = "hint: a record is held whole in memory: raise --max-record-size to take it, \
                 or use --on-error skip to write it to the errors table and carry on (records \
                 in an array inside one JSON object are read one by one with --json-path)\n";
    let deep = "hint: raise --nesting-limit to take it, or use --on-error skip to write it to \
                the errors table and carry on\n";
    let cases = [
        (
            "wide.jsonl",
            "processes",
            "--max-columns",
            "2",
            "line 2, column 1 (byte 8, record 1): table wide would get more than the limit of 2 columns",
            wide,
        ),
        (
            "long.jsonl",
            "sequential",
            "--max-record-size",
            "100",
            "line 2, column 1 (byte 8, record 1): the record is 208 bytes, larger than the limit of 100 bytes",
            large,
        ),
        (
            "long.jsonl",
            "threads",
            "--max-record-size",
            "100",
            "line 2, column 1 (byte 8, record 1): the record is 208 bytes, larger than the limit of 100 bytes",
            large,
        ),
        (
            "wrap.json",
            "sequential",
            "--max-record-size",
            "100",
            "line 1, column 1 (byte 0, record 0): the record is 330 bytes, larger than the limit of 100 bytes",
            large,
        ),
        (
            "deep.jsonl",
            "threads",
            "--nesting-limit",
            "3",
            "line 1, column 16 (byte 15, record 0): the record nests deeper than the limit of 3 levels",
            deep,
        ),
    ];
    for (file, executor, option, limit, error, hint) in cases {
        let args = [
            "flatten",
            file,
            "-o",
            "out",
            "--force",
            "--executor",
            executor,
            option,
            limit,
        ];
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 1, "{file}: {}", r.stderr);
        // Workers each check the column limit against their own parts: a run of
        // several that meets it flattens again on one thread, and says so.
        let stderr = match r.stderr.split_once('\n') {
            Some((warning, rest)) if option == "--max-columns" && executor != "sequential" => {
                assert_eq!(
                    warning,
                    format!(
                        "warning: table wide would get more than the limit of {limit} columns \
                         (--max-columns) in this run of several workers; flattening again on \
                         one thread, in input order, to tell which records pass it"
                    )
                );
                rest
            }
            _ => &r.stderr,
        };
        let (first, rest) = stderr.split_once('\n').unwrap_or_default();
        assert!(
            first.starts_with(&format!("error: {file}: {error}")),
            "{file}: {stderr}"
        );
        assert_eq!(rest, hint, "{file} on {executor}");
    }
    Ok(())
}

/// `n` JSONL records of 60 keys each (`r<record>_<k>`), no key in two of them.
fn sixty_keys_each(n: usize) -> String {
    (0..n)
        .map(|r| {
            let keys: Vec<String> = (0..60).map(|k| format!("\"r{r}_{k}\":{k}")).collect();
            format!("{{{}}}\n", keys.join(","))
        })
        .collect()
}

/// A file written: its name and bytes.
type Written = (String, Vec<u8>);

/// The files in directory `out`, by name, with their bytes.
fn written(out: &std::path::Path) -> Result<Vec<Written>, Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    for name in names(out)? {
        files.push((name.clone(), std::fs::read(out.join(&name))?));
    }
    Ok(files)
}

#[test]
fn a_column_limit_that_workers_pass_together_gives_the_sequential_runs_files() -> TestResult {
    // Three records of 60 keys each, at most 100 columns: the second and the third
    // are refused, in parts of a record each too (a table's columns count over the
    // run); workers given about a record each pass the limit only together, and the
    // run is flattened again in input order, to the same files and the same error.
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("mc.jsonl"), sixty_keys_each(3))?;
    let files = |out: &str| written(&dir.path().join(out));
    for mode in ["strict", "skip"] {
        let mut first: Option<(i32, String, Vec<Written>)> = None;
        for executor in [
            &["--executor", "sequential"][..],
            &["--executor", "sequential", "--chunk-size", "1r"],
            &["--executor", "threads", "-j", "2", "--chunk-size", "1r"],
            &["--executor", "processes", "-j", "2", "--chunk-size", "1k"],
            // One worker counts the columns of every part in order, as one thread.
            &["--executor", "threads", "-j", "1", "--chunk-size", "1r"],
            &["--executor", "processes", "-j", "1", "--chunk-size", "1r"],
        ] {
            let out = format!("out-{mode}-{}", executor.join("_"));
            let mut args = vec![
                "flatten",
                "mc.jsonl",
                "-o",
                &out,
                "-f",
                "csv",
                "--max-columns",
                "100",
                "--id-strategy",
                "positional",
                "--extract-time",
                "2024-01-01 00:00:00",
                "--on-error",
                mode,
            ];
            args.extend_from_slice(executor);
            let report = format!("{out}.report.json");
            args.extend(["--report", &report]);
            let r = run(dir.path(), &args, None)?;
            let error = r
                .stderr
                .lines()
                .find(|l| l.starts_with("error: "))
                .unwrap_or_default()
                .to_string();
            let written = if r.code == 0 {
                files(&out)?
            } else {
                Vec::new()
            };
            // The report holds the warnings told, the run's flattening again too
            // (a failed run's with its error).
            let report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.path().join(&report))?)?;
            let told: Vec<String> = r
                .stderr
                .lines()
                .filter_map(|l| l.strip_prefix("warning: "))
                .filter(|l| l.contains("flattening again"))
                .map(str::to_string)
                .collect();
            let reported: Vec<String> = report["warnings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| w.as_str())
                .filter(|w| w.contains("flattening again"))
                .map(str::to_string)
                .collect();
            assert_eq!(reported, told, "{mode} {executor:?}");
            if r.code != 0 {
                assert_eq!(report["exit_code"], r.code, "{mode} {executor:?}");
            }
            match &first {
                None => {
                    if mode == "strict" {
                        assert_eq!(r.code, 1, "{}", r.stderr);
                        assert!(
                            error.starts_with(
                                "error: mc.jsonl: line 2, column 1 (byte 642, record 1): table mc \
                                 would get more than the limit of 100 columns"
                            ),
                            "{}",
                            r.stderr
                        );
                    } else {
                        assert_eq!(r.code, 0, "{}", r.stderr);
                        let names: Vec<&str> = written.iter().map(|(n, _)| n.as_str()).collect();
                        assert_eq!(names, ["mc.csv", "mc_errors.csv"]);
                        // Records 1 and 2 are refused: either would give the table
                        // 120 columns.
                        let main = String::from_utf8_lossy(&written[0].1).into_owned();
                        assert_eq!(main.lines().count(), 2, "{main}");
                        let errors = String::from_utf8_lossy(&written[1].1).into_owned();
                        assert_eq!(errors.lines().count(), 3, "{errors}");
                        assert!(errors.contains(",2,3,1,1284,"), "{errors}");
                        assert!(errors.contains(",1,2,1,642,"), "{errors}");
                    }
                    first = Some((r.code, error, written));
                }
                Some((code, first_error, first_files)) => {
                    assert_eq!(r.code, *code, "{mode} {executor:?}: {}", r.stderr);
                    assert_eq!(&error, first_error, "{mode} {executor:?}");
                    assert!(&written == first_files, "{mode} {executor:?}: files differ");
                    assert_eq!(
                        r.stderr
                            .contains("flattening again on one thread, in input order"),
                        executor[1] != "sequential" && executor[3] != "1",
                        "{mode} {executor:?}: {}",
                        r.stderr
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn a_column_limit_on_standard_input_is_kept_on_one_thread() -> TestResult {
    // Standard input cannot be read again in input order: with --max-columns given,
    // it is flattened on one thread from the start, with a warning, to the files and
    // errors of a sequential run of the same records from a file.
    let dir = tempfile::tempdir()?;
    let alone = {
        let keys: Vec<String> = (0..120).map(|k| format!("\"k{k}\":{k}")).collect();
        format!("{{\"a\":1}}\n{{{}}}\n{{\"a\":2}}\n", keys.join(","))
    };
    let files = |out: &str| written(&dir.path().join(out));
    for (n, input) in [sixty_keys_each(3), alone].into_iter().enumerate() {
        std::fs::write(dir.path().join("s.jsonl"), &input)?;
        for mode in ["strict", "skip"] {
            let args = |source: &'static str, out: &str, executor: &'static str| {
                let mut args: Vec<String> = [
                    "flatten",
                    source,
                    "--entity",
                    "s",
                    "-o",
                    out,
                    "-f",
                    "csv",
                    "--max-columns",
                    "100",
                    "--executor",
                    executor,
                    "-j",
                    "2",
                    "--chunk-size",
                    "1k",
                    "--on-error",
                    mode,
                    "--id-strategy",
                    "positional",
                    "--extract-time",
                    "2024-01-01 00:00:00",
                    "-q",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                if executor == "sequential" {
                    args.retain(|a| a != "-j" && a != "2");
                }
                args
            };
            let file_out = format!("file-{n}-{mode}");
            let argv = args("s.jsonl", &file_out, "sequential");
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let want = run(dir.path(), &argv, None)?;
            for executor in ["threads", "processes"] {
                let out = format!("stdin-{n}-{mode}-{executor}");
                let argv = args("-", &out, executor);
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                let r = run(dir.path(), &argv, Some(input.as_bytes()))?;
                assert_eq!(r.code, want.code, "{n} {mode} {executor}: {}", r.stderr);
                let warning = "warning: --max-columns with standard input or a pipe: flattened \
                               on one thread, as which records pass the limit is decided in \
                               input order and the input is read once\n";
                assert_eq!(
                    r.stderr.replace("<stdin>:", "s.jsonl:"),
                    format!("{warning}{}", want.stderr),
                    "{n} {mode} {executor}"
                );
                if r.code == 0 {
                    let got = files(&out)?;
                    let wanted = files(&file_out)?;
                    assert_eq!(got.len(), wanted.len());
                    for ((name, bytes), (_, want_bytes)) in got.iter().zip(&wanted) {
                        let text = String::from_utf8_lossy(bytes).replace("<stdin>,", "s.jsonl,");
                        assert_eq!(text, String::from_utf8_lossy(want_bytes), "{name}");
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn the_default_column_limit_passed_by_workers_on_standard_input_is_an_error() -> TestResult {
    // 1,750 records of 60 keys each, no key in two: 105,000 columns, past the
    // default limit of 100,000 only together. Standard input cannot be read again
    // in input order: the run fails, says how to find the records, and leaves no
    // output.
    let dir = tempfile::tempdir()?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "-",
            "--entity",
            "s",
            "-o",
            "out",
            "-f",
            "csv",
            "--executor",
            "threads",
            "-j",
            "2",
            "--chunk-size",
            "64k",
        ],
        Some(sixty_keys_each(1750).as_bytes()),
    )?;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "error: table s would get more than the limit of 100000 columns in a run of several \
         workers, each of which counts the columns of its own parts: which records pass the \
         limit is decided in input order, by the sequential executor\nhint: standard input and \
         pipes are read once: run with --executor sequential to find the records past the \
         limit, or raise --max-columns\n"
    );
    assert!(!dir.path().join("out").exists());
    Ok(())
}

#[test]
fn a_nesting_limit_below_the_depth_limit_needs_no_depth_limit() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("n.jsonl"),
        "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}\n",
    )?;
    let r = run(
        dir.path(),
        &["flatten", "n.jsonl", "-o", "out", "--nesting-limit", "3"],
        None,
    )?;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(
            "error: n.jsonl: line 1, column 16 (byte 15, record 0): the record nests deeper than the limit of 3 levels"
        ),
        "{}",
        r.stderr
    );
    let r = run(dir.path(), &["schema", "n.jsonl", "--sample", "0"], None)?;
    assert_eq!(r.code, 2, "{}", r.stderr);
    Ok(())
}

#[test]
fn standard_input_is_named_alike_in_every_format() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (format, input, first_error) in [
        ("jsonl", "{\"a\":1}\n{\"a\":tru}\n", "<stdin>,1,2,6,13,"),
        ("csv", "a,b\n1,2\n3\n", "<stdin>,1,3,1,8,"),
    ] {
        let out = format!("out-{format}");
        let args = [
            "flatten",
            "-",
            "--input-format",
            format,
            "--entity",
            "s",
            "-o",
            &out,
            "-f",
            "csv",
            "--on-error",
            "skip",
            "--quiet",
        ];
        let r = run(dir.path(), &args, Some(input.as_bytes()))?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let errors = std::fs::read_to_string(dir.path().join(&out).join("s_errors.csv"))?;
        let line = errors.lines().nth(1).unwrap_or_default();
        assert!(line.starts_with(first_error), "{format}: {line}");
        // The same without `--on-error skip`, into another directory.
        let mut strict: Vec<&str> = [&args[..10], &["--quiet"]].concat();
        strict[7] = "strict-out";
        let r = run(dir.path(), &strict, Some(input.as_bytes()))?;
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.starts_with("error: <stdin>: line "),
            "{}",
            r.stderr
        );
    }
    Ok(())
}

/// A file that says it is empty but holds text (Linux's `/proc` files) is read as
/// a stream is: its text is not taken for nothing.
#[cfg(target_os = "linux")]
#[test]
fn a_file_that_says_it_is_empty_is_read_all_the_same() -> TestResult {
    let dir = tempfile::tempdir()?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "/proc/self/status",
            "-o",
            "out",
            "--input-format",
            "jsonl",
        ],
        None,
    )?;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(
            "error: /proc/self/status: line 1, column 1 (byte 0, record 0): invalid JSON"
        ),
        "{}",
        r.stderr
    );
    Ok(())
}

/// A line longer than the largest record is read past, never held whole: a bad
/// record at its own line, the same from a file read in ranges, in records, or on
/// standard input, on every executor.
#[test]
fn lines_longer_than_the_largest_record_are_bad_records_read_past() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut text = String::from("\u{feff}");
    text.push_str(&format!(
        "{{\"id\":0,\"pad\":\"{}\"}}\n",
        "a".repeat(1_500_000)
    ));
    for i in 1..300 {
        match i {
            7 => text.push_str(&format!(
                "{{\"id\":{i},\"pad\":\"{}\"}}\r\n",
                "x".repeat(1_500_000)
            )),
            100 => text.push_str(&format!("{}\n", " ".repeat(1_600_000))),
            _ => text.push_str(&format!("{{\"id\":{i}}}\n")),
        }
    }
    text.push_str(&format!(
        "{{\"id\":300,\"pad\":\"{}\"}}",
        "y".repeat(1_700_000)
    ));
    std::fs::write(dir.path().join("long.jsonl"), &text)?;
    let fixed = [
        "-q",
        "-f",
        "csv",
        "--on-error",
        "skip",
        "--max-record-size",
        "1MiB",
        "--entity",
        "long",
        "--id-strategy",
        "positional",
        "--extract-time",
        "2024-01-01 00:00:00",
    ];
    let mut outputs = Vec::new();
    for executor in ["sequential", "threads", "processes"] {
        for (input, chunk) in [
            ("long.jsonl", "4MiB"),
            ("long.jsonl", "1k"),
            ("long.jsonl", "50r"),
            ("-", "4MiB"),
        ] {
            let out = format!("out-{executor}-{chunk}-{}", input.len());
            let mut args = vec![
                "flatten",
                input,
                "-o",
                &out,
                "--executor",
                executor,
                "--chunk-size",
                chunk,
            ];
            args.extend(fixed);
            let stdin = (input == "-").then_some(text.as_bytes());
            let r = run(dir.path(), &args, stdin)?;
            assert_eq!(r.code, 0, "{out}: {}", r.stderr);
            let errors =
                std::fs::read_to_string(dir.path().join(format!("{out}/long_errors.csv")))?;
            let main = std::fs::read_to_string(dir.path().join(format!("{out}/long.csv")))?;
            outputs.push((out, errors.replace("<stdin>,", "long.jsonl,"), main));
        }
    }
    let (_, errors, main) = &outputs[0];
    // Each is the record's line, column 1, its byte offset (after the byte order
    // mark), its size without the line end; the blank line is no record.
    let rows: Vec<String> = errors
        .lines()
        .skip(1)
        .map(|row| row.splitn(8, ',').take(7).collect::<Vec<_>>().join(","))
        .collect();
    // The byte order mark, the first line and six short ones.
    let seventh = 3 + 1_500_018 + 6 * 9;
    assert_eq!(
        rows,
        [
            "long.jsonl,0,1,1,3,\"the record is 1500017 bytes, larger than the limit of 1048576 bytes\""
                .to_string(),
            format!(
                "long.jsonl,7,8,1,{seventh},\"the record is 1500017 bytes, larger than the limit of 1048576 bytes\""
            ),
            format!(
                "long.jsonl,299,301,1,{},\"the record is 1700019 bytes, larger than the limit of 1048576 bytes\"",
                text.len() - 1_700_019
            ),
        ]
    );
    assert!(
        errors
            .lines()
            .all(|row| row == errors.lines().next().unwrap_or_default() || row.ends_with(",true"))
    );
    assert_eq!(main.lines().count(), 1 + 297);
    for (out, other_errors, other_main) in &outputs[1..] {
        assert_eq!(other_errors, errors, "{out}");
        assert_eq!(other_main, main, "{out}");
    }
    Ok(())
}

/// A JSON array's element (or one of concatenated values) longer than the largest
/// record is read past, never held whole: a bad record at its place, the same at
/// any chunk size, on standard input and on every executor; one whose brackets do
/// not match ends the input there.
#[test]
fn json_values_longer_than_the_largest_record_are_bad_records_read_past() -> TestResult {
    let dir = tempfile::tempdir()?;
    let values = [
        "{\"id\":0}".to_string(),
        format!("{{\"id\":1,\"pad\":\"{}\"}}", "x".repeat(1_500_000)),
        "{\"id\":2,\"n\":[1,2]}".to_string(),
        format!("{{\"id\":3,\"pad\":[\"{}\"]}}", "y".repeat(1_200_000)),
        "{\"id\":4}".to_string(),
    ];
    let array = format!("[\n {}\n]\n", values.join(",\n "));
    let concatenated = values.join("\n") + "\n";
    let fixed = [
        "-q",
        "-f",
        "csv",
        "--on-error",
        "skip",
        "--max-record-size",
        "1MiB",
        "--entity",
        "a",
        "--id-strategy",
        "positional",
        "--extract-time",
        "2024-01-01 00:00:00",
    ];
    for (name, text, places) in [
        ("a.json", &array, ["1,3,2,14", "3,5,2,1500055"]),
        ("v.json", &concatenated, ["1,2,1,9", "3,4,1,1500046"]),
    ] {
        std::fs::write(dir.path().join(name), text)?;
        let mut outputs = Vec::new();
        for executor in ["sequential", "threads", "processes"] {
            for (input, chunk) in [(name, "4MiB"), (name, "1r"), (name, "10"), ("-", "4MiB")] {
                let out = format!("out-{name}-{executor}-{chunk}-{}", input.len());
                let mut args = vec!["flatten", input, "-o", &out, "--executor", executor];
                args.extend(["--chunk-size", chunk, "--input-format", "json"]);
                args.extend(fixed);
                let stdin = (input == "-").then_some(text.as_bytes());
                let r = run(dir.path(), &args, stdin)?;
                assert_eq!(r.code, 0, "{out}: {}", r.stderr);
                let read = |table: &str| std::fs::read_to_string(dir.path().join(&out).join(table));
                let errors = read("a_errors.csv")?.replace("<stdin>,", &format!("{name},"));
                let main = read("a.csv")?;
                outputs.push((out.clone(), errors, main));
            }
        }
        let (_, errors, main) = &outputs[0];
        let rows: Vec<String> = errors
            .lines()
            .skip(1)
            .map(|row| row.splitn(8, ',').take(7).collect::<Vec<_>>().join(","))
            .collect();
        assert_eq!(
            rows,
            [
                format!(
                    "{name},{},\"the record is 1500017 bytes, larger than the limit of 1048576 bytes\"",
                    places[0]
                ),
                format!(
                    "{name},{},\"the record is 1200019 bytes, larger than the limit of 1048576 bytes\"",
                    places[1]
                ),
            ]
        );
        assert_eq!(main.lines().count(), 1 + 3, "{main}");
        for (out, other_errors, other_main) in &outputs[1..] {
            assert_eq!(other_errors, errors, "{out}");
            assert_eq!(other_main, main, "{out}");
        }
    }
    // Brackets that do not match, far past the limit: the input ends there.
    let broken = format!(
        "[{{\"id\":0}},{{\"id\":1,\"pad\":[\"{}\"}}]",
        "z".repeat(3_000_000)
    );
    std::fs::write(dir.path().join("b.json"), &broken)?;
    let mut args = vec!["flatten", "b.json", "-o", "broken"];
    args.extend(fixed);
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 1, "{}", r.stderr);
    let at = broken.len() - 2;
    assert!(
        r.stderr.starts_with(&format!(
            "error: b.json: line 1, column {} (byte {at}, record 1): invalid JSON: expected ',' or ']', found '}}'",
            at + 1
        )),
        "{}",
        r.stderr
    );
    Ok(())
}

/// A CSV header that cannot be read fails the run in any mode, with where it went
/// wrong and a hint that fits: a header whose quote never closes (which took every
/// row into the header), or a name that is not UTF-8. A quote option of a line
/// break is refused by its own name.
#[test]
fn a_csv_quote_that_never_closes_stops_the_input_alike_on_every_executor() -> TestResult {
    // 200 rows (ranges of 1 KiB on two workers), then a quote that takes the rest
    // of the file: the rows before it are written, the errors table says where
    // reading stopped, and the run fails, in skip mode too.
    let dir = tempfile::tempdir()?;
    let mut csv = String::from("id,name\n");
    for i in 0..200 {
        csv.push_str(&format!("{i},row {i}\n"));
    }
    let quote_at = csv.len() + 4;
    csv.push_str("200,\"open\n201,a\n202,b\n");
    std::fs::write(dir.path().join("q.csv"), &csv)?;
    let error = format!(
        "error: q.csv: line 202, column 5 (byte {quote_at}, record 200): unterminated quoted \
         field: the quote opened here is never closed, so its field took the rest of the \
         input (2 more lines), and no later row can be read near `200,\"open 201,a 202,`\n"
    );
    let hint = "hint: the input cannot be read past this point (skip mode stops here too, \
                after the records before it)\n";
    let mut first: Option<(String, String)> = None;
    for executor in ["sequential", "threads", "processes"] {
        for mode in ["strict", "skip"] {
            let out = format!("out-{executor}-{mode}");
            let args = [
                "flatten",
                "q.csv",
                "-o",
                &out,
                "-f",
                "csv",
                "-q",
                "--on-error",
                mode,
                "--executor",
                executor,
                "-j",
                if executor == "sequential" { "1" } else { "2" },
                "--chunk-size",
                "1k",
                "--id-strategy",
                "positional",
                "--extract-time",
                "2026-01-01T00:00:00Z",
                "--report",
                "report.json",
            ];
            let r = run(dir.path(), &args, None)?;
            assert_eq!(r.code, 1, "{executor} {mode}: {}", r.stderr);
            if mode == "skip" {
                // The part named failed holds the quote; every byte counts as read.
                let report: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(dir.path().join("report.json"))?)?;
                let failed = &report["chunks_failed"][0];
                let (start, end) = (failed["start"].as_u64(), failed["end"].as_u64());
                assert!(
                    start.is_some_and(|s| s <= quote_at as u64) && end == Some(csv.len() as u64),
                    "{executor}: {failed}"
                );
                assert_eq!(report["bytes_read"].as_u64(), Some(csv.len() as u64));
            }
            if mode == "strict" {
                let told = format!("{error}{hint}");
                assert!(r.stderr.ends_with(&told), "{executor}: {}", r.stderr);
                continue;
            }
            // The error, then the warning of the bad record it made.
            let told = format!("{error}warning: 1 bad record skipped; see the q_errors table\n");
            assert!(r.stderr.ends_with(&told), "{executor}: {}", r.stderr);
            let main = std::fs::read_to_string(dir.path().join(&out).join("q.csv"))?;
            assert_eq!(main.lines().count(), 201, "{executor}");
            assert!(
                main.lines()
                    .last()
                    .is_some_and(|l| l.starts_with("199,row 199,"))
            );
            // The row at the quote, its raw text the rest of the file as written.
            let errors = std::fs::read_to_string(dir.path().join(&out).join("q_errors.csv"))?;
            assert_eq!(
                errors,
                format!(
                    "source,ordinal,line,column,byte_offset,message,excerpt,raw,raw_truncated\n\
                     q.csv,200,202,5,{quote_at},\"unterminated quoted field: the quote opened \
                     here is never closed, so its field took the rest of the input (2 more \
                     lines), and no later row can be read\",\"200,\"\"open 201,a 202,\",\
                     \"200,\"\"open\n201,a\n202,b\",false\n"
                ),
                "{executor}"
            );
            match &first {
                None => first = Some((main, errors)),
                Some(seen) => assert_eq!(seen, &(main, errors), "{executor}"),
            }
        }
    }
    Ok(())
}

#[test]
fn a_later_inputs_bad_csv_header_is_an_errors_row_of_its_bytes_as_written() -> TestResult {
    // The first input's records are kept; the second's header cannot be read, and
    // its row in the errors table keeps the header as written (for a quote that
    // never closes, the rest of the file), whatever the executor.
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a.csv"), "a,b\n1,2\n")?;
    let long = format!("x,\"{}\nq\",c", "h".repeat(3000));
    let cases: [(&str, Vec<u8>, &str, &str); 4] = [
        (
            "open",
            b"a,\"b\r\nx\n5,6\n".to_vec(),
            "1,3,2,unterminated quoted field in the header: the quote opened here is never \
             closed, and the header took the rest of the input",
            "a,\"b\r\nx\n5,6\n",
        ),
        (
            "stray",
            b"a,\"b\"x,c\n1,2,3\n".to_vec(),
            "1,6,5,text after a field's closing quote in the header (a quote inside a quoted \
             field is written twice)",
            "a,\"b\"x,c",
        ),
        (
            "bytes",
            b"x,\"a\nb\xff\",c\n1,2,3\n".to_vec(),
            "2,2,6,the header's field 2 is not valid UTF-8",
            "x,\"a\nb\u{fffd}\",c",
        ),
        (
            "long",
            format!("{long}\n1,2,3\n").into_bytes(),
            "1,1,0,the record is 3008 bytes, larger than the limit of 1000 bytes",
            &long,
        ),
    ];
    for (name, bytes, error, raw) in cases {
        std::fs::write(dir.path().join(format!("{name}.csv")), &bytes)?;
        let input = format!("{name}.csv");
        let mut first = None;
        for executor in ["sequential", "threads", "processes"] {
            let out = format!("out-{name}-{executor}");
            let mut args = vec!["flatten", "a.csv", &input, "-e", "m", "-o", &out];
            args.extend(["-f", "jsonl", "--on-error", "skip", "--executor", executor]);
            args.extend(["--max-record-size", "1k", "--chunk-size", "4"]);
            args.extend(FIXED);
            let r = run(dir.path(), &args, None)?;
            assert_eq!(r.code, 1, "{name} {executor}: {}", r.stderr);
            let main = std::fs::read_to_string(dir.path().join(&out).join("m.jsonl"))?;
            assert_eq!(main.lines().count(), 1, "{name} {executor}");
            let errors = std::fs::read_to_string(dir.path().join(&out).join("m_errors.jsonl"))?;
            let row: serde_json::Value = serde_json::from_str(&errors)?;
            let told = format!(
                "{},{},{},{}",
                row["line"],
                row["column"],
                row["byte_offset"],
                row["message"].as_str().unwrap_or("")
            );
            assert_eq!(told, error, "{name} {executor}");
            assert_eq!(row["source"], input.as_str(), "{name} {executor}");
            assert_eq!(row["ordinal"], 1, "{name} {executor}");
            assert_eq!(row["raw"], raw, "{name} {executor}");
            assert_eq!(row["raw_truncated"], false, "{name} {executor}");
            match &first {
                None => first = Some(errors),
                Some(seen) => assert_eq!(seen, &errors, "{name} {executor}"),
            }
        }
    }
    Ok(())
}

#[test]
fn a_bad_csv_header_fails_the_run_in_any_mode() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("open.csv"), "a,\"b\n1,2\n3,4\n")?;
    std::fs::write(dir.path().join("bytes.csv"), b"a,\xff\n1,2\n")?;
    std::fs::write(dir.path().join("stray.csv"), "x,\"a\"b,c\n1,2,3\n")?;
    let open = "error: open.csv: line 1, column 3 (byte 2, record 0): unterminated quoted \
                field in the header: the quote opened here is never closed, and the header \
                took the rest of the input near `a,\"b 1,2 3,4`\n";
    for mode in ["strict", "skip"] {
        for args in [&["-j", "1"][..], &["-j", "2", "--chunk-size", "4"]] {
            let mut all = vec!["flatten", "open.csv", "-o", "out", "-f", "jsonl"];
            all.extend(["--force", "--on-error", mode]);
            all.extend(args);
            let r = run(dir.path(), &all, None)?;
            assert_eq!(r.code, 1, "{mode} {args:?}: {}", r.stderr);
            // Told before the run starts, in either mode: nothing is written.
            assert!(r.stderr.starts_with(open), "{mode} {args:?}: {}", r.stderr);
            assert!(!dir.path().join("out").join("open.jsonl").exists());
            assert!(!dir.path().join("out").join("open_errors.jsonl").exists());
        }
        // A header longer than the largest record, told before the run too.
        std::fs::write(dir.path().join("long.csv"), "abcdefghijkl,m\n1,2\n")?;
        let args = [
            "flatten",
            "long.csv",
            "-o",
            "out",
            "--force",
            "--on-error",
            mode,
        ];
        let r = run(
            dir.path(),
            &[&args[..], &["--max-record-size", "10"]].concat(),
            None,
        )?;
        assert_eq!(
            (r.code, r.stderr.as_str()),
            (
                1,
                "error: long.csv: line 1, column 1 (byte 0, record 0): the record is 14 bytes, \
                 larger than the limit of 10 bytes near `abcdefghijkl,m`\n\
                 hint: the header names the columns, and no row is read without it (in any \
                 --on-error mode); --csv-no-header reads it as a row\n"
            ),
            "{mode}"
        );
        assert!(!dir.path().join("out").join("long.csv").exists());
        let args = [
            "flatten",
            "bytes.csv",
            "-o",
            "out",
            "--force",
            "--on-error",
            mode,
        ];
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 1);
        assert_eq!(
            r.stderr,
            "error: bytes.csv: line 1, column 3 (byte 2, record 0): the header's field 2 is \
             not valid UTF-8 near `a,\u{fffd}`\n\
             hint: the header names the columns, and no row is read without it (in any \
             --on-error mode); --csv-no-header reads it as a row\n"
        );
        // `"a"b` in the header: refused as in a row, not read as `ab`.
        let args = [
            "flatten",
            "stray.csv",
            "-o",
            "out",
            "--force",
            "--on-error",
            mode,
        ];
        let r = run(dir.path(), &args, None)?;
        assert_eq!(
            (r.code, r.stderr.as_str()),
            (
                1,
                "error: stray.csv: line 1, column 6 (byte 5, record 0): text after a field's \
                 closing quote in the header (a quote inside a quoted field is written \
                 twice) near `x,\"a\"b,c`\n\
                 hint: the header names the columns, and no row is read without it (in any \
                 --on-error mode); --csv-no-header reads it as a row\n"
            ),
            "{mode}"
        );
        assert!(!dir.path().join("out").join("stray.csv").exists());
    }
    let r = run(
        dir.path(),
        &["flatten", "bytes.csv", "-o", "out", "--csv-quote", "\n"],
        None,
    )?;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            2,
            "error: invalid option csv quote: a line break cannot quote fields\n"
        )
    );
    Ok(())
}

#[test]
fn a_report_that_cannot_be_a_file_is_refused_before_the_run() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("one.jsonl"), "{\"a\": 1}\n")?;
    std::fs::create_dir(dir.path().join("reports"))?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "one.jsonl",
            "-o",
            "out",
            "-q",
            "--report",
            "reports",
        ],
        None,
    )?;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            2,
            "error: --report reports is a directory\n\
             hint: give the report a file name, e.g. run-report.json\n"
        )
    );
    assert!(!dir.path().join("out").exists());
    // A device is written as it is, not replaced.
    let r = run(
        dir.path(),
        &[
            "flatten",
            "one.jsonl",
            "-o",
            "out",
            "-q",
            "--report",
            "/dev/null",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::metadata("/dev/null").is_ok_and(|m| !m.is_file()));
    // The output directory, not made yet, is a directory all the same.
    let r = run(
        dir.path(),
        &[
            "flatten",
            "one.jsonl",
            "-o",
            "new",
            "-q",
            "--report",
            "new/",
        ],
        None,
    )?;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!dir.path().join("new").exists());
    // Through a link, the file it names is written, and keeps its permissions.
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(dir.path().join("kept.json"), "old")?;
    std::fs::set_permissions(
        dir.path().join("kept.json"),
        PermissionsExt::from_mode(0o600),
    )?;
    std::os::unix::fs::symlink("kept.json", dir.path().join("link.json"))?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "one.jsonl",
            "-o",
            "out3",
            "-q",
            "--report",
            "link.json",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let link = std::fs::symlink_metadata(dir.path().join("link.json"))?;
    assert!(link.file_type().is_symlink());
    let kept = std::fs::metadata(dir.path().join("kept.json"))?;
    assert_eq!(kept.permissions().mode() & 0o777, 0o600);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("kept.json"))?)?;
    assert_eq!(report["records"], 1, "{report}");
    // A file is written whole, nothing left beside it.
    let r = run(
        dir.path(),
        &[
            "flatten",
            "one.jsonl",
            "-o",
            "out2",
            "-q",
            "--report",
            "reports/run.json",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(names(&dir.path().join("reports"))?, ["run.json"]);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        dir.path().join("reports/run.json"),
    )?)?;
    assert_eq!(report["records"], 1, "{report}");
    Ok(())
}

#[test]
fn an_output_that_cannot_be_used_is_named_for_what_it_is() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("data"))?;
    std::fs::write(dir.path().join("data/a.jsonl"), "{\"a\": 1}\n")?;
    // The input directory as the output: its files are never inputs.
    let r = run(
        dir.path(),
        &["flatten", "data", "-o", "data", "-e", "x", "--force"],
        None,
    )?;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            2,
            "error: data: it is the output directory, whose files are never inputs\n\
             hint: write the tables to another directory (-o)\n"
        )
    );
    assert_eq!(names(&dir.path().join("data"))?, ["a.jsonl"]);
    // A link to nothing, given as it is, as a directory, on the way to one, or
    // through another link: the link, and where its chain ends.
    std::os::unix::fs::symlink("missing/out", dir.path().join("dangling"))?;
    std::os::unix::fs::symlink("dangling", dir.path().join("chain"))?;
    for output in ["dangling", "dangling/", "dangling/x", "chain", "chain/y"] {
        let r = run(dir.path(), &["flatten", "data", "-o", output, "-q"], None)?;
        let link = output.split('/').next().unwrap_or(output);
        let told = format!(
            "error: {link}: a link to missing/out, which does not exist (make it, or give \
             the directory's own path)\n"
        );
        assert_eq!((r.code, r.stderr.as_str()), (3, told.as_str()), "{output}");
    }
    Ok(())
}

#[test]
fn a_record_refused_for_a_child_table_it_makes_is_a_bad_record_on_every_executor() -> TestResult {
    // At most one column: records 1 and 2 would make `r_i` and `r_i_j` with two
    // columns each, tables that go again with the records that made them.
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("r.jsonl"),
        "{\"a\":1}\n{\"i\":[{\"a\":1,\"b\":1}]}\n{\"i\":[{\"j\":[{\"a\":1,\"b\":1}]}]}\n\
         {\"i\":[{\"a\":2}]}\n",
    )?;
    for executor in [
        &["--executor", "sequential"][..],
        &["--executor", "sequential", "--chunk-size", "1r"],
        &["--executor", "threads", "-j", "2", "--chunk-size", "1r"],
        &["--executor", "processes", "-j", "2", "--chunk-size", "1r"],
    ] {
        for mode in ["strict", "skip"] {
            let out = format!("out-{mode}-{}", executor.join("_"));
            let mut args = vec![
                "flatten",
                "r.jsonl",
                "-o",
                &out,
                "-f",
                "jsonl",
                "--max-columns",
                "1",
                "--on-error",
                mode,
            ];
            args.extend_from_slice(executor);
            let r = run(dir.path(), &args, None)?;
            if mode == "strict" {
                assert_eq!(r.code, 1, "{executor:?}: {}", r.stderr);
                let error = r.stderr.lines().find(|l| l.starts_with("error: "));
                assert_eq!(
                    error,
                    Some(
                        "error: r.jsonl: line 2, column 1 (byte 8, record 1): table r_i would \
                         get more than the limit of 1 columns near `{\"i\":[{\"a\":1,\"b\":1}]`"
                    ),
                    "{executor:?}: {}",
                    r.stderr
                );
                continue;
            }
            assert_eq!(r.code, 0, "{executor:?}: {}", r.stderr);
            let out = dir.path().join(&out);
            assert_eq!(
                names(&out)?,
                ["r.jsonl", "r_errors.jsonl", "r_i.jsonl"],
                "{executor:?}"
            );
            let errors = std::fs::read_to_string(out.join("r_errors.jsonl"))?;
            let kinds: Vec<String> = errors
                .lines()
                .map(|line| {
                    let row: serde_json::Value = serde_json::from_str(line)?;
                    Ok(row["message"].as_str().unwrap_or_default().to_string())
                })
                .collect::<Result<_, serde_json::Error>>()?;
            assert_eq!(
                kinds,
                [
                    "table r_i would get more than the limit of 1 columns",
                    "table r_i_j would get more than the limit of 1 columns",
                ],
                "{executor:?}: {errors}"
            );
            let children = std::fs::read_to_string(out.join("r_i.jsonl"))?;
            assert_eq!(children.lines().count(), 1, "{executor:?}: {children}");
            assert!(children.contains("\"a\":\"2\""), "{executor:?}: {children}");
        }
    }
    Ok(())
}

#[test]
fn a_csv_header_of_more_columns_than_the_limit_fails_the_run_in_any_mode() -> TestResult {
    // Its columns are all written, those of rows without a value too: five of them
    // cannot fit a limit of three, whatever the rows hold.
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("w.csv"), "a,b,c,d,e\n1,2,3,4,5\n1,,,,\n")?;
    for mode in ["strict", "skip"] {
        for executor in ["sequential", "threads", "processes"] {
            let args = [
                "flatten",
                "w.csv",
                "-o",
                "out",
                "--max-columns",
                "3",
                "--on-error",
                mode,
                "--executor",
                executor,
            ];
            let r = run(dir.path(), &args, None)?;
            assert_eq!(
                (r.code, r.stderr.as_str()),
                (
                    1,
                    "error: w.csv: the CSV header names 5 columns, more than the limit of 3 \
                     columns (--max-columns)\n\
                     hint: a header's columns are all written, with a value or without, so \
                     raise --max-columns to take them (in any --on-error mode)\n"
                ),
                "{mode} {executor}"
            );
            assert!(!dir.path().join("out").exists());
        }
    }
    // At the limit, the header is taken.
    let r = run(
        dir.path(),
        &["flatten", "w.csv", "-o", "out", "--max-columns", "5", "-q"],
        None,
    )?;
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    // Its columns count without values: a sixth from another input is one too many.
    std::fs::write(dir.path().join("f.csv"), "f\n6\n")?;
    for executor in ["sequential", "threads", "processes"] {
        let args = [
            "flatten",
            "w.csv",
            "f.csv",
            "-e",
            "w",
            "-o",
            "out",
            "--force",
            "-q",
            "-f",
            "csv",
            "--max-columns",
            "5",
            "--executor",
            executor,
        ];
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 1, "{executor}");
        let error = r.stderr.lines().find(|l| l.starts_with("error: "));
        assert!(
            error.is_some_and(|e| e.starts_with(
                "error: f.csv: line 2, column 1 (byte 2, record 2): table w would get more \
                 than the limit of 5 columns"
            )),
            "{executor}: {}",
            r.stderr
        );
    }
    Ok(())
}

#[test]
fn strict_mode_stops_at_a_record_on_standard_input_that_never_ends() -> TestResult {
    // A pipe that keeps writing a record past the size limit: strict mode fails at
    // the limit and does not wait for the record's end. The writer gives up after
    // 256 MiB, so a run that reads on to the end fails the test rather than hangs.
    let dir = tempfile::tempdir()?;
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "jsonl",
            b"{\"a\":1}\n{\"a\":\"",
            "line 2, column 1 (byte 8, record 1)",
        ),
        (
            "json",
            b"[{\"a\":1},\n {\"a\":\"",
            "line 2, column 2 (byte 11, record 1)",
        ),
        ("csv", b"a\n1\n\"", "line 3, column 1 (byte 4, record 1)"),
    ];
    for (format, head, at) in cases {
        for executor in [["sequential", "1"], ["threads", "2"], ["processes", "2"]] {
            let out = format!("o-{format}-{}", executor[0]);
            let mut child = std::process::Command::new(bin())
                .args(["flatten", "-", "-o", &out, "--entity", "s", "-f", "csv"])
                .args([
                    "--input-format",
                    format,
                    "--max-record-size",
                    "1MiB",
                    "--quiet",
                ])
                .args(["--executor", executor[0], "-j", executor[1]])
                .current_dir(dir.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()?;
            let mut pipe = child.stdin.take().ok_or("no stdin")?;
            let head = head.to_vec();
            let writer = std::thread::spawn(move || {
                use std::io::Write;
                let block = vec![b'x'; 64 * 1024];
                let mut written = head.len();
                if pipe.write_all(&head).is_err() {
                    return written;
                }
                while written < 256 << 20 && pipe.write_all(&block).is_ok() {
                    written += block.len();
                }
                written
            });
            let output = child.wait_with_output()?;
            let written = writer.join().map_err(|_| "the writer panicked")?;
            let stderr = String::from_utf8(output.stderr)?;
            let case = format!("{format} on {}", executor[0]);
            assert_eq!(output.status.code(), Some(1), "{case}: {stderr}");
            assert!(
                stderr.starts_with(&format!("error: <stdin>: {at}: the record runs past ")),
                "{case}: {stderr}"
            );
            assert!(
                stderr.contains("larger than the limit of 1048576 bytes (read no further)"),
                "{case}: {stderr}"
            );
            assert!(written < 64 << 20, "{case}: {written} bytes taken");
            assert!(!dir.path().join(&out).exists(), "{case}");
        }
    }
    Ok(())
}

#[test]
fn in_skip_mode_a_parquet_file_that_cannot_be_opened_is_a_row_of_the_errors_table() -> TestResult {
    // A footer that cannot be read and a file too small to have one: each input is
    // lost whole, and the errors table says so where its footer starts, between
    // the records of the inputs around it, on every executor.
    let dir = tempfile::tempdir()?;
    let mut footer = b"PAR1".to_vec();
    footer.extend_from_slice(&[0; 20]);
    footer.extend_from_slice(&5u32.to_le_bytes());
    footer.extend_from_slice(b"PAR1");
    std::fs::write(dir.path().join("f1.parquet"), footer)?;
    std::fs::write(dir.path().join("f2.parquet"), b"PAR1")?;
    std::fs::write(dir.path().join("two.jsonl"), "{\"a\":1}\n{\"a\":2}\n")?;
    let expected = "source,ordinal,line,column,byte_offset,message,excerpt,raw,raw_truncated\n\
        f1.parquet,2,1,1,19,footer (bytes 19-31): corrupt or unreadable Parquet: Parquet error: \
        Required field version is missing,,,false\n\
        f2.parquet,3,1,1,0,corrupt or unreadable Parquet: EOF: Parquet file too small. Size is 4 \
        but need 8,,,false\n";
    for executor in [["sequential", "1"], ["threads", "2"], ["processes", "2"]] {
        let out = format!("o-{}", executor[0]);
        let args = [
            "flatten",
            "two.jsonl",
            "f1.parquet",
            "f2.parquet",
            "two.jsonl",
            "-o",
            &out,
            "-f",
            "csv",
            "--on-error",
            "skip",
            "--entity",
            "m",
            "--quiet",
            "--executor",
            executor[0],
            "-j",
            executor[1],
        ];
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 1, "{}: {}", executor[0], r.stderr);
        assert!(
            r.stderr
                .contains("warning: 2 bad records skipped; see the m_errors table"),
            "{}: {}",
            executor[0],
            r.stderr
        );
        let errors = std::fs::read_to_string(dir.path().join(&out).join("m_errors.csv"))?;
        assert_eq!(errors, expected, "{}", executor[0]);
        let main = std::fs::read_to_string(dir.path().join(&out).join("m.csv"))?;
        let values: Vec<&str> = main.lines().skip(1).map(|l| &l[..1]).collect();
        assert_eq!(values, ["1", "2", "1", "2"], "{}", executor[0]);
    }
    Ok(())
}

#[test]
fn the_help_lists_every_exit_code() -> TestResult {
    let dir = tempfile::tempdir()?;
    for args in [&["--help"][..], &["flatten", "--help"]] {
        let r = run(dir.path(), args, None)?;
        assert_eq!(r.code, 0);
        assert!(
            r.stdout.contains(
                "Exit codes: 0 success, 1 data error (bad input in strict mode, failed chunks),\n\
                 2 usage or configuration error, 3 I/O error, 130 interrupted, 101 a bug (a panic)."
            ),
            "{args:?}: {}",
            r.stdout
        );
    }
    Ok(())
}
