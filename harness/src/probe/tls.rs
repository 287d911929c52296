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
    /// The leaf certificate's subject, e.g. `CN=hcd-1, O=stackdrill`.
    pub subject: String,
    /// The leaf certificate's end of validity (Unix seconds).
    pub not_after: i64,
    /// The leaf certificate's serial number (hex), to tell a rolled-over certificate apart.
    pub serial: String,
}

impl HandshakeFacts {
    /// Days from `now` (Unix seconds) until the leaf certificate expires (negative: expired).
    pub fn days_left(&self, now: i64) -> f64 {
        (self.not_after - now) as f64 / 86_400.0
    }
}

/// Performs a TLS handshake with `addr` verifying the chain to the run's CA and the name/IP.
pub async fn handshake(addr: SocketAddr, ca_pem: &str) -> Result<HandshakeFacts, HandshakeError> {
    let config = crate::tls::client_config(ca_pem).map_err(HandshakeError::config)?;
    handshake_with(addr, config).await
}

/// Like [`handshake`], with certificates judged as at `at_unix` (seconds): tells which certificate
/// a server presents even once it has expired.
pub async fn handshake_at(
    addr: SocketAddr,
    ca_pem: &str,
    at_unix: i64,
) -> Result<HandshakeFacts, HandshakeError> {
    let at = rustls::pki_types::UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(at_unix).unwrap_or(0),
    ));
    let config = crate::tls::client_config_at(ca_pem, at).map_err(HandshakeError::config)?;
    handshake_with(addr, config).await
}

/// Why a handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// No TCP connection (refused, timed out): nothing was learnt about TLS.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The TLS handshake itself failed.
    #[error("handshake failed: {message}")]
    Tls {
        /// The error chain.
        message: String,
        /// The client rejected the server's certificate (unknown issuer, bad name, expired).
        certificate_rejected: bool,
        /// When the rejection was for expiry: the certificate's `notAfter` (Unix seconds).
        expired_at: Option<i64>,
    },
}

impl HandshakeError {
    fn config(e: crate::tls::TlsError) -> Self {
        Self::Connect(format!("no client configuration: {e}"))
    }

    fn tls(message: impl Into<String>, certificate_rejected: bool) -> Self {
        Self::Tls {
            message: message.into(),
            certificate_rejected,
            expired_at: None,
        }
    }

    /// The rejected certificate's `notAfter` when the handshake failed because it expired.
    pub fn expired_at(&self) -> Option<i64> {
        match self {
            Self::Tls { expired_at, .. } => *expired_at,
            Self::Connect(_) => None,
        }
    }
}

async fn handshake_with(
    addr: SocketAddr,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> Result<HandshakeFacts, HandshakeError> {
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| HandshakeError::Connect("connect timed out".into()))?
        .map_err(|e| HandshakeError::Connect(e.to_string()))?;
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .map_err(|_| HandshakeError::tls("handshake timed out", false))?
        .map_err(|e| {
            let rustls_error = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            let certificate_rejected =
                rustls_error.is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
            let expired_at = match rustls_error {
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ExpiredContext { not_after, .. },
                )) => i64::try_from(not_after.as_secs()).ok(),
                _ => None,
            };
            HandshakeError::Tls {
                message: crate::workload::error_chain(&e),
                certificate_rejected,
                expired_at,
            }
        })?;
    let (_, conn) = tls.get_ref();
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| HandshakeError::tls("the server sent no certificate", true))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|e| {
        HandshakeError::tls(
            format!("the server's certificate does not parse: {e}"),
            true,
        )
    })?;
    Ok(HandshakeFacts {
        protocol: conn
            .protocol_version()
            .map_or_else(|| "unknown".into(), |v| format!("{v:?}")),
        cipher: conn
            .negotiated_cipher_suite()
            .map_or_else(|| "unknown".into(), |c| format!("{:?}", c.suite())),
        subject: cert.subject().to_string(),
        not_after: cert.validity().not_after.timestamp(),
        serial: cert.raw_serial_as_string(),
    })
}

/// What a client trusting only a CA other than the run's got from `addr`.
///
/// `Ok(message)`: the client rejected the server's certificate, as it must. `Err`: the handshake
/// succeeded (a defect), or failed for another reason (no verdict).
pub async fn foreign_ca_outcome(addr: SocketAddr) -> Result<Result<String, String>, String> {
    let foreign = crate::pki::RunPki::new("foreign").map_err(|e| e.to_string())?;
    let config = crate::tls::client_config(foreign.ca_pem()).map_err(|e| e.to_string())?;
    match handshake_with(addr, config).await {
        Ok(f) => Ok(Err(format!(
            "a client trusting another CA completed a handshake ({} {})",
            f.protocol, f.subject
        ))),
        Err(HandshakeError::Tls {
            message,
            certificate_rejected: true,
            ..
        }) => Ok(Ok(message)),
        Err(e) => Err(e.to_string()),
    }
}

/// A TLS version older than 1.2, offered by [`legacy_outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyVersion {
    /// TLS 1.0 (0x0301).
    Tls10,
    /// TLS 1.1 (0x0302).
    Tls11,
}

impl LegacyVersion {
    fn wire(self) -> [u8; 2] {
        match self {
            Self::Tls10 => [3, 1],
            Self::Tls11 => [3, 2],
        }
    }
}

/// What a server did with a ClientHello offering only a legacy version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegacyOutcome {
    /// It refused: an alert, a closed connection, or a ServerHello for another version.
    Refused(String),
    /// It answered with a ServerHello for the offered version: a defect.
    Accepted,
}

/// Sends a ClientHello whose highest version is `version` (rustls cannot speak TLS 1.0/1.1, so
/// the hello is written by hand) and judges the server's first record.
pub async fn legacy_outcome(
    addr: SocketAddr,
    version: LegacyVersion,
) -> std::io::Result<LegacyOutcome> {
    let mut s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    if s.write_all(&legacy_client_hello(version)).await.is_err() {
        return Ok(LegacyOutcome::Refused("connection reset on write".into()));
    }
    let mut buf = Vec::with_capacity(64);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while buf.len() < 11 {
        let mut chunk = [0u8; 256];
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Err(_) if buf.is_empty() => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no answer to the ClientHello within 5 s",
                ));
            }
            Err(_) | Ok(Ok(0)) => break,
            Ok(Err(e)) => return Ok(LegacyOutcome::Refused(format!("connection error: {e}"))),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(judge_legacy(version, &buf))
}

/// Judges the first bytes a legacy ClientHello got back.
pub fn judge_legacy(version: LegacyVersion, answer: &[u8]) -> LegacyOutcome {
    match answer {
        [] => LegacyOutcome::Refused("connection closed".into()),
        [0x15, _, _, _, _, _level, desc, ..] => {
            LegacyOutcome::Refused(format!("TLS alert {desc} ({})", alert_name(*desc)))
        }
        // handshake record, ServerHello, then its version at bytes 9..11
        [0x16, _, _, _, _, 0x02, _, _, _, major, minor, ..] => {
            if [*major, *minor] == version.wire() {
                LegacyOutcome::Accepted
            } else {
                LegacyOutcome::Refused(format!("ServerHello for version {major}.{minor}"))
            }
        }
        other => {
            LegacyOutcome::Refused(format!("{} bytes that are not a ServerHello", other.len()))
        }
    }
}

fn alert_name(desc: u8) -> &'static str {
    match desc {
        40 => "handshake_failure",
        47 => "illegal_parameter",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        _ => "other",
    }
}

/// A ClientHello offering `version` at most, with the CBC suites servers of that era accept.
fn legacy_client_hello(version: LegacyVersion) -> Vec<u8> {
    let suites: [u16; 8] = [
        0xc009, 0xc00a, 0xc013, 0xc014, 0x002f, 0x0035, 0x000a, 0x00ff,
    ];
    let mut ext = Vec::new();
    // supported_groups: secp256r1, secp384r1, x25519
    ext.extend_from_slice(&[
        0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x17, 0x00, 0x18, 0x00, 0x1d,
    ]);
    // ec_point_formats: uncompressed
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    let mut body = Vec::new();
    body.extend_from_slice(&version.wire());
    body.extend((0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(11)));
    body.push(0); // no session id
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![0x01];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut record = vec![0x16, 3, 1];
    record.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    record.extend_from_slice(&hs);
    record
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

    #[test]
    fn judges_legacy_answers() {
        use LegacyVersion::*;
        let hello = |maj, min| vec![0x16, 3, 1, 0, 80, 0x02, 0, 0, 76, maj, min, 0];
        assert_eq!(judge_legacy(Tls11, &hello(3, 2)), LegacyOutcome::Accepted);
        assert_eq!(judge_legacy(Tls10, &hello(3, 1)), LegacyOutcome::Accepted);
        assert!(matches!(
            judge_legacy(Tls11, &hello(3, 3)),
            LegacyOutcome::Refused(_)
        ));
        assert_eq!(
            judge_legacy(Tls10, &[0x15, 3, 1, 0, 2, 2, 70]),
            LegacyOutcome::Refused("TLS alert 70 (protocol_version)".into())
        );
        assert!(matches!(
            judge_legacy(Tls10, &[]),
            LegacyOutcome::Refused(_)
        ));
    }

    #[test]
    fn legacy_hello_is_well_formed() {
        let h = legacy_client_hello(LegacyVersion::Tls11);
        assert_eq!(&h[..3], &[0x16, 3, 1]);
        assert_eq!(usize::from(u16::from_be_bytes([h[3], h[4]])), h.len() - 5);
        assert_eq!(h[5], 0x01);
        assert_eq!(&h[9..11], &[3, 2]);
    }
}
