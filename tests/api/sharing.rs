//! Sharing: a distributor's share of a product with its link, copy and poster (the QR code
//! read back from the served PNG is the link), the copy following staff's template, the
//! funnel (visits, binding, the order paid after opening), a group's copy with places left,
//! and the WeChat mini-program code drawn in place of the QR code when the mini-program is
//! configured (against a fake WeChat).
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Json, Router, extract::Query, routing::post};
use serde_json::{Value, json};

use crate::{
    distribution::{shop, shop_with},
    group_buying::{LAUNCH, campaign},
    support::*,
};

const CONTENT: &str = "query($t: ShareTarget!, $id: ID, $c: ShareChannel!) { shareContent(target: $t, id: $id, channel: $c) { url referralCode copy share { code target targetId channel visits } } }";
const POSTER: &str = "query($t: ShareTarget!, $id: ID, $c: ShareChannel!) { shareContent(target: $t, id: $id, channel: $c) { url posterUrl share { code } } }";
const OPEN: &str = "mutation($code: String!) { openShare(code: $code) { target targetId bound userErrors { code field } } }";
const STATS: &str = "query { myShareStats { shares visits bindings orders sales top { code visits bindings orders sales } } }";
const SAVE: &str = "mutation($t: ShareTarget!, $c: ShareChannel!, $template: String) { saveShareTemplate(target: $t, channel: $c, template: $template) { template { template isDefault } userErrors { code field message } } }";

/// The QR codes found in a PNG.
fn qr_codes_in(png: &[u8]) -> Vec<String> {
    let image = image::load_from_memory(png).expect("a PNG").to_luma8();
    let (w, h) = image.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            image.get_pixel(x as u32, y as u32).0[0]
        });
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect()
}

/// Fetches a served poster: its bytes and cache header.
async fn fetch(s: &TestServer, url: &str) -> (Vec<u8>, String, String) {
    let resp = reqwest::get(s.url(url)).await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (kind, cache) = (header("content-type"), header("cache-control"));
    (resp.bytes().await.unwrap().to_vec(), kind, cache)
}

#[tokio::test]
async fn a_distributors_share_carries_their_code_and_a_poster_whose_qr_code_is_the_link() {
    let shop = shop().await;
    let s = &shop.s;
    let d = shop.distributor("13800009101", None).await;
    let vars = json!({ "t": "PRODUCT", "id": shop.product, "c": "CHAT_GROUP" });
    let content = s.data(Some(&d.a.token), CONTENT, vars.clone()).await["shareContent"].clone();
    let code = content["share"]["code"].as_str().unwrap().to_string();
    assert_eq!(content["referralCode"], json!(d.code));
    assert!(
        content["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/share/{code}?ref={}", d.code)),
        "{content}"
    );
    assert_eq!(content["copy"], "【男子轻便跑步运动鞋】¥100.00，手慢无！");
    // Asking again gives the same share; another channel is another share with its own copy.
    let again = s.data(Some(&d.a.token), CONTENT, vars.clone()).await["shareContent"].clone();
    assert_eq!(again["share"]["code"], json!(code));
    let moments = s
        .data(
            Some(&d.a.token),
            CONTENT,
            json!({ "t": "PRODUCT", "id": shop.product, "c": "MOMENTS" }),
        )
        .await["shareContent"]
        .clone();
    assert_ne!(moments["share"]["code"], json!(code));
    assert!(
        moments["copy"]
            .as_str()
            .unwrap()
            .starts_with("好物推荐｜男子轻便跑步运动鞋"),
        "{moments}"
    );

    // The poster is a PNG served with a long cache, and its QR code reads back as the link.
    let poster = s.data(Some(&d.a.token), POSTER, vars.clone()).await["shareContent"].clone();
    let url = poster["posterUrl"].as_str().unwrap().to_string();
    let (png, kind, cache) = fetch(s, &url).await;
    assert_eq!(kind, "image/png");
    assert!(cache.contains("max-age=31536000"), "{cache}");
    assert_eq!(qr_codes_in(&png), vec![poster["url"].as_str().unwrap()]);
    // The same facts give the same poster, from the store.
    let cached =
        s.data(Some(&d.a.token), POSTER, vars.clone()).await["shareContent"]["posterUrl"].clone();
    assert_eq!(cached, json!(url));

    // Unknown or unsellable things cannot be shared; the shop can, by anyone signed in.
    let nothing = s
        .gql(
            Some(&d.a.token),
            CONTENT,
            json!({ "t": "PRODUCT", "id": "UHJvZHVjdDo5OTk5", "c": "FRIEND" }),
        )
        .await;
    assert_eq!(error_code(&nothing), "NOT_FOUND", "{nothing}");
    let anonymous = s.gql(None, CONTENT, vars.clone()).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
    let shop_share = s
        .data(
            Some(&shop.buyer.token),
            CONTENT,
            json!({ "t": "SHOP", "c": "FRIEND" }),
        )
        .await["shareContent"]
        .clone();
    assert_eq!(
        shop_share["referralCode"],
        Value::Null,
        "a consumer has none"
    );
    assert_eq!(shop_share["share"]["targetId"], Value::Null);
    assert!(
        shop_share["copy"]
            .as_str()
            .unwrap()
            .starts_with("我常在微商城买东西"),
        "{shop_share}"
    );
}

#[tokio::test]
async fn staff_write_the_copy_and_a_bad_template_changes_nothing() {
    let shop = shop().await;
    let s = &shop.s;
    let d = shop.distributor("13800009201", None).await;
    let t = Some(shop.boss.token.as_str());
    for (template, code) in [
        ("{name} {cost}", "UNKNOWN_PLACEHOLDER"),
        ("{name} [{price}", "INVALID_TEMPLATE"),
        ("   ", "INVALID_TEMPLATE"),
    ] {
        let r = s
            .data(
                t,
                SAVE,
                json!({ "t": "PRODUCT", "c": "FRIEND", "template": template }),
            )
            .await;
        assert_eq!(user_error_codes(&r["saveShareTemplate"]), [code], "{r}");
    }
    let vars = json!({ "t": "PRODUCT", "id": shop.product, "c": "FRIEND" });
    let before =
        s.data(Some(&d.a.token), CONTENT, vars.clone()).await["shareContent"]["copy"].clone();
    assert_eq!(
        before,
        "男子轻便跑步运动鞋挺不错的，¥100.00，推荐给你看看～"
    );
    let saved = s
        .data(
            t,
            SAVE,
            json!({ "t": "PRODUCT", "c": "FRIEND", "template": "{sharer}推荐：{name}只要{price}[（原价{marketPrice}）]" }),
        )
        .await;
    assert_eq!(
        saved["saveShareTemplate"]["userErrors"],
        json!([]),
        "{saved}"
    );
    assert_eq!(saved["saveShareTemplate"]["template"]["isDefault"], false);
    let after =
        s.data(Some(&d.a.token), CONTENT, vars.clone()).await["shareContent"]["copy"].clone();
    let nickname = s
        .data(Some(&d.a.token), "{ me { nickname } }", json!({}))
        .await["me"]["nickname"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        after,
        json!(format!("{nickname}推荐：男子轻便跑步运动鞋只要¥100.00"))
    );
    // Consumers may not edit copy; a null template restores the default.
    let refused = s
        .gql(
            Some(&shop.buyer.token),
            SAVE,
            json!({ "t": "PRODUCT", "c": "FRIEND", "template": "{name}" }),
        )
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
    let reset = s
        .data(
            t,
            SAVE,
            json!({ "t": "PRODUCT", "c": "FRIEND", "template": null }),
        )
        .await;
    assert_eq!(reset["saveShareTemplate"]["template"]["isDefault"], true);
    let listed = s
        .data(
            t,
            "{ shareTemplates { target channel isDefault } sharePlaceholders { name } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["shareTemplates"].as_array().unwrap().len(), 9);
    assert!(
        listed["sharePlaceholders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "placesLeft")
    );
}

#[tokio::test]
async fn opening_a_share_binds_the_visitor_and_their_paid_order_counts_in_the_funnel() {
    let shop = shop().await;
    let s = &shop.s;
    let d = shop.distributor("13800009301", None).await;
    let content = s
        .data(
            Some(&d.a.token),
            CONTENT,
            json!({ "t": "PRODUCT", "id": shop.product, "c": "CHAT_GROUP" }),
        )
        .await["shareContent"]
        .clone();
    let code = content["share"]["code"].as_str().unwrap().to_lowercase();

    // Someone not signed in, then the buyer (codes as people type them).
    let anonymous = s.data(None, OPEN, json!({ "code": code })).await["openShare"].clone();
    assert_eq!(
        anonymous,
        json!({ "target": "PRODUCT", "targetId": shop.product, "bound": false, "userErrors": [] })
    );
    let opened = s
        .data(Some(&shop.buyer.token), OPEN, json!({ "code": code }))
        .await["openShare"]
        .clone();
    assert_eq!(opened["bound"], true, "{opened}");
    let unknown = s.data(None, OPEN, json!({ "code": "NOSUCHCODE" })).await;
    assert_eq!(user_error_codes(&unknown["openShare"]), ["SHARE_NOT_FOUND"]);
    // The sharer opening their own link counts a visit and nothing else.
    let own = s
        .data(Some(&d.a.token), OPEN, json!({ "code": code }))
        .await["openShare"]
        .clone();
    assert_eq!(own["bound"], false);

    let order = shop.buy(2, "share-order").await;
    let stats = s.data(Some(&d.a.token), STATS, json!({})).await["myShareStats"].clone();
    assert_eq!(
        (
            stats["shares"].as_i64(),
            stats["visits"].as_i64(),
            stats["bindings"].as_i64(),
            stats["orders"].as_i64(),
            stats["sales"].as_str()
        ),
        (Some(1), Some(3), Some(1), Some(1), Some("200.00")),
        "{stats}"
    );
    assert_eq!(stats["top"][0]["orders"], 1);
    // Someone else's funnel is theirs alone.
    let theirs = s.data(Some(&shop.buyer.token), STATS, json!({})).await["myShareStats"].clone();
    assert_eq!(
        (theirs["shares"].as_i64(), theirs["orders"].as_i64()),
        (Some(0), Some(0))
    );
    // A refund takes its amount back off the share's sales.
    crate::distribution::refund(&shop, &order, 1, false).await;
    let stats = s.data(Some(&d.a.token), STATS, json!({})).await["myShareStats"].clone();
    assert_eq!(stats["sales"], "100.00", "{stats}");
}

#[tokio::test]
async fn a_groups_copy_counts_the_places_left() {
    let shop = shop().await;
    let s = &shop.s;
    let c = campaign(&shop, 3, false).await;
    let d = shop.distributor("13800009401", None).await;
    let group =
        s.data(Some(&d.a.token), LAUNCH, json!({ "id": c })).await["launchGroupBuy"]["group"]["id"]
            .clone();
    let content = s
        .data(
            Some(&d.a.token),
            CONTENT,
            json!({ "t": "GROUP", "id": group, "c": "FRIEND" }),
        )
        .await["shareContent"]
        .clone();
    assert_eq!(
        content["copy"],
        "我在拼男子轻便跑步运动鞋，拼团价¥79.00，还差3人，帮我凑个团吧～"
    );
    assert_eq!(content["share"]["targetId"], group);
    let opened = s
        .data(None, OPEN, json!({ "code": content["share"]["code"] }))
        .await;
    assert_eq!(opened["openShare"]["target"], "GROUP");
    assert_eq!(opened["openShare"]["targetId"], group);
}

/// A PNG of a QR code reading `text`, standing in for WeChat's mini-program code.
fn code_png(text: &str) -> Vec<u8> {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let (modules, scale, quiet) = (code.width() as u32, 8u32, 4u32);
    let side = (modules + 2 * quiet) * scale;
    let image = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        let dark = mx >= quiet
            && my >= quiet
            && mx < quiet + modules
            && my < quiet + modules
            && code[((mx - quiet) as usize, (my - quiet) as usize)] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

/// A fake WeChat: `stable_token` hands out `tok-1`; `getwxacodeunlimit` answers a QR code of
/// `wxacode:{page}?{scene}` for that token. Counts both.
async fn fake_wechat_codes() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let tokens = Arc::new(AtomicUsize::new(0));
    let codes = Arc::new(AtomicUsize::new(0));
    let (t, c) = (tokens.clone(), codes.clone());
    let app = Router::new()
        .route(
            "/cgi-bin/stable_token",
            post(move |Json(body): Json<Value>| {
                let t = t.clone();
                async move {
                    assert_eq!(body["appid"], "wx-test-app");
                    assert_eq!(body["secret"], "wx-test-secret");
                    assert_eq!(body["grant_type"], "client_credential");
                    t.fetch_add(1, Ordering::SeqCst);
                    Json(json!({ "access_token": "tok-1", "expires_in": 7200 }))
                }
            }),
        )
        .route(
            "/wxa/getwxacodeunlimit",
            post(
                move |Query(q): Query<std::collections::HashMap<String, String>>,
                      Json(body): Json<Value>| {
                    let c = c.clone();
                    async move {
                        if q.get("access_token").map(String::as_str) != Some("tok-1") {
                            return axum::response::IntoResponse::into_response(Json(
                                json!({ "errcode": 40001, "errmsg": "invalid credential" }),
                            ));
                        }
                        c.fetch_add(1, Ordering::SeqCst);
                        let text = format!(
                            "wxacode:{}?{}",
                            body["page"].as_str().unwrap(),
                            body["scene"].as_str().unwrap()
                        );
                        axum::response::IntoResponse::into_response((
                            [("content-type", "image/png")],
                            code_png(&text),
                        ))
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), tokens, codes)
}

#[tokio::test]
async fn with_the_mini_program_configured_the_poster_carries_its_code_from_wechat() {
    let (base, tokens, codes) = fake_wechat_codes().await;
    let shop = shop_with(|c| {
        c.wechat_appid = Some("wx-test-app".into());
        c.wechat_secret = Some("wx-test-secret".into());
        c.wechat_api_base = base;
    })
    .await;
    let s = &shop.s;
    let d = shop.distributor("13800009501", None).await;
    let mut seen = Vec::new();
    for channel in ["MOMENTS", "FRIEND", "FRIEND"] {
        let poster = s
            .data(
                Some(&d.a.token),
                POSTER,
                json!({ "t": "PRODUCT", "id": shop.product, "c": channel }),
            )
            .await["shareContent"]
            .clone();
        let code = poster["share"]["code"].as_str().unwrap();
        let (png, _, _) = fetch(s, poster["posterUrl"].as_str().unwrap()).await;
        assert_eq!(
            qr_codes_in(&png),
            vec![format!("wxacode:pages/share/index?{code}")],
            "the mini-program code opens the share page with the share code as its scene"
        );
        seen.push(poster["posterUrl"].clone());
    }
    assert_eq!(seen[1], seen[2], "the same poster again");
    assert_eq!(codes.load(Ordering::SeqCst), 2, "one code per share, kept");
    assert_eq!(tokens.load(Ordering::SeqCst), 1, "one access token, kept");
}
