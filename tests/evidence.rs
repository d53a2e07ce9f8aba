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
