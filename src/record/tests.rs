//! Whole-record tests: each rule of docs/SCHEMA.md has a test that fails
//! without it, and generated records must survive the store round trip.

use super::*;
use proptest::prelude::*;
use serde_json::json;
use time::macros::date;
use time::Date;

const TODAY: Date = date!(2025 - 06 - 15);

fn casualty(v: Value) -> Result<Record, RecordError> {
    parse_record(RecordKind::Casualty, v.to_string().as_bytes(), TODAY)
}

fn missing(v: Value) -> Result<Record, RecordError> {
    parse_record(RecordKind::Missing, v.to_string().as_bytes(), TODAY)
}

fn err_field(r: Result<Record, RecordError>) -> (RecordErrorKind, Option<String>, RecordError) {
    let e = r.expect_err("the input should be refused");
    (e.kind, e.field.clone(), e)
}

fn full_casualty() -> Value {
    json!({
        "name": {"ar": "محمد أحمد الخطيب", "latin": "Mohammad Ahmad al-Khatib",
                 "given": "محمد", "father": "أحمد", "family": "الخطيب",
                 "aliases": ["أبو أحمد"]},
        "sex": "male",
        "age": {"years": 34},
        "date_of_death": "2018-02-25",
        "place_of_death": {"governorate": "ريف دمشق", "district": "دوما",
                           "locality": "حرستا",
                           "coordinates": {"lat": "33.5611", "lon": "36.3650"}},
        "cause": "shelling",
        "civilian_status": "civilian",
        "alleged_perpetrator": "government forces",
        "confidence": "confirmed",
        "sources": [
            {"type": "family", "reference": "brother, interview 2018-03-01", "reliability": "high", "date": "2018-03-01"},
            {"type": "medical", "reliability": "medium", "date": {"date": "2018-02", "approximate": true}}
        ],
        "notes": "Killed with two neighbours.\nBuried in the local cemetery.",
        "sensitivity": "public"
    })
}

fn full_missing() -> Value {
    json!({
        "name": {"latin": "Rania Haddad"},
        "sex": "female",
        "age": {"min": 25, "max": 30},
        "last_seen": {"date": {"from": "2013-04", "to": "2013-05-10"},
                      "place": {"governorate": "Damascus", "detail": "Mezzeh checkpoint"}},
        "circumstances": "checkpoint",
        "alleged_holder": "Air Force Intelligence",
        "status": "detained-unacknowledged",
        "contact": {"name": "Samir Haddad", "relationship": "father", "phone": "+963 11 123 4567",
                    "email": "samir@example.org"},
        "sources": [{"type": "eyewitness", "reliability": "medium"}]
    })
}

#[test]
fn full_examples_are_accepted() {
    let c = casualty(full_casualty()).unwrap();
    assert_eq!(c.kind(), RecordKind::Casualty);
    assert_eq!(c.sensitivity(), Sensitivity::Public);
    let m = missing(full_missing()).unwrap();
    assert_eq!(m.kind(), RecordKind::Missing);
}

#[test]
fn the_schema_examples_are_accepted() {
    // The two examples printed in docs/SCHEMA.md, kept identical here.
    let c = include_str!("testdata/casualty.json");
    let m = include_str!("testdata/missing.json");
    let c = parse_record(RecordKind::Casualty, c.as_bytes(), TODAY).unwrap();
    let m = parse_record(RecordKind::Missing, m.as_bytes(), TODAY).unwrap();
    assert_eq!(Record::from_body(RecordKind::Casualty, &c.to_body()), Ok(c));
    assert_eq!(Record::from_body(RecordKind::Missing, &m.to_body()), Ok(m));
}

#[test]
fn unknown_top_level_field_is_named() {
    let mut v = full_casualty();
    v["colour"] = json!("red");
    let (kind, field, e) = err_field(casualty(v));
    assert_eq!(kind, RecordErrorKind::UnknownField);
    assert_eq!(field.as_deref(), Some("colour"));
    assert!(
        e.message.contains("`date_of_death`"),
        "lists the accepted fields: {}",
        e.message
    );
}

#[test]
fn unknown_nested_field_is_named_with_its_path() {
    let mut v = full_casualty();
    v["place_of_death"]["coordinates"]["alt"] = json!("100");
    let (kind, field, e) = err_field(casualty(v));
    assert_eq!(kind, RecordErrorKind::UnknownField);
    assert_eq!(field.as_deref(), Some("place_of_death.coordinates.alt"));
    assert!(e.message.contains("`lat`, `lon`"), "{}", e.message);

    let mut v = full_casualty();
    v["sources"][1]["url"] = json!("http://x");
    let (_, field, _) = err_field(casualty(v));
    assert_eq!(field.as_deref(), Some("sources[1].url"));
}

#[test]
fn a_field_of_the_other_kind_gets_a_hint() {
    let mut v = full_missing();
    v["date_of_death"] = json!("2018");
    let (kind, _, e) = err_field(missing(v));
    assert_eq!(kind, RecordErrorKind::UnknownField);
    assert!(e.hint.unwrap().contains("sijill add casualty"));
}

#[test]
fn name_is_required() {
    let mut v = full_casualty();
    v.as_object_mut().unwrap().remove("name");
    let (kind, field, _) = err_field(casualty(v));
    assert_eq!(kind, RecordErrorKind::MissingField);
    assert_eq!(field.as_deref(), Some("name"));
}

#[test]
fn name_needs_ar_or_latin() {
    let (kind, field, _) = err_field(casualty(json!({"name": {"given": "محمد"}})));
    assert_eq!(kind, RecordErrorKind::MissingField);
    assert_eq!(field.as_deref(), Some("name"));
    assert!(casualty(json!({"name": {"ar": "محمد"}})).is_ok());
    assert!(casualty(json!({"name": {"latin": "Mohammad"}})).is_ok());
    let (kind, _, e) = err_field(casualty(json!({"name": "Mohammad"})));
    assert_eq!(kind, RecordErrorKind::InvalidValue);
    assert!(e.hint.unwrap().contains("{\"ar\": \"Mohammad\"}"));
}

#[test]
fn impossible_dates_name_their_field() {
    let mut v = full_casualty();
    v["sources"][1]["date"] = json!("2018-02-30");
    let e = casualty(v).unwrap_err();
    assert_eq!(e.kind, RecordErrorKind::ImpossibleDate);
    assert_eq!(
        e.to_string(),
        "field `sources[1].date`: \"2018-02-30\" is not a real day (February 2018 has 28 days)"
    );

    let mut v = full_casualty();
    v["date_of_death"] = json!("2018-13");
    let (kind, field, _) = err_field(casualty(v));
    assert_eq!(kind, RecordErrorKind::ImpossibleDate);
    assert_eq!(field.as_deref(), Some("date_of_death"));

    let mut v = full_missing();
    v["last_seen"]["date"] = json!({"from": "2014", "to": "2013-05"});
    let (kind, field, _) = err_field(missing(v));
    assert_eq!(kind, RecordErrorKind::ImpossibleDate);
    assert_eq!(field.as_deref(), Some("last_seen.date"));
}

#[test]
fn future_date_of_death_is_refused_on_input_only() {
    let mut v = full_casualty();
    v["date_of_death"] = json!("2025-07");
    let (kind, field, e) = err_field(casualty(v.clone()));
    assert_eq!(kind, RecordErrorKind::FutureDate);
    assert_eq!(field.as_deref(), Some("date_of_death"));
    assert!(e.message.contains("\"2025-07\""), "{}", e.message);
    // The same record, read back later as a stored body, is fine.
    let later = parse_record(
        RecordKind::Casualty,
        v.to_string().as_bytes(),
        date!(2026 - 01 - 01),
    )
    .unwrap();
    assert!(Record::from_body(RecordKind::Casualty, &later.to_body()).is_ok());
}

#[test]
fn float_age_is_refused() {
    let mut v = full_casualty();
    v["age"] = json!({"years": 34.5});
    let (kind, field, e) = err_field(casualty(v));
    assert_eq!(kind, RecordErrorKind::InvalidValue);
    assert_eq!(field.as_deref(), Some("age.years"));
    assert!(
        e.message.contains("34.5 is not a whole number"),
        "{}",
        e.message
    );
    let e = casualty(json!({"name": {"ar": "x"}, "age": {"years": 30.0}})).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("age.years"));
    let e = casualty(json!({"name": {"ar": "x"}, "age": 30})).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("age"));
    assert!(e.hint.unwrap().contains("{\"years\": 34}"));
}

#[test]
fn age_forms_are_exclusive_and_bounded() {
    let base = |age: Value| casualty(json!({"name": {"ar": "x"}, "age": age}));
    assert!(base(json!({"years": 0})).is_ok());
    assert!(base(json!({"years": 130})).is_ok());
    assert!(base(json!({"years": 131})).is_err());
    assert!(base(json!({"years": -1})).is_err());
    assert!(base(json!({"years": "30"})).is_err());
    assert!(base(json!({"min": 20, "max": 30})).is_ok());
    assert!(base(json!({"min": 30, "max": 20})).is_err());
    assert_eq!(
        base(json!({"min": 20})).unwrap_err().kind,
        RecordErrorKind::MissingField
    );
    assert!(base(json!({"years": 20, "band": "adult"})).is_err());
    assert!(base(json!({"band": "elderly"})).is_ok());
    assert!(base(json!({})).is_err());
    assert!(base(json!({"years": 18446744073709551616_u128 as f64})).is_err());
}

#[test]
fn number_coordinates_are_refused_with_a_hint() {
    let mut v = full_casualty();
    v["place_of_death"]["coordinates"]["lat"] = json!(33.5611);
    let (kind, field, e) = err_field(casualty(v));
    assert_eq!(kind, RecordErrorKind::InvalidValue);
    assert_eq!(field.as_deref(), Some("place_of_death.coordinates.lat"));
    assert!(e.hint.unwrap().contains("quote it"));
}

#[test]
fn out_of_range_coordinates_are_refused() {
    let mut v = full_casualty();
    v["place_of_death"]["coordinates"]["lon"] = json!("200.5");
    let (kind, field, e) = err_field(casualty(v));
    assert_eq!(kind, RecordErrorKind::InvalidValue);
    assert_eq!(field.as_deref(), Some("place_of_death.coordinates.lon"));
    assert!(
        e.message.contains("\"200.5\" is out of range"),
        "{}",
        e.message
    );
}

#[test]
fn bad_vocabulary_term_lists_the_valid_ones() {
    let mut v = full_casualty();
    v["cause"] = json!("bombing");
    let (kind, field, e) = err_field(casualty(v));
    assert_eq!(kind, RecordErrorKind::InvalidValue);
    assert_eq!(field.as_deref(), Some("cause"));
    for t in Cause::TERMS {
        assert!(e.message.contains(t), "{} lacks {t}", e.message);
    }
    assert!(e.message.contains("\"bombing\""));
    assert!(e.hint.unwrap().contains("cause_detail"));

    let mut v = full_missing();
    v["sources"][0]["reliability"] = json!("very high");
    let (_, field, e) = err_field(missing(v));
    assert_eq!(field.as_deref(), Some("sources[0].reliability"));
    assert!(
        e.message.contains("high, medium, low, unknown"),
        "{}",
        e.message
    );

    let mut v = full_missing();
    v["status"] = json!("dead");
    let (_, field, _) = err_field(missing(v));
    assert_eq!(field.as_deref(), Some("status"));
}

#[test]
fn oversized_input_is_refused() {
    let mut v = full_casualty();
    v["name"]["ar"] = json!("ب".repeat(MAX_STRING_CHARS + 1));
    let (kind, field, _) = err_field(casualty(v));
    assert_eq!(kind, RecordErrorKind::TooLarge);
    assert_eq!(field.as_deref(), Some("name.ar"));

    let mut v = full_casualty();
    v["notes"] = json!("x".repeat(MAX_STRING_CHARS + 1));
    assert!(casualty(v).is_ok(), "notes have the larger limit");
    let mut v = full_casualty();
    v["notes"] = json!("x".repeat(MAX_NOTES_CHARS + 1));
    assert_eq!(casualty(v).unwrap_err().kind, RecordErrorKind::TooLarge);

    let mut v = full_casualty();
    v["name"]["aliases"] = json!(vec!["a"; MAX_ARRAY_ITEMS + 1]);
    let (kind, field, _) = err_field(casualty(v));
    assert_eq!(kind, RecordErrorKind::TooLarge);
    assert_eq!(field.as_deref(), Some("name.aliases"));

    let big = vec![b' '; MAX_INPUT_BYTES + 1];
    let e = parse_record(RecordKind::Casualty, &big, TODAY).unwrap_err();
    assert_eq!(e.kind, RecordErrorKind::TooLarge);
    assert_eq!(e.field, None);
}

#[test]
fn strings_are_nfc_normalised_and_trimmed() {
    // Latin: e + combining acute; Arabic: alef + hamza above (U+0627 U+0654) composes to U+0623.
    let v = json!({"name": {"latin": "  Rene\u{301} ", "ar": "\u{627}\u{654}حمد"}, "notes": "cafe\u{301}"});
    let r = casualty(v).unwrap();
    let body = r.to_body();
    assert_eq!(body["name"]["latin"], json!("René"));
    assert_eq!(body["name"]["ar"], json!("\u{623}حمد"));
    assert_eq!(body["notes"], json!("café"));
}

#[test]
fn empty_strings_and_nulls_are_refused_with_a_hint() {
    let (kind, field, e) = err_field(casualty(json!({"name": {"ar": "x", "latin": "  "}})));
    assert_eq!(kind, RecordErrorKind::InvalidValue);
    assert_eq!(field.as_deref(), Some("name.latin"));
    assert!(e.hint.unwrap().contains("leave the field out"));
    let (_, field, _) = err_field(casualty(json!({"name": {"ar": "x"}, "notes": null})));
    assert_eq!(field.as_deref(), Some("notes"));
}

#[test]
fn malformed_json_reports_line_and_column() {
    let input = b"{\n  \"name\": {\"ar\": \"x\"},\n  \"sex\": male\n}";
    let e = parse_record(RecordKind::Casualty, input, TODAY).unwrap_err();
    assert_eq!(e.kind, RecordErrorKind::Syntax);
    assert_eq!(e.line, Some(3));
    assert!(e.to_string().starts_with("line 3, column "), "{e}");
    let e = parse_record(RecordKind::Casualty, b"[1, 2]", TODAY).unwrap_err();
    assert_eq!(e.kind, RecordErrorKind::InvalidValue);
    assert!(e.message.contains("a casualty record"), "{}", e.message);
}

#[test]
fn arabic_names_round_trip() {
    let r = casualty(full_casualty()).unwrap();
    let body = r.to_body();
    assert_eq!(body["name"]["ar"], json!("محمد أحمد الخطيب"));
    assert_eq!(body["name"]["aliases"], json!(["أبو أحمد"]));
    let back = Record::from_body(RecordKind::Casualty, &body).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.to_body(), body);
    let text = serde_json::to_string(&body).unwrap();
    let reread: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(Record::from_body(RecordKind::Casualty, &reread).unwrap(), r);
}

fn assert_plain(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("null at {path}"),
        Value::Number(n) => assert!(n.is_u64() || n.is_i64(), "float {n} at {path}"),
        Value::String(s) => {
            use unicode_normalization::UnicodeNormalization;
            assert_eq!(s.nfc().collect::<String>(), *s, "not NFC at {path}");
        }
        Value::Bool(_) => {}
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                assert_plain(x, &format!("{path}[{i}]"));
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                assert_plain(x, &format!("{path}.{k}"));
            }
        }
    }
}

#[test]
fn bodies_have_no_floats_and_no_nulls() {
    for r in [
        casualty(full_casualty()).unwrap(),
        missing(full_missing()).unwrap(),
    ] {
        assert_plain(&r.to_body(), "");
    }
    let e = Record::from_body(
        RecordKind::Casualty,
        &json!({"name": {"ar": "x"}, "age": {"years": 3.0}}),
    );
    assert!(e.is_err());
}

#[test]
fn defaults_are_made_explicit() {
    let c = casualty(json!({"name": {"ar": "x"}})).unwrap().to_body();
    assert_eq!(c["sensitivity"], json!("partner"));
    assert_eq!(c["sex"], json!("unknown"));
    assert_eq!(c["cause"], json!("unknown"));
    assert_eq!(c["civilian_status"], json!("unknown"));
    assert_eq!(c["confidence"], json!("unconfirmed"));
    let m = missing(json!({"name": {"ar": "x"}})).unwrap();
    assert_eq!(m.sensitivity(), Sensitivity::Partner);
    let m = m.to_body();
    assert_eq!(m["status"], json!("missing"));
    assert_eq!(m["sensitivity"], json!("partner"));
    assert_eq!(m["circumstances"], json!("unknown"));
    assert_eq!(
        m,
        json!({"name": {"ar": "x"}, "sex": "unknown", "sensitivity": "partner",
               "circumstances": "unknown", "status": "missing"})
    );
    let s = casualty(json!({"name": {"ar": "x"}, "sources": [{"type": "media"}]})).unwrap();
    assert_eq!(s.to_body()["sources"][0]["reliability"], json!("unknown"));
}

#[test]
fn the_normalisation_example_of_the_schema_holds() {
    // docs/SCHEMA.md §7.
    let input = r#"{"name": {"ar": " سامر "}, "last_seen": {"date": {"date": "٢٠١٢-٠٣", "approximate": false}},
 "sources": [{"type": "family"}]}"#;
    let r = parse_record(RecordKind::Missing, input.as_bytes(), TODAY).unwrap();
    assert_eq!(
        r.to_body(),
        json!({
          "circumstances": "unknown",
          "last_seen": {"date": "2012-03"},
          "name": {"ar": "سامر"},
          "sensitivity": "partner",
          "sex": "unknown",
          "sources": [{"reliability": "unknown", "type": "family"}],
          "status": "missing"
        })
    );
}

#[test]
fn empty_arrays_are_left_out_of_the_body() {
    let r = casualty(json!({"name": {"ar": "x", "aliases": []}, "sources": []})).unwrap();
    assert_eq!(r, casualty(json!({"name": {"ar": "x"}})).unwrap());
    let body = r.to_body();
    assert!(body.get("sources").is_none());
    assert!(body["name"].get("aliases").is_none());
}

#[test]
fn contact_rules_and_redaction() {
    let base = |c: Value| missing(json!({"name": {"ar": "x"}, "contact": c}));
    assert!(base(json!({"phone": "٠٩٣٣ ١٢٣ ٤٥٦"})).is_ok());
    let e = base(json!({"phone": "call the uncle"})).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("contact.phone"));
    let e = base(json!({"email": "nobody"})).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("contact.email"));
    assert_eq!(
        base(json!({})).unwrap_err().kind,
        RecordErrorKind::MissingField
    );
    let r = missing(full_missing()).unwrap();
    assert!(r.to_body().get("contact").is_some());
    assert!(r.redacted().to_body().get("contact").is_none());
    assert_eq!(SENSITIVE_FIELDS, &["contact"]);
    // A casualty record has no contact field.
    let e = casualty(json!({"name": {"ar": "x"}, "contact": {"name": "y"}})).unwrap_err();
    assert_eq!(e.kind, RecordErrorKind::UnknownField);
}

#[test]
fn last_seen_needs_something() {
    let e = missing(json!({"name": {"ar": "x"}, "last_seen": {}})).unwrap_err();
    assert_eq!(e.kind, RecordErrorKind::MissingField);
    assert_eq!(e.field.as_deref(), Some("last_seen"));
}

#[test]
fn headlines() {
    let h = casualty(full_casualty()).unwrap().headline();
    assert_eq!(h.name, "محمد أحمد الخطيب (Mohammad Ahmad al-Khatib)");
    assert_eq!(h.date.as_deref(), Some("2018-02-25"));
    assert_eq!(h.place.as_deref(), Some("حرستا, دوما, ريف دمشق"));
    let h = missing(full_missing()).unwrap().headline();
    assert_eq!(h.name, "Rania Haddad");
    assert_eq!(h.date.as_deref(), Some("2013-04/2013-05-10"));
    assert_eq!(h.place.as_deref(), Some("Damascus"));
    let h = missing(json!({"name": {"ar": "x"}})).unwrap().headline();
    assert_eq!((h.date, h.place), (None, None));
}

fn evidence_item(digest: &str) -> Value {
    json!({"blake3": digest, "size": 1234, "media_type": "image/jpeg", "name": "photo.jpg"})
}

const DIGEST: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

#[test]
fn evidence_items_are_read_and_normalised() {
    for kind in [full_casualty(), full_missing()] {
        let mut v = kind;
        v["evidence"] = json!([
            {"blake3": DIGEST, "size": 1234, "media_type": " Image/JPEG ", "name": "e\u{301}te\u{301}.jpg"}
        ]);
        let r = if v.get("cause").is_some() {
            casualty(v)
        } else {
            missing(v)
        }
        .unwrap();
        let e = &r.person().evidence;
        assert_eq!(e.len(), 1);
        assert_eq!(hex::encode(e[0].blake3), DIGEST);
        assert_eq!(e[0].media_type, "image/jpeg");
        assert_eq!(e[0].name.as_deref(), Some("été.jpg"));
        let body = r.to_body();
        assert_eq!(
            body["evidence"],
            json!([{"blake3": DIGEST, "size": 1234, "media_type": "image/jpeg", "name": "été.jpg"}])
        );
        assert_eq!(Record::from_body(r.kind(), &body).unwrap(), r);
    }
    // Empty is absent.
    let mut v = full_casualty();
    v["evidence"] = json!([]);
    assert!(casualty(v).unwrap().to_body().get("evidence").is_none());
}

#[test]
fn evidence_items_are_refused_with_the_field_named() {
    let refuse = |item: Value, field: &str, kind: RecordErrorKind| {
        let mut v = full_casualty();
        v["evidence"] = json!([evidence_item(DIGEST), item]);
        let (k, f, e) = err_field(casualty(v));
        assert_eq!((k, f.as_deref()), (kind, Some(field)), "{e}");
    };
    use RecordErrorKind::*;
    refuse(
        evidence_item(&DIGEST.to_uppercase()),
        "evidence[1].blake3",
        InvalidValue,
    );
    refuse(
        evidence_item(&DIGEST[..63]),
        "evidence[1].blake3",
        InvalidValue,
    );
    refuse(evidence_item(DIGEST), "evidence[1]", InvalidValue);
    refuse(
        json!({"blake3": DIGEST.replace('a', "b"), "size": 1.5, "media_type": "image/jpeg"}),
        "evidence[1].size",
        InvalidValue,
    );
    refuse(
        json!({"blake3": DIGEST.replace('a', "b"), "size": -1, "media_type": "image/jpeg"}),
        "evidence[1].size",
        InvalidValue,
    );
    refuse(
        json!({"blake3": DIGEST.replace('a', "b"), "size": MAX_EVIDENCE_SIZE + 1, "media_type": "image/jpeg"}),
        "evidence[1].size",
        InvalidValue,
    );
    refuse(
        json!({"blake3": DIGEST.replace('a', "b"), "media_type": "image/jpeg"}),
        "evidence[1].size",
        MissingField,
    );
    refuse(
        json!({"blake3": DIGEST.replace('a', "b"), "size": 1, "media_type": "jpeg"}),
        "evidence[1].media_type",
        InvalidValue,
    );
    refuse(
        json!({"blake3": DIGEST.replace('a', "b"), "size": 1, "media_type": "image/jpeg; q=1"}),
        "evidence[1].media_type",
        InvalidValue,
    );
    refuse(
        json!({"blake3": DIGEST.replace('a', "b"), "size": 1, "media_type": "image/jpeg", "path": "/x"}),
        "evidence[1].path",
        UnknownField,
    );
    refuse(
        json!({"blake3": DIGEST.replace('a', "b"), "size": 1, "media_type": "image/jpeg", "name": "a\nb"}),
        "evidence[1].name",
        InvalidValue,
    );
    let mut v = full_casualty();
    v["evidence"] = Value::Array(
        (0..=MAX_ARRAY_ITEMS)
            .map(|i| evidence_item(&format!("{i:064x}")))
            .collect(),
    );
    let (k, f, _) = err_field(casualty(v));
    assert_eq!((k, f.as_deref()), (TooLarge, Some("evidence")));
}

#[test]
fn record_kind_text() {
    assert_eq!("missing".parse::<RecordKind>(), Ok(RecordKind::Missing));
    assert_eq!(RecordKind::Casualty.to_string(), "casualty");
    let e = "dead".parse::<RecordKind>().unwrap_err();
    assert!(e.to_string().contains("casualty, missing"), "{e}");
}

#[test]
fn from_body_checks_kind_and_shape() {
    let c = casualty(full_casualty()).unwrap().to_body();
    let e = Record::from_body(RecordKind::Missing, &c).unwrap_err();
    assert_eq!(e.kind, RecordErrorKind::UnknownField);
    assert!(Record::from_body(RecordKind::Casualty, &json!(null)).is_err());
}

// ---- generated records ----

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z\u{0621}-\u{064A}\u{064B}-\u{0652}\u{0301} '-]{1,12}"
        .prop_filter_map("blank", |s| json::clean_text(&s, "", Text::Line).ok())
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn vocab_of<T: Vocab + std::fmt::Debug>() -> impl Strategy<Value = T> {
    proptest::sample::select(T::TERMS).prop_map(|t| T::from_term(t).expect("listed term"))
}

fn date_value() -> impl Strategy<Value = DateValue> {
    let pd = (1900i32..=2025, 0u8..=12, 1u8..=28).prop_map(|(y, m, d)| {
        let month = (m > 0).then_some(m);
        let day = month.filter(|_| d % 2 == 0).map(|_| d);
        PartialDate::from_parts(y, month, day).expect("valid")
    });
    (pd.clone(), pd, any::<bool>(), any::<bool>()).prop_map(|(a, b, approximate, range)| {
        if range {
            let (from, to) = if a.earliest() <= b.latest() {
                (a, b)
            } else {
                (b, a)
            };
            DateValue::between(from, to, approximate).expect("ordered")
        } else {
            DateValue::On {
                date: a,
                approximate,
            }
        }
    })
}

fn place() -> impl Strategy<Value = Place> {
    let coords =
        (-90i32..=90, 0u32..10000, -180i32..=180, 0u32..100).prop_map(|(la, lf, lo, of)| {
            let lat = if la.abs() == 90 {
                format!("{la}")
            } else {
                format!("{la}.{lf}")
            };
            let lon = if lo.abs() == 180 {
                format!("{lo}")
            } else {
                format!("{lo}.{of:02}")
            };
            Coordinates::new(&lat, &lon).expect("in range")
        });
    (
        opt_text(),
        opt_text(),
        opt_text(),
        text(),
        opt_text(),
        proptest::option::of(coords),
    )
        .prop_map(
            |(governorate, district, subdistrict, locality, detail, coordinates)| Place {
                governorate,
                district,
                subdistrict,
                locality: Some(locality),
                detail,
                coordinates,
            },
        )
}

fn person() -> impl Strategy<Value = Person> {
    let name = (
        text(),
        opt_text(),
        opt_text(),
        opt_text(),
        proptest::collection::vec(text(), 0..3),
    )
        .prop_map(|(ar, latin, father, laqab, aliases)| Name {
            ar: Some(ar),
            latin,
            father,
            laqab,
            aliases,
            ..Name::default()
        });
    let age = prop_oneof![
        (0u8..=130).prop_map(Age::Years),
        (0u8..=60, 0u8..=70).prop_map(|(a, b)| Age::Range { min: a, max: a + b }),
        vocab_of::<AgeBand>().prop_map(Age::Band),
    ];
    let source = (
        vocab_of::<SourceType>(),
        opt_text(),
        vocab_of::<Reliability>(),
        proptest::option::of(date_value()),
    )
        .prop_map(|(source_type, reference, reliability, date)| Source {
            source_type,
            reference,
            reliability,
            date,
        });
    (
        name,
        vocab_of::<Sex>(),
        proptest::option::of(age),
        proptest::collection::vec(source, 0..3),
        opt_text(),
        vocab_of::<Sensitivity>(),
        proptest::collection::btree_map(any::<[u8; 32]>(), evidence_rest(), 0..3),
    )
        .prop_map(
            |(name, sex, age, sources, notes, sensitivity, evidence)| Person {
                name,
                sex,
                age,
                sources,
                notes,
                sensitivity,
                evidence: evidence
                    .into_iter()
                    .map(|(blake3, (size, media_type, name))| EvidenceItem {
                        blake3,
                        size,
                        media_type,
                        name,
                    })
                    .collect(),
            },
        )
}

fn evidence_rest() -> impl Strategy<Value = (u64, String, Option<String>)> {
    (
        0..=MAX_EVIDENCE_SIZE,
        proptest::sample::select(vec!["image/jpeg", "application/pdf", "audio/mp4"])
            .prop_map(str::to_owned),
        opt_text(),
    )
}

fn record() -> impl Strategy<Value = Record> {
    let casualty = (
        person(),
        proptest::option::of(date_value()),
        proptest::option::of(place()),
        vocab_of::<Cause>(),
        opt_text(),
        vocab_of::<CivilianStatus>(),
        opt_text(),
        vocab_of::<Confidence>(),
    )
        .prop_map(
            |(
                person,
                date_of_death,
                place_of_death,
                cause,
                cause_detail,
                civilian_status,
                alleged_perpetrator,
                confidence,
            )| {
                Record::Casualty(Casualty {
                    person,
                    date_of_death,
                    place_of_death,
                    cause,
                    cause_detail,
                    civilian_status,
                    alleged_perpetrator,
                    confidence,
                })
            },
        );
    let contact =
        (opt_text(), opt_text(), text()).prop_map(|(name, relationship, notes)| Contact {
            name,
            relationship,
            phone: Some(String::from("+963 11 123")),
            notes: Some(notes),
            ..Contact::default()
        });
    let missing = (
        person(),
        proptest::option::of((proptest::option::of(date_value()), place())),
        vocab_of::<Circumstances>(),
        opt_text(),
        opt_text(),
        vocab_of::<MissingStatus>(),
        proptest::option::of(contact),
    )
        .prop_map(
            |(
                person,
                last_seen,
                circumstances,
                circumstances_detail,
                alleged_holder,
                status,
                contact,
            )| {
                Record::Missing(Missing {
                    person,
                    last_seen: last_seen.map(|(date, place)| LastSeen {
                        date,
                        place: Some(place),
                    }),
                    circumstances,
                    circumstances_detail,
                    alleged_holder,
                    status,
                    contact,
                })
            },
        );
    prop_oneof![casualty, missing]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn body_round_trip(r in record()) {
        let body = r.to_body();
        assert_plain(&body, "");
        let back = Record::from_body(r.kind(), &body);
        prop_assert_eq!(back.as_ref(), Ok(&r));
        prop_assert_eq!(back.unwrap().to_body(), body.clone());
        // The body is also valid input, and reads to the same record.
        let text = serde_json::to_vec(&body).unwrap();
        prop_assert_eq!(parse_record(r.kind(), &text, date!(2025 - 12 - 31)), Ok(r));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_record(RecordKind::Casualty, &bytes, TODAY);
        let _ = parse_record(RecordKind::Missing, &bytes, TODAY);
    }

    #[test]
    fn mutated_bodies_never_panic(r in record(), key in "[a-z_]{1,12}", n in any::<i64>()) {
        let mut body = r.to_body();
        if let Some(m) = body.as_object_mut() {
            m.insert(key.clone(), json!(n));
        }
        let _ = Record::from_body(r.kind(), &body);
        if let Some(name) = body.get_mut("name").and_then(Value::as_object_mut) {
            name.insert(key, json!(n));
        }
        let _ = Record::from_body(r.kind(), &body);
    }
}
