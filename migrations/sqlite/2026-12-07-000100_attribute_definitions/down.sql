DROP TABLE attribute_definitions;
