//! List query parameters (`cursor`, `sortBy`, `sortOrder`, `attributes`, `excludedAttributes`,
//! `count`, `startIndex`, `filter`) from an arbitrary query string, for users and for groups:
//! never a panic; an accepted request reads a page within the limits; and the `nextCursor` a
//! cursor page hands out is read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_scim::list::{list_response, ListParams};
use roster_scim::translate::{Declared, GroupResource, Translate, UserResource};
use roster_scim::ScimSettings;
use serde_json::{json, Value};

const MAX_PAGE: i64 = 50;

fn settings() -> ScimSettings {
    ScimSettings {
        base_url: "https://roster.test/scim/v2".into(),
        max_body_bytes: 1 << 20,
        default_page_size: 20,
        max_page_size: MAX_PAGE,
        max_patch_operations: 100,
        max_bulk_operations: 100,
        max_filter_length: 1000,
    }
}

/// `name=value` pairs split on `&` (no percent-decoding: the fuzzer writes the decoded text).
fn pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (pair.to_owned(), String::new()),
        })
        .collect()
}

fn check<R: Translate>(params: &ListParams, settings: &ScimSettings) {
    let Ok(request) = params.parse::<R>(settings, &Declared::none()) else {
        return;
    };
    let (_, limit) = request.query.page.first_and_limit();
    assert!((0..=MAX_PAGE).contains(&limit), "page limit {limit}");
    assert!(request.start_index >= 1, "startIndex {}", request.start_index);
    if !request.cursor || limit == 0 {
        return;
    }
    let full_page: Vec<Value> = (0..limit).map(|_| json!({})).collect();
    let last_id = Some("0190d7a4-9a1c-7b3e-8f00-0123456789ab".to_owned());
    let body = list_response(&request, full_page, last_id, limit + 1);
    let Some(next) = body["nextCursor"].as_str() else {
        return;
    };
    let again = ListParams {
        cursor: Some(next.to_owned()),
        ..params.clone()
    };
    assert!(
        again.parse::<R>(settings, &Declared::none()).is_ok(),
        "the nextCursor {next:?} must be accepted"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let params = ListParams::from_pairs(&pairs(text));
    let settings = settings();
    check::<UserResource>(&params, &settings);
    check::<GroupResource>(&params, &settings);
});
