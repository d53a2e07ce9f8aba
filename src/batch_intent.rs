//! The record of a batch of frames being appended to a segment
//! (docs/FORMAT.md §6.12), so that a batch is all or nothing.
//!
//! A batch is written to its segment with one `write` and one sync. A crash
//! can still cut it: a kill stops a large `write` between pages, and a power
//! loss keeps any part of what was not synced. The whole frames before the
//! cut would then read as entries, and one `import-csv` would be half in the
//! store. Before a batch of more than one frame is written, this file is
//! written and synced with where the batch starts, how long it is and its
//! BLAKE3 digest; once the segment is synced it is marked done. An open that
//! finds a batch not marked done, and not whole in the segment, sets the
//! segment aside from the batch's start: the batch was never acknowledged.
//! A single frame needs none of this: cut, it is a torn tail.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The file, in the store's directory.
pub const FILE_NAME: &str = "batch-intent";
pub const LEN: usize = 112;
const MAGIC: &[u8; 16] = b"SIJILL-BATCH-V1\n";
const CHECK_DOMAIN: &[u8] = b"SIJILL-BATCH-CHECK\0";
const STATE_AT: usize = 96;
const WRITING: u8 = 0;
const DONE: u8 = 1;

/// A batch being appended (or appended, when `done`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchIntent {
    pub log: [u8; 32],
    /// Where the batch starts in the segment.
    pub start: u64,
    /// Its length in bytes.
    pub len: u64,
    /// BLAKE3 of its bytes.
    pub digest: [u8; 32],
    /// The segment was synced with the whole batch in it.
    pub done: bool,
}

fn check(bytes: &[u8]) -> [u8; 8] {
    let mut h = blake3::Hasher::new();
    h.update(CHECK_DOMAIN);
    h.update(bytes);
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    out
}

impl BatchIntent {
    /// The intent of appending `frames` at `start` of `log`'s segment.
    pub fn of(log: [u8; 32], start: u64, frames: &[Vec<u8>]) -> BatchIntent {
        let mut hasher = blake3::Hasher::new();
        let mut len = 0u64;
        for frame in frames {
            hasher.update(frame);
            len += frame.len() as u64;
        }
        BatchIntent {
            log,
            start,
            len,
            digest: *hasher.finalize().as_bytes(),
            done: false,
        }
    }

    pub fn to_bytes(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..16].copy_from_slice(MAGIC);
        out[16..48].copy_from_slice(&self.log);
        out[48..56].copy_from_slice(&self.start.to_be_bytes());
        out[56..64].copy_from_slice(&self.len.to_be_bytes());
        out[64..96].copy_from_slice(&self.digest);
        out[STATE_AT] = if self.done { DONE } else { WRITING };
        let sum = check(&out[..104]);
        out[104..].copy_from_slice(&sum);
        out
    }

    /// `None` for anything but a whole, intact record: an intent whose write
    /// was cut was never followed by a write to the segment.
    pub fn from_bytes(bytes: &[u8]) -> Option<BatchIntent> {
        let bytes: &[u8; LEN] = bytes.get(..LEN)?.try_into().ok()?;
        if &bytes[..16] != MAGIC
            || bytes[104..] != check(&bytes[..104])
            || bytes[97..104].iter().any(|b| *b != 0)
        {
            return None;
        }
        let done = match bytes[STATE_AT] {
            WRITING => false,
            DONE => true,
            _ => return None,
        };
        Some(BatchIntent {
            log: bytes[16..48].try_into().ok()?,
            start: u64::from_be_bytes(bytes[48..56].try_into().ok()?),
            len: u64::from_be_bytes(bytes[56..64].try_into().ok()?),
            digest: bytes[64..96].try_into().ok()?,
            done,
        })
    }

    /// Read the store's record; `None` when there is none or it is not intact.
    pub fn read(root: &Path) -> io::Result<Option<BatchIntent>> {
        match std::fs::read(root.join(FILE_NAME)) {
            Ok(bytes) => Ok(BatchIntent::from_bytes(&bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `segment` holds this whole batch at its place.
    pub fn is_whole_in(&self, segment: &File) -> io::Result<bool> {
        let file_len = segment.metadata()?.len();
        let Some(end) = self.start.checked_add(self.len) else {
            return Ok(false);
        };
        if file_len < end {
            return Ok(false);
        }
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut at = self.start;
        while at < end {
            let n = ((end - at) as usize).min(buf.len());
            segment.read_exact_at(&mut buf[..n], at)?;
            hasher.update(&buf[..n]);
            at += n as u64;
        }
        Ok(*hasher.finalize().as_bytes() == self.digest)
    }
}

/// The open record file of a store.
pub struct IntentFile {
    file: File,
}

impl IntentFile {
    /// Open the store's record file, creating it (and syncing the directory,
    /// so that it is found after a crash) when it is missing.
    pub fn open(root: &Path) -> io::Result<IntentFile> {
        let path = root.join(FILE_NAME);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if !existed {
            crate::segment::sync_dir(root)?;
        }
        Ok(IntentFile { file })
    }

    /// Write and sync an intent: only then may the batch be written.
    pub fn record(&self, intent: &BatchIntent) -> io::Result<()> {
        self.file.write_all_at(&intent.to_bytes(), 0)?;
        self.file.sync_data()
    }

    /// Mark the batch done once its segment is synced. Not synced itself: a
    /// record left as "writing" of a batch that is whole changes nothing.
    pub fn mark_done(&self, intent: &BatchIntent) -> io::Result<()> {
        let done = BatchIntent {
            done: true,
            ..intent.clone()
        };
        self.file.write_all_at(&done.to_bytes(), 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_any_damage() {
        let frames = vec![b"abc".to_vec(), b"defg".to_vec()];
        let intent = BatchIntent::of([7u8; 32], 100, &frames);
        assert_eq!(intent.len, 7);
        assert_eq!(intent.digest, *blake3::hash(b"abcdefg").as_bytes());
        let bytes = intent.to_bytes();
        assert_eq!(BatchIntent::from_bytes(&bytes), Some(intent.clone()));
        for i in 0..LEN {
            let mut bad = bytes;
            bad[i] ^= 1;
            assert_eq!(BatchIntent::from_bytes(&bad), None, "byte {i}");
        }
        assert_eq!(BatchIntent::from_bytes(&bytes[..LEN - 1]), None);
    }

    #[test]
    fn knows_whether_the_segment_holds_the_whole_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let frames = vec![vec![1u8; 5000], vec![2u8; 3000]];
        let intent = BatchIntent::of([1u8; 32], 10, &frames);
        let mut bytes = vec![9u8; 10];
        bytes.extend(frames.concat());
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        assert!(intent.is_whole_in(&file).unwrap());
        // Cut at a frame boundary: the first frame alone is not the batch.
        std::fs::write(&path, &bytes[..5010]).unwrap();
        assert!(!intent.is_whole_in(&File::open(&path).unwrap()).unwrap());
        // Whole length, a page lost to zeros.
        let mut holed = bytes.clone();
        holed[20..4116].fill(0);
        std::fs::write(&path, &holed).unwrap();
        assert!(!intent.is_whole_in(&File::open(&path).unwrap()).unwrap());
    }
}
