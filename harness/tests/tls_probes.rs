//! Negative controls for the TLS probes: each must report a defect when there is one. A local
//! `openssl s_server` on loopback, configured to accept what the stack's services must refuse,
//! stands in for a misconfigured service (no stack needed).

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stackdrill::probe::tls::{LegacyOutcome, LegacyVersion, legacy_outcome};

/// An `openssl s_server` child, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Starts `openssl s_server` with a fresh self-signed certificate and `args`; waits until it
/// accepts connections.
fn s_server(dir: &std::path::Path, args: &[&str]) -> (Server, SocketAddr) {
    let (key, cert) = (dir.join("k.pem"), dir.join("c.pem"));
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=legacy"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs (Debian's openssl package)");
    assert!(st.success(), "openssl req failed");
    let port = free_port();
    let child = Command::new("openssl")
        .arg("s_server")
        .args(["-accept", &format!("127.0.0.1:{port}"), "-quiet"])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    let server = Server(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let t = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "s_server never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, addr)
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("stackdrill-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn legacy_probe_reports_a_server_that_accepts_tls10_and_tls11() {
    for (v, flag) in [
        (LegacyVersion::Tls10, "-tls1"),
        (LegacyVersion::Tls11, "-tls1_1"),
    ] {
        let dir = tmp(flag);
        let (_server, addr) = s_server(&dir, &[flag, "-cipher", "ALL:@SECLEVEL=0"]);
        let outcome = legacy_outcome(addr, v).await.expect("an answer");
        assert_eq!(
            outcome,
            LegacyOutcome::Accepted,
            "{v:?} against s_server {flag}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test]
async fn legacy_probe_sees_a_modern_server_refuse() {
    let dir = tmp("modern");
    let (_server, addr) = s_server(&dir, &["-tls1_2"]);
    let outcome = legacy_outcome(addr, LegacyVersion::Tls10)
        .await
        .expect("an answer");
    assert!(matches!(outcome, LegacyOutcome::Refused(_)), "{outcome:?}");
    let _ = std::fs::remove_dir_all(dir);
}
