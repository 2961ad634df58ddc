//! `transmogrify schema`: the tables an input would produce, as a tree, JSON or a
//! Mermaid ER diagram.

use std::fmt::Write as _;

use arrow_schema::DataType;
use transmogrify_core::{ColumnRole, TableSchema};

/// Short type names, the same as the data dictionary's.
pub fn type_name(dt: &DataType) -> String {
    transmogrify_io::type_name(dt)
}

fn role(r: &ColumnRole) -> Option<&'static str> {
    match r {
        ColumnRole::Id => Some("row id"),
        ColumnRole::ParentId => Some("parent id"),
        ColumnRole::ArrayIndex => Some("array index"),
        ColumnRole::Time => Some("extraction time"),
        _ => None,
    }
}

/// An indented tree: each child table under its parent.
pub fn tree(tables: &[TableSchema]) -> String {
    let mut out = String::new();
    fn table(out: &mut String, tables: &[TableSchema], t: &TableSchema, indent: usize) {
        let pad = "  ".repeat(indent);
        let link = match &t.parent {
            Some(p) => format!(", child of {p}"),
            None => String::new(),
        };
        let rows = crate::progress::counted(t.num_rows as u64, "row");
        let _ = writeln!(out, "{pad}{} ({rows}{link})", t.name);
        let width = t
            .schema
            .fields()
            .iter()
            .map(|f| f.name().chars().count())
            .max()
            .unwrap_or(0);
        for (f, r) in t.schema.fields().iter().zip(&t.roles) {
            let note = role(r).map(|n| format!("  ({n})")).unwrap_or_default();
            let _ = writeln!(
                out,
                "{pad}  {:<width$}  {}{note}",
                f.name(),
                type_name(f.data_type())
            );
        }
        for child in tables
            .iter()
            .filter(|c| c.parent.as_deref() == Some(t.name.as_str()))
        {
            table(out, tables, child, indent + 1);
        }
    }
    for t in tables.iter().filter(|t| t.parent.is_none()) {
        table(&mut out, tables, t, 0);
    }
    out
}

fn mermaid_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.starts_with(|c: char| c.is_ascii_digit()) || cleaned.is_empty() {
        format!("t_{cleaned}")
    } else {
        cleaned
    }
}

/// Mermaid names for `names`, told apart where cleaning made them alike (`a/b` and
/// `a_b`, `é` and `_`) by the rule of table files.
fn mermaid_names<S: AsRef<str>>(names: &[S]) -> Vec<String> {
    transmogrify_core::unique_cleaned(names, mermaid_name, str::to_string, &[])
}

/// A Mermaid `erDiagram`: one entity per table, one relation per parent link.
pub fn mermaid(
    tables: &[TableSchema],
    id_column: Option<&str>,
    parent_column: Option<&str>,
) -> String {
    let mut out = String::from("erDiagram\n");
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let entities = mermaid_names(&names);
    let entity = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| entities.get(i))
            .cloned()
            .unwrap_or_else(|| mermaid_name(name))
    };
    for t in tables {
        let _ = writeln!(out, "    {} {{", entity(&t.name));
        let columns: Vec<&str> = t
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let columns = mermaid_names(&columns);
        for ((f, r), column) in t.schema.fields().iter().zip(&t.roles).zip(&columns) {
            let key = match r {
                ColumnRole::Id => " PK",
                ColumnRole::ParentId => " FK",
                _ => "",
            };
            let ty = mermaid_name(&type_name(f.data_type()));
            let _ = writeln!(out, "        {ty} {column}{key}");
        }
        let _ = writeln!(out, "    }}");
    }
    for t in tables {
        if let Some(p) = &t.parent {
            let label = match (id_column, parent_column) {
                (Some(id), Some(parent)) => format!("{parent} = {id}"),
                _ => t.path.last().cloned().unwrap_or_default(),
            };
            let _ = writeln!(
                out,
                "    {} ||--o{{ {} : \"{}\"",
                entity(p),
                entity(&t.name),
                label.replace('"', "'")
            );
        }
    }
    out
}
