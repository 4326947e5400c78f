//! The pure part: what each signal means for the container, given the group's
//! desired capacity read before deciding. No I/O, no clock.
//!
//! - the idle alarm in `ALARM`: stop (desired 0) and tell people;
//! - the left-up alarm in `ALARM`: tell people; stop too when `STOP_WHEN_LEFT_UP`;
//! - a task of the container's cluster that stopped on a failure: stop and tell;
//! - `OK` / `INSUFFICIENT_DATA`, tasks still running or stopped on purpose: nothing;
//! - any of the above when the group is already at 0: nothing (a duplicate alarm
//!   sends no second message);
//! - an alarm this watchdog does not answer, an unknown alarm state, a task of
//!   another cluster: an [`Error::InvalidEvent`], before any call.

use cm_core::Error;

use crate::config::Config;
use crate::parse::{AlarmChange, EcsTaskDetail, Input, Signal, Source};

/// What was read before deciding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observed {
    /// The group's desired capacity; `None` when it was not read (no signal asks
    /// for a stop), and then a stop is planned as if the group were running.
    pub desired_capacity: Option<i32>,
}

/// Why the container is being stopped or people are told.
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
    pub fn describe(&self, config: &Config) -> String {
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

/// A message for the container's SNS topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub topic_arn: String,
    /// At most 100 characters (SNS's limit for subjects).
    pub subject: String,
    pub message: String,
    /// `idle`, `left_up` or `crashed`: the `event_type` message attribute.
    pub event_type: String,
    /// The `container` message attribute.
    pub container: String,
}

impl Notification {
    /// The message for `trigger`: "mc is being stopped: ..." when the group is set to
    /// 0 (`scale`), "mc has been ... and is still running." otherwise.
    pub fn new(topic_arn: &str, config: &Config, trigger: &Trigger, scale: bool) -> Self {
        let name = &config.container_name;
        let why = trigger.describe(config);
        let (subject, message) = if scale {
            (
                format!("{name} is stopping"),
                format!("{name} is being stopped: {why}."),
            )
        } else {
            (
                format!("{name} is still running"),
                format!("{name} has been {why} and is still running."),
            )
        };
        Notification {
            topic_arn: topic_arn.to_string(),
            subject: subject.chars().take(100).collect(),
            message,
            event_type: trigger.kind().to_string(),
            container: name.clone(),
        }
    }
}

/// What to do about one signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The signal asks for nothing; `reason` says why.
    Ignore { reason: String },
    /// The signal asks for a stop, but the group is already at 0: nothing to do.
    AlreadyStopped { trigger: Trigger, reason: String },
    /// Set the group to 0 when `scale`, and send `notification` (when a topic is
    /// configured), concurrently.
    Stop {
        trigger: Trigger,
        /// The trigger, described for people.
        reason: String,
        scale: bool,
        notification: Option<Notification>,
    },
}

/// Everything to do for one event, one step per signal, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub source: Source,
    /// The group's desired capacity as observed before deciding.
    pub desired_capacity: Option<i32>,
    pub steps: Vec<Step>,
}

impl Plan {
    /// Does the plan change anything (a scale-down or a message)?
    pub fn writes(&self) -> bool {
        self.steps.iter().any(|s| {
            matches!(s, Step::Stop { scale, notification, .. } if *scale || notification.is_some())
        })
    }
}

/// What a signal asks for, before the group's state is known.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Ignore { why: String },
    Stop { trigger: Trigger, scale: bool },
}

/// Is the group's desired capacity needed to decide? Only when some signal asks for
/// a stop and none is refused (a refused event is answered without any call).
pub fn needs_group(config: &Config, input: &Input) -> bool {
    input
        .signals
        .iter()
        .map(|signal| judge(signal, config))
        .collect::<Result<Vec<_>, _>>()
        .is_ok_and(|verdicts| verdicts.iter().any(|v| matches!(v, Verdict::Stop { .. })))
}

/// Plans the event: every signal is judged first, so one refused signal refuses the
/// whole event and nothing is done.
pub fn decide(config: &Config, input: &Input, observed: &Observed) -> Result<Plan, Error> {
    let verdicts = input
        .signals
        .iter()
        .map(|signal| judge(signal, config))
        .collect::<Result<Vec<_>, _>>()?;
    // The desired capacity as the steps before leave it: after a scale-down, a second
    // stop signal of the same event finds the group at 0.
    let mut desired = observed.desired_capacity;
    let steps = verdicts
        .into_iter()
        .map(|verdict| match verdict {
            Verdict::Ignore { why } => Step::Ignore { reason: why },
            Verdict::Stop { trigger, .. } if desired == Some(0) => Step::AlreadyStopped {
                reason: trigger.describe(config),
                trigger,
            },
            Verdict::Stop { trigger, scale } => {
                if scale {
                    desired = Some(0);
                }
                Step::Stop {
                    reason: trigger.describe(config),
                    notification: config
                        .sns_topic_arn
                        .as_deref()
                        .map(|topic| Notification::new(topic, config, &trigger, scale)),
                    trigger,
                    scale,
                }
            }
        })
        .collect();
    Ok(Plan {
        source: input.source,
        desired_capacity: observed.desired_capacity,
        steps,
    })
}

fn judge(signal: &Signal, config: &Config) -> Result<Verdict, Error> {
    match signal {
        Signal::Alarm(alarm) => judge_alarm(alarm, config),
        Signal::Task(task) => judge_task(task, config),
    }
}

fn judge_alarm(alarm: &AlarmChange, config: &Config) -> Result<Verdict, Error> {
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
            Ok(Verdict::Stop { trigger, scale })
        }
        "OK" | "INSUFFICIENT_DATA" => Ok(Verdict::Ignore {
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

fn judge_task(task: &EcsTaskDetail, config: &Config) -> Result<Verdict, Error> {
    if !same_cluster(&task.cluster_arn, &config.ecs_cluster_name) {
        return Err(Error::invalid_event(format!(
            "task event for cluster {:?}, not {:?}",
            task.cluster_arn, config.ecs_cluster_name
        )));
    }
    let task_name = task.task_arn.as_deref().unwrap_or("a task");
    // A base stack's cluster is shared by its region's containers: a neighbour's task
    // is none of this container's business.
    if let Some(service) = &config.ecs_service_name {
        let own = format!("service:{service}");
        if task.group.as_deref() != Some(own.as_str()) {
            return Ok(Verdict::Ignore {
                why: format!(
                    "{task_name} belongs to {}, not {own}",
                    task.group.as_deref().unwrap_or("no service")
                ),
            });
        }
    }
    if task.last_status != "STOPPED" {
        return Ok(Verdict::Ignore {
            why: format!("{task_name} is {}", task.last_status),
        });
    }
    let stopped_reason = task.stopped_reason.clone().unwrap_or_default();
    let crash = |reason: String| Verdict::Stop {
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
                Ok(Verdict::Ignore {
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
        Some(code) => Ok(Verdict::Ignore {
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
    use crate::parse::EcsContainer;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc";

    fn config(stop_when_left_up: bool) -> Config {
        Config {
            asg_name: "cm-asg-dev-mc".into(),
            idle_alarm_name: "idle".into(),
            left_up_alarm_name: Some("left-up".into()),
            stop_when_left_up,
            ecs_cluster_name: "cm-cluster-dev-mc".into(),
            ecs_service_name: None,
            sns_topic_arn: Some(TOPIC.into()),
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

    fn input(signals: Vec<Signal>) -> Input {
        Input {
            source: Source::SnsAlarm,
            signals,
        }
    }

    const RUNNING: Observed = Observed {
        desired_capacity: Some(1),
    };

    /// The one step planned for `signal` with the group running.
    fn step(signal: Signal, config: &Config) -> Result<Step, Error> {
        let plan = decide(config, &input(vec![signal]), &RUNNING)?;
        assert_eq!(plan.steps.len(), 1, "{plan:?}");
        Ok(plan.steps[0].clone())
    }

    /// (trigger, scale) of a planned stop; panics on any other step.
    fn stop(step: Step) -> (Trigger, bool) {
        match step {
            Step::Stop { trigger, scale, .. } => (trigger, scale),
            other => panic!("not a stop: {other:?}"),
        }
    }

    #[test]
    fn a_neighbours_task_on_a_shared_cluster_is_ignored() {
        let mut shared = config(false);
        shared.ecs_service_name = Some("cm-service-dev-mc".into());
        let mut neighbour = task(Some("EssentialContainerExited"), Some(1));
        neighbour.group = Some("service:cm-service-dev-vh".into());
        let s = step(Signal::Task(neighbour), &shared).unwrap();
        assert!(
            matches!(&s, Step::Ignore { reason } if reason.contains("service:cm-service-dev-vh")),
            "{s:?}"
        );
        // Its own service's crash still stops it.
        let own = task(Some("EssentialContainerExited"), Some(1));
        let (trigger, scale) = stop(step(Signal::Task(own), &shared).unwrap());
        assert!(matches!(trigger, Trigger::Crashed { .. }) && scale);
    }

    #[test]
    fn the_idle_alarm_stops_and_says_why() {
        let s = step(alarm("idle", "ALARM"), &config(false)).unwrap();
        assert_eq!(
            s,
            Step::Stop {
                trigger: Trigger::Idle,
                reason: "idle for 30 minutes".into(),
                scale: true,
                notification: Some(Notification {
                    topic_arn: TOPIC.into(),
                    subject: "mc is stopping".into(),
                    message: "mc is being stopped: idle for 30 minutes.".into(),
                    event_type: "idle".into(),
                    container: "mc".into(),
                }),
            }
        );
    }

    #[test]
    fn ok_and_insufficient_data_are_ignored_and_unknown_states_refused() {
        for state in ["OK", "INSUFFICIENT_DATA"] {
            let s = step(alarm("idle", state), &config(false)).unwrap();
            assert_eq!(
                s,
                Step::Ignore {
                    reason: format!("alarm idle went to {state}")
                }
            );
        }
        let err = step(alarm("idle", "PANIC"), &config(false)).unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent");
        assert!(err.to_string().contains("unknown state \"PANIC\""), "{err}");
    }

    #[test]
    fn the_left_up_alarm_notifies_and_stops_only_when_asked() {
        let notify = step(alarm("left-up", "ALARM"), &config(false)).unwrap();
        let Step::Stop {
            scale: false,
            notification: Some(n),
            ..
        } = &notify
        else {
            panic!("{notify:?}")
        };
        assert_eq!(
            (
                n.subject.as_str(),
                n.message.as_str(),
                n.event_type.as_str()
            ),
            (
                "mc is still running",
                "mc has been up for too long and is still running.",
                "left_up"
            )
        );
        assert_eq!(
            stop(step(alarm("left-up", "ALARM"), &config(true)).unwrap()),
            (Trigger::LeftUp, true)
        );
    }

    #[test]
    fn unknown_alarms_are_refused_naming_the_known_ones() {
        let err = step(alarm("someone-else", "ALARM"), &config(false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown alarm \"someone-else\""), "{err}");
        assert!(err.contains("\"idle\" and \"left-up\""), "{err}");
        let mut no_left_up = config(false);
        no_left_up.left_up_alarm_name = None;
        let err = step(alarm("left-up", "ALARM"), &no_left_up)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown alarm \"left-up\""), "{err}");
    }

    #[test]
    fn a_non_zero_exit_is_a_crash_with_its_reason() {
        let s = step(
            Signal::Task(task(Some("EssentialContainerExited"), Some(137))),
            &config(false),
        )
        .unwrap();
        let (Trigger::Crashed { reason }, true) = stop(s) else {
            panic!("not a crash")
        };
        assert_eq!(
            reason,
            "container minecraft exited with code 137 (Essential container in task exited)"
        );
    }

    #[test]
    fn a_task_that_failed_to_start_is_a_crash() {
        let mut t = task(Some("TaskFailedToStart"), None);
        t.stopped_reason = Some("CannotPullContainerError: pull access denied".into());
        assert_eq!(
            stop(step(Signal::Task(t.clone()), &config(false)).unwrap()),
            (
                Trigger::Crashed {
                    reason: "CannotPullContainerError: pull access denied".into()
                },
                true
            )
        );
        t.stopped_reason = Some("  ".into());
        assert_eq!(
            stop(step(Signal::Task(t), &config(false)).unwrap()).0,
            Trigger::Crashed {
                reason: "the task failed to start".into()
            }
        );
    }

    #[test]
    fn a_container_that_never_ran_is_a_crash() {
        let mut t = task(None, None);
        t.containers[0].reason = Some("CannotPullContainerError".into());
        t.stopped_reason = None;
        assert_eq!(
            stop(step(Signal::Task(t), &config(false)).unwrap()).0,
            Trigger::Crashed {
                reason: "container minecraft failed: CannotPullContainerError".into()
            }
        );
    }

    #[test]
    fn normal_stops_and_running_tasks_are_ignored() {
        for (code, exit) in [
            (Some("ServiceSchedulerInitiated"), Some(143)),
            (Some("UserInitiated"), Some(0)),
            (Some("SpotInterruption"), Some(137)),
            (Some("EssentialContainerExited"), Some(0)),
        ] {
            let s = step(Signal::Task(task(code, exit)), &config(false)).unwrap();
            assert!(matches!(s, Step::Ignore { .. }), "{code:?} {exit:?}: {s:?}");
        }
        let mut running = task(None, None);
        running.last_status = "RUNNING".into();
        assert_eq!(
            step(Signal::Task(running), &config(false)).unwrap(),
            Step::Ignore {
                reason: "arn:aws:ecs:us-east-1:123456789012:task/cm-cluster-dev-mc/abc is RUNNING"
                    .into()
            }
        );
    }

    #[test]
    fn foreign_clusters_are_refused() {
        let mut t = task(Some("EssentialContainerExited"), Some(1));
        t.cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/cm-cluster-dev-mc2".into();
        let err = step(Signal::Task(t), &config(false)).unwrap_err();
        assert!(err.to_string().contains("cm-cluster-dev-mc2"), "{err}");
        assert!(same_cluster("cm-cluster-dev-mc", "cm-cluster-dev-mc"));
        assert!(!same_cluster(
            "other/cm-cluster-dev-mc",
            "cm-cluster-dev-mc"
        ));
    }

    #[test]
    fn a_group_already_at_zero_needs_nothing() {
        for signal in [
            alarm("idle", "ALARM"),
            alarm("left-up", "ALARM"),
            Signal::Task(task(Some("EssentialContainerExited"), Some(1))),
        ] {
            let plan = decide(
                &config(true),
                &input(vec![signal]),
                &Observed {
                    desired_capacity: Some(0),
                },
            )
            .unwrap();
            assert!(
                matches!(&plan.steps[..], [Step::AlreadyStopped { .. }]),
                "{plan:?}"
            );
            assert!(!plan.writes());
        }
    }

    #[test]
    fn a_group_not_read_is_stopped_as_if_running() {
        let plan = decide(
            &config(false),
            &input(vec![alarm("idle", "ALARM")]),
            &Observed::default(),
        )
        .unwrap();
        assert!(plan.writes());
        assert_eq!(plan.desired_capacity, None);
    }

    #[test]
    fn a_second_stop_in_one_event_finds_the_group_at_zero() {
        let plan = decide(
            &config(false),
            &input(vec![
                alarm("left-up", "ALARM"),
                alarm("idle", "ALARM"),
                alarm("idle", "ALARM"),
            ]),
            &RUNNING,
        )
        .unwrap();
        assert_eq!(plan.source, Source::SnsAlarm);
        assert_eq!(plan.desired_capacity, Some(1));
        assert!(
            matches!(
                &plan.steps[..],
                [
                    Step::Stop { scale: false, .. },
                    Step::Stop { scale: true, .. },
                    Step::AlreadyStopped {
                        trigger: Trigger::Idle,
                        ..
                    }
                ]
            ),
            "{plan:?}"
        );
    }

    #[test]
    fn one_refused_signal_refuses_the_event() {
        let event = input(vec![alarm("idle", "ALARM"), alarm("someone-else", "ALARM")]);
        assert!(decide(&config(false), &event, &RUNNING).is_err());
        assert!(!needs_group(&config(false), &event));
    }

    #[test]
    fn the_group_is_read_only_when_a_signal_asks_for_a_stop() {
        let cfg = config(false);
        assert!(needs_group(&cfg, &input(vec![alarm("idle", "ALARM")])));
        assert!(needs_group(&cfg, &input(vec![alarm("left-up", "ALARM")])));
        assert!(!needs_group(&cfg, &input(vec![alarm("idle", "OK")])));
        assert!(!needs_group(&cfg, &input(vec![alarm("idle", "MELTING")])));
        assert!(!needs_group(
            &cfg,
            &input(vec![Signal::Task(task(Some("UserInitiated"), Some(0)))])
        ));
    }

    #[test]
    fn without_a_topic_nobody_is_told() {
        let mut cfg = config(false);
        cfg.sns_topic_arn = None;
        let Step::Stop { notification, .. } = step(alarm("idle", "ALARM"), &cfg).unwrap() else {
            panic!("not a stop")
        };
        assert_eq!(notification, None);
        let mut silent = cfg.clone();
        silent.left_up_hours = Some(8);
        let plan = decide(&silent, &input(vec![alarm("left-up", "ALARM")]), &RUNNING).unwrap();
        assert!(!plan.writes(), "notifying nobody changes nothing: {plan:?}");
    }

    #[test]
    fn descriptions_fall_back_without_windows_and_subjects_fit_sns() {
        let mut cfg = config(false);
        cfg.idle_minutes = None;
        cfg.left_up_hours = Some(8);
        assert_eq!(Trigger::Idle.describe(&cfg), "idle (alarm idle)");
        assert_eq!(Trigger::LeftUp.describe(&cfg), "up for 8 hours");
        cfg.container_name = "m".repeat(150);
        let n = Notification::new(TOPIC, &cfg, &Trigger::Idle, true);
        assert_eq!(n.subject.chars().count(), 100);
        assert!(n.message.starts_with(&cfg.container_name));
    }
}
