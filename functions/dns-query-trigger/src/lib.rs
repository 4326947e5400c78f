//! The dns-query trigger, the domain's router: a player's DNS lookup of
//! `<container>.<domain>`, seen in the domain's Route53 query log, starts that
//! container, in whatever region it runs. The containers are the domain's registry
//! (`cm_core::registry`: one TXT record per container in the hosted zone, written by
//! the container's own stack), which the warm process keeps for
//! `REGISTRY_TTL_SECONDS`.
//!
//! event (CloudWatch Logs subscription) -> [`parse`] (base64, gzip, JSON; the labels
//! asked for, counted) -> [`act::registry`] (the registry held, or read again when
//! [`decide::registry_read`] says so) -> [`decide::plan`] (per region: the groups to
//! set to 1 and a keep-alive data point per container; pure) -> [`act::act`] (each
//! region's round of calls at once, through [`Cloud`]) -> [`Outcome`].

pub mod act;
pub mod aws;
pub mod cache;
pub mod cloud;
pub mod config;
pub mod decide;
pub mod fake;
pub mod outcome;
pub mod parse;

use serde_json::Value;

pub use aws::AwsCloud;
pub use cache::{Clock, RegistryCache, SystemClock};
pub use cloud::{Cloud, Scaled};
pub use config::Config;
pub use fake::FakeCloud;
pub use outcome::{Action, Outcome};

/// What the handler keeps across invocations: the clients, the registry last read,
/// and the clock its age is read on.
#[derive(Debug, Default)]
pub struct Router<C, K = SystemClock> {
    pub cloud: C,
    pub cache: RegistryCache,
    pub clock: K,
}

impl<C> Router<C> {
    pub fn new(cloud: C) -> Self {
        Router::with_clock(cloud, SystemClock)
    }
}

impl<C, K> Router<C, K> {
    pub fn with_clock(cloud: C, clock: K) -> Self {
        Router {
            cloud,
            cache: RegistryCache::default(),
            clock,
        }
    }
}

/// Handles one subscription event.
pub async fn handle<C: Cloud, K: Clock>(
    config: &Config,
    router: &Router<C, K>,
    event: &Value,
) -> Result<Outcome, cm_core::Error> {
    let data = parse::parse(event)?;
    let queries = parse::queries(&config.query, &data);
    let (registry, read) = act::registry(
        config,
        &router.cloud,
        &router.cache,
        &router.clock,
        &queries,
    )
    .await?;
    let plan = decide::plan(&registry, &queries);
    let outcome = act::act(config, &router.cloud, &queries, &plan).await?;
    tracing::info!(
        outcome = %serde_json::to_string(&outcome).unwrap_or_default(),
        registry_read = read.map(decide::Read::as_str).unwrap_or("held"),
        unknown = plan.unknown_count,
        "{}",
        if !plan.is_empty() {
            "container start requested"
        } else if queries.labels.is_empty() {
            "no query for a container of the domain; nothing to do"
        } else {
            "no query for a registered container; nothing to do"
        }
    );
    Ok(outcome)
}
