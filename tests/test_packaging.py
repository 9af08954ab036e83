"""The wheel carries the plugin and the type marker; twistd finds the plugin; lint and types."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
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


def _link_site_without_us(site: Path, into: Path) -> None:
    """Link every package of C{site} into C{into}, less ssdp_upnp and its plugin file."""
    into.mkdir()
    for entry in site.iterdir():
        if entry.name.startswith(("ssdp_upnp", "ssdp-upnp", "__editable__")):
            continue
        if entry.name != "twisted":
            (into / entry.name).symlink_to(entry)
            continue
        (into / "twisted").mkdir()
        for part in entry.iterdir():
            if part.name != "plugins":
                (into / "twisted" / part.name).symlink_to(part)
                continue
            (into / "twisted" / "plugins").mkdir()
            for plugin in part.iterdir():
                if plugin.name not in ("ssdp_upnp_plugin.py", "dropin.cache", "__pycache__"):
                    (into / "twisted" / "plugins" / plugin.name).symlink_to(plugin)


PLUGIN_REPORT = """
import sys
import ssdp_upnp, twisted.plugins.ssdp_upnp_plugin as plugin
from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins
print(ssdp_upnp.__file__)
print(plugin.__file__)
print(" ".join(sorted(s.tapname for s in getPlugins(IServiceMaker))))
sys.argv = ["twistd", "--help"]
from twisted.scripts.twistd import run
run()
"""


def test_editable_install_finds_the_plugin(tmp_path: Path) -> None:
    """An editable install leaves the checkout on sys.path: the plugin scan finds ssdp there."""
    base = tmp_path / "base"
    _link_site_without_us(Path(sysconfig.get_paths()["purelib"]), base)
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = str(env / "bin" / "python")
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([python, "-c", where], check=True, capture_output=True,
                             text=True).stdout.strip()  # fmt: skip
    Path(purelib, "zz_test_base.pth").write_text(f"{base}\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         "--no-build-isolation", "-e", str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    report = subprocess.run([python, "-c", PLUGIN_REPORT], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    lines = report.stdout.splitlines()
    assert lines[0] == str(ROOT / "ssdp_upnp" / "__init__.py"), report.stdout + report.stderr
    assert lines[1] == str(ROOT / "twisted" / "plugins" / "ssdp_upnp_plugin.py")
    assert "ssdp" in lines[2].split()
    assert any(line.split()[:1] == ["ssdp"] for line in lines[3:])


def test_api_reference_builds_without_a_warning(tmp_path: Path) -> None:
    """pydoctor over the package, every warning an error (a broken L{link}, a bad docstring)."""
    done = subprocess.run(
        [sys.executable, "-m", "pydoctor", "--project-name", "ssdp_upnp", "--docformat",
         "epytext", "--html-output", str(tmp_path / "api"), "-q", "-W", str(ROOT / "ssdp_upnp")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "api" / "ssdp_upnp.node_service.NodeService.html").exists()
