"""How ``devpi build`` prints jobs, requests and targets (plain text for people)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from devpi_buildfarm.core.jobs import FINAL, STAGES


def _when(stamp: float | None) -> str:
    return "-" if not stamp else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def timings_text(timings: dict[str, float]) -> str:
    """``fetch 0.01s  deps 1.20s ...`` in build order, then any other steps, then the total."""
    order = [s for s in STAGES if s in timings] + sorted(set(timings) - set(STAGES))
    parts = [f"{name} {timings[name]:.2f}s" for name in order]
    if parts:
        parts.append(f"total {sum(timings.values()):.2f}s")
    return "  ".join(parts)


def job_event_text(job: dict[str, Any], seconds: float) -> str:
    """``job 3 lxml 5.3.0 cp311-manylinux_x86_64: running (12 s)``; an ended job adds its
    outcome and stage timings."""
    text = (f"job {job['id']} {job['project']} {job['version']} {job['target']}: "
            f"{job['state']} ({seconds:.0f} s)")  # fmt: skip
    if job["state"] in FINAL:
        outcome, timings = outcome_text(job), timings_text(job.get("timings") or {})
        text += "".join(f"  {part}" for part in (outcome, timings) if part)
    return text


def waiting_text(states: list[str]) -> str:
    """``waiting for 3 builds: 1 running, 2 queued``"""
    counts = Counter(states)
    parts = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    noun = "build" if len(states) == 1 else "builds"
    return f"waiting for {len(states)} {noun}: {parts}"


def outcome_text(job: dict[str, Any]) -> str:
    """What a job produced or why it did not."""
    if job.get("wheel"):
        return str(job["wheel"])
    return str(job.get("error") or job.get("reason") or "")


def print_jobs(hub: Any, jobs: list[dict[str, Any]]) -> None:
    if not jobs:
        hub.info("no build jobs")
        return
    hub.line(f"{'ID':>6}  {'STATE':9}  {'PROJECT':24}  {'VERSION':12}  {'TARGET':26}  RESULT")
    for job in jobs:
        hub.line(
            f"{job['id']:>6}  {job['state']:9}  {job['project']:24}  {job['version']:12}  "
            f"{job['target']:26}  {outcome_text(job)}"
        )


def print_job(hub: Any, job: dict[str, Any]) -> None:
    hub.info(f"job {job['id']}: {job['state']}")
    rows = [
        ("release", f"{job['project']} {job['version']} ({job['sdist']})"),
        ("target", f"{job['target']} on builder {job['builder'] or '-'}"),
        ("index", f"{job['index']} -> {job['upload_to']}"),
        ("attempts", f"{job['attempts']} of {job['max_attempts']}"),
        ("created", _when(job["created"])),
        ("started", _when(job["started"])),
        ("finished", _when(job["finished"])),
        ("isolation", job["isolation"] or "-"),
        ("timings", timings_text(job["timings"]) or "-"),
    ]
    if job["wheel"]:
        rows.append(("wheel", job["wheel"]))
    if job["error"] or job["reason"]:
        rows.append(("error" if job["error"] else "reason", job["error"] or job["reason"]))
    for key, value in rows:
        hub.line(f"  {key + ':':11}{value}")


def print_request(hub: Any, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        if row["error"]:
            hub.error(f"{row['requirement']}: not queued: {row['error']}")
            continue
        hub.info(f"{row['requirement']}: {row['project']} {row['version']} ({row['sdist']})")
        for job in row["jobs"]:
            note = "new" if job["new"] else "known"
            detail = outcome_text(job)
            hub.line(f"  job {job['id']:>5}  {job['target']:26}  {job['state']:9}  {note}"
                     + (f"  {detail}" if detail else ""))  # fmt: skip


def print_targets(hub: Any, result: dict[str, Any]) -> None:
    patterns = ", ".join(result["patterns"]) or "none (buildfarm_targets is empty)"
    hub.info(f"{result['index']}: targets {patterns}; wheels go to {result['upload_to']}")
    for row in result["targets"]:
        builder = row["builder"] or "NO BUILDER"
        policy = f" ({row['policy']})" if row["policy"] else ""
        runs = f"  {row['runs']}" if row.get("runs") else ""
        hub.line(f"  {row['target']:26}  {builder} [{row['backend'] or '-'}]{policy}{runs}")
    hub.line(f"  isolation of local builds: {result['isolation']}")
