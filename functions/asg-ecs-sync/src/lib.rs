//! The ASG-lifecycle-to-ECS sync: the ECS service's desired count follows the Auto
//! Scaling group, and a terminating instance is drained of the container before its
//! lifecycle action is completed, so the world is saved before the instance goes.
//!
//! event -> [`parse`] (the group's launch or terminate, or a tick of the schedule) ->
//! observe through [`Cloud`] (the group's instances; for a terminate, also the
//! instance's ECS container instance; for a scheduled run, the service's desired
//! count and the service's tasks on each Terminating:Wait instance) -> [`decide`]
//! (start the service, ignore, stop / drain, or what a scheduled run finds missing;
//! pure) -> [`act`] (UpdateService or DRAINING, the bounded drain poll, then
//! CompleteLifecycleAction; a scheduled run never waits) -> [`Outcome`].
//!
//! A CloudFormation custom resource request (the stack's `ServiceReconcile`, created
//! or updated at the end of every deploy that touches the service) runs the scheduled
//! run's convergence on Create and Update, nothing on Delete, and is always answered
//! at its ResponseURL: SUCCESS, or FAILED naming what failed, so a deploy never waits
//! out CloudFormation's hour for an answer.

pub mod act;
pub mod aws;
pub mod cloud;
pub mod config;
pub mod decide;
pub mod fake;
pub mod outcome;
pub mod parse;

use std::time::Duration;

use cm_core::asg_event::{AsgSignal, TERMINATING_WAIT};
use serde_json::Value;
use tokio::time::Instant;

pub use act::COMPLETE_MARGIN;
pub use aws::AwsCloud;
pub use cloud::{Cloud, Completion};
pub use config::Config;
pub use decide::{DeployStep, Found, Leaving, Observed, Plan};
pub use fake::FakeCloud;
pub use outcome::{Action, CustomResourceAnswer, EventKind, Outcome};
pub use parse::{Deploy, DeployRequest, Input, Reply, Schedule};

/// Handles one ASG event, scheduled run or CloudFormation custom resource request.
/// `time_left` is the invocation's remaining time.
pub async fn handle<C: Cloud>(
    config: &Config,
    cloud: &C,
    event: &Value,
    time_left: Duration,
) -> Result<Outcome, cm_core::Error> {
    let started = Instant::now();
    let input = parse::parse(event, config)?;
    let observed = match observe(config, cloud, &input).await {
        Ok(observed) => observed,
        // CloudFormation waits for an answer: a failed read is answered FAILED.
        Err(err) => match input {
            Input::Deploy(deploy) => {
                return act::answer_failed(cloud, &deploy.reply, err.to_string()).await;
            }
            _ => return Err(err),
        },
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
            _ if outcome.custom_resource.is_some() => "custom resource request answered",
            EventKind::Reconcile if outcome.actions.is_empty() => "scheduled run: nothing to fix",
            EventKind::Reconcile => "scheduled run: the service follows the group",
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
    // The group as it is now: a terminate needs it to know whether another instance
    // takes over, a launch to know whether it is stale (delivered late or twice).
    match input {
        Input::Group(event) => match &event.signal {
            AsgSignal::Launch {
                into_service: false,
                ..
            } => Ok(Observed::default()),
            AsgSignal::Launch { .. } => Ok(Observed {
                instances: cloud.group_instances(&config.asg_name).await?,
                ..Observed::default()
            }),
            AsgSignal::Terminate(action) => {
                let (instances, container_instance) = tokio::join!(
                    cloud.group_instances(&config.asg_name),
                    cloud.container_instance(&config.cluster, &action.instance_id)
                );
                Ok(Observed {
                    instances: instances?,
                    container_instance: container_instance?,
                    ..Observed::default()
                })
            }
        },
        Input::Deploy(deploy) if deploy.request != parse::DeployRequest::Converge => {
            Ok(Observed::default())
        }
        Input::Reconcile(_) | Input::Deploy(_) => {
            let (instances, service_desired) = tokio::join!(
                cloud.group_instances(&config.asg_name),
                cloud.desired_count(&config.cluster, &config.service)
            );
            let (instances, service_desired) = (instances?, service_desired?);
            // Each instance waiting on the terminate hook, and the service's tasks
            // still on it (the group has one instance, two while one replaces another).
            let mut leaving = Vec::new();
            for (instance_id, _) in instances.iter().filter(|(_, s)| s == TERMINATING_WAIT) {
                let container_instance = cloud
                    .container_instance(&config.cluster, instance_id)
                    .await?;
                let tasks = match &container_instance {
                    Some(arn) => {
                        cloud
                            .running_service_tasks(&config.cluster, &config.service, arn)
                            .await?
                    }
                    None => Vec::new(),
                };
                leaving.push(Leaving {
                    instance_id: instance_id.clone(),
                    container_instance,
                    tasks,
                });
            }
            Ok(Observed {
                instances,
                container_instance: None,
                service_desired,
                leaving,
            })
        }
    }
}
