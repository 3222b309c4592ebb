//! PATCH parsing and application on arbitrary bodies: never a panic, and all-or-nothing (a failed
//! PATCH leaves the resource exactly as it was).
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_scim::patch::{apply_user_patch, parse_patch_request, split_group_patch};
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(ops) = parse_patch_request(&body, 100) else { return };
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1", "userName": "bob", "active": true,
        "name": {"givenName": "Bob", "familyName": "Ng"},
        "emails": [{"value": "bob@example.com", "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m"}},
    });
    let mut patched = user.clone();
    if apply_user_patch(&mut patched, &ops).is_err() {
        assert_eq!(patched, user, "a failed PATCH changes nothing");
    }
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "G"});
    let mut patched = group.clone();
    if split_group_patch(&mut patched, &ops).is_err() {
        assert_eq!(patched, group, "a failed group PATCH changes nothing");
    }
});
