//! The part every function's in-memory fake shares: a log of the calls made (as the
//! AWS operation name and its arguments, e.g. `UpdateAutoScalingGroup g 1`) and
//! failures injected per operation, answered as AWS would after the SDK's retries.
//! Each function's `fake` module keeps its own state (the group, the records...) and
//! asks the recorder before every call. The pieces of state several fakes keep alike
//! are here too: groups by their desired capacity ([`Groups`]) and the metric data
//! points put ([`Datapoint`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

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
