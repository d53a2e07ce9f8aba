//! Known-answer vectors for the entries about records (docs/FORMAT.md §4.2,
//! §10.6; fixtures/vectors/lifecycle/).
//!
//! They continue the log of fixtures/vectors/entries/ (the casualty record at
//! seq 0, the missing record at seq 1) with one entry of each lifecycle kind,
//! rebuilt here and compared byte for byte; the failing ones must be refused
//! for their stated reason. `SIJILL_WRITE_VECTORS=1 cargo test --test
//! lifecycle_vectors` rewrites the files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{json, Value};
use sijill::canonical::{parse_canonical, to_canonical_bytes};
use sijill::entry::{Entry, EntryError, EntryId, SignedEntry};
use sijill::keys::{SigningKey, VerifyingKey};
use sijill::lifecycle::{self, Certainty, Lifecycle};
use sijill::record::{parse_record, RecordKind};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors/lifecycle/");
const CASUALTY_JSON: &[u8] = include_bytes!("../fixtures/records/casualty.json");
const MISSING_JSON: &[u8] = include_bytes!("../fixtures/records/missing.json");

fn key() -> SigningKey {
    SigningKey::from_bytes(&std::array::from_fn(|i| i as u8 + 1))
}
fn public_key() -> VerifyingKey {
    key().verifying_key()
}
fn recorded_at() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-01 12:00:00 UTC)
}
fn today() -> time::Date {
    time::macros::date!(2026 - 11 - 02)
}

fn records() -> (SignedEntry, SignedEntry) {
    let c = parse_record(RecordKind::Casualty, CASUALTY_JSON, today()).unwrap();
    let m = parse_record(RecordKind::Missing, MISSING_JSON, today()).unwrap();
    (
        Entry::record(public_key(), 0, recorded_at(), c)
            .sign(&key())
            .unwrap(),
        Entry::record(public_key(), 1, recorded_at(), m)
            .sign(&key())
            .unwrap(),
    )
}

fn body(kind: &str, value: Value) -> Lifecycle {
    let kind = sijill::entry::EntryKind::parse(kind).unwrap();
    Lifecycle::from_body(kind, &value, Some(today())).unwrap()
}

/// The valid entries, seq 2 to 7, in order.
fn valid() -> Vec<(&'static str, SignedEntry)> {
    let (casualty, missing) = records();
    let (c, m) = (casualty.id.to_hex(), missing.id.to_hex());
    let mut bodies = vec![
        (
            "amendment",
            body(
                "amendment",
                json!({"target": c, "set": {"date_of_death": "2018-01-24", "place_of_death.locality": "Douma"}, "reason": "family interview"}),
            ),
        ),
        (
            "status-change",
            body(
                "status-change",
                json!({"target": m, "status": "found-dead", "date": "2019-03", "reason": "remains identified by the family"}),
            ),
        ),
        (
            "corroboration",
            body(
                "corroboration",
                json!({"target": c, "source": {"type": "medical", "reference": "hospital register", "reliability": "high"}, "reason": "death registered at the hospital"}),
            ),
        ),
        (
            "same-person-link",
            body(
                "same-person-link",
                json!({"records": [c, m], "certainty": "likely", "reason": "same name, place and dates"}),
            ),
        ),
    ];
    let mut out = Vec::new();
    let mut seq = 2;
    let mut sign = |b: Lifecycle| {
        let s = Entry::lifecycle(public_key(), seq, recorded_at(), b)
            .sign(&key())
            .unwrap();
        seq += 1;
        s
    };
    for (name, b) in bodies.drain(..) {
        out.push((name, sign(b)));
    }
    let link = out[3].1.id.to_hex();
    out.push((
        "same-person-unlink",
        sign(body(
            "same-person-unlink",
            json!({"link": link, "reason": "the family says they are cousins"}),
        )),
    ));
    out.push((
        "retraction",
        sign(body(
            "retraction",
            json!({"target": m, "reason": "entered twice"}),
        )),
    ));
    out
}

/// A valid entry with its body edited, signed correctly: name -> bytes, and
/// the reason it must be refused.
fn failing() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let entries = valid();
    let edit = |i: usize, f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut v = parse_canonical(&entries[i].1.bytes).unwrap();
        f(v["body"].as_object_mut().unwrap());
        to_canonical_bytes(&v).unwrap()
    };
    vec![
        (
            "link-records-unsorted",
            edit(3, &|b| {
                let r = b["records"].as_array().unwrap().clone();
                b.insert("records".into(), json!([r[1], r[0]]));
            }),
            "Field(body)",
        ),
        (
            "link-to-itself",
            edit(3, &|b| {
                let r = b["records"].as_array().unwrap().clone();
                b.insert("records".into(), json!([r[0], r[0]]));
            }),
            "Body",
        ),
        (
            "retraction-unknown-member",
            edit(5, &|b| {
                b.insert("note".into(), json!("x"));
            }),
            "Body",
        ),
        (
            "retraction-without-reason",
            edit(5, &|b| {
                b.remove("reason");
            }),
            "Body",
        ),
        (
            "amendment-sets-status",
            edit(0, &|b| {
                b.insert("set".into(), json!({"status": "released"}));
            }),
            "Body",
        ),
        (
            "status-change-unknown-status",
            edit(1, &|b| {
                b.insert("status".into(), json!("dead"));
            }),
            "Body",
        ),
        (
            "target-uppercase-hex",
            edit(5, &|b| {
                let t = b["target"].as_str().unwrap().to_uppercase();
                b.insert("target".into(), json!(t));
            }),
            "Body",
        ),
    ]
}

fn files() -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (name, e) in valid() {
        out.insert(format!("{name}.entry.json"), e.bytes.clone());
        out.insert(format!("{name}.id.hex"), format!("{}\n", e.id).into_bytes());
        out.insert(
            format!("{name}.sig.hex"),
            format!("{}\n", hex::encode(e.signature.to_bytes())).into_bytes(),
        );
    }
    for (name, bytes, _) in failing() {
        let sig = sijill::entry::signature_message(&bytes);
        use ed25519_dalek::Signer;
        let sig = key().sign(&sig);
        out.insert(
            format!("{name}.sig.hex"),
            format!("{}\n", hex::encode(sig.to_bytes())).into_bytes(),
        );
        out.insert(format!("{name}.entry.json"), bytes);
    }
    out
}

fn dir() -> PathBuf {
    PathBuf::from(DIR)
}

#[test]
fn lifecycle_vectors_match_the_code_byte_for_byte() {
    let files = files();
    if std::env::var("SIJILL_WRITE_VECTORS").as_deref() == Ok("1") {
        std::fs::create_dir_all(dir()).unwrap();
        for (name, bytes) in &files {
            std::fs::write(dir().join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in &files {
        let stored = std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&stored, bytes, "{name} differs from what the code produces");
    }
    let present: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "README.md")
        .collect();
    let built: BTreeSet<String> = files.keys().cloned().collect();
    assert_eq!(
        present, built,
        "files in the folder that the code does not build"
    );
    let readme = std::fs::read_to_string(dir().join("README.md")).unwrap();
    for name in files.keys() {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README.md does not list {name}"
        );
    }
}

#[test]
fn valid_lifecycle_entries_decode_to_their_bodies() {
    for (name, e) in valid() {
        let decoded = SignedEntry::decode(&e.bytes, &e.signature.to_bytes())
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(decoded.entry.kind.as_str(), name);
        assert_eq!(decoded, e);
        let body = decoded.entry.lifecycle_body().unwrap();
        assert!(!body.reason().is_empty());
    }
    let entries = valid();
    match entries[3].1.entry.lifecycle_body() {
        Some(Lifecycle::SamePersonLink(l)) => {
            assert_eq!(l.certainty, Certainty::Likely);
            assert!(l.records[0] < l.records[1]);
        }
        other => panic!("not a link: {other:?}"),
    }
}

#[test]
fn failing_lifecycle_entries_are_refused_for_their_reason() {
    for (name, bytes, reason) in failing() {
        let err = sijill::entry::decode_entry(&bytes).expect_err(name);
        let got = match &err {
            EntryError::Body(_) => "Body",
            EntryError::Field { field: "body", .. } => "Field(body)",
            _ => "other",
        };
        assert_eq!(got, reason, "{name}: {err}");
    }
}

/// The fold over the vector log: amendment applied, link made and withdrawn,
/// the missing record found dead, then retracted.
#[test]
fn the_vector_log_folds_as_documented() {
    let (casualty, missing) = records();
    let entries: Vec<SignedEntry> = valid().into_iter().map(|(_, e)| e).collect();
    let c = lifecycle::fold(casualty.clone(), entries.clone()).unwrap();
    assert_eq!(
        c.current.to_body()["date_of_death"],
        json!("2018-01-24"),
        "amendment applied"
    );
    assert_eq!(c.corroborations.len(), 1);
    assert_eq!(c.links.len(), 1);
    assert!(c.links[0].withdrawn.is_some());
    assert!(c.retracted.is_none());
    let m = lifecycle::fold(missing, entries).unwrap();
    assert_eq!(m.current.to_body()["status"], json!("found-dead"));
    assert_eq!(m.case_open(), Some(false));
    assert_eq!(m.retracted.as_ref().unwrap().1, "entered twice");
    assert_eq!(
        m.history
            .iter()
            .map(|s| s.entry.entry.seq)
            .collect::<Vec<_>>(),
        vec![1, 3, 5, 6, 7]
    );
    let _ = EntryId::of(&casualty.bytes);
}
