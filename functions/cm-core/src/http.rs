//! An HTTPS client for plain URLs: webhooks, and the pre-signed URL a CloudFormation
//! custom resource answers to.
//!
//! It is hyper's client over hyper-rustls, rustls on the `ring` provider with the
//! system's root certificates: the same crates the SDK's HTTP client
//! ([`crate::aws::http_client`]) already compiles, so a function that uses this module
//! carries no second HTTP or TLS stack.
//!
//! Every status is an answer (the caller decides what a 429 or a 500 means); only a
//! request that gets no answer at all (connection, TLS, timeout) is an error. A reply's
//! body is read up to [`MAX_BODY`] bytes and the rest dropped, so a hostile or broken
//! server cannot make the function allocate without bound. URLs may carry secrets
//! (a webhook's token, a pre-signed signature): errors name the method and the host,
//! never the whole URL.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use crate::Error;

/// The most bytes of a reply's body that are kept.
pub const MAX_BODY: usize = 64 * 1024;

/// The HTTP methods the functions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    fn as_http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// A request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    /// Header names and values, sent as given.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The answer: status, headers (names in lower case) and at most [`MAX_BODY`] bytes of
/// the body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// `header` and `text` of a type with `headers` and `body`: a request and an answer
/// read alike (a fake records the requests it is sent as [`HttpRequest`]s).
macro_rules! headers_and_body {
    ($($message:ty),+) => {$(
        impl $message {
            /// The first value of a header, by case-insensitive name.
            pub fn header(&self, name: &str) -> Option<&str> {
                self.headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            }

            /// The body as text, invalid UTF-8 replaced.
            pub fn text(&self) -> String {
                String::from_utf8_lossy(&self.body).into_owned()
            }
        }
    )+};
}

headers_and_body!(HttpRequest, HttpResponse);

/// The client: build it once (in `main`), share it between invocations.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client whose every request (connect, send, read the answer) takes at most
    /// `timeout`. Fails only if the system's root certificates cannot be read.
    pub fn new(timeout: Duration) -> Result<HttpClient, Error> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .map_err(|err| Error::Http {
                operation: "loading the root certificates".to_string(),
                message: err.to_string(),
            })?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(HttpClient { client, timeout })
    }

    /// Sends the request and reads the answer, within the client's timeout.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
        let operation = format!("{} {}", request.method.as_str(), host_of(&request.url));
        let fail = |message: String| Error::Http {
            operation: operation.clone(),
            message,
        };
        let mut builder = http::Request::builder()
            .method(request.method.as_http())
            .uri(request.url.as_str());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let built = builder
            .body(Full::new(Bytes::from(request.body)))
            // The URL or a header is malformed; the error text could quote the URL.
            .map_err(|_| fail("the URL or a header is not valid".to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(built)
                .await
                .map_err(|err| fail(describe(&err)))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let mut body = response.into_body();
            let mut kept = Vec::new();
            while kept.len() < MAX_BODY {
                match body.frame().await {
                    None => break,
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            let room = MAX_BODY - kept.len();
                            kept.extend_from_slice(&data[..data.len().min(room)]);
                        }
                    }
                    // The status and headers arrived: a body cut short is still an
                    // answer, with what was read.
                    Some(Err(_)) => break,
                }
            }
            Ok(HttpResponse {
                status,
                headers,
                body: kept,
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(fail(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

/// The host (and port) of a URL, for messages; "?" if there is none.
pub fn host_of(url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.authority().map(|a| a.as_str().to_string()))
        .map(|authority| match authority.rsplit_once('@') {
            // user:password@host: keep only the host.
            Some((_, host)) => host.to_string(),
            None => authority,
        })
        .unwrap_or_else(|| "?".to_string())
}

/// The error and its causes, without the URL (hyper's messages do not quote it).
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-shot server: reads a request, writes `reply`, closes.
    async fn serve_once(reply: Vec<u8>) -> (String, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = vec![0u8; 8192];
            let n = socket.read(&mut seen).await.unwrap();
            seen.truncate(n);
            let _ = socket.write_all(&reply).await;
            let _ = socket.shutdown().await;
            seen
        });
        (format!("http://{addr}/hook?token=secret"), task)
    }

    #[test]
    fn a_request_reads_its_headers_and_body_as_an_answer_does() {
        let request = HttpRequest {
            method: Method::Post,
            url: "https://example.com/hook".into(),
            headers: vec![("Title".into(), "mc is up".into())],
            body: b"up \xff".to_vec(),
        };
        assert_eq!(request.header("title"), Some("mc is up"));
        assert_eq!(request.header("content-type"), None);
        assert_eq!(request.text(), "up \u{fffd}");
    }

    #[tokio::test]
    async fn sends_the_request_and_reads_status_headers_and_body() {
        let (url, server) = serve_once(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 5\r\n\r\nslow!"
                .to_vec(),
        )
        .await;
        let client = HttpClient::new(Duration::from_secs(5)).unwrap();
        let response = client
            .send(HttpRequest {
                method: Method::Post,
                url,
                headers: vec![("content-type".into(), "application/json".into())],
                body: b"{\"content\":\"up\"}".to_vec(),
            })
            .await
            .unwrap();
        assert_eq!(response.status, 429);
        assert_eq!(response.header("retry-after"), Some("2"));
        assert_eq!(response.text(), "slow!");
        let seen = String::from_utf8(server.await.unwrap()).unwrap();
        assert!(
            seen.starts_with("POST /hook?token=secret HTTP/1.1"),
            "{seen}"
        );
        assert!(seen.contains("content-type: application/json"), "{seen}");
        assert!(seen.ends_with("{\"content\":\"up\"}"), "{seen}");
    }

    #[tokio::test]
    async fn a_huge_body_is_cut_at_the_limit() {
        let mut reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY * 4
        )
        .into_bytes();
        reply.extend(std::iter::repeat_n(b'x', MAX_BODY * 4));
        let (url, _server) = serve_once(reply).await;
        let client = HttpClient::new(Duration::from_secs(5)).unwrap();
        let response = client
            .send(HttpRequest {
                method: Method::Get,
                url,
                headers: vec![],
                body: vec![],
            })
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body.len(), MAX_BODY);
    }

    #[tokio::test]
    async fn no_answer_is_an_error_naming_the_host_not_the_url() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts and never answers.
        let _hold = tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let client = HttpClient::new(Duration::from_millis(300)).unwrap();
        let err = client
            .send(HttpRequest {
                method: Method::Put,
                url: format!("http://{addr}/presigned?X-Amz-Signature=secret"),
                headers: vec![],
                body: b"{}".to_vec(),
            })
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(&format!("PUT {addr} failed")), "{text}");
        assert!(text.contains("no answer within 300 ms"), "{text}");
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(err.kind(), "HttpError");
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client = HttpClient::new(Duration::from_secs(5)).unwrap();
        let err = client
            .send(HttpRequest {
                method: Method::Post,
                url: format!("http://{addr}/x"),
                headers: vec![],
                body: vec![],
            })
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("POST {addr} failed")),
            "{err}"
        );
    }

    #[test]
    fn host_of_drops_user_info_path_and_query() {
        assert_eq!(
            host_of("https://discord.com/api/webhooks/1/tok"),
            "discord.com"
        );
        assert_eq!(host_of("https://u:p@h.example:8443/x?y"), "h.example:8443");
        assert_eq!(host_of("not a url"), "?");
    }
}
