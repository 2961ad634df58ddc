//! SPEC §2: values in text and typed mode, nulls, empty strings, duplicates.

use arrow_array::{Array, Decimal128Array, Float64Array, Int64Array, TimestampMicrosecondArray};
use arrow_schema::{DataType, TimeUnit};
use transmogrify_core::{Processor, ProcessorConfig};

use crate::support::*;

#[test]
fn numbers_keep_their_exact_text() -> TestResult {
    let got = tables(
        r#"{"a":1.0,"b":1e5,"c":-0,"d":12345678901234567890,"e":0.1,"f":1E-7,"g":true,"h":false}"#,
        bare(),
    )?;
    assert_tables(
        &got,
        "# t
         a|b|c|d|e|f|g|h
         1.0|1e5|-0|12345678901234567890|0.1|1E-7|true|false",
    );
    Ok(())
}

#[test]
fn strings_are_unescaped_and_unicode_is_kept() -> TestResult {
    let got = tables(
        r#"{"ключ":"значение","emoji":"\ud83d\ude00 ok","esc":"a\"b\\c\/d\te","k\u00e9y":"v"}"#,
        bare(),
    )?;
    assert_tables(
        &got,
        "# t
         ключ|emoji|esc|kéy
         значение|😀 ok|a\"b\\c/d\te|v",
    );
    Ok(())
}

#[test]
fn nulls_follow_skip_null() -> TestResult {
    let json = r#"[{"a":null,"b":1},{"a":2,"b":null}]"#;
    assert_tables(&tables(json, bare())?, "# t\nb|a\n1|∅\n∅|2");
    let r = flatten(json, bare().with_skip_null(false))?;
    assert_tables(&render(&r)?, "# t\na|b\n∅|1\n2|∅");
    Ok(())
}

#[test]
fn empty_strings_follow_include_empty() -> TestResult {
    let json = r#"{"a":"","b":"x"}"#;
    assert_tables(&tables(json, bare())?, "# t\nb\nx");
    assert_tables(
        &tables(json, bare().with_include_empty(true))?,
        "# t\na|b\n|x",
    );
    Ok(())
}

#[test]
fn empty_objects_and_arrays_produce_nothing() -> TestResult {
    let got = tables(r#"{"a":{},"b":[],"c":{"d":{}},"e":1}"#, bare())?;
    assert_tables(&got, "# t\ne\n1");
    Ok(())
}

#[test]
fn duplicate_keys_last_one_wins() -> TestResult {
    let got = tables(r#"{"a":1,"b":2,"a":3,"o":{"x":1,"x":"y"}}"#, bare())?;
    assert_tables(&got, "# t\na|b|o_x\n3|2|y");
    // Whatever the earlier value was (object, array, scalar), only the last one is
    // flattened, at the key's first place.
    let got = tables(
        r#"[{"a":{"b":1},"z":0,"a":2},{"k":[{"x":1}],"k":[{"y":2}]},{"m":5,"m":{"n":6}}]"#,
        bare(),
    )?;
    assert_tables(
        &got,
        "# t
         a|z|m_n
         2|0|∅
         ∅|∅|∅
         ∅|∅|6
         # t_k
         y
         2",
    );
    Ok(())
}

#[test]
fn a_record_flattened_again_for_its_repeated_keys_loses_no_earlier_value() -> TestResult {
    // Record 2 is flattened again without its repeated key, after its array of
    // objects at `a` made a child table: the empty key under `a` (column `a_`) must
    // still be the one of record 1 when record 3 meets it after a new key.
    let got = tables(
        r#"[{"a":{"":1}},{"a":[{"b":1,"b":2}]},{"a":{"x":1,"":2}}]"#,
        bare(),
    )?;
    assert_tables(
        &got,
        "# t
         a_|a_x
         1|∅
         ∅|∅
         2|1
         # t_a
         b
         2",
    );
    let got = tables(
        r#"[{"a":{"x":1,"":2}},{"a":[{}],"k":1,"k":1},{"a":{"":3}}]"#,
        bare(),
    )?;
    assert_tables(
        &got,
        "# t
         a_x|a_|k
         1|2|∅
         ∅|∅|1
         ∅|3|∅
         # t_a",
    );
    Ok(())
}

#[test]
fn repeated_keys_in_values_kept_as_json_text_keep_the_last_value() -> TestResult {
    // An array of arrays (JSON text in smart mode) and an object past the depth
    // limit: the last of a repeated key wins there too, with or without a repeated
    // key elsewhere in the record.
    let got = tables(
        r#"[{"s":[[{"x":1,"x":2}]]},{"s":[[{"x":1,"x":2}]],"k":1,"k":2},{"s":[[{"x":{"y":1,"y":[3]}}]]}]"#,
        bare(),
    )?;
    assert_tables(
        &got,
        r#"# t
         s|k
         [[{"x":2}]]|∅
         [[{"x":2}]]|2
         [[{"x":{"y":[3]}}]]|∅"#,
    );
    let got = tables(
        r#"{"o":{"p":{"x":1,"x":2,"z":{"q":1,"q":0}}}}"#,
        bare().with_max_depth(2),
    )?;
    assert_tables(
        &got,
        r#"# t
        o_p
        {"x":2,"z":{"q":0}}"#,
    );
    // An array element that is an array: a JSON text value of the child table.
    let got = tables(
        r#"{"s":[[{"x":1,"x":2}]]}"#,
        bare().with_array_mode(transmogrify_core::ArrayMode::Separate),
    )?;
    assert_tables(
        &got,
        r#"# t
        # t_s
        value
        [{"x":2}]"#,
    );
    Ok(())
}

#[test]
fn typed_mode_infers_one_type_per_column() -> TestResult {
    let r = flatten(
        r#"[{"i":1,"f":1,"b":true,"s":"x","m":1,"big":1,"huge":1,"n":null},
            {"i":2,"f":2.5,"b":false,"s":"y","m":"two","big":12345678901234567890,
             "huge":123456789012345678901234567890123456789012}]"#,
        bare().with_cast_to_string(false).with_skip_null(false),
    )?;
    let batches = r.main_table()?;
    let schema = batches[0].schema();
    let types: Vec<(&str, &DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type()))
        .collect();
    assert_eq!(
        types,
        [
            ("i", &DataType::Int64),
            ("f", &DataType::Float64),
            ("b", &DataType::Boolean),
            ("s", &DataType::Utf8),
            ("m", &DataType::Utf8),
            ("big", &DataType::Decimal128(38, 0)),
            ("huge", &DataType::Utf8),
            ("n", &DataType::Utf8),
        ]
    );
    // Mixed kinds are rendered as in text mode; nothing loses a digit.
    assert_tables(
        &render(&r)?,
        "# t
         i|f|b|s|m|big|huge|n
         1|1.0|true|x|1|1|1|∅
         2|2.5|false|y|two|12345678901234567890|123456789012345678901234567890123456789012|∅",
    );
    let big = batches[0]
        .column(5)
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .map(|a| a.value(1));
    assert_eq!(big, Some(12345678901234567890));
    Ok(())
}

#[test]
fn typed_mode_keeps_the_digits_computed_doubles_print_as_floats() -> TestResult {
    // 16 and 17 digits that their `f64` holds (its shortest text), and subnormals,
    // which hold fewer digits than they are written with.
    let r = flatten(
        r#"[{"p":0.30000000000000004,"q":2.2250738585072014e-308,"s":5e-324,"t":1.234567e-320},
            {"p":1.5,"q":51.50735000000001,"s":1,"t":1.5}]"#,
        bare().with_cast_to_string(false),
    )?;
    let schema = r.table_schema("main")?.schema;
    let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
    assert_eq!(
        types,
        [
            &DataType::Float64,
            &DataType::Float64,
            &DataType::Float64,
            &DataType::Utf8
        ]
    );
    let batches = r.main_table()?;
    let p = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::Float64Array>()
        .ok_or("p is not Float64")?;
    assert_eq!(p.value(0), 0.30000000000000004);
    assert_tables(
        &render(&r)?,
        "# t
         p|q|s|t
         0.30000000000000004|2.2250738585072014e-308|5e-324|1.234567e-320
         1.5|51.50735000000001|1.0|1.5",
    );
    Ok(())
}

#[test]
fn typed_mode_never_rounds_through_floats() -> TestResult {
    let r = flatten(
        r#"[{"a":9007199254740993,"b":3.141592653589793238,"c":1e400},{"a":0.5,"b":1,"c":1}]"#,
        bare().with_cast_to_string(false),
    )?;
    let schema = r.table_schema("main")?.schema;
    assert!(
        schema
            .fields()
            .iter()
            .all(|f| f.data_type() == &DataType::Utf8)
    );
    assert_tables(
        &render(&r)?,
        "# t
         a|b|c
         9007199254740993|3.141592653589793238|1e400
         0.5|1|1",
    );
    Ok(())
}

#[test]
fn typed_unification_spans_batches_and_results() -> TestResult {
    // batch_size 1: every record is its own chunk; the type is decided over all.
    let config = bare()
        .with_cast_to_string(false)
        .with_batch_size(1)
        .build()?;
    let p = Processor::new(config);
    let a = p.process(br#"[{"v":1},{"v":2}]"#, "t")?;
    let b = p.process(br#"[{"v":2.5}]"#, "t")?;
    let all = transmogrify_core::ProcessingResult::combine_results([a, b])?;
    let batches = all.main_table()?;
    assert_eq!(batches.len(), 3);
    let values: Vec<f64> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Float64Array>()
                .map(|a| a.values().to_vec())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(values, [1.0, 2.0, 2.5]);
    let ints = flatten(r#"[{"v":1},{"v":-7}]"#, bare().with_cast_to_string(false))?;
    let batch = &ints.main_table()?[0];
    let col = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .map(|a| a.values().to_vec());
    assert_eq!(col, Some(vec![1, -7]));
    Ok(())
}

#[test]
fn typed_time_is_a_utc_microsecond_timestamp() -> TestResult {
    let config = ProcessorConfig::builder()
        .with_cast_to_string(false)
        .with_extract_time(Some(1_700_000_000_123_456))
        .build()?;
    let r = Processor::new(config).process(br#"{"a":1}"#, "t")?;
    let batch = &r.main_table()?[0];
    let field = batch.schema().field(2).clone();
    assert_eq!(
        field.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    let t = batch
        .column(2)
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .map(|a| a.value(0));
    assert_eq!(t, Some(1_700_000_000_123_456));
    assert_eq!(batch.column(1).null_count(), 0);
    Ok(())
}
