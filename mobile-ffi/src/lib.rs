//! UniFFI facade over `daftar-client-core` for the Android and iOS apps. The exported API
//! (teacher attendance, parent dues) arrives with the mobile issue; today the crate only
//! re-exports the protocol version it is built against.

/// The sync/REST protocol version this library speaks (see `daftar_client_core::protocol`).
pub fn protocol_version() -> u32 {
    daftar_client_core::protocol::PROTOCOL_VERSION
}
