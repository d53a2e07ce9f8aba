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
