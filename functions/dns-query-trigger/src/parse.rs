//! parse: the CloudWatch Logs subscription envelope, `{"awslogs": {"data": "<base64 of
//! gzip of JSON>"}}`, into the log batch (`aws_lambda_events`' `LogData`). Each layer
//! fails with its own message, so a bad payload says whether its base64, its gzip or
//! its JSON was wrong.

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
