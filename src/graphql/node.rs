//! The Relay `Node` interface: any object with a global id can be fetched by `node(id:)`, subject
//! to the same authorization as everywhere else (an object you may not see is `null`).
use std::sync::Arc;

use async_graphql::{Context, ID, Interface, Object};
use entity::notification;
use sea_orm::EntityTrait;

use super::{context::CtxExt, ids};
use crate::{
    accounts::User,
    catalog::types::{Brand, Category, Product, Sku, visible},
    distribution::types::{
        Commission, Distributor, TeamMember, Withdrawal, can_read_commission, can_read_distributor,
        can_read_team_member, can_read_withdrawal,
    },
    error::AppError,
    notifications::Notification,
    orders::types::{Order, can_read},
};

/// An object with an opaque global id, fetchable with `node(id:)` / `nodes(ids:)` under the same
/// authorization as everywhere else (ARCHITECTURE.md §4.1).
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    User(User),
    Notification(Notification),
    Product(Product),
    Sku(Sku),
    Category(Category),
    Brand(Brand),
    Order(Order),
    Distributor(Distributor),
    TeamMember(TeamMember),
    Commission(Commission),
    Withdrawal(Withdrawal),
}

/// Most ids `nodes` accepts at once.
const MAX_NODES: usize = 100;

async fn resolve(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>, AppError> {
    let Some((type_name, key)) = ids::decode_any(id.as_str()) else {
        return Ok(None);
    };
    // Catalog objects are public (products only while on sale).
    match type_name.as_str() {
        "Product" => {
            let p = ctx.loaders().product(key).await?;
            return Ok(p
                .filter(|p| visible(ctx.viewer(), p))
                .map(|p| Node::Product(Product(p))));
        }
        "Sku" => {
            let Some(s) = ctx.loaders().skus.load_one(key).await? else {
                return Ok(None);
            };
            let p = ctx.loaders().product(s.product_id).await?;
            return Ok(p
                .filter(|p| visible(ctx.viewer(), p))
                .map(|_| Node::Sku(Sku::new(s))));
        }
        "Category" => {
            let all = ctx.loaders().categories().await?;
            return Ok(all
                .iter()
                .find(|c| c.id == key)
                .map(|c| Node::Category(Category(Arc::new(c.clone())))));
        }
        "Brand" => {
            return Ok(ctx
                .loaders()
                .brand(key)
                .await?
                .map(|b| Node::Brand(Brand(Arc::new(b)))));
        }
        _ => {}
    }
    let Some(principal) = ctx.viewer().principal() else {
        return Ok(None);
    };
    match type_name.as_str() {
        "User" => {
            if principal.user_id != key && !principal.is_staff {
                return Ok(None);
            }
            Ok(ctx
                .loaders()
                .users
                .load_one(key)
                .await?
                .map(|u| Node::User(User::from_model(u))))
        }
        "Order" => Ok(ctx
            .loaders()
            .orders
            .load_one(key)
            .await?
            .filter(|o| can_read(ctx.viewer(), o))
            .map(|o| Node::Order(Order(o)))),
        "Distributor" => Ok(ctx
            .loaders()
            .distributors
            .load_one(key)
            .await?
            .filter(|d| can_read_distributor(ctx.viewer(), d.user_id))
            .map(|d| Node::Distributor(Distributor((*d).clone())))),
        "TeamMember" => {
            if !can_read_team_member(ctx.app().db.conn(), ctx.viewer(), key).await? {
                return Ok(None);
            }
            Ok(ctx
                .loaders()
                .distributors
                .load_one(key)
                .await?
                .map(|d| Node::TeamMember(TeamMember(d))))
        }
        "Commission" => Ok(entity::commission::Entity::find_by_id(key)
            .one(ctx.app().db.conn())
            .await?
            .filter(|c| can_read_commission(ctx.viewer(), c))
            .map(|c| Node::Commission(Commission(c)))),
        "Withdrawal" => Ok(entity::withdrawal::Entity::find_by_id(key)
            .one(ctx.app().db.conn())
            .await?
            .filter(|w| can_read_withdrawal(ctx.viewer(), w))
            .map(|w| Node::Withdrawal(Withdrawal(w)))),
        "Notification" => {
            let n = notification::Entity::find_by_id(key)
                .one(ctx.app().db.conn())
                .await?;
            Ok(n.filter(|n| n.user_id == principal.user_id)
                .map(|n| Node::Notification(Notification(Arc::new(n)))))
        }
        _ => Ok(None),
    }
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global id; null when it does not exist or you may not see it.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id as returned in any object's `id` field.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        Ok(resolve(ctx, &id).await?)
    }

    /// Fetches up to 100 objects by global id, in the order given; each entry is null when that
    /// object does not exist or you may not see it. More than 100 ids is `BAD_USER_INPUT`.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Up to 100 global ids; the answer has one entry per id, in the same order."
        )]
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(AppError::bad_input(format!("at most {MAX_NODES} ids at once")).into());
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            out.push(resolve(ctx, id).await?);
        }
        Ok(out)
    }
}
