//! The part every function's in-memory fake shares: a log of the calls made (as the
//! AWS operation name and its arguments, e.g. `UpdateAutoScalingGroup g 1`) and
//! failures injected per operation, answered as AWS would after the SDK's retries.
//! Each function's `fake` module keeps its own state (the group, the records...) and
//! asks the recorder before every call. The pieces of state several fakes keep alike
//! are here too: groups by their desired capacity ([`Groups`]), the metric data
//! points put ([`Datapoint`]) and a hosted zone's records listed in pages as Route 53
//! lists them ([`Zone`], which holds the domain's registry).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::registry::{self, Entry, Record, RecordPage, RecordStart};
use crate::Error;

#[derive(Debug, Default)]
pub struct Recorder {
    calls: Mutex<Vec<String>>,
    failures: Mutex<HashMap<String, u32>>,
}

/// Read-only operations: they change nothing in AWS.
pub fn is_read(operation: &str) -> bool {
    ["Describe", "List", "Get"]
        .iter()
        .any(|prefix| operation.starts_with(prefix))
}

fn operation_of(call: &str) -> &str {
    call.split_whitespace().next().unwrap_or_default()
}

impl Recorder {
    /// Logs `call` (operation first, then its arguments) and fails it when a failure
    /// of its operation is pending.
    pub fn call(&self, call: impl Into<String>) -> Result<(), Error> {
        let call = call.into();
        let operation = operation_of(&call).to_string();
        lock(&self.calls).push(call.clone());
        let mut failures = lock(&self.failures);
        match failures.get_mut(&operation) {
            Some(left) if *left > 0 => {
                *left -= 1;
                Err(Error::Aws {
                    operation: call,
                    message: "service error: Throttling: Rate exceeded (injected by the fake)"
                        .to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    /// The next `times` calls of `operation` fail.
    pub fn fail(&self, operation: &str, times: u32) {
        lock(&self.failures).insert(operation.to_string(), times);
    }

    /// Every call made, in order.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    /// The calls that change something (all but Describe*, List*, Get*).
    pub fn writes(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| !is_read(operation_of(c)))
            .collect()
    }

    /// How many calls of `operation` were made.
    pub fn count(&self, operation: &str) -> usize {
        lock(&self.calls)
            .iter()
            .filter(|c| operation_of(c) == operation)
            .count()
    }

    /// Forgets the calls (not the pending failures).
    pub fn clear(&self) {
        lock(&self.calls).clear();
    }
}

/// One PutMetricData data point, as a fake keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
    pub unit: String,
    pub value: f64,
}

/// Auto Scaling groups in memory, by name, with their desired capacity.
#[derive(Debug, Default)]
pub struct Groups {
    desired: Mutex<BTreeMap<String, i32>>,
}

impl Groups {
    /// Adds the group `name` at `desired` (or sets it there).
    pub fn insert(&self, name: &str, desired: i32) {
        lock(&self.desired).insert(name.to_string(), desired);
    }

    /// The group's desired capacity, `None` when it does not exist.
    pub fn desired(&self, name: &str) -> Option<i32> {
        lock(&self.desired).get(name).copied()
    }

    /// DescribeAutoScalingGroups, recorded in `recorder`: the group's desired
    /// capacity. AWS answers an empty list for an unknown name, which
    /// [`crate::autoscaling::describe_group`] makes an error; so does this.
    pub fn describe_desired(&self, recorder: &Recorder, name: &str) -> Result<i32, Error> {
        let call = format!("DescribeAutoScalingGroups {name}");
        recorder.call(&call)?;
        self.desired(name).ok_or_else(|| Error::Aws {
            operation: call,
            message: "no such Auto Scaling group".to_string(),
        })
    }

    /// UpdateAutoScalingGroup with a new desired capacity, recorded in `recorder`;
    /// an unknown group is AWS's ValidationError.
    pub fn set_desired(&self, recorder: &Recorder, name: &str, desired: i32) -> Result<(), Error> {
        let call = format!("UpdateAutoScalingGroup {name} DesiredCapacity={desired}");
        recorder.call(&call)?;
        match lock(&self.desired).get_mut(name) {
            Some(current) => {
                *current = desired;
                Ok(())
            }
            None => Err(Error::Aws {
                operation: call,
                message: "service error: ValidationError: AutoScalingGroup name not found"
                    .to_string(),
            }),
        }
    }
}

/// A hosted zone's record sets in memory, listed (`ListResourceRecordSets`) in Route
/// 53's order, in pages: the domain's registry of containers for the fakes of the
/// functions that read it.
#[derive(Debug)]
pub struct Zone {
    records: Mutex<Vec<Record>>,
    page_size: Mutex<usize>,
}

impl Default for Zone {
    /// Empty, with Route 53's page size.
    fn default() -> Self {
        Zone {
            records: Mutex::new(Vec::new()),
            page_size: Mutex::new(registry::RECORDS_PER_PAGE as usize),
        }
    }
}

/// Route 53's listing order: the name's labels reversed, then the type.
fn listing_order(name: &str, kind: &str) -> (Vec<String>, String) {
    let labels = name
        .trim_end_matches('.')
        .to_ascii_lowercase()
        .split('.')
        .rev()
        .map(str::to_string)
        .collect();
    (labels, kind.to_string())
}

impl Zone {
    /// Adds a record set (the name as Route 53 lists it, with its trailing dot).
    pub fn add_record(&self, name: &str, kind: &str, values: &[&str]) {
        let mut records = lock(&self.records);
        records.push(Record {
            name: name.to_string(),
            kind: kind.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
        });
        records.sort_by_key(|r| listing_order(&r.name, &r.kind));
    }

    /// Registers `entry` under `domain` as a container's stack does.
    pub fn register(&self, entry: &Entry, domain: &str) {
        self.add_record(
            &format!("{}.", registry::record_name(&entry.name, domain)),
            "TXT",
            &[&format!("\"{}\"", registry::format_value(entry))],
        );
    }

    /// Removes the container's entry, as deleting its stack does.
    pub fn deregister(&self, name: &str, domain: &str) {
        let record = format!("{}.", registry::record_name(name, domain));
        lock(&self.records).retain(|r| r.name != record);
    }

    /// How many records a page of the listing holds.
    pub fn set_page_size(&self, size: usize) {
        *lock(&self.page_size) = size.max(1);
    }

    /// ListResourceRecordSets of `zone` from `start`, recorded in `recorder`: one page.
    pub fn list(
        &self,
        recorder: &Recorder,
        zone: &str,
        start: &RecordStart,
    ) -> Result<RecordPage, Error> {
        recorder.call(format!(
            "ListResourceRecordSets {zone} {} {}",
            start.name, start.kind
        ))?;
        let records = lock(&self.records);
        let size = *lock(&self.page_size);
        let from = listing_order(&start.name, &start.kind);
        let rest: Vec<&Record> = records
            .iter()
            .filter(|r| listing_order(&r.name, &r.kind) >= from)
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
}

/// Locks a fake's state; a test that panicked while holding it leaves it usable.
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_calls_and_fails_the_injected_number_of_times() {
        let r = Recorder::default();
        r.fail("UpdateService", 2);
        assert!(r.call("DescribeServices c s").is_ok());
        let err = r.call("UpdateService c s 1").unwrap_err().to_string();
        assert!(err.contains("UpdateService c s 1 failed") && err.contains("Throttling"));
        assert!(r.call("UpdateService c s 1").is_err());
        assert!(r.call("UpdateService c s 1").is_ok());
        assert_eq!(r.count("UpdateService"), 3);
        assert_eq!(r.writes().len(), 3);
        assert_eq!(r.calls()[0], "DescribeServices c s");
        r.clear();
        assert!(r.calls().is_empty());
    }

    #[test]
    fn a_zone_lists_its_records_in_route_53_order_page_by_page() {
        let (r, zone) = (Recorder::default(), Zone::default());
        let entry = |name: &str| Entry {
            name: name.into(),
            region: "eu-west-1".into(),
            asg: format!("cm-asg-dev-{name}"),
            metric: format!("cm-dev-{name}"),
            threshold: 20.0,
        };
        zone.add_record("www.example.com.", "A", &["192.0.2.1"]);
        zone.register(&entry("vh"), "example.com");
        zone.register(&entry("mc"), "Example.com.");
        zone.add_record("_cm.example.com.", "TXT", &["\"x\""]);
        zone.set_page_size(2);
        let first = zone
            .list(&r, "Z1", &RecordStart::first("example.com"))
            .unwrap();
        let names: Vec<&str> = first.records.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["_cm.example.com.", "mc._cm.example.com."]);
        let next = first.next.expect("a second page");
        assert_eq!(next.name, "vh._cm.example.com.");
        let second = zone.list(&r, "Z1", &next).unwrap();
        assert_eq!(second.records.len(), 2, "{second:?}");
        assert_eq!(second.next, None);
        assert_eq!(
            registry::read_page("example.com", &second.records).entries,
            vec![entry("vh")]
        );
        zone.deregister("vh", "example.com");
        assert_eq!(zone.list(&r, "Z1", &next).unwrap().records.len(), 1);
        assert_eq!(
            r.calls()[0],
            "ListResourceRecordSets Z1 _cm.example.com TXT"
        );
        r.fail("ListResourceRecordSets", 1);
        assert!(zone.list(&r, "Z1", &next).is_err());
    }

    #[test]
    fn groups_are_read_and_scaled_like_auto_scaling_does() {
        let (r, groups) = (Recorder::default(), Groups::default());
        groups.insert("g", 0);
        assert_eq!(groups.describe_desired(&r, "g").unwrap(), 0);
        groups.set_desired(&r, "g", 1).unwrap();
        assert_eq!(groups.desired("g"), Some(1));
        let err = groups.describe_desired(&r, "h").unwrap_err().to_string();
        assert!(
            err.starts_with("DescribeAutoScalingGroups h failed"),
            "{err}"
        );
        let err = groups.set_desired(&r, "h", 1).unwrap_err().to_string();
        assert!(
            err.starts_with("UpdateAutoScalingGroup h DesiredCapacity=1 failed")
                && err.contains("ValidationError"),
            "{err}"
        );
        assert_eq!(groups.desired("h"), None);
        r.fail("UpdateAutoScalingGroup", 1);
        assert!(groups.set_desired(&r, "g", 0).is_err());
        assert_eq!(
            groups.desired("g"),
            Some(1),
            "a failed call changes nothing"
        );
        assert_eq!(
            r.writes(),
            vec![
                "UpdateAutoScalingGroup g DesiredCapacity=1",
                "UpdateAutoScalingGroup h DesiredCapacity=1",
                "UpdateAutoScalingGroup g DesiredCapacity=0",
            ]
        );
    }
}
