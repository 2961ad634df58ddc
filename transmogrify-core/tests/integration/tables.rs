//! SPEC §1: records, tables, flattening, order.

use crate::support::*;
use transmogrify_core::{Processor, ProcessorConfig};

#[test]
fn nested_objects_join_keys_depth_first() -> TestResult {
    let got = tables(
        r#"{"user":{"contact":{"email":"e","phone":"p"},"name":"n"},"z":1}"#,
        bare(),
    )?;
    assert_tables(
        &got,
        "# t
         user_contact_email|user_contact_phone|user_name|z
         e|p|n|1",
    );
    Ok(())
}

#[test]
fn arrays_of_objects_three_levels_deep_make_linked_tables() -> TestResult {
    let config = ProcessorConfig::builder()
        .with_id_strategy(transmogrify_core::IdStrategy::Positional)
        .with_time_field(None)
        .build()?;
    let result = Processor::new(config).process(
        br#"[{"user":{"orders":[
              {"id":"o1","items":[{"sku":"a","parts":[{"p":1},{"p":2}]},{"sku":"b"}]},
              {"id":"o2","items":[{"sku":"c","parts":[{"p":3}]}]}]}},
             {"user":{"orders":[{"id":"o3"}]}}]"#,
        "customers",
    )?;
    assert_eq!(
        result.table_names(),
        [
            "customers",
            "customers_user_orders",
            "customers_user_orders_items",
            "customers_user_orders_items_parts"
        ]
    );
    let main = result.rows("main")?;
    let orders = result.rows("customers_user_orders")?;
    let items = result.rows("customers_user_orders_items")?;
    let parts = result.rows("customers_user_orders_items_parts")?;
    assert_eq!(
        (main.len(), orders.len(), items.len(), parts.len()),
        (2, 3, 3, 3)
    );
    let id = |row: &serde_json::Map<String, serde_json::Value>| row["__extract_id"].clone();
    let parent =
        |row: &serde_json::Map<String, serde_json::Value>| row["__parent_extract_id"].clone();
    // Every row links to the row that held its array, at every level.
    assert_eq!(parent(&orders[0]), id(&main[0]));
    assert_eq!(parent(&orders[1]), id(&main[0]));
    assert_eq!(parent(&orders[2]), id(&main[1]));
    assert_eq!(parent(&items[0]), id(&orders[0]));
    assert_eq!(parent(&items[1]), id(&orders[0]));
    assert_eq!(parent(&items[2]), id(&orders[1]));
    assert_eq!(parent(&parts[0]), id(&items[0]));
    assert_eq!(parent(&parts[1]), id(&items[0]));
    assert_eq!(parent(&parts[2]), id(&items[2]));
    assert_eq!(orders[2]["id"], "o3");
    assert_eq!(parts[2]["p"], "3");
    // Child tables have no parent column in the main table.
    assert!(!main[0].contains_key("__parent_extract_id"));
    Ok(())
}

#[test]
fn objects_inside_elements_flatten_into_the_element_row() -> TestResult {
    let got = tables(
        r#"{"orders":[{"ship":{"to":{"city":"Oslo"}},"lines":[{"q":1}]}]}"#,
        bare(),
    )?;
    assert_tables(
        &got,
        "# t
         # t_orders
         ship_to_city
         Oslo
         # t_orders_lines
         q
         1",
    );
    Ok(())
}

#[test]
fn table_and_column_order_is_first_appearance() -> TestResult {
    let got = tables(
        r#"[{"b":1,"x":[{"k":1}]},{"a":2,"b":3,"w":[{"k":2}],"x":[{"j":1,"k":3}]}]"#,
        bare(),
    )?;
    assert_tables(
        &got,
        "# t
         b|a
         1|∅
         3|2
         # t_x
         k|j
         1|∅
         3|1
         # t_w
         k
         2",
    );
    Ok(())
}

#[test]
fn a_record_that_is_not_an_object_is_an_error_with_position() -> TestResult {
    let p = Processor::default();
    let err = p
        .process(b"[{\"a\":1},\n 42]", "t")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "<input>: line 2, column 2 (byte 11, record 1): a record must be a JSON object, found a number near `42`"
        )
    );
    let err = p.process(b"\"text\"", "t").err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "<input>: line 1, column 1 (byte 0, record 0): a record must be a JSON object, found a string near `\"text\"`"
        )
    );
    // A JSONL line's value, after the whitespace it starts with.
    let err = p
        .process(b"{\"a\":1}\n   5\n", "t")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "<input>: line 2, column 4 (byte 11, record 1): a record must be a JSON object, found a number near `5`"
        )
    );
    Ok(())
}

#[test]
fn no_records_still_make_a_main_table_without_rows() -> TestResult {
    for input in ["[]", "", "  \n"] {
        let r = flatten(input, ProcessorConfig::builder())?;
        assert_eq!(r.table_names(), ["t"], "{input:?}");
        assert_eq!(r.num_rows("main"), Some(0));
        assert_eq!(r.main_table()?.len(), 0);
        assert_eq!(main_columns(&r)?, ["__extract_id", "__extract_datetime"]);
    }
    Ok(())
}

/// The main table's column names.
fn main_columns(
    r: &transmogrify_core::ProcessingResult,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let schema = r.table_schema("main")?.schema;
    Ok(schema.fields().iter().map(|f| f.name().clone()).collect())
}

#[test]
fn empty_records_still_make_a_main_row() -> TestResult {
    let r = flatten(r#"[{}, {"a": {}}, {"b": []}]"#, ProcessorConfig::builder())?;
    assert_eq!(r.num_rows("main"), Some(3));
    assert_eq!(r.table_names(), ["t"]);
    assert_eq!(main_columns(&r)?, ["__extract_id", "__extract_datetime"]);
    Ok(())
}

#[test]
fn process_batch_and_value_take_serde_values() -> TestResult {
    let records: Vec<serde_json::Value> =
        serde_json::from_str(r#"[{"n": 1.0, "big": 12345678901234567890, "e": 1e5}]"#)?;
    let config = bare().build()?;
    // A `serde_json::Value` keeps every digit; its exponent text is serde_json's (`1e+5`).
    let r = Processor::new(config.clone()).process_batch(&records, "t")?;
    assert_tables(&render(&r)?, "# t\nn|big|e\n1.0|12345678901234567890|1e+5");
    let value = serde_json::Value::Array(records);
    let r = Processor::new(config).process_value(&value, "t")?;
    assert_tables(&render(&r)?, "# t\nn|big|e\n1.0|12345678901234567890|1e+5");
    Ok(())
}

#[test]
fn declared_main_columns_come_first_and_are_kept_empty() -> TestResult {
    for typed in [false, true] {
        let r = flatten(
            r#"[{"z":1,"b":2,"k":[{"b":3}]},{"a":"x","b":4}]"#,
            bare()
                .with_cast_to_string(!typed)
                .with_main_columns(["a", "b", "empty", "b"]),
        )?;
        assert_tables(
            &render(&r)?,
            "# t
             a|b|empty|z
             ∅|2|∅|1
             x|4|∅|∅
             # t_k
             b
             3",
        );
        let schema = r.table_schema("main")?.schema;
        let empty = schema.field_with_name("empty")?;
        assert_eq!(
            empty.data_type(),
            &arrow_schema::DataType::Utf8,
            "typed {typed}"
        );
    }
    Ok(())
}
