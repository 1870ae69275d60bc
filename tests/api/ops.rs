//! Health, readiness and metrics.
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let s = TestServer::start().await;
    let health = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let ready = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    let a = register(&s, "13800000061", "Secret123").await;
    s.data(Some(&a.token), "query WhoAmI { me { id } }", json!({}))
        .await;
    let resp = s
        .gql(
            None,
            "query Staff { staffMembers { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&resp), "UNAUTHENTICATED");
    let mut ws = WsClient::connect_and_init(&s.ws_url(), Some(&a.token)).await;
    ws.subscribe(
        "1",
        "subscription { notificationReceived { eventId } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains(
        "distmall_graphql_operation_duration_seconds_count{operation=\"WhoAmI\",type=\"query\"} 1"
    ), "{metrics}");
    assert!(metrics.contains("distmall_graphql_errors_total{code=\"UNAUTHENTICATED\"} 1"));
    assert!(metrics.contains("distmall_live_subscriptions 1"));
    assert!(metrics.contains("distmall_websocket_connections 1"));
    assert!(metrics.contains("distmall_db_pool_connections"));

    // Shutting down: not ready any more.
    s.app().shutdown.cancel();
    let ready = s.http.get(s.url("/readyz")).send().await;
    if let Ok(r) = ready {
        assert_eq!(r.status().as_u16(), 503);
    }
}

#[tokio::test]
async fn production_mode_needs_a_secret_and_hides_the_schema() {
    let db = std::sync::Arc::new(TestDb::new().await);
    let mut config = test_config(&db);
    config.env = distmall::config::RunMode::Production;
    config.jwt_secret = None;
    assert!(
        distmall::Server::start(config).await.is_err(),
        "production without a JWT secret must not start"
    );

    let s = TestServer::start_on(db, |c| c.env = distmall::config::RunMode::Production).await;
    let resp = s
        .gql(None, "{ __schema { types { name } } }", json!({}))
        .await;
    assert_eq!(error_code(&resp), "INTROSPECTION_DISABLED", "{resp}");
    let resp = s.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(resp["data"]["__typename"], "QueryRoot");
}

const METRICS_TOKEN: &str = "scrape-token-0123456789";

async fn status(http: &reqwest::Client, url: String, token: Option<&str>) -> u16 {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn production_serves_metrics_only_behind_a_token_or_on_their_own_address() {
    use distmall::config::RunMode::Production;

    let open = TestServer::start_with(|c| c.env = Production).await;
    assert_eq!(status(&open.http, open.url("/metrics"), None).await, 404);

    let s = TestServer::start_with(|c| {
        c.env = Production;
        c.metrics_token = Some(METRICS_TOKEN.into());
    })
    .await;
    let refused = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        status(&s.http, s.url("/metrics"), Some("scrape-token-0123456780")).await,
        401
    );
    let scraped = s
        .http
        .get(s.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status().as_u16(), 200);
    assert!(
        scraped
            .text()
            .await
            .unwrap()
            .contains("distmall_db_pool_connections")
    );

    let s = TestServer::start_with(|c| {
        c.env = Production;
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let own = s.server.as_ref().unwrap().metrics_addr.unwrap();
    assert_ne!(own, s.addr);
    assert_eq!(status(&s.http, s.url("/metrics"), None).await, 404);
    assert_eq!(
        status(&s.http, format!("http://{own}/metrics"), None).await,
        200
    );
    assert_eq!(
        status(&s.http, format!("http://{own}/graphql"), None).await,
        404,
        "the metrics address serves nothing else"
    );
}

#[tokio::test]
async fn the_playground_is_off_in_production_unless_turned_on() {
    use distmall::config::RunMode::Production;

    let s = TestServer::start_with(|c| c.env = Production).await;
    for path in ["/", "/playground", "/playground/examples.json"] {
        assert_eq!(status(&s.http, s.url(path), None).await, 404, "{path}");
    }
    let s = TestServer::start_with(|c| {
        c.env = Production;
        c.playground = Some(true);
    })
    .await;
    for path in ["/", "/playground", "/playground/examples.json"] {
        assert_eq!(status(&s.http, s.url(path), None).await, 200, "{path}");
    }
}

#[tokio::test]
async fn media_responses_are_never_sniffed() {
    let s = TestServer::start().await;
    let media = s.db.dir.join("media");
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("probe.txt"), "<script>alert(1)</script>").unwrap();
    let served = s.http.get(s.url("/media/probe.txt")).send().await.unwrap();
    assert_eq!(served.status().as_u16(), 200);
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert!(
        served.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let missing = s.http.get(s.url("/media/none.png")).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test]
async fn shutdown_closes_websockets_with_going_away() {
    let s = TestServer::start().await;
    let a = register(&s, "13800000062", "Secret123").await;
    let mut ws = WsClient::connect_and_init(&s.ws_url(), Some(&a.token)).await;
    ws.subscribe(
        "1",
        "subscription { notificationReceived { eventId } }",
        json!({}),
    )
    .await;
    s.app().shutdown.cancel();
    assert_eq!(ws.closed().await.0, 1001);
}

/// WeChat merchant ids and Alipay app ids are all digits. Set as an operator sets them — in
/// the environment and, unquoted, in the configuration file — they start the server and reach
/// the provider exactly as written.
#[tokio::test]
async fn all_digit_ids_from_the_environment_and_the_file_configure_the_payment_providers() {
    use crate::{
        catalog::published_product,
        fake_alipay::FakeAlipay,
        fake_wechatpay::FakeWechatPay,
        orders::{PAY, create_address, place},
        payments::{give_openid, write_temp},
    };

    let wechat = FakeWechatPay::start().await;
    let alipay = FakeAlipay::start().await;
    assert!(wechat.mch_id.bytes().all(|b| b.is_ascii_digit()));
    // Set up an unpaid order through a server of the test's own on the same database.
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let product = published_product(&s, &boss.token, "保温杯", "99.50", 10).await;
    let buyer = register(&s, "13800000063", "Secret123").await;
    give_openid(&s, &buyer).await;
    let address = create_address(&s, &buyer.token, "13800000063").await;
    let placed = place(
        &s,
        &buyer.token,
        &address,
        json!([{ "skuId": product["skus"][0]["id"], "quantity": 1 }]),
        "k",
    )
    .await;

    let file = s.db.dir.join("distmall.toml");
    std::fs::write(
        &file,
        format!(
            "alipay_app_id = 2021000000000001\nalipay_private_key_path = {:?}\nalipay_public_key_path = {:?}\nalipay_gateway_url = {:?}\n",
            write_temp(&alipay.app_private_key_pem()),
            write_temp(&alipay.alipay_public_key_pem()),
            alipay.gateway_url(),
        ),
    )
    .unwrap();
    let merchant_key = write_temp(&wechat.merchant_private_key_pem);
    let platform_key = write_temp(&wechat.platform_public_key_pem);
    let process = ServerProcess::start(
        &s.db,
        &[
            ("DISTMALL_CONFIG", file.to_str().unwrap()),
            ("DISTMALL_PUBLIC_URL", "https://shop.example.com"),
            ("DISTMALL_WECHAT_APPID", &wechat.app_id),
            ("DISTMALL_WECHATPAY_MCH_ID", &wechat.mch_id),
            (
                "DISTMALL_WECHATPAY_MERCHANT_SERIAL_NO",
                &wechat.merchant_serial,
            ),
            (
                "DISTMALL_WECHATPAY_PRIVATE_KEY_PATH",
                merchant_key.to_str().unwrap(),
            ),
            ("DISTMALL_WECHATPAY_API_V3_KEY", &wechat.api_v3_key),
            (
                "DISTMALL_WECHATPAY_PLATFORM_KEY_SERIAL",
                &wechat.platform_serial,
            ),
            (
                "DISTMALL_WECHATPAY_PLATFORM_KEY_PATH",
                platform_key.to_str().unwrap(),
            ),
            ("DISTMALL_WECHATPAY_BASE_URL", &wechat.base_url),
        ],
    )
    .await;

    // The fake answers only a request carrying its own merchant id.
    let paying = process
        .gql(
            Some(&buyer.token),
            PAY,
            json!({ "id": placed["order"]["id"], "p": "WECHAT_PAY" }),
        )
        .await;
    assert_eq!(
        paying["data"]["createPayment"]["userErrors"],
        json!([]),
        "{paying}"
    );
    assert!(
        wechat
            .requests()
            .iter()
            .any(|r| r.json["mchid"] == wechat.mch_id.as_str()),
        "the merchant id went out as configured"
    );
    assert!(
        process.terminate().await.success(),
        "SIGTERM stops it cleanly"
    );
}
