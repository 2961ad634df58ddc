//! SPEC §4: id, parent and time columns on every table, renamed or switched off.

use transmogrify_core::{IdStrategy, Processor, ProcessorConfig};

use crate::support::*;

const JSON: &[u8] = br#"{"a":1,"kids":[{"b":2,"toys":[{"c":3}]}]}"#;

fn names(
    r: &transmogrify_core::ProcessingResult,
    table: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    Ok(r.table_schema(table)?
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

#[test]
fn metadata_columns_come_after_data_on_every_table() -> TestResult {
    let r = Processor::default().process(JSON, "t")?;
    assert_eq!(names(&r, "t")?, ["a", "__extract_id", "__extract_datetime"]);
    assert_eq!(
        names(&r, "t_kids")?,
        [
            "b",
            "__extract_id",
            "__parent_extract_id",
            "__extract_datetime"
        ]
    );
    assert_eq!(
        names(&r, "t_kids_toys")?,
        [
            "c",
            "__extract_id",
            "__parent_extract_id",
            "__extract_datetime"
        ]
    );
    Ok(())
}

#[test]
fn custom_names_apply_to_all_tables() -> TestResult {
    let config = ProcessorConfig::builder()
        .with_id_field(Some("row_id"))
        .with_parent_field(Some("parent_id"))
        .with_time_field(Some("loaded_at"))
        .with_array_index_field(Some("pos"))
        .build()?;
    let r = Processor::new(config).process(JSON, "t")?;
    assert_eq!(names(&r, "t")?, ["a", "row_id", "loaded_at"]);
    assert_eq!(
        names(&r, "t_kids")?,
        ["b", "row_id", "parent_id", "pos", "loaded_at"]
    );
    assert_eq!(
        names(&r, "t_kids_toys")?,
        ["c", "row_id", "parent_id", "pos", "loaded_at"]
    );
    let kids = r.rows("t_kids")?;
    let toys = r.rows("t_kids_toys")?;
    assert_eq!(toys[0]["parent_id"], kids[0]["row_id"]);
    Ok(())
}

#[test]
fn each_metadata_field_can_be_switched_off() -> TestResult {
    let r = flatten(
        std::str::from_utf8(JSON)?,
        ProcessorConfig::builder().with_parent_field(None),
    )?;
    assert_eq!(
        names(&r, "t_kids")?,
        ["b", "__extract_id", "__extract_datetime"]
    );
    let r = flatten(
        std::str::from_utf8(JSON)?,
        ProcessorConfig::builder().with_id_field(None),
    )?;
    assert_eq!(
        names(&r, "t_kids")?,
        ["b", "__parent_extract_id", "__extract_datetime"]
    );
    let r = flatten(
        std::str::from_utf8(JSON)?,
        ProcessorConfig::builder().with_time_field(None),
    )?;
    assert_eq!(names(&r, "t")?, ["a", "__extract_id"]);
    Ok(())
}

#[test]
fn one_timestamp_per_processor_in_the_documented_format() -> TestResult {
    let config = ProcessorConfig::builder()
        .with_extract_time(Some(1_709_210_096_000_001))
        .with_id_strategy(IdStrategy::Positional)
        .build()?;
    let r = Processor::new(config).process(JSON, "t")?;
    for table in r.table_names() {
        for row in r.rows(&table)? {
            assert_eq!(row["__extract_datetime"], "2024-02-29 12:34:56.000001");
        }
    }
    // Without a fixed time, every row of a processor shares the time it was created at,
    // and a later processor gets a later time.
    let p1 = Processor::default();
    let rows = p1.process(br#"[{"a":1},{"a":2}]"#, "t")?.rows("t")?;
    assert_eq!(rows[0]["__extract_datetime"], rows[1]["__extract_datetime"]);
    let again = p1.process(br#"{"a":3}"#, "t")?.rows("t")?;
    assert_eq!(
        again[0]["__extract_datetime"],
        rows[0]["__extract_datetime"]
    );
    std::thread::sleep(std::time::Duration::from_millis(2));
    let p2 = Processor::default();
    assert!(p2.extract_time() > p1.extract_time());
    Ok(())
}
