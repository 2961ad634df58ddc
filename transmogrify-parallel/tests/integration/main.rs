//! Integration tests of the executors.

mod equivalence;
mod failures;
mod support;
