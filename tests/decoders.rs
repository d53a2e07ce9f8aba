//! Property tests for every parser (issue 6): entries, canonical JSON,
//! segment framing, bundles, signed notes and checkpoints, key files and CSV.
//!
//! Each property decodes hostile input (random bytes, and valid input with
//! bytes flipped, inserted, deleted or cut) and must never panic; where the
//! format is canonical, whatever is accepted must encode back to exactly the
//! bytes that were read. Every property runs `SIJILL_PROPTEST_CASES` cases
//! (256 unless set); docs/RELIABILITY.md gives the totals of a real run.

#![allow(clippy::result_large_err)] // bundle errors carry their full location

use std::io::Write;

use proptest::prelude::*;
use serde_json::Value;
use time::OffsetDateTime;

use sijill::bundle::{self, BundleHeader, BundleWriter, LogSection, Scope, Verified};
use sijill::canonical::{parse_canonical, to_canonical_bytes, MAX_SAFE_INTEGER};
use sijill::csv_io::{self, Encoding, ImportOptions, Mapping};
use sijill::entry::{decode_entry, Entry, SignedEntry};
use sijill::exchange::parse_foreign_checkpoint;
use sijill::keys::{self, KdfParams, PublicKeyFile, SigningKey};
use sijill::merkle::{leaf_hash, Frontier, Hash};
use sijill::note::{Checkpoint, Note, SignedCheckpoint};
use sijill::record::{parse_record, Record, RecordKind};
use sijill::segment::{
    encode_frame, encode_withheld_frame, segment_header, ScanItem, SegmentReader,
    SEGMENT_HEADER_LEN,
};

fn cases() -> u32 {
    std::env::var("SIJILL_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        // Failures are replayed from the seed printed; no files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Strategies

fn today() -> time::Date {
    time::macros::date!(2026 - 01 - 01)
}

/// A name: Arabic letters, Latin letters and spaces.
fn name_text() -> impl Strategy<Value = String> {
    "[a-zA-Z\u{0621}-\u{063A}\u{0641}-\u{064A}][a-zA-Z\u{0621}-\u{063A}\u{0641}-\u{064A} '-]{0,30}"
}

/// A valid record, built as the JSON `sijill add` reads.
fn record() -> impl Strategy<Value = Record> {
    (
        name_text(),
        prop::option::of(name_text()),
        prop::sample::select(vec!["male", "female", "unknown"]),
        (1990i32..2025, prop::option::of(1u8..=12), 1u8..=28),
        prop::option::of(0u64..=100),
        prop::sample::select(vec!["Idlib", "Aleppo", "Rif Dimashq", "Homs", "Daraa"]),
        prop::bool::ANY,
    )
        .prop_filter_map(
            "the record validates",
            |(ar, latin, sex, (y, m, d), age, gov, missing)| {
                let date = match m {
                    Some(m) => format!("{y}-{m:02}-{d:02}"),
                    None => format!("{y}"),
                };
                let mut name = serde_json::json!({ "ar": ar });
                if let Some(l) = latin {
                    name["latin"] = Value::from(l);
                }
                let mut v = serde_json::json!({ "name": name, "sex": sex });
                if let Some(a) = age {
                    v["age"] = serde_json::json!({ "years": a });
                }
                let kind = if missing {
                    v["date_missing"] = Value::from(date);
                    v["last_seen"] = serde_json::json!({ "place": { "governorate": gov } });
                    RecordKind::Missing
                } else {
                    v["date_of_death"] = Value::from(date);
                    v["place_of_death"] = serde_json::json!({ "governorate": gov });
                    RecordKind::Casualty
                };
                parse_record(kind, v.to_string().as_bytes(), today()).ok()
            },
        )
}

fn key_from(seed: [u8; 32]) -> SigningKey {
    SigningKey::from_bytes(&seed)
}

fn recorded_at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

/// A signed entry of a random record, key, sequence number and time.
fn signed_entry() -> impl Strategy<Value = SignedEntry> {
    (
        record(),
        any::<[u8; 32]>(),
        0u64..=MAX_SAFE_INTEGER,
        0i64..4_000_000_000,
    )
        .prop_map(|(r, seed, seq, t)| {
            let key = key_from(seed);
            Entry::record(key.verifying_key(), seq, recorded_at(t), r)
                .sign(&key)
                .unwrap()
        })
}

/// Ways to damage bytes: flip, insert, delete, cut, overwrite a run.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Cut(usize),
    Overwrite(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<usize>().prop_map(Mutation::Delete),
        1 => any::<usize>().prop_map(Mutation::Cut),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Overwrite(i, b)),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..4)
}

fn apply(bytes: &[u8], ms: &[Mutation]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for m in ms {
        let n = out.len();
        match m {
            Mutation::Flip(i, b) if n > 0 => out[i % n] ^= b,
            Mutation::Insert(i, b) => out.insert(i % (n + 1), *b),
            Mutation::Delete(i) if n > 0 => {
                out.remove(i % n);
            }
            Mutation::Cut(i) => out.truncate(i % (n + 1)),
            Mutation::Overwrite(i, b) if n > 0 => {
                let at = i % n;
                for (j, x) in b.iter().enumerate() {
                    if let Some(slot) = out.get_mut(at + j) {
                        *slot = *x;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn json_value() -> impl Strategy<Value = Value> {
    use unicode_normalization::UnicodeNormalization;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(MAX_SAFE_INTEGER as i64)..=(MAX_SAFE_INTEGER as i64)).prop_map(Value::from),
        "\\PC{0,12}".prop_map(|s| Value::String(s.nfc().collect())),
        "[\"\\\\\u{0}-\u{1f}\u{7f}\u{2028}\u{fffd}]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.nfc().collect(), v)).collect())
            }),
        ]
    })
}

// ---------------------------------------------------------------------------
// Entries

proptest! {
    #![proptest_config(config())]

    /// A signed entry decodes, re-encodes to the same bytes, and verifies.
    #[test]
    fn entry_decode_then_encode_is_identity(s in signed_entry()) {
        let decoded = decode_entry(&s.bytes).unwrap();
        prop_assert_eq!(&decoded, &s.entry);
        prop_assert_eq!(decoded.to_bytes().unwrap(), s.bytes.clone());
        let again = SignedEntry::decode(&s.bytes, &s.signature.to_bytes()).unwrap();
        prop_assert_eq!(again.id, s.id);
    }

    /// Damaged entry bytes never panic; any that still decode re-encode to
    /// exactly themselves (one encoding per entry), and a signature over the
    /// original never covers them.
    #[test]
    fn entry_mutations_never_panic(s in signed_entry(), ms in mutations()) {
        let bad = apply(&s.bytes, &ms);
        if let Ok(e) = decode_entry(&bad) {
            prop_assert_eq!(e.to_bytes().unwrap(), bad.clone());
        }
        if bad != s.bytes {
            prop_assert!(SignedEntry::decode(&bad, &s.signature.to_bytes()).is_err());
        }
    }

    /// Arbitrary bytes, and arbitrary JSON, never panic the entry decoder.
    #[test]
    fn entry_arbitrary_input_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        v in json_value(),
    ) {
        let _ = decode_entry(&bytes);
        if let Ok(b) = to_canonical_bytes(&v) {
            if let Ok(e) = decode_entry(&b) {
                prop_assert_eq!(e.to_bytes().unwrap(), b);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Canonical JSON

proptest! {
    #![proptest_config(config())]

    #[test]
    fn canonical_decode_then_encode_is_identity(v in json_value()) {
        if let Ok(bytes) = to_canonical_bytes(&v) {
            let parsed = parse_canonical(&bytes).unwrap();
            prop_assert_eq!(&parsed, &v);
            prop_assert_eq!(to_canonical_bytes(&parsed).unwrap(), bytes);
        }
    }

    /// Damaged canonical bytes never panic; accepted ones are canonical.
    #[test]
    fn canonical_mutations_never_panic(v in json_value(), ms in mutations()) {
        if let Ok(bytes) = to_canonical_bytes(&v) {
            let bad = apply(&bytes, &ms);
            if let Ok(parsed) = parse_canonical(&bad) {
                prop_assert_eq!(to_canonical_bytes(&parsed).unwrap(), bad);
            }
        }
    }

    #[test]
    fn canonical_arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        text in "[\\[\\]{}\",:0-9eE.+\\-a-z\\\\ ]{0,64}",
    ) {
        for input in [&bytes[..], text.as_bytes()] {
            if let Ok(parsed) = parse_canonical(input) {
                prop_assert_eq!(to_canonical_bytes(&parsed).unwrap(), input.to_vec());
            }
        }
    }
}

/// Deep nesting is refused, not a stack overflow.
#[test]
fn canonical_deep_nesting_is_refused() {
    for depth in [1_000usize, 100_000] {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse_canonical(text.as_bytes()).is_err(), "depth {depth}");
        let text = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        assert!(decode_entry(text.as_bytes()).is_err(), "depth {depth}");
    }
}

// ---------------------------------------------------------------------------
// Segment framing

#[derive(Clone, Debug)]
enum Piece {
    Frame(Vec<u8>, [u8; 64]),
    Withheld(u64, [u8; 32]),
    Garbage(Vec<u8>),
    Zeros(usize),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        6 => (prop::collection::vec(any::<u8>(), 1..300), any::<[u8; 32]>(), any::<[u8; 32]>())
            .prop_map(|(e, a, b)| {
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&a);
                sig[32..].copy_from_slice(&b);
                Piece::Frame(e, sig)
            }),
        1 => (any::<u64>(), any::<[u8; 32]>()).prop_map(|(s, l)| Piece::Withheld(s, l)),
        1 => prop::collection::vec(any::<u8>(), 1..64).prop_map(Piece::Garbage),
        1 => (1usize..200).prop_map(Piece::Zeros),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Any file after a valid header: reading never fails or panics, the
    /// items tile the file from the header to the end, each frame is exactly
    /// the bytes at its offset, and the intact frames before the first damage
    /// are all returned.
    #[test]
    fn segment_reader_tiles_any_file(
        pieces in prop::collection::vec(piece(), 0..12),
        cut in prop::option::of(any::<usize>()),
        flips in prop::collection::vec((any::<usize>(), 1u8..=255), 0..3),
    ) {
        let mut bytes = segment_header(&[7u8; 32]);
        let mut intact_prefix = 0usize;
        let mut damaged = false;
        for p in &pieces {
            let b = match p {
                Piece::Frame(e, s) => encode_frame(e, s),
                Piece::Withheld(seq, leaf) => encode_withheld_frame(*seq, leaf),
                Piece::Garbage(g) => { damaged = true; g.clone() }
                Piece::Zeros(n) => { damaged = true; vec![0u8; *n] }
            };
            if !damaged {
                intact_prefix += 1;
            }
            bytes.extend_from_slice(&b);
        }
        let mut changed = false;
        for (i, x) in &flips {
            let body = bytes.len() - SEGMENT_HEADER_LEN as usize;
            if body > 0 {
                bytes[SEGMENT_HEADER_LEN as usize + i % body] ^= x;
                changed = true;
            }
        }
        if let Some(c) = cut {
            let body = bytes.len() - SEGMENT_HEADER_LEN as usize;
            bytes.truncate(SEGMENT_HEADER_LEN as usize + c % (body + 1));
            changed = true;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.seg");
        std::fs::write(&path, &bytes).unwrap();
        let reader = SegmentReader::open(&path).unwrap();
        let mut at = SEGMENT_HEADER_LEN;
        let mut frames = 0usize;
        let mut clean_run = true;
        for item in reader {
            let item = item.unwrap();
            let (offset, len) = match &item {
                ScanItem::Frame { offset, entry, signature } => {
                    let f = encode_frame(entry, signature);
                    prop_assert_eq!(&bytes[*offset as usize..*offset as usize + f.len()], &f[..]);
                    (*offset, f.len() as u64)
                }
                ScanItem::Withheld { offset, seq, leaf } => {
                    let f = encode_withheld_frame(*seq, leaf);
                    prop_assert_eq!(&bytes[*offset as usize..*offset as usize + f.len()], &f[..]);
                    (*offset, f.len() as u64)
                }
                ScanItem::Corrupt { offset, len } | ScanItem::Torn { offset, len } => {
                    clean_run = false;
                    (*offset, *len)
                }
            };
            prop_assert_eq!(offset, at, "items must tile the file");
            prop_assert!(len > 0);
            at = offset + len;
            if clean_run {
                frames += 1;
            }
        }
        prop_assert_eq!(at, bytes.len() as u64);
        if !changed {
            prop_assert!(frames >= intact_prefix);
        }
    }

    /// Random bytes as a whole file: a bad header is an error, never a panic.
    #[test]
    fn segment_reader_random_files(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.seg");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(reader) = SegmentReader::open(&path) {
            for item in reader {
                item.unwrap();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Bundles

/// A full bundle of `records` signed by `seed`'s key, built in memory.
fn make_bundle(seed: [u8; 32], records: &[Record], created: i64) -> Vec<u8> {
    let key = key_from(seed);
    let now = recorded_at(created);
    let mut frontier = Frontier::new();
    let signed: Vec<SignedEntry> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let s = Entry::record(key.verifying_key(), i as u64, now, r.clone())
                .sign(&key)
                .unwrap();
            frontier.push(leaf_hash(&s.bytes));
            s
        })
        .collect();
    let checkpoint = SignedCheckpoint::sign(signed.len() as u64, frontier.root(), &key);
    let header = BundleHeader {
        v: 1,
        created_at: sijill::entry::format_timestamp(now),
        exporter: hex::encode(key.verifying_key().as_bytes()),
        organisation: "Property Group".into(),
        scope: Scope::Full,
        filter: Default::default(),
        include_sensitive: false,
        logs: 1,
    };
    let mut w = BundleWriter::new(Vec::new(), &header).unwrap();
    w.log(&LogSection {
        log: hex::encode(key.verifying_key().as_bytes()),
        checkpoint: checkpoint.to_text(),
        first: 0,
        count: signed.len() as u64,
        since: None,
    })
    .unwrap();
    for s in &signed {
        w.entry(&s.bytes, &s.signature, &[]).unwrap();
    }
    w.finish(&key).unwrap().0
}

fn verify(bytes: &[u8]) -> Result<bundle::BundleReport, bundle::BundleError> {
    bundle::verify(bytes, &[], &mut |_| {}, &mut |_| Ok(()))
}

fn bundle_input() -> impl Strategy<Value = ([u8; 32], Vec<Record>, i64)> {
    (
        any::<[u8; 32]>(),
        prop::collection::vec(record(), 0..5),
        0i64..4_000_000_000,
    )
}

proptest! {
    #![proptest_config(config())]

    /// A bundle verifies, and the items it hands on rebuild the same bytes.
    #[test]
    fn bundle_decode_then_encode_is_identity((seed, records, t) in bundle_input()) {
        let bytes = make_bundle(seed, &records, t);
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let report = bundle::verify(&bytes[..], &[], &mut |_| {}, &mut |item| {
            if let Verified::Entry { bytes, .. } = item {
                entries.push(bytes.to_vec());
            }
            Ok(())
        })
        .unwrap();
        prop_assert_eq!(report.bytes, bytes.len() as u64);
        let decoded: Vec<Record> = entries
            .iter()
            .map(|e| decode_entry(e).unwrap().record_body().unwrap().clone())
            .collect();
        prop_assert_eq!(make_bundle(seed, &decoded, t), bytes);
    }

    /// Damaged bundles never panic and are never accepted.
    #[test]
    fn bundle_mutations_are_refused((seed, records, t) in bundle_input(), ms in mutations()) {
        let bytes = make_bundle(seed, &records, t);
        let bad = apply(&bytes, &ms);
        let result = verify(&bad);
        prop_assert!(result.is_err() || bad == bytes, "a damaged bundle was accepted");
        if let Err(e) = result {
            // Located: a section, or (for a cut or trailing bytes, found
            // between sections) the exact byte.
            prop_assert!(
                e.section.is_some()
                    || e.offset == 0
                    || matches!(e.problem, bundle::BundleProblem::Truncated | bundle::BundleProblem::TrailingBytes),
                "{}", e
            );
        }
    }

    #[test]
    fn bundle_arbitrary_bytes_never_panic(tail in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = bundle::BUNDLE_MAGIC.to_vec();
        bytes.extend_from_slice(&tail);
        prop_assert!(verify(&bytes).is_err());
        prop_assert!(verify(&tail).is_err());
    }
}

// ---------------------------------------------------------------------------
// Signed notes and checkpoints

fn checkpoint_note() -> impl Strategy<Value = (SignedCheckpoint, Option<[u8; 32]>)> {
    (
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        prop::option::of((any::<[u8; 32]>(), 0u64..=i64::MAX as u64)),
    )
        .prop_map(|(seed, size, root, cosigner)| {
            let mut cp = SignedCheckpoint::sign(size, Hash(root), &key_from(seed));
            if let Some((c, ts)) = cosigner {
                let ck = key_from(c);
                cp.cosign(
                    &sijill::exchange::cosigner_name(&ck.verifying_key()),
                    &ck,
                    ts,
                );
            }
            (cp, cosigner.map(|(c, _)| c))
        })
}

proptest! {
    #![proptest_config(config())]

    /// Note, checkpoint body and a Sijill checkpoint parse back to the bytes
    /// they came from; a cosignature verifies.
    #[test]
    fn checkpoint_decode_then_encode_is_identity((cp, cosigner) in checkpoint_note()) {
        let text = cp.to_text();
        let note = Note::parse(text.as_bytes()).unwrap();
        prop_assert_eq!(note.to_text(), text.clone());
        let body = Checkpoint::parse_body(&note.text).unwrap();
        prop_assert_eq!(body.body(), note.text.clone());
        let (key, parsed) = parse_foreign_checkpoint(text.as_bytes()).unwrap();
        prop_assert_eq!(parsed.to_text(), text);
        if let Some(c) = cosigner {
            let ck = key_from(c).verifying_key();
            let name = sijill::exchange::cosigner_name(&ck);
            prop_assert_eq!(parsed.cosignatures(&[(name, ck)]).len(), 1);
        }
        prop_assert_eq!(key, parsed.note.signatures.first().map(|_| key).unwrap());
    }

    /// Damaged notes never panic; an accepted note or body is canonical, and
    /// a changed checkpoint never passes the log's signature.
    #[test]
    fn checkpoint_mutations_never_panic((cp, _) in checkpoint_note(), ms in mutations()) {
        let text = cp.to_text();
        let bad = apply(text.as_bytes(), &ms);
        if let Ok(note) = Note::parse(&bad) {
            prop_assert_eq!(note.to_text().into_bytes(), bad.clone());
            if let Ok(body) = Checkpoint::parse_body(&note.text) {
                prop_assert_eq!(body.body(), note.text.clone());
            }
        }
        if let Ok((_, parsed)) = parse_foreign_checkpoint(&bad) {
            prop_assert_eq!(parsed.checkpoint, cp.checkpoint.clone());
        }
    }

    #[test]
    fn note_arbitrary_text_never_panics(
        text in "[a-z0-9/+=.\n \u{2014}]{0,200}",
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        for input in [text.as_bytes(), &bytes[..]] {
            if let Ok(n) = Note::parse(input) {
                prop_assert_eq!(n.to_text().into_bytes(), input.to_vec());
            }
            if let Ok(s) = std::str::from_utf8(input) {
                let _ = Checkpoint::parse_body(s);
            }
            let _ = parse_foreign_checkpoint(input);
        }
    }
}

// ---------------------------------------------------------------------------
// Key files

fn label() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[a-zA-Z\u{0621}-\u{064A} .,()-]{1,40}")
}

proptest! {
    #![proptest_config(config())]

    /// A public key file parses back to the text it was written as.
    #[test]
    fn public_key_file_decode_then_encode_is_identity(
        seed in any::<[u8; 32]>(),
        org in label(),
        created in prop::option::of(0i64..253_402_300_799),
    ) {
        let file = PublicKeyFile {
            key: key_from(seed).verifying_key(),
            organisation: org,
            created: created.map(recorded_at),
        };
        let text = file.to_text();
        let parsed = PublicKeyFile::parse(&text).unwrap();
        prop_assert_eq!(parsed.key, file.key);
        prop_assert_eq!(parsed.to_text(), text);
    }

    #[test]
    fn public_key_file_mutations_never_panic(seed in any::<[u8; 32]>(), org in label(), ms in mutations()) {
        let text = PublicKeyFile { key: key_from(seed).verifying_key(), organisation: org, created: None }.to_text();
        let bad = apply(text.as_bytes(), &ms);
        if let Ok(s) = std::str::from_utf8(&bad) {
            if let Ok(p) = PublicKeyFile::parse(s) {
                // Comments may change. The key line may change only where
                // the key id comment that would have caught it is gone too
                // (it is informative; the key id is checked out of band).
                let key = key_from(seed).verifying_key();
                if p.key != key {
                    let comment = format!("# key id: {}", keys::key_id(&key));
                    prop_assert!(!s.lines().any(|l| l.trim() == comment), "{}", s);
                }
            }
        }
    }

    /// An unencrypted secret key file opens to its key; damaged ones never
    /// panic and never open to another key.
    #[test]
    fn secret_key_file_mutations_never_panic(seed in any::<[u8; 32]>(), org in "[a-zA-Z ]{1,20}", ms in mutations()) {
        let key = key_from(seed);
        let text = keys::seal_secret_key(&key, &org, recorded_at(1_700_000_000), None).unwrap();
        prop_assert_eq!(keys::open_secret_key(&text, None).unwrap().to_bytes(), seed);
        let bad = apply(text.as_bytes(), &ms);
        if let Ok(s) = std::str::from_utf8(&bad) {
            if let Ok(k) = keys::open_secret_key(s, Some(b"x")) {
                prop_assert_eq!(k.to_bytes(), seed);
            }
        }
    }
}

proptest! {
    // Each case runs Argon2id (8 MiB, 1 pass): a quarter of the cases.
    #![proptest_config(ProptestConfig { cases: cases().div_ceil(4), ..config() })]

    #[test]
    fn sealed_secret_key_file_mutations_never_panic(seed in any::<[u8; 32]>(), ms in mutations()) {
        let key = key_from(seed);
        let params = KdfParams { m_kib: KdfParams::MIN_M_KIB, t: 1, p: 1 };
        let text = keys::seal_secret_key_with_params(&key, "G", recorded_at(1_700_000_000), b"pass", params).unwrap();
        let bad = apply(text.as_bytes(), &ms);
        if let Ok(s) = std::str::from_utf8(&bad) {
            if let Ok(k) = keys::open_secret_key(s, Some(b"pass")) {
                prop_assert_eq!(k.to_bytes(), seed);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// CSV

fn plan(text: &str) -> Result<csv_io::ImportPlan, csv_io::CsvError> {
    let mapping = Mapping::default();
    csv_io::plan_import(
        text,
        &ImportOptions {
            kind: Some(RecordKind::Casualty),
            mapping: &mapping,
            today: today(),
        },
    )
}

const HEADERS: &[&str] = &[
    "name",
    "name_ar",
    "name_latin",
    "sex",
    "age",
    "date_of_death",
    "governorate",
    "cause",
    "الاسم",
    "",
];

proptest! {
    #![proptest_config(config())]

    /// Any bytes in any encoding: decoding and planning never panic.
    #[test]
    fn csv_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        for enc in [Encoding::Auto, Encoding::Utf8, Encoding::Utf16, Encoding::Windows1256] {
            if let Ok((text, _)) = csv_io::decode(&bytes, enc) {
                let _ = plan(&text);
            }
        }
    }

    /// Known headers with random cells (quotes, separators, Arabic, line
    /// breaks): never a panic, and every accepted row is a valid record.
    #[test]
    fn csv_rows_never_panic(
        headers in prop::collection::vec(prop::sample::select(HEADERS.to_vec()), 1..6),
        rows in prop::collection::vec(prop::collection::vec("[a-zA-Z0-9\u{0621}-\u{064A} ,;\"\r\n/.-]{0,16}", 0..7), 0..5),
        delimiter in prop::sample::select(vec![",", ";", "\t"]),
    ) {
        let mut text = headers.join(delimiter);
        text.push('\n');
        for r in &rows {
            text.push_str(&r.join(delimiter));
            text.push('\n');
        }
        if let Ok(p) = plan(&text) {
            for a in &p.accepted {
                let body = a.record.to_body();
                prop_assert!(Record::from_body(a.record.kind(), &body).is_ok());
            }
        }
    }

    /// A record exported as a CSV row imports back to the same content.
    #[test]
    fn csv_export_then_import_keeps_the_record(s in signed_entry()) {
        let r = s.entry.record_body().unwrap();
        let options = csv_io::ExportOptions { include_sensitive: true };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(csv_io::export_header(options)).unwrap();
        w.write_record(csv_io::export_row(&s, r, options)).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let mapping = Mapping::default();
        let p = csv_io::plan_import(&text, &ImportOptions { kind: None, mapping: &mapping, today: today() })
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(p.rejects.is_empty(), "{:?}\n{}", p.rejects, text);
        prop_assert_eq!(p.accepted.len(), 1);
        prop_assert_eq!(p.accepted[0].hash, sijill::search::content_hash(r), "{}", text);
    }
}

/// The number of cases each run makes, for docs/RELIABILITY.md.
#[test]
fn print_case_counts() {
    let properties = 21u32; // the proptest! properties above
    let sealed = cases().div_ceil(4);
    let total = (properties - 1) * cases() + sealed;
    let mut out = std::io::stderr();
    let _ = writeln!(
        out,
        "decoders: {properties} properties, {} cases each ({sealed} for the sealed key file): {total} cases",
        cases()
    );
}
