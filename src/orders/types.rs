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
    pricing::{AppliedDiscount, PricingStage, SourceKind},
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

/// An entry of the signed-in buyer's address book; only its owner sees it. An order copies the
/// address when placed, so editing or deleting this never changes an order.
#[Object]
impl Address {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("Address", self.0.id)
    }
    /// Who receives the parcel, 1–32 characters.
    async fn recipient(&self) -> &str {
        &self.0.recipient
    }
    /// The recipient's 11-digit mobile number.
    async fn phone(&self) -> &str {
        &self.0.phone
    }
    /// Province (省), e.g. 浙江省; shipping charges and delivery areas are by province.
    async fn province(&self) -> &str {
        &self.0.province
    }
    /// City (市).
    async fn city(&self) -> &str {
        &self.0.city
    }
    /// District (区/县).
    async fn district(&self) -> &str {
        &self.0.district
    }
    /// Street, building and room, up to 200 characters.
    async fn detail(&self) -> &str {
        &self.0.detail
    }
    /// Six-digit postal code; null when not given.
    async fn postal_code(&self) -> Option<&str> {
        self.0.postal_code.as_deref()
    }
    /// Whether checkout offers this address first (at most one is).
    async fn is_default(&self) -> bool {
        self.0.is_default
    }
}

/// A problem with a cart item or checkout line.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineWarning {
    /// Unpublished or removed since it was added.
    NotOnSale,
    /// No unit is left.
    OutOfStock,
    /// Fewer left than the quantity.
    InsufficientStock,
}

/// One SKU in the cart, with what it costs and whether it can be bought now.
pub struct CartItem {
    pub item: cart_item::Model,
}

/// One SKU in the cart, with what it costs now and whether it can be bought now.
#[Object]
impl CartItem {
    /// The SKU; null if it was deleted since it was added.
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sku>> {
        Ok(ctx
            .loaders()
            .skus
            .load_one(self.item.sku_id)
            .await?
            .map(Sku::new))
    }

    /// The SKU's product (even when it is no longer on sale, so the cart can show what it
    /// was); null if the SKU was deleted.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        let Some(s) = ctx.loaders().skus.load_one(self.item.sku_id).await? else {
            return Ok(None);
        };
        Ok(ctx.loaders().product(s.product_id).await?.map(Product))
    }

    /// Units wanted, 1–999.
    async fn quantity(&self) -> i64 {
        self.item.quantity
    }

    /// Whether the item is ticked for checkout (checkout without `lines` buys the selected
    /// items).
    async fn selected(&self) -> bool {
        self.item.selected
    }

    /// The price of one unit now, in yuan; null if the SKU was deleted.
    async fn unit_price(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Money>> {
        Ok(ctx
            .loaders()
            .skus
            .load_one(self.item.sku_id)
            .await?
            .map(|s| yuan(s.price_fen)))
    }

    /// Why the item cannot be bought as it is now; null when it can.
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

/// The signed-in buyer's cart, kept on the server (it survives logout and follows the user
/// across devices). Prices and stock are read fresh every time.
#[Object]
impl Cart {
    /// The items, most recently added or changed first.
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
    /// Which pricing stage granted it.
    stage: PricingStage,
    /// What the buyer is shown, e.g. 满100减20.
    label: String,
    /// What it took off, in yuan (spread over the lines it applies to).
    amount: Money,
    /// Who granted it: a member level, an activity, a coupon, points, a group buy; null for discounts
    /// recorded before sources were kept.
    source: Option<SourceKind>,
    /// The granting level (`MemberLevel`), activity (`PromotionActivity`), coupon (`Coupon`)
    /// or group-buy campaign (`GroupBuyCampaign`); null for points.
    source_id: Option<ID>,
    /// What each line was given of it, in yuan, in the order of the lines (empty for
    /// discounts recorded before shares were kept).
    line_amounts: Vec<Money>,
}

impl From<&AppliedDiscount> for Discount {
    fn from(d: &AppliedDiscount) -> Self {
        let source_id = d.source.and_then(|s| {
            let kind = match s.kind {
                SourceKind::Level => "MemberLevel",
                SourceKind::Activity => "PromotionActivity",
                SourceKind::Coupon => "Coupon",
                SourceKind::GroupBuy => "GroupBuyCampaign",
                SourceKind::Points => return None,
            };
            s.id.map(|id| ids::encode(kind, id))
        });
        Discount {
            stage: d.stage,
            label: d.label.clone(),
            amount: yuan(d.amount_fen),
            source: d.source.map(|s| s.kind),
            source_id,
            line_amounts: d.line_shares.iter().map(|f| yuan(*f)).collect(),
        }
    }
}

/// A line of a checkout preview.
#[derive(SimpleObject)]
pub struct CheckoutLine {
    /// The SKU.
    sku: Sku,
    /// The product's name now.
    product_name: String,
    /// The SKU's spec values, e.g. `颜色:红 尺码:S`; empty for a product without specs.
    spec_text: String,
    /// The product's first image; null when it has none.
    image_url: Option<String>,
    /// Units, 1–999.
    quantity: i64,
    /// Price of one unit now, in yuan.
    unit_price: Money,
    /// `unitPrice × quantity`, in yuan.
    line_total: Money,
    /// This line's share of every discount.
    discount: Money,
    /// The member price's part of `discount` (zero without a member discount).
    member_discount: Money,
    /// What the buyer would pay for this line: `lineTotal − discount`, in yuan.
    pay_amount: Money,
    /// Why the line cannot be bought now; null when it can.
    warning: Option<LineWarning>,
}

/// A gift an activity adds to the order (满赠).
#[derive(SimpleObject)]
pub struct CheckoutGift {
    /// The SKU given.
    sku: Sku,
    /// Its product's name.
    product_name: String,
    /// Units given.
    quantity: i64,
    /// Which activity gives it, e.g. `满199赠（年货节）`.
    label: String,
    /// False when it is out of stock: the order then goes through without it.
    available: bool,
}

/// What placing this order would charge, computed by the same pipeline as `placeOrder`.
#[derive(SimpleObject)]
pub struct CheckoutPreview {
    /// The lines, priced.
    lines: Vec<CheckoutLine>,
    /// The delivery address used: the one asked for, else the default; null when the buyer
    /// has none (then shipping is not charged yet and `canPlace` is false).
    address: Option<Address>,
    /// Sum of the lines' totals before discounts, in yuan.
    items_total: Money,
    /// Taken off by the member-level stage, in yuan (0.00 until member levels exist).
    member_discount: Money,
    /// Taken off by 满减 activities, in yuan.
    promotion_discount: Money,
    /// Taken off by the coupon, in yuan.
    coupon_discount: Money,
    /// Taken off by points, in yuan (0.00 until points exist).
    points_discount: Money,
    /// Points the buyer would spend.
    points_used: i64,
    /// Shipping by the default shipping template, in yuan; 0.00 when free or no template.
    shipping_fee: Money,
    /// Why shipping is free although the shop's template charges for it, e.g. `钻石会员包邮`
    /// (a member level's free shipping); null when it is charged or free by the template.
    free_shipping: Option<String>,
    /// What the buyer would pay: goods after every discount plus shipping, in yuan.
    pay_amount: Money,
    /// Every discount that applies, in pipeline order.
    discounts: Vec<Discount>,
    /// Gifts the order gets (free; an unavailable one is left out when the order is placed).
    gifts: Vec<CheckoutGift>,
    /// The coupon applied: the one asked for, else the best the buyer holds for this order
    /// (null: none applies, or `noCoupon`). `usableCoupons` lists the others and why.
    coupon_id: Option<ID>,
    /// What the buyer could still get, e.g. `再买 ¥12.00 可减 ¥20.00（双十二满减）` (凑单).
    hints: Vec<String>,
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
                member_discount: yuan(priced.member_discount_fen),
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
            free_shipping: p.free_shipping.clone(),
            pay_amount: yuan(p.pay_amount_fen),
            discounts: p.discounts.iter().map(Discount::from).collect(),
            coupon_id: p.coupon_id.map(|id| ids::encode("Coupon", id)),
            hints: p
                .hints
                .iter()
                .cloned()
                .chain(
                    q.gifts
                        .iter()
                        .filter(|g| !g.available)
                        .map(|g| format!("赠品{}已赠完，订单照常提交", g.bundle.product.name)),
                )
                .collect(),
            gifts: q
                .gifts
                .iter()
                .map(|g| CheckoutGift {
                    sku: Sku::new(&g.sku),
                    product_name: g.bundle.product.name.clone(),
                    quantity: g.quantity,
                    label: g.label.clone(),
                    available: g.available,
                })
                .collect(),
        }
    }
}

/// Where an order goes, copied from the address book when it was placed.
#[derive(SimpleObject)]
pub struct ShippingAddress {
    /// Who receives the parcel; masked (`张*`) for the distributor the order is attributed to.
    recipient: String,
    /// The recipient's mobile; masked (`138****5678`) for the attributed distributor.
    phone: String,
    /// Province (省).
    province: String,
    /// City (市).
    city: String,
    /// District (区/县).
    district: String,
    /// Street, building and room; `****` for the attributed distributor.
    detail: String,
}

/// A line of a placed order: a snapshot of what was bought, at what price.
pub struct OrderLine(pub order_line::Model);

/// A line of a placed order: a snapshot of what was bought, at what price. Visible to whoever
/// may read the order.
#[Object]
impl OrderLine {
    /// Opaque global id (refunds and shipments name lines by it).
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
    /// The product's name when the order was placed.
    async fn product_name(&self) -> &str {
        &self.0.product_name
    }
    /// The SKU's spec values when the order was placed, e.g. `颜色:红 尺码:S`.
    async fn spec_text(&self) -> &str {
        &self.0.spec_text
    }
    /// The SKU code when the order was placed.
    async fn sku_code(&self) -> &str {
        &self.0.sku_code
    }
    /// The product's first image when the order was placed; null when it had none.
    async fn image_url(&self) -> Option<&str> {
        self.0.image_url.as_deref()
    }
    /// Price of one unit when the order was placed, in yuan.
    async fn unit_price(&self) -> Money {
        yuan(self.0.unit_price_fen)
    }
    /// Units bought.
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }
    /// `unitPrice × quantity`, in yuan.
    async fn line_total(&self) -> Money {
        yuan(self.0.line_total_fen)
    }
    /// This line's share of the order's discounts.
    async fn discount(&self) -> Money {
        yuan(self.0.discount_fen)
    }
    /// The member price's part of `discount`: the buyer's level discount on this line, as it
    /// was when the order was placed (zero without one).
    async fn member_discount(&self) -> Money {
        yuan(self.0.member_discount_fen)
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
    /// Units refunded so far.
    async fn refunded_quantity(&self) -> i64 {
        self.0.refunded_quantity
    }
    /// Money refunded for this line so far, in yuan (never more than `payAmount`).
    async fn refunded_amount(&self) -> Money {
        yuan(self.0.refunded_fen)
    }
    /// Units shipped so far.
    async fn shipped_quantity(&self) -> i64 {
        self.0.shipped_quantity
    }
    /// A free item added by a promotion (满赠); it earns no commission.
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

/// One status change of an order, as recorded when it happened.
#[Object]
impl OrderHistoryEntry {
    /// The status before; null for the entry that records the order being placed.
    async fn from_status(&self) -> Option<OrderStatus> {
        self.0.from_status.as_deref().and_then(OrderStatus::parse)
    }
    /// The status after; null only for a status this server version does not know.
    async fn to_status(&self) -> Option<OrderStatus> {
        OrderStatus::parse(&self.0.to_status)
    }
    /// Why: the cancel reason, the payment provider, a refund number, a carrier scan, staff's
    /// note…; null when none.
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
    /// When it happened.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// An attempt to pay an order.
pub struct Payment(pub payment::Model);

/// An attempt to pay an order with one provider. Visible to whoever may read the order.
#[Object]
impl Payment {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("Payment", self.0.id)
    }
    /// Who takes the money.
    async fn provider(&self) -> Option<ProviderKind> {
        ProviderKind::parse(&self.0.provider)
    }
    /// Our payment number as the provider knows it: the order number, `P` and the attempt
    /// (`20261128000042P1`).
    async fn out_trade_no(&self) -> &str {
        &self.0.out_trade_no
    }
    /// The amount asked for, in yuan: the order's `payAmount` when the attempt started.
    async fn amount(&self) -> Money {
        yuan(self.0.amount_fen)
    }
    /// Where the attempt is.
    async fn status(&self) -> Option<PaymentState> {
        PaymentState::parse(&self.0.status)
    }
    /// The provider's transaction id once paid; null before.
    async fn provider_transaction_id(&self) -> Option<&str> {
        self.0.provider_txn_id.as_deref()
    }
    /// What the client passes to the provider, as JSON: for `WECHAT_PAY` the arguments of
    /// `wx.requestPayment`, for `ALIPAY` `{"payUrl": …}`, the H5 cashier to open. Null for `DEV`
    /// and before the provider answered.
    async fn client_parameters(&self) -> Option<&str> {
        self.0.client_payload.as_deref()
    }
    /// When the attempt started.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the provider confirmed the payment; null until then.
    async fn paid_at(&self) -> Option<DateTime> {
        self.0.paid_at.map(DateTime)
    }
}

/// An order. Readable by its buyer and by staff with ORDERS.
pub struct Order(pub Arc<order::Model>);

/// An order. Readable by its buyer, by staff with ORDERS, and by the distributor it is
/// attributed to (with the buyer masked); anyone else gets `NOT_FOUND` or null.
#[Object]
impl Order {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ids::encode("Order", self.0.id)
    }
    /// Human-readable and unique: the business day and a sequence.
    async fn order_no(&self) -> &str {
        &self.0.order_no
    }
    /// Where the order is in its life (ARCHITECTURE.md §10).
    async fn status(&self) -> OrderStatus {
        status_of(&self.0)
    }
    /// The statuses this order may move to now; any other change is refused. A held order
    /// (`heldFor`) may not be approved yet.
    async fn next_states(&self) -> Vec<OrderStatus> {
        let mut next = rules::next_states(status_of(&self.0), before_refund_of(&self.0));
        next.retain(|to| !rules::hold_blocks(self.0.held_for.is_some(), *to));
        next
    }
    /// Why the order waits before it may be approved or shipped: `GROUP_BUY` while its group is
    /// filling. Null when nothing holds it.
    async fn held_for(&self) -> Option<rules::OrderHold> {
        self.0.held_for.as_deref().and_then(rules::OrderHold::parse)
    }
    /// Whether the money arrived and how much went back.
    async fn payment_status(&self) -> Option<PaymentStatus> {
        PaymentStatus::parse(&self.0.payment_status)
    }
    /// The provider that took the money; null until paid.
    async fn payment_provider(&self) -> Option<ProviderKind> {
        self.0
            .payment_provider
            .as_deref()
            .and_then(ProviderKind::parse)
    }
    /// How the order came to be: directly, or through a distributor.
    async fn source(&self) -> Option<OrderSource> {
        OrderSource::parse(&self.0.source)
    }
    /// The lines, in the order they were placed.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderLine>> {
        Ok(ctx
            .loaders()
            .order_lines
            .load_one(self.0.id)
            .await?
            .map(|v| v.iter().cloned().map(OrderLine).collect())
            .unwrap_or_default())
    }
    /// Units across every line.
    async fn item_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(ctx
            .loaders()
            .order_lines
            .load_one(self.0.id)
            .await?
            .map(|v| v.iter().map(|l| l.quantity).sum())
            .unwrap_or(0))
    }
    /// Sum of the lines' totals before discounts, in yuan.
    async fn items_total(&self) -> Money {
        yuan(self.0.items_total_fen)
    }
    /// Taken off by the member-level stage, in yuan.
    async fn member_discount(&self) -> Money {
        yuan(self.0.member_discount_fen)
    }
    /// Taken off by promotions, in yuan.
    async fn promotion_discount(&self) -> Money {
        yuan(self.0.promotion_discount_fen)
    }
    /// Taken off by the coupon, in yuan.
    async fn coupon_discount(&self) -> Money {
        yuan(self.0.coupon_discount_fen)
    }
    /// The coupon the order used; null when none.
    async fn coupon_id(&self) -> Option<ID> {
        self.0.coupon_id.map(|id| ids::encode("Coupon", id))
    }
    /// Taken off by points, in yuan.
    async fn points_discount(&self) -> Money {
        yuan(self.0.points_discount_fen)
    }
    /// Points spent on the order.
    async fn points_used(&self) -> i64 {
        self.0.points_used
    }
    /// Shipping charged, in yuan.
    async fn shipping_fee(&self) -> Money {
        yuan(self.0.shipping_fee_fen)
    }
    /// What the buyer pays: goods after every discount plus shipping, in yuan.
    async fn pay_amount(&self) -> Money {
        yuan(self.0.pay_amount_fen)
    }
    /// Money refunded so far, in yuan (shipping included once it went back).
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
    /// The buyer's note at checkout; null when none, and for the attributed distributor.
    async fn buyer_note(&self, ctx: &Context<'_>) -> Option<&str> {
        if sees_buyer(ctx.viewer(), &self.0) {
            self.0.buyer_note.as_deref()
        } else {
            None
        }
    }
    /// Internal notes; null when none, and for anyone but staff with ORDERS.
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
    /// Every payment attempt, oldest first.
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
    /// When the order was placed.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// Until when an unpaid order waits for payment before it is cancelled; null once it is no
    /// longer `SUBMITTED`.
    async fn pay_before(&self) -> Option<DateTime> {
        (status_of(&self.0) == OrderStatus::Submitted)
            .then_some(self.0.expires_at)
            .flatten()
            .map(DateTime)
    }
    /// When the payment was confirmed; null until paid.
    async fn paid_at(&self) -> Option<DateTime> {
        self.0.paid_at.map(DateTime)
    }
    /// When staff approved it (审核); null until then.
    async fn approved_at(&self) -> Option<DateTime> {
        self.0.approved_at.map(DateTime)
    }
    /// When its first parcel shipped; null until then.
    async fn shipped_at(&self) -> Option<DateTime> {
        self.0.shipped_at.map(DateTime)
    }
    /// When it was delivered (signed for, confirmed by the buyer or received automatically);
    /// null until then.
    async fn delivered_at(&self) -> Option<DateTime> {
        self.0.delivered_at.map(DateTime)
    }
    /// When the after-sales window closed; null until then.
    async fn completed_at(&self) -> Option<DateTime> {
        self.0.completed_at.map(DateTime)
    }
    /// When it was cancelled; null unless cancelled.
    async fn cancelled_at(&self) -> Option<DateTime> {
        self.0.cancelled_at.map(DateTime)
    }
    /// Why it was cancelled: the buyer's reason (`cancelled by the buyer` when they gave none)
    /// or `payment timed out`; null unless cancelled.
    async fn cancel_reason(&self) -> Option<&str> {
        self.0.cancel_reason.as_deref()
    }
}

/// Units of one line in a refund request.
pub struct RefundLine(pub refund_line::Model);

/// Units of one order line in a refund request.
#[Object]
impl RefundLine {
    /// The order line; null if it no longer exists.
    async fn order_line(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<OrderLine>> {
        Ok(ctx
            .loaders()
            .order_lines_by_id
            .load_one(self.0.order_line_id)
            .await?
            .map(|l| OrderLine((*l).clone())))
    }
    /// Units asked back.
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }
    /// What these units return, in yuan (ARCHITECTURE.md §9.2).
    async fn amount(&self) -> Money {
        yuan(self.0.amount_fen)
    }
}

/// A refund or return request (售后).
pub struct Refund(pub refund::Model);

/// A refund or return request (售后). Visible to the order's buyer and to staff with ORDERS.
#[Object]
impl Refund {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("Refund", self.0.id)
    }
    /// Human-readable refund number; also the provider's idempotency key for the refund.
    async fn refund_no(&self) -> &str {
        &self.0.refund_no
    }
    /// Money only, or goods back first.
    async fn kind(&self) -> Option<RefundKind> {
        RefundKind::parse(&self.0.kind)
    }
    /// Where the request is.
    async fn status(&self) -> Option<RefundStatus> {
        RefundStatus::parse(&self.0.status)
    }
    /// Why the buyer (or staff) asked.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// URLs of photos the buyer attached; may be empty.
    async fn photos(&self) -> Vec<String> {
        serde_json::from_str(&self.0.photos).unwrap_or_default()
    }
    /// Everything this request returns, shipping included when it goes back.
    async fn amount(&self) -> Money {
        yuan(self.0.amount_fen)
    }
    /// The units asked back, per order line.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RefundLine>> {
        Ok(ctx
            .loaders()
            .refund_lines
            .load_one(self.0.id)
            .await?
            .map(|v| v.iter().cloned().map(RefundLine).collect())
            .unwrap_or_default())
    }
    /// The order it is for; null if you may not read that order.
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Order>> {
        Ok(ctx
            .loaders()
            .orders
            .load_one(self.0.order_id)
            .await?
            .filter(|o| can_read(ctx.viewer(), o))
            .map(Order))
    }
    /// Why staff rejected it; null unless rejected.
    async fn reject_reason(&self) -> Option<&str> {
        self.0.reject_reason.as_deref()
    }
    /// When it was asked for.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When staff approved or rejected it; null until then.
    async fn decided_at(&self) -> Option<DateTime> {
        self.0.decided_at.map(DateTime)
    }
    /// When the returned goods arrived; null for a refund without return, or until then.
    async fn received_at(&self) -> Option<DateTime> {
        self.0.received_at.map(DateTime)
    }
    /// When the money went back; null until then.
    async fn refunded_at(&self) -> Option<DateTime> {
        self.0.refunded_at.map(DateTime)
    }
}
