//! The orders area's GraphQL face: address book, cart, checkout, the buyer's orders, payment,
//! the staff order list, shipping templates, and live order status.
use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Subscription};
use entity::order;
use futures::{Stream, StreamExt};
use sea_orm::EntityTrait;

use super::{
    addresses::{self, AddressDraft},
    cart,
    checkout::{self, CheckoutRequest, LineRequest},
    errors::OrderError,
    lifecycle::{self, EVENT_STATUS_CHANGED},
    payments::{self, ProviderKind},
    placement,
    pricing::{CouponChoice, GroupBuyChoice},
    queries::{self, OrderFilter as ServiceFilter, OrderSort},
    rules::OrderStatus,
    shipping_templates::{self, TemplateDraft},
    types::{Address, Cart, CheckoutPreview, Order, Payment, can_read},
};
use crate::{
    auth::{Permission, PermissionGuard},
    error::{AppError, ServiceError},
    events::{self, EventFilter},
    graphql::{
        context::CtxExt,
        errors::payload,
        ids,
        relay::{Page, Window},
        scalars::DateTime,
    },
};

/// An address for the address book.
#[derive(InputObject)]
pub struct AddressInput {
    /// Who receives the parcel, 1–32 characters.
    recipient: String,
    /// The recipient's 11-digit mainland mobile number.
    phone: String,
    /// Province (省), 1–32 characters, e.g. 浙江省.
    province: String,
    /// City (市), 1–32 characters.
    city: String,
    /// District (区/县), 1–32 characters.
    district: String,
    /// Street, building and room, 1–200 characters.
    detail: String,
    /// Six digits; optional.
    postal_code: Option<String>,
    /// Make this the default address (the previous default stops being it).
    #[graphql(default = false)]
    is_default: bool,
}

impl AddressInput {
    fn draft(self) -> AddressDraft {
        AddressDraft {
            recipient: self.recipient,
            phone: self.phone,
            province: self.province,
            city: self.city,
            district: self.district,
            detail: self.detail,
            postal_code: self.postal_code,
            is_default: self.is_default,
        }
    }
}

/// The result of saving an address.
#[derive(SimpleObject)]
pub struct AddressPayload {
    /// The address as saved; null when refused.
    address: Option<Address>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<OrderError>,
}

/// The result of deleting an address or a shipping template.
#[derive(SimpleObject)]
pub struct OrderDeletePayload {
    /// The global id of what was deleted; null when refused.
    deleted_id: Option<ID>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<OrderError>,
}

/// The result of a cart change.
#[derive(SimpleObject)]
pub struct CartPayload {
    /// The whole cart after the change; null when refused.
    cart: Option<Cart>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<OrderError>,
}

/// One line to check out.
#[derive(InputObject)]
pub struct CheckoutLineInput {
    /// The SKU to buy.
    sku_id: ID,
    /// Units, 1–999.
    quantity: i64,
}

/// What to check out. Without `lines`, the selected items of the cart (which placing the order
/// then removes from the cart).
#[derive(InputObject)]
pub struct CheckoutInput {
    /// Up to 50 lines to buy now ("buy now" without the cart); omit to check out the cart's
    /// selected items.
    lines: Option<Vec<CheckoutLineInput>>,
    /// One of the buyer's addresses; the default address when omitted. `placeOrder` needs one.
    address_id: Option<ID>,
    /// One of the buyer's coupons to use (`myCoupons`); refused with its reason
    /// (`COUPON_BELOW_THRESHOLD`…) when this order cannot use it. Without it, the best usable
    /// coupon the buyer holds is applied, unless `noCoupon`.
    coupon_id: Option<ID>,
    /// Use no coupon (ignored when `couponId` is given).
    #[graphql(default = false)]
    no_coupon: bool,
    /// Points to spend; refused with `INVALID_POINTS` above 0 until points exist.
    #[graphql(default = 0)]
    points_to_use: i64,
    /// A note for the merchant, up to 200 characters.
    buyer_note: Option<String>,
    /// A distributor's share code the buyer arrived with.
    share_code: Option<String>,
    /// A redemption in the points mall: every line must be a SKU staff made redeemable, each
    /// unit costs its points (plus any cash), `pointsToUse` is ignored, and the order's
    /// `source` is `POINTS_MALL`.
    #[graphql(default = false)]
    points_mall: bool,
    /// A group-buy order (拼团): join an open group or launch one. The lines must be SKUs of
    /// the group's campaign, priced at their group price with no other discount; the order is
    /// credited to the group's launcher and waits (`heldFor: GROUP_BUY`) until the group fills.
    group_buy: Option<GroupBuyInput>,
}

/// The group buy an order takes part in: exactly one of the two.
#[derive(async_graphql::OneofObject)]
pub enum GroupBuyInput {
    /// Join this open group (a `GroupBuy` id, from a share link or `openGroupBuys`).
    GroupId(ID),
    /// Launch a new group of this campaign (a `GroupBuyCampaign` id), with the buyer as its
    /// leader and first member, if the campaign lets the buyer launch.
    CampaignId(ID),
}

impl CheckoutInput {
    pub(crate) fn request(self) -> Result<CheckoutRequest, AppError> {
        let lines = match self.lines {
            None => None,
            Some(lines) => Some(
                lines
                    .into_iter()
                    .map(|l| {
                        Ok(LineRequest {
                            // An id that names nothing matches no SKU (id 0 never exists).
                            sku_id: ids::decode("Sku", &l.sku_id).unwrap_or(0),
                            quantity: l.quantity,
                        })
                    })
                    .collect::<Result<Vec<_>, AppError>>()?,
            ),
        };
        Ok(CheckoutRequest {
            lines,
            address_id: self
                .address_id
                .map(|a| ids::decode("Address", &a).unwrap_or(0)),
            coupon: match (self.coupon_id, self.no_coupon) {
                // An id that names nothing is a coupon the buyer does not hold (id 0).
                (Some(id), _) => CouponChoice::Coupon(ids::decode("Coupon", &id).unwrap_or(0)),
                (None, true) => CouponChoice::NoCoupon,
                (None, false) => CouponChoice::Best,
            },
            points_to_use: self.points_to_use,
            buyer_note: self.buyer_note,
            share_code: self.share_code,
            points_mall: self.points_mall,
            // An id that names nothing joins no group (id 0 never exists).
            group_buy: self.group_buy.map(|g| match g {
                GroupBuyInput::GroupId(id) => {
                    GroupBuyChoice::Join(ids::decode("GroupBuy", &id).unwrap_or(0))
                }
                GroupBuyInput::CampaignId(id) => {
                    GroupBuyChoice::Launch(ids::decode("GroupBuyCampaign", &id).unwrap_or(0))
                }
            }),
        })
    }
}

/// An order to place, exactly as previewed.
#[derive(InputObject)]
pub struct PlaceOrderInput {
    /// What to buy, where to, and with which discounts (the same input as `checkoutPreview`).
    checkout: CheckoutInput,
    /// A retry with the same key and input returns the first order instead of a second one.
    idempotency_key: String,
}

/// The result of `checkoutPreview`.
#[derive(SimpleObject)]
pub struct CheckoutPreviewPayload {
    /// The priced basket; null when it cannot be priced at all.
    preview: Option<CheckoutPreview>,
    /// Why it cannot be priced (an empty selection, a bad coupon, an address not delivered
    /// to…); empty otherwise. Lines that cannot be bought are shown as warnings instead.
    user_errors: Vec<OrderError>,
}

/// The result of an order mutation.
#[derive(SimpleObject)]
pub struct OrderPayload {
    /// The order as it is now; null when refused.
    order: Option<Order>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<OrderError>,
}

/// The result of `createPayment`.
#[derive(SimpleObject)]
pub struct PaymentPayload {
    /// The payment attempt with what the client needs to pay; null when refused.
    payment: Option<Payment>,
    /// The order as it is now (already `PAID` with the `DEV` provider); null when refused.
    order: Option<Order>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<OrderError>,
}

/// How many orders are in one status.
#[derive(SimpleObject)]
pub struct OrderStatusCount {
    /// The status.
    status: OrderStatus,
    /// Orders in it (0 included, so every status is listed).
    count: i64,
}

/// Which orders to list; all optional and combined with AND.
#[derive(InputObject, Default)]
pub struct OrderFilter {
    /// Orders in any of these statuses.
    statuses: Option<Vec<OrderStatus>>,
    /// Placed at or after.
    from: Option<DateTime>,
    /// Placed before.
    to: Option<DateTime>,
    /// Only orders that came this way.
    source: Option<super::rules::OrderSource>,
    /// Orders attributed to this distributor: a `Distributor` id, as `Order.distributor.id`.
    distributor_id: Option<ID>,
    /// Matches the order number, the recipient's phone or name; at most 100 characters.
    keyword: Option<String>,
}

impl OrderFilter {
    fn resolve(self) -> ServiceFilter {
        ServiceFilter {
            statuses: self.statuses.unwrap_or_default(),
            from: self.from.map(|d| d.0),
            to: self.to.map(|d| d.0),
            source: self.source,
            distributor_id: self
                .distributor_id
                .map(|d| ids::decode("Distributor", &d).unwrap_or(0)),
            keyword: self.keyword,
            buyer_id: None,
        }
    }
}

/// A shipping template (运费模板): how shipping is charged. The default template prices every
/// checkout (staff with ORDERS).
#[derive(SimpleObject)]
pub struct ShippingTemplate {
    /// Opaque global id.
    id: ID,
    /// Staff's name for it, e.g. 全国包邮.
    name: String,
    /// How the fee is computed.
    kind: super::shipping::ShippingKind,
    /// The rules as JSON (see the README's shipping section).
    rules: String,
    /// Whether checkout charges by this template (at most one is the default).
    is_default: bool,
}

impl From<entity::shipping_template::Model> for ShippingTemplate {
    fn from(m: entity::shipping_template::Model) -> Self {
        ShippingTemplate {
            id: ids::encode("ShippingTemplate", m.id),
            kind: serde_json::from_str::<super::shipping::ShippingRules>(&m.rules)
                .map(|r| r.kind)
                .unwrap_or(super::shipping::ShippingKind::Flat),
            name: m.name,
            rules: m.rules,
            is_default: m.is_default,
        }
    }
}

/// A shipping template to save.
#[derive(InputObject)]
pub struct ShippingTemplateInput {
    /// Staff's name for it, 1–64 characters.
    name: String,
    /// JSON, amounts in fen: `{"kind":"BY_WEIGHT","base":{"firstUnits":1000,
    /// "firstFeeFen":800,"additionalUnits":500,"additionalFeeFen":200},"regions":[{"provinces":
    /// ["新疆"],"charge":{…}}],"freeAboveFen":9900,"excludedProvinces":["西藏"]}`. `kind` is
    /// `FLAT`, `BY_WEIGHT` (units are grams) or `BY_QUANTITY` (units are items).
    rules: String,
    /// Make this the default template (the previous default stops being it).
    #[graphql(default = false)]
    is_default: bool,
}

/// The result of saving a shipping template.
#[derive(SimpleObject)]
pub struct ShippingTemplatePayload {
    /// The template as saved; null when refused.
    template: Option<ShippingTemplate>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<OrderError>,
}

pub(super) fn order_payload(
    r: Result<order::Model, ServiceError<Vec<OrderError>>>,
) -> async_graphql::Result<OrderPayload> {
    payload(
        r,
        |o| OrderPayload {
            order: Some(Order(Arc::new(o))),
            user_errors: vec![],
        },
        |e| OrderPayload {
            order: None,
            user_errors: e,
        },
    )
}

async fn cart_payload(
    ctx: &Context<'_>,
    user_id: i64,
    r: Result<(), ServiceError<Vec<OrderError>>>,
) -> async_graphql::Result<CartPayload> {
    match r {
        Ok(()) => Ok(CartPayload {
            cart: Some(Cart(cart::items(ctx.app().db.conn(), user_id).await?)),
            user_errors: vec![],
        }),
        Err(ServiceError::User(e)) => Ok(CartPayload {
            cart: None,
            user_errors: e,
        }),
        Err(ServiceError::App(e)) => Err(e.into()),
    }
}

#[derive(Default)]
pub struct OrderQuery;

#[Object]
impl OrderQuery {
    /// The signed-in buyer's addresses: the default first, then the most recently changed.
    async fn my_addresses(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Address>> {
        let me = ctx.viewer().require_user()?;
        Ok(addresses::list(ctx.app().db.conn(), me.user_id)
            .await?
            .into_iter()
            .map(Address)
            .collect())
    }

    /// The signed-in buyer's cart.
    async fn cart(&self, ctx: &Context<'_>) -> async_graphql::Result<Cart> {
        let me = ctx.viewer().require_user()?;
        Ok(Cart(cart::items(ctx.app().db.conn(), me.user_id).await?))
    }

    /// What placing this order would charge now, line by line, with warnings for lines that
    /// cannot be bought.
    async fn checkout_preview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to buy, where to, and with which discounts.")] input: CheckoutInput,
    ) -> async_graphql::Result<CheckoutPreviewPayload> {
        let me = ctx.viewer().require_user()?;
        let req = input.request()?;
        let app = ctx.app();
        payload(
            checkout::quote(app, app.db.conn(), me.user_id, &req, false).await,
            |q| CheckoutPreviewPayload {
                preview: Some(q.into()),
                user_errors: vec![],
            },
            |e| CheckoutPreviewPayload {
                preview: None,
                user_errors: e,
            },
        )
    }

    /// The signed-in buyer's orders, newest first.
    async fn my_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only orders in any of these statuses; every order when omitted.")]
        statuses: Option<Vec<OrderStatus>>,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> async_graphql::Result<Page<Order>> {
        let me = ctx.viewer().require_user()?;
        let filter = ServiceFilter {
            statuses: statuses.unwrap_or_default(),
            buyer_id: Some(me.user_id),
            ..Default::default()
        };
        list(
            ctx,
            &filter,
            OrderSort::Newest,
            Window::new(first, after, last, before)?,
        )
        .await
    }

    /// Orders attributed to the calling distributor, newest first, buyers masked (`FORBIDDEN`
    /// for anyone who is not a distributor).
    async fn my_distributed_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only orders in any of these statuses; every order when omitted.")]
        statuses: Option<Vec<OrderStatus>>,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> async_graphql::Result<Page<Order>> {
        let me = ctx.viewer().require_user()?;
        if !me.is_distributor {
            return Err(
                AppError::Forbidden("only distributors have attributed orders".into()).into(),
            );
        }
        let filter = ServiceFilter {
            statuses: statuses.unwrap_or_default(),
            distributor_id: Some(me.user_id),
            ..Default::default()
        };
        list(
            ctx,
            &filter,
            OrderSort::Newest,
            Window::new(first, after, last, before)?,
        )
        .await
    }

    /// How many of the caller's orders are in each status (badges in the mini-program).
    async fn my_order_counts(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<OrderStatusCount>> {
        let me = ctx.viewer().require_user()?;
        let filter = ServiceFilter {
            buyer_id: Some(me.user_id),
            ..Default::default()
        };
        counts(ctx, &filter).await
    }

    /// One order, for its buyer, staff with ORDERS, or the distributor it is attributed to
    /// (buyer masked); null for anyone else.
    async fn order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's global id.")] id: ID,
    ) -> async_graphql::Result<Option<Order>> {
        ctx.viewer().require_user()?;
        let Ok(key) = ids::decode("Order", &id) else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()
            .orders
            .load_one(key)
            .await?
            .filter(|o| can_read(ctx.viewer(), o))
            .map(Order))
    }

    /// Every order (staff with ORDERS).
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    #[allow(clippy::too_many_arguments)]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which orders; every order when omitted.")] filter: Option<OrderFilter>,
        #[graphql(desc = "Newest or oldest first.", default_with = "OrderSort::Newest")]
        sort_by: OrderSort,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> async_graphql::Result<Page<Order>> {
        let filter = filter.unwrap_or_default().resolve();
        list(
            ctx,
            &filter,
            sort_by,
            Window::new(first, after, last, before)?,
        )
        .await
    }

    /// Orders per status under a filter (staff with ORDERS); the filter's statuses are ignored.
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn order_counts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which orders to count; every order when omitted.")] filter: Option<
            OrderFilter,
        >,
    ) -> async_graphql::Result<Vec<OrderStatusCount>> {
        let filter = filter.unwrap_or_default().resolve();
        counts(ctx, &filter).await
    }

    /// Shipping templates, the default first (staff with ORDERS).
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn shipping_templates(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ShippingTemplate>> {
        Ok(shipping_templates::list(ctx.app().db.conn())
            .await?
            .into_iter()
            .map(ShippingTemplate::from)
            .collect())
    }
}

/// One page of orders with the children it asks for loaded up front.
async fn list(
    ctx: &Context<'_>,
    filter: &ServiceFilter,
    sort: OrderSort,
    window: Window,
) -> async_graphql::Result<Page<Order>> {
    let page = queries::page(ctx.app(), filter, sort, window).await?;
    prefetch(ctx, &page).await?;
    Ok(page.orders.into_page(|o| Order(o.order.clone())))
}

/// Hands the loaders the lines the orders came with and their buyers (from the user cache, at
/// the revisions the page read), and loads the other children the list asks for in one batch
/// each, before the orders resolve, so the statement count stays the same however many orders
/// the page holds.
async fn prefetch(ctx: &Context<'_>, page: &queries::OrderPage) -> Result<(), AppError> {
    let orders = &page.orders.rows;
    let ids: Vec<i64> = orders.iter().map(|o| o.order.id).collect();
    let node = ctx.look_ahead().field("edges").field("node");
    let loaders = ctx.loaders();
    loaders
        .order_lines
        .feed_many(orders.iter().map(|o| (o.order.id, o.lines.clone())))
        .await;
    if node.field("buyer").exists() {
        let app = ctx.app();
        let buyers =
            crate::accounts::cache::current(&app.users, app.db.conn(), &page.buyers).await?;
        loaders
            .users
            .feed_many(buyers.into_iter().map(|u| (u.id, u)))
            .await;
    }
    if node.field("history").exists() {
        loaders.order_history.load_many(ids.iter().copied()).await?;
    }
    if node.field("payments").exists() {
        loaders
            .order_payments
            .load_many(ids.iter().copied())
            .await?;
    }
    super::fulfilment_schema::prefetch_shipments(loaders, &node, &ids).await?;
    Ok(())
}

async fn counts(
    ctx: &Context<'_>,
    filter: &ServiceFilter,
) -> async_graphql::Result<Vec<OrderStatusCount>> {
    let by_status = queries::counts(ctx.app().db.conn(), filter).await?;
    Ok(OrderStatus::ALL
        .into_iter()
        .map(|status| OrderStatusCount {
            status,
            count: by_status
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n),
        })
        .collect())
}

#[derive(Default)]
pub struct OrderMutation;

#[Object]
impl OrderMutation {
    /// Adds an address to the signed-in buyer's address book (at most 50).
    async fn create_address(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address.")] input: AddressInput,
    ) -> async_graphql::Result<AddressPayload> {
        let me = ctx.viewer().require_user()?;
        address_payload(addresses::create(ctx.app(), me.user_id, &input.draft()).await)
    }

    /// Replaces one of the signed-in buyer's addresses; orders already placed keep their copy.
    async fn update_address(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address to replace.")] id: ID,
        #[graphql(desc = "The new address.")] input: AddressInput,
    ) -> async_graphql::Result<AddressPayload> {
        let me = ctx.viewer().require_user()?;
        let key = ids::decode("Address", &id).unwrap_or(0);
        address_payload(addresses::update(ctx.app(), me.user_id, key, &input.draft()).await)
    }

    /// Deletes one of the signed-in buyer's addresses; orders already placed keep their copy.
    async fn delete_address(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address to delete.")] id: ID,
    ) -> async_graphql::Result<OrderDeletePayload> {
        let me = ctx.viewer().require_user()?;
        let key = ids::decode("Address", &id).unwrap_or(0);
        payload(
            addresses::delete(ctx.app(), me.user_id, key).await,
            |()| OrderDeletePayload {
                deleted_id: Some(id.clone()),
                user_errors: vec![],
            },
            |e| OrderDeletePayload {
                deleted_id: None,
                user_errors: e,
            },
        )
    }

    /// Adds units of a SKU to the cart (a SKU already there gets them added, up to 999).
    async fn add_to_cart(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The SKU to add.")] sku_id: ID,
        #[graphql(desc = "Units to add, 1–999.", default = 1)] quantity: i64,
    ) -> async_graphql::Result<CartPayload> {
        let me = ctx.viewer().require_user()?;
        let key = ids::decode("Sku", &sku_id).unwrap_or(0);
        let r = cart::add(ctx.app(), me.user_id, key, quantity).await;
        cart_payload(ctx, me.user_id, r.map(|_| ())).await
    }

    /// Sets how many units of a SKU in the cart are wanted.
    async fn update_cart_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The SKU in the cart.")] sku_id: ID,
        #[graphql(desc = "Units wanted, 1–999.")] quantity: i64,
    ) -> async_graphql::Result<CartPayload> {
        let me = ctx.viewer().require_user()?;
        let key = ids::decode("Sku", &sku_id).unwrap_or(0);
        let r = cart::set_quantity(ctx.app(), me.user_id, key, quantity).await;
        cart_payload(ctx, me.user_id, r.map(|_| ())).await
    }

    /// Removes SKUs from the cart; ids not in the cart are ignored.
    async fn remove_from_cart(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The SKUs to remove.")] sku_ids: Vec<ID>,
    ) -> async_graphql::Result<CartPayload> {
        let me = ctx.viewer().require_user()?;
        let keys: Vec<i64> = sku_ids
            .iter()
            .filter_map(|i| ids::decode("Sku", i).ok())
            .collect();
        let r = cart::remove(ctx.app(), me.user_id, &keys).await;
        cart_payload(ctx, me.user_id, r.map_err(ServiceError::App)).await
    }

    /// Selects or deselects items for checkout; without `skuIds`, every item.
    async fn select_cart_items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The SKUs to tick or untick; every item when omitted.")] sku_ids: Option<
            Vec<ID>,
        >,
        #[graphql(desc = "True ticks them for checkout, false unticks them.")] selected: bool,
    ) -> async_graphql::Result<CartPayload> {
        let me = ctx.viewer().require_user()?;
        let keys: Option<Vec<i64>> = sku_ids.map(|v| {
            v.iter()
                .filter_map(|i| ids::decode("Sku", i).ok())
                .collect()
        });
        let r = cart::select(ctx.app(), me.user_id, keys.as_deref(), selected).await;
        cart_payload(ctx, me.user_id, r.map_err(ServiceError::App)).await
    }

    /// Places an order: validates, reserves stock and records the order in one transaction.
    /// Unpaid orders are cancelled after the payment timeout.
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The checkout and an idempotency key.")] input: PlaceOrderInput,
    ) -> async_graphql::Result<OrderPayload> {
        let me = ctx.viewer().require_user()?;
        let req = input.checkout.request()?;
        order_payload(
            placement::place_order(ctx.app(), me.user_id, &req, &input.idempotency_key).await,
        )
    }

    /// Cancels the caller's unpaid order and releases its stock.
    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, `SUBMITTED` and the caller's own.")] id: ID,
        #[graphql(desc = "Why, up to 200 characters kept.")] reason: Option<String>,
    ) -> async_graphql::Result<OrderPayload> {
        let me = ctx.viewer().require_user()?;
        let key = ids::decode("Order", &id).unwrap_or(0);
        order_payload(
            lifecycle::cancel_by_buyer(ctx.app(), me.user_id, key, reason.as_deref()).await,
        )
    }

    /// Starts paying the caller's order with a provider; `payment.clientParameters` is what
    /// the mini-program passes to the provider's SDK. The `DEV` provider completes at once
    /// (not in production).
    async fn create_payment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The caller's order, `SUBMITTED` and not expired.")] order_id: ID,
        #[graphql(desc = "Who takes the money.")] provider: ProviderKind,
    ) -> async_graphql::Result<PaymentPayload> {
        let me = ctx.viewer().require_user()?;
        let key = ids::decode("Order", &order_id).unwrap_or(0);
        let app = ctx.app();
        match payments::create_payment(app, me.user_id, key, provider).await {
            Ok(p) => {
                let o = entity::order::Entity::find_by_id(p.order_id)
                    .one(app.db.conn())
                    .await?;
                Ok(PaymentPayload {
                    payment: Some(Payment(p)),
                    order: o.map(|o| Order(Arc::new(o))),
                    user_errors: vec![],
                })
            }
            Err(ServiceError::User(e)) => Ok(PaymentPayload {
                payment: None,
                order: None,
                user_errors: e,
            }),
            Err(ServiceError::App(e)) => Err(e.into()),
        }
    }

    /// Creates a shipping template (staff with ORDERS).
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn create_shipping_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template.")] input: ShippingTemplateInput,
    ) -> async_graphql::Result<ShippingTemplatePayload> {
        let draft = TemplateDraft {
            name: input.name,
            rules: input.rules,
            is_default: input.is_default,
        };
        template_payload(shipping_templates::save(ctx.app(), None, &draft).await)
    }

    /// Replaces a shipping template; orders already placed keep what they were charged (staff
    /// with ORDERS).
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn update_shipping_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template to replace.")] id: ID,
        #[graphql(desc = "The new template.")] input: ShippingTemplateInput,
    ) -> async_graphql::Result<ShippingTemplatePayload> {
        let key = ids::decode("ShippingTemplate", &id).unwrap_or(0);
        let draft = TemplateDraft {
            name: input.name,
            rules: input.rules,
            is_default: input.is_default,
        };
        template_payload(shipping_templates::save(ctx.app(), Some(key), &draft).await)
    }

    /// Deletes a shipping template; deleting the default makes shipping free (staff with
    /// ORDERS).
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn delete_shipping_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template to delete.")] id: ID,
    ) -> async_graphql::Result<OrderDeletePayload> {
        let key = ids::decode("ShippingTemplate", &id).unwrap_or(0);
        payload(
            shipping_templates::delete(ctx.app(), key).await,
            |()| OrderDeletePayload {
                deleted_id: Some(id.clone()),
                user_errors: vec![],
            },
            |e| OrderDeletePayload {
                deleted_id: None,
                user_errors: e,
            },
        )
    }
}

fn address_payload(
    r: Result<entity::address::Model, ServiceError<Vec<OrderError>>>,
) -> async_graphql::Result<AddressPayload> {
    payload(
        r,
        |a| AddressPayload {
            address: Some(Address(a)),
            user_errors: vec![],
        },
        |e| AddressPayload {
            address: None,
            user_errors: e,
        },
    )
}

fn template_payload(
    r: Result<entity::shipping_template::Model, ServiceError<Vec<OrderError>>>,
) -> async_graphql::Result<ShippingTemplatePayload> {
    payload(
        r,
        |t| ShippingTemplatePayload {
            template: Some(t.into()),
            user_errors: vec![],
        },
        |e| ShippingTemplatePayload {
            template: None,
            user_errors: e,
        },
    )
}

/// A status change pushed live.
pub struct OrderStatusEvent {
    event: Arc<events::Event>,
}

/// A status change of an order, pushed live (also sent when an order is placed, with no
/// `fromStatus`).
#[Object]
impl OrderStatusEvent {
    /// Pass as `after` to resume from here.
    async fn event_id(&self) -> String {
        self.event.id.to_string()
    }
    /// The order's global id.
    async fn order_id(&self) -> ID {
        ids::encode("Order", self.event.aggregate_id)
    }
    /// The order number.
    async fn order_no(&self) -> Option<&str> {
        self.event.payload["orderNo"].as_str()
    }
    /// Null when the order was just placed.
    async fn from_status(&self) -> Option<OrderStatus> {
        self.event.payload["from"]
            .as_str()
            .and_then(OrderStatus::parse)
    }
    /// The status the order moved to.
    async fn to_status(&self) -> Option<OrderStatus> {
        self.event.payload["to"]
            .as_str()
            .and_then(OrderStatus::parse)
    }
    /// When the change happened.
    async fn at(&self) -> DateTime {
        DateTime(self.event.created_at)
    }
    /// The order as it is now (read when asked for); null if you may no longer read it.
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Order>> {
        Ok(entity::order::Entity::find_by_id(self.event.aggregate_id)
            .one(ctx.app().db.conn())
            .await?
            .filter(|o| can_read(ctx.viewer(), o))
            .map(|o| Order(Arc::new(o))))
    }
}

#[derive(Default)]
pub struct OrderSubscription;

type EventStream =
    std::pin::Pin<Box<dyn Stream<Item = async_graphql::Result<OrderStatusEvent>> + Send + 'static>>;

/// `involving`: only events of orders this user bought or earns from (a distributor's view;
/// the outbox has one recipient per event, the buyer, so this is checked on the payload).
fn status_stream(
    ctx: &Context<'_>,
    filter: EventFilter,
    after: Option<String>,
    only_new: bool,
    involving: Option<i64>,
) -> async_graphql::Result<EventStream> {
    let after = events::parse_event_id(after.as_deref())?;
    let stream = crate::graphql::live::subscribe(ctx, filter, after);
    Ok(Box::pin(stream.filter_map(move |item| async move {
        match item {
            Ok(event) if only_new && !event.payload["from"].is_null() => None,
            Ok(event)
                if involving.is_some_and(|me| {
                    event.payload["buyerId"].as_i64() != Some(me)
                        && event.payload["distributorId"].as_i64() != Some(me)
                }) =>
            {
                None
            }
            Ok(event) => Some(Ok(OrderStatusEvent { event })),
            Err(e) => Some(Err(e.into())),
        }
    })))
}

#[Subscription]
impl OrderSubscription {
    /// Status changes of one order, or of all the caller may follow: a buyer their own orders,
    /// a distributor also the orders attributed to them, staff with ORDERS every order. Every
    /// change arrives once, in order; resumable with `after` (the last `eventId` seen).
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Follow only this order (one you may read); every order you may follow when omitted."
        )]
        order_id: Option<ID>,
        #[graphql(
            desc = "The `eventId` of the last event you received: what came after it is delivered first, once. Omit it to receive only new events."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<EventStream> {
        let me = ctx.viewer().require_user()?;
        let staff = me.has(Permission::Orders);
        let aggregate_id = match &order_id {
            None => None,
            Some(id) => {
                let key = ids::decode("Order", id)?;
                let o = entity::order::Entity::find_by_id(key)
                    .one(ctx.app().db.conn())
                    .await?;
                if !o.is_some_and(|o| can_read(ctx.viewer(), &o)) {
                    return Err(AppError::not_found("Order").into());
                }
                Some(key)
            }
        };
        // Buyers' events are found by recipient in the outbox; a distributor's by payload.
        let distributor = !staff && me.is_distributor;
        let filter = EventFilter {
            event_types: &[EVENT_STATUS_CHANGED],
            recipient_user_id: (!staff && !distributor).then_some(me.user_id),
            aggregate_id,
        };
        status_stream(ctx, filter, after, false, distributor.then_some(me.user_id))
    }

    /// Every new order as it is placed (staff with ORDERS).
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn order_created(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The `eventId` of the last event you received: what came after it is delivered first, once. Omit it to receive only new events."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<EventStream> {
        let filter = EventFilter {
            event_types: &[EVENT_STATUS_CHANGED],
            recipient_user_id: None,
            aggregate_id: None,
        };
        status_stream(ctx, filter, after, true, None)
    }
}
