#!/usr/bin/env bash
# `buf lint` on proto/ with the repo's buf.yaml (STANDARD + COMMENTS rules).
#
# Usage: bash scripts/ci/buf.sh
# Installs buf from the npm package @bufbuild/buf, at the version pinned in
# scripts/ci/package-lock.json, into scripts/ci/node_modules (gitignored).
# Also checks that `buf build` compiles every file. Exits non-zero on any finding.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

if ! command -v npm >/dev/null 2>&1; then
    echo "buf.sh: npm is required (Node.js 18 or later)" >&2
    exit 2
fi

buf=scripts/ci/node_modules/.bin/buf
want="$(node -p 'require("./scripts/ci/package-lock.json").packages["node_modules/@bufbuild/buf"].version')"
if [[ ! -x "$buf" ]] || [[ "$("$buf" --version 2>/dev/null)" != "$want" ]]; then
    # `npm install`, not `npm ci`: the lockfile holds only the linux builds of
    # buf's per-platform optional packages (the registry reached here serves no
    # others), which `npm ci` refuses as out of sync; `npm install` honours it.
    npm install --no-save --prefix scripts/ci --no-audit --no-fund --loglevel=error >/dev/null
fi
echo "buf $("$buf" --version)"

# Every .proto under proto/ must be part of the module (a stray file outside the
# module would silently escape the lint).
files="$("$buf" ls-files | sort)"
expected="$(find proto -name '*.proto' | sort)"
if [[ "$files" != "$expected" ]]; then
    echo "buf.sh: buf sees a different set of files than proto/ holds:" >&2
    diff <(echo "$expected") <(echo "$files") >&2 || true
    exit 1
fi

"$buf" build
status=0
"$buf" lint || status=$?
if [[ $status -ne 0 ]]; then
    echo "buf.sh: buf lint failed (rules in buf.yaml)" >&2
    exit "$status"
fi
echo "buf lint: ok ($(echo "$files" | wc -l) files)"
