//! Placing an order. Everything that can be decided before the write lock is (`prepare`:
//! the key, a retry, the prices, the address); then the order is written in one transaction
//! with others that are waiting.
//!
//! A group buy announced in a WeChat group sends hundreds of buyers to one SKU in the same
//! second, and every order for a SKU updates that SKU's row: one transaction per order makes
//! them take turns on the row (PostgreSQL) or on the one write lock (SQLite) for their whole
//! transaction, commit included. So orders queue on each instance (`group_commit`) and one
//! task writes whatever is waiting in one transaction: each order inside its own savepoint, so
//! a refused order (out of stock, points spent elsewhere, a group already full) is undone
//! alone — its writes and its events — and the others go on. What an order may do is still
//! decided by the conditional writes of its savepoint, so grouping changes how fast, never
//! what, and instances still meet only in the database. Should the group fail as a whole
//! (the database, not a refusal), each order is tried again alone.
//!
//! Each lane writes on a thread of its own (`GroupQueue::on_own_thread`), so that a group's
//! statements do not wait behind the request tasks. On PostgreSQL orders queue in lanes by
//! their first SKU, each lane with its own connection: the lane of a hot SKU writes its groups
//! one after another while lanes of other SKUs write beside it. SQLite has one writer, so one
//! lane.
use std::sync::Arc;

use chrono::Utc;
use entity::{address, cart_item, order, order_history, order_line};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    EntityTrait, FromQueryResult, QueryFilter, QueryTrait, Set, Statement,
};
use serde::{Deserialize, Serialize};

use super::{
    addresses,
    checkout::{CheckoutRequest, LineProblem, Quote, QuoteGift, QuoteLine, quote},
    errors::{OrderErrorCode, OrderResult, reject, reject_whole},
    lifecycle::{self, Actor},
    listeners::OrderAttribution,
    rules::{OrderHold, OrderSource, OrderStatus, PaymentStatus, order_number},
};
use crate::{
    app::AppState,
    catalog::cache::ProductBundle,
    db::WriteTx,
    error::{AppError, ServiceError},
    group_commit::{GroupCommit, GroupQueue},
    idempotency::{self, Prior},
    inventory::service::{self as inventory, StockRefusal},
};

const IDEMPOTENCY_SCOPE: &str = "placeOrder";

/// The statement that takes the next order number, one row with `n`. On PostgreSQL a sequence
/// (no row lock held by every open checkout); on SQLite, where writers take turns anyway, a
/// per-day counter inside the transaction.
fn order_number_statement(backend: DatabaseBackend, day: &str) -> Statement {
    if backend == DatabaseBackend::Postgres {
        Statement::from_string(backend, "SELECT nextval('order_number_seq') AS n")
    } else {
        Statement::from_sql_and_values(
            backend,
            "INSERT INTO order_number_sequences (day, last_value) VALUES (?, 1) \
             ON CONFLICT (day) DO UPDATE SET last_value = order_number_sequences.last_value + 1 \
             RETURNING last_value AS n",
            [day.into()],
        )
    }
}

fn line_problem_error<T>(line: &QuoteLine) -> OrderResult<T> {
    let name = &line.bundle.product.name;
    match line.problem {
        Some(LineProblem::NotOnSale) => reject(
            OrderErrorCode::NotOnSale,
            "lines",
            format!("{name} is not on sale"),
        ),
        Some(LineProblem::OutOfStock) => reject(
            OrderErrorCode::OutOfStock,
            "lines",
            format!("{name} is out of stock"),
        ),
        Some(LineProblem::InsufficientStock { available }) => reject(
            OrderErrorCode::OutOfStock,
            "lines",
            format!("only {available} of {name} left"),
        ),
        None => unreachable!("only called for a line with a problem"),
    }
}

#[derive(Serialize, Deserialize)]
struct Placed {
    order_id: i64,
}

/// Places the order `req` describes for `buyer_id`. A retry with the same `idempotency_key`
/// and the same request returns the first order; with a different request it is refused.
pub async fn place_order(
    app: &Arc<AppState>,
    buyer_id: i64,
    req: &CheckoutRequest,
    idempotency_key: &str,
) -> OrderResult<order::Model> {
    let placement = match prepare(app, buyer_id, req, idempotency_key).await? {
        Prepared::New(p) => p,
        Prepared::Replay { hash } => return replay(app, buyer_id, idempotency_key, &hash).await,
    };
    let hash = placement.hash.clone();
    let written = if placement.request.group_buy.is_some() {
        // A group-buy order takes its group's row before the SKU's, as the group's payments
        // and cancellations do. In a group of orders it would take that row after an earlier
        // order of the group had taken the SKU's, and could deadlock with them: it goes alone.
        let alone = std::slice::from_ref(&placement);
        Placements::commit(app, &None, alone).await?.remove(0)
    } else {
        let lane = app.placements.lane(&placement);
        lane.submit(app, placement).await?
    };
    match written? {
        Written::Placed(order) => Ok(*order),
        Written::KeyTaken => replay(app, buyer_id, idempotency_key, &hash).await,
    }
}

/// An order checked, priced and ready to be written.
pub struct Placement {
    buyer_id: i64,
    idempotency_key: String,
    /// The request's idempotency hash.
    hash: String,
    request: CheckoutRequest,
    note: Option<String>,
    quote: Quote,
    address: address::Model,
}

impl Placement {
    /// The SKUs whose stock the order reserves (its lines and the gifts there was stock for),
    /// ascending, each once.
    fn gated_skus(&self) -> Vec<i64> {
        let mut skus: Vec<i64> = (self.quote.lines.iter().map(|l| l.sku.id))
            .chain(
                self.quote
                    .gifts
                    .iter()
                    .filter(|g| g.available)
                    .map(|g| g.sku.id),
            )
            .collect();
        skus.sort_unstable();
        skus.dedup();
        skus
    }
}

enum Prepared {
    New(Arc<Placement>),
    /// A request with this key was placed before (or refused as different).
    Replay {
        hash: String,
    },
}

/// Everything about an order that can be decided before the write lock: the key, the note,
/// a retry, the prices and the address. Stock is the one fact that must be decided under the
/// lock, and the conditional update that reserves it does that. A retry racing the first
/// request is caught when the key is claimed.
async fn prepare(
    app: &AppState,
    buyer_id: i64,
    req: &CheckoutRequest,
    idempotency_key: &str,
) -> OrderResult<Prepared> {
    if !idempotency::valid_key(idempotency_key) {
        return reject(
            OrderErrorCode::InvalidIdempotencyKey,
            "idempotencyKey",
            format!(
                "the idempotency key must be 1 to {} characters",
                idempotency::KEY_MAX
            ),
        );
    }
    if req.address_id.is_none() {
        return reject(
            OrderErrorCode::InvalidAddress,
            "addressId",
            "choose a delivery address",
        );
    }
    let note = match req.buyer_note.as_deref().map(str::trim) {
        Some(n) if n.chars().count() > 200 => {
            return reject(
                OrderErrorCode::InvalidNote,
                "buyerNote",
                "a note is at most 200 characters",
            );
        }
        Some("") | None => None,
        Some(n) => Some(n.to_string()),
    };
    let hash = idempotency::request_hash(req);
    // A retry of a placed order is found when its key is claimed, so the key is looked up
    // here only when the order is refused: the retry of an order that took the last unit must
    // get that order back, not `OUT_OF_STOCK`.
    let (quote, address) = match checked(app, buyer_id, req).await {
        Ok(checked) => checked,
        Err(refusal) => {
            let prior = idempotency::check::<Placed>(
                app.db.conn(),
                IDEMPOTENCY_SCOPE,
                buyer_id,
                idempotency_key,
                &hash,
            )
            .await?;
            return match prior {
                Prior::New => Err(refusal),
                _ => Ok(Prepared::Replay { hash }),
            };
        }
    };
    Ok(Prepared::New(Arc::new(Placement {
        buyer_id,
        idempotency_key: idempotency_key.to_string(),
        hash,
        request: req.clone(),
        note,
        quote,
        address,
    })))
}

/// The order priced, with nothing the buyer must change, and the address to deliver to.
async fn checked(
    app: &AppState,
    buyer_id: i64,
    req: &CheckoutRequest,
) -> OrderResult<(Quote, address::Model)> {
    let quote = quote(app, app.db.conn(), buyer_id, req, true).await?;
    if let Some(bad) = quote.lines.iter().find(|l| l.problem.is_some()) {
        return line_problem_error(bad);
    }
    let address = quote
        .address
        .clone()
        .ok_or_else(|| AppError::not_found("address"))?;
    // An address saved before the rules tightened is checked again.
    if let Err((field, message)) = addresses::validate(&addresses::AddressDraft {
        recipient: address.recipient.clone(),
        phone: address.phone.clone(),
        province: address.province.clone(),
        city: address.city.clone(),
        district: address.district.clone(),
        detail: address.detail.clone(),
        postal_code: address.postal_code.clone(),
        is_default: false,
    }) {
        return reject(
            OrderErrorCode::InvalidAddress,
            "addressId",
            format!("{message} ({field})"),
        );
    }
    Ok((quote, address))
}

/// What writing a placement came to.
pub enum Written {
    Placed(Box<order::Model>),
    /// A concurrent request with the same key was written first: nothing of this one is kept,
    /// and its answer is that request's order.
    KeyTaken,
}

/// Writes one order in `tx`, which may hold other orders of its group: the attribution, the
/// order, its lines and history, the key, what the listeners do, and the stock, last. The
/// caller has entered the stock gates of its SKUs. A refusal leaves writes behind that the
/// caller rolls back.
async fn write_order(app: &AppState, tx: &WriteTx, p: &Placement) -> OrderResult<Written> {
    let (buyer_id, req, quote, address) = (p.buyer_id, &p.request, &p.quote, &p.address);
    let (idempotency_key, hash) = (p.idempotency_key.as_str(), p.hash.as_str());
    let now = Utc::now();
    let offset = chrono::Duration::hours(i64::from(app.config.business_utc_offset_hours));
    let day = (now + offset).format("%Y%m%d").to_string();
    // Who the order is attributed to; the attributor's one read goes with the order number
    // (one call on SQLite, under the write lock).
    // A points-mall redemption is nobody's sale.
    let attributor = app
        .order_hooks
        .attributor
        .as_deref()
        .filter(|_| !req.points_mall);
    let share_code = req.share_code.as_deref().filter(|c| c.len() <= 32);
    let share_code = match attributor {
        Some(a) => {
            let product = quote.lines.first().map(|l| l.sku.product_id);
            a.touch(app, tx, buyer_id, share_code, product).await?
        }
        None => share_code.map(str::to_string),
    };
    let backend = tx.get_database_backend();
    let mut statements = vec![order_number_statement(backend, &day)];
    statements.extend(attributor.map(|a| a.lookup(backend, buyer_id)));
    let rows = crate::db::query_one_each(&**tx, statements).await?;
    let order_no = order_number(&day, rows[0].try_get("", "n")?);
    // A group order is credited to whoever launched its group, whatever the buyer's ties.
    let credited_to = match (req.group_buy, app.order_hooks.group_buys.as_deref()) {
        (Some(choice), Some(g)) => g.credited_to(app, tx, buyer_id, choice).await?,
        _ => None,
    };
    let mut attribution = match (attributor, rows.get(1)) {
        (Some(a), Some(row)) => {
            a.attribute(app, tx, buyer_id, share_code, row, credited_to)
                .await?
        }
        _ => OrderAttribution::direct(share_code),
    };
    if req.points_mall {
        attribution.source = OrderSource::PointsMall;
    } else if req.group_buy.is_some() {
        attribution.source = OrderSource::GroupBuy;
    }
    let priced = &quote.priced;
    let timeout = chrono::Duration::seconds(
        i64::try_from(app.config.order_payment_timeout_secs).unwrap_or(i64::MAX / 2_000),
    );
    let placed = order::ActiveModel {
        order_no: Set(order_no),
        user_id: Set(buyer_id),
        status: Set(OrderStatus::Submitted.as_str().into()),
        status_before_refund: Set(None),
        source: Set(attribution.source.as_str().into()),
        distributor_user_id: Set(attribution.distributor_user_id),
        share_code: Set(attribution.share_code),
        referral_chain: Set(serde_json::to_string(&attribution.chain).map_err(AppError::internal)?),
        commission_rule_version: Set(attribution.rule_version),
        items_total_fen: Set(priced.items_total_fen),
        member_discount_fen: Set(priced.member_discount_fen),
        promotion_discount_fen: Set(priced.promotion_discount_fen),
        coupon_discount_fen: Set(priced.coupon_discount_fen),
        points_discount_fen: Set(priced.points_discount_fen),
        shipping_fee_fen: Set(priced.shipping_fee_fen),
        pay_amount_fen: Set(priced.pay_amount_fen),
        refunded_fen: Set(0),
        points_used: Set(priced.points_used),
        coupon_id: Set(priced.coupon_id),
        recipient: Set(address.recipient.clone()),
        phone: Set(address.phone.clone()),
        province: Set(address.province.clone()),
        city: Set(address.city.clone()),
        district: Set(address.district.clone()),
        address_detail: Set(address.detail.clone()),
        buyer_note: Set(p.note.clone()),
        staff_note: Set(None),
        payment_status: Set(PaymentStatus::Unpaid.as_str().into()),
        payment_provider: Set(None),
        paid_at: Set(None),
        approved_at: Set(None),
        shipped_at: Set(None),
        delivered_at: Set(None),
        completed_at: Set(None),
        cancelled_at: Set(None),
        cancel_reason: Set(None),
        expires_at: Set(Some(now + timeout)),
        pricing: Set(serde_json::to_string(&priced.discounts).map_err(AppError::internal)?),
        held_for: Set(req
            .group_buy
            .map(|_| OrderHold::GroupBuy.as_str().to_string())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;

    let rows: Vec<order_line::ActiveModel> = quote
        .lines
        .iter()
        .zip(&priced.lines)
        .map(|(l, p)| order_line::ActiveModel {
            order_id: Set(placed.id),
            sku_id: Set(l.sku.id),
            product_id: Set(l.sku.product_id),
            product_name: Set(l.bundle.product.name.clone()),
            spec_text: Set(spec_label(&l.bundle, l.sku.id)),
            sku_code: Set(l.sku.code.clone()),
            image_url: Set(l.bundle.images.first().map(|i| i.url.clone())),
            unit_price_fen: Set(l.sku.price_fen),
            cost_price_fen: Set(l.sku.cost_price_fen),
            quantity: Set(l.quantity),
            line_total_fen: Set(p.line_total_fen),
            discount_fen: Set(p.discount_fen),
            member_discount_fen: Set(p.member_discount_fen),
            pay_amount_fen: Set(p.pay_amount_fen),
            refunded_quantity: Set(0),
            refunded_fen: Set(0),
            shipped_quantity: Set(0),
            weight_grams: Set(l.sku.weight_grams),
            is_gift: Set(false),
            points_used: Set(p.points_used),
            created_at: Set(now),
            ..Default::default()
        })
        .collect();
    // Written together with the lines (one round trip on SQLite), the claim first: when a
    // concurrent request with the same key won, nothing else runs, and only the claim can
    // violate a unique key.
    let mut writes = vec![
        idempotency::claim_statement(
            backend,
            IDEMPOTENCY_SCOPE,
            buyer_id,
            idempotency_key,
            hash,
            &Placed {
                order_id: placed.id,
            },
        )?,
        order_history::Entity::insert(lifecycle::history_row(
            &placed,
            None,
            Actor::user(buyer_id),
            None,
            now,
        ))
        .build(backend),
    ];
    if quote.from_cart {
        writes.push(
            cart_item::Entity::delete_many()
                .filter(cart_item::Column::UserId.eq(buyer_id))
                .filter(cart_item::Column::SkuId.is_in(quote.lines.iter().map(|l| l.sku.id)))
                .build(backend),
        );
    }
    let mut insert_lines = order_line::Entity::insert_many(rows).into_query();
    insert_lines.returning_all();
    let written =
        crate::db::execute_all_then_query(&**tx, writes, backend.build(&insert_lines)).await;
    let Some(lines) = idempotency::claimed(written)? else {
        return Ok(Written::KeyTaken);
    };
    let lines = (lines.iter())
        .map(|row| order_line::Model::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    lifecycle::announce(tx, &placed, None, Actor::user(buyer_id), None);
    // The areas that act on a new order (points are spent here), before the stock: a refusal
    // is the buyer's answer and nothing of the order is kept.
    app.order_hooks
        .placed(app, tx, &placed, &lines, &quote.request)
        .await?;
    // Stock last: on PostgreSQL the reservation locks the SKU's row until the commit, and every
    // order for that SKU waits for the lock, so it is taken after everything else is written.
    let mut by_sku: Vec<&QuoteLine> = quote.lines.iter().collect();
    by_sku.sort_by_key(|l| l.sku.id);
    let gifts: Vec<&QuoteGift> = quote.gifts.iter().filter(|g| g.available).collect();
    for line in by_sku {
        match inventory::reserve(
            app,
            tx,
            line.sku.id,
            line.quantity,
            &placed.order_no,
            Some(buyer_id),
        )
        .await?
        {
            Ok(_) => {}
            Err(StockRefusal::OutOfStock { available }) => {
                let problem = if available > 0 {
                    LineProblem::InsufficientStock { available }
                } else {
                    LineProblem::OutOfStock
                };
                return line_problem_error(&QuoteLine {
                    problem: Some(problem),
                    sku: line.sku.clone(),
                    bundle: line.bundle.clone(),
                    quantity: line.quantity,
                });
            }
            Err(StockRefusal::SkuNotFound | StockRefusal::TooMuch) => {
                return reject_whole(OrderErrorCode::SkuNotFound, "an item no longer exists");
            }
        }
    }
    // Gifts after the bought lines (a gift of a SKU also bought comes out of what is left); one
    // that is out of stock by now is left out and the order goes through.
    let mut given = Vec::new();
    for gift in gifts {
        let reserved = inventory::reserve(
            app,
            tx,
            gift.sku.id,
            gift.quantity,
            &placed.order_no,
            Some(buyer_id),
        )
        .await?;
        if reserved.is_ok() {
            given.push(gift_line(placed.id, gift, now));
        }
    }
    let mut lines = lines;
    if !given.is_empty() {
        lines.extend(
            order_line::Entity::insert_many(given)
                .exec_with_returning(&**tx)
                .await?,
        );
    }
    let placed = if placed.pay_amount_fen == 0 {
        pay_nothing(app, tx, &placed, &lines, buyer_id).await?
    } else {
        placed
    };
    Ok(Written::Placed(Box::new(placed)))
}

/// The order line of a gift: its price as a discount of the whole, nothing to pay.
fn gift_line(
    order_id: i64,
    gift: &QuoteGift,
    now: chrono::DateTime<Utc>,
) -> order_line::ActiveModel {
    let total = gift.sku.price_fen * gift.quantity;
    order_line::ActiveModel {
        order_id: Set(order_id),
        sku_id: Set(gift.sku.id),
        product_id: Set(gift.sku.product_id),
        product_name: Set(gift.bundle.product.name.clone()),
        spec_text: Set(spec_label(&gift.bundle, gift.sku.id)),
        sku_code: Set(gift.sku.code.clone()),
        image_url: Set(gift.bundle.images.first().map(|i| i.url.clone())),
        unit_price_fen: Set(gift.sku.price_fen),
        cost_price_fen: Set(gift.sku.cost_price_fen),
        quantity: Set(gift.quantity),
        line_total_fen: Set(total),
        discount_fen: Set(total),
        member_discount_fen: Set(0),
        pay_amount_fen: Set(0),
        refunded_quantity: Set(0),
        refunded_fen: Set(0),
        shipped_quantity: Set(0),
        weight_grams: Set(gift.sku.weight_grams),
        is_gift: Set(true),
        points_used: Set(0),
        created_at: Set(now),
        ..Default::default()
    }
}

/// An order with nothing to pay (a redemption paid entirely in points, with free shipping) is
/// paid as it is placed: no provider takes ¥0.00.
async fn pay_nothing(
    app: &AppState,
    tx: &crate::db::WriteTx,
    placed: &order::Model,
    lines: &[order_line::Model],
    buyer_id: i64,
) -> Result<order::Model, AppError> {
    let change = lifecycle::Change::to(OrderStatus::Paid, Actor::user(buyer_id))
        .note(Some("nothing to pay"))
        .set(
            order::Column::PaymentStatus,
            sea_orm::sea_query::Expr::value(PaymentStatus::Paid.as_str()),
        )
        .set(
            order::Column::PaidAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        );
    let paid = lifecycle::transition(app, tx, placed, change)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("a new order could not be paid")))?;
    app.order_hooks.paid(app, tx, &paid, lines).await?;
    Ok(paid)
}

/// The order a committed request with this key placed.
async fn replay(
    app: &AppState,
    buyer_id: i64,
    idempotency_key: &str,
    hash: &str,
) -> OrderResult<order::Model> {
    let conn = app.db.conn();
    let prior =
        idempotency::check::<Placed>(conn, IDEMPOTENCY_SCOPE, buyer_id, idempotency_key, hash)
            .await?;
    match prior {
        Prior::Replay(p) => {
            let found = order::Entity::find_by_id(p.order_id).one(conn).await?;
            found.ok_or_else(|| AppError::not_found("order").into())
        }
        Prior::Mismatch => reject(
            OrderErrorCode::IdempotencyKeyReused,
            "idempotencyKey",
            "this idempotency key was used for a different order",
        ),
        Prior::New => Err(AppError::internal(anyhow::anyhow!("idempotency key vanished")).into()),
    }
}

/// `颜色:红 尺码:S` for a SKU of the bundle.
fn spec_label(bundle: &ProductBundle, sku_id: i64) -> String {
    bundle.sku_label(sku_id).chars().take(200).collect()
}

/// Orders of one lane, written in groups.
pub struct Placements;

impl GroupCommit for Placements {
    type Request = Arc<Placement>;
    type Answer = OrderResult<Written>;
    /// The lane's own PostgreSQL connection (the lane runs on a thread of its own).
    type Writer = Option<DatabaseConnection>;

    async fn writer(app: &AppState) -> Result<Self::Writer, AppError> {
        Ok(app.db.own_writer().await?)
    }

    async fn commit(
        app: &AppState,
        writer: &Self::Writer,
        placements: &[Arc<Placement>],
    ) -> Result<Vec<Self::Answer>, AppError> {
        let tx = app.db.begin_write_on(writer.as_ref()).await?;
        // Every gate of the group before any SKU row is locked (see `inventory::gates`):
        // orders of this process wait for a hot row in arrival order, a group at a time.
        let skus = placements.iter().flat_map(|p| p.gated_skus());
        tx.hold_until_end(app.stock_gates.enter(skus).await);
        let mut answers = Vec::with_capacity(placements.len());
        let mut savepoint = tx.savepoint().await?;
        for placement in placements {
            let answer = match write_order(app, &tx, placement).await {
                // The database failed: the group is tried again, each order alone.
                Err(ServiceError::App(e)) => return Err(e),
                answer => answer,
            };
            if matches!(answer, Ok(Written::Placed(_))) {
                tx.keep(&mut savepoint).await?;
            } else {
                tx.undo(&savepoint).await?;
            }
            answers.push(answer);
        }
        tx.commit().await?;
        Ok(answers)
    }

    fn failed(e: AppError) -> Self::Answer {
        Err(e.into())
    }
}

/// The lanes orders of this instance queue in.
pub struct PlacementLanes {
    lanes: Box<[GroupQueue<Placements>]>,
}

/// Lanes on PostgreSQL: groups of different SKUs written side by side, each lane with a
/// thread and a connection of its own.
const POSTGRES_LANES: usize = 8;

impl PlacementLanes {
    pub fn new(postgres: bool) -> Self {
        let count = if postgres { POSTGRES_LANES } else { 1 };
        let lanes = (0..count)
            .map(|_| GroupQueue::on_own_thread("order-writer"))
            .collect();
        Self { lanes }
    }

    /// The lane of the order's first SKU: every order whose first SKU is the hot one is
    /// written by the same lane.
    fn lane(&self, placement: &Placement) -> &GroupQueue<Placements> {
        let first = placement.quote.lines.iter().map(|l| l.sku.id).min();
        let lane = first.unwrap_or(0).rem_euclid(self.lanes.len() as i64) as usize;
        &self.lanes[lane]
    }
}
