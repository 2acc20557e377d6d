//! The local HTTP listener: `/metrics` (OpenMetrics text), `/healthz` (the process
//! answers) and `/readyz` (the state database answers and the scheduler loop turned
//! recently). Off by default; see `[http] listen`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::scheduler::{Heartbeat, Pipeline};

/// The content type of `/metrics`.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the handlers read: the pipeline in use (it changes on reload) and the scheduler's
/// heartbeat.
#[derive(Clone)]
pub struct HttpState {
    /// The current pipeline.
    pub pipelines: watch::Receiver<Arc<Pipeline>>,
    /// The scheduler loop's heartbeat.
    pub heartbeat: Arc<Heartbeat>,
}

impl HttpState {
    fn pipeline(&self) -> Arc<Pipeline> {
        self.pipelines.borrow().clone()
    }

    /// The scheduler counts as alive when it turned within three beats.
    fn scheduler_alive(&self) -> bool {
        self.heartbeat
            .alive_within(self.heartbeat.every() * 3 + Duration::from_secs(1))
    }
}

/// The routes, for [`serve`] and for tests.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Binds `address` and serves the routes until `shutdown` becomes true. Returns the bound
/// address (useful with port 0) and the server task. Binding happens before returning, so
/// a port in use is reported at start, not later.
pub async fn serve(
    address: SocketAddr,
    state: HttpState,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let app = router(state);
    let task = tokio::spawn(async move {
        let stopped = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(%error, "HTTP listener failed");
        }
    });
    Ok((bound, task))
}

async fn metrics(State(state): State<HttpState>) -> Response {
    let pipeline = state.pipeline();
    let heartbeat = state.heartbeat.clone();
    let rendered = tokio::task::spawn_blocking(move || super::render(&pipeline, &heartbeat)).await;
    match rendered {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response(),
        Ok(Err(error)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot read the state database: {error}\n"),
        )
            .into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("metrics task failed: {error}\n"),
        )
            .into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<HttpState>) -> Response {
    let pipeline = state.pipeline();
    let store = tokio::task::spawn_blocking(move || pipeline.store.ping()).await;
    let mut problems = Vec::new();
    match store {
        Ok(Ok(())) => {}
        Ok(Err(error)) => problems.push(format!("state database: {error}")),
        Err(error) => problems.push(format!("state database check failed: {error}")),
    }
    if !state.scheduler_alive() {
        problems.push(match state.heartbeat.age() {
            Some(age) => format!("scheduler: no turn for {age:?}"),
            None => "scheduler: not started".to_string(),
        });
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", problems.join("; ")),
        )
            .into_response()
    }
}
