from __future__ import annotations

import shutil
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


def require_lab(*tools: str) -> None:
    """Skip the test, saying why, unless namespaces can be made and C{tools} are installed."""
    if (reason := _lab_reason()) is not None:
        pytest.skip(reason)
    for tool in tools:
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.skip(f"{tool} is not installed (scripts/install --test installs it)")


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A fresh three-host LAN in network namespaces, removed after the test."""
    require_lab()
    with Lab(hosts=3) as made:
        yield made
