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

    /// What the committing task keeps from one group to the next (a connection of its own).
    type Writer: Default + Send + Sync + 'static;

    /// Makes the writer, in the committing task, before its first group.
    fn writer(_app: &AppState) -> impl Future<Output = Result<Self::Writer, AppError>> + Send {
        async { Ok(Self::Writer::default()) }
    }

    /// Commits `requests` in one transaction, answering each in order; an `Err` rolls the
    /// whole group back.
    fn commit(
        app: &AppState,
        writer: &Self::Writer,
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
    /// The name of the thread the committing task has to itself, if it has one.
    own_thread: Option<&'static str>,
}

impl<C: GroupCommit> Default for GroupQueue<C> {
    fn default() -> Self {
        Self {
            sender: OnceLock::new(),
            own_thread: None,
        }
    }
}

impl<C: GroupCommit> GroupQueue<C> {
    /// A queue whose committing task runs on a thread of its own. A group's statements run one
    /// after another while it holds the write lock (SQLite) or a hot row (PostgreSQL); on the
    /// shared runtime each answer from the database waits behind every request task that is
    /// ready to run, which under load is most of a group's time. Alone on its thread the task
    /// goes on as soon as the answer is there.
    ///
    /// sqlx's SQLite connections talk to their own worker threads and serve any runtime; a
    /// PostgreSQL connection belongs to the runtime it was opened on, so such a task opens its
    /// own in `GroupCommit::writer` (on this thread) rather than use the shared pool's.
    pub fn on_own_thread(name: &'static str) -> Self {
        Self {
            sender: OnceLock::new(),
            own_thread: Some(name),
        }
    }

    /// Queues `request` and waits for its answer. `app` must own this queue.
    pub async fn submit(
        &self,
        app: &Arc<AppState>,
        request: C::Request,
    ) -> Result<C::Answer, AppError> {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            let committing = commit_waiting::<C>(Arc::downgrade(app), receiver);
            match self.own_thread {
                None => drop(tokio::spawn(committing)),
                Some(name) => run_on_own_thread(name, committing),
            }
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

/// Runs `task` to its end on a new thread with a runtime of its own.
fn run_on_own_thread(name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
    let started = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(task),
                Err(e) => tracing::error!(error = %e, "no runtime for {name}"),
            }
        });
    if let Err(e) = started {
        tracing::error!(error = %e, "could not start {name}");
    }
}

/// Commits what is waiting, one transaction at a time, until the app is gone.
async fn commit_waiting<C: GroupCommit>(
    app: Weak<AppState>,
    mut receiver: mpsc::UnboundedReceiver<Waiting<C>>,
) {
    let mut waiting = Vec::with_capacity(MAX_GROUP);
    let mut writer = None;
    while receiver.recv_many(&mut waiting, MAX_GROUP).await > 0 {
        let Some(app) = app.upgrade() else { return };
        let group = std::mem::take(&mut waiting);
        if writer.is_none() {
            match C::writer(&app).await {
                Ok(w) => writer = Some(w),
                Err(e) => {
                    tracing::warn!(error = ?e, "a group-commit task has no writer");
                    for w in group {
                        let e = AppError::internal(anyhow::anyhow!("no writer for the group"));
                        let _ = w.reply.send(C::failed(e));
                    }
                    continue;
                }
            }
        }
        let Some(writer) = &writer else { continue };
        let requests: Vec<C::Request> = group.iter().map(|w| w.request.clone()).collect();
        match C::commit(&app, writer, &requests).await {
            Ok(answers) => {
                for (w, a) in group.into_iter().zip(answers) {
                    let _ = w.reply.send(a);
                }
            }
            Err(e) => {
                tracing::warn!(error = ?e, requests = requests.len(), "a group commit failed; retrying each alone");
                for w in group {
                    let alone = std::slice::from_ref(&w.request);
                    let answer = match C::commit(&app, writer, alone).await {
                        Ok(mut a) => a.remove(0),
                        Err(e) => C::failed(e),
                    };
                    let _ = w.reply.send(answer);
                }
            }
        }
    }
}
