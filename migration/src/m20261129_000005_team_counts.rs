//! Team sizes per level kept on each distributor (a statistic, maintained when the tree
//! changes), so "my team" shows its counts without counting a large team's rows on every read.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Distributors {
    Table,
    TeamLevel1,
    TeamLevel2,
    TeamLevel3,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for col in [
            Distributors::TeamLevel1,
            Distributors::TeamLevel2,
            Distributors::TeamLevel3,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Distributors::Table)
                    .add_column(big_integer(col).default(0))
                    .to_owned(),
            )
            .await?;
        }
        m.get_connection()
            .execute_unprepared(
                "UPDATE distributors SET \
                 team_level1 = (SELECT COUNT(*) FROM distributor_tree t WHERE t.ancestor_user_id = distributors.user_id AND t.depth = 1), \
                 team_level2 = (SELECT COUNT(*) FROM distributor_tree t WHERE t.ancestor_user_id = distributors.user_id AND t.depth = 2), \
                 team_level3 = (SELECT COUNT(*) FROM distributor_tree t WHERE t.ancestor_user_id = distributors.user_id AND t.depth = 3)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Distributors::TeamLevel1,
            Distributors::TeamLevel2,
            Distributors::TeamLevel3,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Distributors::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
