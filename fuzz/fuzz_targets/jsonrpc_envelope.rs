//! Arbitrary JSON-RPC payloads: a status of 200, 204, 400 or 413 with a
//! JSON-RPC response body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mock_server_fuzz::check_jsonrpc_envelope(data);
});
