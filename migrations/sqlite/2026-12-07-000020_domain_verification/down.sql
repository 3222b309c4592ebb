DROP TABLE workspace_domains;
