-- SCIM passwords out of the stored SCIM attributes. The core User `password` is `returned:
-- "never"` and Roster has no use for it, so it is never stored; earlier builds kept it in
-- `users.scim_attributes` when it came URN-qualified (`urn:ietf:params:scim:schemas:core:2.0:User:password`)
-- or under the core schema URN key. This removes it under every spelling a row can hold: the bare
-- or URN-qualified name, a sub-attribute path of either (`password.value`), at the top level or
-- inside an object under the core schema URN, in any letter case. Other keys and values are kept;
-- rows without a password are not touched, and versions do not change (a SCIM client never saw
-- the password, so the resource it sees is the same).
UPDATE users
SET scim_attributes = (
    SELECT COALESCE(jsonb_object_agg(attr.key, CASE
        WHEN lower(attr.key) = 'urn:ietf:params:scim:schemas:core:2.0:user'
             AND jsonb_typeof(attr.value) = 'object'
        THEN attr.value - ARRAY(
            SELECT inner_key FROM jsonb_object_keys(attr.value) AS inner_key
            WHERE lower(inner_key) IN ('password', 'urn:ietf:params:scim:schemas:core:2.0:user:password')
               OR lower(inner_key) LIKE 'password.%'
               OR lower(inner_key) LIKE 'urn:ietf:params:scim:schemas:core:2.0:user:password.%'
        )
        ELSE attr.value END), '{}'::jsonb)::text
    FROM jsonb_each(users.scim_attributes::jsonb) AS attr
    WHERE lower(attr.key) NOT IN ('password', 'urn:ietf:params:scim:schemas:core:2.0:user:password')
      AND lower(attr.key) NOT LIKE 'password.%'
      AND lower(attr.key) NOT LIKE 'urn:ietf:params:scim:schemas:core:2.0:user:password.%'
)
WHERE scim_attributes ILIKE '%password%'
  AND ltrim(scim_attributes) LIKE '{%';
