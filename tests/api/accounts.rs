//! Sign-up, sign-in, `me`, profile, password and WeChat login.
use axum::{Json, Router, extract::Query, routing::get};
use serde_json::{Value, json};

use crate::support::*;

const ME: &str =
    "{ me { id phone nickname gender birthday roles permissions hasPassword wechatBound } }";

#[tokio::test]
async fn register_then_login_then_me() {
    let s = TestServer::start().await;
    let reg = register(&s, "+86 138-0000-0001", "Secret123").await;
    let me = s.data(Some(&reg.token), ME, json!({})).await;
    assert_eq!(me["me"]["id"], reg.id.as_str());
    assert_eq!(
        me["me"]["phone"], "13800000001",
        "normalised and shown in full to its owner"
    );
    assert_eq!(me["me"]["nickname"], "用户0001");
    assert_eq!(me["me"]["roles"], json!(["CUSTOMER"]));
    assert_eq!(me["me"]["permissions"], json!([]));
    assert_eq!(me["me"]["hasPassword"], true);

    let resp = login(&s, "13800000001", "Secret123").await;
    let acc = account(&resp["data"]["login"]);
    assert_eq!(acc.id, reg.id);
    let me = s.data(Some(&acc.token), ME, json!({})).await;
    assert_eq!(me["me"]["id"], reg.id.as_str());

    let anonymous = s.data(None, ME, json!({})).await;
    assert_eq!(anonymous["me"], Value::Null);
}

async fn user_count(s: &TestServer) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::user::Entity::find()
        .count(s.app().db.conn())
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_registrations_are_user_errors_and_create_nothing() {
    let s = TestServer::start().await;
    register(&s, "13800000002", "Secret123").await;
    let q = "mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } userErrors { code field message } } }";
    let cases = [
        (
            json!({ "phone": "13800000002", "password": "Other1234" }),
            vec!["PHONE_TAKEN"],
            "phone",
        ),
        (
            json!({ "phone": "12345", "password": "Secret123" }),
            vec!["INVALID_PHONE"],
            "phone",
        ),
        (
            json!({ "phone": "13800000003", "password": "short1" }),
            vec!["INVALID_PASSWORD"],
            "password",
        ),
        (
            json!({ "phone": "13800000003", "password": "Secret123", "nickname": "  " }),
            vec!["INVALID_NICKNAME"],
            "nickname",
        ),
        (
            json!({ "phone": "bad", "password": "bad" }),
            vec!["INVALID_PHONE", "INVALID_PASSWORD"],
            "phone",
        ),
    ];
    for (input, codes, field) in cases {
        let resp = s.gql(None, q, json!({ "input": input })).await;
        let payload = &resp["data"]["register"];
        assert_eq!(user_error_codes(payload), codes, "{input}");
        assert_eq!(payload["userErrors"][0]["field"], json!(["input", field]));
        assert_eq!(payload["accessToken"], Value::Null);
        assert_eq!(payload["user"], Value::Null);
    }
    assert_eq!(user_count(&s).await, 1);
}

#[tokio::test]
async fn wrong_password_and_unknown_phone_are_the_same_error() {
    let s = TestServer::start().await;
    register(&s, "13800000004", "Secret123").await;
    for (phone, password) in [("13800000004", "Wrong1234"), ("13899999999", "Secret123")] {
        let resp = login(&s, phone, password).await;
        let payload = &resp["data"]["login"];
        assert_eq!(user_error_codes(payload), vec!["INVALID_CREDENTIALS"]);
        assert_eq!(payload["accessToken"], Value::Null);
    }
    let resp = login(&s, "not-a-phone", "Secret123").await;
    assert_eq!(
        user_error_codes(&resp["data"]["login"]),
        vec!["INVALID_PHONE"]
    );
}

#[tokio::test]
async fn profile_updates_and_validation() {
    let s = TestServer::start().await;
    let a = register(&s, "13800000005", "Secret123").await;
    let q = "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { user { nickname avatarUrl gender birthday } userErrors { code field } } }";
    let d = s
        .data(
            Some(&a.token),
            q,
            json!({ "input": { "nickname": " 小红 ", "avatarUrl": "https://img.example.com/a.png", "gender": "FEMALE", "birthday": "1995-03-08" } }),
        )
        .await;
    assert_eq!(
        d["updateProfile"]["user"],
        json!({ "nickname": "小红", "avatarUrl": "https://img.example.com/a.png", "gender": "FEMALE", "birthday": "1995-03-08" })
    );
    // null clears, omitted keeps.
    let d = s
        .data(Some(&a.token), q, json!({ "input": { "avatarUrl": null } }))
        .await;
    assert_eq!(d["updateProfile"]["user"]["avatarUrl"], Value::Null);
    assert_eq!(d["updateProfile"]["user"]["nickname"], "小红");

    let d = s
        .data(
            Some(&a.token),
            q,
            json!({ "input": { "nickname": "", "avatarUrl": "javascript:alert(1)", "birthday": "2999-01-01" } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["updateProfile"]),
        vec!["INVALID_NICKNAME", "INVALID_AVATAR", "INVALID_BIRTHDAY"]
    );
    let me = s.data(Some(&a.token), ME, json!({})).await;
    assert_eq!(
        me["me"]["nickname"], "小红",
        "a refused update changes nothing"
    );
    assert_eq!(me["me"]["birthday"], "1995-03-08");

    let resp = s
        .gql(None, q, json!({ "input": { "nickname": "x" } }))
        .await;
    assert_eq!(error_code(&resp), "UNAUTHENTICATED");
}

#[tokio::test]
async fn password_change_needs_the_current_one_and_ends_other_sessions() {
    let s = TestServer::start().await;
    let a = register(&s, "13800000006", "Secret123").await;
    let q = "mutation($input: ChangePasswordInput!) { changePassword(input: $input) { accessToken refreshToken userErrors { code field } } }";
    let d = s
        .data(
            Some(&a.token),
            q,
            json!({ "input": { "currentPassword": "Wrong1234", "newPassword": "Newer1234" } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["changePassword"]),
        vec!["INVALID_CREDENTIALS"]
    );
    let d = s
        .data(
            Some(&a.token),
            q,
            json!({ "input": { "currentPassword": "Secret123", "newPassword": "weak" } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["changePassword"]),
        vec!["INVALID_PASSWORD"]
    );
    let d = s
        .data(
            Some(&a.token),
            q,
            json!({ "input": { "currentPassword": "Secret123", "newPassword": "Newer1234" } }),
        )
        .await;
    assert_eq!(d["changePassword"]["userErrors"], json!([]));

    assert_eq!(
        user_error_codes(&login(&s, "13800000006", "Secret123").await["data"]["login"]),
        vec!["INVALID_CREDENTIALS"]
    );
    account(&login(&s, "13800000006", "Newer1234").await["data"]["login"]);
    // The refresh token from before the change no longer works.
    let r = s
        .data(
            None,
            "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { userErrors { code } } }",
            json!({ "t": a.refresh }),
        )
        .await;
    assert_eq!(
        user_error_codes(&r["refreshToken"]),
        vec!["INVALID_REFRESH_TOKEN"]
    );
}

/// A fake of WeChat's `jscode2session`: code `good-N` is user `openid-N`; `union-N` also
/// carries unionid `u-N`; anything else is refused with errcode 40029.
pub(crate) async fn fake_wechat() -> String {
    async fn code2session(
        Query(q): Query<std::collections::HashMap<String, String>>,
    ) -> Json<Value> {
        assert_eq!(q.get("appid").map(String::as_str), Some("wx-test-app"));
        assert_eq!(q.get("secret").map(String::as_str), Some("wx-test-secret"));
        assert_eq!(
            q.get("grant_type").map(String::as_str),
            Some("authorization_code")
        );
        let code = q.get("js_code").cloned().unwrap_or_default();
        if let Some(n) = code.strip_prefix("good-") {
            Json(json!({ "openid": format!("openid-{n}"), "session_key": "sk" }))
        } else if let Some(n) = code.strip_prefix("union-") {
            Json(
                json!({ "openid": format!("openid-u{n}"), "unionid": format!("u-{n}"), "session_key": "sk" }),
            )
        } else {
            Json(json!({ "errcode": 40029, "errmsg": "invalid code" }))
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/sns/jscode2session", get(code2session));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

pub(crate) const WECHAT_LOGIN: &str = "mutation($code: String!) { wechatLogin(input: { code: $code }) { accessToken user { id nickname wechatBound hasPassword } userErrors { code field } } }";

#[tokio::test]
async fn wechat_login_finds_or_creates_the_user_by_openid() {
    let base = fake_wechat().await;
    let s = TestServer::start_with(|c| {
        c.wechat_appid = Some("wx-test-app".into());
        c.wechat_secret = Some("wx-test-secret".into());
        c.wechat_api_base = base;
    })
    .await;
    let first = s
        .data(None, WECHAT_LOGIN, json!({ "code": "good-1" }))
        .await;
    let user = &first["wechatLogin"]["user"];
    assert_eq!(user["wechatBound"], true);
    assert_eq!(user["hasPassword"], false);
    assert_eq!(user["nickname"], "微信用户");
    let token = first["wechatLogin"]["accessToken"].as_str().unwrap();
    let me = s.data(Some(token), "{ me { id } }", json!({})).await;
    assert_eq!(me["me"]["id"], user["id"]);

    let again = s
        .data(None, WECHAT_LOGIN, json!({ "code": "good-1" }))
        .await;
    assert_eq!(
        again["wechatLogin"]["user"]["id"], user["id"],
        "same openid, same user"
    );
    let other = s
        .data(None, WECHAT_LOGIN, json!({ "code": "good-2" }))
        .await;
    assert_ne!(other["wechatLogin"]["user"]["id"], user["id"]);

    let refused = s
        .data(None, WECHAT_LOGIN, json!({ "code": "expired" }))
        .await;
    assert_eq!(
        user_error_codes(&refused["wechatLogin"]),
        vec!["WECHAT_CODE_INVALID"]
    );
    assert_eq!(refused["wechatLogin"]["accessToken"], Value::Null);
}

#[tokio::test]
async fn wechat_login_reports_missing_configuration_and_unreachable_wechat() {
    let s = TestServer::start().await;
    let d = s
        .data(None, WECHAT_LOGIN, json!({ "code": "good-1" }))
        .await;
    assert_eq!(
        user_error_codes(&d["wechatLogin"]),
        vec!["WECHAT_NOT_CONFIGURED"]
    );

    let s = TestServer::start_with(|c| {
        c.wechat_appid = Some("wx-test-app".into());
        c.wechat_secret = Some("wx-test-secret".into());
        c.wechat_api_base = "http://127.0.0.1:1".into();
    })
    .await;
    let d = s
        .data(None, WECHAT_LOGIN, json!({ "code": "good-1" }))
        .await;
    assert_eq!(
        user_error_codes(&d["wechatLogin"]),
        vec!["WECHAT_UNAVAILABLE"]
    );
}
