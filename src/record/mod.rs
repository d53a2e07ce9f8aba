//! The record model: what a casualty or missing-person record contains, how
//! it is read from untrusted JSON, and the one normalised body that is signed.
//!
//! This is pure data: no I/O, no clock (callers pass `today`). Everything a
//! record can hold is checked here, once, so that the layers that sign, store
//! and export records can take a `Record` as valid. The JSON accepted is
//! documented for users in `docs/SCHEMA.md`; the field names follow the Every
//! Casualty Standards for Casualty Recording and the HURIDOCS Events Standard
//! Formats so that data can be exchanged with other groups.

mod date;
mod error;
mod json;
mod place;
mod vocab;

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

pub use date::{DateValue, PartialDate, Precision, MAX_YEAR, MIN_YEAR};
pub use error::{RecordError, RecordErrorKind};
pub use json::{MAX_ARRAY_ITEMS, MAX_INPUT_BYTES, MAX_NOTES_CHARS, MAX_STRING_CHARS};
pub use place::{Coordinates, Place};
pub use vocab::{
    AgeBand, Cause, Circumstances, CivilianStatus, Confidence, MissingStatus, Reliability,
    Sensitivity, Sex, SourceType, Vocab,
};

use error::quote;
use json::{path_index, read_json, string_value, Ctx, Fields, Text};

/// The oldest age accepted, in years.
pub const MAX_AGE: u64 = 130;

/// Fields that are never exported unless asked for: they put living people
/// (the families who report) at risk.
pub const SENSITIVE_FIELDS: &[&str] = &["contact"];

/// The two kinds of record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Casualty,
    Missing,
}

impl RecordKind {
    pub const ALL: [RecordKind; 2] = [RecordKind::Casualty, RecordKind::Missing];

    pub fn as_str(self) -> &'static str {
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

impl FromStr for RecordKind {
    type Err = RecordError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "casualty" => Ok(RecordKind::Casualty),
            "missing" => Ok(RecordKind::Missing),
            _ => Err(RecordError::invalid(
                "",
                format!(
                    "{} is not a record kind; expected one of: casualty, missing",
                    quote(s)
                ),
            )),
        }
    }
}

/// A validated record of either kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Casualty(Casualty),
    Missing(Missing),
}

/// What both kinds record about the person (Every Casualty minimum data,
/// less the event itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub name: Name,
    pub sex: Sex,
    pub age: Option<Age>,
    pub sources: Vec<Source>,
    pub notes: Option<String>,
    pub sensitivity: Sensitivity,
    /// Files supporting the record, by BLAKE3 digest (docs/SCHEMA.md §2.4).
    pub evidence: Vec<EvidenceItem>,
}

/// A file supporting a record: its content is kept outside the log, in the
/// store's `evidence-files/`, and named here by digest and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceItem {
    /// Plain BLAKE3 of the file's bytes.
    pub blake3: [u8; 32],
    /// The file's length in bytes.
    pub size: u64,
    /// A media type such as `image/jpeg`, lowercase.
    pub media_type: String,
    /// The file's original name, if given.
    pub name: Option<String>,
}

/// The largest file size a record may state: the largest integer every JSON
/// reader holds exactly (2^53 - 1).
pub const MAX_EVIDENCE_SIZE: u64 = (1 << 53) - 1;

/// A name in the scripts and parts in which it is known. `ar` or `latin` is
/// always present; the parts follow the Arabic naming chain (given name,
/// father's, grandfather's, family) plus a laqab (by-name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Name {
    pub ar: Option<String>,
    pub latin: Option<String>,
    pub given: Option<String>,
    pub father: Option<String>,
    pub grandfather: Option<String>,
    pub family: Option<String>,
    pub laqab: Option<String>,
    pub aliases: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Age {
    Years(u8),
    /// Both ends included; `min <= max`.
    Range {
        min: u8,
        max: u8,
    },
    Band(AgeBand),
}

/// Where a piece of information came from (HURIDOCS source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub source_type: SourceType,
    pub reference: Option<String>,
    pub reliability: Reliability,
    pub date: Option<DateValue>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Casualty {
    pub person: Person,
    pub date_of_death: Option<DateValue>,
    pub place_of_death: Option<Place>,
    pub cause: Cause,
    pub cause_detail: Option<String>,
    pub civilian_status: CivilianStatus,
    pub alleged_perpetrator: Option<String>,
    pub confidence: Confidence,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub person: Person,
    pub last_seen: Option<LastSeen>,
    pub circumstances: Circumstances,
    pub circumstances_detail: Option<String>,
    pub alleged_holder: Option<String>,
    pub status: MissingStatus,
    /// Sensitive: see [`SENSITIVE_FIELDS`].
    pub contact: Option<Contact>,
}

/// When and where the missing person was last seen; at least one is present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastSeen {
    pub date: Option<DateValue>,
    pub place: Option<Place>,
}

/// How to reach the family. At least one field is present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    pub name: Option<String>,
    pub relationship: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub notes: Option<String>,
}

/// A one-line summary for listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headline {
    pub name: String,
    pub date: Option<String>,
    pub place: Option<String>,
}

/// Parse and validate user input JSON (the `add` command). `today` is the UTC
/// date used for the "not in the future" rule.
pub fn parse_record(
    kind: RecordKind,
    input: &[u8],
    today: time::Date,
) -> Result<Record, RecordError> {
    let value = read_json(input)?;
    read_record(kind, &value, Ctx { today: Some(today) })
}

impl Record {
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Casualty(_) => RecordKind::Casualty,
            Record::Missing(_) => RecordKind::Missing,
        }
    }

    pub fn person_mut(&mut self) -> &mut Person {
        match self {
            Record::Casualty(c) => &mut c.person,
            Record::Missing(m) => &mut m.person,
        }
    }

    pub fn person(&self) -> &Person {
        match self {
            Record::Casualty(c) => &c.person,
            Record::Missing(m) => &m.person,
        }
    }

    /// The body that goes into a signed entry: only objects, arrays, strings,
    /// bools and integers, every string NFC, absent optional fields omitted,
    /// defaults explicit, deterministic for equal records.
    pub fn to_body(&self) -> Value {
        let mut m = Map::new();
        let p = self.person();
        m.insert("name".into(), name_to_json(&p.name));
        m.insert("sex".into(), term(p.sex));
        if let Some(age) = &p.age {
            m.insert("age".into(), age_to_json(age));
        }
        if !p.sources.is_empty() {
            let sources = p.sources.iter().map(source_to_json).collect();
            m.insert("sources".into(), Value::Array(sources));
        }
        put(&mut m, "notes", &p.notes);
        m.insert("sensitivity".into(), term(p.sensitivity));
        if !p.evidence.is_empty() {
            let items = p.evidence.iter().map(evidence_to_json).collect();
            m.insert("evidence".into(), Value::Array(items));
        }
        match self {
            Record::Casualty(c) => {
                if let Some(d) = &c.date_of_death {
                    m.insert("date_of_death".into(), d.to_json());
                }
                if let Some(place) = &c.place_of_death {
                    m.insert("place_of_death".into(), place.to_json());
                }
                m.insert("cause".into(), term(c.cause));
                put(&mut m, "cause_detail", &c.cause_detail);
                m.insert("civilian_status".into(), term(c.civilian_status));
                put(&mut m, "alleged_perpetrator", &c.alleged_perpetrator);
                m.insert("confidence".into(), term(c.confidence));
            }
            Record::Missing(x) => {
                if let Some(ls) = &x.last_seen {
                    let mut lm = Map::new();
                    if let Some(d) = &ls.date {
                        lm.insert("date".into(), d.to_json());
                    }
                    if let Some(place) = &ls.place {
                        lm.insert("place".into(), place.to_json());
                    }
                    m.insert("last_seen".into(), Value::Object(lm));
                }
                m.insert("circumstances".into(), term(x.circumstances));
                put(&mut m, "circumstances_detail", &x.circumstances_detail);
                put(&mut m, "alleged_holder", &x.alleged_holder);
                m.insert("status".into(), term(x.status));
                if let Some(c) = &x.contact {
                    let mut cm = Map::new();
                    put(&mut cm, "name", &c.name);
                    put(&mut cm, "relationship", &c.relationship);
                    put(&mut cm, "phone", &c.phone);
                    put(&mut cm, "email", &c.email);
                    put(&mut cm, "address", &c.address);
                    put(&mut cm, "notes", &c.notes);
                    m.insert("contact".into(), Value::Object(cm));
                }
            }
        }
        Value::Object(m)
    }

    /// Strictly re-read a stored body: the input rules, except that dates are
    /// not compared with today (they were checked against the day they were
    /// added).
    pub fn from_body(kind: RecordKind, body: &Value) -> Result<Record, RecordError> {
        read_record(kind, body, Ctx { today: None })
    }

    pub fn headline(&self) -> Headline {
        let n = &self.person().name;
        let name = match (&n.ar, &n.latin) {
            (Some(ar), Some(latin)) => format!("{ar} ({latin})"),
            (Some(one), None) | (None, Some(one)) => one.clone(),
            // Unreachable for a validated record; kept total.
            (None, None) => String::from("(no name)"),
        };
        let (date, place) = match self {
            Record::Casualty(c) => (c.date_of_death.as_ref(), c.place_of_death.as_ref()),
            Record::Missing(m) => match &m.last_seen {
                Some(ls) => (ls.date.as_ref(), ls.place.as_ref()),
                None => (None, None),
            },
        };
        Headline {
            name,
            date: date.map(|d| d.to_string()),
            place: place.and_then(Place::display),
        }
    }

    pub fn sensitivity(&self) -> Sensitivity {
        self.person().sensitivity
    }

    /// Whether the record holds any of the [`SENSITIVE_FIELDS`].
    pub fn has_sensitive_fields(&self) -> bool {
        self != &self.redacted()
    }

    /// The record without its [`SENSITIVE_FIELDS`], for exports.
    pub fn redacted(&self) -> Record {
        match self {
            Record::Casualty(c) => Record::Casualty(c.clone()),
            Record::Missing(m) => Record::Missing(Missing {
                contact: None,
                ..m.clone()
            }),
        }
    }
}

fn term<T: Vocab>(t: T) -> Value {
    Value::String(t.term().to_owned())
}

fn put(m: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(s) = v {
        m.insert(key.into(), Value::String(s.clone()));
    }
}

fn name_to_json(n: &Name) -> Value {
    let mut m = Map::new();
    put(&mut m, "ar", &n.ar);
    put(&mut m, "latin", &n.latin);
    put(&mut m, "given", &n.given);
    put(&mut m, "father", &n.father);
    put(&mut m, "grandfather", &n.grandfather);
    put(&mut m, "family", &n.family);
    put(&mut m, "laqab", &n.laqab);
    if !n.aliases.is_empty() {
        let aliases = n.aliases.iter().cloned().map(Value::String).collect();
        m.insert("aliases".into(), Value::Array(aliases));
    }
    Value::Object(m)
}

fn age_to_json(a: &Age) -> Value {
    let mut m = Map::new();
    match a {
        Age::Years(y) => {
            m.insert("years".into(), Value::from(*y));
        }
        Age::Range { min, max } => {
            m.insert("min".into(), Value::from(*min));
            m.insert("max".into(), Value::from(*max));
        }
        Age::Band(b) => {
            m.insert("band".into(), term(*b));
        }
    }
    Value::Object(m)
}

fn source_to_json(s: &Source) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), term(s.source_type));
    put(&mut m, "reference", &s.reference);
    m.insert("reliability".into(), term(s.reliability));
    if let Some(d) = &s.date {
        m.insert("date".into(), d.to_json());
    }
    Value::Object(m)
}

fn evidence_to_json(e: &EvidenceItem) -> Value {
    let mut m = Map::new();
    m.insert("blake3".into(), Value::String(hex::encode(e.blake3)));
    m.insert("size".into(), Value::from(e.size));
    m.insert("media_type".into(), Value::String(e.media_type.clone()));
    put(&mut m, "name", &e.name);
    Value::Object(m)
}

const COMMON_FIELDS: [&str; 7] = [
    "name",
    "sex",
    "age",
    "sources",
    "notes",
    "sensitivity",
    "evidence",
];
const CASUALTY_FIELDS: [&str; 7] = [
    "date_of_death",
    "place_of_death",
    "cause",
    "cause_detail",
    "civilian_status",
    "alleged_perpetrator",
    "confidence",
];
const MISSING_FIELDS: [&str; 6] = [
    "last_seen",
    "circumstances",
    "circumstances_detail",
    "alleged_holder",
    "status",
    "contact",
];

fn read_record(kind: RecordKind, v: &Value, ctx: Ctx) -> Result<Record, RecordError> {
    let (own, other): (&[&str], &[&str]) = match kind {
        RecordKind::Casualty => (&CASUALTY_FIELDS, &MISSING_FIELDS),
        RecordKind::Missing => (&MISSING_FIELDS, &CASUALTY_FIELDS),
    };
    let allowed: Vec<&str> = COMMON_FIELDS.iter().chain(own).copied().collect();
    let what = format!("a {kind} record");
    let f = Fields::open(v, "", &allowed, &what).map_err(|e| {
        // The likeliest cause of a top-level unknown field is the wrong kind.
        let wrong_kind = e.kind == RecordErrorKind::UnknownField
            && e.field.as_deref().is_some_and(|k| other.contains(&k));
        if wrong_kind {
            let right = match kind {
                RecordKind::Casualty => RecordKind::Missing,
                RecordKind::Missing => RecordKind::Casualty,
            };
            e.with_hint(format!(
                "this field belongs to a {right} record; use `sijill add {right}`"
            ))
        } else {
            e
        }
    })?;
    let person = read_person(&f, ctx)?;
    Ok(match kind {
        RecordKind::Casualty => Record::Casualty(Casualty {
            person,
            date_of_death: match f.get("date_of_death")? {
                Some(d) => Some(DateValue::from_json(d, "date_of_death", ctx)?),
                None => None,
            },
            place_of_death: match f.get("place_of_death")? {
                Some(p) => Some(Place::from_json(p, "place_of_death")?),
                None => None,
            },
            cause: f.vocab("cause")?.unwrap_or(Cause::Unknown),
            cause_detail: f.text("cause_detail", Text::Multiline)?,
            civilian_status: f
                .vocab("civilian_status")?
                .unwrap_or(CivilianStatus::Unknown),
            alleged_perpetrator: f.text("alleged_perpetrator", Text::Line)?,
            confidence: f.vocab("confidence")?.unwrap_or(Confidence::Unconfirmed),
        }),
        RecordKind::Missing => Record::Missing(Missing {
            person,
            last_seen: match f.get("last_seen")? {
                Some(ls) => Some(read_last_seen(ls, ctx)?),
                None => None,
            },
            circumstances: f.vocab("circumstances")?.unwrap_or(Circumstances::Unknown),
            circumstances_detail: f.text("circumstances_detail", Text::Multiline)?,
            alleged_holder: f.text("alleged_holder", Text::Line)?,
            status: f.vocab("status")?.unwrap_or(MissingStatus::Missing),
            contact: match f.get("contact")? {
                Some(c) => Some(read_contact(c)?),
                None => None,
            },
        }),
    })
}

fn read_person(f: &Fields<'_>, ctx: Ctx) -> Result<Person, RecordError> {
    let name = read_name(f.require("name")?)?;
    let sources = match f.array("sources")? {
        None => Vec::new(),
        Some(items) => items
            .iter()
            .enumerate()
            .map(|(i, s)| read_source(s, &path_index("sources", i), ctx))
            .collect::<Result<_, _>>()?,
    };
    Ok(Person {
        name,
        sex: f.vocab("sex")?.unwrap_or(Sex::Unknown),
        age: match f.get("age")? {
            Some(a) => Some(read_age(a)?),
            None => None,
        },
        sources,
        notes: f.text("notes", Text::Notes)?,
        sensitivity: f.vocab("sensitivity")?.unwrap_or(Sensitivity::Partner),
        evidence: read_evidence(f)?,
    })
}

const EVIDENCE_HINT: &str = "write {\"blake3\": \"<64 lowercase hex>\", \"size\": <bytes>, \"media_type\": \"image/jpeg\"}, or pass the file with `--evidence FILE`";

fn read_evidence(f: &Fields<'_>) -> Result<Vec<EvidenceItem>, RecordError> {
    let Some(items) = f.array("evidence")? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<EvidenceItem> = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let path = path_index("evidence", i);
        let item = read_evidence_item(v, &path)?;
        if let Some(j) = out.iter().position(|e| e.blake3 == item.blake3) {
            return Err(RecordError::invalid(
                &path,
                format!(
                    "the file {} is already listed as evidence[{j}]",
                    hex::encode(item.blake3)
                ),
            )
            .with_hint("list each file once"));
        }
        out.push(item);
    }
    Ok(out)
}

fn read_evidence_item(v: &Value, path: &str) -> Result<EvidenceItem, RecordError> {
    let f = Fields::open(
        v,
        path,
        &["blake3", "size", "media_type", "name"],
        "an evidence item",
    )
    .map_err(|e| e.with_hint(EVIDENCE_HINT))?;
    let digest = f
        .text("blake3", Text::Line)?
        .ok_or_else(|| f.missing("blake3").with_hint(EVIDENCE_HINT))?;
    let blake3 = parse_digest(&digest).ok_or_else(|| {
        RecordError::invalid(
            &f.path_of("blake3"),
            format!(
                "{} is not a BLAKE3 digest (64 lowercase hex characters)",
                quote(&digest)
            ),
        )
        .with_hint(
            "copy the digest as `sijill show` prints it, or pass the file with `--evidence FILE`",
        )
    })?;
    let size = f
        .integer("size", 0, MAX_EVIDENCE_SIZE)?
        .ok_or_else(|| f.missing("size").with_hint(EVIDENCE_HINT))?;
    let media = f
        .text("media_type", Text::Line)?
        .ok_or_else(|| f.missing("media_type").with_hint(EVIDENCE_HINT))?;
    let media_type = media.to_ascii_lowercase();
    if !is_media_type(&media_type) {
        return Err(RecordError::invalid(
            &f.path_of("media_type"),
            format!("{} is not a media type", quote(&media)),
        )
        .with_hint("write type/subtype, e.g. \"image/jpeg\", \"application/pdf\" or \"application/octet-stream\""));
    }
    Ok(EvidenceItem {
        blake3,
        size,
        media_type,
        name: f.text("name", Text::Line)?,
    })
}

/// A file name as an evidence item's `name`: NFC, one line; `None` when
/// the name would not be a valid value (empty, too long, control characters).
pub fn clean_file_name(name: &str) -> Option<String> {
    json::clean_text(name, "name", Text::Line).ok()
}

/// 64 lowercase hex characters.
pub fn parse_digest(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// `type/subtype` in RFC 6838 restricted-name characters, lowercase, no
/// parameters.
fn is_media_type(s: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 127
            && p.as_bytes()[0].is_ascii_alphanumeric()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$&^_.+-".contains(&b))
    };
    match s.split_once('/') {
        Some((t, sub)) => part(t) && part(sub),
        None => false,
    }
}

fn read_name(v: &Value) -> Result<Name, RecordError> {
    if let Value::String(s) = v {
        return Err(RecordError::invalid(
            "name",
            format!(
                "expected an object with `ar` and/or `latin`, found the string {}",
                quote(s)
            ),
        )
        .with_hint(format!(
            "write {{\"ar\": {}}} or {{\"latin\": {}}}",
            quote(s),
            quote(s)
        )));
    }
    let f = Fields::open(
        v,
        "name",
        &[
            "ar",
            "latin",
            "given",
            "father",
            "grandfather",
            "family",
            "laqab",
            "aliases",
        ],
        "a name",
    )?;
    let aliases = match f.array("aliases")? {
        None => Vec::new(),
        Some(items) => items
            .iter()
            .enumerate()
            .map(|(i, a)| string_value(a, &path_index("name.aliases", i), Text::Line))
            .collect::<Result<_, _>>()?,
    };
    let name = Name {
        ar: f.text("ar", Text::Line)?,
        latin: f.text("latin", Text::Line)?,
        given: f.text("given", Text::Line)?,
        father: f.text("father", Text::Line)?,
        grandfather: f.text("grandfather", Text::Line)?,
        family: f.text("family", Text::Line)?,
        laqab: f.text("laqab", Text::Line)?,
        aliases,
    };
    if name.ar.is_none() && name.latin.is_none() {
        return Err(RecordError::new(
            RecordErrorKind::MissingField,
            "name",
            "a name needs `ar` (Arabic script) or `latin` (Latin script), or both",
        )
        .with_hint(
            "give the full name as known in `ar` or `latin`; the parts are optional extras",
        ));
    }
    Ok(name)
}

const AGE_HINT: &str =
    "write {\"years\": 34}, {\"min\": 30, \"max\": 40} or {\"band\": \"child\"|\"adult\"|\"elderly\"}";

fn read_age(v: &Value) -> Result<Age, RecordError> {
    if let Value::Number(n) = v {
        return Err(RecordError::invalid(
            "age",
            format!("expected an object, found the number {n}"),
        )
        .with_hint(AGE_HINT));
    }
    let f = Fields::open(v, "age", &["years", "min", "max", "band"], "an age")?;
    let as_u8 = |n: u64| u8::try_from(n).unwrap_or(u8::MAX);
    let years = f.integer("years", 0, MAX_AGE)?;
    let min = f.integer("min", 0, MAX_AGE)?;
    let max = f.integer("max", 0, MAX_AGE)?;
    let band = f.vocab::<AgeBand>("band")?;
    match (years, min, max, band) {
        (Some(y), None, None, None) => Ok(Age::Years(as_u8(y))),
        (None, Some(lo), Some(hi), None) => {
            if lo > hi {
                Err(RecordError::invalid(
                    "age",
                    format!("`min` {lo} is greater than `max` {hi}"),
                ))
            } else {
                Ok(Age::Range {
                    min: as_u8(lo),
                    max: as_u8(hi),
                })
            }
        }
        (None, None, None, Some(b)) => Ok(Age::Band(b)),
        (None, Some(_), None, None) => Err(f.missing("max").with_hint(AGE_HINT)),
        (None, None, Some(_), None) => Err(f.missing("min").with_hint(AGE_HINT)),
        (None, None, None, None) => {
            Err(
                RecordError::new(RecordErrorKind::MissingField, "age", "the age is empty")
                    .with_hint(AGE_HINT),
            )
        }
        _ => Err(RecordError::invalid(
            "age",
            "an age is exactly one of `years`, `min` and `max`, or `band`",
        )
        .with_hint(AGE_HINT)),
    }
}

fn read_source(v: &Value, path: &str, ctx: Ctx) -> Result<Source, RecordError> {
    let f = Fields::open(
        v,
        path,
        &["type", "reference", "reliability", "date"],
        "a source",
    )?;
    let source_type = f.vocab("type")?.ok_or_else(|| f.missing("type"))?;
    Ok(Source {
        source_type,
        reference: f.text("reference", Text::Multiline)?,
        reliability: f.vocab("reliability")?.unwrap_or(Reliability::Unknown),
        date: match f.get("date")? {
            Some(d) => Some(DateValue::from_json(d, &f.path_of("date"), ctx)?),
            None => None,
        },
    })
}

fn read_last_seen(v: &Value, ctx: Ctx) -> Result<LastSeen, RecordError> {
    let f = Fields::open(v, "last_seen", &["date", "place"], "a last-seen object")?;
    let ls = LastSeen {
        date: match f.get("date")? {
            Some(d) => Some(DateValue::from_json(d, "last_seen.date", ctx)?),
            None => None,
        },
        place: match f.get("place")? {
            Some(p) => Some(Place::from_json(p, "last_seen.place")?),
            None => None,
        },
    };
    if ls.date.is_none() && ls.place.is_none() {
        return Err(RecordError::new(
            RecordErrorKind::MissingField,
            "last_seen",
            "`last_seen` needs a `date`, a `place`, or both",
        )
        .with_hint("leave `last_seen` out when neither is known"));
    }
    Ok(ls)
}

fn read_contact(v: &Value) -> Result<Contact, RecordError> {
    let f = Fields::open(
        v,
        "contact",
        &["name", "relationship", "phone", "email", "address", "notes"],
        "a contact",
    )?;
    let phone = f.text("phone", Text::Line)?;
    if let Some(p) = &phone {
        let allowed = |c: char| c.is_numeric() || " +-()./".contains(c);
        if !p.chars().all(allowed) || !p.chars().any(char::is_numeric) {
            return Err(RecordError::invalid(
                "contact.phone",
                format!("{} is not a phone number", quote(p)),
            )
            .with_hint("use digits, spaces and + - ( ) . / only; put remarks in `contact.notes`"));
        }
    }
    let email = f.text("email", Text::Line)?;
    if let Some(e) = &email {
        let valid = match e.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !e.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if !valid {
            return Err(RecordError::invalid(
                "contact.email",
                format!("{} is not an email address", quote(e)),
            ));
        }
    }
    let c = Contact {
        name: f.text("name", Text::Line)?,
        relationship: f.text("relationship", Text::Line)?,
        phone,
        email,
        address: f.text("address", Text::Multiline)?,
        notes: f.text("notes", Text::Notes)?,
    };
    if c == Contact::default() {
        return Err(RecordError::new(
            RecordErrorKind::MissingField,
            "contact",
            "the contact is empty",
        )
        .with_hint("leave `contact` out when there is none"));
    }
    Ok(c)
}

// Hooks for the entries that speak about a record (src/lifecycle.rs): they
// reuse the record's own readers so that a source, a date or a text in a
// lifecycle entry obeys exactly the rules it obeys in a record.
pub(crate) use json::{Ctx as ReadCtx, Fields as ReadFields, Text as ReadText};

impl Record {
    /// Validate a record body edited as JSON exactly as `add` validates its
    /// input (dates after `today` are refused).
    pub fn from_input_value(
        kind: RecordKind,
        value: &Value,
        today: time::Date,
    ) -> Result<Record, RecordError> {
        read_record(kind, value, Ctx { today: Some(today) })
    }
}

pub(crate) fn read_source_value(v: &Value, path: &str, ctx: Ctx) -> Result<Source, RecordError> {
    read_source(v, path, ctx)
}

pub(crate) fn source_value(s: &Source) -> Value {
    source_to_json(s)
}

pub(crate) fn describe_value(v: &Value) -> String {
    json::describe(v)
}

pub(crate) fn invalid_value(field: &str, message: impl Into<String>) -> RecordError {
    RecordError::invalid(field, message)
}

#[cfg(test)]
mod tests;
