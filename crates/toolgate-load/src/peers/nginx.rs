//! nginx as a plain HTTP reverse proxy in front of the fixture: the floor
//! for any proxy (it forwards bytes and understands nothing of MCP).
//!
//! One process (`master_process off`, so the pid we charge is the one that
//! works, and `taskset` pins all of it), keep-alive connections to the
//! upstream, no access log, no buffering of answers; everything lives in a
//! temporary directory given as the prefix (`nginx -p DIR -c DIR/nginx.conf
//! -g 'daemon off;'`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::child::{self, ChildProc};
use crate::error::HarnessError;
use crate::target::Target;

/// The nginx binary: `given`, else `nginx` on `PATH` or in `/usr/sbin`.
pub fn find(given: Option<&Path>) -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = given.map(Path::to_path_buf).into_iter().collect();
    child::find_program("nginx", &candidates)
}

/// The configuration: listen on `listen`, proxy to `upstream`.
pub fn config(dir: &Path, listen: SocketAddr, upstream: SocketAddr) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1;\n\
         master_process off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
         \x20 access_log off;\n\
         \x20 client_body_temp_path {d}/body;\n\
         \x20 proxy_temp_path {d}/proxy;\n\
         \x20 fastcgi_temp_path {d}/fastcgi;\n\
         \x20 uwsgi_temp_path {d}/uwsgi;\n\
         \x20 scgi_temp_path {d}/scgi;\n\
         \x20 keepalive_requests 1000000;\n\
         \x20 upstream fixture {{ server {upstream}; keepalive 256; keepalive_requests 1000000; }}\n\
         \x20 server {{\n\
         \x20   listen {listen};\n\
         \x20   location / {{\n\
         \x20     proxy_pass http://fixture;\n\
         \x20     proxy_http_version 1.1;\n\
         \x20     proxy_set_header Connection \"\";\n\
         \x20     proxy_buffering off;\n\
         \x20   }}\n\
         \x20 }}\n\
         }}\n"
    )
}

/// Starts nginx in front of `upstream` (the fixture's address).
pub async fn start(
    nginx: &Path,
    upstream: SocketAddr,
    cpu: Option<usize>,
) -> Result<Target, HarnessError> {
    let (dir, listen) = child::scratch("toolgate-load-nginx")?;
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, config(dir.path(), listen, upstream))
        .map_err(HarnessError::io("writing nginx.conf"))?;
    let mut cmd = child::command(
        nginx,
        [
            "-p".as_ref(),
            dir.path().as_os_str(),
            "-c".as_ref(),
            conf.as_os_str(),
            "-g".as_ref(),
            "daemon off;".as_ref(),
        ],
        cpu,
    );
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut proc = ChildProc::spawn("nginx", cmd)?;
    if let Err(e) = child::wait_listening(&mut proc, listen, Duration::from_secs(10)).await {
        let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
        proc.stop(Duration::from_secs(1)).await;
        return Err(HarnessError::Usage(format!(
            "{e}; error.log: {}",
            log.trim()
        )));
    }
    let endpoint = super::endpoint(super::Peer::Nginx, listen)?;
    let pid = proc.pid();
    let note = format!("{} (proxy_pass, keepalive upstream)", nginx.display());
    Ok(Target::new("nginx", endpoint, pid, note)
        .owning(proc)
        .with_dir(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_loopback_and_keepalive() {
        let c = config(
            Path::new("/tmp/x"),
            "127.0.0.1:81".parse().unwrap(),
            "127.0.0.1:82".parse().unwrap(),
        );
        assert!(c.contains("listen 127.0.0.1:81;"));
        assert!(c.contains("server 127.0.0.1:82; keepalive 256;"));
        assert!(c.contains("proxy_set_header Connection \"\";"));
        assert!(!c.contains("daemon"), "daemon off is given with -g");
    }
}
