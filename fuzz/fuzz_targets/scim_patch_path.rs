//! The PATCH path parser must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_scim::filter::parse_path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_path(text);
    }
});
