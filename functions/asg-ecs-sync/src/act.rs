//! Carries out a [`Plan`] through [`Cloud`]: the service's desired count, the drain
//! (free the instance, then poll its tasks within a bounded time) and the lifecycle
//! action's completion; for a scheduled run, the count and the completions it found
//! missing, and nothing else.

use std::time::Duration;

use cm_core::Error;
use tokio::time::Instant;

use std::collections::HashMap;

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceResponse, CloudFormationCustomResourceResponseStatus,
};

use crate::cloud::{Cloud, Completion};
use crate::config::Config;
use crate::decide::{DeployStep, Plan, Reconcile, Release, Terminate};
use crate::outcome::{Action, CustomResourceAnswer, EventKind, Outcome};
use crate::parse::Reply;

/// Time kept back from the invocation's deadline to complete the lifecycle action.
pub const COMPLETE_MARGIN: Duration = Duration::from_secs(10);

/// Executes `plan`. `time_left` is the invocation's remaining time: the drain ends
/// [`COMPLETE_MARGIN`] before it, or after `DRAIN_TIMEOUT_SECONDS`, whichever is first.
pub async fn act<C: Cloud>(
    config: &Config,
    cloud: &C,
    plan: Plan,
    time_left: Duration,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    match plan {
        Plan::Ignore { instance_id, why } => Ok(Outcome {
            event: EventKind::Ignored,
            instance_id: Some(instance_id),
            actions: Vec::new(),
            drained: None,
            still_running: Vec::new(),
            note: Some(why),
            found: None,
            custom_resource: None,
        }),
        Plan::StartService { instance_id } => {
            cloud
                .set_service_desired(&config.cluster, &config.service, 1)
                .await?;
            Ok(Outcome {
                event: EventKind::Launch,
                instance_id: Some(instance_id),
                actions: vec![update_service(config, 1)],
                drained: None,
                still_running: Vec::new(),
                note: None,
                found: None,
                custom_resource: None,
            })
        }
        Plan::Terminate(terminate) => {
            act_terminate(config, cloud, terminate, started, time_left).await
        }
        Plan::Reconcile(reconcile) => act_reconcile(config, cloud, reconcile).await,
        Plan::Deploy { reply, step } => act_deploy(config, cloud, reply, step).await,
    }
}

/// CloudFormation keeps at most 4 KiB of an answer: the reason is cut well before.
const MAX_REASON: usize = 1000;

/// Runs the step, then answers: SUCCESS, or FAILED with the error of the call that
/// failed. Only a failure to deliver the answer is this invocation's error (Lambda
/// then retries it, and the pre-signed URL is good for hours).
async fn act_deploy<C: Cloud>(
    config: &Config,
    cloud: &C,
    reply: Reply,
    step: DeployStep,
) -> Result<Outcome, Error> {
    match step {
        DeployStep::Converge(reconcile) => {
            let wanted = reconcile.set_desired;
            match act_reconcile(config, cloud, reconcile).await {
                Ok(mut outcome) => {
                    let desired =
                        wanted.unwrap_or(outcome.found.as_ref().map_or(0, |f| f.service_desired));
                    let reason = format!(
                        "the service {} is at desired count {desired}: {}",
                        config.service,
                        match &outcome.instance_id {
                            Some(id) => format!("{id} is InService"),
                            None => "no instance is InService".to_string(),
                        }
                    );
                    let data = HashMap::from([("DesiredCount".to_string(), desired.to_string())]);
                    outcome.custom_resource =
                        Some(answer(cloud, &reply, true, reason, data).await?);
                    Ok(outcome)
                }
                Err(err) => answer_failed(cloud, &reply, err.to_string()).await,
            }
        }
        DeployStep::Nothing => {
            let reason =
                "nothing to undo: the service and the group are the stack's own".to_string();
            let answered = answer(cloud, &reply, true, reason, HashMap::new()).await?;
            Ok(answered_only(answered, None))
        }
        DeployStep::Refuse(why) => answer_failed(cloud, &reply, why).await,
    }
}

/// Answers FAILED with `reason`; nothing else is done.
pub async fn answer_failed<C: Cloud>(
    cloud: &C,
    reply: &Reply,
    reason: String,
) -> Result<Outcome, Error> {
    let answered = answer(cloud, reply, false, reason, HashMap::new()).await?;
    let note = answered.reason.clone();
    Ok(answered_only(answered, Some(note)))
}

fn answered_only(answered: CustomResourceAnswer, note: Option<String>) -> Outcome {
    Outcome {
        event: EventKind::Ignored,
        instance_id: None,
        actions: Vec::new(),
        drained: None,
        still_running: Vec::new(),
        note,
        found: None,
        custom_resource: Some(answered),
    }
}

/// PUTs the answer to the request's ResponseURL.
async fn answer<C: Cloud>(
    cloud: &C,
    reply: &Reply,
    success: bool,
    reason: String,
    data: HashMap<String, String>,
) -> Result<CustomResourceAnswer, Error> {
    let reason: String = reason.chars().take(MAX_REASON).collect();
    let mut response = CloudFormationCustomResourceResponse::default();
    response.status = if success {
        CloudFormationCustomResourceResponseStatus::Success
    } else {
        CloudFormationCustomResourceResponseStatus::Failed
    };
    response.reason = Some(reason.clone());
    response.physical_resource_id = reply.physical_id.clone();
    response.stack_id = reply.stack_id.clone();
    response.request_id = reply.request_id.clone();
    response.logical_resource_id = reply.logical_id.clone();
    response.no_echo = false;
    response.data = data;
    let body = serde_json::to_vec(&response).map_err(|e| Error::Http {
        operation: format!("the answer to {reply}"),
        message: e.to_string(),
    })?;
    cloud.respond(reply, &body).await?;
    let status = if success { "SUCCESS" } else { "FAILED" };
    if success {
        tracing::info!(request = %reply, reason = %reason, "answered SUCCESS");
    } else {
        tracing::warn!(request = %reply, reason = %reason, "answered FAILED");
    }
    Ok(CustomResourceAnswer {
        request_type: reply.request_type.clone(),
        logical_id: reply.logical_id.clone(),
        status,
        physical_id: reply.physical_id.clone(),
        reason,
    })
}

fn update_service(config: &Config, desired_count: i32) -> Action {
    Action::UpdateService {
        cluster: config.cluster.clone(),
        service: config.service.clone(),
        desired_count,
    }
}

/// Frees the instance of the task, waits for the task to stop (at most
/// `DRAIN_TIMEOUT_SECONDS`, and never past `time_left` after `started` minus
/// [`COMPLETE_MARGIN`]), then completes the lifecycle action, drained or not.
async fn act_terminate<C: Cloud>(
    config: &Config,
    cloud: &C,
    plan: Terminate,
    started: Instant,
    time_left: Duration,
) -> Result<Outcome, Error> {
    let Terminate {
        action,
        release,
        wait_for,
        successor,
    } = plan;
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    match release {
        Release::StopService => {
            cloud
                .set_service_desired(&config.cluster, &config.service, 0)
                .await?;
            actions.push(update_service(config, 0));
        }
        Release::DrainContainerInstance(arn) => {
            cloud
                .drain_container_instance(&config.cluster, &arn)
                .await?;
            actions.push(Action::UpdateContainerInstancesState {
                cluster: config.cluster.clone(),
                container_instance: arn,
                status: "DRAINING",
            });
        }
        Release::Nothing => {}
    }
    if let Some(other) = &successor {
        notes.push(format!(
            "instance {other} is Pending or InService: the service keeps its desired count"
        ));
    }
    let budget = config
        .drain_timeout
        .min(time_left.saturating_sub(COMPLETE_MARGIN + started.elapsed()));
    let still_running = match &wait_for {
        Some(arn) => drain(config, cloud, arn, Instant::now() + budget).await?,
        None => Vec::new(),
    };
    if !still_running.is_empty() {
        tracing::warn!(
            instance = %action.instance_id,
            still_running = ?still_running,
            waited_seconds = budget.as_secs(),
            "drain timed out; completing the lifecycle action anyway"
        );
    }
    match cloud
        .complete_lifecycle_action(
            &config.asg_name,
            &action.hook_name,
            &action.instance_id,
            Some(&action.token),
        )
        .await?
    {
        Completion::Completed => actions.push(Action::CompleteLifecycleAction {
            group: config.asg_name.clone(),
            hook: action.hook_name.clone(),
            instance_id: action.instance_id.clone(),
            result: "CONTINUE",
        }),
        Completion::AlreadyDone(message) => {
            notes.push(format!("lifecycle action already completed: {message}"))
        }
    }
    Ok(Outcome {
        event: EventKind::Terminate,
        instance_id: Some(action.instance_id),
        actions,
        drained: Some(still_running.is_empty()),
        still_running,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
        found: None,
        custom_resource: None,
    })
}

/// The service's desired count first (when it differs), then each waiting action
/// whose instance has no task left, by instance id (a scheduled run has no token).
/// A plan with neither makes no call.
async fn act_reconcile<C: Cloud>(
    config: &Config,
    cloud: &C,
    plan: Reconcile,
) -> Result<Outcome, Error> {
    let Reconcile {
        set_desired,
        complete,
        in_service,
        found,
        mut notes,
    } = plan;
    let mut actions = Vec::new();
    if let Some(count) = set_desired {
        cloud
            .set_service_desired(&config.cluster, &config.service, count)
            .await?;
        actions.push(update_service(config, count));
    }
    if let Some((hook, instances)) = complete {
        for instance_id in instances {
            match cloud
                .complete_lifecycle_action(&config.asg_name, &hook, &instance_id, None)
                .await?
            {
                Completion::Completed => actions.push(Action::CompleteLifecycleAction {
                    group: config.asg_name.clone(),
                    hook: hook.clone(),
                    instance_id,
                    result: "CONTINUE",
                }),
                Completion::AlreadyDone(message) => notes.push(format!(
                    "lifecycle action of {instance_id} already completed: {message}"
                )),
            }
        }
    }
    Ok(Outcome {
        event: EventKind::Reconcile,
        instance_id: in_service,
        actions,
        drained: None,
        still_running: Vec::new(),
        note: (!notes.is_empty()).then(|| notes.join("; ")),
        found: Some(found),
        custom_resource: None,
    })
}

/// Polls every `DRAIN_POLL_SECONDS` until no task of the service runs on the
/// container instance, or `deadline` passes; returns the tasks still running.
async fn drain<C: Cloud>(
    config: &Config,
    cloud: &C,
    container_instance: &str,
    deadline: Instant,
) -> Result<Vec<String>, Error> {
    loop {
        let running = cloud
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
