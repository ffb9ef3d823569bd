"""edgeserve_ros.dataplane."""
