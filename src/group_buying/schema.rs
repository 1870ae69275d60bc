//! The group-buying area's GraphQL face: staff creating and ending campaigns, distributors (or
//! consumers) launching groups, the share page's group with its members and the live
//! `groupBuyChanged` subscription. Joining is `placeOrder` with `checkout.groupBuy`.
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject, Subscription};
use chrono::Utc;
use entity::{group_buy_campaign, group_buy_group, group_buy_member};
use futures::{Stream, StreamExt};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    errors::{GroupBuyError, GroupBuyErrorCode as Code},
    rules::{CampaignStatus, CampaignTerms, GroupStatus, MemberStatus},
    service::{self, CampaignDraft, EVENT_GROUP_CHANGED},
};
use crate::{
    auth::{Permission, PermissionGuard},
    error::ServiceError,
    events::{self, EventFilter},
    graphql::{
        context::CtxExt,
        errors::payload,
        ids,
        scalars::{DateTime, Money},
    },
    money,
    orders::types::{mask_name, yuan},
};

/// A group-buying campaign (拼团活动).
pub struct GroupBuyCampaign(pub group_buy_campaign::Model);

/// A SKU of a campaign at its group price.
#[derive(SimpleObject)]
pub struct GroupBuySku {
    /// The SKU (`Sku`).
    sku_id: ID,
    /// What a group member pays per unit, in yuan.
    group_price: Money,
}

/// A group-buying campaign (拼团活动): a product's SKUs at a group price, for groups of a size
/// that must fill within a time limit. Anyone may read it.
#[Object]
impl GroupBuyCampaign {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("GroupBuyCampaign", self.0.id)
    }
    /// What buyers are shown, e.g. "3人团 · 爆款T恤".
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The product (`Product`).
    async fn product_id(&self) -> ID {
        ids::encode("Product", self.0.product_id)
    }
    /// The SKUs in the campaign and their group prices.
    async fn skus(&self, ctx: &Context<'_>) -> Result<Vec<GroupBuySku>> {
        let prices = service::group_prices(ctx.app().db.conn(), self.0.id).await?;
        let mut skus: Vec<(i64, i64)> = prices.into_iter().collect();
        skus.sort_unstable();
        Ok(skus
            .into_iter()
            .map(|(sku, price)| GroupBuySku {
                sku_id: ids::encode("Sku", sku),
                group_price: yuan(price),
            })
            .collect())
    }
    /// Members a group needs to succeed (2–100).
    async fn group_size(&self) -> i32 {
        self.0.group_size
    }
    /// Hours a group has to fill from its launch.
    async fn time_limit_hours(&self) -> i32 {
        self.0.time_limit_hours
    }
    /// When groups may first be launched.
    async fn starts_at(&self) -> DateTime {
        self.0.starts_at.into()
    }
    /// When groups may last be launched (groups launched before fill until their deadlines).
    async fn ends_at(&self) -> DateTime {
        self.0.ends_at.into()
    }
    /// Group orders one buyer may hold in the campaign at once.
    async fn per_user_limit(&self) -> i32 {
        self.0.per_user_limit
    }
    /// Whether distributors may launch groups.
    async fn distributors_may_launch(&self) -> bool {
        self.0.distributors_may_launch
    }
    /// Whether consumers (not distributors) may launch groups.
    async fn consumers_may_launch(&self) -> bool {
        self.0.consumers_may_launch
    }
    /// 虚拟成团: a group with at least this many paid members succeeds at its deadline; null
    /// when a group needs every place paid.
    async fn auto_complete_min(&self) -> Option<i32> {
        self.0.auto_complete_min
    }
    /// Taken off the leader's own group order, in yuan (0.00: none).
    async fn leader_discount(&self) -> Money {
        yuan(self.0.leader_discount_fen)
    }
    /// Where the campaign is now.
    async fn status(&self) -> CampaignStatus {
        service::campaign_status(&self.0, Utc::now())
    }
}

/// A group (团): its places, deadline and members, as the share page shows them.
pub struct GroupBuy(pub group_buy_group::Model);

/// A member of a group, as anyone may see them.
#[derive(SimpleObject)]
pub struct GroupBuyMember {
    /// The nickname, masked (`张*`).
    name: String,
    /// The avatar's URL; null when the member has none.
    avatar_url: Option<String>,
    /// Where the member's order is in the group.
    status: MemberStatus,
    /// Whether this member launched the group.
    is_leader: bool,
    /// When the member's order took its place.
    joined_at: DateTime,
}

/// A group (团) launched from a campaign, as its share page shows it to anyone: places, deadline,
/// status and members with masked names.
#[Object]
impl GroupBuy {
    /// Opaque global id; put it in the share link (`placeOrder` joins with it).
    async fn id(&self) -> ID {
        ids::encode("GroupBuy", self.0.id)
    }
    /// The campaign it belongs to.
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Option<GroupBuyCampaign>> {
        Ok(service::campaign(ctx.app().db.conn(), self.0.campaign_id)
            .await?
            .map(GroupBuyCampaign))
    }
    /// Where the group is in its life.
    async fn status(&self) -> GroupStatus {
        GroupStatus::parse(&self.0.status).unwrap_or(GroupStatus::Open)
    }
    /// Members it needs.
    async fn size(&self) -> i32 {
        self.0.size
    }
    /// Places not taken by any order (an unpaid order holds its place until its payment
    /// timeout).
    async fn places_left(&self) -> i32 {
        (self.0.size - self.0.taken).max(0)
    }
    /// Members who paid.
    async fn paid_members(&self) -> i32 {
        self.0.paid
    }
    /// When an open group fails if it is still short of members.
    async fn deadline(&self) -> DateTime {
        self.0.deadline.into()
    }
    /// When it succeeded or failed; null while open.
    async fn closed_at(&self) -> Option<DateTime> {
        self.0.closed_at.map(Into::into)
    }
    /// Whether a distributor launched it (its orders are credited to them).
    async fn launched_by_distributor(&self) -> bool {
        self.0.distributor_user_id.is_some()
    }
    /// The members holding a place (unpaid or paid) and those refunded, first joined first.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<GroupBuyMember>> {
        let conn = ctx.app().db.conn();
        let rows = group_buy_member::Entity::find()
            .filter(group_buy_member::Column::GroupId.eq(self.0.id))
            .order_by_asc(group_buy_member::Column::JoinedAt)
            .order_by_asc(group_buy_member::Column::OrderId)
            .limit(100)
            .all(conn)
            .await?;
        let users: std::collections::HashMap<i64, entity::user::Model> =
            entity::user::Entity::find()
                .filter(entity::user::Column::Id.is_in(rows.iter().map(|m| m.user_id)))
                .all(conn)
                .await?
                .into_iter()
                .map(|u| (u.id, u))
                .collect();
        Ok(rows
            .into_iter()
            .map(|m| {
                let u = users.get(&m.user_id);
                GroupBuyMember {
                    name: u.map(|u| mask_name(&u.nickname)).unwrap_or_default(),
                    avatar_url: u.and_then(|u| u.avatar_url.clone()),
                    status: MemberStatus::parse(&m.status).unwrap_or(MemberStatus::Holding),
                    is_leader: m.user_id == self.0.leader_user_id,
                    joined_at: m.joined_at.into(),
                }
            })
            .collect())
    }
}

#[derive(Default)]
pub struct GroupBuyQuery;

#[Object]
impl GroupBuyQuery {
    /// A campaign, for anyone (the share page and the product page); null for an unknown id.
    async fn group_buy_campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign (`GroupBuyCampaign`).")] id: ID,
    ) -> Result<Option<GroupBuyCampaign>> {
        let id = ids::decode("GroupBuyCampaign", &id).unwrap_or(0);
        Ok(service::campaign(ctx.app().db.conn(), id)
            .await?
            .map(GroupBuyCampaign))
    }

    /// Campaigns running now, newest first, for anyone; staff with MARKETING also get the
    /// scheduled, over and ended ones with `all`.
    async fn group_buy_campaigns(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this product's (`Product`).")] product_id: Option<ID>,
        #[graphql(
            desc = "Every campaign, not only running ones (MARKETING).",
            default = false
        )]
        all: bool,
    ) -> Result<Vec<GroupBuyCampaign>> {
        if all {
            ctx.viewer().require_permission(Permission::Marketing)?;
        }
        let mut q = group_buy_campaign::Entity::find();
        if let Some(p) = product_id {
            q = q.filter(
                group_buy_campaign::Column::ProductId.eq(ids::decode("Product", &p).unwrap_or(0)),
            );
        }
        let now = Utc::now();
        Ok(q.order_by_desc(group_buy_campaign::Column::Id)
            .limit(200)
            .all(ctx.app().db.conn())
            .await?
            .into_iter()
            .filter(|c| all || service::campaign_status(c, now) == CampaignStatus::Running)
            .map(GroupBuyCampaign)
            .collect())
    }

    /// A group, for anyone (the share page); null for an unknown id.
    async fn group_buy(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The group (`GroupBuy`).")] id: ID,
    ) -> Result<Option<GroupBuy>> {
        let id = ids::decode("GroupBuy", &id).unwrap_or(0);
        Ok(service::group(ctx.app().db.conn(), id).await?.map(GroupBuy))
    }

    /// Open groups of a campaign that can still be joined, closest to success first (fewest
    /// places left, then the earliest deadline), for anyone.
    async fn open_group_buys(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign (`GroupBuyCampaign`).")] campaign_id: ID,
        #[graphql(desc = "At most this many, 1–50.", default = 10)] first: i32,
    ) -> Result<Vec<GroupBuy>> {
        let id = ids::decode("GroupBuyCampaign", &campaign_id).unwrap_or(0);
        let open = service::joinable_groups(
            ctx.app().db.conn(),
            id,
            None,
            Utc::now(),
            first.clamp(1, 50) as usize,
        )
        .await?;
        Ok(open.into_iter().map(GroupBuy).collect())
    }

    /// Groups the caller launched or holds a place in, newest first.
    async fn my_group_buys(&self, ctx: &Context<'_>) -> Result<Vec<GroupBuy>> {
        let me = ctx.viewer().require_user()?.user_id;
        let conn = ctx.app().db.conn();
        let joined: Vec<i64> = group_buy_member::Entity::find()
            .select_only()
            .column(group_buy_member::Column::GroupId)
            .filter(group_buy_member::Column::UserId.eq(me))
            .limit(200)
            .into_tuple()
            .all(conn)
            .await?;
        Ok(group_buy_group::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(group_buy_group::Column::LeaderUserId.eq(me))
                    .add(group_buy_group::Column::Id.is_in(joined)),
            )
            .order_by_desc(group_buy_group::Column::Id)
            .limit(200)
            .all(conn)
            .await?
            .into_iter()
            .map(GroupBuy)
            .collect())
    }
}

/// A SKU and its group price.
#[derive(InputObject)]
pub struct GroupBuySkuInput {
    /// A SKU of the campaign's product (`Sku`).
    sku_id: ID,
    /// What a member pays per unit, in yuan: at least 0.01 and below the SKU's price.
    group_price: Money,
}

/// A campaign to create.
#[derive(InputObject)]
pub struct GroupBuyCampaignInput {
    /// 1–40 characters, shown to buyers.
    name: String,
    /// The product (`Product`).
    product_id: ID,
    /// The product's SKUs in the campaign, 1–200, each with its group price.
    skus: Vec<GroupBuySkuInput>,
    /// Members a group needs, 2–100.
    group_size: i32,
    /// Hours a group has to fill, 1–720.
    time_limit_hours: i32,
    /// When groups may first be launched.
    starts_at: DateTime,
    /// When groups may last be launched; after `startsAt` and in the future.
    ends_at: DateTime,
    /// Group orders one buyer may hold in the campaign at once, 1–100.
    #[graphql(default = 1)]
    per_user_limit: i32,
    /// Whether distributors may launch groups.
    #[graphql(default = true)]
    distributors_may_launch: bool,
    /// Whether consumers may launch groups.
    #[graphql(default = false)]
    consumers_may_launch: bool,
    /// 虚拟成团: a group with at least this many paid members (1 to size − 1) succeeds at its
    /// deadline. Omit to need every place paid.
    auto_complete_min: Option<i32>,
    /// Taken off the leader's own group order, in yuan; below the lowest group price.
    #[graphql(default_with = "Money(rust_decimal::Decimal::ZERO)")]
    leader_discount: Money,
}

impl GroupBuyCampaignInput {
    fn draft(self) -> std::result::Result<CampaignDraft, GroupBuyError> {
        let fen = |m: &Money, field: &str| {
            money::to_fen(m.0).ok_or_else(|| {
                GroupBuyError::new(Code::InvalidPrice, Some(field), "not an amount in yuan")
            })
        };
        let mut skus = Vec::with_capacity(self.skus.len());
        for s in &self.skus {
            skus.push((
                ids::decode("Sku", &s.sku_id).unwrap_or(0),
                fen(&s.group_price, "skus")?,
            ));
        }
        Ok(CampaignDraft {
            product_id: ids::decode("Product", &self.product_id).unwrap_or(0),
            terms: CampaignTerms {
                name: self.name,
                group_size: self.group_size,
                time_limit_hours: self.time_limit_hours,
                starts_at: self.starts_at.0,
                ends_at: self.ends_at.0,
                per_user_limit: self.per_user_limit,
                distributors_may_launch: self.distributors_may_launch,
                consumers_may_launch: self.consumers_may_launch,
                auto_complete_min: self.auto_complete_min,
                leader_discount_fen: fen(&self.leader_discount, "leaderDiscount")?,
                prices: Vec::new(),
            },
            skus,
        })
    }
}

/// The campaign created or ended, or why not.
#[derive(SimpleObject)]
pub struct GroupBuyCampaignPayload {
    /// The campaign; null when refused.
    campaign: Option<GroupBuyCampaign>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<GroupBuyError>,
}

/// The group launched, or why not.
#[derive(SimpleObject)]
pub struct LaunchGroupBuyPayload {
    /// The new group, to share; null when refused.
    group: Option<GroupBuy>,
    /// Why it was refused (nothing changed); empty on success.
    user_errors: Vec<GroupBuyError>,
}

fn campaign_payload(
    r: std::result::Result<group_buy_campaign::Model, ServiceError<Vec<GroupBuyError>>>,
) -> Result<GroupBuyCampaignPayload> {
    payload(
        r,
        |c| GroupBuyCampaignPayload {
            campaign: Some(GroupBuyCampaign(c)),
            user_errors: vec![],
        },
        |e| GroupBuyCampaignPayload {
            campaign: None,
            user_errors: e,
        },
    )
}

#[derive(Default)]
pub struct GroupBuyMutation;

#[Object]
impl GroupBuyMutation {
    /// Creates a group-buying campaign (staff with MARKETING).
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn create_group_buy_campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign.")] input: GroupBuyCampaignInput,
    ) -> Result<GroupBuyCampaignPayload> {
        let draft = match input.draft() {
            Ok(d) => d,
            Err(e) => return campaign_payload(Err(ServiceError::User(vec![e]))),
        };
        campaign_payload(service::create_campaign(ctx.app(), draft).await)
    }

    /// Ends a campaign now (staff with MARKETING): no new groups or members; open groups still
    /// succeed or fail at their deadlines with the members they have.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn end_group_buy_campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign (`GroupBuyCampaign`).")] id: ID,
    ) -> Result<GroupBuyCampaignPayload> {
        let id = ids::decode("GroupBuyCampaign", &id).unwrap_or(0);
        campaign_payload(service::end_campaign(ctx.app(), id).await)
    }

    /// Launches a group of a running campaign to share (a distributor, or a consumer when the
    /// campaign lets consumers launch). The launcher leads it; a distributor's group credits
    /// every order in it to them. Buyers join with `placeOrder(checkout: {groupBuy: {groupId}})`.
    async fn launch_group_buy(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign (`GroupBuyCampaign`).")] campaign_id: ID,
    ) -> Result<LaunchGroupBuyPayload> {
        let me = ctx.viewer().require_user()?.user_id;
        let id = ids::decode("GroupBuyCampaign", &campaign_id).unwrap_or(0);
        payload(
            service::launch(ctx.app(), me, id).await,
            |g| LaunchGroupBuyPayload {
                group: Some(GroupBuy(g)),
                user_errors: vec![],
            },
            |e| LaunchGroupBuyPayload {
                group: None,
                user_errors: e,
            },
        )
    }
}

/// A change of a group, with the group as it is after it.
#[derive(SimpleObject)]
pub struct GroupBuyChange {
    /// Pass the last one received as `after` when subscribing again.
    event_id: String,
    /// What happened: `LAUNCHED`, `JOINED`, `LEFT` (an unpaid order was cancelled, or a paid one
    /// refunded), `PAID`, `SUCCEEDED` or `FAILED`.
    kind: String,
    /// The group's status after it.
    status: GroupStatus,
    /// Places not taken after it.
    places_left: i32,
    /// Members who paid, after it.
    paid_members: i32,
    /// The group's deadline.
    deadline: Option<DateTime>,
    /// The member who joined, left or paid, masked; null for the group's own changes.
    member_name: Option<String>,
    /// That member's avatar URL; null when none.
    member_avatar_url: Option<String>,
}

#[derive(Default)]
pub struct GroupBuySubscription;

type ChangeStream =
    std::pin::Pin<Box<dyn Stream<Item = async_graphql::Result<GroupBuyChange>> + Send + 'static>>;

#[Subscription]
impl GroupBuySubscription {
    /// Every change of one group, live, for anyone (the share page): members joining, leaving
    /// and paying, places left, success or failure; resumable with `after`.
    async fn group_buy_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The group (`GroupBuy`).")] group_id: ID,
        #[graphql(desc = "The last `eventId` received, to first receive what was missed.")]
        after: Option<String>,
    ) -> Result<ChangeStream> {
        let id = ids::decode("GroupBuy", &group_id).unwrap_or(0);
        let after = events::parse_event_id(after.as_deref())?;
        let filter = EventFilter {
            event_types: &[EVENT_GROUP_CHANGED],
            recipient_user_id: None,
            aggregate_id: Some(id),
        };
        let stream = crate::graphql::live::subscribe(ctx, filter, after);
        Ok(Box::pin(stream.map(|item| match item {
            Ok(e) => {
                let p = &e.payload;
                let size = p["size"].as_i64().unwrap_or(0) as i32;
                let taken = p["taken"].as_i64().unwrap_or(0) as i32;
                Ok(GroupBuyChange {
                    event_id: e.id.to_string(),
                    kind: p["kind"].as_str().unwrap_or_default().to_string(),
                    status: p["status"]
                        .as_str()
                        .and_then(GroupStatus::parse)
                        .unwrap_or(GroupStatus::Open),
                    places_left: (size - taken).max(0),
                    paid_members: p["paid"].as_i64().unwrap_or(0) as i32,
                    deadline: serde_json::from_value::<chrono::DateTime<Utc>>(
                        p["deadline"].clone(),
                    )
                    .ok()
                    .map(Into::into),
                    member_name: p["member"]["name"].as_str().map(str::to_string),
                    member_avatar_url: p["member"]["avatarUrl"].as_str().map(str::to_string),
                })
            }
            Err(e) => Err(e.into()),
        })))
    }
}
