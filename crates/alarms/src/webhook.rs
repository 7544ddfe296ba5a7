//! Webhooks: each alarm is POSTed to `[alarms] webhook` URLs as its `streamprobe.alarm/1`
//! JSON record (`Content-Type: application/json`), signed when `webhook_secret_file` is set:
//! `X-Streamprobe-Signature: sha256=<hex of HMAC-SHA256(key, body)>` (RFC 2104, FIPS 180-4).
//! A 2xx answer is delivery. A 4xx other than 408 (Request Timeout) and 429 (Too Many
//! Requests) says the request itself is wrong (RFC 9110 section 15.5: a bad URL, token or
//! body): sending it again cannot succeed, so the alarm is counted dropped, the status kept
//! as the last error, and the next alarm sent. Anything else (a 5xx, 408, 429, a redirect, no
//! answer within the timeout) is a failure and the alarm is sent again after the back-off.

use crate::config::Secret;
use crate::queue::{Channel, Failure};
use analysis::alarm::AlarmRecord;
use hmac::{KeyInit, Mac};
use std::time::Duration;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Streamprobe-Signature";

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length (RFC 2104 section 2): the error cannot happen.
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One webhook.
pub struct WebhookChannel {
    url: String,
    agent: ureq::Agent,
    secret: Option<Secret>,
}

impl WebhookChannel {
    pub fn new(url: String, secret: Option<Secret>, timeout: Duration) -> WebhookChannel {
        let agent = ureq::AgentBuilder::new()
            .timeout(timeout)
            // A redirect is the server's mistake to fix, not a place to send alarms to.
            .redirects(0)
            .user_agent(concat!("streamprobe/", env!("CARGO_PKG_VERSION")))
            .build();
        WebhookChannel { url, agent, secret }
    }
}

impl Channel for WebhookChannel {
    fn send(&mut self, alarm: &AlarmRecord) -> Result<(), Failure> {
        let body = serde_json::to_vec(alarm).map_err(|e| format!("{}: {e}", self.url))?;
        let mut request = self
            .agent
            .post(&self.url)
            .set("Content-Type", "application/json");
        if let Some(secret) = &self.secret {
            request = request.set(SIGNATURE_HEADER, &signature(secret.bytes(), &body));
        }
        let code = match request.send_bytes(&body) {
            Ok(response) if (200..300).contains(&response.status()) => return Ok(()),
            Ok(response) => response.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => return Err(format!("{}: {e}", self.url).into()),
        };
        if (400..500).contains(&code) && code != 408 && code != 429 {
            Err(Failure::permanent(format!(
                "{}: HTTP {code} (refused: this alarm is dropped, not retried)",
                self.url
            )))
        } else {
            Err(format!("{}: HTTP {code}", self.url).into())
        }
    }
}
