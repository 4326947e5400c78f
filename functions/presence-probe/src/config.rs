//! The probe's configuration: the environment variables it reads, declared once in
//! [`VARS`] (docs/functions.md, template.yaml and events/env.json are checked against
//! it by `tests/contract.rs`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::num::NonZeroU16;
use std::time::Duration;

use cm_core::{ConfigError, Env, EnvVar};

use crate::protocol::GameProtocol;

/// Every variable the probe reads.
pub const VARS: &[EnvVar] = &[
    EnvVar::required("ASG_NAME", "the container's Auto Scaling group"),
    EnvVar::with_default(
        "GAME_PROTOCOL",
        "none",
        "how the game server is asked for its players: `minecraft-java`, `minecraft-bedrock`, \
         `a2s` (Steam dedicated servers) or `none` (no probe)",
    ),
    EnvVar::optional(
        "GAME_PORT",
        "the port queried, as given (for Valheim its query port, the game port + 1); required \
         unless `GAME_PROTOCOL` is `none`",
    ),
    EnvVar::optional(
        "GAME_HOST",
        "the address probed, an IP address or a DNS name; unset: the public IPv4 of the \
         group's InService instance",
    ),
    EnvVar::required(
        "METRIC_NAMESPACE",
        "the `Players` and `SecondsToPlayable` metrics' namespace, e.g. `ContainerManager`",
    ),
    EnvVar::with_default(
        "METRIC_DIMENSIONS",
        "{}",
        "a JSON object of dimension names to values, e.g. `{\"ContainerName\":\"mc\"}`",
    ),
    EnvVar::with_default(
        "PROBE_TIMEOUT_MS",
        "2000",
        "how long the game server has to answer, in milliseconds (100 to 30000); no answer \
         in time is an unknown count, never 0",
    ),
    EnvVar::with_default(
        "BOOT_GRACE_MINUTES",
        "15",
        "how long a started server has to answer for the first time, in minutes from its \
         instance's launch (1 to 1440); past it, a server that never answered is stopped \
         with a notice (boot failed)",
    ),
    EnvVar::optional(
        "SNS_TOPIC_ARN",
        "where people are told that the server is playable, or that it failed to boot",
    ),
    EnvVar::optional(
        "CONTAINER_NAME",
        "the name in messages; unset: the value of ASG_NAME",
    ),
];

/// The name of the metric the probe puts.
pub const PLAYERS_METRIC: &str = "Players";

/// The metric of the first answer after a launch: seconds from the instance's launch.
pub const SECONDS_TO_PLAYABLE_METRIC: &str = "SecondsToPlayable";

/// The instance tag that says the game server has answered since this instance
/// launched (its value: the time of the first answer, RFC 3339).
pub const ANSWERED_TAG: &str = "cm:playable-at";

/// The bounds of `PROBE_TIMEOUT_MS`.
const TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=30_000;

/// The bounds of `BOOT_GRACE_MINUTES`.
const GRACE_MINUTES: std::ops::RangeInclusive<u32> = 1..=1440;

/// What `GAME_PORT` must be.
const PORT_EXPECTED: &str = "a port number from 1 to 65535";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `ASG_NAME`
    pub asg_name: String,
    /// The game server to ask; `None` when `GAME_PROTOCOL` is `none`.
    pub game: Option<Game>,
    /// `PROBE_TIMEOUT_MS`: the whole exchange with the game server (name lookup,
    /// connection, every round of the protocol).
    pub timeout: Duration,
    /// Where the count goes.
    pub metric: PlayersMetric,
    /// `BOOT_GRACE_MINUTES`: a server that has not answered this long after its
    /// instance's launch is stopped.
    pub boot_grace_minutes: u32,
    /// `SNS_TOPIC_ARN`: where people are told (optional).
    pub sns_topic_arn: Option<String>,
    /// `CONTAINER_NAME` (default `ASG_NAME`): the name people know, for messages.
    pub container_name: String,
}

/// The game server's status protocol and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Game {
    /// `GAME_PROTOCOL`
    pub protocol: GameProtocol,
    /// `GAME_PORT`
    pub port: u16,
    /// `GAME_HOST`: an IP address or a DNS name (lower case); `None`: the InService
    /// instance's public IPv4.
    pub host: Option<String>,
}

/// The `Players` metric (unit Count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayersMetric {
    /// `METRIC_NAMESPACE`
    pub namespace: String,
    /// `METRIC_DIMENSIONS`, a JSON object of names to values.
    pub dimensions: BTreeMap<String, String>,
}

impl Config {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let mut env = env.declared(VARS);
        let asg_name = env.required("ASG_NAME");
        let raw_protocol = env.or_declared_default("GAME_PROTOCOL");
        let protocol = GameProtocol::from_setting(&raw_protocol);
        if protocol.is_none() {
            env.invalid(
                "GAME_PROTOCOL",
                &raw_protocol,
                "one of minecraft-java, minecraft-bedrock, a2s, none",
            );
        }
        // A protocol needs a port: no default fits every game (Valheim answers on its
        // game port + 1, most Source games on 27015).
        let port: Option<NonZeroU16> = match protocol {
            Some(Some(_)) => env.parse_required("GAME_PORT", PORT_EXPECTED),
            _ => env.parse_optional("GAME_PORT", PORT_EXPECTED),
        };
        let host = env.optional("GAME_HOST").and_then(|raw| {
            let host = normalise_host(&raw);
            if host.is_none() {
                env.invalid(
                    "GAME_HOST",
                    &raw,
                    "an IP address or a DNS name such as mc.example.com",
                );
            }
            host
        });
        let namespace = env.required("METRIC_NAMESPACE");
        let dimensions = env.metric_dimensions("METRIC_DIMENSIONS");
        let timeout_ms: Option<u64> =
            env.parse_or_declared_default("PROBE_TIMEOUT_MS", "a whole number of milliseconds");
        let timeout_ms = env.check(
            "PROBE_TIMEOUT_MS",
            timeout_ms,
            &format!(
                "from {} to {} milliseconds",
                TIMEOUT_MS.start(),
                TIMEOUT_MS.end()
            ),
            |ms| TIMEOUT_MS.contains(ms),
        );
        let grace: Option<u32> =
            env.parse_or_declared_default("BOOT_GRACE_MINUTES", "a whole number of minutes");
        let grace = env.check(
            "BOOT_GRACE_MINUTES",
            grace,
            &format!(
                "from {} to {} minutes",
                GRACE_MINUTES.start(),
                GRACE_MINUTES.end()
            ),
            |minutes| GRACE_MINUTES.contains(minutes),
        );
        let sns_topic_arn = env.optional_topic_arn("SNS_TOPIC_ARN");
        let container_name = env.optional("CONTAINER_NAME");
        let game = match protocol {
            Some(Some(protocol)) => port.map(|port| {
                Some(Game {
                    protocol,
                    port: port.get(),
                    host,
                })
            }),
            Some(None) => Some(None),
            None => None,
        };
        env.finish(|| {
            let asg_name = asg_name?;
            Some(Config {
                container_name: container_name.unwrap_or_else(|| asg_name.clone()),
                asg_name,
                game: game?,
                timeout: Duration::from_millis(timeout_ms?),
                metric: PlayersMetric {
                    namespace: namespace?,
                    dimensions: dimensions?,
                },
                boot_grace_minutes: grace?,
                sns_topic_arn,
            })
        })
    }
}

/// An IP address as written, or a DNS name in lower case without a trailing dot.
fn normalise_host(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let bare = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    cm_core::config::normalise_dns_name(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &[(&str, &str)] = &[
        ("ASG_NAME", "cm-asg-dev-mc"),
        ("GAME_PROTOCOL", "minecraft-java"),
        ("GAME_PORT", "25565"),
        ("METRIC_NAMESPACE", "ContainerManager"),
        ("METRIC_DIMENSIONS", r#"{"ContainerName":"mc"}"#),
    ];

    /// [`FULL`] with `changes` (later pairs win).
    fn full_with(changes: &[(&str, &str)]) -> Env<'static> {
        Env::from_pairs(&[FULL, changes].concat())
    }

    #[test]
    fn reads_the_contract_with_defaults() {
        let cfg = Config::from_env(Env::from_pairs(FULL)).unwrap();
        assert_eq!(cfg.asg_name, "cm-asg-dev-mc");
        assert_eq!(
            cfg.game,
            Some(Game {
                protocol: GameProtocol::MinecraftJava,
                port: 25565,
                host: None
            })
        );
        assert_eq!(cfg.timeout, Duration::from_millis(2000));
        assert_eq!(cfg.metric.namespace, "ContainerManager");
        assert_eq!(cfg.metric.dimensions["ContainerName"], "mc");
        assert_eq!(cfg.boot_grace_minutes, 15);
        assert_eq!(cfg.sns_topic_arn, None);
        assert_eq!(cfg.container_name, "cm-asg-dev-mc");
    }

    #[test]
    fn reads_the_boot_grace_the_topic_and_the_name() {
        let env = full_with(&[
            ("BOOT_GRACE_MINUTES", "8"),
            (
                "SNS_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc",
            ),
            ("CONTAINER_NAME", "mc"),
        ]);
        let cfg = Config::from_env(env).unwrap();
        assert_eq!(cfg.boot_grace_minutes, 8);
        assert_eq!(
            cfg.sns_topic_arn.as_deref(),
            Some("arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc")
        );
        assert_eq!(cfg.container_name, "mc");
    }

    #[test]
    fn the_protocol_defaults_to_none_and_then_needs_no_port() {
        let env = Env::from_pairs(&[("ASG_NAME", "g"), ("METRIC_NAMESPACE", "ContainerManager")]);
        let cfg = Config::from_env(env).unwrap();
        assert_eq!(cfg.game, None);
        assert!(cfg.metric.dimensions.is_empty());
    }

    #[test]
    fn every_protocol_name_is_read_case_insensitively() {
        for (raw, protocol) in [
            ("minecraft-java", GameProtocol::MinecraftJava),
            ("Minecraft-Bedrock", GameProtocol::MinecraftBedrock),
            ("A2S", GameProtocol::A2s),
        ] {
            let cfg = Config::from_env(full_with(&[("GAME_PROTOCOL", raw)])).unwrap();
            assert_eq!(cfg.game.map(|g| g.protocol), Some(protocol), "{raw}");
        }
    }

    #[test]
    fn game_host_takes_addresses_and_names() {
        for (raw, host) in [
            ("203.0.113.10", "203.0.113.10"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("2001:DB8::1", "2001:db8::1"),
            ("MC.Example.com.", "mc.example.com"),
        ] {
            let cfg = Config::from_env(full_with(&[("GAME_HOST", raw)])).unwrap();
            assert_eq!(
                cfg.game.and_then(|g| g.host).as_deref(),
                Some(host),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_protocol_without_a_port_is_refused_by_name() {
        let mut pairs: Vec<(&str, &str)> = FULL
            .iter()
            .copied()
            .filter(|(name, _)| *name != "GAME_PORT")
            .collect();
        pairs.push(("GAME_PROTOCOL", "a2s"));
        let err = Config::from_env(Env::from_pairs(&pairs)).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert!(err.problems[0].contains("GAME_PORT is not set"), "{err}");
    }

    #[test]
    fn every_bad_variable_is_named() {
        let env = Env::from_pairs(&[
            ("GAME_PROTOCOL", "quake"),
            ("GAME_PORT", "70000"),
            ("GAME_HOST", "mc example.com"),
            ("METRIC_DIMENSIONS", "[1,2]"),
            ("PROBE_TIMEOUT_MS", "soon"),
        ]);
        let err = Config::from_env(env).unwrap_err();
        let text = err.to_string();
        for name in [
            "ASG_NAME is not set",
            "GAME_PROTOCOL must be one of",
            "GAME_PORT must be a port number",
            "GAME_HOST must be an IP address or a DNS name",
            "METRIC_NAMESPACE is not set",
            "METRIC_DIMENSIONS must be",
            "PROBE_TIMEOUT_MS must be a whole number",
        ] {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
        assert_eq!(err.problems.len(), 7, "{text}");
    }

    #[test]
    fn timeouts_and_ports_out_of_range_are_refused() {
        for (name, value, expected) in [
            ("PROBE_TIMEOUT_MS", "50", "from 100 to 30000 milliseconds"),
            (
                "PROBE_TIMEOUT_MS",
                "60000",
                "from 100 to 30000 milliseconds",
            ),
            ("GAME_PORT", "0", "a port number from 1 to 65535"),
            ("BOOT_GRACE_MINUTES", "0", "from 1 to 1440 minutes"),
            ("BOOT_GRACE_MINUTES", "1441", "from 1 to 1440 minutes"),
            ("BOOT_GRACE_MINUTES", "soon", "a whole number of minutes"),
            ("SNS_TOPIC_ARN", "my-topic", "an SNS topic ARN"),
        ] {
            let err = Config::from_env(full_with(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(expected), "{name}={value}: {err}");
        }
    }

    #[test]
    fn dimension_values_must_be_strings() {
        let env = full_with(&[("METRIC_DIMENSIONS", r#"{"ContainerName":3}"#)]);
        assert!(Config::from_env(env).is_err());
    }
}
