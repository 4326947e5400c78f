//! The dns-query trigger: a player's DNS lookup of the container's name, seen in the
//! Route53 query log, starts the container.
//!
//! event (CloudWatch Logs subscription) -> [`parse`] (base64, gzip, JSON) ->
//! [`decide`] (count the lines naming the container; pure) -> [`act`] (desired
//! capacity 1 and the keep-alive metric, concurrently, through [`Cloud`]) ->
//! [`Outcome`].

pub mod act;
pub mod aws;
pub mod cloud;
pub mod config;
pub mod decide;
pub mod fake;
pub mod outcome;
pub mod parse;

use serde_json::Value;

pub use aws::AwsCloud;
pub use cloud::Cloud;
pub use config::Config;
pub use fake::FakeCloud;
pub use outcome::{Action, Outcome};

/// Handles one subscription event.
pub async fn handle<C: Cloud>(
    config: &Config,
    cloud: &C,
    event: &Value,
) -> Result<Outcome, cm_core::Error> {
    let input = parse::parse(event)?;
    let plan = decide::decide(&config.query, &input);
    let outcome = act::act(config, cloud, &input, &plan).await?;
    tracing::info!(
        outcome = %serde_json::to_string(&outcome).unwrap_or_default(),
        "{}",
        if plan.start {
            "container start requested"
        } else {
            "no query for the container's name; nothing to do"
        }
    );
    Ok(outcome)
}
