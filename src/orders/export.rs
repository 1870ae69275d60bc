//! The staff order export (`/exports/orders.csv`): one row per order, newest first, under the
//! same `OrderFilter` as the `orders` list. It is streamed page by page (keyset pages of that
//! list, then one query each for the pages' lines, parcels and buyers), so an export of any size
//! holds one page in memory and no transaction stays open while the client downloads.
use std::{collections::HashMap, sync::Arc};

use chrono::{FixedOffset, SecondsFormat};
use entity::{shipment, user};
use futures::Stream;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    cache::CachedOrder,
    queries::{self, OrderFilter, OrderSort},
};
use crate::{
    app::AppState,
    error::AppError,
    graphql::relay::{self, Window},
    inventory::reports::csv_field,
    money,
};

pub const HEADER: &str = "order_no,created_at,status,buyer_phone,recipient,recipient_phone,address,items,pay_amount,refunded_amount,carrier,tracking_no\n";

/// Orders per page of the export.
const PAGE: i32 = 100;

/// The CSV, chunk by chunk: a UTF-8 byte-order mark (so Excel reads the Chinese text) and the
/// header, then one chunk per page of orders.
pub fn orders_csv(
    app: Arc<AppState>,
    filter: OrderFilter,
) -> impl Stream<Item = Result<String, AppError>> + Send + 'static {
    async_stream::try_stream! {
        yield format!("\u{feff}{HEADER}");
        let mut after = None;
        loop {
            let window = Window::new(Some(PAGE), after.take(), None, None)?;
            let page = queries::page(&app, &filter, OrderSort::Newest, window).await?.orders;
            if page.rows.is_empty() {
                break;
            }
            yield rows(app.db.conn(), &page.rows, app.config.business_utc_offset_hours).await?;
            if !page.has_next() {
                break;
            }
            after = page.rows.last().map(|o| relay::encode_cursor(o.order.id));
        }
    }
}

/// Text buyers typed: a leading `=`, `+`, `-` or `@` would make a spreadsheet run it as a
/// formula, so such a cell starts with an apostrophe.
fn text_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn yuan(fen: i64) -> String {
    money::to_decimal(fen).to_string()
}

/// The CSV rows of a page of orders; their lines came with them from the order cache.
async fn rows(
    conn: &DatabaseConnection,
    page: &[Arc<CachedOrder>],
    offset_hours: i32,
) -> Result<String, AppError> {
    let ids: Vec<i64> = page.iter().map(|o| o.order.id).collect();
    let parcels = shipment::Entity::find()
        .filter(shipment::Column::OrderId.is_in(ids))
        .order_by_asc(shipment::Column::Id)
        .all(conn)
        .await?;
    let buyers: HashMap<i64, Option<String>> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Phone)
        .filter(user::Column::Id.is_in(page.iter().map(|o| o.order.user_id)))
        .into_tuple::<(i64, Option<String>)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let shop_time = FixedOffset::east_opt(offset_hours * 3600)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    let mut out = String::new();
    for CachedOrder { order: o, lines } in page.iter().map(Arc::as_ref) {
        let items = lines
            .iter()
            .map(|l| {
                if l.spec_text.is_empty() {
                    format!("{} ×{}", l.product_name, l.quantity)
                } else {
                    format!("{} {} ×{}", l.product_name, l.spec_text, l.quantity)
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        let own: Vec<&shipment::Model> = parcels.iter().filter(|p| p.order_id == o.id).collect();
        let carriers: Vec<&str> = own.iter().map(|p| p.carrier.as_str()).collect();
        let numbers: Vec<&str> = own.iter().map(|p| p.tracking_no.as_str()).collect();
        let cells = [
            o.order_no.clone(),
            o.created_at
                .with_timezone(&shop_time)
                .to_rfc3339_opts(SecondsFormat::Secs, false),
            o.status.clone(),
            buyers
                .get(&o.user_id)
                .cloned()
                .flatten()
                .unwrap_or_default(),
            text_cell(&o.recipient),
            o.phone.clone(),
            text_cell(&format!(
                "{} {} {} {}",
                o.province, o.city, o.district, o.address_detail
            )),
            text_cell(&items),
            yuan(o.pay_amount_fen),
            yuan(o.refunded_fen),
            carriers.join("; "),
            numbers.join("; "),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_look_like_formulas_are_defused() {
        assert_eq!(text_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(text_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text_cell("-1+1"), "'-1+1");
        assert_eq!(text_cell("张三"), "张三");
    }

    #[test]
    fn amounts_have_two_decimals() {
        assert_eq!(yuan(12990), "129.90");
        assert_eq!(yuan(0), "0.00");
    }
}
