#!/usr/bin/env python3
"""Runs README.md's grpcurl examples against a gateway started from README's run command.

Usage: readme_grpcurl.py BINARY GRPCURL        (run by scripts/ci/grpcurl.sh)

README.md is the source of truth:
  * the gateway command is the first `cargo run ... -- ARGS` line of the section
    "The two commands"; ARGS (`serve --emulate`) are given to BINARY, plus
    `--listen 127.0.0.1:<free port>`, and the start-up lines the README promises
    (`vendor emulator listening on http://127.0.0.1:PORT`, `cloudgate listening on ...`)
    must appear;
  * every `grpcurl` command in a ```sh block anywhere in README.md is run, with
    the README's address (127.0.0.1:50051 or localhost:50051) rewritten to the
    test port and `grpcurl` being GRPCURL, and its output checked:
      - `list`: every service of proto/, grpc.health.v1.Health and a reflection
        service, nothing else;
      - `describe SERVICE`: "SERVICE is a service:" and every rpc of it in proto/;
      - a call followed in the README by a plain ``` block (the shown output):
        grpcurl must fail and print exactly that block;
      - any other call: exit 0 and a JSON object, with a non-empty `requestId`
        (vendor methods) or `"status": "SERVING"` (health);
  * grpcurl commands in a block that also holds a `cloudgate serve ...` line
    (e.g. `cloudgate serve --emulate --proto-dir tests/protos`) run against a
    second gateway started with that line's arguments;
  * every `curl` command naming the gateway's address in a ```sh block (the Connect examples, section
    "Without gRPC tooling: Connect and gRPC-Web") is run as printed against the
    same gateway, the address rewritten, with `--write-out` added to read the
    HTTP status: it must exit 0 with HTTP 200 and a JSON object with a
    non-empty `requestId`; that section must hold at least a read and a write;
  * also `describe` of every service in proto/ (beyond the README's one).
Fails loudly (exit 1) on any mismatch, printing the command and its output.
"""

import json
import os
import shutil
import pathlib
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
README = pathlib.Path(os.environ.get("README_MD") or REPO / "README.md")  # README_MD: for testing this script
README_ADDRS = ("127.0.0.1:50051", "localhost:50051")
GRPCURL_SECTION = "Calling it with grpcurl"
CONNECT_SECTION = "Without gRPC tooling: Connect and gRPC-Web"


def fail(msg: str) -> None:
    print(f"grpcurl check FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def code_blocks(text: str):
    """README's fenced code blocks: heading above, language, body lines, shown output."""
    heading = ""
    lines = text.split("\n")
    i = 0
    blocks = []  # (heading, lang, body, line_no)
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            heading = m.group(2).strip()
        elif line.startswith("```"):
            lang = line[3:].strip()
            start = i
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if i == len(lines):
                fail(f"README.md: unterminated code block at line {start + 1}")
            blocks.append({"heading": heading, "lang": lang, "body": body, "start": start + 1, "end": i + 1})
        i += 1
    # A plain block right after a sh block (only blank lines between) is the
    # output the README shows for that sh block's last command.
    for prev, cur in zip(blocks, blocks[1:]):
        between = lines[prev["end"] : cur["start"] - 1]
        if prev["lang"] in ("sh", "bash", "shell") and cur["lang"] == "" and all(not l.strip() for l in between):
            prev["shown_output"] = "\n".join(cur["body"])
    return blocks


def commands(body):
    """Joins backslash continuations; yields the block's commands (comments dropped)."""
    out, cur = [], ""
    for line in body:
        if cur:
            cur += " " + line.strip()
        else:
            cur = line.strip()
        if cur.endswith("\\"):
            cur = cur[:-1].rstrip()
            continue
        if cur and not cur.startswith("#"):
            out.append(cur)
        cur = ""
    if cur:
        out.append(cur)
    return out


def proto_services():
    """{full service name: [rpc names]} from proto/."""
    services = {}
    for path in sorted((REPO / "proto").rglob("*.proto")):
        text = path.read_text()
        pkg = re.search(r"^package\s+([\w.]+)\s*;", text, re.M)
        for m in re.finditer(r"^service\s+(\w+)\s*\{(.*?)^\}", text, re.M | re.S):
            name = f"{pkg.group(1)}.{m.group(1)}" if pkg else m.group(1)
            services[name] = re.findall(r"^\s*rpc\s+(\w+)\s*\(", m.group(2), re.M)
    if not services:
        fail("no services found in proto/")
    return services


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(binary: str, args, fail=fail):
    """Starts BINARY ARGS --listen 127.0.0.1:<free port> in the repository and
    waits for its "cloudgate listening on" line; returns the process, its
    address, its log (stdout and stderr, a temporary file) and the log so far."""
    addr = f"127.0.0.1:{free_port()}"
    cmd = [binary, *args, "--listen", addr]
    print(f"  started as: {' '.join(cmd)}")
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        log.seek(0)
        text = log.read()
        if f"cloudgate listening on {addr}" in text:
            return proc, addr, log, text
        if proc.poll() is not None:
            fail(f"the gateway exited with status {proc.returncode} before listening:\n{text}")
        if time.monotonic() > deadline:
            proc.kill()
            fail(f"the gateway did not print 'cloudgate listening on {addr}' within 30 s:\n{text}")
        time.sleep(0.05)


def keep_for_scan(name: str, text: str) -> None:
    """Keeps a gateway's output for the secret scan when scripts/test.sh asks (CLOUDGATE_LOG_DIR)."""
    keep = os.environ.get("CLOUDGATE_LOG_DIR")
    if keep:
        os.makedirs(keep, exist_ok=True)
        pathlib.Path(keep, name).write_text(text)


def start_gateway(binary: str, blocks):
    run = None
    for b in blocks:
        if b["heading"] == "The two commands" and b["lang"] in ("sh", "bash"):
            for cmd in commands(b["body"]):
                if cmd.startswith("cargo run"):
                    run = cmd
                    break
        if run:
            break
    if not run:
        fail('README.md: no `cargo run ... -- ...` command in the section "The two commands"')
    argv = shlex.split(run)
    if "--" not in argv:
        fail(f"README.md: run command {run!r} has no `--` before the gateway's arguments")
    args = argv[argv.index("--") + 1 :]
    print(f"README run command: {run}")
    proc, addr, log, text = launch(binary, args)
    if not re.search(r"^vendor emulator listening on http://127\.0\.0\.1:\d+$", text, re.M):
        proc.kill()
        fail(f"the gateway did not print 'vendor emulator listening on http://127.0.0.1:PORT' as README says:\n{text}")
    return proc, addr, log


def run_grpcurl(cmd: str, grpcurl: str, addr: str):
    rewritten = cmd
    if not any(a in cmd for a in README_ADDRS):
        fail(f"README grpcurl example names no address among {README_ADDRS}: {cmd}")
    for a in README_ADDRS:
        rewritten = rewritten.replace(a, addr)
    argv = shlex.split(rewritten)
    if argv[0] != "grpcurl" or any(tok in ("|", ";", "&&", "||", ">") for tok in argv):
        fail(f"README grpcurl example is not a single grpcurl command: {cmd}")
    argv[0] = grpcurl
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        fail(f"timed out after 30 s: {cmd}")
    return argv, p


def verb_of(argv):
    """The grpcurl verb/method: the first argument after the address."""
    for i, tok in enumerate(argv):
        if re.fullmatch(r"127\.0\.0\.1:\d+", tok):
            return argv[i + 1 :]
    return []


def check(cmd, argv, p, shown_output, services):
    out = p.stdout + p.stderr
    where = f"\n  command: {cmd}\n  exit: {p.returncode}\n  output:\n{out}"
    rest = verb_of(argv)
    if not rest:
        fail(f"cannot find the verb or method after the address{where}")
    if rest[0] == "list" and len(rest) == 1:
        if p.returncode != 0:
            fail(f"`list` failed{where}")
        listed = set(p.stdout.split())
        missing = set(services) - listed
        unexpected = {s for s in listed - set(services) if not s.startswith("grpc.")}
        if missing or unexpected or "grpc.health.v1.Health" not in listed:
            fail(f"`list` mismatch: missing {sorted(missing)}, unexpected {sorted(unexpected)}{where}")
        if not any(s.startswith("grpc.reflection.") for s in listed):
            fail(f"`list` shows no reflection service{where}")
        return f"list: {len(listed)} services"
    if rest[0] == "describe":
        if p.returncode != 0:
            fail(f"`describe` failed{where}")
        name = rest[1] if len(rest) > 1 else ""
        if name in services:
            if not p.stdout.startswith(f"{name} is a service:"):
                fail(f"`describe {name}` does not start with '{name} is a service:'{where}")
            for rpc in services[name]:
                if not re.search(rf"^\s*rpc {rpc} \(", p.stdout, re.M):
                    fail(f"`describe {name}` lacks rpc {rpc}{where}")
            return f"describe {name}: {len(services[name])} rpcs"
        if not p.stdout.strip():
            fail(f"`describe {name}` printed nothing{where}")
        return f"describe {name}"
    method = rest[0]
    if "/" not in method:
        fail(f"unknown grpcurl verb {method!r}{where}")
    if shown_output is not None:
        if p.returncode == 0:
            fail(f"{method}: README shows an error for this call but it succeeded{where}")
        got = "\n".join(l.rstrip() for l in out.strip("\n").split("\n"))
        want = "\n".join(l.rstrip() for l in shown_output.strip("\n").split("\n"))
        if got != want:
            import difflib

            diff = "\n".join(difflib.unified_diff(want.split("\n"), got.split("\n"), "README", "grpcurl", lineterm=""))
            fail(f"{method}: output differs from what README.md shows:\n{diff}{where}")
        code = re.search(r"Code: (\w+)", out)
        return f"{method}: error as shown in README ({code.group(1) if code else '?'})"
    if p.returncode != 0:
        fail(f"{method} failed{where}")
    try:
        reply = json.loads(p.stdout)
    except ValueError:
        fail(f"{method}: output is not JSON{where}")
    if not isinstance(reply, dict):
        fail(f"{method}: output is not a JSON object{where}")
    if method == "grpc.health.v1.Health/Check":
        if reply.get("status") != "SERVING":
            fail(f"{method}: status is not SERVING{where}")
        return f"{method}: SERVING"
    service = method.split("/")[0]
    if service in services and method.split("/")[1] not in services[service]:
        fail(f"{method}: no such rpc in proto/{where}")
    if not isinstance(reply.get("requestId"), str) or not reply["requestId"]:
        fail(f"{method}: reply has no requestId{where}")
    return f"{method}: ok requestId={reply['requestId']}"


def run_curl(cmd: str, addr: str):
    """Runs a README curl example against ADDR; returns (argv, process, HTTP status, body)."""
    if not any(a in cmd for a in README_ADDRS):
        fail(f"README curl example names no address among {README_ADDRS}: {cmd}")
    rewritten = cmd
    for a in README_ADDRS:
        rewritten = rewritten.replace(a, addr)
    argv = shlex.split(rewritten)
    if argv[0] != "curl" or any(tok in ("|", ";", "&&", "||", ">") for tok in argv):
        fail(f"README curl example is not a single curl command: {cmd}")
    curl = shutil.which("curl")
    if not curl:
        fail("curl is not installed (needed for README's Connect examples)")
    argv = [curl, *argv[1:], "--max-time", "30", "--write-out", "\n%{http_code}"]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=40, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        fail(f"timed out after 40 s: {cmd}")
    body, _, status = p.stdout.rpartition("\n")
    return argv, p, status.strip(), body


def check_curl(cmd: str, addr: str) -> str:
    argv, p, status, body = run_curl(cmd, addr)
    where = f"\n  command: {cmd}\n  exit: {p.returncode}\n  HTTP status: {status}\n  stdout:\n{body}\n  stderr:\n{p.stderr}"
    if p.returncode != 0 or status != "200":
        fail(f"curl example did not answer HTTP 200{where}")
    try:
        reply = json.loads(body)
    except ValueError:
        fail(f"curl example's reply is not JSON{where}")
    if not isinstance(reply, dict) or not isinstance(reply.get("requestId"), str) or not reply["requestId"]:
        fail(f"curl example's reply is not a JSON object with a requestId{where}")
    path = next((a for a in argv if a.startswith("http")), "?").split("?")[0]
    return f"{path.split('/', 3)[-1]}: HTTP {status} requestId={reply['requestId']}"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, grpcurl = sys.argv[1], sys.argv[2]
    blocks = code_blocks(README.read_text())
    services = proto_services()

    examples = []  # (heading, command, shown output or None, gateway args or None)
    for b in blocks:
        if b["lang"] not in ("sh", "bash", "shell"):
            continue
        cmds = commands(b["body"])
        own = None  # a block that starts its own gateway
        for cmd in cmds:
            if cmd.startswith("cloudgate serve "):
                own = tuple(shlex.split(cmd, comments=True)[1:])
        for j, cmd in enumerate(cmds):
            if cmd.startswith("grpcurl ") and "-plaintext" not in cmd.split():
                # TLS / mTLS examples need certificates and an [auth] config;
                # scripts/ci/secure_example.py runs the TLS set-up; this check runs plaintext.
                print(f"  skip [{b['heading']}] TLS example (run by scripts/ci/secure_example.py): {cmd[:80]}")
                continue
            if cmd.startswith("grpcurl "):
                shown = b.get("shown_output") if j == len(cmds) - 1 else None
                examples.append((b["heading"], cmd, shown, own))
    curls = [(b["heading"], cmd) for b in blocks if b["lang"] in ("sh", "bash", "shell")
             for cmd in commands(b["body"])
             # Calls of the gateway; other curl lines (the emulator's admin API) are not Connect examples.
             if cmd.startswith("curl ") and any(a in cmd for a in README_ADDRS)]
    connect_curls = [c for h, c in curls if h == CONNECT_SECTION]
    if not any("/Describe" in c for c in connect_curls) or not any("/Update" in c for c in connect_curls):
        fail(f'README.md: the section "{CONNECT_SECTION}" should hold curl examples of a read (Describe...) and a write (Update...)')
    in_section = [e for e in examples if e[0] == GRPCURL_SECTION]
    if not in_section:
        fail(f'README.md: no grpcurl commands in the section "{GRPCURL_SECTION}"')
    verbs = [verb_of(shlex.split(c.replace("127.0.0.1:50051", "127.0.0.1:1").replace("localhost:50051", "127.0.0.1:1")))
             for _, c, _, _ in examples]
    if not any(v[:1] == ["list"] for v in verbs) or not any(v[:1] == ["describe"] for v in verbs):
        fail("README.md: the grpcurl examples should include `list` and `describe`")
    if not any(s is not None for _, _, s, _ in examples):
        fail("README.md: no grpcurl example shows its (error) output")

    proc, addr, log = start_gateway(binary, blocks)
    try:
        print(f"{len(examples)} grpcurl examples in README.md, gateway at {addr}")
        for heading, cmd, shown, own in examples:
            if own is not None:
                continue
            argv, p = run_grpcurl(cmd, grpcurl, addr)
            print(f"  ok  [{heading}] {check(cmd, argv, p, shown, services)}")
        print(f"{len(curls)} curl (Connect) examples in README.md")
        for heading, cmd in curls:
            print(f"  ok  [{heading}] {check_curl(cmd, addr)}")
        for own in sorted({e[3] for e in examples if e[3] is not None}):
            other, other_addr, other_log, _ = launch(binary, list(own))
            try:
                for heading, cmd, shown, args in examples:
                    if args == own:
                        argv, p = run_grpcurl(cmd, grpcurl, other_addr)
                        print(f"  ok  [{heading}] ({' '.join(own)}) {check(cmd, argv, p, shown, services)}")
            finally:
                other.terminate()
                other.wait(timeout=15)
                other_log.seek(0)
                keep_for_scan("grpcurl-gateway-" + str(abs(hash(own))) + ".log", other_log.read())
        for name in services:
            cmd = f"grpcurl -plaintext 127.0.0.1:50051 describe {name}"
            argv, p = run_grpcurl(cmd, grpcurl, addr)
            print(f"  ok  [proto/] {check(cmd, argv, p, None, services)}")
        if proc.poll() is not None:
            log.seek(0)
            fail(f"the gateway exited during the checks:\n{log.read()}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.seek(0)
    text = log.read()
    keep_for_scan("grpcurl-gateway.log", text)
    if "panicked" in text:
        fail("the gateway log shows a panic")
    print(f"grpcurl: {len(examples)} README examples, {len(curls)} curl examples and {len(services)} describes passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
