#!/usr/bin/env bash
# Re-create the vendored schemas of tests/deploy/schemas/ from their registry packages (see SOURCES.md).
# Needs go, mvn and a Java >= 21 runtime (JAVA21=/path/to/java; Strimzi's generator is built for 21).
# Review the diff before committing: a new version can change what the tests accept.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
COMPOSE_GO=v2.16.2 KEDA=v2.21.0 PROM_OPERATOR=v0.85.0 STRIMZI=1.2.0
java21="${JAVA21:-$(ls /usr/lib/jvm/temurin-2[5-9]*/bin/java /usr/lib/jvm/*-2[1-9]*/bin/java 2>/dev/null | head -1)}"
[ -x "$java21" ] || { echo "update.sh: no Java >= 21 found; set JAVA21" >&2; exit 1; }

gomod() { GOFLAGS=-mod=mod go mod download -json "$1@$2" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'; }
install -m 644 "$(gomod github.com/compose-spec/compose-go/v2 "$COMPOSE_GO")/schema/compose-spec.json" \
  "$here/compose-spec.json"
install -m 644 "$(gomod github.com/kedacore/keda/v2 "$KEDA")/config/crd/bases/keda.sh_scaledobjects.yaml" \
  "$here/keda-${KEDA#v}/scaledobjects.keda.sh.yaml"
install -m 644 "$(gomod github.com/prometheus-operator/prometheus-operator "$PROM_OPERATOR")/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml" \
  "$here/prometheus-operator-${PROM_OPERATOR#v}/podmonitors.monitoring.coreos.com.yaml"

# Strimzi publishes its API classes and CRD generator to Maven Central; its build writes the CRDs with
# these arguments (api/pom.xml of the release), and so does this.
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>strimzi-crds</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$STRIMZI</version>
      <exclusions><exclusion><groupId>io.strimzi</groupId><artifactId>test</artifactId></exclusion></exclusions></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$STRIMZI</version>
      <exclusions><exclusion><groupId>io.strimzi</groupId><artifactId>test</artifactId></exclusion></exclusions></dependency>
  </dependencies></project>
POM
(cd "$work" && mvn -q dependency:copy-dependencies -DoutputDirectory=lib)
out="$here/strimzi-$STRIMZI"
"$java21" -cp "$work/lib/*" io.strimzi.crdgenerator.CrdGenerator \
  --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ \
  --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
  "io.strimzi.api.kafka.model.kafka.Kafka=$out/kafkas.kafka.strimzi.io.yaml" \
  "io.strimzi.api.kafka.model.topic.KafkaTopic=$out/kafkatopics.kafka.strimzi.io.yaml" \
  "io.strimzi.api.kafka.model.nodepool.KafkaNodePool=$out/kafkanodepools.kafka.strimzi.io.yaml"
chmod 644 "$out"/*.yaml
(cd "$here" && sha256sum compose-spec.json */*.yaml)
