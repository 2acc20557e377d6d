//! HTML page bytes → charset decoding → article extraction, as an article fetch does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = newshound::robustness::page_bytes(data) {
        panic!("invariant broken: {broken}");
    }
});
