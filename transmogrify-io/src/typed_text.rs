//! Typed columns rendered straight from their text.
//!
//! In typed mode a column's cells are buffered as their JSON text and converted to
//! the column's type at the end. A text format does not need the typed values, only
//! the text [`cell_text`](crate::cell_text) writes for them: for most cells that is
//! the JSON text itself (`12`, `true`) or a small edit of it (`5` in a float column
//! is `5.0`, `2.50` is `2.5`). [`typed_cells`] makes that text without parsing and
//! formatting each number, and falls back to both for every other cell.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::DataType;
use transmogrify_core::{Convert, Error, Result, convert_text};

use crate::writer::{WriterFactory, is_builtin_csv};

/// How the typed columns of a result are converted for `factory`'s writers: the
/// built-in CSV writer takes [`typed_cells`], any other writer the typed values.
pub(crate) fn converter(factory: &Arc<dyn WriterFactory>) -> &'static Convert<'static> {
    if is_builtin_csv(factory) {
        &typed_cells
    } else {
        &convert_text
    }
}

/// The cells of the text column `array` as [`cell_text`](crate::cell_text) writes
/// them once converted to `to` (`Int64`, `Float64`, `Boolean`), as a text column;
/// other types are converted by [`convert_text`].
pub(crate) fn typed_cells(array: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    let Some(text) = array.as_string_opt::<i32>() else {
        return convert_text(array, to);
    };
    let cell: fn(&str, &mut Vec<u8>) -> Option<()> = match to {
        DataType::Int64 => {
            if all_valid(text, is_canonical_int) {
                return Ok(array.clone());
            }
            int_cell
        }
        DataType::Boolean => {
            if all_valid(text, |v| v == "true" || v == "false") {
                return Ok(array.clone());
            }
            bool_cell
        }
        DataType::Float64 => float_cell,
        _ => return convert_text(array, to),
    };
    let data = text.value_data().len();
    let mut values = Vec::with_capacity(data + data / 4 + 2 * text.len());
    let mut offsets = Vec::with_capacity(text.len() + 1);
    offsets.push(0i32);
    for row in 0..text.len() {
        if text.is_valid(row) && cell(text.value(row), &mut values).is_none() {
            // A cell that is not of the type: the conversion reports it.
            return convert_text(array, to);
        }
        let end = i32::try_from(values.len())
            .map_err(|_| Error::Internal("a text column passed 2 GiB".into()))?;
        offsets.push(end);
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    let array = StringArray::try_new(offsets, Buffer::from_vec(values), text.nulls().cloned())?;
    Ok(Arc::new(array))
}

/// Appends the text of the cell `cell` (a typed column's JSON text) once converted
/// to `to`: the text [`typed_cells`] gives it, one cell at a time.
pub(crate) fn cell_as(cell: &str, to: &DataType, out: &mut Vec<u8>) -> crate::error::Result<()> {
    let done = match to {
        DataType::Utf8 => {
            out.extend_from_slice(cell.as_bytes());
            Some(())
        }
        DataType::Int64 => int_cell(cell, out),
        DataType::Boolean => bool_cell(cell, out),
        DataType::Float64 => float_cell(cell, out),
        // An integer of up to 38 digits as written, as a decimal of scale 0 writes it.
        DataType::Decimal128(38, 0) if is_integer_text(cell) => {
            out.extend_from_slice(if cell == "-0" { b"0" } else { cell.as_bytes() });
            Some(())
        }
        _ => {
            let array: ArrayRef = Arc::new(StringArray::from(vec![cell]));
            let mut text = String::new();
            crate::cell_text(convert_text(&array, to)?.as_ref(), 0, &mut text)?;
            out.extend_from_slice(text.as_bytes());
            Some(())
        }
    };
    done.ok_or_else(|| {
        Error::Internal(format!("value {cell:?} does not fit its column type {to}")).into()
    })
}

/// Whether `cell` is an integer as JSON writes one (an optional `-`, no leading
/// zero) of at most 38 digits.
fn is_integer_text(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell).as_bytes();
    match digits {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.len() < 38 && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// Whether `keep` holds for every non-null cell of `text`.
fn all_valid(text: &StringArray, keep: impl Fn(&str) -> bool) -> bool {
    (0..text.len()).all(|row| text.is_null(row) || keep(text.value(row)))
}

/// Whether `cell` is an integer as `itoa` writes it: an optional `-`, no leading
/// zero, not `-0`, and short enough to be within `i64` without checking.
fn is_canonical_int(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell).as_bytes();
    match digits {
        [b'0'] => digits.len() == cell.len(),
        [b'1'..=b'9', rest @ ..] => rest.len() < 18 && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// Appends the text of an integer cell; `None` if it is not one.
fn int_cell(cell: &str, out: &mut Vec<u8>) -> Option<()> {
    if is_canonical_int(cell) {
        out.extend_from_slice(cell.as_bytes());
    } else {
        let v: i64 = cell.parse().ok()?;
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }
    Some(())
}

fn bool_cell(cell: &str, out: &mut Vec<u8>) -> Option<()> {
    // As the conversion to Boolean reads it: `true` or not.
    out.extend_from_slice(if cell == "true" { b"true" } else { b"false" });
    Some(())
}

/// Appends the text of a float cell; `None` if it is not a number.
fn float_cell(cell: &str, out: &mut Vec<u8>) -> Option<()> {
    if short_float(cell, out) {
        return Some(());
    }
    let v: f64 = cell.parse().ok()?;
    if v.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(v.to_string().as_bytes());
    }
    Some(())
}

/// Appends the shortest round-trip text of the JSON number `cell` (what `zmij`
/// writes for the `f64` it parses to) when `cell` has no exponent, at most 15
/// significant digits and a decimal exponent in -5..=15, and returns whether it did.
///
/// Such a number is the only decimal of at most 15 digits in its `f64`'s rounding
/// interval (an `f64` tells 15-digit decimals apart), so the shortest text of that
/// `f64` has exactly its significant digits, and `zmij` writes them in fixed
/// notation in that exponent range: `123.45`, `0.00123`, integers with `.0`.
fn short_float(cell: &str, out: &mut Vec<u8>) -> bool {
    let bytes = cell.as_bytes();
    let body = bytes.strip_prefix(b"-").unwrap_or(bytes);
    // Cells are a few bytes long: a plain loop finds the point sooner than a search.
    let (int, frac) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (
            body.get(..dot).unwrap_or_default(),
            Some(body.get(dot + 1..).unwrap_or_default()),
        ),
        None => (body, None),
    };
    let digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    if !digits(int) || (int.len() > 1 && int.first() == Some(&b'0')) {
        return false;
    }
    let Some(frac) = frac else {
        // An integer: its digits and `.0`, if it has at most 15 significant digits
        // and its first is at most at 10^15.
        let significant = int.len() - int.iter().rev().take_while(|&&d| d == b'0').count();
        if int.len() > 16 || significant > 15 {
            return false;
        }
        out.extend_from_slice(bytes);
        out.extend_from_slice(b".0");
        return true;
    };
    if !digits(frac) {
        return false;
    }
    let kept = frac.len() - frac.iter().rev().take_while(|&&d| d == b'0').count();
    let fits = if int == b"0" {
        // The first significant digit is at 10^-(zeros + 1).
        let zeros = frac.iter().take_while(|&&d| d == b'0').count();
        kept == 0 || (zeros <= 4 && kept - zeros <= 15)
    } else {
        // The first significant digit is at 10^(int.len() - 1).
        let significant = if kept == 0 {
            int.len() - int.iter().rev().take_while(|&&d| d == b'0').count()
        } else {
            int.len() + kept
        };
        int.len() <= 16 && significant <= 15
    };
    // The text up to the last nonzero decimal, or up to `.0` when there is none.
    let end = bytes.len() - (frac.len() - kept.max(1));
    match bytes.get(..end) {
        Some(text) if fits => {
            out.extend_from_slice(text);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell_text;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// The text the CSV writer writes for `cell` converted to `to`, the long way.
    fn converted(
        cell: &str,
        to: &DataType,
    ) -> std::result::Result<String, Box<dyn std::error::Error>> {
        let text: ArrayRef = Arc::new(StringArray::from(vec![cell]));
        let typed = convert_text(&text, to)?;
        let mut out = String::new();
        cell_text(typed.as_ref(), 0, &mut out)?;
        Ok(out)
    }

    fn rendered(cells: &[Option<&str>], to: &DataType) -> Result<Vec<Option<String>>> {
        let text: ArrayRef = Arc::new(StringArray::from(cells.to_vec()));
        let out = typed_cells(&text, to)?;
        let out = out.as_string::<i32>();
        Ok((0..out.len())
            .map(|i| out.is_valid(i).then(|| out.value(i).to_string()))
            .collect())
    }

    #[test]
    fn floats_read_as_the_writer_writes_them() -> TestResult {
        let cells = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "-1",
            "5",
            "2.50",
            "1.0",
            "100000",
            "0.1",
            "0.00001",
            "0.000001",
            "0.0000012",
            "123456789012345",
            "1234567890123456",
            "9007199254740993",
            "1000000000000000",
            "10000000000000000",
            "1e5",
            "1E-7",
            "-2.5e+3",
            "0.30000000000000004",
            "3.141592653589793",
            "99999999999999.9",
            "999999999999999.9",
            "12.3400",
            "-0.00100",
        ];
        for cell in cells {
            let want = converted(cell, &DataType::Float64)?;
            assert_eq!(
                rendered(&[Some(cell)], &DataType::Float64)?,
                [Some(want)],
                "{cell}"
            );
        }
        Ok(())
    }

    #[test]
    fn generated_floats_read_as_the_writer_writes_them() -> TestResult {
        // Digit strings of every length and zero pattern up to 20 digits on each side
        // of the point: the fast path must agree with parsing and formatting on all.
        struct Rng(crate::test_rng::XorShift);
        impl Rng {
            fn below(&mut self, n: u64) -> u64 {
                self.0.next_u64() % n
            }
            fn digits(&mut self, len: u64, out: &mut String) {
                for _ in 0..len {
                    let d = if self.below(3) == 0 {
                        0
                    } else {
                        self.below(10)
                    };
                    out.extend(char::from_digit(d as u32, 10));
                }
            }
        }
        let mut rng = Rng(crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15));
        let mut cells = Vec::new();
        for _ in 0..200_000 {
            let mut cell = String::new();
            if rng.below(2) == 0 {
                cell.push('-');
            }
            let int_len = rng.below(18);
            if int_len == 0 {
                cell.push('0');
            } else {
                cell.extend(char::from_digit(1 + rng.below(9) as u32, 10));
                rng.digits(int_len - 1, &mut cell);
            }
            if rng.below(4) != 0 {
                cell.push('.');
                let frac_len = 1 + rng.below(20);
                rng.digits(frac_len, &mut cell);
            }
            cells.push(cell);
        }
        // Both paths are exercised: the fast one on a good share of the cells.
        let fast = cells
            .iter()
            .filter(|c| short_float(c, &mut Vec::new()))
            .count();
        assert!(
            (50_000..150_000).contains(&fast),
            "{fast} cells on the fast path"
        );
        let text: Vec<Option<&str>> = cells.iter().map(|c| Some(c.as_str())).collect();
        let got = rendered(&text, &DataType::Float64)?;
        for (cell, got) in cells.iter().zip(got) {
            assert_eq!(got, Some(converted(cell, &DataType::Float64)?), "{cell}");
        }
        Ok(())
    }

    #[test]
    fn ints_and_booleans_keep_their_text_unless_it_differs() -> TestResult {
        let ints = [Some("12"), None, Some("-7"), Some("0")];
        let array: ArrayRef = Arc::new(StringArray::from(ints.to_vec()));
        let out = typed_cells(&array, &DataType::Int64)?;
        assert!(
            Arc::ptr_eq(&array, &out),
            "canonical integers are kept as they are"
        );
        let odd = [
            Some("-0"),
            Some("007"),
            Some("+5"),
            Some("9223372036854775807"),
            None,
        ];
        let mut want = Vec::new();
        for cell in odd {
            want.push(cell.map(|c| converted(c, &DataType::Int64)).transpose()?);
        }
        assert_eq!(rendered(&odd, &DataType::Int64)?, want);
        assert_eq!(
            want[..3],
            [Some("0".into()), Some("7".into()), Some("5".into())]
        );

        let bools = [Some("true"), None, Some("false")];
        let array: ArrayRef = Arc::new(StringArray::from(bools.to_vec()));
        let out = typed_cells(&array, &DataType::Boolean)?;
        assert!(Arc::ptr_eq(&array, &out));
        Ok(())
    }

    #[test]
    fn a_cell_that_is_not_a_number_is_an_error() {
        let array: ArrayRef = Arc::new(StringArray::from(vec!["1.5", "abc"]));
        let err = typed_cells(&array, &DataType::Float64).err();
        let want = convert_text(&array, &DataType::Float64).err();
        assert!(err.is_some());
        assert_eq!(err.map(|e| e.to_string()), want.map(|e| e.to_string()));
    }

    #[test]
    fn one_cell_at_a_time_is_the_long_way() -> TestResult {
        let cases: [(&[&str], DataType); 4] = [
            (
                &[
                    "0",
                    "-0",
                    "5",
                    "-12",
                    "9223372036854775807",
                    "-9223372036854775808",
                ],
                DataType::Int64,
            ),
            (
                &["5", "-0", "2.50", "1e5", "1E-7", "0.000012", "12.340"],
                DataType::Float64,
            ),
            (&["true", "false"], DataType::Boolean),
            (
                &[
                    "0",
                    "-0",
                    "7",
                    "-123456789012345678901234567890",
                    "99999999999999999999999999999999999999",
                ],
                DataType::Decimal128(38, 0),
            ),
        ];
        for (cells, to) in cases {
            for cell in cells {
                let mut out = Vec::new();
                cell_as(cell, &to, &mut out)?;
                assert_eq!(
                    String::from_utf8(out)?,
                    converted(cell, &to)?,
                    "{cell} as {to}"
                );
            }
        }
        let mut out = Vec::new();
        cell_as("2.50", &DataType::Utf8, &mut out)?;
        assert_eq!(out, b"2.50");
        assert!(cell_as("x", &DataType::Int64, &mut Vec::new()).is_err());
        Ok(())
    }
}
