//! The record lifecycle from the command line: each step, each refusal, and a
//! record folded through amendments, status changes and a retraction.

mod common;

use common::*;
use serde_json::Value;

fn ok(store: &TestStore, args: &[&str]) -> String {
    let out = store.run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let id = stdout(&out).trim_end().to_string();
    id
}

fn refused(store: &TestStore, args: &[&str], needle: &str) {
    let before = std::fs::read(store.segment()).unwrap();
    let out = store.run(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(
        stderr(&out).contains(needle),
        "{args:?}: expected {needle:?} in {}",
        stderr(&out)
    );
    assert_eq!(
        before,
        std::fs::read(store.segment()).unwrap(),
        "a refusal wrote to the log"
    );
}

fn show(store: &TestStore, id: &str) -> Value {
    let out = store.run(&["show", id, "--json", "--history"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_missing_person_folded_through_amend_status_and_retraction() {
    let store = TestStore::new();
    let m = store.add("missing", MISSING);
    let s1 = ok(
        &store,
        &[
            "status",
            &m,
            "detained-unacknowledged",
            "--reason",
            "fellow detainee saw her",
        ],
    );
    let a = ok(
        &store,
        &[
            "amend",
            &m,
            "--set",
            "last_seen.place.locality=Harasta",
            "--set",
            r#"age:={"years": 23}"#,
            "--reason",
            "family interview",
        ],
    );
    let s2 = ok(
        &store,
        &[
            "status",
            &m,
            "death-notified-without-remains",
            "--date",
            "2019-03",
            "--reason",
            "civil registry notice",
        ],
    );
    let v = show(&store, &m);
    assert_eq!(
        v["view"]["current"]["status"],
        "death-notified-without-remains"
    );
    assert_eq!(
        v["view"]["case_open"], true,
        "a notice without remains keeps the case open"
    );
    assert_eq!(v["view"]["status_date"], "2019-03");
    assert_eq!(
        v["view"]["current"]["last_seen"]["place"]["locality"],
        "Harasta"
    );
    assert_eq!(
        v["view"]["current"]["age"],
        serde_json::json!({"years": 23})
    );
    let s3 = ok(
        &store,
        &["status", &m, "found-dead", "--reason", "remains identified"],
    );
    let r = ok(
        &store,
        &[
            "retract",
            &m,
            "--reason",
            "entered twice; see the other record",
        ],
    );
    let v = show(&store, &m);
    assert_eq!(v["view"]["current"]["status"], "found-dead");
    assert_eq!(v["view"]["case_open"], false);
    assert_eq!(v["view"]["retracted"]["by"], r.as_str());
    assert_eq!(
        v["view"]["retracted"]["reason"],
        "entered twice; see the other record"
    );
    let history: Vec<(String, String)> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["id"].as_str().unwrap().into(),
                h["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        (&m, "missing"),
        (&s1, "status-change"),
        (&a, "amendment"),
        (&s2, "status-change"),
        (&s3, "status-change"),
        (&r, "retraction"),
    ]
    .into_iter()
    .map(|(i, k)| (i.to_string(), k.to_string()))
    .collect();
    assert_eq!(history, expected);
    assert_eq!(v["history"][2]["reason"], "family interview");
    let text = stdout(&store.run(&["show", &m, "--history"]));
    assert!(
        text.contains("RETRACTED") && text.contains("why: civil registry notice"),
        "{text}"
    );

    // Nothing more is said about a retracted record.
    refused(
        &store,
        &["amend", &m, "--set", "notes=x", "--reason", "y"],
        "was retracted",
    );
    refused(
        &store,
        &["retract", &m, "--reason", "again"],
        "was retracted",
    );
    let c = store.add("casualty", CASUALTY);
    refused(
        &store,
        &[
            "link",
            &m,
            &c,
            "--same-person",
            "--certainty",
            "likely",
            "--reason",
            "z",
        ],
        "was retracted",
    );
    // The index is derived: a rebuild gives the same view.
    assert!(store.run(&["reindex"]).status.success());
    assert_eq!(show(&store, &m)["view"], v["view"]);
    assert_eq!(store.run(&["audit"]).status.code(), Some(0));
}

#[test]
fn refusals_name_the_problem_and_write_nothing() {
    let store = TestStore::new();
    let c = store.add("casualty", CASUALTY);
    let m = store.add("missing", MISSING);
    let absent = "0".repeat(64);
    refused(
        &store,
        &["amend", &absent, "--set", "notes=x", "--reason", "y"],
        "no entry with id",
    );
    refused(
        &store,
        &["retract", &absent, "--reason", "y"],
        "no entry with id",
    );
    refused(
        &store,
        &[
            "link",
            &c,
            &absent,
            "--same-person",
            "--certainty",
            "likely",
            "--reason",
            "y",
        ],
        "no entry with id",
    );
    // Same message as `add`, with the field.
    refused(
        &store,
        &["amend", &c, "--set", "cause=bombing", "--reason", "y"],
        "field `cause`",
    );
    refused(
        &store,
        &[
            "amend",
            &c,
            "--set",
            "date_of_death=2099-01-01",
            "--reason",
            "y",
        ],
        "in the future",
    );
    refused(
        &store,
        &["amend", &m, "--set", "status=released", "--reason", "y"],
        "status change",
    );
    refused(
        &store,
        &["status", &c, "found-dead", "--reason", "y"],
        "missing-person records",
    );
    refused(
        &store,
        &["status", &m, "dead", "--reason", "y"],
        "field `status`",
    );
    refused(
        &store,
        &[
            "link",
            &c,
            &c,
            "--same-person",
            "--certainty",
            "likely",
            "--reason",
            "y",
        ],
        "linked to itself",
    );
    refused(
        &store,
        &["link", "--unlink", &c, "--reason", "y"],
        "not a same-person link",
    );
    refused(
        &store,
        &["amend", &c, "--set", "notes=x", "--reason", " "],
        "--reason is empty",
    );

    let link = ok(
        &store,
        &[
            "link",
            &c,
            &m,
            "--same-person",
            "--certainty",
            "possible",
            "--reason",
            "same family name",
        ],
    );
    refused(
        &store,
        &[
            "link",
            &m,
            &c,
            "--same-person",
            "--certainty",
            "likely",
            "--reason",
            "y",
        ],
        "already linked",
    );
    let unlink = ok(
        &store,
        &["link", "--unlink", &link, "--reason", "different fathers"],
    );
    refused(
        &store,
        &["link", "--unlink", &link, "--reason", "y"],
        "already withdrawn",
    );
    let v = show(&store, &c);
    assert_eq!(v["view"]["links"][0]["withdrawn_by"], unlink.as_str());
    assert_eq!(v["view"]["links"][0]["certainty"], "possible");
    assert_eq!(v["history"].as_array().unwrap().len(), 3);
}

#[test]
fn amendments_and_corroborations_show_in_the_view() {
    let store = TestStore::new();
    let c = store.add("casualty", CASUALTY);
    ok(
        &store,
        &[
            "amend",
            &c,
            "--set",
            "date_of_death=٢٠١٨-٠١-٢٤",
            "--set",
            "place_of_death.locality=Douma",
            "--reason",
            "family interview",
        ],
    );
    ok(
        &store,
        &[
            "corroborate",
            &c,
            "--source-type",
            "medical",
            "--reference",
            "hospital register",
            "--reason",
            "death recorded",
        ],
    );
    let v = show(&store, &c);
    // Stored normalised, as `add` would store it.
    assert_eq!(v["view"]["current"]["date_of_death"], "2018-01-24");
    assert_eq!(v["view"]["current"]["place_of_death"]["locality"], "Douma");
    assert_eq!(
        v["history"][1]["body"]["set"]["date_of_death"],
        "2018-01-24"
    );
    assert_eq!(
        v["view"]["corroborations"][0]["body"]["source"]["type"],
        "medical"
    );
    // One group only: no conflict.
    assert_eq!(v["view"]["conflicts"].as_array().unwrap().len(), 0);
    // The original record is untouched.
    assert_eq!(v["body"]["date_of_death"], "2018-01-25");
}

fn stats_total(store: &TestStore) -> u64 {
    let v: Value = serde_json::from_str(&ok(store, &["stats", "--json"])).unwrap();
    v["total"].as_u64().unwrap()
}

/// Counts follow the current view: a retracted record is not counted, a
/// person linked across two records (likely or confirmed) is counted once,
/// a withdrawn or merely possible link merges nothing, and exports leave
/// retracted records out.
#[test]
fn counts_respect_retractions_and_same_person_links() {
    let store = TestStore::new();
    let a = store.add("casualty", CASUALTY);
    let b = store.add("casualty", CASUALTY);
    let c = store.add("casualty", CASUALTY);
    assert_eq!(stats_total(&store), 3);

    let possible = ok(
        &store,
        &[
            "link",
            &a,
            &b,
            "--same-person",
            "--certainty",
            "possible",
            "--reason",
            "similar names",
        ],
    );
    assert_eq!(stats_total(&store), 3, "a possible link merges nothing");
    ok(
        &store,
        &[
            "link",
            "--unlink",
            possible.trim(),
            "--reason",
            "checked: different fathers",
        ],
    );
    ok(
        &store,
        &[
            "link",
            &a,
            &b,
            "--same-person",
            "--certainty",
            "likely",
            "--reason",
            "same family interview",
        ],
    );
    assert_eq!(
        stats_total(&store),
        2,
        "a likely link counts the person once"
    );

    ok(
        &store,
        &["retract", &c, "--reason", "duplicate entry typed twice"],
    );
    assert_eq!(stats_total(&store), 1, "a retracted record is not counted");

    let out_path = store._temp.path().join("out.csv");
    let out = store.run(&["export-csv", "--out", out_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 retracted"), "{}", stderr(&out));
    let csv = std::fs::read_to_string(&out_path).unwrap();
    assert!(!csv.contains(&c[..16]) && csv.contains(&a[..16]), "{csv}");
}

/// Sign `bodies` into the group's log through the library, as no command
/// would: the commands refuse to name an entry the store does not hold.
fn append_crafted(store: &TestStore, bodies: Vec<sijill::lifecycle::Lifecycle>) -> Vec<String> {
    use sijill::entry::Body;
    let mut s = sijill::store::Store::open(&store.dir).unwrap();
    let key = s.signing_key(None).unwrap();
    let signed = s
        .append_bodies(
            &key,
            bodies.into_iter().map(Body::Lifecycle).collect(),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
    signed.iter().map(|e| e.id.to_hex()).collect()
}

fn target_findings(store: &TestStore) -> (Option<i32>, Vec<Value>) {
    let out = store.run(&["audit", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["property"] == "target")
        .cloned()
        .collect();
    (out.status.code(), findings)
}

#[test]
fn audit_reports_entries_about_records_the_store_does_not_hold() {
    use sijill::entry::EntryId;
    use sijill::lifecycle::{Lifecycle, Retraction, SamePersonUnlink, StatusChange};
    let a = TestStore::new();
    let casualty = a.add("casualty", CASUALTY);
    let missing = a.add("missing", MISSING);
    ok(&a, &["status", &missing, "released", "--reason", "family"]);
    ok(
        &a,
        &[
            "link",
            &casualty,
            &missing,
            "--same-person",
            "--certainty",
            "possible",
            "--reason",
            "r",
        ],
    );
    let (code, found) = target_findings(&a);
    assert_eq!((code, found.len()), (Some(0), 0), "{found:?}");

    let nowhere = EntryId([7; 32]);
    let casualty_id = EntryId::from_hex(&casualty).unwrap();
    let ids = append_crafted(
        &a,
        vec![
            Lifecycle::Retraction(Retraction {
                target: nowhere,
                reason: "crafted".into(),
            }),
            Lifecycle::StatusChange(StatusChange {
                target: casualty_id,
                status: sijill::record::MissingStatus::FoundDead,
                date: None,
                reason: "crafted".into(),
            }),
            Lifecycle::SamePersonUnlink(SamePersonUnlink {
                link: casualty_id,
                reason: "crafted".into(),
            }),
        ],
    );
    let (code, found) = target_findings(&a);
    assert_eq!(code, Some(1), "{found:?}");
    assert_eq!(found.len(), 3, "{found:?}");
    for (f, (id, seq, needle)) in found.iter().zip([
        (
            &ids[0],
            4,
            format!(
                "names {} in `target`, but the store holds no such entry",
                nowhere
            ),
        ),
        (&ids[1], 5, "not a missing-person record".to_string()),
        (
            &ids[2],
            6,
            "in `link`, which is a casualty entry, not a same-person-link entry".to_string(),
        ),
    ]) {
        assert_eq!(f["severity"], "error", "{f}");
        assert_eq!(f["entry"], id.as_str(), "{f}");
        assert_eq!(f["seq"], seq, "{f}");
        assert!(f["message"].as_str().unwrap().contains(&needle), "{f}");
    }

    // A partner that imports the retraction does not hold its target
    // either: a warning, since the entry came from another group's log (and
    // no leaf was withheld from the partner, so it cannot be one of those).
    let b = TestStore::new();
    let a_pub = a._temp.path().join("a.pub");
    assert!(a
        .run(&["key", "export", "--out", a_pub.to_str().unwrap()])
        .status
        .success());
    assert!(b
        .run(&["trust", "add", a_pub.to_str().unwrap(), "--name", "A"])
        .status
        .success());
    let bundle = a._temp.path().join("a.bundle");
    let out = a.run(&[
        "export",
        "--out",
        bundle.to_str().unwrap(),
        "--include-sensitive",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = b.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (code, found) = target_findings(&b);
    assert_eq!(code, Some(1), "{found:?}"); // the two of the wrong kind
    let warnings: Vec<&Value> = found
        .iter()
        .filter(|f| f["severity"] == "warning")
        .collect();
    assert_eq!(warnings.len(), 1, "{found:?}");
    assert_eq!(warnings[0]["entry"], ids[0].as_str());
}

#[test]
fn a_target_that_may_be_a_withheld_leaf_is_not_a_finding() {
    use sijill::entry::EntryId;
    use sijill::lifecycle::{Lifecycle, Retraction};
    let a = TestStore::new();
    // The missing record holds a contact: it travels as its leaf alone.
    a.add("missing", MISSING);
    append_crafted(
        &a,
        vec![Lifecycle::Retraction(Retraction {
            target: EntryId([9; 32]),
            reason: "crafted".into(),
        })],
    );
    let b = TestStore::new();
    let a_pub = a._temp.path().join("a.pub");
    assert!(a
        .run(&["key", "export", "--out", a_pub.to_str().unwrap()])
        .status
        .success());
    assert!(b
        .run(&["trust", "add", a_pub.to_str().unwrap(), "--name", "A"])
        .status
        .success());
    let bundle = a._temp.path().join("a.bundle");
    assert!(a
        .run(&["export", "--out", bundle.to_str().unwrap()])
        .status
        .success());
    assert!(b
        .run(&["import", bundle.to_str().unwrap()])
        .status
        .success());
    let (code, found) = target_findings(&b);
    assert_eq!((code, found.len()), (Some(0), 0), "{found:?}");
    // In the store that wrote it, it is an error.
    let (code, found) = target_findings(&a);
    assert_eq!((code, found.len()), (Some(1), 1), "{found:?}");
}
