//! The store: the only code that touches disk (docs/FORMAT.md §6).
//!
//! A store is a directory. Each log's segment file is the truth; the sled
//! database under `index/` only holds what can be derived from the segments
//! (entry locations, per-log state, Merkle nodes) and is rebuilt from them by
//! `reindex`, or on open when it is missing, damaged or behind. A write is
//! acknowledged only after its segment bytes are synced. One process at a time
//! holds a store, through an advisory lock on `lock`.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::batch_intent::{self, BatchIntent, IntentFile};
use crate::digest_table::{DigestTable, TableError, PAYLOAD_LEN};
use crate::entry::{
    decode_entry, parse_signature, verify_signature, Body, Entry, EntryError, EntryId, EntryKind,
    SignedEntry,
};
use crate::index::{self, ChunkWrites};
use crate::keys::{self, KeyError, PublicKeyFile, SigningKey, VerifyingKey};
use crate::merkle::{self, Frontier, Hash, NodeId};
use crate::note::SignedCheckpoint;
use crate::record::Record;
use crate::search::{RecordKeys, SearchBatch};
use crate::segment::{
    encode_frame, sync_dir, ScanItem, SegmentError, SegmentReader, SegmentWriter, FRAME_HEADER_LEN,
    SEGMENT_HEADER_LEN, SIGNATURE_LEN, WITHHELD_PAYLOAD_LEN,
};
use crate::FORMAT_VERSION;

pub const STORE_FILE: &str = "store.json";
pub const SECRET_KEY_FILE: &str = "group.key";
pub const PUBLIC_KEY_FILE: &str = "group.pub";
/// Key files of the keys the group rotated to (FORMAT.md §6.1, §9.6).
pub const GROUP_KEYS_DIR: &str = "group-keys";
pub const LOGS_DIR: &str = "logs";
pub const SET_ASIDE_DIR: &str = "set-aside";
pub const INDEX_DIR: &str = "index";
pub const LOCK_FILE: &str = "lock";
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// Staging of imports in progress (FORMAT.md §6.10).
pub const TMP_DIR: &str = "tmp";
/// Written last by a full index build; an index without it is rebuilt.
const INDEX_COMPLETE: &[u8] = b"complete";
const INDEX_FORMAT: &[u8] = b"format";
/// The digest tables under `index/` (src/digest_table.rs).
const ID_TABLE: &str = "entry-ids.table";
const CONTENT_TABLE: &str = "record-content.table";

fn table_error(e: TableError) -> StoreError {
    StoreError::IndexDamaged(e.to_string())
}

/// Frames verified and indexed together while catching up: bounds the memory
/// of a catch-up (an import, a rebuild) whatever the size of the log.
const CATCH_UP_WINDOW: usize = 4096;
/// Digest-table inserts between two syncs of the tables. Syncing a large
/// table after every batch of 1000 writes about one page per insert; here
/// the kernel writes them back in order, and a crash costs at most this many
/// entries indexed again at the next open.
const TABLE_SYNC_ITEMS: u64 = 65_536;
const CATCH_UP_WINDOW_BYTES: usize = 16 << 20;
/// Entries read and verified together when listing a store.
const ENTRIES_WINDOW: usize = 1024;

/// The store's description, written by `init` and replaced (atomically) by
/// a key rotation (FORMAT.md §6.1).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoreMeta {
    pub format: u64,
    pub organisation: String,
    pub created: String,
    /// Hex public key of the group key; its log is this store's own log.
    pub group_key: String,
    /// Hex public keys the group signed with before, oldest first (the
    /// first is the key of `init`); their logs take no more appends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub former_keys: Vec<String>,
}

/// Where an entry lives, as the index records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub log: [u8; 32],
    pub seq: u64,
    pub offset: u64,
    pub kind: EntryKind,
}

impl Location {
    /// The id table's payload: log number, seq, offset, kind.
    fn to_payload(self, log_number: u32) -> [u8; PAYLOAD_LEN] {
        let mut out = [0u8; PAYLOAD_LEN];
        out[..4].copy_from_slice(&log_number.to_be_bytes());
        out[4..12].copy_from_slice(&self.seq.to_be_bytes());
        out[12..20].copy_from_slice(&self.offset.to_be_bytes());
        out[20] = self.kind.code();
        out
    }

    fn from_payload(p: &[u8; PAYLOAD_LEN], logs: &HashMap<u32, [u8; 32]>) -> Option<Location> {
        let number = u32::from_be_bytes(p[..4].try_into().ok()?);
        Some(Location {
            log: *logs.get(&number)?,
            seq: u64::from_be_bytes(p[4..12].try_into().ok()?),
            offset: u64::from_be_bytes(p[12..20].try_into().ok()?),
            kind: EntryKind::from_code(p[20])?,
        })
    }
}

/// One leaf of a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leaf {
    Entry(Box<SignedEntry>),
    /// A leaf of a replica whose entry its author did not share.
    Withheld(u64, Hash),
}

/// What the index knows of one log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogState {
    /// Number of entries (the Merkle tree size).
    pub size: u64,
    /// Segment length covered by the index: the end of the last indexed frame.
    pub end: u64,
    /// Merkle root at `size`.
    pub root: Hash,
}

impl LogState {
    fn empty() -> LogState {
        LogState {
            size: 0,
            end: SEGMENT_HEADER_LEN,
            root: merkle::empty_root(),
        }
    }

    fn to_bytes(self) -> [u8; 48] {
        let mut out = [0u8; 48];
        out[..8].copy_from_slice(&self.size.to_be_bytes());
        out[8..16].copy_from_slice(&self.end.to_be_bytes());
        out[16..].copy_from_slice(&self.root.0);
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<LogState> {
        if bytes.len() != 48 {
            return None;
        }
        Some(LogState {
            size: u64::from_be_bytes(bytes[..8].try_into().ok()?),
            end: u64::from_be_bytes(bytes[8..16].try_into().ok()?),
            root: Hash(bytes[16..].try_into().ok()?),
        })
    }
}

/// Something the store noticed and repaired or worked around while opening.
/// None of these loses an acknowledged entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreWarning {
    /// An incomplete last frame, never acknowledged, moved out of the segment.
    TornTailSetAside {
        log: [u8; 32],
        offset: u64,
        len: u64,
        saved_to: PathBuf,
        /// Whether the index knew where the acknowledged entries ended. When
        /// it was rebuilt, only a checkpoint can tell a crash from a cut.
        index_knew: bool,
    },
    /// The index could not be opened or was incomplete and was rebuilt.
    IndexRebuilt { reason: String },
    /// The index lagged behind a segment (a crash after the sync) and caught up.
    IndexCaughtUp { log: [u8; 32], entries: u64 },
    /// A log has damage the store will not repair; appends to it are refused
    /// and `audit` gives the details.
    LogDamaged { log: [u8; 32], reason: String },
    /// A batch of frames cut short by a crash before its segment was synced,
    /// moved out whole so that the command that wrote it left nothing
    /// (src/batch_intent.rs).
    InterruptedBatchSetAside {
        log: [u8; 32],
        offset: u64,
        len: u64,
        saved_to: PathBuf,
    },
}

impl std::fmt::Display for StoreWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreWarning::TornTailSetAside {
                log,
                offset,
                len,
                saved_to,
                index_knew,
            } => write!(
                f,
                "log {}: an incomplete frame of {len} bytes at offset {offset} ({}) was set aside in {}",
                short_log(log),
                if *index_knew {
                    "a write cut short by a crash, never acknowledged"
                } else {
                    "the index was rebuilt, so whether it was acknowledged is known only from a checkpoint; `sijill audit` checks them"
                },
                saved_to.display()
            ),
            StoreWarning::IndexRebuilt { reason } => {
                write!(f, "the index was rebuilt from the segment files ({reason})")
            }
            StoreWarning::IndexCaughtUp { log, entries } => write!(
                f,
                "log {}: the index caught up with {entries} synced entries it had not recorded",
                short_log(log)
            ),
            StoreWarning::LogDamaged { log, reason } => {
                write!(f, "log {} is damaged: {reason}", short_log(log))
            }
            StoreWarning::InterruptedBatchSetAside {
                log,
                offset,
                len,
                saved_to,
            } => write!(
                f,
                "log {}: a batch of {len} bytes at offset {offset}, cut short by a crash before it was synced and never acknowledged, was set aside whole in {}; run the command that wrote it again (an import skips what the store already holds)",
                short_log(log),
                saved_to.display()
            ),
        }
    }
}

/// The key id of a log, for messages.
pub fn short_log(log: &[u8; 32]) -> String {
    match VerifyingKey::from_bytes(log) {
        Ok(key) => keys::key_id(&key).to_string(),
        Err(_) => hex::encode(&log[..8]),
    }
}

/// Why a store operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: no sijill store here")]
    NotAStore { path: PathBuf },
    #[error("{path}: a store already exists here")]
    AlreadyExists { path: PathBuf },
    #[error("{path}: the store is in use by another sijill process")]
    InUse { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {message}")]
    BadStoreFile { path: PathBuf, message: String },
    #[error("index database: {0}")]
    Index(#[from] sled::Error),
    /// The index holds something it could not have written; it is derived,
    /// so opening the store rebuilds it.
    #[error("the index is damaged: {0}")]
    IndexDamaged(String),
    #[error("secret key {path}: {source}")]
    Key { path: PathBuf, source: KeyError },
    #[error("{0}")]
    Entry(#[from] EntryError),
    #[error("log {log} at offset {offset}: {message}")]
    Corrupt {
        log: String,
        offset: u64,
        message: String,
    },
    #[error("log {log} is damaged ({reason}); nothing can be appended to it")]
    LogDamaged { log: String, reason: String },
    #[error("log {log}: cannot make the proof: {message}")]
    Proof { log: String, message: String },
    #[error("{0:?} is not an entry id: {1}")]
    BadId(String, &'static str),
    #[error("no entry with id {0}")]
    NotFound(String),
    #[error("id prefix {prefix} matches {} entries: {}", candidates.len(), candidates.join(", "))]
    Ambiguous {
        prefix: String,
        candidates: Vec<String>,
    },
}

impl StoreError {
    /// True when the error means the stored bytes are not what was written
    /// (exit status 1), rather than a usage or environment problem.
    pub fn is_integrity_failure(&self) -> bool {
        // `Entry` errors come from building an entry (input too large once
        // normalised, a clock outside 0000-9999): bad input, not damage.
        matches!(
            self,
            StoreError::Corrupt { .. } | StoreError::LogDamaged { .. }
        )
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An open store, holding its lock until dropped.
pub struct Store {
    root: PathBuf,
    meta: StoreMeta,
    group_key: VerifyingKey,
    db: sled::Db,
    /// Entry id -> where it is (src/digest_table.rs).
    id_table: DigestTable,
    /// Record content hash -> (log number, seq) of each record holding it.
    content_table: DigestTable,
    /// Log numbers of the index (src/search.rs) and their logs.
    log_keys: HashMap<u32, [u8; 32]>,
    /// The digest tables were missing or damaged at open and are empty.
    tables_fresh: bool,
    /// Log key -> the [`LogState`] the digest tables were last synced at:
    /// what they hold for certain after a crash (src/digest_table.rs).
    table_marks: sled::Tree,
    /// Digest-table inserts since the tables were last synced.
    tables_unsynced: u64,
    /// Where a batch being appended is recorded (src/batch_intent.rs);
    /// opened at the first batch of more than one entry.
    batch_intent: Option<IntentFile>,
    /// A batch whose write failed, recorded as being written: it must be
    /// recorded as done with before anything else is appended at its place,
    /// or the next open would set the later entries aside with it.
    failed_batch: Option<BatchIntent>,
    /// Log key || seq / 256 (big-endian) -> the ids of those 256 entries,
    /// 32 bytes each, zeros for a withheld or damaged leaf (src/index.rs).
    seqs: sled::Tree,
    /// Log key -> [`LogState`].
    logs: sled::Tree,
    /// Log key || level || index / 64 -> the hashes of those 64 perfect
    /// Merkle subtrees (src/index.rs).
    nodes: sled::Tree,
    /// Log key -> why the log takes no more appends (found while indexing,
    /// so that every later process knows it too).
    damage: sled::Tree,
    /// Target entry id || entry id -> nothing: the entries about an entry
    /// (src/lifecycle.rs), in no particular order.
    about: sled::Tree,
    /// Name tokens and record content hashes (src/search.rs).
    search: crate::search::SearchIndex,
    writers: HashMap<[u8; 32], SegmentWriter>,
    /// Open segment files for reads, so listing does not reopen a file per entry.
    readers: Mutex<HashMap<[u8; 32], Arc<File>>>,
    frontiers: HashMap<[u8; 32], Frontier>,
    damaged: HashMap<[u8; 32], String>,
    warnings: Vec<StoreWarning>,
    /// Whether opening may move a torn tail out of a segment. An audit opens
    /// without it, so that checking a store (or a seized copy) never changes
    /// its segment files.
    repair: bool,
    /// Last: fields are dropped in order, and the digest tables write what
    /// they gathered when dropped, which must happen under the lock.
    _lock: File,
}

/// Entries a batch signed, with what indexing them needs.
#[derive(Default)]
struct Appended {
    signed: Vec<SignedEntry>,
    keys: Vec<Option<RecordKeys>>,
    leaves: Vec<Hash>,
    /// Where each frame starts in the segment.
    offsets: Vec<u64>,
    /// The segment's length after the batch.
    end: u64,
}

/// Index writes gathered for one commit (src/index.rs).
#[derive(Default)]
struct IndexBatch {
    entries: Vec<crate::digest_table::Item>,
    ids: ChunkWrites,
    nodes: ChunkWrites,
    about: sled::Batch,
    search: SearchBatch,
    log_numbers: HashMap<[u8; 32], u32>,
    /// Written last.
    states: Vec<([u8; 32], LogState)>,
}

/// What `init` needs.
pub struct InitOptions<'a> {
    pub organisation: &'a str,
    /// `None` writes an unencrypted secret key (callers warn).
    pub passphrase: Option<&'a [u8]>,
    pub now: OffsetDateTime,
}

impl Drop for Store {
    /// Sync the digest tables and record their marks, so that the next
    /// open has nothing to index again. A process that dies first leaves
    /// that to the next open (`roll_back_to_table_marks`).
    fn drop(&mut self) {
        if self.tables_unsynced > 0 && self.sync_tables().is_ok() {
            let _ = self.db.flush();
        }
    }
}

impl Store {
    /// Create a new store with a new group key. Refuses a directory that holds
    /// a store or anything else.
    pub fn init(root: &Path, options: InitOptions<'_>) -> Result<Store, StoreError> {
        if root.join(STORE_FILE).exists() {
            return Err(StoreError::AlreadyExists {
                path: root.to_path_buf(),
            });
        }
        fs::create_dir_all(root).map_err(io_at(root))?;
        if fs::read_dir(root).map_err(io_at(root))?.next().is_some() {
            return Err(StoreError::BadStoreFile {
                path: root.to_path_buf(),
                message: "the directory is not empty; a new store needs an empty or new directory (if an earlier `init` here was interrupted, delete the directory and run `init` again)"
                    .into(),
            });
        }
        let signing = keys::generate_signing_key().map_err(|source| StoreError::Key {
            path: root.join(SECRET_KEY_FILE),
            source,
        })?;
        let public = signing.verifying_key();
        // Whole seconds everywhere a time is written, as in entries.
        let now = options.now.replace_nanosecond(0).unwrap_or(options.now);
        let created = crate::entry::format_timestamp(now);
        let secret_text =
            keys::seal_secret_key(&signing, options.organisation, now, options.passphrase)
                .map_err(|source| StoreError::Key {
                    path: root.join(SECRET_KEY_FILE),
                    source,
                })?;
        let secret_path = root.join(SECRET_KEY_FILE);
        keys::write_private_file(&secret_path, secret_text.as_bytes())
            .map_err(io_at(&secret_path))?;
        let public_file = PublicKeyFile {
            key: public,
            organisation: Some(options.organisation.to_string()),
            created: Some(now),
        };
        let public_path = root.join(PUBLIC_KEY_FILE);
        write_new_synced(&public_path, public_file.to_text().as_bytes())?;
        for dir in [LOGS_DIR, SET_ASIDE_DIR] {
            fs::create_dir(root.join(dir)).map_err(io_at(root))?;
        }
        let meta = StoreMeta {
            format: FORMAT_VERSION,
            organisation: options.organisation.to_string(),
            created,
            group_key: hex::encode(public.as_bytes()),
            former_keys: Vec::new(),
        };
        let mut meta_text = serde_json::to_vec_pretty(&meta).unwrap_or_default();
        meta_text.push(b'\n');
        // store.json last: a directory without it is not a store, so a crash
        // during init leaves nothing that looks half-made.
        write_new_synced(&root.join(STORE_FILE), &meta_text)?;
        sync_dir(root).map_err(io_at(root))?;
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent).map_err(io_at(parent))?;
        }
        Store::open(root)
    }

    /// Open a store, taking its lock, and bring the index up to date with the
    /// segments. Problems that lose nothing acknowledged are repaired and
    /// reported in [`Store::warnings`].
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        Store::open_with(root, true, false)
    }

    /// Open with a new index, built from the segment files: what `reindex`
    /// does. The old index is deleted without being read, so nothing in it,
    /// however damaged, can stop the rebuild.
    pub fn open_rebuilt(root: &Path) -> Result<Store, StoreError> {
        Store::open_with(root, true, true)
    }

    /// Open for checking: the index is brought up to date, but nothing in the
    /// segment files is moved or cut; a torn tail stays where it is for
    /// `audit` to report.
    pub fn open_for_audit(root: &Path) -> Result<Store, StoreError> {
        Store::open_with(root, false, false)
    }

    fn open_with(root: &Path, repair: bool, fresh_index: bool) -> Result<Store, StoreError> {
        let meta_path = root.join(STORE_FILE);
        let meta_text = match fs::read(&meta_path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotAStore {
                    path: root.to_path_buf(),
                })
            }
            Err(e) => return Err(io_at(&meta_path)(e)),
        };
        let meta: StoreMeta =
            serde_json::from_slice(&meta_text).map_err(|e| StoreError::BadStoreFile {
                path: meta_path.clone(),
                message: e.to_string(),
            })?;
        if meta.format != FORMAT_VERSION {
            return Err(StoreError::BadStoreFile {
                path: meta_path,
                message: format!(
                    "store format {} is not supported (this program reads format {FORMAT_VERSION})",
                    meta.format
                ),
            });
        }
        let group_key = keys::parse_public_key_hex(&meta.group_key).ok_or_else(|| {
            StoreError::BadStoreFile {
                path: meta_path.clone(),
                message: "group_key is not a valid public key".into(),
            }
        })?;
        for (i, former) in meta.former_keys.iter().enumerate() {
            let valid = keys::parse_public_key_hex(former)
                .is_some_and(|k| k != group_key && !meta.former_keys[..i].contains(former));
            if !valid {
                return Err(StoreError::BadStoreFile {
                    path: meta_path.clone(),
                    message: format!(
                        "former_keys[{i}] is not a valid public key, or names a key twice"
                    ),
                });
            }
        }
        let lock = acquire_lock(root)?;
        let index_path = root.join(INDEX_DIR);
        if fresh_index {
            remove_dir_if_present(&index_path)?;
        }
        // Staging left by an import that was killed: never acknowledged, and
        // with the lock held no import is running. It only takes space.
        let staging = root.join(TMP_DIR);
        if repair && staging.exists() {
            remove_dir_if_present(&staging)?;
        }
        let assemble = |db: sled::Db, warnings: Vec<StoreWarning>| -> Result<Store, StoreError> {
            let lock = lock.try_clone().map_err(io_at(&root.join(LOCK_FILE)))?;
            let mut store = Store::with_db(root, meta.clone(), group_key, lock, db)?;
            store.warnings = warnings;
            store.repair = repair;
            store.load_index()?;
            Ok(store)
        };
        let first = match open_index(&index_path) {
            Ok(db) => assemble(db, Vec::new()),
            Err(e) => Err(StoreError::Index(e)),
        };
        match first {
            Ok(store) => Ok(store),
            // Anything wrong inside the index: it is derived, so it is
            // thrown away and rebuilt from the segments.
            Err(e @ (StoreError::Index(_) | StoreError::IndexDamaged(_))) => {
                remove_dir_if_present(&index_path)?;
                let warnings = vec![StoreWarning::IndexRebuilt {
                    reason: format!("the index was damaged: {e}"),
                }];
                assemble(open_index(&index_path)?, warnings)
            }
            Err(e) => Err(e),
        }
    }

    /// Read what the index knows, bring it up to date with the segments, or
    /// build it when it is incomplete.
    fn load_index(&mut self) -> Result<(), StoreError> {
        if self.repair {
            self.set_aside_interrupted_batch()?;
        }
        for item in self.damage.iter() {
            let (k, v) = item?;
            if let Ok(log) = <[u8; 32]>::try_from(&k[..]) {
                let reason = String::from_utf8_lossy(&v).into_owned();
                self.warnings.push(StoreWarning::LogDamaged {
                    log,
                    reason: reason.clone(),
                });
                self.damaged.insert(log, reason);
            }
        }
        let complete = !self.tables_fresh
            && self.db.get(INDEX_COMPLETE)?.is_some()
            && self.db.get(INDEX_FORMAT)?.as_deref() == Some(&FORMAT_VERSION.to_be_bytes()[..])
            && self.db.get(index::LAYOUT_MARK)?.as_deref() == Some(index::LAYOUT);
        if complete {
            self.log_keys = self.search.log_numbers()?.into_iter().collect();
            self.roll_back_to_table_marks()?;
            self.catch_up()
        } else {
            if self.warnings.is_empty() && self.db.len() + self.logs.len() > 0 {
                self.warnings.push(StoreWarning::IndexRebuilt {
                    reason: "the index was incomplete".into(),
                });
            }
            self.rebuild_index()
        }
    }

    fn with_db(
        root: &Path,
        meta: StoreMeta,
        group_key: VerifyingKey,
        lock: File,
        db: sled::Db,
    ) -> Result<Store, StoreError> {
        let index_dir = root.join(INDEX_DIR);
        let mut tables_fresh = false;
        let mut table = |name: &str| -> Result<DigestTable, StoreError> {
            let path = index_dir.join(name);
            DigestTable::open(&path).or_else(|_| {
                tables_fresh = true;
                DigestTable::create(&path).map_err(table_error)
            })
        };
        let id_table = table(ID_TABLE)?;
        let content_table = table(CONTENT_TABLE)?;
        Ok(Store {
            root: root.to_path_buf(),
            meta,
            group_key,
            id_table,
            content_table,
            log_keys: HashMap::new(),
            tables_fresh,
            table_marks: db.open_tree("table-marks")?,
            tables_unsynced: 0,
            batch_intent: None,
            failed_batch: None,
            seqs: db.open_tree("seqs")?,
            logs: db.open_tree("logs")?,
            nodes: db.open_tree("merkle-nodes")?,
            damage: db.open_tree("damage")?,
            about: db.open_tree("about")?,
            search: crate::search::SearchIndex::open(&db)?,
            db,
            writers: HashMap::new(),
            readers: Mutex::new(HashMap::new()),
            frontiers: HashMap::new(),
            damaged: HashMap::new(),
            warnings: Vec::new(),
            repair: true,
            _lock: lock,
        })
    }

    /// Throw the index away and rebuild it from the segment files;
    /// [`Store::warnings`] then holds what the rebuild found.
    pub fn reindex(&mut self) -> Result<(), StoreError> {
        self.warnings.clear();
        self.rebuild_index()
    }

    fn rebuild_index(&mut self) -> Result<(), StoreError> {
        self.db.remove(INDEX_COMPLETE)?;
        self.db.flush()?;
        self.id_table.recreate().map_err(table_error)?;
        self.content_table.recreate().map_err(table_error)?;
        self.tables_fresh = false;
        self.log_keys.clear();
        for tree in [
            &self.table_marks,
            &self.seqs,
            &self.logs,
            &self.nodes,
            &self.damage,
            &self.about,
        ] {
            tree.clear()?;
        }
        self.search.clear()?;
        self.writers.clear();
        self.frontiers.clear();
        self.damaged.clear();
        self.catch_up()?;
        self.sync_tables()?;
        self.db
            .insert(INDEX_FORMAT, &FORMAT_VERSION.to_be_bytes())?;
        self.db.insert(index::LAYOUT_MARK, index::LAYOUT)?;
        self.db.insert(INDEX_COMPLETE, b"1")?;
        self.db.flush()?;
        Ok(())
    }

    /// Index every frame past what the index has recorded for each segment,
    /// setting aside a torn tail and noting damage.
    fn catch_up(&mut self) -> Result<(), StoreError> {
        let mut seen = Vec::new();
        for (log, path) in self.segment_files()? {
            seen.push(log);
            self.catch_up_log(log, &path, Signatures::Check)?;
        }
        for item in self.logs.iter() {
            let (key, _) = item?;
            let Ok(log) = <[u8; 32]>::try_from(&key[..]) else {
                continue;
            };
            if !seen.contains(&log) {
                self.mark_damaged(
                    log,
                    "the index lists this log but its segment file is missing",
                );
            }
        }
        self.db.flush()?;
        Ok(())
    }

    fn catch_up_log(
        &mut self,
        log: [u8; 32],
        path: &Path,
        signatures: Signatures,
    ) -> Result<(), StoreError> {
        let state = self.log_state(&log)?;
        let file_len = fs::metadata(path).map_err(io_at(path))?.len();
        if file_len < state.end {
            self.mark_damaged(
                log,
                &format!(
                    "the segment is {file_len} bytes but the index recorded {} bytes of acknowledged entries",
                    state.end
                ),
            );
            return Ok(());
        }
        // The header is checked on every open, even when nothing is new.
        let mut reader = match SegmentReader::open_from(path, Some(state.end)) {
            Ok(r) => r,
            Err(SegmentError::BadHeader) => {
                self.mark_damaged(log, "the segment file header is damaged");
                return Ok(());
            }
            Err(SegmentError::Io(e)) => return Err(io_at(path)(e)),
        };
        if reader.log_key() != &log {
            self.mark_damaged(log, "the segment file header names another log");
            return Ok(());
        }
        if file_len == state.end {
            return Ok(());
        }
        let index_knew = self.db.get(INDEX_COMPLETE)?.is_some();
        let mut frontier = self.frontier(&log, state.size)?;
        let mut state = state;
        let mut added = 0u64;
        let mut more = true;
        while more {
            // A window of frames, verified on every core, then indexed in
            // order and committed together.
            let mut window = Vec::new();
            let mut window_bytes = 0usize;
            more = false;
            for (seq, item) in (state.size..).zip(&mut reader) {
                let item = item.map_err(io_at(path))?;
                let last = match &item {
                    ScanItem::Frame { entry, .. } => {
                        window_bytes += entry.len();
                        false
                    }
                    ScanItem::Withheld { .. } => false,
                    // Where the next frame starts is unknown past damage in
                    // framing, and a torn tail runs to the end of the file.
                    ScanItem::Corrupt { .. } | ScanItem::Torn { .. } => true,
                };
                window.push((seq, item));
                if last {
                    break;
                }
                if window.len() >= CATCH_UP_WINDOW || window_bytes >= CATCH_UP_WINDOW_BYTES {
                    more = true;
                    break;
                }
            }
            let checked = index::par_map(window, |(seq, item)| {
                let checked = match &item {
                    ScanItem::Frame {
                        entry, signature, ..
                    } => Some(
                        check_frame_with(&log, seq, entry, signature, signatures).map(|signed| {
                            let keys = crate::search::record_keys(&signed);
                            let leaf = merkle::leaf_hash(&signed.bytes);
                            (signed, keys, leaf)
                        }),
                    ),
                    _ => None,
                };
                (item, checked)
            });
            let mut batch = IndexBatch::default();
            for (item, checked) in checked {
                match item {
                    ScanItem::Frame { offset, entry, .. } => {
                        let frame_len = (FRAME_HEADER_LEN + entry.len() + SIGNATURE_LEN) as u64;
                        match checked {
                            Some(Ok((signed, keys, leaf))) => {
                                self.index_entry(
                                    &mut batch,
                                    &signed,
                                    keys.as_ref(),
                                    offset,
                                    leaf,
                                    &mut frontier,
                                )?;
                                added += 1;
                            }
                            Some(Err(reason)) => {
                                // Keep going: one damaged entry must not hide
                                // the intact ones after it. Its leaf stays in
                                // the tree, as audit builds it, and the log
                                // takes no appends.
                                self.mark_damaged(
                                    log,
                                    &format!("entry {} at offset {offset}: {reason}", state.size),
                                );
                                self.push_leaf(
                                    &mut batch,
                                    &log,
                                    merkle::leaf_hash(&entry),
                                    &mut frontier,
                                );
                            }
                            None => {}
                        }
                        state = LogState {
                            size: state.size + 1,
                            end: offset + frame_len,
                            root: frontier.root(),
                        };
                    }
                    ScanItem::Withheld { offset, seq, leaf } => {
                        // The group's logs, current and former, hold every
                        // entry: only a replica has withheld leaves.
                        let own = log == self.group_key.to_bytes()
                            || self.meta.former_keys.contains(&hex::encode(log));
                        if own {
                            self.mark_damaged(
                                log,
                                &format!(
                                    "a withheld leaf at offset {offset} in the group's own log"
                                ),
                            );
                        } else if seq != state.size {
                            self.mark_damaged(
                                log,
                                &format!(
                                    "withheld leaf at offset {offset}: sequence number {seq} where {} was expected",
                                    state.size
                                ),
                            );
                        }
                        self.push_leaf(&mut batch, &log, Hash(leaf), &mut frontier);
                        state = LogState {
                            size: state.size + 1,
                            end: offset + (FRAME_HEADER_LEN + WITHHELD_PAYLOAD_LEN) as u64,
                            root: frontier.root(),
                        };
                        added += 1;
                    }
                    ScanItem::Torn { .. } if !self.repair => {}
                    ScanItem::Torn { offset, len } => {
                        let saved_to = self.set_aside(&log, path, offset)?;
                        self.warnings.push(StoreWarning::TornTailSetAside {
                            log,
                            offset,
                            len,
                            saved_to,
                            index_knew,
                        });
                    }
                    ScanItem::Corrupt { offset, len } => {
                        // Everything after it is left to `audit`.
                        self.mark_damaged(
                            log,
                            &format!("{len} bytes at offset {offset} are not a valid frame"),
                        );
                    }
                }
            }
            batch.states.push((log, state));
            self.commit(batch)?;
        }
        self.frontiers.insert(log, frontier);
        // An index that had recorded this log already and was only behind is
        // worth a word; a fresh build is not.
        if added > 0 && index_knew {
            self.warnings.push(StoreWarning::IndexCaughtUp {
                log,
                entries: added,
            });
        }
        Ok(())
    }

    fn mark_damaged(&mut self, log: [u8; 32], reason: &str) {
        // Keep the first reason: later ones usually follow from it.
        if !self.damaged.contains_key(&log) {
            let _ = self.damage.insert(log, reason.as_bytes());
        }
        self.damaged
            .entry(log)
            .or_insert_with(|| reason.to_string());
        self.warnings.push(StoreWarning::LogDamaged {
            log,
            reason: reason.to_string(),
        });
    }

    /// A batch cut by a crash before its segment was synced is set aside
    /// whole, from where it starts: none of it was acknowledged, and the
    /// command that wrote it (one `import-csv`) must leave all or nothing.
    fn set_aside_interrupted_batch(&mut self) -> Result<(), StoreError> {
        let record = self.root.join(batch_intent::FILE_NAME);
        let Some(intent) = BatchIntent::read(&self.root).map_err(io_at(&record))? else {
            return Ok(());
        };
        if intent.done {
            return Ok(());
        }
        let segment = self.segment_path(&intent.log);
        let file = match File::open(&segment) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_at(&segment)(e)),
        };
        let file_len = file.metadata().map_err(io_at(&segment))?.len();
        let whole = intent.is_whole_in(&file).map_err(io_at(&segment))?;
        drop(file);
        if file_len > intent.start && !whole {
            let saved_to = self.set_aside(&intent.log, &segment, intent.start)?;
            self.warnings.push(StoreWarning::InterruptedBatchSetAside {
                log: intent.log,
                offset: intent.start,
                len: file_len - intent.start,
                saved_to,
            });
            // An index that recorded part of the batch (an audit opened the
            // store in between: it repairs nothing) is built again.
            if self.log_state(&intent.log)?.end > intent.start {
                self.db.remove(INDEX_COMPLETE)?;
                self.db.flush()?;
            }
        }
        // Done with, durably: the segment may grow past `start` again.
        IntentFile::open(&self.root)
            .and_then(|f| {
                f.record(&BatchIntent {
                    done: true,
                    ..intent
                })
            })
            .map_err(io_at(&record))
    }

    /// Copy the bytes from `offset` to the end into `set-aside/`, sync the
    /// copy, then cut the segment back to `offset`.
    fn set_aside(&self, log: &[u8; 32], path: &Path, offset: u64) -> Result<PathBuf, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_at(path))?;
        let len = file.metadata().map_err(io_at(path))?.len();
        let mut tail = vec![0u8; (len - offset) as usize];
        file.read_exact_at(&mut tail, offset).map_err(io_at(path))?;
        let dir = self.root.join(SET_ASIDE_DIR);
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        let stamp = OffsetDateTime::now_utc().unix_timestamp();
        let mut n = 0;
        let saved_to = loop {
            let name = format!("{}.{offset}.{stamp}.{n}.torn", hex::encode(log));
            let candidate = dir.join(name);
            if !candidate.exists() {
                break candidate;
            }
            n += 1;
        };
        write_new_synced(&saved_to, &tail)?;
        sync_dir(&dir).map_err(io_at(&dir))?;
        file.set_len(offset).map_err(io_at(path))?;
        file.sync_all().map_err(io_at(path))?;
        Ok(saved_to)
    }

    fn index_entry(
        &self,
        batch: &mut IndexBatch,
        signed: &SignedEntry,
        keys: Option<&RecordKeys>,
        offset: u64,
        leaf: Hash,
        frontier: &mut Frontier,
    ) -> Result<(), StoreError> {
        let log = *signed.entry.log.as_bytes();
        let seq = signed.entry.seq;
        let location = Location {
            log,
            seq,
            offset,
            kind: signed.entry.kind,
        };
        let number = match batch.log_numbers.get(&log) {
            Some(n) => *n,
            None => {
                let n = self.search.log_number(&log)?;
                batch.log_numbers.insert(log, n);
                n
            }
        };
        batch
            .entries
            .push((signed.id.0, location.to_payload(number)));
        batch.ids.put(index::id_chunk(&log, seq), signed.id.0);
        if let Some(keys) = keys {
            batch.search.add((number, seq), keys);
        }
        if let Some(body) = signed.entry.lifecycle_body() {
            for target in body.targets() {
                let mut key = [0u8; 64];
                key[..32].copy_from_slice(&target.0);
                key[32..].copy_from_slice(&signed.id.0);
                batch.about.insert(&key[..], &[][..]);
            }
        }
        self.push_leaf(batch, &log, leaf, frontier);
        Ok(())
    }

    /// Add a leaf to a log's tree and keep the perfect nodes it completes.
    fn push_leaf(
        &self,
        batch: &mut IndexBatch,
        log: &[u8; 32],
        leaf: Hash,
        frontier: &mut Frontier,
    ) {
        for (node, hash) in frontier.push(leaf) {
            batch
                .nodes
                .put(index::node_chunk(log, node.level, node.index), hash.0);
        }
    }

    /// Write what a batch gathered. The log states go last: an index that
    /// stops part-way through a commit records the older state, and the
    /// next catch-up writes the same items again.
    fn commit(&mut self, mut batch: IndexBatch) -> Result<(), StoreError> {
        for (log, number) in &batch.log_numbers {
            self.log_keys.insert(*number, *log);
        }
        // The digest tables take the items before the log state is written;
        // they are synced every `TABLE_SYNC_ITEMS` inserts, and after a
        // crash the log state goes back to their mark and the entries past
        // it are indexed again (an entry written twice is kept once). The
        // two tables and the sled trees are independent of one another, so
        // they are written at the same time, on their own threads; only the
        // log state waits for all three.
        let content = std::mem::take(&mut batch.search.content);
        let (id_table, content_table) = (&mut self.id_table, &mut self.content_table);
        let entries = &batch.entries;
        let (ids, contents, trees) = std::thread::scope(|scope| {
            let ids = scope.spawn(move || id_table.insert_all(entries));
            let contents = scope.spawn(move || content_table.insert_all(&content));
            let trees = (|| -> Result<(), StoreError> {
                batch.ids.commit(&self.seqs)?;
                batch.nodes.commit(&self.nodes)?;
                self.about.apply_batch(batch.about)?;
                self.search.commit(batch.search)?;
                Ok(())
            })();
            let join = |h: std::thread::ScopedJoinHandle<'_, Result<(), TableError>>| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            };
            (join(ids), join(contents), trees)
        });
        ids.map_err(table_error)?;
        contents.map_err(table_error)?;
        trees?;
        for (log, state) in batch.states {
            self.logs.insert(log, &state.to_bytes()[..])?;
        }
        self.tables_unsynced += batch.entries.len() as u64;
        if self.tables_unsynced >= TABLE_SYNC_ITEMS {
            self.sync_tables()?;
        }
        Ok(())
    }

    /// Sync both digest tables, then record that they hold every entry the
    /// log states count. The marks are written after the sync and never
    /// claim more than it made durable; the caller flushes sled.
    fn sync_tables(&mut self) -> Result<(), StoreError> {
        let (id_table, content_table) = (&mut self.id_table, &mut self.content_table);
        let (ids, contents) = std::thread::scope(|scope| {
            let ids = scope.spawn(|| id_table.sync());
            let contents = content_table.sync();
            (
                ids.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                contents,
            )
        });
        ids.map_err(table_error)?;
        contents.map_err(table_error)?;
        for item in self.logs.iter() {
            let (log, state) = item?;
            self.table_marks.insert(log, state)?;
        }
        self.tables_unsynced = 0;
        Ok(())
    }

    /// After a crash the digest tables may lack inserts the sled state
    /// counts (they are synced only every [`TABLE_SYNC_ITEMS`]). Each log
    /// whose state is past its mark goes back to the mark, and the
    /// catch-up that follows indexes those entries again: every write is
    /// by position or a set union, so what sled already held is written
    /// unchanged. The tables are first recovered: their item counts are
    /// counted afresh, and an item a lost page left out of reach of its
    /// home slot is placed again, so that it is not inserted twice.
    fn roll_back_to_table_marks(&mut self) -> Result<(), StoreError> {
        let mut rolled_back = false;
        for (log, state) in self.logs()? {
            let mark = match self.table_marks.get(log)? {
                None => LogState::empty(),
                Some(v) => LogState::from_bytes(&v).ok_or_else(|| {
                    StoreError::IndexDamaged("a table mark has the wrong length".into())
                })?,
            };
            if mark == state {
                continue;
            }
            if mark.size >= state.size || mark.end > state.end {
                return Err(StoreError::IndexDamaged(format!(
                    "the digest tables' mark for log {} is not behind its state",
                    short_log(&log)
                )));
            }
            self.logs.insert(log, &mark.to_bytes()[..])?;
            rolled_back = true;
        }
        if rolled_back {
            self.id_table.recover().map_err(table_error)?;
            self.content_table.recover().map_err(table_error)?;
            // Sled's state now matches the marks; the catch-up moves both on.
            self.db.flush()?;
        }
        Ok(())
    }

    fn frontier(&self, log: &[u8; 32], size: u64) -> Result<Frontier, StoreError> {
        if let Some(f) = self.frontiers.get(log) {
            if f.size() == size {
                return Ok(f.clone());
            }
        }
        Frontier::from_nodes(size, |node| self.required_node(log, node))
    }

    /// A perfect Merkle node the index must hold.
    fn required_node(&self, log: &[u8; 32], node: NodeId) -> Result<Hash, StoreError> {
        self.stored_node(log, node)?
            .ok_or_else(|| StoreError::IndexDamaged(format!("merkle node {node:?} is missing")))
    }

    /// An RFC 6962 inclusion proof for an entry in its log's tree of `size`
    /// entries (the current size when `None`), with the root it proves against.
    pub fn inclusion_proof(
        &self,
        id: &EntryId,
        size: Option<u64>,
    ) -> Result<(Location, u64, Hash, Vec<Hash>), StoreError> {
        let location = self
            .location(id)?
            .ok_or_else(|| StoreError::NotFound(id.to_hex()))?;
        let state = self.log_state(&location.log)?;
        let size = size.unwrap_or(state.size);
        let log = location.log;
        // The root first: it refuses a size the log has not reached.
        let root = self.root_at(&log, size)?;
        let proof =
            merkle::inclusion_proof(location.seq, size, |node| self.required_node(&log, node))
                .map_err(|e| proof_failure(&log, e))?;
        Ok((location, size, root, proof))
    }

    /// An RFC 6962 consistency proof between two sizes of a log.
    pub fn consistency_proof(
        &self,
        log: &[u8; 32],
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let state = self.log_state(log)?;
        if new_size > state.size {
            return Err(proof_failure(
                log,
                merkle::ProofGenError::<StoreError>::OutOfRange {
                    index: new_size,
                    size: state.size,
                },
            ));
        }
        merkle::consistency_proof(old_size, new_size, |node| self.required_node(log, node))
            .map_err(|e| proof_failure(log, e))
    }

    /// The root of a log's tree at any size up to its current one.
    pub fn root_at(&self, log: &[u8; 32], size: u64) -> Result<Hash, StoreError> {
        let state = self.log_state(log)?;
        if size > state.size {
            return Err(proof_failure(
                log,
                merkle::ProofGenError::<StoreError>::OutOfRange {
                    index: size,
                    size: state.size,
                },
            ));
        }
        Ok(Frontier::from_nodes(size, |node| self.required_node(log, node))?.root())
    }

    /// Segment files in `logs/`, with the log key their name gives.
    pub fn segment_files(&self) -> Result<Vec<([u8; 32], PathBuf)>, StoreError> {
        let dir = self.root.join(LOGS_DIR);
        let mut out = Vec::new();
        for item in fs::read_dir(&dir).map_err(io_at(&dir))? {
            let path = item.map_err(io_at(&dir))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".seg") else {
                continue;
            };
            // Only the lowercase name this program writes: one file per log.
            if let Some(key) = keys::parse_public_key_hex(stem) {
                out.push((key.to_bytes(), path));
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn segment_path(&self, log: &[u8; 32]) -> PathBuf {
        self.root
            .join(LOGS_DIR)
            .join(format!("{}.seg", hex::encode(log)))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The name search and record-content index, derived like the rest.
    pub fn search_index(&self) -> &crate::search::SearchIndex {
        &self.search
    }

    pub fn meta(&self) -> &StoreMeta {
        &self.meta
    }

    pub fn group_key(&self) -> &VerifyingKey {
        &self.group_key
    }

    /// What opening the store found and repaired.
    pub fn warnings(&self) -> &[StoreWarning] {
        &self.warnings
    }

    /// Refuse to write to a log with damage the store would not repair.
    fn ensure_undamaged(&self, log: &[u8; 32]) -> Result<(), StoreError> {
        match self.damaged.get(log) {
            Some(reason) => Err(StoreError::LogDamaged {
                log: short_log(log),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Logs with damage the store refused to repair, with the reason.
    pub fn damaged_logs(&self) -> &HashMap<[u8; 32], String> {
        &self.damaged
    }

    pub fn log_state(&self, log: &[u8; 32]) -> Result<LogState, StoreError> {
        match self.logs.get(log)? {
            None => Ok(LogState::empty()),
            Some(v) => LogState::from_bytes(&v).ok_or_else(|| {
                StoreError::IndexDamaged("a log state record has the wrong length".into())
            }),
        }
    }

    /// Every log the index knows, with its state.
    pub fn logs(&self) -> Result<Vec<([u8; 32], LogState)>, StoreError> {
        let mut out = Vec::new();
        for item in self.logs.iter() {
            let (k, v) = item?;
            if let (Ok(log), Some(state)) = (<[u8; 32]>::try_from(&k[..]), LogState::from_bytes(&v))
            {
                out.push((log, state));
            }
        }
        Ok(out)
    }

    /// The group's earlier keys, oldest first (FORMAT.md §6.1).
    pub fn former_keys(&self) -> Vec<VerifyingKey> {
        // Checked when the store was opened.
        self.meta
            .former_keys
            .iter()
            .filter_map(|k| keys::parse_public_key_hex(k))
            .collect()
    }

    /// Every key this group has signed its own log with: the current group
    /// key first, then the former ones. Their logs are this store's, never
    /// replicas.
    pub fn own_keys(&self) -> Vec<VerifyingKey> {
        let mut out = vec![self.group_key];
        out.extend(self.former_keys());
        out
    }

    /// The key `init` made: the group's root, named by `group.pub`.
    pub fn root_key(&self) -> VerifyingKey {
        self.former_keys()
            .first()
            .copied()
            .unwrap_or(self.group_key)
    }

    /// Where the secret key file of one of the group's keys is: `group.key`
    /// for the key of `init`, `group-keys/<hex>.key` for a key rotated to.
    pub fn group_key_file(&self, key: &VerifyingKey) -> PathBuf {
        if *key == self.root_key() {
            self.root.join(SECRET_KEY_FILE)
        } else {
            self.root
                .join(GROUP_KEYS_DIR)
                .join(format!("{}.key", hex::encode(key.as_bytes())))
        }
    }

    /// Make `new_key` the group key: the current key joins `former_keys`,
    /// and `store.json` is replaced atomically (a temporary file, synced,
    /// renamed over it, the directory synced). The caller has signed the
    /// `key-rotate` entry into the current log and written the new key's
    /// secret key file first (src/group_keys.rs).
    pub fn switch_group_key(&mut self, new_key: VerifyingKey) -> Result<(), StoreError> {
        if self.own_keys().contains(&new_key) {
            return Err(StoreError::BadStoreFile {
                path: self.root.join(STORE_FILE),
                message: format!(
                    "key {} has been this group's key already",
                    keys::key_id(&new_key)
                ),
            });
        }
        let mut meta = self.meta.clone();
        meta.former_keys.push(meta.group_key.clone());
        meta.group_key = hex::encode(new_key.as_bytes());
        let mut text = serde_json::to_vec_pretty(&meta).unwrap_or_default();
        text.push(b'\n');
        let path = self.root.join(STORE_FILE);
        let tmp = self.root.join(format!("{STORE_FILE}.tmp"));
        remove_file_if_present(&tmp)?;
        write_new_synced(&tmp, &text)?;
        fs::rename(&tmp, &path).map_err(io_at(&path))?;
        sync_dir(&self.root).map_err(io_at(&self.root))?;
        self.meta = meta;
        self.group_key = new_key;
        Ok(())
    }

    /// Read the group's secret key, decrypting it with `passphrase`.
    pub fn signing_key(&self, passphrase: Option<&[u8]>) -> Result<SigningKey, StoreError> {
        let path = self.group_key_file(&self.group_key);
        let text = fs::read_to_string(&path).map_err(io_at(&path))?;
        let key = keys::open_secret_key(&text, passphrase).map_err(|source| StoreError::Key {
            path: path.clone(),
            source,
        })?;
        if key.verifying_key() != self.group_key {
            return Err(StoreError::Key {
                path,
                source: KeyError::PublicKeyMismatch,
            });
        }
        Ok(key)
    }

    /// Whether the group's secret key file needs a passphrase.
    pub fn secret_key_is_encrypted(&self) -> Result<bool, StoreError> {
        let path = self.group_key_file(&self.group_key);
        let text = fs::read_to_string(&path).map_err(io_at(&path))?;
        keys::secret_key_is_encrypted(&text).map_err(|source| StoreError::Key { path, source })
    }

    /// Sign `records` as consecutive entries of `key`'s log and append them;
    /// returns only after the segment is synced (one sync for the batch).
    pub fn append_records(
        &mut self,
        key: &SigningKey,
        records: Vec<Record>,
        now: OffsetDateTime,
    ) -> Result<Vec<SignedEntry>, StoreError> {
        self.append_bodies(key, records.into_iter().map(Body::Record).collect(), now)
    }

    /// Sign `bodies` (records or entries about records) as consecutive
    /// entries of `key`'s log and append them, as [`Store::append_records`].
    pub fn append_bodies(
        &mut self,
        key: &SigningKey,
        bodies: Vec<Body>,
        now: OffsetDateTime,
    ) -> Result<Vec<SignedEntry>, StoreError> {
        let log = key.verifying_key().to_bytes();
        self.ensure_undamaged(&log)?;
        self.settle_failed_batch()?;
        let state = self.log_state(&log)?;
        // Signing, the index keys, the frame and the Merkle leaf of each
        // entry are independent of one another: they run on every core.
        let numbered: Vec<(u64, Body)> = (state.size..).zip(bodies).collect();
        let prepared = index::par_map(numbered, |(seq, body)| {
            let signed = Entry::new(key.verifying_key(), seq, now, body).into_signed(key)?;
            let keys = crate::search::record_keys(&signed);
            let frame = encode_frame(&signed.bytes, &signed.signature.to_bytes());
            let leaf = merkle::leaf_hash(&signed.bytes);
            Ok::<_, EntryError>((signed, keys, frame, leaf))
        });
        let mut appended = Appended::default();
        let mut frames = Vec::with_capacity(prepared.len());
        for p in prepared {
            let (s, k, frame, leaf) = p?;
            appended.signed.push(s);
            appended.keys.push(k);
            appended.leaves.push(leaf);
            frames.push(frame);
        }
        let mut writer = self.take_writer(&log, state.end)?;
        let mut at = writer.len();
        for frame in &frames {
            appended.offsets.push(at);
            at += frame.len() as u64;
        }
        appended.end = at;
        // More than one frame: recorded first, so that a crash part-way
        // through leaves none of them (src/batch_intent.rs).
        let intent = if frames.len() > 1 {
            let intent = BatchIntent::of(log, writer.len(), &frames);
            if let Err(e) = self.record_batch_intent(&intent) {
                self.writers.insert(log, writer);
                // The record may have reached the disk all the same.
                self.failed_batch = Some(intent);
                return Err(e);
            }
            Some(intent)
        } else {
            None
        };
        // The index writes are gathered while the segment is written and
        // synced: gathering reads the index and writes nothing to it but a
        // new log's number (durable, and harmless if the write then fails);
        // the rest is written only once the segment is synced.
        let (written, gathered) = std::thread::scope(|scope| {
            let written = scope.spawn(|| writer.append(&frames));
            let gathered = self.gather_appended(&log, &state, &appended);
            let written = written
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (written, gathered)
        });
        self.writers.insert(log, writer);
        let offsets = match written {
            Ok(offsets) => offsets,
            Err(e) => {
                // The writer cut the segment back to the batch's start.
                self.failed_batch = intent;
                let _ = self.settle_failed_batch();
                return Err(io_at(&self.segment_path(&log))(e));
            }
        };
        if let (Some(intent), Some(file)) = (&intent, &self.batch_intent) {
            // Left undone, the next open finds the batch whole and keeps it.
            let _ = file.mark_done(intent);
        }
        if offsets != appended.offsets {
            return Err(StoreError::Corrupt {
                log: short_log(&log),
                offset: state.end,
                message: "the segment writer placed the frames elsewhere than expected".into(),
            });
        }
        // Durable from here on: the entries are acknowledged whatever happens
        // to the index. If updating it fails, the next open rebuilds it.
        let indexed = gathered.and_then(|(batch, frontier)| {
            self.commit(batch)?;
            self.frontiers.insert(log, frontier);
            self.db.flush()?;
            Ok(())
        });
        if let Err(e) = indexed {
            let _ = self.db.remove(INDEX_COMPLETE);
            let _ = self.db.flush();
            self.warnings.push(StoreWarning::IndexRebuilt {
                reason: format!(
                    "updating the index failed after the entries were synced ({e}); it will be rebuilt on the next open"
                ),
            });
        }
        Ok(appended.signed)
    }

    /// The index writes for entries appended after `state`, and the tree's
    /// frontier after them.
    fn gather_appended(
        &self,
        log: &[u8; 32],
        state: &LogState,
        appended: &Appended,
    ) -> Result<(IndexBatch, Frontier), StoreError> {
        let mut frontier = self.frontier(log, state.size)?;
        let mut batch = IndexBatch::default();
        for (((s, k), offset), leaf) in appended
            .signed
            .iter()
            .zip(&appended.keys)
            .zip(&appended.offsets)
            .zip(&appended.leaves)
        {
            self.index_entry(&mut batch, s, k.as_ref(), *offset, *leaf, &mut frontier)?;
        }
        let new_state = LogState {
            size: frontier.size(),
            end: appended.end,
            root: frontier.root(),
        };
        batch.states.push((*log, new_state));
        Ok((batch, frontier))
    }

    /// Record a batch whose write failed as done with (synced), now that
    /// its segment was cut back to where it starts: the next append writes
    /// there, and an open must not take that append for the batch's remains.
    fn settle_failed_batch(&mut self) -> Result<(), StoreError> {
        let Some(failed) = self.failed_batch.clone() else {
            return Ok(());
        };
        // The writer cuts the segment back when a write fails; if that
        // failed too, it is done here, or nothing more is appended.
        let path = self.segment_path(&failed.log);
        match OpenOptions::new().write(true).open(&path) {
            Ok(file) => {
                if file.metadata().map_err(io_at(&path))?.len() > failed.start {
                    file.set_len(failed.start).map_err(io_at(&path))?;
                    file.sync_data().map_err(io_at(&path))?;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&path)(e)),
        }
        self.record_batch_intent(&BatchIntent {
            done: true,
            ..failed
        })?;
        self.failed_batch = None;
        Ok(())
    }

    fn record_batch_intent(&mut self, intent: &BatchIntent) -> Result<(), StoreError> {
        let path = self.root.join(batch_intent::FILE_NAME);
        if self.batch_intent.is_none() {
            self.batch_intent = Some(IntentFile::open(&self.root).map_err(io_at(&path))?);
        }
        match &self.batch_intent {
            Some(file) => file.record(intent).map_err(io_at(&path)),
            None => Ok(()),
        }
    }

    /// The log's segment writer, out of the map while a batch is written.
    fn take_writer(&mut self, log: &[u8; 32], end: u64) -> Result<SegmentWriter, StoreError> {
        self.writer(log, end)?;
        self.writers
            .remove(log)
            .ok_or_else(|| StoreError::IndexDamaged("the segment writer was not kept".into()))
    }

    fn writer(&mut self, log: &[u8; 32], end: u64) -> Result<&mut SegmentWriter, StoreError> {
        let path = self.segment_path(log);
        match self.writers.entry(*log) {
            std::collections::hash_map::Entry::Occupied(open) => Ok(open.into_mut()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let writer = if path.exists() {
                    SegmentWriter::open(&path, end)
                } else {
                    SegmentWriter::create(&path, log)
                }
                .map_err(io_at(&path))?;
                Ok(slot.insert(writer))
            }
        }
    }

    /// Resolve a full id or a unique prefix of at least 8 hex characters.
    pub fn resolve(&self, text: &str) -> Result<EntryId, StoreError> {
        let prefix = text.trim().to_ascii_lowercase();
        if prefix.len() < 8 {
            return Err(StoreError::BadId(
                text.into(),
                "give at least 8 hex characters",
            ));
        }
        if prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::BadId(
                text.into(),
                "an id is up to 64 hex characters (0-9, a-f)",
            ));
        }
        let even = &prefix[..prefix.len() & !1];
        let bytes = hex::decode(even).unwrap_or_default();
        let mut matches = Vec::new();
        for (k, _) in self.id_table.with_prefix(&bytes, 64).map_err(table_error)? {
            let id = hex::encode(k);
            if id.starts_with(&prefix) && !matches.contains(&id) {
                matches.push(id);
                if matches.len() > 5 {
                    break;
                }
            }
        }
        match matches.len() {
            0 => Err(StoreError::NotFound(prefix)),
            1 => EntryId::from_hex(&matches[0]).ok_or_else(|| {
                StoreError::IndexDamaged(format!("malformed entry id {}", matches[0]))
            }),
            _ => Err(StoreError::Ambiguous {
                prefix,
                candidates: matches,
            }),
        }
    }

    /// Every entry that names `id` as what it speaks about, read and
    /// verified (ordering is the fold's business, src/lifecycle.rs).
    pub fn about(&self, id: &EntryId) -> Result<Vec<SignedEntry>, StoreError> {
        let mut out = Vec::new();
        for item in self.about.scan_prefix(id.0) {
            let (key, _) = item?;
            let about = <[u8; 32]>::try_from(&key[32..])
                .map_err(|_| StoreError::IndexDamaged("bad key in the about index".into()))?;
            out.push(self.get(&EntryId(about))?);
        }
        Ok(out)
    }

    pub fn location(&self, id: &EntryId) -> Result<Option<Location>, StoreError> {
        let found = self.id_table.get(&id.0).map_err(table_error)?;
        // One id, one place; the same entry indexed twice is kept once.
        Ok(found
            .first()
            .and_then(|p| Location::from_payload(p, &self.log_keys)))
    }

    /// Read an entry from its segment and verify it completely (canonical
    /// form, schema, signature, id) before returning it.
    pub fn get(&self, id: &EntryId) -> Result<SignedEntry, StoreError> {
        let location = self
            .location(id)?
            .ok_or_else(|| StoreError::NotFound(id.to_hex()))?;
        self.read_located(id, &location)
    }

    /// Read the entry the index places at `location`, and check that its
    /// bytes have the id the index promised.
    fn read_located(&self, id: &EntryId, location: &Location) -> Result<SignedEntry, StoreError> {
        let signed = self.read_at(location)?;
        if signed.id != *id {
            return Err(StoreError::Corrupt {
                log: short_log(&location.log),
                offset: location.offset,
                message: format!(
                    "the index says entry {id} is here, but these bytes have id {}",
                    signed.id
                ),
            });
        }
        Ok(signed)
    }

    fn read_at(&self, location: &Location) -> Result<SignedEntry, StoreError> {
        let path = self.segment_path(&location.log);
        let corrupt = |message: String| StoreError::Corrupt {
            log: short_log(&location.log),
            offset: location.offset,
            message,
        };
        let file = self.reader(&location.log, &path)?;
        let mut header = [0u8; FRAME_HEADER_LEN];
        file.read_exact_at(&mut header, location.offset)
            .map_err(|e| corrupt(format!("cannot read the frame: {e}")))?;
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if len > crate::entry::MAX_ENTRY_BYTES {
            return Err(corrupt("the frame header is damaged".into()));
        }
        let mut body = vec![0u8; len + SIGNATURE_LEN];
        file.read_exact_at(&mut body, location.offset + FRAME_HEADER_LEN as u64)
            .map_err(|e| corrupt(format!("cannot read the frame: {e}")))?;
        let (entry, signature) = body.split_at(len);
        SignedEntry::decode(entry, signature).map_err(|e| corrupt(e.to_string()))
    }

    fn reader(&self, log: &[u8; 32], path: &Path) -> Result<Arc<File>, StoreError> {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(file) = readers.get(log) {
            return Ok(file.clone());
        }
        let file = Arc::new(File::open(path).map_err(io_at(path))?);
        readers.insert(*log, file.clone());
        Ok(file)
    }

    /// Every entry of every log in log order, each read from its segment and
    /// verified; `kind` filters on the index before anything is read.
    pub fn entries(
        &self,
        kind: Option<EntryKind>,
    ) -> impl Iterator<Item = Result<SignedEntry, StoreError>> + '_ {
        let mut located = self
            .seqs
            .iter()
            .flat_map(|item| match item {
                Ok((_, ids)) => ids
                    .chunks_exact(index::ITEM_LEN)
                    .filter_map(|id| <[u8; 32]>::try_from(id).ok())
                    .filter(|id| *id != [0u8; 32])
                    .map(|id| Ok(EntryId(id)))
                    .collect::<Vec<_>>(),
                Err(e) => vec![Err(StoreError::from(e))],
            })
            .filter_map(move |id| {
                let located = id.and_then(|id| {
                    let location = self.location(&id)?.ok_or_else(|| {
                        StoreError::IndexDamaged(
                            "an entry listed by sequence has no location".into(),
                        )
                    })?;
                    Ok((id, location))
                });
                match located {
                    Err(e) => Some(Err(e)),
                    Ok((_, location)) if kind.is_some_and(|k| k != location.kind) => None,
                    Ok(found) => Some(Ok(found)),
                }
            });
        // Reading and verifying entries is independent work: a window at a
        // time on every core, handed on in order.
        let mut window = std::collections::VecDeque::new();
        std::iter::from_fn(move || {
            if window.is_empty() {
                let next: Vec<_> = located.by_ref().take(ENTRIES_WINDOW).collect();
                window.extend(index::par_map(next, |found| {
                    found.and_then(|(id, location)| self.read_located(&id, &location))
                }));
            }
            window.pop_front()
        })
    }

    /// Every leaf of one log in order: its entries, read and verified, and
    /// the withheld leaves of a replica.
    pub fn leaves(
        &self,
        log: [u8; 32],
    ) -> Result<impl Iterator<Item = Result<Leaf, StoreError>> + '_, StoreError> {
        self.leaves_from(log, 0)
    }

    /// The leaves of one log from sequence number `first` on, as
    /// [`Store::leaves`]. Entries are read and verified a window at a time on
    /// every core.
    pub fn leaves_from(
        &self,
        log: [u8; 32],
        first: u64,
    ) -> Result<impl Iterator<Item = Result<Leaf, StoreError>> + '_, StoreError> {
        let size = self.log_state(&log)?.size;
        let mut seqs = first..size;
        let mut window = std::collections::VecDeque::new();
        Ok(std::iter::from_fn(move || {
            if window.is_empty() {
                let next: Vec<u64> = seqs.by_ref().take(ENTRIES_WINDOW).collect();
                window.extend(index::par_map(next, |seq| match self.id_at(&log, seq)? {
                    Some(id) => Ok(Leaf::Entry(Box::new(self.get(&id)?))),
                    None => {
                        let node = NodeId {
                            level: 0,
                            index: seq,
                        };
                        Ok(Leaf::Withheld(seq, self.required_node(&log, node)?))
                    }
                }));
            }
            window.pop_front()
        }))
    }

    /// Append frames staged by an import to a replica log, sync them, and
    /// index them (verifying each entry again as any catch-up does). The
    /// group's own log is never a replica.
    pub fn append_replica(&mut self, log: [u8; 32], staged: &Path) -> Result<(), StoreError> {
        if log == self.group_key.to_bytes() {
            return Err(StoreError::LogDamaged {
                log: short_log(&log),
                reason: "the group's own log only grows by its own key; an import cannot add to it"
                    .into(),
            });
        }
        self.ensure_undamaged(&log)?;
        let state = self.log_state(&log)?;
        let mut source = File::open(staged).map_err(io_at(staged))?;
        let path = self.segment_path(&log);
        self.writer(&log, state.end)?
            .append_from(&mut source)
            .map_err(io_at(&path))?;
        // The writer's length is now past the index; catching up re-reads
        // and decodes exactly what was appended. The signatures were checked
        // by the import a moment ago, under the same lock; `audit` and every
        // later open that finds the index behind check them again.
        self.catch_up_log(log, &path, Signatures::AlreadyChecked)?;
        self.warnings
            .retain(|w| !matches!(w, StoreWarning::IndexCaughtUp { log: l, .. } if *l == log));
        self.ensure_undamaged(&log)?;
        self.db.flush()?;
        Ok(())
    }

    /// The index's id for (log, seq), for audit.
    pub fn id_at(&self, log: &[u8; 32], seq: u64) -> Result<Option<EntryId>, StoreError> {
        Ok(index::read_item(&self.seqs, index::id_chunk(log, seq))?.map(EntryId))
    }

    /// The stored Merkle node, for audit.
    pub fn stored_node(&self, log: &[u8; 32], node: NodeId) -> Result<Option<Hash>, StoreError> {
        Ok(
            index::read_item(&self.nodes, index::node_chunk(log, node.level, node.index))?
                .map(Hash),
        )
    }

    /// How many records in the store hold this content hash (docs/CSV.md §4).
    pub fn content_count(&self, hash: &[u8; 32]) -> Result<u64, StoreError> {
        Ok(self.content_table.get(hash).map_err(table_error)?.len() as u64)
    }

    /// Number of entries the index holds, over all logs.
    pub fn indexed_entries(&self) -> Result<u64, StoreError> {
        self.id_table.item_count().map_err(table_error)
    }

    /// Files in `set-aside/`: torn tails moved out of segments.
    pub fn set_aside_files(&self) -> Result<Vec<PathBuf>, StoreError> {
        let dir = self.root.join(SET_ASIDE_DIR);
        let mut out = Vec::new();
        match fs::read_dir(&dir) {
            Ok(items) => {
                for item in items {
                    out.push(item.map_err(io_at(&dir))?.path());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&dir)(e)),
        }
        out.sort();
        Ok(out)
    }
}

impl Store {
    fn checkpoints_path(&self, log: &[u8; 32]) -> PathBuf {
        self.root
            .join(CHECKPOINTS_DIR)
            .join(format!("{}.jsonl", hex::encode(log)))
    }

    /// Every checkpoint of `log` this store has signed or received, oldest
    /// first. They are statements by the log's key, not derived data, so they
    /// live in their own append-only file (FORMAT.md §6.4).
    pub fn checkpoints(&self, log: &[u8; 32]) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let path = self.checkpoints_path(log);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_at(&path)(e)),
        };
        let key = VerifyingKey::from_bytes(log).map_err(|_| StoreError::BadStoreFile {
            path: path.clone(),
            message: "the file name is not a public key".into(),
        })?;
        let mut out = Vec::new();
        // A last line without its newline was never acknowledged: skip it.
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end + 1],
            None => "",
        };
        for (i, line) in complete.lines().enumerate() {
            let bad = |message: String| StoreError::BadStoreFile {
                path: path.clone(),
                message: format!("line {}: {message}", i + 1),
            };
            let record: CheckpointRecord =
                serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            let signed = SignedCheckpoint::parse_and_verify(record.note.as_bytes(), &key)
                .map_err(|e| bad(e.to_string()))?;
            out.push(StoredCheckpoint {
                signed,
                received_at: record.received_at,
                source: record.source,
            });
        }
        Ok(out)
    }

    /// The newest checkpoint held for `log`, by size.
    pub fn latest_checkpoint(
        &self,
        log: &[u8; 32],
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        Ok(self
            .checkpoints(log)?
            .into_iter()
            .max_by_key(|c| c.signed.checkpoint.size))
    }

    /// Append a checkpoint to the log's checkpoint file and sync it.
    pub fn record_checkpoint(
        &self,
        log: &[u8; 32],
        signed: &SignedCheckpoint,
        source: &str,
    ) -> Result<(), StoreError> {
        let dir = self.root.join(CHECKPOINTS_DIR);
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        let path = self.checkpoints_path(log);
        let existed = path.exists();
        let record = CheckpointRecord {
            note: signed.to_text(),
            received_at: crate::entry::format_timestamp(OffsetDateTime::now_utc()),
            source: source.to_string(),
        };
        let mut line = serde_json::to_string(&record).unwrap_or_default();
        line.push('\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_at(&path))?;
        file.write_all(line.as_bytes()).map_err(io_at(&path))?;
        file.sync_all().map_err(io_at(&path))?;
        if !existed {
            sync_dir(&dir).map_err(io_at(&dir))?;
        }
        Ok(())
    }

    /// Sign a checkpoint of the group's log at its current size. Refuses to
    /// sign anything inconsistent with a checkpoint this key signed before
    /// (a smaller tree, or a tree whose prefix has another root). Returns the
    /// latest checkpoint instead of signing again when the log has not grown.
    pub fn sign_checkpoint(&mut self, key: &SigningKey) -> Result<SignedCheckpoint, StoreError> {
        let log = key.verifying_key().to_bytes();
        self.ensure_undamaged(&log)?;
        let state = self.log_state(&log)?;
        let previous = self.checkpoints(&log)?;
        for old in &previous {
            let cp = &old.signed.checkpoint;
            if cp.size > state.size || self.root_at(&log, cp.size)? != cp.root {
                return Err(StoreError::Corrupt {
                    log: short_log(&log),
                    offset: 0,
                    message: format!(
                        "the log no longer matches the checkpoint it signed at size {} ({}); refusing to sign a checkpoint that contradicts it",
                        cp.size, old.received_at
                    ),
                });
            }
        }
        if let Some(last) = previous
            .iter()
            .rev()
            .find(|c| c.signed.checkpoint.size == state.size)
        {
            return Ok(last.signed.clone());
        }
        let signed = SignedCheckpoint::sign(state.size, state.root, key);
        self.record_checkpoint(&log, &signed, "signed")?;
        Ok(signed)
    }
}

/// One line of a checkpoint file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointRecord {
    note: String,
    received_at: String,
    source: String,
}

/// A checkpoint the store holds, with when and how it got it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub signed: SignedCheckpoint,
    pub received_at: String,
    /// `signed` (by this store), `imported` (from a bundle), `cosigned`.
    pub source: String,
}

/// Whether catching up checks each entry's signature.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signatures {
    Check,
    /// Frames an import staged after verifying the bundle they came from.
    AlreadyChecked,
}

/// Decode and verify one frame found in `log`'s segment at position `seq`.
pub fn check_frame(
    log: &[u8; 32],
    seq: u64,
    entry: &[u8],
    signature: &[u8],
) -> Result<SignedEntry, String> {
    check_frame_with(log, seq, entry, signature, Signatures::Check)
}

fn check_frame_with(
    log: &[u8; 32],
    seq: u64,
    entry: &[u8],
    signature: &[u8],
    signatures: Signatures,
) -> Result<SignedEntry, String> {
    let decoded = decode_entry(entry).map_err(|e| e.to_string())?;
    if decoded.log.as_bytes() != log {
        return Err("the entry names another log".into());
    }
    if decoded.seq != seq {
        return Err(format!(
            "sequence number {} where {seq} was expected",
            decoded.seq
        ));
    }
    let signature = parse_signature(signature).map_err(|e| e.to_string())?;
    if signatures == Signatures::Check {
        verify_signature(&decoded.log, entry, &signature).map_err(|e| e.to_string())?;
    }
    Ok(SignedEntry {
        id: EntryId::of(entry),
        entry: decoded,
        bytes: entry.to_vec(),
        signature,
    })
}

fn proof_failure<E: std::fmt::Display>(log: &[u8; 32], e: merkle::ProofGenError<E>) -> StoreError {
    StoreError::Proof {
        log: short_log(log),
        message: e.to_string(),
    }
}

fn acquire_lock(root: &Path) -> Result<File, StoreError> {
    let path = root.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_at(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::InUse {
            path: root.to_path_buf(),
        }),
        Err(fs::TryLockError::Error(e)) => Err(io_at(&path)(e)),
    }
}

/// The index's cache: sled's default (1 GiB) would let a large import's
/// memory grow with the bundle; the index is only a cache of the segments.
const INDEX_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Open the index. sled can panic while recovering damaged files instead of
/// returning an error; the index is derived, so a panic there is treated
/// like any failure to open: the caller deletes and rebuilds it.
fn open_index(path: &Path) -> sled::Result<sled::Db> {
    let open = || {
        sled::Config::new()
            .path(path)
            .cache_capacity(INDEX_CACHE_BYTES)
            .open()
    };
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(open);
    std::panic::set_hook(quiet);
    result.unwrap_or_else(|_| {
        Err(sled::Error::ReportableBug(
            "the index database failed while reading its damaged files".into(),
        ))
    })
}

fn remove_file_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_at(path)(e)),
    }
}

fn remove_dir_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_at(path)(e)),
    }
}

/// Write a file that must not exist yet and sync it.
fn write_new_synced(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_at(path))?;
    file.write_all(contents).map_err(io_at(path))?;
    file.sync_all().map_err(io_at(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{parse_record, RecordKind};

    fn records(n: u64) -> Vec<Record> {
        (0..n)
            .map(|i| {
                let json = format!(
                    r#"{{"name": {{"ar": "محمد الحلبي {i}", "latin": "Muhammad al-Halabi"}},
                        "date_of_death": "2018-01-24", "sources": [{{"type": "eyewitness"}}],
                        "sensitivity": "public"}}"#
                );
                parse_record(
                    RecordKind::Casualty,
                    json.as_bytes(),
                    time::macros::date!(2026 - 01 - 01),
                )
                .unwrap()
            })
            .collect()
    }

    fn new_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(
            &dir.path().join("store"),
            InitOptions {
                organisation: "Test",
                passphrase: None,
                now: OffsetDateTime::UNIX_EPOCH,
            },
        )
        .unwrap();
        (dir, store)
    }

    /// A group's former log (from before a key rotation) holds every entry,
    /// as its current one does: a withheld leaf in it is damage.
    #[test]
    fn a_withheld_leaf_in_a_former_own_log_is_damage() {
        let (dir, mut store) = new_store();
        let root = dir.path().join("store");
        let now = OffsetDateTime::UNIX_EPOCH;
        let old = store.signing_key(None).unwrap();
        store.append_records(&old, records(2), now).unwrap();
        crate::group_keys::rotate_group_key(&mut store, &old, "routine", None, now).unwrap();
        let old_log = old.verifying_key().to_bytes();
        let size = store.log_state(&old_log).unwrap().size;
        let path = store.segment_path(&old_log);
        drop(store);
        let frame = crate::segment::encode_withheld_frame(size, &[7u8; 32]);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&frame).unwrap();
        drop(file);
        let store = Store::open(&root).unwrap();
        let reason = store.damaged_logs().get(&old_log).expect("damage noted");
        assert!(reason.contains("withheld leaf"), "{reason}");
    }

    /// A crash between two index commits leaves trees that hold entries the
    /// log state does not count yet. Catching up writes them again; that must
    /// give the same index: every record found once, its content counted
    /// once, its proofs unchanged.
    #[test]
    fn catching_up_over_entries_already_indexed_changes_nothing() {
        let (dir, mut store) = new_store();
        let root = dir.path().join("store");
        let now = OffsetDateTime::UNIX_EPOCH;
        let key = store.signing_key(None).unwrap();
        let first = store.append_records(&key, records(300), now).unwrap();
        let log = key.verifying_key().to_bytes();
        let behind = store.log_state(&log).unwrap();
        let second = store.append_records(&key, records(5), now).unwrap();
        let root_after = store.log_state(&log).unwrap().root;
        let proof_before = store.inclusion_proof(&second[4].id, None).unwrap();
        // Put the recorded state back to before the second append, as if
        // the process died after the other trees were written.
        store.logs.insert(log, &behind.to_bytes()[..]).unwrap();
        store.db.flush().unwrap();
        drop(store);

        let store = Store::open(&root).unwrap();
        let state = store.log_state(&log).unwrap();
        assert_eq!(state.size, 305);
        assert_eq!(state.root, root_after);
        assert_eq!(
            store.inclusion_proof(&second[4].id, None).unwrap(),
            proof_before
        );
        let hits = store.search_index().search("محمد الحلبي", 1000).unwrap();
        assert_eq!(hits.hits.len(), 305, "each record found once");
        let record = second[0].entry.record_body().unwrap();
        let hash = crate::search::content_hash(record);
        // records(5) repeats the content of the first five of records(300).
        assert_eq!(store.content_count(&hash).unwrap(), 2);
        assert_eq!(store.entries(None).count(), 305);
        assert_eq!(store.id_at(&log, 0).unwrap(), Some(first[0].id));
        assert_eq!(store.id_at(&log, 304).unwrap(), Some(second[4].id));
        assert_eq!(store.id_at(&log, 305).unwrap(), None);
    }

    /// A batch cut short by a crash leaves nothing of itself, wherever the
    /// cut falls: between two whole frames (which alone would read as
    /// entries), inside a frame, or as a hole in a batch of the right length.
    /// A batch that is whole is kept even when it was not marked done.
    #[test]
    fn a_batch_cut_by_a_crash_is_set_aside_whole() {
        let (dir, mut store) = new_store();
        let root = dir.path().join("store");
        let now = OffsetDateTime::UNIX_EPOCH;
        let key = store.signing_key(None).unwrap();
        let log = key.verifying_key().to_bytes();
        store.append_records(&key, records(300), now).unwrap();
        let before = store.log_state(&log).unwrap();
        let batch = store.append_records(&key, records(200), now).unwrap();
        let path = store.segment_path(&log);
        drop(store);
        let intent = BatchIntent::read(&root).unwrap().unwrap();
        assert!(intent.done);
        assert_eq!(intent.start, before.end);
        let whole = fs::read(&path).unwrap();
        assert_eq!(intent.start + intent.len, whole.len() as u64);
        let frame_start = |k: usize| -> usize {
            before.end as usize
                + batch[..k]
                    .iter()
                    .map(|s| FRAME_HEADER_LEN + s.bytes.len() + SIGNATURE_LEN)
                    .sum::<usize>()
        };
        let undone = BatchIntent {
            done: false,
            ..intent.clone()
        };
        let mut holed = whole.clone();
        holed[frame_start(50)..frame_start(50) + 4096].fill(0);
        let crashes: Vec<Vec<u8>> = vec![
            whole[..frame_start(1)].to_vec(),
            whole[..frame_start(120)].to_vec(),
            whole[..frame_start(120) + 7].to_vec(),
            holed,
        ];
        for (n, segment) in crashes.iter().enumerate() {
            fs::write(&path, segment).unwrap();
            fs::write(root.join(batch_intent::FILE_NAME), undone.to_bytes()).unwrap();
            let store = Store::open(&root).unwrap();
            let saved = store.warnings().iter().find_map(|w| match w {
                StoreWarning::InterruptedBatchSetAside {
                    offset, saved_to, ..
                } => Some((*offset, saved_to.clone())),
                _ => None,
            });
            let (offset, saved_to) = saved
                .unwrap_or_else(|| panic!("crash {n}: nothing set aside: {:?}", store.warnings()));
            assert_eq!(offset, before.end, "crash {n}");
            assert_eq!(
                fs::read(&saved_to).unwrap(),
                &segment[before.end as usize..],
                "crash {n}"
            );
            assert_eq!(store.log_state(&log).unwrap(), before, "crash {n}");
            assert!(store.get(&batch[0].id).is_err(), "crash {n}");
            assert!(!store.damaged_logs().contains_key(&log), "crash {n}");
            let report = crate::audit::audit(&store).unwrap();
            assert_eq!(report.errors(), 0, "crash {n}: {:?}", report.findings);
            drop(store);
            assert!(BatchIntent::read(&root).unwrap().unwrap().done);
        }
        // The crash came after the sync, before the batch was marked done.
        fs::write(&path, &whole).unwrap();
        fs::write(root.join(batch_intent::FILE_NAME), undone.to_bytes()).unwrap();
        let store = Store::open(&root).unwrap();
        assert_eq!(store.log_state(&log).unwrap().size, 500);
        assert_eq!(store.get(&batch[199].id).unwrap().id, batch[199].id);
        assert!(!store
            .warnings()
            .iter()
            .any(|w| matches!(w, StoreWarning::InterruptedBatchSetAside { .. })));
    }

    /// A batch whose write failed stays recorded as being written (the
    /// record was synced first). The entry appended next goes where the
    /// batch would have, and is acknowledged: the record is settled first,
    /// so that the next open does not set that entry aside as the batch's
    /// remains, even when the failed write was not cut back.
    #[test]
    fn an_append_after_a_failed_batch_is_kept() {
        let (dir, mut store) = new_store();
        let root = dir.path().join("store");
        let now = OffsetDateTime::UNIX_EPOCH;
        let key = store.signing_key(None).unwrap();
        let log = key.verifying_key().to_bytes();
        store.append_records(&key, records(3), now).unwrap();
        let end = store.log_state(&log).unwrap().end;
        // The batch was recorded, then its write failed part-way and the
        // cut back failed too.
        let failed = BatchIntent::of(log, end, &[vec![7u8; 300], vec![8u8; 300]]);
        store.record_batch_intent(&failed).unwrap();
        store.failed_batch = Some(failed);
        let mut segment = OpenOptions::new()
            .append(true)
            .open(store.segment_path(&log))
            .unwrap();
        segment.write_all(&[7u8; 450]).unwrap();
        drop(segment);

        let kept = store.append_records(&key, records(1), now).unwrap();
        let state = store.log_state(&log).unwrap();
        drop(store);
        assert!(BatchIntent::read(&root).unwrap().unwrap().done);
        let store = Store::open(&root).unwrap();
        assert!(store.warnings().is_empty(), "{:?}", store.warnings());
        assert_eq!(store.log_state(&log).unwrap(), state);
        assert_eq!(store.get(&kept[0].id).unwrap().id, kept[0].id);
        let report = crate::audit::audit(&store).unwrap();
        assert_eq!(report.errors(), 0, "{:?}", report.findings);
    }

    /// The digest tables are synced only every so many inserts. A power cut
    /// can lose the inserts since (and leave a header that counts them):
    /// the next open goes back to the tables' mark, counts their slots
    /// again and indexes the entries after the mark once more.
    #[test]
    fn digest_table_inserts_lost_in_a_power_cut_are_indexed_again() {
        let (dir, mut store) = new_store();
        let root = dir.path().join("store");
        let index = root.join(INDEX_DIR);
        let now = OffsetDateTime::UNIX_EPOCH;
        let key = store.signing_key(None).unwrap();
        let log = key.verifying_key().to_bytes();
        store.append_records(&key, records(300), now).unwrap();
        drop(store);
        let synced: Vec<(PathBuf, Vec<u8>)> = [ID_TABLE, CONTENT_TABLE]
            .iter()
            .map(|name| (index.join(name), fs::read(index.join(name)).unwrap()))
            .collect();

        let mut store = Store::open(&root).unwrap();
        assert!(store.warnings().is_empty(), "{:?}", store.warnings());
        let second = store.append_records(&key, records(5), now).unwrap();
        let state = store.log_state(&log).unwrap();
        // The process dies before its tables are synced; the disk keeps
        // their slots as of the last sync, and the newer header.
        store.tables_unsynced = 0;
        drop(store);
        for (path, bytes) in &synced {
            let mut lost = fs::read(path).unwrap()[..64].to_vec();
            lost.extend_from_slice(&bytes[64..]);
            fs::write(path, lost).unwrap();
        }

        let store = Store::open(&root).unwrap();
        assert!(
            store
                .warnings()
                .iter()
                .any(|w| matches!(w, StoreWarning::IndexCaughtUp { entries: 5, .. })),
            "{:?}",
            store.warnings()
        );
        assert_eq!(store.log_state(&log).unwrap(), state);
        for s in &second {
            assert_eq!(store.get(&s.id).unwrap().id, s.id);
        }
        assert_eq!(store.indexed_entries().unwrap(), 305);
        let record = second[0].entry.record_body().unwrap();
        let hash = crate::search::content_hash(record);
        assert_eq!(store.content_count(&hash).unwrap(), 2);
        drop(store);

        // Closed cleanly, the tables' mark is the state: nothing to redo.
        let store = Store::open(&root).unwrap();
        assert!(store.warnings().is_empty(), "{:?}", store.warnings());
        assert_eq!(store.indexed_entries().unwrap(), 305);
    }
}
