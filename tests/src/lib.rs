//! Cross-crate tests of Transmogrify live in `integration/`. This library holds
//! only the README, so that its Rust example is compiled with the tests.
#![doc = include_str!("../../README.md")]
