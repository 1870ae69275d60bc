//! Product search as people type it in Chinese: keywords, filters, facets that add up, sorting,
//! paging, suggestions, hot keywords, and the index following every change.
use std::time::Duration;

use serde_json::{Value, json};

use crate::{catalog::*, support::*};

const SEARCH: &str =
    "query($filter: ProductFilter, $sortBy: ProductSortBy, $first: Int, $after: String) {
  products(filter: $filter, sortBy: $sortBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name priceRange { min } coverImage { url } } }
    facets {
      categories { category { name } count }
      brands { brand { name } count }
      audiences { audience { name } count }
      priceBuckets { min max count }
    }
  }
}";

struct Shop {
    s: TestServer,
    staff: String,
    consumer: String,
}

async fn names(s: &TestServer, token: Option<&str>, filter: Value) -> Vec<String> {
    let d = s
        .data(token, SEARCH, json!({ "filter": filter, "first": 50 }))
        .await;
    d["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until the index has caught up (events are applied asynchronously, within a second).
async fn eventually(s: &TestServer, token: Option<&str>, filter: Value, expected: &[&str]) {
    let mut last = Vec::new();
    for _ in 0..50 {
        last = names(s, token, filter.clone()).await;
        let mut sorted = last.clone();
        sorted.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        if sorted == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("search for {filter} returned {last:?}, expected {expected:?}");
}

async fn shop() -> Shop {
    let s = TestServer::start_with(|c| c.keyword_flush_interval_ms = 100).await;
    let boss = owner(&s).await;
    let t = boss.token.clone();
    let consumer = register(&s, "13800000091", "Secret123").await.token;
    let shoes = create_category(&s, &t, "鞋靴", None).await;
    let sports = create_category(&s, &t, "运动鞋", Some(&shoes)).await;
    let casual = create_category(&s, &t, "休闲鞋", Some(&shoes)).await;
    let kids = create_category(&s, &t, "童装", None).await;
    let digital = create_category(&s, &t, "数码", None).await;
    let nike = create_brand(&s, &t, "Nike 耐克").await;
    let converse = create_brand(&s, &t, "匡威").await;
    let men = s
        .data(
            Some(&t),
            SAVE_AUDIENCE,
            json!({ "input": { "name": "男士" } }),
        )
        .await["saveAudience"]["audience"]["id"]
        .clone();
    let children = s
        .data(
            Some(&t),
            SAVE_AUDIENCE,
            json!({ "input": { "name": "儿童" } }),
        )
        .await["saveAudience"]["audience"]["id"]
        .clone();

    let products = [
        json!({ "name": "男子轻便跑步运动鞋", "categoryId": sports, "brandId": nike, "audienceIds": [men],
                 "specs": [{ "name": "尺码", "values": ["41码", "42码"] }],
                 "skus": [{ "price": "399.00", "initialStock": 5 }, { "specValues": ["42码"], "price": "459.00", "initialStock": 0 }] }),
        json!({ "name": "耐克运动T恤", "categoryId": kids, "brandId": nike, "subtitle": "速干面料",
                 "skus": [{ "price": "129.00", "initialStock": 10 }] }),
        json!({ "name": "经典帆布鞋", "categoryId": casual, "brandId": converse, "descriptionHtml": "<p>百搭<b>休闲</b></p>",
                 "skus": [{ "price": "259.00", "initialStock": 0 }] }),
        json!({ "name": "儿童羽绒服", "categoryId": kids, "audienceIds": [children],
                 "skus": [{ "price": "299.00", "initialStock": 8 }] }),
        json!({ "name": "无线蓝牙耳机", "categoryId": digital,
                 "skus": [{ "price": "199.00", "initialStock": 3 }] }),
        json!({ "name": "iPhone 15 手机壳", "categoryId": digital,
                 "skus": [{ "price": "39.00", "initialStock": 100 }] }),
    ];
    let mut ids = Vec::new();
    for p in products {
        ids.push(create_product(&s, &t, p).await["id"].clone());
    }
    s.data(Some(&t), PUBLISH, json!({ "ids": ids })).await;
    // A draft that matches many searches but must never be shown to consumers.
    create_product(&s, &t, json!({ "name": "未发布的运动鞋", "categoryId": sports, "brandId": nike, "skus": [{ "price": "99.00", "initialStock": 9 }] })).await;
    eventually(
        &s,
        None,
        json!({}),
        &[
            "男子轻便跑步运动鞋",
            "耐克运动T恤",
            "经典帆布鞋",
            "儿童羽绒服",
            "无线蓝牙耳机",
            "iPhone 15 手机壳",
        ],
    )
    .await;
    // The draft was created last: wait until staff can find it too, so no test races its indexing.
    eventually(
        &s,
        Some(&t),
        json!({ "keyword": "未发布", "includeUnpublished": true }),
        &["未发布的运动鞋"],
    )
    .await;
    Shop {
        s,
        staff: t,
        consumer,
    }
}

#[tokio::test]
async fn chinese_keywords_match_the_way_people_type() {
    let shop = shop().await;
    let s = &shop.s;
    let c = Some(shop.consumer.as_str());
    assert_eq!(
        names(s, c, json!({ "keyword": "运动鞋" })).await,
        ["男子轻便跑步运动鞋"]
    );
    assert_eq!(
        names(s, c, json!({ "keyword": "跑步" })).await,
        ["男子轻便跑步运动鞋"]
    );
    let mut both = names(s, c, json!({ "keyword": "耐克" })).await;
    both.sort();
    assert_eq!(both, ["男子轻便跑步运动鞋", "耐克运动T恤"]);
    assert_eq!(
        names(s, c, json!({ "keyword": "耐克 运动鞋" })).await,
        ["男子轻便跑步运动鞋"],
        "both words needed"
    );
    assert_eq!(
        names(s, c, json!({ "keyword": "ＮＩＫＥ　运动鞋" })).await,
        ["男子轻便跑步运动鞋"],
        "full-width and case"
    );
    assert_eq!(
        names(s, c, json!({ "keyword": "儿童 羽绒服" })).await,
        ["儿童羽绒服"]
    );
    assert_eq!(
        names(s, c, json!({ "keyword": "蓝牙耳机" })).await,
        ["无线蓝牙耳机"]
    );
    assert_eq!(
        names(s, c, json!({ "keyword": "iphone 手机壳" })).await,
        ["iPhone 15 手机壳"]
    );
    assert_eq!(
        names(s, c, json!({ "keyword": "42码" })).await,
        ["男子轻便跑步运动鞋"],
        "spec values"
    );
    assert_eq!(
        names(s, c, json!({ "keyword": "休闲" })).await,
        ["经典帆布鞋"],
        "category and description"
    );
    assert_eq!(
        names(s, c, json!({ "keyword": "速干" })).await,
        ["耐克运动T恤"],
        "subtitle"
    );
    assert!(names(s, c, json!({ "keyword": "冰箱" })).await.is_empty());
    assert!(
        names(s, c, json!({ "keyword": "\"):(*[" }))
            .await
            .is_empty(),
        "syntax is just text"
    );
}

#[tokio::test]
async fn unpublished_products_never_appear_for_consumers() {
    let shop = shop().await;
    let s = &shop.s;
    for token in [None, Some(shop.consumer.as_str())] {
        let found = names(s, token, json!({ "keyword": "运动鞋" })).await;
        assert!(!found.contains(&"未发布的运动鞋".to_string()), "{found:?}");
        let found = names(
            s,
            token,
            json!({ "keyword": "运动鞋", "includeUnpublished": true }),
        )
        .await;
        assert!(
            !found.contains(&"未发布的运动鞋".to_string()),
            "the flag is for staff only"
        );
    }
    let staff = names(
        s,
        Some(&shop.staff),
        json!({ "keyword": "运动鞋", "includeUnpublished": true }),
    )
    .await;
    assert!(staff.contains(&"未发布的运动鞋".to_string()));

    // Taking a product off sale hides it within a second.
    let id = s
        .data(
            Some(&shop.staff),
            SEARCH,
            json!({ "filter": { "keyword": "蓝牙耳机" } }),
        )
        .await["products"]["edges"][0]["node"]["id"]
        .clone();
    s.data(Some(&shop.staff), UNPUBLISH, json!({ "ids": [id] }))
        .await;
    eventually(
        s,
        Some(&shop.consumer),
        json!({ "keyword": "蓝牙耳机" }),
        &[],
    )
    .await;
}

#[tokio::test]
async fn filters_narrow_and_facets_add_up() {
    let shop = shop().await;
    let s = &shop.s;
    let c = Some(shop.consumer.as_str());
    let cats = s
        .data(
            c,
            "{ categories { id name children { id name } } }",
            json!({}),
        )
        .await;
    let shoes = cats["categories"][0]["id"].clone();
    let mut in_shoes = names(s, c, json!({ "categoryId": shoes })).await;
    in_shoes.sort();
    assert_eq!(
        in_shoes,
        ["男子轻便跑步运动鞋", "经典帆布鞋"],
        "descendant categories included"
    );
    // Any SKU price in range: the running shoe has SKUs at 399 and 459.
    let mut mid = names(s, c, json!({ "priceMin": "400", "priceMax": "500" })).await;
    mid.sort();
    assert_eq!(mid, ["男子轻便跑步运动鞋"]);
    let in_stock = names(s, c, json!({ "inStockOnly": true })).await;
    assert!(!in_stock.contains(&"经典帆布鞋".to_string()));
    assert_eq!(in_stock.len(), 5);
    let brands = s
        .data(c, "{ brands { id name } audiences { id name } }", json!({}))
        .await;
    let nike = brands["brands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "Nike 耐克")
        .unwrap()["id"]
        .clone();
    let kids = brands["audiences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "儿童")
        .unwrap()["id"]
        .clone();
    assert_eq!(
        names(s, c, json!({ "brandIds": [nike], "keyword": "T恤" })).await,
        ["耐克运动T恤"]
    );
    assert_eq!(
        names(s, c, json!({ "audienceIds": [kids] })).await,
        ["儿童羽绒服"]
    );
    assert!(
        names(s, c, json!({ "brandIds": ["bogus"] }))
            .await
            .is_empty(),
        "an unknown id filters to nothing"
    );

    let d = s.data(c, SEARCH, json!({ "filter": {}, "first": 2 })).await;
    let p = &d["products"];
    let total = p["totalCount"].as_i64().unwrap();
    assert_eq!(total, 6);
    let sum = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .map(|x| x["count"].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(sum(&p["facets"]["categories"]), total);
    assert_eq!(sum(&p["facets"]["priceBuckets"]), total);
    let branded = sum(&p["facets"]["brands"]);
    assert_eq!(branded, 3, "three products have a brand");
    let nike_count = p["facets"]["brands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["brand"]["name"] == "Nike 耐克")
        .unwrap()["count"]
        .clone();
    assert_eq!(nike_count, 2);
    assert_eq!(
        p["edges"].as_array().unwrap().len(),
        2,
        "facets cover all matches, not the page"
    );
}

#[tokio::test]
async fn sorting_and_paging() {
    let shop = shop().await;
    let s = &shop.s;
    let c = Some(shop.consumer.as_str());
    let prices = |d: &Value| -> Vec<String> {
        d["products"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["priceRange"]["min"].as_str().unwrap().to_string())
            .collect()
    };
    let up = s
        .data(
            c,
            SEARCH,
            json!({ "sortBy": { "field": "PRICE" }, "first": 10 }),
        )
        .await;
    assert_eq!(
        prices(&up),
        ["39.00", "129.00", "199.00", "259.00", "299.00", "399.00"]
    );
    let down = s
        .data(
            c,
            SEARCH,
            json!({ "sortBy": { "field": "PRICE", "direction": "DESC" }, "first": 10 }),
        )
        .await;
    assert_eq!(
        prices(&down),
        ["399.00", "299.00", "259.00", "199.00", "129.00", "39.00"]
    );
    let newest = names(s, c, json!({})).await;
    assert_eq!(newest[0], "iPhone 15 手机壳");

    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = s
            .data(
                c,
                SEARCH,
                json!({ "sortBy": { "field": "PRICE" }, "first": 4, "after": after }),
            )
            .await;
        seen.extend(prices(&d));
        if d["products"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = d["products"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        seen,
        ["39.00", "129.00", "199.00", "259.00", "299.00", "399.00"]
    );
    let resp = s
        .gql(c, "{ products(first: 101) { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT");
}

#[tokio::test]
async fn suggestions_and_hot_keywords() {
    let shop = shop().await;
    let s = &shop.s;
    let c = Some(shop.consumer.as_str());
    let d = s
        .data(c, "{ searchSuggestions(prefix: \"耐\") }", json!({}))
        .await;
    let suggestions: Vec<&str> = d["searchSuggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(suggestions.contains(&"耐克运动T恤"), "{suggestions:?}");
    assert!(!suggestions.iter().any(|x| x.contains("未发布")));

    for _ in 0..3 {
        names(s, c, json!({ "keyword": "运动鞋" })).await;
    }
    names(s, c, json!({ "keyword": "耳机" })).await;
    // Staff searching the dashboard are not shoppers: their searches are not counted.
    for _ in 0..5 {
        names(s, Some(&shop.staff), json!({ "keyword": "耳机" })).await;
    }
    let mut hot = Value::Null;
    for _ in 0..50 {
        hot = s
            .data(
                c,
                "{ hotKeywords(first: 5) { keyword searches } }",
                json!({}),
            )
            .await["hotKeywords"]
            .clone();
        if hot.as_array().is_some_and(|h| h.len() >= 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(hot[0], json!({ "keyword": "运动鞋", "searches": 3 }));
    assert_eq!(hot[1], json!({ "keyword": "耳机", "searches": 1 }));
}

#[tokio::test]
async fn the_index_follows_every_change() {
    let shop = shop().await;
    let s = &shop.s;
    let t = shop.staff.as_str();
    let c = Some(shop.consumer.as_str());
    let id = s
        .data(
            Some(t),
            SEARCH,
            json!({ "filter": { "keyword": "帆布鞋" } }),
        )
        .await["products"]["edges"][0]["node"]["id"]
        .clone();
    s.data(Some(t), "mutation($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }", json!({ "input": { "id": id, "name": "高帮帆布鞋" } })).await;
    eventually(s, c, json!({ "keyword": "高帮" }), &["高帮帆布鞋"]).await;
    // Renaming a category reaches the products in it.
    let casual = s
        .data(c, "{ categories { children { id name } } }", json!({}))
        .await["categories"][0]["children"][1]["id"]
        .clone();
    s.data(Some(t), "mutation($input: UpdateCategoryInput!) { updateCategory(input: $input) { userErrors { code } } }", json!({ "input": { "id": casual, "name": "板鞋" } })).await;
    eventually(s, c, json!({ "keyword": "板鞋" }), &["高帮帆布鞋"]).await;
    // A rebuild gives the same answers.
    let d = s
        .data(
            Some(t),
            "mutation { rebuildSearchIndex { indexed userErrors { code field message } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["rebuildSearchIndex"],
        json!({ "indexed": 7, "userErrors": [] })
    );
    assert_eq!(
        names(s, c, json!({ "keyword": "板鞋" })).await,
        ["高帮帆布鞋"]
    );
}
