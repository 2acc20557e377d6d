//! Configuration file bytes → loaded configuration → compiled rules and destinations, as
//! `newshound check` does; every error must carry a location.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = newshound::robustness::config_bytes(data) {
        panic!("invariant broken: {broken}");
    }
});
