//! Black-box tests: each starts a real server on a random port over its own database and talks
//! to it over HTTP and WebSocket, as the mini-program and the dashboard do.
mod support;

mod accounts;
mod authz;
mod catalog;
mod events;
mod fake_smtp;
mod inventory;
mod ops;
mod schema;
mod search;
mod sessions;
mod tokens;
mod transport;
