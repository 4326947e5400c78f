//! [`Cloud`] through the AWS SDK (Auto Scaling, EC2, CloudWatch and SNS clients built
//! once at start-up), and the game server through [`crate::protocol`].

use std::net::Ipv4Addr;
use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_ec2::types::Tag;
use cm_core::autoscaling::GroupState;
use cm_core::Error;

use crate::cloud::{Cloud, Datum, Unit};
use crate::config::{PlayersMetric, ANSWERED_TAG};
use crate::decide::{InstanceFacts, Notification};
use crate::protocol::{self, GameProtocol, ProbeAnswer, ProbeError};

#[derive(Clone, Debug)]
pub struct AwsCloud {
    autoscaling: aws_sdk_autoscaling::Client,
    ec2: aws_sdk_ec2::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    sns: aws_sdk_sns::Client,
}

impl AwsCloud {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        AwsCloud {
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

impl Cloud for AwsCloud {
    async fn group(&self, asg: &str) -> Result<GroupState, Error> {
        cm_core::autoscaling::describe_group(&self.autoscaling, asg).await
    }

    async fn instance(&self, instance_id: &str) -> Result<InstanceFacts, Error> {
        let operation = || format!("DescribeInstances {instance_id}");
        let out = self
            .ec2
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| Error::aws(operation(), e))?;
        let instance = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance_id))
            .ok_or_else(|| Error::Aws {
                operation: operation(),
                message: "no such instance".into(),
            })?;
        Ok(InstanceFacts {
            public_ipv4: instance
                .public_ip_address()
                .and_then(|ip| ip.parse::<Ipv4Addr>().ok()),
            launched_at: instance.launch_time().map(|t| t.secs()),
            answered: instance
                .tags()
                .iter()
                .find(|t| t.key() == Some(ANSWERED_TAG))
                .map(|t| t.value().unwrap_or_default().to_string()),
        })
    }

    async fn probe(
        &self,
        protocol: GameProtocol,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<ProbeAnswer, ProbeError> {
        protocol::probe(protocol, host, port, timeout).await
    }

    async fn put_metric_data(
        &self,
        metric: &PlayersMetric,
        data: &[Datum],
        at: i64,
    ) -> Result<(), Error> {
        let dimensions = metric
            .dimensions
            .iter()
            .map(|(name, value)| Dimension::builder().name(name).value(value).build())
            .collect::<Vec<_>>();
        let data = data
            .iter()
            .map(|d| {
                MetricDatum::builder()
                    .metric_name(d.metric)
                    .set_dimensions(Some(dimensions.clone()))
                    .unit(match d.unit {
                        Unit::Count => StandardUnit::Count,
                        Unit::Seconds => StandardUnit::Seconds,
                    })
                    .value(d.value)
                    .timestamp(DateTime::from_secs(at))
                    .build()
            })
            .collect::<Vec<_>>();
        let names: Vec<&str> = data.iter().filter_map(|d| d.metric_name()).collect();
        let operation = format!("PutMetricData {}/{}", metric.namespace, names.join(","));
        self.cloudwatch
            .put_metric_data()
            .namespace(&metric.namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .map_err(|e| Error::aws(operation, e))?;
        Ok(())
    }

    async fn mark_answered(&self, instance_id: &str, value: &str) -> Result<(), Error> {
        self.ec2
            .create_tags()
            .resources(instance_id)
            .tags(Tag::builder().key(ANSWERED_TAG).value(value).build())
            .send()
            .await
            .map_err(|e| Error::aws(format!("CreateTags {instance_id} {ANSWERED_TAG}"), e))?;
        Ok(())
    }

    async fn stop(&self, asg: &str) -> Result<(), Error> {
        cm_core::autoscaling::set_desired_capacity(&self.autoscaling, asg, 0).await
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
