#!/usr/bin/env bash
# Generates Python code (and mypy stubs) for proto/newswatch/v1/*.proto into services/newswatch/v1/.
# With --check, generates into a temporary folder and fails when the committed code differs.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
py=${PYTHON:-python}
# protoc-gen-mypy lives beside the interpreter (the virtualenv's bin/).
PATH="$(dirname "$(command -v "$py")"):$PATH"
export PATH
gen() {
  local out=$1
  mkdir -p "$out/newswatch/v1"
  "$py" -m grpc_tools.protoc -I proto \
    --python_out="$out" --mypy_out="$out" \
    proto/newswatch/v1/*.proto
  # The generated package is newswatch.v1 inside the installed newswatch package.
  [ -f "$out/newswatch/v1/__init__.py" ] || printf '"""Generated protobuf code for proto/newswatch/v1 (make proto)."""\n' > "$out/newswatch/v1/__init__.py"
}
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  gen "$tmp"
  if ! diff -r -q "$tmp/newswatch/v1" services/newswatch/v1 >/dev/null; then
    diff -r "$tmp/newswatch/v1" services/newswatch/v1 | head -40 >&2
    echo "generated protobuf code is stale: run 'make proto' and commit the result" >&2
    exit 1
  fi
  echo "generated protobuf code is up to date"
else
  rm -rf services/newswatch/v1
  gen services
  echo "generated services/newswatch/v1"
fi
