#!/usr/bin/env bash
# `make run`: a local Apache Kafka broker if NEWSWATCH_KAFKA_BOOTSTRAP points nowhere, the bundled sample feed
# on 127.0.0.1:8765, the default feeds and a console subscription, then the whole pipeline (`newswatch run all`).
# Ctrl-C stops the pipeline in order; the broker keeps running (`make kafka-down` stops it).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
nw=(.venv/bin/newswatch)

export NEWSWATCH_KAFKA_BOOTSTRAP=${NEWSWATCH_KAFKA_BOOTSTRAP:-127.0.0.1:9092}
first=${NEWSWATCH_KAFKA_BOOTSTRAP%%,*}
host=${first%:*}
port=${first##*:}
if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
  case "$host" in
    127.0.0.1|localhost)
      echo "run: no broker at $first; starting a local Apache Kafka (KRaft) on 127.0.0.1:$port"
      KAFKA_PORT=$port bash deploy/kafka/kafka.sh up ;;
    *)
      echo "run: NEWSWATCH_KAFKA_BOOTSTRAP=$NEWSWATCH_KAFKA_BOOTSTRAP does not answer" >&2
      exit 1 ;;
  esac
fi

# The sample feed is on loopback: allow private networks for this local run only.
export NEWSWATCH_ALLOW_PRIVATE_NETWORKS=${NEWSWATCH_ALLOW_PRIVATE_NETWORKS:-true}
sample_port=${NEWSWATCH_SAMPLE_FEED_PORT:-8765}
unset NEWSWATCH_SAMPLE_FEED_PORT
sample_pid=
if ! (exec 3<>"/dev/tcp/127.0.0.1/$sample_port") 2>/dev/null; then
  .venv/bin/python -m http.server "$sample_port" --bind 127.0.0.1 --directory deploy/sample-feed \
    >/dev/null 2>&1 &
  sample_pid=$!
fi
cleanup() { [ -n "$sample_pid" ] && kill "$sample_pid" 2>/dev/null || true; }
trap cleanup EXIT

"${nw[@]}" feeds import deploy/feeds/default.yaml
"${nw[@]}" feeds import deploy/feeds/sample.yaml
"${nw[@]}" subscriptions add --id console --name "local console" --console >/dev/null
echo "run: pipeline starting; in another terminal: .venv/bin/newswatch tail"
"${nw[@]}" run all
