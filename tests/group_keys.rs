//! The group's keys: key entries (FORMAT.md §4.2) and the trust they give
//! (§9.6, §14.1).

use serde_json::{json, Value};
use sijill::entry::{decode_entry, Body, Entry, EntryError, EntryKind};
use sijill::group_keys::{GroupTrust, KeyBody, KeyEvent};
use sijill::keys::SigningKey;
use time::macros::datetime;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn entry_bytes(kind: &str, body: Value) -> Vec<u8> {
    let log = hex::encode(key(1).verifying_key().as_bytes());
    let v = json!({"v":1,"log":log,"seq":0,"recorded_at":"2026-11-01T12:00:00Z","kind":kind,"body":body});
    sijill::canonical::to_canonical_bytes(&v).unwrap()
}

/// `sijill verify BUNDLE` in `store`, which must exit 0.
fn verify_ok(store: &TestStore, bundle: &std::path::Path) -> std::process::Output {
    let out = store.run(&["verify", bundle.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

#[test]
fn key_bodies_round_trip_and_decode_strictly() {
    let device = key(2).verifying_key();
    let bodies = [
        KeyBody::Certify {
            key: device,
            name: "laptop-aleppo-2".into(),
            reason: None,
        },
        KeyBody::Certify {
            key: device,
            name: "laptop-aleppo-2".into(),
            reason: Some("new field laptop".into()),
        },
        KeyBody::Revoke {
            key: device,
            keep_up_to: 3,
            reason: "compromised".into(),
        },
        KeyBody::Rotate {
            new_key: key(3).verifying_key(),
            reason: "yearly".into(),
        },
    ];
    for body in bodies {
        let e = Entry::new(
            key(1).verifying_key(),
            0,
            datetime!(2026-11-01 12:00 UTC),
            Body::Key(body.clone()),
        );
        let signed = e.sign(&key(1)).unwrap();
        let back = decode_entry(&signed.bytes).unwrap();
        assert_eq!(back.body, Body::Key(body));
    }
    let dev = hex::encode(device.as_bytes());
    let refused_body = [
        ("key-certify", json!({"key": dev, "name": "x", "extra": 1})),
        ("key-certify", json!({"key": dev})),
        (
            "key-certify",
            json!({"key": dev.to_uppercase(), "name": "x"}),
        ),
        ("key-certify", json!({"key": dev, "name": ".hidden"})),
        ("key-certify", json!({"key": dev, "name": "a/b"})),
        ("key-revoke", json!({"key": dev, "keep_up_to": 1})),
        (
            "key-revoke",
            json!({"key": dev, "keep_up_to": "1", "reason": "x"}),
        ),
        (
            "key-revoke",
            json!({"key": dev, "keep_up_to": -1, "reason": "x"}),
        ),
        ("key-revoke", json!({"key": dev, "reason": "x"})),
        ("key-rotate", json!({"new_key": dev})),
        (
            "key-rotate",
            json!({"new_key": "00".repeat(32), "reason": "x"}),
        ),
    ];
    for (kind, body) in refused_body {
        let err = decode_entry(&entry_bytes(kind, body.clone())).unwrap_err();
        assert!(matches!(err, EntryError::Body(_)), "{kind} {body}: {err:?}");
    }
    // Valid but not normalised: a reason with surrounding white space.
    let err = decode_entry(&entry_bytes(
        "key-revoke",
        json!({"key": dev, "keep_up_to": 1, "reason": " x "}),
    ))
    .unwrap_err();
    assert!(
        matches!(err, EntryError::Field { field: "body", .. }),
        "{err:?}"
    );
    assert_eq!(EntryKind::parse("key-certify"), Some(EntryKind::KeyCertify));
}

fn event(signer: &SigningKey, seq: u64, n: u8, body: KeyBody) -> KeyEvent {
    KeyEvent {
        entry: sijill::entry::EntryId([n; 32]),
        signer: signer.verifying_key(),
        seq,
        body,
    }
}

#[test]
fn trust_follows_authorities_only() {
    let group = key(1);
    let device = key(2).verifying_key();
    let stranger = key(9);
    let successor = key(3);
    let other_device = key(4).verifying_key();
    let certify = |k| KeyBody::Certify {
        key: k,
        name: "d".into(),
        reason: None,
    };
    let events = vec![
        event(&group, 0, 1, certify(device)),
        // A stranger's certification counts for nothing.
        event(&stranger, 0, 2, certify(key(5).verifying_key())),
        event(
            &group,
            1,
            3,
            KeyBody::Revoke {
                key: device,
                keep_up_to: 2,
                reason: "seized".into(),
            },
        ),
        event(
            &group,
            2,
            4,
            KeyBody::Rotate {
                new_key: successor.verifying_key(),
                reason: "r".into(),
            },
        ),
        event(&successor, 0, 5, certify(other_device)),
    ];
    let t = GroupTrust::derive(&[group.verifying_key()], &events);
    assert!(t.is_trusted(&device));
    assert!(t.is_trusted(&other_device));
    assert!(t.is_trusted(&successor.verifying_key()));
    assert!(!t.is_trusted(&key(5).verifying_key()));
    assert!(!t.is_trusted(&stranger.verifying_key()));
    assert!(t.revoked_entry(&device, 1).is_none());
    let why = t.revoked_entry(&device, 2).unwrap();
    assert!(why.contains("seized") && why.contains("seq 2"), "{why}");
    // A key is not revoked by the key it rotated from, which is the one a
    // rotation leaves behind.
    let mut later = events.clone();
    later.push(event(
        &group,
        3,
        6,
        KeyBody::Revoke {
            key: successor.verifying_key(),
            keep_up_to: 0,
            reason: "lost".into(),
        },
    ));
    let t = GroupTrust::derive(&[group.verifying_key()], &later);
    assert!(t.is_trusted(&other_device));
    assert!(t.revocation(&successor.verifying_key()).is_none());
    // A revoked authority's later key entries do not count: the successor
    // revokes the old key after its rotation, and what the old key
    // certifies from there on is not trusted.
    later.push(event(&group, 4, 7, certify(key(6).verifying_key())));
    later.push(event(
        &successor,
        1,
        8,
        KeyBody::Revoke {
            key: group.verifying_key(),
            keep_up_to: 3,
            reason: "seized".into(),
        },
    ));
    let t = GroupTrust::derive(&[group.verifying_key()], &later);
    assert!(t.is_trusted(&device) && t.is_trusted(&other_device));
    assert!(!t.is_trusted(&key(6).verifying_key()));
    assert!(t.revoked_entry(&group.verifying_key(), 3).is_some());
}

mod common;

use common::*;
use std::path::PathBuf;

fn export(store: &TestStore, name: &str) -> PathBuf {
    let path = store._temp.path().join(name);
    let out = store.run(&["export", "--out", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    path
}

fn add_as(store: &TestStore, device: &str) -> std::process::Output {
    store
        .cmd()
        .args(["add", "casualty", "--json", "-", "--as-device", device])
        .write_stdin(CASUALTY)
        .output()
        .unwrap()
}

fn partner_of(a: &TestStore) -> TestStore {
    let b = TestStore::new();
    let a_pub = a._temp.path().join("a.pub");
    if !a_pub.exists() {
        let out = a.run(&["key", "export", "--out", a_pub.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = b.run(&["trust", "add", a_pub.to_str().unwrap(), "--name", "Group A"]);
    assert!(out.status.success(), "{}", stderr(&out));
    b
}

#[test]
fn device_keys_sign_for_the_group_until_revoked() {
    let a = TestStore::new();
    let out = a.run(&["key", "add-device", "--name", "laptop-aleppo-2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let device_id = stdout(&out).trim().to_string();
    assert_eq!(device_id.len(), 16, "{device_id}");
    let key_file = a.dir.join("keys/laptop-aleppo-2.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never overwritten.
    let before = std::fs::read(&key_file).unwrap();
    let out = a.run(&["key", "add-device", "--name", "laptop-aleppo-2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(std::fs::read(&key_file).unwrap(), before);
    let out = a.run(&["key", "add-device", "--name", "../evil"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let mut device_ids = Vec::new();
    for _ in 0..2 {
        let out = add_as(&a, "laptop-aleppo-2");
        assert!(out.status.success(), "{}", stderr(&out));
        device_ids.push(stdout(&out).trim().to_string());
    }
    let out = add_as(&a, "no-such-laptop");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // A partner who trusts only the group key verifies and imports the
    // device's entries.
    let b = partner_of(&a);
    let bundle = export(&a, "a1.bundle");
    let out = verify_ok(&b, &bundle);
    assert!(
        stdout(&out).contains("device key laptop-aleppo-2"),
        "{}",
        stdout(&out)
    );
    let out = b.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&b.run(&["list"]));
    for id in &device_ids {
        assert!(listed.contains(&id[..16]), "{listed}");
    }
    // A partner who trusts nobody does not.
    let c = TestStore::new();
    let out = c.run(&["import", bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // The laptop is seized with a copy of the store; the thief signs more.
    let seized = tempfile::tempdir().unwrap();
    let seized_store = TestStore {
        dir: seized.path().join("store"),
        _temp: seized,
    };
    copy_dir(&a.dir, &seized_store.dir);
    let out = add_as(&seized_store, "laptop-aleppo-2");
    assert!(out.status.success(), "{}", stderr(&out));

    // Revoking an unknown key is refused.
    let out = a.run(&[
        "key",
        "revoke",
        "0123456789abcdef",
        "--reason",
        "compromised",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // The group revokes the device key at the size it holds (2).
    let out = a.run(&["key", "revoke", &device_id, "--reason", "compromised"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let revocation = stdout(&out).trim().to_string();
    let shown = stdout(&a.run(&["show", &revocation, "--json"]));
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["kind"], "key-revoke");
    assert_eq!(shown["body"]["keep_up_to"], 2);
    assert_eq!(shown["body"]["reason"], "compromised");
    let out = a.run(&["key", "revoke", &device_id, "--reason", "again"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = add_as(&a, "laptop-aleppo-2");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Entries before the revocation point still verify and import.
    let bundle = export(&a, "a2.bundle");
    let out = b.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fresh = partner_of(&a);
    let out = fresh.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    // The thief's bundle carries an entry past it: refused, with the reason.
    let stolen = export(&seized_store, "stolen.bundle");
    for partner in [&b, &fresh] {
        let before = stdout(&partner.run(&["list"]));
        let out = partner.run(&["verify", stolen.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("revoked") && err.contains("compromised") && err.contains(&revocation),
            "{err}"
        );
        let out = partner.run(&["import", stolen.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("from seq 2 on"), "{}", stderr(&out));
        assert_eq!(stdout(&partner.run(&["list"])), before);
    }

    // Audit: the partner's copy is clean; a revocation that reaches back
    // into entries the store holds is reported, entry by entry.
    let out = b.run(&["audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = a.run(&[
        "key",
        "revoke",
        &device_id,
        "--keep-up-to",
        "1",
        "--reason",
        "seized earlier than thought",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let earlier = stdout(&out).trim().to_string();
    let out = a.run(&["audit", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let revoked: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["property"] == "revoked-key")
        .collect();
    assert_eq!(revoked.len(), 1, "{report}");
    assert_eq!(revoked[0]["entry"], device_ids[1].as_str());
    assert_eq!(revoked[0]["seq"], 1);
    assert!(
        revoked[0]["message"].as_str().unwrap().contains(&earlier),
        "{report}"
    );
}

fn store_json(store: &TestStore) -> Value {
    serde_json::from_slice(&std::fs::read(store.dir.join("store.json")).unwrap()).unwrap()
}

fn rotate(store: &TestStore, reason: &str) -> String {
    let out = store.run(&["key", "rotate", "--reason", reason]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    assert_eq!(id.len(), 16, "{id}");
    id
}

fn segment_sizes(store: &TestStore) -> std::collections::BTreeMap<String, u64> {
    std::fs::read_dir(store.dir.join("logs"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::metadata(&p).unwrap().len())
        })
        .collect()
}

#[test]
fn key_rotation_moves_the_store_to_a_new_log_and_partners_follow() {
    let a = TestStore::new();
    let first = a.add("casualty", CASUALTY);
    let b = partner_of(&a);
    let out = b.run(&["import", export(&a, "before.bundle").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let root = store_json(&a)["group_key"].as_str().unwrap().to_string();
    let group_key_file = std::fs::read(a.dir.join("group.key")).unwrap();
    let new_id = rotate(&a, "yearly rotation");
    let meta = store_json(&a);
    let new_key = meta["group_key"].as_str().unwrap().to_string();
    assert_ne!(new_key, root);
    assert_eq!(meta["former_keys"], serde_json::json!([root.clone()]));
    // The old key file is kept as it was; the new one is a new file, 0600.
    assert_eq!(
        std::fs::read(a.dir.join("group.key")).unwrap(),
        group_key_file
    );
    let new_file = a.dir.join(format!("group-keys/{new_key}.key"));
    let new_text = std::fs::read_to_string(&new_file).unwrap();
    assert!(new_text.contains(&new_id), "{new_text}");
    assert!(a.dir.join(format!("group-keys/{new_key}.pub")).exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&new_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let shown = stdout(&a.run(&["key", "show"]));
    assert!(
        shown.contains(&new_id) && shown.contains("former keys"),
        "{shown}"
    );

    // New entries go to the new key's log; the old log takes no more.
    let before = segment_sizes(&a);
    let second = a.add("casualty", CASUALTY);
    let shown: Value = serde_json::from_str(&stdout(&a.run(&["show", &second, "--json"]))).unwrap();
    assert_eq!(shown["log"], new_key.as_str());
    let after = segment_sizes(&a);
    assert_eq!(
        after[&format!("{root}.seg")],
        before[&format!("{root}.seg")]
    );
    assert!(after.contains_key(&format!("{new_key}.seg")));
    let out = a.run(&["audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // A partner who trusts only the root verifies and imports the new
    // key's entries: the bundle carries the rotation.
    let bundle = export(&a, "after.bundle");
    let out = verify_ok(&b, &bundle);
    assert!(
        stdout(&out).contains("the group's new key (rotated to by entry"),
        "{}",
        stdout(&out)
    );
    let out = b.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&b.run(&["list"]));
    assert!(
        listed.contains(&first[..16]) && listed.contains(&second[..16]),
        "{listed}"
    );
    let out = b.run(&["audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // The partner cosigns the new log's checkpoint (its key is trusted
    // through the rotation), and the group takes the cosignature back.
    let checkpoint = a._temp.path().join("new.checkpoint");
    let out = a.run(&["checkpoint"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(&checkpoint, &out.stdout).unwrap();
    let out = b.run(&["cosign", checkpoint.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cosigned = a._temp.path().join("cosigned.checkpoint");
    std::fs::write(&cosigned, &out.stdout).unwrap();
    let b_pub = b._temp.path().join("b.pub");
    assert!(b
        .run(&["key", "export", "--out", b_pub.to_str().unwrap()])
        .status
        .success());
    assert!(a
        .run(&["trust", "add", b_pub.to_str().unwrap(), "--name", "B"])
        .status
        .success());
    let out = a.run(&["import", cosigned.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // `key export` still hands out the root, which a new partner trusts.
    let fresh = TestStore::new();
    let root_pub = a._temp.path().join("root.pub");
    let out = a.run(&["key", "export", "--out", root_pub.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&root_pub).unwrap().contains(&root));
    let out = fresh.run(&["trust", "add", root_pub.to_str().unwrap(), "--name", "A"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = fresh.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Nobody else does.
    let stranger = TestStore::new();
    let out = stranger.run(&["import", bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // A second rotation chains from the first.
    let third_id = rotate(&a, "laptop replaced");
    assert_ne!(third_id, new_id);
    assert_eq!(std::fs::read_to_string(&new_file).unwrap(), new_text);
    let third = a.add("casualty", CASUALTY);
    let out = b.run(&["import", export(&a, "third.bundle").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&b.run(&["list"])).contains(&third[..16]));
}

#[test]
fn an_interrupted_rotation_is_finished_by_running_it_again() {
    let a = TestStore::new();
    a.add("casualty", CASUALTY);
    let meta_before = std::fs::read(a.dir.join("store.json")).unwrap();
    let new_id = rotate(&a, "scheduled");
    // The state a crash between the signed entry and the switch of
    // store.json leaves: the log ends with the rotation, the store still
    // names the old key.
    std::fs::write(a.dir.join("store.json"), &meta_before).unwrap();
    let out = a.try_add("casualty", CASUALTY);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sijill key rotate"),
        "{}",
        stderr(&out)
    );
    let out = a.run(&["key", "rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("finished the rotation"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out).trim(), new_id);
    a.add("casualty", CASUALTY);
    let out = a.run(&["audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_rotated_key_is_sealed_with_the_group_passphrase() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("store");
    let pass = "correct horse battery staple";
    let run = |args: &[&str], passphrase: Option<&str>| {
        let mut cmd = sijill(&dir);
        if let Some(p) = passphrase {
            cmd.env("SIJILL_PASSPHRASE", p);
        }
        cmd.args(args).output().unwrap()
    };
    let out = run(&["init", "--org", "Sealed Group"], Some(pass));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["key", "rotate"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(&["key", "rotate"], Some("wrong horse"));
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&["key", "rotate"], Some(pass));
    assert!(out.status.success(), "{}", stderr(&out));
    let meta: Value =
        serde_json::from_slice(&std::fs::read(dir.join("store.json")).unwrap()).unwrap();
    let key = meta["group_key"].as_str().unwrap();
    let text = std::fs::read_to_string(dir.join(format!("group-keys/{key}.key"))).unwrap();
    assert!(text.contains("argon2id"), "{text}");
    let out = run(&["key", "show"], None);
    assert!(
        stdout(&out).contains("encrypted with a passphrase"),
        "{}",
        stdout(&out)
    );
    let out = sijill(&dir)
        .env("SIJILL_PASSPHRASE", pass)
        .args(["add", "casualty", "--json", "-"])
        .write_stdin(CASUALTY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_export_stops_a_revoked_log_at_its_revocation_point() {
    let a = TestStore::new();
    let out = a.run(&["key", "add-device", "--name", "laptop-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let device_id = stdout(&out).trim().to_string();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let out = add_as(&a, "laptop-1");
        assert!(out.status.success(), "{}", stderr(&out));
        ids.push(stdout(&out).trim().to_string());
    }
    // The laptop was seized after its first entry.
    let out = a.run(&[
        "key",
        "revoke",
        &device_id,
        "--keep-up-to",
        "1",
        "--reason",
        "seized",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let revocation = stdout(&out).trim().to_string();
    let path = a._temp.path().join("stopped.bundle");
    let out = a.run(&["export", "--out", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains(&format!(
            "log {device_id} was revoked by entry {revocation}"
        )) && said.contains("exported up to its checkpoint of size 1")
            && said.contains("its entries 1 to 2 do not travel"),
        "{said}"
    );
    // The partner verifies and imports what precedes the revocation point.
    let b = partner_of(&a);
    verify_ok(&b, &path);
    let out = b.run(&["import", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&b.run(&["list"]));
    assert!(listed.contains(&ids[0][..16]), "{listed}");
    assert!(
        !listed.contains(&ids[1][..16]) && !listed.contains(&ids[2][..16]),
        "{listed}"
    );
    let out = b.run(&["audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // Revoked from its first entry: the log stays home whole.
    let out = a.run(&["key", "add-device", "--name", "laptop-2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let second = stdout(&out).trim().to_string();
    let out = add_as(&a, "laptop-2");
    assert!(out.status.success(), "{}", stderr(&out));
    let lost = stdout(&out).trim().to_string();
    let out = a.run(&[
        "key",
        "revoke",
        &second,
        "--keep-up-to",
        "0",
        "--reason",
        "lost",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let path = a._temp.path().join("stopped2.bundle");
    let out = a.run(&["export", "--out", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("log {second} was revoked"))
            && stderr(&out).contains("left out"),
        "{}",
        stderr(&out)
    );
    let out = b.run(&["import", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&b.run(&["list"])).contains(&lost[..16]));
}

#[test]
fn groups_follow_certification_and_rotation_and_former_keys_are_revoked_by_successors() {
    let (a0, a1, b) = (key(1), key(3), key(7));
    let (da, db, evil) = (key(2).verifying_key(), key(8).verifying_key(), key(9));
    let certify = |k| KeyBody::Certify {
        key: k,
        name: "d".into(),
        reason: None,
    };
    let rotate = |k: &SigningKey| KeyBody::Rotate {
        new_key: k.verifying_key(),
        reason: "r".into(),
    };
    let revoke = |k: &SigningKey, keep_up_to| KeyBody::Revoke {
        key: k.verifying_key(),
        keep_up_to,
        reason: "compromised".into(),
    };
    let mut events = vec![
        event(&a0, 0, 1, certify(da)),
        event(&a0, 1, 2, rotate(&a1)),
        event(&b, 0, 3, certify(db)),
        // A group cannot claim another's key: an entry naming a root
        // carries nothing, and a device two groups certify is neither's.
        event(&b, 1, 4, rotate(&a0)),
        event(&b, 2, 5, certify(a1.verifying_key())),
    ];
    let roots = [a0.verifying_key(), b.verifying_key()];
    let t = GroupTrust::derive(&roots, &events);
    assert!(t.same_group(&a0.verifying_key(), &a1.verifying_key()));
    assert!(t.same_group(&a1.verifying_key(), &da));
    assert!(t.same_group(&b.verifying_key(), &db));
    assert!(!t.same_group(&a0.verifying_key(), &b.verifying_key()));
    assert!(!t.same_group(&a1.verifying_key(), &db));
    events.push(event(&b, 3, 6, certify(da)));
    let t = GroupTrust::derive(&roots, &events);
    assert!(t.is_trusted(&da));
    assert!(!t.same_group(&da, &a0.verifying_key()));
    assert!(!t.same_group(&da, &b.verifying_key()));
    events.pop();
    // A store's own keys are one group even as roots.
    let t = GroupTrust::derive_with_own(
        &[a1.verifying_key(), a0.verifying_key()],
        &[b.verifying_key()],
        &events,
    );
    assert!(t.is_own(&a0.verifying_key()) && t.is_own(&da));
    assert!(!t.is_own(&db));

    // The old key is compromised after the rotation (its log held 2
    // entries): the thief rotates to a key of its own and revokes the new
    // key; the group revokes the old key from seq 2 in the new key's log.
    events.push(event(&a0, 2, 10, rotate(&evil)));
    events.push(event(&a0, 3, 11, revoke(&a1, 0)));
    let t = GroupTrust::derive(&roots, &events);
    // Before the revocation reaches a partner, the thief's entries count.
    assert!(t.is_trusted(&evil.verifying_key()));
    events.push(event(&a1, 0, 12, revoke(&a0, 2)));
    // A partner's revocation of another group's root does not count.
    events.push(event(&b, 4, 13, revoke(&a0, 0)));
    for order in [false, true] {
        let mut events = events.clone();
        if order {
            events.reverse();
        }
        let t = GroupTrust::derive(&roots, &events);
        assert!(t.is_trusted(&a0.verifying_key()));
        assert!(t.revoked_entry(&a0.verifying_key(), 1).is_none());
        let why = t.revoked_entry(&a0.verifying_key(), 2).unwrap();
        assert!(
            why.contains("compromised") && why.contains("seq 2"),
            "{why}"
        );
        assert_eq!(
            t.revocation(&a0.verifying_key()).unwrap().entry,
            sijill::entry::EntryId([12; 32])
        );
        assert!(!t.is_trusted(&evil.verifying_key()));
        assert!(t.revocation(&a1.verifying_key()).is_none());
        assert!(t.same_group(&a0.verifying_key(), &a1.verifying_key()));
        assert!(t.same_group(&a1.verifying_key(), &da));
    }
    // A revocation that would cut the rotation it descends through does not
    // count; nor does one by a key the revoked key never rotated to.
    let cutting = vec![
        event(&a0, 0, 1, rotate(&a1)),
        event(&a1, 0, 2, revoke(&a0, 0)),
        event(&b, 0, 3, revoke(&a1, 0)),
    ];
    let t = GroupTrust::derive(&[a0.verifying_key(), b.verifying_key()], &cutting);
    assert!(t.revocation(&a0.verifying_key()).is_none());
    assert!(t.revocation(&a1.verifying_key()).is_none());
    assert!(t.is_trusted(&a1.verifying_key()));
}

fn show_json(store: &TestStore, id: &str) -> Value {
    let out = store.run(&["show", id, "--json", "--history"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ok(store: &TestStore, args: &[&str]) -> String {
    let out = store.run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

#[test]
fn a_group_acts_on_what_it_wrote_with_a_former_key_or_a_device() {
    let a = TestStore::new();
    let c0 = a.add("casualty", CASUALTY);
    let c1 = a.add("casualty", CASUALTY);
    let m0 = a.add("missing", MISSING);
    ok(&a, &["key", "add-device", "--name", "laptop-1"]);
    let out = add_as(&a, "laptop-1");
    assert!(out.status.success(), "{}", stderr(&out));
    let d0 = stdout(&out).trim().to_string();
    let b = partner_of(&a);
    let out = b.run(&["import", export(&a, "before.bundle").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    rotate(&a, "yearly rotation");

    // The group amends and changes the status of what its old key wrote:
    // its own word, not a conflict between groups.
    ok(
        &a,
        &[
            "amend",
            &c0,
            "--set",
            "date_of_death=2018-01-24",
            "--reason",
            "death certificate",
        ],
    );
    ok(
        &a,
        &["status", &m0, "detained-acknowledged", "--reason", "list"],
    );
    ok(
        &a,
        &[
            "corroborate",
            &m0,
            "--source-type",
            "official",
            "--reason",
            "the detention was acknowledged",
        ],
    );
    let v = show_json(&a, &c0);
    assert_eq!(v["view"]["current"]["date_of_death"], "2018-01-24");
    assert_eq!(v["view"]["conflicts"], serde_json::json!([]), "{v}");
    let v = show_json(&a, &m0);
    assert_eq!(v["view"]["current"]["status"], "detained-acknowledged");
    assert_eq!(v["view"]["conflicts"], serde_json::json!([]), "{v}");
    assert_eq!(v["view"]["corroborations"][0]["trusted_name"], "Test Group");
    // It links and unlinks its former key's record and its device's.
    let link = ok(
        &a,
        &[
            "link",
            &c1,
            &d0,
            "--same-person",
            "--certainty",
            "likely",
            "--reason",
            "same name and date",
        ],
    );
    ok(
        &a,
        &["link", "--unlink", &link, "--reason", "different fathers"],
    );
    let v = show_json(&a, &d0);
    assert_eq!(
        v["view"]["links"][0]["withdrawn_by"].as_str().map(str::len),
        Some(64)
    );
    // It retracts them, with the new key.
    ok(&a, &["retract", &c1, "--reason", "duplicate"]);
    ok(
        &a,
        &["retract", &d0, "--reason", "entered on the wrong form"],
    );
    for id in [&c1, &d0] {
        let v = show_json(&a, id);
        assert!(v["view"]["retracted"].is_object(), "{v}");
    }
    let out = a.run(&["audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // A partner that holds the key entries folds the same.
    let out = b.run(&["import", export(&a, "after.bundle").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for id in [&c0, &c1, &d0] {
        let here = show_json(&a, id);
        let there = show_json(&b, id);
        for field in ["current", "retracted", "conflicts", "links"] {
            assert_eq!(here["view"][field], there["view"][field], "{id} {field}");
        }
    }
    let v = show_json(&b, &d0);
    assert!(v["view"]["retracted"].is_object(), "{v}");
    let history = v["history"].as_array().unwrap();
    assert!(
        history.iter().all(|s| s["trusted_name"] == "Group A"),
        "{v}"
    );
    // ... and the partner cannot retract them: it is another group.
    let out = b.run(&["retract", &c0, "--reason", "mine now"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("another group"), "{}", stderr(&out));
}

#[test]
fn show_names_the_device_that_wrote_a_record() {
    let a = TestStore::new();
    let device = ok(&a, &["key", "add-device", "--name", "laptop-aleppo-2"]);
    let out = add_as(&a, "laptop-aleppo-2");
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let text = ok(&a, &["show", &id, "--history"]);
    assert!(
        text.contains(&format!(
            "written by   this group's device laptop-aleppo-2 (key {device}, certified by entry"
        )),
        "{text}"
    );
    assert!(!text.contains("no import record"), "{text}");
    assert!(
        text.contains(&format!(
            "signed by {device} (Test Group, device laptop-aleppo-2)"
        )),
        "{text}"
    );
    let v = show_json(&a, &id);
    assert_eq!(v["written_by"]["device"], "laptop-aleppo-2");
    assert_eq!(v["written_by"]["key_id"], device.as_str());
    assert!(v.get("imported").is_none(), "{v}");
}

fn key_id_of(hex_key: &Value) -> String {
    let key = sijill::keys::parse_public_key_hex(hex_key.as_str().unwrap()).unwrap();
    sijill::keys::key_id(&key).to_string()
}

/// The thief's side: sign into the old key's log with the old key file, as
/// no command does, and export that log signed by it.
fn thief_bundle(copy: &std::path::Path, out: &std::path::Path) {
    use sijill::store::Store;
    let mut store = Store::open(copy).unwrap();
    let text = std::fs::read_to_string(copy.join("group.key")).unwrap();
    let old = sijill::keys::open_secret_key(&text, None).unwrap();
    let record = sijill::record::parse_record(
        sijill::record::RecordKind::Casualty,
        CASUALTY.as_bytes(),
        time::macros::date!(2030 - 01 - 01),
    )
    .unwrap();
    store
        .append_records(&old, vec![record], time::OffsetDateTime::now_utc())
        .unwrap();
    store.sign_checkpoint(&old).unwrap();
    sijill::exchange::export(&mut store, &old, &Default::default(), out).unwrap();
}

#[test]
fn a_former_group_key_is_revoked_by_the_key_it_rotated_to() {
    let a = TestStore::new();
    a.add("casualty", CASUALTY);
    let root_id = key_id_of(&store_json(&a)["group_key"]);
    let b = partner_of(&a);
    rotate(&a, "the old key was on a seized laptop");
    // The old key's log holds the record and the rotation: 2 entries.
    let seized = tempfile::tempdir().unwrap();
    let copy = seized.path().join("store");
    copy_dir(&a.dir, &copy);

    // The current key cannot be revoked, nor a partner's; a revocation that
    // would cut the rotation is refused.
    let current = key_id_of(&store_json(&a)["group_key"]);
    let out = a.run(&["key", "revoke", &current, "--reason", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("key rotate"), "{}", stderr(&out));
    let out = a.run(&[
        "key",
        "revoke",
        &root_id,
        "--keep-up-to",
        "1",
        "--reason",
        "compromised",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("would cut the rotation") && stderr(&out).contains("--keep-up-to 2"),
        "{}",
        stderr(&out)
    );
    let out = a.run(&["key", "revoke", &root_id, "--reason", "compromised"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("former group key {root_id} revoked"))
            && stderr(&out).contains("from seq 2 on"),
        "{}",
        stderr(&out)
    );
    let revocation = stdout(&out).trim().to_string();
    let out = a.run(&["key", "revoke", &root_id, "--reason", "again"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = a.run(&["audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let after = a.add("casualty", CASUALTY);

    // The partner, who trusts only the old key, takes the rotation and the
    // revocation; its whole log still verifies and imports.
    let bundle = export(&a, "after.bundle");
    let out = b.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&b.run(&["list"])).contains(&after[..16]));
    // The thief's entry past the revocation point does not verify, at a
    // partner that holds the revocation; nor at a new partner importing
    // the group's bundle first.
    let stolen = seized.path().join("stolen.bundle");
    thief_bundle(&copy, &stolen);
    let fresh = partner_of(&a);
    let out = fresh.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for partner in [&b, &fresh] {
        let before = stdout(&partner.run(&["list"]));
        let out = partner.run(&["verify", stolen.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("revoked") && err.contains(&revocation) && err.contains(&root_id),
            "{err}"
        );
        let out = partner.run(&["import", stolen.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("from seq 2 on"), "{}", stderr(&out));
        assert_eq!(stdout(&partner.run(&["list"])), before);
        let out = partner.run(&["audit"]);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    }
    // A partner that never got the revocation takes the thief's entry: the
    // revocation reaches it with the group's next bundle, and its audit
    // then names the entry.
    let late = partner_of(&a);
    let out = late.run(&["import", stolen.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = late.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = late.run(&["audit", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let revoked: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["property"] == "revoked-key")
        .collect();
    assert_eq!(revoked.len(), 1, "{report}");
    assert_eq!(revoked[0]["seq"], 2);
}

#[test]
fn a_cosigned_checkpoint_of_a_former_log_comes_back() {
    let a = TestStore::new();
    a.add("casualty", CASUALTY);
    let root = store_json(&a)["group_key"].as_str().unwrap().to_string();
    let b = partner_of(&a);
    rotate(&a, "yearly rotation");
    let out = b.run(&["import", export(&a, "after.bundle").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The partner holds the old log's last checkpoint (the one covering the
    // rotation) and cosigns it.
    let held = std::fs::read_to_string(b.dir.join(format!("checkpoints/{root}.jsonl"))).unwrap();
    let last: Value = serde_json::from_str(held.lines().last().unwrap()).unwrap();
    let note = a._temp.path().join("old.checkpoint");
    std::fs::write(&note, last["note"].as_str().unwrap()).unwrap();
    assert!(last["note"].as_str().unwrap().contains("\n2\n"), "{last}");
    let out = b.run(&["cosign", note.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cosigned = a._temp.path().join("old.cosigned");
    std::fs::write(&cosigned, &out.stdout).unwrap();
    // The group takes it back once it trusts the partner, as a checkpoint
    // of one of its own logs.
    let out = a.run(&["import", cosigned.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let b_pub = b._temp.path().join("b.pub");
    ok(&b, &["key", "export", "--out", b_pub.to_str().unwrap()]);
    ok(
        &a,
        &["trust", "add", b_pub.to_str().unwrap(), "--name", "B"],
    );
    let out = a.run(&["import", cosigned.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("\"B\""), "{}", stderr(&out));
    let kept = std::fs::read_to_string(a.dir.join(format!("checkpoints/{root}.jsonl"))).unwrap();
    let last: Value = serde_json::from_str(kept.lines().last().unwrap()).unwrap();
    assert_eq!(last["source"], "cosigned");
    assert!(
        last["note"].as_str().unwrap().contains("sijill.witness/"),
        "{last}"
    );
    let out = a.run(&["audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_device_another_group_also_certifies_is_still_revoked_by_its_group() {
    let a = TestStore::new();
    let device = ok(&a, &["key", "add-device", "--name", "laptop-1"]);
    let out = add_as(&a, "laptop-1");
    assert!(out.status.success(), "{}", stderr(&out));
    let record = stdout(&out).trim().to_string();
    // Partner P signs a key-certify of A's device key into its own log, as
    // no command does, and A imports it.
    let p = TestStore::new();
    let device_key = {
        let text = std::fs::read_to_string(a.dir.join("keys/laptop-1.key")).unwrap();
        sijill::keys::open_secret_key(&text, None)
            .unwrap()
            .verifying_key()
    };
    {
        let mut store = sijill::store::Store::open(&p.dir).unwrap();
        let key = store.signing_key(None).unwrap();
        let body = KeyBody::Certify {
            key: device_key,
            name: "not-yours".into(),
            reason: None,
        };
        store
            .append_bodies(&key, vec![Body::Key(body)], time::OffsetDateTime::now_utc())
            .unwrap();
    }
    let p_pub = p._temp.path().join("p.pub");
    ok(&p, &["key", "export", "--out", p_pub.to_str().unwrap()]);
    ok(
        &a,
        &["trust", "add", p_pub.to_str().unwrap(), "--name", "P"],
    );
    let out = a.run(&["import", export(&p, "p.bundle").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The device is in neither group now: P cannot retract what it wrote
    // (nor, until A stops trusting P, can A), but A still revokes it.
    let text = ok(&a, &["show", &record]);
    assert!(!text.contains("written by"), "{text}");
    let out = a.run(&["key", "revoke", &device, "--reason", "claimed by P"]);
    assert!(out.status.success(), "{}", stderr(&out));
    ok(&a, &["trust", "remove", "P"]);
    let text = ok(&a, &["show", &record]);
    assert!(text.contains("written by"), "{text}");
    ok(&a, &["retract", &record, "--reason", "entered twice"]);
}
