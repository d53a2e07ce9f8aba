//! Known-answer vectors for the key entries (docs/FORMAT.md §4.2, §9.6;
//! fixtures/vectors/key-entries/).
//!
//! A log of the vector key (seed 01 02 .. 20) holding a `key-certify`, a
//! `key-revoke` and a `key-rotate`, rebuilt here and compared byte for byte,
//! and failing entries that must be refused for their stated reason.
//! `SIJILL_WRITE_VECTORS=1 cargo test --test key_entry_vectors` rewrites the
//! files.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use sijill::canonical::to_canonical_bytes;
use sijill::entry::{decode_entry, signature_message, Body, Entry, EntryError, SignedEntry};
use sijill::group_keys::KeyBody;
use sijill::keys::{SigningKey, VerifyingKey};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors/key-entries/");

fn seeded(first: u8) -> SigningKey {
    SigningKey::from_bytes(&std::array::from_fn(|i| i as u8 + first))
}
fn key() -> SigningKey {
    seeded(1)
}
/// The device key: seed 21 22 .. 40.
fn device() -> VerifyingKey {
    seeded(0x21).verifying_key()
}
/// The successor key: seed 41 42 .. 60.
fn successor() -> VerifyingKey {
    seeded(0x41).verifying_key()
}

fn valid() -> Vec<(&'static str, SignedEntry)> {
    let at = time::macros::datetime!(2026-11-01 12:00:00 UTC);
    let bodies = [
        (
            "key-certify",
            KeyBody::Certify {
                key: device(),
                name: "laptop-aleppo-2".into(),
                reason: Some("field laptop".into()),
            },
        ),
        (
            "key-revoke",
            KeyBody::Revoke {
                key: device(),
                keep_up_to: 5,
                reason: "compromised".into(),
            },
        ),
        (
            "key-rotate",
            KeyBody::Rotate {
                new_key: successor(),
                reason: "yearly rotation".into(),
            },
        ),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(seq, (name, body))| {
            let e = Entry::new(key().verifying_key(), seq as u64, at, Body::Key(body));
            (name, e.sign(&key()).unwrap())
        })
        .collect()
}

/// Failing vectors: a valid entry with its body changed, signed again.
fn failing() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let valid = valid();
    let edit = |i: usize, f: &dyn Fn(&mut Map<String, Value>)| -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(&valid[i].1.bytes).unwrap();
        f(v["body"].as_object_mut().unwrap());
        to_canonical_bytes(&v).unwrap()
    };
    vec![
        (
            "key-certify-unknown-member",
            edit(0, &|b| {
                b.insert("note".into(), json!("x"));
            }),
            "Body",
        ),
        (
            "key-certify-name-with-slash",
            edit(0, &|b| {
                b.insert("name".into(), json!("laptop/aleppo"));
            }),
            "Body",
        ),
        (
            "key-certify-reason-not-normalised",
            edit(0, &|b| {
                b.insert("reason".into(), json!("field laptop "));
            }),
            "Field(body)",
        ),
        (
            "key-revoke-without-keep-up-to",
            edit(1, &|b| {
                b.remove("keep_up_to");
            }),
            "Body",
        ),
        (
            "key-revoke-keep-up-to-string",
            edit(1, &|b| {
                b.insert("keep_up_to".into(), json!("5"));
            }),
            "Body",
        ),
        (
            "key-revoke-without-reason",
            edit(1, &|b| {
                b.remove("reason");
            }),
            "Body",
        ),
        (
            "key-rotate-weak-key",
            edit(2, &|b| {
                let mut weak = String::from("01");
                weak.push_str(&"00".repeat(31));
                b.insert("new_key".into(), json!(weak));
            }),
            "Body",
        ),
    ]
}

fn check_file(name: &str, content: &[u8], files: &mut BTreeSet<String>) {
    let path = format!("{DIR}{name}");
    if std::env::var("SIJILL_WRITE_VECTORS").as_deref() == Ok("1") {
        std::fs::write(&path, content).unwrap();
    }
    let held = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(
        held == content,
        "{name} differs from what the code produces (SIJILL_WRITE_VECTORS=1 rewrites it)"
    );
    files.insert(name.to_string());
}

#[test]
fn key_entry_vectors_match_and_decode() {
    let mut files = BTreeSet::new();
    for (name, signed) in valid() {
        check_file(&format!("{name}.entry.json"), &signed.bytes, &mut files);
        check_file(
            &format!("{name}.sig.hex"),
            format!("{}\n", hex::encode(signed.signature.to_bytes())).as_bytes(),
            &mut files,
        );
        check_file(
            &format!("{name}.id.hex"),
            format!("{}\n", signed.id.to_hex()).as_bytes(),
            &mut files,
        );
        let back = SignedEntry::decode(&signed.bytes, &signed.signature.to_bytes()).unwrap();
        assert_eq!(back, signed);
    }
    for (name, bytes, expect) in failing() {
        use ed25519_dalek::Signer;
        let signature = key().sign(&signature_message(&bytes));
        check_file(&format!("{name}.entry.json"), &bytes, &mut files);
        check_file(
            &format!("{name}.sig.hex"),
            format!("{}\n", hex::encode(signature.to_bytes())).as_bytes(),
            &mut files,
        );
        let err = decode_entry(&bytes).unwrap_err();
        let got = match &err {
            EntryError::Body(_) => "Body".to_string(),
            EntryError::Field { field, .. } => format!("Field({field})"),
            other => format!("{other:?}"),
        };
        assert_eq!(got, expect, "{name}: {err}");
    }
    // The README lists exactly the files.
    let readme = std::fs::read_to_string(format!("{DIR}README.md")).unwrap();
    let present: BTreeSet<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "README.md")
        .collect();
    assert_eq!(files, present, "files in the folder");
    for f in &present {
        assert!(
            readme.contains(&format!("`{f}`")),
            "README.md does not list {f}"
        );
    }
}
