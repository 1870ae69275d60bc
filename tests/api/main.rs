//! Black-box tests: each starts a real server on a random port over its own database and talks
//! to it over HTTP and WebSocket, as the mini-program and the dashboard do.
mod support;

mod accounts;
mod authz;
mod catalog;
mod distribution;
mod docs;
mod events;
mod fake_alipay;
mod fake_kuaidi100;
mod fake_smtp;
mod fake_wechatpay;
mod freshness;
mod fulfilment;
mod group_buying;
mod inventory;
mod jobs;
mod members;
mod money;
mod ops;
mod orders;
mod payments;
mod points;
mod promotions;
mod races;
mod refunds;
mod revocation;
mod schema;
mod search;
mod sessions;
mod sharing;
mod tokens;
mod transport;
