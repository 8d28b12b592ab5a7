//! The contract of the drafts table (issue #5, S5), on every backend.

use super::{Kind, user, with_store};
use std::sync::Arc;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_store::{DraftRecord, Store};

contract!(
    drafts_are_per_account_and_replaced_in_place,
    expired_drafts_are_deleted
);

fn draft(user_id: &str, key: &str, content: &str, at: i64, expires: i64) -> DraftRecord {
    DraftRecord {
        user_id: user_id.into(),
        form_key: key.into(),
        content: content.into(),
        page: "/inquiry".into(),
        created_at: Timestamp(at),
        updated_at: Timestamp(at),
        expires_at: Timestamp(expires),
    }
}

async fn drafts_are_per_account_and_replaced_in_place(store: Arc<dyn Store>, _: String) {
    let a = user(&*store, "a@example.com").await;
    let b = user(&*store, "b@example.com").await;
    store
        .put_draft(&draft(&a, "inquiry", r#"{"body":"一"}"#, 100, 1000))
        .await
        .unwrap();
    store
        .put_draft(&draft(&b, "inquiry", r#"{"body":"b"}"#, 100, 1000))
        .await
        .unwrap();
    store
        .put_draft(&draft(&a, "inquiry", r#"{"body":"一二"}"#, 200, 1100))
        .await
        .unwrap();
    store
        .put_draft(&draft(&a, "other", "{}", 150, 1000))
        .await
        .unwrap();
    let d = store.draft(&a, "inquiry").await.unwrap().unwrap();
    assert_eq!(d.content, r#"{"body":"一二"}"#, "replaced");
    assert_eq!(d.created_at, Timestamp(100), "created_at kept on replace");
    assert_eq!(d.updated_at, Timestamp(200));
    assert_eq!(d.expires_at, Timestamp(1100));
    let listed: Vec<String> = store
        .drafts_of_user(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.form_key)
        .collect();
    assert_eq!(listed, ["inquiry", "other"], "newest first, only a's");
    assert_eq!(
        store.draft(&b, "inquiry").await.unwrap().unwrap().content,
        r#"{"body":"b"}"#
    );
    assert!(store.delete_draft(&a, "inquiry").await.unwrap());
    assert!(
        !store.delete_draft(&a, "inquiry").await.unwrap(),
        "idempotent"
    );
    assert!(store.draft(&a, "inquiry").await.unwrap().is_none());
    assert!(
        store.draft(&b, "inquiry").await.unwrap().is_some(),
        "b's untouched"
    );
}

async fn expired_drafts_are_deleted(store: Arc<dyn Store>, _: String) {
    let a = user(&*store, "a@example.com").await;
    store
        .put_draft(&draft(&a, "old", "{}", 100, 500))
        .await
        .unwrap();
    store
        .put_draft(&draft(&a, "young", "{}", 100, 5000))
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_expired_drafts(Timestamp(500), 10)
            .await
            .unwrap(),
        1
    );
    assert!(store.draft(&a, "old").await.unwrap().is_none());
    assert!(store.draft(&a, "young").await.unwrap().is_some());
}
