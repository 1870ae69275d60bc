//! The GraphQL face of accounts: `me`, the `User` type, sign-up/in, sessions, profile and staff.
use std::sync::Arc;

use async_graphql::{
    ComplexObject, Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject,
};
use entity::user;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    errors::{AccountError, AccountResult},
    rules::mask_phone,
    service::{self, ProfilePatch, Session},
};
use crate::{
    auth::{Permission, PermissionGuard, Principal, Role},
    error::AppError,
    graphql::{
        context::CtxExt,
        errors::payload,
        ids,
        relay::{self, Page, Window},
        scalars::{Date, DateTime},
    },
};

/// A person with an account: consumer, distributor or staff member.
pub struct User {
    id: i64,
    loaded: Option<Arc<user::Model>>,
    /// Returned to the account holder themselves (e.g. in the sign-in payload, before the
    /// request carries their token), so private fields are shown in full.
    own: bool,
}

impl User {
    pub fn from_model(m: impl Into<Arc<user::Model>>) -> Self {
        let m = m.into();
        Self {
            id: m.id,
            loaded: Some(m),
            own: false,
        }
    }

    /// The account holder's own view of their account.
    pub fn own(m: impl Into<Arc<user::Model>>) -> Self {
        Self {
            own: true,
            ..Self::from_model(m)
        }
    }

    /// A user known only by id; fields other than `id` load through the DataLoader.
    pub fn by_id(id: i64) -> Self {
        Self {
            id,
            loaded: None,
            own: false,
        }
    }

    async fn model(&self, ctx: &Context<'_>) -> Result<Arc<user::Model>, AppError> {
        if let Some(m) = &self.loaded {
            return Ok(m.clone());
        }
        ctx.loaders()
            .users
            .load_one(self.id)
            .await?
            .ok_or_else(|| AppError::not_found("User"))
    }

    /// The caller is this user, or staff: they see private fields in full.
    fn is_privileged(&self, ctx: &Context<'_>) -> bool {
        self.own
            || ctx
                .viewer()
                .principal()
                .is_some_and(|p| p.user_id == self.id || p.is_staff)
    }

    pub fn global_id(id: i64) -> ID {
        ids::encode("User", id)
    }
}

/// Gender as the user stated it.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gender {
    /// Not stated.
    Unknown,
    /// 男.
    Male,
    /// 女.
    Female,
}

impl Gender {
    fn as_str(self) -> &'static str {
        match self {
            Gender::Unknown => "UNKNOWN",
            Gender::Male => "MALE",
            Gender::Female => "FEMALE",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "MALE" => Gender::Male,
            "FEMALE" => Gender::Female,
            _ => Gender::Unknown,
        }
    }
}

/// A person with an account: consumer, distributor or staff member. Reachable as `me`, by
/// `node` (yourself, or anyone for staff), and where another object shows a person (an order's
/// buyer or distributor, who moved stock or an order). Private fields are masked or null unless
/// you are this user or staff.
#[Object]
impl User {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        Self::global_id(self.id)
    }

    /// The mobile number; masked (`138****5678`) unless you are this user or staff.
    async fn phone(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let m = self.model(ctx).await?;
        Ok(m.phone.as_deref().map(|p| {
            if self.is_privileged(ctx) {
                p.to_string()
            } else {
                mask_phone(p)
            }
        }))
    }

    /// Display name, 1–32 characters (用户 and the phone's last four digits until changed).
    async fn nickname(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self.model(ctx).await?.nickname.clone())
    }

    /// The avatar picture's http(s) URL; null when the user has none.
    async fn avatar_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self.model(ctx).await?.avatar_url.clone())
    }

    /// Gender as the user stated it (`UNKNOWN` when not stated).
    async fn gender(&self, ctx: &Context<'_>) -> async_graphql::Result<Gender> {
        Ok(Gender::parse(&self.model(ctx).await?.gender))
    }

    /// The user's birthday; null when not given, and for anyone but this user and staff.
    async fn birthday(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Date>> {
        if !self.is_privileged(ctx) {
            return Ok(None);
        }
        Ok(self.model(ctx).await?.birthday.map(Date))
    }

    /// The member's level (with its badge and benefits), growth and growth to the next level,
    /// and their order figures. Only for this user and staff; null for anyone else and for
    /// staff accounts.
    async fn membership(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::members::types::Membership>> {
        if !self.is_privileged(ctx) || self.model(ctx).await?.is_staff {
            return Ok(None);
        }
        Ok(Some(
            crate::members::types::Membership::load(ctx.app().db.conn(), self.id).await?,
        ))
    }

    /// Whether the account is bound to a WeChat identity.
    async fn wechat_bound(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(self.model(ctx).await?.wechat_openid.is_some())
    }

    /// Whether the account can sign in with phone and password.
    async fn has_password(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(self.model(ctx).await?.password_hash.is_some())
    }

    /// What the user is: always `CUSTOMER`, plus `DISTRIBUTOR` once approved and `STAFF` for
    /// merchant employees.
    async fn roles(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Role>> {
        Ok(self.principal(ctx).await?.roles())
    }

    /// Staff permissions (every permission for the owner; empty for non-staff).
    async fn permissions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Permission>> {
        Ok(self.principal(ctx).await?.permissions)
    }

    /// Whether this is the merchant's owner account.
    async fn is_owner(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(self.model(ctx).await?.is_owner)
    }

    /// Disabled accounts cannot sign in (visible to staff).
    async fn disabled(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(self.model(ctx).await?.disabled)
    }

    /// When the account was created.
    async fn created_at(&self, ctx: &Context<'_>) -> async_graphql::Result<DateTime> {
        Ok(self.model(ctx).await?.created_at.into())
    }
}

impl User {
    async fn principal(&self, ctx: &Context<'_>) -> Result<Principal, AppError> {
        let m = self.model(ctx).await?;
        let granted = if m.is_staff && !m.is_owner {
            ctx.loaders()
                .permissions
                .load_one(m.id)
                .await?
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Principal::from_rows(&m, &granted))
    }
}

/// The result of signing up, signing in, refreshing or changing the password.
#[derive(SimpleObject, Default)]
#[graphql(complex)]
pub struct AuthPayload {
    /// Send as `Authorization: Bearer …`; short-lived.
    access_token: Option<String>,
    /// When the access token stops working (`access_token_ttl_secs` after issue); null when
    /// refused.
    access_token_expires_at: Option<DateTime>,
    /// Exchange for a new pair with `refreshToken` before it expires; each works once.
    refresh_token: Option<String>,
    /// When the refresh token stops working (`refresh_token_ttl_days` after issue); null when
    /// refused.
    refresh_token_expires_at: Option<DateTime>,
    #[graphql(skip)]
    user_model: Option<Arc<user::Model>>,
    /// Why the request was refused (the tokens and user are then null); empty on success.
    user_errors: Vec<AccountError>,
}

#[ComplexObject]
impl AuthPayload {
    /// The signed-in user, with private fields in full; null when refused.
    async fn user(&self) -> Option<User> {
        self.user_model.clone().map(User::own)
    }
}

impl From<Session> for AuthPayload {
    fn from(s: Session) -> Self {
        Self {
            access_token: Some(s.access_token),
            access_token_expires_at: Some(s.access_expires_at.into()),
            refresh_token: Some(s.refresh_token),
            refresh_token_expires_at: Some(s.refresh_expires_at.into()),
            user_model: Some(s.user),
            user_errors: Vec::new(),
        }
    }
}

/// A payload carrying one user (profile and staff mutations).
#[derive(SimpleObject, Default)]
#[graphql(complex)]
pub struct UserPayload {
    #[graphql(skip)]
    user_model: Option<Arc<user::Model>>,
    /// Why the change was refused (nothing changed); empty on success.
    user_errors: Vec<AccountError>,
}

#[ComplexObject]
impl UserPayload {
    /// The user as changed; null when refused.
    async fn user(&self) -> Option<User> {
        self.user_model.clone().map(User::from_model)
    }
}

/// The result of `logout`.
#[derive(SimpleObject)]
pub struct LogoutPayload {
    /// True once the session(s) are ended.
    ok: bool,
    /// Always empty: logging out of a session that is already over succeeds too.
    user_errors: Vec<AccountError>,
}

/// A user arrived through a share link: bind them (refusals — own code, loops, unknown codes —
/// leave the sign-in as it is).
async fn bind_arrival(ctx: &Context<'_>, user_id: i64, code: &str) -> async_graphql::Result<()> {
    crate::distribution::team::bind_by_code(ctx.app(), user_id, code, None).await?;
    Ok(())
}

fn auth_payload(result: AccountResult<Session>) -> async_graphql::Result<AuthPayload> {
    payload(result, AuthPayload::from, |user_errors| AuthPayload {
        user_errors,
        ..Default::default()
    })
}

fn user_payload(result: AccountResult<user::Model>) -> async_graphql::Result<UserPayload> {
    payload(
        result,
        |u| UserPayload {
            user_model: Some(Arc::new(u)),
            user_errors: Vec::new(),
        },
        |user_errors| UserPayload {
            user_model: None,
            user_errors,
        },
    )
}

/// A new consumer account.
#[derive(InputObject)]
pub struct RegisterInput {
    /// Mainland mobile number; `+86` and separators are accepted.
    phone: String,
    /// 8–64 characters with at least one letter and one digit.
    password: String,
    /// Defaults to 用户 and the phone's last four digits.
    nickname: Option<String>,
    /// The referral code of the share link the user arrived through: binds them to that
    /// distributor (an unknown code is ignored, registration goes ahead).
    share_code: Option<String>,
}

/// Phone and password of an existing account.
#[derive(InputObject)]
pub struct LoginInput {
    /// Mainland mobile number; `+86` and separators are accepted.
    phone: String,
    /// The account's password.
    password: String,
}

/// A sign-in from the WeChat mini-program.
#[derive(InputObject)]
pub struct WechatLoginInput {
    /// The code from `wx.login()` in the mini-program.
    code: String,
    /// The referral code of the share link the mini-program was opened through: binds the
    /// user to that distributor by the binding mode (an unknown code is ignored).
    share_code: Option<String>,
}

/// The refresh token to exchange.
#[derive(InputObject)]
pub struct RefreshTokenInput {
    /// The `refreshToken` of the last `AuthPayload`; it works once.
    refresh_token: String,
}

/// Which session to end: the one of `refreshToken`, or every session with `everywhere`.
#[derive(InputObject)]
pub struct LogoutInput {
    /// The refresh token of the session to end.
    refresh_token: Option<String>,
    /// End every session of the signed-in user instead.
    #[graphql(default)]
    everywhere: bool,
}

/// Profile changes; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// 1–32 characters, trimmed, no control characters.
    nickname: Option<String>,
    /// An http(s) URL of at most 512 characters; `null` removes the avatar.
    avatar_url: MaybeUndefined<String>,
    /// Gender as the user states it.
    gender: Option<Gender>,
    /// Between 1900-01-01 and today; `null` removes the birthday.
    birthday: MaybeUndefined<Date>,
}

/// The current password and the new one.
#[derive(InputObject)]
pub struct ChangePasswordInput {
    /// The password the account has now.
    current_password: String,
    /// 8–64 characters with at least one letter and one digit.
    new_password: String,
}

/// A new staff account.
#[derive(InputObject)]
pub struct CreateStaffInput {
    /// Mainland mobile number, not yet used by another account.
    phone: String,
    /// The first password: 8–64 characters with at least one letter and one digit.
    password: String,
    /// Display name, 1–32 characters; 用户 and the phone's last four digits when omitted.
    nickname: Option<String>,
    /// What the new staff member may do; only permissions you hold yourself. Empty by default.
    #[graphql(default)]
    permissions: Vec<Permission>,
}

/// Permissions to add to and take from one staff member.
#[derive(InputObject)]
pub struct UpdateStaffPermissionsInput {
    /// The staff member's `User` id (not the owner, not yourself).
    user_id: ID,
    /// Permissions to add; only ones you hold yourself.
    #[graphql(default)]
    grant: Vec<Permission>,
    /// Permissions to take away.
    #[graphql(default)]
    revoke: Vec<Permission>,
}

/// Which staff account to disable or re-enable.
#[derive(InputObject)]
pub struct SetStaffDisabledInput {
    /// The staff member's `User` id (not the owner, not yourself).
    user_id: ID,
    /// True disables the account (it can no longer sign in); false re-enables it.
    disabled: bool,
}

fn maybe<T, U>(v: MaybeUndefined<T>, f: impl FnOnce(T) -> U) -> Option<Option<U>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(x) => Some(Some(f(x))),
    }
}

/// A staff id from input; a malformed or non-user id is reported as `USER_NOT_FOUND`.
fn staff_id(id: &ID) -> AccountResult<i64> {
    ids::decode("User", id).or_else(|_| {
        super::errors::reject(
            super::AccountErrorCode::UserNotFound,
            Some("userId"),
            "no such user",
        )
    })
}

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user, or null when the request carries no token.
    async fn me(&self, ctx: &Context<'_>) -> Option<User> {
        ctx.viewer().user_id().map(User::by_id)
    }

    /// Staff accounts, oldest first (staff with STAFF_ADMIN).
    #[graphql(guard = "PermissionGuard(Permission::StaffAdmin)")]
    async fn staff_members(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
        #[graphql(desc = "Also list disabled staff accounts.", default)] include_disabled: bool,
    ) -> async_graphql::Result<Page<User>> {
        let window = Window::new(first, after, last, before)?;
        let mut select = user::Entity::find().filter(user::Column::IsStaff.eq(true));
        if !include_disabled {
            select = select.filter(user::Column::Disabled.eq(false));
        }
        Ok(relay::paginate(
            ctx.app().db.conn(),
            select,
            user::Column::Id,
            |m| m.id,
            false,
            window,
            User::from_model,
        )
        .await?)
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates a consumer account with phone and password and signs it in.
    async fn register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The phone, password and optional nickname and share code.")]
        input: RegisterInput,
    ) -> async_graphql::Result<AuthPayload> {
        let registered = service::register(
            ctx.app(),
            &input.phone,
            &input.password,
            input.nickname.as_deref(),
        )
        .await;
        if let (Ok(session), Some(code)) = (&registered, &input.share_code) {
            bind_arrival(ctx, session.user.id, code).await?;
        }
        auth_payload(registered)
    }

    /// Signs in with phone and password. Repeated failures for one phone or from one address
    /// are refused for a while with `RATE_LIMITED`.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The phone and password.")] input: LoginInput,
    ) -> async_graphql::Result<AuthPayload> {
        auth_payload(
            service::login(ctx.app(), &input.phone, &input.password, ctx.client_ip()).await,
        )
    }

    /// Signs in from the WeChat mini-program with the code of `wx.login()`; creates the
    /// account on first use.
    async fn wechat_login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `wx.login()` code and optional share code.")] input: WechatLoginInput,
    ) -> async_graphql::Result<AuthPayload> {
        let signed_in = service::wechat_login(ctx.app(), &input.code).await;
        if let (Ok(session), Some(code)) = (&signed_in, &input.share_code) {
            bind_arrival(ctx, session.user.id, code).await?;
        }
        auth_payload(signed_in)
    }

    /// Exchanges a refresh token for a new access token and refresh token.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refresh token to exchange.")] input: RefreshTokenInput,
    ) -> async_graphql::Result<AuthPayload> {
        auth_payload(service::refresh_session(ctx.app(), &input.refresh_token).await)
    }

    /// Ends a session (or all of them). Access tokens already issued expire on their own.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which session to end.")] input: LogoutInput,
    ) -> async_graphql::Result<LogoutPayload> {
        service::logout(
            ctx.app(),
            ctx.viewer().user_id(),
            input.refresh_token.as_deref(),
            input.everywhere,
        )
        .await?;
        Ok(LogoutPayload {
            ok: true,
            user_errors: Vec::new(),
        })
    }

    /// Changes the signed-in user's profile; omitted fields stay as they are.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The fields to change.")] input: UpdateProfileInput,
    ) -> async_graphql::Result<UserPayload> {
        let user_id = ctx.viewer().require_user()?.user_id;
        let patch = ProfilePatch {
            nickname: input.nickname,
            avatar_url: maybe(input.avatar_url, |a| a),
            gender: input.gender.map(|g| g.as_str().to_string()),
            birthday: maybe(input.birthday, |d| d.0),
        };
        user_payload(service::update_profile(ctx.app(), user_id, patch).await)
    }

    /// Changes the password; every other session ends and a new one is returned.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The current and the new password.")] input: ChangePasswordInput,
    ) -> async_graphql::Result<AuthPayload> {
        let user_id = ctx.viewer().require_user()?.user_id;
        auth_payload(
            service::change_password(
                ctx.app(),
                user_id,
                &input.current_password,
                &input.new_password,
            )
            .await,
        )
    }

    /// Creates a staff account with the given permissions (staff with STAFF_ADMIN; only
    /// permissions you hold).
    #[graphql(guard = "PermissionGuard(Permission::StaffAdmin)")]
    async fn create_staff(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new staff member.")] input: CreateStaffInput,
    ) -> async_graphql::Result<UserPayload> {
        let actor = ctx.viewer().require_permission(Permission::StaffAdmin)?;
        user_payload(
            service::create_staff(
                ctx.app(),
                actor,
                &input.phone,
                &input.password,
                input.nickname.as_deref(),
                &input.permissions,
            )
            .await,
        )
    }

    /// Grants and revokes staff permissions (staff with STAFF_ADMIN; not the owner, not
    /// yourself, and only permissions you hold).
    #[graphql(guard = "PermissionGuard(Permission::StaffAdmin)")]
    async fn update_staff_permissions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The staff member and the permissions to grant and revoke.")]
        input: UpdateStaffPermissionsInput,
    ) -> async_graphql::Result<UserPayload> {
        let actor = ctx.viewer().require_permission(Permission::StaffAdmin)?;
        let result = match staff_id(&input.user_id) {
            Ok(id) => {
                service::update_staff_permissions(ctx.app(), actor, id, &input.grant, &input.revoke)
                    .await
            }
            Err(e) => Err(e),
        };
        user_payload(result)
    }

    /// Disables (or re-enables) a staff account; disabling ends its sessions at once (staff with
    /// STAFF_ADMIN; not the owner, not yourself).
    #[graphql(guard = "PermissionGuard(Permission::StaffAdmin)")]
    async fn set_staff_disabled(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The staff member and whether to disable them.")]
        input: SetStaffDisabledInput,
    ) -> async_graphql::Result<UserPayload> {
        let actor = ctx.viewer().require_permission(Permission::StaffAdmin)?;
        let result = match staff_id(&input.user_id) {
            Ok(id) => service::set_staff_disabled(ctx.app(), actor, id, input.disabled).await,
            Err(e) => Err(e),
        };
        user_payload(result)
    }
}
