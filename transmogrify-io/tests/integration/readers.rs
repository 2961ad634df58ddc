//! Readers: records and positions.

use transmogrify_core::{JsonRecords, Position};
use transmogrify_io::{
    CsvOptions, CsvSplitter, Input, InputFormat, RawBatch, RawItem, ReaderOptions, reader_for,
};

use crate::support::{TestResult, gzip, zstd};

/// Good records as (text, position), bad ones as messages.
type Split = (Vec<(String, Position)>, Vec<String>);

/// Every record of a reader as (text, position), and the texts of bad items.
fn records(
    name: &str,
    bytes: Vec<u8>,
    options: &ReaderOptions,
) -> Result<Split, transmogrify_io::Error> {
    let mut reader = reader_for(Input::from_bytes(name, bytes)?, options)?;
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for batch in &mut *reader {
        let batch: RawBatch = batch?;
        for item in &batch.items {
            match item {
                RawItem::Record { range, position } => good.push((
                    String::from_utf8_lossy(batch.bytes(range)).into_owned(),
                    *position,
                )),
                RawItem::Bad { error, .. } => bad.push(error.to_string()),
            }
        }
    }
    Ok((good, bad))
}

fn expected(text: &[u8]) -> Vec<(String, Position)> {
    JsonRecords::new(text, "x")
        .map(|r| match r {
            Ok((b, p)) => (String::from_utf8_lossy(b).into_owned(), p),
            Err(e) => panic!("{e}"),
        })
        .collect()
}

/// A pretty-printed array bigger than the read buffer, with multi-byte characters,
/// escapes and brackets inside strings.
fn big_array() -> Vec<u8> {
    let mut s = String::from("\u{feff}[\n");
    for i in 0..4000 {
        if i > 0 {
            s.push_str(",\n");
        }
        s.push_str(&format!(
            "  {{\"i\": {i}, \"s\": \"é\\\"]}}{{ñ\\\\\", \"nested\": {{\"a\": [1, {{\"b\": \"€\"}}]}},\n   \"n\": -1.5e3}}"
        ));
    }
    s.push_str("\n]\n");
    s.into_bytes()
}

#[test]
fn json_array_positions_match_the_in_memory_splitter() -> TestResult {
    let text = big_array();
    let (got, bad) = records("big.json", text.clone(), &ReaderOptions::default())?;
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(got.len(), 4000);
    assert_eq!(got, expected(&text));
    Ok(())
}

#[test]
fn concatenated_objects_and_single_object() -> TestResult {
    let text = b"{\"a\":1}\n\n{\"b\":\n 2}{\"c\":3}  \n".to_vec();
    let (got, _) = records("c.json", text.clone(), &ReaderOptions::default())?;
    assert_eq!(got, expected(&text));
    assert_eq!(got.len(), 3);
    let one = b"  {\"only\": [1, 2]}\n".to_vec();
    let (got, _) = records("one.json", one.clone(), &ReaderOptions::default())?;
    assert_eq!(got, expected(&one));
    Ok(())
}

#[test]
fn json_path_picks_a_nested_array() -> TestResult {
    let text = br#"{"meta": {"x": [1, {"y": "]}"}], "data": 5},
 "data": {"count": 2, "items": [
   {"a": 1},
   {"a": "\u00e9"}
 ], "after": {"z": []}}, "tail": true}"#
        .to_vec();
    let options = ReaderOptions::builder()
        .with_json_path(Some("data.items"))
        .build()?;
    let (got, bad) = records("w.json", text.clone(), &options)?;
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].0, r#"{"a": "\u00e9"}"#);
    let offset = text
        .windows(8)
        .position(|w| w == br#"{"a": "\"#)
        .unwrap_or(0) as u64;
    assert_eq!(
        got[1].1,
        Position {
            ordinal: 1,
            line: 4,
            column: 4,
            byte_offset: offset
        }
    );
    let missing = ReaderOptions::builder()
        .with_json_path(Some("data.nope"))
        .build()?;
    let err = records("w.json", text, &missing)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("w.json: path \"data.nope\" not found: no key \"nope\" in the object")
    );
    // A path does not go into arrays; one that would is told so, and one that ends
    // at a scalar is told what it found.
    for (text, path, why) in [
        (
            r#"{"data":[{"items":[{"a":1}]}]}"#,
            "data.items",
            "\"data\" holds an array, and a path does not go into arrays: it ends at the \
             array of records",
        ),
        (
            r#"{"data":{"items":[{"a":1}]}}"#,
            "data.items.0",
            "\"items\" holds an array, and a path does not go into arrays: it ends at the \
             array of records",
        ),
        (
            r#"{"data":{"items":3}}"#,
            "data.items",
            "\"items\" holds neither an array nor an object",
        ),
    ] {
        let options = ReaderOptions::builder()
            .with_json_path(Some(path))
            .build()?;
        let err = records("w.json", text.as_bytes().to_vec(), &options)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err,
            Some(format!("w.json: path {path:?} not found: {why}")),
            "{path} in {text}"
        );
    }
    Ok(())
}

#[test]
fn jsonl_blank_lines_crlf_and_last_line() -> TestResult {
    let text = b"{\"a\":1}\r\n\r\n   \n{\"a\":\"\xc3\xa9\"}\r\n{\"a\":3}".to_vec();
    let (got, _) = records("l.jsonl", text, &ReaderOptions::default())?;
    let got: Vec<_> = got
        .iter()
        .map(|(t, p)| (t.as_str(), p.ordinal, p.line, p.byte_offset))
        .collect();
    assert_eq!(
        got,
        [
            ("{\"a\":1}", 0, 1, 0),
            ("{\"a\":\"é\"}", 1, 4, 15),
            ("{\"a\":3}", 2, 5, 27)
        ]
    );
    Ok(())
}

#[test]
fn compressed_inputs_are_transparent() -> TestResult {
    let text = b"{\"a\":1}\n{\"a\":2}\n".to_vec();
    let plain = records("p.jsonl", text.clone(), &ReaderOptions::default())?;
    assert_eq!(
        records("p.jsonl.gz", gzip(&text), &ReaderOptions::default())?,
        plain
    );
    assert_eq!(
        records("p.jsonl.zst", zstd(&text), &ReaderOptions::default())?,
        plain
    );
    // No telling extension: magic bytes, then content sniffing.
    assert_eq!(records("-", zstd(&text), &ReaderOptions::default())?, plain);
    Ok(())
}

#[test]
fn csv_rows_become_objects() -> TestResult {
    let text = b"# exported\nid;name;score;ok;zip;note\n1;\"Ann; \"\"A\"\"\";1.5;true;01234;\n2;Bo;NA;false;00001;x\n\n3;\"multi\nline\";2;true;9;y\n".to_vec();
    let options = ReaderOptions::builder()
        .with_csv(
            CsvOptions::default()
                .with_delimiter(b';')
                .with_skip_rows(1)
                .with_null_values(["", "NA"]),
        )
        .build()?;
    let (got, bad) = records("t.csv", text, &options)?;
    assert!(bad.is_empty(), "{bad:?}");
    let got: Vec<_> = got
        .iter()
        .map(|(t, p)| (t.as_str(), p.ordinal, p.line, p.byte_offset))
        .collect();
    assert_eq!(
        got,
        [
            (
                r#"{"id":1,"name":"Ann; \"A\"","score":1.5,"ok":true,"zip":"01234","note":null}"#,
                0,
                3,
                37
            ),
            (
                r#"{"id":2,"name":"Bo","score":null,"ok":false,"zip":"00001","note":"x"}"#,
                1,
                4,
                68
            ),
            (
                r#"{"id":3,"name":"multi\nline","score":2,"ok":true,"zip":9,"note":"y"}"#,
                2,
                6,
                91
            ),
        ]
    );
    let headless = ReaderOptions::builder()
        .with_format(Some(InputFormat::Csv))
        .with_csv(CsvOptions::default().with_has_header(false))
        .with_infer_types(false)
        .build()?;
    let (got, _) = records("noheader", b"a,1\nb,2,extra\n".to_vec(), &headless)?;
    assert_eq!(
        got[1].0,
        r#"{"column_1":"b","column_2":"2","column_3":"extra"}"#
    );
    Ok(())
}

/// A `.tsv` file's fields are separated by tabs unless a delimiter is set, read
/// whole, compressed or in ranges; a delimiter or quote past ASCII is refused.
#[test]
fn tsv_files_are_split_on_tabs() -> TestResult {
    let text = b"id\tname\n1\tAnn\n2\tBob, Jr.\n".to_vec();
    let expected = [
        r#"{"id":1,"name":"Ann"}"#.to_string(),
        r#"{"id":2,"name":"Bob, Jr."}"#.to_string(),
    ];
    let options = ReaderOptions::default();
    for (name, bytes) in [("people.tsv", text.clone()), ("people.TSV.gz", gzip(&text))] {
        let (got, bad) = records(name, bytes, &options)?;
        assert!(bad.is_empty(), "{name}: {bad:?}");
        let got: Vec<String> = got.into_iter().map(|(t, _)| t).collect();
        assert_eq!(got, expected, "{name}");
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("people.tsv");
    std::fs::write(&path, &text)?;
    let mut splitter = CsvSplitter::open(&path, &options)?.ok_or("a plain file")?;
    let mut got = Vec::new();
    while let Some(range) = splitter.next_range(4)? {
        let mut reader = splitter.ranges()?.reader(&range)?;
        for batch in &mut *reader {
            let batch: RawBatch = batch?;
            for item in &batch.items {
                if let RawItem::Record { range, .. } = item {
                    got.push(String::from_utf8_lossy(batch.bytes(range)).into_owned());
                }
            }
        }
    }
    assert_eq!(got, expected);
    // A delimiter set is kept.
    let commas = ReaderOptions::builder()
        .with_csv(CsvOptions::default().with_delimiter(b','))
        .build()?;
    let (got, _) = records("people.tsv", b"a\tb,c\n1\t2,3\n".to_vec(), &commas)?;
    assert_eq!(got[0].0, r#"{"a\tb":"1\t2","c":3}"#);
    for csv in [
        CsvOptions::default().with_delimiter(0xA7),
        CsvOptions::default().with_quote(0xE9),
    ] {
        let refused = ReaderOptions::builder().with_csv(csv).build();
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("must be an ASCII character"), "{message}");
    }
    Ok(())
}

#[test]
fn csv_header_names_as_written_come_before_made_up_ones() -> TestResult {
    let csv = ReaderOptions::builder()
        .with_format(Some(InputFormat::Csv))
        .with_infer_types(false)
        .build()?;
    for (header, want) in [
        // A name met again skips every name the header has.
        ("a,a,a_2", r#"{"a":"1","a_3":"2","a_2":"3"}"#),
        // An empty name is its position's, unless the header has that name.
        (
            ",column_1,",
            r#"{"column_1_2":"1","column_1":"2","column_3":"3"}"#,
        ),
        ("x,,x", r#"{"x":"1","column_2":"2","x_2":"3"}"#),
    ] {
        let (got, bad) = records("h.csv", format!("{header}\n1,2,3\n").into_bytes(), &csv)?;
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, want, "{header}");
    }
    Ok(())
}

#[test]
fn csv_row_with_wrong_field_count_is_a_bad_record() -> TestResult {
    let (got, bad) = records(
        "w.csv",
        b"a,b\n1,2\n3\n4,5\n".to_vec(),
        &ReaderOptions::default(),
    )?;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].1.ordinal, 2);
    assert_eq!(
        bad,
        [
            "w.csv: line 3, column 1 (byte 8, record 1): the row has 1 field but the header has 2 near `3`"
        ]
    );
    Ok(())
}

/// The bad records of `bytes`: each error's text and the raw text kept for it.
fn bad_rows(
    name: &str,
    bytes: &[u8],
    options: &ReaderOptions,
) -> Result<Vec<(String, Vec<u8>)>, transmogrify_io::Error> {
    let mut reader = reader_for(Input::from_bytes(name, bytes.to_vec())?, options)?;
    let mut bad = Vec::new();
    for batch in &mut *reader {
        let batch: RawBatch = batch?;
        for item in &batch.items {
            if let RawItem::Bad { error, range } = item {
                bad.push((error.to_string(), batch.bytes(range).to_vec()));
            }
        }
    }
    Ok(bad)
}

#[test]
fn a_bad_csv_row_keeps_its_fields_apart_in_its_raw_text() -> TestResult {
    // Quoted fields holding the delimiter, doubled quotes and a line break: the raw
    // text must read back as the same fields, not run them together.
    let csv = b"a,b\n1,2\n\"x,y\",3,\"he said \"\"hi\"\"\",\"two\nlines\"\n4,5\n";
    let bad = bad_rows("q.csv", csv, &ReaderOptions::default())?;
    let raw = b"\"x,y\",3,\"he said \"\"hi\"\"\",\"two\nlines\"";
    assert_eq!(
        bad,
        [(
            "q.csv: line 3, column 1 (byte 8, record 1): the row has 4 fields but the header has 2 near `\"x,y\",3,\"he said \"\"h`"
                .to_string(),
            raw.to_vec()
        )]
    );
    let fields: Vec<Vec<u8>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&raw[..])
        .byte_records()
        .next()
        .ok_or("no row")??
        .iter()
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(
        fields,
        [&b"x,y"[..], b"3", b"he said \"hi\"", b"two\nlines"]
    );

    // Another delimiter and quote: only what they would confuse is quoted.
    let options = ReaderOptions::builder()
        .with_format(Some(InputFormat::Csv))
        .with_csv(CsvOptions::default().with_delimiter(b';').with_quote(b'\''))
        .build()?;
    let bad = bad_rows("s.csv", b"a;b\n'x;y';'it''s';\"q\",\n", &options)?;
    assert_eq!(
        bad.iter()
            .map(|(_, raw)| raw.as_slice())
            .collect::<Vec<_>>(),
        [&b"'x;y';'it''s';\"q\","[..]]
    );

    // A quote left open on the last line (blank lines after it aside): the row as
    // it stood, to the end.
    let bad = bad_rows(
        "u.csv",
        b"id,name\n0,Al\n1,\"Ann\n",
        &ReaderOptions::default(),
    )?;
    let blank_after = bad_rows(
        "u.csv",
        b"id,name\n0,Al\n1,\"Ann\r\n\r\n\n",
        &ReaderOptions::default(),
    )?;
    assert_eq!(blank_after.len(), 1, "{blank_after:?}");
    assert_eq!(
        bad,
        [(
            "u.csv: line 3, column 3 (byte 15, record 1): unterminated quoted field: the quote opened here is never closed near `1,\"Ann`"
                .to_string(),
            b"1,\"Ann".to_vec()
        )]
    );
    Ok(())
}

/// The records of `reader` up to its error, and the error (`None` if it read to
/// the end).
fn records_then_error(
    reader: &mut dyn transmogrify_io::Reader,
) -> (Vec<(Position, String)>, Option<String>) {
    let mut seen = Vec::new();
    for batch in reader {
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => return (seen, Some(e.to_string())),
        };
        for item in &batch.items {
            match item {
                RawItem::Record { range, position } => seen.push((
                    *position,
                    String::from_utf8_lossy(batch.bytes(range)).into_owned(),
                )),
                RawItem::Bad { error, .. } => seen.push((error.position, error.to_string())),
            }
        }
    }
    (seen, None)
}

#[test]
fn a_csv_quote_that_takes_later_lines_and_never_closes_stops_the_input() -> TestResult {
    // The rows after the quote are inside its field: none can be told apart, so the
    // input stops there (in any mode), after the rows before it.
    let csv = b"id,name\n0,Al\n1,\"Ann\n2,Bo\n3,Cy\n";
    for step in [1, 3, 4096] {
        let mut reader = trickled_csv("u.csv", csv, step)?;
        let (seen, error) = records_then_error(&mut *reader);
        assert_eq!(
            seen,
            [(
                Position::line_start(0, 2, 8),
                r#"{"id":0,"name":"Al"}"#.into()
            )],
            "reads of {step}"
        );
        assert_eq!(
            error.as_deref(),
            Some(
                "u.csv: line 3, column 3 (byte 15, record 1): unterminated quoted field: the \
                 quote opened here is never closed, so its field took the rest of the input \
                 (2 more lines), and no later row can be read near `1,\"Ann 2,Bo 3,Cy`"
            ),
            "reads of {step}"
        );
    }
    Ok(())
}

#[test]
fn a_lone_carriage_return_ends_a_line_in_csv_positions() -> TestResult {
    // Old Mac line ends, alone and mixed with LF and CRLF, outside and inside
    // quotes: each breaks a line (a CRLF once), so the positions are an editor's.
    let csv = b"a,b\r1,2\r3,4,5\r6,\"x\ry\"z\r\n7,\xff\r8,\"p\rq\"\n9,9,9\r";
    for step in [1, 2, 3, 4096] {
        let mut reader = trickled_csv("cr.csv", csv, step)?;
        let (seen, error) = records_then_error(&mut *reader);
        assert_eq!(error, None, "reads of {step}");
        let got: Vec<String> = seen
            .iter()
            .map(|(at, text)| {
                let text: String = text.chars().take(44).collect();
                format!("{} {} {}: {text}", at.line, at.column, at.byte_offset)
            })
            .collect();
        assert_eq!(
            got,
            [
                r#"2 1 4: {"a":1,"b":2}"#,
                "3 1 8: cr.csv: line 3, column 1 (byte 8, record 1):",
                "5 3 21: cr.csv: line 5, column 3 (byte 21, record 2)",
                "6 3 26: cr.csv: line 6, column 3 (byte 26, record 3)",
                r#"7 1 28: {"a":8,"b":"p\rq"}"#,
                "9 1 36: cr.csv: line 9, column 1 (byte 36, record 5)",
            ],
            "reads of {step}"
        );
    }
    Ok(())
}

#[test]
fn csv_lines_skipped_end_at_any_line_break() -> TestResult {
    // `--csv-skip-rows` skips lines as the positions count them: a lone CR ends
    // one, a CRLF ends one.
    for (text, skip) in [
        (&b"junk\ryy\ra,b\r1,2\r"[..], 2),
        (b"junk\r\nyy\na,b\n1,2\n", 2),
        (b"junk\ra,b\n1,2\n", 1),
    ] {
        let options = ReaderOptions::builder()
            .with_format(Some(InputFormat::Csv))
            .with_csv(CsvOptions::default().with_skip_rows(skip))
            .build()?;
        let (good, bad) = records("s.csv", text.to_vec(), &options)?;
        assert!(bad.is_empty(), "{bad:?}");
        let at = text.len() - 4;
        assert_eq!(
            good,
            [(
                r#"{"a":1,"b":2}"#.to_string(),
                Position::line_start(0, skip as u64 + 2, at as u64)
            )],
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
    Ok(())
}

#[test]
fn a_name_repeated_thousands_of_times_in_a_csv_header_is_numbered() -> TestResult {
    // Each repeat takes the next free number (a name as written keeps it): in
    // time that grows with the header, not its square.
    let mut header = vec!["a"; 20_000];
    header[3] = "a_2";
    let csv = format!("{}\n", header.join(","));
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("h.csv");
    std::fs::write(&path, csv)?;
    let names = transmogrify_io::csv_header(&path, &ReaderOptions::default())?.unwrap_or_default();
    assert_eq!(names.len(), 20_000);
    assert_eq!(&names[..5], ["a", "a_3", "a_4", "a_2", "a_5"]);
    assert_eq!(names.last().map(String::as_str), Some("a_20000"));
    Ok(())
}

/// A CSV reader of `bytes` in reads of 1 to 5 bytes (from `step`), or as large as
/// asked with a `step` of 0, taking records of at most
/// `limit` bytes.
fn limited_csv(
    name: &str,
    bytes: &[u8],
    step: usize,
    limit: u64,
) -> Result<Box<dyn transmogrify_io::Reader>, transmogrify_io::Error> {
    let options = ReaderOptions::builder()
        .with_format(Some(InputFormat::Csv))
        .with_max_record_bytes(limit)
        .build()?;
    if step == 0 {
        // Reads as large as asked.
        return reader_for(Input::from_bytes(name, bytes.to_vec())?, &options);
    }
    let trickle = Trickle {
        bytes: bytes.to_vec(),
        at: 0,
        step,
    };
    reader_for(Input::from_reader(name, trickle, None)?, &options)
}

#[test]
fn a_csv_field_longer_than_the_largest_record_is_read_past() -> TestResult {
    // A quoted field of 1.2 MB, its quote closed late (a doubled quote on the way),
    // against a limit of 1,000 bytes: the row is a bad record of its whole size,
    // and the rows after it keep their places and their checks.
    let y = "y".repeat(600_000);
    let mut csv = format!("a,b\n1,2\n3,\"{y}\r\n{y}\"\"q\"\n");
    let after = csv.len() as u64;
    csv.push_str("5,6\n7,\"x\"y\n9,9\n");
    for step in [0, 4096, 100_000] {
        let mut reader = limited_csv("long.csv", csv.as_bytes(), step, 1000)?;
        let (seen, error) = records_then_error(&mut *reader);
        assert_eq!(error, None, "reads of {step}");
        let lines: Vec<String> = seen
            .iter()
            .map(|(at, text)| {
                let text: String = text.chars().take(60).collect();
                format!(
                    "{} {} {} {}: {text}",
                    at.ordinal, at.line, at.column, at.byte_offset
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                r#"0 2 1 4: {"a":1,"b":2}"#.to_string(),
                "1 3 1 8: long.csv: line 3, column 1 (byte 8, record 1): the record is".into(),
                format!(r#"2 5 1 {after}: {{"a":5,"b":6}}"#),
                format!(
                    "3 6 6 {}: long.csv: line 6, column 6 (byte {}, record 3): text af",
                    after + 9,
                    after + 9
                ),
                format!(r#"4 7 1 {}: {{"a":9,"b":9}}"#, after + 11),
            ],
            "reads of {step}"
        );
        // Its raw text: the row's first 64 KiB, the field read past still open.
        let mut raws = Vec::new();
        for batch in limited_csv("long.csv", csv.as_bytes(), step, 1000)? {
            let batch = batch?;
            for item in &batch.items {
                if let RawItem::Bad { range, .. } = item {
                    raws.push(batch.bytes(range).to_vec());
                }
            }
        }
        let mut want = format!("3,\"{y}");
        want.truncate(64 << 10);
        let got = raws
            .first()
            .map(|raw| String::from_utf8_lossy(raw).into_owned());
        // (Compared by length and ends: the texts are long.)
        let ends = |t: &str| {
            (
                t.len(),
                t.chars().take(8).collect::<String>(),
                t.ends_with('y'),
            )
        };
        assert_eq!(
            got.as_deref().map(ends),
            Some(ends(&want)),
            "reads of {step}"
        );
        let size = after - 8 - 1;
        assert!(
            seen[1].1.contains(&format!(
                "the record is {size} bytes, larger than the limit of 1000 bytes"
            )),
            "reads of {step}: {}",
            seen[1].1
        );
    }
    Ok(())
}

#[test]
fn csv_rows_are_measured_by_their_bytes_in_the_input() -> TestResult {
    // An unquoted row of 300 kB against a limit of 3,000 bytes: a bad record of its
    // size, its raw text its first 64 KiB as written; rows of 600 bytes whose JSON
    // objects are longer than the limit (long column names) are records. A header
    // longer than the limit is an error.
    let names: Vec<String> = (0..100)
        .map(|i| format!("a_rather_long_column_name_{i}"))
        .collect();
    let mut csv = format!("{}\n", names.join(","));
    let row = vec!["12345"; 100].join(",");
    csv.push_str(&format!("{row}\n"));
    let long = "z".repeat(300_000);
    let start = csv.len() as u64;
    csv.push_str(&format!("7,{long}\r\n{row}\n"));
    for step in [0, 1] {
        let header = limited_csv("wide.csv", csv.as_bytes(), step, 2000).err();
        assert_eq!(
            header.map(|e| e.to_string()),
            Some(format!(
                "wide.csv: line 1, column 1 (byte 0, record 0): the record is {} bytes, \
                 larger than the limit of 2000 bytes near `a_rather_long_column`",
                names.join(",").len()
            ))
        );
        let mut reader = limited_csv("wide.csv", csv.as_bytes(), step, 3000)?;
        let mut got = Vec::new();
        for batch in &mut *reader {
            let batch = batch?;
            for item in &batch.items {
                got.push(match item {
                    RawItem::Record { range, .. } => format!("record of {}", range.len()),
                    RawItem::Bad { error, range } => {
                        let raw = batch.bytes(range);
                        let head = format!("7,{}", &long[..(64 << 10) - 2]);
                        assert!(
                            raw == head.as_bytes(),
                            "reads of {step}: {} {:?}",
                            raw.len(),
                            String::from_utf8_lossy(&raw[..raw.len().min(30)])
                        );
                        format!(
                            "{} {}: {}",
                            error.position.line, error.position.byte_offset, error.kind
                        )
                    }
                });
            }
        }
        assert_eq!(
            got,
            [
                "record of 3691".to_string(),
                format!(
                    "3 {start}: the record is 300002 bytes, larger than the limit of 3000 bytes"
                ),
                "record of 3691".into(),
            ],
            "reads of {step}"
        );
    }
    Ok(())
}

#[test]
fn a_csv_quote_that_never_closes_is_not_held_past_the_largest_record() -> TestResult {
    // 3 MB after the quote, against a limit of 64 KiB: the reader reads on to the
    // end without keeping the field, and fails at the quote.
    let mut csv = String::from("a,b\n1,2\n3,\"x\n");
    for i in 0..200_000 {
        csv.push_str(&format!("{i},row\n"));
    }
    let mut reader = limited_csv("open.csv", csv.as_bytes(), 0, 65_536)?;
    let (seen, error) = records_then_error(&mut *reader);
    assert_eq!(seen.len(), 1);
    let error = error.unwrap_or_default();
    // Its raw text is the row's first 64 KiB as written.
    let mut reader = limited_csv("open.csv", csv.as_bytes(), 0, 65_536)?;
    let stopped = reader.find_map(Result::err).ok_or("no error")?;
    let raw = stopped.stopped_raw().ok_or("no raw text")?;
    assert_eq!(raw.len(), 64 << 10);
    assert!(csv.as_bytes()[8..].starts_with(raw));
    assert!(
        error.starts_with(
            "open.csv: line 3, column 3 (byte 10, record 1): unterminated quoted field: the \
             quote opened here is never closed, so its field took the rest of the input \
             (200000 more lines)"
        ),
        "{error}"
    );
    Ok(())
}

#[test]
fn csv_and_parquet_rows_can_leave_their_nulls_out() -> TestResult {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, NullArray, RecordBatch, StringArray, StructArray};
    use arrow_schema::{DataType, Field};

    let csv = b"a,b,c\n1,,x\n,,\nNA,2,\n".to_vec();
    let csv_options = CsvOptions::default().with_null_values(["", "NA"]);
    let keep = ReaderOptions::builder().with_csv(csv_options).build()?;
    let skip = keep.clone().with_skip_null(true);
    assert!(skip.skip_null() && !keep.skip_null());
    let texts = |split: Split| -> Vec<String> { split.0.into_iter().map(|r| r.0).collect() };
    assert_eq!(
        texts(records("t.csv", csv.clone(), &keep)?),
        [
            r#"{"a":1,"b":null,"c":"x"}"#,
            r#"{"a":null,"b":null,"c":null}"#,
            r#"{"a":null,"b":2,"c":null}"#
        ]
    );
    assert_eq!(
        texts(records("t.csv", csv, &skip)?),
        [r#"{"a":1,"c":"x"}"#, "{}", r#"{"b":2}"#]
    );
    // A dense column, a sparse one, one of nulls only, a Null-typed one and a struct
    // whose own null hides its fields.
    let dense: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
    let sparse: ArrayRef = Arc::new(StringArray::from(vec![None, Some("s"), None]));
    let empty: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>; 3]));
    let nothing: ArrayRef = Arc::new(NullArray::new(3));
    let inner: ArrayRef = Arc::new(StringArray::from(vec![Some("i"), None, Some("k")]));
    let structs: ArrayRef = Arc::new(StructArray::try_new(
        vec![Field::new("x", DataType::Utf8, true)].into(),
        vec![inner],
        Some(vec![true, true, false].into()),
    )?);
    let batch = RecordBatch::try_from_iter_with_nullable([
        ("sparse", sparse, true),
        ("dense", dense, false),
        ("empty", empty, true),
        ("nothing", nothing, true),
        ("st", structs, true),
    ])?;
    let mut parquet = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut parquet, batch.schema(), None)?;
    writer.write(&batch)?;
    writer.close()?;
    assert_eq!(
        texts(records("t.parquet", parquet.clone(), &skip)?),
        [
            r#"{"dense":1,"st":{"x":"i"}}"#,
            r#"{"sparse":"s","dense":2,"st":{"x":null}}"#,
            r#"{"dense":3}"#
        ]
    );
    assert_eq!(
        texts(records("t.parquet", parquet, &keep)?)[2],
        r#"{"sparse":null,"dense":3,"empty":null,"nothing":null,"st":null}"#
    );
    Ok(())
}

#[test]
fn parquet_dictionary_columns_read_as_their_values() -> TestResult {
    use std::sync::Arc;

    use arrow_array::types::Int32Type;
    use arrow_array::{ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray};

    // What pandas writes for a categorical column: the Arrow schema in the file's
    // metadata asks for a dictionary array back.
    let values: ArrayRef = Arc::new(StringArray::from(vec!["low", "high"]));
    let keys = Int32Array::from(vec![Some(1), None, Some(0), Some(1)]);
    let level: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values)?);
    let batch = RecordBatch::try_from_iter([("level", level)])?;
    let mut parquet = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut parquet, batch.schema(), None)?;
    writer.write(&batch)?;
    writer.close()?;
    let options = ReaderOptions::builder()
        .with_format(Some(InputFormat::Parquet))
        .build()?;
    let (got, bad) = records("cat.parquet", parquet.clone(), &options)?;
    assert!(bad.is_empty(), "{bad:?}");
    let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        texts,
        [
            r#"{"level":"high"}"#,
            r#"{"level":null}"#,
            r#"{"level":"low"}"#,
            r#"{"level":"high"}"#
        ]
    );
    let (got, _) = records("cat.parquet", parquet, &options.with_skip_null(true))?;
    assert_eq!(got.get(1).map(|(t, _)| t.as_str()), Some("{}"));
    Ok(())
}

/// Hands out its bytes a few at a time, as a pipe might.
struct Trickle {
    bytes: Vec<u8>,
    at: usize,
    step: usize,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.step = self.step % 5 + 1;
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let n = rest.len().min(buf.len()).min(self.step);
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

/// A CSV reader of `bytes` handed out a few at a time (from `step`).
fn trickled_csv(
    name: &str,
    bytes: &[u8],
    step: usize,
) -> Result<Box<dyn transmogrify_io::Reader>, transmogrify_io::Error> {
    let trickle = Trickle {
        bytes: bytes.to_vec(),
        at: 0,
        step,
    };
    let options = ReaderOptions::builder()
        .with_format(Some(InputFormat::Csv))
        .build()?;
    reader_for(Input::from_reader(name, trickle, None)?, &options)
}

#[test]
fn csv_bytes_that_are_not_utf8_are_pointed_at() -> TestResult {
    // Multi-byte characters and bad sequences wherever the reads happen to cut them.
    let mut csv = b"name,note\n".to_vec();
    let mut want = Vec::new();
    let cells: [&[u8]; 6] = [
        b"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80",
        b"x\xffy",
        b"\xe6\x97",
        b"\"q\n\xc3\xa9\xc3(\"",
        b"\xf0\x9f\x98\x80\x80",
        b"ok",
    ];
    for (i, cell) in cells.iter().cycle().take(60).enumerate() {
        let row_start = csv.len();
        csv.extend_from_slice(format!("{i},").as_bytes());
        csv.extend_from_slice(cell);
        csv.push(b'\n');
        // Where the first bad byte of the row is, counted the slow way.
        let row = csv.get(row_start..).unwrap_or_default();
        if let Err(e) = std::str::from_utf8(row) {
            let at = row_start + e.valid_up_to();
            let before = csv.get(..at).unwrap_or_default();
            let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            let column = 1 + before
                .get(line_start..)
                .unwrap_or_default()
                .iter()
                .filter(|&&b| (b & 0xC0) != 0x80)
                .count();
            want.push(format!("line {line}, column {column} (byte {at}"));
        }
    }
    for step in [0, 2, 3] {
        let mut got = Vec::new();
        for batch in trickled_csv("u.csv", &csv, step)? {
            for item in &batch?.items {
                if let RawItem::Bad { error, .. } = item {
                    let text = error.to_string();
                    let from = text.find("line ").unwrap_or(0);
                    let to = text.find(", record").unwrap_or(text.len());
                    got.push(text.get(from..to).unwrap_or_default().to_string());
                }
            }
        }
        assert_eq!(got, want, "reads from {step}");
    }
    assert_eq!(want.len(), 40);
    // Column names that are not text are refused, not changed.
    let error = records(
        "h.csv",
        b"a,\xffb\n1,2\n".to_vec(),
        &ReaderOptions::default(),
    )
    .err()
    .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            "h.csv: line 1, column 3 (byte 2, record 0): the header's field 2 is not valid UTF-8 near `a,\u{fffd}b`"
        )
    );
    // A quote the header leaves open takes every row into the header: an error
    // where it opened, not a file of no rows. A header quote that closes in a later
    // line is a header with a line break in a name.
    let open = "h.csv: line 1, column 3 (byte 2, record 0): unterminated quoted field in the \
                header: the quote opened here is never closed, and the header took the rest \
                of the input near `a,\"b 1,2`";
    for text in [&b"a,\"b\n1,2\n"[..], b"a,\"b\n1,2\n3,4"] {
        let error = records("h.csv", text.to_vec(), &ReaderOptions::default())
            .err()
            .map(|e| e.to_string());
        let want = if text.ends_with(b"4") {
            open.replace("1,2`", "1,2 3,4`")
        } else {
            open.to_string()
        };
        assert_eq!(error, Some(want));
    }
    let got = records(
        "h.csv",
        b"a,\"b\nc\"\n1,2\n".to_vec(),
        &ReaderOptions::default(),
    )?;
    assert_eq!(got.0.len(), 1);
    assert_eq!(got.0[0].0, r#"{"a":1,"b\nc":2}"#);
    Ok(())
}

/// Every item of a reader as (text, position, bad), ordinals counted from `first`.
fn items_of(
    reader: &mut dyn transmogrify_io::Reader,
    first: u64,
) -> Result<Vec<(String, Position, bool)>, transmogrify_io::Error> {
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch?;
        for item in &batch.items {
            let (range, position, bad) = match item {
                RawItem::Record { range, position } => (range, *position, false),
                RawItem::Bad { error, range } => (range, error.position, true),
            };
            let position = Position {
                ordinal: first + out.len() as u64,
                ..position
            };
            let text = String::from_utf8_lossy(batch.bytes(range)).into_owned();
            out.push((text, position, bad));
        }
    }
    Ok(out)
}

#[test]
fn csv_ranges_read_on_their_own_give_the_rows_of_one_pass() -> TestResult {
    // Line breaks, delimiters and doubled quotes inside quotes, CRLF and lone CR
    // endings, blank lines, rows of the wrong width, a quote left open at the end.
    let mut csv = b"skipped \"line\nid,note\r\n".to_vec();
    for i in 0..60 {
        let row = match i % 6 {
            0 => format!("{i},\"two\nlines\"\n"),
            1 => format!("{i},\"a,\"\"b\"\"\"\r\n"),
            2 => format!("\r\n\n{i},x\n"),
            3 => format!("{i},y,extra\n"),
            4 => format!("{i},\"\n\"\r{i}b,z\n"),
            _ => format!("{i},\"\"\n"),
        };
        csv.extend_from_slice(row.as_bytes());
    }
    // (On its own line: a quote that took later lines would stop the input.)
    csv.extend_from_slice(b"60,\"never closed\n");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rows.csv");
    std::fs::write(&path, &csv)?;
    let options = ReaderOptions::builder()
        .with_format(Some(InputFormat::Csv))
        .with_csv(CsvOptions::default().with_skip_rows(1))
        .build()?;
    let whole = items_of(&mut *transmogrify_io::open_reader(&path, &options)?, 0)?;
    assert_eq!(whole.len(), 71);
    assert_eq!(whole.iter().filter(|(_, _, bad)| *bad).count(), 11);
    for target in [1, 7, 30, 64, 100, 1000] {
        let mut splitter = CsvSplitter::open(&path, &options)?.ok_or("a plain file")?;
        let mut ranges = Vec::new();
        while let Some(range) = splitter.next_range(target)? {
            ranges.push(range);
        }
        assert!(splitter.ends_in_quotes());
        let reader = splitter.ranges()?;
        let mut got = Vec::new();
        let mut end = 0;
        for range in &ranges {
            assert_eq!(range.start, end, "ranges follow one another");
            end = range.end;
            // A range starts a line, after a line break outside quotes.
            assert!(range.start == 0 || csv.get(range.start as usize - 1) == Some(&b'\n'));
            let items = items_of(&mut *reader.reader(range)?, got.len() as u64)?;
            assert_eq!(items.len() as u64, range.records, "{range:?}");
            got.extend(items);
        }
        assert_eq!(end, csv.len() as u64);
        assert_eq!(got, whole, "ranges of at least {target} bytes");
        if target == 1 {
            assert!(ranges.len() > 60, "{}", ranges.len());
        }
    }
    // Past the reader's buffer (256 KiB), where a buffer may end anywhere in a row:
    // right after a delimiter, inside quotes, between a quote and its double. First
    // a field's opening quote as the first byte of the second buffer, its delimiter
    // the last of the first: the line break inside must not end the row.
    let mut big = b"id,a,b\n".to_vec();
    let mut n = 0u64;
    while big.len() < (256 << 10) - 40 {
        big.extend_from_slice(b"1,x,y\n");
        n += 1;
    }
    let pad = (256 << 10) - big.len() - "2,,".len();
    big.extend_from_slice(format!("2,{},\"in\nside\"\n", "x".repeat(pad)).as_bytes());
    assert_eq!(big.get(256 << 10), Some(&b'"'));
    n += 1;
    while big.len() < 700_000 {
        n += 1;
        let row = match n % 5 {
            0 => format!("{n},\"x\ny\",\"q\"\"\"\n"),
            1 => format!("{n},,\"\"\n"),
            2 => format!("{n},\"{}\",z\n", ",".repeat((n % 17) as usize)),
            3 => format!("{n},a\"b,\"\n\"\r\n"),
            _ => format!("{n},\"\"\"\",\"\n\n\"\n"),
        };
        big.extend_from_slice(row.as_bytes());
    }
    let big_path = dir.path().join("big.csv");
    std::fs::write(&big_path, &big)?;
    let options = ReaderOptions::builder()
        .with_format(Some(InputFormat::Csv))
        .build()?;
    let whole = items_of(&mut *transmogrify_io::open_reader(&big_path, &options)?, 0)?;
    assert_eq!(whole.len() as u64, n);
    for target in [1_000, 65_537, 300_000] {
        let mut splitter = CsvSplitter::open(&big_path, &options)?.ok_or("a plain file")?;
        let mut got = Vec::new();
        while let Some(range) = splitter.next_range(target)? {
            let items = items_of(&mut *splitter.ranges()?.reader(&range)?, got.len() as u64)?;
            assert_eq!(items.len() as u64, range.records, "{range:?}");
            got.extend(items);
        }
        assert!(got == whole, "ranges of at least {target} bytes");
    }

    // Not plain files: read in one pass.
    let gz = dir.path().join("rows.csv.gz");
    std::fs::write(&gz, gzip(&csv))?;
    assert!(CsvSplitter::open(&gz, &options)?.is_none());
    let hidden = dir.path().join("rows.data");
    std::fs::write(&hidden, zstd(&csv))?;
    assert!(CsvSplitter::open(&hidden, &options)?.is_none());
    Ok(())
}

#[test]
fn a_plain_file_with_a_compressed_name_is_read_as_it_is() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (name, text) in [
        ("plain.jsonl.gz", &b"{\"a\":1}\n{\"a\":2}\n"[..]),
        ("plain.csv.zst", b"a\n1\n2\n"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text)?;
        assert_eq!(
            Input::open(&path)?.compression(),
            transmogrify_io::Compression::None
        );
        let mut got = Vec::new();
        for batch in transmogrify_io::open_reader(&path, &ReaderOptions::default())? {
            let batch = batch?;
            for item in &batch.items {
                if let RawItem::Record { range, .. } = item {
                    got.push(String::from_utf8_lossy(batch.bytes(range)).into_owned());
                }
            }
        }
        assert_eq!(got, [r#"{"a":1}"#, r#"{"a":2}"#], "{name}");
    }
    // Compressed bytes are known by their first bytes whatever the name.
    let path = dir.path().join("packed.jsonl");
    std::fs::write(&path, gzip(b"{\"a\":1}\n"))?;
    assert_eq!(
        Input::open(&path)?.compression(),
        transmogrify_io::Compression::Gzip
    );
    Ok(())
}

#[test]
fn text_after_a_closing_quote_is_a_bad_row_where_it_starts() -> TestResult {
    // The parser would make `"x"y` the field `xy`: the row is refused instead, at
    // the byte after the closing quote, wherever the reads cut it, with its bytes
    // as written.
    let csv =
        b"a,b\n1,\"x\"y\n2,\"ok\"\n3,\"p\"\"q\"\n4,\"caf\xc3\xa9\" \n5,\"two\nlines\"!\n6,\"\"\n"
            .to_vec();
    for step in [0, 1, 2, 3, 4] {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        let mut raw = Vec::new();
        for batch in trickled_csv("q.csv", &csv, step)? {
            let batch = batch?;
            for item in &batch.items {
                match item {
                    RawItem::Record { range, .. } => {
                        good.push(String::from_utf8_lossy(batch.bytes(range)).into_owned());
                    }
                    RawItem::Bad { error, range } => {
                        bad.push(error.to_string());
                        raw.push(String::from_utf8_lossy(batch.bytes(range)).into_owned());
                    }
                }
            }
        }
        assert_eq!(
            good,
            [
                r#"{"a":2,"b":"ok"}"#,
                r#"{"a":3,"b":"p\"q"}"#,
                r#"{"a":6,"b":null}"#
            ],
            "reads from {step}"
        );
        let why =
            "text after a field's closing quote (a quote inside a quoted field is written twice)";
        assert_eq!(
            bad,
            [
                format!("q.csv: line 2, column 6 (byte 9, record 0): {why} near `1,\"x\"y`"),
                format!("q.csv: line 5, column 9 (byte 36, record 3): {why} near `4,\"café\"`"),
                format!(
                    "q.csv: line 7, column 7 (byte 51, record 4): {why} near `5,\"two lines\"!`"
                ),
            ],
            "reads from {step}"
        );
        assert_eq!(
            raw,
            ["1,\"x\"y", "4,\"café\" ", "5,\"two\nlines\"!"],
            "reads from {step}"
        );
    }
    Ok(())
}

/// A bad row's raw text is its bytes as written whatever rows came before it (long
/// rows across many reads), and for a row of over 1 MiB its fields as read: the
/// same however the input is read.
#[test]
fn bad_rows_keep_their_bytes_after_long_rows() -> TestResult {
    let y = "y".repeat(200_000);
    let mut csv = String::from("a,b\n");
    for i in 0..4 {
        csv.push_str(&format!("{i},\"{y}\n{y}\"\n"));
    }
    let long = "z".repeat((1 << 20) + 10);
    csv.push_str(&format!("88,\"a\"b\n4,\"{long}\"x\n9,10\n7,\"q\"z"));
    for step in [0, 4096, 100_000] {
        let mut raw = Vec::new();
        let mut good = 0;
        for batch in trickled_csv("long.csv", csv.as_bytes(), step)? {
            let batch = batch?;
            for item in &batch.items {
                match item {
                    RawItem::Record { .. } => good += 1,
                    RawItem::Bad { range, .. } => {
                        let text = String::from_utf8_lossy(batch.bytes(range)).into_owned();
                        raw.push(text.chars().take(12).collect::<String>());
                    }
                }
            }
        }
        assert_eq!(good, 5, "reads of {step}");
        assert_eq!(
            raw,
            ["88,\"a\"b", "4,zzzzzzzzzz", "7,\"q\"z"],
            "reads of {step}"
        );
    }
    Ok(())
}

#[test]
fn a_byte_order_mark_is_not_part_of_a_csv_files_first_field() -> TestResult {
    // The mark would hide the quote that opens the first field: the header's quoted
    // name holding a delimiter and a line break, a headless file's quoted first
    // field, its first number (typed). Byte offsets count it, columns do not; whole
    // and in ranges alike.
    let bom = "\u{feff}";
    let csv = format!("{bom}\"id,\nname\",v\n\"1,x\",2\n3,\"4\"x\n");
    let options = ReaderOptions::builder()
        .with_format(Some(InputFormat::Csv))
        .build()?;
    let (good, bad) = records("t.csv", csv.clone().into_bytes(), &options)?;
    let texts: Vec<&str> = good.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(texts, [r#"{"id,\nname":"1,x","v":2}"#]);
    assert_eq!(good[0].1, Position::line_start(0, 3, 16));
    assert_eq!(
        bad,
        [
            "t.csv: line 4, column 6 (byte 29, record 1): text after a field's closing \
          quote (a quote inside a quoted field is written twice) near `3,\"4\"x`"
        ]
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("t.csv");
    std::fs::write(&path, &csv)?;
    for target in [1, 5, 100] {
        let mut splitter = CsvSplitter::open(&path, &options)?.ok_or("a plain file")?;
        let mut got = Vec::new();
        while let Some(range) = splitter.next_range(target)? {
            let items = items_of(&mut *splitter.ranges()?.reader(&range)?, got.len() as u64)?;
            got.extend(items);
        }
        let texts: Vec<&str> = got.iter().map(|(t, _, _)| t.as_str()).collect();
        assert_eq!(texts.len(), 2, "ranges of {target}: {texts:?}");
        assert_eq!(
            texts[0], r#"{"id,\nname":"1,x","v":2}"#,
            "ranges of {target}"
        );
        assert_eq!(got[0].1, good[0].1, "ranges of {target}");
    }
    let headless = ReaderOptions::builder()
        .with_format(Some(InputFormat::Csv))
        .with_csv(CsvOptions::default().with_has_header(false))
        .with_infer_types(true)
        .build()?;
    let (good, bad) = records("t.csv", format!("{bom}\"x,1\",2\n").into_bytes(), &headless)?;
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(good[0].0, r#"{"column_1":"x,1","column_2":2}"#);
    let (good, _) = records("t.csv", format!("{bom}5\n6\n").into_bytes(), &headless)?;
    let texts: Vec<&str> = good.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(texts, [r#"{"column_1":5}"#, r#"{"column_1":6}"#]);
    // A mark alone is an empty file: no columns.
    let (good, bad) = records("t.csv", bom.as_bytes().to_vec(), &headless)?;
    assert!(good.is_empty() && bad.is_empty());
    Ok(())
}
