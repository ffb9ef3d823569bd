"""edgeserve_ros.models."""
