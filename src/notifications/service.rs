//! Notification services.
use chrono::{DateTime, Utc};
use entity::{notification, staff_permission, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Set,
    sea_query::Expr,
};
use serde_json::json;

use crate::{
    auth::Permission,
    db::WriteTx,
    error::AppError,
    events::{self, NewEvent},
};

pub const EVENT_CREATED: &str = "notification.created";
pub const TITLE_MAX: usize = 120;
pub const BODY_MAX: usize = 2000;

pub struct NewNotification<'a> {
    pub user_id: i64,
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub link: Option<&'a str>,
}

/// Title 1–120 characters, body up to 2,000, link a relative path or an http(s) URL.
pub fn check(n: &NewNotification<'_>) -> Result<(), (&'static str, String)> {
    let title = n.title.trim().chars().count();
    if title == 0 || title > TITLE_MAX {
        return Err(("title", format!("a title has 1 to {TITLE_MAX} characters")));
    }
    if n.body.chars().count() > BODY_MAX {
        return Err(("body", format!("a body has at most {BODY_MAX} characters")));
    }
    if let Some(link) = n.link
        && (link.len() > 512
            || !(link.starts_with('/')
                || link.starts_with("https://")
                || link.starts_with("http://")))
    {
        return Err((
            "link",
            "a link is a path starting with / or an http(s) URL".into(),
        ));
    }
    Ok(())
}

/// Stores a notification and its event inside the caller's transaction.
pub async fn notify(tx: &WriteTx, n: NewNotification<'_>) -> Result<notification::Model, AppError> {
    let row = notification::ActiveModel {
        user_id: Set(n.user_id),
        kind: Set(n.kind.to_string()),
        title: Set(n.title.trim().to_string()),
        body: Set(n.body.to_string()),
        link: Set(n.link.map(str::to_string)),
        read_at: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_CREATED,
            aggregate_type: "Notification",
            aggregate_id: row.id,
            recipient_user_id: Some(row.user_id),
            payload: to_payload(&row),
        },
    );
    Ok(row)
}

fn to_payload(n: &notification::Model) -> serde_json::Value {
    json!({
        "id": n.id,
        "userId": n.user_id,
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "link": n.link,
        "createdAt": n.created_at.to_rfc3339(),
    })
}

/// The notification carried by a `notification.created` event (no database read needed, which
/// matters when thousands of subscribers receive one broadcast).
pub fn from_payload(p: &serde_json::Value) -> Option<notification::Model> {
    Some(notification::Model {
        id: p.get("id")?.as_i64()?,
        user_id: p.get("userId")?.as_i64()?,
        kind: p.get("kind")?.as_str()?.to_string(),
        title: p.get("title")?.as_str()?.to_string(),
        body: p.get("body")?.as_str()?.to_string(),
        link: p.get("link").and_then(|l| l.as_str()).map(str::to_string),
        read_at: None,
        created_at: DateTime::parse_from_rfc3339(p.get("createdAt")?.as_str()?)
            .ok()?
            .with_timezone(&Utc),
    })
}

/// Marks the given notifications (or all) of `user_id` read; returns how many changed.
pub async fn mark_read(tx: &WriteTx, user_id: i64, ids: Option<Vec<i64>>) -> Result<u64, AppError> {
    let mut q = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(Utc::now()))
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null());
    if let Some(ids) = ids {
        q = q.filter(notification::Column::Id.is_in(ids));
    }
    Ok(q.exec(&**tx).await?.rows_affected)
}

/// Active staff who hold `permission`, and the owner (who holds every permission).
pub async fn staff_with(
    conn: &impl ConnectionTrait,
    permission: Permission,
) -> Result<Vec<i64>, AppError> {
    let holders: Vec<i64> = staff_permission::Entity::find()
        .filter(staff_permission::Column::Permission.eq(permission.as_str()))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| p.user_id)
        .collect();
    Ok(user::Entity::find()
        .filter(user::Column::IsStaff.eq(true))
        .filter(user::Column::Disabled.eq(false))
        .filter(
            Condition::any()
                .add(user::Column::IsOwner.eq(true))
                .add(user::Column::Id.is_in(holders)),
        )
        .all(conn)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new<'a>(title: &'a str, body: &'a str, link: Option<&'a str>) -> NewNotification<'a> {
        NewNotification {
            user_id: 1,
            kind: "SYSTEM",
            title,
            body,
            link,
        }
    }

    #[test]
    fn notifications_are_bounded() {
        assert!(check(&new("订单已发货", "", None)).is_ok());
        assert_eq!(check(&new("  ", "", None)).unwrap_err().0, "title");
        assert_eq!(
            check(&new(&"字".repeat(121), "", None)).unwrap_err().0,
            "title"
        );
        assert_eq!(
            check(&new("t", &"x".repeat(2001), None)).unwrap_err().0,
            "body"
        );
        assert_eq!(
            check(&new("t", "", Some("javascript:alert(1)")))
                .unwrap_err()
                .0,
            "link"
        );
        assert!(check(&new("t", "", Some("/pages/order/detail?id=1"))).is_ok());
    }

    #[test]
    fn event_payloads_round_trip() {
        let n = notification::Model {
            id: 3,
            user_id: 9,
            kind: "MARKETING".into(),
            title: "双十一".into(),
            body: "满100减20".into(),
            link: None,
            read_at: None,
            created_at: DateTime::parse_from_rfc3339("2026-11-11T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        assert_eq!(from_payload(&to_payload(&n)), Some(n));
    }
}
