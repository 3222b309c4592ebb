-- Nothing to restore: the removed SCIM passwords were never meant to be stored.
SELECT 1;
