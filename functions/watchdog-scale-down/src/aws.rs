//! [`Cloud`] through the AWS SDK: Auto Scaling for the group, SNS for the messages.

use aws_sdk_sns::types::MessageAttributeValue;
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
        let operation = || format!("Publish {}", n.topic_arn);
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| Error::aws(format!("{} (message attribute)", operation()), e))
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
            .map_err(|e| Error::aws(operation(), e))?;
        Ok(())
    }
}
