//! `daftar-agent`: the office agent. Its commands (init, sync, run, status, pay, register, …)
//! arrive with the offline-sync issue; today it only reports its version so the workspace
//! builds end to end.

use clap::Parser;

/// Daftar office agent (offline replica + outbox). Sync commands are not available yet.
#[derive(Parser, Debug)]
#[command(name = "daftar-agent", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    println!(
        "daftar-agent {} (protocol v{}): sync commands are not available in this build yet",
        env!("CARGO_PKG_VERSION"),
        daftar_client_core::protocol::PROTOCOL_VERSION
    );
}
