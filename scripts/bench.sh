#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md: limiter cost (local and Redis) and
# pacing accuracy under 10x overload, one gateway and three replicas over Redis.
# Everything listens on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v redis-server >/dev/null || { echo "redis-server missing: run scripts/test.sh first (it installs it)"; exit 1; }
cargo build --release --bins
BIN=target/release/cloudgate
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened"; exit 1; }

echo "== limiter cost per call"
cargo bench --bench limiter 2>/dev/null | grep -v '^$'

echo
echo "== audit log: wait for a stored line"
cargo bench --bench audit 2>/dev/null | grep -v '^$'

echo
echo "== a flood of connections: memory, limits, handshake timeout"
cargo bench --bench flood 2>/dev/null | grep -v '^$'

echo
echo "== gateway overhead, throughput, memory"
cargo bench --bench overhead 2>/dev/null | grep -v '^$'

echo
echo "== one gateway, 10x overload for 10 s (serve --emulate)"
GW=$(free_port)
$BIN serve --emulate --listen "127.0.0.1:$GW" > /tmp/cloudgate-bench-serve.out 2>/dev/null &
PIDS+=($!)
wait_port "$GW"
EMU=$(grep -o 'http://127.0.0.1:[0-9]*' /tmp/cloudgate-bench-serve.out | head -1)
$BIN loadtest --addr "http://127.0.0.1:$GW" --method aliyun.sddp.v20190103.Sddp/DescribeUserStatus \
  --data '{}' --rate 100 --concurrency 64 --duration 10s --emulator "$EMU" --emulator-reset 2>/dev/null
$BIN loadtest --addr "http://127.0.0.1:$GW" --method tencentcloud.dlc.v20210125.Dlc/ModifyUserType \
  --data '{"user_id":"100021240181","user_type":"COMMON"}' --rate 200 --concurrency 64 --duration 10s \
  --emulator "$EMU" --emulator-reset 2>/dev/null

echo
echo "== three replicas sharing Redis, 10x overload for 10 s"
RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no > /dev/null &
PIDS+=($!)
EP=$(free_port)
$BIN emulator --listen "127.0.0.1:$EP" > /dev/null 2>&1 &
PIDS+=($!)
wait_port "$RP"; wait_port "$EP"
CONF=$(mktemp)
cat > "$CONF" <<TOML
[endpoints]
bssopenapi = "http://127.0.0.1:$EP"
cloudsso = "http://127.0.0.1:$EP"
sddp = "http://127.0.0.1:$EP"
dlc = "http://127.0.0.1:$EP"
[ratelimit]
redis = "redis://127.0.0.1:$RP/"
replicas = 3
TOML
export ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI5tEmulatorDemoKey01 ALIBABA_CLOUD_ACCESS_KEY_SECRET=emulator-demo-alibaba-secret
export TENCENTCLOUD_SECRET_ID=AKIDEmulatorDemoKey0000000000000001 TENCENTCLOUD_SECRET_KEY=emulator-demo-tencent-secret
GWS=()
for _ in 1 2 3; do
  P=$(free_port)
  $BIN serve --config "$CONF" --listen "127.0.0.1:$P" > /dev/null 2>&1 &
  PIDS+=($!)
  GWS+=("$P")
done
for P in "${GWS[@]}"; do wait_port "$P"; done
curl -s -X POST "127.0.0.1:$EP/_emulator/reset" > /dev/null
LOADS=()
for P in "${GWS[@]}"; do
  $BIN loadtest --addr "http://127.0.0.1:$P" --method aliyun.sddp.v20190103.Sddp/DescribeUserStatus \
    --data '{}' --rate 34 --concurrency 32 --duration 10s --json 2>/dev/null > "/tmp/cloudgate-bench-replica-$P.json" &
  LOADS+=($!)
done
for L in "${LOADS[@]}"; do wait "$L"; done
python3 - "$EP" "${GWS[@]}" <<'PY'
import json, sys, urllib.request
ep, gws = sys.argv[1], sys.argv[2:]
ok = sent = 0
elapsed = 0.0
for p in gws:
    r = json.load(open(f"/tmp/cloudgate-bench-replica-{p}.json"))
    ok += r["ok"]; sent += r["sent"]; elapsed = max(elapsed, r["elapsed_s"])
    print(f"replica {p}: sent {r['sent']}, ok {r['ok']}, errors {r['errors_by_code']}")
stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{ep}/_emulator/stats"))["actions"]["DescribeUserStatus"]
print(f"all replicas: sent {sent}, ok {ok} ({ok/elapsed:.2f}/s over {elapsed:.2f} s, limit 10/s)")
print(f"vendor side: received {stats['received']}, throttled {stats['throttled']}, max in any 1s window {stats['max_in_any_1s_window']}")
PY
