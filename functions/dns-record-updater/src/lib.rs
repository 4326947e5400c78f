//! The DNS record updater: the container's name follows the running instance's
//! public address, and points at the unavailable IP while nothing runs.
//!
//! event (EventBridge: the group's launch or terminate, or a tick of the schedule)
//! -> [`parse`] -> observe (the instance's addresses, the name's records and the
//! group's instances, read concurrently through [`Cloud`]; a scheduled run reads the
//! addresses of the group's InService instance) -> [`decide`] (pure) -> [`act`] (one
//! change batch, then the message; nothing when nothing is to fix) -> [`Outcome`].

pub mod act;
pub mod aws;
pub mod cloud;
pub mod config;
pub mod decide;
pub mod fake;
pub mod outcome;
pub mod parse;

use cm_core::asg_event::is_in_service;
use serde_json::Value;

pub use aws::AwsCloud;
pub use cloud::Cloud;
pub use config::Config;
pub use fake::FakeCloud;
pub use outcome::{Action, Event, Found, Outcome};

use decide::Observed;
use parse::Input;

/// Handles one ASG event or scheduled run. Everything is read and decided before
/// anything is written.
pub async fn handle<C: Cloud>(
    config: &Config,
    cloud: &C,
    event: &Value,
) -> Result<Outcome, cm_core::Error> {
    let input = parse::parse(event, config)?;
    let observed = observe(config, cloud, &input).await?;
    let plan = decide::decide(config, &input, &observed)?;
    let outcome = act::act(config, cloud, input.instance_id(), plan).await?;
    tracing::info!(
        outcome = %serde_json::to_string(&outcome).unwrap_or_default(),
        "{}",
        match (outcome.event, outcome.actions.is_empty()) {
            (Event::Reconcile, true) => "scheduled run: nothing to fix",
            (Event::Reconcile, false) => "scheduled run: DNS updated",
            (_, true) => "no DNS change needed",
            (_, false) => "DNS updated",
        }
    );
    Ok(outcome)
}

/// What the decision needs to know, read before anything is written.
async fn observe<C: Cloud>(
    config: &Config,
    cloud: &C,
    input: &Input,
) -> Result<Observed, cm_core::Error> {
    match input {
        Input::WarmPoolLaunch { .. } => Ok(Observed::default()),
        Input::Launch { instance_id } => {
            // The group too: a launch delivered late or twice, after the instance
            // left, must not point the name at it.
            let (addresses, records, group) = tokio::try_join!(
                cloud.instance_addresses(instance_id),
                cloud.current_records(&config.hosted_zone_id, &config.domain_name),
                cloud.group_instances(&config.asg_name),
            )?;
            // No group any more: the instance is in none, the launch is stale.
            Ok(Observed {
                addresses,
                records,
                group: group.unwrap_or_default(),
                ..Observed::default()
            })
        }
        Input::Terminate { .. } => {
            let (records, group) = tokio::try_join!(
                cloud.current_records(&config.hosted_zone_id, &config.domain_name),
                cloud.group_instances(&config.asg_name),
            )?;
            // A group already gone (its stack is being deleted, and the event came
            // late or again) serves nothing: the name goes to the unavailable IP.
            Ok(Observed {
                records,
                group: group.unwrap_or_default(),
                ..Observed::default()
            })
        }
        Input::Reconcile { .. } => {
            let (records, group) = tokio::try_join!(
                cloud.current_records(&config.hosted_zone_id, &config.domain_name),
                cloud.group_instances(&config.asg_name),
            )?;
            // A scheduled run without its group is misconfigured (or its stack is
            // going): it changes nothing rather than guess.
            let group = group.ok_or_else(|| cm_core::Error::Aws {
                operation: format!("DescribeAutoScalingGroups {}", config.asg_name),
                message: "no such Auto Scaling group".to_string(),
            })?;
            // The addresses of each InService instance (one; two while one
            // replaces another).
            let mut serving = Vec::new();
            for (instance_id, _) in group.iter().filter(|(_, state)| is_in_service(state)) {
                let addresses = cloud.instance_addresses(instance_id).await?;
                serving.push((instance_id.clone(), addresses));
            }
            Ok(Observed {
                records,
                group,
                serving,
                ..Observed::default()
            })
        }
    }
}
