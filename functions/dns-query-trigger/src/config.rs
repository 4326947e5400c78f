//! The trigger's configuration: the public contract of environment variables.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::StandardUnit;
use cm_core::{ConfigError, Env};

use crate::decide::QueryTarget;

#[derive(Debug, Clone, PartialEq)]
pub struct TriggerConfig {
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

/// CloudWatch's limit on dimensions per metric.
const MAX_DIMENSIONS: usize = 30;

impl TriggerConfig {
    pub fn from_env(mut env: Env<'_>) -> Result<Self, ConfigError> {
        let domain = env.required_dns_name("DOMAIN_NAME");
        let record_type = env.optional_or("RECORD_TYPE", "A").to_ascii_uppercase();
        let record_type = if record_type.chars().all(|c| c.is_ascii_alphanumeric()) {
            Some(record_type)
        } else {
            env.invalid(
                "RECORD_TYPE",
                &record_type,
                "a DNS record type such as A or AAAA",
            );
            None
        };
        let asg_name = env.required("ASG_NAME");
        let asg_region = env.optional("ASG_REGION");
        let namespace = env.required("METRIC_NAMESPACE");
        let name = env.required("METRIC_NAME");
        let dimensions = env.optional("METRIC_DIMENSIONS").map_or_else(
            || Some(BTreeMap::new()),
            |raw| match parse_dimensions(&raw) {
                Ok(dims) => Some(dims),
                Err(expected) => {
                    env.invalid("METRIC_DIMENSIONS", &raw, &expected);
                    None
                }
            },
        );
        let unit_raw = env.optional_or("METRIC_UNIT", "Count");
        let unit = if StandardUnit::values().contains(&unit_raw.as_str()) {
            Some(StandardUnit::from(unit_raw.as_str()))
        } else {
            env.invalid(
                "METRIC_UNIT",
                &unit_raw,
                "a CloudWatch unit such as Count, Bytes or Count/Second",
            );
            None
        };
        let threshold: Option<f64> = env.parse_required("METRIC_THRESHOLD", "a number");
        let threshold = threshold.and_then(|t| {
            if t.is_finite() {
                Some(t)
            } else {
                env.invalid("METRIC_THRESHOLD", &t.to_string(), "a finite number");
                None
            }
        });
        env.finish(|| {
            Some(TriggerConfig {
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

fn parse_dimensions(raw: &str) -> Result<BTreeMap<String, String>, String> {
    const EXPECTED: &str = "a JSON object of dimension names to string values";
    let dims: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(raw).map_err(|_| EXPECTED.to_string())?;
    if dims.len() > MAX_DIMENSIONS {
        return Err(format!("at most {MAX_DIMENSIONS} dimensions"));
    }
    dims.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) if !k.is_empty() && !s.is_empty() => Ok((k, s)),
            _ => Err(EXPECTED.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn full() -> HashMap<String, String> {
        vars(&[
            ("DOMAIN_NAME", "MC.Example.com."),
            ("ASG_NAME", "cm-asg-dev-mc"),
            ("METRIC_NAMESPACE", "ContainerManager"),
            ("METRIC_NAME", "DnsQueries"),
            ("METRIC_DIMENSIONS", r#"{"ContainerName":"mc"}"#),
            ("METRIC_THRESHOLD", "20"),
        ])
    }

    #[test]
    fn reads_the_contract_with_defaults() {
        let map = full();
        let cfg = TriggerConfig::from_env(Env::from_map(&map)).unwrap();
        assert_eq!(cfg.query.name, "mc.example.com");
        assert_eq!(cfg.query.record_type, "A");
        assert_eq!(cfg.asg_region, None);
        assert_eq!(cfg.metric.unit, StandardUnit::Count);
        assert_eq!(cfg.metric.value, 21.0);
        assert_eq!(cfg.metric.dimensions.get("ContainerName").unwrap(), "mc");
    }

    #[test]
    fn every_bad_variable_is_named() {
        let map = vars(&[
            ("METRIC_DIMENSIONS", "[1,2]"),
            ("METRIC_UNIT", "Parsecs"),
            ("METRIC_THRESHOLD", "ten"),
            ("RECORD_TYPE", "A A"),
        ]);
        let err = TriggerConfig::from_env(Env::from_map(&map)).unwrap_err();
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
        let mut map = full();
        map.insert("METRIC_DIMENSIONS".into(), r#"{"ContainerName":3}"#.into());
        assert!(TriggerConfig::from_env(Env::from_map(&map)).is_err());
        map.insert("METRIC_DIMENSIONS".into(), "{}".into());
        let cfg = TriggerConfig::from_env(Env::from_map(&map)).unwrap();
        assert!(cfg.metric.dimensions.is_empty());
    }

    #[test]
    fn a_domain_with_spaces_is_refused() {
        let mut map = full();
        map.insert("DOMAIN_NAME".into(), "mc example.com".into());
        let err = TriggerConfig::from_env(Env::from_map(&map)).unwrap_err();
        assert!(err.to_string().contains("DOMAIN_NAME must be a DNS name"));
    }
}
