//! The contract of the sign-in flow tables (issue #4): flows, factors, recovery codes, trusted
//! devices and the login history, on every backend.

use super::{Kind, user, with_store};
use std::sync::Arc;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::flow::{FlowKind, FlowPolicy, FlowState, Method, Step};
use tsuzuki_core::token::{SecretToken, TokenHash, public_id};
use tsuzuki_store::{
    EventRecord, FactorRecord, FlowRecord, PendingCode, SignInRecord, Store, TrustedDeviceRecord,
};

contract!(
    flows_round_trip_and_update_by_version,
    expired_flows_are_deleted_after_their_hard_limit,
    totp_steps_only_move_forward,
    factors_belong_to_their_user,
    recovery_codes_are_single_use,
    trusted_devices_are_listed_and_revoked,
    history_knows_browsers_and_networks,
    events_are_counted_per_account_and_kind,
);

fn flow(user_id: &str, now: i64) -> FlowRecord {
    FlowRecord {
        id_hash: SecretToken::generate().hash(),
        binding_hash: SecretToken::generate().hash(),
        state: FlowState::begin(
            FlowKind::SignIn,
            Step::SecondFactor,
            vec![Method::Totp, Method::Email, Method::RecoveryCode],
            &FlowPolicy::default(),
            Timestamp(now),
        ),
        user_id: Some(user_id.into()),
        identifier: "a@example.com".into(),
        session_hash: None,
        remember: true,
        return_to: "/account?tab=1".into(),
        payload: String::new(),
        code: None,
        codes_sent: 0,
        ip: "192.0.2.1".into(),
        user_agent: "agent".into(),
        version: 0,
    }
}

async fn flows_round_trip_and_update_by_version(store: Arc<dyn Store>, _: String) {
    let uid = user(&*store, "a@example.com").await;
    let f = flow(&uid, 1000);
    store.insert_flow(&f).await.unwrap();
    let read = store.flow_by_id(&f.id_hash).await.unwrap().unwrap();
    assert_eq!(read, f, "round trip");
    assert!(
        store
            .flow_by_id(&TokenHash([7; 32]))
            .await
            .unwrap()
            .is_none()
    );

    let mut next = read.clone();
    next.state.chosen = Some(Method::Email);
    next.state.failures = 2;
    next.code = Some(PendingCode {
        hash: TokenHash([3; 32]),
        method: Method::Email,
        sent_at: Timestamp(1010),
        expires_at: Timestamp(1610),
        attempts: 1,
    });
    next.codes_sent = 1;
    assert!(store.update_flow(&next).await.unwrap());
    // A second writer that read the same version loses: one step, one winner.
    let mut stale = read.clone();
    stale.state.step = Step::Done;
    assert!(!store.update_flow(&stale).await.unwrap(), "stale version");
    let now = store.flow_by_id(&f.id_hash).await.unwrap().unwrap();
    assert_eq!(now.version, 1);
    assert_eq!(now.state.step, Step::SecondFactor);
    assert_eq!(now.state.chosen, Some(Method::Email));
    assert_eq!(now.code, next.code);
    assert_eq!(now.codes_sent, 1);
    assert_eq!(now.state.failures, 2);
}

async fn expired_flows_are_deleted_after_their_hard_limit(store: Arc<dyn Store>, _: String) {
    let uid = user(&*store, "a@example.com").await;
    let old = flow(&uid, 0);
    let young = flow(&uid, 10_000);
    store.insert_flow(&old).await.unwrap();
    store.insert_flow(&young).await.unwrap();
    let cutoff = old
        .state
        .hard_expires_at
        .plus(std::time::Duration::from_secs(1));
    assert_eq!(store.delete_expired_flows(cutoff, 100).await.unwrap(), 1);
    assert!(store.flow_by_id(&old.id_hash).await.unwrap().is_none());
    assert!(store.flow_by_id(&young.id_hash).await.unwrap().is_some());
}

fn totp_factor(user_id: &str) -> FactorRecord {
    FactorRecord {
        id: public_id("fac"),
        user_id: user_id.into(),
        method: Method::Totp,
        name: "Phone".into(),
        secret_sealed: Some(vec![1, 2, 3, 4]),
        target: None,
        last_step: None,
        confirmed_at: None,
        created_at: Timestamp(100),
        last_used_at: None,
    }
}

async fn totp_steps_only_move_forward(store: Arc<dyn Store>, _: String) {
    // SEC-48, SEC-49: the confirming code's step is recorded; each later step passes once.
    let uid = user(&*store, "a@example.com").await;
    let f = totp_factor(&uid);
    store.insert_factor(&f).await.unwrap();
    assert!(
        store
            .confirm_factor(&f.id, Some(50), Timestamp(200))
            .await
            .unwrap()
    );
    assert!(
        !store
            .confirm_factor(&f.id, Some(51), Timestamp(201))
            .await
            .unwrap(),
        "confirmed once"
    );
    assert!(
        !store
            .advance_totp_step(&f.id, 50, Timestamp(210))
            .await
            .unwrap(),
        "enrolment code"
    );
    assert!(
        store
            .advance_totp_step(&f.id, 51, Timestamp(220))
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_totp_step(&f.id, 51, Timestamp(221))
            .await
            .unwrap(),
        "replay"
    );
    assert!(
        !store
            .advance_totp_step(&f.id, 49, Timestamp(222))
            .await
            .unwrap(),
        "older"
    );
    let read = store.factor_by_id(&f.id).await.unwrap().unwrap();
    assert_eq!(read.last_step, Some(51));
    assert_eq!(read.confirmed_at, Some(Timestamp(200)));
    assert_eq!(read.last_used_at, Some(Timestamp(220)));
    assert_eq!(read.secret_sealed, Some(vec![1, 2, 3, 4]));
}

async fn factors_belong_to_their_user(store: Arc<dyn Store>, _: String) {
    let a = user(&*store, "a@example.com").await;
    let b = user(&*store, "b@example.com").await;
    let fa = totp_factor(&a);
    let mut fb = totp_factor(&b);
    fb.method = Method::Sms;
    fb.secret_sealed = None;
    fb.target = Some("+81 90 0000 0000".into());
    store.insert_factor(&fa).await.unwrap();
    store.insert_factor(&fb).await.unwrap();
    assert!(!store.delete_factor(&a, &fb.id).await.unwrap(), "not a's");
    assert_eq!(store.factors_of_user(&b).await.unwrap(), vec![fb.clone()]);
    assert!(store.delete_factor(&b, &fb.id).await.unwrap());
    assert!(store.factors_of_user(&b).await.unwrap().is_empty());
    assert_eq!(store.factors_of_user(&a).await.unwrap().len(), 1);
}

async fn recovery_codes_are_single_use(store: Arc<dyn Store>, _: String) {
    // SEC-50.
    let a = user(&*store, "a@example.com").await;
    let b = user(&*store, "b@example.com").await;
    let codes: Vec<TokenHash> = (0..10u8).map(|i| TokenHash([i; 32])).collect();
    store
        .replace_recovery_codes(&a, &codes, Timestamp(1))
        .await
        .unwrap();
    assert_eq!(store.recovery_codes_left(&a).await.unwrap(), 10);
    assert!(
        !store
            .use_recovery_code(&b, &codes[0], Timestamp(2))
            .await
            .unwrap(),
        "another user"
    );
    assert!(
        store
            .use_recovery_code(&a, &codes[0], Timestamp(2))
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code(&a, &codes[0], Timestamp(3))
            .await
            .unwrap(),
        "reuse"
    );
    assert_eq!(store.recovery_codes_left(&a).await.unwrap(), 9);
    let fresh: Vec<TokenHash> = (20..30u8).map(|i| TokenHash([i; 32])).collect();
    store
        .replace_recovery_codes(&a, &fresh, Timestamp(4))
        .await
        .unwrap();
    assert!(
        !store
            .use_recovery_code(&a, &codes[1], Timestamp(5))
            .await
            .unwrap(),
        "old set gone"
    );
    assert_eq!(store.recovery_codes_left(&a).await.unwrap(), 10);
}

fn trusted(user_id: &str, expires: i64) -> TrustedDeviceRecord {
    TrustedDeviceRecord {
        token_hash: SecretToken::generate().hash(),
        handle: public_id("trd"),
        user_id: user_id.into(),
        created_at: Timestamp(100),
        last_used_at: Timestamp(100),
        expires_at: Timestamp(expires),
        ip: "192.0.2.1".into(),
        user_agent: "agent".into(),
    }
}

async fn trusted_devices_are_listed_and_revoked(store: Arc<dyn Store>, _: String) {
    let a = user(&*store, "a@example.com").await;
    let (one, two, old) = (trusted(&a, 5000), trusted(&a, 5000), trusted(&a, 150));
    for d in [&one, &two, &old] {
        store.insert_trusted_device(d).await.unwrap();
    }
    assert_eq!(
        store.trusted_device_by_hash(&one.token_hash).await.unwrap(),
        Some(one.clone())
    );
    store
        .touch_trusted_device(&one.token_hash, Timestamp(300))
        .await
        .unwrap();
    let read = store
        .trusted_device_by_hash(&one.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.last_used_at, Timestamp(300));
    assert_eq!(
        store
            .delete_expired_trusted_devices(Timestamp(200), 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.trusted_devices_of_user(&a).await.unwrap().len(), 2);
    assert!(store.revoke_trusted_device(&a, &two.handle).await.unwrap());
    assert!(!store.revoke_trusted_device(&a, &two.handle).await.unwrap());
    store.insert_trusted_device(&two).await.ok();
    assert_eq!(
        store
            .revoke_user_trusted_devices(&a, Some(&one.handle))
            .await
            .unwrap(),
        1,
        "all but the kept one"
    );
    assert_eq!(
        store.revoke_user_trusted_devices(&a, None).await.unwrap(),
        1
    );
    assert!(store.trusted_devices_of_user(&a).await.unwrap().is_empty());
}

fn sign_in(user_id: &str, at: i64, outcome: &str, browser: Option<TokenHash>) -> SignInRecord {
    SignInRecord {
        user_id: user_id.into(),
        created_at: Timestamp(at),
        methods: "pwd+totp".into(),
        outcome: outcome.into(),
        ip: "192.0.2.7".into(),
        network: "192.0.2.0/24".into(),
        user_agent: "Firefox".into(),
        browser_hash: browser,
        new_device: false,
        suspicious: false,
    }
}

async fn history_knows_browsers_and_networks(store: Arc<dyn Store>, _: String) {
    // S10: what "a device and network never seen" is computed from.
    let a = user(&*store, "a@example.com").await;
    let browser = TokenHash([9; 32]);
    let none = store
        .familiarity(&a, Some(&browser), "192.0.2.0/24")
        .await
        .unwrap();
    assert_eq!(none, Default::default());
    store
        .record_sign_in(&sign_in(&a, 10, "wrong_password", Some(browser)))
        .await
        .unwrap();
    let failed_only = store
        .familiarity(&a, Some(&browser), "192.0.2.0/24")
        .await
        .unwrap();
    assert!(
        !failed_only.browser_seen && !failed_only.any_success,
        "failures do not count"
    );
    store
        .record_sign_in(&sign_in(&a, 20, "success", Some(browser)))
        .await
        .unwrap();
    let seen = store
        .familiarity(&a, Some(&browser), "192.0.2.0/24")
        .await
        .unwrap();
    assert!(seen.browser_seen && seen.network_seen && seen.any_success);
    let elsewhere = store
        .familiarity(&a, Some(&TokenHash([1; 32])), "198.51.100.0/24")
        .await
        .unwrap();
    assert!(!elsewhere.browser_seen && !elsewhere.network_seen && elsewhere.any_success);
    let no_cookie = store.familiarity(&a, None, "192.0.2.0/24").await.unwrap();
    assert!(!no_cookie.browser_seen && no_cookie.network_seen);

    assert_eq!(store.failures_since(&a, Timestamp(0)).await.unwrap(), 1);
    assert_eq!(store.failures_since(&a, Timestamp(10)).await.unwrap(), 0);
    let list = store.sign_ins_of_user(&a, 10).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].outcome, "success", "newest first");
    assert_eq!(store.prune_sign_ins(Timestamp(15), 100).await.unwrap(), 1);
    assert_eq!(store.sign_ins_of_user(&a, 10).await.unwrap().len(), 1);
}

async fn events_are_counted_per_account_and_kind(store: Arc<dyn Store>, _: String) {
    // S8: the daily cap counts the account's code_sent events.
    let a = user(&*store, "a@example.com").await;
    let b = user(&*store, "b@example.com").await;
    let events = [
        (&a, 100, "code_sent"),
        (&a, 200, "code_sent"),
        (&b, 150, "code_sent"),
        (&a, 250, "sign_in_failed"),
        (&a, 300, "code_sent"),
    ];
    for (uid, at, kind) in events {
        store
            .record_event(&EventRecord {
                created_at: Timestamp(at),
                kind: kind.into(),
                user_id: Some(uid.clone()),
                session_handle: None,
                ip: None,
                user_agent: None,
                detail: "email".into(),
            })
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .count_events_since(&a, "code_sent", Timestamp(100))
            .await
            .unwrap(),
        (2, Some(Timestamp(200)))
    );
    assert_eq!(
        store
            .count_events_since(&b, "code_sent", Timestamp(500))
            .await
            .unwrap(),
        (0, None)
    );
}
