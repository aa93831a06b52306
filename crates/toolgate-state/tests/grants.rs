//! The grant contract, run against SQLite and a real, throwaway
//! PostgreSQL; and two replicas on one database.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::time::Duration;

use common::{ms, noon, unavailable};
use tokio::time::Instant;
use toolgate_state::{
    GrantOptions, GrantRecord, GrantStore, PostgresGrants, SqliteGrants, StateError, StoredGrant,
    new_token, token_sha256,
};

fn grant(name: &str, token: &str) -> GrantRecord {
    GrantRecord {
        name: name.into(),
        server: "crm".into(),
        policy: Some("policies/ci.yaml".into()),
        token_sha256: token_sha256(token),
        created_at: noon() + ms(123),
    }
}

async fn create_lookup_list_revoke(s: &dyn GrantStore) {
    let (t1, t2) = (new_token(), new_token());
    let g1 = grant("ci", &t1);
    let g2 = GrantRecord {
        policy: None,
        server: "files".into(),
        ..grant("alice", &t2)
    };
    s.create(g1.clone()).await.unwrap();
    s.create(g2.clone()).await.unwrap();

    assert_eq!(
        s.lookup(&token_sha256(&t1)).await.unwrap(),
        Some(g1.clone())
    );
    let upper = token_sha256(&t2).to_ascii_uppercase();
    assert_eq!(s.lookup(&upper).await.unwrap(), Some(g2.clone()));
    assert_eq!(s.lookup(&token_sha256("nope")).await.unwrap(), None);
    let live = |g: &GrantRecord| StoredGrant {
        record: g.clone(),
        revoked_at: None,
    };
    assert_eq!(s.list().await.unwrap(), [live(&g2), live(&g1)]);

    s.revoke("ci", noon() + ms(5000)).await.unwrap();
    assert_eq!(s.lookup(&token_sha256(&t1)).await.unwrap(), None);
    assert_eq!(
        s.lookup(&token_sha256(&t2)).await.unwrap(),
        Some(g2.clone())
    );
    // Revoking again keeps the first time.
    s.revoke("ci", noon() + ms(9000)).await.unwrap();
    let revoked = StoredGrant {
        record: g1.clone(),
        revoked_at: Some(noon() + ms(5000)),
    };
    assert_eq!(s.list().await.unwrap(), [live(&g2), revoked]);
    assert_eq!(s.revoke("nobody", noon()).await, Err(StateError::NotFound));
}

async fn duplicates_are_refused(s: &dyn GrantStore) {
    let token = new_token();
    s.create(grant("ci", &token)).await.unwrap();

    let same_name = s.create(grant("ci", &new_token())).await;
    assert_eq!(
        same_name,
        Err(StateError::Duplicate("grant name \"ci\"".into()))
    );
    let same_token = s.create(grant("other", &token)).await.unwrap_err();
    assert!(
        matches!(same_token, StateError::Duplicate(_)),
        "{same_token:?}"
    );
    let shown = same_token.to_string();
    assert!(
        !shown.contains(&token) && !shown.contains(&token_sha256(&token)),
        "{shown}"
    );

    // A revoked grant keeps its name.
    s.revoke("ci", noon()).await.unwrap();
    let reused = s.create(grant("ci", &new_token())).await;
    assert!(
        matches!(reused, Err(StateError::Duplicate(_))),
        "{reused:?}"
    );
    assert_eq!(s.list().await.unwrap().len(), 1);
}

/// Two replicas: what one creates or revokes, the other's next lookup sees.
async fn replicas_agree(a: &dyn GrantStore, b: &dyn GrantStore) {
    let token = new_token();
    let hash = token_sha256(&token);
    a.create(grant("ci", &token)).await.unwrap();
    assert_eq!(b.lookup(&hash).await.unwrap(), Some(grant("ci", &token)));
    assert_eq!(a.lookup(&hash).await.unwrap(), Some(grant("ci", &token)));
    b.revoke("ci", noon()).await.unwrap();
    assert_eq!(a.lookup(&hash).await.unwrap(), None);
    assert!(b.create(grant("ci", &new_token())).await.is_err());
}

mod sqlite {
    use super::*;

    async fn open(dir: &tempfile::TempDir) -> SqliteGrants {
        SqliteGrants::open(&dir.path().join("grants.db"))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn create_lookup_list_revoke() {
        let dir = tempfile::tempdir().unwrap();
        super::create_lookup_list_revoke(&open(&dir).await).await;
    }

    #[tokio::test]
    async fn duplicates_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        super::duplicates_are_refused(&open(&dir).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_on_one_file_agree() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("grants.db");
            // Spawned, as two processes would: opening runs in parallel.
            let spawn =
                |p: std::path::PathBuf| tokio::spawn(async move { SqliteGrants::open(&p).await });
            let (a, b) = (spawn(path.clone()), spawn(path));
            let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
            super::replicas_agree(&a, &b).await;
        }
    }

    #[tokio::test]
    async fn the_file_is_made_on_first_use_in_wal_mode_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grants.db");
        assert!(!path.exists());
        let s = SqliteGrants::open(&path).await.unwrap();
        assert!(path.exists());
        assert_eq!(s.path(), path);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let token = new_token();
        s.create(grant("ci", &token)).await.unwrap();
        drop(s);

        // Reopened: migrations are not run twice, the grant is still there.
        let s = SqliteGrants::open(&path).await.unwrap();
        let found = s.lookup(&token_sha256(&token)).await.unwrap();
        assert_eq!(found, Some(grant("ci", &token)));
        let stored: Vec<String> = sqlx::query_scalar("SELECT token_sha256 FROM toolgate_grants")
            .fetch_all(s.pool())
            .await
            .unwrap();
        assert_eq!(stored, [token_sha256(&token)], "only the hash is stored");
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn create_lookup_list_revoke() {
        let db = toolgate_testdb::postgres().await;
        let s = PostgresGrants::connect(db.url()).await.unwrap();
        super::create_lookup_list_revoke(&s).await;
    }

    #[tokio::test]
    async fn duplicates_are_refused() {
        let db = toolgate_testdb::postgres().await;
        let s = PostgresGrants::connect(db.url()).await.unwrap();
        super::duplicates_are_refused(&s).await;
    }

    /// Two pools, connected (and migrating) at once, as two replicas would.
    #[tokio::test]
    async fn two_pools_on_one_database_agree() {
        let db = toolgate_testdb::postgres().await;
        let (a, b) = tokio::join!(
            PostgresGrants::connect(db.url()),
            PostgresGrants::connect(db.url())
        );
        super::replicas_agree(&a.unwrap(), &b.unwrap()).await;
    }

    /// A lookup stuck behind a lock answers Unavailable within the
    /// timeout (the caller fails closed), and the next one works.
    #[tokio::test]
    async fn a_slow_database_fails_fast_then_answers_again() {
        let db = toolgate_testdb::postgres().await;
        let options = GrantOptions {
            timeout: ms(300),
            ..GrantOptions::default()
        };
        let s = PostgresGrants::connect_with(db.url(), options)
            .await
            .unwrap();
        let token = new_token();
        s.create(grant("ci", &token)).await.unwrap();

        let mut blocker = s.pool().begin().await.unwrap();
        sqlx::query("LOCK TABLE toolgate_grants IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *blocker)
            .await
            .unwrap();
        let started = Instant::now();
        let reason = unavailable(s.lookup(&token_sha256(&token)).await);
        let took = started.elapsed();
        assert!(
            took >= ms(300) && took < Duration::from_secs(2),
            "{took:?}: {reason}"
        );
        blocker.rollback().await.unwrap();

        let found = s.lookup(&token_sha256(&token)).await.unwrap();
        assert_eq!(found, Some(grant("ci", &token)));
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_fast_without_the_password() {
        let port = toolgate_testdb::free_port();
        let url = format!("postgres://toolgate:hunter2@127.0.0.1:{port}/grants");
        let options = GrantOptions {
            timeout: ms(300),
            ..GrantOptions::default()
        };
        let started = Instant::now();
        let reason = unavailable(PostgresGrants::connect_with(&url, options).await);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(!reason.contains("hunter2"), "{reason}");
    }
}
