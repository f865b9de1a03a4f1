//! The vendor emulator: an HTTP server that behaves like the Alibaba Cloud and Tencent Cloud
//! RPC endpoints for every operation in the [catalog](crate::catalog), for demos, load tests
//! and end-to-end tests (`cloudgate emulator`, `serve --emulate`).
//!
//! # Vendor endpoint
//!
//! `POST /` (and `GET /` for Alibaba) on one address serves every product. The scheme is
//! told apart by the request: an `X-TC-Action` header is Tencent TC3; an `Authorization:
//! ACS3-…` header Alibaba ACS3 (V3); an `Action` query (or form) parameter Alibaba RPC v1
//! (the official SDKs' RPC v1 path also sends `x-acs-action`/`x-acs-version` headers, which
//! are then ignored); otherwise an `x-acs-action` header is ACS3. Each request goes
//! through, in order:
//!
//! 1. authentication — the key id must be known, the timestamp within 15 min (Alibaba) or
//!    5 min (Tencent), the signature must match (computed with the `Host` value received,
//!    constant-time compare), a key registered with a token requires exactly that token
//!    (a key without one accepts none), and an Alibaba nonce is accepted once per key
//!    while its timestamp could still pass;
//! 2. action and version;
//! 3. injected faults for the action (after authentication, so a faulted call proves it
//!    was well signed; faulted calls do not count against the QPS limit, a delayed call
//!    does, after its delay);
//! 4. the documented QPS (`documented_qps`) per access key, sliding one-second window;
//! 5. parameters, against the catalog: required, allowed values, patterns, integer
//!    ranges, lengths, and for Tencent JSON types and unknown members;
//! 6. success: the documented sample body (`sample_response`) with a fresh request id.
//!
//! Errors are answered in the vendor's shape. Alibaba: HTTP 4xx/5xx with
//! `{"RequestId","HostId","Code","Message","Recommend"}` and
//! `Content-Type: application/json;charset=utf-8` (success too); an injected error whose
//! status is 200 (BSS `-116`) uses `{"RequestId","Code","Message","Success":false}`.
//! Tencent: HTTP 200 with `{"Response":{"Error":{"Code","Message"},"RequestId"}}`.
//!
//! | Situation | Alibaba code (HTTP) | Tencent code |
//! |---|---|---|
//! | unknown key id | `InvalidAccessKeyId.NotFound` (404) | `AuthFailure.SecretIdNotFound` |
//! | signature mismatch | `SignatureDoesNotMatch` (400), message ends `server string to sign is:<sts>` | `AuthFailure.SignatureFailure` |
//! | ACS3 `x-acs-content-sha256` ≠ body hash | `SignatureDoesNotMatch` (400) | – |
//! | Authorization missing/malformed, unsigned `host`/`x-acs-*`, signed header not sent | `IncompleteSignature` (400) | `AuthFailure.InvalidAuthorization` |
//! | other signature method/version | `InvalidSignatureMethod` (400) | `AuthFailure.InvalidAuthorization` |
//! | token missing / wrong | `MissingSecurityToken` / `InvalidSecurityToken.MismatchWithAccessKey` (400) | `AuthFailure.TokenFailure` |
//! | temporary credential expired (after signature and token verified) | `InvalidSecurityToken.Expired` (400) | `AuthFailure.TokenFailure` |
//! | timestamp bad / too far | `InvalidTimeStamp.Format` / `InvalidTimeStamp.Expired` (400) | `InvalidParameter` / `AuthFailure.SignatureExpire` |
//! | nonce reused | `SignatureNonceUsed` (400) | – |
//! | common parameter missing (`AccessKeyId`, `Version`, ...) | `Missing<Name>` (400) | `MissingParameter` |
//! | ACS3 header missing (`x-acs-date`, ...) | `MissingParameter` (400) | – |
//! | unknown action | `InvalidAction.NotFound` (404) | `InvalidAction` |
//! | wrong version | `InvalidVersion` (400) | `NoSuchVersion` |
//! | `X-TC-Region` missing (service `region_required`) | – | `MissingParameter` |
//! | required parameter missing/empty | `Missing<Name>` (400), "`<Name>` is mandatory for this action." | `MissingParameter` |
//! | value not allowed / pattern / range / length | `InvalidParameter` (400) naming it, or a documented `Invalid<Name>` | `InvalidParameterValue`, or a documented `InvalidParameter.Invalid<Name>` (e.g. `InvalidParameter.InvalidUserType`) |
//! | JSON member of the wrong type | – | `InvalidParameter` |
//! | unknown parameter | ignored | `UnknownParameter` |
//! | over the documented QPS | `Throttling.User` (400) "Request was denied due to user flow control." | `RequestLimitExceeded` |
//! | method other than GET/POST (Tencent: POST) | `UnsupportedHTTPMethod` (400) | `UnsupportedProtocol` |
//! | no action at all | `MissingAction` (400) | – |
//!
//! # Temporary credentials
//!
//! - STS `AssumeRole` on the vendor endpoint, authenticated, resolved and validated through
//!   the catalog (Alibaba Sts / Tencent sts operations) like any call: Alibaba (RPC v1
//!   or ACS3, `Version=2015-04-01`; `RoleArn`, `RoleSessionName` required,
//!   `DurationSeconds`, `Policy`, `ExternalId` accepted) answers
//!   `{"RequestId","AssumedRoleUser":{"Arn","AssumedRoleId","RoleName"},"Credentials":{"AccessKeyId":"STS.…","AccessKeySecret","SecurityToken","Expiration":"2025-01-15T08:30:45Z"}}`;
//!   Tencent (TC3, service `sts`, `X-TC-Version: 2018-08-13`) answers
//!   `{"Response":{"Credentials":{"Token","TmpSecretId":"AKID…","TmpSecretKey"},"ExpiredTime":1736929845,"Expiration","RequestId"}}`.
//!   Faults apply to action `AssumeRole`; calls are counted under it in the stats.
//! - Instance metadata under `/latest/` (see `metadata.rs`): the ECS IMDSv2 token handshake
//!   and RAM-role credentials, the CVM role credentials.
//!
//! Every credential issued is accepted with its token by the emulated operations until
//! its expiry, which is a whole second (the lifetime rounded up): the forced lifetime
//! (`/_emulator/credentials`), else `DurationSeconds`, else 3600 s. Expired ones are
//! refused with the codes above (and remembered for an hour).
//!
//! Not emulated: TC3 with signed headers other than `content-type;host`, TC3
//! `UNSIGNED-PAYLOAD`, TC3 GET, XML responses (`Format=XML` is answered in JSON).
//!
//! # Admin API (same listener)
//!
//! - `GET /_emulator/health` → `{"status":"ok","operations":5}`
//! - `GET /_emulator/stats` → [`Stats`]:
//!   `{"total":12,"actions":{"DescribeUserStatus":{"received":11,"ok":10,"errors":0,"throttled":1,"max_in_any_1s_window":11,"per_key":{"LTAI…":{"received":11,"ok":10,"errors":0,"throttled":1}}}}}`.
//!   Actions the catalog does not know and unknown key ids are counted under `"(unknown)"`.
//! - `GET /_emulator/calls[?action=Name]` → `[ReceivedCall]`, oldest first, the last
//!   10,000: `{"seq":1,"received_at":"2025-01-15T08:30:45.123Z","vendor":"alibaba","scheme":"ACS3","action":"DescribeUserStatus","version":"2019-01-03","access_key_id":"LTAI…","region":null,"nonce":"…","timestamp":"2025-01-15T08:30:45Z","security_token":false,"params":{"Lang":"en_us"},"http_status":200,"outcome":"ok"}`
//!   (`scheme` is `RPC-V1`, `ACS3` or `TC3`; `outcome` is `ok`, the error code answered,
//!   or `connection_dropped` with `http_status` 0). Signatures, secrets and tokens are
//!   never recorded.
//! - `GET /_emulator/faults` → `{"faults":[Fault]}` (active ones, `times` = calls left)
//! - `POST /_emulator/faults` with a [`Fault`] → 201 `{"faults":[…]}`; 400 `{"error":…}`
//!   when malformed. Shapes:
//!   `{"action":"DescribeUserStatus","kind":{"type":"error","code":"ServiceUnavailable","http_status":503,"message":"…"},"times":1}`,
//!   `{"type":"http_status","status":503}`, `{"type":"delay","ms":250}`, `{"type":"drop"}`;
//!   `times` defaults to 1, 0 means until cleared; `action` `"*"` matches every action.
//! - `DELETE /_emulator/faults` → `{"faults":[]}`
//! - `POST /_emulator/reset` → `{"reset":true}` (clears calls, stats, faults, nonces,
//!   QPS windows and the issuance counts; issued credentials stay valid)
//! - `GET /_emulator/credentials` → [`CredentialStats`]:
//!   `{"sts_alibaba":4,"sts_tencent":4,"metadata_alibaba":1,"metadata_tencent":1,"expired_rejections":0,"active":3,"lifetime_ms":3000,"metadata_available":true}`
//! - `POST /_emulator/credentials` with [`CredentialSettings`]
//!   `{"lifetime_ms":3000,"metadata_available":false}` (either member; `lifetime_ms` 0
//!   goes back to the asked lifetime; the metadata services answer 503 while off) → the
//!   same shape

mod acs3;
mod admin;
mod alibaba;
mod auth;
mod config;
mod faults;
mod metadata;
mod nonces;
mod pipeline;
mod query;
mod record;
mod rejection;
mod request;
mod routes;
mod rpc_v1;
mod sample;
mod server;
mod state;
mod sts;
mod tc3;
mod tencent;
mod validate;
mod window;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::catalog::Catalog;

pub use config::{
    EmulatorConfig, EmulatorKey, DEMO_ALIBABA_ID, DEMO_ALIBABA_SECRET, DEMO_TENCENT_ID,
    DEMO_TENCENT_SECRET,
};
pub use faults::{Fault, FaultKind};
pub use record::{ActionStats, KeyStats, ReceivedCall, Stats, CALL_LOG_CAPACITY, UNKNOWN_BUCKET};
pub use sts::{CredentialSettings, CredentialStats};

use faults::FaultStore;
use state::State;
use sts::{Issued, KnownKey};

/// The emulator's state: keys, catalog, faults, calls and statistics.
#[derive(Debug)]
pub struct Emulator {
    catalog: Arc<Catalog>,
    config: EmulatorConfig,
    state: State,
    faults: FaultStore,
    issued: Issued,
}

impl Emulator {
    /// An emulator of every operation in `catalog` accepting the keys of `config`.
    pub fn new(config: EmulatorConfig, catalog: Arc<Catalog>) -> Self {
        Self {
            catalog,
            config,
            state: State::default(),
            faults: FaultStore::default(),
            issued: Issued::default(),
        }
    }

    /// A configured key, or a temporary one it issued (with its expiry).
    pub(crate) fn known_key(&self, vendor: crate::catalog::Vendor, id: &str) -> Option<KnownKey> {
        match self.config.find(vendor, id) {
            Some(k) => Some(KnownKey {
                key: k.clone(),
                expires_at: None,
            }),
            None => self.issued.find(vendor, id),
        }
    }

    /// Counters and settings of the temporary credentials it issues.
    pub fn credential_stats(&self) -> CredentialStats {
        self.issued.stats()
    }

    /// Changes how temporary credentials are issued (lifetime, metadata up or down).
    pub fn configure_credentials(&self, settings: &CredentialSettings) {
        self.issued.configure(settings);
    }

    /// The keys it accepts.
    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault) {
        self.faults.inject(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.faults.clear();
    }

    /// The active faults with the calls they have left.
    pub fn faults(&self) -> Vec<Fault> {
        self.faults.list()
    }

    /// Every recorded call (the last [`CALL_LOG_CAPACITY`]), oldest first.
    pub fn calls(&self) -> Vec<ReceivedCall> {
        self.state.calls(None)
    }

    /// The recorded calls of one action.
    pub fn calls_of(&self, action: &str) -> Vec<ReceivedCall> {
        self.state.calls(Some(action))
    }

    /// A snapshot of the statistics.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Clears calls, statistics, faults, nonces, QPS windows and the counts of issued
    /// credentials (issued credentials stay valid until they expire).
    pub fn reset(&self) {
        self.faults.clear();
        self.state.reset();
        self.issued.reset_counts();
    }
}

/// Binds `listen` and serves the emulator on it in the background.
pub async fn spawn(
    listen: SocketAddr,
    config: EmulatorConfig,
    catalog: Arc<Catalog>,
) -> std::io::Result<EmulatorHandle> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let emulator = Arc::new(Emulator::new(config, catalog));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let app = routes::router(emulator.clone());
    let task = tokio::spawn(server::serve(listener, app, shutdown_rx));
    tracing::info!(%addr, "emulator listening");
    Ok(EmulatorHandle {
        addr,
        emulator,
        shutdown,
        task: Some(task),
    })
}

/// A running emulator. Dropping it stops the server without waiting; [`Self::shutdown`]
/// waits for in-flight calls.
#[derive(Debug)]
pub struct EmulatorHandle {
    addr: SocketAddr,
    emulator: Arc<Emulator>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (the loopback address when bound to an unspecified one).
    pub fn base_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("http://{addr}")
    }

    /// The emulator state, shareable with other tasks.
    pub fn emulator(&self) -> &Arc<Emulator> {
        &self.emulator
    }

    /// The keys it accepts.
    pub fn config(&self) -> &EmulatorConfig {
        self.emulator.config()
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault) {
        self.emulator.inject(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.emulator.clear_faults();
    }

    /// The calls of one operation (`Action` or `Product.Action`), oldest first.
    pub fn calls_of(&self, operation: &str) -> Vec<ReceivedCall> {
        self.emulator.calls_of(operation)
    }

    /// Every recorded call, oldest first.
    pub fn calls(&self) -> Vec<ReceivedCall> {
        self.emulator.calls()
    }

    /// A snapshot of the statistics.
    pub fn stats(&self) -> Stats {
        self.emulator.stats()
    }

    /// Clears calls, statistics, faults, nonces, QPS windows and issuance counts.
    pub fn reset(&self) {
        self.emulator.reset();
    }

    /// Counters and settings of the temporary credentials it issues.
    pub fn credential_stats(&self) -> CredentialStats {
        self.emulator.credential_stats()
    }

    /// Changes how temporary credentials are issued (lifetime, metadata up or down).
    pub fn configure_credentials(&self, settings: &CredentialSettings) {
        self.emulator.configure_credentials(settings);
    }

    /// Stops accepting, lets in-flight calls finish (10 s at most) and returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "emulator server task failed");
            }
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
