//! Typed configuration, built once in `main` from CLI flags and `DAFTAR_*` environment
//! variables (clap), then passed explicitly. No global state.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `daftar-server`: Daftar's cloud API.
#[derive(Debug, Parser)]
#[command(name = "daftar-server", version, about)]
pub struct Cli {
    /// Where the embedded PostgreSQL cluster and server secrets live.
    #[arg(
        long,
        env = "DAFTAR_DATA_DIR",
        default_value = "./daftar-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Use this PostgreSQL server instead of the embedded one.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API.
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate,
    /// Seed a realistic demo school (once) and run the HTTP API.
    Demo(DemoArgs),
    /// Import a OneRoster 1.1 CSV export (a folder holding manifest.csv, users.csv, …).
    ImportOneroster {
        /// The folder of the export.
        dir: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import students, guardians and families from an .xlsx, .ods or .csv sheet into a
    /// school (issue #17). Without `--commit` it prints the preview and writes nothing.
    ImportAdmissions {
        /// The spreadsheet.
        file: PathBuf,
        /// The school's slug (the name used at login).
        #[arg(long)]
        school: String,
        /// The sheet to read (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// Write it (one transaction; refused while a row has an error).
        #[arg(long)]
        commit: bool,
        /// Do not group rows without a family key by shared guardian phone.
        #[arg(long)]
        no_phone_grouping: bool,
        /// Print the whole preview as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a school (tenant).
    CreateSchool {
        /// URL-safe short name, e.g. `green-valley`; used at login.
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// ISO 4217 currency code of the school's money.
        #[arg(long, default_value = "PKR")]
        currency: String,
        /// IANA time zone of the school.
        #[arg(long, default_value = "Asia/Karachi")]
        timezone: String,
        /// The largest amount one payment, discount, fine, refund or fee may carry, in minor
        /// units of the currency (1 to 10^13; default 10^13).
        #[arg(long)]
        max_amount: Option<i64>,
    },
    /// Create a user with the admin role in a school. The password is read from
    /// DAFTAR_ADMIN_PASSWORD or the first line of standard input.
    CreateAdmin {
        /// The school's slug.
        #[arg(long)]
        school: String,
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "Administrator")]
        display_name: String,
    },
    /// Remove change-log tombstones (deleted rows) older than the retention period, for every
    /// school. Devices whose cursor is older rebuild their replica on their next pull (410
    /// `cursor_expired`); their outboxes are untouched. Run it daily, e.g. from cron.
    CompactChangeLog {
        /// Keep tombstones this many days (a device offline longer re-snapshots), 1 to 36500.
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=36500))]
        retention_days: u32,
    },
    /// Run every active late-fine rule of every school, or of one (issue #17): fines each
    /// invoice that is now more than a rule's grace days past due, once per rule. Run it daily,
    /// e.g. from cron; a school's runs are one transaction.
    ApplyLateFines {
        /// Only this school (its slug).
        #[arg(long)]
        school: Option<String>,
    },
}

/// Flags of `serve` (and `demo`).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "DAFTAR_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// HS256 secret for access tokens (≥ 32 bytes). Default: generated once and kept in
    /// `<data-dir>/jwt-secret`.
    #[arg(long, env = "DAFTAR_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Database connections in the pool (and concurrent blocking DB calls).
    #[arg(long, env = "DAFTAR_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,
    /// Sync pushes that may hold a pooled connection at once; more wait their turn (up to 20 s,
    /// then 503 with Retry-After). Default: a quarter of the pool, at least 1 (issue #16).
    #[arg(long, env = "DAFTAR_PUSH_LIMIT", value_parser = clap::value_parser!(u32).range(1..))]
    pub push_limit: Option<u32>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "DAFTAR_WORKERS")]
    pub workers: Option<usize>,
}

/// Flags of `demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Seed from a OneRoster export instead of generated data.
    #[arg(long)]
    pub oneroster: Option<PathBuf>,
}

/// Token lifetimes and signing key (ARCHITECTURE.md §7).
#[derive(Clone)]
pub struct AuthConfig {
    /// HS256 key.
    pub jwt_secret: Vec<u8>,
    /// Access-token lifetime in seconds (15 minutes).
    pub access_ttl_secs: i64,
    /// Refresh-token lifetime in seconds (30 days).
    pub refresh_ttl_secs: i64,
}

impl AuthConfig {
    /// Lifetimes as the design asks: short-lived access, month-long refresh.
    pub fn new(jwt_secret: Vec<u8>) -> Self {
        AuthConfig {
            jwt_secret,
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 24 * 3600,
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &"<redacted>")
            .field("access_ttl_secs", &self.access_ttl_secs)
            .field("refresh_ttl_secs", &self.refresh_ttl_secs)
            .finish()
    }
}
