"""
Plain-Python install of edgeserve_ros's rclpy-free parts (``pip install .``).

colcon builds this repository as an ament_cmake package (see package.xml and
CMakeLists.txt), which also generates the msg/srv interfaces; this file is for machines
without ROS that only need the synchronizer core, the replay CLI, the models and workloads.
"""

from setuptools import find_packages, setup

setup(
    name='edgeserve_ros',
    version='0.1.0',
    description='EdgeServe on ROS 2: lazy data routing, timely synchronization, model serving',
    license='Apache-2.0',
    package_dir={'': 'src'},
    packages=find_packages('src'),
    python_requires='>=3.10',
    install_requires=['numpy', 'PyYAML', 'xxhash'],
    entry_points={'console_scripts': [
        'edgeserve-replay = edgeserve_ros.sync.replay:main',
    ]},
)
