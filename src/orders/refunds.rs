//! After-sales: the buyer asks for a refund (or a return) of the whole order or some units of
//! some lines; staff approve or reject; returned goods are received back into stock; the money
//! goes back through the provider that took it, exactly to the fen (`refund_rules`).
//!
//! While a request is open the order is `REFUNDING`; afterwards it returns to where it was, or
//! becomes `REFUNDED` when everything paid has gone back. The provider call happens outside any
//! database transaction (it is a network call); it is safe to repeat because the refund number
//! is the provider's idempotency key, and the bookkeeping after it is a conditional update that
//! only one caller can win.
use chrono::Utc;
use entity::{order, order_line, payment, refund, refund_line};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    sea_query::{Expr, ExprTrait},
};

use super::{
    errors::{OrderErrorCode, OrderResult, reject, reject_whole},
    lifecycle::{self, Actor, Change, before_refund_of, status_of},
    listeners::{Refunded, RefundedLine},
    payments::{PaymentState, ProviderKind},
    providers::RefundCall,
    refund_rules::{LineMoney, RefundKind, RefundStatus, can_pay_out, refunds_shipping},
    rules::{OrderStatus, PaymentStatus},
};
use crate::{app::AppState, db::WriteTx, error::AppError, inventory::service as inventory};

/// Photos one request may carry.
pub const MAX_PHOTOS: usize = 9;

pub struct RefundLineRequest {
    pub order_line_id: i64,
    pub quantity: i64,
}

pub struct RefundRequest {
    pub order_id: i64,
    pub kind: RefundKind,
    /// `None`: everything not refunded yet.
    pub lines: Option<Vec<RefundLineRequest>>,
    pub reason: String,
    pub photos: Vec<String>,
}

fn line_money(l: &order_line::Model) -> LineMoney {
    LineMoney {
        quantity: l.quantity,
        pay_amount_fen: l.pay_amount_fen,
        refunded_quantity: l.refunded_quantity,
        refunded_fen: l.refunded_fen,
    }
}

fn valid_photo(url: &str) -> bool {
    url.len() <= 300
        && (url.starts_with("https://") || url.starts_with("http://") || url.starts_with("/media/"))
        && !url.chars().any(char::is_whitespace)
}

/// The buyer asks for their money back.
/// Who opens a refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requester {
    /// The buyer, for their own order while after-sales is open.
    Buyer(i64),
    /// Order staff, for any order, also once it completed (a claim honoured after the
    /// after-sales window).
    Staff(i64),
    /// The system, on the buyer's behalf (a failed group buy): the refund is recorded as
    /// requested by the buyer, decided by nobody.
    System,
}

pub async fn request(
    app: &AppState,
    requester: Requester,
    req: &RefundRequest,
) -> OrderResult<refund::Model> {
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return reject(
            OrderErrorCode::InvalidNote,
            "reason",
            "say why, in at most 200 characters",
        );
    }
    if req.photos.len() > MAX_PHOTOS || !req.photos.iter().all(|p| valid_photo(p)) {
        return reject(
            OrderErrorCode::InvalidNote,
            "photos",
            format!("at most {MAX_PHOTOS} photos, each an uploaded image URL"),
        );
    }
    let tx = app.db.begin_write().await?;
    let mut find = order::Entity::find_by_id(req.order_id);
    if let Requester::Buyer(buyer) = requester {
        find = find.filter(order::Column::UserId.eq(buyer));
    }
    // Locked: two requests for one order take turns, and the second sees the first's refund.
    let Some(current) = tx.locking(find).one(&*tx).await? else {
        return reject_whole(OrderErrorCode::OrderNotFound, "no such order");
    };
    // Who the refund is recorded as requested by, and who moved the order.
    let (requested_by, actor) = match requester {
        Requester::Buyer(id) | Requester::Staff(id) => (id, Actor::user(id)),
        Requester::System => (current.user_id, Actor::SYSTEM),
    };
    let status = status_of(&current);
    let open = status.is_after_payment_open()
        || (status == OrderStatus::Completed && matches!(requester, Requester::Staff(_)));
    if !open {
        return reject_whole(
            OrderErrorCode::InvalidTransition,
            format!("an order that is {} cannot be refunded", status.as_str()),
        );
    }
    let shipped = matches!(
        status,
        OrderStatus::Shipped
            | OrderStatus::InTransit
            | OrderStatus::Delivered
            | OrderStatus::Completed
    );
    if req.kind == RefundKind::Return && !shipped {
        return reject(
            OrderErrorCode::InvalidTransition,
            "kind",
            "nothing has been shipped to send back; ask for a refund instead",
        );
    }
    let lines = lifecycle::lines_of(&*tx, current.id).await?;
    let wanted: Vec<(order_line::Model, i64)> = match &req.lines {
        None => lines
            .iter()
            .filter(|l| line_money(l).refundable_quantity() > 0)
            .map(|l| (l.clone(), line_money(l).refundable_quantity()))
            .collect(),
        Some(asked) => {
            let mut out: Vec<(order_line::Model, i64)> = Vec::new();
            for a in asked {
                let Some(l) = lines.iter().find(|l| l.id == a.order_line_id) else {
                    return reject(
                        OrderErrorCode::OrderLineNotFound,
                        "lines",
                        "no such order line",
                    );
                };
                if out.iter().any(|(o, _)| o.id == l.id) {
                    return reject(
                        OrderErrorCode::InvalidQuantity,
                        "lines",
                        "each line at most once",
                    );
                }
                out.push((l.clone(), a.quantity));
            }
            out
        }
    };
    if wanted.is_empty() {
        return reject(
            OrderErrorCode::EmptyOrder,
            "lines",
            "nothing left to refund",
        );
    }
    let mut amount = 0;
    let mut rows = Vec::with_capacity(wanted.len());
    for (l, q) in &wanted {
        let Some(share) = line_money(l).refund_of(*q) else {
            return reject(
                OrderErrorCode::InvalidQuantity,
                "lines",
                format!(
                    "{}: at most {} can be refunded",
                    l.product_name,
                    line_money(l).refundable_quantity()
                ),
            );
        };
        amount += share;
        rows.push((l.id, *q, share));
    }
    let everything = lines.iter().all(|l| {
        let asked = wanted
            .iter()
            .find(|(w, _)| w.id == l.id)
            .map_or(0, |(_, q)| *q);
        asked == line_money(l).refundable_quantity()
    });
    let anything_shipped = lines.iter().any(|l| l.shipped_quantity > 0);
    if refunds_shipping(everything, anything_shipped) {
        amount += current.shipping_fee_fen;
    }
    let count = refund::Entity::find()
        .filter(refund::Column::OrderId.eq(current.id))
        .count(&*tx)
        .await?;
    let now = Utc::now();
    let created = refund::ActiveModel {
        order_id: Set(current.id),
        refund_no: Set(format!("{}R{}", current.order_no, count + 1)),
        kind: Set(req.kind.as_str().into()),
        status: Set(RefundStatus::Requested.as_str().into()),
        reason: Set(reason.to_string()),
        photos: Set(serde_json::to_string(&req.photos)?),
        amount_fen: Set(amount),
        requested_by: Set(requested_by),
        decided_by: Set(None),
        reject_reason: Set(None),
        provider_refund_id: Set(None),
        decided_at: Set(None),
        received_at: Set(None),
        refunded_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    refund_line::Entity::insert_many(rows.into_iter().map(|(line, q, share)| {
        refund_line::ActiveModel {
            refund_id: Set(created.id),
            order_line_id: Set(line),
            quantity: Set(q),
            amount_fen: Set(share),
        }
    }))
    .exec_without_returning(&*tx)
    .await?;
    let change = Change::to(OrderStatus::Refunding, actor).note(Some(&created.refund_no));
    if lifecycle::transition(app, &tx, &current, change)
        .await?
        .is_none()
    {
        return reject_whole(
            OrderErrorCode::InvalidTransition,
            "the order changed meanwhile; try again",
        );
    }
    tx.commit().await?;
    Ok(created)
}

/// A refund and its order, for staff decisions.
async fn load(tx: &WriteTx, refund_id: i64) -> OrderResult<(refund::Model, order::Model)> {
    let Some(r) = refund::Entity::find_by_id(refund_id).one(&**tx).await? else {
        return reject_whole(OrderErrorCode::RefundNotFound, "no such refund");
    };
    let o = order::Entity::find_by_id(r.order_id)
        .one(&**tx)
        .await?
        .ok_or_else(|| AppError::not_found("order"))?;
    Ok((r, o))
}

fn kind_of(r: &refund::Model) -> RefundKind {
    RefundKind::parse(&r.kind).unwrap_or(RefundKind::RefundOnly)
}

fn status_of_refund(r: &refund::Model) -> RefundStatus {
    RefundStatus::parse(&r.status).unwrap_or(RefundStatus::Requested)
}

/// Moves a refund from one of `from` to `to` if nobody moved it meanwhile.
async fn set_status(
    tx: &WriteTx,
    r: &refund::Model,
    from: &[RefundStatus],
    to: RefundStatus,
    also: Vec<(refund::Column, sea_orm::sea_query::SimpleExpr)>,
) -> Result<Option<refund::Model>, AppError> {
    let mut update = refund::Entity::update_many()
        .col_expr(refund::Column::Status, Expr::value(to.as_str()))
        .col_expr(refund::Column::UpdatedAt, Expr::value(Utc::now()));
    for (c, v) in also {
        update = update.col_expr(c, v);
    }
    Ok(update
        .filter(refund::Column::Id.eq(r.id))
        .filter(refund::Column::Status.is_in(from.iter().map(|s| s.as_str())))
        .exec_with_returning(&**tx)
        .await?
        .pop())
}

fn refused<T>(r: &refund::Model, action: &str) -> OrderResult<T> {
    reject_whole(
        OrderErrorCode::InvalidTransition,
        format!("a refund that is {} cannot be {action}", r.status),
    )
}

/// Staff reject a request; the order returns to where it was.
pub async fn reject_request(
    app: &AppState,
    staff_id: i64,
    refund_id: i64,
    reason: &str,
) -> OrderResult<refund::Model> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return reject(
            OrderErrorCode::InvalidNote,
            "reason",
            "give the buyer a reason, in at most 200 characters",
        );
    }
    let tx = app.db.begin_write().await?;
    let (r, o) = load(&tx, refund_id).await?;
    let now = Utc::now();
    let Some(done) = set_status(
        &tx,
        &r,
        &[RefundStatus::Requested],
        RefundStatus::Rejected,
        vec![
            (refund::Column::DecidedBy, Expr::value(staff_id)),
            (refund::Column::DecidedAt, Expr::value(now)),
            (refund::Column::RejectReason, Expr::value(reason)),
        ],
    )
    .await?
    else {
        return refused(&r, "rejected");
    };
    return_order(app, &tx, &o, Actor::user(staff_id), reason).await?;
    tx.commit().await?;
    Ok(done)
}

/// Ends `REFUNDING`: back to where the order was, or `REFUNDED` when everything went back.
async fn return_order(
    app: &AppState,
    tx: &WriteTx,
    o: &order::Model,
    actor: Actor,
    note: &str,
) -> Result<(), AppError> {
    let to = if o.refunded_fen >= o.pay_amount_fen && o.pay_amount_fen > 0 {
        OrderStatus::Refunded
    } else {
        before_refund_of(o).unwrap_or(OrderStatus::Paid)
    };
    lifecycle::transition(app, tx, o, Change::to(to, actor).note(Some(note)))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("refund ended on a moved order")))?;
    Ok(())
}

/// Staff approve a request: a refund-only request pays out at once; a return waits for the
/// goods.
pub async fn approve(app: &AppState, staff_id: i64, refund_id: i64) -> OrderResult<refund::Model> {
    approve_as(app, Actor::user(staff_id), refund_id).await
}

/// Approves a request as `actor` (staff, or the system for an automatic refund).
async fn approve_as(app: &AppState, actor: Actor, refund_id: i64) -> OrderResult<refund::Model> {
    let tx = app.db.begin_write().await?;
    let (r, _) = load(&tx, refund_id).await?;
    let Some(approved) = set_status(
        &tx,
        &r,
        &[RefundStatus::Requested],
        RefundStatus::Approved,
        vec![
            (refund::Column::DecidedBy, Expr::value(actor.user_id)),
            (refund::Column::DecidedAt, Expr::value(Utc::now())),
        ],
    )
    .await?
    else {
        return refused(&r, "approved");
    };
    tx.commit().await?;
    if kind_of(&approved) == RefundKind::RefundOnly {
        return pay_out(app, actor, refund_id).await;
    }
    Ok(approved)
}

/// Gives a paid order's money back in full on the system's own decision (its group buy
/// failed): a refund is requested on the buyer's behalf, approved and paid out through the
/// provider that took the money, at once. `Ok(None)` when the order has nothing left to refund
/// or a refund of it is already under way (then `resume_automatic` carries that one on), so a
/// second call never pays twice.
pub async fn refund_automatically(
    app: &AppState,
    order_id: i64,
    reason: &str,
) -> OrderResult<Option<refund::Model>> {
    let req = RefundRequest {
        order_id,
        kind: RefundKind::RefundOnly,
        lines: None,
        reason: reason.to_string(),
        photos: Vec::new(),
    };
    let requested = match request(app, Requester::System, &req).await {
        Ok(r) => r,
        Err(crate::error::ServiceError::User(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    approve_as(app, Actor::SYSTEM, requested.id).await.map(Some)
}

/// Carries on an automatic refund of `order_id` that was interrupted (the server stopped
/// between its steps) or that the provider refused: approves it if still requested, pays it out
/// if approved or failed. A refund already paid is left alone.
pub async fn resume_automatic(app: &AppState, order_id: i64) -> OrderResult<()> {
    let open = refund::Entity::find()
        .filter(refund::Column::OrderId.eq(order_id))
        .filter(refund::Column::Status.is_in([
            RefundStatus::Requested.as_str(),
            RefundStatus::Approved.as_str(),
            RefundStatus::Failed.as_str(),
        ]))
        .all(app.db.conn())
        .await?;
    for r in open {
        if status_of_refund(&r) == RefundStatus::Requested {
            approve_as(app, Actor::SYSTEM, r.id).await?;
        } else {
            pay_out(app, Actor::SYSTEM, r.id).await?;
        }
    }
    Ok(())
}

/// The returned goods arrived: back into stock (unless `restock` is false, e.g. damaged), then
/// the money goes back.
pub async fn receive_return(
    app: &AppState,
    staff_id: i64,
    refund_id: i64,
    restock: bool,
) -> OrderResult<refund::Model> {
    let tx = app.db.begin_write().await?;
    let (r, _) = load(&tx, refund_id).await?;
    if kind_of(&r) != RefundKind::Return {
        return refused(&r, "received as a return");
    }
    if set_status(
        &tx,
        &r,
        &[RefundStatus::Approved],
        RefundStatus::Returned,
        vec![(refund::Column::ReceivedAt, Expr::value(Utc::now()))],
    )
    .await?
    .is_none()
    {
        return refused(&r, "received");
    }
    if restock {
        for rl in refund_lines(&tx, r.id).await? {
            let line = order_line::Entity::find_by_id(rl.order_line_id)
                .one(&*tx)
                .await?
                .ok_or_else(|| AppError::not_found("order line"))?;
            inventory::return_goods(
                app,
                &tx,
                line.sku_id,
                rl.quantity,
                &r.refund_no,
                Some(staff_id),
            )
            .await?
            .map_err(|e| AppError::internal(anyhow::anyhow!("cannot restock: {e:?}")))?;
        }
    }
    tx.commit().await?;
    pay_out(app, Actor::user(staff_id), refund_id).await
}

/// Staff try again after the provider failed.
pub async fn retry(app: &AppState, staff_id: i64, refund_id: i64) -> OrderResult<refund::Model> {
    pay_out(app, Actor::user(staff_id), refund_id).await
}

async fn refund_lines(tx: &WriteTx, refund_id: i64) -> Result<Vec<refund_line::Model>, AppError> {
    Ok(refund_line::Entity::find()
        .filter(refund_line::Column::RefundId.eq(refund_id))
        .all(&**tx)
        .await?)
}

/// Sends the money back through the provider that took it, then books it: lines, order
/// totals, payment status, stock for units that never shipped, and the order's status.
async fn pay_out(app: &AppState, actor: Actor, refund_id: i64) -> OrderResult<refund::Model> {
    let (r, paid) = {
        let tx = app.db.begin_write().await?;
        let (r, o) = load(&tx, refund_id).await?;
        if !can_pay_out(kind_of(&r), status_of_refund(&r)) {
            return refused(&r, "paid out");
        }
        let paid = payment::Entity::find()
            .filter(payment::Column::OrderId.eq(o.id))
            .filter(payment::Column::Status.eq(PaymentState::Succeeded.as_str()))
            .order_by_asc(payment::Column::Id)
            .one(&*tx)
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("refund of an unpaid order")))?;
        tx.rollback().await?;
        (r, paid)
    };
    let outcome = send(app, &r, &paid).await;
    let tx = app.db.begin_write().await?;
    let (r, o) = load(&tx, refund_id).await?;
    let provider_refund_id = match outcome {
        Ok(id) => id,
        Err(message) => {
            tracing::warn!(refund_no = %r.refund_no, %message, "refund failed at the provider");
            let failed = set_status(
                &tx,
                &r,
                &[
                    RefundStatus::Approved,
                    RefundStatus::Returned,
                    RefundStatus::Failed,
                ],
                RefundStatus::Failed,
                vec![],
            )
            .await?;
            tx.commit().await?;
            return match failed {
                Some(_) => reject_whole(
                    OrderErrorCode::PaymentFailed,
                    format!("the payment provider did not refund: {message}"),
                ),
                None => refused(&r, "paid out"),
            };
        }
    };
    let now = Utc::now();
    let Some(done) = set_status(
        &tx,
        &r,
        &[
            RefundStatus::Approved,
            RefundStatus::Returned,
            RefundStatus::Failed,
        ],
        RefundStatus::Refunded,
        vec![
            (
                refund::Column::ProviderRefundId,
                Expr::value(provider_refund_id),
            ),
            (refund::Column::RefundedAt, Expr::value(now)),
        ],
    )
    .await?
    else {
        // Someone else booked it meanwhile (the provider call was idempotent).
        return Ok(r);
    };
    let booked = refund_lines(&tx, r.id).await?;
    for rl in &booked {
        let line = order_line::Entity::find_by_id(rl.order_line_id)
            .one(&*tx)
            .await?
            .ok_or_else(|| AppError::not_found("order line"))?;
        // Units never shipped go back on the shelf; returned ones came back on receipt.
        let unshipped = Ord::max(
            line.quantity - line.shipped_quantity - line.refunded_quantity,
            0,
        );
        let restock = Ord::min(rl.quantity, unshipped);
        if kind_of(&r) == RefundKind::RefundOnly && restock > 0 {
            inventory::release(app, &tx, line.sku_id, restock, &r.refund_no, actor.user_id)
                .await?
                .map_err(|e| AppError::internal(anyhow::anyhow!("cannot restock: {e:?}")))?;
        }
        order_line::Entity::update_many()
            .col_expr(
                order_line::Column::RefundedQuantity,
                Expr::col(order_line::Column::RefundedQuantity).add(rl.quantity),
            )
            .col_expr(
                order_line::Column::RefundedFen,
                Expr::col(order_line::Column::RefundedFen).add(rl.amount_fen),
            )
            .filter(order_line::Column::Id.eq(line.id))
            .exec(&*tx)
            .await?;
    }
    let refunded = o.refunded_fen + r.amount_fen;
    let payment_status = if refunded >= o.pay_amount_fen {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    };
    let updated = order::Entity::update_many()
        .col_expr(order::Column::RefundedFen, Expr::value(refunded))
        .col_expr(
            order::Column::PaymentStatus,
            Expr::value(payment_status.as_str()),
        )
        .filter(order::Column::Id.eq(o.id))
        .exec_with_returning(&*tx)
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found("order"))?;
    let mut after = order_line::Entity::find()
        .filter(order_line::Column::Id.is_in(booked.iter().map(|rl| rl.order_line_id)))
        .all(&*tx)
        .await?;
    let lines: Vec<RefundedLine> = booked
        .iter()
        .filter_map(|rl| {
            let at = after.iter().position(|l| l.id == rl.order_line_id)?;
            Some(RefundedLine {
                line: after.swap_remove(at),
                quantity: rl.quantity,
                amount_fen: rl.amount_fen,
            })
        })
        .collect();
    let goods_fen: i64 = booked.iter().map(|rl| rl.amount_fen).sum();
    let refunded = Refunded {
        refund_no: &r.refund_no,
        lines,
        shipping_fen: r.amount_fen - goods_fen,
    };
    app.order_hooks
        .refunded(app, &tx, &updated, &refunded)
        .await?;
    return_order(app, &tx, &updated, actor, &r.refund_no).await?;
    tx.commit().await?;
    Ok(done)
}

/// Asks the provider that took the money to send `r.amount_fen` back; returns the provider's
/// refund id.
async fn send(app: &AppState, r: &refund::Model, paid: &payment::Model) -> Result<String, String> {
    let kind = ProviderKind::parse(&paid.provider)
        .ok_or_else(|| format!("unknown provider {}", paid.provider))?;
    let provider = app
        .payments
        .get(kind)
        .ok_or_else(|| format!("{} is no longer available", kind.as_str()))?;
    provider
        .refund(&RefundCall {
            out_trade_no: &paid.out_trade_no,
            out_refund_no: &r.refund_no,
            amount_fen: r.amount_fen,
            total_fen: paid.amount_fen,
            reason: &r.reason,
        })
        .await
}
