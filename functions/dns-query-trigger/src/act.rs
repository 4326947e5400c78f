//! act: a plan to start the container becomes one concurrent round of two calls,
//! whatever the batch size: desired capacity 1, and the keep-alive data point that
//! keeps the idle alarm quiet while someone connects.

use cm_core::Error;

use crate::cloud::Cloud;
use crate::config::Config;
use crate::decide::Plan;
use crate::outcome::{Action, Outcome};
use crate::parse::Input;

pub async fn act<C: Cloud>(
    config: &Config,
    cloud: &C,
    input: &Input,
    plan: &Plan,
) -> Result<Outcome, Error> {
    let mut outcome = Outcome {
        message_type: input.message_type.clone(),
        log_group: input.log_group.clone(),
        lines_seen: plan.lines_seen,
        lines_matched: plan.lines_matched,
        actions: Vec::new(),
    };
    if !plan.start {
        return Ok(outcome);
    }
    let (scaled, metric) = tokio::join!(
        cloud.set_desired_capacity(&config.asg_name, 1),
        cloud.put_keep_alive(&config.metric),
    );
    let mut errors = Vec::new();
    match scaled {
        Ok(()) => outcome.actions.push(Action::UpdateAutoScalingGroup {
            group: config.asg_name.clone(),
            desired_capacity: 1,
        }),
        Err(err) => errors.push(err),
    }
    match metric {
        Ok(()) => outcome.actions.push(Action::PutMetricData {
            namespace: config.metric.namespace.clone(),
            metric: config.metric.name.clone(),
            value: config.metric.value,
        }),
        Err(err) => errors.push(err),
    }
    if errors.is_empty() {
        return Ok(outcome);
    }
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    tracing::error!(errors = ?all, done = ?outcome.actions, "starting the container failed");
    Err(match errors.len() {
        1 => errors.remove(0),
        _ => Error::Aws {
            operation: "UpdateAutoScalingGroup and PutMetricData".to_string(),
            message: all.join("; "),
        },
    })
}
