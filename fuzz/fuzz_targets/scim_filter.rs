//! The SCIM filter parser must never panic or hang, and what it prints must parse back to a
//! filter that prints the same (numbers too large for an exact value print in their float form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_scim::filter::parse_filter;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(filter) = parse_filter(text) {
            let printed = filter.to_string();
            let reparsed = parse_filter(&printed).map(|again| again.to_string());
            assert_eq!(reparsed.ok(), Some(printed), "display must be stable");
        }
    }
});
