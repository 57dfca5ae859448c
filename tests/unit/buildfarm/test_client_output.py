"""How ``devpi build`` prints jobs (pure formatting; the CLI runs in the integration tests)."""

from __future__ import annotations

from devpi_buildfarm.client_output import job_event_text, outcome_text, timings_text, waiting_text


def test_timings_in_build_order_then_others_then_total() -> None:
    text = timings_text({"smoke": 0.5, "build": 2.0, "extra": 1, "fetch": 0.004})
    assert text == "fetch 0.00s  build 2.00s  smoke 0.50s  extra 1.00s  total 3.50s"
    assert timings_text({}) == ""


def test_outcome_is_the_wheel_or_why_not() -> None:
    assert outcome_text({"wheel": "a-1-py3-none-any.whl", "error": None}) == "a-1-py3-none-any.whl"
    assert outcome_text({"wheel": None, "error": "boom", "reason": None}) == "boom"
    assert outcome_text({"wheel": None, "error": None, "reason": "covered"}) == "covered"
    assert outcome_text({}) == ""


JOB = {"id": 3, "project": "lxml", "version": "5.3.0", "target": "cp311-manylinux_x86_64",
       "state": "running", "wheel": None, "error": None, "reason": None, "timings": {}}  # fmt: skip


def test_a_job_event_names_job_state_and_seconds() -> None:
    assert job_event_text(JOB, 12.4) == "job 3 lxml 5.3.0 cp311-manylinux_x86_64: running (12 s)"


def test_an_ended_job_event_adds_outcome_and_stage_timings() -> None:
    done = {**JOB, "state": "succeeded", "wheel": "lxml-5.3.0-cp311.whl",
            "timings": {"build": 2.0, "fetch": 0.5}}  # fmt: skip
    assert job_event_text(done, 20) == (
        "job 3 lxml 5.3.0 cp311-manylinux_x86_64: succeeded (20 s)  lxml-5.3.0-cp311.whl  "
        "fetch 0.50s  build 2.00s  total 2.50s"
    )
    failed = {**JOB, "state": "failed", "error": "deps: pip exited 1"}
    assert job_event_text(failed, 3).endswith("failed (3 s)  deps: pip exited 1")


def test_waiting_counts_the_states() -> None:
    assert (
        waiting_text(["queued", "running", "queued"]) == "waiting for 3 builds: 2 queued, 1 running"
    )
    assert waiting_text(["running"]) == "waiting for 1 build: 1 running"
