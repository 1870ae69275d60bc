//! Fulfilment (ARCHITECTURE.md §10): staff review paid orders and ship them, whole or in several parcels;
//! delivery is confirmed by the carrier (`tracking`), the buyer, or the auto-receipt timer; the
//! completion timer closes the after-sales window. Every status change goes through
//! `lifecycle::transition`, one write transaction each, so each is conditional, recorded in the
//! history and published as an event.
use chrono::{DateTime, Duration, Utc};
use entity::{order, order_history, order_line, shipment, shipment_line};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Set,
    sea_query::{Expr, ExprTrait, Query},
};

use super::{
    addresses::{self, AddressDraft},
    errors::{OrderErrorCode, OrderResult, reject, reject_whole},
    lifecycle::{self, Actor, Change, status_of},
    rules::{self, OrderStatus},
    tracking,
};
use crate::{
    app::AppState,
    db::{WriteTx, is_unique_violation},
    error::AppError,
};

/// Where a parcel is, as its carrier last reported. The order follows its parcels
/// (`tracking::advance_order`).
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ShipmentStatus {
    /// Handed over to the carrier; no scan reported yet.
    Shipped,
    /// Picked up and on its way (运输中, 派件…).
    InTransit,
    /// Signed for (签收).
    Delivered,
}

impl ShipmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentStatus::Shipped => "SHIPPED",
            ShipmentStatus::InTransit => "IN_TRANSIT",
            ShipmentStatus::Delivered => "DELIVERED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Shipped, Self::InTransit, Self::Delivered]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    pub fn of(s: &shipment::Model) -> Self {
        Self::parse(&s.status).unwrap_or(ShipmentStatus::Shipped)
    }
}

/// How far an order's goods are, as its lines and the carriers say (readable on its own: a
/// buyer's confirmation or the auto-receipt timer moves the order, not the parcels).
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShippingStatus {
    /// Nothing shipped yet.
    Unshipped,
    /// Some units are shipped, some are still to ship.
    PartiallyShipped,
    /// Everything is shipped; no carrier scan yet.
    Shipped,
    /// Everything is shipped and at least one parcel is on its way.
    InTransit,
    /// Every parcel was signed for.
    Delivered,
}

/// Units of a line still to ship: neither shipped nor refunded.
pub fn unshipped(line: &order_line::Model) -> i64 {
    Ord::max(
        line.quantity - line.refunded_quantity - line.shipped_quantity,
        0,
    )
}

pub fn shipping_status(
    lines: &[order_line::Model],
    shipments: &[shipment::Model],
) -> ShippingStatus {
    if shipments.is_empty() {
        return ShippingStatus::Unshipped;
    }
    if lines.iter().any(|l| unshipped(l) > 0) {
        return ShippingStatus::PartiallyShipped;
    }
    let statuses: Vec<ShipmentStatus> = shipments.iter().map(ShipmentStatus::of).collect();
    if statuses.iter().all(|s| *s == ShipmentStatus::Delivered) {
        ShippingStatus::Delivered
    } else if statuses.iter().any(|s| *s != ShipmentStatus::Shipped) {
        ShippingStatus::InTransit
    } else {
        ShippingStatus::Shipped
    }
}

/// Units of one order line to put in a parcel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShipLine {
    pub order_line_id: i64,
    pub quantity: i64,
}

pub struct ShipRequest {
    pub order_id: i64,
    pub carrier: String,
    pub tracking_no: String,
    /// `None`: everything not yet shipped.
    pub lines: Option<Vec<ShipLine>>,
}

type Refusal = (OrderErrorCode, String);

/// What a parcel takes from each line (ordered by line id). Refuses lines of other orders,
/// repeated lines, quantities below one or above what is left to ship, and empty parcels.
pub fn plan_shipment(
    lines: &[order_line::Model],
    requested: Option<&[ShipLine]>,
) -> Result<Vec<ShipLine>, Refusal> {
    let mut plan: Vec<ShipLine> = match requested {
        None => lines
            .iter()
            .filter(|l| unshipped(l) > 0)
            .map(|l| ShipLine {
                order_line_id: l.id,
                quantity: unshipped(l),
            })
            .collect(),
        Some(requested) => {
            let mut plan = Vec::with_capacity(requested.len());
            for r in requested {
                let Some(line) = lines.iter().find(|l| l.id == r.order_line_id) else {
                    return Err((
                        OrderErrorCode::OrderLineNotFound,
                        "a line to ship is not a line of this order".into(),
                    ));
                };
                if plan.iter().any(|p: &ShipLine| p.order_line_id == line.id) {
                    return Err((
                        OrderErrorCode::InvalidQuantity,
                        format!("{} is named twice", line.product_name),
                    ));
                }
                let left = unshipped(line);
                if r.quantity < 1 || r.quantity > left {
                    return Err((
                        OrderErrorCode::InvalidQuantity,
                        format!(
                            "{}: {} unit(s) left to ship, not {}",
                            line.product_name, left, r.quantity
                        ),
                    ));
                }
                plan.push(*r);
            }
            plan
        }
    };
    if plan.is_empty() {
        return Err((
            OrderErrorCode::NothingToShip,
            "every unit of this order is shipped or refunded".into(),
        ));
    }
    plan.sort_by_key(|p| p.order_line_id);
    Ok(plan)
}

/// Common carriers as Kuaidi100 codes them, for the dashboard's shipping form. Any other
/// Kuaidi100 code is accepted too.
pub const CARRIERS: [(&str, &str); 10] = [
    ("shunfeng", "顺丰速运"),
    ("jd", "京东物流"),
    ("ems", "EMS"),
    ("youzhengguonei", "邮政快递包裹"),
    ("zhongtong", "中通快递"),
    ("yuantong", "圆通速递"),
    ("shentong", "申通快递"),
    ("yunda", "韵达快递"),
    ("jtexpress", "极兔速递"),
    ("debangkuaidi", "德邦快递"),
];

pub fn carrier_name(code: &str) -> Option<&'static str> {
    CARRIERS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Carrier codes are Kuaidi100's (`shunfeng`, `yuantong`…): lower-case letters and digits.
pub fn normalize_carrier(raw: &str) -> Option<String> {
    let c = raw.trim().to_ascii_lowercase();
    (!c.is_empty() && c.len() <= 32 && c.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(c)
}

/// Tracking numbers are letters, digits and dashes; stored upper-case so that a number typed
/// in lower case and the carrier's push name the same parcel.
pub fn normalize_tracking_no(raw: &str) -> Option<String> {
    let n = raw.trim().to_ascii_uppercase();
    (!n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .then_some(n)
}

/// A note as entered: trimmed, empty is none, at most `max` characters, no control characters
/// but line breaks.
pub fn clean_note(note: Option<&str>, max: usize) -> Result<Option<String>, String> {
    let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if n.chars().count() > max {
        return Err(format!("a note is at most {max} characters"));
    }
    if n.chars().any(|c| c.is_control() && c != '\n') {
        return Err("a note cannot contain control characters".into());
    }
    Ok(Some(n.to_string()))
}

/// History notes are at most 500 characters (the column's size).
fn history_note(text: String) -> String {
    text.chars().take(500).collect()
}

/// Writes a history row that changes no status (a further parcel, a new address): the buyer and
/// staff see it in `Order.history`. No status event: nothing a status subscriber follows changed.
async fn note_history(
    tx: &WriteTx,
    o: &order::Model,
    actor: Actor,
    note: String,
) -> Result<(), AppError> {
    order_history::ActiveModel {
        order_id: Set(o.id),
        from_status: Set(Some(o.status.clone())),
        to_status: Set(o.status.clone()),
        actor_user_id: Set(actor.user_id),
        note: Set(Some(history_note(note))),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    Ok(())
}

/// True when no line has units left to ship.
pub async fn fully_shipped(conn: &impl ConnectionTrait, order_id: i64) -> Result<bool, AppError> {
    let open = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .filter(
            Expr::col(order_line::Column::ShippedQuantity)
                .lt(Expr::col(order_line::Column::Quantity)
                    .sub(Expr::col(order_line::Column::RefundedQuantity))),
        )
        .count(conn)
        .await?;
    Ok(open == 0)
}

/// Moves a shipped order to DELIVERED, whoever says so (carrier, buyer, timer). Refused
/// (`None`) while units are still to ship: the rest must ship (or be refunded) first, or a
/// delivered order could never ship them.
pub async fn deliver(
    app: &AppState,
    tx: &WriteTx,
    current: &order::Model,
    actor: Actor,
    note: &str,
) -> Result<Option<order::Model>, AppError> {
    if !fully_shipped(&**tx, current.id).await? {
        return Ok(None);
    }
    let change = Change::to(OrderStatus::Delivered, actor)
        .note(Some(note))
        .set(order::Column::DeliveredAt, Expr::value(Utc::now()));
    lifecycle::transition(app, tx, current, change).await
}

async fn find_order(tx: &WriteTx, order_id: i64) -> OrderResult<order::Model> {
    match order::Entity::find_by_id(order_id).one(&**tx).await? {
        Some(o) => Ok(o),
        None => reject_whole(OrderErrorCode::OrderNotFound, "no such order"),
    }
}

fn invalid_transition<T>(current: &order::Model, what: &str) -> OrderResult<T> {
    reject_whole(
        OrderErrorCode::InvalidTransition,
        format!(
            "order {} is {}: it cannot {what} now",
            current.order_no,
            status_of(current).as_str()
        ),
    )
}

/// 审核: staff accept a paid order for shipping.
pub async fn approve(
    app: &AppState,
    staff_id: i64,
    order_id: i64,
    note: Option<&str>,
) -> OrderResult<order::Model> {
    let note = clean_note(note, 500).or_else(|m| reject(OrderErrorCode::InvalidNote, "note", m))?;
    let tx = app.db.begin_write().await?;
    let current = find_order(&tx, order_id).await?;
    if rules::hold_blocks(current.held_for.is_some(), OrderStatus::Approved) {
        return reject_whole(
            OrderErrorCode::OrderOnHold,
            format!(
                "order {} waits for its group to fill before it can be approved",
                current.order_no
            ),
        );
    }
    let change = Change::to(OrderStatus::Approved, Actor::user(staff_id))
        .note(note.as_deref())
        .set(order::Column::ApprovedAt, Expr::value(Utc::now()));
    let Some(approved) = lifecycle::transition(app, &tx, &current, change).await? else {
        return invalid_transition(&current, "be approved");
    };
    tx.commit().await?;
    Ok(approved)
}

/// Ships a parcel: the shipment, its lines and the lines' shipped quantities, in one
/// transaction. The first parcel moves the order APPROVED → SHIPPED; further parcels may follow
/// while the order is SHIPPED or IN_TRANSIT and something is left to ship.
pub async fn ship(
    app: &AppState,
    staff_id: i64,
    req: &ShipRequest,
) -> OrderResult<(order::Model, shipment::Model)> {
    let Some(carrier) = normalize_carrier(&req.carrier) else {
        return reject(
            OrderErrorCode::InvalidTracking,
            "carrier",
            "the carrier is a Kuaidi100 code such as shunfeng or yuantong",
        );
    };
    let Some(tracking_no) = normalize_tracking_no(&req.tracking_no) else {
        return reject(
            OrderErrorCode::InvalidTracking,
            "trackingNo",
            "a tracking number is 1–64 letters, digits or dashes",
        );
    };
    let tx = app.db.begin_write().await?;
    let current = find_order(&tx, req.order_id).await?;
    let first = match status_of(&current) {
        OrderStatus::Approved => true,
        OrderStatus::Shipped | OrderStatus::InTransit => false,
        // REFUNDING among them: goods must not leave while a refund is being decided.
        _ => return invalid_transition(&current, "be shipped"),
    };
    let lines = lifecycle::lines_of(&*tx, current.id).await?;
    let plan = plan_shipment(&lines, req.lines.as_deref())
        .or_else(|(code, m)| reject(code, "lines", m))?;

    let now = Utc::now();
    let actor = Actor::user(staff_id);
    let note = format!("{carrier} {tracking_no}");
    // The order row is updated first in both cases: it is the lock that orders this shipment
    // against a refund request or a delivery committing at the same time.
    let updated = if first {
        let change = Change::to(OrderStatus::Shipped, actor)
            .note(Some(&note))
            .set(order::Column::ShippedAt, Expr::value(now));
        lifecycle::transition(app, &tx, &current, change).await?
    } else {
        let touched = order::Entity::update_many()
            .col_expr(order::Column::UpdatedAt, Expr::value(now))
            .filter(order::Column::Id.eq(current.id))
            .filter(order::Column::Status.is_in([
                OrderStatus::Shipped.as_str(),
                OrderStatus::InTransit.as_str(),
            ]))
            .exec_with_returning(&*tx)
            .await?
            .pop();
        if let Some(o) = &touched {
            note_history(&tx, o, actor, format!("another parcel shipped: {note}")).await?;
        }
        touched
    };
    let Some(updated) = updated else {
        return invalid_transition(&current, "be shipped");
    };

    let inserted = shipment::ActiveModel {
        order_id: Set(current.id),
        carrier: Set(carrier.clone()),
        tracking_no: Set(tracking_no.clone()),
        status: Set(ShipmentStatus::Shipped.as_str().into()),
        shipped_by: Set(Some(staff_id)),
        shipped_at: Set(now),
        delivered_at: Set(None),
        last_tracked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await;
    let parcel = match inserted {
        Ok(p) => p,
        Err(e) if is_unique_violation(&e) => {
            return reject(
                OrderErrorCode::TrackingNumberTaken,
                "trackingNo",
                format!("{carrier} {tracking_no} is already the tracking number of a shipment"),
            );
        }
        Err(e) => return Err(e.into()),
    };
    for p in &plan {
        // Conditional, so a refund that took units meanwhile can never leave more shipped
        // than bought.
        let claimed = order_line::Entity::update_many()
            .col_expr(
                order_line::Column::ShippedQuantity,
                Expr::col(order_line::Column::ShippedQuantity).add(p.quantity),
            )
            .filter(order_line::Column::Id.eq(p.order_line_id))
            .filter(
                Expr::col(order_line::Column::ShippedQuantity)
                    .add(p.quantity)
                    .lte(
                        Expr::col(order_line::Column::Quantity)
                            .sub(Expr::col(order_line::Column::RefundedQuantity)),
                    ),
            )
            .exec(&*tx)
            .await?
            .rows_affected;
        if claimed == 0 {
            return reject(
                OrderErrorCode::InvalidQuantity,
                "lines",
                "the order's lines changed meanwhile; reload and try again",
            );
        }
        shipment_line::ActiveModel {
            shipment_id: Set(parcel.id),
            order_line_id: Set(p.order_line_id),
            quantity: Set(p.quantity),
        }
        .insert(&*tx)
        .await?;
    }
    tx.commit().await?;
    tracking::subscribe_in_background(app, &parcel, &updated.phone);
    Ok((updated, parcel))
}

fn one_line(a: &order::Model) -> String {
    format!(
        "{} {} {}{}{} {}",
        a.recipient, a.phone, a.province, a.city, a.district, a.address_detail
    )
}

/// Staff correct where an order goes, until it ships. The old and the new address go into the
/// history, so the buyer sees the change.
pub async fn change_address(
    app: &AppState,
    staff_id: i64,
    order_id: i64,
    draft: &AddressDraft,
) -> OrderResult<order::Model> {
    let v = addresses::validate(draft)
        .or_else(|(field, m)| reject(OrderErrorCode::InvalidAddress, field, m))?;
    let tx = app.db.begin_write().await?;
    let current = find_order(&tx, order_id).await?;
    let before_shipping = [
        OrderStatus::Submitted,
        OrderStatus::Paid,
        OrderStatus::Approved,
    ];
    if !before_shipping.contains(&status_of(&current)) {
        return invalid_transition(&current, "change its shipping address");
    }
    let Some(updated) = order::Entity::update_many()
        .col_expr(order::Column::Recipient, Expr::value(v.recipient))
        .col_expr(order::Column::Phone, Expr::value(v.phone))
        .col_expr(order::Column::Province, Expr::value(v.province))
        .col_expr(order::Column::City, Expr::value(v.city))
        .col_expr(order::Column::District, Expr::value(v.district))
        .col_expr(order::Column::AddressDetail, Expr::value(v.detail))
        .col_expr(order::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(order::Column::Id.eq(current.id))
        .filter(order::Column::Status.is_in(before_shipping.map(OrderStatus::as_str)))
        .exec_with_returning(&*tx)
        .await?
        .pop()
    else {
        return invalid_transition(&current, "change its shipping address");
    };
    let note = format!(
        "shipping address changed from {} to {}",
        one_line(&current),
        one_line(&updated)
    );
    note_history(&tx, &updated, Actor::user(staff_id), note).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Replaces the internal note (empty clears it). Any status: notes outlive the order's life.
pub async fn set_staff_note(
    app: &AppState,
    order_id: i64,
    note: Option<&str>,
) -> OrderResult<order::Model> {
    let note =
        clean_note(note, 1000).or_else(|m| reject(OrderErrorCode::InvalidNote, "note", m))?;
    let tx = app.db.begin_write().await?;
    let Some(updated) = order::Entity::update_many()
        .col_expr(order::Column::StaffNote, Expr::value(note))
        .col_expr(order::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(order::Column::Id.eq(order_id))
        .exec_with_returning(&*tx)
        .await?
        .pop()
    else {
        return reject_whole(OrderErrorCode::OrderNotFound, "no such order");
    };
    tx.commit().await?;
    Ok(updated)
}

/// The buyer says the goods arrived (确认收货).
pub async fn confirm_receipt(
    app: &AppState,
    buyer_id: i64,
    order_id: i64,
) -> OrderResult<order::Model> {
    let tx = app.db.begin_write().await?;
    let Some(current) = order::Entity::find_by_id(order_id)
        .filter(order::Column::UserId.eq(buyer_id))
        .one(&*tx)
        .await?
    else {
        return reject_whole(OrderErrorCode::OrderNotFound, "no such order");
    };
    let Some(done) = deliver(
        app,
        &tx,
        &current,
        Actor::user(buyer_id),
        "receipt confirmed by the buyer",
    )
    .await?
    else {
        return reject_whole(
            OrderErrorCode::InvalidTransition,
            format!(
                "order {} is {}: only an order with everything shipped can be confirmed as received",
                current.order_no,
                status_of(&current).as_str()
            ),
        );
    };
    tx.commit().await?;
    Ok(done)
}

/// Shipped orders whose last parcel left before `cutoff`, with nothing left to ship: the
/// auto-receipt timer's work. Filtering in SQL keeps orders that wait for a further parcel
/// from being fetched again on every run.
fn due_for_receipt(cutoff: DateTime<Utc>) -> Select<order::Entity> {
    let later_parcel = Query::select()
        .expr(Expr::val(1))
        .from(shipment::Entity)
        .and_where(
            Expr::col((shipment::Entity, shipment::Column::OrderId))
                .equals((order::Entity, order::Column::Id)),
        )
        .and_where(Expr::col((shipment::Entity, shipment::Column::ShippedAt)).gt(cutoff))
        .to_owned();
    let open_line = Query::select()
        .expr(Expr::val(1))
        .from(order_line::Entity)
        .and_where(
            Expr::col((order_line::Entity, order_line::Column::OrderId))
                .equals((order::Entity, order::Column::Id)),
        )
        .and_where(
            Expr::col((order_line::Entity, order_line::Column::ShippedQuantity)).lt(Expr::col((
                order_line::Entity,
                order_line::Column::Quantity,
            ))
            .sub(Expr::col((
                order_line::Entity,
                order_line::Column::RefundedQuantity,
            )))),
        )
        .to_owned();
    order::Entity::find()
        .filter(order::Column::Status.is_in([
            OrderStatus::Shipped.as_str(),
            OrderStatus::InTransit.as_str(),
        ]))
        .filter(order::Column::ShippedAt.lte(cutoff))
        .filter(Expr::exists(later_parcel).not())
        .filter(Expr::exists(open_line).not())
}

/// Most orders one timer run moves; the next run takes the rest.
const TIMER_BATCH: u64 = 200;

/// Orders shipped `order_auto_receive_days` ago without a delivery signal count as received.
/// Each order is its own transaction; re-checked inside it, so a run racing a push or the buyer
/// changes nothing twice. Returns how many were received.
pub async fn receive_overdue(app: &AppState, now: DateTime<Utc>) -> Result<usize, AppError> {
    let days = app.config.order_auto_receive_days;
    let cutoff = now - Duration::days(i64::from(days));
    let due = due_for_receipt(cutoff)
        .order_by_asc(order::Column::ShippedAt)
        .limit(TIMER_BATCH)
        .all(app.db.conn())
        .await?;
    let note = format!("received automatically {days} days after shipping");
    let mut received = 0;
    for o in due {
        let tx = app.db.begin_write().await?;
        let Some(current) = due_for_receipt(cutoff)
            .filter(order::Column::Id.eq(o.id))
            .one(&*tx)
            .await?
        else {
            continue;
        };
        if deliver(app, &tx, &current, Actor::SYSTEM, &note)
            .await?
            .is_some()
        {
            received += 1;
        }
        tx.commit().await?;
    }
    Ok(received)
}

/// Orders delivered `order_after_sales_days` ago complete: the after-sales window is closed.
/// An order in REFUNDING waits until its refund is decided. Returns how many completed.
pub async fn complete_overdue(app: &AppState, now: DateTime<Utc>) -> Result<usize, AppError> {
    let days = app.config.order_after_sales_days;
    let cutoff = now - Duration::days(i64::from(days));
    let due = order::Entity::find()
        .filter(order::Column::Status.eq(OrderStatus::Delivered.as_str()))
        .filter(order::Column::DeliveredAt.lte(cutoff))
        .order_by_asc(order::Column::DeliveredAt)
        .limit(TIMER_BATCH)
        .all(app.db.conn())
        .await?;
    let note = format!("after-sales window of {days} days closed");
    let mut completed = 0;
    for o in due {
        let tx = app.db.begin_write().await?;
        let Some(current) = order::Entity::find_by_id(o.id).one(&*tx).await? else {
            continue;
        };
        let change = Change::to(OrderStatus::Completed, Actor::SYSTEM)
            .note(Some(&note))
            .set(order::Column::CompletedAt, Expr::value(now));
        if lifecycle::transition(app, &tx, &current, change)
            .await?
            .is_some()
        {
            completed += 1;
        }
        tx.commit().await?;
    }
    Ok(completed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: i64, quantity: i64, shipped: i64, refunded: i64) -> order_line::Model {
        order_line::Model {
            id,
            order_id: 1,
            sku_id: id,
            product_id: id,
            product_name: format!("商品{id}"),
            spec_text: String::new(),
            sku_code: String::new(),
            image_url: None,
            unit_price_fen: 100,
            cost_price_fen: 50,
            quantity,
            line_total_fen: 100 * quantity,
            discount_fen: 0,
            member_discount_fen: 0,
            pay_amount_fen: 100 * quantity,
            refunded_quantity: refunded,
            refunded_fen: 0,
            shipped_quantity: shipped,
            weight_grams: 0,
            is_gift: false,
            points_used: 0,
            created_at: Utc::now(),
        }
    }

    fn parcel(status: ShipmentStatus) -> shipment::Model {
        let now = Utc::now();
        shipment::Model {
            id: 1,
            order_id: 1,
            carrier: "yuantong".into(),
            tracking_no: "YT1".into(),
            status: status.as_str().into(),
            shipped_by: None,
            shipped_at: now,
            delivered_at: None,
            last_tracked_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn sl(order_line_id: i64, quantity: i64) -> ShipLine {
        ShipLine {
            order_line_id,
            quantity,
        }
    }

    #[test]
    fn without_lines_a_parcel_takes_everything_left() {
        let lines = [line(1, 3, 1, 0), line(2, 2, 0, 2), line(3, 1, 0, 0)];
        assert_eq!(
            plan_shipment(&lines, None).unwrap(),
            vec![sl(1, 2), sl(3, 1)],
            "refunded and shipped units are not shipped again"
        );
        let done = [line(1, 3, 3, 0), line(2, 2, 1, 1)];
        assert_eq!(
            plan_shipment(&done, None).unwrap_err().0,
            OrderErrorCode::NothingToShip
        );
    }

    #[test]
    fn a_split_parcel_takes_what_is_asked_within_what_is_left() {
        let lines = [line(1, 3, 1, 0), line(2, 2, 0, 0)];
        assert_eq!(
            plan_shipment(&lines, Some(&[sl(2, 1), sl(1, 2)])).unwrap(),
            vec![sl(1, 2), sl(2, 1)]
        );
        let refused = [
            (vec![sl(1, 3)], OrderErrorCode::InvalidQuantity),
            (vec![sl(1, 0)], OrderErrorCode::InvalidQuantity),
            (vec![sl(2, 1), sl(2, 1)], OrderErrorCode::InvalidQuantity),
            (vec![sl(9, 1)], OrderErrorCode::OrderLineNotFound),
            (vec![], OrderErrorCode::NothingToShip),
        ];
        for (asked, code) in refused {
            assert_eq!(
                plan_shipment(&lines, Some(&asked)).unwrap_err().0,
                code,
                "{asked:?}"
            );
        }
    }

    #[test]
    fn carriers_and_tracking_numbers_are_normalised() {
        assert_eq!(normalize_carrier(" YuanTong ").as_deref(), Some("yuantong"));
        assert_eq!(normalize_carrier("shun feng"), None);
        assert_eq!(normalize_carrier(""), None);
        assert_eq!(
            normalize_tracking_no(" sf1234-56 ").as_deref(),
            Some("SF1234-56")
        );
        assert_eq!(normalize_tracking_no("SF 1"), None);
        assert_eq!(normalize_tracking_no(&"9".repeat(65)), None);
    }

    #[test]
    fn notes_are_trimmed_and_bounded() {
        assert_eq!(
            clean_note(Some("  加急 "), 10).unwrap().as_deref(),
            Some("加急")
        );
        assert_eq!(clean_note(Some("   "), 10).unwrap(), None);
        assert_eq!(clean_note(None, 10).unwrap(), None);
        assert!(clean_note(Some("长".repeat(11).as_str()), 10).is_err());
        assert!(clean_note(Some("a\u{7}b"), 10).is_err());
        assert!(clean_note(Some("a\nb"), 10).is_ok());
    }

    #[test]
    fn shipping_status_follows_lines_and_parcels() {
        use ShipmentStatus as P;
        let all = [line(1, 2, 2, 0)];
        let part = [line(1, 2, 1, 0)];
        assert_eq!(shipping_status(&part, &[]), ShippingStatus::Unshipped);
        assert_eq!(
            shipping_status(&part, &[parcel(P::Delivered)]),
            ShippingStatus::PartiallyShipped
        );
        assert_eq!(
            shipping_status(&all, &[parcel(P::Shipped), parcel(P::Shipped)]),
            ShippingStatus::Shipped
        );
        assert_eq!(
            shipping_status(&all, &[parcel(P::Delivered), parcel(P::Shipped)]),
            ShippingStatus::InTransit
        );
        assert_eq!(
            shipping_status(&all, &[parcel(P::Delivered), parcel(P::Delivered)]),
            ShippingStatus::Delivered
        );
    }
}
