//! A local SMS webhook receiver for the SMS tests: an axum server on 127.0.0.1:0 that records
//! every request (method, path with query, headers, body) and answers with a chosen status.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: Method,
    /// Path and query, as sent.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl ReceivedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
struct Sink {
    status: StatusCode,
    requests: Arc<Mutex<Vec<ReceivedRequest>>>,
}

pub struct SmsSink {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub base: String,
    requests: Arc<Mutex<Vec<ReceivedRequest>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SmsSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn record(
    State(sink): State<Sink>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    // Recorded before answering: once the sender has the answer, the request is here.
    sink.requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(ReceivedRequest {
            method,
            path,
            headers,
            body: body.to_vec(),
        });
    sink.status
}

impl SmsSink {
    /// A receiver answering every request with `status`.
    pub async fn start(status: u16) -> SmsSink {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink {
            status: StatusCode::from_u16(status).expect("a status code"),
            requests: requests.clone(),
        };
        let app = Router::new().fallback(record).with_state(sink);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook receiver");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SmsSink {
            base,
            requests,
            server,
        }
    }

    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
