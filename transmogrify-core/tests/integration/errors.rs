//! Bad records: exact positions in strict mode, rollback and error lists in skip mode.

use transmogrify_core::{
    ErrorMode, Position, Processor, ProcessorConfig, RecordErrorKind, SyntaxError,
};

use crate::support::*;

fn skip_processor() -> Result<Processor, Box<dyn std::error::Error>> {
    Ok(Processor::new(
        bare()
            .with_on_error(ErrorMode::Skip)
            .with_max_error_raw_bytes(12)
            .build()?,
    ))
}

#[test]
fn strict_mode_names_source_line_column_and_offset() -> TestResult {
    let p = Processor::default();
    let mut s = p.session("t");
    s.set_source("data/events.jsonl");
    s.push_at(br#"{"a":1}"#, Position::line_start(0, 1, 0))?;
    let err = s
        .push_at(b"{\"a\": [1, 2,, 3]}", Position::line_start(1, 2, 8))
        .err()
        .and_then(|e| e.as_record_error().cloned());
    let err = err.ok_or("expected a record error")?;
    assert_eq!(
        err.to_string(),
        "data/events.jsonl: line 2, column 13 (byte 20, record 1): invalid JSON: expected a JSON value, found ',' near `{\"a\": [1, 2,, 3]}`"
    );
    assert_eq!(
        err.kind,
        RecordErrorKind::Syntax(SyntaxError::UnexpectedChar {
            expected: "a JSON value",
            found: ','
        })
    );
    Ok(())
}

#[test]
fn invalid_utf8_is_placed_at_its_bad_byte_after_valid_non_ascii_text() -> TestResult {
    let p = Processor::new(bare().build()?);
    let mut s = p.session("t");
    s.set_source("in.jsonl");
    // Valid non-ASCII key and values first; the bad byte is in the third string value
    // (whose text starts at byte 16 of the record), at byte 19.
    let record = b"{\"\xc3\xa9\":\"\xc3\xbc\",\"b\":\"ok \xff\"}";
    let err = s
        .push_at(record, Position::line_start(0, 1, 100))
        .err()
        .and_then(|e| e.as_record_error().cloned())
        .ok_or("expected a record error")?;
    assert_eq!(err.kind, RecordErrorKind::Syntax(SyntaxError::InvalidUtf8));
    let at = err.position;
    assert_eq!((at.line, at.column, at.byte_offset), (1, 18, 100 + 19));
    // The same record without the bad byte is fine, keys and values intact.
    s.push(b"{\"\xc3\xa9\":\"\xc3\xbc\",\"b\":\"ok\"}")?;
    let r = s.finish()?;
    assert_tables(&render(&r)?, "# t\n\u{e9}|b\n\u{fc}|ok");
    Ok(())
}

#[test]
fn a_failed_record_leaves_no_rows_columns_or_tables() -> TestResult {
    let p = skip_processor()?;
    let mut s = p.session("t");
    s.push(br#"{"a":1,"k":[{"x":1}]}"#)?;
    // Fails after writing a new column, a new child table and a new kind.
    s.push(br#"{"a":"text","new":1,"k":[{"x":2}],"n":[{"y":1}], "bad": tru}"#)?;
    s.push(br#"{"a":2}"#)?;
    let r = s.finish()?;
    assert_tables(&render(&r)?, "# t\na\n1\n2\n# t_k\nx\n1");
    assert_eq!(r.errors().len(), 1);
    let bad = &r.errors()[0];
    assert_eq!(bad.error.position.ordinal, 1);
    assert_eq!(bad.raw, r#"{"a":"text","#);
    assert!(bad.raw_truncated);
    // The kinds the bad record saw are forgotten too: the column stays numeric.
    let typed = Processor::new(
        bare()
            .with_on_error(ErrorMode::Skip)
            .with_cast_to_string(false)
            .build()?,
    );
    let mut s = typed.session("t");
    s.push(br#"{"a":1}"#)?;
    s.push(br#"{"a":"x", "b": }"#)?;
    let r = s.finish()?;
    assert_eq!(
        r.table_schema("t")?.schema.field(0).data_type(),
        &arrow_schema::DataType::Int64
    );
    Ok(())
}

#[test]
fn every_kind_of_bad_record_is_reported() -> TestResult {
    let p = Processor::new(
        bare()
            .with_on_error(ErrorMode::Skip)
            .with_nesting_limit(16)
            .with_max_depth(8)
            .with_max_record_bytes(200)
            .with_max_columns(3)
            .build()?,
    );
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(20), "]".repeat(20));
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(300));
    let cases: Vec<(&[u8], &str)> = vec![
        (
            b"{\"a\":1",
            "invalid JSON: unexpected end of input, expected ',' or '}'",
        ),
        (
            b"{\"a\":1} x",
            "invalid JSON: trailing characters after the value",
        ),
        (
            br#"{"a":"\x"}"#,
            "invalid JSON: invalid escape sequence in string",
        ),
        (
            br#"{"a":"\ud800"}"#,
            "invalid JSON: lone surrogate in \\u escape",
        ),
        (b"{\"a\":\"\xff\"}", "invalid JSON: invalid UTF-8"),
        (
            b"{\"a\":NaN}",
            "invalid JSON: expected a JSON value, found 'N'",
        ),
        (
            b"{\"a\":Infinity}",
            "invalid JSON: expected a JSON value, found 'I'",
        ),
        (b"{\"a\":01}", "invalid JSON: number with a leading zero"),
        (
            b"{\"a\":\"x\ty\"}",
            "invalid JSON: control character in string (must be escaped)",
        ),
        (b"[1]", "a record must be a JSON object, found an array"),
        (
            deep.as_bytes(),
            "the record nests deeper than the limit of 16 levels",
        ),
        (
            big.as_bytes(),
            "the record is 308 bytes, larger than the limit of 200 bytes",
        ),
        (
            br#"{"a":1,"b":2,"c":3,"d":4}"#,
            "table t would get more than the limit of 3 columns",
        ),
    ];
    let mut s = p.session("t");
    for (bytes, _) in &cases {
        s.push(bytes)?;
    }
    s.push(br#"{"ok":1}"#)?;
    let r = s.finish()?;
    let messages: Vec<String> = r
        .errors()
        .iter()
        .map(|e| e.error.kind.to_string())
        .collect();
    let expected: Vec<&str> = cases.iter().map(|c| c.1).collect();
    assert_eq!(messages, expected);
    assert_eq!(r.num_rows("t"), Some(1));
    let ordinals: Vec<u64> = r
        .errors()
        .iter()
        .map(|e| e.error.position.ordinal)
        .collect();
    assert_eq!(ordinals, (0..cases.len() as u64).collect::<Vec<_>>());
    let batch = r.errors_batch()?.ok_or("no errors batch")?;
    assert_eq!(batch.num_rows(), cases.len());
    Ok(())
}

#[test]
fn deep_nesting_never_overflows_the_stack() -> TestResult {
    let p = Processor::new(
        ProcessorConfig::builder()
            .with_nesting_limit(1 << 20)
            .build()?,
    );
    let depth = 200_000;
    let json = format!("{{\"a\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
    let r = p.process(json.as_bytes(), "t")?;
    let rows = r.rows("t")?;
    let text = rows[0]["a"].as_str().unwrap_or_default();
    assert_eq!(text.len(), 2 * depth + 1);
    let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let err = Processor::default()
        .process(objects.as_bytes(), "t")
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("nests deeper than the limit of 1024 levels")),
        "{err:?}"
    );
    Ok(())
}

/// A JSON value nested far deeper than the limit, given as a `serde_json::Value`, is
/// the error its text is, on a thread of the usual 2 MiB stack too.
#[test]
fn deep_values_are_errors_not_stack_overflows() -> TestResult {
    let depth = 20_000;
    let text = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    // The value is built and dropped (both recursive in serde_json) on a large stack.
    let run = move || -> Result<(Option<String>, Option<String>), String> {
        let mut value = serde_json::json!(1);
        for _ in 0..depth {
            let mut object = serde_json::Map::new();
            object.insert("a".into(), value);
            value = serde_json::Value::Object(object);
        }
        let got = std::thread::scope(|s| {
            let work = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn_scoped(s, || {
                    let p = Processor::default();
                    let batch = p.process_batch(std::slice::from_ref(&value), "t");
                    let text = p.process(text.as_bytes(), "t");
                    (
                        batch.err().map(|e| e.to_string()),
                        text.err().map(|e| e.to_string()),
                    )
                });
            work.map_err(|e| e.to_string())?
                .join()
                .map_err(|_| "the flattening thread panicked".to_string())
        });
        drop(value);
        got
    };
    let (batch, text) = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(run)?
        .join()
        .map_err(|_| "the test thread panicked")??;
    assert!(
        text.as_deref()
            .is_some_and(|e| e.contains("nests deeper than the limit of 1024 levels")),
        "{text:?}"
    );
    assert_eq!(batch, text);
    Ok(())
}

#[test]
fn truncated_arrays_stop_with_their_position() -> TestResult {
    let err = Processor::default()
        .process(b"[{\"a\":1},\n{\"a\":2},\n{\"a\":", "t")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("<input>: line 3, column 6 (byte 24, record 2): invalid JSON: unexpected end of input, expected a JSON value near `\":1},\n{\"a\":2},\n{\"a\":`".replace('\n', " ").as_str())
    );
    Ok(())
}

#[test]
fn skip_mode_goes_on_after_a_broken_line_of_in_memory_jsonl() -> TestResult {
    let p = skip_processor()?;
    let text = b"{\"a\":1}\n{\"a\": tru}\n{\"a\":3}\n{\"a\":[1,}\n{\"a\":5}\n";
    let r = p.process(text, "t")?;
    assert_tables(&render(&r)?, "# t\na\n1\n3\n5");
    let bad: Vec<(u64, u64, &str)> = r
        .errors()
        .iter()
        .map(|e| {
            (
                e.error.position.line,
                e.error.position.ordinal,
                e.raw.as_str(),
            )
        })
        .collect();
    assert_eq!(bad, [(2, 1, "{\"a\": tru}"), (4, 3, "{\"a\":[1,}")]);
    // Text that does not read as JSONL (its first object spans lines) is JSON: a
    // broken object ends where its strings and brackets end it.
    let r = p.process(
        b"{\n \"a\": 1\n}\n{\"a\":\n tru}\n{\"a\": 3} {\"a\": 4}",
        "t",
    )?;
    assert_tables(&render(&r)?, "# t\na\n1\n3\n4");
    let bad: Vec<(u64, u64)> = r
        .errors()
        .iter()
        .map(|e| (e.error.position.line, e.error.position.ordinal))
        .collect();
    assert_eq!(bad, [(5, 1)]);
    Ok(())
}

#[test]
fn skip_mode_goes_on_after_a_broken_element_of_an_in_memory_array() -> TestResult {
    let p = skip_processor()?;
    let text = b"[{\"a\":1},\n {\"a\": tru, \"s\": \"]}\"},\n {\"a\": 3 \"b\": 3},\n {\"a\":4}, 5x, {\"a\":6}]";
    let r = p.process(text, "t")?;
    assert_tables(&render(&r)?, "# t\na\n1\n4\n6");
    let bad: Vec<(u64, u64, u64, u64, &str)> = r
        .errors()
        .iter()
        .map(|e| {
            let at = &e.error.position;
            (
                at.line,
                at.column,
                at.byte_offset,
                at.ordinal,
                e.raw.as_str(),
            )
        })
        .collect();
    assert_eq!(
        bad,
        [
            (2, 8, 17, 1, "{\"a\": tru, \""),
            (3, 10, 43, 2, "{\"a\": 3 \"b\":"),
            (4, 11, 62, 4, "5x"),
        ]
    );
    // Where the strings and brackets do not tell where an element ends (the text
    // ends inside it, its brackets do not match), nor between elements, does
    // anything tell where the next one starts: the text ends there, after the
    // records before it, with its row in the errors table holding the rest.
    let stops = |text: &[u8]| -> Result<(usize, String, String), Box<dyn std::error::Error>> {
        let r = p.process(text, "t")?;
        let errors = r.errors();
        let [e] = errors else {
            return Err(format!("{} errors", errors.len()).into());
        };
        let rows = r.num_rows("main").unwrap_or(0);
        Ok((rows, e.error.to_string(), e.raw.clone()))
    };
    assert_eq!(
        stops(b"[{\"a\":1}, {\"a\": [2, {\"b\": 3}")?,
        (
            1,
            "<input>: line 1, column 29 (byte 28, record 1): invalid JSON: unexpected end of input, expected ',' or ']' near `, {\"a\": [2, {\"b\": 3}`".to_string(),
            // The errors table keeps 12 bytes of raw text here.
            "{\"a\": [2, {\"".to_string()
        )
    );
    let (rows, error, raw) = stops(b"[{\"a\":1}, {\"a\": [1, 2}, {\"b\": 3}]")?;
    assert!(
        error.contains(
            "line 1, column 22 (byte 21, record 1): invalid JSON: expected ',' or ']', found '}'"
        ),
        "{error}"
    );
    assert_eq!((rows, raw.as_str()), (1, "{\"a\": [1, 2}"));
    for (broken, rest) in [
        (&b"[{\"a\":1} {\"a\":2}]"[..], "{\"a\":2}]"),
        (b"[{\"a\":1},,{\"a\":2}]", ",{\"a\":2}]"),
        (b"[{\"a\":1}]x", "x"),
    ] {
        let (rows, error, raw) = stops(broken)?;
        assert!(error.contains("invalid JSON"), "{broken:?}: {error}");
        assert_eq!((rows, raw.as_str()), (1, rest), "{broken:?}");
    }
    // Strict mode: the error.
    let strict = Processor::default();
    assert!(strict.process(b"[{\"a\":1} {\"a\":2}]", "t").is_err());
    Ok(())
}

#[test]
fn a_misspelt_literal_is_named_whole() -> TestResult {
    let p = Processor::default();
    for (record, found, expected, column) in [
        (r#"{"a": tru}"#, "tru", "`true`", 7),
        (r#"{"a": [nan]}"#, "nan", "`null`", 8),
        (r#"{"a": falsy}"#, "falsy", "`false`", 7),
        (r#"{"a": t, "b": 1}"#, "t", "`true`", 7),
        (
            r#"{"a": nullnullnullnullnullnull}"#,
            "nullnullnullnullnull…",
            "`null`",
            7,
        ),
    ] {
        let err = p
            .process(record.as_bytes(), "t")
            .err()
            .and_then(|e| e.as_record_error().cloned())
            .ok_or("expected a record error")?;
        assert_eq!(
            err.kind,
            RecordErrorKind::Syntax(SyntaxError::InvalidLiteral(found.into())),
            "{record}"
        );
        assert_eq!(err.position.column, column, "{record}");
        assert!(
            err.to_string()
                .contains(&format!("invalid literal `{found}`, expected {expected}")),
            "{err}"
        );
    }
    Ok(())
}

/// The entity name names the main table: an empty one is refused, not a table
/// named `""` with children named `_a`.
#[test]
fn an_empty_entity_name_is_refused() {
    let p = Processor::default();
    let want = Some(
        "invalid configuration: the entity name must not be empty: it names the main table"
            .to_string(),
    );
    let got = p
        .process(br#"{"a":[{"b":1}]}"#, "")
        .err()
        .map(|e| e.to_string());
    assert_eq!(got, want);
    let got = p
        .process_batch(&[serde_json::json!({"a": 1})], "")
        .err()
        .map(|e| e.to_string());
    assert_eq!(got, want);
    assert!(p.process(br#"{"a":1}"#, "t").is_ok());
}

#[test]
fn a_tables_columns_count_against_the_limit_over_every_part_of_a_run() -> TestResult {
    // At most two columns. Part one has `a`; in part two a record that breaks after
    // adding `b` takes `b` back with it, so `c` is the second column and `d` one
    // too many, in part three as in part two.
    let p = Processor::new(
        bare()
            .with_on_error(ErrorMode::Skip)
            .with_max_columns(2)
            .build()?,
    );
    let seen = transmogrify_core::ColumnsSeen::default();
    let mut parts = Vec::new();
    for records in [
        &[&br#"{"a":1}"#[..]][..],
        &[br#"{"b":1,"x":}"#, br#"{"c":1}"#, br#"{"d":1}"#],
        &[br#"{"a":2,"c":2}"#, br#"{"d":2}"#],
    ] {
        let mut session = p.session("t").with_columns_seen(seen.clone());
        for record in records {
            session.push(record)?;
        }
        parts.push(session.finish()?);
    }
    let refused: Vec<(usize, String)> = parts
        .iter()
        .enumerate()
        .flat_map(|(i, part)| part.errors().iter().map(move |e| (i, e.raw.clone())))
        .filter(|(_, raw)| !raw.contains("\"x\""))
        .collect();
    assert_eq!(
        refused,
        [(1, r#"{"d":1}"#.to_string()), (2, r#"{"d":2}"#.to_string())]
    );
    let all = transmogrify_core::ProcessingResult::combine_results(parts)?;
    let rows = all.rows("t")?;
    let cells: Vec<String> = rows
        .iter()
        .map(|row| serde_json::Value::Object(row.clone()).to_string())
        .collect();
    assert_eq!(
        cells,
        [
            r#"{"a":"1","c":null}"#,
            r#"{"a":null,"c":"1"}"#,
            r#"{"a":"2","c":"2"}"#
        ]
    );
    Ok(())
}

#[test]
fn a_record_refused_for_a_child_table_it_makes_names_that_table() -> TestResult {
    // The tables `t_i` and `t_i_j` come with the record that breaks the limit, and
    // are gone again once it is rolled back; the error still names them, alone or
    // with the columns of a run shared.
    let p = Processor::new(
        bare()
            .with_on_error(ErrorMode::Skip)
            .with_max_columns(1)
            .build()?,
    );
    for shared in [false, true] {
        let mut session = p.session("t");
        if shared {
            session = session.with_columns_seen(transmogrify_core::ColumnsSeen::default());
        }
        session.push(br#"{"i":[{"a":1,"b":1}]}"#)?;
        session.push(br#"{"i":[{"j":[{"a":1,"b":1}]}]}"#)?;
        session.push(br#"{"k":[{"a":1}]}"#)?;
        let result = session.finish()?;
        let kinds: Vec<String> = result
            .errors()
            .iter()
            .map(|e| e.error.kind.to_string())
            .collect();
        assert_eq!(
            kinds,
            [
                "table t_i would get more than the limit of 1 columns",
                "table t_i_j would get more than the limit of 1 columns",
            ],
            "shared columns: {shared}"
        );
        assert_eq!(
            result.table_names(),
            ["t", "t_k"],
            "shared columns: {shared}"
        );
    }
    Ok(())
}

#[test]
fn more_declared_main_columns_than_the_limit_are_refused() {
    let built = bare()
        .with_max_columns(2)
        .with_main_columns(["a", "b", "a", "c"])
        .build()
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        built.as_deref(),
        Some("3 main columns are declared, more than the limit of 2 columns")
    );
    assert!(
        bare()
            .with_max_columns(2)
            .with_main_columns(["a", "b", "a"])
            .build()
            .is_ok()
    );
}

#[test]
fn the_column_limit_counts_a_repeated_keys_last_value_and_yields_to_bad_json() -> TestResult {
    // A repeated key keeps its last value: the columns its earlier values would
    // have made do not count. A record that is malformed past the column that breaks
    // the limit is refused for what is wrong with it, whatever the order of its keys.
    let p = Processor::new(
        bare()
            .with_on_error(ErrorMode::Skip)
            .with_max_columns(1)
            .build()?,
    );
    let mut session = p.session("t");
    for record in [
        &br#"{"a":1}"#[..],
        br#"{"b":1,"b":null}"#,
        br#"{"b":[{"x":1,"y":2}],"b":null}"#,
        br#"{"b":[{"x":1,"y":2}],"b":[{"x":1}]}"#,
        br#"{"b":1,"b":2}"#,
        br#"{"c":1,"d":tru}"#,
        br#"{"c":1,"d":"\ud800"}"#,
    ] {
        session.push(record)?;
    }
    let result = session.finish()?;
    let errors: Vec<(u64, String)> = result
        .errors()
        .iter()
        .map(|e| (e.error.position.ordinal, e.error.kind.to_string()))
        .collect();
    assert_eq!(
        errors,
        [
            (
                4,
                "table t would get more than the limit of 1 columns".to_string()
            ),
            (
                5,
                "invalid JSON: invalid literal `tru`, expected `true`".to_string()
            ),
            (6, "invalid JSON: lone surrogate in \\u escape".to_string()),
        ]
    );
    assert_eq!(result.num_rows("t"), Some(4));
    assert_eq!(result.num_rows("t_b"), Some(1));
    Ok(())
}

#[test]
fn declared_main_columns_count_against_the_limit_without_values() -> TestResult {
    // `a`, `b` and `c` are written whatever the records hold: `d` is a fourth.
    let p = Processor::new(
        bare()
            .with_on_error(ErrorMode::Skip)
            .with_max_columns(3)
            .with_main_columns(["a", "b", "c"])
            .build()?,
    );
    for shared in [false, true] {
        let mut session = p.session("t");
        if shared {
            session = session.with_columns_seen(transmogrify_core::ColumnsSeen::default());
        }
        for record in [&br#"{"a":1}"#[..], br#"{"d":1}"#, br#"{"c":1,"b":2}"#] {
            session.push(record)?;
        }
        let result = session.finish()?;
        let refused: Vec<u64> = result
            .errors()
            .iter()
            .map(|e| e.error.position.ordinal)
            .collect();
        assert_eq!(refused, [1], "shared columns: {shared}");
        assert_eq!(result.num_rows("t"), Some(2));
    }
    Ok(())
}
