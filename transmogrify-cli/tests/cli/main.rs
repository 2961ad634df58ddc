//! Tests of the `transmogrify` binary: files, stdout, stderr and exit codes.

mod bench;
mod errors;
mod flatten;
mod progress;
mod schema;
mod support;
