//! Accounts, staff permissions, refresh tokens, login throttling, the event outbox,
//! notifications and installation settings.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Phone,
    PasswordHash,
    WechatOpenid,
    WechatUnionid,
    Nickname,
    AvatarUrl,
    Gender,
    Birthday,
    IsStaff,
    IsOwner,
    IsDistributor,
    Disabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StaffPermissions {
    Table,
    UserId,
    Permission,
    GrantedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    RotatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum LoginThrottles {
    Table,
    Key,
    Failures,
    WindowStartedAt,
    LockedUntil,
}

#[derive(DeriveIden)]
enum DomainEvents {
    Table,
    Id,
    EventType,
    AggregateType,
    AggregateId,
    RecipientUserId,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    Kind,
    Title,
    Body,
    Link,
    ReadAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SystemSettings {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_len_null(Users::Phone, 20).unique_key())
                    .col(string_null(Users::PasswordHash))
                    .col(string_len_null(Users::WechatOpenid, 64).unique_key())
                    .col(string_len_null(Users::WechatUnionid, 64))
                    .col(string_len(Users::Nickname, 64))
                    .col(string_null(Users::AvatarUrl))
                    .col(string_len(Users::Gender, 16))
                    .col(date_null(Users::Birthday))
                    .col(boolean(Users::IsStaff).default(false))
                    .col(boolean(Users::IsOwner).default(false))
                    .col(boolean(Users::IsDistributor).default(false))
                    .col(boolean(Users::Disabled).default(false))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_wechat_unionid")
                    .table(Users::Table)
                    .col(Users::WechatUnionid)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StaffPermissions::Table)
                    .col(big_integer(StaffPermissions::UserId))
                    .col(string_len(StaffPermissions::Permission, 32))
                    .col(big_integer_null(StaffPermissions::GrantedBy))
                    .col(timestamp_with_time_zone(StaffPermissions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(StaffPermissions::UserId)
                            .col(StaffPermissions::Permission),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StaffPermissions::Table, StaffPermissions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(big_pk_auto(RefreshTokens::Id))
                    .col(big_integer(RefreshTokens::UserId))
                    .col(string_len(RefreshTokens::FamilyId, 36))
                    .col(string_len(RefreshTokens::TokenHash, 64).unique_key())
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RotatedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_family")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::FamilyId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_user")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginThrottles::Table)
                    .col(string_len(LoginThrottles::Key, 80).primary_key())
                    .col(integer(LoginThrottles::Failures))
                    .col(timestamp_with_time_zone(LoginThrottles::WindowStartedAt))
                    .col(timestamp_with_time_zone_null(LoginThrottles::LockedUntil))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DomainEvents::Table)
                    .col(big_pk_auto(DomainEvents::Id))
                    .col(string_len(DomainEvents::EventType, 64))
                    .col(string_len(DomainEvents::AggregateType, 32))
                    .col(big_integer(DomainEvents::AggregateId))
                    .col(big_integer_null(DomainEvents::RecipientUserId))
                    .col(text(DomainEvents::Payload))
                    .col(timestamp_with_time_zone(DomainEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_domain_events_recipient")
                    .table(DomainEvents::Table)
                    .col(DomainEvents::RecipientUserId)
                    .col(DomainEvents::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(big_pk_auto(Notifications::Id))
                    .col(big_integer(Notifications::UserId))
                    .col(string_len(Notifications::Kind, 32))
                    .col(string_len(Notifications::Title, 120))
                    .col(text(Notifications::Body))
                    .col(string_null(Notifications::Link))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notifications::Table, Notifications::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_user")
                    .table(Notifications::Table)
                    .col(Notifications::UserId)
                    .col(Notifications::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SystemSettings::Table)
                    .col(string_len(SystemSettings::Key, 64).primary_key())
                    .col(text(SystemSettings::Value))
                    .col(timestamp_with_time_zone(SystemSettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
