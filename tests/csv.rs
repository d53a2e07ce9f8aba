//! Issue 5: spreadsheets in and out, search, filters and counts, through the
//! real binary and the fixtures in fixtures/csv/.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/csv")
        .join(name)
}

/// The stored bodies of every record, sorted, for comparing stores.
fn bodies(store: &TestStore) -> Vec<Value> {
    let out = store.run(&["list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut v: Vec<Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::json!({"kind": e["kind"], "body": e["body"]}))
        .collect();
    v.sort_by_key(|b| b.to_string());
    v
}

fn import(store: &TestStore, args: &[&str]) -> std::process::Output {
    let mut all = vec!["import-csv"];
    all.extend_from_slice(args);
    store.run(&all)
}

#[test]
fn each_encoding_of_the_arabic_list_gives_the_same_records() {
    let mut results = Vec::new();
    for file in [
        "arabic-utf8.csv",
        "arabic-utf8-bom.csv",
        "arabic-utf16le.csv",
        "arabic-windows-1256.csv",
    ] {
        let store = TestStore::new();
        let path = fixture(file);
        let out = import(&store, &[path.to_str().unwrap(), "--kind", "casualty"]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        assert_eq!(stdout(&out).lines().count(), 8, "{file}: one id per record");
        results.push((file, bodies(&store)));
    }
    let first = &results[0].1;
    assert_eq!(first.len(), 8);
    let text = first
        .iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("مُحَمَّد أحمد الحلبي"), "{text}");
    assert!(text.contains("\"female\"") && text.contains("\"civilian\""));
    assert!(text.contains("قال الشاهد: \\\"كان عائداً من العمل\\\""));
    for (file, b) in &results[1..] {
        assert_eq!(b, first, "{file} differs from the UTF-8 list");
    }
}

#[test]
fn forcing_the_wrong_encoding_is_refused() {
    let store = TestStore::new();
    let path = fixture("arabic-windows-1256.csv");
    let before = snapshot(&store.dir);
    let out = import(
        &store,
        &[
            path.to_str().unwrap(),
            "--kind",
            "casualty",
            "--encoding",
            "utf-8",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not valid UTF-8"), "{}", stderr(&out));
    assert_eq!(snapshot(&store.dir), before);
}

#[test]
fn each_bad_row_is_named_with_line_and_column_and_nothing_is_written() {
    let store = TestStore::new();
    let temp = tempfile::tempdir().unwrap();
    let rejects = temp.path().join("rejects.csv");
    let path = fixture("broken.csv");
    let before = snapshot(&store.dir);
    let out = import(
        &store,
        &[
            path.to_str().unwrap(),
            "--kind",
            "casualty",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for expected in [
        "broken.csv:3: column 4 (تاريخ الوفاة): field `date_of_death`: \"2018-02-30\" is not a real day",
        "broken.csv:4: column 6 (سبب الوفاة): field `cause`: \"bombing\" is not a known cause",
        "broken.csv:5: column 1 (الاسم): field `name`",
        "broken.csv:6: the row has 2 cells; the header has 6 columns",
        "broken.csv:7: column 3 (العمر): \"abc\" is not an age",
        "broken.csv:8: column 2 (الجنس): field `sex`: \"روبوت\" is not a known sex",
        "6 of the rows are invalid, so nothing was imported",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert_eq!(snapshot(&store.dir), before, "the store must be untouched");
    assert_eq!(bodies(&store).len(), 0);

    // The rejects file: a BOM, the error columns first, then the row as read.
    let bytes = std::fs::read(&rejects).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(&bytes[3..]);
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "sijill_error");
    assert_eq!(&header[3], "الاسم");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    let lines: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    assert_eq!(lines, ["3", "4", "5", "6", "7", "8"]);
    assert_eq!(&rows[0][2], "4 (تاريخ الوفاة)");
    assert_eq!(&rows[0][6], "2018-02-30");
}

#[test]
fn a_fixed_rejects_file_imports_as_it_is() {
    let store = TestStore::new();
    let temp = tempfile::tempdir().unwrap();
    let rejects = temp.path().join("rejects.csv");
    let path = fixture("broken.csv");
    let out = import(
        &store,
        &[
            path.to_str().unwrap(),
            "--kind",
            "casualty",
            "--skip-invalid",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 2, "the two valid rows");
    assert_eq!(bodies(&store).len(), 2);
    // The user fixes the date and the cause, deletes the other rows.
    let text = String::from_utf8(std::fs::read(&rejects).unwrap()).unwrap();
    let fixed: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i <= 2)
        .map(|(_, l)| l)
        .collect();
    let fixed = fixed
        .join("\n")
        .replace("2018-02-30", "2018-02-28")
        .replace(",bombing", ",shelling");
    let fixed_path = temp.path().join("fixed.csv");
    std::fs::write(&fixed_path, fixed).unwrap();
    let out = import(
        &store,
        &[fixed_path.to_str().unwrap(), "--kind", "casualty"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(bodies(&store).len(), 4);
}

#[test]
fn dry_run_reports_and_writes_nothing() {
    let store = TestStore::new();
    let before = snapshot(&store.dir);
    let path = fixture("arabic-utf8.csv");
    let out = import(
        &store,
        &[path.to_str().unwrap(), "--kind", "casualty", "--dry-run"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("dry run"), "{}", stderr(&out));
    assert!(stderr(&out).contains("8 new"), "{}", stderr(&out));
    assert_eq!(snapshot(&store.dir), before);
    assert_eq!(bodies(&store).len(), 0);
}

#[test]
fn re_importing_does_not_duplicate_and_says_so() {
    let store = TestStore::new();
    let utf8 = fixture("arabic-utf8.csv");
    let out = import(&store, &[utf8.to_str().unwrap(), "--kind", "casualty"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = snapshot(&store.dir);
    // The same list again, and saved in another encoding: nothing new.
    for file in ["arabic-utf8.csv", "arabic-utf16le.csv"] {
        let path = fixture(file);
        let out = import(&store, &[path.to_str().unwrap(), "--kind", "casualty"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), "");
        assert!(
            stderr(&out).contains("0 new, 8 already in the store"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(snapshot(&store.dir), before);
    // Still there after the index is rebuilt from the segments.
    assert!(store.run(&["reindex"]).status.success());
    let out = import(&store, &[utf8.to_str().unwrap(), "--kind", "casualty"]);
    assert!(
        stderr(&out).contains("0 new, 8 already"),
        "{}",
        stderr(&out)
    );
    assert_eq!(bodies(&store).len(), 8);
}

#[test]
fn identical_rows_are_separate_records_and_count_on_re_import() {
    // Two unidentified bodies with the same details are two people.
    let store = TestStore::new();
    let temp = tempfile::tempdir().unwrap();
    let one = temp.path().join("one.csv");
    let three = temp.path().join("three.csv");
    let row = "مجهول الهوية,ذكر,2018-02-25,إدلب\n";
    std::fs::write(&one, format!("الاسم,الجنس,تاريخ الوفاة,المحافظة\n{row}")).unwrap();
    std::fs::write(
        &three,
        format!("الاسم,الجنس,تاريخ الوفاة,المحافظة\n{row}{row}{row}"),
    )
    .unwrap();
    let out = import(&store, &[one.to_str().unwrap(), "--kind", "casualty"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = import(&store, &[three.to_str().unwrap(), "--kind", "casualty"]);
    assert!(
        stderr(&out).contains("2 new, 1 already in the store"),
        "{}",
        stderr(&out)
    );
    assert_eq!(bodies(&store).len(), 3);
}

#[test]
fn export_then_import_into_a_fresh_store_gives_the_same_records() {
    let store = TestStore::new();
    store.add("casualty", CASUALTY);
    store.add("missing", MISSING);
    // Quotes, commas and line breaks in Arabic text; an internal record; a
    // cell a spreadsheet would run as a formula.
    store.add(
        "casualty",
        r#"{"name": {"ar": "=سليم، \"أبو علي\""}, "notes": "قال: \"نعم\"، ثم\nغادر, مساءً", "sensitivity": "internal", "age": {"min": 30, "max": 40}, "date_of_death": {"from": "2014-01", "to": "2014-03-02", "approximate": true}}"#,
    );
    let path = fixture("arabic-utf8.csv");
    assert!(
        import(&store, &[path.to_str().unwrap(), "--kind", "casualty"])
            .status
            .success()
    );
    let temp = tempfile::tempdir().unwrap();
    let out_csv = temp.path().join("out.csv");
    let out = store.run(&[
        "export-csv",
        "--out",
        out_csv.to_str().unwrap(),
        "--include-sensitive",
        "--include-internal",
        "--bom",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read(&out_csv)
        .unwrap()
        .starts_with(b"\xEF\xBB\xBF"));
    let fresh = TestStore::new();
    let out = import(&fresh, &[out_csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let original = bodies(&store);
    assert_eq!(original.len(), 11);
    assert_eq!(bodies(&fresh), original);
}

#[test]
fn exports_leave_out_contact_and_internal_records_unless_asked() {
    let store = TestStore::new();
    store.add("missing", MISSING);
    store.add(
        "casualty",
        r#"{"name": {"latin": "Internal Person"}, "sensitivity": "internal"}"#,
    );
    let temp = tempfile::tempdir().unwrap();
    let csv_path = temp.path().join("out.csv");
    let jsonl = temp.path().join("out.jsonl");
    let out = store.run(&["export-csv", "--out", csv_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&csv_path).unwrap();
    assert!(
        !text.contains("contact_") && !text.contains("samir"),
        "{text}"
    );
    assert!(!text.contains("Internal Person"));
    assert_eq!(
        text.lines().next().unwrap().split(',').next(),
        Some("entry_id")
    );
    // An existing file is not replaced without --force.
    let again = store.run(&["export-csv", "--out", csv_path.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    let out = store.run(&["export-jsonl", "--out", jsonl.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert!(lines[0]["record"].get("contact").is_none());
    assert_eq!(lines[0]["seq"], 0);
}

#[test]
fn search_finds_spelling_variants_best_first() {
    let store = TestStore::new();
    let ar = fixture("arabic-utf8.csv");
    let latin = fixture("latin-missing.csv");
    assert!(
        import(&store, &[ar.to_str().unwrap(), "--kind", "casualty"])
            .status
            .success()
    );
    assert!(
        import(&store, &[latin.to_str().unwrap(), "--kind", "missing"])
            .status
            .success()
    );
    let search = |q: &str| stdout(&store.run(&["search", q]));
    // No harakat, no article, ا for أ: still found, and first.
    let hits = search("محمد الحلبي");
    assert!(
        hits.lines().next().unwrap().contains("مُحَمَّد أحمد الحلبي"),
        "{hits}"
    );
    let hits = search("احمد");
    assert!(hits.contains("الحلبي") && hits.contains("الخطيب"), "{hits}");
    assert!(search("عبد الرحمن").contains("عبدالرحمن محمود"));
    assert!(search("فاطمه النجار").contains("فاطمة"));
    // Latin: case, el-/al- and vowel variants.
    let hits = search("mohamed yousef masri");
    assert!(
        hits.lines()
            .next()
            .unwrap()
            .contains("Muhammad Yusuf el-Masri"),
        "{hits}"
    );
    assert!(search("Muhammad Halabi").contains("al-Halabi"));
    // Ranked: both tokens matched beats one.
    let hits = search("Khaled Hussein");
    let first = hits.lines().next().unwrap();
    assert!(first.contains("Khaled Hussein"), "{hits}");
    assert!(hits.contains("Sara Khaled"), "{hits}");
    let none = store.run(&["search", "Zzyzx"]);
    assert!(none.status.success() && stdout(&none).is_empty());
}

#[test]
fn list_filters_by_governorate_period_kind_and_status() {
    let store = TestStore::new();
    let ar = fixture("arabic-utf8.csv");
    let latin = fixture("latin-missing.csv");
    assert!(
        import(&store, &[ar.to_str().unwrap(), "--kind", "casualty"])
            .status
            .success()
    );
    assert!(
        import(&store, &[latin.to_str().unwrap(), "--kind", "missing"])
            .status
            .success()
    );
    let count = |args: &[&str]| {
        let mut all = vec!["list"];
        all.extend_from_slice(args);
        let out = store.run(&all);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).lines().count()
    };
    assert_eq!(count(&[]), 12);
    // إدلب written with alef-hamza in the list, searched without.
    assert_eq!(count(&["--governorate", "ادلب"]), 4);
    assert_eq!(count(&["--governorate", "idlib"]), 1);
    // 2018-01 .. 2018-03: the 2018-01, the three 2018-02-25 rows.
    assert_eq!(count(&["--from", "2018-01", "--to", "2018-03"]), 4);
    // "2013-05/2013-06" overlaps June 2013; "2013-04/2013-05-10" does not.
    assert_eq!(count(&["--from", "2013-06", "--to", "2013-06"]), 1);
    assert_eq!(count(&["--kind", "missing"]), 4);
    assert_eq!(
        count(&["--kind", "missing", "--status", "detained-unacknowledged"]),
        1
    );
    let bad = store.run(&["list", "--status", "lost"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn stats_count_current_views() {
    let store = TestStore::new();
    let ar = fixture("arabic-utf8.csv");
    assert!(
        import(&store, &[ar.to_str().unwrap(), "--kind", "casualty"])
            .status
            .success()
    );
    let out = store.run(&["stats", "--by", "governorate", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total"], 8);
    assert_eq!(v["groups"][0]["group"], "إدلب");
    assert_eq!(v["groups"][0]["count"], 4);
    assert!(v["counted"].as_str().unwrap().contains("current view"));
    let out = store.run(&["stats", "--by", "month"]);
    let text = stdout(&out);
    assert!(
        text.contains("2018-02                          3"),
        "{text}"
    );
    assert!(
        text.contains("total                            8"),
        "{text}"
    );
    assert!(text.contains("counted: the current view"), "{text}");
    let out = store.run(&[
        "stats", "--by", "cause", "--from", "2018", "--to", "2018", "--json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total"], 4);
    assert_eq!(v["groups"][0]["group"], "airstrike");
    assert_eq!(v["groups"][0]["count"], 3);
}

#[test]
fn unknown_headers_stop_the_import_and_a_mapping_fixes_them() {
    let store = TestStore::new();
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("list.csv");
    std::fs::write(
        &file,
        "اسم الشهيد,يوم الوفاة,مكان السكن\nعلي حسن,2018-01-25,حلب\n",
    )
    .unwrap();
    let out = import(&store, &[file.to_str().unwrap(), "--kind", "casualty"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("column 2 (\"يوم الوفاة\")"),
        "{}",
        stderr(&out)
    );
    let template = store.run(&[
        "import-csv",
        file.to_str().unwrap(),
        "--print-mapping-template",
    ]);
    let text = stdout(&template);
    assert!(text.contains("\"اسم الشهيد\" = \"name\""), "{text}");
    assert!(text.contains("\"يوم الوفاة\" = \"ignore\""), "{text}");
    let mapping = temp.path().join("map.toml");
    std::fs::write(
        &mapping,
        "[columns]\n\"يوم الوفاة\" = \"date\"\n\"مكان السكن\" = \"ignore\"\n[defaults]\nsource_type = \"ngo\"\n",
    )
    .unwrap();
    let out = import(
        &store,
        &[
            file.to_str().unwrap(),
            "--kind",
            "casualty",
            "--mapping",
            mapping.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let b = bodies(&store);
    assert_eq!(b[0]["body"]["date_of_death"], "2018-01-25");
    assert_eq!(b[0]["body"]["sources"][0]["type"], "ngo");
}
