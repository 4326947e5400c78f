//! The DNS updater's configuration from environment variables.

use std::net::Ipv4Addr;

use cm_core::{ConfigError, Env};

#[derive(Debug, Clone, PartialEq)]
pub struct DnsConfig {
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

impl DnsConfig {
    pub fn from_env(mut env: Env<'_>) -> Result<Self, ConfigError> {
        let asg_name = env.required("ASG_NAME");
        let zone = env
            .required("HOSTED_ZONE_ID")
            .map(|z| z.trim_start_matches("/hostedzone/").to_string());
        let domain = env.required_dns_name("DOMAIN_NAME");
        let record_type = env.optional_or("RECORD_TYPE", "A").to_ascii_uppercase();
        let record_type = if record_type == "A" {
            Some(record_type)
        } else {
            env.invalid(
                "RECORD_TYPE",
                &record_type,
                "A (the instance's IPv4 address; AAAA follows its IPv6 by itself)",
            );
            None
        };
        let ttl: Option<i64> = env.parse_or("DNS_TTL", 1, "a whole number of seconds");
        let ttl = ttl.and_then(|t| {
            if (0..=172_800).contains(&t) {
                Some(t)
            } else {
                env.invalid("DNS_TTL", &t.to_string(), "between 0 and 172800 seconds");
                None
            }
        });
        let unavailable: Option<Ipv4Addr> =
            env.parse_or("UNAVAILABLE_IP", Ipv4Addr::UNSPECIFIED, "an IPv4 address");
        let sns_topic_arn = env.optional_topic_arn("SNS_TOPIC_ARN");
        let container_name = env.optional("CONTAINER_NAME");
        env.finish(|| {
            let domain_name = domain?;
            Some(DnsConfig {
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
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_with_defaults() {
        let map = vars(&[
            ("ASG_NAME", "g"),
            ("HOSTED_ZONE_ID", "/hostedzone/Z123"),
            ("DOMAIN_NAME", "MC.example.com."),
        ]);
        let cfg = DnsConfig::from_env(Env::from_map(&map)).unwrap();
        assert_eq!(cfg.hosted_zone_id, "Z123");
        assert_eq!(cfg.domain_name, "mc.example.com");
        assert_eq!((cfg.ttl, cfg.unavailable_ip), (1, Ipv4Addr::UNSPECIFIED));
        assert_eq!(cfg.container_name, "mc.example.com");
    }

    #[test]
    fn names_every_problem() {
        let map = vars(&[
            ("RECORD_TYPE", "CNAME"),
            ("DNS_TTL", "-5"),
            ("UNAVAILABLE_IP", "nowhere"),
        ]);
        let err = DnsConfig::from_env(Env::from_map(&map))
            .unwrap_err()
            .to_string();
        for expected in [
            "ASG_NAME",
            "HOSTED_ZONE_ID",
            "DOMAIN_NAME",
            "RECORD_TYPE must be",
            "DNS_TTL must be",
            "UNAVAILABLE_IP must be",
        ] {
            assert!(err.contains(expected), "{expected} missing from {err}");
        }
    }
}
