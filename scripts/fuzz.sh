#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS_PER_TARGET seconds (default 30):
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Each target starts from its committed seeds (fuzz/seeds/<target>) and past
# crashes (fuzz/regressions/<target>); what a run discovers goes to a scratch
# corpus under target/fuzz-corpus/, never into the repository. Exits non-zero
# on the first crash, printing where the reproducer is.
#
# Builds with AddressSanitizer (cargo-fuzz's default) and debug assertions
# (integer overflow panics); FUZZ_SANITIZER=none builds without ASan.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(vendor_response config request_encoding)
fi
sanitizer="${FUZZ_SANITIZER:-address}"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

flags=(--sanitizer "$sanitizer" --debug-assertions)
echo "== cargo +nightly fuzz build (${flags[*]})"
start=$(date +%s)
cargo +nightly fuzz build "${flags[@]}"
echo "built in $(( $(date +%s) - start ))s"

for t in "${targets[@]}"; do
  corpus="target/fuzz-corpus/$t"
  artifacts="fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts" "fuzz/regressions/$t"
  log="target/fuzz-corpus/$t.log"
  echo "== fuzz $t for ${seconds}s (corpus $corpus, seeds fuzz/seeds/$t)"
  status=0
  cargo +nightly fuzz run "${flags[@]}" "$t" "$corpus" "fuzz/seeds/$t" "fuzz/regressions/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$log" || true
  grep -E '^#[0-9]+ +DONE' "$log" | tail -1 || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log"
    echo
    echo "FUZZ CRASH in target $t (exit $status); full log: $log"
    found=$(grep -oE "Test unit written to [^ ]+" "$log" | sed -E "s/.* written to //" || true)
    for f in $found; do
      echo "reproducer: $f"
      echo "  replay:   cargo +nightly fuzz run ${flags[*]} $t $f"
      echo "  minimize: cargo +nightly fuzz tmin ${flags[*]} $t $f"
      echo "  once fixed, keep it: cp $f fuzz/regressions/$t/ (tests/fuzz_regressions.rs replays it)"
    done
    exit 1
  fi
done
echo "== fuzz: no crash in ${targets[*]} (${seconds}s each)"
