//! Moving orders between states. Every change goes through `transition`: a conditional update
//! (`… WHERE id = ? AND status = <from>`), so two racing changes cannot both win, plus a history
//! row and an `order.status_changed` event in the same transaction.
use chrono::{DateTime, Utc};
use entity::{order, order_history, order_line};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
    sea_query::{Expr, SimpleExpr},
};
use serde_json::json;

use super::{
    errors::{OrderErrorCode, OrderResult, reject_whole},
    rules::{OrderStatus, can_transition},
};
use crate::{
    app::AppState,
    db::WriteTx,
    error::AppError,
    events::{self, NewEvent},
    inventory::service as inventory,
};

pub const EVENT_STATUS_CHANGED: &str = "order.status_changed";

/// Who or what moved the order.
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    pub user_id: Option<i64>,
}

impl Actor {
    pub const SYSTEM: Actor = Actor { user_id: None };

    pub fn user(id: i64) -> Self {
        Actor { user_id: Some(id) }
    }
}

/// A status change to make.
pub struct Change<'a> {
    pub to: OrderStatus,
    pub actor: Actor,
    pub note: Option<&'a str>,
    /// More columns to set in the same update (timestamps, payment status…).
    pub also: Vec<(order::Column, SimpleExpr)>,
}

impl<'a> Change<'a> {
    pub fn to(to: OrderStatus, actor: Actor) -> Self {
        Change {
            to,
            actor,
            note: None,
            also: Vec::new(),
        }
    }

    pub fn note(mut self, note: Option<&'a str>) -> Self {
        self.note = note;
        self
    }

    pub fn set(mut self, column: order::Column, value: impl Into<SimpleExpr>) -> Self {
        self.also.push((column, value.into()));
        self
    }
}

pub fn status_of(o: &order::Model) -> OrderStatus {
    OrderStatus::parse(&o.status).unwrap_or(OrderStatus::Submitted)
}

pub fn before_refund_of(o: &order::Model) -> Option<OrderStatus> {
    o.status_before_refund
        .as_deref()
        .and_then(OrderStatus::parse)
}

/// Moves `current` to `change.to` if the table allows it and nobody changed the order since it
/// was read. `Ok(None)`: refused, nothing written.
pub async fn transition(
    app: &AppState,
    tx: &WriteTx,
    current: &order::Model,
    change: Change<'_>,
) -> Result<Option<order::Model>, AppError> {
    let from = status_of(current);
    if !can_transition(from, change.to, before_refund_of(current)) {
        return Ok(None);
    }
    let now = Utc::now();
    let mut update = order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(change.to.as_str()))
        .col_expr(order::Column::UpdatedAt, Expr::value(now));
    if change.to == OrderStatus::Refunding {
        update = update.col_expr(
            order::Column::StatusBeforeRefund,
            Expr::value(from.as_str()),
        );
    } else if from == OrderStatus::Refunding {
        update = update.col_expr(
            order::Column::StatusBeforeRefund,
            Expr::value(Option::<String>::None),
        );
    }
    for (column, value) in change.also {
        update = update.col_expr(column, value);
    }
    let Some(updated) = update
        .filter(order::Column::Id.eq(current.id))
        .filter(order::Column::Status.eq(from.as_str()))
        .exec_with_returning(&**tx)
        .await?
        .pop()
    else {
        return Ok(None);
    };
    record(tx, &updated, Some(from), change.actor, change.note, now).await?;
    match change.to {
        // From REFUNDING the order returns to where it was: it completed before.
        OrderStatus::Completed if from != OrderStatus::Refunding => {
            app.order_hooks.completed(app, tx, &updated).await?;
        }
        OrderStatus::Cancelled => app.order_hooks.cancelled(app, tx, &updated).await?,
        _ => {}
    }
    Ok(Some(updated))
}

/// Writes the history row and the event of a status change (`from` is `None` when the order
/// was just placed).
pub async fn record(
    tx: &WriteTx,
    order: &order::Model,
    from: Option<OrderStatus>,
    actor: Actor,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    history_row(order, from, actor, note, at)
        .insert(&**tx)
        .await?;
    announce(tx, order, from, actor, note);
    Ok(())
}

/// The history row of a status change, for `record` or for a caller that writes it together
/// with other statements (and then calls `announce`).
pub fn history_row(
    order: &order::Model,
    from: Option<OrderStatus>,
    actor: Actor,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> order_history::ActiveModel {
    order_history::ActiveModel {
        order_id: Set(order.id),
        from_status: Set(from.map(|s| s.as_str().to_string())),
        to_status: Set(order.status.clone()),
        actor_user_id: Set(actor.user_id),
        note: Set(note.map(str::to_string)),
        created_at: Set(at),
        ..Default::default()
    }
}

/// The `order.status_changed` event of a status change whose history row is written.
pub fn announce(
    tx: &WriteTx,
    order: &order::Model,
    from: Option<OrderStatus>,
    actor: Actor,
    note: Option<&str>,
) {
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_STATUS_CHANGED,
            aggregate_type: "Order",
            aggregate_id: order.id,
            recipient_user_id: Some(order.user_id),
            payload: json!({
                "orderId": order.id,
                "orderNo": order.order_no,
                "from": from.map(OrderStatus::as_str),
                "to": order.status,
                "buyerId": order.user_id,
                "distributorId": order.distributor_user_id,
                "actorId": actor.user_id,
                "note": note,
            }),
        },
    );
}

/// The lines of an order, in the order they were placed.
pub async fn lines_of(
    conn: &impl ConnectionTrait,
    order_id: i64,
) -> Result<Vec<order_line::Model>, AppError> {
    Ok(order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .order_by_asc(order_line::Column::Id)
        .all(conn)
        .await?)
}

/// Lets held orders move on (their group filled): they may be approved and shipped from now.
/// Each one's change is announced, so its buyer sees it.
pub async fn release_holds(tx: &WriteTx, order_ids: &[i64]) -> Result<(), AppError> {
    if order_ids.is_empty() {
        return Ok(());
    }
    let released = order::Entity::update_many()
        .col_expr(order::Column::HeldFor, Expr::value(Option::<String>::None))
        .col_expr(order::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(order::Column::Id.is_in(order_ids.iter().copied()))
        .filter(order::Column::HeldFor.is_not_null())
        .exec_with_returning(&**tx)
        .await?;
    for o in &released {
        let status = status_of(o);
        announce(tx, o, Some(status), Actor::SYSTEM, Some("group filled"));
    }
    Ok(())
}

/// Cancels an unpaid order and gives its reserved stock back.
pub async fn cancel_unpaid(
    app: &AppState,
    tx: &WriteTx,
    current: &order::Model,
    actor: Actor,
    reason: &str,
) -> Result<Option<order::Model>, AppError> {
    let now = Utc::now();
    let change = Change::to(OrderStatus::Cancelled, actor)
        .note(Some(reason))
        .set(order::Column::CancelledAt, Expr::value(now))
        .set(order::Column::CancelReason, Expr::value(reason));
    let Some(cancelled) = transition(app, tx, current, change).await? else {
        return Ok(None);
    };
    let mut lines = lines_of(&**tx, current.id).await?;
    // In SKU order, as when they were reserved, so concurrent changes cannot deadlock.
    lines.sort_by_key(|l| l.sku_id);
    for line in lines {
        // Stock too high to take the units back cannot happen for units that came out of it;
        // a refusal here would be a broken ledger, so it aborts the transaction.
        inventory::release(
            app,
            tx,
            line.sku_id,
            line.quantity,
            &current.order_no,
            actor.user_id,
        )
        .await?
        .map_err(|r| AppError::internal(anyhow::anyhow!("cannot release stock: {r:?}")))?;
    }
    Ok(Some(cancelled))
}

/// The buyer cancels their own unpaid order.
pub async fn cancel_by_buyer(
    app: &AppState,
    buyer_id: i64,
    order_id: i64,
    reason: Option<&str>,
) -> OrderResult<order::Model> {
    let tx = app.db.begin_write().await?;
    let Some(current) = order::Entity::find_by_id(order_id)
        .filter(order::Column::UserId.eq(buyer_id))
        .one(&*tx)
        .await?
    else {
        return reject_whole(OrderErrorCode::OrderNotFound, "no such order");
    };
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let reason: String = reason
        .unwrap_or("cancelled by the buyer")
        .chars()
        .take(200)
        .collect();
    let Some(done) = cancel_unpaid(app, &tx, &current, Actor::user(buyer_id), &reason).await?
    else {
        return reject_whole(
            OrderErrorCode::InvalidTransition,
            format!("an order that is {} cannot be cancelled", current.status),
        );
    };
    tx.commit().await?;
    Ok(done)
}

/// Cancels orders whose payment deadline passed. Each order is its own transaction, so one
/// failure does not hold back the rest; an order paid meanwhile is left alone by the
/// conditional update. Returns how many were cancelled.
pub async fn cancel_expired(app: &AppState, now: DateTime<Utc>) -> Result<usize, AppError> {
    let due = order::Entity::find()
        .filter(order::Column::Status.eq(OrderStatus::Submitted.as_str()))
        .filter(order::Column::ExpiresAt.lte(now))
        .order_by_asc(order::Column::ExpiresAt)
        .limit(200)
        .all(app.db.conn())
        .await?;
    let mut cancelled = 0;
    for o in due {
        let tx = app.db.begin_write().await?;
        let Some(current) = order::Entity::find_by_id(o.id).one(&*tx).await? else {
            continue;
        };
        if cancel_unpaid(app, &tx, &current, Actor::SYSTEM, "payment timed out")
            .await?
            .is_some()
        {
            cancelled += 1;
        }
        tx.commit().await?;
    }
    Ok(cancelled)
}
