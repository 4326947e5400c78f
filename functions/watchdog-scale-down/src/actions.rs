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
        Ok(
            cm_core::autoscaling::describe_group(&self.autoscaling, asg_name)
                .await?
                .desired_capacity,
        )
    }

    async fn set_desired_capacity(&self, asg_name: &str, desired: i32) -> Result<(), Error> {
        cm_core::autoscaling::set_desired_capacity(&self.autoscaling, asg_name, desired).await
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
