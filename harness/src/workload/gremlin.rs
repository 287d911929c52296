//! [`GremlinClient`]: a thin Gremlin Server client over WebSocket (wss), GraphSON v3 and SASL PLAIN.
//!
//! Why not the `gremlin-client` crate (named for this project): verified against its 0.8.10 source
//! and recipes/crates.md, it (1) builds TLS on native-tls/OpenSSL only and takes no custom CA, so the
//! run's CA could only be trusted process-wide through `SSL_CERT_FILE`; (2) fails to decode
//! JanusGraph's `janusgraph:RelationIdentifier` edge ids (`Type … not supported`) and GraphSON
//! nulls in lists and maps; (3) has had no release since 2024. This client speaks the same
//! protocol production drivers use (WebSocket, GraphSON v3, SASL PLAIN on HTTP status 407), trusts
//! only the run's CA through rustls, and decodes every GraphSON value into plain JSON, turning
//! JanusGraph relation ids into their string form.
//!
//! One client holds one connection and runs one request at a time; open several for concurrency.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::secrets::Secret;

const MIME: &str = "application/vnd.gremlin-v3.0+json";

/// How to reach a Gremlin Server.
#[derive(Debug, Clone)]
pub struct GremlinOptions {
    /// `wss://127.0.0.1:PORT/gremlin`.
    pub url: String,
    /// The CA to trust (PEM).
    pub ca_pem: String,
    /// SASL PLAIN user name.
    pub username: String,
    /// SASL PLAIN password.
    pub password: Secret,
    /// Deadline for one request, connection included.
    pub timeout: Duration,
}

/// A Gremlin failure, classified for the history: whether the request may have taken effect.
#[derive(Debug, thiserror::Error)]
pub enum GremlinError {
    /// The connection or TLS handshake failed: nothing was sent.
    #[error("failed to connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The server rejected the credentials.
    #[error(
        "Gremlin Server rejected the credentials of `{user}` (HTTP-style status 401: {message})"
    )]
    Unauthorized { user: String, message: String },
    /// The server answered with an error status: the request did not take effect (for a script
    /// error) or its outcome is unknown (timeouts: 598).
    #[error("Gremlin Server answered {code}: {message}")]
    Server { code: u16, message: String },
    /// The connection broke or timed out after the request was sent: outcome unknown.
    #[error("no answer from Gremlin Server after the request was sent: {reason}")]
    Indeterminate { reason: String },
    /// The answer could not be decoded.
    #[error("failed to decode Gremlin Server's answer: {reason}")]
    Protocol { reason: String },
}

impl GremlinError {
    /// Whether the request certainly did not take effect.
    pub fn is_definite(&self) -> bool {
        match self {
            GremlinError::Connect { .. } | GremlinError::Unauthorized { .. } => true,
            GremlinError::Server { code, .. } => *code != 598,
            GremlinError::Indeterminate { .. } | GremlinError::Protocol { .. } => false,
        }
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connected client.
#[derive(Debug)]
pub struct GremlinClient {
    opts: GremlinOptions,
    ws: Mutex<Option<Ws>>,
}

impl GremlinClient {
    /// Connects (TLS handshake with the run's CA); authentication happens on the first request.
    pub async fn connect(opts: GremlinOptions) -> Result<Self, GremlinError> {
        let ws = Self::open(&opts).await?;
        Ok(Self {
            opts,
            ws: Mutex::new(Some(ws)),
        })
    }

    async fn open(opts: &GremlinOptions) -> Result<Ws, GremlinError> {
        let err = |reason: String| GremlinError::Connect {
            url: opts.url.clone(),
            reason,
        };
        let tls = crate::tls::client_config(&opts.ca_pem).map_err(|e| err(e.to_string()))?;
        let fut = tokio_tungstenite::connect_async_tls_with_config(
            opts.url.as_str(),
            None,
            true,
            Some(Connector::Rustls(Arc::clone(&tls))),
        );
        let (ws, _) = tokio::time::timeout(opts.timeout, fut)
            .await
            .map_err(|_| err(format!("no handshake within {:?}", opts.timeout)))?
            .map_err(|e| err(crate::workload::error_chain(&e)))?;
        Ok(ws)
    }

    /// Evaluates a Groovy script with typed bindings; returns the result items as plain JSON.
    /// A broken connection is reopened on the next call.
    pub async fn submit(&self, script: &str, bindings: Value) -> Result<Vec<Value>, GremlinError> {
        let mut guard = self.ws.lock().await;
        if guard.is_none() {
            *guard = Some(Self::open(&self.opts).await?);
        }
        let ws = guard.as_mut().expect("opened above");
        let res = tokio::time::timeout(self.opts.timeout, self.exchange(ws, script, bindings))
            .await
            .unwrap_or_else(|_| {
                Err(GremlinError::Indeterminate {
                    reason: format!("no answer within {:?}", self.opts.timeout),
                })
            });
        if matches!(
            res,
            Err(GremlinError::Indeterminate { .. } | GremlinError::Protocol { .. })
        ) {
            // The stream's state is unknown: never reuse it.
            *guard = None;
        }
        res
    }

    async fn exchange(
        &self,
        ws: &mut Ws,
        script: &str,
        bindings: Value,
    ) -> Result<Vec<Value>, GremlinError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let msg = json!({
            "requestId": {"@type": "g:UUID", "@value": request_id},
            "op": "eval",
            "processor": "",
            "args": {
                "gremlin": script,
                "bindings": to_graphson(&bindings),
                "language": "gremlin-groovy",
            }
        });
        send(ws, &msg)
            .await
            .map_err(|reason| GremlinError::Connect {
                url: self.opts.url.clone(),
                reason,
            })?;
        let mut items = Vec::new();
        loop {
            let frame = match ws.next().await {
                Some(Ok(f)) => f,
                Some(Err(e)) => {
                    return Err(GremlinError::Indeterminate {
                        reason: crate::workload::error_chain(&e),
                    });
                }
                None => {
                    return Err(GremlinError::Indeterminate {
                        reason: "the server closed the connection".into(),
                    });
                }
            };
            let body: Value = match frame {
                Message::Text(t) => serde_json::from_str(t.as_str()),
                Message::Binary(b) => serde_json::from_slice(&b),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                Message::Close(c) => {
                    return Err(GremlinError::Indeterminate {
                        reason: format!("the server closed the connection: {c:?}"),
                    });
                }
            }
            .map_err(|e| GremlinError::Protocol {
                reason: e.to_string(),
            })?;
            let code = body["status"]["code"].as_u64().unwrap_or(0) as u16;
            let message = body["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            match code {
                200 | 206 => {
                    match decode(&body["result"]["data"]) {
                        Value::Array(v) => items.extend(v),
                        Value::Null => {}
                        other => items.push(other),
                    }
                    if code == 200 {
                        return Ok(items);
                    }
                }
                204 => return Ok(items),
                407 => {
                    let sasl = base64::engine::general_purpose::STANDARD.encode(format!(
                        "\0{}\0{}",
                        self.opts.username,
                        self.opts.password.expose()
                    ));
                    let auth = json!({
                        "requestId": {"@type": "g:UUID", "@value": request_id},
                        "op": "authentication",
                        "processor": "",
                        "args": {"sasl": sasl, "saslMechanism": "PLAIN"}
                    });
                    send(ws, &auth)
                        .await
                        .map_err(|reason| GremlinError::Indeterminate { reason })?;
                }
                401 => {
                    return Err(GremlinError::Unauthorized {
                        user: self.opts.username.clone(),
                        message,
                    });
                }
                _ => return Err(GremlinError::Server { code, message }),
            }
        }
    }
}

async fn send(ws: &mut Ws, msg: &Value) -> Result<(), String> {
    let body = serde_json::to_vec(msg).expect("JSON values serialize");
    let mut frame = Vec::with_capacity(body.len() + MIME.len() + 1);
    frame.push(MIME.len() as u8);
    frame.extend_from_slice(MIME.as_bytes());
    frame.extend_from_slice(&body);
    ws.send(Message::Binary(frame.into()))
        .await
        .map_err(|e| crate::workload::error_chain(&e))
}

/// Plain JSON bindings (an object of name → value) → GraphSON v3 typed bindings.
pub fn to_graphson(bindings: &Value) -> Value {
    match bindings {
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), typed(v))).collect()),
        other => typed(other),
    }
}

/// Plain JSON → GraphSON v3: integers become `g:Int64`, floats `g:Double`, arrays `g:List`,
/// objects `g:Map`.
fn typed(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"@type": "g:Int64", "@value": n}),
        Value::Number(n) => json!({"@type": "g:Double", "@value": n}),
        Value::Array(a) => {
            json!({"@type": "g:List", "@value": a.iter().map(typed).collect::<Vec<_>>()})
        }
        Value::Object(o) => {
            let flat: Vec<Value> = o
                .iter()
                .flat_map(|(k, v)| [Value::String(k.clone()), typed(v)])
                .collect();
            json!({"@type": "g:Map", "@value": flat})
        }
        other => other.clone(),
    }
}

/// GraphSON v3 → plain JSON. Unknown types decode to their `@value`.
pub fn decode(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(decode).collect()),
        Value::Object(o) => match (o.get("@type").and_then(Value::as_str), o.get("@value")) {
            (Some(t), Some(val)) => decode_typed(t, val),
            _ => Value::Object(o.iter().map(|(k, v)| (k.clone(), decode(v))).collect()),
        },
        other => other.clone(),
    }
}

fn decode_typed(t: &str, val: &Value) -> Value {
    match t {
        "g:List" | "g:Set" => decode(val),
        "g:Map" => {
            let flat = val.as_array().cloned().unwrap_or_default();
            let mut map = Map::new();
            for pair in flat.chunks(2) {
                let key = match decode(&pair[0]) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                map.insert(key, pair.get(1).map(decode).unwrap_or(Value::Null));
            }
            Value::Object(map)
        }
        "g:BulkSet" => {
            let flat = val.as_array().cloned().unwrap_or_default();
            let mut out = Vec::new();
            for pair in flat.chunks(2) {
                let item = decode(&pair[0]);
                let bulk = pair
                    .get(1)
                    .map(decode)
                    .and_then(|b| b.as_u64())
                    .unwrap_or(1);
                out.extend(std::iter::repeat_n(item, bulk as usize));
            }
            Value::Array(out)
        }
        "g:Traverser" => decode(&val["value"]),
        "janusgraph:RelationIdentifier" => val
            .get("relationId")
            .cloned()
            .unwrap_or_else(|| decode(val)),
        "g:Vertex" => json!({"id": decode(&val["id"]), "label": decode(&val["label"])}),
        "g:Edge" => json!({
            "id": decode(&val["id"]),
            "label": decode(&val["label"]),
            "inV": decode(&val["inV"]),
            "outV": decode(&val["outV"]),
        }),
        "g:VertexProperty" => decode(&val["value"]),
        "g:Property" => json!({"key": decode(&val["key"]), "value": decode(&val["value"])}),
        _ => decode(val),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_janusgraph_edges_and_nested_maps() {
        let data = json!({"@type": "g:List", "@value": [
            {"@type": "g:Edge", "@value": {
                "id": {"@type": "janusgraph:RelationIdentifier", "@value": {"relationId": "4r6-39s-4l1-6hc"}},
                "label": "transfer",
                "inV": {"@type": "g:Int64", "@value": 8312},
                "outV": {"@type": "g:Int64", "@value": 4256}}},
            {"@type": "g:Map", "@value": ["n", {"@type": "g:Int64", "@value": 3}, "x", null]},
            {"@type": "g:BulkSet", "@value": ["a", {"@type": "g:Int64", "@value": 2}]}
        ]});
        assert_eq!(
            decode(&data),
            json!([
                {"id": "4r6-39s-4l1-6hc", "label": "transfer", "inV": 8312, "outV": 4256},
                {"n": 3, "x": null},
                ["a", "a"]
            ])
        );
    }

    #[test]
    fn types_bindings() {
        assert_eq!(
            to_graphson(&json!({"n": 5, "s": "x", "f": 1.5, "l": [1], "m": {"k": 2}})),
            json!({
                "n": {"@type": "g:Int64", "@value": 5},
                "s": "x",
                "f": {"@type": "g:Double", "@value": 1.5},
                "l": {"@type": "g:List", "@value": [{"@type": "g:Int64", "@value": 1}]},
                "m": {"@type": "g:Map", "@value": ["k", {"@type": "g:Int64", "@value": 2}]}
            })
        );
    }

    #[test]
    fn classifies_outcomes() {
        assert!(
            GremlinError::Server {
                code: 597,
                message: String::new()
            }
            .is_definite()
        );
        assert!(
            !GremlinError::Server {
                code: 598,
                message: String::new()
            }
            .is_definite()
        );
        assert!(
            !GremlinError::Indeterminate {
                reason: String::new()
            }
            .is_definite()
        );
    }
}
