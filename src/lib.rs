//! cloudgate: a gRPC gateway that validates calls, signs them with the cloud
//! credentials it holds, and forwards them to Alibaba Cloud and Tencent Cloud
//! RPC endpoints.

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod check_config;
pub mod codec;
pub mod config;
pub mod credentials;
pub mod emulator;
pub mod error;
pub mod forward;
/// Fuzz entry points (cargo-fuzz targets in `fuzz/`, replayed by `tests/fuzz_regressions.rs`).
pub mod fuzzing;
pub mod gateway;
pub mod loadtest;
pub mod metrics;
pub mod pb;
pub mod ratelimit;
pub mod retry;
pub mod secret;
pub mod server;
pub mod signing;
pub mod trace_context;
pub mod translate;
pub mod transport;
pub mod vendors;
