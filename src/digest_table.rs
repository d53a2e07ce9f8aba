//! A derived, on-disk table from 32-byte digests (entry ids, record content
//! hashes) to a small payload: where the entry is (docs/FORMAT.md §6.5).
//!
//! Why not a sled tree: a tree keyed by random digests touches a different
//! page on nearly every insert, and sled keeps part of every page it has
//! touched in memory. A million random inserts held 450-620 MB of the
//! process, so an import's memory grew with the bundle. This table is one
//! file of fixed 64-byte slots, read and written with `pread`/`pwrite`: the
//! kernel's page cache holds it, not the process, and nothing grows in memory
//! with its size.
//!
//! Layout: a 64-byte header, then `slots + OVERFLOW` slots. Open addressing
//! with linear probing; a digest's home slot is its leading 64 bits scaled to
//! the table, so the table is in digest order but for short displacements,
//! and the slots holding a digest prefix are one short run (how an id is found
//! from 8 hex characters). Probing runs into the overflow slots instead of
//! wrapping round, which keeps that order. Each slot and the header carry a
//! check, so a damaged byte is found when it is read, and the store rebuilds
//! its index from the segments. The table grows by half again into a new
//! file that replaces the old one by rename, when it is three quarters full:
//! it is then between half and three quarters full (doubling would leave it
//! between three eighths and three quarters, and the two tables are a fifth
//! of a store's size on disk).
//!
//! Inserts are gathered in memory and written in slot order, a window of
//! slots at a time (`insert_all`): a `pwrite` of 64 bytes into a large file
//! costs the kernel nearly as much as a page, and a million inserts one at a
//! time spent more than the signatures. The store syncs the tables every so
//! many inserts and records what they then hold (src/store.rs).

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const PAYLOAD_LEN: usize = 24;
const SLOT_LEN: u64 = 64;
const HEADER_LEN: u64 = 64;
const MAGIC: &[u8; 16] = b"SIJILL-DIGESTS1\n";
/// The key of the slot check (a keyed BLAKE3 of the slot's 56 bytes: one
/// compression, which matters because every lookup checks each slot it
/// passes, several near three quarters full).
const CHECK_KEY: &[u8; 32] = b"SIJILL-INDEX-SLOT-CHECK-V1\0\0\0\0\0\0";
/// Slots past the last home slot, so that probing never wraps round.
const OVERFLOW: u64 = 1024;
const INITIAL_SLOTS: u64 = 1024;
/// Slots read at a time while probing.
const READ_SLOTS: u64 = 16;
/// Items gathered in memory before they are written to the file (about
/// 5 MiB).
pub const PENDING_ITEMS: usize = 65_536;
/// Slots read and written at a time when gathered items are written (64 KiB).
const WINDOW_SLOTS: u64 = 1024;

/// Why a table cannot be used: it is rebuilt from the segments.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {message}")]
    Damaged { path: PathBuf, message: String },
}

/// One digest and its payload.
pub type Item = ([u8; 32], [u8; PAYLOAD_LEN]);

pub struct DigestTable {
    path: PathBuf,
    file: File,
    /// Home slots (the file holds `OVERFLOW` more).
    slots: u64,
    /// Slots in use in the file.
    count: u64,
    /// Items inserted and not yet written to the file (see `insert_all`).
    pending: BTreeSet<Item>,
}

impl Drop for DigestTable {
    /// Items still in memory go to the file (not synced: the store's marks
    /// say what is durable).
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn slot_check(digest: &[u8], payload: &[u8]) -> [u8; 8] {
    let mut bytes = [0u8; 56];
    bytes[..32].copy_from_slice(&digest[..32]);
    bytes[32..].copy_from_slice(&payload[..PAYLOAD_LEN]);
    let mut out = [0u8; 8];
    out.copy_from_slice(&blake3::keyed_hash(CHECK_KEY, &bytes).as_bytes()[..8]);
    out
}

/// The home slot of a digest in a table of `slots`: its leading 64 bits
/// scaled, so that home slots are in digest order.
fn home_of(digest: &[u8], slots: u64) -> u64 {
    let mut lead = [0u8; 8];
    let n = digest.len().min(8);
    lead[..n].copy_from_slice(&digest[..n]);
    ((u128::from(u64::from_be_bytes(lead)) * u128::from(slots)) >> 64) as u64
}

fn encode_slot(digest: &[u8; 32], payload: &[u8; PAYLOAD_LEN]) -> [u8; SLOT_LEN as usize] {
    let mut slot = [0u8; SLOT_LEN as usize];
    slot[..32].copy_from_slice(digest);
    slot[32..56].copy_from_slice(payload);
    slot[56..].copy_from_slice(&slot_check(digest, payload));
    slot
}

impl DigestTable {
    /// Create an empty table, replacing any file at `path`.
    pub fn create(path: &Path) -> Result<DigestTable, TableError> {
        Self::create_sized(path, INITIAL_SLOTS)
    }

    fn create_sized(path: &Path, slots: u64) -> Result<DigestTable, TableError> {
        let io_err = |source| TableError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io_err)?;
        file.set_len(HEADER_LEN + (slots + OVERFLOW) * SLOT_LEN)
            .map_err(io_err)?;
        let mut table = DigestTable {
            path: path.to_path_buf(),
            file,
            slots,
            count: 0,
            pending: BTreeSet::new(),
        };
        table.write_header()?;
        Ok(table)
    }

    /// Empty this table: its file is created again, and what it had
    /// gathered in memory is dropped, not written into the new file.
    pub fn recreate(&mut self) -> Result<(), TableError> {
        self.pending.clear();
        let path = self.path.clone();
        *self = DigestTable::create(&path)?;
        Ok(())
    }

    /// Open a table written by [`DigestTable::create`]; a missing or damaged
    /// file is an error (the caller rebuilds).
    pub fn open(path: &Path) -> Result<DigestTable, TableError> {
        let damaged = |message: &str| TableError::Damaged {
            path: path.to_path_buf(),
            message: message.into(),
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|source| TableError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let mut header = [0u8; HEADER_LEN as usize];
        file.read_exact_at(&mut header, 0)
            .map_err(|_| damaged("the header cannot be read"))?;
        if &header[..16] != MAGIC || header[56..] != slot_check(&header[..32], &header[32..56]) {
            return Err(damaged("the header is damaged"));
        }
        let slots = u64::from_be_bytes(header[16..24].try_into().unwrap_or_default());
        let count = u64::from_be_bytes(header[24..32].try_into().unwrap_or_default());
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if slots == 0
            || count > slots + OVERFLOW
            || len != HEADER_LEN + (slots + OVERFLOW) * SLOT_LEN
        {
            return Err(damaged("the file does not have the size its header says"));
        }
        Ok(DigestTable {
            path: path.to_path_buf(),
            file,
            slots,
            count,
            pending: BTreeSet::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of items held, counting the gathered ones the file does not
    /// hold yet.
    pub fn item_count(&self) -> Result<u64, TableError> {
        let mut count = self.count;
        for (digest, payload) in &self.pending {
            let mut present = false;
            self.walk(self.home(digest), |_, d, p| {
                present = d == digest && p == payload;
                !present
            })?;
            if !present {
                count += 1;
            }
        }
        Ok(count)
    }

    fn io(&self) -> impl FnOnce(io::Error) -> TableError + '_ {
        |source| TableError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn damaged(&self, slot: u64) -> TableError {
        TableError::Damaged {
            path: self.path.clone(),
            message: format!("slot {slot} is damaged"),
        }
    }

    fn write_header(&mut self) -> Result<(), TableError> {
        let mut header = [0u8; HEADER_LEN as usize];
        header[..16].copy_from_slice(MAGIC);
        header[16..24].copy_from_slice(&self.slots.to_be_bytes());
        header[24..32].copy_from_slice(&self.count.to_be_bytes());
        let check = slot_check(&header[..32], &header[32..56]);
        header[56..].copy_from_slice(&check);
        self.file.write_all_at(&header, 0).map_err(self.io())
    }

    fn home(&self, digest: &[u8]) -> u64 {
        home_of(digest, self.slots)
    }

    /// Read slots from `first` on, calling `f` with each used slot's index,
    /// digest and payload, until `f` says stop or an empty slot is reached.
    /// Returns the index of the empty slot that ended the run, if one did.
    fn walk(
        &self,
        first: u64,
        mut f: impl FnMut(u64, &[u8; 32], &[u8; PAYLOAD_LEN]) -> bool,
    ) -> Result<Option<u64>, TableError> {
        let end = self.slots + OVERFLOW;
        let mut at = first;
        let mut buf = vec![0u8; (READ_SLOTS * SLOT_LEN) as usize];
        while at < end {
            let n = READ_SLOTS.min(end - at);
            let bytes = &mut buf[..(n * SLOT_LEN) as usize];
            self.file
                .read_exact_at(bytes, HEADER_LEN + at * SLOT_LEN)
                .map_err(self.io())?;
            for (i, slot) in bytes.chunks_exact(SLOT_LEN as usize).enumerate() {
                let index = at + i as u64;
                if slot.iter().all(|b| *b == 0) {
                    return Ok(Some(index));
                }
                if slot[56..] != slot_check(&slot[..32], &slot[32..56]) {
                    return Err(self.damaged(index));
                }
                let digest: &[u8; 32] = slot[..32].try_into().map_err(|_| self.damaged(index))?;
                let payload: &[u8; PAYLOAD_LEN] =
                    slot[32..56].try_into().map_err(|_| self.damaged(index))?;
                if !f(index, digest, payload) {
                    return Ok(None);
                }
            }
            at += n;
        }
        Ok(None)
    }

    /// Every payload held under `digest`.
    pub fn get(&self, digest: &[u8; 32]) -> Result<Vec<[u8; PAYLOAD_LEN]>, TableError> {
        let mut out = Vec::new();
        // Linear probing: an item is at its home slot or later in the same
        // run of used slots, so the first empty slot ends the search.
        self.walk(self.home(digest), |_, d, p| {
            if d == digest {
                out.push(*p);
            }
            true
        })?;
        for (_, p) in self.pending_under(digest) {
            if !out.contains(p) {
                out.push(*p);
            }
        }
        Ok(out)
    }

    /// Items whose digest starts with `prefix`, in digest order, at most
    /// `limit` of them.
    pub fn with_prefix(&self, prefix: &[u8], limit: usize) -> Result<Vec<Item>, TableError> {
        let mut low = [0u8; 32];
        let mut high = [0xffu8; 32];
        let n = prefix.len().min(32);
        low[..n].copy_from_slice(&prefix[..n]);
        high[..n].copy_from_slice(&prefix[..n]);
        // The items sought have their homes in [home(low), home(high)], and
        // each sits in the run of used slots that starts at or before its
        // home: walk every run that touches that range.
        let last_home = self.home(&high);
        let mut out = Vec::new();
        let mut from = self.home(&low);
        loop {
            let ended = self.walk(from, |_, d, p| {
                if d.starts_with(prefix) {
                    out.push((*d, *p));
                }
                out.len() < limit
            })?;
            match ended {
                Some(empty) if empty < last_home && out.len() < limit => from = empty + 1,
                _ => break,
            }
        }
        out.extend(
            self.pending
                .range((low, [0u8; PAYLOAD_LEN])..=(high, [0xffu8; PAYLOAD_LEN]))
                .filter(|(d, _)| d.starts_with(prefix))
                .take(limit),
        );
        out.sort();
        out.dedup();
        out.truncate(limit);
        Ok(out)
    }

    /// Add items that are not already held (the same digest and payload).
    /// Adding an item twice changes nothing. The items are kept in memory
    /// and written to the file together, in slot order, once
    /// [`PENDING_ITEMS`] have gathered or at [`DigestTable::flush`]: one
    /// `pwrite` of a few bytes into a large file costs the kernel about as
    /// much as writing the whole page, so writing the table a window at a
    /// time costs several times less than a write per item. Lookups see
    /// them at once.
    pub fn insert_all(&mut self, items: &[Item]) -> Result<(), TableError> {
        for item in items {
            self.pending.insert(*item);
            if self.pending.len() >= PENDING_ITEMS {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Write the items gathered in memory into the file (to the page cache;
    /// [`DigestTable::sync`] makes them durable), growing the table first
    /// as needed.
    pub fn flush(&mut self) -> Result<(), TableError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // Some of them may be in the file already: growing early is harmless.
        while (self.count + self.pending.len() as u64) * 4 > self.slots * 3 {
            self.grow()?;
        }
        // Digest order is home order (home slots are the leading bits).
        let items: Vec<Item> = std::mem::take(&mut self.pending).into_iter().collect();
        let mut rest = &items[..];
        while !rest.is_empty() {
            let placed = self.place_in_order(rest)?;
            rest = &rest[placed..];
            if !rest.is_empty() {
                // The overflow slots are full: a larger table spreads the
                // run out.
                self.grow()?;
            }
        }
        self.write_header()
    }

    /// Place items sorted by home slot, reading and writing the table a
    /// window of slots at a time; returns how many were placed before the
    /// overflow slots ran out.
    fn place_in_order(&mut self, items: &[Item]) -> Result<usize, TableError> {
        let total = self.slots + OVERFLOW;
        // The slots `first..first + held` are in `window`.
        let mut window: Vec<u8> = Vec::new();
        let mut first = 0u64;
        let mut held = 0u64;
        let mut changed = false;
        for (placed, (digest, payload)) in items.iter().enumerate() {
            let home = self.home(digest);
            if home >= first + held {
                self.write_window(&window, first, changed)?;
                first = home;
                held = 0;
                window.clear();
                changed = false;
            }
            let mut slot = home;
            loop {
                if slot == first + held {
                    if slot == total {
                        self.write_window(&window, first, changed)?;
                        return Ok(placed);
                    }
                    let more = WINDOW_SLOTS.min(total - slot);
                    let at = window.len();
                    window.resize(at + (more * SLOT_LEN) as usize, 0);
                    self.file
                        .read_exact_at(&mut window[at..], HEADER_LEN + slot * SLOT_LEN)
                        .map_err(self.io())?;
                    held += more;
                }
                let at = ((slot - first) * SLOT_LEN) as usize;
                let bytes = &mut window[at..at + SLOT_LEN as usize];
                if bytes.iter().all(|b| *b == 0) {
                    bytes.copy_from_slice(&encode_slot(digest, payload));
                    self.count += 1;
                    changed = true;
                    break;
                }
                if bytes[56..] != slot_check(&bytes[..32], &bytes[32..56]) {
                    return Err(self.damaged(slot));
                }
                if bytes[..32] == digest[..] && bytes[32..56] == payload[..] {
                    break;
                }
                slot += 1;
            }
        }
        self.write_window(&window, first, changed)?;
        Ok(items.len())
    }

    fn write_window(&self, window: &[u8], first: u64, changed: bool) -> Result<(), TableError> {
        if !changed {
            return Ok(());
        }
        self.file
            .write_all_at(window, HEADER_LEN + first * SLOT_LEN)
            .map_err(self.io())
    }

    /// The gathered items under `digest`.
    fn pending_under(&self, digest: &[u8; 32]) -> impl Iterator<Item = &Item> + '_ {
        self.pending
            .range((*digest, [0u8; PAYLOAD_LEN])..=(*digest, [0xffu8; PAYLOAD_LEN]))
    }

    /// Make every insert so far durable: the gathered items are written,
    /// then the file is synced. The store syncs its tables every so many
    /// inserts and records what they then cover (src/store.rs): syncing
    /// after every small batch would write about a page per item.
    pub fn sync(&mut self) -> Result<(), TableError> {
        self.flush()?;
        self.file.sync_data().map_err(self.io())
    }

    /// Make the table whole again after a crash: count the used slots
    /// afresh and put back in reach any item a lost write left stranded.
    ///
    /// The header and the slots may have reached the disk at different
    /// times, and a power cut may keep one page of slots written since the
    /// last sync and lose the page before it. An item is then separated
    /// from its home slot by an empty slot: a lookup stops at the empty
    /// slot without finding it, and an insert of the same item would fill
    /// the empty slot and hold it twice. Every run of used slots holding
    /// such an item is emptied and its items placed again. Every slot is
    /// checked on the way. Returns how many items were placed again.
    pub fn recover(&mut self) -> Result<u64, TableError> {
        let mut count = 0u64;
        let mut index = 0u64;
        let mut last_empty: Option<u64> = None;
        // The current run of used slots: where it starts, its items, and
        // whether one of them is out of reach of its home.
        let mut run_start = 0u64;
        let mut run: Vec<Item> = Vec::new();
        let mut run_stranded = false;
        let mut stranded_runs: Vec<(u64, Vec<Item>)> = Vec::new();
        let slots = self.slots;
        let mut end_run = |run_start: u64, run: &mut Vec<Item>, stranded: &mut bool| {
            if std::mem::take(stranded) {
                stranded_runs.push((run_start, std::mem::take(run)));
            } else {
                run.clear();
            }
        };
        self.scan_all(|item| {
            match item {
                None => {
                    end_run(run_start, &mut run, &mut run_stranded);
                    last_empty = Some(index);
                    run_start = index + 1;
                }
                Some(item) => {
                    count += 1;
                    let home = home_of(&item.0, slots);
                    // Reachable: the home is at or before the slot, and no
                    // empty slot lies between them.
                    if home > index || last_empty.is_some_and(|empty| home <= empty) {
                        run_stranded = true;
                    }
                    run.push(item);
                }
            }
            index += 1;
            Ok(())
        })?;
        end_run(run_start, &mut run, &mut run_stranded);
        let mut replaced = 0u64;
        for (start, items) in &stranded_runs {
            let zeros = vec![0u8; items.len() * SLOT_LEN as usize];
            self.file
                .write_all_at(&zeros, HEADER_LEN + start * SLOT_LEN)
                .map_err(self.io())?;
            count -= items.len() as u64;
            replaced += items.len() as u64;
        }
        self.count = count;
        // Placed again like any insert: an item stranded beside a copy of
        // itself in reach is held once.
        self.pending
            .extend(stranded_runs.into_iter().flat_map(|(_, items)| items));
        self.flush()?;
        self.write_header()?;
        Ok(replaced)
    }

    /// Read every slot in order, a large read at a time, checking each used
    /// one; `f` gets its item, or `None` for an empty slot.
    fn scan_all(
        &self,
        mut f: impl FnMut(Option<Item>) -> Result<(), TableError>,
    ) -> Result<(), TableError> {
        const SLOTS_A_READ: u64 = 4096;
        let total = self.slots + OVERFLOW;
        let mut buf = vec![0u8; (SLOTS_A_READ * SLOT_LEN) as usize];
        let mut first = 0u64;
        while first < total {
            let n = SLOTS_A_READ.min(total - first);
            let bytes = &mut buf[..(n * SLOT_LEN) as usize];
            self.file
                .read_exact_at(bytes, HEADER_LEN + first * SLOT_LEN)
                .map_err(self.io())?;
            for (i, slot) in bytes.chunks_exact(SLOT_LEN as usize).enumerate() {
                if slot.iter().all(|b| *b == 0) {
                    f(None)?;
                    continue;
                }
                if slot[56..] != slot_check(&slot[..32], &slot[32..56]) {
                    return Err(self.damaged(first + i as u64));
                }
                let mut item = ([0u8; 32], [0u8; PAYLOAD_LEN]);
                item.0.copy_from_slice(&slot[..32]);
                item.1.copy_from_slice(&slot[32..56]);
                f(Some(item))?;
            }
            first += n;
        }
        Ok(())
    }

    /// Grow the table by half into a new file, which then replaces this one.
    ///
    /// Written front to back in one pass: a run of used slots holds the
    /// items whose homes fall in it, so the runs in slot order, each sorted
    /// by digest, are every item in digest order, which is home order in the
    /// new table too. Placed in that order, linear probing puts each item at
    /// its home or just after the one before: no slot is read or written
    /// twice.
    fn grow(&mut self) -> Result<(), TableError> {
        let next = self.path.with_extension("grow");
        let slots = self.slots + self.slots / 2;
        let created = DigestTable::create_sized(&next, slots)?;
        let io_next = |source| TableError::Io {
            path: next.clone(),
            source,
        };
        let mut out = io::BufWriter::with_capacity(1 << 20, &created.file);
        out.seek(io::SeekFrom::Start(HEADER_LEN)).map_err(io_next)?;
        let mut written = 0u64; // the next slot `out` will write
        let mut count = 0u64;
        let mut place = |run: &mut Vec<Item>| -> Result<(), TableError> {
            run.sort_unstable();
            for (digest, payload) in run.drain(..) {
                let slot = home_of(&digest, slots).max(written);
                if slot >= slots + OVERFLOW {
                    return Err(TableError::Damaged {
                        path: next.clone(),
                        message: "no free slot while growing".into(),
                    });
                }
                for _ in written..slot {
                    out.write_all(&[0u8; SLOT_LEN as usize]).map_err(io_next)?;
                }
                out.write_all(&encode_slot(&digest, &payload))
                    .map_err(io_next)?;
                written = slot + 1;
                count += 1;
            }
            Ok(())
        };
        let mut run = Vec::new();
        self.scan_all(|item| match item {
            None => place(&mut run),
            Some(item) => {
                run.push(item);
                Ok(())
            }
        })?;
        place(&mut run)?;
        out.flush().map_err(io_next)?;
        drop(out);
        let mut bigger = created;
        bigger.count = count;
        bigger.write_header()?;
        bigger.file.sync_data().map_err(bigger.io())?;
        fs::rename(&next, &self.path).map_err(self.io())?;
        // The rename itself must survive a power loss, or the old, smaller
        // table would come back without what was added to the new one.
        if let Some(dir) = self.path.parent() {
            crate::segment::sync_dir(dir).map_err(self.io())?;
        }
        bigger.path = self.path.clone();
        bigger.pending = std::mem::take(&mut self.pending);
        *self = bigger;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u64) -> [u8; 32] {
        *blake3::hash(&n.to_le_bytes()).as_bytes()
    }

    fn payload(n: u64) -> [u8; PAYLOAD_LEN] {
        let mut p = [0u8; PAYLOAD_LEN];
        p[..8].copy_from_slice(&n.to_be_bytes());
        p
    }

    #[test]
    fn finds_every_item_across_growth_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.table");
        let mut t = DigestTable::create(&path).unwrap();
        let items: Vec<Item> = (0..20_000).map(|n| (digest(n), payload(n))).collect();
        for chunk in items.chunks(1000) {
            t.insert_all(chunk).unwrap();
        }
        // Twice: set semantics, in memory and once written.
        t.insert_all(&items[..500]).unwrap();
        assert_eq!(t.item_count().unwrap(), 20_000);
        t.sync().unwrap();
        t.insert_all(&items[..500]).unwrap();
        assert_eq!(t.item_count().unwrap(), 20_000);
        t.sync().unwrap();
        let t = DigestTable::open(&path).unwrap();
        assert_eq!(t.item_count().unwrap(), 20_000);
        for (d, p) in &items {
            assert_eq!(t.get(d).unwrap(), vec![*p]);
        }
        assert!(t.get(&digest(20_000)).unwrap().is_empty());
        // A prefix of 4 bytes finds exactly the digests that start with it.
        for (d, _) in items.iter().take(200) {
            let found = t.with_prefix(&d[..4], 10).unwrap();
            let expected: Vec<_> = items
                .iter()
                .filter(|(x, _)| x[..4] == d[..4])
                .copied()
                .collect();
            assert_eq!(found, expected);
        }
    }

    /// Items inserted are found at once, whether still in memory, written
    /// to the file, or both (inserted again after being written), and the
    /// table agrees with a plain set through writes, growth and a reopen.
    #[test]
    fn lookups_agree_with_a_set_whether_items_are_in_memory_or_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let mut t = DigestTable::create(&path).unwrap();
        let mut model: BTreeSet<Item> = BTreeSet::new();
        let check = |t: &DigestTable, model: &BTreeSet<Item>, probes: &[u64]| {
            assert_eq!(t.item_count().unwrap(), model.len() as u64);
            for n in probes {
                let d = digest(*n);
                let expected: Vec<_> = model
                    .iter()
                    .filter(|(x, _)| *x == d)
                    .map(|(_, p)| *p)
                    .collect();
                let mut got = t.get(&d).unwrap();
                got.sort();
                assert_eq!(got, expected, "digest {n}");
                let expected: Vec<_> = model
                    .iter()
                    .filter(|(x, _)| x[..2] == d[..2])
                    .take(5)
                    .copied()
                    .collect();
                assert_eq!(t.with_prefix(&d[..2], 5).unwrap(), expected);
            }
        };
        for round in 0..40u64 {
            // Some new digests, some seen before with the same payload,
            // some seen before with another payload.
            let batch: Vec<Item> = (0..500u64)
                .map(|i| {
                    let n = (round * 500 + i) % 7_000;
                    (digest(n), payload(n % 3 + (i % 5 == 0) as u64))
                })
                .collect();
            t.insert_all(&batch).unwrap();
            model.extend(batch.iter().copied());
            match round % 4 {
                0 => t.flush().unwrap(),
                1 => t.sync().unwrap(),
                _ => {}
            }
            check(&t, &model, &[round, round * 37 % 7_000, 6_999, 7_001]);
        }
        t.sync().unwrap();
        drop(t);
        let t = DigestTable::open(&path).unwrap();
        let probes: Vec<u64> = (0..7_002).step_by(13).collect();
        check(&t, &model, &probes);
    }

    /// A run that fills the overflow slots while gathered items are being
    /// written grows the table part-way and goes on; nothing is lost.
    #[test]
    fn a_run_past_the_overflow_slots_grows_the_table_while_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let mut t = DigestTable::create(&path).unwrap();
        // Every home is in the last 1/256 of the table: one run longer than
        // the overflow slots until the table has grown twice.
        let items: Vec<Item> = (0..1_100u64)
            .map(|n| {
                let mut d = digest(n);
                d[0] = 0xff;
                (d, payload(n))
            })
            .collect();
        t.insert_all(&items[..700]).unwrap();
        t.flush().unwrap();
        assert_eq!(t.slots, INITIAL_SLOTS);
        t.insert_all(&items[700..]).unwrap();
        t.sync().unwrap();
        assert!(t.slots > 2 * INITIAL_SLOTS, "{} slots", t.slots);
        let t = DigestTable::open(&path).unwrap();
        assert_eq!(t.item_count().unwrap(), 1_100);
        for (d, p) in &items {
            assert_eq!(t.get(d).unwrap(), vec![*p]);
        }
    }

    /// Recreating a table drops what it had gathered: nothing of the old
    /// table is written into the new file.
    #[test]
    fn recreate_drops_the_gathered_items() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let mut t = DigestTable::create(&path).unwrap();
        t.insert_all(&[(digest(1), payload(1))]).unwrap();
        t.recreate().unwrap();
        drop(t);
        let t = DigestTable::open(&path).unwrap();
        assert_eq!(t.item_count().unwrap(), 0);
        assert!(t.get(&digest(1)).unwrap().is_empty());
    }

    #[test]
    fn recover_counts_the_slots_a_stale_header_misses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let mut t = DigestTable::create(&path).unwrap();
        t.insert_all(&[(digest(1), payload(1))]).unwrap();
        t.flush().unwrap();
        let stale_header = fs::read(&path).unwrap()[..HEADER_LEN as usize].to_vec();
        t.insert_all(&[(digest(2), payload(2)), (digest(3), payload(3))])
            .unwrap();
        drop(t);
        // As if the slots reached the disk and the header did not.
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(&stale_header, 0).unwrap();
        let mut t = DigestTable::open(&path).unwrap();
        assert_eq!(t.item_count().unwrap(), 1);
        assert_eq!(t.recover().unwrap(), 0);
        assert_eq!(t.item_count().unwrap(), 3);
        assert_eq!(DigestTable::open(&path).unwrap().item_count().unwrap(), 3);
        // A damaged slot is found on the way.
        let mut bytes = fs::read(&path).unwrap();
        let used = (0..)
            .map(|i| HEADER_LEN as usize + i * SLOT_LEN as usize)
            .find(|&at| bytes[at..at + 64].iter().any(|b| *b != 0))
            .unwrap();
        bytes[used + 3] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let mut t = DigestTable::open(&path).unwrap();
        assert!(matches!(t.recover(), Err(TableError::Damaged { .. })));
    }

    /// A power cut keeps a page written since the last sync and loses the
    /// page before it: items of a run are cut off from their home slot by
    /// the empty slot. Recovered, each is found, and inserting every item
    /// again (as the store's catch-up does) holds each once.
    #[test]
    fn recover_puts_back_in_reach_what_a_lost_page_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let mut t = DigestTable::create(&path).unwrap();
        // Twelve items with one home slot, then two in the slots after it.
        let mut items: Vec<Item> = (0..12u64)
            .map(|n| {
                let mut d = digest(n);
                d[..8].copy_from_slice(&0x4000_0000_0000_0000u64.to_be_bytes());
                (d, payload(n))
            })
            .collect();
        let home = home_of(&items[0].0, t.slots);
        for (n, next) in [(100u64, 12u64), (101, 13)] {
            let mut d = digest(n);
            d[..8].copy_from_slice(&(0x4000_0000_0000_0000u64 + (next << 54)).to_be_bytes());
            assert_eq!(home_of(&d, t.slots), home + next);
            items.push((d, payload(n)));
        }
        t.insert_all(&items).unwrap();
        t.sync().unwrap();
        drop(t);
        // The first three slots of the run are lost.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let at = HEADER_LEN + home * SLOT_LEN;
        let mut lost = vec![0u8; 3 * SLOT_LEN as usize];
        file.read_exact_at(&mut lost, at).unwrap();
        file.write_all_at(&[0u8; 3 * SLOT_LEN as usize], at)
            .unwrap();
        drop(file);
        let lost: Vec<&[u8]> = lost.chunks(SLOT_LEN as usize).map(|s| &s[..32]).collect();
        let (gone, left): (Vec<Item>, Vec<Item>) =
            items.iter().partition(|(d, _)| lost.contains(&&d[..]));
        assert_eq!(gone.len(), 3);
        let mut t = DigestTable::open(&path).unwrap();
        let cut_off = left.iter().filter(|(d, _)| t.get(d).unwrap().is_empty());
        assert_eq!(cut_off.count(), 9, "the rest of the run, before recovery");
        assert_eq!(t.recover().unwrap(), 11);
        assert_eq!(t.item_count().unwrap(), 11);
        for (d, p) in &left {
            assert_eq!(t.get(d).unwrap(), vec![*p]);
        }
        t.insert_all(&items).unwrap();
        t.sync().unwrap();
        let t = DigestTable::open(&path).unwrap();
        assert_eq!(t.item_count().unwrap(), 14);
        for (d, p) in &items {
            assert_eq!(t.get(d).unwrap(), vec![*p]);
        }
    }

    #[test]
    fn one_digest_may_hold_several_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = DigestTable::create(&dir.path().join("t")).unwrap();
        t.insert_all(&[(digest(1), payload(1)), (digest(1), payload(2))])
            .unwrap();
        t.insert_all(&[(digest(1), payload(2))]).unwrap();
        assert_eq!(t.get(&digest(1)).unwrap(), vec![payload(1), payload(2)]);
    }

    #[test]
    fn damage_is_found_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let mut t = DigestTable::create(&path).unwrap();
        let items: Vec<Item> = (0..100).map(|n| (digest(n), payload(n))).collect();
        t.insert_all(&items).unwrap();
        drop(t);
        let bytes = fs::read(&path).unwrap();
        // The header.
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        fs::write(&path, &bad).unwrap();
        assert!(matches!(
            DigestTable::open(&path),
            Err(TableError::Damaged { .. })
        ));
        // A used slot: the lookup that reaches it says so.
        let slot = (0..)
            .map(|i| HEADER_LEN as usize + i * SLOT_LEN as usize)
            .find(|&at| bytes[at..at + 64].iter().any(|b| *b != 0))
            .unwrap();
        let digest_there: [u8; 32] = bytes[slot..slot + 32].try_into().unwrap();
        let mut bad = bytes.clone();
        bad[slot + 40] ^= 0x10;
        fs::write(&path, &bad).unwrap();
        let t = DigestTable::open(&path).unwrap();
        assert!(matches!(
            t.get(&digest_there),
            Err(TableError::Damaged { .. })
        ));
        // A cut file.
        fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(DigestTable::open(&path).is_err());
    }
}
