//! Live notifications over graphql-transport-ws: delivery, resumption, isolation, and delivery
//! across server instances sharing one database.
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const SUBSCRIPTION: &str = "subscription($after: String) { notificationReceived(after: $after) { eventId notification { id title kind read } } }";
const NOTIFY: &str = "mutation($input: NotifyUserInput!) { notifyUser(input: $input) { notification { id } userErrors { code } } }";

async fn notify(s: &TestServer, staff_token: &str, user_id: &str, title: &str) -> String {
    let d = s
        .data(
            Some(staff_token),
            NOTIFY,
            json!({ "input": { "userId": user_id, "title": title, "kind": "SYSTEM" } }),
        )
        .await;
    assert_eq!(d["notifyUser"]["userErrors"], json!([]));
    d["notifyUser"]["notification"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Subscribes and gives the server a moment to attach the subscription to the event bus, so
/// the next event is delivered live rather than from the outbox.
async fn subscribe_live(s: &TestServer, token: &str, id: &str, after: Option<&str>) -> WsClient {
    let mut c = WsClient::connect_and_init(&s.ws_url(), Some(token)).await;
    c.subscribe(id, SUBSCRIPTION, json!({ "after": after }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c
}

/// The next `next` message's payload data for operation `id`.
async fn next_event(c: &mut WsClient, id: &str) -> Value {
    let msg = c.recv().await.expect("an event arrives");
    assert_eq!(msg["type"], "next", "{msg}");
    assert_eq!(msg["id"], id);
    assert!(msg["payload"].get("errors").is_none(), "{msg}");
    msg["payload"]["data"]["notificationReceived"].clone()
}

#[tokio::test]
async fn a_notification_arrives_live_and_only_for_its_user() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let alice = register(&s, "13800000041", "Secret123").await;
    let bob = register(&s, "13800000042", "Secret123").await;
    let mut a = subscribe_live(&s, &alice.token, "a", None).await;
    let mut b = subscribe_live(&s, &bob.token, "b", None).await;

    let id = notify(&s, &boss.token, &alice.id, "您的订单已发货").await;
    let e = next_event(&mut a, "a").await;
    assert_eq!(e["notification"]["id"], id.as_str());
    assert_eq!(e["notification"]["title"], "您的订单已发货");
    assert_eq!(e["notification"]["read"], false);
    b.expect_silence(Duration::from_millis(700)).await;

    // Bob's own notification reaches Bob, and not Alice.
    notify(&s, &boss.token, &bob.id, "给鲍勃").await;
    assert_eq!(
        next_event(&mut b, "b").await["notification"]["title"],
        "给鲍勃"
    );
    a.expect_silence(Duration::from_millis(700)).await;
}

#[tokio::test]
async fn anonymous_subscribers_are_refused() {
    let s = TestServer::start().await;
    let mut c = WsClient::connect_and_init(&s.ws_url(), None).await;
    c.subscribe("x", SUBSCRIPTION, json!({})).await;
    let msg = c.recv().await.unwrap();
    assert_eq!(msg["type"], "error", "{msg}");
    assert_eq!(msg["payload"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_reconnecting_client_gets_what_it_missed_exactly_once() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let alice = register(&s, "13800000043", "Secret123").await;
    let bob = register(&s, "13800000044", "Secret123").await;

    let mut c = subscribe_live(&s, &alice.token, "1", None).await;
    notify(&s, &boss.token, &alice.id, "第一条").await;
    let first = next_event(&mut c, "1").await;
    let last_seen = first["eventId"].as_str().unwrap().to_string();
    drop(c);

    // While Alice is away: two for her, one for Bob.
    notify(&s, &boss.token, &alice.id, "第二条").await;
    notify(&s, &boss.token, &bob.id, "不是给爱丽丝的").await;
    notify(&s, &boss.token, &alice.id, "第三条").await;

    let mut c = subscribe_live(&s, &alice.token, "2", Some(&last_seen)).await;
    let second = next_event(&mut c, "2").await;
    let third = next_event(&mut c, "2").await;
    assert_eq!(second["notification"]["title"], "第二条");
    assert_eq!(third["notification"]["title"], "第三条");
    assert!(
        second["eventId"].as_str().unwrap().parse::<i64>().unwrap()
            < third["eventId"].as_str().unwrap().parse::<i64>().unwrap()
    );
    // And then live ones, with nothing repeated.
    notify(&s, &boss.token, &alice.id, "第四条").await;
    assert_eq!(
        next_event(&mut c, "2").await["notification"]["title"],
        "第四条"
    );
    c.expect_silence(Duration::from_millis(700)).await;
}

#[tokio::test]
async fn an_event_written_through_one_server_reaches_a_subscriber_on_another() {
    let s1 = TestServer::start().await;
    // On PostgreSQL the other server hears of the event through LISTEN/NOTIFY: it polls only
    // once a minute here, so the event arrives in time only if the commit notified it.
    let postgres = s1.db.url().starts_with("postgres");
    let s2 = TestServer::start_on(s1.db.clone(), |c| {
        if postgres {
            c.events_poll_interval_ms = 60_000;
        }
    })
    .await;
    let boss = owner(&s1).await;
    let alice = register(&s1, "13800000045", "Secret123").await;

    let mut c = subscribe_live(&s2, &alice.token, "x", None).await;
    notify(&s1, &boss.token, &alice.id, "跨实例").await;
    let e = next_event(&mut c, "x").await;
    assert_eq!(e["notification"]["title"], "跨实例");
    c.expect_silence(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn notifications_list_filter_and_mark_read() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let alice = register(&s, "13800000046", "Secret123").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(notify(&s, &boss.token, &alice.id, &format!("通知{i}")).await);
    }
    let list = "query($unread: Boolean) { notifications(unread: $unread, first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { id title read } } } unreadNotificationCount }";
    let d = s
        .data(Some(&alice.token), list, json!({ "unread": true }))
        .await;
    assert_eq!(d["unreadNotificationCount"], 3);
    assert_eq!(d["notifications"]["totalCount"], 3);
    assert_eq!(
        d["notifications"]["edges"][0]["node"]["title"], "通知2",
        "newest first"
    );
    assert_eq!(d["notifications"]["pageInfo"]["hasNextPage"], true);

    let mark = "mutation($input: MarkNotificationsReadInput!) { markNotificationsRead(input: $input) { updatedCount unreadCount userErrors { code } } }";
    let d = s
        .data(
            Some(&alice.token),
            mark,
            json!({ "input": { "ids": [ids[0]] } }),
        )
        .await;
    assert_eq!(d["markNotificationsRead"]["updatedCount"], 1);
    assert_eq!(d["markNotificationsRead"]["unreadCount"], 2);
    let d = s
        .data(Some(&alice.token), list, json!({ "unread": true }))
        .await;
    assert_eq!(d["notifications"]["totalCount"], 2);

    // Someone else's ids change nothing.
    let bob = register(&s, "13800000047", "Secret123").await;
    let d = s
        .data(
            Some(&bob.token),
            mark,
            json!({ "input": { "ids": [ids[1]] } }),
        )
        .await;
    assert_eq!(d["markNotificationsRead"]["updatedCount"], 0);
    let d = s.data(Some(&bob.token), mark, json!({ "input": {} })).await;
    assert_eq!(
        user_error_codes(&d["markNotificationsRead"]),
        vec!["NOTHING_SELECTED"]
    );

    let d = s
        .data(
            Some(&alice.token),
            mark,
            json!({ "input": { "all": true } }),
        )
        .await;
    assert_eq!(d["markNotificationsRead"]["updatedCount"], 2);
    assert_eq!(d["markNotificationsRead"]["unreadCount"], 0);
}

#[tokio::test]
async fn notify_user_validates_its_input() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let alice = register(&s, "13800000048", "Secret123").await;
    let cases = [
        (json!({ "userId": alice.id, "title": "" }), "INVALID_TITLE"),
        (
            json!({ "userId": alice.id, "title": "t", "link": "javascript:alert(1)" }),
            "INVALID_LINK",
        ),
        (
            json!({ "userId": "VXNlcjo5OTk5", "title": "t" }),
            "USER_NOT_FOUND",
        ),
        (
            json!({ "userId": "nonsense", "title": "t" }),
            "USER_NOT_FOUND",
        ),
    ];
    for (input, code) in cases {
        let d = s
            .data(Some(&boss.token), NOTIFY, json!({ "input": input }))
            .await;
        assert_eq!(user_error_codes(&d["notifyUser"]), vec![code], "{input}");
    }
    let d = s
        .data(
            Some(&alice.token),
            "{ notifications { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(d["notifications"]["totalCount"], 0);
}

/// A transaction that wrote an event and commits 5 s later — as a long settlement does — while
/// others write events: its event is delivered, in id order, live and to a client resuming
/// after an earlier event, and nothing after it is delivered before it.
#[tokio::test]
async fn an_event_that_commits_late_is_never_skipped() {
    use sea_orm::{ActiveModelTrait, Set};
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let user = register(&s, "13800000091", "Secret123").await;
    let user_key = distmall::graphql::ids::decode("User", &user.id.clone().into()).unwrap();
    let mut live = subscribe_live(&s, &user.token, "1", None).await;
    notify(&s, &boss.token, &user.id, "之前").await;
    let before = next_event(&mut live, "1").await["eventId"]
        .as_str()
        .unwrap()
        .to_string();

    // The slow transaction draws its event id now and commits in 5 s.
    let slow = s.app().db.begin_write().await.unwrap();
    let payload = json!({ "id": 1, "userId": user_key, "kind": "SYSTEM", "title": "迟到",
        "body": "", "createdAt": chrono::Utc::now().to_rfc3339() });
    let drawn = tokio::spawn({
        let s_url = s.url("/graphql");
        let (boss, user_id) = (boss.token.clone(), user.id.clone());
        async move {
            // Meanwhile, five more events are written by other requests.
            let http = reqwest::Client::new();
            let mut sent = Vec::new();
            for i in 0..5 {
                let body = json!({ "query": NOTIFY, "variables": { "input": { "userId": user_id, "title": format!("随后{i}"), "kind": "SYSTEM" } } });
                sent.push(http.post(&s_url).bearer_auth(&boss).json(&body).send());
            }
            for r in futures::future::join_all(sent).await {
                assert!(r.unwrap().status().is_success());
            }
        }
    });
    entity::domain_event::ActiveModel {
        event_type: Set("notification.created".into()),
        aggregate_type: Set("notification".into()),
        aggregate_id: Set(1),
        recipient_user_id: Set(Some(user_key)),
        payload: Set(payload.to_string()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&*slow)
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    slow.commit().await.unwrap();
    drawn.await.unwrap();

    let mut seen = Vec::new();
    for _ in 0..6 {
        let e = next_event(&mut live, "1").await;
        seen.push((
            e["eventId"].as_str().unwrap().parse::<i64>().unwrap(),
            e["notification"]["title"].as_str().unwrap().to_string(),
        ));
    }
    live.expect_silence(Duration::from_millis(300)).await;
    let mut titles: Vec<&str> = seen.iter().map(|(_, t)| t.as_str()).collect();
    titles.sort_unstable();
    assert_eq!(
        titles,
        ["迟到", "随后0", "随后1", "随后2", "随后3", "随后4"],
        "{seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "delivered in id order: {seen:?}"
    );

    // A client that resumes after the event before all of them gets the same six, in order.
    let mut resumed = subscribe_live(&s, &user.token, "2", Some(&before)).await;
    for (id, title) in &seen {
        let e = next_event(&mut resumed, "2").await;
        assert_eq!(e["eventId"], id.to_string());
        assert_eq!(e["notification"]["title"], title.as_str());
    }
    resumed.expect_silence(Duration::from_millis(300)).await;
}
