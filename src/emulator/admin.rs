//! The admin API under `/_emulator/` (shapes documented in the module doc of `emulator`).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::faults::{Fault, FaultKind};
use super::Emulator;

/// Routes relative to `/_emulator`.
pub(crate) fn routes() -> Router<Arc<Emulator>> {
    Router::new()
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/calls", get(calls))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/reset", post(reset))
        .route("/credentials", get(credentials).post(configure_credentials))
}

async fn health(State(emu): State<Arc<Emulator>>) -> Response {
    Json(json!({"status": "ok", "operations": emu.catalog.operations().len()})).into_response()
}

async fn stats(State(emu): State<Arc<Emulator>>) -> Response {
    Json(emu.stats()).into_response()
}

#[derive(Debug, Deserialize)]
struct CallsQuery {
    action: Option<String>,
}

async fn calls(State(emu): State<Arc<Emulator>>, Query(q): Query<CallsQuery>) -> Response {
    Json(emu.state.calls(q.action.as_deref())).into_response()
}

async fn list_faults(State(emu): State<Arc<Emulator>>) -> Response {
    Json(json!({"faults": emu.faults()})).into_response()
}

// The body is read as JSON whatever its Content-Type (curl -d sends a form type).
async fn add_fault(State(emu): State<Arc<Emulator>>, body: axum::body::Bytes) -> Response {
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(fault) => fault,
        Err(e) => return bad_request(format!("not a fault: {e}")),
    };
    if let Err(reason) = check_fault(&fault) {
        return bad_request(reason);
    }
    emu.inject(fault);
    (StatusCode::CREATED, Json(json!({"faults": emu.faults()}))).into_response()
}

async fn clear_faults(State(emu): State<Arc<Emulator>>) -> Response {
    emu.clear_faults();
    Json(json!({"faults": []})).into_response()
}

async fn credentials(State(emu): State<Arc<Emulator>>) -> Response {
    Json(emu.credential_stats()).into_response()
}

async fn configure_credentials(
    State(emu): State<Arc<Emulator>>,
    body: axum::body::Bytes,
) -> Response {
    match serde_json::from_slice::<super::CredentialSettings>(&body) {
        Ok(settings) => {
            emu.configure_credentials(&settings);
            Json(emu.credential_stats()).into_response()
        }
        Err(e) => bad_request(format!("not credential settings: {e}")),
    }
}

async fn reset(State(emu): State<Arc<Emulator>>) -> Response {
    emu.reset();
    Json(json!({"reset": true})).into_response()
}

fn bad_request(reason: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": reason}))).into_response()
}

/// Refuses faults that could not be answered as asked.
fn check_fault(fault: &Fault) -> Result<(), String> {
    if fault.action.is_empty() {
        return Err("action must not be empty".into());
    }
    let valid_status = |s: u16| (100..=599).contains(&s);
    match &fault.kind {
        FaultKind::Error {
            code, http_status, ..
        } => {
            if code.is_empty() {
                return Err("an error fault needs a code".into());
            }
            if http_status.is_some_and(|s| !valid_status(s)) {
                return Err("http_status must be between 100 and 599".into());
            }
        }
        FaultKind::HttpStatus { status } if !valid_status(*status) => {
            return Err("status must be between 100 and 599".into());
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_checks() {
        let ok = Fault::once("A", FaultKind::HttpStatus { status: 503 });
        assert!(check_fault(&ok).is_ok());
        assert!(check_fault(&Fault::once("", FaultKind::Drop)).is_err());
        assert!(check_fault(&Fault::once("A", FaultKind::HttpStatus { status: 42 })).is_err());
        let no_code = FaultKind::Error {
            code: String::new(),
            http_status: None,
            message: None,
        };
        assert!(check_fault(&Fault::once("A", no_code)).is_err());
    }
}
