//! The commands that add a step to a record's life: amend, status, retract,
//! corroborate, link. Each checks the step against the record's current
//! view, then signs it as a new entry of the group's log.

use std::path::Path;

use clap::{Args, ValueEnum};
use time::OffsetDateTime;

use sijill::entry::Body;
use sijill::group_keys::LazyGroupTrust;
use sijill::lifecycle::{self, Certainty, Lifecycle, LifecycleError, RecordView, SourceArgs};
use sijill::store::Store;

use super::{failure, latest_allowed_date, open, output, signing_key, Failure};

#[derive(Args)]
pub struct AmendArgs {
    /// A record id, or a unique prefix of at least 8 hex characters
    id: String,
    /// A field to change: path=text (date_of_death=2018-01-24,
    /// place_of_death.locality=Douma), or path:=JSON for numbers and objects
    /// (age.years:=34); path:=null removes the field. Repeatable
    #[arg(long = "set", value_name = "PATH=VALUE", required = true)]
    set: Vec<String>,
    /// Why: the source of the correction
    #[arg(long)]
    reason: String,
}

#[derive(Args)]
pub struct StatusArgs {
    /// A missing-person record id, or a unique prefix
    id: String,
    /// missing, detained-acknowledged, detained-unacknowledged, released,
    /// found-alive, found-dead or death-notified-without-remains
    status: String,
    /// When the new status began (2019-03, 2019-03-12, 2019)
    #[arg(long, value_name = "DATE")]
    date: Option<String>,
    #[arg(long)]
    reason: String,
}

#[derive(Args)]
pub struct RetractArgs {
    /// A record id of this group's log, or a unique prefix
    id: String,
    /// Why the record is withdrawn (it stays, marked retracted)
    #[arg(long)]
    reason: String,
}

#[derive(Args)]
pub struct CorroborateArgs {
    /// A record id of any log this store holds, or a unique prefix
    id: String,
    /// eyewitness, family, fellow-detainee, medical, forensic, official,
    /// media, social-media, ngo, community or other
    #[arg(long, value_name = "TYPE")]
    source_type: String,
    /// Who or what, and where to find it
    #[arg(long)]
    reference: Option<String>,
    /// high, medium, low or unknown
    #[arg(long)]
    reliability: Option<String>,
    /// When the source gave the information
    #[arg(long, value_name = "DATE")]
    source_date: Option<String>,
    #[arg(long)]
    reason: String,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum CertaintyArg {
    Possible,
    Likely,
    Confirmed,
}

#[derive(Args)]
pub struct LinkArgs {
    /// Two record ids (or unique prefixes); with --unlink, the link entry's id
    #[arg(num_args = 1..=2, value_name = "ID")]
    ids: Vec<String>,
    /// The two records are one person (the only kind of link there is)
    #[arg(long, conflicts_with = "unlink")]
    same_person: bool,
    /// How sure the group is
    #[arg(long, value_enum, conflicts_with = "unlink")]
    certainty: Option<CertaintyArg>,
    /// Withdraw the link whose entry id is given
    #[arg(long)]
    unlink: bool,
    #[arg(long)]
    reason: String,
}

fn view(store: &Store, trust: &LazyGroupTrust, text: &str) -> Result<RecordView, Failure> {
    let id = store.resolve(text)?;
    lifecycle::view(store, &id, trust).map_err(lifecycle_failure)
}

/// The store and the groups of the keys it holds, derived when needed: a
/// step about a record the group wrote with any of its keys is the group's
/// own (FORMAT.md §4.6).
fn open_with_trust(dir: &Path) -> Result<(Store, LazyGroupTrust), Failure> {
    Ok((open(dir)?, LazyGroupTrust::new()))
}

/// How a refused step is told: exit 2, with what to do next where it helps.
pub fn lifecycle_failure(e: LifecycleError) -> Failure {
    match e {
        LifecycleError::Store(e) => e.into(),
        LifecycleError::Invalid(e) => failure::record_failure("--set", e),
        LifecycleError::Retracted { .. } => Failure::usage(e.to_string())
            .hint("a retracted record stays as it is; `sijill show ID --history` shows why"),
        LifecycleError::NotOwnRecord { .. } => Failure::usage(e.to_string())
            .hint("to disagree with a partner's record, corroborate or link it, or amend it with your reasons"),
        LifecycleError::NotALink { .. } | LifecycleError::AlreadyUnlinked { .. } => {
            Failure::usage(e.to_string())
                .hint("`sijill show RECORD --history` lists the links of a record")
        }
        e => Failure::usage(e.to_string()),
    }
}

fn reason(text: &str) -> Result<&str, Failure> {
    if text.trim().is_empty() {
        return Err(Failure::usage("--reason is empty")
            .hint("say why: the source, the interview, the document"));
    }
    Ok(text)
}

/// Sign and append one step; prints its entry id.
fn append(store: Store, body: Lifecycle) -> Result<u8, Failure> {
    let mut store = store;
    let key = signing_key(&store)?;
    let seen = store.warnings().len();
    let signed =
        store.append_bodies(&key, vec![Body::Lifecycle(body)], OffsetDateTime::now_utc())?;
    println!("{}", signed[0].id);
    for warning in &store.warnings()[seen..] {
        eprintln!("warning: {}", output::escape(&warning.to_string()));
    }
    Ok(0)
}

pub fn amend(dir: &Path, args: AmendArgs) -> Result<u8, Failure> {
    let reason = reason(&args.reason)?;
    // An amended `evidence` item would name a file nobody stored: files come
    // in only with `add --evidence` for now.
    if let Some(s) = args.set.iter().find(|s| {
        let path = s.split_once('=').map_or(s.as_str(), |(p, _)| p).trim();
        path == "evidence" || path.starts_with("evidence.")
    }) {
        return Err(Failure::usage(format!(
            "--set {}: `evidence` cannot be amended yet",
            output::escape(s)
        ))
        .hint("add the files to a new record with `sijill add KIND --json FILE --evidence FILE`"));
    }
    let set = args
        .set
        .iter()
        .map(|s| lifecycle::parse_set(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failure::record_failure("--set", e))?;
    let (store, trust) = open_with_trust(dir)?;
    let view = view(&store, &trust, &args.id)?;
    let body = lifecycle::new_amendment(&view, set, reason, latest_allowed_date())
        .map_err(lifecycle_failure)?;
    append(store, body)
}

pub fn status(dir: &Path, args: StatusArgs) -> Result<u8, Failure> {
    let reason = reason(&args.reason)?;
    let (store, trust) = open_with_trust(dir)?;
    let view = view(&store, &trust, &args.id)?;
    let body = lifecycle::new_status_change(
        &view,
        &args.status,
        args.date.as_deref(),
        reason,
        latest_allowed_date(),
    )
    .map_err(|e| match e {
        LifecycleError::Invalid(e) => failure::record_failure("status", e),
        e => lifecycle_failure(e),
    })?;
    append(store, body)
}

pub fn retract(dir: &Path, args: RetractArgs) -> Result<u8, Failure> {
    let reason = reason(&args.reason)?;
    let (store, trust) = open_with_trust(dir)?;
    let view = view(&store, &trust, &args.id)?;
    let body = lifecycle::new_retraction(&store, &view, store.group_key(), &trust, reason)
        .map_err(lifecycle_failure)?;
    append(store, body)
}

pub fn corroborate(dir: &Path, args: CorroborateArgs) -> Result<u8, Failure> {
    let reason = reason(&args.reason)?;
    let (store, trust) = open_with_trust(dir)?;
    let view = view(&store, &trust, &args.id)?;
    let source = SourceArgs {
        source_type: &args.source_type,
        reference: args.reference.as_deref(),
        reliability: args.reliability.as_deref(),
        date: args.source_date.as_deref(),
    };
    let body = lifecycle::new_corroboration(&view, source, reason, latest_allowed_date()).map_err(
        |e| match e {
            LifecycleError::Invalid(e) => failure::record_failure("corroboration", e),
            e => lifecycle_failure(e),
        },
    )?;
    append(store, body)
}

pub fn link(dir: &Path, args: LinkArgs) -> Result<u8, Failure> {
    let reason = reason(&args.reason)?;
    let (store, trust) = open_with_trust(dir)?;
    let body = if args.unlink {
        let [link] = &args.ids[..] else {
            return Err(Failure::usage("--unlink takes one id: the link entry's")
                .hint("`sijill show RECORD --history` lists the links of a record"));
        };
        let id = store.resolve(link)?;
        lifecycle::new_unlink(&store, &id, reason).map_err(lifecycle_failure)?
    } else {
        let [a, b] = &args.ids[..] else {
            return Err(Failure::usage("a link names two records")
                .hint("sijill link ID1 ID2 --same-person --certainty likely --reason ..."));
        };
        if !args.same_person {
            return Err(Failure::usage("say what the link means: --same-person")
                .hint("a link says two records are one person; it never merges or deletes them"));
        }
        let Some(certainty) = args.certainty else {
            return Err(Failure::usage("--certainty is missing")
                .hint("give --certainty possible, likely or confirmed"));
        };
        let certainty = match certainty {
            CertaintyArg::Possible => Certainty::Possible,
            CertaintyArg::Likely => Certainty::Likely,
            CertaintyArg::Confirmed => Certainty::Confirmed,
        };
        let a = view(&store, &trust, a)?;
        let b = view(&store, &trust, b)?;
        lifecycle::new_link(&a, &b, certainty, reason).map_err(lifecycle_failure)?
    };
    append(store, body)
}
