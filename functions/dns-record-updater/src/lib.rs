//! The DNS record updater: the container's name follows the running instance's
//! public address, and points at the unavailable IP while nothing runs.
//!
//! event (EventBridge, the group's launch or terminate) -> [`parse`] -> observe
//! (the instance's addresses, the name's records and the group's instances, read
//! concurrently through [`Cloud`]) -> [`decide`] (pure) -> [`act`] (one change
//! batch, then the message) -> [`Outcome`].

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
pub use outcome::{Action, Event, Outcome};

use decide::Observed;
use parse::Input;

/// Handles one ASG event. Everything is read and decided before anything is written.
pub async fn handle<C: Cloud>(
    config: &Config,
    cloud: &C,
    event: &Value,
) -> Result<Outcome, cm_core::Error> {
    let input = parse::parse(event, config)?;
    let observed = match &input {
        Input::WarmPoolLaunch { .. } => Observed::default(),
        Input::Launch { instance_id } => {
            // The group too: a launch delivered late or twice, after the instance
            // left, must not point the name at it.
            let (addresses, records, group) = tokio::try_join!(
                cloud.instance_addresses(instance_id),
                cloud.current_records(&config.hosted_zone_id, &config.domain_name),
                cloud.group_instances(&config.asg_name),
            )?;
            Observed {
                addresses,
                records,
                group,
            }
        }
        Input::Terminate { .. } => {
            let (records, group) = tokio::try_join!(
                cloud.current_records(&config.hosted_zone_id, &config.domain_name),
                cloud.group_instances(&config.asg_name),
            )?;
            Observed {
                records,
                group,
                ..Observed::default()
            }
        }
    };
    let plan = decide::decide(config, &input, &observed)?;
    let outcome = act::act(config, cloud, input.instance_id(), plan).await?;
    tracing::info!(
        outcome = %serde_json::to_string(&outcome).unwrap_or_default(),
        "{}",
        if outcome.actions.is_empty() {
            "no DNS change needed"
        } else {
            "DNS updated"
        }
    );
    Ok(outcome)
}
