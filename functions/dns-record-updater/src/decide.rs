//! The pure part: which record changes an ASG event calls for.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use cm_core::asg_event::{another_instance_serving, stale_launch, AsgEvent, AsgSignal};
use cm_core::Error;

use crate::config::DnsConfig;

/// An instance's public addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Vec<Ipv6Addr>,
}

/// A record set as it is now in the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    pub name: String,
    /// `A` or `AAAA`.
    pub kind: String,
    pub ttl: i64,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeAction {
    Upsert,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: ChangeAction,
    pub record: RecordSet,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match self.action {
            ChangeAction::Upsert => "UPSERT",
            ChangeAction::Delete => "DELETE",
        };
        write!(
            f,
            "{action} {} {} {}",
            self.record.name,
            self.record.kind,
            self.record.values.join(",")
        )
    }
}

/// A message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `launch` or `terminate`: the SNS `event_type` attribute.
    pub event_type: String,
    pub subject: String,
    pub text: String,
}

/// What was read before deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The launched instance's addresses (launch only).
    pub addresses: Option<Addresses>,
    /// The A and AAAA record sets of the name, as they are.
    pub records: Vec<RecordSet>,
    /// The group's (instance id, lifecycle state) pairs (terminate only).
    pub group_instances: Option<Vec<(String, String)>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub event: &'static str,
    /// One atomic change batch; empty when the zone already says the right thing.
    pub changes: Vec<Change>,
    /// Sent only when something changed.
    pub message: Option<Message>,
    pub note: Option<String>,
}

fn current<'a>(facts: &'a Facts, kind: &str) -> Option<&'a RecordSet> {
    facts.records.iter().find(|r| r.kind == kind)
}

fn upsert_if_different(
    facts: &Facts,
    config: &DnsConfig,
    kind: &str,
    values: Vec<String>,
) -> Option<Change> {
    let wanted = RecordSet {
        name: config.domain_name.clone(),
        kind: kind.into(),
        ttl: config.ttl,
        values,
    };
    let same = current(facts, kind).is_some_and(|now| {
        let (mut a, mut b) = (now.values.clone(), wanted.values.clone());
        a.sort();
        b.sort();
        now.ttl == wanted.ttl && a == b
    });
    (!same).then_some(Change {
        action: ChangeAction::Upsert,
        record: wanted,
    })
}

pub fn decide(config: &DnsConfig, event: &AsgEvent, facts: &Facts) -> Result<Plan, Error> {
    let name = &config.container_name;
    match &event.signal {
        AsgSignal::Launch {
            into_service: false,
            instance_id,
        } => Ok(Plan {
            event: "ignored",
            changes: Vec::new(),
            message: None,
            note: Some(format!(
                "{instance_id} launched into the warm pool, not into service"
            )),
        }),
        AsgSignal::Launch { instance_id, .. } => {
            // Checked first: an instance that already left has no address to give.
            let stale = facts.group_instances.as_deref().and_then(|group| {
                stale_launch(
                    group.iter().map(|(i, s)| (i.as_str(), s.as_str())),
                    instance_id,
                )
            });
            if let Some(why) = stale {
                return Ok(Plan {
                    event: "ignored",
                    changes: Vec::new(),
                    message: None,
                    note: Some(why),
                });
            }
            let addresses = facts.addresses.clone().unwrap_or_default();
            let ipv4 = addresses.ipv4.ok_or_else(|| Error::Aws {
                operation: format!("DescribeInstances {instance_id}"),
                message: format!(
                    "instance {instance_id} has no public IPv4 address: its subnet must assign public IPs \
                     (MapPublicIpOnLaunch); the record was left as it is"
                ),
            })?;
            let mut changes: Vec<Change> =
                upsert_if_different(facts, config, "A", vec![ipv4.to_string()])
                    .into_iter()
                    .collect();
            if !addresses.ipv6.is_empty() {
                let values = addresses.ipv6.iter().map(ToString::to_string).collect();
                changes.extend(upsert_if_different(facts, config, "AAAA", values));
            }
            let note = changes
                .is_empty()
                .then(|| format!("{} already points at {ipv4}", config.domain_name));
            Ok(Plan {
                event: "launch",
                message: (!changes.is_empty()).then(|| Message {
                    event_type: "launch".into(),
                    subject: format!("{name} is up"),
                    text: format!("{name} is up at {ipv4}"),
                }),
                changes,
                note,
            })
        }
        AsgSignal::Terminate(action) => {
            let group = facts.group_instances.as_deref().unwrap_or_default();
            if let Some(other) = another_instance_serving(
                group.iter().map(|(i, s)| (i.as_str(), s.as_str())),
                &action.instance_id,
            ) {
                return Ok(Plan {
                    event: "terminate",
                    changes: Vec::new(),
                    message: None,
                    note: Some(format!(
                        "instance {other} is Pending or InService: the record keeps its address"
                    )),
                });
            }
            let mut changes: Vec<Change> =
                upsert_if_different(facts, config, "A", vec![config.unavailable_ip.to_string()])
                    .into_iter()
                    .collect();
            if let Some(aaaa) = current(facts, "AAAA") {
                changes.push(Change {
                    action: ChangeAction::Delete,
                    record: aaaa.clone(),
                });
            }
            let note = changes.is_empty().then(|| {
                format!(
                    "{} already points at {}",
                    config.domain_name, config.unavailable_ip
                )
            });
            Ok(Plan {
                event: "terminate",
                message: (!changes.is_empty()).then(|| Message {
                    event_type: "terminate".into(),
                    subject: format!("{name} is shutting down"),
                    text: format!("{name} is shutting down"),
                }),
                changes,
                note,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_core::asg_event::LifecycleAction;

    fn config() -> DnsConfig {
        DnsConfig {
            asg_name: "g".into(),
            hosted_zone_id: "Z1".into(),
            domain_name: "mc.example.com".into(),
            record_type: "A".into(),
            ttl: 1,
            unavailable_ip: Ipv4Addr::UNSPECIFIED,
            sns_topic_arn: None,
            container_name: "mc".into(),
        }
    }

    fn launch() -> AsgEvent {
        AsgEvent {
            group: "g".into(),
            signal: AsgSignal::Launch {
                instance_id: "i-new".into(),
                into_service: true,
            },
        }
    }

    fn terminate() -> AsgEvent {
        AsgEvent {
            group: "g".into(),
            signal: AsgSignal::Terminate(LifecycleAction {
                hook_name: "h".into(),
                token: "t".into(),
                instance_id: "i-old".into(),
            }),
        }
    }

    fn record(kind: &str, value: &str) -> RecordSet {
        RecordSet {
            name: "mc.example.com".into(),
            kind: kind.into(),
            ttl: 1,
            values: vec![value.into()],
        }
    }

    #[test]
    fn a_launch_points_the_name_at_the_public_ipv4_and_ipv6() {
        let facts = Facts {
            addresses: Some(Addresses {
                ipv4: Some("203.0.113.7".parse().unwrap()),
                ipv6: vec!["2001:db8::7".parse().unwrap()],
            }),
            records: vec![record("A", "0.0.0.0")],
            group_instances: None,
        };
        let plan = decide(&config(), &launch(), &facts).unwrap();
        let shown: Vec<String> = plan.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "UPSERT mc.example.com A 203.0.113.7",
                "UPSERT mc.example.com AAAA 2001:db8::7"
            ]
        );
        assert_eq!(plan.message.unwrap().text, "mc is up at 203.0.113.7");
    }

    #[test]
    fn a_stale_launch_leaves_the_record_alone() {
        // Delivered after the instance left: it has no address any more either.
        for group in [
            vec![],
            vec![("i-new".to_string(), "Terminating:Wait".to_string())],
        ] {
            let facts = Facts {
                addresses: Some(Addresses::default()),
                records: vec![record("A", "0.0.0.0")],
                group_instances: Some(group),
            };
            let plan = decide(&config(), &launch(), &facts).unwrap();
            assert_eq!(plan.event, "ignored");
            assert!(plan.changes.is_empty() && plan.message.is_none());
            assert!(plan.note.unwrap().starts_with("stale launch"));
        }
    }

    #[test]
    fn a_launch_without_public_ipv4_is_an_error() {
        let facts = Facts {
            addresses: Some(Addresses::default()),
            ..Facts::default()
        };
        let err = decide(&config(), &launch(), &facts)
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no public IPv4 address"), "{err}");
    }

    #[test]
    fn a_repeated_launch_changes_nothing_and_says_nothing() {
        let facts = Facts {
            addresses: Some(Addresses {
                ipv4: Some("203.0.113.7".parse().unwrap()),
                ipv6: vec![],
            }),
            records: vec![record("A", "203.0.113.7")],
            group_instances: None,
        };
        let plan = decide(&config(), &launch(), &facts).unwrap();
        assert!(plan.changes.is_empty() && plan.message.is_none());
    }

    #[test]
    fn a_terminate_points_at_the_unavailable_ip_and_deletes_aaaa() {
        let facts = Facts {
            addresses: None,
            records: vec![record("A", "203.0.113.7"), record("AAAA", "2001:db8::7")],
            group_instances: Some(vec![("i-old".into(), "Terminating:Wait".into())]),
        };
        let plan = decide(&config(), &terminate(), &facts).unwrap();
        let shown: Vec<String> = plan.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "UPSERT mc.example.com A 0.0.0.0",
                "DELETE mc.example.com AAAA 2001:db8::7"
            ]
        );
        assert_eq!(plan.message.unwrap().text, "mc is shutting down");
    }

    #[test]
    fn a_terminate_with_a_successor_keeps_the_record() {
        let facts = Facts {
            addresses: None,
            records: vec![record("A", "203.0.113.8")],
            group_instances: Some(vec![
                ("i-old".into(), "Terminating:Wait".into()),
                ("i-new".into(), "InService".into()),
            ]),
        };
        let plan = decide(&config(), &terminate(), &facts).unwrap();
        assert!(plan.changes.is_empty());
        assert!(plan.note.unwrap().contains("i-new"));
    }
}
