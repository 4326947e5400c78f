//! The watchdog's configuration from environment variables: [`VARS`] declares every
//! variable it reads, [`Config::from_env`] reads and checks them.

use cm_core::config::parse_bool;
use cm_core::{ConfigError, Env, EnvVar};

/// `STOP_WHEN_LEFT_UP` when unset.
const STOP_WHEN_LEFT_UP_DEFAULT: &str = "false";

/// Every environment variable the watchdog reads.
pub const VARS: &[EnvVar] = &[
    EnvVar::required(
        "ASG_NAME",
        "the container's Auto Scaling group, e.g. cm-asg-dev-mc",
    ),
    EnvVar::required(
        "IDLE_ALARM_NAME",
        "the idle alarm's name, e.g. cm-alarm-dev-mc-idle",
    ),
    EnvVar::optional(
        "LEFT_UP_ALARM_NAME",
        "the left-up alarm's name (without it, that alarm is unknown)",
    ),
    EnvVar::with_default(
        "STOP_WHEN_LEFT_UP",
        STOP_WHEN_LEFT_UP_DEFAULT,
        "stop on the left-up alarm, not only notify",
    ),
    EnvVar::required(
        "ECS_CLUSTER_NAME",
        "the container's ECS cluster; task events of other clusters are refused",
    ),
    EnvVar::optional(
        "ECS_SERVICE_NAME",
        "the container's ECS service; set, task events of the cluster's other services \
         (containers sharing a base stack's cluster) are ignored",
    ),
    EnvVar::optional("SNS_TOPIC_ARN", "where people are told"),
    EnvVar::optional(
        "CONTAINER_NAME",
        "the name in messages; unset: the value of ASG_NAME",
    ),
    EnvVar::optional("IDLE_MINUTES", "the idle alarm's window, for messages"),
    EnvVar::optional("LEFT_UP_HOURS", "the left-up alarm's window, for messages"),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
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
    /// `ECS_SERVICE_NAME` (optional): task events of other services are ignored.
    pub ecs_service_name: Option<String>,
    /// `SNS_TOPIC_ARN` (optional): where people are told.
    pub sns_topic_arn: Option<String>,
    /// `CONTAINER_NAME` (default `ASG_NAME`): the name people know, for messages.
    pub container_name: String,
    /// `IDLE_MINUTES` (optional): the idle alarm's window, for messages.
    pub idle_minutes: Option<u32>,
    /// `LEFT_UP_HOURS` (optional): the left-up alarm's window, for messages.
    pub left_up_hours: Option<u32>,
}

impl Config {
    /// Reads [`VARS`]; every missing or malformed variable is named in the error.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let mut env = env.declared(VARS);
        let asg_name = env.required("ASG_NAME");
        let idle_alarm_name = env.required("IDLE_ALARM_NAME");
        let left_up_alarm_name = env.optional("LEFT_UP_ALARM_NAME");
        let stop_raw = env.optional_or("STOP_WHEN_LEFT_UP", STOP_WHEN_LEFT_UP_DEFAULT);
        let stop_when_left_up = parse_bool(&stop_raw);
        if stop_when_left_up.is_none() {
            env.invalid("STOP_WHEN_LEFT_UP", &stop_raw, "true or false");
        }
        let ecs_cluster_name = env.required("ECS_CLUSTER_NAME");
        let ecs_service_name = env.optional("ECS_SERVICE_NAME");
        let sns_topic_arn = env.optional_topic_arn("SNS_TOPIC_ARN");
        let container_name = env.optional("CONTAINER_NAME");
        let idle_minutes = env.parse_optional("IDLE_MINUTES", "a whole number of minutes");
        let left_up_hours = env.parse_optional("LEFT_UP_HOURS", "a whole number of hours");
        env.finish(|| {
            let asg_name = asg_name?;
            Some(Config {
                container_name: container_name.unwrap_or_else(|| asg_name.clone()),
                asg_name,
                idle_alarm_name: idle_alarm_name?,
                left_up_alarm_name,
                stop_when_left_up: stop_when_left_up?,
                ecs_cluster_name: ecs_cluster_name?,
                ecs_service_name,
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

    const REQUIRED: &[(&str, &str)] = &[
        ("ASG_NAME", "cm-asg-dev-mc"),
        ("IDLE_ALARM_NAME", "cm-alarm-dev-mc-idle"),
        ("ECS_CLUSTER_NAME", "cm-cluster-dev-mc"),
    ];

    #[test]
    fn reads_required_and_defaults() {
        let cfg = Config::from_env(Env::from_pairs(REQUIRED)).unwrap();
        assert_eq!(cfg.container_name, "cm-asg-dev-mc");
        assert!(!cfg.stop_when_left_up);
        assert_eq!((cfg.idle_minutes, cfg.left_up_alarm_name), (None, None));
        assert_eq!(cfg.sns_topic_arn, None);
    }

    #[test]
    fn reads_every_declared_variable() {
        let mut pairs = REQUIRED.to_vec();
        pairs.extend([
            ("LEFT_UP_ALARM_NAME", "cm-alarm-dev-mc-left-up"),
            ("STOP_WHEN_LEFT_UP", "TRUE"),
            (
                "SNS_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc",
            ),
            ("CONTAINER_NAME", " mc "),
            ("IDLE_MINUTES", "30"),
            ("LEFT_UP_HOURS", "8"),
        ]);
        let cfg = Config::from_env(Env::from_pairs(&pairs)).unwrap();
        assert_eq!(
            cfg,
            Config {
                asg_name: "cm-asg-dev-mc".into(),
                idle_alarm_name: "cm-alarm-dev-mc-idle".into(),
                left_up_alarm_name: Some("cm-alarm-dev-mc-left-up".into()),
                stop_when_left_up: true,
                ecs_cluster_name: "cm-cluster-dev-mc".into(),
                ecs_service_name: None,
                sns_topic_arn: Some("arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc".into()),
                container_name: "mc".into(),
                idle_minutes: Some(30),
                left_up_hours: Some(8),
            }
        );
    }

    #[test]
    fn names_every_problem() {
        let env = Env::from_pairs(&[
            ("STOP_WHEN_LEFT_UP", "perhaps"),
            ("SNS_TOPIC_ARN", "my-topic"),
            ("IDLE_MINUTES", "half an hour"),
            ("LEFT_UP_HOURS", "-2"),
        ]);
        let err = Config::from_env(env).unwrap_err().to_string();
        for expected in [
            "ASG_NAME is not set",
            "IDLE_ALARM_NAME is not set",
            "ECS_CLUSTER_NAME is not set",
            "STOP_WHEN_LEFT_UP must be true or false",
            "SNS_TOPIC_ARN must be an SNS topic ARN",
            "IDLE_MINUTES must be a whole number",
            "LEFT_UP_HOURS must be a whole number",
        ] {
            assert!(err.contains(expected), "{expected} missing from {err}");
        }
        assert!(!err.contains("not declared"), "{err}");
    }

    #[test]
    fn the_declared_default_is_the_one_used() {
        let declared = VARS
            .iter()
            .find(|v| v.name == "STOP_WHEN_LEFT_UP")
            .and_then(|v| v.default);
        assert_eq!(declared.and_then(parse_bool), Some(false));
        let names: std::collections::BTreeSet<&str> = VARS.iter().map(|v| v.name).collect();
        assert_eq!(names.len(), VARS.len(), "a variable is declared twice");
    }
}
