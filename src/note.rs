//! Checkpoints as C2SP signed notes (docs/FORMAT.md §12).
//!
//! A checkpoint is a log's signed statement of its size and Merkle root, in
//! the text formats of c2sp.org/signed-note, c2sp.org/tlog-checkpoint and
//! c2sp.org/tlog-cosignature (cosignature/v1), so that witnesses and
//! transparency-log tools we did not write can check them. Parsing is strict
//! and bounded; verification needs only the text and public keys.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};

use crate::keys::{Signature, SigningKey, VerifyingKey};
use crate::merkle::Hash;

/// Largest note accepted, in bytes (the Go reference accepts 1 MB; a
/// checkpoint with a few cosignatures is well under 4 KiB).
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Most signature lines accepted on one note (the Go reference's limit).
pub const MAX_SIGNATURES: usize = 100;
/// Signature type byte of an Ed25519 note signature (signed-note).
const TYPE_ED25519: u8 = 0x01;
/// Signature type byte of an Ed25519 cosignature/v1 (tlog-cosignature).
const TYPE_COSIGNATURE_V1: u8 = 0x04;
/// The prefix of every origin line this program writes, followed by the
/// log's public key in hex. Origins from other logs are read as they are.
pub const ORIGIN_PREFIX: &str = "sijill.log/";

/// Why a note or checkpoint was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("the note is larger than {MAX_NOTE_BYTES} bytes")]
    TooLarge,
    #[error("line {line}: {message}")]
    Malformed { line: usize, message: String },
    #[error("the note has no valid signature from {0}")]
    NotSigned(String),
    #[error("the checkpoint is for origin {found:?}, expected {expected:?}")]
    WrongOrigin { expected: String, found: String },
}

fn malformed(line: usize, message: impl Into<String>) -> NoteError {
    NoteError::Malformed {
        line,
        message: message.into(),
    }
}

/// The 4-byte key id of a signed-note key: SHA-256(name || 0x0A || type || key)[..4].
pub fn note_key_id(name: &str, signature_type: u8, key: &VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([signature_type]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A key name must be non-empty and contain no whitespace and no `+`
/// (signed-note §"Signatures").
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// The origin line of a Sijill log's checkpoints.
pub fn origin_for(log: &VerifyingKey) -> String {
    format!("{ORIGIN_PREFIX}{}", hex::encode(log.as_bytes()))
}

/// The verifier key string of signed-note: `name+hexid+base64(type||key)`.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> String {
    let mut encoded = vec![TYPE_ED25519];
    encoded.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(note_key_id(name, TYPE_ED25519, key)),
        BASE64.encode(encoded)
    )
}

/// One signature line of a note, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: [u8; 4],
    /// Everything after the key id: a 64-byte signature, or for a
    /// cosignature/v1 an 8-byte timestamp then the signature.
    pub payload: Vec<u8>,
}

impl NoteSignature {
    fn line(&self) -> String {
        let mut bytes = self.key_id.to_vec();
        bytes.extend_from_slice(&self.payload);
        format!("\u{2014} {} {}\n", self.name, BASE64.encode(bytes))
    }
}

/// A signed note: text and signature lines (c2sp.org/signed-note).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parse a note strictly: UTF-8, no control characters but newline,
    /// text ending in a newline, one blank line, then signature lines.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            malformed(line, "not valid UTF-8")
        })?;
        if let Some(at) = text.find(|c: char| c.is_ascii_control() && c != '\n') {
            let line = 1 + text[..at].matches('\n').count();
            return Err(malformed(
                line,
                "control characters are not allowed in a note",
            ));
        }
        let Some(split) = text.rfind("\n\n") else {
            return Err(malformed(
                1,
                "no blank line between the text and the signatures",
            ));
        };
        let (body, sigs) = (&text[..split + 1], &text[split + 2..]);
        if body.is_empty() || body.starts_with('\n') {
            return Err(malformed(1, "the note text is empty"));
        }
        let body_lines = body.matches('\n').count();
        if !sigs.ends_with('\n') {
            return Err(malformed(
                body_lines + 2 + sigs.matches('\n').count(),
                "the last signature line does not end with a newline",
            ));
        }
        let mut signatures = Vec::new();
        for (i, line) in sigs[..sigs.len() - 1].split('\n').enumerate() {
            let number = body_lines + 2 + i;
            if signatures.len() == MAX_SIGNATURES {
                return Err(malformed(
                    number,
                    format!("more than {MAX_SIGNATURES} signatures"),
                ));
            }
            let rest = line.strip_prefix("\u{2014} ").ok_or_else(|| {
                malformed(number, "a signature line starts with \u{2014} and a space")
            })?;
            let (name, encoded) = rest
                .split_once(' ')
                .ok_or_else(|| malformed(number, "a signature line is `\u{2014} NAME BASE64`"))?;
            if !valid_key_name(name) {
                return Err(malformed(number, format!("invalid key name {name:?}")));
            }
            let raw = BASE64
                .decode(encoded)
                .map_err(|_| malformed(number, "the signature is not valid base64"))?;
            if raw.len() < 5 || BASE64.encode(&raw) != encoded {
                return Err(malformed(
                    number,
                    "the signature is too short or not canonical base64",
                ));
            }
            signatures.push(NoteSignature {
                name: name.to_string(),
                key_id: [raw[0], raw[1], raw[2], raw[3]],
                payload: raw[4..].to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(malformed(body_lines + 2, "the note has no signatures"));
        }
        Ok(Note {
            text: body.to_string(),
            signatures,
        })
    }

    /// The note as text: body, blank line, signature lines.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
        }
        out
    }

    /// Sign the text as `name` and append the signature line.
    pub fn sign(&mut self, name: &str, key: &SigningKey) {
        let signature = key.sign(self.text.as_bytes());
        self.signatures.push(NoteSignature {
            name: name.to_string(),
            key_id: note_key_id(name, TYPE_ED25519, &key.verifying_key()),
            payload: signature.to_bytes().to_vec(),
        });
    }

    /// Whether `key`, under `name`, signed the text (strict Ed25519).
    pub fn verify(&self, name: &str, key: &VerifyingKey) -> bool {
        let id = note_key_id(name, TYPE_ED25519, key);
        self.signatures.iter().any(|s| {
            s.name == name
                && s.key_id == id
                && s.payload.len() == 64
                && key
                    .verify_strict(
                        self.text.as_bytes(),
                        &Signature::from_bytes(s.payload[..].try_into().unwrap_or(&[0; 64])),
                    )
                    .is_ok()
        })
    }
}

/// A log checkpoint (c2sp.org/tlog-checkpoint): origin, size, root hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Extension lines, kept as read (none are written by this program).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn body(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root.0)
        );
        for e in &self.extensions {
            text.push_str(e);
            text.push('\n');
        }
        text
    }

    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .unwrap_or(text)
            .split('\n')
            .collect();
        if lines.len() < 3 {
            return Err(malformed(
                lines.len() + 1,
                "a checkpoint has an origin, a size and a root hash",
            ));
        }
        let origin = lines[0];
        if origin.is_empty() {
            return Err(malformed(1, "the origin line is empty"));
        }
        let size_text = lines[1];
        let canonical_number = !size_text.is_empty()
            && size_text.bytes().all(|b| b.is_ascii_digit())
            && (size_text == "0" || !size_text.starts_with('0'));
        let size = size_text
            .parse::<u64>()
            .ok()
            .filter(|_| canonical_number)
            .ok_or_else(|| {
                malformed(
                    2,
                    format!("{size_text:?} is not a tree size (decimal, no leading zeros)"),
                )
            })?;
        let root_bytes = BASE64
            .decode(lines[2])
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| malformed(3, "the root hash is not 32 bytes of base64"))?;
        let extensions: Vec<String> = lines[3..].iter().map(|s| s.to_string()).collect();
        if let Some(i) = extensions.iter().position(|e| e.is_empty()) {
            return Err(malformed(4 + i, "an extension line is empty"));
        }
        let checkpoint = Checkpoint {
            origin: origin.to_string(),
            size,
            root: Hash(root_bytes.try_into().unwrap_or([0; 32])),
            extensions,
        };
        if checkpoint.body() != text {
            return Err(malformed(3, "the checkpoint is not in canonical form"));
        }
        Ok(checkpoint)
    }
}

/// A checkpoint together with its note (its signatures and cosignatures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: Note,
}

/// A cosignature found on a checkpoint and verified against a known key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    pub name: String,
    pub key: VerifyingKey,
    /// Seconds since the Unix epoch, as the cosigner stated it.
    pub timestamp: u64,
}

impl SignedCheckpoint {
    /// Sign a new checkpoint of `log_key`'s log.
    pub fn sign(size: u64, root: Hash, log_key: &SigningKey) -> SignedCheckpoint {
        let origin = origin_for(&log_key.verifying_key());
        let checkpoint = Checkpoint {
            origin: origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        };
        let mut note = Note {
            text: checkpoint.body(),
            signatures: Vec::new(),
        };
        note.sign(&origin, log_key);
        SignedCheckpoint { checkpoint, note }
    }

    /// Parse a checkpoint note and check that `log` signed it under its
    /// origin. Signatures by other keys are kept, not trusted.
    pub fn parse_and_verify(
        bytes: &[u8],
        log: &VerifyingKey,
    ) -> Result<SignedCheckpoint, NoteError> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse_body(&note.text)?;
        let expected = origin_for(log);
        if checkpoint.origin != expected {
            return Err(NoteError::WrongOrigin {
                expected,
                found: checkpoint.origin,
            });
        }
        if !note.verify(&expected, log) {
            return Err(NoteError::NotSigned(format!(
                "the log's key {}",
                crate::keys::key_id(log)
            )));
        }
        Ok(SignedCheckpoint { checkpoint, note })
    }

    pub fn to_text(&self) -> String {
        self.note.to_text()
    }

    /// Add a cosignature/v1 by `name` at `timestamp` (tlog-cosignature).
    pub fn cosign(&mut self, name: &str, key: &SigningKey, timestamp: u64) {
        let message = cosignature_message(&self.checkpoint, timestamp);
        let signature = key.sign(message.as_bytes());
        let mut payload = timestamp.to_be_bytes().to_vec();
        payload.extend_from_slice(&signature.to_bytes());
        self.note.signatures.retain(|s| s.name != name);
        self.note.signatures.push(NoteSignature {
            name: name.to_string(),
            key_id: note_key_id(name, TYPE_COSIGNATURE_V1, &key.verifying_key()),
            payload,
        });
    }

    /// The cosignatures on this checkpoint made by any of `keys`
    /// (name, key); others are ignored, as signed-note requires.
    pub fn cosignatures(&self, keys: &[(String, VerifyingKey)]) -> Vec<Cosignature> {
        let mut out = Vec::new();
        for s in &self.note.signatures {
            if s.payload.len() != 72 {
                continue;
            }
            let timestamp = u64::from_be_bytes(s.payload[..8].try_into().unwrap_or([0; 8]));
            // tlog-cosignature: a timestamp above 2^63-1 is invalid.
            if timestamp > i64::MAX as u64 {
                continue;
            }
            for (name, key) in keys {
                if *name != s.name || note_key_id(name, TYPE_COSIGNATURE_V1, key) != s.key_id {
                    continue;
                }
                let message = cosignature_message(&self.checkpoint, timestamp);
                let signature =
                    Signature::from_bytes(s.payload[8..].try_into().unwrap_or(&[0; 64]));
                let seen = out
                    .iter()
                    .any(|c: &Cosignature| c.name == *name && c.key == *key);
                if !seen && key.verify_strict(message.as_bytes(), &signature).is_ok() {
                    out.push(Cosignature {
                        name: name.clone(),
                        key: *key,
                        timestamp,
                    });
                }
            }
        }
        out
    }
}

impl SignedCheckpoint {
    /// The same checkpoint keeping only signature lines that verify: the log's
    /// own, and cosignatures by `cosigners` (one line each). Lines nobody here
    /// can check are dropped before a note is stored or passed on, so that
    /// whoever carried the note cannot make it grow.
    pub fn verified_only(
        &self,
        log: &VerifyingKey,
        cosigners: &[(String, VerifyingKey)],
    ) -> SignedCheckpoint {
        let origin = &self.checkpoint.origin;
        let own_id = note_key_id(origin, TYPE_ED25519, log);
        let mut kept: Vec<NoteSignature> = Vec::new();
        for s in &self.note.signatures {
            if kept.contains(s) {
                continue;
            }
            let own = s.name == *origin
                && s.key_id == own_id
                && Note {
                    text: self.note.text.clone(),
                    signatures: vec![s.clone()],
                }
                .verify(origin, log);
            let cosigned = !own && {
                let single = SignedCheckpoint {
                    checkpoint: self.checkpoint.clone(),
                    note: Note {
                        text: self.note.text.clone(),
                        signatures: vec![s.clone()],
                    },
                };
                !single.cosignatures(cosigners).is_empty()
                    && !kept
                        .iter()
                        .any(|k| k.name == s.name && k.key_id == s.key_id)
            };
            if own
                && kept
                    .iter()
                    .any(|k| k.name == s.name && k.key_id == s.key_id)
            {
                continue;
            }
            if own || cosigned {
                kept.push(s.clone());
            }
        }
        SignedCheckpoint {
            checkpoint: self.checkpoint.clone(),
            note: Note {
                text: self.note.text.clone(),
                signatures: kept,
            },
        }
    }
}

/// The message a cosignature/v1 signs: a header naming the version and the
/// time, then the checkpoint body.
pub fn cosignature_message(checkpoint: &Checkpoint, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{}", checkpoint.body())
}

impl fmt::Display for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    /// Known answers from golang.org/x/mod/sumdb/note (note.go's doc comment
    /// and note_test.go): the PeterNeumann key, its key ids, and its
    /// deterministic Ed25519 signature of the example text.
    #[test]
    fn signed_note_known_answers() {
        let seed = hex::decode("810a1402d5146c8d84f2443330f54080ebf98ee17d9c74f6252fc5d5c7283173")
            .unwrap();
        let key = SigningKey::from_bytes(&seed.try_into().unwrap());
        let public = key.verifying_key();
        assert_eq!(
            hex::encode(public.as_bytes()),
            "1a5cd907143c384c41e830c5bce12aa8817ec5649aaabf2c31388b35b2d744d6"
        );
        assert_eq!(
            hex::encode(note_key_id("PeterNeumann", TYPE_ED25519, &public)),
            "c74f20a3"
        );
        assert_eq!(
            hex::encode(note_key_id("PeterNeumann", TYPE_COSIGNATURE_V1, &public)),
            "18b9780b"
        );
        assert_eq!(
            verifier_key("PeterNeumann", &public),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
        let mut note = Note {
            text: "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n".into(),
            signatures: Vec::new(),
        };
        note.sign("PeterNeumann", &key);
        let expected = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        assert_eq!(note.to_text(), expected);
        let parsed = Note::parse(expected.as_bytes()).unwrap();
        assert!(parsed.verify("PeterNeumann", &public));
        assert!(!parsed.verify("PeterNeuman", &public));
    }

    /// Parsing cases from note_test.go's TestOpen that must be refused.
    #[test]
    fn go_reference_malformed_notes_are_refused() {
        let t = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        let p = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        for bad in [
            t.to_string(),
            format!("{t}\n"),
            format!("{t}\n{}", p.trim_end()),
            format!("\x01{t}\n{p}"),
            format!("{t}\n{p}Unexpected line.\n"),
            format!("{t}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
            format!("{t}\n{}", p.repeat(101)),
        ] {
            assert!(Note::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let mut invalid_utf8 = b"\xff".to_vec();
        invalid_utf8.extend_from_slice(format!("{t}\n{p}").as_bytes());
        assert!(Note::parse(&invalid_utf8).is_err());
    }

    /// Known answers from transparency-dev/formats log/checkpoint_test.go.
    #[test]
    fn checkpoint_body_known_answers() {
        let cp = Checkpoint::parse_body(
            "Banana\n9944\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n",
        );
        // That vector's "hash" is not 32 bytes: a Sijill checkpoint refuses it.
        assert!(cp.is_err());
        let ok = Checkpoint::parse_body("Moon Log\n4027504\naXQncyBhIHJvb3QgaGFzaCBvZiAzMiBieXRlcyEhISE=\n6086d1a9\nWaxing gibbous\n").unwrap();
        assert_eq!(ok.origin, "Moon Log");
        assert_eq!(ok.size, 4027504);
        assert_eq!(
            ok.extensions,
            vec!["6086d1a9".to_string(), "Waxing gibbous".to_string()]
        );
        for bad in [
            "Head\n9944\n",
            "\n9944\naXQncyBhIHJvb3QgaGFzaCBvZiAzMiBieXRlcyEhISE=\n",
            "Log\n-34\naXQncyBhIHJvb3QgaGFzaCBvZiAzMiBieXRlcyEhISE=\n",
            "Log\n3438945738945739845734895735\naXQncyBhIHJvb3QgaGFzaCBvZiAzMiBieXRlcyEhISE=\n",
            "Log\n12\nThisIsn'tBase64\n",
        ] {
            assert!(Checkpoint::parse_body(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn checkpoint_round_trips_and_verifies() {
        let k = key(1);
        let cp = SignedCheckpoint::sign(5, Hash([7; 32]), &k);
        let text = cp.to_text();
        assert!(text.starts_with(ORIGIN_PREFIX));
        let back = SignedCheckpoint::parse_and_verify(text.as_bytes(), &k.verifying_key()).unwrap();
        assert_eq!(back, cp);
        assert_eq!(back.to_text(), text);
        assert!(
            SignedCheckpoint::parse_and_verify(text.as_bytes(), &key(2).verifying_key()).is_err()
        );
    }

    #[test]
    fn every_byte_flip_of_a_checkpoint_is_refused() {
        let k = key(3);
        let text = SignedCheckpoint::sign(42, Hash([9; 32]), &k)
            .to_text()
            .into_bytes();
        for i in 0..text.len() {
            for bit in [0x01u8, 0x20, 0x80] {
                let mut bad = text.clone();
                bad[i] ^= bit;
                assert!(
                    SignedCheckpoint::parse_and_verify(&bad, &k.verifying_key()).is_err(),
                    "flip {bit:#x} at {i} accepted"
                );
            }
        }
    }

    #[test]
    fn cosignatures_verify_and_unknown_ones_are_ignored() {
        let log = key(4);
        let witness = key(5);
        let mut cp = SignedCheckpoint::sign(3, Hash([1; 32]), &log);
        cp.cosign("partner.example/w1", &witness, 1_700_000_000);
        let text = cp.to_text();
        let back =
            SignedCheckpoint::parse_and_verify(text.as_bytes(), &log.verifying_key()).unwrap();
        let keys = vec![("partner.example/w1".to_string(), witness.verifying_key())];
        let cos = back.cosignatures(&keys);
        assert_eq!(cos.len(), 1);
        assert_eq!(cos[0].timestamp, 1_700_000_000);
        let other = vec![("partner.example/w1".to_string(), key(6).verifying_key())];
        assert!(back.cosignatures(&other).is_empty());
    }

    #[test]
    fn malformed_notes_are_refused_with_a_line() {
        let k = key(7);
        let good = SignedCheckpoint::sign(1, Hash([2; 32]), &k).to_text();
        for bad in [
            good.replacen("\n1\n", "\n01\n", 1),
            good.replacen("\n\n", "\n", 1),
            good.replace('\u{2014}', "-"),
            format!("{good}trailing"),
            good.replacen("\n1\n", "\n1\r\n", 1),
        ] {
            assert!(
                SignedCheckpoint::parse_and_verify(bad.as_bytes(), &k.verifying_key()).is_err(),
                "{bad}"
            );
        }
    }
}
