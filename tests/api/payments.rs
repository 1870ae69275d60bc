//! Payments through real provider protocols against fake WeChat Pay and Alipay servers the
//! tests start: prepay parameters, verified notifications (genuine, forged, stale, wrong
//! amount), ten concurrent deliveries of one notification, and the dev provider's limits.
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::{fake_alipay::FakeAlipay, fake_wechatpay::FakeWechatPay, orders::*, support::*};

const ORDER: &str = "query($id: ID!) { order(id: $id) { status paymentStatus paymentProvider history { toStatus } payments { status provider outTradeNo providerTransactionId } } }";

pub fn write_temp(contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("distmall-key-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&path, contents).unwrap();
    path
}

/// Settings that point a server at the fake WeChat Pay.
pub fn wechat_settings(f: &FakeWechatPay) -> impl FnOnce(&mut distmall::Config) + use<> {
    let f = f.clone();
    let key = write_temp(&f.merchant_private_key_pem);
    let platform = write_temp(&f.platform_public_key_pem);
    move |c| {
        c.public_url = Some("https://shop.example.com".into());
        c.wechat_appid = Some(f.app_id.clone());
        c.wechatpay_mch_id = Some(f.mch_id.clone());
        c.wechatpay_merchant_serial_no = Some(f.merchant_serial.clone());
        c.wechatpay_private_key_path = Some(key);
        c.wechatpay_api_v3_key = Some(f.api_v3_key.clone());
        c.wechatpay_platform_key_serial = Some(f.platform_serial.clone());
        c.wechatpay_platform_key_path = Some(platform);
        c.wechatpay_base_url = f.base_url.clone();
    }
}

pub async fn server_with(wx: Option<&FakeWechatPay>, ali: Option<&FakeAlipay>) -> TestServer {
    let wx = wx.map(wechat_settings);
    let ali = ali.map(|f| {
        (
            f.gateway_url(),
            f.app_id().to_string(),
            write_temp(&f.app_private_key_pem()),
            write_temp(&f.alipay_public_key_pem()),
        )
    });
    TestServer::start_with(move |c| {
        c.public_url = Some("https://shop.example.com".into());
        if let Some(wx) = wx {
            wx(c);
        }
        if let Some((gateway, app_id, key, public)) = ali {
            c.alipay_app_id = Some(app_id);
            c.alipay_private_key_path = Some(key);
            c.alipay_public_key_path = Some(public);
            c.alipay_gateway_url = gateway;
        }
    })
    .await
}

/// The mini-program login stores the buyer's openid; tests about payments set it directly.
pub async fn give_openid(s: &TestServer, account: &Account) {
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    let user_id =
        distmall::graphql::ids::decode("User", &async_graphql::ID(account.id.clone())).unwrap();
    let mut u: entity::user::ActiveModel = entity::user::Entity::find_by_id(user_id)
        .one(s.app().db.conn())
        .await
        .unwrap()
        .unwrap()
        .into();
    u.wechat_openid = Set(Some(format!("o-{user_id}")));
    u.update(s.app().db.conn()).await.unwrap();
}

/// Pays `order` with WeChat Pay: the prepay, then the notification the fake signs.
pub async fn pay_with_wechat(s: &TestServer, fake: &FakeWechatPay, token: &str, order: &Value) {
    let paying = s
        .data(Some(token), PAY, json!({ "id": order, "p": "WECHAT_PAY" }))
        .await["createPayment"]
        .clone();
    assert_eq!(paying["userErrors"], json!([]), "{paying}");
    let no = paying["payment"]["outTradeNo"].as_str().unwrap();
    let yuan: rust_decimal::Decimal = paying["payment"]["amount"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let fen = i64::try_from(yuan * rust_decimal::Decimal::ONE_HUNDRED).unwrap();
    assert_eq!(
        post_wechat(s, fake.payment_notification(no, fen)).await,
        204
    );
}

/// A buyer (signed in with WeChat, so they have an openid) with an unpaid order of ¥99.50.
async fn unpaid_order(s: &TestServer) -> (Account, Account, Value, String) {
    let boss = owner(s).await;
    let p = crate::catalog::published_product(s, &boss.token, "保温杯", "99.50", 10).await;
    let buyer = register(s, "13800000401", "Secret123").await;
    // The mini-program login stores the openid; this test is about payments, so it is set
    // directly.
    let user_id =
        distmall::graphql::ids::decode("User", &async_graphql::ID(buyer.id.clone())).unwrap();
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    let mut u: entity::user::ActiveModel = entity::user::Entity::find_by_id(user_id)
        .one(s.app().db.conn())
        .await
        .unwrap()
        .unwrap()
        .into();
    u.wechat_openid = Set(Some("o-buyer-openid".into()));
    u.update(s.app().db.conn()).await.unwrap();
    let address = create_address(s, &buyer.token, "13800000401").await;
    let placed = place(
        s,
        &buyer.token,
        &address,
        json!([{ "skuId": p["skus"][0]["id"], "quantity": 1 }]),
        "k",
    )
    .await;
    let id = placed["order"]["id"].clone();
    (
        boss,
        buyer,
        id,
        placed["order"]["orderNo"].as_str().unwrap().to_string(),
    )
}

pub async fn post_wechat(s: &TestServer, (headers, body): (Vec<(String, String)>, String)) -> u16 {
    let mut req = reqwest::Client::new()
        .post(s.url("/webhooks/wechatpay"))
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn wechat_pay_prepays_and_a_verified_notification_pays_once() {
    let fake = FakeWechatPay::start().await;
    let s = server_with(Some(&fake), None).await;
    let (boss, buyer, id, order_no) = unpaid_order(&s).await;
    let t = buyer.token.as_str();

    let paying = s
        .data(Some(t), PAY, json!({ "id": id, "p": "WECHAT_PAY" }))
        .await["createPayment"]
        .clone();
    assert_eq!(paying["userErrors"], json!([]), "{paying}");
    assert_eq!(paying["payment"]["status"], "PENDING");
    assert_eq!(paying["order"]["status"], "SUBMITTED");
    let out_trade_no = paying["payment"]["outTradeNo"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(out_trade_no.starts_with(&order_no));
    let params = s
        .data(
            Some(t),
            "query($id: ID!) { order(id: $id) { payments { clientParameters } } }",
            json!({ "id": id }),
        )
        .await;
    let params: Value = serde_json::from_str(
        params["order"]["payments"][0]["clientParameters"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(params["appId"], fake.app_id.as_str());
    assert!(
        params["package"]
            .as_str()
            .unwrap()
            .starts_with("prepay_id=")
    );
    assert_eq!(params["signType"], "RSA");
    assert!(params["paySign"].as_str().is_some_and(|s| !s.is_empty()));
    let prepay = fake
        .requests()
        .into_iter()
        .find(|r| r.path_and_query.starts_with("/v3/pay/transactions/jsapi"))
        .unwrap();
    assert!(
        prepay.signature_valid,
        "requests are signed with the merchant key"
    );
    let sent = prepay.json;
    assert_eq!(sent["amount"]["total"], 9950);
    assert!(sent["payer"]["openid"].as_str().unwrap().starts_with("o-"));
    assert_eq!(sent["out_trade_no"], out_trade_no.as_str());
    assert_eq!(
        sent["notify_url"],
        "https://shop.example.com/webhooks/wechatpay"
    );
    // Asking again reuses the attempt: one trade number, so the buyer cannot pay twice.
    let again = s
        .data(Some(t), PAY, json!({ "id": id, "p": "WECHAT_PAY" }))
        .await;
    assert_eq!(
        again["createPayment"]["payment"]["outTradeNo"],
        out_trade_no.as_str()
    );

    // Forged and stale notifications are refused and change nothing.
    assert_eq!(
        post_wechat(&s, fake.forged_payment_notification(&out_trade_no, 9950)).await,
        401
    );
    assert_eq!(
        post_wechat(&s, fake.stale_payment_notification(&out_trade_no, 9950)).await,
        401
    );
    // A genuine notification with the wrong amount changes nothing and alerts staff.
    assert_eq!(
        post_wechat(&s, fake.payment_notification(&out_trade_no, 1)).await,
        204
    );
    let o = s.data(Some(t), ORDER, json!({ "id": id })).await;
    assert_eq!(o["order"]["status"], "SUBMITTED");
    let alerts = s
        .data(
            Some(&boss.token),
            "{ notifications(first: 10) { edges { node { kind title } } } }",
            json!({}),
        )
        .await;
    let alerted = alerts["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["kind"] == "ORDER")
        .map(|e| e["node"]["title"].as_str().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(alerted, vec!["Payment alert: AMOUNT_MISMATCH"], "{alerts}");

    // The same genuine notification ten times at once: paid once.
    let genuine = fake.payment_notification(&out_trade_no, 9950);
    let deliveries = (0..10).map(|_| {
        let n = genuine.clone();
        let s = &s;
        async move { post_wechat(s, n).await }
    });
    let statuses = futures::future::join_all(deliveries).await;
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    let o = s.data(Some(t), ORDER, json!({ "id": id })).await["order"].clone();
    assert_eq!(o["status"], "PAID");
    assert_eq!(o["paymentStatus"], "PAID");
    assert_eq!(o["paymentProvider"], "WECHAT_PAY");
    assert_eq!(
        o["history"],
        json!([{ "toStatus": "SUBMITTED" }, { "toStatus": "PAID" }])
    );
    assert_eq!(o["payments"][0]["status"], "SUCCEEDED");
    assert!(o["payments"][0]["providerTransactionId"].is_string());
    use sea_orm::ConnectionTrait;
    let events = s
        .app()
        .db
        .conn()
        .query_all_raw(sea_orm::Statement::from_string(
            s.app().db.backend(),
            "SELECT payload FROM domain_events WHERE event_type = 'order.status_changed'",
        ))
        .await
        .unwrap();
    let paid_events = events
        .iter()
        .filter(|r| {
            let p: String = r.try_get("", "payload").unwrap();
            p.contains("\"to\":\"PAID\"")
        })
        .count();
    assert_eq!(paid_events, 1, "one event for one payment");
}

#[tokio::test]
async fn alipay_pays_through_its_cashier_and_verified_notification() {
    let fake = FakeAlipay::start().await;
    let s = server_with(None, Some(&fake)).await;
    let (_, buyer, id, _) = unpaid_order(&s).await;
    let t = buyer.token.as_str();
    let paying = s
        .data(Some(t), PAY, json!({ "id": id, "p": "ALIPAY" }))
        .await["createPayment"]
        .clone();
    assert_eq!(paying["userErrors"], json!([]), "{paying}");
    let out_trade_no = paying["payment"]["outTradeNo"]
        .as_str()
        .unwrap()
        .to_string();
    let params = s
        .data(
            Some(t),
            "query($id: ID!) { order(id: $id) { payments { clientParameters } } }",
            json!({ "id": id }),
        )
        .await;
    let params: Value = serde_json::from_str(
        params["order"]["payments"][0]["clientParameters"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(
        params["payUrl"]
            .as_str()
            .unwrap()
            .starts_with(&fake.gateway_url())
    );
    let post = |body: String| {
        let url = s.url("/webhooks/alipay");
        async move {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let forged = fake.forged_payment_notification(fake.app_id(), &out_trade_no, 9950);
    assert_eq!(post(forged).await, "failure");
    assert_eq!(
        s.data(Some(t), ORDER, json!({ "id": id })).await["order"]["status"],
        "SUBMITTED"
    );
    let genuine = fake.payment_notification(fake.app_id(), &out_trade_no, 9950);
    assert_eq!(post(genuine.clone()).await, "success");
    assert_eq!(post(genuine).await, "success", "a repeat is acknowledged");
    let o = s.data(Some(t), ORDER, json!({ "id": id })).await["order"].clone();
    assert_eq!(o["status"], "PAID");
    assert_eq!(o["paymentProvider"], "ALIPAY");
    assert_eq!(o["history"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_dev_provider_is_refused_in_production() {
    let s = TestServer::start_with(|c| {
        c.env = distmall::config::RunMode::Production;
    })
    .await;
    let (_, buyer, id, _) = unpaid_order(&s).await;
    let r = s
        .data(Some(&buyer.token), PAY, json!({ "id": id, "p": "DEV" }))
        .await;
    assert_eq!(
        user_error_codes(&r["createPayment"]),
        vec!["PAYMENT_UNAVAILABLE"]
    );
}
