//! Group buying at an order's moments: the group price (a pricing stage, the only one a group
//! order has), the place an order takes when it is placed, pays for when it is paid and gives
//! back when it is cancelled or refunded, and who a group order is credited to.
use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use entity::{group_buy_campaign, order, order_line};

use super::{
    rules::{CampaignStatus, GroupStatus},
    service::{self, LaunchRefusal},
};
use crate::{
    app::AppState,
    db::WriteTx,
    error::{AppError, ServiceError},
    graphql::ids,
    orders::{
        errors::{OrderError, OrderErrorCode, OrderResult},
        listeners::{GroupBuyCredit, OrderListener, PricingStages, Refunded},
        pricing::{
            Discount, DiscountSource, GroupBuyChoice, GroupBuyRefusal, PricingRefusal,
            PricingRequest, PricingRule, PricingStage, PricingState, RuleOutcome, SourceKind,
        },
        rules::OrderSource,
    },
};

pub struct GroupBuyOrders;

/// The group price of a group order's lines, or why the group cannot be joined or launched.
struct GroupPrice {
    campaign_id: i64,
    prices: HashMap<i64, i64>,
    /// Taken off the leader's own order.
    leader_discount_fen: i64,
    /// Why not, with an open group of the campaign to offer instead.
    refusal: Option<(GroupBuyRefusal, String, Option<i64>)>,
}

impl PricingRule for GroupPrice {
    fn stage(&self) -> PricingStage {
        PricingStage::GroupBuy
    }

    fn apply(&self, state: &PricingState<'_>) -> Result<RuleOutcome, PricingRefusal> {
        if let Some((why, message, other)) = &self.refusal {
            return Err(PricingRefusal::GroupBuy(*why, message.clone(), *other));
        }
        let source = Some(DiscountSource {
            kind: SourceKind::GroupBuy,
            id: Some(self.campaign_id),
        });
        let mut discounts = Vec::with_capacity(state.lines.len() + 1);
        for (i, line) in state.lines.iter().enumerate() {
            let Some(group_price) = self.prices.get(&line.sku_id) else {
                return Err(PricingRefusal::GroupBuy(
                    GroupBuyRefusal::NotInCampaign,
                    "only the campaign's SKUs can be bought in a group".into(),
                    None,
                ));
            };
            // A SKU repriced below its group price since the campaign began costs its price.
            let off = (line.unit_price_fen - group_price).max(0) * line.quantity;
            discounts.push(Discount {
                label: "拼团价".into(),
                amount_fen: off,
                lines: Some(vec![i]),
                source,
            });
        }
        if self.leader_discount_fen > 0 {
            discounts.push(Discount {
                label: "团长优惠".into(),
                amount_fen: self.leader_discount_fen,
                lines: None,
                source,
            });
        }
        Ok(RuleOutcome {
            discounts,
            ..Default::default()
        })
    }
}

type Refusal = Option<(GroupBuyRefusal, String, Option<i64>)>;

fn refused(why: GroupBuyRefusal, message: &str) -> Refusal {
    Some((why, message.to_string(), None))
}

/// Refused if `buyer` holds as many group orders of `c` as it allows.
async fn limit_reached(
    conn: &impl sea_orm::ConnectionTrait,
    buyer: i64,
    c: &group_buy_campaign::Model,
) -> Result<Refusal, AppError> {
    Ok(
        if service::held_by(conn, buyer, c.id).await? >= c.per_user_limit.max(0) as u64 {
            refused(
                GroupBuyRefusal::LimitReached,
                "you hold as many group orders of this campaign as it allows",
            )
        } else {
            None
        },
    )
}

/// Whether `buyer` may join or launch as `choice` asks, as far as can be told before the
/// order's transaction (which decides the place itself), with the campaign it belongs to and
/// whether the buyer leads the group.
async fn check(
    app: &AppState,
    buyer: i64,
    choice: GroupBuyChoice,
) -> Result<(Option<group_buy_campaign::Model>, bool, Refusal), AppError> {
    let conn = app.db.conn();
    let now = Utc::now();
    let (campaign_id, group) = match choice {
        GroupBuyChoice::Join(id) => match service::group(conn, id).await? {
            Some(g) => (g.campaign_id, Some(g)),
            None => {
                return Ok((
                    None,
                    false,
                    refused(GroupBuyRefusal::NotFound, "no such group"),
                ));
            }
        },
        GroupBuyChoice::Launch(id) => (id, None),
    };
    let Some(c) = service::campaign(conn, campaign_id).await? else {
        return Ok((
            None,
            false,
            refused(GroupBuyRefusal::NotFound, "no such campaign"),
        ));
    };
    let status = service::campaign_status(&c, now);
    let leads = group.as_ref().is_none_or(|g| g.leader_user_id == buyer);
    let refusal = match &group {
        _ if status == CampaignStatus::Ended => {
            refused(GroupBuyRefusal::NotRunning, "this campaign has ended")
        }
        None => match service::launch_refusal(conn, &c, buyer, now).await?.0 {
            Some((why, message)) => refused(
                match why {
                    LaunchRefusal::NotRunning => GroupBuyRefusal::NotRunning,
                    LaunchRefusal::MayNotLaunch => GroupBuyRefusal::MayNotLaunch,
                },
                message,
            ),
            None => limit_reached(conn, buyer, &c).await?,
        },
        Some(g) if g.status != GroupStatus::Open.as_str() || g.deadline <= now => {
            refused(GroupBuyRefusal::Closed, "this group is closed")
        }
        Some(g) if service::is_member(conn, g.id, buyer).await? => refused(
            GroupBuyRefusal::AlreadyJoined,
            "you hold a place in this group already",
        ),
        Some(g) if g.taken >= g.size => refused(GroupBuyRefusal::Full, "this group is full"),
        Some(_) => limit_reached(conn, buyer, &c).await?,
    };
    // A buyer who missed a group is offered the one closest to success.
    let refusal = match (refusal, &group) {
        (Some((why @ (GroupBuyRefusal::Full | GroupBuyRefusal::Closed), m, _)), Some(g)) => Some((
            why,
            m,
            service::suggestion(conn, c.id, Some(g.id), now).await?,
        )),
        (r, _) => r,
    };
    Ok((Some(c), leads, refusal))
}

#[async_trait]
impl PricingStages for GroupBuyOrders {
    async fn rules(
        &self,
        app: &AppState,
        request: &PricingRequest,
    ) -> Result<Vec<Box<dyn PricingRule>>, AppError> {
        let Some(choice) = request.group_buy else {
            return Ok(Vec::new());
        };
        let (campaign, leads, refusal) = check(app, request.buyer_id, choice).await?;
        let (campaign_id, prices, leader_discount_fen) = match &campaign {
            Some(c) => (
                c.id,
                service::group_prices(app.db.conn(), c.id).await?,
                if leads { c.leader_discount_fen } else { 0 },
            ),
            None => (0, HashMap::new(), 0),
        };
        Ok(vec![Box::new(GroupPrice {
            campaign_id,
            prices,
            leader_discount_fen,
            refusal,
        })])
    }
}

fn group_error(
    code: OrderErrorCode,
    message: &str,
    suggestion: Option<i64>,
) -> ServiceError<Vec<OrderError>> {
    ServiceError::User(vec![
        OrderError::new(code, Some("groupBuy"), message)
            .suggesting(suggestion.map(|id| ids::encode("GroupBuy", id))),
    ])
}

/// Takes the order's place in the group it joins, or opens the group it launches.
async fn take(tx: &WriteTx, placed: &order::Model, choice: GroupBuyChoice) -> OrderResult<()> {
    let now = Utc::now();
    let buyer = placed.user_id;
    let group = match choice {
        GroupBuyChoice::Join(id) => match service::take_place(tx, id, now).await? {
            Some(g) => g,
            None => {
                let Some(g) = service::group(&**tx, id).await? else {
                    return Err(group_error(
                        OrderErrorCode::GroupBuyNotFound,
                        "no such group",
                        None,
                    ));
                };
                let other = service::suggestion(&**tx, g.campaign_id, Some(g.id), now).await?;
                let open = g.status == GroupStatus::Open.as_str() && g.deadline > now;
                return Err(if open {
                    group_error(
                        OrderErrorCode::GroupBuyFull,
                        "someone took the last place of this group a moment before you",
                        other,
                    )
                } else {
                    group_error(
                        OrderErrorCode::GroupBuyClosed,
                        "this group is closed",
                        other,
                    )
                });
            }
        },
        GroupBuyChoice::Launch(id) => {
            let Some(c) = service::campaign(&**tx, id).await? else {
                return Err(group_error(
                    OrderErrorCode::GroupBuyNotFound,
                    "no such campaign",
                    None,
                ));
            };
            let (_, is_distributor) = service::may_launch(&**tx, &c, buyer).await?;
            service::launch_with_order(tx, &c, buyer, is_distributor, now).await?
        }
    };
    if !service::add_member(tx, &group, placed.id, buyer, now).await? {
        return Err(group_error(
            OrderErrorCode::GroupBuyAlreadyJoined,
            "you hold a place in this group already",
            None,
        ));
    }
    let face = service::member_face(&**tx, buyer).await?;
    let kind = match choice {
        GroupBuyChoice::Join(_) => "JOINED",
        GroupBuyChoice::Launch(_) => "LAUNCHED",
    };
    service::changed(tx, &group, kind, Some(face));
    Ok(())
}

fn is_group_order(o: &order::Model) -> bool {
    o.source == OrderSource::GroupBuy.as_str()
}

#[async_trait]
impl OrderListener for GroupBuyOrders {
    async fn on_placed(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        _lines: &[order_line::Model],
        request: &PricingRequest,
    ) -> OrderResult<()> {
        match request.group_buy {
            Some(choice) => take(tx, order, choice).await,
            None => Ok(()),
        }
    }

    async fn on_paid(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        _lines: &[order_line::Model],
    ) -> Result<(), AppError> {
        if !is_group_order(order) {
            return Ok(());
        }
        match service::member_of_order(&**tx, order.id).await? {
            Some(m) => service::paid(tx, &m).await,
            None => Ok(()),
        }
    }

    async fn on_cancelled(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
    ) -> Result<(), AppError> {
        if !is_group_order(order) {
            return Ok(());
        }
        match service::member_of_order(&**tx, order.id).await? {
            Some(m) => service::left(tx, &m).await,
            None => Ok(()),
        }
    }

    async fn on_refunded(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        _refund: &Refunded<'_>,
    ) -> Result<(), AppError> {
        // Only a refund of everything ends a member's part; a partial one keeps the place.
        if !is_group_order(order) || order.refunded_fen < order.pay_amount_fen {
            return Ok(());
        }
        match service::member_of_order(&**tx, order.id).await? {
            Some(m) => service::refunded(tx, &m).await,
            None => Ok(()),
        }
    }
}

#[async_trait]
impl GroupBuyCredit for GroupBuyOrders {
    async fn credited_to(
        &self,
        _app: &AppState,
        tx: &WriteTx,
        buyer_id: i64,
        choice: GroupBuyChoice,
    ) -> Result<Option<i64>, AppError> {
        let GroupBuyChoice::Join(id) = choice else {
            return Ok(None);
        };
        Ok(service::group(&**tx, id)
            .await?
            .and_then(|g| g.distributor_user_id)
            .filter(|d| *d != buyer_id))
    }
}
