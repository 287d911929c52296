//! The fault proxy through its public API only, the way the runner drives a nemesis: start,
//! inject, confirm, heal, confirm the heal, stop. Loopback only; every wait is bounded.

use std::net::SocketAddr;
use std::time::Duration;

use stackdrill::fault::{Evidence, FaultProxy, LinkMode, LinkName, ProxyError, Unconfirmed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(10);
const WINDOW: Duration = Duration::from_millis(250);

/// An upstream that answers each line `ping` with `pong`, for one connection.
async fn pong_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut buf = [0u8; 5];
        for _ in 0..100 {
            if stream.read_exact(&mut buf).await.is_err()
                || stream.write_all(b"pong\n").await.is_err()
            {
                return;
            }
        }
    });
    (addr, task)
}

async fn ping(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(b"ping\n").await?;
    let mut back = [0u8; 5];
    stream.read_exact(&mut back).await?;
    assert_eq!(&back, b"pong\n");
    Ok(())
}

#[tokio::test]
async fn inject_confirm_heal_confirm() -> anyhow::Result<()> {
    let (upstream, server) = pong_server().await;
    let proxy = FaultProxy::start(
        LinkName::client_to_janusgraph(),
        "127.0.0.1:0".parse()?,
        upstream,
    )
    .await?;
    let mut client = tokio::time::timeout(LIMIT, TcpStream::connect(proxy.local_addr())).await??;
    tokio::time::timeout(LIMIT, ping(&mut client)).await??;

    proxy.set(LinkMode::Partition)?;
    let confirmed = proxy.confirm(WINDOW).await?;
    assert!(matches!(confirmed.evidence, Evidence::Held { .. }));
    assert!(
        tokio::time::timeout(WINDOW, ping(&mut client))
            .await
            .is_err(),
        "a ping crossed the partition"
    );

    proxy.set(LinkMode::Pass)?;
    let healed = proxy.confirm(WINDOW).await?;
    assert!(matches!(healed.evidence, Evidence::Flowed { .. }));
    // The ping held by the partition is answered now, then the link works as before.
    let mut back = [0u8; 5];
    tokio::time::timeout(LIMIT, client.read_exact(&mut back)).await??;
    tokio::time::timeout(LIMIT, ping(&mut client)).await??;

    let stats = proxy.shutdown().await;
    assert_eq!(stats.connections_accepted, 1);
    assert_eq!(stats.probe_connections, 2);
    assert_eq!(stats.bytes_to_upstream, 15);
    server.abort();
    Ok(())
}

#[tokio::test]
async fn an_unconfirmed_fault_says_why() -> anyhow::Result<()> {
    // Nothing listens upstream, so a silent link proves nothing about a partition.
    let dead = TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
    let proxy =
        FaultProxy::start(LinkName::janusgraph_to_hcd(), "127.0.0.1:0".parse()?, dead).await?;
    proxy.set(LinkMode::Partition)?;
    let err = proxy.confirm(WINDOW).await.expect_err("unconfirmable");
    assert!(err.is_unconfirmed());
    let ProxyError::Unconfirmed { link, mode, reason } = &err else {
        panic!("{err}");
    };
    assert_eq!(link.to_string(), "janusgraph->hcd");
    assert_eq!(*mode, LinkMode::Partition);
    assert!(matches!(reason, Unconfirmed::UpstreamUnreachable { .. }));
    assert_eq!(err.to_string(), "confirm partition on link janusgraph->hcd");
    Ok(())
}
