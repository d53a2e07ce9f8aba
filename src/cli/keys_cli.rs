//! `sijill key add-device`, `sijill key revoke` (of a device key or a key
//! the group rotated away from) and `sijill key rotate` (FORMAT.md §9.6).

use std::path::Path;

use time::OffsetDateTime;

use sijill::entry::{Body, EntryId};
use sijill::group_keys::{self, GroupTrust, KeyBody, KeyEvent, Standing};
use sijill::keys;
use sijill::store::Store;

use super::{open, read_passphrase, signing_key, Failure};

/// Make a device key, store it under `keys/`, and certify it in the group's log.
pub fn add_device(dir: &Path, name: &str, reason: Option<String>) -> Result<u8, Failure> {
    group_keys::check_device_name(name)
        .map_err(|e| Failure::usage(format!("--name {name:?}: {}", e.message)))?;
    let mut store = open(dir)?;
    let path = group_keys::device_key_path(&store, name);
    if path.exists() {
        return Err(Failure::usage(format!(
            "{}: a device key of that name exists; choose another name",
            path.display()
        )));
    }
    let reason = normalise_reason(reason)?;
    // The device key is sealed as the group key is: with the same passphrase,
    // or without one when the group key has none.
    let (group, passphrase) = if store.secret_key_is_encrypted()? {
        let p = read_passphrase(false)?;
        (store.signing_key(Some(p.as_bytes()))?, Some(p))
    } else {
        (store.signing_key(None)?, None)
    };
    let now = OffsetDateTime::now_utc();
    let device = group_keys::create_device_key(
        &store,
        name,
        passphrase.as_ref().map(|p| p.as_bytes()),
        now,
    )?;
    let body = KeyBody::Certify {
        key: device.verifying_key(),
        name: name.to_string(),
        reason,
    };
    let signed = store.append_bodies(&group, vec![Body::Key(body)], now)?;
    eprintln!(
        "device key {name:?} certified by entry {}; secret key in {}",
        signed[0].id,
        path.display()
    );
    println!("{}", keys::key_id(&device.verifying_key()));
    Ok(0)
}

fn normalise_reason(reason: Option<String>) -> Result<Option<String>, Failure> {
    match reason {
        None => Ok(None),
        Some(r) => {
            let r = r.trim().to_string();
            if r.is_empty() {
                return Err(Failure::usage("--reason is empty"));
            }
            Ok(Some(r))
        }
    }
}

/// A key `key revoke` may name: a device key this group certified, or a
/// key the group rotated away from.
struct Revocable {
    key: keys::VerifyingKey,
    /// `device NAME` or `former group key`.
    what: String,
    device: Option<String>,
}

/// Revoke a device key this group certified, or a former group key
/// (FORMAT.md §9.6): a `key-revoke` signed by the current group key.
pub fn revoke(
    dir: &Path,
    key_text: &str,
    reason: String,
    keep_up_to: Option<u64>,
) -> Result<u8, Failure> {
    let reason = normalise_reason(Some(reason))?.unwrap_or_default();
    let mut store = open(dir)?;
    let trusted = group_keys::trusted_roots(&store);
    let events = group_keys::store_key_events(&store)?;
    let trust = GroupTrust::derive_with_own(&store.own_keys(), &trusted, &events);
    // A device certified by one of this group's keys, even one another group
    // certified too (which leaves it in neither group, FORMAT.md §9.6 item 6).
    let certified_here = |k: &keys::VerifyingKey| {
        events.iter().any(|e| {
            matches!(&e.body, KeyBody::Certify { key, .. } if key == k) && trust.is_own(&e.signer)
        })
    };
    let mut revocable: Vec<Revocable> = trust
        .devices()
        .into_iter()
        .filter(|(k, _, _)| certified_here(k))
        .map(|(key, name, _)| Revocable {
            key,
            what: format!("device key {} ({name})", keys::key_id(&key)),
            device: Some(name),
        })
        .collect();
    revocable.extend(store.former_keys().into_iter().map(|key| Revocable {
        key,
        what: format!("former group key {}", keys::key_id(&key)),
        device: None,
    }));
    let wanted = key_text.trim().to_ascii_lowercase();
    let names = |k: &keys::VerifyingKey| {
        keys::key_id(k).to_string() == wanted || hex::encode(k.as_bytes()) == wanted
    };
    let found: Vec<&Revocable> = revocable
        .iter()
        .filter(|r| names(&r.key) || r.device.as_deref() == Some(key_text))
        .collect();
    let [target] = found.as_slice() else {
        if names(store.group_key()) {
            return Err(Failure::usage(format!(
                "{key_text:?} is the current group key, which signs the revocation"
            ))
            .hint("rotate first (`sijill key rotate`), then revoke the key rotated away from"));
        }
        let known = revocable.iter().map(|r| r.what.clone()).collect::<Vec<_>>();
        return Err(Failure::usage(format!(
            "{key_text:?} is not a device key certified by this group, nor a key it rotated away from"
        ))
        .hint(if known.is_empty() {
            "this group has certified no device key and rotated from no key".to_string()
        } else {
            format!("revocable keys: {}", known.join(", "))
        }));
    };
    let key = target.key;
    let held = store.log_state(&key.to_bytes())?.size;
    let keep_up_to = keep_up_to.unwrap_or(held);
    if let Some(r) = trust.revocation(&key) {
        if r.keep_up_to <= keep_up_to {
            return Err(Failure::usage(format!(
                "key {} is already revoked from seq {} by entry {}",
                keys::key_id(&key),
                r.keep_up_to,
                r.entry
            )));
        }
    }
    let body = KeyBody::Revoke {
        key,
        keep_up_to,
        reason,
    };
    if target.device.is_none() {
        check_keeps_rotation(&store, &trusted, &events, &key, keep_up_to, &body)?;
    }
    let group = signing_key(&store)?;
    let signed = store.append_bodies(&group, vec![Body::Key(body)], OffsetDateTime::now_utc())?;
    eprintln!(
        "{} revoked: its entries from seq {keep_up_to} on no longer verify (this store holds {held})",
        target.what
    );
    if target.device.is_none() {
        eprintln!(
            "partners who hold the rotation honour the revocation once they import a bundle that carries it: export one for them"
        );
    }
    println!("{}", signed[0].id);
    Ok(0)
}

/// A former group key is revoked only by a key it rotated to, through a
/// rotation the revocation keeps (FORMAT.md §9.6 item 3): refuse a
/// `keep_up_to` that would cut the rotation the current key descends from.
fn check_keeps_rotation(
    store: &Store,
    trusted: &[keys::VerifyingKey],
    events: &[KeyEvent],
    key: &keys::VerifyingKey,
    keep_up_to: u64,
    body: &KeyBody,
) -> Result<(), Failure> {
    let planned = KeyEvent {
        entry: EntryId([0xff; 32]),
        signer: *store.group_key(),
        seq: store.log_state(&store.group_key().to_bytes())?.size,
        body: body.clone(),
    };
    let mut with = events.to_vec();
    with.push(planned.clone());
    let after = GroupTrust::derive_with_own(&store.own_keys(), trusted, &with);
    if after
        .revocation(key)
        .is_some_and(|r| r.entry == planned.entry && r.keep_up_to == keep_up_to)
    {
        return Ok(());
    }
    let rotation = events
        .iter()
        .filter(|e| e.signer == *key && matches!(e.body, KeyBody::Rotate { .. }))
        .map(|e| (e.seq, e.entry))
        .min();
    Err(match rotation {
        Some((seq, entry)) => Failure::usage(format!(
            "--keep-up-to {keep_up_to} would cut the rotation (entry {entry}, seq {seq} of that key's log) through which the current group key descends from key {}",
            keys::key_id(key)
        ))
        .hint(format!(
            "give --keep-up-to {} or more; entries before the rotation that the group did not write are withdrawn with `sijill retract`",
            seq + 1
        )),
        None => Failure::usage(format!(
            "the current group key does not descend from key {} through a rotation this store holds",
            keys::key_id(key)
        )),
    })
}

/// Rotate the group key: a `key-rotate` entry signed by the current key
/// names a new key, which the store signs with from then on, in a new log.
pub fn rotate(dir: &Path, reason: Option<String>) -> Result<u8, Failure> {
    let reason =
        normalise_reason(reason)?.unwrap_or_else(|| "the group's key was rotated".to_string());
    let mut store = open(dir)?;
    // The new key is sealed as the current one is: with the same passphrase,
    // or without one when the current key has none (as `key add-device`).
    let (current, passphrase) = if store.secret_key_is_encrypted()? {
        let p = read_passphrase(false)?;
        (store.signing_key(Some(p.as_bytes()))?, Some(p))
    } else {
        (store.signing_key(None)?, None)
    };
    let old = *store.group_key();
    let rotation = group_keys::rotate_group_key(
        &mut store,
        &current,
        &reason,
        passphrase.as_ref().map(|p| p.as_bytes()),
        OffsetDateTime::now_utc(),
    )?;
    if rotation.resumed {
        eprintln!("finished the rotation an interruption had left half done");
    }
    eprintln!(
        "the group key is now {} (secret key in {}); entry {} in the log of {} names it, and that log's last checkpoint (size {}) covers it",
        keys::key_id(&rotation.new_key),
        rotation.key_file.display(),
        rotation.entry,
        keys::key_id(&old),
        rotation.old_checkpoint.checkpoint.size
    );
    eprintln!(
        "the log of {} is kept and takes no more entries; new entries go to the log of {}. Partners who trust {} accept the new key once they import a bundle that carries the rotation: export one for them",
        keys::key_id(&old),
        keys::key_id(&rotation.new_key),
        keys::key_id(&store.root_key())
    );
    println!("{}", keys::key_id(&rotation.new_key));
    Ok(0)
}

/// The device signing key of `name`, which this group must have certified
/// and not revoked.
pub fn device_key(store: &Store, name: &str) -> Result<keys::SigningKey, Failure> {
    let path = group_keys::device_key_path(store, name);
    if !path.exists() {
        return Err(Failure::usage(format!(
            "no device key {name:?} in this store ({} does not exist)",
            path.display()
        ))
        .hint("create one with `sijill key add-device --name NAME`"));
    }
    let key = if group_keys::device_key_is_encrypted(store, name)? {
        let p = read_passphrase(false)?;
        group_keys::device_signing_key(store, name, Some(p.as_bytes()))?
    } else {
        group_keys::device_signing_key(store, name, None)?
    };
    let trust = group_keys::store_trust(store, &[], &[])?;
    let public = key.verifying_key();
    if !matches!(trust.standing(&public), Some(Standing::Device { .. })) {
        return Err(Failure::usage(format!(
            "device key {name:?} ({}) is not certified by this group's log",
            keys::key_id(&public)
        )));
    }
    let size = store.log_state(&public.to_bytes())?.size;
    if let Some(why) = trust.revoked_entry(&public, size) {
        return Err(Failure::usage(format!(
            "cannot sign with device {name:?}: {why}"
        )));
    }
    Ok(key)
}
