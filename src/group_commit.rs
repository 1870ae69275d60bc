//! Requests committed in groups. Some writes arrive in bursts of many small, independent
//! requests (the 8 a.m. sign-in, a coupon rush); one transaction each makes the single SQLite
//! writer, the round trips and, on PostgreSQL, a hot row's lock the limit. So requests queue on
//! each instance and one task commits whatever is waiting in one transaction, answering each
//! request on its own. What a request may do is still decided by conditional writes in that
//! transaction, so grouping changes how fast, never what. When a group fails in the database,
//! each of its requests is tried alone, so one request's trouble is not everyone's.
use std::{
    future::Future,
    sync::{Arc, OnceLock, Weak},
};

use tokio::sync::{mpsc, oneshot};

use crate::{app::AppState, error::AppError};

/// Requests committed in one transaction at most.
pub const MAX_GROUP: usize = 256;

/// How one kind of request is committed in groups.
pub trait GroupCommit: Send + Sync + 'static {
    type Request: Clone + Send + 'static;
    type Answer: Send + 'static;

    /// Commits `requests` in one transaction, answering each in order; an `Err` rolls the
    /// whole group back.
    fn commit(
        app: &AppState,
        requests: &[Self::Request],
    ) -> impl Future<Output = Result<Vec<Self::Answer>, AppError>> + Send;

    /// The answer of a request that failed alone.
    fn failed(e: AppError) -> Self::Answer;
}

struct Waiting<C: GroupCommit> {
    request: C::Request,
    reply: oneshot::Sender<C::Answer>,
}

/// This instance's queue for `C`; its committing task starts on first use.
pub struct GroupQueue<C: GroupCommit> {
    sender: OnceLock<mpsc::UnboundedSender<Waiting<C>>>,
}

impl<C: GroupCommit> Default for GroupQueue<C> {
    fn default() -> Self {
        Self {
            sender: OnceLock::new(),
        }
    }
}

impl<C: GroupCommit> GroupQueue<C> {
    /// Queues `request` and waits for its answer. `app` must own this queue.
    pub async fn submit(
        &self,
        app: &Arc<AppState>,
        request: C::Request,
    ) -> Result<C::Answer, AppError> {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(commit_waiting::<C>(Arc::downgrade(app), receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        sender
            .send(Waiting { request, reply })
            .map_err(|_| AppError::internal(anyhow::anyhow!("a group-commit task stopped")))?;
        answer.await.map_err(|_| {
            AppError::internal(anyhow::anyhow!("a group-commit task dropped a request"))
        })
    }
}

/// Commits what is waiting, one transaction at a time, until the app is gone.
async fn commit_waiting<C: GroupCommit>(
    app: Weak<AppState>,
    mut receiver: mpsc::UnboundedReceiver<Waiting<C>>,
) {
    let mut waiting = Vec::with_capacity(MAX_GROUP);
    while receiver.recv_many(&mut waiting, MAX_GROUP).await > 0 {
        let Some(app) = app.upgrade() else { return };
        let group = std::mem::take(&mut waiting);
        let requests: Vec<C::Request> = group.iter().map(|w| w.request.clone()).collect();
        match C::commit(&app, &requests).await {
            Ok(answers) => {
                for (w, a) in group.into_iter().zip(answers) {
                    let _ = w.reply.send(a);
                }
            }
            Err(e) => {
                tracing::warn!(error = ?e, requests = requests.len(), "a group commit failed; retrying each alone");
                for w in group {
                    let answer = match C::commit(&app, std::slice::from_ref(&w.request)).await {
                        Ok(mut a) => a.remove(0),
                        Err(e) => C::failed(e),
                    };
                    let _ = w.reply.send(answer);
                }
            }
        }
    }
}
