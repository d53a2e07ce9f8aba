//! Sijill (سجل, "register"): an append-only, signed record of people killed and
//! people missing in a conflict.
//!
//! The layers, from pure data to disk (see `docs/FORMAT.md` for the bytes):
//! [`record`] (the schema and its validation), [`canonical`] (the one byte form),
//! [`keys`] and [`entry`] (ids, signatures, key files), [`merkle`] (RFC 6962 trees),
//! [`segment`] and [`store`] (the only code that touches disk), and [`audit`].
//! Verification never needs a store: bytes and public keys are enough.

pub mod audit;
pub mod batch_intent;
pub mod bundle;
pub mod canonical;
pub mod csv_io;
pub mod digest_table;
pub mod entry;
pub mod evidence_files;
pub mod exchange;
pub mod filter;
pub mod group_keys;
pub mod index;
pub mod keys;
pub mod lifecycle;
pub mod merkle;
pub mod note;
pub mod record;
pub mod search;
pub mod segment;
pub mod stats;
pub mod store;
pub mod trust;

/// The format version written into every entry and file header (docs/FORMAT.md §1).
pub const FORMAT_VERSION: u64 = 1;
