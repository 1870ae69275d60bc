//! The request guardrails, applied by the transports around `Schema::execute` rather than as an
//! async-graphql extension: with any extension registered, the library sends every resolved
//! field through the extension chain and a registry lookup, which cost a listing of 20
//! products with their SKUs about a quarter of its throughput.
//!
//! Before execution: the document is parsed once (and handed to the schema parsed), aliases,
//! introspection, the length of every string the client sent and the query cost are checked,
//! and the operation is named for the metrics.
//! After execution: every error gets a code — validation errors by what they say, resolver
//! errors without one become `INTERNAL` with the request id (their text is logged, never sent).
use std::collections::{HashMap, HashSet};

use async_graphql::{
    ErrorExtensionValues, Name, Positioned, Request, Response, ServerError, Value, Variables,
    parser::{
        parse_query, parse_schema,
        types::{
            BaseType, ExecutableDocument, Field, InputValueDefinition, OperationDefinition,
            OperationType, Selection, SelectionSet, TypeKind, TypeSystemDefinition,
        },
    },
};

use super::relay::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::{config::Config, request_scope::RequestScope};

/// What the guardrails need to know of the schema: each field's type and its arguments' types,
/// which fields page (take `first`/`last`) or fetch by a list of ids (`nodes`), and the fields
/// of input objects.
pub struct SchemaShape {
    fields: HashMap<String, HashMap<String, FieldShape>>,
    /// Input object → field → its type.
    inputs: HashMap<String, HashMap<String, String>>,
    query: String,
    mutation: String,
    subscription: String,
}

struct FieldShape {
    type_name: String,
    paged: bool,
    by_ids: bool,
    /// A list that is not the page of a connection (`edges`, `nodes` of a `…Connection`).
    unpaged_list: bool,
    /// Argument → its type.
    args: HashMap<String, String>,
}

fn is_list(t: &async_graphql::parser::types::Type) -> bool {
    matches!(t.base, BaseType::List(_))
}

fn named(t: &async_graphql::parser::types::Type) -> String {
    match &t.base {
        BaseType::Named(n) => n.to_string(),
        BaseType::List(inner) => named(inner),
    }
}

/// Name → type of a list of argument or input field definitions.
fn value_types(list: &[Positioned<InputValueDefinition>]) -> HashMap<String, String> {
    list.iter()
        .map(|v| (v.node.name.node.to_string(), named(&v.node.ty.node)))
        .collect()
}

impl SchemaShape {
    pub fn from_sdl(sdl: &str) -> anyhow::Result<Self> {
        let doc = parse_schema(sdl)?;
        let (mut fields, mut inputs) = (HashMap::new(), HashMap::new());
        for def in doc.definitions {
            let TypeSystemDefinition::Type(t) = def else {
                continue;
            };
            let list = match &t.node.kind {
                TypeKind::Object(o) => &o.fields,
                TypeKind::Interface(i) => &i.fields,
                TypeKind::InputObject(i) => {
                    inputs.insert(t.node.name.node.to_string(), value_types(&i.fields));
                    continue;
                }
                _ => continue,
            };
            let map: HashMap<String, FieldShape> = list
                .iter()
                .map(|f| {
                    let args: Vec<&str> = f
                        .node
                        .arguments
                        .iter()
                        .map(|a| a.node.name.node.as_str())
                        .collect();
                    (
                        f.node.name.node.to_string(),
                        FieldShape {
                            type_name: named(&f.node.ty.node),
                            paged: args.contains(&"first") || args.contains(&"last"),
                            by_ids: args.contains(&"ids"),
                            unpaged_list: is_list(&f.node.ty.node)
                                && !(t.node.name.node.ends_with("Connection")
                                    && matches!(f.node.name.node.as_str(), "edges" | "nodes")),
                            args: value_types(&f.node.arguments),
                        },
                    )
                })
                .collect();
            fields.insert(t.node.name.node.to_string(), map);
        }
        Ok(Self {
            fields,
            inputs,
            query: "QueryRoot".into(),
            mutation: "MutationRoot".into(),
            subscription: "SubscriptionRoot".into(),
        })
    }

    fn field(&self, parent: &str, name: &str) -> Option<&FieldShape> {
        self.fields.get(parent)?.get(name)
    }
}

/// The configured limits the guardrails apply.
pub struct Limits {
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub introspection: bool,
    /// The longest string (in characters) an argument or variable may hold, unless its field
    /// has a limit of its own in [`TEXT_LIMITS`].
    pub max_string_chars: usize,
}

impl Limits {
    pub fn from_config(c: &Config) -> Self {
        Self {
            max_complexity: c.graphql_max_complexity,
            max_aliases: c.graphql_max_aliases,
            introspection: c.introspection_enabled(),
            max_string_chars: c.graphql_max_string_chars,
        }
    }
}

/// A text a client sends, by where it goes.
#[derive(Clone, Copy, Debug)]
pub enum TextOf {
    /// A field of an input object: (input type, field).
    InputField(&'static str, &'static str),
    /// An argument: (type, field, argument).
    Argument(&'static str, &'static str, &'static str),
}

/// Searches: a keyword is a few words, and each character costs segmentation and index work.
pub const SEARCH_TEXT_MAX: usize = 100;

/// Texts with a length of their own, in characters: short where the text is a search, long
/// where it is a document. Every other string is bounded by `graphql_max_string_chars`. Each
/// field's schema description states its limit (a test holds them to it).
pub const TEXT_LIMITS: &[(TextOf, usize)] = &[
    (
        TextOf::InputField("ProductFilter", "keyword"),
        SEARCH_TEXT_MAX,
    ),
    (
        TextOf::Argument("QueryRoot", "searchSuggestions", "prefix"),
        SEARCH_TEXT_MAX,
    ),
    (
        TextOf::InputField("OrderFilter", "keyword"),
        SEARCH_TEXT_MAX,
    ),
    (
        TextOf::Argument("QueryRoot", "distributors", "keyword"),
        SEARCH_TEXT_MAX,
    ),
    // The catalogue's own rule (bytes) is the stricter one; this only lets it be reached.
    (
        TextOf::InputField("CreateProductInput", "descriptionHtml"),
        crate::catalog::rules::DESCRIPTION_MAX,
    ),
    (
        TextOf::InputField("UpdateProductInput", "descriptionHtml"),
        crate::catalog::rules::DESCRIPTION_MAX,
    ),
    (
        TextOf::InputField("DistributionSettingsInput", "agreement"),
        crate::distribution::settings::MAX_AGREEMENT_CHARS,
    ),
];

fn input_field_limit(input: &str, field: &str) -> Option<usize> {
    TEXT_LIMITS.iter().find_map(|(of, max)| match of {
        TextOf::InputField(t, f) if *t == input && *f == field => Some(*max),
        _ => None,
    })
}

fn argument_limit(parent: &str, field: &str, argument: &str) -> Option<usize> {
    TEXT_LIMITS.iter().find_map(|(of, max)| match of {
        TextOf::Argument(t, f, a) if *t == parent && *f == field && *a == argument => Some(*max),
        _ => None,
    })
}

/// A checked request, ready to execute.
pub struct Checked {
    pub operation_name: Option<String>,
    pub kind: &'static str,
    pub cost: usize,
}

pub fn coded(message: impl Into<String>, code: &str) -> ServerError {
    let mut e = ServerError::new(message, None);
    e.extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set("code", code);
    e
}

fn has_code(e: &ServerError) -> bool {
    e.extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some())
}

fn kind_of(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// Calls `f` for every field selected anywhere in the document.
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

/// An argument's value, with variables substituted.
fn arg(field: &Field, name: &str, vars: &Variables) -> Option<Value> {
    let (_, v) = field.arguments.iter().find(|(n, _)| n.node == name)?;
    v.node
        .clone()
        .into_const_with(|var| vars.get(&var).cloned().ok_or(()))
        .ok()
}

fn int_arg(field: &Field, name: &str, vars: &Variables) -> Option<i64> {
    match arg(field, name, vars)? {
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn list_len(field: &Field, name: &str, vars: &Variables) -> Option<usize> {
    match arg(field, name, vars)? {
        Value::List(l) => Some(l.len()),
        _ => None,
    }
}

/// Where a fragment selection continues: the type it applies to and its selection set (an
/// inline fragment without a type condition stays on `parent`; an unknown spread is `None`).
fn fragment_target<'a>(
    doc: &'a ExecutableDocument,
    parent: &'a str,
    sel: &'a Selection,
) -> Option<(&'a str, &'a SelectionSet)> {
    match sel {
        Selection::Field(_) => None,
        Selection::InlineFragment(frag) => Some((
            frag.node
                .type_condition
                .as_ref()
                .map_or(parent, |t| t.node.on.node.as_str()),
            &frag.node.selection_set.node,
        )),
        Selection::FragmentSpread(spread) => doc
            .fragments
            .get(&spread.node.fragment_name.node)
            .map(|frag| {
                (
                    frag.node.type_condition.node.on.node.as_str(),
                    &frag.node.selection_set.node,
                )
            }),
    }
}

/// The operation a request names (or its only one).
fn find_operation<'a>(
    doc: &'a ExecutableDocument,
    wanted: Option<&str>,
) -> Option<(Option<&'a Name>, &'a Positioned<OperationDefinition>)> {
    doc.operations
        .iter()
        .find(|(name, _)| wanted.is_none() || name.map(Name::as_str) == wanted)
}

/// How many items an unpaged list of objects is counted as having.
pub const LIST_ESTIMATE: usize = 3;

/// The cost of a selection, counted as Shopify counts it: what a field costs is how much work
/// it can cause, not how many fields are asked for.
/// * A scalar or enum field is free: it comes with its object's row.
/// * An object costs one plus its selection: resolvers read relations through per-request
///   loaders, one batch for every object of a page, not a query per item.
/// * A list of objects that is not paged (an order's lines, a product's SKUs) costs one plus
///   its selection [`LIST_ESTIMATE`] times: what a response holds multiplies with every list
///   nested in another, even when each level is one batch.
/// * A paged field (`first`/`last`, 20 by default, at most 100) costs two plus its selection
///   once per item of the page, so nested pages multiply; `nodes(ids)` costs its selection once
///   per id.
fn cost(
    shape: &SchemaShape,
    doc: &ExecutableDocument,
    parent: &str,
    set: &SelectionSet,
    vars: &Variables,
    depth: usize,
) -> usize {
    if depth > 64 {
        return usize::MAX / 4;
    }
    set.items
        .iter()
        .map(|sel| match &sel.node {
            Selection::Field(f) => {
                let f = &f.node;
                if f.selection_set.node.items.is_empty() {
                    return 0;
                }
                let info = shape.field(parent, f.name.node.as_str());
                let child_type = info.map_or("", |i| i.type_name.as_str());
                let child = cost(
                    shape,
                    doc,
                    child_type,
                    &f.selection_set.node,
                    vars,
                    depth + 1,
                );
                match info {
                    Some(i) if i.paged => {
                        let page = int_arg(f, "first", vars)
                            .or_else(|| int_arg(f, "last", vars))
                            .unwrap_or(DEFAULT_PAGE_SIZE as i64)
                            .clamp(1, MAX_PAGE_SIZE as i64)
                            as usize;
                        page.saturating_mul(child).saturating_add(2)
                    }
                    Some(i) if i.by_ids => list_len(f, "ids", vars)
                        .unwrap_or(1)
                        .max(1)
                        .saturating_mul(child.saturating_add(1)),
                    Some(i) if i.unpaged_list => {
                        LIST_ESTIMATE.saturating_mul(child).saturating_add(1)
                    }
                    _ => child.saturating_add(1),
                }
            }
            fragment => fragment_target(doc, parent, fragment)
                .map_or(0, |(on, set)| cost(shape, doc, on, set, vars, depth + 1)),
        })
        .fold(0usize, usize::saturating_add)
}

/// Finds the first string a request sends that is longer than its limit: in the arguments of
/// the operation it runs (variables substituted, so a variable is held to the limit of the
/// argument it fills) and in variables no argument uses.
struct TextCheck<'a> {
    shape: &'a SchemaShape,
    limits: &'a Limits,
    doc: &'a ExecutableDocument,
    vars: &'a Variables,
    /// Fragments already checked: a fragment applies to one type, so once is enough.
    fragments: HashSet<&'a str>,
    /// Variables some argument uses.
    used: HashSet<String>,
}

/// Where a too-long string was found, for the error.
struct TooLong {
    /// `argument "filter.keyword" of products` or `variable "$note"`.
    place: String,
    path: String,
    chars: usize,
    max: usize,
}

impl<'a> TextCheck<'a> {
    /// Checks the operation's arguments (from its root type `root`), then the variables none
    /// of them uses.
    fn request(
        &mut self,
        op: Option<(&str, &'a Positioned<OperationDefinition>)>,
    ) -> Result<(), TooLong> {
        if let Some((root, op)) = op {
            self.selection(root, &op.node.selection_set.node, 0)?;
        }
        for (name, value) in self.vars.iter() {
            if !self.used.contains(name.as_str()) {
                let mut path = format!("${name}");
                self.value(value, None, None, &mut path).map_err(|mut t| {
                    t.place = format!("variable {:?}", t.path);
                    t
                })?;
            }
        }
        Ok(())
    }

    fn selection(
        &mut self,
        parent: &str,
        set: &'a SelectionSet,
        depth: usize,
    ) -> Result<(), TooLong> {
        // Deeper documents are refused by validation (`graphql_max_depth`).
        if depth > 64 {
            return Ok(());
        }
        for sel in &set.items {
            match &sel.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    let name = f.name.node.as_str();
                    let shape = self.shape.field(parent, name);
                    for (arg, value) in &f.arguments {
                        let arg_name = arg.node.as_str();
                        let ty = shape.and_then(|s| s.args.get(arg_name));
                        let limit = argument_limit(parent, name, arg_name);
                        let Ok(value) = value.node.clone().into_const_with(self.variables());
                        self.argument(name, arg_name, &value, ty.map(String::as_str), limit)?;
                    }
                    for directive in &f.directives {
                        let at = format!("@{}", directive.node.name.node);
                        for (arg, value) in &directive.node.arguments {
                            let Ok(value) = value.node.clone().into_const_with(self.variables());
                            self.argument(&at, arg.node.as_str(), &value, None, None)?;
                        }
                    }
                    let child = shape.map_or("", |s| s.type_name.as_str());
                    self.selection(child, &f.selection_set.node, depth + 1)?;
                }
                Selection::InlineFragment(frag) => {
                    let on = frag
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |t| t.node.on.node.as_str());
                    self.selection(on, &frag.node.selection_set.node, depth + 1)?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if self.fragments.insert(name)
                        && let Some(frag) = self.doc.fragments.get(&spread.node.fragment_name.node)
                    {
                        let on = frag.node.type_condition.node.on.node.as_str();
                        self.selection(on, &frag.node.selection_set.node, depth + 1)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Substitutes the variables of an argument's value (a missing one is null: validation
    /// reports it), noting each as used.
    fn variables(&mut self) -> impl FnMut(Name) -> Result<Value, std::convert::Infallible> + '_ {
        let (vars, used) = (self.vars, &mut self.used);
        move |name| {
            used.insert(name.to_string());
            Ok(vars.get(&name).cloned().unwrap_or(Value::Null))
        }
    }

    fn argument(
        &self,
        field: &str,
        arg: &str,
        value: &Value,
        ty: Option<&str>,
        limit: Option<usize>,
    ) -> Result<(), TooLong> {
        let mut path = arg.to_string();
        self.value(value, ty, limit, &mut path).map_err(|mut t| {
            t.place = format!("argument {:?} of {field}", t.path);
            t
        })
    }

    fn value(
        &self,
        value: &Value,
        ty: Option<&str>,
        limit: Option<usize>,
        path: &mut String,
    ) -> Result<(), TooLong> {
        match value {
            Value::String(s) => {
                let max = limit.unwrap_or(self.limits.max_string_chars);
                // Bytes never undercount characters: count only when it may matter.
                if s.len() > max {
                    let chars = s.chars().count();
                    if chars > max {
                        return Err(TooLong {
                            place: String::new(),
                            path: path.clone(),
                            chars,
                            max,
                        });
                    }
                }
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    self.value(item, ty, limit, path)?;
                    path.truncate(len);
                }
            }
            Value::Object(fields) => {
                let shape = ty.and_then(|t| self.shape.inputs.get(t));
                for (name, item) in fields {
                    let field_ty = shape.and_then(|s| s.get(name.as_str()));
                    let field_limit = ty.and_then(|t| input_field_limit(t, name.as_str()));
                    let len = path.len();
                    path.push('.');
                    path.push_str(name);
                    self.value(item, field_ty.map(String::as_str), field_limit, path)?;
                    path.truncate(len);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl TooLong {
    fn into_error(self) -> ServerError {
        let mut e = ServerError::new(
            format!(
                "{} is {} characters long; at most {} are allowed",
                self.place, self.chars, self.max
            ),
            None,
        );
        let ext = e
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        ext.set("code", "BAD_USER_INPUT");
        ext.set("argument", self.path.as_str());
        ext.set("maxLength", self.max as u64);
        e
    }
}

/// Parses and checks `request` (leaving the parsed document in it), or says why it is refused.
pub fn check(
    shape: &SchemaShape,
    limits: &Limits,
    request: &mut Request,
) -> Result<Checked, ServerError> {
    let doc = parse_query(&request.query).map_err(|e| {
        let mut err: ServerError = e.into();
        err.extensions
            .get_or_insert_with(ErrorExtensionValues::default)
            .set("code", "GRAPHQL_PARSE_FAILED");
        err
    })?;
    let (mut aliases, mut introspects) = (0usize, false);
    visit_fields(&doc, &mut |f| {
        aliases += usize::from(f.alias.is_some());
        introspects |= matches!(f.name.node.as_str(), "__schema" | "__type");
    });
    if introspects && !limits.introspection {
        return Err(coded(
            "introspection is disabled on this server",
            "INTROSPECTION_DISABLED",
        ));
    }
    if aliases > limits.max_aliases {
        return Err(coded(
            format!(
                "the document uses {aliases} aliases; at most {} are allowed",
                limits.max_aliases
            ),
            "TOO_MANY_ALIASES",
        ));
    }
    let op = find_operation(&doc, request.operation_name.as_deref());
    let root_of = |op: &Positioned<OperationDefinition>| match op.node.ty {
        OperationType::Query => shape.query.as_str(),
        OperationType::Mutation => shape.mutation.as_str(),
        OperationType::Subscription => shape.subscription.as_str(),
    };
    TextCheck {
        shape,
        limits,
        doc: &doc,
        vars: &request.variables,
        fragments: HashSet::new(),
        used: HashSet::new(),
    }
    .request(op.map(|(_, op)| (root_of(op), op)))
    .map_err(TooLong::into_error)?;
    let (operation_name, kind, cost) = match op {
        Some((name, op)) => {
            let root = root_of(op);
            (
                name.map(|n| n.to_string()),
                kind_of(op.node.ty),
                cost(
                    shape,
                    &doc,
                    root,
                    &op.node.selection_set.node,
                    &request.variables,
                    0,
                ),
            )
        }
        // The schema reports the missing or ambiguous operation itself.
        None => (None, "invalid", 0),
    };
    if cost > limits.max_complexity {
        return Err(coded(
            format!(
                "the query costs {cost}; at most {} is allowed (page sizes multiply)",
                limits.max_complexity
            ),
            "QUERY_TOO_COMPLEX",
        ));
    }
    request.set_parsed_query(doc);
    Ok(Checked {
        operation_name,
        kind,
        cost,
    })
}

/// Whether the request is a query whose every selected field, through fragments too, passes
/// `allowed(type, field)` (`__typename` always does). Call after [`check`].
pub fn selects_only(
    shape: &SchemaShape,
    request: &mut Request,
    allowed: impl Fn(&str, &str) -> bool,
) -> bool {
    fn within(
        shape: &SchemaShape,
        doc: &ExecutableDocument,
        parent: &str,
        set: &SelectionSet,
        allowed: &impl Fn(&str, &str) -> bool,
        depth: usize,
    ) -> bool {
        depth <= 64
            && set.items.iter().all(|sel| match &sel.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    if name == "__typename" {
                        return true;
                    }
                    let Some(info) = shape.field(parent, name) else {
                        return false;
                    };
                    allowed(parent, name)
                        && within(
                            shape,
                            doc,
                            &info.type_name,
                            &f.node.selection_set.node,
                            allowed,
                            depth + 1,
                        )
                }
                fragment => fragment_target(doc, parent, fragment)
                    .is_some_and(|(on, set)| within(shape, doc, on, set, allowed, depth + 1)),
            })
    }
    let wanted = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return false;
    };
    let Some((_, op)) = find_operation(doc, wanted.as_deref()) else {
        return false;
    };
    op.node.ty == OperationType::Query
        && within(
            shape,
            doc,
            &shape.query,
            &op.node.selection_set.node,
            &allowed,
            0,
        )
}

fn validation_code(message: &str) -> &'static str {
    if message.contains("nested too deep") || message.contains("recursion depth") {
        "QUERY_TOO_DEEP"
    } else if message.contains("directives") {
        "TOO_MANY_DIRECTIVES"
    } else {
        "GRAPHQL_VALIDATION_FAILED"
    }
}

/// Gives every error of `resp` a code. Errors without a path were raised before execution
/// (validation); errors with one came from a resolver, and one without a code is a bug whose
/// text is logged and replaced by `INTERNAL` with the request id.
pub fn code_errors(resp: &mut Response) {
    for err in &mut resp.errors {
        if has_code(err) {
            continue;
        }
        let code = if err.path.is_empty() {
            validation_code(&err.message)
        } else if err.message.starts_with("Failed to parse")
            || err.message.starts_with("Invalid value")
        {
            "BAD_USER_INPUT"
        } else {
            let request_id = RequestScope::current_request_id().unwrap_or_default();
            tracing::error!(request_id, error = %err.message, path = ?err.path, "uncoded resolver error");
            err.message = "internal error".into();
            let ext = err
                .extensions
                .get_or_insert_with(ErrorExtensionValues::default);
            ext.set("requestId", request_id.as_str());
            "INTERNAL"
        };
        err.extensions
            .get_or_insert_with(ErrorExtensionValues::default)
            .set("code", code);
    }
}

/// `extensions.cost` of a response.
pub fn cost_extension(cost: usize, max: usize) -> async_graphql::Value {
    let mut m = async_graphql::indexmap::IndexMap::new();
    m.insert(Name::new("requestedQueryCost"), Value::from(cost as u64));
    m.insert(Name::new("maximumAvailable"), Value::from(max as u64));
    Value::Object(m)
}

/// The code of an error, for metrics.
pub fn error_code(e: &ServerError) -> &str {
    e.extensions
        .as_ref()
        .and_then(|x| x.get("code"))
        .and_then(|v| match v {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        })
        .unwrap_or("UNKNOWN")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = "
        type QueryRoot { me: User, notifications(first: Int, last: Int): NotificationConnection!, nodes(ids: [ID!]!): [Node]!, products(filter: ProductFilter): Int, searchSuggestions(prefix: String!): [String!]! }
        type MutationRoot { x: Int, createProduct(input: CreateProductInput!): Int, note(text: String, tags: [String!]): Int }
        input ProductFilter { keyword: String, brandIds: [ID!] }
        input CreateProductInput { name: String!, descriptionHtml: String }
        type SubscriptionRoot { y: Int }
        interface Node { id: ID! }
        type User implements Node { id: ID!, nickname: String }
        type NotificationConnection { totalCount: Int!, edges: [NotificationEdge!]! }
        type NotificationEdge { cursor: String!, node: Notification! }
        type Notification implements Node { id: ID!, title: String! }
    ";

    fn checked(query: &str, vars: serde_json::Value) -> Result<Checked, ServerError> {
        let shape = SchemaShape::from_sdl(SDL).unwrap();
        let limits = Limits {
            max_complexity: 1000,
            max_aliases: 3,
            introspection: false,
            max_string_chars: 1000,
        };
        let mut req = Request::new(query).variables(Variables::from_json(vars));
        check(&shape, &limits, &mut req)
    }

    #[test]
    fn scalars_are_free_and_objects_cost_one() {
        assert_eq!(
            checked("{ me { id nickname } }", serde_json::json!({}))
                .unwrap()
                .cost,
            1
        );
        assert_eq!(
            checked("{ __typename me { id } }", serde_json::json!({}))
                .unwrap()
                .cost,
            1
        );
    }

    #[test]
    fn page_sizes_multiply_including_from_variables() {
        // notifications: 2 + 10 × (edges 1 + node 1) = 22
        let q = "query($n: Int) { notifications(first: $n) { totalCount edges { node { id title } } } }";
        assert_eq!(checked(q, serde_json::json!({ "n": 10 })).unwrap().cost, 22);
        assert_eq!(
            checked(q, serde_json::json!({})).unwrap().cost,
            42,
            "20 by default"
        );
        let big = "{ notifications(first: 100) { edges { node { id title } } } a: notifications(first: 100) { edges { node { id title } } } b: notifications(first: 100) { edges { node { id title } } } }";
        assert_eq!(checked(big, serde_json::json!({})).unwrap().cost, 606);
    }

    #[test]
    fn nested_pages_multiply() {
        // A page of 100 users, each with a page of 100 notifications, is refused.
        let sdl = SDL.replace(
            "type User implements Node { id: ID!, nickname: String }",
            "type User implements Node { id: ID!, nickname: String, notifications(first: Int): NotificationConnection! }",
        );
        let shape = SchemaShape::from_sdl(&sdl).unwrap();
        let limits = Limits {
            max_complexity: 1000,
            max_aliases: 3,
            introspection: false,
            max_string_chars: 1000,
        };
        let q = "{ nodes(ids: [\"a\", \"b\"]) { ... on User { notifications(first: 100) { edges { node { title } } } } } }";
        let mut req = Request::new(q);
        // 2 ids × (1 + 2 + 100 × 2)
        assert_eq!(check(&shape, &limits, &mut req).unwrap().cost, 406);
        let q = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on User { notifications(first: 100) { edges { node { title } } } } } }";
        let ids: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let mut req =
            Request::new(q).variables(Variables::from_json(serde_json::json!({ "ids": ids })));
        assert_eq!(
            error_code(&check(&shape, &limits, &mut req).err().unwrap()),
            "QUERY_TOO_COMPLEX"
        );
    }

    #[test]
    fn lists_count_three_items_and_nested_lists_multiply() {
        let sdl = SDL.replace(
            "type User implements Node { id: ID!, nickname: String }",
            "type User implements Node { id: ID!, nickname: String, roles: [String!]!, friends: [User!]! }",
        );
        let shape = SchemaShape::from_sdl(&sdl).unwrap();
        let limits = Limits {
            max_complexity: 1000,
            max_aliases: 3,
            introspection: false,
            max_string_chars: 1000,
        };
        let cost = |q: &str| check(&shape, &limits, &mut Request::new(q)).unwrap().cost;
        // A list of scalars is free; friends { id }: 1 + 3 × 0.
        assert_eq!(cost("{ me { roles friends { id } } }"), 2);
        // me 1 + friends (1 + 3 × (friends 1 + 3 × 0)) = 5
        assert_eq!(cost("{ me { friends { friends { id } } } }"), 5);
        // The page's own list (`edges`) is counted by the page size, not again.
        assert_eq!(
            cost("{ notifications(first: 10) { edges { node { id } } } }"),
            22
        );
    }

    #[test]
    fn fragments_count_on_their_type() {
        let q = "{ nodes(ids: [\"a\", \"b\"]) { ...F } } fragment F on User { id nickname }";
        assert_eq!(checked(q, serde_json::json!({})).unwrap().cost, 2);
    }

    #[test]
    fn aliases_introspection_and_syntax_are_refused() {
        let q = "{ a: me { id } b: me { id } c: me { id } d: me { id } }";
        assert_eq!(
            error_code(&checked(q, serde_json::json!({})).err().unwrap()),
            "TOO_MANY_ALIASES"
        );
        assert_eq!(
            error_code(
                &checked("{ __schema { types { name } } }", serde_json::json!({}))
                    .err()
                    .unwrap()
            ),
            "INTROSPECTION_DISABLED"
        );
        assert_eq!(
            error_code(&checked("{ me { ", serde_json::json!({})).err().unwrap()),
            "GRAPHQL_PARSE_FAILED"
        );
    }

    #[test]
    fn selections_are_checked_against_an_allowed_set_through_fragments() {
        let shape = SchemaShape::from_sdl(SDL).unwrap();
        let allowed = |t: &str, f: &str| matches!((t, f), ("QueryRoot", "nodes") | ("User", _));
        let only = |q: &str| {
            let mut req = Request::new(q);
            selects_only(&shape, &mut req, allowed)
        };
        assert!(only(
            "{ nodes(ids: []) { __typename ... on User { id nickname } } }"
        ));
        assert!(only(
            "{ nodes(ids: []) { ...F } } fragment F on User { id }"
        ));
        assert!(!only("{ me { id } }"));
        assert!(!only(
            "{ nodes(ids: []) { ... on Notification { title } } }"
        ));
        assert!(!only(
            "{ nodes(ids: []) { ...F } } fragment F on Notification { title }"
        ));
        assert!(!only("mutation { x }"));
        assert!(!only("{ nodes(ids: []) { unknownField } }"));
    }

    /// The refusal of `query` with `vars`, as (argument, maxLength), or `None` when it passes.
    fn text_refusal(query: &str, vars: serde_json::Value) -> Option<(String, u64)> {
        let e = checked(query, vars).err()?;
        assert_eq!(error_code(&e), "BAD_USER_INPUT", "{}", e.message);
        let ext = e.extensions.unwrap();
        let argument = match ext.get("argument") {
            Some(Value::String(s)) => s.clone(),
            other => panic!("{other:?}"),
        };
        let max = match ext.get("maxLength") {
            Some(Value::Number(n)) => n.as_u64().unwrap(),
            other => panic!("{other:?}"),
        };
        Some((argument, max))
    }

    #[test]
    fn search_texts_have_their_own_short_limit_through_variables_and_literals() {
        let q = "query($f: ProductFilter) { products(filter: $f) }";
        let ok = "鞋".repeat(SEARCH_TEXT_MAX);
        let long = "鞋".repeat(SEARCH_TEXT_MAX + 1);
        assert_eq!(
            text_refusal(q, serde_json::json!({ "f": { "keyword": ok } })),
            None
        );
        assert_eq!(
            text_refusal(q, serde_json::json!({ "f": { "keyword": long } })),
            Some(("filter.keyword".into(), SEARCH_TEXT_MAX as u64))
        );
        let literal = format!("{{ products(filter: {{ keyword: \"{long}\" }}) }}");
        assert_eq!(
            text_refusal(&literal, serde_json::json!({})),
            Some(("filter.keyword".into(), SEARCH_TEXT_MAX as u64))
        );
        let nested = "query($k: String) { products(filter: { keyword: $k }) }";
        assert_eq!(
            text_refusal(nested, serde_json::json!({ "k": long })),
            Some(("filter.keyword".into(), SEARCH_TEXT_MAX as u64))
        );
        let prefix = "query($p: String!) { a: searchSuggestions(prefix: $p) }";
        assert_eq!(
            text_refusal(prefix, serde_json::json!({ "p": long })),
            Some(("prefix".into(), SEARCH_TEXT_MAX as u64))
        );
    }

    #[test]
    fn every_other_string_has_the_general_limit_and_long_texts_their_own() {
        let long = "x".repeat(1001);
        let q = "mutation($t: String, $tags: [String!]) { note(text: $t, tags: $tags) }";
        assert_eq!(
            text_refusal(q, serde_json::json!({ "t": long })),
            Some(("text".into(), 1000))
        );
        assert_eq!(
            text_refusal(q, serde_json::json!({ "tags": ["a", long] })),
            Some(("tags[1]".into(), 1000))
        );
        assert_eq!(
            text_refusal(q, serde_json::json!({ "t": "x".repeat(1000) })),
            None
        );
        // Characters, not bytes.
        assert_eq!(
            text_refusal(q, serde_json::json!({ "t": "长".repeat(1000) })),
            None
        );
        // A variable no argument uses is held to the general limit too.
        let unused = "mutation($t: String, $pad: String) { note(text: $t) }";
        assert_eq!(
            text_refusal(unused, serde_json::json!({ "pad": long })),
            Some(("$pad".into(), 1000))
        );
        // Through fragments and inline fragments as well.
        let spread = "query($p: String!) { ...F } fragment F on QueryRoot { ... on QueryRoot { searchSuggestions(prefix: $p) } }";
        assert_eq!(
            text_refusal(spread, serde_json::json!({ "p": "y".repeat(101) })),
            Some(("prefix".into(), SEARCH_TEXT_MAX as u64))
        );
        // A description may be longer than the general limit, up to its own.
        let create = "mutation($i: CreateProductInput!) { createProduct(input: $i) }";
        let description = "<p>".repeat(2000);
        assert_eq!(
            text_refusal(
                create,
                serde_json::json!({ "i": { "name": "x", "descriptionHtml": description } })
            ),
            None
        );
        assert_eq!(
            text_refusal(
                create,
                serde_json::json!({ "i": { "name": long, "descriptionHtml": "" } })
            ),
            Some(("input.name".into(), 1000))
        );
    }

    #[test]
    fn every_text_limit_names_a_field_of_the_schema_whose_description_states_it() {
        let sdl = crate::graphql::sdl();
        let doc = parse_schema(&sdl).unwrap();
        let description = |of: &TextOf| -> Option<String> {
            doc.definitions.iter().find_map(|def| {
                let TypeSystemDefinition::Type(t) = def else {
                    return None;
                };
                let (owner, field, arg) = match *of {
                    TextOf::InputField(t, f) => (t, f, None),
                    TextOf::Argument(t, f, a) => (t, f, Some(a)),
                };
                if t.node.name.node != owner {
                    return None;
                }
                let value = match (&t.node.kind, arg) {
                    (TypeKind::InputObject(i), None) => {
                        i.fields.iter().find(|v| v.node.name.node == field)?
                    }
                    (TypeKind::Object(o), Some(arg)) => o
                        .fields
                        .iter()
                        .find(|f| f.node.name.node == field)?
                        .node
                        .arguments
                        .iter()
                        .find(|v| v.node.name.node == arg)?,
                    _ => return None,
                };
                Some(
                    value
                        .node
                        .description
                        .as_ref()
                        .map(|d| d.node.clone())
                        .unwrap_or_default(),
                )
            })
        };
        for (of, max) in TEXT_LIMITS {
            let text = description(of).unwrap_or_else(|| panic!("{of:?} is not in the schema"));
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let stated = max
                .to_string()
                .as_bytes()
                .rchunks(3)
                .rev()
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join(",");
            assert!(
                text.contains(&format!("at most {stated} ")),
                "the description of {of:?} does not state its limit ({stated}): {text:?}"
            );
        }
    }

    #[test]
    fn operations_are_named_for_metrics() {
        let c = checked("query Who { me { id } }", serde_json::json!({})).unwrap();
        assert_eq!(
            (c.operation_name.as_deref(), c.kind),
            (Some("Who"), "query")
        );
    }
}
