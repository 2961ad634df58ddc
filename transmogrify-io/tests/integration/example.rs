//! The custom writer example runs.

#[path = "../../examples/custom_writer.rs"]
mod custom_writer;

#[test]
fn custom_writer_example_runs() -> crate::support::TestResult {
    custom_writer::main()
}
