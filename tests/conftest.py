from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from netlab import Lab, lab_unavailable_reason  # noqa: E402

_reason: list[str | None] = []


def _lab_reason() -> str | None:
    if not _reason:
        _reason.append(lab_unavailable_reason())
    return _reason[0]


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A fresh three-host LAN in network namespaces, removed after the test."""
    reason = _lab_reason()
    if reason is not None:
        pytest.skip(reason)
    with Lab(hosts=3) as made:
        yield made
