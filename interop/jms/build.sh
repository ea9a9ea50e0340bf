#!/usr/bin/env bash
# Builds the Qpid JMS scenario client: interop/jms/target/convoy-jms-interop.jar (+ target/lib/*.jar).
# Idempotent: does nothing when the jar is newer than the pom and every Java source.
# Maven works offline once ~/.m2 holds the dependencies (the first build downloads them).
set -euo pipefail
cd "$(dirname "$0")"

jar=target/convoy-jms-interop.jar
if [[ -f "$jar" && -d target/lib && -z "${FORCE:-}" ]]; then
  newer=$(find pom.xml src -newer "$jar" -type f | head -n 1)
  if [[ -z "$newer" ]]; then
    exit 0
  fi
fi

command -v mvn >/dev/null || { echo "build.sh: mvn not found on PATH" >&2; exit 1; }
command -v java >/dev/null || { echo "build.sh: java not found on PATH" >&2; exit 1; }

offline=()
# Go offline when the local repository already has what the build needs (fast, no network).
if [[ -d "${HOME}/.m2/repository/org/apache/qpid/qpid-jms-client" ]]; then
  offline=(-o)
fi
if ! mvn -q -B -Dstyle.color=never "${offline[@]}" package -DskipTests; then
  if [[ ${#offline[@]} -gt 0 ]]; then
    echo "build.sh: offline build failed, retrying online" >&2
    mvn -q -B -Dstyle.color=never package -DskipTests
  else
    exit 1
  fi
fi
test -f "$jar"
