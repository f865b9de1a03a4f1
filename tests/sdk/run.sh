#!/usr/bin/env bash
# Runs the official-SDK tests against a freshly started `cloudgate emulator`, and the
# wire-fidelity tests (test_wire_fidelity.py) also through a `cloudgate serve` gateway that
# forwards to that emulator (config generated from `cloudgate catalog --json`).
#
# Usage: tests/sdk/run.sh [path/to/cloudgate]   (default: target/debug/cloudgate)
# Builds nothing: build the binary first (cargo build --bin cloudgate).
# Creates/uses a venv at .venv in the repo root and installs tests/sdk/requirements.txt.
# Extra pytest arguments can be passed in PYTEST_ARGS. Exits with pytest's status.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
binary="${1:-target/debug/cloudgate}"
if [[ ! -x "$binary" ]]; then
    echo "run.sh: no executable cloudgate at $binary (build it first)" >&2
    exit 2
fi

python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt

# Free loopback ports (bound right after; a race is unlikely on loopback).
free_port() {
    .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
port="$(free_port)"
log="$(mktemp)"
gateway_log="$(mktemp)"
gateway_config="$(mktemp)"
catalog="$(mktemp)"
gateway_pid=""
"$binary" emulator --listen "127.0.0.1:$port" >"$log" 2>&1 &
emulator_pid=$!
cleanup() {
    if [[ -n "$gateway_pid" ]]; then
        kill "$gateway_pid" 2>/dev/null || true
        wait "$gateway_pid" 2>/dev/null || true
    fi
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
    rm -f "$log" "$gateway_log" "$gateway_config" "$catalog"
}
trap cleanup EXIT

url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen('$url/_emulator/health', timeout=1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
        echo "run.sh: the emulator exited early:" >&2
        cat "$log" >&2
        exit 2
    fi
    sleep 0.1
done
grep -q "emulator listening on $url" "$log" || {
    echo "run.sh: the emulator did not report 'emulator listening on $url':" >&2
    cat "$log" >&2
    exit 2
}

# The gateway, every product pointed at the emulator, signing with the demo keys.
"$binary" catalog --json >"$catalog"
.venv/bin/python tests/sdk/gateway_config.py "$catalog" "$url" >"$gateway_config"
gateway_port="$(free_port)"
NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" \
    "$binary" serve --config "$gateway_config" --listen "127.0.0.1:$gateway_port" >"$gateway_log" 2>&1 &
gateway_pid=$!
for _ in $(seq 1 300); do
    if grep -q "cloudgate listening on" "$gateway_log"; then
        break
    fi
    if ! kill -0 "$gateway_pid" 2>/dev/null; then
        echo "run.sh: the gateway exited early:" >&2
        cat "$gateway_log" >&2
        exit 2
    fi
    sleep 0.1
done
grep -q "cloudgate listening on" "$gateway_log" || {
    echo "run.sh: the gateway did not report 'cloudgate listening on':" >&2
    tail -n 50 "$gateway_log" >&2
    exit 2
}

status=0
EMULATOR_URL="$url" GATEWAY_ADDR="127.0.0.1:$gateway_port" .venv/bin/python -m pytest -q -p no:cacheprovider tests/sdk ${PYTEST_ARGS:-} || status=$?
if [[ $status -ne 0 ]]; then
    echo "--- emulator log ---" >&2
    tail -n 50 "$log" >&2
    echo "--- gateway log ---" >&2
    tail -n 50 "$gateway_log" >&2
fi
exit "$status"
