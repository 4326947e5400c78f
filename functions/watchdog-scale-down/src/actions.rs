//! What the watchdog does to the world, behind a small trait, and its AWS SDK
//! implementation.

use std::future::Future;

use aws_sdk_sns::types::MessageAttributeValue;
use cm_core::Error;

use crate::config::WatchdogConfig;
use crate::decide::Trigger;

/// A message for the container's SNS topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub topic_arn: String,
    pub subject: String,
    pub message: String,
    /// `idle`, `left_up` or `crashed`.
    pub event_type: String,
    pub container: String,
}

impl Notification {
    pub fn new(topic_arn: &str, config: &WatchdogConfig, trigger: &Trigger, scale: bool) -> Self {
        let name = &config.container_name;
        let why = trigger.describe(config);
        let (subject, message) = if scale {
            (
                format!("{name} is stopping"),
                format!("{name} is being stopped: {why}."),
            )
        } else {
            (
                format!("{name} is still running"),
                format!("{name} has been {why} and is still running."),
            )
        };
        Notification {
            topic_arn: topic_arn.to_string(),
            // SNS subjects: at most 100 characters.
            subject: subject.chars().take(100).collect(),
            message,
            event_type: trigger.kind().to_string(),
            container: name.clone(),
        }
    }
}

pub trait WatchdogActions: Sync {
    fn desired_capacity(&self, asg_name: &str) -> impl Future<Output = Result<i32, Error>> + Send;
    fn set_desired_capacity(
        &self,
        asg_name: &str,
        desired: i32,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    fn notify(&self, notification: &Notification)
        -> impl Future<Output = Result<(), Error>> + Send;
}

#[derive(Clone, Debug)]
pub struct AwsWatchdogActions {
    autoscaling: aws_sdk_autoscaling::Client,
    sns: aws_sdk_sns::Client,
}

impl AwsWatchdogActions {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        AwsWatchdogActions {
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

impl WatchdogActions for AwsWatchdogActions {
    async fn desired_capacity(&self, asg_name: &str) -> Result<i32, Error> {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(asg_name)
            .send()
            .await
            .map_err(|e| Error::aws(format!("DescribeAutoScalingGroups {asg_name}"), e))?;
        out.auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(asg_name))
            .and_then(|g| g.desired_capacity())
            .ok_or_else(|| Error::Aws {
                operation: format!("DescribeAutoScalingGroups {asg_name}"),
                message: "no such Auto Scaling group".to_string(),
            })
    }

    async fn set_desired_capacity(&self, asg_name: &str, desired: i32) -> Result<(), Error> {
        self.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(asg_name)
            .desired_capacity(desired)
            .send()
            .await
            .map_err(|e| Error::aws(format!("UpdateAutoScalingGroup {asg_name}"), e))?;
        Ok(())
    }

    async fn notify(&self, n: &Notification) -> Result<(), Error> {
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| Error::aws("Publish (message attribute)", e))
        };
        self.sns
            .publish()
            .topic_arn(&n.topic_arn)
            .subject(&n.subject)
            .message(&n.message)
            .message_attributes("event_type", attribute(&n.event_type)?)
            .message_attributes("container", attribute(&n.container)?)
            .send()
            .await
            .map_err(|e| Error::aws(format!("Publish {}", n.topic_arn), e))?;
        Ok(())
    }
}
