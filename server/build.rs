// Re-run the build when a migration changes: `embed_migrations!` reads the folder at compile
// time, and without this a new migration silently never ships.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
