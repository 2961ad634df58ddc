//! The same data as a JSON array, JSONL, gzip and zstd JSONL, CSV (flat data) and
//! nested Parquet gives identical tables.

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, Fields, Schema};
use transmogrify_core::ArrayMode;
use transmogrify_io::{ParquetWriter, ReaderOptions, TableWriter, WriteOptions};

use crate::support::{TestResult, gzip, processor, read_bytes, tables, zstd};

const N: i64 = 40;

fn json_records() -> Vec<String> {
    (0..N)
        .map(|i| {
            let orders: Vec<String> = (0..i % 3)
                .map(|j| format!(r#"{{"sku": "s{i}-{j}", "qty": {j}}}"#))
                .collect();
            let tags: Vec<String> = (0..i % 2 + 1).map(|j| format!(r#""t{j}""#)).collect();
            format!(
                r#"{{"id": {i}, "name": "n{i} ✓", "score": {i}.5, "active": {}, "address": {{"city": "c{}", "zip": "0{i}"}}, "orders": [{}], "tags": [{}]}}"#,
                i % 2 == 0,
                i % 3,
                orders.join(", "),
                tags.join(",")
            )
        })
        .collect()
}

fn parquet_bytes() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let (mut id, mut name, mut score, mut active) = (
        Int64Builder::new(),
        StringBuilder::new(),
        Float64Builder::new(),
        BooleanBuilder::new(),
    );
    let (mut city, mut zip) = (StringBuilder::new(), StringBuilder::new());
    let (mut sku, mut qty, mut order_lens) = (StringBuilder::new(), Int64Builder::new(), vec![]);
    let (mut tag, mut tag_lens) = (StringBuilder::new(), vec![]);
    for i in 0..N {
        id.append_value(i);
        name.append_value(format!("n{i} ✓"));
        score.append_value(i as f64 + 0.5);
        active.append_value(i % 2 == 0);
        city.append_value(format!("c{}", i % 3));
        zip.append_value(format!("0{i}"));
        order_lens.push((i % 3) as usize);
        for j in 0..i % 3 {
            sku.append_value(format!("s{i}-{j}"));
            qty.append_value(j);
        }
        tag_lens.push((i % 2 + 1) as usize);
        for j in 0..i % 2 + 1 {
            tag.append_value(format!("t{j}"));
        }
    }
    let address_fields = Fields::from(vec![
        Field::new("city", DataType::Utf8, true),
        Field::new("zip", DataType::Utf8, true),
    ]);
    let address = StructArray::try_new(
        address_fields.clone(),
        vec![Arc::new(city.finish()) as ArrayRef, Arc::new(zip.finish())],
        None,
    )?;
    let order_fields = Fields::from(vec![
        Field::new("sku", DataType::Utf8, true),
        Field::new("qty", DataType::Int64, true),
    ]);
    let order_values = StructArray::try_new(
        order_fields.clone(),
        vec![Arc::new(sku.finish()) as ArrayRef, Arc::new(qty.finish())],
        None,
    )?;
    let order_item = Arc::new(Field::new("item", DataType::Struct(order_fields), true));
    let orders = ListArray::try_new(
        order_item.clone(),
        OffsetBuffer::from_lengths(order_lens),
        Arc::new(order_values),
        None,
    )?;
    let tag_item = Arc::new(Field::new("item", DataType::Utf8, true));
    let tags = ListArray::try_new(
        tag_item.clone(),
        OffsetBuffer::from_lengths(tag_lens),
        Arc::new(tag.finish()),
        None,
    )?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new("active", DataType::Boolean, true),
        Field::new("address", DataType::Struct(address_fields), true),
        Field::new("orders", DataType::List(order_item), true),
        Field::new("tags", DataType::List(tag_item), true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(id.finish()),
            Arc::new(name.finish()),
            Arc::new(score.finish()),
            Arc::new(active.finish()),
            Arc::new(address),
            Arc::new(orders),
            Arc::new(tags),
        ],
    )?;
    let mut out = Vec::new();
    let options = WriteOptions::builder().with_row_group_size(16).build()?;
    let mut writer = Box::new(ParquetWriter::new(&mut out, &schema, &options)?);
    writer.write(&batch)?;
    writer.finish()?;
    Ok(out)
}

#[test]
fn nested_inputs_give_identical_tables() -> TestResult {
    let records = json_records();
    let array = format!("[\n{}\n]", records.join(",\n")).into_bytes();
    let lines = format!("{}\n", records.join("\n")).into_bytes();
    let parquet = parquet_bytes()?;
    let opts = ReaderOptions::builder().with_batch_records(7).build()?;
    for text in [true, false] {
        for mode in [ArrayMode::Smart, ArrayMode::Separate] {
            let p = processor(text, mode);
            let want = tables(&read_bytes(&p, "a.json", array.clone(), &opts)?);
            assert_eq!(want.len(), if mode == ArrayMode::Smart { 2 } else { 3 });
            assert_eq!(want[0].2.len(), N as usize);
            for (name, bytes) in [
                ("a.jsonl", lines.clone()),
                ("a.jsonl.gz", gzip(&lines)),
                ("a.ndjson.zst", zstd(&lines)),
                ("a.parquet", parquet.clone()),
                ("sniffed", parquet.clone()),
            ] {
                let got = tables(&read_bytes(&p, name, bytes, &opts)?);
                assert_eq!(got, want, "{name}, text {text}, {mode:?}");
            }
        }
    }
    Ok(())
}

#[test]
fn flat_csv_matches_json() -> TestResult {
    let mut json = Vec::new();
    let mut csv = String::from("id,name,score,active,code\n");
    for i in 0..N {
        json.push(format!(
            r#"{{"id": {i}, "name": "n, \"{i}\"", "score": {i}.25, "active": {}, "code": "00{i}"}}"#,
            i % 3 == 0
        ));
        csv.push_str(&format!(
            "{i},\"n, \"\"{i}\"\"\",{i}.25,{},00{i}\n",
            i % 3 == 0
        ));
    }
    let array = format!("[{}]", json.join(",")).into_bytes();
    for text in [true, false] {
        let p = processor(text, ArrayMode::Smart);
        let opts = ReaderOptions::default();
        let want = tables(&read_bytes(&p, "f.json", array.clone(), &opts)?);
        let got = tables(&read_bytes(&p, "f.csv", csv.clone().into_bytes(), &opts)?);
        assert_eq!(got, want, "text {text}");
        if !text {
            let types: Vec<String> = want[0].1.iter().map(|c| c.1.to_string()).collect();
            assert_eq!(types[..5], ["Int64", "Utf8", "Float64", "Boolean", "Utf8"]);
        }
    }
    Ok(())
}

/// The same rows as JSONL, CSV and Parquet bytes.
type Inputs = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Rows of a wide, sparse table (most cells null), as JSONL without the nulls, as CSV
/// and as Parquet: `c3` has no value at all, `c2` first has one after `c4` does.
fn sparse_inputs() -> Result<Inputs, Box<dyn std::error::Error>> {
    const ROWS: usize = 30;
    let value = |row: usize, col: usize| -> Option<String> {
        let late = col == 2 && row < 5;
        (col != 3 && !late && (row * 7 + col * 3) % 5 == 0).then(|| format!("v{row}.{col}"))
    };
    let mut lines = String::new();
    let mut csv = String::from("c0,c1,c2,c3,c4\n");
    let mut columns: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
    for row in 0..ROWS {
        let cells: Vec<Option<String>> = (0..5).map(|col| value(row, col)).collect();
        let present: Vec<String> = cells
            .iter()
            .enumerate()
            .filter_map(|(col, v)| v.as_ref().map(|v| format!(r#""c{col}":"{v}""#)))
            .collect();
        lines.push_str(&format!("{{{}}}\n", present.join(",")));
        let fields: Vec<&str> = cells.iter().map(|v| v.as_deref().unwrap_or("")).collect();
        csv.push_str(&fields.join(","));
        csv.push('\n');
        for (builder, v) in columns.iter_mut().zip(&cells) {
            builder.append_option(v.as_deref());
        }
    }
    let schema = Arc::new(Schema::new(
        (0..5)
            .map(|col| Field::new(format!("c{col}"), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays)?;
    let mut parquet = Vec::new();
    let mut writer = Box::new(ParquetWriter::new(
        &mut parquet,
        &schema,
        &WriteOptions::default(),
    )?);
    writer.write(&batch)?;
    writer.finish()?;
    Ok((lines.into_bytes(), csv.into_bytes(), parquet))
}

#[test]
fn null_cells_left_out_by_the_readers_give_the_same_tables() -> TestResult {
    let (lines, csv, parquet) = sparse_inputs()?;
    let keep = ReaderOptions::builder().with_batch_records(7).build()?;
    let skip = keep.clone().with_skip_null(true);
    for text in [true, false] {
        let p = processor(text, ArrayMode::Smart);
        let want = tables(&read_bytes(&p, "s.jsonl", lines.clone(), &keep)?);
        // Columns in order of their first value; `c3` never has one.
        let names: Vec<&str> = want[0].1.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names[..4], ["c0", "c1", "c4", "c2"], "text {text}");
        assert!(!names.contains(&"c3"));
        for (name, bytes) in [("s.csv", csv.clone()), ("s.parquet", parquet.clone())] {
            for options in [&keep, &skip] {
                let got = tables(&read_bytes(&p, name, bytes.clone(), options)?);
                assert_eq!(got, want, "{name}, text {text}, {options:?}");
            }
        }
    }
    Ok(())
}

#[test]
fn process_file_keeps_null_cells_only_for_a_processor_that_keeps_nulls() -> TestResult {
    use transmogrify_core::{Processor, ProcessorConfig};

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("n.csv");
    std::fs::write(&path, "a,gone,b\n1,,\n,,2\n")?;
    let options = ReaderOptions::default();
    for skip_null in [true, false] {
        let config = ProcessorConfig::builder()
            .with_skip_null(skip_null)
            .with_id_field(None)
            .with_time_field(None)
            .build()?;
        let result = transmogrify_io::process_file(&Processor::new(config), &path, "n", &options)?;
        let got = tables(&result);
        let names: Vec<&str> = got[0].1.iter().map(|c| c.0.as_str()).collect();
        let want: &[&str] = if skip_null {
            &["a", "b"]
        } else {
            &["a", "gone", "b"]
        };
        assert_eq!(names, want, "skip_null {skip_null}");
    }
    Ok(())
}
