//! The fixed CI seeds of the fault-injection simulation (ARCHITECTURE.md §6). The long run is
//! `cargo run --release -p daftar-tests --bin daftar-sim -- --seeds 200 --steps 400`.

/// Seeds CI runs on every change.
const CI_SEEDS: [u64; 3] = [1, 2, 3];

#[test]
fn fixed_seeds_hold_every_invariant_after_faults_heal() {
    for seed in CI_SEEDS {
        match daftar_tests::sim::run(seed, 120) {
            Ok(r) => eprintln!("{r:?}"),
            Err(e) => panic!("{e}"),
        }
    }
}
