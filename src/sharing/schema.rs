//! The sharing area's GraphQL face: `shareContent` (link, copy and poster for anyone signed
//! in), `openShare` for the share page, `myShareStats` for the 推广 page, and the copy
//! templates for staff with MARKETING.
use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use entity::share;

use super::{
    copy::{self, ShareChannel, ShareTarget},
    service::{self, ShareFacts},
};
use crate::{
    auth::{Permission, PermissionGuard},
    distribution::team,
    error::AppError,
    graphql::{
        context::CtxExt,
        ids,
        scalars::{DateTime, Money},
    },
    orders::types::yuan,
};

/// Why a sharing mutation was refused (nothing was changed).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharingErrorCode {
    /// No share has this code.
    ShareNotFound,
    /// The template is empty, too long, or has an unbalanced `{ }` or `[ ]`.
    InvalidTemplate,
    /// The template names a placeholder that does not exist.
    UnknownPlaceholder,
}

crate::user_error_type!(
    /// A refused sharing mutation.
    SharingError,
    SharingErrorCode
);

/// One user's share of a product, a group or the shop on one channel, with what it brought.
/// Seen by the sharer.
pub struct Share(pub share::Model);

/// One user's share of a product, a group or the shop on one channel, with what it brought
/// (visits, bindings, orders, sales). Seen by the sharer.
#[Object]
impl Share {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("Share", self.0.id)
    }
    /// The code in the link (and the mini-program code's `scene`); `openShare` takes it.
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// What it points at.
    async fn target(&self) -> ShareTarget {
        ShareTarget::parse(&self.0.target).unwrap_or(ShareTarget::Shop)
    }
    /// The product (`Product`) or group (`GroupBuy`); null for the shop.
    async fn target_id(&self) -> Option<ID> {
        target_global_id(&self.0)
    }
    /// Where it was posted.
    async fn channel(&self) -> ShareChannel {
        ShareChannel::parse(&self.0.channel).unwrap_or(ShareChannel::Friend)
    }
    /// Times the link was opened (signed in or not, the sharer's own openings included).
    async fn visits(&self) -> i64 {
        self.0.visits
    }
    /// Visitors bound to the sharer (a distributor) by opening it.
    async fn bindings(&self) -> i64 {
        self.0.bindings
    }
    /// Paid orders credited to it (placed within `share_order_window_days` of opening it).
    async fn orders(&self) -> i64 {
        self.0.orders
    }
    /// What those orders paid, net of refunds, in yuan.
    async fn sales(&self) -> Money {
        yuan(self.0.sales_fen)
    }
    /// When it was first asked for.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

fn target_global_id(s: &share::Model) -> Option<ID> {
    match ShareTarget::parse(&s.target)? {
        ShareTarget::Product => Some(ids::encode("Product", s.target_id)),
        ShareTarget::Group => Some(ids::encode("GroupBuy", s.target_id)),
        ShareTarget::Shop => None,
    }
}

/// What to post: the link, the copy, and the poster (drawn only when `posterUrl` is asked
/// for).
pub struct ShareContent {
    share: share::Model,
    facts: ShareFacts,
    url: String,
    referral_code: Option<String>,
}

/// What to post to share something: the link, the copy and the poster (drawn only when
/// `posterUrl` is asked for). Seen by the sharer who asked for it.
#[Object]
impl ShareContent {
    /// The share, with its funnel so far.
    async fn share(&self) -> Share {
        Share(self.share.clone())
    }
    /// The link to post: the share page with the share code (and `ref`, the distributor's
    /// referral code, when the sharer is one).
    async fn url(&self) -> &str {
        &self.url
    }
    /// The sharer's referral code when they are an active distributor; null otherwise.
    async fn referral_code(&self) -> Option<&str> {
        self.referral_code.as_deref()
    }
    /// The copy for the channel, written from the target's facts by the shop's template.
    async fn copy(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(service::write_copy(ctx.app(), &self.share, &self.facts).await?)
    }
    /// The poster, a 750×1334 PNG: the product's picture, name, price and group price, the
    /// sharer's name and avatar, and a QR code of `url` (a WeChat mini-program code when the
    /// mini-program is configured). Drawn on first use, then served from the media store
    /// (the URL changes when anything on it changes; it may be cached for ever).
    async fn poster_url(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(service::poster_url(ctx.app(), &self.share, &self.facts, &self.url).await?)
    }
}

/// A sharer's funnel over all their shares.
#[derive(SimpleObject)]
pub struct ShareStats {
    /// Shares made (one per target and channel).
    shares: i64,
    /// Times they were opened.
    visits: i64,
    /// Visitors bound to the sharer by them.
    bindings: i64,
    /// Paid orders credited to them.
    orders: i64,
    /// What those orders paid, net of refunds, in yuan.
    sales: Money,
    /// The busiest shares first (by visits), at most `first`.
    top: Vec<Share>,
}

/// A copy template for one target and channel.
#[derive(SimpleObject)]
pub struct ShareTemplate {
    /// What it writes copy for.
    target: ShareTarget,
    /// For which channel.
    channel: ShareChannel,
    /// The text, with `{placeholder}`s and `[optional sections]` (left out when a
    /// placeholder inside has no value).
    template: String,
    /// Whether it is the built-in default (staff have not saved their own).
    is_default: bool,
}

/// A placeholder a template may use.
#[derive(SimpleObject)]
pub struct SharePlaceholder {
    /// Written `{name}` in a template.
    name: String,
    /// What it stands for.
    description: String,
}

/// The result of `openShare`.
#[derive(SimpleObject)]
pub struct OpenSharePayload {
    /// What the share points at; null when refused.
    target: Option<ShareTarget>,
    /// The product (`Product`) or group (`GroupBuy`) to show; null for the shop or when
    /// refused.
    target_id: Option<ID>,
    /// Whether this visit bound the (signed-in) visitor to the sharer, a distributor.
    bound: bool,
    /// Why nothing was recorded (`SHARE_NOT_FOUND`); empty otherwise.
    user_errors: Vec<SharingError>,
}

/// The result of `saveShareTemplate`.
#[derive(SimpleObject)]
pub struct ShareTemplatePayload {
    /// The template in force now; null when refused.
    template: Option<ShareTemplate>,
    /// Why it was refused (nothing changed).
    user_errors: Vec<SharingError>,
}

#[derive(Default)]
pub struct SharingQuery;

#[Object]
impl SharingQuery {
    /// What to post to share a product, a group or the shop on a channel (anyone signed in):
    /// the link, the copy and the poster. The same caller, target and channel always get the
    /// same share (and link). `NOT_FOUND` for a product not on sale or an unknown group.
    async fn share_content(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to share.")] target: ShareTarget,
        #[graphql(desc = "The product (`Product`) or group (`GroupBuy`); omitted for the shop.")]
        id: Option<ID>,
        #[graphql(desc = "Where it will be posted.")] channel: ShareChannel,
    ) -> Result<ShareContent> {
        let me = ctx.viewer().require_user()?;
        let app = ctx.app();
        let target_id = match (target, &id) {
            (ShareTarget::Shop, _) => 0,
            (ShareTarget::Product, Some(id)) => ids::decode("Product", id)?,
            (ShareTarget::Group, Some(id)) => ids::decode("GroupBuy", id)?,
            (_, None) => {
                return Err(
                    AppError::bad_input("id is required to share a product or a group").into(),
                );
            }
        };
        let facts = service::gather_facts(app, target, target_id, me.user_id)
            .await?
            .ok_or_else(|| AppError::not_found("Product or GroupBuy"))?;
        let share = service::share_for(app, me.user_id, target, target_id, channel).await?;
        let referral_code = team::active(app.db.conn(), me.user_id)
            .await?
            .map(|d| d.referral_code);
        let url = service::link(app, &share, referral_code.as_deref());
        Ok(ShareContent {
            share,
            facts,
            url,
            referral_code,
        })
    }

    /// The caller's funnel over every share they made (visits, bindings, orders, sales), with
    /// their busiest shares.
    async fn my_share_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many shares to list, 0 to 50.", default = 10)] first: i32,
    ) -> Result<ShareStats> {
        let me = ctx.viewer().require_user()?;
        if !(0..=50).contains(&first) {
            return Err(AppError::bad_input("first must be between 0 and 50").into());
        }
        let (total, top) = service::stats(ctx.app().db.conn(), me.user_id, first as u64).await?;
        Ok(ShareStats {
            shares: total.shares,
            visits: total.visits,
            bindings: total.bindings,
            orders: total.orders,
            sales: yuan(total.sales_fen),
            top: top.into_iter().map(Share).collect(),
        })
    }

    /// Every copy template, by target and channel (staff with MARKETING).
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn share_templates(&self, ctx: &Context<'_>) -> Result<Vec<ShareTemplate>> {
        let conn = ctx.app().db.conn();
        let mut out = Vec::new();
        for target in ShareTarget::ALL {
            for channel in ShareChannel::ALL {
                let template = service::template(conn, target, channel).await?;
                out.push(ShareTemplate {
                    is_default: template == copy::default_template(target, channel),
                    target,
                    channel,
                    template,
                });
            }
        }
        Ok(out)
    }

    /// The placeholders a copy template may use (staff with MARKETING).
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn share_placeholders(&self) -> Vec<SharePlaceholder> {
        copy::PLACEHOLDERS
            .iter()
            .map(|(name, description)| SharePlaceholder {
                name: (*name).to_string(),
                description: (*description).to_string(),
            })
            .collect()
    }
}

#[derive(Default)]
pub struct SharingMutation;

#[Object]
impl SharingMutation {
    /// The share page was opened (anyone, signed in or not): counts a visit; a signed-in
    /// visitor other than the sharer is remembered (their paid orders in the next
    /// `share_order_window_days` are credited to the share), earns the sharer their share
    /// task's points, and is bound to the sharer by the shop's binding mode when the sharer
    /// is a distributor.
    async fn open_share(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The share code from the link (or the mini-program's `scene`).")]
        code: String,
    ) -> Result<OpenSharePayload> {
        let visitor = ctx.viewer().principal().map(|p| p.user_id);
        Ok(match service::open(ctx.app(), &code, visitor).await? {
            Some(opened) => OpenSharePayload {
                target: ShareTarget::parse(&opened.share.target),
                target_id: target_global_id(&opened.share),
                bound: opened.bound,
                user_errors: vec![],
            },
            None => OpenSharePayload {
                target: None,
                target_id: None,
                bound: false,
                user_errors: vec![SharingError::new(
                    SharingErrorCode::ShareNotFound,
                    Some("code"),
                    "no share has this code",
                )],
            },
        })
    }

    /// Saves the copy template for a target and channel (staff with MARKETING); a null
    /// template restores the default.
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn save_share_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the template writes copy for.")] target: ShareTarget,
        #[graphql(desc = "For which channel.")] channel: ShareChannel,
        #[graphql(
            desc = "The text, up to 300 characters, with `{placeholder}`s (see `sharePlaceholders`) and `[optional sections]`; null restores the default."
        )]
        template: Option<String>,
    ) -> Result<ShareTemplatePayload> {
        let me = ctx.viewer().require_user()?;
        let saved =
            service::save_template(ctx.app(), me.user_id, target, channel, template.as_deref())
                .await?;
        Ok(match saved {
            Ok(template) => ShareTemplatePayload {
                template: Some(ShareTemplate {
                    is_default: template == copy::default_template(target, channel),
                    target,
                    channel,
                    template,
                }),
                user_errors: vec![],
            },
            Err(e) => {
                let code = match e {
                    copy::TemplateError::UnknownPlaceholder(_) => {
                        SharingErrorCode::UnknownPlaceholder
                    }
                    _ => SharingErrorCode::InvalidTemplate,
                };
                ShareTemplatePayload {
                    template: None,
                    user_errors: vec![SharingError::new(code, Some("template"), e.to_string())],
                }
            }
        })
    }
}
