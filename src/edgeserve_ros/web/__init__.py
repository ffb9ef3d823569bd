"""
Web ingress: HTTP and WebSocket inference on the lazy data plane (rclpy-free parts).

:mod:`.limits` (request and pixel limits), :mod:`.auth` (bearer token), :mod:`.admission`
(bounded per-client and global queues), :mod:`.imaging` (header-first image decoding in a
bounded pool), :mod:`.uploads` (bounded bodies, multipart), :mod:`.results` (async result
store), :mod:`.pending` (uploads waiting for their predictions), :mod:`.metrics`
(Prometheus text), :mod:`.frames` (WebSocket frames), :mod:`.app` (the Starlette app).
``web_gateway_node`` is the thin rclpy adapter.
"""
