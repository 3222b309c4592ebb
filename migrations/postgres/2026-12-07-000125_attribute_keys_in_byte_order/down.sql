ALTER TABLE user_attribute_values ALTER COLUMN sort_key TYPE TEXT COLLATE "default";
