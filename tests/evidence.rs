//! Evidence files: `add --evidence`, `evidence verify`, and `audit` finding a
//! changed or deleted file (docs/FORMAT.md §6.11, SCHEMA.md §2.4).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn files_dir(store: &TestStore) -> PathBuf {
    store.dir.join("evidence-files")
}

fn stored_files(store: &TestStore) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(files_dir(store))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn add_with(store: &TestStore, json: &str, files: &[&Path]) -> std::process::Output {
    let mut cmd = store.cmd();
    cmd.args(["add", "casualty", "--json", "-"]);
    for f in files {
        cmd.arg("--evidence").arg(f);
    }
    cmd.write_stdin(json.to_owned()).output().unwrap()
}

/// A store with one record that references two files (photo and report).
fn store_with_evidence() -> (TestStore, String, PathBuf, String, String) {
    let store = TestStore::new();
    let src = store._temp.path().to_path_buf();
    let photo = write(
        &src,
        "photo.JPG",
        b"not really a jpeg, but bytes all the same",
    );
    let report = write(&src, "report.pdf", b"%PDF-1.4 a report");
    let out = add_with(&store, CASUALTY, &[&photo, &report]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim_end().to_string();
    let photo_hex = blake3::hash(&std::fs::read(&photo).unwrap())
        .to_hex()
        .to_string();
    let report_hex = blake3::hash(&std::fs::read(&report).unwrap())
        .to_hex()
        .to_string();
    (store, id, src, photo_hex, report_hex)
}

#[test]
fn add_with_two_files_stores_them_once_and_show_lists_them() {
    let (store, id, src, photo_hex, report_hex) = store_with_evidence();
    let mut expected = vec![photo_hex.clone(), report_hex.clone()];
    expected.sort();
    assert_eq!(stored_files(&store), expected);
    assert_eq!(
        std::fs::read(files_dir(&store).join(&photo_hex)).unwrap(),
        std::fs::read(src.join("photo.JPG")).unwrap()
    );

    // The record lists both, in order, with size, media type and name.
    let json = store.run(&["show", &id, "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let evidence = &value["body"]["evidence"];
    assert_eq!(
        evidence,
        &serde_json::json!([
            {"blake3": photo_hex, "size": 41, "media_type": "image/jpeg", "name": "photo.JPG"},
            {"blake3": report_hex, "size": 17, "media_type": "application/pdf", "name": "report.pdf"}
        ])
    );
    let text = stdout(&store.run(&["show", &id]));
    assert!(
        text.contains(&photo_hex) && text.contains(&report_hex),
        "{text}"
    );
    assert!(text.contains("application/pdf"), "{text}");

    // Identical content under another name is stored once; a JSON item
    // naming a held file is accepted, and the same file twice is listed once.
    let copy = write(
        &src,
        "copy.bin",
        b"not really a jpeg, but bytes all the same",
    );
    let with_item = CASUALTY.trim_end().trim_end_matches('}').to_string()
        + &format!(
            r#", "evidence": [{{"blake3": "{report_hex}", "size": 17, "media_type": "application/pdf"}}]}}"#
        );
    let out = add_with(&store, &with_item, &[&copy, &src.join("report.pdf")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored_files(&store), expected);
    let second = stdout(&out).trim_end().to_string();
    let json = store.run(&["show", &second, "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let items = value["body"]["evidence"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0]["blake3"], report_hex.as_str());
    assert_eq!(items[1]["blake3"], photo_hex.as_str());
    assert_eq!(items[1]["media_type"], "application/octet-stream");

    let verify = store.run(&["evidence", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
    assert!(
        stdout(&verify).contains("2 files checked, 4 references checked, 0 problems"),
        "{}",
        stdout(&verify)
    );
    let audit = store.run(&["audit"]);
    assert_eq!(audit.status.code(), Some(0), "{}", stdout(&audit));
}

fn assert_problem_named(store: &TestStore, id: &str, index: usize) {
    let verify = store.run(&["evidence", "verify"]);
    assert_eq!(verify.status.code(), Some(1), "{}", stdout(&verify));
    let text = stdout(&verify);
    assert!(
        text.contains(&format!("record {id} evidence[{index}]")),
        "{text}"
    );
    let json = store.run(&["evidence", "verify", "--json"]);
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(value["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["record"] == id && p["index"] == index));

    let audit = store.run(&["audit", "--json"]);
    assert_eq!(audit.status.code(), Some(1), "{}", stdout(&audit));
    let report: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["property"] == "evidence" && f["entry"] == id),
        "{findings:?}"
    );
}

#[test]
fn a_changed_byte_is_found_by_verify_and_audit() {
    let (store, id, _src, _photo_hex, report_hex) = store_with_evidence();
    let path = files_dir(&store).join(&report_hex);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[3] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    assert_problem_named(&store, &id, 1);
    let text = stdout(&store.run(&["evidence", "verify"]));
    assert!(text.contains("it was changed"), "{text}");
}

#[test]
fn a_deleted_file_is_found_by_verify_and_audit() {
    let (store, id, _src, photo_hex, _report_hex) = store_with_evidence();
    std::fs::remove_file(files_dir(&store).join(&photo_hex)).unwrap();
    assert_problem_named(&store, &id, 0);
    let text = stdout(&store.run(&["evidence", "verify"]));
    assert!(text.contains("is missing"), "{text}");
}

#[test]
fn a_declared_digest_the_store_does_not_hold_is_refused_and_nothing_is_written() {
    let store = TestStore::new();
    let src = store._temp.path().to_path_buf();
    let photo = write(&src, "photo.jpg", b"some photo bytes");
    let before = snapshot(&store.dir);
    let unknown = "ab".repeat(32);
    let with_item = CASUALTY.trim_end().trim_end_matches('}').to_string()
        + &format!(
            r#", "evidence": [{{"blake3": "{unknown}", "size": 3, "media_type": "image/png"}}]}}"#
        );
    let out = add_with(&store, &with_item, &[&photo]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("evidence[0].blake3"), "{err}");
    assert!(err.contains("--evidence"), "{err}");
    assert!(stdout(&out).is_empty());
    assert_eq!(snapshot(&store.dir), before);

    // A wrong size for a held file is refused the same way.
    let id = stdout(&add_with(&store, CASUALTY, &[&photo]))
        .trim_end()
        .to_string();
    assert_eq!(id.len(), 64);
    let held = blake3::hash(b"some photo bytes").to_hex().to_string();
    let before = snapshot(&store.dir);
    let wrong_size = CASUALTY.trim_end().trim_end_matches('}').to_string()
        + &format!(
            r#", "evidence": [{{"blake3": "{held}", "size": 99, "media_type": "image/jpeg"}}]}}"#
        );
    let out = add_with(&store, &wrong_size, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("evidence[0].size"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&store.dir), before);

    // A file that cannot be read is refused before the store is touched.
    let out = add_with(&store, CASUALTY, &[&src.join("no-such-file.jpg")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(snapshot(&store.dir), before);
}

#[test]
fn a_large_file_is_streamed() {
    let store = TestStore::new();
    let path = store._temp.path().join("recording.mp4");
    let mut hasher = blake3::Hasher::new();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut block = vec![0u8; 1 << 20];
        for i in 0..20u32 {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (j as u32).wrapping_mul(31).wrapping_add(i) as u8;
            }
            f.write_all(&block).unwrap();
            hasher.update(&block);
        }
    }
    let digest = hasher.finalize().to_hex().to_string();
    let out = add_with(&store, CASUALTY, &[&path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim_end().to_string();
    assert_eq!(stored_files(&store), vec![digest.clone()]);
    assert_eq!(
        std::fs::metadata(files_dir(&store).join(&digest))
            .unwrap()
            .len(),
        20 << 20
    );
    let json = store.run(&["show", &id, "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["body"]["evidence"][0]["size"], 20u64 << 20);
    assert_eq!(value["body"]["evidence"][0]["media_type"], "video/mp4");
    let verify = store.run(&["evidence", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}

#[test]
fn evidence_cannot_be_amended_yet() {
    let (store, id, _src, _photo_hex, _report_hex) = store_with_evidence();
    let before = snapshot(&store.dir);
    let out = store.run(&[
        "amend",
        &id,
        "--set",
        "evidence.0.name=other.jpg",
        "--reason",
        "rename",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`evidence` cannot be amended"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&store.dir), before);
}

/// A store `a` with one record referencing a small file and one of 2.5 MiB
/// (three DATA sections), and a partner `b` that trusts it.
fn pair_with_evidence() -> (TestStore, TestStore, String, Vec<(String, Vec<u8>)>) {
    let a = TestStore::new();
    let src = a._temp.path().to_path_buf();
    let small = b"a witness statement, scanned".to_vec();
    let big: Vec<u8> = (0..(5 * 1024 * 1024 / 2) as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let small_path = write(&src, "statement.pdf", &small);
    let big_path = write(&src, "video.mp4", &big);
    let out = add_with(&a, CASUALTY, &[&small_path, &big_path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim_end().to_string();
    let b = TestStore::new();
    let a_pub = src.join("a.pub");
    assert!(a
        .run(&["key", "export", "--out", a_pub.to_str().unwrap()])
        .status
        .success());
    let out = b.run(&["trust", "add", a_pub.to_str().unwrap(), "--name", "A"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let files = [small, big]
        .into_iter()
        .map(|bytes| (blake3::hash(&bytes).to_hex().to_string(), bytes))
        .collect();
    (a, b, id, files)
}

fn export_bundle(a: &TestStore, name: &str, extra: &[&str]) -> (PathBuf, String) {
    let path = a._temp.path().join(name);
    let mut args = vec!["export", "--out", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = a.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    (path, stderr(&out))
}

#[test]
fn evidence_files_travel_with_export_with_evidence() {
    let (a, b, id, files) = pair_with_evidence();
    let (bundle, said) = export_bundle(&a, "with.bundle", &["--with-evidence"]);
    let total: usize = files.iter().map(|(_, f)| f.len()).sum();
    assert!(
        said.contains(&format!("evidence files: 2 carried ({total} bytes)")),
        "{said}"
    );
    let sections = bundle_sections(&std::fs::read(&bundle).unwrap());
    let tags: Vec<&[u8; 4]> = sections.iter().map(|s| &s.2).collect();
    assert_eq!(tags.iter().filter(|t| **t == b"FILE").count(), 2);
    assert_eq!(tags.iter().filter(|t| **t == b"DATA").count(), 1 + 3);

    let out = b.run(&["verify", bundle.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(&format!(
            "evidence     2 files ({total} bytes), each matching its BLAKE3 digest and size"
        )),
        "{}",
        stdout(&out)
    );
    let out = b.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 kept"), "{}", stderr(&out));
    for (hex, bytes) in &files {
        assert_eq!(&std::fs::read(files_dir(&b).join(hex)).unwrap(), bytes);
    }
    assert!(b.run(&["show", &id]).status.success());
    let out = b.run(&["evidence", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files_checked"], 2);
    assert_eq!(report["references_checked"], 2);
    assert_eq!(report["not_held"], serde_json::json!([]));
    let out = b.run(&["audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // Again: nothing new, the files are held.
    let out = b.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 kept"), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 held already"), "{}", stderr(&out));
}

#[test]
fn a_changed_byte_in_an_evidence_file_is_refused_naming_its_section() {
    let (a, b, _, files) = pair_with_evidence();
    let (bundle, _) = export_bundle(&a, "with.bundle", &["--with-evidence"]);
    let mut bytes = std::fs::read(&bundle).unwrap();
    let sections = bundle_sections(&bytes);
    // The second DATA section of the large file: its second chunk.
    let big_hex = &files[1].0;
    let (file_no, file_section) = sections
        .iter()
        .enumerate()
        .find(|(_, s)| &s.2 == b"FILE" && hex::encode(&bytes[s.0 + 8..s.0 + 40]) == *big_hex)
        .unwrap();
    let data = sections[file_no + 2];
    assert_eq!(&data.2, b"DATA");
    bytes[data.0 + 8 + 1000] ^= 0x20;
    let tampered = a._temp.path().join("tampered.bundle");
    std::fs::write(&tampered, &bytes).unwrap();

    let out = b.run(&["verify", tampered.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    // Sections are numbered from the header, section 0.
    assert!(
        err.contains(&format!(
            "byte {}, section {} (FILE): [evidence] evidence file {big_hex}",
            file_section.0, file_no
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("DATA sections {} to {}", file_no + 1, file_no + 3)),
        "{err}"
    );
    let before = snapshot(&b.dir);
    let out = b.run(&["import", tampered.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("[evidence]"), "{}", stderr(&out));
    assert_eq!(snapshot(&b.dir), before);
    assert!(stored_files(&b).is_empty());
}

#[test]
fn a_bundle_without_files_imports_digests_and_verify_notes_what_is_not_held() {
    let (a, b, id, files) = pair_with_evidence();
    let (bundle, said) = export_bundle(&a, "digests.bundle", &[]);
    assert!(
        said.contains(
            "the records carry the digests of 2 files, not the files; add --with-evidence"
        ),
        "{said}"
    );
    assert!(!bundle_sections(&std::fs::read(&bundle).unwrap())
        .iter()
        .any(|s| &s.2 == b"FILE"));
    let out = b.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = b.run(&["evidence", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    for (i, (hex, _)) in files.iter().enumerate() {
        assert!(
            text.contains(&format!("note: record {id} evidence[{i}]: the file {hex}"))
                && text.contains("is not held"),
            "{text}"
        );
    }
    assert!(text.contains("0 problems"), "{text}");
    let out = b.run(&["evidence", "verify", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["not_held"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(report["problems"], serde_json::json!([]));
    let out = b.run(&["audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // The files arrive later: nothing is missing any more.
    let (with, _) = export_bundle(&a, "with.bundle", &["--with-evidence"]);
    let out = b.run(&["import", with.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 kept"), "{}", stderr(&out));
    let out = b.run(&["evidence", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(!stdout(&out).contains("note:"), "{}", stdout(&out));
    // In the store that wrote the record, a missing file stays a problem.
    std::fs::remove_file(files_dir(&a).join(&files[0].0)).unwrap();
    let out = a.run(&["evidence", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}
