//! Row ids: random UUID v4, UUID v5 of field values, positions or content, or custom.

use std::fmt;

use sha1::{Digest, Sha1};
use uuid::Uuid;

/// Namespace of every UUID v5 the engine makes (the same as the Python library's).
pub const ID_NAMESPACE: Uuid = Uuid::from_u128(0xa9b8c7d6_e5f4_1234_abcd_0123456789ab);

/// UUID v5 of `name` in [`ID_NAMESPACE`], lowercase and hyphenated.
///
/// ```
/// assert_eq!(
///     transmogrify_core::uuid5("CUST001"),
///     "7c5c410b-1dac-5b87-ab7c-da1f9932eee5"
/// );
/// ```
pub fn uuid5(name: &str) -> String {
    let mut buf = [0u8; 36];
    write_uuid5(name.as_bytes(), &mut buf).to_string()
}

pub(crate) fn write_uuid5<'b>(name: &[u8], buf: &'b mut [u8; 36]) -> &'b str {
    hyphenated(&uuid5_bytes(name), buf)
}

/// The sixteen bytes of the UUID v5 of `name` in [`ID_NAMESPACE`] (RFC 9562: the first
/// sixteen bytes of SHA-1 over the namespace and the name, with version 5 and the RFC
/// variant set).
#[inline]
fn uuid5_bytes(name: &[u8]) -> [u8; 16] {
    NamePrefix::new(&[]).uuid5_bytes(name)
}

/// The start of UUID v5 names, hashed once: ids whose names share it (the elements of
/// one array: `<parent id>:<array path>:<index>`) hash only the rest, which saves one of
/// their two SHA-1 blocks once the prefix fills the first.
#[derive(Clone)]
pub(crate) struct NamePrefix(Sha1);

impl NamePrefix {
    /// The namespace followed by `parts`, in order.
    #[inline]
    pub(crate) fn new(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha1::new();
        hasher.update(ID_NAMESPACE.as_bytes());
        for part in parts {
            hasher.update(part);
        }
        NamePrefix(hasher)
    }

    /// UUID v5 bytes of this prefix followed by `rest`.
    #[inline]
    fn uuid5_bytes(&self, rest: &[u8]) -> [u8; 16] {
        let mut hasher = self.0.clone();
        hasher.update(rest);
        let digest: [u8; 20] = hasher.finalize().into();
        let mut bytes = [0u8; 16];
        for (b, d) in bytes.iter_mut().zip(digest) {
            *b = d;
        }
        bytes[6] = (bytes[6] & 0x0f) | 0x50;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        bytes
    }

    /// The UUID v5 of this prefix followed by `rest`, lowercase and hyphenated.
    #[inline]
    pub(crate) fn uuid5<'b>(&self, rest: &[u8], buf: &'b mut [u8; 36]) -> &'b str {
        hyphenated(&self.uuid5_bytes(rest), buf)
    }
}

/// `bytes` as a lowercase hyphenated UUID, written into `buf`.
#[inline]
pub(crate) fn hyphenated<'b>(bytes: &[u8; 16], buf: &'b mut [u8; 36]) -> &'b str {
    #[rustfmt::skip]
    let [
        h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14, h15,
        h16, h17, h18, h19, h20, h21, h22, h23, h24, h25, h26, h27, h28, h29, h30, h31,
    ] = hex32(bytes);
    const D: u8 = b'-';
    #[rustfmt::skip]
    let text = [
        h0, h1, h2, h3, h4, h5, h6, h7, D,
        h8, h9, h10, h11, D,
        h12, h13, h14, h15, D,
        h16, h17, h18, h19, D,
        h20, h21, h22, h23, h24, h25, h26, h27, h28, h29, h30, h31,
    ];
    *buf = text;
    // SAFETY: every byte of `buf` is a hex digit from `hex32` or a hyphen: ASCII.
    unsafe { std::str::from_utf8_unchecked(buf) }
}

/// The 32 lowercase hex digits of `bytes`: sixteen at a time with SSE2 on x86-64.
#[cfg(target_arch = "x86_64")]
#[inline]
fn hex32(bytes: &[u8; 16]) -> [u8; 32] {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_cmpgt_epi8, _mm_loadu_si128, _mm_set1_epi8,
        _mm_srli_epi16, _mm_storeu_si128, _mm_unpackhi_epi8, _mm_unpacklo_epi8,
    };
    let mut out = [0u8; 32];
    // SAFETY: SSE2 is enabled on every x86-64 target; the loads and stores are
    // unaligned ones of 16 bytes within `bytes` and `out`.
    unsafe {
        let v = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
        let low_nibble = _mm_set1_epi8(0x0f);
        let high = _mm_and_si128(_mm_srli_epi16(v, 4), low_nibble);
        let low = _mm_and_si128(v, low_nibble);
        // A nibble n is '0' + n, plus 39 more ('a' - '0' - 10) past 9.
        let digit = |n: __m128i| {
            let past_nine = _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8(39));
            _mm_add_epi8(_mm_add_epi8(n, _mm_set1_epi8(b'0' as i8)), past_nine)
        };
        let (first, second) = out.split_at_mut(16);
        _mm_storeu_si128(
            first.as_mut_ptr().cast::<__m128i>(),
            digit(_mm_unpacklo_epi8(high, low)),
        );
        _mm_storeu_si128(
            second.as_mut_ptr().cast::<__m128i>(),
            digit(_mm_unpackhi_epi8(high, low)),
        );
    }
    out
}

/// The 32 lowercase hex digits of `bytes`.
#[cfg(not(target_arch = "x86_64"))]
fn hex32(bytes: &[u8; 16]) -> [u8; 32] {
    let digit = |n: u8| if n < 10 { b'0' + n } else { b'a' + n - 10 };
    let mut out = [0u8; 32];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        if let [high, low] = pair {
            *high = digit(b >> 4);
            *low = digit(b & 0x0f);
        }
    }
    out
}

/// What a custom [`IdGenerator`] knows about the row it names.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct IdContext<'a> {
    /// The entity name of the run.
    pub entity: &'a str,
    /// The row's table path, keys joined by the separator (`""` for the main table).
    pub table_path: &'a str,
    /// Ordinal of the record the row comes from.
    pub record_ordinal: u64,
    /// Id of the parent row, for child rows.
    pub parent_id: Option<&'a str>,
    /// Position of the row's element in its array, for child rows.
    pub index: Option<u64>,
    /// The raw JSON text of the whole record.
    pub record: &'a [u8],
}

/// A caller-supplied id generator, for [`IdStrategy::Custom`](crate::IdStrategy::Custom).
///
/// It is shared by every worker, so it must be `Send + Sync`; for ids that match across
/// executors it must depend only on the context it is given.
///
/// ```
/// use std::sync::Arc;
/// use transmogrify_core::{IdContext, IdGenerator, IdStrategy, Processor, ProcessorConfig};
///
/// struct Sequential;
/// impl IdGenerator for Sequential {
///     fn generate(&self, ctx: &IdContext<'_>) -> String {
///         match (ctx.parent_id, ctx.index) {
///             (Some(parent), Some(i)) => format!("{parent}.{i}"),
///             _ => format!("r{}", ctx.record_ordinal),
///         }
///     }
/// }
///
/// let config = ProcessorConfig::builder()
///     .with_id_strategy(IdStrategy::Custom(Arc::new(Sequential)))
///     .build()?;
/// let result = Processor::new(config).process(br#"{"a":[{"b":1}]}"#, "t")?;
/// let rows = result.rows("t_a")?;
/// assert_eq!(rows[0]["__extract_id"], "r0.0");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait IdGenerator: Send + Sync {
    /// The id of one row.
    fn generate(&self, ctx: &IdContext<'_>) -> String;
}

/// Picks the id field of a table from `path pattern → field name` pairs.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct FieldPatterns {
    /// `(pattern, field)`: the pattern is the path itself.
    exact: Vec<(String, String)>,
    /// `(prefix without the trailing separator and star, pattern, field)`.
    prefixes: Vec<(String, String, String)>,
    /// The field of `*`.
    any: Option<String>,
    separator: String,
}

impl fmt::Debug for FieldPatterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldPatterns")
            .field("exact", &self.exact)
            .field("prefixes", &self.prefixes)
            .field("any", &self.any)
            .finish()
    }
}

impl FieldPatterns {
    pub(crate) fn new(patterns: &[(String, String)], separator: &str) -> Self {
        let mut p = FieldPatterns {
            exact: Vec::new(),
            prefixes: Vec::new(),
            any: None,
            separator: separator.to_string(),
        };
        for (pattern, field) in patterns {
            if pattern == "*" {
                p.any = Some(field.clone());
            } else if let Some(prefix) = pattern
                .strip_suffix('*')
                .and_then(|s| s.strip_suffix(separator))
            {
                p.prefixes
                    .push((prefix.to_string(), pattern.clone(), field.clone()));
            } else {
                p.exact.push((pattern.clone(), field.clone()));
            }
        }
        p
    }

    /// The field for the table at `path` (keys joined by the separator, `""` for main):
    /// an exact pattern first, then the longest matching prefix, then `*`.
    pub(crate) fn field_for(&self, path: &str) -> Option<&str> {
        self.rule_for(path).map(|(_, field)| field)
    }

    /// The pattern (as given) and field of [`field_for`](Self::field_for).
    pub(crate) fn rule_for(&self, path: &str) -> Option<(&str, &str)> {
        if let Some((p, f)) = self.exact.iter().rev().find(|(p, _)| p == path) {
            return Some((p, f));
        }
        let mut best: Option<&(String, String, String)> = None;
        for entry in &self.prefixes {
            let prefix = entry.0.as_str();
            let matches = path == prefix
                || (path.len() > prefix.len() + self.separator.len()
                    && path.starts_with(prefix)
                    && path[prefix.len()..].starts_with(self.separator.as_str()));
            if matches && best.is_none_or(|b| b.0.len() <= prefix.len()) {
                best = Some(entry);
            }
        }
        if let Some((_, pattern, field)) = best {
            return Some((pattern, field));
        }
        self.any.as_deref().map(|field| ("*", field))
    }
}

/// A small fast generator for UUID v4 (xoshiro256++), seeded from the OS once per
/// flattening session.
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub(crate) fn from_os() -> Self {
        let mut seed = [0u8; 32];
        if getrandom::fill(&mut seed).is_err() {
            // No OS randomness: fall back to the clock and address entropy; ids stay
            // unique within a run, which is all v4 promises here.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let local = 0u8;
            let addr = std::ptr::addr_of!(local) as usize as u128;
            seed[..16].copy_from_slice(&t.to_le_bytes());
            seed[16..].copy_from_slice(&(addr ^ t.rotate_left(64)).to_le_bytes());
        }
        let mut s = [0u64; 4];
        for (word, chunk) in s.iter_mut().zip(seed.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        if s == [0; 4] {
            s[0] = 0x9E37_79B9_7F4A_7C15;
        }
        Rng { s }
    }

    fn next(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    pub(crate) fn uuid4<'b>(&mut self, buf: &'b mut [u8; 36]) -> &'b str {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next().to_le_bytes());
        hyphenated(
            uuid::Builder::from_random_bytes(bytes).as_uuid().as_bytes(),
            buf,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyphenated_text_is_the_uuid_crates() {
        let mut rng = Rng::from_os();
        let mut cases = vec![[0u8; 16], [0xff; 16], *b"0123456789abcdef"];
        for _ in 0..10_000 {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&rng.next().to_le_bytes());
            bytes[8..].copy_from_slice(&rng.next().to_le_bytes());
            cases.push(bytes);
        }
        for bytes in cases {
            let mut buf = [0u8; 36];
            let want = Uuid::from_bytes(bytes).hyphenated().to_string();
            assert_eq!(hyphenated(&bytes, &mut buf), want);
        }
    }

    #[test]
    fn uuid5_matches_the_python_vectors() {
        assert_eq!(uuid5("123"), "ed2a5f87-17c9-59b7-a855-049cd6b9fc61");
        assert_eq!(uuid5("CUST001"), "7c5c410b-1dac-5b87-ab7c-da1f9932eee5");
    }

    #[test]
    fn uuid5_is_the_uuid_crates() {
        // Names of every length across the SHA-1 block edges (55, 56, 64, 119, 120 ...).
        let mut rng = Rng::from_os();
        for len in 0..300 {
            for _ in 0..8 {
                let name: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                let want = Uuid::new_v5(&ID_NAMESPACE, &name);
                assert_eq!(uuid5_bytes(&name), *want.as_bytes(), "length {len}");
                // The same from a prefix hashed ahead, cut anywhere.
                let cut = rng.next() as usize % (len + 1);
                let prefix = NamePrefix::new(&[&name[..cut / 2], &name[cut / 2..cut]]);
                assert_eq!(prefix.uuid5_bytes(&name[cut..]), *want.as_bytes());
            }
        }
    }

    #[test]
    fn uuid4_is_version_4_and_varies() {
        let mut rng = Rng::from_os();
        let (mut a, mut b) = ([0u8; 36], [0u8; 36]);
        let x = rng.uuid4(&mut a).to_string();
        let y = rng.uuid4(&mut b).to_string();
        assert_ne!(x, y);
        let parsed = Uuid::parse_str(&x).map(|u| u.get_version_num());
        assert_eq!(parsed, Ok(4));
        assert_eq!(x, x.to_lowercase());
    }

    #[test]
    fn most_specific_pattern_wins() {
        let p = FieldPatterns::new(
            &[
                ("*".into(), "any".into()),
                ("".into(), "root".into()),
                ("user_*".into(), "u".into()),
                ("user_orders_*".into(), "uo".into()),
                ("user_orders".into(), "exact".into()),
            ],
            "_",
        );
        assert_eq!(p.field_for(""), Some("root"));
        assert_eq!(p.field_for("user"), Some("u"));
        assert_eq!(p.field_for("user_orders"), Some("exact"));
        assert_eq!(p.field_for("user_orders_items"), Some("uo"));
        assert_eq!(p.field_for("user_x"), Some("u"));
        assert_eq!(p.field_for("users"), Some("any"));
        assert_eq!(p.field_for("other"), Some("any"));
        assert_eq!(
            p.rule_for("user_orders_items"),
            Some(("user_orders_*", "uo"))
        );
        assert_eq!(p.rule_for("user_orders"), Some(("user_orders", "exact")));
        assert_eq!(p.rule_for(""), Some(("", "root")));
        assert_eq!(p.rule_for("users"), Some(("*", "any")));
    }
}
