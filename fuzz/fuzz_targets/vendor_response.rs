#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cloudgate::fuzzing::vendor_response(data));
