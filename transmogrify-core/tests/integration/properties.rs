//! Property tests over random nested JSON.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;
use serde_json::{Map, Value};
use transmogrify_core::{ArrayMode, IdStrategy, ProcessingResult, Processor, ProcessorConfig};

use crate::support::render;

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        (-1000i32..1000, 0u32..100).prop_map(|(a, b)| format!("{a}.{b:02}")),
        Just("12345678901234567890123".to_string()),
        Just("1e5".to_string()),
        Just("-0".to_string()),
    ]
    .prop_map(|text| serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        number(),
        "[a-zé\"\\\\ ]{1,6}".prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        Just(Value::String(String::new())),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[ab_]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn records() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(
        prop::collection::btree_map("[ab_]{1,3}", json(), 0..5)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        1..6,
    )
}

/// What the contract says the output cells are: every kept scalar once (text as in
/// the input), kept arrays as compact JSON; and the number of rows per table path.
/// A table's identity: its keys and after how many of them each array step comes.
type TableId = (Vec<String>, Vec<u32>);

#[derive(Default)]
struct Model {
    cells: Vec<String>,
    rows: BTreeMap<TableId, usize>,
}

impl Model {
    fn object(
        &mut self,
        map: &Map<String, Value>,
        table: &TableId,
        prefix: &[String],
        mode: ArrayMode,
    ) {
        for (k, v) in map {
            let mut key = prefix.to_vec();
            key.push(k.clone());
            self.value(v, table, &key, mode);
        }
    }

    fn value(&mut self, v: &Value, table: &TableId, key: &[String], mode: ArrayMode) {
        match v {
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            Value::String(s) => self.cells.push(s.clone()),
            Value::Number(n) => self.cells.push(n.to_string()),
            Value::Bool(b) => self.cells.push(b.to_string()),
            Value::Object(m) => self.object(m, table, key, mode),
            Value::Array(items) if items.is_empty() => {}
            Value::Array(items) => {
                let has_object = items.iter().any(Value::is_object);
                if mode == ArrayMode::Smart && !has_object {
                    self.cells
                        .push(serde_json::to_string(v).unwrap_or_default());
                    return;
                }
                let path = child_path(table, key);
                for item in items {
                    match item {
                        Value::Null => {}
                        Value::String(s) if s.is_empty() => {}
                        Value::Array(a) if a.is_empty() => {}
                        Value::Array(_) => {
                            self.cells
                                .push(serde_json::to_string(item).unwrap_or_default());
                            *self.rows.entry(path.clone()).or_default() += 1;
                        }
                        Value::Object(m) => {
                            *self.rows.entry(path.clone()).or_default() += 1;
                            self.object(m, &path, &[], mode);
                        }
                        scalar => {
                            *self.rows.entry(path.clone()).or_default() += 1;
                            self.value(scalar, &path, &[], mode);
                        }
                    }
                }
            }
        }
    }
}

/// The table of an array at key path `key` inside a row of table `table`.
fn child_path(table: &TableId, key: &[String]) -> TableId {
    let mut p = table.clone();
    p.0.extend_from_slice(key);
    p.1.push(p.0.len() as u32);
    p
}

fn config(mode: ArrayMode) -> Result<ProcessorConfig, transmogrify_core::ConfigError> {
    ProcessorConfig::builder()
        .with_array_mode(mode)
        .with_id_strategy(IdStrategy::Positional)
        .with_extract_time(Some(0))
        .with_batch_size(2)
        .build()
}

fn data_cells(result: &ProcessingResult) -> Result<Vec<String>, TestCaseError> {
    let mut cells = Vec::new();
    for schema in result.schemas().map_err(fail)? {
        for batch in result.batches(&schema) {
            let batch = batch.map_err(fail)?;
            let mut rows = Vec::new();
            transmogrify_core::batch_rows(&batch, &mut rows).map_err(fail)?;
            for row in rows {
                for (name, v) in row {
                    if ["__extract_id", "__parent_extract_id", "__extract_datetime"]
                        .contains(&name.as_str())
                    {
                        continue;
                    }
                    if let Value::String(s) = v {
                        cells.push(s);
                    }
                }
            }
        }
    }
    Ok(cells)
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_leaf_appears_once_and_links_hold(records in records(), separate in any::<bool>()) {
        let mode = if separate { ArrayMode::Separate } else { ArrayMode::Smart };
        let processor = Processor::new(config(mode).map_err(fail)?);
        let result = processor.process_batch(&records, "t").map_err(fail)?;

        let mut model = Model::default();
        for r in &records {
            if let Value::Object(m) = r {
                model.object(m, &(Vec::new(), Vec::new()), &[], mode);
            }
        }
        let mut got = data_cells(&result)?;
        let mut want = model.cells.clone();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want);

        // Row counts per table path equal the kept elements on that path.
        let schemas = result.schemas().map_err(fail)?;
        let mut rows: BTreeMap<TableId, usize> = BTreeMap::new();
        for s in &schemas {
            if !s.array_levels.is_empty() {
                rows.insert((s.path.clone(), s.array_levels.clone()), s.num_rows);
            }
        }
        prop_assert_eq!(rows, model.rows.clone());
        prop_assert_eq!(result.num_rows("main"), Some(records.len()));

        // Every parent id exists in the parent table.
        let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
        for s in &schemas {
            let set = result.rows(&s.name).map_err(fail)?.into_iter()
                .filter_map(|r| r.get("__extract_id").and_then(Value::as_str).map(str::to_string))
                .collect();
            ids.insert(s.name.clone(), set);
        }
        for s in &schemas {
            let Some(parent) = &s.parent else { continue };
            for row in result.rows(&s.name).map_err(fail)? {
                let pid = row.get("__parent_extract_id").and_then(Value::as_str).unwrap_or("");
                prop_assert!(ids[parent].contains(pid), "{} row links to missing {}", s.name, pid);
            }
        }
    }

    #[test]
    fn any_split_combines_to_the_whole(
        records in records(),
        cuts in prop::collection::vec(0usize..6, 0..4),
        typed in any::<bool>(),
    ) {
        let config = config(ArrayMode::Smart).map_err(fail)?
            .to_builder().with_cast_to_string(!typed).build().map_err(fail)?;
        let processor = Processor::new(config);
        let whole = processor.process_batch(&records, "t").map_err(fail)?;
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(records.len())).collect();
        cuts.push(0);
        cuts.push(records.len());
        cuts.sort();
        let mut parts = Vec::new();
        for w in cuts.windows(2) {
            let mut session = processor.session("t");
            session.set_next_ordinal(w[0] as u64);
            for r in &records[w[0]..w[1]] {
                session.push_value(r).map_err(fail)?;
            }
            parts.push(session.finish().map_err(fail)?);
        }
        let combined = ProcessingResult::combine_results(parts).map_err(fail)?;
        prop_assert_eq!(
            render(&combined).map_err(fail)?,
            render(&whole).map_err(fail)?
        );
    }
}
