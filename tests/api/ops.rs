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
