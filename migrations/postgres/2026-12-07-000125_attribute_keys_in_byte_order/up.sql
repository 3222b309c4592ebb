-- The attribute index's keys compare byte by byte, on both databases: number keys are built so
-- that byte order is numeric order, `sw` reads the keys between a prefix and the prefix followed
-- by U+10FFFF, and a sort lists keys as SQLite does. SQLite compares text that way (BINARY); a
-- PostgreSQL column follows the database's collation (en_US.UTF-8 ignores punctuation at first),
-- so the column says "C". The index on it is rebuilt with it.
ALTER TABLE user_attribute_values ALTER COLUMN sort_key TYPE TEXT COLLATE "C";
