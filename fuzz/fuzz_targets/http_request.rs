//! Raw bytes of a client connection through the mock's server (hyper's
//! parsing, its protocol error rewrite, the router): no 5xx, documented
//! error bodies, and the connection closes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mock_server_fuzz::check_http_request(data);
});
