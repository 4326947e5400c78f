//! [`Cloud`] through the AWS SDK (Auto Scaling, EC2 and CloudWatch clients built once
//! at start-up), and the game server through [`crate::protocol`].

use std::net::Ipv4Addr;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use cm_core::Error;

use crate::cloud::Cloud;
use crate::config::{PlayersMetric, PLAYERS_METRIC};
use crate::protocol::{self, GameProtocol, ProbeAnswer, ProbeError};

#[derive(Clone, Debug)]
pub struct AwsCloud {
    autoscaling: aws_sdk_autoscaling::Client,
    ec2: aws_sdk_ec2::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl AwsCloud {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        AwsCloud {
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
        }
    }
}

impl Cloud for AwsCloud {
    async fn group_instances(&self, asg: &str) -> Result<Vec<(String, String)>, Error> {
        Ok(cm_core::autoscaling::describe_group(&self.autoscaling, asg)
            .await?
            .instances)
    }

    async fn public_ipv4(&self, instance_id: &str) -> Result<Option<Ipv4Addr>, Error> {
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
        Ok(instance
            .public_ip_address()
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok()))
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

    async fn put_players(&self, metric: &PlayersMetric, players: u32) -> Result<(), Error> {
        let dimensions = metric
            .dimensions
            .iter()
            .map(|(name, value)| Dimension::builder().name(name).value(value).build())
            .collect::<Vec<_>>();
        let datum = MetricDatum::builder()
            .metric_name(PLAYERS_METRIC)
            .set_dimensions(Some(dimensions))
            .unit(StandardUnit::Count)
            .value(f64::from(players))
            .build();
        self.cloudwatch
            .put_metric_data()
            .namespace(&metric.namespace)
            .metric_data(datum)
            .send()
            .await
            .map_err(|e| {
                Error::aws(
                    format!("PutMetricData {}/{PLAYERS_METRIC}", metric.namespace),
                    e,
                )
            })?;
        Ok(())
    }
}
