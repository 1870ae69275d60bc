//! What the catalogue shows is current and agrees with itself: sales figures after payment on
//! every page and in the SALES sort, on this instance and on another; one search response
//! never contradicts itself while the index catches up; only a response served from memory
//! says `X-Cache: hit`.
use std::time::Duration;

use serde_json::{Value, json};

use crate::{catalog::*, orders::*, support::*};

const PAGE: &str = "query($id: ID!) { product(id: $id) { sales skus { sales } } }";
const BEST_SELLERS: &str =
    "{ products(sortBy: { field: SALES }, first: 10) { edges { node { id sales } } } }";
const SKU_SALES: &str = "query($id: ID!) { node(id: $id) { ... on Sku { sales } } }";

/// Polls `query` on `s` until `done` holds (at most 5 s); the last answer.
async fn eventually(
    s: &TestServer,
    query: &str,
    variables: Value,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..50 {
        last = s.data(None, query, variables.clone()).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

fn page_sales(d: &Value) -> (i64, i64) {
    (
        d["product"]["sales"].as_i64().unwrap(),
        d["product"]["skus"][0]["sales"].as_i64().unwrap(),
    )
}

fn first_seller(d: &Value) -> Value {
    d["products"]["edges"][0]["node"]["id"].clone()
}

#[tokio::test]
async fn paid_sales_reach_product_pages_and_the_sales_sort_on_every_instance() {
    let a = TestServer::start().await;
    let b = TestServer::start_on(a.db.clone(), |_| {}).await;
    let boss = owner(&a).await;
    // The older product would come first among equals (ties go to the newest id otherwise).
    let sold = published_product(&a, &boss.token, "竹节杯", "12.00", 50).await;
    let other = published_product(&a, &boss.token, "玻璃杯", "15.00", 50).await;
    let (sold_id, sku) = (sold["id"].clone(), sold["skus"][0]["id"].clone());
    let buyer = register(&a, "13800000701", "Secret123").await;
    let address = create_address(&a, &buyer.token, "13800000701").await;

    // Both instances have the page, the list and the search in memory before the sale.
    for s in [&a, &b] {
        let d = eventually(s, BEST_SELLERS, json!({}), |d| {
            d["products"]["edges"].as_array().unwrap().len() == 2
        })
        .await;
        assert_eq!(first_seller(&d), other["id"], "unsold, newest first: {d}");
        assert_eq!(
            page_sales(&s.data(None, PAGE, json!({ "id": sold_id })).await),
            (0, 0)
        );
    }

    let placed = place(
        &a,
        &buyer.token,
        &address,
        json!([{ "skuId": sku, "quantity": 7 }]),
        "sale",
    )
    .await;
    let paid = a
        .data(
            Some(&buyer.token),
            PAY,
            json!({ "id": placed["order"]["id"], "p": "DEV" }),
        )
        .await;
    assert_eq!(paid["createPayment"]["order"]["status"], "PAID");

    // The instance that took the payment shows it on the next read.
    assert_eq!(
        page_sales(&a.data(None, PAGE, json!({ "id": sold_id })).await),
        (7, 7)
    );
    assert_eq!(
        a.data(None, SKU_SALES, json!({ "id": sku })).await["node"]["sales"],
        7
    );
    // The other instance once the event arrives; the SALES sort within about a second.
    let d = eventually(&b, PAGE, json!({ "id": sold_id }), |d| {
        page_sales(d) == (7, 7)
    })
    .await;
    assert_eq!(page_sales(&d), (7, 7), "{d}");
    for s in [&a, &b] {
        let d = eventually(s, BEST_SELLERS, json!({}), |d| first_seller(d) == sold_id).await;
        assert_eq!(first_seller(&d), sold_id, "best seller first: {d}");
        assert_eq!(d["products"]["edges"][0]["node"]["sales"], 7);
    }
}

const SEARCH: &str =
    "{ products(first: 20) { totalCount edges { node { id } } facets { brands { count } } } }";

/// Edges, `totalCount` and the brand facet of one response describe the same products.
fn assert_consistent(d: &Value) {
    let edges = d["products"]["edges"].as_array().unwrap().len() as i64;
    let total = d["products"]["totalCount"].as_i64().unwrap();
    let by_brand: i64 = d["products"]["facets"]["brands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(edges, total, "{d}");
    assert_eq!(by_brand, total, "{d}");
}

#[tokio::test]
async fn a_search_never_contradicts_itself_while_the_index_catches_up() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let t = boss.token.as_str();
    let brand = create_brand(&s, t, "同一牌子").await;
    let mut ids = Vec::new();
    for name in ["花瓶", "花盆", "花架"] {
        let p = published_product(&s, t, name, "30.00", 5).await;
        s.data(
            Some(t),
            "mutation($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }",
            json!({ "input": { "id": p["id"], "brandId": brand } }),
        )
        .await;
        ids.push(p["id"].clone());
    }
    let d = eventually(&s, SEARCH, json!({}), |d| {
        d["products"]["facets"]["brands"][0]["count"] == 3
    })
    .await;
    assert_consistent(&d);

    for id in &ids {
        s.data(Some(t), UNPUBLISH, json!({ "ids": [id] })).await;
        // Right after the change, while the index may still hold the product as on sale.
        for _ in 0..10 {
            let d = s.data(None, SEARCH, json!({})).await;
            assert_consistent(&d);
            assert!(
                d["products"]["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e["node"]["id"] != *id),
                "an unpublished product is never shown: {d}"
            );
        }
        s.data(Some(t), PUBLISH, json!({ "ids": [id] })).await;
        for _ in 0..10 {
            assert_consistent(&s.data(None, SEARCH, json!({})).await);
        }
    }
}

#[tokio::test]
async fn only_a_response_served_from_memory_says_it_was_a_hit() {
    // Without statement counts, as in production: a stored body is sent as it was stored.
    let s = TestServer::start_with(|c| c.report_sql_statements = false).await;
    let boss = owner(&s).await;
    let p = published_product(&s, &boss.token, "木勺", "9.90", 10).await;
    let page = json!({ "id": p["id"] });
    let x_cache = |r: &reqwest::Response| {
        r.headers()
            .get("x-cache")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let first = s.post_gql(None, PAGE, page.clone()).await;
    assert_eq!(
        x_cache(&first).as_deref(),
        Some("miss"),
        "computed, then stored"
    );
    let second = s.post_gql(None, PAGE, page.clone()).await;
    assert_eq!(x_cache(&second).as_deref(), Some("hit"));
    let first: Value = first.json().await.unwrap();
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["data"], second["data"]);
    // Staff never get stored responses; theirs says nothing about the cache.
    let staff = s.post_gql(Some(&boss.token), PAGE, page).await;
    assert_eq!(x_cache(&staff), None);
}
