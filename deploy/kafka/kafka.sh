#!/usr/bin/env bash
# A local single-node Apache Kafka broker (KRaft) on loopback, for development and tests.
#
#   kafka.sh fetch        resolve the broker jars from Maven Central (pom.xml) into the cache
#   kafka.sh up           start a broker on 127.0.0.1:$KAFKA_PORT unless one answers there; wait until ready
#   kafka.sh down         stop the broker this script started (SIGTERM, then SIGKILL after 30 s)
#   kafka.sh status       exit 0 when a broker answers on the port
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), KAFKA_HOME
# (<repo>/.cache/kafka: jars, data and logs; ignored by git), KAFKA_HEAP (512m),
# KAFKA_FRESH=1 (start from empty storage).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=${KAFKA_PORT:-9092}
cport=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
home=${KAFKA_HOME:-$repo/.cache/kafka}
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
libs="$home/$version/libs"
inst="$home/broker-$port"
pidfile="$inst/broker.pid"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

fetch() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || { echo "kafka.sh: Maven (mvn) is needed to fetch Apache Kafka" >&2; exit 1; }
  command -v java >/dev/null || { echo "kafka.sh: Java 17+ is needed to run Apache Kafka" >&2; exit 1; }
  echo "kafka.sh: resolving Apache Kafka $version from Maven Central into $libs"
  mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime -Dmdep.overWriteIfNewer=true
  touch "$libs/.complete"
}

up() {
  if answers "$port"; then
    echo "kafka.sh: a broker already answers on 127.0.0.1:$port; not starting another"
    return 0
  fi
  fetch
  if [ "${KAFKA_FRESH:-0}" = 1 ]; then rm -rf "$inst"; fi
  mkdir -p "$inst"
  sed -e "s/@PORT@/$port/g" -e "s/@CPORT@/$cport/g" -e "s:@DATA@:$inst/data:g" \
    "$here/server.properties.in" > "$inst/server.properties"
  local java_cmd=(java "-Xms256m" "-Xmx${KAFKA_HEAP:-512m}" -XX:+UseG1GC
    "-Dlog4j2.configurationFile=$here/log4j2.properties" "-Dkafka.logs.dir=$inst/logs"
    -cp "$libs/*")
  if [ ! -f "$inst/data/meta.properties" ]; then
    local cluster
    cluster=$("${java_cmd[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    "${java_cmd[@]}" kafka.tools.StorageTool format --standalone -t "$cluster" \
      -c "$inst/server.properties" >"$inst/format.log" 2>&1 \
      || { cat "$inst/format.log" >&2; exit 1; }
  fi
  mkdir -p "$inst/logs"
  nohup "${java_cmd[@]}" kafka.Kafka "$inst/server.properties" >"$inst/logs/stdout.log" 2>&1 &
  echo $! >"$pidfile"
  local i
  for i in $(seq 1 120); do
    if answers "$port"; then
      echo "kafka.sh: Apache Kafka $version ready on 127.0.0.1:$port (pid $(cat "$pidfile"), data $inst/data)"
      return 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "kafka.sh: the broker exited while starting; last lines of its log:" >&2
      tail -n 30 "$inst/logs/stdout.log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "kafka.sh: the broker did not answer on 127.0.0.1:$port within 60 s" >&2
  exit 1
}

down() {
  if [ ! -f "$pidfile" ]; then echo "kafka.sh: no broker started by this script on port $port"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    local i
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then echo "kafka.sh: broker did not stop in 30 s; killing"; kill -KILL "$pid"; fi
  fi
  rm -f "$pidfile"
  echo "kafka.sh: broker on port $port stopped"
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  status) answers "$port" ;;
  *) echo "usage: $0 fetch|up|down|status" >&2; exit 2 ;;
esac
