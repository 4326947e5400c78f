//! The probe's small trait: what it reads before deciding (the group, the serving
//! instance, and the game server itself), and what it writes (data points, the
//! instance's first-answer tag, a stop, a message). [`crate::aws::AwsCloud`] is the
//! real one, [`crate::fake::FakeCloud`] the in-memory one for fast tests.

use std::future::Future;
use std::time::Duration;

use cm_core::autoscaling::GroupState;
use cm_core::Error;

use crate::config::{Config, PlayersMetric};
use crate::decide::{serving_instance, InstanceFacts, Notification, Observed};
use crate::protocol::{GameProtocol, ProbeAnswer, ProbeError};

/// A CloudWatch unit of the probe's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
        }
    }
}

/// One data point of one of the probe's metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Datum {
    pub metric: &'static str,
    pub unit: Unit,
    pub value: f64,
}

pub trait Cloud: Sync {
    /// DescribeAutoScalingGroups: the group's desired capacity and its (instance id,
    /// lifecycle state) pairs.
    fn group(&self, asg: &str) -> impl Future<Output = Result<GroupState, Error>> + Send;

    /// DescribeInstances: the instance's public IPv4, launch time and first-answer
    /// tag.
    fn instance(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<InstanceFacts, Error>> + Send;

    /// The game server's own status protocol at `host`:`port`, within `timeout`. A
    /// failure is an unknown count, not an error of the invocation.
    fn probe(
        &self,
        protocol: GameProtocol,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> impl Future<Output = Result<ProbeAnswer, ProbeError>> + Send;

    /// PutMetricData: `data`, timestamped `at` (seconds since the Unix epoch), in the
    /// metric's namespace with its dimensions.
    fn put_metric_data(
        &self,
        metric: &PlayersMetric,
        data: &[Datum],
        at: i64,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// CreateTags: marks the instance as answered ([`crate::config::ANSWERED_TAG`]
    /// = `value`, the time of the first answer).
    fn mark_answered(
        &self,
        instance_id: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// UpdateAutoScalingGroup: desired capacity 0.
    fn stop(&self, asg: &str) -> impl Future<Output = Result<(), Error>> + Send;

    /// Publish: the message to its topic, with the `event_type` and `container`
    /// message attributes.
    fn notify(&self, notification: &Notification)
        -> impl Future<Output = Result<(), Error>> + Send;
}

/// Reads what [`crate::decide`] needs: nothing with `GAME_PROTOCOL=none`; else the
/// group (one call while the group is at 0), and the serving instance when there is
/// one (its address, launch time and first-answer tag).
pub async fn observe<C: Cloud>(config: &Config, cloud: &C) -> Result<Observed, Error> {
    if config.game.is_none() {
        return Ok(Observed::default());
    }
    let group = cloud.group(&config.asg_name).await?;
    let instance = match serving_instance(&group.instances) {
        Some(instance_id) => Some(cloud.instance(instance_id).await?),
        None => None,
    };
    Ok(Observed {
        desired_capacity: group.desired_capacity,
        instances: group.instances,
        instance,
    })
}
