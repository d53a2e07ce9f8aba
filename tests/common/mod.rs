//! Helpers shared by the integration tests: a throw-away store driven through
//! the real `sijill` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

pub const CASUALTY: &str = include_str!("../../fixtures/records/casualty.json");
pub const MISSING: &str = include_str!("../../fixtures/records/missing.json");

pub struct TestStore {
    pub _temp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl TestStore {
    /// A new store without a passphrase.
    pub fn new() -> TestStore {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("store");
        let out = sijill(&dir)
            .args(["init", "--org", "Test Group", "--no-passphrase"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        TestStore { _temp: temp, dir }
    }

    pub fn cmd(&self) -> Command {
        sijill(&self.dir)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Run `add KIND --json -` with `json` on stdin.
    pub fn try_add(&self, kind: &str, json: &str) -> Output {
        self.cmd()
            .args(["add", kind, "--json", "-"])
            .write_stdin(json)
            .output()
            .unwrap()
    }

    /// Add a record from JSON on stdin; returns the id printed.
    pub fn add(&self, kind: &str, json: &str) -> String {
        let out = self.try_add(kind, json);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8(out.stdout).unwrap();
        id.trim_end().to_string()
    }

    pub fn segment(&self) -> PathBuf {
        let logs = self.dir.join("logs");
        let mut files: Vec<_> = std::fs::read_dir(&logs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 1, "one log expected");
        files.remove(0)
    }
}

pub fn sijill(store: &Path) -> Command {
    let mut cmd = Command::cargo_bin("sijill").unwrap();
    cmd.env_remove("SIJILL_PASSPHRASE")
        .env_remove("SIJILL_STORE")
        .arg("--store")
        .arg(store);
    cmd
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir` with its bytes, to compare a store before and after.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                // The index is derived and sled rewrites its files on open.
                if !p.ends_with("index") {
                    stack.push(p);
                }
            } else if !p.ends_with("lock") {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Copy a directory tree (a store), leaving out its lock file.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else if !p.ends_with("lock") {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

/// Rows of a vector folder's README table under `## Files`:
/// `` | `file` | expect: LABEL | ... `` as file -> label.
pub fn readme_rows(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let mut out = std::collections::BTreeMap::new();
    let files = text
        .lines()
        .skip_while(|l| l.trim() != "## Files")
        .skip(1)
        .take_while(|l| !l.starts_with("## "));
    for line in files {
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let (name, rest) = rest.split_once('`').unwrap();
        let cells: Vec<&str> = rest.split('|').map(str::trim).collect();
        let expect = cells
            .get(1)
            .and_then(|c| c.strip_prefix("expect: "))
            .unwrap_or_else(|| panic!("README row for {name} has no `expect:` cell"));
        assert!(
            out.insert(name.to_string(), expect.trim_matches('`').to_string())
                .is_none(),
            "README lists {name} twice"
        );
    }
    out
}

/// The files of a vector folder, its README aside.
pub fn files_present(dir: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "README.md")
        .collect()
}

/// `name: hex` pairs written in FORMAT.md §10 as lines `` `name`: `hex` ``,
/// as plain lines or list items starting with one of `bullets`.
pub fn format_section_10_values(
    format_md: &str,
    bullets: &[&str],
) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(format_md).unwrap();
    let start = text
        .lines()
        .position(|l| l.starts_with("## 10"))
        .expect("FORMAT.md has no section 10");
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines().skip(start + 1) {
        if line.starts_with("## ") {
            break;
        }
        let line = line.trim();
        let line = bullets
            .iter()
            .find_map(|b| line.strip_prefix(b))
            .unwrap_or(line)
            .trim();
        let Some(rest) = line.strip_prefix('`') else {
            continue;
        };
        let Some((name, rest)) = rest.split_once("`: `") else {
            continue;
        };
        let Some(value) = rest.strip_suffix('`') else {
            continue;
        };
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        assert!(
            out.insert(name.to_string(), value.to_string()).is_none(),
            "FORMAT.md §10 states {name} twice"
        );
    }
    out
}

/// The sections of a bundle (FORMAT.md §13.1) as (start, end, tag).
pub fn bundle_sections(bytes: &[u8]) -> Vec<(usize, usize, [u8; 4])> {
    let mut out = Vec::new();
    let mut at = 16;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push((at, at + 8 + len, bytes[at..at + 4].try_into().unwrap()));
        at += 8 + len;
    }
    out
}
