"""Runs kept over time (`check --history LOCATION`), and their trends (`pgvitals history`).

Each run is kept whole (its report and snapshot, compressed) with a small summary of
the numbers that make trends (findings by severity, sizes, dead tuples, index usage),
keyed by the target's identity: the server's system identifier and the database name.
The store is a SQLite file by default (standard library, nothing to start), or a
PostgreSQL database that a team or a fleet of databases shares (`postgresql://...`).
"""
