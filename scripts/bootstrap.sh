#!/usr/bin/env bash
# Installs what newswatch needs on a fresh Debian machine: Java + Maven for the local Kafka broker, kcat
# and protoc for the wire-format tests, Chromium and its driver for the console's browser tests, Prometheus
# and promtool for the monitoring tests (each only when missing), and the Python virtualenv with the
# compiled matcher core (native/, built with cargo through maturin), the package and its development tools.
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
# The console's browser tests drive Debian's Chromium through its chromedriver (Selenium, no download).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
# The deploy tests check the scrape configs and alert rules with promtool and scrape the running
# pipeline with a real Prometheus on loopback (the package ships both binaries).
{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || need_apt+=(prometheus)
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
# rustup installs into ~/.cargo/bin, which a non-login shell may not have on its PATH.
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  echo "bootstrap: a Rust toolchain (cargo, rustc) is needed to build native/: see https://rustup.rs" >&2
  exit 1
fi
stamp=.venv/.installed
native_changed() {
  [ -n "$(find native/Cargo.toml native/Cargo.lock native/pyproject.toml native/newswatch_native.pyi native/src \
    -newer "$stamp" -print -quit)" ]
}
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || native_changed; then
  [ -d .venv ] || "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # The compiled core first: the package depends on it and it is not on PyPI.
  .venv/bin/python -m pip install -q --force-reinstall --no-deps ./native
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
