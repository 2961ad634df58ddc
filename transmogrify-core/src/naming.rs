//! Names of tables, columns and files: joining, abbreviation and collision handling.
//!
//! Tables and columns are identified internally by their source paths; names are
//! derived from the paths only when a result is read out, so the rules here see every
//! path of a run at once and never depend on record order or chunking.
//!
//! **Collision rule.** When two different paths would get the same name, the path with
//! fewer components keeps the name (ties: the path whose components sort first; the
//! `value` column of scalar array elements sorts before any key; tables of the same
//! keys, reached through arrays at other places, by fewer arrays, then by the array
//! steps' places). Every other path gets
//! `<name><sep>2`, `<name><sep>3`, … in that same order, skipping names that any path
//! of the table (or any metadata column) already has. Metadata column names are
//! reserved: a data column called `__extract_id` becomes `__extract_id_2`.

#![expect(
    clippy::indexing_slicing,
    reason = "indices come from enumerating the entries being named"
)]

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::config::NamingOptions;

/// The built-in abbreviation dictionary used when names are shortened.
pub const BUILTIN_ABBREVIATIONS: &[(&str, &str)] = &[
    ("account", "acct"),
    ("address", "addr"),
    ("amount", "amt"),
    ("attribute", "attr"),
    ("attributes", "attrs"),
    ("category", "cat"),
    ("configuration", "cfg"),
    ("customer", "cust"),
    ("customers", "custs"),
    ("description", "desc"),
    ("document", "doc"),
    ("identifier", "id"),
    ("information", "info"),
    ("message", "msg"),
    ("number", "num"),
    ("organization", "org"),
    ("payment", "pmt"),
    ("product", "prod"),
    ("quantity", "qty"),
    ("reference", "ref"),
    ("transaction", "txn"),
    ("transactions", "txns"),
];

/// Shortens path components as the naming options say.
#[derive(Debug, Clone)]
pub(crate) struct Abbreviator {
    enabled: bool,
    max_len: usize,
    preserve_leaf: bool,
    dictionary: HashMap<String, String>,
}

impl Abbreviator {
    pub(crate) fn for_fields(options: &NamingOptions) -> Self {
        Self::new(
            options.abbreviate_field_names,
            options.max_field_component_length,
            options,
        )
    }

    pub(crate) fn for_tables(options: &NamingOptions) -> Self {
        Self::new(
            options.abbreviate_table_names,
            options.max_table_component_length,
            options,
        )
    }

    fn new(enabled: bool, max_len: usize, options: &NamingOptions) -> Self {
        let mut dictionary: HashMap<String, String> = BUILTIN_ABBREVIATIONS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        dictionary.extend(
            options
                .custom_abbreviations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        Abbreviator {
            enabled,
            max_len,
            preserve_leaf: options.preserve_leaf_component,
            dictionary,
        }
    }

    fn component<'c>(&self, component: &'c str) -> Cow<'c, str> {
        if component.chars().count() <= self.max_len {
            return Cow::Borrowed(component);
        }
        if let Some(short) = self
            .dictionary
            .get(component)
            .or_else(|| self.dictionary.get(&component.to_lowercase()))
        {
            return Cow::Owned(short.clone());
        }
        Cow::Owned(component.chars().take(self.max_len).collect())
    }

    /// Joins `components` with `sep`, shortening them if enabled.
    pub(crate) fn join<S: AsRef<str>>(&self, components: &[S], sep: &str) -> String {
        let mut out = String::new();
        let last = components.len().saturating_sub(1);
        for (i, c) in components.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            let c = c.as_ref();
            if self.enabled && !(self.preserve_leaf && i == last) {
                out.push_str(&self.component(c));
            } else {
                out.push_str(c);
            }
        }
        out
    }
}

/// Gives every entry a unique name under the collision rule of this module.
///
/// `entries` are `(sort key, wanted name)` in output order; `reserved` names are never
/// handed out. Returns the names in the order of `entries`.
pub(crate) fn assign_unique<K: Ord>(
    entries: &[(K, String)],
    reserved: &[&str],
    sep: &str,
) -> Vec<String> {
    // Mostly every name is free and unique already: kept as they are.
    let mut unique: hashbrown::HashSet<&str> = hashbrown::HashSet::with_capacity(entries.len());
    if entries
        .iter()
        .all(|(_, name)| !reserved.contains(&name.as_str()) && unique.insert(name.as_str()))
    {
        return entries.iter().map(|(_, name)| name.clone()).collect();
    }
    let mut taken: HashSet<&str> = reserved.iter().copied().collect();
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, name)) in entries.iter().enumerate() {
        groups.entry(name.as_str()).or_default().push(i);
    }
    let reserved: HashSet<&str> = reserved.iter().copied().collect();
    taken.extend(groups.keys().copied());
    let mut out: Vec<Option<String>> = vec![None; entries.len()];
    let mut extra: HashSet<String> = HashSet::new();
    for (name, mut members) in groups {
        members.sort_by(|&a, &b| entries[a].0.cmp(&entries[b].0));
        let mut n = 2u64;
        for (k, &i) in members.iter().enumerate() {
            if k == 0 && !reserved.contains(name) {
                out[i] = Some(name.to_string());
                continue;
            }
            loop {
                let candidate = format!("{name}{sep}{n}");
                n += 1;
                if !taken.contains(candidate.as_str()) && !extra.contains(&candidate) {
                    extra.insert(candidate.clone());
                    out[i] = Some(candidate);
                    break;
                }
            }
        }
    }
    out.into_iter().map(Option::unwrap_or_default).collect()
}

/// Longest file stem [`file_stem`] gives, in bytes: with an extension (and a `_2`
/// that [`unique_file_stems`] may add) it stays within the 255 bytes most file
/// systems allow in a name.
pub const MAX_FILE_STEM: usize = 240;

/// A file-name-safe stem for a table name: characters other than ASCII letters,
/// digits, `-`, `_` and `.` become `_`, a leading `.` becomes `_`, and a stem longer
/// than [`MAX_FILE_STEM`] bytes is cut to it.
///
/// ```
/// use transmogrify_core::{MAX_FILE_STEM, file_stem};
/// assert_eq!(file_stem("orders/2024 Q1"), "orders_2024_Q1");
/// assert_eq!(file_stem(&"k".repeat(300)), "k".repeat(MAX_FILE_STEM));
/// ```
pub fn file_stem(table_name: &str) -> String {
    let mut s: String = table_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_FILE_STEM)
        .collect();
    if s.starts_with('.') || s.is_empty() {
        s.insert(0, '_');
        s.truncate(MAX_FILE_STEM);
    }
    s
}

/// File stems no table gets: `_schema` is the data dictionary's (`_schema.json`).
pub const RESERVED_FILE_STEMS: &[&str] = &["_schema"];

/// File stems for a list of table names, unique even when two names only differ by
/// characters that [`file_stem`] replaces, and never one of [`RESERVED_FILE_STEMS`].
///
/// Stems are compared case-insensitively, so they are safe on case-insensitive file
/// systems too. Like the collision rule of names, the stems depend on the set of
/// names only, never on their order: a name that is already a stem keeps it (of
/// names alike but for case, the first in byte order), then the others (`a/b`, a cut
/// name, the rest of those alike but for case), in byte order, each get their stem
/// or, where it is taken, the first free one of `_2`, `_3`, ….
///
/// ```
/// use transmogrify_core::unique_file_stems;
/// assert_eq!(unique_file_stems(&["t_a/b", "t_a_b"]), ["t_a_b_2", "t_a_b"]);
/// assert_eq!(unique_file_stems(&["t_a_b", "t_a/b"]), ["t_a_b", "t_a_b_2"]);
/// assert_eq!(unique_file_stems(&["_schema"]), ["_schema_2"]);
/// ```
pub fn unique_file_stems<S: AsRef<str>>(table_names: &[S]) -> Vec<String> {
    unique_cleaned(
        table_names,
        file_stem,
        str::to_lowercase,
        RESERVED_FILE_STEMS,
    )
}

/// Names for `names` made by `clean` (a file stem, an identifier), told apart where
/// cleaning made them alike, as [`unique_file_stems`] does: compared as `fold`
/// makes them (lowercase where case does not count), never one of `reserved`, a
/// name that `clean` leaves as it is keeping it, the others getting `_2`, `_3`, …
/// in byte order of the names, so the result depends on the set of names only.
///
/// ```
/// use transmogrify_core::unique_cleaned;
/// let clean = |s: &str| s.replace('/', "_");
/// let names = unique_cleaned(&["a/b", "a_b"], clean, str::to_string, &[]);
/// assert_eq!(names, ["a_b_2", "a_b"]);
/// ```
pub fn unique_cleaned<S: AsRef<str>>(
    names: &[S],
    clean: impl Fn(&str) -> String,
    fold: impl Fn(&str) -> String,
    reserved: &[&str],
) -> Vec<String> {
    let bases: Vec<String> = names.iter().map(|name| clean(name.as_ref())).collect();
    let exact = |i: usize| bases[i] == names[i].as_ref();
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by_key(|&i| (!exact(i), names[i].as_ref()));
    let mut taken: HashSet<String> = reserved.iter().map(|name| fold(name)).collect();
    let mut out = vec![String::new(); names.len()];
    // Names that are already clean keep their name, so that no `_2` made for
    // another name takes it from them.
    let mut rest = Vec::with_capacity(order.len());
    for i in order {
        if exact(i) && taken.insert(fold(&bases[i])) {
            out[i].clone_from(&bases[i]);
        } else {
            rest.push(i);
        }
    }
    for i in rest {
        let base = &bases[i];
        let mut candidate = base.clone();
        let mut n = 2;
        while !taken.insert(fold(&candidate)) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        out[i] = candidate;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviation_uses_dictionary_then_cuts() {
        let options = NamingOptions {
            abbreviate_field_names: true,
            ..NamingOptions::default()
        };
        let a = Abbreviator::for_fields(&options);
        assert_eq!(
            a.join(&["customer", "shipping", "address", "quantity"], "_"),
            "cust_ship_addr_quantity"
        );
        let options = NamingOptions {
            abbreviate_field_names: true,
            preserve_leaf_component: false,
            custom_abbreviations: [("shipping".to_string(), "shp".to_string())].into(),
            ..NamingOptions::default()
        };
        let a = Abbreviator::for_fields(&options);
        assert_eq!(
            a.join(&["customer", "shipping", "quantity", "id"], "_"),
            "cust_shp_qty_id"
        );
    }

    #[test]
    fn collisions_depend_on_paths_not_order() {
        let entries = vec![
            ((2, vec!["a", "b"]), "a_b".to_string()),
            ((1, vec!["a_b"]), "a_b".to_string()),
            ((1, vec!["a_b_2"]), "a_b_2".to_string()),
            ((1, vec!["x"]), "__extract_id".to_string()),
        ];
        let names = assign_unique(&entries, &["__extract_id"], "_");
        assert_eq!(names, ["a_b_3", "a_b", "a_b_2", "__extract_id_2"]);
        let mut reversed = entries.clone();
        reversed.reverse();
        let mut names2 = assign_unique(&reversed, &["__extract_id"], "_");
        names2.reverse();
        assert_eq!(names, names2);
    }

    #[test]
    fn file_stems_are_safe_and_unique() {
        assert_eq!(
            unique_file_stems(&["a/b", "a_b", "A_B", ".hidden", "_schema"]),
            ["a_b_3", "a_b_2", "A_B", "_.hidden", "_schema_2"]
        );
        // The same stems whatever order the names come in.
        let names = ["a/b", "a_b", "A_B", ".hidden", "_schema", "a_b_2", "a b"];
        let stems = unique_file_stems(&names);
        assert_eq!(
            stems,
            [
                "a_b_5",
                "a_b_3",
                "A_B",
                "_.hidden",
                "_schema_2",
                "a_b_2",
                "a_b_4"
            ]
        );
        let mut reversed = names;
        reversed.reverse();
        let mut again = unique_file_stems(&reversed);
        again.reverse();
        assert_eq!(again, stems);
        // Long names are cut, and told apart again if the cut made them equal.
        let long = "k".repeat(MAX_FILE_STEM);
        assert_eq!(
            unique_file_stems(&[format!("{long}x"), format!("{long}y"), format!(".{long}")]),
            [
                long.clone(),
                format!("{long}_2"),
                format!("_.{}", &long[2..])
            ]
        );
    }
}
