//! The DNS updater's configuration: the environment variables it reads, declared once
//! in [`VARS`] (docs/functions.md, template.yaml and events/env.json are checked
//! against it by `tests/contract.rs`).

use std::net::Ipv4Addr;

use cm_core::{ConfigError, Env, EnvVar};

/// Every variable the DNS updater reads.
pub const VARS: &[EnvVar] = &[
    EnvVar::required("ASG_NAME", "the container's Auto Scaling group"),
    EnvVar::required(
        "HOSTED_ZONE_ID",
        "the container's hosted zone (`Z...` or `/hostedzone/Z...`)",
    ),
    EnvVar::required("DOMAIN_NAME", "the record's name, e.g. `mc.example.com`"),
    EnvVar::with_default(
        "RECORD_TYPE",
        "A",
        "only `A` (the `AAAA` record follows the instance's IPv6 by itself)",
    ),
    EnvVar::with_default("DNS_TTL", "1", "the records' TTL in seconds"),
    EnvVar::with_default(
        "UNAVAILABLE_IP",
        "0.0.0.0",
        "the address while nothing runs",
    ),
    EnvVar::optional("SNS_TOPIC_ARN", "where people are told"),
    EnvVar::optional(
        "CONTAINER_NAME",
        "the name in messages; unset: the value of `DOMAIN_NAME`",
    ),
];

/// The longest TTL Route 53 accepts (two days).
const MAX_TTL: i64 = 172_800;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `ASG_NAME`
    pub asg_name: String,
    /// `HOSTED_ZONE_ID` (a bare id or `/hostedzone/<id>`; kept bare).
    pub hosted_zone_id: String,
    /// `DOMAIN_NAME`, lower case, no trailing dot.
    pub domain_name: String,
    /// `RECORD_TYPE` (default `A`; only `A` is written from an instance's IPv4).
    pub record_type: String,
    /// `DNS_TTL` (default 1 second, so players see a new address at once).
    pub ttl: i64,
    /// `UNAVAILABLE_IP` (default `0.0.0.0`): the address while nothing runs.
    pub unavailable_ip: Ipv4Addr,
    /// `SNS_TOPIC_ARN` (optional).
    pub sns_topic_arn: Option<String>,
    /// `CONTAINER_NAME` (default `DOMAIN_NAME`): the name in messages.
    pub container_name: String,
}

impl Config {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let mut env = env.declared(VARS);
        let asg_name = env.required("ASG_NAME");
        let zone = env
            .required("HOSTED_ZONE_ID")
            .map(|z| z.trim_start_matches("/hostedzone/").to_string());
        let domain = env.required_dns_name("DOMAIN_NAME");
        let record_type = env.or_declared_default("RECORD_TYPE").to_ascii_uppercase();
        let record_type = env.check(
            "RECORD_TYPE",
            Some(record_type),
            "A (the instance's IPv4 address; AAAA follows its IPv6 by itself)",
            |t| t == "A",
        );
        let ttl: Option<i64> =
            env.parse_or_declared_default("DNS_TTL", "a whole number of seconds");
        let ttl = env.check("DNS_TTL", ttl, "between 0 and 172800 seconds", |t| {
            (0..=MAX_TTL).contains(t)
        });
        let unavailable: Option<Ipv4Addr> =
            env.parse_or_declared_default("UNAVAILABLE_IP", "an IPv4 address");
        let sns_topic_arn = env.optional_topic_arn("SNS_TOPIC_ARN");
        let container_name = env.optional("CONTAINER_NAME");
        env.finish(|| {
            let domain_name = domain?;
            Some(Config {
                asg_name: asg_name?,
                hosted_zone_id: zone?,
                container_name: container_name.unwrap_or_else(|| domain_name.clone()),
                domain_name,
                record_type: record_type?,
                ttl: ttl?,
                unavailable_ip: unavailable?,
                sns_topic_arn,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: &[(&str, &str)] = &[
        ("ASG_NAME", "g"),
        ("HOSTED_ZONE_ID", "/hostedzone/Z123"),
        ("DOMAIN_NAME", "MC.example.com."),
    ];

    fn with(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_env(Env::from_pairs(&[REQUIRED, extra].concat()))
    }

    #[test]
    fn reads_with_defaults() {
        let cfg = with(&[]).unwrap();
        assert_eq!(cfg.hosted_zone_id, "Z123");
        assert_eq!(cfg.domain_name, "mc.example.com");
        assert_eq!(cfg.record_type, "A");
        assert_eq!((cfg.ttl, cfg.unavailable_ip), (1, Ipv4Addr::UNSPECIFIED));
        assert_eq!(cfg.container_name, "mc.example.com");
        assert_eq!(cfg.sns_topic_arn, None);
    }

    #[test]
    fn the_declared_defaults_are_the_ones_applied() {
        // Setting every variable to its declared default changes nothing.
        let defaults: Vec<(&str, &str)> = VARS
            .iter()
            .filter_map(|v| Some((v.name, v.default?)))
            .collect();
        assert_eq!(defaults.len(), 3, "{defaults:?}");
        assert_eq!(with(&defaults).unwrap(), with(&[]).unwrap());
    }

    #[test]
    fn reads_every_variable_and_keeps_a_bare_zone_id() {
        let cfg = with(&[
            ("HOSTED_ZONE_ID", "Z999"),
            ("RECORD_TYPE", "a"),
            ("DNS_TTL", "300"),
            ("UNAVAILABLE_IP", "192.0.2.1"),
            (
                "SNS_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:cm-topic",
            ),
            ("CONTAINER_NAME", "Minecraft"),
        ])
        .unwrap();
        assert_eq!(cfg.hosted_zone_id, "Z999");
        assert_eq!(cfg.record_type, "A");
        assert_eq!(cfg.ttl, 300);
        assert_eq!(cfg.unavailable_ip, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(
            cfg.sns_topic_arn.as_deref(),
            Some("arn:aws:sns:us-east-1:123456789012:cm-topic")
        );
        assert_eq!(cfg.container_name, "Minecraft");
    }

    #[test]
    fn the_ttl_is_bounded_by_what_route53_accepts() {
        assert_eq!(with(&[("DNS_TTL", "0")]).unwrap().ttl, 0);
        assert_eq!(with(&[("DNS_TTL", "172800")]).unwrap().ttl, MAX_TTL);
        let err = with(&[("DNS_TTL", "172801")]).unwrap_err().to_string();
        assert!(
            err.contains("DNS_TTL must be between 0 and 172800 seconds"),
            "{err}"
        );
        let err = with(&[("DNS_TTL", "soon")]).unwrap_err().to_string();
        assert!(
            err.contains("DNS_TTL must be a whole number of seconds"),
            "{err}"
        );
    }

    #[test]
    fn a_topic_that_is_not_an_arn_is_refused() {
        let err = with(&[("SNS_TOPIC_ARN", "not-an-arn")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SNS_TOPIC_ARN must be an SNS topic ARN"),
            "{err}"
        );
    }

    #[test]
    fn names_every_problem() {
        let err = Config::from_env(Env::from_pairs(&[
            ("RECORD_TYPE", "CNAME"),
            ("DNS_TTL", "-5"),
            ("UNAVAILABLE_IP", "nowhere"),
            ("DOMAIN_NAME", "not a name"),
        ]))
        .unwrap_err()
        .to_string();
        for expected in [
            "ASG_NAME is not set",
            "HOSTED_ZONE_ID is not set",
            "DOMAIN_NAME must be",
            "RECORD_TYPE must be",
            "DNS_TTL must be",
            "UNAVAILABLE_IP must be",
        ] {
            assert!(err.contains(expected), "{expected} missing from {err}");
        }
    }
}
