//! The HTTP routes: the vendor endpoint `/` (every scheme, every operation) and the admin
//! API under `/_emulator/`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use bytes::Bytes;

use super::request::RawRequest;
use super::server::ConnControl;
use super::{admin, metadata, pipeline, Emulator};

/// Largest request body read (the vendors' own limits are of the same order).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The emulator's router.
pub(crate) fn router(emu: Arc<Emulator>) -> Router {
    Router::new()
        .nest("/_emulator", admin::routes())
        .nest("/latest", metadata::routes())
        .route("/", any(vendor))
        .fallback(not_found)
        .with_state(emu)
}

async fn vendor(State(emu): State<Arc<Emulator>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let conn = parts.extensions.get::<ConnControl>().cloned();
    let (body, body_too_large) = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => (bytes, false),
        Err(_) => (Bytes::new(), true),
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let raw = RawRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts.headers,
        body,
        body_too_large,
        host,
    };
    pipeline::handle(&emu, raw, conn).await
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":"not found: the vendor endpoint is / and the admin API is under /_emulator/"}"#,
    )
        .into_response()
}
