//! A worker's data port: arbitrary bytes through the frame reader and decoders, as the
//! network reader feeds them (handshake first), and as data frames alone.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the path, so one corpus reaches both.
    if let Some((&mode, rest)) = data.split_first() {
        if mode & 1 == 0 {
            let _ = squall_runtime::fuzz::wire_stream(rest);
        } else {
            let _ = squall_runtime::fuzz::wire_frames(rest);
        }
    }
});
