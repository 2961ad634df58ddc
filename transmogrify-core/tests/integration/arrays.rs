//! SPEC §3: the five array modes, mixed arrays, element nulls and empties.

use transmogrify_core::{ArrayMode, IdStrategy, ProcessorConfig};

use crate::support::*;

const INPUT: &str = r#"{"id":1,"tags":["a","b"],"orders":[{"n":1},{"n":2.50}],
    "mixed":[{"k":1},"s",[1, 2.0],null,""],"matrix":[[1,2],[3]]}"#;

#[test]
fn smart_mode() -> TestResult {
    let got = tables(INPUT, bare())?;
    assert_tables(
        &got,
        r#"# t
           id|tags|matrix
           1|["a","b"]|[[1,2],[3]]
           # t_orders
           n
           1
           2.50
           # t_mixed
           k|value
           1|∅
           ∅|s
           ∅|[1,2.0]"#,
    );
    Ok(())
}

#[test]
fn separate_mode() -> TestResult {
    let got = tables(INPUT, bare().with_array_mode(ArrayMode::Separate))?;
    assert_tables(
        &got,
        r#"# t
           id
           1
           # t_tags
           value
           a
           b
           # t_orders
           n
           1
           2.50
           # t_mixed
           k|value
           1|∅
           ∅|s
           ∅|[1,2.0]
           # t_matrix
           value
           [1,2]
           [3]"#,
    );
    Ok(())
}

#[test]
fn inline_mode() -> TestResult {
    let got = tables(INPUT, bare().with_array_mode(ArrayMode::Inline))?;
    assert_tables(
        &got,
        r#"# t
           id|tags|orders|mixed|matrix
           1|["a","b"]|[{"n":1},{"n":2.50}]|[{"k":1},"s",[1,2.0],null,""]|[[1,2],[3]]"#,
    );
    Ok(())
}

#[test]
fn index_mode() -> TestResult {
    let got = tables(INPUT, bare().with_array_mode(ArrayMode::Index))?;
    assert_tables(
        &got,
        "# t
         id|tags_0|tags_1|orders_0_n|orders_1_n|mixed_0_k|mixed_1|mixed_2_0|mixed_2_1|matrix_0_0|matrix_0_1|matrix_1_0
         1|a|b|1|2.50|1|s|1|2.0|1|2|3",
    );
    Ok(())
}

#[test]
fn skip_mode() -> TestResult {
    let got = tables(INPUT, bare().with_array_mode(ArrayMode::Skip))?;
    assert_tables(&got, "# t\nid\n1");
    Ok(())
}

#[test]
fn scalar_array_text_is_compact_json_with_exact_numbers() -> TestResult {
    let got = tables(
        r#"{"v":[ 1.0 , 1e5, -0, 12345678901234567890, "q\"\u00e9\n", true, null ]}"#,
        bare(),
    )?;
    assert_tables(
        &got,
        r#"# t
           v
           [1.0,1e5,-0,12345678901234567890,"q\"é\n",true,null]"#,
    );
    Ok(())
}

#[test]
fn element_nulls_and_empties_follow_the_flags() -> TestResult {
    let json = r#"{"v":["a",null,""]}"#;
    let config = || {
        bare()
            .with_array_mode(ArrayMode::Separate)
            .with_array_index_field(Some("i"))
    };
    assert_tables(&tables(json, config())?, "# t\n# t_v\nvalue|i\na|0");
    assert_tables(
        &tables(json, config().with_skip_null(false))?,
        "# t\n# t_v\nvalue|i\na|0\n∅|1",
    );
    assert_tables(
        &tables(json, config().with_include_empty(true))?,
        "# t\n# t_v\nvalue|i\na|0\n|2",
    );
    Ok(())
}

#[test]
fn array_index_field_numbers_child_rows_by_source_position() -> TestResult {
    let got = tables(
        r#"{"v":[{"a":1},null,{"a":2}],"w":[[{"x":1}]]}"#,
        bare().with_array_index_field(Some("__index")),
    )?;
    // In smart mode an array without object elements (here: one array) stays JSON text.
    assert_tables(
        &got,
        r#"# t
           w
           [[{"x":1}]]
           # t_v
           a|__index
           1|0
           2|2"#,
    );
    let got = tables(
        r#"{"w":[[{"x":1}]]}"#,
        bare()
            .with_array_index_field(Some("__index"))
            .with_array_mode(ArrayMode::Separate),
    )?;
    assert_tables(&got, "# t\n# t_w\nvalue|__index\n[{\"x\":1}]|0");
    Ok(())
}

#[test]
fn arrays_of_objects_in_arrays_of_objects_become_grandchildren() -> TestResult {
    let got = tables(
        r#"{"a":[{"b":[{"c":[{"d":1}]}]}]}"#,
        bare().with_array_mode(ArrayMode::Smart),
    )?;
    assert_tables(&got, "# t\n# t_a\n# t_a_b\n# t_a_b_c\nd\n1");
    Ok(())
}

#[test]
fn an_empty_object_element_is_a_row_with_only_its_ids() -> TestResult {
    // Like a record `{}`, which is a main row, an element `{}` is a child row;
    // an empty array element adds nothing.
    let config = ProcessorConfig::builder()
        .with_id_strategy(IdStrategy::Positional)
        .with_time_field(None)
        .with_array_index_field(Some("i"));
    let got = flatten(r#"{"o":[{"x":1},{},[],{"x":2}]}"#, config)?;
    assert_eq!(got.num_rows("t_o"), Some(3));
    let rows = got.rows("t_o")?;
    let cells: Vec<(Option<&str>, Option<&str>)> = rows
        .iter()
        .map(|r| {
            (
                r.get("x").and_then(|v| v.as_str()),
                r.get("i").and_then(|v| v.as_str()),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            (Some("1"), Some("0")),
            (None, Some("1")),
            (Some("2"), Some("3"))
        ]
    );
    Ok(())
}
