//! Roster's memory allocator: mimalloc, told to give freed memory back to the system after
//! 10 ms instead of its default 1 s.
//!
//! **Why mimalloc.** A login or a SCIM request allocates and frees many small strings and JSON
//! values on several threads, and glibc's `malloc`/`free` were a fifth of the server's CPU time
//! in the bench's profiles (docs/performance.md). The `no_thp` feature keeps transparent huge
//! pages off: they doubled the resident size.
//!
//! **Why the purge delay.** mimalloc v3 keeps freed pages committed for `purge_delay` ms before
//! returning them (v2 waited 10 ms; v3 waits 1,000). A burst such as a webhook backlog frees
//! hundreds of MiB within that second and allocates again before it ends, so the resident size
//! climbed to 200 MiB in the bench; with 10 ms it peaked at 139–174 MiB over four runs, with no
//! throughput change the bench could see. [`return_freed_memory_promptly`] sets the option at start-up, unless the
//! operator chose a delay with mimalloc's own variables (`MIMALLOC_PURGE_DELAY`, or its older
//! name `MIMALLOC_RESET_DELAY`), which mimalloc reads before `main`.
//!
//! **Why FFI here.** The `mimalloc` crate exposes options only with its `extended` feature,
//! whose `cty` dependency is not available to this build; the two functions are declared below
//! against the header of the pinned `libmimalloc-sys` (a test checks the option's number).

use std::ffi::{c_int, c_long};

/// The process's allocator, for every crate linked into the binary that uses this one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` of `mimalloc.h` (v3, as vendored by libmimalloc-sys 0.1.49).
const OPTION_PURGE_DELAY: c_int = 15;

/// The delay Roster runs with, in milliseconds: mimalloc v2's default.
const PURGE_DELAY_MS: c_long = 10;

/// The environment variables through which an operator sets the delay themselves.
const OPERATOR_VARIABLES: [&str; 2] = ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"];

// The `mimalloc` crate links libmimalloc-sys's static library, which defines these.
extern "C" {
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// Sets mimalloc's purge delay to [`PURGE_DELAY_MS`], unless the environment sets it. Call it
/// once, first thing in `main`.
pub fn return_freed_memory_promptly() {
    if operator_chose_delay(|name| std::env::var_os(name).is_some()) {
        return;
    }
    // SAFETY: `mi_option_set` takes any option number below `_mi_option_last` and any value; it
    // stores the value in the option's atomic slot, safe from any thread at any time.
    unsafe { mi_option_set(OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

/// Whether one of mimalloc's own variables is set, `is_set` telling for each name.
fn operator_chose_delay(is_set: impl Fn(&str) -> bool) -> bool {
    OPERATOR_VARIABLES.iter().any(|name| is_set(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options of the same header on either side of the purge delay, with defaults that no
    /// neighbour shares (`os_tag`, 100; `retry_on_oom`, 400): reading them checks that the
    /// numbering matches the linked library.
    const OPTIONS_AROUND: [(c_int, c_long); 2] = [(18, 100), (27, 400)];

    /// The value of a mimalloc option now.
    fn option(number: c_int) -> c_long {
        // SAFETY: reads the option's slot (initialised at process start); no pointer is involved.
        unsafe { mi_option_get(number) }
    }

    #[test]
    fn the_option_set_is_mimallocs_purge_delay() {
        if operator_chose_delay(|name| std::env::var_os(name).is_some()) {
            return; // the delay is the operator's; nothing here to check against defaults
        }
        for (number, default) in OPTIONS_AROUND {
            assert_eq!(
                option(number),
                default,
                "option {number}: the numbering is not the header's"
            );
        }
        assert_eq!(
            option(OPTION_PURGE_DELAY),
            1_000,
            "mimalloc v3's default purge delay"
        );

        return_freed_memory_promptly();
        assert_eq!(option(OPTION_PURGE_DELAY), PURGE_DELAY_MS);
    }

    #[test]
    fn either_of_mimallocs_variables_leaves_the_delay_to_the_operator() {
        for (set, chosen) in [
            (&[][..], false),
            (&["MIMALLOC_PURGE_DELAY"][..], true),
            (&["MIMALLOC_RESET_DELAY"][..], true),
            (&["MIMALLOC_VERBOSE"][..], false),
        ] {
            assert_eq!(
                operator_chose_delay(|name| set.contains(&name)),
                chosen,
                "{set:?}"
            );
        }
    }
}
