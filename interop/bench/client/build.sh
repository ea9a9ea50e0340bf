#!/usr/bin/env bash
# Build the benchmark clients (Qpid Proton C++, Debian libqpid-proton-cpp12-dev) into
# interop/.cache/bench-client/. Rebuilds only when a source is newer than the binary.
#   apt-get install -y libqpid-proton-cpp12-dev g++
set -euo pipefail
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
