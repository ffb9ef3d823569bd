"""
edgeserve_ros: lazy data routing, stream synchronization and model serving on ROS 2.

The package is importable without rclpy for its pure-logic modules
(:mod:`edgeserve_ros.dataplane`, :mod:`edgeserve_ros.sync`); the generated
interfaces live in :mod:`edgeserve_ros.msg` and :mod:`edgeserve_ros.srv` once
the package is built with colcon.
"""

__version__ = '0.1.0'
