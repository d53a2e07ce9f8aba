//! Segment files: the durable truth of a log (docs/FORMAT.md §5).
//!
//! Each log's signed entries are appended, framed, to one file that is never
//! rewritten, and synced before a write is acknowledged. Everything else in a
//! store is derived from these files. The framing lets a reader tell a torn
//! tail (a write cut short by a crash, never acknowledged) from corruption (a
//! complete frame whose bytes changed), and find the next frame after damage so
//! that one bad spot does not hide the rest of the log.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::entry::MAX_ENTRY_BYTES;

/// The first 16 bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 16] = b"SIJILL-SEGMENT1\n";
/// File header: the magic, then the 32-byte public key of the log.
pub const SEGMENT_HEADER_LEN: u64 = 48;
/// The first 4 bytes of an entry frame.
pub const FRAME_MAGIC: &[u8; 4] = b"SJEN";
/// The first 4 bytes of a withheld-leaf frame: in a replica of another
/// group's log, the place of an entry its author did not share (an
/// `internal` record), kept as its Merkle leaf hash so the tree still verifies.
pub const WITHHELD_MAGIC: &[u8; 4] = b"SJWH";
/// A withheld frame's payload: the sequence number and the leaf hash.
pub const WITHHELD_PAYLOAD_LEN: usize = 40;
/// Domain of the 4-byte check over a frame's magic and length.
pub const FRAME_CHECK_DOMAIN: &[u8] = b"SIJILL-FRAME-V1\0";
/// Magic, length, check.
pub const FRAME_HEADER_LEN: usize = 12;
pub const SIGNATURE_LEN: usize = 64;

/// The frame of one entry: header, entry bytes, signature (FORMAT.md §5.2).
pub fn encode_frame(entry_bytes: &[u8], signature: &[u8; SIGNATURE_LEN]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + entry_bytes.len() + SIGNATURE_LEN);
    frame.extend_from_slice(FRAME_MAGIC);
    frame.extend_from_slice(&(entry_bytes.len() as u32).to_be_bytes());
    let check = header_check(&frame[..8]);
    frame.extend_from_slice(&check);
    frame.extend_from_slice(entry_bytes);
    frame.extend_from_slice(signature);
    frame
}

/// The frame of a withheld leaf (FORMAT.md §5.2): header, `u64be(seq)`, leaf hash.
pub fn encode_withheld_frame(seq: u64, leaf: &[u8; 32]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + WITHHELD_PAYLOAD_LEN);
    frame.extend_from_slice(WITHHELD_MAGIC);
    frame.extend_from_slice(&(WITHHELD_PAYLOAD_LEN as u32).to_be_bytes());
    let check = header_check(&frame[..8]);
    frame.extend_from_slice(&check);
    frame.extend_from_slice(&seq.to_be_bytes());
    frame.extend_from_slice(leaf);
    frame
}

fn header_check(magic_and_len: &[u8]) -> [u8; 4] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(FRAME_CHECK_DOMAIN);
    hasher.update(magic_and_len);
    let mut out = [0u8; 4];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..4]);
    out
}

/// What an intact frame header announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FrameKind {
    /// An entry of this many bytes, then its signature.
    Entry(usize),
    /// A withheld leaf.
    Withheld,
}

impl FrameKind {
    /// Bytes after the header.
    fn payload_len(self) -> usize {
        match self {
            FrameKind::Entry(len) => len + SIGNATURE_LEN,
            FrameKind::Withheld => WITHHELD_PAYLOAD_LEN,
        }
    }
}

/// The kind and length a frame header declares, if the header is intact.
fn parse_frame_header(header: &[u8; FRAME_HEADER_LEN]) -> Option<FrameKind> {
    if header[8..12] != header_check(&header[..8]) {
        return None;
    }
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    match &header[..4] {
        m if m == FRAME_MAGIC => (1..=MAX_ENTRY_BYTES)
            .contains(&len)
            .then_some(FrameKind::Entry(len)),
        m if m == WITHHELD_MAGIC => (len == WITHHELD_PAYLOAD_LEN).then_some(FrameKind::Withheld),
        _ => None,
    }
}

/// The header of a new segment file.
pub fn segment_header(log_key: &[u8; 32]) -> Vec<u8> {
    let mut header = SEGMENT_MAGIC.to_vec();
    header.extend_from_slice(log_key);
    header
}

/// One thing found while reading a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanItem {
    /// A complete, well-framed entry. Its bytes still have to be verified.
    Frame {
        offset: u64,
        entry: Vec<u8>,
        signature: [u8; SIGNATURE_LEN],
    },
    /// A withheld leaf of a replica log (see [`WITHHELD_MAGIC`]).
    Withheld {
        offset: u64,
        seq: u64,
        leaf: [u8; 32],
    },
    /// Bytes that are not a frame, followed by more frames (or by the end):
    /// damage, not a crash.
    Corrupt { offset: u64, len: u64 },
    /// An incomplete last frame (or zero fill) running to the end of the file:
    /// what a crash in the middle of an append leaves.
    Torn { offset: u64, len: u64 },
}

/// Why a segment cannot be read at all.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("not a sijill segment file (bad header)")]
    BadHeader,
}

/// Reads the frames of a segment in order, in bounded memory.
pub struct SegmentReader {
    file: File,
    reader: BufReader<File>,
    offset: u64,
    len: u64,
    log_key: [u8; 32],
    done: bool,
}

impl SegmentReader {
    pub fn open(path: &Path) -> Result<SegmentReader, SegmentError> {
        Self::open_from(path, None)
    }

    /// Open and position at `start` (a frame boundary a previous scan reported),
    /// or just after the file header.
    pub fn open_from(path: &Path, start: Option<u64>) -> Result<SegmentReader, SegmentError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
        if len < SEGMENT_HEADER_LEN {
            return Err(SegmentError::BadHeader);
        }
        file.read_exact_at(&mut header, 0)?;
        if &header[..16] != SEGMENT_MAGIC {
            return Err(SegmentError::BadHeader);
        }
        let mut log_key = [0u8; 32];
        log_key.copy_from_slice(&header[16..]);
        let offset = start.unwrap_or(SEGMENT_HEADER_LEN).max(SEGMENT_HEADER_LEN);
        let mut reader = BufReader::with_capacity(256 * 1024, file.try_clone()?);
        io::Seek::seek(&mut reader, io::SeekFrom::Start(offset))?;
        Ok(SegmentReader {
            file,
            reader,
            offset,
            len,
            log_key,
            done: false,
        })
    }

    /// The public key the file header names.
    pub fn log_key(&self) -> &[u8; 32] {
        &self.log_key
    }

    /// The file length when it was opened.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    fn next_item(&mut self) -> io::Result<Option<ScanItem>> {
        if self.done || self.offset >= self.len {
            return Ok(None);
        }
        let start = self.offset;
        let remaining = self.len - start;
        if remaining < FRAME_HEADER_LEN as u64 {
            self.done = true;
            return Ok(Some(ScanItem::Torn {
                offset: start,
                len: remaining,
            }));
        }
        let mut header = [0u8; FRAME_HEADER_LEN];
        self.reader.read_exact(&mut header)?;
        let Some(kind) = parse_frame_header(&header) else {
            return self.skip_damage(start).map(Some);
        };
        let frame_len = (FRAME_HEADER_LEN + kind.payload_len()) as u64;
        if frame_len > remaining {
            self.done = true;
            return Ok(Some(ScanItem::Torn {
                offset: start,
                len: remaining,
            }));
        }
        let entry_len = match kind {
            FrameKind::Entry(len) => len,
            FrameKind::Withheld => {
                let mut payload = [0u8; WITHHELD_PAYLOAD_LEN];
                self.reader.read_exact(&mut payload)?;
                self.offset = start + frame_len;
                let mut leaf = [0u8; 32];
                leaf.copy_from_slice(&payload[8..]);
                return Ok(Some(ScanItem::Withheld {
                    offset: start,
                    seq: u64::from_be_bytes(payload[..8].try_into().unwrap_or([0; 8])),
                    leaf,
                }));
            }
        };
        let mut entry = vec![0u8; entry_len];
        self.reader.read_exact(&mut entry)?;
        let mut signature = [0u8; SIGNATURE_LEN];
        self.reader.read_exact(&mut signature)?;
        self.offset = start + frame_len;
        Ok(Some(ScanItem::Frame {
            offset: start,
            entry,
            signature,
        }))
    }

    /// After a bad frame header at `start`: zero fill to the end is a torn
    /// tail; otherwise report the bytes up to the next intact frame header as
    /// damage and carry on from there.
    fn skip_damage(&mut self, start: u64) -> io::Result<ScanItem> {
        const CHUNK: usize = 64 * 1024;
        let mut buf = vec![0u8; CHUNK + FRAME_HEADER_LEN];
        let mut pos = start;
        let mut all_zero = true;
        while pos < self.len {
            let n = ((self.len - pos) as usize).min(buf.len());
            self.file.read_exact_at(&mut buf[..n], pos)?;
            let window = &buf[..n];
            all_zero &= window.iter().all(|b| *b == 0);
            // Candidates start strictly after the bad header.
            let first = if pos == start { 1 } else { 0 };
            let last = n.saturating_sub(FRAME_HEADER_LEN - 1).min(CHUNK);
            for i in first..last {
                if window[i] != b'S'
                    || (window[i..i + 4] != FRAME_MAGIC[..]
                        && window[i..i + 4] != WITHHELD_MAGIC[..])
                {
                    continue;
                }
                let mut header = [0u8; FRAME_HEADER_LEN];
                header.copy_from_slice(&window[i..i + FRAME_HEADER_LEN]);
                if parse_frame_header(&header).is_some() {
                    let next = pos + i as u64;
                    self.offset = next;
                    io::Seek::seek(&mut self.reader, io::SeekFrom::Start(next))?;
                    return Ok(ScanItem::Corrupt {
                        offset: start,
                        len: next - start,
                    });
                }
            }
            if n < buf.len() {
                break;
            }
            pos += CHUNK as u64;
        }
        self.done = true;
        let len = self.len - start;
        // A crash leaves at most one frame's worth of zero fill; more is damage.
        let max_frame = (FRAME_HEADER_LEN + MAX_ENTRY_BYTES + SIGNATURE_LEN) as u64;
        Ok(if all_zero && len <= max_frame {
            ScanItem::Torn { offset: start, len }
        } else {
            ScanItem::Corrupt { offset: start, len }
        })
    }
}

impl Iterator for SegmentReader {
    type Item = io::Result<ScanItem>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_item() {
            Ok(item) => item.map(Ok),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Appends frames to a segment, syncing before it reports success.
pub struct SegmentWriter {
    file: File,
    len: u64,
}

impl SegmentWriter {
    /// Create a new segment file (it must not exist), with its header, synced
    /// together with its directory entry.
    pub fn create(path: &Path, log_key: &[u8; 32]) -> io::Result<SegmentWriter> {
        // Written in full under another name, then renamed: a crash can never
        // leave a segment without its header under the real name.
        let tmp = path.with_extension("seg.new");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(&segment_header(log_key))?;
        file.sync_all()?;
        if path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the segment exists",
            ));
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        Ok(SegmentWriter {
            file,
            len: SEGMENT_HEADER_LEN,
        })
    }

    /// Open an existing segment for appending after its last good frame at
    /// `good_len`. Anything past it must already have been set aside.
    pub fn open(path: &Path, good_len: u64) -> io::Result<SegmentWriter> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let actual = file.metadata()?.len();
        if actual != good_len {
            return Err(io::Error::other(format!(
                "segment {} is {actual} bytes, expected {good_len}",
                path.display()
            )));
        }
        Ok(SegmentWriter {
            file,
            len: good_len,
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len <= SEGMENT_HEADER_LEN
    }

    /// Append the frames read from `source` (already framed, as staged by an
    /// import) and sync; on failure the file is cut back to where it was.
    pub fn append_from(&mut self, source: &mut impl Read) -> io::Result<u64> {
        let start = self.len;
        let result = (|| {
            let mut at = start;
            let mut buf = vec![0u8; 1024 * 1024];
            loop {
                let n = source.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                self.file.write_all_at(&buf[..n], at)?;
                at += n as u64;
            }
            self.file.sync_data()?;
            Ok(at)
        })();
        match result {
            Ok(end) => {
                self.len = end;
                Ok(end - start)
            }
            Err(e) => {
                let _ = self.file.set_len(start);
                let _ = self.file.sync_data();
                Err(e)
            }
        }
    }

    /// Append frames and sync data to stable storage; returns the offset of
    /// each frame. Nothing is acknowledged unless all of them are synced; on
    /// failure the file is cut back to where it was.
    pub fn append(&mut self, frames: &[Vec<u8>]) -> io::Result<Vec<u64>> {
        let mut offsets = Vec::with_capacity(frames.len());
        let mut buf = Vec::with_capacity(frames.iter().map(Vec::len).sum());
        let mut at = self.len;
        for frame in frames {
            offsets.push(at);
            at += frame.len() as u64;
            buf.extend_from_slice(frame);
        }
        let result = self
            .file
            .write_all_at(&buf, self.len)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = result {
            // A half-written frame must not stay in front of the next append.
            let _ = self.file.set_len(self.len);
            let _ = self.file.sync_data();
            return Err(e);
        }
        self.len = at;
        Ok(offsets)
    }
}

/// Sync a directory so that a file created or renamed in it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_segment(dir: &Path, entries: &[&[u8]]) -> std::path::PathBuf {
        let path = dir.join("log.seg");
        let mut w = SegmentWriter::create(&path, &[7u8; 32]).unwrap();
        let frames: Vec<Vec<u8>> = entries
            .iter()
            .map(|e| encode_frame(e, &[9u8; 64]))
            .collect();
        w.append(&frames).unwrap();
        path
    }

    fn scan(path: &Path) -> Vec<ScanItem> {
        SegmentReader::open(path)
            .unwrap()
            .map(|i| i.unwrap())
            .collect()
    }

    #[test]
    fn frames_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_segment(dir.path(), &[b"one", b"two", b"three"]);
        let items = scan(&path);
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[2], ScanItem::Frame { entry, .. } if entry == b"three"));
    }

    #[test]
    fn every_truncation_is_a_torn_tail_after_intact_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_segment(dir.path(), &[b"one", b"two"]);
        let full = std::fs::read(&path).unwrap();
        let second_start = SEGMENT_HEADER_LEN as usize + FRAME_HEADER_LEN + 3 + SIGNATURE_LEN;
        for cut in second_start + 1..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let items = scan(&path);
            assert_eq!(items.len(), 2, "cut at {cut}");
            assert!(matches!(items[0], ScanItem::Frame { .. }));
            assert_eq!(
                items[1],
                ScanItem::Torn {
                    offset: second_start as u64,
                    len: (cut - second_start) as u64
                }
            );
        }
    }

    #[test]
    fn damaged_header_is_corruption_and_reading_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_segment(dir.path(), &[b"one", b"two", b"three"]);
        let mut bytes = std::fs::read(&path).unwrap();
        let second = SEGMENT_HEADER_LEN as usize + FRAME_HEADER_LEN + 3 + SIGNATURE_LEN;
        // A flipped length byte must not turn an acknowledged frame into a "torn" tail.
        bytes[second + 5] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let items = scan(&path);
        assert!(matches!(items[0], ScanItem::Frame { .. }));
        assert!(matches!(items[1], ScanItem::Corrupt { offset, .. } if offset == second as u64));
        assert!(matches!(&items[2], ScanItem::Frame { entry, .. } if entry == b"three"));
    }

    #[test]
    fn zero_fill_is_torn_and_garbage_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_segment(dir.path(), &[b"one"]);
        let good = std::fs::read(&path).unwrap();
        let mut zeroed = good.clone();
        zeroed.extend_from_slice(&[0u8; 100]);
        std::fs::write(&path, &zeroed).unwrap();
        assert!(matches!(scan(&path)[1], ScanItem::Torn { len: 100, .. }));
        // More zero fill than one frame can be is damage, not a crash.
        let mut long_zero = good.clone();
        long_zero.extend_from_slice(&vec![
            0u8;
            FRAME_HEADER_LEN + MAX_ENTRY_BYTES + SIGNATURE_LEN + 1
        ]);
        std::fs::write(&path, &long_zero).unwrap();
        assert!(matches!(scan(&path)[1], ScanItem::Corrupt { .. }));
        let mut garbage = good;
        garbage.extend_from_slice(&[0x55u8; 100]);
        std::fs::write(&path, &garbage).unwrap();
        assert!(matches!(scan(&path)[1], ScanItem::Corrupt { len: 100, .. }));
    }
}
