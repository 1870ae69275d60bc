//! After-sales over GraphQL: the buyer's request, staff decisions, the staff queue.
use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use entity::refund;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    errors::OrderError,
    refund_rules::{RefundKind, RefundStatus},
    refunds::{self, RefundLineRequest, RefundRequest, Requester},
    types::{Order, Refund},
};
use crate::{
    auth::{Permission, PermissionGuard},
    error::ServiceError,
    graphql::{
        context::CtxExt,
        ids,
        relay::{self, Page, Window},
    },
};

/// Units of one order line to refund.
#[derive(InputObject)]
pub struct RefundLineInput {
    /// A line of the order.
    order_line_id: ID,
    /// Units, at most those not yet refunded.
    quantity: i64,
}

/// A refund or return request.
#[derive(InputObject)]
pub struct RequestRefundInput {
    /// The order: paid and not finished (staff may also name a completed order).
    order_id: ID,
    /// Money only, or goods back first (a return needs something shipped).
    kind: RefundKind,
    /// Which units; absent for everything not refunded yet.
    lines: Option<Vec<RefundLineInput>>,
    /// Why, 1–200 characters.
    reason: String,
    /// URLs of uploaded photos (at most 9).
    #[graphql(default)]
    photos: Vec<String>,
}

impl RequestRefundInput {
    fn into_request(self) -> RefundRequest {
        RefundRequest {
            order_id: ids::decode("Order", &self.order_id).unwrap_or(0),
            kind: self.kind,
            lines: self.lines.map(|lines| {
                lines
                    .into_iter()
                    .map(|l| RefundLineRequest {
                        order_line_id: ids::decode("OrderLine", &l.order_line_id).unwrap_or(0),
                        quantity: l.quantity,
                    })
                    .collect()
            }),
            reason: self.reason,
            photos: self.photos,
        }
    }
}

/// The result of a refund mutation.
#[derive(SimpleObject)]
pub struct RefundPayload {
    /// The request as it is now; null when refused.
    refund: Option<Refund>,
    /// The order as it is after the change.
    order: Option<Order>,
    /// Why it was refused (nothing changed); empty on success. A provider that refuses the
    /// money is not a refusal here: the request becomes `FAILED` and can be retried.
    user_errors: Vec<OrderError>,
}

async fn refund_payload(
    ctx: &Context<'_>,
    r: Result<refund::Model, ServiceError<Vec<OrderError>>>,
) -> async_graphql::Result<RefundPayload> {
    match r {
        Ok(r) => {
            let order = entity::order::Entity::find_by_id(r.order_id)
                .one(ctx.app().db.conn())
                .await?;
            Ok(RefundPayload {
                refund: Some(Refund(r)),
                order: order.map(|o| Order(Arc::new(o))),
                user_errors: vec![],
            })
        }
        Err(ServiceError::User(e)) => Ok(RefundPayload {
            refund: None,
            order: None,
            user_errors: e,
        }),
        Err(ServiceError::App(e)) => Err(e.into()),
    }
}

#[derive(Default)]
pub struct RefundQuery;

#[Object]
impl RefundQuery {
    /// Refund and return requests, newest first (staff with ORDERS).
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn refunds(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only requests in any of these statuses; every request when omitted.")]
        statuses: Option<Vec<RefundStatus>>,
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
    ) -> async_graphql::Result<Page<Refund>> {
        let mut select = refund::Entity::find();
        if let Some(s) = statuses.filter(|s| !s.is_empty()) {
            select = select.filter(refund::Column::Status.is_in(s.iter().map(|x| x.as_str())));
        }
        Ok(relay::paginate(
            ctx.app().db.conn(),
            select,
            refund::Column::Id,
            |r| r.id,
            true,
            Window::new(first, after, last, before)?,
            Refund,
        )
        .await?)
    }
}

#[derive(Default)]
pub struct RefundMutation;

fn refund_key(id: &ID) -> i64 {
    ids::decode("Refund", id).unwrap_or(0)
}

#[Object]
impl RefundMutation {
    /// The buyer asks for a refund, or a return of shipped goods, of the whole order or some
    /// units; the order is `REFUNDING` until staff decide.
    async fn request_refund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The caller's order, what to refund and why.")] input: RequestRefundInput,
    ) -> async_graphql::Result<RefundPayload> {
        let me = ctx.viewer().require_user()?;
        let req = input.into_request();
        refund_payload(
            ctx,
            refunds::request(ctx.app(), Requester::Buyer(me.user_id), &req).await,
        )
        .await
    }

    /// Order staff open a refund or return for the buyer — also for a completed order, to
    /// honour a claim after the after-sales window. It is decided like any other. Staff with
    /// ORDERS.
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn open_refund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, what to refund and why.")] input: RequestRefundInput,
    ) -> async_graphql::Result<RefundPayload> {
        let me = ctx.viewer().require_user()?;
        let req = input.into_request();
        refund_payload(
            ctx,
            refunds::request(ctx.app(), Requester::Staff(me.user_id), &req).await,
        )
        .await
    }

    /// Approves a request. A refund-only request pays out at once; a return waits for
    /// `receiveReturn`. Staff with ORDERS.
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn approve_refund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The request, `REQUESTED`.")] id: ID,
    ) -> async_graphql::Result<RefundPayload> {
        let me = ctx.viewer().require_user()?;
        refund_payload(
            ctx,
            refunds::approve(ctx.app(), me.user_id, refund_key(&id)).await,
        )
        .await
    }

    /// Rejects a request with a reason for the buyer; the order returns to where it was.
    /// Staff with ORDERS.
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn reject_refund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The request, `REQUESTED`.")] id: ID,
        #[graphql(desc = "What the buyer is told, 1–200 characters.")] reason: String,
    ) -> async_graphql::Result<RefundPayload> {
        let me = ctx.viewer().require_user()?;
        refund_payload(
            ctx,
            refunds::reject_request(ctx.app(), me.user_id, refund_key(&id), &reason).await,
        )
        .await
    }

    /// The returned goods arrived: they go back into stock (unless `restock` is false), then
    /// the money goes back. Staff with ORDERS.
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn receive_return(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The return, `APPROVED`.")] id: ID,
        #[graphql(
            desc = "Put the returned units back into stock (a RETURNED movement); false for damaged goods.",
            default = true
        )]
        restock: bool,
    ) -> async_graphql::Result<RefundPayload> {
        let me = ctx.viewer().require_user()?;
        refund_payload(
            ctx,
            refunds::receive_return(ctx.app(), me.user_id, refund_key(&id), restock).await,
        )
        .await
    }

    /// Tries the payment provider again after a failed refund (staff with ORDERS).
    #[graphql(guard = "PermissionGuard(Permission::Orders)")]
    async fn retry_refund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The request, `FAILED`.")] id: ID,
    ) -> async_graphql::Result<RefundPayload> {
        let me = ctx.viewer().require_user()?;
        refund_payload(
            ctx,
            refunds::retry(ctx.app(), me.user_id, refund_key(&id)).await,
        )
        .await
    }
}
