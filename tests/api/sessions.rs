//! Refresh-token rotation, reuse detection, logout and login throttling.
use serde_json::json;

use crate::support::*;

const REFRESH: &str = "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { accessToken refreshToken user { id } userErrors { code field message } } }";

async fn refresh(s: &TestServer, token: &str) -> serde_json::Value {
    s.data(None, REFRESH, json!({ "t": token })).await["refreshToken"].clone()
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let s = TestServer::start().await;
    let a = register(&s, "13800000021", "Secret123").await;

    let first = refresh(&s, &a.refresh).await;
    let rotated = account(&first);
    assert_eq!(rotated.id, a.id);
    assert_ne!(rotated.refresh, a.refresh);
    let me = s
        .data(Some(&rotated.token), "{ me { id } }", json!({}))
        .await;
    assert_eq!(me["me"]["id"], a.id.as_str());

    // The old token is spent: presenting it again is theft, and ends the whole session.
    let reuse = refresh(&s, &a.refresh).await;
    assert_eq!(user_error_codes(&reuse), vec!["REFRESH_TOKEN_REUSED"]);
    assert_eq!(reuse["accessToken"], serde_json::Value::Null);
    let after = refresh(&s, &rotated.refresh).await;
    assert_eq!(user_error_codes(&after), vec!["INVALID_REFRESH_TOKEN"]);

    // Other sessions of the same user are untouched.
    let other = account(&login(&s, "13800000021", "Secret123").await["data"]["login"]);
    account(&refresh(&s, &other.refresh).await);

    assert_eq!(
        user_error_codes(&refresh(&s, "not-a-token").await),
        vec!["INVALID_REFRESH_TOKEN"]
    );
}

#[tokio::test]
async fn concurrent_use_of_one_refresh_token_succeeds_once() {
    let s = TestServer::start().await;
    let a = register(&s, "13800000022", "Secret123").await;
    let results = futures::future::join_all((0..5).map(|_| refresh(&s, &a.refresh))).await;
    let ok = results
        .iter()
        .filter(|r| r["userErrors"] == json!([]))
        .count();
    assert_eq!(ok, 1, "{results:#?}");
}

#[tokio::test]
async fn logout_ends_the_session_or_all_of_them() {
    let s = TestServer::start().await;
    let a = register(&s, "13800000023", "Secret123").await;
    let b = account(&login(&s, "13800000023", "Secret123").await["data"]["login"]);
    let d = s
        .data(
            None,
            "mutation($t: String) { logout(input: { refreshToken: $t }) { ok } }",
            json!({ "t": a.refresh }),
        )
        .await;
    assert_eq!(d["logout"]["ok"], true);
    assert_eq!(
        user_error_codes(&refresh(&s, &a.refresh).await),
        vec!["INVALID_REFRESH_TOKEN"]
    );
    account(&refresh(&s, &b.refresh).await);

    let c = account(&login(&s, "13800000023", "Secret123").await["data"]["login"]);
    let resp = s
        .gql(
            None,
            "mutation { logout(input: { everywhere: true }) { ok } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&resp), "UNAUTHENTICATED");
    s.data(
        Some(&c.token),
        "mutation { logout(input: { everywhere: true }) { ok } }",
        json!({}),
    )
    .await;
    assert_eq!(
        user_error_codes(&refresh(&s, &c.refresh).await),
        vec!["INVALID_REFRESH_TOKEN"]
    );
}

#[tokio::test]
async fn repeated_failures_for_one_phone_are_throttled() {
    let s = TestServer::start_with(|c| c.login_max_failures_per_phone = 3).await;
    register(&s, "13800000024", "Secret123").await;
    for _ in 0..3 {
        let r = login(&s, "13800000024", "Wrong1234").await;
        assert_eq!(
            user_error_codes(&r["data"]["login"]),
            vec!["INVALID_CREDENTIALS"]
        );
    }
    // Locked now, even with the right password.
    let r = login(&s, "13800000024", "Secret123").await;
    assert_eq!(error_code(&r), "RATE_LIMITED");
    assert!(
        r["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap()
            > 0
    );
    // Other phones from the same address still sign in.
    register(&s, "13800000025", "Secret123").await;
    account(&login(&s, "13800000025", "Secret123").await["data"]["login"]);
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_throttled() {
    let s = TestServer::start_with(|c| c.login_max_failures_per_ip = 4).await;
    register(&s, "13800000026", "Secret123").await;
    for i in 0..4 {
        let r = login(&s, &format!("1380000010{i}"), "Wrong1234").await;
        assert_eq!(
            user_error_codes(&r["data"]["login"]),
            vec!["INVALID_CREDENTIALS"]
        );
    }
    let r = login(&s, "13800000026", "Secret123").await;
    assert_eq!(error_code(&r), "RATE_LIMITED");
}
