#!/usr/bin/env bash
# Download ActiveMQ Artemis (bin tar.gz from Maven Central), unpack it and create a broker
# instance for the Convoy benchmark. Idempotent: download, unpack and create happen once;
# the AMQP acceptor port is (re)written on every call.
#
#   interop/bench/setup-artemis.sh [--port PORT] [--version X.Y.Z] [--home-only]
#
# Prints the instance directory as the last line of stdout. With --home-only it stops after the
# download and unpack and prints the distribution's directory instead (its bin/artemis runs the
# client tools, e.g. `artemis perf client`, without touching the instance a broker may be running).
#
# Artemis moved from groupId org.apache.activemq to org.apache.artemis (org.apache.activemq:
# apache-artemis:2.56.0 is a relocation pom with no tar.gz); the newest 2.x binary lives under
# org.apache.artemis. Override with ARTEMIS_GROUP / ARTEMIS_VERSION or --version.
set -euo pipefail

PORT=5672
VERSION="${ARTEMIS_VERSION:-2.56.0}"
GROUP="${ARTEMIS_GROUP:-org.apache.artemis}"
HOME_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --version) VERSION="$2"; shift 2 ;;
    --home-only) HOME_ONLY=1; shift ;;
    *) echo "usage: $0 [--port PORT] [--version X.Y.Z] [--home-only]" >&2; exit 2 ;;
  esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$(cd "$HERE/.." && pwd)/.cache"          # interop/.cache (git-ignored)
HOME_DIR="$CACHE/apache-artemis-$VERSION"
INSTANCE="$CACHE/artemis-instance-$VERSION"
TARBALL="$CACHE/apache-artemis-$VERSION-bin.tar.gz"
mkdir -p "$CACHE"

if [ ! -s "$TARBALL" ]; then
  echo "setup-artemis: fetching $GROUP:apache-artemis:$VERSION:tar.gz:bin" >&2
  # dependency:copy resolves through ~/.m2 and copies into the cache directory.
  (cd "$CACHE" && timeout 900 mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
      -Dartifact="$GROUP:apache-artemis:$VERSION:tar.gz:bin" \
      -DoutputDirectory="$CACHE" -Dmdep.overWriteReleases=false >&2)
  [ -s "$TARBALL" ] || { echo "setup-artemis: download failed ($TARBALL missing)" >&2; exit 1; }
fi

if [ ! -x "$HOME_DIR/bin/artemis" ]; then
  echo "setup-artemis: unpacking" >&2
  tar -xzf "$TARBALL" -C "$CACHE"
fi

if [ "$HOME_ONLY" = 1 ]; then
  echo "$HOME_DIR"
  exit 0
fi

if [ ! -f "$INSTANCE/etc/broker.xml" ]; then
  echo "setup-artemis: creating instance $INSTANCE" >&2
  rm -rf "$INSTANCE"
  # --no-autotune: skip the journal sync benchmark at create time (keeps creation quick and
  # deterministic); the journal keeps Artemis's default sync behaviour (fdatasync on commit).
  timeout 300 "$HOME_DIR/bin/artemis" create "$INSTANCE" --silent --force \
      --user x --password x --allow-anonymous --require-login=false \
      --no-web --no-autotune --host 127.0.0.1 --name convoy-bench \
      --no-hornetq-acceptor --no-mqtt-acceptor --no-stomp-acceptor >&2
fi

BROKER_XML="$INSTANCE/etc/broker.xml"
# Exactly one acceptor: AMQP on loopback at $PORT (Artemis's default AMQP acceptor tuning kept).
# Address settings: auto-created addresses and queues are ANYCAST (a queue per address, which is
# what a Convoy queue is); addresses under bench.excl.# make exclusive queues (Artemis's way to
# get an exclusive consumer for AMQP clients: the `exclusive-queue` / default-exclusive-queue setting).
python3 - "$BROKER_XML" "$PORT" <<'PY'
import re, sys
path, port = sys.argv[1], sys.argv[2]
x = open(path).read()
acceptor = ('<acceptors>\n         <acceptor name="amqp">tcp://127.0.0.1:%s?tcpSendBufferSize=1048576;'
            'tcpReceiveBufferSize=1048576;protocols=AMQP;useEpoll=true;amqpCredits=1000;amqpLowCredits=300;'
            'amqpMinLargeMessageSize=102400;amqpDuplicateDetection=true</acceptor>\n      </acceptors>' % port)
x = re.sub(r'<acceptors>.*?</acceptors>', acceptor, x, count=1, flags=re.S)
marker = '<!-- convoy-bench address settings -->'
if marker not in x:
    extra = marker + '''
         <address-setting match="bench.excl.#">
            <default-exclusive-queue>true</default-exclusive-queue>
            <default-address-routing-type>ANYCAST</default-address-routing-type>
            <default-queue-routing-type>ANYCAST</default-queue-routing-type>
            <auto-create-queues>true</auto-create-queues>
            <auto-create-addresses>true</auto-create-addresses>
         </address-setting>
'''
    x = x.replace('<address-settings>', '<address-settings>\n         ' + extra, 1)
    # Catch-all: auto-created AMQP addresses/queues are anycast.
    x = re.sub(r'(<address-setting match="#">)',
               r'\1\n            <default-address-routing-type>ANYCAST</default-address-routing-type>'
               r'\n            <default-queue-routing-type>ANYCAST</default-queue-routing-type>', x, count=1)
open(path, 'w').write(x)
PY
echo "setup-artemis: AMQP on tcp://127.0.0.1:$PORT ($BROKER_XML)" >&2
echo "$INSTANCE"
