"""
edgeserve_ros.workloads: seeded synthetic data for the paper's three workloads.

* :mod:`.har` / :mod:`.har_train` -- Opportunity-like human activity recognition (§6.4).
* :mod:`.nids` -- CIC-IDS2017-like network flow records (§6.5).
* :mod:`.qr` / :mod:`.qr_match` -- two-camera 1080p frames of a moving QR code.

Nothing is downloaded; every generator is deterministic given its seed.
"""
