#!/usr/bin/env python3
"""Calls cloudgate with grpcio and stubs generated from proto/ (generate_stubs.py).

Usage: python client.py [HOST:PORT]
The address is the argument, else $CLOUDGATE_ADDR, else 127.0.0.1:50051.

Makes four calls:
  1. Sddp DescribeUserStatus (Alibaba Cloud), a read;
  2. DLC ModifyUserType (Tencent Cloud) in region ap-singapore (metadata x-cloud-region);
  3. BssOpenApi SetResellerUserStatus with invalid fields, on purpose, and prints
     the rich error details: the google.rpc.Status that cloudgate sends in the
     `grpc-status-details-bin` trailer (ErrorInfo reason/metadata, BadRequest
     field violations, and any RetryInfo, QuotaFailure or cloudgate VendorError);
  4. Sddp DescribeUserStatus with an unknown credential profile (metadata
     x-cloud-profile), on purpose: ErrorInfo reason UNKNOWN_PROFILE, metadata profile.
Exits 0 when all four behave as expected, 1 otherwise.
"""

import os
import pathlib
import sys

# The generated stubs (python generate_stubs.py) live in gen/ beside this file.
GEN = pathlib.Path(__file__).resolve().parent / "gen"
if not (GEN / "aliyun").is_dir():
    sys.exit(f"client.py: no stubs in {GEN}: run `python generate_stubs.py` first")
sys.path.insert(0, str(GEN))

import grpc  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

from aliyun.bssopenapi.v20171214 import bssopenapi_pb2, bssopenapi_pb2_grpc  # noqa: E402
from aliyun.sddp.v20190103 import sddp_pb2, sddp_pb2_grpc  # noqa: E402
from cloudgate.v1 import options_pb2  # noqa: E402
from tencentcloud.dlc.v20210125 import dlc_pb2, dlc_pb2_grpc  # noqa: E402

TIMEOUT_S = 10.0  # sent as grpc-timeout: bounds the whole call, vendor round trip included


def print_error(err: grpc.RpcError) -> list:
    """Prints a failed call's code, message and rich details; returns the details."""
    print(f"  code: {err.code().name}")
    print(f"  message: {err.details()}")
    status = rpc_status.from_call(err)  # decodes grpc-status-details-bin, None if absent
    if status is None:
        print("  (no rich error details)")
        return []
    details = []
    for any_detail in status.details:
        for cls in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.RetryInfo,
            error_details_pb2.QuotaFailure,
            options_pb2.VendorError,
        ):
            if any_detail.Is(cls.DESCRIPTOR):
                detail = cls()
                any_detail.Unpack(detail)
                details.append(detail)
                break
        else:
            print(f"  detail of another type: {any_detail.type_url}")
            continue
        if isinstance(detail, error_details_pb2.ErrorInfo):
            metadata = dict(sorted(detail.metadata.items()))
            print(f"  ErrorInfo: reason={detail.reason} domain={detail.domain} metadata={metadata}")
        elif isinstance(detail, error_details_pb2.BadRequest):
            for violation in detail.field_violations:
                print(f"  BadRequest: {violation.field}: {violation.description}")
        elif isinstance(detail, error_details_pb2.RetryInfo):
            print(f"  RetryInfo: retry after {detail.retry_delay.ToTimedelta().total_seconds()}s")
        elif isinstance(detail, error_details_pb2.QuotaFailure):
            for violation in detail.violations:
                print(f"  QuotaFailure: {violation.subject}: {violation.description}")
        else:
            print(
                f"  VendorError: vendor={detail.vendor} code={detail.code} "
                f"message={detail.message!r} request_id={detail.request_id}"
            )
    return details


def main() -> int:
    addr = (sys.argv[1] if len(sys.argv) > 1 else "") or os.environ.get("CLOUDGATE_ADDR") or "127.0.0.1:50051"
    print(f"cloudgate at {addr}")
    ok = True
    with grpc.insecure_channel(addr) as channel:
        sddp = sddp_pb2_grpc.SddpStub(channel)
        dlc = dlc_pb2_grpc.DlcStub(channel)
        bss = bssopenapi_pb2_grpc.BssOpenApiStub(channel)

        # 1. A read. Optional fields may be left out; lang picks the reply language.
        try:
            reply = sddp.DescribeUserStatus(sddp_pb2.DescribeUserStatusRequest(lang="en_us"), timeout=TIMEOUT_S)
            s = reply.user_status
            print(
                f"DescribeUserStatus: ok request_id={reply.request_id} purchased={s.purchased} "
                f"instance_id={s.instance_id} charge_type={s.charge_type} remain_days={s.remain_days}"
            )
            ok &= bool(reply.request_id)
        except grpc.RpcError as err:
            print("DescribeUserStatus: failed")
            print_error(err)
            ok = False

        # 2. A Tencent Cloud mutation, in a region chosen per call by metadata.
        try:
            reply = dlc.ModifyUserType(
                dlc_pb2.ModifyUserTypeRequest(user_id="100021240181", user_type="ADMIN"),
                metadata=[("x-cloud-region", "ap-singapore")],
                timeout=TIMEOUT_S,
            )
            print(f"ModifyUserType: ok request_id={reply.request_id}")
            ok &= bool(reply.request_id)
        except grpc.RpcError as err:
            print("ModifyUserType: failed")
            print_error(err)
            ok = False

        # 3. Invalid on purpose: cloudgate refuses it before calling the vendor and
        #    names every bad field in a google.rpc.BadRequest.
        try:
            bss.SetResellerUserStatus(
                bssopenapi_pb2.SetResellerUserStatusRequest(owner_id="12ab", status="Frozen"),
                timeout=TIMEOUT_S,
            )
            print("SetResellerUserStatus (invalid on purpose): unexpectedly succeeded")
            ok = False
        except grpc.RpcError as err:
            print("SetResellerUserStatus (invalid on purpose): refused")
            details = print_error(err)
            fields = [v.field for d in details if isinstance(d, error_details_pb2.BadRequest) for v in d.field_violations]
            reasons = [d.reason for d in details if isinstance(d, error_details_pb2.ErrorInfo)]
            ok &= err.code() == grpc.StatusCode.INVALID_ARGUMENT
            ok &= fields == ["owner_id", "status", "business_type"] and reasons == ["INVALID_REQUEST"]

        # 4. A credential profile the gateway does not know (metadata x-cloud-profile):
        #    ErrorInfo carries the reason and metadata naming the profile.
        try:
            sddp.DescribeUserStatus(
                sddp_pb2.DescribeUserStatusRequest(),
                metadata=[("x-cloud-profile", "no-such-profile")],
                timeout=TIMEOUT_S,
            )
            print("DescribeUserStatus (unknown profile on purpose): unexpectedly succeeded")
            ok = False
        except grpc.RpcError as err:
            print("DescribeUserStatus (unknown profile on purpose): refused")
            details = print_error(err)
            infos = [d for d in details if isinstance(d, error_details_pb2.ErrorInfo)]
            ok &= err.code() == grpc.StatusCode.INVALID_ARGUMENT
            ok &= len(infos) == 1 and infos[0].reason == "UNKNOWN_PROFILE"
            ok &= len(infos) == 1 and infos[0].metadata.get("profile") == "no-such-profile"

    print("all calls behaved as expected" if ok else "SOME CALLS DID NOT BEHAVE AS EXPECTED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
