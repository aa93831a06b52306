//! Feeds arbitrary bytes, as UTF-8 text, to the config loader (YAML,
//! `${VAR}` expansion, validation): it must return a config or an error,
//! never panic, overflow its stack or hang.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use toolgate_config::Env;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let env = Env::from_pairs([("TOKEN", "t0k3n-0123456789abcdef"), ("EMPTY", "")]);
        let _ = toolgate_config::parse(text, Path::new("/etc/toolgate/toolgate.yaml"), &env);
    }
});
