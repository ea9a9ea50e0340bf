#!/usr/bin/env bash
# Builds the Qpid JMS scenario client for test/interop/qpid-jms.test.ts:
#   interop/jms/target/convoy-jms-interop.jar  (manifest Class-Path -> target/lib/*.jar)
# Run it as: java -jar interop/jms/target/convoy-jms-interop.jar <scenario> amqp://127.0.0.1:PORT
# Idempotent: exits at once when the jar is newer than pom.xml and every source file (FORCE=1 rebuilds).
# The first build downloads dependencies from Maven Central into ~/.m2; later builds run offline.
set -euo pipefail
cd "$(dirname "$0")"

jar=target/convoy-jms-interop.jar
if [[ -f "$jar" && -d target/lib && -z "${FORCE:-}" ]]; then
  if [[ -z "$(find pom.xml src -newer "$jar" -type f | head -n 1)" ]]; then
    exit 0
  fi
fi

command -v mvn >/dev/null || { echo "build.sh: mvn not found on PATH" >&2; exit 1; }
command -v java >/dev/null || { echo "build.sh: java not found on PATH" >&2; exit 1; }

build() {
  local out
  if out=$(mvn -q -B -Dstyle.color=never "$@" package -DskipTests 2>&1); then
    return 0
  fi
  echo "$out" >&2
  return 1
}

# Offline first when the local repository already holds the client (fast, no network).
if [[ -d "${HOME}/.m2/repository/org/apache/qpid/qpid-jms-client" ]] && build -o 2>/dev/null; then
  :
else
  build
fi
test -f "$jar" || { echo "build.sh: $jar was not produced" >&2; exit 1; }
