//! The spreadsheet, search and count commands: `import-csv`, `export-csv`,
//! `export-jsonl`, `search`, `stats`, and the filter flags they share with
//! `list`. The work is in `sijill::csv_io`, `search`, `filter` and `stats`.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use time::OffsetDateTime;

use sijill::csv_io::{self, CsvError, Encoding, ExportOptions, ImportOptions, Mapping};
use sijill::filter::Filter;
use sijill::record::{MissingStatus, PartialDate, RecordKind, Sensitivity, Vocab};
use sijill::stats::{self, GroupBy, COUNT_BASIS};

use super::output::escape;
use super::{latest_allowed_date, open, signing_key, write_failure, Failure, KindArg};

/// Filters shared by `list`, `export-csv`, `export-jsonl` and `stats`.
#[derive(Args, Clone, Default)]
pub struct FilterArgs {
    /// Only records whose governorate is this (case, أ/ا, ة/ه and the al-
    /// article do not matter)
    #[arg(long, value_name = "NAME")]
    pub governorate: Option<String>,
    /// Only records whose date can fall on or after this (YYYY, YYYY-MM or
    /// YYYY-MM-DD; a partial or range date counts if it overlaps)
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Only records whose date can fall on or before the end of this
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only missing-person records with this status (e.g. detained-unacknowledged)
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
}

impl FilterArgs {
    pub fn to_filter(&self, kind: Option<KindArg>) -> Result<Filter, Failure> {
        let date = |flag: &str, v: &Option<String>| -> Result<Option<PartialDate>, Failure> {
            v.as_deref()
                .map(|t| {
                    PartialDate::parse(t).map_err(|e| {
                        Failure::usage(format!("--{flag}: {}", e.message))
                            .hint("write YYYY, YYYY-MM or YYYY-MM-DD")
                    })
                })
                .transpose()
        };
        let status = match &self.status {
            None => None,
            Some(s) => Some(MissingStatus::from_term(s).ok_or_else(|| {
                Failure::usage(format!("--status: {s:?} is not a status"))
                    .hint(format!("one of: {}", MissingStatus::TERMS.join(", ")))
            })?),
        };
        if status.is_some() && matches!(kind, Some(KindArg::Casualty)) {
            return Err(Failure::usage(
                "--status applies to missing-person records, and --kind casualty was given",
            ));
        }
        Ok(Filter::new()
            .kind(kind.map(RecordKind::from))
            .governorate(self.governorate.as_deref())
            .from(date("from", &self.from)?)
            .to(date("to", &self.to)?)
            .status(status))
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum EncodingArg {
    /// BOM, else UTF-8 if valid, else Windows-1256
    Auto,
    #[value(name = "utf-8")]
    Utf8,
    #[value(name = "utf-16")]
    Utf16,
    #[value(name = "windows-1256")]
    Windows1256,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The CSV file (comma, semicolon or tab separated)
    #[arg(required_unless_present = "print_mapping_template")]
    file: Option<PathBuf>,
    /// The kind of every row; without it, the file's `kind` column decides
    #[arg(long)]
    kind: Option<KindArg>,
    /// A TOML file mapping column headers to fields (see --print-mapping-template)
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
    /// The file's text encoding
    #[arg(long, value_enum, default_value = "auto")]
    encoding: EncodingArg,
    /// Check every row and report; write nothing to the store
    #[arg(long)]
    dry_run: bool,
    /// Import the valid rows even if some are invalid (those go to the rejects file)
    #[arg(long)]
    skip_invalid: bool,
    /// Where to write the rejected rows [default: FILE.rejects.csv]
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Print a mapping file to start from (with FILE: its columns as read now) and exit
    #[arg(long)]
    print_mapping_template: bool,
}

/// Most rejects printed on the terminal; the rejects file has them all.
const MAX_PRINTED_REJECTS: usize = 20;

pub fn import_csv(dir: &Path, args: ImportArgs) -> Result<u8, Failure> {
    let mapping = match &args.mapping {
        None => Mapping::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::usage(format!("{}: cannot read: {e}", path.display())))?;
            Mapping::from_toml(&text)
                .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?
        }
    };
    let encoding = match args.encoding {
        EncodingArg::Auto => Encoding::Auto,
        EncodingArg::Utf8 => Encoding::Utf8,
        EncodingArg::Utf16 => Encoding::Utf16,
        EncodingArg::Windows1256 => Encoding::Windows1256,
    };
    let text = match &args.file {
        Some(file) => Some(read_csv(file, encoding)?),
        None => None,
    };
    if args.print_mapping_template {
        let headers = text.as_ref().map(|(t, _)| first_row(t));
        print!("{}", csv_io::mapping_template(headers.as_deref(), &mapping));
        return Ok(0);
    }
    let file = args.file.as_deref().expect("clap requires FILE here");
    let name = file.display().to_string();
    let (text, encoding_used) = text.expect("read above");
    let plan = csv_io::plan_import(
        &text,
        &ImportOptions {
            kind: args.kind.map(RecordKind::from),
            mapping: &mapping,
            today: latest_allowed_date(),
        },
    )
    .map_err(|e| csv_failure(&name, e))?;
    for r in plan.rejects.iter().take(MAX_PRINTED_REJECTS) {
        let column = r
            .column
            .as_ref()
            .map(|(n, h)| format!(": column {n} ({})", escape(h)))
            .unwrap_or_default();
        eprintln!("rejected {name}:{}{column}: {}", r.line, escape(&r.reason));
    }
    if plan.rejects.len() > MAX_PRINTED_REJECTS {
        eprintln!(
            "... and {} more rejected rows",
            plan.rejects.len() - MAX_PRINTED_REJECTS
        );
    }
    let rejects_path = args
        .rejects
        .clone()
        .unwrap_or_else(|| file.with_extension("rejects.csv"));
    if !plan.rejects.is_empty() {
        write_rejects(&rejects_path, &plan)?;
    }

    // Re-imports: the k-th row with a given content is new only if the store
    // holds fewer than k records with that content (docs/CSV.md §4).
    let mut store = open(dir)?;
    let mut seen: HashMap<[u8; 32], u64> = HashMap::new();
    let mut new = Vec::new();
    let mut duplicates = 0u64;
    for a in plan.accepted {
        let k = seen.entry(a.hash).or_insert(0);
        *k += 1;
        let in_store = store.content_count(&a.hash)?;
        if *k <= in_store {
            duplicates += 1;
        } else {
            new.push(a.record);
        }
    }
    let rejected = plan.rejects.len();
    let summary = format!(
        "{} new, {duplicates} already in the store (same record content), {rejected} rejected{}",
        new.len(),
        if plan.blank_rows > 0 {
            format!(", {} blank rows skipped", plan.blank_rows)
        } else {
            String::new()
        }
    );
    if rejected > 0 && !args.skip_invalid {
        return Err(Failure::usage(format!(
            "{name}: {rejected} of the rows are invalid, so nothing was imported ({summary})"
        ))
        .hint(format!(
            "fix the rows in {} (the first columns say what is wrong) and import that file, or use --skip-invalid to import the valid rows now",
            rejects_path.display()
        )));
    }
    if rejected > 0 {
        eprintln!(
            "{rejected} rejected rows written to {}",
            rejects_path.display()
        );
    }
    if args.dry_run {
        eprintln!("dry run: {name} ({encoding_used}): {summary}; nothing was written to the store");
        return Ok(0);
    }
    if new.is_empty() {
        eprintln!("nothing to import from {name} ({encoding_used}): {summary}");
        return Ok(0);
    }
    let key = signing_key(&store)?;
    let spinner = progress(new.len());
    let signed = store.append_records(&key, new, OffsetDateTime::now_utc())?;
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let out = &mut crate::cli::gate::stdout();
    for s in &signed {
        writeln!(out, "{}", s.id).map_err(write_failure)?;
    }
    eprintln!(
        "imported {} records from {name} ({encoding_used}) in one synced batch: {summary}",
        signed.len()
    );
    Ok(0)
}

fn progress(n: usize) -> Option<indicatif::ProgressBar> {
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("signing and writing {n} records"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

fn read_csv(path: &Path, encoding: Encoding) -> Result<(String, &'static str), Failure> {
    let name = path.display().to_string();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(csv_io::MAX_CSV_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| Failure::usage(format!("{name}: cannot read: {e}")))?;
    csv_io::decode(&bytes, encoding).map_err(|e| csv_failure(&name, e))
}

fn first_row(text: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(if text.lines().next().is_some_and(|l| l.contains('\t')) {
            b'\t'
        } else if text
            .lines()
            .next()
            .is_some_and(|l| l.matches(';').count() > l.matches(',').count())
        {
            b';'
        } else {
            b','
        })
        .from_reader(text.as_bytes());
    match reader.records().next() {
        Some(Ok(r)) => r.iter().map(|h| h.trim().to_string()).collect(),
        _ => Vec::new(),
    }
}

fn csv_failure(name: &str, e: CsvError) -> Failure {
    let hint = match &e {
        CsvError::Encoding(_) => Some("give the encoding with --encoding utf-8|utf-16|windows-1256"),
        CsvError::Header { .. } => Some(
            "`sijill import-csv FILE --print-mapping-template > map.toml` writes a mapping to edit; then use --mapping map.toml",
        ),
        CsvError::Syntax { .. } => Some("a cell with a comma, quote or line break must be in double quotes, with quotes inside doubled"),
        _ => None,
    };
    let f = Failure::usage(format!("{name}: {}", escape(&e.to_string())));
    match hint {
        Some(h) => f.hint(h),
        None => f,
    }
}

fn write_rejects(path: &Path, plan: &csv_io::ImportPlan) -> Result<(), Failure> {
    let fail =
        |e: String| Failure::usage(format!("{}: cannot write the rejects: {e}", path.display()));
    let mut file = std::fs::File::create(path).map_err(|e| fail(e.to_string()))?;
    // A BOM so that Excel opens the Arabic text as UTF-8.
    file.write_all(b"\xEF\xBB\xBF")
        .map_err(|e| fail(e.to_string()))?;
    csv_io::write_rejects(&mut file, &plan.headers, &plan.rejects)
        .map_err(|e| fail(e.to_string()))?;
    file.sync_all().map_err(|e| fail(e.to_string()))
}

#[derive(Args)]
pub struct ExportArgs {
    /// The file to write
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Only records of this kind
    #[arg(long)]
    kind: Option<KindArg>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Include sensitive fields (the family's `contact`): they put living people at risk
    #[arg(long)]
    include_sensitive: bool,
    /// Include records marked `internal` (kept within the recording group)
    #[arg(long)]
    include_internal: bool,
    /// Start the file with a UTF-8 byte order mark, so that Excel reads Arabic correctly (CSV only)
    #[arg(long)]
    bom: bool,
    /// Replace FILE if it exists
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

pub fn export(dir: &Path, args: ExportArgs, format: ExportFormat) -> Result<u8, Failure> {
    let filter = args.filter.to_filter(args.kind)?;
    if args.out.exists() && !args.force {
        return Err(Failure::usage(format!("{} exists", args.out.display()))
            .hint("choose another file, or add --force to replace it"));
    }
    let store = open(dir)?;
    let parent = match args.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let fail = |e: String| Failure::usage(format!("{}: cannot write: {e}", args.out.display()));
    // Written beside the target and renamed into place: a failed export
    // never leaves a half file that looks complete.
    let mut temp = tempfile::NamedTempFile::new_in(&parent).map_err(|e| fail(e.to_string()))?;
    let options = ExportOptions {
        include_sensitive: args.include_sensitive,
    };
    let mut n = 0u64;
    let mut internal = 0u64;
    let mut retracted = 0u64;
    {
        let buffered = io::BufWriter::new(temp.as_file_mut());
        let mut csv_writer = None;
        let mut jsonl = None;
        match format {
            ExportFormat::Csv => {
                let mut b = buffered;
                if args.bom {
                    b.write_all(b"\xEF\xBB\xBF")
                        .map_err(|e| fail(e.to_string()))?;
                }
                let mut w = csv::Writer::from_writer(b);
                w.write_record(csv_io::export_header(options))
                    .map_err(|e| fail(e.to_string()))?;
                csv_writer = Some(w);
            }
            ExportFormat::Jsonl => jsonl = Some(buffered),
        }
        for item in stats::current_view(&store, filter.kind) {
            let stats::Viewed {
                entry,
                record,
                retracted: was_retracted,
                ..
            } = item?;
            if was_retracted {
                retracted += 1;
                continue;
            }
            if !filter.matches(&record) {
                continue;
            }
            if record.sensitivity() == Sensitivity::Internal && !args.include_internal {
                internal += 1;
                continue;
            }
            if let Some(w) = csv_writer.as_mut() {
                w.write_record(csv_io::export_row(&entry, &record, options))
                    .map_err(|e| fail(e.to_string()))?;
            }
            if let Some(w) = jsonl.as_mut() {
                let line = csv_io::export_json(&entry, &record, options);
                writeln!(w, "{line}").map_err(|e| fail(e.to_string()))?;
            }
            n += 1;
        }
        if let Some(mut w) = csv_writer {
            w.flush().map_err(|e| fail(e.to_string()))?;
        }
        if let Some(mut w) = jsonl {
            w.flush().map_err(|e| fail(e.to_string()))?;
        }
    }
    temp.as_file().sync_all().map_err(|e| fail(e.to_string()))?;
    temp.persist(&args.out)
        .map_err(|e| fail(e.error.to_string()))?;
    eprintln!("exported {n} records to {}", args.out.display());
    if retracted > 0 {
        eprintln!(
            "note: {retracted} retracted records were left out (`sijill show ID --history` says why)"
        );
    }
    if internal > 0 {
        eprintln!(
            "note: {internal} records marked internal were left out (--include-internal adds them)"
        );
    }
    if !args.include_sensitive {
        eprintln!("note: contact details were left out (--include-sensitive adds them)");
    }
    Ok(0)
}

#[derive(Args)]
pub struct SearchArgs {
    /// A name or part of one, in Arabic or Latin script
    query: String,
    /// Most results shown
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

pub fn search(dir: &Path, args: SearchArgs) -> Result<u8, Failure> {
    if sijill::search::tokens(&args.query).is_empty() {
        return Err(Failure::usage("the search has no letters or digits in it"));
    }
    let store = open(dir)?;
    let result = store
        .search_index()
        .search(&args.query, args.limit)
        .map_err(|e| Failure::from(sijill::store::StoreError::from(e)))?;
    let out = &mut crate::cli::gate::stdout();
    let mut json = Vec::new();
    for hit in &result.hits {
        let entry = store.get(&hit.id)?;
        let Some(record) = entry.entry.record_body() else {
            continue;
        };
        let h = record.headline();
        if args.json {
            json.push(serde_json::json!({
                "id": hit.id.to_hex(),
                "kind": record.kind().as_str(),
                "name": h.name,
                "date": h.date,
                "place": h.place,
                "matched_tokens": hit.matched,
                "exact_tokens": hit.exact,
            }));
        } else {
            writeln!(
                out,
                "{}  {:<8}  {:<10}  {}{}",
                &hit.id.to_hex()[..16],
                record.kind().as_str(),
                escape(h.date.as_deref().unwrap_or("-")),
                escape(&h.name),
                h.place
                    .map(|p| format!("  ({})", escape(&p)))
                    .unwrap_or_default()
            )
            .map_err(write_failure)?;
        }
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &json).map_err(|e| write_failure(e.into()))?;
        writeln!(out).map_err(write_failure)?;
    } else if result.hits.is_empty() {
        eprintln!("no records match");
    }
    if result.truncated {
        eprintln!("note: a word of the query is very common; only part of its records were ranked. Add more of the name.");
    }
    Ok(0)
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ByArg {
    Kind,
    Month,
    Governorate,
    Cause,
    Status,
}

#[derive(Args)]
pub struct StatsArgs {
    /// How to group the counts
    #[arg(long, value_enum, default_value = "kind")]
    by: ByArg,
    /// Only records of this kind
    #[arg(long)]
    kind: Option<KindArg>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

pub fn stats(dir: &Path, args: StatsArgs) -> Result<u8, Failure> {
    let filter = args.filter.to_filter(args.kind)?;
    let by = match args.by {
        ByArg::Kind => GroupBy::Kind,
        ByArg::Month => GroupBy::Month,
        ByArg::Governorate => GroupBy::Governorate,
        ByArg::Cause => GroupBy::Cause,
        ByArg::Status => GroupBy::Status,
    };
    let store = open(dir)?;
    let counts = stats::count(&store, &filter, by)?;
    let out = &mut crate::cli::gate::stdout();
    if args.json {
        let groups: Vec<_> = counts
            .groups
            .iter()
            .map(|(k, n)| serde_json::json!({"group": k, "count": n}))
            .collect();
        let value = serde_json::json!({
            "by": by.as_str(),
            "total": counts.total,
            "counted": COUNT_BASIS,
            "groups": groups,
        });
        serde_json::to_writer_pretty(&mut *out, &value).map_err(|e| write_failure(e.into()))?;
        writeln!(out).map_err(write_failure)?;
    } else {
        writeln!(out, "{:<32} count", by.as_str()).map_err(write_failure)?;
        for (k, n) in &counts.groups {
            writeln!(out, "{:<32} {n}", escape(k)).map_err(write_failure)?;
        }
        writeln!(out, "{:<32} {}", "total", counts.total).map_err(write_failure)?;
        writeln!(out, "counted: {COUNT_BASIS}").map_err(write_failure)?;
    }
    Ok(0)
}
