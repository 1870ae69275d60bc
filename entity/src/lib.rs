//! sea-orm entities of distmall, one module per table.
//!
//! Money columns are integer fen (`i64`): exact on SQLite and PostgreSQL alike. Conversion to
//! `rust_decimal::Decimal` happens in the server at the edges.

pub mod address;
pub mod audience;
pub mod balance_entry;
pub mod brand;
pub mod cart_item;
pub mod category;
pub mod commission;
pub mod commission_rule_version;
pub mod customer_binding;
pub mod distributor;
pub mod distributor_application;
pub mod distributor_level;
pub mod distributor_report;
pub mod distributor_tree;
pub mod domain_event;
pub mod email_outbox;
pub mod idempotency_key;
pub mod job_lease;
pub mod login_throttle;
pub mod low_stock_alert;
pub mod member;
pub mod member_growth_entry;
pub mod member_level;
pub mod member_level_change;
pub mod member_review;
pub mod notification;
pub mod order;
pub mod order_history;
pub mod order_line;
pub mod order_number_sequence;
pub mod payment;
pub mod payment_alert;
pub mod product;
pub mod product_audience;
pub mod product_image;
pub mod product_spec;
pub mod refresh_token;
pub mod refund;
pub mod refund_line;
pub mod search_keyword_daily;
pub mod settlement_run;
pub mod share_visit;
pub mod shipment;
pub mod shipment_line;
pub mod shipping_template;
pub mod sku;
pub mod staff_permission;
pub mod stock_movement;
pub mod system_setting;
pub mod tracking_event;
pub mod user;
pub mod withdrawal;
