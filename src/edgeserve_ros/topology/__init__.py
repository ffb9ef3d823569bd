"""edgeserve_ros.topology."""
