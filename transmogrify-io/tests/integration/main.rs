//! Integration tests of transmogrify-io.

mod bad_input;
mod equivalence;
mod example;
mod files;
mod layout;
mod readers;
mod round_trip;
mod streaming;
mod support;
