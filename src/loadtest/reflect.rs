//! The target's own description of its methods, through gRPC server
//! reflection (v1): the file that defines the service and every file it
//! imports, so any unary method the target serves can be driven, also
//! operations it loaded with `--proto-dir` and `grpc.health.v1.Health/Check`.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use prost_reflect::DescriptorPool;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

/// Most files fetched for one service (a guard against a looping server).
const MAX_FILES: usize = 512;

/// The descriptor pool of `service` (full name) and its imports, as the
/// target describes them.
pub async fn service_pool(channel: Channel, service: &str) -> Result<DescriptorPool, String> {
    let mut client = ServerReflectionClient::new(channel);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut replies = client
        .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map_err(|s| format!("reflection: {}", s.message()))?
        .into_inner();
    let ask = |request: MessageRequest| {
        let tx = tx.clone();
        async move {
            tx.send(ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            })
            .await
            .map_err(|_| "reflection: the stream closed".to_string())
        }
    };
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut asked: BTreeSet<String> = BTreeSet::new();
    ask(MessageRequest::FileContainingSymbol(service.to_string())).await?;
    let mut pending = 1usize;
    while pending > 0 {
        let reply = replies
            .next()
            .await
            .ok_or("reflection: the stream ended early")?
            .map_err(|s| format!("reflection: {}", s.message()))?;
        pending -= 1;
        let raw_files = match reply.message_response {
            Some(MessageResponse::FileDescriptorResponse(f)) => f.file_descriptor_proto,
            Some(MessageResponse::ErrorResponse(e)) => {
                return Err(format!("reflection: {}", e.error_message))
            }
            _ => return Err("reflection: unexpected answer".into()),
        };
        for raw in raw_files {
            let file = prost_types::FileDescriptorProto::decode(raw.as_slice())
                .map_err(|e| format!("reflection: a file descriptor does not decode: {e}"))?;
            let name = file.name().to_string();
            asked.insert(name.clone());
            for dep in &file.dependency {
                if !files.contains_key(dep) && asked.insert(dep.clone()) {
                    ask(MessageRequest::FileByFilename(dep.clone())).await?;
                    pending += 1;
                }
            }
            files.insert(name, raw);
            if files.len() > MAX_FILES {
                return Err(format!("reflection: more than {MAX_FILES} files"));
            }
        }
    }
    drop(tx);
    // A FileDescriptorSet of the raw files (field 1, repeated): the raw bytes
    // keep the custom options.
    let mut set = Vec::new();
    for raw in files.values() {
        prost::encoding::bytes::encode(1, raw, &mut set);
    }
    DescriptorPool::decode(set.as_slice()).map_err(|e| format!("reflection: {e}"))
}
