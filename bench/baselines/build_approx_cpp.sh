#!/bin/sh
# Build the stock ROS 1 ApproximateTime driver into build/baselines/approx_cpp (cached).
# Needs Debian 12's libmessage-filters-dev (pulls roscpp, rostime, rosconsole, std_msgs).
# Usage: bench/baselines/build_approx_cpp.sh [--force]; prints the binary's path.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
src="$root/bench/baselines/approx_cpp.cpp"
out="$root/build/baselines/approx_cpp"
if [ "${1:-}" != "--force" ] && [ -x "$out" ] && [ "$out" -nt "$src" ]; then
  echo "$out"; exit 0
fi
if [ ! -f /usr/include/message_filters/sync_policies/approximate_time.h ]; then
  echo "approx-cpp baseline needs apt package libmessage-filters-dev" >&2; exit 3
fi
mkdir -p "$(dirname "$out")"
${CXX:-g++} -std=c++17 -O2 -o "$out.$$.tmp" "$src" \
  -lmessage_filters -lroscpp -lrosconsole -lrostime -lcpp_common -lboost_system >&2
mv "$out.$$.tmp" "$out"
echo "$out"
