//! Broken and hostile inputs: in strict mode the documented error and exit code, in
//! skip mode every good record kept and every bad one in the errors table.

use crate::support::*;

/// One bad JSONL line between good ones: `(name, line, expected message)`.
fn bad_lines() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    vec![
        (
            "truncated",
            b"{\"a\": [1, 2".to_vec(),
            "invalid JSON: unexpected end of input, expected ',' or ']'",
        ),
        (
            "trailing garbage",
            b"{\"a\": 1} xyz".to_vec(),
            "invalid JSON: trailing characters after the value",
        ),
        (
            "bad escape",
            br#"{"a": "\q"}"#.to_vec(),
            "invalid JSON: invalid escape sequence in string",
        ),
        (
            "lone surrogate",
            br#"{"a": "\udc00"}"#.to_vec(),
            "invalid JSON: lone surrogate in \\u escape",
        ),
        (
            "invalid utf-8",
            b"{\"a\": \"\xc3\x28\"}".to_vec(),
            "invalid JSON: invalid UTF-8",
        ),
        (
            "NaN",
            b"{\"a\": NaN}".to_vec(),
            "invalid JSON: expected a JSON value, found 'N'",
        ),
        (
            "Infinity",
            b"{\"a\": -Infinity}".to_vec(),
            "invalid JSON: malformed number",
        ),
        (
            "leading zero",
            b"{\"a\": 007}".to_vec(),
            "invalid JSON: number with a leading zero",
        ),
        (
            "control character",
            b"{\"a\": \"x\x01y\"}".to_vec(),
            "invalid JSON: control character in string (must be escaped)",
        ),
        (
            "deep nesting",
            deep.into_bytes(),
            "the record nests deeper than the limit of 1024 levels",
        ),
        (
            "not an object",
            b"\"just a string\"".to_vec(),
            "a record must be a JSON object, found a string",
        ),
    ]
}

#[test]
fn every_class_of_invalid_json_strict_and_skip() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (i, (name, bad, message)) in bad_lines().into_iter().enumerate() {
        let mut input = b"{\"id\":1}\n{\"id\":2}\n".to_vec();
        input.extend_from_slice(&bad);
        input.extend_from_slice(b"\n{\"id\":4}\n");
        let file = format!("case{i}.jsonl");
        std::fs::write(dir.path().join(&file), &input)?;
        let strict = run(
            dir.path(),
            &["flatten", &file, "-o", &format!("s{i}"), "-f", "csv", "-q"],
            None,
        )?;
        assert_eq!(strict.code, 1, "{name}: {}", strict.stderr);
        let first = strict.stderr.lines().next().unwrap_or("");
        // The position is the error's own: on line 3, inside the record that starts at
        // byte 18.
        assert!(
            first.starts_with(&format!("error: {file}: line 3, column ")),
            "{name}: {first}"
        );
        assert!(
            first.contains(&format!(", record 2): {message}")),
            "{name}: {first}"
        );
        let skip = run(
            dir.path(),
            &[
                "flatten",
                &file,
                "-o",
                &format!("k{i}"),
                "-f",
                "csv",
                "-q",
                "--on-error",
                "skip",
                "--no-id-column",
                "--no-time-column",
            ],
            None,
        )?;
        assert_eq!(skip.code, 0, "{name}: {}", skip.stderr);
        let stem = format!("case{i}");
        let main = std::fs::read_to_string(dir.path().join(format!("k{i}/{stem}.csv")))?;
        assert_eq!(main, "id\n1\n2\n4\n", "{name}");
        let errors = std::fs::read_to_string(dir.path().join(format!("k{i}/{stem}_errors.csv")))?;
        let row = errors.lines().nth(1).unwrap_or("");
        assert!(row.starts_with(&format!("{file},2,3,")), "{name}: {row}");
        assert!(row.contains(message), "{name}: {row}");
    }
    Ok(())
}

#[test]
fn edge_valid_json_is_accepted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let deep = format!("{}1{}", "{\"d\":".repeat(500), "}".repeat(500));
    let text = format!(
        "\u{feff}{{\"big\":123456789012345678901234567890,\"e\":-1.5E+300,\"z\":-0}}\n\
         \t{{ \"ws\" :\t[ 1 ,\t2 ] }}\r\n\
         {{\"deep\":{deep}}}\n\
         {{\"uni\":\"\\u00e9\\ud83d\\ude00 ok\"}}\n"
    );
    std::fs::write(dir.path().join("edge.jsonl"), text)?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "edge.jsonl",
            "-o",
            "out",
            "-f",
            "jsonl",
            "-q",
            "--no-id-column",
            "--no-time-column",
            "--max-depth",
            "3",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = std::fs::read_to_string(dir.path().join("out/edge.jsonl"))?;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4);
    // Every row carries every column (nulls where a record has none).
    assert_eq!(
        lines[0],
        r#"{"big":"123456789012345678901234567890","e":"-1.5E+300","z":"-0","ws":null,"deep_d_d":null,"uni":null}"#
    );
    assert!(lines[1].contains(r#""ws":"[1,2]""#), "{}", lines[1]);
    assert!(
        lines[2].contains(r#""deep_d_d":"{\"d\":{\"d\":"#),
        "{}",
        lines[2]
    );
    assert!(lines[3].contains(r#""uni":"é😀 ok""#), "{}", lines[3]);
    Ok(())
}

#[test]
fn a_100_mb_string_is_one_cell() -> TestResult {
    let dir = tempfile::tempdir()?;
    let big = "x".repeat(100 * 1024 * 1024);
    std::fs::write(
        dir.path().join("big.jsonl"),
        format!("{{\"s\":\"{big}\",\"n\":1}}\n{{\"n\":2}}\n"),
    )?;
    let r = run(
        dir.path(),
        &[
            "flatten",
            "big.jsonl",
            "-o",
            "out",
            "-f",
            "csv",
            "-q",
            "--no-id-column",
            "--no-time-column",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = std::fs::read(dir.path().join("out/big.csv"))?;
    assert_eq!(out.len(), "s,n\n".len() + big.len() + ",1\n,2\n".len());
    Ok(())
}

#[test]
fn truncated_json_arrays_stop_with_the_position() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("t.json"),
        "[{\"a\":1},\n {\"a\":2},\n {\"a\":",
    )?;
    for mode in ["strict", "skip"] {
        let r = run(
            dir.path(),
            &["flatten", "t.json", "-o", mode, "-q", "--on-error", mode],
            None,
        )?;
        assert_eq!(r.code, 1, "{mode}");
        assert!(
            r.stderr.contains("t.json: line 3, column 7 (byte 26, record 2): invalid JSON: unexpected end of input"),
            "{mode}: {}",
            r.stderr
        );
    }
    Ok(())
}

/// In skip mode, JSON whose structure breaks (reading cannot go on past it) also
/// leaves its row in the errors table, where reading stopped, and counts as a bad
/// record: the same row at any chunk size and on every executor.
/// Input whose structure breaks ends with its row in the errors table: the raw text
/// is what was not read as records, from the bad record's start (or where the
/// error is, between records) to the end, as written; the same from a plain file
/// (chunked by the executors), a gzipped one (read through the JSON reader), on
/// every executor and chunk size.
#[test]
fn a_broken_structure_has_its_row_in_the_errors_table() -> TestResult {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let header = "source,ordinal,line,column,byte_offset,message,excerpt,raw,raw_truncated\n";
    let cases = [
        // A comma missing between records: from the error on.
        (
            "m",
            "[{\"a\":1},\n {\"a\":2} {\"a\":3},\n {\"a\":4}]",
            "2,2,10,19,\"invalid JSON: expected ',' or ']', found '{'\",\
             \"[{\"\"a\"\":1},  {\"\"a\"\":2} {\"\"a\"\":3},  {\"\"a\"\":4}]\",\
             \"{\"\"a\"\":3},\n {\"\"a\"\":4}]\",false\n",
        ),
        // Brackets that do not match inside a record: from the record's start on.
        (
            "b",
            "[{\"a\":1},\n {\"b\": [1}, {\"c\": 3}]",
            "1,2,10,19,\"invalid JSON: expected ',' or ']', found '}'\",\
             \"{\"\"b\"\": [1}, {\"\"c\"\": 3}]\",\
             \"{\"\"b\"\": [1}, {\"\"c\"\": 3}]\",false\n",
        ),
    ];
    for (stem, text, row) in cases {
        std::fs::write(dir.path().join(format!("{stem}.json")), text)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes())?;
        std::fs::write(dir.path().join(format!("{stem}.json.gz")), gz.finish()?)?;
        for file in [format!("{stem}.json"), format!("{stem}.json.gz")] {
            let expected = format!("{header}{file},{row}");
            for executor in ["sequential", "threads", "processes"] {
                for chunk in ["4MiB", "1r", "5"] {
                    let out = format!("out-{file}-{executor}-{chunk}");
                    let args = [
                        "flatten",
                        &file,
                        "-o",
                        &out,
                        "-q",
                        "-f",
                        "csv",
                        "--on-error",
                        "skip",
                        "--executor",
                        executor,
                        "--chunk-size",
                        chunk,
                        "--report",
                        "r.json",
                        "-e",
                        "t",
                    ];
                    let r = run(dir.path(), &args, None)?;
                    assert_eq!(r.code, 1, "{out}: {}", r.stderr);
                    let errors =
                        std::fs::read_to_string(dir.path().join(&out).join("t_errors.csv"))?;
                    assert_eq!(errors, expected, "{out}");
                    let main = std::fs::read_to_string(dir.path().join(&out).join("t.csv"))?;
                    let good = if stem == "m" { 2 } else { 1 };
                    assert_eq!(main.lines().count(), good + 1, "{out}: {main}");
                    let report: serde_json::Value =
                        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json"))?)?;
                    assert_eq!(
                        (&report["records"], &report["bad_records"]),
                        (&good.into(), &1.into()),
                        "{out}"
                    );
                }
            }
        }
    }
    Ok(())
}

/// An input that cannot be read past, after another input: its error numbers the
/// record as the errors table does, across the run's inputs.
#[test]
fn an_error_that_stops_a_later_input_numbers_its_record_across_the_run() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("a.jsonl"),
        "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n",
    )?;
    // The second element breaks the array (record 1 of its file, 4 of the run); the
    // header's quote never closes (record 0 of its file, 3 of the run).
    std::fs::write(dir.path().join("b.json"), "[{\"a\":4},{\"a\":5,\"b\":[1}]")?;
    std::fs::write(dir.path().join("c.csv"), "x,\"y\n1,2\n")?;
    for (second, line, ordinal) in [
        ("b.json", "line 1, column 23 (byte 22, record 4)", 4),
        ("c.csv", "line 1, column 3 (byte 2, record 3)", 3),
    ] {
        for executor in ["sequential", "threads", "processes"] {
            for mode in ["strict", "skip"] {
                let out = format!("out-{second}-{executor}-{mode}");
                let args = [
                    "flatten",
                    "a.jsonl",
                    second,
                    "-o",
                    &out,
                    "-q",
                    "-f",
                    "csv",
                    "--on-error",
                    mode,
                    "--executor",
                    executor,
                    "--workers",
                    if executor == "sequential" { "1" } else { "2" },
                    "-e",
                    "t",
                ];
                let r = run(dir.path(), &args, None)?;
                assert_eq!(r.code, 1, "{out}: {}", r.stderr);
                assert!(
                    r.stderr.starts_with(&format!("error: {second}: {line}: ")),
                    "{out}: {}",
                    r.stderr
                );
                if mode == "skip" {
                    let errors =
                        std::fs::read_to_string(dir.path().join(&out).join("t_errors.csv"))?;
                    let row = errors.lines().nth(1).unwrap_or_default();
                    assert!(
                        row.starts_with(&format!("{second},{ordinal},1,")),
                        "{out}: {errors}"
                    );
                }
            }
        }
    }
    Ok(())
}

/// An input that stops at a bad record, before another input with a bad record: a
/// strict run reports the first in input order on every executor, and the later
/// input's records are numbered after the one that stopped the first.
#[test]
fn an_input_that_stops_comes_before_the_errors_of_later_inputs() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("a.json"),
        "[{\"id\": 0}, {\"id\": 1}, {\"x\": [}, {\"id\": 3}]",
    )?;
    std::fs::write(dir.path().join("b.jsonl"), "{\"id\": tru}\n{\"id\": 5}\n")?;
    for executor in ["sequential", "threads", "processes"] {
        for chunk in ["4MiB", "3", "1r"] {
            for mode in ["strict", "skip"] {
                let out = format!("out-{executor}-{chunk}-{mode}");
                let args = [
                    "flatten",
                    "a.json",
                    "b.jsonl",
                    "-o",
                    &out,
                    "-q",
                    "-f",
                    "csv",
                    "-e",
                    "t",
                    "--on-error",
                    mode,
                    "--executor",
                    executor,
                    "--workers",
                    if executor == "sequential" { "1" } else { "2" },
                    "--chunk-size",
                    chunk,
                ];
                let r = run(dir.path(), &args, None)?;
                let case = format!("{out}: {}", r.stderr);
                assert_eq!(r.code, 1, "{case}");
                assert!(
                    r.stderr.starts_with(
                        "error: a.json: line 1, column 31 (byte 30, record 2): invalid JSON: \
                         expected a JSON value, found '}'"
                    ),
                    "{case}"
                );
                if mode == "skip" {
                    let errors =
                        std::fs::read_to_string(dir.path().join(&out).join("t_errors.csv"))?;
                    let rows: Vec<&str> = errors.lines().skip(1).collect();
                    assert_eq!(rows.len(), 2, "{case}");
                    assert!(rows[0].starts_with("a.json,2,1,31,30,"), "{case}");
                    assert!(rows[1].starts_with("b.jsonl,3,1,8,7,"), "{case}");
                }
            }
        }
    }
    Ok(())
}

/// A break inside an element longer than `--max-record-size`: the errors row's raw
/// text is still what was not read from the element's start (the errors table's
/// first 4 KiB of it, marked cut), from a plain file and a gzipped one alike.
#[test]
fn a_break_in_an_element_past_the_record_limit_keeps_its_raw_text() -> TestResult {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let element = format!(
        "{{\"id\": 1, \"s\": \"{}\", \"q\": [1}}",
        "z".repeat(20_000)
    );
    let text = format!("[{{\"id\": 0}}, {element}, {{\"id\": 2}}]");
    std::fs::write(dir.path().join("m.json"), &text)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes())?;
    std::fs::write(dir.path().join("m.json.gz"), gz.finish()?)?;
    let rest = &text[text.find("{\"id\": 1").ok_or("element")?..];
    for file in ["m.json", "m.json.gz"] {
        for executor in ["sequential", "threads", "processes"] {
            for limit in ["1KiB", "8KiB"] {
                let out = format!("out-{file}-{executor}-{limit}");
                let args = [
                    "flatten",
                    file,
                    "-o",
                    &out,
                    "-q",
                    "-f",
                    "jsonl",
                    "-e",
                    "t",
                    "--on-error",
                    "skip",
                    "--executor",
                    executor,
                    "--chunk-size",
                    "1KiB",
                    "--max-record-size",
                    limit,
                ];
                let r = run(dir.path(), &args, None)?;
                assert_eq!(r.code, 1, "{out}: {}", r.stderr);
                let errors = std::fs::read_to_string(dir.path().join(&out).join("t_errors.jsonl"))?;
                let row: serde_json::Value = serde_json::from_str(errors.trim_end())?;
                assert_eq!(row["raw"], rest[..4096], "{out}");
                assert_eq!(row["raw_truncated"], true, "{out}");
                assert_eq!(row["ordinal"], 1, "{out}");
            }
        }
    }
    Ok(())
}

#[test]
fn corrupt_csv_parquet_gzip_and_zstd_are_errors_naming_the_source() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("q.csv", b"a,b\n1,\"open\n2,3\n".to_vec(), "q.csv"),
        (
            "p.parquet",
            b"PAR1 this is not parquet at all PAR1".to_vec(),
            "p.parquet",
        ),
        (
            "g.jsonl.gz",
            vec![0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            "g.jsonl.gz",
        ),
        (
            "z.jsonl.zst",
            vec![0x28, 0xb5, 0x2f, 0xfd, 9, 9, 9, 9, 9],
            "z.jsonl.zst",
        ),
    ];
    for (name, bytes, source) in cases {
        std::fs::write(dir.path().join(name), bytes)?;
        let r = run(
            dir.path(),
            &["flatten", name, "-o", &format!("out-{name}"), "-q"],
            None,
        )?;
        assert!(
            r.code == 1 || r.code == 3,
            "{name}: exit {} {}",
            r.code,
            r.stderr
        );
        assert!(r.stderr.starts_with("error: "), "{name}: {}", r.stderr);
        assert!(r.stderr.contains(source), "{name}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{name}: {}", r.stderr);
    }
    Ok(())
}

#[test]
fn a_main_table_without_columns_keeps_its_rows_in_every_format() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("arrays.jsonl"),
        "{\"arr\":[{\"v\":1}]}\n{}\n{\"arr\":[{\"v\":2},{\"v\":3}]}\n",
    )?;
    let bare = [
        "-q",
        "--no-id-column",
        "--no-time-column",
        "--no-parent-column",
    ];
    for format in ["parquet", "jsonl"] {
        let mut args = vec!["flatten", "arrays.jsonl", "-o", format, "-f", format];
        args.extend(bare);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{format}: {}", r.stderr);
    }
    // The Parquet tables read back as input give the JSONL output's rows.
    for (table, rows) in [
        ("arrays", "{}\n{}\n{}\n"),
        (
            "arrays_arr",
            "{\"v\":\"1\"}\n{\"v\":\"2\"}\n{\"v\":\"3\"}\n",
        ),
    ] {
        let jsonl = std::fs::read_to_string(dir.path().join(format!("jsonl/{table}.jsonl")))?;
        assert_eq!(jsonl, rows, "{table}");
        let parquet = format!("parquet/{table}.parquet");
        let out = format!("back_{table}");
        let mut args = vec![
            "flatten", &parquet, "-o", &out, "-f", "jsonl", "--entity", "t",
        ];
        args.extend(bare);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{table}: {}", r.stderr);
        let back = std::fs::read_to_string(dir.path().join(format!("{out}/t.jsonl")))?;
        assert_eq!(back, rows, "{table}");
    }
    Ok(())
}

/// Damaged compressed data decompresses to wrong text before its decoder notices
/// (at the checksum, at the latest): the run fails in any mode and writes no table,
/// naming the damage, never the wrong records it made. Data cut short keeps, in
/// skip mode, the records before the cut, and the record cut short in the errors
/// table.
#[test]
fn damaged_gzip_fails_the_run_in_any_mode_and_writes_no_table() -> TestResult {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let text: String = (0..20_000)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"name\":\"n{}\",\"v\":[{i}]}}\n",
                i * 7919 % 100_003
            )
        })
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes())?;
    let whole = gz.finish()?;
    // The same data, with its checksum damaged; and with bytes in the middle damaged
    // (they decompress to records that are wrong, then fail the checksum).
    let mut checksum = whole.clone();
    let at = checksum.len() - 8;
    checksum[at] ^= 0x55;
    let mut middle = whole.clone();
    let half = middle.len() / 2;
    for b in &mut middle[half..half + 50] {
        *b ^= 0x55;
    }
    std::fs::write(dir.path().join("checksum.jsonl.gz"), checksum)?;
    std::fs::write(dir.path().join("middle.jsonl.gz"), &middle)?;
    let hint = "hint: the compressed data is damaged, and what it decompressed to before \
                this point may be wrong too, so no table was written (in any --on-error \
                mode); `gzip -t` or `zstd -t` checks a file\n";
    for name in ["checksum", "middle"] {
        for mode in ["strict", "skip"] {
            for executor in ["sequential", "threads", "processes"] {
                let out = format!("out-{name}-{mode}-{executor}");
                let file = format!("{name}.jsonl.gz");
                let args = [
                    "flatten",
                    &file,
                    "-o",
                    &out,
                    "-q",
                    "-f",
                    "csv",
                    "--on-error",
                    mode,
                    "--executor",
                    executor,
                ];
                let r = run(dir.path(), &args, None)?;
                let case = format!("{name} {mode} {executor}");
                assert_eq!(r.code, 1, "{case}: {}", r.stderr);
                assert!(
                    r.stderr
                        .starts_with(&format!("error: {file}: damaged gzip data after byte ")),
                    "{case}: {}",
                    r.stderr
                );
                assert!(
                    r.stderr.ends_with(&format!(
                        "of the decompressed stream: corrupt gzip stream does not have a \
                         matching checksum\n{hint}"
                    )),
                    "{case}: {}",
                    r.stderr
                );
                assert!(!dir.path().join(&out).exists(), "{case}");
            }
        }
    }
    // Cut short: the lines before the cut are kept in skip mode, and the line cut
    // short is a row of the errors table with its bytes so far, on every executor.
    let cut = &whole[..whole.len() / 2];
    std::fs::write(dir.path().join("cut.jsonl.gz"), cut)?;
    let mut prefix = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(cut);
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = std::io::Read::read(&mut decoder, &mut buf) {
        prefix.extend_from_slice(&buf[..n]);
    }
    let start = prefix.iter().rposition(|&b| b == b'\n').ok_or("no line")? + 1;
    let partial = String::from_utf8(prefix[start..].to_vec())?;
    // The excerpt: the 20 characters before the end (the text is ASCII).
    let near = &partial[partial.len().saturating_sub(20)..];
    let mut first: Option<Vec<(String, Vec<u8>)>> = None;
    for executor in ["sequential", "threads", "processes"] {
        let out = format!("cut-{executor}");
        let args = [
            "flatten",
            "cut.jsonl.gz",
            "-o",
            &out,
            "-q",
            "-f",
            "csv",
            "--on-error",
            "skip",
            "--executor",
            executor,
            "--workers",
            if executor == "sequential" { "1" } else { "2" },
            "--chunk-size",
            "64KiB",
            "--id-strategy",
            "positional",
            "--extract-time",
            "2024-01-02 03:04:05",
        ];
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 1, "{executor}: {}", r.stderr);
        let main = std::fs::read_to_string(dir.path().join(&out).join("cut.csv"))?;
        let kept = main.lines().count() - 1;
        assert_eq!(
            kept,
            prefix[..start].iter().filter(|&&b| b == b'\n').count(),
            "{executor}"
        );
        for (i, line) in main.lines().skip(1).enumerate() {
            assert!(
                line.starts_with(&format!("{i},n{},", i * 7919 % 100_003)),
                "{line}"
            );
        }
        assert_eq!(
            r.stderr.lines().next(),
            Some(
                format!(
                    "error: cut.jsonl.gz: line {}, column 1 (byte {start}, record {kept}): \
                     truncated gzip data: the input ends inside this record, after byte {} of \
                     the decompressed stream (incomplete deflate stream) near `{near}`",
                    kept + 1,
                    prefix.len()
                )
                .as_str()
            ),
            "{executor}"
        );
        let errors = std::fs::read_to_string(dir.path().join(&out).join("cut_errors.csv"))?;
        assert_eq!(
            errors.lines().nth(1),
            Some(
                format!(
                    "cut.jsonl.gz,{kept},{},1,{start},\"truncated gzip data: the input ends \
                     inside this record, after byte {} of the decompressed stream (incomplete \
                     deflate stream)\",\"{e}\",\"{q}\",false",
                    kept + 1,
                    prefix.len(),
                    e = near.replace('"', "\"\""),
                    q = partial.replace('"', "\"\"")
                )
                .as_str()
            ),
            "{executor}"
        );
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir.path().join(&out))? {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            files.push((name.unwrap_or_default(), std::fs::read(&path)?));
        }
        files.sort();
        match &first {
            None => first = Some(files),
            Some(expected) => assert!(expected == &files, "{executor}: files differ"),
        }
    }
    Ok(())
}
