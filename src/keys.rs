//! STUB: replaced by the keys module.
pub use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct KeyId(pub [u8; 8]);
impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}
pub fn key_id(key: &VerifyingKey) -> KeyId {
    let mut h = blake3::Hasher::new();
    h.update(b"SIJILL-KEY-ID-V1\0");
    h.update(key.as_bytes());
    let mut o = [0u8; 8];
    o.copy_from_slice(&h.finalize().as_bytes()[..8]);
    KeyId(o)
}
pub fn generate_signing_key() -> Result<SigningKey, KeyError> {
    let mut s = [0u8; 32];
    getrandom::getrandom(&mut s).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&s))
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyFile {
    pub key: VerifyingKey,
    pub organisation: Option<String>,
    pub created: Option<time::OffsetDateTime>,
}
impl PublicKeyFile {
    pub fn to_text(&self) -> String {
        format!(
            "sijill-public-key-v1 {}\n",
            hex::encode(self.key.as_bytes())
        )
    }
    pub fn parse(_t: &str) -> Result<Self, KeyError> {
        todo!()
    }
}
pub fn seal_secret_key(
    key: &SigningKey,
    _o: &str,
    _c: time::OffsetDateTime,
    _p: Option<&[u8]>,
) -> Result<String, KeyError> {
    Ok(format!(
        "sijill-secret-key-v1\nsecret: {}\n",
        hex::encode(key.to_bytes())
    ))
}
pub fn open_secret_key(text: &str, _p: Option<&[u8]>) -> Result<SigningKey, KeyError> {
    let h = text.lines().nth(1).unwrap().trim_start_matches("secret: ");
    let b: [u8; 32] = hex::decode(h).unwrap().try_into().unwrap();
    Ok(SigningKey::from_bytes(&b))
}
pub fn secret_key_is_encrypted(_t: &str) -> Result<bool, KeyError> {
    Ok(false)
}
pub fn write_private_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("wrong passphrase")]
    WrongPassphrase,
    #[error("passphrase required")]
    PassphraseRequired,
    #[error("line {line}: {message}")]
    Malformed { line: usize, message: String },
    #[error("weak key")]
    WeakKey,
    #[error("public key mismatch")]
    PublicKeyMismatch,
    #[error("random: {0}")]
    Random(String),
}
