#!/usr/bin/env bash
# Runs the official-SDK tests against a freshly started `cloudgate emulator`.
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

# A free loopback port (the emulator binds it right after; a race is unlikely on loopback).
port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
log="$(mktemp)"
"$binary" emulator --listen "127.0.0.1:$port" >"$log" 2>&1 &
emulator_pid=$!
cleanup() {
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
    rm -f "$log"
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

status=0
EMULATOR_URL="$url" .venv/bin/python -m pytest -q -p no:cacheprovider tests/sdk ${PYTEST_ARGS:-} || status=$?
if [[ $status -ne 0 ]]; then
    echo "--- emulator log ---" >&2
    tail -n 50 "$log" >&2
fi
exit "$status"
