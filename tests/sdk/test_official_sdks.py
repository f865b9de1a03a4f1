"""Drives a running cloudgate emulator with the vendors' OFFICIAL Python SDKs.

The emulator must be started with the demo keys (`cloudgate emulator`); `run.sh` does that
and exports EMULATOR_URL=http://127.0.0.1:PORT. Each SDK signs exactly as it would for the
real cloud (Alibaba ACS3 by default and RPC v1 with signature_algorithm='v2'; Tencent TC3),
so a pass proves the emulator verifies real-world signatures and answers in shapes the SDKs
parse.
"""

import json
import os
import urllib.parse
import urllib.request

import pytest
from alibabacloud_bssopenapi20171214 import models as bss_models
from alibabacloud_bssopenapi20171214.client import Client as BssClient
from alibabacloud_cloudsso20210515 import models as sso_models
from alibabacloud_cloudsso20210515.client import Client as SsoClient
from alibabacloud_sddp20190103 import models as sddp_models
from alibabacloud_sddp20190103.client import Client as SddpClient
from alibabacloud_tea_openapi import utils_models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.dlc.v20210125 import dlc_client
from tencentcloud.dlc.v20210125 import models as dlc_models

# The documented demo keys of `cloudgate emulator` (EmulatorConfig::demo()).
ALIBABA_ID = "LTAI5tEmulatorDemoKey01"
ALIBABA_SECRET = "emulator-demo-alibaba-secret"
TENCENT_ID = "AKIDEmulatorDemoKey0000000000000001"
TENCENT_SECRET = "emulator-demo-tencent-secret"

# Request ids of the documented sample bodies: the emulator must replace them.
SAMPLE_IDS = {
    "769FB3C1-F4C9-42DF-9B72-7077A8989C13",
    "F5B803CF-94D8-43AF-ADB3-D819AAD30E27",
    "EE598602-AC67-56EF-B7CC-2927C30AA0A8",
    "request_id",
    "ks1141-dasd8ca1-acds81fa",
}

URL = os.environ.get("EMULATOR_URL", "http://127.0.0.1:18080")
HOSTPORT = urllib.parse.urlparse(URL).netloc


def admin(path, method="GET"):
    req = urllib.request.Request(f"{URL}/_emulator/{path}", method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(autouse=True)
def fresh_emulator():
    admin("reset", method="POST")
    yield


def alibaba_config(algorithm=None, secret=ALIBABA_SECRET):
    config = open_api_models.Config(
        access_key_id=ALIBABA_ID,
        access_key_secret=secret,
        endpoint=HOSTPORT,
        protocol="HTTP",
        region_id="cn-zhangjiakou",
    )
    if algorithm:
        config.signature_algorithm = algorithm
    return config


def tencent_client(secret=TENCENT_SECRET):
    cred = credential.Credential(TENCENT_ID, secret)
    http = HttpProfile(protocol="http", endpoint=HOSTPORT)
    return dlc_client.DlcClient(cred, "ap-guangzhou", ClientProfile(httpProfile=http))


def assert_fresh_id(request_id):
    assert request_id and request_id not in SAMPLE_IDS


# --- Alibaba: ACS3 (SDK default) and RPC v1 (signature_algorithm='v2') ---

SCHEMES = [(None, "ACS3"), ("v2", "RPC-V1")]


@pytest.mark.parametrize("algorithm,scheme", SCHEMES)
def test_sddp_describe_user_status(algorithm, scheme):
    client = SddpClient(alibaba_config(algorithm))
    resp = client.describe_user_status(sddp_models.DescribeUserStatusRequest(lang="en_us"))
    assert resp.status_code == 200
    assert_fresh_id(resp.body.request_id)
    assert resp.body.user_status.instance_id == "sddp-cn-****"
    assert resp.body.user_status.use_oss_size == 234
    calls = admin("calls")
    assert [(c["scheme"], c["action"], c["outcome"]) for c in calls] == [
        (scheme, "DescribeUserStatus", "ok")
    ]
    assert calls[0]["params"] == {"Lang": "en_us"}


@pytest.mark.parametrize("algorithm,scheme", SCHEMES)
def test_bss_set_reseller_user_status(algorithm, scheme):
    client = BssClient(alibaba_config(algorithm))
    req = bss_models.SetResellerUserStatusRequest(
        owner_id="1234567890123456", status="Freeze", business_type="FREEZE"
    )
    resp = client.set_reseller_user_status(req)
    assert resp.body.code == "200"
    assert resp.body.success is True
    assert_fresh_id(resp.body.request_id)
    assert admin("calls")[0]["scheme"] == scheme


@pytest.mark.parametrize("algorithm,scheme", SCHEMES)
def test_bss_modify_account_relation_with_lists_and_special_characters(algorithm, scheme):
    client = BssClient(alibaba_config(algorithm))
    req = bss_models.ModifyAccountRelationRequest(
        relation_operation="ADD",
        child_nick="Team A + B*~/=&测ü",
        request_id="caller-chosen-id-1",
        role_codes=["trusteeship"],
        permission_codes=["SYNCHRONIZE_FINANCE_IDENTITY", "FORBID_WITHDRAW_CASH"],
        parent_user_id=1738376485192612,
    )
    resp = client.modify_account_relation(req)
    assert resp.body.success is True
    assert_fresh_id(resp.body.request_id)
    params = admin("calls")[0]["params"]
    assert params["ChildNick"] == "Team A + B*~/=&测ü"
    assert params["PermissionCodes.2"] == "FORBID_WITHDRAW_CASH"
    assert params["RoleCodes.1"] == "trusteeship"


@pytest.mark.parametrize("algorithm,scheme", SCHEMES)
def test_cloudsso_update_user_status(algorithm, scheme):
    config = alibaba_config(algorithm)
    config.region_id = "cn-shanghai"
    client = SsoClient(config)
    req = sso_models.UpdateUserStatusRequest(
        directory_id="d-00fc2p61abcd", user_id="u-00q8wbq42wiltcrkabcd", new_status="Disabled"
    )
    resp = client.update_user_status(req)
    assert_fresh_id(resp.body.request_id)


@pytest.mark.parametrize("algorithm,scheme", SCHEMES)
def test_alibaba_bad_secret_raises_signature_does_not_match(algorithm, scheme):
    client = SddpClient(alibaba_config(algorithm, secret="not-the-secret"))
    with pytest.raises(ClientException) as info:
        client.describe_user_status(sddp_models.DescribeUserStatusRequest())
    assert info.value.code == "SignatureDoesNotMatch"
    assert info.value.status_code == 400
    assert "server string to sign is:" in info.value.message
    assert admin("calls")[0]["outcome"] == "SignatureDoesNotMatch"


def test_alibaba_missing_required_parameter():
    client = BssClient(alibaba_config())
    req = bss_models.SetResellerUserStatusRequest(status="Freeze", business_type="FREEZE")
    with pytest.raises(ClientException) as info:
        client.set_reseller_user_status(req)
    assert info.value.code == "MissingOwnerId"
    assert "OwnerId is mandatory for this action." in info.value.message


# --- Tencent: TC3 ---


def test_dlc_modify_user_type():
    req = dlc_models.ModifyUserTypeRequest()
    req.UserId = "100021240181"
    req.UserType = "ADMIN"
    req.AccountType = "TencentAccount"
    resp = tencent_client().ModifyUserType(req)
    assert_fresh_id(resp.RequestId)
    calls = admin("calls")
    assert [(c["scheme"], c["region"], c["outcome"]) for c in calls] == [
        ("TC3", "ap-guangzhou", "ok")
    ]
    assert calls[0]["params"]["UserType"] == "ADMIN"


def test_dlc_bad_secret_raises_signature_failure():
    req = dlc_models.ModifyUserTypeRequest()
    req.UserId = "100021240181"
    req.UserType = "ADMIN"
    with pytest.raises(TencentCloudSDKException) as info:
        tencent_client(secret="not-the-secret").ModifyUserType(req)
    assert info.value.get_code() == "AuthFailure.SignatureFailure"
    assert info.value.get_request_id()


def test_dlc_invalid_user_type():
    req = dlc_models.ModifyUserTypeRequest()
    req.UserId = "100021240181"
    req.UserType = "ROOT"
    with pytest.raises(TencentCloudSDKException) as info:
        tencent_client().ModifyUserType(req)
    assert info.value.get_code() == "InvalidParameter.InvalidUserType"


def test_stats_count_what_the_sdks_sent():
    SddpClient(alibaba_config()).describe_user_status(sddp_models.DescribeUserStatusRequest())
    SddpClient(alibaba_config("v2")).describe_user_status(sddp_models.DescribeUserStatusRequest())
    stats = admin("stats")
    action = stats["actions"]["DescribeUserStatus"]
    assert action["ok"] == 2
    assert action["per_key"][ALIBABA_ID]["received"] == 2
