"""Words and numbers as the human-readable reports print them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

# --- numbers -------------------------------------------------------------------------


def thousands(value: float | None) -> str:
    """12345 -> "12,345"; None -> "—" (the server keeps no such counter)."""
    if value is None:
        return "—"
    return f"{round(value):,}"


def percent(ratio: float) -> str:
    """0.0417 -> "4.2 %"; never "0.0 %" or "100.0 %" for a ratio that is neither."""
    shown = f"{ratio * 100:.1f}"
    if shown == "0.0" and ratio > 0:
        return "under 0.1 %"
    if shown == "100.0" and ratio < 1:
        return "over 99.9 %"
    return f"{shown} %"


def human_bytes(value: int | None) -> str:
    """Bytes in the units PostgreSQL's pg_size_pretty uses (1 kB = 1024 bytes)."""
    if value is None:
        return "—"
    size = float(value)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{value:,} bytes" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def text_bar(value: float, maximum: float, width: int = 10) -> str:
    """`█████░░░░░`: value's share of maximum; any non-zero value shows at least one block."""
    if maximum <= 0 or value <= 0:
        return "░" * width
    filled = min(width, max(1, round(width * value / maximum)))
    return "█" * filled + "░" * (width - filled)


def evidence_value(value: Any, key: str) -> str:
    """One evidence value, readable: sizes in kB/MB/GB, ratios as percentages."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and key.endswith("bytes"):
        return f"{human_bytes(int(value))} ({int(value):,} bytes)"
    if isinstance(value, float) and "ratio" in key:
        return f"{value:.1%}"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, (int, float)):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "—"
    return str(value)


def parse_timestamp(value: str) -> dt.datetime:
    """The snapshot's ISO 8601 timestamps ("...Z" included) as aware datetimes."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def short_time(value: str) -> str:
    """An ISO 8601 timestamp as "2026-11-22 12:00 UTC"."""
    return parse_timestamp(value).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def span(start: dt.datetime, end: dt.datetime) -> str:
    """A duration in the largest unit that reads naturally: "21 days", "5 hours"."""
    seconds = max((end - start).total_seconds(), 0)
    days = int(seconds // 86_400)
    if days >= 1:
        return f"{days:,} day" + ("" if days == 1 else "s")
    hours = int(seconds // 3_600)
    if hours >= 1:
        return f"{hours} hour" + ("" if hours == 1 else "s")
    minutes = int(seconds // 60)
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    return f"{count:,} {singular if count == 1 else plural_form or singular + 's'}"


def severity_line(counts: dict[str, int]) -> str:
    """Every severity with its count: "3 critical, 5 high, 0 medium, 1 low, 12 info"."""
    return ", ".join(f"{count:,} {severity}" for severity, count in counts.items())


# one encoder for the 100,000s of values written: json.dumps with options makes one per call.
# The values are trees of dicts and lists that never contain themselves: the check for
# that (every container's id put in and taken out of a dict) is a tenth of the time.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def compact_json(value: Any) -> str:
    """`value` as JSON on one line, without spaces, non-ASCII kept as is."""
    return _COMPACT.encode(value)
