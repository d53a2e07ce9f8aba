//! The benchmark harness (issue 6): `cargo bench --bench harness`, or
//! `cargo bench --bench harness -- --quick` for a CI-sized run.
//!
//! It first measures the raw limits of the machine it runs on (Ed25519 sign
//! and verify, BLAKE3, a synced file append), then measures Sijill and prints
//! every figure with its ratio to the limit that bounds it. docs/PERFORMANCE.md
//! holds the table of a real run and what limits each figure.
//!
//! Sizes: `SIJILL_BENCH_SMALL` (100,000; quick 10,000) and `SIJILL_BENCH_LARGE`
//! (1,000,000; quick 50,000) entries; `SIJILL_BENCH_ADD_RUNS` (50) runs of `add`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use sijill::exchange::{self, ExportOptions};
use sijill::record::{parse_record, Record, RecordKind};
use sijill::store::{InitOptions, Store};
use time::OffsetDateTime;

const CASUALTY: &str = include_str!("../fixtures/records/casualty.json");

fn env_n(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Run `f` repeatedly for about `for_` and return operations per second.
fn rate(for_: Duration, mut f: impl FnMut() -> u64) -> f64 {
    let start = Instant::now();
    let mut ops = 0u64;
    while start.elapsed() < for_ {
        ops += f();
    }
    ops as f64 / start.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------
// Records

const GIVEN: &[(&str, &str)] = &[
    ("محمد", "Mohammad"),
    ("أحمد", "Ahmad"),
    ("خالد", "Khaled"),
    ("عمر", "Omar"),
    ("يوسف", "Yousef"),
    ("علي", "Ali"),
    ("حسن", "Hasan"),
    ("حسين", "Husein"),
    ("إبراهيم", "Ibrahim"),
    ("مصطفى", "Mustafa"),
    ("عبدالله", "Abdullah"),
    ("محمود", "Mahmoud"),
    ("سامر", "Samer"),
    ("رامي", "Rami"),
    ("فادي", "Fadi"),
    ("وليد", "Walid"),
    ("فاطمة", "Fatima"),
    ("مريم", "Maryam"),
    ("زينب", "Zainab"),
    ("نور", "Nour"),
    ("هبة", "Hiba"),
    ("رنا", "Rana"),
    ("سلمى", "Salma"),
    ("لينا", "Lina"),
];
const FAMILY: &[(&str, &str)] = &[
    ("الحلبي", "al-Halabi"),
    ("الخطيب", "al-Khatib"),
    ("العلي", "al-Ali"),
    ("الحمصي", "al-Homsi"),
    ("الشامي", "al-Shami"),
    ("المصري", "al-Masri"),
    ("الأحمد", "al-Ahmad"),
    ("الحسن", "al-Hasan"),
    ("الزعبي", "al-Zoubi"),
    ("الرفاعي", "al-Rifai"),
    ("العمر", "al-Omar"),
    ("السيد", "al-Sayed"),
    ("النجار", "al-Najjar"),
    ("الحداد", "al-Haddad"),
    ("القاسم", "al-Qasim"),
    ("الدرويش", "al-Darwish"),
    ("الشيخ", "al-Sheikh"),
    ("البكري", "al-Bakri"),
    ("الحوراني", "al-Hourani"),
    ("الإدلبي", "al-Idlibi"),
    ("الدمشقي", "al-Dimashqi"),
    ("الكردي", "al-Kurdi"),
    ("التركماني", "al-Turkmani"),
    ("الجاسم", "al-Jasim"),
];
const GOVERNORATES: &[&str] = &["Idlib", "Aleppo", "Rif Dimashq", "Homs", "Daraa", "Hama"];

fn name_of(i: u64) -> (String, String) {
    let n = GIVEN.len() as u64;
    let g = GIVEN[(i % n) as usize];
    let f = GIVEN[((i / n) % n) as usize];
    let fam = FAMILY[((i / (n * n)) % FAMILY.len() as u64) as usize];
    (
        format!("{} {} {}", g.0, f.0, fam.0),
        format!("{} {} {}", g.1, f.1, fam.1),
    )
}

fn record(i: u64) -> Record {
    let (ar, latin) = name_of(i.wrapping_mul(2_654_435_761) % 1_000_003);
    let json = format!(
        r#"{{"name": {{"ar": "{ar}", "latin": "{latin}"}}, "sex": "{}", "age": {{"years": {}}},
            "date_of_death": "{}-{:02}-{:02}", "place_of_death": {{"governorate": "{}"}},
            "cause": "shelling", "civilian_status": "civilian", "confidence": "confirmed",
            "sources": [{{"type": "eyewitness", "reference": "interview {i}", "reliability": "high"}}],
            "sensitivity": "public"}}"#,
        if i.is_multiple_of(3) {
            "female"
        } else {
            "male"
        },
        1 + i % 90,
        2011 + i % 14,
        1 + i % 12,
        1 + i % 28,
        GOVERNORATES[(i % GOVERNORATES.len() as u64) as usize]
    );
    parse_record(
        RecordKind::Casualty,
        json.as_bytes(),
        time::macros::date!(2026 - 01 - 01),
    )
    .expect("valid record")
}

fn new_store(dir: &Path) -> Store {
    Store::init(
        dir,
        InitOptions {
            organisation: "Bench Group",
            passphrase: None,
            now: OffsetDateTime::now_utc(),
        },
    )
    .expect("init")
}

/// Append `n` records in synced batches of 1000; returns (records/s counting
/// only `append_records`, mean canonical entry bytes).
fn fill(store: &mut Store, n: u64) -> (f64, f64) {
    let key = store.signing_key(None).unwrap();
    let mut spent = Duration::ZERO;
    let mut bytes = 0u64;
    let mut i = 0;
    while i < n {
        let batch: Vec<Record> = (i..(i + 1000).min(n)).map(record).collect();
        i += batch.len() as u64;
        let t = Instant::now();
        let signed = store
            .append_records(&key, batch, OffsetDateTime::now_utc())
            .unwrap();
        spent += t.elapsed();
        bytes += signed.iter().map(|s| s.bytes.len() as u64).sum::<u64>();
        if i % 100_000 == 0 {
            eprintln!(
                "  ... {i} records ({:.0}/s)",
                i as f64 / spent.as_secs_f64()
            );
        }
    }
    (n as f64 / spent.as_secs_f64(), bytes as f64 / n as f64)
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(items) = std::fs::read_dir(p) {
        for e in items.flatten() {
            let path = e.path();
            total += if path.is_dir() {
                dir_size(&path)
            } else {
                e.metadata().map_or(0, |m| m.len())
            };
        }
    }
    total
}

/// Run the release binary; returns (wall time, peak RSS KiB, success).
fn run_child(args: &[&str], stdin: Option<&[u8]>) -> (Duration, u64, bool) {
    let bin = env!("CARGO_BIN_EXE_sijill");
    let gnu_time = Path::new("/usr/bin/time").exists();
    let rss = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f").arg("%M").arg("-o").arg(rss.path()).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.env_remove("SIJILL_PASSPHRASE")
        .env_remove("SIJILL_STORE")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let mut c = cmd.spawn().unwrap();
    if let Some(bytes) = stdin {
        let mut pipe = c.stdin.take().unwrap();
        let _ = pipe.write_all(bytes);
    }
    let mut polled = 0u64;
    let status = loop {
        if !gnu_time {
            if let Ok(t) = std::fs::read_to_string(format!("/proc/{}/status", c.id())) {
                if let Some(k) = t
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
                {
                    polled = polled.max(k);
                }
            }
        }
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(Duration::from_micros(500));
    };
    let elapsed = start.elapsed();
    let peak = if gnu_time {
        std::fs::read_to_string(rss.path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .next_back()
            .unwrap_or(0)
    } else {
        polled
    };
    (elapsed, peak, status.success())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

// ---------------------------------------------------------------------------
// The table

struct Row {
    what: String,
    value: String,
    limit: String,
    ratio: String,
    target: String,
}

fn row(what: &str, value: String, limit: String, ratio: String, target: &str) -> Row {
    let r = Row {
        what: what.into(),
        value,
        limit,
        ratio,
        target: target.into(),
    };
    eprintln!(
        "  {}: {} (limit {}, ratio {})",
        r.what, r.value, r.limit, r.ratio
    );
    r
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| measure | value | limit | ratio | target |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.what, r.value, r.limit, r.ratio, r.target
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let small = env_n("SIJILL_BENCH_SMALL", if quick { 10_000 } else { 100_000 });
    let large = env_n("SIJILL_BENCH_LARGE", if quick { 50_000 } else { 1_000_000 });
    let add_runs = env_n("SIJILL_BENCH_ADD_RUNS", if quick { 20 } else { 50 });
    let dwell = Duration::from_millis(if quick { 300 } else { 2000 });
    let work = tempfile::Builder::new()
        .prefix("sijill-bench")
        .tempdir_in(std::env::var("SIJILL_BENCH_DIR").unwrap_or_else(|_| ".".into()))
        .unwrap();
    let root = work.path().to_path_buf();
    eprintln!(
        "sijill bench ({}): {} cores, small {small}, large {large}, in {}",
        if quick { "quick" } else { "full" },
        threads(),
        root.display()
    );
    let mut rows = Vec::new();

    // --- Raw limits -------------------------------------------------------
    eprintln!("raw limits:");
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let vk = key.verifying_key();
    let msg = vec![0x5au8; 700];
    let sign_rate = rate(dwell, || {
        std::hint::black_box(key.sign(&msg));
        1
    });
    let sig = key.sign(&msg);
    let verify_rate = rate(dwell, || {
        vk.verify_strict(&msg, &sig).unwrap();
        1
    });
    // ed25519-dalek's `batch` feature is not enabled in this crate: the
    // all-core limit is strict single verification on every core, which is
    // also what `bundle::verify` does.
    let n_threads = threads();
    let verify_all = {
        let per: Vec<f64> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..n_threads)
                .map(|_| {
                    s.spawn(|| {
                        rate(dwell, || {
                            vk.verify_strict(&msg, &sig).unwrap();
                            1
                        })
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        per.iter().sum::<f64>()
    };
    let buf = vec![0xa5u8; 16 << 20];
    let blake3_mbs = rate(dwell, || {
        std::hint::black_box(blake3::hash(&buf));
        16
    });
    let (fsync_rate, batched_rate) = {
        let path = root.join("append.raw");
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let rec = vec![0x33u8; 1024];
        let one = rate(dwell, || {
            f.write_all(&rec).unwrap();
            f.sync_data().unwrap();
            1
        });
        let batch: Vec<u8> = rec.repeat(1000);
        let many = rate(dwell, || {
            f.write_all(&batch).unwrap();
            f.sync_data().unwrap();
            1000
        });
        drop(f);
        let _ = std::fs::remove_file(&path);
        (one, many)
    };
    rows.push(row(
        "ed25519 sign (1 core)",
        format!("{sign_rate:.0}/s"),
        "-".into(),
        "-".into(),
        "-",
    ));
    rows.push(row(
        "ed25519 verify_strict (1 core)",
        format!("{verify_rate:.0}/s"),
        "-".into(),
        "-".into(),
        "-",
    ));
    rows.push(row(
        &format!("ed25519 verify_strict, {n_threads} cores (no `batch` feature)"),
        format!("{verify_all:.0}/s"),
        "-".into(),
        "-".into(),
        "-",
    ));
    rows.push(row(
        "blake3 (1 core)",
        format!("{blake3_mbs:.0} MB/s"),
        "-".into(),
        "-".into(),
        "-",
    ));
    rows.push(row(
        "1 KiB write + fdatasync",
        format!("{fsync_rate:.0}/s"),
        "-".into(),
        "-".into(),
        "-",
    ));
    rows.push(row(
        "1 KiB writes, fdatasync per 1000",
        format!("{batched_rate:.0}/s"),
        "-".into(),
        "-".into(),
        "-",
    ));

    // --- Bulk append: the large store ---------------------------------------
    eprintln!("bulk append of {large} records (batches of 1000)...");
    let big_dir = root.join("big");
    let mut big = new_store(&big_dir);
    let (append_rate, entry_bytes) = fill(&mut big, large);
    let composed = 1.0 / (1.0 / sign_rate + entry_bytes / (blake3_mbs * 1e6) + 1.0 / batched_rate);
    rows.push(row(
        &format!("bulk append, {large} records, synced per 1000"),
        format!("{append_rate:.0} records/s"),
        format!("{composed:.0}/s (sign+hash+store, 1 core)"),
        format!("{:.2}", append_rate / composed),
        ">= 0.6",
    ));

    // --- On-disk size --------------------------------------------------------
    drop(big);
    let big = Store::open(&big_dir).unwrap();
    let seg = dir_size(&big_dir.join("logs"));
    let idx = dir_size(&big_dir.join("index"));
    let per_entry = (seg + idx) as f64 / large as f64;
    rows.push(row(
        &format!("on disk per entry ({large} entries: segment {seg} B + index {idx} B)"),
        format!("{per_entry:.0} B"),
        format!("{entry_bytes:.0} B canonical entry"),
        format!("{:.2}x", per_entry / entry_bytes),
        "<= 2.5x",
    ));

    // --- Name search ---------------------------------------------------------
    eprintln!("name search over {large} records...");
    let mut lat = Vec::new();
    for q in 0..100u64 {
        let (ar, latin) = name_of(q.wrapping_mul(7919) % 1_000_003);
        let query = if q % 2 == 0 { ar } else { latin };
        let t = Instant::now();
        let result = big.search_index().search(&query, 20).unwrap();
        for h in &result.hits {
            std::hint::black_box(big.get(&h.id).unwrap());
        }
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rows.push(row(
        &format!("name search over {large} records (top 20 read), 100 queries"),
        format!(
            "p50 {:.1} ms, p99 {:.1} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        ),
        "-".into(),
        "-".into(),
        "< 50 ms",
    ));
    drop(big);

    // --- Small store: export, verify, audit, import --------------------------
    eprintln!("small store of {small} records...");
    let small_dir = root.join("small");
    let mut s = new_store(&small_dir);
    fill(&mut s, small);
    let skey = s.signing_key(None).unwrap();
    let bundle_small = root.join("small.bundle");
    exchange::export(&mut s, &skey, &ExportOptions::default(), &bundle_small).unwrap();
    eprintln!("bundle verify...");
    let t = Instant::now();
    let report = sijill::bundle::verify(
        std::io::BufReader::with_capacity(1 << 20, File::open(&bundle_small).unwrap()),
        &[],
        &mut |_| {},
        &mut |_| Ok(()),
    )
    .unwrap();
    let verify_eps = report.logs[0].entries() as f64 / t.elapsed().as_secs_f64();
    rows.push(row(
        &format!("bundle verify, {small} entries"),
        format!("{verify_eps:.0} entries/s"),
        format!("{verify_all:.0}/s (verify, {n_threads} cores)"),
        format!("{:.2}", verify_eps / verify_all),
        ">= 0.5",
    ));
    eprintln!("audit...");
    // As `sijill audit` does: a process of its own opens the store for audit
    // (not timed), then checks it.
    drop(s);
    let s = Store::open_for_audit(&small_dir).unwrap();
    let t = Instant::now();
    let audit = sijill::audit::audit(&s).unwrap();
    assert!(audit.is_clean());
    let audit_eps = audit.entries_checked as f64 / t.elapsed().as_secs_f64();
    rows.push(row(
        &format!("store audit, {small} entries"),
        format!("{audit_eps:.0} entries/s"),
        format!("{verify_all:.0}/s (verify, {n_threads} cores)"),
        format!("{:.2}", audit_eps / verify_all),
        ">= 0.5",
    ));
    let pubkey = root.join("small.pub");
    std::fs::write(
        &pubkey,
        sijill::keys::PublicKeyFile {
            key: *s.group_key(),
            organisation: Some("Bench Group".into()),
            created: None,
        }
        .to_text(),
    )
    .unwrap();
    drop(s);

    // `add`, end to end, on the small store.
    eprintln!("add x {add_runs}...");
    let small_s = small_dir.to_str().unwrap().to_string();
    let mut adds = Vec::new();
    for _ in 0..add_runs {
        let (d, _, ok) = run_child(
            &["--store", &small_s, "add", "casualty", "--json", "-"],
            Some(CASUALTY.as_bytes()),
        );
        assert!(ok, "add failed");
        adds.push(d.as_secs_f64() * 1e3);
    }
    adds.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rows.push(row(
        &format!("`add` one record, process start to exit ({add_runs} runs, store of {small})"),
        format!(
            "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
            percentile(&adds, 0.5),
            percentile(&adds, 0.9),
            percentile(&adds, 0.99)
        ),
        format!("{:.1} ms (one fdatasync)", 1e3 / fsync_rate),
        "-".into(),
        "-",
    ));

    // --- Import of the small and the large bundle, in a child ---------------
    let big_store = Store::open(&big_dir).unwrap();
    let bkey = big_store.signing_key(None).unwrap();
    let big_pub = root.join("big.pub");
    std::fs::write(
        &big_pub,
        sijill::keys::PublicKeyFile {
            key: *big_store.group_key(),
            organisation: Some("Bench Group".into()),
            created: None,
        }
        .to_text(),
    )
    .unwrap();
    let mut big_store = big_store;
    let bundle_large = root.join("large.bundle");
    eprintln!("export of {large}...");
    let t = Instant::now();
    exchange::export(
        &mut big_store,
        &bkey,
        &ExportOptions::default(),
        &bundle_large,
    )
    .unwrap();
    let export_eps = large as f64 / t.elapsed().as_secs_f64();
    rows.push(row(
        &format!("export, {large} entries"),
        format!("{export_eps:.0} entries/s"),
        "-".into(),
        "-".into(),
        "-",
    ));
    drop(big_store);
    for (n, bundle, pubf) in [
        (small, &bundle_small, &pubkey),
        (large, &bundle_large, &big_pub),
    ] {
        eprintln!("import of {n} entries in a child...");
        let target: PathBuf = root.join(format!("import-{n}"));
        drop(new_store(&target));
        let ts = target.to_str().unwrap();
        let (_, _, ok) = run_child(
            &[
                "--store",
                ts,
                "trust",
                "add",
                pubf.to_str().unwrap(),
                "--name",
                "B",
            ],
            None,
        );
        assert!(ok);
        let (d, peak, ok) = run_child(&["--store", ts, "import", bundle.to_str().unwrap()], None);
        assert!(ok, "import failed");
        rows.push(row(
            &format!("import of a {n}-entry bundle (child process)"),
            format!(
                "{:.0} entries/s, peak RSS {:.0} MiB",
                n as f64 / d.as_secs_f64(),
                peak as f64 / 1024.0
            ),
            format!("{verify_all:.0}/s (verify, {n_threads} cores)"),
            format!("{:.2}", n as f64 / d.as_secs_f64() / verify_all),
            "RSS <= 200 MiB, flat in size",
        ));
        let _ = std::fs::remove_dir_all(&target);
    }

    print_table(&rows);
}
