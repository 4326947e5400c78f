//! The pure part: what a signal means for the container.

use cm_core::Error;

use crate::config::WatchdogConfig;
use crate::event::{AlarmChange, EcsTaskDetail, Signal};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The idle alarm: nobody is playing.
    Idle,
    /// The left-up alarm: up for too long.
    LeftUp,
    /// The container's task stopped on a failure.
    Crashed { reason: String },
}

impl Trigger {
    /// `idle`, `left_up` or `crashed`: the SNS `event_type` attribute.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Idle => "idle",
            Trigger::LeftUp => "left_up",
            Trigger::Crashed { .. } => "crashed",
        }
    }

    /// A person's description, e.g. "idle for 30 minutes".
    pub fn describe(&self, config: &WatchdogConfig) -> String {
        match self {
            Trigger::Idle => match config.idle_minutes {
                Some(m) => format!("idle for {m} minutes"),
                None => format!("idle (alarm {})", config.idle_alarm_name),
            },
            Trigger::LeftUp => match config.left_up_hours {
                Some(h) => format!("up for {h} hours"),
                None => "up for too long".to_string(),
            },
            Trigger::Crashed { reason } => format!("crashed: {reason}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Log and do nothing.
    Ignore { why: String },
    /// Tell people; set the group to 0 when `scale`.
    Stop { trigger: Trigger, scale: bool },
}

pub fn decide(signal: &Signal, config: &WatchdogConfig) -> Result<Decision, Error> {
    match signal {
        Signal::Alarm(alarm) => decide_alarm(alarm, config),
        Signal::Task(task) => decide_task(task, config),
    }
}

fn decide_alarm(alarm: &AlarmChange, config: &WatchdogConfig) -> Result<Decision, Error> {
    let trigger = if alarm.alarm_name == config.idle_alarm_name {
        Trigger::Idle
    } else if config.left_up_alarm_name.as_deref() == Some(alarm.alarm_name.as_str()) {
        Trigger::LeftUp
    } else {
        return Err(Error::invalid_event(format!(
            "unknown alarm {:?}: this watchdog answers {:?}{}",
            alarm.alarm_name,
            config.idle_alarm_name,
            config
                .left_up_alarm_name
                .as_ref()
                .map(|n| format!(" and {n:?}"))
                .unwrap_or_default()
        )));
    };
    match alarm.new_state.as_str() {
        "ALARM" => {
            let scale = trigger != Trigger::LeftUp || config.stop_when_left_up;
            Ok(Decision::Stop { trigger, scale })
        }
        "OK" | "INSUFFICIENT_DATA" => Ok(Decision::Ignore {
            why: format!("alarm {} went to {}", alarm.alarm_name, alarm.new_state),
        }),
        other => Err(Error::invalid_event(format!(
            "alarm {} has an unknown state {other:?}",
            alarm.alarm_name
        ))),
    }
}

/// Does `cluster` (an ARN or a name) name the configured cluster?
fn same_cluster(cluster: &str, name: &str) -> bool {
    cluster == name
        || cluster
            .rsplit_once(":cluster/")
            .is_some_and(|(_, n)| n == name)
}

fn decide_task(task: &EcsTaskDetail, config: &WatchdogConfig) -> Result<Decision, Error> {
    if !same_cluster(&task.cluster_arn, &config.ecs_cluster_name) {
        return Err(Error::invalid_event(format!(
            "task event for cluster {:?}, not {:?}",
            task.cluster_arn, config.ecs_cluster_name
        )));
    }
    let task_name = task.task_arn.as_deref().unwrap_or("a task");
    if task.last_status != "STOPPED" {
        return Ok(Decision::Ignore {
            why: format!("{task_name} is {}", task.last_status),
        });
    }
    let stopped_reason = task.stopped_reason.clone().unwrap_or_default();
    let crash = |reason: String| Decision::Stop {
        trigger: Trigger::Crashed { reason },
        scale: true,
    };
    match task.stop_code.as_deref() {
        Some("TaskFailedToStart") => {
            Ok(crash(non_empty(stopped_reason, "the task failed to start")))
        }
        Some("EssentialContainerExited") | None => {
            let failed: Vec<String> = task
                .containers
                .iter()
                .filter_map(|c| match c.exit_code {
                    Some(0) => None,
                    Some(code) => Some(format!("container {} exited with code {code}", c.name)),
                    // No exit code: the container never ran (e.g. the image could not be pulled).
                    None => c
                        .reason
                        .as_ref()
                        .map(|r| format!("container {} failed: {r}", c.name)),
                })
                .collect();
            if failed.is_empty() {
                Ok(Decision::Ignore {
                    why: format!(
                        "{task_name} stopped normally ({})",
                        non_empty(stopped_reason, "no failure")
                    ),
                })
            } else {
                let mut reason = failed.join("; ");
                if !stopped_reason.is_empty() {
                    reason = format!("{reason} ({stopped_reason})");
                }
                Ok(crash(reason))
            }
        }
        // ServiceSchedulerInitiated (scaled to 0, replaced), UserInitiated,
        // SpotInterruption, TerminationNotice: a stop the system or a person asked for.
        Some(code) => Ok(Decision::Ignore {
            why: format!("{task_name} stopped by {code} ({stopped_reason})"),
        }),
    }
}

fn non_empty(text: String, fallback: &str) -> String {
    if text.trim().is_empty() {
        fallback.to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EcsContainer;

    fn config(stop_when_left_up: bool) -> WatchdogConfig {
        WatchdogConfig {
            asg_name: "cm-asg-dev-mc".into(),
            idle_alarm_name: "idle".into(),
            left_up_alarm_name: Some("left-up".into()),
            stop_when_left_up,
            ecs_cluster_name: "cm-cluster-dev-mc".into(),
            sns_topic_arn: None,
            container_name: "mc".into(),
            idle_minutes: Some(30),
            left_up_hours: None,
        }
    }

    fn alarm(name: &str, state: &str) -> Signal {
        Signal::Alarm(AlarmChange {
            alarm_name: name.into(),
            new_state: state.into(),
            old_state: Some("OK".into()),
            reason: "Threshold Crossed".into(),
        })
    }

    fn task(stop_code: Option<&str>, exit: Option<i64>) -> EcsTaskDetail {
        EcsTaskDetail {
            cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/cm-cluster-dev-mc".into(),
            task_arn: Some("arn:aws:ecs:us-east-1:123456789012:task/cm-cluster-dev-mc/abc".into()),
            last_status: "STOPPED".into(),
            stop_code: stop_code.map(Into::into),
            stopped_reason: Some("Essential container in task exited".into()),
            group: Some("service:cm-service-dev-mc".into()),
            containers: vec![EcsContainer {
                name: "minecraft".into(),
                exit_code: exit,
                reason: None,
                last_status: Some("STOPPED".into()),
            }],
        }
    }

    #[test]
    fn the_idle_alarm_stops() {
        let d = decide(&alarm("idle", "ALARM"), &config(false)).unwrap();
        assert_eq!(
            d,
            Decision::Stop {
                trigger: Trigger::Idle,
                scale: true
            }
        );
        assert_eq!(
            Trigger::Idle.describe(&config(false)),
            "idle for 30 minutes"
        );
    }

    #[test]
    fn ok_and_insufficient_data_are_ignored() {
        for state in ["OK", "INSUFFICIENT_DATA"] {
            assert!(matches!(
                decide(&alarm("idle", state), &config(false)).unwrap(),
                Decision::Ignore { .. }
            ));
        }
        assert!(decide(&alarm("idle", "PANIC"), &config(false)).is_err());
    }

    #[test]
    fn the_left_up_alarm_notifies_and_stops_only_when_asked() {
        assert_eq!(
            decide(&alarm("left-up", "ALARM"), &config(false)).unwrap(),
            Decision::Stop {
                trigger: Trigger::LeftUp,
                scale: false
            }
        );
        assert_eq!(
            decide(&alarm("left-up", "ALARM"), &config(true)).unwrap(),
            Decision::Stop {
                trigger: Trigger::LeftUp,
                scale: true
            }
        );
    }

    #[test]
    fn unknown_alarms_are_refused() {
        let err = decide(&alarm("someone-else", "ALARM"), &config(false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown alarm \"someone-else\""), "{err}");
    }

    #[test]
    fn a_non_zero_exit_is_a_crash_with_its_reason() {
        let d = decide(
            &Signal::Task(task(Some("EssentialContainerExited"), Some(137))),
            &config(false),
        )
        .unwrap();
        let Decision::Stop {
            trigger: Trigger::Crashed { reason },
            scale: true,
        } = d
        else {
            panic!("{d:?}")
        };
        assert!(
            reason.contains("container minecraft exited with code 137"),
            "{reason}"
        );
        assert!(
            reason.contains("Essential container in task exited"),
            "{reason}"
        );
    }

    #[test]
    fn a_task_that_failed_to_start_is_a_crash() {
        let mut t = task(Some("TaskFailedToStart"), None);
        t.stopped_reason = Some("CannotPullContainerError: pull access denied".into());
        let d = decide(&Signal::Task(t), &config(false)).unwrap();
        assert_eq!(
            d,
            Decision::Stop {
                trigger: Trigger::Crashed {
                    reason: "CannotPullContainerError: pull access denied".into()
                },
                scale: true
            }
        );
    }

    #[test]
    fn normal_stops_are_ignored() {
        for (code, exit) in [
            (Some("ServiceSchedulerInitiated"), Some(143)),
            (Some("UserInitiated"), Some(0)),
            (Some("EssentialContainerExited"), Some(0)),
        ] {
            let d = decide(&Signal::Task(task(code, exit)), &config(false)).unwrap();
            assert!(
                matches!(d, Decision::Ignore { .. }),
                "{code:?} {exit:?}: {d:?}"
            );
        }
        let mut running = task(None, None);
        running.last_status = "RUNNING".into();
        assert!(matches!(
            decide(&Signal::Task(running), &config(false)).unwrap(),
            Decision::Ignore { .. }
        ));
    }

    #[test]
    fn foreign_clusters_are_refused() {
        let mut t = task(Some("EssentialContainerExited"), Some(1));
        t.cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/cm-cluster-dev-mc2".into();
        assert!(decide(&Signal::Task(t), &config(false)).is_err());
        assert!(same_cluster("cm-cluster-dev-mc", "cm-cluster-dev-mc"));
    }
}
