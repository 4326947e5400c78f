//! decide: which record changes an ASG event, or a scheduled run, calls for, from
//! what was read before (the instance's addresses, the records, the group). Pure.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use cm_core::asg_event::{another_instance_serving, is_pending, stale_launch};
use cm_core::Error;
use serde::Serialize;

use crate::config::Config;
use crate::outcome::Event;
use crate::parse::Input;

/// An instance's public addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Vec<Ipv6Addr>,
}

/// The record types the DNS updater keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RecordType {
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record set, as it is in the zone or as it is to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSet {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: RecordType,
    pub ttl: i64,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeAction {
    Upsert,
    Delete,
}

/// One change of a change batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub action: ChangeAction,
    #[serde(flatten)]
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
pub struct Observed {
    /// The launched instance's public addresses (read for a launch into service).
    pub addresses: Addresses,
    /// The name's A and AAAA record sets, as they are.
    pub records: Vec<RecordSet>,
    /// The group's (instance id, lifecycle state) pairs, as they are.
    pub group: Vec<(String, String)>,
    /// The public addresses of each InService instance of the group, in the group's
    /// order (a scheduled run reads them).
    pub serving: Vec<(String, Addresses)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to write, and why.
    Nothing { event: Event, note: String },
    /// One atomic change batch (never empty), then the message when a topic is set.
    Change {
        event: Event,
        changes: Vec<Change>,
        message: Message,
    },
    /// A scheduled run: what it found, and what to do about it.
    Reconcile(Reconcile),
}

impl Plan {
    pub fn event(&self) -> Event {
        match self {
            Plan::Nothing { event, .. } | Plan::Change { event, .. } => *event,
            Plan::Reconcile(_) => Event::Reconcile,
        }
    }
}

/// A scheduled run's plan. No changes: nothing to fix, and nothing is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconcile {
    /// The InService instance the name points at, if the group has one.
    pub instance_id: Option<String>,
    /// One atomic change batch (never empty), then the message when a topic is set;
    /// `None` when the zone already says the right thing.
    pub change: Option<(Vec<Change>, Message)>,
    /// Why nothing is changed, when nothing is.
    pub note: Option<String>,
    pub found: Found,
}

/// What a scheduled run found, as its outcome reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The lifecycle state of each instance of the group.
    pub instances: BTreeMap<String, String>,
    /// The name's A and AAAA record sets before the run.
    pub records: Vec<RecordSet>,
}

fn current(observed: &Observed, kind: RecordType) -> Option<&RecordSet> {
    observed.records.iter().find(|r| r.kind == kind)
}

/// An UPSERT to `values`, unless the record set already has them (in any order) and
/// the configured TTL.
fn upsert_if_different(
    observed: &Observed,
    config: &Config,
    kind: RecordType,
    values: Vec<String>,
) -> Option<Change> {
    let wanted = RecordSet {
        name: config.domain_name.clone(),
        kind,
        ttl: config.ttl,
        values,
    };
    let same = current(observed, kind).is_some_and(|now| {
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

/// The changes that point the name at `addresses`: A to its IPv4; AAAA to its IPv6
/// addresses, or, when it has none, the AAAA record deleted as it is (an earlier
/// instance's IPv6 must not outlive it).
fn point_at(
    config: &Config,
    observed: &Observed,
    ipv4: Ipv4Addr,
    ipv6: &[Ipv6Addr],
) -> Vec<Change> {
    let mut changes: Vec<Change> =
        upsert_if_different(observed, config, RecordType::A, vec![ipv4.to_string()])
            .into_iter()
            .collect();
    if ipv6.is_empty() {
        changes.extend(delete_aaaa(observed));
    } else {
        let values = ipv6.iter().map(ToString::to_string).collect();
        changes.extend(upsert_if_different(
            observed,
            config,
            RecordType::Aaaa,
            values,
        ));
    }
    changes
}

/// The changes that point the name at the unavailable IP: A to `UNAVAILABLE_IP`, and
/// the AAAA record deleted.
fn point_away(config: &Config, observed: &Observed) -> Vec<Change> {
    let mut changes: Vec<Change> = upsert_if_different(
        observed,
        config,
        RecordType::A,
        vec![config.unavailable_ip.to_string()],
    )
    .into_iter()
    .collect();
    changes.extend(delete_aaaa(observed));
    changes
}

/// The AAAA record's DELETE, if there is one: as it is, since Route 53 deletes a
/// record set only when the TTL and values match.
fn delete_aaaa(observed: &Observed) -> Option<Change> {
    current(observed, RecordType::Aaaa).map(|aaaa| Change {
        action: ChangeAction::Delete,
        record: aaaa.clone(),
    })
}

fn no_public_ipv4(instance_id: &str) -> Error {
    Error::Aws {
        operation: format!("DescribeInstances {instance_id}"),
        message: format!(
            "instance {instance_id} has no public IPv4 address: its subnet must assign public IPs \
             (MapPublicIpOnLaunch); the record was left as it is"
        ),
    }
}

fn up_message(config: &Config, ipv4: Ipv4Addr) -> Message {
    let name = &config.container_name;
    Message {
        event_type: Event::Launch.as_str().into(),
        subject: format!("{name} is up"),
        text: format!("{name} is up at {ipv4}"),
    }
}

/// The plan for `input`, given what was read. An instance launched into service (or,
/// for a scheduled run, InService) without a public IPv4 address is an error: the
/// name cannot follow it.
pub fn decide(config: &Config, input: &Input, observed: &Observed) -> Result<Plan, Error> {
    let name = &config.container_name;
    match input {
        Input::WarmPoolLaunch { instance_id } => Ok(Plan::Nothing {
            event: Event::Ignored,
            note: format!("{instance_id} launched into the warm pool, not into service"),
        }),
        Input::Launch { instance_id } => {
            // Checked first: an instance that already left has no address to give.
            if let Some(why) = stale_launch(&observed.group, instance_id) {
                return Ok(Plan::Nothing {
                    event: Event::Ignored,
                    note: why,
                });
            }
            let addresses = &observed.addresses;
            let ipv4 = addresses.ipv4.ok_or_else(|| no_public_ipv4(instance_id))?;
            let changes = point_at(config, observed, ipv4, &addresses.ipv6);
            if changes.is_empty() {
                return Ok(Plan::Nothing {
                    event: Event::Launch,
                    note: format!("{} already points at {ipv4}", config.domain_name),
                });
            }
            Ok(Plan::Change {
                event: Event::Launch,
                changes,
                message: up_message(config, ipv4),
            })
        }
        Input::Terminate { instance_id } => {
            if let Some(other) = another_instance_serving(&observed.group, instance_id) {
                return Ok(Plan::Nothing {
                    event: Event::Terminate,
                    note: format!(
                        "instance {other} is Pending or InService: the record keeps its address"
                    ),
                });
            }
            let changes = point_away(config, observed);
            if changes.is_empty() {
                return Ok(Plan::Nothing {
                    event: Event::Terminate,
                    note: format!(
                        "{} already points at {}",
                        config.domain_name, config.unavailable_ip
                    ),
                });
            }
            Ok(Plan::Change {
                event: Event::Terminate,
                changes,
                message: Message {
                    event_type: Event::Terminate.as_str().into(),
                    subject: format!("{name} is shutting down"),
                    text: format!("{name} is shutting down"),
                },
            })
        }
        Input::Reconcile { .. } => reconcile(config, observed).map(Plan::Reconcile),
    }
}

/// The group as it is decides, whatever events were missed: with an InService
/// instance, A (and AAAA) are its public addresses (the one the A record already
/// names, if several are InService); with none InService or Pending, A is the
/// unavailable IP and there is no AAAA; while an instance is only Pending, the records
/// are left to its launch event (or the next run).
pub fn reconcile(config: &Config, observed: &Observed) -> Result<Reconcile, Error> {
    let found = Found {
        instances: observed.group.iter().cloned().collect(),
        records: observed.records.clone(),
    };
    let named = current(observed, RecordType::A).map(|a| a.values.clone());
    let target = observed
        .serving
        .iter()
        .find(|(_, addresses)| {
            addresses
                .ipv4
                .is_some_and(|ip| named.as_ref().is_some_and(|v| v.contains(&ip.to_string())))
        })
        .or_else(|| observed.serving.first());
    let domain = &config.domain_name;
    let nothing = |instance_id: Option<String>, note: String, found: Found| Reconcile {
        instance_id,
        change: None,
        note: Some(note),
        found,
    };
    if let Some((instance_id, addresses)) = target {
        let ipv4 = addresses.ipv4.ok_or_else(|| no_public_ipv4(instance_id))?;
        let changes = point_at(config, observed, ipv4, &addresses.ipv6);
        if changes.is_empty() {
            return Ok(nothing(
                Some(instance_id.clone()),
                format!("nothing to fix: {domain} points at {instance_id}, InService at {ipv4}"),
                found,
            ));
        }
        return Ok(Reconcile {
            instance_id: Some(instance_id.clone()),
            change: Some((changes, up_message(config, ipv4))),
            note: None,
            found,
        });
    }
    if let Some((pending, state)) = observed.group.iter().find(|(_, s)| is_pending(s)) {
        return Ok(nothing(
            None,
            format!("{pending} is {state}: the records are left as they are until it is InService"),
            found,
        ));
    }
    let changes = point_away(config, observed);
    if changes.is_empty() {
        return Ok(nothing(
            None,
            format!(
                "nothing to fix: no instance is InService and {domain} points at {}",
                config.unavailable_ip
            ),
            found,
        ));
    }
    let name = &config.container_name;
    let message = Message {
        event_type: Event::Terminate.as_str().into(),
        subject: format!("{name} is down"),
        text: format!("{name} is down"),
    };
    Ok(Reconcile {
        instance_id: None,
        change: Some((changes, message)),
        note: None,
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
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

    fn launch() -> Input {
        Input::Launch {
            instance_id: "i-new".into(),
        }
    }

    fn terminate() -> Input {
        Input::Terminate {
            instance_id: "i-old".into(),
        }
    }

    fn record(kind: RecordType, value: &str) -> RecordSet {
        RecordSet {
            name: "mc.example.com".into(),
            kind,
            ttl: 1,
            values: vec![value.into()],
        }
    }

    fn group(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(i, s)| (i.to_string(), s.to_string()))
            .collect()
    }

    fn addresses(ipv4: Option<&str>, ipv6: &[&str]) -> Addresses {
        Addresses {
            ipv4: ipv4.map(|ip| ip.parse().unwrap()),
            ipv6: ipv6.iter().map(|ip| ip.parse().unwrap()).collect(),
        }
    }

    /// What a launch of i-new, in service, sees.
    fn launched(ipv4: Option<&str>, ipv6: &[&str], records: Vec<RecordSet>) -> Observed {
        Observed {
            addresses: addresses(ipv4, ipv6),
            records,
            group: group(&[("i-new", "InService")]),
            serving: Vec::new(),
        }
    }

    fn shown(plan: &Plan) -> Vec<String> {
        match plan {
            Plan::Change { changes, .. }
            | Plan::Reconcile(Reconcile {
                change: Some((changes, _)),
                ..
            }) => changes.iter().map(ToString::to_string).collect(),
            Plan::Nothing { .. } | Plan::Reconcile(_) => Vec::new(),
        }
    }

    fn message(plan: &Plan) -> Option<&Message> {
        match plan {
            Plan::Change { message, .. } => Some(message),
            Plan::Reconcile(r) => r.change.as_ref().map(|(_, message)| message),
            Plan::Nothing { .. } => None,
        }
    }

    fn note(plan: &Plan) -> Option<&str> {
        match plan {
            Plan::Nothing { note, .. } => Some(note),
            Plan::Reconcile(r) => r.note.as_deref(),
            Plan::Change { .. } => None,
        }
    }

    #[test]
    fn a_launch_points_the_name_at_the_public_ipv4_and_ipv6() {
        let observed = launched(
            Some("203.0.113.7"),
            &["2001:db8::7"],
            vec![record(RecordType::A, "0.0.0.0")],
        );
        let plan = decide(&config(), &launch(), &observed).unwrap();
        assert_eq!(plan.event(), Event::Launch);
        assert_eq!(
            shown(&plan),
            vec![
                "UPSERT mc.example.com A 203.0.113.7",
                "UPSERT mc.example.com AAAA 2001:db8::7"
            ]
        );
        assert_eq!(
            message(&plan),
            Some(&Message {
                event_type: "launch".into(),
                subject: "mc is up".into(),
                text: "mc is up at 203.0.113.7".into(),
            })
        );
    }

    #[test]
    fn a_launch_into_a_zone_without_the_record_creates_it_with_the_configured_ttl() {
        let config = Config {
            ttl: 60,
            ..config()
        };
        let plan = decide(
            &config,
            &launch(),
            &launched(Some("203.0.113.7"), &[], vec![]),
        )
        .unwrap();
        let Plan::Change { changes, .. } = plan else {
            panic!("a change: {plan:?}")
        };
        assert_eq!(
            changes,
            vec![Change {
                action: ChangeAction::Upsert,
                record: RecordSet {
                    name: "mc.example.com".into(),
                    kind: RecordType::A,
                    ttl: 60,
                    values: vec!["203.0.113.7".into()],
                },
            }]
        );
    }

    #[test]
    fn a_launch_while_pending_is_followed() {
        let observed = Observed {
            group: group(&[("i-new", "Pending:Wait")]),
            ..launched(Some("203.0.113.7"), &[], vec![])
        };
        let plan = decide(&config(), &launch(), &observed).unwrap();
        assert_eq!(shown(&plan), vec!["UPSERT mc.example.com A 203.0.113.7"]);
    }

    #[test]
    fn a_stale_launch_leaves_the_record_alone() {
        // Delivered after the instance left: it has no address any more either.
        for group in [vec![], group(&[("i-new", "Terminating:Wait")])] {
            let observed = Observed {
                addresses: Addresses::default(),
                records: vec![record(RecordType::A, "0.0.0.0")],
                group,
                serving: Vec::new(),
            };
            let plan = decide(&config(), &launch(), &observed).unwrap();
            assert_eq!(plan.event(), Event::Ignored);
            assert!(message(&plan).is_none());
            assert!(note(&plan).unwrap().starts_with("stale launch"), "{plan:?}");
        }
    }

    #[test]
    fn a_launch_into_the_warm_pool_is_ignored_whatever_was_read() {
        let input = Input::WarmPoolLaunch {
            instance_id: "i-new".into(),
        };
        let plan = decide(&config(), &input, &Observed::default()).unwrap();
        assert_eq!(
            plan,
            Plan::Nothing {
                event: Event::Ignored,
                note: "i-new launched into the warm pool, not into service".into(),
            }
        );
    }

    #[test]
    fn a_launch_without_public_ipv4_is_an_error() {
        let observed = launched(None, &["2001:db8::7"], vec![]);
        let err = decide(&config(), &launch(), &observed).unwrap_err();
        assert!(matches!(err, Error::Aws { .. }), "{err:?}");
        let err = err.to_string();
        assert!(err.starts_with("DescribeInstances i-new failed"), "{err}");
        assert!(err.contains("has no public IPv4 address"), "{err}");
        assert!(err.contains("MapPublicIpOnLaunch"), "{err}");
    }

    #[test]
    fn a_repeated_launch_changes_nothing_and_says_nothing() {
        let observed = launched(
            Some("203.0.113.7"),
            &["2001:db8::7"],
            vec![
                record(RecordType::A, "203.0.113.7"),
                record(RecordType::Aaaa, "2001:db8::7"),
            ],
        );
        let plan = decide(&config(), &launch(), &observed).unwrap();
        assert_eq!(
            plan,
            Plan::Nothing {
                event: Event::Launch,
                note: "mc.example.com already points at 203.0.113.7".into(),
            }
        );
    }

    #[test]
    fn only_the_record_that_differs_is_changed() {
        let observed = launched(
            Some("203.0.113.7"),
            &["2001:db8::8"],
            vec![
                record(RecordType::A, "203.0.113.7"),
                record(RecordType::Aaaa, "2001:db8::7"),
            ],
        );
        let plan = decide(&config(), &launch(), &observed).unwrap();
        assert_eq!(shown(&plan), vec!["UPSERT mc.example.com AAAA 2001:db8::8"]);
        assert!(message(&plan).is_some());
    }

    #[test]
    fn a_record_with_another_ttl_is_rewritten_and_the_order_of_values_does_not_matter() {
        let mut stale_ttl = record(RecordType::A, "203.0.113.7");
        stale_ttl.ttl = 300;
        let plan = decide(
            &config(),
            &launch(),
            &launched(Some("203.0.113.7"), &[], vec![stale_ttl]),
        )
        .unwrap();
        assert_eq!(shown(&plan), vec!["UPSERT mc.example.com A 203.0.113.7"]);

        let mut two = record(RecordType::Aaaa, "2001:db8::9");
        two.values.push("2001:db8::8".into());
        let observed = launched(
            Some("203.0.113.7"),
            &["2001:db8::8", "2001:db8::9"],
            vec![record(RecordType::A, "203.0.113.7"), two],
        );
        let plan = decide(&config(), &launch(), &observed).unwrap();
        assert_eq!(plan.event(), Event::Launch);
        assert!(shown(&plan).is_empty(), "{plan:?}");
    }

    #[test]
    fn a_terminate_points_at_the_unavailable_ip_and_deletes_aaaa() {
        let observed = Observed {
            records: vec![
                record(RecordType::A, "203.0.113.7"),
                record(RecordType::Aaaa, "2001:db8::7"),
            ],
            group: group(&[("i-old", "Terminating:Wait")]),
            ..Observed::default()
        };
        let plan = decide(&config(), &terminate(), &observed).unwrap();
        assert_eq!(plan.event(), Event::Terminate);
        assert_eq!(
            shown(&plan),
            vec![
                "UPSERT mc.example.com A 0.0.0.0",
                "DELETE mc.example.com AAAA 2001:db8::7"
            ]
        );
        assert_eq!(
            message(&plan),
            Some(&Message {
                event_type: "terminate".into(),
                subject: "mc is shutting down".into(),
                text: "mc is shutting down".into(),
            })
        );
    }

    #[test]
    fn the_aaaa_record_is_deleted_as_it_is() {
        // Route 53 deletes a record set only when its TTL and values match.
        let aaaa = RecordSet {
            name: "mc.example.com".into(),
            kind: RecordType::Aaaa,
            ttl: 300,
            values: vec!["2001:db8::7".into(), "2001:db8::8".into()],
        };
        let observed = Observed {
            records: vec![record(RecordType::A, "0.0.0.0"), aaaa.clone()],
            ..Observed::default()
        };
        let Plan::Change { changes, .. } = decide(&config(), &terminate(), &observed).unwrap()
        else {
            panic!("a change")
        };
        assert_eq!(
            changes,
            vec![Change {
                action: ChangeAction::Delete,
                record: aaaa
            }]
        );
    }

    #[test]
    fn a_terminate_uses_the_configured_unavailable_ip() {
        let config = Config {
            unavailable_ip: Ipv4Addr::new(192, 0, 2, 1),
            container_name: "Minecraft".into(),
            ..config()
        };
        let observed = Observed {
            records: vec![record(RecordType::A, "203.0.113.7")],
            ..Observed::default()
        };
        let plan = decide(&config, &terminate(), &observed).unwrap();
        assert_eq!(shown(&plan), vec!["UPSERT mc.example.com A 192.0.2.1"]);
        assert_eq!(message(&plan).unwrap().text, "Minecraft is shutting down");
    }

    #[test]
    fn a_repeated_terminate_changes_nothing() {
        let observed = Observed {
            records: vec![record(RecordType::A, "0.0.0.0")],
            ..Observed::default()
        };
        let plan = decide(&config(), &terminate(), &observed).unwrap();
        assert_eq!(
            plan,
            Plan::Nothing {
                event: Event::Terminate,
                note: "mc.example.com already points at 0.0.0.0".into(),
            }
        );
    }

    #[test]
    fn a_terminate_with_a_successor_keeps_the_record() {
        for state in ["InService", "Pending", "Pending:Wait"] {
            let observed = Observed {
                records: vec![
                    record(RecordType::A, "203.0.113.8"),
                    record(RecordType::Aaaa, "2001:db8::8"),
                ],
                group: group(&[("i-old", "Terminating:Wait"), ("i-new", state)]),
                ..Observed::default()
            };
            let plan = decide(&config(), &terminate(), &observed).unwrap();
            assert_eq!(plan.event(), Event::Terminate);
            assert!(message(&plan).is_none());
            assert!(note(&plan).unwrap().contains("i-new"), "{plan:?}");
        }
    }

    #[test]
    fn a_warm_instance_is_no_successor() {
        let observed = Observed {
            records: vec![record(RecordType::A, "203.0.113.7")],
            group: group(&[("i-old", "Terminating:Wait"), ("i-warm", "Warmed:Stopped")]),
            ..Observed::default()
        };
        let plan = decide(&config(), &terminate(), &observed).unwrap();
        assert_eq!(shown(&plan), vec!["UPSERT mc.example.com A 0.0.0.0"]);
    }

    #[test]
    fn a_launch_without_ipv6_deletes_an_earlier_instances_aaaa_in_the_same_batch() {
        // The old instance had IPv6; its successor has none. The old AAAA must go.
        let stale = RecordSet {
            ttl: 300,
            ..record(RecordType::Aaaa, "2001:db8::7")
        };
        let observed = launched(
            Some("203.0.113.8"),
            &[],
            vec![record(RecordType::A, "203.0.113.7"), stale.clone()],
        );
        let plan = decide(&config(), &launch(), &observed).unwrap();
        let Plan::Change { changes, .. } = &plan else {
            panic!("a change: {plan:?}")
        };
        assert_eq!(
            shown(&plan),
            vec![
                "UPSERT mc.example.com A 203.0.113.8",
                "DELETE mc.example.com AAAA 2001:db8::7"
            ]
        );
        assert_eq!(changes[1].record, stale, "deleted as it is");

        // Only the AAAA is wrong: the batch is the delete alone.
        let observed = launched(
            Some("203.0.113.8"),
            &[],
            vec![record(RecordType::A, "203.0.113.8"), stale],
        );
        let plan = decide(&config(), &launch(), &observed).unwrap();
        assert_eq!(shown(&plan), vec!["DELETE mc.example.com AAAA 2001:db8::7"]);
        assert!(message(&plan).is_some());
    }

    // ------------------------------------------------------- scheduled runs

    fn tick() -> Input {
        Input::Reconcile { rule: None }
    }

    /// What a scheduled run reads: the group, the records, and the addresses of the
    /// InService instances.
    fn seen(
        group_states: &[(&str, &str)],
        serving: &[(&str, Addresses)],
        records: Vec<RecordSet>,
    ) -> Observed {
        Observed {
            records,
            group: group(group_states),
            serving: serving
                .iter()
                .map(|(id, a)| (id.to_string(), a.clone()))
                .collect(),
            ..Observed::default()
        }
    }

    fn reconciled(observed: &Observed) -> Reconcile {
        match decide(&config(), &tick(), observed).unwrap() {
            Plan::Reconcile(r) => r,
            other => panic!("a scheduled run's plan: {other:?}"),
        }
    }

    #[test]
    fn a_run_points_the_name_at_the_in_service_instance() {
        // A missed launch: the record still says 0.0.0.0.
        let observed = seen(
            &[("i-1", "InService")],
            &[("i-1", addresses(Some("203.0.113.7"), &["2001:db8::7"]))],
            vec![record(RecordType::A, "0.0.0.0")],
        );
        let plan = decide(&config(), &tick(), &observed).unwrap();
        assert_eq!(plan.event(), Event::Reconcile);
        assert_eq!(
            shown(&plan),
            vec![
                "UPSERT mc.example.com A 203.0.113.7",
                "UPSERT mc.example.com AAAA 2001:db8::7"
            ]
        );
        assert_eq!(message(&plan).unwrap().text, "mc is up at 203.0.113.7");
        assert_eq!(message(&plan).unwrap().event_type, "launch");
        let Plan::Reconcile(r) = plan else {
            unreachable!()
        };
        assert_eq!(r.instance_id.as_deref(), Some("i-1"));
        assert_eq!(
            r.found.instances.get("i-1").map(String::as_str),
            Some("InService")
        );
        assert_eq!(r.found.records, vec![record(RecordType::A, "0.0.0.0")]);
    }

    #[test]
    fn a_run_corrects_a_drifted_record_and_drops_an_aaaa_the_instance_lacks() {
        let observed = seen(
            &[("i-1", "InService")],
            &[("i-1", addresses(Some("203.0.113.7"), &[]))],
            vec![
                record(RecordType::A, "198.51.100.1"),
                record(RecordType::Aaaa, "2001:db8::9"),
            ],
        );
        assert_eq!(
            shown(&decide(&config(), &tick(), &observed).unwrap()),
            vec![
                "UPSERT mc.example.com A 203.0.113.7",
                "DELETE mc.example.com AAAA 2001:db8::9"
            ]
        );
    }

    #[test]
    fn a_run_points_the_name_away_when_nothing_is_in_service() {
        // A missed terminate: the group is empty (or its instance terminating) and
        // the records still name the old instance.
        for group_states in [vec![], vec![("i-old", "Terminating:Wait")]] {
            let observed = seen(
                &group_states,
                &[],
                vec![
                    record(RecordType::A, "203.0.113.7"),
                    record(RecordType::Aaaa, "2001:db8::7"),
                ],
            );
            let plan = decide(&config(), &tick(), &observed).unwrap();
            assert_eq!(
                shown(&plan),
                vec![
                    "UPSERT mc.example.com A 0.0.0.0",
                    "DELETE mc.example.com AAAA 2001:db8::7"
                ],
                "{group_states:?}"
            );
            assert_eq!(
                message(&plan),
                Some(&Message {
                    event_type: "terminate".into(),
                    subject: "mc is down".into(),
                    text: "mc is down".into(),
                })
            );
        }
    }

    #[test]
    fn a_run_with_nothing_to_fix_plans_no_change_and_says_why() {
        let up = seen(
            &[("i-1", "InService")],
            &[("i-1", addresses(Some("203.0.113.7"), &[]))],
            vec![record(RecordType::A, "203.0.113.7")],
        );
        let down = seen(&[], &[], vec![record(RecordType::A, "0.0.0.0")]);
        for (observed, says) in [
            (up, "mc.example.com points at i-1, InService at 203.0.113.7"),
            (
                down,
                "no instance is InService and mc.example.com points at 0.0.0.0",
            ),
        ] {
            let r = reconciled(&observed);
            assert_eq!(r.change, None);
            let note = r.note.unwrap_or_default();
            assert_eq!(note, format!("nothing to fix: {says}"));
        }
    }

    #[test]
    fn a_run_leaves_a_pending_instance_to_its_launch_event() {
        let observed = seen(
            &[("i-1", "Pending:Wait")],
            &[],
            vec![record(RecordType::A, "0.0.0.0")],
        );
        let r = reconciled(&observed);
        assert_eq!(r.change, None);
        assert!(r
            .note
            .unwrap_or_default()
            .starts_with("i-1 is Pending:Wait"),);
    }

    #[test]
    fn of_two_in_service_instances_the_one_the_record_names_is_kept() {
        let observed = seen(
            &[("i-1", "InService"), ("i-2", "InService")],
            &[
                ("i-1", addresses(Some("203.0.113.7"), &[])),
                ("i-2", addresses(Some("203.0.113.8"), &[])),
            ],
            vec![record(RecordType::A, "203.0.113.8")],
        );
        let r = reconciled(&observed);
        assert_eq!((r.instance_id.as_deref(), r.change), (Some("i-2"), None));
    }

    #[test]
    fn a_run_whose_in_service_instance_has_no_public_ipv4_is_an_error() {
        let observed = seen(
            &[("i-1", "InService")],
            &[("i-1", addresses(None, &["2001:db8::7"]))],
            vec![record(RecordType::A, "0.0.0.0")],
        );
        let err = decide(&config(), &tick(), &observed)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("DescribeInstances i-1 failed") && err.contains("no public IPv4"),
            "{err}"
        );
    }
}
