//! What commands print. Text that came from records or files is untrusted and
//! is escaped before it reaches a terminal.

use std::io::{self, Write};

use serde_json::{json, Value};

use sijill::audit::{AuditReport, Severity};
use sijill::entry::{format_timestamp, EntryId, EntryKind, SignedEntry};
use sijill::group_keys::{GroupTrust, LazyGroupTrust, Standing};
use sijill::keys::{self, VerifyingKey};
use sijill::lifecycle::{self, Effect, Lifecycle, RecordView, Step};
use sijill::note::SignedCheckpoint;
use sijill::record::Vocab;
use sijill::store::{Store, StoreError};
use sijill::trust::TrustStore;

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

/// Who signs for whom, as `show` names it: this store's keys and the
/// device keys they certified, trusted groups' keys, and the keys trusted
/// through their key entries (FORMAT.md §9.6). The key entries are read only
/// for a key that is neither the store's own nor in `trust.json`.
pub struct Signers<'a> {
    store: &'a Store,
    trust: Option<TrustStore>,
    groups: LazyGroupTrust,
    /// What a store whose key entries cannot be read is named with.
    unread: GroupTrust,
}

impl<'a> Signers<'a> {
    pub fn of(store: &'a Store) -> Signers<'a> {
        Signers {
            store,
            trust: TrustStore::load(store.root()).ok(),
            groups: LazyGroupTrust::new(),
            unread: GroupTrust::default(),
        }
    }

    /// The groups of the store's key entries, for folds.
    pub fn groups(&self) -> &LazyGroupTrust {
        &self.groups
    }

    fn derived(&self) -> &GroupTrust {
        self.groups.get(self.store).unwrap_or(&self.unread)
    }

    fn is_root(&self, log: &VerifyingKey) -> bool {
        self.store.own_keys().contains(log)
            || self
                .trust
                .as_ref()
                .is_some_and(|t| t.name_of(log).is_some())
    }

    fn is_own(&self, log: &VerifyingKey) -> bool {
        self.store.own_keys().contains(log) || (!self.is_root(log) && self.derived().is_own(log))
    }

    /// The name and certifying entry of `log` when it is a device key.
    fn device(&self, log: &VerifyingKey) -> Option<(&str, EntryId)> {
        if self.is_root(log) {
            return None;
        }
        match self.derived().standing(log) {
            Some(Standing::Device { entry, name }) => Some((name.as_str(), *entry)),
            _ => None,
        }
    }

    /// The name and certifying entry of `log` when it is a device key of
    /// this store's own group.
    fn own_device(&self, log: &VerifyingKey) -> Option<(String, EntryId)> {
        let (name, entry) = self.device(log)?;
        self.is_own(log).then(|| (name.to_string(), entry))
    }

    /// The name of the group `log` signs for: this store's organisation, or
    /// the name a trusted group was given.
    fn group_name(&self, log: &VerifyingKey) -> Option<String> {
        if self.is_own(log) {
            return Some(self.store.meta().organisation.clone());
        }
        let trust = self.trust.as_ref()?;
        if let Some(name) = trust.name_of(log) {
            return Some(name.to_string());
        }
        let groups = self.derived();
        let rep = VerifyingKey::from_bytes(&groups.group_of(log)).ok()?;
        groups
            .is_trusted(log)
            .then(|| trust.name_of(&rep).map(str::to_string))
            .flatten()
    }

    /// Who signed an entry: key id, then the group and the key's role when
    /// the key is this store's or a trusted group's.
    fn signer(&self, log: &VerifyingKey) -> String {
        let id = keys::key_id(log);
        let mut parts = match self.group_name(log) {
            Some(name) => vec![escape(&name)],
            None if self.derived().is_trusted(log) => vec!["a trusted group".to_string()],
            None => return format!("{id} (not trusted)"),
        };
        if let Some((name, _)) = self.device(log) {
            parts.push(format!("device {}", escape(name)));
        }
        if !self.is_own(log) {
            parts.push("trusted".into());
        }
        format!("{id} ({})", parts.join(", "))
    }

    fn log_label(&self, log: &VerifyingKey) -> String {
        let id = keys::key_id(log);
        let org = escape(&self.store.meta().organisation);
        if log == self.store.group_key() {
            format!("{id} ({org}, this store's group key)")
        } else if self.store.own_keys().contains(log) {
            format!("{id} ({org}, this store's former group key)")
        } else if let Some((name, _)) = self.own_device(log) {
            format!("{id} ({org}, this store's device {})", escape(&name))
        } else {
            id.to_string()
        }
    }

    /// For JSON: the group's name, or null.
    fn name_value(&self, log: &VerifyingKey) -> Value {
        self.group_name(log).map_or(Value::Null, Value::String)
    }
}

/// What a step says, in one line.
fn step_summary(step: &Step) -> String {
    let what = match step.lifecycle() {
        None => "record created".to_string(),
        Some(Lifecycle::Amendment(a)) => {
            let set: Vec<String> = a.set.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("set {}", set.join(", "))
        }
        Some(Lifecycle::StatusChange(c)) => match &c.date {
            Some(d) => format!("status {} since {d}", c.status.term()),
            None => format!("status {}", c.status.term()),
        },
        Some(Lifecycle::Retraction(_)) => "retracted".to_string(),
        Some(Lifecycle::Corroboration(c)) => {
            let term = c.source.source_type.term();
            let article = if term.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            let mut s = format!("corroborated by {article} {term} source");
            if let Some(r) = &c.source.reference {
                s.push_str(&format!(" ({r})"));
            }
            s
        }
        Some(Lifecycle::SamePersonLink(l)) => format!(
            "same person as {} and {} ({})",
            &l.records[0].to_hex()[..16],
            &l.records[1].to_hex()[..16],
            l.certainty
        ),
        Some(Lifecycle::SamePersonUnlink(u)) => {
            format!("link {} withdrawn", &u.link.to_hex()[..16])
        }
    };
    escape(&what)
}

fn effect_text(effect: &Effect) -> Option<String> {
    match effect {
        Effect::NotApplied(why) => Some(format!("not applied: {}", escape(why))),
        _ => None,
    }
}

fn write_view_text(
    out: &mut impl Write,
    signers: &Signers<'_>,
    view: &RecordView,
    with_history: bool,
) -> io::Result<()> {
    if let Some((by, reason)) = &view.retracted {
        writeln!(
            out,
            "RETRACTED    by entry {} because {:?}; kept, not counted",
            &by.to_hex()[..16],
            escape(reason)
        )?;
    }
    if let sijill::record::Record::Missing(m) = &view.current {
        let since = view
            .status_date
            .as_ref()
            .map(|d| format!(" since {d}"))
            .unwrap_or_default();
        let case = if lifecycle::status_keeps_case_open(m.status) {
            "case open: presumed alive until identified"
        } else {
            "case closed"
        };
        writeln!(out, "status       {}{since} ({case})", m.status.term())?;
    }
    for (id, by, c) in &view.corroborations {
        writeln!(
            out,
            "corroborated by {} ({} source, reliability {}) in entry {}",
            signers.signer(by),
            c.source.source_type.term(),
            c.source.reliability.term(),
            &id.to_hex()[..16]
        )?;
    }
    for l in &view.links {
        let state = match &l.withdrawn {
            Some(u) => format!("withdrawn by entry {}", &u.to_hex()[..16]),
            None => "in force".to_string(),
        };
        writeln!(
            out,
            "same person  as {} ({}, by {}, link {}, {state})",
            l.other,
            l.certainty,
            signers.signer(&l.by),
            &l.link.to_hex()[..16]
        )?;
    }
    for c in &view.conflicts {
        writeln!(
            out,
            "conflict     groups disagree on `{}`:",
            escape(&c.field)
        )?;
        for (i, claim) in c.claims.iter().enumerate() {
            let current = if i + 1 == c.claims.len() {
                "  <- current (latest in fold order, FORMAT.md §4.6)"
            } else {
                ""
            };
            writeln!(
                out,
                "               {} by {} (entry {}){current}",
                escape(&claim.value),
                signers.signer(&claim.log),
                &claim.entry.to_hex()[..16]
            )?;
        }
    }
    if view.history.len() > 1 {
        writeln!(
            out,
            "current view (the record with every step below applied):"
        )?;
    }
    let pretty = serde_json::to_string_pretty(&view.current.to_body()).unwrap_or_default();
    writeln!(out, "{}", escape(&pretty))?;
    if with_history {
        writeln!(out)?;
        writeln!(
            out,
            "history ({} {}, in fold order)",
            view.history.len(),
            if view.history.len() == 1 {
                "entry"
            } else {
                "entries"
            }
        )?;
        for step in &view.history {
            let e = &step.entry.entry;
            writeln!(
                out,
                "  {}  {:<18} {}  signed by {} (seq {})",
                format_timestamp(e.recorded_at),
                e.kind.as_str(),
                &step.entry.id.to_hex()[..16],
                signers.signer(&e.log),
                e.seq
            )?;
            writeln!(out, "      {}", step_summary(step))?;
            if let Some(reason) = step.reason() {
                writeln!(out, "      why: {}", escape(reason))?;
            }
            if let Some(note) = effect_text(&step.effect) {
                writeln!(out, "      {note}")?;
            }
        }
    }
    Ok(())
}

fn view_json(signers: &Signers<'_>, view: &RecordView, with_history: bool) -> Value {
    let name = |log: &VerifyingKey| signers.name_value(log);
    let mut value = json!({
        "current": view.current.to_body(),
        "retracted": view.retracted.as_ref().map(|(by, reason)| json!({"by": by.to_hex(), "reason": reason})),
        "case_open": view.case_open(),
        "status_date": view.status_date.as_ref().map(|d| d.to_json()),
        "corroborations": view.corroborations.iter().map(|(id, by, c)| json!({
            "entry": id.to_hex(), "key_id": keys::key_id(by).to_string(), "trusted_name": name(by),
            "body": Lifecycle::Corroboration(c.clone()).to_body(),
        })).collect::<Vec<_>>(),
        "links": view.links.iter().map(|l| json!({
            "link": l.link.to_hex(), "other": l.other.to_hex(), "certainty": l.certainty.as_str(),
            "key_id": keys::key_id(&l.by).to_string(), "reason": l.reason,
            "withdrawn_by": l.withdrawn.map(|u| u.to_hex()),
        })).collect::<Vec<_>>(),
        "conflicts": view.conflicts.iter().map(|c| json!({
            "field": c.field,
            "claims": c.claims.iter().map(|cl| json!({
                "value": cl.value, "entry": cl.entry.to_hex(),
                "key_id": keys::key_id(&cl.log).to_string(), "trusted_name": name(&cl.log),
            })).collect::<Vec<_>>(),
            "current": c.claims.last().map(|cl| cl.value.clone()),
        })).collect::<Vec<_>>(),
    });
    if with_history {
        value["history"] = Value::Array(
            view.history
                .iter()
                .map(|step| {
                    let mut v = entry_json(&step.entry);
                    v["trusted_name"] = name(&step.entry.entry.log);
                    v["reason"] = step
                        .reason()
                        .map_or(Value::Null, |r| Value::String(r.into()));
                    v["effect"] = match &step.effect {
                        Effect::Created => json!("created"),
                        Effect::Applied => json!("applied"),
                        Effect::NotApplied(why) => json!({"not_applied": why}),
                    };
                    v
                })
                .collect(),
        );
    }
    value
}

pub fn show_text(
    out: &mut impl Write,
    store: &Store,
    entry: &SignedEntry,
    with_history: bool,
) -> io::Result<()> {
    let e = &entry.entry;
    let signers = Signers::of(store);
    writeln!(out, "record       {}", entry.id)?;
    writeln!(out, "kind         {}", e.kind)?;
    writeln!(out, "log          {}", signers.log_label(&e.log))?;
    writeln!(out, "sequence     {}", e.seq)?;
    let own_device = signers.own_device(&e.log);
    if let Some((name, certified)) = &own_device {
        writeln!(
            out,
            "written by   this group's device {} (key {}, certified by entry {})",
            escape(name),
            keys::key_id(&e.log),
            &certified.to_hex()[..16]
        )?;
    }
    if !store.own_keys().contains(&e.log) {
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
            // A device's log is written in this store, not imported.
            Ok(None) if own_device.is_some() => {}
            Ok(None) => writeln!(out, "imported     (no import record)")?,
            Err(err) => writeln!(out, "imported     (import records unreadable: {err})")?,
        }
    }
    writeln!(out, "recorded at  {}", format_timestamp(e.recorded_at))?;
    writeln!(out, "signature    valid (ed25519, verified just now)")?;
    let view = if e.record_body().is_some() {
        Some(
            lifecycle::view(store, &entry.id, signers.groups())
                .map_err(|err| io::Error::other(err.to_string()))?,
        )
    } else {
        None
    };
    if let Some(record) = view.as_ref().map(|v| &v.current) {
        let headline = record.headline();
        writeln!(out, "name         {}", escape(&headline.name))?;
        if let Some(date) = headline.date {
            writeln!(out, "date         {}", escape(&date))?;
        }
        if let Some(place) = headline.place {
            writeln!(out, "place        {}", escape(&place))?;
        }
        writeln!(out, "sensitivity  {}", record.sensitivity().as_str())?;
        for (i, item) in record.person().evidence.iter().enumerate() {
            let label = if i == 0 { "evidence" } else { "" };
            let name = item
                .name
                .as_deref()
                .map(|n| format!("  {}", escape(n)))
                .unwrap_or_default();
            writeln!(
                out,
                "{label:<12} {}  {} bytes  {}{name}",
                hex::encode(item.blake3),
                item.size,
                escape(&item.media_type)
            )?;
        }
    }
    match &view {
        Some(view) => write_view_text(out, &signers, view, with_history)?,
        None => {
            let body = match &e.body {
                sijill::entry::Body::Key(k) => k.to_body(),
                _ => e
                    .lifecycle_body()
                    .map(Lifecycle::to_body)
                    .unwrap_or_default(),
            };
            writeln!(out)?;
            let pretty = serde_json::to_string_pretty(&body).unwrap_or_default();
            writeln!(out, "{}", escape(&pretty))?;
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
        "body": match &e.body {
            sijill::entry::Body::Record(r) => r.to_body(),
            sijill::entry::Body::Lifecycle(l) => l.to_body(),
            sijill::entry::Body::Key(k) => k.to_body(),
        },
    })
}

pub fn show_json(
    out: &mut impl Write,
    store: &Store,
    entry: &SignedEntry,
    with_history: bool,
) -> io::Result<()> {
    let mut value = entry_json(entry);
    let signers = Signers::of(store);
    if let Some((name, certified)) = signers.own_device(&entry.entry.log) {
        value["written_by"] = json!({
            "device": name,
            "key_id": keys::key_id(&entry.entry.log).to_string(),
            "certified_by": certified.to_hex(),
        });
    }
    if !store.own_keys().contains(&entry.entry.log) {
        if let Ok(Some(p)) = sijill::exchange::provenance(store, &entry.entry.log, entry.entry.seq)
        {
            value["imported"] = serde_json::to_value(&p).unwrap_or_default();
        }
    }
    if entry.entry.record_body().is_some() {
        let view = lifecycle::view(store, &entry.id, signers.groups())
            .map_err(|err| io::Error::other(err.to_string()))?;
        value["view"] = view_json(&signers, &view, with_history);
        if with_history {
            value["history"] = value["view"]["history"].take();
            if let Value::Object(m) = &mut value["view"] {
                m.remove("history");
            }
        }
    } else if with_history {
        value["history"] = Value::Array(vec![entry_json(entry)]);
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
    let former = store.former_keys();
    if !former.is_empty() {
        let ids: Vec<String> = former.iter().map(|k| keys::key_id(k).to_string()).collect();
        writeln!(
            out,
            "former keys   {} (rotated from, oldest first; their logs are kept and take no more entries)",
            ids.join(", ")
        )?;
    }
    writeln!(
        out,
        "public file   {}{}",
        store.root().join(sijill::store::PUBLIC_KEY_FILE).display(),
        if former.is_empty() {
            String::new()
        } else {
            format!(
                " (the root key {}: partners who trust it accept the keys it was rotated to)",
                keys::key_id(&store.root_key())
            )
        }
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
