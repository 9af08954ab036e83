"""
The node's persistent state: its uuid and its boot id.

A node keeps the same uuid across restarts (peers recognise it) and raises
BOOTID.UPNP.ORG at each start (peers see the restart). L{advance} is the pure
rule; L{load_state} applies it to a JSON file, written atomically.
"""

from __future__ import annotations

import json
import os
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigurationError, StateFileError
from .message import MAX_BOOT_ID
from .node import check_uuid


@dataclass(frozen=True)
class NodeState:
    uuid: str
    boot_id: int


def advance(
    previous: NodeState | None,
    uuid: str | None = None,
    new_uuid: Callable[[], str] = lambda: str(uuidlib.uuid4()),
) -> NodeState:
    """
    The state of the next start: the given uuid, else the stored one, else a
    new one; the boot id one above the stored one (wrapping to 1 past the
    UDA's 2**31-1).
    """
    chosen = uuid or (previous.uuid if previous else new_uuid())
    boot_id = previous.boot_id + 1 if previous else 1
    if boot_id > MAX_BOOT_ID:
        boot_id = 1
    return NodeState(check_uuid(chosen), boot_id)


def default_state_path(product: str, network: str, port: int) -> Path:
    """C{$XDG_STATE_HOME/ssdp-upnp/PRODUCT-NETWORK-PORT.json} (one file per node on a host)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "ssdp-upnp" / f"{product}-{network}-{port}.json"


def _read(path: Path) -> NodeState | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StateFileError(f"cannot read state file {path}: {e.strerror}") from e
    try:
        data = json.loads(raw)
        # strictly what we write: an object with a uuid string and a whole-number boot id
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        uuid, boot_id = data["uuid"], data["boot_id"]
        if not isinstance(uuid, str):
            raise TypeError("uuid is not a string")
        if not isinstance(boot_id, int) or isinstance(boot_id, bool):
            raise TypeError(f"boot_id {str(boot_id)[:20]} is not a whole number")
        state = NodeState(check_uuid(uuid), boot_id)
    except (ValueError, KeyError, TypeError, RecursionError, ConfigurationError) as e:
        raise StateFileError(
            f"state file {path} is damaged ({e}); fix or remove it (a new uuid will be made)"
        ) from None
    if not 0 <= state.boot_id <= MAX_BOOT_ID:
        raise StateFileError(f"state file {path} has boot_id {state.boot_id} out of range")
    return state


def load_state(path: Path, uuid: str | None = None) -> NodeState:
    """
    Read the state file at C{path}, advance it (L{advance}) and write it back
    before returning, so that two starts never share a boot id.

    @raise StateFileError: the file is damaged or cannot be read or written.
    @raise ConfigurationError: C{uuid} is not a uuid.
    """
    state = advance(_read(path), uuid)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"uuid": state.uuid, "boot_id": state.boot_id}) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise StateFileError(f"cannot write state file {path}: {e.strerror}") from e
    return state
