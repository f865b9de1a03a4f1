"""Prints a `cloudgate serve` config that points every product at one emulator.

Usage: python tests/sdk/gateway_config.py CATALOG_JSON EMULATOR_URL
CATALOG_JSON is the output of `cloudgate catalog --json`. Every endpoint key the catalog
knows maps to EMULATOR_URL: the product key (the folder under aliyun/ or tencentcloud/ in
each operation's `file`), vendor-qualified (`aliyun-vpc`, `tencentcloud-vpc`) where products
of both vendors share it. The default profile signs with the emulator's demo keys.
"""

import json
import sys


def main(catalog_path, url):
    with open(catalog_path, encoding="utf-8") as f:
        catalog = json.load(f)
    roots = {}
    for op in catalog:
        root, key = op["file"].split("/")[:2]
        roots.setdefault(key, set()).add(root)
    lines = ["[endpoints]"]
    for key in sorted(roots):
        for root in sorted(roots[key]):
            name = f"{root}-{key}" if len(roots[key]) > 1 else key
            lines.append(f'{name} = "{url}"')
    lines += [
        "",
        "[profiles.default.alibaba]",
        'access_key_id = "LTAI5tEmulatorDemoKey01"',
        'access_key_secret = "emulator-demo-alibaba-secret"',
        "",
        "[profiles.default.tencent]",
        'access_key_id = "AKIDEmulatorDemoKey0000000000000001"',
        'access_key_secret = "emulator-demo-tencent-secret"',
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main(*sys.argv[1:])
