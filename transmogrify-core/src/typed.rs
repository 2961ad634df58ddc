//! Typed mode: one Arrow type per column from the kinds of all its values, and the
//! conversion of the text cells into it.
//!
//! | kinds seen | type |
//! |---|---|
//! | booleans only | `Boolean` |
//! | integers within `i64` only | `Int64` |
//! | integers and floats, every value exact in `f64` (its shortest text has all the value's significant digits: any of up to 15, and the 16 or 17 a computed double prints; integers within ±2^53) | `Float64` |
//! | integers, some beyond `i64`, none over 38 digits | `Decimal128(38, 0)` |
//! | anything else (strings, JSON text, mixes, values `f64` cannot hold exactly) | `Utf8`, values as in text mode |
//!
//! A column with no value but nulls is `Utf8`. Unification never fails and never
//! loses a digit.

use std::sync::Arc;

use arrow_array::types::{Decimal128Type, Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, BooleanArray, PrimitiveArray, StringArray};
use arrow_schema::DataType;

use crate::columns::kind;
use crate::error::{Error, Result};

/// The type of a column whose values had `kinds`.
pub(crate) fn decide(kinds: u16) -> DataType {
    const NUMERIC: u16 = kind::INT | kind::FLOAT | kind::INT_BEYOND_F64 | kind::FLOAT_INEXACT;
    if kinds == kind::BOOL {
        DataType::Boolean
    } else if kinds & !(kind::INT | kind::INT_BEYOND_F64) == 0 && kinds & kind::INT != 0 {
        DataType::Int64
    } else if kinds & !NUMERIC == 0
        && kinds & kind::FLOAT != 0
        && kinds & (kind::INT_BEYOND_F64 | kind::FLOAT_INEXACT) == 0
    {
        DataType::Float64
    } else if kinds & !(kind::INT | kind::INT_BEYOND_F64 | kind::BIGINT) == 0
        && kinds & kind::BIGINT != 0
    {
        DataType::Decimal128(38, 0)
    } else {
        DataType::Utf8
    }
}

/// Turns the text cells of a typed column into an array for the column's type (see
/// [`ProcessingResult::batches_converted`](crate::ProcessingResult::batches_converted)).
pub type Convert<'a> = dyn Fn(&ArrayRef, &DataType) -> Result<ArrayRef> + Sync + 'a;

/// Converts a text column into `to`, the type typed mode chose for its values'
/// kinds (`Boolean`, `Int64`, `Float64` or `Decimal128`; `Utf8` keeps the column).
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Array, ArrayRef, Float64Array, StringArray};
/// use arrow_schema::DataType;
/// let text: ArrayRef = Arc::new(StringArray::from(vec![Some("1"), None, Some("2.5")]));
/// let floats = transmogrify_core::convert_text(&text, &DataType::Float64)?;
/// let floats = floats.as_any().downcast_ref::<Float64Array>().unwrap();
/// assert_eq!((floats.value(0), floats.is_null(1), floats.value(2)), (1.0, true, 2.5));
/// # Ok::<(), transmogrify_core::Error>(())
/// ```
pub fn convert_text(array: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    if to == &DataType::Utf8 {
        return Ok(array.clone());
    }
    let text = array
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Error::Internal("a buffered column is not UTF-8".to_string()))?;
    let bad = |v: &str| Error::Internal(format!("value {v:?} does not fit its column type {to}"));
    Ok(match to {
        DataType::Boolean => Arc::new(
            text.iter()
                .map(|v| v.map(|v| v == "true"))
                .collect::<BooleanArray>(),
        ),
        DataType::Int64 => Arc::new(parse_all::<Int64Type>(text, &bad)?),
        DataType::Float64 => Arc::new(parse_all::<Float64Type>(text, &bad)?),
        DataType::Decimal128(p, s) => {
            Arc::new(parse_all::<Decimal128Type>(text, &bad)?.with_precision_and_scale(*p, *s)?)
        }
        other => {
            return Err(Error::Internal(format!(
                "no conversion from text to {other}"
            )));
        }
    })
}

/// Parses every valid cell of `text` as `T`, keeping its nulls as they are (null
/// slots get the default value): one pass over the cells into one vector.
fn parse_all<T>(text: &StringArray, bad: &dyn Fn(&str) -> Error) -> Result<PrimitiveArray<T>>
where
    T: ArrowPrimitiveType,
    T::Native: std::str::FromStr,
{
    let mut values = Vec::with_capacity(text.len());
    for row in 0..text.len() {
        values.push(if text.is_valid(row) {
            let cell = text.value(row);
            cell.parse::<T::Native>().map_err(|_| bad(cell))?
        } else {
            T::Native::default()
        });
    }
    Ok(PrimitiveArray::<T>::new(
        values.into(),
        text.nulls().cloned(),
    ))
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;

    use super::*;

    #[test]
    fn unification_table() {
        use kind::*;
        assert_eq!(decide(BOOL), DataType::Boolean);
        assert_eq!(decide(INT), DataType::Int64);
        assert_eq!(decide(INT | INT_BEYOND_F64), DataType::Int64);
        assert_eq!(decide(INT | FLOAT), DataType::Float64);
        assert_eq!(decide(FLOAT), DataType::Float64);
        assert_eq!(decide(INT | INT_BEYOND_F64 | FLOAT), DataType::Utf8);
        assert_eq!(decide(FLOAT | FLOAT_INEXACT), DataType::Utf8);
        assert_eq!(decide(INT | BIGINT), DataType::Decimal128(38, 0));
        assert_eq!(decide(BIGINT | BIGINT_BEYOND_DECIMAL), DataType::Utf8);
        assert_eq!(decide(BIGINT | FLOAT), DataType::Utf8);
        assert_eq!(decide(BOOL | INT), DataType::Utf8);
        assert_eq!(decide(STRING | INT), DataType::Utf8);
        assert_eq!(decide(JSON), DataType::Utf8);
        assert_eq!(decide(0), DataType::Utf8);
    }

    #[test]
    fn conversion_keeps_values_and_nulls() -> Result<()> {
        let text: ArrayRef = Arc::new(StringArray::from(vec![
            Some("1"),
            None,
            Some("-42"),
            Some("9223372036854775807"),
        ]));
        let ints = convert_text(&text, &DataType::Int64)?;
        let ints = ints
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| Error::Internal("not Int64".into()))?;
        assert_eq!(
            ints.iter().collect::<Vec<_>>(),
            [Some(1), None, Some(-42), Some(i64::MAX)]
        );
        let floats: ArrayRef = Arc::new(StringArray::from(vec![None, Some("1.50"), Some("1e5")]));
        let floats = convert_text(&floats, &DataType::Float64)?;
        let floats = floats
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| Error::Internal("not Float64".into()))?;
        assert_eq!(
            floats.iter().collect::<Vec<_>>(),
            [None, Some(1.5), Some(1e5)]
        );
        let big: ArrayRef = Arc::new(StringArray::from(vec![
            Some("123456789012345678901234567890"),
            None,
        ]));
        let big = convert_text(&big, &DataType::Decimal128(38, 0))?;
        assert_eq!(big.data_type(), &DataType::Decimal128(38, 0));
        assert_eq!(big.null_count(), 1);
        let bad: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
        let err = convert_text(&bad, &DataType::Int64)
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("\"x\" does not fit")),
            "{err:?}"
        );
        Ok(())
    }
}
