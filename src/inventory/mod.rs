//! Inventory (ARCHITECTURE.md §3.3): the stock ledger, reservations for orders, safety stock and low-stock
//! alerts, stock reports.
pub mod gates;
pub mod reports;
pub mod rules;
pub mod schema;
pub mod service;
