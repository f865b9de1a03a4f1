#!/usr/bin/env bash
# Runs the client examples (examples/python, examples/node: gRPC and Connect) against a gateway
# started with `serve --emulate` on a free loopback port, and checks their output.
#
# Usage: bash scripts/ci/examples.sh [path/to/cloudgate]   (default: target/debug/cloudgate)
# Builds nothing. Installs the Python example's requirements into the repo's
# .venv and the Node example's packages (npm ci, from its package-lock.json)
# into examples/node/node_modules; generates the Python stubs into
# examples/python/gen. All three are gitignored.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
binary="${1:-target/debug/cloudgate}"
if [[ ! -x "$binary" ]]; then
    echo "examples.sh: no executable cloudgate at $binary (build it first)" >&2
    exit 2
fi
for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "examples.sh: $tool is required (Node.js 18 or later)" >&2
        exit 2
    fi
done

# --- dependencies (quiet; skipped when already installed) ---
if [[ ! -x .venv/bin/python ]]; then
    "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r examples/python/requirements.txt
lock_sum="$(sha256sum examples/node/package-lock.json | cut -d' ' -f1)"
stamp=examples/node/node_modules/.installed-from-lock
if [[ ! -f "$stamp" ]] || [[ "$(cat "$stamp")" != "$lock_sum" ]]; then
    npm ci --prefix examples/node --no-audit --no-fund --loglevel=error >/dev/null
    echo "$lock_sum" >"$stamp"
fi
.venv/bin/python examples/python/generate_stubs.py

# --- the gateway ---
port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
addr="127.0.0.1:$port"
log="$(mktemp)"
out="$(mktemp)"
"$binary" serve --emulate --listen "$addr" >"$log" 2>&1 &
gateway_pid=$!
cleanup() {
    kill "$gateway_pid" 2>/dev/null || true
    wait "$gateway_pid" 2>/dev/null || true
    # Kept for the secret scan (scripts/test.sh) when it asks.
    if [ -n "${CLOUDGATE_LOG_DIR:-}" ]; then
        mkdir -p "$CLOUDGATE_LOG_DIR"
        cp "$log" "$CLOUDGATE_LOG_DIR/examples-gateway.log"
    fi
    rm -f "$log" "$out"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
    if grep -q "cloudgate listening on $addr" "$log"; then
        break
    fi
    if ! kill -0 "$gateway_pid" 2>/dev/null; then
        echo "examples.sh: the gateway exited early:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
if ! grep -q "cloudgate listening on $addr" "$log"; then
    echo "examples.sh: the gateway did not report 'cloudgate listening on $addr' in 30 s:" >&2
    cat "$log" >&2
    exit 1
fi

# The lines both examples must print (extended regular expressions, one a line).
expected=(
    "^cloudgate at $addr\$"
    '^DescribeUserStatus: ok request_id=[0-9A-F-]{36} purchased=(True|true) instance_id=sddp-cn-\*\*\*\* charge_type=PREPAY remain_days=131$'
    '^ModifyUserType: ok request_id=[0-9a-z-]{8,}$'
    '^SetResellerUserStatus \(invalid on purpose\): refused$'
    '^  code: INVALID_ARGUMENT$'
    '^  ErrorInfo: reason=INVALID_REQUEST domain=cloudgate '
    '^  BadRequest: owner_id: "12ab" is not an Alibaba Cloud account id \(1 to 20 digits\)$'
    '^  BadRequest: status: "Frozen" is not one of Freeze, Thaw, Trusteeship, TrusteeshipCancel$'
    '^  BadRequest: business_type: is required$'
    '^DescribeUserStatus \(unknown profile on purpose\): refused$'
    "^  ErrorInfo: reason=UNKNOWN_PROFILE domain=cloudgate metadata=.*profile.: ?.no-such-profile"
    '^  BadRequest: x-cloud-profile: '
    '^all calls behaved as expected$'
)

run_example() { # name, command...
    local name="$1"
    shift
    echo "-- $name: $*"
    local status=0
    CLOUDGATE_ADDR="$addr" timeout 120 "$@" >"$out" 2>&1 || status=$?
    sed 's/^/   | /' "$out"
    if [[ $status -ne 0 ]]; then
        echo "examples.sh: the $name example exited with status $status" >&2
        exit 1
    fi
    local pattern
    for pattern in "${expected[@]}"; do
        if ! grep -Eq -- "$pattern" "$out"; then
            echo "examples.sh: the $name example's output has no line matching: $pattern" >&2
            exit 1
        fi
    done
    echo "-- $name: ok"
}

run_example python .venv/bin/python examples/python/client.py
run_example node node examples/node/client.js
run_example node-connect node examples/node/connect_client.js

if ! kill -0 "$gateway_pid" 2>/dev/null; then
    echo "examples.sh: the gateway died during the examples:" >&2
    cat "$log" >&2
    exit 1
fi
if grep -q "panicked" "$log"; then
    echo "examples.sh: the gateway log shows a panic:" >&2
    cat "$log" >&2
    exit 1
fi
echo "client examples: python, node (gRPC) and node (Connect) passed against $addr"
