//! Bundles: the one file a group hands to a partner (docs/FORMAT.md §13).
//!
//! A bundle carries the exporter's signed header, then for each log its
//! signed checkpoint and its entries, with the proofs a verifier needs, and
//! ends with the exporter's signature over a digest of everything before it.
//! It is written and read as a stream of length-prefixed sections, so that
//! verifying a bundle of millions of entries takes memory bounded by the
//! largest section, not by the bundle. Evidence files, when they travel,
//! follow the logs as a `FILE` section and chunks of at most 1 MiB, each
//! file checked against its BLAKE3 digest and size as it streams past. Verification needs only the bytes and
//! public keys, and stops at the first broken property with its exact place.

// Errors carry their full location (offset, section, log, seq, entry); they
// happen once per verification, so their size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};

use ed25519_dalek::Signer;
use serde::{Deserialize, Serialize};

use crate::canonical::{parse_canonical, to_canonical_bytes};
use crate::entry::{decode_entry, parse_signature, verify_signature, Entry, EntryId};
use crate::keys::{self, Signature, SigningKey, VerifyingKey};
use crate::merkle::{self, Frontier, Hash};
use crate::note::{Cosignature, SignedCheckpoint};
use crate::record::Sensitivity;
use crate::segment::SIGNATURE_LEN;
use crate::FORMAT_VERSION;

/// The first 16 bytes of every bundle.
pub const BUNDLE_MAGIC: &[u8; 16] = b"SIJILL-BUNDLE-V1";
/// Prefix of the message the exporter's signature covers.
pub const BUNDLE_SIG_DOMAIN: &[u8] = b"SIJILL-BUNDLE-SIG-V1\0";
/// Largest JSON section (header, log).
pub const MAX_JSON_SECTION: usize = 1024 * 1024;
/// Most logs one bundle may carry.
/// Most logs one bundle may carry. A group relays its partners' logs, so a
/// bundle holds tens of logs; the bound keeps a verifier's memory, which
/// holds one report (and checkpoint note) per log, small.
pub const MAX_LOGS: u64 = 1_000;
/// Signatures are checked in batches of this many entries (or bytes), on
/// every core, before the entries are passed on.
const BATCH_ENTRIES: usize = 2048;
const BATCH_BYTES: usize = 16 * 1024 * 1024;

pub const TAG_HEAD: [u8; 4] = *b"HEAD";
pub const TAG_LOG: [u8; 4] = *b"LOG ";
pub const TAG_ENTRY: [u8; 4] = *b"ENTR";
pub const TAG_WITHHELD: [u8; 4] = *b"WHLD";
pub const TAG_END: [u8; 4] = *b"END ";
/// An evidence file: its plain BLAKE3 digest and size (FORMAT.md §13.11).
pub const TAG_FILE: [u8; 4] = *b"FILE";
/// A chunk of an evidence file's content.
pub const TAG_DATA: [u8; 4] = *b"DATA";
/// Every DATA section of a file holds this many bytes, except its last,
/// which holds the rest.
pub const DATA_CHUNK: usize = 1024 * 1024;

/// What a bundle covers of each log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every leaf of each log, from the first to the checkpoint's size.
    Full,
    /// The leaves after a checkpoint the partner already holds, with a
    /// consistency proof from it.
    Since,
    /// Chosen entries, each with an inclusion proof against the checkpoint.
    Filtered,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Full => "full",
            Scope::Since => "since",
            Scope::Filtered => "filtered",
        }
    }
}

/// The signed header of a bundle (FORMAT.md §13.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleHeader {
    pub v: u64,
    pub created_at: String,
    /// Hex public key of the group that made the bundle.
    pub exporter: String,
    pub organisation: String,
    pub scope: Scope,
    /// The filters of a filtered export, as given (empty otherwise).
    pub filter: BTreeMap<String, String>,
    /// Whether sensitive fields (docs/SCHEMA.md) were allowed out.
    pub include_sensitive: bool,
    pub logs: u64,
}

/// The section that opens each log (FORMAT.md §13.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub log: String,
    /// The log's checkpoint as a signed note, with any cosignatures.
    pub checkpoint: String,
    /// Sequence number of the first leaf that follows (full: 0; since: the
    /// old size; filtered: 0, unused).
    pub first: u64,
    /// Number of ENTR and WHLD sections that follow.
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<SinceProof>,
}

/// What a `since` bundle adds to prove it extends a checkpoint the partner holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinceProof {
    /// The old checkpoint, as the partner holds it.
    pub checkpoint: String,
    /// The perfect subtree hashes that cover the old tree, largest first.
    pub frontier: Vec<String>,
    /// RFC 6962 consistency proof from the old size to the new.
    pub consistency: Vec<String>,
}

fn json_section<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    let value = serde_json::to_value(value).map_err(io::Error::other)?;
    to_canonical_bytes(&value).map_err(io::Error::other)
}

/// Writes a bundle section by section, hashing as it goes.
pub struct BundleWriter<W: Write> {
    out: W,
    hasher: blake3::Hasher,
    written: u64,
}

impl<W: Write> BundleWriter<W> {
    pub fn new(mut out: W, header: &BundleHeader) -> io::Result<BundleWriter<W>> {
        out.write_all(BUNDLE_MAGIC)?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(BUNDLE_MAGIC);
        let mut writer = BundleWriter {
            out,
            hasher,
            written: BUNDLE_MAGIC.len() as u64,
        };
        writer.section(TAG_HEAD, &json_section(header)?)?;
        Ok(writer)
    }

    fn section(&mut self, tag: [u8; 4], payload: &[u8]) -> io::Result<()> {
        let len = u32::try_from(payload.len()).map_err(io::Error::other)?;
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(&tag);
        head[4..].copy_from_slice(&len.to_be_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(payload)?;
        if tag != TAG_END {
            self.hasher.update(&head);
            self.hasher.update(payload);
        }
        self.written += 8 + payload.len() as u64;
        Ok(())
    }

    pub fn log(&mut self, section: &LogSection) -> io::Result<()> {
        self.section(TAG_LOG, &json_section(section)?)
    }

    pub fn entry(&mut self, bytes: &[u8], signature: &Signature, proof: &[Hash]) -> io::Result<()> {
        let mut payload = Vec::with_capacity(4 + bytes.len() + SIGNATURE_LEN + 32 * proof.len());
        payload.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        payload.extend_from_slice(bytes);
        payload.extend_from_slice(&signature.to_bytes());
        for h in proof {
            payload.extend_from_slice(&h.0);
        }
        self.section(TAG_ENTRY, &payload)
    }

    pub fn withheld(&mut self, seq: u64, leaf: &Hash) -> io::Result<()> {
        let mut payload = seq.to_be_bytes().to_vec();
        payload.extend_from_slice(&leaf.0);
        self.section(TAG_WITHHELD, &payload)
    }

    /// An evidence file after the logs: a FILE section naming `digest` and
    /// `size`, then `size` bytes read from `content` in DATA sections of
    /// [`DATA_CHUNK`] bytes (the last holds the rest). Returns the BLAKE3
    /// digest of the bytes written, which the caller compares with `digest`
    /// (a bundle whose content does not match is refused by every verifier).
    /// Files go in ascending order of digest, each once.
    pub fn file(
        &mut self,
        digest: &[u8; 32],
        size: u64,
        content: &mut impl Read,
    ) -> io::Result<[u8; 32]> {
        let mut payload = digest.to_vec();
        payload.extend_from_slice(&size.to_be_bytes());
        self.section(TAG_FILE, &payload)?;
        let mut hasher = blake3::Hasher::new();
        let mut remaining = size;
        let mut chunk = vec![0u8; DATA_CHUNK.min(usize::try_from(size).unwrap_or(usize::MAX))];
        while remaining > 0 {
            let n = DATA_CHUNK.min(remaining as usize);
            content.read_exact(&mut chunk[..n])?;
            hasher.update(&chunk[..n]);
            self.section(TAG_DATA, &chunk[..n])?;
            remaining -= n as u64;
        }
        Ok(*hasher.finalize().as_bytes())
    }

    /// Sign the digest of everything written and close the bundle.
    pub fn finish(mut self, exporter: &SigningKey) -> io::Result<(W, [u8; 32])> {
        let digest = *self.hasher.finalize().as_bytes();
        let signature = exporter.sign(&bundle_signature_message(&digest));
        let mut payload = digest.to_vec();
        payload.extend_from_slice(&signature.to_bytes());
        self.section(TAG_END, &payload)?;
        self.out.flush()?;
        Ok((self.out, digest))
    }

    pub fn bytes_written(&self) -> u64 {
        self.written
    }
}

/// The message the exporter signs: the domain, then the bundle digest.
pub fn bundle_signature_message(digest: &[u8; 32]) -> Vec<u8> {
    let mut m = BUNDLE_SIG_DOMAIN.to_vec();
    m.extend_from_slice(digest);
    m
}

/// What broke, in words a report can use.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BundleProblem {
    /// Cannot be read (I/O).
    Io,
    /// Not a bundle of this format version.
    Format,
    /// The file ends before it should.
    Truncated,
    /// A section in the wrong place, too large, or of an unknown kind.
    Structure,
    /// A header or log section that is not valid.
    Header,
    Checkpoint,
    /// An entry's bytes (canonical form, schema, log, sequence).
    Entry,
    Signature,
    /// An entry that must not leave a store (internal, or sensitive fields
    /// in a bundle that says they are left out).
    Sensitivity,
    /// An inclusion or consistency proof that does not hold.
    Proof,
    /// The entries do not make the checkpoint's tree.
    MerkleRoot,
    /// The exporter's digest or signature over the bundle.
    BundleSignature,
    /// An evidence file whose content does not have the digest its FILE
    /// section names.
    Evidence,
    /// Bytes after the end.
    TrailingBytes,
    /// The consumer of verified entries (an import) refused them.
    Rejected,
}

impl BundleProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            BundleProblem::Io => "io",
            BundleProblem::Format => "format",
            BundleProblem::Truncated => "truncated",
            BundleProblem::Structure => "structure",
            BundleProblem::Header => "header",
            BundleProblem::Checkpoint => "checkpoint",
            BundleProblem::Entry => "entry",
            BundleProblem::Signature => "signature",
            BundleProblem::Sensitivity => "sensitivity",
            BundleProblem::Proof => "proof",
            BundleProblem::MerkleRoot => "merkle-root",
            BundleProblem::BundleSignature => "bundle-signature",
            BundleProblem::Evidence => "evidence",
            BundleProblem::TrailingBytes => "trailing-bytes",
            BundleProblem::Rejected => "rejected",
        }
    }
}

/// Why a bundle was refused, and exactly where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct BundleError {
    pub problem: BundleProblem,
    /// Byte offset of the section (or of the point of failure) in the file.
    pub offset: u64,
    /// Number of the section, from 0 (the header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Key id of the log concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    pub message: String,
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}", self.offset)?;
        if let (Some(n), Some(tag)) = (self.section, &self.tag) {
            write!(f, ", section {n} ({})", tag.trim_end())?;
        }
        if let Some(log) = &self.log {
            write!(f, ", log {log}")?;
        }
        if let Some(seq) = self.seq {
            write!(f, ", seq {seq}")?;
        }
        if let Some(entry) = &self.entry {
            write!(f, ", entry {}", &entry[..16.min(entry.len())])?;
        }
        write!(f, ": [{}] {}", self.problem.as_str(), self.message)
    }
}

/// Per-log result of a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogReport {
    pub key: VerifyingKey,
    pub checkpoint: SignedCheckpoint,
    pub first: u64,
    /// Entries carried, by kind.
    pub kinds: BTreeMap<String, u64>,
    pub withheld: u64,
    /// Cosignatures that verified against the keys given.
    pub cosignatures: Vec<Cosignature>,
    /// Names on signature lines that are neither the log's nor verified.
    pub unverified_signers: Vec<String>,
    pub since: Option<SignedCheckpoint>,
}

impl LogReport {
    pub fn entries(&self) -> u64 {
        self.kinds.values().sum()
    }
}

/// The result of verifying a whole bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleReport {
    pub header: BundleHeader,
    pub exporter: VerifyingKey,
    pub digest: [u8; 32],
    pub logs: Vec<LogReport>,
    pub bytes: u64,
    /// Evidence files carried, each checked against its digest and size.
    pub files: u64,
    /// Their bytes, together.
    pub file_bytes: u64,
}

/// One verified item, handed to the caller as soon as its signature holds.
/// The log's tree is checked only when its last item has been read, so a
/// caller that writes must stage items until [`verify`] returns `Ok`.
pub enum Verified<'a> {
    /// The bundle's header, once it has been read and checked.
    Header(&'a BundleHeader),
    Entry {
        log: &'a VerifyingKey,
        seq: u64,
        bytes: &'a [u8],
        signature: &'a [u8; SIGNATURE_LEN],
    },
    Withheld {
        log: &'a VerifyingKey,
        seq: u64,
        leaf: &'a Hash,
    },
    /// An evidence file begins: its digest and size, as its FILE section
    /// states them. Its content follows in `FileData`, and `FileEnd` comes
    /// only once the content has been found to have that digest and size.
    File {
        digest: &'a [u8; 32],
        size: u64,
    },
    FileData {
        digest: &'a [u8; 32],
        bytes: &'a [u8],
    },
    FileEnd {
        digest: &'a [u8; 32],
        size: u64,
    },
}

/// Where the reader is inside an evidence file.
struct FileCursor {
    digest: [u8; 32],
    size: u64,
    /// Content bytes still to come.
    remaining: u64,
    hasher: blake3::Hasher,
    /// The FILE section: where a digest mismatch is reported.
    offset: u64,
    section: u64,
}

/// Counts the bytes read, for offsets and progress.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// An entry read but not yet signature-checked.
struct Pending {
    offset: u64,
    section: u64,
    seq: u64,
    id: EntryId,
    bytes: Vec<u8>,
    signature: [u8; SIGNATURE_LEN],
}

/// Where the reader is inside the current log.
struct LogCursor {
    key: VerifyingKey,
    report: LogReport,
    /// Items still to read.
    remaining: u64,
    /// Next expected seq (full, since); last seq seen + 1 (filtered).
    next_seq: u64,
    frontier: Frontier,
    /// Full and since bundles carry every leaf, so their tree is rebuilt.
    check_tree: bool,
    pending: Vec<Pending>,
    pending_bytes: usize,
}

/// Verify a bundle read once from `input`, in bounded memory.
///
/// `cosigners` are the keys whose cosignatures the report should verify.
/// `progress` is called with the number of bytes read so far. `sink` gets
/// each entry once its signature has been checked.
pub fn verify<R: Read>(
    input: R,
    cosigners: &[(String, VerifyingKey)],
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(Verified<'_>) -> Result<(), String>,
) -> Result<BundleReport, BundleError> {
    let mut reader = Counted {
        inner: input,
        read: 0,
    };
    let mut hasher = blake3::Hasher::new();
    let fail = |problem, offset, message: String| BundleError {
        problem,
        offset,
        section: None,
        tag: None,
        log: None,
        seq: None,
        entry: None,
        message,
    };
    let mut magic = [0u8; 16];
    read_exact_or(&mut reader, &mut magic).map_err(|e| match e {
        ReadFail::Eof => fail(
            BundleProblem::Truncated,
            0,
            "the file is shorter than a bundle header".into(),
        ),
        ReadFail::Io(e) => fail(BundleProblem::Io, 0, e.to_string()),
    })?;
    if &magic != BUNDLE_MAGIC {
        let message = if magic.starts_with(b"SIJILL-BUNDLE-V") {
            format!(
                "bundle format {:?} is not supported (this program reads version {FORMAT_VERSION})",
                String::from_utf8_lossy(&magic[15..])
            )
        } else {
            "not a sijill bundle (the file does not start with SIJILL-BUNDLE-V1)".into()
        };
        return Err(fail(BundleProblem::Format, 0, message));
    }
    hasher.update(&magic);

    let mut header: Option<(BundleHeader, VerifyingKey)> = None;
    let mut cursor: Option<LogCursor> = None;
    let mut done_logs: Vec<LogReport> = Vec::new();
    let mut file: Option<FileCursor> = None;
    let mut last_file: Option<[u8; 32]> = None;
    let (mut files, mut file_bytes) = (0u64, 0u64);
    let mut section_no: u64 = 0;
    loop {
        let offset = reader.read;
        progress(offset);
        let mut head = [0u8; 8];
        let at = |problem, message: String, tag: &[u8; 4]| BundleError {
            problem,
            offset,
            section: Some(section_no),
            tag: Some(String::from_utf8_lossy(tag).into_owned()),
            log: None,
            seq: None,
            entry: None,
            message,
        };
        match read_exact_or(&mut reader, &mut head) {
            Ok(()) => {}
            Err(ReadFail::Eof) => {
                return Err(fail(
                    BundleProblem::Truncated,
                    offset,
                    format!(
                        "the bundle ends after {offset} bytes, before its END section: it was cut"
                    ),
                ))
            }
            Err(ReadFail::Io(e)) => return Err(fail(BundleProblem::Io, offset, e.to_string())),
        }
        let tag: [u8; 4] = head[..4].try_into().unwrap_or([0; 4]);
        let len = u32::from_be_bytes(head[4..].try_into().unwrap_or([0; 4])) as usize;
        let limit = match tag {
            TAG_HEAD | TAG_LOG => MAX_JSON_SECTION,
            TAG_ENTRY => 4 + crate::entry::MAX_ENTRY_BYTES + SIGNATURE_LEN + 64 * 32,
            TAG_WITHHELD => 40,
            TAG_END => 96,
            TAG_FILE => 40,
            TAG_DATA => DATA_CHUNK,
            _ => {
                return Err(at(
                    BundleProblem::Structure,
                    format!("unknown section {:?}", String::from_utf8_lossy(&tag)),
                    &tag,
                ))
            }
        };
        if len > limit {
            return Err(at(
                BundleProblem::Structure,
                format!(
                    "section of {len} bytes, more than the {limit} this kind of section may hold"
                ),
                &tag,
            ));
        }
        let mut payload = vec![0u8; len];
        match read_exact_or(&mut reader, &mut payload) {
            Ok(()) => {}
            Err(ReadFail::Eof) => {
                return Err(at(
                    BundleProblem::Truncated,
                    format!("the section declares {len} bytes but the file ends first: it was cut"),
                    &tag,
                ))
            }
            Err(ReadFail::Io(e)) => return Err(at(BundleProblem::Io, e.to_string(), &tag)),
        }
        if tag != TAG_END {
            hasher.update(&head);
            hasher.update(&payload);
        }

        // Which section may come here.
        let in_log = cursor.as_ref().is_some_and(|c| c.remaining > 0);
        let expected: &[[u8; 4]] = match (&header, in_log) {
            (None, _) => &[TAG_HEAD],
            (Some(_), true) => &[TAG_ENTRY, TAG_WITHHELD],
            (Some((h, _)), false) => {
                if (done_logs.len() as u64 + cursor.is_some() as u64) < h.logs {
                    &[TAG_LOG]
                } else if file.is_some() {
                    &[TAG_DATA]
                } else {
                    &[TAG_FILE, TAG_END]
                }
            }
        };
        if !expected.contains(&tag) {
            let names: Vec<String> = expected
                .iter()
                .map(|t| String::from_utf8_lossy(t).trim_end().to_string())
                .collect();
            return Err(at(
                BundleProblem::Structure,
                format!(
                    "a {} section where {} was expected (sections missing, repeated or out of order)",
                    String::from_utf8_lossy(&tag).trim_end(),
                    names.join(" or ")
                ),
                &tag,
            ));
        }

        match tag {
            TAG_HEAD => {
                let parsed = parse_json::<BundleHeader>(&payload)
                    .map_err(|m| at(BundleProblem::Header, m, &tag))?;
                if parsed.v != FORMAT_VERSION {
                    return Err(at(
                        BundleProblem::Format,
                        format!("format version {} is not supported", parsed.v),
                        &tag,
                    ));
                }
                let exporter = keys::parse_public_key_hex(&parsed.exporter).ok_or_else(|| {
                    at(
                        BundleProblem::Header,
                        "the exporter is not a valid public key".into(),
                        &tag,
                    )
                })?;
                if crate::entry::parse_timestamp(&parsed.created_at).is_none() {
                    return Err(at(
                        BundleProblem::Header,
                        "created_at is not a valid time".into(),
                        &tag,
                    ));
                }
                if parsed.logs > MAX_LOGS {
                    return Err(at(
                        BundleProblem::Header,
                        format!("{} logs is more than {MAX_LOGS}", parsed.logs),
                        &tag,
                    ));
                }
                if (parsed.scope == Scope::Filtered) == parsed.filter.is_empty() {
                    return Err(at(
                        BundleProblem::Header,
                        "a filtered bundle states its filter, and only a filtered bundle has one"
                            .into(),
                        &tag,
                    ));
                }
                sink(Verified::Header(&parsed))
                    .map_err(|m| at(BundleProblem::Rejected, m, &tag))?;
                header = Some((parsed, exporter));
            }
            TAG_LOG => {
                if let Some(done) = cursor.take() {
                    done_logs.push(done.report);
                }
                let (h, _) = header.as_ref().expect("HEAD is first");
                let c = open_log(&payload, h, cosigners, &done_logs)
                    .map_err(|(problem, m)| at(problem, m, &tag))?;
                cursor = Some(c);
                if cursor.as_ref().is_some_and(|c| c.remaining == 0) {
                    finish_log(cursor.as_mut().expect("set above"), sink)
                        .map_err(|e| e.located(offset, section_no, &tag))?;
                }
            }
            TAG_ENTRY | TAG_WITHHELD => {
                let (h, _) = header.as_ref().expect("HEAD is first");
                let c = cursor.as_mut().expect("inside a log");
                let log_id = keys::key_id(&c.key).to_string();
                let located = |problem, seq: Option<u64>, id: Option<&EntryId>, message: String| {
                    BundleError {
                        problem,
                        offset,
                        section: Some(section_no),
                        tag: Some(String::from_utf8_lossy(&tag).into_owned()),
                        log: Some(log_id.clone()),
                        seq,
                        entry: id.map(EntryId::to_hex),
                        message,
                    }
                };
                if tag == TAG_WITHHELD {
                    if h.scope == Scope::Filtered {
                        return Err(located(
                            BundleProblem::Structure,
                            None,
                            None,
                            "a filtered bundle has no withheld leaves".into(),
                        ));
                    }
                    if payload.len() != 40 {
                        return Err(located(
                            BundleProblem::Structure,
                            None,
                            None,
                            format!("a WHLD section is 40 bytes, not {}", payload.len()),
                        ));
                    }
                    let seq = u64::from_be_bytes(payload[..8].try_into().unwrap_or([0; 8]));
                    if seq != c.next_seq {
                        return Err(located(
                            BundleProblem::Entry,
                            Some(seq),
                            None,
                            format!(
                                "withheld leaf with sequence number {seq} where {} was expected",
                                c.next_seq
                            ),
                        ));
                    }
                    let leaf = Hash(payload[8..].try_into().unwrap_or([0; 32]));
                    flush(c, sink).map_err(|e| e.located(offset, section_no, &tag))?;
                    c.frontier.push(leaf);
                    c.next_seq += 1;
                    c.report.withheld += 1;
                    sink(Verified::Withheld {
                        log: &c.key,
                        seq,
                        leaf: &leaf,
                    })
                    .map_err(|m| located(BundleProblem::Rejected, Some(seq), None, m))?;
                } else {
                    read_entry(c, h, &payload, offset, section_no)
                        .map_err(|(problem, seq, id, m)| located(problem, seq, id.as_ref(), m))?;
                    if c.pending.len() >= BATCH_ENTRIES || c.pending_bytes >= BATCH_BYTES {
                        flush(c, sink).map_err(|e| e.located(offset, section_no, &tag))?;
                    }
                }
                c.remaining -= 1;
                if c.remaining == 0 {
                    finish_log(c, sink).map_err(|e| e.located(offset, section_no, &tag))?;
                }
            }
            TAG_FILE => {
                if let Some(done) = cursor.take() {
                    done_logs.push(done.report);
                }
                if payload.len() != 40 {
                    return Err(at(
                        BundleProblem::Structure,
                        format!("a FILE section is 40 bytes, not {}", payload.len()),
                        &tag,
                    ));
                }
                let digest: [u8; 32] = payload[..32].try_into().unwrap_or([0; 32]);
                let size = u64::from_be_bytes(payload[32..].try_into().unwrap_or([0; 8]));
                if last_file.is_some_and(|last| digest <= last) {
                    return Err(at(
                        BundleProblem::Structure,
                        format!(
                            "evidence file {} does not follow {} in ascending order of digest (files repeated or out of order)",
                            hex::encode(digest),
                            hex::encode(last_file.unwrap_or_default())
                        ),
                        &tag,
                    ));
                }
                last_file = Some(digest);
                sink(Verified::File {
                    digest: &digest,
                    size,
                })
                .map_err(|m| at(BundleProblem::Rejected, m, &tag))?;
                let opened = FileCursor {
                    digest,
                    size,
                    remaining: size,
                    hasher: blake3::Hasher::new(),
                    offset,
                    section: section_no,
                };
                if size == 0 {
                    finish_file(opened, sink, &mut files)?;
                } else {
                    file = Some(opened);
                }
            }
            TAG_DATA => {
                let f = file.as_mut().expect("DATA comes only inside a file");
                let want = DATA_CHUNK.min(usize::try_from(f.remaining).unwrap_or(usize::MAX));
                if payload.len() != want {
                    return Err(at(
                        BundleProblem::Structure,
                        format!(
                            "a DATA section of {} bytes where {want} were expected: evidence file {} of {} bytes is carried in chunks of {DATA_CHUNK} bytes, the last holding the rest",
                            payload.len(),
                            hex::encode(f.digest),
                            f.size
                        ),
                        &tag,
                    ));
                }
                f.hasher.update(&payload);
                f.remaining -= payload.len() as u64;
                sink(Verified::FileData {
                    digest: &f.digest,
                    bytes: &payload,
                })
                .map_err(|m| at(BundleProblem::Rejected, m, &tag))?;
                if f.remaining == 0 {
                    let done = file.take().expect("set above");
                    file_bytes += done.size;
                    finish_file(done, sink, &mut files)?;
                }
            }
            TAG_END => {
                if let Some(done) = cursor.take() {
                    done_logs.push(done.report);
                }
                let (h, exporter) = header.take().expect("HEAD is first");
                if payload.len() != 96 {
                    return Err(at(
                        BundleProblem::Structure,
                        "the END section is not 96 bytes".into(),
                        &tag,
                    ));
                }
                let digest = *hasher.finalize().as_bytes();
                if payload[..32] != digest {
                    return Err(at(
                        BundleProblem::BundleSignature,
                        "the digest in END is not the digest of the bundle: bytes before it were changed".into(),
                        &tag,
                    ));
                }
                let signature = Signature::from_bytes(payload[32..].try_into().unwrap_or(&[0; 64]));
                if exporter
                    .verify_strict(&bundle_signature_message(&digest), &signature)
                    .is_err()
                {
                    return Err(at(
                        BundleProblem::BundleSignature,
                        format!(
                            "the exporter's signature ({}) over the bundle does not verify",
                            keys::key_id(&exporter)
                        ),
                        &tag,
                    ));
                }
                let mut extra = [0u8; 1];
                match reader.read(&mut extra) {
                    Ok(0) => {}
                    Ok(_) => {
                        return Err(fail(
                            BundleProblem::TrailingBytes,
                            reader.read - 1,
                            "bytes follow the END section".into(),
                        ))
                    }
                    Err(e) => return Err(fail(BundleProblem::Io, reader.read, e.to_string())),
                }
                progress(reader.read);
                return Ok(BundleReport {
                    header: h,
                    exporter,
                    digest,
                    logs: done_logs,
                    bytes: reader.read,
                    files,
                    file_bytes,
                });
            }
            _ => unreachable!("tags are checked above"),
        }
        section_no += 1;
    }
}

/// After a file's last byte: its content must have the digest its FILE
/// section names (the size is held by the DATA sections' lengths).
fn finish_file(
    f: FileCursor,
    sink: &mut dyn FnMut(Verified<'_>) -> Result<(), String>,
    files: &mut u64,
) -> Result<(), BundleError> {
    let located = |problem, message| BundleError {
        problem,
        offset: f.offset,
        section: Some(f.section),
        tag: Some("FILE".into()),
        log: None,
        seq: None,
        entry: None,
        message,
    };
    let actual = *f.hasher.finalize().as_bytes();
    if actual != f.digest {
        let chunks = f.size.div_ceil(DATA_CHUNK as u64);
        let sections = match chunks {
            0 => "no DATA section".to_string(),
            1 => format!("DATA section {}", f.section + 1),
            n => format!("DATA sections {} to {}", f.section + 1, f.section + n),
        };
        return Err(located(
            BundleProblem::Evidence,
            format!(
                "evidence file {}: its {} bytes ({sections}) have BLAKE3 digest {}, not the digest its FILE section names: the file was changed",
                hex::encode(f.digest),
                f.size,
                hex::encode(actual)
            ),
        ));
    }
    sink(Verified::FileEnd {
        digest: &f.digest,
        size: f.size,
    })
    .map_err(|m| located(BundleProblem::Rejected, m))?;
    *files += 1;
    Ok(())
}

enum ReadFail {
    Eof,
    Io(io::Error),
}

/// Fill `buf`, telling a clean or partial end of file from an I/O error.
fn read_exact_or<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<(), ReadFail> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => return Err(ReadFail::Eof),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadFail::Io(e)),
        }
    }
    Ok(())
}

/// Parse a canonical JSON section into `T`, refusing unknown members.
fn parse_json<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> Result<T, String> {
    let value = parse_canonical(payload).map_err(|e| e.to_string())?;
    serde_json::from_value(value).map_err(|e| e.to_string())
}

fn parse_hashes(list: &[String], what: &str) -> Result<Vec<Hash>, String> {
    list.iter()
        .map(|h| Hash::from_hex(h).map_err(|e| format!("{what}: {e}")))
        .collect()
}

type Problem = (BundleProblem, String);

fn open_log(
    payload: &[u8],
    header: &BundleHeader,
    cosigners: &[(String, VerifyingKey)],
    done: &[LogReport],
) -> Result<LogCursor, Problem> {
    // `since` is absent or an object: `null` would be a second spelling.
    if parse_canonical(payload)
        .ok()
        .is_some_and(|v| v.get("since").is_some_and(|s| s.is_null()))
    {
        return Err((
            BundleProblem::Header,
            "`since` is null; leave it out instead".to_string(),
        ));
    }
    let section: LogSection = parse_json(payload).map_err(|m| (BundleProblem::Header, m))?;
    let key = keys::parse_public_key_hex(&section.log).ok_or((
        BundleProblem::Header,
        "the log is not a valid public key".to_string(),
    ))?;
    if done.iter().any(|l| l.key == key) {
        return Err((
            BundleProblem::Structure,
            format!("log {} appears twice", keys::key_id(&key)),
        ));
    }
    let checkpoint = SignedCheckpoint::parse_and_verify(section.checkpoint.as_bytes(), &key)
        .map_err(|e| {
            (
                BundleProblem::Checkpoint,
                format!("log {}: {e}", keys::key_id(&key)),
            )
        })?;
    let size = checkpoint.checkpoint.size;
    let mut frontier = Frontier::new();
    let mut since_checkpoint = None;
    match header.scope {
        Scope::Full => {
            if section.first != 0 || section.count != size || section.since.is_some() {
                return Err((
                    BundleProblem::Header,
                    format!(
                        "a full bundle carries every leaf: first 0 and count {size}, not first {} and count {}",
                        section.first, section.count
                    ),
                ));
            }
        }
        Scope::Filtered => {
            if section.first != 0 || section.count > size || section.since.is_some() {
                return Err((
                    BundleProblem::Header,
                    format!(
                        "a filtered log section holds at most {size} entries and no since proof"
                    ),
                ));
            }
        }
        Scope::Since => {
            let since = section.since.as_ref().ok_or((
                BundleProblem::Header,
                "a since bundle carries the old checkpoint and proofs".to_string(),
            ))?;
            let old = SignedCheckpoint::parse_and_verify(since.checkpoint.as_bytes(), &key)
                .map_err(|e| {
                    (
                        BundleProblem::Checkpoint,
                        format!("the old checkpoint: {e}"),
                    )
                })?;
            let old_size = old.checkpoint.size;
            if old_size > size || section.first != old_size || section.count != size - old_size {
                return Err((
                    BundleProblem::Header,
                    format!(
                        "a since bundle from size {old_size} to {size} carries leaves {old_size}.. ({} of them), not first {} and count {}",
                        size.saturating_sub(old_size),
                        section.first,
                        section.count
                    ),
                ));
            }
            let peaks =
                parse_hashes(&since.frontier, "frontier").map_err(|m| (BundleProblem::Proof, m))?;
            if peaks.len() != old_size.count_ones() as usize {
                return Err((
                    BundleProblem::Proof,
                    format!(
                        "the frontier of a tree of {old_size} has {} hashes, not {}",
                        old_size.count_ones(),
                        peaks.len()
                    ),
                ));
            }
            let mut it = peaks.into_iter();
            frontier = Frontier::from_nodes(old_size, |_| it.next().ok_or(()))
                .map_err(|_| (BundleProblem::Proof, "the frontier is short".to_string()))?;
            if frontier.root() != old.checkpoint.root {
                return Err((
                    BundleProblem::Proof,
                    "the frontier does not hash to the old checkpoint's root".to_string(),
                ));
            }
            let proof = parse_hashes(&since.consistency, "consistency proof")
                .map_err(|m| (BundleProblem::Proof, m))?;
            merkle::verify_consistency(
                old_size,
                size,
                &old.checkpoint.root,
                &checkpoint.checkpoint.root,
                &proof,
            )
            .map_err(|e| {
                (
                    BundleProblem::Proof,
                    format!("the consistency proof from size {old_size} to {size}: {e}"),
                )
            })?;
            since_checkpoint = Some(old);
        }
    }
    let cosignatures = checkpoint.cosignatures(cosigners);
    let origin = checkpoint.checkpoint.origin.clone();
    let unverified_signers = checkpoint
        .note
        .signatures
        .iter()
        .filter(|s| s.name != origin && !cosignatures.iter().any(|c| c.name == s.name))
        .map(|s| s.name.clone())
        .collect();
    Ok(LogCursor {
        key,
        remaining: section.count,
        next_seq: section.first,
        report: LogReport {
            key,
            checkpoint,
            first: section.first,
            kinds: BTreeMap::new(),
            withheld: 0,
            cosignatures,
            unverified_signers,
            since: since_checkpoint,
        },
        frontier,
        check_tree: header.scope != Scope::Filtered,
        pending: Vec::new(),
        pending_bytes: 0,
    })
}

type EntryProblem = (BundleProblem, Option<u64>, Option<EntryId>, String);

/// Check everything about one ENTR section but its signature, which is
/// checked with its batch.
fn read_entry(
    c: &mut LogCursor,
    header: &BundleHeader,
    payload: &[u8],
    offset: u64,
    section: u64,
) -> Result<(), EntryProblem> {
    let bad = |problem, seq, id, m: String| (problem, seq, id, m);
    if payload.len() < 4 {
        return Err(bad(
            BundleProblem::Structure,
            None,
            None,
            "an ENTR section is shorter than its length field".into(),
        ));
    }
    let len = u32::from_be_bytes(payload[..4].try_into().unwrap_or([0; 4])) as usize;
    let rest = payload.len() - 4;
    if len == 0
        || len > crate::entry::MAX_ENTRY_BYTES
        || len + SIGNATURE_LEN > rest
        || !(rest - len - SIGNATURE_LEN).is_multiple_of(32)
    {
        return Err(bad(
            BundleProblem::Structure,
            None,
            None,
            format!("an ENTR section of {} bytes cannot hold an entry of {len} bytes, a signature and whole proof hashes", payload.len()),
        ));
    }
    let bytes = &payload[4..4 + len];
    let signature: [u8; SIGNATURE_LEN] = payload[4 + len..4 + len + SIGNATURE_LEN]
        .try_into()
        .unwrap_or([0; 64]);
    let proof: Vec<Hash> = payload[4 + len + SIGNATURE_LEN..]
        .chunks_exact(32)
        .map(|h| Hash(h.try_into().unwrap_or([0; 32])))
        .collect();
    let id = EntryId::of(bytes);
    let entry: Entry = decode_entry(bytes)
        .map_err(|e| bad(BundleProblem::Entry, None, Some(id), e.to_string()))?;
    let seq = entry.seq;
    if entry.log != c.key {
        return Err(bad(
            BundleProblem::Entry,
            Some(seq),
            Some(id),
            format!(
                "the entry belongs to log {}, not to the log of this section",
                keys::key_id(&entry.log)
            ),
        ));
    }
    let size = c.report.checkpoint.checkpoint.size;
    let leaf = merkle::leaf_hash(bytes);
    match header.scope {
        Scope::Full | Scope::Since => {
            if seq != c.next_seq {
                return Err(bad(
                    BundleProblem::Entry,
                    Some(seq),
                    Some(id),
                    format!("sequence number {seq} where {} was expected: entries dropped, repeated or reordered", c.next_seq),
                ));
            }
            if !proof.is_empty() {
                return Err(bad(
                    BundleProblem::Structure,
                    Some(seq),
                    Some(id),
                    "a full or since bundle carries no inclusion proofs".into(),
                ));
            }
            c.frontier.push(leaf);
        }
        Scope::Filtered => {
            if seq < c.next_seq || seq >= size {
                return Err(bad(
                    BundleProblem::Entry,
                    Some(seq),
                    Some(id),
                    format!("sequence number {seq} is out of order or beyond the checkpoint's size {size}"),
                ));
            }
            merkle::verify_inclusion(
                &leaf,
                seq,
                size,
                &proof,
                &c.report.checkpoint.checkpoint.root,
            )
            .map_err(|e| {
                bad(
                    BundleProblem::Proof,
                    Some(seq),
                    Some(id),
                    format!("inclusion proof: {e}"),
                )
            })?;
        }
    }
    c.next_seq = seq + 1;
    if let Some(record) = entry.record_body() {
        if record.sensitivity() == Sensitivity::Internal {
            return Err(bad(
                BundleProblem::Sensitivity,
                Some(seq),
                Some(id),
                "an internal record, which must never leave its store".into(),
            ));
        }
        if !header.include_sensitive && record.has_sensitive_fields() {
            return Err(bad(
                BundleProblem::Sensitivity,
                Some(seq),
                Some(id),
                "the record holds sensitive fields (contact), but the bundle says they were left out".into(),
            ));
        }
    }
    if !header.include_sensitive && crate::lifecycle::sets_sensitive_field(&entry) {
        return Err(bad(
            BundleProblem::Sensitivity,
            Some(seq),
            Some(id),
            "an amendment sets a sensitive field (contact), but the bundle says they were left out"
                .into(),
        ));
    }
    *c.report
        .kinds
        .entry(entry.kind.as_str().to_string())
        .or_insert(0) += 1;
    c.pending_bytes += bytes.len();
    c.pending.push(Pending {
        offset,
        section,
        seq,
        id,
        bytes: bytes.to_vec(),
        signature,
    });
    Ok(())
}

/// A failure found after the fact (batch signature check, log end): its
/// own place, or the place of the section that triggered the check.
struct LateError {
    problem: BundleProblem,
    offset: Option<u64>,
    section: Option<u64>,
    seq: Option<u64>,
    entry: Option<String>,
    log: String,
    message: String,
}

impl LateError {
    fn located(self, offset: u64, section: u64, tag: &[u8; 4]) -> BundleError {
        BundleError {
            problem: self.problem,
            offset: self.offset.unwrap_or(offset),
            section: Some(self.section.unwrap_or(section)),
            tag: Some(if self.section.is_some() {
                "ENTR".into()
            } else {
                String::from_utf8_lossy(tag).into_owned()
            }),
            log: Some(self.log),
            seq: self.seq,
            entry: self.entry,
            message: self.message,
        }
    }
}

/// Check the signatures of the pending entries on every core (strict
/// verification, as for a single entry), then hand them on in order.
fn flush(
    c: &mut LogCursor,
    sink: &mut dyn FnMut(Verified<'_>) -> Result<(), String>,
) -> Result<(), LateError> {
    if c.pending.is_empty() {
        return Ok(());
    }
    let key = c.key;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = c.pending.len().div_ceil(threads);
    let first_bad: Option<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = c
            .pending
            .chunks(chunk.max(1))
            .enumerate()
            .map(|(i, part)| {
                scope.spawn(move || {
                    part.iter()
                        .position(|p| {
                            let sig = parse_signature(&p.signature);
                            sig.and_then(|s| verify_signature(&key, &p.bytes, &s))
                                .is_err()
                        })
                        .map(|j| i * chunk.max(1) + j)
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .min()
    });
    if let Some(i) = first_bad {
        let p = &c.pending[i];
        return Err(LateError {
            problem: BundleProblem::Signature,
            offset: Some(p.offset),
            section: Some(p.section),
            seq: Some(p.seq),
            entry: Some(p.id.to_hex()),
            log: keys::key_id(&key).to_string(),
            message: "the entry's signature does not verify with the log's key".into(),
        });
    }
    for p in c.pending.drain(..) {
        sink(Verified::Entry {
            log: &key,
            seq: p.seq,
            bytes: &p.bytes,
            signature: &p.signature,
        })
        .map_err(|m| LateError {
            problem: BundleProblem::Rejected,
            offset: Some(p.offset),
            section: Some(p.section),
            seq: Some(p.seq),
            entry: Some(p.id.to_hex()),
            log: keys::key_id(&key).to_string(),
            message: m,
        })?;
    }
    c.pending_bytes = 0;
    Ok(())
}

/// After a log's last item: its signatures, and its tree against the checkpoint.
fn finish_log(
    c: &mut LogCursor,
    sink: &mut dyn FnMut(Verified<'_>) -> Result<(), String>,
) -> Result<(), LateError> {
    flush(c, sink)?;
    if c.check_tree {
        let cp = &c.report.checkpoint.checkpoint;
        if c.frontier.size() != cp.size || c.frontier.root() != cp.root {
            return Err(LateError {
                problem: BundleProblem::MerkleRoot,
                offset: None,
                section: None,
                seq: None,
                entry: None,
                log: keys::key_id(&c.key).to_string(),
                message: format!(
                    "the log's {} leaves have root {}, but its checkpoint says {} leaves with root {}: entries were changed, dropped or added",
                    c.frontier.size(),
                    c.frontier.root(),
                    cp.size,
                    cp.root
                ),
            });
        }
    }
    Ok(())
}
