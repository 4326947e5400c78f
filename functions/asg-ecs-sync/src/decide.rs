//! The pure part: what an ASG event means for the ECS service, given the group and
//! the cluster as they were just read.

use cm_core::asg_event::{another_instance_serving, stale_launch, AsgSignal, LifecycleAction};

use crate::config::Config;
use crate::parse::Input;

/// What was read before deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// (instance id, lifecycle state) of every instance of the group as it is now.
    /// Not read for a launch into the warm pool (left empty).
    pub instances: Vec<(String, String)>,
    /// The ECS container instance (ARN) of a terminating instance, if it registered
    /// in the cluster.
    pub container_instance: Option<String>,
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

/// A launch into the warm pool is ignored. A launch whose instance is no longer
/// Pending or InService in the group is stale (delivered late or twice) and changes
/// nothing. A terminate always ends with the lifecycle action completed.
pub fn decide(_config: &Config, input: &Input, observed: &Observed) -> Plan {
    let instances = || {
        observed
            .instances
            .iter()
            .map(|(id, state)| (id.as_str(), state.as_str()))
    };
    match &input.signal {
        AsgSignal::Launch {
            into_service: false,
            instance_id,
        } => Plan::Ignore {
            instance_id: instance_id.clone(),
            why: format!("{instance_id} launched into the warm pool, not into service"),
        },
        AsgSignal::Launch { instance_id, .. } => match stale_launch(instances(), instance_id) {
            Some(why) => Plan::Ignore {
                instance_id: instance_id.clone(),
                why,
            },
            None => Plan::StartService {
                instance_id: instance_id.clone(),
            },
        },
        AsgSignal::Terminate(action) => {
            let successor = another_instance_serving(instances(), &action.instance_id);
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
        }
    }

    fn launch(into_service: bool) -> Input {
        AsgEvent {
            group: "g".into(),
            signal: AsgSignal::Launch {
                instance_id: "i-1".into(),
                into_service,
            },
        }
    }

    fn action() -> LifecycleAction {
        LifecycleAction {
            hook_name: "drain".into(),
            token: "t".into(),
            instance_id: "i-old".into(),
        }
    }

    fn terminate() -> Input {
        AsgEvent {
            group: "g".into(),
            signal: AsgSignal::Terminate(action()),
        }
    }

    fn observed(instances: &[(&str, &str)], container_instance: Option<&str>) -> Observed {
        Observed {
            instances: instances
                .iter()
                .map(|(i, s)| (i.to_string(), s.to_string()))
                .collect(),
            container_instance: container_instance.map(str::to_string),
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
}
