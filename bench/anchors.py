"""
The third-party anchors the benchmarks compare against, in a venv of their own.

C{anchor_python()} makes (once) C{bench/.anchors/} with the pinned versions of
async-upnp-client, ssdpy and miniupnpc from PyPI and this checkout (with its
dependencies) installed beside them, and returns its interpreter; a bench
re-runs itself there so that ours and the anchors are timed in one process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".anchors"
#: What the anchors are, pinned: the rows in bench/README.md name these versions.
PINNED = ("async-upnp-client==0.49.0", "ssdpy==0.4.1", "miniupnpc==2.2.8")


def anchor_python() -> Path:
    """The anchors' interpreter, the venv made first if it is missing or stale."""
    python = VENV / "bin" / "python"
    stamp = VENV / "pinned.txt"
    wanted = "\n".join(PINNED) + "\n"
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *PINNED, str(ROOT)], check=True)
        stamp.write_text(wanted)
    # ours from this checkout, every time (it is what is being measured)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-deps", "--force-reinstall", str(ROOT)],
        check=True,
    )  # fmt: skip
    return python


def in_anchor_venv() -> bool:
    """True when this interpreter is the anchors' one."""
    return Path(sys.prefix).resolve() == VENV.resolve()
