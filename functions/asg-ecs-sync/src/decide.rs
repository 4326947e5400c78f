//! The pure part: what an ASG event means for the ECS service.

use cm_core::asg_event::{
    another_instance_serving, stale_launch, AsgEvent, AsgSignal, LifecycleAction,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Ignore {
        why: String,
    },
    /// An instance launched into the group: the service runs one task.
    StartService,
    /// An instance is terminating: stop the service (unless `successor` needs it),
    /// drain, then complete the lifecycle action.
    Terminate {
        action: LifecycleAction,
        stop_service: bool,
        successor: Option<String>,
    },
}

/// `instances`: the group's (instance id, lifecycle state) pairs as they are now
/// (`None` when they were not read). A launch of an instance that already left the
/// group is stale (delivered late or twice) and changes nothing.
pub fn decide(event: &AsgEvent, instances: Option<&[(String, String)]>) -> Plan {
    match &event.signal {
        AsgSignal::Launch {
            into_service: false,
            instance_id,
        } => Plan::Ignore {
            why: format!("{instance_id} launched into the warm pool, not into service"),
        },
        AsgSignal::Launch { instance_id, .. } => {
            let stale = instances.and_then(|list| {
                stale_launch(
                    list.iter().map(|(i, s)| (i.as_str(), s.as_str())),
                    instance_id,
                )
            });
            match stale {
                Some(why) => Plan::Ignore { why },
                None => Plan::StartService,
            }
        }
        AsgSignal::Terminate(action) => {
            let successor = instances.and_then(|list| {
                another_instance_serving(
                    list.iter().map(|(i, s)| (i.as_str(), s.as_str())),
                    &action.instance_id,
                )
            });
            Plan::Terminate {
                action: action.clone(),
                stop_service: successor.is_none(),
                successor,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminate() -> AsgEvent {
        AsgEvent {
            group: "g".into(),
            signal: AsgSignal::Terminate(LifecycleAction {
                hook_name: "drain".into(),
                token: "t".into(),
                instance_id: "i-old".into(),
            }),
        }
    }

    #[test]
    fn a_launch_into_service_starts_the_service_and_into_the_warm_pool_does_not() {
        let launch = |into_service| AsgEvent {
            group: "g".into(),
            signal: AsgSignal::Launch {
                instance_id: "i-1".into(),
                into_service,
            },
        };
        assert_eq!(decide(&launch(true), None), Plan::StartService);
        assert!(matches!(decide(&launch(false), None), Plan::Ignore { .. }));
        let serving = vec![("i-1".to_string(), "InService".to_string())];
        assert_eq!(decide(&launch(true), Some(&serving)), Plan::StartService);
    }

    #[test]
    fn a_stale_launch_changes_nothing() {
        let launch = AsgEvent {
            group: "g".into(),
            signal: AsgSignal::Launch {
                instance_id: "i-1".into(),
                into_service: true,
            },
        };
        let gone = vec![("i-2".to_string(), "InService".to_string())];
        let leaving = vec![("i-1".to_string(), "Terminating:Wait".to_string())];
        for list in [gone, leaving] {
            assert!(
                matches!(decide(&launch, Some(&list)), Plan::Ignore { ref why } if why.starts_with("stale launch")),
                "{list:?}"
            );
        }
    }

    #[test]
    fn a_lone_terminating_instance_stops_the_service() {
        let list = vec![("i-old".to_string(), "Terminating:Wait".to_string())];
        let Plan::Terminate {
            stop_service,
            successor,
            ..
        } = decide(&terminate(), Some(&list))
        else {
            panic!()
        };
        assert!(stop_service);
        assert_eq!(successor, None);
    }

    #[test]
    fn a_successor_keeps_the_service_running() {
        let list = vec![
            ("i-old".to_string(), "Terminating:Wait".to_string()),
            ("i-new".to_string(), "Pending".to_string()),
        ];
        let Plan::Terminate {
            stop_service,
            successor,
            ..
        } = decide(&terminate(), Some(&list))
        else {
            panic!()
        };
        assert!(!stop_service);
        assert_eq!(successor.as_deref(), Some("i-new"));
    }
}
