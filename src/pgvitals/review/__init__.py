"""`pgvitals review`: SQL files and migrations loaded into a scratch database, the
statements the server rejects, and where each object was defined (the sources layer:
it produces a Snapshot; the rules never see a file)."""
