//! The router's configuration: the environment variables it reads, declared once in
//! [`VARS`] (docs/functions.md, template.yaml and events/env.json are checked against
//! it by `tests/contract.rs`).

use std::time::Duration;

use aws_sdk_cloudwatch::types::StandardUnit;
use cm_core::{ConfigError, Env, EnvVar};

use crate::parse::QueryTarget;

/// The longest registry TTL accepted: an hour.
pub const MAX_REGISTRY_TTL_SECONDS: u64 = 3600;

/// Every variable the router reads.
pub const VARS: &[EnvVar] = &[
    EnvVar::required(
        "DOMAIN_NAME",
        "the domain, e.g. `example.com`; a container is `<label>.<domain>`",
    ),
    EnvVar::required(
        "HOSTED_ZONE_ID",
        "the domain's hosted zone, which holds the registry of containers \
         (`<label>._cm.<domain>` TXT)",
    ),
    EnvVar::with_default("RECORD_TYPE", "A", "the query type that counts"),
    EnvVar::required(
        "METRIC_NAMESPACE",
        "the keep-alive metric's namespace, e.g. `ContainerManager`",
    ),
    EnvVar::required(
        "METRIC_NAME",
        "the keep-alive metric's name, e.g. `DnsQueries`",
    ),
    EnvVar::with_default("METRIC_UNIT", "Count", "a CloudWatch unit"),
    EnvVar::with_default(
        "REGISTRY_TTL_SECONDS",
        "60",
        "how long the warm process keeps the registry (0 to 3600); a queried name not in \
         it reads it again at most every 10 seconds",
    ),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Which query-log lines count: `<label>.<DOMAIN_NAME>`, `RECORD_TYPE`.
    pub query: QueryTarget,
    /// `HOSTED_ZONE_ID`, without `/hostedzone/`.
    pub hosted_zone_id: String,
    /// The keep-alive metric.
    pub metric: KeepAliveMetric,
    /// `REGISTRY_TTL_SECONDS`
    pub registry_ttl: Duration,
}

/// The keep-alive metric: one data point per container queried, in its region,
/// dimension `ContainerName` = the registry entry's `metric`, value its threshold + 1.
#[derive(Debug, Clone, PartialEq)]
pub struct KeepAliveMetric {
    /// `METRIC_NAMESPACE`
    pub namespace: String,
    /// `METRIC_NAME`
    pub name: String,
    /// `METRIC_UNIT`, default `Count`.
    pub unit: StandardUnit,
}

/// The dimension the keep-alive data points carry (the idle alarm's).
pub const DIMENSION: &str = "ContainerName";

impl Config {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let mut env = env.declared(VARS);
        let domain = env.required_dns_name("DOMAIN_NAME");
        let hosted_zone_id = env.required_hosted_zone_id("HOSTED_ZONE_ID");
        let record_type = env.or_declared_default("RECORD_TYPE").to_ascii_uppercase();
        let record_type = env.check(
            "RECORD_TYPE",
            Some(record_type),
            "a DNS record type such as A or AAAA",
            |t| t.chars().all(|c| c.is_ascii_alphanumeric()),
        );
        let namespace = env.required("METRIC_NAMESPACE");
        let name = env.required("METRIC_NAME");
        let unit = env.or_declared_default("METRIC_UNIT");
        let unit = env
            .check(
                "METRIC_UNIT",
                Some(unit),
                "a CloudWatch unit such as Count, Bytes or Count/Second",
                |u| StandardUnit::values().contains(&u.as_str()),
            )
            .map(|u| StandardUnit::from(u.as_str()));
        let ttl: Option<u64> = env.parse_or_declared_default(
            "REGISTRY_TTL_SECONDS",
            "a whole number of seconds from 0 to 3600",
        );
        let ttl = env.check(
            "REGISTRY_TTL_SECONDS",
            ttl,
            "a whole number of seconds from 0 to 3600",
            |t| *t <= MAX_REGISTRY_TTL_SECONDS,
        );
        env.finish(|| {
            Some(Config {
                query: QueryTarget {
                    domain: domain?,
                    record_type: record_type?,
                },
                hosted_zone_id: hosted_zone_id?,
                metric: KeepAliveMetric {
                    namespace: namespace?,
                    name: name?,
                    unit: unit?,
                },
                registry_ttl: Duration::from_secs(ttl?),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &[(&str, &str)] = &[
        ("DOMAIN_NAME", "Example.com."),
        ("HOSTED_ZONE_ID", "/hostedzone/Z0123456789ABCDEFGHIJ"),
        ("METRIC_NAMESPACE", "ContainerManager"),
        ("METRIC_NAME", "DnsQueries"),
    ];

    /// Every required variable set, then `extra`.
    fn with(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_env(Env::from_pairs(&[FULL, extra].concat()))
    }

    #[test]
    fn reads_the_contract_with_defaults() {
        let cfg = with(&[]).unwrap();
        assert_eq!(cfg.query.domain, "example.com");
        assert_eq!(cfg.query.record_type, "A");
        assert_eq!(cfg.hosted_zone_id, "Z0123456789ABCDEFGHIJ");
        assert_eq!(cfg.metric.unit, StandardUnit::Count);
        assert_eq!(cfg.registry_ttl, Duration::from_secs(60));
        let cfg = with(&[("REGISTRY_TTL_SECONDS", "0"), ("RECORD_TYPE", "aaaa")]).unwrap();
        assert_eq!(cfg.registry_ttl, Duration::ZERO);
        assert_eq!(cfg.query.record_type, "AAAA");
    }

    #[test]
    fn every_bad_variable_is_named() {
        let err = Config::from_env(Env::from_pairs(&[
            ("HOSTED_ZONE_ID", "zone with spaces"),
            ("METRIC_UNIT", "Parsecs"),
            ("REGISTRY_TTL_SECONDS", "soon"),
            ("RECORD_TYPE", "A A"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        for name in [
            "DOMAIN_NAME is not set",
            "HOSTED_ZONE_ID must be",
            "RECORD_TYPE must be",
            "METRIC_NAMESPACE is not set",
            "METRIC_NAME is not set",
            "METRIC_UNIT must be",
            "REGISTRY_TTL_SECONDS must be",
        ] {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
        assert_eq!(err.problems.len(), 7, "{text}");
    }

    #[test]
    fn a_ttl_over_an_hour_or_negative_is_refused() {
        for bad in ["3601", "-1", "1.5"] {
            let err = with(&[("REGISTRY_TTL_SECONDS", bad)]).unwrap_err();
            assert!(
                err.to_string().contains("REGISTRY_TTL_SECONDS must be"),
                "{bad}: {err}"
            );
        }
        assert!(with(&[("REGISTRY_TTL_SECONDS", "3600")]).is_ok());
    }

    #[test]
    fn the_gone_variables_are_not_read() {
        // A template still setting the single-container variables is no error (the
        // contract test flags it), and they change nothing.
        let cfg = with(&[("ASG_NAME", "cm-asg-dev-mc"), ("METRIC_THRESHOLD", "x")]).unwrap();
        assert_eq!(cfg, with(&[]).unwrap());
    }

    #[test]
    fn a_domain_with_spaces_is_refused() {
        let err = with(&[("DOMAIN_NAME", "mc example.com")]).unwrap_err();
        assert!(err.to_string().contains("DOMAIN_NAME must be a DNS name"));
    }
}
