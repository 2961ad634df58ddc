//! SPEC §1 (collisions) and §6: naming options and max_depth.

use transmogrify_core::ArrayMode;

use crate::support::*;

#[test]
fn separator_in_keys_never_merges_columns() -> TestResult {
    let a = tables(r#"{"a_b":1,"a":{"b":2}}"#, bare())?;
    assert_tables(&a, "# t\na_b|a_b_2\n1|2");
    // The rule depends on the paths, not on their order.
    let b = tables(r#"{"a":{"b":2},"a_b":1}"#, bare())?;
    assert_tables(&b, "# t\na_b_2|a_b\n2|1");
    let c = tables(r#"{"a_b":{"c":1},"a":{"b_c":2}}"#, bare())?;
    assert_tables(&c, "# t\na_b_c_2|a_b_c\n1|2");
    Ok(())
}

#[test]
fn colliding_names_are_decided_over_the_whole_run() -> TestResult {
    // The colliding path appears only in a later batch: the earlier rows are renamed too.
    let got = tables(r#"[{"a":{"b":1}},{"a_b":2}]"#, bare().with_batch_size(1))?;
    assert_tables(&got, "# t\na_b_2|a_b\n1|∅\n∅|2");
    Ok(())
}

#[test]
fn table_names_never_merge() -> TestResult {
    let got = tables(r#"{"a_b":[{"x":1}],"a":{"b":[{"y":2}]}}"#, bare())?;
    assert_tables(&got, "# t\n# t_a_b\nx\n1\n# t_a_b_2\ny\n2");
    Ok(())
}

#[test]
fn data_columns_never_take_metadata_names() -> TestResult {
    let r = flatten(
        r#"{"__extract_id":"mine"}"#,
        transmogrify_core::ProcessorConfig::builder(),
    )?;
    let rows = r.rows("t")?;
    assert_eq!(rows[0]["__extract_id_2"], "mine");
    assert_ne!(rows[0]["__extract_id"], "mine");
    Ok(())
}

#[test]
fn value_column_keeps_its_name_over_a_value_key() -> TestResult {
    let got = tables(
        r#"{"v":[{"value":1},2]}"#,
        bare().with_array_mode(ArrayMode::Separate),
    )?;
    assert_tables(&got, "# t\n# t_v\nvalue_2|value\n1|∅\n∅|2");
    Ok(())
}

#[test]
fn abbreviated_field_names() -> TestResult {
    let json = r#"{"customer":{"shipping_address":{"quantity":1}},"id":2}"#;
    assert_tables(
        &tables(json, bare().with_abbreviate_field_names(true))?,
        "# t\ncust_ship_quantity|id\n1|2",
    );
    assert_tables(
        &tables(
            json,
            bare()
                .with_abbreviate_field_names(true)
                .with_preserve_leaf_component(false)
                .with_max_field_component_length(6)
                .with_custom_abbreviations([("shipping_address", "shipto")]),
        )?,
        "# t\ncust_shipto_qty|id\n1|2",
    );
    Ok(())
}

#[test]
fn abbreviated_table_names() -> TestResult {
    let json = r#"{"transactions":[{"information":[{"a":1}]}]}"#;
    assert_tables(
        &tables(json, bare().with_abbreviate_table_names(true))?,
        "# t\n# t_transactions\n# t_txns_information\na\n1",
    );
    assert_tables(
        &tables(
            json,
            bare()
                .with_abbreviate_table_names(true)
                .with_preserve_leaf_component(false),
        )?,
        "# t\n# t_txns\n# t_txns_info\na\n1",
    );
    Ok(())
}

#[test]
fn names_that_collide_after_shortening_stay_apart() -> TestResult {
    let got = tables(
        r#"{"customer":{"x":1},"cust":{"x":2}}"#,
        bare().with_abbreviate_field_names(true),
    )?;
    assert_tables(&got, "# t\ncust_x_2|cust_x\n1|2");
    Ok(())
}

#[test]
fn max_depth_keeps_deeper_objects_as_json_text() -> TestResult {
    let json = r#"{"a":{"b":{"c":{"d":1}},"e":2},"f":[{"g":{"h":{"i":1}}}]}"#;
    assert_tables(
        &tables(json, bare().with_max_depth(2))?,
        r#"# t
           a_b|a_e
           {"c":{"d":1}}|2
           # t_f
           value
           {"g":{"h":{"i":1}}}"#,
    );
    assert_tables(
        &tables(json, bare().with_max_depth(4))?,
        r#"# t
           a_b_c_d|a_e
           1|2
           # t_f
           g_h
           {"i":1}"#,
    );
    // An element `{}` at the limit makes nothing, as anywhere: its row has no value
    // column, and `value` is not taken from a data key of that name.
    let empty = r#"{"f":[{}]}"#;
    assert_tables(&tables(empty, bare().with_max_depth(2))?, "# t\n# t_f");
    assert_tables(&tables(empty, bare().with_max_depth(3))?, "# t\n# t_f");
    let both = r#"{"f":[{},{"value":1,"g":{"h":2}}]}"#;
    assert_tables(
        &tables(both, bare().with_max_depth(2))?,
        r#"# t
           # t_f
           value
           ∅
           {"value":1,"g":{"h":2}}"#,
    );
    Ok(())
}

#[test]
fn unsafe_file_names_are_replaced_but_table_names_are_not() -> TestResult {
    let r = flatten(r#"{"a/b c":[{"x":1}]}"#, bare())?;
    let schema = r.table_schema("t_a/b c")?;
    assert_eq!(schema.file_stem, "t_a_b_c");
    Ok(())
}

#[test]
fn tables_reached_through_different_arrays_never_merge() -> TestResult {
    let json = r#"[{"a":[{"b":[{"x":1}]}]},{"a":{"b":[{"y":2}]}}]"#;
    let got = tables(json, bare())?;
    // `a[].b[]` and `a.b[]` share their keys; the one with fewer array steps keeps
    // the plain name.
    assert_tables(&got, "# t\n# t_a\n# t_a_b_2\nx\n1\n# t_a_b\ny\n2");
    // The same holds when the two only meet in a combined result.
    let p = transmogrify_core::Processor::new(bare().with_batch_size(1).build()?);
    let a = p.process(br#"{"a":[{"b":[{"x":1}]}]}"#, "t")?;
    let b = p.process(br#"{"a":{"b":[{"y":2}]}}"#, "t")?;
    let all = transmogrify_core::ProcessingResult::combine_results([a, b])?;
    assert_tables(&render(&all)?, "# t\n# t_a\n# t_a_b_2\nx\n1\n# t_a_b\ny\n2");
    Ok(())
}
