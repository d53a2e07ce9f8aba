//! Known-answer vectors for keys and key files (fixtures/vectors/keys/).
//!
//! Every fixture is rebuilt here from the fixed seed, salt and nonce and must
//! match the stored file byte for byte, so the vectors cannot drift from the
//! code unnoticed; then each file is checked for its expected result.
//! `SIJILL_WRITE_VECTORS=1 cargo test --test key_vectors` rewrites the files
//! (review the diff: a change in a valid vector is a format change).

use sijill::keys::{
    key_id, open_secret_key, read_key_file, seal_secret_key, seal_secret_key_deterministic,
    secret_key_is_encrypted, KdfParams, KeyError, KeyId, PublicKeyFile, SigningKey, VerifyingKey,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors/keys/");
const PASSPHRASE: &[u8] = b"correct horse battery staple";
const ORGANISATION: &str = "Violations Documentation Group";
/// Modest parameters so that the vectors open quickly; stated in the files.
const VECTOR_PARAMS: KdfParams = KdfParams {
    m_kib: 8192,
    t: 1,
    p: 1,
};

/// The vector seed: bytes 0x01, 0x02, ..., 0x20.
fn seed() -> [u8; 32] {
    std::array::from_fn(|i| i as u8 + 1)
}
/// Salt 0xa0..=0xaf, nonce 0xb0..=0xc7.
fn salt() -> [u8; 16] {
    std::array::from_fn(|i| 0xa0 + i as u8)
}
fn nonce() -> [u8; 24] {
    std::array::from_fn(|i| 0xb0 + i as u8)
}
fn created() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-27 22:31:50 UTC)
}
fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&seed())
}
/// A second key (seed of 32 bytes 0x42), used only to build failing vectors.
fn other_key() -> SigningKey {
    SigningKey::from_bytes(&[0x42; 32])
}

fn public_text() -> String {
    PublicKeyFile {
        key: signing_key().verifying_key(),
        organisation: Some(ORGANISATION.to_string()),
        created: Some(created()),
    }
    .to_text()
}

fn encrypted_text() -> String {
    seal_secret_key_deterministic(
        &signing_key(),
        ORGANISATION,
        created(),
        PASSPHRASE,
        VECTOR_PARAMS,
        salt(),
        nonce(),
    )
    .unwrap()
}

fn unencrypted_text() -> String {
    seal_secret_key(&signing_key(), ORGANISATION, created(), None).unwrap()
}

/// `text` with each line for which `f` returns `Some` replaced by it.
fn edit_lines(text: &str, f: impl Fn(&str) -> Option<String>) -> String {
    text.lines()
        .map(|l| format!("{}\n", f(l).unwrap_or_else(|| l.to_string())))
        .collect()
}

fn replace_line(text: &str, prefix: &str, new: &str) -> String {
    let out = edit_lines(text, |l| l.starts_with(prefix).then(|| new.to_string()));
    assert_ne!(out, text, "no line starts with {prefix:?}");
    out
}

fn drop_lines(text: &str, prefix: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with(prefix))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn value<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines().find_map(|l| l.strip_prefix(prefix)).unwrap()
}

fn flip_first_hex(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    chars[0] = char::from_digit(chars[0].to_digit(16).unwrap() ^ 1, 16).unwrap();
    chars.into_iter().collect()
}

fn key_line(bytes: &[u8; 32]) -> String {
    format!("sijill-public-key-v1 {}\n", hex::encode(bytes))
}

/// y = p + 3 (2^255 - 16) with the sign bit clear: decodes to a point that is
/// not of small order, but is not that point's canonical encoding.
fn non_canonical_strong_point() -> [u8; 32] {
    let mut bytes = [0xffu8; 32];
    bytes[0] = 0xf0;
    bytes[31] = 0x7f;
    bytes
}

/// Every fixture, by file name, as this code produces it.
fn vectors() -> Vec<(&'static str, Vec<u8>)> {
    let public = public_text();
    let enc = encrypted_text();
    let plain = unencrypted_text();
    let ciphertext = value(&enc, "ciphertext: ");
    let seed_hex = hex::encode(seed());

    let downgraded = {
        let stronger = KdfParams {
            m_kib: 16384,
            t: 2,
            p: 1,
        };
        let text = seal_secret_key_deterministic(
            &signing_key(),
            ORGANISATION,
            created(),
            PASSPHRASE,
            stronger,
            salt(),
            nonce(),
        )
        .unwrap();
        replace_line(&text, "kdf: ", "kdf: argon2id m=8192 t=1 p=1")
    };
    let oversized_file = {
        let padding = "# padding padding padding padding padding padding padding padding\n";
        format!("{}{enc}", padding.repeat(1024))
    };
    let mut not_utf8 = enc.clone().into_bytes();
    // Line 2 is "# organisation: ..."; put an invalid byte in it.
    let at = enc.find("Violations").unwrap();
    not_utf8[at] = 0xff;

    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        ("seed.hex", format!("{seed_hex}\n").into()),
        (
            "key-id.txt",
            format!("{}\n", key_id(&signing_key().verifying_key())).into(),
        ),
        ("public.pub", public.clone().into()),
        ("secret-encrypted.key", enc.clone().into()),
        ("secret-unencrypted.key", plain.clone().into()),
        // --- secret key files that must fail
        (
            "flipped-ciphertext.key",
            replace_line(
                &enc,
                "ciphertext: ",
                &format!("ciphertext: {}", flip_first_hex(ciphertext)),
            )
            .into(),
        ),
        ("truncated.key", {
            let cut = enc.find("ciphertext: ").unwrap() + "ciphertext: ".len() + 40;
            enc.as_bytes()[..cut].to_vec()
        }),
        (
            "unknown-version.key",
            replace_line(&enc, "sijill-secret-key-v1", "sijill-secret-key-v2").into(),
        ),
        (
            "oversized-kdf-params.key",
            replace_line(&enc, "kdf: ", "kdf: argon2id m=4194304 t=1 p=1").into(),
        ),
        (
            "trailing-garbage.key",
            format!("{enc}AAAAC3NzaC1lZDI1NTE5AAAAIGarbage\n").into(),
        ),
        (
            "duplicate-field.key",
            format!("{enc}nonce: {}\n", value(&enc, "nonce: ")).into(),
        ),
        (
            "unknown-field.key",
            edit_lines(&enc, |l| {
                l.strip_prefix("nonce: ").map(|v| format!("nonse: {v}"))
            })
            .into(),
        ),
        ("missing-nonce.key", drop_lines(&enc, "nonce: ").into()),
        (
            "uppercase-hex.key",
            edit_lines(&enc, |l| {
                l.strip_prefix("salt: ")
                    .map(|v| format!("salt: {}", v.to_uppercase()))
            })
            .into(),
        ),
        (
            "swapped-public-key.key",
            drop_lines(
                &replace_line(
                    &enc,
                    "public-key: ",
                    &format!(
                        "public-key: {}",
                        hex::encode(other_key().verifying_key().as_bytes())
                    ),
                ),
                "# key id:",
            )
            .into(),
        ),
        ("downgraded-kdf-params.key", downgraded.into()),
        (
            "secret-in-encrypted.key",
            format!("{enc}secret: {seed_hex}\n").into(),
        ),
        (
            "mismatched-secret.key",
            replace_line(
                &plain,
                "secret: ",
                &format!("secret: {}", hex::encode([0x42u8; 32])),
            )
            .into(),
        ),
        ("oversized-file.key", oversized_file.into()),
        (
            "long-line.key",
            format!("# {}\n{enc}", "x".repeat(5000)).into(),
        ),
        ("not-utf8.key", not_utf8),
        // --- public key files that must fail
        (
            "bad-public-key-hex.pub",
            edit_lines(&public, |l| {
                l.strip_prefix("sijill-public-key-v1 ")
                    .map(|v| format!("sijill-public-key-v1 g{}", &v[1..]))
            })
            .into(),
        ),
        (
            "unknown-version.pub",
            edit_lines(&public, |l| {
                l.strip_prefix("sijill-public-key-v1 ")
                    .map(|v| format!("sijill-public-key-v2 {v}"))
            })
            .into(),
        ),
        (
            "two-key-lines.pub",
            format!(
                "{public}{}",
                key_line(other_key().verifying_key().as_bytes())
            )
            .into(),
        ),
        (
            "mismatched-key-id.pub",
            replace_line(
                &public,
                "# key id: ",
                &format!("# key id: {}", key_id(&other_key().verifying_key())),
            )
            .into(),
        ),
        ("weak-public-key.pub", {
            let mut identity = [0u8; 32];
            identity[0] = 1;
            format!("# the identity point, of order 1\n{}", key_line(&identity)).into()
        }),
        (
            "non-canonical-public-key.pub",
            format!(
                "# y = p + 3: a valid point, but not its canonical encoding\n{}",
                key_line(&non_canonical_strong_point())
            )
            .into(),
        ),
        ("secret-key-as-public.pub", plain.clone().into_bytes()),
    ];
    v.sort_by_key(|(name, _)| *name);
    v
}

fn path(name: &str) -> String {
    format!("{DIR}{name}")
}

#[test]
fn fixtures_are_reproduced_byte_for_byte() {
    let write = std::env::var_os("SIJILL_WRITE_VECTORS").is_some();
    for (name, bytes) in vectors() {
        if write {
            std::fs::write(path(name), &bytes).unwrap();
            continue;
        }
        let stored = std::fs::read(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            stored == bytes,
            "{name} differs from what the code produces"
        );
    }
}

#[test]
fn readme_lists_exactly_the_fixtures() {
    let readme = std::fs::read_to_string(path("README.md")).unwrap();
    let names: Vec<&str> = vectors().iter().map(|(n, _)| *n).collect();
    for name in &names {
        assert!(readme.contains(&format!("`{name}`")), "README lacks {name}");
    }
    for entry in std::fs::read_dir(DIR).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            file == "README.md" || names.contains(&file.as_str()),
            "{file} is in the folder but not a known vector"
        );
    }
}

fn read(name: &str) -> String {
    read_key_file(std::path::Path::new(&path(name))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn valid_vectors() {
    let seed_hex = read("seed.hex");
    assert_eq!(seed_hex.trim_end(), hex::encode(seed()));
    let expected = SigningKey::from_bytes(&seed());
    let public = expected.verifying_key();

    let id: KeyId = read("key-id.txt").trim_end().parse().unwrap();
    assert_eq!(id, key_id(&public));

    let file = PublicKeyFile::parse(&read("public.pub")).unwrap();
    assert_eq!(file.key, public);
    assert_eq!(file.key_id(), id);
    assert_eq!(file.organisation.as_deref(), Some(ORGANISATION));
    assert_eq!(file.created, Some(created()));

    let enc = read("secret-encrypted.key");
    assert!(enc.contains("kdf: argon2id m=8192 t=1 p=1\n"));
    assert!(secret_key_is_encrypted(&enc).unwrap());
    let opened = open_secret_key(&enc, Some(PASSPHRASE)).unwrap();
    assert_eq!(opened.to_bytes(), seed());
    assert!(matches!(
        open_secret_key(&enc, Some(b"correct horse battery stapl")),
        Err(KeyError::WrongPassphrase)
    ));
    assert!(matches!(
        open_secret_key(&enc, None),
        Err(KeyError::PassphraseRequired)
    ));

    let plain = read("secret-unencrypted.key");
    assert!(!secret_key_is_encrypted(&plain).unwrap());
    assert_eq!(open_secret_key(&plain, None).unwrap().to_bytes(), seed());

    // A public key file is not a secret key file.
    assert!(matches!(
        open_secret_key(&read("public.pub"), None),
        Err(KeyError::Malformed { line: 5, .. })
    ));
}

/// What each failing vector must produce.
fn check_failure(name: &str, result: Result<(), KeyError>) {
    use KeyError::*;
    let ok = match (name, &result) {
        ("flipped-ciphertext.key", Err(WrongPassphrase)) => true,
        ("truncated.key", Err(Malformed { line: 11, .. })) => true,
        (
            "unknown-version.key",
            Err(UnsupportedVersion {
                line: 6,
                expected: "sijill-secret-key-v1",
                ..
            }),
        ) => true,
        (
            "oversized-kdf-params.key",
            Err(KdfParamsOutOfRange {
                line: 8,
                param: "m",
                value: 4194304,
                ..
            }),
        ) => true,
        ("trailing-garbage.key", Err(Malformed { line: 12, .. })) => true,
        ("duplicate-field.key", Err(Malformed { line: 12, message })) => {
            message == "field \"nonce\" appears twice (first on line 10)"
        }
        ("unknown-field.key", Err(e @ Malformed { line: 10, .. })) => {
            e.to_string() == "line 10: unknown field \"nonse\""
        }
        ("missing-nonce.key", Err(Missing { what })) => what == "field \"nonce\"",
        ("uppercase-hex.key", Err(Malformed { line: 9, .. })) => true,
        ("swapped-public-key.key", Err(WrongPassphrase)) => true,
        ("downgraded-kdf-params.key", Err(WrongPassphrase)) => true,
        ("secret-in-encrypted.key", Err(Malformed { line: 12, .. })) => true,
        ("mismatched-secret.key", Err(PublicKeyMismatch)) => true,
        ("oversized-file.key", Err(TooLarge { limit: 65536, .. })) => true,
        ("long-line.key", Err(Malformed { line: 1, .. })) => true,
        ("not-utf8.key", Err(Malformed { line: 2, .. })) => true,
        ("bad-public-key-hex.pub", Err(Malformed { line: 5, .. })) => true,
        ("unknown-version.pub", Err(UnsupportedVersion { line: 5, .. })) => true,
        ("two-key-lines.pub", Err(Malformed { line: 6, .. })) => true,
        ("mismatched-key-id.pub", Err(Malformed { line: 4, .. })) => true,
        ("weak-public-key.pub", Err(WeakKey)) => true,
        ("non-canonical-public-key.pub", Err(Malformed { line: 2, .. })) => true,
        ("secret-key-as-public.pub", Err(Malformed { line: 6, .. })) => true,
        _ => false,
    };
    assert!(ok, "{name}: unexpected result {result:?}");
}

const VALID: [&str; 5] = [
    "seed.hex",
    "key-id.txt",
    "public.pub",
    "secret-encrypted.key",
    "secret-unencrypted.key",
];

#[test]
fn failing_vectors_fail_for_their_reason() {
    let mut checked = 0;
    for (name, _) in vectors() {
        if VALID.contains(&name) {
            continue;
        }
        let p = path(name);
        let result = read_key_file(std::path::Path::new(&p)).and_then(|text| {
            if name.ends_with(".pub") {
                PublicKeyFile::parse(&text).map(|_| ())
            } else {
                open_secret_key(&text, Some(PASSPHRASE)).map(|_| ())
            }
        });
        check_failure(name, result);
        checked += 1;
    }
    assert_eq!(checked, vectors().len() - VALID.len());
}

#[test]
fn failing_text_vectors_also_fail_from_a_str() {
    // The size limit holds even when the caller read the file some other way.
    let text = String::from_utf8(std::fs::read(path("oversized-file.key")).unwrap()).unwrap();
    assert!(matches!(
        open_secret_key(&text, Some(PASSPHRASE)),
        Err(KeyError::TooLarge { .. })
    ));
    assert!(matches!(
        secret_key_is_encrypted(&text),
        Err(KeyError::TooLarge { .. })
    ));
}

#[test]
fn non_canonical_vector_is_a_strong_point() {
    // Guards the vector itself: it must test canonicity, not weakness.
    let key = VerifyingKey::from_bytes(&non_canonical_strong_point()).unwrap();
    assert!(!key.is_weak());
}
