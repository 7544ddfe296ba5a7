//! A `streamprobe run` started for a test, its API found from the address it prints, asked
//! over plain HTTP/1.1 (no client library: the API's answers are what is under test).

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A running probe.
pub struct Probe {
    pub child: Child,
    /// Its API.
    pub api: SocketAddr,
    /// Its folder (the working directory: token, store).
    pub dir: PathBuf,
    /// Lines of its standard error, as they come.
    pub stderr: Receiver<String>,
    /// Its standard output, read on a thread until it ends.
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
}

/// A fresh folder under the target's temporary folder.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Probe {
    /// `streamprobe run ARGS` in `dir`, API on a free loopback port unless ARGS give one;
    /// waits until it says where its API is.
    pub fn start(dir: &Path, args: &[&str]) -> Probe {
        let mut command = Command::new(env!("CARGO_BIN_EXE_streamprobe"));
        command.current_dir(dir).arg("run").args(args);
        if !args.iter().any(|a| a.starts_with("--api")) {
            command.args(["--api-listen", "127.0.0.1:0"]);
        }
        let mut child = command
            .env_remove("STREAMPROBE_STORE")
            .env_remove("STREAMPROBE_API_LISTEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start streamprobe run");
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = out.read_to_end(&mut all);
            all
        });
        let (tx, rx) = channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let api = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "the probe never said where its API is: {:?}",
                    child.try_wait()
                )
            });
            if let Some(rest) = line.split("API on http://").nth(1) {
                break rest.split(',').next().unwrap().parse().unwrap();
            }
            assert!(!line.starts_with("error"), "{line}");
        };
        Probe {
            child,
            api,
            dir: dir.to_path_buf(),
            stderr: rx,
            stdout: Some(stdout),
        }
    }

    /// The next stderr line that contains `text`, within `wait`.
    pub fn stderr_line(&self, text: &str, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(l) if l.contains(text) => return l,
                Ok(_) => {}
                Err(_) => panic!("no stderr line with {text:?} within {wait:?}"),
            }
        }
    }

    /// One request to the API: (status, body).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> (u16, String) {
        http(self.api, method, path, token, body)
    }

    /// A GET that must answer 200 with JSON.
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.http("GET", path, None, b"");
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// The API token the probe made.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.dir.join("streamprobe.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Waits until the live view has an interval whose probe record passes `ready`.
    pub fn wait_for(&self, wait: Duration, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + wait;
        loop {
            let health = self.get("/api/v1/health");
            if ready(&health) {
                return health;
            }
            assert!(
                Instant::now() < deadline,
                "not ready within {wait:?}: {health}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `signal` to the probe.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// Its standard output after it was killed (it has ended: waited for).
    pub fn stop_killed(mut self) -> (Vec<u8>, std::process::ExitStatus) {
        let status = self.child.wait().unwrap();
        (self.stdout.take().unwrap().join().unwrap(), status)
    }

    /// SIGTERM, then its standard output once it has ended, and its exit status.
    pub fn stop(mut self) -> (Vec<u8>, std::process::ExitStatus) {
        self.signal(libc::SIGTERM);
        let status = self.child.wait().unwrap();
        (self.stdout.take().unwrap().join().unwrap(), status)
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request: (status, body).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Length: {}\r\n\r\n", body.len()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {text}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    // Chunked bodies (axum streams nothing, but a large body may be chunked): undo it.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body.to_string()
    };
    (status, body)
}

/// A free loopback port (bound and released; the test binds it again at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
