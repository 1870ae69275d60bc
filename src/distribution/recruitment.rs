//! Recruitment: applications by the merchant's form and mode, staff review, and managing
//! distributors (disable, re-enable, edit, move in the tree).
use chrono::Utc;
use entity::{distributor, distributor_application, order, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, sea_query::Expr,
};
use serde_json::json;

use super::{
    errors::{DistributionErrorCode as Code, DistributionResult, reject, reject_whole},
    settings::{self, DistributionSettings, RecruitmentMode},
    team,
};
use crate::{
    accounts::service::{EVENT_UPDATED, account_event},
    app::AppState,
    db::WriteTx,
    error::AppError,
    notifications::service::{NewNotification, notify},
};

/// Where a distributor application is.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplicationStatus {
    /// Waiting for staff review (`REVIEW` recruitment).
    Pending,
    /// Approved: the applicant is a distributor.
    Approved,
    /// Rejected with a reason the applicant is told; they may apply again.
    Rejected,
}

impl ApplicationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Pending => "PENDING",
            ApplicationStatus::Approved => "APPROVED",
            ApplicationStatus::Rejected => "REJECTED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ApplicationStatus::Pending,
            ApplicationStatus::Approved,
            ApplicationStatus::Rejected,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// What the buyer has paid over all orders, net of refunds.
async fn cumulative_spend(tx: &WriteTx, user_id: i64) -> Result<i64, AppError> {
    let spent: Option<i64> = order::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(pay_amount_fen - refunded_fen), 0) AS BIGINT)"),
            "spent",
        )
        .filter(order::Column::UserId.eq(user_id))
        .filter(order::Column::PaidAt.is_not_null())
        .into_tuple()
        .one(&**tx)
        .await?;
    Ok(spent.unwrap_or(0))
}

/// The distributor who invites an applicant: the one whose code they gave, else the one they
/// are bound to. `Err` when a code was given and names nobody active.
async fn inviter_for(
    tx: &WriteTx,
    applicant: i64,
    code: Option<&str>,
) -> Result<Result<Option<i64>, ()>, AppError> {
    if let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) {
        return Ok(match team::by_code(&**tx, code).await? {
            Some(d) if d.user_id != applicant => Ok(Some(d.user_id)),
            _ => Err(()),
        });
    }
    Ok(Ok(
        team::bound_distributor(&**tx, applicant, Utc::now()).await?
    ))
}

/// Approves in `tx`: the distributor row, role, code and tree, the application marked, and the
/// applicant told.
async fn grant(
    tx: &WriteTx,
    application: distributor_application::Model,
    inviter: Option<i64>,
    reviewer: Option<i64>,
) -> Result<distributor_application::Model, AppError> {
    let created = team::create(tx, application.user_id, inviter).await?;
    let mut active: distributor_application::ActiveModel = application.into();
    active.status = Set(ApplicationStatus::Approved.as_str().into());
    active.reviewed_by = Set(reviewer);
    active.reviewed_at = Set(Some(Utc::now()));
    let application = active.update(&**tx).await?;
    notify(
        tx,
        NewNotification {
            user_id: application.user_id,
            kind: "DISTRIBUTION",
            title: "推广员申请已通过",
            body: &format!(
                "您的推广码是 {}，分享商品即可赚取佣金。",
                created.referral_code
            ),
            link: Some("/distribution"),
        },
    )
    .await?;
    Ok(application)
}

pub struct Application<'a> {
    pub answers: Vec<(String, String)>,
    pub inviter_code: Option<&'a str>,
}

/// A customer applies. By the recruitment mode the application is approved at once (open,
/// invitation with a valid code, spending reached) or waits for review.
pub async fn apply(
    app: &AppState,
    user_id: i64,
    a: Application<'_>,
) -> DistributionResult<distributor_application::Model> {
    let tx = app.db.begin_write().await?;
    if team::find(&*tx, user_id).await?.is_some() {
        return reject_whole(Code::AlreadyDistributor, "you are a distributor already");
    }
    let pending = distributor_application::Entity::find()
        .filter(distributor_application::Column::UserId.eq(user_id))
        .filter(distributor_application::Column::Status.eq(ApplicationStatus::Pending.as_str()))
        .one(&*tx)
        .await?;
    if pending.is_some() {
        return reject_whole(
            Code::ApplicationPending,
            "your application is waiting for review",
        );
    }
    let conf: DistributionSettings = settings::load(&*tx).await?;
    if let Err((field, message)) = conf.check_answers(&a.answers) {
        return reject(Code::InvalidAnswer, field, message);
    }
    let Ok(inviter) = inviter_for(&tx, user_id, a.inviter_code).await? else {
        return reject(
            Code::UnknownReferralCode,
            "inviterCode",
            "no active distributor has this code",
        );
    };
    let immediate = match conf.recruitment_mode {
        RecruitmentMode::Open => true,
        RecruitmentMode::Review => false,
        RecruitmentMode::Invitation => {
            if inviter.is_none() {
                return reject(
                    Code::NotEligible,
                    "inviterCode",
                    "recruitment is by invitation: give a distributor's referral code",
                );
            }
            true
        }
        RecruitmentMode::SpendThreshold => {
            let spent = cumulative_spend(&tx, user_id).await?;
            if spent < conf.spend_threshold_fen {
                return reject_whole(
                    Code::NotEligible,
                    format!(
                        "distributors have spent at least ¥{}; you have spent ¥{}",
                        crate::money::to_decimal(conf.spend_threshold_fen),
                        crate::money::to_decimal(spent)
                    ),
                );
            }
            true
        }
    };
    let answers: serde_json::Map<String, serde_json::Value> = a
        .answers
        .iter()
        .map(|(k, v)| (k.clone(), json!(v.trim())))
        .collect();
    let application = distributor_application::ActiveModel {
        user_id: Set(user_id),
        status: Set(ApplicationStatus::Pending.as_str().into()),
        answers: Set(serde_json::Value::Object(answers).to_string()),
        inviter_code: Set(a.inviter_code.map(team::normalize_code)),
        reason: Set(None),
        reviewed_by: Set(None),
        created_at: Set(Utc::now()),
        reviewed_at: Set(None),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    let application = if immediate {
        grant(&tx, application, inviter, None).await?
    } else {
        application
    };
    tx.commit().await?;
    app.principals.invalidate(user_id);
    Ok(application)
}

/// Staff approve or reject a pending application (a rejection needs a reason).
pub async fn review(
    app: &AppState,
    staff: i64,
    application_id: i64,
    approve: bool,
    reason: Option<&str>,
) -> DistributionResult<distributor_application::Model> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if !approve && reason.is_none() {
        return reject(
            Code::InvalidNote,
            "reason",
            "say why the application is rejected",
        );
    }
    if reason.is_some_and(|r| r.chars().count() > 500) {
        return reject(Code::InvalidNote, "reason", "at most 500 characters");
    }
    let tx = app.db.begin_write().await?;
    let Some(application) = distributor_application::Entity::find_by_id(application_id)
        .one(&*tx)
        .await?
    else {
        return reject(
            Code::ApplicationNotFound,
            "applicationId",
            "no such application",
        );
    };
    if application.status != ApplicationStatus::Pending.as_str() {
        return reject(
            Code::ApplicationReviewed,
            "applicationId",
            "this application was reviewed already",
        );
    }
    let user_id = application.user_id;
    let reviewed = if approve {
        // The inviter's code may have been disabled since; then the binding decides.
        let inviter = match inviter_for(&tx, user_id, application.inviter_code.as_deref()).await? {
            Ok(i) => i,
            Err(()) => team::bound_distributor(&*tx, user_id, Utc::now()).await?,
        };
        grant(&tx, application, inviter, Some(staff)).await?
    } else {
        let mut active: distributor_application::ActiveModel = application.into();
        active.status = Set(ApplicationStatus::Rejected.as_str().into());
        active.reason = Set(reason.map(str::to_string));
        active.reviewed_by = Set(Some(staff));
        active.reviewed_at = Set(Some(Utc::now()));
        let rejected = active.update(&*tx).await?;
        notify(
            &tx,
            NewNotification {
                user_id,
                kind: "DISTRIBUTION",
                title: "推广员申请未通过",
                body: reason.unwrap_or_default(),
                link: Some("/distribution/apply"),
            },
        )
        .await?;
        rejected
    };
    tx.commit().await?;
    app.principals.invalidate(user_id);
    Ok(reviewed)
}

/// Disables or re-enables a distributor: a disabled one loses the role and earns nothing new;
/// their team and records stay.
pub async fn set_enabled(
    app: &AppState,
    user_id: i64,
    enabled: bool,
) -> DistributionResult<distributor::Model> {
    let tx = app.db.begin_write().await?;
    let Some(current) = team::find(&*tx, user_id).await? else {
        return reject(
            Code::DistributorNotFound,
            "distributorId",
            "no such distributor",
        );
    };
    let mut active: distributor::ActiveModel = current.into();
    active.status = Set(if enabled {
        team::STATUS_ACTIVE
    } else {
        team::STATUS_DISABLED
    }
    .into());
    active.updated_at = Set(Utc::now());
    let d = active.update(&*tx).await?;
    user::Entity::update_many()
        .col_expr(user::Column::IsDistributor, Expr::value(enabled))
        .filter(user::Column::Id.eq(user_id))
        .exec(&*tx)
        .await?;
    account_event(&tx, EVENT_UPDATED, user_id, json!({ "change": "ROLE" })).await?;
    tx.commit().await?;
    app.principals.invalidate(user_id);
    Ok(d)
}

/// What staff may change about a distributor (absent: unchanged).
#[derive(Default)]
pub struct DistributorEdit<'a> {
    pub name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub team_name: Option<&'a str>,
    pub level_id: Option<Option<i64>>,
}

pub async fn edit(
    app: &AppState,
    user_id: i64,
    e: DistributorEdit<'_>,
) -> DistributionResult<distributor::Model> {
    let tx = app.db.begin_write().await?;
    let Some(current) = team::find(&*tx, user_id).await? else {
        return reject(
            Code::DistributorNotFound,
            "distributorId",
            "no such distributor",
        );
    };
    let mut active: distributor::ActiveModel = current.into();
    if let Some(name) = e.name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return reject(Code::InvalidNote, "name", "a name is 1–64 characters");
        }
        active.name = Set(name.into());
    }
    if let Some(phone) = e.phone {
        let Some(phone) = crate::accounts::rules::normalize_phone(phone) else {
            return reject(Code::InvalidNote, "phone", "not a mainland mobile number");
        };
        active.phone = Set(Some(phone));
    }
    if let Some(team_name) = e.team_name {
        let t = team_name.trim();
        if t.chars().count() > 64 {
            return reject(Code::InvalidNote, "teamName", "at most 64 characters");
        }
        active.team_name = Set((!t.is_empty()).then(|| t.to_string()));
    }
    if let Some(level) = e.level_id {
        if let Some(id) = level
            && entity::distributor_level::Entity::find_by_id(id)
                .one(&*tx)
                .await?
                .is_none()
        {
            return reject(Code::LevelNotFound, "levelId", "no such level");
        }
        active.level_id = Set(level);
    }
    active.updated_at = Set(Utc::now());
    let d = active.update(&*tx).await?;
    tx.commit().await?;
    Ok(d)
}

/// Staff move a distributor (and their team) under another inviter, or to the top.
pub async fn move_distributor(
    app: &AppState,
    user_id: i64,
    new_inviter: Option<i64>,
) -> DistributionResult<distributor::Model> {
    let tx = app.db.begin_write().await?;
    let d = team::move_under(&tx, user_id, new_inviter).await?;
    tx.commit().await?;
    Ok(d)
}

/// In spend-threshold mode, a buyer whose paid orders reach the threshold becomes a
/// distributor at once (called in the payment's transaction).
pub async fn on_paid(tx: &WriteTx, buyer: i64) -> Result<bool, AppError> {
    let conf = settings::load(&**tx).await?;
    if conf.recruitment_mode != RecruitmentMode::SpendThreshold
        || team::find(&**tx, buyer).await?.is_some()
        || cumulative_spend(tx, buyer).await? < conf.spend_threshold_fen
    {
        return Ok(false);
    }
    let inviter = team::bound_distributor(&**tx, buyer, Utc::now()).await?;
    let application = distributor_application::ActiveModel {
        user_id: Set(buyer),
        status: Set(ApplicationStatus::Pending.as_str().into()),
        answers: Set("{}".into()),
        inviter_code: Set(None),
        reason: Set(None),
        reviewed_by: Set(None),
        created_at: Set(Utc::now()),
        reviewed_at: Set(None),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    grant(tx, application, inviter, None).await?;
    Ok(true)
}
