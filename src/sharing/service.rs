//! Shares: one user's link to a product, a group or the shop for one channel, with copy, a
//! poster, and the funnel it brought (visits, bindings, orders, sales).
//!
//! - Asking again for the same share gives the same code (a unique key), so links already
//!   posted keep counting and the poster stays cached.
//! - Opening a share counts a visit; a signed-in visitor other than the sharer is remembered
//!   (their orders are credited to the share), pays the sharer's share task, and — when the
//!   sharer is a distributor — binds the visitor by the shop's binding mode, all in one
//!   transaction.
//! - A paid order is credited to the latest share its buyer opened within
//!   `share_order_window_days` before placing it (at most one share per order); refunds take
//!   their amount back off the share's sales.
use chrono::{Duration, Utc};
use entity::{share, share_open, share_order, share_template};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use sha2::{Digest, Sha256};

use super::copy::{self, CopyFacts, ShareChannel, ShareTarget};
use super::poster::{self, PosterFacts, PosterFont};
use super::wxacode::{AccessToken, WechatApp};
use crate::{
    app::AppState, bounded_cache::BoundedCache, db::WriteTx, distribution::team, error::AppError,
    money::to_decimal,
};

/// What the sharing area keeps in memory: WeChat's access token and the posters known to be
/// stored (so a cached poster costs no look-up in the media store).
pub struct SharingState {
    pub wechat_token: AccessToken,
    stored_posters: parking_lot::Mutex<BoundedCache<String, ()>>,
}

impl Default for SharingState {
    fn default() -> Self {
        SharingState {
            wechat_token: AccessToken::default(),
            stored_posters: parking_lot::Mutex::new(BoundedCache::new(10_000)),
        }
    }
}

const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// 10 characters of 32: 50 bits, not guessable by walking codes; fits a mini-program scene.
const CODE_LEN: usize = 10;

fn new_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

async fn find_share(
    conn: &impl ConnectionTrait,
    sharer: i64,
    target: ShareTarget,
    target_id: i64,
    channel: ShareChannel,
) -> Result<Option<share::Model>, AppError> {
    Ok(share::Entity::find()
        .filter(share::Column::SharerUserId.eq(sharer))
        .filter(share::Column::Target.eq(target.as_str()))
        .filter(share::Column::TargetId.eq(target_id))
        .filter(share::Column::Channel.eq(channel.as_str()))
        .one(conn)
        .await?)
}

/// The caller's share of `target`/`target_id` on `channel`: the one made before, or a new one.
pub async fn share_for(
    app: &AppState,
    sharer: i64,
    target: ShareTarget,
    target_id: i64,
    channel: ShareChannel,
) -> Result<share::Model, AppError> {
    let conn = app.db.conn();
    if let Some(s) = find_share(conn, sharer, target, target_id, channel).await? {
        return Ok(s);
    }
    let tx = app.db.begin_write().await?;
    // Two requests at once: the unique key keeps one, and both read it back.
    share::Entity::insert(share::ActiveModel {
        code: Set(new_code()),
        sharer_user_id: Set(sharer),
        target: Set(target.as_str().into()),
        target_id: Set(target_id),
        channel: Set(channel.as_str().into()),
        visits: Set(0),
        bindings: Set(0),
        orders: Set(0),
        sales_fen: Set(0),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            share::Column::SharerUserId,
            share::Column::Target,
            share::Column::TargetId,
            share::Column::Channel,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&*tx)
    .await?;
    let made = find_share(&*tx, sharer, target, target_id, channel).await?;
    tx.commit().await?;
    made.ok_or_else(|| AppError::Internal(anyhow::anyhow!("share not found after insert")))
}

/// The link posted: the share page with the share code, and the distributor's referral code
/// when the sharer is one (so a client that only knows referral codes still binds).
pub fn link(app: &AppState, share: &share::Model, referral_code: Option<&str>) -> String {
    let origin = app
        .config
        .public_url
        .as_deref()
        .map(|b| b.trim_end_matches('/'))
        .unwrap_or("");
    match referral_code {
        Some(r) => format!("{origin}/share/{}?ref={r}", share.code),
        None => format!("{origin}/share/{}", share.code),
    }
}

/// The copy template staff saved for `target` and `channel`, or the default.
pub async fn template(
    conn: &impl ConnectionTrait,
    target: ShareTarget,
    channel: ShareChannel,
) -> Result<String, AppError> {
    Ok(share_template::Entity::find_by_id((
        target.as_str().to_string(),
        channel.as_str().to_string(),
    ))
    .one(conn)
    .await?
    .map(|t| t.template)
    .unwrap_or_else(|| copy::default_template(target, channel).to_string()))
}

/// Saves staff's copy template (checked first); `None` restores the default.
pub async fn save_template(
    app: &AppState,
    staff: i64,
    target: ShareTarget,
    channel: ShareChannel,
    template: Option<&str>,
) -> Result<Result<String, copy::TemplateError>, AppError> {
    let key = (target.as_str().to_string(), channel.as_str().to_string());
    let tx = app.db.begin_write().await?;
    let saved = match template {
        None => {
            share_template::Entity::delete_by_id(key).exec(&*tx).await?;
            copy::default_template(target, channel).to_string()
        }
        Some(t) => {
            if let Err(e) = copy::validate(t) {
                return Ok(Err(e));
            }
            share_template::Entity::insert(share_template::ActiveModel {
                target: Set(key.0),
                channel: Set(key.1),
                template: Set(t.to_string()),
                updated_by: Set(Some(staff)),
                updated_at: Set(Utc::now()),
            })
            .on_conflict(
                OnConflict::columns([
                    share_template::Column::Target,
                    share_template::Column::Channel,
                ])
                .update_columns([
                    share_template::Column::Template,
                    share_template::Column::UpdatedBy,
                    share_template::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(&*tx)
            .await?;
            t.to_string()
        }
    };
    tx.commit().await?;
    Ok(Ok(saved))
}

pub fn yuan_text(fen: i64) -> String {
    format!("¥{}", to_decimal(fen))
}

/// Everything a share shows, gathered by the caller from the areas that own it.
#[derive(Clone, Debug, Default)]
pub struct ShareFacts {
    pub copy: CopyFacts,
    /// The media-store key of the product's main image.
    pub image_key: Option<String>,
    /// The media-store key of the sharer's avatar, when it is one of ours (an avatar on
    /// WeChat's servers is drawn as the name's first character: the server fetches nothing
    /// from addresses users give it).
    pub avatar_key: Option<String>,
    /// "3人团 · 还差1人" for a group.
    pub badge: Option<String>,
}

/// A media key inside the store from a URL the store gave out, or `None` for anything else
/// (another host, a path that climbs out).
pub fn own_media_key(app: &AppState, url: &str) -> Option<String> {
    let prefix = app.media.url("");
    let key = url.strip_prefix(prefix.as_str())?;
    let safe = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'))
        && !key.split('/').any(|part| part.is_empty() || part == "..");
    safe.then(|| key.to_string())
}

/// The copy for `share` from its facts and the saved template.
pub async fn write_copy(
    app: &AppState,
    share: &share::Model,
    facts: &ShareFacts,
) -> Result<String, AppError> {
    let target = ShareTarget::parse(&share.target).unwrap_or(ShareTarget::Shop);
    let channel = ShareChannel::parse(&share.channel).unwrap_or(ShareChannel::Friend);
    let template = template(app.db.conn(), target, channel).await?;
    Ok(copy::render(&template, &facts.copy))
}

/// The poster's URL: rendered on first use, then served from the media store under its
/// content key (the same facts give the same key, so a changed price or a place taken makes
/// a new poster and an unchanged one is never drawn twice, on any instance).
pub async fn poster_url(
    app: &AppState,
    share: &share::Model,
    facts: &ShareFacts,
    link: &str,
) -> Result<String, AppError> {
    let picture = |key: &Option<String>| {
        let key = key.clone();
        async move {
            match key {
                Some(k) => app.media.get(&k).await.map_err(AppError::Internal),
                None => Ok(None),
            }
        }
    };
    let c = &facts.copy;
    let poster_facts = PosterFacts {
        title: c
            .name
            .clone()
            .unwrap_or_else(|| app.config.shop_name.clone()),
        selling_point: c.selling_point.clone(),
        price: c.price.clone().unwrap_or_default(),
        original_price: c.market_price.clone(),
        group_price: c.group_price.as_ref().map(|p| format!("拼团价 {p}")),
        badge: facts.badge.clone(),
        sharer_name: c.sharer.clone().unwrap_or_default(),
        sharer_avatar: picture(&facts.avatar_key).await?,
        product_image: picture(&facts.image_key).await?,
        link: link.to_string(),
        code_image: mini_program_code(app, &share.code).await?,
    };
    let key = format!("posters/{}.png", poster::content_key(&poster_facts));
    if app.sharing.stored_posters.lock().get(&key).is_some() {
        return Ok(app.media.url(&key));
    }
    if app
        .media
        .get(&key)
        .await
        .map_err(AppError::Internal)?
        .is_none()
    {
        let png = tokio::task::spawn_blocking(move || {
            poster::render(&poster_facts, PosterFont::bundled())
        })
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(e.into()))?;
        app.media
            .put(&key, &png, "image/png")
            .await
            .map_err(AppError::Internal)?;
    }
    app.sharing.stored_posters.lock().insert(key.clone(), (), 1);
    Ok(app.media.url(&key))
}

/// The mini-program code for a share code, when the mini-program is configured: fetched from
/// WeChat once and kept in the media store. `None` (the poster draws a QR code of the link)
/// when it is not configured, or when WeChat fails — a poster is never refused for that.
async fn mini_program_code(app: &AppState, scene: &str) -> Result<Option<Vec<u8>>, AppError> {
    let config = &app.config;
    let (Some(appid), Some(secret)) = (&config.wechat_appid, &config.wechat_secret) else {
        return Ok(None);
    };
    let page = &config.wechat_share_page;
    let digest = hex::encode(Sha256::digest(
        format!("{appid}\n{page}\n{scene}").as_bytes(),
    ));
    let key = format!("wxacode/{digest}.png");
    if let Some(bytes) = app.media.get(&key).await.map_err(AppError::Internal)? {
        return Ok(Some(bytes));
    }
    let wechat = WechatApp {
        http: &app.http,
        api_base: &config.wechat_api_base,
        appid,
        secret,
    };
    match app
        .sharing
        .wechat_token
        .unlimited_code(&wechat, scene, page)
        .await
    {
        Ok(bytes) => {
            app.media
                .put(&key, &bytes, "image/png")
                .await
                .map_err(AppError::Internal)?;
            Ok(Some(bytes))
        }
        Err(e) => {
            tracing::warn!(error = %e, "mini-program code unavailable; the poster carries a QR code");
            Ok(None)
        }
    }
}

/// What opening a share did.
pub struct Opened {
    pub share: share::Model,
    /// The visitor was bound to the sharer (a distributor) by this visit.
    pub bound: bool,
}

/// Someone opened the share with `code` (`visitor` when signed in). `None` for an unknown
/// code (nothing is written).
pub async fn open(
    app: &AppState,
    code: &str,
    visitor: Option<i64>,
) -> Result<Option<Opened>, AppError> {
    let code = code.trim().to_ascii_uppercase();
    let tx = app.db.begin_write().await?;
    let Some(found) = share::Entity::find()
        .filter(share::Column::Code.eq(code))
        .one(&*tx)
        .await?
    else {
        return Ok(None);
    };
    let mut bound = false;
    if let Some(v) = visitor.filter(|v| *v != found.sharer_user_id) {
        share_open::ActiveModel {
            share_id: Set(found.id),
            visitor_user_id: Set(v),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&*tx)
        .await?;
        for l in &app.share_listeners {
            l.on_share_visit(app, &tx, found.sharer_user_id, v).await?;
        }
        bound = bind_to_distributor(&tx, &found, v).await?;
    }
    share::Entity::update_many()
        .col_expr(
            share::Column::Visits,
            Expr::col(share::Column::Visits).add(1),
        )
        .col_expr(
            share::Column::Bindings,
            Expr::col(share::Column::Bindings).add(i64::from(bound)),
        )
        .filter(share::Column::Id.eq(found.id))
        .exec(&*tx)
        .await?;
    let after = share::Entity::find_by_id(found.id).one(&*tx).await?;
    tx.commit().await?;
    Ok(after.map(|share| Opened { share, bound }))
}

/// A distributor's share binds its visitor by the shop's binding mode; `true` when the visitor
/// is now bound to the sharer and was not before.
async fn bind_to_distributor(
    tx: &WriteTx,
    share: &share::Model,
    visitor: i64,
) -> Result<bool, AppError> {
    let Some(active) = team::active(&**tx, share.sharer_user_id).await? else {
        return Ok(false);
    };
    let settings = crate::distribution::settings::load(&**tx).await?;
    let before = team::bound_distributor(&**tx, visitor, Utc::now()).await?;
    let product = (share.target == ShareTarget::Product.as_str()).then_some(share.target_id);
    let after = team::touch(tx, &settings, visitor, &active, product).await?;
    Ok(
        matches!(after, Ok(Some(b)) if b.distributor_user_id == active.user_id)
            && before != Some(active.user_id),
    )
}

/// Credits a paid order to the share its buyer opened last within the window before placing
/// it; nothing when there is none or the order was credited already.
pub async fn credit_order(
    app: &AppState,
    tx: &WriteTx,
    order: &entity::order::Model,
) -> Result<(), AppError> {
    let window = Duration::days(i64::from(app.config.share_order_window_days));
    let opens = share_open::Entity::find()
        .filter(share_open::Column::VisitorUserId.eq(order.user_id))
        .filter(share_open::Column::CreatedAt.gte(order.created_at - window))
        .filter(share_open::Column::CreatedAt.lte(order.created_at))
        .order_by_desc(share_open::Column::CreatedAt)
        .order_by_desc(share_open::Column::Id)
        .limit(1)
        .one(&**tx)
        .await?;
    let Some(opened) = opens else {
        return Ok(());
    };
    let credited = share_order::Entity::insert(share_order::ActiveModel {
        order_id: Set(order.id),
        share_id: Set(opened.share_id),
        amount_fen: Set(order.pay_amount_fen),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(share_order::Column::OrderId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&**tx)
    .await?;
    if credited == 1 {
        share::Entity::update_many()
            .col_expr(
                share::Column::Orders,
                Expr::col(share::Column::Orders).add(1),
            )
            .col_expr(
                share::Column::SalesFen,
                Expr::col(share::Column::SalesFen).add(order.pay_amount_fen),
            )
            .filter(share::Column::Id.eq(opened.share_id))
            .exec(&**tx)
            .await?;
    }
    Ok(())
}

/// A refund of a credited order takes its amount off the share's sales.
pub async fn refund_credited(
    tx: &WriteTx,
    order_id: i64,
    refunded_fen: i64,
) -> Result<(), AppError> {
    let Some(credited) = share_order::Entity::find_by_id(order_id).one(&**tx).await? else {
        return Ok(());
    };
    share::Entity::update_many()
        .col_expr(
            share::Column::SalesFen,
            Expr::col(share::Column::SalesFen).sub(refunded_fen),
        )
        .filter(share::Column::Id.eq(credited.share_id))
        .exec(&**tx)
        .await?;
    Ok(())
}

/// The caller's funnel over all their shares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Funnel {
    pub shares: i64,
    pub visits: i64,
    pub bindings: i64,
    pub orders: i64,
    pub sales_fen: i64,
}

#[derive(sea_orm::FromQueryResult)]
struct FunnelRow {
    shares: i64,
    visits: i64,
    bindings: i64,
    orders: i64,
    sales_fen: i64,
}

/// The sharer's funnel over all their shares, and their `first` busiest shares.
pub async fn stats(
    conn: &impl ConnectionTrait,
    sharer: i64,
    first: u64,
) -> Result<(Funnel, Vec<share::Model>), AppError> {
    let total = FunnelRow::find_by_statement(crate::db::stmt(
        conn.get_database_backend(),
        "SELECT CAST(COUNT(*) AS BIGINT) AS shares, \
         CAST(COALESCE(SUM(visits), 0) AS BIGINT) AS visits, \
         CAST(COALESCE(SUM(bindings), 0) AS BIGINT) AS bindings, \
         CAST(COALESCE(SUM(orders), 0) AS BIGINT) AS orders, \
         CAST(COALESCE(SUM(sales_fen), 0) AS BIGINT) AS sales_fen \
         FROM shares WHERE sharer_user_id = $1",
        vec![sharer.into()],
    ))
    .one(conn)
    .await?
    .map(|r| Funnel {
        shares: r.shares,
        visits: r.visits,
        bindings: r.bindings,
        orders: r.orders,
        sales_fen: r.sales_fen,
    })
    .unwrap_or_default();
    let busiest = share::Entity::find()
        .filter(share::Column::SharerUserId.eq(sharer))
        .order_by_desc(share::Column::Visits)
        .order_by_desc(share::Column::Id)
        .limit(first)
        .all(conn)
        .await?;
    Ok((total, busiest))
}

/// The facts of a share's target and sharer; `None` when the target is not there to share (an
/// unknown product or one not on sale, an unknown group).
pub async fn gather_facts(
    app: &AppState,
    target: ShareTarget,
    target_id: i64,
    sharer: i64,
) -> Result<Option<ShareFacts>, AppError> {
    let conn = app.db.conn();
    let mut facts = ShareFacts::default();
    let product_id = match target {
        ShareTarget::Shop => None,
        ShareTarget::Product => Some(target_id),
        ShareTarget::Group => {
            let Some(group) = crate::group_buying::service::group(conn, target_id).await? else {
                return Ok(None);
            };
            let Some(campaign) =
                crate::group_buying::service::campaign(conn, group.campaign_id).await?
            else {
                return Ok(None);
            };
            let prices = crate::group_buying::service::group_prices(conn, campaign.id).await?;
            let open = group.status == "OPEN";
            let places_left = group.size - group.taken;
            let hours_left = (group.deadline - Utc::now()).num_minutes().div_euclid(60) + 1;
            facts.copy.group_price = prices.values().min().map(|fen| yuan_text(*fen));
            facts.copy.group_size = Some(group.size);
            facts.copy.places_left = open.then_some(places_left);
            facts.copy.hours_left = open.then_some(hours_left);
            facts.badge = Some(if open && places_left > 0 {
                format!("{}人团 · 还差{places_left}人", group.size)
            } else {
                format!("{}人团", group.size)
            });
            Some(campaign.product_id)
        }
    };
    if let Some(id) = product_id {
        let bundles = app.catalog.bundles(conn, &[id]).await?;
        let Some(bundle) = bundles.get(&id) else {
            return Ok(None);
        };
        if bundle.product.status != crate::catalog::rules::ProductStatus::OnSale.as_str() {
            return Ok(None);
        }
        let cheapest = bundle
            .skus
            .iter()
            .filter(|s| s.active)
            .min_by_key(|s| (s.price_fen, s.id));
        facts.copy.name = Some(bundle.product.name.clone());
        facts.copy.selling_point = Some(bundle.product.subtitle.clone()).filter(|s| !s.is_empty());
        facts.copy.price = cheapest.map(|s| yuan_text(s.price_fen));
        facts.copy.market_price = cheapest
            .and_then(|s| s.market_price_fen.filter(|m| *m > s.price_fen))
            .map(yuan_text);
        facts.image_key = bundle.images.first().map(|i| i.storage_key.clone());
    }
    facts.copy.shop = Some(app.config.shop_name.clone());
    if let Some(user) = entity::user::Entity::find_by_id(sharer).one(conn).await? {
        facts.avatar_key = user
            .avatar_url
            .as_deref()
            .and_then(|u| own_media_key(app, u));
        facts.copy.sharer = Some(user.nickname);
    }
    Ok(Some(facts))
}
