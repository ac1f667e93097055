//! Runs the seeded fault-injection simulation of offline sync (see `daftar_tests::sim`).
//!
//! `daftar-sim --seed 42` replays one seed; `daftar-sim --seeds 200 --steps 400` is the long
//! run (seeds 1..=200). Exits 1 on the first failing seed, printing it.

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Run only this seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Run seeds 1..=N.
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// Steps per seed.
    #[arg(long, default_value_t = 200)]
    steps: usize,
}

fn main() {
    let args = Args::parse();
    let seeds: Vec<u64> = match args.seed {
        Some(s) => vec![s],
        None => (1..=args.seeds).collect(),
    };
    for seed in seeds {
        match daftar_tests::sim::run(seed, args.steps) {
            Ok(r) => println!(
                "seed {seed}: ok — {} ops ({} payments), {} server restarts, {} client kills, {} lost acks, {} duplicated pushes, {} rejected",
                r.ops_committed, r.payments, r.server_restarts, r.client_kills, r.lost_acks, r.duplicated_pushes, r.rejected
            ),
            Err(e) => {
                eprintln!("FAILED {e}");
                std::process::exit(1);
            }
        }
    }
}
