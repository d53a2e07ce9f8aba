//! Robustness campaigns (issue 6): crash, index loss, tamper and hostile
//! sizes. The short forms run in CI; the long forms are `#[ignore]`d:
//!
//! ```sh
//! cargo test --release --test campaigns -- --ignored --nocapture
//! ```
//!
//! Counts come from environment variables (see docs/RELIABILITY.md):
//! `SIJILL_CRASH_KILLS`, `SIJILL_IMPORT_KILLS`, `SIJILL_IMPORT_ENTRIES`,
//! `SIJILL_INDEX_ROUNDS`, `SIJILL_TAMPER_FLIPS`, and `SIJILL_SEED` to replay a
//! run (every campaign prints the seed it used).

#![allow(clippy::result_large_err)] // bundle errors carry their full location

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use sijill::audit::{self, Severity};
use sijill::bundle::{self, BundleProblem};
use sijill::entry::EntryId;
use sijill::exchange::{self, ExportOptions};
use sijill::record::{parse_record, Record, RecordKind};
use sijill::store::{Store, StoreWarning};

// ---------------------------------------------------------------------------
// Helpers

fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: a small deterministic generator, so that a failing run can be
/// replayed with `SIJILL_SEED`.
struct Rng(u64);

impl Rng {
    fn new(campaign: &str) -> Rng {
        let seed = std::env::var("SIJILL_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{campaign}: SIJILL_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    /// A byte to XOR with: never zero, so the byte always changes.
    fn flip(&mut self) -> u8 {
        (self.below(255) + 1) as u8
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sijill")
}

fn child(store: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_remove("SIJILL_PASSPHRASE")
        .env_remove("SIJILL_STORE")
        .arg("--store")
        .arg(store);
    cmd
}

const GIVEN: &[(&str, &str)] = &[
    ("محمد", "Mohammad"),
    ("أحمد", "Ahmad"),
    ("خالد", "Khaled"),
    ("عمر", "Omar"),
    ("يوسف", "Yousef"),
    ("فاطمة", "Fatima"),
    ("مريم", "Maryam"),
    ("حسن", "Hasan"),
];
const FAMILY: &[(&str, &str)] = &[
    ("الحلبي", "al-Halabi"),
    ("الخطيب", "al-Khatib"),
    ("العلي", "al-Ali"),
    ("الحمصي", "al-Homsi"),
    ("الشامي", "al-Shami"),
];

/// A public casualty record, distinct for each `i`.
fn record(i: u64) -> Record {
    let (ga, gl) = GIVEN[(i % GIVEN.len() as u64) as usize];
    let (fa, fl) = FAMILY[((i / 8) % FAMILY.len() as u64) as usize];
    let json = format!(
        r#"{{"name": {{"ar": "{ga} {fa}", "latin": "{gl} {fl} {i}"}}, "sex": "unknown",
            "date_of_death": "2018-{:02}-{:02}", "place_of_death": {{"governorate": "Idlib"}},
            "cause": "shelling", "sensitivity": "public"}}"#,
        1 + i % 12,
        1 + i % 28
    );
    parse_record(
        RecordKind::Casualty,
        json.as_bytes(),
        time::macros::date!(2026 - 01 - 01),
    )
    .expect("the generated record is valid")
}

/// Append `n` records through the library in synced batches; returns their ids
/// in log order.
fn populate(dir: &Path, n: u64) -> Vec<String> {
    let mut store = Store::open(dir).unwrap();
    let key = store.signing_key(None).unwrap();
    let mut ids = Vec::new();
    let mut i = 0;
    while i < n {
        let batch: Vec<Record> = (i..(i + 1000).min(n)).map(record).collect();
        i += batch.len() as u64;
        for s in store
            .append_records(&key, batch, time::OffsetDateTime::now_utc())
            .unwrap()
        {
            ids.push(s.id.to_hex());
        }
    }
    ids
}

fn export_bundle(dir: &Path, out: &Path) {
    let mut store = Store::open(dir).unwrap();
    let key = store.signing_key(None).unwrap();
    exchange::export(&mut store, &key, &ExportOptions::default(), out).unwrap();
}

/// `audit --json` through the binary: must exit 0 (warnings allowed).
fn audit_cli_clean(dir: &Path, context: &str) -> serde_json::Value {
    let out = child(dir).args(["audit", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{context}: audit printed no JSON ({e}): {}{}",
            stdout(&out),
            stderr(&out)
        )
    });
    assert_eq!(out.status.code(), Some(0), "{context}: {report:#}");
    report
}

/// The result of a child process run with its peak memory measured.
struct Measured {
    code: Option<i32>,
    #[allow(dead_code)]
    stdout: String,
    stderr: String,
    peak_kib: u64,
    elapsed: Duration,
}

/// Run `args` of the binary, feeding `stdin` (if any), and measure the
/// child's peak RSS: GNU time's `%M` where it exists, else by polling
/// `/proc/<pid>/status` (VmHWM) until it exits.
fn run_measured(store: &Path, args: &[&str], stdin: Option<&[u8]>) -> Measured {
    let gnu_time = Path::new("/usr/bin/time").exists();
    let rss_file = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(rss_file.path())
            .arg(bin());
        c
    } else {
        Command::new(bin())
    };
    cmd.env_remove("SIJILL_PASSPHRASE")
        .env_remove("SIJILL_STORE")
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut c = cmd.spawn().unwrap();
    let writer = stdin.map(|bytes| {
        let mut pipe = c.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        // The child may refuse and exit before reading it all: a broken pipe
        // is the expected end of this write.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let (mut out_pipe, mut err_pipe) = (c.stdout.take().unwrap(), c.stderr.take().unwrap());
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out_pipe, &mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err_pipe, &mut s);
        s
    });
    let mut polled = 0u64;
    let status = loop {
        if !gnu_time {
            if let Ok(text) = std::fs::read_to_string(format!("/proc/{}/status", c.id())) {
                if let Some(kib) = text
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    polled = polled.max(kib);
                }
            }
        }
        if let Some(status) = c.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let elapsed = start.elapsed();
    if let Some(w) = writer {
        let _ = w.join();
    }
    let peak_kib = if gnu_time {
        std::fs::read_to_string(rss_file.path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .next_back()
            .unwrap_or(0)
    } else {
        polled
    };
    // Under GNU time the exit status is the child's (time passes it on).
    Measured {
        code: status.code(),
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
        peak_kib,
        elapsed,
    }
}

// ---------------------------------------------------------------------------
// Crash campaign: bulk append

fn append_crash_campaign(kills: u64) {
    let mut rng = Rng::new("append crash campaign");
    let store = TestStore::new();
    let mut acknowledged: Vec<String> = Vec::new();
    let (mut torn_seen, mut rounds_with_acks, mut batches_set_aside) = (0u64, 0u64, 0u64);
    let mut size_before = 0u64;
    for round in 0..kills {
        // Odd rounds append in batches, which must be all or nothing.
        // (A few batches a round: the store stays small enough to audit.)
        let (batch, count) = if round % 2 == 1 {
            (250, 1_500)
        } else {
            (1, 1_000_000)
        };
        let mut c = child(&store.dir)
            .args(["stress-append", "--count"])
            .arg(count.to_string())
            .arg("--batch")
            .arg(batch.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = c.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        // A random moment: from before the store is open to well into the run.
        std::thread::sleep(Duration::from_millis(5 + rng.below(300)));
        c.kill().unwrap();
        c.wait().unwrap();
        let acked = reader.join().unwrap();
        if !acked.is_empty() {
            rounds_with_acks += 1;
        }
        acknowledged.extend(acked);

        // The store audits clean as it was left (a torn tail is a warning)...
        let report = audit_cli_clean(&store.dir, &format!("round {round}"));
        if report["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["property"] == "torn-tail"))
        {
            torn_seen += 1;
        }
        // ...opens, and holds every id the child printed.
        let s = Store::open(&store.dir)
            .unwrap_or_else(|e| panic!("round {round}: the store does not open: {e}"));
        if s.warnings()
            .iter()
            .any(|w| matches!(w, StoreWarning::InterruptedBatchSetAside { .. }))
        {
            batches_set_aside += 1;
        }
        let size = s.log_state(&s.group_key().to_bytes()).unwrap().size;
        assert_eq!(
            (size - size_before) % batch,
            0,
            "round {round}: {} entries of a batch of {batch} were kept",
            (size - size_before) % batch
        );
        size_before = size;
        for id in &acknowledged {
            let id = EntryId::from_hex(id).unwrap_or_else(|| panic!("child printed {id:?}"));
            s.get(&id).unwrap_or_else(|e| {
                panic!("round {round}: acknowledged entry {id} is missing or damaged: {e}")
            });
        }
        assert!(
            s.indexed_entries().unwrap() >= acknowledged.len() as u64,
            "round {round}: fewer entries than acknowledged"
        );
    }
    eprintln!(
        "append crash campaign: {kills} kills, {} acknowledged entries all present, \
         {rounds_with_acks} rounds acknowledged something, {torn_seen} audits saw a torn tail, \
         {batches_set_aside} interrupted batches set aside whole, every batch all or nothing",
        acknowledged.len()
    );
    assert!(
        rounds_with_acks * 2 >= kills,
        "most kills came before the child acknowledged anything: the campaign tests little"
    );
}

#[test]
fn crash_campaign_bulk_append() {
    append_crash_campaign(env_count("SIJILL_CRASH_KILLS", 20));
}

#[test]
#[ignore = "long form: cargo test --release --test campaigns -- --ignored"]
fn crash_campaign_bulk_append_long() {
    append_crash_campaign(env_count("SIJILL_CRASH_KILLS", 200));
}

// ---------------------------------------------------------------------------
// Crash campaign: import of a bundle

struct ImportTally {
    none: u64,
    partial: u64,
    all: u64,
    /// Rounds that left replica entries no `imports.jsonl` line accounts for.
    without_provenance: u64,
    /// Rounds that left staging files under `tmp/` after the store reopened.
    tmp_left: u64,
}

fn import_crash_campaign(kills: u64, entries: u64) {
    let mut rng = Rng::new("import crash campaign");
    let a = TestStore::new();
    let expected = populate(&a.dir, entries);
    let bundle_path = a._temp.path().join("a.bundle");
    export_bundle(&a.dir, &bundle_path);
    let a_pub = a._temp.path().join("a.pub");
    assert!(a
        .run(&["key", "export", "--out", a_pub.to_str().unwrap()])
        .status
        .success());
    let a_log: [u8; 32] = Store::open(&a.dir).unwrap().group_key().to_bytes();
    let a_seg_name = format!("{}.seg", hex::encode(a_log));

    let b = TestStore::new();
    let out = b.run(&["trust", "add", a_pub.to_str().unwrap(), "--name", "A"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pristine = b._temp.path().join("pristine");
    copy_dir(&b.dir, &pristine);

    // One import to completion, to time it.
    let t0 = Instant::now();
    let out = b.run(&["import", bundle_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let full = t0.elapsed();

    let work = b._temp.path().join("round");
    let mut tally = ImportTally {
        none: 0,
        partial: 0,
        all: 0,
        without_provenance: 0,
        tmp_left: 0,
    };
    for round in 0..kills {
        let _ = std::fs::remove_dir_all(&work);
        copy_dir(&pristine, &work);
        let mut c = child(&work)
            .args(["import", bundle_path.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let seg = work.join("logs").join(&a_seg_name);
        if round % 2 == 0 {
            // A random moment in the whole run.
            let ms = rng.below(full.as_millis() as u64 * 13 / 10 + 1);
            std::thread::sleep(Duration::from_millis(ms));
        } else {
            // The moment the replica starts to grow: the write window, which
            // random moments rarely hit because verification dominates.
            let deadline = Instant::now() + full * 3;
            while Instant::now() < deadline && c.try_wait().unwrap().is_none() {
                if std::fs::metadata(&seg).is_ok_and(|m| m.len() > 48) {
                    break;
                }
            }
        }
        let _ = c.kill();
        c.wait().unwrap();

        // The store opens (repairing a torn tail), audits clean, and the
        // replica is an exact prefix of the exporter's log.
        let s = Store::open(&work)
            .unwrap_or_else(|e| panic!("round {round}: the store does not open: {e}"));
        let report = audit::audit(&s).unwrap();
        assert!(report.is_clean(), "round {round}: {:#?}", report.findings);
        let size = s.log_state(&a_log).unwrap().size;
        assert!(size <= entries, "round {round}: {size} > {entries}");
        for seq in 0..size {
            let id = s
                .id_at(&a_log, seq)
                .unwrap()
                .unwrap_or_else(|| panic!("round {round}: seq {seq} has no entry"));
            assert_eq!(
                id.to_hex(),
                expected[seq as usize],
                "round {round}: seq {seq}"
            );
        }
        let recorded = exchange::imports(&s).unwrap();
        let covered: u64 = recorded
            .iter()
            .flat_map(|r| &r.logs)
            .map(|l| l.to - l.from)
            .sum();
        if covered < size {
            tally.without_provenance += 1;
        }
        match size {
            0 => tally.none += 1,
            n if n == entries => tally.all += 1,
            _ => tally.partial += 1,
        }
        if std::fs::read_dir(work.join("tmp")).is_ok_and(|mut d| d.next().is_some()) {
            tally.tmp_left += 1;
        }
        drop(s);
        // And an import run again to the end completes the replica.
        if round % 4 == 0 {
            let out = child(&work)
                .args(["import", bundle_path.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(out.status.success(), "round {round}: {}", stderr(&out));
            let s = Store::open(&work).unwrap();
            assert_eq!(s.log_state(&a_log).unwrap().size, entries);
            assert!(audit::audit(&s).unwrap().is_clean(), "round {round}");
        }
    }
    eprintln!(
        "import crash campaign: {kills} kills of an import of {entries} entries (full run {:?}): \
         replica empty {}, partial prefix {}, complete {}; rounds leaving entries without an \
         imports.jsonl record: {}; rounds leaving staging files in tmp/: {}",
        full, tally.none, tally.partial, tally.all, tally.without_provenance, tally.tmp_left
    );
}

#[test]
fn crash_campaign_import() {
    import_crash_campaign(
        env_count("SIJILL_IMPORT_KILLS", 20),
        env_count("SIJILL_IMPORT_ENTRIES", 4_000),
    );
}

#[test]
#[ignore = "long form: cargo test --release --test campaigns -- --ignored"]
fn crash_campaign_import_long() {
    import_crash_campaign(
        env_count("SIJILL_IMPORT_KILLS", 200),
        env_count("SIJILL_IMPORT_ENTRIES", 100_000),
    );
}

// ---------------------------------------------------------------------------
// Index loss

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(items) = std::fs::read_dir(dir) {
        for e in items.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn index_loss_campaign(rounds: u64) {
    let mut rng = Rng::new("index loss campaign");
    let store = TestStore::new();
    populate(&store.dir, 300);
    store.add("missing", MISSING);
    let list_before = stdout(&store.run(&["list", "--json"]));
    let search_before = stdout(&store.run(&["search", "Mohammad al-Halabi"]));
    assert!(list_before.len() > 1000 && !search_before.is_empty());
    let index = store.dir.join("index");
    let mut kinds = [0u64; 6];
    for round in 0..rounds {
        let files = files_under(&index);
        let kind = if files.is_empty() { 0 } else { rng.below(6) };
        kinds[kind as usize] += 1;
        let pick = |rng: &mut Rng| files[rng.below(files.len() as u64) as usize].clone();
        match kind {
            0 => {
                let _ = std::fs::remove_dir_all(&index);
            }
            1 => std::fs::remove_file(pick(&mut rng)).unwrap(),
            2 => {
                let f = pick(&mut rng);
                let len = std::fs::metadata(&f).unwrap().len();
                let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
                file.set_len(rng.below(len + 1)).unwrap();
            }
            3 | 4 => {
                let f = pick(&mut rng);
                eprintln!("round {round}: damage {kind} to {}", f.display());
                let mut bytes = std::fs::read(&f).unwrap();
                if !bytes.is_empty() {
                    if kind == 3 {
                        for _ in 0..1 + rng.below(64) {
                            let at = rng.below(bytes.len() as u64) as usize;
                            bytes[at] ^= rng.flip();
                        }
                    } else {
                        let at = rng.below(bytes.len() as u64) as usize;
                        let end = (at + 1 + rng.below(4096) as usize).min(bytes.len());
                        bytes[at..end].fill(0);
                    }
                    std::fs::write(&f, &bytes).unwrap();
                }
            }
            _ => {
                let f = pick(&mut rng);
                let mut file = std::fs::OpenOptions::new().append(true).open(&f).unwrap();
                let junk: Vec<u8> = (0..1 + rng.below(8192)).map(|_| rng.next() as u8).collect();
                file.write_all(&junk).unwrap();
            }
        }
        // Half the rounds repair with `reindex`, half by simply opening.
        if round % 2 == 1 {
            let out = store.run(&["reindex"]);
            assert!(
                out.status.success(),
                "round {round} (damage {kind}): reindex failed: {}",
                stderr(&out)
            );
        }
        let out = store.run(&["list", "--json"]);
        assert!(
            out.status.success(),
            "round {round} (damage {kind}): list failed: {}",
            stderr(&out)
        );
        if stdout(&out) != list_before {
            let after = stdout(&out);
            let first = after
                .bytes()
                .zip(list_before.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(after.len().min(list_before.len()));
            panic!(
                "round {round} (damage {kind}): the list differs after the index was damaged, from byte {first}: before {:?}, after {:?}; stderr {}",
                &list_before[first.saturating_sub(80)..(first + 200).min(list_before.len())],
                &after[first.saturating_sub(80)..(first + 200).min(after.len())],
                stderr(&out)
            );
        }
        assert_eq!(
            stdout(&store.run(&["search", "Mohammad al-Halabi"])),
            search_before,
            "round {round} (damage {kind}): search differs"
        );
        audit_cli_clean(&store.dir, &format!("round {round} (damage {kind})"));
    }
    eprintln!(
        "index loss campaign: {rounds} rounds (deleted {}, file removed {}, truncated {}, bytes flipped {}, range zeroed {}, garbage appended {}); every list identical, every audit clean",
        kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5]
    );
}

#[test]
fn index_loss_campaign_short() {
    index_loss_campaign(env_count("SIJILL_INDEX_ROUNDS", 24));
}

#[test]
#[ignore = "long form: cargo test --release --test campaigns -- --ignored"]
fn index_loss_campaign_long() {
    index_loss_campaign(env_count("SIJILL_INDEX_ROUNDS", 300));
}

// ---------------------------------------------------------------------------
// Tamper: bundles

fn verify_bytes(bytes: &[u8]) -> Result<bundle::BundleReport, bundle::BundleError> {
    bundle::verify(bytes, &[], &mut |_| {}, &mut |_| Ok(()))
}

/// Section starts of a well-formed bundle.
fn section_starts(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 16;
    while at + 8 <= bytes.len() {
        out.push(at);
        let len = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        at += 8 + len;
    }
    out
}

fn bundle_tamper(entries: u64, flips: Option<u64>) {
    let mut rng = Rng::new("bundle tamper campaign");
    let a = TestStore::new();
    populate(&a.dir, entries);
    let path = a._temp.path().join("t.bundle");
    export_bundle(&a.dir, &path);
    let clean = std::fs::read(&path).unwrap();
    assert!(verify_bytes(&clean).is_ok());
    let starts = section_starts(&clean);
    let positions: Vec<usize> = match flips {
        None => (0..clean.len()).collect(),
        Some(n) => (0..n)
            .map(|_| rng.below(clean.len() as u64) as usize)
            .collect(),
    };
    let mut by_problem: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let (mut in_own_section, mut named_entry) = (0u64, 0u64);
    for &pos in &positions {
        let mut bad = clean.clone();
        bad[pos] ^= rng.flip();
        let result = std::panic::catch_unwind(|| verify_bytes(&bad));
        let err = match result {
            Err(_) => panic!("verify panicked on a flip at byte {pos}"),
            Ok(Ok(_)) => panic!("a flip at byte {pos} was accepted"),
            Ok(Err(e)) => e,
        };
        // Every rejection is located: a section (with its number and tag),
        // or the magic at byte 0.
        assert!(
            err.section.is_some() && err.tag.is_some() || (err.offset == 0 && pos < 16),
            "flip at byte {pos}: the rejection names no section: {err}"
        );
        assert!(err.offset <= clean.len() as u64, "flip at {pos}: {err}");
        *by_problem.entry(err.problem.as_str()).or_default() += 1;
        let own = starts.iter().rposition(|s| *s <= pos);
        if pos >= 16 && err.section.map(|s| s as usize) == own {
            in_own_section += 1;
        }
        if err.entry.is_some() || err.seq.is_some() {
            named_entry += 1;
        }
    }
    eprintln!(
        "bundle tamper campaign: {} flips of a {}-byte bundle of {entries} entries, all rejected; \
         {in_own_section} named the very section flipped, {named_entry} named the entry; by problem: {by_problem:?}",
        positions.len(),
        clean.len()
    );
    assert!(positions.len() >= 10_000 || flips.is_none());
}

#[test]
fn tamper_campaign_every_byte_of_a_bundle() {
    // 14 entries make a bundle of more than 10,000 bytes: every byte is flipped.
    bundle_tamper(14, None);
}

#[test]
#[ignore = "long form: cargo test --release --test campaigns -- --ignored"]
fn tamper_campaign_bundle_long() {
    bundle_tamper(500, Some(env_count("SIJILL_TAMPER_FLIPS", 100_000)));
}

// ---------------------------------------------------------------------------
// Tamper: segment files

fn segment_tamper(records: u64, flips: Option<u64>) {
    let mut rng = Rng::new("segment tamper campaign");
    let store = TestStore::new();
    populate(&store.dir, records);
    drop(Store::open(&store.dir).unwrap());
    let segment = store.segment();
    let clean = std::fs::read(&segment).unwrap();
    let index = store.dir.join("index");
    let index_copy = store._temp.path().join("index-copy");
    copy_dir(&index, &index_copy);
    let positions: Vec<usize> = match flips {
        None => (0..clean.len()).collect(),
        Some(n) => (0..n)
            .map(|_| rng.below(clean.len() as u64) as usize)
            .collect(),
    };
    let mut by_property: std::collections::BTreeMap<String, u64> = Default::default();
    for &pos in &positions {
        let mut bytes = clean.clone();
        bytes[pos] ^= rng.flip();
        std::fs::write(&segment, &bytes).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            let s = Store::open_for_audit(&store.dir)?;
            audit::audit(&s)
        });
        let report = match outcome {
            Err(_) => panic!("open or audit panicked on a flip at byte {pos}"),
            Ok(Err(e)) => panic!("flip at byte {pos}: the store does not open for audit: {e}"),
            Ok(Ok(r)) => r,
        };
        let errors: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert!(!errors.is_empty(), "a flip at byte {pos} was not detected");
        // Located: an entry (seq, id or offset), or the file header.
        let located = errors.iter().any(|f| {
            f.seq.is_some()
                || f.entry.is_some()
                || f.offset.is_some()
                || (pos < 48 && matches!(f.property.as_str(), "framing" | "log-mismatch"))
        });
        assert!(
            located,
            "flip at byte {pos}: no finding names the entry: {errors:#?}"
        );
        *by_property
            .entry(errors[0].property.as_str().to_string())
            .or_default() += 1;
        std::fs::write(&segment, &clean).unwrap();
        std::fs::remove_dir_all(&index).unwrap();
        copy_dir(&index_copy, &index);
    }
    eprintln!(
        "segment tamper campaign: {} flips of a {}-byte segment of {records} entries, all detected and located; first finding by property: {by_property:?}",
        positions.len(),
        clean.len()
    );
}

#[test]
fn tamper_campaign_every_byte_of_a_segment() {
    segment_tamper(6, None);
}

#[test]
#[ignore = "long form: cargo test --release --test campaigns -- --ignored"]
fn tamper_campaign_segment_long() {
    segment_tamper(200, Some(env_count("SIJILL_TAMPER_FLIPS", 10_000)));
}

// ---------------------------------------------------------------------------
// Hostile sizes

const MIB: u64 = 1024;

#[test]
fn hostile_bundle_sections_claiming_huge_sizes() {
    let a = TestStore::new();
    populate(&a.dir, 3);
    let path = a._temp.path().join("ok.bundle");
    export_bundle(&a.dir, &path);
    let clean = std::fs::read(&path).unwrap();
    let starts = section_starts(&clean);
    let baseline = run_measured(&a.dir, &["verify", path.to_str().unwrap()], None);
    assert_eq!(baseline.code, Some(0), "{}", baseline.stderr);

    let first_entry = starts
        .iter()
        .copied()
        .find(|s| &clean[*s..*s + 4] == b"ENTR")
        .unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // The HEAD section claims 4 GiB.
    let mut b = clean.clone();
    b[starts[0] + 4..starts[0] + 8].copy_from_slice(&u32::MAX.to_be_bytes());
    cases.push(("HEAD of 4 GiB", b));
    // An ENTR section claims 4 GiB.
    let mut b = clean.clone();
    b[first_entry + 4..first_entry + 8].copy_from_slice(&u32::MAX.to_be_bytes());
    cases.push(("ENTR of 4 GiB", b));
    // An entry inside its section claims 4 GiB.
    let mut b = clean.clone();
    b[first_entry + 8..first_entry + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    cases.push(("entry of 4 GiB", b));
    // An ENTR section at the largest size allowed, then the file ends.
    let mut b = clean[..first_entry].to_vec();
    b.extend_from_slice(b"ENTR");
    b.extend_from_slice(&((2 * 1024 * 1024 + 4 + 64) as u32).to_be_bytes());
    b.extend_from_slice(&(2u32 * 1024 * 1024).to_be_bytes());
    b.extend_from_slice(&[b'{'; 4096]);
    cases.push(("largest entry, cut", b));

    for (name, bytes) in cases {
        let err = verify_bytes(&bytes).expect_err(name);
        assert!(
            matches!(
                err.problem,
                BundleProblem::Structure | BundleProblem::Truncated
            ),
            "{name}: {err}"
        );
        assert!(err.section.is_some(), "{name}: {err}");
        let file = a._temp.path().join("hostile.bundle");
        std::fs::write(&file, &bytes).unwrap();
        for cmd in ["verify", "import"] {
            let m = run_measured(&a.dir, &[cmd, file.to_str().unwrap()], None);
            eprintln!(
                "hostile bundle ({name}), {cmd}: exit {:?} in {:?}, peak RSS {} KiB (a clean verify: {} KiB)",
                m.code, m.elapsed, m.peak_kib, baseline.peak_kib
            );
            assert_eq!(m.code, Some(1), "{name} {cmd}: {}", m.stderr);
            assert!(m.stderr.contains("section"), "{name} {cmd}: {}", m.stderr);
            // Bounded: no more than the largest legal section over a clean run.
            assert!(
                m.peak_kib < baseline.peak_kib + 16 * MIB,
                "{name} {cmd}: peak RSS {} KiB",
                m.peak_kib
            );
        }
    }
}

#[test]
fn hostile_100_mb_field_via_add() {
    let store = TestStore::new();
    let mut json = br#"{"name": {"latin": ""#.to_vec();
    json.resize(json.len() + 100 * 1024 * 1024, b'A');
    json.extend_from_slice(br#""}, "sex": "unknown", "date_of_death": "2018"}"#);
    let before = snapshot(&store.dir);
    let m = run_measured(&store.dir, &["add", "casualty", "--json", "-"], Some(&json));
    eprintln!(
        "100 MB field via add --json -: exit {:?} in {:?}, peak RSS {} KiB",
        m.code, m.elapsed, m.peak_kib
    );
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    assert!(m.stderr.contains("larger than"), "{}", m.stderr);
    assert!(
        m.peak_kib > 0 && m.peak_kib < 64 * MIB,
        "{} KiB",
        m.peak_kib
    );
    assert_eq!(snapshot(&store.dir), before, "nothing written");
}

#[test]
fn hostile_100_mb_field_via_import_csv() {
    let store = TestStore::new();
    let dir = store._temp.path();
    let file = dir.join("big-field.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        f.write_all(b"name,date_of_death\n\"").unwrap();
        let chunk = vec![b'A'; 1024 * 1024];
        for _ in 0..100 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\",2018-01-25\n").unwrap();
    }
    let before = snapshot(&store.dir);
    let rejects = dir.join("rejects.csv");
    let m = run_measured(
        &store.dir,
        &[
            "import-csv",
            file.to_str().unwrap(),
            "--kind",
            "casualty",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
        None,
    );
    eprintln!(
        "100 MB field via import-csv: exit {:?} in {:?}, peak RSS {} KiB; rejects file {} bytes",
        m.code,
        m.elapsed,
        m.peak_kib,
        std::fs::metadata(&rejects).map_or(0, |m| m.len())
    );
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    assert_eq!(snapshot(&store.dir), before, "nothing written to the store");
    // Refused for its length, before the cell is cleaned and parsed.
    assert!(
        std::fs::read_to_string(&rejects)
            .unwrap_or_default()
            .contains("no field takes more than"),
        "the rejects file gives the reason"
    );
    // Bounded: the file is read whole (at most MAX_CSV_BYTES), so the bound
    // here is a small multiple of the input, not a constant: the text, the
    // CSV reader's record and the row's cells.
    assert!(
        m.peak_kib > 0 && m.peak_kib < 600 * MIB,
        "{} KiB",
        m.peak_kib
    );
}

#[test]
fn hostile_csv_with_a_million_columns() {
    let store = TestStore::new();
    let dir = store._temp.path();
    // Unknown headers: refused at the first of them.
    let unknown = dir.join("unknown.csv");
    let mut text = String::from("name");
    for i in 0..1_000_000 {
        text.push_str(&format!(",c{i}"));
    }
    text.push('\n');
    std::fs::write(&unknown, &text).unwrap();
    let m = run_measured(
        &store.dir,
        &[
            "import-csv",
            unknown.to_str().unwrap(),
            "--kind",
            "casualty",
            "--dry-run",
        ],
        None,
    );
    eprintln!(
        "1,000,000 unknown columns: exit {:?} in {:?}, peak RSS {} KiB",
        m.code, m.elapsed, m.peak_kib
    );
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    assert!(m.stderr.contains("columns; the limit is"), "{}", m.stderr);
    assert!(m.peak_kib < 512 * MIB, "{} KiB", m.peak_kib);

    // Empty headers (which import ignores) and rows of a million cells.
    let wide = dir.join("wide.csv");
    let mut text = String::from("name,date_of_death");
    text.push_str(&",".repeat(1_000_000));
    text.push('\n');
    for i in 0..3 {
        text.push_str(&format!("Wide Row {i},2018-01-25"));
        text.push_str(&",x".repeat(1_000_000));
        text.push('\n');
    }
    std::fs::write(&wide, &text).unwrap();
    let before = snapshot(&store.dir);
    let m = run_measured(
        &store.dir,
        &[
            "import-csv",
            wide.to_str().unwrap(),
            "--kind",
            "casualty",
            "--dry-run",
        ],
        None,
    );
    eprintln!(
        "1,000,000 empty-header columns, 3 rows: exit {:?} in {:?}, peak RSS {} KiB: {}",
        m.code,
        m.elapsed,
        m.peak_kib,
        m.stderr.lines().last().unwrap_or("")
    );
    assert_ne!(m.code, None, "killed by a signal: {}", m.stderr);
    // Refused at the header, before any row is read.
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    assert!(m.stderr.contains("columns"), "{}", m.stderr);
    assert!(m.peak_kib < 512 * MIB, "{} KiB", m.peak_kib);
    assert_eq!(snapshot(&store.dir), before, "a dry run writes nothing");
}
