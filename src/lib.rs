//! cloudgate: a gRPC gateway that validates calls, signs them with the cloud
//! credentials it holds, and forwards them to Alibaba Cloud and Tencent Cloud
//! RPC endpoints.

pub mod pb;
pub mod catalog;
pub mod signing;
pub mod config;
pub mod credentials;
pub mod error;
