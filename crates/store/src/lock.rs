//! One writer per store file: an exclusive `flock` on a `PATH-lock` sidecar, held for the
//! life of the [`crate::Store`].
//!
//! A sidecar and not the database file itself: SQLite keeps POSIX (fcntl) locks on the
//! database, and POSIX drops every lock a process holds on a file when any descriptor of it is
//! closed, so a second descriptor on the database could break SQLite's own locking. `flock`
//! locks belong to the open file description: a second `Store` in the same process opens the
//! sidecar again and is refused like one in another process. The kernel drops the lock when
//! the process dies (kill -9 included), so a stale lock file never blocks a restart.

use crate::error::StoreError;
use rustix::fs::{flock, FlockOperation};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The held lock; dropping it (closing the file) releases it.
#[derive(Debug)]
pub(crate) struct StoreLock {
    _file: File,
}

/// A sidecar's path: the store's path with `suffix` appended (`-lock`, SQLite's `-wal`).
pub(crate) fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl StoreLock {
    /// Takes the lock without waiting, and writes this process's pid into the sidecar so that
    /// a refused opener can say who holds it.
    pub(crate) fn take(path: &Path, file_name: &str) -> Result<StoreLock, StoreError> {
        let lock_file = sidecar(path, "-lock");
        let io = |what: &'static str| {
            move |source: std::io::Error| StoreError::Io {
                file: sidecar_name(file_name),
                what,
                source,
            }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_file)
            .map_err(io("opening the lock file"))?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut pid = String::new();
                // The holder wrote its pid after locking; a read that fails or finds nothing
                // (the holder is between lock and write) still refuses, naming no pid.
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(StoreError::Locked {
                    file: file_name.to_string(),
                    pid: if pid.is_empty() {
                        "unknown".to_string()
                    } else {
                        pid.to_string()
                    },
                });
            }
            Err(e) => return Err(io("locking the lock file")(e.into())),
        }
        file.set_len(0).map_err(io("writing the lock file"))?;
        file.seek(SeekFrom::Start(0))
            .map_err(io("writing the lock file"))?;
        write!(file, "{}", std::process::id()).map_err(io("writing the lock file"))?;
        Ok(StoreLock { _file: file })
    }
}

fn sidecar_name(file_name: &str) -> String {
    format!("{file_name}-lock")
}
