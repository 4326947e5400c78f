//! The watchdog: turns the container off when nobody uses it (the idle alarm), when
//! it has been up too long (the left-up alarm), or when it crashed (an ECS task that
//! stopped on a failure), and tells people why.
//!
//! event (a CloudWatch alarm, directly or through SNS, or an ECS Task State Change)
//! -> [`parse`] -> observe (the group's desired capacity through [`Cloud`], only when
//! some signal asks for a stop) -> [`decide`] (pure: ignore, already stopped, or stop
//! and/or notify, with the message's text) -> [`act`] (desired capacity 0 and the
//! message, concurrently) -> [`Outcome`].

pub mod act;
pub mod aws;
pub mod cloud;
pub mod config;
pub mod decide;
pub mod fake;
pub mod outcome;
pub mod parse;

use serde_json::Value;

pub use act::act;
pub use aws::AwsCloud;
pub use cloud::Cloud;
pub use config::Config;
pub use decide::{decide, Notification, Observed, Plan};
pub use fake::FakeCloud;
pub use outcome::{Action, Outcome, SignalOutcome, Status};
pub use parse::{parse, Input, Source};

/// Handles one event. Every signal is parsed and decided before anything is done, so
/// a malformed or foreign event changes nothing (and reads nothing).
pub async fn handle<C: Cloud>(
    config: &Config,
    cloud: &C,
    event: &Value,
) -> Result<Outcome, cm_core::Error> {
    let input = parse(event, config)?;
    let observed = if decide::needs_group(config, &input) {
        Observed {
            desired_capacity: Some(cloud.desired_capacity(&config.asg_name).await?),
        }
    } else {
        Observed::default()
    };
    let plan = decide(config, &input, &observed)?;
    let acts = plan.writes();
    let outcome = act(config, cloud, plan).await?;
    tracing::info!(
        outcome = %serde_json::to_string(&outcome).unwrap_or_default(),
        "{}",
        if acts { "acted" } else { "nothing to do" }
    );
    Ok(outcome)
}
