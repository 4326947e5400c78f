//! [`Cloud`] through the AWS SDK: Auto Scaling for the group, SNS for the messages.

use cm_core::Error;

use crate::cloud::Cloud;
use crate::decide::Notification;

/// The SDK clients, built once when the process starts.
#[derive(Clone, Debug)]
pub struct AwsCloud {
    autoscaling: aws_sdk_autoscaling::Client,
    sns: aws_sdk_sns::Client,
}

impl AwsCloud {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        AwsCloud {
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

impl Cloud for AwsCloud {
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
        cm_core::sns::publish(
            &self.sns,
            &n.topic_arn,
            &n.subject,
            &n.message,
            &[("event_type", &n.event_type), ("container", &n.container)],
        )
        .await
    }
}
