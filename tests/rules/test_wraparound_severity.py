"""xid-wraparound-risk's severity by the share of the 2^31 limit an age has used:
ages no test server can reach in seconds."""

from __future__ import annotations

import pytest

from pgvitals.rules.maintenance import WraparoundOptions, wraparound_severity


@pytest.mark.parametrize(
    ("age", "severity"),
    [
        (200_000_001, None),  # past autovacuum_freeze_max_age: the default, medium
        (1_073_741_824, "high"),  # half of 2^31
        (1_610_612_736, "critical"),  # three quarters
        (2_100_000_000, "critical"),
    ],
)
def test_severity_follows_the_share_of_the_limit(age: int, severity: str | None) -> None:
    assert wraparound_severity(age, WraparoundOptions()) == severity
