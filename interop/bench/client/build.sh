#!/usr/bin/env bash
# Build the benchmark clients (Qpid Proton C++, Debian libqpid-proton-cpp12-dev) into
# interop/.cache/bench-client/. Rebuilds only when a source is newer than the binary. Installs the
# Debian packages it needs when they are missing, so `node interop/bench/run.mjs` is one command.
set -euo pipefail
if [ ! -f /usr/include/proton/container.hpp ] || ! command -v "${CXX:-g++}" >/dev/null; then
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  echo "build: installing libqpid-proton-cpp12-dev and g++" >&2
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q libqpid-proton-cpp12-dev g++ >&2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${BENCH_CLIENT_OUT:-$(cd "$HERE/../.." && pwd)/.cache/bench-client}"
mkdir -p "$OUT"
CXX="${CXX:-g++}"
for name in send recv; do
  src="$HERE/bench_$name.cpp"
  bin="$OUT/bench-$name"
  if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] || [ "$HERE/common.hpp" -nt "$bin" ]; then
    echo "build: $bin" >&2
    "$CXX" -O2 -std=c++17 -Wall -Wextra -o "$bin.tmp" "$src" -lqpid-proton-cpp
    mv "$bin.tmp" "$bin"
  fi
done
echo "$OUT"
