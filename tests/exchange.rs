//! Exchange between groups: bundles that verify offline, imports that keep
//! provenance, and histories that cannot be rewritten unseen.

#![allow(clippy::result_large_err)] // bundle errors carry their full location

mod common;

use std::path::PathBuf;

use common::*;
use sijill::bundle::{self, BundleProblem};

/// Two groups: A records, B trusts A's key.
struct Pair {
    a: TestStore,
    b: TestStore,
    a_pub: PathBuf,
}

fn pair() -> Pair {
    let a = TestStore::new();
    let b = TestStore::new();
    let a_pub = a._temp.path().join("a.pub");
    let out = a.run(&["key", "export", "--out", a_pub.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = b.run(&["trust", "add", a_pub.to_str().unwrap(), "--name", "Group A"]);
    assert!(out.status.success(), "{}", stderr(&out));
    Pair { a, b, a_pub }
}

fn export(store: &TestStore, name: &str, extra: &[&str]) -> PathBuf {
    let path = store._temp.path().join(name);
    let mut args = vec!["export", "--out", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = store.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    path
}

fn verify_bytes(bytes: &[u8]) -> Result<bundle::BundleReport, bundle::BundleError> {
    bundle::verify(bytes, &[], &mut |_| {}, &mut |_| Ok(()))
}

fn public_record() -> String {
    // The missing-person fixture without its family contact, so that it
    // travels in a bundle by default.
    let mut v: serde_json::Value = serde_json::from_str(MISSING).unwrap();
    v.as_object_mut().unwrap().remove("contact");
    v.to_string()
}

#[test]
fn two_stores_round_trip_keeps_provenance() {
    let p = pair();
    let casualty = p.a.add("casualty", CASUALTY);
    let missing = p.a.add("missing", &public_record());
    let bundle = export(&p.a, "a.bundle", &[]);

    let out = p.b.run(&["verify", bundle.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let report = stdout(&out);
    assert!(report.contains("trusted as \"Group A\""), "{report}");
    assert!(report.contains("1 casualty, 1 missing"), "{report}");

    let out = p.b.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&p.b.run(&["list"]));
    assert!(
        listed.contains(&casualty[..16]) && listed.contains(&missing[..16]),
        "{listed}"
    );
    let shown = stdout(&p.b.run(&["show", &casualty]));
    assert!(
        shown.contains("imported") && shown.contains("a.bundle"),
        "{shown}"
    );
    assert_eq!(p.b.run(&["audit"]).status.code(), Some(0));

    // A's log is a replica in B: nothing of B's can be appended to it, and
    // importing the same bundle again adds nothing.
    let out = p.b.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing new"), "{}", stderr(&out));
}

#[test]
fn an_untrusted_bundle_is_reported_and_not_imported() {
    let a = TestStore::new();
    let b = TestStore::new();
    a.add("casualty", CASUALTY);
    let bundle = export(&a, "a.bundle", &[]);
    let out = b.run(&["verify", bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("NOT TRUSTED"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("hint: if you know the group"),
        "{}",
        stderr(&out)
    );
    let before = snapshot(&b.dir);
    let out = b.run(&["import", bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(snapshot(&b.dir), before);
}

#[test]
fn verify_needs_no_store() {
    let a = TestStore::new();
    a.add("casualty", CASUALTY);
    let bundle = export(&a, "a.bundle", &[]);
    let a_pub = a._temp.path().join("a.pub");
    assert!(a
        .run(&["key", "export", "--out", a_pub.to_str().unwrap()])
        .status
        .success());
    let nowhere = a._temp.path().join("no-store-here");
    let out = sijill(&nowhere)
        .args([
            "verify",
            bundle.to_str().unwrap(),
            "--trust",
            a_pub.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["logs"][0]["checkpoint"]["size"], 1);
    assert!(!nowhere.exists(), "verify must not create a store");
}

fn small_bundle() -> (TestStore, Vec<u8>) {
    let a = TestStore::new();
    a.add("casualty", CASUALTY);
    a.add("missing", &public_record());
    let path = export(&a, "small.bundle", &[]);
    let bytes = std::fs::read(path).unwrap();
    (a, bytes)
}

#[test]
fn every_flipped_byte_of_a_bundle_is_rejected_with_its_place() {
    let (_a, bytes) = small_bundle();
    assert!(verify_bytes(&bytes).is_ok());
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        let err = verify_bytes(&bad).expect_err(&format!("flip at byte {i} was accepted"));
        assert!(err.offset <= bytes.len() as u64, "{err}");
        assert!(err.section.is_some() || err.offset == 0, "byte {i}: {err}");
    }
}

#[test]
fn a_bundle_cut_at_any_offset_is_rejected() {
    let (_a, bytes) = small_bundle();
    for cut in 0..bytes.len() {
        let err = verify_bytes(&bytes[..cut]).expect_err(&format!("cut at {cut} was accepted"));
        assert!(
            matches!(
                err.problem,
                BundleProblem::Truncated | BundleProblem::Format
            ),
            "cut at {cut}: {err}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        verify_bytes(&longer).unwrap_err().problem,
        BundleProblem::TrailingBytes
    );
}

#[test]
fn reordered_duplicated_or_dropped_sections_are_rejected() {
    let (_a, bytes) = small_bundle();
    let s = common::bundle_sections(&bytes);
    let entries: Vec<_> = s.iter().filter(|x| &x.2 == b"ENTR").collect();
    assert_eq!(entries.len(), 2);
    let (e0, e1) = (entries[0], entries[1]);
    let splice = |parts: &[(usize, usize)]| {
        let mut v = bytes[..e0.0].to_vec();
        for (a, b) in parts {
            v.extend_from_slice(&bytes[*a..*b]);
        }
        v.extend_from_slice(&bytes[e1.1..]);
        v
    };
    let swapped = splice(&[(e1.0, e1.1), (e0.0, e0.1)]);
    let duplicated = splice(&[(e0.0, e0.1), (e0.0, e0.1), (e1.0, e1.1)]);
    let dropped = splice(&[(e0.0, e0.1)]);
    for (what, b) in [
        ("swapped", swapped),
        ("duplicated", duplicated),
        ("dropped", dropped),
    ] {
        let err = verify_bytes(&b).expect_err(what);
        assert!(err.section.is_some(), "{what}: {err}");
    }
}

#[test]
fn hostile_headers_are_refused_quickly() {
    let (_a, bytes) = small_bundle();
    // Another format version.
    let mut v2 = bytes.clone();
    v2[15] = b'2';
    let err = verify_bytes(&v2).unwrap_err();
    assert_eq!(err.problem, BundleProblem::Format);
    assert!(err.message.contains("not supported"), "{err}");
    // A section claiming 4 GiB: refused before anything is allocated.
    let mut huge = bytes[..16].to_vec();
    huge.extend_from_slice(b"HEAD");
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    let err = verify_bytes(&huge).unwrap_err();
    assert_eq!(err.problem, BundleProblem::Structure);
    // Not a bundle at all.
    assert_eq!(
        verify_bytes(b"hello").unwrap_err().problem,
        BundleProblem::Truncated
    );
    assert_eq!(
        verify_bytes(&[0u8; 64]).unwrap_err().problem,
        BundleProblem::Format
    );
}

#[test]
fn entries_from_a_key_the_checkpoint_does_not_cover_are_rejected() {
    let (_a, bytes) = small_bundle();
    let (_c, other) = small_bundle();
    let s = common::bundle_sections(&bytes);
    let o = common::bundle_sections(&other);
    let mine = s.iter().find(|x| &x.2 == b"ENTR").unwrap();
    let theirs = o.iter().find(|x| &x.2 == b"ENTR").unwrap();
    let mut spliced = bytes[..mine.0].to_vec();
    spliced.extend_from_slice(&other[theirs.0..theirs.1]);
    spliced.extend_from_slice(&bytes[mine.1..]);
    let err = verify_bytes(&spliced).unwrap_err();
    assert_eq!(err.problem, BundleProblem::Entry, "{err}");
    assert!(err.message.contains("belongs to log"), "{err}");
}

#[test]
fn two_histories_of_one_log_are_refused_and_kept_as_evidence() {
    let p = pair();
    p.a.add("casualty", CASUALTY);
    // A copy of A's store as it is now: later it will tell another story.
    let fork_dir = p.a._temp.path().join("fork");
    copy_dir(&p.a.dir, &fork_dir);
    p.a.add("missing", &public_record());
    let first = export(&p.a, "first.bundle", &[]);
    assert!(p
        .b
        .run(&["import", first.to_str().unwrap()])
        .status
        .success());

    // The same key signs a different second entry and a checkpoint of the
    // same size with another root.
    let fork = TestStore {
        _temp: tempfile::tempdir().unwrap(),
        dir: fork_dir,
    };
    let other = CASUALTY.replace("2018-01-25", "2018-01-20");
    fork.add("casualty", &other);
    let second = export(&fork, "second.bundle", &[]);
    // On its own the second bundle is valid: only history exposes it.
    assert_eq!(
        p.b.run(&["verify", second.to_str().unwrap()]).status.code(),
        Some(0)
    );

    let before = snapshot(&p.b.dir.join("logs"));
    let out = p.b.run(&["import", second.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("evidence"), "{}", stderr(&out));
    assert_eq!(snapshot(&p.b.dir.join("logs")), before, "nothing imported");

    let out = p.b.run(&["evidence", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let e = &list[0]["evidence"];
    // Both signed notes are there, each verifiable with A's key alone.
    for note in [e["held"].as_str().unwrap(), e["received"].as_str().unwrap()] {
        let (key, cp) = sijill::exchange::parse_foreign_checkpoint(note.as_bytes()).unwrap();
        assert_eq!(cp.checkpoint.size, 2);
        let a_key = sijill::keys::PublicKeyFile::parse(&std::fs::read_to_string(&p.a_pub).unwrap())
            .unwrap();
        assert_eq!(key, a_key.key);
    }
    assert_ne!(e["held"], e["received"]);
    // B still audits clean: the refused history left no trace in its logs.
    assert_eq!(p.b.run(&["audit"]).status.code(), Some(0));
}

#[test]
fn an_incremental_export_carries_a_consistency_proof() {
    let p = pair();
    p.a.add("casualty", CASUALTY);
    p.a.add("casualty", CASUALTY);
    let full = export(&p.a, "full.bundle", &[]);
    assert!(p
        .b
        .run(&["import", full.to_str().unwrap()])
        .status
        .success());
    // The partner tells A which checkpoint it holds.
    let checkpoint = p.a._temp.path().join("held.checkpoint");
    std::fs::write(&checkpoint, stdout(&p.a.run(&["checkpoint"]))).unwrap();
    let new_ids: Vec<String> = (0..3)
        .map(|_| p.a.add("missing", &public_record()))
        .collect();
    let since = export(
        &p.a,
        "since.bundle",
        &["--since", checkpoint.to_str().unwrap()],
    );
    let report = stdout(&p.b.run(&["verify", since.to_str().unwrap()]));
    assert!(report.contains("extends    checkpoint size 2"), "{report}");
    assert!(report.contains("3 missing"), "{report}");
    assert!(std::fs::metadata(&since).unwrap().len() < std::fs::metadata(&full).unwrap().len() * 2);
    let out = p.b.run(&["import", since.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&p.b.run(&["list"]));
    for id in &new_ids {
        assert!(listed.contains(&id[..16]), "{listed}");
    }
    assert_eq!(p.b.run(&["audit"]).status.code(), Some(0));

    // A consistency proof that does not hold is refused.
    let bytes = std::fs::read(&since).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let at = text.find("\"consistency\":[\"").unwrap() + 16;
    let mut bad = bytes.clone();
    bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
    let err = verify_bytes(&bad).unwrap_err();
    assert!(
        matches!(
            err.problem,
            BundleProblem::Proof | BundleProblem::BundleSignature
        ),
        "{err}"
    );
}

#[test]
fn a_filtered_export_carries_inclusion_proofs() {
    let p = pair();
    p.a.add("casualty", CASUALTY);
    let kept = p.a.add("missing", &public_record());
    p.a.add("casualty", CASUALTY);
    let filtered = export(&p.a, "filtered.bundle", &["--kind", "missing"]);
    let out = p.b.run(&["verify", filtered.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scope"], "filtered");
    assert_eq!(v["filter"]["kind"], "missing");
    assert_eq!(v["logs"][0]["entries"]["missing"], 1);
    assert!(v["logs"][0]["entries"].get("casualty").is_none());
    let bytes = std::fs::read(&filtered).unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains("Mohammad"),
        "only the chosen entries travel"
    );
    let _ = kept;
    // It verifies, but a partial log cannot become a replica.
    let out = p.b.run(&["import", filtered.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("filtered"), "{}", stderr(&out));
}

#[test]
fn internal_and_sensitive_records_never_leave_unless_asked() {
    let p = pair();
    let internal = CASUALTY.replace(
        "\"sensitivity\": \"public\"",
        "\"sensitivity\": \"internal\"",
    );
    p.a.add("casualty", &internal);
    p.a.add("missing", MISSING); // has a family contact
    let bundle = export(&p.a, "a.bundle", &[]);
    let text = String::from_utf8_lossy(&std::fs::read(&bundle).unwrap()).into_owned();
    assert!(!text.contains("+963"), "the contact left the store");
    assert!(
        !text.contains("Mohammad"),
        "the internal record left the store"
    );
    let report = stdout(&p.b.run(&["verify", bundle.to_str().unwrap()]));
    assert!(report.contains("2 withheld"), "{report}");
    assert!(p
        .b
        .run(&["import", bundle.to_str().unwrap()])
        .status
        .success());
    assert_eq!(p.b.run(&["audit"]).status.code(), Some(0));

    let with = export(&p.a, "with.bundle", &["--include-sensitive"]);
    let text = String::from_utf8_lossy(&std::fs::read(&with).unwrap()).into_owned();
    assert!(text.contains("+963"));
    assert!(
        !text.contains("Mohammad"),
        "internal records never leave, even with --include-sensitive"
    );
    let report = stdout(&p.b.run(&["verify", with.to_str().unwrap()]));
    assert!(report.contains("INCLUDED"), "{report}");
}

#[test]
fn cosigned_checkpoints_travel_in_bundles() {
    let p = pair();
    p.a.add("casualty", CASUALTY);
    let bundle = export(&p.a, "a.bundle", &[]);
    assert!(p
        .b
        .run(&["import", bundle.to_str().unwrap()])
        .status
        .success());
    // B checks A's checkpoint against what it holds and cosigns it.
    let cp = p.a._temp.path().join("a.checkpoint");
    std::fs::write(&cp, stdout(&p.a.run(&["checkpoint"]))).unwrap();
    let out = p.b.run(&["cosign", cp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cosigned_text = stdout(&out);
    assert!(cosigned_text.contains("sijill.witness/"), "{cosigned_text}");
    // A takes the cosigned checkpoint back; it needs to trust B for that.
    let b_pub = p.b._temp.path().join("b.pub");
    assert!(p
        .b
        .run(&["key", "export", "--out", b_pub.to_str().unwrap()])
        .status
        .success());
    assert!(p
        .a
        .run(&["trust", "add", b_pub.to_str().unwrap(), "--name", "Group B"])
        .status
        .success());
    let cosigned = p.a._temp.path().join("cosigned.checkpoint");
    std::fs::write(&cosigned, &cosigned_text).unwrap();
    let out = p.a.run(&["import", cosigned.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A's next bundle carries the cosignature, and a verifier who trusts B sees it.
    let again = export(&p.a, "again.bundle", &[]);
    let report = stdout(&p.a.run(&[
        "verify",
        again.to_str().unwrap(),
        "--trust",
        b_pub.to_str().unwrap(),
    ]));
    assert!(report.contains("cosigned   by"), "{report}");
    // A checkpoint that contradicts B's records is not cosigned.
    let c = TestStore::new();
    c.add("casualty", CASUALTY);
    let c_cp = c._temp.path().join("c.checkpoint");
    std::fs::write(&c_cp, stdout(&c.run(&["checkpoint"]))).unwrap();
    let out = p.b.run(&["cosign", c_cp.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an untrusted log: {}",
        stderr(&out)
    );
}

#[test]
fn prove_gives_a_tlog_proof_that_verifies_alone() {
    let a = TestStore::new();
    let ids: Vec<String> = (0..5).map(|_| a.add("casualty", CASUALTY)).collect();
    let out = a.run(&["prove", &ids[3][..12]]);
    assert!(out.status.success(), "{}", stderr(&out));
    let proof = stdout(&out);
    assert!(
        proof.starts_with("c2sp.org/tlog-proof@v1\nextra "),
        "{proof}"
    );
    assert!(proof.contains("\nindex 3\n"), "{proof}");
    let (_, id, size) = sijill::exchange::verify_proof(&proof).unwrap();
    assert_eq!(id.to_hex(), ids[3]);
    assert_eq!(size, 5);
    // Any change to the proof lines breaks it.
    let lines: Vec<&str> = proof.lines().collect();
    let tampered = proof.replacen(
        lines[3],
        &lines[3].replacen('A', "B", 1).replacen('a', "b", 1),
        1,
    );
    if tampered != proof {
        assert!(sijill::exchange::verify_proof(&tampered).is_err());
    }
    let wrong_index = proof.replacen("\nindex 3\n", "\nindex 2\n", 1);
    assert!(sijill::exchange::verify_proof(&wrong_index).is_err());
}

#[test]
fn checkpoints_are_c2sp_signed_notes() {
    let a = TestStore::new();
    a.add("casualty", CASUALTY);
    let text = stdout(&a.run(&["checkpoint"]));
    let (body, sigs) = text.split_once("\n\n").unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "origin, size, root");
    assert!(lines[0].starts_with("sijill.log/"));
    assert_eq!(lines[1], "1");
    assert_eq!(base64_len(lines[2]), 32);
    // One signature line: em dash, space, the origin as key name, base64 of
    // a 4-byte key id and a 64-byte Ed25519 signature.
    let sig = sigs.strip_suffix('\n').unwrap();
    let rest = sig.strip_prefix("\u{2014} ").unwrap();
    let (name, b64) = rest.split_once(' ').unwrap();
    assert_eq!(name, lines[0]);
    assert_eq!(base64_len(b64), 68);
    let key_text = std::fs::read_to_string(a.dir.join("group.pub")).unwrap();
    let key = sijill::keys::PublicKeyFile::parse(&key_text).unwrap().key;
    let id = sijill::note::note_key_id(name, 1, &key);
    let decoded = decode_b64(b64);
    assert_eq!(&decoded[..4], &id);
}

fn decode_b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_len(s: &str) -> usize {
    decode_b64(s).len()
}

/// Regression: a WHLD section shorter than 40 bytes used to panic the verifier.
#[test]
fn a_short_withheld_section_is_refused_not_a_panic() {
    let (_a, bytes) = small_bundle();
    let s = common::bundle_sections(&bytes);
    let entry = s.iter().find(|x| &x.2 == b"ENTR").unwrap();
    for len in 0..40u32 {
        let mut bad = bytes[..entry.0].to_vec();
        bad.extend_from_slice(b"WHLD");
        bad.extend_from_slice(&len.to_be_bytes());
        bad.extend_from_slice(&vec![0u8; len as usize]);
        bad.extend_from_slice(&bytes[entry.1..]);
        let err = verify_bytes(&bad).unwrap_err();
        assert_eq!(err.problem, BundleProblem::Structure, "{err}");
    }
}

/// What is said about a record follows it: steps about an internal record,
/// an amendment that adds a family contact, and a record amended to
/// `internal` do not leave the store.
#[test]
fn entries_about_private_records_stay_home() {
    let p = pair();
    let internal = CASUALTY.replace(
        "\"sensitivity\": \"public\"",
        "\"sensitivity\": \"internal\"",
    );
    let hidden = p.a.add("casualty", &internal);
    let ok_step = |args: &[&str]| {
        let out = p.a.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    ok_step(&[
        "amend",
        &hidden,
        "--set",
        "place_of_death.detail=the back room of the clinic",
        "--reason",
        "internal note",
    ]);
    let public = p.a.add("missing", &public_record());
    ok_step(&[
        "amend",
        &public,
        "--set",
        "contact.phone=+963 911 111 111",
        "--reason",
        "family gave a number",
    ]);
    let later_internal = p.a.add("casualty", CASUALTY);
    ok_step(&[
        "amend",
        &later_internal,
        "--set",
        "sensitivity=internal",
        "--reason",
        "the family asked",
    ]);

    let bundle = export(&p.a, "a.bundle", &[]);
    let text = String::from_utf8_lossy(&std::fs::read(&bundle).unwrap()).into_owned();
    assert!(
        !text.contains("back room"),
        "a step about an internal record left"
    );
    assert!(
        !text.contains("+963 911"),
        "an amendment adding a contact left"
    );
    assert!(
        !text.contains(&later_internal),
        "a record amended to internal left"
    );
    let out = p.b.run(&["verify", bundle.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Every record here is private in its current view (the missing person
    // gained a contact), so all six entries travel as leaves.
    assert_eq!(v["logs"][0]["withheld"], 6, "{v:#}");
    assert!(p
        .b
        .run(&["import", bundle.to_str().unwrap()])
        .status
        .success());
    assert_eq!(p.b.run(&["audit"]).status.code(), Some(0));
}

/// Regression: signature lines nobody could verify, added to a cosigned note
/// by whoever carried it, were kept and merged into every later bundle until
/// its checkpoint had too many signatures to verify.
#[test]
fn unverifiable_signature_lines_are_not_kept_or_passed_on() {
    let p = pair();
    p.a.add("casualty", CASUALTY);
    let bundle = export(&p.a, "a.bundle", &[]);
    assert!(p
        .b
        .run(&["import", bundle.to_str().unwrap()])
        .status
        .success());
    let cp = p.a._temp.path().join("a.checkpoint");
    std::fs::write(&cp, stdout(&p.a.run(&["checkpoint"]))).unwrap();
    let cosigned = stdout(&p.b.run(&["cosign", cp.to_str().unwrap()]));
    let b_pub = p.b._temp.path().join("b.pub");
    assert!(p
        .b
        .run(&["key", "export", "--out", b_pub.to_str().unwrap()])
        .status
        .success());
    assert!(p
        .a
        .run(&["trust", "add", b_pub.to_str().unwrap(), "--name", "Group B"])
        .status
        .success());
    // 60 junk lines, a duplicate of B's line, twice over.
    let b_line = cosigned.lines().last().unwrap().to_string();
    let mut padded = cosigned.clone();
    for i in 0..60 {
        padded.push_str(&format!("\u{2014} junk.example/{i} AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"));
    }
    padded.push_str(&b_line);
    padded.push('\n');
    let padded_path = p.a._temp.path().join("padded.checkpoint");
    std::fs::write(&padded_path, &padded).unwrap();
    for _ in 0..2 {
        let out = p.a.run(&["import", padded_path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stderr(&out).matches("\"Group B\"").count(),
            1,
            "one cosigner, counted once: {}",
            stderr(&out)
        );
    }
    let again = export(&p.a, "again.bundle", &[]);
    let out = p.a.run(&[
        "verify",
        again.to_str().unwrap(),
        "--trust",
        b_pub.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = stdout(&out);
    assert_eq!(report.matches("cosigned   by").count(), 1, "{report}");
    assert!(!report.contains("junk.example"), "{report}");
}

/// Regression: a checkpoint signed by the group's own key that contradicts
/// its own log is evidence (exit 1), not a usage error.
#[test]
fn an_own_checkpoint_from_another_history_is_kept_as_evidence() {
    let a = TestStore::new();
    a.add("casualty", CASUALTY);
    let fork_dir = a._temp.path().join("fork");
    copy_dir(&a.dir, &fork_dir);
    a.add("casualty", CASUALTY);
    let fork = TestStore {
        _temp: tempfile::tempdir().unwrap(),
        dir: fork_dir,
    };
    fork.add("missing", &public_record());
    let forged = fork._temp.path().join("forged.checkpoint");
    std::fs::write(&forged, stdout(&fork.run(&["checkpoint"]))).unwrap();
    let out = a.run(&["import", forged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let list = stdout(&a.run(&["evidence", "list"]));
    assert!(list.contains("own key"), "{list}");
}

#[test]
fn verify_of_something_unreadable_is_a_usage_error() {
    let a = TestStore::new();
    let out = a.run(&["verify", a.dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn an_unlink_travels_with_the_records_its_link_names() {
    let p = pair();
    let c = p.a.add("casualty", CASUALTY);
    let d = p.a.add("casualty", CASUALTY);
    let internal = CASUALTY.replace(
        "\"sensitivity\": \"public\"",
        "\"sensitivity\": \"internal\"",
    );
    let i = p.a.add("casualty", &internal);
    let mut links = Vec::new();
    for other in [&d, &i] {
        let out = p.a.run(&[
            "link",
            &c,
            other,
            "--same-person",
            "--certainty",
            "likely",
            "--reason",
            "same name",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let link = stdout(&out).trim().to_string();
        let out =
            p.a.run(&["link", "--unlink", &link, "--reason", "different father"]);
        assert!(out.status.success(), "{}", stderr(&out));
        links.push(link);
    }
    // What is said of the internal record, its link and the unlink of that
    // link, stays home; the rest travels.
    let bundle = export(&p.a, "a.bundle", &[]);
    let report = stdout(&p.b.run(&["verify", bundle.to_str().unwrap()]));
    assert!(report.contains("3 withheld"), "{report}");
    let out = p.b.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: serde_json::Value =
        serde_json::from_slice(&p.b.run(&["show", &d, "--json"]).stdout).unwrap();
    let link = &shown["view"]["links"][0];
    assert_eq!(link["link"], links[0].as_str());
    assert!(link["withdrawn_by"].is_string(), "{shown}");
}
