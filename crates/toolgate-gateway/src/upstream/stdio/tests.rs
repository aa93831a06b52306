use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;

fn opts(script: &str) -> StdioOptions {
    StdioOptions {
        server: "test".into(),
        command: vec!["sh".into(), "-c".into(), script.into()],
        env: BTreeMap::new(),
        cwd: None,
        inherit: InheritEnv::Minimal,
        max_line: 1 << 20,
        route: UnrelatedRoute::Unsolicited,
        metrics: None,
    }
}

async fn wait_for(path: &Path) -> String {
    for _ in 0..200 {
        if let Ok(s) = std::fs::read_to_string(path)
            && !s.is_empty()
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} never written", path.display());
}

fn alive(pid: &str) -> bool {
    Path::new("/proc").join(pid.trim()).exists()
}

#[tokio::test]
async fn a_server_that_exits_on_stdin_eof_is_stopped_by_closing_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let script = format!(
        "echo $$ > {0}.pid; trap 'echo term >> {0}' TERM; cat > /dev/null; echo eof >> {0}",
        log.display()
    );
    let core = spawn_stdio(&opts(&script)).unwrap();
    let pid = wait_for(&log.with_extension("pid")).await;
    let started = tokio::time::Instant::now();
    core.close().await;
    assert!(
        started.elapsed() < SHUTDOWN_STEP,
        "no escalation was needed"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "eof\n");
    assert!(!alive(&pid));
}

#[tokio::test]
async fn a_server_that_ignores_eof_gets_sigterm_then_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    // Ignores stdin closing and survives SIGTERM (it only notes it).
    let script = format!(
        "echo $$ > {0}.pid; trap 'echo term >> {0}' TERM; exec 0<&-; while :; do sleep 0.05; done",
        log.display()
    );
    let core = spawn_stdio(&opts(&script)).unwrap();
    let pid = wait_for(&log.with_extension("pid")).await;
    let started = tokio::time::Instant::now();
    core.close().await;
    let took = started.elapsed();
    assert!(took >= SHUTDOWN_STEP * 2, "gave up too early: {took:?}");
    assert!(took < SHUTDOWN_STEP * 4, "took {took:?}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "term\n",
        "SIGTERM came first"
    );
    assert!(!alive(&pid), "SIGKILL ended it");
}

#[tokio::test]
async fn a_crash_fails_the_requests_in_flight() {
    let core = spawn_stdio(&opts("read line; exit 3")).unwrap();
    let req = Message::parse_text(
        r#"{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"x"}}"#,
    )
    .unwrap();
    let mut exchange = core.request(req).await.unwrap();
    let step = tokio::time::timeout(Duration::from_secs(10), exchange.next())
        .await
        .unwrap();
    match step {
        Some(crate::upstream::exchange::Step::Response(Err(UpstreamError::Exited(status)))) => {
            assert!(status.contains('3'), "{status}");
        }
        other => panic!("expected an exit, got {other:?}"),
    }
    assert!(core.is_closed());
}
