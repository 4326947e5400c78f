//! [`Cloud`] in memory, for fast tests: Auto Scaling groups (desired capacity and
//! instances), the instances' public addresses, launch times and tags, scripted
//! game-server answers, the data points put, the messages sent, and every AWS call
//! recorded (with failures injected per operation through [`Recorder::fail`]).
//! Writes change the state as AWS would: a tagged instance reads as answered on the
//! next tick, a stopped group has desired capacity 0. The probes are listed apart
//! ([`FakeCloud::probes`]): they are not AWS calls.

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::Duration;

use cm_core::autoscaling::GroupState;
use cm_core::fake::{lock, Recorder};
use cm_core::Error;

use crate::cloud::{Cloud, Datum};
use crate::config::{PlayersMetric, ANSWERED_TAG};
use crate::decide::{InstanceFacts, Notification};
use crate::protocol::{GameProtocol, ProbeAnswer, ProbeError};

/// One PutMetricData data point.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
    pub unit: String,
    pub value: f64,
    /// Seconds since the Unix epoch.
    pub timestamp: i64,
}

/// One question asked of a game server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeCall {
    pub protocol: GameProtocol,
    pub host: String,
    pub port: u16,
    pub timeout: Duration,
}

#[derive(Debug, Default)]
pub struct FakeCloud {
    pub recorder: Recorder,
    groups: Mutex<BTreeMap<String, GroupState>>,
    instances: Mutex<BTreeMap<String, InstanceFacts>>,
    answers: Mutex<VecDeque<Result<ProbeAnswer, ProbeError>>>,
    probes: Mutex<Vec<ProbeCall>>,
    datapoints: Mutex<Vec<Datapoint>>,
    messages: Mutex<Vec<Notification>>,
}

impl FakeCloud {
    /// One group with these (instance id, lifecycle state) pairs; its desired
    /// capacity is 1 with an instance, else 0.
    pub fn with_group(name: &str, instances: &[(&str, &str)]) -> Self {
        let fake = FakeCloud::default();
        fake.set_instances(name, instances);
        fake
    }

    /// Replaces the group's instances (a scale-out, a scale-in, a state change); its
    /// desired capacity becomes 1 with an instance, else 0.
    pub fn set_instances(&self, name: &str, instances: &[(&str, &str)]) {
        lock(&self.groups).insert(
            name.to_string(),
            GroupState {
                desired_capacity: i32::from(!instances.is_empty()),
                instances: instances
                    .iter()
                    .map(|(id, state)| (id.to_string(), state.to_string()))
                    .collect(),
            },
        );
    }

    /// The group's desired capacity (`None`: no such group).
    pub fn desired(&self, name: &str) -> Option<i32> {
        lock(&self.groups).get(name).map(|g| g.desired_capacity)
    }

    /// Sets the group's desired capacity, leaving its instances as they are.
    pub fn set_desired(&self, name: &str, desired: i32) {
        if let Some(group) = lock(&self.groups).get_mut(name) {
            group.desired_capacity = desired;
        }
    }

    fn facts(&self, instance_id: &str, change: impl FnOnce(&mut InstanceFacts)) {
        change(
            lock(&self.instances)
                .entry(instance_id.to_string())
                .or_default(),
        );
    }

    /// Gives `instance_id` a public IPv4 address.
    pub fn with_address(self, instance_id: &str, ip: Ipv4Addr) -> Self {
        self.facts(instance_id, |f| f.public_ipv4 = Some(ip));
        self
    }

    /// Gives `instance_id` its launch time (seconds since the Unix epoch).
    pub fn with_launch(self, instance_id: &str, launched_at: i64) -> Self {
        self.facts(instance_id, |f| f.launched_at = Some(launched_at));
        self
    }

    /// Gives `instance_id` the first-answer tag: its game server answered before.
    pub fn with_answered(self, instance_id: &str, value: &str) -> Self {
        self.facts(instance_id, |f| f.answered = Some(value.to_string()));
        self
    }

    /// The value of the instance's first-answer tag, if it has one.
    pub fn answered_tag(&self, instance_id: &str) -> Option<String> {
        lock(&self.instances)
            .get(instance_id)
            .and_then(|f| f.answered.clone())
    }

    /// Queues the game server's next answer; with none queued it stays silent (the
    /// probe times out).
    pub fn answer(&self, answer: Result<ProbeAnswer, ProbeError>) {
        lock(&self.answers).push_back(answer);
    }

    /// Queues an answer of `players` (of 20).
    pub fn answer_players(&self, players: u32) {
        self.answer(Ok(ProbeAnswer {
            players,
            max_players: Some(20),
        }));
    }

    /// Every probe made, in order.
    pub fn probes(&self) -> Vec<ProbeCall> {
        lock(&self.probes).clone()
    }

    pub fn datapoints(&self) -> Vec<Datapoint> {
        lock(&self.datapoints).clone()
    }

    /// The data points of one metric.
    pub fn datapoints_of(&self, metric: &str) -> Vec<Datapoint> {
        self.datapoints()
            .into_iter()
            .filter(|d| d.name == metric)
            .collect()
    }

    /// Every message published, in order.
    pub fn messages(&self) -> Vec<Notification> {
        lock(&self.messages).clone()
    }
}

impl Cloud for FakeCloud {
    async fn group(&self, asg: &str) -> Result<GroupState, Error> {
        let call = format!("DescribeAutoScalingGroups {asg}");
        self.recorder.call(&call)?;
        lock(&self.groups).get(asg).cloned().ok_or(Error::Aws {
            operation: call,
            message: "no such Auto Scaling group".into(),
        })
    }

    async fn instance(&self, instance_id: &str) -> Result<InstanceFacts, Error> {
        self.recorder
            .call(format!("DescribeInstances {instance_id}"))?;
        Ok(lock(&self.instances)
            .get(instance_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn probe(
        &self,
        protocol: GameProtocol,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<ProbeAnswer, ProbeError> {
        lock(&self.probes).push(ProbeCall {
            protocol,
            host: host.to_string(),
            port,
            timeout,
        });
        lock(&self.answers)
            .pop_front()
            .unwrap_or(Err(ProbeError::Timeout(timeout)))
    }

    async fn put_metric_data(
        &self,
        metric: &PlayersMetric,
        data: &[Datum],
        at: i64,
    ) -> Result<(), Error> {
        let list: Vec<String> = data
            .iter()
            .map(|d| format!("{}={}", d.metric, d.value))
            .collect();
        self.recorder.call(format!(
            "PutMetricData {}/{}",
            metric.namespace,
            list.join(",")
        ))?;
        lock(&self.datapoints).extend(data.iter().map(|d| Datapoint {
            namespace: metric.namespace.clone(),
            name: d.metric.to_string(),
            dimensions: metric.dimensions.clone(),
            unit: d.unit.name().to_string(),
            value: d.value,
            timestamp: at,
        }));
        Ok(())
    }

    async fn mark_answered(&self, instance_id: &str, value: &str) -> Result<(), Error> {
        self.recorder
            .call(format!("CreateTags {instance_id} {ANSWERED_TAG}={value}"))?;
        self.facts(instance_id, |f| f.answered = Some(value.to_string()));
        Ok(())
    }

    async fn stop(&self, asg: &str) -> Result<(), Error> {
        let call = format!("UpdateAutoScalingGroup {asg} 0");
        self.recorder.call(&call)?;
        match lock(&self.groups).get_mut(asg) {
            Some(group) => {
                group.desired_capacity = 0;
                Ok(())
            }
            None => Err(Error::Aws {
                operation: call,
                message: "no such Auto Scaling group".into(),
            }),
        }
    }

    async fn notify(&self, notification: &Notification) -> Result<(), Error> {
        self.recorder
            .call(format!("Publish {}", notification.topic_arn))?;
        lock(&self.messages).push(notification.clone());
        Ok(())
    }
}
