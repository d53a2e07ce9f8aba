//! What commands print. Text that came from records or files is untrusted and
//! is escaped before it reaches a terminal.

use std::io::{self, Write};

use serde_json::{json, Value};

use sijill::audit::{AuditReport, Severity};
use sijill::entry::{format_timestamp, EntryKind, SignedEntry};
use sijill::keys;
use sijill::note::SignedCheckpoint;
use sijill::store::{Store, StoreError};

use super::Failure;

/// Escape control characters and bidirectional overrides, which could make
/// a terminal show something other than what the record holds.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let dangerous =
            c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if dangerous && c != '\n' {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn log_label(store: &Store, entry: &SignedEntry) -> String {
    let id = keys::key_id(&entry.entry.log);
    if entry.entry.log == *store.group_key() {
        format!(
            "{id} ({}, this store's group key)",
            escape(&store.meta().organisation)
        )
    } else {
        id.to_string()
    }
}

/// The entries about a record. Until amendments and other lifecycle entries
/// exist, that is the record's own entry.
fn history(entry: &SignedEntry) -> Vec<&SignedEntry> {
    vec![entry]
}

pub fn show_text(
    out: &mut impl Write,
    store: &Store,
    entry: &SignedEntry,
    with_history: bool,
) -> io::Result<()> {
    let e = &entry.entry;
    writeln!(out, "record       {}", entry.id)?;
    writeln!(out, "kind         {}", e.kind)?;
    writeln!(out, "log          {}", log_label(store, entry))?;
    writeln!(out, "sequence     {}", e.seq)?;
    if e.log != *store.group_key() {
        match sijill::exchange::provenance(store, &e.log, e.seq) {
            Ok(Some(p)) => writeln!(
                out,
                "imported     {} from bundle {} signed by {} ({}), {}",
                p.imported_at,
                &p.bundle[..16],
                escape(&p.organisation),
                keys::key_id(&sijill::keys::parse_public_key_hex(&p.exporter).unwrap_or(e.log)),
                escape(&p.file)
            )?,
            Ok(None) => writeln!(out, "imported     (no import record)")?,
            Err(err) => writeln!(out, "imported     (import records unreadable: {err})")?,
        }
    }
    writeln!(out, "recorded at  {}", format_timestamp(e.recorded_at))?;
    writeln!(out, "signature    valid (ed25519, verified just now)")?;
    if let Some(record) = e.record_body() {
        let headline = record.headline();
        writeln!(out, "name         {}", escape(&headline.name))?;
        if let Some(date) = headline.date {
            writeln!(out, "date         {}", escape(&date))?;
        }
        if let Some(place) = headline.place {
            writeln!(out, "place        {}", escape(&place))?;
        }
        writeln!(out, "sensitivity  {}", record.sensitivity().as_str())?;
        writeln!(out)?;
        let pretty = serde_json::to_string_pretty(&record.to_body()).unwrap_or_default();
        writeln!(out, "{}", escape(&pretty))?;
    }
    if with_history {
        writeln!(out)?;
        writeln!(out, "history")?;
        for h in history(entry) {
            writeln!(
                out,
                "  {}  {}  signed by {} (seq {})  {}",
                format_timestamp(h.entry.recorded_at),
                h.entry.kind,
                keys::key_id(&h.entry.log),
                h.entry.seq,
                if h.id == entry.id { "created" } else { "" }
            )?;
        }
    }
    Ok(())
}

fn entry_json(entry: &SignedEntry) -> Value {
    let e = &entry.entry;
    json!({
        "id": entry.id.to_hex(),
        "kind": e.kind.as_str(),
        "log": hex::encode(e.log.as_bytes()),
        "key_id": keys::key_id(&e.log).to_string(),
        "seq": e.seq,
        "recorded_at": format_timestamp(e.recorded_at),
        "signature": hex::encode(entry.signature.to_bytes()),
        "body": e.record_body().map(|r| r.to_body()),
    })
}

pub fn show_json(
    out: &mut impl Write,
    store: &Store,
    entry: &SignedEntry,
    with_history: bool,
) -> io::Result<()> {
    let mut value = entry_json(entry);
    if entry.entry.log != *store.group_key() {
        if let Ok(Some(p)) = sijill::exchange::provenance(store, &entry.entry.log, entry.entry.seq)
        {
            value["imported"] = serde_json::to_value(&p).unwrap_or_default();
        }
    }
    if with_history {
        value["history"] = Value::Array(history(entry).into_iter().map(entry_json).collect());
    }
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)
}

/// Print the records; returns how many.
pub fn list(
    out: &mut impl Write,
    store: &Store,
    kind: Option<EntryKind>,
    filter: &sijill::filter::Filter,
    as_json: bool,
) -> Result<u64, Failure> {
    let mut n = 0u64;
    let write_err = |e: io::Error| Failure::usage(format!("cannot write output: {e}"));
    if as_json {
        write!(out, "[").map_err(write_err)?;
    }
    for item in store.entries(kind) {
        let entry: SignedEntry = item.map_err(Failure::from)?;
        let Some(record) = entry.entry.record_body() else {
            continue;
        };
        if !filter.matches(record) {
            continue;
        }
        if as_json {
            let sep = if n == 0 { "\n" } else { ",\n" };
            write!(out, "{sep}{}", entry_json(&entry)).map_err(write_err)?;
        } else {
            let h = record.headline();
            writeln!(
                out,
                "{}  {:<8}  {:<10}  {}{}",
                &entry.id.to_hex()[..16],
                entry.entry.kind.as_str(),
                escape(h.date.as_deref().unwrap_or("-")),
                escape(&h.name),
                h.place
                    .map(|p| format!("  ({})", escape(&p)))
                    .unwrap_or_default()
            )
            .map_err(write_err)?;
        }
        n += 1;
    }
    if as_json {
        writeln!(out, "{}]", if n == 0 { "" } else { "\n" }).map_err(write_err)?;
    }
    Ok(n)
}

pub fn audit_text(out: &mut impl Write, report: &AuditReport) -> io::Result<()> {
    for log in &report.logs {
        writeln!(
            out,
            "log {}: {} entries, merkle root {}",
            log.key_id, log.entries, log.merkle_root
        )?;
    }
    for f in &report.findings {
        let severity = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut place = Vec::new();
        if let Some(k) = &f.key_id {
            place.push(format!("log {k}"));
        }
        if let Some(s) = f.seq {
            place.push(format!("seq {s}"));
        }
        if let Some(e) = &f.entry {
            place.push(format!("entry {e}"));
        }
        if let Some(o) = f.offset {
            place.push(format!("offset {o}"));
        }
        let place = if place.is_empty() {
            String::new()
        } else {
            format!(" {}:", place.join(", "))
        };
        writeln!(
            out,
            "{severity} [{}]{place} {}",
            f.property.as_str(),
            escape(&f.message)
        )?;
    }
    writeln!(
        out,
        "audited {} logs, {} valid entries{}: {} errors, {} warnings{}",
        report.logs.len(),
        report.entries_checked,
        if report.withheld > 0 {
            format!(" and {} withheld leaves", report.withheld)
        } else {
            String::new()
        },
        report.errors(),
        report.warnings(),
        if report.is_clean() { " (clean)" } else { "" }
    )
}

pub fn audit_json(out: &mut impl Write, report: &AuditReport) -> io::Result<()> {
    let value = json!({
        "clean": report.is_clean(),
        "errors": report.errors(),
        "warnings": report.warnings(),
        "entries_checked": report.entries_checked,
        "withheld": report.withheld,
        "logs": report.logs,
        "findings": report.findings,
    });
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)
}

pub fn key_show(out: &mut impl Write, store: &Store) -> io::Result<()> {
    let key = store.group_key();
    writeln!(out, "organisation  {}", escape(&store.meta().organisation))?;
    writeln!(out, "key id        {}", keys::key_id(key))?;
    writeln!(out, "public key    {}", hex::encode(key.as_bytes()))?;
    let protection = match store.secret_key_is_encrypted() {
        Ok(true) => "encrypted with a passphrase (Argon2id + XChaCha20-Poly1305)".to_string(),
        Ok(false) => "NOT encrypted: anyone who reads the file can sign as the group".to_string(),
        Err(StoreError::Key { source, .. }) => format!("unreadable: {source}"),
        Err(e) => format!("unreadable: {e}"),
    };
    writeln!(out, "secret key    {protection}")?;
    writeln!(
        out,
        "public file   {}",
        store.root().join(sijill::store::PUBLIC_KEY_FILE).display()
    )
}

pub fn checkpoint_json(out: &mut impl Write, signed: &SignedCheckpoint) -> io::Result<()> {
    let cp = &signed.checkpoint;
    let value = json!({
        "origin": cp.origin,
        "size": cp.size,
        "root": cp.root.to_hex(),
        "note": signed.to_text(),
    });
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)
}
