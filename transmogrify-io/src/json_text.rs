//! Writing JSON text: strings and the number grammar.

#![expect(
    clippy::indexing_slicing,
    reason = "indices are bounds-checked against the same slice first"
)]

/// Appends `text` (valid UTF-8) as a JSON string, escaped the way every JSON text of
/// the project is.
pub(crate) use transmogrify_core::write_json_string as push_json_string;

/// `"name":`, the start of an object member, for keys written again and again.
pub(crate) fn json_key(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 3);
    push_json_string(&mut out, name.as_bytes());
    out.push(b':');
    out
}

/// Whether `s` is a number by JSON's grammar (so `007`, `+1`, `1.` and `NaN` are not).
pub(crate) fn is_json_number(s: &[u8]) -> bool {
    let digits = |s: &[u8], i: &mut usize| {
        let start = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    let mut i = 0;
    if s.first() == Some(&b'-') {
        i += 1;
    }
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(s, &mut i);
        }
        _ => return false,
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if !digits(s, &mut i) {
            return false;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(s, &mut i) {
            return false;
        }
    }
    i == s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers() {
        for good in ["0", "-1", "1.5", "1e5", "-0.0E-3", "12345678901234567890"] {
            assert!(is_json_number(good.as_bytes()), "{good}");
        }
        for bad in ["", "-", "007", "+1", "1.", ".5", "1e", "NaN", "1 ", "0x10"] {
            assert!(!is_json_number(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        push_json_string(&mut out, "a\"b\\c\nd\u{1}é".as_bytes());
        assert_eq!(String::from_utf8_lossy(&out), r#""a\"b\\c\nd\u0001é""#);
    }
}
