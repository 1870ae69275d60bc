//! Carrier protocols: Kuaidi100 push callbacks and real-time queries.
pub mod kuaidi100;
