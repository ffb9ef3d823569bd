"""Repair the exported CMake files of ROS 2 PyPI wheels for this interpreter.

The message packages' ``*.cmake`` files name the include directories of the machine that
built the wheels. This rewrites them to this interpreter's include directory and numpy's.
Idempotent: a second run changes nothing.
"""

import pathlib
import sys
import sysconfig

import numpy

WHEEL_PYTHON_INCLUDE = '/opt/python/cp311-cp311/include/python3.11'
WHEEL_NUMPY_INCLUDE = '/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include'


def main() -> int:
    """Rewrite the two foreign include paths under ``$prefix/share``; print the count."""
    share = pathlib.Path(sys.prefix) / 'share'
    replacements = {
        WHEEL_NUMPY_INCLUDE: numpy.get_include(),
        WHEEL_PYTHON_INCLUDE: sysconfig.get_paths()['include'],
    }
    changed = 0
    for path in share.rglob('*.cmake'):
        text = path.read_text(errors='surrogateescape')
        new = text
        for old, value in replacements.items():
            new = new.replace(old, value)
        if new != text:
            path.write_text(new, errors='surrogateescape')
            changed += 1
    print(f'fix_ros_wheels: rewrote {changed} cmake file(s) under {share}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
