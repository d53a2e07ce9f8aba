//! STUB: replaced by the merkle module.
use sha2::{Digest, Sha256};
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Hash(pub [u8; 32]);
impl Hash {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}
impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}
pub fn empty_root() -> Hash {
    Hash(Sha256::digest(b"").into())
}
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    Hash(h.finalize().into())
}
pub fn node_hash(l: &Hash, r: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l.0);
    h.update(r.0);
    Hash(h.finalize().into())
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    peaks: Vec<(u8, Hash)>,
}
impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut out = vec![(
            NodeId {
                level: 0,
                index: self.size,
            },
            leaf,
        )];
        let mut cur = (0u8, leaf);
        let mut idx = self.size;
        while let Some(&(lvl, h)) = self.peaks.last() {
            if lvl != cur.0 {
                break;
            }
            self.peaks.pop();
            let p = node_hash(&h, &cur.1);
            idx /= 2;
            cur = (lvl + 1, p);
            out.push((
                NodeId {
                    level: lvl + 1,
                    index: idx,
                },
                p,
            ));
        }
        self.peaks.push(cur);
        self.size += 1;
        out
    }
    pub fn root(&self) -> Hash {
        let mut it = self.peaks.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(&(_, first)) => it.fold(first, |acc, (_, h)| node_hash(h, &acc)),
        }
    }
    pub fn from_nodes<E>(
        size: u64,
        mut node: impl FnMut(NodeId) -> Result<Hash, E>,
    ) -> Result<Frontier, E> {
        let mut peaks = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            let w = 1u64 << level;
            if size & w != 0 {
                peaks.push((
                    level,
                    node(NodeId {
                        level,
                        index: start >> level,
                    })?,
                ));
                start += w;
            }
        }
        Ok(Frontier { size, peaks })
    }
}
