from sim.checks import CheckResult


def test_check_result_is_a_frozen_value() -> None:
    r = CheckResult("c", True)
    assert r.to_data() == {"name": "c", "ok": True, "message": "", "details": {}}
    try:
        r.ok = False  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("CheckResult must be frozen")
