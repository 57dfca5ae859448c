"""Which targets an sdist needs built, and whether a built wheel fits its job."""

from __future__ import annotations

from devpi_buildfarm.core.builders import parse_builders
from devpi_buildfarm.core.jobs import JobSpec
from devpi_buildfarm.core.plan import covering_wheel, plan_builds, result_problems

BASE = JobSpec(
    project="Demo_Ext",
    version="1.0",
    sdist="demo_ext-1.0.tar.gz",
    sdist_sha256="a" * 64,
    sdist_path="alice/dev/+f/a/demo_ext-1.0.tar.gz",
    index="alice/dev",
    upload_to="alice/dev",
    target="",
    builder="",
)
BUILDERS = parse_builders(
    '[builder.linux]\ntargets = ["cp311-manylinux_x86_64"]\nmanylinux = "manylinux_2_28"\n'
    '[builder.musl]\ntargets = ["cp311-musllinux_x86_64"]\n'
)


def test_plans_one_job_per_served_target() -> None:
    planned = plan_builds(BASE, ["cp311-*linux_x86_64"], BUILDERS, [])
    jobs = {p.target: p.job for p in planned}
    assert set(jobs) == {"cp311-manylinux_x86_64", "cp311-musllinux_x86_64"}
    linux = jobs["cp311-manylinux_x86_64"]
    assert linux is not None
    assert (linux.builder, linux.policy, linux.sdist) == ("linux", "manylinux_2_28", BASE.sdist)


def test_skips_targets_without_builder_with_a_reason() -> None:
    (planned,) = plan_builds(BASE, ["cp311-win_amd64"], BUILDERS, [])
    assert planned.job is None
    assert planned.skip == "no builder serves target 'cp311-win_amd64'"


def test_skips_targets_a_wheel_already_serves() -> None:
    wheels = ["demo_ext-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "notawheel.zip"]
    planned = plan_builds(
        BASE, ["cp311-manylinux_x86_64", "cp311-musllinux_x86_64"], BUILDERS, wheels
    )
    skipped = [p for p in planned if p.skip]
    assert [p.target for p in skipped] == ["cp311-manylinux_x86_64"]
    assert "already serves" in (skipped[0].skip or "")


def test_pure_wheel_serves_every_target() -> None:
    assert covering_wheel(["demo_ext-1.0-py3-none-any.whl"], "cp311-win_amd64", None)
    assert (
        covering_wheel(
            ["demo_ext-1.0-cp311-cp311-linux_x86_64.whl"], "cp311-manylinux_x86_64", None
        )
        is None
    )


def test_result_fits() -> None:
    wheel = "demo_ext-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    args = {"target": "cp311-manylinux_x86_64", "policy": "manylinux_2_28"}
    assert result_problems(wheel, project="Demo_Ext", version="1.0", **args) == []
    assert result_problems(wheel, project="demo-ext", version="1.0.0", **args) == []


def test_result_problems() -> None:
    args = {"target": "cp311-manylinux_x86_64", "policy": "manylinux_2_28"}
    assert (
        "not a valid wheel file name"
        in result_problems("x.whl", project="x", version="1", **args)[0]
    )
    problems = result_problems(
        "other-2.0-cp311-cp311-linux_x86_64.whl", project="demo", version="1.0", **args
    )
    assert len(problems) == 3
    assert "names project 'other'" in problems[0]
    assert "has version 2.0" in problems[1]
    assert "no tag of it is installable" in problems[2]
