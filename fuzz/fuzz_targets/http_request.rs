//! Raw HTTP/1.1 requests through the mock's router: no 5xx, documented
//! error bodies.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mock_server_fuzz::check_http_request(data);
});
