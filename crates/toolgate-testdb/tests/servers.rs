//! The throwaway servers start, answer, and go away.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use sqlx::{Connection, PgConnection, Row};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn postgres_accepts_queries_and_goes_away_on_drop() {
    let pg = toolgate_testdb::postgres().await;
    let mut conn = PgConnection::connect(pg.url()).await.unwrap();
    let one: i32 = sqlx::query("select 1")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(one, 1);
    conn.close().await.unwrap();

    let url = pg.url().to_string();
    drop(pg);
    assert!(
        PgConnection::connect(&url).await.is_err(),
        "server still up after drop"
    );
}

#[tokio::test]
async fn postgres_servers_are_independent() {
    let (a, b) = tokio::join!(toolgate_testdb::postgres(), toolgate_testdb::postgres());
    assert_ne!(a.url(), b.url());
    let mut ca = PgConnection::connect(a.url()).await.unwrap();
    sqlx::query("create table t (x int)")
        .execute(&mut ca)
        .await
        .unwrap();
    let mut cb = PgConnection::connect(b.url()).await.unwrap();
    let missing = sqlx::query("select * from t").execute(&mut cb).await;
    assert!(
        missing.is_err(),
        "the second database sees the first one's table"
    );
}

#[tokio::test]
async fn postgres_keeps_durability_defaults_unless_asked() {
    let pg = toolgate_testdb::postgres().await;
    assert_eq!(setting(pg.url(), "fsync").await, "on");
    if pg.is_local() {
        let fast = toolgate_testdb::postgres_with(toolgate_testdb::PgOptions { fsync: false });
        assert_eq!(setting(fast.await.url(), "fsync").await, "off");
    }
}

async fn setting(url: &str, name: &str) -> String {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let row = sqlx::query("select setting from pg_settings where name = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    row.get(0)
}

async fn ping(url: &str) -> std::io::Result<String> {
    let hostport = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap();
    let mut s = TcpStream::connect(hostport).await?;
    s.write_all(b"*1\r\n$4\r\nPING\r\n").await?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test]
async fn redis_answers_ping_survives_restart_and_goes_away_on_drop() {
    let mut r = toolgate_testdb::redis().await;
    assert!(r.url().starts_with("redis://"));
    assert!(r.key_prefix().starts_with("tgtest:"));
    assert_eq!(ping(r.url()).await.unwrap(), "+PONG\r\n");

    r.kill();
    assert!(ping(r.url()).await.is_err(), "answered after kill");
    r.restart().await;
    assert_eq!(ping(r.url()).await.unwrap(), "+PONG\r\n");

    let url = r.url().to_string();
    drop(r);
    assert!(ping(&url).await.is_err(), "answered after drop");
}

#[test]
fn free_port_gives_distinct_nonzero_ports() {
    let a = toolgate_testdb::free_port();
    let b = toolgate_testdb::free_port();
    assert!(a != 0 && b != 0);
}
