#!/usr/bin/env bash
# Set up edgeserve_ros on a fresh Debian 12 machine that has only pip and apt, then build it.
# Idempotent: each step is skipped when already done, so a second run takes a few seconds.
#
#   EDGESERVE_ROS_DISTRO=jazzy|kilted   ROS 2 wheels to use (default jazzy, the LTS)
#   EDGESERVE_VENV=PATH                 virtual environment (default ~/.cache/edgeserve_ros/venv-<distro>;
#                                       it must lie outside the repository, CMake refuses include
#                                       directories inside the source tree)
#   EDGESERVE_SKIP_APT=1                do not install Debian packages
#
# On a robot with ROS 2 from apt none of this is needed: source /opt/ros/<distro>/setup.bash,
# then `colcon build` and `colcon test` in the workspace.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
distro="${EDGESERVE_ROS_DISTRO:-jazzy}"
venv="${EDGESERVE_VENV:-$HOME/.cache/edgeserve_ros/venv-$distro}"
lock="$repo/requirements/$distro.lock"
say() { echo "[bootstrap] $*" >&2; }

mkdir -p "$repo/log"
[ -f "$lock" ] || { say "no lock file for ROS distro '$distro' ($lock)"; exit 2; }

# 1. Debian packages: zbar for pyzbar, iproute2 for the multi-host harness, chromium for the
#    web page test (headless; playwright cannot download browsers here), ROS 1
#    message_filters (Python and C++) as the stock ApproximateTime baselines, elfutils
#    (eu-stack) for the native stacks of a node stuck in teardown (ros/spin.py).
apt_packages=(libzbar0 iproute2 g++ chromium python3-message-filters libmessage-filters-dev
  python3-rospy python3-std-msgs elfutils)
if [ "${EDGESERVE_SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    say "apt-get install ${missing[*]}"
    $sudo_cmd apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
fi

# 2. Virtual environment with the pinned wheels (ROS 2 from PyPI, torch CPU, models, tests).
if [ ! -x "$venv/bin/python" ]; then
  say "creating venv $venv"
  python3 -m venv "$venv"
fi
# The ROS 2 Python tools that are not on PyPI (launch, launch_ros, ros2cli, message_filters...):
# wheels built from the upstream Jazzy tags, see ../shared/wheelhouse/ros-jazzy/README.md
# first of: $EDGESERVE_WHEELHOUSE, ../shared beside this checkout, the workplace's /work/shared
wheelhouse="${EDGESERVE_WHEELHOUSE:-}"
if [ -z "$wheelhouse" ]; then
  for dir in "$(dirname "$repo")/shared" /work/shared; do
    [ -d "$dir/wheelhouse/ros-$distro" ] && { wheelhouse="$dir/wheelhouse/ros-$distro"; break; }
  done
fi
wheelhouse="${wheelhouse:-$(dirname "$repo")/shared/wheelhouse/ros-$distro}"
nodeps="$repo/requirements/$distro-nodeps.lock"
wheels=()
[ -d "$wheelhouse" ] && wheels=("$wheelhouse"/*.whl)
stamp="$venv/.edgeserve-lock.sha256"
want="$(cat "$lock" "$nodeps" 2>/dev/null | sha256sum | cut -d' ' -f1)-$(printf '%s\n' "${wheels[@]##*/}" \
  | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing pinned wheels from ${lock#"$repo"/} (about a minute the first time)"
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$lock" \
      >"$repo/log/.pip.txt" 2>&1; then
    grep -v -E "^WARNING: Location|is ignored" "$repo/log/.pip.txt" >&2
    say "pip install failed"; exit 1
  fi
  # Installed without their declared dependencies, on purpose (see the file's comments).
  if [ -f "$nodeps" ]; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$nodeps" \
      >>"$repo/log/.pip.txt" 2>&1 || { cat "$repo/log/.pip.txt" >&2; say "pip install failed"; exit 1; }
  fi
  if [ "${#wheels[@]}" -gt 0 ]; then
    say "installing the ROS 2 tools wheelhouse ${wheelhouse}"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "${wheels[@]}" \
      >>"$repo/log/.pip.txt" 2>&1 || { cat "$repo/log/.pip.txt" >&2; say "pip install failed"; exit 1; }
  else
    say "no wheelhouse at $wheelhouse: ros2 launch, the ros2 CLI and message_filters stay" \
      "unavailable, and their tests skip (see docs/ros2-tools.md)"
  fi
  # pip check, less the known metadata gaps of requirements/pip-check-known.txt
  problems="$("$venv/bin/python" -m pip check 2>&1 | grep -v -x -F -f "$repo/requirements/pip-check-known.txt" \
    | grep -v '^No broken requirements found.$' || true)"
  [ -z "$problems" ] || { echo "$problems" >&2; say "pip check failed"; exit 1; }
  # 3. The two wheel defects: missing CMake packages are in the lock; foreign include dirs:
  "$venv/bin/python" "$repo/scripts/fix_ros_wheels.py"
  echo "$want" > "$stamp"
fi

# 4. Build with colcon (incremental; --symlink-install so edits to Python files apply at once),
#    into build/<distro> and install/<distro> so both distros can live side by side.
cd "$repo"
export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" PATH="$venv/bin:$PATH"
say "colcon build"
exec 9>"$repo/log/.build.lock"
flock 9  # one build at a time in this checkout
colcon build --symlink-install --build-base "build/$distro" --install-base "install/$distro" \
  --event-handlers console_cohesion- summary- \
  --cmake-args -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=ON >"$repo/log/.build.txt" 2>&1 \
  || { cat "$repo/log/.build.txt" >&2; say "colcon build failed"; exit 1; }
say "ready: venv $venv, ROS 2 $distro"
