//! STUB: replaced by the record module.
use std::fmt;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Casualty,
    Missing,
}
impl RecordKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            RecordKind::Casualty => "casualty",
            RecordKind::Missing => "missing",
        }
    }
}
impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl std::str::FromStr for RecordKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "casualty" => Ok(Self::Casualty),
            "missing" => Ok(Self::Missing),
            _ => Err(format!("unknown kind {s:?}")),
        }
    }
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Casualty(serde_json::Value),
    Missing(serde_json::Value),
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sensitivity {
    Public,
    Partner,
    Internal,
}
pub struct Headline {
    pub name: String,
    pub date: Option<String>,
    pub place: Option<String>,
}
pub fn parse_record(
    kind: RecordKind,
    input: &[u8],
    _today: time::Date,
) -> Result<Record, RecordError> {
    let v: serde_json::Value = serde_json::from_slice(input).map_err(|e| RecordError {
        kind: RecordErrorKind::Syntax,
        field: None,
        line: Some(e.line()),
        column: Some(e.column()),
        message: e.to_string(),
        hint: None,
    })?;
    Record::from_body(kind, &v)
}
impl Record {
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Casualty(_) => RecordKind::Casualty,
            Record::Missing(_) => RecordKind::Missing,
        }
    }
    pub fn to_body(&self) -> serde_json::Value {
        match self {
            Record::Casualty(v) | Record::Missing(v) => v.clone(),
        }
    }
    pub fn from_body(kind: RecordKind, body: &serde_json::Value) -> Result<Record, RecordError> {
        Ok(match kind {
            RecordKind::Casualty => Record::Casualty(body.clone()),
            RecordKind::Missing => Record::Missing(body.clone()),
        })
    }
    pub fn headline(&self) -> Headline {
        Headline {
            name: self.to_body()["name"]["ar"]
                .as_str()
                .unwrap_or("?")
                .to_string(),
            date: None,
            place: None,
        }
    }
    pub fn sensitivity(&self) -> Sensitivity {
        Sensitivity::Partner
    }
}
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{message}")]
pub struct RecordError {
    pub kind: RecordErrorKind,
    pub field: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordErrorKind {
    Syntax,
    UnknownField,
    MissingField,
    InvalidValue,
    ImpossibleDate,
    FutureDate,
    TooLarge,
}
impl Sensitivity {
    pub fn as_str(&self) -> &'static str {
        "partner"
    }
}
