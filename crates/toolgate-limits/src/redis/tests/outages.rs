//! Redis down, slow, or behind a password: the store answers promptly,
//! recovers by itself, and never shows the password.

use super::*;

#[tokio::test]
async fn a_dead_server_fails_fast_and_a_restarted_one_is_used_again() {
    let mut server = toolgate_testdb::redis().await;
    let s = store_with(&server, RedisOptions::default().timeout);
    let c = [charge("k", 1000, 1, MINUTE, false)];
    until_reserved(&s, &c).await;

    server.kill();
    for _ in 0..3 {
        let started = tokio::time::Instant::now();
        let reason = unavailable(s.reserve(&c, noon()).await);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}: {reason}",
            started.elapsed()
        );
    }
    let started = tokio::time::Instant::now();
    s.release(Reserved {
        items: vec![ReservedItem {
            key: "k".into(),
            amount: 1,
            token: 0,
        }],
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(2));

    server.restart().await;
    until_reserved(&s, &c).await;
}

#[tokio::test]
async fn a_busy_server_times_out_then_answers_again() {
    let server = toolgate_testdb::redis().await;
    let s = store_with(&server, Duration::from_millis(50));
    let c = [fixed("k", 1000)];
    until_reserved(&s, &c).await;

    // A script that holds the server for 1.5 s (Redis runs one at a time).
    let mut busy = raw(&server).await;
    let mut probe = raw(&server).await;
    let hog = tokio::spawn(async move {
        let script = "local function us() local t = redis.call('TIME') \
                      return t[1] * 1000000 + t[2] end \
                      local start = us() while us() - start < 1500000 do end return 1";
        let _: i64 = ::redis::cmd("EVAL")
            .arg(script)
            .arg(0)
            .query_async(&mut busy)
            .await
            .unwrap();
    });
    // Wait until the hog runs: a PING on another connection stalls.
    loop {
        let ping = ::redis::cmd("PING");
        let pong = ping.query_async::<String>(&mut probe);
        if tokio::time::timeout(Duration::from_millis(100), pong)
            .await
            .is_err()
        {
            break;
        }
    }
    let started = tokio::time::Instant::now();
    let reason = unavailable(s.reserve(&c, noon()).await);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(reason.contains("did not answer"), "{reason}");
    hog.await.unwrap();
    until_reserved(&s, &c).await;
}

#[tokio::test]
async fn a_store_starts_while_redis_is_down_and_never_shows_the_password() {
    let port = toolgate_testdb::free_port();
    let url = format!("redis://alice:s3cr%2Ft@127.0.0.1:{port}/0");
    let s = RedisStore::new(&url, RedisOptions::default()).unwrap();
    assert!(!format!("{s:?}").contains("s3cr"), "{s:?}");
    let reason = unavailable(s.reserve(&[fixed("k", 1)], noon()).await);
    assert!(!reason.contains("s3cr"), "{reason}");

    // A password the server turns down: the error comes from Redis.
    let server = toolgate_testdb::redis().await;
    let url = server.url().replace("redis://", "redis://alice:hunter2@");
    let s = RedisStore::new(
        &url,
        RedisOptions {
            timeout: PATIENT,
            ..RedisOptions::default()
        },
    )
    .unwrap();
    let reason = unavailable(s.reserve(&[fixed("k", 1)], noon()).await);
    assert!(!reason.contains("hunter2"), "{reason}");
}

#[test]
fn bad_urls_are_refused_without_their_password() {
    let e = RedisStore::new("http://u:pw1234@h/0", RedisOptions::default()).unwrap_err();
    assert!(!e.to_string().contains("pw1234"), "{e}");
    assert_eq!(
        url_password("redis://:p%40ss@host:6379/1").as_deref(),
        Some("p%40ss")
    );
    assert_eq!(url_password("redis://host:6379/1"), None);
    assert_eq!(redact("a pw b".into(), &["pw".into()]), "a *** b");
}

#[tokio::test]
async fn nothing_to_charge_needs_no_server() {
    let port = toolgate_testdb::free_port();
    let s = RedisStore::new(
        &format!("redis://127.0.0.1:{port}"),
        RedisOptions::default(),
    )
    .unwrap();
    assert_eq!(s.reserve(&[], noon()).await, Ok(Reserved::default()));
    s.release(Reserved::default()).await;
}
