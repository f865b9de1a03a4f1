//! The server around the operations: health, reflection (v1 and v1alpha,
//! including google.rpc error details), graceful shutdown.

mod support;

use std::time::Duration;

use cloudgate::emulator::{Fault, FaultKind};
use cloudgate::pb::aliyun::sddp::v20190103 as sddp;
use support::Harness;
use tokio_stream::StreamExt;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

#[tokio::test]
async fn health_reports_serving_for_every_service() {
    let h = Harness::start().await;
    let mut health = HealthClient::new(h.channel.clone());
    for service in [
        "",
        "aliyun.bssopenapi.v20171214.BssOpenApi",
        "aliyun.cloudsso.v20210515.CloudSSO",
        "aliyun.sddp.v20190103.Sddp",
        "tencentcloud.dlc.v20210125.Dlc",
    ] {
        let resp = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resp.status, 1, "{service} not SERVING");
    }
    h.stop().await;
}

async fn list_services_v1(h: &Harness) -> Vec<String> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut client = ServerReflectionClient::new(h.channel.clone());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.next().await.unwrap().unwrap();
    match resp.message_response.unwrap() {
        MessageResponse::ListServicesResponse(l) => l.service.into_iter().map(|s| s.name).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reflection_v1_lists_the_services_and_serves_error_detail_types() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let h = Harness::start().await;
    let services = list_services_v1(&h).await;
    for s in [
        "aliyun.bssopenapi.v20171214.BssOpenApi",
        "aliyun.cloudsso.v20210515.CloudSSO",
        "aliyun.sddp.v20190103.Sddp",
        "tencentcloud.dlc.v20210125.Dlc",
        "grpc.health.v1.Health",
    ] {
        assert!(
            services.iter().any(|x| x == s),
            "{s} missing from {services:?}"
        );
    }
    let mut client = ServerReflectionClient::new(h.channel.clone());
    let reqs = [
        "google.rpc.ErrorInfo",
        "google.rpc.BadRequest",
        "google.rpc.RetryInfo",
        "cloudgate.v1.VendorError",
    ]
    .map(|sym| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(sym.into())),
    });
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(reqs))
        .await
        .unwrap()
        .into_inner();
    for _ in 0..4 {
        let resp = stream.next().await.unwrap().unwrap();
        assert!(
            matches!(resp.message_response, Some(MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()),
            "{resp:?}"
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn reflection_v1alpha_answers_for_older_grpcurl() {
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    let h = Harness::start().await;
    let mut client = ServerReflectionClient::new(h.channel.clone());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(l)) = resp.message_response else {
        panic!("{resp:?}")
    };
    assert!(l
        .service
        .iter()
        .any(|s| s.name == "tencentcloud.dlc.v20210125.Dlc"));
    h.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_calls() {
    let h = Harness::start().await;
    h.emulator.inject(Fault {
        action: "DescribeUserStatus".into(),
        kind: FaultKind::Delay { ms: 700 },
        times: 1,
    });
    let mut client = h.sddp();
    let in_flight = tokio::spawn(async move {
        client
            .describe_user_status(sddp::DescribeUserStatusRequest::default())
            .await
    });
    // Let the call reach the emulator, then shut down while it waits there.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let channel = h.channel.clone();
    let addr = h.addr;
    let stopping = tokio::spawn(h.stop());
    let resp = in_flight.await.unwrap();
    assert!(resp.is_ok(), "in-flight call was cut off: {resp:?}");
    stopping.await.unwrap();
    // After shutdown, new connections are refused.
    drop(channel);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
