import pytest

from sim.checks import CheckResult


def test_check_result_is_a_frozen_value() -> None:
    r = CheckResult("c", True)
    assert r.to_data() == {"name": "c", "ok": True, "status": "ok", "message": "", "details": {}}
    with pytest.raises(AttributeError):
        r.ok = False  # type: ignore[misc]


def test_a_check_has_three_distinct_statuses() -> None:
    assert CheckResult("c", True).status == "ok"
    assert CheckResult("c", False, "2 replicas differ").status == "failed"
    nothing = CheckResult.not_checked("c", "no client received a message")
    assert (nothing.status, nothing.ok, nothing.checked) == ("not checked", True, False)
    assert nothing.to_data()["status"] == "not checked"


def test_a_check_that_looked_at_nothing_cannot_have_failed() -> None:
    with pytest.raises(ValueError, match="looked at nothing"):
        CheckResult("c", False, checked=False)
