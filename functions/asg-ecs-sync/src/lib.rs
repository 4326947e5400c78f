//! The ASG-lifecycle-to-ECS sync: the ECS service's desired count follows the Auto
//! Scaling group, and a terminating instance is drained of the container before its
//! lifecycle action is completed, so the world is saved before the instance goes.
//!
//! event -> [`parse`] (the group's launch or terminate) -> observe through [`Cloud`]
//! (the group's instances; for a terminate, also the instance's ECS container
//! instance) -> [`decide`] (start the service, ignore, or stop / drain; pure) ->
//! [`act`] (UpdateService or DRAINING, the bounded drain poll, then
//! CompleteLifecycleAction) -> [`Outcome`].

pub mod act;
pub mod aws;
pub mod cloud;
pub mod config;
pub mod decide;
pub mod fake;
pub mod outcome;
pub mod parse;

use std::time::Duration;

use cm_core::asg_event::AsgSignal;
use serde_json::Value;
use tokio::time::Instant;

pub use act::COMPLETE_MARGIN;
pub use aws::AwsCloud;
pub use cloud::{Cloud, Completion};
pub use config::Config;
pub use decide::{Observed, Plan};
pub use fake::FakeCloud;
pub use outcome::{Action, EventKind, Outcome};
pub use parse::Input;

/// Handles one ASG event. `time_left` is the invocation's remaining time.
pub async fn handle<C: Cloud>(
    config: &Config,
    cloud: &C,
    event: &Value,
    time_left: Duration,
) -> Result<Outcome, cm_core::Error> {
    let started = Instant::now();
    let input = parse::parse(event, config)?;
    // The group as it is now: a terminate needs it to know whether another instance
    // takes over, a launch to know whether it is stale (delivered late or twice).
    let observed = match &input.signal {
        AsgSignal::Launch {
            into_service: false,
            ..
        } => Observed::default(),
        AsgSignal::Launch { .. } => Observed {
            instances: cloud.group_instances(&config.asg_name).await?,
            container_instance: None,
        },
        AsgSignal::Terminate(action) => {
            let (instances, container_instance) = tokio::join!(
                cloud.group_instances(&config.asg_name),
                cloud.container_instance(&config.cluster, &action.instance_id)
            );
            Observed {
                instances: instances?,
                container_instance: container_instance?,
            }
        }
    };
    let plan = decide::decide(config, &input, &observed);
    let outcome = act::act(
        config,
        cloud,
        plan,
        time_left.saturating_sub(started.elapsed()),
    )
    .await?;
    tracing::info!(
        outcome = %serde_json::to_string(&outcome).unwrap_or_default(),
        "{}",
        match outcome.event {
            EventKind::Launch => "the service follows the launch",
            EventKind::Terminate => "terminate handled",
            EventKind::Ignored => "ignored",
        }
    );
    Ok(outcome)
}
