//! Checkout: `quote` prices a basket through the pricing pipeline; `checkoutPreview` shows the
//! quote, `placeOrder` charges exactly it. Placing an order is one transaction: stock reserved
//! line by line (a conditional update each, in SKU order so concurrent orders cannot deadlock),
//! the order with its line snapshots, the first history row and event, the cart cleared and the
//! idempotency key claimed — all or nothing.
use std::{collections::HashMap, sync::Arc};

use chrono::Utc;
use entity::{address, cart_item, order, order_history, order_line, product, sku};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult,
    JoinType, QueryFilter, QuerySelect, QueryTrait, Set, Statement,
};
use serde::{Deserialize, Serialize};

use super::{
    addresses,
    errors::{OrderErrorCode, OrderResult, reject, reject_whole},
    lifecycle::{self, Actor},
    listeners::OrderAttribution,
    pricing::{
        self, CouponChoice, GroupBuyChoice, PointsRefusal, PricingLine, PricingRefusal,
        PricingRequest, PricingRule, PricingStage,
    },
    rules::{
        MAX_LINE_QUANTITY, MAX_ORDER_LINES, OrderHold, OrderSource, OrderStatus, PaymentStatus,
        order_number, valid_line_quantity,
    },
};
use crate::{
    app::AppState,
    catalog::{cache::ProductBundle, rules::ProductStatus},
    error::{AppError, ServiceError},
    idempotency::{self, Prior},
    inventory::service::{self as inventory, StockRefusal},
};

const IDEMPOTENCY_SCOPE: &str = "placeOrder";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineRequest {
    pub sku_id: i64,
    pub quantity: i64,
}

/// What the buyer checks out. Without `lines`, the selected items of the cart.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckoutRequest {
    pub lines: Option<Vec<LineRequest>>,
    pub address_id: Option<i64>,
    /// Which coupon: the best usable one unless the buyer names one or none. (Left out of the
    /// idempotency hash when `Best`, so orders placed before coupons hash as they did.)
    #[serde(skip_serializing_if = "is_best")]
    pub coupon: CouponChoice,
    pub points_to_use: i64,
    pub buyer_note: Option<String>,
    pub share_code: Option<String>,
    /// A redemption in the points mall: the lines are priced by the points stage alone (points
    /// and any cash per unit), the order's source is `POINTS_MALL` and it is attributed to no
    /// distributor. (Left out of the idempotency hash when false, so ordinary orders hash as
    /// they always did.)
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub points_mall: bool,
    /// A group-buy order (拼团): priced at the group price alone, its source `GROUP_BUY`,
    /// credited to the group's launcher, and held (not approved or shipped) until its group
    /// fills. (Left out of the idempotency hash when absent.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_buy: Option<GroupBuyChoice>,
}

fn is_best(c: &CouponChoice) -> bool {
    *c == CouponChoice::Best
}

/// Why a line cannot be bought as asked; checkout shows it, placing refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineProblem {
    NotOnSale,
    OutOfStock,
    /// Some, but fewer than asked.
    InsufficientStock {
        available: i64,
    },
}

pub struct QuoteLine {
    pub sku: sku::Model,
    pub bundle: Arc<ProductBundle>,
    pub quantity: i64,
    pub problem: Option<LineProblem>,
}

/// A gift an activity adds (满赠): free, its stock reserved like any line when the order is
/// placed; left out, with the order going through, when there is not enough of it.
pub struct QuoteGift {
    pub sku: sku::Model,
    pub bundle: Arc<ProductBundle>,
    pub quantity: i64,
    pub label: String,
    /// Whether there is stock for it now.
    pub available: bool,
}

pub struct Quote {
    /// The request as pricing saw it (also what the listeners of a placed order see).
    pub request: PricingRequest,
    pub lines: Vec<QuoteLine>,
    pub gifts: Vec<QuoteGift>,
    pub priced: pricing::Priced,
    pub address: Option<address::Model>,
    pub from_cart: bool,
}

/// The lines asked for, duplicates merged, checked for count and quantity.
async fn requested_lines(
    conn: &impl ConnectionTrait,
    buyer_id: i64,
    req: &CheckoutRequest,
) -> OrderResult<(Vec<LineRequest>, bool)> {
    let (raw, from_cart) = match &req.lines {
        Some(lines) => (lines.clone(), false),
        // A group order is bought outright, never from the cart.
        None if req.group_buy.is_some() => {
            return reject(
                OrderErrorCode::NotInGroupBuy,
                "lines",
                "a group-buy order names its lines",
            );
        }
        None => (
            super::cart::items(conn, buyer_id)
                .await?
                .into_iter()
                .filter(|i| i.selected)
                .map(|i| LineRequest {
                    sku_id: i.sku_id,
                    quantity: i.quantity,
                })
                .collect(),
            true,
        ),
    };
    let mut merged: Vec<LineRequest> = Vec::new();
    for line in raw {
        if !valid_line_quantity(line.quantity) {
            return reject(
                OrderErrorCode::InvalidQuantity,
                "lines",
                format!("each quantity must be between 1 and {MAX_LINE_QUANTITY}"),
            );
        }
        match merged.iter_mut().find(|m| m.sku_id == line.sku_id) {
            Some(m) => m.quantity += line.quantity,
            None => merged.push(line),
        }
    }
    if merged.iter().any(|m| m.quantity > MAX_LINE_QUANTITY) {
        return reject(
            OrderErrorCode::InvalidQuantity,
            "lines",
            format!("at most {MAX_LINE_QUANTITY} of one item per order"),
        );
    }
    if merged.is_empty() {
        return reject(
            OrderErrorCode::EmptyOrder,
            "lines",
            if from_cart {
                "select something in the cart first"
            } else {
                "an order needs at least one line"
            },
        );
    }
    if merged.len() > MAX_ORDER_LINES {
        return reject(
            OrderErrorCode::InvalidQuantity,
            "lines",
            format!("an order holds at most {MAX_ORDER_LINES} different items"),
        );
    }
    Ok((merged, from_cart))
}

fn refusal(r: PricingRefusal) -> ServiceError<Vec<super::errors::OrderError>> {
    let (code, field, message) = match r {
        PricingRefusal::Coupon(why, m) => (OrderErrorCode::of_coupon(why), "couponId", m),
        PricingRefusal::Points(why, m) => (
            match why {
                PointsRefusal::Invalid => OrderErrorCode::InvalidPoints,
                PointsRefusal::Insufficient => OrderErrorCode::InsufficientPoints,
                PointsRefusal::OverCap => OrderErrorCode::PointsOverCap,
                PointsRefusal::NotRedeemable => OrderErrorCode::NotRedeemable,
            },
            if why == PointsRefusal::NotRedeemable {
                "lines"
            } else {
                "pointsToUse"
            },
            m,
        ),
        PricingRefusal::NotDeliverable(m) => (OrderErrorCode::NotDeliverable, "addressId", m),
        // With the group to offer instead.
        PricingRefusal::GroupBuy(why, message, other) => {
            return ServiceError::User(vec![
                super::errors::OrderError::new(
                    OrderErrorCode::of_group_buy(why),
                    Some("groupBuy"),
                    message,
                )
                .suggesting(other.map(|id| crate::graphql::ids::encode("GroupBuy", id))),
            ]);
        }
    };
    ServiceError::User(vec![super::errors::OrderError::new(
        code,
        Some(field),
        message,
    )])
}

/// Prices what `req` asks for, as of now, reading through `conn`. Lines that cannot be bought
/// are priced too and carry their problem. `placing`: the price is the one the order is placed
/// at (see `PricingRequest::placing`).
pub async fn quote(
    app: &AppState,
    conn: &impl ConnectionTrait,
    buyer_id: i64,
    req: &CheckoutRequest,
    placing: bool,
) -> OrderResult<Quote> {
    let (wanted, from_cart) = requested_lines(conn, buyer_id, req).await?;
    let address = match req.address_id {
        None => None,
        Some(id) => match addresses::owned(conn, buyer_id, id).await? {
            Some(a) => Some(a),
            None => {
                return reject(
                    OrderErrorCode::AddressNotFound,
                    "addressId",
                    "no such address",
                );
            }
        },
    };
    // Each SKU with its product's status, from the database, not the cache: another instance
    // may have just unpublished.
    let mut skus: HashMap<i64, sku::Model> = HashMap::with_capacity(wanted.len());
    let mut on_sale: HashMap<i64, bool> = HashMap::with_capacity(wanted.len());
    let with_status = sku::Entity::find()
        .join(
            JoinType::InnerJoin,
            sku::Entity::belongs_to(product::Entity)
                .from(sku::Column::ProductId)
                .to(product::Column::Id)
                .into(),
        )
        .column_as(product::Column::Status, "product_status")
        .column_as(product::Column::ScheduledOnSaleAt, "product_on_sale_at")
        .filter(sku::Column::Id.is_in(wanted.iter().map(|l| l.sku_id)))
        .build(conn.get_database_backend());
    // Products not on sale yet but scheduled: an early-access buyer (a member level's benefit,
    // registered by the area that owns it) may buy them from a lead time before.
    let now = Utc::now();
    let mut scheduled: Vec<(i64, chrono::DateTime<Utc>)> = Vec::new();
    for row in conn.query_all_raw(with_status).await? {
        let sku = sku::Model::from_query_result(&row, "")?;
        let status: String = row.try_get("", "product_status")?;
        let opens: Option<chrono::DateTime<Utc>> = row.try_get("", "product_on_sale_at")?;
        let selling = status == ProductStatus::OnSale.as_str();
        if let Some(at) = opens.filter(|at| !selling && *at > now) {
            scheduled.push((sku.product_id, at));
        }
        on_sale.insert(sku.product_id, selling);
        skus.insert(sku.id, sku);
    }
    if !scheduled.is_empty() {
        let lead = app.order_hooks.early_access(app, buyer_id).await?;
        for (product_id, at) in scheduled {
            if lead > chrono::Duration::zero() && now >= at - lead {
                on_sale.insert(product_id, true);
            }
        }
    }
    let product_ids: Vec<i64> = skus.values().map(|s| s.product_id).collect();
    let bundles = app.catalog.bundles(conn, &product_ids).await?;
    let mut lines = Vec::with_capacity(wanted.len());
    for w in &wanted {
        let found = skus.get(&w.sku_id).and_then(|s| {
            let visible = on_sale.get(&s.product_id).copied().unwrap_or(false);
            bundles
                .get(&s.product_id)
                .map(|b| (s.clone(), b.clone(), visible))
        });
        let Some((sku, bundle, visible)) = found else {
            return reject(
                OrderErrorCode::SkuNotFound,
                "lines",
                "an item of this order no longer exists",
            );
        };
        // A buyer never learns that a draft exists.
        if !visible && bundle.product.status == ProductStatus::Draft.as_str() {
            return reject(
                OrderErrorCode::SkuNotFound,
                "lines",
                "an item of this order no longer exists",
            );
        }
        let problem = if !visible || !sku.active {
            Some(LineProblem::NotOnSale)
        } else if sku.stock <= 0 {
            Some(LineProblem::OutOfStock)
        } else if sku.stock < w.quantity {
            Some(LineProblem::InsufficientStock {
                available: sku.stock,
            })
        } else {
            None
        };
        lines.push(QuoteLine {
            sku,
            bundle,
            quantity: w.quantity,
            problem,
        });
    }
    let pricing_lines: Vec<PricingLine> = lines
        .iter()
        .map(|l| PricingLine {
            sku_id: l.sku.id,
            product_id: l.sku.product_id,
            category_id: l.bundle.product.category_id,
            unit_price_fen: l.sku.price_fen,
            quantity: l.quantity,
            weight_grams: l.sku.weight_grams,
        })
        .collect();
    let request = PricingRequest {
        buyer_id,
        coupon: req.coupon,
        points_to_use: req.points_to_use,
        province: address.as_ref().map(|a| a.province.clone()),
        points_mall: req.points_mall,
        placing,
        group_buy: req.group_buy,
    };
    let mut rules = app.order_hooks.pricing_rules(app, &request).await?;
    if req.points_mall {
        // A redemption costs what the points mall says, whatever else a member could get.
        rules.retain(|r| r.stage() == PricingStage::Points);
    } else if req.group_buy.is_some() {
        // The group price is the whole deal: no member price, activity, coupon or points.
        rules.retain(|r| r.stage() == PricingStage::GroupBuy);
        if rules.is_empty() {
            return reject(
                OrderErrorCode::GroupBuyNotFound,
                "groupBuy",
                "group buying is not available",
            );
        }
    }
    let rule_refs: Vec<&dyn PricingRule> = rules.iter().map(|r| r.as_ref()).collect();
    let shipping = super::shipping_templates::default_rules(app).await?;
    let priced = pricing::price(
        &request,
        &pricing_lines,
        &rule_refs,
        shipping.as_ref().as_ref(),
    )
    .map_err(refusal)?;
    let gifts = gifts_of(app, conn, &priced.gifts).await?;
    Ok(Quote {
        request,
        lines,
        gifts,
        priced,
        address,
        from_cart,
    })
}

/// The SKUs of the gifts pricing added, one entry per SKU (quantities of one SKU summed); a
/// gift whose SKU or product is gone is left out.
async fn gifts_of(
    app: &AppState,
    conn: &impl ConnectionTrait,
    gifts: &[pricing::Gift],
) -> Result<Vec<QuoteGift>, AppError> {
    if gifts.is_empty() {
        return Ok(Vec::new());
    }
    let skus: HashMap<i64, sku::Model> = sku::Entity::find()
        .filter(sku::Column::Id.is_in(gifts.iter().map(|g| g.sku_id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let product_ids: Vec<i64> = skus.values().map(|s| s.product_id).collect();
    let bundles = app.catalog.bundles(conn, &product_ids).await?;
    let mut out: Vec<QuoteGift> = Vec::new();
    for g in gifts {
        let Some(sku) = skus.get(&g.sku_id) else {
            continue;
        };
        let Some(bundle) = bundles.get(&sku.product_id) else {
            continue;
        };
        match out.iter_mut().find(|q| q.sku.id == sku.id) {
            Some(q) => q.quantity += g.quantity,
            None => out.push(QuoteGift {
                sku: sku.clone(),
                bundle: bundle.clone(),
                quantity: g.quantity,
                label: g.label.clone(),
                available: false,
            }),
        }
    }
    for q in &mut out {
        q.available = q.sku.active && q.sku.stock >= q.quantity;
    }
    Ok(out)
}

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
    app: &AppState,
    buyer_id: i64,
    req: &CheckoutRequest,
    idempotency_key: &str,
) -> OrderResult<order::Model> {
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
    // Writers take turns (on SQLite, one at a time), so the write lock is held for the writes
    // only: a retry, the prices and the address are read before it. Stock is the one fact that
    // must be decided under the lock, and the conditional update that reserves it does that. A
    // retry racing the first request is caught when the key is claimed.
    let prior = idempotency::check::<Placed>(
        app.db.conn(),
        IDEMPOTENCY_SCOPE,
        buyer_id,
        idempotency_key,
        &hash,
    )
    .await?;
    if !matches!(prior, Prior::New) {
        return replay(app, buyer_id, idempotency_key, &hash).await;
    }
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
    let tx = app.db.begin_write().await?;
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
            a.touch(app, &tx, buyer_id, share_code, product).await?
        }
        None => share_code.map(str::to_string),
    };
    let backend = tx.get_database_backend();
    let mut statements = vec![order_number_statement(backend, &day)];
    statements.extend(attributor.map(|a| a.lookup(backend, buyer_id)));
    let rows = crate::db::query_one_each(&*tx, statements).await?;
    let order_no = order_number(&day, rows[0].try_get("", "n")?);
    // A group order is credited to whoever launched its group, whatever the buyer's ties.
    let credited_to = match (req.group_buy, app.order_hooks.group_buys.as_deref()) {
        (Some(choice), Some(g)) => g.credited_to(app, &tx, buyer_id, choice).await?,
        _ => None,
    };
    let mut attribution = match (attributor, rows.get(1)) {
        (Some(a), Some(row)) => {
            a.attribute(app, &tx, buyer_id, share_code, row, credited_to)
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
        buyer_note: Set(note),
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
    .insert(&*tx)
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
    // Written together (one round trip on SQLite), the claim first: when a concurrent request
    // with the same key won, nothing else runs, and only the claim can violate a unique key.
    let mut writes = vec![
        idempotency::claim_statement(
            backend,
            IDEMPOTENCY_SCOPE,
            buyer_id,
            idempotency_key,
            &hash,
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
    let claimed = idempotency::claimed(crate::db::execute_all(&*tx, writes).await)?;
    if !claimed {
        // A concurrent request with the same key committed first: undo this one entirely
        // and answer with the winner's order.
        tx.rollback().await?;
        return replay(app, buyer_id, idempotency_key, &hash).await;
    }
    let lines = order_line::Entity::insert_many(rows)
        .exec_with_returning(&*tx)
        .await?;
    lifecycle::announce(&tx, &placed, None, Actor::user(buyer_id), None);
    // The areas that act on a new order (points are spent here), before the stock: a refusal
    // is the buyer's answer and nothing of the order is kept.
    app.order_hooks
        .placed(app, &tx, &placed, &lines, &quote.request)
        .await?;
    // Stock last: on PostgreSQL the reservation locks the SKU's row until the commit, and every
    // order for that SKU waits for the lock, so it is taken after everything else is written.
    // Orders of this process wait for the rows in arrival order (`inventory::gates`).
    let mut by_sku: Vec<&QuoteLine> = quote.lines.iter().collect();
    by_sku.sort_by_key(|l| l.sku.id);
    let gifts: Vec<&QuoteGift> = quote.gifts.iter().filter(|g| g.available).collect();
    let mut gated: Vec<i64> = by_sku
        .iter()
        .map(|l| l.sku.id)
        .chain(gifts.iter().map(|g| g.sku.id))
        .collect();
    gated.sort_unstable();
    gated.dedup();
    tx.hold_until_end(app.stock_gates.enter(gated).await);
    for line in by_sku {
        match inventory::reserve(
            app,
            &tx,
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
            &tx,
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
                .exec_with_returning(&*tx)
                .await?,
        );
    }
    let placed = if placed.pay_amount_fen == 0 {
        pay_nothing(app, &tx, &placed, &lines, buyer_id).await?
    } else {
        placed
    };
    tx.commit().await?;
    Ok(placed)
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
