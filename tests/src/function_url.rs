//! A Lambda Function URL on 127.0.0.1 in front of a [`Function`]: each HTTP request
//! becomes a Function URL event (payload format 2.0, the shape of
//! `aws_lambda_events`' `LambdaFunctionUrlRequest`), the function's real binary
//! answers it through its Runtime API server, and its response (`statusCode`,
//! `headers`, `cookies`, `body`, `isBase64Encoded`) goes back as HTTP, so a browser
//! can load a function's page as it would from `https://<url-id>.lambda-url...`.
//!
//! What it does as Lambda does:
//! - header names lower-cased, repeated headers joined with `,`; the `Cookie` header
//!   moved to `cookies`; `x-forwarded-for`, `-proto`, `-port` and `x-amzn-trace-id`
//!   added;
//! - `rawPath` and `rawQueryString` as sent, `queryStringParameters` decoded (repeated
//!   names joined with `,`), absent without a query;
//! - the body as text when the `Content-Type` is `text/*` or `application/json`,
//!   base64 with `isBase64Encoded: true` otherwise, absent when empty;
//! - a response without `statusCode` is `200`, `application/json`, the response as
//!   the body; a function error, no answer or a malformed response is `502` with the
//!   body `Internal Server Error`.
//!
//! Requests are read with bounds: a head over [`MAX_HEAD_BYTES`] is answered 431, a
//! body over [`MAX_BODY_BYTES`] (Lambda's synchronous payload limit) 413, a chunked
//! body 411 (browsers send a `Content-Length`). Every event sent is kept
//! ([`FunctionUrl::events`]) for the tests to check what the function was given.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::function::Function;
use crate::runtime_api::Outcome;

/// The largest request line and headers read.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The largest body read: Lambda's limit for a synchronous invocation's payload.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
/// The url-id of the local Function URL (`apiId`, `domainPrefix` of a real one).
pub const URL_ID: &str = "cmlocalfunctionurl0000000000000";
/// How long an idle keep-alive connection is held.
const IDLE: Duration = Duration::from_secs(30);

/// One HTTP request as read from the connection (header names lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// The request target: the path and the query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP response to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    fn plain(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// What a Function URL answers when the function failed.
    fn bad_gateway() -> HttpResponse {
        HttpResponse {
            status: 502,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"Internal Server Error".to_vec(),
        }
    }

    /// The header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Where the request came from and when, for the event's `requestContext`.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub peer: SocketAddr,
    /// The port the Function URL listens on (`x-forwarded-port`).
    pub port: u16,
    pub now: SystemTime,
    /// A number unique to this request (its `requestId`).
    pub serial: u64,
}

/// The Function URL event for `request`.
pub fn event(request: &HttpRequest, origin: &Origin) -> Value {
    let (raw_path, raw_query) = match request.target.split_once('?') {
        Some((path, query)) => (path, query),
        None => (request.target.as_str(), ""),
    };
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &request.headers {
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_string())),
            );
            continue;
        }
        // Hop-by-hop and framing headers end at the Function URL.
        if matches!(
            name.as_str(),
            "connection" | "keep-alive" | "transfer-encoding"
        ) {
            continue;
        }
        match headers.get_mut(name) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(value);
            }
            _ => {
                headers.insert(name.clone(), Value::String(value.clone()));
            }
        }
    }
    let millis = origin
        .now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let source_ip = origin.peer.ip().to_string();
    let host = request
        .header("host")
        .map(str::to_string)
        .unwrap_or_else(|| format!("127.0.0.1:{}", origin.port));
    let request_id = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (millis / 1000) as u32,
        std::process::id() & 0xffff,
        origin.serial & 0xfff,
        (origin.serial >> 12) & 0xfff,
        millis & 0xffff_ffff_ffff
    );
    for (name, value) in [
        ("x-forwarded-for", source_ip.clone()),
        ("x-forwarded-proto", "http".to_string()),
        ("x-forwarded-port", origin.port.to_string()),
        (
            "x-amzn-trace-id",
            format!("Root=1-{:08x}-{:024x}", millis / 1000, origin.serial),
        ),
        ("host", host.clone()),
    ] {
        headers.entry(name).or_insert(Value::String(value));
    }
    let user_agent = request.header("user-agent").unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": URL_ID,
            "domainName": host,
            "domainPrefix": host.split(['.', ':']).next().unwrap_or_default(),
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": clf_time(millis / 1000),
            "timeEpoch": millis,
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    let parameters = query_parameters(raw_query);
    if !parameters.is_empty() {
        event["queryStringParameters"] = Value::Object(parameters);
    }
    if !request.body.is_empty() {
        let content_type = request.header("content-type").unwrap_or_default();
        match std::str::from_utf8(&request.body) {
            Ok(text) if is_text(content_type) => event["body"] = json!(text),
            _ => {
                event["body"] =
                    json!(base64::engine::general_purpose::STANDARD.encode(&request.body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    event
}

/// A body Lambda passes as text: `text/*` or `application/json`.
fn is_text(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/") || media == "application/json"
}

/// `a=1&b=2&a=3` -> `{"a": "1,3", "b": "2"}`, percent-decoded.
fn query_parameters(query: &str) -> Map<String, Value> {
    let mut parameters = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (percent_decode(name), percent_decode(value));
        match parameters.get_mut(&name) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                parameters.insert(name, Value::String(value));
            }
        }
    }
    parameters
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `02/Dec/2026:01:10:00 +0000` for `seconds` since the epoch.
fn clf_time(seconds: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Days to a civil date (Howard Hinnant's algorithm), for dates after 1970.
    let days = seconds / 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let s = seconds % 86_400;
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The HTTP response for the function's answer (`None`: it gave none in time).
pub fn response(outcome: Option<&Outcome>) -> HttpResponse {
    match outcome {
        Some(Outcome::Response(Value::Object(doc))) if doc.contains_key("statusCode") => {
            structured(doc).unwrap_or_else(HttpResponse::bad_gateway)
        }
        Some(Outcome::Response(other)) => HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: other.to_string().into_bytes(),
        },
        Some(Outcome::Error(_)) | None => HttpResponse::bad_gateway(),
    }
}

/// A response with `statusCode`; `None` when it is malformed.
fn structured(doc: &Map<String, Value>) -> Option<HttpResponse> {
    let status = doc
        .get("statusCode")
        .and_then(Value::as_u64)
        .filter(|s| (100..=599).contains(s))? as u16;
    let mut headers = Vec::new();
    if let Some(map) = doc.get("headers").and_then(Value::as_object) {
        for (name, value) in map {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => continue,
            };
            let name = name.to_ascii_lowercase();
            // The Function URL frames the response itself.
            if !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) {
                headers.push((name, value));
            }
        }
    }
    for cookie in doc
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        headers.push(("set-cookie".into(), cookie.to_string()));
    }
    let text = doc.get("body").and_then(Value::as_str).unwrap_or_default();
    let body = if doc.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .ok()?
    } else {
        text.as_bytes().to_vec()
    };
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Why a request could not be read: the answer to send before closing.
#[derive(Debug)]
pub enum Refusal {
    /// The connection failed or ended mid-request: nothing to answer.
    Io(io::Error),
    Answer(HttpResponse),
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Self {
        Refusal::Io(e)
    }
}

/// Reads one request, within [`MAX_HEAD_BYTES`] and [`MAX_BODY_BYTES`]; `Ok(None)` at
/// a clean end of the connection.
pub fn read_request<R: BufRead>(reader: &mut R) -> Result<Option<HttpRequest>, Refusal> {
    let mut head = Read::take(&mut *reader, MAX_HEAD_BYTES as u64);
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = head.read_until(b'\n', &mut line)?;
        if n == 0 {
            if lines.is_empty() && line.is_empty() {
                return Ok(None);
            }
            return Err(if head.limit() == 0 {
                Refusal::Answer(HttpResponse::plain(431, "Request Header Fields Too Large"))
            } else {
                Refusal::Io(io::ErrorKind::UnexpectedEof.into())
            });
        }
        if !line.ends_with(b"\n") {
            return Err(Refusal::Answer(HttpResponse::plain(
                431,
                "Request Header Fields Too Large",
            )));
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if text.is_empty() {
            if lines.is_empty() {
                continue; // A stray empty line between requests.
            }
            break;
        }
        lines.push(text);
    }
    let bad = || Refusal::Answer(HttpResponse::plain(400, "Bad Request"));
    let mut parts = lines[0].split_whitespace();
    let (method, target) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) if v.starts_with("HTTP/1.") && t.starts_with('/') => {
            (m.to_string(), t.to_string())
        }
        _ => return Err(bad()),
    };
    let mut headers = Vec::new();
    for line in &lines[1..] {
        let (name, value) = line.split_once(':').ok_or_else(bad)?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut request = HttpRequest {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Err(Refusal::Answer(HttpResponse::plain(411, "Length Required")));
    }
    if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().map_err(|_| bad())?;
        if length > MAX_BODY_BYTES {
            return Err(Refusal::Answer(HttpResponse::plain(
                413,
                "Request Entity Too Large",
            )));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(Some(request))
}

/// Writes `response` (without its body for a HEAD request) in one write.
pub fn write_response<W: Write>(
    writer: &mut W,
    response: &HttpResponse,
    head_only: bool,
    close: bool,
) -> io::Result<()> {
    let reason = match response.status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Status",
    };
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", response.status).into_bytes();
    for (name, value) in &response.headers {
        // A value never ends the header block early.
        if !name.contains(['\r', '\n']) && !value.contains(['\r', '\n']) {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(format!("content-length: {}\r\n", response.body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&response.body);
    }
    writer.write_all(&out)?;
    writer.flush()
}

struct Shared {
    function: Function,
    events: Mutex<Vec<Value>>,
    stop: AtomicBool,
    serial: AtomicU64,
    port: u16,
}

/// The Function URL: serves on a free port of 127.0.0.1 until dropped, handing each
/// request to the function (one at a time, as one execution environment does).
pub struct FunctionUrl {
    shared: Arc<Shared>,
}

impl FunctionUrl {
    /// Serves `function` behind a new Function URL.
    pub fn start(function: Function) -> io::Result<FunctionUrl> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            function,
            events: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            serial: AtomicU64::new(1),
            port,
        });
        let accept = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let shared = accept.clone();
                    std::thread::spawn(move || serve(stream, &shared));
                }
            }
        });
        Ok(FunctionUrl { shared })
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.shared.port)
    }

    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// The function behind it (its log, its process).
    pub fn function(&self) -> &Function {
        &self.shared.function
    }

    /// Every event sent to the function so far, in order.
    pub fn events(&self) -> Vec<Value> {
        self.shared
            .events
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }
}

impl Drop for FunctionUrl {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.shared.port));
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE));
    let Ok(peer) = stream.peer_addr() else { return };
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let request = match read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) | Err(Refusal::Io(_)) => return,
            Err(Refusal::Answer(answer)) => {
                let _ = write_response(&mut writer, &answer, false, true);
                return;
            }
        };
        let origin = Origin {
            peer,
            port: shared.port,
            now: SystemTime::now(),
            serial: shared.serial.fetch_add(1, Ordering::SeqCst),
        };
        let event = event(&request, &origin);
        if let Ok(mut events) = shared.events.lock() {
            events.push(event.clone());
        }
        let answer = response(shared.function.try_invoke(event).as_ref());
        let close = request
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let head_only = request.method.eq_ignore_ascii_case("HEAD");
        if write_response(&mut writer, &answer, head_only, close).is_err() || close {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::lambda_function_urls::{
        LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
    };
    use serde::Deserialize;

    fn origin() -> Origin {
        Origin {
            peer: "127.0.0.1:50000".parse().unwrap(),
            port: 8080,
            // 2026-12-02T01:10:00Z
            now: UNIX_EPOCH + Duration::from_secs(1_796_173_800),
            serial: 7,
        }
    }

    fn read(raw: &[u8]) -> Result<Option<HttpRequest>, Refusal> {
        read_request(&mut BufReader::new(raw))
    }

    #[test]
    fn a_browser_request_becomes_a_function_url_event() {
        let raw = b"POST /start/vh?x=1&y=a%20b&x=2 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\
            User-Agent: HeadlessChrome\r\nAuthorization: Bearer t0k\r\nAccept: a\r\nACCEPT: b\r\n\
            Cookie: a=1; b=2\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
        let request = read(raw).unwrap().unwrap();
        let event = event(&request, &origin());
        assert_eq!(event["rawPath"], "/start/vh");
        assert_eq!(event["rawQueryString"], "x=1&y=a%20b&x=2");
        assert_eq!(
            event["queryStringParameters"],
            json!({"x": "1,2", "y": "a b"})
        );
        assert_eq!(event["headers"]["authorization"], "Bearer t0k");
        assert_eq!(event["headers"]["accept"], "a,b");
        assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
        assert!(event["headers"].get("cookie").is_none());
        assert!(event["headers"].get("connection").is_none());
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        assert_eq!(
            event["requestContext"]["http"]["userAgent"],
            "HeadlessChrome"
        );
        assert_eq!(
            event["requestContext"]["time"],
            "02/Dec/2026:01:10:00 +0000"
        );
        assert_eq!(event["requestContext"]["timeEpoch"], 1_796_173_800_000u64);
        assert!(event.get("body").is_none());
        assert_eq!(event["isBase64Encoded"], false);

        // The shape aws_lambda_events reads.
        let typed = LambdaFunctionUrlRequest::deserialize(&event).unwrap();
        assert_eq!(typed.raw_path.as_deref(), Some("/start/vh"));
        assert_eq!(typed.request_context.http.method.as_deref(), Some("POST"));
        assert_eq!(typed.headers["authorization"], "Bearer t0k");
        assert_eq!(typed.query_string_parameters["y"], "a b");
        assert!(!typed.is_base64_encoded);
    }

    #[test]
    fn json_and_text_bodies_stay_text_others_are_base64() {
        let with = |content_type: &str, body: &[u8]| {
            let mut raw = format!(
                "POST /discord HTTP/1.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            raw.extend_from_slice(body);
            event(&read(&raw).unwrap().unwrap(), &origin())
        };
        let doc = with("application/json; charset=utf-8", br#"{"type":1}"#);
        assert_eq!(
            (&doc["body"], &doc["isBase64Encoded"]),
            (&json!(r#"{"type":1}"#), &json!(false))
        );
        let doc = with("text/plain", b"hi");
        assert_eq!(
            (&doc["body"], &doc["isBase64Encoded"]),
            (&json!("hi"), &json!(false))
        );
        let doc = with("application/x-www-form-urlencoded", b"a=1");
        assert_eq!(
            (&doc["body"], &doc["isBase64Encoded"]),
            (&json!("YT0x"), &json!(true))
        );
        let doc = with("application/octet-stream", &[0xff, 0x00]);
        assert_eq!(
            (&doc["body"], &doc["isBase64Encoded"]),
            (&json!("/wA="), &json!(true))
        );
    }

    #[test]
    fn the_function_response_becomes_http() {
        let mut typed = LambdaFunctionUrlResponse::default();
        typed.status_code = 401;
        typed
            .headers
            .insert("content-type", "text/html".parse().unwrap());
        typed.body = Some("no".into());
        typed.cookies = vec!["s=1; Path=/".into()];
        let doc = serde_json::to_value(&typed).unwrap();
        let http = response(Some(&Outcome::Response(doc)));
        assert_eq!(http.status, 401);
        assert_eq!(http.header("content-type"), Some("text/html"));
        assert_eq!(http.header("set-cookie"), Some("s=1; Path=/"));
        assert_eq!(http.body, b"no");

        let binary = json!({"statusCode": 200, "body": "/wA=", "isBase64Encoded": true});
        assert_eq!(
            response(Some(&Outcome::Response(binary))).body,
            vec![0xff, 0]
        );
        // No statusCode: the response is the JSON body.
        let bare = response(Some(&Outcome::Response(json!({"ok": true}))));
        assert_eq!(
            (bare.status, bare.body.as_slice()),
            (200, &br#"{"ok":true}"#[..])
        );
        assert_eq!(bare.header("content-type"), Some("application/json"));
        for failed in [
            response(Some(&Outcome::Error(json!({"errorMessage": "x"})))),
            response(None),
            response(Some(&Outcome::Response(json!({"statusCode": 42})))),
            response(Some(&Outcome::Response(
                json!({"statusCode": 200, "body": "%%", "isBase64Encoded": true}),
            ))),
        ] {
            assert_eq!(
                (failed.status, failed.body.as_slice()),
                (502, &b"Internal Server Error"[..])
            );
        }
    }

    #[test]
    fn reads_are_bounded() {
        let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES));
        huge.extend_from_slice(b"\r\n\r\n");
        let status = |raw: &[u8]| match read(raw) {
            Err(Refusal::Answer(r)) => r.status,
            other => panic!("{other:?}"),
        };
        assert_eq!(status(&huge), 431);
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        assert_eq!(status(big.as_bytes()), 413);
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            411
        );
        assert_eq!(status(b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
        assert_eq!(status(b"nonsense\r\n\r\n"), 400);
        assert!(matches!(read(b""), Ok(None)));
        assert!(matches!(
            read(b"GET / HTTP/1.1\r\nContent-Length: 9\r\n\r\nab"),
            Err(Refusal::Io(_))
        ));
    }

    #[test]
    fn writes_one_framed_response() {
        let mut out = Vec::new();
        let r = HttpResponse {
            status: 202,
            headers: vec![("x".into(), "1".into()), ("bad".into(), "a\r\nb".into())],
            body: b"ok".to_vec(),
        };
        write_response(&mut out, &r, false, true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 202 Accepted\r\nx: 1\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
        );
    }
}
