//! The orders area's GraphQL objects. Who may see an order is decided once, in `can_read`;
//! every path to an order (by id, global id, lists, nested fields) goes through it.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use entity::{address, cart_item, order, order_history, order_line, payment, refund, refund_line};

use super::{
    checkout::{LineProblem, Quote},
    fulfilment::{ShippingStatus, shipping_status},
    fulfilment_schema::Shipment,
    lifecycle::{before_refund_of, status_of},
    payments::{PaymentState, ProviderKind},
    pricing::{AppliedDiscount, PricingStage},
    refund_rules::{RefundKind, RefundStatus},
    rules::{self, OrderSource, OrderStatus, PaymentStatus},
};
use crate::{
    accounts::User,
    auth::{Permission, Viewer},
    catalog::types::{Product, Sku},
    distribution::types::{Distributor, can_read_distributor},
    graphql::{
        context::CtxExt,
        ids,
        scalars::{DateTime, Money},
    },
    money,
};

pub fn yuan(fen: i64) -> Money {
    Money(money::to_decimal(fen))
}

/// The buyer, staff who handle orders, and the distributor the order is attributed to (who
/// sees it with the buyer masked, see `sees_buyer`).
pub fn can_read(viewer: &Viewer, o: &order::Model) -> bool {
    viewer.principal().is_some_and(|p| {
        p.user_id == o.user_id
            || p.has(Permission::Orders)
            || (p.is_distributor && o.distributor_user_id == Some(p.user_id))
    })
}

/// Whether the viewer sees who bought and where it goes: the buyer and order staff do; the
/// distributor who earns from the order does not.
pub fn sees_buyer(viewer: &Viewer, o: &order::Model) -> bool {
    viewer
        .principal()
        .is_some_and(|p| p.user_id == o.user_id || p.has(Permission::Orders))
}

/// Whether the viewer, who may read an order, sees the profile of the distributor it is
/// attributed to: that distributor, and staff who handle orders or distribution. The buyer
/// does not (a distributor's profile is theirs and the merchant's).
fn sees_distributor(viewer: &Viewer, distributor_user_id: i64) -> bool {
    can_read_distributor(viewer, distributor_user_id)
        || viewer
            .principal()
            .is_some_and(|p| p.has(Permission::Orders))
}

/// `张三` → `张*`: enough for a distributor to recognise an order, not to contact the buyer.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().clamp(1, 3))),
        None => String::new(),
    }
}

fn is_order_staff(viewer: &Viewer) -> bool {
    viewer
        .principal()
        .is_some_and(|p| p.has(Permission::Orders))
}

/// An entry of the buyer's address book.
pub struct Address(pub address::Model);

#[Object]
impl Address {
    async fn id(&self) -> ID {
        ids::encode("Address", self.0.id)
    }
    async fn recipient(&self) -> &str {
        &self.0.recipient
    }
    async fn phone(&self) -> &str {
        &self.0.phone
    }
    async fn province(&self) -> &str {
        &self.0.province
    }
    async fn city(&self) -> &str {
        &self.0.city
    }
    async fn district(&self) -> &str {
        &self.0.district
    }
    async fn detail(&self) -> &str {
        &self.0.detail
    }
    async fn postal_code(&self) -> Option<&str> {
        self.0.postal_code.as_deref()
    }
    async fn is_default(&self) -> bool {
        self.0.is_default
    }
}

/// A problem with a cart item or checkout line.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineWarning {
    /// Unpublished or removed since it was added.
    NotOnSale,
    OutOfStock,
    /// Fewer left than the quantity.
    InsufficientStock,
}

/// One SKU in the cart, with what it costs and whether it can be bought now.
pub struct CartItem {
    pub item: cart_item::Model,
}

#[Object]
impl CartItem {
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sku>> {
        Ok(ctx
            .loaders()
            .skus
            .load_one(self.item.sku_id)
            .await?
            .map(Sku::new))
    }

    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        let Some(s) = ctx.loaders().skus.load_one(self.item.sku_id).await? else {
            return Ok(None);
        };
        Ok(ctx.loaders().product(s.product_id).await?.map(Product))
    }

    async fn quantity(&self) -> i64 {
        self.item.quantity
    }

    async fn selected(&self) -> bool {
        self.item.selected
    }

    /// The price now.
    async fn unit_price(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Money>> {
        Ok(ctx
            .loaders()
            .skus
            .load_one(self.item.sku_id)
            .await?
            .map(|s| yuan(s.price_fen)))
    }

    async fn warning(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<LineWarning>> {
        let Some(s) = ctx.loaders().skus.load_one(self.item.sku_id).await? else {
            return Ok(Some(LineWarning::NotOnSale));
        };
        let on_sale = ctx
            .loaders()
            .product(s.product_id)
            .await?
            .is_some_and(|p| p.status == crate::catalog::rules::ProductStatus::OnSale.as_str());
        Ok(if !on_sale || !s.active {
            Some(LineWarning::NotOnSale)
        } else if s.stock <= 0 {
            Some(LineWarning::OutOfStock)
        } else if s.stock < self.item.quantity {
            Some(LineWarning::InsufficientStock)
        } else {
            None
        })
    }
}

/// The buyer's cart.
pub struct Cart(pub Vec<cart_item::Model>);

#[Object]
impl Cart {
    async fn items(&self) -> Vec<CartItem> {
        self.0
            .iter()
            .map(|i| CartItem { item: i.clone() })
            .collect()
    }

    /// Units in the cart (the badge on the cart icon).
    async fn total_quantity(&self) -> i64 {
        self.0.iter().map(|i| i.quantity).sum()
    }
}

/// A discount as applied at checkout.
#[derive(SimpleObject)]
pub struct Discount {
    stage: PricingStage,
    label: String,
    amount: Money,
}

impl From<&AppliedDiscount> for Discount {
    fn from(d: &AppliedDiscount) -> Self {
        Discount {
            stage: d.stage,
            label: d.label.clone(),
            amount: yuan(d.amount_fen),
        }
    }
}

/// A line of a checkout preview.
#[derive(SimpleObject)]
pub struct CheckoutLine {
    sku: Sku,
    product_name: String,
    spec_text: String,
    image_url: Option<String>,
    quantity: i64,
    unit_price: Money,
    line_total: Money,
    /// This line's share of every discount.
    discount: Money,
    pay_amount: Money,
    warning: Option<LineWarning>,
}

/// What placing this order would charge, computed by the same pipeline as `placeOrder`.
#[derive(SimpleObject)]
pub struct CheckoutPreview {
    lines: Vec<CheckoutLine>,
    address: Option<Address>,
    items_total: Money,
    member_discount: Money,
    promotion_discount: Money,
    coupon_discount: Money,
    points_discount: Money,
    points_used: i64,
    shipping_fee: Money,
    pay_amount: Money,
    discounts: Vec<Discount>,
    /// False when some line has a warning: `placeOrder` would refuse.
    can_place: bool,
}

impl From<Quote> for CheckoutPreview {
    fn from(q: Quote) -> Self {
        let p = &q.priced;
        let lines: Vec<CheckoutLine> = q
            .lines
            .iter()
            .zip(&p.lines)
            .map(|(l, priced)| CheckoutLine {
                sku: Sku::new(&l.sku),
                product_name: l.bundle.product.name.clone(),
                spec_text: l.bundle.sku_label(l.sku.id).to_string(),
                image_url: l.bundle.images.first().map(|i| i.url.clone()),
                quantity: l.quantity,
                unit_price: yuan(l.sku.price_fen),
                line_total: yuan(priced.line_total_fen),
                discount: yuan(priced.discount_fen),
                pay_amount: yuan(priced.pay_amount_fen),
                warning: l.problem.map(|pr| match pr {
                    LineProblem::NotOnSale => LineWarning::NotOnSale,
                    LineProblem::OutOfStock => LineWarning::OutOfStock,
                    LineProblem::InsufficientStock { .. } => LineWarning::InsufficientStock,
                }),
            })
            .collect();
        CheckoutPreview {
            can_place: lines.iter().all(|l| l.warning.is_none()) && q.address.is_some(),
            lines,
            address: q.address.map(Address),
            items_total: yuan(p.items_total_fen),
            member_discount: yuan(p.member_discount_fen),
            promotion_discount: yuan(p.promotion_discount_fen),
            coupon_discount: yuan(p.coupon_discount_fen),
            points_discount: yuan(p.points_discount_fen),
            points_used: p.points_used,
            shipping_fee: yuan(p.shipping_fee_fen),
            pay_amount: yuan(p.pay_amount_fen),
            discounts: p.discounts.iter().map(Discount::from).collect(),
        }
    }
}

/// Where an order goes, copied from the address book when it was placed.
#[derive(SimpleObject)]
pub struct ShippingAddress {
    recipient: String,
    phone: String,
    province: String,
    city: String,
    district: String,
    detail: String,
}

/// A line of a placed order: a snapshot of what was bought, at what price.
pub struct OrderLine(pub order_line::Model);

#[Object]
impl OrderLine {
    async fn id(&self) -> ID {
        ids::encode("OrderLine", self.0.id)
    }
    /// The SKU as it is now (null if removed since).
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sku>> {
        Ok(ctx
            .loaders()
            .skus
            .load_one(self.0.sku_id)
            .await?
            .map(Sku::new))
    }
    async fn product_name(&self) -> &str {
        &self.0.product_name
    }
    async fn spec_text(&self) -> &str {
        &self.0.spec_text
    }
    async fn sku_code(&self) -> &str {
        &self.0.sku_code
    }
    async fn image_url(&self) -> Option<&str> {
        self.0.image_url.as_deref()
    }
    async fn unit_price(&self) -> Money {
        yuan(self.0.unit_price_fen)
    }
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }
    async fn line_total(&self) -> Money {
        yuan(self.0.line_total_fen)
    }
    /// This line's share of the order's discounts.
    async fn discount(&self) -> Money {
        yuan(self.0.discount_fen)
    }
    /// What was paid for this line: the most that can be refunded for it.
    async fn pay_amount(&self) -> Money {
        yuan(self.0.pay_amount_fen)
    }
    /// Points this line spent (its share of the points deduction, or a points-mall
    /// redemption's points); refunding some of its units gives back their share.
    async fn points_used(&self) -> i64 {
        self.0.points_used
    }
    async fn refunded_quantity(&self) -> i64 {
        self.0.refunded_quantity
    }
    async fn refunded_amount(&self) -> Money {
        yuan(self.0.refunded_fen)
    }
    async fn shipped_quantity(&self) -> i64 {
        self.0.shipped_quantity
    }
    async fn is_gift(&self) -> bool {
        self.0.is_gift
    }
    /// Cost price at the time of the order (staff with ORDERS only).
    async fn cost_price(&self, ctx: &Context<'_>) -> Option<Money> {
        is_order_staff(ctx.viewer()).then(|| yuan(self.0.cost_price_fen))
    }
}

/// One status change of an order.
pub struct OrderHistoryEntry(pub order_history::Model);

#[Object]
impl OrderHistoryEntry {
    async fn from_status(&self) -> Option<OrderStatus> {
        self.0.from_status.as_deref().and_then(OrderStatus::parse)
    }
    async fn to_status(&self) -> Option<OrderStatus> {
        OrderStatus::parse(&self.0.to_status)
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Who made the change (null: the system). Staff see the person; buyers see only whether
    /// it was them.
    async fn actor(&self, ctx: &Context<'_>) -> Option<User> {
        let id = self.0.actor_user_id?;
        let viewer = ctx.viewer();
        (is_order_staff(viewer) || viewer.user_id() == Some(id)).then(|| User::by_id(id))
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// An attempt to pay an order.
pub struct Payment(pub payment::Model);

#[Object]
impl Payment {
    async fn id(&self) -> ID {
        ids::encode("Payment", self.0.id)
    }
    async fn provider(&self) -> Option<ProviderKind> {
        ProviderKind::parse(&self.0.provider)
    }
    async fn out_trade_no(&self) -> &str {
        &self.0.out_trade_no
    }
    async fn amount(&self) -> Money {
        yuan(self.0.amount_fen)
    }
    async fn status(&self) -> Option<PaymentState> {
        PaymentState::parse(&self.0.status)
    }
    /// The provider's transaction id once paid.
    async fn provider_transaction_id(&self) -> Option<&str> {
        self.0.provider_txn_id.as_deref()
    }
    /// What the client passes to the provider's SDK (e.g. `wx.requestPayment`), as JSON.
    async fn client_parameters(&self) -> Option<&str> {
        self.0.client_payload.as_deref()
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn paid_at(&self) -> Option<DateTime> {
        self.0.paid_at.map(DateTime)
    }
}

/// An order. Readable by its buyer and by staff with ORDERS.
pub struct Order(pub Arc<order::Model>);

#[Object]
impl Order {
    pub async fn id(&self) -> ID {
        ids::encode("Order", self.0.id)
    }
    /// Human-readable and unique: the business day and a sequence.
    async fn order_no(&self) -> &str {
        &self.0.order_no
    }
    async fn status(&self) -> OrderStatus {
        status_of(&self.0)
    }
    /// The statuses this order may move to now; any other change is refused.
    async fn next_states(&self) -> Vec<OrderStatus> {
        rules::next_states(status_of(&self.0), before_refund_of(&self.0))
    }
    async fn payment_status(&self) -> Option<PaymentStatus> {
        PaymentStatus::parse(&self.0.payment_status)
    }
    async fn payment_provider(&self) -> Option<ProviderKind> {
        self.0
            .payment_provider
            .as_deref()
            .and_then(ProviderKind::parse)
    }
    async fn source(&self) -> Option<OrderSource> {
        OrderSource::parse(&self.0.source)
    }
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderLine>> {
        Ok(ctx
            .loaders()
            .order_lines
            .load_one(self.0.id)
            .await?
            .map(|v| v.iter().cloned().map(OrderLine).collect())
            .unwrap_or_default())
    }
    async fn item_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(ctx
            .loaders()
            .order_lines
            .load_one(self.0.id)
            .await?
            .map(|v| v.iter().map(|l| l.quantity).sum())
            .unwrap_or(0))
    }
    async fn items_total(&self) -> Money {
        yuan(self.0.items_total_fen)
    }
    async fn member_discount(&self) -> Money {
        yuan(self.0.member_discount_fen)
    }
    async fn promotion_discount(&self) -> Money {
        yuan(self.0.promotion_discount_fen)
    }
    async fn coupon_discount(&self) -> Money {
        yuan(self.0.coupon_discount_fen)
    }
    async fn points_discount(&self) -> Money {
        yuan(self.0.points_discount_fen)
    }
    async fn points_used(&self) -> i64 {
        self.0.points_used
    }
    async fn shipping_fee(&self) -> Money {
        yuan(self.0.shipping_fee_fen)
    }
    /// What the buyer pays.
    async fn pay_amount(&self) -> Money {
        yuan(self.0.pay_amount_fen)
    }
    async fn refunded_amount(&self) -> Money {
        yuan(self.0.refunded_fen)
    }
    /// Every discount applied at checkout.
    async fn discounts(&self) -> Vec<Discount> {
        serde_json::from_str::<Vec<AppliedDiscount>>(&self.0.pricing)
            .unwrap_or_default()
            .iter()
            .map(Discount::from)
            .collect()
    }
    /// The delivery address; masked for the distributor the order is attributed to.
    async fn shipping_address(&self, ctx: &Context<'_>) -> ShippingAddress {
        let full = sees_buyer(ctx.viewer(), &self.0);
        ShippingAddress {
            recipient: if full {
                self.0.recipient.clone()
            } else {
                mask_name(&self.0.recipient)
            },
            phone: if full {
                self.0.phone.clone()
            } else {
                crate::accounts::rules::mask_phone(&self.0.phone)
            },
            province: self.0.province.clone(),
            city: self.0.city.clone(),
            district: self.0.district.clone(),
            detail: if full {
                self.0.address_detail.clone()
            } else {
                "****".into()
            },
        }
    }
    async fn buyer_note(&self, ctx: &Context<'_>) -> Option<&str> {
        if sees_buyer(ctx.viewer(), &self.0) {
            self.0.buyer_note.as_deref()
        } else {
            None
        }
    }
    /// Internal notes (staff with ORDERS only).
    async fn staff_note(&self, ctx: &Context<'_>) -> Option<&str> {
        if is_order_staff(ctx.viewer()) {
            self.0.staff_note.as_deref()
        } else {
            None
        }
    }
    /// Who bought (null for the distributor the order is attributed to).
    async fn buyer(&self, ctx: &Context<'_>) -> Option<User> {
        sees_buyer(ctx.viewer(), &self.0).then(|| User::by_id(self.0.user_id))
    }
    /// The distributor the order is attributed to (who earns tier-1 commission on it), with
    /// their referral code and level. Null when the order came through no distributor, and
    /// for the buyer; shown to that distributor and to staff with ORDERS or DISTRIBUTION.
    async fn distributor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Distributor>> {
        let Some(id) = self.0.distributor_user_id else {
            return Ok(None);
        };
        if !sees_distributor(ctx.viewer(), id) {
            return Ok(None);
        }
        Ok(ctx
            .loaders()
            .distributors
            .load_one(id)
            .await?
            .map(|d| Distributor((*d).clone())))
    }
    /// Every status change, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderHistoryEntry>> {
        Ok(ctx
            .loaders()
            .order_history
            .load_one(self.0.id)
            .await?
            .map(|v| v.iter().cloned().map(OrderHistoryEntry).collect())
            .unwrap_or_default())
    }
    /// The parcels the order shipped in, oldest first, each with its contents and the carrier's
    /// tracking timeline.
    async fn shipments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Shipment>> {
        Ok(ctx
            .loaders()
            .order_shipments
            .load_one(self.0.id)
            .await?
            .map(|v| v.iter().cloned().map(Shipment).collect())
            .unwrap_or_default())
    }
    /// How far the goods are, as the lines and the carriers say.
    async fn shipping_status(&self, ctx: &Context<'_>) -> async_graphql::Result<ShippingStatus> {
        let loaders = ctx.loaders();
        let (lines, parcels) = futures::try_join!(
            loaders.order_lines.load_one(self.0.id),
            loaders.order_shipments.load_one(self.0.id),
        )?;
        Ok(shipping_status(
            &lines.unwrap_or_default(),
            &parcels.unwrap_or_default(),
        ))
    }
    async fn payments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Payment>> {
        Ok(ctx
            .loaders()
            .order_payments
            .load_one(self.0.id)
            .await?
            .map(|v| v.iter().cloned().map(Payment).collect())
            .unwrap_or_default())
    }
    /// Refund and return requests, oldest first.
    async fn refunds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Refund>> {
        Ok(ctx
            .loaders()
            .order_refunds
            .load_one(self.0.id)
            .await?
            .map(|v| v.iter().cloned().map(Refund).collect())
            .unwrap_or_default())
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// Until when an unpaid order waits for payment before it is cancelled.
    async fn pay_before(&self) -> Option<DateTime> {
        (status_of(&self.0) == OrderStatus::Submitted)
            .then_some(self.0.expires_at)
            .flatten()
            .map(DateTime)
    }
    async fn paid_at(&self) -> Option<DateTime> {
        self.0.paid_at.map(DateTime)
    }
    async fn approved_at(&self) -> Option<DateTime> {
        self.0.approved_at.map(DateTime)
    }
    async fn shipped_at(&self) -> Option<DateTime> {
        self.0.shipped_at.map(DateTime)
    }
    async fn delivered_at(&self) -> Option<DateTime> {
        self.0.delivered_at.map(DateTime)
    }
    async fn completed_at(&self) -> Option<DateTime> {
        self.0.completed_at.map(DateTime)
    }
    async fn cancelled_at(&self) -> Option<DateTime> {
        self.0.cancelled_at.map(DateTime)
    }
    async fn cancel_reason(&self) -> Option<&str> {
        self.0.cancel_reason.as_deref()
    }
}

/// Units of one line in a refund request.
pub struct RefundLine(pub refund_line::Model);

#[Object]
impl RefundLine {
    async fn order_line(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<OrderLine>> {
        Ok(ctx
            .loaders()
            .order_lines_by_id
            .load_one(self.0.order_line_id)
            .await?
            .map(|l| OrderLine((*l).clone())))
    }
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }
    /// What these units return (see the refund rounding rule).
    async fn amount(&self) -> Money {
        yuan(self.0.amount_fen)
    }
}

/// A refund or return request (售后).
pub struct Refund(pub refund::Model);

#[Object]
impl Refund {
    async fn id(&self) -> ID {
        ids::encode("Refund", self.0.id)
    }
    async fn refund_no(&self) -> &str {
        &self.0.refund_no
    }
    async fn kind(&self) -> Option<RefundKind> {
        RefundKind::parse(&self.0.kind)
    }
    async fn status(&self) -> Option<RefundStatus> {
        RefundStatus::parse(&self.0.status)
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn photos(&self) -> Vec<String> {
        serde_json::from_str(&self.0.photos).unwrap_or_default()
    }
    /// Everything this request returns, shipping included when it goes back.
    async fn amount(&self) -> Money {
        yuan(self.0.amount_fen)
    }
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RefundLine>> {
        Ok(ctx
            .loaders()
            .refund_lines
            .load_one(self.0.id)
            .await?
            .map(|v| v.iter().cloned().map(RefundLine).collect())
            .unwrap_or_default())
    }
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Order>> {
        Ok(ctx
            .loaders()
            .orders
            .load_one(self.0.order_id)
            .await?
            .filter(|o| can_read(ctx.viewer(), o))
            .map(Order))
    }
    async fn reject_reason(&self) -> Option<&str> {
        self.0.reject_reason.as_deref()
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn decided_at(&self) -> Option<DateTime> {
        self.0.decided_at.map(DateTime)
    }
    async fn received_at(&self) -> Option<DateTime> {
        self.0.received_at.map(DateTime)
    }
    async fn refunded_at(&self) -> Option<DateTime> {
        self.0.refunded_at.map(DateTime)
    }
}
