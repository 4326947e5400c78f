//! [`Cloud`] in memory, for fast tests: the hosted zone's records (listed in Route
//! 53's order, in pages), Auto Scaling groups and `Players` data points by region,
//! the start token, and every call recorded (with failures injected per operation
//! through [`Recorder::fail`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

use cm_core::autoscaling::GroupState;
use cm_core::fake::{lock, Recorder};
use cm_core::registry::{self, Entry};
use cm_core::Error;

use crate::cloud::{Cloud, Record, RecordPage, RecordStart, Window};
use crate::parse::Secret;

#[derive(Debug)]
pub struct FakeCloud {
    pub recorder: Recorder,
    records: Mutex<Vec<Record>>,
    page_size: Mutex<usize>,
    /// By (region, group).
    groups: Mutex<BTreeMap<(String, String), GroupState>>,
    /// By (region, metric dimension value).
    players: Mutex<BTreeMap<(String, String), f64>>,
    token: Mutex<Option<String>>,
}

impl Default for FakeCloud {
    fn default() -> Self {
        FakeCloud {
            recorder: Recorder::default(),
            records: Mutex::new(Vec::new()),
            page_size: Mutex::new(300),
            groups: Mutex::new(BTreeMap::new()),
            players: Mutex::new(BTreeMap::new()),
            token: Mutex::new(None),
        }
    }
}

/// Route 53's listing order: the name's labels reversed, then the type.
fn order(name: &str, kind: &str) -> (Vec<String>, String) {
    let labels = name
        .trim_end_matches('.')
        .to_ascii_lowercase()
        .split('.')
        .rev()
        .map(str::to_string)
        .collect();
    (labels, kind.to_string())
}

impl FakeCloud {
    /// The start token in the SSM parameter.
    pub fn set_token(&self, token: &str) {
        *lock(&self.token) = Some(token.to_string());
    }

    /// Adds a record set (the name as Route 53 lists it, with its trailing dot).
    pub fn add_record(&self, name: &str, kind: &str, values: &[&str]) {
        let mut records = lock(&self.records);
        records.push(Record {
            name: name.to_string(),
            kind: kind.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
        });
        records.sort_by_key(|r| order(&r.name, &r.kind));
    }

    /// Registers `entry` under `domain` as a container's stack does.
    pub fn register(&self, entry: &Entry, domain: &str) {
        self.add_record(
            &format!("{}.", registry::record_name(&entry.name, domain)),
            "TXT",
            &[&format!("\"{}\"", registry::format_value(entry))],
        );
    }

    /// How many records a page of the listing holds.
    pub fn set_page_size(&self, size: usize) {
        *lock(&self.page_size) = size.max(1);
    }

    /// A group in `region` at `desired` with instances in these lifecycle states.
    pub fn add_group(&self, region: &str, group: &str, desired: i32, states: &[&str]) {
        lock(&self.groups).insert(
            (region.to_string(), group.to_string()),
            GroupState {
                desired_capacity: desired,
                instances: states
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (format!("i-{group}-{i}"), s.to_string()))
                    .collect(),
            },
        );
    }

    /// The latest `Players` data point of `metric` in `region`.
    pub fn set_players(&self, region: &str, metric: &str, count: f64) {
        lock(&self.players).insert((region.to_string(), metric.to_string()), count);
    }

    /// The group's desired capacity, `None` when it does not exist in `region`.
    pub fn desired(&self, region: &str, group: &str) -> Option<i32> {
        lock(&self.groups)
            .get(&(region.to_string(), group.to_string()))
            .map(|g| g.desired_capacity)
    }
}

impl Cloud for FakeCloud {
    async fn list_records(&self, zone: &str, start: &RecordStart) -> Result<RecordPage, Error> {
        self.recorder.call(format!(
            "ListResourceRecordSets {zone} {} {}",
            start.name, start.kind
        ))?;
        let records = lock(&self.records);
        let size = *lock(&self.page_size);
        let from = order(&start.name, &start.kind);
        let rest: Vec<&Record> = records
            .iter()
            .filter(|r| order(&r.name, &r.kind) >= from)
            .collect();
        let page: Vec<Record> = rest.iter().take(size).map(|r| (*r).clone()).collect();
        let next = rest.get(size).map(|r| RecordStart {
            name: r.name.clone(),
            kind: r.kind.clone(),
        });
        Ok(RecordPage {
            records: page,
            next,
        })
    }

    async fn groups(
        &self,
        region: &str,
        groups: &[String],
    ) -> Result<BTreeMap<String, GroupState>, Error> {
        self.recorder.call(format!(
            "DescribeAutoScalingGroups {region} {}",
            groups.join(",")
        ))?;
        let all = lock(&self.groups);
        Ok(groups
            .iter()
            .filter_map(|g| {
                all.get(&(region.to_string(), g.clone()))
                    .map(|s| (g.clone(), s.clone()))
            })
            .collect())
    }

    async fn players(
        &self,
        region: &str,
        namespace: &str,
        metrics: &[String],
        _window: Window,
    ) -> Result<BTreeMap<String, f64>, Error> {
        self.recorder.call(format!(
            "GetMetricData {region} {namespace} {}",
            metrics.join(",")
        ))?;
        let all = lock(&self.players);
        Ok(metrics
            .iter()
            .filter_map(|m| {
                all.get(&(region.to_string(), m.clone()))
                    .map(|v| (m.clone(), *v))
            })
            .collect())
    }

    async fn set_desired(&self, region: &str, group: &str, desired: i32) -> Result<(), Error> {
        let call = format!("UpdateAutoScalingGroup {region} {group} DesiredCapacity={desired}");
        self.recorder.call(&call)?;
        match lock(&self.groups).get_mut(&(region.to_string(), group.to_string())) {
            Some(g) => {
                g.desired_capacity = desired;
                Ok(())
            }
            None => Err(Error::Aws {
                operation: call,
                message: "service error: ValidationError: AutoScalingGroup name not found"
                    .to_string(),
            }),
        }
    }

    async fn start_token(&self, parameter: &str) -> Result<Secret, Error> {
        let call = format!("GetParameter {parameter}");
        self.recorder.call(&call)?;
        lock(&self.token)
            .clone()
            .map(Secret::new)
            .ok_or(Error::Aws {
                operation: call,
                message: "service error: ParameterNotFound".to_string(),
            })
    }
}
