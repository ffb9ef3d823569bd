"""edgeserve_ros.gateway."""
