"""
A program from a Debian package, for a bench, without installing the package: the .deb is
downloaded (apt-get download) into bench/.debs/ and unpacked there with dpkg-deb -x, so
no maintainer script runs and no service starts on this host (minissdpd's package would
start its daemon, which would speak SSDP on the host's own network). Root and apt needed.
"""

from __future__ import annotations

import glob
import subprocess
from pathlib import Path

DEBS = Path(__file__).resolve().parent / ".debs"


def unpacked(package: str, program: str, libraries: tuple[str, ...] = ()) -> Path | None:
    """
    C{program} (a path inside C{package}, e.g. usr/sbin/minissdpd) unpacked with the
    library packages it needs beside it (run it with L{library_path}), or None if out
    of reach.
    """
    tree = DEBS / package
    path = tree / program
    if path.exists():
        return path
    DEBS.mkdir(exist_ok=True)
    for name in (package, *libraries):
        got = subprocess.run(["apt-get", "download", name], cwd=DEBS, capture_output=True)
        debs = sorted(glob.glob(str(DEBS / f"{name}_*.deb")))
        if got.returncode != 0 or not debs:
            return None
        subprocess.run(["dpkg-deb", "-x", debs[-1], str(tree)], check=True)
    return path if path.exists() else None


def library_path(package: str) -> str:
    """LD_LIBRARY_PATH for a program L{unpacked} from C{package}: its tree's library folders."""
    folders = {p.parent for p in (DEBS / package).rglob("*.so*")}
    return ":".join(str(folder) for folder in sorted(folders))
