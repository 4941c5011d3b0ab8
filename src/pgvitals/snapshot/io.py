"""Save a Snapshot as JSON and load it back: exactly, tolerantly, and validated.

The entities saved and loaded are the Snapshot's declared `entity` fields. A file
written by an older or newer pgvitals loads: unknown fields are ignored and missing
ones take their default (None, empty, false), so an older snapshot still analyses.
Every value is checked against the field's declared type, and timestamps must be
timestamps, so a damaged file is a clear input error instead of a crash later.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import types
import typing
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from pgvitals.fmt import compact_json
from pgvitals.snapshot.model import (
    SNAPSHOT_FORMAT,
    CollectionInfo,
    ServerInfo,
    Snapshot,
)

# Formats this version reads; the first is the one it writes.
READABLE_FORMATS = (SNAPSHOT_FORMAT,)
TIMESTAMPS = {"collected_at", "postmaster_start_time", "stats_reset"}
REQUIRED_SERVER = {"version_num", "version", "database", "collected_at"}
SAVED_AT_ONCE = 1000  # objects of an entity encoded together


class BadSnapshot(Exception):
    """The file is not a pgvitals snapshot this version can read."""


def to_dict(snapshot: Snapshot) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": snapshot.format,
        "server": dataclasses.asdict(snapshot.server),
        "collection": dataclasses.asdict(snapshot.collection),
    }
    for declared in Snapshot.entities():
        if declared.name in snapshot.not_collected:
            continue  # saved again, an older snapshot still says it never held them
        names = declared.cls._fields  # type: ignore[attr-defined]
        data[declared.name] = [
            dict(zip(names, item, strict=True)) for item in getattr(snapshot, declared.name)
        ]
    return data


def to_json(snapshot: Snapshot) -> str:
    return "".join(json_pieces(snapshot))


def json_pieces(snapshot: Snapshot) -> Iterator[str]:
    """The text of `to_json`, an entity's objects a thousand at a time: the whole
    snapshot as dicts and one string would be several times its size in memory."""
    head = {
        "format": snapshot.format,
        "server": dataclasses.asdict(snapshot.server),
        "collection": dataclasses.asdict(snapshot.collection),
    }
    yield compact_json(head)[:-1]
    for declared in Snapshot.entities():
        names = declared.cls._fields  # type: ignore[attr-defined]
        items = getattr(snapshot, declared.name)
        yield f",{compact_json(declared.name)}:["
        for start in range(0, len(items), SAVED_AT_ONCE):
            chunk = items[start : start + SAVED_AT_ONCE]
            objects = [dict(zip(names, item, strict=True)) for item in chunk]
            yield ("," if start else "") + compact_json(objects)[1:-1]
        yield "]"
    yield "}"


def save(snapshot: Snapshot, path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(json_pieces(snapshot))


def from_dict(data: Any) -> Snapshot:
    if not isinstance(data, dict) or data.get("format") not in READABLE_FORMATS:
        raise BadSnapshot(f"not a {SNAPSHOT_FORMAT} file")
    server_data = _mapping(data.get("server"), "server")
    missing = REQUIRED_SERVER - set(server_data)
    if missing:
        raise BadSnapshot(f"server is missing {', '.join(sorted(missing))}")
    server = ServerInfo(**_values(ServerInfo, server_data, "server"))
    collection = CollectionInfo(
        **_values(CollectionInfo, _mapping(data.get("collection"), "collection"), "collection")
    )
    for number, entry in enumerate(collection.skipped):
        if not all(isinstance(entry.get(key), str) for key in ("step", "reason")):
            raise BadSnapshot(f"collection.skipped[{number}] needs a step and a reason (text)")
    entities = {}
    for declared in Snapshot.entities():
        items = data.get(declared.name, [])
        if not isinstance(items, list):
            raise BadSnapshot(f"{declared.name} must be a list")
        cls = declared.cls
        entities[declared.name] = [
            cls(**_values(cls, _mapping(item, f"{declared.name}[{n}]"), f"{declared.name}[{n}]"))
            for n, item in enumerate(items)
        ]
    absent = tuple(declared.name for declared in Snapshot.entities() if declared.name not in data)
    return Snapshot(server=server, collection=collection, **entities, not_collected=absent)


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


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadSnapshot(f"{where} must be an object")
    return value


def _values(cls: type, item: dict[str, Any], where: str) -> dict[str, Any]:
    """The fields of `cls` from `item`: unknown keys dropped, missing ones defaulted,
    each value checked against the field's type."""
    values = {}
    for name, (allowed, default) in _schema(cls).items():
        if name not in item:
            values[name] = default
            continue
        value = item[name]
        if type(value) not in allowed:
            kind = type(value).__name__
            raise BadSnapshot(f"{where}.{name}: {kind} {value!r:.60} is not allowed here")
        if name in TIMESTAMPS and value is not None:
            try:
                dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise BadSnapshot(f"{where}.{name}: {value!r:.60} is not a timestamp") from None
        values[name] = value
    return values


@cache
def _schema(cls: type) -> dict[str, tuple[frozenset[type], Any]]:
    """Per field: the JSON value types it accepts, and its default when missing."""
    hints = typing.get_type_hints(cls)
    defaults = getattr(cls, "_field_defaults", {})
    schema = {}
    for name, hint in hints.items():
        if name.startswith("_") or typing.get_origin(hint) is typing.ClassVar:
            continue
        allowed = _json_types(hint)
        if name in defaults:
            default = defaults[name]
        elif type(None) in allowed:
            default = None
        else:
            default = {list: [], dict: {}, bool: False, int: 0, float: 0.0, str: ""}[
                next(t for t in (list, dict, bool, int, float, str) if t in allowed)
            ]
        schema[name] = (frozenset(allowed), default)
    return schema


def _json_types(hint: Any) -> set[type]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_json_types(arg) for arg in typing.get_args(hint)))
    if hint is type(None):
        return {type(None)}
    if hint is float:
        return {float, int}
    if origin in (list, tuple) or hint in (list, tuple):
        return {list}
    if origin is dict or hint is dict:
        return {dict}
    return {hint}
