//! The pure part: what an ASG event, or a scheduled run, means for the ECS service,
//! given the group and the cluster as they were just read.

use std::collections::BTreeMap;

use cm_core::asg_event::{
    another_instance_serving, is_in_service, is_pending, stale_launch, AsgSignal, LifecycleAction,
    TERMINATING_WAIT,
};
use serde::Serialize;

use crate::config::Config;
use crate::parse::{Deploy, DeployRequest, Input, Reply};

/// What was read before deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// (instance id, lifecycle state) of every instance of the group as it is now.
    /// Not read for a launch into the warm pool (left empty).
    pub instances: Vec<(String, String)>,
    /// The ECS container instance (ARN) of a terminating instance, if it registered
    /// in the cluster.
    pub container_instance: Option<String>,
    /// The service's desired count (read by a scheduled run only; 0 otherwise).
    pub service_desired: i32,
    /// Each instance of the group in Terminating:Wait (read by a scheduled run only).
    pub leaving: Vec<Leaving>,
}

/// An instance waiting on the terminate hook, as a scheduled run found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaving {
    pub instance_id: String,
    /// Its ECS container instance, if it registered in the cluster.
    pub container_instance: Option<String>,
    /// The service's tasks on it that have not stopped.
    pub tasks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to change; `why` says so.
    Ignore { instance_id: String, why: String },
    /// An instance launched into the group: the service runs one task.
    StartService { instance_id: String },
    /// An instance is terminating: free it of the task, wait for the task to stop,
    /// then complete the lifecycle action.
    Terminate(Terminate),
    /// A scheduled run: what differs from the group, and what to do about it.
    Reconcile(Reconcile),
    /// A CloudFormation custom resource request: what to do, then the answer.
    Deploy { reply: Reply, step: DeployStep },
}

/// What a custom resource request makes the sync do before it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployStep {
    /// Create or Update: the scheduled run's convergence, then SUCCESS (or FAILED
    /// naming the call that failed).
    Converge(Reconcile),
    /// Delete: nothing, then SUCCESS.
    Nothing,
    /// Nothing, then FAILED with this reason.
    Refuse(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminate {
    /// The action to complete (CONTINUE), from the event.
    pub action: LifecycleAction,
    pub release: Release,
    /// The container instance whose tasks of the service are waited for; `None` when
    /// the instance never registered in the cluster (no task can run there).
    pub wait_for: Option<String>,
    /// Another instance of the group that is Pending or InService.
    pub successor: Option<String>,
}

/// How the terminating instance is freed of the service's task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// No other instance serves: the service's desired count goes to 0.
    StopService,
    /// Another instance serves and needs the task: the service keeps its count and
    /// this container instance is set to DRAINING, so ECS moves the task.
    DrainContainerInstance(String),
    /// Another instance serves and this one never registered in the cluster:
    /// nothing runs here to move.
    Nothing,
}

/// A scheduled run's plan: at most one UpdateService, then the lifecycle actions to
/// complete. Both empty: nothing to fix, and nothing is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconcile {
    /// The desired count to set, when the service's differs from what the group needs.
    pub set_desired: Option<i32>,
    /// The hook, and the Terminating:Wait instances whose action on it is completed:
    /// none of the service's tasks is left on them.
    pub complete: Option<(String, Vec<String>)>,
    /// An InService instance, if the group has one.
    pub in_service: Option<String>,
    pub found: Found,
    /// What was found and left as it is, and why.
    pub notes: Vec<String>,
}

/// What a scheduled run found, as its outcome reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The lifecycle state of each instance of the group.
    pub instances: BTreeMap<String, String>,
    /// The service's desired count before the run.
    pub service_desired: i32,
}

/// A launch into the warm pool is ignored. A launch whose instance is no longer
/// Pending or InService in the group is stale (delivered late or twice) and changes
/// nothing. A terminate always ends with the lifecycle action completed. A scheduled
/// run converges (see [`reconcile`]).
pub fn decide(config: &Config, input: &Input, observed: &Observed) -> Plan {
    match input {
        Input::Group(event) => follow(&event.signal, observed),
        Input::Reconcile(_) => Plan::Reconcile(reconcile(config, observed)),
        Input::Deploy(Deploy { reply, request }) => Plan::Deploy {
            reply: reply.clone(),
            step: match request {
                DeployRequest::Converge => DeployStep::Converge(reconcile(config, observed)),
                DeployRequest::Delete => DeployStep::Nothing,
                DeployRequest::Refuse(why) => DeployStep::Refuse(why.clone()),
            },
        },
    }
}

fn follow(signal: &AsgSignal, observed: &Observed) -> Plan {
    let instances = &observed.instances;
    match signal {
        AsgSignal::Launch {
            into_service: false,
            instance_id,
        } => Plan::Ignore {
            instance_id: instance_id.clone(),
            why: format!("{instance_id} launched into the warm pool, not into service"),
        },
        AsgSignal::Launch { instance_id, .. } => match stale_launch(instances, instance_id) {
            Some(why) => Plan::Ignore {
                instance_id: instance_id.clone(),
                why,
            },
            None => Plan::StartService {
                instance_id: instance_id.clone(),
            },
        },
        AsgSignal::Terminate(action) => {
            let successor = another_instance_serving(instances, &action.instance_id);
            let release = match (&successor, &observed.container_instance) {
                (None, _) => Release::StopService,
                (Some(_), Some(arn)) => Release::DrainContainerInstance(arn.clone()),
                (Some(_), None) => Release::Nothing,
            };
            Plan::Terminate(Terminate {
                action: action.clone(),
                release,
                wait_for: observed.container_instance.clone(),
                successor,
            })
        }
    }
}

/// The group as it is decides, whatever events were missed:
/// - the service's desired count is 1 if the group has an InService instance, and 0
///   if it has none that is InService or Pending; while an instance is only Pending,
///   the count is left as it is (its launch event follows it, or the next run does);
/// - an instance in Terminating:Wait that has none of the service's tasks left gets
///   its action on `LIFECYCLE_HOOK_NAME` completed; one whose task still runs is left
///   to its terminate event's drain (a scheduled run never waits).
pub fn reconcile(config: &Config, observed: &Observed) -> Reconcile {
    let mut notes = Vec::new();
    let in_service = observed
        .instances
        .iter()
        .find(|(_, state)| is_in_service(state))
        .map(|(id, _)| id.clone());
    let pending = observed
        .instances
        .iter()
        .find(|(_, state)| is_pending(state))
        .map(|(id, _)| id.clone());
    let wanted = match (&in_service, &pending) {
        (Some(_), _) => Some(1),
        (None, Some(id)) => {
            notes.push(format!(
                "{id} is {}: the service keeps its desired count {} until it is InService",
                state_of(observed, id),
                observed.service_desired
            ));
            None
        }
        (None, None) => Some(0),
    };
    let set_desired = wanted.filter(|&count| count != observed.service_desired);
    let mut done = Vec::new();
    for leaving in &observed.leaving {
        let id = &leaving.instance_id;
        if !leaving.tasks.is_empty() {
            notes.push(format!(
                "{id} is {TERMINATING_WAIT} and the service's task {} still runs there: \
                 left to its terminate event's drain",
                leaving.tasks.join(", ")
            ));
        } else if config.lifecycle_hook.is_none() {
            notes.push(format!(
                "{id} is {TERMINATING_WAIT} with no task left, but LIFECYCLE_HOOK_NAME is not \
                 set: its action is left to its event or the hook's timeout"
            ));
        } else {
            done.push(id.clone());
        }
    }
    let complete = config
        .lifecycle_hook
        .clone()
        .filter(|_| !done.is_empty())
        .map(|hook| (hook, done));
    if set_desired.is_none() && complete.is_none() && notes.is_empty() {
        notes.push(match &in_service {
            Some(id) => {
                format!("nothing to fix: {id} is InService and the service's desired count is 1")
            }
            None => "nothing to fix: no instance is InService and the service's desired count is 0"
                .to_string(),
        });
    }
    Reconcile {
        set_desired,
        complete,
        in_service,
        found: Found {
            instances: observed.instances.iter().cloned().collect(),
            service_desired: observed.service_desired,
        },
        notes,
    }
}

fn state_of<'a>(observed: &'a Observed, instance_id: &str) -> &'a str {
    observed
        .instances
        .iter()
        .find(|(id, _)| id == instance_id)
        .map(|(_, state)| state.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use cm_core::asg_event::AsgEvent;

    use super::*;

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:container-instance/c/1";

    fn config() -> Config {
        Config {
            asg_name: "g".into(),
            cluster: "c".into(),
            service: "s".into(),
            drain_timeout: Duration::from_secs(300),
            drain_poll: Duration::from_secs(5),
            lifecycle_hook: Some("drain".into()),
        }
    }

    fn launch(into_service: bool) -> Input {
        Input::Group(AsgEvent {
            group: "g".into(),
            signal: AsgSignal::Launch {
                instance_id: "i-1".into(),
                into_service,
            },
        })
    }

    fn action() -> LifecycleAction {
        LifecycleAction {
            hook_name: "drain".into(),
            token: "t".into(),
            instance_id: "i-old".into(),
        }
    }

    fn terminate() -> Input {
        Input::Group(AsgEvent {
            group: "g".into(),
            signal: AsgSignal::Terminate(action()),
        })
    }

    fn observed(instances: &[(&str, &str)], container_instance: Option<&str>) -> Observed {
        Observed {
            instances: instances
                .iter()
                .map(|(i, s)| (i.to_string(), s.to_string()))
                .collect(),
            container_instance: container_instance.map(str::to_string),
            ..Observed::default()
        }
    }

    #[test]
    fn a_launch_into_service_starts_the_service() {
        for state in ["InService", "Pending", "Pending:Wait"] {
            assert_eq!(
                decide(&config(), &launch(true), &observed(&[("i-1", state)], None)),
                Plan::StartService {
                    instance_id: "i-1".into()
                },
                "{state}"
            );
        }
    }

    #[test]
    fn a_launch_into_the_warm_pool_is_ignored_whatever_the_group() {
        for seen in [
            Observed::default(),
            observed(&[("i-1", "Warmed:Stopped")], None),
        ] {
            let plan = decide(&config(), &launch(false), &seen);
            assert!(
                matches!(&plan, Plan::Ignore { instance_id, why }
                    if instance_id == "i-1" && why.contains("warm pool")),
                "{plan:?}"
            );
        }
    }

    #[test]
    fn a_stale_launch_changes_nothing() {
        for (seen, expected) in [
            (
                observed(&[("i-2", "InService")], None),
                "no longer in the group",
            ),
            (
                observed(&[("i-1", "Terminating:Wait")], None),
                "is Terminating:Wait",
            ),
            (Observed::default(), "no longer in the group"),
        ] {
            let plan = decide(&config(), &launch(true), &seen);
            assert!(
                matches!(&plan, Plan::Ignore { why, .. }
                    if why.starts_with("stale launch") && why.contains(expected)),
                "{plan:?}"
            );
        }
    }

    #[test]
    fn a_lone_terminating_instance_stops_the_service_and_waits_for_its_tasks() {
        let plan = decide(
            &config(),
            &terminate(),
            &observed(&[("i-old", "Terminating:Wait")], Some(ARN)),
        );
        assert_eq!(
            plan,
            Plan::Terminate(Terminate {
                action: action(),
                release: Release::StopService,
                wait_for: Some(ARN.into()),
                successor: None,
            })
        );
    }

    #[test]
    fn a_lone_instance_that_never_registered_stops_the_service_and_waits_for_nothing() {
        let plan = decide(
            &config(),
            &terminate(),
            &observed(&[("i-old", "Terminating:Wait")], None),
        );
        let Plan::Terminate(t) = plan else {
            panic!("{plan:?}")
        };
        assert_eq!((t.release, t.wait_for), (Release::StopService, None));
    }

    #[test]
    fn a_successor_keeps_the_service_and_the_old_container_instance_is_drained() {
        for successor_state in ["Pending", "Pending:Wait", "InService"] {
            let plan = decide(
                &config(),
                &terminate(),
                &observed(
                    &[("i-old", "Terminating:Wait"), ("i-new", successor_state)],
                    Some(ARN),
                ),
            );
            assert_eq!(
                plan,
                Plan::Terminate(Terminate {
                    action: action(),
                    release: Release::DrainContainerInstance(ARN.into()),
                    wait_for: Some(ARN.into()),
                    successor: Some("i-new".into()),
                }),
                "{successor_state}"
            );
        }
    }

    #[test]
    fn a_successor_of_an_unregistered_instance_leaves_nothing_to_release() {
        let plan = decide(
            &config(),
            &terminate(),
            &observed(
                &[("i-old", "Terminating:Wait"), ("i-new", "InService")],
                None,
            ),
        );
        let Plan::Terminate(t) = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(
            (t.release, t.wait_for, t.successor.as_deref()),
            (Release::Nothing, None, Some("i-new"))
        );
    }

    #[test]
    fn instances_leaving_or_warm_are_no_successor() {
        let plan = decide(
            &config(),
            &terminate(),
            &observed(
                &[
                    ("i-old", "Terminating:Wait"),
                    ("i-gone", "Terminating:Proceed"),
                    ("i-warm", "Warmed:Stopped"),
                ],
                Some(ARN),
            ),
        );
        let Plan::Terminate(t) = plan else {
            panic!("{plan:?}")
        };
        assert_eq!((t.release, t.successor), (Release::StopService, None));
    }

    #[test]
    fn a_terminate_of_an_instance_no_longer_in_the_group_still_completes_its_action() {
        let plan = decide(&config(), &terminate(), &Observed::default());
        let Plan::Terminate(t) = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(t.action, action());
        assert_eq!(t.release, Release::StopService);
    }

    // ------------------------------------------------------- scheduled runs

    fn tick() -> Input {
        Input::Reconcile(crate::parse::Schedule::default())
    }

    fn group_with(instances: &[(&str, &str)], service_desired: i32) -> Observed {
        Observed {
            service_desired,
            ..observed(instances, None)
        }
    }

    fn leaving(instance: &str, tasks: &[&str]) -> Leaving {
        Leaving {
            instance_id: instance.into(),
            container_instance: Some(ARN.into()),
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn reconciled(config: &Config, seen: &Observed) -> Reconcile {
        match decide(config, &tick(), seen) {
            Plan::Reconcile(r) => r,
            other => panic!("a scheduled run's plan: {other:?}"),
        }
    }

    #[test]
    fn an_in_service_instance_needs_the_service_at_one() {
        for before in [0, 2] {
            let r = reconciled(&config(), &group_with(&[("i-1", "InService")], before));
            assert_eq!(r.set_desired, Some(1), "from {before}");
            assert_eq!(r.in_service.as_deref(), Some("i-1"));
            assert_eq!(r.complete, None);
            assert!(r.notes.is_empty(), "{:?}", r.notes);
        }
    }

    #[test]
    fn no_instance_serving_needs_the_service_at_zero() {
        for instances in [
            vec![],
            vec![("i-1", "Terminating:Proceed")],
            vec![("i-1", "Warmed:Stopped")],
            vec![("i-1", "Standby")],
        ] {
            let r = reconciled(&config(), &group_with(&instances, 1));
            assert_eq!(r.set_desired, Some(0), "{instances:?}");
            assert_eq!(r.in_service, None);
        }
    }

    #[test]
    fn a_group_as_it_should_be_needs_nothing_and_says_so() {
        for (instances, desired, says) in [
            (vec![("i-1", "InService")], 1, "i-1 is InService"),
            (vec![], 0, "no instance is InService"),
        ] {
            let r = reconciled(&config(), &group_with(&instances, desired));
            assert_eq!((r.set_desired, r.complete.clone()), (None, None));
            assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
            assert!(
                r.notes[0].starts_with("nothing to fix") && r.notes[0].contains(says),
                "{:?}",
                r.notes
            );
            assert_eq!(r.found.service_desired, desired);
            assert_eq!(r.found.instances.len(), instances.len());
        }
    }

    #[test]
    fn a_pending_instance_leaves_the_count_as_it_is() {
        for before in [0, 1] {
            let r = reconciled(&config(), &group_with(&[("i-1", "Pending:Wait")], before));
            assert_eq!(r.set_desired, None, "from {before}");
            assert!(
                r.notes[0].contains("i-1 is Pending:Wait")
                    && r.notes[0].contains("until it is InService"),
                "{:?}",
                r.notes
            );
        }
        // InService wins over a Pending one.
        let r = reconciled(
            &config(),
            &group_with(&[("i-2", "Pending"), ("i-1", "InService")], 0),
        );
        assert_eq!(
            (r.set_desired, r.in_service.as_deref()),
            (Some(1), Some("i-1"))
        );
    }

    #[test]
    fn a_terminating_instance_without_a_task_gets_its_action_completed() {
        let seen = Observed {
            leaving: vec![leaving("i-old", &[])],
            ..group_with(&[("i-old", "Terminating:Wait")], 0)
        };
        let r = reconciled(&config(), &seen);
        assert_eq!(r.set_desired, None);
        assert_eq!(r.complete, Some(("drain".into(), vec!["i-old".into()])));
        assert!(r.notes.is_empty(), "{:?}", r.notes);

        // The service was left at 1 (a missed terminate): it goes to 0 as well.
        let seen = Observed {
            service_desired: 1,
            ..seen
        };
        let r = reconciled(&config(), &seen);
        assert_eq!(r.set_desired, Some(0));
        assert!(r.complete.is_some());
    }

    #[test]
    fn a_terminating_instance_whose_task_runs_is_left_to_its_drain() {
        let seen = Observed {
            leaving: vec![leaving("i-old", &["arn:task/1"])],
            ..group_with(&[("i-old", "Terminating:Wait")], 0)
        };
        let r = reconciled(&config(), &seen);
        assert_eq!((r.set_desired, r.complete), (None, None));
        assert!(
            r.notes[0].contains("i-old is Terminating:Wait")
                && r.notes[0].contains("arn:task/1 still runs"),
            "{:?}",
            r.notes
        );
        // Its task stops with the service's count, as a terminate event would begin.
        let r = reconciled(
            &config(),
            &Observed {
                service_desired: 1,
                ..seen
            },
        );
        assert_eq!((r.set_desired, r.complete), (Some(0), None));
    }

    #[test]
    fn a_successor_keeps_the_service_while_the_old_instance_is_completed() {
        let seen = Observed {
            leaving: vec![leaving("i-old", &[])],
            ..group_with(&[("i-old", "Terminating:Wait"), ("i-new", "InService")], 1)
        };
        let r = reconciled(&config(), &seen);
        assert_eq!(r.set_desired, None);
        assert_eq!(r.complete, Some(("drain".into(), vec!["i-old".into()])));
        assert_eq!(r.in_service.as_deref(), Some("i-new"));
    }

    #[test]
    fn without_the_hook_configured_a_waiting_action_is_only_reported() {
        let config = Config {
            lifecycle_hook: None,
            ..config()
        };
        let seen = Observed {
            leaving: vec![leaving("i-old", &[])],
            ..group_with(&[("i-old", "Terminating:Wait")], 0)
        };
        let r = reconciled(&config, &seen);
        assert_eq!((r.set_desired, r.complete), (None, None));
        assert!(
            r.notes[0].contains("LIFECYCLE_HOOK_NAME is not set"),
            "{:?}",
            r.notes
        );
    }
}
