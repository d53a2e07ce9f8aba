//! Partial and uncertain dates.
//!
//! Families often know only the year or the month in which someone was killed
//! or taken, or only that it happened "around" a date or between two dates.
//! Forcing a full day would invent precision that the record then signs
//! forever, so a date here is exactly as precise as what is known: a year, a
//! month or a day, optionally approximate, or a range of two such dates.
//!
//! Normalised form (what `to_body` writes): a plain string `"YYYY"`,
//! `"YYYY-MM"` or `"YYYY-MM-DD"` when the date is a single, non-approximate
//! date; `{"date": ..., "approximate": true}` for an approximate one;
//! `{"from": ..., "to": ...}` (plus `"approximate": true` when so) for a range.

use std::fmt;

use serde_json::{Map, Value};
use time::{Date, Month};

use super::error::{quote, RecordError, RecordErrorKind};
use super::json::{clean_text, describe, Ctx, Fields, Text};

/// The earliest year accepted: earlier dates are typing mistakes in this domain.
pub const MIN_YEAR: i32 = 1900;
/// The latest year the four-digit form can hold.
pub const MAX_YEAR: i32 = 9999;

pub(crate) const DATE_HINT: &str = "write dates as \"YYYY\", \"YYYY-MM\" or \"YYYY-MM-DD\" (in quotes), as {\"date\": ..., \"approximate\": true}, or as a range {\"from\": ..., \"to\": ...}";

/// How much of a date is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    Year,
    Month,
    Day,
}

/// A calendar date known to the year, the month or the day.
///
/// Always a real date between 1900 and 9999: the only ways to make one check it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PartialDate {
    first: Date,
    precision: Precision,
}

impl PartialDate {
    /// Parse `"YYYY"`, `"YYYY-MM"` or `"YYYY-MM-DD"`. Arabic-Indic digits are
    /// accepted, since that is how many users type dates.
    pub fn parse(text: &str) -> Result<PartialDate, RecordError> {
        Self::parse_at(text, "")
    }

    /// Build from numbers: `day` needs `month`.
    pub fn from_parts(
        year: i32,
        month: Option<u8>,
        day: Option<u8>,
    ) -> Result<PartialDate, RecordError> {
        let text = match (month, day) {
            (None, None) => format!("{year:04}"),
            (Some(m), None) => format!("{year:04}-{m:02}"),
            (Some(m), Some(d)) => format!("{year:04}-{m:02}-{d:02}"),
            (None, Some(_)) => {
                return Err(RecordError::invalid("", "a day needs a month"));
            }
        };
        Self::build(year, month, day, &text, "")
    }

    pub(crate) fn parse_at(text: &str, field: &str) -> Result<PartialDate, RecordError> {
        let folded = fold_digits(text);
        let parts: Vec<&str> = folded.split('-').collect();
        let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
        let num = |p: &str| p.parse::<u16>().unwrap_or(0);
        let bad = || {
            RecordError::invalid(field, format!("{} is not a date", quote(text)))
                .with_hint(DATE_HINT)
        };
        match parts.as_slice() {
            [y] if digits(y, 4) => Self::build(i32::from(num(y)), None, None, text, field),
            [y, m] if digits(y, 4) && digits(m, 2) => {
                Self::build(i32::from(num(y)), Some(num(m) as u8), None, text, field)
            }
            [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2) => Self::build(
                i32::from(num(y)),
                Some(num(m) as u8),
                Some(num(d) as u8),
                text,
                field,
            ),
            _ => Err(bad()),
        }
    }

    fn build(
        year: i32,
        month: Option<u8>,
        day: Option<u8>,
        text: &str,
        field: &str,
    ) -> Result<PartialDate, RecordError> {
        let q = quote(text);
        let impossible =
            |msg: String| RecordError::new(RecordErrorKind::ImpossibleDate, field, msg);
        if year < MIN_YEAR {
            return Err(impossible(format!(
                "{q} is before {MIN_YEAR}, the earliest year accepted"
            ))
            .with_hint("check the year"));
        }
        if year > MAX_YEAR {
            return Err(impossible(format!("{q} is after {MAX_YEAR}")));
        }
        let month_value = match month {
            None => Month::January,
            Some(m) => Month::try_from(m).map_err(|_| {
                impossible(format!("{q} has no month {m} (months run from 01 to 12)"))
                    .with_hint("dates are written year first: YYYY-MM-DD")
            })?,
        };
        let days = month_value.length(year);
        let day_value = match day {
            None => 1,
            Some(0) => {
                return Err(
                    impossible(format!("{q} is not a real day (days start at 01)"))
                        .with_hint(day_hint(year, month_value)),
                )
            }
            Some(d) if d > days => {
                return Err(impossible(format!(
                    "{q} is not a real day ({month_value} {year} has {days} days)"
                ))
                .with_hint(day_hint(year, month_value)))
            }
            Some(d) => d,
        };
        let first = Date::from_calendar_date(year, month_value, day_value)
            .map_err(|_| impossible(format!("{q} is not a real day")))?;
        let precision = match (month, day) {
            (None, _) => Precision::Year,
            (Some(_), None) => Precision::Month,
            (Some(_), Some(_)) => Precision::Day,
        };
        Ok(PartialDate { first, precision })
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn year(&self) -> i32 {
        self.first.year()
    }

    pub fn month(&self) -> Option<u8> {
        (self.precision != Precision::Year).then(|| u8::from(self.first.month()))
    }

    pub fn day(&self) -> Option<u8> {
        (self.precision == Precision::Day).then(|| self.first.day())
    }

    /// The first day this date can denote.
    pub fn earliest(&self) -> Date {
        self.first
    }

    /// The last day this date can denote.
    pub fn latest(&self) -> Date {
        let (year, month) = match self.precision {
            Precision::Day => return self.first,
            Precision::Month => (self.first.year(), self.first.month()),
            Precision::Year => (self.first.year(), Month::December),
        };
        let days = month.length(year);
        // Cannot fail for a date that was itself valid; the fallback keeps
        // this total without a panic path.
        Date::from_calendar_date(year, month, days).unwrap_or(self.first)
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = (
            self.first.year(),
            u8::from(self.first.month()),
            self.first.day(),
        );
        match self.precision {
            Precision::Year => write!(f, "{y:04}"),
            Precision::Month => write!(f, "{y:04}-{m:02}"),
            Precision::Day => write!(f, "{y:04}-{m:02}-{d:02}"),
        }
    }
}

fn day_hint(year: i32, month: Month) -> String {
    format!(
        "check the day; if only the month is known, write \"{year:04}-{:02}\"",
        u8::from(month)
    )
}

/// Arabic-Indic (U+0660–0669) and Persian (U+06F0–06F9) digits to ASCII.
pub(crate) fn fold_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{660}'..='\u{669}' => char::from(b'0' + (u32::from(c) - 0x660) as u8),
            '\u{6F0}'..='\u{6F9}' => char::from(b'0' + (u32::from(c) - 0x6F0) as u8),
            _ => c,
        })
        .collect()
}

/// A date as recorded: one partial date or a range, either possibly approximate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateValue {
    On {
        date: PartialDate,
        approximate: bool,
    },
    /// `from` never starts after `to` ends.
    Between {
        from: PartialDate,
        to: PartialDate,
        approximate: bool,
    },
}

impl DateValue {
    pub fn exact(date: PartialDate) -> DateValue {
        DateValue::On {
            date,
            approximate: false,
        }
    }

    /// A range; refused when `from` starts after `to` ends.
    pub fn between(
        from: PartialDate,
        to: PartialDate,
        approximate: bool,
    ) -> Result<DateValue, RecordError> {
        check_order(&from, &to, "")?;
        Ok(DateValue::Between {
            from,
            to,
            approximate,
        })
    }

    pub fn approximate(&self) -> bool {
        match self {
            DateValue::On { approximate, .. } | DateValue::Between { approximate, .. } => {
                *approximate
            }
        }
    }

    /// The first day the value can denote.
    pub fn earliest(&self) -> Date {
        match self {
            DateValue::On { date, .. } => date.earliest(),
            DateValue::Between { from, .. } => from.earliest(),
        }
    }

    /// The last day the value can denote.
    pub fn latest(&self) -> Date {
        match self {
            DateValue::On { date, .. } => date.latest(),
            DateValue::Between { to, .. } => to.latest(),
        }
    }

    /// The normalised JSON form (see the module documentation).
    pub fn to_json(&self) -> Value {
        match self {
            DateValue::On {
                date,
                approximate: false,
            } => Value::String(date.to_string()),
            DateValue::On {
                date,
                approximate: true,
            } => {
                let mut m = Map::new();
                m.insert("date".into(), Value::String(date.to_string()));
                m.insert("approximate".into(), Value::Bool(true));
                Value::Object(m)
            }
            DateValue::Between {
                from,
                to,
                approximate,
            } => {
                let mut m = Map::new();
                m.insert("from".into(), Value::String(from.to_string()));
                m.insert("to".into(), Value::String(to.to_string()));
                if *approximate {
                    m.insert("approximate".into(), Value::Bool(true));
                }
                Value::Object(m)
            }
        }
    }

    pub(crate) fn from_json(v: &Value, field: &str, ctx: Ctx) -> Result<DateValue, RecordError> {
        match v {
            Value::String(s) => Ok(DateValue::On {
                date: one_date(s, field, ctx)?,
                approximate: false,
            }),
            Value::Object(_) => {
                let f = Fields::open(v, field, &["date", "from", "to", "approximate"], "a date")?;
                let approximate = f.boolean("approximate")?.unwrap_or(false);
                let string_at = |key: &str, val: &Value| -> Result<PartialDate, RecordError> {
                    let path = f.path_of(key);
                    match val {
                        Value::String(s) => one_date(s, &path, ctx),
                        other => Err(RecordError::invalid(
                            &path,
                            format!("expected a date string, found {}", describe(other)),
                        )
                        .with_hint(DATE_HINT)),
                    }
                };
                match (f.get("date")?, f.get("from")?, f.get("to")?) {
                    (Some(d), None, None) => Ok(DateValue::On {
                        date: string_at("date", d)?,
                        approximate,
                    }),
                    (Some(_), _, _) => Err(RecordError::invalid(
                        field,
                        "a date has either `date` or `from` and `to`, not both",
                    )
                    .with_hint(DATE_HINT)),
                    (None, Some(a), Some(b)) => {
                        let from = string_at("from", a)?;
                        let to = string_at("to", b)?;
                        check_order(&from, &to, f.path())?;
                        Ok(DateValue::Between {
                            from,
                            to,
                            approximate,
                        })
                    }
                    (None, Some(_), None) => Err(f
                        .missing("to")
                        .with_hint("a range needs both ends; use a single approximate date when one end is unknown")),
                    (None, None, Some(_)) => Err(f
                        .missing("from")
                        .with_hint("a range needs both ends; use a single approximate date when one end is unknown")),
                    (None, None, None) => Err(f.missing("date").with_hint(DATE_HINT)),
                }
            }
            other => Err(RecordError::invalid(
                field,
                format!("expected a date, found {}", describe(other)),
            )
            .with_hint(DATE_HINT)),
        }
    }
}

fn one_date(raw: &str, field: &str, ctx: Ctx) -> Result<PartialDate, RecordError> {
    let text = clean_text(raw, field, Text::Line)?;
    let date = PartialDate::parse_at(&text, field)?;
    if let Some(today) = ctx.today {
        if date.earliest() > today {
            return Err(RecordError::new(
                RecordErrorKind::FutureDate,
                field,
                format!("{} is in the future (today is {today})", quote(&text)),
            )
            .with_hint("check the year; dates are written YYYY-MM-DD"));
        }
    }
    Ok(date)
}

fn check_order(from: &PartialDate, to: &PartialDate, field: &str) -> Result<(), RecordError> {
    if from.earliest() > to.latest() {
        return Err(RecordError::new(
            RecordErrorKind::ImpossibleDate,
            field,
            format!("the range starts after it ends (from \"{from}\" to \"{to}\")"),
        )
        .with_hint("swap `from` and `to`"));
    }
    Ok(())
}

/// The short form used in listings: `2018-01-25`, `c. 2018-01`, `2018-01/2018-03`.
impl fmt::Display for DateValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.approximate() {
            f.write_str("c. ")?;
        }
        match self {
            DateValue::On { date, .. } => write!(f, "{date}"),
            DateValue::Between { from, to, .. } => write!(f, "{from}/{to}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    const TODAY: Date = date!(2025 - 06 - 15);

    fn ctx() -> Ctx {
        Ctx { today: Some(TODAY) }
    }

    fn parse_json(v: Value) -> Result<DateValue, RecordError> {
        DateValue::from_json(&v, "date_of_death", ctx())
    }

    #[test]
    fn february_30_is_refused_with_the_month_length() {
        let e = parse_json(Value::from("2018-02-30")).unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::ImpossibleDate);
        assert_eq!(
            e.to_string(),
            "field `date_of_death`: \"2018-02-30\" is not a real day (February 2018 has 28 days)"
        );
        assert!(parse_json(Value::from("2016-02-29")).is_ok());
        assert!(parse_json(Value::from("2000-02-29")).is_ok());
        assert!(parse_json(Value::from("1900-02-29")).is_err());
    }

    #[test]
    fn month_13_is_refused() {
        let e = parse_json(Value::from("2018-13")).unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::ImpossibleDate);
        assert!(e.message.contains("no month 13"), "{}", e.message);
        assert!(parse_json(Value::from("2018-00-01")).is_err());
        assert!(parse_json(Value::from("2018-01-00")).is_err());
    }

    #[test]
    fn years_before_1900_are_refused() {
        let e = parse_json(Value::from("1899-12-31")).unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::ImpossibleDate);
        assert!(parse_json(Value::from("1900")).is_ok());
    }

    #[test]
    fn malformed_dates_get_the_format_hint() {
        for bad in [
            "18",
            "2018-1-5",
            "25/01/2018",
            "2018-01-25T00:00",
            "2018--01",
            "+2018",
        ] {
            let e = parse_json(Value::from(bad)).unwrap_err();
            assert_eq!(e.kind, RecordErrorKind::InvalidValue, "{bad}");
            assert_eq!(e.hint.as_deref(), Some(DATE_HINT));
        }
        let e = parse_json(Value::from(2018)).unwrap_err();
        assert!(e.message.contains("the number 2018"), "{}", e.message);
    }

    #[test]
    fn from_after_to_is_refused() {
        let e = parse_json(serde_json::json!({"from": "2019-03", "to": "2018"})).unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::ImpossibleDate);
        assert_eq!(e.field.as_deref(), Some("date_of_death"));
        // Overlapping precisions are a valid range.
        assert!(parse_json(serde_json::json!({"from": "2018-03-20", "to": "2018-03"})).is_ok());
        assert!(parse_json(serde_json::json!({"from": "2018", "to": "2018"})).is_ok());
    }

    #[test]
    fn future_dates_are_refused_by_their_earliest_day() {
        let e = parse_json(Value::from("2025-06-16")).unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::FutureDate);
        assert!(e.message.contains("2025-06-15"), "{}", e.message);
        assert!(parse_json(Value::from("2025-06-15")).is_ok());
        // The current month and year may still hold the date.
        assert!(parse_json(Value::from("2025-06")).is_ok());
        assert!(parse_json(Value::from("2025")).is_ok());
        assert_eq!(
            parse_json(Value::from("2026")).unwrap_err().kind,
            RecordErrorKind::FutureDate
        );
        let e = parse_json(serde_json::json!({"from": "2024", "to": "2026"})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("date_of_death.to"));
        // Stored bodies are not checked against today.
        let stored = DateValue::from_json(&Value::from("2030"), "x", Ctx { today: None });
        assert!(stored.is_ok());
    }

    #[test]
    fn object_forms_and_normalisation() {
        let v = parse_json(serde_json::json!({"date": "2018-01", "approximate": false})).unwrap();
        assert_eq!(v.to_json(), Value::from("2018-01"));
        let v = parse_json(serde_json::json!({"date": "2018-01", "approximate": true})).unwrap();
        assert_eq!(
            v.to_json(),
            serde_json::json!({"date": "2018-01", "approximate": true})
        );
        assert_eq!(v.to_string(), "c. 2018-01");
        let v = parse_json(serde_json::json!({"from": "2018-01", "to": "2018-03-02"})).unwrap();
        assert_eq!(
            v.to_json(),
            serde_json::json!({"from": "2018-01", "to": "2018-03-02"})
        );
        assert_eq!(v.to_string(), "2018-01/2018-03-02");
        assert!(
            parse_json(serde_json::json!({"date": "2018", "from": "2017", "to": "2018"})).is_err()
        );
        assert_eq!(
            parse_json(serde_json::json!({"from": "2018"}))
                .unwrap_err()
                .kind,
            RecordErrorKind::MissingField
        );
        assert_eq!(
            parse_json(serde_json::json!({"approximate": true}))
                .unwrap_err()
                .kind,
            RecordErrorKind::MissingField
        );
        let e = parse_json(serde_json::json!({"date": "2018", "aprox": true})).unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::UnknownField);
        assert_eq!(e.field.as_deref(), Some("date_of_death.aprox"));
    }

    #[test]
    fn arabic_indic_digits_are_read() {
        let v = parse_json(Value::from("٢٠١٨-٠١-٢٥")).unwrap();
        assert_eq!(v.to_json(), Value::from("2018-01-25"));
        let v = parse_json(Value::from("۱۳۹۰")).unwrap_err();
        assert_eq!(v.kind, RecordErrorKind::ImpossibleDate);
    }

    #[test]
    fn latest_day_of_each_precision() {
        assert_eq!(
            PartialDate::parse("2016-02").unwrap().latest(),
            date!(2016 - 02 - 29)
        );
        assert_eq!(
            PartialDate::parse("2016").unwrap().latest(),
            date!(2016 - 12 - 31)
        );
        assert_eq!(
            PartialDate::parse("2016-03-04").unwrap().latest(),
            date!(2016 - 03 - 04)
        );
    }

    fn partial_date() -> impl Strategy<Value = PartialDate> {
        (MIN_YEAR..=MAX_YEAR, 0u8..=12, 1u8..=31, any::<bool>()).prop_map(|(y, m, d, with_day)| {
            let month = (m > 0).then_some(m);
            let day = month.and_then(|m| {
                let max = Month::try_from(m).ok()?.length(y);
                with_day.then_some(d.min(max))
            });
            PartialDate::from_parts(y, month, day).expect("generated dates are valid")
        })
    }

    proptest! {
        #[test]
        fn partial_dates_round_trip_through_text(d in partial_date()) {
            let text = d.to_string();
            prop_assert_eq!(PartialDate::parse(&text).unwrap(), d);
            prop_assert!(d.earliest() <= d.latest());
        }

        #[test]
        fn parsing_any_text_never_panics(s in "\\PC{0,16}") {
            let _ = PartialDate::parse(&s);
        }

        #[test]
        fn date_values_round_trip_through_json(
            a in partial_date(), b in partial_date(), approximate in any::<bool>(), range in any::<bool>()
        ) {
            let v = if range {
                let (from, to) = if a.earliest() <= b.latest() { (a, b) } else { (b, a) };
                DateValue::between(from, to, approximate).unwrap()
            } else {
                DateValue::On { date: a, approximate }
            };
            let back = DateValue::from_json(&v.to_json(), "d", Ctx { today: None }).unwrap();
            prop_assert_eq!(back, v);
        }
    }
}
