//! Typed mode: one Arrow type per column from the kinds of all its values, and the
//! conversion of the text cells into it.
//!
//! | kinds seen | type |
//! |---|---|
//! | booleans only | `Boolean` |
//! | integers within `i64` only | `Int64` |
//! | integers and floats, every value exact in `f64` (≤ 15 significant digits, integers within ±2^53) | `Float64` |
//! | integers, some beyond `i64`, none over 38 digits | `Decimal128(38, 0)` |
//! | anything else (strings, JSON text, mixes, values `f64` cannot hold exactly) | `Utf8`, values as in text mode |
//!
//! A column with no value but nulls is `Utf8`. Unification never fails and never
//! loses a digit.

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int64Array, StringArray,
};
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

/// Converts a text column into `to`, which [`decide`] chose for its kinds.
pub(crate) fn convert(array: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
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
        DataType::Int64 => Arc::new(
            text.iter()
                .map(|v| v.map(|v| v.parse::<i64>().map_err(|_| bad(v))).transpose())
                .collect::<Result<Int64Array>>()?,
        ),
        DataType::Float64 => Arc::new(
            text.iter()
                .map(|v| v.map(|v| v.parse::<f64>().map_err(|_| bad(v))).transpose())
                .collect::<Result<Float64Array>>()?,
        ),
        DataType::Decimal128(p, s) => Arc::new(
            text.iter()
                .map(|v| v.map(|v| v.parse::<i128>().map_err(|_| bad(v))).transpose())
                .collect::<Result<Decimal128Array>>()?
                .with_precision_and_scale(*p, *s)?,
        ),
        other => {
            return Err(Error::Internal(format!(
                "no conversion from text to {other}"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
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
}
