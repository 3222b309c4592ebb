ALTER TABLE attribute_definitions DROP COLUMN scim_schema;
DROP TABLE attribute_role_rules;
DROP TABLE attribute_mappings;
DROP TABLE user_attribute_values;
