-- The attribute index's keys compare byte by byte, on both databases (see the PostgreSQL twin,
-- which sets the column's collation to "C"). SQLite's default collation, BINARY, already does:
-- nothing to change here.
SELECT 1;
