//! Signed entries: the unit that is hashed, signed, logged and exchanged
//! (docs/FORMAT.md §4).
//!
//! An entry is the canonical JSON of `{v, log, seq, recorded_at, kind, body}`.
//! Its id is a domain-separated BLAKE3 of those bytes and its signature an
//! Ed25519 signature over a domain-separated message holding them. Decoding
//! works on the bytes as received and checks each property separately, so an
//! auditor can say which one broke.

use std::fmt;

use ed25519_dalek::{Signer, SIGNATURE_LENGTH};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::canonical::{parse_canonical, to_canonical_bytes, CanonicalError};
use crate::group_keys::KeyBody;
use crate::keys::{Signature, SigningKey, VerifyingKey};
use crate::lifecycle::Lifecycle;
use crate::record::{Record, RecordError, RecordKind};
use crate::FORMAT_VERSION;

/// Prefix of the BLAKE3 input that gives an entry id (FORMAT.md §4.3).
pub const ENTRY_ID_DOMAIN: &[u8] = b"SIJILL-ENTRY-ID-V1\0";
/// Prefix of the message an entry signature covers (FORMAT.md §4.4).
pub const SIGNATURE_DOMAIN: &[u8] = b"SIJILL-ENTRY-SIG-V1\0";
/// The largest entry accepted, in bytes. A record's own limits keep real
/// entries far below it; the bound keeps hostile files from exhausting memory.
pub const MAX_ENTRY_BYTES: usize = 2 * 1024 * 1024;

/// The identifier of an entry: BLAKE3 over the domain and the entry bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(pub [u8; 32]);

impl EntryId {
    /// Compute the id of entry bytes (FORMAT.md §4.3).
    pub fn of(entry_bytes: &[u8]) -> EntryId {
        let mut hasher = blake3::Hasher::new();
        hasher.update(ENTRY_ID_DOMAIN);
        hasher.update(entry_bytes);
        EntryId(*hasher.finalize().as_bytes())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parse a full 64-character id.
    pub fn from_hex(text: &str) -> Option<EntryId> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(EntryId(out))
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryId({})", self.to_hex())
    }
}

/// Every kind of entry the format knows (FORMAT.md §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Casualty,
    Missing,
    Amendment,
    StatusChange,
    Retraction,
    Corroboration,
    SamePersonLink,
    SamePersonUnlink,
    KeyCertify,
    KeyRevoke,
    KeyRotate,
}

impl EntryKind {
    pub const ALL: [EntryKind; 11] = [
        EntryKind::Casualty,
        EntryKind::Missing,
        EntryKind::Amendment,
        EntryKind::StatusChange,
        EntryKind::Retraction,
        EntryKind::Corroboration,
        EntryKind::SamePersonLink,
        EntryKind::SamePersonUnlink,
        EntryKind::KeyCertify,
        EntryKind::KeyRevoke,
        EntryKind::KeyRotate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Casualty => "casualty",
            EntryKind::Missing => "missing",
            EntryKind::Amendment => "amendment",
            EntryKind::StatusChange => "status-change",
            EntryKind::Retraction => "retraction",
            EntryKind::Corroboration => "corroboration",
            EntryKind::SamePersonLink => "same-person-link",
            EntryKind::SamePersonUnlink => "same-person-unlink",
            EntryKind::KeyCertify => "key-certify",
            EntryKind::KeyRevoke => "key-revoke",
            EntryKind::KeyRotate => "key-rotate",
        }
    }

    pub fn parse(text: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// A stable one-byte code for indexes (never written into entries).
    pub fn code(self) -> u8 {
        EntryKind::ALL.iter().position(|k| *k == self).unwrap_or(0) as u8
    }

    pub fn from_code(code: u8) -> Option<EntryKind> {
        EntryKind::ALL.get(code as usize).copied()
    }

    pub fn record_kind(self) -> Option<RecordKind> {
        match self {
            EntryKind::Casualty => Some(RecordKind::Casualty),
            EntryKind::Missing => Some(RecordKind::Missing),
            _ => None,
        }
    }
}

impl From<RecordKind> for EntryKind {
    fn from(kind: RecordKind) -> EntryKind {
        match kind {
            RecordKind::Casualty => EntryKind::Casualty,
            RecordKind::Missing => EntryKind::Missing,
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decoded content of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The author's public key; the entry belongs to this key's log.
    pub log: VerifyingKey,
    pub seq: u64,
    /// When the author's machine recorded the entry (UTC, whole seconds). It is
    /// the author's claim, not a trusted time.
    pub recorded_at: OffsetDateTime,
    pub kind: EntryKind,
    pub body: Body,
}

/// The body of an entry, by kind.
// Records dominate a store; boxing them would cost an allocation per entry
// read for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Record(Record),
    /// An entry about a record (src/lifecycle.rs).
    Lifecycle(Lifecycle),
    /// A key entry of the group's keys (src/group_keys.rs).
    Key(KeyBody),
}

impl Entry {
    /// A new entry holding a record.
    pub fn record(
        log: VerifyingKey,
        seq: u64,
        recorded_at: OffsetDateTime,
        record: Record,
    ) -> Entry {
        Entry {
            log,
            seq,
            recorded_at: truncate_to_seconds(recorded_at),
            kind: record.kind().into(),
            body: Body::Record(record),
        }
    }

    /// A new entry about a record (FORMAT.md §4.2).
    pub fn lifecycle(
        log: VerifyingKey,
        seq: u64,
        recorded_at: OffsetDateTime,
        body: Lifecycle,
    ) -> Entry {
        Entry {
            log,
            seq,
            recorded_at: truncate_to_seconds(recorded_at),
            kind: body.kind(),
            body: Body::Lifecycle(body),
        }
    }

    /// A new entry holding `body`.
    pub fn new(log: VerifyingKey, seq: u64, recorded_at: OffsetDateTime, body: Body) -> Entry {
        match body {
            Body::Record(r) => Entry::record(log, seq, recorded_at, r),
            Body::Lifecycle(l) => Entry::lifecycle(log, seq, recorded_at, l),
            Body::Key(k) => Entry {
                log,
                seq,
                recorded_at: truncate_to_seconds(recorded_at),
                kind: k.kind(),
                body: Body::Key(k),
            },
        }
    }

    pub fn record_body(&self) -> Option<&Record> {
        match &self.body {
            Body::Record(r) => Some(r),
            _ => None,
        }
    }

    pub fn lifecycle_body(&self) -> Option<&Lifecycle> {
        match &self.body {
            Body::Lifecycle(l) => Some(l),
            _ => None,
        }
    }

    /// The canonical bytes of this entry (FORMAT.md §4.1).
    pub fn to_bytes(&self) -> Result<Vec<u8>, EntryError> {
        let body = match &self.body {
            Body::Record(r) => r.to_body(),
            Body::Lifecycle(l) => l.to_body(),
            Body::Key(k) => k.to_body(),
        };
        let mut map = Map::new();
        map.insert("v".into(), Value::from(FORMAT_VERSION));
        map.insert("log".into(), Value::from(hex::encode(self.log.as_bytes())));
        map.insert("seq".into(), Value::from(self.seq));
        let recorded_at = format_timestamp(self.recorded_at);
        if parse_timestamp(&recorded_at).is_none() {
            return Err(EntryError::Field {
                field: "recorded_at",
                message: format!("{recorded_at:?} is outside the years 0000-9999; check the clock"),
            });
        }
        map.insert("recorded_at".into(), Value::from(recorded_at));
        map.insert("kind".into(), Value::from(self.kind.as_str()));
        map.insert("body".into(), body);
        let bytes = to_canonical_bytes(&Value::Object(map))?;
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge { len: bytes.len() });
        }
        Ok(bytes)
    }

    /// Sign this entry with the key of its log.
    pub fn sign(&self, key: &SigningKey) -> Result<SignedEntry, EntryError> {
        self.clone().into_signed(key)
    }

    /// Sign this entry with the key of its log, keeping it in the result
    /// (no copy of the body, which a bulk append would pay per entry).
    pub fn into_signed(self, key: &SigningKey) -> Result<SignedEntry, EntryError> {
        if key.verifying_key() != self.log {
            return Err(EntryError::WrongSigningKey);
        }
        let bytes = self.to_bytes()?;
        let signature = key.sign(&signature_message(&bytes));
        Ok(SignedEntry {
            id: EntryId::of(&bytes),
            entry: self,
            bytes,
            signature,
        })
    }
}

/// An entry together with its exact bytes, id and signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEntry {
    pub id: EntryId,
    pub entry: Entry,
    pub bytes: Vec<u8>,
    pub signature: Signature,
}

impl SignedEntry {
    /// Decode and fully verify an entry as received: canonical form, fields,
    /// body schema, then the signature against the key named in `log`.
    pub fn decode(bytes: &[u8], signature: &[u8]) -> Result<SignedEntry, EntryError> {
        let entry = decode_entry(bytes)?;
        let signature = parse_signature(signature)?;
        verify_signature(&entry.log, bytes, &signature)?;
        Ok(SignedEntry {
            id: EntryId::of(bytes),
            entry,
            bytes: bytes.to_vec(),
            signature,
        })
    }
}

/// The message an entry signature covers: the domain, then the entry bytes.
pub fn signature_message(entry_bytes: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SIGNATURE_DOMAIN.len() + entry_bytes.len());
    message.extend_from_slice(SIGNATURE_DOMAIN);
    message.extend_from_slice(entry_bytes);
    message
}

pub fn parse_signature(bytes: &[u8]) -> Result<Signature, EntryError> {
    let array: [u8; SIGNATURE_LENGTH] = bytes
        .try_into()
        .map_err(|_| EntryError::BadSignature("signature is not 64 bytes".into()))?;
    Ok(Signature::from_bytes(&array))
}

/// Check a signature with `verify_strict`, which also refuses small-order keys
/// and non-canonical signature encodings (FORMAT.md §4.4).
pub fn verify_signature(
    key: &VerifyingKey,
    entry_bytes: &[u8],
    signature: &Signature,
) -> Result<(), EntryError> {
    key.verify_strict(&signature_message(entry_bytes), signature)
        .map_err(|_| EntryError::BadSignature("signature does not verify".into()))
}

/// Decode entry bytes without checking the signature: canonical form, exact
/// field set, version, types, and the body's schema.
pub fn decode_entry(bytes: &[u8]) -> Result<Entry, EntryError> {
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(EntryError::TooLarge { len: bytes.len() });
    }
    let value = parse_canonical(bytes)?;
    let Value::Object(mut map) = value else {
        return Err(EntryError::Field {
            field: "$",
            message: "an entry is a JSON object".into(),
        });
    };
    const FIELDS: [&str; 6] = ["body", "kind", "log", "recorded_at", "seq", "v"];
    if let Some(extra) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(EntryError::Field {
            field: "$",
            message: format!("unknown field {extra:?}"),
        });
    }
    let mut take = |field: &'static str| {
        map.remove(field).ok_or(EntryError::Field {
            field,
            message: "missing".into(),
        })
    };
    let version = take("v")?;
    if version.as_u64() != Some(FORMAT_VERSION) {
        return Err(EntryError::UnsupportedVersion(version.to_string()));
    }
    let log = take("log")?;
    let log = log
        .as_str()
        .and_then(crate::keys::parse_public_key_hex)
        .ok_or(EntryError::Field {
            field: "log",
            message: "not 64 lowercase hex characters of a valid Ed25519 public key".into(),
        })?;
    let seq = take("seq")?.as_u64().ok_or(EntryError::Field {
        field: "seq",
        message: "not a non-negative integer".into(),
    })?;
    let recorded_at = take("recorded_at")?;
    let recorded_at = recorded_at
        .as_str()
        .and_then(parse_timestamp)
        .ok_or(EntryError::Field {
            field: "recorded_at",
            message: "not an RFC 3339 UTC time of the form YYYY-MM-DDTHH:MM:SSZ".into(),
        })?;
    let kind_value = take("kind")?;
    let kind_text = kind_value.as_str().ok_or(EntryError::Field {
        field: "kind",
        message: "not a string".into(),
    })?;
    let kind = EntryKind::parse(kind_text).ok_or_else(|| EntryError::Field {
        field: "kind",
        message: format!("unknown kind {kind_text:?}"),
    })?;
    let body_value = take("body")?;
    let body = match kind.record_kind() {
        Some(record_kind) => {
            let record = Record::from_body(record_kind, &body_value)?;
            // One record, one body: a body the schema accepts but would write
            // differently (a date as an object where a string is the form) is
            // refused, so equal records always have equal bytes.
            if record.to_body() != body_value {
                return Err(EntryError::Field {
                    field: "body",
                    message: "valid, but not in the normalised form docs/SCHEMA.md gives".into(),
                });
            }
            Body::Record(record)
        }
        None if Lifecycle::is_lifecycle_kind(kind) => {
            let body = Lifecycle::from_body(kind, &body_value, None)?;
            // As for records: one step, one body.
            if body.to_body() != body_value {
                return Err(EntryError::Field {
                    field: "body",
                    message: "valid, but not in the normalised form docs/FORMAT.md §4.2 gives"
                        .into(),
                });
            }
            Body::Lifecycle(body)
        }
        None if KeyBody::is_key_kind(kind) => {
            let body = KeyBody::from_body(kind, &body_value)?;
            if body.to_body() != body_value {
                return Err(EntryError::Field {
                    field: "body",
                    message: "valid, but not in the normalised form docs/FORMAT.md §4.2 gives"
                        .into(),
                });
            }
            Body::Key(body)
        }
        None => return Err(EntryError::UnsupportedKind(kind)),
    };
    Ok(Entry {
        log,
        seq,
        recorded_at,
        kind,
        body,
    })
}

fn truncate_to_seconds(t: OffsetDateTime) -> OffsetDateTime {
    let utc = t.to_offset(time::UtcOffset::UTC);
    utc.replace_nanosecond(0).unwrap_or(utc)
}

/// The one text form of a time in an entry: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_timestamp(t: OffsetDateTime) -> String {
    let t = truncate_to_seconds(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Accept only the form [`format_timestamp`] writes, so that a time has one encoding.
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    (format_timestamp(t) == text).then_some(t)
}

/// Why entry bytes are not a valid entry.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("entry is {len} bytes, more than the limit of {MAX_ENTRY_BYTES}")]
    TooLarge { len: usize },
    #[error("{0}")]
    Canonical(#[from] CanonicalError),
    #[error("format version {0} is not supported (this program reads version {FORMAT_VERSION})")]
    UnsupportedVersion(String),
    #[error("field `{field}`: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error("entries of kind {0} are not supported by this version")]
    UnsupportedKind(EntryKind),
    #[error("body: {0}")]
    Body(#[from] RecordError),
    #[error("{0}")]
    BadSignature(String),
    #[error("the signing key is not the key of the entry's log")]
    WrongSigningKey,
}

impl EntryError {
    /// The audited property this error breaks (FORMAT.md §4.5).
    pub fn property(&self) -> &'static str {
        match self {
            EntryError::Canonical(_) => "canonical-form",
            EntryError::BadSignature(_) | EntryError::WrongSigningKey => "signature",
            EntryError::Body(_) => "schema",
            _ => "entry-structure",
        }
    }
}
