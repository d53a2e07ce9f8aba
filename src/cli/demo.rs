//! `sijill demo`: the whole workflow on a temporary store, explained as it
//! goes, so that a new user sees what the tool does and what it guards against.

use std::io::Write;

use time::OffsetDateTime;

use sijill::audit;
use sijill::bundle;
use sijill::exchange::{self, ExchangeError, ExportOptions};
use sijill::record::{parse_record, RecordKind};
use sijill::store::{InitOptions, Store, StoreError};
use sijill::trust::TrustStore;

use sijill::entry::Body;
use sijill::group_keys::{self, GroupTrust, KeyBody, KeyEvent};
use sijill::lifecycle::{self, Lifecycle};

use super::{exchange_cli, latest_allowed_date, lifecycle as lifecycle_cli, output, Failure};

/// Sign a lifecycle entry into the group's log and print its id, as the
/// commands do.
fn append_step(
    out: &mut impl Write,
    store: &mut Store,
    key: &sijill::keys::SigningKey,
    body: Lifecycle,
) -> Result<(), DemoError> {
    let signed =
        store.append_bodies(key, vec![Body::Lifecycle(body)], OffsetDateTime::now_utc())?;
    writeln!(out, "{}", signed[0].id)?;
    Ok(())
}

fn demo_exchange_failure(e: ExchangeError) -> Failure {
    Failure::usage(e.to_string())
}

pub const DEMO_CASUALTY: &str = include_str!("../../fixtures/records/casualty.json");
/// The record the demo's field laptop signs with its device key.
const DEMO_DEVICE_CASUALTY: &str = r#"{"name": {"ar": "خالد عمر", "latin": "Khaled Omar"}, "sex": "male", "date_of_death": "2018-02-20", "place_of_death": {"governorate": "Aleppo"}}"#;
/// The demo's device name.
const DEMO_DEVICE: &str = "laptop-aleppo-2";
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
    let missing_id = signed[0].id;
    writeln!(
        out,
        "$ sijill add missing --json - < missing.json\n{missing_id}"
    )?;

    step(
        out,
        "4. Her case over time",
        "Nothing is overwritten. A released detainee says he saw her in detention; a\n\
         family interview fixes the day she was last seen; a second source confirms.\n\
         Each is a new signed entry naming the record, and `show --history` gives every\n\
         step with who signed it, when and why. She stays presumed alive: only finding\n\
         her, or her remains, closes the case.",
    )?;
    let today = latest_allowed_date();
    let trust = group_keys::LazyGroupTrust::new();
    let view =
        lifecycle::view(&store, &missing_id, &trust).map_err(lifecycle_cli::lifecycle_failure)?;
    let status = lifecycle::new_status_change(
        &view,
        "detained-unacknowledged",
        Some("2016-07"),
        "a released detainee saw her in a detention branch in July 2016",
        today,
    )
    .map_err(lifecycle_cli::lifecycle_failure)?;
    writeln!(
        out,
        "$ sijill status {} detained-unacknowledged --date 2016-07 --reason \"...\"",
        &missing_id.to_hex()[..12]
    )?;
    append_step(out, &mut store, &key, status)?;
    let view =
        lifecycle::view(&store, &missing_id, &trust).map_err(lifecycle_cli::lifecycle_failure)?;
    let amend = lifecycle::new_amendment(
        &view,
        vec![(
            "last_seen.date".to_string(),
            serde_json::Value::from("2016-05-14"),
        )],
        "family interview: she left home on 14 May 2016",
        today,
    )
    .map_err(lifecycle_cli::lifecycle_failure)?;
    writeln!(
        out,
        "$ sijill amend {} --set last_seen.date=2016-05-14 --reason \"...\"",
        &missing_id.to_hex()[..12]
    )?;
    append_step(out, &mut store, &key, amend)?;
    let view =
        lifecycle::view(&store, &missing_id, &trust).map_err(lifecycle_cli::lifecycle_failure)?;
    let corroborate = lifecycle::new_corroboration(
        &view,
        lifecycle::SourceArgs {
            source_type: "eyewitness",
            reference: Some("interview 2017-031"),
            reliability: Some("medium"),
            date: Some("2017-02"),
        },
        "a second former detainee describes her",
        today,
    )
    .map_err(lifecycle_cli::lifecycle_failure)?;
    writeln!(
        out,
        "$ sijill corroborate {} --source-type eyewitness --reason \"...\"",
        &missing_id.to_hex()[..12]
    )?;
    append_step(out, &mut store, &key, corroborate)?;
    writeln!(
        out,
        "\n$ sijill show {} --history",
        &missing_id.to_hex()[..12]
    )?;
    let entry = store.get(&missing_id)?;
    output::show_text(out, &store, &entry, true)?;

    step(
        out,
        "5. A second laptop: a device key",
        "Monitors in the field sign with their laptop's own key, never with the group key,\n\
         so that a seized laptop costs one key, not the group's. `key add-device` makes a\n\
         device key (sealed like the group key) and certifies it with a signed key-certify\n\
         entry in the group's log; the laptop's records go to the device's own log.\n\
         Partners who trust the group key accept them (step 11). If the laptop is seized,\n\
         `key revoke` ends the key from a size of its log on; what came before still verifies.",
    )?;
    let now = OffsetDateTime::now_utc();
    let device = group_keys::create_device_key(&store, DEMO_DEVICE, None, now)?;
    let certify = KeyBody::Certify {
        key: device.verifying_key(),
        name: DEMO_DEVICE.to_string(),
        reason: Some("field laptop, Aleppo office".to_string()),
    };
    let signed = store.append_bodies(&key, vec![Body::Key(certify)], now)?;
    writeln!(
        out,
        "$ sijill key add-device --name {DEMO_DEVICE} --reason \"field laptop, Aleppo office\"\n{}",
        sijill::keys::key_id(&device.verifying_key())
    )?;
    writeln!(
        out,
        "(certified by entry {}, in the group's log)",
        &signed[0].id.to_hex()[..16]
    )?;
    let record = parse_record(RecordKind::Casualty, DEMO_DEVICE_CASUALTY.as_bytes(), today)
        .map_err(|e| super::failure::record_failure("demo device record", e))?;
    let signed = store.append_records(&device, vec![record], OffsetDateTime::now_utc())?;
    store.sign_checkpoint(&device)?;
    let device_record = signed[0].id;
    writeln!(
        out,
        "\n$ sijill add casualty --json khaled.json --as-device {DEMO_DEVICE}\n{device_record}"
    )?;
    let shown = store.get(&device_record)?;
    writeln!(
        out,
        "(signed by the device key {}, at seq {} of the device's own log)",
        sijill::keys::key_id(&shown.entry.log),
        shown.entry.seq
    )?;

    step(
        out,
        "6. Refuse bad input",
        "Input that does not fit the schema is refused with the field named, and the\n\
         store is left exactly as it was. A date of death on 30 February:",
    )?;
    let bad = DEMO_CASUALTY.replace("2018-01-25", "2018-02-30");
    match parse_record(RecordKind::Casualty, bad.as_bytes(), today) {
        Err(e) => write!(out, "{}", super::failure::record_failure("record.json", e))?,
        Ok(_) => writeln!(out, "(unexpectedly accepted)")?,
    }

    step(out, "7. List and show", "$ sijill list")?;
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
        "8. Audit",
        "`sijill audit` replays every log from its first byte: canonical form, schema,\n\
         signature, sequence numbers, the Merkle tree, and the index against the files.",
    )?;
    let report = audit::audit(&store)?;
    output::audit_text(out, &report)?;

    step(
        out,
        "9. A crash in the middle of a write",
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
        "10. The index is only a cache",
        "The index (under index/) is derived from the log files. Deleting it loses nothing:\n\
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
        store.indexed_entries()?
    )?;

    step(
        out,
        "11. Share with a partner group",
        "A second group, \"Partner Group (demo)\", keeps its own store. It trusts the first\n\
         group's public key, then receives a bundle: one file with the group's signed\n\
         checkpoint, its entries and a signature over the whole. The missing person's\n\
         record holds a family contact, so it travels only as its Merkle leaf (the tree\n\
         still verifies) unless the group exports with --include-sensitive. The laptop's\n\
         log travels too: the partner trusts only the group key, and accepts the device\n\
         key because the group's log certifies it.",
    )?;
    let mut store = store;
    let partner_dir = temp.path().join("partner");
    let mut partner = Store::init(
        &partner_dir,
        InitOptions {
            organisation: "Partner Group (demo)",
            passphrase: None,
            now: OffsetDateTime::now_utc(),
        },
    )?;
    let public = sijill::keys::PublicKeyFile {
        key: *store.group_key(),
        organisation: Some(store.meta().organisation.clone()),
        created: None,
    };
    let mut trust = TrustStore::load(partner.root()).map_err(|e| Failure::usage(e.to_string()))?;
    trust
        .add("Violations Documentation Group", &public)
        .map_err(|e| Failure::usage(e.to_string()))?;
    writeln!(
        out,
        "$ sijill --store partner trust add group.pub --name \"Violations Documentation Group\""
    )?;
    let bundle_path = temp.path().join("group.bundle");
    let summary = exchange::export(&mut store, &key, &ExportOptions::default(), &bundle_path)
        .map_err(demo_exchange_failure)?;
    writeln!(
        out,
        "$ sijill export --out group.bundle\n({} bytes; {} entries carried, {} withheld)",
        summary.bytes,
        summary.logs.iter().map(|l| l.2).sum::<u64>(),
        summary.logs.iter().map(|l| l.3).sum::<u64>()
    )?;
    writeln!(out, "\n$ sijill --store partner verify group.bundle")?;
    let cosigners = exchange::cosigner_keys(&trust);
    let mut bundle_events = Vec::new();
    let report = bundle::verify(
        std::io::BufReader::new(std::fs::File::open(&bundle_path)?),
        &cosigners,
        &mut |_| {},
        &mut |item| {
            if let bundle::Verified::Entry { bytes, .. } = item {
                bundle_events.extend(KeyEvent::from_verified_bytes(bytes));
            }
            Ok(())
        },
    )
    .map_err(|e| Failure::integrity(e.to_string()))?;
    // The device key is trusted through the group key's key-certify entry.
    let mut named = trust.named_keys();
    let roots: Vec<_> = named.iter().map(|(_, k)| *k).collect();
    let group_trust = GroupTrust::derive_with_own(&partner.own_keys(), &roots, &bundle_events);
    exchange_cli::name_derived_keys(&mut named, &report, &group_trust);
    exchange_cli::write_report(
        out,
        &bundle_path,
        &report,
        &named,
        Some(partner.group_key()),
    )?;
    writeln!(out, "\n$ sijill --store partner import group.bundle")?;
    let outcome = exchange::import(&mut partner, &bundle_path, &trust, &mut |_| {})
        .map_err(demo_exchange_failure)?;
    for (log, from, to) in &outcome.appended {
        writeln!(
            out,
            "log {}: added entries {from} to {}",
            sijill::keys::key_id(log),
            to - 1
        )?;
    }
    writeln!(
        out,
        "\n$ sijill --store partner show {}",
        &casualty_id.to_hex()[..12]
    )?;
    let imported = partner.get(&casualty_id)?;
    let mut shown = Vec::new();
    output::show_text(&mut shown, &partner, &imported, false)?;
    for line in String::from_utf8_lossy(&shown).lines().take(5) {
        writeln!(out, "{line}")?;
    }

    step(
        out,
        "12. A tampered copy is refused",
        "Someone changes one byte of the bundle on its way (here, a digit of the date of\n\
         death). Verification stops at the exact place and says which property broke;\n\
         an import of it would write nothing.",
    )?;
    let mut tampered = std::fs::read(&bundle_path)?;
    let needle = "2018-01-25".as_bytes();
    if let Some(at) = tampered.windows(needle.len()).position(|w| w == needle) {
        tampered[at + 9] = b'4';
    }
    match bundle::verify(&tampered[..], &cosigners, &mut |_| {}, &mut |_| Ok(())) {
        Err(e) => writeln!(out, "error: group.bundle: {e}")?,
        Ok(_) => writeln!(out, "(unexpectedly accepted)")?,
    }

    step(
        out,
        "13. The auditor's view",
        "The partner checks the group's checkpoint against everything it holds of that\n\
         log and cosigns it. The group keeps the cosigned checkpoint and sends it with\n\
         its next bundles: from then on, a different history of the same log would be\n\
         refused by the partner and kept as evidence. The partner's audit replays its\n\
         copy of the group's log.",
    )?;
    let checkpoint = store.sign_checkpoint(&key)?;
    let partner_key = partner.signing_key(None)?;
    let cosigned = exchange::cosign(
        &mut partner,
        &partner_key,
        checkpoint.to_text().as_bytes(),
        &trust,
    )
    .map_err(demo_exchange_failure)?;
    writeln!(out, "$ sijill --store partner cosign group.checkpoint")?;
    write!(out, "{cosigned}")?;
    writeln!(out, "\n$ sijill --store partner audit")?;
    output::audit_text(out, &audit::audit(&partner)?)?;
    drop(partner);

    step(
        out,
        "14. Someone edits a record on disk",
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
