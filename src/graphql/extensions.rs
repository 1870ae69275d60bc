//! The request guardrails as one async-graphql extension:
//! * refuses documents with too many aliases (async-graphql has no such limit), and
//!   introspection with an error when it is disabled (the library silently answers null);
//! * gives parse and validation errors a code (`GRAPHQL_PARSE_FAILED`, `QUERY_TOO_DEEP`, …);
//! * reports the query cost in `extensions.cost`;
//! * records each operation's latency and error codes, by operation name and type;
//! * replaces any execution error that reached it without a code — a bug, never intended for a
//!   client — with `INTERNAL` and a request id, logging the original.
use std::{sync::Arc, time::Instant};

use async_graphql::{
    ErrorExtensionValues, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
        NextValidation,
    },
    parser::types::{ExecutableDocument, Field, OperationType, Selection, SelectionSet},
};
use parking_lot::Mutex;

use crate::{metrics::Metrics, request_scope::RequestScope};

pub struct Guardrails {
    pub introspection: bool,
    pub max_aliases: usize,
    pub max_complexity: usize,
    pub metrics: Option<Arc<Metrics>>,
}

impl ExtensionFactory for Guardrails {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardrailsRun {
            introspection: self.introspection,
            max_aliases: self.max_aliases,
            max_complexity: self.max_complexity,
            metrics: self.metrics.clone(),
            cost: Mutex::new(None),
            operations: Mutex::new(Vec::new()),
            executed: Mutex::new(None),
        })
    }
}

struct GuardrailsRun {
    introspection: bool,
    max_aliases: usize,
    max_complexity: usize,
    metrics: Option<Arc<Metrics>>,
    cost: Mutex<Option<(usize, usize)>>,
    /// The operations the document defines: name and type.
    operations: Mutex<Vec<(Option<String>, &'static str)>>,
    /// The one that ran.
    executed: Mutex<Option<(Option<String>, &'static str)>>,
}

fn operation_kind(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

fn error_code(e: &ServerError) -> &str {
    e.extensions
        .as_ref()
        .and_then(|x| x.get("code"))
        .and_then(|v| match v {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        })
        .unwrap_or("UNKNOWN")
}

fn with_code(mut err: ServerError, code: &str) -> ServerError {
    let has_code = err
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some());
    if !has_code {
        err.extensions
            .get_or_insert_with(ErrorExtensionValues::default)
            .set("code", code);
    }
    err
}

fn validation_code(message: &str) -> &'static str {
    if message.contains("too complex") {
        "QUERY_TOO_COMPLEX"
    } else if message.contains("nested too deep") || message.contains("recursion depth") {
        "QUERY_TOO_DEEP"
    } else if message.contains("directives") {
        "TOO_MANY_DIRECTIVES"
    } else {
        "GRAPHQL_VALIDATION_FAILED"
    }
}

/// Calls `f` for every field selected anywhere in the document (operations and fragments).
fn visit_fields(doc: &ExecutableDocument, f: &mut impl FnMut(&Field)) {
    fn walk(set: &SelectionSet, f: &mut impl FnMut(&Field)) {
        for sel in &set.items {
            match &sel.node {
                Selection::Field(field) => {
                    f(&field.node);
                    walk(&field.node.selection_set.node, f);
                }
                Selection::InlineFragment(frag) => walk(&frag.node.selection_set.node, f),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    for (_, op) in doc.operations.iter() {
        walk(&op.node.selection_set.node, f);
    }
    for frag in doc.fragments.values() {
        walk(&frag.node.selection_set.node, f);
    }
}

#[async_trait::async_trait]
impl Extension for GuardrailsRun {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let mut resp = next.run(ctx).await;
        if let Some(metrics) = &self.metrics {
            let (name, kind) = self
                .executed
                .lock()
                .clone()
                .or_else(|| self.operations.lock().first().cloned())
                .unwrap_or((None, "invalid"));
            metrics.record_operation(
                name.as_deref(),
                kind,
                started.elapsed(),
                resp.errors.iter().map(error_code),
            );
        }
        if let Some((cost, depth)) = *self.cost.lock() {
            let mut m = async_graphql::indexmap::IndexMap::new();
            m.insert(
                async_graphql::Name::new("requestedQueryCost"),
                Value::from(cost as u64),
            );
            m.insert(
                async_graphql::Name::new("maximumAvailable"),
                Value::from(self.max_complexity as u64),
            );
            m.insert(async_graphql::Name::new("depth"), Value::from(depth as u64));
            resp.extensions.insert("cost".into(), Value::Object(m));
        }
        resp
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, "GRAPHQL_PARSE_FAILED"))?;
        *self.operations.lock() = doc
            .operations
            .iter()
            .map(|(name, op)| (name.map(|n| n.to_string()), operation_kind(op.node.ty)))
            .collect();
        let (mut aliases, mut introspects) = (0, false);
        visit_fields(&doc, &mut |f| {
            aliases += usize::from(f.alias.is_some());
            introspects |= matches!(f.name.node.as_str(), "__schema" | "__type");
        });
        if introspects && !self.introspection {
            return Err(with_code(
                ServerError::new("introspection is disabled on this server", None),
                "INTROSPECTION_DISABLED",
            ));
        }
        if aliases > self.max_aliases {
            return Err(with_code(
                ServerError::new(
                    format!(
                        "the document uses {aliases} aliases; at most {} are allowed",
                        self.max_aliases
                    ),
                    None,
                ),
                "TOO_MANY_ALIASES",
            ));
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        match next.run(ctx).await {
            Ok(result) => {
                *self.cost.lock() = Some((result.complexity, result.depth));
                Ok(result)
            }
            Err(errors) => Err(errors
                .into_iter()
                .map(|e| {
                    let code = validation_code(&e.message);
                    with_code(e, code)
                })
                .collect()),
        }
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        *self.executed.lock() = self
            .operations
            .lock()
            .iter()
            .find(|(name, _)| operation_name.is_none() || name.as_deref() == operation_name)
            .cloned();
        let mut resp = next.run(ctx, operation_name).await;
        for err in &mut resp.errors {
            let has_code = err
                .extensions
                .as_ref()
                .is_some_and(|e| e.get("code").is_some());
            if has_code {
                continue;
            }
            if err.message.starts_with("Failed to parse")
                || err.message.starts_with("Invalid value")
            {
                *err = with_code(err.clone(), "BAD_USER_INPUT");
                continue;
            }
            let request_id = RequestScope::current_request_id().unwrap_or_default();
            tracing::error!(request_id, error = %err.message, path = ?err.path, "uncoded resolver error");
            let path = std::mem::take(&mut err.path);
            let locations = std::mem::take(&mut err.locations);
            *err = crate::graphql::errors::internal_error(&request_id)
                .into_server_error(locations.first().copied().unwrap_or_default());
            err.path = path;
            err.locations = locations;
        }
        resp
    }
}
