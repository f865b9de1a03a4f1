#!/usr/bin/env python3
"""Runs README.md's section "A secure deployment, step by step" as printed.

Usage: secure_example.py BINARY GRPCURL        (run by scripts/ci/grpcurl.sh)

From the repository root, in the order the README gives them:
  * `bash examples/secure/make-pki.sh`: run as printed (throwaway certificates);
  * `cargo run --release -- ARGS`: BINARY ARGS --listen 127.0.0.1:<free port>,
    with `examples/secure/audit.jsonl` removed first;
  * each `grpcurl` command: the README's address (localhost:50443) becomes
    127.0.0.1:<port> (the gateway's certificate names both); a command followed
    by a shown output must fail with exactly that output, any other must
    answer JSON with a requestId;
  * `tail -n N examples/secure/audit.jsonl`: N JSON lines, one per mutating
    call above, in order, with the caller, outcome and gRPC code each call
    had, and the vendor request id of the one that succeeded.
Also: a call without a client certificate must fail, and so must health
checks (the example closes them to unauthenticated callers).
"""

import json
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import readme_grpcurl as rg  # noqa: E402

SECTION = "A secure deployment, step by step"
README_ADDR = "localhost:50443"
AUDIT = rg.REPO / "examples/secure/audit.jsonl"


def fail(msg: str) -> None:
    print(f"secure example check FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def grpcurl(cmd: str, grpcurl_bin: str, addr: str):
    if README_ADDR not in cmd:
        fail(f"grpcurl example does not call {README_ADDR}: {cmd}")
    argv = shlex.split(cmd.replace(README_ADDR, addr))
    argv[0] = grpcurl_bin
    p = subprocess.run(argv, cwd=rg.REPO, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    return argv, p


def check_audit(lines, calls):
    """One line per mutating call, in order, telling what each call got."""
    mutating = [c for c in calls if c["method"].split("/")[1] != "DescribeUserStatus"]
    if len(lines) != len(mutating):
        fail(f"{len(lines)} audit lines for {len(mutating)} mutating calls:\n" + "\n".join(map(json.dumps, lines)))
    for line, call in zip(lines, mutating):
        where = f"\n  call: {call['cmd']}\n  line: {json.dumps(line)}"
        if line.get("method") != "/" + call["method"]:
            fail(f"audit line of another method{where}")
        if line.get("caller") != call["caller"]:
            fail(f"audit caller is not {call['caller']!r}{where}")
        if line.get("code") != call["code"]:
            fail(f"audit code is not {call['code']}{where}")
        want_outcome = "succeeded" if call["code"] == "OK" else "rejected"
        if line.get("outcome") != want_outcome:
            fail(f"audit outcome is not {want_outcome}{where}")
        if call.get("request_id") and line.get("vendor_request_id") != call["request_id"]:
            fail(f"audit vendor_request_id is not the reply's requestId {call['request_id']}{where}")
    return len(lines)


def caller_of(cmd: str) -> str:
    m = re.search(r"-cert\s+\S*/(\w+)\.pem", cmd)
    return {"billing": "billing-svc", "ops": "ops"}.get(m.group(1) if m else "", "")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, grpcurl_bin = sys.argv[1], sys.argv[2]
    blocks = [b for b in rg.code_blocks(rg.README.read_text()) if b["heading"] == SECTION and b["lang"] in ("sh", "bash", "shell")]
    if len(blocks) < 4:
        fail(f"README.md: section {SECTION!r} has {len(blocks)} sh blocks, expected the PKI, run, call and audit steps")
    services = rg.proto_services()
    proc = log = None
    addr = None
    calls = []
    try:
        for b in blocks:
            for cmd in rg.commands(b["body"]):
                argv = shlex.split(cmd)
                if argv[:2] == ["bash", "examples/secure/make-pki.sh"]:
                    p = subprocess.run(argv, cwd=rg.REPO, capture_output=True, text=True, timeout=60)
                    if p.returncode != 0:
                        fail(f"{cmd} failed:\n{p.stdout}{p.stderr}")
                    print(f"  ok  {cmd}")
                elif argv[:2] == ["cargo", "run"]:
                    if "--" not in argv:
                        fail(f"no `--` in {cmd}")
                    AUDIT.unlink(missing_ok=True)
                    proc, addr, log, _ = rg.launch(binary, argv[argv.index("--") + 1 :], fail)
                    print(f"  ok  {cmd}")
                elif argv[0] == "grpcurl":
                    if addr is None:
                        fail(f"a grpcurl command before the gateway is started: {cmd}")
                    full, p = grpcurl(cmd, grpcurl_bin, addr)
                    shown = b.get("shown_output") if cmd == rg.commands(b["body"])[-1] else None
                    result = rg.check(cmd, full, p, shown, services)
                    method = rg.verb_of(full)[0]
                    call = {"cmd": cmd, "method": method, "caller": caller_of(cmd)}
                    if p.returncode == 0:
                        call["code"] = "OK"
                        call["request_id"] = json.loads(p.stdout).get("requestId")
                    else:
                        m = re.search(r"Code: (\w+)", p.stdout + p.stderr)
                        call["code"] = re.sub(r"(?<!^)(?=[A-Z])", "_", m.group(1)).upper() if m else "?"
                    calls.append(call)
                    print(f"  ok  {result}")
                elif argv[:3] == ["tail", "-n", argv[2]] and argv[3:] == ["examples/secure/audit.jsonl"]:
                    p = subprocess.run(argv, cwd=rg.REPO, capture_output=True, text=True, timeout=10)
                    try:
                        lines = [json.loads(l) for l in p.stdout.splitlines()]
                    except ValueError:
                        fail(f"the audit log is not JSON lines:\n{p.stdout}")
                    if len(lines) != int(argv[2]):
                        fail(f"{cmd}: {len(lines)} lines (the log holds {len(AUDIT.read_text().splitlines())})")
                    print(f"  ok  {cmd}: {check_audit(lines, calls)} audit lines match the calls above")
                else:
                    fail(f"README.md: unexpected command in {SECTION!r}: {cmd}")
        if addr is None:
            fail("the section never starts the gateway")
        pki = "examples/secure/pki"
        for what, extra in [
            ("a call without a client certificate", ["-d", "{}", addr, "aliyun.sddp.v20190103.Sddp/DescribeUserStatus"]),
            ("a health check without a client certificate", [addr, "grpc.health.v1.Health/Check"]),
        ]:
            p = subprocess.run([grpcurl_bin, "-max-time", "5", "-cacert", f"{pki}/ca.pem", *extra], cwd=rg.REPO, capture_output=True, text=True, timeout=30)
            if p.returncode == 0:
                fail(f"{what} succeeded:\n{p.stdout}")
            print(f"  ok  {what} is refused")
        if proc.poll() is not None:
            log.seek(0)
            fail(f"the gateway exited during the checks:\n{log.read()}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=15)
    log.seek(0)
    text = log.read()
    rg.keep_for_scan("secure-example-gateway.log", text)
    rg.keep_for_scan("secure-example-audit.jsonl", AUDIT.read_text())
    if "panicked" in text:
        fail("the gateway log shows a panic")
    print(f"secure example: {len(calls)} calls as README shows them, audit lines checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
