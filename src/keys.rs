//! Signing keys, key ids and the two key files (docs/FORMAT.md, "Keys").
//!
//! Every entry in the record is signed with an Ed25519 key held by a field
//! monitor or an organisation. This module is the only place that creates,
//! stores and reads those keys, so that the rules protecting them live in one
//! spot:
//!
//! - A **key id** names a public key in entries and on screen: the first 8 bytes
//!   of `BLAKE3("SIJILL-KEY-ID-V1\0" || public key)`, shown as 16 lowercase hex
//!   characters. The domain prefix keeps the id from colliding with any other
//!   BLAKE3 use of the same 32 bytes.
//! - The **public key file** is plain text anyone may pass around; it holds one
//!   key line, and `#` comments that a person reads but the program never trusts.
//! - The **secret key file** is written on laptops that may be seized. Its seed
//!   is encrypted with XChaCha20-Poly1305 under a key that Argon2id derives from
//!   a passphrase, so the file alone gives a seizer nothing but an offline
//!   guessing job made expensive on purpose. The associated data binds the
//!   version line, the public key and the KDF parameters, so a file whose public
//!   key was swapped or whose parameters were weakened does not decrypt.
//!
//! Readers treat every file as hostile: size and line limits are checked before
//! anything else, every field is checked for shape, the KDF parameters must lie
//! within bounds (a file cannot make us allocate more than 1 GiB or spin for
//! ever), and every failure is a typed [`KeyError`] naming its line. Nothing
//! here panics on input. Secrets (seed, derived key, Argon2 working memory) are
//! wiped from memory when dropped.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use zeroize::{Zeroize, Zeroizing};

pub use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

/// Domain-separation prefix of the key id hash (docs/FORMAT.md).
pub const KEY_ID_CONTEXT: &[u8] = b"SIJILL-KEY-ID-V1\0";
/// The version word that starts the key line of a public key file.
pub const PUBLIC_KEY_VERSION: &str = "sijill-public-key-v1";
/// The first line that is not a comment in a secret key file.
pub const SECRET_KEY_VERSION: &str = "sijill-secret-key-v1";
/// A key file larger than this is refused before it is parsed.
pub const MAX_FILE_BYTES: usize = 64 * 1024;
/// A line longer than this (not counting its `\n`) is refused.
pub const MAX_LINE_BYTES: usize = 4096;
/// Organisation labels are cut to this many characters, so that a written file
/// always stays within [`MAX_LINE_BYTES`].
pub const MAX_LABEL_CHARS: usize = 256;

const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const SEED_LEN: usize = 32;
const TAG_LEN: usize = 16;
const CIPHERTEXT_LEN: usize = SEED_LEN + TAG_LEN;

/// The short name of a public key: first 8 bytes of
/// `BLAKE3(KEY_ID_CONTEXT || public key)`. Shown (Display and Debug) as 16
/// lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for KeyId {
    type Err = KeyError;

    /// Parses exactly 16 lowercase hex characters, the form [`KeyId`] displays.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let mut id = [0u8; 8];
        if !is_lower_hex(s, id.len()) || hex::decode_to_slice(s, &mut id).is_err() {
            return Err(KeyError::BadKeyId(quote(s)));
        }
        Ok(KeyId(id))
    }
}

/// The key id of `key` (see [`KeyId`]).
pub fn key_id(key: &VerifyingKey) -> KeyId {
    let mut hasher = blake3::Hasher::new();
    hasher.update(KEY_ID_CONTEXT);
    hasher.update(key.as_bytes());
    let hash = hasher.finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&hash.as_bytes()[..8]);
    KeyId(id)
}

/// A new signing key whose 32-byte seed comes from the operating system's
/// random source. Fails rather than falling back to anything weaker.
pub fn generate_signing_key() -> Result<SigningKey, KeyError> {
    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    getrandom::getrandom(&mut seed[..]).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Everything that can go wrong with keys and key files.
///
/// Problems with a file name their 1-based line where there is one. Messages
/// never repeat the content of a secret key file's lines, since a damaged line
/// may hold key material.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The AEAD rejected the ciphertext: the passphrase is wrong, or the salt,
    /// nonce, ciphertext, public key or KDF parameters were changed. The
    /// cipher cannot tell these apart, so neither can we.
    #[error("wrong passphrase, or the file was altered (decryption failed)")]
    WrongPassphrase,
    /// The secret key file is encrypted and no passphrase was given.
    #[error("this secret key file is encrypted: a passphrase is required")]
    PassphraseRequired,
    /// Sealing with an empty passphrase would only pretend to protect the key;
    /// callers who mean "no protection" pass `None`.
    #[error("an empty passphrase does not protect a key; give a passphrase, or none to write an unencrypted file")]
    EmptyPassphrase,
    /// A line of a key file is wrong.
    #[error("line {line}: {message}")]
    Malformed { line: usize, message: String },
    /// A line or field that every file of this kind has is absent.
    #[error("{what} is missing")]
    Missing { what: String },
    /// The file is of a later (or unknown) version of the format.
    #[error("line {line}: unsupported version {found} (this build reads {expected})")]
    UnsupportedVersion {
        line: usize,
        found: String,
        expected: &'static str,
    },
    /// Argon2id parameters outside what a reader accepts: too weak to protect a
    /// key, or so large that a hostile file could exhaust memory or time.
    #[error("line {line}: argon2id {param}={value} is outside the accepted range {min}..={max}")]
    KdfParamsOutOfRange {
        line: usize,
        param: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    /// The public key is a small-order point: signatures could verify under it
    /// without anyone holding a secret key.
    #[error("the public key is weak (a small-order point) and cannot be trusted")]
    WeakKey,
    /// The secret seed does not produce the public key the file states.
    #[error("the secret key does not belong to the public key stated in the file")]
    PublicKeyMismatch,
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("the file is {size} bytes; a key file may have at most {limit}")]
    TooLarge { size: u64, limit: u64 },
    /// A string that should have been a key id.
    #[error("not a key id: {0} (expected 16 lowercase hex characters)")]
    BadKeyId(String),
    /// The operating system's random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    /// Argon2id could not run (parameters, or memory could not be had).
    #[error("key derivation failed: {0}")]
    Kdf(String),
    /// Encryption failed (not expected with valid inputs).
    #[error("encryption failed: {0}")]
    Encrypt(String),
    /// Reading a key file failed.
    #[error("cannot read the key file: {0}")]
    Io(#[from] std::io::Error),
}

// ---------------------------------------------------------------------------
// Argon2id parameters

/// Argon2id cost parameters: memory in KiB, passes, lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane (RFC 9106's second recommended option): about
    /// 0.2 s per attempt on a 2-core machine, cheap to open, costly to guess.
    fn default() -> Self {
        KdfParams {
            m_kib: 65536,
            t: 3,
            p: 1,
        }
    }
}

impl KdfParams {
    /// Least memory a reader accepts (8 MiB); less would make guessing cheap.
    pub const MIN_M_KIB: u32 = 8192;
    /// Most memory a reader accepts (1 GiB), so a hostile file cannot exhaust it.
    pub const MAX_M_KIB: u32 = 1024 * 1024;
    pub const MIN_T: u32 = 1;
    /// Most passes a reader accepts, so a hostile file cannot spin for minutes.
    pub const MAX_T: u32 = 16;
    pub const MIN_P: u32 = 1;
    pub const MAX_P: u32 = 8;

    /// The first parameter outside its bounds, as (name, value, min, max).
    fn out_of_range(&self) -> Option<(&'static str, u32, u32, u32)> {
        [
            ("m", self.m_kib, Self::MIN_M_KIB, Self::MAX_M_KIB),
            ("t", self.t, Self::MIN_T, Self::MAX_T),
            ("p", self.p, Self::MIN_P, Self::MAX_P),
        ]
        .into_iter()
        .find(|&(_, value, min, max)| value < min || value > max)
    }

    /// Derive the 32-byte XChaCha20-Poly1305 key from a passphrase and salt.
    fn derive_key(
        &self,
        passphrase: &[u8],
        salt: &[u8; SALT_LEN],
    ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        if let Some((name, value, min, max)) = self.out_of_range() {
            return Err(KeyError::Kdf(format!(
                "{name}={value} is outside the accepted range {min}..={max}"
            )));
        }
        let params = Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| KeyError::Kdf(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        // We give Argon2 its working memory ourselves: the blocks hold values
        // derived from the passphrase, and the argon2 crate only wipes them with
        // a feature we do not enable. Allocation is fallible so that a large
        // (in-bounds) parameter on a small machine is an error, not an abort.
        let mut memory = WipedBlocks(Vec::new());
        memory
            .0
            .try_reserve_exact(params.block_count())
            .map_err(|_| {
                KeyError::Kdf(format!("cannot allocate {} KiB for argon2id", self.m_kib))
            })?;
        memory.0.resize(params.block_count(), Block::default());
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into_with_memory(passphrase, salt, &mut key[..], &mut memory.0[..])
            .map_err(|e| KeyError::Kdf(e.to_string()))?;
        Ok(key)
    }
}

impl fmt::Display for KdfParams {
    /// The value of the `kdf:` line, e.g. `argon2id m=65536 t=3 p=1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "argon2id m={} t={} p={}", self.m_kib, self.t, self.p)
    }
}

/// Argon2 working memory, wiped when dropped (also on the error path).
struct WipedBlocks(Vec<Block>);

impl Drop for WipedBlocks {
    fn drop(&mut self) {
        for block in self.0.iter_mut() {
            AsMut::<[u64]>::as_mut(block).zeroize();
        }
    }
}

// ---------------------------------------------------------------------------
// Public key file

/// A parsed public key file. `organisation` and `created` come from comment
/// lines: they are labels for people, never checked and never trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyFile {
    pub key: VerifyingKey,
    pub organisation: Option<String>,
    pub created: Option<OffsetDateTime>,
}

impl PublicKeyFile {
    /// The key's id.
    pub fn key_id(&self) -> KeyId {
        key_id(&self.key)
    }

    /// The text of the file. The organisation passes through
    /// [`sanitize_label`]; `created` is written in UTC as RFC 3339 and left
    /// out if it cannot be (a year outside 0..=9999).
    pub fn to_text(&self) -> String {
        let mut out = String::from("# sijill public key\n");
        push_label_comments(&mut out, self.organisation.as_deref(), self.created);
        out.push_str(&format!("# key id: {}\n", key_id(&self.key)));
        out.push_str(&format!(
            "{PUBLIC_KEY_VERSION} {}\n",
            hex::encode(self.key.as_bytes())
        ));
        out
    }

    /// Parse a public key file: exactly one key line
    /// `sijill-public-key-v1 <64 lowercase hex>`, any number of empty and `#`
    /// comment lines. The key must be a canonical, non-weak Ed25519 point.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let lines = split_lines(text)?;
        let mut key: Option<(usize, VerifyingKey)> = None;
        for line in &lines.content {
            let (n, s) = (line.number, line.text);
            if let Some((first, _)) = key {
                return Err(malformed(
                    n,
                    format!("a public key file has one key line, and line {first} is already one"),
                ));
            }
            let (word, rest) = s.split_once(' ').unwrap_or((s, ""));
            if word != PUBLIC_KEY_VERSION {
                if word.starts_with("sijill-secret-key-") {
                    return Err(malformed(
                        n,
                        "this is a secret key file, not a public key file: do not share it",
                    ));
                }
                if word
                    .strip_prefix("sijill-public-key-")
                    .is_some_and(is_version_word)
                {
                    return Err(KeyError::UnsupportedVersion {
                        line: n,
                        found: quote(word),
                        expected: PUBLIC_KEY_VERSION,
                    });
                }
                return Err(malformed(
                    n,
                    format!("expected \"{PUBLIC_KEY_VERSION} <64 lowercase hex characters>\""),
                ));
            }
            key = Some((n, decode_public_key(n, "the public key", rest)?));
        }
        let Some((_, key)) = key else {
            return Err(KeyError::Missing {
                what: format!("the \"{PUBLIC_KEY_VERSION} ...\" key line"),
            });
        };
        lines.check_key_id_comments(&key)?;
        Ok(PublicKeyFile {
            key,
            organisation: lines.organisation,
            created: lines.created,
        })
    }
}

// ---------------------------------------------------------------------------
// Secret key file

/// The text of a new secret key file; `passphrase: None` writes an unencrypted
/// file (callers warn). Encrypted files use [`KdfParams::default`], a random
/// 16-byte salt and a random 24-byte nonce.
pub fn seal_secret_key(
    key: &SigningKey,
    organisation: &str,
    created: OffsetDateTime,
    passphrase: Option<&[u8]>,
) -> Result<String, KeyError> {
    match passphrase {
        None => Ok(secret_key_text(key, organisation, created, None)),
        Some(p) => seal_secret_key_with_params(key, organisation, created, p, KdfParams::default()),
    }
}

/// Like [`seal_secret_key`] with a passphrase, but with chosen Argon2id
/// parameters (which must lie within the reader's bounds).
pub fn seal_secret_key_with_params(
    key: &SigningKey,
    organisation: &str,
    created: OffsetDateTime,
    passphrase: &[u8],
    params: KdfParams,
) -> Result<String, KeyError> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut salt).map_err(|e| KeyError::Random(e.to_string()))?;
    getrandom::getrandom(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
    seal_secret_key_deterministic(key, organisation, created, passphrase, params, salt, nonce)
}

/// Seal with a given salt and nonce. **Only for known-answer vectors**
/// (fixtures/vectors/keys): a fixed salt and nonce are safe only for a test key.
/// Public so that integration tests can reproduce the vectors byte for byte.
#[doc(hidden)]
pub fn seal_secret_key_deterministic(
    key: &SigningKey,
    organisation: &str,
    created: OffsetDateTime,
    passphrase: &[u8],
    params: KdfParams,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
) -> Result<String, KeyError> {
    if passphrase.is_empty() {
        return Err(KeyError::EmptyPassphrase);
    }
    let public = key.verifying_key();
    let aead_key = params.derive_key(passphrase, &salt)?;
    let cipher = XChaCha20Poly1305::new(Key::from_slice(&aead_key[..]));
    let mut buffer = Zeroizing::new(key.to_bytes());
    let tag = cipher
        .encrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            associated_data(&public, &params).as_bytes(),
            &mut buffer[..],
        )
        .map_err(|e| KeyError::Encrypt(e.to_string()))?;
    // After encryption the buffer holds ciphertext, no longer secret.
    let mut ciphertext = [0u8; CIPHERTEXT_LEN];
    ciphertext[..SEED_LEN].copy_from_slice(&buffer[..]);
    ciphertext[SEED_LEN..].copy_from_slice(&tag);
    Ok(secret_key_text(
        key,
        organisation,
        created,
        Some(&Sealed {
            params,
            salt,
            nonce,
            ciphertext,
        }),
    ))
}

/// Open a secret key file. `passphrase` is required when the file is encrypted
/// and ignored when it is not. The seed is checked to produce the public key
/// the file states.
pub fn open_secret_key(text: &str, passphrase: Option<&[u8]>) -> Result<SigningKey, KeyError> {
    let parsed = parse_secret(text)?;
    let seed = match &parsed.body {
        SecretBody::Plain(seed) => seed.clone(),
        SecretBody::Sealed(sealed) => {
            let passphrase = passphrase.ok_or(KeyError::PassphraseRequired)?;
            let aead_key = sealed.params.derive_key(passphrase, &sealed.salt)?;
            let cipher = XChaCha20Poly1305::new(Key::from_slice(&aead_key[..]));
            let mut seed = Zeroizing::new([0u8; SEED_LEN]);
            seed.copy_from_slice(&sealed.ciphertext[..SEED_LEN]);
            cipher
                .decrypt_in_place_detached(
                    XNonce::from_slice(&sealed.nonce),
                    associated_data(&parsed.public, &sealed.params).as_bytes(),
                    &mut seed[..],
                    Tag::from_slice(&sealed.ciphertext[SEED_LEN..]),
                )
                .map_err(|_| KeyError::WrongPassphrase)?;
            seed
        }
    };
    let key = SigningKey::from_bytes(&seed);
    if key.verifying_key() != parsed.public {
        return Err(KeyError::PublicKeyMismatch);
    }
    Ok(key)
}

/// Whether a secret key file is encrypted (`kdf: argon2id ...`). The whole
/// file is checked, so a malformed file is an error here too.
pub fn secret_key_is_encrypted(text: &str) -> Result<bool, KeyError> {
    Ok(matches!(parse_secret(text)?.body, SecretBody::Sealed(_)))
}

/// The public key a secret key file states, without decrypting it (for
/// showing which key a file holds before asking for its passphrase).
pub fn secret_key_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    Ok(parse_secret(text)?.public)
}

/// The associated data of the AEAD: the canonical version, public key and kdf
/// lines. Any change to them makes decryption fail.
fn associated_data(public: &VerifyingKey, params: &KdfParams) -> String {
    format!(
        "{SECRET_KEY_VERSION}\npublic-key: {}\nkdf: {params}\n",
        hex::encode(public.as_bytes())
    )
}

struct Sealed {
    params: KdfParams,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
    ciphertext: [u8; CIPHERTEXT_LEN],
}

enum SecretBody {
    Plain(Zeroizing<[u8; SEED_LEN]>),
    Sealed(Sealed),
}

struct ParsedSecret {
    public: VerifyingKey,
    body: SecretBody,
}

fn secret_key_text(
    key: &SigningKey,
    organisation: &str,
    created: OffsetDateTime,
    sealed: Option<&Sealed>,
) -> String {
    let public = key.verifying_key();
    // Room for the whole file up front, so that no reallocation leaves a copy
    // of an unencrypted seed behind in freed memory (labels are capped).
    let mut out = String::with_capacity(4096);
    out.push_str("# sijill secret key: keep this file private\n");
    push_label_comments(&mut out, Some(organisation), Some(created));
    out.push_str(&format!("# key id: {}\n", key_id(&public)));
    match sealed {
        Some(_) => {
            out.push_str("# protected by a passphrase (argon2id, xchacha20-poly1305)\n");
        }
        None => {
            out.push_str("# not encrypted: anyone who reads this file can sign as this key\n");
        }
    }
    out.push_str(SECRET_KEY_VERSION);
    out.push('\n');
    out.push_str(&format!("public-key: {}\n", hex::encode(public.as_bytes())));
    match sealed {
        Some(s) => {
            out.push_str(&format!("kdf: {}\n", s.params));
            out.push_str(&format!("salt: {}\n", hex::encode(s.salt)));
            out.push_str(&format!("nonce: {}\n", hex::encode(s.nonce)));
            out.push_str(&format!("ciphertext: {}\n", hex::encode(s.ciphertext)));
        }
        None => {
            out.push_str("kdf: none\n");
            let seed = Zeroizing::new(hex::encode(key.as_bytes()));
            out.push_str("secret: ");
            out.push_str(&seed);
            out.push('\n');
        }
    }
    out
}

/// The fields of a secret key file, in the order they are written.
const SECRET_FIELDS: [&str; 6] = ["public-key", "kdf", "salt", "nonce", "ciphertext", "secret"];
const F_PUBLIC: usize = 0;
const F_KDF: usize = 1;
const F_SALT: usize = 2;
const F_NONCE: usize = 3;
const F_CIPHERTEXT: usize = 4;
const F_SECRET: usize = 5;

fn parse_secret(text: &str) -> Result<ParsedSecret, KeyError> {
    let lines = split_lines(text)?;
    let mut version_line: Option<usize> = None;
    // (line number, value) of each field, by index in SECRET_FIELDS.
    let mut fields: [Option<(usize, &str)>; SECRET_FIELDS.len()] = [None; SECRET_FIELDS.len()];
    for line in &lines.content {
        let (n, s) = (line.number, line.text);
        let Some(first) = version_line else {
            if s == SECRET_KEY_VERSION {
                version_line = Some(n);
                continue;
            }
            if s.starts_with("sijill-public-key-") {
                return Err(malformed(
                    n,
                    "this is a public key file, not a secret key file",
                ));
            }
            if s.strip_prefix("sijill-secret-key-")
                .is_some_and(is_version_word)
            {
                return Err(KeyError::UnsupportedVersion {
                    line: n,
                    found: quote(s),
                    expected: SECRET_KEY_VERSION,
                });
            }
            return Err(malformed(
                n,
                format!(
                    "expected \"{SECRET_KEY_VERSION}\" as the first line that is not a comment"
                ),
            ));
        };
        if s == SECRET_KEY_VERSION {
            return Err(malformed(
                n,
                format!("a second \"{SECRET_KEY_VERSION}\" line (the first is line {first}): one key per file"),
            ));
        }
        // Never echo the line: it may be a damaged `secret:` line.
        let Some((name, value)) = s.split_once(':') else {
            return Err(malformed(n, "expected a \"name: value\" line"));
        };
        let Some(index) = SECRET_FIELDS.iter().position(|f| *f == name) else {
            let looks_like_name = !name.is_empty()
                && name.len() <= 32
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            return Err(if looks_like_name {
                malformed(n, format!("unknown field \"{name}\""))
            } else {
                malformed(n, "expected a \"name: value\" line")
            });
        };
        if let Some((earlier, _)) = fields[index] {
            return Err(malformed(
                n,
                format!("field \"{name}\" appears twice (first on line {earlier})"),
            ));
        }
        fields[index] = Some((n, value.trim_matches(is_blank)));
    }
    if version_line.is_none() {
        return Err(KeyError::Missing {
            what: format!("the \"{SECRET_KEY_VERSION}\" line"),
        });
    }
    let field = |index: usize| {
        fields[index].ok_or_else(|| KeyError::Missing {
            what: format!("field \"{}\"", SECRET_FIELDS[index]),
        })
    };

    let (n, value) = field(F_PUBLIC)?;
    let public = decode_public_key(n, "field \"public-key\"", value)?;
    lines.check_key_id_comments(&public)?;

    let (kdf_line, kdf) = field(F_KDF)?;
    let params = parse_kdf(kdf_line, kdf)?;
    // Fields that belong to the other kind of file are refused, above all a
    // `secret:` line in a file that claims to be encrypted.
    let unwanted: &[usize] = match params {
        None => &[F_SALT, F_NONCE, F_CIPHERTEXT],
        Some(_) => &[F_SECRET],
    };
    for &index in unwanted {
        if let Some((n, _)) = fields[index] {
            let kdf_word = if params.is_some() { "argon2id" } else { "none" };
            return Err(malformed(
                n,
                format!(
                    "field \"{}\" does not belong in a file whose kdf is {kdf_word}",
                    SECRET_FIELDS[index]
                ),
            ));
        }
    }
    let body = match params {
        None => {
            let (n, value) = field(F_SECRET)?;
            let mut seed = Zeroizing::new([0u8; SEED_LEN]);
            decode_hex_field(n, "secret", value, &mut seed[..])?;
            SecretBody::Plain(seed)
        }
        Some(params) => {
            let mut sealed = Sealed {
                params,
                salt: [0; SALT_LEN],
                nonce: [0; NONCE_LEN],
                ciphertext: [0; CIPHERTEXT_LEN],
            };
            let (n, value) = field(F_SALT)?;
            decode_hex_field(n, "salt", value, &mut sealed.salt)?;
            let (n, value) = field(F_NONCE)?;
            decode_hex_field(n, "nonce", value, &mut sealed.nonce)?;
            let (n, value) = field(F_CIPHERTEXT)?;
            decode_hex_field(n, "ciphertext", value, &mut sealed.ciphertext)?;
            SecretBody::Sealed(sealed)
        }
    };
    Ok(ParsedSecret { public, body })
}

/// `none`, or `argon2id m=<KiB> t=<passes> p=<lanes>` in that order, decimal
/// without leading zeros, every value within bounds.
fn parse_kdf(n: usize, value: &str) -> Result<Option<KdfParams>, KeyError> {
    if value == "none" {
        return Ok(None);
    }
    let shape = "expected \"none\" or \"argon2id m=<KiB> t=<passes> p=<lanes>\"";
    let words: Vec<&str> = value.split(' ').collect();
    match words.first() {
        Some(&"argon2id") => {}
        Some(word)
            if !word.is_empty()
                && word.len() <= 32
                && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            return Err(malformed(n, format!("unknown kdf \"{word}\"; {shape}")));
        }
        _ => return Err(malformed(n, shape)),
    }
    if words.len() != 4 {
        return Err(malformed(n, shape));
    }
    let number = |word: &str, name: &str| -> Result<u32, KeyError> {
        let digits = word
            .strip_prefix(name)
            .and_then(|w| w.strip_prefix('='))
            .ok_or_else(|| malformed(n, shape))?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !canonical {
            return Err(malformed(
                n,
                format!("argon2id {name} must be a decimal number without leading zeros"),
            ));
        }
        digits
            .parse::<u32>()
            .map_err(|_| malformed(n, format!("argon2id {name} is too large")))
    };
    let params = KdfParams {
        m_kib: number(words[1], "m")?,
        t: number(words[2], "t")?,
        p: number(words[3], "p")?,
    };
    if let Some((param, value, min, max)) = params.out_of_range() {
        return Err(KeyError::KdfParamsOutOfRange {
            line: n,
            param,
            value,
            min,
            max,
        });
    }
    Ok(Some(params))
}

// ---------------------------------------------------------------------------
// Writing files

/// Create a file that must not exist yet, mode 0600 on Unix, write, fsync the
/// file and its directory. Never overwrites.
///
/// `create_new` (O_CREAT|O_EXCL) also refuses a symlink planted at `path`. If
/// writing fails after the file was created, the partial file is removed so a
/// retry can succeed and no half-written key is left behind.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    sync_parent_dir(path)
}

/// fsync the directory holding `path`, so the new name survives a power cut.
#[cfg(unix)]
fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Directories cannot be opened for fsync on this platform.
#[cfg(not(unix))]
fn sync_parent_dir(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Read a key file, refusing one over [`MAX_FILE_BYTES`] without reading it
/// all, and one that is not UTF-8 (naming the line).
pub fn read_key_file(path: &Path) -> Result<String, KeyError> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_FILE_BYTES {
        let size = std::fs::metadata(path)
            .map(|m| m.len())
            .unwrap_or(bytes.len() as u64);
        bytes.zeroize();
        return Err(KeyError::TooLarge {
            size,
            limit: MAX_FILE_BYTES as u64,
        });
    }
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            let line = 1 + bytes[..valid].iter().filter(|&&b| b == b'\n').count();
            bytes.zeroize();
            Err(malformed(line, "the file is not valid UTF-8"))
        }
    }
}

// ---------------------------------------------------------------------------
// Shared line handling

/// A line that is neither empty nor a comment, trimmed.
struct ContentLine<'a> {
    number: usize,
    text: &'a str,
}

struct Lines<'a> {
    content: Vec<ContentLine<'a>>,
    organisation: Option<String>,
    created: Option<OffsetDateTime>,
    /// Every `# key id:` comment, to compare with the key.
    key_id_comments: Vec<(usize, &'a str)>,
}

impl Lines<'_> {
    /// A `# key id:` comment that disagrees with the key is refused: the file
    /// would tell a person one key and the program another.
    fn check_key_id_comments(&self, key: &VerifyingKey) -> Result<(), KeyError> {
        let id = key_id(key).to_string();
        for &(n, stated) in &self.key_id_comments {
            if stated != id {
                return Err(malformed(
                    n,
                    format!(
                        "the key id comment says {} but the key's id is {id}",
                        quote(stated)
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r'
}

/// Split a key file into lines, enforcing the size limits, and collect the
/// informative comments. Lines end at `\n`; spaces, tabs and a `\r` at either
/// end of a line are ignored.
fn split_lines(text: &str) -> Result<Lines<'_>, KeyError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(KeyError::TooLarge {
            size: text.len() as u64,
            limit: MAX_FILE_BYTES as u64,
        });
    }
    let mut lines = Lines {
        content: Vec::new(),
        organisation: None,
        created: None,
        key_id_comments: Vec::new(),
    };
    for (i, raw) in text.split('\n').enumerate() {
        let number = i + 1;
        if raw.len() > MAX_LINE_BYTES {
            return Err(malformed(
                number,
                format!("the line is longer than {MAX_LINE_BYTES} bytes"),
            ));
        }
        let s = raw.trim_matches(is_blank);
        if s.is_empty() {
            continue;
        }
        let Some(comment) = s.strip_prefix('#') else {
            lines.content.push(ContentLine { number, text: s });
            continue;
        };
        let comment = comment.trim_matches(is_blank);
        // The first of each label wins; a `created` that does not parse is
        // simply not shown. Labels are never used for any decision.
        if let Some(v) = comment.strip_prefix("organisation:") {
            if lines.organisation.is_none() {
                lines.organisation = Some(sanitize_label(v));
            }
        } else if let Some(v) = comment.strip_prefix("created:") {
            if lines.created.is_none() {
                lines.created = OffsetDateTime::parse(v.trim_matches(is_blank), &Rfc3339).ok();
            }
        } else if let Some(v) = comment.strip_prefix("key id:") {
            lines
                .key_id_comments
                .push((number, v.trim_matches(is_blank)));
        }
    }
    Ok(lines)
}

/// Make an organisation name safe to write on one comment line and to print:
/// control characters and bidirectional embedding/override/isolate characters
/// become U+FFFD, ends are trimmed, and it is cut to [`MAX_LABEL_CHARS`]
/// characters. Idempotent.
pub fn sanitize_label(label: &str) -> String {
    let cleaned: String = label
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    let cut: String = cleaned.trim().chars().take(MAX_LABEL_CHARS).collect();
    cut.trim().to_string()
}

fn push_label_comments(
    out: &mut String,
    organisation: Option<&str>,
    created: Option<OffsetDateTime>,
) {
    if let Some(org) = organisation {
        let org = sanitize_label(org);
        if org.is_empty() {
            out.push_str("# organisation:\n");
        } else {
            out.push_str(&format!("# organisation: {org}\n"));
        }
    }
    if let Some(created) = created {
        if let Ok(text) = created.to_offset(time::UtcOffset::UTC).format(&Rfc3339) {
            out.push_str(&format!("# created: {text}\n"));
        }
    }
}

fn malformed(line: usize, message: impl Into<String>) -> KeyError {
    KeyError::Malformed {
        line,
        message: message.into(),
    }
}

/// Quote text from a file for an error message: printable ASCII kept, anything
/// else escaped (no terminal control or bidi tricks), at most 64 characters.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        if i == 64 {
            out.push_str("...");
            break;
        }
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// `v` followed by 1 to 9 digits: the shape of a version suffix, so that a
/// later version is reported as such rather than as a malformed line.
fn is_version_word(s: &str) -> bool {
    s.strip_prefix('v')
        .is_some_and(|d| !d.is_empty() && d.len() <= 9 && d.bytes().all(|b| b.is_ascii_digit()))
}

fn is_lower_hex(s: &str, bytes: usize) -> bool {
    s.len() == bytes * 2 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Decode exactly `out.len()` bytes of lowercase hex. The value is not echoed.
fn decode_hex_field(n: usize, name: &str, value: &str, out: &mut [u8]) -> Result<(), KeyError> {
    if !is_lower_hex(value, out.len()) || hex::decode_to_slice(value, out).is_err() {
        return Err(malformed(
            n,
            format!(
                "{name} must be {} lowercase hex characters ({} bytes)",
                out.len() * 2,
                out.len()
            ),
        ));
    }
    Ok(())
}

/// A public key written as 64 lowercase hex characters, accepted only in
/// canonical encoding and not of small order: the one rule every place that
/// reads a key in hex (entries, store.json, key files) applies.
pub fn parse_public_key_hex(text: &str) -> Option<VerifyingKey> {
    if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    // Every entry names its log's key, and checking that a key is a valid
    // point costs a third of a signature check; consecutive entries nearly
    // always name the same key. The answer depends on the text alone.
    thread_local! {
        static LAST: std::cell::Cell<Option<([u8; 64], Option<VerifyingKey>)>> =
            const { std::cell::Cell::new(None) };
    }
    let text_bytes: [u8; 64] = text.as_bytes().try_into().ok()?;
    if let Some((last, key)) = LAST.get() {
        if last == text_bytes {
            return key;
        }
    }
    let key = parse_public_key_hex_uncached(text);
    LAST.set(Some((text_bytes, key)));
    key
}

fn parse_public_key_hex_uncached(text: &str) -> Option<VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    let key = VerifyingKey::from_bytes(&bytes).ok()?;
    (key.to_edwards().compress().to_bytes() == bytes && !key.is_weak()).then_some(key)
}

/// Decode a public key: 64 lowercase hex characters that are the canonical
/// encoding of an Ed25519 point that is not of small order.
fn decode_public_key(n: usize, what: &str, value: &str) -> Result<VerifyingKey, KeyError> {
    let mut bytes = [0u8; 32];
    decode_hex_field(n, what, value, &mut bytes)?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| malformed(n, format!("{what} is not an ed25519 point")))?;
    // A non-canonical encoding (y >= p) names the same point as a canonical
    // one; refusing it keeps one key id per key.
    if key.to_edwards().compress().to_bytes() != bytes {
        return Err(malformed(n, format!("{what} is not in canonical encoding")));
    }
    if key.is_weak() {
        return Err(KeyError::WeakKey);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Cheap parameters so that tests that open many files stay fast.
    const FAST: KdfParams = KdfParams {
        m_kib: 8192,
        t: 1,
        p: 1,
    };
    const PASS: &[u8] = b"correct horse battery staple";

    fn test_key(byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[byte; 32])
    }

    fn created() -> OffsetDateTime {
        time::macros::datetime!(2026-11-27 22:31:50 UTC)
    }

    fn sealed_fast(key: &SigningKey) -> String {
        seal_secret_key_with_params(key, "Test Group", created(), PASS, FAST).unwrap()
    }

    /// Replace the value of field `name` in a secret key file.
    fn with_field(text: &str, name: &str, value: &str) -> String {
        let prefix = format!("{name}: ");
        text.lines()
            .map(|l| {
                if l.starts_with(&prefix) {
                    format!("{prefix}{value}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect()
    }

    /// The file without its comment lines, so that a changed public key is
    /// caught by the cryptography and not by the `# key id:` comment check.
    fn without_comments(text: &str) -> String {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    fn field<'a>(text: &'a str, name: &str) -> &'a str {
        let prefix = format!("{name}: ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap()
    }

    /// Flip one hex character to another hex character, so the file still
    /// parses and only the cryptography can notice.
    fn flip_hex(c: char) -> char {
        let v = c.to_digit(16).unwrap() ^ 1;
        char::from_digit(v, 16).unwrap()
    }

    #[test]
    fn key_id_is_domain_separated_blake3_prefix() {
        let key = test_key(7).verifying_key();
        let mut input = b"SIJILL-KEY-ID-V1\0".to_vec();
        input.extend_from_slice(key.as_bytes());
        let hash = blake3::hash(&input);
        assert_eq!(key_id(&key).0, hash.as_bytes()[..8]);
        assert_ne!(key_id(&key).0, blake3::hash(key.as_bytes()).as_bytes()[..8]);
        let shown = key_id(&key).to_string();
        assert_eq!(shown.len(), 16);
        assert_eq!(format!("{:?}", key_id(&key)), shown);
        assert_eq!(shown.parse::<KeyId>().unwrap(), key_id(&key));
        assert!(shown.to_uppercase().parse::<KeyId>().is_err());
        assert!("0123".parse::<KeyId>().is_err());
    }

    #[test]
    fn generated_keys_differ() {
        let a = generate_signing_key().unwrap();
        let b = generate_signing_key().unwrap();
        assert_ne!(a.to_bytes(), b.to_bytes());
    }

    #[test]
    fn round_trip_with_default_passphrase_params() {
        let key = generate_signing_key().unwrap();
        let text = seal_secret_key(
            &key,
            "Violations Documentation Group",
            created(),
            Some(PASS),
        )
        .unwrap();
        assert!(text.contains("kdf: argon2id m=65536 t=3 p=1\n"));
        assert!(!text.contains(&hex::encode(key.to_bytes())));
        assert!(secret_key_is_encrypted(&text).unwrap());
        assert_eq!(secret_key_public_key(&text).unwrap(), key.verifying_key());
        let opened = open_secret_key(&text, Some(PASS)).unwrap();
        assert_eq!(opened.to_bytes(), key.to_bytes());
    }

    #[test]
    fn round_trip_without_passphrase() {
        let key = generate_signing_key().unwrap();
        let text = seal_secret_key(&key, "Group", created(), None).unwrap();
        assert!(!secret_key_is_encrypted(&text).unwrap());
        assert!(text.contains("kdf: none\n"));
        assert_eq!(
            open_secret_key(&text, None).unwrap().to_bytes(),
            key.to_bytes()
        );
        // A passphrase given for an unencrypted file is ignored.
        assert_eq!(
            open_secret_key(&text, Some(b"anything"))
                .unwrap()
                .to_bytes(),
            key.to_bytes()
        );
    }

    #[test]
    fn two_seals_use_fresh_salt_and_nonce() {
        let key = test_key(3);
        let a = sealed_fast(&key);
        let b = sealed_fast(&key);
        assert_ne!(field(&a, "salt"), field(&b, "salt"));
        assert_ne!(field(&a, "nonce"), field(&b, "nonce"));
    }

    #[test]
    fn wrong_passphrase() {
        let text = sealed_fast(&test_key(1));
        let err = open_secret_key(&text, Some(b"correct horse battery stapler")).unwrap_err();
        assert!(matches!(err, KeyError::WrongPassphrase), "{err:?}");
        assert!(err
            .to_string()
            .contains("wrong passphrase, or the file was altered"));
        assert!(matches!(
            open_secret_key(&text, Some(b"")).unwrap_err(),
            KeyError::WrongPassphrase
        ));
    }

    #[test]
    fn passphrase_required() {
        let text = sealed_fast(&test_key(1));
        assert!(matches!(
            open_secret_key(&text, None).unwrap_err(),
            KeyError::PassphraseRequired
        ));
    }

    #[test]
    fn empty_passphrase_refused_when_sealing() {
        assert!(matches!(
            seal_secret_key(&test_key(1), "G", created(), Some(b"")).unwrap_err(),
            KeyError::EmptyPassphrase
        ));
    }

    #[test]
    fn writer_refuses_params_a_reader_would_refuse() {
        for params in [
            KdfParams {
                m_kib: 8191,
                ..FAST
            },
            KdfParams { t: 17, ..FAST },
            KdfParams { p: 0, ..FAST },
        ] {
            let err = seal_secret_key_with_params(&test_key(1), "G", created(), PASS, params)
                .unwrap_err();
            assert!(matches!(err, KeyError::Kdf(_)), "{err:?}");
        }
    }

    #[test]
    fn flipping_any_hex_character_of_sealed_fields_fails() {
        let text = without_comments(&sealed_fast(&test_key(9)));
        for name in ["ciphertext", "nonce", "salt", "public-key"] {
            let value = field(&text, name);
            for i in 0..value.len() {
                let mut chars: Vec<char> = value.chars().collect();
                chars[i] = flip_hex(chars[i]);
                let altered: String = chars.into_iter().collect();
                let bad = with_field(&text, name, &altered);
                let result = open_secret_key(&bad, Some(PASS));
                assert!(result.is_err(), "{name} char {i} flipped still opened");
                match (name, result) {
                    (_, Err(KeyError::WrongPassphrase)) => {}
                    // A flipped public key may no longer be a usable point.
                    (
                        "public-key",
                        Err(KeyError::Malformed { line: 2, .. } | KeyError::WeakKey),
                    ) => {}
                    (_, other) => panic!("{name} char {i}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn flipping_the_unencrypted_secret_or_public_key_fails() {
        let text = without_comments(&seal_secret_key(&test_key(9), "G", created(), None).unwrap());
        for name in ["secret", "public-key"] {
            let value = field(&text, name);
            for i in 0..value.len() {
                let mut chars: Vec<char> = value.chars().collect();
                chars[i] = flip_hex(chars[i]);
                let altered: String = chars.into_iter().collect();
                let result = open_secret_key(&with_field(&text, name, &altered), None);
                assert!(result.is_err(), "{name} char {i} flipped still opened");
                if name == "secret" {
                    assert!(matches!(result, Err(KeyError::PublicKeyMismatch)));
                }
            }
        }
    }

    #[test]
    fn downgraded_kdf_params_fail() {
        let strong = KdfParams {
            m_kib: 16384,
            t: 2,
            p: 2,
        };
        let text = seal_secret_key_with_params(&test_key(5), "G", created(), PASS, strong).unwrap();
        assert!(open_secret_key(&text, Some(PASS)).is_ok());
        for weaker in [
            "argon2id m=8192 t=2 p=2",
            "argon2id m=16384 t=1 p=2",
            "argon2id m=16384 t=2 p=1",
        ] {
            let bad = with_field(&text, "kdf", weaker);
            assert!(matches!(
                open_secret_key(&bad, Some(PASS)),
                Err(KeyError::WrongPassphrase)
            ));
        }
    }

    #[test]
    fn associated_data_is_checked_on_its_own() {
        // Same key, salt and nonce; only the associated data differs. Proves
        // the AD binding does work that the KDF inputs do not already do.
        let key = test_key(4);
        let (salt, nonce) = ([1u8; 16], [2u8; 24]);
        let text =
            seal_secret_key_deterministic(&key, "G", created(), PASS, FAST, salt, nonce).unwrap();
        let other = test_key(5).verifying_key();
        let swapped = with_field(&text, "public-key", &hex::encode(other.as_bytes()));
        assert!(matches!(
            open_secret_key(&swapped, Some(PASS)),
            Err(KeyError::Malformed { line: 4, .. })
        ));
        let swapped = without_comments(&swapped);
        assert!(matches!(
            open_secret_key(&swapped, Some(PASS)),
            Err(KeyError::WrongPassphrase)
        ));
        let aead_key = FAST.derive_key(PASS, &salt).unwrap();
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&aead_key[..]));
        let ct = hex::decode(field(&text, "ciphertext")).unwrap();
        let mut buf = ct[..32].to_vec();
        let tag = Tag::from_slice(&ct[32..]);
        let good_ad = associated_data(&key.verifying_key(), &FAST);
        assert!(cipher
            .decrypt_in_place_detached(XNonce::from_slice(&nonce), b"", &mut buf, tag)
            .is_err());
        let mut buf = ct[..32].to_vec();
        cipher
            .decrypt_in_place_detached(
                XNonce::from_slice(&nonce),
                good_ad.as_bytes(),
                &mut buf,
                tag,
            )
            .unwrap();
        assert_eq!(buf, key.to_bytes());
    }

    #[test]
    fn secret_line_in_encrypted_file_is_refused() {
        let text = sealed_fast(&test_key(1));
        let bad = format!("{text}secret: {}\n", hex::encode([1u8; 32]));
        let err = open_secret_key(&bad, Some(PASS)).unwrap_err();
        assert!(matches!(err, KeyError::Malformed { line: 12, .. }), "{err}");
        let plain = seal_secret_key(&test_key(1), "G", created(), None).unwrap();
        let bad = format!("{plain}salt: {}\n", hex::encode([1u8; 16]));
        assert!(matches!(
            open_secret_key(&bad, None).unwrap_err(),
            KeyError::Malformed { .. }
        ));
    }

    #[test]
    fn secret_file_errors_name_lines_and_do_not_echo_values() {
        let plain = seal_secret_key(&test_key(1), "G", created(), None).unwrap();
        let seed_hex = hex::encode([1u8; 32]);
        // Missing colon on the secret line: the error must not repeat it.
        let bad = plain.replace(
            &format!("secret: {seed_hex}"),
            &format!("secret {seed_hex}"),
        );
        let err = open_secret_key(&bad, None).unwrap_err();
        assert!(!err.to_string().contains(&seed_hex[..16]), "{err}");
        assert!(matches!(err, KeyError::Malformed { line: 9, .. }), "{err}");
        let bad = plain.replace("secret: ", "secret: 0");
        let err = open_secret_key(&bad, None).unwrap_err();
        assert!(!err.to_string().contains(&seed_hex[..16]), "{err}");
        let bad = plain.replace("kdf: none", "kdf: none\nnonse: 00");
        let err = open_secret_key(&bad, None).unwrap_err();
        assert_eq!(err.to_string(), "line 9: unknown field \"nonse\"");
    }

    #[test]
    fn missing_fields_and_versions() {
        let text = sealed_fast(&test_key(1));
        for name in ["public-key", "kdf", "salt", "nonce", "ciphertext"] {
            let bad: String = text
                .lines()
                .filter(|l| !l.starts_with(&format!("{name}:")))
                .map(|l| format!("{l}\n"))
                .collect();
            let err = open_secret_key(&bad, Some(PASS)).unwrap_err();
            assert!(matches!(err, KeyError::Missing { .. }), "{name}: {err}");
        }
        assert!(matches!(
            open_secret_key("", None).unwrap_err(),
            KeyError::Missing { .. }
        ));
        assert!(matches!(
            open_secret_key("# only a comment\n", None).unwrap_err(),
            KeyError::Missing { .. }
        ));
        let public = PublicKeyFile {
            key: test_key(1).verifying_key(),
            organisation: None,
            created: None,
        };
        assert!(matches!(
            open_secret_key(&public.to_text(), None).unwrap_err(),
            KeyError::Malformed { line: 3, .. }
        ));
        assert!(matches!(
            PublicKeyFile::parse(&text).unwrap_err(),
            KeyError::Malformed { line: 6, .. }
        ));
    }

    #[test]
    fn kdf_line_shapes() {
        for (value, ok) in [
            ("argon2id m=8192 t=1 p=1", true),
            ("argon2id m=1048576 t=16 p=8", true),
            ("argon2id m=08192 t=1 p=1", false),
            ("argon2id m=8192 t=1", false),
            ("argon2id t=1 m=8192 p=1", false),
            ("argon2id m=8192  t=1 p=1", false),
            ("argon2id m=+8192 t=1 p=1", false),
            ("argon2id m=99999999999 t=1 p=1", false),
            ("argon2id m=1048577 t=1 p=1", false),
            ("argon2id m=8192 t=0 p=1", false),
            ("argon2id m=8192 t=1 p=9", false),
            ("scrypt n=1", false),
            ("", false),
            ("none", true),
            ("None", false),
        ] {
            assert_eq!(parse_kdf(4, value).is_ok(), ok, "{value}");
        }
        assert!(matches!(
            parse_kdf(4, "argon2id m=8192 t=17 p=1"),
            Err(KeyError::KdfParamsOutOfRange {
                line: 4,
                param: "t",
                value: 17,
                ..
            })
        ));
    }

    #[test]
    fn public_key_file_round_trip_and_labels() {
        let file = PublicKeyFile {
            key: test_key(2).verifying_key(),
            organisation: Some("مجموعة توثيق الانتهاكات".into()),
            created: Some(created()),
        };
        let text = file.to_text();
        assert_eq!(PublicKeyFile::parse(&text).unwrap(), file);
        // CRLF line ends and surrounding blanks are accepted.
        assert_eq!(
            PublicKeyFile::parse(&text.replace('\n', "\r\n")).unwrap(),
            file
        );
        // Labels are informative: an unparseable date is dropped, not an error.
        let odd = text.replace("2026-11-27T22:31:50Z", "last tuesday");
        assert_eq!(PublicKeyFile::parse(&odd).unwrap().created, None);
    }

    #[test]
    fn public_key_file_refusals() {
        let key = test_key(2).verifying_key();
        let hex_key = hex::encode(key.as_bytes());
        let cases: Vec<(String, usize)> = vec![
            (
                format!("sijill-public-key-v1 {hex_key}\nsijill-public-key-v1 {hex_key}\n"),
                2,
            ),
            (
                format!("sijill-public-key-v1 {}\n", hex_key.to_uppercase()),
                1,
            ),
            (format!("sijill-public-key-v1  {hex_key}\n"), 1),
            (format!("sijill-public-key-v1 {hex_key} extra\n"), 1),
            (format!("sijill-public-key-v1 {}\n", &hex_key[..62]), 1),
            (format!("# hello\nsijill-public-key {hex_key}\n"), 2),
            (
                format!("# key id: 0000000000000000\nsijill-public-key-v1 {hex_key}\n"),
                1,
            ),
        ];
        for (text, line) in cases {
            match PublicKeyFile::parse(&text) {
                Err(KeyError::Malformed { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            PublicKeyFile::parse(&format!("sijill-public-key-v2 {hex_key}\n")),
            Err(KeyError::UnsupportedVersion { line: 1, .. })
        ));
        assert!(matches!(
            PublicKeyFile::parse("# nothing\n\n"),
            Err(KeyError::Missing { .. })
        ));
    }

    #[test]
    fn weak_and_non_canonical_keys_are_rejected() {
        // The identity point (y = 1) has order 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let text = format!("sijill-public-key-v1 {}\n", hex::encode(identity));
        assert!(matches!(
            PublicKeyFile::parse(&text),
            Err(KeyError::WeakKey)
        ));
        // y = p + 1 (2^255 - 18) is a non-canonical encoding of the identity:
        // refused either as non-canonical or as weak, never accepted.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        let text = format!("sijill-public-key-v1 {}\n", hex::encode(non_canonical));
        assert!(PublicKeyFile::parse(&text).is_err());
    }

    #[test]
    fn non_canonical_encodings_of_strong_points_are_rejected() {
        // y = p + k for small k are the only non-canonical encodings; find one
        // that decodes to a point that is not weak and check we refuse it.
        let mut refused_strong = 0;
        for k in 0u8..19 {
            for sign in [0u8, 0x80] {
                let mut bytes = [0xffu8; 32];
                bytes[0] = 0xed + k;
                bytes[31] = 0x7f | sign;
                let Ok(key) = VerifyingKey::from_bytes(&bytes) else {
                    continue;
                };
                let text = format!("sijill-public-key-v1 {}\n", hex::encode(bytes));
                let result = PublicKeyFile::parse(&text);
                assert!(result.is_err(), "k={k} sign={sign}");
                if !key.is_weak() {
                    refused_strong += 1;
                    assert!(matches!(result, Err(KeyError::Malformed { line: 1, .. })));
                }
            }
        }
        assert!(refused_strong > 0, "no strong non-canonical encoding tried");
    }

    #[test]
    fn size_limits() {
        let key = test_key(2).verifying_key();
        let key_line = format!("sijill-public-key-v1 {}\n", hex::encode(key.as_bytes()));
        let long = format!("# {}\n{key_line}", "x".repeat(MAX_LINE_BYTES));
        assert!(matches!(
            PublicKeyFile::parse(&long),
            Err(KeyError::Malformed { line: 1, .. })
        ));
        let just = format!("#{}\n{key_line}", "x".repeat(MAX_LINE_BYTES - 1));
        assert!(PublicKeyFile::parse(&just).is_ok());
        let big = format!("{}{key_line}", "# padding\n".repeat(MAX_FILE_BYTES / 10));
        assert!(matches!(
            PublicKeyFile::parse(&big),
            Err(KeyError::TooLarge { .. })
        ));
    }

    #[test]
    fn sanitize_label_strips_controls_and_bidi_and_is_idempotent() {
        assert_eq!(
            sanitize_label("  a\u{1b}[31mb\nc\u{202E}d  "),
            "a\u{FFFD}[31mb\u{FFFD}c\u{FFFD}d"
        );
        let long = "x".repeat(1000);
        assert_eq!(sanitize_label(&long).chars().count(), MAX_LABEL_CHARS);
        let file = PublicKeyFile {
            key: test_key(2).verifying_key(),
            organisation: Some("evil\n# key id: 0000000000000000".into()),
            created: None,
        };
        let parsed = PublicKeyFile::parse(&file.to_text()).unwrap();
        assert_eq!(
            parsed.organisation.as_deref(),
            Some("evil\u{FFFD}# key id: 0000000000000000")
        );
    }

    #[test]
    fn quote_escapes_and_truncates() {
        assert_eq!(quote("a\"\u{1b}\u{202E}"), "\"a\\\"\\u{1b}\\u{202e}\"");
        assert!(quote(&"y".repeat(100)).ends_with("...\""));
    }

    #[test]
    fn write_private_file_creates_0600_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monitor.key");
        write_private_file(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = write_private_file(&path, b"second").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
    }

    #[cfg(unix)]
    #[test]
    fn write_private_file_refuses_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let link = dir.path().join("monitor.key");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(write_private_file(&link, b"secret").is_err());
        assert!(!target.exists());
    }

    #[test]
    fn read_key_file_limits() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.key");
        std::fs::write(&big, vec![b'#'; MAX_FILE_BYTES + 1]).unwrap();
        assert!(matches!(
            read_key_file(&big),
            Err(KeyError::TooLarge { size, .. }) if size == MAX_FILE_BYTES as u64 + 1
        ));
        let bad = dir.path().join("bad.key");
        std::fs::write(&bad, b"# one\n# two\n\xff\n").unwrap();
        assert!(matches!(
            read_key_file(&bad),
            Err(KeyError::Malformed { line: 3, .. })
        ));
        let ok = dir.path().join("ok.key");
        std::fs::write(&ok, b"# fine\n").unwrap();
        assert_eq!(read_key_file(&ok).unwrap(), "# fine\n");
        assert!(matches!(
            read_key_file(&dir.path().join("absent")),
            Err(KeyError::Io(_))
        ));
    }

    fn label_strategy() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(any::<String>())
    }

    proptest! {
        #[test]
        fn public_key_file_round_trips(
            seed in any::<[u8; 32]>(),
            organisation in label_strategy(),
            created in proptest::option::of(0i64..253_402_300_799),
            nanos in 0u32..1_000_000_000,
        ) {
            let key = SigningKey::from_bytes(&seed).verifying_key();
            let created = created.map(|t| {
                OffsetDateTime::from_unix_timestamp(t).unwrap().replace_nanosecond(nanos).unwrap()
            });
            let file = PublicKeyFile { key, organisation: organisation.clone(), created };
            let parsed = PublicKeyFile::parse(&file.to_text()).unwrap();
            prop_assert_eq!(parsed.key, key);
            prop_assert_eq!(parsed.organisation, organisation.as_deref().map(sanitize_label));
            prop_assert_eq!(parsed.created, created);
            prop_assert_eq!(PublicKeyFile::parse(&file.to_text()).unwrap().to_text(), file.to_text());
        }

        #[test]
        fn parsers_never_panic_on_arbitrary_text(text in any::<String>()) {
            let _ = PublicKeyFile::parse(&text);
            let _ = secret_key_is_encrypted(&text);
            let _ = open_secret_key(&text, None);
            let _ = open_secret_key(&text, Some(PASS));
            let _ = text.parse::<KeyId>();
        }

        #[test]
        fn parsers_never_panic_on_line_soup(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("sijill-secret-key-v1".to_string()),
                    Just("sijill-public-key-v1 ".to_string()),
                    Just("kdf: none".to_string()),
                    Just("kdf: argon2id m=8192 t=1 p=1".to_string()),
                    "[a-z-]{0,12}: [0-9a-f]{0,100}",
                    "# [a-z ]{0,10}: .{0,20}",
                    ".{0,40}",
                ],
                0..12,
            )
        ) {
            let text = lines.join("\n");
            let _ = PublicKeyFile::parse(&text);
            let _ = open_secret_key(&text, None);
            let _ = open_secret_key(&text, Some(PASS));
        }

        #[test]
        fn mutated_secret_files_never_open_wrongly(
            pos in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            // One byte changed anywhere in an encrypted file: the result is an
            // error, or (a change in a comment or to blank space) the same key.
            let key = test_key(11);
            let text = seal_secret_key_deterministic(
                &key, "G", created(), PASS, FAST, [3; 16], [4; 24]).unwrap();
            let mut bytes = text.into_bytes();
            let i = pos.index(bytes.len());
            bytes[i] = byte;
            if let Ok(altered) = String::from_utf8(bytes) {
                if let Ok(opened) = open_secret_key(&altered, Some(PASS)) {
                    prop_assert_eq!(opened.to_bytes(), key.to_bytes());
                }
            }
        }
    }
}
