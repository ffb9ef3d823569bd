"""Native teardown dumps (``spin.arm_native_dump``) are opt-in."""


def test_without_the_variable_nothing_is_armed(monkeypatch):
    from edgeserve_ros.ros.spin import arm_native_dump, NATIVE_DUMP_ENV

    monkeypatch.delenv(NATIVE_DUMP_ENV, raising=False)
    assert arm_native_dump(0.1) is None
