//! What the transport refuses before any resolver runs, query limits, error hygiene, and the
//! graphql-transport-ws protocol's rules and close codes.
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

async fn user_count(s: &TestServer) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::user::Entity::find()
        .count(s.app().db.conn())
        .await
        .unwrap()
}

const REGISTER: &str = r#"mutation { register(input: { phone: "13800000051", password: "Secret123" }) { accessToken } }"#;

async fn post_raw(s: &TestServer, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let resp = s
        .http
        .post(s.url("/graphql"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn unsafe_transports_are_refused_before_anything_runs() {
    let s = TestServer::start().await;
    let body = serde_json::to_vec(&json!({ "query": REGISTER })).unwrap();

    let (status, resp) = post_raw(&s, "text/plain", body.clone()).await;
    assert_eq!(status, 415);
    assert_eq!(error_code(&resp), "UNSUPPORTED_MEDIA_TYPE");

    let (status, resp) = post_raw(&s, "application/x-www-form-urlencoded", body.clone()).await;
    assert_eq!(status, 415);
    assert_eq!(error_code(&resp), "UNSUPPORTED_MEDIA_TYPE");

    let batch =
        serde_json::to_vec(&json!([{ "query": REGISTER }, { "query": "{ __typename }" }])).unwrap();
    let (status, resp) = post_raw(&s, "application/json", batch).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&resp), "BATCH_NOT_SUPPORTED");

    let get = s
        .http
        .get(s.url("/graphql"))
        .query(&[("query", REGISTER)])
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    assert_eq!(error_code(&get.json().await.unwrap()), "METHOD_NOT_ALLOWED");

    let mut big = br#"{"query":"{ __typename }","variables":{"pad":""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    big.extend(br#""}}"#);
    let (status, resp) = post_raw(&s, "application/json", big).await;
    assert_eq!(status, 413);
    assert_eq!(error_code(&resp), "PAYLOAD_TOO_LARGE");

    let (status, resp) = post_raw(&s, "application/json", b"{not json".to_vec()).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&resp), "BAD_REQUEST");

    assert_eq!(
        user_count(&s).await,
        0,
        "no refused request ran its mutation"
    );
}

#[tokio::test]
async fn queries_run_over_get() {
    let s = TestServer::start().await;
    let resp: Value = s
        .http
        .get(s.url("/graphql"))
        .query(&[
            ("query", "query Ping { __typename }"),
            ("operationName", "Ping"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["data"]["__typename"], "QueryRoot");
}

fn deep_introspection(levels: usize) -> String {
    let mut q = String::from("{ __schema { types { fields { type ");
    for _ in 0..levels {
        q.push_str("{ ofType ");
    }
    q.push_str("{ name }");
    for _ in 0..levels {
        q.push('}');
    }
    q.push_str(" } } } }");
    q
}

#[tokio::test]
async fn deep_complex_and_alias_heavy_queries_are_refused() {
    let s = TestServer::start().await;
    let resp = s.gql(None, &deep_introspection(20), json!({})).await;
    assert_eq!(error_code(&resp), "QUERY_TOO_DEEP", "{resp}");
    assert!(resp["data"].is_null());

    let a = register(&s, "13800000052", "Secret123").await;
    // Lists nested in lists multiply what one response holds, batched or not.
    let explosive = "{ products(first: 100) { edges { node { skus { product { skus { product { skus { product { images { url } } } } } } } } } } }";
    let resp = s.gql(Some(&a.token), explosive, json!({})).await;
    assert_eq!(error_code(&resp), "QUERY_TOO_COMPLEX", "{resp}");
    let page = "myOrders(first: 100) { edges { node { lines { sku { product { skus { specValues { spec } } } } } } } }";
    let heavy = format!("{{ a: {page} b: {page} c: {page} }}");
    let resp = s.gql(Some(&a.token), &heavy, json!({})).await;
    assert_eq!(error_code(&resp), "QUERY_TOO_COMPLEX", "{resp}");

    let aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let resp = s.gql(None, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(error_code(&resp), "TOO_MANY_ALIASES", "{resp}");

    let resp = s.gql(None, "{ me { id ", json!({})).await;
    assert_eq!(error_code(&resp), "GRAPHQL_PARSE_FAILED");
    let resp = s.gql(None, "{ noSuchField }", json!({})).await;
    assert_eq!(error_code(&resp), "GRAPHQL_VALIDATION_FAILED");

    let resp = s
        .gql(
            Some(&a.token),
            "{ notifications(first: 101) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT");
}

/// The documented page size is usable: the dashboard's order desk and the shop's product
/// listing, as the playground shows them, fit the cost limit with `first: 100`.
#[tokio::test]
async fn the_largest_page_of_the_everyday_lists_fits_the_cost_limit() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let examples = distmall::playground_examples();
    let example = |name: &str| {
        examples
            .iter()
            .find(|e| e["name"].as_str().is_some_and(|n| n.starts_with(name)))
            .unwrap_or_else(|| panic!("example {name}"))
            .clone()
    };
    for (name, token) in [
        ("09-orders", Some(boss.token.as_str())),
        ("08-search-products", None),
    ] {
        let e = example(name);
        let query = e["query"]
            .as_str()
            .unwrap()
            .replace("first: 20", "first: 100");
        assert!(query.contains("first: 100"), "{query}");
        let resp = s.gql(token, &query, e["variables"].clone()).await;
        assert!(resp["errors"].is_null(), "{name}: {resp}");
        let cost = resp["extensions"]["cost"]["requestedQueryCost"]
            .as_u64()
            .unwrap();
        assert!(cost <= 2500, "{name} costs {cost}");
    }
}

#[tokio::test]
async fn every_response_reports_its_cost() {
    let s = TestServer::start().await;
    let a = register(&s, "13800000053", "Secret123").await;
    let small = s.gql(Some(&a.token), "{ me { id } }", json!({})).await;
    let big = s
        .gql(
            Some(&a.token),
            "{ notifications(first: 50) { edges { node { id title } } } }",
            json!({}),
        )
        .await;
    let cost = |r: &Value| {
        r["extensions"]["cost"]["requestedQueryCost"]
            .as_u64()
            .unwrap()
    };
    assert!(cost(&small) < 5, "{small}");
    assert!(cost(&big) > 100, "page size multiplies: {big}");
    assert_eq!(small["extensions"]["cost"]["maximumAvailable"], 2500);
}

#[tokio::test]
async fn internal_faults_reach_the_client_only_as_internal_with_a_request_id() {
    let s = TestServer::start().await;
    let a = register(&s, "13800000054", "Secret123").await;
    sea_orm::ConnectionTrait::execute_unprepared(s.app().db.conn(), "DROP TABLE notifications")
        .await
        .unwrap();
    let resp = s
        .gql(
            Some(&a.token),
            "{ notifications { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&resp), "INTERNAL");
    let err = &resp["errors"][0];
    assert_eq!(err["message"], "internal error");
    assert!(!err["extensions"]["requestId"].as_str().unwrap().is_empty());
    let text = resp.to_string().to_lowercase();
    for leak in [
        "select ",
        " from ",
        "no such table",
        "does not exist",
        "sqlx",
        "database",
    ] {
        assert!(!text.contains(leak), "leaked {leak}: {resp}");
    }
}

const SUB: &str = "subscription { notificationReceived { eventId } }";

#[tokio::test]
async fn websocket_protocol_errors_close_with_the_protocol_codes() {
    let s = TestServer::start_with(|c| c.ws_init_timeout_secs = 1).await;
    let url = s.ws_url();

    let mut c = WsClient::connect(&url).await;
    c.subscribe("1", SUB, json!({})).await;
    assert_eq!(c.closed().await.0, 4401, "subscribe before connection_ack");

    let mut c = WsClient::connect(&url).await;
    c.send(json!({ "type": "no_such_type" })).await;
    assert_eq!(c.closed().await.0, 4400);

    let mut c = WsClient::connect(&url).await;
    c.ws.send(tokio_tungstenite::tungstenite::Message::Text(
        "{not json".into(),
    ))
    .await
    .unwrap();
    assert_eq!(c.closed().await.0, 4400);

    let mut c = WsClient::connect(&url).await;
    assert_eq!(c.closed().await.0, 4408, "no connection_init in time");

    let mut c = WsClient::connect_and_init(&url, None).await;
    c.send(json!({ "type": "connection_init" })).await;
    assert_eq!(c.closed().await.0, 4429);

    let a = register(&s, "13800000055", "Secret123").await;
    let mut c = WsClient::connect_and_init(&url, Some(&a.token)).await;
    c.subscribe("same", SUB, json!({})).await;
    c.subscribe("same", SUB, json!({})).await;
    assert_eq!(c.closed().await.0, 4409);

    let mut c = WsClient::connect_with_protocol(&url, None).await;
    assert_eq!(
        c.closed().await.0,
        4406,
        "the graphql-transport-ws subprotocol is required"
    );
}

use futures::SinkExt;

#[tokio::test]
async fn websocket_ping_queries_and_the_subscription_cap() {
    let s = TestServer::start_with(|c| c.ws_max_subscriptions = 2).await;
    let a = register(&s, "13800000056", "Secret123").await;
    let mut c = WsClient::connect_and_init(&s.ws_url(), Some(&a.token)).await;

    c.send(json!({ "type": "ping" })).await;
    assert_eq!(c.recv().await.unwrap()["type"], "pong");

    // A query over the socket: one `next`, then `complete`.
    c.subscribe("q", "{ me { id } }", json!({})).await;
    let next = c.recv().await.unwrap();
    assert_eq!(next["type"], "next");
    assert_eq!(next["payload"]["data"]["me"]["id"], a.id.as_str());
    assert_eq!(
        c.recv().await.unwrap(),
        json!({ "id": "q", "type": "complete" })
    );

    c.subscribe("s1", SUB, json!({})).await;
    c.subscribe("s2", SUB, json!({})).await;
    c.subscribe("s3", SUB, json!({})).await;
    let refused = c.recv().await.unwrap();
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["id"], "s3");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );

    // Completing one frees a place.
    c.send(json!({ "id": "s1", "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.subscribe("s4", SUB, json!({})).await;
    c.expect_silence(Duration::from_millis(500)).await;

    // Invalid operations are an `error` message, and the socket stays open.
    c.send(json!({ "id": "s4", "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.subscribe("bad", "subscription { nope }", json!({})).await;
    let err = c.recv().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(
        err["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    c.send(json!({ "type": "ping" })).await;
    assert_eq!(c.recv().await.unwrap()["type"], "pong");
}

const DASHBOARD: &str = "https://admin.example.com";

/// A browser's preflight for a POST carrying a token.
async fn preflight(s: &TestServer, origin: &str) -> reqwest::Response {
    s.http
        .request(reqwest::Method::OPTIONS, s.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn the_dashboards_origin_may_call_with_credentials_and_other_origins_may_not() {
    let s = TestServer::start_with(|c| {
        c.cors_allowed_origins = Some(format!("{DASHBOARD}, https://ops.example.com"));
    })
    .await;
    let a = register(&s, "13800000057", "Secret123").await;

    let pre = preflight(&s, DASHBOARD).await;
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(header(&pre, "access-control-allow-origin"), Some(DASHBOARD));
    assert_eq!(
        header(&pre, "access-control-allow-credentials"),
        Some("true")
    );
    let methods = header(&pre, "access-control-allow-methods").unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let headers = header(&pre, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert!(header(&pre, "access-control-max-age").is_some());
    assert!(header(&pre, "vary").unwrap().contains("origin"));

    let call = s
        .http
        .post(s.url("/graphql"))
        .header("origin", DASHBOARD)
        .bearer_auth(&a.token)
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&call, "access-control-allow-origin"),
        Some(DASHBOARD)
    );
    assert_eq!(
        header(&call, "access-control-allow-credentials"),
        Some("true")
    );
    assert!(
        header(&call, "access-control-expose-headers")
            .unwrap()
            .contains("x-request-id")
    );
    let body: Value = call.json().await.unwrap();
    assert_eq!(body["data"]["me"]["id"], a.id.as_str());

    for refused in [
        "https://evil.example.com",
        "https://admin.example.com.evil.net",
        "http://admin.example.com",
    ] {
        let pre = preflight(&s, refused).await;
        assert_eq!(
            header(&pre, "access-control-allow-origin"),
            None,
            "{refused}"
        );
        assert_eq!(header(&pre, "access-control-allow-credentials"), None);
        let call = s
            .http
            .post(s.url("/graphql"))
            .header("origin", refused)
            .bearer_auth(&a.token)
            .json(&json!({ "query": "{ me { id } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&call, "access-control-allow-origin"),
            None,
            "{refused}"
        );
        assert_eq!(header(&call, "access-control-allow-credentials"), None);
    }
}

#[tokio::test]
async fn cors_allows_localhost_in_development_and_no_origin_in_production() {
    let dev = TestServer::start().await;
    let pre = preflight(&dev, "http://localhost:5173").await;
    assert_eq!(
        header(&pre, "access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let pre = preflight(&dev, DASHBOARD).await;
    assert_eq!(header(&pre, "access-control-allow-origin"), None);

    let prod = TestServer::start_with(|c| c.env = distmall::config::RunMode::Production).await;
    for origin in ["http://localhost:5173", DASHBOARD] {
        let pre = preflight(&prod, origin).await;
        assert_eq!(
            header(&pre, "access-control-allow-origin"),
            None,
            "{origin}"
        );
    }
}

/// A multipart request, as upload clients send it, with a preflight header.
async fn post_multipart(s: &TestServer, form: reqwest::multipart::Form) -> (u16, Value) {
    let resp = s
        .http
        .post(s.url("/graphql"))
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn multipart_operations_are_bounded_like_json_bodies() {
    use reqwest::multipart::{Form, Part};

    let s = TestServer::start().await;
    // 4.5 MB of operation and no file: refused as the same JSON body would be.
    let padded = json!({ "query": REGISTER, "variables": { "pad": "x".repeat(4_500_000) } });
    let form = Form::new()
        .text("operations", padded.to_string())
        .text("map", "{}");
    let (status, resp) = post_multipart(&s, form).await;
    assert_eq!(status, 413, "{resp}");
    assert_eq!(error_code(&resp), "PAYLOAD_TOO_LARGE");
    assert!(
        resp["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("operations part"),
        "{resp}"
    );

    let batch = json!([{ "query": REGISTER }]);
    let form = Form::new()
        .text("operations", batch.to_string())
        .text("map", "{}");
    let (status, resp) = post_multipart(&s, form).await;
    assert_eq!(
        (status, error_code(&resp).as_str()),
        (400, "BATCH_NOT_SUPPORTED")
    );

    let mut form = Form::new()
        .text(
            "operations",
            json!({ "query": "{ __typename }" }).to_string(),
        )
        .text("map", "{}");
    for i in 0..6 {
        form = form.part(i.to_string(), Part::bytes(vec![0u8; 10]).file_name("a.png"));
    }
    let (status, resp) = post_multipart(&s, form).await;
    assert_eq!(status, 413, "{resp}");
    assert_eq!(error_code(&resp), "PAYLOAD_TOO_LARGE");

    let form = Form::new()
        .text(
            "operations",
            json!({ "query": "{ __typename }" }).to_string(),
        )
        .text("map", json!({ "0": ["variables.file"] }).to_string());
    let (status, resp) = post_multipart(&s, form).await;
    assert_eq!(
        (status, error_code(&resp).as_str()),
        (400, "BAD_REQUEST"),
        "{resp}"
    );

    // Within the limits a multipart operation runs.
    let form = Form::new()
        .text(
            "operations",
            json!({ "query": "{ __typename }" }).to_string(),
        )
        .text("map", "{}");
    let (status, resp) = post_multipart(&s, form).await;
    assert_eq!(status, 200);
    assert_eq!(resp["data"]["__typename"], "QueryRoot");
    assert_eq!(
        user_count(&s).await,
        0,
        "no refused request ran its mutation"
    );
}

#[tokio::test]
async fn long_texts_are_refused_before_execution_naming_the_argument() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let products = "query($k: String) { products(filter: { keyword: $k }) { totalCount } }";

    // The review's search: 60,000 characters of keyword.
    let resp = s
        .gql(None, products, json!({ "k": "鞋".repeat(60_000) }))
        .await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
    assert_eq!(
        resp["errors"][0]["extensions"]["argument"],
        "filter.keyword"
    );
    assert_eq!(resp["errors"][0]["extensions"]["maxLength"], 100);
    assert!(
        resp["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("filter.keyword"),
        "{resp}"
    );
    assert!(resp["data"].is_null(), "refused before execution");
    let resp = s
        .gql(None, products, json!({ "k": "鞋".repeat(100) }))
        .await;
    assert!(resp.get("errors").is_none(), "{resp}");

    let resp = s
        .gql(
            None,
            "query($p: String!) { searchSuggestions(prefix: $p) }",
            json!({ "p": "x".repeat(101) }),
        )
        .await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT");
    assert_eq!(resp["errors"][0]["extensions"]["argument"], "prefix");

    let resp = s
        .gql(
            Some(&boss.token),
            "query($k: String) { orders(filter: { keyword: $k }) { totalCount } }",
            json!({ "k": "1".repeat(101) }),
        )
        .await;
    assert_eq!(
        resp["errors"][0]["extensions"]["argument"],
        "filter.keyword"
    );
    let export = s
        .http
        .get(s.url("/exports/orders.csv"))
        .query(&[("keyword", "1".repeat(101))])
        .bearer_auth(&boss.token)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status().as_u16(), 400);

    // Every other string: the general limit (10,000 characters by default).
    let resp = s
        .gql(
            None,
            "mutation($input: LoginInput!) { login(input: $input) { accessToken } }",
            json!({ "input": { "phone": "13800000058", "password": "x".repeat(10_001) } }),
        )
        .await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
    assert_eq!(
        resp["errors"][0]["extensions"]["argument"],
        "input.password"
    );
    assert_eq!(resp["errors"][0]["extensions"]["maxLength"], 10_000);
    let resp = s
        .gql(
            None,
            "query($unused: String) { __typename }",
            json!({ "unused": "x".repeat(10_001) }),
        )
        .await;
    assert_eq!(resp["errors"][0]["extensions"]["argument"], "$unused");

    // A product description may be longer than that, up to its own limit.
    let description = format!("<p>{}</p>", "好".repeat(20_000));
    let resp = s
        .gql(
            Some(&boss.token),
            "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { descriptionHtml } userErrors { code } } }",
            json!({ "input": { "name": "长描述", "descriptionHtml": description, "skus": [{ "price": "1.00" }] } }),
        )
        .await;
    assert_eq!(
        resp["data"]["createProduct"]["userErrors"],
        json!([]),
        "{resp}"
    );
}
