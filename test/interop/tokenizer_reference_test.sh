#!/usr/bin/env bash
# Differential test of `sutra tokenize` against the reference implementation (the Hugging Face
# `tokenizers` crate 0.23.2 through its Node binding, npm tokenizers@0.23.2) on a few hundred
# seeded random strings and the six real tokenizers of shared/tokenizers: ids with and without
# special tokens, and decoded text. The CTest entry `interop_tokenizers`.
#
# Usage: test/interop/tokenizer_reference_test.sh SUTRA_BINARY [SHARED_DIR]
# Environment:
#   SUTRA_NPM_DIR        where tokenizers@0.23.2 is installed (default
#                        ${TMPDIR:-/tmp}/sutra-npm-tokenizers; reused when present)
#   SUTRA_INTEROP_SEED   seed of the strings (default 20260601); SUTRA_INTEROP_COUNT how
#                        many (default 300)
#   SUTRA_INTEROP_BUDGET seconds after which mismatches are no longer localized (default 55)
# Exit status: 0 all agree, 1 a mismatch (the first ones printed; all in the report file),
# 77 skipped (no node/npm, the npm install failed, or no shared fixtures), 2 a usage error.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 SUTRA_BINARY [SHARED_DIR]" >&2
  exit 2
fi
sutra=$1
shared=${2:-$here/../../../shared}
if [ ! -x "$sutra" ]; then
  echo "tokenizer_reference_test: error: $sutra is not an executable" >&2
  exit 2
fi
if [ ! -d "$shared/tokenizers" ]; then
  echo "skipped: no shared fixtures at $shared/tokenizers"
  exit 77
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "skipped: node or npm is not installed, so the reference (npm tokenizers@0.23.2) cannot run"
  exit 77
fi

npm_dir=${SUTRA_NPM_DIR:-${TMPDIR:-/tmp}/sutra-npm-tokenizers}
have_reference() {
  [ -f "$npm_dir/node_modules/tokenizers/package.json" ] &&
    node -e 'const p=require(process.argv[1]); if (p.version!=="0.23.2") process.exit(1)' \
      "$npm_dir/node_modules/tokenizers/package.json" 2>/dev/null &&
    (cd "$npm_dir" && node -e 'require("tokenizers")') >/dev/null 2>&1
}
if have_reference; then
  echo "reference: tokenizers@0.23.2 already installed in $npm_dir (reused)"
else
  echo "reference: installing tokenizers@0.23.2 with npm into $npm_dir"
  mkdir -p "$npm_dir"
  [ -f "$npm_dir/package.json" ] ||
    echo '{"name":"sutra-npm-tokenizers","private":true}' >"$npm_dir/package.json"
  if ! (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error \
    --fetch-timeout=30000 --fetch-retries=1 tokenizers@0.23.2) || ! have_reference; then
    echo "skipped: npm could not install tokenizers@0.23.2 into $npm_dir (no network or registry?)"
    exit 77
  fi
fi

export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
work=$(mktemp -d "${TMPDIR:-/tmp}/sutra-interop-tokenizers.XXXXXX")
status=0
node "$here/tokenizer_reference_test.mjs" --module-dir "$npm_dir" --sutra "$sutra" \
  --shared "$shared" --work "$work" --seed "${SUTRA_INTEROP_SEED:-20260601}" \
  --count "${SUTRA_INTEROP_COUNT:-300}" --budget "${SUTRA_INTEROP_BUDGET:-55}" || status=$?
if [ "$status" = 0 ]; then
  rm -rf "$work"
else
  echo "(strings and report kept in $work)"
fi
exit "$status"
