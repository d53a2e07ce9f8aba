//! The command line as a user meets it: what each command prints, its exit
//! status, and that refused input leaves the store exactly as it was.

mod common;

use common::*;

#[test]
fn add_prints_only_the_id_and_show_list_find_it() {
    let store = TestStore::new();
    let out = store
        .cmd()
        .args(["add", "casualty", "--json"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/records/casualty.json"
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert_eq!(printed.len(), 65, "64 hex and a newline: {printed:?}");
    let id = printed.trim_end();
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));

    let missing_id = store.add("missing", MISSING);

    let show = store.run(&["show", &id[..8]]);
    assert!(show.status.success(), "{}", stderr(&show));
    assert!(stdout(&show).contains(id));
    assert!(stdout(&show).contains("محمد أحمد الحلبي"));

    let json = store.run(&["show", id, "--json", "--history"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["id"], id);
    assert_eq!(value["kind"], "casualty");
    assert_eq!(value["seq"], 0);
    assert_eq!(value["history"].as_array().unwrap().len(), 1);

    let list = stdout(&store.run(&["list"]));
    assert!(
        list.contains(&id[..16]) && list.contains(&missing_id[..16]),
        "{list}"
    );
    let only_missing = stdout(&store.run(&["list", "--kind", "missing"]));
    assert!(!only_missing.contains(&id[..16]) && only_missing.contains(&missing_id[..16]));
    let list_json: serde_json::Value =
        serde_json::from_slice(&store.run(&["list", "--json"]).stdout).unwrap();
    assert_eq!(list_json.as_array().unwrap().len(), 2);

    let audit = store.run(&["audit"]);
    assert_eq!(audit.status.code(), Some(0), "{}", stdout(&audit));
}

#[test]
fn key_show_prints_the_key_id_and_public_key() {
    let store = TestStore::new();
    let out = store.run(&["key", "show"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let public = std::fs::read_to_string(store.dir.join("group.pub")).unwrap();
    let hex_line = public
        .lines()
        .find(|l| l.starts_with("sijill-public-key-v1 "))
        .unwrap();
    assert!(text.contains(hex_line.split(' ').nth(1).unwrap()), "{text}");
    assert!(text.contains("key id"));
    assert!(text.contains("NOT encrypted"));
}

#[test]
fn unknown_field_is_named_and_nothing_is_written() {
    let store = TestStore::new();
    store.add("casualty", CASUALTY);
    let before = snapshot(&store.dir);
    let bad = CASUALTY.replace("\"sex\"", "\"gender\"");
    let out = store.try_add("casualty", &bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("gender"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert_eq!(snapshot(&store.dir), before);
}

#[test]
fn nested_unknown_field_and_impossible_date_are_named() {
    let store = TestStore::new();
    let nested = CASUALTY.replace("\"district\"", "\"distrct\"");
    let out = store.try_add("casualty", &nested);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("place_of_death") && err.contains("distrct"),
        "{err}"
    );

    let impossible = CASUALTY.replace("2018-01-25", "2018-02-30");
    let out = store.try_add("casualty", &impossible);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("date_of_death") && err.contains("2018-02-30"),
        "{err}"
    );

    let future = CASUALTY.replace("2018-01-25", "2999-01-01");
    let out = store.try_add("casualty", &future);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("date_of_death"), "{}", stderr(&out));
}

#[test]
fn malformed_json_gives_line_and_column() {
    let store = TestStore::new();
    let out = store.try_add(
        "missing",
        "{\n  \"name\": {\"ar\": \"سارة\"},\n  \"sex\": female\n}",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("<stdin>:3:"), "{err}");
}

#[test]
fn missing_input_file_and_bad_flags_are_usage_errors() {
    let store = TestStore::new();
    let out = store.run(&["add", "casualty", "--json", "/nonexistent/rec.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/rec.json"));
    let out = store.run(&["add", "wounded", "--json", "-"]);
    assert_eq!(out.status.code(), Some(2));
    let out = store.run(&["show", "abc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at least 8"), "{}", stderr(&out));
    let out = store.run(&["show", "0123456789abcdef"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no entry"), "{}", stderr(&out));
}

#[test]
fn commands_on_a_missing_store_say_how_to_create_one() {
    let temp = tempfile::tempdir().unwrap();
    let out = sijill(&temp.path().join("nothing"))
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("hint: create one"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn init_refuses_an_existing_store() {
    let store = TestStore::new();
    let before = snapshot(&store.dir);
    let out = store.run(&["init", "--org", "Other", "--no-passphrase"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"));
    assert_eq!(snapshot(&store.dir), before);
}

#[test]
fn passphrase_protects_the_key_and_a_wrong_one_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("store");
    let out = sijill(&dir)
        .env("SIJILL_PASSPHRASE", "correct horse battery staple")
        .args(["init", "--org", "Test Group"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let secret = std::fs::read_to_string(dir.join("group.key")).unwrap();
    assert!(
        !secret.contains("secret:"),
        "the seed must not be stored in clear"
    );
    let before = snapshot(&dir);

    let out = sijill(&dir)
        .env("SIJILL_PASSPHRASE", "wrong horse")
        .args(["add", "casualty", "--json", "-"])
        .write_stdin(CASUALTY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("wrong passphrase"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&dir), before);

    // No passphrase and no terminal: a clear error, not a hang.
    let out = sijill(&dir)
        .args(["add", "casualty", "--json", "-"])
        .write_stdin(CASUALTY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("SIJILL_PASSPHRASE"),
        "{}",
        stderr(&out)
    );

    let out = sijill(&dir)
        .env("SIJILL_PASSPHRASE", "correct horse battery staple")
        .args(["add", "casualty", "--json", "-"])
        .write_stdin(CASUALTY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn secret_key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let store = TestStore::new();
    let mode = std::fs::metadata(store.dir.join("group.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_second_process_gets_store_in_use() {
    let store = TestStore::new();
    let held = sijill::store::Store::open(&store.dir).unwrap();
    let before = snapshot(&store.dir);
    let out = store.try_add("casualty", CASUALTY);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
    assert_eq!(snapshot(&store.dir), before);
    drop(held);
    store.add("casualty", CASUALTY);
}

#[test]
fn demo_runs_the_whole_workflow() {
    let out = assert_cmd::Command::cargo_bin("sijill")
        .unwrap()
        .arg("demo")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "[signature]",
        "[torn-tail]",
        "(clean)",
        "date_of_death",
        "trusted as",
        "imported ",
        "sijill.witness/",
        "withheld leaves",
        // A device key certified by the group, an entry it signed, and the
        // partner's verification trusting it through the group key.
        "$ sijill key add-device --name laptop-aleppo-2",
        "--as-device laptop-aleppo-2",
        "trusted as \"device key laptop-aleppo-2 (certified by entry",
    ] {
        assert!(
            text.contains(expected),
            "demo output lacks {expected}:\n{text}"
        );
    }
    // The partner imports the group's log and the device's.
    assert_eq!(text.matches(": added entries 0 to").count(), 2, "{text}");
}
