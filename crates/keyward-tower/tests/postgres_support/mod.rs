//! A PostgreSQL cluster of the test's own (`initdb` + `pg_ctl`), on a free port, that the test
//! stops and starts again: the PostgreSQL counterpart of `redis_support::RedisServer`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The user the cluster is initialised with (trust authentication on loopback).
const USER: &str = "keyward";
/// How long `pg_ctl` may take to start or stop the server.
const PG_CTL_WAIT: Duration = Duration::from_secs(30);

/// A throwaway cluster in a temporary directory, listening on `127.0.0.1` only, with `fsync` off.
/// Stopped (immediately) and removed when dropped.
pub struct PostgresCluster {
    bindir: PathBuf,
    dir: TempDir,
    port: u16,
    running: bool,
}

impl PostgresCluster {
    /// Initialises a cluster on a free port and starts it.
    ///
    /// # Panics
    ///
    /// When the PostgreSQL server binaries are not installed, or `initdb` or the start fails.
    pub fn start() -> Self {
        let bindir = bindir();
        let dir = tempfile::Builder::new()
            .prefix("keyward-pg-")
            .tempdir()
            .expect("a temporary directory");
        if as_root() {
            chown_to_postgres(dir.path());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free local port")
            .port();
        let mut cluster = Self {
            bindir,
            dir,
            port,
            running: false,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        cluster.start_again();
        cluster
    }

    /// `postgres://keyward@127.0.0.1:{port}/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server as an operator would in a hurry (`pg_ctl stop -m fast`: open connections
    /// are cut, committed data is kept) and waits until it is down.
    pub fn stop(&mut self) {
        self.stop_with("fast");
    }

    /// Starts the stopped server again on the same port and data directory, and waits until it
    /// accepts connections.
    ///
    /// # Panics
    ///
    /// When it does not start within 30 s.
    pub fn start_again(&mut self) {
        let data = self.data();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            path_str(self.dir.path())
        );
        let log = self.dir.path().join("postgres.log");
        let wait = PG_CTL_WAIT.as_secs().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&data),
                "-l",
                path_str(&log),
                "-o",
                &options,
                "-w",
                "-t",
                &wait,
                "start",
            ],
        );
        self.running = true;
        self.wait_until_ready();
    }

    fn stop_with(&mut self, mode: &str) {
        if !self.running {
            return;
        }
        let data = self.data();
        let wait = PG_CTL_WAIT.as_secs().to_string();
        self.run(
            "pg_ctl",
            &["-D", path_str(&data), "-m", mode, "-w", "-t", &wait, "stop"],
        );
        self.running = false;
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Polls `pg_isready` until the server accepts connections on its TCP port.
    fn wait_until_ready(&self) {
        let deadline = Instant::now() + PG_CTL_WAIT;
        let port = self.port.to_string();
        loop {
            let ready = Command::new(self.bindir.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port, "-U", USER])
                .stdin(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL on port {} did not accept connections within {PG_CTL_WAIT:?}",
                self.port
            );
            // Polling a starting process, not waiting for an expiry.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `tool` from the server binaries as the user that owns the cluster.
    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bindir.join(tool);
        let output = self
            .command(tool)
            .args(args)
            // From "/" so that a current directory the postgres user cannot read does not matter.
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        if !output.status.success() {
            panic!(
                "{tool} {args:?} failed ({}):\n{}\n{}",
                output.status,
                text(&output),
                self.log_tail()
            );
        }
    }

    /// `tool` from the server binaries, run as the user that owns the cluster.
    fn command(&self, tool: &str) -> Command {
        let program = self.bindir.join(tool);
        if as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        if self.running {
            // Stopping fails only when the server is already gone; the directory goes either way.
            let data = self.data();
            let _ = self
                .command("pg_ctl")
                .args(["-D", path_str(&data), "-m", "immediate", "-w", "stop"])
                .current_dir("/")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The newest `/usr/lib/postgresql/*/bin` with `initdb` and `pg_ctl`.
///
/// # Panics
///
/// When there is none.
fn bindir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin; install them (as root: \
             `apt-get install -y postgresql`)"
        )
    })
}

/// PostgreSQL refuses to run as root: then its commands run as the `postgres` user.
fn as_root() -> bool {
    // The effective uid is the second figure of the `Uid:` line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

fn chown_to_postgres(dir: &Path) {
    let status = Command::new("chown")
        .arg("postgres:")
        .arg(dir)
        .status()
        .expect("`chown` runs");
    assert!(
        status.success(),
        "chown postgres {}: {status} (is there a `postgres` user?)",
        dir.display()
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
