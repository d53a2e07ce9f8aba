//! Known-answer bundles (fixtures/vectors/bundles/, docs/FORMAT.md §10.5, §13).
//!
//! Every file is rebuilt here from fixed inputs, without a store and without
//! the clock, and must match the stored file byte for byte. Each valid bundle
//! must verify, each failing one must be refused by `sijill::bundle::verify`
//! with the problem its name and the README give, FORMAT.md §10 must state the
//! digests of the valid bundles, and the README must list exactly the files
//! present.
//!
//! `SIJILL_WRITE_VECTORS=1 cargo test --test bundle_vectors` rewrites the files
//! (review the diff: a change in a valid vector is a format change).

#![allow(clippy::result_large_err)] // bundle errors carry their full location

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Once;

use ed25519_dalek::Signer;
use serde_json::Value;
use sijill::bundle::{
    self, bundle_signature_message, BundleHeader, BundleProblem, BundleReport, BundleWriter,
    LogSection, Scope, SinceProof, Verified,
};
use sijill::entry::{Entry, SignedEntry};
use sijill::keys::{SigningKey, VerifyingKey};
use sijill::merkle::{self, leaf_hash, Frontier, Hash, NodeId};
use sijill::note::SignedCheckpoint;
use sijill::record::{parse_record, RecordKind};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors/bundles/");
const ENTRIES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors/entries/");
const FORMAT_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md");
const CASUALTY_JSON: &[u8] = include_bytes!("../fixtures/records/casualty.json");
const MISSING_JSON: &[u8] = include_bytes!("../fixtures/records/missing.json");

/// The content the evidence vectors name (`../entries/casualty-evidence`).
const EVIDENCE_CONTENT: &[u8] = b"Sijill evidence vector\n";

/// Length of the END section: tag, length, digest, signature.
const END_LEN: usize = 8 + 32 + 64;

// ---------------------------------------------------------------- inputs

/// The vector seed: bytes 0x01, 0x02, ..., 0x20 (as fixtures/vectors/keys/seed.hex).
fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&std::array::from_fn(|i| i as u8 + 1))
}
fn public_key() -> VerifyingKey {
    signing_key().verifying_key()
}
/// A second key (seed of 32 bytes 0x42): the cosigner, and the author or
/// signer of what must fail.
fn other_key() -> SigningKey {
    SigningKey::from_bytes(&[0x42; 32])
}
fn recorded_at() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-01 12:00:00 UTC)
}
/// `recorded_at` of the third entry of the since log.
fn later_recorded_at() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-02 08:00:00 UTC)
}
fn today() -> time::Date {
    time::macros::date!(2026 - 11 - 02)
}
const CREATED_AT: &str = "2026-11-02T12:00:00Z";
const ORGANISATION: &str = "Violations Documentation Group";
/// The cosigner's time on the since bundle's checkpoint: 2026-11-02T12:00:00Z.
const COSIGNED_AT: u64 = 1_793_620_800;

fn json_edit(json: &[u8], edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(json).unwrap();
    edit(value.as_object_mut().unwrap());
    serde_json::to_vec(&value).unwrap()
}

fn entry(key: &SigningKey, seq: u64, kind: RecordKind, json: &[u8]) -> SignedEntry {
    entry_at(key, seq, kind, json, recorded_at())
}

fn entry_at(
    key: &SigningKey,
    seq: u64,
    kind: RecordKind,
    json: &[u8],
    at: time::OffsetDateTime,
) -> SignedEntry {
    let record = parse_record(kind, json, today()).unwrap();
    Entry::record(key.verifying_key(), seq, at, record)
        .sign(key)
        .unwrap()
}

/// The entries the vectors are made of.
struct Entries {
    /// fixtures/records/casualty.json at seq 0 (the entry of the entries vectors).
    casualty: SignedEntry,
    /// fixtures/records/missing.json without `contact`, at seq 1: it travels.
    missing: SignedEntry,
    /// fixtures/records/missing.json as it is, with `contact`, at seq 1.
    missing_with_contact: SignedEntry,
    /// The casualty record again, recorded later, at seq 2.
    third: SignedEntry,
    /// The casualty record marked `"sensitivity":"internal"`, at seq 0.
    internal: SignedEntry,
    /// The missing record without `contact`, at seq 1 of the second key's log.
    foreign: SignedEntry,
}

fn entries() -> Entries {
    let key = signing_key();
    let no_contact = json_edit(MISSING_JSON, |m| {
        m.remove("contact").unwrap();
    });
    let internal = json_edit(CASUALTY_JSON, |m| {
        m.insert("sensitivity".into(), "internal".into());
    });
    Entries {
        casualty: entry(&key, 0, RecordKind::Casualty, CASUALTY_JSON),
        missing: entry(&key, 1, RecordKind::Missing, &no_contact),
        missing_with_contact: entry(&key, 1, RecordKind::Missing, MISSING_JSON),
        third: entry_at(
            &key,
            2,
            RecordKind::Casualty,
            CASUALTY_JSON,
            later_recorded_at(),
        ),
        internal: entry(&key, 0, RecordKind::Casualty, &internal),
        foreign: entry(&other_key(), 1, RecordKind::Missing, &no_contact),
    }
}

/// The entry of ../entries/casualty-evidence.entry.json, with its signature.
fn evidence_entry() -> SignedEntry {
    let bytes = std::fs::read(format!("{ENTRIES_DIR}casualty-evidence.entry.json")).unwrap();
    let sig = std::fs::read_to_string(format!("{ENTRIES_DIR}casualty-evidence.sig.hex")).unwrap();
    SignedEntry::decode(&bytes, &hex::decode(sig.trim_end()).unwrap()).unwrap()
}

// ------------------------------------------------------------- the tree

/// A log's Merkle tree over its entry bytes, with every perfect node kept,
/// as a store keeps them.
struct Tree {
    frontier: Frontier,
    nodes: HashMap<NodeId, Hash>,
}

impl Tree {
    fn of(log: &[&SignedEntry]) -> Tree {
        let mut tree = Tree {
            frontier: Frontier::new(),
            nodes: HashMap::new(),
        };
        for e in log {
            tree.nodes.extend(tree.frontier.push(leaf_hash(&e.bytes)));
        }
        tree
    }

    fn node(&self, id: NodeId) -> Result<Hash, ()> {
        self.nodes.get(&id).copied().ok_or(())
    }

    fn root(&self, size: u64) -> Hash {
        Frontier::from_nodes(size, |id| self.node(id))
            .unwrap()
            .root()
    }

    /// The perfect subtrees covering the first `size` leaves, largest first.
    fn frontier(&self, size: u64) -> Vec<Hash> {
        let mut out = Vec::new();
        Frontier::from_nodes(size, |id| {
            let h = self.node(id)?;
            out.push(h);
            Ok::<_, ()>(h)
        })
        .unwrap();
        out
    }

    fn inclusion(&self, index: u64, size: u64) -> Vec<Hash> {
        merkle::inclusion_proof(index, size, |id| self.node(id)).unwrap()
    }

    fn consistency(&self, old: u64, new: u64) -> Vec<Hash> {
        merkle::consistency_proof(old, new, |id| self.node(id)).unwrap()
    }

    fn checkpoint(&self, size: u64) -> SignedCheckpoint {
        SignedCheckpoint::sign(size, self.root(size), &signing_key())
    }
}

fn hexes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_hex).collect()
}

// ---------------------------------------------------------- the bundles

fn header(scope: Scope, filter: &[(&str, &str)], include_sensitive: bool) -> BundleHeader {
    BundleHeader {
        v: 1,
        created_at: CREATED_AT.into(),
        exporter: hex::encode(public_key().as_bytes()),
        organisation: ORGANISATION.into(),
        scope,
        filter: filter
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        include_sensitive,
        logs: 1,
    }
}

fn log_section(checkpoint: &SignedCheckpoint, first: u64, count: u64) -> LogSection {
    LogSection {
        log: hex::encode(public_key().as_bytes()),
        checkpoint: checkpoint.to_text(),
        first,
        count,
        since: None,
    }
}

enum Item<'a> {
    Entry(&'a SignedEntry, Vec<Hash>),
    Withheld(u64, Hash),
}

fn carry(e: &SignedEntry) -> Item<'_> {
    Item::Entry(e, Vec::new())
}

/// A bundle of one log, sealed by the vector key.
fn write(header: &BundleHeader, log: &LogSection, items: &[Item<'_>]) -> Vec<u8> {
    write_with_files(header, log, items, &[])
}

/// A bundle of one log followed by evidence files (in the order given),
/// sealed by the vector key.
fn write_with_files(
    header: &BundleHeader,
    log: &LogSection,
    items: &[Item<'_>],
    files: &[&[u8]],
) -> Vec<u8> {
    let mut w = BundleWriter::new(Vec::new(), header).unwrap();
    w.log(log).unwrap();
    for item in items {
        match item {
            Item::Entry(e, proof) => w.entry(&e.bytes, &e.signature, proof).unwrap(),
            Item::Withheld(seq, leaf) => w.withheld(*seq, leaf).unwrap(),
        }
    }
    for content in files {
        let digest = *blake3::hash(content).as_bytes();
        let written = w
            .file(&digest, content.len() as u64, &mut &content[..])
            .unwrap();
        assert_eq!(written, digest);
    }
    let (bytes, digest) = w.finish(&signing_key()).unwrap();
    assert_eq!(bytes[bytes.len() - 96..bytes.len() - 64], digest);
    bytes
}

/// The bytes before the END section.
fn unsealed(bundle: &[u8]) -> &[u8] {
    assert_eq!(&bundle[bundle.len() - END_LEN..][..8], b"END \0\0\0\x60");
    &bundle[..bundle.len() - END_LEN]
}

/// An END section over `prefix` as `digest`, signed by `key`.
fn end_section(digest: &[u8; 32], key: &SigningKey) -> Vec<u8> {
    let mut end = b"END \0\0\0\x60".to_vec();
    end.extend_from_slice(digest);
    end.extend_from_slice(&key.sign(&bundle_signature_message(digest)).to_bytes());
    end
}

/// `prefix` (every byte before END) closed with a correct END section.
fn reseal(prefix: &[u8]) -> Vec<u8> {
    let digest = *blake3::hash(prefix).as_bytes();
    let mut out = prefix.to_vec();
    out.extend_from_slice(&end_section(&digest, &signing_key()));
    out
}

/// The byte ranges of the ENTR sections.
fn entr_sections(bytes: &[u8]) -> Vec<(usize, usize)> {
    common::bundle_sections(bytes)
        .into_iter()
        .filter(|s| &s.2 == b"ENTR")
        .map(|s| (s.0, s.1))
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Ok,
    Fail(BundleProblem),
}

impl Expect {
    fn label(self) -> &'static str {
        match self {
            Expect::Ok => "ok",
            Expect::Fail(p) => p.as_str(),
        }
    }
}

struct Vector {
    name: &'static str,
    bytes: Vec<u8>,
    expect: Expect,
}

/// Every file of fixtures/vectors/bundles/ except README.md.
fn vectors() -> Vec<Vector> {
    let e = entries();
    let mut out = Vec::new();
    let mut put = |name: &'static str, bytes: Vec<u8>, expect: Expect| {
        out.push(Vector {
            name,
            bytes,
            expect,
        })
    };
    use BundleProblem as P;
    let fail = Expect::Fail;

    // The 2-entry log: casualty (0), missing without contact (1).
    let log2 = Tree::of(&[&e.casualty, &e.missing]);
    let cp2 = log2.checkpoint(2);
    let full_header = header(Scope::Full, &[], false);
    let full = write(
        &full_header,
        &log_section(&cp2, 0, 2),
        &[carry(&e.casualty), carry(&e.missing)],
    );
    let digest = full[full.len() - 96..full.len() - 64].to_vec();
    put("full.bundle", full.clone(), Expect::Ok);
    put(
        "full.digest.hex",
        format!("{}\n", hex::encode(&digest)).into_bytes(),
        Expect::Ok,
    );

    // Filtered: the missing record only, with its inclusion proof.
    let filtered_header = header(Scope::Filtered, &[("kind", "missing")], false);
    let filtered_items = [Item::Entry(&e.missing, log2.inclusion(1, 2))];
    let filtered = write(&filtered_header, &log_section(&cp2, 0, 1), &filtered_items);
    put("filtered.bundle", filtered, Expect::Ok);

    // Since: the 3-entry log from the checkpoint of size 1 to the one of
    // size 3, which carries a cosignature by the second key.
    let log3 = Tree::of(&[&e.casualty, &e.missing, &e.third]);
    let old = log3.checkpoint(1);
    let mut new = log3.checkpoint(3);
    new.cosign(
        &sijill::exchange::cosigner_name(&other_key().verifying_key()),
        &other_key(),
        COSIGNED_AT,
    );
    let since_section = |consistency: Vec<Hash>| LogSection {
        since: Some(SinceProof {
            checkpoint: old.to_text(),
            frontier: hexes(&log3.frontier(1)),
            consistency: hexes(&consistency),
        }),
        ..log_section(&new, 1, 2)
    };
    let since_header = header(Scope::Since, &[], false);
    put(
        "since.bundle",
        write(
            &since_header,
            &since_section(log3.consistency(1, 3)),
            &[carry(&e.missing), carry(&e.third)],
        ),
        Expect::Ok,
    );

    // Withheld: the missing record with its contact stays home; its leaf
    // hash travels, so the tree of the entries vectors still verifies.
    let log_contact = Tree::of(&[&e.casualty, &e.missing_with_contact]);
    let cp_contact = log_contact.checkpoint(2);
    put(
        "withheld.bundle",
        write(
            &full_header,
            &log_section(&cp_contact, 0, 2),
            &[
                carry(&e.casualty),
                Item::Withheld(1, leaf_hash(&e.missing_with_contact.bytes)),
            ],
        ),
        Expect::Ok,
    );

    // With evidence: the casualty entry with one evidence item (the entry
    // of ../entries/casualty-evidence.entry.json) at seq 0, and the file it
    // names in a FILE section and one DATA section.
    let with_evidence_entry = evidence_entry();
    let log_evidence = Tree::of(&[&with_evidence_entry]);
    let with_evidence = write_with_files(
        &full_header,
        &log_section(&log_evidence.checkpoint(1), 0, 1),
        &[carry(&with_evidence_entry)],
        &[EVIDENCE_CONTENT],
    );
    put("with-evidence.bundle", with_evidence.clone(), Expect::Ok);
    // Its first content byte changed, resealed: the file no longer has the
    // digest its FILE section names.
    let data = common::bundle_sections(&with_evidence)
        .into_iter()
        .find(|s| &s.2 == b"DATA")
        .unwrap();
    let mut flipped_file = unsealed(&with_evidence).to_vec();
    flipped_file[data.0 + 8] ^= 0x01;
    put(
        "flipped-evidence-byte.bundle",
        reseal(&flipped_file),
        fail(P::Evidence),
    );

    // ------------------------------------------------------------ failing
    let body = unsealed(&full);
    let entr = entr_sections(&full);
    let (e0, e1) = (entr[0], entr[1]);
    let splice = |parts: &[(usize, usize)]| {
        let mut v = body[..e0.0].to_vec();
        for (a, b) in parts {
            v.extend_from_slice(&body[*a..*b]);
        }
        v.extend_from_slice(&body[e1.1..]);
        reseal(&v)
    };

    // 12:00 becomes 13:00 in the first entry's recorded_at: still a valid
    // entry, but not the one that was signed.
    let mut flipped = body.to_vec();
    let at = e0.0
        + 12
        + e.casualty
            .bytes
            .windows(22)
            .position(|w| w == b"\"2026-11-01T12:00:00Z\"")
            .unwrap()
        + 13;
    assert_eq!(flipped[at], b'2');
    flipped[at] = b'3';
    put(
        "flipped-entry-byte.bundle",
        reseal(&flipped),
        fail(P::Signature),
    );

    put(
        "truncated.bundle",
        full[..full.len() - 1].to_vec(),
        fail(P::Truncated),
    );
    let mut trailing = full.clone();
    trailing.push(b'\n');
    put("trailing-byte.bundle", trailing, fail(P::TrailingBytes));
    let mut v2 = full.clone();
    v2[15] = b'2';
    put("wrong-magic-version.bundle", v2, fail(P::Format));

    put("swapped-entries.bundle", splice(&[e1, e0]), fail(P::Entry));
    put("dropped-entry.bundle", splice(&[e0]), fail(P::Structure));
    put("duplicated-entry.bundle", splice(&[e0, e0]), fail(P::Entry));
    put(
        "entry-from-other-log.bundle",
        write(
            &full_header,
            &log_section(&cp2, 0, 2),
            &[carry(&e.casualty), carry(&e.foreign)],
        ),
        fail(P::Entry),
    );

    let mut other_signed = body.to_vec();
    other_signed.extend_from_slice(&end_section(
        digest.as_slice().try_into().unwrap(),
        &other_key(),
    ));
    put(
        "bad-end-signature.bundle",
        other_signed,
        fail(P::BundleSignature),
    );
    let mut wrong_digest: [u8; 32] = digest.as_slice().try_into().unwrap();
    wrong_digest[0] ^= 0x01;
    let mut bad_digest = body.to_vec();
    bad_digest.extend_from_slice(&end_section(&wrong_digest, &signing_key()));
    put("bad-digest.bundle", bad_digest, fail(P::BundleSignature));

    let mut proof = log2.inclusion(1, 2);
    proof[0].0[31] ^= 0x01;
    put(
        "bad-inclusion-proof.bundle",
        write(
            &filtered_header,
            &log_section(&cp2, 0, 1),
            &[Item::Entry(&e.missing, proof)],
        ),
        fail(P::Proof),
    );
    let mut consistency = log3.consistency(1, 3);
    consistency[1].0[31] ^= 0x01;
    put(
        "bad-consistency-proof.bundle",
        write(
            &since_header,
            &since_section(consistency),
            &[carry(&e.missing), carry(&e.third)],
        ),
        fail(P::Proof),
    );

    let log_internal = Tree::of(&[&e.internal, &e.missing]);
    put(
        "internal-record.bundle",
        write(
            &full_header,
            &log_section(&log_internal.checkpoint(2), 0, 2),
            &[carry(&e.internal), carry(&e.missing)],
        ),
        fail(P::Sensitivity),
    );
    put(
        "sensitive-without-flag.bundle",
        write(
            &full_header,
            &log_section(&cp_contact, 0, 2),
            &[carry(&e.casualty), carry(&e.missing_with_contact)],
        ),
        fail(P::Sensitivity),
    );

    let mut oversized = full.clone();
    oversized[e0.0 + 4..e0.0 + 8].copy_from_slice(&u32::MAX.to_be_bytes());
    put(
        "oversized-section-length.bundle",
        oversized,
        fail(P::Structure),
    );
    let head_end = common::bundle_sections(&full)[0].1;
    let mut unknown = body[..head_end].to_vec();
    unknown.extend_from_slice(b"NOTE\0\0\0\0");
    unknown.extend_from_slice(&body[head_end..]);
    put(
        "unknown-section-tag.bundle",
        reseal(&unknown),
        fail(P::Structure),
    );
    out
}

// ------------------------------------------------------------ the files

fn dir() -> PathBuf {
    PathBuf::from(DIR)
}

fn write_if_asked() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("SIJILL_WRITE_VECTORS").as_deref() == Ok("1") {
            std::fs::create_dir_all(dir()).unwrap();
            for v in vectors() {
                std::fs::write(dir().join(v.name), &v.bytes).unwrap();
            }
        }
    });
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn verify(bytes: &[u8]) -> Result<BundleReport, bundle::BundleError> {
    verify_with(bytes, &[])
}

fn verify_with(
    bytes: &[u8],
    cosigners: &[(String, VerifyingKey)],
) -> Result<BundleReport, bundle::BundleError> {
    bundle::verify(bytes, cosigners, &mut |_| {}, &mut |_| Ok(()))
}

/// The digest an END section states.
fn stated_digest(bundle: &[u8]) -> [u8; 32] {
    bundle[bundle.len() - 96..bundle.len() - 64]
        .try_into()
        .unwrap()
}

// ------------------------------------------------------------- the tests

#[test]
fn vectors_match_the_code_byte_for_byte() {
    write_if_asked();
    for v in vectors() {
        assert!(
            read(v.name) == v.bytes,
            "{} differs from what the code produces (SIJILL_WRITE_VECTORS=1 rewrites it)",
            v.name
        );
    }
}

#[test]
fn valid_bundles_verify() {
    write_if_asked();
    let e = entries();
    let cosigner = (
        sijill::exchange::cosigner_name(&other_key().verifying_key()),
        other_key().verifying_key(),
    );
    for v in vectors() {
        if v.expect != Expect::Ok || !v.name.ends_with(".bundle") {
            continue;
        }
        let bytes = read(v.name);
        let mut seen = Vec::new();
        let report = bundle::verify(
            &bytes[..],
            std::slice::from_ref(&cosigner),
            &mut |_| {},
            &mut |item| {
                match item {
                    Verified::Header(_) => seen.push("HEAD".to_string()),
                    Verified::Entry { seq, bytes, .. } => {
                        seen.push(format!("ENTR {seq} {}", hex::encode(leaf_hash(bytes).0)))
                    }
                    Verified::Withheld { seq, leaf, .. } => {
                        seen.push(format!("WHLD {seq} {}", hex::encode(leaf.0)))
                    }
                    Verified::File { digest, size } => {
                        seen.push(format!("FILE {} {size}", hex::encode(digest)))
                    }
                    Verified::FileData { bytes, .. } => {
                        seen.push(format!("DATA {}", String::from_utf8_lossy(bytes)))
                    }
                    Verified::FileEnd { digest, size } => {
                        seen.push(format!("FILE END {} {size}", hex::encode(digest)))
                    }
                }
                Ok(())
            },
        )
        .unwrap_or_else(|err| panic!("{}: {err}", v.name));
        assert_eq!(report.digest, stated_digest(&bytes), "{}", v.name);
        assert_eq!(report.bytes, bytes.len() as u64);
        assert_eq!(report.exporter, public_key());
        assert_eq!(report.header.created_at, CREATED_AT);
        assert_eq!(report.logs.len(), 1);
        let log = &report.logs[0];
        assert_eq!(log.key, public_key());
        let leaf = |s: &SignedEntry| hex::encode(leaf_hash(&s.bytes).0);
        let expected: Vec<String> = match v.name {
            "full.bundle" => vec![
                "HEAD".into(),
                format!("ENTR 0 {}", leaf(&e.casualty)),
                format!("ENTR 1 {}", leaf(&e.missing)),
            ],
            "filtered.bundle" => vec!["HEAD".into(), format!("ENTR 1 {}", leaf(&e.missing))],
            "since.bundle" => vec![
                "HEAD".into(),
                format!("ENTR 1 {}", leaf(&e.missing)),
                format!("ENTR 2 {}", leaf(&e.third)),
            ],
            "withheld.bundle" => vec![
                "HEAD".into(),
                format!("ENTR 0 {}", leaf(&e.casualty)),
                format!("WHLD 1 {}", leaf(&e.missing_with_contact)),
            ],
            "with-evidence.bundle" => {
                let digest = blake3::hash(EVIDENCE_CONTENT).to_hex();
                vec![
                    "HEAD".into(),
                    format!("ENTR 0 {}", leaf(&evidence_entry())),
                    format!("FILE {digest} 23"),
                    "DATA Sijill evidence vector\n".into(),
                    format!("FILE END {digest} 23"),
                ]
            }
            other => panic!("no expectation for {other}"),
        };
        assert_eq!(seen, expected, "{}", v.name);
        match v.name {
            "full.bundle" => {
                assert_eq!(report.header.scope, Scope::Full);
                let digest = String::from_utf8(read("full.digest.hex")).unwrap();
                assert_eq!(digest, format!("{}\n", hex::encode(report.digest)));
                // The casualty entry is the one of the entry vectors.
                let at = entr_sections(&bytes)[0].0 + 12;
                let casualty = std::fs::read(format!("{ENTRIES_DIR}casualty.entry.json")).unwrap();
                assert_eq!(&bytes[at..at + casualty.len()], &casualty[..]);
            }
            "filtered.bundle" => assert_eq!(report.header.scope, Scope::Filtered),
            "since.bundle" => {
                assert_eq!(report.header.scope, Scope::Since);
                assert_eq!(log.since.as_ref().unwrap().checkpoint.size, 1);
                assert_eq!(log.checkpoint.checkpoint.size, 3);
                assert_eq!(log.first, 1);
                assert_eq!(log.cosignatures.len(), 1);
                assert_eq!(log.cosignatures[0].timestamp, COSIGNED_AT);
                // Without the cosigner's key the cosignature is only a name.
                let plain = verify(&bytes).unwrap();
                assert!(plain.logs[0].cosignatures.is_empty());
                assert_eq!(plain.logs[0].unverified_signers, vec![cosigner.0.clone()]);
            }
            "with-evidence.bundle" => {
                assert_eq!((report.files, report.file_bytes), (1, 23));
                // The entry names the file the bundle carries.
                let entry = evidence_entry();
                let record = entry.entry.record_body().unwrap();
                let item = &record.person().evidence[0];
                assert_eq!(item.blake3, *blake3::hash(EVIDENCE_CONTENT).as_bytes());
                assert_eq!(item.size, 23);
            }
            "withheld.bundle" => {
                assert_eq!(log.withheld, 1);
                // The tree is the one of the entry vectors.
                let root = String::from_utf8(
                    std::fs::read(format!("{ENTRIES_DIR}merkle-root-2.hex")).unwrap(),
                )
                .unwrap();
                assert_eq!(log.checkpoint.checkpoint.root.to_hex(), root.trim_end());
            }
            _ => {}
        }
    }
}

#[test]
fn failing_bundles_are_refused_for_their_reason() {
    write_if_asked();
    for v in vectors() {
        let Expect::Fail(problem) = v.expect else {
            continue;
        };
        let bytes = read(v.name);
        match verify(&bytes) {
            Ok(_) => panic!("{} was accepted", v.name),
            Err(err) => assert_eq!(
                err.problem,
                problem,
                "{} was refused as {}, not {}: {err}",
                v.name,
                err.problem.as_str(),
                problem.as_str()
            ),
        }
    }
}

#[test]
fn format_md_states_the_bundle_digests() {
    write_if_asked();
    let mut expected = BTreeMap::new();
    for v in vectors() {
        if v.expect == Expect::Ok && v.name.ends_with(".bundle") {
            let name = if v.name == "full.bundle" {
                "full.digest.hex".to_string()
            } else {
                format!("{}.digest", v.name)
            };
            expected.insert(name, hex::encode(stated_digest(&read(v.name))));
        }
    }
    let stated = common::format_section_10_values(FORMAT_MD, &["- ", "* "]);
    let stated_digests: BTreeSet<&str> = stated
        .keys()
        .map(String::as_str)
        .filter(|name| name.contains(".digest"))
        .collect();
    assert_eq!(
        stated_digests,
        expected.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        "FORMAT.md §10 must state exactly these digests"
    );
    for (name, value) in &expected {
        assert_eq!(&stated[name], value, "FORMAT.md §10 value of {name}");
    }
}

#[test]
fn readme_lists_exactly_the_files_present() {
    write_if_asked();
    let rows = common::readme_rows(&dir());
    let present = common::files_present(&dir());
    let listed: BTreeSet<String> = rows.keys().cloned().collect();
    assert_eq!(listed, present, "README.md and the folder disagree");
    for v in vectors() {
        assert_eq!(
            rows.get(v.name).map(String::as_str),
            Some(v.expect.label()),
            "README expectation of {}",
            v.name
        );
    }
}
