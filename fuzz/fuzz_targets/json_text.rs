//! Arbitrary bytes as a whole JSON text (array, object or stream of records).
#![no_main]

use libfuzzer_sys::fuzz_target;
use transmogrify_core::{JsonLines, JsonRecords, Position, Processor};

fuzz_target!(|data: &[u8]| {
    let processor = Processor::default();
    if let Ok(result) = processor.process(data, "fuzz") {
        assert!(result.to_record_batches().is_ok());
    }
    // The splitters never panic and never yield bytes outside the input.
    for item in JsonRecords::new(data, "fuzz").take(1000) {
        if let Ok((bytes, pos)) = item {
            assert!(bytes.len() <= data.len());
            assert!(pos.byte_offset as usize <= data.len());
        }
    }
    for (line, pos) in JsonLines::new(data, Position::default()) {
        assert!(pos.byte_offset as usize + line.len() <= data.len());
    }
});
