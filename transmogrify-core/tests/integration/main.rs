//! Integration tests of the core engine: every rule of the behavioural contract's
//! sections 1–6 as exact tables, plus property tests and combine equivalence.

mod arrays;
mod combine;
mod errors;
mod ids;
mod metadata;
mod naming;
mod properties;
mod support;
mod tables;
mod values;
