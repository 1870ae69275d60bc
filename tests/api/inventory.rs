//! Inventory: the ledger and its CSV, staff adjustments with idempotency keys, stocktakes,
//! low-stock alerts (once per crossing, by subscription, notification and e-mail), concurrent
//! reservations that never oversell, and stock reports.
use std::time::Duration;

use serde_json::{Value, json};

use crate::{catalog::*, fake_smtp::FakeSmtp, support::*};

const ADJUST: &str = "mutation($input: AdjustStockInput!) { adjustStock(input: $input) { sku { id stock } userErrors { code field message } } }";

async fn adjust(
    s: &TestServer,
    token: &str,
    sku: &Value,
    delta: i64,
    reason: &str,
    key: Option<&str>,
) -> Value {
    s.data(
        Some(token),
        ADJUST,
        json!({ "input": { "skuId": sku, "delta": delta, "reason": reason, "reference": "PO-1", "idempotencyKey": key } }),
    )
    .await["adjustStock"]
        .clone()
}

#[tokio::test]
async fn adjustments_and_stocktakes_write_the_ledger() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let keeper = staff(&s, &boss.token, "13700000081", &["INVENTORY"]).await;
    let p = published_product(&s, &boss.token, "雨伞", "39.00", 20).await;
    let sku = p["skus"][0]["id"].clone();
    let t = keeper.token.as_str();

    assert_eq!(
        adjust(&s, t, &sku, 30, "RESTOCK", None).await["sku"]["stock"],
        50
    );
    assert_eq!(
        adjust(&s, t, &sku, -5, "ADJUSTMENT", None).await["sku"]["stock"],
        45
    );
    let refused = adjust(&s, t, &sku, -46, "ADJUSTMENT", None).await;
    assert_eq!(user_error_codes(&refused), vec!["OUT_OF_STOCK"]);
    assert_eq!(
        user_error_codes(&adjust(&s, t, &sku, 0, "RESTOCK", None).await),
        vec!["INVALID_QUANTITY"]
    );
    assert_eq!(
        user_error_codes(&adjust(&s, t, &sku, 5, "ORDER_RESERVED", None).await),
        vec!["INVALID_REASON"]
    );
    assert_eq!(
        user_error_codes(&adjust(&s, t, &json!("bogus"), 5, "RESTOCK", None).await),
        vec!["SKU_NOT_FOUND"]
    );

    let take = "mutation($input: StocktakeInput!) { stocktake(input: $input) { sku { stock } userErrors { code } } }";
    let d = s
        .data(
            Some(t),
            take,
            json!({ "input": { "skuId": sku, "countedStock": 42, "note": "月底盘点" } }),
        )
        .await;
    assert_eq!(d["stocktake"]["sku"]["stock"], 42);

    let ledger = "query($sku: ID) { stockMovements(filter: { skuId: $sku }, first: 10) { totalCount edges { node { reason delta balanceAfter reference note } } } }";
    let d = s.data(Some(t), ledger, json!({ "sku": sku })).await;
    let rows: Vec<Value> = d["stockMovements"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(d["stockMovements"]["totalCount"], 4);
    assert_eq!(
        rows[0],
        json!({ "reason": "STOCKTAKE", "delta": -3, "balanceAfter": 42, "reference": null, "note": "月底盘点" })
    );
    assert_eq!(rows[3]["reason"], "RESTOCK");
    assert_eq!(rows[3]["balanceAfter"], 20);
    // Every balance is the previous balance plus the delta.
    for w in rows.windows(2) {
        assert_eq!(
            w[0]["balanceAfter"].as_i64().unwrap(),
            w[1]["balanceAfter"].as_i64().unwrap() + w[0]["delta"].as_i64().unwrap()
        );
    }

    let csv = s
        .http
        .get(s.url("/exports/stock-movements.csv"))
        .query(&[("skuId", sku.as_str().unwrap())])
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0].starts_with("id,time,sku_id"));
    assert!(lines[1].contains("STOCKTAKE") && lines[1].ends_with("月底盘点"));

    let consumer = register(&s, "13800000081", "Secret123").await;
    let denied = s
        .http
        .get(s.url("/exports/stock-movements.csv"))
        .bearer_auth(&consumer.token)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status().as_u16(), 403);
    let resp = s
        .gql(Some(&consumer.token), ledger, json!({ "sku": sku }))
        .await;
    assert_eq!(error_code(&resp), "FORBIDDEN");
}

#[tokio::test]
async fn idempotency_keys_replay_and_refuse_mismatches() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let p = published_product(&s, &boss.token, "水杯", "19.00", 10).await;
    let sku = p["skus"][0]["id"].clone();
    let first = adjust(&s, &boss.token, &sku, 7, "RESTOCK", Some("delivery-0042")).await;
    assert_eq!(first["sku"]["stock"], 17);
    let again = adjust(&s, &boss.token, &sku, 7, "RESTOCK", Some("delivery-0042")).await;
    assert_eq!(again["userErrors"], json!([]));
    let d = s
        .data(
            Some(&boss.token),
            "query($id: ID!) { node(id: $id) { ... on Sku { stock } } }",
            json!({ "id": sku }),
        )
        .await;
    assert_eq!(d["node"]["stock"], 17, "the retry did not add stock again");
    let other = adjust(&s, &boss.token, &sku, 8, "RESTOCK", Some("delivery-0042")).await;
    assert_eq!(user_error_codes(&other), vec!["IDEMPOTENCY_KEY_REUSED"]);
}

#[tokio::test]
async fn a_low_stock_alert_fires_once_per_crossing_with_one_email() {
    let smtp = FakeSmtp::start().await;
    let port = smtp.port;
    let s = TestServer::start_with(move |c| {
        c.smtp_host = Some("127.0.0.1".into());
        c.smtp_port = port;
        c.purchasing_emails = "buyer@shop.example, boss@shop.example".into();
        c.mailer_interval_ms = 200;
    })
    .await;
    let boss = owner(&s).await;
    let keeper = staff(&s, &boss.token, "13700000082", &["INVENTORY"]).await;
    let clerk = staff(&s, &boss.token, "13700000083", &["ORDERS"]).await;
    let p = published_product(&s, &boss.token, "洗衣液", "29.90", 20).await;
    let sku = p["skus"][0]["id"].clone();

    let mut ws = WsClient::connect_and_init(&s.ws_url(), Some(&keeper.token)).await;
    ws.subscribe(
        "low",
        "subscription { lowStockAlert { eventId alert { stock threshold sku { code } } } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Threshold is the global default, 10: 20 → 12 nothing; → 5 one alert; → 3 still one.
    adjust(&s, &boss.token, &sku, -8, "ADJUSTMENT", None).await;
    adjust(&s, &boss.token, &sku, -7, "ADJUSTMENT", None).await;
    adjust(&s, &boss.token, &sku, -2, "ADJUSTMENT", None).await;

    let msg = ws.recv().await.unwrap();
    assert_eq!(
        msg["payload"]["data"]["lowStockAlert"]["alert"]["stock"], 5,
        "{msg}"
    );
    assert_eq!(
        msg["payload"]["data"]["lowStockAlert"]["alert"]["threshold"],
        10
    );
    ws.expect_silence(Duration::from_millis(500)).await;

    let alerts = s
        .data(
            Some(&keeper.token),
            "{ lowStockAlerts { stock threshold resolvedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(alerts["lowStockAlerts"].as_array().unwrap().len(), 1);

    for _ in 0..50 {
        if !smtp.mails().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "one e-mail: {mails:?}");
    assert_eq!(mails[0].to.len(), 2);
    assert!(mails[0].data.contains("Subject:"));

    // Inventory staff (and the owner) got an in-app notification; other staff did not.
    let count = "{ notifications(unread: true) { totalCount edges { node { kind } } } }";
    assert_eq!(
        s.data(Some(&keeper.token), count, json!({})).await["notifications"]["totalCount"],
        1
    );
    assert_eq!(
        s.data(Some(&boss.token), count, json!({})).await["notifications"]["totalCount"],
        1
    );
    assert_eq!(
        s.data(Some(&clerk.token), count, json!({})).await["notifications"]["totalCount"],
        0
    );

    // Restocking above the threshold re-arms; the next fall alerts again.
    adjust(&s, &boss.token, &sku, 30, "RESTOCK", None).await;
    let open = s
        .data(
            Some(&keeper.token),
            "{ lowStockAlerts { stock } }",
            json!({}),
        )
        .await;
    assert_eq!(open["lowStockAlerts"], json!([]));
    adjust(&s, &boss.token, &sku, -30, "ADJUSTMENT", None).await;
    let msg = ws.recv().await.unwrap();
    assert_eq!(msg["payload"]["data"]["lowStockAlert"]["alert"]["stock"], 3);
}

#[tokio::test]
async fn thresholds_come_from_the_sku_then_product_then_category_then_global() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let t = boss.token.as_str();
    let parent = create_category(&s, t, "母婴", None).await;
    let child = create_category(&s, t, "奶粉", Some(&parent)).await;
    let q = "query($id: ID!) { product(id: $id) { skus { effectiveSafetyStock } } }";
    let p = create_product(
        &s,
        t,
        json!({ "name": "婴儿奶粉", "categoryId": child, "skus": [{ "price": "268.00" }] }),
    )
    .await;
    let threshold = || async {
        s.data(Some(t), q, json!({ "id": p["id"] })).await["product"]["skus"][0]["effectiveSafetyStock"].clone()
    };
    assert_eq!(threshold().await, 10, "global default");
    s.data(
        Some(t),
        "mutation { setDefaultSafetyStock(input: { safetyStock: 4 }) { userErrors { code } } }",
        json!({}),
    )
    .await;
    assert_eq!(threshold().await, 4);
    let upd = "mutation($input: UpdateCategoryInput!) { updateCategory(input: $input) { userErrors { code } } }";
    s.data(
        Some(t),
        upd,
        json!({ "input": { "id": parent, "safetyStock": 7 } }),
    )
    .await;
    assert_eq!(threshold().await, 7, "inherited from the parent category");
    s.data(
        Some(t),
        upd,
        json!({ "input": { "id": child, "safetyStock": 8 } }),
    )
    .await;
    assert_eq!(threshold().await, 8);
    s.data(Some(t), "mutation($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }", json!({ "input": { "id": p["id"], "safetyStock": 9 } })).await;
    assert_eq!(threshold().await, 9);
    s.data(
        Some(t),
        "mutation($input: UpdateSkusInput!) { updateSkus(input: $input) { userErrors { code } } }",
        json!({ "input": { "skus": [{ "id": p["skus"][0]["id"], "safetyStock": 2 }] } }),
    )
    .await;
    assert_eq!(threshold().await, 2);
}

/// SKU id inside a global id.
fn raw_id(global: &Value) -> i64 {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(global.as_str().unwrap())
        .unwrap();
    String::from_utf8(raw)
        .unwrap()
        .split_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap()
}

#[tokio::test]
async fn concurrent_reservations_never_oversell() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let p = published_product(&s, &boss.token, "限量球鞋", "1299.00", 100).await;
    let sku_id = raw_id(&p["skus"][0]["id"]);
    let app = s.app().clone();

    let tasks = (0..200).map(|i| {
        let app = app.clone();
        tokio::spawn(async move {
            let quantity = (i % 3) + 1;
            let tx = app.db.begin_write().await.map_err(|e| e.to_string())?;
            let result = distmall::inventory::service::reserve(
                &app,
                &tx,
                sku_id,
                quantity,
                &format!("ORDER-{i}"),
                None,
            )
            .await
            .map_err(|e| format!("{e:?}"))?;
            match result {
                Ok(sku) => {
                    assert!(sku.stock >= 0);
                    tx.commit().await.map_err(|e| e.to_string())?;
                    Ok::<_, String>(Some(quantity))
                }
                Err(distmall::inventory::service::StockRefusal::OutOfStock { .. }) => Ok(None),
                Err(other) => Err(format!("unexpected refusal {other:?}")),
            }
        })
    });
    let results = futures::future::join_all(tasks).await;
    let mut reserved = 0;
    let mut refused = 0;
    for r in results {
        match r.unwrap() {
            Ok(Some(q)) => reserved += q,
            Ok(None) => refused += 1,
            Err(e) => panic!("a reservation failed instead of being refused cleanly: {e}"),
        }
    }
    assert_eq!(reserved, 100, "exactly the stock was reserved");
    assert!(refused > 0);
    let d = s
        .data(
            Some(&boss.token),
            "query($id: ID!) { node(id: $id) { ... on Sku { stock } } }",
            json!({ "id": p["skus"][0]["id"] }),
        )
        .await;
    assert_eq!(d["node"]["stock"], 0);
    let ledger = s
        .data(Some(&boss.token), "query($sku: ID) { stockMovements(filter: { skuId: $sku, reason: ORDER_RESERVED }) { totalCount } }", json!({ "sku": p["skus"][0]["id"] }))
        .await;
    assert_eq!(ledger["stockMovements"]["totalCount"], 200 - refused);
}

#[tokio::test]
async fn daily_sales_and_stock_valuation() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let p = published_product(&s, &boss.token, "面膜", "99.00", 50).await;
    let sku_id = raw_id(&p["skus"][0]["id"]);
    let app = s.app().clone();
    let tx = app.db.begin_write().await.unwrap();
    distmall::inventory::service::reserve(&app, &tx, sku_id, 3, "ORDER-A", None)
        .await
        .unwrap()
        .unwrap();
    distmall::inventory::service::reserve(&app, &tx, sku_id, 2, "ORDER-B", None)
        .await
        .unwrap()
        .unwrap();
    distmall::inventory::service::release(&app, &tx, sku_id, 1, "ORDER-B", None)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();

    let d = s
        .data(
            Some(&boss.token),
            "query($sku: ID!) { skuDailySales(skuId: $sku, days: 30) { date units } }",
            json!({ "sku": p["skus"][0]["id"] }),
        )
        .await;
    let days = d["skuDailySales"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days.last().unwrap()["units"], 4, "3 + 2 − 1 today");
    assert_eq!(
        days.iter()
            .map(|d| d["units"].as_i64().unwrap())
            .sum::<i64>(),
        4
    );

    // 46 units at a cost of ¥1.00.
    let v = s
        .data(
            Some(&boss.token),
            "{ stockValuation { units value byCategory { units value category { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(v["stockValuation"]["units"], 46);
    assert_eq!(v["stockValuation"]["value"], "46.00");
    assert_eq!(
        v["stockValuation"]["byCategory"][0]["category"]["name"],
        "类目-面膜"
    );
}
