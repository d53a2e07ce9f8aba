//! How a failed command is told to the user: an `error:` line, `hint:` lines
//! saying what to do next, and the exit status (1 integrity, 2 usage or input).

use std::fmt;

use sijill::keys::KeyError;
use sijill::record::RecordError;
use sijill::store::StoreError;

pub const EXIT_INTEGRITY: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    pub hints: Vec<String>,
    /// The index (derived data) turned out damaged while the command ran:
    /// rebuilding it and running a read-only command again is safe.
    pub index_damaged: bool,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
            hints: Vec::new(),
            index_damaged: false,
        }
    }

    pub fn integrity(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_INTEGRITY,
            message: message.into(),
            hints: Vec::new(),
            index_damaged: false,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hints.push(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        for hint in &self.hints {
            writeln!(f, "hint: {hint}")?;
        }
        Ok(())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        let index_damaged = matches!(
            e,
            StoreError::IndexDamaged(_) | StoreError::Index(sled::Error::Corruption { .. })
        );
        let mut failure = Failure::from_store_error(e);
        failure.index_damaged = index_damaged;
        if index_damaged {
            failure.hints = vec![
                "the index is derived from the log files: `sijill reindex` rebuilds it".into(),
            ];
        }
        failure
    }
}

impl Failure {
    fn from_store_error(e: StoreError) -> Failure {
        let message = e.to_string();
        match e {
            StoreError::NotAStore { .. } => Failure::usage(message).hint(
                "create one with `sijill --store DIR init --org NAME`, or point --store (or SIJILL_STORE) at an existing store",
            ),
            StoreError::AlreadyExists { .. } => Failure::usage(message)
                .hint("a store is never overwritten; choose another directory with --store"),
            StoreError::InUse { .. } => Failure::usage(message)
                .hint("wait for the other command to finish, then try again"),
            StoreError::Key { ref source, .. } => {
                let hint = match source {
                    KeyError::WrongPassphrase => {
                        Some("check the passphrase (SIJILL_PASSPHRASE, if set, is used instead of asking)")
                    }
                    KeyError::PassphraseRequired => {
                        Some("set SIJILL_PASSPHRASE or run the command in a terminal to be asked for it")
                    }
                    _ => None,
                };
                let failure = Failure::usage(message);
                match hint {
                    Some(h) => failure.hint(h),
                    None => failure,
                }
            }
            StoreError::BadId(..) | StoreError::NotFound(_) => Failure::usage(message)
                .hint("`sijill list` shows the ids of the records in this store"),
            StoreError::Ambiguous { .. } => {
                Failure::usage(message).hint("give more characters of the id")
            }
            ref e if e.is_integrity_failure() => Failure::integrity(message)
                .hint("run `sijill audit` for every finding with its log, sequence number and entry"),
            _ => Failure::usage(message),
        }
    }
}

/// A record that does not pass the schema, with the input's name.
pub fn record_failure(source: &str, e: RecordError) -> Failure {
    let mut at = source.to_string();
    if let (Some(line), Some(column)) = (e.line, e.column) {
        at.push_str(&format!(":{line}:{column}"));
    }
    if let Some(field) = &e.field {
        at.push_str(&format!(": field `{field}`"));
    }
    let failure = Failure::usage(format!("{at}: {}", e.message));
    let failure = match &e.hint {
        Some(h) => failure.hint(h.clone()),
        None => failure,
    };
    failure.hint("docs/SCHEMA.md lists every field and the values it accepts")
}
