//! Catalog: permissions, the category tree, specs and the SKU matrix, visibility, cost prices,
//! sanitised descriptions, uploads, bulk operations and scheduled publishing.
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

pub const CREATE_CATEGORY: &str = "mutation($input: CreateCategoryInput!) { createCategory(input: $input) { category { id name } userErrors { code field message } } }";
pub const SAVE_BRAND: &str = "mutation($input: BrandInput!) { saveBrand(input: $input) { brand { id name } userErrors { code field } } }";
pub const SAVE_AUDIENCE: &str = "mutation($input: AudienceInput!) { saveAudience(input: $input) { audience { id name } userErrors { code } } }";
pub const CREATE_PRODUCT: &str = "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id name status skus { id code specLabel price stock } } userErrors { code field message } } }";
pub const PUBLISH: &str = "mutation($ids: [ID!]!) { publishProducts(input: { ids: $ids }) { products { id status } userErrors { code field message } } }";
pub const UNPUBLISH: &str = "mutation($ids: [ID!]!) { unpublishProducts(input: { ids: $ids }) { products { id status } userErrors { code } } }";

pub async fn create_category(
    s: &TestServer,
    token: &str,
    name: &str,
    parent: Option<&str>,
) -> String {
    let d = s
        .data(
            Some(token),
            CREATE_CATEGORY,
            json!({ "input": { "name": name, "parentId": parent } }),
        )
        .await;
    assert_eq!(d["createCategory"]["userErrors"], json!([]), "{d}");
    d["createCategory"]["category"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub async fn create_brand(s: &TestServer, token: &str, name: &str) -> String {
    let d = s
        .data(
            Some(token),
            SAVE_BRAND,
            json!({ "input": { "name": name } }),
        )
        .await;
    assert_eq!(d["saveBrand"]["userErrors"], json!([]), "{d}");
    d["saveBrand"]["brand"]["id"].as_str().unwrap().to_string()
}

/// Creates a product and returns the payload's `product`.
pub async fn create_product(s: &TestServer, token: &str, input: Value) -> Value {
    let d = s
        .data(Some(token), CREATE_PRODUCT, json!({ "input": input }))
        .await;
    assert_eq!(d["createProduct"]["userErrors"], json!([]), "{d:#}");
    d["createProduct"]["product"].clone()
}

/// A category and a published product with one SKU of the given price and stock.
pub async fn published_product(
    s: &TestServer,
    token: &str,
    name: &str,
    price: &str,
    stock: i64,
) -> Value {
    let cat = create_category(s, token, &format!("类目-{name}"), None).await;
    let p = create_product(
        s,
        token,
        json!({ "name": name, "categoryId": cat, "skus": [{ "price": price, "costPrice": "1.00", "initialStock": stock }] }),
    )
    .await;
    let d = s
        .data(Some(token), PUBLISH, json!({ "ids": [p["id"]] }))
        .await;
    assert_eq!(d["publishProducts"]["userErrors"], json!([]), "{d}");
    p
}

#[tokio::test]
async fn catalog_changes_need_the_catalog_permission() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let consumer = register(&s, "13800000071", "Secret123").await;
    let clerk = staff(&s, &boss.token, "13700000071", &["ORDERS"]).await;
    let merch = staff(&s, &boss.token, "13700000072", &["CATALOG"]).await;
    for token in [&consumer.token, &clerk.token] {
        let resp = s
            .gql(
                Some(token),
                CREATE_CATEGORY,
                json!({ "input": { "name": "鞋" } }),
            )
            .await;
        assert_eq!(error_code(&resp), "FORBIDDEN");
        let resp = s
            .gql(
                Some(token),
                CREATE_PRODUCT,
                json!({ "input": { "name": "x", "skus": [{ "price": "1.00" }] } }),
            )
            .await;
        assert_eq!(error_code(&resp), "FORBIDDEN");
    }
    let resp = s
        .gql(None, CREATE_CATEGORY, json!({ "input": { "name": "鞋" } }))
        .await;
    assert_eq!(error_code(&resp), "UNAUTHENTICATED");
    create_category(&s, &merch.token, "鞋", None).await;
    let d = s.data(None, "{ categories { name } }", json!({})).await;
    assert_eq!(d["categories"], json!([{ "name": "鞋" }]));
}

#[tokio::test]
async fn the_category_tree_moves_renames_reorders_and_deletes_safely() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let t = boss.token.as_str();
    let clothes = create_category(&s, t, "服装", None).await;
    let men = create_category(&s, t, "男装", Some(&clothes)).await;
    let shirts = create_category(&s, t, "衬衫", Some(&men)).await;
    let women = create_category(&s, t, "女装", Some(&clothes)).await;

    let dup = s
        .data(
            Some(t),
            CREATE_CATEGORY,
            json!({ "input": { "name": "男装", "parentId": clothes } }),
        )
        .await;
    assert_eq!(user_error_codes(&dup["createCategory"]), vec!["NAME_TAKEN"]);
    // Same name under another parent is fine.
    create_category(&s, t, "衬衫", Some(&women)).await;

    let update = "mutation($input: UpdateCategoryInput!) { updateCategory(input: $input) { category { id name parent { id } path { name } } userErrors { code } } }";
    let d = s
        .data(
            Some(t),
            update,
            json!({ "input": { "id": clothes, "parentId": shirts } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["updateCategory"]),
        vec!["CATEGORY_CYCLE"]
    );
    let d = s
        .data(
            Some(t),
            update,
            json!({ "input": { "id": shirts, "parentId": women, "name": "女士衬衫" } }),
        )
        .await;
    assert_eq!(
        d["updateCategory"]["category"]["path"],
        json!([{ "name": "服装" }, { "name": "女装" }, { "name": "女士衬衫" }])
    );
    let d = s
        .data(
            Some(t),
            update,
            json!({ "input": { "id": men, "parentId": null } }),
        )
        .await;
    assert_eq!(d["updateCategory"]["category"]["parent"], Value::Null);

    let reorder = "mutation($ids: [ID!]!) { reorderCategories(input: { ids: $ids }) { categories { name sortOrder } userErrors { code } } }";
    let d = s
        .data(Some(t), reorder, json!({ "ids": [men, clothes] }))
        .await;
    assert_eq!(
        d["reorderCategories"]["categories"],
        json!([{ "name": "男装", "sortOrder": 0 }, { "name": "服装", "sortOrder": 1 }])
    );
    let roots = s
        .data(None, "{ categories { name children { name } } }", json!({}))
        .await;
    assert_eq!(roots["categories"][0]["name"], "男装");

    let delete = "mutation($id: ID!) { deleteCategory(input: { id: $id }) { deletedId userErrors { code } } }";
    let d = s.data(Some(t), delete, json!({ "id": clothes })).await;
    assert_eq!(
        user_error_codes(&d["deleteCategory"]),
        vec!["CATEGORY_NOT_EMPTY"]
    );
    let d = s.data(Some(t), delete, json!({ "id": men })).await;
    assert_eq!(d["deleteCategory"]["deletedId"], men.as_str());
    let d = s.data(Some(t), delete, json!({ "id": "bogus" })).await;
    assert_eq!(
        user_error_codes(&d["deleteCategory"]),
        vec!["CATEGORY_NOT_FOUND"]
    );
}

#[tokio::test]
async fn specs_generate_the_sku_matrix() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let t = boss.token.as_str();
    let cat = create_category(&s, t, "T恤", None).await;
    let p = create_product(
        &s,
        t,
        json!({
            "name": "纯棉短袖T恤",
            "categoryId": cat,
            "specs": [{ "name": "颜色", "values": ["红", "蓝"] }, { "name": "尺码", "values": ["S", "M", "L"] }],
            "skus": [
                { "price": "59.00", "costPrice": "20.00", "initialStock": 10 },
                { "specValues": ["蓝", "L"], "code": "TEE-BLUE-L", "price": "69.00", "initialStock": 3 }
            ]
        }),
    )
    .await;
    let skus = p["skus"].as_array().unwrap();
    assert_eq!(skus.len(), 6);
    let labels: Vec<&str> = skus
        .iter()
        .map(|s| s["specLabel"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "颜色:红 尺码:S",
            "颜色:红 尺码:M",
            "颜色:红 尺码:L",
            "颜色:蓝 尺码:S",
            "颜色:蓝 尺码:M",
            "颜色:蓝 尺码:L"
        ]
    );
    assert_eq!(skus[5]["code"], "TEE-BLUE-L");
    assert_eq!(skus[5]["price"], "69.00");
    assert_eq!(skus[5]["stock"], 3);
    assert_eq!(skus[0]["price"], "59.00");
    assert_eq!(skus[0]["stock"], 10);
    let codes: std::collections::HashSet<&str> =
        skus.iter().map(|s| s["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 6, "codes are unique");

    // A combination that does not exist, and a combination given twice, are refused.
    let bad = s
        .data(Some(t), CREATE_PRODUCT, json!({ "input": { "name": "x", "specs": [{ "name": "颜色", "values": ["红"] }], "skus": [{ "specValues": ["绿"], "price": "1.00" }] } }))
        .await;
    assert_eq!(
        user_error_codes(&bad["createProduct"]),
        vec!["INVALID_SKUS"]
    );
    let bad = s
        .data(Some(t), CREATE_PRODUCT, json!({ "input": { "name": "x", "specs": [{ "name": "颜色", "values": ["红", "红"] }], "skus": [{ "price": "1.00" }] } }))
        .await;
    assert_eq!(
        user_error_codes(&bad["createProduct"]),
        vec!["INVALID_SPECS"]
    );

    // Changing specs keeps existing SKUs (and their stock), adds new ones, deactivates removed.
    let set_specs = "mutation($input: SetProductSpecsInput!) { setProductSpecs(input: $input) { skus { id specLabel active stock price } userErrors { code } } }";
    let d = s
        .data(
            Some(t),
            set_specs,
            json!({ "input": { "productId": p["id"], "specs": [{ "name": "颜色", "values": ["红", "蓝", "白"] }, { "name": "尺码", "values": ["S", "M"] }] } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["setProductSpecs"]),
        vec!["INVALID_SKUS"],
        "new combinations need defaults"
    );
    let d = s
        .data(
            Some(t),
            set_specs,
            json!({ "input": { "productId": p["id"], "specs": [{ "name": "颜色", "values": ["红", "蓝", "白"] }, { "name": "尺码", "values": ["S", "M"] }], "newSkuDefaults": { "price": "65.00" } } }),
        )
        .await;
    let all = d["setProductSpecs"]["skus"].as_array().unwrap();
    assert_eq!(all.len(), 8);
    assert_eq!(all.iter().filter(|s| s["active"] == true).count(), 6);
    let red_s = all
        .iter()
        .find(|s| s["specLabel"] == "颜色:红 尺码:S")
        .unwrap();
    assert_eq!(
        (red_s["id"].clone(), red_s["stock"].clone()),
        (skus[0]["id"].clone(), json!(10))
    );
    let white_m = all
        .iter()
        .find(|s| s["specLabel"] == "颜色:白 尺码:M")
        .unwrap();
    assert_eq!(white_m["price"], "65.00");
    let blue_l = all.iter().find(|s| s["id"] == skus[5]["id"]).unwrap();
    assert_eq!(blue_l["active"], false);

    // Editing many SKUs at once is all or nothing.
    let update = "mutation($input: UpdateSkusInput!) { updateSkus(input: $input) { skus { id price } userErrors { code } } }";
    let d = s
        .data(Some(t), update, json!({ "input": { "skus": [{ "id": skus[0]["id"], "price": "49.90" }, { "id": skus[1]["id"], "price": "-1" }] } }))
        .await;
    assert_eq!(user_error_codes(&d["updateSkus"]), vec!["INVALID_PRICE"]);
    let q = "query($id: ID!) { product(id: $id) { skus { price } } }";
    let after = s.data(Some(t), q, json!({ "id": p["id"] })).await;
    assert_eq!(
        after["product"]["skus"][0]["price"], "59.00",
        "nothing changed"
    );
    let d = s
        .data(Some(t), update, json!({ "input": { "skus": [{ "id": skus[0]["id"], "price": "49.90" }, { "id": skus[1]["id"], "price": "52" }] } }))
        .await;
    assert_eq!(d["updateSkus"]["skus"][0]["price"], "49.90");
    assert_eq!(d["updateSkus"]["skus"][1]["price"], "52.00");
}

const PRODUCT_VIEW: &str = "query($id: ID!) { product(id: $id) { id name skus { id costPrice price } } node(id: $id) { id } }";

#[tokio::test]
async fn unpublished_products_are_invisible_to_consumers_by_every_path() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let consumer = register(&s, "13800000072", "Secret123").await;
    let cat = create_category(&s, &boss.token, "数码", None).await;
    let p = create_product(&s, &boss.token, json!({ "name": "蓝牙耳机", "categoryId": cat, "skus": [{ "price": "199.00", "costPrice": "80.00", "initialStock": 5 }] })).await;
    let sku_id = p["skus"][0]["id"].clone();
    let product_id = p["id"].clone();

    let check_hidden = |token: Option<String>| {
        let s = &s;
        let product_id = product_id.clone();
        let sku_id = sku_id.clone();
        async move {
            let d = s
                .data(token.as_deref(), PRODUCT_VIEW, json!({ "id": product_id }))
                .await;
            assert_eq!(d["product"], Value::Null);
            assert_eq!(d["node"], Value::Null);
            let d = s
                .data(
                    token.as_deref(),
                    "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                    json!({ "ids": [product_id, sku_id] }),
                )
                .await;
            assert_eq!(d["nodes"], json!([null, null]));
        }
    };
    check_hidden(None).await;
    check_hidden(Some(consumer.token.clone())).await;
    // Staff see drafts.
    let d = s
        .data(Some(&boss.token), PRODUCT_VIEW, json!({ "id": product_id }))
        .await;
    assert_eq!(d["product"]["name"], "蓝牙耳机");

    s.data(Some(&boss.token), PUBLISH, json!({ "ids": [product_id] }))
        .await;
    let d = s
        .data(
            Some(&consumer.token),
            PRODUCT_VIEW,
            json!({ "id": product_id }),
        )
        .await;
    assert_eq!(d["product"]["name"], "蓝牙耳机");
    s.data(Some(&boss.token), UNPUBLISH, json!({ "ids": [product_id] }))
        .await;
    check_hidden(Some(consumer.token.clone())).await;
}

#[tokio::test]
async fn cost_prices_are_visible_only_to_staff() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let consumer = register(&s, "13800000073", "Secret123").await;
    let distributor = register(&s, "13800000074", "Secret123").await;
    sea_orm::ConnectionTrait::execute_unprepared(
        s.app().db.conn(),
        "UPDATE users SET is_distributor = TRUE WHERE phone = '13800000074'",
    )
    .await
    .unwrap();
    let p = published_product(&s, &boss.token, "保温杯", "89.00", 10).await;
    for (token, expected) in [
        (&consumer.token, Value::Null),
        (&distributor.token, Value::Null),
        (&boss.token, json!("1.00")),
    ] {
        let d = s
            .data(Some(token), PRODUCT_VIEW, json!({ "id": p["id"] }))
            .await;
        assert_eq!(d["product"]["skus"][0]["costPrice"], expected);
        assert_eq!(d["product"]["skus"][0]["price"], "89.00");
    }
}

#[tokio::test]
async fn descriptions_are_sanitised_before_they_are_stored() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let payload = r#"<p onclick="steal()">好鞋<script>alert(1)</script></p><img src="x" onerror="alert(2)"><a href="javascript:alert(3)">点我</a><iframe src="https://evil"></iframe><a href="https://ok.example/">详情</a>"#;
    let p = create_product(
        &s,
        &boss.token,
        json!({ "name": "跑鞋", "descriptionHtml": payload, "skus": [{ "price": "1.00" }] }),
    )
    .await;
    let d = s
        .data(
            Some(&boss.token),
            "query($id: ID!) { product(id: $id) { descriptionHtml } }",
            json!({ "id": p["id"] }),
        )
        .await;
    let html = d["product"]["descriptionHtml"]
        .as_str()
        .unwrap()
        .to_lowercase();
    for bad in ["<script", "onclick", "onerror", "javascript:", "<iframe"] {
        assert!(!html.contains(bad), "{bad} survived: {html}");
    }
    assert!(html.contains("好鞋"));
    assert!(html.contains("https://ok.example/"));
    let stored: String = sea_orm::ConnectionTrait::query_one_raw(
        s.app().db.conn(),
        sea_orm::Statement::from_string(
            s.app().db.backend(),
            "SELECT description_html FROM products",
        ),
    )
    .await
    .unwrap()
    .unwrap()
    .try_get("", "description_html")
    .unwrap();
    assert!(
        !stored.to_lowercase().contains("script"),
        "the database never holds it: {stored}"
    );
}

/// A PNG with a valid header of the given size (the server reads only the header).
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    v.extend(width.to_be_bytes());
    v.extend(height.to_be_bytes());
    v.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
    v.extend(std::iter::repeat_n(0u8, 64));
    v
}

async fn upload(
    s: &TestServer,
    token: &str,
    bytes: Vec<u8>,
    filename: &str,
    preflight: bool,
) -> (u16, Value) {
    let operations = json!({
        "query": "mutation($file: Upload!) { uploadProductImage(input: { file: $file }) { image { id url width height } userErrors { code field message } } }",
        "variables": { "file": null }
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string()),
        );
    let mut req = s
        .http
        .post(s.url("/graphql"))
        .bearer_auth(token)
        .multipart(form);
    if preflight {
        req = req.header("apollo-require-preflight", "true");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn image_uploads_are_checked_stored_and_served() {
    let s = TestServer::start_with(|c| c.upload_max_bytes = 64 * 1024).await;
    let boss = owner(&s).await;
    let (status, resp) = upload(&s, &boss.token, png(800, 600), "a.png", false).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&resp), "CSRF_PREVENTION");

    let (_, resp) = upload(&s, &boss.token, png(800, 600), "a.png", true).await;
    let image = &resp["data"]["uploadProductImage"]["image"];
    assert_eq!(
        (image["width"].clone(), image["height"].clone()),
        (json!(800), json!(600)),
        "{resp}"
    );
    let url = image["url"].as_str().unwrap();
    let served = s.http.get(s.url(url)).send().await.unwrap();
    assert_eq!(served.status().as_u16(), 200);
    assert!(
        served.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );
    assert_eq!(served.bytes().await.unwrap().to_vec(), png(800, 600));

    let (_, resp) = upload(&s, &boss.token, png(20, 20), "tiny.png", true).await;
    assert_eq!(
        user_error_codes(&resp["data"]["uploadProductImage"]),
        vec!["INVALID_IMAGE_DIMENSIONS"]
    );
    let (_, resp) = upload(
        &s,
        &boss.token,
        b"<svg onload=alert(1)></svg>".to_vec(),
        "x.png",
        true,
    )
    .await;
    assert_eq!(
        user_error_codes(&resp["data"]["uploadProductImage"]),
        vec!["UNSUPPORTED_IMAGE_TYPE"]
    );
    let mut big = png(800, 600);
    big.resize(65 * 1024, 0);
    let (status, resp) = upload(&s, &boss.token, big, "big.png", true).await;
    assert_eq!(status, 413, "{resp}");
    assert_eq!(error_code(&resp), "PAYLOAD_TOO_LARGE");

    let consumer = register(&s, "13800000075", "Secret123").await;
    let (_, resp) = upload(&s, &consumer.token, png(800, 600), "a.png", true).await;
    assert_eq!(error_code(&resp), "FORBIDDEN");

    // Attach the image to a product; it shows as the cover.
    let p = create_product(
        &s,
        &boss.token,
        json!({ "name": "相框", "imageIds": [image["id"]], "skus": [{ "price": "9.90" }] }),
    )
    .await;
    let d = s
        .data(
            Some(&boss.token),
            "query($id: ID!) { product(id: $id) { coverImage { url } images { id } } }",
            json!({ "id": p["id"] }),
        )
        .await;
    assert_eq!(d["product"]["coverImage"]["url"], url);
}

#[tokio::test]
async fn bulk_operations_are_all_or_nothing() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let t = boss.token.as_str();
    let cat = create_category(&s, t, "家居", None).await;
    let other = create_category(&s, t, "厨具", None).await;
    let a = create_product(
        &s,
        t,
        json!({ "name": "抱枕", "categoryId": cat, "skus": [{ "price": "19.99" }] }),
    )
    .await;
    let b = create_product(
        &s,
        t,
        json!({ "name": "毛毯", "categoryId": cat, "skus": [{ "price": "0.05" }] }),
    )
    .await;
    let no_category = create_product(
        &s,
        t,
        json!({ "name": "无类目", "skus": [{ "price": "5.00" }] }),
    )
    .await;

    let d = s
        .data(
            Some(t),
            PUBLISH,
            json!({ "ids": [a["id"], no_category["id"]] }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["publishProducts"]),
        vec!["CANNOT_PUBLISH"]
    );
    let status = s
        .data(
            Some(t),
            "query($id: ID!) { product(id: $id) { status } }",
            json!({ "id": a["id"] }),
        )
        .await;
    assert_eq!(
        status["product"]["status"], "DRAFT",
        "the whole batch was refused"
    );

    let d = s
        .data(Some(t), PUBLISH, json!({ "ids": [a["id"], b["id"]] }))
        .await;
    assert_eq!(
        d["publishProducts"]["products"].as_array().unwrap().len(),
        2
    );

    let adjust = "mutation($input: AdjustPricesInput!) { adjustProductPrices(input: $input) { skus { price } userErrors { code } } }";
    // −90 % would take ¥0.05 to ¥0.005 → ¥0.01 (half away from zero); −95 % is out of range.
    let d = s
        .data(
            Some(t),
            adjust,
            json!({ "input": { "ids": [a["id"], b["id"]], "percent": "-95" } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["adjustProductPrices"]),
        vec!["INVALID_PERCENTAGE"]
    );
    let d = s
        .data(
            Some(t),
            adjust,
            json!({ "input": { "ids": [a["id"], b["id"]], "percent": "15" } }),
        )
        .await;
    // 19.99 × 1.15 = 22.9885 → 22.99; 0.05 × 1.15 = 0.0575 → 0.06
    let prices: Vec<&str> = d["adjustProductPrices"]["skus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["price"].as_str().unwrap())
        .collect();
    assert_eq!(prices, ["22.99", "0.06"]);

    let mv = "mutation($input: MoveProductsInput!) { moveProductsToCategory(input: $input) { products { category { name } } userErrors { code } } }";
    let d = s
        .data(
            Some(t),
            mv,
            json!({ "input": { "ids": [a["id"], "bogus"], "categoryId": other } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["moveProductsToCategory"]),
        vec!["PRODUCT_NOT_FOUND"]
    );
    let d = s
        .data(
            Some(t),
            mv,
            json!({ "input": { "ids": [a["id"], b["id"]], "categoryId": other } }),
        )
        .await;
    assert_eq!(
        d["moveProductsToCategory"]["products"][1]["category"]["name"],
        "厨具"
    );

    let dup = "mutation($id: ID!) { duplicateProduct(input: { id: $id }) { product { id name status skus { price stock code } } userErrors { code } } }";
    let d = s.data(Some(t), dup, json!({ "id": a["id"] })).await;
    let copy = &d["duplicateProduct"]["product"];
    assert_eq!(copy["name"], "抱枕（副本）");
    assert_eq!(copy["status"], "DRAFT");
    assert_eq!(copy["skus"][0]["price"], "22.99");
    assert_eq!(copy["skus"][0]["stock"], 0);
    assert_ne!(copy["skus"][0]["code"], a["skus"][0]["code"]);
}

#[tokio::test]
async fn scheduled_times_publish_and_withdraw_products() {
    let s = TestServer::start_with(|c| c.schedule_interval_secs = 1).await;
    let boss = owner(&s).await;
    let t = boss.token.as_str();
    let cat = create_category(&s, t, "美妆", None).await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let later = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let p = create_product(
        &s,
        t,
        json!({ "name": "口红", "categoryId": cat, "scheduledOnSaleAt": soon, "scheduledOffSaleAt": later, "skus": [{ "price": "99.00" }] }),
    )
    .await;
    let status = || async {
        s.data(
            Some(t),
            "query($id: ID!) { product(id: $id) { status } }",
            json!({ "id": p["id"] }),
        )
        .await["product"]["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status().await, "DRAFT");
    let mut seen = Vec::new();
    for _ in 0..100 {
        let st = status().await;
        if seen.last() != Some(&st) {
            seen.push(st.clone());
        }
        if st == "OFF_SALE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, ["DRAFT", "ON_SALE", "OFF_SALE"]);

    let bad = s
        .data(Some(t), CREATE_PRODUCT, json!({ "input": { "name": "x", "scheduledOnSaleAt": later, "scheduledOffSaleAt": soon, "skus": [{ "price": "1.00" }] } }))
        .await;
    assert_eq!(
        user_error_codes(&bad["createProduct"]),
        vec!["INVALID_SCHEDULE"]
    );
}

#[tokio::test]
async fn bad_product_input_changes_nothing() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let t = boss.token.as_str();
    let cases = [
        (
            json!({ "name": "", "skus": [{ "price": "1.00" }] }),
            "INVALID_NAME",
        ),
        (
            json!({ "name": "x", "skus": [{ "price": "0" }] }),
            "INVALID_PRICE",
        ),
        (
            json!({ "name": "x", "skus": [{ "price": "1.00", "initialStock": -5 }] }),
            "INVALID_STOCK",
        ),
        (
            json!({ "name": "x", "skus": [{ "price": "1.00", "initialStock": 9_999_999_999i64 }] }),
            "INVALID_STOCK",
        ),
        (
            json!({ "name": "x", "categoryId": "bogus", "skus": [{ "price": "1.00" }] }),
            "CATEGORY_NOT_FOUND",
        ),
        (
            json!({ "name": "x", "brandId": "QnJhbmQ6OTk", "skus": [{ "price": "1.00" }] }),
            "BRAND_NOT_FOUND",
        ),
        (json!({ "name": "x", "skus": [] }), "INVALID_SKUS"),
    ];
    for (input, code) in cases {
        let d = s
            .data(Some(t), CREATE_PRODUCT, json!({ "input": input }))
            .await;
        assert_eq!(user_error_codes(&d["createProduct"]), vec![code], "{input}");
    }
    let resp = s
        .gql(
            Some(t),
            CREATE_PRODUCT,
            json!({ "input": { "name": "x", "skus": [{ "price": "1.001" }] } }),
        )
        .await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        entity::product::Entity::find()
            .count(s.app().db.conn())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        entity::sku::Entity::find()
            .count(s.app().db.conn())
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn brands_and_audiences_are_unique_and_protected_while_in_use() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let t = boss.token.as_str();
    let nike = create_brand(&s, t, "耐克").await;
    let dup = s
        .data(Some(t), SAVE_BRAND, json!({ "input": { "name": "耐克" } }))
        .await;
    assert_eq!(user_error_codes(&dup["saveBrand"]), vec!["NAME_TAKEN"]);
    let renamed = s
        .data(
            Some(t),
            SAVE_BRAND,
            json!({ "input": { "id": nike, "name": "Nike 耐克" } }),
        )
        .await;
    assert_eq!(renamed["saveBrand"]["brand"]["name"], "Nike 耐克");
    let men = s
        .data(
            Some(t),
            SAVE_AUDIENCE,
            json!({ "input": { "name": "男士" } }),
        )
        .await["saveAudience"]["audience"]["id"]
        .clone();
    create_product(&s, t, json!({ "name": "跑鞋", "brandId": nike, "audienceIds": [men], "skus": [{ "price": "1.00" }] })).await;
    let del =
        "mutation($id: ID!) { deleteBrand(input: { id: $id }) { deletedId userErrors { code } } }";
    assert_eq!(
        user_error_codes(&s.data(Some(t), del, json!({ "id": nike })).await["deleteBrand"]),
        vec!["IN_USE"]
    );
    let del = "mutation($id: ID!) { deleteAudience(input: { id: $id }) { deletedId userErrors { code } } }";
    assert_eq!(
        user_error_codes(&s.data(Some(t), del, json!({ "id": men })).await["deleteAudience"]),
        vec!["IN_USE"]
    );
    let d = s
        .data(None, "{ brands { name } audiences { name } }", json!({}))
        .await;
    assert_eq!(
        d,
        json!({ "brands": [{ "name": "Nike 耐克" }], "audiences": [{ "name": "男士" }] })
    );
}

#[tokio::test]
async fn the_demo_shop_is_believable_and_seeding_twice_duplicates_nothing() {
    let s = TestServer::start().await;
    let first = distmall::seed::seed_demo(s.app()).await.unwrap();
    assert!(first.products >= 200, "{first:?}");
    assert!(first.categories >= 15, "{first:?}");
    assert_eq!(first.distributors, 3, "the seed's D3 → D2 → D1 team");
    let again = distmall::seed::seed_demo(s.app()).await.unwrap();
    assert_eq!(
        (
            again.products,
            again.categories,
            again.brands,
            again.distributors
        ),
        (0, 0, 0, 0)
    );
    // The seed's distribution example: D3 recruited D2, D2 recruited D1, the buyer is D1's.
    let d3 =
        account(&login(&s, "13800000003", distmall::seed::DEMO_PASSWORD).await["data"]["login"]);
    let team = s
        .data(
            Some(&d3.token),
            "{ myTeam(depth: 3) { counts { level1 level2 level3 } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        team["myTeam"]["counts"],
        json!({ "level1": 1, "level2": 1, "level3": 0 })
    );
    let d1 =
        account(&login(&s, "13800000001", distmall::seed::DEMO_PASSWORD).await["data"]["login"]);
    let p = s
        .data(
            Some(&d1.token),
            "{ distributorPerformance(period: MONTH) { promotedCustomers } commissionRules { rates } }",
            json!({}),
        )
        .await;
    assert_eq!(p["distributorPerformance"]["promotedCustomers"], 1);
    assert_eq!(
        p["commissionRules"]["rates"],
        json!(["20.00", "10.00", "5.00"])
    );
    use sea_orm::{EntityTrait, PaginatorTrait};
    let products = entity::product::Entity::find()
        .count(s.app().db.conn())
        .await
        .unwrap();
    assert_eq!(products as usize, first.products);

    // On sale, with pictures that are served, and findable in Chinese.
    let mut found = 0;
    for _ in 0..50 {
        let d = s
            .data(None, "{ products(first: 1) { totalCount } }", json!({}))
            .await;
        found = d["products"]["totalCount"].as_i64().unwrap();
        if found >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        found >= 150,
        "most demo products are on sale and indexed ({found})"
    );
    let d = s
        .data(None, "{ products(filter: { keyword: \"跑步运动鞋\" }, first: 5) { edges { node { name coverImage { url } } } } }", json!({}))
        .await;
    let hit = &d["products"]["edges"][0]["node"];
    assert!(hit["name"].as_str().unwrap().contains("跑步运动鞋"), "{d}");
    let image = s
        .http
        .get(s.url(hit["coverImage"]["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(image.headers()["content-type"], "image/png");
}

/// POSTs a query; returns the response and whether it was served from the response cache.
async fn cached_gql(
    s: &TestServer,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (Value, bool) {
    let resp = s.post_gql(token, query, variables).await;
    let hit = resp.headers().get("x-cache").is_some_and(|v| v == "hit");
    (resp.json().await.unwrap(), hit)
}

#[tokio::test]
async fn stored_catalogue_responses_change_the_moment_what_they_show_does() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let t = boss.token.as_str();
    let consumer = register(&s, "13800000075", "Secret123").await;
    let brand = create_brand(&s, t, "老牌子").await;
    let p = published_product(&s, t, "搪瓷杯", "19.90", 30).await;
    let id = p["id"].clone();
    let update = "mutation($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }";
    s.data(
        Some(t),
        update,
        json!({ "input": { "id": id, "brandId": brand } }),
    )
    .await;
    let page = "query($id: ID!) { product(id: $id) { name brand { name } category { name } skus { stock costPrice } } }";
    let view = |token: Option<String>| {
        let s = &s;
        let id = id.clone();
        async move { cached_gql(s, token.as_deref(), page, json!({ "id": id })).await }
    };
    let (first, hit) = view(Some(consumer.token.clone())).await;
    assert!(!hit);
    // The same request again is served whole from memory, to anyone who is not staff.
    for token in [Some(consumer.token.clone()), None] {
        let (again, hit) = view(token).await;
        assert!(hit);
        assert_eq!(again["data"], first["data"]);
        assert_eq!(statements(&again), 0, "{again}");
    }
    // Staff never get the stored response (they see cost prices).
    let (staff, hit) = view(Some(boss.token.clone())).await;
    assert!(!hit);
    assert_eq!(staff["data"]["product"]["skus"][0]["costPrice"], "1.00");

    // Every change to what the page shows is visible on the next request.
    let shown = |d: &Value, path: &[&str]| {
        let mut v = &d["data"]["product"];
        for p in path {
            v = if let Ok(i) = p.parse::<usize>() {
                &v[i]
            } else {
                &v[*p]
            };
        }
        v.clone()
    };
    s.data(
        Some(t),
        update,
        json!({ "input": { "id": id, "name": "复古搪瓷杯" } }),
    )
    .await;
    assert_eq!(shown(&view(None).await.0, &["name"]), "复古搪瓷杯");
    assert!(view(None).await.1, "stored again");

    let sku = p["skus"][0]["id"].clone();
    s.data(
        Some(t),
        "mutation($input: AdjustStockInput!) { adjustStock(input: $input) { userErrors { code } } }",
        json!({ "input": { "skuId": sku, "delta": -4, "reason": "ADJUSTMENT", "reference": "盘点" } }),
    )
    .await;
    assert_eq!(shown(&view(None).await.0, &["skus", "0", "stock"]), 26);

    s.data(
        Some(t),
        SAVE_BRAND,
        json!({ "input": { "id": brand, "name": "新牌子" } }),
    )
    .await;
    assert_eq!(shown(&view(None).await.0, &["brand", "name"]), "新牌子");

    let category = s
        .data(
            Some(t),
            "query($id: ID!) { product(id: $id) { category { id } } }",
            json!({ "id": id }),
        )
        .await["product"]["category"]["id"]
        .clone();
    s.data(
        Some(t),
        "mutation($input: UpdateCategoryInput!) { updateCategory(input: $input) { userErrors { code } } }",
        json!({ "input": { "id": category, "name": "杯具" } }),
    )
    .await;
    assert_eq!(shown(&view(None).await.0, &["category", "name"]), "杯具");

    s.data(Some(t), UNPUBLISH, json!({ "ids": [id] })).await;
    assert_eq!(view(None).await.0["data"]["product"], Value::Null);
}

#[tokio::test]
async fn only_public_catalogue_queries_are_stored() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let consumer = register(&s, "13800000076", "Secret123").await;
    let p = published_product(&s, &boss.token, "帆布袋", "29.00", 5).await;
    let vars = json!({ "id": p["id"] });
    // A query that also reads the caller's own data runs every time.
    let mixed = "query($id: ID!) { product(id: $id) { name } me { phone } }";
    for _ in 0..2 {
        let (r, hit) = cached_gql(&s, Some(&consumer.token), mixed, vars.clone()).await;
        assert_eq!(r["data"]["me"]["phone"], "13800000076");
        assert!(!hit);
    }
    // So does one that failed, and a mutation.
    let bad = "query($id: ID!) { product(id: $id) { name nope } }";
    for _ in 0..2 {
        let (r, hit) = cached_gql(&s, None, bad, vars.clone()).await;
        assert_eq!(error_code(&r), "GRAPHQL_VALIDATION_FAILED");
        assert!(!hit);
    }
    let q = "query($id: ID!) { product(id: $id) { name } }";
    assert!(!cached_gql(&s, None, q, vars.clone()).await.1);
    assert!(cached_gql(&s, None, q, vars.clone()).await.1);
    // With the cache turned off, nothing is stored.
    let off = TestServer::start_with(|c| c.response_cache_mb = 0).await;
    let boss = owner(&off).await;
    let p = published_product(&off, &boss.token, "帆布袋", "29.00", 5).await;
    for _ in 0..2 {
        assert!(!cached_gql(&off, None, q, json!({ "id": p["id"] })).await.1);
    }
}
