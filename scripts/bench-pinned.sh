#!/usr/bin/env bash
# Gateway overhead at the floor, measured so that it means the same thing on
# any machine: the vendor emulator, the gateway and the load generator run as
# three separate processes, each pinned with taskset to cores of its own when
# the machine has enough, and the script says plainly when they share cores.
#
# For each concurrency (1, 8, 64, 256 by default) it drives, closed loop
# (`--rate 0`), bounded in time and in count:
#   hop  grpc.health.v1.Health/Check on the gateway: one gRPC round trip that
#        runs none of the gateway's forwarding code;
#   gw   aliyun.cloudsso.v20210515.CloudSSO/UpdateUserStatus through the
#        gateway to the emulator (validate, encode, sign ACS3, HTTP call to the
#        emulator, which verifies the signature, parse and decode the reply).
# and prints calls/s, p50 and p99 of both, the latency the gateway call adds
# over the hop (gw − hop; this includes the gateway→emulator HTTP round trip
# and the emulator's own work, not only the gateway's), the calls/s per core
# given to the gateway, and the gateway's measured CPU use.
#
# Usage:
#   bash scripts/bench-pinned.sh                  # builds a static release binary first
#   bash scripts/bench-pinned.sh --binary PATH    # uses PATH (e.g. a copied binary), no build
#
# Settings (environment):
#   BENCH_EMULATOR_CORES  cores for the emulator           (default 2)
#   BENCH_GATEWAY_CORES   cores for the gateway            (default 2)
#   BENCH_LOAD_CORES      cores for the load generator     (default: all the rest)
#   BENCH_MIN_LOAD_CORES  fewest cores left for the load generator before the
#                         script gives up dedicating cores (default 4, so
#                         cores are dedicated from 8 cores up with the defaults)
#   BENCH_PIN             auto (default), 0 (never pin: shared), 1 (pin or fail)
#   BENCH_CONCURRENCY     "1 8 64 256"
#   BENCH_DURATION        per run, loadtest syntax (default 5s)
#   BENCH_MAX_CALLS       per run (default 1000000, loadtest's own maximum)
#   BENCH_WARMUP          warm-up before measuring (default 2s, at the highest concurrency)
#   BENCH_KEEP            1: keep the scratch folder (config, logs, JSON reports)
#
# Everything listens on 127.0.0.1 only; every process is killed on exit.
#
# Notes for another machine:
# - The built binary is glibc static-pie (crt-static): copy
#   target/static/x86_64-unknown-linux-gnu/release/cloudgate to any x86_64
#   Linux and pass --binary; the host needs bash, python3, taskset (util-linux)
#   and coreutils timeout, and this script from the same commit.
# - The processes size their tokio runtimes from their affinity, so the pinned
#   gateway runs as many workers as it has CPUs.
# - The load generator uses one HTTP/2 connection and the gateway allows 256
#   streams per connection: concurrencies above 256 queue inside the client.
# - If a row's note says the emulator or the load generator is saturated,
#   give it more CPUs (BENCH_EMULATOR_CORES, BENCH_LOAD_CORES) and run again.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

bin=""
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) bin="${2:?--binary needs a path}"; shift 2 ;;
        --binary=*) bin="${1#--binary=}"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "bench-pinned: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

emu_cores="${BENCH_EMULATOR_CORES:-2}"
gw_cores="${BENCH_GATEWAY_CORES:-2}"
load_cores_want="${BENCH_LOAD_CORES:-}"
min_load="${BENCH_MIN_LOAD_CORES:-4}"
pin_mode="${BENCH_PIN:-auto}"
concurrencies="${BENCH_CONCURRENCY:-1 8 64 256}"
duration="${BENCH_DURATION:-5s}"
max_calls="${BENCH_MAX_CALLS:-1000000}"
warmup="${BENCH_WARMUP:-2s}"

hop_method="grpc.health.v1.Health/Check"
hop_data='{}'
gw_method="aliyun.cloudsso.v20210515.CloudSSO/UpdateUserStatus"
gw_data='{"directory_id":"d-00fc2p61abcd","user_id":"u-00q8wbq42wiltcrkabcd","new_status":"Disabled"}'

for tool in python3 taskset timeout; do
    command -v "$tool" >/dev/null || { echo "bench-pinned: needs $tool" >&2; exit 1; }
done

t_start=$(date +%s)
scratch="$(mktemp -d "${TMPDIR:-/tmp}/bench-pinned.XXXXXX")"
pids=()
cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "scratch kept: $scratch" >&2
    else
        rm -rf "$scratch"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- binary
static_note=""
if [ -z "$bin" ]; then
    host_triple="$(rustc -vV | awk '/^host:/ { print $2 }')"
    echo "building: RUSTFLAGS=\"-C target-feature=+crt-static\" CARGO_TARGET_DIR=target/static cargo build --release --target $host_triple --bin cloudgate" >&2
    if RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=target/static \
        cargo build --release --target "$host_triple" --bin cloudgate >"$scratch/build.log" 2>&1; then
        bin="target/static/$host_triple/release/cloudgate"
    else
        tail -n 20 "$scratch/build.log" >&2
        echo "bench-pinned: the static build failed (above); falling back to the ordinary release build" >&2
        static_note=" (static build failed; this one is dynamic)"
        cargo build --release --bin cloudgate >"$scratch/build.log" 2>&1 || { tail -n 40 "$scratch/build.log" >&2; exit 1; }
        bin="target/release/cloudgate"
    fi
fi
[ -x "$bin" ] || { echo "bench-pinned: $bin is not an executable" >&2; exit 1; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

linkage="unknown"
if command -v file >/dev/null; then
    f="$(file -L "$bin")"
    case "$f" in
        *"static-pie linked"*|*"statically linked"*) linkage="static" ;;
        *"dynamically linked"*) linkage="dynamic" ;;
    esac
fi
if command -v ldd >/dev/null; then
    l="$(ldd "$bin" 2>&1 || true)"
    case "$l" in
        *"not a dynamic executable"*|*"statically linked"*) [ "$linkage" = dynamic ] || linkage="static" ;;
        *"=>"*|*"ld-linux"*) linkage="dynamic" ;;
    esac
fi
case "$linkage" in
    static) link_text="static (file/ldd: no shared libraries; copy it to any x86_64 Linux)" ;;
    dynamic) link_text="DYNAMIC (needs this machine's shared libraries: $(ldd "$bin" 2>/dev/null | awk '/=>/ { print $1 }' | tr '\n' ' '))" ;;
    *) link_text="unknown (neither file nor ldd could tell)" ;;
esac

# ---------------------------------------------------------------- cores
# The CPUs this script may run on (its affinity, which also reflects a cpuset),
# ordered so that SMT siblings sit next to each other: a role given an even
# number of CPUs then gets whole physical cores.
cpu_list="$(python3 - <<'PY'
import os
cpus = sorted(os.sched_getaffinity(0))
def first_sibling(c):
    try:
        text = open(f"/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list").read().strip()
    except OSError:
        return c
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return min(out)
cpus.sort(key=lambda c: (first_sibling(c), c))
print(" ".join(map(str, cpus)))
PY
)"
read -r -a cpus <<<"$cpu_list"
ncpu=${#cpus[@]}
smt="no"
if [ -r /sys/devices/system/cpu/smt/active ] && [ "$(cat /sys/devices/system/cpu/smt/active)" = 1 ]; then smt="yes"; fi

join() { local IFS=,; echo "$*"; }
dedicated=0
need=0
case "$pin_mode" in
    0) ;;
    1|auto)
        lmin="${load_cores_want:-$min_load}"; [ "$lmin" -ge 1 ] || lmin=1
        need=$((emu_cores + gw_cores + lmin))
        if [ "$ncpu" -ge "$need" ]; then
            dedicated=1
        elif [ "$pin_mode" = 1 ]; then
            echo "bench-pinned: BENCH_PIN=1 but $ncpu CPUs < $need needed" >&2; exit 1
        fi ;;
    *) echo "bench-pinned: BENCH_PIN must be auto, 0 or 1" >&2; exit 2 ;;
esac
if [ "$dedicated" = 1 ]; then
    emu_set="$(join "${cpus[@]:0:emu_cores}")"
    gw_set="$(join "${cpus[@]:emu_cores:gw_cores}")"
    rest=$((ncpu - emu_cores - gw_cores))
    load_n="${load_cores_want:-$rest}"
    load_set="$(join "${cpus[@]:emu_cores+gw_cores:load_n}")"
    gw_n="$gw_cores"; emu_n="$emu_cores"
else
    all="$(join "${cpus[@]}")"
    emu_set="$all"; gw_set="$all"; load_set="$all"; gw_n="$ncpu"; emu_n="$ncpu"; load_n="$ncpu"
fi

# ---------------------------------------------------------------- header
model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
echo "cloudgate bench-pinned  $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "machine    $ncpu CPUs usable (of $(getconf _NPROCESSORS_ONLN) online), SMT $smt, ${model:-cpu model unknown}"
if [ "$dedicated" = 1 ]; then
    echo "cores      DEDICATED: emulator CPUs $emu_set | gateway CPUs $gw_set | load generator CPUs $load_set (taskset)"
    if [ "$smt" = yes ]; then
        echo "           SMT is on: CPUs are hardware threads, SMT siblings kept within one role (2 CPUs = 1 physical core)"
    fi
else
    if [ "$pin_mode" = 0 ]; then
        echo "cores      SHARED: BENCH_PIN=0 (not pinning, $ncpu CPUs);"
    else
        echo "cores      SHARED: only $ncpu CPUs, dedicating needs $need with these settings;"
    fi
    echo "           emulator, gateway and load generator all run on CPUs $all and compete for them,"
    echo "           so latencies include waiting for a CPU and calls/s is for the whole trio, not the gateway"
fi
echo "binary     $bin: $link_text$static_note"
echo "runs       closed loop (--rate 0), $duration or $max_calls calls each, whichever first; one HTTP/2 connection from the load generator"

# ---------------------------------------------------------------- processes
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # LOG PATTERN PID WHAT
    local i
    for i in $(seq 1 600); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || { echo "bench-pinned: $4 exited:" >&2; tail -n 20 "$1" >&2; exit 1; }
        sleep 0.05
    done
    echo "bench-pinned: $4 did not start within 30 s:" >&2; tail -n 20 "$1" >&2; exit 1
}
# user+system CPU ticks of a running process; and of this shell's waited-for
# children (the load generator, reaped through timeout and taskset).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
child_ticks() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }
clk_tck="$(getconf CLK_TCK)"

emu_port="$(free_port)"
emu_url="http://127.0.0.1:$emu_port"
taskset -c "$emu_set" "$bin" emulator --listen "127.0.0.1:$emu_port" >"$scratch/emulator.log" 2>&1 &
emu_pid=$!; pids+=("$emu_pid")
wait_for "$scratch/emulator.log" "emulator listening on" "$emu_pid" "emulator"

# Every product's endpoint key (vendor-qualified: the gRPC package's first two
# parts, aliyun.cloudsso.v20210515 -> aliyun-cloudsso) points at the emulator.
"$bin" catalog --json >"$scratch/catalog.json"
python3 - "$scratch/catalog.json" "$emu_url" "$gw_method" "$(echo "$concurrencies" | tr ' ' '\n' | sort -n | tail -n 1)" >"$scratch/gateway.toml" <<'PY'
import json, sys
catalog, url, method, top = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], int(sys.argv[4])
keys = sorted({"-".join(op["path"].lstrip("/").split(".")[:2]) for op in catalog})
op = next(o for o in catalog if o["path"] == "/" + method)
print("[endpoints]")
for k in keys:
    print(f'"{k}" = "{url}"')
print(f"""
[http]
pool_max_idle_per_host = {max(32, top)}   # one idle connection per caller: no reconnects at the top concurrency

[profiles.default.alibaba]                 # the standalone emulator's demo keys
access_key_id = "LTAI5tEmulatorDemoKey01"
access_key_secret = "emulator-demo-alibaba-secret"

[profiles.default.tencent]
access_key_id = "AKIDEmulatorDemoKey0000000000000001"
access_key_secret = "emulator-demo-tencent-secret"

[retry]
max_attempts = 1

[audit]
enabled = false

[ratelimit.operations."{op['product']}.{op['action']}"]   # no documented limit: lifted for the run
qps = 100000
burst = 100000""")
PY
"$bin" check-config "$scratch/gateway.toml" >"$scratch/check-config.txt" 2>&1 || { cat "$scratch/check-config.txt" >&2; exit 1; }

gw_port="$(free_port)"
gw_addr="http://127.0.0.1:$gw_port"
taskset -c "$gw_set" "$bin" serve --config "$scratch/gateway.toml" --listen "127.0.0.1:$gw_port" >"$scratch/gateway.log" 2>&1 &
gw_pid=$!; pids+=("$gw_pid")
wait_for "$scratch/gateway.log" "cloudgate listening on" "$gw_pid" "gateway"

dur_s="$(python3 -c "
import re,sys; m=re.fullmatch(r'([0-9.]+)(ms|s|m)', sys.argv[1]) or sys.exit('bad BENCH_DURATION')
print(float(m[1]) * {'ms': 0.001, 's': 1, 'm': 60}[m[2]])" "$duration")"
guard="$(python3 -c "print(int($dur_s) + 60)")"

loadtest() { # OUT METHOD DATA CONCURRENCY DURATION MAX [extra...]
    local out="$1" method="$2" data="$3" conc="$4" dur="$5" max="$6"; shift 6
    local rc=0
    timeout -k 5 "$guard" taskset -c "$load_set" "$bin" loadtest --addr "$gw_addr" --method "$method" --data "$data" \
        --rate 0 --concurrency "$conc" --duration "$dur" --max-calls "$max" --json "$@" \
        >"$out" 2>"$out.stderr" || rc=$?
    if [ "$rc" != 0 ] || [ ! -s "$out" ]; then
        echo "bench-pinned: loadtest $method c=$conc failed (rc $rc):" >&2; tail -n 20 "$out.stderr" >&2; exit 1
    fi
}
json_field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }

# One call of each first: both must answer OK, or the table would measure errors.
for m in hop gw; do
    if [ "$m" = hop ]; then meth="$hop_method" data="$hop_data"; else meth="$gw_method" data="$gw_data"; fi
    loadtest "$scratch/check-$m.json" "$meth" "$data" 1 5s 1
    if [ "$(json_field "$scratch/check-$m.json" 'd["ok"]')" != 1 ]; then
        echo "bench-pinned: one call of $meth did not answer OK:" >&2; cat "$scratch/check-$m.json" >&2; exit 1
    fi
done
top_c="$(echo "$concurrencies" | tr ' ' '\n' | sort -n | tail -n 1)"
loadtest "$scratch/warmup.json" "$gw_method" "$gw_data" "$top_c" "$warmup" "$max_calls"

# ---------------------------------------------------------------- runs
for c in $concurrencies; do
    for m in hop gw; do
        if [ "$m" = hop ]; then
            meth="$hop_method" data="$hop_data" extra=()
        else
            meth="$gw_method" data="$gw_data" extra=(--emulator "$emu_url" --emulator-reset)
        fi
        g0=$(cpu_ticks "$gw_pid"); e0=$(cpu_ticks "$emu_pid"); l0=$(child_ticks)
        loadtest "$scratch/$m-$c.json" "$meth" "$data" "$c" "$duration" "$max_calls" "${extra[@]}"
        l1=$(child_ticks); g1=$(cpu_ticks "$gw_pid"); e1=$(cpu_ticks "$emu_pid")
        echo "$(( g1 - g0 )) $(( e1 - e0 )) $(( l1 - l0 ))" >"$scratch/$m-$c.cpu"
        echo "  ran $m c=$c: $(json_field "$scratch/$m-$c.json" '"%d ok, %d errors, stopped by %s" % (d["ok"], d["errors"], d["stopped_by"])')" >&2
    done
done

# ---------------------------------------------------------------- table
echo
python3 - "$scratch" "$clk_tck" "$gw_n" "$dedicated" "$emu_n" "$load_n" $concurrencies <<'PY'
import json, sys
scratch, tck, gw_n, dedicated = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
emu_n, load_n = int(sys.argv[5]), int(sys.argv[6])
concs = [int(c) for c in sys.argv[7:]]

def load(kind, c):
    d = json.load(open(f"{scratch}/{kind}-{c}.json"))
    gw_ticks, emu_ticks, load_ticks = map(int, open(f"{scratch}/{kind}-{c}.cpu").read().split())
    d["_gw_cpu_s"], d["_emu_cpu_s"], d["_load_cpu_s"] = gw_ticks / tck, emu_ticks / tck, load_ticks / tck
    return d

def ms(us):
    return f"{us / 1000:.3f}"

per_core = "calls/s/gw-core" if dedicated else f"calls/s/core(all {gw_n})"
head = ["conc", "hop calls/s", "hop p50", "hop p99", "gw calls/s", "gw p50", "gw p99",
        "added p50", "added p99", per_core, "gw calls/CPU-s", "CPUs busy gw/emu/load"]
rows, notes = [], []
for c in concs:
    h, g = load("hop", c), load("gw", c)
    h_rate = h["ok"] / h["elapsed_s"] if h["elapsed_s"] else 0.0
    g_rate = g["ok"] / g["elapsed_s"] if g["elapsed_s"] else 0.0
    hl, gl = h["latency_ok_us"], g["latency_ok_us"]
    el = g["elapsed_s"] or float("nan")
    busy = (g["_gw_cpu_s"] / el, g["_emu_cpu_s"] / el, g["_load_cpu_s"] / el)
    per_cpu_s = g["ok"] / g["_gw_cpu_s"] if g["_gw_cpu_s"] else float("nan")
    rows.append([str(c), f"{h_rate:,.0f}", ms(hl["p50"]), ms(hl["p99"]), f"{g_rate:,.0f}", ms(gl["p50"]), ms(gl["p99"]),
                 ms(gl["p50"] - hl["p50"]), ms(gl["p99"] - hl["p99"]), f"{g_rate / gw_n:,.0f}",
                 f"{per_cpu_s:,.0f}", "/".join(f"{b:.2f}" for b in busy)])
    if dedicated:
        for name, b, n in (("gateway", busy[0], gw_n), ("emulator", busy[1], emu_n), ("load generator", busy[2], load_n)):
            if b >= 0.85 * n:
                notes.append(f"c={c} gw: the {name} used {b:.2f} of its {n} CPUs: it is (near) saturated, so this"
                             f" row's calls/s is its limit" + ("" if name == "gateway" else ", not the gateway's"))
    for kind, d in (("hop", h), ("gw", g)):
        if d["errors"]:
            notes.append(f"c={c} {kind}: {d['errors']} errors {d['errors_by_code']} e.g. {d['error_samples']}")
        if d.get("warnings"):
            notes.append(f"c={c} {kind}: loadtest warnings: {d['warnings']}")
    emu = g.get("emulator") or {}
    if emu.get("received") != g["ok"] or emu.get("throttled"):
        notes.append(f"c={c} gw: {g['ok']} OK but the emulator reports {emu}")
widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
print("  ".join("-" * w for w in widths))
for r in rows:
    print("  ".join(v.rjust(w) for v, w in zip(r, widths)))
print()
print("latencies in ms, as the load generator saw them (OK calls only); calls/s = OK calls / elapsed.")
print("hop: grpc.health.v1.Health/Check on the gateway (one gRPC round trip, no forwarding code).")
print("gw:  CloudSSO/UpdateUserStatus through the gateway to the emulator.")
print("added = gw - hop: the gateway's forwarding work PLUS its HTTP round trip to the emulator and the")
print("      emulator's own work (signature check, reply); it is an upper bound on what the gateway adds.")
if dedicated:
    print(f"{per_core}: gw calls/s / {gw_n} CPUs pinned to the gateway.")
else:
    print(f"{per_core}: gw calls/s / all {gw_n} CPUs, which the gateway SHARED with the emulator and the load")
    print("      generator: not a per-core capacity of the gateway.")
print("gw calls/CPU-s: gw OK calls / the gateway process's own user+system CPU seconds during the gw run")
print("      (from /proc): the figure that depends least on how the cores were shared.")
print("CPUs busy: CPU seconds / elapsed of the gateway, the emulator and the load generator during the gw run;")
print(f"      a process near its CPU count ({gw_n}/{emu_n}/{load_n}) is the bottleneck of that row.")
if notes:
    print()
    for n in notes:
        print("note: " + n)
PY
echo
echo "total $(( $(date +%s) - t_start )) s (including the build)"
