ALTER TABLE session_keys DROP COLUMN verify_until;
