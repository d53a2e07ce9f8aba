//! Reading untrusted JSON and walking it field by field.
//!
//! Input is read in two steps. First the bytes become a `serde_json::Value`
//! through a reader that refuses duplicate keys (parsers disagree on which
//! duplicate wins, and a signed record must mean one thing) and reports
//! syntax errors with line, column and field path. Then the record schema is
//! walked by hand over that value: a hand walk knows which field it is in, so
//! it can name the field, quote the value and give a hint (quote a
//! coordinate, leave an empty field out), which derived deserializers cannot.
//! Stored bodies arrive as a `Value` already and take only the second step.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use time::Date;
use unicode_normalization::UnicodeNormalization;

use super::error::{quote, RecordError, RecordErrorKind};
use super::vocab::Vocab;

/// Largest accepted input document, in bytes.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;
/// Longest accepted string, in Unicode scalar values, after normalisation.
pub const MAX_STRING_CHARS: usize = 4096;
/// Longest accepted `notes` string (top level and `contact.notes`).
pub const MAX_NOTES_CHARS: usize = 65536;
/// Most items accepted in any array.
pub const MAX_ARRAY_ITEMS: usize = 256;

/// What the walk needs to know beyond the value itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx {
    /// `Some` when reading new input: dates after this day are refused.
    /// `None` for stored bodies, which were checked against their own day.
    pub today: Option<Date>,
}

/// The kinds of free text, which differ in length limit and in whether line
/// breaks make sense.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Text {
    /// Names, places, vocabulary terms: one line.
    Line,
    /// Descriptions: line breaks and tabs allowed.
    Multiline,
    /// `notes`: like `Multiline`, with the larger limit.
    Notes,
}

pub(crate) fn path_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

pub(crate) fn path_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Parse input bytes into a JSON value, refusing oversized input, malformed
/// JSON and duplicate keys.
pub(crate) fn read_json(input: &[u8]) -> Result<Value, RecordError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(RecordError::new(
            RecordErrorKind::TooLarge,
            "",
            format!(
                "the input is {} bytes; the limit is {MAX_INPUT_BYTES} bytes (1 MiB)",
                input.len()
            ),
        )
        .with_hint("split the material: long documents belong in the source they come from, referenced from `sources`"));
    }
    // Editors on Windows save a byte order mark; it carries no meaning.
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut de = serde_json::Deserializer::from_slice(input);
    let value = match serde_path_to_error::deserialize::<_, StrictValue>(&mut de) {
        Ok(StrictValue(v)) => v,
        Err(e) => return Err(syntax_error(&e)),
    };
    if let Err(e) = de.end() {
        return Err(syntax_error_parts(&e, None));
    }
    Ok(value)
}

fn syntax_error(e: &serde_path_to_error::Error<serde_json::Error>) -> RecordError {
    // serde_path_to_error writes `?` for a key it could not read yet.
    let path = e
        .path()
        .to_string()
        .split('.')
        .filter(|seg| *seg != "?" && !seg.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    let path = if path.is_empty() { None } else { Some(path) };
    syntax_error_parts(e.inner(), path)
}

fn syntax_error_parts(inner: &serde_json::Error, path: Option<String>) -> RecordError {
    let text = inner.to_string();
    // serde_json appends the position to its message; it is kept in fields.
    let suffix = format!(" at line {} column {}", inner.line(), inner.column());
    let bare = text.strip_suffix(&suffix).unwrap_or(&text);
    let mut message = bare.replacen("EOF while parsing", "input ended while parsing", 1);
    if let Some(rest) = message.strip_prefix(DUPLICATE_MARK) {
        let key = rest.to_owned();
        let field = match &path {
            Some(p) => path_key(p, &key),
            None => key.clone(),
        };
        let mut err = RecordError::new(
            RecordErrorKind::DuplicateField,
            &field,
            format!("field `{key}` appears more than once in the same object"),
        )
        .with_hint("keep one of them");
        err.line = Some(inner.line());
        err.column = Some(inner.column());
        return err;
    }
    message = lowercase_first(&message);
    let kind = if message.contains("recursion limit") {
        RecordErrorKind::TooLarge
    } else {
        RecordErrorKind::Syntax
    };
    RecordError {
        kind,
        field: path,
        line: Some(inner.line()),
        column: Some(inner.column()),
        message,
        hint: Some(String::from(
            "the file must be a single JSON object; check quotes, commas and brackets near this position",
        )),
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c)
            if c.is_ascii_uppercase()
                && !chars.clone().next().is_some_and(|n| n.is_ascii_uppercase()) =>
        {
            let mut out = c.to_ascii_lowercase().to_string();
            out.push_str(chars.as_str());
            out
        }
        _ => s.to_owned(),
    }
}

const DUPLICATE_MARK: &str = "\u{0}duplicate:";

/// A `Value` whose reader refuses duplicate object keys.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // Kept so the schema walk can say which field had a fraction in it.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictValue::deserialize(d).map(|v| v.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE_MARK}{key}")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// A short description of a JSON value for "expected X, found Y" messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => String::from("null"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", quote(s)),
        Value::Array(_) => String::from("an array"),
        Value::Object(_) => String::from("an object"),
    }
}

/// Trim and NFC-normalise, then enforce the rules every string obeys.
pub(crate) fn clean_text(raw: &str, field: &str, kind: Text) -> Result<String, RecordError> {
    let limit = if kind == Text::Notes {
        MAX_NOTES_CHARS
    } else {
        MAX_STRING_CHARS
    };
    // Checked before normalising too, so a hostile megabyte is not normalised.
    if raw.len() > limit * 4 {
        return Err(too_long(field, raw.chars().count(), limit));
    }
    let s: String = raw.trim().nfc().collect();
    let s = s.trim().to_owned();
    if s.is_empty() {
        return Err(RecordError::invalid(field, "the value is empty")
            .with_hint("leave the field out when it is not known"));
    }
    let count = s.chars().count();
    if count > limit {
        return Err(too_long(field, count, limit));
    }
    let multiline = kind != Text::Line;
    if let Some(c) = s
        .chars()
        .find(|&c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
    {
        let hint = if multiline {
            "remove it; only line breaks (\\n) and tabs are allowed"
        } else {
            "remove it; this field is a single line of text"
        };
        return Err(RecordError::invalid(
            field,
            format!(
                "{} contains the control character U+{:04X}",
                quote(&s),
                c as u32
            ),
        )
        .with_hint(hint));
    }
    Ok(s)
}

fn too_long(field: &str, count: usize, limit: usize) -> RecordError {
    RecordError::new(
        RecordErrorKind::TooLarge,
        field,
        format!("the text is {count} characters long; the limit is {limit}"),
    )
    .with_hint("shorten it, or keep the full text in the source and reference it")
}

/// One JSON object of the schema, with its path, after the unknown-field check.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    /// `what` names the object in the "expected an object" message.
    pub(crate) fn open(
        v: &'a Value,
        path: &str,
        allowed: &[&str],
        what: &str,
    ) -> Result<Self, RecordError> {
        let Value::Object(map) = v else {
            return Err(RecordError::invalid(
                path,
                format!("expected {what} (a JSON object), found {}", describe(v)),
            ));
        };
        if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            let list = allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(RecordError::new(
                RecordErrorKind::UnknownField,
                &path_key(path, key),
                format!("unknown field `{}`, expected one of {list}", clip(key)),
            )
            .with_hint("check the spelling against docs/SCHEMA.md"));
        }
        Ok(Fields {
            map,
            path: path.to_owned(),
        })
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn path_of(&self, key: &str) -> String {
        path_key(&self.path, key)
    }

    /// The value of `key`, with `null` refused: absent fields are left out.
    pub(crate) fn get(&self, key: &str) -> Result<Option<&'a Value>, RecordError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Null) => Err(RecordError::invalid(
                &self.path_of(key),
                "null is not a value",
            )
            .with_hint("leave the field out when it is not known")),
            Some(v) => Ok(Some(v)),
        }
    }

    pub(crate) fn require(&self, key: &str) -> Result<&'a Value, RecordError> {
        self.get(key)?.ok_or_else(|| self.missing(key))
    }

    pub(crate) fn missing(&self, key: &str) -> RecordError {
        RecordError::new(
            RecordErrorKind::MissingField,
            &self.path_of(key),
            format!("the required field `{key}` is missing"),
        )
    }

    pub(crate) fn text(&self, key: &str, kind: Text) -> Result<Option<String>, RecordError> {
        match self.get(key)? {
            None => Ok(None),
            Some(v) => string_value(v, &self.path_of(key), kind).map(Some),
        }
    }

    pub(crate) fn vocab<T: Vocab>(&self, key: &str) -> Result<Option<T>, RecordError> {
        match self.get(key)? {
            None => Ok(None),
            Some(v) => vocab_value(v, &self.path_of(key)).map(Some),
        }
    }

    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, RecordError> {
        match self.get(key)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(RecordError::invalid(
                &self.path_of(key),
                format!("expected true or false, found {}", describe(v)),
            )),
        }
    }

    pub(crate) fn integer(
        &self,
        key: &str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, RecordError> {
        let Some(v) = self.get(key)? else {
            return Ok(None);
        };
        let field = self.path_of(key);
        let expect = format!("expected a whole number from {min} to {max}");
        match v {
            Value::Number(n) => match n.as_u64() {
                Some(i) if (min..=max).contains(&i) => Ok(Some(i)),
                Some(_) => Err(RecordError::invalid(
                    &field,
                    format!("{n} is out of range; {expect}"),
                )),
                None if n.is_i64() => Err(RecordError::invalid(
                    &field,
                    format!("{n} is negative; {expect}"),
                )),
                None => Err(RecordError::invalid(
                    &field,
                    format!("{n} is not a whole number; {expect}"),
                )
                .with_hint(
                    "write an integer without a decimal point; use `min` and `max` for a range",
                )),
            },
            Value::String(s) => Err(RecordError::invalid(
                &field,
                format!("{} is a string; {expect}", quote(s)),
            )
            .with_hint("write the number without quotes")),
            other => Err(RecordError::invalid(
                &field,
                format!("{expect}, found {}", describe(other)),
            )),
        }
    }

    /// An optional array, with its length bounded; empty counts as absent.
    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a [Value]>, RecordError> {
        let Some(v) = self.get(key)? else {
            return Ok(None);
        };
        let field = self.path_of(key);
        let Value::Array(items) = v else {
            return Err(RecordError::invalid(
                &field,
                format!("expected an array, found {}", describe(v)),
            ));
        };
        if items.len() > MAX_ARRAY_ITEMS {
            return Err(RecordError::new(
                RecordErrorKind::TooLarge,
                &field,
                format!(
                    "the array has {} items; the limit is {MAX_ARRAY_ITEMS}",
                    items.len()
                ),
            ));
        }
        Ok(if items.is_empty() { None } else { Some(items) })
    }
}

/// Keys are quoted in messages, so hostile ones are cut short first.
fn clip(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

pub(crate) fn string_value(v: &Value, field: &str, kind: Text) -> Result<String, RecordError> {
    match v {
        Value::String(s) => clean_text(s, field, kind),
        other => Err(RecordError::invalid(
            field,
            format!("expected a string, found {}", describe(other)),
        )),
    }
}

pub(crate) fn vocab_value<T: Vocab>(v: &Value, field: &str) -> Result<T, RecordError> {
    let s = string_value(v, field, Text::Line)?;
    T::from_term(&s).ok_or_else(|| {
        let mut err = RecordError::invalid(
            field,
            format!(
                "{} is not a known {}; expected one of: {}",
                quote(&s),
                T::WHAT,
                T::TERMS.join(", ")
            ),
        );
        if let Some(hint) = T::HINT {
            err = err.with_hint(hint);
        }
        err
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let e = read_json(br#"{"name": {"ar": "a", "ar": "b"}}"#).unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::DuplicateField);
        assert_eq!(e.field.as_deref(), Some("name.ar"));
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let e = read_json(b"{\n  \"name\": {\n    \"ar\": \"x\",\n  }\n}").unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::Syntax);
        assert_eq!(e.line, Some(4));
        assert!(e.column.is_some());
        assert!(e.to_string().starts_with("line 4, column "), "{e}");
        assert!(!e.message.contains(" at line "), "{}", e.message);
    }

    #[test]
    fn trailing_garbage_and_empty_input_are_syntax_errors() {
        assert_eq!(
            read_json(b"{} {}").unwrap_err().kind,
            RecordErrorKind::Syntax
        );
        let e = read_json(b"").unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::Syntax);
        assert!(e.message.starts_with("input ended"), "{}", e.message);
    }

    #[test]
    fn invalid_utf8_is_a_syntax_error() {
        let e = read_json(b"{\"a\": \"\xff\"}").unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::Syntax);
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        assert!(read_json(b"\xEF\xBB\xBF{}").is_ok());
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let deep = "[".repeat(10_000);
        let e = read_json(deep.as_bytes()).unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::TooLarge);
    }

    #[test]
    fn text_is_trimmed_composed_and_bounded() {
        assert_eq!(clean_text("  e\u{301}  ", "f", Text::Line).unwrap(), "é");
        assert_eq!(
            clean_text("x".repeat(MAX_STRING_CHARS + 1).as_str(), "f", Text::Line)
                .unwrap_err()
                .kind,
            RecordErrorKind::TooLarge
        );
        assert!(clean_text(&"x".repeat(MAX_STRING_CHARS + 1), "f", Text::Notes).is_ok());
        let e = clean_text("   ", "f", Text::Line).unwrap_err();
        assert_eq!(
            e.hint.as_deref(),
            Some("leave the field out when it is not known")
        );
        assert!(clean_text("a\nb", "f", Text::Line).is_err());
        assert!(clean_text("a\nb", "f", Text::Multiline).is_ok());
        assert!(clean_text("a\u{0}b", "f", Text::Notes).is_err());
    }
}
