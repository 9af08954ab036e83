"""The wheel carries the plugin and the type marker; twistd finds the plugin; lint and types."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TWISTD = str(Path(sys.executable).with_name("twistd"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (built,) = out.glob("ssdp_upnp-*.whl")
    return built


def test_wheel_has_plugin_without_package_inits(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "twisted/plugins/ssdp_upnp_plugin.py" in names
    assert "ssdp_upnp/py.typed" in names
    assert "ssdp_upnp/tap.py" in names
    assert "twisted/__init__.py" not in names
    assert "twisted/plugins/__init__.py" not in names
    assert not any("dropin.cache" in name for name in names)


def test_twistd_lists_and_describes_the_plugin() -> None:
    listing = subprocess.run([TWISTD, "--help"], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0
    assert any(line.split()[:1] == ["ssdp"] for line in listing.stdout.splitlines())
    usage = subprocess.run([TWISTD, "ssdp", "--help"], capture_output=True, text=True, timeout=60)
    for option in ("--product", "--network", "--port", "--interface", "--max-age", "--ttl",
                   "--no-advertise", "--no-discover", "--http-port"):  # fmt: skip
        assert option in usage.stdout


def test_twistd_bad_option_is_a_usage_error() -> None:
    done = subprocess.run(
        [TWISTD, "-n", "ssdp", "--product", "bad product"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "product 'bad product' must be" in done.stdout + done.stderr


def test_ruff_clean() -> None:
    for argv in (
        ["check", "ssdp_upnp", "twisted", "tests", "bench"],
        ["format", "--check", "ssdp_upnp", "twisted", "tests", "bench"],
    ):
        done = subprocess.run([sys.executable, "-m", "ruff", *argv], cwd=ROOT,
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
