//! Arbitrary bytes through every reader (JSON, JSONL, CSV, Parquet, gzip, zstd): errors
//! are fine, panics and hangs are not, and every record read flattens or is rejected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use transmogrify_core::{ErrorMode, Processor, ProcessorConfig};
use transmogrify_io::{Input, InputFormat, ReaderOptions, reader_for};

/// The parquet crate panics on some malformed files; the reader catches that and
/// reports a corrupt file, with its panic hook quiet meanwhile (as the command line's
/// is). The fuzzer's hook aborts on any panic, so it is kept quiet there too.
static QUIET_WHEN_GUARDED: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_WHEN_GUARDED.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !transmogrify_io::panic_is_guarded() {
                fuzzer_hook(info);
            }
        }));
    });
    let Some((&knob, bytes)) = data.split_first() else {
        return;
    };
    let (name, format) = match knob % 7 {
        0 => ("f.json", Some(InputFormat::Json)),
        1 => ("f.jsonl", Some(InputFormat::Jsonl)),
        2 => ("f.csv", Some(InputFormat::Csv)),
        3 => ("f.parquet", Some(InputFormat::Parquet)),
        4 => ("f.jsonl.gz", None),
        5 => ("f.jsonl.zst", None),
        _ => ("f", None),
    };
    let Ok(options) = ReaderOptions::builder()
        .with_format(format)
        .with_json_path((knob & 0x80 != 0).then_some("data.items"))
        .build()
    else {
        return;
    };
    let Ok(input) = Input::from_bytes(name, bytes.to_vec()) else {
        return;
    };
    let Ok(mut reader) = reader_for(input, &options) else {
        return;
    };
    let Ok(config) = ProcessorConfig::builder().with_on_error(ErrorMode::Skip).build() else {
        return;
    };
    let processor = Processor::new(config);
    let mut session = processor.session("fuzz");
    for batch in reader.by_ref().take(10_000) {
        match batch {
            Ok(batch) => {
                let _ = batch.push_to(&mut session);
            }
            Err(_) => break,
        }
    }
    if let Ok(result) = session.finish() {
        assert!(result.to_record_batches().is_ok());
    }
});
