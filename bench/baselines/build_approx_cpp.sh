#!/bin/sh
# Build the stock ROS 1 ApproximateTime driver once per source version and print its path.
# The binary is cached under ${EDGESERVE_CACHE:-~/.cache/edgeserve_ros}/baselines, keyed by
# the SHA-256 of the driver source and of the message_filters header, like the venv and the
# trained models: a fresh clone reuses it, an edited driver or an upgraded header rebuilds.
# Needs Debian 12's libmessage-filters-dev (pulls roscpp, rostime, rosconsole, std_msgs).
# Usage: bench/baselines/build_approx_cpp.sh [--force]
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
src="$root/bench/baselines/approx_cpp.cpp"
header=/usr/include/message_filters/sync_policies/approximate_time.h
if [ ! -f "$header" ]; then
  echo "approx-cpp baseline needs apt package libmessage-filters-dev" >&2; exit 3
fi
key=$(cat "$src" "$header" | sha256sum | cut -c1-16)
cache="${EDGESERVE_CACHE:-$HOME/.cache/edgeserve_ros}/baselines"
out="$cache/approx_cpp-$key"
if [ "${1:-}" != "--force" ] && [ -x "$out" ]; then
  echo "$out"; exit 0
fi
mkdir -p "$cache"
${CXX:-g++} -std=c++17 -O2 -o "$out.$$.tmp" "$src" \
  -lmessage_filters -lroscpp -lrosconsole -lrostime -lcpp_common -lboost_system >&2
mv "$out.$$.tmp" "$out"
echo "$out"
