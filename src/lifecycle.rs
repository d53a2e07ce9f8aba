//! The record lifecycle: entries that speak about a record (amendments,
//! status changes, retractions, corroborations, same-person links) and the
//! fold that gives a record's current view (docs/FORMAT.md §4.2, §4.6).
//!
//! Nothing is edited in place: each step is a new signed entry naming the
//! entry it is about, and the current view is computed from all of them, so
//! that the history is always there to be shown. Who counts as the recording
//! group is decided by the groups of src/group_keys.rs: any key of the
//! record's group (a former group key, a device key) speaks for it.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use serde_json::{Map, Value};

use crate::entry::{EntryId, EntryKind, SignedEntry};
use crate::group_keys::{GroupTrust, LazyGroupTrust};
use crate::keys::{self, VerifyingKey};
use crate::record::{
    invalid_value, read_source_value, source_value, DateValue, MissingStatus, ReadCtx, ReadFields,
    ReadText, Record, RecordError, RecordKind, Source, SourceType, Vocab,
};
use crate::store::{Store, StoreError};

/// The most paths one amendment may set.
pub const MAX_SET_PATHS: usize = 256;

/// How sure a group is that two records are one person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Certainty {
    Possible,
    Likely,
    Confirmed,
}

impl Certainty {
    pub const ALL: [Certainty; 3] = [Certainty::Possible, Certainty::Likely, Certainty::Confirmed];

    pub fn as_str(self) -> &'static str {
        match self {
            Certainty::Possible => "possible",
            Certainty::Likely => "likely",
            Certainty::Confirmed => "confirmed",
        }
    }

    pub fn parse(text: &str) -> Option<Certainty> {
        Certainty::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl fmt::Display for Certainty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `amendment`: set fields of the target record's body (FORMAT.md §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amendment {
    pub target: EntryId,
    /// Dotted path (`place_of_death.locality`, `sources.0.type`) -> the new
    /// value in normalised form; `null` removes the field.
    pub set: BTreeMap<String, Value>,
    pub reason: String,
}

/// `status-change`: where a missing person is now believed to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    pub target: EntryId,
    pub status: MissingStatus,
    /// When the new status began, as far as it is known.
    pub date: Option<DateValue>,
    pub reason: String,
}

/// `retraction`: the record is withdrawn; it stays, marked retracted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retraction {
    pub target: EntryId,
    pub reason: String,
}

/// `corroboration`: another source supports the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corroboration {
    pub target: EntryId,
    pub source: Source,
    pub reason: String,
}

/// `same-person-link`: two records are believed to be one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamePersonLink {
    /// Two different record ids, in ascending order.
    pub records: [EntryId; 2],
    pub certainty: Certainty,
    pub reason: String,
}

/// `same-person-unlink`: a link is withdrawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamePersonUnlink {
    /// The id of the `same-person-link` entry.
    pub link: EntryId,
    pub reason: String,
}

/// The body of an entry about a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    Amendment(Amendment),
    StatusChange(StatusChange),
    Retraction(Retraction),
    Corroboration(Corroboration),
    SamePersonLink(SamePersonLink),
    SamePersonUnlink(SamePersonUnlink),
}

impl Lifecycle {
    pub fn kind(&self) -> EntryKind {
        match self {
            Lifecycle::Amendment(_) => EntryKind::Amendment,
            Lifecycle::StatusChange(_) => EntryKind::StatusChange,
            Lifecycle::Retraction(_) => EntryKind::Retraction,
            Lifecycle::Corroboration(_) => EntryKind::Corroboration,
            Lifecycle::SamePersonLink(_) => EntryKind::SamePersonLink,
            Lifecycle::SamePersonUnlink(_) => EntryKind::SamePersonUnlink,
        }
    }

    /// Whether entries of `kind` hold a lifecycle body.
    pub fn is_lifecycle_kind(kind: EntryKind) -> bool {
        matches!(
            kind,
            EntryKind::Amendment
                | EntryKind::StatusChange
                | EntryKind::Retraction
                | EntryKind::Corroboration
                | EntryKind::SamePersonLink
                | EntryKind::SamePersonUnlink
        )
    }

    pub fn reason(&self) -> &str {
        match self {
            Lifecycle::Amendment(a) => &a.reason,
            Lifecycle::StatusChange(s) => &s.reason,
            Lifecycle::Retraction(r) => &r.reason,
            Lifecycle::Corroboration(c) => &c.reason,
            Lifecycle::SamePersonLink(l) => &l.reason,
            Lifecycle::SamePersonUnlink(u) => &u.reason,
        }
    }

    /// The entries this one speaks about: the keys under which the store
    /// indexes it (FORMAT.md §6.5).
    pub fn targets(&self) -> Vec<EntryId> {
        match self {
            Lifecycle::Amendment(a) => vec![a.target],
            Lifecycle::StatusChange(s) => vec![s.target],
            Lifecycle::Retraction(r) => vec![r.target],
            Lifecycle::Corroboration(c) => vec![c.target],
            Lifecycle::SamePersonLink(l) => l.records.to_vec(),
            Lifecycle::SamePersonUnlink(u) => vec![u.link],
        }
    }

    /// The normalised body (FORMAT.md §4.2).
    pub fn to_body(&self) -> Value {
        let mut m = Map::new();
        let id = |id: &EntryId| Value::String(id.to_hex());
        match self {
            Lifecycle::Amendment(a) => {
                m.insert("target".into(), id(&a.target));
                let set: Map<String, Value> =
                    a.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                m.insert("set".into(), Value::Object(set));
            }
            Lifecycle::StatusChange(s) => {
                m.insert("target".into(), id(&s.target));
                m.insert("status".into(), Value::String(s.status.term().into()));
                if let Some(d) = &s.date {
                    m.insert("date".into(), d.to_json());
                }
            }
            Lifecycle::Retraction(r) => {
                m.insert("target".into(), id(&r.target));
            }
            Lifecycle::Corroboration(c) => {
                m.insert("target".into(), id(&c.target));
                m.insert("source".into(), source_value(&c.source));
            }
            Lifecycle::SamePersonLink(l) => {
                m.insert(
                    "records".into(),
                    Value::Array(l.records.iter().map(id).collect()),
                );
                m.insert(
                    "certainty".into(),
                    Value::String(l.certainty.as_str().into()),
                );
            }
            Lifecycle::SamePersonUnlink(u) => {
                m.insert("link".into(), id(&u.link));
            }
        }
        m.insert("reason".into(), Value::String(self.reason().into()));
        Value::Object(m)
    }

    /// Read a body of a lifecycle kind. `today` is `Some` for new input
    /// (dates after it are refused) and `None` for stored entries.
    pub fn from_body(
        kind: EntryKind,
        body: &Value,
        today: Option<time::Date>,
    ) -> Result<Lifecycle, RecordError> {
        let ctx = ReadCtx { today };
        let what = format!("a {kind} body");
        let fields: &[&str] = match kind {
            EntryKind::Amendment => &["target", "set", "reason"],
            EntryKind::StatusChange => &["target", "status", "date", "reason"],
            EntryKind::Retraction => &["target", "reason"],
            EntryKind::Corroboration => &["target", "source", "reason"],
            EntryKind::SamePersonLink => &["records", "certainty", "reason"],
            EntryKind::SamePersonUnlink => &["link", "reason"],
            _ => return Err(invalid_value("", format!("{kind} is not a lifecycle kind"))),
        };
        let f = ReadFields::open(body, "", fields, &what)?;
        let reason = f
            .text("reason", ReadText::Multiline)?
            .ok_or_else(|| f.missing("reason"))?;
        let entry_id = |key: &str| -> Result<EntryId, RecordError> {
            let v = f.require(key)?;
            read_id(v, key)
        };
        Ok(match kind {
            EntryKind::Amendment => {
                let target = entry_id("target")?;
                let Value::Object(set) = f.require("set")? else {
                    return Err(invalid_value("set", "expected an object of path: value"));
                };
                if set.is_empty() {
                    return Err(invalid_value("set", "sets no field"));
                }
                if set.len() > MAX_SET_PATHS {
                    return Err(invalid_value(
                        "set",
                        format!("sets {} paths; the limit is {MAX_SET_PATHS}", set.len()),
                    ));
                }
                for path in set.keys() {
                    check_path(path)?;
                }
                Lifecycle::Amendment(Amendment {
                    target,
                    set: set.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    reason,
                })
            }
            EntryKind::StatusChange => Lifecycle::StatusChange(StatusChange {
                target: entry_id("target")?,
                status: f.vocab("status")?.ok_or_else(|| f.missing("status"))?,
                date: match f.get("date")? {
                    Some(d) => Some(DateValue::from_json(d, "date", ctx)?),
                    None => None,
                },
                reason,
            }),
            EntryKind::Retraction => Lifecycle::Retraction(Retraction {
                target: entry_id("target")?,
                reason,
            }),
            EntryKind::Corroboration => Lifecycle::Corroboration(Corroboration {
                target: entry_id("target")?,
                source: read_source_value(f.require("source")?, "source", ctx)?,
                reason,
            }),
            EntryKind::SamePersonLink => {
                let Value::Array(items) = f.require("records")? else {
                    return Err(invalid_value(
                        "records",
                        "expected an array of two record ids",
                    ));
                };
                if items.len() != 2 {
                    return Err(invalid_value(
                        "records",
                        format!("names {} records; a link names exactly two", items.len()),
                    ));
                }
                let mut records = [
                    read_id(&items[0], "records[0]")?,
                    read_id(&items[1], "records[1]")?,
                ];
                if records[0] == records[1] {
                    return Err(invalid_value("records", "links a record to itself"));
                }
                records.sort();
                let certainty = f
                    .text("certainty", ReadText::Line)?
                    .ok_or_else(|| f.missing("certainty"))?;
                let certainty = Certainty::parse(&certainty).ok_or_else(|| {
                    invalid_value(
                        "certainty",
                        format!(
                            "{certainty:?} is not a certainty; use possible, likely or confirmed"
                        ),
                    )
                })?;
                Lifecycle::SamePersonLink(SamePersonLink {
                    records,
                    certainty,
                    reason,
                })
            }
            EntryKind::SamePersonUnlink => Lifecycle::SamePersonUnlink(SamePersonUnlink {
                link: entry_id("link")?,
                reason,
            }),
            _ => unreachable!("refused above"),
        })
    }
}

fn read_id(v: &Value, field: &str) -> Result<EntryId, RecordError> {
    v.as_str()
        .filter(|s| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .and_then(EntryId::from_hex)
        .ok_or_else(|| invalid_value(field, "expected an entry id: 64 lowercase hex characters"))
}

/// A path of an amendment: segments joined by `.`, each a field name
/// (`a`-`z`, `_`) or an array index without leading zeros. `status` is set
/// only by status changes, so that a change of whereabouts has its own entry.
pub fn check_path(path: &str) -> Result<(), RecordError> {
    let field = format!("set.{path}");
    let ok = !path.is_empty()
        && path.len() <= 256
        && path.split('.').all(|seg| {
            (!seg.is_empty() && seg.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                || (!seg.is_empty()
                    && seg.len() <= 3
                    && seg.bytes().all(|b| b.is_ascii_digit())
                    && (seg == "0" || !seg.starts_with('0')))
        })
        && !path
            .split('.')
            .next()
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(invalid_value(
            &field,
            format!("{path:?} is not a field path; write it as field.subfield (e.g. place_of_death.locality, sources.0.type)"),
        ));
    }
    if path == "status" {
        return Err(invalid_value(
            &field,
            "the status of a missing person is changed with a status change, not an amendment",
        )
        .with_hint("use `sijill status ID STATUS --reason ...`"));
    }
    Ok(())
}

/// Accept `sources[0].type` as well as `sources.0.type`.
pub fn normalise_path(path: &str) -> String {
    path.trim().replace('[', ".").replace(']', "")
}

/// Set (or, with `null`, remove) the value at `path` in a record body.
pub fn apply_path(body: &mut Value, path: &str, value: &Value) -> Result<(), RecordError> {
    let field = path.to_string();
    let segments: Vec<&str> = path.split('.').collect();
    let mut at = body;
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let index = seg.parse::<usize>().ok();
        match (at, index) {
            (Value::Object(map), None) => {
                if last {
                    if value.is_null() {
                        map.remove(*seg);
                    } else {
                        map.insert(seg.to_string(), value.clone());
                    }
                    return Ok(());
                }
                let next_is_index = segments[i + 1].parse::<usize>().is_ok();
                at = map.entry(seg.to_string()).or_insert_with(|| {
                    if next_is_index {
                        Value::Array(Vec::new())
                    } else {
                        Value::Object(Map::new())
                    }
                });
            }
            (Value::Array(items), Some(n)) => {
                if n > items.len() {
                    return Err(invalid_value(
                        &field,
                        format!(
                            "index {n} is past the end of a list of {} items; the next item is {}",
                            items.len(),
                            items.len()
                        ),
                    ));
                }
                if last {
                    if value.is_null() {
                        if n < items.len() {
                            items.remove(n);
                        }
                    } else if n == items.len() {
                        items.push(value.clone());
                    } else {
                        items[n] = value.clone();
                    }
                    return Ok(());
                }
                if n == items.len() {
                    items.push(Value::Object(Map::new()));
                }
                at = &mut items[n];
            }
            (other, _) => {
                let what = if index.is_some() {
                    "a list"
                } else {
                    "an object"
                };
                return Err(invalid_value(
                    &field,
                    format!(
                        "{seg:?} needs {what} here, but the record has {}",
                        crate::record::describe_value(other)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The value at `path` in a body, if any.
pub fn value_at<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = body;
    for seg in path.split('.') {
        at = match (at, seg.parse::<usize>()) {
            (Value::Array(items), Ok(n)) => items.get(n)?,
            (Value::Object(map), _) => map.get(seg)?,
            _ => return None,
        };
    }
    Some(at)
}

/// A record body with the `set` of an amendment applied, read with the
/// record rules (`today` as for [`Lifecycle::from_body`]).
pub fn amend_record(
    record: &Record,
    set: &BTreeMap<String, Value>,
    today: Option<time::Date>,
) -> Result<Record, RecordError> {
    let mut body = record.to_body();
    for (path, value) in set {
        apply_path(&mut body, path, value)?;
    }
    match today {
        Some(today) => Record::from_input_value(record.kind(), &body, today),
        None => Record::from_body(record.kind(), &body),
    }
}

// ---------------------------------------------------------------------------
// The fold.

/// What an entry did to the view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The record's own entry.
    Created,
    Applied,
    /// Shown, but not applied to the view, with the reason.
    NotApplied(String),
}

/// One entry of a record's history.
#[derive(Clone, Debug)]
pub struct Step {
    pub entry: SignedEntry,
    pub effect: Effect,
}

impl Step {
    pub fn lifecycle(&self) -> Option<&Lifecycle> {
        self.entry.entry.lifecycle_body()
    }

    /// Why the step was taken, as its author gave it.
    pub fn reason(&self) -> Option<&str> {
        self.lifecycle().map(Lifecycle::reason)
    }
}

/// A same-person link the record takes part in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkState {
    pub link: EntryId,
    pub other: EntryId,
    pub certainty: Certainty,
    pub reason: String,
    pub by: VerifyingKey,
    /// The unlink entry that withdrew it.
    pub withdrawn: Option<EntryId>,
}

/// One group's value for a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The value as canonical JSON text (`null`: removed).
    pub value: String,
    pub entry: EntryId,
    pub log: VerifyingKey,
}

/// Groups disagree about a field: every claim, in fold order; the last is
/// the current value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub field: String,
    pub claims: Vec<Claim>,
}

/// A record's current view and its history (FORMAT.md §4.6).
#[derive(Clone, Debug)]
pub struct RecordView {
    pub id: EntryId,
    /// The record as first recorded.
    pub original: Record,
    /// The record with every applied amendment and status change.
    pub current: Record,
    /// The date of the current status, when the status change gave one.
    pub status_date: Option<DateValue>,
    /// The retraction entry and its reason.
    pub retracted: Option<(EntryId, String)>,
    pub corroborations: Vec<(EntryId, VerifyingKey, Corroboration)>,
    pub links: Vec<LinkState>,
    /// The record's entry, then every entry about it, in fold order.
    pub history: Vec<Step>,
    pub conflicts: Vec<Conflict>,
}

impl RecordView {
    /// The entry that holds the record.
    pub fn entry(&self) -> &SignedEntry {
        &self.history[0].entry
    }

    /// The links not withdrawn.
    pub fn active_links(&self) -> impl Iterator<Item = &LinkState> {
        self.links.iter().filter(|l| l.withdrawn.is_none())
    }

    /// For a missing person: whether the case is still open. Only finding the
    /// person (alive, released, acknowledged in detention) or their remains
    /// closes it; a death notified without remains does not.
    pub fn case_open(&self) -> Option<bool> {
        match &self.current {
            Record::Missing(m) => Some(status_keeps_case_open(m.status)),
            Record::Casualty(_) => None,
        }
    }
}

/// Whether a missing person with this status is still being searched for.
pub fn status_keeps_case_open(status: MissingStatus) -> bool {
    matches!(
        status,
        MissingStatus::Missing
            | MissingStatus::DetainedUnacknowledged
            | MissingStatus::DeathNotifiedWithoutRemains
    )
}

/// Put entries about a record into fold order (FORMAT.md §4.6): each log's
/// entries keep their `seq` order; across logs, the next entry is the one
/// with the earliest `recorded_at`, then the smallest entry id, among the
/// first unused entry of each log.
pub fn fold_order(mut entries: Vec<SignedEntry>) -> Vec<SignedEntry> {
    let mut seen = HashSet::new();
    entries.retain(|e| seen.insert(e.id));
    let mut by_log: BTreeMap<[u8; 32], Vec<SignedEntry>> = BTreeMap::new();
    for e in entries {
        by_log.entry(e.entry.log.to_bytes()).or_default().push(e);
    }
    let mut queues: Vec<std::collections::VecDeque<SignedEntry>> = by_log
        .into_values()
        .map(|mut v| {
            v.sort_by_key(|e| e.entry.seq);
            v.into()
        })
        .collect();
    let mut out = Vec::new();
    loop {
        let next = queues
            .iter()
            .enumerate()
            .filter_map(|(i, q)| q.front().map(|e| (e.entry.recorded_at, e.id, i)))
            .min();
        let Some((_, _, i)) = next else { break };
        if let Some(e) = queues[i].pop_front() {
            out.push(e);
        }
    }
    out
}

/// Fold a record's entry and the entries about it into its view, each log
/// a group of its own. `about` may hold entries in any order, and the
/// unlinks of its links.
pub fn fold(record: SignedEntry, about: Vec<SignedEntry>) -> Result<RecordView, LifecycleError> {
    fold_with(record, about, &GroupTrust::default())
}

/// Fold a record with the groups of `trust` (FORMAT.md §4.6, §9.6): an
/// entry signed by any key of the record's group (a key the group rotated
/// to or from, a device it certified) is the recording group's own.
pub fn fold_with(
    record: SignedEntry,
    about: Vec<SignedEntry>,
    trust: &GroupTrust,
) -> Result<RecordView, LifecycleError> {
    let id = record.id;
    let original = record
        .entry
        .record_body()
        .cloned()
        .ok_or(LifecycleError::NotARecord {
            id,
            kind: record.entry.kind,
        })?;
    let author = record.entry.log;
    let mut view = RecordView {
        id,
        current: original.clone(),
        original,
        status_date: None,
        retracted: None,
        corroborations: Vec::new(),
        links: Vec::new(),
        history: vec![Step {
            entry: record,
            effect: Effect::Created,
        }],
        conflicts: Vec::new(),
    };
    // Field -> claims, the recording group's original value first.
    let mut claims: BTreeMap<String, Vec<Claim>> = BTreeMap::new();
    let original_body = view.original.to_body();
    let mut claim = |field: &str, value: Option<&Value>, entry: EntryId, log: VerifyingKey| {
        let list = claims.entry(field.to_string()).or_insert_with(|| {
            vec![Claim {
                value: canonical_text(value_at(&original_body, field)),
                entry: id,
                log: author,
            }]
        });
        list.push(Claim {
            value: canonical_text(value),
            entry,
            log,
        });
    };
    for entry in fold_order(about) {
        let Some(body) = entry.entry.lifecycle_body().cloned() else {
            continue;
        };
        let log = entry.entry.log;
        let effect = match &body {
            Lifecycle::Amendment(a) if a.target == id => {
                match amend_record(&view.current, &a.set, None) {
                    Ok(record) => {
                        view.current = record;
                        let body = view.current.to_body();
                        for path in a.set.keys() {
                            claim(path, value_at(&body, path), entry.id, log);
                        }
                        Effect::Applied
                    }
                    Err(e) => Effect::NotApplied(format!("does not apply to the record: {e}")),
                }
            }
            Lifecycle::StatusChange(s) if s.target == id => match &mut view.current {
                Record::Missing(m) => {
                    m.status = s.status;
                    view.status_date = s.date;
                    let v = Value::String(s.status.term().into());
                    claim("status", Some(&v), entry.id, log);
                    Effect::Applied
                }
                Record::Casualty(_) => Effect::NotApplied(
                    "a status applies to a missing-person record, and this is a casualty record"
                        .into(),
                ),
            },
            Lifecycle::Retraction(r) if r.target == id => {
                if view.retracted.is_some() {
                    Effect::NotApplied("the record was already retracted".into())
                } else if !trust.same_group(&log, &author) {
                    Effect::NotApplied(format!(
                        "only the recording group ({}) can retract its record; shown as a dispute",
                        keys::key_id(&author)
                    ))
                } else {
                    view.retracted = Some((entry.id, r.reason.clone()));
                    Effect::Applied
                }
            }
            Lifecycle::Corroboration(c) if c.target == id => {
                view.corroborations.push((entry.id, log, c.clone()));
                Effect::Applied
            }
            Lifecycle::SamePersonLink(l) if l.records.contains(&id) => {
                let other = if l.records[0] == id {
                    l.records[1]
                } else {
                    l.records[0]
                };
                view.links.push(LinkState {
                    link: entry.id,
                    other,
                    certainty: l.certainty,
                    reason: l.reason.clone(),
                    by: log,
                    withdrawn: None,
                });
                Effect::Applied
            }
            Lifecycle::SamePersonUnlink(u) => {
                match view.links.iter_mut().find(|l| l.link == u.link) {
                    Some(link) if link.withdrawn.is_none() => {
                        link.withdrawn = Some(entry.id);
                        Effect::Applied
                    }
                    Some(_) => Effect::NotApplied("the link was already withdrawn".into()),
                    None => continue,
                }
            }
            // Indexed under this record but about another: not part of it.
            _ => continue,
        };
        view.history.push(Step { entry, effect });
    }
    for (field, list) in claims {
        // Claims of one group (any of its keys) are one party, not a conflict.
        let groups: BTreeSet<[u8; 32]> = list.iter().map(|c| trust.group_of(&c.log)).collect();
        let values: BTreeSet<&str> = list.iter().map(|c| c.value.as_str()).collect();
        if groups.len() > 1 && values.len() > 1 {
            view.conflicts.push(Conflict {
                field,
                claims: list,
            });
        }
    }
    Ok(view)
}

fn canonical_text(value: Option<&Value>) -> String {
    value.map_or_else(|| "null".to_string(), |v| v.to_string())
}

/// The view of the record `id` in `store`, with the groups of the store's
/// key entries (derived by `trust` when the fold needs them).
pub fn view(
    store: &Store,
    id: &EntryId,
    trust: &LazyGroupTrust,
) -> Result<RecordView, LifecycleError> {
    view_of_entry(store, store.get(id)?, trust)
}

/// The current view of a record entry already read from the store.
pub fn view_of_entry(
    store: &Store,
    record: SignedEntry,
    trust: &LazyGroupTrust,
) -> Result<RecordView, LifecycleError> {
    let id = &record.id;
    if record.entry.record_body().is_none() {
        return Err(LifecycleError::NotARecord {
            id: *id,
            kind: record.entry.kind,
        });
    }
    let mut about = store.about(id)?;
    let links: Vec<EntryId> = about
        .iter()
        .filter(|e| e.entry.kind == EntryKind::SamePersonLink)
        .map(|e| e.id)
        .collect();
    for link in links {
        about.extend(store.about(&link)?);
    }
    // Entries of one log have one author, whatever the groups.
    let author = record.entry.log;
    if about.iter().all(|e| e.entry.log == author) {
        return fold_with(record, about, &GroupTrust::default());
    }
    fold_with(record, about, trust.get(store)?)
}

// ---------------------------------------------------------------------------
// New steps, checked against the current view before they are signed.

/// One `--set`: `path=text` sets a string, `path:=json` any JSON value
/// (`age.years:=34`; `null` removes the field).
pub fn parse_set(arg: &str) -> Result<(String, Value), RecordError> {
    let (path, value) = if let Some((p, json)) = arg.split_once(":=") {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            invalid_value(
                &normalise_path(p),
                format!("{json:?} is not a JSON value: {e}"),
            )
            .with_hint("use path=text for a string, path:=JSON for a number, object or null")
        })?;
        (p, value)
    } else if let Some((p, text)) = arg.split_once('=') {
        (p, Value::String(text.to_string()))
    } else {
        return Err(
            invalid_value("", format!("{arg:?} is not path=value")).with_hint(
                "write --set date_of_death=2018-01-24, or --set age.years:=34 for a number",
            ),
        );
    };
    let path = normalise_path(path);
    check_path(&path)?;
    Ok((path, value))
}

/// The amendment that sets `set` on the record, validated exactly as `add`
/// validates input; the values kept are the normalised ones.
pub fn new_amendment(
    view: &RecordView,
    set: Vec<(String, Value)>,
    reason: &str,
    today: time::Date,
) -> Result<Lifecycle, LifecycleError> {
    refuse_retracted(view)?;
    let requested: BTreeMap<String, Value> = set.into_iter().collect();
    if requested.is_empty() {
        return Err(LifecycleError::NothingToSet);
    }
    let record = amend_record(&view.current, &requested, Some(today))?;
    let body = record.to_body();
    let set = requested
        .keys()
        .map(|p| {
            (
                p.clone(),
                value_at(&body, p).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    finish(Lifecycle::Amendment(Amendment {
        target: view.id,
        set,
        reason: reason.to_string(),
    }))
}

pub fn new_status_change(
    view: &RecordView,
    status: &str,
    date: Option<&str>,
    reason: &str,
    today: time::Date,
) -> Result<Lifecycle, LifecycleError> {
    refuse_retracted(view)?;
    if view.current.kind() != RecordKind::Missing {
        return Err(LifecycleError::StatusNotForKind {
            status: status.to_string(),
            kind: view.current.kind(),
        });
    }
    let mut body = Map::new();
    body.insert("target".into(), Value::String(view.id.to_hex()));
    body.insert("status".into(), Value::String(status.into()));
    if let Some(d) = date {
        body.insert("date".into(), Value::String(d.into()));
    }
    body.insert("reason".into(), Value::String(reason.into()));
    let body = Lifecycle::from_body(EntryKind::StatusChange, &Value::Object(body), Some(today))?;
    finish(body)
}

/// A retraction signed by `signer`; only the recording group retracts its
/// own records, with any of its keys (the groups of `store`'s key entries).
pub fn new_retraction(
    store: &Store,
    view: &RecordView,
    signer: &VerifyingKey,
    trust: &LazyGroupTrust,
    reason: &str,
) -> Result<Lifecycle, LifecycleError> {
    refuse_retracted(view)?;
    let author = &view.entry().entry.log;
    if author != signer && !trust.get(store)?.same_group(author, signer) {
        return Err(LifecycleError::NotOwnRecord {
            id: view.id,
            author: keys::key_id(&view.entry().entry.log).to_string(),
        });
    }
    finish(Lifecycle::Retraction(Retraction {
        target: view.id,
        reason: reason.to_string(),
    }))
}

/// What a corroboration says about its source.
pub struct SourceArgs<'a> {
    pub source_type: &'a str,
    pub reference: Option<&'a str>,
    pub reliability: Option<&'a str>,
    pub date: Option<&'a str>,
}

pub fn new_corroboration(
    view: &RecordView,
    source: SourceArgs<'_>,
    reason: &str,
    today: time::Date,
) -> Result<Lifecycle, LifecycleError> {
    refuse_retracted(view)?;
    let mut s = Map::new();
    s.insert("type".into(), Value::String(source.source_type.into()));
    for (k, v) in [
        ("reference", source.reference),
        ("reliability", source.reliability),
        ("date", source.date),
    ] {
        if let Some(v) = v {
            s.insert(k.into(), Value::String(v.into()));
        }
    }
    let mut body = Map::new();
    body.insert("target".into(), Value::String(view.id.to_hex()));
    body.insert("source".into(), Value::Object(s));
    body.insert("reason".into(), Value::String(reason.into()));
    finish(Lifecycle::from_body(
        EntryKind::Corroboration,
        &Value::Object(body),
        Some(today),
    )?)
}

pub fn new_link(
    a: &RecordView,
    b: &RecordView,
    certainty: Certainty,
    reason: &str,
) -> Result<Lifecycle, LifecycleError> {
    if a.id == b.id {
        return Err(LifecycleError::LinkToItself(a.id));
    }
    refuse_retracted(a)?;
    refuse_retracted(b)?;
    if let Some(l) = a.active_links().find(|l| l.other == b.id) {
        return Err(LifecycleError::AlreadyLinked { link: l.link });
    }
    let mut records = [a.id, b.id];
    records.sort();
    finish(Lifecycle::SamePersonLink(SamePersonLink {
        records,
        certainty,
        reason: reason.to_string(),
    }))
}

/// An unlink of the link entry `link`, refused unless it is a link still in force.
pub fn new_unlink(
    store: &Store,
    link: &EntryId,
    reason: &str,
) -> Result<Lifecycle, LifecycleError> {
    let entry = store.get(link)?;
    if entry.entry.kind != EntryKind::SamePersonLink {
        return Err(LifecycleError::NotALink {
            id: *link,
            kind: entry.entry.kind,
        });
    }
    if let Some(unlink) = store
        .about(link)?
        .into_iter()
        .find(|e| e.entry.kind == EntryKind::SamePersonUnlink)
    {
        return Err(LifecycleError::AlreadyUnlinked {
            link: *link,
            by: unlink.id,
        });
    }
    finish(Lifecycle::SamePersonUnlink(SamePersonUnlink {
        link: *link,
        reason: reason.to_string(),
    }))
}

fn refuse_retracted(view: &RecordView) -> Result<(), LifecycleError> {
    match &view.retracted {
        Some((by, reason)) => Err(LifecycleError::Retracted {
            id: view.id,
            by: *by,
            reason: reason.clone(),
        }),
        None => Ok(()),
    }
}

/// Normalise through the reader, as a stored entry will be read back.
fn finish(body: Lifecycle) -> Result<Lifecycle, LifecycleError> {
    let read = Lifecycle::from_body(body.kind(), &body.to_body(), None)?;
    Ok(read)
}

/// Why a lifecycle step cannot be taken.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The id names an entry that is not a record.
    #[error("{id} is a {kind} entry, not a record")]
    NotARecord { id: EntryId, kind: EntryKind },
    /// The record was retracted; nothing more is said about it.
    #[error("record {id} was retracted by entry {by} ({reason:?})")]
    Retracted {
        id: EntryId,
        by: EntryId,
        reason: String,
    },
    /// Statuses are whereabouts of missing persons.
    #[error("status {status:?} cannot be given to a {kind} record: statuses belong to missing-person records")]
    StatusNotForKind { status: String, kind: RecordKind },
    /// Only the recording group withdraws its record.
    #[error(
        "record {id} was recorded by another group (key {author}); only that group can retract it"
    )]
    NotOwnRecord { id: EntryId, author: String },
    #[error("a record cannot be linked to itself ({0})")]
    LinkToItself(EntryId),
    #[error("these records are already linked by entry {link}")]
    AlreadyLinked { link: EntryId },
    #[error("{id} is a {kind} entry, not a same-person link")]
    NotALink { id: EntryId, kind: EntryKind },
    #[error("link {link} was already withdrawn by entry {by}")]
    AlreadyUnlinked { link: EntryId, by: EntryId },
    #[error("no --set given")]
    NothingToSet,
    /// The new value breaks the record schema (the same error `add` gives).
    #[error("{0}")]
    Invalid(#[from] RecordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The source types a corroboration accepts, for help text.
pub fn source_types() -> Vec<&'static str> {
    SourceType::ALL.iter().map(|t| t.term()).collect()
}

/// Whether an amendment sets a sensitive field (docs/SCHEMA.md).
pub fn sets_sensitive_field(entry: &crate::entry::Entry) -> bool {
    match entry.lifecycle_body() {
        Some(Lifecycle::Amendment(a)) => a.set.keys().any(|path| {
            crate::record::SENSITIVE_FIELDS
                .iter()
                .any(|f| path == f || path.starts_with(&format!("{f}.")))
        }),
        _ => false,
    }
}
