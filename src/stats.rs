//! Counts for reports: records grouped by month, governorate, cause or status.
//!
//! Counts are taken over the *current view* of the records (FORMAT.md §4.6):
//! amendments and status changes applied, retracted records left out, and
//! records linked as the same person counted once. [`current_view`] is the one
//! place that folds the lifecycle entries in, so exports and counts agree.

use std::collections::{BTreeMap, HashMap};

use crate::entry::{EntryKind, SignedEntry};
use crate::filter::{record_date, record_place, Filter};
use crate::record::{Record, RecordKind};
use crate::search::normalise;
use crate::store::{Store, StoreError};

/// What the counts are of, stated with every count (docs/CSV.md §6).
pub const COUNT_BASIS: &str = "the current view of each record (amendments and status changes applied); retracted records are not counted; records linked as the same person with certainty likely or confirmed (links not withdrawn) are counted once; a possible link does not merge counts";

/// How records are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Kind,
    /// `YYYY-MM` of the record's date, when the date lies within one month.
    Month,
    Governorate,
    /// Casualty records only.
    Cause,
    /// Missing-person records only.
    Status,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Kind => "kind",
            GroupBy::Month => "month",
            GroupBy::Governorate => "governorate",
            GroupBy::Cause => "cause",
            GroupBy::Status => "status",
        }
    }
}

/// The label of records whose date does not fall within a single month.
pub const NO_MONTH: &str = "(date not known to the month)";
/// The label of records without a governorate.
pub const NO_GOVERNORATE: &str = "(no governorate)";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    pub by: GroupBy,
    pub total: u64,
    /// Label and count, in report order.
    pub groups: Vec<(String, u64)>,
}

/// A record's current view, as counts and exports see it.
pub struct Viewed {
    pub entry: SignedEntry,
    /// The record with its amendments and status changes applied.
    pub record: Record,
    pub retracted: bool,
    /// Records linked to this one as the same person (likely or confirmed,
    /// not withdrawn).
    pub same_person: Vec<crate::entry::EntryId>,
}

/// Every record of `kind` in its current view, in log order.
pub fn current_view(
    store: &Store,
    kind: Option<RecordKind>,
) -> impl Iterator<Item = Result<Viewed, StoreError>> + '_ {
    // Who wrote what is derived once, when a fold first needs it (FORMAT.md
    // §9.6).
    let trust = crate::group_keys::LazyGroupTrust::new();
    store
        .entries(kind.map(EntryKind::from))
        .filter_map(move |item| match item {
            Err(e) => Some(Err(e)),
            Ok(entry) => {
                entry.entry.record_body()?;
                Some(viewed(store, entry, &trust))
            }
        })
}

fn viewed(
    store: &Store,
    entry: SignedEntry,
    trust: &crate::group_keys::LazyGroupTrust,
) -> Result<Viewed, StoreError> {
    let view = crate::lifecycle::view(store, &entry.id, trust).map_err(|e| match e {
        crate::lifecycle::LifecycleError::Store(e) => e,
        other => StoreError::IndexDamaged(other.to_string()),
    })?;
    let same_person = view
        .active_links()
        .filter(|l| l.certainty != crate::lifecycle::Certainty::Possible)
        .map(|l| l.other)
        .collect();
    Ok(Viewed {
        record: view.current.clone(),
        retracted: view.retracted.is_some(),
        same_person,
        entry,
    })
}

/// Count the records `filter` selects, grouped by `by`.
pub fn count(store: &Store, filter: &Filter, by: GroupBy) -> Result<Counts, StoreError> {
    let filter = match by {
        GroupBy::Cause => filter.clone().kind(Some(RecordKind::Casualty)),
        GroupBy::Status => filter.clone().kind(Some(RecordKind::Missing)),
        _ => filter.clone(),
    };
    let mut tally = Tally::default();
    // A person linked across records is counted at the first of them met.
    let mut counted: std::collections::HashSet<crate::entry::EntryId> = Default::default();
    for item in current_view(store, filter.kind) {
        let viewed = item?;
        if viewed.retracted || !filter.matches(&viewed.record) {
            continue;
        }
        let already = viewed
            .same_person
            .iter()
            .any(|other| counted.contains(other));
        counted.insert(viewed.entry.id);
        if !already {
            tally.add(&viewed.record, by);
        }
    }
    Ok(tally.finish(by))
}

/// Counting separated from reading, so that it can be tested on records alone.
#[derive(Default)]
pub struct Tally {
    total: u64,
    /// Group key -> (label as first seen, count).
    groups: HashMap<String, (String, u64)>,
}

impl Tally {
    pub fn add(&mut self, record: &Record, by: GroupBy) {
        let (key, label) = match by {
            GroupBy::Kind => {
                let k = record.kind().as_str().to_string();
                (k.clone(), k)
            }
            GroupBy::Month => {
                let label = match record_date(record) {
                    Some(d) => {
                        let (a, b) = (d.earliest(), d.latest());
                        if (a.year(), a.month()) == (b.year(), b.month()) {
                            format!("{:04}-{:02}", a.year(), u8::from(a.month()))
                        } else {
                            NO_MONTH.to_string()
                        }
                    }
                    None => NO_MONTH.to_string(),
                };
                (label.clone(), label)
            }
            GroupBy::Governorate => {
                match record_place(record).and_then(|p| p.governorate.as_deref()) {
                    Some(g) => (normalise(g), g.to_string()),
                    None => (String::new(), NO_GOVERNORATE.to_string()),
                }
            }
            GroupBy::Cause => match record {
                Record::Casualty(c) => (c.cause.as_str().into(), c.cause.as_str().into()),
                Record::Missing(_) => return,
            },
            GroupBy::Status => match record {
                Record::Missing(m) => (m.status.as_str().into(), m.status.as_str().into()),
                Record::Casualty(_) => return,
            },
        };
        self.total += 1;
        self.groups.entry(key).or_insert((label, 0)).1 += 1;
    }

    pub fn finish(self, by: GroupBy) -> Counts {
        let mut groups: Vec<(String, u64)> = self.groups.into_values().collect();
        if by == GroupBy::Month {
            // Chronological, with the undated bucket last.
            let sorted: BTreeMap<(bool, String), u64> = groups
                .into_iter()
                .map(|(label, n)| ((label == NO_MONTH, label), n))
                .collect();
            groups = sorted.into_iter().map(|((_, l), n)| (l, n)).collect();
        } else {
            groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
        Counts {
            by,
            total: self.total,
            groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_record;
    use time::macros::date;

    fn rec(kind: RecordKind, json: &str) -> Record {
        parse_record(kind, json.as_bytes(), date!(2025 - 01 - 01)).unwrap()
    }

    #[test]
    fn months_count_only_dates_within_one_month() {
        let mut t = Tally::default();
        for d in [
            r#""2018-01-05""#,
            r#""2018-01""#,
            r#""2018""#,
            r#"{"from": "2018-02-01", "to": "2018-02-20"}"#,
            r#"{"from": "2018-02", "to": "2018-03"}"#,
        ] {
            let json = format!(r#"{{"name": {{"latin": "X"}}, "date_of_death": {d}}}"#);
            t.add(&rec(RecordKind::Casualty, &json), GroupBy::Month);
        }
        t.add(
            &rec(RecordKind::Casualty, r#"{"name": {"latin": "Y"}}"#),
            GroupBy::Month,
        );
        let c = t.finish(GroupBy::Month);
        assert_eq!(c.total, 6);
        assert_eq!(
            c.groups,
            vec![
                ("2018-01".to_string(), 2),
                ("2018-02".to_string(), 1),
                (NO_MONTH.to_string(), 3)
            ]
        );
    }

    #[test]
    fn governorates_group_spellings_together() {
        let mut t = Tally::default();
        for g in ["إدلب", "ادلب", "حماة"] {
            let json =
                format!(r#"{{"name": {{"ar": "س"}}, "place_of_death": {{"governorate": "{g}"}}}}"#);
            t.add(&rec(RecordKind::Casualty, &json), GroupBy::Governorate);
        }
        let c = t.finish(GroupBy::Governorate);
        assert_eq!(c.total, 3);
        assert_eq!(c.groups[0], ("إدلب".to_string(), 2));
        assert_eq!(c.groups[1], ("حماة".to_string(), 1));
    }

    #[test]
    fn cause_skips_missing_records() {
        let mut t = Tally::default();
        t.add(
            &rec(
                RecordKind::Casualty,
                r#"{"name": {"latin": "A"}, "cause": "shelling"}"#,
            ),
            GroupBy::Cause,
        );
        t.add(
            &rec(RecordKind::Missing, r#"{"name": {"latin": "B"}}"#),
            GroupBy::Cause,
        );
        let c = t.finish(GroupBy::Cause);
        assert_eq!(c.total, 1);
        assert_eq!(c.groups, vec![("shelling".to_string(), 1)]);
    }
}
