//! parse: the CloudWatch Logs subscription envelope, `{"awslogs": {"data": "<base64 of
//! gzip of JSON>"}}`, into the log batch (`aws_lambda_events`' `LogData`), then the
//! batch into the containers it asks for ([`queries`]: each queried label of the
//! domain, with its count). Each layer of the envelope fails with its own message, so
//! a bad payload says whether its base64, its gzip or its JSON was wrong.
//!
//! A Route53 query log line is
//! `1.0 2017-12-13T08:16:02.130Z Z123412341234 mc.example.com A NOERROR UDP FRA6 192.0.2.1 -`:
//! version, timestamp, hosted zone, query name, query type, response code, protocol,
//! edge location, resolver IP, EDNS client subnet.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;

use aws_lambda_events::cloudwatch_logs::LogData;
use base64::Engine;
use cm_core::Error;
use flate2::read::MultiGzDecoder;
use serde_json::Value;

/// Decompressed payloads larger than this are refused (CloudWatch Logs sends at most
/// about 1 MB of log events per delivery; this leaves a wide margin and stops a
/// gzip bomb).
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// The parsed event: one delivery of query-log lines.
pub type Input = LogData;

/// The message type of a batch of log lines (the other, `CONTROL_MESSAGE`, is
/// CloudWatch Logs checking that the destination is reachable).
pub const DATA_MESSAGE: &str = "DATA_MESSAGE";

/// The names whose lookups count: `<label>.<domain>` for one label, of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTarget {
    /// The domain: lower case, without a trailing dot.
    pub domain: String,
    /// Upper case, e.g. `A`.
    pub record_type: String,
}

impl QueryTarget {
    /// The container label this query-log line asks for: the query name is
    /// `<label>.<domain>` (any case, trailing dot allowed), the label a container name
    /// as the registry holds it (`cm_core::registry::is_container_name`, compared in
    /// lower case), and the type is ours. `None` for any other line: the domain itself,
    /// sub-names (`_minecraft._tcp.mc.<domain>`, `www.mc.<domain>`), other domains,
    /// other types, short lines.
    pub fn label_of<'a>(&self, line: &'a str) -> Option<Cow<'a, str>> {
        let mut fields = line.split_ascii_whitespace();
        let (name, kind) = (fields.nth(3)?, fields.next()?);
        if !kind.eq_ignore_ascii_case(&self.record_type) {
            return None;
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        let cut = name.len().checked_sub(self.domain.len() + 1)?;
        let (label, rest) = (name.get(..cut)?, name.get(cut..)?);
        let domain = rest.strip_prefix('.')?;
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        // Borrowed when already in lower case (as resolvers mostly ask): no allocation
        // per line.
        let label = if label.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(label.to_ascii_lowercase())
        } else {
            Cow::Borrowed(label)
        };
        cm_core::registry::is_container_name(&label).then_some(label)
    }
}

/// What one batch asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queries {
    /// `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    pub message_type: String,
    pub log_group: String,
    /// Non-blank lines of a data message.
    pub lines_seen: usize,
    /// Lines asking for a container of the domain (registered or not).
    pub lines_matched: usize,
    /// Each label asked for, with how many lines asked for it.
    pub labels: BTreeMap<String, usize>,
}

/// The labels `data` asks for, counted. A `CONTROL_MESSAGE` asks for nothing.
pub fn queries(target: &QueryTarget, data: &Input) -> Queries {
    let mut queries = Queries {
        message_type: data.message_type.clone(),
        log_group: data.log_group.clone(),
        ..Queries::default()
    };
    if data.message_type != DATA_MESSAGE {
        return queries;
    }
    for line in data
        .log_events
        .iter()
        .flat_map(|entry| entry.message.lines())
        .filter(|line| !line.trim().is_empty())
    {
        queries.lines_seen += 1;
        if let Some(label) = target.label_of(line) {
            queries.lines_matched += 1;
            match queries.labels.get_mut(label.as_ref()) {
                Some(count) => *count += 1,
                None => {
                    queries.labels.insert(label.into_owned(), 1);
                }
            }
        }
    }
    queries
}

/// Decodes the whole event into the log batch.
pub fn parse(event: &Value) -> Result<Input, Error> {
    let data = event
        .get("awslogs")
        .and_then(|logs| logs.get("data"))
        .ok_or_else(|| {
            Error::invalid_event("not a CloudWatch Logs subscription event: no awslogs.data field")
        })?
        .as_str()
        .ok_or_else(|| Error::invalid_event("awslogs.data is not a string"))?;
    decode_data(data)
}

/// Decodes the `awslogs.data` string.
pub fn decode_data(data: &str) -> Result<LogData, Error> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| Error::invalid_event(format!("awslogs.data is not valid base64: {e}")))?;
    let mut json = Vec::new();
    MultiGzDecoder::new(compressed.as_slice())
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| Error::invalid_event(format!("awslogs.data is not valid gzip: {e}")))?;
    if json.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(Error::invalid_event(format!(
            "awslogs.data decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes"
        )));
    }
    serde_json::from_slice(&json).map_err(|e| {
        Error::invalid_event(format!(
            "awslogs.data is not valid CloudWatch Logs JSON: {e}"
        ))
    })
}

/// Builds `awslogs.data` from a batch: for sample events, tests and benchmarks.
pub fn encode_data(data: &LogData) -> String {
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail, and LogData always serialises.
    let json = serde_json::to_vec(data).unwrap_or_default();
    let _ = gz.write_all(&json);
    let compressed = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(compressed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn message(err: Error) -> String {
        err.to_string()
    }

    fn target() -> QueryTarget {
        QueryTarget {
            domain: "example.com".into(),
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
    fn a_label_of_the_domain_is_found_in_any_case_with_or_without_the_dot() {
        let t = target();
        for name in ["mc.example.com", "MC.Example.COM.", "mc.example.com."] {
            assert_eq!(
                t.label_of(&line(name, "A")).as_deref(),
                Some("mc"),
                "{name}"
            );
        }
        assert_eq!(
            t.label_of(&line("mc.example.com", "a")).as_deref(),
            Some("mc")
        );
        assert_eq!(
            t.label_of(&line("valheim-2.example.com", "A")).as_deref(),
            Some("valheim-2")
        );
    }

    #[test]
    fn other_names_and_types_ask_for_no_container() {
        let t = target();
        for (name, kind) in [
            ("_minecraft._tcp.mc.example.com", "SRV"),
            ("_minecraft._tcp.mc.example.com", "A"),
            ("www.mc.example.com", "A"),
            ("mc._cm.example.com", "TXT"),
            ("_cm.example.com", "A"),
            ("mc.example.com.evil.net", "A"),
            ("mc.example.com", "AAAA"),
            ("mcexample.com", "A"),
            ("mc.xexample.com", "A"),
            ("example.com", "A"),
            (".example.com", "A"),
            ("1mc.example.com", "A"),
            ("mc-.example.com", "A"),
            ("é.example.com", "A"),
        ] {
            assert_eq!(t.label_of(&line(name, kind)), None, "{name} {kind}");
        }
        assert_eq!(t.label_of("garbage"), None);
        assert_eq!(t.label_of("1.0 2017 Z1 mc.example.com"), None);
        assert_eq!(t.label_of(""), None);
    }

    #[test]
    fn a_batch_is_counted_per_label() {
        let data = batch(
            DATA_MESSAGE,
            &[
                line("mc.example.com", "A"),
                line("vh.example.com", "A"),
                line("MC.example.com.", "A"),
                line("_minecraft._tcp.mc.example.com", "SRV"),
                format!(
                    "{}\n{}",
                    line("pw.example.com", "A"),
                    line("mc.example.com", "A")
                ),
                "   ".into(),
            ],
        );
        let q = queries(&target(), &data);
        assert_eq!((q.lines_seen, q.lines_matched), (6, 5));
        assert_eq!(
            q.labels.into_iter().collect::<Vec<_>>(),
            vec![("mc".into(), 3), ("pw".into(), 1), ("vh".into(), 1)]
        );
        assert_eq!(q.message_type, DATA_MESSAGE);
        assert_eq!(q.log_group, "/aws/route53/example.com");
    }

    #[test]
    fn control_messages_and_empty_batches_ask_for_nothing() {
        let control = batch("CONTROL_MESSAGE", &[line("mc.example.com", "A")]);
        let q = queries(&target(), &control);
        assert_eq!((q.lines_seen, q.lines_matched), (0, 0));
        assert!(q.labels.is_empty());
        assert_eq!(q.message_type, "CONTROL_MESSAGE");
        assert_eq!(queries(&target(), &batch(DATA_MESSAGE, &[])).lines_seen, 0);
    }

    #[test]
    fn decodes_the_aws_sample_event() {
        let event: Value = serde_json::from_str(include_str!(
            "../../../events/dns-query-trigger/aws-sample-no-match.json"
        ))
        .unwrap();
        let data = parse(&event).unwrap();
        assert_eq!(data.message_type, "DATA_MESSAGE");
        assert_eq!(data.log_group, "testLogGroup");
        assert_eq!(data.log_events.len(), 2);
        assert_eq!(data.log_events[0].message, "[ERROR] First test message");
    }

    #[test]
    fn round_trips_what_encode_makes() {
        let batch = json!({"owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],
            "messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":"m"}]});
        let data: LogData = serde_json::from_value(batch).unwrap();
        assert_eq!(decode_data(&encode_data(&data)).unwrap(), data);
    }

    #[test]
    fn each_bad_layer_is_named() {
        let missing = message(parse(&json!({"Records": []})).unwrap_err());
        assert!(missing.contains("no awslogs.data field"), "{missing}");
        let not_string = message(parse(&json!({"awslogs": {"data": 5}})).unwrap_err());
        assert!(not_string.contains("not a string"), "{not_string}");
        let bad_b64 = message(decode_data("not base64 !!").unwrap_err());
        assert!(bad_b64.contains("not valid base64"), "{bad_b64}");
        let bad_gzip = message(decode_data(&b64(b"plain text, not gzip")).unwrap_err());
        assert!(bad_gzip.contains("not valid gzip"), "{bad_gzip}");
        let bad_json = message(decode_data(&b64(&gzip(b"{\"messageType\":"))).unwrap_err());
        assert!(
            bad_json.contains("not valid CloudWatch Logs JSON"),
            "{bad_json}"
        );
        let wrong_shape = message(decode_data(&b64(&gzip(b"{\"hello\":1}"))).unwrap_err());
        assert!(
            wrong_shape.contains("not valid CloudWatch Logs JSON"),
            "{wrong_shape}"
        );
    }

    #[test]
    fn a_truncated_gzip_stream_is_a_gzip_error() {
        let full = gzip(br#"{"messageType":"DATA_MESSAGE"}"#);
        let cut = &full[..full.len() / 2];
        let err = message(decode_data(&b64(cut)).unwrap_err());
        assert!(err.contains("not valid gzip"), "{err}");
    }
}
