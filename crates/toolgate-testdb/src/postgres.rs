//! A throwaway PostgreSQL cluster, or a fresh database on `DATABASE_URL`.

use std::path::{Path, PathBuf};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use tempfile::TempDir;

use crate::process::{self, RunAs};

/// How to run a throwaway cluster.
#[derive(Clone, Copy, Debug)]
pub struct PgOptions {
    /// Keep PostgreSQL's durability settings (`fsync`, `synchronous_commit`)
    /// at their defaults. `false` trades crash safety for speed and must not
    /// be used by tests that measure what survives a crash.
    pub fsync: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { fsync: true }
    }
}

/// A PostgreSQL database for one test; dropped, it is stopped and removed.
#[derive(Debug)]
pub struct PgServer {
    url: String,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Local {
        dir: TempDir,
        bin: PathBuf,
        run_as: Option<RunAs>,
    },
    External {
        admin_url: String,
        name: String,
    },
}

impl PgServer {
    /// The connection URL: `postgres://postgres@127.0.0.1:PORT/postgres` for a
    /// throwaway cluster (trust authentication), or `DATABASE_URL` with the
    /// database replaced by this handle's own.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is a cluster of our own (not a database on `DATABASE_URL`).
    pub fn is_local(&self) -> bool {
        matches!(self.inner, Inner::Local { .. })
    }
}

/// A PostgreSQL database with the server's default durability settings.
///
/// # Panics
/// When no PostgreSQL binaries are installed and `DATABASE_URL` is not set,
/// or the server cannot be started; the message says what to do.
pub async fn postgres() -> PgServer {
    postgres_with(PgOptions::default()).await
}

/// A PostgreSQL database started with `options` (when it is our own cluster).
///
/// # Panics
/// As [`postgres()`].
pub async fn postgres_with(options: PgOptions) -> PgServer {
    let mut extra = process::debian_pg_dirs();
    extra.extend(["/usr/local/bin", "/usr/local/pgsql/bin"].map(PathBuf::from));
    if let Some(bin) = process::find_bin_dir(&["initdb", "pg_ctl", "postgres"], &extra) {
        return start_local(bin, options).await;
    }
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return external(url).await;
    }
    panic!(
        "toolgate-testdb: this test needs PostgreSQL. Install the server binaries \
         (initdb, pg_ctl, postgres; e.g. `apt-get install postgresql`) so a throwaway \
         cluster can be started, or set DATABASE_URL to a server where the user may \
         CREATE DATABASE"
    );
}

async fn start_local(bin: PathBuf, options: PgOptions) -> PgServer {
    let run_as = RunAs::for_postgres();
    // Root's TMPDIR may not be reachable by the user the server runs as.
    let base = match run_as {
        Some(_) => PathBuf::from("/tmp"),
        None => std::env::temp_dir(),
    };
    let dir = tempfile::Builder::new()
        .prefix("toolgate-pg-")
        .tempdir_in(&base)
        .unwrap_or_else(|e| panic!("toolgate-testdb: temp dir in {}: {e}", base.display()));
    if let Some(r) = &run_as {
        r.chown(dir.path());
    }
    let data = dir.path().join("data");
    let initdb = [
        "-D",
        &data.display().to_string(),
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]
    .map(String::from);
    run(run_as.as_ref(), &bin.join("initdb"), &initdb, dir.path())
        .await
        .unwrap_or_else(|out| panic!("toolgate-testdb: initdb ({}) failed:\n{out}", bin.display()));
    let mut last_error = String::new();
    // The port may be taken between free_port() and the server binding it.
    for _ in 0..5 {
        let port = process::free_port();
        let args = pg_ctl_start_args(dir.path(), port, options);
        match run(run_as.as_ref(), &bin.join("pg_ctl"), &args, dir.path()).await {
            Ok(_) => {
                let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
                return PgServer {
                    url,
                    inner: Inner::Local { dir, bin, run_as },
                };
            }
            Err(out) => last_error = out,
        }
    }
    panic!(
        "toolgate-testdb: PostgreSQL did not start:\n{last_error}\n{}",
        process::log_tail(&dir.path().join("server.log"))
    );
}

fn pg_ctl_start_args(dir: &Path, port: u16, options: PgOptions) -> Vec<String> {
    let mut settings = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c shared_buffers=32MB",
        dir.display()
    );
    if !options.fsync {
        settings.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
    }
    let data = dir.join("data").display().to_string();
    let log = dir.join("server.log").display().to_string();
    [
        "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &settings, "start",
    ]
    .map(String::from)
    .to_vec()
}

/// Runs a command to completion; `Err` carries its output.
async fn run(
    run_as: Option<&RunAs>,
    program: &Path,
    args: &[String],
    cwd: &Path,
) -> Result<(), String> {
    let mut cmd = tokio::process::Command::from(process::command(run_as, program, args));
    // The user we switch to may not be allowed into our working directory.
    cmd.current_dir(cwd).stdin(std::process::Stdio::null());
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{} exited with {}\n{}{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

async fn external(admin_url: String) -> PgServer {
    let name = format!("toolgate_test_{}", process::unique_suffix());
    let mut conn = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("toolgate-testdb: cannot connect to DATABASE_URL: {e}"));
    // A database left over by a crashed run of a process with the same pid.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        conn.execute(AssertSqlSafe(sql)).await.unwrap_or_else(|e| {
            panic!("toolgate-testdb: DATABASE_URL's user must be allowed to CREATE DATABASE: {e}")
        });
    }
    let _ = conn.close().await;
    let url = with_database(&admin_url, &name);
    PgServer {
        url,
        inner: Inner::External { admin_url, name },
    }
}

/// `url` with its database (path) replaced by `db`, keeping its query.
fn with_database(url: &str, db: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        panic!("toolgate-testdb: DATABASE_URL is not a postgres:// URL");
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, tail) = rest.split_at(auth_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{auth}/{db}{query}")
}

impl Drop for PgServer {
    fn drop(&mut self) {
        match &self.inner {
            Inner::Local { dir, bin, run_as } => {
                let data = dir.path().join("data").display().to_string();
                let args = ["-D", &data, "stop", "-m", "immediate", "-w"].map(String::from);
                let status = process::command(run_as.as_ref(), &bin.join("pg_ctl"), &args)
                    .current_dir(dir.path())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
                if !status.is_ok_and(|s| s.success()) {
                    eprintln!("toolgate-testdb: pg_ctl stop failed for {data}");
                }
            }
            Inner::External { admin_url, name } => drop_database(admin_url.clone(), name.clone()),
        }
    }
}

/// Drops the test's database from a thread of its own: `Drop` cannot await,
/// and may run inside or outside a runtime.
fn drop_database(admin_url: String, name: String) {
    let dropper = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if let Ok(mut conn) = PgConnection::connect(&admin_url).await {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                if let Err(e) = conn.execute(AssertSqlSafe(sql)).await {
                    eprintln!("toolgate-testdb: could not drop database {name}: {e}");
                }
            }
        });
    });
    let _ = dropper.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `DATABASE_URL` path, against a cluster of our own.
    #[tokio::test]
    async fn external_databases_are_one_per_handle_and_dropped() {
        let server = postgres().await;
        let (a, b) = (
            external(server.url().into()).await,
            external(server.url().into()).await,
        );
        assert_ne!(a.url(), b.url());
        let mut conn = PgConnection::connect(a.url()).await.unwrap();
        conn.execute("CREATE TABLE t (x int)").await.unwrap();
        conn.close().await.unwrap();
        let Inner::External { name, .. } = &a.inner else {
            panic!("not external")
        };
        let name = name.clone();
        drop(a);
        let mut admin = PgConnection::connect(server.url()).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert_eq!(left, 0, "{name} was not dropped");
    }

    #[test]
    fn replaces_the_database_and_keeps_the_query() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/app?sslmode=require", "t1"),
            "postgres://u:p@h:5432/t1?sslmode=require"
        );
        assert_eq!(with_database("postgresql://h", "t1"), "postgresql://h/t1");
        assert_eq!(
            with_database("postgres://h?x=1", "t1"),
            "postgres://h/t1?x=1"
        );
    }
}
