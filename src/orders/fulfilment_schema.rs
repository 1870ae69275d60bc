//! The GraphQL face of fulfilment: staff approve, ship and correct orders; the buyer confirms
//! receipt; parcels with their tracking timeline hang off `Order.shipments` (so they are read
//! by exactly who may read the order).
use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Lookahead, Object, SimpleObject};
use entity::{order_line, shipment, tracking_event};

use super::{
    addresses::AddressDraft,
    errors::OrderError,
    fulfilment::{self, CARRIERS, ShipLine, ShipRequest, ShipmentStatus, carrier_name},
    schema::{OrderPayload, order_payload},
    types::{Order, OrderLine},
};
use crate::{
    auth::{Permission, PermissionGuard},
    error::{AppError, ServiceError},
    graphql::{context::CtxExt, ids, loaders::Loaders, scalars::DateTime},
};

/// Loads the parcels of a page of orders, and what the query asks of them, in one batch each
/// before the orders resolve (see `schema::prefetch`): nested loads issued by many resolvers
/// could otherwise fall into separate batches.
pub(super) async fn prefetch_shipments(
    loaders: &Loaders,
    node: &Lookahead<'_>,
    order_ids: &[i64],
) -> Result<(), AppError> {
    let parcels = node.field("shipments");
    if !parcels.exists() && !node.field("shippingStatus").exists() {
        return Ok(());
    }
    let loaded = loaders
        .order_shipments
        .load_many(order_ids.iter().copied())
        .await?;
    let shipment_ids: Vec<i64> = loaded
        .values()
        .flat_map(|v| v.iter().map(|s| s.id))
        .collect();
    if parcels.field("lines").exists() || node.field("shippingStatus").exists() {
        loaders
            .order_lines
            .load_many(order_ids.iter().copied())
            .await?;
    }
    if parcels.field("lines").exists() {
        loaders
            .shipment_lines
            .load_many(shipment_ids.iter().copied())
            .await?;
    }
    if parcels.field("events").exists() {
        loaders.tracking_events.load_many(shipment_ids).await?;
    }
    Ok(())
}

/// A parcel of an order.
pub struct Shipment(pub shipment::Model);

/// A parcel of an order, with its contents and the carrier's tracking timeline. Visible to
/// whoever may read the order.
#[Object]
impl Shipment {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("Shipment", self.0.id)
    }
    /// Kuaidi100 carrier code, such as `shunfeng`.
    async fn carrier(&self) -> &str {
        &self.0.carrier
    }
    /// The carrier's name when it is one of `carriers`.
    async fn carrier_name(&self) -> Option<&'static str> {
        carrier_name(&self.0.carrier)
    }
    /// The carrier's tracking number (letters, digits and dashes, upper case).
    async fn tracking_no(&self) -> &str {
        &self.0.tracking_no
    }
    /// How far the parcel is, as the carrier reported it (it only moves forward).
    async fn status(&self) -> ShipmentStatus {
        ShipmentStatus::of(&self.0)
    }
    /// When staff shipped it.
    async fn shipped_at(&self) -> DateTime {
        DateTime(self.0.shipped_at)
    }
    /// When the carrier reported it signed for; null until then.
    async fn delivered_at(&self) -> Option<DateTime> {
        self.0.delivered_at.map(DateTime)
    }
    /// When the carrier last pushed or was asked about it; null when never.
    async fn last_tracked_at(&self) -> Option<DateTime> {
        self.0.last_tracked_at.map(DateTime)
    }
    /// What the parcel holds.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ShipmentLine>> {
        let loaders = ctx.loaders();
        let (held, order_lines) = futures::try_join!(
            loaders.shipment_lines.load_one(self.0.id),
            loaders.order_lines.load_one(self.0.order_id),
        )?;
        let order_lines = order_lines.unwrap_or_default();
        Ok(held
            .unwrap_or_default()
            .iter()
            .map(|h| ShipmentLine {
                line: order_lines
                    .iter()
                    .find(|l| l.id == h.order_line_id)
                    .cloned(),
                quantity: h.quantity,
            })
            .collect())
    }
    /// The carrier's scans, newest first.
    async fn events(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TrackingEvent>> {
        let mut events: Vec<tracking_event::Model> = ctx
            .loaders()
            .tracking_events
            .load_one(self.0.id)
            .await?
            .map(|v| v.to_vec())
            .unwrap_or_default();
        events.sort_by_key(|e| std::cmp::Reverse((e.occurred_at, e.id)));
        Ok(events.into_iter().map(TrackingEvent).collect())
    }
}

/// Units of one order line in a parcel.
pub struct ShipmentLine {
    line: Option<order_line::Model>,
    quantity: i64,
}

/// Units of one order line in a parcel.
#[Object]
impl ShipmentLine {
    /// The order line; null if it no longer exists.
    async fn order_line(&self) -> Option<OrderLine> {
        self.line.clone().map(OrderLine)
    }
    /// Units of it in this parcel.
    async fn quantity(&self) -> i64 {
        self.quantity
    }
}

/// One scan of a parcel, as the carrier reported it.
pub struct TrackingEvent(pub tracking_event::Model);

/// One scan of a parcel, as the carrier reported it.
#[Object]
impl TrackingEvent {
    /// When the scan happened (the carrier's Beijing time, converted to UTC).
    async fn occurred_at(&self) -> DateTime {
        DateTime(self.0.occurred_at)
    }
    /// The carrier's words (`【杭州市】快件已签收`).
    async fn context(&self) -> &str {
        &self.0.context
    }
    /// Kuaidi100's state code when given: `1` 揽收, `0` 在途, `5` 派件, `3` 签收, `2` 疑难,
    /// `4` 退签, `6` 退回, `14` 拒签 (and their finer three- and four-digit codes).
    async fn state(&self) -> Option<&str> {
        self.0.state.as_deref()
    }
    /// Where the scan happened, when the carrier says (e.g. 浙江省杭州市); null otherwise.
    async fn area(&self) -> Option<&str> {
        self.0.area.as_deref()
    }
}

/// A carrier the shop can ship with.
#[derive(SimpleObject)]
pub struct Carrier {
    /// Kuaidi100 code, what `shipOrder` takes.
    code: &'static str,
    /// The carrier's Chinese name, e.g. 顺丰速运.
    name: &'static str,
}

/// Units of one order line to put in a parcel.
#[derive(InputObject)]
pub struct ShipLineInput {
    /// A line of the order being shipped.
    order_line_id: ID,
    /// Units, at most what is left to ship of the line (neither shipped nor refunded).
    quantity: i64,
}

/// A parcel to ship. Without `lines`, everything not yet shipped (nor refunded).
#[derive(InputObject)]
pub struct ShipOrderInput {
    /// The order to ship.
    order_id: ID,
    /// Kuaidi100 carrier code (see `carriers`).
    carrier: String,
    /// The carrier's tracking number: letters, digits and dashes, up to 64; not on another
    /// parcel of the same carrier.
    tracking_no: String,
    /// What the parcel holds; everything not yet shipped nor refunded when omitted.
    lines: Option<Vec<ShipLineInput>>,
}

/// Where an order goes instead.
#[derive(InputObject)]
pub struct ShippingAddressInput {
    /// Who receives the parcel, 1–32 characters.
    recipient: String,
    /// The recipient's 11-digit mainland mobile number.
    phone: String,
    /// Province (省), 1–32 characters.
    province: String,
    /// City (市), 1–32 characters.
    city: String,
    /// District (区/县), 1–32 characters.
    district: String,
    /// Street, building and room, 1–200 characters.
    detail: String,
}

/// The result of `shipOrder`.
#[derive(SimpleObject)]
pub struct ShipOrderPayload {
    /// The order as it is now; null when refused.
    order: Option<Order>,
    /// The new parcel; null when refused.
    shipment: Option<Shipment>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<OrderError>,
}

#[derive(Default)]
pub struct FulfilmentQuery;

#[Object]
impl FulfilmentQuery {
    /// Common carriers and their Kuaidi100 codes. Public.
    async fn carriers(&self) -> Vec<Carrier> {
        CARRIERS
            .iter()
            .map(|(code, name)| Carrier { code, name })
            .collect()
    }
}

fn order_key(id: &ID) -> i64 {
    // An id that names nothing matches no order (id 0 never exists).
    ids::decode("Order", id).unwrap_or(0)
}

#[derive(Default)]
pub struct FulfilmentMutation;

#[Object]
impl FulfilmentMutation {
    /// 审核: accepts a paid order for shipping (PAID → APPROVED). The note goes into the history.
    /// Staff with ORDERS.
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn approve_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, `PAID`.")] id: ID,
        #[graphql(
            desc = "Why or what was checked, up to 500 characters; recorded in the history."
        )]
        note: Option<String>,
    ) -> async_graphql::Result<OrderPayload> {
        let me = ctx.viewer().require_user()?;
        order_payload(
            fulfilment::approve(ctx.app(), me.user_id, order_key(&id), note.as_deref()).await,
        )
    }

    /// Ships a parcel: the first moves the order APPROVED → SHIPPED; more may follow while the
    /// order is SHIPPED or IN_TRANSIT and something is left to ship. Staff with ORDERS.
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn ship_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, the carrier, the tracking number and the contents.")]
        input: ShipOrderInput,
    ) -> async_graphql::Result<ShipOrderPayload> {
        let me = ctx.viewer().require_user()?;
        let req = ShipRequest {
            order_id: order_key(&input.order_id),
            carrier: input.carrier,
            tracking_no: input.tracking_no,
            lines: input.lines.map(|lines| {
                lines
                    .iter()
                    .map(|l| ShipLine {
                        order_line_id: ids::decode("OrderLine", &l.order_line_id).unwrap_or(0),
                        quantity: l.quantity,
                    })
                    .collect()
            }),
        };
        match fulfilment::ship(ctx.app(), me.user_id, &req).await {
            Ok((o, s)) => Ok(ShipOrderPayload {
                order: Some(Order(Arc::new(o))),
                shipment: Some(Shipment(s)),
                user_errors: vec![],
            }),
            Err(ServiceError::User(e)) => Ok(ShipOrderPayload {
                order: None,
                shipment: None,
                user_errors: e,
            }),
            Err(ServiceError::App(e)) => Err(e.into()),
        }
    }

    /// Changes where an order goes, until it ships (SUBMITTED, PAID or APPROVED). The old and
    /// new address are noted in the history. Staff with ORDERS.
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn change_shipping_address(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, not yet shipped.")] order_id: ID,
        #[graphql(desc = "The new address.")] input: ShippingAddressInput,
    ) -> async_graphql::Result<OrderPayload> {
        let me = ctx.viewer().require_user()?;
        let draft = AddressDraft {
            recipient: input.recipient,
            phone: input.phone,
            province: input.province,
            city: input.city,
            district: input.district,
            detail: input.detail,
            postal_code: None,
            is_default: false,
        };
        order_payload(
            fulfilment::change_address(ctx.app(), me.user_id, order_key(&order_id), &draft).await,
        )
    }

    /// Replaces the internal note only staff see; an empty note clears it. Possible in any
    /// status. Staff with ORDERS.
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn set_staff_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order.")] order_id: ID,
        #[graphql(desc = "Up to 1,000 characters; empty or null clears the note.")] note: Option<
            String,
        >,
    ) -> async_graphql::Result<OrderPayload> {
        order_payload(
            fulfilment::set_staff_note(ctx.app(), order_key(&order_id), note.as_deref()).await,
        )
    }

    /// 确认收货: the buyer says their shipped order arrived (SHIPPED or IN_TRANSIT →
    /// DELIVERED). Orders not confirmed are received automatically after
    /// `order_auto_receive_days`.
    async fn confirm_receipt(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The caller's own order, `SHIPPED` or `IN_TRANSIT`.")] order_id: ID,
    ) -> async_graphql::Result<OrderPayload> {
        let me = ctx.viewer().require_user()?;
        order_payload(
            fulfilment::confirm_receipt(ctx.app(), me.user_id, order_key(&order_id)).await,
        )
    }
}
