//! SPEC §8 (in memory): combining results equals processing the whole.

use transmogrify_core::{
    IdStrategy, ProcessingResult, Processor, ProcessorConfig, ResultCollector,
};

use crate::support::*;

const RECORDS: &[&str] = &[
    r#"{"id":1,"a":{"b":1},"items":[{"n":1,"sub":[{"x":1}]}]}"#,
    r#"{"id":2,"tags":["x"],"items":[]}"#,
    r#"{"id":3,"late":true,"items":[{"n":2},{"n":3,"sub":[{"y":"q"}]}]}"#,
    r#"{"id":4,"a_b":5,"other":[{"o":1}]}"#,
    r#"{"id":5,"items":[{"n":4.0}],"a":{"b":"text"}}"#,
];

fn processor(typed: bool) -> Result<Processor, Box<dyn std::error::Error>> {
    Ok(Processor::new(
        ProcessorConfig::builder()
            .with_id_strategy(IdStrategy::Positional)
            .with_extract_time(Some(0))
            .with_cast_to_string(!typed)
            .with_batch_size(2)
            .build()?,
    ))
}

fn part(
    p: &Processor,
    records: &[&str],
    first: u64,
) -> Result<ProcessingResult, Box<dyn std::error::Error>> {
    let mut s = p.session("t");
    s.set_next_ordinal(first);
    for r in records {
        s.push(r.as_bytes())?;
    }
    Ok(s.finish()?)
}

#[test]
fn every_split_combines_to_the_whole() -> TestResult {
    for typed in [false, true] {
        let p = processor(typed)?;
        let whole = render(&part(&p, RECORDS, 0)?)?;
        for cut in 0..=RECORDS.len() {
            for cut2 in cut..=RECORDS.len() {
                let parts = vec![
                    part(&p, &RECORDS[..cut], 0)?,
                    part(&p, &RECORDS[cut..cut2], cut as u64)?,
                    part(&p, &RECORDS[cut2..], cut2 as u64)?,
                ];
                let combined = ProcessingResult::combine_results(parts)?;
                assert_eq!(
                    render(&combined)?,
                    whole,
                    "typed={typed} cuts at {cut}, {cut2}"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn combining_copies_no_rows_and_keeps_chunk_order() -> TestResult {
    let p = processor(false)?;
    let a = part(&p, &RECORDS[..2], 0)?;
    let b = part(&p, &RECORDS[2..], 2)?;
    let a_main = a.main_table()?;
    let mut all = a.clone();
    all.merge(b)?;
    let main = all.main_table()?;
    assert_eq!(main.len(), 3);
    // The first chunk's id column is the very same buffer.
    assert_eq!(
        a_main[0]
            .column_by_name("__extract_id")
            .map(|c| c.to_data().buffers()[1].as_ptr()),
        main[0]
            .column_by_name("__extract_id")
            .map(|c| c.to_data().buffers()[1].as_ptr())
    );
    assert_eq!(all.record_count(), 5);
    Ok(())
}

#[test]
fn the_collector_assembles_parts_from_many_threads_in_order() -> TestResult {
    let p = processor(false)?;
    let whole = render(&part(&p, RECORDS, 0)?)?;
    let collector = ResultCollector::new();
    std::thread::scope(|s| {
        for (i, record) in RECORDS.iter().enumerate().rev() {
            let (p, collector) = (&p, &collector);
            s.spawn(move || {
                if let Ok(r) = part(p, &[record], i as u64) {
                    collector.deposit(i as u64, r);
                }
            });
        }
    });
    assert_eq!(collector.len(), RECORDS.len());
    assert_eq!(render(&collector.finish()?)?, whole);
    Ok(())
}

#[test]
fn raw_form_round_trips() -> TestResult {
    let p = processor(true)?;
    let r = part(&p, RECORDS, 0)?;
    let back = ProcessingResult::from_raw(r.to_raw()?, p.config().clone())?;
    assert_eq!(render(&back)?, render(&r)?);
    let layout = r.layout_only();
    let schemas = layout.schemas()?;
    let expected = r.schemas()?;
    assert_eq!(schemas.len(), expected.len());
    for (a, b) in schemas.iter().zip(&expected) {
        assert_eq!(
            (&a.name, &a.schema, a.num_rows),
            (&b.name, &b.schema, b.num_rows)
        );
        // A schema of the whole applies to the data of a part.
        let batches: Vec<_> = r.batches(a).collect::<Result<_, _>>()?;
        assert_eq!(
            batches.iter().map(|b| b.num_rows()).sum::<usize>(),
            b.num_rows
        );
    }
    assert!(layout.main_table()?.is_empty());
    // A layout holds no cell data, not even through shared buffers.
    for table in layout.to_raw()?.tables {
        for batch in table.batches {
            assert!(
                batch.get_array_memory_size() < 4096,
                "{}",
                batch.get_array_memory_size()
            );
        }
    }
    Ok(())
}

#[test]
fn results_of_other_entities_or_options_do_not_combine() -> TestResult {
    let p = processor(false)?;
    let a = p.process(br#"{"a":1}"#, "t")?;
    let b = p.process(br#"{"a":1}"#, "u")?;
    assert!(ProcessingResult::combine_results([a.clone(), b]).is_err());
    let typed = processor(true)?.process(br#"{"a":1}"#, "t")?;
    let err = ProcessingResult::combine_results([a, typed])
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "results made with different naming or value options cannot be combined: they \
             differ in cast_to_string"
        )
    );
    assert!(ProcessingResult::combine_results(Vec::new()).is_err());
    // Every value option counts: nulls, empty strings, arrays, depth.
    let record = br#"{"x":null,"e":"","d":{"e":{"f":[1]}}}"#;
    let base = || {
        ProcessorConfig::builder()
            .with_id_strategy(IdStrategy::Positional)
            .with_extract_time(Some(0))
    };
    let first = Processor::new(base().build()?).process_at(record, "t", 0)?;
    for (other, option) in [
        (base().with_skip_null(false), "skip_null"),
        (base().with_include_empty(true), "include_empty"),
        (
            base().with_array_mode(transmogrify_core::ArrayMode::Separate),
            "array_mode",
        ),
        (base().with_max_depth(1), "max_depth"),
        (
            base().with_separator(".").with_max_depth(1),
            "separator, max_depth",
        ),
    ] {
        let second = Processor::new(other.build()?).process_at(record, "t", 1)?;
        let err = ProcessingResult::combine_results([first.clone(), second])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err,
            Some(format!(
                "results made with different naming or value options cannot be combined: \
                 they differ in {option}"
            ))
        );
    }
    let same = Processor::new(base().build()?).process_at(record, "t", 1)?;
    assert!(ProcessingResult::combine_results([first, same]).is_ok());
    Ok(())
}

#[test]
fn parts_with_custom_ids_numbered_alike_do_not_combine() -> TestResult {
    use std::sync::Arc;
    use transmogrify_core::{IdContext, IdGenerator};
    struct Numbered;
    impl IdGenerator for Numbered {
        fn generate(&self, ctx: &IdContext<'_>) -> String {
            format!("r{}", ctx.record_ordinal)
        }
    }
    let p = Processor::new(
        ProcessorConfig::builder()
            .with_id_strategy(IdStrategy::Custom(Arc::new(Numbered)))
            .build()?,
    );
    let err = ProcessingResult::combine_results([
        p.process(br#"{"a":1}"#, "t")?,
        p.process(br#"{"a":2}"#, "t")?,
    ])
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        err.starts_with("both results hold records numbered 0 to 0"),
        "{err}"
    );
    let both = ProcessingResult::combine_results([
        p.process_at(br#"{"a":1}"#, "t", 0)?,
        p.process_at(br#"{"a":2}"#, "t", 1)?,
    ])?;
    let ids: Vec<serde_json::Value> = both
        .rows("main")?
        .iter()
        .map(|r| r["__extract_id"].clone())
        .collect();
    assert_eq!(ids, ["r0", "r1"]);
    Ok(())
}

#[test]
fn layouts_merged_part_by_part_give_the_schemas_of_the_whole() -> TestResult {
    for typed in [false, true] {
        let p = processor(typed)?;
        let whole = part(&p, RECORDS, 0)?;
        let expected = whole.schemas()?;
        for cut in 0..=RECORDS.len() {
            // Part by part: records before `cut` one per part, the rest as one part.
            let mut parts = Vec::new();
            for i in 0..cut {
                parts.push(part(&p, &RECORDS[i..=i], i as u64)?);
            }
            parts.push(part(&p, &RECORDS[cut..], cut as u64)?);
            let mut layout: Option<ProcessingResult> = None;
            let mut columns_so_far = 0;
            for part in &parts {
                let changed = match &mut layout {
                    Some(l) => l.merge_layout(part)?,
                    None => {
                        layout = Some(part.compact_layout());
                        true
                    }
                };
                let l = layout.as_ref().ok_or("no layout")?;
                let columns: usize = l.schemas()?.iter().map(|s| s.schema.fields().len()).sum();
                assert_eq!(
                    changed,
                    columns > columns_so_far,
                    "typed={typed} cut={cut}: a part is new exactly when it adds a column"
                );
                columns_so_far = columns;
                // One cell-less batch per table, however many parts.
                for s in l.schemas()? {
                    let batches: Vec<_> = l.batches(&s).collect::<Result<_, _>>()?;
                    assert!(batches.len() <= 1, "{}: {} batches", s.name, batches.len());
                    assert!(batches.iter().all(|b| b.num_rows() == 0));
                }
            }
            let layout = layout.ok_or("no layout")?;
            let schemas = layout.schemas()?;
            assert_eq!(schemas.len(), expected.len());
            for (a, b) in schemas.iter().zip(&expected) {
                assert_eq!(
                    (&a.name, &a.schema, a.num_rows),
                    (&b.name, &b.schema, b.num_rows),
                    "typed={typed} cut={cut}"
                );
            }
            assert_eq!(layout.record_count(), RECORDS.len() as u64);
        }
    }
    let other = Processor::new(ProcessorConfig::builder().with_separator("__").build()?);
    let mut layout = part(&processor(false)?, RECORDS, 0)?.compact_layout();
    assert!(layout.merge_layout(&part(&other, RECORDS, 0)?).is_err());
    Ok(())
}

#[test]
fn parts_numbered_alike_do_not_combine_where_ids_come_from_ordinals() -> TestResult {
    let p = processor(false)?;
    let records: Vec<serde_json::Value> = RECORDS
        .iter()
        .map(|r| serde_json::from_str(r))
        .collect::<Result<_, _>>()?;
    // Each part numbered from 0: its ids would be the other's.
    let a = p.process_batch(&records[..2], "t")?;
    let b = p.process_batch(&records[2..], "t")?;
    let err = ProcessingResult::combine_results([a, b])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with(
            "both results hold records numbered 0 to 1, so their positional ids would repeat"
        ),
        "{err}"
    );
    // Numbered from their first record, they combine into the whole, ids and all.
    let a = p.process_batch_at(&records[..2], "t", 0)?;
    let b = p.process_batch_at(&records[2..], "t", 2)?;
    let whole = p.process_batch(&records, "t")?;
    // In either order (as threads finish): the rows in the order given, ids alike.
    let reversed = ProcessingResult::combine_results([b.clone(), a.clone()])?;
    let ids = |r: &ProcessingResult| -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let mut ids: Vec<String> = r
            .rows("main")?
            .iter()
            .map(|row| row["__extract_id"].to_string())
            .collect();
        ids.sort();
        Ok(ids)
    };
    assert_eq!(ids(&reversed)?, ids(&whole)?);
    assert_eq!(
        render(&ProcessingResult::combine_results([a, b])?)?,
        render(&whole)?
    );
    // Random ids do not come from ordinals: parts numbered alike combine.
    let random = Processor::new(ProcessorConfig::builder().build()?);
    let a = random.process_batch(&records[..2], "t")?;
    let b = random.process_batch(&records[2..], "t")?;
    assert_eq!(
        ProcessingResult::combine_results([a, b])?.num_rows("main"),
        Some(5)
    );
    Ok(())
}

#[test]
fn combined_parts_share_one_extraction_time_entity_and_id_strategy() -> TestResult {
    let at = |time: i64| -> Result<Processor, Box<dyn std::error::Error>> {
        Ok(Processor::new(
            ProcessorConfig::builder()
                .with_id_strategy(IdStrategy::Positional)
                .with_extract_time(Some(time))
                .build()?,
        ))
    };
    // Processors made at different times (one per thread, say): one time per run,
    // the first result's.
    let a = at(1_000_000)?.process_at(br#"{"a":1,"k":[{"b":1}]}"#, "t", 0)?;
    let b = at(2_000_000)?.process_at(br#"{"a":2,"k":[{"b":2}]}"#, "t", 1)?;
    let all = ProcessingResult::combine_results([a, b])?;
    for table in ["t", "t_k"] {
        let times: Vec<String> = all
            .rows(table)?
            .iter()
            .map(|r| r["__extract_datetime"].to_string())
            .collect();
        assert_eq!(times, ["\"1970-01-01 00:00:01.000000\""; 2], "{table}");
    }
    // An empty result of another entity is still another entity's.
    let p = at(0)?;
    let err = ProcessingResult::combine_results([
        p.empty_result("other"),
        p.process(br#"{"a":1}"#, "t")?,
    ])
    .err()
    .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("results of entity \"other\" and \"t\" cannot be combined")
    );
    let random = Processor::new(
        ProcessorConfig::builder()
            .with_extract_time(Some(0))
            .build()?,
    );
    let err = ProcessingResult::combine_results([
        p.process(br#"{"a":1}"#, "t")?,
        random.process_at(br#"{"a":2}"#, "t", 1)?,
    ])
    .err()
    .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("results made with different id strategies cannot be combined")
    );
    Ok(())
}

#[test]
fn raw_form_keeps_each_bad_records_kind() -> TestResult {
    // A result sent between processes in raw form: a bad record comes back as the
    // same kind (a column limit stays a column limit), printed alike.
    let p = Processor::new(
        ProcessorConfig::builder()
            .with_on_error(transmogrify_core::ErrorMode::Skip)
            .with_max_columns(1)
            .with_max_record_bytes(30)
            .build()?,
    );
    let mut session = p.session("t");
    session.push(br#"{"a":1,"b":2}"#)?;
    session.push(br#"{"a":"...............................long"}"#)?;
    session.push(br#"{"a":}"#)?;
    let r = session.finish()?;
    let back = ProcessingResult::from_raw(r.to_raw()?, p.config().clone())?;
    let kinds = |r: &ProcessingResult| -> Vec<(String, String)> {
        r.errors()
            .iter()
            .map(|e| (format!("{:?}", e.error.kind), e.error.to_string()))
            .collect()
    };
    assert_eq!(kinds(&back), kinds(&r));
    assert!(
        matches!(
            &back.errors()[0].error.kind,
            transmogrify_core::RecordErrorKind::TooManyColumns { table, limit: 1 } if table == "t"
        ),
        "{:?}",
        back.errors()
    );
    Ok(())
}
