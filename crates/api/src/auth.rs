//! The API token. Changing calls (`POST`) always need `Authorization: Bearer TOKEN`; reading
//! needs it only with `[api] read_token = true`. The token is read from the token file; when
//! that file does not exist it is made at start, with 128 random bits, mode 0600, so only
//! the probe's user (and root) can read it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Reads the token in `path`, or makes one there. One error line naming the file.
pub fn load_or_create(path: &Path) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            // A token anyone could have written, or read, grants nothing: it must be this
            // user's file and no one else's to read.
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(path)
                .map_err(|e| format!("{}: cannot read the API token: {e}", path.display()))?;
            // Its group may read it (the packaged service's admins), nobody else may, and
            // only its owner may write it.
            let mode = meta.mode() & 0o777;
            if mode & 0o027 != 0 {
                return Err(format!(
                    "{}: the API token file may be written by its group or read by others (mode {mode:04o}): chmod 600 (or 640) {0}",
                    path.display()
                ));
            }
            if let Ok(me) = std::fs::metadata("/proc/self") {
                if meta.uid() != me.uid() {
                    return Err(format!(
                        "{}: the API token file belongs to uid {}, not to this probe's user (uid {})",
                        path.display(),
                        meta.uid(),
                        me.uid()
                    ));
                }
            }
            let token = text.trim().to_string();
            if token.len() < 16 {
                return Err(format!(
                    "{}: the API token must be at least 16 characters (this one has {})",
                    path.display(),
                    token.len()
                ));
            }
            Ok(token)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = random_token().map_err(|e| format!("cannot make an API token: {e}"))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("{}: cannot write the API token: {e}", path.display()))?;
            writeln!(file, "{token}")
                .map_err(|e| format!("{}: cannot write the API token: {e}", path.display()))?;
            Ok(token)
        }
        Err(e) => Err(format!(
            "{}: cannot read the API token: {e}",
            path.display()
        )),
    }
}

/// 32 hex digits from the kernel's random source.
fn random_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `header` (the Authorization header's value) carries `token`. Compared in
/// constant time: the comparison's time says nothing of how much of a guess was right.
pub fn authorised(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_token_is_made_once_with_mode_0600_and_read_back() {
        let dir = std::env::temp_dir().join(format!("sp-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("streamprobe.token");
        let _ = std::fs::remove_file(&path);
        let made = load_or_create(&path).unwrap();
        assert_eq!(made.len(), 32);
        assert!(made.bytes().all(|b| b.is_ascii_hexdigit()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create(&path).unwrap(), made);
        std::fs::write(&path, "short\n").unwrap();
        assert!(load_or_create(&path)
            .unwrap_err()
            .contains("at least 16 characters"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_the_exact_bearer_token_is_authorised() {
        let t = "0123456789abcdef0123456789abcdef";
        assert!(authorised(Some(&format!("Bearer {t}")), t));
        assert!(!authorised(Some(&format!("Bearer {t}0")), t));
        assert!(!authorised(Some(&format!("Basic {t}")), t));
        assert!(!authorised(
            Some("Bearer 0123456789abcdef0123456789abcdee"),
            t
        ));
        assert!(!authorised(None, t));
    }
}
