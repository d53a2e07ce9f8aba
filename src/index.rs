//! How the derived index lays out what grows with a log, and the batches that
//! write it (docs/FORMAT.md §6.5).
//!
//! A sled insert costs a tree walk and a copy of the page it lands on, so an
//! index that writes a dozen keys for every entry (an id for each sequence
//! number, a key for each Merkle node, one for each name token) spends far
//! more on the index than on signing. Here what is dense by position (ids by
//! sequence number, Merkle nodes by level and index) is kept as fixed-width
//! items in chunks, one sled value per chunk, and an append call gathers its
//! writes in memory and gives each chunk one read and one write. Every write
//! is by position or a set union, so writing the same entries twice (a
//! catch-up after a crash between two commits) gives the same index.

use std::collections::BTreeMap;

/// Width of every chunked item: an entry id or a Merkle hash.
pub const ITEM_LEN: usize = 32;
/// Entry ids per value of the `seqs` tree.
pub const IDS_PER_CHUNK: u64 = 256;
/// Merkle hashes per value of the `merkle-nodes` tree.
pub const NODES_PER_CHUNK: u64 = 64;
/// Written with the format marker: an index of another layout is rebuilt.
pub const LAYOUT_MARK: &[u8] = b"layout";
pub const LAYOUT: &[u8] = b"chunked-v4";

/// Key of the chunk of `log`'s ids holding sequence number `seq`, and the
/// position in it.
pub fn id_chunk(log: &[u8; 32], seq: u64) -> (Vec<u8>, usize) {
    let mut key = Vec::with_capacity(40);
    key.extend_from_slice(log);
    key.extend_from_slice(&(seq / IDS_PER_CHUNK).to_be_bytes());
    (key, (seq % IDS_PER_CHUNK) as usize)
}

/// Key of the chunk of `log`'s Merkle nodes at `level` holding `index`, and
/// the position in it.
pub fn node_chunk(log: &[u8; 32], level: u8, index: u64) -> (Vec<u8>, usize) {
    let mut key = Vec::with_capacity(41);
    key.extend_from_slice(log);
    key.push(level);
    key.extend_from_slice(&(index / NODES_PER_CHUNK).to_be_bytes());
    (key, (index % NODES_PER_CHUNK) as usize)
}

/// The item at `position` of a chunk value; `None` past its end or where
/// the position holds zeros (a withheld or damaged leaf has no id).
pub fn item_at(value: &[u8], position: usize) -> Option<[u8; ITEM_LEN]> {
    let start = position * ITEM_LEN;
    let item: [u8; ITEM_LEN] = value.get(start..start + ITEM_LEN)?.try_into().ok()?;
    (item != [0u8; ITEM_LEN]).then_some(item)
}

/// Read one item of a chunked tree.
pub fn read_item(
    tree: &sled::Tree,
    (key, position): (Vec<u8>, usize),
) -> sled::Result<Option<[u8; ITEM_LEN]>> {
    Ok(tree.get(key)?.and_then(|v| item_at(&v, position)))
}

/// Items to place in chunks, gathered for one commit.
#[derive(Default)]
pub struct ChunkWrites {
    pending: BTreeMap<Vec<u8>, Vec<(usize, [u8; ITEM_LEN])>>,
}

impl ChunkWrites {
    pub fn put(&mut self, (key, position): (Vec<u8>, usize), item: [u8; ITEM_LEN]) {
        self.pending.entry(key).or_default().push((position, item));
    }

    /// One read and one write per chunk touched. Positions not written stay
    /// zero, which reads as "no item".
    pub fn commit(self, tree: &sled::Tree) -> sled::Result<()> {
        let mut batch = sled::Batch::default();
        for (key, items) in self.pending {
            let mut value = tree.get(&key)?.map(|v| v.to_vec()).unwrap_or_default();
            for (position, item) in items {
                let start = position * ITEM_LEN;
                if value.len() < start + ITEM_LEN {
                    value.resize(start + ITEM_LEN, 0);
                }
                value[start..start + ITEM_LEN].copy_from_slice(&item);
            }
            batch.insert(key, value);
        }
        tree.apply_batch(batch)
    }
}

/// Apply `f` to every item on all cores, keeping the order. Small inputs stay
/// on the calling thread, where starting threads would cost more than the
/// work.
pub fn par_map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || items.len() < 64 {
        return items.into_iter().map(f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let mut parts: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut items = items.into_iter();
    loop {
        let part: Vec<T> = items.by_ref().take(per_thread).collect();
        if part.is_empty() {
            break;
        }
        parts.push(part);
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || part.into_iter().map(f).collect::<Vec<U>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(part) => part,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_writes_fill_positions_and_leave_gaps_empty() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let log = [7u8; 32];
        let mut w = ChunkWrites::default();
        w.put(id_chunk(&log, 0), [1; 32]);
        w.put(id_chunk(&log, 2), [3; 32]);
        w.put(id_chunk(&log, IDS_PER_CHUNK + 1), [4; 32]);
        w.commit(&tree).unwrap();
        assert_eq!(read_item(&tree, id_chunk(&log, 0)).unwrap(), Some([1; 32]));
        assert_eq!(read_item(&tree, id_chunk(&log, 1)).unwrap(), None);
        assert_eq!(read_item(&tree, id_chunk(&log, 2)).unwrap(), Some([3; 32]));
        assert_eq!(read_item(&tree, id_chunk(&log, 3)).unwrap(), None);
        assert_eq!(
            read_item(&tree, id_chunk(&log, IDS_PER_CHUNK + 1)).unwrap(),
            Some([4; 32])
        );
        // A later commit extends a chunk without losing what it held, and
        // writing the same item again changes nothing.
        let mut w = ChunkWrites::default();
        w.put(id_chunk(&log, 1), [2; 32]);
        w.put(id_chunk(&log, 2), [3; 32]);
        w.commit(&tree).unwrap();
        for (seq, item) in [(0, 1u8), (1, 2), (2, 3)] {
            assert_eq!(
                read_item(&tree, id_chunk(&log, seq)).unwrap(),
                Some([item; 32])
            );
        }
    }

    #[test]
    fn par_map_keeps_order() {
        let items: Vec<u64> = (0..1000).collect();
        let out = par_map(items.clone(), |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }
}
