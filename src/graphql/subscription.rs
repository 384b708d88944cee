//! The subscription root: live figures pushed over WebSocket (`/graphql/ws`), for dashboards.

use std::time::Duration;

use async_graphql::{Context, Subscription};
use futures::Stream;

use crate::auth::Scope;
use crate::error::{ApiError, Error};

use super::ApiContext;
use super::access::RequireScope;
use super::metrics::MetricsReport;

/// Shortest and longest period `metricsUpdated` accepts, in seconds.
pub const METRICS_INTERVAL_SECONDS: std::ops::RangeInclusive<i32> = 1..=60;

/// The subscription root.
#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// The same report as `Query.metrics`, now and then every `intervalSeconds`, for as long as
    /// the subscription lasts. Needs the `metrics` scope (send the token in the WebSocket
    /// `connection_init` payload as `{"Authorization": "Bearer <token>"}`).
    #[graphql(guard = "RequireScope(Scope::Metrics)")]
    async fn metrics_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 2, desc = "Seconds between reports, 1 to 60.")] interval_seconds: i32,
    ) -> async_graphql::Result<impl Stream<Item = MetricsReport> + use<>> {
        if !METRICS_INTERVAL_SECONDS.contains(&interval_seconds) {
            return Err(ApiError::from(Error::BadUserInput(format!(
                "`intervalSeconds` must be between {} and {}, got {interval_seconds}",
                METRICS_INTERVAL_SECONDS.start(),
                METRICS_INTERVAL_SECONDS.end()
            )))
            .into());
        }
        let api = ApiContext::get(ctx)?;
        let (db, observer, monitor) = (api.db.clone(), api.observer.clone(), api.monitor.clone());
        let mut ticks = tokio::time::interval(Duration::from_secs(interval_seconds as u64));
        // A slow reader gets the next report on time, not a burst of stale ones.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        Ok(futures::stream::unfold(ticks, move |mut ticks| {
            let (db, observer, monitor) = (db.clone(), observer.clone(), monitor.clone());
            async move {
                // The first tick completes at once: the first report is sent immediately.
                ticks.tick().await;
                Some((MetricsReport::capture(&db, &observer, &monitor), ticks))
            }
        }))
    }
}
