//! Evidence files: photos, documents and recordings that support a record,
//! kept content-addressed under `<store>/evidence-files/<blake3 hex>`
//! (docs/FORMAT.md §6.11).
//!
//! A file is never loaded whole: it is streamed through a 64 KiB buffer into
//! BLAKE3 and into a temporary file in the same directory, which is synced,
//! renamed to its digest, and followed by a sync of the directory. Identical
//! content is stored once. The log holds only the digest, size and media type
//! (the record's `evidence` array, docs/SCHEMA.md §2.4). Files that arrive
//! in a bundle (`export --with-evidence`) are staged by the import, verified
//! again on disk, and renamed into place the same way.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::entry::{EntryId, SignedEntry};
use crate::record::{parse_digest, EvidenceItem};
use crate::segment::sync_dir;
use crate::store::{Store, StoreError};

/// The directory of a store that holds evidence files.
pub const EVIDENCE_FILES_DIR: &str = "evidence-files";

/// Bytes read at a time.
const BUFFER: usize = 64 * 1024;

/// The media type of a file, from its extension (case-insensitive);
/// `application/octet-stream` when the extension is not in the table.
pub fn media_type_for(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "csv" => "text/csv",
        _ => "application/octet-stream",
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Stream `reader` into BLAKE3 (and into `sink` if given); returns the digest
/// and the number of bytes.
fn stream(reader: &mut impl Read, mut sink: Option<&mut File>) -> io::Result<([u8; 32], u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; BUFFER];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        if let Some(out) = sink.as_deref_mut() {
            out.write_all(&buf[..n])?;
        }
        size += n as u64;
    }
    Ok((*hasher.finalize().as_bytes(), size))
}

/// The BLAKE3 digest and size of a file, streamed.
pub fn hash_file(path: &Path) -> io::Result<([u8; 32], u64)> {
    stream(&mut File::open(path)?, None)
}

/// The evidence-files directory of a store.
pub fn dir(store_root: &Path) -> PathBuf {
    store_root.join(EVIDENCE_FILES_DIR)
}

/// Where the file with `digest` is (or would be) kept.
pub fn path_of(store_root: &Path, digest: &[u8; 32]) -> PathBuf {
    dir(store_root).join(hex::encode(digest))
}

/// Whether the store holds a file with `digest`, and its size if so.
pub fn stored_size(store_root: &Path, digest: &[u8; 32]) -> Result<Option<u64>, StoreError> {
    let path = path_of(store_root, digest);
    match fs::metadata(&path) {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(&path)(e)),
    }
}

/// Copy the file at `source` into the store's evidence files and describe
/// it as an evidence item (media type from the extension, name from the file
/// name). The copy is synced and renamed into place before this returns;
/// content already held is not written twice.
pub fn store_file(store_root: &Path, source: &Path) -> Result<EvidenceItem, StoreError> {
    let dir = dir(store_root);
    fs::create_dir_all(&dir).map_err(io_at(&dir))?;
    let mut input = File::open(source).map_err(io_at(source))?;
    let (tmp_path, mut tmp) = temp_file(&dir)?;
    let streamed = stream(&mut input, Some(&mut tmp)).and_then(|r| {
        tmp.sync_all()?;
        Ok(r)
    });
    let (digest, size) = match streamed {
        Ok(r) => r,
        Err(e) => {
            let _ = fs::remove_file(&tmp_path);
            return Err(io_at(source)(e));
        }
    };
    drop(tmp);
    let target = path_of(store_root, &digest);
    let held = match fs::metadata(&target) {
        Ok(m) => m.len() == size && hash_file(&target).ok() == Some((digest, size)),
        Err(_) => false,
    };
    if held {
        fs::remove_file(&tmp_path).map_err(io_at(&tmp_path))?;
    } else {
        // Replaces a damaged copy of the same content, if there was one.
        if let Err(e) = fs::rename(&tmp_path, &target) {
            let _ = fs::remove_file(&tmp_path);
            return Err(io_at(&target)(e));
        }
        sync_dir(&dir).map_err(io_at(&dir))?;
    }
    let name = source
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(crate::record::clean_file_name);
    Ok(EvidenceItem {
        blake3: digest,
        size,
        media_type: media_type_for(source).to_owned(),
        name,
    })
}

/// Keep the evidence files an import staged in `staged_dir` (each named by
/// its digest in hex, its content already checked by the bundle verifier):
/// each is hashed again as it lies on disk, synced, and renamed to
/// `evidence-files/<hex>`, replacing a damaged copy; the directory is synced
/// once at the end. A staged file that no longer has its digest is refused
/// and nothing more is kept. Returns the number of files kept.
pub fn keep_staged(store_root: &Path, staged_dir: &Path) -> Result<u64, StoreError> {
    let mut staged = Vec::new();
    match fs::read_dir(staged_dir) {
        Ok(entries) => {
            for e in entries {
                staged.push(e.map_err(io_at(staged_dir))?.path());
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_at(staged_dir)(e)),
    }
    staged.sort();
    if staged.is_empty() {
        return Ok(0);
    }
    let dir = dir(store_root);
    fs::create_dir_all(&dir).map_err(io_at(&dir))?;
    let mut kept = 0;
    for path in staged {
        let digest = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_digest)
            .ok_or_else(|| StoreError::BadStoreFile {
                path: path.clone(),
                message: "a staged evidence file is not named by its digest".into(),
            })?;
        let (actual, _) = hash_file(&path).map_err(io_at(&path))?;
        if actual != digest {
            return Err(StoreError::BadStoreFile {
                path,
                message: format!(
                    "the staged evidence file has digest {} on disk, not the one it was verified with; nothing more was kept",
                    hex::encode(actual)
                ),
            });
        }
        File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(io_at(&path))?;
        let target = path_of(store_root, &digest);
        fs::rename(&path, &target).map_err(io_at(&target))?;
        kept += 1;
    }
    sync_dir(&dir).map_err(io_at(&dir))?;
    Ok(kept)
}

fn temp_file(dir: &Path) -> Result<(PathBuf, File), StoreError> {
    let pid = std::process::id();
    for n in 0u32.. {
        let path = dir.join(format!(".incoming.{pid}.{n}.tmp"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_at(&path)(e)),
        }
    }
    unreachable!("u32 names exhausted")
}

/// One problem `evidence verify` (and `audit`) found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The record that references the file, if the problem is a reference.
    pub record: Option<EntryId>,
    /// Its index in the record's `evidence` array (not repeated in
    /// `message`).
    pub index: Option<usize>,
    /// The file, as its digest in hex (or its name in the directory).
    pub file: String,
    pub message: String,
}

/// What `verify` checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub files_checked: u64,
    pub references_checked: u64,
    /// Entries that could not be read or verified (see `sijill audit`).
    pub unreadable_entries: u64,
    pub problems: Vec<Problem>,
    /// Files referenced by records an import brought that the store does
    /// not hold: the bundle carried their digests only. Not a failure of
    /// integrity; a note of what is missing.
    pub not_held: Vec<Problem>,
}

/// Check that every file under `evidence-files/` has the content its name
/// says (streamed), and that every file a record references is held with
/// the size the record states. A file missing for a record this store
/// wrote is a problem (the file is kept before the record is signed); for a
/// record an import brought it is a note in `not_held` (the bundle carried
/// the digest only).
pub fn verify(store: &Store) -> Result<Report, StoreError> {
    let mut references = Vec::new();
    let mut unreadable = 0;
    for entry in store.entries(None) {
        let entry: SignedEntry = match entry {
            Ok(e) => e,
            // A damaged entry is audit's to report; its references cannot be
            // read, so they are counted, not checked.
            Err(e) if e.is_integrity_failure() => {
                unreadable += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        references.extend(References::of(entry.id, &entry.entry));
    }
    let mut report = verify_references(store, references)?;
    report.unreadable_entries = unreadable;
    Ok(report)
}

/// The evidence files one record entry references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct References {
    pub id: EntryId,
    pub log: [u8; 32],
    pub seq: u64,
    pub items: Vec<EvidenceItem>,
}

impl References {
    /// `None` for entries that are not records or reference no file.
    pub fn of(id: EntryId, entry: &crate::entry::Entry) -> Option<References> {
        let record = entry.record_body()?;
        let items = &record.person().evidence;
        (!items.is_empty()).then(|| References {
            id,
            log: entry.log.to_bytes(),
            seq: entry.seq,
            items: items.clone(),
        })
    }
}

/// [`verify`] with the references already gathered by a walk over the
/// store (`audit` gathers them while it checks every entry, so that it reads
/// the store once).
pub fn verify_references(store: &Store, references: Vec<References>) -> Result<Report, StoreError> {
    let root = store.root();
    let dir = dir(root);
    let mut report = Report::default();
    // Each digest held, with its size if its content matches its name.
    let mut held: std::collections::HashMap<[u8; 32], Option<u64>> = Default::default();
    let mut names = Vec::new();
    match fs::read_dir(&dir) {
        Ok(entries) => {
            for e in entries {
                let e = e.map_err(io_at(&dir))?;
                names.push(e.file_name());
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_at(&dir)(e)),
    }
    names.sort();
    for name in names {
        let name = name.to_string_lossy().into_owned();
        let path = dir.join(&name);
        if name.starts_with(".incoming.") {
            // An interrupted copy: never referenced, safe to delete.
            continue;
        }
        let Some(digest) = parse_digest(&name) else {
            report.problems.push(Problem {
                record: None,
                index: None,
                file: name.clone(),
                message: format!("{}: not named by a BLAKE3 digest", path.display()),
            });
            continue;
        };
        report.files_checked += 1;
        let (actual, size) = hash_file(&path).map_err(io_at(&path))?;
        if actual == digest {
            held.insert(digest, Some(size));
        } else {
            held.insert(digest, None);
            report.problems.push(Problem {
                record: None,
                index: None,
                file: name.clone(),
                message: format!(
                    "the stored file's content has digest {}, not the digest it is named by: it was changed",
                    hex::encode(actual)
                ),
            });
        }
    }
    let imported = crate::exchange::ImportedRanges::load(store);
    for entry in references {
        let brought = imported.covers(&entry.log, entry.seq);
        for (i, item) in entry.items.iter().enumerate() {
            report.references_checked += 1;
            let file = hex::encode(item.blake3);
            let problem = |message: String| Problem {
                record: Some(entry.id),
                index: Some(i),
                file: file.clone(),
                message,
            };
            match held.get(&item.blake3) {
                None if brought => report.not_held.push(problem(format!(
                    "the file {file} ({} bytes) is not held: the record came in a bundle that carried its digest only",
                    item.size
                ))),
                None => report.problems.push(problem(format!(
                    "the file {file} ({} bytes) is missing from {EVIDENCE_FILES_DIR}/",
                    item.size
                ))),
                Some(None) => report.problems.push(problem(format!(
                    "the stored file {file} does not match its digest"
                ))),
                Some(Some(size)) if *size != item.size => report.problems.push(problem(format!(
                    "the file {file} holds {size} bytes; the record says {}",
                    item.size
                ))),
                Some(Some(_)) => {}
            }
        }
    }
    Ok(report)
}
