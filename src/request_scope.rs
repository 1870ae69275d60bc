//! Per-request facts that code deep below the GraphQL layer needs without threading them through
//! every call: the request id (printed with internal errors) and the SQL statement counter.
//! Stored in a tokio task-local; DataLoader batches are spawned inside the same scope.
use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

pub struct RequestScope {
    pub request_id: String,
    sql_statements: AtomicU64,
}

tokio::task_local! {
    static CURRENT: Arc<RequestScope>;
}

impl RequestScope {
    pub fn new(request_id: String) -> Arc<Self> {
        Arc::new(Self {
            request_id,
            sql_statements: AtomicU64::new(0),
        })
    }

    pub fn sql_statements(&self) -> u64 {
        self.sql_statements.load(Ordering::Relaxed)
    }

    /// Runs `fut` with this scope as the current one.
    pub fn run<F: Future>(self: &Arc<Self>, fut: F) -> impl Future<Output = F::Output> + use<F> {
        CURRENT.scope(self.clone(), fut)
    }

    pub fn current() -> Option<Arc<RequestScope>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// Called by the database layer for every statement it runs.
    pub fn count_statement() {
        let _ = CURRENT.try_with(|s| s.sql_statements.fetch_add(1, Ordering::Relaxed));
    }

    pub fn current_request_id() -> Option<String> {
        CURRENT.try_with(|s| s.request_id.clone()).ok()
    }
}
