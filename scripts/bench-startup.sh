#!/usr/bin/env bash
# Start-up time and memory of the gateway with the embedded operations, and
# with more loaded through --proto-dir: the sample products are generated
# again by `cloudgate protogen` into a scratch folder, then copied under
# renamed packages and products (so they do not clash with the embedded ones).
#
# Usage: bash scripts/bench-startup.sh [TOTAL_OPS]   (default 5000)
# Builds the release binary. Prints protogen time, then for each case the
# time from spawn to "cloudgate listening" and the peak RSS (VmHWM):
#   - embedded only;
#   - embedded + .proto text up to TOTAL_OPS operations in all, compiled,
#     then again with the compiled set cached;
#   - the same files as one descriptor set (`cloudgate catalog
#     --descriptor-set-out`), the fast way to load many;
#   - embedded + a descriptor set of three renamed copies of every sample.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
want="${1:-5000}"
samples="${VENDOR_METADATA:-../shared/vendor-metadata}"
cargo build --release --bin cloudgate >/dev/null 2>&1
bin="target/release/cloudgate"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

echo "cloudgate start-up ($(nproc) cores)"
start=$(date +%s%N)
"$bin" protogen --vendor tencent --api "$samples/tencentcloud" --out "$scratch/gen" --lock "$scratch/lock" >/dev/null
"$bin" protogen --vendor alibaba --api "$samples/aliyun" --out "$scratch/gen" --lock "$scratch/lock" >/dev/null
echo "  protogen, all samples (2 vendors, 12 product-versions): $(awk "BEGIN { printf \"%.2f\", ($(date +%s%N) - $start) / 1e9 }") s"

embedded=$("$bin" catalog | tail -n 1 | awk '{ print $1 }')
python3 - "$scratch/gen" "$scratch" "$want" "$embedded" <<'PY'
import pathlib, re, sys
gen, scratch = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
want, embedded = int(sys.argv[3]), int(sys.argv[4])
files = sorted(gen.rglob("*.proto"))
def rpcs(text):
    return len(re.findall(r"^\s*rpc\s", text, re.M))
def copy(n, f):
    text = f.read_text()
    text = re.sub(r"^package (aliyun|tencentcloud)\.", rf"package bench{n}.\1.", text, flags=re.M)
    text = re.sub(r'(\bproduct: ")([^"]+)"', rf'\g<1>\g<2>Copy{n}"', text)
    text = re.sub(r'(\bendpoint_key: ")([^"]+)"', rf'\g<1>\g<2>copy{n}"', text)
    return text
def write(dest, text):
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
# Up to `want` in all: whole files, smallest first, from as many copies as needed.
loaded, n = 0, 0
while embedded + loaded < want:
    n += 1
    for f in sorted(files, key=lambda f: f.stat().st_size):
        if embedded + loaded >= want:
            break
        text = copy(n, f)
        loaded += rpcs(text)
        write(scratch / "upto" / f"copy{n}" / f.relative_to(gen), text)
print(f"  loaded set A: {loaded} operations of .proto text ({embedded + loaded} with the embedded)")
total = 0
for n in range(1, 4):
    for f in files:
        text = copy(n, f)
        total += rpcs(text)
        write(scratch / "three" / f"copy{n}" / f.relative_to(gen), text)
print(f"  loaded set B: 3 renamed copies of every sample, {total} operations")
PY
mkdir -p "$scratch/upto-set" "$scratch/three-set"
CLOUDGATE_CACHE_DIR= "$bin" catalog --proto-dir "$scratch/upto" --descriptor-set-out "$scratch/upto-set/loaded.binpb" >/dev/null 2>&1
CLOUDGATE_CACHE_DIR= "$bin" catalog --proto-dir "$scratch/three" --descriptor-set-out "$scratch/three-set/loaded.binpb" >/dev/null 2>&1

measure() {
    local label="$1"; shift
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    local log="$scratch/serve.log"
    : >"$log"
    local t0=$(date +%s%N)
    "$bin" serve --emulate --listen "127.0.0.1:$port" "$@" >"$log" 2>&1 &
    local pid=$!
    until grep -q "cloudgate listening" "$log"; do
        if ! kill -0 "$pid" 2>/dev/null; then cat "$log"; exit 1; fi
        sleep 0.005
    done
    local t1=$(date +%s%N)
    sleep 0.5
    local hwm rss
    hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
    rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    local ops
    ops=$("$bin" catalog "$@" | tail -n 1)
    printf "  %-38s %6.0f ms to listening, peak RSS %4d MiB, RSS %4d MiB  (%s)\n" \
        "$label" "$(awk "BEGIN { print ($t1 - $t0) / 1e6 }")" $((hwm / 1024)) $((rss / 1024)) "$ops"
}
measure "embedded only"
# The compiled-set cache (src/catalog/cache.rs) in a scratch folder: empty
# for the first start, filled by it for the second.
export CLOUDGATE_CACHE_DIR="$scratch/cache"
measure "embedded + set A as .proto text" --proto-dir "$scratch/upto"
measure "  the same again (compiled set cached)" --proto-dir "$scratch/upto"
measure "embedded + set A as descriptor set" --proto-dir "$scratch/upto-set"
measure "embedded + set B as descriptor set" --proto-dir "$scratch/three-set"
