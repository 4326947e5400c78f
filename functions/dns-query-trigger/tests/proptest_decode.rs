//! The query-log decoder and filter on any input: any `awslogs.data` string, any
//! bytes behind valid base64 and gzip, any envelope JSON. The decoder answers (a
//! batch or an error naming base64, gzip or JSON), never panics; a batch survives
//! encode -> decode; the labels counted are exactly what a plain reading of the line
//! format finds.
//!
//! Bounded: proptest's default 256 cases per property (PROPTEST_CASES overrides);
//! proptest saves a failing case in a regressions file (commit it with the fix) and
//! replays it first from then on.

use std::io::Write;

use aws_lambda_events::cloudwatch_logs::LogData;
use base64::Engine;
use cm_core::testing::arb_json;
use std::collections::BTreeMap;

use dns_query_trigger::parse::{decode_data, encode_data, parse, queries, QueryTarget};
use proptest::prelude::*;
use serde_json::json;

fn b64_gzip(bytes: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip into memory");
    base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("gzip into memory"))
}

fn target() -> QueryTarget {
    QueryTarget {
        domain: "example.com".into(),
        record_type: "A".into(),
    }
}

/// The line format read plainly: the 4th field is the name, the 5th the type; the
/// name, in lower case and without one trailing dot, is `<label>.example.com`, the
/// label a lower-case DNS label starting with a letter.
fn model_label(line: &str) -> Option<String> {
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    if fields.len() < 5 || !fields[4].eq_ignore_ascii_case("A") {
        return None;
    }
    let name = fields[3].to_ascii_lowercase();
    let name = name.strip_suffix('.').unwrap_or(&name);
    let label = name.strip_suffix(".example.com")?;
    let ok = label.len() <= 63
        && label.starts_with(|c: char| c.is_ascii_lowercase())
        && !label.ends_with('-')
        && label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then(|| label.to_string())
}

/// Query-log lines near the target: its name in any case, with or without the dot,
/// sub-names, other types, short and empty lines.
fn arb_line() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("mc.example.com".to_string()),
        Just("MC.Example.COM".to_string()),
        Just("mc.example.com.".to_string()),
        Just("mc.example.com..".to_string()),
        Just("_minecraft._tcp.mc.example.com".to_string()),
        Just("mc.example.co".to_string()),
        Just("Vh-2.EXAMPLE.com".to_string()),
        Just("-x.example.com".to_string()),
        Just("9x.example.com".to_string()),
        Just("x.y.example.com".to_string()),
        Just("example.com".to_string()),
        "[a-zA-Z0-9-]{0,8}\\.example\\.com\\.?",
        "[a-zA-Z0-9.-]{0,20}",
    ];
    let kind = prop_oneof![Just("A"), Just("a"), Just("AAAA"), Just("SRV"), Just("")];
    (name, kind, 0usize..3).prop_map(|(name, kind, shape)| match shape {
        0 => {
            format!("1.0 2026-11-24T08:16:02.130Z Z0123 {name} {kind} NOERROR UDP FRA6 192.0.2.1 -")
        }
        1 => format!("1.0 2026-11-24T08:16:02.130Z Z0123 {name} {kind}"),
        _ => format!("1.0 {name}"),
    })
}

proptest! {
    #[test]
    fn any_data_string_is_answered(data in ".{0,200}") {
        let _ = decode_data(&data);
    }

    #[test]
    fn any_bytes_behind_valid_base64_and_gzip_are_refused_as_json(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = decode_data(&b64_gzip(&bytes)) {
            prop_assert!(e.to_string().contains("JSON"), "{e}");
        }
    }

    #[test]
    fn any_envelope_is_answered(event in arb_json()) {
        let _ = parse(&event);
        let _ = parse(&json!({"awslogs": event}));
        let _ = parse(&json!({"awslogs": {"data": b64_gzip(event.to_string().as_bytes())}}));
    }

    #[test]
    fn a_batch_survives_encoding_and_is_counted_like_the_model(
        lines in prop::collection::vec(arb_line(), 0..40),
        control in any::<bool>(),
    ) {
        let message_type = if control { "CONTROL_MESSAGE" } else { "DATA_MESSAGE" };
        let batch: LogData = serde_json::from_value(json!({
            "messageType": message_type,
            "owner": "123456789012",
            "logGroup": "/aws/route53/example.com",
            "logStream": "Z0123/FRA6",
            "subscriptionFilters": ["f"],
            "logEvents": lines.iter().enumerate().map(|(i, l)| json!({
                "id": i.to_string(), "timestamp": i as i64, "message": l
            })).collect::<Vec<_>>(),
        })).expect("a batch");
        let decoded = decode_data(&encode_data(&batch)).expect("our own encoding decodes");
        prop_assert_eq!(&decoded, &batch);
        let found = queries(&target(), &decoded);
        let mut expected: BTreeMap<String, usize> = BTreeMap::new();
        if !control {
            for label in lines.iter().filter_map(|l| model_label(l)) {
                *expected.entry(label).or_default() += 1;
            }
        }
        prop_assert_eq!(found.lines_matched, expected.values().sum::<usize>());
        prop_assert_eq!(found.lines_seen, if control { 0 } else { lines.len() });
        prop_assert_eq!(found.labels, expected);
    }
}
