"""Query workload: statements from pg_stat_statements, their plans, and index advice
measured by the planner (hypothetical indexes with hypopg)."""
