//! The notifier: posts every message the other functions publish to the container's
//! SNS topic ("up at", "down", stopped for idle, crashed, left up, boot failed,
//! playable) to each webhook URL listed in an SSM SecureString parameter: Discord,
//! Slack, or a plain-text POST (ntfy and the like).
//!
//! event (the SNS notification) -> [`parse`] -> observe (the parameter, through
//! [`Cloud`], parsed by [`parse::webhooks`]) -> [`decide`] (pure: each notification
//! rendered for each webhook) -> [`act`] (the webhooks concurrently, each message
//! retried as [`decide::verdict`] says) -> [`Outcome`], or an error naming each
//! webhook that was given up on.
//!
//! A webhook URL carries its token: nothing here logs, returns or quotes one; a
//! webhook is `#n (format)`, its place in the list.

pub mod act;
pub mod aws;
pub mod cloud;
pub mod config;
pub mod decide;
pub mod fake;
pub mod outcome;
pub mod parse;

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

pub use act::act;
pub use aws::AwsCloud;
pub use cloud::{Cloud, ParameterValue};
pub use config::Config;
pub use decide::{decide, verdict, Observed, Plan, Verdict};
pub use fake::FakeCloud;
pub use outcome::{Action, Outcome, PostResult};
pub use parse::{parse, Format, Input, Webhook};

/// Handles one event, with `time_left` before the invocation's deadline. A malformed
/// event is refused before the parameter is read; a bad parameter before anything is
/// posted.
pub async fn handle<C: Cloud>(
    config: &Config,
    cloud: &C,
    event: &Value,
    time_left: Duration,
) -> Result<Outcome, cm_core::Error> {
    // Lambda's longest timeout: a larger value is no deadline at all.
    let deadline = Instant::now() + time_left.min(Duration::from_secs(900));
    let input = parse(event)?;
    let parameter = cloud
        .webhook_parameter(&config.webhook_urls_parameter)
        .await?;
    let observed = Observed {
        webhooks: parse::webhooks(&config.webhook_urls_parameter, &parameter)?,
    };
    let plan = decide(config, &input, &observed);
    let outcome = act(cloud, plan, deadline).await?;
    tracing::info!(
        outcome = %serde_json::to_string(&outcome).unwrap_or_default(),
        "posted"
    );
    Ok(outcome)
}
