//! Query text → parsed query → compiled rule → evaluated on an article, as `newshound check`
//! and a poll do; errors must point inside the query.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = newshound::robustness::query_bytes(data) {
        panic!("invariant broken: {broken}");
    }
});
