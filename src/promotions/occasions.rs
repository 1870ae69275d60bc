//! Coupons given without anyone asking: to a new customer in the transaction that registers
//! them (新人券), and to members on their birthday by a daily job. Each occasion gives at most
//! one coupon per template and member — the key of its `coupon_grants` row decides that, also
//! when two instances run the job at once — and never more than the template's total.
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use entity::coupon_template;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::service::{self, STATUS_ACTIVE};
use crate::{app::AppState, db::WriteTx, error::AppError, error::ServiceError};

/// When a template gives its coupons by itself.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "CouponOccasion")]
pub enum Occasion {
    /// When a customer registers, by phone or by WeChat (新人券).
    Registration,
    /// On a member's birthday in shop time, once a year (29 February: on the 28th in other
    /// years).
    Birthday,
}

impl Occasion {
    pub fn as_str(self) -> &'static str {
        match self {
            Occasion::Registration => "REGISTRATION",
            Occasion::Birthday => "BIRTHDAY",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "REGISTRATION" => Some(Occasion::Registration),
            "BIRTHDAY" => Some(Occasion::Birthday),
            _ => None,
        }
    }
}

/// The active templates given on `occasion`.
async fn issued_on(
    conn: &impl ConnectionTrait,
    occasion: Occasion,
) -> Result<Vec<coupon_template::Model>, AppError> {
    Ok(coupon_template::Entity::find()
        .filter(coupon_template::Column::IssueOn.eq(occasion.as_str()))
        .filter(coupon_template::Column::Status.eq(STATUS_ACTIVE))
        .all(conn)
        .await?)
}

/// Gives `user_id` one coupon of each of `templates` (those issued on `occasion`) whose audience
/// they are in, in the caller's transaction. `key` names this occurrence of the occasion (a
/// birthday's year), so a template gives once per member and occurrence however often this runs.
/// A template that has none left gives nothing and writes nothing. Returns the coupons given.
pub async fn give_on_occasion(
    app: &AppState,
    tx: &WriteTx,
    user_id: i64,
    occasion: Occasion,
    key: &str,
    templates: &[coupon_template::Model],
) -> Result<usize, AppError> {
    let now = Utc::now();
    let backend = tx.get_database_backend();
    let mut given = 0;
    for t in templates {
        let ended = t.valid_until.is_some_and(|u| u <= now);
        if ended
            || t.issued_count >= t.total_quantity
            || !service::eligible(app, t, user_id).await?
        {
            continue;
        }
        let granted = tx
            .execute_raw(crate::db::stmt(
                backend,
                "INSERT INTO coupon_grants (template_id, user_id, occasion, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                [t.id.into(), user_id.into(), key.into(), now.into()],
            ))
            .await?;
        if granted.rows_affected() == 0 {
            continue;
        }
        match service::take_one(tx, t).await {
            Ok(()) => {}
            // Given out meanwhile: no coupon, and no grant either.
            Err(ServiceError::User(_)) => {
                tx.execute_raw(crate::db::stmt(
                    backend,
                    "DELETE FROM coupon_grants WHERE template_id = $1 AND user_id = $2 AND occasion = $3",
                    [t.id.into(), user_id.into(), key.into()],
                ))
                .await?;
                continue;
            }
            Err(ServiceError::App(e)) => return Err(e),
        }
        service::insert_coupon(tx, t, user_id, occasion.as_str(), now).await?;
        given += 1;
    }
    Ok(given)
}

/// Gives the birthday coupons of everyone whose birthday it is today (shop time), one
/// transaction per member; returns the coupons given.
pub async fn give_birthday_coupons(app: &AppState, now: DateTime<Utc>) -> Result<usize, AppError> {
    // Read once for the run: what is left and whether a template stopped are decided again by
    // the conditional writes of each gift.
    let templates = issued_on(app.db.conn(), Occasion::Birthday).await?;
    if templates.is_empty() {
        return Ok(0);
    }
    let today = crate::shop_time::shop_day(now, app.config.business_utc_offset_hours);
    let key = format!("BIRTHDAY:{}", today.year());
    let mut given = 0;
    for user_id in crate::accounts::service::birthdays_on(app, today).await? {
        let tx = app.db.begin_write().await?;
        given += give_on_occasion(app, &tx, user_id, Occasion::Birthday, &key, &templates).await?;
        tx.commit().await?;
    }
    Ok(given)
}

/// New customers' coupons (新人券), in the registration's transaction.
pub struct WelcomeCoupons;

#[async_trait::async_trait]
impl crate::accounts::RegistrationListener for WelcomeCoupons {
    async fn on_registered(
        &self,
        app: &AppState,
        tx: &WriteTx,
        user: &entity::user::Model,
    ) -> Result<(), AppError> {
        let templates = issued_on(&**tx, Occasion::Registration).await?;
        give_on_occasion(
            app,
            tx,
            user.id,
            Occasion::Registration,
            "REGISTRATION",
            &templates,
        )
        .await?;
        Ok(())
    }
}

/// The birthday job: on one instance at a time (a lease), and idempotent (the grants' keys).
pub fn spawn_jobs(app: &Arc<AppState>) {
    let every = std::time::Duration::from_secs(app.config.points_job_interval_secs.max(1));
    crate::jobs::spawn(app, "promotions.birthday", every, |app| async move {
        give_birthday_coupons(&app, Utc::now()).await?;
        Ok(())
    });
}
