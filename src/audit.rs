//! Audit: replay every segment from its first byte and report every broken
//! property, not just the first (docs/FORMAT.md §7).
//!
//! The audit trusts nothing the store derived: it re-reads the frames, checks
//! canonical form, schema, signature and sequence of each entry, recomputes the
//! Merkle tree, and only then compares what it found with the index.

use std::path::Path;

use serde::Serialize;

use crate::entry::{
    decode_entry, parse_signature, verify_signature, EntryError, EntryId, EntryKind,
};
use crate::keys::{self, VerifyingKey};
use crate::merkle::{self, Frontier};
use crate::segment::{ScanItem, SegmentError, SegmentReader};
use crate::store::{LogState, Store, StoreError};

/// How serious a finding is: errors make `audit` fail; warnings record
/// something the store survived without losing an acknowledged entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// The property a finding says is broken (FORMAT.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Property {
    /// Segment or frame structure.
    Framing,
    /// RFC 8785 / NFC / integer rules of the entry bytes.
    CanonicalForm,
    /// Required entry fields, version, kind.
    EntryStructure,
    /// The record body against docs/SCHEMA.md.
    Schema,
    Signature,
    /// The id the index holds for an entry is not the hash of its bytes.
    EntryId,
    /// A gap, repeat or reorder of sequence numbers.
    Sequence,
    /// An entry that names another log than the segment it is in.
    LogMismatch,
    /// The recomputed Merkle tree disagrees with the stored one.
    MerkleRoot,
    /// The index disagrees with the segments in some other way.
    Index,
    /// An incomplete final write left by a crash.
    TornTail,
    /// A stored checkpoint the log does not match: entries were changed or
    /// removed after the log's key signed its size and root.
    Checkpoint,
    /// An evidence file whose content does not match its digest, or one a
    /// record references that is missing or of another size.
    Evidence,
    /// An entry of a revoked key at or past its revocation point
    /// (FORMAT.md §9.6).
    RevokedKey,
    /// An entry about a record whose target is not an entry the store
    /// holds, or not of the kind it must name (FORMAT.md §7.2).
    Target,
}

impl Property {
    pub fn as_str(self) -> &'static str {
        match self {
            Property::Framing => "framing",
            Property::CanonicalForm => "canonical-form",
            Property::EntryStructure => "entry-structure",
            Property::Schema => "schema",
            Property::Signature => "signature",
            Property::EntryId => "entry-id",
            Property::Sequence => "sequence",
            Property::LogMismatch => "log-mismatch",
            Property::MerkleRoot => "merkle-root",
            Property::Index => "index",
            Property::TornTail => "torn-tail",
            Property::Checkpoint => "checkpoint",
            Property::Evidence => "evidence",
            Property::RevokedKey => "revoked-key",
            Property::Target => "target",
        }
    }
}

/// One broken property, located as exactly as the damage allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub property: Property,
    /// Hex public key of the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Key id of the log, as `key show` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Byte offset in the segment file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub message: String,
}

/// What one log looked like on replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogSummary {
    pub log: String,
    pub key_id: String,
    pub entries: u64,
    pub merkle_root: String,
}

/// The result of an audit: what was checked and everything found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub logs: Vec<LogSummary>,
    pub entries_checked: u64,
    /// Leaves of replica logs whose entries their author did not share.
    pub withheld: u64,
    /// Frames whose position the index records (matching or not).
    #[serde(skip)]
    entries_indexed_in_segments: u64,
    /// Entries about a record whose target did not resolve, judged once
    /// every log has been read.
    #[serde(skip)]
    unresolved: Vec<Unresolved>,
    /// Evidence files named by the records that verified, checked once
    /// every log has been read.
    #[serde(skip)]
    evidence_references: Vec<crate::evidence_files::References>,
    pub findings: Vec<Finding>,
}

impl AuditReport {
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.findings.len() - self.errors()
    }

    pub fn is_clean(&self) -> bool {
        self.errors() == 0
    }
}

/// Replay every log of the store and compare with its index.
pub fn audit(store: &Store) -> Result<AuditReport, StoreError> {
    let mut report = AuditReport {
        logs: Vec::new(),
        entries_checked: 0,
        withheld: 0,
        entries_indexed_in_segments: 0,
        unresolved: Vec::new(),
        evidence_references: Vec::new(),
        findings: Vec::new(),
    };
    let segments = store.segment_files()?;
    for (log, path) in &segments {
        audit_log(store, log, path, &mut report)?;
    }
    for (log, _) in store.logs()? {
        if !segments.iter().any(|(l, _)| *l == log) {
            report.findings.push(Finding {
                message: "the index lists this log but its segment file is missing".into(),
                ..finding(Severity::Error, Property::Index, &log)
            });
        }
    }
    let indexed = store.indexed_entries()?;
    if indexed > report.entries_indexed_in_segments {
        report.findings.push(store_finding(
            Severity::Error,
            Property::Index,
            format!(
                "the index holds {} entries that are in no segment",
                indexed - report.entries_indexed_in_segments
            ),
        ));
    }
    let own = store.group_key().to_bytes();
    let references = std::mem::take(&mut report.evidence_references);
    for p in crate::evidence_files::verify_references(store, references)?.problems {
        let location = match p.record {
            Some(record) => store.location(&record)?,
            None => None,
        };
        report.findings.push(match p.record {
            Some(record) => Finding {
                entry: Some(record.to_hex()),
                seq: location.map(|l| l.seq),
                message: format!("evidence[{}]: {}", p.index.unwrap_or(0), p.message),
                ..finding(
                    Severity::Error,
                    Property::Evidence,
                    &location.map_or(own, |l| l.log),
                )
            },
            None => store_finding(
                Severity::Error,
                Property::Evidence,
                format!(
                    "{}/{}: {}",
                    crate::evidence_files::EVIDENCE_FILES_DIR,
                    p.file,
                    p.message
                ),
            ),
        });
    }
    revoked_entries(store, &mut report)?;
    dangling_targets(store, &mut report);
    for path in store.set_aside_files()? {
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        // Set-aside files are named <log hex>.<offset>.<time>.<n>.torn.
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let mut parts = name.split('.');
        let log = parts.next().and_then(crate::keys::parse_public_key_hex);
        let offset = parts.next().and_then(|o| o.parse::<u64>().ok());
        let message = format!(
            "{size} bytes of an incomplete frame were set aside in {}",
            path.display()
        );
        report.findings.push(match log {
            Some(key) => Finding {
                offset,
                message,
                ..finding(Severity::Warning, Property::TornTail, key.as_bytes())
            },
            None => store_finding(Severity::Warning, Property::TornTail, message),
        });
    }
    Ok(report)
}

/// Entries the store holds of a revoked key at or past its revocation point
/// (FORMAT.md §9.6): one finding per entry, naming the revocation entry.
fn revoked_entries(store: &Store, report: &mut AuditReport) -> Result<(), StoreError> {
    let roots: Vec<crate::keys::VerifyingKey> = crate::trust::TrustStore::load(store.root())
        .map(|t| t.keys().iter().filter_map(|k| k.verifying_key()).collect())
        .unwrap_or_default();
    let trust = crate::group_keys::store_trust(store, &roots, &[])?;
    for (log, state) in store.logs()? {
        let Ok(key) = crate::keys::VerifyingKey::from_bytes(&log) else {
            continue;
        };
        let Some(r) = trust.revocation(&key) else {
            continue;
        };
        for seq in r.keep_up_to..state.size {
            let Some(id) = store.id_at(&log, seq)? else {
                continue; // a withheld leaf: no entry to verify
            };
            report.findings.push(Finding {
                seq: Some(seq),
                entry: Some(id.to_hex()),
                message: crate::group_keys::revoked_message(&key, r),
                ..finding(Severity::Error, Property::RevokedKey, &log)
            });
        }
    }
    Ok(())
}

/// An entry about a record (FORMAT.md §4.2) whose target is not held, or
/// held but of another kind than it must name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Unresolved {
    log: [u8; 32],
    seq: u64,
    offset: u64,
    entry: EntryId,
    kind: EntryKind,
    /// The member that names the target: `target`, `records` or `link`.
    member: &'static str,
    target: EntryId,
    /// The kind of the target when the store holds it.
    found: Option<EntryKind>,
}

/// The kinds an entry about a record may name, by its kind, and the member
/// that names them.
fn target_rule(kind: EntryKind) -> (&'static str, &'static [EntryKind], &'static str) {
    const RECORD: &[EntryKind] = &[EntryKind::Casualty, EntryKind::Missing];
    match kind {
        EntryKind::StatusChange => ("target", &[EntryKind::Missing], "a missing-person record"),
        EntryKind::SamePersonLink => ("records", RECORD, "a record"),
        EntryKind::SamePersonUnlink => (
            "link",
            &[EntryKind::SamePersonLink],
            "a same-person-link entry",
        ),
        _ => ("target", RECORD, "a record"),
    }
}

/// Check the targets of one decoded entry against the index (whose
/// agreement with the segments the rest of the audit checks).
fn check_targets(
    store: &Store,
    log: &[u8; 32],
    offset: u64,
    id: EntryId,
    decoded: &crate::entry::Entry,
    report: &mut AuditReport,
) -> Result<(), StoreError> {
    let Some(body) = decoded.lifecycle_body() else {
        return Ok(());
    };
    let (member, kinds, _) = target_rule(decoded.kind);
    for target in body.targets() {
        let found = store.location(&target)?.map(|l| l.kind);
        if found.is_some_and(|k| kinds.contains(&k)) {
            continue;
        }
        report.unresolved.push(Unresolved {
            log: *log,
            seq: decoded.seq,
            offset,
            entry: id,
            kind: decoded.kind,
            member,
            target,
            found,
        });
    }
    Ok(())
}

/// Findings for the targets that did not resolve. A target of another kind
/// is an error. A target the store does not hold is an error for an entry
/// this store wrote (its commands refuse to name an entry they do not hold);
/// for an entry an import brought, the target may sit in a log not imported
/// here (a warning), or be one of the leaves withheld in the store's
/// replicas, which an entry id cannot be matched with (no finding).
fn dangling_targets(store: &Store, report: &mut AuditReport) {
    if report.unresolved.is_empty() {
        return;
    }
    let ranges = crate::exchange::ImportedRanges::load(store);
    let imported = |log: &[u8; 32], seq: u64| ranges.covers(log, seq);
    let withheld_held = report.withheld > 0;
    for u in std::mem::take(&mut report.unresolved) {
        let (_, _, wanted) = target_rule(u.kind);
        let (severity, message) = match u.found {
            Some(kind) => (
                Severity::Error,
                format!(
                    "this {} names {} in `{}`, which is a {kind} entry, not {wanted}",
                    u.kind, u.target, u.member
                ),
            ),
            None if !imported(&u.log, u.seq) => (
                Severity::Error,
                format!(
                    "this {} names {} in `{}`, but the store holds no such entry",
                    u.kind, u.target, u.member
                ),
            ),
            None if withheld_held => continue,
            None => (
                Severity::Warning,
                format!(
                    "this {} (brought by an import) names {} in `{}`, which the store does not hold: its log was not imported here",
                    u.kind, u.target, u.member
                ),
            ),
        };
        report.findings.push(Finding {
            seq: Some(u.seq),
            entry: Some(u.entry.to_hex()),
            offset: Some(u.offset),
            message,
            ..finding(severity, Property::Target, &u.log)
        });
    }
}

/// A finding about the store as a whole rather than one log.
fn store_finding(severity: Severity, property: Property, message: String) -> Finding {
    Finding {
        severity,
        property,
        log: None,
        key_id: None,
        seq: None,
        entry: None,
        offset: None,
        message,
    }
}

fn finding(severity: Severity, property: Property, log: &[u8; 32]) -> Finding {
    Finding {
        severity,
        property,
        log: Some(hex::encode(log)),
        key_id: Some(crate::store::short_log(log)),
        seq: None,
        entry: None,
        offset: None,
        message: String::new(),
    }
}

fn entry_property(e: &EntryError) -> Property {
    match e.property() {
        "canonical-form" => Property::CanonicalForm,
        "schema" => Property::Schema,
        "signature" => Property::Signature,
        _ => Property::EntryStructure,
    }
}

/// Frames checked per window, on every core.
const CHECK_WINDOW: usize = 4096;

/// What checking one frame's bytes found: its decoding and, when it decodes,
/// its signature under the log's key.
struct FrameCheck {
    decoded: Result<crate::entry::Entry, EntryError>,
    signature: Result<(), EntryError>,
}

/// The segment's items in order, each frame with its check. Decoding and
/// signature checks are independent of one another, so they run on every
/// core a window at a time; the walk that compares them with the tree, the
/// checkpoints and the index stays in order on one thread.
fn checked_frames(
    reader: &mut SegmentReader,
    key: Option<VerifyingKey>,
) -> impl Iterator<Item = (std::io::Result<ScanItem>, Option<FrameCheck>)> + '_ {
    let mut buffer = std::collections::VecDeque::new();
    let mut done = false;
    std::iter::from_fn(move || {
        if buffer.is_empty() && !done {
            let window: Vec<_> = reader.by_ref().take(CHECK_WINDOW).collect();
            done = window.len() < CHECK_WINDOW;
            buffer.extend(crate::index::par_map(window, |item| {
                let check = match &item {
                    Ok(ScanItem::Frame {
                        entry, signature, ..
                    }) => {
                        let decoded = decode_entry(entry);
                        let signature = match &decoded {
                            Ok(d) => parse_signature(signature).and_then(|s| {
                                verify_signature(key.as_ref().unwrap_or(&d.log), entry, &s)
                            }),
                            Err(_) => Ok(()),
                        };
                        Some(FrameCheck { decoded, signature })
                    }
                    _ => None,
                };
                (item, check)
            }));
        }
        buffer.pop_front()
    })
}

fn audit_log(
    store: &Store,
    log: &[u8; 32],
    path: &Path,
    report: &mut AuditReport,
) -> Result<(), StoreError> {
    let state: LogState = store.log_state(log)?;
    let mut reader = match SegmentReader::open(path) {
        Ok(r) => r,
        Err(SegmentError::BadHeader) => {
            report.findings.push(Finding {
                message: format!("{}: not a segment file (bad header)", path.display()),
                ..finding(Severity::Error, Property::Framing, log)
            });
            return Ok(());
        }
        Err(SegmentError::Io(source)) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if reader.log_key() != log {
        report.findings.push(Finding {
            offset: Some(16),
            message: "the segment file header names another log than its file name".into(),
            ..finding(Severity::Error, Property::LogMismatch, log)
        });
    }
    let key = VerifyingKey::from_bytes(log).ok();
    let checkpoints = match store.checkpoints(log) {
        Ok(c) => c,
        Err(e) => {
            report.findings.push(Finding {
                message: format!("the stored checkpoints cannot be read: {e}"),
                ..finding(Severity::Error, Property::Checkpoint, log)
            });
            Vec::new()
        }
    };
    let mut frontier = Frontier::new();
    let check_checkpoints = |frontier: &Frontier, report: &mut AuditReport| {
        for c in checkpoints
            .iter()
            .filter(|c| c.signed.checkpoint.size == frontier.size())
        {
            if c.signed.checkpoint.root != frontier.root() {
                report.findings.push(Finding {
                    seq: frontier.size().checked_sub(1),
                    message: format!(
                        "the first {} entries have root {}, but the log's key signed root {} for that size ({}, {})",
                        frontier.size(),
                        frontier.root(),
                        c.signed.checkpoint.root,
                        c.source,
                        c.received_at
                    ),
                    ..finding(Severity::Error, Property::Checkpoint, log)
                });
            }
        }
    };
    check_checkpoints(&frontier, report);
    let mut expected_seq = 0u64;
    let mut valid = 0u64;
    let mut accounted = 0u64;
    let mut node_mismatches = 0u64;
    let mut first_node_mismatch = None;
    for (item, check) in checked_frames(&mut reader, key) {
        let item = item.map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        match item {
            ScanItem::Frame { offset, entry, .. } => {
                let position = frontier.size();
                let id = EntryId::of(&entry);
                let at = |severity, property, seq: Option<u64>, message: String| Finding {
                    seq,
                    entry: Some(id.to_hex()),
                    offset: Some(offset),
                    message,
                    ..finding(severity, property, log)
                };
                for (node, hash) in frontier.push(merkle::leaf_hash(&entry)) {
                    if position < state.size && store.stored_node(log, node)? != Some(hash) {
                        node_mismatches += 1;
                        first_node_mismatch.get_or_insert(node);
                    }
                }
                check_checkpoints(&frontier, report);
                let Some(FrameCheck { decoded, signature }) = check else {
                    continue; // every frame has its check
                };
                let decoded = match decoded {
                    Ok(d) => d,
                    Err(e) => {
                        // Name the entry a user knows: the id the index
                        // acknowledged at this position, if it has one.
                        let acknowledged = store.id_at(log, expected_seq)?;
                        if acknowledged.is_some() {
                            accounted += 1;
                        }
                        let known = match acknowledged {
                            Some(known) if known != id => {
                                format!(" (acknowledged as entry {known})")
                            }
                            _ => String::new(),
                        };
                        report.findings.push(Finding {
                            entry: Some(acknowledged.unwrap_or(id).to_hex()),
                            ..at(
                                Severity::Error,
                                entry_property(&e),
                                Some(expected_seq),
                                format!("entry at position {position}{known}: {e}"),
                            )
                        });
                        expected_seq += 1;
                        continue;
                    }
                };
                let seq = decoded.seq;
                check_targets(store, log, offset, id, &decoded, report)?;
                let mut ok = true;
                if decoded.log.as_bytes() != log {
                    ok = false;
                    report.findings.push(at(
                        Severity::Error,
                        Property::LogMismatch,
                        Some(seq),
                        format!(
                            "the entry names log {} but is stored in this log",
                            keys::key_id(&decoded.log)
                        ),
                    ));
                }
                if seq != expected_seq {
                    ok = false;
                    let gap = seq.saturating_sub(expected_seq);
                    let missing = if gap == 1 {
                        "1 entry is missing".to_string()
                    } else {
                        format!("{gap} entries are missing")
                    };
                    let what = if seq > expected_seq && expected_seq == 0 {
                        format!("the log starts at sequence number {seq}, not 0: {missing}")
                    } else if seq > expected_seq {
                        format!(
                            "sequence number {seq} follows {}: {missing}",
                            expected_seq - 1
                        )
                    } else {
                        format!(
                            "sequence number {seq} where {expected_seq} was expected: an entry is repeated or out of order"
                        )
                    };
                    report
                        .findings
                        .push(at(Severity::Error, Property::Sequence, Some(seq), what));
                }
                expected_seq = seq + 1;
                if let Err(e) = signature {
                    ok = false;
                    report.findings.push(at(
                        Severity::Error,
                        Property::Signature,
                        Some(seq),
                        e.to_string(),
                    ));
                }
                match store.id_at(log, seq)? {
                    Some(indexed) if indexed == id => match store.location(&id)? {
                        Some(l) if l.offset == offset && l.seq == seq => accounted += 1,
                        _ => report.findings.push(at(
                            Severity::Error,
                            Property::Index,
                            Some(seq),
                            "the index records another position for this entry".into(),
                        )),
                    },
                    Some(indexed) => {
                        accounted += 1;
                        report.findings.push(at(
                        Severity::Error,
                        Property::EntryId,
                        Some(seq),
                        format!(
                            "the index holds entry {indexed} at this position, but the stored bytes have id {id}"
                        ),
                    ))
                    }
                    None if ok => report.findings.push(at(
                        Severity::Error,
                        Property::Index,
                        Some(seq),
                        "the entry is in the segment but not in the index (run `sijill reindex`)"
                            .into(),
                    )),
                    None => {}
                }
                if ok {
                    valid += 1;
                    report
                        .evidence_references
                        .extend(crate::evidence_files::References::of(id, &decoded));
                }
            }
            ScanItem::Withheld { offset, seq, leaf } => {
                let position = frontier.size();
                for (node, hash) in frontier.push(crate::merkle::Hash(leaf)) {
                    if position < state.size && store.stored_node(log, node)? != Some(hash) {
                        node_mismatches += 1;
                        first_node_mismatch.get_or_insert(node);
                    }
                }
                check_checkpoints(&frontier, report);
                if store.own_keys().iter().any(|k| k.as_bytes() == log) {
                    report.findings.push(Finding {
                        seq: Some(seq),
                        offset: Some(offset),
                        message: "a withheld leaf in the group's own log, which must hold every entry".into(),
                        ..finding(Severity::Error, Property::Framing, log)
                    });
                }
                if seq != expected_seq {
                    report.findings.push(Finding {
                        seq: Some(seq),
                        offset: Some(offset),
                        message: format!("withheld leaf with sequence number {seq} where {expected_seq} was expected"),
                        ..finding(Severity::Error, Property::Sequence, log)
                    });
                }
                expected_seq = seq + 1;
                report.withheld += 1;
            }
            ScanItem::Corrupt { offset, len } => report.findings.push(Finding {
                offset: Some(offset),
                message: format!(
                    "{len} bytes at offset {offset} are not a valid frame; entries there cannot be read"
                ),
                ..finding(Severity::Error, Property::Framing, log)
            }),
            ScanItem::Torn { offset, len } => {
                let acknowledged = offset < state.end;
                report.findings.push(Finding {
                    offset: Some(offset),
                    message: if acknowledged {
                        format!("the segment ends in the middle of an acknowledged entry at offset {offset} ({len} bytes remain): the file was cut")
                    } else {
                        format!("an incomplete write of {len} bytes at offset {offset} (never acknowledged); opening the store for writing sets it aside")
                    },
                    ..finding(
                        if acknowledged { Severity::Error } else { Severity::Warning },
                        Property::TornTail,
                        log,
                    )
                });
            }
        }
    }
    for c in &checkpoints {
        if c.signed.checkpoint.size > frontier.size() {
            report.findings.push(Finding {
                message: format!(
                    "the log holds {} entries, but its key signed a checkpoint of {} entries ({}, {}): entries were removed",
                    frontier.size(),
                    c.signed.checkpoint.size,
                    c.source,
                    c.received_at
                ),
                ..finding(Severity::Error, Property::Checkpoint, log)
            });
        }
    }
    report.entries_checked += valid;
    report.entries_indexed_in_segments += accounted;
    let root = frontier.root();
    if frontier.size() != state.size || root != state.root || node_mismatches > 0 {
        let nodes = match first_node_mismatch {
            Some(node) => format!(
                "; {node_mismatches} stored Merkle nodes disagree with the segment, the first at level {} index {}",
                node.level, node.index
            ),
            None => String::new(),
        };
        report.findings.push(Finding {
            message: format!(
                "the segment holds a tree of {} entries with root {root}; the index recorded {} entries with root {}{nodes}",
                frontier.size(),
                state.size,
                state.root
            ),
            ..finding(Severity::Error, Property::MerkleRoot, log)
        });
    }
    report.logs.push(LogSummary {
        log: hex::encode(log),
        key_id: crate::store::short_log(log),
        entries: frontier.size(),
        merkle_root: root.to_hex(),
    });
    Ok(())
}
