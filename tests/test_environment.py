"""What the suite needs from the machine it runs on: in CI, a missing piece fails the run instead of
quietly skipping the tests that need it."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED_DATASETS, shared_required


def test_the_shared_datasets_are_here_in_ci() -> None:
    if not SHARED_DATASETS.is_dir():
        why = f"the shared datasets are not at {SHARED_DATASETS} (../shared/datasets or MOFANG_SHARED_DATASETS)"
        if shared_required():
            pytest.fail(why)
        pytest.skip(why)
    assert any(SHARED_DATASETS.iterdir()), f"{SHARED_DATASETS} is empty"
