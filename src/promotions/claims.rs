//! Coupon-centre claims, committed in groups (`group_commit`): a popular template is claimed by
//! thousands at the same moment, and one transaction per claim queues them all behind SQLite's
//! single writer and, on PostgreSQL, behind the template row's lock. A group takes each
//! template's row once (locked on PostgreSQL, in a fixed order so that instances never wait on
//! each other in a cycle), hands out what is left in the order the claims arrived — each still
//! passing the per-user counter's conditional upsert — and raises `issued_count` once by what
//! it gave. The total is never passed: the count is read and raised under the row's lock.
use std::sync::Arc;

use chrono::Utc;
use entity::{coupon, coupon_template};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, QuerySelect};

use super::{
    errors::{PromotionErrorCode as Code, PromotionResult, reject},
    service::{self, STATUS_ACTIVE},
};
use crate::{
    app::AppState,
    error::AppError,
    group_commit::{GroupCommit, GroupQueue},
};

/// One claim: a user asking for one coupon of a template.
#[derive(Clone, Copy, Debug)]
pub struct Claim {
    pub template_id: i64,
    pub user_id: i64,
}

pub struct Claims;

impl GroupCommit for Claims {
    type Request = Claim;
    type Answer = PromotionResult<coupon::Model>;
    type Writer = ();

    async fn commit(
        app: &AppState,
        _: &(),
        claims: &[Claim],
    ) -> Result<Vec<Self::Answer>, AppError> {
        claim_together(app, claims).await
    }

    fn failed(e: AppError) -> Self::Answer {
        Err(e.into())
    }
}

/// The claims waiting on this instance.
pub type ClaimQueue = GroupQueue<Claims>;

/// Claims one coupon of `template_id` for `user_id` in the coupon centre.
pub async fn claim(
    app: &Arc<AppState>,
    template_id: i64,
    user_id: i64,
) -> PromotionResult<coupon::Model> {
    // Who may claim is read before queueing; what is left and the per-user limit are decided
    // by the group's writes.
    service::givable(app, template_id, user_id, service::SOURCE_CLAIMED).await?;
    app.coupon_claims
        .submit(
            app,
            Claim {
                template_id,
                user_id,
            },
        )
        .await?
}

async fn claim_together(
    app: &AppState,
    claims: &[Claim],
) -> Result<Vec<PromotionResult<coupon::Model>>, AppError> {
    let now = Utc::now();
    let mut answers: Vec<Option<PromotionResult<coupon::Model>>> =
        claims.iter().map(|_| None).collect();
    let mut template_ids: Vec<i64> = claims.iter().map(|c| c.template_id).collect();
    template_ids.sort_unstable();
    template_ids.dedup();

    let tx = app.db.begin_write().await?;
    let backend = tx.get_database_backend();
    for template_id in template_ids {
        let mut find = coupon_template::Entity::find_by_id(template_id);
        if backend == DatabaseBackend::Postgres {
            // SQLite's write transaction already excludes every other writer.
            find = find.lock_exclusive();
        }
        let template = find.one(&*tx).await?;
        let mut left = template
            .as_ref()
            .map_or(0, |t| t.total_quantity - t.issued_count);
        let mut given = 0_i64;
        for (i, c) in claims.iter().enumerate() {
            if c.template_id != template_id {
                continue;
            }
            answers[i] = Some(match &template {
                None => reject(
                    Code::TemplateNotFound,
                    "templateId",
                    "no such coupon template",
                ),
                Some(t) if t.status != STATUS_ACTIVE || t.valid_until.is_some_and(|u| u <= now) => {
                    reject(
                        Code::TemplateUnavailable,
                        "templateId",
                        "this coupon is no longer given out",
                    )
                }
                Some(_) if left <= 0 => service::sold_out(),
                Some(t) => {
                    if service::count_claim(&tx, t, c.user_id).await? {
                        left -= 1;
                        given += 1;
                        Ok(
                            service::insert_coupon(&tx, t, c.user_id, service::SOURCE_CLAIMED, now)
                                .await?,
                        )
                    } else {
                        service::limit_reached(t)
                    }
                }
            });
        }
        if given > 0 {
            let raised = tx
                .execute_raw(crate::db::stmt(
                    backend,
                    "UPDATE coupon_templates SET issued_count = issued_count + $1 \
                     WHERE id = $2 AND issued_count + $1 <= total_quantity",
                    [given.into(), template_id.into()],
                ))
                .await?;
            if raised.rows_affected() == 0 {
                // Cannot happen under the row's lock; if it did, nothing of the group is kept.
                return Err(AppError::internal(anyhow::anyhow!(
                    "coupon template {template_id} changed under its lock"
                )));
            }
        }
    }
    tx.commit().await?;
    Ok(answers
        .into_iter()
        .map(|a| a.expect("every claim is answered"))
        .collect())
}
