//! The trust store: which other groups' keys this group accepts, under the
//! names it gave them (docs/FORMAT.md §6.7, §14.1).
//!
//! Trust is a local decision, not a record: it lives in `trust.json`, which is
//! replaced atomically (write, sync, rename, sync the directory) when a key is
//! added or removed. Verification only ever consults it; it never changes
//! what a signature proves.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::{self, PublicKeyFile, VerifyingKey};

pub const TRUST_FILE: &str = "trust.json";
/// Longest name a trusted key may be given, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// One trusted key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    /// The name this group gave the key (unique in the store).
    pub name: String,
    /// 64 lowercase hex characters.
    pub key: String,
    /// The organisation the key file said it belonged to (untrusted text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    pub added_at: String,
}

impl TrustedKey {
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        keys::parse_public_key_hex(&self.key)
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    keys: Vec<TrustedKey>,
}

/// Why a trust operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a valid trust file: {message}")]
    Malformed { path: PathBuf, message: String },
    #[error("a key named {0:?} is already trusted")]
    NameTaken(String),
    #[error("this key is already trusted as {0:?}")]
    KeyTaken(String),
    #[error("no trusted key is named {0:?}")]
    NoSuchName(String),
    #[error("invalid name {0:?}: {1}")]
    BadName(String, &'static str),
}

/// The trusted keys of a store.
pub struct TrustStore {
    path: PathBuf,
    keys: Vec<TrustedKey>,
}

impl TrustStore {
    /// Read the trust store of the store at `root` (empty when there is none).
    pub fn load(root: &Path) -> Result<TrustStore, TrustError> {
        let path = root.join(TRUST_FILE);
        let keys = match fs::read(&path) {
            Ok(bytes) => {
                let file: TrustFile =
                    serde_json::from_slice(&bytes).map_err(|e| TrustError::Malformed {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                for k in &file.keys {
                    if k.verifying_key().is_none() {
                        return Err(TrustError::Malformed {
                            path: path.clone(),
                            message: format!("the key of {:?} is not a valid public key", k.name),
                        });
                    }
                }
                file.keys
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(TrustError::Io { path, source }),
        };
        Ok(TrustStore { path, keys })
    }

    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// The name a key is trusted under.
    pub fn name_of(&self, key: &VerifyingKey) -> Option<&str> {
        let hex_key = hex::encode(key.as_bytes());
        self.keys
            .iter()
            .find(|k| k.key == hex_key)
            .map(|k| k.name.as_str())
    }

    /// Every trusted key with its name.
    pub fn named_keys(&self) -> Vec<(String, VerifyingKey)> {
        self.keys
            .iter()
            .filter_map(|k| k.verifying_key().map(|v| (k.name.clone(), v)))
            .collect()
    }

    /// Trust the key of a public key file under `name`.
    pub fn add(&mut self, name: &str, file: &PublicKeyFile) -> Result<&TrustedKey, TrustError> {
        let name = check_name(name)?;
        if self.keys.iter().any(|k| k.name == name) {
            return Err(TrustError::NameTaken(name));
        }
        if let Some(existing) = self.name_of(&file.key) {
            return Err(TrustError::KeyTaken(existing.to_string()));
        }
        self.keys.push(TrustedKey {
            name,
            key: hex::encode(file.key.as_bytes()),
            organisation: file.organisation.clone(),
            added_at: crate::entry::format_timestamp(OffsetDateTime::now_utc()),
        });
        self.save()?;
        Ok(self.keys.last().expect("just pushed"))
    }

    /// Stop trusting the key named `name`.
    pub fn remove(&mut self, name: &str) -> Result<TrustedKey, TrustError> {
        let index = self
            .keys
            .iter()
            .position(|k| k.name == name.trim())
            .ok_or_else(|| TrustError::NoSuchName(name.to_string()))?;
        let removed = self.keys.remove(index);
        self.save()?;
        Ok(removed)
    }

    fn save(&self) -> Result<(), TrustError> {
        let io_err = |source| TrustError::Io {
            path: self.path.clone(),
            source,
        };
        let mut text = serde_json::to_vec_pretty(&TrustFile {
            keys: self.keys.clone(),
        })
        .unwrap_or_default();
        text.push(b'\n');
        let tmp = self.path.with_extension("json.tmp");
        let mut file = fs::File::create(&tmp).map_err(io_err)?;
        file.write_all(&text).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        fs::rename(&tmp, &self.path).map_err(io_err)?;
        if let Some(dir) = self.path.parent() {
            crate::segment::sync_dir(dir).map_err(io_err)?;
        }
        Ok(())
    }
}

fn check_name(name: &str) -> Result<String, TrustError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TrustError::BadName(name.into(), "it is empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(TrustError::BadName(
            name.into(),
            "it is longer than 64 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(TrustError::BadName(
            name.into(),
            "it holds control characters",
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_file(seed: u8) -> PublicKeyFile {
        PublicKeyFile {
            key: keys::SigningKey::from_bytes(&[seed; 32]).verifying_key(),
            organisation: Some("Partner".into()),
            created: None,
        }
    }

    #[test]
    fn add_list_remove_survive_reloading() {
        let dir = tempfile::tempdir().unwrap();
        let mut trust = TrustStore::load(dir.path()).unwrap();
        trust.add("Partner Group", &key_file(1)).unwrap();
        trust.add("Witness", &key_file(2)).unwrap();
        let reloaded = TrustStore::load(dir.path()).unwrap();
        assert_eq!(reloaded.keys().len(), 2);
        assert_eq!(reloaded.name_of(&key_file(2).key), Some("Witness"));
        let mut trust = reloaded;
        trust.remove("Partner Group").unwrap();
        assert_eq!(TrustStore::load(dir.path()).unwrap().keys().len(), 1);
    }

    #[test]
    fn duplicates_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut trust = TrustStore::load(dir.path()).unwrap();
        trust.add("A", &key_file(1)).unwrap();
        assert!(matches!(
            trust.add("A", &key_file(2)),
            Err(TrustError::NameTaken(_))
        ));
        assert!(matches!(
            trust.add("B", &key_file(1)),
            Err(TrustError::KeyTaken(_))
        ));
        assert!(matches!(
            trust.add("  ", &key_file(3)),
            Err(TrustError::BadName(..))
        ));
        assert!(matches!(
            trust.add("a\u{7}b", &key_file(3)),
            Err(TrustError::BadName(..))
        ));
        assert!(matches!(
            trust.remove("nobody"),
            Err(TrustError::NoSuchName(_))
        ));
    }
}
