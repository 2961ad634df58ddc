//! The parse ceiling: how fast the same JSONL bytes the flattener reads can merely be
//! parsed, so every flattening figure can be read as a fraction of it.
//!
//! Note: the workspace enables serde_json's `arbitrary_precision` and `preserve_order`
//! (the core needs them), and Cargo unifies features, so `Value` here keeps number
//! text and ordered maps. On api-events that halves the `Value` rate of a default
//! serde_json build (measured outside the workspace); `IgnoredAny` is unaffected.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::de::IgnoredAny;
use serde_json::Value;
use transmogrify_benches::{Format, Shape, Size, generate, jsonl_lines};

/// Bytes of input per shape: a few MB, large enough to leave the caches.
const INPUT_BYTES: u64 = 4 << 20;
const SEED: u64 = 42;

fn ceiling(c: &mut Criterion) {
    let mut group = c.benchmark_group("ceiling");
    for shape in Shape::ALL {
        let data = generate(shape, Size::Bytes(INPUT_BYTES), Format::Jsonl, SEED);
        let lines = jsonl_lines(&data);
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(format!("value/{shape}"), |b| {
            b.iter(|| {
                for line in &lines {
                    let value: Result<Value, _> = serde_json::from_slice(line);
                    black_box(value.is_ok());
                    drop(black_box(value));
                }
            });
        });
        group.bench_function(format!("ignored_any/{shape}"), |b| {
            b.iter(|| {
                for line in &lines {
                    let value: Result<IgnoredAny, _> = serde_json::from_slice(line);
                    black_box(value.is_ok());
                }
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = ceiling
}
criterion_main!(benches);
