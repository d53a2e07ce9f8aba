//! Standard output that a read-only command can take back.
//!
//! A read-only command that meets a damaged index rebuilds the index and runs
//! again (src/cli/mod.rs). The index is checked as it is read, so the damage
//! may show after part of the output was written; printed twice, a listing
//! would be wrong. While held, output is kept in memory (up to
//! [`HOLD_LIMIT`]) and only written when the command ends, so a second run
//! can replace it. Output larger than that is written as it comes, and a
//! damage found after that point is reported instead of retried.

use std::cell::RefCell;
use std::io::{self, Write};

/// Output kept back at most; past it, output is written through.
pub const HOLD_LIMIT: usize = 8 << 20;

thread_local! {
    static HELD: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Start keeping output back.
pub fn hold() {
    HELD.with(|h| *h.borrow_mut() = Some(Vec::new()));
}

/// Forget what was kept back. False when output was already written through
/// (it cannot be taken back).
pub fn discard() -> bool {
    HELD.with(|h| h.borrow_mut().as_mut().map(Vec::clear).is_some())
}

/// Write what was kept back and stop holding.
pub fn release() -> io::Result<()> {
    let held = HELD.with(|h| h.borrow_mut().take());
    let mut out = io::stdout().lock();
    if let Some(bytes) = held {
        out.write_all(&bytes)?;
    }
    out.flush()
}

/// The command's standard output.
pub fn stdout() -> Gate {
    Gate
}

pub struct Gate;

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let through = HELD.with(|h| {
            let mut h = h.borrow_mut();
            match h.as_mut() {
                Some(kept) if kept.len() + buf.len() <= HOLD_LIMIT => {
                    kept.extend_from_slice(buf);
                    None
                }
                Some(_) => h.take(),
                None => Some(Vec::new()),
            }
        });
        match through {
            None => Ok(buf.len()),
            Some(kept) => {
                let mut out = io::stdout().lock();
                out.write_all(&kept)?;
                out.write(buf)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if HELD.with(|h| h.borrow().is_some()) {
            return Ok(());
        }
        io::stdout().flush()
    }
}
