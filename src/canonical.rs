//! The one byte form of an entry (docs/FORMAT.md §3).
//!
//! Signatures and ids are computed over bytes, never over re-serialised objects,
//! so there must be exactly one accepted encoding of every entry: RFC 8785 (JCS)
//! JSON, with every string in Unicode NFC and no numbers but integers in the
//! I-JSON safe range. A verifier re-derives the canonical form of what it parsed
//! and refuses bytes that differ from it by even one byte.

use serde_json::Value;
use unicode_normalization::is_nfc;

/// The largest integer a canonical entry may hold: 2^53 - 1 (RFC 7493 I-JSON),
/// so that every JSON implementation reads it exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why bytes are not the canonical encoding of an entry.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// The bytes are not JSON at all.
    #[error("not valid JSON (line {line}, column {column}): {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A number with a fraction or exponent, or outside the safe integer range.
    #[error("number at `{path}` is not an integer in the range ±(2^53-1); floats are not allowed in signed bytes")]
    NotAnInteger { path: String },
    /// A string or object key that is not in Unicode Normalization Form C.
    #[error("string at `{path}` is not NFC-normalised")]
    NotNfc { path: String },
    /// Valid JSON, but not byte-for-byte the RFC 8785 form (key order,
    /// whitespace, escapes, duplicate keys...).
    #[error("bytes are not in canonical form: first difference at byte {offset}")]
    NotCanonical { offset: usize },
}

/// Encode a value in canonical form, refusing values that have no canonical
/// form (floats, unsafe integers, non-NFC strings).
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    check_value(value, &mut String::from("$"))?;
    if keys_already_in_canonical_order(value) {
        // Where every object's keys are ASCII and already in order, RFC 8785
        // is serde_json's compact output: integers are written the same way
        // (no floats get here), and both escape exactly `"`, `\` and the
        // control characters, with the same short forms and lowercase
        // `\u00xx`. ASCII keys sort the same by UTF-16 code units (RFC 8785
        // §3.2.3) as by bytes. Entry fields are all of this kind; this skips
        // the canonicaliser's re-sorting, which costs as much as a signature.
        // `fast_path_equals_the_canonicaliser` checks the equivalence.
        return serde_json::to_vec(value).map_err(|e| CanonicalError::Syntax {
            line: 0,
            column: 0,
            message: format!("cannot encode: {e}"),
        });
    }
    serde_json_canonicalizer::to_vec(value).map_err(|e| CanonicalError::Syntax {
        line: 0,
        column: 0,
        message: format!("cannot encode: {e}"),
    })
}

/// Parse bytes that claim to be canonical, and return the parsed value only if
/// they are exactly the canonical encoding of it.
pub fn parse_canonical(bytes: &[u8]) -> Result<Value, CanonicalError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| CanonicalError::Syntax {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let again = to_canonical_bytes(&value)?;
    if again != bytes {
        let offset = again
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| again.len().min(bytes.len()));
        return Err(CanonicalError::NotCanonical { offset });
    }
    Ok(value)
}

/// Every object's keys are ASCII and iterate in strictly increasing byte
/// order (true of serde_json's sorted map; checked rather than assumed, so a
/// dependency that turns on its insertion-ordered map changes nothing).
fn keys_already_in_canonical_order(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().all(keys_already_in_canonical_order),
        Value::Object(map) => {
            let mut last: Option<&str> = None;
            for (key, item) in map {
                if !key.is_ascii() || last.is_some_and(|l| l.as_bytes() >= key.as_bytes()) {
                    return false;
                }
                if !keys_already_in_canonical_order(item) {
                    return false;
                }
                last = Some(key);
            }
            true
        }
        _ => true,
    }
}

fn check_value(value: &Value, path: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null | Value::Bool(_) => Ok(()),
        Value::Number(n) => {
            let safe = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u <= MAX_SAFE_INTEGER,
                (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE_INTEGER,
                _ => false,
            };
            if safe {
                Ok(())
            } else {
                Err(CanonicalError::NotAnInteger { path: path.clone() })
            }
        }
        Value::String(s) => {
            if is_nfc(s) {
                Ok(())
            } else {
                Err(CanonicalError::NotNfc { path: path.clone() })
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                {
                    use std::fmt::Write;
                    let _ = write!(path, "[{i}]");
                }
                check_value(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                if !is_nfc(key) {
                    return Err(CanonicalError::NotNfc { path: path.clone() });
                }
                check_value(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_strips_whitespace() {
        let v = json!({"b": 1, "a": [true, null, "x"]});
        assert_eq!(
            to_canonical_bytes(&v).unwrap(),
            br#"{"a":[true,null,"x"],"b":1}"#
        );
    }

    #[test]
    fn refuses_non_canonical_bytes() {
        for bad in [
            &br#"{"b":1,"a":2}"#[..],
            br#"{"a": 2}"#,
            br#"{"a":2} "#,
            br#"{"a":"\u0041"}"#,
            br#"{"a":1,"a":1}"#,
        ] {
            assert!(
                matches!(
                    parse_canonical(bad),
                    Err(CanonicalError::NotCanonical { .. })
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn negative_zero_is_refused() {
        // serde_json reads -0 as a float; either way it is not canonical.
        assert!(parse_canonical(br#"{"a":-0}"#).is_err());
    }

    #[test]
    fn refuses_floats_big_integers_and_non_nfc() {
        assert!(matches!(
            parse_canonical(br#"{"a":1.5}"#),
            Err(CanonicalError::NotAnInteger { .. })
        ));
        assert!(matches!(
            parse_canonical(br#"{"a":9007199254740992}"#),
            Err(CanonicalError::NotAnInteger { .. })
        ));
        assert!(matches!(
            parse_canonical("{\"a\":\"e\u{301}\"}".as_bytes()),
            Err(CanonicalError::NotNfc { .. })
        ));
        assert!(matches!(
            parse_canonical(b"{\"a\":"),
            Err(CanonicalError::Syntax { .. })
        ));
    }

    #[test]
    fn arabic_text_is_kept_as_utf8() {
        let v = json!({"name": "محمد الحلبي"});
        let bytes = to_canonical_bytes(&v).unwrap();
        assert_eq!(bytes, "{\"name\":\"محمد الحلبي\"}".as_bytes());
        assert_eq!(parse_canonical(&bytes).unwrap(), v);
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-(MAX_SAFE_INTEGER as i64)..=(MAX_SAFE_INTEGER as i64)).prop_map(|i| json!(i)),
            "\\PC{0,12}".prop_map(|s| {
                use unicode_normalization::UnicodeNormalization;
                Value::String(s.nfc().collect())
            }),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("\\PC{0,6}", inner, 0..6).prop_map(|m| {
                    use unicode_normalization::UnicodeNormalization;
                    Value::Object(m.into_iter().map(|(k, v)| (k.nfc().collect(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        /// Encode-then-decode gives the value back, and decode-then-encode gives
        /// the bytes back: the canonical form is a bijection on accepted values.
        #[test]
        fn canonical_round_trip(v in json_value()) {
            let bytes = to_canonical_bytes(&v).unwrap();
            let parsed = parse_canonical(&bytes).unwrap();
            prop_assert_eq!(&parsed, &v);
            prop_assert_eq!(to_canonical_bytes(&parsed).unwrap(), bytes);
        }

        /// The serde_json fast path gives the canonicaliser's bytes, for
        /// strings with every control character, quotes and backslashes.
        #[test]
        fn fast_path_equals_the_canonicaliser(v in json_value(), s in "[\\x00-\\x7f\"\\\\\u{2028}\u{7f}é]{0,16}") {
            let v = json!({"text": s, "value": v, "list": [s.clone(), 1, -1]});
            let expected = serde_json_canonicalizer::to_vec(&v).unwrap();
            prop_assert_eq!(to_canonical_bytes(&v).unwrap(), expected);
        }

        /// Pretty-printed JSON of a non-trivial value is never accepted as canonical.
        #[test]
        fn pretty_form_is_refused(v in json_value()) {
            let pretty = serde_json::to_vec_pretty(&v).unwrap();
            let canonical = to_canonical_bytes(&v).unwrap();
            prop_assert_eq!(parse_canonical(&pretty).is_ok(), pretty == canonical);
        }
    }
}
