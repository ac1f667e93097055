//! A private PostgreSQL cluster owned by this process (ARCHITECTURE.md §8).
//!
//! With no `DATABASE_URL`, `daftar-server serve`/`demo` keep a cluster under
//! `<data_dir>/postgres/` made by the installed `initdb`, started with `pg_ctl` on a free
//! loopback port (no Unix socket), and stopped with `pg_ctl stop -m fast` when the server shuts
//! down (or this value is dropped). The next start reuses it. PostgreSQL refuses to run as
//! root, so when we are root every PostgreSQL binary runs as an unprivileged OS user
//! (`postgres` by default), which then owns the cluster directory.
//!
//! The test harness (`daftar-tests`) uses the same type with `fsync=off` for throwaway
//! clusters. No maintained crate fits: `pgtemp` needs `sudo`, `postgresql_embedded` downloads
//! binaries at run time.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Superuser role created in every embedded cluster.
pub const SUPERUSER: &str = "daftar";

/// Why the embedded cluster could not be used. Every variant's message is one line a person
/// can act on.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedPgError {
    /// `initdb`/`pg_ctl`/`postgres` are not installed.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH, under \
         `pg_config --bindir` or /usr/lib/postgresql/*/bin: install them (Debian/Ubuntu: \
         `apt-get install postgresql`) or set DATABASE_URL to an existing server"
    )]
    BinariesMissing,
    /// Running as root and the unprivileged OS user to run PostgreSQL as does not exist.
    #[error(
        "running as root, and PostgreSQL refuses to: OS user `{0}` (to run it as) does not \
         exist; create it (`useradd --system {0}`) or set DAFTAR_PG_OS_USER"
    )]
    NoUnprivilegedUser(String),
    /// A PostgreSQL command failed; its own output follows.
    #[error("`{command}` failed ({status}): {output}")]
    CommandFailed {
        command: String,
        status: String,
        output: String,
    },
    /// File-system trouble around the cluster directory.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedPgError {
    let context = context.into();
    move |source| EmbeddedPgError::Io { context, source }
}

/// Where the PostgreSQL server binaries live.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    bindir: PathBuf,
}

impl PgBinaries {
    /// Finds `initdb` + `pg_ctl` + `postgres` together: on PATH, then `pg_config --bindir`,
    /// then the newest `/usr/lib/postgresql/<major>/bin`.
    ///
    /// Errors: [`EmbeddedPgError::BinariesMissing`].
    pub fn locate() -> Result<Self, EmbeddedPgError> {
        let complete = |dir: &Path| {
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| dir.join(b).is_file())
        };
        let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            if out.status.success() {
                candidates.push(PathBuf::from(
                    String::from_utf8_lossy(&out.stdout).trim().to_string(),
                ));
            }
        }
        if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
            let mut majors: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect();
            majors.sort();
            candidates.extend(majors.into_iter().rev());
        }
        candidates
            .into_iter()
            .find(|d| complete(d))
            .map(|bindir| PgBinaries { bindir })
            .ok_or(EmbeddedPgError::BinariesMissing)
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }
}

/// How to start a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Directory that holds the cluster (`pgdata/`) and its superuser password.
    pub dir: PathBuf,
    /// `false` for throwaway test clusters (`fsync=off`, `synchronous_commit=off`,
    /// `full_page_writes=off`): fast, and unsafe for real data.
    pub durable: bool,
    /// OS user to run PostgreSQL as when this process is root (default `postgres`).
    pub os_user: String,
    /// `max_connections` for the cluster.
    pub max_connections: u32,
}

impl ClusterOptions {
    /// Durable defaults for `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ClusterOptions {
            dir: dir.into(),
            durable: true,
            os_user: std::env::var("DAFTAR_PG_OS_USER").unwrap_or_else(|_| "postgres".into()),
            max_connections: 200,
        }
    }
}

/// The OS identity PostgreSQL runs as.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

/// A running cluster this process started (or found running in its directory) and will stop.
#[derive(Debug)]
pub struct EmbeddedCluster {
    binaries: PgBinaries,
    pgdata: PathBuf,
    port: u16,
    password: String,
    run_as: Option<RunAs>,
    running: bool,
    relocated: Option<PathBuf>,
}

/// Where clusters live whose own directory the PostgreSQL OS user cannot enter.
pub const RELOCATED_ROOT: &str = "/var/lib/daftar/clusters";

/// Name of the file, in the directory asked for, that records where its cluster was put.
pub const LOCATION_FILE: &str = "cluster-location";

/// True when OS user `run_as` can reach `dir` (search permission on it and every ancestor):
/// asked of the kernel by running `test -x` as that user, so ACLs and groups count.
fn can_enter(dir: &Path, run_as: RunAs) -> bool {
    Command::new("/bin/sh")
        .arg("-c")
        .arg("test -x \"$1\"")
        .arg("sh")
        .arg(dir)
        .uid(run_as.uid)
        .gid(run_as.gid)
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The directory for the cluster of `dir` under [`RELOCATED_ROOT`] (named after `dir`'s last
/// component and a hash of its path, so one data directory always maps to the same cluster),
/// created and recorded in `dir`/[`LOCATION_FILE`].
///
/// Errors: the directories or the record cannot be written.
fn relocated_dir(dir: &Path) -> Result<PathBuf, EmbeddedPgError> {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    let hex: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let parent_name = dir
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "data".into());
    let target = Path::new(RELOCATED_ROOT).join(format!("{parent_name}-{hex}"));
    fs::create_dir_all(&target).map_err(io_err(format!("creating {}", target.display())))?;
    for p in [
        Path::new("/var/lib/daftar"),
        Path::new(RELOCATED_ROOT),
        &target,
    ] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755))
            .map_err(io_err(format!("chmod {}", p.display())))?;
    }
    let record = dir.join(LOCATION_FILE);
    write_private(
        &record,
        &format!(
            "{}\n# PostgreSQL's OS user cannot enter {}, so this data directory's cluster lives \
             at the path above.\n",
            target.display(),
            dir.display()
        ),
    )?;
    Ok(target)
}

impl EmbeddedCluster {
    /// When the directory asked for could not be entered by PostgreSQL's OS user (e.g. it is
    /// under `/root`), the directory the cluster was put in instead.
    pub fn relocated(&self) -> Option<&Path> {
        self.relocated.as_deref()
    }

    /// Initialises the cluster on first use (`initdb`, SCRAM auth, superuser [`SUPERUSER`] with
    /// a random password kept in `<dir>/superuser-password`, mode 0600), then starts it on a
    /// free loopback port and waits until it accepts connections. A cluster already running in
    /// `dir` (e.g. after a crash of ours) is adopted.
    ///
    /// Run as root from a folder the PostgreSQL OS user cannot enter (anything under `/root`, a
    /// `mktemp -d`), the cluster goes under [`RELOCATED_ROOT`] instead, the same place every
    /// time for the same `dir`, and `dir`/[`LOCATION_FILE`] says where (ARCHITECTURE.md §8):
    /// the server works from any folder.
    ///
    /// Errors: missing binaries or OS user, or the failing PostgreSQL command's output.
    pub fn start(options: &ClusterOptions) -> Result<Self, EmbeddedPgError> {
        let binaries = PgBinaries::locate()?;
        let run_as = Self::unprivileged_identity(&options.os_user)?;
        fs::create_dir_all(&options.dir)
            .map_err(io_err(format!("creating {}", options.dir.display())))?;
        let mut dir = options
            .dir
            .canonicalize()
            .map_err(io_err(format!("resolving {}", options.dir.display())))?;
        let mut relocated = None;
        if let Some(run_as) = run_as {
            if !can_enter(&dir, run_as) {
                let elsewhere = relocated_dir(&dir)?;
                relocated = Some(elsewhere.clone());
                dir = elsewhere;
            }
        }
        let pgdata = dir.join("pgdata");
        let password_file = dir.join("superuser-password");

        let mut cluster = EmbeddedCluster {
            binaries,
            pgdata,
            port: 0,
            password: String::new(),
            run_as,
            running: false,
            relocated,
        };
        if !cluster.pgdata.join("PG_VERSION").is_file() {
            cluster.init(options, &password_file)?;
        }
        cluster.password = fs::read_to_string(&password_file)
            .map_err(io_err(format!("reading {}", password_file.display())))?
            .trim()
            .to_string();

        if let Some(port) = cluster.running_port() {
            cluster.port = port;
        } else {
            cluster.port = free_loopback_port()
                .map_err(io_err("finding a free loopback port for PostgreSQL"))?;
            let log = cluster.pgdata.join("server.log");
            let opts = format!("-p {}", cluster.port);
            cluster.run(
                "pg_ctl",
                &[
                    "start".as_ref(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "120".as_ref(),
                    "-D".as_ref(),
                    cluster.pgdata.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-o".as_ref(),
                    opts.as_ref(),
                ],
            )?;
        }
        cluster.running = true;
        Ok(cluster)
    }

    fn unprivileged_identity(os_user: &str) -> Result<Option<RunAs>, EmbeddedPgError> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(None);
        }
        let name = std::ffi::CString::new(os_user)
            .map_err(|_| EmbeddedPgError::NoUnprivilegedUser(os_user.to_string()))?;
        // SAFETY: `name` is a valid NUL-terminated string; getpwnam returns null or a pointer
        // to a static passwd record that we read immediately, before any other getpw* call.
        let pw = unsafe { libc::getpwnam(name.as_ptr()) };
        if pw.is_null() {
            return Err(EmbeddedPgError::NoUnprivilegedUser(os_user.to_string()));
        }
        // SAFETY: checked non-null above.
        let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
        if uid == 0 {
            return Err(EmbeddedPgError::NoUnprivilegedUser(os_user.to_string()));
        }
        Ok(Some(RunAs { uid, gid }))
    }

    fn init(&self, options: &ClusterOptions, password_file: &Path) -> Result<(), EmbeddedPgError> {
        let password = random_password();
        write_private(password_file, &password)?;
        fs::create_dir_all(&self.pgdata)
            .map_err(io_err(format!("creating {}", self.pgdata.display())))?;
        fs::set_permissions(&self.pgdata, fs::Permissions::from_mode(0o700))
            .map_err(io_err(format!("chmod {}", self.pgdata.display())))?;
        // initdb reads the password from a file the PostgreSQL user can read; it lives inside
        // the (0700) cluster directory only while initdb runs.
        let pwfile = self.pgdata.with_extension("initdb-pw");
        write_private(&pwfile, &password)?;
        if let Some(run_as) = self.run_as {
            for p in [&self.pgdata, &pwfile] {
                chown(p, run_as)?;
            }
        }
        let pwfile_arg = format!("--pwfile={}", pwfile.display());
        let result = self.run(
            "initdb",
            &[
                "-D".as_ref(),
                self.pgdata.as_os_str(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                pwfile_arg.as_ref(),
                "--auth=scram-sha-256".as_ref(),
                "--encoding=UTF8".as_ref(),
                "--locale=C".as_ref(),
            ],
        );
        let _ = fs::remove_file(&pwfile);
        result?;

        let mut conf = String::from(
            "\n# --- daftar embedded cluster ---\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = ''\n",
        );
        conf.push_str(&format!("max_connections = {}\n", options.max_connections));
        if !options.durable {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let conf_path = self.pgdata.join("postgresql.conf");
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&conf_path)
            .map_err(io_err(format!("opening {}", conf_path.display())))?;
        f.write_all(conf.as_bytes())
            .map_err(io_err(format!("writing {}", conf_path.display())))?;
        Ok(())
    }

    /// Port of a postmaster already running on this cluster directory, if any.
    fn running_port(&self) -> Option<u16> {
        let status = self.command("pg_ctl");
        let mut status = status;
        status.arg("status").arg("-D").arg(&self.pgdata);
        let ok = status.output().map(|o| o.status.success()).unwrap_or(false);
        if !ok {
            return None;
        }
        // postmaster.pid line 4 is the port (PostgreSQL docs, "Database File Layout").
        let pid = fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        pid.lines().nth(3)?.trim().parse().ok()
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.binaries.bin(program));
        if let Some(run_as) = self.run_as {
            cmd.uid(run_as.uid).gid(run_as.gid);
        }
        // Avoid "could not change directory" noise when cwd is unreadable to that user.
        cmd.current_dir("/");
        cmd.env("LC_ALL", "C");
        cmd
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<Output, EmbeddedPgError> {
        let mut cmd = self.command(program);
        cmd.args(args);
        let out = cmd.output().map_err(io_err(format!(
            "running {}",
            self.binaries.bin(program).display()
        )))?;
        if !out.status.success() {
            let mut text = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if text.is_empty() {
                text = String::from_utf8_lossy(&out.stdout).trim().to_string();
            }
            if program == "pg_ctl" {
                if let Ok(log) = fs::read_to_string(self.pgdata.join("server.log")) {
                    let tail: Vec<&str> = log.lines().rev().take(5).collect();
                    text.push_str(" | server.log: ");
                    text.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join(" / "));
                }
            }
            return Err(EmbeddedPgError::CommandFailed {
                command: program.to_string(),
                status: out.status.to_string(),
                output: text,
            });
        }
        Ok(out)
    }

    /// `postgres://daftar:…@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// The loopback port the cluster listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory (`<dir>/pgdata`).
    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// Stops the cluster (`pg_ctl stop -m fast`: rolls back open transactions, checkpoints).
    /// Idempotent.
    pub fn stop(&mut self) -> Result<(), EmbeddedPgError> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        self.run(
            "pg_ctl",
            &[
                "stop".as_ref(),
                "-w".as_ref(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-D".as_ref(),
                self.pgdata.as_os_str(),
            ],
        )
        .map(|_| ())
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!(error = %e, "stopping embedded PostgreSQL");
        }
    }
}

fn chown(path: &Path, run_as: RunAs) -> Result<(), EmbeddedPgError> {
    std::os::unix::fs::chown(path, Some(run_as.uid), Some(run_as.gid))
        .map_err(io_err(format!("chown {}", path.display())))
}

fn write_private(path: &Path, contents: &str) -> Result<(), EmbeddedPgError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(format!("writing {}", path.display())))?;
    f.write_all(contents.as_bytes())
        .map_err(io_err(format!("writing {}", path.display())))
}

fn random_password() -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

fn free_loopback_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}
