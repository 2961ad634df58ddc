//! Arbitrary bytes as one record, in every array mode, text and typed: never a panic,
//! and whatever is accepted reads out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use transmogrify_core::{ArrayMode, ErrorMode, IdStrategy, Processor, ProcessorConfig};

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, record)) = data.split_first() else {
        return;
    };
    let mode = match knobs % 5 {
        0 => ArrayMode::Smart,
        1 => ArrayMode::Separate,
        2 => ArrayMode::Inline,
        3 => ArrayMode::Index,
        _ => ArrayMode::Skip,
    };
    let Ok(config) = ProcessorConfig::builder()
        .with_array_mode(mode)
        .with_cast_to_string(knobs & 8 == 0)
        .with_skip_null(knobs & 16 == 0)
        .with_include_empty(knobs & 32 != 0)
        .with_max_depth(1 + usize::from(knobs >> 6) * 3)
        .with_id_strategy(if knobs & 64 != 0 { IdStrategy::ContentHash } else { IdStrategy::Positional })
        .with_on_error(ErrorMode::Skip)
        .with_batch_size(2)
        .build()
    else {
        return;
    };
    let processor = Processor::new(config);
    let mut session = processor.session("fuzz");
    // The same record twice: once alone, once after a good one.
    let _ = session.push(record);
    let _ = session.push(br#"{"a":1,"b":[{"c":2}]}"#);
    let _ = session.push(record);
    if let Ok(result) = session.finish() {
        let tables = result.to_record_batches();
        assert!(tables.is_ok(), "read-out failed: {:?}", tables.err());
        let _ = result.errors_batch();
    }
});
