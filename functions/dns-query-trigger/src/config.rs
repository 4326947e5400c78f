//! The trigger's configuration: the environment variables it reads, declared once in
//! [`VARS`] (docs/functions.md, template.yaml and events/env.json are checked against
//! it by `tests/contract.rs`).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::StandardUnit;
use cm_core::{ConfigError, Env, EnvVar};

use crate::decide::QueryTarget;

/// Every variable the trigger reads.
pub const VARS: &[EnvVar] = &[
    EnvVar::required(
        "DOMAIN_NAME",
        "the container's DNS name, e.g. `mc.example.com`",
    ),
    EnvVar::with_default("RECORD_TYPE", "A", "the query type that counts"),
    EnvVar::required("ASG_NAME", "the container's Auto Scaling Group"),
    EnvVar::optional(
        "ASG_REGION",
        "the container's region (its group, and the idle alarm that reads the keep-alive \
         metric), when the function runs in us-east-1 with the query logs and the container \
         elsewhere; unset: the function's region",
    ),
    EnvVar::required(
        "METRIC_NAMESPACE",
        "the keep-alive metric's namespace, e.g. `ContainerManager`",
    ),
    EnvVar::required(
        "METRIC_NAME",
        "the keep-alive metric's name, e.g. `DnsQueries`",
    ),
    EnvVar::with_default(
        "METRIC_DIMENSIONS",
        "{}",
        "a JSON object of dimension names to values, e.g. `{\"ContainerName\":\"mc\"}`",
    ),
    EnvVar::with_default("METRIC_UNIT", "Count", "a CloudWatch unit"),
    EnvVar::required(
        "METRIC_THRESHOLD",
        "the idle alarm's threshold; the metric is put at this + 1",
    ),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Which query-log lines count.
    pub query: QueryTarget,
    /// `ASG_NAME`
    pub asg_name: String,
    /// `ASG_REGION`: the group's region when it is not the function's (the query
    /// logs live in us-east-1, the container may not).
    pub asg_region: Option<String>,
    /// The keep-alive metric.
    pub metric: KeepAliveMetric,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeepAliveMetric {
    /// `METRIC_NAMESPACE`
    pub namespace: String,
    /// `METRIC_NAME`
    pub name: String,
    /// `METRIC_DIMENSIONS`, a JSON object of names to values.
    pub dimensions: BTreeMap<String, String>,
    /// `METRIC_UNIT`, default `Count`.
    pub unit: StandardUnit,
    /// `METRIC_THRESHOLD + 1`: above the idle alarm's threshold.
    pub value: f64,
}

impl Config {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let mut env = env.declared(VARS);
        let domain = env.required_dns_name("DOMAIN_NAME");
        let record_type = env.or_declared_default("RECORD_TYPE").to_ascii_uppercase();
        let record_type = env.check(
            "RECORD_TYPE",
            Some(record_type),
            "a DNS record type such as A or AAAA",
            |t| t.chars().all(|c| c.is_ascii_alphanumeric()),
        );
        let asg_name = env.required("ASG_NAME");
        let asg_region = env.optional("ASG_REGION");
        let namespace = env.required("METRIC_NAMESPACE");
        let name = env.required("METRIC_NAME");
        let dimensions = env.metric_dimensions("METRIC_DIMENSIONS");
        let unit = env.or_declared_default("METRIC_UNIT");
        let unit = env
            .check(
                "METRIC_UNIT",
                Some(unit),
                "a CloudWatch unit such as Count, Bytes or Count/Second",
                |u| StandardUnit::values().contains(&u.as_str()),
            )
            .map(|u| StandardUnit::from(u.as_str()));
        let threshold: Option<f64> = env.parse_required("METRIC_THRESHOLD", "a number");
        let threshold = env.check("METRIC_THRESHOLD", threshold, "a finite number", |t| {
            t.is_finite()
        });
        env.finish(|| {
            Some(Config {
                query: QueryTarget {
                    name: domain?,
                    record_type: record_type?,
                },
                asg_name: asg_name?,
                asg_region,
                metric: KeepAliveMetric {
                    namespace: namespace?,
                    name: name?,
                    dimensions: dimensions?,
                    unit: unit?,
                    value: threshold? + 1.0,
                },
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &[(&str, &str)] = &[
        ("DOMAIN_NAME", "MC.Example.com."),
        ("ASG_NAME", "cm-asg-dev-mc"),
        ("METRIC_NAMESPACE", "ContainerManager"),
        ("METRIC_NAME", "DnsQueries"),
        ("METRIC_DIMENSIONS", r#"{"ContainerName":"mc"}"#),
        ("METRIC_THRESHOLD", "20"),
    ];

    /// Every variable set, then `extra`.
    fn with(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_env(Env::from_pairs(&[FULL, extra].concat()))
    }

    #[test]
    fn reads_the_contract_with_defaults() {
        let cfg = with(&[]).unwrap();
        assert_eq!(cfg.query.name, "mc.example.com");
        assert_eq!(cfg.query.record_type, "A");
        assert_eq!(cfg.asg_region, None);
        assert_eq!(cfg.metric.unit, StandardUnit::Count);
        assert_eq!(cfg.metric.value, 21.0);
        assert_eq!(cfg.metric.dimensions.get("ContainerName").unwrap(), "mc");
    }

    #[test]
    fn every_bad_variable_is_named() {
        let err = Config::from_env(Env::from_pairs(&[
            ("METRIC_DIMENSIONS", "[1,2]"),
            ("METRIC_UNIT", "Parsecs"),
            ("METRIC_THRESHOLD", "ten"),
            ("RECORD_TYPE", "A A"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        for name in [
            "DOMAIN_NAME is not set",
            "RECORD_TYPE must be",
            "ASG_NAME is not set",
            "METRIC_NAMESPACE is not set",
            "METRIC_NAME is not set",
            "METRIC_DIMENSIONS must be",
            "METRIC_UNIT must be",
            "METRIC_THRESHOLD must be a number",
        ] {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
        assert_eq!(err.problems.len(), 8);
    }

    #[test]
    fn dimension_values_must_be_strings() {
        assert!(with(&[("METRIC_DIMENSIONS", r#"{"ContainerName":3}"#)]).is_err());
        let cfg = with(&[("METRIC_DIMENSIONS", "{}")]).unwrap();
        assert!(cfg.metric.dimensions.is_empty());
    }

    #[test]
    fn a_domain_with_spaces_is_refused() {
        let err = with(&[("DOMAIN_NAME", "mc example.com")]).unwrap_err();
        assert!(err.to_string().contains("DOMAIN_NAME must be a DNS name"));
    }
}
