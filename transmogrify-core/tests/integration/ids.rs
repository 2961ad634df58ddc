//! SPEC §5: id strategies.

use std::sync::Arc;

use transmogrify_core::{IdContext, IdGenerator, IdStrategy, Processor, ProcessorConfig, uuid5};

use crate::support::*;

type Rows = Vec<serde_json::Map<String, serde_json::Value>>;

fn run(json: &str, strategy: IdStrategy) -> Result<(Rows, Rows), Box<dyn std::error::Error>> {
    let config = ProcessorConfig::builder()
        .with_id_strategy(strategy)
        .build()?;
    let r = Processor::new(config).process(json.as_bytes(), "t")?;
    let kids = if r.table_names().len() > 1 {
        r.rows(&r.table_names()[1])?
    } else {
        Vec::new()
    };
    Ok((r.rows("main")?, kids))
}

fn id(row: &serde_json::Map<String, serde_json::Value>) -> String {
    row["__extract_id"].as_str().unwrap_or_default().to_string()
}

#[test]
fn random_ids_are_lowercase_uuid_v4() -> TestResult {
    let (main, kids) = run(
        r#"[{"a":[{"b":1},{"b":2}]},{"a":[{"b":3}]}]"#,
        IdStrategy::Random,
    )?;
    let mut all: Vec<String> = main.iter().chain(&kids).map(id).collect();
    for i in &all {
        let u = uuid::Uuid::parse_str(i)?;
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(i, &i.to_lowercase());
        assert_eq!(i.len(), 36);
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 5);
    assert_eq!(kids[2]["__parent_extract_id"], main[1]["__extract_id"]);
    Ok(())
}

#[test]
fn field_ids_match_the_python_vectors() -> TestResult {
    let strategy = IdStrategy::Fields(vec![("".into(), "id".into())]);
    let (main, _) = run(r#"[{"id":"123"},{"id":123},{"id":"CUST001"}]"#, strategy)?;
    assert_eq!(id(&main[0]), "ed2a5f87-17c9-59b7-a855-049cd6b9fc61");
    // A number's text is its value: 123 names the row like "123".
    assert_eq!(id(&main[1]), "ed2a5f87-17c9-59b7-a855-049cd6b9fc61");
    assert_eq!(id(&main[2]), "7c5c410b-1dac-5b87-ab7c-da1f9932eee5");
    Ok(())
}

#[test]
fn field_patterns_most_specific_wins_and_missing_fields_fall_back_to_positions() -> TestResult {
    let strategy = IdStrategy::Fields(vec![
        ("*".into(), "any".into()),
        ("".into(), "cust_id".into()),
        ("user_*".into(), "uid".into()),
        ("user_orders".into(), "oid".into()),
    ]);
    let config = ProcessorConfig::builder()
        .with_id_strategy(strategy)
        .build()?;
    let r = Processor::new(config).process(
        br#"{"cust": {"id": "C1"}, "user": {"orders": [{"oid": "O1", "uid": "no", "lines": [{"uid": "L1"}, {"x": 1}]}]},
            "misc": [{"any": "M1"}, {"any": ""}]}"#,
        "t",
    )?;
    let main = r.rows("t")?;
    let orders = r.rows("t_user_orders")?;
    let lines = r.rows("t_user_orders_lines")?;
    let misc = r.rows("t_misc")?;
    // The id field comes after the array it names: the field is the flattened name.
    assert_eq!(id(&main[0]), uuid5("C1"));
    assert_eq!(id(&orders[0]), uuid5("O1"));
    assert_eq!(id(&lines[0]), uuid5("L1"));
    assert_eq!(id(&misc[0]), uuid5("M1"));
    // Missing or empty fields: positional ids, never random.
    assert_eq!(
        id(&lines[1]),
        uuid5(&format!("{}:user_orders_lines:1", id(&orders[0])))
    );
    assert_eq!(id(&misc[1]), uuid5(&format!("{}:misc:1", id(&main[0]))));
    let r2 = Processor::new(
        ProcessorConfig::builder()
            .with_id_strategy(IdStrategy::Fields(vec![("".into(), "nope".into())]))
            .build()?,
    )
    .process(br#"{"a":1}"#, "t")?;
    assert_eq!(id(&r2.rows("t")?[0]), uuid5("t:0"));
    Ok(())
}

#[test]
fn positional_ids_follow_the_documented_names() -> TestResult {
    let (main, kids) = run(
        r#"[{"a":1},{"k":[{"b":1},{"b":2}]}]"#,
        IdStrategy::Positional,
    )?;
    assert_eq!(id(&main[0]), uuid5("t:0"));
    assert_eq!(id(&main[1]), uuid5("t:1"));
    assert_eq!(id(&kids[1]), uuid5(&format!("{}:k:1", uuid5("t:1"))));
    // Stable across runs.
    let (again, _) = run(
        r#"[{"a":1},{"k":[{"b":1},{"b":2}]}]"#,
        IdStrategy::Positional,
    )?;
    assert_eq!(
        main.iter().map(id).collect::<Vec<_>>(),
        again.iter().map(id).collect::<Vec<_>>()
    );
    Ok(())
}

#[test]
fn content_hash_ids_depend_on_content_not_layout() -> TestResult {
    let (main, kids) = run(
        r#"[{"b":1,"a":{"y":[1,2],"x":"s"},"k":[{"z":1}]},
            {"a": {"x": "s", "y": [1, 2]}, "k": [{"z": 1}], "b": 1},
            {"b":1.0}]"#,
        IdStrategy::ContentHash,
    )?;
    assert_eq!(
        id(&main[0]),
        uuid5(r#"{"a":{"x":"s","y":[1,2]},"b":1,"k":[{"z":1}]}"#)
    );
    assert_eq!(id(&main[0]), id(&main[1]));
    assert_ne!(id(&main[0]), id(&main[2]));
    assert_eq!(id(&kids[0]), uuid5(&format!("{}:k:0", id(&main[0]))));
    Ok(())
}

struct Counter;

impl IdGenerator for Counter {
    fn generate(&self, ctx: &IdContext<'_>) -> String {
        match ctx.parent_id {
            Some(p) => format!("{p}/{}{}", ctx.table_path, ctx.index.unwrap_or(0)),
            None => format!("{}#{}", ctx.entity, ctx.record_ordinal),
        }
    }
}

#[test]
fn custom_generators_name_rows() -> TestResult {
    let (main, kids) = run(
        r#"[{"a":1},{"k":[{"b":1},{"b":2}]}]"#,
        IdStrategy::Custom(Arc::new(Counter)),
    )?;
    assert_eq!(id(&main[1]), "t#1");
    assert_eq!(id(&kids[1]), "t#1/k1");
    assert_eq!(kids[1]["__parent_extract_id"], "t#1");
    Ok(())
}
