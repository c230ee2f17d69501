//! What a multi-lang subprocess sends: arbitrary bytes through the host's frame reader
//! and message parser (the `{"pid": N}` handshake, then messages).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = squall_runtime::fuzz::multilang_stream(data);
});
