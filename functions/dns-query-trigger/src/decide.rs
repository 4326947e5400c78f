//! decide: whether the registry the warm process holds will do ([`registry_read`]),
//! and, from the labels a batch asks for and the registry, what to do in each region
//! ([`plan`]). Pure. The router observes no group before deciding: a lookup starts
//! its container whatever its state (desired capacity 1 on a running group changes
//! nothing).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cm_core::registry::Entry;

use crate::parse::Queries;

/// A queried label not in the registry reads it again, but not sooner than this after
/// the last read (a container just deployed is found within this time; a name that
/// is no container, or a removed one, costs at most one read per this time).
pub const UNKNOWN_REFRESH: Duration = Duration::from_secs(10);

/// At most this many unknown labels are listed in the outcome (the rest are counted
/// in the log line): the outcome stays small whatever a batch holds.
pub const MAX_UNKNOWN_LISTED: usize = 100;

/// The domain's containers by name.
pub type Registry = BTreeMap<String, Entry>;

/// The registry as one read found it, by container name.
pub fn registry_of(entries: impl IntoIterator<Item = Entry>) -> Registry {
    entries
        .into_iter()
        .map(|entry| (entry.name.clone(), entry))
        .collect()
}

/// Why the registry is read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// The warm process holds none yet (its first batch that asks for a container).
    First,
    /// The one it holds is older than `REGISTRY_TTL_SECONDS`.
    Expired,
    /// A queried label is not in it, and it is at least [`UNKNOWN_REFRESH`] old.
    Unknown,
}

impl Read {
    pub fn as_str(self) -> &'static str {
        match self {
            Read::First => "first",
            Read::Expired => "expired",
            Read::Unknown => "unknown label",
        }
    }
}

/// Whether to read the registry before deciding: `held` is the registry the warm
/// process holds and its age. A batch that asks for no container reads nothing.
pub fn registry_read(
    held: Option<(&Registry, Duration)>,
    ttl: Duration,
    queries: &Queries,
) -> Option<Read> {
    if queries.labels.is_empty() {
        return None;
    }
    let Some((registry, age)) = held else {
        return Some(Read::First);
    };
    if age >= ttl {
        return Some(Read::Expired);
    }
    let unknown = queries.labels.keys().any(|l| !registry.contains_key(l));
    (unknown && age >= UNKNOWN_REFRESH).then_some(Read::Unknown)
}

/// One keep-alive data point.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    /// The `ContainerName` dimension: the entry's `metric`.
    pub container: String,
    /// The entry's threshold + 1: above its idle alarm's threshold.
    pub value: f64,
}

/// What to do in one region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionPlan {
    /// The groups to set to desired 1 (sorted, each once).
    pub groups: Vec<String>,
    /// One data point per container asked for, all in one PutMetricData.
    pub datums: Vec<Datum>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// By region (sorted).
    pub regions: BTreeMap<String, RegionPlan>,
    /// The labels asked for that are not in the registry (sorted; at most
    /// [`MAX_UNKNOWN_LISTED`]).
    pub unknown: Vec<String>,
    /// How many labels were not in the registry (all of them).
    pub unknown_count: usize,
}

impl Plan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// The calls the plan makes: one UpdateAutoScalingGroup per group and one
    /// PutMetricData per region.
    pub fn calls(&self) -> usize {
        self.regions.values().map(|r| r.groups.len() + 1).sum()
    }
}

/// For each region, the groups of the containers `queries` asks for and one
/// keep-alive data point each; the labels the registry does not hold are listed
/// (a removed container, a name that never was one): they scale nothing.
pub fn plan(registry: &Registry, queries: &Queries) -> Plan {
    let mut plan = Plan::default();
    let mut groups: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for label in queries.labels.keys() {
        let Some(entry) = registry.get(label) else {
            plan.unknown_count += 1;
            if plan.unknown.len() < MAX_UNKNOWN_LISTED {
                plan.unknown.push(label.clone());
            }
            continue;
        };
        groups
            .entry(entry.region.as_str())
            .or_default()
            .insert(entry.asg.as_str());
        let region = plan.regions.entry(entry.region.clone()).or_default();
        if !region.datums.iter().any(|d| d.container == entry.metric) {
            region.datums.push(Datum {
                container: entry.metric.clone(),
                value: entry.threshold + 1.0,
            });
        }
    }
    for (region, names) in groups {
        if let Some(r) = plan.regions.get_mut(region) {
            r.groups = names.into_iter().map(str::to_string).collect();
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_core::testing::registry_entry as entry;

    fn asking(labels: &[&str]) -> Queries {
        Queries {
            message_type: "DATA_MESSAGE".into(),
            lines_seen: labels.len(),
            lines_matched: labels.len(),
            labels: labels.iter().map(|l| (l.to_string(), 1)).collect(),
            ..Queries::default()
        }
    }

    fn registry() -> Registry {
        registry_of([
            entry("mc", "us-east-1"),
            entry("vh", "eu-west-1"),
            entry("pw", "eu-west-1"),
            entry("idle", "us-east-1"),
        ])
    }

    const TTL: Duration = Duration::from_secs(60);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_batch_asking_for_nothing_reads_nothing() {
        assert_eq!(registry_read(None, TTL, &asking(&[])), None);
        let r = registry();
        assert_eq!(
            registry_read(Some((&r, secs(3600))), TTL, &asking(&[])),
            None
        );
    }

    #[test]
    fn the_registry_is_read_first_then_kept_for_its_ttl() {
        let r = registry();
        let q = asking(&["mc", "vh"]);
        assert_eq!(registry_read(None, TTL, &q), Some(Read::First));
        assert_eq!(registry_read(Some((&r, secs(0))), TTL, &q), None);
        assert_eq!(registry_read(Some((&r, secs(59))), TTL, &q), None);
        assert_eq!(
            registry_read(Some((&r, secs(60))), TTL, &q),
            Some(Read::Expired)
        );
        // A TTL of 0: every batch that asks for a container reads it.
        assert_eq!(
            registry_read(Some((&r, secs(0))), Duration::ZERO, &q),
            Some(Read::Expired)
        );
    }

    #[test]
    fn an_unknown_label_reads_it_again_at_most_every_ten_seconds() {
        let r = registry();
        let q = asking(&["mc", "new"]);
        assert_eq!(registry_read(Some((&r, secs(0))), TTL, &q), None);
        assert_eq!(registry_read(Some((&r, secs(9))), TTL, &q), None);
        assert_eq!(
            registry_read(Some((&r, secs(10))), TTL, &q),
            Some(Read::Unknown)
        );
        assert_eq!(
            registry_read(Some((&r, secs(61))), TTL, &q),
            Some(Read::Expired)
        );
        // A TTL under 10 s still governs.
        assert_eq!(
            registry_read(Some((&r, secs(5))), secs(5), &q),
            Some(Read::Expired)
        );
    }

    #[test]
    fn each_region_gets_its_groups_and_one_datum_per_container() {
        let p = plan(&registry(), &asking(&["mc", "pw", "vh"]));
        assert_eq!(
            p.regions.keys().collect::<Vec<_>>(),
            vec!["eu-west-1", "us-east-1"]
        );
        let eu = &p.regions["eu-west-1"];
        assert_eq!(eu.groups, vec!["cm-asg-dev-pw", "cm-asg-dev-vh"]);
        assert_eq!(
            eu.datums,
            vec![
                Datum {
                    container: "cm-dev-pw".into(),
                    value: 21.0
                },
                Datum {
                    container: "cm-dev-vh".into(),
                    value: 21.0
                }
            ]
        );
        assert_eq!(p.regions["us-east-1"].groups, vec!["cm-asg-dev-mc"]);
        assert!(p.unknown.is_empty());
        assert_eq!(p.calls(), 2 + 1 + 1 + 1);
    }

    #[test]
    fn an_unknown_label_scales_nothing_and_is_listed() {
        let p = plan(&registry(), &asking(&["gone", "mc"]));
        assert_eq!(p.unknown, vec!["gone"]);
        assert_eq!(p.regions.len(), 1);
        let p = plan(&registry(), &asking(&["gone"]));
        assert!(p.is_empty());
        assert_eq!(p.calls(), 0);
        let p = plan(&Registry::new(), &asking(&["mc"]));
        assert_eq!((p.is_empty(), p.unknown_count), (true, 1));
    }

    #[test]
    fn the_unknown_list_is_bounded() {
        let labels: Vec<String> = (0..500).map(|i| format!("x{i}")).collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let p = plan(&registry(), &asking(&refs));
        assert_eq!(p.unknown.len(), MAX_UNKNOWN_LISTED);
        assert_eq!(p.unknown_count, 500);
    }

    #[test]
    fn two_names_for_one_group_make_one_update() {
        let mut r = registry();
        let mut alias = entry("mc2", "us-east-1");
        alias.asg = "cm-asg-dev-mc".into();
        alias.metric = "cm-dev-mc".into();
        r.insert("mc2".into(), alias);
        let p = plan(&r, &asking(&["mc", "mc2"]));
        let us = &p.regions["us-east-1"];
        assert_eq!(us.groups, vec!["cm-asg-dev-mc"]);
        assert_eq!(us.datums.len(), 1);
    }

    #[test]
    fn twenty_containers_in_two_regions_are_one_round_per_region() {
        let r = registry_of((0..20).map(|i| {
            entry(
                &format!("c{i}"),
                if i % 2 == 0 { "us-east-1" } else { "eu-west-1" },
            )
        }));
        let labels: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let p = plan(&r, &asking(&refs));
        assert_eq!(p.regions.len(), 2);
        for region in p.regions.values() {
            assert_eq!((region.groups.len(), region.datums.len()), (10, 10));
        }
        assert_eq!(p.calls(), 22);
    }
}
