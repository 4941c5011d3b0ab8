"""Save a Snapshot as JSON and load it back, exactly."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pgvitals.snapshot.model import (
    SNAPSHOT_FORMAT,
    CollectionInfo,
    Column,
    Constraint,
    Index,
    Schema,
    Sequence,
    ServerInfo,
    Snapshot,
    Table,
    TableProfile,
)

_LISTS = {
    "schemas": Schema,
    "tables": Table,
    "columns": Column,
    "constraints": Constraint,
    "indexes": Index,
    "sequences": Sequence,
    "profiles": TableProfile,
}


class BadSnapshot(Exception):
    """The file is not a pgvitals snapshot this version can read."""


def to_dict(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "format": snapshot.format,
        "server": asdict(snapshot.server),
        "collection": asdict(snapshot.collection),
        **{key: [item._asdict() for item in getattr(snapshot, key)] for key in _LISTS},
    }


def to_json(snapshot: Snapshot) -> str:
    return json.dumps(to_dict(snapshot), ensure_ascii=False, separators=(",", ":"))


def save(snapshot: Snapshot, path: Path) -> None:
    path.write_text(to_json(snapshot), encoding="utf-8")


def from_dict(data: dict[str, Any]) -> Snapshot:
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise BadSnapshot(f"not a {SNAPSHOT_FORMAT} file")
    try:
        return Snapshot(
            server=ServerInfo(**data["server"]),
            collection=CollectionInfo(**data["collection"]),
            **{key: [cls(**item) for item in data[key]] for key, cls in _LISTS.items()},
        )
    except (KeyError, TypeError) as error:
        raise BadSnapshot(f"{SNAPSHOT_FORMAT} file is incomplete or damaged ({error})") from None


def load(path: Path) -> Snapshot:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BadSnapshot(f"cannot read {path}: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadSnapshot(f"{path} is not JSON ({error})") from None
    try:
        return from_dict(data)
    except BadSnapshot as error:
        raise BadSnapshot(f"{path}: {error}") from None
