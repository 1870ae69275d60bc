//! The GraphQL face of notifications.
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use entity::{notification, user};
use futures::{Stream, StreamExt};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::service::{self, EVENT_CREATED, NewNotification};
use crate::{
    auth::{Permission, PermissionGuard},
    error::{AppError, ServiceError},
    events::{self, EventFilter},
    graphql::{
        context::CtxExt,
        errors::payload,
        ids,
        relay::{self, Page, Window},
        scalars::DateTime,
    },
};

/// What a notification is about (the mini-program picks an icon by it).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    /// About the account or the service itself.
    System,
    /// A notice from the merchant (sent by staff with MARKETING).
    Marketing,
    /// About one of the user's orders, or, for staff, an order that needs attention.
    Order,
    /// About the user's commissions or balance.
    Commission,
    /// Low stock (to inventory staff).
    Stock,
    /// Distributor applications and status.
    Distribution,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::System => "SYSTEM",
            NotificationKind::Marketing => "MARKETING",
            NotificationKind::Order => "ORDER",
            NotificationKind::Commission => "COMMISSION",
            NotificationKind::Stock => "STOCK",
            NotificationKind::Distribution => "DISTRIBUTION",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "MARKETING" => NotificationKind::Marketing,
            "ORDER" => NotificationKind::Order,
            "COMMISSION" => NotificationKind::Commission,
            "STOCK" => NotificationKind::Stock,
            "DISTRIBUTION" => NotificationKind::Distribution,
            _ => NotificationKind::System,
        }
    }
}

/// A message to one user, shown in the in-app inbox.
pub struct Notification(pub Arc<notification::Model>);

impl Notification {
    pub fn global_id(id: i64) -> ID {
        ids::encode("Notification", id)
    }
}

/// A message to one user, shown in the in-app inbox. Only its recipient can read it.
#[Object]
impl Notification {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }

    /// What it is about.
    async fn kind(&self) -> NotificationKind {
        NotificationKind::parse(&self.0.kind)
    }

    /// One line, 1–120 characters.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The message, up to 2,000 characters; may be empty.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// Where tapping the notification leads: a mini-program path (`/pages/…`) or an http(s)
    /// URL; null when it leads nowhere.
    async fn link(&self) -> Option<&str> {
        self.0.link.as_deref()
    }

    /// Whether the user has marked it read.
    async fn read(&self) -> bool {
        self.0.read_at.is_some()
    }

    /// When it was marked read; null while unread.
    async fn read_at(&self) -> Option<DateTime> {
        self.0.read_at.map(DateTime)
    }

    /// When it was sent.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// A notification pushed live, with the event id to resume from after a reconnect.
#[derive(SimpleObject)]
pub struct NotificationEvent {
    /// Pass as `after` when re-subscribing to receive only what came later.
    event_id: String,
    /// The new notification.
    notification: Notification,
}

/// Why a notification mutation was refused.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationErrorCode {
    /// No user has the given id.
    UserNotFound,
    /// The title is empty or longer than 120 characters.
    InvalidTitle,
    /// The body is longer than 2,000 characters.
    InvalidBody,
    /// The link is neither a mini-program path starting with `/` nor an http(s) URL.
    InvalidLink,
    /// Neither `ids` nor `all: true` was given.
    NothingSelected,
}

crate::user_error_type!(
    /// A refused notification mutation.
    NotificationError,
    NotificationErrorCode
);

/// Which of the signed-in user's notifications to mark read: `ids`, or `all: true`.
#[derive(InputObject)]
pub struct MarkNotificationsReadInput {
    /// The notifications to mark read; ids of other users' notifications are ignored.
    ids: Option<Vec<ID>>,
    /// Mark every unread notification read instead.
    #[graphql(default)]
    all: bool,
}

/// The result of `markNotificationsRead`.
#[derive(SimpleObject)]
pub struct MarkNotificationsReadPayload {
    /// How many notifications changed from unread to read.
    updated_count: i64,
    /// Unread notifications left.
    unread_count: i64,
    /// Why nothing was marked (`NOTHING_SELECTED`); empty on success.
    user_errors: Vec<NotificationError>,
}

/// A notification for one user.
#[derive(InputObject)]
pub struct NotifyUserInput {
    /// The recipient's `User` id.
    user_id: ID,
    /// What it is about; `MARKETING` when omitted.
    #[graphql(default_with = "NotificationKind::Marketing")]
    kind: NotificationKind,
    /// 1–120 characters.
    title: String,
    /// Up to 2,000 characters.
    #[graphql(default)]
    body: String,
    /// A mini-program path starting with / or an http(s) URL.
    link: Option<String>,
}

/// The result of `notifyUser`.
#[derive(SimpleObject)]
pub struct NotifyUserPayload {
    /// The notification as sent; null when refused.
    notification: Option<Notification>,
    /// Why it was refused; empty on success.
    user_errors: Vec<NotificationError>,
}

async fn unread_count(ctx: &Context<'_>, user_id: i64) -> Result<i64, AppError> {
    Ok(notification::Entity::find()
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null())
        .count(ctx.app().db.conn())
        .await? as i64)
}

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The signed-in user's notifications, newest first.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only unread ones.", default)] unread: bool,
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
    ) -> async_graphql::Result<Page<Notification>> {
        let user_id = ctx.viewer().require_user()?.user_id;
        let window = Window::new(first, after, last, before)?;
        let mut select =
            notification::Entity::find().filter(notification::Column::UserId.eq(user_id));
        if unread {
            select = select.filter(notification::Column::ReadAt.is_null());
        }
        Ok(relay::paginate(
            ctx.app().db.conn(),
            select,
            notification::Column::Id,
            |n| n.id,
            true,
            window,
            |n| Notification(Arc::new(n)),
        )
        .await?)
    }

    /// How many notifications the signed-in user has not read (for the badge).
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let user_id = ctx.viewer().require_user()?.user_id;
        Ok(unread_count(ctx, user_id).await?)
    }
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks the signed-in user's notifications read.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notifications to mark, or all of them.")]
        input: MarkNotificationsReadInput,
    ) -> async_graphql::Result<MarkNotificationsReadPayload> {
        let user_id = ctx.viewer().require_user()?.user_id;
        let selected = match (input.all, input.ids) {
            (true, _) => None,
            (false, Some(ids)) if !ids.is_empty() => Some(
                // Ids that are malformed or not notifications match nothing.
                ids.iter()
                    .filter_map(|id| ids::decode("Notification", id).ok())
                    .collect::<Vec<_>>(),
            ),
            _ => {
                return Ok(MarkNotificationsReadPayload {
                    updated_count: 0,
                    unread_count: unread_count(ctx, user_id).await?,
                    user_errors: vec![NotificationError::new(
                        NotificationErrorCode::NothingSelected,
                        Some("ids"),
                        "give the notification ids, or all: true",
                    )],
                });
            }
        };
        let app = ctx.app();
        let tx = app.db.begin_write().await?;
        let updated = service::mark_read(&tx, user_id, selected).await?;
        tx.commit().await?;
        Ok(MarkNotificationsReadPayload {
            updated_count: updated as i64,
            unread_count: unread_count(ctx, user_id).await?,
            user_errors: Vec::new(),
        })
    }

    /// Sends an in-app notification to one user (staff with MARKETING).
    #[graphql(guard = "PermissionGuard(Permission::Marketing)")]
    async fn notify_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The recipient and the message.")] input: NotifyUserInput,
    ) -> async_graphql::Result<NotifyUserPayload> {
        payload(
            notify_user(ctx, input).await,
            |n| NotifyUserPayload {
                notification: Some(Notification(Arc::new(n))),
                user_errors: Vec::new(),
            },
            |user_errors| NotifyUserPayload {
                notification: None,
                user_errors,
            },
        )
    }
}

async fn notify_user(
    ctx: &Context<'_>,
    input: NotifyUserInput,
) -> Result<notification::Model, ServiceError<Vec<NotificationError>>> {
    let reject = |code, field, message: &str| {
        Err(ServiceError::User(vec![NotificationError::new(
            code,
            Some(field),
            message,
        )]))
    };
    let app = ctx.app();
    let Ok(user_id) = ids::decode("User", &input.user_id) else {
        return reject(
            NotificationErrorCode::UserNotFound,
            "userId",
            "no such user",
        );
    };
    let new = NewNotification {
        user_id,
        kind: input.kind.as_str(),
        title: &input.title,
        body: &input.body,
        link: input.link.as_deref(),
    };
    if let Err((field, message)) = service::check(&new) {
        let code = match field {
            "title" => NotificationErrorCode::InvalidTitle,
            "body" => NotificationErrorCode::InvalidBody,
            _ => NotificationErrorCode::InvalidLink,
        };
        return reject(code, field, &message);
    }
    let tx = app.db.begin_write().await?;
    if user::Entity::find_by_id(user_id).one(&*tx).await?.is_none() {
        return reject(
            NotificationErrorCode::UserNotFound,
            "userId",
            "no such user",
        );
    }
    let n = service::notify(&tx, new).await?;
    tx.commit().await?;
    Ok(n)
}

#[derive(Default)]
pub struct NotificationSubscription;

#[Subscription]
impl NotificationSubscription {
    /// The signed-in user's new notifications as they are created. Pass the last `eventId`
    /// you received as `after` to first receive what you missed while disconnected.
    async fn notification_received(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The `eventId` of the last event you received: what came after it is delivered first, once. Omit it to receive only new events."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<NotificationEvent>> + use<>>
    {
        let user_id = ctx.viewer().require_user()?.user_id;
        let after = events::parse_event_id(after.as_deref())?;
        let filter = EventFilter {
            event_types: &[EVENT_CREATED],
            recipient_user_id: Some(user_id),
            aggregate_id: None,
        };
        let stream = crate::graphql::live::subscribe(ctx, filter, after);
        Ok(stream.filter_map(|item| async move {
            match item {
                Ok(e) => service::from_payload(&e.payload).map(|n| {
                    Ok(NotificationEvent {
                        event_id: e.id.to_string(),
                        notification: Notification(Arc::new(n)),
                    })
                }),
                Err(e) => Some(Err(e.into())),
            }
        }))
    }
}
