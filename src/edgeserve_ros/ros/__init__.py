"""Shared ROS 2 pieces of the nodes: QoS profiles, parameter helpers, time conversion."""
