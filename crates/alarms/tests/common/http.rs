//! A tiny HTTP server playing the user's webhook receiver: it checks each request's
//! HMAC-SHA256 signature with the key it was given, answers the status the test sets, and
//! records what it was sent.

use hmac::{KeyInit, Mac};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
    /// Whether the signature header was there and matched the body.
    pub signed: bool,
    pub body: String,
}

pub struct Hook {
    pub port: u16,
    /// The status of the next answers.
    pub status: Arc<AtomicU16>,
    /// When not 0, the status of the next answer only (then back to `status`).
    pub once: Arc<AtomicU16>,
    pub received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Hook {
    /// Listens on 127.0.0.1:`port` (0: any) and checks signatures with `key`.
    pub fn start(port: u16, key: &[u8], received: Arc<Mutex<Vec<Received>>>) -> Hook {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let status = Arc::new(AtomicU16::new(200));
        let once = Arc::new(AtomicU16::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let key = key.to_vec();
        let thread = std::thread::spawn({
            let (status, once, stop, received) =
                (status.clone(), once.clone(), stop.clone(), received.clone());
            move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    let mut reader = BufReader::new(stream);
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        continue;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    let (mut length, mut content_type, mut signature) = (0, None, None);
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                        let Some((name, value)) = h.split_once(':') else {
                            continue;
                        };
                        let value = value.trim().to_string();
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.parse().unwrap_or(0),
                            "content-type" => content_type = Some(value),
                            "x-streamprobe-signature" => signature = Some(value),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        continue;
                    }
                    let signed = signature.is_some_and(|s| {
                        let Some(hex) = s.strip_prefix("sha256=") else {
                            return false;
                        };
                        let Ok(tag) = hex::decode(hex) else {
                            return false;
                        };
                        let mut mac =
                            <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
                        mac.update(&body);
                        mac.verify_slice(&tag).is_ok()
                    });
                    let code = match once.swap(0, Ordering::SeqCst) {
                        0 => status.load(Ordering::SeqCst),
                        code => code,
                    };
                    received.lock().unwrap().push(Received {
                        method,
                        path,
                        content_type,
                        signed,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let mut stream = reader.into_inner();
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = stream.flush();
                }
            }
        });
        Hook {
            port,
            status,
            once,
            received,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops listening (the port refuses connections from then on).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// The bodies answered 2xx, in order.
    pub fn delivered(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.stop();
    }
}
