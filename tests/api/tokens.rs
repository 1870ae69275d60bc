//! Access-token validation over HTTP and WebSocket.
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

use crate::support::*;

fn claims(sub: &str, iss: &str, aud: &str, exp_offset: i64) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": sub, "iss": iss, "aud": aud, "iat": now, "exp": now + exp_offset, "jti": "t" })
}

fn hs256(secret: &[u8], claims: &serde_json::Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

/// The numeric user id inside a global id, as the token's `sub` carries it.
fn sub_of(global_id: &str) -> String {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(global_id).unwrap()).unwrap();
    raw.split_once(':').unwrap().1.to_string()
}

async fn assert_unauthenticated(s: &TestServer, token: &str, why: &str) {
    let resp = s.gql(Some(token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&resp), "UNAUTHENTICATED", "{why}: {resp}");
    assert!(
        resp.get("data").is_none() || resp["data"].is_null(),
        "{why}: nothing ran"
    );
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated_over_http() {
    let s = TestServer::start().await;
    let a = register(&s, "13800000011", "Secret123").await;
    let sub = sub_of(&a.id);
    let secret = TEST_JWT_SECRET.as_bytes();

    // The same claims, correctly signed, work: the failures below are about what changed.
    let good = hs256(secret, &claims(&sub, "distmall", "distmall-api", 600));
    let me = s.data(Some(&good), "{ me { id } }", json!({})).await;
    assert_eq!(me["me"]["id"], a.id.as_str());

    let expired = hs256(secret, &claims(&sub, "distmall", "distmall-api", -3600));
    assert_unauthenticated(&s, &expired, "expired").await;
    let forged = hs256(
        b"some-other-secret-some-other-secret",
        &claims(&sub, "distmall", "distmall-api", 600),
    );
    assert_unauthenticated(&s, &forged, "bad signature").await;
    let wrong_aud = hs256(secret, &claims(&sub, "distmall", "someone-else", 600));
    assert_unauthenticated(&s, &wrong_aud, "wrong audience").await;
    let wrong_iss = hs256(secret, &claims(&sub, "evil", "distmall-api", 600));
    assert_unauthenticated(&s, &wrong_iss, "wrong issuer").await;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(&sub, "distmall", "distmall-api", 600).to_string());
    assert_unauthenticated(&s, &format!("{header}.{payload}."), "alg none").await;
    assert_unauthenticated(&s, "garbage", "garbage").await;
    assert_unauthenticated(&s, &format!("{}x", a.token), "tampered").await;

    // Not a Bearer header at all.
    let resp = s
        .http
        .post(s.url("/graphql"))
        .header("authorization", format!("Basic {}", a.token))
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(error_code(&resp), "UNAUTHENTICATED");
}

#[tokio::test]
async fn bad_tokens_close_the_websocket_with_4403() {
    let s = TestServer::start().await;
    let mut c = WsClient::connect(&s.ws_url()).await;
    c.send(json!({ "type": "connection_init", "payload": { "authorization": "Bearer garbage" } }))
        .await;
    assert_eq!(c.closed().await.0, 4403);

    let a = register(&s, "13800000012", "Secret123").await;
    let expired = hs256(
        TEST_JWT_SECRET.as_bytes(),
        &claims(&sub_of(&a.id), "distmall", "distmall-api", -3600),
    );
    let mut c = WsClient::connect(&s.ws_url()).await;
    c.send(json!({ "type": "connection_init", "payload": { "authorization": expired } }))
        .await;
    assert_eq!(c.closed().await.0, 4403);

    // A valid token is acknowledged.
    WsClient::connect_and_init(&s.ws_url(), Some(&a.token)).await;
}

struct RsaKeys {
    dir: std::path::PathBuf,
    public_pem: String,
}

fn rsa_keys() -> RsaKeys {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let mut rng = rand::thread_rng();
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let public = rsa::RsaPublicKey::from(&private);
    let dir = std::env::temp_dir().join(format!("distmall-rsa-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let private_pem = private.to_pkcs8_pem(LineEnding::LF).unwrap();
    let public_pem = public.to_public_key_pem(LineEnding::LF).unwrap();
    std::fs::write(dir.join("private.pem"), private_pem.as_bytes()).unwrap();
    std::fs::write(dir.join("public.pem"), &public_pem).unwrap();
    RsaKeys { dir, public_pem }
}

#[tokio::test]
async fn rs256_tokens_work_and_hs256_signed_with_the_public_key_is_refused() {
    let keys = rsa_keys();
    let dir = keys.dir.clone();
    let s = TestServer::start_with(move |c| {
        c.jwt_algorithm = distmall::config::JwtAlgorithm::RS256;
        c.jwt_secret = None;
        c.jwt_private_key_path = Some(dir.join("private.pem"));
        c.jwt_public_key_path = Some(dir.join("public.pem"));
    })
    .await;
    let a = register(&s, "13800000013", "Secret123").await;
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(a.token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    let me = s.data(Some(&a.token), "{ me { id } }", json!({})).await;
    assert_eq!(me["me"]["id"], a.id.as_str());

    // The algorithm-confusion attack: an HS256 token whose HMAC key is the public key.
    let confused = hs256(
        keys.public_pem.as_bytes(),
        &claims(&sub_of(&a.id), "distmall", "distmall-api", 600),
    );
    assert_unauthenticated(&s, &confused, "HS256 with the RSA public key").await;
    let _ = std::fs::remove_dir_all(&keys.dir);
}
