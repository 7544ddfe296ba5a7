//! Every failed request gets a status and a JSON body naming what was wrong
//! (`streamprobe.error/1`), never a panic and never an HTML page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// A request the API refuses, or could not answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 404: nothing by that name.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 500: the probe could not answer (the store failed).
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }

    /// Any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

#[derive(Serialize)]
struct ErrorDocument<'a> {
    schema: &'static str,
    status: u16,
    error: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorDocument {
            schema: "streamprobe.error/1",
            status: self.status.as_u16(),
            error: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// An extractor's rejection (bad query, bad body, body too large) as a JSON error with the
/// rejection's own status.
pub fn rejected<R: IntoResponse + std::fmt::Display>(r: R) -> ApiError {
    let message = r.to_string();
    ApiError::new(r.into_response().status(), message)
}
