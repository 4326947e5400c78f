//! act: the plan -> calls -> [`Outcome`].
//!
//! - a count: one `Players` data point. The first answer since the launch first tags
//!   the instance (so the next tick knows it answered: at most one "playable" message
//!   per launch), then puts `Players` with `SecondsToPlayable` and tells people,
//!   concurrently;
//! - a skip or an unknown count: nothing (the idle alarm treats missing data as not
//!   breaching, so an unknown count never stops a server);
//! - a boot failure: the group to 0 and the message, concurrently.
//!
//! A failed call fails the invocation with the operation named, and what the other
//! call of its round already did.

use aws_sdk_ec2::primitives::{DateTime, DateTimeFormat};
use cm_core::Error;

use crate::cloud::{Cloud, Datum, Unit};
use crate::config::{Config, ANSWERED_TAG, PLAYERS_METRIC, SECONDS_TO_PLAYABLE_METRIC};
use crate::decide::{Notification, Plan};
use crate::outcome::{Action, Boot, Outcome, Presence};
use crate::parse::Input;

pub async fn act<C: Cloud>(
    config: &Config,
    cloud: &C,
    input: &Input,
    plan: Plan,
) -> Result<Outcome, Error> {
    let mut outcome = Outcome {
        protocol: config
            .game
            .as_ref()
            .map_or("none", |g| g.protocol.name())
            .to_string(),
        presence: Presence::NotProbed,
        players: None,
        max_players: None,
        target: None,
        instance_id: None,
        note: None,
        rule: input.rule.clone(),
        boot: None,
        seconds_to_playable: None,
        grace_left_seconds: None,
        actions: Vec::new(),
    };
    match plan {
        Plan::Skip(why) => outcome.note = Some(why.to_string()),
        Plan::Unknown {
            probe,
            reason,
            boot,
            grace_left_seconds,
        } => {
            outcome.presence = Presence::Unknown;
            outcome.target = Some(probe.target());
            outcome.instance_id = Some(probe.instance_id);
            outcome.note = Some(reason);
            outcome.boot = Some(boot);
            outcome.grace_left_seconds = grace_left_seconds;
        }
        Plan::Put {
            probe,
            answer,
            at,
            first,
        } => {
            outcome.target = Some(probe.target());
            let mut data = vec![Datum {
                metric: PLAYERS_METRIC,
                unit: Unit::Count,
                value: f64::from(answer.players),
            }];
            let mut notification = None;
            outcome.boot = Some(Boot::AnsweredBefore);
            let doing = if first.is_some() {
                "telling that it is playable"
            } else {
                "putting the count"
            };
            if let Some(first) = first {
                let value = rfc3339(at);
                cloud.mark_answered(&probe.instance_id, &value).await?;
                outcome.actions.push(Action::CreateTags {
                    instance_id: probe.instance_id.clone(),
                    key: ANSWERED_TAG.to_string(),
                    value,
                });
                outcome.boot = Some(Boot::FirstAnswer);
                outcome.seconds_to_playable = first.seconds_to_playable;
                if let Some(seconds) = first.seconds_to_playable {
                    data.push(Datum {
                        metric: SECONDS_TO_PLAYABLE_METRIC,
                        unit: Unit::Seconds,
                        value: seconds as f64,
                    });
                }
                notification = first.notification;
            }
            outcome.instance_id = Some(probe.instance_id);
            let put = async {
                cloud.put_metric_data(&config.metric, &data, at).await?;
                Ok::<_, Error>(
                    data.iter()
                        .map(|d| Action::PutMetricData {
                            namespace: config.metric.namespace.clone(),
                            metric: d.metric.to_string(),
                            value: d.value,
                        })
                        .collect::<Vec<_>>(),
                )
            };
            let (put, notified) = tokio::join!(put, notify(cloud, notification.as_ref()));
            outcome
                .actions
                .extend(put.map_err(|e| also(e, &notified, doing))?);
            let done = done(&outcome.actions, doing);
            outcome
                .actions
                .extend(notified.map_err(|e| with_note(e, &done))?);
            outcome.presence = Presence::Answered;
            outcome.players = Some(answer.players);
            outcome.max_players = answer.max_players;
        }
        Plan::StopBootFailed {
            probe,
            reason,
            notification,
        } => {
            outcome.presence = Presence::Unknown;
            outcome.target = Some(probe.target());
            outcome.instance_id = Some(probe.instance_id);
            outcome.note = Some(reason);
            outcome.boot = Some(Boot::Failed);
            let stop = async {
                cloud.stop(&config.asg_name).await?;
                Ok::<_, Error>(Action::UpdateAutoScalingGroup {
                    group: config.asg_name.clone(),
                    desired_capacity: 0,
                })
            };
            let (stopped, notified) = tokio::join!(stop, notify(cloud, notification.as_ref()));
            let doing = "stopping a failed boot";
            outcome
                .actions
                .push(stopped.map_err(|e| also(e, &notified, doing))?);
            let done = done(&outcome.actions, doing);
            outcome
                .actions
                .extend(notified.map_err(|e| with_note(e, &done))?);
        }
    }
    Ok(outcome)
}

/// `secs` since the Unix epoch as RFC 3339, e.g. `2027-01-15T08:05:00Z`.
fn rfc3339(secs: i64) -> String {
    DateTime::from_secs(secs)
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

/// Publishes `notification`, if any; the action done.
async fn notify<C: Cloud>(
    cloud: &C,
    notification: Option<&Notification>,
) -> Result<Option<Action>, Error> {
    let Some(n) = notification else {
        return Ok(None);
    };
    cloud.notify(n).await?;
    Ok(Some(Action::Publish {
        topic_arn: n.topic_arn.clone(),
        event_type: n.event_type.clone(),
        subject: n.subject.clone(),
        message: n.message.clone(),
    }))
}

/// `first` with what the concurrent call did (or how it failed too).
fn also(first: Error, other: &Result<Option<Action>, Error>, doing: &str) -> Error {
    let note = match other {
        Ok(Some(action)) => format!("while {doing}; done: {action}"),
        Ok(None) => format!("while {doing}"),
        Err(err) => format!("while {doing}; also {err}"),
    };
    with_note(first, &note)
}

/// "while <doing>; done: <actions>".
fn done(actions: &[Action], doing: &str) -> String {
    let list: Vec<String> = actions.iter().map(ToString::to_string).collect();
    format!("while {doing}; done: {}", list.join(", "))
}

fn with_note(err: Error, note: &str) -> Error {
    match err {
        Error::Aws { operation, message } => Error::Aws {
            operation,
            message: format!("{message} ({note})"),
        },
        other => other,
    }
}
