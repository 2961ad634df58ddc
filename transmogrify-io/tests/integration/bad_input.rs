//! Bad input: each error names the source and the position.

use std::path::PathBuf;

use transmogrify_core::{ArrayMode, ErrorMode, Processor, ProcessorConfig};
use transmogrify_io::{Input, InputFormat, RawItem, ReaderOptions, process_file, reader_for};

use crate::support::{TestResult, config};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn error_of(name: &str) -> String {
    let processor = Processor::new(config(true, ArrayMode::Smart));
    match process_file(&processor, data(name), "t", &ReaderOptions::default()) {
        Ok(_) => panic!("{name} was accepted"),
        Err(e) => e.to_string().replace(&*data("").to_string_lossy(), ""),
    }
}

#[test]
fn truncated_json_array() {
    assert_eq!(
        error_of("truncated.json"),
        "truncated.json: line 2, column 8 (byte 18, record 1): invalid JSON: unexpected end of input, expected a JSON value near `{\"b\":`"
    );
}

#[test]
fn bad_jsonl_line() {
    assert_eq!(
        error_of("bad_line.jsonl"),
        "bad_line.jsonl: line 2, column 7 (byte 15, record 1): invalid JSON: expected a JSON value, found '}' near `{\"a\": }`"
    );
}

#[test]
fn unterminated_csv_quote() {
    assert_eq!(
        error_of("unterminated.csv"),
        "unterminated.csv: line 2, column 3 (byte 10, record 0): unterminated quoted field: \
         the quote opened here is never closed, so its field took the rest of the input (1 more \
         line), and no later row can be read near `1,\"Ann 2,Bo`"
    );
}

#[test]
fn corrupt_parquet() {
    assert_eq!(
        error_of("corrupt.parquet"),
        "corrupt.parquet: footer (bytes 28-35): corrupt or unreadable Parquet: EOF: Parquet file too small. Size is 36 but need 543976553"
    );
}

/// A footer that cannot be read is named by its bytes: all of it where its last 8
/// bytes say where it starts, else those 8. A compressed file's bytes are not the
/// input's as stored, so none are named; standard input's are.
#[test]
fn a_bad_footer_is_named_by_its_bytes() -> TestResult {
    let good = std::fs::read(data("bad_chunk_offset.parquet"))?;
    let len = good.len();
    let (body, tail) = good.split_at(len - 8);
    let meta = usize::try_from(u32::from_le_bytes(tail[..4].try_into()?))?;
    let start = len - 8 - meta;
    let whole = format!("footer (bytes {start}-{}): ", len - 1);
    let last_8 = format!("footer (bytes {}-{}): ", len - 8, len - 1);
    // The metadata overwritten; the closing magic bytes changed; a length
    // running past the file's start.
    let mut garbled = good.clone();
    garbled[start..len - 8].fill(0xff);
    let mut no_magic = good.clone();
    no_magic[len - 1] = b'X';
    let mut too_long = body.to_vec();
    too_long.extend_from_slice(&u32::try_from(len)?.to_le_bytes());
    too_long.extend_from_slice(b"PAR1");
    let dir = tempfile::tempdir()?;
    let processor = Processor::new(config(true, ArrayMode::Smart));
    let error_of = |bytes: &[u8]| -> Result<String, Box<dyn std::error::Error>> {
        let path = dir.path().join("f.parquet");
        std::fs::write(&path, bytes)?;
        let run = process_file(&processor, &path, "t", &ReaderOptions::default());
        let Err(e) = run else {
            return Err("accepted".into());
        };
        Ok(e.to_string().replace(&*path.to_string_lossy(), "f.parquet"))
    };
    for (bytes, place) in [
        (&garbled, &whole),
        (&no_magic, &last_8),
        (&too_long, &last_8),
    ] {
        let error = error_of(bytes)?;
        let expected = format!("f.parquet: {place}corrupt or unreadable Parquet: ");
        assert!(error.starts_with(&expected), "{error:?}, not {expected:?}…");
    }
    // The same metadata, read from gzip and from standard input's reader.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &garbled)?;
    let path = dir.path().join("f.parquet.gz");
    std::fs::write(&path, gz.finish()?)?;
    let run = process_file(&processor, &path, "t", &ReaderOptions::default());
    let error = run.err().ok_or("accepted")?.to_string();
    let gz_name = path.to_string_lossy();
    assert!(
        error.starts_with(&format!("{gz_name}: corrupt or unreadable Parquet: ")),
        "{error:?}"
    );
    let stream = Input::from_reader("<stdin>", std::io::Cursor::new(garbled), None)?;
    let options = ReaderOptions::builder()
        .with_format(Some(InputFormat::Parquet))
        .build()?;
    let error = reader_for(stream, &options)
        .err()
        .ok_or("accepted")?
        .to_string();
    assert!(
        error.starts_with(&format!("<stdin>: {whole}corrupt or unreadable Parquet: ")),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn parquet_that_makes_the_decoder_panic_is_an_error_about_the_file() {
    // The parquet crate panics on these (found by mutating valid files) rather than
    // failing: a column chunk at a negative offset, and a page whose arrays do not
    // add up.
    assert_eq!(
        error_of("bad_chunk_offset.parquet"),
        "bad_chunk_offset.parquet: rows 0-11: corrupt or unreadable Parquet: column start and length should not be negative"
    );
    assert_eq!(
        error_of("bad_page.parquet"),
        "bad_page.parquet: rows 0-40: corrupt or unreadable Parquet: offset + len out of bounds"
    );
}

#[test]
fn a_json_path_is_refused_for_input_that_is_not_json() -> TestResult {
    let processor = Processor::new(config(true, ArrayMode::Smart));
    let options = ReaderOptions::builder()
        .with_json_path(Some("data.items"))
        .build()?;
    for (name, what) in [("bad_line.jsonl", "JSONL"), ("unterminated.csv", "CSV")] {
        let error = match process_file(&processor, data(name), "t", &options) {
            Ok(_) => return Err(format!("{name} was read with a JSON path").into()),
            Err(e) => e.to_string().replace(&*data("").to_string_lossy(), ""),
        };
        assert_eq!(
            error,
            format!(
                "invalid option json_path: it picks an array inside JSON input, and {name} is {what} input"
            )
        );
    }
    Ok(())
}

#[test]
fn corrupt_gzip() {
    // The file is cut in half: the lines before the cut were read, and the data ends
    // 7 bytes into line 993 (`{"n": 9`), record 992.
    assert_eq!(
        error_of("corrupt.jsonl.gz"),
        "corrupt.jsonl.gz: line 993, column 1 (byte 10802, record 992): truncated gzip data: \
         the input ends inside this record, after byte 10809 of the decompressed stream \
         (incomplete deflate stream) near `{\"n\": 9`"
    );
}

#[test]
fn the_records_before_a_corrupt_stream_come_before_its_error() -> TestResult {
    // 992 whole lines decompress before the damage, the last of them ending at byte
    // 10,802; they are handed over, then the error.
    let mut reader = transmogrify_io::open_reader(
        data("corrupt.jsonl.gz"),
        &ReaderOptions::builder().with_batch_records(300).build()?,
    )?;
    let mut sizes = Vec::new();
    let mut error = None;
    for batch in &mut *reader {
        match batch {
            Ok(batch) => sizes.push(batch.items.len()),
            Err(e) => error = Some(e.to_string()),
        }
    }
    assert_eq!(sizes, [300, 300, 300, 92]);
    assert_eq!(
        error.map(|e| e.replace(&*data("").to_string_lossy(), "")),
        Some(
            "corrupt.jsonl.gz: line 993, column 1 (byte 10802, record 992): truncated gzip \
             data: the input ends inside this record, after byte 10809 of the decompressed \
             stream (incomplete deflate stream) near `{\"n\": 9`"
                .to_string()
        )
    );
    Ok(())
}

#[test]
fn skip_mode_keeps_going_and_records_the_bad_line() -> TestResult {
    let config = ProcessorConfig::builder()
        .with_on_error(ErrorMode::Skip)
        .build()?;
    let processor = Processor::new(config);
    let result = process_file(
        &processor,
        data("bad_line.jsonl"),
        "t",
        &ReaderOptions::default(),
    )?;
    assert_eq!(result.num_rows("main"), Some(2));
    assert_eq!(result.errors().len(), 1);
    assert_eq!(result.errors()[0].error.position.line, 2);
    assert_eq!(result.errors()[0].raw, "{\"a\": }");
    Ok(())
}

#[test]
fn missing_file_names_the_path() {
    let msg = error_of("nope.json");
    assert!(msg.starts_with("nope.json: "), "{msg}");
}

#[test]
fn a_damaged_page_is_reported_with_the_rows_of_its_batch() -> TestResult {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    // 3,000 rows in row groups of 500; the reader decodes batches of 1,024 rows.
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..3000));
    let names: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..3000).map(|i| format!("name {i} {}", "x".repeat(i % 50))),
    ));
    let batch = RecordBatch::try_from_iter([("id", ids), ("name", names)])?;
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(500))
        .build();
    let mut bytes = parquet_of(&batch, props)?;
    // Damage the text column of row group 3 (rows 1,500-1,999): batch 1,024-2,047.
    let meta = SerializedFileReader::new(bytes::Bytes::from(bytes.clone()))?
        .metadata()
        .row_group(3)
        .column(1)
        .clone();
    let start = usize::try_from(meta.data_page_offset())?;
    for b in bytes.iter_mut().skip(start + 30).take(40) {
        *b ^= 0xff;
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("x.parquet");
    std::fs::write(&path, &bytes)?;
    let processor = Processor::new(config(true, ArrayMode::Smart));
    let error = process_file(&processor, &path, "t", &ReaderOptions::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    // The batch of rows 1,024-2,047 fails; read again within its first row's group
    // (rows 1,000-1,499) it goes through, and the group after fails alone.
    let want = format!(
        "{}: rows 1500-1999: corrupt or unreadable Parquet: ",
        path.display()
    );
    assert!(error.starts_with(&want), "{error}");
    // A reader goes on past the damaged group: every other row, each once, with
    // its own row number, and one error naming the rows lost.
    for options in [
        ReaderOptions::default(),
        ReaderOptions::builder()
            .with_skip_null(true)
            .with_batch_records(1 << 24)
            .build()?,
    ] {
        let mut ordinals = Vec::new();
        let mut errors = Vec::new();
        let mut reader = transmogrify_io::open_reader(&path, &options)?;
        while let Some(batch) = reader.next() {
            match batch {
                Ok(batch) => ordinals.extend(batch.items.iter().filter_map(|item| match item {
                    transmogrify_io::RawItem::Record { position, .. } => Some(position.ordinal),
                    transmogrify_io::RawItem::Bad { .. } => None,
                })),
                Err(e) => {
                    assert!(reader.goes_on_after_error());
                    errors.push(e.to_string());
                }
            }
        }
        let expected: Vec<u64> = (0..1500).chain(2000..3000).collect();
        assert_eq!(ordinals, expected);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with(&want), "{}", errors[0]);
    }
    // Read a row group at a time, a slice of its columns at a time (as a wide
    // file whose nulls are left out is): the rows of the damaged group.
    let options = ReaderOptions::builder()
        .with_skip_null(true)
        .with_batch_records(1 << 24)
        .build()?;
    let error = process_file(&processor, &path, "t", &options)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let want = format!(
        "{}: rows 1500-1999: corrupt or unreadable Parquet: ",
        path.display()
    );
    assert!(error.starts_with(&want), "{error}");
    // In skip mode the library goes on too: the other rows, and a row of the errors
    // table where the rows lost start.
    let skip = Processor::new(
        ProcessorConfig::builder()
            .with_on_error(ErrorMode::Skip)
            .build()?,
    );
    for options in [ReaderOptions::default(), options] {
        let result = process_file(&skip, &path, "t", &options)?;
        assert_eq!(result.num_rows("main"), Some(2500));
        let errors = result.errors();
        assert_eq!(errors.len(), 1);
        let position = errors[0].error.position;
        assert_eq!((position.ordinal, position.line), (1500, 1501));
        assert!(
            errors[0]
                .error
                .to_string()
                .contains("rows 1500-1999: corrupt or unreadable Parquet: "),
            "{}",
            errors[0].error
        );
        assert_eq!(errors[0].raw, "");
    }
    Ok(())
}

/// The bytes a cut compressed stream decompresses to before its decoder stops.
fn decompressed_prefix(cut: &[u8], gzip: bool) -> Vec<u8> {
    use std::io::Read;
    let mut decoder: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(cut))
    } else {
        match zstd::stream::read::Decoder::new(cut) {
            Ok(d) => Box::new(d),
            Err(e) => panic!("zstd: {e}"),
        }
    };
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = decoder.read(&mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn a_compressed_input_cut_inside_a_record_stops_there_with_its_bytes() -> TestResult {
    // Records of every format, compressed and cut in half: every record whose end
    // decompresses is read (the CSV row before the cut too), and the one cut short
    // is a bad record the input stops at, its bytes so far its raw text.
    let rows = 60_000;
    let jsonl: String = (0..rows)
        .map(|i| format!("{{\"n\": {i}, \"s\": \"v{}\"}}\n", i * 7919 % 10007))
        .collect();
    let json = format!(
        "[{}]",
        (0..rows)
            .map(|i| format!("{{\"n\": {i}, \"s\": \"v{}\"}}", i * 7919 % 10007))
            .collect::<Vec<_>>()
            .join(",\n")
    );
    let csv: String = std::iter::once("n,s\n".to_string())
        .chain((0..rows).map(|i| format!("{i},v{}\n", i * 7919 % 10007)))
        .collect();
    for (name, text) in [("t.jsonl", &jsonl), ("t.json", &json), ("t.csv", &csv)] {
        for gzip in [true, false] {
            let packed = if gzip {
                crate::support::gzip(text.as_bytes())
            } else {
                crate::support::zstd(text.as_bytes())
            };
            let cut = &packed[..packed.len() / 2];
            let prefix = decompressed_prefix(cut, gzip);
            // The cut record starts after the last record end in the prefix: a line
            // end, or in the array the `,\n` after an element.
            let (start, whole) = match name {
                "t.json" => {
                    let at = prefix
                        .windows(2)
                        .rposition(|w| w == b",\n")
                        .ok_or(format!("{name}: no element"))?;
                    (at + 2, prefix.windows(2).filter(|w| *w == b",\n").count())
                }
                _ => {
                    let at = prefix
                        .iter()
                        .rposition(|&b| b == b'\n')
                        .ok_or(format!("{name}: no line"))?;
                    let lines = prefix[..at].iter().filter(|&&b| b == b'\n').count() + 1;
                    (at + 1, lines - usize::from(name == "t.csv"))
                }
            };
            let case = format!("{name} gzip {gzip}: the cut record at {start}");
            let line = prefix[..start].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            let input = Input::from_bytes(&format!("{name}.z"), cut.to_vec())?;
            let options = ReaderOptions::builder()
                .with_format(InputFormat::from_extension(name))
                .build()?;
            let mut reader = reader_for(input, &options)?;
            let (mut records, mut last, mut error) = (0, Vec::new(), None);
            for batch in &mut *reader {
                match batch {
                    Ok(batch) => {
                        for item in &batch.items {
                            let RawItem::Record { range, .. } = item else {
                                return Err(format!("{case}: a bad record").into());
                            };
                            records += 1;
                            last = batch.data[range.clone()].to_vec();
                        }
                    }
                    Err(e) => error = Some(e),
                }
            }
            assert_eq!(records, whole, "{case}");
            let n = whole - 1;
            let expected_last = match name {
                "t.csv" => format!("{{\"n\":{n},\"s\":\"v{}\"}}", n * 7919 % 10007),
                _ => format!("{{\"n\": {n}, \"s\": \"v{}\"}}", n * 7919 % 10007),
            };
            assert_eq!(String::from_utf8_lossy(&last), expected_last, "{case}");
            let error = error.ok_or_else(|| format!("{case}: no error"))?;
            let record = error
                .record_error()
                .ok_or_else(|| format!("{case}: {error}"))?;
            assert_eq!(
                (
                    record.position.ordinal,
                    record.position.line,
                    record.position.column
                ),
                (whole as u64, line, 1),
                "{case}"
            );
            assert_eq!(record.position.byte_offset, start as u64, "{case}");
            assert_eq!(error.stopped_raw(), Some(&prefix[start..]), "{case}");
            let codec = if gzip { "gzip" } else { "zstd" };
            assert!(
                record.to_string().contains(&format!(
                    "truncated {codec} data: the input ends inside this record, after byte {} \
                     of the decompressed stream",
                    prefix.len()
                )),
                "{case}: {record}"
            );
        }
    }
    Ok(())
}

#[test]
fn in_skip_mode_the_library_keeps_the_records_before_input_that_stops() -> TestResult {
    // 200 records with the comma before record 150 missing; the same JSONL gzipped
    // and cut inside its last line. process_file, process_reader and
    // Processor::process give the records before the break and its errors row;
    // strict mode gives the error.
    let dir = tempfile::tempdir()?;
    let elements: Vec<String> = (0..200).map(|i| format!("{{\"i\":{i}}}")).collect();
    let json = format!(
        "[{}{}]",
        elements[..150].join(","),
        elements[150..].join(",")
    );
    let at = json.find("{\"i\":150}").ok_or("record 150")?;
    std::fs::write(dir.path().join("broken.json"), &json)?;
    let lines: String = (0..20_000)
        .map(|i| format!("{{\"i\":{i},\"s\":\"v{}\"}}\n", i * 7919 % 10007))
        .collect();
    let packed = crate::support::gzip(lines.as_bytes());
    let cut = &packed[..packed.len() / 2];
    std::fs::write(dir.path().join("cut.jsonl.gz"), cut)?;
    let prefix = decompressed_prefix(cut, true);
    let whole = prefix.iter().filter(|&&b| b == b'\n').count();
    let start = prefix.iter().rposition(|&b| b == b'\n').ok_or("no line")? + 1;
    let skip = Processor::new(
        ProcessorConfig::builder()
            .with_on_error(ErrorMode::Skip)
            .build()?,
    );
    let strict = Processor::new(ProcessorConfig::default());
    let options = ReaderOptions::default();
    let file = dir.path().join("broken.json");
    let in_memory = skip.process(json.as_bytes(), "t")?;
    for result in [process_file(&skip, &file, "t", &options)?, in_memory] {
        assert_eq!(result.num_rows("main"), Some(150));
        let errors = result.errors();
        assert_eq!(errors.len(), 1);
        let position = errors[0].error.position;
        assert_eq!((position.ordinal, position.byte_offset), (150, at as u64));
        assert_eq!(errors[0].raw, json[at..]);
    }
    assert!(process_file(&strict, &file, "t", &options).is_err());
    assert!(strict.process(json.as_bytes(), "t").is_err());
    // Cut inside a line: the whole lines before it, and the cut one's row.
    let cut = process_file(&skip, dir.path().join("cut.jsonl.gz"), "t", &options)?;
    assert_eq!(cut.num_rows("main"), Some(whole));
    let errors = cut.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].error.position.ordinal, whole as u64);
    assert_eq!(errors[0].raw.as_bytes(), &prefix[start..]);
    Ok(())
}

#[test]
fn a_cut_line_longer_than_the_largest_record_names_where_the_data_ends() -> TestResult {
    // A 200,000-byte line of text that does not compress much, gzipped and cut: the
    // error names the decompressed byte where the data ends, not where the bytes
    // kept of the line end; the raw text is the line's first 64 KiB.
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let text: String = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(state % 36) as usize])
        })
        .collect();
    let line = format!("{{\"a\": \"{text}\"}}\n");
    let packed = crate::support::gzip(line.as_bytes());
    let cut = &packed[..packed.len() / 2];
    let prefix = decompressed_prefix(cut, true);
    assert!(
        prefix.len() > 70_000 && prefix.len() < line.len(),
        "{}",
        prefix.len()
    );
    for limit in [1024, 64 * 1024] {
        let options = ReaderOptions::builder()
            .with_max_record_bytes(limit)
            .build()?;
        let input = Input::from_bytes("long.jsonl.gz", cut.to_vec())?;
        let mut reader = reader_for(input, &options)?;
        let error = reader.find_map(|batch| batch.err()).ok_or("no error")?;
        assert!(
            error.to_string().starts_with(&format!(
                "long.jsonl.gz: line 1, column 1 (byte 0, record 0): truncated gzip data: the \
                 input ends inside this record, after byte {} of the decompressed stream",
                prefix.len()
            )),
            "{limit}: {error}"
        );
        assert_eq!(
            error.stopped_raw(),
            Some(&prefix[..transmogrify_io::OVERSIZE_PREFIX]),
            "{limit}"
        );
    }
    Ok(())
}

#[test]
fn a_compressed_csv_cut_in_its_header_or_skipped_lines_names_where_the_data_ends() -> TestResult {
    // Text that does not compress much, so that half the gzip holds part of it: once
    // as a header whose quote never closes, once as lines skipped before the header.
    // Either way the error names the decompressed byte where the data ends (what
    // `zcat` gives of the cut file), not where the header or the line starts.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut text = |n: usize| -> String {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b"abcdefghijklmnopqrstuvwxyz"[(state % 26) as usize])
            })
            .collect()
    };
    let header = format!("a,\"b{}\n1,2\n", text(100_000));
    let skipped = format!("skip me\n{}\na,b\n1,2\n", text(100_000));
    for (name, csv, skip_rows) in [("header", header, 0), ("skipped", skipped, 2)] {
        let packed = crate::support::gzip(csv.as_bytes());
        let cut = &packed[..packed.len() / 2];
        let prefix = decompressed_prefix(cut, true);
        assert!(prefix.len() > 8 && prefix.len() < 100_000, "{name}");
        let options = ReaderOptions::builder()
            .with_format(Some(InputFormat::Csv))
            .with_csv(transmogrify_io::CsvOptions::default().with_skip_rows(skip_rows))
            .build()?;
        let input = Input::from_bytes("t.csv.gz", cut.to_vec())?;
        let error = match reader_for(input, &options) {
            Ok(mut reader) => match reader.find_map(std::result::Result::err) {
                Some(e) => e,
                None => return Err(format!("{name}: no error").into()),
            },
            Err(e) => e,
        };
        let transmogrify_io::Error::Decompress {
            byte_offset,
            compression,
            ..
        } = &error
        else {
            return Err(format!("{name}: {error}").into());
        };
        assert_eq!(
            (*byte_offset, *compression),
            (prefix.len() as u64, "gzip"),
            "{name}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "t.csv.gz: truncated gzip data after byte {} of the decompressed stream: \
                 incomplete deflate stream",
                prefix.len()
            ),
            "{name}"
        );
    }
    Ok(())
}

/// The records `bytes` (named `name`) hold as JSONL, and the error that stopped
/// the reading, if one did.
fn jsonl_records(name: &str, bytes: Vec<u8>) -> Result<(Vec<String>, Option<String>), String> {
    let input = Input::from_bytes(name, bytes).map_err(|e| e.to_string())?;
    let options = ReaderOptions::builder()
        .with_format(Some(InputFormat::Jsonl))
        .build()
        .map_err(|e| e.to_string())?;
    let mut reader = reader_for(input, &options).map_err(|e| e.to_string())?;
    let (mut records, mut error) = (Vec::new(), None);
    for batch in &mut *reader {
        match batch {
            Ok(batch) => {
                for item in &batch.items {
                    let RawItem::Record { range, .. } = item else {
                        return Err(format!("{name}: a bad record"));
                    };
                    records.push(String::from_utf8_lossy(&batch.data[range.clone()]).into_owned());
                }
            }
            Err(e) => error = Some(e.to_string()),
        }
    }
    Ok((records, error))
}

#[test]
fn gzip_members_padded_with_zeros_are_read_as_gzip_reads_them() -> TestResult {
    // Two members, then zero bytes up to a block's end (as tape and block devices
    // leave them), fewer than one buffer or more than several.
    let mut two = crate::support::gzip(b"{\"a\":1}\n{\"a\":2}\n");
    two.extend(crate::support::gzip(b"{\"a\":3}\n"));
    for zeros in [0, 1, 100, 1 << 20] {
        let mut padded = two.clone();
        padded.resize(two.len() + zeros, 0);
        let (records, error) = jsonl_records("t.jsonl.gz", padded)?;
        assert_eq!(
            records,
            ["{\"a\":1}", "{\"a\":2}", "{\"a\":3}"],
            "{zeros} zeros"
        );
        assert_eq!(error, None, "{zeros} zeros");
    }
    Ok(())
}

#[test]
fn bytes_after_the_last_gzip_member_are_one_error_whatever_their_length() -> TestResult {
    // Short or long, after zero padding or not: the records before are read, then
    // the same error, where `MultiGzDecoder` took them for a member's header cut
    // short or damaged depending on their length.
    let gz = crate::support::gzip(b"{\"a\":1}\n{\"a\":2}\n");
    for tail in [&b"garbage!!"[..], &[b'x'; 23], b"\0\0\0junk"] {
        let mut bytes = gz.clone();
        bytes.extend_from_slice(tail);
        let (records, error) = jsonl_records("t.jsonl.gz", bytes)?;
        assert_eq!(records, ["{\"a\":1}", "{\"a\":2}"], "{tail:?}");
        assert_eq!(
            error.as_deref(),
            Some(
                "t.jsonl.gz: damaged gzip data after byte 16 of the decompressed stream: data \
                 after the end of the gzip stream that is neither another gzip member nor \
                 zero padding"
            ),
            "{tail:?}"
        );
    }
    Ok(())
}

#[test]
fn a_zstd_stream_that_starts_with_a_skippable_frame_is_zstd() -> TestResult {
    // `pzstd` starts its files with a skippable frame (magic 0x184D2A50, a 4-byte
    // length, that many bytes); any of the 16 skippable magics may.
    for first in [0x50u8, 0x5f] {
        let mut bytes = vec![first, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4];
        bytes.extend(crate::support::zstd(b"{\"a\":1}\n{\"a\":2}\n"));
        for name in ["t.jsonl.zst", "t.jsonl", "-"] {
            let (records, error) = jsonl_records(name, bytes.clone())?;
            assert_eq!(records, ["{\"a\":1}", "{\"a\":2}"], "{name} {first:#x}");
            assert_eq!(error, None, "{name} {first:#x}");
        }
    }
    Ok(())
}

/// A Parquet file of 4 rows whose text column (`s`, of the STRING type) holds bytes
/// that are not UTF-8 in row 2, beside an integer column `i`.
fn parquet_with_bad_text(path: &std::path::Path) -> TestResult {
    use std::sync::Arc;

    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    let schema = Arc::new(parse_message_type(
        "message m { required binary s (STRING); required int64 i; }",
    )?);
    let mut writer = SerializedFileWriter::new(
        std::fs::File::create(path)?,
        schema,
        Arc::new(WriterProperties::builder().build()),
    )?;
    let mut group = writer.next_row_group()?;
    let texts: Vec<ByteArray> = [&b"a"[..], b"b", b"c\xff", b"d"]
        .iter()
        .map(|b| ByteArray::from(b.to_vec()))
        .collect();
    if let Some(mut column) = group.next_column()? {
        column
            .typed::<ByteArrayType>()
            .write_batch(&texts, None, None)?;
        column.close()?;
    }
    if let Some(mut column) = group.next_column()? {
        column
            .typed::<Int64Type>()
            .write_batch(&[0, 1, 2, 3], None, None)?;
        column.close()?;
    }
    group.close()?;
    writer.close()?;
    Ok(())
}

#[test]
fn parquet_text_that_is_not_utf8_is_a_bad_record_at_its_row() -> TestResult {
    // The parquet crate refuses the batch; the rows around the bad one are read all
    // the same, and the bad one is a bad record at its row, its text kept.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("t.parquet");
    parquet_with_bad_text(&path)?;
    let skip = skip_without_ids(|b| b)?;
    for options in [
        ReaderOptions::default(),
        ReaderOptions::builder().with_batch_records(1).build()?,
    ] {
        let result = process_file(&skip, &path, "t", &options)?;
        let rows: Vec<String> = result
            .rows("t")?
            .into_iter()
            .map(|row| serde_json::Value::Object(row).to_string())
            .collect();
        assert_eq!(
            rows,
            [
                r#"{"s":"a","i":"0"}"#,
                r#"{"s":"b","i":"1"}"#,
                r#"{"s":"d","i":"3"}"#
            ]
        );
        let errors: Vec<(String, &str)> = result
            .errors()
            .iter()
            .map(|e| (e.error.to_string(), e.raw.as_str()))
            .collect();
        let at = errors
            .first()
            .map(|e| e.0.split(": line").next().unwrap_or_default().to_string())
            .unwrap_or_default();
        assert_eq!(
            errors,
            [(
                format!(
                    "{at}: line 3, column 1 (byte 4, record 2): column \"s\" holds text that is \
                     not valid UTF-8 (a Parquet STRING value; its bytes are written as hex in \
                     the raw text) near `{{\"s\":\"63ff\",\"i\":2}}`"
                ),
                r#"{"s":"63ff","i":2}"#
            )]
        );
    }
    // In strict mode, the error is the run's, at the row.
    let strict = Processor::new(ProcessorConfig::builder().build()?);
    let error = process_file(&strict, &path, "t", &ReaderOptions::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.ends_with(
            "line 3, column 1 (byte 4, record 2): column \"s\" holds text that is not valid \
             UTF-8 (a Parquet STRING value; its bytes are written as hex in the raw text) near \
             `{\"s\":\"63ff\",\"i\":2}`"
        ),
        "{error}"
    );
    Ok(())
}

#[test]
fn parquet_text_that_is_not_utf8_loses_no_other_row_of_its_group() -> TestResult {
    use std::sync::Arc;

    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    // Three row groups of 100 rows, an optional text column (a null every 7th row,
    // bytes that are not UTF-8 at rows 150 and 160) before two integer columns.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("g.parquet");
    let schema = Arc::new(parse_message_type(
        "message m { required int64 i; optional binary s (STRING); required int64 j; }",
    )?);
    let mut writer = SerializedFileWriter::new(
        std::fs::File::create(&path)?,
        schema,
        Arc::new(WriterProperties::builder().build()),
    )?;
    for g in 0..3i64 {
        let rows: Vec<i64> = (g * 100..(g + 1) * 100).collect();
        let mut group = writer.next_row_group()?;
        let mut column = group.next_column()?.ok_or("no column i")?;
        column.typed::<Int64Type>().write_batch(&rows, None, None)?;
        column.close()?;
        let levels: Vec<i16> = rows.iter().map(|r| i16::from(r % 7 != 0)).collect();
        let texts: Vec<ByteArray> = rows
            .iter()
            .filter(|r| *r % 7 != 0)
            .map(|r| match r {
                150 | 160 => ByteArray::from(vec![b'x', 0xc3]),
                _ => ByteArray::from(format!("t{r}").into_bytes()),
            })
            .collect();
        let mut column = group.next_column()?.ok_or("no column s")?;
        column
            .typed::<ByteArrayType>()
            .write_batch(&texts, Some(&levels), None)?;
        column.close()?;
        let mut column = group.next_column()?.ok_or("no column j")?;
        column.typed::<Int64Type>().write_batch(&rows, None, None)?;
        column.close()?;
        group.close()?;
    }
    writer.close()?;
    let skip = skip_without_ids(|b| b.with_skip_null(false))?;
    for batch in [1024, 64, 1] {
        let options = ReaderOptions::builder().with_batch_records(batch).build()?;
        let result = process_file(&skip, &path, "t", &options)?;
        let rows = result.rows("t")?;
        let want: Vec<i64> = (0..300).filter(|r| *r != 150 && *r != 160).collect();
        let got: Vec<i64> = rows
            .iter()
            .filter_map(|row| row.get("i")?.as_str()?.parse().ok())
            .collect();
        assert_eq!(got, want, "batches of {batch}");
        for row in &rows {
            let i: i64 = row["i"].as_str().unwrap_or_default().parse()?;
            let s = if i % 7 == 0 {
                serde_json::Value::Null
            } else {
                serde_json::Value::String(format!("t{i}"))
            };
            assert_eq!(
                (&row["s"], &row["j"]),
                (&s, &row["i"]),
                "batches of {batch}"
            );
        }
        let bad: Vec<(u64, u64)> = result
            .errors()
            .iter()
            .map(|e| (e.error.position.ordinal, e.error.position.line))
            .collect();
        assert_eq!(bad, [(150, 151), (160, 161)], "batches of {batch}");
    }
    Ok(())
}

#[test]
fn parquet_text_of_every_text_type_that_is_not_utf8_is_a_bad_record_at_its_row() -> TestResult {
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, DictionaryArray, Int64Array, LargeStringArray, RecordBatch, StringArray,
        StringViewArray, types::Int32Type,
    };
    use parquet::file::properties::WriterProperties;

    // Written with a marker the bytes that are not UTF-8 then take the place of (the
    // pages uncompressed): large text and text views (named by the embedded Arrow
    // schema), and dictionary-encoded text.
    let texts = ["a", "ZZZZ", "c"];
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("large", Arc::new(LargeStringArray::from_iter_values(texts))),
        ("view", Arc::new(StringViewArray::from_iter_values(texts))),
        (
            "dictionary",
            Arc::new(texts.into_iter().collect::<DictionaryArray<Int32Type>>()),
        ),
        ("plain", Arc::new(StringArray::from_iter_values(texts))),
    ];
    let dir = tempfile::tempdir()?;
    let skip = skip_without_ids(|b| b)?;
    for (name, column) in columns {
        for dictionary in [false, true] {
            let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..3));
            let batch = RecordBatch::try_from_iter([("s", column.clone()), ("i", ids)])?;
            let props = WriterProperties::builder()
                .set_dictionary_enabled(dictionary)
                .build();
            let mut bytes = parquet_of(&batch, props)?;
            let at = bytes
                .windows(4)
                .position(|w| w == b"ZZZZ")
                .ok_or("no marker")?;
            bytes.splice(at..at + 4, *b"\xff\xfeZZ");
            let path = dir.path().join(format!("{name}-{dictionary}.parquet"));
            std::fs::write(&path, &bytes)?;
            let result = process_file(&skip, &path, "t", &ReaderOptions::default())?;
            let rows: Vec<String> = result
                .rows("t")?
                .into_iter()
                .map(|row| serde_json::Value::Object(row).to_string())
                .collect();
            assert_eq!(
                rows,
                [r#"{"s":"a","i":"0"}"#, r#"{"s":"c","i":"2"}"#],
                "{name}, dictionary {dictionary}"
            );
            let errors: Vec<(u64, String)> = result
                .errors()
                .iter()
                .map(|e| (e.error.position.ordinal, e.raw.clone()))
                .collect();
            assert_eq!(
                errors,
                [(1, r#"{"s":"fffe5a5a","i":1}"#.to_string())],
                "{name}, dictionary {dictionary}"
            );
        }
    }
    Ok(())
}

#[test]
fn parquet_text_not_utf8_in_a_list_loses_its_row_alone_whatever_the_batches() -> TestResult {
    use std::sync::Arc;

    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{ArrayRef, Int64Array, RecordBatch};
    use parquet::file::properties::WriterProperties;

    // Row groups of three rows; the lists of rows 1 and 5 hold the marker that
    // bytes not UTF-8 take the place of.
    let mut lists = ListBuilder::new(StringBuilder::new());
    for row in 0..9 {
        match row {
            1 => lists.append_value([Some("b"), Some("ZZZZ")]),
            5 => lists.append_value([Some("ZZZY")]),
            2 => lists.append_null(),
            _ => lists.append_value([Some(format!("t{row}"))]),
        }
    }
    let lists: ArrayRef = Arc::new(lists.finish());
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..9));
    let batch = RecordBatch::try_from_iter([("l", lists), ("i", ids)])?;
    let props = WriterProperties::builder()
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(3))
        .build();
    let mut bytes = parquet_of(&batch, props)?;
    for marker in [b"ZZZZ", b"ZZZY"] {
        let at = bytes
            .windows(4)
            .position(|w| w == marker)
            .ok_or("no marker")?;
        bytes.splice(at..at + 2, *b"\xff\xfe");
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("l.parquet");
    std::fs::write(&path, &bytes)?;
    let skip = skip_without_ids(|b| b)?;
    for batch in [1024, 2, 1] {
        let options = ReaderOptions::builder().with_batch_records(batch).build()?;
        let result = process_file(&skip, &path, "t", &options)?;
        let kept: Vec<String> = result
            .rows("t")?
            .iter()
            .filter_map(|row| Some(row.get("i")?.as_str()?.to_string()))
            .collect();
        assert_eq!(
            kept,
            ["0", "2", "3", "4", "6", "7", "8"],
            "batches of {batch}"
        );
        let refused: Vec<(u64, u64, bool)> = result
            .errors()
            .iter()
            .map(|e| {
                (
                    e.error.position.ordinal,
                    e.error.position.line,
                    e.error
                        .to_string()
                        .contains("the row holds text that is not valid UTF-8 in a list"),
                )
            })
            .collect();
        assert_eq!(refused, [(1, 2, true), (5, 6, true)], "batches of {batch}");
    }
    Ok(())
}

#[test]
fn parquet_text_not_utf8_beside_a_list_is_refused_by_its_column() -> TestResult {
    use std::sync::Arc;

    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use parquet::file::properties::WriterProperties;

    // Row 0's list and rows 1 to 80's text hold bytes that are not UTF-8: once the
    // group is read a row at a time for row 0, each later row is refused by its
    // column, with its text, and none counts as a list's (which would take the rest
    // of the group as damaged after 64).
    let texts: ArrayRef = Arc::new(StringArray::from_iter_values((0..100).map(|row| {
        if (1..=80).contains(&row) {
            "ZZZZ"
        } else {
            "ok"
        }
    })));
    let mut lists = ListBuilder::new(StringBuilder::new());
    for row in 0..100 {
        lists.append_value([Some(if row == 0 { "ZZZY" } else { "x" })]);
    }
    let lists: ArrayRef = Arc::new(lists.finish());
    let batch = RecordBatch::try_from_iter([("s", texts), ("l", lists)])?;
    let props = WriterProperties::builder()
        .set_dictionary_enabled(false)
        .build();
    let mut bytes = parquet_of(&batch, props)?;
    let mut from = 0;
    while let Some(at) = bytes
        .get(from..)
        .and_then(|rest| rest.windows(3).position(|w| w == b"ZZZ"))
    {
        bytes.splice(from + at..from + at + 2, *b"\xff\xfe");
        from += at + 4;
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("m.parquet");
    std::fs::write(&path, &bytes)?;
    let skip = skip_without_ids(|b| b)?;
    for batch in [1024, 1] {
        let options = ReaderOptions::builder().with_batch_records(batch).build()?;
        let result = process_file(&skip, &path, "t", &options)?;
        assert_eq!(result.num_rows("t"), Some(19), "batches of {batch}");
        let refused: Vec<(u64, bool)> = result
            .errors()
            .iter()
            .map(|e| {
                let by_column = e.error.to_string().contains("column \"s\" holds text");
                (e.error.position.ordinal, by_column)
            })
            .collect();
        let want: Vec<(u64, bool)> = (0..=80).map(|row| (row, row > 0)).collect();
        assert_eq!(refused, want, "batches of {batch}");
    }
    Ok(())
}

/// A processor in skip mode without id and time columns, the rest as `more` sets.
fn skip_without_ids(
    more: impl FnOnce(
        transmogrify_core::ProcessorConfigBuilder,
    ) -> transmogrify_core::ProcessorConfigBuilder,
) -> Result<Processor, Box<dyn std::error::Error>> {
    let builder = ProcessorConfig::builder()
        .with_on_error(ErrorMode::Skip)
        .with_id_field(None)
        .with_time_field(None);
    Ok(Processor::new(more(builder).build()?))
}

/// `batch` as the bytes of a Parquet file written with `props`.
fn parquet_of(
    batch: &arrow_array::RecordBatch,
    props: parquet::file::properties::WriterProperties,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut bytes = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(bytes)
}

/// A stream that starts with `head` and then gives `x` without end (a pipe that
/// keeps writing), counting the bytes it hands out; it stops at 64 MiB so that a
/// reader that reads past its records fails the test rather than hanging it.
struct Endless {
    head: Vec<u8>,
    given: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::io::Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::sync::atomic::Ordering;
        let given = self.given.load(Ordering::Relaxed);
        if given >= 64 << 20 {
            return Ok(0);
        }
        let n = buf.len().min(64 * 1024);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = self.head.get(given as usize + i).copied().unwrap_or(b'x');
        }
        self.given.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[test]
fn a_reader_told_to_stop_at_a_record_over_the_limit_reads_no_further() -> TestResult {
    // JSONL, a JSON array and CSV whose second record never ends: read no further
    // than a little past the limit, the first record comes, then the endless one as
    // a bad record of the bytes read, and the input ends.
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "s.jsonl",
            b"{\"a\":1}\n{\"a\":\"",
            "s.jsonl: line 2, column 1 (byte 8, record 1): the record runs past",
        ),
        (
            "s.json",
            b"[{\"a\":1},\n {\"a\":\"",
            "s.json: line 2, column 2 (byte 11, record 1): the record runs past",
        ),
        (
            "s.csv",
            b"a\n1\n\"",
            "s.csv: line 3, column 1 (byte 4, record 1): the record runs past",
        ),
    ];
    for (name, head, message) in cases {
        let given = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stream = Endless {
            head: head.to_vec(),
            given: given.clone(),
        };
        let options = ReaderOptions::builder()
            .with_max_record_bytes(100_000)
            .with_stop_at_long_record(true)
            .build()?;
        let mut items = Vec::new();
        for batch in reader_for(Input::from_reader(name, stream, None)?, &options)? {
            let batch = batch?;
            for item in &batch.items {
                items.push(match item {
                    RawItem::Record { range, .. } => {
                        String::from_utf8_lossy(batch.bytes(range)).into_owned()
                    }
                    RawItem::Bad { error, range } => {
                        let transmogrify_core::RecordErrorKind::TooLarge { size, limit, whole } =
                            error.kind
                        else {
                            return Err(format!("{name}: {error}").into());
                        };
                        assert!(!whole && size > limit && limit == 100_000, "{name}: {error}");
                        assert!(error.to_string().starts_with(message), "{name}: {error}");
                        assert!(
                            error.to_string().contains(&format!(
                                "{size} bytes, larger than the limit of 100000 bytes (read no further)"
                            )),
                            "{name}: {error}"
                        );
                        format!("bad: {} raw bytes", range.len())
                    }
                });
            }
        }
        assert_eq!(items.len(), 2, "{name}: {items:?}");
        assert_eq!(items[0].replace(' ', ""), "{\"a\":1}", "{name}");
        assert!(items[1].starts_with("bad: "), "{name}: {items:?}");
        let read = given.load(std::sync::atomic::Ordering::Relaxed);
        assert!(read < 4 << 20, "{name}: read {read} bytes");
    }
    // Without it (skip mode's way), the record is read past to its end, measured.
    let given = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stream = Endless {
        head: b"{\"a\":1}\n{\"a\":\"".to_vec(),
        given: given.clone(),
    };
    let options = ReaderOptions::builder()
        .with_max_record_bytes(100_000)
        .build()?;
    let reader = reader_for(Input::from_reader("s.jsonl", stream, None)?, &options)?;
    let bad = reader
        .filter_map(std::result::Result::ok)
        .flat_map(|b| b.items)
        .find_map(|item| match item {
            RawItem::Bad { error, .. } => Some(error.kind),
            RawItem::Record { .. } => None,
        });
    assert_eq!(
        bad,
        Some(transmogrify_core::RecordErrorKind::TooLarge {
            size: (64 << 20) - 8,
            limit: 100_000,
            whole: true
        })
    );
    Ok(())
}

#[test]
fn a_compressed_parquet_file_cut_short_names_where_the_data_ends() -> TestResult {
    // Parquet read from compressed data is decompressed whole first: the error
    // names the decompressed byte where the data ends, as for text inputs.
    let text: Vec<String> = (0..200_000)
        .map(|i| format!("value {i:>6} {}", i * 7919 % 10_007))
        .collect();
    let batch = arrow_array::RecordBatch::try_from_iter([(
        "s",
        std::sync::Arc::new(arrow_array::StringArray::from(text)) as arrow_array::ArrayRef,
    )])?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .build();
    let file = parquet_of(&batch, props)?;
    for (name, packed, gzip) in [
        ("t.parquet.gz", crate::support::gzip(&file), true),
        ("t.parquet.zst", crate::support::zstd(&file), false),
    ] {
        let cut = &packed[..packed.len() / 2];
        let prefix = decompressed_prefix(cut, gzip);
        assert!(!prefix.is_empty() && prefix.len() < file.len(), "{name}");
        let input = Input::from_bytes(name, cut.to_vec())?;
        let error = match reader_for(input, &ReaderOptions::default()) {
            Err(e) => e,
            Ok(mut reader) => reader.find_map(|batch| batch.err()).ok_or("no error")?,
        };
        let kind = if gzip { "gzip" } else { "zstd" };
        assert!(
            error.to_string().starts_with(&format!(
                "{name}: truncated {kind} data after byte {} of the decompressed stream",
                prefix.len()
            )),
            "{name}: {error}"
        );
    }
    Ok(())
}
