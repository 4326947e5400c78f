//! decide: which game server to ask, or why not ([`what_to_probe`]), then what to
//! put given its answer ([`decide`]). Pure: no I/O, no clock.
//!
//! - `GAME_PROTOCOL=none`: nothing to ask.
//! - No InService instance (the group at 0, or its instance Pending, Standby,
//!   Terminating...): nothing to ask, even with `GAME_HOST` set: an address that
//!   answers while the group has no server in service is not this container.
//! - Otherwise `GAME_HOST`, or the InService instance's public IPv4 (none is an
//!   error: set `GAME_HOST`, or let the subnet assign public IPs).
//! - An answer is one `Players` data point; no answer, or one that cannot be read,
//!   is "unknown": nothing is put, never a 0 (a server that is booting or has
//!   crashed is not an empty one).

use std::fmt;
use std::net::Ipv4Addr;

use cm_core::Error;

use crate::config::Config;
use crate::protocol::{GameProtocol, ProbeAnswer, ProbeError};

/// The lifecycle state of an instance that serves players.
pub const IN_SERVICE: &str = "InService";

/// What was read before deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// (instance id, lifecycle state) of the group's instances.
    pub instances: Vec<(String, String)>,
    /// The serving instance's public IPv4, read when `GAME_HOST` is unset.
    pub public_ipv4: Option<Ipv4Addr>,
}

/// The instance that serves players: the group's first InService one.
pub fn serving_instance(instances: &[(String, String)]) -> Option<&str> {
    instances
        .iter()
        .find(|(_, state)| state == IN_SERVICE)
        .map(|(id, _)| id.as_str())
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
    let host = match (&game.host, observed.public_ipv4) {
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

/// What to do with the game server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing was asked: nothing to put.
    Skip(Skip),
    /// One `Players` data point of `answer.players`.
    Put { probe: Probe, answer: ProbeAnswer },
    /// No count: nothing to put, and the log says "unknown".
    Unknown { probe: Probe, reason: String },
}

pub fn decide(probe: Probe, answer: Result<ProbeAnswer, ProbeError>) -> Plan {
    match answer {
        Ok(answer) => Plan::Put { probe, answer },
        Err(err) => Plan::Unknown {
            probe,
            reason: err.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::config::{Game, PlayersMetric};
    use crate::protocol::DecodeError;

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
        }
    }

    fn observed(states: &[(&str, &str)], ip: Option<[u8; 4]>) -> Observed {
        Observed {
            instances: states
                .iter()
                .map(|(i, s)| (i.to_string(), s.to_string()))
                .collect(),
            public_ipv4: ip.map(Ipv4Addr::from),
        }
    }

    fn probe(host: &str) -> Probe {
        Probe {
            protocol: GameProtocol::MinecraftJava,
            host: host.into(),
            port: 25565,
            instance_id: "i-1".into(),
        }
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
    fn an_answer_is_put_and_a_failure_is_unknown_never_zero() {
        let answer = ProbeAnswer {
            players: 0,
            max_players: Some(20),
        };
        assert_eq!(
            decide(probe("h"), Ok(answer)),
            Plan::Put {
                probe: probe("h"),
                answer
            }
        );
        for err in [
            ProbeError::Timeout(Duration::from_millis(2000)),
            ProbeError::Network {
                target: "h:25565".into(),
                message: "Connection refused".into(),
            },
            ProbeError::Malformed(DecodeError::VarIntTooLong),
        ] {
            let reason = err.to_string();
            assert_eq!(
                decide(probe("h"), Err(err)),
                Plan::Unknown {
                    probe: probe("h"),
                    reason
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
