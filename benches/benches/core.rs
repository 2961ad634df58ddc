//! Core flattening: JSONL records in, Arrow record batches of every table out.
//!
//! Each benchmark pushes pre-split JSONL lines through a [`Session`] and converts the
//! result to record batches, the work every writer starts from. Throughput counts the
//! JSONL bytes, so figures compare directly with the `ceiling` group.
//!
//! [`Session`]: transmogrify_core::Session

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use transmogrify_benches::{Format, Shape, Size, generate, jsonl_lines};
use transmogrify_core::{
    ArrayMode, IdStrategy, Processor, ProcessorConfig, ProcessorConfigBuilder,
};

/// Bytes of input per benchmark: a few MB, large enough to leave the caches.
const INPUT_BYTES: u64 = 4 << 20;
const SEED: u64 = 42;
const ENTITY: &str = "events";

/// The JSONL input of `shape`, and its lines.
struct Input {
    data: Vec<u8>,
}

impl Input {
    fn new(shape: Shape) -> Input {
        Input {
            data: generate(shape, Size::Bytes(INPUT_BYTES), Format::Jsonl, SEED),
        }
    }

    fn lines(&self) -> Vec<&[u8]> {
        jsonl_lines(&self.data)
    }
}

/// A processor with a fixed extraction time, so runs differ only in the option measured.
fn processor(
    configure: impl FnOnce(ProcessorConfigBuilder) -> ProcessorConfigBuilder,
) -> Processor {
    let config = configure(ProcessorConfig::builder().with_extract_time(Some(0))).build();
    match config {
        Ok(config) => Processor::new(config),
        Err(e) => panic!("benchmark configuration rejected: {e}"),
    }
}

/// Flattens every line and builds every table's record batches; returns the row count
/// so nothing can be optimised away.
fn flatten(processor: &Processor, lines: &[&[u8]]) -> usize {
    let run = || -> transmogrify_core::Result<usize> {
        let mut session = processor.session(ENTITY);
        for line in lines {
            session.push(line)?;
        }
        let result = session.finish()?;
        let tables = result.to_record_batches()?;
        Ok(tables
            .iter()
            .flat_map(|(_, batches)| batches)
            .map(|b| b.num_rows())
            .sum())
    };
    match run() {
        Ok(rows) => rows,
        Err(e) => panic!("flattening benchmark input failed: {e}"),
    }
}

fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    processor: &Processor,
    input: &Input,
) {
    let lines = input.lines();
    group.throughput(Throughput::Bytes(input.data.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| black_box(flatten(processor, black_box(&lines))))
    });
}

/// How does throughput depend on the shape of the records? (text mode, smart arrays)
fn flatten_shape(c: &mut Criterion) {
    let mut group = c.benchmark_group("flatten_shape");
    let processor = processor(|b| b);
    for shape in Shape::ALL {
        bench(&mut group, shape.name(), &processor, &Input::new(shape));
    }
    group.finish();
}

/// What does each array mode cost on nested API events?
fn array_mode(c: &mut Criterion) {
    let mut group = c.benchmark_group("array_mode");
    let input = Input::new(Shape::ApiEvents);
    for (name, mode) in [
        ("smart", ArrayMode::Smart),
        ("separate", ArrayMode::Separate),
        ("inline", ArrayMode::Inline),
        ("index", ArrayMode::Index),
        ("skip", ArrayMode::Skip),
    ] {
        bench(
            &mut group,
            name,
            &processor(|b| b.with_array_mode(mode)),
            &input,
        );
    }
    group.finish();
}

/// What does typed mode (type inference and typed Arrow columns) cost over text mode?
fn typed(c: &mut Criterion) {
    let mut group = c.benchmark_group("typed");
    for shape in [Shape::ApiEvents, Shape::Wide] {
        let input = Input::new(shape);
        for (mode, text) in [("text", true), ("typed", false)] {
            let processor = processor(|b| b.with_cast_to_string(text));
            bench(&mut group, &format!("{mode}/{shape}"), &processor, &input);
        }
    }
    group.finish();
}

/// What does each id strategy cost? (API events: one main row and ~20 child rows each)
fn ids(c: &mut Criterion) {
    let mut group = c.benchmark_group("ids");
    let input = Input::new(Shape::ApiEvents);
    let fields = vec![
        (String::new(), "id".to_owned()),
        ("data_object_items".to_owned(), "sku".to_owned()),
        ("audit".to_owned(), "actor_id".to_owned()),
    ];
    for (name, strategy) in [
        ("random", IdStrategy::Random),
        ("positional", IdStrategy::Positional),
        ("content_hash", IdStrategy::ContentHash),
        ("fields", IdStrategy::Fields(fields)),
    ] {
        bench(
            &mut group,
            name,
            &processor(|b| b.with_id_strategy(strategy)),
            &input,
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = flatten_shape, array_mode, typed, ids
}
criterion_main!(benches);
