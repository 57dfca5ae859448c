"""devpi_buildfarm's readers of build output under hostile bytes: the built wheel's
metadata and module names, the answer's one-file tar and the answer frame. A clear
refusal (ArchiveError, FrameError) or a correct result, within the caps."""

from __future__ import annotations

import io
import json
import tarfile

from hypothesis import given
from hypothesis import strategies as st

from devpi_buildfarm.core import framing, wheels
from devpi_buildfarm.core.framing import FrameError, read_header, write_frame
from devpi_buildfarm.core.onefile_tar import MAX_PAX, only_file
from devpi_foundry_common.archive import MAX_METADATA_BYTES, ArchiveError, Limits
from harness.fuzzing import MiB, bounded, check_bounds, count
from harness.hostile_archives import Built, distributions, mutate

WHEEL_CAP = Limits()


@given(distributions())
def test_wheel_readers_refuse_or_answer(built: Built) -> None:
    count("test_wheel_readers_refuse_or_answer")
    cap = 3 * len(built.data) + 4 * MAX_METADATA_BYTES + WHEEL_CAP.max_lzma_memory + 8 * MiB
    # one reader reads a file object, the other the bytes: the archive reader takes either
    found = bounded(lambda: wheels.name_and_version(io.BytesIO(built.data), built.filename))
    names = bounded(lambda: wheels.import_names(built.data, built.filename))
    for reader, outcome in (("name_and_version", found), ("import_names", names)):
        check_bounds(outcome, memory=cap, what=reader)
        if outcome.error is not None and not isinstance(outcome.error, ArchiveError):
            raise outcome.error
    modules = names.value
    assert modules is None or all(p.isidentifier() for n in modules for p in n.split("."))  # type: ignore[attr-defined]


_BODIES = st.binary(max_size=3000)
_NAMES = st.sampled_from(["answer", "answer", "other", "answer/../x"])
_TYPES = st.sampled_from([tarfile.REGTYPE] * 4 + [tarfile.SYMTYPE, tarfile.DIRTYPE])
_PAX = st.dictionaries(st.sampled_from(["comment", "SCHILY.xattr.user.x", "mtime"]),
                       st.text(max_size=300), max_size=3)  # fmt: skip
_HUGE = st.sampled_from([0, 0, 0, MAX_PAX + 1, 10 * MAX_PAX])
_CAPS = st.sampled_from([4096, 1 << 20])


@st.composite
def answer_tars(draw: st.DrawFn) -> tuple[bytes, bytes | None, int]:
    """A one-file tar as a container's answer (maybe with PAX records, maybe another kind
    or name, maybe mutated), the body a correct reader returns (``None``: refuse) and the cap."""
    body, name, kind, pax, huge = draw(_BODIES), draw(_NAMES), draw(_TYPES), draw(_PAX), draw(_HUGE)
    if huge:
        pax["comment"] = "x" * huge
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers=pax) as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        if kind == tarfile.REGTYPE:
            info.size = len(body)
        tar.addfile(info, io.BytesIO(body) if kind == tarfile.REGTYPE else None)
    cap = draw(_CAPS)
    data, mutated = mutate(draw, buf.getvalue())
    clean = mutated is None and name == "answer" and kind == tarfile.REGTYPE and not huge
    return data, body if clean and len(body) <= cap else None, cap


@given(answer_tars())
def test_only_file_refuses_or_returns_the_body(case: tuple[bytes, bytes | None, int]) -> None:
    count("test_only_file_refuses_or_returns_the_body")
    data, expected, cap = case

    def read() -> bytes:
        body = only_file(io.BytesIO(data), "answer", cap)
        return body.readline(100) + body.read()

    outcome = bounded(read)
    check_bounds(outcome, memory=3 * len(data) + 4 * cap + MiB, what="only_file")
    if outcome.error is not None and not isinstance(outcome.error, FrameError):
        raise outcome.error
    if expected is not None:
        assert outcome.value == expected


_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
_SHAPES = st.sampled_from(["scalar", "scalar", "list", "dict"])
_UP_TO_4 = st.integers(min_value=0, max_value=4)
_KEYS = st.text(max_size=8)


def json_value(draw: st.DrawFn, leaves: list[int]) -> object:
    """A JSON value of scalars in lists and objects (up to 4 items each), spending at most
    ``leaves[0]`` scalars. Drawn by hand: ``st.recursive`` took 5x as long for the same."""
    shape = draw(_SHAPES) if leaves[0] > 1 else "scalar"
    if shape == "scalar":
        leaves[0] -= 1
        return draw(_SCALARS)
    size = draw(_UP_TO_4)
    if shape == "list":
        return [json_value(draw, leaves) for _ in range(size) if leaves[0] > 0]
    return {draw(_KEYS): json_value(draw, leaves) for _ in range(size) if leaves[0] > 0}


def json_values(draw: st.DrawFn) -> object:
    return json_value(draw, [20])


_FILES = st.lists(
    st.tuples(
        st.sampled_from(["../etc/passwd", "/abs", "a/b/c", "ok", ""]), st.integers(-5, 2**70)
    ).map(list)
)
_FRAMES = st.sampled_from(["valid", "valid", "json", "deep", "raw"])
_META_KEYS = st.text(max_size=10)
_UP_TO_3 = st.integers(min_value=0, max_value=3)
_UP_TO_5 = st.integers(min_value=0, max_value=5)
_FRAME_FILES = st.lists(st.tuples(st.sampled_from(["wheel/a-1.0-py3-none-any.whl", "log",
                                                   "x/y.txt"]), st.binary(max_size=100)),
                        max_size=3)  # fmt: skip
_PROTOCOLS = st.sampled_from([1, 1, 2, "1", None])
_BAD_FILES = st.booleans()
_DEPTHS = st.integers(min_value=100, max_value=200_000)
_RAW = st.binary(max_size=2000)


@st.composite
def frames(draw: st.DrawFn) -> tuple[bytes, framing.Header | None]:
    """A frame as a sandbox answers (maybe with hostile names, sizes, nesting or bytes) and
    the header a correct reader returns (``None``: refuse or anything)."""
    kind = draw(_FRAMES)
    if kind == "valid":
        meta = {draw(_META_KEYS): json_values(draw) for _ in range(draw(_UP_TO_5))}
        files = draw(_FRAME_FILES)
        out = io.BytesIO()
        write_frame(out, meta, [(n, io.BytesIO(b), len(b)) for n, b in files])
        data, mutated = mutate(draw, out.getvalue())
        header = framing.Header(meta=meta, files=tuple((n, len(b)) for n, b in files))
        return data, header if mutated is None else None
    if kind == "json":
        protocol = draw(_PROTOCOLS)
        if draw(_BAD_FILES):
            files: object = [[json_values(draw) for _ in range(draw(_UP_TO_3))]
                             for _ in range(draw(_UP_TO_3))]  # fmt: skip
        else:
            files = draw(_FILES)
        header_obj = {"protocol": protocol, "meta": json_values(draw), "files": files}
        return json.dumps(header_obj).encode() + b"\n", None
    if kind == "deep":  # nesting past the recursion limit of json
        depth = draw(_DEPTHS)
        return b'{"protocol": 1, "meta": ' + b"[" * depth + b"]" * depth + b"}\n", None
    return draw(_RAW), None


@given(frames())
def test_read_header_refuses_or_returns_the_header(
    case: tuple[bytes, framing.Header | None],
) -> None:
    count("test_read_header_refuses_or_returns_the_header")
    data, expected = case
    outcome = bounded(lambda: read_header(io.BytesIO(data), max_bytes=framing.MAX_HEADER_BYTES))
    check_bounds(outcome, memory=20 * framing.MAX_HEADER_BYTES + 8 * MiB, what="read_header")
    if outcome.error is not None and not isinstance(outcome.error, FrameError):
        raise outcome.error
    if expected is not None:
        assert outcome.value == expected
