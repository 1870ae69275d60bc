//! Relay connections (`first/after/last/before`, `pageInfo`, `totalCount`) over any sea-orm
//! `Select`, paginated by keyset on the id column — stable under inserts and as fast on page 500
//! as on page 1. `totalCount` is a separate `COUNT(*)` that runs only when a client asks for it.
use std::sync::Arc;

use async_graphql::{
    Object, OutputType,
    connection::{Connection, Edge, EmptyFields},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use futures::future::BoxFuture;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, TryGetableMany,
};

use crate::error::AppError;

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: i32 = 100;
/// Page size when the client gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: i32 = 20;

/// A validated page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    limit: u64,
    after: Option<i64>,
    before: Option<i64>,
    backward: bool,
}

impl Window {
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Self, AppError> {
        if first.is_some() && last.is_some() {
            return Err(AppError::bad_input("give either first or last, not both"));
        }
        let size = first.or(last).unwrap_or(DEFAULT_PAGE_SIZE);
        if !(0..=MAX_PAGE_SIZE).contains(&size) {
            return Err(AppError::bad_input(format!(
                "page size must be between 0 and {MAX_PAGE_SIZE}"
            )));
        }
        Ok(Self {
            limit: size as u64,
            after: after.as_deref().map(decode_cursor).transpose()?,
            before: before.as_deref().map(decode_cursor).transpose()?,
            backward: last.is_some(),
        })
    }
}

pub fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("c:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<i64, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("c:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| AppError::bad_input("invalid cursor"))
}

type CountFn = Arc<dyn Fn() -> BoxFuture<'static, Result<u64, AppError>> + Send + Sync>;

/// The extra fields of every connection.
pub struct ConnectionTotals {
    count: CountFn,
}

#[Object]
impl ConnectionTotals {
    /// How many objects match, across all pages.
    async fn total_count(&self) -> async_graphql::Result<i64> {
        Ok((self.count)().await? as i64)
    }
}

pub type Page<N> = Connection<String, N, ConnectionTotals, EmptyFields>;

/// One page of `select`, newest (highest id) first when `newest_first`.
pub async fn paginate<E, N>(
    db: &DatabaseConnection,
    select: Select<E>,
    id_column: E::Column,
    id_of: fn(&E::Model) -> i64,
    newest_first: bool,
    window: Window,
    to_node: impl Fn(E::Model) -> N,
) -> Result<Page<N>, AppError>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    N: OutputType,
{
    Ok(
        page_of_rows(db, db, select, id_column, id_of, newest_first, window)
            .await?
            .into_page(to_node),
    )
}

/// The rows of one page, before they become nodes (for callers that load more per page in
/// one batch before building the nodes).
pub struct RowPage<M> {
    pub rows: Vec<M>,
    has_previous: bool,
    has_next: bool,
    totals: ConnectionTotals,
    id_of: fn(&M) -> i64,
}

impl<M> RowPage<M> {
    pub fn into_page<N: OutputType>(self, to_node: impl Fn(M) -> N) -> Page<N> {
        let mut conn =
            Connection::with_additional_fields(self.has_previous, self.has_next, self.totals);
        let id_of = self.id_of;
        conn.edges.extend(
            self.rows
                .into_iter()
                .map(|m| Edge::new(encode_cursor(id_of(&m)), to_node(m))),
        );
        conn
    }
}

impl Window {
    /// `(page size, after)` when this window walks forward (`first`/`after`, no `before`):
    /// what a caller needs to read its own ranges and merge them (`RowPage::forward`).
    pub fn forward(&self) -> Option<(u64, Option<i64>)> {
        (!self.backward && self.before.is_none()).then_some((self.limit, self.after))
    }
}

impl<M> RowPage<M> {
    /// A forward page from up to `limit + 1` rows already in display order (the extra row
    /// says there is a next page); `totalCount` counts `select`.
    pub fn forward<E>(
        db: &DatabaseConnection,
        select: Select<E>,
        mut rows: Vec<M>,
        window: &Window,
        id_of: fn(&M) -> i64,
    ) -> Self
    where
        E: EntityTrait<Model = M>,
        M: Send + Sync,
    {
        let has_next = rows.len() as u64 > window.limit;
        rows.truncate(window.limit as usize);
        RowPage {
            rows,
            has_previous: window.after.is_some(),
            has_next,
            totals: ConnectionTotals {
                count: count_fn(db, select),
            },
            id_of,
        }
    }
}

fn count_fn<E>(db: &DatabaseConnection, select: Select<E>) -> CountFn
where
    E: EntityTrait,
    E::Model: Send + Sync,
{
    let db = db.clone();
    Arc::new(move || {
        let db = db.clone();
        let select = select.clone();
        Box::pin(async move { Ok(select.count(&db).await?) }) as BoxFuture<'static, _>
    }) as CountFn
}

/// One page of rows of `select` (see `paginate`), read through `rows_on` (a transaction, when
/// the caller needs one); `totalCount`, when asked for, through `db`.
pub async fn page_of_rows<E, C>(
    db: &DatabaseConnection,
    rows_on: &C,
    select: Select<E>,
    id_column: E::Column,
    id_of: fn(&E::Model) -> i64,
    newest_first: bool,
    window: Window,
) -> Result<RowPage<E::Model>, AppError>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: sea_orm::ConnectionTrait,
{
    let counter = count_fn(db, select.clone());
    let rows = windowed(select, id_column, newest_first, &window)
        .all(rows_on)
        .await?;
    Ok(RowPage::finish(rows, &window, counter, id_of))
}

/// One page of `select` as key tuples only (`columns` names them, the id first), for callers
/// that keep decoded rows in memory and read whole rows only for those whose revision moved.
pub async fn page_of_keys<E, K>(
    db: &DatabaseConnection,
    select: Select<E>,
    id_column: E::Column,
    newest_first: bool,
    window: Window,
    columns: impl FnOnce(Select<E>) -> Select<E>,
    id_of: fn(&K) -> i64,
) -> Result<RowPage<K>, AppError>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    K: TryGetableMany,
{
    let counter = count_fn(db, select.clone());
    let rows: Vec<K> = columns(windowed(select, id_column, newest_first, &window).select_only())
        .into_tuple()
        .all(db)
        .await?;
    Ok(RowPage::finish(rows, &window, counter, id_of))
}

/// `select` limited to the window, in walking order, with one row more than the page to tell
/// whether there is another page.
fn windowed<E: EntityTrait>(
    select: Select<E>,
    id_column: E::Column,
    newest_first: bool,
    window: &Window,
) -> Select<E> {
    // Walking "forward" means in display order; `last/before` walks the other way and reverses.
    let descending = newest_first != window.backward;
    let mut q = select;
    // In display order, `after` is a lower bound and `before` an upper one.
    let (after_cond, before_cond) = if newest_first {
        (
            window.after.map(|a| id_column.lt(a)),
            window.before.map(|b| id_column.gt(b)),
        )
    } else {
        (
            window.after.map(|a| id_column.gt(a)),
            window.before.map(|b| id_column.lt(b)),
        )
    };
    if let Some(c) = after_cond {
        q = q.filter(c);
    }
    if let Some(c) = before_cond {
        q = q.filter(c);
    }
    q = if descending {
        q.order_by_desc(id_column)
    } else {
        q.order_by_asc(id_column)
    };
    q.limit(window.limit + 1)
}

impl<M> RowPage<M> {
    /// The page from the rows `windowed` read.
    fn finish(mut rows: Vec<M>, window: &Window, count: CountFn, id_of: fn(&M) -> i64) -> Self {
        let has_more = rows.len() as u64 > window.limit;
        rows.truncate(window.limit as usize);
        if window.backward {
            rows.reverse();
        }
        let (has_previous, has_next) = if window.backward {
            (has_more, window.before.is_some())
        } else {
            (window.after.is_some(), has_more)
        };
        RowPage {
            rows,
            has_previous,
            has_next,
            totals: ConnectionTotals { count },
            id_of,
        }
    }

    pub fn has_next(&self) -> bool {
        self.has_next
    }

    pub fn has_previous(&self) -> bool {
        self.has_previous
    }

    /// The same page holding other rows: what the caller made of these, in the same order
    /// (rows that vanished meanwhile may be left out).
    pub fn with_rows<N>(self, rows: Vec<N>, id_of: fn(&N) -> i64) -> RowPage<N> {
        RowPage {
            rows,
            has_previous: self.has_previous,
            has_next: self.has_next,
            totals: self.totals,
            id_of,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_validate_sizes_and_cursors() {
        assert!(Window::new(Some(101), None, None, None).is_err());
        assert!(Window::new(Some(-1), None, None, None).is_err());
        assert!(Window::new(Some(1), None, Some(1), None).is_err());
        assert!(Window::new(Some(10), Some("nope".into()), None, None).is_err());
        let w = Window::new(None, Some(encode_cursor(9)), None, None).unwrap();
        assert_eq!(w.limit, DEFAULT_PAGE_SIZE as u64);
        assert_eq!(w.after, Some(9));
        assert!(Window::new(None, None, Some(5), None).unwrap().backward);
    }
}
