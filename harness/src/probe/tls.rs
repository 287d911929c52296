//! TLS probes: [`plaintext_refused`] speaks a service's own protocol in clear text and judges the
//! answer, and [`handshake`] reports the negotiated protocol and cipher.
//!
//! "Refused" is judged by the answer, not by whether a TCP connection opened: Go servers (Vault,
//! Prometheus, Alertmanager) answer a clear-text HTTP request on a TLS port with
//! `400 … HTTP request to an HTTPS server`, Java servers close the connection or send a TLS alert.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The protocol spoken in clear text to test a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainProtocol {
    /// `GET / HTTP/1.1`.
    Http,
    /// A WebSocket upgrade to `/gremlin`.
    WebSocket,
    /// A CQL v4 `OPTIONS` frame.
    Cql,
}

/// What a clear-text attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainOutcome {
    /// Nothing usable came back: the port requires TLS.
    Refused(String),
    /// The service answered in clear text: a defect.
    Served(String),
}

impl PlainOutcome {
    /// Whether the port refused clear text.
    pub fn is_refused(&self) -> bool {
        matches!(self, PlainOutcome::Refused(_))
    }
}

/// Speaks `proto` in clear text to `addr` and judges the first bytes of the answer.
pub async fn plaintext_refused(
    addr: SocketAddr,
    proto: PlainProtocol,
) -> std::io::Result<PlainOutcome> {
    let mut s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let request: Vec<u8> = match proto {
        PlainProtocol::Http => {
            format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").into_bytes()
        }
        PlainProtocol::WebSocket => format!(
            "GET /gremlin HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .into_bytes(),
        // version 4 request, flags 0, stream 1, opcode OPTIONS (0x05), empty body.
        PlainProtocol::Cql => vec![0x04, 0x00, 0x00, 0x01, 0x05, 0, 0, 0, 0],
    };
    if s.write_all(&request).await.is_err() {
        return Ok(PlainOutcome::Refused("connection reset on write".into()));
    }
    let mut buf = vec![0u8; 512];
    let n = match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
        Err(_) => return Ok(PlainOutcome::Refused("no answer within 5 s".into())),
        Ok(Err(e)) => return Ok(PlainOutcome::Refused(format!("connection error: {e}"))),
        Ok(Ok(0)) => return Ok(PlainOutcome::Refused("connection closed".into())),
        Ok(Ok(n)) => n,
    };
    Ok(judge(proto, &buf[..n]))
}

/// Judges the first bytes a clear-text request got back.
pub fn judge(proto: PlainProtocol, answer: &[u8]) -> PlainOutcome {
    if answer.len() >= 2 && answer[0] == 0x15 && answer[1] == 0x03 {
        return PlainOutcome::Refused("TLS alert".into());
    }
    let text = String::from_utf8_lossy(answer);
    let first_line = text.lines().next().unwrap_or_default().to_owned();
    match proto {
        PlainProtocol::Cql => {
            // A clear-text CQL server answers with a response frame: version byte 0x84.
            if answer.first() == Some(&0x84) {
                PlainOutcome::Served("a CQL response frame".into())
            } else {
                PlainOutcome::Refused(format!("{} non-CQL bytes", answer.len()))
            }
        }
        PlainProtocol::Http | PlainProtocol::WebSocket => {
            let lower = text.to_ascii_lowercase();
            if first_line.starts_with("HTTP/1.0 400") && lower.contains("https server")
                || first_line.starts_with("HTTP/1.1 400") && lower.contains("https server")
            {
                PlainOutcome::Refused(format!("{first_line} (HTTP request to an HTTPS server)"))
            } else if first_line.starts_with("HTTP/") {
                PlainOutcome::Served(first_line)
            } else {
                PlainOutcome::Refused(format!("{} non-HTTP bytes", answer.len()))
            }
        }
    }
}

/// Facts of one TLS handshake.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HandshakeFacts {
    /// e.g. `TLSv1_3`.
    pub protocol: String,
    /// e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
}

/// Performs a TLS handshake with `addr` verifying the name/IP against the run's CA.
pub async fn handshake(addr: SocketAddr, ca_pem: &str) -> Result<HandshakeFacts, String> {
    let config = crate::tls::client_config(ca_pem).map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .map_err(|_| "handshake timed out".to_owned())?
        .map_err(|e| crate::workload::error_chain(&e))?;
    let (_, conn) = tls.get_ref();
    Ok(HandshakeFacts {
        protocol: conn
            .protocol_version()
            .map_or_else(|| "unknown".into(), |v| format!("{v:?}")),
        cipher: conn
            .negotiated_cipher_suite()
            .map_or_else(|| "unknown".into(), |c| format!("{:?}", c.suite())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_answers() {
        let go =
            b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
        assert!(judge(PlainProtocol::Http, go).is_refused());
        assert!(!judge(PlainProtocol::Http, b"HTTP/1.1 200 OK\r\n\r\n").is_refused());
        assert!(
            !judge(
                PlainProtocol::WebSocket,
                b"HTTP/1.1 101 Switching Protocols\r\n"
            )
            .is_refused()
        );
        assert!(judge(PlainProtocol::Http, &[0x15, 0x03, 0x03, 0x00, 0x02]).is_refused());
        assert!(!judge(PlainProtocol::Cql, &[0x84, 0, 0, 1, 6]).is_refused());
        assert!(judge(PlainProtocol::Cql, &[0x15, 0x03, 0x01]).is_refused());
    }
}
