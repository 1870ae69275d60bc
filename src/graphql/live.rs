//! The event stream behind every subscription, kept within what its caller may see *now*.
//!
//! A subscription is authorized when it starts, and its events are resolved with the viewer it
//! started with. If the account then loses a role or a permission, that viewer shows more than
//! the account may see, so the stream ends with a `FORBIDDEN` error (the client subscribes again
//! and is authorized afresh). The account's changes arrive in the stream itself, in their place
//! among the subscription's events, so no event committed after the change is delivered with
//! the old rights — whichever instance made the change.
use std::sync::Arc;

use async_graphql::Context;
use futures::{Stream, StreamExt};

use super::context::CtxExt;
use crate::{
    auth::ACCOUNT_UPDATED,
    error::AppError,
    events::{self, Event, EventFilter, LiveOnly},
};

/// The events `filter` selects after `after` (see `events::subscribe`), ending with `FORBIDDEN`
/// as soon as the caller's account is disabled or loses a right it had when this started.
pub fn subscribe(
    ctx: &Context<'_>,
    filter: EventFilter,
    after: Option<i64>,
) -> impl Stream<Item = Result<Arc<Event>, AppError>> + Send + 'static + use<> {
    let app = ctx.app().clone();
    let granted = ctx.viewer().principal().cloned();
    let live_only = granted.as_ref().map(|p| LiveOnly {
        event_type: ACCOUNT_UPDATED,
        aggregate_id: p.user_id,
    });
    let events = events::subscribe_with(&app.bus, app.db.conn().clone(), filter, after, live_only);
    async_stream::try_stream! {
        futures::pin_mut!(events);
        while let Some(event) = events.next().await {
            let event = event?;
            if let (Some(l), Some(before)) = (live_only, &granted)
                && l.event_type == event.event_type
                && l.aggregate_id == event.aggregate_id
            {
                // The change may have been made on another instance, and this stream may see
                // its event before the task that drops cached principals does: drop it here.
                app.principals.invalidate(before.user_id);
                let now = app.principals.get(app.db.conn(), before.user_id).await?;
                if !now.is_some_and(|p| p.keeps_every_right_of(before)) {
                    Err(AppError::Forbidden(
                        "this account's roles or permissions changed; subscribe again".into(),
                    ))?;
                }
                continue;
            }
            yield event;
        }
    }
}
