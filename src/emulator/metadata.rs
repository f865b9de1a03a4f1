//! The instance metadata services, on the emulator's listener under `/latest/`:
//!
//! - Alibaba ECS (IMDSv2): `PUT /latest/api/token` with
//!   `X-aliyun-ecs-metadata-token-ttl-seconds: 1..21600` answers a session token (text);
//!   `GET /latest/meta-data/ram/security-credentials/<role>` with
//!   `X-aliyun-ecs-metadata-token: <token>` answers
//!   `{"AccessKeyId","AccessKeySecret","SecurityToken","Expiration","LastUpdated","Code":"Success"}`
//!   (401 without a valid token, 400 for a bad TTL).
//! - Tencent CVM: `GET /latest/meta-data/cam/security-credentials/<role>` answers
//!   `{"TmpSecretId","TmpSecretKey","Token","ExpiredTime","Expiration","Code":"Success"}`.
//!
//! Every answer issues a fresh credential (counted in `/_emulator/credentials`). While
//! the services are switched off (`{"metadata_available":false}`) they answer HTTP 503.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::json;

use crate::catalog::Vendor;
use crate::credentials::{ECS_TOKEN_HEADER, ECS_TOKEN_TTL_HEADER};

use super::sts::Issuer;
use super::Emulator;

/// Routes relative to `/latest`.
pub(crate) fn routes() -> Router<Arc<Emulator>> {
    Router::new()
        .route("/api/token", put(ecs_token))
        .route("/meta-data/ram/security-credentials/{role}", get(ecs_role))
        .route("/meta-data/cam/security-credentials/{role}", get(cvm_role))
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "metadata service unavailable",
    )
        .into_response()
}

async fn ecs_token(State(emu): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    if !emu.issued.metadata_available() {
        return unavailable();
    }
    let ttl = headers
        .get(ECS_TOKEN_TTL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|t| (1..=21_600).contains(t));
    match ttl {
        Some(ttl) => emu
            .issued
            .ecs_token(Duration::from_secs(ttl))
            .into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            format!("{ECS_TOKEN_TTL_HEADER} must be between 1 and 21600"),
        )
            .into_response(),
    }
}

async fn ecs_role(
    State(emu): State<Arc<Emulator>>,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !emu.issued.metadata_available() {
        return unavailable();
    }
    let token_ok = headers
        .get(ECS_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| emu.issued.ecs_token_valid(t));
    if !token_ok {
        return (
            StatusCode::UNAUTHORIZED,
            "metadata token missing or expired",
        )
            .into_response();
    }
    tracing::debug!(%role, "ECS RAM role credentials issued");
    let k = emu.issued.issue(Vendor::Alibaba, Issuer::Metadata, None);
    Json(json!({
        "AccessKeyId": k.key.id,
        "AccessKeySecret": k.key.secret,
        "SecurityToken": k.key.token,
        "Expiration": crate::signing::iso8601(k.expires_at),
        "LastUpdated": crate::signing::iso8601(Utc::now()),
        "Code": "Success",
    }))
    .into_response()
}

async fn cvm_role(State(emu): State<Arc<Emulator>>, Path(role): Path<String>) -> Response {
    if !emu.issued.metadata_available() {
        return unavailable();
    }
    tracing::debug!(%role, "CVM role credentials issued");
    let k = emu.issued.issue(Vendor::Tencent, Issuer::Metadata, None);
    Json(json!({
        "TmpSecretId": k.key.id,
        "TmpSecretKey": k.key.secret,
        "Token": k.key.token,
        "ExpiredTime": k.expires_at.timestamp(),
        "Expiration": crate::signing::iso8601(k.expires_at),
        "Code": "Success",
    }))
    .into_response()
}
