"""How ``devpi build`` prints jobs (pure formatting; the CLI runs in the integration tests)."""

from __future__ import annotations

from devpi_buildfarm.client_output import outcome_text, timings_text


def test_timings_in_build_order_then_others_then_total() -> None:
    text = timings_text({"smoke": 0.5, "build": 2.0, "extra": 1, "fetch": 0.004})
    assert text == "fetch 0.00s  build 2.00s  smoke 0.50s  extra 1.00s  total 3.50s"
    assert timings_text({}) == ""


def test_outcome_is_the_wheel_or_why_not() -> None:
    assert outcome_text({"wheel": "a-1-py3-none-any.whl", "error": None}) == "a-1-py3-none-any.whl"
    assert outcome_text({"wheel": None, "error": "boom", "reason": None}) == "boom"
    assert outcome_text({"wheel": None, "error": None, "reason": "covered"}) == "covered"
    assert outcome_text({}) == ""
