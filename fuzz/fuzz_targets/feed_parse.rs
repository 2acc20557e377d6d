//! Feed bytes → entries → the article text rules match on (no scraping), as a poll does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = newshound::robustness::feed_bytes(data) {
        panic!("invariant broken: {broken}");
    }
});
