-- =============================================================================
-- Practise & Improve -- the end of the week's maintenance, after workload.sql
--
-- Run in the workload's session once its statistics are flushed, so that what
-- it records (last_analyze, n_mod_since_analyze reset, relpages) comes after the
-- workload's own counters, as it would a day later.
-- =============================================================================

-- The chat clean-up job ends with an ANALYZE of the table it purges: its sizes
-- are then current, and show what 30 rounds of create-and-purge left behind.
ANALYZE practise_improve_pilot.chat_sessions;
