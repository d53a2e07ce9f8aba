//! Exchange between groups: export a bundle, import one, cosign a partner's
//! checkpoint, prove one entry, and keep evidence of a rewritten history
//! (docs/FORMAT.md §13, §14).
//!
//! Import reads a bundle once: entries are verified as they stream past and
//! staged on disk, and only when the whole bundle holds (signatures, trees,
//! checkpoints, trust, consistency with everything the store already has) are
//! they appended to the author's replica log. Two checkpoints of one log that
//! cannot both be true are never resolved by choosing one: the import is
//! refused and both signed notes are kept as evidence.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::bundle::{
    self, BundleError, BundleHeader, BundleReport, BundleWriter, LogSection, Scope, SinceProof,
    Verified,
};
use crate::entry::{format_timestamp, EntryId, EntryKind};
use crate::filter::Filter;
use crate::group_keys::{self, GroupTrust, KeyEvent};
use crate::keys::{self, SigningKey, VerifyingKey};
use crate::lifecycle::{Lifecycle, RecordView};
use crate::merkle::{self, Frontier, Hash, NodeId};
use crate::note::{self, Checkpoint, Note, SignedCheckpoint};
use crate::record::Sensitivity;
use crate::segment::{encode_frame, encode_withheld_frame, sync_dir};
use crate::store::{short_log, Leaf, Store, StoreError, TMP_DIR};
use crate::trust::TrustStore;
use crate::FORMAT_VERSION;

pub const EVIDENCE_DIR: &str = "evidence";
pub const IMPORTS_FILE: &str = "imports.jsonl";

/// The key name this group cosigns under (tlog-cosignature).
pub fn cosigner_name(key: &VerifyingKey) -> String {
    format!("sijill.witness/{}", hex::encode(key.as_bytes()))
}

/// Why an exchange operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Bundle(Box<BundleError>),
    /// The bundle holds, but someone in it is not trusted by this store.
    #[error("the bundle verifies, but {0} not trusted")]
    Untrusted(String),
    /// Two checkpoints of one log that cannot both be true.
    #[error("log {log}: {message}; both signed checkpoints were kept as evidence in {evidence}")]
    Equivocation {
        log: String,
        message: String,
        evidence: PathBuf,
    },
    /// The bundle holds, but cannot be added to what this store has.
    #[error("{0}")]
    Refused(String),
    /// The bundle carries entries of a revoked key past its revocation
    /// point (FORMAT.md §9.6): they do not verify.
    #[error("{0}")]
    Revoked(String),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] note::NoteError),
    #[error("invalid filter: {0}")]
    Filter(String),
}

impl From<BundleError> for ExchangeError {
    fn from(e: BundleError) -> Self {
        ExchangeError::Bundle(Box::new(e))
    }
}

impl ExchangeError {
    /// Exit status 1: something does not verify, or a history was rewritten.
    pub fn is_integrity_failure(&self) -> bool {
        match self {
            ExchangeError::Store(e) => e.is_integrity_failure(),
            ExchangeError::Bundle(e) => e.problem != bundle::BundleProblem::Io,
            ExchangeError::Untrusted(_)
            | ExchangeError::Equivocation { .. }
            | ExchangeError::Revoked(_) => true,
            ExchangeError::Checkpoint(_) => true,
            _ => false,
        }
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> ExchangeError + '_ {
    move |source| ExchangeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `export` takes.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// A checkpoint note the partner holds: export only what follows it.
    pub since: Option<Vec<u8>>,
    /// The records a filtered export carries (the same filter as `list`).
    pub filter: Filter,
    /// The filter as the user gave it, recorded in the bundle's header.
    pub filter_text: BTreeMap<String, String>,
    pub include_sensitive: bool,
    /// Carry the evidence files of the records that travel (FORMAT.md
    /// §13.11), not only their digests.
    pub with_evidence: bool,
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    pub scope: Scope,
    pub digest: [u8; 32],
    pub bytes: u64,
    /// Per log: key, checkpoint size, entries carried, leaves withheld.
    pub logs: Vec<(VerifyingKey, u64, u64, u64)>,
    /// Logs of revoked keys stopped at their revocation point.
    pub stopped: Vec<StoppedLog>,
    /// Evidence files the carried records reference (digest, size as the
    /// record states it), in ascending order of digest.
    pub evidence: Vec<([u8; 32], u64)>,
    /// Of those, the files carried (`with_evidence`) and their bytes.
    pub files_carried: u64,
    pub file_bytes: u64,
    /// Referenced files this store does not hold, so not carried.
    pub files_not_held: Vec<[u8; 32]>,
}

/// A log of a revoked key that an export stopped at its revocation point
/// (FORMAT.md §9.6, §13.8): its entries from `keep_up_to` on do not verify,
/// so they do not travel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoppedLog {
    pub key: VerifyingKey,
    /// Where the revocation stops the log.
    pub keep_up_to: u64,
    /// The entries of the log this store holds.
    pub held: u64,
    /// The size of the checkpoint the log was exported at: the newest held
    /// one at or before `keep_up_to`. `None`: there is none, and the log was
    /// left out.
    pub exported: Option<u64>,
    /// The `key-revoke` entry and its reason.
    pub revocation: EntryId,
    pub reason: String,
}

/// How an entry leaves the store.
enum Disposition {
    Carry,
    Withhold,
    Skip,
}

/// Whether a record must stay in the store: internal, or holding sensitive
/// fields that are not to leave, in its first form or its current view
/// (an amendment can make a record internal, or add a contact).
fn record_is_private(view: &RecordView, options: &ExportOptions) -> bool {
    [&view.original, &view.current].iter().any(|r| {
        r.sensitivity() == Sensitivity::Internal
            || (!options.include_sensitive && r.has_sensitive_fields())
    })
}

/// How one entry leaves the store. Entries about a record follow it: what is
/// said of an internal record stays home with it. For a record that is
/// carried, the evidence files of its first form and its current view are
/// added to `evidence` when given.
fn disposition(
    store: &Store,
    trust: &group_keys::LazyGroupTrust,
    e: &crate::entry::SignedEntry,
    options: &ExportOptions,
    scope: Scope,
    evidence: Option<&mut BTreeMap<[u8; 32], u64>>,
) -> Result<Disposition, ExchangeError> {
    let found = |view| match view {
        Ok(v) => Ok(Some(v)),
        Err(crate::lifecycle::LifecycleError::Store(StoreError::NotFound(_))) => Ok(None),
        Err(crate::lifecycle::LifecycleError::Store(e)) => Err(ExchangeError::Store(e)),
        Err(other) => Err(ExchangeError::Refused(other.to_string())),
    };
    let view_of = |id: &EntryId| found(crate::lifecycle::view(store, id, trust));
    let mut files = Vec::new();
    let (private, wanted) = if e.entry.record_body().is_some() {
        // The record was just read and verified: fold it as it is.
        match found(crate::lifecycle::view_of_entry(store, e.clone(), trust))? {
            Some(view) => {
                for r in [&view.original, &view.current] {
                    files.extend(r.person().evidence.iter().map(|i| (i.blake3, i.size)));
                }
                (
                    record_is_private(&view, options),
                    options.filter.matches(&view.current),
                )
            }
            None => (false, false),
        }
    } else {
        let mut private =
            !options.include_sensitive && crate::lifecycle::sets_sensitive_field(&e.entry);
        let mut wanted = false;
        let mut targets = e
            .entry
            .lifecycle_body()
            .map(Lifecycle::targets)
            .unwrap_or_default();
        // An unlink names a link: it follows the two records the link names.
        if let (EntryKind::SamePersonUnlink, Some(link)) = (e.entry.kind, targets.first()) {
            targets = match store.get(link) {
                Ok(link) => link
                    .entry
                    .lifecycle_body()
                    .map(Lifecycle::targets)
                    .unwrap_or_default(),
                Err(StoreError::NotFound(_)) => Vec::new(),
                Err(err) => return Err(err.into()),
            };
        }
        for target in targets {
            if let Some(view) = view_of(&target)? {
                private |= record_is_private(&view, options);
                wanted |= options.filter.matches(&view.current);
            }
        }
        (private, wanted)
    };
    let d = match (scope, private, wanted) {
        (Scope::Filtered, false, true) => Disposition::Carry,
        (Scope::Filtered, _, _) => Disposition::Skip,
        (_, true, _) => Disposition::Withhold,
        (_, false, _) => Disposition::Carry,
    };
    if let (Disposition::Carry, Some(evidence)) = (&d, evidence) {
        evidence.extend(files);
    }
    Ok(d)
}

/// The checkpoint to export a log at: a new one for the group's own log,
/// the newest held one for a replica, with every cosignature held for it.
fn export_checkpoint(
    store: &mut Store,
    key: &SigningKey,
    log: &[u8; 32],
) -> Result<Option<SignedCheckpoint>, ExchangeError> {
    let signed = if *log == key.verifying_key().to_bytes() {
        store.sign_checkpoint(key)?
    } else {
        let size = store.log_state(log)?.size;
        match store
            .checkpoints(log)?
            .into_iter()
            .filter(|c| c.signed.checkpoint.size <= size)
            .max_by_key(|c| c.signed.checkpoint.size)
        {
            Some(c) => c.signed,
            None => return Ok(None),
        }
    };
    Ok(Some(with_cosignatures(store, key, log, signed)?))
}

/// `signed` with every cosignature held for the same checkpoint body,
/// keeping only signature lines that verify with a key this store knows.
fn with_cosignatures(
    store: &Store,
    key: &SigningKey,
    log: &[u8; 32],
    mut signed: SignedCheckpoint,
) -> Result<SignedCheckpoint, ExchangeError> {
    // Gather the cosignatures held for the same checkpoint body, keeping only
    // lines that verify with a key this store knows.
    for held in store.checkpoints(log)? {
        if held.signed.checkpoint == signed.checkpoint {
            for s in held.signed.note.signatures {
                if !signed.note.signatures.contains(&s) {
                    signed.note.signatures.push(s);
                }
            }
        }
    }
    let log_key = VerifyingKey::from_bytes(log)
        .map_err(|_| StoreError::IndexDamaged("a log key is not a public key".into()))?;
    let mut cosigners = TrustStore::load(store.root())
        .map(|t| cosigner_keys(&t))
        .unwrap_or_default();
    cosigners.push((cosigner_name(&key.verifying_key()), key.verifying_key()));
    Ok(signed.verified_only(&log_key, &cosigners))
}

/// The newest checkpoint held for `log` of at most `limit` entries, with
/// every cosignature held for it: where an export stops a revoked log.
fn export_checkpoint_at_most(
    store: &mut Store,
    key: &SigningKey,
    log: &[u8; 32],
    limit: u64,
) -> Result<Option<SignedCheckpoint>, ExchangeError> {
    let newest = store
        .checkpoints(log)?
        .into_iter()
        .filter(|c| c.signed.checkpoint.size <= limit)
        .max_by_key(|c| c.signed.checkpoint.size);
    match newest {
        Some(c) => Ok(Some(with_cosignatures(store, key, log, c.signed)?)),
        None => Ok(None),
    }
}

/// Write a bundle of the store's logs to `out_path` (via a temporary file
/// renamed into place, so a failed export leaves nothing behind).
pub fn export(
    store: &mut Store,
    key: &SigningKey,
    options: &ExportOptions,
    out_path: &Path,
) -> Result<ExportSummary, ExchangeError> {
    let own = key.verifying_key().to_bytes();
    let since = match &options.since {
        Some(bytes) => Some(parse_foreign_checkpoint(bytes)?),
        None => None,
    };
    let scope =
        match (&since, options.filter == Filter::default()) {
            (Some(_), true) => Scope::Since,
            (Some(_), false) => return Err(ExchangeError::Filter(
                "--since and filters cannot be combined: a since export carries every new entry"
                    .into(),
            )),
            (None, true) => Scope::Full,
            (None, false) => Scope::Filtered,
        };
    // Which logs, at which checkpoints.
    let mut plan = Vec::new();
    let logs: Vec<[u8; 32]> = match &since {
        Some((log_key, _)) => vec![log_key.to_bytes()],
        None => {
            let mut logs: Vec<[u8; 32]> = store.logs()?.into_iter().map(|(l, _)| l).collect();
            if !logs.contains(&own) {
                logs.insert(0, own);
            }
            logs
        }
    };
    // A revoked key's entries from its revocation point on do not verify
    // (§9.6): its log is exported at the newest checkpoint at or before that
    // point, and the rest stays home.
    let roots: Vec<VerifyingKey> = TrustStore::load(store.root())
        .map(|t| t.keys().iter().filter_map(|k| k.verifying_key()).collect())
        .unwrap_or_default();
    let group_trust = group_keys::store_trust(store, &roots, &[])?;
    let mut stopped = Vec::new();
    for log in logs {
        let log_key = VerifyingKey::from_bytes(&log)
            .map_err(|_| StoreError::IndexDamaged("a log key is not a public key".into()))?;
        let Some(r) = group_trust.revocation(&log_key).cloned() else {
            if let Some(cp) = export_checkpoint(store, key, &log)? {
                plan.push((log, cp));
            }
            continue;
        };
        let held = store.log_state(&log)?.size;
        let limit = r.keep_up_to.min(held);
        let cp = export_checkpoint_at_most(store, key, &log, limit)?;
        let exported = cp.as_ref().map(|c| c.checkpoint.size);
        if exported.unwrap_or(0) < held {
            stopped.push(StoppedLog {
                key: log_key,
                keep_up_to: r.keep_up_to,
                held,
                exported,
                revocation: r.entry,
                reason: r.reason.clone(),
            });
        }
        if let Some(cp) = cp {
            plan.push((log, cp));
        }
    }
    let mut since_proof = None;
    if let Some((log_key, old)) = &since {
        let log = log_key.to_bytes();
        let Some((_, new)) = plan.first() else {
            return Err(ExchangeError::Refused(format!(
                "this store holds no checkpoint of log {}",
                keys::key_id(log_key)
            )));
        };
        let old_size = old.checkpoint.size;
        if let Some(s) = stopped.iter().find(|s| s.key == *log_key) {
            if old_size > new.checkpoint.size {
                return Err(ExchangeError::Refused(format!(
                    "log {} is revoked from seq {} (entry {}): the partner's checkpoint of size {old_size} is past what may still travel, so nothing is new for it",
                    keys::key_id(log_key),
                    s.keep_up_to,
                    s.revocation
                )));
            }
        }
        if old_size > new.checkpoint.size || store.root_at(&log, old_size)? != old.checkpoint.root {
            return Err(ExchangeError::Refused(format!(
                "the checkpoint given with --since (size {old_size}) is not one of this log's history; a partner holding it holds another history"
            )));
        }
        let mut frontier = Vec::new();
        Frontier::from_nodes(old_size, |node| {
            let h = store.stored_node(&log, node)?.ok_or_else(|| {
                StoreError::IndexDamaged(format!("merkle node {node:?} is missing"))
            })?;
            frontier.push(h.to_hex());
            Ok::<_, StoreError>(h)
        })?;
        let consistency = store
            .consistency_proof(&log, old_size, new.checkpoint.size)?
            .iter()
            .map(Hash::to_hex)
            .collect();
        since_proof = Some(SinceProof {
            checkpoint: old.to_text(),
            frontier,
            consistency,
        });
    }

    // The folds of the records that travel use the same derivation.
    let group_trust = group_keys::LazyGroupTrust::derived(group_trust);
    let header = BundleHeader {
        v: FORMAT_VERSION,
        created_at: format_timestamp(OffsetDateTime::now_utc()),
        exporter: hex::encode(own),
        organisation: store.meta().organisation.clone(),
        scope,
        filter: options.filter_text.clone(),
        include_sensitive: options.include_sensitive,
        logs: plan.len() as u64,
    };
    let tmp = out_path.with_extension("partial");
    let file = File::create(&tmp).map_err(io_at(&tmp))?;
    let result = (|| {
        let mut writer = BundleWriter::new(BufWriter::new(file), &header).map_err(io_at(&tmp))?;
        let mut summary_logs = Vec::new();
        // Files the carried records reference: digest -> size as stated.
        let mut evidence: BTreeMap<[u8; 32], u64> = BTreeMap::new();
        for (log, cp) in &plan {
            let size = cp.checkpoint.size;
            let first = since.as_ref().map_or(0, |(_, old)| old.checkpoint.size);
            let count = match scope {
                Scope::Full | Scope::Since => size - first,
                Scope::Filtered => {
                    let mut n = 0;
                    for leaf in store.leaves(*log)?.take(size as usize) {
                        if let Leaf::Entry(e) = leaf? {
                            if let Disposition::Carry =
                                disposition(store, &group_trust, &e, options, scope, None)?
                            {
                                n += 1;
                            }
                        }
                    }
                    n
                }
            };
            writer
                .log(&LogSection {
                    log: hex::encode(log),
                    checkpoint: cp.to_text(),
                    first,
                    count,
                    since: since_proof.clone(),
                })
                .map_err(io_at(&tmp))?;
            let (mut carried, mut withheld) = (0u64, 0u64);
            for leaf in store
                .leaves(*log)?
                .skip(first as usize)
                .take((size - first) as usize)
            {
                match leaf? {
                    Leaf::Withheld(seq, hash) => {
                        if scope != Scope::Filtered {
                            writer.withheld(seq, &hash).map_err(io_at(&tmp))?;
                            withheld += 1;
                        }
                    }
                    Leaf::Entry(e) => {
                        match disposition(
                            store,
                            &group_trust,
                            &e,
                            options,
                            scope,
                            Some(&mut evidence),
                        )? {
                            Disposition::Carry => {
                                let proof = if scope == Scope::Filtered {
                                    store.inclusion_proof(&e.id, Some(size))?.3
                                } else {
                                    Vec::new()
                                };
                                writer
                                    .entry(&e.bytes, &e.signature, &proof)
                                    .map_err(io_at(&tmp))?;
                                carried += 1;
                            }
                            Disposition::Withhold => {
                                writer
                                    .withheld(e.entry.seq, &merkle::leaf_hash(&e.bytes))
                                    .map_err(io_at(&tmp))?;
                                withheld += 1;
                            }
                            Disposition::Skip => {}
                        }
                    }
                }
            }
            summary_logs.push((
                VerifyingKey::from_bytes(log)
                    .map_err(|_| StoreError::IndexDamaged("bad log key".into()))?,
                size,
                carried,
                withheld,
            ));
        }
        // Evidence files after the logs, streamed from the store in
        // ascending order of digest (FORMAT.md §13.11).
        let (mut files_carried, mut file_bytes, mut files_not_held) = (0, 0, Vec::new());
        if options.with_evidence {
            for digest in evidence.keys() {
                let path = crate::evidence_files::path_of(store.root(), digest);
                let mut file = match File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        files_not_held.push(*digest);
                        continue;
                    }
                    Err(e) => return Err(io_at(&path)(e)),
                };
                let size = file.metadata().map_err(io_at(&path))?.len();
                let written = writer
                    .file(digest, size, &mut io::BufReader::new(&mut file))
                    .map_err(io_at(&path))?;
                if written != *digest {
                    return Err(ExchangeError::Refused(format!(
                        "{}: the stored evidence file does not match its digest (it was changed); nothing was exported. `sijill evidence verify` lists the damaged files",
                        path.display()
                    )));
                }
                files_carried += 1;
                file_bytes += size;
            }
        } else {
            for digest in evidence.keys() {
                if crate::evidence_files::stored_size(store.root(), digest)?.is_none() {
                    files_not_held.push(*digest);
                }
            }
        }
        let bytes = writer.bytes_written();
        let (out, digest) = writer.finish(key).map_err(io_at(&tmp))?;
        let file = out.into_inner().map_err(|e| io_at(&tmp)(e.into_error()))?;
        file.sync_all().map_err(io_at(&tmp))?;
        Ok(ExportSummary {
            scope,
            digest,
            bytes: bytes + 104,
            logs: summary_logs,
            stopped: stopped.clone(),
            evidence: evidence.into_iter().collect(),
            files_carried,
            file_bytes,
            files_not_held,
        })
    })();
    match result {
        Ok(summary) => {
            fs::rename(&tmp, out_path).map_err(io_at(out_path))?;
            Ok(summary)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Parse a checkpoint note of any Sijill log, naming the log by its origin.
pub fn parse_foreign_checkpoint(
    bytes: &[u8],
) -> Result<(VerifyingKey, SignedCheckpoint), ExchangeError> {
    let note = Note::parse(bytes)?;
    let checkpoint = Checkpoint::parse_body(&note.text)?;
    let key = checkpoint
        .origin
        .strip_prefix(note::ORIGIN_PREFIX)
        .and_then(keys::parse_public_key_hex)
        .ok_or_else(|| {
            ExchangeError::Refused(format!(
                "origin {:?} is not a Sijill log (expected {}<public key>)",
                checkpoint.origin,
                note::ORIGIN_PREFIX
            ))
        })?;
    let signed = SignedCheckpoint::parse_and_verify(bytes, &key)?;
    Ok((key, signed))
}

/// One line of `imports.jsonl`: where a group's entries came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRecord {
    pub imported_at: String,
    /// BLAKE3 digest of the bundle, as its END section states it.
    pub bundle: String,
    pub file: String,
    /// The group that made and signed the bundle (the relaying group).
    pub exporter: String,
    pub organisation: String,
    pub created_at: String,
    pub logs: Vec<ImportedRange>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedRange {
    pub log: String,
    /// Sequence numbers [from, to) appended to the replica by this import.
    pub from: u64,
    pub to: u64,
}

/// Every import the store recorded, oldest first.
pub fn imports(store: &Store) -> Result<Vec<ImportRecord>, ExchangeError> {
    let path = store.root().join(IMPORTS_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_at(&path)(e)),
    };
    let complete = text.rfind('\n').map_or("", |end| &text[..end + 1]);
    complete
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| {
                ExchangeError::Refused(format!("{}: line {}: {e}", path.display(), i + 1))
            })
        })
        .collect()
}

/// Which entries of the store's replicas an import brought (FORMAT.md
/// §14.4): every other entry was written by this store.
#[derive(Clone, Debug, Default)]
pub struct ImportedRanges {
    own: Vec<[u8; 32]>,
    ranges: HashMap<[u8; 32], Vec<(u64, u64)>>,
}

impl ImportedRanges {
    /// The ranges of `imports.jsonl`; an unreadable file counts as none.
    pub fn load(store: &Store) -> ImportedRanges {
        let mut out = ImportedRanges {
            own: store.own_keys().iter().map(|k| k.to_bytes()).collect(),
            ranges: HashMap::new(),
        };
        for record in imports(store).unwrap_or_default() {
            for l in record.logs {
                if let Some(key) = keys::parse_public_key_hex(&l.log) {
                    out.ranges
                        .entry(key.to_bytes())
                        .or_default()
                        .push((l.from, l.to));
                }
            }
        }
        out
    }

    /// Whether entry `seq` of `log` came from a bundle (never one of the
    /// store's own logs).
    pub fn covers(&self, log: &[u8; 32], seq: u64) -> bool {
        !self.own.contains(log)
            && self
                .ranges
                .get(log)
                .is_some_and(|r| r.iter().any(|(from, to)| (*from..*to).contains(&seq)))
    }
}

/// The import that brought entry `seq` of `log`, if it came from a bundle.
pub fn provenance(
    store: &Store,
    log: &VerifyingKey,
    seq: u64,
) -> Result<Option<ImportRecord>, ExchangeError> {
    let hex_log = hex::encode(log.as_bytes());
    Ok(imports(store)?.into_iter().find(|r| {
        r.logs
            .iter()
            .any(|l| l.log == hex_log && (l.from..l.to).contains(&seq))
    }))
}

fn append_line(path: &Path, line: &str) -> Result<(), ExchangeError> {
    let existed = path.exists();
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_at(path))?;
    file.write_all(line.as_bytes()).map_err(io_at(path))?;
    file.write_all(b"\n").map_err(io_at(path))?;
    file.sync_all().map_err(io_at(path))?;
    if !existed {
        if let Some(dir) = path.parent() {
            sync_dir(dir).map_err(io_at(dir))?;
        }
    }
    Ok(())
}

/// Evidence that a log showed two histories.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub found_at: String,
    pub log: String,
    pub reason: String,
    /// The checkpoint this store held.
    pub held: String,
    /// The checkpoint that contradicts it.
    pub received: String,
    /// Where the second one came from.
    pub source: String,
}

/// Keep two contradicting checkpoints; returns the file they were written to.
pub fn keep_evidence(store: &Store, evidence: &Evidence) -> Result<PathBuf, ExchangeError> {
    let dir = store.root().join(EVIDENCE_DIR);
    fs::create_dir_all(&dir).map_err(io_at(&dir))?;
    let stamp = OffsetDateTime::now_utc().unix_timestamp();
    let log_id = evidence.log.get(..16).unwrap_or(&evidence.log);
    let mut n = 0;
    let path = loop {
        let p = dir.join(format!("{stamp}-{log_id}-{n}.json"));
        if !p.exists() {
            break p;
        }
        n += 1;
    };
    let mut text = serde_json::to_vec_pretty(evidence).unwrap_or_default();
    text.push(b'\n');
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io_at(&path))?;
    file.write_all(&text).map_err(io_at(&path))?;
    file.sync_all().map_err(io_at(&path))?;
    sync_dir(&dir).map_err(io_at(&dir))?;
    Ok(path)
}

/// The newest checkpoint held for `log` that the store's own entries agree
/// with (size at most `local`): the signed statement a contradicting bundle
/// is set against. Empty when the store holds none; the evidence then rests
/// on the entries the store holds, which it can export.
fn held_note_within(store: &Store, log: &[u8; 32], local: u64) -> Result<String, ExchangeError> {
    Ok(store
        .checkpoints(log)?
        .into_iter()
        .filter(|c| c.signed.checkpoint.size <= local)
        .max_by_key(|c| c.signed.checkpoint.size)
        .map(|c| c.signed.to_text())
        .unwrap_or_default())
}

/// Keep the two checkpoints as evidence and return the refusal that names it.
fn equivocation(
    store: &Store,
    log: &VerifyingKey,
    reason: String,
    held: String,
    received: &SignedCheckpoint,
    source: &str,
) -> ExchangeError {
    let kept = keep_evidence(
        store,
        &Evidence {
            found_at: format_timestamp(OffsetDateTime::now_utc()),
            log: hex::encode(log.as_bytes()),
            reason: reason.clone(),
            held,
            received: received.to_text(),
            source: source.to_string(),
        },
    );
    match kept {
        Ok(path) => ExchangeError::Equivocation {
            log: keys::key_id(log).to_string(),
            message: reason,
            evidence: path,
        },
        Err(e) => e,
    }
}

/// Every piece of evidence kept, oldest first, with its file.
pub fn evidence(store: &Store) -> Result<Vec<(PathBuf, Evidence)>, ExchangeError> {
    let dir = store.root().join(EVIDENCE_DIR);
    let mut paths: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(items) => items.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_at(&dir)(e)),
    };
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let bytes = fs::read(&p).map_err(io_at(&p))?;
            let e = serde_json::from_slice(&bytes)
                .map_err(|e| ExchangeError::Refused(format!("{}: {e}", p.display())))?;
            Ok((p, e))
        })
        .collect()
}

/// Check a checkpoint of `log` against everything the store holds of that
/// log; a contradiction is kept as evidence and returned as an error.
fn check_against_held(
    store: &Store,
    log: &VerifyingKey,
    received: &SignedCheckpoint,
    source: &str,
    root_at: &dyn Fn(u64) -> Result<Option<Hash>, ExchangeError>,
) -> Result<(), ExchangeError> {
    let log_bytes = log.to_bytes();
    let cp = &received.checkpoint;
    for held in store.checkpoints(&log_bytes)? {
        let h = &held.signed.checkpoint;
        let conflict = if h.size == cp.size {
            (h.root != cp.root)
                .then(|| format!("two checkpoints of size {} with different roots", h.size))
        } else if h.size < cp.size {
            // The received history must extend the held one.
            match root_at(h.size)? {
                Some(root) if root != h.root => Some(format!(
                    "the tree of size {} behind the new checkpoint has another root than the checkpoint of that size held since {}",
                    h.size, held.received_at
                )),
                _ => None,
            }
        } else {
            None
        };
        if let Some(reason) = conflict {
            return Err(equivocation(
                store,
                log,
                reason,
                held.signed.to_text(),
                received,
                source,
            ));
        }
    }
    // And against the entries held.
    let local = store.log_state(&log_bytes)?.size;
    if cp.size <= local && store.root_at(&log_bytes, cp.size)? != cp.root {
        let reason = format!(
            "the checkpoint of size {} does not match the {} entries of that log this store holds",
            cp.size, local
        );
        let held_note = held_note_within(store, &log_bytes, local)?;
        return Err(equivocation(
            store, log, reason, held_note, received, source,
        ));
    }
    Ok(())
}

/// Per-log state of an import while the bundle streams past.
struct Staging {
    /// Entries the store already holds of this log.
    local: u64,
    frontier: Option<Frontier>,
    /// Roots of the incoming tree at the sizes the store can compare.
    roots: HashMap<u64, Hash>,
    watch: Vec<u64>,
    /// The staged frames of this log, once it has any.
    path: Option<PathBuf>,
    appended: (u64, u64),
}

/// What an import did.
#[derive(Debug)]
pub struct ImportOutcome {
    pub report: BundleReport,
    /// Per log: key and the range of sequence numbers appended.
    pub appended: Vec<(VerifyingKey, u64, u64)>,
    /// Evidence files of the bundle added to `evidence-files/`.
    pub files_kept: u64,
    /// Evidence files of the bundle the store held already.
    pub files_held: u64,
}

/// Staging directory of an import's evidence files, inside its `tmp/` one.
const STAGED_FILES: &str = "files";

/// Verify a bundle and, only if all of it holds and its signers are
/// trusted, add its entries to the replicas of their authors' logs.
pub fn import(
    store: &mut Store,
    path: &Path,
    trust: &TrustStore,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportOutcome, ExchangeError> {
    // The group's own logs (the current key's and any it rotated from) only
    // grow by its own keys, never by an import.
    let own: Vec<[u8; 32]> = store.own_keys().iter().map(|k| k.to_bytes()).collect();
    let tmp_dir = store.root().join(TMP_DIR).join(format!(
        "import-{}-{}",
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos()
    ));
    fs::create_dir_all(&tmp_dir).map_err(io_at(&tmp_dir))?;
    let result = import_staged(store, path, trust, progress, &tmp_dir, &own);
    let _ = fs::remove_dir_all(&tmp_dir);
    result
}

fn import_staged(
    store: &mut Store,
    path: &Path,
    trust: &TrustStore,
    progress: &mut dyn FnMut(u64),
    tmp_dir: &Path,
    own: &[[u8; 32]],
) -> Result<ImportOutcome, ExchangeError> {
    let input = File::open(path).map_err(io_at(path))?;
    let mut staging: HashMap<[u8; 32], Staging> = HashMap::new();
    let cosigners = cosigner_keys(trust);
    let mut partial = false;
    let mut open: Option<([u8; 32], PathBuf, BufWriter<File>)> = None;
    let mut key_events = Vec::new();
    // The evidence file being staged, if the store does not hold it yet.
    let mut open_file: Option<(PathBuf, BufWriter<File>)> = None;
    let mut files_held = 0u64;
    let report = {
        let store_ref: &Store = store;
        let mut sink = |item: Verified<'_>| -> Result<(), String> {
            if partial {
                return Ok(());
            }
            let (log, seq, leaf, frame) = match item {
                Verified::Header(h) => {
                    // A filtered bundle is verified in full, then refused.
                    partial = h.scope == Scope::Filtered;
                    return Ok(());
                }
                Verified::Entry {
                    log,
                    seq,
                    bytes,
                    signature,
                } => {
                    key_events.extend(KeyEvent::from_verified_bytes(bytes));
                    (
                        log,
                        seq,
                        merkle::leaf_hash(bytes),
                        Some(encode_frame(bytes, signature)),
                    )
                }
                Verified::Withheld { log, seq, leaf } => (log, seq, *leaf, None),
                // Evidence files are staged under their digest; the bundle
                // verifier hands on `FileEnd` only once the content has
                // that digest and size.
                Verified::File { digest, size } => {
                    let held = crate::evidence_files::stored_size(store_ref.root(), digest)
                        .map_err(|e| e.to_string())?;
                    if held == Some(size) {
                        files_held += 1;
                        return Ok(());
                    }
                    let dir = tmp_dir.join(STAGED_FILES);
                    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                    let p = dir.join(hex::encode(digest));
                    let f = File::create(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                    open_file = Some((p, BufWriter::new(f)));
                    return Ok(());
                }
                Verified::FileData { bytes, .. } => {
                    if let Some((p, w)) = open_file.as_mut() {
                        w.write_all(bytes)
                            .map_err(|e| format!("{}: {e}", p.display()))?;
                    }
                    return Ok(());
                }
                Verified::FileEnd { .. } => {
                    if let Some((p, mut w)) = open_file.take() {
                        w.flush().map_err(|e| format!("{}: {e}", p.display()))?;
                    }
                    return Ok(());
                }
            };
            let key = log.to_bytes();
            // A log's sections are contiguous: when the next log starts, the
            // previous one's staging file is complete and is closed, so an
            // import holds one open file however many logs the bundle has.
            if open.as_ref().is_some_and(|(k, _, _)| *k != key) {
                let (_, p, mut w) = open.take().expect("checked above");
                w.flush().map_err(|e| format!("{}: {e}", p.display()))?;
            }
            let st = match staging.entry(key) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(open_staging(store_ref, &key, seq).map_err(|e| e.to_string())?)
                }
            };
            let frontier = st.frontier.as_mut().ok_or("no tree")?;
            frontier.push(leaf);
            let size = frontier.size();
            if st.watch.contains(&size) {
                st.roots.insert(size, frontier.root());
            }
            if seq >= st.local {
                if own.contains(&key) {
                    return Err("the bundle holds entries of this store's own log that the store does not have: \
                                only this group's key could have signed them (is the key compromised, or this store restored from an old backup?)"
                        .into());
                }
                let frame = match frame {
                    Some(f) => f,
                    None => encode_withheld_frame(seq, &leaf.0),
                };
                if st.path.is_none() {
                    let p = tmp_dir.join(format!("{}.frames", hex::encode(key)));
                    let f = File::create(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                    st.path = Some(p.clone());
                    open = Some((key, p, BufWriter::new(f)));
                    st.appended.0 = seq;
                }
                let (_, p, w) = open.as_mut().ok_or("the staging file is closed")?;
                w.write_all(&frame)
                    .map_err(|e| format!("{}: {e}", p.display()))?;
                st.appended.1 = seq + 1;
            }
            Ok(())
        };
        let reader = BufReader::with_capacity(1 << 20, input);
        bundle::verify(reader, &cosigners, progress, &mut sink)?
    };
    if let Some((_, p, mut w)) = open.take() {
        w.flush().map_err(io_at(&p))?;
    }
    if report.header.scope == Scope::Filtered {
        return Err(ExchangeError::Refused(
            "a filtered bundle verifies, but cannot be imported: its entries are not a whole log. Ask for a full export, or one --since a checkpoint you hold".into(),
        ));
    }

    // Trust: the exporter and every author must be known to this store,
    // directly or through the key entries of a trusted group (§9.6).
    let roots: Vec<VerifyingKey> = trust
        .keys()
        .iter()
        .filter_map(|k| k.verifying_key())
        .collect();
    let group_trust = group_keys::store_trust(store, &roots, &key_events)?;
    let mut untrusted = Vec::new();
    if !group_trust.is_trusted(&report.exporter) {
        untrusted.push(format!(
            "the exporter {} ({})",
            keys::key_id(&report.exporter),
            report.header.organisation
        ));
    }
    for l in &report.logs {
        if !group_trust.is_trusted(&l.key) {
            untrusted.push(format!("log {}", keys::key_id(&l.key)));
        }
    }
    if !untrusted.is_empty() {
        let verb = if untrusted.len() == 1 { "is" } else { "are" };
        return Err(ExchangeError::Untrusted(format!(
            "{} {verb}",
            untrusted.join(", ")
        )));
    }

    // A revoked key's entries past its revocation point do not verify.
    let revoked = revoked_in_bundle(&report, &group_trust);
    if !revoked.is_empty() {
        return Err(ExchangeError::Revoked(revoked.join("; ")));
    }

    // Consistency with everything held, before anything is written.
    let source = format!(
        "bundle {} from {}",
        hex::encode(report.digest),
        path.display()
    );
    for l in &report.logs {
        let key = l.key.to_bytes();
        let st = staging.get(&key);
        let local = store.log_state(&key)?.size;
        let first = l.since.as_ref().map_or(0, |s| s.checkpoint.size);
        if first > local {
            return Err(ExchangeError::Refused(format!(
                "log {}: the bundle starts at entry {first}, but this store holds only {local} entries of that log; ask for a full export or one --since a checkpoint you hold",
                keys::key_id(&l.key)
            )));
        }
        if let Some(old) = &l.since {
            if store.root_at(&key, first)? != old.checkpoint.root {
                check_against_held(store, &l.key, old, &source, &|_| Ok(None))?;
                return Err(ExchangeError::Refused(format!(
                    "log {}: the bundle extends a checkpoint of size {first} that is not this store's history of that log",
                    keys::key_id(&l.key)
                )));
            }
        }
        let roots = st.map(|s| s.roots.clone()).unwrap_or_default();
        let local_root = store.log_state(&key)?.root;
        if let Some(r) = roots.get(&local) {
            if *r != local_root {
                let reason = format!(
                    "the bundle's first {local} entries differ from the {local} entries this store holds"
                );
                let held = held_note_within(store, &key, local)?;
                return Err(equivocation(
                    store,
                    &l.key,
                    reason,
                    held,
                    &l.checkpoint,
                    &source,
                ));
            }
        }
        check_against_held(store, &l.key, &l.checkpoint, &source, &|size| {
            Ok(roots.get(&size).copied())
        })?;
        if own.contains(&key) && l.checkpoint.checkpoint.size > local {
            return Err(ExchangeError::Refused(
                "the bundle holds entries of this store's own log that the store does not have"
                    .into(),
            ));
        }
    }

    // A replica the store will not extend would fail half way through the
    // writes below: refuse before the first one.
    for l in &report.logs {
        let key = l.key.to_bytes();
        let grows = staging.get(&key).is_some_and(|st| st.path.is_some());
        if let Some(reason) = store.damaged_logs().get(&key).filter(|_| grows) {
            return Err(ExchangeError::Refused(format!(
                "log {} is damaged in this store ({reason}); nothing was imported: run `sijill audit`",
                keys::key_id(&l.key)
            )));
        }
    }

    // Everything holds: write. Evidence files first (as `add` keeps a file
    // before it signs the record naming it), each verified again on disk.
    let files_kept = crate::evidence_files::keep_staged(store.root(), &tmp_dir.join(STAGED_FILES))?;

    // The import record goes first among the log writes, so that
    // whatever a crash leaves appended is always accounted for: each log's
    // replica then holds a verified prefix of the range the record names.
    let mut appended = Vec::new();
    let ranges: Vec<ImportedRange> = report
        .logs
        .iter()
        .filter_map(|l| {
            let st = staging.get(&l.key.to_bytes())?;
            st.path.as_ref()?;
            Some(ImportedRange {
                log: hex::encode(l.key.as_bytes()),
                from: st.appended.0,
                to: st.appended.1,
            })
        })
        .collect();
    if !ranges.is_empty() {
        let record = ImportRecord {
            imported_at: format_timestamp(OffsetDateTime::now_utc()),
            bundle: hex::encode(report.digest),
            file: path.display().to_string(),
            exporter: hex::encode(report.exporter.as_bytes()),
            organisation: report.header.organisation.clone(),
            created_at: report.header.created_at.clone(),
            logs: ranges,
        };
        append_line(
            &store.root().join(IMPORTS_FILE),
            &serde_json::to_string(&record).unwrap_or_default(),
        )?;
    }
    for l in &report.logs {
        let key = l.key.to_bytes();
        if let Some(st) = staging.get_mut(&key) {
            if let Some(p) = st.path.take() {
                store.append_replica(key, &p)?;
                appended.push((l.key, st.appended.0, st.appended.1));
            }
        }
        let kept = l.checkpoint.verified_only(&l.key, &cosigners);
        let already = store
            .checkpoints(&key)?
            .iter()
            .any(|c| c.signed.to_text() == kept.to_text());
        if !already {
            store.record_checkpoint(&key, &kept, "imported")?;
        }
    }
    Ok(ImportOutcome {
        report,
        appended,
        files_kept,
        files_held,
    })
}

fn open_staging(store: &Store, log: &[u8; 32], first_seq: u64) -> Result<Staging, ExchangeError> {
    let local = store.log_state(log)?.size;
    if first_seq > local {
        return Err(ExchangeError::Refused(format!(
            "the bundle starts log {} at entry {first_seq}, but this store holds only {local} entries of it",
            short_log(log)
        )));
    }
    let frontier = Frontier::from_nodes(first_seq, |node: NodeId| {
        store
            .stored_node(log, node)?
            .ok_or_else(|| StoreError::IndexDamaged(format!("merkle node {node:?} is missing")))
    })?;
    let mut watch: Vec<u64> = store
        .checkpoints(log)?
        .iter()
        .map(|c| c.signed.checkpoint.size)
        .collect();
    watch.push(local);
    Ok(Staging {
        local,
        frontier: Some(frontier),
        roots: HashMap::new(),
        watch,
        path: None,
        appended: (0, 0),
    })
}

/// For each log of a verified bundle that carries entries of a revoked key
/// at or past its revocation point, why they do not verify (FORMAT.md §9.6).
pub fn revoked_in_bundle(report: &bundle::BundleReport, trust: &GroupTrust) -> Vec<String> {
    report
        .logs
        .iter()
        .filter_map(|l| {
            let size = l.checkpoint.checkpoint.size;
            let r = trust.revocation(&l.key)?;
            (size > r.keep_up_to).then(|| {
                format!(
                    "log {}: entries {}..{} do not verify: {}",
                    keys::key_id(&l.key),
                    r.keep_up_to,
                    size - 1,
                    group_keys::revoked_message(&l.key, r)
                )
            })
        })
        .collect()
}

/// The cosigners a store recognises: every trusted key, under the name it
/// cosigns with.
pub fn cosigner_keys(trust: &TrustStore) -> Vec<(String, VerifyingKey)> {
    trust
        .named_keys()
        .into_iter()
        .map(|(_, k)| (cosigner_name(&k), k))
        .collect()
}

/// Cosign a partner's checkpoint after checking it against everything this
/// store holds of that log. Returns the cosigned note.
pub fn cosign(
    store: &mut Store,
    key: &SigningKey,
    note_bytes: &[u8],
    trust: &TrustStore,
) -> Result<SignedCheckpoint, ExchangeError> {
    let (log, signed) = parse_foreign_checkpoint(note_bytes)?;
    if store.own_keys().contains(&log) {
        return Err(ExchangeError::Refused(
            "this is the group's own checkpoint; a cosignature is a partner's statement".into(),
        ));
    }
    // A trusted group's key, or one trusted through its key entries (a
    // device key, a key it rotated to: FORMAT.md §9.6).
    let roots: Vec<VerifyingKey> = trust
        .keys()
        .iter()
        .filter_map(|k| k.verifying_key())
        .collect();
    if !group_keys::store_trust(store, &roots, &[])?.is_trusted(&log) {
        return Err(ExchangeError::Untrusted(format!(
            "log {} is",
            keys::key_id(&log)
        )));
    }
    let local = store.log_state(&log.to_bytes())?.size;
    if signed.checkpoint.size > local {
        return Err(ExchangeError::Refused(format!(
            "this store holds {local} entries of log {} and cannot check a checkpoint of size {}: import the group's bundle first",
            keys::key_id(&log),
            signed.checkpoint.size
        )));
    }
    check_against_held(store, &log, &signed, "cosign request", &|_| Ok(None))?;
    let now = OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
    let mut cosigners = cosigner_keys(trust);
    cosigners.push((cosigner_name(&key.verifying_key()), key.verifying_key()));
    let mut signed = signed.verified_only(&log, &cosigners);
    signed.cosign(&cosigner_name(&key.verifying_key()), key, now);
    store.record_checkpoint(&log.to_bytes(), &signed, "cosigned")?;
    Ok(signed)
}

/// Take back a cosigned checkpoint of the group's own log: check it is one
/// this group signed and that the log still matches it, keep the verified
/// cosignatures, and return their names.
pub fn add_cosignatures(
    store: &mut Store,
    note_bytes: &[u8],
    trust: &TrustStore,
) -> Result<Vec<String>, ExchangeError> {
    let (log, signed) = parse_foreign_checkpoint(note_bytes)?;
    // Any of the group's own logs: the current one, or one it rotated from.
    let own = log;
    if !store.own_keys().contains(&log) {
        return Err(ExchangeError::Refused(format!(
            "the checkpoint is of log {}, not of this group's log; to cosign it, use `sijill cosign`",
            keys::key_id(&log)
        )));
    }
    let local = store.log_state(&own.to_bytes())?.size;
    if signed.checkpoint.size > local
        || store.root_at(&own.to_bytes(), signed.checkpoint.size)? != signed.checkpoint.root
    {
        // Signed by this group's own key, yet not of this log's history: the
        // key signed another history (a compromised key, or a store restored
        // from an old copy). That is evidence, not a usage error.
        let held = held_note_within(store, &own.to_bytes(), local)?;
        return Err(equivocation(
            store,
            &own,
            format!(
                "a checkpoint of size {} signed by this group's own key does not match its log of {local} entries",
                signed.checkpoint.size
            ),
            held,
            &signed,
            "a checkpoint returned for cosignatures",
        ));
    }
    let signed = signed.verified_only(&own, &cosigner_keys(trust));
    let cosignatures = signed.cosignatures(&cosigner_keys(trust));
    if cosignatures.is_empty() {
        return Err(ExchangeError::Untrusted(
            "no cosignature on the checkpoint is by a trusted key: none".into(),
        ));
    }
    store.record_checkpoint(&own.to_bytes(), &signed, "cosigned")?;
    Ok(cosignatures
        .iter()
        .map(|c| trust.name_of(&c.key).unwrap_or(&c.name).to_string())
        .collect())
}

/// A C2SP tlog-proof of one entry against the newest checkpoint of its log,
/// with the entry bytes in its `extra` line so that it can be checked alone.
pub fn prove(
    store: &mut Store,
    key: Option<&SigningKey>,
    id: &EntryId,
) -> Result<String, ExchangeError> {
    let location = store
        .location(id)?
        .ok_or_else(|| StoreError::NotFound(id.to_hex()))?;
    let entry = store.get(id)?;
    let checkpoint = match key {
        Some(k) if k.verifying_key().to_bytes() == location.log => {
            export_checkpoint(store, k, &location.log)?
        }
        _ => {
            let size = store.log_state(&location.log)?.size;
            store
                .checkpoints(&location.log)?
                .into_iter()
                .filter(|c| {
                    c.signed.checkpoint.size <= size && c.signed.checkpoint.size > location.seq
                })
                .max_by_key(|c| c.signed.checkpoint.size)
                .map(|c| c.signed)
        }
    }
    .ok_or_else(|| {
        ExchangeError::Refused(format!(
            "no checkpoint of log {} covers entry {}",
            short_log(&location.log),
            location.seq
        ))
    })?;
    let (_, _, root, proof) = store.inclusion_proof(id, Some(checkpoint.checkpoint.size))?;
    debug_assert_eq!(root, checkpoint.checkpoint.root);
    let mut text = String::from("c2sp.org/tlog-proof@v1\n");
    text.push_str(&format!("extra {}\n", BASE64.encode(&entry.bytes)));
    text.push_str(&format!("index {}\n", location.seq));
    for h in proof {
        text.push_str(&BASE64.encode(h.0));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&checkpoint.to_text());
    Ok(text)
}

/// Check a tlog-proof made by [`prove`]: the checkpoint is signed by the
/// log named in its origin, and the entry in `extra` is in that tree.
pub fn verify_proof(text: &str) -> Result<(VerifyingKey, EntryId, u64), ExchangeError> {
    let bad = |m: &str| ExchangeError::Refused(format!("not a valid proof: {m}"));
    let (head, note_text) = text
        .split_once("\n\n")
        .ok_or_else(|| bad("no blank line before the checkpoint"))?;
    let mut lines = head.lines();
    if lines.next() != Some("c2sp.org/tlog-proof@v1") {
        return Err(bad("the first line is not c2sp.org/tlog-proof@v1"));
    }
    let mut line = lines.next().ok_or_else(|| bad("no index line"))?;
    let mut extra = None;
    if let Some(e) = line.strip_prefix("extra ") {
        extra = Some(BASE64.decode(e).map_err(|_| bad("extra is not base64"))?);
        line = lines.next().ok_or_else(|| bad("no index line"))?;
    }
    let index: u64 = line
        .strip_prefix("index ")
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| bad("the index line is not `index N`"))?;
    let proof = lines
        .map(|l| {
            BASE64
                .decode(l)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .map(Hash)
                .ok_or_else(|| bad("a proof line is not a base64 SHA-256 hash"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let entry_bytes = extra.ok_or_else(|| bad("no extra line with the entry"))?;
    let (log, checkpoint) = parse_foreign_checkpoint(note_text.as_bytes())?;
    let entry = crate::entry::decode_entry(&entry_bytes).map_err(|e| bad(&e.to_string()))?;
    if entry.log != log || entry.seq != index {
        return Err(bad("the entry is not the one at that index of that log"));
    }
    merkle::verify_inclusion(
        &merkle::leaf_hash(&entry_bytes),
        index,
        checkpoint.checkpoint.size,
        &proof,
        &checkpoint.checkpoint.root,
    )
    .map_err(|e| bad(&e.to_string()))?;
    Ok((log, EntryId::of(&entry_bytes), checkpoint.checkpoint.size))
}
