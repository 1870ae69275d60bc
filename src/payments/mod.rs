//! Payment provider protocols, independent of orders: WeChat Pay API v3 and Alipay (RSA2).
//! `orders::payments` decides what a verified notification means for an order.
pub mod alipay;
pub mod wechatpay;
