//! Parcel tracking. Carrier pushes (`/webhooks/logistics`, Kuaidi100's signed form) and the
//! polling fallback (a `TrackingProvider`, for parcels no push mentioned for a while) end in the
//! same `apply`: it appends each tracking event once (a unique dedupe key), moves the shipment
//! forward (never back) and the order after it, `SHIPPED → IN_TRANSIT → DELIVERED`, in one
//! transaction.
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use entity::{order, shipment, tracking_event};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TryInsertResult,
    sea_query::{Expr, ExprTrait, Query},
};
use sha2::{Digest, Sha256};

use super::{
    fulfilment::{self, ShipmentStatus},
    lifecycle::{self, Actor, Change, status_of},
    rules::OrderStatus,
};
use crate::{
    app::AppState,
    config::{Config, TrackingProviderKind},
    db::WriteTx,
    error::AppError,
    logistics::kuaidi100::{self, Kuaidi100Error, TrackingEntry, TrackingState},
};

/// One scan of a parcel, from whichever source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackingUpdate {
    pub occurred_at: DateTime<Utc>,
    /// The carrier's description (`【杭州市】快件已签收`).
    pub context: String,
    /// Kuaidi100's state code (`0` 在途, `3` 签收…; see `kuaidi100::TrackingState`).
    pub state: Option<String>,
    pub area: Option<String>,
}

impl TrackingUpdate {
    /// How far this scan says the parcel is, if it says.
    pub fn stage(&self) -> Option<ShipmentStatus> {
        let state = TrackingState::from_code(self.state.as_deref()?);
        if state.is_delivered() {
            Some(ShipmentStatus::Delivered)
        } else if state.is_in_transit() {
            Some(ShipmentStatus::InTransit)
        } else {
            None
        }
    }
}

/// Kuaidi100 entries (newest first) as updates. Entries carry their own state code only with
/// `resultv2`; the parcel's state is the newest entry's, so it fills in there.
pub fn from_kuaidi100(state: &str, entries: &[TrackingEntry]) -> Vec<TrackingUpdate> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| TrackingUpdate {
            occurred_at: e.time,
            context: e.context.clone(),
            state: e
                .status_code
                .clone()
                .or_else(|| (i == 0 && !state.is_empty()).then(|| state.to_string())),
            area: e.area_name.clone(),
        })
        .collect()
}

/// The parcel a provider is asked about.
pub struct Parcel<'a> {
    pub carrier: &'a str,
    pub tracking_no: &'a str,
    /// The recipient's phone (SF Express answers only with it).
    pub phone: Option<&'a str>,
    pub shipped_at: DateTime<Utc>,
    /// The recipient's city, for the simulator's story.
    pub destination: Option<&'a str>,
}

/// A source of tracking for the polling fallback.
#[async_trait::async_trait]
pub trait TrackingProvider: Send + Sync {
    /// Every scan known for the parcel (any order; already stored ones are skipped by `apply`).
    async fn track(&self, parcel: &Parcel<'_>) -> Result<Vec<TrackingUpdate>, AppError>;
}

/// Kuaidi100's real-time query.
pub struct Kuaidi100Provider {
    pub http: reqwest::Client,
    pub base_url: String,
    pub customer: String,
    pub key: String,
}

#[async_trait::async_trait]
impl TrackingProvider for Kuaidi100Provider {
    async fn track(&self, parcel: &Parcel<'_>) -> Result<Vec<TrackingUpdate>, AppError> {
        match kuaidi100::query(
            &self.http,
            &self.base_url,
            &self.customer,
            &self.key,
            parcel.carrier,
            parcel.tracking_no,
            parcel.phone,
        )
        .await
        {
            Ok(r) => Ok(from_kuaidi100(&r.state, &r.data)),
            // Normal for a parcel the carrier has not scanned yet.
            Err(e) if e.is_no_result() => Ok(Vec::new()),
            Err(e) => Err(AppError::internal(e)),
        }
    }
}

/// A believable made-up journey for demos: 揽收 → 运输中 → 派件 → 签收 over about a day and a
/// half after shipping, told in Kuaidi100's state codes so it takes the real code path.
pub struct Simulator;

/// (minutes after shipping, state code, what the carrier says, where). `{to}` is the
/// recipient's city.
const SIMULATED: [(i64, &str, &str, &str); 5] = [
    (
        90,
        "1",
        "【深圳市】快件已由【深圳南山营业部】揽收，准备发往【深圳转运中心】",
        "广东,深圳市",
    ),
    (
        6 * 60,
        "0",
        "【深圳市】快件已从【深圳转运中心】发出，下一站【{to}转运中心】",
        "广东,深圳市",
    ),
    (20 * 60, "0", "【{to}】快件已到达【{to}转运中心】", "{to}"),
    (
        28 * 60,
        "5",
        "【{to}】快递员正在为您派件，请保持电话畅通",
        "{to}",
    ),
    (
        32 * 60,
        "3",
        "【{to}】快件已签收，签收人：本人。感谢使用，期待再次为您服务",
        "{to}",
    ),
];

impl Simulator {
    /// The scans that have happened by `now`, oldest first.
    pub fn timeline(parcel: &Parcel<'_>, now: DateTime<Utc>) -> Vec<TrackingUpdate> {
        let to = parcel.destination.unwrap_or("目的地");
        SIMULATED
            .iter()
            .map(|(minutes, code, text, area)| TrackingUpdate {
                occurred_at: parcel.shipped_at + Duration::minutes(*minutes),
                context: text.replace("{to}", to),
                state: Some((*code).to_string()),
                area: Some(area.replace("{to}", to)),
            })
            .filter(|u| u.occurred_at <= now)
            .collect()
    }
}

#[async_trait::async_trait]
impl TrackingProvider for Simulator {
    async fn track(&self, parcel: &Parcel<'_>) -> Result<Vec<TrackingUpdate>, AppError> {
        Ok(Self::timeline(parcel, Utc::now()))
    }
}

/// The polling fallback's source, as configured (`None`: no polling).
pub fn provider_from_config(
    config: &Config,
    http: reqwest::Client,
) -> Option<Arc<dyn TrackingProvider>> {
    match config.tracking_provider_kind() {
        TrackingProviderKind::Kuaidi100 => Some(Arc::new(Kuaidi100Provider {
            http,
            base_url: config.kuaidi100_base_url.clone(),
            customer: config.kuaidi100_customer.clone().unwrap_or_default(),
            key: config.kuaidi100_key.clone().unwrap_or_default(),
        })),
        TrackingProviderKind::Simulator => Some(Arc::new(Simulator)),
        TrackingProviderKind::Off => None,
    }
}

/// Same shipment, time and text: the same event, however often it is pushed or polled.
pub fn dedupe_key(shipment_id: i64, u: &TrackingUpdate) -> String {
    let mut h = Sha256::new();
    h.update(format!("{shipment_id}\n{}\n", u.occurred_at.timestamp()).as_bytes());
    h.update(u.context.as_bytes());
    hex::encode(h.finalize())
}

fn truncated(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Records what a source says about a shipment and moves the shipment and its order on, in one
/// transaction. Idempotent: a repeated update appends nothing and moves nothing. Returns how
/// many events were new.
pub async fn apply(
    app: &AppState,
    shipment_id: i64,
    updates: &[TrackingUpdate],
) -> Result<usize, AppError> {
    let tx = app.db.begin_write().await?;
    let now = Utc::now();
    // Touching the row first reads it under its lock: two pushes for one parcel applied at the
    // same time see each other's status, so neither can move it back.
    let Some(parcel) = shipment::Entity::update_many()
        .col_expr(shipment::Column::LastTrackedAt, Expr::value(now))
        .col_expr(shipment::Column::UpdatedAt, Expr::value(now))
        .filter(shipment::Column::Id.eq(shipment_id))
        .exec_with_returning(&*tx)
        .await?
        .pop()
    else {
        return Ok(0);
    };
    let mut appended = 0;
    for u in updates {
        let row = tracking_event::ActiveModel {
            shipment_id: Set(parcel.id),
            occurred_at: Set(u.occurred_at),
            context: Set(truncated(&u.context, 500)),
            state: Set(u.state.as_deref().map(|s| truncated(s, 16))),
            area: Set(u.area.as_deref().map(|a| truncated(a, 64))),
            dedupe_key: Set(dedupe_key(parcel.id, u)),
            created_at: Set(now),
            ..Default::default()
        };
        if let TryInsertResult::Inserted(n) = tracking_event::Entity::insert(row)
            .on_conflict_do_nothing_on([tracking_event::Column::DedupeKey])
            .exec_without_returning(&*tx)
            .await?
        {
            appended += n as usize;
        }
    }

    let furthest = updates.iter().filter_map(TrackingUpdate::stage).max();
    if let Some(stage) = furthest
        && stage > ShipmentStatus::of(&parcel)
    {
        let mut forward = shipment::Entity::update_many()
            .col_expr(shipment::Column::Status, Expr::value(stage.as_str()));
        if stage == ShipmentStatus::Delivered {
            // The first 签收 scan is when it was delivered.
            let signed = updates
                .iter()
                .filter(|u| u.stage() == Some(ShipmentStatus::Delivered))
                .map(|u| u.occurred_at)
                .min();
            forward = forward.col_expr(shipment::Column::DeliveredAt, Expr::value(signed));
        }
        forward
            .filter(shipment::Column::Id.eq(parcel.id))
            .exec(&*tx)
            .await?;
    }

    let newest = updates.iter().max_by_key(|u| u.occurred_at);
    let note = match newest {
        Some(u) => format!("{} {}: {}", parcel.carrier, parcel.tracking_no, u.context),
        None => format!("{} {}", parcel.carrier, parcel.tracking_no),
    };
    advance_order(
        app,
        &tx,
        parcel.order_id,
        &note.chars().take(500).collect::<String>(),
    )
    .await?;
    tx.commit().await?;
    Ok(appended)
}

/// Moves the order after its parcels: DELIVERED when every parcel is signed for and nothing is
/// left to ship, else IN_TRANSIT once any parcel moves. Run on every update, so an order that was
/// in REFUNDING when its parcel moved catches up on the next one.
async fn advance_order(
    app: &AppState,
    tx: &WriteTx,
    order_id: i64,
    note: &str,
) -> Result<(), AppError> {
    let Some(current) = order::Entity::find_by_id(order_id).one(&**tx).await? else {
        return Ok(());
    };
    let status = status_of(&current);
    if !matches!(status, OrderStatus::Shipped | OrderStatus::InTransit) {
        return Ok(());
    }
    let parcels: Vec<ShipmentStatus> = shipment::Entity::find()
        .filter(shipment::Column::OrderId.eq(order_id))
        .all(&**tx)
        .await?
        .iter()
        .map(ShipmentStatus::of)
        .collect();
    if parcels.iter().all(|p| *p == ShipmentStatus::Delivered)
        && fulfilment::deliver(app, tx, &current, Actor::SYSTEM, note)
            .await?
            .is_some()
    {
        return Ok(());
    }
    if status == OrderStatus::Shipped && parcels.iter().any(|p| *p != ShipmentStatus::Shipped) {
        let change = Change::to(OrderStatus::InTransit, Actor::SYSTEM).note(Some(note));
        lifecycle::transition(app, tx, &current, change).await?;
    }
    Ok(())
}

/// What became of a push.
#[derive(Debug)]
pub enum PushOutcome {
    /// Recorded.
    Applied,
    /// Verified, but no shipment has this number: acknowledged so Kuaidi100 stops retrying.
    UnknownParcel,
    /// No salt is configured: nothing can be verified, so nothing is accepted.
    NotConfigured,
    /// Not signed with our salt.
    BadSignature,
    Malformed(String),
}

/// Verifies and records a Kuaidi100 push (the raw form body).
pub async fn receive_push(app: &AppState, form_body: &str) -> Result<PushOutcome, AppError> {
    let Some(salt) = app
        .config
        .kuaidi100_salt
        .as_deref()
        .filter(|s| !s.is_empty())
    else {
        return Ok(PushOutcome::NotConfigured);
    };
    let push = match kuaidi100::verify_push(form_body, salt) {
        Ok(p) => p,
        Err(Kuaidi100Error::BadSignature) => return Ok(PushOutcome::BadSignature),
        Err(e) => return Ok(PushOutcome::Malformed(e.to_string())),
    };
    let last = &push.last_result;
    let Some(number) = fulfilment::normalize_tracking_no(&last.nu) else {
        return Ok(PushOutcome::Malformed("no tracking number".into()));
    };
    // Kuaidi100 may have corrected the carrier code since the parcel was shipped.
    let carriers: Vec<String> = [
        Some(&last.com),
        push.com_old.as_ref(),
        push.com_new.as_ref(),
    ]
    .into_iter()
    .flatten()
    .filter_map(|c| fulfilment::normalize_carrier(c))
    .collect();
    let Some(parcel) = shipment::Entity::find()
        .filter(shipment::Column::TrackingNo.eq(number.as_str()))
        .filter(shipment::Column::Carrier.is_in(carriers))
        .one(app.db.conn())
        .await?
    else {
        tracing::info!(carrier = %last.com, tracking_no = %number, "push for an unknown parcel ignored");
        return Ok(PushOutcome::UnknownParcel);
    };
    apply(app, parcel.id, &from_kuaidi100(&last.state, &last.data)).await?;
    Ok(PushOutcome::Applied)
}

/// Most parcels one polling run asks about.
const POLL_BATCH: u64 = 50;

/// The polling fallback: asks `provider` about parcels still on their way (their order SHIPPED
/// or IN_TRANSIT) that nothing has reported on for `tracking_poll_stale_hours`, and applies the
/// answers like a push. A failed query still counts as an attempt, so an outage is not retried
/// on every run. Returns how many parcels were asked about.
pub async fn poll_stale(
    app: &AppState,
    provider: &dyn TrackingProvider,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let cutoff = now - Duration::hours(i64::from(app.config.tracking_poll_stale_hours));
    let moving_orders = Query::select()
        .column(order::Column::Id)
        .from(order::Entity)
        .and_where(order::Column::Status.is_in([
            OrderStatus::Shipped.as_str(),
            OrderStatus::InTransit.as_str(),
        ]))
        .to_owned();
    let stale = shipment::Entity::find()
        .filter(shipment::Column::Status.ne(ShipmentStatus::Delivered.as_str()))
        .filter(
            Condition::any()
                .add(shipment::Column::LastTrackedAt.lte(cutoff))
                .add(
                    Condition::all()
                        .add(shipment::Column::LastTrackedAt.is_null())
                        .add(shipment::Column::ShippedAt.lte(cutoff)),
                ),
        )
        .filter(Expr::col(shipment::Column::OrderId).in_subquery(moving_orders))
        .order_by_asc(shipment::Column::Id)
        .limit(POLL_BATCH)
        .all(app.db.conn())
        .await?;
    if stale.is_empty() {
        return Ok(0);
    }
    let orders = order::Entity::find()
        .filter(order::Column::Id.is_in(stale.iter().map(|s| s.order_id)))
        .all(app.db.conn())
        .await?;
    for s in &stale {
        let o = orders.iter().find(|o| o.id == s.order_id);
        let parcel = Parcel {
            carrier: &s.carrier,
            tracking_no: &s.tracking_no,
            phone: o.map(|o| o.phone.as_str()),
            shipped_at: s.shipped_at,
            destination: o.map(|o| o.city.as_str()),
        };
        let updates = provider.track(&parcel).await.unwrap_or_else(|e| {
            tracing::warn!(shipment = s.id, error = ?e, "tracking query failed");
            Vec::new()
        });
        apply(app, s.id, &updates).await?;
    }
    Ok(stale.len())
}

/// Subscribes a new parcel for Kuaidi100 pushes when a callback URL, key and salt are
/// configured. Runs after the shipment committed and never fails the shipment: if it does not
/// get through, the polling fallback tracks the parcel.
pub fn subscribe_in_background(app: &AppState, parcel: &shipment::Model, phone: &str) {
    let c = &app.config;
    let (Some(key), Some(salt), Some(callback)) = (
        c.kuaidi100_key.clone(),
        c.kuaidi100_salt.clone(),
        c.kuaidi100_callback_url.clone(),
    ) else {
        return;
    };
    let http = app.http.clone();
    let base_url = c.kuaidi100_base_url.clone();
    let (carrier, number, phone) = (
        parcel.carrier.clone(),
        parcel.tracking_no.clone(),
        phone.to_string(),
    );
    tokio::spawn(async move {
        if let Err(e) = kuaidi100::subscribe(
            &http,
            &base_url,
            &key,
            &carrier,
            &number,
            &callback,
            &salt,
            Some(&phone),
        )
        .await
        {
            tracing::warn!(%carrier, tracking_no = %number, error = %e, "kuaidi100 subscription failed; polling will track the parcel");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn update(state: Option<&str>, context: &str) -> TrackingUpdate {
        TrackingUpdate {
            occurred_at: at("2026-11-28T01:00:00Z"),
            context: context.into(),
            state: state.map(str::to_string),
            area: None,
        }
    }

    #[test]
    fn states_map_to_shipment_stages() {
        assert_eq!(
            update(Some("3"), "").stage(),
            Some(ShipmentStatus::Delivered)
        );
        assert_eq!(
            update(Some("301"), "").stage(),
            Some(ShipmentStatus::Delivered)
        );
        for code in ["0", "1", "5", "8"] {
            assert_eq!(
                update(Some(code), "").stage(),
                Some(ShipmentStatus::InTransit)
            );
        }
        for code in ["2", "4", "6", "14"] {
            assert_eq!(update(Some(code), "").stage(), None, "{code}");
        }
        assert_eq!(update(None, "").stage(), None);
    }

    #[test]
    fn the_parcel_state_belongs_to_the_newest_entry() {
        let entry = |context: &str, code: Option<&str>| TrackingEntry {
            context: context.into(),
            time: at("2026-11-28T01:00:00Z"),
            ftime: String::new(),
            status: None,
            status_code: code.map(str::to_string),
            area_name: None,
        };
        let updates = from_kuaidi100(
            "3",
            &[
                entry("已签收", None),
                entry("派件中", Some("5")),
                entry("已揽收", None),
            ],
        );
        let states: Vec<_> = updates.iter().map(|u| u.state.as_deref()).collect();
        assert_eq!(states, vec![Some("3"), Some("5"), None]);
    }

    #[test]
    fn the_dedupe_key_ignores_state_and_area() {
        let a = update(Some("0"), "到达杭州");
        let mut b = update(None, "到达杭州");
        b.area = Some("浙江".into());
        assert_eq!(dedupe_key(1, &a), dedupe_key(1, &b));
        assert_eq!(dedupe_key(1, &a).len(), 64);
        assert_ne!(dedupe_key(1, &a), dedupe_key(2, &a));
        assert_ne!(dedupe_key(1, &a), dedupe_key(1, &update(None, "离开杭州")));
    }

    #[test]
    fn the_simulator_tells_a_journey_up_to_now() {
        let shipped = at("2026-11-28T00:00:00Z");
        let parcel = Parcel {
            carrier: "yuantong",
            tracking_no: "YT1",
            phone: None,
            shipped_at: shipped,
            destination: Some("杭州市"),
        };
        assert!(Simulator::timeline(&parcel, shipped).is_empty());
        let half = Simulator::timeline(&parcel, shipped + Duration::hours(21));
        assert_eq!(half.len(), 3);
        assert_eq!(half[0].stage(), Some(ShipmentStatus::InTransit));
        assert!(
            half[2].context.contains("杭州市转运中心"),
            "{}",
            half[2].context
        );
        let all = Simulator::timeline(&parcel, shipped + Duration::days(3));
        let stages: Vec<_> = all.iter().map(TrackingUpdate::stage).collect();
        assert_eq!(stages.last().unwrap(), &Some(ShipmentStatus::Delivered));
        assert!(all.windows(2).all(|w| w[0].occurred_at < w[1].occurred_at));
        assert!(
            stages[..stages.len() - 1]
                .iter()
                .all(|s| *s == Some(ShipmentStatus::InTransit)),
            "signed for only at the end"
        );
    }
}
