//! Account services: each public function is one use case, runs its writes in one transaction
//! and appends its events there.
use std::{net::IpAddr, sync::Arc};

use chrono::{Datelike, Duration, NaiveDate, Utc};
use entity::{refresh_token, staff_permission, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QuerySelect, Set, sea_query::Expr,
};
use serde_json::json;

use super::{
    errors::{AccountError, AccountErrorCode as Code, AccountResult, reject},
    rules::{self, ThrottlePolicy},
    throttle,
    wechat::{self, WechatError},
};
use crate::{
    app::AppState,
    auth::{Permission, Principal, password, refresh},
    db::{Db, WriteTx, is_unique_violation},
    error::{AppError, ServiceError},
    events::{self, NewEvent},
};

/// A signed-in session: the user, a short-lived access token and a rotating refresh token.
pub struct Session {
    pub user: Arc<user::Model>,
    pub access_token: String,
    pub access_expires_at: chrono::DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: chrono::DateTime<Utc>,
}

pub const EVENT_REGISTERED: &str = "account.registered";
/// Profile, password, role or permission changes; every instance drops its cached principal.
pub const EVENT_UPDATED: &str = crate::auth::ACCOUNT_UPDATED;

pub(crate) async fn account_event(
    tx: &WriteTx,
    event_type: &'static str,
    user_id: i64,
    payload: serde_json::Value,
) -> Result<(), AppError> {
    events::append(
        tx,
        NewEvent {
            event_type,
            aggregate_type: "User",
            aggregate_id: user_id,
            recipient_user_id: Some(user_id),
            payload,
        },
    );
    Ok(())
}

/// A customer's account was created (`via` phone or WeChat): the event, and the areas that
/// welcome new customers (新人券), in the registration's transaction.
async fn customer_registered(
    app: &AppState,
    tx: &WriteTx,
    user: &user::Model,
    via: &str,
) -> Result<(), AppError> {
    account_event(tx, EVENT_REGISTERED, user.id, json!({ "via": via })).await?;
    for l in &app.registration_listeners {
        l.on_registered(app, tx, user).await?;
    }
    Ok(())
}

async fn open_session(
    app: &AppState,
    tx: &WriteTx,
    user: user::Model,
    family: Option<String>,
) -> Result<Session, AppError> {
    let now = Utc::now();
    let token = refresh::generate();
    let expires = now + Duration::days(app.config.refresh_token_ttl_days as i64);
    refresh_token::ActiveModel {
        user_id: Set(user.id),
        family_id: Set(family.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())),
        token_hash: Set(refresh::digest(&token)),
        created_at: Set(now),
        expires_at: Set(expires),
        rotated_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    let access = app.jwt.issue(user.id)?;
    Ok(Session {
        user: Arc::new(user),
        access_token: access.token,
        access_expires_at: access.expires_at,
        refresh_token: token,
        refresh_expires_at: expires,
    })
}

fn phone_or_reject(raw: &str) -> AccountResult<String> {
    match rules::normalize_phone(raw) {
        Some(p) => Ok(p),
        None => reject(
            Code::InvalidPhone,
            Some("phone"),
            "enter an 11-digit mainland mobile number",
        ),
    }
}

async fn find_by_phone(
    conn: &impl ConnectionTrait,
    phone: &str,
) -> Result<Option<user::Model>, AppError> {
    Ok(user::Entity::find()
        .filter(user::Column::Phone.eq(phone))
        .one(conn)
        .await?)
}

/// Validated fields of a new phone + password account.
struct NewAccount {
    phone: String,
    password_hash: String,
    nickname: String,
}

async fn validate_new_account(
    conn: &impl ConnectionTrait,
    phone: &str,
    password: &str,
    nickname: Option<&str>,
) -> AccountResult<NewAccount> {
    let mut errors = Vec::new();
    let phone = rules::normalize_phone(phone);
    if phone.is_none() {
        errors.push(AccountError::new(
            Code::InvalidPhone,
            Some("phone"),
            "enter an 11-digit mainland mobile number",
        ));
    }
    if let Err(m) = rules::check_password(password) {
        errors.push(AccountError::new(
            Code::InvalidPassword,
            Some("password"),
            m,
        ));
    }
    let nickname = match nickname.map(rules::clean_nickname).transpose() {
        Ok(n) => n,
        Err(m) => {
            errors.push(AccountError::new(
                Code::InvalidNickname,
                Some("nickname"),
                m,
            ));
            None
        }
    };
    let Some(phone) = phone.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::User(errors));
    };
    if find_by_phone(conn, &phone).await?.is_some() {
        return reject(
            Code::PhoneTaken,
            Some("phone"),
            "an account with this phone already exists",
        );
    }
    let nickname = nickname.unwrap_or_else(|| rules::default_nickname(&phone));
    let password_hash = password::hash(password.to_string()).await?;
    Ok(NewAccount {
        phone,
        password_hash,
        nickname,
    })
}

async fn insert_user(
    tx: &WriteTx,
    account: NewAccount,
    is_staff: bool,
    is_owner: bool,
) -> AccountResult<user::Model> {
    let now = Utc::now();
    let result = user::ActiveModel {
        phone: Set(Some(account.phone)),
        password_hash: Set(Some(account.password_hash)),
        nickname: Set(account.nickname),
        gender: Set("UNKNOWN".into()),
        is_staff: Set(is_staff),
        is_owner: Set(is_owner),
        is_distributor: Set(false),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&**tx)
    .await;
    match result {
        Ok(u) => Ok(u),
        Err(e) if is_unique_violation(&e) => reject(
            Code::PhoneTaken,
            Some("phone"),
            "an account with this phone already exists",
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn register(
    app: &AppState,
    phone: &str,
    password: &str,
    nickname: Option<&str>,
) -> AccountResult<Session> {
    let account = validate_new_account(app.db.conn(), phone, password, nickname).await?;
    let tx = app.db.begin_write().await?;
    let user = insert_user(&tx, account, false, false).await?;
    customer_registered(app, &tx, &user, "PHONE").await?;
    let session = open_session(app, &tx, user, None).await?;
    tx.commit().await?;
    Ok(session)
}

fn throttle_policies(app: &AppState) -> (ThrottlePolicy, ThrottlePolicy) {
    let c = &app.config;
    let window = Duration::seconds(c.login_failure_window_secs as i64);
    let lockout = Duration::seconds(c.login_lockout_secs as i64);
    (
        ThrottlePolicy {
            max_failures: c.login_max_failures_per_phone,
            window,
            lockout,
        },
        ThrottlePolicy {
            max_failures: c.login_max_failures_per_ip,
            window,
            lockout,
        },
    )
}

pub async fn login(
    app: &AppState,
    phone: &str,
    password: &str,
    client_ip: IpAddr,
) -> AccountResult<Session> {
    let phone = phone_or_reject(phone)?;
    let phone_key = format!("phone:{phone}");
    let ip_key = format!("ip:{client_ip}");
    let now = Utc::now();
    throttle::ensure_not_locked(app.db.conn(), &[&phone_key, &ip_key], now).await?;

    let user = find_by_phone(app.db.conn(), &phone).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches = password::verify(password.to_string(), stored).await?;
    let Some(user) = user.filter(|_| matches) else {
        let (per_phone, per_ip) = throttle_policies(app);
        let tx = app.db.begin_write().await?;
        throttle::record_failure(&tx, &phone_key, &per_phone, now).await?;
        throttle::record_failure(&tx, &ip_key, &per_ip, now).await?;
        tx.commit().await?;
        return reject(
            Code::InvalidCredentials,
            None,
            "the phone number or password is wrong",
        );
    };
    if user.disabled {
        return reject(
            Code::AccountDisabled,
            None,
            "this account has been disabled",
        );
    }
    let tx = app.db.begin_write().await?;
    throttle::clear(&tx, &phone_key).await?;
    let session = open_session(app, &tx, user, None).await?;
    tx.commit().await?;
    Ok(session)
}

pub async fn wechat_login(app: &AppState, code: &str) -> AccountResult<Session> {
    let (Some(appid), Some(secret)) = (&app.config.wechat_appid, &app.config.wechat_secret) else {
        return reject(
            Code::WechatNotConfigured,
            None,
            "WeChat login is not configured on this server",
        );
    };
    if code.trim().is_empty() || code.len() > 128 {
        return reject(
            Code::WechatCodeInvalid,
            Some("code"),
            "the login code is missing",
        );
    }
    let session = match wechat::code2session(
        &app.http,
        &app.config.wechat_api_base,
        appid,
        secret,
        code.trim(),
    )
    .await
    {
        Ok(s) => s,
        Err(WechatError::InvalidCode(m)) => {
            return reject(
                Code::WechatCodeInvalid,
                Some("code"),
                &format!("WeChat refused the login code ({m}); call wx.login() again"),
            );
        }
        Err(WechatError::Unavailable(m)) => {
            tracing::warn!(error = %m, "WeChat code2session failed");
            return reject(
                Code::WechatUnavailable,
                None,
                "WeChat could not be reached; try again shortly",
            );
        }
    };

    let tx = app.db.begin_write().await?;
    let user = match find_wechat_user(&tx, &session.openid, session.unionid.as_deref()).await? {
        Some(u) => u,
        None => create_wechat_user(app, &tx, &session.openid, session.unionid.as_deref()).await?,
    };
    if user.disabled {
        return reject(
            Code::AccountDisabled,
            None,
            "this account has been disabled",
        );
    }
    let session = open_session(app, &tx, user, None).await?;
    tx.commit().await?;
    Ok(session)
}

/// By openid first; else by unionid (the same person through another app of the merchant),
/// linking this openid to that account.
async fn find_wechat_user(
    tx: &WriteTx,
    openid: &str,
    unionid: Option<&str>,
) -> Result<Option<user::Model>, AppError> {
    if let Some(u) = user::Entity::find()
        .filter(user::Column::WechatOpenid.eq(openid))
        .one(&**tx)
        .await?
    {
        return Ok(Some(u));
    }
    let Some(unionid) = unionid else {
        return Ok(None);
    };
    let Some(u) = user::Entity::find()
        .filter(user::Column::WechatUnionid.eq(unionid))
        .filter(user::Column::WechatOpenid.is_null())
        .one(&**tx)
        .await?
    else {
        return Ok(None);
    };
    let mut active: user::ActiveModel = u.into();
    active.wechat_openid = Set(Some(openid.to_string()));
    active.updated_at = Set(Utc::now());
    Ok(Some(active.update(&**tx).await?))
}

async fn create_wechat_user(
    app: &AppState,
    tx: &WriteTx,
    openid: &str,
    unionid: Option<&str>,
) -> Result<user::Model, AppError> {
    let now = Utc::now();
    let user = user::ActiveModel {
        wechat_openid: Set(Some(openid.to_string())),
        wechat_unionid: Set(unionid.map(str::to_string)),
        nickname: Set("微信用户".into()),
        gender: Set("UNKNOWN".into()),
        is_staff: Set(false),
        is_owner: Set(false),
        is_distributor: Set(false),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    customer_registered(app, tx, &user, "WECHAT").await?;
    Ok(user)
}

/// Revokes every live token of a family (all tokens descended from one sign-in).
async fn revoke_family(tx: &WriteTx, family_id: &str) -> Result<(), AppError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&**tx)
        .await?;
    Ok(())
}

async fn revoke_all_sessions(tx: &WriteTx, user_id: i64) -> Result<(), AppError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&**tx)
        .await?;
    Ok(())
}

/// Rotates a refresh token: the presented one is spent and a new one of the same family issued.
/// Presenting a spent token means it was copied: the whole family is revoked.
pub async fn refresh_session(app: &AppState, token: &str) -> AccountResult<Session> {
    let now = Utc::now();
    let invalid = || {
        reject(
            Code::InvalidRefreshToken,
            Some("refreshToken"),
            "this session has ended; sign in again",
        )
    };
    let tx = app.db.begin_write().await?;
    let mut find = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(refresh::digest(token)));
    if tx.get_database_backend() == DatabaseBackend::Postgres {
        find = find.lock_exclusive();
    }
    let Some(row) = find.one(&*tx).await? else {
        return invalid();
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return invalid();
    }
    let spent = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .exec(&*tx)
        .await?
        .rows_affected
        == 1;
    if !spent {
        revoke_family(&tx, &row.family_id).await?;
        tx.commit().await?;
        tracing::warn!(
            user_id = row.user_id,
            "refresh token reused; session revoked"
        );
        return reject(
            Code::RefreshTokenReused,
            Some("refreshToken"),
            "this refresh token was already used; the session was ended, sign in again",
        );
    }
    let user = user::Entity::find_by_id(row.user_id).one(&*tx).await?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        revoke_family(&tx, &row.family_id).await?;
        tx.commit().await?;
        return reject(
            Code::AccountDisabled,
            None,
            "this account has been disabled",
        );
    };
    let session = open_session(app, &tx, user, Some(row.family_id)).await?;
    tx.commit().await?;
    Ok(session)
}

/// Ends the session of `token` (its whole family), or every session of the signed-in user.
/// Unknown tokens are ignored: logging out is idempotent.
pub async fn logout(
    app: &AppState,
    user_id: Option<i64>,
    token: Option<&str>,
    everywhere: bool,
) -> Result<(), AppError> {
    let tx = app.db.begin_write().await?;
    if everywhere {
        let user_id = user_id.ok_or_else(AppError::unauthenticated)?;
        revoke_all_sessions(&tx, user_id).await?;
    } else if let Some(token) = token {
        let row = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(refresh::digest(token)))
            .one(&*tx)
            .await?;
        if let Some(row) = row {
            revoke_family(&tx, &row.family_id).await?;
        }
    } else {
        return Err(AppError::bad_input(
            "give the refresh token to end, or everywhere: true",
        ));
    }
    tx.commit().await?;
    Ok(())
}

/// A profile change; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Default)]
pub struct ProfilePatch {
    pub nickname: Option<String>,
    pub avatar_url: Option<Option<String>>,
    pub gender: Option<String>,
    pub birthday: Option<Option<NaiveDate>>,
}

pub async fn update_profile(
    app: &AppState,
    user_id: i64,
    patch: ProfilePatch,
) -> AccountResult<user::Model> {
    let mut errors = Vec::new();
    let nickname = match patch
        .nickname
        .as_deref()
        .map(rules::clean_nickname)
        .transpose()
    {
        Ok(n) => n,
        Err(m) => {
            errors.push(AccountError::new(
                Code::InvalidNickname,
                Some("nickname"),
                m,
            ));
            None
        }
    };
    if let Some(Some(url)) = &patch.avatar_url
        && let Err(m) = rules::check_avatar_url(url)
    {
        errors.push(AccountError::new(Code::InvalidAvatar, Some("avatarUrl"), m));
    }
    if let Some(Some(date)) = patch.birthday
        && let Err(m) = rules::check_birthday(date, Utc::now().date_naive())
    {
        errors.push(AccountError::new(
            Code::InvalidBirthday,
            Some("birthday"),
            m,
        ));
    }
    if !errors.is_empty() {
        return Err(ServiceError::User(errors));
    }
    let tx = app.db.begin_write().await?;
    let user = user::Entity::find_by_id(user_id)
        .one(&*tx)
        .await?
        .ok_or_else(|| AppError::not_found("User"))?;
    let mut active: user::ActiveModel = user.into();
    if let Some(n) = nickname {
        active.nickname = Set(n);
    }
    if let Some(a) = patch.avatar_url {
        active.avatar_url = Set(a);
    }
    if let Some(g) = patch.gender {
        active.gender = Set(g);
    }
    if let Some(b) = patch.birthday {
        active.birthday = Set(b);
    }
    active.updated_at = Set(Utc::now());
    let user = active.update(&*tx).await?;
    account_event(&tx, EVENT_UPDATED, user_id, json!({ "change": "PROFILE" })).await?;
    tx.commit().await?;
    Ok(user)
}

/// Changes the password after checking the current one; every other session ends.
pub async fn change_password(
    app: &AppState,
    user_id: i64,
    current: &str,
    new: &str,
) -> AccountResult<Session> {
    let user = user::Entity::find_by_id(user_id)
        .one(app.db.conn())
        .await?
        .ok_or_else(|| AppError::not_found("User"))?;
    if !password::verify(current.to_string(), user.password_hash.clone()).await? {
        return reject(
            Code::InvalidCredentials,
            Some("currentPassword"),
            "the current password is wrong",
        );
    }
    if let Err(m) = rules::check_password(new) {
        return reject(Code::InvalidPassword, Some("newPassword"), &m);
    }
    let hash = password::hash(new.to_string()).await?;
    let tx = app.db.begin_write().await?;
    let mut active: user::ActiveModel = user.into();
    active.password_hash = Set(Some(hash));
    active.updated_at = Set(Utc::now());
    let user = active.update(&*tx).await?;
    revoke_all_sessions(&tx, user_id).await?;
    account_event(&tx, EVENT_UPDATED, user_id, json!({ "change": "PASSWORD" })).await?;
    let session = open_session(app, &tx, user, None).await?;
    tx.commit().await?;
    Ok(session)
}

/// Creates the owner account (CLI `distmall admin create`).
pub async fn create_owner(
    db: &Db,
    phone: &str,
    password: &str,
    nickname: Option<&str>,
) -> AccountResult<user::Model> {
    let account = validate_new_account(db.conn(), phone, password, nickname).await?;
    let tx = db.begin_write().await?;
    let user = insert_user(&tx, account, true, true).await?;
    account_event(
        &tx,
        EVENT_REGISTERED,
        user.id,
        json!({ "via": "ADMIN_CLI" }),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

fn ensure_grantable(actor: &Principal, permissions: &[Permission]) -> AccountResult<()> {
    match permissions.iter().find(|p| !actor.has(**p)) {
        Some(p) => reject(
            Code::PermissionNotHeld,
            Some("permissions"),
            &format!("you cannot grant {} because you do not hold it", p.as_str()),
        ),
        None => Ok(()),
    }
}

async fn grant(
    tx: &WriteTx,
    user_id: i64,
    permissions: &[Permission],
    granted_by: i64,
) -> Result<(), AppError> {
    for p in permissions {
        staff_permission::Entity::insert(staff_permission::ActiveModel {
            user_id: Set(user_id),
            permission: Set(p.as_str().to_string()),
            granted_by: Set(Some(granted_by)),
            created_at: Set(Utc::now()),
        })
        .on_conflict_do_nothing()
        .exec(&**tx)
        .await?;
    }
    Ok(())
}

pub async fn create_staff(
    app: &AppState,
    actor: &Principal,
    phone: &str,
    password: &str,
    nickname: Option<&str>,
    permissions: &[Permission],
) -> AccountResult<user::Model> {
    ensure_grantable(actor, permissions)?;
    let account = validate_new_account(app.db.conn(), phone, password, nickname).await?;
    let tx = app.db.begin_write().await?;
    let user = insert_user(&tx, account, true, false).await?;
    grant(&tx, user.id, permissions, actor.user_id).await?;
    account_event(
        &tx,
        EVENT_REGISTERED,
        user.id,
        json!({ "via": "STAFF_ADMIN", "by": actor.user_id }),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// The staff member another staff member may manage: exists, is staff, not the owner, not self.
async fn manageable_staff(
    tx: &WriteTx,
    actor: &Principal,
    user_id: i64,
) -> AccountResult<user::Model> {
    let Some(target) = user::Entity::find_by_id(user_id).one(&**tx).await? else {
        return reject(Code::UserNotFound, Some("userId"), "no such user");
    };
    if !target.is_staff {
        return reject(
            Code::NotStaff,
            Some("userId"),
            "this user is not a staff member",
        );
    }
    if target.is_owner {
        return reject(
            Code::CannotModifyOwner,
            Some("userId"),
            "the owner account cannot be changed",
        );
    }
    if target.id == actor.user_id {
        return reject(
            Code::CannotModifySelf,
            Some("userId"),
            "you cannot change your own staff account",
        );
    }
    Ok(target)
}

pub async fn update_staff_permissions(
    app: &AppState,
    actor: &Principal,
    user_id: i64,
    add: &[Permission],
    remove: &[Permission],
) -> AccountResult<user::Model> {
    ensure_grantable(actor, add)?;
    let tx = app.db.begin_write().await?;
    let target = manageable_staff(&tx, actor, user_id).await?;
    grant(&tx, user_id, add, actor.user_id).await?;
    if !remove.is_empty() {
        staff_permission::Entity::delete_many()
            .filter(staff_permission::Column::UserId.eq(user_id))
            .filter(
                staff_permission::Column::Permission
                    .is_in(remove.iter().map(|p| p.as_str().to_string())),
            )
            .exec(&*tx)
            .await?;
    }
    account_event(
        &tx,
        EVENT_UPDATED,
        user_id,
        json!({ "change": "PERMISSIONS", "by": actor.user_id }),
    )
    .await?;
    tx.commit().await?;
    app.principals.invalidate(user_id);
    Ok(target)
}

pub async fn set_staff_disabled(
    app: &AppState,
    actor: &Principal,
    user_id: i64,
    disabled: bool,
) -> AccountResult<user::Model> {
    let tx = app.db.begin_write().await?;
    let target = manageable_staff(&tx, actor, user_id).await?;
    let mut active: user::ActiveModel = target.into();
    active.disabled = Set(disabled);
    active.updated_at = Set(Utc::now());
    let user = active.update(&*tx).await?;
    if disabled {
        revoke_all_sessions(&tx, user_id).await?;
    }
    account_event(
        &tx,
        EVENT_UPDATED,
        user_id,
        json!({ "change": if disabled { "DISABLED" } else { "ENABLED" }, "by": actor.user_id }),
    )
    .await?;
    tx.commit().await?;
    app.principals.invalidate(user_id);
    Ok(user)
}

/// The permissions granted to each of `user_ids` (for `User.permissions` in lists).
pub async fn granted_permissions(
    conn: &impl ConnectionTrait,
    user_ids: &[i64],
) -> Result<Vec<staff_permission::Model>, AppError> {
    Ok(staff_permission::Entity::find()
        .filter(staff_permission::Column::UserId.is_in(user_ids.iter().copied()))
        .all(conn)
        .await?)
}

/// Customers whose birthday is `today` (29 February counts on 28 February outside leap years),
/// by id.
pub async fn birthdays_on(app: &AppState, today: NaiveDate) -> Result<Vec<i64>, AppError> {
    let backend = app.db.backend();
    let md = |d: NaiveDate| format!("{:02}-{:02}", d.month(), d.day());
    let mut days = vec![md(today)];
    if today.month() == 2
        && today.day() == 28
        && NaiveDate::from_ymd_opt(today.year(), 2, 29).is_none()
    {
        days.push("02-29".into());
    }
    let expr = match backend {
        DatabaseBackend::Postgres => "to_char(birthday, 'MM-DD')",
        _ => "strftime('%m-%d', birthday)",
    };
    let placeholders: Vec<String> = (1..=days.len())
        .map(|i| {
            if backend == DatabaseBackend::Postgres {
                format!("${i}")
            } else {
                "?".into()
            }
        })
        .collect();
    let rows = app
        .db
        .conn()
        .query_all_raw(crate::db::stmt(
            backend,
            &format!(
                "SELECT id, birthday FROM users WHERE birthday IS NOT NULL AND {expr} IN ({}) ORDER BY id",
                placeholders.join(", ")
            ),
            days.into_iter().map(Into::into),
        ))
        .await?;
    let mut ids = Vec::new();
    for row in rows {
        let birthday: NaiveDate = row.try_get("", "birthday")?;
        if rules::is_birthday(birthday, today) {
            ids.push(row.try_get("", "id")?);
        }
    }
    Ok(ids)
}
