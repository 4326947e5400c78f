//! The ECS sync's configuration from environment variables.

use std::time::Duration;

use cm_core::{ConfigError, Env};

#[derive(Debug, Clone, PartialEq)]
pub struct SyncConfig {
    /// `ASG_NAME`
    pub asg_name: String,
    /// `ECS_CLUSTER_NAME`
    pub cluster: String,
    /// `ECS_SERVICE_NAME`
    pub service: String,
    /// `DRAIN_TIMEOUT_SECONDS` (default 300): the longest wait for the container to stop.
    pub drain_timeout: Duration,
    /// `DRAIN_POLL_SECONDS` (default 5): time between two looks at the tasks.
    pub drain_poll: Duration,
}

impl SyncConfig {
    pub fn from_env(mut env: Env<'_>) -> Result<Self, ConfigError> {
        let asg_name = env.required("ASG_NAME");
        let cluster = env.required("ECS_CLUSTER_NAME");
        let service = env.required("ECS_SERVICE_NAME");
        let timeout: Option<u64> =
            env.parse_or("DRAIN_TIMEOUT_SECONDS", 300, "a whole number of seconds");
        let poll: Option<u64> = env.parse_or("DRAIN_POLL_SECONDS", 5, "a whole number of seconds");
        let poll = poll.and_then(|p| {
            if p == 0 {
                env.invalid("DRAIN_POLL_SECONDS", "0", "at least 1");
                None
            } else {
                Some(p)
            }
        });
        env.finish(|| {
            Some(SyncConfig {
                asg_name: asg_name?,
                cluster: cluster?,
                service: service?,
                drain_timeout: Duration::from_secs(timeout?),
                drain_poll: Duration::from_secs(poll?),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_and_problems() {
        let map: HashMap<String, String> = [
            ("ASG_NAME", "g"),
            ("ECS_CLUSTER_NAME", "c"),
            ("ECS_SERVICE_NAME", "s"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let cfg = SyncConfig::from_env(Env::from_map(&map)).unwrap();
        assert_eq!(
            (cfg.drain_timeout.as_secs(), cfg.drain_poll.as_secs()),
            (300, 5)
        );
        let bad: HashMap<String, String> = [
            ("DRAIN_TIMEOUT_SECONDS", "soon"),
            ("DRAIN_POLL_SECONDS", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let err = SyncConfig::from_env(Env::from_map(&bad)).unwrap_err();
        assert_eq!(err.problems.len(), 5, "{err}");
    }
}
