//! Which records a listing, an export or a count covers.
//!
//! One filter type serves `list`, `export-csv`, `export-jsonl` and `stats`, so
//! that a count and the export it summarises always select the same records.
//! Dates are partial, so a date filter keeps every record whose date *could*
//! fall in the period (overlap), never only those certainly inside it.

use time::Date;

use crate::record::{DateValue, MissingStatus, PartialDate, Place, Record, RecordKind};
use crate::search::normalise;

/// A conjunction of conditions; the default keeps every record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub kind: Option<RecordKind>,
    /// Compared after search normalisation (docs/CSV.md §5): "idlib" matches
    /// "Idlib", "ادلب" matches "إدلب".
    governorate: Option<String>,
    from: Option<Date>,
    to: Option<Date>,
    /// Missing-person status; casualty records never match it.
    pub status: Option<MissingStatus>,
}

impl Filter {
    pub fn new() -> Filter {
        Filter::default()
    }

    pub fn kind(mut self, kind: Option<RecordKind>) -> Filter {
        self.kind = kind;
        self
    }

    pub fn governorate(mut self, name: Option<&str>) -> Filter {
        self.governorate = name.map(normalise);
        self
    }

    /// Records whose date can fall on or after the first day of `from`.
    pub fn from(mut self, from: Option<PartialDate>) -> Filter {
        self.from = from.map(|d| d.earliest());
        self
    }

    /// Records whose date can fall on or before the last day of `to`.
    pub fn to(mut self, to: Option<PartialDate>) -> Filter {
        self.to = to.map(|d| d.latest());
        self
    }

    pub fn status(mut self, status: Option<MissingStatus>) -> Filter {
        self.status = status;
        self
    }

    pub fn matches(&self, record: &Record) -> bool {
        if self.kind.is_some_and(|k| k != record.kind()) {
            return false;
        }
        if let Some(wanted) = &self.status {
            match record {
                Record::Missing(m) if m.status == *wanted => {}
                _ => return false,
            }
        }
        if let Some(wanted) = &self.governorate {
            let found = record_place(record)
                .and_then(|p| p.governorate.as_deref())
                .map(normalise);
            if found.as_deref() != Some(wanted.as_str()) {
                return false;
            }
        }
        if self.from.is_some() || self.to.is_some() {
            // A record without a date cannot be placed in a period.
            let Some(date) = record_date(record) else {
                return false;
            };
            if self.from.is_some_and(|from| date.latest() < from) {
                return false;
            }
            if self.to.is_some_and(|to| date.earliest() > to) {
                return false;
            }
        }
        true
    }
}

/// The date a record is about: the date of death, or the date last seen.
pub fn record_date(record: &Record) -> Option<&DateValue> {
    match record {
        Record::Casualty(c) => c.date_of_death.as_ref(),
        Record::Missing(m) => m.last_seen.as_ref().and_then(|ls| ls.date.as_ref()),
    }
}

/// The place a record is about: of death, or where last seen.
pub fn record_place(record: &Record) -> Option<&Place> {
    match record {
        Record::Casualty(c) => c.place_of_death.as_ref(),
        Record::Missing(m) => m.last_seen.as_ref().and_then(|ls| ls.place.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_record;
    use time::macros::date;

    fn casualty(date: &str, gov: &str) -> Record {
        let json = format!(
            r#"{{"name": {{"latin": "X"}}, "date_of_death": {date}, "place_of_death": {{"governorate": "{gov}"}}}}"#
        );
        parse_record(RecordKind::Casualty, json.as_bytes(), date!(2025 - 01 - 01)).unwrap()
    }

    fn d(s: &str) -> Option<PartialDate> {
        Some(PartialDate::parse(s).unwrap())
    }

    #[test]
    fn partial_dates_overlap() {
        let f = Filter::new().from(d("2018-01")).to(d("2018-03"));
        assert!(f.matches(&casualty(r#""2018-02-14""#, "Idlib")));
        // "2018" could be any day of 2018, so it may fall in the period.
        assert!(f.matches(&casualty(r#""2018""#, "Idlib")));
        assert!(f.matches(&casualty(
            r#"{"from": "2017-11", "to": "2018-01-05"}"#,
            "Idlib"
        )));
        assert!(!f.matches(&casualty(r#""2018-04-01""#, "Idlib")));
        assert!(!f.matches(&casualty(r#""2017-12-31""#, "Idlib")));
        assert!(f.matches(&casualty(r#""2018-03-31""#, "Idlib")));
    }

    #[test]
    fn governorate_is_compared_normalised() {
        let f = Filter::new().governorate(Some("idlib"));
        assert!(f.matches(&casualty(r#""2018""#, "Idlib")));
        assert!(!f.matches(&casualty(r#""2018""#, "Hama")));
        let f = Filter::new().governorate(Some("ادلب"));
        assert!(f.matches(&casualty(r#""2018""#, "إدلب")));
    }

    #[test]
    fn status_never_matches_a_casualty() {
        let f = Filter::new().status(Some(MissingStatus::Missing));
        assert!(!f.matches(&casualty(r#""2018""#, "Idlib")));
    }
}
