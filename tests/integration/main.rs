//! Tests that span the crates: a million records with corrupt ones in them.

mod million;
