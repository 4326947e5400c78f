//! The ASG-lifecycle-to-ECS sync: the ECS service's desired count follows the Auto
//! Scaling group, and a terminating instance is drained of the container before its
//! lifecycle action is completed, so the world is saved before the instance goes.
//!
//! event -> [`cm_core::asg_event::parse`] -> [`decide::decide`] -> [`actions`].

pub mod actions;
pub mod config;
pub mod decide;

use std::time::{Duration, Instant};

use cm_core::asg_event::{self, AsgSignal};
use serde::Serialize;
use serde_json::Value;

pub use actions::{AwsSyncActions, Completion, SyncActions};
pub use config::SyncConfig;
use decide::Plan;

/// Time kept back from the invocation's deadline to complete the lifecycle action.
pub const COMPLETE_MARGIN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// `launch`, `terminate` or `ignored`.
    pub event: String,
    pub instance_id: String,
    pub actions: Vec<String>,
    /// For a terminate: did the instance's tasks of the service stop in time?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drained: Option<bool>,
    /// Tasks still running on the instance when the drain gave up.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub still_running: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Handles one ASG event. `time_left` is the invocation's remaining time.
pub async fn handle<A: SyncActions>(
    config: &SyncConfig,
    actions: &A,
    event: &Value,
    time_left: Duration,
) -> Result<Summary, cm_core::Error> {
    let started = Instant::now();
    let parsed = asg_event::parse(event, &config.asg_name)?;
    // The group as it is now: a terminate needs it to know whether another instance
    // takes over, a launch to know whether it is stale (delivered late or twice).
    let instances = match parsed.signal {
        AsgSignal::Launch {
            into_service: false,
            ..
        } => None,
        _ => Some(actions.group_instances(&config.asg_name).await?),
    };
    let plan = decide::decide(&parsed, instances.as_deref());
    let mut summary = Summary {
        event: String::new(),
        instance_id: parsed.instance_id().to_string(),
        actions: Vec::new(),
        drained: None,
        still_running: Vec::new(),
        note: None,
    };
    match plan {
        Plan::Ignore { why } => {
            tracing::info!(instance = %summary.instance_id, reason = %why, "ignored");
            summary.event = "ignored".into();
            summary.note = Some(why);
        }
        Plan::StartService => {
            summary.event = "launch".into();
            actions
                .set_service_desired(&config.cluster, &config.service, 1)
                .await?;
            summary
                .actions
                .push(format!("UpdateService {} desiredCount=1", config.service));
            tracing::info!(instance = %summary.instance_id, actions = ?summary.actions, "service follows the launch");
        }
        Plan::Terminate {
            action,
            stop_service,
            successor,
        } => {
            summary.event = "terminate".into();
            let container_instance = actions
                .container_instance_arn(&config.cluster, &action.instance_id)
                .await?;
            if stop_service {
                actions
                    .set_service_desired(&config.cluster, &config.service, 0)
                    .await?;
                summary
                    .actions
                    .push(format!("UpdateService {} desiredCount=0", config.service));
            } else if let Some(arn) = &container_instance {
                // The new instance needs the task: ask ECS to move it there.
                actions
                    .drain_container_instance(&config.cluster, arn)
                    .await?;
                summary
                    .actions
                    .push(format!("UpdateContainerInstancesState {arn} DRAINING"));
            }
            if let Some(other) = &successor {
                summary.note = Some(format!(
                    "instance {other} is Pending or InService: the service keeps its desired count"
                ));
            }
            let budget = config
                .drain_timeout
                .min(time_left.saturating_sub(COMPLETE_MARGIN + started.elapsed()));
            let still = match &container_instance {
                Some(arn) => drain(config, actions, arn, budget).await?,
                None => Vec::new(),
            };
            summary.drained = Some(still.is_empty());
            if !still.is_empty() {
                tracing::warn!(
                    instance = %action.instance_id,
                    still_running = ?still,
                    waited_seconds = budget.as_secs(),
                    "drain timed out; completing the lifecycle action anyway"
                );
            }
            summary.still_running = still;
            match actions
                .complete_lifecycle_action(&config.asg_name, &action)
                .await?
            {
                Completion::Completed => summary.actions.push(format!(
                    "CompleteLifecycleAction {} {} CONTINUE",
                    action.hook_name, action.instance_id
                )),
                Completion::AlreadyDone(message) => {
                    tracing::info!(instance = %action.instance_id, %message, "lifecycle action was already completed");
                    summary.note = Some(format!("lifecycle action already completed: {message}"));
                }
            }
            tracing::info!(instance = %action.instance_id, actions = ?summary.actions, drained = ?summary.drained, "terminate handled");
        }
    }
    Ok(summary)
}

/// Polls until no task of the service runs on the container instance, or `budget`
/// is spent; returns the tasks still running.
async fn drain<A: SyncActions>(
    config: &SyncConfig,
    actions: &A,
    container_instance: &str,
    budget: Duration,
) -> Result<Vec<String>, cm_core::Error> {
    let deadline = Instant::now() + budget;
    loop {
        let running = actions
            .running_service_tasks(&config.cluster, &config.service, container_instance)
            .await?;
        let now = Instant::now();
        if running.is_empty() || now >= deadline {
            return Ok(running);
        }
        tracing::info!(tasks = ?running, "waiting for the container to stop");
        tokio::time::sleep(config.drain_poll.min(deadline - now)).await;
    }
}
