//! `sijill demo`: the whole workflow on a temporary store, explained as it
//! goes, so that a new user sees what the tool does and what it guards against.

use std::io::Write;

use time::OffsetDateTime;

use sijill::audit;
use sijill::record::{parse_record, RecordKind};
use sijill::store::{InitOptions, Store, StoreError};

use super::{latest_allowed_date, output, Failure};

pub const DEMO_CASUALTY: &str = include_str!("../../fixtures/records/casualty.json");
pub const DEMO_MISSING: &str = include_str!("../../fixtures/records/missing.json");

fn step(out: &mut impl Write, title: &str, text: &str) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "== {title}")?;
    for line in text.lines() {
        writeln!(out, "   {line}")?;
    }
    writeln!(out)
}

pub fn run(out: &mut impl Write) -> Result<u8, Failure> {
    run_inner(out).map_err(|e| match e {
        DemoError::Io(e) => Failure::usage(format!("cannot write output: {e}")),
        DemoError::Failure(f) => f,
    })
}

enum DemoError {
    Io(std::io::Error),
    Failure(Failure),
}

impl From<std::io::Error> for DemoError {
    fn from(e: std::io::Error) -> Self {
        DemoError::Io(e)
    }
}

impl From<StoreError> for DemoError {
    fn from(e: StoreError) -> Self {
        DemoError::Failure(e.into())
    }
}

impl From<Failure> for DemoError {
    fn from(f: Failure) -> Self {
        DemoError::Failure(f)
    }
}

fn run_inner(out: &mut impl Write) -> Result<u8, DemoError> {
    let temp = tempfile::tempdir()
        .map_err(|e| Failure::usage(format!("cannot create a temporary directory: {e}")))?;
    let dir = temp.path().join("store");
    writeln!(out, "Sijill demo: a temporary store in {}", dir.display())?;
    writeln!(
        out,
        "(it is deleted when the demo ends; nothing else on this machine is touched)"
    )?;

    step(
        out,
        "1. Create a store",
        "`sijill --store DIR init --org NAME` makes the group's Ed25519 key and an empty store.\n\
         A real store asks for a passphrase: the secret key is sealed with Argon2id and\n\
         XChaCha20-Poly1305, so a seized laptop does not give away the group's signature.\n\
         The demo uses --no-passphrase.",
    )?;
    let mut store = Store::init(
        &dir,
        InitOptions {
            organisation: "Violations Documentation Group (demo)",
            passphrase: None,
            now: OffsetDateTime::now_utc(),
        },
    )?;
    output::key_show(out, &store)?;

    step(
        out,
        "2. Record a person killed",
        "`sijill add casualty --json record.json` validates the record against docs/SCHEMA.md\n\
         (partial dates, place hierarchy, vocabularies), normalises its text to NFC, signs it\n\
         and appends it to the group's log. The command prints only the new record id, and\n\
         only after the bytes are synced to disk. The record:",
    )?;
    writeln!(out, "{}", DEMO_CASUALTY.trim_end())?;
    let key = store.signing_key(None)?;
    let today = latest_allowed_date();
    let casualty = parse_record(RecordKind::Casualty, DEMO_CASUALTY.as_bytes(), today)
        .map_err(|e| super::failure::record_failure("demo casualty", e))?;
    let signed = store.append_records(&key, vec![casualty], OffsetDateTime::now_utc())?;
    let casualty_id = signed[0].id;
    writeln!(
        out,
        "\n$ sijill add casualty --json record.json\n{casualty_id}"
    )?;

    step(
        out,
        "3. Record a person missing",
        "A missing person's record keeps the last sighting, the circumstances and a family\n\
         contact. The contact is sensitive: it is never exported by default.",
    )?;
    let missing = parse_record(RecordKind::Missing, DEMO_MISSING.as_bytes(), today)
        .map_err(|e| super::failure::record_failure("demo missing", e))?;
    let signed = store.append_records(&key, vec![missing], OffsetDateTime::now_utc())?;
    writeln!(
        out,
        "$ sijill add missing --json - < missing.json\n{}",
        signed[0].id
    )?;

    step(
        out,
        "4. Refuse bad input",
        "Input that does not fit the schema is refused with the field named, and the\n\
         store is left exactly as it was. A date of death on 30 February:",
    )?;
    let bad = DEMO_CASUALTY.replace("2018-01-25", "2018-02-30");
    match parse_record(RecordKind::Casualty, bad.as_bytes(), today) {
        Err(e) => write!(out, "{}", super::failure::record_failure("record.json", e))?,
        Ok(_) => writeln!(out, "(unexpectedly accepted)")?,
    }

    step(out, "5. List and show", "$ sijill list")?;
    output::list(out, &store, None, &Default::default(), false)?;
    writeln!(
        out,
        "\n$ sijill show {} --history",
        &casualty_id.to_hex()[..12]
    )?;
    let entry = store.get(&store.resolve(&casualty_id.to_hex()[..12])?)?;
    output::show_text(out, &store, &entry, true)?;

    step(
        out,
        "6. Audit",
        "`sijill audit` replays every log from its first byte: canonical form, schema,\n\
         signature, sequence numbers, the Merkle tree, and the index against the files.",
    )?;
    let report = audit::audit(&store)?;
    output::audit_text(out, &report)?;

    step(
        out,
        "7. A crash in the middle of a write",
        "Suppose the laptop lost power while a record was being written: half a frame is\n\
         left at the end of the log. That record was never acknowledged. On the next open\n\
         the torn tail is set aside (kept, not deleted) and reported; everything\n\
         acknowledged is still there.",
    )?;
    let log = store.group_key().to_bytes();
    let segment = store.segment_path(&log);
    drop(store);
    {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&segment)
            .map_err(|e| Failure::usage(format!("{}: {e}", segment.display())))?;
        file.write_all(b"SJEN\x00\x00\x01")?;
    }
    let store = Store::open(&dir)?;
    for warning in store.warnings() {
        writeln!(out, "warning: {warning}")?;
    }
    let report = audit::audit(&store)?;
    output::audit_text(out, &report)?;

    step(
        out,
        "8. The index is only a cache",
        "The index (sled) is derived from the log files. Deleting it loses nothing:\n\
         the next open, or `sijill reindex`, rebuilds it.",
    )?;
    drop(store);
    std::fs::remove_dir_all(dir.join(sijill::store::INDEX_DIR))?;
    let store = Store::open(&dir)?;
    for warning in store.warnings() {
        writeln!(out, "warning: {warning}")?;
    }
    writeln!(
        out,
        "the index holds {} entries again",
        store.indexed_entries()
    )?;

    step(
        out,
        "9. Someone edits a record on disk",
        "Now one byte of the first record is changed in the log file, as an insider with\n\
         access to the laptop might do. The audit names the entry and the broken property\n\
         and `sijill audit` exits with status 1.",
    )?;
    drop(store);
    let mut bytes = std::fs::read(&segment)?;
    let needle = "2018-01-25".as_bytes();
    if let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) {
        bytes[at + 9] = b'4';
    }
    std::fs::write(&segment, &bytes)?;
    let store = Store::open(&dir)?;
    let report = audit::audit(&store)?;
    output::audit_text(out, &report)?;
    drop(store);

    writeln!(out)?;
    writeln!(out, "Done. Start your own store with:")?;
    writeln!(
        out,
        "  sijill --store ~/sijill-store init --org \"Your Group\""
    )?;
    Ok(0)
}
