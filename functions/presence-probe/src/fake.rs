//! [`Cloud`] in memory, for fast tests: Auto Scaling groups with their instances, the
//! instances' public addresses, scripted game-server answers, the data points put,
//! and every AWS call recorded (with failures injected per operation through
//! [`Recorder::fail`]). The probes are listed apart ([`FakeCloud::probes`]): they
//! are not AWS calls.

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::Duration;

use cm_core::fake::{lock, Recorder};
use cm_core::Error;

use crate::cloud::Cloud;
use crate::config::{PlayersMetric, PLAYERS_METRIC};
use crate::protocol::{GameProtocol, ProbeAnswer, ProbeError};

/// One PutMetricData data point.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
    pub unit: String,
    pub value: f64,
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
    groups: Mutex<BTreeMap<String, Vec<(String, String)>>>,
    addresses: Mutex<BTreeMap<String, Ipv4Addr>>,
    answers: Mutex<VecDeque<Result<ProbeAnswer, ProbeError>>>,
    probes: Mutex<Vec<ProbeCall>>,
    datapoints: Mutex<Vec<Datapoint>>,
}

impl FakeCloud {
    /// One group with these (instance id, lifecycle state) pairs.
    pub fn with_group(name: &str, instances: &[(&str, &str)]) -> Self {
        let fake = FakeCloud::default();
        fake.set_instances(name, instances);
        fake
    }

    /// Replaces the group's instances (a scale-out, a scale-in, a state change).
    pub fn set_instances(&self, name: &str, instances: &[(&str, &str)]) {
        lock(&self.groups).insert(
            name.to_string(),
            instances
                .iter()
                .map(|(id, state)| (id.to_string(), state.to_string()))
                .collect(),
        );
    }

    /// Gives `instance_id` a public IPv4 address.
    pub fn with_address(self, instance_id: &str, ip: Ipv4Addr) -> Self {
        lock(&self.addresses).insert(instance_id.to_string(), ip);
        self
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
}

impl Cloud for FakeCloud {
    async fn group_instances(&self, asg: &str) -> Result<Vec<(String, String)>, Error> {
        let call = format!("DescribeAutoScalingGroups {asg}");
        self.recorder.call(&call)?;
        lock(&self.groups).get(asg).cloned().ok_or(Error::Aws {
            operation: call,
            message: "no such Auto Scaling group".into(),
        })
    }

    async fn public_ipv4(&self, instance_id: &str) -> Result<Option<Ipv4Addr>, Error> {
        self.recorder
            .call(format!("DescribeInstances {instance_id}"))?;
        Ok(lock(&self.addresses).get(instance_id).copied())
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

    async fn put_players(&self, metric: &PlayersMetric, players: u32) -> Result<(), Error> {
        self.recorder.call(format!(
            "PutMetricData {}/{PLAYERS_METRIC}={players}",
            metric.namespace
        ))?;
        lock(&self.datapoints).push(Datapoint {
            namespace: metric.namespace.clone(),
            name: PLAYERS_METRIC.to_string(),
            dimensions: metric.dimensions.clone(),
            unit: "Count".to_string(),
            value: f64::from(players),
        });
        Ok(())
    }
}
