//! The group's keys: device keys certified by the group key, revocations,
//! and rotation (docs/FORMAT.md §4.2 "Key entries", §9.6).
//!
//! A key entry is signed into an *authority*'s log: the group key (or a key
//! the group rotated to). Trust is derived from those entries alone, with
//! no clock: a revocation names a size of the revoked key's log, and that
//! key's entries at `seq` from that size on no longer verify. The same
//! entries say which keys are one group, which the fold of a record uses to
//! tell the recording group's own word from another group's (§4.6).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use serde_json::{Map, Value};

use crate::entry::{decode_entry, Body, EntryId, EntryKind, SignedEntry};
use crate::keys::{self, SigningKey, VerifyingKey};
use crate::note::SignedCheckpoint;
use crate::record::{invalid_value, ReadFields, ReadText, RecordError};
use crate::store::{Store, StoreError};

/// The longest device name, in characters.
pub const MAX_DEVICE_NAME: usize = 64;

/// The body of a key entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyBody {
    /// `key-certify`: `key` signs for the group whose authority signed this.
    Certify {
        key: VerifyingKey,
        name: String,
        reason: Option<String>,
    },
    /// `key-revoke`: entries of `key`'s log with `seq >= keep_up_to` no
    /// longer verify.
    Revoke {
        key: VerifyingKey,
        keep_up_to: u64,
        reason: String,
    },
    /// `key-rotate`: `new_key` is an authority of the group from now on.
    Rotate {
        new_key: VerifyingKey,
        reason: String,
    },
}

/// A device name: 1 to 64 of `A-Z a-z 0-9 - _ .`, not starting with `.`, so
/// that it is also a safe file name (`keys/<name>.key`).
pub fn check_device_name(name: &str) -> Result<(), RecordError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_DEVICE_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(invalid_value(
            "name",
            format!(
                "a device name is 1 to {MAX_DEVICE_NAME} of A-Z, a-z, 0-9, '-', '_', '.', not starting with '.'"
            ),
        ))
    }
}

fn read_key(v: &Value, field: &str) -> Result<VerifyingKey, RecordError> {
    v.as_str()
        .and_then(keys::parse_public_key_hex)
        .ok_or_else(|| {
            invalid_value(
                field,
                "expected a public key: 64 lowercase hex characters of a valid Ed25519 key",
            )
        })
}

impl KeyBody {
    pub fn is_key_kind(kind: EntryKind) -> bool {
        matches!(
            kind,
            EntryKind::KeyCertify | EntryKind::KeyRevoke | EntryKind::KeyRotate
        )
    }

    pub fn kind(&self) -> EntryKind {
        match self {
            KeyBody::Certify { .. } => EntryKind::KeyCertify,
            KeyBody::Revoke { .. } => EntryKind::KeyRevoke,
            KeyBody::Rotate { .. } => EntryKind::KeyRotate,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            KeyBody::Certify { reason, .. } => reason.as_deref(),
            KeyBody::Revoke { reason, .. } | KeyBody::Rotate { reason, .. } => Some(reason),
        }
    }

    /// The body as its canonical JSON value (FORMAT.md §4.2).
    pub fn to_body(&self) -> Value {
        let mut m = Map::new();
        let hex_key = |k: &VerifyingKey| Value::String(hex::encode(k.as_bytes()));
        match self {
            KeyBody::Certify { key, name, reason } => {
                m.insert("key".into(), hex_key(key));
                m.insert("name".into(), Value::String(name.clone()));
                if let Some(r) = reason {
                    m.insert("reason".into(), Value::String(r.clone()));
                }
            }
            KeyBody::Revoke {
                key,
                keep_up_to,
                reason,
            } => {
                m.insert("key".into(), hex_key(key));
                m.insert("keep_up_to".into(), Value::from(*keep_up_to));
                m.insert("reason".into(), Value::String(reason.clone()));
            }
            KeyBody::Rotate { new_key, reason } => {
                m.insert("new_key".into(), hex_key(new_key));
                m.insert("reason".into(), Value::String(reason.clone()));
            }
        }
        Value::Object(m)
    }

    /// Read a body of a key kind (strict: exact members, valid keys).
    pub fn from_body(kind: EntryKind, body: &Value) -> Result<KeyBody, RecordError> {
        let what = format!("a {kind} body");
        let fields: &[&str] = match kind {
            EntryKind::KeyCertify => &["key", "name", "reason"],
            EntryKind::KeyRevoke => &["key", "keep_up_to", "reason"],
            EntryKind::KeyRotate => &["new_key", "reason"],
            _ => return Err(invalid_value("", format!("{kind} is not a key kind"))),
        };
        let f = ReadFields::open(body, "", fields, &what)?;
        let reason = f.text("reason", ReadText::Multiline)?;
        let required_reason = || reason.clone().ok_or_else(|| f.missing("reason"));
        Ok(match kind {
            EntryKind::KeyCertify => {
                let key = read_key(f.require("key")?, "key")?;
                let name = f.require("name")?;
                let name = name
                    .as_str()
                    .ok_or_else(|| invalid_value("name", "expected a string"))?;
                check_device_name(name)?;
                KeyBody::Certify {
                    key,
                    name: name.to_string(),
                    reason,
                }
            }
            EntryKind::KeyRevoke => {
                let key = read_key(f.require("key")?, "key")?;
                f.require("keep_up_to")?;
                let keep_up_to = f
                    .integer("keep_up_to", 0, crate::canonical::MAX_SAFE_INTEGER)?
                    .ok_or_else(|| f.missing("keep_up_to"))?;
                KeyBody::Revoke {
                    key,
                    keep_up_to,
                    reason: required_reason()?,
                }
            }
            _ => KeyBody::Rotate {
                new_key: read_key(f.require("new_key")?, "new_key")?,
                reason: required_reason()?,
            },
        })
    }
}

/// A key entry as trust derivation needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    pub entry: EntryId,
    pub signer: VerifyingKey,
    pub seq: u64,
    pub body: KeyBody,
}

impl KeyEvent {
    pub fn from_signed(signed: &SignedEntry) -> Option<KeyEvent> {
        match &signed.entry.body {
            Body::Key(body) => Some(KeyEvent {
                entry: signed.id,
                signer: signed.entry.log,
                seq: signed.entry.seq,
                body: body.clone(),
            }),
            _ => None,
        }
    }

    /// The key event in verified entry bytes, if they hold one. Cheap for
    /// other entries: only bytes that may be a key entry are decoded.
    pub fn from_verified_bytes(bytes: &[u8]) -> Option<KeyEvent> {
        // In canonical form the member `"kind":"key-` can only be the
        // entry's kind or a body member; decoding decides which.
        if !bytes.windows(12).any(|w| w == b"\"kind\":\"key-") {
            return None;
        }
        let entry = decode_entry(bytes).ok()?;
        match entry.body {
            Body::Key(body) => Some(KeyEvent {
                entry: EntryId::of(bytes),
                signer: entry.log,
                seq: entry.seq,
                body,
            }),
            _ => None,
        }
    }
}

/// Where a revoked key's log stops verifying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub keep_up_to: u64,
    /// The `key-revoke` entry.
    pub entry: EntryId,
    pub by: VerifyingKey,
    pub reason: String,
}

/// How a key is trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// A root: the store's own key or one in `trust.json`.
    Root,
    /// Named by a `key-rotate` of an authority (the entry).
    Rotated(EntryId),
    /// A device key certified by an authority (the entry, and the name).
    Device { entry: EntryId, name: String },
}

/// The keys trusted through the group keys' entries (FORMAT.md §9.6), and
/// the group each belongs to.
#[derive(Clone, Debug, Default)]
pub struct GroupTrust {
    standing: BTreeMap<[u8; 32], (Standing, VerifyingKey)>,
    revoked: BTreeMap<[u8; 32], Revocation>,
    /// Key -> the representative of its group: the first own key for the
    /// store's own group, the root for a trusted group (§9.6 item 6). A key
    /// not here is a group of its own.
    group: BTreeMap<[u8; 32], [u8; 32]>,
    /// The representative of the store's own group, when there is one.
    own: Option<[u8; 32]>,
}

/// One round of the derivation: what counts when the revocations of the
/// previous round hold.
struct Round<'a> {
    standing: BTreeMap<[u8; 32], (Standing, VerifyingKey)>,
    revoked: BTreeMap<[u8; 32], Revocation>,
    /// The key entries that count: signed by an authority, before its
    /// revocation point.
    counted: Vec<&'a KeyEvent>,
}

fn is_authority(standing: &BTreeMap<[u8; 32], (Standing, VerifyingKey)>, key: &[u8; 32]) -> bool {
    matches!(
        standing.get(key),
        Some((Standing::Root | Standing::Rotated(_), _))
    )
}

/// Whether `signer` descends from `from` through counted `key-rotate`
/// entries whose first step is in `from`'s log before `keep_up_to`: a key
/// the group rotated to from `from` before the point where `from` is cut.
fn rotated_to_before(
    counted: &[&KeyEvent],
    from: &[u8; 32],
    keep_up_to: u64,
    signer: &[u8; 32],
) -> bool {
    let mut reached: BTreeSet<[u8; 32]> = BTreeSet::new();
    let mut queue = vec![*from];
    while let Some(at) = queue.pop() {
        for e in counted {
            let KeyBody::Rotate { new_key, .. } = &e.body else {
                continue;
            };
            if e.signer.to_bytes() != at || (at == *from && e.seq >= keep_up_to) {
                continue;
            }
            let to = new_key.to_bytes();
            if to == *signer {
                return true;
            }
            if reached.insert(to) {
                queue.push(to);
            }
        }
    }
    false
}

impl GroupTrust {
    /// Derive trust from `roots` and the key entries of any logs, each root
    /// the start of a group of its own. See [`GroupTrust::derive_with_own`].
    pub fn derive(roots: &[VerifyingKey], events: &[KeyEvent]) -> GroupTrust {
        GroupTrust::derive_with_own(&[], roots, events)
    }

    /// Derive trust from roots and the key entries of any logs: `own` are a
    /// store's own keys (one group), `trusted` the keys of its `trust.json`
    /// (each a group). Only the entries of authorities (roots and keys
    /// rotated to) count, and of those only the ones before the signer's
    /// own revocation point. The result does not depend on the order of
    /// `events`.
    pub fn derive_with_own(
        own: &[VerifyingKey],
        trusted: &[VerifyingKey],
        events: &[KeyEvent],
    ) -> GroupTrust {
        let roots: Vec<VerifyingKey> = own.iter().chain(trusted).copied().collect();
        let mut events: Vec<&KeyEvent> = events.iter().collect();
        events.sort_by_key(|e| (e.signer.to_bytes(), e.seq, e.entry));
        events.dedup_by_key(|e| e.entry);
        // Revocations only remove entries and rotations only add
        // authorities, so a few rounds reach a fixed point; the bound keeps a
        // hostile set of entries from looping.
        let mut round = GroupTrust::round(&roots, &events, &BTreeMap::new());
        for _ in 0..32 {
            let next = GroupTrust::round(&roots, &events, &round.revoked);
            let same =
                next.revoked == round.revoked && next.standing.keys().eq(round.standing.keys());
            round = next;
            if same {
                break;
            }
        }
        GroupTrust {
            group: GroupTrust::groups(own, trusted, &round),
            own: own.first().map(|k| k.to_bytes()),
            standing: round.standing,
            revoked: round.revoked,
        }
    }

    fn round<'a>(
        roots: &[VerifyingKey],
        events: &[&'a KeyEvent],
        revoked: &BTreeMap<[u8; 32], Revocation>,
    ) -> Round<'a> {
        let mut standing = BTreeMap::new();
        for r in roots {
            standing.insert(r.to_bytes(), (Standing::Root, *r));
        }
        let counts = |standing: &BTreeMap<[u8; 32], (Standing, VerifyingKey)>, e: &KeyEvent| {
            let signer = e.signer.to_bytes();
            is_authority(standing, &signer)
                && revoked.get(&signer).is_none_or(|r| e.seq < r.keep_up_to)
        };
        let mut changed = true;
        while changed {
            changed = false;
            for e in events {
                if !counts(&standing, e) {
                    continue;
                }
                match &e.body {
                    KeyBody::Rotate { new_key, .. } => {
                        let k = new_key.to_bytes();
                        if !is_authority(&standing, &k) {
                            standing.insert(k, (Standing::Rotated(e.entry), *new_key));
                            changed = true;
                        }
                    }
                    KeyBody::Certify { key, name, .. } => {
                        standing.entry(key.to_bytes()).or_insert((
                            Standing::Device {
                                entry: e.entry,
                                name: name.clone(),
                            },
                            *key,
                        ));
                    }
                    KeyBody::Revoke { .. } => {}
                }
            }
        }
        let counted: Vec<&KeyEvent> = events
            .iter()
            .copied()
            .filter(|e| counts(&standing, e))
            .collect();
        let mut next: BTreeMap<[u8; 32], Revocation> = BTreeMap::new();
        for e in &counted {
            let KeyBody::Revoke {
                key,
                keep_up_to,
                reason,
            } = &e.body
            else {
                continue;
            };
            let k = key.to_bytes();
            // An authority is revoked only by a key it rotated to (§9.6
            // item 3), through a rotation its revocation keeps.
            if is_authority(&standing, &k)
                && !rotated_to_before(&counted, &k, *keep_up_to, &e.signer.to_bytes())
            {
                continue;
            }
            if next.get(&k).is_some_and(|r| r.keep_up_to <= *keep_up_to) {
                continue;
            }
            next.insert(
                k,
                Revocation {
                    keep_up_to: *keep_up_to,
                    entry: e.entry,
                    by: e.signer,
                    reason: reason.clone(),
                },
            );
        }
        Round {
            standing,
            revoked: next,
            counted,
        }
    }

    /// The group of each trusted key (§9.6 item 6): a root's group is its
    /// own (the store's own keys are one group); a key certified or rotated
    /// to by counted entries belongs to the one group it is reached from,
    /// and to none (a group of its own) when reached from several.
    fn groups(
        own: &[VerifyingKey],
        trusted: &[VerifyingKey],
        round: &Round<'_>,
    ) -> BTreeMap<[u8; 32], [u8; 32]> {
        let own_rep = own.first().map(|k| k.to_bytes());
        let mut roots: BTreeMap<[u8; 32], [u8; 32]> = BTreeMap::new();
        for k in own {
            roots.insert(k.to_bytes(), own_rep.unwrap_or(k.to_bytes()));
        }
        for k in trusted {
            roots.entry(k.to_bytes()).or_insert(k.to_bytes());
        }
        let mut reach: BTreeMap<[u8; 32], BTreeSet<[u8; 32]>> = roots
            .iter()
            .map(|(k, rep)| (*k, BTreeSet::from([*rep])))
            .collect();
        // Edges into roots carry nothing: a group cannot claim another's key.
        let edges: Vec<([u8; 32], [u8; 32])> = round
            .counted
            .iter()
            .filter_map(|e| match &e.body {
                KeyBody::Rotate { new_key, .. } => Some((e.signer.to_bytes(), new_key.to_bytes())),
                KeyBody::Certify { key, .. } => {
                    let k = key.to_bytes();
                    matches!(round.standing.get(&k), Some((Standing::Device { .. }, _)))
                        .then_some((e.signer.to_bytes(), k))
                }
                KeyBody::Revoke { .. } => None,
            })
            .filter(|(_, to)| !roots.contains_key(to))
            .collect();
        let mut changed = true;
        while changed {
            changed = false;
            for (from, to) in &edges {
                let Some(reps) = reach.get(from).cloned() else {
                    continue;
                };
                let slot = reach.entry(*to).or_default();
                for rep in reps {
                    changed |= slot.insert(rep);
                }
            }
        }
        reach
            .into_iter()
            .filter_map(|(k, reps)| match reps.len() {
                1 => reps.into_iter().next().map(|rep| (k, rep)),
                _ => None,
            })
            .collect()
    }

    /// How `key` is trusted, if it is.
    pub fn standing(&self, key: &VerifyingKey) -> Option<&Standing> {
        self.standing.get(key.as_bytes()).map(|(s, _)| s)
    }

    pub fn is_trusted(&self, key: &VerifyingKey) -> bool {
        self.standing(key).is_some()
    }

    pub fn revocation(&self, key: &VerifyingKey) -> Option<&Revocation> {
        self.revoked.get(key.as_bytes())
    }

    /// Every certified device key, with its name and certifying entry.
    pub fn devices(&self) -> Vec<(VerifyingKey, String, EntryId)> {
        self.standing
            .values()
            .filter_map(|(s, k)| match s {
                Standing::Device { entry, name } => Some((*k, name.clone(), *entry)),
                _ => None,
            })
            .collect()
    }

    /// Why entry `seq` of `key`'s log does not verify, if it is at or past
    /// the key's revocation point.
    pub fn revoked_entry(&self, key: &VerifyingKey, seq: u64) -> Option<String> {
        let r = self.revocation(key)?;
        (seq >= r.keep_up_to).then(|| revoked_message(key, r))
    }

    /// The representative key of `key`'s group (§9.6 item 6): the key itself
    /// when it belongs to no larger group.
    pub fn group_of(&self, key: &VerifyingKey) -> [u8; 32] {
        let k = key.to_bytes();
        self.group.get(&k).copied().unwrap_or(k)
    }

    /// Whether two keys sign for one group: an entry of either counts as
    /// the other's own (FORMAT.md §4.6).
    pub fn same_group(&self, a: &VerifyingKey, b: &VerifyingKey) -> bool {
        a == b || self.group_of(a) == self.group_of(b)
    }

    /// Whether `key` signs for the store's own group: one of its own keys,
    /// or a key they certified or rotated to.
    pub fn is_own(&self, key: &VerifyingKey) -> bool {
        self.own.is_some_and(|own| self.group_of(key) == own)
    }
}

/// The message for entries of a revoked key past its revocation point.
pub fn revoked_message(key: &VerifyingKey, r: &Revocation) -> String {
    format!(
        "key {} was revoked by entry {} (of log {}, reason: {}): its entries from seq {} on do not verify",
        keys::key_id(key),
        r.entry,
        keys::key_id(&r.by),
        r.reason,
        r.keep_up_to
    )
}

// The store's side: device key files and the key entries it holds.

/// Where device secret keys live in a store (FORMAT.md §9.6).
pub const DEVICE_KEYS_DIR: &str = "keys";

/// The secret key file of device `name`.
pub fn device_key_path(store: &Store, name: &str) -> PathBuf {
    store
        .root()
        .join(DEVICE_KEYS_DIR)
        .join(format!("{name}.key"))
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Make a new device key and write it to `keys/<name>.key` (mode 0600,
/// never overwriting a file). The caller certifies it.
pub fn create_device_key(
    store: &Store,
    name: &str,
    passphrase: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<SigningKey, StoreError> {
    let path = device_key_path(store, name);
    let key = keys::generate_signing_key().map_err(|source| StoreError::Key {
        path: path.clone(),
        source,
    })?;
    let label = format!("{} (device {name})", store.meta().organisation);
    let text =
        keys::seal_secret_key(&key, &label, now, passphrase).map_err(|source| StoreError::Key {
            path: path.clone(),
            source,
        })?;
    let dir = store.root().join(DEVICE_KEYS_DIR);
    std::fs::create_dir_all(&dir).map_err(io_at(&dir))?;
    keys::write_private_file(&path, text.as_bytes()).map_err(io_at(&path))?;
    Ok(key)
}

/// Whether device `name`'s key file needs a passphrase.
pub fn device_key_is_encrypted(store: &Store, name: &str) -> Result<bool, StoreError> {
    let path = device_key_path(store, name);
    let text = std::fs::read_to_string(&path).map_err(io_at(&path))?;
    keys::secret_key_is_encrypted(&text).map_err(|source| StoreError::Key { path, source })
}

/// Read device `name`'s secret key.
pub fn device_signing_key(
    store: &Store,
    name: &str,
    passphrase: Option<&[u8]>,
) -> Result<SigningKey, StoreError> {
    let path = device_key_path(store, name);
    let text = std::fs::read_to_string(&path).map_err(io_at(&path))?;
    keys::open_secret_key(&text, passphrase).map_err(|source| StoreError::Key { path, source })
}

/// Every key entry the store holds, of any log, in log order.
pub fn store_key_events(store: &Store) -> Result<Vec<KeyEvent>, StoreError> {
    let mut out = Vec::new();
    for kind in [
        EntryKind::KeyCertify,
        EntryKind::KeyRevoke,
        EntryKind::KeyRotate,
    ] {
        for e in store.entries(Some(kind)) {
            out.extend(KeyEvent::from_signed(&e?));
        }
    }
    out.sort_by_key(|e| (e.signer.to_bytes(), e.seq));
    Ok(out)
}

/// The trust of a store: its own keys (current and former, one group) and
/// `trusted` (the keys of `trust.json`) as roots, and the key entries it
/// holds, plus `extra` (a bundle's).
pub fn store_trust(
    store: &Store,
    trusted: &[VerifyingKey],
    extra: &[KeyEvent],
) -> Result<GroupTrust, StoreError> {
    let mut events = store_key_events(store)?;
    events.extend_from_slice(extra);
    Ok(GroupTrust::derive_with_own(
        &store.own_keys(),
        trusted,
        &events,
    ))
}

/// The keys of the store's `trust.json` (none when it cannot be read).
pub fn trusted_roots(store: &Store) -> Vec<VerifyingKey> {
    crate::trust::TrustStore::load(store.root())
        .map(|t| t.keys().iter().filter_map(|k| k.verifying_key()).collect())
        .unwrap_or_default()
}

/// The trust and groups of everything a store holds: [`store_trust`] with
/// the keys of its `trust.json`. The fold of a record uses it (FORMAT.md
/// §4.6), so that a store and its partners agree on who wrote what.
pub fn store_group_trust(store: &Store) -> Result<GroupTrust, StoreError> {
    store_trust(store, &trusted_roots(store), &[])
}

/// A store's [`store_group_trust`], derived the first time it is needed.
/// Deriving it reads the index of every entry, and most folds need none:
/// a record whose entries are all of one log has one author whatever the
/// groups are.
#[derive(Debug, Default)]
pub struct LazyGroupTrust {
    cell: std::sync::OnceLock<GroupTrust>,
}

impl LazyGroupTrust {
    pub fn new() -> LazyGroupTrust {
        LazyGroupTrust::default()
    }

    /// One already derived.
    pub fn derived(trust: GroupTrust) -> LazyGroupTrust {
        LazyGroupTrust {
            cell: std::sync::OnceLock::from(trust),
        }
    }

    /// The trust of `store` (always the same store for one value).
    pub fn get(&self, store: &Store) -> Result<&GroupTrust, StoreError> {
        if let Some(t) = self.cell.get() {
            return Ok(t);
        }
        let trust = store_group_trust(store)?;
        Ok(self.cell.get_or_init(|| trust))
    }
}

// Rotation of the group key.

/// What a rotation did.
#[derive(Clone, Debug)]
pub struct Rotation {
    /// The key the store signs with from now on.
    pub new_key: VerifyingKey,
    /// The `key-rotate` entry, in the old key's log.
    pub entry: EntryId,
    /// The old log's checkpoint that covers the rotation: the last one the
    /// old key signs.
    pub old_checkpoint: SignedCheckpoint,
    /// The new key's secret key file.
    pub key_file: PathBuf,
    /// True when this finished a rotation that an interruption had left
    /// half done (the entry was signed, the store had not switched).
    pub resumed: bool,
}

/// The `key-rotate` entry that ends the group's current log, if the log
/// ends with one: a rotation whose switch of `store.json` did not happen
/// (a crash between the two). `rotate_group_key` finishes it.
pub fn pending_rotation(store: &Store) -> Result<Option<KeyEvent>, StoreError> {
    let log = store.group_key().to_bytes();
    let size = store.log_state(&log)?.size;
    let Some(last) = size.checked_sub(1) else {
        return Ok(None);
    };
    let Some(id) = store.id_at(&log, last)? else {
        return Ok(None);
    };
    let entry = store.get(&id)?;
    Ok(KeyEvent::from_signed(&entry).filter(|e| matches!(e.body, KeyBody::Rotate { .. })))
}

/// Write the secret and public key files of a key the group rotates to,
/// under `group-keys/` (mode 0600 for the secret, never overwriting),
/// sealed with `passphrase` as `init` seals the group key.
fn write_rotated_key_files(
    store: &Store,
    key: &SigningKey,
    passphrase: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<PathBuf, StoreError> {
    let public = key.verifying_key();
    let path = store.group_key_file(&public);
    let dir = store.root().join(crate::store::GROUP_KEYS_DIR);
    std::fs::create_dir_all(&dir).map_err(io_at(&dir))?;
    let organisation = &store.meta().organisation;
    let text = keys::seal_secret_key(key, organisation, now, passphrase).map_err(|source| {
        StoreError::Key {
            path: path.clone(),
            source,
        }
    })?;
    keys::write_private_file(&path, text.as_bytes()).map_err(io_at(&path))?;
    let public_file = keys::PublicKeyFile {
        key: public,
        organisation: Some(organisation.clone()),
        created: Some(now),
    };
    let public_path = path.with_extension("pub");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&public_path)
        .map_err(io_at(&public_path))?;
    use std::io::Write;
    file.write_all(public_file.to_text().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_at(&public_path))?;
    crate::segment::sync_dir(&dir).map_err(io_at(&dir))?;
    Ok(path)
}

/// Rotate the group key (FORMAT.md §9.6): make a new key, write its key
/// files (sealed with `passphrase`, the current key's), sign a `key-rotate`
/// naming it into the current key's log, sign that log's last checkpoint,
/// and only then make the new key the store's group key. The old log is
/// kept and takes no more appends; a new log begins with the new key.
///
/// `current` must be the store's group key. If the log already ends with a
/// rotation whose key file is there (an interrupted rotation), that rotation
/// is finished instead of starting another.
pub fn rotate_group_key(
    store: &mut Store,
    current: &SigningKey,
    reason: &str,
    passphrase: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<Rotation, StoreError> {
    if current.verifying_key() != *store.group_key() {
        return Err(StoreError::Key {
            path: store.group_key_file(store.group_key()),
            source: keys::KeyError::PublicKeyMismatch,
        });
    }
    let pending = match pending_rotation(store)? {
        Some(KeyEvent {
            entry,
            body: KeyBody::Rotate { new_key, .. },
            ..
        }) => {
            let path = store.group_key_file(&new_key);
            let held = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| keys::secret_key_public_key(&t).ok());
            (held == Some(new_key)).then_some((new_key, entry, path))
        }
        _ => None,
    };
    let (new_key, entry, key_file, resumed) = match pending {
        Some((new_key, entry, path)) => (new_key, entry, path, true),
        None => {
            let new = keys::generate_signing_key().map_err(|source| StoreError::Key {
                path: store.root().join(crate::store::GROUP_KEYS_DIR),
                source,
            })?;
            // The key file first: an entry must never name a key whose
            // secret was not kept.
            let path = write_rotated_key_files(store, &new, passphrase, now)?;
            let body = KeyBody::Rotate {
                new_key: new.verifying_key(),
                reason: reason.to_string(),
            };
            let signed = store.append_bodies(current, vec![Body::Key(body)], now)?;
            (new.verifying_key(), signed[0].id, path, false)
        }
    };
    // The old log's last checkpoint covers the rotation, so that every
    // export of the old log carries it to partners.
    let old_checkpoint = store.sign_checkpoint(current)?;
    store.switch_group_key(new_key)?;
    Ok(Rotation {
        new_key,
        entry,
        old_checkpoint,
        key_file,
        resumed,
    })
}
