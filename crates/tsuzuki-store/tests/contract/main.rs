//! One contract, every backend: each test here runs on SQLite and on PostgreSQL (issue #2 item 3).

use std::sync::Arc;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::email::Email;
use tsuzuki_core::remember::{FamilyState, RememberCookie, Sealed};
use tsuzuki_core::session::SessionTimes;
use tsuzuki_core::token::{SecretToken, TokenHash, public_id};
use tsuzuki_store::testing::{Kind, TestDatabase};
use tsuzuki_store::{
    NewUser, RememberRecord, Rotation, SessionRecord, SessionTouch, Store, StoreError,
};

/// Run `body` against a fresh database of `kind`; skip loudly if PostgreSQL is absent and allowed.
async fn with_store<F, Fut>(kind: Kind, body: F)
where
    F: FnOnce(Arc<dyn Store>, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(db) = TestDatabase::create(kind).await else {
        return;
    };
    let store = tsuzuki_store::connect(&db.url, 4).await.expect("connect");
    body(store, db.url.clone()).await;
    db.drop_database().await;
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::with_store(super::Kind::Sqlite, super::$name).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::with_store(super::Kind::Postgres, super::$name).await } )* }
    };
}

// After the macro: macro_rules! is visible only below its definition.
mod drafts;
mod flows;

contract!(
    users_are_unique_by_email,
    password_and_disabled_updates,
    sessions_round_trip_without_the_token,
    touch_never_moves_activity_backwards,
    touch_batches_of_any_size_with_repeats,
    revocation_deletes_and_feeds,
    revoke_user_sessions_can_keep_one,
    cleanup_deletes_only_expired_sessions,
    throttle_counts_and_blocks,
    events_are_recorded_per_user,
    users_come_in_email_pages,
    events_page_filters_and_pages_newest_first,
    migrations_are_idempotent_and_refuse_newer_schema,
    remember_rotation_is_compare_and_set,
    concurrent_rotations_have_one_winner,
    revoking_a_family_ends_its_sessions,
    family_cleanup_and_bulk_revocation,
);

async fn user(store: &dyn Store, email: &str) -> String {
    let id = public_id("usr");
    store
        .create_user(&NewUser {
            id: id.clone(),
            email: email.into(),
            password_hash: "$argon2id$x".into(),
            now: Timestamp(100),
        })
        .await
        .expect("create user");
    id
}

fn session(user_id: &str, at: i64, expires: i64) -> (SecretToken, SessionRecord) {
    let token = SecretToken::generate();
    let rec = SessionRecord {
        id_hash: token.hash(),
        handle: public_id("ses"),
        user_id: user_id.into(),
        times: SessionTimes {
            created_at: Timestamp(at),
            last_active_at: Timestamp(at),
            expires_at: Timestamp(expires),
        },
        auth_time: Timestamp(at),
        methods: "pwd".into(),
        remembered: false,
        ip: "192.0.2.1".into(),
        last_ip: "192.0.2.1".into(),
        user_agent: "test-agent".into(),
        remember_handle: None,
    };
    (token, rec)
}

async fn users_are_unique_by_email(store: Arc<dyn Store>, _: String) {
    let id = user(&*store, "a@example.com").await;
    let again = store
        .create_user(&NewUser {
            id: public_id("usr"),
            email: "a@example.com".into(),
            password_hash: "h".into(),
            now: Timestamp(1),
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    let found = store
        .user_by_email(&Email::parse("A@Example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, id);
    assert!(!found.disabled);
    assert!(
        store
            .user_by_email(&Email::parse("b@example.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.user_by_id(&id).await.unwrap().unwrap().email,
        "a@example.com"
    );
    user(&*store, "0@example.com").await;
    let list: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(list, vec!["0@example.com", "a@example.com"]);
}

async fn password_and_disabled_updates(store: Arc<dyn Store>, _: String) {
    let id = user(&*store, "a@example.com").await;
    store
        .set_password_hash(&id, "new-hash", Timestamp(200))
        .await
        .unwrap();
    store.set_disabled(&id, true, Timestamp(201)).await.unwrap();
    let u = store.user_by_id(&id).await.unwrap().unwrap();
    assert_eq!(
        (u.password_hash.as_str(), u.disabled, u.updated_at),
        ("new-hash", true, Timestamp(201))
    );
    assert!(matches!(
        store.set_disabled("usr_missing", true, Timestamp(1)).await,
        Err(StoreError::NotFound)
    ));
}

async fn sessions_round_trip_without_the_token(store: Arc<dyn Store>, _: String) {
    let id = user(&*store, "a@example.com").await;
    let (token, rec) = session(&id, 1000, 5000);
    store.insert_session(&rec).await.unwrap();
    let view = store.session_by_hash(&token.hash()).await.unwrap().unwrap();
    assert_eq!(view.session, rec);
    assert_eq!(view.email, "a@example.com");
    assert!(!view.user_disabled);
    // Looking up by anything but the hash finds nothing: the token itself is not a key.
    let as_hash = TokenHash::from_slice(&token.encode().as_bytes()[..32]).unwrap();
    assert!(store.session_by_hash(&as_hash).await.unwrap().is_none());
    assert_eq!(store.sessions_of_user(&id).await.unwrap().len(), 1);
    assert_eq!(
        store.session_by_handle(&rec.handle).await.unwrap().unwrap(),
        rec
    );
    assert!(
        store
            .session_by_handle("ses_missing")
            .await
            .unwrap()
            .is_none()
    );
}

async fn touch_never_moves_activity_backwards(store: Arc<dyn Store>, _: String) {
    let id = user(&*store, "a@example.com").await;
    let (token, rec) = session(&id, 1000, 5000);
    store.insert_session(&rec).await.unwrap();
    let (other, other_rec) = session(&id, 1000, 5000);
    store.insert_session(&other_rec).await.unwrap();
    let touch = |t: &SecretToken, at: i64, ip: &str| SessionTouch {
        id_hash: t.hash(),
        last_active_at: Timestamp(at),
        ip: ip.into(),
    };
    // One batch for two sessions; a later batch with an older time for the first.
    store
        .touch_sessions(&[
            touch(&token, 1500, "198.51.100.7"),
            touch(&other, 1700, "198.51.100.9"),
        ])
        .await
        .unwrap();
    store
        .touch_sessions(&[touch(&token, 1200, "198.51.100.8")])
        .await
        .unwrap();
    store.touch_sessions(&[]).await.unwrap();
    let o = store
        .session_by_hash(&other.hash())
        .await
        .unwrap()
        .unwrap()
        .session;
    assert_eq!(o.times.last_active_at, Timestamp(1700), "batched");
    assert_eq!(o.last_ip, "198.51.100.9");
    let s = store
        .session_by_hash(&token.hash())
        .await
        .unwrap()
        .unwrap()
        .session;
    assert_eq!(s.times.last_active_at, Timestamp(1500));
    assert_eq!(s.last_ip, "198.51.100.8");
    assert_eq!(s.ip, "192.0.2.1", "the sign-in address is kept");
}

/// A batch larger than one statement's rows, with one session listed twice (S2): every session
/// gets its latest activity, and the repeat keeps the later time whatever its position.
async fn touch_batches_of_any_size_with_repeats(store: Arc<dyn Store>, _: String) {
    let id = user(&*store, "a@example.com").await;
    let mut tokens = Vec::new();
    for _ in 0..250 {
        let (token, rec) = session(&id, 1000, 5000);
        store.insert_session(&rec).await.unwrap();
        tokens.push(token);
    }
    let mut batch: Vec<SessionTouch> = tokens
        .iter()
        .enumerate()
        .map(|(n, t)| SessionTouch {
            id_hash: t.hash(),
            last_active_at: Timestamp(2000 + n as i64),
            ip: format!("198.51.100.{}", n % 250),
        })
        .collect();
    // The first session again, later in the batch but with an older time; the second session
    // again with a newer time and a new address.
    batch.push(SessionTouch {
        id_hash: tokens[0].hash(),
        last_active_at: Timestamp(1500),
        ip: "203.0.113.1".into(),
    });
    batch.push(SessionTouch {
        id_hash: tokens[1].hash(),
        last_active_at: Timestamp(4000),
        ip: "203.0.113.2".into(),
    });
    store.touch_sessions(&batch).await.unwrap();
    for (n, t) in tokens.iter().enumerate() {
        let s = store
            .session_by_hash(&t.hash())
            .await
            .unwrap()
            .unwrap()
            .session;
        let (at, ip) = match n {
            0 => (2000, "198.51.100.0".to_string()),
            1 => (4000, "203.0.113.2".to_string()),
            n => (2000 + n as i64, format!("198.51.100.{}", n % 250)),
        };
        assert_eq!(s.times.last_active_at, Timestamp(at), "session {n}");
        assert_eq!(s.last_ip, ip, "session {n}");
    }
}

async fn revocation_deletes_and_feeds(store: Arc<dyn Store>, _: String) {
    let id = user(&*store, "a@example.com").await;
    let (token, rec) = session(&id, 1000, 5000);
    store.insert_session(&rec).await.unwrap();
    let before = store.last_revocation_seq().await.unwrap();
    assert!(!store.is_revoked(&token.hash()).await.unwrap());
    assert!(
        store
            .revoke_session(&token.hash(), Timestamp(1100))
            .await
            .unwrap()
    );
    assert!(store.is_revoked(&token.hash()).await.unwrap());
    assert!(
        !store
            .revoke_session(&token.hash(), Timestamp(1101))
            .await
            .unwrap(),
        "idempotent"
    );
    assert!(
        store
            .session_by_hash(&token.hash())
            .await
            .unwrap()
            .is_none()
    );
    let feed = store.revocations_after(before, 10).await.unwrap();
    assert_eq!(feed.len(), 2);
    assert_eq!(feed[0].id_hash, Some(token.hash()));
    assert!(feed[0].seq < feed[1].seq);
    assert_eq!(store.prune_revocations(Timestamp(1101)).await.unwrap(), 1);
}

async fn revoke_user_sessions_can_keep_one(store: Arc<dyn Store>, _: String) {
    let a = user(&*store, "a@example.com").await;
    let b = user(&*store, "b@example.com").await;
    let (t1, s1) = session(&a, 1000, 5000);
    let (t2, s2) = session(&a, 1000, 5000);
    let (t3, s3) = session(&b, 1000, 5000);
    for s in [&s1, &s2, &s3] {
        store.insert_session(s).await.unwrap();
    }
    assert_eq!(
        store
            .revoke_user_sessions(&a, Some(&t1.hash()), Timestamp(1200))
            .await
            .unwrap(),
        1
    );
    assert!(store.session_by_hash(&t1.hash()).await.unwrap().is_some());
    assert!(store.session_by_hash(&t2.hash()).await.unwrap().is_none());
    assert!(
        store.session_by_hash(&t3.hash()).await.unwrap().is_some(),
        "other users untouched"
    );
    assert!(
        store.is_revoked(&t2.hash()).await.unwrap(),
        "each ended session is known as revoked"
    );
    assert!(!store.is_revoked(&t1.hash()).await.unwrap());
    assert_eq!(
        store
            .revoke_user_sessions(&a, None, Timestamp(1300))
            .await
            .unwrap(),
        1
    );
    assert!(store.is_revoked(&t1.hash()).await.unwrap());
    let feed = store.revocations_after(0, 10).await.unwrap();
    let user_wide: Vec<_> = feed.iter().filter(|r| r.id_hash.is_none()).collect();
    assert_eq!(user_wide.len(), 2);
    assert!(
        user_wide
            .iter()
            .all(|r| r.user_id.as_deref() == Some(a.as_str()))
    );
    assert_eq!(feed.iter().filter(|r| r.id_hash.is_some()).count(), 2);
}

async fn cleanup_deletes_only_expired_sessions(store: Arc<dyn Store>, _: String) {
    let id = user(&*store, "a@example.com").await;
    let (live, s_live) = session(&id, 1000, 9000);
    let (_, s_abs) = session(&id, 1000, 2000);
    let (_, mut s_idle) = session(&id, 1000, 9000);
    s_idle.times.last_active_at = Timestamp(100);
    for s in [&s_live, &s_abs, &s_idle] {
        store.insert_session(s).await.unwrap();
    }
    // now = 2000 (s_abs expired), idle cutoff = 500 (s_idle idle since 100).
    let mut deleted = 0;
    loop {
        let n = store
            .delete_expired_sessions(Timestamp(2000), Timestamp(500), 1)
            .await
            .unwrap();
        if n == 0 {
            break;
        }
        deleted += n;
    }
    assert_eq!(deleted, 2);
    let left = store.sessions_of_user(&id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id_hash, live.hash());
}

async fn throttle_counts_and_blocks(store: Arc<dyn Store>, _: String) {
    let key = "acct:a@example.com";
    assert_eq!(store.throttle_blocked_until(key).await.unwrap(), None);
    for n in 1..=3u32 {
        assert_eq!(
            store
                .throttle_failure(key, Timestamp(100 + i64::from(n)), Timestamp(0))
                .await
                .unwrap(),
            n
        );
    }
    store.throttle_block(key, Timestamp(500)).await.unwrap();
    store.throttle_block(key, Timestamp(400)).await.unwrap();
    assert_eq!(
        store.throttle_blocked_until(key).await.unwrap(),
        Some(Timestamp(500)),
        "never shortened"
    );
    // A failure after the window restarts the count and the block.
    assert_eq!(
        store
            .throttle_failure(key, Timestamp(10_000), Timestamp(9_000))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.throttle_blocked_until(key).await.unwrap(),
        Some(Timestamp(0))
    );
    store.throttle_clear(key).await.unwrap();
    assert_eq!(store.throttle_blocked_until(key).await.unwrap(), None);
    // Concurrent failures are all counted (atomic increment).
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.throttle_failure("ip:192.0.2.1", Timestamp(50), Timestamp(0))
                .await
        }));
    }
    let mut counts: Vec<u32> = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap().unwrap());
    }
    counts.sort();
    assert_eq!(counts, (1..=10).collect::<Vec<_>>());
    assert_eq!(store.prune_throttle(Timestamp(60)).await.unwrap(), 1);
}

async fn events_are_recorded_per_user(store: Arc<dyn Store>, _: String) {
    let id = user(&*store, "a@example.com").await;
    for (i, kind) in ["sign_in_failed", "sign_in_succeeded"].iter().enumerate() {
        store
            .record_event(&tsuzuki_store::EventRecord {
                created_at: Timestamp(100 + i64::try_from(i).unwrap()),
                kind: (*kind).into(),
                user_id: Some(id.clone()),
                session_handle: None,
                ip: Some("192.0.2.1".into()),
                user_agent: Some("ua".into()),
                detail: String::new(),
            })
            .await
            .unwrap();
    }
    let events = store.events_of_user(&id, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["sign_in_succeeded", "sign_in_failed"]
    );
}

async fn migrations_are_idempotent_and_refuse_newer_schema(store: Arc<dyn Store>, url: String) {
    user(&*store, "a@example.com").await;
    // Connecting again applies nothing and keeps the data.
    let again = tsuzuki_store::connect(&url, 1)
        .await
        .expect("second connect");
    assert_eq!(again.list_users().await.unwrap().len(), 1);
    drop(again);
    // Pretend a newer release migrated this database.
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'from the future', TRUE, $1, 0)",
    )
    .bind(vec![0u8; 48])
    .execute(&mut conn)
    .await
    .unwrap();
    let err = tsuzuki_store::connect(&url, 1)
        .await
        .err()
        .expect("must refuse");
    let msg = err.to_string();
    assert!(
        msg.contains("version 999") && msg.contains("newer"),
        "{msg}"
    );
}

fn family(user_id: &str, now: i64, expires: i64) -> (RememberCookie, RememberRecord) {
    let cookie = RememberCookie::generate();
    let rec = RememberRecord {
        selector: cookie.selector.clone(),
        handle: public_id("rem"),
        user_id: user_id.into(),
        state: FamilyState {
            validator_hash: cookie.validator.hash(),
            previous_hash: None,
            rotated_at: None,
            expires_at: Timestamp(expires),
            last_used_at: Timestamp(now),
        },
        sealed_successor: None,
        sealed_session: None,
        auth_time: Timestamp(now),
        methods: "pwd".into(),
        created_at: Timestamp(now),
        ip: "192.0.2.1".into(),
        last_ip: "192.0.2.1".into(),
        user_agent: "test-agent".into(),
    };
    (cookie, rec)
}

fn rotation(f: &RememberRecord, from: &SecretToken, to: &SecretToken, now: i64) -> Rotation {
    Rotation {
        selector: f.selector.clone(),
        expected: from.hash(),
        new_hash: to.hash(),
        sealed_successor: Sealed([1; 32]),
        sealed_session: Sealed([2; 32]),
        now: Timestamp(now),
        ip: "198.51.100.1".into(),
    }
}

async fn remember_rotation_is_compare_and_set(store: Arc<dyn Store>, _: String) {
    let uid = user(&*store, "a@example.com").await;
    let (cookie, rec) = family(&uid, 1000, 9000);
    store.insert_remember(&rec).await.unwrap();
    assert_eq!(
        store
            .remember_by_selector(&rec.selector)
            .await
            .unwrap()
            .unwrap(),
        rec
    );
    assert!(store.remember_by_selector("nope").await.unwrap().is_none());
    let next = cookie.rotated();
    let (s_token, mut s) = session(&uid, 1100, 5000);
    s.remember_handle = Some(rec.handle.clone());
    s.remembered = true;
    assert!(
        store
            .rotate_remember(
                &rotation(&rec, &cookie.validator, &next.validator, 1100),
                &s
            )
            .await
            .unwrap()
    );
    let after = store
        .remember_by_selector(&rec.selector)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.state.validator_hash, next.validator.hash());
    assert_eq!(after.state.previous_hash, Some(cookie.validator.hash()));
    assert_eq!(after.state.rotated_at, Some(Timestamp(1100)));
    assert_eq!(after.state.last_used_at, Timestamp(1100));
    assert_eq!(
        after.state.expires_at,
        Timestamp(9000),
        "rotation never extends the family (SEC-29)"
    );
    assert_eq!(after.sealed_successor, Some(Sealed([1; 32])));
    assert_eq!(after.last_ip, "198.51.100.1");
    let restored = store
        .session_by_hash(&s_token.hash())
        .await
        .unwrap()
        .unwrap()
        .session;
    assert_eq!(
        restored.remember_handle.as_deref(),
        Some(rec.handle.as_str())
    );
    assert!(restored.remembered);
    // A stale expectation writes nothing: neither the family nor the session.
    let (s2_token, s2) = session(&uid, 1200, 5000);
    let stale = rotation(&rec, &cookie.validator, &SecretToken::generate(), 1200);
    assert!(!store.rotate_remember(&stale, &s2).await.unwrap());
    assert!(
        store
            .session_by_hash(&s2_token.hash())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .remember_by_selector(&rec.selector)
            .await
            .unwrap()
            .unwrap(),
        after
    );
    // No validator in the clear anywhere in the row (R3).
    let row = format!("{after:?}");
    assert!(!row.contains(&next.validator.encode()) && !row.contains(&cookie.validator.encode()));
}

async fn concurrent_rotations_have_one_winner(store: Arc<dyn Store>, _: String) {
    // SEC-35: the compare-and-set is atomic in the database, not in a process.
    let uid = user(&*store, "a@example.com").await;
    let (cookie, rec) = family(&uid, 1000, 9000);
    store.insert_remember(&rec).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (store, rec, from) = (store.clone(), rec.clone(), cookie.validator.clone());
        tasks.push(tokio::spawn(async move {
            let (_, s) = session(&rec.user_id, 1100, 5000);
            store
                .rotate_remember(&rotation(&rec, &from, &SecretToken::generate(), 1100), &s)
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(
        store.sessions_of_user(&uid).await.unwrap().len(),
        1,
        "only the winner started a session"
    );
}

async fn revoking_a_family_ends_its_sessions(store: Arc<dyn Store>, _: String) {
    let uid = user(&*store, "a@example.com").await;
    let (cookie, rec) = family(&uid, 1000, 9000);
    store.insert_remember(&rec).await.unwrap();
    let (restored_token, mut restored) = session(&uid, 1100, 5000);
    restored.remember_handle = Some(rec.handle.clone());
    assert!(
        store
            .rotate_remember(
                &rotation(&rec, &cookie.validator, &SecretToken::generate(), 1100),
                &restored
            )
            .await
            .unwrap()
    );
    let (other_token, other) = session(&uid, 1100, 5000);
    store.insert_session(&other).await.unwrap();
    assert!(
        store
            .revoke_remember(&rec.handle, Timestamp(1200))
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_remember(&rec.handle, Timestamp(1201))
            .await
            .unwrap(),
        "idempotent"
    );
    assert!(
        store
            .remember_by_selector(&rec.selector)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .session_by_hash(&restored_token.hash())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.is_revoked(&restored_token.hash()).await.unwrap());
    assert!(
        store
            .session_by_hash(&other_token.hash())
            .await
            .unwrap()
            .is_some(),
        "other sessions stay"
    );
}

async fn family_cleanup_and_bulk_revocation(store: Arc<dyn Store>, _: String) {
    let a = user(&*store, "a@example.com").await;
    let b = user(&*store, "b@example.com").await;
    let (_, live) = family(&a, 1000, 9000);
    let (_, expired) = family(&a, 1000, 2000);
    let (_, mut unused) = family(&a, 1000, 9000);
    unused.state.last_used_at = Timestamp(100);
    let (_, other_user) = family(&b, 1000, 9000);
    for f in [&live, &expired, &unused, &other_user] {
        store.insert_remember(f).await.unwrap();
    }
    let mut deleted = 0;
    loop {
        let n = store
            .delete_expired_remember(Timestamp(2000), Timestamp(500), 1)
            .await
            .unwrap();
        if n == 0 {
            break;
        }
        deleted += n;
    }
    assert_eq!(
        deleted, 2,
        "only the expired and the long-unused family (R9)"
    );
    let left: Vec<String> = store
        .remember_of_user(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.handle)
        .collect();
    assert_eq!(left, vec![live.handle.clone()]);
    let (_, second) = family(&a, 1000, 9000);
    store.insert_remember(&second).await.unwrap();
    assert_eq!(
        store
            .revoke_user_remember(&a, Some(&second.handle))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.remember_of_user(&a).await.unwrap().len(), 1);
    assert_eq!(
        store.remember_of_user(&b).await.unwrap().len(),
        1,
        "other users untouched"
    );
    let (_, s) = session(&b, 1000, 5000);
    store.insert_session(&s).await.unwrap();
    assert_eq!(
        store.revoke_everything(Timestamp(3000)).await.unwrap(),
        (1, 2)
    );
    let last = store
        .revocations_after(0, 100)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(
        last.id_hash.is_none() && last.user_id.is_none(),
        "an everything entry in the feed"
    );
}

async fn users_come_in_email_pages(store: Arc<dyn Store>, _: String) {
    for email in ["c@example.com", "a@example.com", "b@example.com"] {
        user(&*store, email).await;
    }
    let emails = |users: Vec<tsuzuki_store::User>| -> Vec<String> {
        users.into_iter().map(|u| u.email).collect()
    };
    let first = store.users_page(None, 2).await.unwrap();
    assert_eq!(emails(first), ["a@example.com", "b@example.com"]);
    let rest = store.users_page(Some("b@example.com"), 2).await.unwrap();
    assert_eq!(emails(rest), ["c@example.com"]);
    assert!(
        store
            .users_page(Some("c@example.com"), 2)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn events_page_filters_and_pages_newest_first(store: Arc<dyn Store>, _: String) {
    let a = user(&*store, "a@example.com").await;
    let b = user(&*store, "b@example.com").await;
    let rows = [
        (&a, "sign_in_failed"),
        (&b, "sign_in_failed"),
        (&a, "sign_in_succeeded"),
        (&a, "sign_in_failed"),
    ];
    for (i, (uid, kind)) in rows.iter().enumerate() {
        store
            .record_event(&tsuzuki_store::EventRecord {
                created_at: Timestamp(100 + i64::try_from(i).unwrap()),
                kind: (*kind).into(),
                user_id: Some((*uid).clone()),
                session_handle: None,
                ip: None,
                user_agent: None,
                detail: format!("row {i}"),
            })
            .await
            .unwrap();
    }
    let page = |user_id: Option<&String>, kind: Option<&str>, before: Option<i64>, limit| {
        let store = store.clone();
        let filter = tsuzuki_store::EventFilter {
            user_id: user_id.cloned(),
            kind: kind.map(str::to_string),
            before,
            limit,
        };
        async move { store.events_page(&filter).await.unwrap() }
    };
    let details = |events: &[tsuzuki_store::StoredEvent]| -> Vec<String> {
        events.iter().map(|e| e.event.detail.clone()).collect()
    };
    let all = page(None, None, None, 10).await;
    assert_eq!(details(&all), ["row 3", "row 2", "row 1", "row 0"]);
    let of_a = page(Some(&a), None, None, 10).await;
    assert_eq!(details(&of_a), ["row 3", "row 2", "row 0"]);
    let failures_of_a = page(Some(&a), Some("sign_in_failed"), None, 10).await;
    assert_eq!(details(&failures_of_a), ["row 3", "row 0"]);
    let failures = page(None, Some("sign_in_failed"), None, 10).await;
    assert_eq!(details(&failures), ["row 3", "row 1", "row 0"]);
    // Pages: the last id of one page is the cursor of the next.
    let first = page(None, None, None, 3).await;
    assert_eq!(details(&first), ["row 3", "row 2", "row 1"]);
    let next = page(None, None, Some(first[2].id), 3).await;
    assert_eq!(details(&next), ["row 0"]);
}
