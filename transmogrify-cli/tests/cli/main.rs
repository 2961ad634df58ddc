//! Tests of the `transmogrify` binary: files, stdout, stderr and exit codes.

mod bench;
mod corpus;
mod crash;
mod errors;
mod flatten;
mod progress;
mod schema;
mod support;
