//! Prometheus metrics in the text exposition format, kept by hand: a handful of counters and
//! histograms does not justify a registry crate, and the hot path is one short lock.
use std::{
    collections::HashMap,
    fmt::Write,
    sync::atomic::{AtomicI64, AtomicU64, Ordering},
    time::Duration,
};

use parking_lot::Mutex;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Operation names come from clients; past this many distinct names the rest count as `other`.
const MAX_OPERATION_NAMES: usize = 500;

#[derive(Default)]
struct Histogram {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        self.count += 1;
        self.sum += secs;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i] += 1;
            }
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    operations: Mutex<HashMap<(String, &'static str), Histogram>>,
    errors: Mutex<HashMap<String, u64>>,
    db_statements: AtomicU64,
    db_statement_failures: AtomicU64,
    live_subscriptions: AtomicI64,
    websocket_connections: AtomicI64,
    events_dispatched: AtomicU64,
}

impl Metrics {
    /// One finished GraphQL operation: its name (`anonymous` when unnamed), its type
    /// (`query`, `mutation`, `subscription` or `invalid`), how long it took, and its error codes.
    pub fn record_operation<'a>(
        &self,
        name: Option<&str>,
        kind: &'static str,
        elapsed: Duration,
        error_codes: impl IntoIterator<Item = &'a str>,
    ) {
        {
            let mut ops = self.operations.lock();
            let name = name.unwrap_or("anonymous");
            let key_name = if ops.len() >= MAX_OPERATION_NAMES
                && !ops.contains_key(&(name.to_string(), kind))
            {
                "other"
            } else {
                name
            };
            ops.entry((key_name.to_string(), kind))
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
        let mut codes = error_codes.into_iter().peekable();
        if codes.peek().is_some() {
            let mut errors = self.errors.lock();
            for code in codes {
                *errors.entry(code.to_string()).or_default() += 1;
            }
        }
    }

    pub fn record_error_code(&self, code: &str) {
        *self.errors.lock().entry(code.to_string()).or_default() += 1;
    }

    pub fn record_db_statement(&self, failed: bool) {
        self.db_statements.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.db_statement_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn subscription_started(&self) {
        self.live_subscriptions.fetch_add(1, Ordering::Relaxed);
    }

    pub fn subscription_ended(&self) {
        self.live_subscriptions.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn websocket_opened(&self) {
        self.websocket_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn websocket_closed(&self) {
        self.websocket_connections.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn events_dispatched(&self, n: u64) {
        self.events_dispatched.fetch_add(n, Ordering::Relaxed);
    }

    pub fn live_subscriptions(&self) -> i64 {
        self.live_subscriptions.load(Ordering::Relaxed)
    }

    /// The exposition text. `pool` is the database pool's `(size, idle)`.
    pub fn render(&self, pool: (u32, usize)) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP distmall_graphql_operation_duration_seconds GraphQL operations by name and type.\n");
        out.push_str("# TYPE distmall_graphql_operation_duration_seconds histogram\n");
        let ops = self.operations.lock();
        let mut keys: Vec<_> = ops.keys().collect();
        keys.sort();
        for key in keys {
            let h = &ops[key];
            let labels = format!("operation=\"{}\",type=\"{}\"", escape_label(&key.0), key.1);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "distmall_graphql_operation_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "distmall_graphql_operation_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "distmall_graphql_operation_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "distmall_graphql_operation_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        drop(ops);

        out.push_str("# HELP distmall_graphql_errors_total GraphQL errors by extensions.code.\n");
        out.push_str("# TYPE distmall_graphql_errors_total counter\n");
        let errors = self.errors.lock();
        let mut codes: Vec<_> = errors.iter().collect();
        codes.sort();
        for (code, n) in codes {
            let _ = writeln!(
                out,
                "distmall_graphql_errors_total{{code=\"{}\"}} {n}",
                escape_label(code)
            );
        }
        drop(errors);

        let gauges = [
            (
                "distmall_live_subscriptions",
                "gauge",
                "Active GraphQL subscriptions.",
                self.live_subscriptions.load(Ordering::Relaxed).to_string(),
            ),
            (
                "distmall_websocket_connections",
                "gauge",
                "Open graphql-transport-ws connections.",
                self.websocket_connections
                    .load(Ordering::Relaxed)
                    .to_string(),
            ),
            (
                "distmall_db_statements_total",
                "counter",
                "SQL statements executed.",
                self.db_statements.load(Ordering::Relaxed).to_string(),
            ),
            (
                "distmall_db_statement_failures_total",
                "counter",
                "SQL statements that failed.",
                self.db_statement_failures
                    .load(Ordering::Relaxed)
                    .to_string(),
            ),
            (
                "distmall_db_pool_connections",
                "gauge",
                "Open database connections in the pool.",
                pool.0.to_string(),
            ),
            (
                "distmall_db_pool_idle_connections",
                "gauge",
                "Idle database connections in the pool.",
                pool.1.to_string(),
            ),
            (
                "distmall_events_dispatched_total",
                "counter",
                "Outbox events delivered to this instance's subscribers.",
                self.events_dispatched.load(Ordering::Relaxed).to_string(),
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_operations_errors_and_gauges() {
        let m = Metrics::default();
        m.record_operation(Some("Me"), "query", Duration::from_millis(3), ["FORBIDDEN"]);
        m.record_operation(None, "mutation", Duration::from_millis(30), []);
        m.subscription_started();
        let text = m.render((3, 1));
        assert!(text.contains(
            "distmall_graphql_operation_duration_seconds_bucket{operation=\"Me\",type=\"query\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "distmall_graphql_operation_duration_seconds_bucket{operation=\"Me\",type=\"query\",le=\"0.0025\"} 0"
        ));
        assert!(text.contains(
            "distmall_graphql_operation_duration_seconds_count{operation=\"anonymous\",type=\"mutation\"} 1"
        ));
        assert!(text.contains("distmall_graphql_errors_total{code=\"FORBIDDEN\"} 1"));
        assert!(text.contains("distmall_live_subscriptions 1"));
        assert!(text.contains("distmall_db_pool_connections 3"));
    }

    #[test]
    fn operation_names_are_capped() {
        let m = Metrics::default();
        for i in 0..(MAX_OPERATION_NAMES + 10) {
            m.record_operation(Some(&format!("op{i}")), "query", Duration::ZERO, []);
        }
        let text = m.render((0, 0));
        assert!(text.contains("operation=\"other\""));
    }
}
