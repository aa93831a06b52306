//! Keys from a JWKS URL: fetched lazily, cached, refetched on rotation, and
//! never hammered, against a real HTTP server on loopback.

use std::sync::Arc;
use std::time::Duration;

use toolgate_oauth::{ErrorKind, KeySource, TokenError, Validator};

use crate::support::*;

const MIN_INTERVAL: Duration = Duration::from_secs(30);

#[tokio::test]
async fn keys_are_fetched_lazily_and_cached() {
    let server = JwksServer::start(jwks(&[&rsa_a(), &ec()])).await;
    let (v, _) = validator(server.settings());
    assert_eq!(server.fetches(), 0, "no fetch at construction");
    for key in [rsa_a(), ec(), rsa_a()] {
        assert!(v.validate(&key.sign(&claims())).await.is_ok());
    }
    assert_eq!(server.fetches(), 1);
    v.refresh().await.unwrap();
    assert_eq!(server.fetches(), 2, "refresh fetches now");
}

#[tokio::test]
async fn concurrent_validations_share_one_fetch() {
    let server = JwksServer::start(jwks(&[&rsa_a()])).await;
    let v = Arc::new(validator(server.settings()).0);
    let token = rsa_a().sign(&claims());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (v, token) = (v.clone(), token.clone());
        tasks.spawn(async move { v.validate(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert!(result.unwrap().is_ok());
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let server = JwksServer::start(jwks(&[&rsa_a()])).await;
    let (v, clock) = validator(server.settings());
    let v = Arc::new(v);
    v.refresh().await.unwrap();
    let stranger = rsa_b().sign(&claims());

    // Right after a fetch: no refetch at all.
    assert_eq!(
        v.validate(&stranger).await.unwrap_err(),
        TokenError::UnknownKey(Some("rsa-b".into()))
    );
    assert_eq!(server.fetches(), 1);

    // After the interval, a flood of 50 (concurrent, then one after another)
    // costs one refetch.
    clock.advance(MIN_INTERVAL);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..25 {
        let (v, token) = (v.clone(), stranger.clone());
        tasks.spawn(async move { v.validate(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(
            result.unwrap().unwrap_err(),
            TokenError::UnknownKey(Some("rsa-b".into()))
        );
    }
    for _ in 0..25 {
        assert!(matches!(
            v.validate(&stranger).await,
            Err(TokenError::UnknownKey(_))
        ));
    }
    assert_eq!(server.fetches(), 2);
    assert!(v.validate(&rsa_a().sign(&claims())).await.is_ok());
}

#[tokio::test]
async fn rotated_keys_are_picked_up_by_one_refetch() {
    let server = JwksServer::start(jwks(&[&rsa_a()])).await;
    let (v, clock) = validator(server.settings());
    assert!(v.validate(&rsa_a().sign(&claims())).await.is_ok());

    server.serve(jwks(&[&rsa_b()]));
    clock.advance(MIN_INTERVAL + Duration::from_secs(1));
    assert!(v.validate(&rsa_b().sign(&claims())).await.is_ok());
    assert_eq!(server.fetches(), 2);
    // The old key is gone from the new set.
    assert!(matches!(
        v.validate(&rsa_a().sign(&claims())).await,
        Err(TokenError::UnknownKey(_))
    ));
    assert_eq!(server.fetches(), 2, "rate limited");
}

#[tokio::test]
async fn nothing_cached_and_no_server_is_unavailable() {
    let (v, _) = validator(settings(KeySource::JwksUrl(closed_port_url().await)));
    let err = v.validate(&rsa_a().sign(&claims())).await.unwrap_err();
    assert!(matches!(err, TokenError::KeysUnavailable(_)), "{err}");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.kind().status(), 503);
    assert!(v.refresh().await.is_err());
}

#[tokio::test]
async fn a_failing_server_is_retried_only_after_the_interval() {
    let server = JwksServer::start(jwks(&[&rsa_a()])).await;
    server.set_down(true);
    let (v, clock) = validator(server.settings());
    let token = rsa_a().sign(&claims());
    for _ in 0..5 {
        let err = v.validate(&token).await.unwrap_err();
        assert_eq!(
            err,
            TokenError::KeysUnavailable("JWKS endpoint answered 503 Service Unavailable".into())
        );
    }
    assert_eq!(server.fetches(), 1);
    server.set_down(false);
    clock.advance(MIN_INTERVAL);
    assert!(v.validate(&token).await.is_ok());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn cached_keys_outlive_a_failing_server() {
    let server = JwksServer::start(jwks(&[&rsa_a()])).await;
    let (v, clock) = validator(server.settings());
    let token = rsa_a().sign(&claims());
    assert!(v.validate(&token).await.is_ok());
    server.set_down(true);
    // Past the TTL: a refresh is tried, fails, and the stale keys serve on.
    clock.advance(Duration::from_secs(301));
    assert!(v.validate(&token).await.is_ok());
    v.revalidated().await;
    assert_eq!(server.fetches(), 2);
    assert!(v.validate(&token).await.is_ok());
    assert_eq!(server.fetches(), 2, "rate limited while failing");
}

#[tokio::test]
async fn the_cache_honours_max_age_within_bounds() {
    let server = JwksServer::start(jwks(&[&rsa_a()])).await;
    server.set_cache_control("public, max-age=120");
    let (v, clock) = validator(server.settings());
    let token = rsa_a().sign(&claims());
    assert!(v.validate(&token).await.is_ok());
    clock.advance(Duration::from_secs(119));
    assert!(v.validate(&token).await.is_ok());
    assert_eq!(server.fetches(), 1);
    clock.advance(Duration::from_secs(1));
    assert!(v.validate(&token).await.is_ok());
    v.revalidated().await;
    assert_eq!(server.fetches(), 2);

    // max-age=0 is clamped up to the refetch interval.
    server.set_cache_control("max-age=0");
    clock.advance(Duration::from_secs(120));
    assert!(v.validate(&token).await.is_ok());
    v.revalidated().await;
    assert_eq!(server.fetches(), 3);
    clock.advance(MIN_INTERVAL - Duration::from_secs(1));
    assert!(v.validate(&token).await.is_ok());
    v.revalidated().await;
    assert_eq!(server.fetches(), 3);
    clock.advance(Duration::from_secs(1));
    assert!(v.validate(&token).await.is_ok());
    v.revalidated().await;
    assert_eq!(server.fetches(), 4);
}

#[tokio::test]
async fn without_max_age_the_default_ttl_applies() {
    let server = JwksServer::start(jwks(&[&rsa_a()])).await;
    let (v, clock) = validator(server.settings());
    let token = rsa_a().sign(&claims());
    assert!(v.validate(&token).await.is_ok());
    clock.advance(Duration::from_secs(299));
    assert!(v.validate(&token).await.is_ok());
    v.revalidated().await;
    assert_eq!(server.fetches(), 1);
    clock.advance(Duration::from_secs(1));
    assert!(v.validate(&token).await.is_ok());
    v.revalidated().await;
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn stale_keys_answer_at_once_while_one_refetch_runs_behind() {
    let server = JwksServer::start(jwks(&[&rsa_a()])).await;
    let (v, clock) = validator(server.settings());
    let v = Arc::new(v);
    let token = rsa_a().sign(&claims());
    assert!(v.validate(&token).await.is_ok());

    // The server now takes 2 s, and rotates to a set with both keys.
    server.set_delay(Duration::from_secs(2));
    server.serve(jwks(&[&rsa_a(), &rsa_b()]));
    clock.advance(Duration::from_secs(300));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (v, token) = (v.clone(), token.clone());
        tasks.spawn(async move {
            tokio::time::timeout(Duration::from_millis(500), v.validate(&token)).await
        });
    }
    while let Some(result) = tasks.join_next().await {
        let answered = result
            .unwrap()
            .expect("a stale key set must not wait for the server");
        assert!(answered.is_ok());
    }
    v.revalidated().await;
    assert_eq!(
        server.fetches(),
        2,
        "one background refetch for 20 requests"
    );
    // The refetched set is in use: the new key verifies without a fetch.
    server.set_delay(Duration::ZERO);
    assert!(v.validate(&rsa_b().sign(&claims())).await.is_ok());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let mut s = settings(KeySource::JwksUrl(url));
    s.http_timeout = Duration::from_millis(200);
    let v = Validator::new(s, Arc::new(toolgate_oauth::ManualClock::at(t0()))).unwrap();
    let err = v.validate(&rsa_a().sign(&claims())).await.unwrap_err();
    assert!(
        matches!(&err, TokenError::KeysUnavailable(why) if why.contains("timed out")),
        "{err}"
    );
    hold.abort();
}
