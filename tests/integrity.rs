//! What the store guarantees when its files are damaged, its index lost, or
//! its process killed: every finding is reported with the entry it concerns,
//! and nothing acknowledged is ever lost.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::*;
use sijill::entry::{decode_entry, Entry, EntryError, SignedEntry};
use sijill::record::{parse_record, RecordKind};
use sijill::segment::{encode_frame, FRAME_HEADER_LEN, SEGMENT_HEADER_LEN};

fn audit_json(store: &TestStore) -> (Option<i32>, serde_json::Value) {
    let out = store.run(&["audit", "--json"]);
    let value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code(), value)
}

#[test]
fn a_flipped_byte_in_an_entry_fails_audit_naming_the_entry() {
    let store = TestStore::new();
    let ids: Vec<String> = (0..3).map(|_| store.add("casualty", CASUALTY)).collect();
    let segment = store.segment();
    let clean = std::fs::read(&segment).unwrap();
    // Flip a byte inside the entry bytes of the second frame.
    let first_len = u32::from_be_bytes(clean[52..56].try_into().unwrap()) as usize;
    let second = SEGMENT_HEADER_LEN as usize + FRAME_HEADER_LEN + first_len + 64;
    let mut bytes = clean.clone();
    bytes[second + FRAME_HEADER_LEN + 40] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();

    let (code, report) = audit_json(&store);
    assert_eq!(code, Some(1));
    let findings = report["findings"].as_array().unwrap();
    let on_second: Vec<_> = findings.iter().filter(|f| f["seq"] == 1).collect();
    assert!(!on_second.is_empty(), "{report:#}");
    assert!(
        on_second.iter().any(|f| f["offset"] == second as u64),
        "{report:#}"
    );
    // The text form names the broken property and the entry's sequence number.
    let text = stdout(&store.run(&["audit"]));
    assert!(text.contains("seq 1"), "{text}");
    // The untouched entries still show; the damaged one is refused on read.
    assert!(store.run(&["show", &ids[0]]).status.success());
    let damaged = store.run(&["show", &ids[1]]);
    assert_eq!(damaged.status.code(), Some(1), "{}", stderr(&damaged));
}

#[test]
fn every_single_byte_flip_in_a_segment_is_caught() {
    let store = TestStore::new();
    store.add("casualty", CASUALTY);
    store.add("missing", MISSING);
    let segment = store.segment();
    let clean = std::fs::read(&segment).unwrap();
    let index = store.dir.join("index");
    let index_copy = store._temp.path().join("index-copy");
    copy_dir(&index, &index_copy);
    // Every position: the file header, frame headers, entry bytes, signatures.
    // Stepping keeps the CI run short while still touching every region.
    let step = if std::env::var("SIJILL_LONG_TESTS").is_ok() {
        1
    } else {
        7
    };
    for pos in (0..clean.len()).step_by(step) {
        let mut bytes = clean.clone();
        bytes[pos] ^= 0x20;
        std::fs::write(&segment, &bytes).unwrap();
        let store_lib = sijill::store::Store::open(&store.dir);
        let clean_audit = match store_lib {
            Ok(s) => sijill::audit::audit(&s).unwrap().is_clean(),
            Err(_) => false,
        };
        assert!(!clean_audit, "flip at byte {pos} was not detected");
        // Restore the file and the index the flip may have led the open to touch.
        std::fs::write(&segment, &clean).unwrap();
        std::fs::remove_dir_all(&index).unwrap();
        copy_dir(&index_copy, &index);
    }
}

#[test]
fn deleting_the_index_loses_nothing() {
    let store = TestStore::new();
    for _ in 0..5 {
        store.add("casualty", CASUALTY);
        store.add("missing", MISSING);
    }
    let list_before = stdout(&store.run(&["list", "--json"]));
    std::fs::remove_dir_all(store.dir.join("index")).unwrap();
    let out = store.run(&["reindex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("10 entries"), "{}", stderr(&out));
    assert_eq!(stdout(&store.run(&["list", "--json"])), list_before);
    let (code, report) = audit_json(&store);
    assert_eq!(code, Some(0), "{report:#}");

    // Opening without an index rebuilds it too.
    std::fs::remove_dir_all(store.dir.join("index")).unwrap();
    assert_eq!(stdout(&store.run(&["list", "--json"])), list_before);
}

#[test]
fn a_damaged_index_is_rebuilt_from_the_segments() {
    let store = TestStore::new();
    for _ in 0..4 {
        store.add("casualty", CASUALTY);
    }
    let list_before = stdout(&store.run(&["list", "--json"]));
    // Overwrite every file of the index with garbage.
    for e in walk(&store.dir.join("index")) {
        let len = std::fs::metadata(&e).unwrap().len() as usize;
        std::fs::write(&e, vec![0xA5u8; len.max(16)]).unwrap();
    }
    let out = store.run(&["list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), list_before);
    assert!(stderr(&out).contains("rebuilt"), "{}", stderr(&out));
    assert_eq!(audit_json(&store).0, Some(0));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_torn_tail_is_set_aside_and_reported_as_a_warning() {
    let store = TestStore::new();
    let id = store.add("casualty", CASUALTY);
    let segment = store.segment();
    let good = std::fs::read(&segment).unwrap();
    // Half of a real frame, as a crash in the middle of write() leaves it.
    let frame = encode_frame(b"{\"v\":1}", &[7u8; 64]);
    let mut torn = good.clone();
    torn.extend_from_slice(&frame[..frame.len() / 2]);
    std::fs::write(&segment, &torn).unwrap();

    // Audit reports it as a warning and changes nothing.
    let (code, report) = audit_json(&store);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["warnings"], 1, "{report:#}");
    assert_eq!(report["findings"][0]["property"], "torn-tail");
    assert_eq!(
        std::fs::read(&segment).unwrap(),
        torn,
        "audit never cuts a segment"
    );
    // Any other command repairs: the tail is cut off the segment and kept.
    let out = store.run(&["show", &id]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("set aside"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&segment).unwrap(),
        good,
        "the tail is cut off the segment"
    );
    let aside: Vec<_> = std::fs::read_dir(store.dir.join("set-aside"))
        .unwrap()
        .collect();
    assert_eq!(aside.len(), 1, "and kept in set-aside/");
    let (code, report) = audit_json(&store);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(
        report["warnings"], 1,
        "the set-aside file is still reported: {report:#}"
    );
    // Appending after the repair works and continues the sequence.
    let next = store.add("casualty", CASUALTY);
    let shown: serde_json::Value =
        serde_json::from_slice(&store.run(&["show", &next, "--json"]).stdout).unwrap();
    assert_eq!(shown["seq"], 1);
}

#[test]
fn a_cut_inside_an_acknowledged_entry_is_an_error_not_a_torn_tail() {
    let store = TestStore::new();
    store.add("casualty", CASUALTY);
    store.add("casualty", CASUALTY);
    let segment = store.segment();
    let bytes = std::fs::read(&segment).unwrap();
    std::fs::write(&segment, &bytes[..bytes.len() - 10]).unwrap();
    let (code, report) = audit_json(&store);
    assert_eq!(code, Some(1), "{report:#}");
}

/// Kill `sijill` while it appends: every record it acknowledged (printed)
/// must be there, and the store must open and audit clean (a torn tail is a
/// warning).
#[test]
fn killing_the_process_mid_append_loses_nothing_acknowledged() {
    let kills: u32 = std::env::var("SIJILL_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let store = TestStore::new();
    let mut acknowledged = Vec::new();
    for round in 0..kills {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sijill"))
            .arg("--store")
            .arg(&store.dir)
            .args(["stress-append", "--count", "1000000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child_out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(child_out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Let it write for a varying while, then kill it without warning.
        std::thread::sleep(Duration::from_millis(40 + 37 * u64::from(round % 7)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        acknowledged.extend(rx.try_iter());

        let (code, report) = audit_json(&store);
        assert_eq!(code, Some(0), "round {round}: {report:#}");
        let listed = stdout(&store.run(&["list", "--json"]));
        for id in &acknowledged {
            assert!(
                listed.contains(id.as_str()),
                "round {round}: acknowledged {id} is missing"
            );
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "the child never acknowledged anything"
    );
}

fn test_record() -> sijill::record::Record {
    parse_record(
        RecordKind::Casualty,
        CASUALTY.as_bytes(),
        time::macros::date!(2026 - 01 - 01),
    )
    .unwrap()
}

#[test]
fn non_canonical_entry_bytes_are_refused_even_when_validly_signed() {
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let entry = Entry::record(
        key.verifying_key(),
        0,
        time::macros::datetime!(2026-11-01 12:00:00 UTC),
        test_record(),
    );
    let canonical = entry.sign(&key).unwrap();
    assert!(SignedEntry::decode(&canonical.bytes, &canonical.signature.to_bytes()).is_ok());

    let text = String::from_utf8(canonical.bytes.clone()).unwrap();
    let variants = [
        text.replacen(":", ": ", 1),                  // whitespace
        format!("{text}\n"),                          // trailing bytes
        text.replacen("{\"body\"", "{ \"body\"", 1),  // leading whitespace in object
        text.replacen("\"seq\":0", "\"seq\":0.0", 1), // a float
        text.replacen("\"seq\":0", "\"seq\":-0", 1),  // another spelling of zero
    ];
    for bad in variants {
        assert_ne!(bad, text);
        let sig = key.sign(&sijill::entry::signature_message(bad.as_bytes()));
        let err = SignedEntry::decode(bad.as_bytes(), &sig.to_bytes()).unwrap_err();
        assert!(matches!(err, EntryError::Canonical(_)), "{bad}: {err}");
        assert!(decode_entry(bad.as_bytes()).is_err());
    }
}

#[test]
fn a_validly_signed_non_canonical_entry_in_a_segment_fails_audit() {
    use ed25519_dalek::Signer;
    let store = TestStore::new();
    store.add("casualty", CASUALTY);
    // Sign with the store's own key a pretty-printed copy of a real entry, and
    // append it as if the program that wrote it were faulty.
    let key_text = std::fs::read_to_string(store.dir.join("group.key")).unwrap();
    let key = sijill::keys::open_secret_key(&key_text, None).unwrap();
    let entry = Entry::record(
        key.verifying_key(),
        1,
        time::macros::datetime!(2026-11-01 12:00:00 UTC),
        test_record(),
    );
    let signed = entry.sign(&key).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&signed.bytes).unwrap();
    let pretty = serde_json::to_vec_pretty(&value).unwrap();
    let sig = key.sign(&sijill::entry::signature_message(&pretty));
    let segment = store.segment();
    let mut bytes = std::fs::read(&segment).unwrap();
    let offset = bytes.len();
    bytes.extend_from_slice(&encode_frame(&pretty, &sig.to_bytes()));
    std::fs::write(&segment, &bytes).unwrap();

    let (code, report) = audit_json(&store);
    assert_eq!(code, Some(1), "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["property"] == "canonical-form" && f["offset"] == offset as u64),
        "{report:#}"
    );
}

/// The frames of a segment as (start, end) byte ranges.
fn frame_ranges(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER_LEN as usize;
    while at + FRAME_HEADER_LEN <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let end = at + FRAME_HEADER_LEN + len + 64;
        out.push((at, end));
        at = end;
    }
    out
}

#[test]
fn a_dropped_entry_is_reported_as_a_sequence_gap() {
    let store = TestStore::new();
    for _ in 0..4 {
        store.add("casualty", CASUALTY);
    }
    let segment = store.segment();
    let bytes = std::fs::read(&segment).unwrap();
    let frames = frame_ranges(&bytes);
    let mut dropped = bytes[..frames[1].0].to_vec();
    dropped.extend_from_slice(&bytes[frames[1].1..]);
    std::fs::write(&segment, &dropped).unwrap();
    let (code, report) = audit_json(&store);
    assert_eq!(code, Some(1));
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["property"] == "sequence" && f["seq"] == 2),
        "{report:#}"
    );
    assert!(
        findings.iter().any(|f| f["property"] == "merkle-root"),
        "{report:#}"
    );
}

#[test]
fn reordered_entries_are_reported() {
    let store = TestStore::new();
    for _ in 0..3 {
        store.add("casualty", CASUALTY);
    }
    let segment = store.segment();
    let bytes = std::fs::read(&segment).unwrap();
    let f = frame_ranges(&bytes);
    let mut swapped = bytes[..f[0].0].to_vec();
    swapped.extend_from_slice(&bytes[f[1].0..f[1].1]);
    swapped.extend_from_slice(&bytes[f[0].0..f[0].1]);
    swapped.extend_from_slice(&bytes[f[2].0..]);
    std::fs::write(&segment, &swapped).unwrap();
    let (code, report) = audit_json(&store);
    assert_eq!(code, Some(1));
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["property"] == "sequence"),
        "{report:#}"
    );
    // Each moved entry is still validly signed: the finding is about order.
    assert!(
        !findings.iter().any(|f| f["property"] == "signature"),
        "{report:#}"
    );
}

#[test]
fn an_entry_copied_from_another_log_is_reported() {
    let a = TestStore::new();
    let b = TestStore::new();
    a.add("casualty", CASUALTY);
    b.add("casualty", CASUALTY);
    let a_bytes = std::fs::read(a.segment()).unwrap();
    let b_bytes = std::fs::read(b.segment()).unwrap();
    let fb = frame_ranges(&b_bytes);
    let mut spliced = a_bytes.clone();
    spliced.extend_from_slice(&b_bytes[fb[0].0..fb[0].1]);
    std::fs::write(a.segment(), &spliced).unwrap();
    let (code, report) = audit_json(&a);
    assert_eq!(code, Some(1));
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["property"] == "log-mismatch"),
        "{report:#}"
    );
}

/// The index keeps the Merkle nodes a log needs to prove, later, that an
/// entry is in it and that a newer tree extends an older one (RFC 6962).
#[test]
fn stored_merkle_nodes_give_proofs_that_verify() {
    use sijill::merkle::{leaf_hash, verify_consistency, verify_inclusion};
    let store = TestStore::new();
    let ids: Vec<String> = (0..7).map(|_| store.add("casualty", CASUALTY)).collect();
    let s = sijill::store::Store::open(&store.dir).unwrap();
    let log = s.group_key().to_bytes();
    let state = s.log_state(&log).unwrap();
    assert_eq!(state.size, 7);
    for (seq, id) in ids.iter().enumerate() {
        let id = sijill::entry::EntryId::from_hex(id).unwrap();
        let entry = s.get(&id).unwrap();
        for size in seq as u64 + 1..=7 {
            let (location, at, root, proof) = s.inclusion_proof(&id, Some(size)).unwrap();
            assert_eq!((location.seq, at), (seq as u64, size));
            verify_inclusion(&leaf_hash(&entry.bytes), seq as u64, size, &proof, &root).unwrap();
            if size == 7 {
                assert_eq!(root, state.root);
            }
            // A proof for another leaf does not verify this one.
            if seq > 0 {
                assert!(verify_inclusion(
                    &leaf_hash(&entry.bytes),
                    seq as u64 - 1,
                    size,
                    &proof,
                    &root
                )
                .is_err());
            }
        }
    }
    for old in 0..=7 {
        for new in old..=7 {
            let proof = s.consistency_proof(&log, old, new).unwrap();
            let (a, b) = (s.root_at(&log, old).unwrap(), s.root_at(&log, new).unwrap());
            verify_consistency(old, new, &a, &b, &proof).unwrap();
        }
    }
    let first = sijill::entry::EntryId::from_hex(&ids[0]).unwrap();
    assert!(
        s.inclusion_proof(&first, Some(8)).is_err(),
        "a size the log has not reached"
    );
}

/// Without a checkpoint, cutting whole entries off the end of a log leaves a
/// log that verifies; with one, audit reports the removal, and the group's
/// key refuses to sign a checkpoint that contradicts it.
#[test]
fn a_signed_checkpoint_exposes_removed_entries() {
    let store = TestStore::new();
    for _ in 0..3 {
        store.add("casualty", CASUALTY);
    }
    let out = store.run(&["checkpoint"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let note = stdout(&out);
    assert!(
        note.starts_with("sijill.log/") && note.contains("\n3\n"),
        "{note}"
    );
    // Asking again without new entries gives the same checkpoint.
    assert_eq!(stdout(&store.run(&["checkpoint"])), note);

    let segment = store.segment();
    let bytes = std::fs::read(&segment).unwrap();
    let frames = frame_ranges(&bytes);
    std::fs::write(&segment, &bytes[..frames[2].0]).unwrap();
    // The index would notice too; drop it so only the checkpoint can tell.
    std::fs::remove_dir_all(store.dir.join("index")).unwrap();
    let (code, report) = audit_json(&store);
    assert_eq!(code, Some(1), "{report:#}");
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["property"] == "checkpoint"),
        "{report:#}"
    );
    let refused = store.run(&["checkpoint"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("refusing to sign"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn a_rewritten_entry_contradicts_the_checkpoint() {
    let store = TestStore::new();
    store.add("casualty", CASUALTY);
    store.add("missing", MISSING);
    assert!(store.run(&["checkpoint"]).status.success());
    // Re-sign a different first entry with the group's own key: every entry
    // verifies, but the log is no longer the one the checkpoint describes.
    let key_text = std::fs::read_to_string(store.dir.join("group.key")).unwrap();
    let key = sijill::keys::open_secret_key(&key_text, None).unwrap();
    let forged = Entry::record(
        key.verifying_key(),
        0,
        time::macros::datetime!(2026-11-01 12:00:00 UTC),
        test_record(),
    )
    .sign(&key)
    .unwrap();
    let segment = store.segment();
    let bytes = std::fs::read(&segment).unwrap();
    let frames = frame_ranges(&bytes);
    let mut rewritten = bytes[..frames[0].0].to_vec();
    rewritten.extend_from_slice(&encode_frame(&forged.bytes, &forged.signature.to_bytes()));
    rewritten.extend_from_slice(&bytes[frames[1].0..]);
    std::fs::write(&segment, &rewritten).unwrap();
    std::fs::remove_dir_all(store.dir.join("index")).unwrap();
    let (code, report) = audit_json(&store);
    assert_eq!(code, Some(1), "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["property"] == "checkpoint"),
        "{report:#}"
    );
    assert!(
        !findings.iter().any(|f| f["property"] == "signature"),
        "{report:#}"
    );
}

/// Regression: a damaged value in the index (here a log state of the wrong
/// length) once made every command fail, `reindex` included. The index is
/// derived, so opening the store must rebuild it.
#[test]
fn a_damaged_index_value_is_rebuilt_not_fatal() {
    let store = TestStore::new();
    let id = store.add("casualty", CASUALTY);
    {
        let db = sled::open(store.dir.join("index")).unwrap();
        let logs = db.open_tree("logs").unwrap();
        let key = logs.iter().next().unwrap().unwrap().0;
        logs.insert(key, &[0u8][..]).unwrap();
        db.flush().unwrap();
    }
    let out = store.run(&["show", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("rebuilt"), "{}", stderr(&out));
    assert_eq!(audit_json(&store).0, Some(0));
}

/// Regression: after a rebuild, one damaged entry used to hide every intact
/// entry after it from `list` and `show`.
#[test]
fn one_damaged_entry_does_not_hide_the_ones_after_it() {
    let store = TestStore::new();
    let ids: Vec<String> = (0..3).map(|_| store.add("casualty", CASUALTY)).collect();
    let segment = store.segment();
    let mut bytes = std::fs::read(&segment).unwrap();
    let frames = frame_ranges(&bytes);
    bytes[frames[0].0 + FRAME_HEADER_LEN + 30] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();
    let out = store.run(&["reindex"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let listed = stdout(&store.run(&["list"]));
    assert!(
        listed.contains(&ids[1][..16]) && listed.contains(&ids[2][..16]),
        "{listed}"
    );
    assert!(store.run(&["show", &ids[2]]).status.success());
    // Appending to a damaged log is refused with exit 1.
    let out = store.try_add("casualty", CASUALTY);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let (code, report) = audit_json(&store);
    assert_eq!(code, Some(1), "{report:#}");
}
