//! decide: which game server to ask, or why not ([`what_to_probe`]), then what to
//! do with its answer ([`decide`]). Pure: no I/O; the time is passed in.
//!
//! - `GAME_PROTOCOL=none`: nothing to ask.
//! - No InService instance (the group at 0, or its instance Pending, Standby,
//!   Terminating...): nothing to ask, even with `GAME_HOST` set: an address that
//!   answers while the group has no server in service is not this container.
//! - Otherwise `GAME_HOST`, or the InService instance's public IPv4 (none is an
//!   error: set `GAME_HOST`, or let the subnet assign public IPs).
//! - An answer is one `Players` data point. The first answer since the instance's
//!   launch (its instance has no [`ANSWERED_TAG`] yet) also tags the instance, puts
//!   `SecondsToPlayable` (from the launch) and tells people "<name> is playable
//!   after N s".
//! - No answer, or one that cannot be read, is "unknown": nothing is put, never a 0
//!   (a server that is booting or has crashed is not an empty one). A server that
//!   has never answered since its launch and is past `BOOT_GRACE_MINUTES` is broken,
//!   not busy: the group goes to 0 and people are told ("boot failed"). One that
//!   answered once is left to the idle alarm on `Players`.
//!
//! [`ANSWERED_TAG`]: crate::config::ANSWERED_TAG

use std::fmt;
use std::net::Ipv4Addr;

use cm_core::Error;

use crate::config::Config;
use crate::outcome::Boot;
use crate::parse::Input;
use crate::protocol::{GameProtocol, ProbeAnswer, ProbeError};

/// The lifecycle state of an instance that serves players.
pub const IN_SERVICE: &str = "InService";

/// The serving instance as DescribeInstances tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceFacts {
    pub public_ipv4: Option<Ipv4Addr>,
    /// The launch time, in seconds since the Unix epoch.
    pub launched_at: Option<i64>,
    /// The value of [`crate::config::ANSWERED_TAG`]: the game server has answered
    /// since this instance launched.
    pub answered: Option<String>,
}

/// What was read before deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The group's desired capacity (0: it is at 0, or being stopped).
    pub desired_capacity: i32,
    /// (instance id, lifecycle state) of the group's instances.
    pub instances: Vec<(String, String)>,
    /// The serving instance, read when there is one.
    pub instance: Option<InstanceFacts>,
}

/// The instance that serves players: the group's first InService one.
pub fn serving_instance(instances: &[(String, String)]) -> Option<&str> {
    instances
        .iter()
        .find(|(_, state)| state == IN_SERVICE)
        .map(|(id, _)| id.as_str())
}

/// The tick's time, in seconds since the Unix epoch: the clock, or the event's time
/// when that is later. In AWS the schedule's time is never ahead of the clock (a
/// retried event is behind it, and the clock wins); a test plays time forward by
/// sending later ticks, as EventBridge would send them.
pub fn tick_time(input: &Input, clock: i64) -> i64 {
    input.at.map_or(clock, |at| at.max(clock))
}

/// One question to a game server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub protocol: GameProtocol,
    pub host: String,
    pub port: u16,
    /// The InService instance the answer is about.
    pub instance_id: String,
}

impl Probe {
    /// `host:port`, with brackets around an IPv6 address.
    pub fn target(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why nothing is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    ProtocolNone,
    /// The group's instances and their states (empty at 0).
    NoInstanceInService {
        instances: Vec<(String, String)>,
    },
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::ProtocolNone => write!(f, "GAME_PROTOCOL is none"),
            Skip::NoInstanceInService { instances } if instances.is_empty() => {
                write!(f, "no InService instance: the group has no instance")
            }
            Skip::NoInstanceInService { instances } => {
                let list: Vec<String> = instances
                    .iter()
                    .map(|(id, state)| format!("{id} {state}"))
                    .collect();
                write!(f, "no InService instance ({})", list.join(", "))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Skip(Skip),
    Probe(Probe),
}

/// Which game server to ask, or why none.
pub fn what_to_probe(config: &Config, observed: &Observed) -> Result<Step, Error> {
    let Some(game) = &config.game else {
        return Ok(Step::Skip(Skip::ProtocolNone));
    };
    let Some(instance_id) = serving_instance(&observed.instances) else {
        return Ok(Step::Skip(Skip::NoInstanceInService {
            instances: observed.instances.clone(),
        }));
    };
    let public_ipv4 = observed.instance.as_ref().and_then(|i| i.public_ipv4);
    let host = match (&game.host, public_ipv4) {
        (Some(host), _) => host.clone(),
        (None, Some(ip)) => ip.to_string(),
        (None, None) => {
            return Err(Error::Aws {
                operation: format!("DescribeInstances {instance_id}"),
                message: format!(
                    "instance {instance_id} has no public IPv4 address to probe: set GAME_HOST, \
                     or let its subnet assign public IPs (MapPublicIpOnLaunch)"
                ),
            })
        }
    };
    Ok(Step::Probe(Probe {
        protocol: game.protocol,
        host,
        port: game.port,
        instance_id: instance_id.to_string(),
    }))
}

/// A message for the container's SNS topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub topic_arn: String,
    /// At most 100 characters (SNS's limit for subjects).
    pub subject: String,
    pub message: String,
    /// `playable` or `boot_failed`: the `event_type` message attribute.
    pub event_type: String,
    /// The `container` message attribute.
    pub container: String,
}

impl Notification {
    fn new(config: &Config, event_type: &str, subject: String, message: String) -> Option<Self> {
        let topic_arn = config.sns_topic_arn.as_ref()?;
        Some(Notification {
            topic_arn: topic_arn.clone(),
            subject: subject.chars().take(100).collect(),
            message,
            event_type: event_type.to_string(),
            container: config.container_name.clone(),
        })
    }

    /// "mc is playable after 75 s".
    pub fn playable(config: &Config, seconds: Option<i64>) -> Option<Self> {
        let name = &config.container_name;
        let message = match seconds {
            Some(s) => format!("{name} is playable after {s} s"),
            None => format!("{name} is playable"),
        };
        Notification::new(config, "playable", format!("{name} is playable"), message)
    }

    /// "mc is being stopped: boot failed, ...".
    pub fn boot_failed(config: &Config, reason: &str) -> Option<Self> {
        let name = &config.container_name;
        Notification::new(
            config,
            "boot_failed",
            format!("{name} failed to boot"),
            format!(
                "{name} is being stopped: boot failed, no answer within {} minutes of its \
                 start (last probe: {reason}).",
                config.boot_grace_minutes
            ),
        )
    }
}

/// The first answer since the instance's launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstAnswer {
    /// From the instance's launch to this tick; `None` without a launch time.
    pub seconds_to_playable: Option<i64>,
    /// "<name> is playable after N s", when a topic is configured.
    pub notification: Option<Notification>,
}

/// What to do with the game server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing was asked: nothing to put.
    Skip(Skip),
    /// One `Players` data point of `answer.players`, at `at`; the first answer since
    /// the launch also tags the instance, puts `SecondsToPlayable` and tells people.
    Put {
        probe: Probe,
        answer: ProbeAnswer,
        at: i64,
        first: Option<FirstAnswer>,
    },
    /// No count: nothing to put, and the log says "unknown". `boot` says why the
    /// server stays up.
    Unknown {
        probe: Probe,
        reason: String,
        boot: Boot,
        /// While booting: how much of the grace is left.
        grace_left_seconds: Option<i64>,
    },
    /// Never answered since its launch and the grace is over: the group to 0, and
    /// people are told.
    StopBootFailed {
        probe: Probe,
        reason: String,
        notification: Option<Notification>,
    },
}

/// What the answer (or its absence) means, at the tick's time `now` (see
/// [`tick_time`]).
pub fn decide(
    config: &Config,
    observed: &Observed,
    probe: Probe,
    answer: Result<ProbeAnswer, ProbeError>,
    now: i64,
) -> Plan {
    let facts = observed.instance.clone().unwrap_or_default();
    let answered_before = facts.answered.is_some();
    let age = facts.launched_at.map(|launched| (now - launched).max(0));
    match answer {
        Ok(answer) => Plan::Put {
            probe,
            answer,
            at: now,
            first: (!answered_before).then(|| FirstAnswer {
                seconds_to_playable: age,
                notification: Notification::playable(config, age),
            }),
        },
        Err(err) => {
            let reason = err.to_string();
            let unknown = |boot, grace_left_seconds| Plan::Unknown {
                probe: probe.clone(),
                reason: reason.clone(),
                boot,
                grace_left_seconds,
            };
            let grace = i64::from(config.boot_grace_minutes) * 60;
            match age {
                _ if answered_before => unknown(Boot::AnsweredBefore, None),
                None => unknown(Boot::LaunchUnknown, None),
                Some(age) if age < grace => unknown(Boot::Booting, Some(grace - age)),
                Some(_) if observed.desired_capacity == 0 => unknown(Boot::Stopping, None),
                Some(_) => Plan::StopBootFailed {
                    notification: Notification::boot_failed(config, &reason),
                    probe,
                    reason,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::config::{Game, PlayersMetric};
    use crate::protocol::DecodeError;

    const LAUNCHED: i64 = 1_800_000_000;
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc";

    fn config(host: Option<&str>) -> Config {
        Config {
            asg_name: "cm-asg-dev-mc".into(),
            game: Some(Game {
                protocol: GameProtocol::MinecraftJava,
                port: 25565,
                host: host.map(str::to_string),
            }),
            timeout: Duration::from_millis(2000),
            metric: PlayersMetric {
                namespace: "ContainerManager".into(),
                dimensions: BTreeMap::new(),
            },
            boot_grace_minutes: 15,
            sns_topic_arn: Some(TOPIC.into()),
            container_name: "mc".into(),
        }
    }

    fn observed(states: &[(&str, &str)], ip: Option<[u8; 4]>) -> Observed {
        Observed {
            desired_capacity: i32::from(!states.is_empty()),
            instances: states
                .iter()
                .map(|(i, s)| (i.to_string(), s.to_string()))
                .collect(),
            instance: Some(InstanceFacts {
                public_ipv4: ip.map(Ipv4Addr::from),
                launched_at: Some(LAUNCHED),
                answered: None,
            }),
        }
    }

    /// One InService instance launched at [`LAUNCHED`], answered before or not.
    fn running(answered: bool) -> Observed {
        let mut o = observed(&[("i-1", IN_SERVICE)], Some([198, 51, 100, 7]));
        if let Some(facts) = o.instance.as_mut() {
            facts.answered = answered.then(|| "2027-01-15T08:05:00Z".to_string());
        }
        o
    }

    fn probe(host: &str) -> Probe {
        Probe {
            protocol: GameProtocol::MinecraftJava,
            host: host.into(),
            port: 25565,
            instance_id: "i-1".into(),
        }
    }

    fn silence() -> Result<ProbeAnswer, ProbeError> {
        Err(ProbeError::Timeout(Duration::from_millis(2000)))
    }

    fn players(n: u32) -> Result<ProbeAnswer, ProbeError> {
        Ok(ProbeAnswer {
            players: n,
            max_players: Some(20),
        })
    }

    #[test]
    fn protocol_none_asks_nothing_whatever_runs() {
        let mut cfg = config(Some("203.0.113.9"));
        cfg.game = None;
        let step = what_to_probe(&cfg, &observed(&[("i-1", IN_SERVICE)], None)).unwrap();
        assert_eq!(step, Step::Skip(Skip::ProtocolNone));
    }

    #[test]
    fn without_an_instance_in_service_nothing_is_asked_even_with_a_host() {
        for states in [
            vec![],
            vec![("i-1", "Pending")],
            vec![("i-1", "Standby")],
            vec![("i-1", "Pending:Wait"), ("i-2", "Terminating")],
        ] {
            for host in [None, Some("203.0.113.9")] {
                let step =
                    what_to_probe(&config(host), &observed(&states, Some([198, 51, 100, 7])))
                        .unwrap();
                assert!(
                    matches!(step, Step::Skip(Skip::NoInstanceInService { .. })),
                    "{states:?} {host:?}: {step:?}"
                );
            }
        }
    }

    #[test]
    fn skips_say_why() {
        assert_eq!(
            Skip::NoInstanceInService { instances: vec![] }.to_string(),
            "no InService instance: the group has no instance"
        );
        assert_eq!(
            Skip::NoInstanceInService {
                instances: vec![("i-1".into(), "Standby".into())]
            }
            .to_string(),
            "no InService instance (i-1 Standby)"
        );
    }

    #[test]
    fn the_instance_s_public_ipv4_is_asked_by_default() {
        let step = what_to_probe(
            &config(None),
            &observed(
                &[("i-0", "Terminating"), ("i-1", IN_SERVICE)],
                Some([198, 51, 100, 7]),
            ),
        )
        .unwrap();
        assert_eq!(step, Step::Probe(probe("198.51.100.7")));
    }

    #[test]
    fn game_host_wins_over_the_instance_address() {
        let step = what_to_probe(
            &config(Some("mc.example.com")),
            &observed(&[("i-1", IN_SERVICE)], None),
        )
        .unwrap();
        assert_eq!(step, Step::Probe(probe("mc.example.com")));
    }

    #[test]
    fn no_public_ipv4_and_no_host_is_an_error_naming_the_instance() {
        let err = what_to_probe(&config(None), &observed(&[("i-1", IN_SERVICE)], None))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("instance i-1 has no public IPv4 address"),
            "{err}"
        );
        assert!(err.contains("set GAME_HOST"), "{err}");
    }

    #[test]
    fn the_tick_is_the_clock_or_the_event_s_later_time() {
        let at = |t: Option<i64>| Input {
            at: t,
            ..Input::default()
        };
        assert_eq!(tick_time(&at(None), 100), 100);
        assert_eq!(tick_time(&at(Some(40)), 100), 100, "a retried event");
        assert_eq!(tick_time(&at(Some(160)), 100), 160, "a tick played forward");
    }

    #[test]
    fn the_first_answer_since_the_launch_is_told_with_its_time_to_playable() {
        let plan = decide(
            &config(None),
            &running(false),
            probe("h"),
            players(0),
            LAUNCHED + 75,
        );
        let Plan::Put { at, first, .. } = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(at, LAUNCHED + 75);
        let first = first.expect("the first answer");
        assert_eq!(first.seconds_to_playable, Some(75));
        let n = first.notification.expect("a topic is configured");
        assert_eq!(n.message, "mc is playable after 75 s");
        assert_eq!(n.subject, "mc is playable");
        assert_eq!(
            (n.event_type.as_str(), n.topic_arn.as_str()),
            ("playable", TOPIC)
        );
    }

    #[test]
    fn later_answers_are_only_counted() {
        let plan = decide(
            &config(None),
            &running(true),
            probe("h"),
            players(2),
            LAUNCHED + 3600,
        );
        assert_eq!(
            plan,
            Plan::Put {
                probe: probe("h"),
                answer: ProbeAnswer {
                    players: 2,
                    max_players: Some(20)
                },
                at: LAUNCHED + 3600,
                first: None,
            }
        );
    }

    #[test]
    fn without_a_topic_or_a_launch_time_the_first_answer_is_still_marked() {
        let mut cfg = config(None);
        cfg.sns_topic_arn = None;
        let mut o = running(false);
        if let Some(facts) = o.instance.as_mut() {
            facts.launched_at = None;
        }
        let Plan::Put { first, .. } = decide(&cfg, &o, probe("h"), players(1), LAUNCHED) else {
            panic!("an answer is put")
        };
        assert_eq!(
            first,
            Some(FirstAnswer {
                seconds_to_playable: None,
                notification: None
            })
        );
        assert_eq!(
            Notification::playable(&config(None), None).map(|n| n.message),
            Some("mc is playable".to_string())
        );
    }

    #[test]
    fn silence_within_the_grace_is_a_booting_server() {
        for age in [0, 60, 15 * 60 - 1] {
            let plan = decide(
                &config(None),
                &running(false),
                probe("h"),
                silence(),
                LAUNCHED + age,
            );
            assert_eq!(
                plan,
                Plan::Unknown {
                    probe: probe("h"),
                    reason: "no answer within 2000 ms".into(),
                    boot: Boot::Booting,
                    grace_left_seconds: Some(15 * 60 - age),
                },
                "{age}"
            );
        }
    }

    #[test]
    fn silence_past_the_grace_without_any_answer_stops_with_a_notice() {
        for age in [15 * 60, 3 * 3600] {
            let plan = decide(
                &config(None),
                &running(false),
                probe("h"),
                silence(),
                LAUNCHED + age,
            );
            let Plan::StopBootFailed {
                reason,
                notification,
                ..
            } = plan
            else {
                panic!("{age}: {plan:?}")
            };
            assert_eq!(reason, "no answer within 2000 ms");
            let n = notification.expect("a topic is configured");
            assert_eq!(
                n.message,
                "mc is being stopped: boot failed, no answer within 15 minutes of its start \
                 (last probe: no answer within 2000 ms)."
            );
            assert_eq!(
                (n.subject.as_str(), n.event_type.as_str()),
                ("mc failed to boot", "boot_failed")
            );
        }
    }

    #[test]
    fn a_server_that_answered_once_is_left_to_the_idle_alarm() {
        let plan = decide(
            &config(None),
            &running(true),
            probe("h"),
            silence(),
            LAUNCHED + 5 * 3600,
        );
        assert!(
            matches!(
                plan,
                Plan::Unknown {
                    boot: Boot::AnsweredBefore,
                    ..
                }
            ),
            "{plan:?}"
        );
    }

    #[test]
    fn a_group_already_at_0_is_not_stopped_twice() {
        let mut o = running(false);
        o.desired_capacity = 0;
        let plan = decide(&config(None), &o, probe("h"), silence(), LAUNCHED + 3600);
        assert!(
            matches!(
                plan,
                Plan::Unknown {
                    boot: Boot::Stopping,
                    ..
                }
            ),
            "{plan:?}"
        );
    }

    #[test]
    fn without_a_launch_time_nothing_is_stopped() {
        let mut o = running(false);
        if let Some(facts) = o.instance.as_mut() {
            facts.launched_at = None;
        }
        let plan = decide(&config(None), &o, probe("h"), silence(), LAUNCHED + 3600);
        assert!(
            matches!(
                plan,
                Plan::Unknown {
                    boot: Boot::LaunchUnknown,
                    ..
                }
            ),
            "{plan:?}"
        );
    }

    #[test]
    fn an_unreadable_answer_is_unknown_never_zero() {
        for err in [
            ProbeError::Network {
                target: "h:25565".into(),
                message: "Connection refused".into(),
            },
            ProbeError::Malformed(DecodeError::VarIntTooLong),
        ] {
            let reason = err.to_string();
            let plan = decide(
                &config(None),
                &running(true),
                probe("h"),
                Err(err),
                LAUNCHED + 60,
            );
            assert_eq!(
                plan,
                Plan::Unknown {
                    probe: probe("h"),
                    reason,
                    boot: Boot::AnsweredBefore,
                    grace_left_seconds: None,
                }
            );
        }
    }

    #[test]
    fn ipv6_targets_are_bracketed() {
        assert_eq!(probe("2001:db8::1").target(), "[2001:db8::1]:25565");
        assert_eq!(probe("198.51.100.7").target(), "198.51.100.7:25565");
    }
}
