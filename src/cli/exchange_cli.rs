//! The commands that move records between groups: key export, trust,
//! export, verify, import, cosign, prove and evidence.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;

use sijill::bundle::{self, BundleReport, Scope};
use sijill::entry::format_timestamp;
use sijill::exchange::{self, ExchangeError, ExportOptions};
use sijill::filter::Filter;
use sijill::group_keys::{self, GroupTrust, KeyEvent, Standing};
use sijill::keys::{self, PublicKeyFile, VerifyingKey};
use sijill::record::{PartialDate, RecordKind};
use sijill::store::{Store, PUBLIC_KEY_FILE, STORE_FILE};
use sijill::trust::{TrustError, TrustStore};

use super::output::escape;
use super::{open, signing_key, write_failure, Failure, KindArg, EXIT_INTEGRITY};

#[derive(Args)]
pub struct ExportArgs {
    /// Where to write the bundle (it must not exist)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Export only what follows this checkpoint, which the partner holds
    /// (a consistency proof from it is included)
    #[arg(long, value_name = "CHECKPOINT_FILE")]
    since: Option<PathBuf>,
    /// Only records of this kind (makes a filtered bundle with inclusion proofs)
    #[arg(long)]
    kind: Option<KindArg>,
    /// Only records whose date may fall on or after this date (YYYY, YYYY-MM or YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Only records whose date may fall on or before this date
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Only records in this governorate
    #[arg(long, value_name = "NAME")]
    governorate: Option<String>,
    /// Let sensitive fields (a missing person's family contact) leave the
    /// store; the bundle records that they did
    #[arg(long)]
    include_sensitive: bool,
    /// Carry the evidence files (photos, documents) of the records that
    /// travel, not only their digests; the partner's `verify` checks each
    /// against its digest and `import` keeps them
    #[arg(long)]
    with_evidence: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The bundle
    file: PathBuf,
    /// A public key file to trust for this verification (repeatable); the
    /// store's trusted keys are used too when there is a store
    #[arg(long, value_name = "KEYFILE")]
    trust: Vec<PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ImportArgs {
    /// A bundle, or a checkpoint of this group's log cosigned by a partner
    file: PathBuf,
}

#[derive(Subcommand)]
pub enum TrustCommand {
    /// Trust a group's public key file under a name
    Add {
        file: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// List the trusted keys
    List,
    /// Stop trusting a key
    Remove { name: String },
}

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// List the pairs of signed checkpoints that cannot both be true
    List {
        #[arg(long)]
        json: bool,
    },
    /// Check every stored evidence file against its BLAKE3 digest, and every
    /// file a record of this group references against its size (exit 1 on
    /// any problem)
    Verify {
        /// Print the problems as JSON
        #[arg(long)]
        json: bool,
    },
}

fn exchange_failure(e: ExchangeError) -> Failure {
    match e {
        ExchangeError::Store(e) => e.into(),
        ExchangeError::Untrusted(_) => Failure::integrity(e.to_string())
            .hint("if you know this group, trust its key: sijill trust add GROUP.pub --name \"Group name\""),
        ExchangeError::Equivocation { .. } => Failure::integrity(e.to_string()).hint(
            "nothing was imported; `sijill evidence list` shows both checkpoints, which together prove the log was rewritten",
        ),
        ref other if other.is_integrity_failure() => Failure::integrity(other.to_string()),
        other => Failure::usage(other.to_string()),
    }
}

fn trust_failure(e: TrustError) -> Failure {
    let hint = match &e {
        TrustError::NameTaken(_) => {
            Some("choose another name, or `sijill trust remove NAME` first")
        }
        TrustError::KeyTaken(_) => Some("`sijill trust list` shows the name it has"),
        TrustError::NoSuchName(_) => Some("`sijill trust list` shows the trusted names"),
        _ => None,
    };
    let f = Failure::usage(e.to_string());
    match hint {
        Some(h) => f.hint(h),
        None => f,
    }
}

fn read_small_file(path: &Path) -> Result<Vec<u8>, Failure> {
    let meta =
        std::fs::metadata(path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    if meta.len() > 1024 * 1024 {
        return Err(Failure::usage(format!(
            "{}: larger than 1 MiB; not a key or checkpoint file",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

fn read_key_file(path: &Path) -> Result<PublicKeyFile, Failure> {
    let text = String::from_utf8(read_small_file(path)?)
        .map_err(|_| Failure::usage(format!("{}: not a text file", path.display())))?;
    PublicKeyFile::parse(&text).map_err(|e| {
        Failure::usage(format!("{}: {e}", path.display()))
            .hint("a public key file is what `sijill key export --out FILE` writes")
    })
}

fn parse_date(flag: &str, text: &Option<String>) -> Result<Option<PartialDate>, Failure> {
    text.as_deref()
        .map(|t| {
            PartialDate::parse(t).map_err(|e| {
                Failure::usage(format!("{flag} {t:?}: {}", e.message))
                    .hint("write dates as YYYY, YYYY-MM or YYYY-MM-DD")
            })
        })
        .transpose()
}

pub fn key_export(store_dir: &Path, out: &Path, force: bool) -> Result<u8, Failure> {
    let store = open(store_dir)?;
    if out.exists() && !force {
        return Err(Failure::usage(format!("{} exists", out.display()))
            .hint("choose another name, or add --force to replace it"));
    }
    let text = std::fs::read(store.root().join(PUBLIC_KEY_FILE))
        .map_err(|e| Failure::usage(format!("{PUBLIC_KEY_FILE}: {e}")))?;
    std::fs::write(out, text).map_err(|e| Failure::usage(format!("{}: {e}", out.display())))?;
    eprintln!(
        "wrote the public key of {} (key id {}) to {}",
        escape(&store.meta().organisation),
        keys::key_id(&store.root_key()),
        out.display()
    );
    if store.root_key() != *store.group_key() {
        eprintln!(
            "this is the group's root key; the store now signs with key {}, which partners who trust the root accept through the key-rotate entries its bundles carry",
            keys::key_id(store.group_key())
        );
    }
    Ok(0)
}

pub fn trust(store_dir: &Path, command: TrustCommand) -> Result<u8, Failure> {
    let store = open(store_dir)?;
    let mut trust = TrustStore::load(store.root()).map_err(trust_failure)?;
    let out = &mut crate::cli::gate::stdout();
    match command {
        TrustCommand::Add { file, name } => {
            let key_file = read_key_file(&file)?;
            if store.own_keys().contains(&key_file.key) {
                return Err(Failure::usage(
                    "this is one of the store's own group keys; it needs no trust",
                ));
            }
            let added = trust.add(&name, &key_file).map_err(trust_failure)?;
            eprintln!(
                "trusting {} as {:?} (key id {})",
                escape(added.organisation.as_deref().unwrap_or("an unnamed group")),
                added.name,
                keys::key_id(&key_file.key)
            );
        }
        TrustCommand::List => {
            for k in trust.keys() {
                let id = k
                    .verifying_key()
                    .map(|v| keys::key_id(&v).to_string())
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{id}  {}  (file says: {}; added {})",
                    escape(&k.name),
                    escape(k.organisation.as_deref().unwrap_or("-")),
                    k.added_at
                )
                .map_err(write_failure)?;
            }
            if trust.keys().is_empty() {
                eprintln!("no trusted keys; add one with `sijill trust add GROUP.pub --name NAME`");
            }
        }
        TrustCommand::Remove { name } => {
            let removed = trust.remove(&name).map_err(trust_failure)?;
            eprintln!("no longer trusting {:?}", removed.name);
        }
    }
    Ok(0)
}

pub fn export(store_dir: &Path, args: ExportArgs) -> Result<u8, Failure> {
    if args.out.exists() {
        return Err(Failure::usage(format!(
            "{} exists; a bundle is never overwritten",
            args.out.display()
        )));
    }
    let filter = Filter::new()
        .kind(args.kind.map(RecordKind::from))
        .from(parse_date("--from", &args.from)?)
        .to(parse_date("--to", &args.to)?)
        .governorate(args.governorate.as_deref());
    let mut filter_text = std::collections::BTreeMap::new();
    for (name, value) in [
        (
            "kind",
            args.kind.map(|k| RecordKind::from(k).as_str().to_string()),
        ),
        ("from", args.from.clone()),
        ("to", args.to.clone()),
        ("governorate", args.governorate.clone()),
    ] {
        if let Some(v) = value {
            filter_text.insert(name.to_string(), v);
        }
    }
    let since = args.since.as_deref().map(read_small_file).transpose()?;
    let mut store = open(store_dir)?;
    let key = signing_key(&store)?;
    let options = ExportOptions {
        since,
        filter,
        filter_text,
        include_sensitive: args.include_sensitive,
        with_evidence: args.with_evidence,
    };
    let summary =
        exchange::export(&mut store, &key, &options, &args.out).map_err(exchange_failure)?;
    eprintln!(
        "wrote {} ({} bundle, {} bytes, digest {})",
        args.out.display(),
        summary.scope.as_str(),
        summary.bytes,
        hex::encode(summary.digest)
    );
    for (log, size, carried, withheld) in &summary.logs {
        eprintln!(
            "  log {}: checkpoint size {size}, {carried} entries carried, {withheld} withheld",
            keys::key_id(log)
        );
    }
    if summary.logs.iter().any(|l| l.3 > 0) {
        eprintln!("  withheld: internal records, and records with sensitive fields unless --include-sensitive; only their Merkle leaves are carried, so the log still verifies");
    }
    let referenced = summary.evidence.len();
    if args.with_evidence {
        if referenced > 0 {
            eprintln!(
                "  evidence files: {} carried ({} bytes){}",
                summary.files_carried,
                summary.file_bytes,
                match summary.files_not_held.len() {
                    0 => String::new(),
                    n => format!(
                        "; {n} referenced but not held here, so not carried: {}",
                        summary
                            .files_not_held
                            .iter()
                            .map(|d| hex::encode(&d[..8]))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            );
        } else {
            eprintln!("  evidence files: none (no record that travels references one)");
        }
    } else if referenced > 0 {
        eprintln!(
            "  evidence files: the records carry the digests of {referenced} files, not the files; add --with-evidence to send them"
        );
    }
    for s in &summary.stopped {
        let revoked = format!(
            "log {} was revoked by entry {} (reason: {}) from seq {}",
            keys::key_id(&s.key),
            s.revocation,
            escape(&s.reason),
            s.keep_up_to
        );
        match s.exported {
            Some(size) => eprintln!(
                "  {revoked}: exported up to its checkpoint of size {size}; its entries {size} to {} do not travel{}",
                s.held - 1,
                if size < s.keep_up_to.min(s.held) {
                    " (those before the revocation point are covered by no checkpoint of that key)"
                } else {
                    ""
                }
            ),
            None => eprintln!(
                "  {revoked}: left out, as no checkpoint of that key at or before the revocation point is held; its {} entries do not travel",
                s.held
            ),
        }
    }
    Ok(0)
}

/// A progress bar on a terminal for long reads; nothing otherwise.
fn progress_bar(len: u64) -> Option<indicatif::ProgressBar> {
    if !io::stderr().is_terminal() || len < 8 * 1024 * 1024 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

fn trusted_name(
    trust: &[(String, VerifyingKey)],
    key: &VerifyingKey,
    own: Option<&VerifyingKey>,
) -> String {
    if own == Some(key) {
        return "this store's own group key".into();
    }
    match trust.iter().find(|(_, k)| k == key) {
        Some((name, _)) => format!("trusted as {:?}", escape(name)),
        None => "NOT TRUSTED".into(),
    }
}

pub fn verify(store_dir: Option<PathBuf>, args: VerifyArgs) -> Result<u8, Failure> {
    // A store is used for its trust list when there is one; verification
    // itself needs only the file and keys.
    let mut named: Vec<(String, VerifyingKey)> = Vec::new();
    let mut own = None;
    let mut own_keys = Vec::new();
    let mut held_events = Vec::new();
    if let Some(dir) = store_dir.filter(|d| d.join(STORE_FILE).exists()) {
        let store = open(&dir)?;
        own = Some(*store.group_key());
        own_keys = store.own_keys();
        held_events = group_keys::store_key_events(&store)?;
        let trust = TrustStore::load(store.root()).map_err(trust_failure)?;
        named.extend(trust.named_keys());
    }
    for path in &args.trust {
        let file = read_key_file(path)?;
        named.push((path.display().to_string(), file.key));
    }
    let mut cosigners: Vec<(String, VerifyingKey)> = named
        .iter()
        .map(|(_, k)| (exchange::cosigner_name(k), *k))
        .collect();
    if let Some(k) = own {
        cosigners.push((exchange::cosigner_name(&k), k));
    }
    let file = std::fs::File::open(&args.file)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.file.display())))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(len);
    let mut progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let mut bundle_events = Vec::new();
    let result = bundle::verify(
        io::BufReader::with_capacity(1 << 20, file),
        &cosigners,
        &mut progress,
        &mut |item| {
            if let bundle::Verified::Entry { bytes, .. } = item {
                bundle_events.extend(KeyEvent::from_verified_bytes(bytes));
            }
            Ok(())
        },
    );
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let out = &mut crate::cli::gate::stdout();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            if args.json {
                let value =
                    json!({"file": args.file.display().to_string(), "valid": false, "error": e});
                serde_json::to_writer_pretty(&mut *out, &value)
                    .map_err(|e| write_failure(e.into()))?;
                writeln!(out).map_err(write_failure)?;
                return Ok(EXIT_INTEGRITY);
            }
            if e.problem == bundle::BundleProblem::Io {
                return Err(
                    Failure::usage(format!("{}: {}", args.file.display(), e.message))
                        .hint("give the path of a bundle file"),
                );
            }
            return Err(Failure::integrity(format!("{}: {}", args.file.display(), escape(&e.to_string())))
                .hint("the bundle was changed, cut or badly made: import nothing from it, and ask the sender for a new copy"));
        }
    };
    // Keys trusted through a trusted group's key entries (FORMAT.md §9.6),
    // held or in the bundle, are named for what they are.
    let roots: Vec<VerifyingKey> = named.iter().map(|(_, k)| *k).collect();
    held_events.extend(bundle_events);
    let group_trust = GroupTrust::derive_with_own(&own_keys, &roots, &held_events);
    for k in own_keys.iter().skip(1) {
        named.push(("this store's former group key".into(), *k));
    }
    name_derived_keys(&mut named, &report, &group_trust);
    let revoked = exchange::revoked_in_bundle(&report, &group_trust);
    let mut untrusted: Vec<String> = std::iter::once(&report.exporter)
        .chain(report.logs.iter().map(|l| &l.key))
        .filter(|k| !group_trust.is_trusted(k))
        .map(|k| keys::key_id(k).to_string())
        .collect();
    untrusted.dedup();
    if args.json {
        write_report_json(out, &args.file, &report, &named, own.as_ref(), &untrusted)
            .map_err(write_failure)?;
    } else {
        write_report(out, &args.file, &report, &named, own.as_ref()).map_err(write_failure)?;
    }
    if !revoked.is_empty() {
        return Err(Failure::integrity(escape(&revoked.join("; "))).hint(
            "entries before each revocation point still verify; do not import this bundle, ask the group for one without the revoked entries",
        ));
    }
    if untrusted.is_empty() {
        Ok(0)
    } else {
        Err(Failure::integrity(format!(
            "the bundle verifies, but key{} {} {} not trusted",
            if untrusted.len() == 1 { "" } else { "s" },
            untrusted.join(", "),
            if untrusted.len() == 1 { "is" } else { "are" }
        ))
        .hint("if you know the group, trust its key: sijill trust add GROUP.pub --name \"Group name\" (or pass --trust GROUP.pub)"))
    }
}

/// Name, for a report, the keys of a bundle's logs that are trusted through
/// key entries (FORMAT.md §9.6): certified device keys, keys rotated to.
pub(super) fn name_derived_keys(
    named: &mut Vec<(String, VerifyingKey)>,
    report: &BundleReport,
    trust: &GroupTrust,
) {
    for l in &report.logs {
        let label = match trust.standing(&l.key) {
            Some(Standing::Device { name, entry }) => {
                format!(
                    "device key {name} (certified by entry {})",
                    &entry.to_hex()[..16]
                )
            }
            Some(Standing::Rotated(entry)) => {
                format!(
                    "the group's new key (rotated to by entry {})",
                    &entry.to_hex()[..16]
                )
            }
            _ => continue,
        };
        if !named.iter().any(|(_, k)| *k == l.key) {
            named.push((label, l.key));
        }
    }
}

fn scope_text(report: &BundleReport) -> String {
    match report.header.scope {
        Scope::Full => "full (every entry of each log, or its leaf where withheld)".into(),
        Scope::Since => "since an earlier checkpoint (with a consistency proof)".into(),
        Scope::Filtered => {
            let f: Vec<String> = report
                .header
                .filter
                .iter()
                .map(|(k, v)| format!("{k}={}", escape(v)))
                .collect();
            format!(
                "filtered ({}), each entry with an inclusion proof",
                f.join(", ")
            )
        }
    }
}

pub(super) fn write_report(
    out: &mut impl Write,
    file: &Path,
    report: &BundleReport,
    named: &[(String, VerifyingKey)],
    own: Option<&VerifyingKey>,
) -> io::Result<()> {
    writeln!(
        out,
        "bundle       {} ({} bytes)",
        file.display(),
        report.bytes
    )?;
    writeln!(out, "digest       {}", hex::encode(report.digest))?;
    writeln!(
        out,
        "signed by    {} {:?}: {}",
        keys::key_id(&report.exporter),
        escape(&report.header.organisation),
        trusted_name(named, &report.exporter, own)
    )?;
    writeln!(out, "created      {}", report.header.created_at)?;
    writeln!(out, "scope        {}", scope_text(report))?;
    writeln!(
        out,
        "sensitive    {}",
        if report.header.include_sensitive {
            "INCLUDED (exported with --include-sensitive)"
        } else {
            "left out"
        }
    )?;
    for l in &report.logs {
        let cp = &l.checkpoint.checkpoint;
        writeln!(
            out,
            "log          {}: {}",
            keys::key_id(&l.key),
            trusted_name(named, &l.key, own)
        )?;
        writeln!(out, "  checkpoint size {}, root {}", cp.size, cp.root)?;
        if let Some(old) = &l.since {
            writeln!(
                out,
                "  extends    checkpoint size {}, root {}",
                old.checkpoint.size, old.checkpoint.root
            )?;
        }
        let kinds: Vec<String> = l.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        writeln!(
            out,
            "  entries    {}{}",
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(", ")
            },
            if l.withheld > 0 {
                format!("; {} withheld (leaf only)", l.withheld)
            } else {
                String::new()
            }
        )?;
        for c in &l.cosignatures {
            let name = named
                .iter()
                .find(|(_, k)| *k == c.key)
                .map_or(c.name.as_str(), |(n, _)| n.as_str());
            let when = time::OffsetDateTime::from_unix_timestamp(c.timestamp as i64)
                .map(format_timestamp)
                .unwrap_or_else(|_| c.timestamp.to_string());
            writeln!(
                out,
                "  cosigned   by {:?} ({}) at {when}",
                escape(name),
                keys::key_id(&c.key)
            )?;
        }
        for n in &l.unverified_signers {
            writeln!(
                out,
                "  unverified signature line by {:?} (key not known here)",
                escape(n)
            )?;
        }
    }
    if report.files > 0 {
        writeln!(
            out,
            "evidence     {} files ({} bytes), each matching its BLAKE3 digest and size",
            report.files, report.file_bytes
        )?;
    }
    writeln!(out, "result       every signature, proof and tree holds")
}

fn write_report_json(
    out: &mut impl Write,
    file: &Path,
    report: &BundleReport,
    named: &[(String, VerifyingKey)],
    own: Option<&VerifyingKey>,
    untrusted: &[String],
) -> io::Result<()> {
    let logs: Vec<_> = report
        .logs
        .iter()
        .map(|l| {
            json!({
                "log": hex::encode(l.key.as_bytes()),
                "key_id": keys::key_id(&l.key).to_string(),
                "trust": trusted_name(named, &l.key, own),
                "checkpoint": {"size": l.checkpoint.checkpoint.size, "root": l.checkpoint.checkpoint.root.to_hex(), "note": l.checkpoint.to_text()},
                "since": l.since.as_ref().map(|s| json!({"size": s.checkpoint.size, "root": s.checkpoint.root.to_hex()})),
                "entries": l.kinds,
                "withheld": l.withheld,
                "cosignatures": l.cosignatures.iter().map(|c| json!({"name": c.name, "key_id": keys::key_id(&c.key).to_string(), "timestamp": c.timestamp})).collect::<Vec<_>>(),
                "unverified_signers": l.unverified_signers,
            })
        })
        .collect();
    let value = json!({
        "file": file.display().to_string(),
        "valid": true,
        "trusted": untrusted.is_empty(),
        "untrusted_keys": untrusted,
        "bytes": report.bytes,
        "digest": hex::encode(report.digest),
        "exporter": {"key": hex::encode(report.exporter.as_bytes()), "key_id": keys::key_id(&report.exporter).to_string(), "organisation": report.header.organisation, "trust": trusted_name(named, &report.exporter, own)},
        "created_at": report.header.created_at,
        "scope": report.header.scope.as_str(),
        "filter": report.header.filter,
        "include_sensitive": report.header.include_sensitive,
        "logs": logs,
        "evidence_files": {"count": report.files, "bytes": report.file_bytes},
    });
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)
}

pub fn import(store_dir: &Path, args: ImportArgs) -> Result<u8, Failure> {
    let mut store = open(store_dir)?;
    let trust = TrustStore::load(store.root()).map_err(trust_failure)?;
    let mut head = [0u8; 16];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(&args.file)
            .map_err(|e| Failure::usage(format!("{}: {e}", args.file.display())))?;
        let _ = f.read(&mut head);
    }
    if head.starts_with(sijill::note::ORIGIN_PREFIX.as_bytes()) {
        let bytes = read_small_file(&args.file)?;
        let names =
            exchange::add_cosignatures(&mut store, &bytes, &trust).map_err(exchange_failure)?;
        eprintln!(
            "kept the checkpoint with cosignatures by {}",
            names
                .iter()
                .map(|n| format!("{:?}", escape(n)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(0);
    }
    let len = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(len);
    let mut progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let outcome = exchange::import(&mut store, &args.file, &trust, &mut progress);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let outcome = outcome.map_err(|e| {
        let f = exchange_failure(e);
        Failure {
            message: format!("{}: {}", args.file.display(), escape(&f.message)),
            ..f
        }
    })?;
    let report = &outcome.report;
    eprintln!(
        "verified {} (signed by {} {:?})",
        args.file.display(),
        keys::key_id(&report.exporter),
        escape(&report.header.organisation)
    );
    if outcome.appended.is_empty() {
        eprintln!("nothing new: this store already holds every entry in the bundle");
    }
    if report.files > 0 {
        eprintln!(
            "  evidence files: {} kept in {}/, {} held already",
            outcome.files_kept,
            sijill::evidence_files::EVIDENCE_FILES_DIR,
            outcome.files_held
        );
    }
    for (log, from, to) in &outcome.appended {
        eprintln!(
            "  log {}: added entries {from} to {} ({} new)",
            keys::key_id(log),
            to - 1,
            to - from
        );
    }
    Ok(0)
}

pub fn cosign(store_dir: &Path, file: &Path) -> Result<u8, Failure> {
    let bytes = read_small_file(file)?;
    let mut store = open(store_dir)?;
    let trust = TrustStore::load(store.root()).map_err(trust_failure)?;
    let key = signing_key(&store)?;
    let signed = exchange::cosign(&mut store, &key, &bytes, &trust).map_err(exchange_failure)?;
    print!("{signed}");
    eprintln!(
        "cosigned: send this checkpoint back; its log's group keeps it with `sijill import FILE`"
    );
    Ok(0)
}

pub fn prove(store_dir: &Path, id: &str) -> Result<u8, Failure> {
    let mut store = open(store_dir)?;
    let id = store.resolve(id)?;
    let location = store.location(&id)?;
    let own_log = location.is_some_and(|l| l.log == store.group_key().to_bytes());
    let key = if own_log {
        Some(signing_key(&store)?)
    } else {
        None
    };
    let proof = exchange::prove(&mut store, key.as_ref(), &id).map_err(exchange_failure)?;
    print!("{proof}");
    Ok(0)
}

pub fn evidence(store: &Store, json_out: bool) -> Result<u8, Failure> {
    let items = exchange::evidence(store).map_err(exchange_failure)?;
    let out = &mut crate::cli::gate::stdout();
    if json_out {
        let list: Vec<_> = items
            .iter()
            .map(|(p, e)| json!({"file": p.display().to_string(), "evidence": e}))
            .collect();
        serde_json::to_writer_pretty(&mut *out, &list).map_err(|e| write_failure(e.into()))?;
        writeln!(out).map_err(write_failure)?;
        return Ok(0);
    }
    if items.is_empty() {
        eprintln!("no evidence: no log has shown this store two histories");
    }
    for (path, e) in items {
        writeln!(
            out,
            "{}  log {}  found {}",
            path.display(),
            &e.log[..16.min(e.log.len())],
            e.found_at
        )
        .map_err(write_failure)?;
        writeln!(out, "  {}", escape(&e.reason)).map_err(write_failure)?;
        writeln!(out, "  from {}", escape(&e.source)).map_err(write_failure)?;
        writeln!(out, "  held:\n{}", indent(&e.held)).map_err(write_failure)?;
        writeln!(out, "  received:\n{}", indent(&e.received)).map_err(write_failure)?;
    }
    Ok(0)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {}", escape(l)))
        .collect::<Vec<_>>()
        .join("\n")
}
