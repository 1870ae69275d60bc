//! What a resolver can reach from its `Context`: the application, the caller and the
//! per-request DataLoaders.
use std::{net::IpAddr, sync::Arc};

use async_graphql::Context;

use super::loaders::Loaders;
use crate::{app::AppState, auth::Viewer};

/// Per-request data placed in every GraphQL request (and every WebSocket operation).
pub struct RequestCtx {
    pub viewer: Viewer,
    pub client_ip: IpAddr,
}

pub trait CtxExt {
    fn app(&self) -> &Arc<AppState>;
    fn viewer(&self) -> &Viewer;
    fn client_ip(&self) -> IpAddr;
    fn loaders(&self) -> &Loaders;
}

impl CtxExt for Context<'_> {
    fn app(&self) -> &Arc<AppState> {
        self.data_unchecked::<Arc<AppState>>()
    }

    fn viewer(&self) -> &Viewer {
        &self.data_unchecked::<RequestCtx>().viewer
    }

    fn client_ip(&self) -> IpAddr {
        self.data_unchecked::<RequestCtx>().client_ip
    }

    fn loaders(&self) -> &Loaders {
        self.data_unchecked::<Loaders>()
    }
}
