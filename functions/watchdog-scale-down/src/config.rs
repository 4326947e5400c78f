//! The watchdog's configuration from environment variables.

use cm_core::config::parse_bool;
use cm_core::{ConfigError, Env};

#[derive(Debug, Clone, PartialEq)]
pub struct WatchdogConfig {
    /// `ASG_NAME`
    pub asg_name: String,
    /// `IDLE_ALARM_NAME`: NetworkIn + DNS hits at or under the threshold for N minutes.
    pub idle_alarm_name: String,
    /// `LEFT_UP_ALARM_NAME`: the container has been up too long (optional).
    pub left_up_alarm_name: Option<String>,
    /// `STOP_WHEN_LEFT_UP` (default false): stop on the left-up alarm, not only notify.
    pub stop_when_left_up: bool,
    /// `ECS_CLUSTER_NAME`: task events of other clusters are refused.
    pub ecs_cluster_name: String,
    /// `SNS_TOPIC_ARN` (optional): where people are told.
    pub sns_topic_arn: Option<String>,
    /// `CONTAINER_NAME` (default `ASG_NAME`): the name people know, for messages.
    pub container_name: String,
    /// `IDLE_MINUTES` (optional): the idle alarm's window, for messages.
    pub idle_minutes: Option<u32>,
    /// `LEFT_UP_HOURS` (optional): the left-up alarm's window, for messages.
    pub left_up_hours: Option<u32>,
}

impl WatchdogConfig {
    pub fn from_env(mut env: Env<'_>) -> Result<Self, ConfigError> {
        let asg_name = env.required("ASG_NAME");
        let idle_alarm_name = env.required("IDLE_ALARM_NAME");
        let left_up_alarm_name = env.optional("LEFT_UP_ALARM_NAME");
        let stop_raw = env.optional_or("STOP_WHEN_LEFT_UP", "false");
        let stop_when_left_up = parse_bool(&stop_raw);
        if stop_when_left_up.is_none() {
            env.invalid("STOP_WHEN_LEFT_UP", &stop_raw, "true or false");
        }
        let ecs_cluster_name = env.required("ECS_CLUSTER_NAME");
        let sns_topic_arn = env.optional_topic_arn("SNS_TOPIC_ARN");
        let container_name = env.optional("CONTAINER_NAME");
        let idle_minutes = env.parse_optional("IDLE_MINUTES", "a whole number of minutes");
        let left_up_hours = env.parse_optional("LEFT_UP_HOURS", "a whole number of hours");
        env.finish(|| {
            let asg_name = asg_name?;
            Some(WatchdogConfig {
                container_name: container_name.unwrap_or_else(|| asg_name.clone()),
                asg_name,
                idle_alarm_name: idle_alarm_name?,
                left_up_alarm_name,
                stop_when_left_up: stop_when_left_up?,
                ecs_cluster_name: ecs_cluster_name?,
                sns_topic_arn,
                idle_minutes,
                left_up_hours,
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
    fn reads_required_and_defaults() {
        let map = vars(&[
            ("ASG_NAME", "cm-asg-dev-mc"),
            ("IDLE_ALARM_NAME", "cm-alarm-dev-mc-idle"),
            ("ECS_CLUSTER_NAME", "cm-cluster-dev-mc"),
        ]);
        let cfg = WatchdogConfig::from_env(Env::from_map(&map)).unwrap();
        assert_eq!(cfg.container_name, "cm-asg-dev-mc");
        assert!(!cfg.stop_when_left_up);
        assert_eq!((cfg.idle_minutes, cfg.left_up_alarm_name), (None, None));
    }

    #[test]
    fn names_every_problem() {
        let map = vars(&[
            ("STOP_WHEN_LEFT_UP", "perhaps"),
            ("SNS_TOPIC_ARN", "my-topic"),
            ("IDLE_MINUTES", "half an hour"),
        ]);
        let err = WatchdogConfig::from_env(Env::from_map(&map))
            .unwrap_err()
            .to_string();
        for expected in [
            "ASG_NAME is not set",
            "IDLE_ALARM_NAME is not set",
            "ECS_CLUSTER_NAME is not set",
            "STOP_WHEN_LEFT_UP must be true or false",
            "SNS_TOPIC_ARN must be an SNS topic ARN",
            "IDLE_MINUTES must be a whole number",
        ] {
            assert!(err.contains(expected), "{expected} missing from {err}");
        }
    }
}
