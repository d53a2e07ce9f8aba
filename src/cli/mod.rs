//! The command line: flags, passphrases, and what each command prints. All
//! user-facing text lives here; the work is done by the library.

mod demo;
mod evidence;
mod exchange_cli;
mod failure;
mod gate;
mod keys_cli;
mod lifecycle;
mod output;
mod tables;

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use sijill::audit;
use sijill::entry::EntryKind;
use sijill::keys;
use sijill::record::{parse_record, RecordKind};
use sijill::store::{InitOptions, Store};

pub use failure::{Failure, EXIT_INTEGRITY, EXIT_USAGE};

/// The largest record input accepted from a file or stdin.
const MAX_INPUT_BYTES: u64 = 1024 * 1024;

#[derive(Parser)]
#[command(
    name = "sijill",
    version,
    about = "An append-only, signed record of people killed and people missing",
    long_about = "Sijill (سجل, \"register\") keeps an append-only, signed record of people killed and \
people missing (detained, disappeared) in a conflict. Every record is a signed entry in the \
group's log; nothing is ever updated or deleted, and `sijill audit` proves it.\n\n\
Exit status: 0 success, 1 integrity failure, 2 usage or input error."
)]
struct Cli {
    /// The store directory [default: $SIJILL_STORE, then the platform's data directory]
    #[arg(long, global = true, env = "SIJILL_STORE", value_name = "DIR")]
    store: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new store and the group's signing key
    Init(InitArgs),
    /// Record a new case: prints the new record id (64 hex) and nothing else
    Add(AddArgs),
    /// Show one record, verified from its signed bytes
    Show(ShowArgs),
    /// List the records in the store
    List(ListArgs),
    /// Correct fields of a record, as a new signed entry (validated as `add` validates)
    Amend(lifecycle::AmendArgs),
    /// Record where a missing person is now: detained, released, found...
    Status(lifecycle::StatusArgs),
    /// Withdraw one of this group's records: it stays, marked retracted
    Retract(lifecycle::RetractArgs),
    /// Add a source supporting a record of any log this store holds
    Corroborate(lifecycle::CorroborateArgs),
    /// Say two records are one person (never merges them), or withdraw such a link
    Link(lifecycle::LinkArgs),
    /// Replay every log and report every broken property (exit 1 with findings)
    Audit(AuditArgs),
    /// The group's keys: show, export, certify a device key, revoke one, rotate the group key
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Rebuild the index from the segment files
    Reindex,
    /// Sign and print the current checkpoint of the group's log (a C2SP
    /// signed note: origin, size, Merkle root)
    Checkpoint {
        /// Print JSON instead of the note text
        #[arg(long)]
        json: bool,
    },
    /// Write a signed bundle of this store's logs for a partner group
    Export(exchange_cli::ExportArgs),
    /// Check a bundle offline: who signed it, what it holds, whether it is
    /// intact (exit 0 only if everything holds and every key is trusted)
    Verify(exchange_cli::VerifyArgs),
    /// Verify a bundle and add its entries, keeping their provenance;
    /// nothing is written unless all of it holds. Also takes back a cosigned
    /// checkpoint of this group's log
    Import(exchange_cli::ImportArgs),
    /// Cosign a partner's checkpoint after checking it against everything
    /// this store holds of that log
    Cosign {
        /// The checkpoint note
        file: PathBuf,
    },
    /// Print an inclusion proof of one record (C2SP tlog-proof) against the
    /// latest checkpoint of its log
    Prove {
        /// A record id, or a unique prefix of at least 8 hex characters
        id: String,
    },
    /// The keys of other groups this store trusts
    Trust {
        #[command(subcommand)]
        command: exchange_cli::TrustCommand,
    },
    /// Evidence: checkpoints of a log that cannot both be true (`list`), and
    /// the files supporting records (`verify`)
    Evidence {
        #[command(subcommand)]
        command: exchange_cli::EvidenceCommand,
    },
    /// Import a spreadsheet (CSV) of records, all rows or none, in one synced batch
    ImportCsv(tables::ImportArgs),
    /// Write records to a CSV file, one row per record, with provenance columns
    ExportCsv(tables::ExportArgs),
    /// Write records to a JSON Lines file, one record per line
    ExportJsonl(tables::ExportArgs),
    /// Find records by name, in Arabic or Latin script, best matches first
    Search(tables::SearchArgs),
    /// Count records by kind, month, governorate, cause or status
    Stats(tables::StatsArgs),
    /// Run the whole workflow on a temporary store, explained as it goes
    Demo,
    /// Append generated records in batches (one by one by default),
    /// printing each id once its batch is synced (used by the crash tests)
    #[command(hide = true)]
    StressAppend {
        #[arg(long, default_value_t = 1000)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        batch: u64,
    },
}

#[derive(Args)]
struct InitArgs {
    /// The group's name, written into the store and its public key file
    #[arg(long, value_name = "NAME")]
    org: String,
    /// Store the secret key without a passphrase (for demos and tests only:
    /// anyone who takes the laptop can sign as the group)
    #[arg(long)]
    no_passphrase: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    Casualty,
    Missing,
}

impl From<KindArg> for RecordKind {
    fn from(k: KindArg) -> RecordKind {
        match k {
            KindArg::Casualty => RecordKind::Casualty,
            KindArg::Missing => RecordKind::Missing,
        }
    }
}

#[derive(Args)]
struct AddArgs {
    /// casualty (a person killed) or missing (a person missing, detained or disappeared)
    kind: KindArg,
    /// The record as JSON (docs/SCHEMA.md); `-` reads standard input
    #[arg(long, value_name = "FILE")]
    json: PathBuf,
    /// A file supporting the record (photo, document, recording), stored by
    /// its BLAKE3 digest and listed in the record's `evidence`; repeatable
    #[arg(long, value_name = "FILE")]
    evidence: Vec<PathBuf>,
    /// Sign with this certified device key (`key add-device`), into the
    /// device's own log, instead of the group key
    #[arg(long, value_name = "NAME")]
    as_device: Option<String>,
}

#[derive(Args)]
struct ShowArgs {
    /// A record id, or a unique prefix of at least 8 hex characters
    id: String,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
    /// Also list every entry about the record, who signed it and when
    #[arg(long)]
    history: bool,
}

#[derive(Args)]
struct ListArgs {
    /// Only records of this kind
    #[arg(long)]
    kind: Option<KindArg>,
    #[command(flatten)]
    filter: tables::FilterArgs,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct AuditArgs {
    /// Print the findings as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print the group's public key and key id
    Show,
    /// Write the group's public key file, to hand to partners
    Export {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it exists
        #[arg(long)]
        force: bool,
    },
    /// Make a device key (keys/NAME.key) and certify it in the group's log;
    /// prints its key id. Sign with it: `sijill add --as-device NAME`
    AddDevice {
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Why (written into the certifying entry)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Revoke a device key this group certified, or a group key it rotated
    /// away from: the key's entries from seq SIZE on no longer verify, those
    /// before still do
    Revoke {
        /// The key id or full public key (a device's also by its name)
        key: String,
        #[arg(long)]
        reason: String,
        /// Entries of the key's log before this size stay valid (default:
        /// the size of that log this store holds)
        #[arg(long, value_name = "SIZE")]
        keep_up_to: Option<u64>,
    },
    /// Make a new group key, named by a key-rotate entry signed by the
    /// current one; the store signs with the new key from then on, in a new
    /// log (the old log is kept). Prints the new key id
    Rotate {
        /// Why (written into the key-rotate entry)
        #[arg(long)]
        reason: Option<String>,
    },
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // A read-only command that meets a damaged index rebuilds it from the
    // segments and runs again, once: the index is only a cache. (Not audit,
    // which never changes a store: it reports, and `reindex` repairs.)
    let read_only = matches!(
        cli.command,
        Command::Show(_)
            | Command::List(_)
            | Command::Search(_)
            | Command::Stats(_)
            | Command::ExportCsv(_)
            | Command::ExportJsonl(_)
            | Command::Prove { .. }
    );
    let store_flag = cli.store.clone();
    if read_only {
        gate::hold();
    }
    let mut result = dispatch(cli);
    if read_only && result.as_ref().is_err_and(|f| f.index_damaged) {
        // Run again only if nothing of the first run's output has been
        // written: it is replaced, never printed twice.
        let taken_back = gate::discard();
        if !taken_back {
            if let Err(failure) = &mut result {
                failure.hints.push(
                    "part of the output was already written before the damage showed: run `sijill reindex`, then the command again".into(),
                );
            }
        }
        if let (true, Ok(dir)) = (taken_back, store_dir(store_flag)) {
            let rebuilt = Store::open_rebuilt(&dir).map(drop);
            if rebuilt.is_ok() {
                eprintln!("warning: the index was damaged; it was rebuilt from the segment files");
                if let Ok(again) = Cli::try_parse() {
                    result = dispatch(again);
                }
            }
        }
    }
    let released = gate::release();
    match result {
        Ok(code) => match released {
            Ok(()) => ExitCode::from(code),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(code),
            Err(e) => {
                eprintln!("error: cannot write the output: {e}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Err(failure) => {
            eprint!("{failure}");
            ExitCode::from(failure.code)
        }
    }
}

fn dispatch(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Demo => return demo::run(&mut crate::cli::gate::stdout()),
        // Verification needs no store; a store only lends its trusted keys.
        Command::Verify(args) => return exchange_cli::verify(store_dir(cli.store).ok(), args),
        _ => {}
    }
    let store_dir = store_dir(cli.store)?;
    match cli.command {
        Command::Init(args) => init(&store_dir, args),
        Command::Add(args) => add(&store_dir, args),
        Command::Show(args) => {
            let store = open(&store_dir)?;
            let id = store.resolve(&args.id)?;
            let entry = store.get(&id)?;
            let out = &mut crate::cli::gate::stdout();
            if args.json {
                output::show_json(out, &store, &entry, args.history)
            } else {
                output::show_text(out, &store, &entry, args.history)
            }
            .map_err(write_failure)?;
            Ok(0)
        }
        Command::List(args) => {
            let filter = args.filter.to_filter(args.kind)?;
            let store = open(&store_dir)?;
            let kind = args.kind.map(|k| EntryKind::from(RecordKind::from(k)));
            let out = &mut crate::cli::gate::stdout();
            let n = output::list(out, &store, kind, &filter, args.json)?;
            if !args.json && n == 0 {
                eprintln!("no records");
            }
            Ok(0)
        }
        Command::Amend(args) => lifecycle::amend(&store_dir, args),
        Command::Status(args) => lifecycle::status(&store_dir, args),
        Command::Retract(args) => lifecycle::retract(&store_dir, args),
        Command::Corroborate(args) => lifecycle::corroborate(&store_dir, args),
        Command::Link(args) => lifecycle::link(&store_dir, args),
        Command::Audit(args) => {
            let store = Store::open_for_audit(&store_dir)?;
            print_warnings(&store);
            let report = audit::audit(&store)?;
            let out = &mut crate::cli::gate::stdout();
            if args.json {
                output::audit_json(out, &report)
            } else {
                output::audit_text(out, &report)
            }
            .map_err(write_failure)?;
            Ok(if report.is_clean() { 0 } else { EXIT_INTEGRITY })
        }
        Command::Key {
            command: KeyCommand::Show,
        } => {
            let store = open(&store_dir)?;
            output::key_show(&mut crate::cli::gate::stdout(), &store).map_err(write_failure)?;
            Ok(0)
        }
        Command::Reindex => {
            let store = Store::open_rebuilt(&store_dir)?;
            let entries = store.indexed_entries()?;
            eprintln!("reindexed {entries} entries from the segment files");
            print_warnings(&store);
            Ok(if store.damaged_logs().is_empty() {
                0
            } else {
                EXIT_INTEGRITY
            })
        }
        Command::Checkpoint { json } => {
            let mut store = open(&store_dir)?;
            let key = signing_key(&store)?;
            let signed = store.sign_checkpoint(&key)?;
            let out = &mut crate::cli::gate::stdout();
            if json {
                output::checkpoint_json(out, &signed)
            } else {
                write!(out, "{signed}")
            }
            .map_err(write_failure)?;
            Ok(0)
        }
        Command::Key {
            command: KeyCommand::Export { out, force },
        } => exchange_cli::key_export(&store_dir, &out, force),
        Command::Key {
            command: KeyCommand::AddDevice { name, reason },
        } => keys_cli::add_device(&store_dir, &name, reason),
        Command::Key {
            command:
                KeyCommand::Revoke {
                    key,
                    reason,
                    keep_up_to,
                },
        } => keys_cli::revoke(&store_dir, &key, reason, keep_up_to),
        Command::Key {
            command: KeyCommand::Rotate { reason },
        } => keys_cli::rotate(&store_dir, reason),
        Command::Export(args) => exchange_cli::export(&store_dir, args),
        Command::Import(args) => exchange_cli::import(&store_dir, args),
        Command::Cosign { file } => exchange_cli::cosign(&store_dir, &file),
        Command::Prove { id } => exchange_cli::prove(&store_dir, &id),
        Command::Trust { command } => exchange_cli::trust(&store_dir, command),
        Command::Evidence {
            command: exchange_cli::EvidenceCommand::List { json },
        } => exchange_cli::evidence(&open(&store_dir)?, json),
        Command::Evidence {
            command: exchange_cli::EvidenceCommand::Verify { json },
        } => evidence::verify(&Store::open_for_audit(&store_dir)?, json),
        Command::StressAppend { count, batch } => stress_append(&store_dir, count, batch),
        Command::ImportCsv(args) => tables::import_csv(&store_dir, args),
        Command::ExportCsv(args) => tables::export(&store_dir, args, tables::ExportFormat::Csv),
        Command::ExportJsonl(args) => tables::export(&store_dir, args, tables::ExportFormat::Jsonl),
        Command::Search(args) => tables::search(&store_dir, args),
        Command::Stats(args) => tables::stats(&store_dir, args),
        Command::Demo | Command::Verify(_) => unreachable!("handled above"),
    }
}

fn store_dir(flag: Option<PathBuf>) -> Result<PathBuf, Failure> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    directories::ProjectDirs::from("org", "Sijill", "sijill")
        .map(|dirs| dirs.data_dir().join("store"))
        .ok_or_else(|| {
            Failure::usage(
                "no store directory: there is no home directory to put a default store in",
            )
            .hint("give one with --store DIR or SIJILL_STORE")
        })
}

/// Open a store and tell the user what opening it repaired.
fn open(dir: &Path) -> Result<Store, Failure> {
    let store = Store::open(dir)?;
    print_warnings(&store);
    Ok(store)
}

fn print_warnings(store: &Store) {
    for warning in store.warnings() {
        eprintln!("warning: {}", output::escape(&warning.to_string()));
    }
}

fn write_failure(e: io::Error) -> Failure {
    Failure::usage(format!("cannot write output: {e}"))
}

fn init(dir: &Path, args: InitArgs) -> Result<u8, Failure> {
    let organisation = args.org.trim();
    if organisation.is_empty() {
        return Err(Failure::usage("--org is empty")
            .hint("give the group's name, e.g. --org \"Violations Documentation Group\""));
    }
    if dir.join(sijill::store::STORE_FILE).exists() {
        return Err(sijill::store::StoreError::AlreadyExists {
            path: dir.to_path_buf(),
        }
        .into());
    }
    let passphrase = if args.no_passphrase {
        eprintln!("warning: the secret key is stored WITHOUT a passphrase: anyone who can read {} can sign as the group", dir.display());
        None
    } else {
        Some(read_passphrase(true)?)
    };
    let store = Store::init(
        dir,
        InitOptions {
            organisation,
            passphrase: passphrase.as_ref().map(|p| p.as_bytes()),
            now: OffsetDateTime::now_utc(),
        },
    )?;
    let key = store.group_key();
    eprintln!("created store {}", dir.display());
    eprintln!(
        "group key id {} (public key in {})",
        keys::key_id(key),
        dir.join(sijill::store::PUBLIC_KEY_FILE).display()
    );
    Ok(0)
}

/// The passphrase from SIJILL_PASSPHRASE, or asked for without echo.
fn read_passphrase(confirm: bool) -> Result<Zeroizing<String>, Failure> {
    if let Ok(p) = std::env::var("SIJILL_PASSPHRASE") {
        if p.is_empty() {
            return Err(Failure::usage("SIJILL_PASSPHRASE is set but empty"));
        }
        return Ok(Zeroizing::new(p));
    }
    let no_terminal = || {
        Failure::usage("a passphrase is needed and there is no terminal to ask for it")
            .hint("set SIJILL_PASSPHRASE, or run the command in a terminal")
    };
    if !io::stderr().is_terminal() {
        return Err(no_terminal());
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("passphrase for the group's secret key: ")
            .map_err(|_| no_terminal())?,
    );
    if confirm {
        if first.is_empty() {
            return Err(Failure::usage("the passphrase is empty")
                .hint("choose a long passphrase, or use --no-passphrase for a throw-away store"));
        }
        let again = Zeroizing::new(
            rpassword::prompt_password("the same passphrase again: ").map_err(|_| no_terminal())?,
        );
        if *again != *first {
            return Err(Failure::usage(
                "the two passphrases differ; nothing was created",
            ));
        }
    }
    Ok(first)
}

/// The group's signing key, asking for the passphrase only if the key has one.
fn signing_key(store: &Store) -> Result<keys::SigningKey, Failure> {
    if let Some(rotation) = sijill::group_keys::pending_rotation(store)? {
        return Err(Failure::usage(format!(
            "the group's log ends with entry {}, a rotation to a new key, but the store was not switched to that key (the rotation was interrupted)",
            rotation.entry
        ))
        .hint("run `sijill key rotate` to finish it; nothing is signed with the old key meanwhile"));
    }
    if store.secret_key_is_encrypted()? {
        let passphrase = read_passphrase(false)?;
        Ok(store.signing_key(Some(passphrase.as_bytes()))?)
    } else {
        Ok(store.signing_key(None)?)
    }
}

/// The latest date a record may name: today in the furthest-ahead time zone
/// (UTC+14), so that a monitor's "today" is never refused as the future.
fn latest_allowed_date() -> time::Date {
    let today = OffsetDateTime::now_utc().date();
    today.next_day().unwrap_or(today)
}

fn read_input(path: &Path) -> Result<(String, Vec<u8>), Failure> {
    let mut bytes = Vec::new();
    let (name, result) = if path == Path::new("-") {
        (
            "<stdin>".to_string(),
            io::stdin()
                .lock()
                .take(MAX_INPUT_BYTES + 1)
                .read_to_end(&mut bytes),
        )
    } else {
        let name = path.display().to_string();
        let result = std::fs::File::open(path)
            .and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes));
        (name, result)
    };
    result.map_err(|e| Failure::usage(format!("{name}: cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(Failure::usage(format!(
            "{name}: larger than {MAX_INPUT_BYTES} bytes; one record is far smaller"
        )));
    }
    Ok((name, bytes))
}

fn add(dir: &Path, args: AddArgs) -> Result<u8, Failure> {
    // Validate before anything else, so bad input never waits on a passphrase
    // and never touches the store.
    let (name, input) = read_input(&args.json)?;
    let record = parse_record(args.kind.into(), &input, latest_allowed_date())
        .map_err(|e| failure::record_failure(&name, e))?;
    for file in &args.evidence {
        if !file.is_file() {
            return Err(Failure::usage(format!(
                "--evidence {}: not a readable file",
                file.display()
            )));
        }
    }
    let mut store = open(dir)?;
    let key = match &args.as_device {
        Some(device) => keys_cli::device_key(&store, device)?,
        None => signing_key(&store)?,
    };
    let record = evidence::attach(&store, &name, record, &args.evidence)?;
    let seen = store.warnings().len();
    let signed = store.append_records(&key, vec![record], OffsetDateTime::now_utc())?;
    if args.as_device.is_some() {
        // The device's log travels in bundles with its own signed checkpoint.
        store.sign_checkpoint(&key)?;
    }
    println!("{}", signed[0].id);
    for warning in &store.warnings()[seen..] {
        eprintln!("warning: {}", output::escape(&warning.to_string()));
    }
    Ok(0)
}

fn stress_append(dir: &Path, count: u64, batch: u64) -> Result<u8, Failure> {
    let mut store = open(dir)?;
    let key = signing_key(&store)?;
    let out = &mut crate::cli::gate::stdout();
    let mut i = 0;
    while i < count {
        let mut records = Vec::new();
        for i in i..(i + batch.max(1)).min(count) {
            let json = format!(
                r#"{{"name": {{"latin": "Stress Test {i}"}}, "sex": "unknown", "date_of_death": "2018-01-25", "place_of_death": {{"governorate": "Idlib"}}}}"#
            );
            records.push(
                parse_record(RecordKind::Casualty, json.as_bytes(), latest_allowed_date())
                    .map_err(|e| failure::record_failure("stress record", e))?,
            );
        }
        i += records.len() as u64;
        for signed in store.append_records(&key, records, OffsetDateTime::now_utc())? {
            writeln!(out, "{}", signed.id).map_err(write_failure)?;
        }
        out.flush().map_err(write_failure)?;
    }
    Ok(0)
}
