DROP INDEX users_scope_idx;
