//! Database migrations of distmall. The server runs them on start; `distmall migrate` runs them
//! alone. Every migration works on SQLite and PostgreSQL.
pub use sea_orm_migration::prelude::*;

/// An index named `name` on `table`'s columns `cols` (snake_case names), for the migrations to
/// share.
fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(Alias::new(*c));
    }
    i.to_owned()
}

mod m20261128_000001_foundation;
mod m20261128_000002_catalog;
mod m20261128_000003_orders;
mod m20261128_000004_distribution;
mod m20261129_000005_team_counts;
mod m20261129_000006_order_revision;
mod m20261129_000007_notify_trigger;
mod m20261129_000008_user_revision;
mod m20261130_000009_commission_capped;
mod m20261130_000010_distributor_figures_net;
mod m20261207_000011_outbox_commit_order;
mod m20261207_000012_members;
mod m20261207_000013_points;
mod m20261207_000014_promotions;
mod m20261207_000015_coupon_codes;
mod m20261207_000016_coupon_points;
mod m20261207_000017_coupon_occasions;
mod m20261207_000018_group_buying;
mod m20261207_000019_group_buy_performance;
mod m20261207_000020_sharing;

/// Runs the statements written for the database `m` migrates: hand-written SQL that differs
/// between the two (triggers, functions).
async fn run_per_backend(
    m: &SchemaManager<'_>,
    sqlite: &[&str],
    postgres: &[&str],
) -> Result<(), DbErr> {
    let statements = match m.get_database_backend() {
        sea_orm_migration::sea_orm::DatabaseBackend::Postgres => postgres,
        _ => sqlite,
    };
    for sql in statements {
        m.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_foundation::Migration),
            Box::new(m20261128_000002_catalog::Migration),
            Box::new(m20261128_000003_orders::Migration),
            Box::new(m20261128_000004_distribution::Migration),
            Box::new(m20261129_000005_team_counts::Migration),
            Box::new(m20261129_000006_order_revision::Migration),
            Box::new(m20261129_000007_notify_trigger::Migration),
            Box::new(m20261129_000008_user_revision::Migration),
            Box::new(m20261130_000009_commission_capped::Migration),
            Box::new(m20261130_000010_distributor_figures_net::Migration),
            Box::new(m20261207_000011_outbox_commit_order::Migration),
            Box::new(m20261207_000012_members::Migration),
            Box::new(m20261207_000013_points::Migration),
            Box::new(m20261207_000014_promotions::Migration),
            Box::new(m20261207_000015_coupon_codes::Migration),
            Box::new(m20261207_000016_coupon_points::Migration),
            Box::new(m20261207_000017_coupon_occasions::Migration),
            Box::new(m20261207_000018_group_buying::Migration),
            Box::new(m20261207_000019_group_buy_performance::Migration),
            Box::new(m20261207_000020_sharing::Migration),
        ]
    }
}
