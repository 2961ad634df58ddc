//! Tests that span the crates: a million records with corrupt ones in them, and
//! broken JSON read every way.

mod json_readers;
mod million;
