//! Evidence files: `add --evidence FILE` and `evidence verify`.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use sijill::evidence_files::{self, EVIDENCE_FILES_DIR};
use sijill::record::{Record, MAX_ARRAY_ITEMS};
use sijill::store::Store;

use super::{output::escape, write_failure, Failure, EXIT_INTEGRITY};

/// Check the items the JSON lists against the store, store the files given
/// with `--evidence`, and return the record with every item in `evidence`.
/// Nothing is written when a listed item is refused; the files are synced
/// before this returns, so the entry appended next never names a missing file.
pub fn attach(
    store: &Store,
    source: &str,
    mut record: Record,
    files: &[PathBuf],
) -> Result<Record, Failure> {
    let root = store.root();
    let listed = record.person().evidence.clone();
    // Digests of the files passed, computed only if some listed item is not
    // held yet (it may be one of them).
    let mut passed: Option<Vec<([u8; 32], u64)>> = None;
    for (i, item) in listed.iter().enumerate() {
        let digest = hex::encode(item.blake3);
        let held = evidence_files::stored_size(root, &item.blake3)?;
        let size = match held {
            Some(size) => Some(size),
            None => {
                if passed.is_none() {
                    let mut digests = Vec::with_capacity(files.len());
                    for f in files {
                        let d = evidence_files::hash_file(f).map_err(|e| {
                            Failure::usage(format!("--evidence {}: cannot read: {e}", f.display()))
                        })?;
                        digests.push(d);
                    }
                    passed = Some(digests);
                }
                passed
                    .as_ref()
                    .and_then(|p| p.iter().find(|(d, _)| *d == item.blake3))
                    .map(|(_, size)| *size)
            }
        };
        match size {
            None => {
                return Err(Failure::usage(format!(
                    "{source}: field `evidence[{i}].blake3`: this store holds no file with digest {digest}"
                ))
                .hint("pass the file with --evidence FILE; it is stored and listed for you"))
            }
            Some(size) if size != item.size => {
                return Err(Failure::usage(format!(
                    "{source}: field `evidence[{i}].size`: {} bytes, but the file {digest} holds {size} bytes",
                    item.size
                ))
                .hint("leave the item out and pass the file with --evidence FILE"))
            }
            Some(_) => {}
        }
    }
    if files.len() > MAX_ARRAY_ITEMS {
        return Err(too_many(source, files.len()));
    }
    let mut items = listed;
    for f in files {
        let item = evidence_files::store_file(root, f)?;
        if !items.iter().any(|i| i.blake3 == item.blake3) {
            items.push(item);
        }
    }
    if items.len() > MAX_ARRAY_ITEMS {
        return Err(too_many(source, items.len()));
    }
    record.person_mut().evidence = items;
    Ok(record)
}

fn too_many(source: &str, n: usize) -> Failure {
    Failure::usage(format!(
        "{source}: field `evidence`: {n} files; a record lists at most {MAX_ARRAY_ITEMS}"
    ))
    .hint("split the material over several records, or bundle the files into an archive")
}

/// `sijill evidence verify`.
pub fn verify(store: &Store, as_json: bool) -> Result<u8, Failure> {
    let report = evidence_files::verify(store)?;
    let out = &mut crate::cli::gate::stdout();
    if as_json {
        let as_value = |p: &evidence_files::Problem| {
            json!({
                "record": p.record.map(|r| r.to_hex()),
                "index": p.index,
                "file": p.file,
                "message": p.message,
            })
        };
        let problems: Vec<_> = report.problems.iter().map(as_value).collect();
        let not_held: Vec<_> = report.not_held.iter().map(as_value).collect();
        let value = json!({
            "files_checked": report.files_checked,
            "references_checked": report.references_checked,
            "unreadable_entries": report.unreadable_entries,
            "problems": problems,
            "not_held": not_held,
        });
        serde_json::to_writer_pretty(&mut *out, &value).map_err(|e| write_failure(e.into()))?;
        writeln!(out).map_err(write_failure)?;
    } else {
        for p in &report.problems {
            let at = match (p.record, p.index) {
                (Some(r), Some(i)) => format!("record {r} evidence[{i}]"),
                _ => format!("{EVIDENCE_FILES_DIR}/{}", escape(&p.file)),
            };
            writeln!(out, "{at}: {}", escape(&p.message)).map_err(write_failure)?;
        }
        for p in &report.not_held {
            if let (Some(r), Some(i)) = (p.record, p.index) {
                writeln!(
                    out,
                    "note: record {r} evidence[{i}]: {}",
                    escape(&p.message)
                )
                .map_err(write_failure)?;
            }
        }
        if !report.not_held.is_empty() {
            writeln!(
                out,
                "note: {} files referenced by imported records are not held here (not a failure: ask the group that sent them for an export --with-evidence)",
                report.not_held.len()
            )
            .map_err(write_failure)?;
        }
        if report.unreadable_entries > 0 {
            writeln!(
                out,
                "{} entries could not be read, so their evidence was not checked (run `sijill audit`)",
                report.unreadable_entries
            )
            .map_err(write_failure)?;
        }
        writeln!(
            out,
            "{} files checked, {} references checked, {} problems",
            report.files_checked,
            report.references_checked,
            report.problems.len()
        )
        .map_err(write_failure)?;
    }
    Ok(
        if report.problems.is_empty() && report.unreadable_entries == 0 {
            0
        } else {
            EXIT_INTEGRITY
        },
    )
}
