//! `transmogrify schema`.

use crate::support::*;

const INPUT: &str = "{\"id\":1,\"orders\":[{\"sku\":\"a\",\"lines\":[{\"q\":1}]}]}\n{\"id\":2.5}\n";

#[test]
fn tree_json_and_mermaid() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("shop.jsonl"), INPUT)?;
    let r = run(
        dir.path(),
        &["schema", "shop.jsonl", "--typed", "--no-time-column"],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "shop (2 rows)\n\
         \x20 id            float64\n\
         \x20 __extract_id  string  (row id)\n\
         \x20 shop_orders (1 row, child of shop)\n\
         \x20   sku                  string\n\
         \x20   __extract_id         string  (row id)\n\
         \x20   __parent_extract_id  string  (parent id)\n\
         \x20   shop_orders_lines (1 row, child of shop_orders)\n\
         \x20     q                    int64\n\
         \x20     __extract_id         string  (row id)\n\
         \x20     __parent_extract_id  string  (parent id)\n"
    );
    let r = run(dir.path(), &["schema", "shop.jsonl", "--json"], None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout)?;
    assert_eq!(v["entity"], "shop");
    assert_eq!(v["tables"][2]["name"], "shop_orders_lines");
    assert_eq!(v["tables"][2]["parent"], "shop_orders");
    assert_eq!(v["tables"][2]["rows"], 1);
    assert_eq!(v["tables"][0]["columns"][0]["name"], "id");
    let r = run(
        dir.path(),
        &["schema", "shop.jsonl", "--mermaid", "--no-time-column"],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(
            "erDiagram\n    shop {\n        string id\n        string __extract_id PK\n    }\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("    shop ||--o{ shop_orders : \"__parent_extract_id = __extract_id\"\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("    shop_orders ||--o{ shop_orders_lines :"),
        "{}",
        r.stdout
    );
    Ok(())
}

#[test]
fn samples_read_only_the_first_records() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut text = String::new();
    for i in 0..100 {
        text.push_str(&format!("{{\"i\":{i}}}\n"));
    }
    text.push_str("{\"late\":true}\n");
    std::fs::write(dir.path().join("s.jsonl"), text)?;
    let r = run(
        dir.path(),
        &["schema", "s.jsonl", "--sample", "10", "--json"],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout)?;
    assert_eq!(v["tables"][0]["rows"], 10);
    let r = run(dir.path(), &["schema", "s.jsonl", "--json"], None)?;
    let v: serde_json::Value = serde_json::from_str(&r.stdout)?;
    assert_eq!(v["tables"][0]["rows"], 101);
    assert!(r.stdout.contains("\"late\""));
    // A sample larger than a chunk (4 MiB) ends where it should, not a chunk later.
    let pad = "p".repeat(280);
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!("{{\"i\":{i},\"pad\":\"{pad}\"}}\n"));
    }
    std::fs::write(dir.path().join("big.jsonl"), &text)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, text.as_bytes())?;
    std::fs::write(dir.path().join("big.jsonl.gz"), gz.finish()?)?;
    let mut csv = String::from("i,pad\n");
    for i in 0..20_000 {
        csv.push_str(&format!("{i},{pad}\n"));
    }
    std::fs::write(dir.path().join("big.csv"), csv)?;
    for file in ["big.jsonl", "big.jsonl.gz", "big.csv"] {
        let r = run(
            dir.path(),
            &["schema", file, "--sample", "15000", "--json"],
            None,
        )?;
        let v: serde_json::Value = serde_json::from_str(&r.stdout)?;
        assert_eq!(v["tables"][0]["rows"], 15_000, "{file}");
    }
    Ok(())
}

#[test]
fn a_closed_stdout_is_not_an_error() -> TestResult {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir()?;
    // A schema far larger than a pipe's buffer.
    let cols: Vec<String> = (0..5000).map(|c| format!("\"column_{c}\":{c}")).collect();
    std::fs::write(
        dir.path().join("w.jsonl"),
        format!("{{{}}}\n", cols.join(",")),
    )?;
    let mut child = Command::new(bin())
        .args(["schema", "w.jsonl"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    drop(child.stdout.take());
    let out = child.wait_with_output()?;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stderr)?, "");
    Ok(())
}

#[test]
fn the_schema_of_many_parts_is_the_dictionary_flatten_writes() -> TestResult {
    // 2,500 records (three batches): a column that turns from integers to floats in
    // the second batch and takes text in the last, a table that only the last batch
    // has, and an array whose elements gain a column late.
    let dir = tempfile::tempdir()?;
    let mut text = String::new();
    for i in 0..2500 {
        let n = match i {
            0..=999 => format!("{i}"),
            1000..=2498 => format!("{i}.5"),
            _ => "\"many\"".to_string(),
        };
        let late = if i >= 2400 {
            ",\"late\":[{\"x\":1}]"
        } else {
            ""
        };
        let extra = if i >= 1800 { ",\"w\":true" } else { "" };
        text.push_str(&format!(
            "{{\"id\":{i},\"n\":{n},\"items\":[{{\"k\":{i}{extra}}}]{late}}}\n"
        ));
    }
    std::fs::write(dir.path().join("p.jsonl"), text)?;
    for typed in [false, true] {
        let mut args = vec!["schema", "p.jsonl", "--json"];
        let mut flatten = vec!["flatten", "p.jsonl", "-o", "out", "--dictionary", "--force"];
        if typed {
            args.push("--typed");
            flatten.push("--typed");
        }
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let schema: serde_json::Value = serde_json::from_str(&r.stdout)?;
        let r = run(dir.path(), &flatten, None)?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let written = std::fs::read_to_string(dir.path().join("out").join("_schema.json"))?;
        let written: serde_json::Value = serde_json::from_str(&written)?;
        assert_eq!(schema["tables"], written["tables"], "typed: {typed}");
        assert_eq!(schema["tables"][0]["rows"], 2500);
        assert_eq!(schema["tables"].as_array().map(Vec::len), Some(3));
    }
    Ok(())
}

#[test]
fn mermaid_names_made_alike_stay_apart() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("keys.jsonl"),
        "{\"a/b\":[{\"x\":1}],\"a_b\":[{\"y\":2}],\"\\u00e9\":1,\"_\":2}\n",
    )?;
    let r = run(
        dir.path(),
        &[
            "schema",
            "keys.jsonl",
            "--mermaid",
            "--no-id-column",
            "--no-time-column",
            "--no-parent-column",
        ],
        None,
    )?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "erDiagram\n\
         \x20   keys {\n\
         \x20       string __2\n\
         \x20       string _\n\
         \x20   }\n\
         \x20   keys_a_b_2 {\n\
         \x20       string x\n\
         \x20   }\n\
         \x20   keys_a_b {\n\
         \x20       string y\n\
         \x20   }\n\
         \x20   keys ||--o{ keys_a_b_2 : \"a/b\"\n\
         \x20   keys ||--o{ keys_a_b : \"a_b\"\n"
    );
    Ok(())
}

#[test]
fn bad_records_skipped_show_as_the_errors_table() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("sk.jsonl"),
        "{\"a\":1}\n{\"a\":tru}\n{\"b\":[{\"c\":1}]}\n[2]\n",
    )?;
    let args = [
        "schema",
        "sk.jsonl",
        "--on-error",
        "skip",
        "--no-time-column",
    ];
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.ends_with(
            "sk_errors (2 bad records: source, ordinal, line, column, byte_offset, message, excerpt, raw, raw_truncated)\n"
        ),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), &[&args[..], &["--json"]].concat(), None)?;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout)?;
    assert_eq!(v["errors"]["name"], "sk_errors");
    assert_eq!(v["errors"]["rows"], 2);
    assert_eq!(v["errors"]["file"], "sk_errors.parquet");
    // Input that stops at a bad record: the tables of the records before it, its
    // row, and the error (exit 1, as flatten gives).
    std::fs::write(
        dir.path().join("st.json"),
        "[{\"a\":1},\n{\"a\":2} {\"a\":3}]",
    )?;
    let args = [
        "schema",
        "st.json",
        "--on-error",
        "skip",
        "--no-time-column",
    ];
    let r = run(dir.path(), &args, None)?;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.starts_with("st (2 rows)\n"), "{}", r.stdout);
    assert!(
        r.stdout.ends_with(
            "st_errors (1 bad record: source, ordinal, line, column, byte_offset, message, excerpt, raw, raw_truncated)\n"
        ),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stderr,
        "error: st.json: line 2, column 9 (byte 18, record 2): invalid JSON: expected ',' or \
         ']', found '{' near `[{\"a\":1}, {\"a\":2} {\"a\":3}]`\n"
    );
    Ok(())
}

/// As `flatten` does, `schema` warns of `--array-index-column` with an array mode
/// that makes no child rows, and its tables have no such column.
#[test]
fn an_index_column_without_child_rows_is_warned_of() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("n.jsonl"), "{\"a\":[1,2]}\n")?;
    let r = run(
        dir.path(),
        &[
            "schema",
            "n.jsonl",
            "--array-mode",
            "inline",
            "--array-index-column",
            "i",
            "--no-time-column",
        ],
        None,
    )?;
    assert_eq!(
        (r.code, r.stderr.as_str(), r.stdout.as_str()),
        (
            0,
            "warning: --array-index-column applies to --array-mode smart or separate only \
             (the modes that make child rows)\n",
            "n (1 row)\n\
             \x20 a             string\n\
             \x20 __extract_id  string  (row id)\n"
        )
    );
    Ok(())
}
