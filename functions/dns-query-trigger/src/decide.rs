//! decide: which query-log lines count, and whether to start the container. Pure.
//! The trigger observes nothing before deciding: a lookup starts the container
//! whatever its state (setting desired capacity 1 on a running group changes nothing).
//!
//! A Route53 query log line is
//! `1.0 2017-12-13T08:16:02.130Z Z123412341234 mc.example.com A NOERROR UDP FRA6 192.0.2.1 -`:
//! version, timestamp, hosted zone, query name, query type, response code, protocol,
//! edge location, resolver IP, EDNS client subnet.

use crate::parse::Input;

/// The name and record type whose lookups start the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTarget {
    /// Lower case, without a trailing dot.
    pub name: String,
    /// Upper case, e.g. `A`.
    pub record_type: String,
}

impl QueryTarget {
    /// Does this query-log line ask for our name and type?
    pub fn matches_line(&self, line: &str) -> bool {
        let mut fields = line.split_ascii_whitespace();
        let (Some(name), Some(kind)) = (fields.nth(3), fields.next()) else {
            return false;
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        name.eq_ignore_ascii_case(&self.name) && kind.eq_ignore_ascii_case(&self.record_type)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub lines_seen: usize,
    pub lines_matched: usize,
    /// Scale to 1 and keep the idle alarm quiet.
    pub start: bool,
}

pub const DATA_MESSAGE: &str = "DATA_MESSAGE";

/// Counts the matching lines; starts when at least one matches. A `CONTROL_MESSAGE`
/// (CloudWatch Logs checking that the destination is reachable) never starts anything.
pub fn decide(target: &QueryTarget, data: &Input) -> Plan {
    if data.message_type != DATA_MESSAGE {
        return Plan::default();
    }
    let (mut seen, mut matched) = (0, 0);
    for line in data
        .log_events
        .iter()
        .flat_map(|entry| entry.message.lines())
        .filter(|line| !line.trim().is_empty())
    {
        seen += 1;
        if target.matches_line(line) {
            matched += 1;
        }
    }
    Plan {
        lines_seen: seen,
        lines_matched: matched,
        start: matched > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target() -> QueryTarget {
        QueryTarget {
            name: "mc.example.com".into(),
            record_type: "A".into(),
        }
    }

    fn line(name: &str, kind: &str) -> String {
        format!(
            "1.0 2017-12-13T08:16:02.130Z Z123412341234 {name} {kind} NOERROR UDP FRA6 192.0.2.1 -"
        )
    }

    fn batch(kind: &str, messages: &[String]) -> Input {
        let events: Vec<_> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"id": i.to_string(), "timestamp": 1_700_000_000_000_i64, "message": m}))
            .collect();
        serde_json::from_value(json!({
            "owner": "123456789012", "logGroup": "/aws/route53/example.com",
            "logStream": "Z123412341234/FRA6", "subscriptionFilters": ["cm"],
            "messageType": kind, "logEvents": events,
        }))
        .unwrap()
    }

    #[test]
    fn name_matches_case_insensitively_with_or_without_trailing_dot() {
        let t = target();
        assert!(t.matches_line(&line("mc.example.com", "A")));
        assert!(t.matches_line(&line("MC.Example.COM.", "a")));
        assert!(t.matches_line(&line("mc.example.com.", "A")));
    }

    #[test]
    fn other_names_and_types_do_not_count() {
        let t = target();
        assert!(!t.matches_line(&line("_minecraft._tcp.mc.example.com", "SRV")));
        assert!(!t.matches_line(&line("_minecraft._tcp.mc.example.com", "A")));
        assert!(!t.matches_line(&line("www.mc.example.com", "A")));
        assert!(!t.matches_line(&line("mc.example.com.evil.net", "A")));
        assert!(!t.matches_line(&line("mc.example.com", "AAAA")));
        assert!(!t.matches_line(&line("xmc.example.com", "A")));
        assert!(!t.matches_line("garbage"));
        assert!(!t.matches_line("1.0 2017 Z1 mc.example.com"));
        assert!(!t.matches_line(""));
    }

    #[test]
    fn a_batch_with_one_match_starts() {
        let data = batch(
            DATA_MESSAGE,
            &[line("other.example.com", "A"), line("mc.example.com", "A")],
        );
        assert_eq!(
            decide(&target(), &data),
            Plan {
                lines_seen: 2,
                lines_matched: 1,
                start: true
            }
        );
    }

    #[test]
    fn a_batch_without_a_match_does_nothing() {
        let data = batch(DATA_MESSAGE, &[line("mc.example.com", "TXT")]);
        let d = decide(&target(), &data);
        assert!(!d.start);
        assert_eq!((d.lines_seen, d.lines_matched), (1, 0));
    }

    #[test]
    fn control_messages_and_empty_batches_do_nothing() {
        let control = batch(
            "CONTROL_MESSAGE",
            &["CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.".into()],
        );
        assert_eq!(decide(&target(), &control), Plan::default());
        assert_eq!(
            decide(&target(), &batch(DATA_MESSAGE, &[])),
            Plan::default()
        );
    }

    #[test]
    fn a_thousand_matching_lines_are_one_decision() {
        let lines: Vec<String> = (0..1000).map(|_| line("mc.example.com", "A")).collect();
        let d = decide(&target(), &batch(DATA_MESSAGE, &lines));
        assert_eq!((d.lines_seen, d.lines_matched, d.start), (1000, 1000, true));
    }
}
