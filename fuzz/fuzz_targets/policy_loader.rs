//! Feeds arbitrary bytes, as UTF-8 text, to the policy loader: it must
//! return a policy or an error, never panic, overflow its stack or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toolgate_policy::Policy;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Policy::from_str_auto(text, "fuzz");
    }
});
