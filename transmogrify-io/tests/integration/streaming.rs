//! Streamed output: bounded parts, final files with the full column set and types.

use std::path::Path;

use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use transmogrify_core::{ArrayMode, ProcessingResult};
use transmogrify_io::{
    Input, PartSpiller, ReaderOptions, WriteOptions, WriteResultExt, reader_for, stream_to_dir,
};

use crate::support::{Rows, TestResult, parse_json_rows, processor, read_bytes, rows_of, tables};

const RECORDS: usize = 100_000;

/// 100,000 records; only the last has `late` (and its child row `late_kid`), and
/// `num` turns from integers to a float there.
fn input() -> Vec<u8> {
    let mut s = String::with_capacity(RECORDS * 48);
    for i in 0..RECORDS - 1 {
        s.push_str(&format!(
            "{{\"id\":{i},\"num\":{i},\"kids\":[{{\"k\":{i}}}]}}\n"
        ));
    }
    s.push_str("{\"id\":-1,\"num\":0.5,\"kids\":[{\"k\":0,\"late_kid\":true}],\"late\":\"L\"}\n");
    s.into_bytes()
}

fn stream(text: bool, format: &str, dir: &Path) -> TestResult {
    let input = Input::from_bytes("late.jsonl", input())?;
    let mut reader = reader_for(input, &ReaderOptions::default())?;
    let options = WriteOptions::builder()
        .with_part_bytes(256 * 1024)
        .with_data_dictionary(true)
        .build()?;
    let summary = stream_to_dir(
        &processor(text, ArrayMode::Smart),
        &mut *reader,
        "things",
        dir,
        format,
        options,
    )?;
    assert_eq!(summary.files[0].rows, RECORDS as u64);
    assert_eq!(summary.files[1].rows, RECORDS as u64);
    Ok(())
}

fn json_rows(path: &Path, lines: bool) -> Result<Rows, Box<dyn std::error::Error>> {
    Ok(parse_json_rows(&std::fs::read(path)?, lines)?)
}

#[test]
fn a_column_of_the_last_record_is_in_every_format() -> TestResult {
    let dir = tempfile::tempdir()?;
    for text in [true, false] {
        let expected = tables(&read_bytes(
            &processor(text, ArrayMode::Smart),
            "late.jsonl",
            input(),
            &ReaderOptions::default(),
        )?);
        // Typed mode: the formats that keep types (the text ones render the same cells).
        let formats: &[&str] = if text {
            &["parquet", "csv", "json", "jsonl"]
        } else {
            &["parquet", "jsonl"]
        };
        for &format in formats {
            let out = dir.path().join(format!("{format}-{text}"));
            stream(text, format, &out)?;
            for (table, (name, cols, rows)) in ["things", "things_kids"].iter().zip(&expected) {
                assert_eq!(table, name);
                let late = if *table == "things" {
                    "late"
                } else {
                    "late_kid"
                };
                let path = out.join(format!("{table}.{format}"));
                match format {
                    "parquet" => {
                        let bytes = Bytes::from(std::fs::read(&path)?);
                        let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(bytes)?
                            .build()?
                            .collect::<Result<_, _>>()?;
                        let got: Vec<_> = batches[0]
                            .schema()
                            .fields()
                            .iter()
                            .map(|f| (f.name().clone(), f.data_type().clone()))
                            .collect();
                        assert_eq!(&got, cols);
                        if !text {
                            // The streamed file equals the in-memory result, cell for cell.
                            assert_eq!(&rows_of(&batches), rows, "{table}");
                        } else {
                            let n: usize = batches.iter().map(|b| b.num_rows()).sum();
                            assert_eq!(n, RECORDS);
                        }
                    }
                    "csv" => {
                        let mut reader = csv::Reader::from_path(&path)?;
                        let header: Vec<String> =
                            reader.headers()?.iter().map(str::to_string).collect();
                        let col = header.iter().position(|h| h == late);
                        let Some(col) = col else {
                            panic!("{late} missing: {header:?}")
                        };
                        let records: Vec<csv::StringRecord> =
                            reader.records().collect::<Result<_, _>>()?;
                        assert_eq!(records.len(), RECORDS);
                        assert_eq!(&records[0][col], "");
                        let want = if *table == "things" { "L" } else { "true" };
                        assert_eq!(&records[RECORDS - 1][col], want);
                    }
                    _ => {
                        let got = json_rows(&path, format == "jsonl")?;
                        assert_eq!(got.len(), RECORDS);
                        assert_eq!(got[0], rows[0], "{table} {format} {text}");
                        assert_eq!(got[RECORDS - 1], rows[RECORDS - 1], "{table} {format}");
                        let keys: Vec<&String> = got[0].keys().collect();
                        let names: Vec<&String> = cols.iter().map(|c| &c.0).collect();
                        assert_eq!(keys, names);
                        assert_eq!(got[0][late], Value::Null);
                    }
                }
            }
            if !text {
                let dict: Value =
                    serde_json::from_slice(&std::fs::read(out.join("_schema.json"))?)?;
                let num = &dict["tables"][0]["columns"][1];
                assert_eq!(num["name"], "num");
                assert_eq!(num["type"], "float64");
            }
        }
    }
    Ok(())
}

/// Runs table jobs one after another, noting the order they come in.
struct Recording(std::sync::Mutex<Vec<String>>);

impl transmogrify_io::TableJobs for Recording {
    fn run_all<'a>(
        &self,
        jobs: Vec<transmogrify_io::TableJob<'a>>,
    ) -> Vec<transmogrify_io::Result<transmogrify_io::OutputFile>> {
        jobs.into_iter()
            .map(|job| {
                let file = job()?;
                if let Ok(mut order) = self.0.lock() {
                    order.push(file.table.clone());
                }
                Ok(file)
            })
            .collect()
    }
}

/// A streamed output in `format` into `dir` with the default options.
fn output(
    dir: impl AsRef<Path>,
    format: &str,
    processor: &transmogrify_core::Processor,
) -> transmogrify_io::Result<transmogrify_io::StreamingOutput> {
    transmogrify_io::StreamingOutput::new(
        dir.as_ref(),
        format,
        processor.config(),
        WriteOptions::default(),
    )
}

#[test]
fn tables_are_handed_out_largest_first_and_reported_in_table_order() -> TestResult {
    // Per record: one main row, one `small` row, five `big` rows.
    let text: String = (0..2_000)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"small\":[{{\"s\":{i}}}],\"big\":[{{\"b\":1}},{{\"b\":2}},{{\"b\":3}},{{\"b\":4}},{{\"b\":5}}]}}\n"
            )
        })
        .collect();
    let dir = tempfile::tempdir()?;
    let processor = processor(true, ArrayMode::Smart);
    let mut out = output(dir.path(), "csv", &processor)?;
    out.add(processor.process(text.as_bytes(), "t")?)?;
    let recording = Recording(std::sync::Mutex::new(Vec::new()));
    let summary = out.finish_with(&recording)?;
    let order = recording.0.lock().map(|o| o.clone()).unwrap_or_default();
    // `small` rows carry a parent id as well: more bytes than the main rows.
    assert_eq!(order, ["t_big", "t_small", "t"]);
    let reported: Vec<&str> = summary.files.iter().map(|f| f.table.as_str()).collect();
    assert_eq!(reported, ["t", "t_small", "t_big"]);
    let rows: Vec<u64> = summary.files.iter().map(|f| f.rows).collect();
    assert_eq!(rows, [2_000, 2_000, 10_000]);
    Ok(())
}

#[cfg(unix)]
#[test]
fn spill_files_are_private_to_the_user() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let processor = processor(true, ArrayMode::Smart);
    let mut out = output(dir.path(), "csv", &processor)?;
    out.add(processor.process(br#"{"a": 1}"#, "t")?)?;
    let spill: Vec<_> = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".transmogrify-spill-")
        })
        .collect();
    assert_eq!(spill.len(), 1);
    let mode = spill[0].metadata()?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    out.finish()?;
    // Gone once the tables are written.
    assert!(
        std::fs::read_dir(dir.path())?
            .filter_map(|e| e.ok())
            .all(|e| !e
                .file_name()
                .to_string_lossy()
                .starts_with(".transmogrify-spill-"))
    );
    Ok(())
}

#[test]
fn spilled_parts_are_removed_once_written() -> TestResult {
    let dir = tempfile::tempdir()?;
    let processor = processor(true, ArrayMode::Smart);
    let mut out = output(dir.path(), "parquet", &processor)?;
    for part in 0..3 {
        let text = format!(r#"{{"a": {part}, "b": [{{"c": {part}}}, {{"c": 0}}]}}"#);
        out.add(processor.process_at(text.as_bytes(), "t", part)?)?;
    }
    let summary = out.finish()?;
    let rows: Vec<(&str, u64)> = summary
        .files
        .iter()
        .map(|f| (f.table.as_str(), f.rows))
        .collect();
    assert_eq!(rows, [("t", 3), ("t_b", 6)]);
    // The spill files and their directory are gone by the time `finish` returns.
    assert_eq!(file_names(dir.path())?, ["t.parquet", "t_b.parquet"]);
    Ok(())
}

/// Parts prepared in other threads ([`PartPreparer`]) and added, alone or between
/// parts added whole, give the files that adding every part whole gives, in every
/// format: spilled formats from their frames, CSV from the parts themselves.
#[test]
fn prepared_parts_write_the_files_added_parts_write() -> TestResult {
    let processor = processor(true, ArrayMode::Smart);
    let texts = changing_parts();
    let parts = || -> transmogrify_core::Result<Vec<ProcessingResult>> {
        let mut ordinal = 0;
        texts
            .iter()
            .map(|text| {
                let mut session = processor.session("t");
                session.set_next_ordinal(ordinal);
                session.push_json_text(text.as_bytes(), "parts.jsonl")?;
                ordinal = session.next_ordinal();
                session.finish()
            })
            .collect()
    };
    for format in ["parquet", "jsonl", "json", "csv"] {
        let dir = tempfile::tempdir()?;
        let mut outputs = Vec::new();
        // Every part added whole; every part prepared; prepared and left as it is
        // in turn; spilled by two spillers (as by two worker processes) in turn;
        // spilled and added whole in turn. CSV output takes no spilled parts. The
        // spill and the files written behind (on a thread of their own) or not.
        let modes = [
            ("whole", [How::Add, How::Add], false),
            ("whole-behind", [How::Add, How::Add], true),
            ("prepared", [How::Prepare, How::Prepare], false),
            ("mixed", [How::Prepare, How::Leave], false),
            ("mixed-behind", [How::Prepare, How::Leave], true),
            ("spilled", [How::Spill(0), How::Spill(1)], false),
            ("spilled-and-whole", [How::Add, How::Spill(1)], false),
            ("spilled-and-whole-behind", [How::Add, How::Spill(1)], true),
        ];
        for (name, how, behind) in modes {
            let out_dir = dir.path().join(name);
            let mut out = output(&out_dir, format, &processor)?.with_write_behind(behind);
            let spill_dir = out.spill_dir().map(Path::to_path_buf);
            if spill_dir.is_none() && name.starts_with("spilled") {
                assert_eq!(format, "csv");
                continue;
            }
            let spillers = match &spill_dir {
                Some(spill_dir) => vec![
                    PartSpiller::new(spill_dir, "w1")?,
                    PartSpiller::new(spill_dir, "w2")?,
                ],
                None => Vec::new(),
            };
            let mut spillers = spillers.into_iter().map(Some).collect::<Vec<_>>();
            let preparer = out.preparer();
            for (i, part) in parts()?.into_iter().enumerate() {
                match how[i % 2] {
                    How::Prepare => {
                        let prepared = std::thread::spawn(move || preparer.prepare(part))
                            .join()
                            .map_err(|_| "a thread preparing a part panicked")??;
                        out.add_prepared(prepared)?;
                    }
                    How::Leave => out.add_prepared(part.into())?.map_or((), drop),
                    How::Add => out.add(part)?,
                    How::Spill(k) => {
                        // Spilled in a thread of its own; the first spiller also
                        // spills a part that never comes, between those that do.
                        let mut spiller = spillers[k].take().ok_or("no spiller")?;
                        let extra = (k == 0 && i == 2).then(&parts).transpose()?;
                        let (spiller, spilled) = std::thread::spawn(move || {
                            if let Some(extra) = extra.and_then(|p| p.into_iter().next()) {
                                drop(spiller.spill(extra)?);
                            }
                            let spilled = spiller.spill(part)?;
                            Ok::<_, transmogrify_io::Error>((spiller, spilled))
                        })
                        .join()
                        .map_err(|_| "a thread spilling a part panicked")??;
                        spillers[k] = Some(spiller);
                        out.add_prepared(spilled.into())?;
                    }
                }
            }
            let summary = out.finish()?;
            let mut files = Vec::new();
            for name in file_names(&out_dir)? {
                files.push((name.clone(), std::fs::read(out_dir.join(&name))?));
            }
            outputs.push((name, summary.files.len(), files));
        }
        let (_, tables, whole) = &outputs[0];
        let names: Vec<&str> = whole.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(*tables, 3, "{format}");
        assert_eq!(
            names,
            [
                format!("t.{format}"),
                format!("t_kids.{format}"),
                format!("t_last.{format}")
            ],
            "{format}"
        );
        assert_eq!(outputs.len(), if format == "csv" { 5 } else { 8 });
        for (name, tables, files) in &outputs[1..] {
            assert_eq!((tables, files), (&3, whole), "{format}: {name}");
        }
    }
    Ok(())
}

/// How a test adds a part to an output.
#[derive(Debug, Clone, Copy)]
enum How {
    /// [`StreamingOutput::add`].
    Add,
    /// Prepared in another thread.
    Prepare,
    /// Left as it is ([`PreparedPart::from`]).
    Leave,
    /// Spilled by spiller `k`.
    Spill(usize),
}

/// A part spilled by another process is read back checked: damaged strings in its
/// frames are an error naming the damage, not a file written from them; and a part
/// said to be spilled into a file no spiller makes is refused.
#[test]
fn damaged_parts_spilled_elsewhere_are_refused() -> TestResult {
    let processor = processor(true, ArrayMode::Smart);
    let dir = tempfile::tempdir()?;
    let mut out = output(dir.path().join("out"), "parquet", &processor)?;
    let spill_dir = out
        .spill_dir()
        .ok_or("Parquet output spills")?
        .to_path_buf();
    let mut spiller = PartSpiller::new(&spill_dir, "w1")?;
    let spilled = spiller.spill(processor.process(br#"{"a": "qqqqqqqq"}"#, "t")?)?;
    let file = spill_dir.join(&spilled.tables()[0].file);
    let bytes = std::fs::read(&file)?;
    let at = bytes
        .windows(8)
        .position(|w| w == b"qqqqqqqq")
        .ok_or("the value is in the frame")?;
    let mut damaged = bytes.clone();
    damaged[at..at + 8].copy_from_slice(&[0xff; 8]);
    std::fs::write(&file, damaged)?;
    out.add_prepared(spilled.into())?;
    let error = out.finish().err().map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("checking a decoded batch: Invalid argument error: strings are not UTF-8")
    );
    assert!(!dir.path().join("out").join("t.parquet").exists());

    let mut out = output(dir.path().join("out2"), "parquet", &processor)?;
    let spilled = transmogrify_io::SpilledPart::new(
        processor.process(br#"{"a": 1}"#, "t")?.compact_layout(),
        vec![transmogrify_io::SpilledFrames {
            path: vec![],
            array_levels: vec![],
            file: "../t.parquet".into(),
            frames: vec![(0, 4)],
        }],
    );
    let error = out
        .add_prepared(spilled.into())
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            "internal error (this is a bug, please report it): a part was spilled into \
             \"../t.parquet\", which is no spill file's name"
        )
    );
    Ok(())
}

/// A part prepared for an output that spills cannot go to one that writes CSV from
/// its parts: that is an error, not a wrong file.
#[test]
fn a_part_prepared_for_another_kind_of_output_is_an_error() -> TestResult {
    let processor = processor(true, ArrayMode::Smart);
    let dir = tempfile::tempdir()?;
    let spilling = output(dir.path().join("pq"), "parquet", &processor)?;
    let mut csv = output(dir.path().join("csv"), "csv", &processor)?;
    let part = spilling
        .preparer()
        .prepare(processor.process(br#"{"a": 1}"#, "t")?)?;
    let error = csv.add_prepared(part).err().map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("prepared for spilling")),
        "{error:?}"
    );
    Ok(())
}

/// The names of the files in `dir`, sorted.
fn file_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    Ok(names)
}

/// The results of `texts`, one part each, numbered on from the part before (as the
/// parts of one input are), so that their positional ids do not repeat.
fn numbered_parts(
    processor: &transmogrify_core::Processor,
    texts: &[String],
) -> transmogrify_core::Result<Vec<ProcessingResult>> {
    let mut ordinal = 0;
    texts
        .iter()
        .map(|text| {
            let part = processor.process_at(text.as_bytes(), "t", ordinal)?;
            ordinal += part.record_count() + part.errors().len() as u64;
            Ok(part)
        })
        .collect()
}

/// Parts whose layouts change as they come: a main-table column that appears late
/// and holds delimiters, quotes and line breaks; a nested path whose name a later
/// flat key takes (renaming the earlier column); a child table that gains a column;
/// a table that appears only in the last part.
fn changing_parts() -> Vec<String> {
    let cells = [
        "plain",
        "a,b",
        "a;b",
        "say \"hi\"",
        "two\nlines",
        "tab\there",
        "é ü",
        "",
    ];
    (0..6)
        .map(|part| {
            (0..50)
                .map(|i| {
                    let n = part * 50 + i;
                    let cell = serde_json::to_string(cells[n % cells.len()]).unwrap_or_default();
                    let mut record = format!("{{\"id\":{n},\"text\":{cell},\"a\":{{\"b\":{n}}}");
                    if part >= 2 {
                        record.push_str(&format!(",\"late\":{cell}"));
                    }
                    if part >= 3 {
                        record.push_str(&format!(",\"a_b\":\"flat {n}\""));
                    }
                    let kid = if part >= 4 {
                        format!("{{\"k\":{n},\"more\":{cell}}}")
                    } else {
                        format!("{{\"k\":{n}}}")
                    };
                    record.push_str(&format!(",\"kids\":[{kid},{kid}]"));
                    if part == 5 && i == 49 {
                        record.push_str(",\"last\":[{\"x\":1}]");
                    }
                    record.push_str("}\n");
                    record
                })
                .collect()
        })
        .collect()
}

/// The files of `texts`, flattened by `processor` one part each, written as CSV at
/// once; and the summary of the same parts streamed into `dir`.
fn csv_at_once_and_streamed(
    processor: &transmogrify_core::Processor,
    texts: &[String],
    options: &WriteOptions,
    dir: &Path,
) -> Result<
    (
        Vec<transmogrify_io::OutputBytes>,
        transmogrify_io::OutputSummary,
    ),
    Box<dyn std::error::Error>,
> {
    let parts = numbered_parts(processor, texts)?;
    let expected = transmogrify_core::ProcessingResult::combine_results(parts.clone())?
        .to_bytes("csv", options)?;
    let mut out =
        transmogrify_io::StreamingOutput::new(dir, "csv", processor.config(), options.clone())?;
    for part in parts {
        out.add(part)?;
    }
    Ok((expected, out.finish()?))
}

/// Each of `expected` is in `dir`, byte for byte (written with `delimiter`).
fn assert_files_are(
    dir: &Path,
    expected: &[transmogrify_io::OutputBytes],
    delimiter: u8,
) -> TestResult {
    for file in expected {
        let got = std::fs::read(dir.join(&file.file_name))?;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&file.bytes),
            "{} with {:?}",
            file.file_name,
            delimiter as char
        );
    }
    Ok(())
}

#[test]
fn csv_rows_written_as_they_come_are_the_files_written_at_once() -> TestResult {
    let processor = processor(true, ArrayMode::Smart);
    for delimiter in [b',', b';', b'\t'] {
        let options = WriteOptions::builder()
            .with_csv_delimiter(delimiter)
            .build()?;
        let dir = tempfile::tempdir()?;
        let (expected, summary) =
            csv_at_once_and_streamed(&processor, &changing_parts(), &options, dir.path())?;
        let names: Vec<&str> = expected.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(names, ["t.csv", "t_kids.csv", "t_last.csv"]);
        assert_files_are(dir.path(), &expected, delimiter)?;
        let header = String::from_utf8_lossy(&expected[0].bytes)
            .lines()
            .next()
            .map(str::to_string);
        let sep = (delimiter as char).to_string();
        // The flat key `a_b` takes the name the nested `a.b` had in the first parts.
        let want = [
            "id",
            "text",
            "a_b_2",
            "late",
            "a_b",
            "__extract_id",
            "__extract_datetime",
        ];
        assert_eq!(header, Some(want.join(&sep)));
        let rows: Vec<u64> = summary.files.iter().map(|f| f.rows).collect();
        assert_eq!(rows, [300, 600, 1]);
        let bytes: Vec<u64> = summary.files.iter().map(|f| f.bytes).collect();
        let want: Vec<u64> = expected.iter().map(|f| f.bytes.len() as u64).collect();
        assert_eq!(bytes, want);
        // Nothing but the tables is left in the directory.
        assert_eq!(
            file_names(dir.path())?,
            ["t.csv", "t_kids.csv", "t_last.csv"]
        );
    }
    Ok(())
}

#[test]
fn an_abandoned_csv_output_leaves_nothing_behind() -> TestResult {
    let processor = processor(true, ArrayMode::Smart);
    let dir = tempfile::tempdir()?;
    let mut out = output(dir.path(), "csv", &processor)?;
    for part in numbered_parts(&processor, &changing_parts()[..3])? {
        out.add(part)?;
    }
    assert!(!file_names(dir.path())?.is_empty());
    drop(out);
    assert_eq!(file_names(dir.path())?, Vec::<String>::new());
    Ok(())
}

#[test]
fn the_layout_of_a_long_run_stays_small_and_keeps_every_column_and_kind() -> TestResult {
    for text in [true, false] {
        let processor = processor(text, ArrayMode::Smart);
        let dir = tempfile::tempdir()?;
        let mut out = output(dir.path(), "csv", &processor)?;
        for i in 0..100 {
            let record = match i {
                50 => r#"{"n": 0.5, "x": "late", "kids": [{"k": 1}]}"#.to_string(),
                _ => format!("{{\"n\": {i}}}"),
            };
            out.add(processor.process_at(record.as_bytes(), "t", i)?)?;
        }
        let layout = out.layout().ok_or("no layout")?;
        // One chunk per table, not one per part.
        let chunks: Vec<usize> = layout
            .to_raw()?
            .tables
            .iter()
            .map(|t| t.batches.len())
            .collect();
        assert_eq!(chunks, [1, 1]);
        assert_eq!(layout.num_rows("main"), Some(100));
        assert_eq!(layout.num_rows("t_kids"), Some(1));
        let main = layout.table_schema("main")?;
        let columns: Vec<(String, arrow_schema::DataType)> = main
            .schema
            .fields()
            .iter()
            .take(2)
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        let number = if text {
            arrow_schema::DataType::Utf8
        } else {
            arrow_schema::DataType::Float64
        };
        assert_eq!(
            columns,
            [
                ("n".to_string(), number),
                ("x".to_string(), arrow_schema::DataType::Utf8)
            ]
        );
        let summary = out.finish()?;
        let rows: Vec<u64> = summary.files.iter().map(|f| f.rows).collect();
        assert_eq!(rows, [100, 1]);
    }
    Ok(())
}

#[test]
fn two_csv_outputs_can_share_a_directory() -> TestResult {
    let processor = processor(true, ArrayMode::Smart);
    let dir = tempfile::tempdir()?;
    let mut users = output(dir.path(), "csv", &processor)?;
    let options = WriteOptions::builder().with_overwrite(true).build()?;
    let mut orders =
        transmogrify_io::StreamingOutput::new(dir.path(), "csv", processor.config(), options)?;
    for i in 0..3 {
        users.add(processor.process_at(format!("{{\"user\": {i}}}").as_bytes(), "users", i)?)?;
        orders.add(processor.process_at(
            format!("{{\"order\": {i}, \"lines\": [{{\"n\": 1}}]}}").as_bytes(),
            "orders",
            i,
        )?)?;
    }
    users.finish()?;
    orders.finish()?;
    let users = std::fs::read_to_string(dir.path().join("users.csv"))?;
    let orders = std::fs::read_to_string(dir.path().join("orders.csv"))?;
    let first = |text: &str| -> Vec<String> {
        text.lines()
            .skip(1)
            .filter_map(|l| l.split(',').next())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(first(&users), ["0", "1", "2"]);
    assert_eq!(first(&orders), ["0", "1", "2"]);
    assert!(users.starts_with("user,") && orders.starts_with("order,"));
    assert_eq!(
        file_names(dir.path())?,
        ["orders.csv", "orders_lines.csv", "users.csv"]
    );
    Ok(())
}

/// The built-in CSV writer, registered by a user under another name: it receives
/// the typed values, as every writer but the built-in CSV one does, and checks that
/// the float column `f` comes as floats.
struct UserCsv;

impl transmogrify_io::WriterFactory for UserCsv {
    fn extension(&self) -> &str {
        "csv"
    }

    fn create(
        &self,
        out: Box<dyn std::io::Write + Send>,
        schema: &arrow_schema::SchemaRef,
        options: &WriteOptions,
    ) -> transmogrify_io::Result<Box<dyn transmogrify_io::TableWriter>> {
        let inner = transmogrify_io::CsvWriterFactory.create(out, schema, options)?;
        Ok(Box::new(TypedValues(inner)))
    }
}

struct TypedValues(Box<dyn transmogrify_io::TableWriter>);

impl transmogrify_io::TableWriter for TypedValues {
    fn write(&mut self, batch: &arrow_array::RecordBatch) -> transmogrify_io::Result<()> {
        if let Some(f) = batch.column_by_name("f") {
            assert_eq!(f.data_type(), &arrow_schema::DataType::Float64);
        }
        self.0.write(batch)
    }

    fn finish(self: Box<Self>) -> transmogrify_io::Result<transmogrify_io::WriteSummary> {
        self.0.finish()
    }
}

#[test]
fn typed_csv_written_from_the_text_is_the_typed_values_written() -> TestResult {
    // Floats with trailing zeros, exponents, signed zeros and integers among them;
    // integers with a sign; integers beyond i64; booleans; a mixed column.
    let floats = [
        "5",
        "2.50",
        "-0.0",
        "0",
        "-0",
        "1e5",
        "1E-7",
        "0.000012",
        "0.0000012",
        "123456789012345",
        "1234567890123.5",
        "100000000000000",
        "12.340",
        "-3",
        "7.0",
    ];
    let parts: Vec<String> = (0..3)
        .map(|part| {
            (0..floats.len())
                .map(|i| {
                    let n = part * floats.len() + i;
                    let f = floats[n % floats.len()];
                    let mixed = if n % 4 == 0 {
                        "\"x\"".to_string()
                    } else {
                        n.to_string()
                    };
                    format!(
                        "{{\"f\":{f},\"i\":{},\"big\":{}0000000000000000000,\"ok\":{},\
                         \"m\":{mixed},\"kids\":[{{\"g\":{f}}}]}}\n",
                        n as i64 - 20,
                        n + 1,
                        n % 3 == 0
                    )
                })
                .collect()
        })
        .collect();
    let processor = processor(false, ArrayMode::Smart);
    let mut registry = transmogrify_io::WriterRegistry::default();
    registry.register("user-csv", std::sync::Arc::new(UserCsv));
    let options = WriteOptions::builder().with_registry(registry).build()?;
    let results = numbered_parts(&processor, &parts)?;
    let all = transmogrify_core::ProcessingResult::combine_results(results.clone())?;
    let mut outputs = Vec::new();
    for format in ["csv", "user-csv"] {
        let bytes: Vec<(String, Vec<u8>)> = all
            .to_bytes(format, &options)?
            .into_iter()
            .map(|f| (f.file_name, f.bytes))
            .collect();
        outputs.push(bytes);
        let dir = tempfile::tempdir()?;
        let mut out = transmogrify_io::StreamingOutput::new(
            dir.path(),
            format,
            processor.config(),
            options.clone(),
        )?;
        for part in results.clone() {
            out.add(part)?;
        }
        let summary = out.finish()?;
        let mut streamed = Vec::new();
        for file in &summary.files {
            let name = file
                .path
                .file_name()
                .map(|n| n.to_string_lossy().to_string());
            streamed.push((name.unwrap_or_default(), std::fs::read(&file.path)?));
        }
        outputs.push(streamed);
    }
    let text = |files: &[(String, Vec<u8>)]| -> Vec<(String, String)> {
        files
            .iter()
            .map(|(n, b)| (n.clone(), String::from_utf8_lossy(b).to_string()))
            .collect()
    };
    let want = text(&outputs[3]);
    for got in &outputs[..3] {
        assert_eq!(text(got), want);
    }
    let main = &want[0].1;
    let mut lines = main.lines();
    assert_eq!(
        lines.next(),
        Some("f,i,big,ok,m,__extract_id,__extract_datetime")
    );
    let first: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .take(5)
        .collect();
    assert_eq!(first, ["5.0", "-20", "10000000000000000000", "true", "x"]);
    let f: Vec<&str> = main
        .lines()
        .skip(1)
        .take(floats.len())
        .map(|l| l.split(',').next().unwrap_or_default())
        .collect();
    assert_eq!(
        f,
        [
            "5.0",
            "2.5",
            "-0.0",
            "0.0",
            "-0.0",
            "100000.0",
            "1e-7",
            "0.000012",
            "1.2e-6",
            "123456789012345.0",
            "1234567890123.5",
            "100000000000000.0",
            "12.34",
            "-3.0",
            "7.0"
        ]
    );
    Ok(())
}

/// Typed parts in which columns change type after rows were written: integers that
/// later meet floats, floats with trailing zeros (and a `-0`) that later meet text,
/// booleans that meet text, integers that meet one beyond `i64`, a child column
/// turning from integers to floats and one from integers beyond `i64` (and `-0`) to
/// text; text cells with delimiters, quotes and line breaks beside them; a column
/// first seen, then changing, late.
fn retyping_parts() -> Vec<String> {
    let texts = ["plain", "a,b", "a;b", "x.y", "say \"hi\"", "two\nlines", ""];
    (0..6)
        .map(|part| {
            (0..20)
                .map(|i| {
                    let n = part * 20 + i;
                    let text = serde_json::to_string(texts[n % texts.len()]).unwrap_or_default();
                    let int_float = if part >= 2 && i == 7 {
                        "2.5".to_string()
                    } else {
                        n.to_string()
                    };
                    let float_text = match (part, i % 4) {
                        (4, 3) => "\"later text\"".to_string(),
                        (_, 0) => "-0".to_string(),
                        (_, 1) => format!("{n}.50"),
                        (_, 2) => "1e5".to_string(),
                        _ => format!("{n}"),
                    };
                    let bool_text = if part == 3 && i == 0 {
                        "\"maybe\"".to_string()
                    } else {
                        (n % 3 == 0).to_string()
                    };
                    let big = if part == 5 && i == 19 {
                        "123456789012345678901234567890".to_string()
                    } else {
                        format!("-{n}")
                    };
                    let kid = if part >= 1 && i == 3 {
                        "0.125".to_string()
                    } else {
                        format!("{}", n % 4)
                    };
                    let decimal = match (part, i % 5) {
                        (4, 2) => "\"not a number\"".to_string(),
                        (_, 4) => "-0".to_string(),
                        _ => format!("{}{n:021}", n + 1),
                    };
                    let mut record = format!(
                        "{{\"t\":{text},\"i\":{int_float},\"f\":{float_text},\"b\":{bool_text},\
                         \"big\":{big},\"kids\":[{{\"g\":{kid},\"t\":{text},\"d\":{decimal}}}]"
                    );
                    if part >= 3 {
                        let late = if part == 5 && i == 10 {
                            "\"x\"".to_string()
                        } else {
                            format!("{n}.0")
                        };
                        record.push_str(&format!(",\"late\":{late}"));
                    }
                    record.push_str("}\n");
                    record
                })
                .collect()
        })
        .collect()
}

#[test]
fn typed_csv_rows_written_before_a_type_changed_are_written_again() -> TestResult {
    let processor = processor(false, ArrayMode::Smart);
    for delimiter in [b',', b';', b'\t', b'.'] {
        let options = WriteOptions::builder()
            .with_csv_delimiter(delimiter)
            .build()?;
        let dir = tempfile::tempdir()?;
        let (expected, _) =
            csv_at_once_and_streamed(&processor, &retyping_parts(), &options, dir.path())?;
        let names: Vec<&str> = expected.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(names, ["t.csv", "t_kids.csv"]);
        assert_files_are(dir.path(), &expected, delimiter)?;
        assert_eq!(file_names(dir.path())?, ["t.csv", "t_kids.csv"]);
    }
    // What the changes come to, with commas: the first row's cells as the final
    // types make them from the JSON text.
    let dir = tempfile::tempdir()?;
    csv_at_once_and_streamed(
        &processor,
        &retyping_parts(),
        &WriteOptions::default(),
        dir.path(),
    )?;
    let mut main = csv::Reader::from_path(dir.path().join("t.csv"))?;
    let header: Vec<String> = main.headers()?.iter().take(6).map(String::from).collect();
    assert_eq!(header, ["t", "i", "f", "b", "big", "late"]);
    let mut rows = Vec::new();
    for record in main.records().take(3) {
        let record = record?;
        rows.push(
            record
                .iter()
                .skip(1)
                .take(5)
                .map(String::from)
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        rows,
        [
            ["0.0", "-0", "true", "0", ""],
            ["1.0", "1.50", "false", "-1", ""],
            ["2.0", "1e5", "false", "-2", ""],
        ]
    );
    let kids = std::fs::read_to_string(dir.path().join("t_kids.csv"))?;
    let g: Vec<&str> = kids
        .lines()
        .skip(1)
        .take(4)
        .map(|l| l.split(',').next().unwrap_or_default())
        .collect();
    assert_eq!(g, ["0.0", "1.0", "2.0", "3.0"]);
    // The decimals that met text keep their JSON text, `-0` included.
    let mut kids = csv::Reader::from_path(dir.path().join("t_kids.csv"))?;
    let d = kids
        .headers()?
        .iter()
        .position(|h| h == "d")
        .ok_or("no column d")?;
    let cells: Vec<String> = kids
        .records()
        .take(5)
        .map(|r| r.map(|r| r.get(d).unwrap_or_default().to_string()))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        cells,
        [
            "1000000000000000000000",
            "2000000000000000000001",
            "3000000000000000000002",
            "4000000000000000000003",
            "-0"
        ]
    );
    Ok(())
}

/// `records` records of 12 properties each out of `keys` keys, some nested, some in
/// arrays of objects, in parts of `per_part` records.
fn sparse_parts(records: usize, keys: usize, per_part: usize) -> Vec<String> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..records)
        .map(|i| {
            let props: Vec<String> = (0..12)
                .map(|_| {
                    let k = next() as usize % keys;
                    match k % 3 {
                        0 => format!("\"p{k}\":\"v{}\"", next() % 1000),
                        1 => format!("\"n{k}\":{{\"x\":{}}}", next() % 97),
                        _ => format!("\"e{k}\":[{{\"y\":\"w{}\"}}]", next() % 10),
                    }
                })
                .collect();
            format!("{{\"i\":{i},{}}}\n", props.join(","))
        })
        .collect::<Vec<_>>()
        .chunks(per_part)
        .map(|part| part.concat())
        .collect()
}

#[test]
fn sparse_parts_spilled_as_their_cells_are_the_files_written_at_once() -> TestResult {
    // 3,000 records over 6,000 keys in parts of 300: each part's main chunk has a
    // couple of thousand columns with a value in a row or two, which spill as cells.
    let parts = sparse_parts(3_000, 6_000, 300);
    for text in [true, false] {
        let processor = processor(text, ArrayMode::Smart);
        let results = numbered_parts(&processor, &parts)?;
        for format in ["jsonl", "parquet"] {
            let options = WriteOptions::default();
            let expected = transmogrify_core::ProcessingResult::combine_results(results.clone())?
                .to_bytes(format, &options)?;
            let dir = tempfile::tempdir()?;
            let mut out = transmogrify_io::StreamingOutput::new(
                dir.path(),
                format,
                processor.config(),
                options,
            )?;
            for result in &results {
                out.add(result.clone())?;
            }
            let summary = out.finish()?;
            assert!(summary.files[0].rows == 3_000, "{format}");
            for file in &expected {
                let got = std::fs::read(dir.path().join(&file.file_name))?;
                assert!(
                    got == file.bytes,
                    "{} ({format}, text {text})",
                    file.file_name
                );
            }
        }
    }
    Ok(())
}

/// How far the table files are written is counted as the spilled parts are read
/// back: all of them by the end, for every table of a spilled format; CSV, written
/// as the parts arrive, spills nothing to count.
#[test]
fn write_progress_counts_every_spilled_part_read_back() -> TestResult {
    use std::sync::Arc;
    use transmogrify_io::{StreamingOutput, WriteProgress};
    let processor = processor(true, ArrayMode::Smart);
    let parts: Vec<ProcessingResult> = (0..5)
        .map(|i| {
            let text = format!(
                "{{\"i\":{i},\"kids\":[{{\"k\":{i}}},{{\"k\":0}}],\"tags\":[{{\"t\":\"x\"}}]}}"
            );
            processor.process_at(text.as_bytes(), "t", i)
        })
        .collect::<Result<_, _>>()?;
    for (format, spilled) in [("json", true), ("parquet", true), ("csv", false)] {
        let dir = tempfile::tempdir()?;
        let progress = Arc::new(WriteProgress::default());
        let mut out = StreamingOutput::new(
            dir.path(),
            format,
            processor.config(),
            WriteOptions::default(),
        )?
        .with_write_progress(progress.clone());
        for part in &parts {
            out.add(part.clone())?;
        }
        assert_eq!((progress.read(), progress.total()), (0, 0), "{format}");
        let summary = out.finish()?;
        assert_eq!(summary.files.len(), 3, "{format}");
        assert_eq!(progress.total() > 0, spilled, "{format}");
        assert_eq!(progress.read(), progress.total(), "{format}");
    }
    Ok(())
}
