//! act: each planned step in order; a stop is one concurrent round of the scale-down
//! and the message. A failed call fails the invocation with the operation named and
//! what the other call already did, and is logged with it.

use cm_core::Error;

use crate::cloud::Cloud;
use crate::config::Config;
use crate::decide::{Notification, Plan, Step};
use crate::outcome::{Action, Outcome, SignalOutcome, Status};

pub async fn act<C: Cloud>(config: &Config, cloud: &C, plan: Plan) -> Result<Outcome, Error> {
    let mut outcomes = Vec::with_capacity(plan.steps.len());
    for step in plan.steps {
        outcomes.push(act_step(config, cloud, step).await?);
    }
    Ok(Outcome {
        source: plan.source,
        desired_capacity: plan.desired_capacity,
        outcomes,
    })
}

async fn act_step<C: Cloud>(
    config: &Config,
    cloud: &C,
    step: Step,
) -> Result<SignalOutcome, Error> {
    match step {
        Step::Ignore { reason } => Ok(SignalOutcome {
            result: Status::Ignored,
            reason,
            actions: Vec::new(),
        }),
        Step::AlreadyStopped { reason, .. } => Ok(SignalOutcome {
            result: Status::AlreadyStopped,
            reason,
            actions: Vec::new(),
        }),
        Step::Stop {
            reason,
            scale,
            notification,
            ..
        } => stop(config, cloud, reason, scale, notification.as_ref()).await,
    }
}

async fn stop<C: Cloud>(
    config: &Config,
    cloud: &C,
    reason: String,
    scale: bool,
    notification: Option<&Notification>,
) -> Result<SignalOutcome, Error> {
    let scale_down = async {
        if !scale {
            return Ok(None);
        }
        cloud.set_desired_capacity(&config.asg_name, 0).await?;
        Ok::<_, Error>(Some(Action::UpdateAutoScalingGroup {
            group: config.asg_name.clone(),
            desired_capacity: 0,
        }))
    };
    let notify = async {
        let Some(n) = notification else {
            return Ok(None);
        };
        cloud.notify(n).await?;
        Ok::<_, Error>(Some(Action::Publish {
            topic_arn: n.topic_arn.clone(),
            event_type: n.event_type.clone(),
            subject: n.subject.clone(),
            message: n.message.clone(),
        }))
    };
    let (scaled, notified) = tokio::join!(scale_down, notify);
    let mut actions = Vec::new();
    let mut errors = Vec::new();
    for result in [scaled, notified] {
        match result {
            Ok(action) => actions.extend(action),
            Err(err) => errors.push(err),
        }
    }
    let mut errors = errors.into_iter();
    let Some(first) = errors.next() else {
        return Ok(SignalOutcome {
            result: if scale {
                Status::Stopped
            } else {
                Status::Notified
            },
            reason,
            actions,
        });
    };
    let doing = format!(
        "{} {} ({reason})",
        if scale { "stopping" } else { "notifying about" },
        config.container_name
    );
    let also: Vec<Error> = errors.collect();
    let all: Vec<String> = std::iter::once(&first)
        .chain(&also)
        .map(ToString::to_string)
        .collect();
    let done: Vec<String> = actions.iter().map(ToString::to_string).collect();
    tracing::error!(errors = ?all, done = ?done, "{doing} failed");
    Err(with_context(first, &also, &done, &doing))
}

/// `first` with what else failed, what it was part of and what was done anyway
/// appended to its message.
fn with_context(first: Error, also: &[Error], done: &[String], doing: &str) -> Error {
    let Error::Aws { operation, message } = first else {
        return first;
    };
    let mut message = message;
    for other in also {
        message.push_str(&format!("; also {other}"));
    }
    message.push_str(&format!(" (while {doing}"));
    if !done.is_empty() {
        message.push_str(&format!("; done: {}", done.join(", ")));
    }
    message.push(')');
    Error::Aws { operation, message }
}
