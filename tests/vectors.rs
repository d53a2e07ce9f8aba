//! Known-answer vectors for entries, frames, segments and the Merkle root
//! (fixtures/vectors/entries/, docs/FORMAT.md §10).
//!
//! Every file is rebuilt here from fixed inputs and must match the stored file
//! byte for byte, so the vectors cannot drift from the code unnoticed. Then each
//! failing vector is checked to be refused for its stated reason, the hex values
//! that FORMAT.md §10 writes out are compared with the files, and the folder's
//! README is checked to list exactly the files present, each with the expected
//! result this test checks.
//!
//! `SIJILL_WRITE_VECTORS=1 cargo test --test vectors` rewrites the files
//! (review the diff: a change in a valid vector is a format change).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Once;

use ed25519_dalek::{Signer, Verifier};
use serde_json::{json, Value};
use sha2::{Digest, Sha512};
use sijill::canonical::{parse_canonical, to_canonical_bytes, CanonicalError};
use sijill::entry::{decode_entry, signature_message, Entry, EntryError, EntryId, SignedEntry};
use sijill::keys::{key_id, SigningKey, VerifyingKey};
use sijill::merkle::{empty_root, leaf_hash, Frontier};
use sijill::record::{parse_record, RecordKind};
use sijill::segment::{
    encode_frame, segment_header, ScanItem, SegmentError, SegmentReader, FRAME_HEADER_LEN,
    SEGMENT_HEADER_LEN,
};
use sijill::store::check_frame;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors/entries/");
const FORMAT_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md");
const CASUALTY_JSON: &[u8] = include_bytes!("../fixtures/records/casualty.json");
const MISSING_JSON: &[u8] = include_bytes!("../fixtures/records/missing.json");

// ---------------------------------------------------------------- inputs

/// The vector seed: bytes 0x01, 0x02, ..., 0x20 (as fixtures/vectors/keys/seed.hex).
fn seed() -> [u8; 32] {
    std::array::from_fn(|i| i as u8 + 1)
}
fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&seed())
}
fn public_key() -> VerifyingKey {
    signing_key().verifying_key()
}
/// A second key (seed of 32 bytes 0x42), used only to build failing vectors.
fn other_key() -> SigningKey {
    SigningKey::from_bytes(&[0x42; 32])
}
fn recorded_at() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-01 12:00:00 UTC)
}
fn today() -> time::Date {
    time::macros::date!(2026 - 11 - 02)
}

/// The two valid entries: the casualty record at seq 0, the missing record at seq 1.
fn good_entries() -> [SignedEntry; 2] {
    let casualty = parse_record(RecordKind::Casualty, CASUALTY_JSON, today()).unwrap();
    let missing = parse_record(RecordKind::Missing, MISSING_JSON, today()).unwrap();
    let key = signing_key();
    [
        Entry::record(public_key(), 0, recorded_at(), casualty)
            .sign(&key)
            .unwrap(),
        Entry::record(public_key(), 1, recorded_at(), missing)
            .sign(&key)
            .unwrap(),
    ]
}

fn frame_of(entry: &SignedEntry) -> Vec<u8> {
    encode_frame(&entry.bytes, &entry.signature.to_bytes())
}

fn segment(header_key: &[u8; 32], entries: &[&SignedEntry]) -> Vec<u8> {
    let mut out = segment_header(header_key);
    for e in entries {
        out.extend_from_slice(&frame_of(e));
    }
    out
}

fn sign_raw(key: &SigningKey, entry_bytes: &[u8]) -> [u8; 64] {
    key.sign(&signature_message(entry_bytes)).to_bytes()
}

fn hex_line(bytes: &[u8]) -> Vec<u8> {
    format!("{}\n", hex::encode(bytes)).into_bytes()
}

/// `text` with the first occurrence of `from` replaced; the edit must apply.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not found");
    text.replacen(from, to, 1)
}

// ------------------------------------------------- scalar arithmetic mod L

/// The order of the Ed25519 base point, little-endian 64-bit limbs.
const L: [u64; 4] = [
    0x5812_631a_5cf5_d3ed,
    0x14de_f9de_a2f7_9cd6,
    0,
    0x1000_0000_0000_0000,
];

fn ge(a: &[u64; 4], b: &[u64; 4]) -> bool {
    for i in (0..4).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

fn add(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut out = [0u64; 4];
    let mut carry = 0u128;
    for i in 0..4 {
        let s = a[i] as u128 + b[i] as u128 + carry;
        out[i] = s as u64;
        carry = s >> 64;
    }
    assert_eq!(carry, 0);
    out
}

fn sub(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut out = [0u64; 4];
    let mut borrow = 0i128;
    for i in 0..4 {
        let d = a[i] as i128 - b[i] as i128 - borrow;
        out[i] = d as u64;
        borrow = i128::from(d < 0);
    }
    out
}

/// (a + b) mod L for a, b < L.
fn add_mod(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let s = add(a, b);
    if ge(&s, &L) {
        sub(&s, &L)
    } else {
        s
    }
}

/// A little-endian integer of any length, reduced mod L.
fn reduce(le_bytes: &[u8]) -> [u64; 4] {
    let mut r = [0u64; 4];
    for byte in le_bytes.iter().rev() {
        for bit in (0..8).rev() {
            r = add_mod(&r, &r);
            if byte >> bit & 1 == 1 {
                r = add_mod(&r, &[1, 0, 0, 0]);
            }
        }
    }
    r
}

/// (a * b) mod L for a < 2^256 (little-endian bytes) and b < L.
fn mul_mod(a_le: &[u8; 32], b: &[u64; 4]) -> [u64; 4] {
    let mut r = [0u64; 4];
    for byte in a_le.iter().rev() {
        for bit in (0..8).rev() {
            r = add_mod(&r, &r);
            if byte >> bit & 1 == 1 {
                r = add_mod(&r, b);
            }
        }
    }
    r
}

fn limbs_to_le(x: &[u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for i in 0..4 {
        out[i * 8..i * 8 + 8].copy_from_slice(&x[i].to_le_bytes());
    }
    out
}

fn le_to_limbs(b: &[u8; 32]) -> [u64; 4] {
    std::array::from_fn(|i| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap()))
}

/// A signature by the vector key whose R is the identity point (small order):
/// S = k * a mod L with k = SHA-512(R || A || M) mod L. The cofactorless
/// equation [S]B = R + [k]A holds, so plain verification accepts it; strict
/// verification must refuse it because R has small order.
fn small_order_r_signature(entry_bytes: &[u8]) -> [u8; 64] {
    let mut r = [0u8; 32];
    r[0] = 1; // the identity point (0, 1)
    let expanded = Sha512::digest(seed());
    let mut a: [u8; 32] = expanded[..32].try_into().unwrap();
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    let mut h = Sha512::new();
    h.update(r);
    h.update(public_key().as_bytes());
    h.update(signature_message(entry_bytes));
    let k = reduce(&h.finalize());
    let s = limbs_to_le(&mul_mod(&a, &k));
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r);
    sig[32..].copy_from_slice(&s);
    sig
}

/// The same signature with S replaced by S + L: the same value mod L, but not
/// the canonical encoding of S.
fn unreduced_s(sig: &[u8; 64]) -> [u8; 64] {
    let s: [u8; 32] = sig[32..].try_into().unwrap();
    let mut out = *sig;
    out[32..].copy_from_slice(&limbs_to_le(&add(&le_to_limbs(&s), &L)));
    out
}

// ------------------------------------------------------------- expectations

/// What a reader must conclude from a vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Valid: decodes and verifies (or, for a segment, every frame does).
    Ok,
    /// `EntryError::Canonical(CanonicalError::NotCanonical)`.
    NotCanonical,
    /// `EntryError::Canonical(CanonicalError::NotAnInteger)`.
    NotAnInteger,
    /// `EntryError::Canonical(CanonicalError::NotNfc)`.
    NotNfc,
    /// `EntryError::Field` naming this field (`$` for the entry object).
    Field(&'static str),
    UnsupportedVersion,
    /// `EntryError::Body`: the body breaks docs/SCHEMA.md.
    Body,
    BadSignature,
    /// Segment: intact frames, then a torn tail.
    TornTail,
    /// Segment: damage (a `Corrupt` item), then reading resumes.
    Corrupt,
    /// Segment: the file header is not a segment header.
    BadHeader,
    /// Segment: an entry names another log than the segment's header.
    LogMismatch,
    /// Segment: a frame's seq is not its position.
    Sequence,
}

impl Expect {
    fn label(self) -> String {
        match self {
            Expect::Ok => "ok".into(),
            Expect::NotCanonical => "Canonical(NotCanonical)".into(),
            Expect::NotAnInteger => "Canonical(NotAnInteger)".into(),
            Expect::NotNfc => "Canonical(NotNfc)".into(),
            Expect::Field(f) => format!("Field({f})"),
            Expect::UnsupportedVersion => "UnsupportedVersion".into(),
            Expect::Body => "Body".into(),
            Expect::BadSignature => "BadSignature".into(),
            Expect::TornTail => "torn-tail".into(),
            Expect::Corrupt => "corrupt".into(),
            Expect::BadHeader => "bad-header".into(),
            Expect::LogMismatch => "log-mismatch".into(),
            Expect::Sequence => "sequence".into(),
        }
    }
}

struct Vector {
    name: String,
    bytes: Vec<u8>,
    expect: Expect,
}

/// Every file of fixtures/vectors/entries/ except README.md, as this code
/// produces it, with what a reader must conclude.
fn vectors() -> Vec<Vector> {
    let [cas, mis] = good_entries();
    let key = signing_key();
    let pk = *public_key().as_bytes();
    let mut v = Vec::new();
    let mut file = |name: &str, bytes: Vec<u8>, expect: Expect| {
        v.push(Vector {
            name: name.to_string(),
            bytes,
            expect,
        })
    };

    // Valid vectors.
    for (name, e) in [("casualty", &cas), ("missing", &mis)] {
        file(&format!("{name}.entry.json"), e.bytes.clone(), Expect::Ok);
        file(&format!("{name}.id.hex"), hex_line(&e.id.0), Expect::Ok);
        file(
            &format!("{name}.sig.hex"),
            hex_line(&e.signature.to_bytes()),
            Expect::Ok,
        );
    }
    let log = segment(&pk, &[&cas, &mis]);
    file("log.seg", log.clone(), Expect::Ok);
    let mut frontier = Frontier::new();
    frontier.push(leaf_hash(&cas.bytes));
    frontier.push(leaf_hash(&mis.bytes));
    file(
        "merkle-root-2.hex",
        hex_line(&frontier.root().0),
        Expect::Ok,
    );

    // Entries that must be refused: each is the casualty entry with one thing
    // wrong, signed by the vector key unless the signature is the point.
    let text = String::from_utf8(cas.bytes.clone()).unwrap();
    let value = parse_canonical(&cas.bytes).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| -> Vec<u8> {
        let mut v = value.clone();
        f(v.as_object_mut().unwrap());
        to_canonical_bytes(&v).unwrap()
    };
    let mut pair = |name: &str, bytes: Vec<u8>, sig: [u8; 64], expect: Expect| {
        file(&format!("{name}.entry.json"), bytes, expect);
        file(&format!("{name}.sig.hex"), hex_line(&sig), expect);
    };
    let mut signed = |name: &str, bytes: Vec<u8>, expect: Expect| {
        let sig = sign_raw(&key, &bytes);
        pair(name, bytes, sig, expect);
    };

    assert!(text.starts_with("{\"body\":") && text.ends_with(",\"v\":1}"));
    signed(
        "not-canonical-whitespace",
        replace_once(&text, "{\"body\":", "{\"body\": ").into(),
        Expect::NotCanonical,
    );
    signed(
        "not-canonical-key-order",
        format!("{{\"v\":1,{}}}", &text[1..text.len() - ",\"v\":1}".len()]).into(),
        Expect::NotCanonical,
    );
    signed(
        "not-canonical-escape",
        replace_once(&text, "\"sex\":\"male\"", "\"sex\":\"m\\u0061le\"").into(),
        Expect::NotCanonical,
    );
    signed(
        "duplicate-key",
        replace_once(&text, "\"seq\":0,", "\"seq\":0,\"seq\":0,").into(),
        Expect::NotCanonical,
    );
    signed(
        "float-number",
        replace_once(&text, "\"seq\":0,", "\"seq\":0.5,").into(),
        Expect::NotAnInteger,
    );
    signed(
        "integer-too-large",
        replace_once(&text, "\"seq\":0,", "\"seq\":9007199254740992,").into(),
        Expect::NotAnInteger,
    );
    signed(
        "non-nfc-string",
        // U+0623 (alef with hamza above) decomposed to U+0627 U+0654.
        replace_once(&text, "\u{623}", "\u{627}\u{654}").into(),
        Expect::NotNfc,
    );
    signed(
        "unknown-field",
        edit(&|m| {
            m.insert("note".into(), json!("x"));
        }),
        Expect::Field("$"),
    );
    signed(
        "missing-field",
        edit(&|m| {
            m.remove("seq");
        }),
        Expect::Field("seq"),
    );
    signed(
        "wrong-version",
        edit(&|m| {
            m.insert("v".into(), json!(2));
        }),
        Expect::UnsupportedVersion,
    );
    signed(
        "uppercase-log-hex",
        edit(&|m| {
            m.insert("log".into(), json!(hex::encode_upper(pk)));
        }),
        Expect::Field("log"),
    );
    signed(
        "weak-log-key",
        // The identity point (0, 1): small order.
        edit(&|m| {
            let mut identity = [0u8; 32];
            identity[0] = 1;
            m.insert("log".into(), json!(hex::encode(identity)));
        }),
        Expect::Field("log"),
    );
    signed(
        "non-canonical-log-key",
        // y = p + 3 = 2^255 - 16, sign bit clear: decodes to a point of large
        // order, but is not that point's canonical encoding.
        edit(&|m| {
            let mut y = [0xffu8; 32];
            y[0] = 0xf0;
            y[31] = 0x7f;
            m.insert("log".into(), json!(hex::encode(y)));
        }),
        Expect::Field("log"),
    );
    signed(
        "wrong-log-key",
        edit(&|m| {
            let other = other_key().verifying_key();
            m.insert("log".into(), json!(hex::encode(other.as_bytes())));
        }),
        Expect::BadSignature,
    );
    signed(
        "negative-seq",
        edit(&|m| {
            m.insert("seq".into(), json!(-1));
        }),
        Expect::Field("seq"),
    );
    signed(
        "timestamp-with-fraction",
        edit(&|m| {
            m.insert("recorded_at".into(), json!("2026-11-01T12:00:00.000Z"));
        }),
        Expect::Field("recorded_at"),
    );
    signed(
        "timestamp-with-offset",
        edit(&|m| {
            m.insert("recorded_at".into(), json!("2026-11-01T12:00:00+00:00"));
        }),
        Expect::Field("recorded_at"),
    );
    signed(
        "key-certify-empty-body",
        edit(&|m| {
            m.insert("kind".into(), json!("key-certify"));
            m.insert("body".into(), json!({}));
        }),
        Expect::Body,
    );
    signed(
        "unknown-kind",
        edit(&|m| {
            m.insert("kind".into(), json!("obituary"));
        }),
        Expect::Field("kind"),
    );
    signed(
        "kind-body-mismatch",
        edit(&|m| {
            m.insert("kind".into(), json!("missing"));
        }),
        Expect::Body,
    );
    signed(
        "body-not-normalised",
        edit(&|m| {
            m["body"]["date_of_death"] = json!({"date": "2018-01-25"});
        }),
        Expect::Field("body"),
    );
    signed(
        "body-invalid",
        edit(&|m| {
            m["body"]["cause"] = json!("bombing");
        }),
        Expect::Body,
    );
    // A record body with `evidence` (SCHEMA.md §2.4, FORMAT.md §10.7).
    let item = evidence_vector_item();
    signed(
        "casualty-evidence",
        edit(&|m| {
            m["body"]["evidence"] = json!([item.clone()]);
        }),
        Expect::Ok,
    );
    signed(
        "evidence-uppercase-digest",
        edit(&|m| {
            let mut bad = item.clone();
            bad["blake3"] = json!(bad["blake3"].as_str().unwrap().to_uppercase());
            m["body"]["evidence"] = json!([bad]);
        }),
        Expect::Body,
    );
    signed(
        "evidence-media-type-not-normalised",
        edit(&|m| {
            let mut bad = item.clone();
            bad["media_type"] = json!("Image/JPEG");
            m["body"]["evidence"] = json!([bad]);
        }),
        Expect::Field("body"),
    );
    let good_sig = cas.signature.to_bytes();
    let mut flipped = good_sig;
    flipped[0] ^= 0x01;
    pair(
        "bad-signature",
        cas.bytes.clone(),
        flipped,
        Expect::BadSignature,
    );
    pair(
        "signature-by-other-key",
        cas.bytes.clone(),
        sign_raw(&other_key(), &cas.bytes),
        Expect::BadSignature,
    );
    pair(
        "signature-s-not-reduced",
        cas.bytes.clone(),
        unreduced_s(&good_sig),
        Expect::BadSignature,
    );
    pair(
        "signature-small-order-r",
        cas.bytes.clone(),
        small_order_r_signature(&cas.bytes),
        Expect::BadSignature,
    );
    file(
        "signature-too-short.entry.json",
        cas.bytes.clone(),
        Expect::BadSignature,
    );
    file(
        "signature-too-short.sig.hex",
        hex_line(&good_sig[..63]),
        Expect::BadSignature,
    );

    // Segments that must be refused or read as damaged.
    let frame0_end = SEGMENT_HEADER_LEN as usize + frame_of(&cas).len();
    file(
        "torn-tail.seg",
        log[..frame0_end + FRAME_HEADER_LEN + 100].to_vec(),
        Expect::TornTail,
    );
    let mut zero_fill = log.clone();
    zero_fill.extend_from_slice(&[0u8; 64]);
    file("zero-fill.seg", zero_fill, Expect::TornTail);
    let mut flipped_byte = log.clone();
    let at = SEGMENT_HEADER_LEN as usize + FRAME_HEADER_LEN + text.find("T12:00:00Z").unwrap() + 2; // "12" becomes "13"
    assert_eq!(flipped_byte[at], b'2');
    flipped_byte[at] ^= 0x01;
    file("flipped-byte.seg", flipped_byte, Expect::BadSignature);
    let mut bad_len = log.clone();
    bad_len[SEGMENT_HEADER_LEN as usize + 5] ^= 0x40;
    file("corrupt-frame-header.seg", bad_len, Expect::Corrupt);
    let mut bad_magic = log.clone();
    bad_magic[14] = b'2';
    file("bad-magic.seg", bad_magic, Expect::BadHeader);
    file(
        "header-names-other-log.seg",
        segment(other_key().verifying_key().as_bytes(), &[&cas, &mis]),
        Expect::LogMismatch,
    );
    file("sequence-gap.seg", segment(&pk, &[&mis]), Expect::Sequence);
    v
}

/// The content the evidence vectors name, and their one `evidence` item.
const EVIDENCE_CONTENT: &[u8] = b"Sijill evidence vector\n";

fn evidence_vector_item() -> Value {
    json!({
        "blake3": blake3::hash(EVIDENCE_CONTENT).to_hex().as_str(),
        "media_type": "image/jpeg",
        "name": "\u{635}\u{648}\u{631}\u{629}.jpg",
        "size": EVIDENCE_CONTENT.len(),
    })
}

// ------------------------------------------------------------------ files

fn dir() -> PathBuf {
    PathBuf::from(DIR)
}

fn write_if_asked() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("SIJILL_WRITE_VECTORS").as_deref() == Ok("1") {
            std::fs::create_dir_all(dir()).unwrap();
            for v in vectors() {
                std::fs::write(dir().join(&v.name), &v.bytes).unwrap();
            }
        }
    });
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn read_hex(name: &str) -> Vec<u8> {
    let text = String::from_utf8(read(name)).unwrap();
    let hex_text = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{name} must end with one newline"));
    assert!(
        hex_text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{name} is not lowercase hex"
    );
    hex::decode(hex_text).unwrap()
}

/// The failing entry pairs: stem -> expectation.
fn entry_pairs(vectors: &[Vector]) -> BTreeMap<String, Expect> {
    vectors
        .iter()
        .filter_map(|v| {
            let stem = v.name.strip_suffix(".entry.json")?;
            Some((stem.to_string(), v.expect))
        })
        .collect()
}

// ------------------------------------------------------------------ tests

#[test]
fn vectors_match_the_code_byte_for_byte() {
    write_if_asked();
    let vectors = vectors();
    let mut names = BTreeSet::new();
    for v in &vectors {
        assert!(names.insert(v.name.clone()), "{} is built twice", v.name);
        assert_eq!(
            read(&v.name),
            v.bytes,
            "{} differs from what the code produces (SIJILL_WRITE_VECTORS=1 rewrites it)",
            v.name
        );
    }
}

#[test]
fn valid_entries_decode_and_verify() {
    write_if_asked();
    let good = good_entries();
    for (name, expected) in [("casualty", &good[0]), ("missing", &good[1])] {
        let bytes = read(&format!("{name}.entry.json"));
        assert_ne!(bytes.last(), Some(&b'\n'));
        let sig = read_hex(&format!("{name}.sig.hex"));
        let signed = SignedEntry::decode(&bytes, &sig).unwrap();
        assert_eq!(&signed, expected);
        assert_eq!(signed.id.0.to_vec(), read_hex(&format!("{name}.id.hex")));
        assert_eq!(signed.id, EntryId::of(&bytes));
        assert_eq!(signed.entry.log, public_key());
        assert_eq!(signed.entry.recorded_at, recorded_at());
        // Strict and plain verification agree on a good signature.
        let s = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        public_key().verify(&signature_message(&bytes), &s).unwrap();
    }
    assert_eq!(good[0].entry.seq, 0);
    assert_eq!(good[1].entry.seq, 1);

    // The segment: header, then both frames, each checked as the store does.
    let path = dir().join("log.seg");
    let reader = SegmentReader::open(&path).unwrap();
    assert_eq!(reader.log_key(), public_key().as_bytes());
    let items: Vec<ScanItem> = reader.map(Result::unwrap).collect();
    assert_eq!(items.len(), 2);
    let mut frontier = Frontier::new();
    let mut offset = SEGMENT_HEADER_LEN;
    for (seq, item) in items.iter().enumerate() {
        let ScanItem::Frame {
            offset: at,
            entry,
            signature,
        } = item
        else {
            panic!("item {seq} is not a frame: {item:?}")
        };
        assert_eq!(*at, offset);
        let signed = check_frame(public_key().as_bytes(), seq as u64, entry, signature).unwrap();
        assert_eq!(signed, good[seq]);
        offset += (FRAME_HEADER_LEN + entry.len() + 64) as u64;
        frontier.push(leaf_hash(entry));
    }
    assert_eq!(offset, read("log.seg").len() as u64);
    assert_eq!(frontier.root().0.to_vec(), read_hex("merkle-root-2.hex"));
}

fn expect_entry_error(name: &str, expect: Expect, result: Result<SignedEntry, EntryError>) {
    let err = match result {
        Ok(_) => panic!("{name}: accepted, expected {}", expect.label()),
        Err(e) => e,
    };
    let matched = match expect {
        Expect::NotCanonical => matches!(
            err,
            EntryError::Canonical(CanonicalError::NotCanonical { .. })
        ),
        Expect::NotAnInteger => matches!(
            err,
            EntryError::Canonical(CanonicalError::NotAnInteger { .. })
        ),
        Expect::NotNfc => matches!(err, EntryError::Canonical(CanonicalError::NotNfc { .. })),
        Expect::Field(f) => matches!(&err, EntryError::Field { field, .. } if *field == f),
        Expect::UnsupportedVersion => matches!(err, EntryError::UnsupportedVersion(_)),
        Expect::Body => matches!(err, EntryError::Body(_)),
        Expect::BadSignature => matches!(err, EntryError::BadSignature(_)),
        other => panic!("{name}: {other:?} is not an entry expectation"),
    };
    assert!(matched, "{name}: expected {}, got {err:?}", expect.label());
}

#[test]
fn the_evidence_vector_decodes_and_names_its_file() {
    write_if_asked();
    let bytes = read("casualty-evidence.entry.json");
    let sig = read_hex("casualty-evidence.sig.hex");
    let signed = SignedEntry::decode(&bytes, &sig).unwrap();
    let record = signed.entry.record_body().unwrap();
    let items = &record.person().evidence;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].blake3, *blake3::hash(EVIDENCE_CONTENT).as_bytes());
    assert_eq!(items[0].size, EVIDENCE_CONTENT.len() as u64);
    assert_eq!(items[0].media_type, "image/jpeg");
    assert_eq!(items[0].name.as_deref(), Some("صورة.jpg"));
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("\"evidence\":[{\"blake3\":\""), "{text}");
}

#[test]
fn failing_entries_are_refused_for_their_reason() {
    write_if_asked();
    let pairs = entry_pairs(&vectors());
    let failing: Vec<_> = pairs.iter().filter(|(_, e)| **e != Expect::Ok).collect();
    assert!(failing.len() >= 20);
    for (stem, expect) in failing {
        let bytes = read(&format!("{stem}.entry.json"));
        let sig = read_hex(&format!("{stem}.sig.hex"));
        expect_entry_error(stem, *expect, SignedEntry::decode(&bytes, &sig));
        let decoded = decode_entry(&bytes);
        match expect {
            // The bytes are a valid entry; only the signature is wrong.
            Expect::BadSignature => {
                decoded.unwrap_or_else(|e| panic!("{stem}: {e}"));
            }
            _ => assert!(decoded.is_err(), "{stem}: decode_entry accepted it"),
        }
    }
}

#[test]
fn signature_vectors_need_strict_verification() {
    write_if_asked();
    let bytes = read("signature-small-order-r.entry.json");
    let message = signature_message(&bytes);
    let sig = read_hex("signature-small-order-r.sig.hex");
    let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
    // The cofactorless equation holds: plain verification accepts it...
    public_key().verify(&message, &sig).unwrap();
    // ...and strict verification refuses the small-order R.
    assert!(public_key().verify_strict(&message, &sig).is_err());

    let sig = read_hex("signature-s-not-reduced.sig.hex");
    assert!(sig[63] & 0xe0 == 0, "S + L stays below 2^253");
    let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
    assert!(public_key().verify(&message, &sig).is_err());
}

#[test]
fn failing_segments_read_as_stated() {
    write_if_asked();
    let good = good_entries();
    let pk = *public_key().as_bytes();
    let frame0 = frame_of(&good[0]).len() as u64;
    let frame1 = frame_of(&good[1]).len() as u64;
    let f0 = SEGMENT_HEADER_LEN;
    let f1 = f0 + frame0;
    let scan = |name: &str| -> Vec<ScanItem> {
        SegmentReader::open(&dir().join(name))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let is_frame =
        |item: &ScanItem, at: u64| matches!(item, ScanItem::Frame { offset, .. } if *offset == at);
    let check = |item: &ScanItem, log: &[u8; 32], seq: u64| match item {
        ScanItem::Frame {
            entry, signature, ..
        } => check_frame(log, seq, entry, signature),
        other => panic!("not a frame: {other:?}"),
    };

    // A crash mid-append: the first frame, then a torn tail, never a second entry.
    let items = scan("torn-tail.seg");
    assert_eq!(items.len(), 2);
    assert!(is_frame(&items[0], f0));
    assert_eq!(
        items[1],
        ScanItem::Torn {
            offset: f1,
            len: FRAME_HEADER_LEN as u64 + 100
        }
    );
    check(&items[0], &pk, 0).unwrap();

    // Zero fill after the last frame is a torn tail too.
    let items = scan("zero-fill.seg");
    assert_eq!(items.len(), 3);
    assert!(is_frame(&items[0], f0) && is_frame(&items[1], f1));
    assert_eq!(
        items[2],
        ScanItem::Torn {
            offset: f1 + frame1,
            len: 64
        }
    );

    // A changed byte inside a complete frame: framing intact, signature broken.
    let items = scan("flipped-byte.seg");
    assert_eq!(items.len(), 2);
    let ScanItem::Frame {
        entry, signature, ..
    } = &items[0]
    else {
        panic!("{:?}", items[0])
    };
    expect_entry_error(
        "flipped-byte.seg",
        Expect::BadSignature,
        SignedEntry::decode(entry, signature),
    );
    assert!(check(&items[0], &pk, 0).is_err());
    check(&items[1], &pk, 1).unwrap();

    // A damaged frame header: corruption up to the next intact header, then
    // reading resumes with the second entry.
    let items = scan("corrupt-frame-header.seg");
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0],
        ScanItem::Corrupt {
            offset: f0,
            len: frame0
        }
    );
    assert!(is_frame(&items[1], f1));
    check(&items[1], &pk, 1).unwrap();

    assert!(matches!(
        SegmentReader::open(&dir().join("bad-magic.seg")),
        Err(SegmentError::BadHeader)
    ));

    let reader = SegmentReader::open(&dir().join("header-names-other-log.seg")).unwrap();
    let header_key = *reader.log_key();
    assert_eq!(&header_key, other_key().verifying_key().as_bytes());
    let items: Vec<ScanItem> = reader.map(Result::unwrap).collect();
    assert_eq!(items.len(), 2);
    for (seq, item) in items.iter().enumerate() {
        let err = check(item, &header_key, seq as u64).unwrap_err();
        assert!(err.contains("another log"), "{err}");
    }

    let items = scan("sequence-gap.seg");
    assert_eq!(items.len(), 1);
    let err = check(&items[0], &pk, 0).unwrap_err();
    assert!(err.contains("sequence number 1 where 0"), "{err}");
}

#[test]
fn format_md_states_the_vector_values() {
    write_if_asked();
    let good = good_entries();
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |name: &str, bytes: &[u8]| {
        expected.insert(name.to_string(), hex::encode(bytes));
    };
    put("seed", &seed());
    put("public-key", public_key().as_bytes());
    put("key-id", &key_id(&public_key()).0);
    put("empty-root", &empty_root().0);
    for (name, e) in [("casualty", &good[0]), ("missing", &good[1])] {
        put(
            &format!("{name}.id.hex"),
            &read_hex(&format!("{name}.id.hex")),
        );
        put(
            &format!("{name}.sig.hex"),
            &read_hex(&format!("{name}.sig.hex")),
        );
        put(&format!("{name}.leaf-hash"), &leaf_hash(&e.bytes).0);
        put(
            &format!("{name}.frame-header"),
            &frame_of(e)[..FRAME_HEADER_LEN],
        );
        assert_eq!(read_hex(&format!("{name}.id.hex")), e.id.0);
    }
    put("merkle-root-2.hex", &read_hex("merkle-root-2.hex"));
    put(
        "log.seg.header",
        &read("log.seg")[..SEGMENT_HEADER_LEN as usize],
    );
    let stated = common::format_section_10_values(FORMAT_MD, &["- "]);
    assert_eq!(
        stated.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "FORMAT.md §10 must state exactly these values"
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
            rows.get(&v.name).map(String::as_str),
            Some(v.expect.label().as_str()),
            "README expectation of {}",
            v.name
        );
    }
}

/// The refused spellings FORMAT.md §3.3 and §4.1 give as examples.
#[test]
fn documented_refusals_are_refused() {
    for (bad, good) in [
        (&b"{\"a\": 2}"[..], &b"{\"a\":2}"[..]),
        (b"{\"a\":2} ", b"{\"a\":2}"),
        (b"{\"a\":2}\n", b"{\"a\":2}"),
        (b"{\"b\":1,\"a\":2}", b"{\"a\":2,\"b\":1}"),
        (b"{\"a\":1,\"a\":1}", b"{\"a\":1}"),
        (b"{\"a\":\"\\u0041\"}", b"{\"a\":\"A\"}"),
        (b"{\"a\":\"\\/\"}", b"{\"a\":\"/\"}"),
        (b"{\"a\":\"\\u001F\"}", b"{\"a\":\"\\u001f\"}"),
        (
            "{\"a\":\"e\u{301}\"}".as_bytes(),
            "{\"a\":\"\u{e9}\"}".as_bytes(),
        ),
        (b"{\"a\":1.0}", b"{\"a\":1}"),
        (b"{\"a\":1e0}", b"{\"a\":1}"),
        (b"{\"a\":-0}", b"{\"a\":0}"),
        (b"{\"a\":01}", b"{\"a\":1}"),
        (b"\xef\xbb\xbf{\"a\":1}", b"{\"a\":1}"),
        (b"{\"a\":1.5}", b"{\"a\":1}"),
        (b"{\"a\":9007199254740992}", b"{\"a\":9007199254740991}"),
    ] {
        assert!(
            parse_canonical(bad).is_err(),
            "{} was accepted",
            String::from_utf8_lossy(bad)
        );
        parse_canonical(good).unwrap();
    }
    assert!(matches!(
        parse_canonical(b"{\"a\":\"\\ud800\"}"),
        Err(CanonicalError::Syntax { .. })
    ));
    // Raw UTF-8 for U+007F, U+2028 and Arabic; escapes only for C0 controls.
    let v = json!({"a": "\u{7f}\u{2028}\u{1f}\n محمد"});
    assert_eq!(
        to_canonical_bytes(&v).unwrap(),
        "{\"a\":\"\u{7f}\u{2028}\\u001f\\n محمد\"}".as_bytes()
    );
    for bad in [
        "2026-11-01T12:00:00.000Z",
        "2026-11-01T12:00:00+00:00",
        "2026-11-01t12:00:00z",
        "2026-12-31T23:59:60Z",
        "2026-02-29T12:00:00Z",
        "2026-11-01T24:00:00Z",
        "2026-11-01 12:00:00Z",
    ] {
        assert!(
            sijill::entry::parse_timestamp(bad).is_none(),
            "{bad} was accepted"
        );
    }
    assert!(sijill::entry::parse_timestamp("2026-11-01T12:00:00Z").is_some());
}
