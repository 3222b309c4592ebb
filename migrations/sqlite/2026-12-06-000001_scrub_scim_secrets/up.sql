-- SCIM passwords out of the stored SCIM attributes. The core User `password` is `returned:
-- "never"` and Roster has no use for it, so it is never stored; earlier builds kept it in
-- `users.scim_attributes` when it came URN-qualified (`urn:ietf:params:scim:schemas:core:2.0:User:password`)
-- or under the core schema URN key. This removes it under every spelling a row can hold: the bare
-- or URN-qualified name, a sub-attribute path of either (`password.value`), at the top level or
-- inside an object under the core schema URN, in any letter case. Other keys and values are kept
-- as they are; rows without a password are not touched, and versions do not change (a SCIM client
-- never saw the password, so the resource it sees is the same).
UPDATE users
SET scim_attributes = (
    SELECT json_group_object(attr.key, CASE
        WHEN lower(attr.key) = 'urn:ietf:params:scim:schemas:core:2.0:user' AND attr.type = 'object'
        THEN json((
            SELECT json_group_object(inner_attr.key, CASE inner_attr.type
                WHEN 'object' THEN json(inner_attr.value)
                WHEN 'array' THEN json(inner_attr.value)
                WHEN 'true' THEN json('true')
                WHEN 'false' THEN json('false')
                ELSE inner_attr.value END)
            FROM json_each(attr.value) AS inner_attr
            WHERE lower(inner_attr.key) NOT IN ('password', 'urn:ietf:params:scim:schemas:core:2.0:user:password')
              AND lower(inner_attr.key) NOT LIKE 'password.%'
              AND lower(inner_attr.key) NOT LIKE 'urn:ietf:params:scim:schemas:core:2.0:user:password.%'
        ))
        WHEN attr.type IN ('object', 'array') THEN json(attr.value)
        WHEN attr.type = 'true' THEN json('true')
        WHEN attr.type = 'false' THEN json('false')
        ELSE attr.value END)
    FROM json_each(users.scim_attributes) AS attr
    WHERE lower(attr.key) NOT IN ('password', 'urn:ietf:params:scim:schemas:core:2.0:user:password')
      AND lower(attr.key) NOT LIKE 'password.%'
      AND lower(attr.key) NOT LIKE 'urn:ietf:params:scim:schemas:core:2.0:user:password.%'
)
WHERE scim_attributes LIKE '%password%'
  AND json_valid(scim_attributes)
  AND json_type(scim_attributes) = 'object';
