"""pgvitals: an evidence-backed health assessment of a PostgreSQL database."""

__version__ = "0.1.0"
