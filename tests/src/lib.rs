//! Cross-crate tests of Transmogrify live in `integration/`; this library is empty.
