//! The ECS sync's configuration from environment variables.

use std::time::Duration;

use cm_core::{ConfigError, Env, EnvVar};

/// Every variable the sync reads (its contract; docs/functions.md, template.yaml and
/// events/env.json repeat it and are checked against it).
pub const VARS: &[EnvVar] = &[
    EnvVar::required(
        "ASG_NAME",
        "the container's Auto Scaling group; events of other groups are refused",
    ),
    EnvVar::required("ECS_CLUSTER_NAME", "the cluster"),
    EnvVar::required("ECS_SERVICE_NAME", "the container's service"),
    EnvVar::with_default(
        "DRAIN_TIMEOUT_SECONDS",
        "300",
        "the longest wait for the container to stop",
    ),
    EnvVar::with_default(
        "DRAIN_POLL_SECONDS",
        "5",
        "time between two looks at the tasks",
    ),
    EnvVar::optional(
        "LIFECYCLE_HOOK_NAME",
        "the group's terminate hook: a scheduled run completes its waiting actions whose task is gone",
    ),
];

/// What a `..._SECONDS` variable must be.
const SECONDS: &str = "a whole number of seconds";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
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
    /// `LIFECYCLE_HOOK_NAME` (optional): the terminate hook whose waiting actions a
    /// scheduled run completes.
    pub lifecycle_hook: Option<String>,
}

impl Config {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let mut env = env.declared(VARS);
        let asg_name = env.required("ASG_NAME");
        let cluster = env.required("ECS_CLUSTER_NAME");
        let service = env.required("ECS_SERVICE_NAME");
        let timeout: Option<u64> = env.parse_or_declared_default("DRAIN_TIMEOUT_SECONDS", SECONDS);
        let poll: Option<u64> = env.parse_or_declared_default("DRAIN_POLL_SECONDS", SECONDS);
        let poll = env.check("DRAIN_POLL_SECONDS", poll, "at least 1", |&p| p > 0);
        let lifecycle_hook = env.optional("LIFECYCLE_HOOK_NAME");
        env.finish(|| {
            Some(Config {
                lifecycle_hook,
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

    /// The required names, then `extra`.
    fn with(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_env(Env::from_pairs(&[NAMES, extra].concat()))
    }

    const NAMES: &[(&str, &str)] = &[
        ("ASG_NAME", "g"),
        ("ECS_CLUSTER_NAME", "c"),
        ("ECS_SERVICE_NAME", "s"),
    ];

    #[test]
    fn defaults_apply_when_unset() {
        let cfg = with(&[]).unwrap();
        assert_eq!(
            (
                cfg.asg_name.as_str(),
                cfg.cluster.as_str(),
                cfg.service.as_str()
            ),
            ("g", "c", "s")
        );
        assert_eq!(
            (cfg.drain_timeout.as_secs(), cfg.drain_poll.as_secs()),
            (300, 5)
        );
    }

    #[test]
    fn the_declared_defaults_are_the_ones_applied() {
        let cfg = with(&[]).unwrap();
        let default = |name: &str| {
            VARS.iter()
                .find(|v| v.name == name)
                .and_then(|v| v.default)
                .unwrap_or_else(|| panic!("{name} has a declared default"))
        };
        assert_eq!(
            default("DRAIN_TIMEOUT_SECONDS"),
            cfg.drain_timeout.as_secs().to_string()
        );
        assert_eq!(
            default("DRAIN_POLL_SECONDS"),
            cfg.drain_poll.as_secs().to_string()
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_by_name() {
        let err = Config::from_env(Env::from_pairs(&[
            ("DRAIN_TIMEOUT_SECONDS", "soon"),
            ("DRAIN_POLL_SECONDS", "0"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.problems,
            vec![
                "ASG_NAME is not set".to_string(),
                "ECS_CLUSTER_NAME is not set".to_string(),
                "ECS_SERVICE_NAME is not set".to_string(),
                "DRAIN_TIMEOUT_SECONDS must be a whole number of seconds, got \"soon\"".to_string(),
                "DRAIN_POLL_SECONDS must be at least 1, got \"0\"".to_string(),
            ]
        );
    }

    #[test]
    fn set_values_win_over_the_defaults() {
        let cfg = with(&[
            ("DRAIN_TIMEOUT_SECONDS", " 42 "),
            ("DRAIN_POLL_SECONDS", "2"),
        ])
        .unwrap();
        assert_eq!(cfg.drain_timeout, Duration::from_secs(42));
        assert_eq!(cfg.drain_poll, Duration::from_secs(2));
    }

    #[test]
    fn the_lifecycle_hook_is_optional() {
        let cfg = with(&[]).unwrap();
        assert_eq!(cfg.lifecycle_hook, None);
        let cfg = with(&[("LIFECYCLE_HOOK_NAME", "cm-hook-dev-mc-drain")]).unwrap();
        assert_eq!(cfg.lifecycle_hook.as_deref(), Some("cm-hook-dev-mc-drain"));
    }
}
