//! The UniFFI bindings generator, built from the same `uniffi` version as the library so the
//! generated Kotlin/Swift/Python always match its scaffolding. Usage (README "Mobile"):
//! `cargo run -p daftar-mobile-ffi --bin uniffi-bindgen -- generate --library
//! target/debug/libdaftar_mobile_ffi.so --language kotlin --out-dir target/bindings/kotlin`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
