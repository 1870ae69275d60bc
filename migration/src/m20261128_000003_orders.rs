//! Orders and after-sales: addresses, the cart, shipping templates, orders with their lines and
//! status history, payments and payment alerts, shipments with their lines and tracking events,
//! refunds with their lines, and the daily order number sequences. Money is integer fen.
use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Skus {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Addresses {
    Table,
    Id,
    UserId,
    Recipient,
    Phone,
    Province,
    City,
    District,
    Detail,
    PostalCode,
    IsDefault,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CartItems {
    Table,
    Id,
    UserId,
    SkuId,
    Quantity,
    Selected,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ShippingTemplates {
    Table,
    Id,
    Name,
    Kind,
    Rules,
    IsDefault,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    OrderNo,
    UserId,
    Status,
    StatusBeforeRefund,
    Source,
    DistributorUserId,
    ShareCode,
    ReferralChain,
    ItemsTotalFen,
    MemberDiscountFen,
    PromotionDiscountFen,
    CouponDiscountFen,
    PointsDiscountFen,
    ShippingFeeFen,
    PayAmountFen,
    RefundedFen,
    PointsUsed,
    Recipient,
    Phone,
    Province,
    City,
    District,
    AddressDetail,
    BuyerNote,
    StaffNote,
    PaymentStatus,
    PaymentProvider,
    PaidAt,
    ApprovedAt,
    ShippedAt,
    DeliveredAt,
    CompletedAt,
    CancelledAt,
    CancelReason,
    ExpiresAt,
    Pricing,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    Id,
    OrderId,
    SkuId,
    ProductId,
    ProductName,
    SpecText,
    SkuCode,
    ImageUrl,
    UnitPriceFen,
    CostPriceFen,
    Quantity,
    LineTotalFen,
    DiscountFen,
    PayAmountFen,
    RefundedQuantity,
    RefundedFen,
    ShippedQuantity,
    WeightGrams,
    IsGift,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrderHistory {
    Table,
    Id,
    OrderId,
    FromStatus,
    ToStatus,
    ActorUserId,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    OrderId,
    Provider,
    OutTradeNo,
    AmountFen,
    Status,
    ProviderTxnId,
    ClientPayload,
    CreatedAt,
    PaidAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PaymentAlerts {
    Table,
    Id,
    Provider,
    OutTradeNo,
    OrderId,
    Kind,
    Detail,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Shipments {
    Table,
    Id,
    OrderId,
    Carrier,
    TrackingNo,
    Status,
    ShippedBy,
    ShippedAt,
    DeliveredAt,
    LastTrackedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ShipmentLines {
    Table,
    ShipmentId,
    OrderLineId,
    Quantity,
}

#[derive(DeriveIden)]
enum TrackingEvents {
    Table,
    Id,
    ShipmentId,
    OccurredAt,
    Context,
    State,
    Area,
    DedupeKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Id,
    OrderId,
    RefundNo,
    Kind,
    Status,
    Reason,
    Photos,
    AmountFen,
    RequestedBy,
    DecidedBy,
    RejectReason,
    ProviderRefundId,
    DecidedAt,
    ReceivedAt,
    RefundedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RefundLines {
    Table,
    RefundId,
    OrderLineId,
    Quantity,
    AmountFen,
}

#[derive(DeriveIden)]
enum OrderNumberSequences {
    Table,
    Day,
    LastValue,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Addresses::Table)
                .col(big_pk_auto(Addresses::Id))
                .col(big_integer(Addresses::UserId))
                .col(string_len(Addresses::Recipient, 32))
                .col(string_len(Addresses::Phone, 20))
                .col(string_len(Addresses::Province, 32))
                .col(string_len(Addresses::City, 32))
                .col(string_len(Addresses::District, 32))
                .col(string_len(Addresses::Detail, 200))
                .col(string_len_null(Addresses::PostalCode, 10))
                .col(boolean(Addresses::IsDefault).default(false))
                .col(timestamp_with_time_zone(Addresses::CreatedAt))
                .col(timestamp_with_time_zone(Addresses::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Addresses::Table, Addresses::UserId)
                        .to(Users::Table, Users::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_addresses_user", Addresses::Table, &["user_id"]))
            .await?;

        m.create_table(
            Table::create()
                .table(CartItems::Table)
                .col(big_pk_auto(CartItems::Id))
                .col(big_integer(CartItems::UserId))
                .col(big_integer(CartItems::SkuId))
                .col(big_integer(CartItems::Quantity))
                .col(boolean(CartItems::Selected).default(true))
                .col(timestamp_with_time_zone(CartItems::CreatedAt))
                .col(timestamp_with_time_zone(CartItems::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(CartItems::Table, CartItems::UserId)
                        .to(Users::Table, Users::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(CartItems::Table, CartItems::SkuId)
                        .to(Skus::Table, Skus::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_cart_items_user_sku")
                .table(CartItems::Table)
                .col(CartItems::UserId)
                .col(CartItems::SkuId)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ShippingTemplates::Table)
                .col(big_pk_auto(ShippingTemplates::Id))
                .col(string_len(ShippingTemplates::Name, 64))
                .col(string_len(ShippingTemplates::Kind, 16))
                .col(text(ShippingTemplates::Rules))
                .col(boolean(ShippingTemplates::IsDefault).default(false))
                .col(timestamp_with_time_zone(ShippingTemplates::CreatedAt))
                .col(timestamp_with_time_zone(ShippingTemplates::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Orders::Table)
                .col(big_pk_auto(Orders::Id))
                .col(string_len(Orders::OrderNo, 32).unique_key())
                .col(big_integer(Orders::UserId))
                .col(string_len(Orders::Status, 16))
                .col(string_len_null(Orders::StatusBeforeRefund, 16))
                .col(string_len(Orders::Source, 16))
                .col(big_integer_null(Orders::DistributorUserId))
                .col(string_len_null(Orders::ShareCode, 32))
                .col(text(Orders::ReferralChain))
                .col(big_integer(Orders::ItemsTotalFen))
                .col(big_integer(Orders::MemberDiscountFen))
                .col(big_integer(Orders::PromotionDiscountFen))
                .col(big_integer(Orders::CouponDiscountFen))
                .col(big_integer(Orders::PointsDiscountFen))
                .col(big_integer(Orders::ShippingFeeFen))
                .col(big_integer(Orders::PayAmountFen))
                .col(big_integer(Orders::RefundedFen).default(0))
                .col(big_integer(Orders::PointsUsed).default(0))
                .col(string_len(Orders::Recipient, 32))
                .col(string_len(Orders::Phone, 20))
                .col(string_len(Orders::Province, 32))
                .col(string_len(Orders::City, 32))
                .col(string_len(Orders::District, 32))
                .col(string_len(Orders::AddressDetail, 200))
                .col(string_len_null(Orders::BuyerNote, 200))
                .col(text_null(Orders::StaffNote))
                .col(string_len(Orders::PaymentStatus, 24))
                .col(string_len_null(Orders::PaymentProvider, 16))
                .col(timestamp_with_time_zone_null(Orders::PaidAt))
                .col(timestamp_with_time_zone_null(Orders::ApprovedAt))
                .col(timestamp_with_time_zone_null(Orders::ShippedAt))
                .col(timestamp_with_time_zone_null(Orders::DeliveredAt))
                .col(timestamp_with_time_zone_null(Orders::CompletedAt))
                .col(timestamp_with_time_zone_null(Orders::CancelledAt))
                .col(string_len_null(Orders::CancelReason, 200))
                .col(timestamp_with_time_zone_null(Orders::ExpiresAt))
                .col(text(Orders::Pricing))
                .col(timestamp_with_time_zone(Orders::CreatedAt))
                .col(timestamp_with_time_zone(Orders::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Orders::Table, Orders::UserId)
                        .to(Users::Table, Users::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Orders::Table, Orders::DistributorUserId)
                        .to(Users::Table, Users::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_orders_user_status",
            Orders::Table,
            &["user_id", "status", "id"],
        ))
        .await?;
        m.create_index(index(
            "idx_orders_status_expires",
            Orders::Table,
            &["status", "expires_at"],
        ))
        .await?;
        m.create_index(index(
            "idx_orders_distributor",
            Orders::Table,
            &["distributor_user_id", "id"],
        ))
        .await?;
        m.create_index(index("idx_orders_created", Orders::Table, &["created_at"]))
            .await?;
        m.create_index(index("idx_orders_phone", Orders::Table, &["phone"]))
            .await?;

        m.create_table(
            Table::create()
                .table(OrderLines::Table)
                .col(big_pk_auto(OrderLines::Id))
                .col(big_integer(OrderLines::OrderId))
                .col(big_integer(OrderLines::SkuId))
                .col(big_integer(OrderLines::ProductId))
                .col(string_len(OrderLines::ProductName, 120))
                .col(string_len(OrderLines::SpecText, 200))
                .col(string_len(OrderLines::SkuCode, 64))
                .col(string_len_null(OrderLines::ImageUrl, 300))
                .col(big_integer(OrderLines::UnitPriceFen))
                .col(big_integer(OrderLines::CostPriceFen))
                .col(big_integer(OrderLines::Quantity))
                .col(big_integer(OrderLines::LineTotalFen))
                .col(big_integer(OrderLines::DiscountFen))
                .col(big_integer(OrderLines::PayAmountFen))
                .col(big_integer(OrderLines::RefundedQuantity).default(0))
                .col(big_integer(OrderLines::RefundedFen).default(0))
                .col(big_integer(OrderLines::ShippedQuantity).default(0))
                .col(integer(OrderLines::WeightGrams))
                .col(boolean(OrderLines::IsGift).default(false))
                .col(timestamp_with_time_zone(OrderLines::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(OrderLines::Table, OrderLines::OrderId)
                        .to(Orders::Table, Orders::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_order_lines_order",
            OrderLines::Table,
            &["order_id"],
        ))
        .await?;
        m.create_index(index("idx_order_lines_sku", OrderLines::Table, &["sku_id"]))
            .await?;

        m.create_table(
            Table::create()
                .table(OrderHistory::Table)
                .col(big_pk_auto(OrderHistory::Id))
                .col(big_integer(OrderHistory::OrderId))
                .col(string_len_null(OrderHistory::FromStatus, 16))
                .col(string_len(OrderHistory::ToStatus, 16))
                .col(big_integer_null(OrderHistory::ActorUserId))
                .col(string_len_null(OrderHistory::Note, 500))
                .col(timestamp_with_time_zone(OrderHistory::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(OrderHistory::Table, OrderHistory::OrderId)
                        .to(Orders::Table, Orders::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_order_history_order",
            OrderHistory::Table,
            &["order_id", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Payments::Table)
                .col(big_pk_auto(Payments::Id))
                .col(big_integer(Payments::OrderId))
                .col(string_len(Payments::Provider, 16))
                .col(string_len(Payments::OutTradeNo, 64).unique_key())
                .col(big_integer(Payments::AmountFen))
                .col(string_len(Payments::Status, 16))
                .col(string_len_null(Payments::ProviderTxnId, 64))
                .col(text_null(Payments::ClientPayload))
                .col(timestamp_with_time_zone(Payments::CreatedAt))
                .col(timestamp_with_time_zone_null(Payments::PaidAt))
                .col(timestamp_with_time_zone(Payments::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Payments::Table, Payments::OrderId)
                        .to(Orders::Table, Orders::Id),
                )
                .to_owned(),
        )
        .await?;
        // NULL transaction ids are distinct on both databases, so pending payments don't collide.
        m.create_index(
            Index::create()
                .name("idx_payments_provider_txn")
                .table(Payments::Table)
                .col(Payments::Provider)
                .col(Payments::ProviderTxnId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_payments_order", Payments::Table, &["order_id"]))
            .await?;

        m.create_table(
            Table::create()
                .table(PaymentAlerts::Table)
                .col(big_pk_auto(PaymentAlerts::Id))
                .col(string_len(PaymentAlerts::Provider, 16))
                .col(string_len(PaymentAlerts::OutTradeNo, 64))
                .col(big_integer_null(PaymentAlerts::OrderId))
                .col(string_len(PaymentAlerts::Kind, 32))
                .col(text(PaymentAlerts::Detail))
                .col(timestamp_with_time_zone(PaymentAlerts::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Shipments::Table)
                .col(big_pk_auto(Shipments::Id))
                .col(big_integer(Shipments::OrderId))
                .col(string_len(Shipments::Carrier, 32))
                .col(string_len(Shipments::TrackingNo, 64))
                .col(string_len(Shipments::Status, 16))
                .col(big_integer_null(Shipments::ShippedBy))
                .col(timestamp_with_time_zone(Shipments::ShippedAt))
                .col(timestamp_with_time_zone_null(Shipments::DeliveredAt))
                .col(timestamp_with_time_zone_null(Shipments::LastTrackedAt))
                .col(timestamp_with_time_zone(Shipments::CreatedAt))
                .col(timestamp_with_time_zone(Shipments::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Shipments::Table, Shipments::OrderId)
                        .to(Orders::Table, Orders::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_shipments_carrier_tracking")
                .table(Shipments::Table)
                .col(Shipments::Carrier)
                .col(Shipments::TrackingNo)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_shipments_order",
            Shipments::Table,
            &["order_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ShipmentLines::Table)
                .col(big_integer(ShipmentLines::ShipmentId))
                .col(big_integer(ShipmentLines::OrderLineId))
                .col(big_integer(ShipmentLines::Quantity))
                .primary_key(
                    Index::create()
                        .col(ShipmentLines::ShipmentId)
                        .col(ShipmentLines::OrderLineId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ShipmentLines::Table, ShipmentLines::ShipmentId)
                        .to(Shipments::Table, Shipments::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ShipmentLines::Table, ShipmentLines::OrderLineId)
                        .to(OrderLines::Table, OrderLines::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(TrackingEvents::Table)
                .col(big_pk_auto(TrackingEvents::Id))
                .col(big_integer(TrackingEvents::ShipmentId))
                .col(timestamp_with_time_zone(TrackingEvents::OccurredAt))
                .col(string_len(TrackingEvents::Context, 500))
                .col(string_len_null(TrackingEvents::State, 16))
                .col(string_len_null(TrackingEvents::Area, 64))
                .col(string_len(TrackingEvents::DedupeKey, 64).unique_key())
                .col(timestamp_with_time_zone(TrackingEvents::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(TrackingEvents::Table, TrackingEvents::ShipmentId)
                        .to(Shipments::Table, Shipments::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_tracking_events_shipment",
            TrackingEvents::Table,
            &["shipment_id", "occurred_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Refunds::Table)
                .col(big_pk_auto(Refunds::Id))
                .col(big_integer(Refunds::OrderId))
                .col(string_len(Refunds::RefundNo, 32).unique_key())
                .col(string_len(Refunds::Kind, 16))
                .col(string_len(Refunds::Status, 16))
                .col(string_len(Refunds::Reason, 200))
                .col(text(Refunds::Photos))
                .col(big_integer(Refunds::AmountFen))
                .col(big_integer(Refunds::RequestedBy))
                .col(big_integer_null(Refunds::DecidedBy))
                .col(string_len_null(Refunds::RejectReason, 200))
                .col(string_len_null(Refunds::ProviderRefundId, 64))
                .col(timestamp_with_time_zone_null(Refunds::DecidedAt))
                .col(timestamp_with_time_zone_null(Refunds::ReceivedAt))
                .col(timestamp_with_time_zone_null(Refunds::RefundedAt))
                .col(timestamp_with_time_zone(Refunds::CreatedAt))
                .col(timestamp_with_time_zone(Refunds::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Refunds::Table, Refunds::OrderId)
                        .to(Orders::Table, Orders::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_refunds_order", Refunds::Table, &["order_id"]))
            .await?;
        m.create_index(index(
            "idx_refunds_status",
            Refunds::Table,
            &["status", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(RefundLines::Table)
                .col(big_integer(RefundLines::RefundId))
                .col(big_integer(RefundLines::OrderLineId))
                .col(big_integer(RefundLines::Quantity))
                .col(big_integer(RefundLines::AmountFen))
                .primary_key(
                    Index::create()
                        .col(RefundLines::RefundId)
                        .col(RefundLines::OrderLineId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(RefundLines::Table, RefundLines::RefundId)
                        .to(Refunds::Table, Refunds::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(RefundLines::Table, RefundLines::OrderLineId)
                        .to(OrderLines::Table, OrderLines::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OrderNumberSequences::Table)
                .col(string_len(OrderNumberSequences::Day, 8).primary_key())
                .col(big_integer(OrderNumberSequences::LastValue))
                .to_owned(),
        )
        .await?;
        // On PostgreSQL order numbers come from a sequence instead (no row lock shared by every
        // open checkout); `order_number_sequences` serves SQLite.
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("CREATE SEQUENCE order_number_seq")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP SEQUENCE order_number_seq")
                .await?;
        }
        for table in [
            OrderNumberSequences::Table.into_iden(),
            RefundLines::Table.into_iden(),
            Refunds::Table.into_iden(),
            TrackingEvents::Table.into_iden(),
            ShipmentLines::Table.into_iden(),
            Shipments::Table.into_iden(),
            PaymentAlerts::Table.into_iden(),
            Payments::Table.into_iden(),
            OrderHistory::Table.into_iden(),
            OrderLines::Table.into_iden(),
            Orders::Table.into_iden(),
            ShippingTemplates::Table.into_iden(),
            CartItems::Table.into_iden(),
            Addresses::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
