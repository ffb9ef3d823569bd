"""
edgeserve_ros.models: rclpy-free model runtime, shared queue and ensembles.

Modules:

* :mod:`.types` -- :class:`Prediction` and the :class:`Model` protocol.
* :mod:`.config` -- validation of model config dicts (from YAML).
* :mod:`.loaders` -- :func:`load_model` / :func:`load_models` for the kinds
  ``sklearn``, ``torch``, ``opencv_qr`` and ``function``.
* :mod:`.features` -- assembling per-stream arrays into one feature row.
* :mod:`.batching` -- :class:`MicroBatcher`, a pure (time passed in) micro-batcher.
* :mod:`.shared_queue` -- :class:`ShardQueue`, the pure core of ``shared_queue()``.
* :mod:`.ensemble` -- skew-bounded voting and stacking of local predictions.
* :mod:`.zoo` -- small allow-listed torch modules and benchmark functions.
* :mod:`.metrics` -- real-time accuracy / F1 and excess examples (paper §6.2).

Security: model files are only ever read from paths named in the local config;
nothing received over the network is unpickled.
"""
