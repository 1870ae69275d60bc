//! Roles, permissions, staff management and object-level authorization.
use serde_json::{Value, json};

use crate::support::*;

const STAFF_LIST: &str =
    "{ staffMembers(first: 10) { totalCount edges { node { id phone permissions roles } } } }";
const NOTIFY: &str = "mutation($input: NotifyUserInput!) { notifyUser(input: $input) { notification { id title } userErrors { code field } } }";

#[tokio::test]
async fn consumers_and_staff_without_the_permission_are_forbidden() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let consumer = register(&s, "13800000031", "Secret123").await;
    let clerk = staff(&s, &boss.token, "13700000001", &["ORDERS"]).await;

    for token in [&consumer.token, &clerk.token] {
        let resp = s.gql(Some(token), STAFF_LIST, json!({})).await;
        assert_eq!(error_code(&resp), "FORBIDDEN", "{resp}");
        let resp = s
            .gql(
                Some(token),
                NOTIFY,
                json!({ "input": { "userId": consumer.id, "title": "hi" } }),
            )
            .await;
        assert_eq!(error_code(&resp), "FORBIDDEN");
    }
    let resp = s.gql(None, STAFF_LIST, json!({})).await;
    assert_eq!(error_code(&resp), "UNAUTHENTICATED");

    let d = s.data(Some(&boss.token), STAFF_LIST, json!({})).await;
    assert_eq!(d["staffMembers"]["totalCount"], 2);
    let owner_node = &d["staffMembers"]["edges"][0]["node"];
    assert_eq!(owner_node["permissions"].as_array().unwrap().len(), 8);
    assert_eq!(owner_node["roles"], json!(["CUSTOMER", "STAFF"]));
    assert_eq!(
        d["staffMembers"]["edges"][1]["node"]["permissions"],
        json!(["ORDERS"])
    );
}

const UPDATE_PERMS: &str = "mutation($input: UpdateStaffPermissionsInput!) { updateStaffPermissions(input: $input) { user { permissions } userErrors { code field } } }";
const SET_DISABLED: &str = "mutation($input: SetStaffDisabledInput!) { setStaffDisabled(input: $input) { user { disabled } userErrors { code } } }";

#[tokio::test]
async fn staff_admins_grant_and_revoke_within_their_own_permissions() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let admin = staff(&s, &boss.token, "13700000002", &["STAFF_ADMIN", "ORDERS"]).await;
    let clerk = staff(&s, &admin.token, "13700000003", &["ORDERS"]).await;

    // Granting what you do not hold is refused.
    let d = s
        .data(
            Some(&admin.token),
            UPDATE_PERMS,
            json!({ "input": { "userId": clerk.id, "grant": ["FINANCE"] } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["updateStaffPermissions"]),
        vec!["PERMISSION_NOT_HELD"]
    );

    // The permission takes effect on the clerk's very next request.
    let before = s.gql(Some(&clerk.token), STAFF_LIST, json!({})).await;
    assert_eq!(error_code(&before), "FORBIDDEN");
    let d = s
        .data(Some(&admin.token), UPDATE_PERMS, json!({ "input": { "userId": clerk.id, "grant": ["STAFF_ADMIN"], "revoke": ["ORDERS"] } }))
        .await;
    assert_eq!(
        d["updateStaffPermissions"]["user"]["permissions"],
        json!(["STAFF_ADMIN"])
    );
    s.data(Some(&clerk.token), STAFF_LIST, json!({})).await;

    // Nobody changes the owner or themselves through staff management.
    let boss_id = s.data(Some(&boss.token), "{ me { id } }", json!({})).await["me"]["id"].clone();
    let d = s
        .data(
            Some(&admin.token),
            SET_DISABLED,
            json!({ "input": { "userId": boss_id, "disabled": true } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["setStaffDisabled"]),
        vec!["CANNOT_MODIFY_OWNER"]
    );
    let d = s
        .data(
            Some(&admin.token),
            UPDATE_PERMS,
            json!({ "input": { "userId": admin.id, "grant": ["ORDERS"] } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["updateStaffPermissions"]),
        vec!["CANNOT_MODIFY_SELF"]
    );
    let d = s
        .data(
            Some(&admin.token),
            UPDATE_PERMS,
            json!({ "input": { "userId": "garbage", "grant": [] } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&d["updateStaffPermissions"]),
        vec!["USER_NOT_FOUND"]
    );
}

#[tokio::test]
async fn disabling_staff_takes_effect_at_once() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let clerk = staff(&s, &boss.token, "13700000004", &["ORDERS"]).await;
    s.data(Some(&clerk.token), "{ me { id } }", json!({})).await;

    let d = s
        .data(
            Some(&boss.token),
            SET_DISABLED,
            json!({ "input": { "userId": clerk.id, "disabled": true } }),
        )
        .await;
    assert_eq!(d["setStaffDisabled"]["user"]["disabled"], true);
    let resp = s.gql(Some(&clerk.token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&resp), "UNAUTHENTICATED");
    let r = login(&s, "13700000004", "Staff12345").await;
    assert_eq!(
        user_error_codes(&r["data"]["login"]),
        vec!["ACCOUNT_DISABLED"]
    );
    let r = s
        .data(
            None,
            "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { userErrors { code } } }",
            json!({ "t": clerk.refresh }),
        )
        .await;
    assert_eq!(
        user_error_codes(&r["refreshToken"]),
        vec!["INVALID_REFRESH_TOKEN"]
    );

    s.data(
        Some(&boss.token),
        SET_DISABLED,
        json!({ "input": { "userId": clerk.id, "disabled": false } }),
    )
    .await;
    account(&login(&s, "13700000004", "Staff12345").await["data"]["login"]);
}

#[tokio::test]
async fn users_and_notifications_are_only_visible_to_their_owner_and_staff() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let alice = register(&s, "13800000032", "Secret123").await;
    let bob = register(&s, "13800000033", "Secret123").await;
    let n = s
        .data(
            Some(&boss.token),
            NOTIFY,
            json!({ "input": { "userId": alice.id, "title": "仅限爱丽丝" } }),
        )
        .await;
    let notification_id = n["notifyUser"]["notification"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let q = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on User { phone } ... on Notification { title } } }";
    let ids = json!({ "ids": [alice.id, notification_id] });
    let own = s.data(Some(&alice.token), q, ids.clone()).await;
    assert_eq!(own["nodes"][0]["phone"], "13800000032");
    assert_eq!(own["nodes"][1]["title"], "仅限爱丽丝");

    let other = s.data(Some(&bob.token), q, ids.clone()).await;
    assert_eq!(other["nodes"], json!([null, null]), "bob sees neither");
    let anonymous = s.data(None, q, ids.clone()).await;
    assert_eq!(anonymous["nodes"], json!([null, null]));

    let staff_view = s.data(Some(&boss.token), q, ids).await;
    assert_eq!(staff_view["nodes"][0]["phone"], "13800000032");
    assert_eq!(
        staff_view["nodes"][1],
        Value::Null,
        "notifications are private to the user"
    );

    // Bob's own list does not contain Alice's notification.
    let list = s
        .data(
            Some(&bob.token),
            "{ notifications { totalCount } unreadNotificationCount }",
            json!({}),
        )
        .await;
    assert_eq!(list["notifications"]["totalCount"], 0);
    assert_eq!(list["unreadNotificationCount"], 0);
}

#[tokio::test]
async fn staff_list_costs_the_same_statements_for_2_or_12_members() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    staff(&s, &boss.token, "13700000100", &["ORDERS"]).await;
    let q = "{ staffMembers(first: 50) { totalCount edges { node { id nickname phone roles permissions createdAt } } } }";
    let small = s.gql(Some(&boss.token), q, json!({})).await;
    assert_eq!(small["data"]["staffMembers"]["totalCount"], 2);
    for i in 1..=10 {
        staff(
            &s,
            &boss.token,
            &format!("137000001{i:02}"),
            &["ORDERS", "REPORTS"],
        )
        .await;
    }
    let large = s.gql(Some(&boss.token), q, json!({})).await;
    assert_eq!(large["data"]["staffMembers"]["totalCount"], 12);
    assert_eq!(
        statements(&small),
        statements(&large),
        "relations go through DataLoaders: {small} vs {large}"
    );
    assert!(statements(&large) <= 4, "{large}");
}
