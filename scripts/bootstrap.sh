#!/usr/bin/env bash
# Installs what newswatch needs on a fresh Debian machine: Java + Maven for the local Kafka broker, kcat
# and protoc for the wire-format tests (each only when missing), and the Python virtualenv with the
# package and its development tools.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

need_apt=()
command -v java >/dev/null || need_apt+=(default-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
# Wire-format checks in the tests read topics with kcat and decode them with protoc.
command -v kcat >/dev/null || need_apt+=(kcat)
command -v protoc >/dev/null || need_apt+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/timestamp.proto ] || need_apt+=(libprotobuf-dev)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing ${need_apt[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "bootstrap: please install: ${need_apt[*]}" >&2
    exit 1
  fi
fi

py=${BOOTSTRAP_PYTHON:-python3}  # the interpreter that creates .venv
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: Python >= 3.11 is needed ($py is $("$py" --version 2>&1))" >&2
  exit 1
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  [ -d .venv ] || "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
