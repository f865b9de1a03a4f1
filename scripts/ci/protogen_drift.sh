#!/usr/bin/env bash
# Regenerates proto/ from the vendor metadata samples (../shared/vendor-metadata)
# with the committed protogen.toml and protogen.lock, and fails on any difference:
# the embedded protos are never edited by hand.
#
# Usage: bash scripts/ci/protogen_drift.sh [path/to/cloudgate]   (default: target/debug/cloudgate)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
binary="${1:-target/debug/cloudgate}"
samples="${VENDOR_METADATA:-../shared/vendor-metadata}"
if [[ ! -d "$samples" ]]; then
    echo "protogen_drift.sh: no vendor metadata at $samples (set VENDOR_METADATA)" >&2
    exit 2
fi
start=$(date +%s%N)
"$binary" protogen --vendor tencent --api "$samples/tencentcloud" --out proto --lock protogen.lock | tail -n 1
"$binary" protogen --vendor alibaba --api "$samples/aliyun" --out proto --lock protogen.lock | tail -n 1
echo "regenerated in $(awk "BEGIN { printf \"%.2f\", ($(date +%s%N) - $start) / 1e9 }") s"
if ! git diff --exit-code --stat -- proto protogen.lock; then
    echo "protogen drift: proto/ or protogen.lock differ from what the generator makes; regenerate with" >&2
    echo "  bash scripts/ci/protogen_drift.sh  (then commit proto/ and protogen.lock)" >&2
    exit 1
fi
untracked="$(git ls-files --others --exclude-standard -- proto)"
if [[ -n "$untracked" ]]; then
    echo "protogen drift: generated files not committed:" >&2
    echo "$untracked" >&2
    exit 1
fi
echo "protogen: proto/ matches the samples"
