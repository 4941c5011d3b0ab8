-- The server's own keyword list (it differs between versions): an identifier spelled
-- like a reserved keyword (R) or a type or function name keyword (T) must be quoted
-- as a table or column name. Unreserved (U) and column-name (C) keywords need not be.
SELECT k.word::text AS word,
       k.catcode::text AS category
  FROM pg_catalog.pg_get_keywords() k
 WHERE k.catcode IN ('R', 'T')
 ORDER BY k.word
