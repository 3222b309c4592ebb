-- Retention prunes events from the head of the feed in `seq` order (oldest first, stopping at
-- the first event still inside retention), so the index on `occurred_at` only cost every event
-- write an extra index insert. Dropping it is safe for older replicas: their prune still works,
-- by scanning.
DROP INDEX events_occurred_idx;
