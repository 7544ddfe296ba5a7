//! What can go wrong, said in one line that names the store file.

use std::path::Path;

/// A store error. `Display` is one line: the file, then what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another `Store` (in this process or another) holds the file's lock.
    #[error("{file}: locked by another streamprobe (pid {pid}): one probe per store file")]
    Locked {
        /// The store file.
        file: String,
        /// The holder's pid as it wrote it in the lock file (`unknown` if unreadable).
        pid: String,
    },
    /// A SQLite database, but not one streamprobe made.
    #[error("{file}: not a streamprobe store ({why})")]
    NotAStore {
        /// The store file.
        file: String,
        /// What was found instead.
        why: String,
    },
    /// A store made by a later streamprobe.
    #[error("{file}: schema version {found} is newer than this streamprobe's ({supported}): upgrade streamprobe")]
    Newer {
        /// The store file.
        file: String,
        /// The file's `PRAGMA user_version`.
        found: i64,
        /// The version this build reads and writes.
        supported: i64,
    },
    /// The file is not a SQLite database at all.
    #[error("{file}: file is not a database")]
    NotADatabase {
        /// The store file.
        file: String,
    },
    /// A reader was opened on a file that does not exist.
    #[error("{file}: no such store")]
    Missing {
        /// The store file.
        file: String,
    },
    /// A blob or row that does not decode: the file was damaged or written by other code.
    #[error("{file}: corrupt {what}")]
    Corrupt {
        /// The store file.
        file: String,
        /// Which table or blob, and why.
        what: String,
    },
    /// A query's arguments cannot be answered (bad step, range too large).
    #[error("{file}: {what}")]
    Query {
        /// The store file.
        file: String,
        /// What is wrong with the arguments.
        what: String,
    },
    /// SQLite failed.
    #[error("{file}: {what}: {source}")]
    Sqlite {
        /// The store file.
        file: String,
        /// What the store was doing.
        what: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file system failed (the lock file).
    #[error("{file}: {what}: {source}")]
    Io {
        /// The file.
        file: String,
        /// What the store was doing.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The name errors give a file: the path as the caller gave it.
pub(crate) fn name(path: &Path) -> String {
    path.display().to_string()
}

/// Turns a SQLite error into a [`StoreError`] naming `file` and what was being done; SQLite's
/// "file is not a database" becomes [`StoreError::NotADatabase`].
pub(crate) fn sql(file: &str, what: &'static str, e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.code == rusqlite::ErrorCode::NotADatabase {
            return StoreError::NotADatabase {
                file: file.to_string(),
            };
        }
    }
    StoreError::Sqlite {
        file: file.to_string(),
        what,
        source: e,
    }
}

/// A blob that does not decode (pack.rs), named for the user.
pub(crate) fn corrupt(file: &str, what: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        file: file.to_string(),
        what: what.into(),
    }
}
