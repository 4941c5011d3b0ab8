"""Statistics gathered over too short a window do not make an area green."""

from __future__ import annotations

from tests.helpers import pgvitals, valid_report


def areas(report: dict) -> dict[str, dict]:
    return {area["category"]: area for area in report["sections"]["areas"]}


def test_right_after_a_statistics_reset_maintenance_is_not_green(database) -> None:
    database.execute(
        "CREATE TABLE streaks (id int PRIMARY KEY, days int) WITH (autovacuum_enabled = false);"
        "INSERT INTO streaks SELECT g, 0 FROM generate_series(1, 100) g;"
        "SELECT pg_stat_reset();"
    )
    report = valid_report(pgvitals("check", database.dsn, "--format", "json").json())
    maintenance = areas(report)["maintenance"]
    assert maintenance["status"] == "not enough history", maintenance
    assert "statistics cover only" in maintenance["reason"]
    # catalog-based areas are judged as usual
    assert areas(report)["integrity"]["status"] in ("green", "red", "amber")


def test_the_minimum_window_is_configurable(database, tmp_path) -> None:
    database.execute("CREATE TABLE streaks (id int PRIMARY KEY); SELECT pg_stat_reset();")
    config = tmp_path / "pgvitals.toml"
    config.write_text("min_statistics_hours = 0\n")
    run = pgvitals("check", database.dsn, "--format", "json", "--config", str(config))
    assert areas(valid_report(run.json()))["maintenance"]["status"] == "green"
