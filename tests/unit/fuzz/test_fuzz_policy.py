"""devpi_policy's metadata consistency check under hostile uploads: an answer (agree, or
the reason they do not) for every file, never an exception, within the caps."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from devpi_foundry_common.archive import MAX_METADATA_BYTES, Limits
from devpi_policy.adapters.uploads import upload_naming_problem
from harness.fuzzing import MiB, bounded, check_bounds, count
from harness.hostile_archives import Built, distributions


@given(distributions(), st.sampled_from(["pkg", "evil-pkg", ""]), st.sampled_from(["1.0", None]))
def test_upload_naming_answers_for_every_file(
    built: Built, form_name: str, form_version: str | None
) -> None:
    count("test_upload_naming_answers_for_every_file")
    stream = io.BytesIO(built.data)
    outcome = bounded(
        lambda: upload_naming_problem(built.filename, form_name, form_version, stream)
    )
    cap = 3 * len(built.data) + 4 * MAX_METADATA_BYTES + Limits().max_lzma_memory + 8 * MiB
    check_bounds(outcome, memory=cap, what="upload_naming_problem")
    if outcome.error is not None:
        raise outcome.error
    assert outcome.value is None or isinstance(outcome.value, str)
    assert stream.tell() == 0  # the upload's file is left for devpi to store
    if form_name == "evil-pkg":
        assert outcome.value is not None
