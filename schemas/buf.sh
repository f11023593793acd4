#!/usr/bin/env bash
# buf for the konkurs schemas, installed on first use into build/tools (not globally).
#   buf.sh lint       lint schemas/ (rules in schemas/buf.yaml)
#   buf.sh breaking   check schemas/ against the released baseline, schemas/baseline.binpb
#   buf.sh baseline   rebuild the baseline from schemas/ (when a schema version is released)
set -euo pipefail

BUF_VERSION=1.75.0

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/build/tools"
buf="$tools/node_modules/.bin/buf"
baseline=baseline.binpb

if [[ "$("$buf" --version 2>/dev/null)" != "$BUF_VERSION" ]]; then
  mkdir -p "$tools"
  # --ignore-scripts: the package's postinstall only swaps its Node launcher for the
  # platform binary; the launcher works without it.
  npm install --prefix "$tools" --no-save --no-audit --no-fund --ignore-scripts \
    --loglevel=error "@bufbuild/buf@$BUF_VERSION" >&2
fi

# Keep buf's cache under build/ too.
export BUF_CACHE_DIR="${BUF_CACHE_DIR:-$tools/buf-cache}"
cd "$root/schemas"

case "${1:-}" in
  lint)
    "$buf" lint
    ;;
  breaking)
    "$buf" breaking --against "$baseline"
    ;;
  baseline)
    # No source info: the baseline is compared by structure only, and stays small.
    "$buf" build --exclude-source-info -o "$baseline"
    ;;
  *)
    echo "usage: $0 lint|breaking|baseline" >&2
    exit 2
    ;;
esac
