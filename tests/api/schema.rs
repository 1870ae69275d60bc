//! The checked-in SDL matches the code, and every playground example runs.
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

#[test]
fn schema_graphql_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = distmall::graphql::sdl();
    assert!(
        checked_in == generated,
        "schema.graphql is out of date with the code. Regenerate it with:\n\n    cargo run -- export-schema --output schema.graphql\n"
    );
}

/// Every element of `sdl` a client developer would look up that has no description: types,
/// fields, arguments, input fields and enum values, as `Type`, `Type.field`,
/// `Type.field(argument)` or `Enum.VALUE`. GraphQL's built-in scalars and directives and the
/// introspection types are not in the exported SDL, so they are not checked.
fn undocumented(sdl: &str) -> Vec<String> {
    use async_graphql::parser::types::{InputValueDefinition, TypeKind, TypeSystemDefinition};
    use async_graphql::{Positioned, parser::parse_schema};

    fn blank(description: &Option<Positioned<String>>) -> bool {
        description
            .as_ref()
            .is_none_or(|d| d.node.trim().is_empty())
    }
    fn inputs(owner: &str, values: &[Positioned<InputValueDefinition>], out: &mut Vec<String>) {
        for v in values {
            if blank(&v.node.description) {
                out.push(format!("{owner}({})", v.node.name.node));
            }
        }
    }

    let doc = parse_schema(sdl).expect("the SDL parses");
    let mut missing = Vec::new();
    for definition in doc.definitions {
        let TypeSystemDefinition::Type(t) = definition else {
            continue;
        };
        let t = t.node;
        let name = t.name.node.to_string();
        if blank(&t.description) {
            missing.push(name.clone());
        }
        let fields = match &t.kind {
            TypeKind::Object(o) => &o.fields,
            TypeKind::Interface(i) => &i.fields,
            TypeKind::Enum(e) => {
                for v in &e.values {
                    if blank(&v.node.description) {
                        missing.push(format!("{name}.{}", v.node.value.node));
                    }
                }
                continue;
            }
            TypeKind::InputObject(i) => {
                for f in &i.fields {
                    if blank(&f.node.description) {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                }
                continue;
            }
            TypeKind::Scalar | TypeKind::Union(_) => continue,
        };
        for f in fields {
            let field = format!("{name}.{}", f.node.name.node);
            if blank(&f.node.description) {
                missing.push(field.clone());
            }
            inputs(&field, &f.node.arguments, &mut missing);
        }
    }
    missing
}

#[test]
fn the_description_check_finds_what_is_missing() {
    let sdl = r#"
        """A thing."""
        type Thing {
            """Its name."""
            name(short: Boolean): String!
            size: Int!
        }
        enum Colour { """Red.""" RED BLUE }
        input ThingInput { """Its name.""" name: String! colour: Colour }
        scalar Money
    "#;
    assert_eq!(
        undocumented(sdl),
        [
            "Thing.name(short)",
            "Thing.size",
            "Colour",
            "Colour.BLUE",
            "ThingInput",
            "ThingInput.colour",
            "Money",
        ]
    );
}

#[test]
fn every_type_field_argument_and_enum_value_has_a_description() {
    let missing = undocumented(&distmall::graphql::sdl());
    assert!(
        missing.is_empty(),
        "{} schema elements have no description (the schema is the client developers' manual: \
         say what each is, its unit, who may see it and when it is null):\n{}",
        missing.len(),
        missing.join("\n")
    );
}

/// What the examples refer to: the owner signs in as staff, consumer 13800000001 and
/// distributor 13800000002 exist with password Secret123, and category 1 holds product 1
/// (on sale) with SKU 1. The distributor was approved through application 1, has the referral
/// code ABCD2345 and ¥100.00 settled into their balance; the consumer's application (example
/// consumer/19) becomes application 2, which staff/12 approves. Group-buy campaign 1 runs on
/// SKU 1 (groups of 3 at ¥299.00, launched by distributors or consumers).
async fn tokens_by_role(s: &TestServer) -> std::collections::HashMap<&'static str, String> {
    let boss = owner(s).await;
    crate::catalog::published_product(s, &boss.token, "男子轻便跑步运动鞋", "399.00", 20).await;
    let campaign = s
        .data(
            Some(&boss.token),
            "mutation($input: GroupBuyCampaignInput!) { createGroupBuyCampaign(input: $input) { userErrors { code } } }",
            json!({ "input": {
                "name": "3人团", "productId": "UHJvZHVjdDox",
                "skus": [{ "skuId": "U2t1OjE", "groupPrice": "299.00" }],
                "groupSize": 3, "timeLimitHours": 24,
                "startsAt": chrono::Utc::now() - chrono::Duration::minutes(1),
                "endsAt": chrono::Utc::now() + chrono::Duration::days(7),
                "perUserLimit": 2, "distributorsMayLaunch": true, "consumersMayLaunch": true,
            } }),
        )
        .await;
    assert_eq!(campaign["createGroupBuyCampaign"]["userErrors"], json!([]));
    let consumer = register(s, "13800000001", "Secret123").await;
    let distributor = register(s, "13800000002", "Secret123").await;
    let applied = s
        .data(
            Some(&distributor.token),
            "mutation { applyForDistributor(input: { answers: [{ key: \"experience\", value: \"有\" }] }) { application { id } } }",
            json!({}),
        )
        .await;
    let approved = s
        .data(
            Some(&boss.token),
            "mutation($id: ID!) { reviewDistributorApplication(input: { applicationId: $id, approve: true }) { distributor { id } userErrors { code } } }",
            json!({ "id": applied["applyForDistributor"]["application"]["id"] }),
        )
        .await;
    assert_eq!(
        approved["reviewDistributorApplication"]["userErrors"],
        json!([])
    );
    let app = s.app();
    let user_id = distmall::graphql::ids::decode(
        "Distributor",
        &async_graphql::ID(
            approved["reviewDistributorApplication"]["distributor"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
    )
    .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        app.db.conn(),
        &format!("UPDATE distributors SET referral_code = 'ABCD2345' WHERE user_id = {user_id}"),
    )
    .await
    .unwrap();
    let tx = app.db.begin_write().await.unwrap();
    distmall::distribution::ledger::post(
        &tx,
        distmall::distribution::ledger::Posting {
            user_id,
            kind: distmall::distribution::ledger::LedgerKind::Settlement,
            available_delta_fen: 10_000,
            frozen_delta_fen: 0,
            reference_type: "SETTLEMENT",
            reference_id: 0,
            note: Some("playground"),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    [
        ("staff", boss.token),
        ("consumer", consumer.token),
        ("distributor", distributor.token),
    ]
    .into_iter()
    .collect()
}

#[tokio::test]
async fn every_playground_example_runs() {
    let s = TestServer::start().await;
    let tokens = tokens_by_role(&s).await;
    let served: Vec<Value> = s
        .http
        .get(s.url("/playground/examples.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(served.len() >= 6, "examples for every role");
    for role in ["consumer", "distributor", "staff"] {
        assert!(
            served.iter().any(|e| e["role"] == role),
            "no {role} example"
        );
    }
    for example in served {
        let role = example["role"].as_str().unwrap();
        let name = example["name"].as_str().unwrap();
        let query = example["query"].as_str().unwrap();
        let variables = example["variables"].clone();
        let token = tokens
            .get(role)
            .unwrap_or_else(|| panic!("unknown role {role}"));
        if query.trim_start().starts_with("subscription") {
            let mut c = WsClient::connect_and_init(&s.ws_url(), Some(token)).await;
            c.subscribe("ex", query, variables).await;
            c.expect_silence(Duration::from_millis(300)).await;
            continue;
        }
        let resp = s.gql(Some(token), query, variables).await;
        assert!(resp.get("errors").is_none(), "{role}/{name}: {resp:#}");
        for (field, payload) in resp["data"].as_object().unwrap() {
            if let Some(errors) = payload.get("userErrors") {
                assert_eq!(errors, &json!([]), "{role}/{name} {field}: {resp:#}");
            }
        }
    }
}

#[tokio::test]
async fn the_playground_page_is_self_contained() {
    let s = TestServer::start().await;
    for path in ["/", "/playground"] {
        let resp = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let html = resp.text().await.unwrap();
        assert!(html.contains("/graphql"));
        for external in [
            "<script src=\"http",
            "<link href=\"http",
            "cdn.",
            "unpkg",
            "jsdelivr",
        ] {
            assert!(!html.contains(external), "{path} loads {external}");
        }
    }
}

#[tokio::test]
async fn the_playground_introspection_query_fits_the_limits() {
    let s = TestServer::start().await;
    let html = s
        .http
        .get(s.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html
        .find("const INTROSPECTION = `")
        .expect("the page has its introspection query")
        + "const INTROSPECTION = `".len();
    let query = &html[start..start + html[start..].find('`').unwrap()];
    let resp = s.gql(None, query, json!({})).await;
    assert!(resp.get("errors").is_none(), "{resp:#}");
    assert!(resp["data"]["__schema"]["types"].as_array().unwrap().len() > 20);
}

const TYPE_REF: &str = "kind name ofType { kind name ofType { kind name ofType { kind name } } }";

/// Every type of the served schema, by introspection (as client code generators read it).
async fn introspected_types(s: &TestServer) -> Vec<Value> {
    let query = format!(
        "{{ __schema {{ types {{ kind name description fields {{ name type {{ {TYPE_REF} }} args {{ name type {{ {TYPE_REF} }} }} }} inputFields {{ name type {{ {TYPE_REF} }} }} }} }} }}"
    );
    let d = s.data(None, &query, json!({})).await;
    d["__schema"]["types"].as_array().unwrap().clone()
}

/// The named type under any NON_NULL and LIST wrappers.
fn named(type_ref: &Value) -> &Value {
    match type_ref["name"].as_str() {
        Some(_) => type_ref,
        None => named(&type_ref["ofType"]),
    }
}

/// Every field, input field and argument of the schema's own types: `(where, its name, the
/// named type under its wrappers)`.
fn every_value_slot(types: &[Value]) -> Vec<(String, String, Value)> {
    let mut slots = Vec::new();
    let name = |v: &Value| v["name"].as_str().unwrap().to_string();
    for t in types.iter().filter(|t| !name(t).starts_with("__")) {
        let owner = name(t);
        let fields = t["fields"].as_array().into_iter().flatten();
        let inputs = t["inputFields"].as_array().into_iter().flatten();
        for f in fields.clone().chain(inputs) {
            slots.push((
                format!("{owner}.{}", name(f)),
                name(f),
                named(&f["type"]).clone(),
            ));
        }
        for f in fields {
            for a in f["args"].as_array().unwrap() {
                slots.push((
                    format!("{owner}.{}({})", name(f), name(a)),
                    name(a),
                    named(&a["type"]).clone(),
                ));
            }
        }
    }
    slots
}

#[tokio::test]
async fn every_rate_and_percentage_is_a_percent() {
    let s = TestServer::start().await;
    let types = introspected_types(&s).await;
    let is_rate = |name: &str| {
        ["rate", "rates", "percent"].contains(&name)
            || ["Rate", "Rates", "Percent"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
    };
    // Scalar values named like a rate (`levelRates`, a list of objects, holds rates inside).
    let rates: Vec<(String, Value)> = every_value_slot(&types)
        .into_iter()
        .filter(|(_, name, ty)| is_rate(name) && ty["kind"] == "SCALAR")
        .map(|(path, _, ty)| (path, ty["name"].clone()))
        .collect();
    let not_percent: Vec<_> = rates.iter().filter(|(_, ty)| ty != "Percent").collect();
    assert!(
        not_percent.is_empty(),
        "rates in another representation: {not_percent:?}"
    );
    // Commission tiers, overrides, level rates, records, the withdrawal fee, price changes.
    assert!(rates.len() >= 9, "{rates:?}");
    let percent = types.iter().find(|t| t["name"] == "Percent").unwrap();
    assert_eq!(percent["kind"], "SCALAR");
    let description = percent["description"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        description.contains("20 % is `\"20.00\"`"),
        "the scalar says what 20 % looks like: {description}"
    );
}

#[tokio::test]
async fn every_mutation_returns_a_payload_with_user_errors() {
    let s = TestServer::start().await;
    let types = introspected_types(&s).await;
    let by_name = |name: &str| types.iter().find(|t| t["name"] == name).unwrap();
    let field = |t: &Value, name: &str| {
        t["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["name"] == name)
            .cloned()
    };
    let mutations = by_name("MutationRoot")["fields"].as_array().unwrap();
    assert!(mutations.len() > 50);
    let mut without = Vec::new();
    for m in mutations {
        let payload = named(&m["type"]);
        let errors = (payload["kind"] == "OBJECT" && m["type"]["kind"] == "NON_NULL")
            .then(|| field(by_name(payload["name"].as_str().unwrap()), "userErrors"))
            .flatten();
        // `userErrors: [SomeError!]!`, each with a code, the input field and a message.
        let well_formed = errors.is_some_and(|e| {
            let list = &e["type"];
            let error = named(list);
            list["kind"] == "NON_NULL"
                && list["ofType"]["kind"] == "LIST"
                && list["ofType"]["ofType"]["kind"] == "NON_NULL"
                && ["code", "field", "message"]
                    .iter()
                    .all(|f| field(by_name(error["name"].as_str().unwrap()), f).is_some())
        });
        if !well_formed {
            without.push(m["name"].as_str().unwrap().to_string());
        }
    }
    assert!(
        without.is_empty(),
        "mutations without userErrors: {without:?}"
    );
}
