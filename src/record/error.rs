//! The one error type of the record model.
//!
//! Records are typed in by hand by documenters working under pressure, often
//! in a language other than the one the schema is written in. An error has to
//! say which field is wrong (as a dotted path the user can find in their own
//! file), what the bad value was, and, where there is an obvious next step,
//! what to do. The CLI prints `Display` as the fact and `hint` on its own line.

use std::fmt;

/// What went wrong, coarsely: callers branch on this, people read `message`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordErrorKind {
    /// The input is not well-formed JSON (or not UTF-8).
    Syntax,
    /// A field that the schema does not define at that level.
    UnknownField,
    /// The same field twice in one object: JSON parsers disagree on which one
    /// wins, so a signed record must not depend on that.
    DuplicateField,
    /// A required field is absent.
    MissingField,
    /// A value of the wrong type, format or vocabulary.
    InvalidValue,
    /// A date that cannot exist (30 February, month 13, `from` after `to`,
    /// before 1900).
    ImpossibleDate,
    /// A date whose earliest possible day is after today.
    FutureDate,
    /// Input, a string or an array beyond the documented limits.
    TooLarge,
}

/// A rejected record: what, where, and what to do about it.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{}", self.render())]
pub struct RecordError {
    pub kind: RecordErrorKind,
    /// Dotted path as a user would write it: `sources[1].date`, `name`.
    pub field: Option<String>,
    /// 1-based line in the input, for errors found while reading the JSON text.
    pub line: Option<usize>,
    /// 1-based column in the input, for errors found while reading the JSON text.
    pub column: Option<usize>,
    /// A lowercase statement of the fact, quoting the bad value.
    pub message: String,
    /// What to do next, when there is something useful to say.
    pub hint: Option<String>,
}

impl RecordError {
    pub(crate) fn new(kind: RecordErrorKind, field: &str, message: impl Into<String>) -> Self {
        RecordError {
            kind,
            field: if field.is_empty() {
                None
            } else {
                Some(field.to_owned())
            },
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(RecordErrorKind::InvalidValue, field, message)
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if let (Some(line), Some(column)) = (self.line, self.column) {
            out.push_str(&format!("line {line}, column {column}"));
            if let Some(field) = &self.field {
                out.push_str(&format!(" (in `{field}`)"));
            }
            out.push_str(": ");
        } else if let Some(field) = &self.field {
            out.push_str(&format!("field `{field}`: "));
        }
        out.push_str(&self.message);
        out
    }
}

/// Quote a user's value for a message the way they wrote it (JSON), cut short
/// so that a hostile megabyte does not end up in a terminal or a log.
pub(crate) fn quote(s: &str) -> String {
    const MAX: usize = 60;
    let quoted = |t: &str| serde_json::to_string(t).unwrap_or_else(|_| String::from("\"?\""));
    if s.chars().count() <= MAX {
        quoted(s)
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{}…", quoted(&head))
    }
}

impl fmt::Display for RecordErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            RecordErrorKind::Syntax => "syntax",
            RecordErrorKind::UnknownField => "unknown field",
            RecordErrorKind::DuplicateField => "duplicate field",
            RecordErrorKind::MissingField => "missing field",
            RecordErrorKind::InvalidValue => "invalid value",
            RecordErrorKind::ImpossibleDate => "impossible date",
            RecordErrorKind::FutureDate => "future date",
            RecordErrorKind::TooLarge => "too large",
        };
        f.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_field_or_the_position() {
        let e = RecordError::new(
            RecordErrorKind::ImpossibleDate,
            "sources[1].date",
            "\"2018-02-30\" is not a real day (February 2018 has 28 days)",
        );
        assert_eq!(
            e.to_string(),
            "field `sources[1].date`: \"2018-02-30\" is not a real day (February 2018 has 28 days)"
        );
        let mut e = RecordError::new(RecordErrorKind::Syntax, "", "expected `,` or `}`");
        e.line = Some(3);
        e.column = Some(14);
        assert_eq!(e.to_string(), "line 3, column 14: expected `,` or `}`");
    }

    #[test]
    fn quote_cuts_long_values() {
        let long = "x".repeat(1000);
        let q = quote(&long);
        assert!(q.chars().count() < 70);
        assert!(q.ends_with('…'));
    }
}
