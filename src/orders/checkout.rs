//! Checkout: `quote` prices a basket through the pricing pipeline; `checkoutPreview` shows the
//! quote, `placeOrder` (`placement`) charges exactly it.
use std::{collections::HashMap, sync::Arc};

use chrono::Utc;
use entity::{address, product, sku};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QuerySelect,
    QueryTrait,
};
use serde::Serialize;

use super::{
    addresses,
    errors::{OrderErrorCode, OrderResult, reject},
    pricing::{
        self, CouponChoice, GroupBuyChoice, PointsRefusal, PricingLine, PricingRefusal,
        PricingRequest, PricingRule, PricingStage,
    },
    rules::{MAX_LINE_QUANTITY, MAX_ORDER_LINES, valid_line_quantity},
};
use crate::{
    app::AppState,
    catalog::{cache::ProductBundle, rules::ProductStatus},
    error::{AppError, ServiceError},
};

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
