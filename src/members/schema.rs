//! The members area's queries and mutations (thin: the rules live in `rules` and `service`).
use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use rust_decimal::Decimal;

use super::{
    errors::{MemberError, MemberErrorCode},
    rules::LevelDraft,
    service::{self, LevelInput},
    types::{MemberLevel, MemberSettings, MemberStats, Membership},
};
use crate::{
    auth::{Permission, PermissionGuard},
    error::ServiceError,
    graphql::{context::CtxExt, errors::payload, ids, scalars::Percent},
};

#[derive(Default)]
pub struct MembersQuery;

#[Object]
impl MembersQuery {
    /// The member levels, lowest growth threshold first, with what each gives. Public: the
    /// mini-program shows the ladder to everyone.
    async fn member_levels(&self, ctx: &Context<'_>) -> Result<Vec<MemberLevel>> {
        Ok(service::levels(ctx.app().db.conn())
            .await?
            .into_iter()
            .map(|l| MemberLevel(Arc::new(l)))
            .collect())
    }

    /// The caller's order figures for the 个人中心: orders, total spent, member since.
    async fn my_stats(&self, ctx: &Context<'_>) -> Result<MemberStats> {
        let me = ctx.viewer().require_user()?;
        let member = service::member_of(ctx.app().db.conn(), me.user_id).await?;
        MemberStats::of(ctx, me.user_id, member.as_ref()).await
    }

    /// A customer's level, growth and figures (staff with MARKETING); null for an unknown id
    /// or a staff account.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer's `User` id.")] user_id: ID,
    ) -> Result<Option<Membership>> {
        let Ok(id) = ids::decode("User", &user_id) else {
            return Ok(None);
        };
        let user = ctx.loaders().users.load_one(id).await?;
        if user.is_none_or(|u| u.is_staff) {
            return Ok(None);
        }
        Ok(Some(Membership::load(ctx.app().db.conn(), id).await?))
    }

    /// The merchant's member settings (staff with MARKETING).
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn member_settings(&self, ctx: &Context<'_>) -> Result<MemberSettings> {
        Ok(service::settings(ctx.app().db.conn()).await?.into())
    }
}

/// A member level as staff save it.
#[derive(InputObject)]
pub struct MemberLevelInput {
    /// 1–32 characters, unique among levels, e.g. `金卡`.
    name: String,
    /// 1–32 characters, shown on the member's profile, e.g. `金卡会员`.
    badge_name: String,
    /// Growth from which the level is held: 0 to 1,000,000,000, unique; the lowest level
    /// starts at 0, and an edited level keeps its place between its neighbours.
    growth_threshold: i64,
    /// The share of the price members pay, in percent, 10.00 to 100.00 (`"90.00"`: 10 % off,
    /// `"100.00"`: no discount). A higher level never pays more than a lower one.
    discount_rate: Percent,
    /// Orders of members of this level ship free.
    #[graphql(default)]
    free_shipping: bool,
    /// Hours before a product's scheduled on-sale time members of this level may buy it,
    /// 0 to 720 (0: no early access).
    #[graphql(default)]
    early_access_hours: i32,
    /// Points given on the member's birthday, 0 to 1,000,000.
    #[graphql(default)]
    birthday_points: i64,
    /// Multiplier on points earned, in whole percent, 100 to 1000 (`"150"`: 1.5 times).
    /// Default 100.
    points_multiplier: Option<Percent>,
}

impl MemberLevelInput {
    fn into_service(self) -> std::result::Result<LevelInput, MemberError> {
        let hundred = Decimal::from(100);
        let Some(rate_bp) = self
            .discount_rate
            .basis_points()
            .filter(|bp| (0..=1_000_000).contains(bp))
        else {
            return Err(MemberError::new(
                MemberErrorCode::InvalidRate,
                Some("discountRate"),
                "a member discount rate is between 10.00 and 100.00",
            ));
        };
        let multiplier = self.points_multiplier.map_or(hundred, |p| p.0);
        if !multiplier.fract().is_zero() || multiplier > Decimal::from(1_000_000) {
            return Err(MemberError::new(
                MemberErrorCode::InvalidBenefit,
                Some("pointsMultiplier"),
                "a points multiplier is a whole percent from 100 to 1000",
            ));
        }
        Ok(LevelInput {
            draft: LevelDraft {
                name: self.name,
                badge_name: self.badge_name,
                threshold: self.growth_threshold,
                rate_bp,
                early_access_hours: self.early_access_hours,
                birthday_points: self.birthday_points,
                multiplier_pct: multiplier.try_into().unwrap_or(-1),
            },
            free_shipping: self.free_shipping,
        })
    }
}

/// The result of `createMemberLevel` and `updateMemberLevel`.
#[derive(SimpleObject)]
pub struct MemberLevelPayload {
    /// The level as saved; null when refused.
    level: Option<MemberLevel>,
    /// Why nothing was saved: `UNKNOWN_LEVEL`, `INVALID_NAME`, `INVALID_THRESHOLD`,
    /// `INVALID_RATE`, `INVALID_BENEFIT`.
    user_errors: Vec<MemberError>,
}

/// The result of `deleteMemberLevel`.
#[derive(SimpleObject)]
pub struct DeleteMemberLevelPayload {
    /// The deleted level's id; null when refused.
    deleted_id: Option<ID>,
    /// Why nothing was deleted: `UNKNOWN_LEVEL`, or `LEVEL_IN_USE` for the level of 0 growth.
    user_errors: Vec<MemberError>,
}

/// What `setMemberLevel` changes.
#[derive(InputObject)]
pub struct SetMemberLevelInput {
    /// The customer's `User` id.
    user_id: ID,
    /// The level to give them.
    level_id: ID,
    /// Why (1–200 characters), kept in the level history.
    reason: String,
}

/// The result of `setMemberLevel`.
#[derive(SimpleObject)]
pub struct SetMemberLevelPayload {
    /// The member after the change; null when refused.
    member: Option<Membership>,
    /// Why nothing changed: `UNKNOWN_MEMBER`, `UNKNOWN_LEVEL`, `INVALID_REASON`.
    user_errors: Vec<MemberError>,
}

/// What `updateMemberSettings` changes; absent fields stay as they are.
#[derive(InputObject)]
pub struct MemberSettingsInput {
    /// Growth per ¥1 of goods paid, 1 to 100 (applies to payments from now on).
    growth_per_yuan: Option<i64>,
    /// Turn the yearly review on or off.
    yearly_review: Option<bool>,
}

/// The result of `updateMemberSettings`.
#[derive(SimpleObject)]
pub struct MemberSettingsPayload {
    /// The settings as saved; null when refused.
    settings: Option<MemberSettings>,
    /// Why nothing was saved: `INVALID_SETTINGS`.
    user_errors: Vec<MemberError>,
}

#[derive(Default)]
pub struct MembersMutation;

fn level_payload(
    r: std::result::Result<entity::member_level::Model, ServiceError<Vec<MemberError>>>,
) -> Result<MemberLevelPayload> {
    payload(
        r,
        |l| MemberLevelPayload {
            level: Some(MemberLevel(Arc::new(l))),
            user_errors: vec![],
        },
        |e| MemberLevelPayload {
            level: None,
            user_errors: e,
        },
    )
}

#[Object]
impl MembersMutation {
    /// Add a member level (staff with MARKETING). Members whose growth reaches it rise to it
    /// at once.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn create_member_level(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new level: name, threshold and benefits.")] input: MemberLevelInput,
    ) -> Result<MemberLevelPayload> {
        let r = match input.into_service() {
            Ok(i) => service::save_level(ctx.app(), None, i).await,
            Err(e) => Err(ServiceError::User(vec![e])),
        };
        level_payload(r)
    }

    /// Change a member level (staff with MARKETING); every field is replaced. A new rate
    /// applies to member prices and checkouts from the next request; members whose growth now
    /// reaches a higher level rise at once, nobody is lowered.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn update_member_level(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The level to change.")] id: ID,
        #[graphql(desc = "The level as it is to be: every field replaces the old value.")]
        input: MemberLevelInput,
    ) -> Result<MemberLevelPayload> {
        let Ok(id) = ids::decode("MemberLevel", &id) else {
            return Ok(MemberLevelPayload {
                level: None,
                user_errors: vec![MemberError::new(
                    MemberErrorCode::UnknownLevel,
                    Some("id"),
                    "no member level has this id",
                )],
            });
        };
        let r = match input.into_service() {
            Ok(i) => service::save_level(ctx.app(), Some(id), i).await,
            Err(e) => Err(ServiceError::User(vec![e])),
        };
        level_payload(r)
    }

    /// Delete a member level (staff with MARKETING). Its members move to the level their
    /// growth reaches without it; the level of 0 growth cannot be deleted.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn delete_member_level(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The level to delete.")] id: ID,
    ) -> Result<DeleteMemberLevelPayload> {
        let key = ids::decode("MemberLevel", &id).unwrap_or(0);
        payload(
            service::delete_level(ctx.app(), key).await,
            |_| DeleteMemberLevelPayload {
                deleted_id: Some(id.clone()),
                user_errors: vec![],
            },
            |e| DeleteMemberLevelPayload {
                deleted_id: None,
                user_errors: e,
            },
        )
    }

    /// Give a customer a level by hand, with a reason (staff with MARKETING). The member is
    /// told; growth then raises them from there as usual.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn set_member_level(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whom to give which level, and why.")] input: SetMemberLevelInput,
    ) -> Result<SetMemberLevelPayload> {
        let me = ctx.viewer().require_user()?;
        let user = ids::decode("User", &input.user_id).unwrap_or(0);
        let level = ids::decode("MemberLevel", &input.level_id).unwrap_or(0);
        let app = ctx.app();
        match service::set_level(app, me.user_id, user, level, &input.reason).await {
            Ok(_) => Ok(SetMemberLevelPayload {
                member: Some(Membership::load(app.db.conn(), user).await?),
                user_errors: vec![],
            }),
            Err(ServiceError::User(e)) => Ok(SetMemberLevelPayload {
                member: None,
                user_errors: e,
            }),
            Err(ServiceError::App(e)) => Err(e.into()),
        }
    }

    /// Change the member settings (staff with MARKETING).
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn update_member_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The settings to change; a field left out keeps its value.")]
        input: MemberSettingsInput,
    ) -> Result<MemberSettingsPayload> {
        payload(
            service::update_settings(ctx.app(), input.growth_per_yuan, input.yearly_review).await,
            |s| MemberSettingsPayload {
                settings: Some(s.into()),
                user_errors: vec![],
            },
            |e| MemberSettingsPayload {
                settings: None,
                user_errors: e,
            },
        )
    }
}
