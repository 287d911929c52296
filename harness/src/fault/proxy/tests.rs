//! Tests of [`FaultProxy`] against echo servers on 127.0.0.1. Timing assertions are lower
//! bounds only (a loaded machine is slower, never faster); every wait is bounded by [`LIMIT`].

use std::net::{IpAddr, Ipv4Addr};

use super::*;

/// The longest any single step of a test may take before it counts as hung.
const LIMIT: Duration = Duration::from_secs(10);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(300);
const ANY_LOCAL: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
/// The most connections a test echo server accepts.
const ECHO_MAX_ACCEPTS: u64 = 256;

/// An echo server on loopback that counts the connections it accepted.
struct Echo {
    addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    _task: AbortOnDrop,
}

async fn echo_server() -> Echo {
    let listener = TcpListener::bind(ANY_LOCAL)
        .await
        .expect("bind an echo server");
    let addr = listener.local_addr().expect("echo server address");
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&accepted);
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        for _ in 0..ECHO_MAX_ACCEPTS {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::Relaxed);
            connections.spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
        while connections.join_next().await.is_some() {}
    });
    Echo {
        addr,
        accepted,
        _task: AbortOnDrop(task),
    }
}

async fn proxy_to(upstream: SocketAddr) -> FaultProxy {
    FaultProxy::start(LinkName::client_to_janusgraph(), ANY_LOCAL, upstream)
        .await
        .expect("start a fault proxy")
}

async fn connect(proxy: &FaultProxy) -> TcpStream {
    let stream = bounded("connect", TcpStream::connect(proxy.local_addr()))
        .await
        .expect("connect to the proxy");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

async fn bounded<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {LIMIT:?}"))
}

/// Sends `payload` and reads the same bytes back; returns the round trip.
async fn round_trip(stream: &mut TcpStream, payload: &[u8]) -> Duration {
    let started = Instant::now();
    bounded("round trip", async {
        stream.write_all(payload).await.expect("write");
        let mut back = vec![0u8; payload.len()];
        stream.read_exact(&mut back).await.expect("read the echo");
        assert!(back == payload, "the echo differs from what was sent");
    })
    .await;
    started.elapsed()
}

/// Asserts that neither bytes nor end of stream arrive for [`QUIET`].
async fn assert_silent(stream: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 64];
    if let Ok(read) = tokio::time::timeout(QUIET, stream.read(&mut buf)).await {
        panic!("{what}: expected silence, got {read:?}");
    }
}

/// Waits until `cond` holds, polling (bounded in time and count).
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    for _ in 0..2_000 {
        if cond() {
            return;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not true within {LIMIT:?}");
}

/// Reads until end of stream; a reset counts as closed too.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = bounded("read to close", stream.read_to_end(&mut got)).await;
    got
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A port on loopback nothing listens on (bound, then released).
async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind(ANY_LOCAL).await.expect("bind");
    listener.local_addr().expect("address")
}

#[tokio::test]
async fn pass_forwards_both_ways_unchanged() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr).await;
    let mut client = connect(&proxy).await;
    let big = pattern(100 * 1024, 7);
    round_trip(&mut client, b"ping").await;
    round_trip(&mut client, &big).await;

    let total = 4 + big.len() as u64;
    let stats = proxy.stats();
    assert_eq!(stats.connections_accepted, 1);
    assert_eq!(stats.upstream_connects, 1);
    assert_eq!(stats.bytes_to_upstream, total);
    assert_eq!(stats.bytes_to_client, total);
    assert_eq!(stats.chunks_delayed, 0);
    assert_eq!(proxy.mode(), LinkMode::Pass);
}

#[tokio::test]
async fn partition_holds_an_open_connection_and_heal_delivers_everything_in_order() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr).await;
    let mut client = connect(&proxy).await;
    round_trip(&mut client, b"before").await;

    proxy.set(LinkMode::Partition).expect("partition");
    let delivered_before = proxy.stats().bytes_to_upstream;
    let held: Vec<u8> = (0..5u8).flat_map(|i| pattern(10_000, i)).collect();
    for piece in held.chunks(10_000) {
        bounded("write", client.write_all(piece))
            .await
            .expect("write");
    }
    assert_silent(&mut client, "partitioned connection").await;
    assert_eq!(
        proxy.stats().bytes_to_upstream,
        delivered_before,
        "nothing crosses a partition"
    );

    proxy.set(LinkMode::Pass).expect("heal");
    let mut back = vec![0u8; held.len()];
    bounded("read after heal", client.read_exact(&mut back))
        .await
        .expect("read after heal");
    assert!(back == held, "held data lost or reordered");
    assert!(proxy.stats().chunks_delayed >= 1);
}

#[tokio::test]
async fn partition_blackholes_new_connections_until_healed() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr).await;
    proxy.set(LinkMode::Partition).expect("partition");

    // The kernel completes the handshake, but nothing reaches the upstream.
    let mut client = connect(&proxy).await;
    bounded("write", client.write_all(b"hello"))
        .await
        .expect("write");
    assert_silent(&mut client, "new connection during a partition").await;
    assert_eq!(echo.accepted.load(Ordering::Relaxed), 0);
    assert_eq!(proxy.stats().upstream_connects, 0);
    assert_eq!(proxy.stats().connections_accepted, 1);

    proxy.set(LinkMode::Pass).expect("heal");
    let mut back = [0u8; 5];
    bounded("read after heal", client.read_exact(&mut back))
        .await
        .expect("read after heal");
    assert_eq!(&back, b"hello");
    assert_eq!(echo.accepted.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_close_during_a_partition_arrives_after_the_heal() {
    let upstream = TcpListener::bind(ANY_LOCAL).await.expect("bind upstream");
    let proxy = proxy_to(upstream.local_addr().expect("address")).await;
    let mut client = connect(&proxy).await;
    bounded("write", client.write_all(b"x"))
        .await
        .expect("write");
    let (mut server, _) = bounded("accept", upstream.accept()).await.expect("accept");
    let mut first = [0u8; 1];
    bounded("read", server.read_exact(&mut first))
        .await
        .expect("server reads");

    proxy.set(LinkMode::Partition).expect("partition");
    bounded("write", server.write_all(b"bye"))
        .await
        .expect("server writes");
    drop(server);
    assert_silent(&mut client, "a closed peer behind a partition").await;

    proxy.set(LinkMode::Pass).expect("heal");
    assert_eq!(read_to_close(&mut client).await, b"bye");
}

#[tokio::test]
async fn latency_adds_at_least_the_delay_each_way() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr).await;
    let mut client = connect(&proxy).await;
    round_trip(&mut client, b"warm").await;

    let delay = Duration::from_millis(100);
    proxy
        .set(LinkMode::Latency {
            delay,
            jitter: Duration::ZERO,
        })
        .expect("latency");
    let rtt = round_trip(&mut client, b"slow").await;
    assert!(
        rtt >= delay * 2,
        "round trip {rtt:?} under a {delay:?} latency"
    );
    assert!(proxy.stats().chunks_delayed >= 2);
}

#[tokio::test]
async fn jitter_preserves_order() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start_with(
        ProxyOptions {
            seed: 42,
            ..ProxyOptions::new(LinkName::janusgraph_to_hcd())
        },
        ANY_LOCAL,
        echo.addr,
    )
    .await
    .expect("start");
    proxy
        .set(LinkMode::Latency {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(20),
        })
        .expect("latency");
    let mut client = connect(&proxy).await;
    let mut sent = Vec::new();
    for i in 0..200u32 {
        let piece = i.to_be_bytes();
        bounded("write", client.write_all(&piece))
            .await
            .expect("write");
        sent.extend_from_slice(&piece);
    }
    let mut back = vec![0u8; sent.len()];
    bounded("read", client.read_exact(&mut back))
        .await
        .expect("read");
    assert!(back == sent, "jitter reordered bytes");
}

#[tokio::test]
async fn a_mode_change_releases_held_chunks_at_once() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr).await;
    let mut client = connect(&proxy).await;
    proxy
        .set(LinkMode::Latency {
            delay: Duration::from_secs(60),
            jitter: Duration::ZERO,
        })
        .expect("latency");
    bounded("write", client.write_all(b"held"))
        .await
        .expect("write");
    assert_silent(&mut client, "a one-minute latency").await;
    proxy.set(LinkMode::Pass).expect("heal");
    let mut back = [0u8; 4];
    bounded("read", client.read_exact(&mut back))
        .await
        .expect("read");
    assert_eq!(&back, b"held");
}

#[tokio::test]
async fn total_loss_stalls_and_no_loss_does_not() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr).await;
    let mut client = connect(&proxy).await;
    round_trip(&mut client, b"warm").await;

    proxy.set(LinkMode::Loss { percent: 0.0 }).expect("loss 0");
    for _ in 0..20 {
        round_trip(&mut client, b"fine").await;
    }
    assert_eq!(proxy.stats().loss_events, 0);
    assert_eq!(proxy.stats().chunks_delayed, 0);

    proxy
        .set(LinkMode::Loss { percent: 100.0 })
        .expect("loss 100");
    bounded("write", client.write_all(b"lost"))
        .await
        .expect("write");
    assert_silent(&mut client, "total loss").await;
    assert!(proxy.stats().loss_events >= 1);

    proxy.set(LinkMode::Pass).expect("heal");
    let mut back = [0u8; 4];
    bounded("read", client.read_exact(&mut back))
        .await
        .expect("read");
    assert_eq!(&back, b"lost");
}

#[tokio::test]
async fn shutdown_closes_every_connection_and_the_listener() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr).await;
    let mut flowing = Vec::new();
    for _ in 0..3 {
        let mut client = connect(&proxy).await;
        round_trip(&mut client, b"up").await;
        flowing.push(client);
    }
    proxy.set(LinkMode::Partition).expect("partition");
    let mut held = connect(&proxy).await;
    bounded("write", held.write_all(b"held"))
        .await
        .expect("write");
    eventually("the held connection accepted", || {
        proxy.stats().connections_accepted == 4
    })
    .await;

    let addr = proxy.local_addr();
    let stats = bounded("shutdown", proxy.shutdown()).await;
    assert_eq!(stats.active_connections, 0);
    assert_eq!(stats.connections_accepted, 4);
    for client in flowing.iter_mut().chain([&mut held]) {
        assert!(read_to_close(client).await.is_empty());
    }
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn dropping_the_proxy_stops_it() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr).await;
    let mut client = connect(&proxy).await;
    round_trip(&mut client, b"up").await;
    let addr = proxy.local_addr();
    drop(proxy);
    assert!(read_to_close(&mut client).await.is_empty());
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the listener outlived the proxy");
}

#[tokio::test]
async fn many_concurrent_connections() {
    const CONNECTIONS: u64 = 64;
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr).await;
    let mut clients = JoinSet::new();
    for i in 0..CONNECTIONS {
        let addr = proxy.local_addr();
        clients.spawn(async move {
            let mut stream = bounded("connect", TcpStream::connect(addr))
                .await
                .expect("connect");
            for round in 0..10u8 {
                round_trip(&mut stream, &pattern(1024, round ^ i as u8)).await;
            }
        });
    }
    while let Some(done) = bounded("clients", clients.join_next()).await {
        done.expect("a client failed");
    }
    let stats = proxy.stats();
    assert_eq!(stats.connections_accepted, CONNECTIONS);
    assert_eq!(stats.bytes_to_upstream, CONNECTIONS * 10 * 1024);
    assert_eq!(stats.bytes_to_client, CONNECTIONS * 10 * 1024);
    eventually("all connections closed", || {
        proxy.stats().active_connections == 0
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_upstream_closes_the_client() {
    let proxy = proxy_to(dead_port().await).await;
    let mut client = connect(&proxy).await;
    assert!(read_to_close(&mut client).await.is_empty());
    eventually("failure counted", || {
        proxy.stats().upstream_connect_failures == 1
    })
    .await;
}

#[tokio::test]
async fn invalid_modes_are_refused_and_change_nothing() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.addr).await;
    let ms = Duration::from_millis;
    let bad = [
        (
            LinkMode::Latency {
                delay: ms(10),
                jitter: ms(20),
            },
            "jitter must not exceed delay",
        ),
        (
            LinkMode::Latency {
                delay: MAX_DELAY,
                jitter: ms(1),
            },
            "at most 10 minutes",
        ),
        (LinkMode::Loss { percent: -1.0 }, "from 0 to 100"),
        (LinkMode::Loss { percent: 100.5 }, "from 0 to 100"),
        (LinkMode::Loss { percent: f64::NAN }, "from 0 to 100"),
        (
            LinkMode::Loss {
                percent: f64::INFINITY,
            },
            "from 0 to 100",
        ),
    ];
    for (mode, want) in bad {
        let err = proxy.set(mode).expect_err("invalid mode").to_string();
        assert!(err.contains(want), "{mode}: {err}");
        assert!(err.contains("client->janusgraph"), "{err}");
        assert_eq!(proxy.mode(), LinkMode::Pass);
    }
    let good = [
        LinkMode::Latency {
            delay: ms(0),
            jitter: ms(0),
        },
        LinkMode::Latency {
            delay: ms(5),
            jitter: ms(5),
        },
        LinkMode::Loss { percent: 0.0 },
        LinkMode::Loss { percent: 100.0 },
        LinkMode::Partition,
        LinkMode::Pass,
    ];
    for mode in good {
        proxy.set(mode).expect("valid mode");
        assert_eq!(proxy.mode(), mode);
    }
}

#[tokio::test]
async fn non_loopback_addresses_are_refused_before_any_traffic() {
    let elsewhere: SocketAddr = "192.0.2.1:9042".parse().expect("address");
    let everywhere: SocketAddr = "0.0.0.0:0".parse().expect("address");
    let loopback: SocketAddr = "127.0.0.1:9".parse().expect("address");
    for (listen, upstream, role) in [
        (everywhere, loopback, "listen"),
        (ANY_LOCAL, elsewhere, "upstream"),
    ] {
        let err = FaultProxy::start(LinkName::janusgraph_to_hcd(), listen, upstream)
            .await
            .expect_err("not loopback");
        assert!(
            matches!(err, ProxyError::NotLoopback { role: r, .. } if r == role),
            "{err}"
        );
    }
}

#[test]
fn modes_display() {
    let ms = Duration::from_millis;
    let table = [
        (LinkMode::Pass, "pass"),
        (LinkMode::Partition, "partition"),
        (
            LinkMode::Latency {
                delay: ms(50),
                jitter: ms(0),
            },
            "latency 50ms",
        ),
        (
            LinkMode::Latency {
                delay: ms(50),
                jitter: ms(10),
            },
            "latency 50ms ± 10ms",
        ),
        (LinkMode::Loss { percent: 2.5 }, "loss 2.5%"),
    ];
    for (mode, want) in table {
        assert_eq!(mode.to_string(), want);
    }
}

#[test]
fn delay_samples_stay_within_the_jitter() {
    let mut rng = StdRng::seed_from_u64(7);
    let (delay, jitter) = (Duration::from_millis(50), Duration::from_millis(10));
    for _ in 0..1_000 {
        let d = sample_delay(delay, jitter, &mut rng);
        assert!(d >= delay - jitter && d <= delay + jitter, "{d:?}");
    }
    assert_eq!(sample_delay(delay, Duration::ZERO, &mut rng), delay);
}

#[test]
fn loss_probability_never_panics_the_rng() {
    for (percent, want) in [
        (0.0, 0.0),
        (50.0, 0.5),
        (100.0, 1.0),
        (250.0, 1.0),
        (-3.0, 0.0),
        (f64::NAN, 0.0),
    ] {
        assert_eq!(loss_probability(percent), want, "{percent}");
    }
}

mod confirm {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn pass_is_confirmed_by_a_round_trip_that_skips_the_upstream() {
        let echo = echo_server().await;
        let proxy = proxy_to(echo.addr).await;
        let confirmation = proxy.confirm(WINDOW).await.expect("pass confirmed");
        assert!(matches!(confirmation.evidence, Evidence::Flowed { .. }));
        assert_eq!(confirmation.mode, LinkMode::Pass);
        let stats = proxy.stats();
        assert_eq!(stats.probe_connections, 1);
        assert_eq!(stats.connections_accepted, 0, "probes are not link traffic");
        assert_eq!(echo.accepted.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn partition_is_confirmed_while_the_upstream_is_up() {
        let echo = echo_server().await;
        let proxy = proxy_to(echo.addr).await;
        proxy.set(LinkMode::Partition).expect("partition");
        let confirmation = proxy.confirm(WINDOW).await.expect("partition confirmed");
        assert_eq!(confirmation.evidence, Evidence::Held { window: WINDOW });
        assert!(confirmation.took >= WINDOW);
        assert_eq!(
            echo.accepted.load(Ordering::Relaxed),
            1,
            "only the direct reachability check reaches the upstream"
        );
    }

    #[tokio::test]
    async fn partition_is_unconfirmed_when_the_upstream_is_down() {
        let proxy = proxy_to(dead_port().await).await;
        proxy.set(LinkMode::Partition).expect("partition");
        let err = proxy.confirm(WINDOW).await.expect_err("cannot confirm");
        assert!(
            matches!(
                err,
                ProxyError::Unconfirmed {
                    reason: Unconfirmed::UpstreamUnreachable { .. },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_heal_during_confirmation_is_not_mistaken_for_a_partition() {
        let echo = echo_server().await;
        let proxy = Arc::new(proxy_to(echo.addr).await);
        proxy.set(LinkMode::Partition).expect("partition");
        let healer = Arc::clone(&proxy);
        let heal = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            healer.set(LinkMode::Pass).expect("heal");
        });
        let err = proxy
            .confirm(Duration::from_secs(2))
            .await
            .expect_err("healed");
        assert!(err.is_unconfirmed(), "{err}");
        bounded("heal task", heal).await.expect("heal task");
    }

    #[tokio::test]
    async fn latency_is_confirmed_by_a_slow_round_trip() {
        let echo = echo_server().await;
        let proxy = proxy_to(echo.addr).await;
        let delay = Duration::from_millis(50);
        proxy
            .set(LinkMode::Latency {
                delay,
                jitter: Duration::from_millis(10),
            })
            .expect("latency");
        let confirmation = proxy.confirm(WINDOW).await.expect("latency confirmed");
        match confirmation.evidence {
            Evidence::Delayed {
                round_trip,
                at_least,
            } => {
                assert_eq!(at_least, Duration::from_millis(80));
                assert!(round_trip >= at_least);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn loss_is_confirmed_by_losses_on_the_probe() {
        let echo = echo_server().await;
        let proxy = proxy_to(echo.addr).await;
        proxy.set(LinkMode::Loss { percent: 100.0 }).expect("loss");
        let confirmation = proxy.confirm(WINDOW).await.expect("loss confirmed");
        assert!(
            matches!(confirmation.evidence, Evidence::LossObserved { loss_events, .. } if loss_events >= 1)
        );
        assert_eq!(
            proxy.stats().loss_events,
            0,
            "probe losses are not link losses"
        );

        proxy.set(LinkMode::Loss { percent: 0.0 }).expect("loss 0");
        let confirmation = proxy.confirm(WINDOW).await.expect("no loss confirmed");
        assert!(matches!(confirmation.evidence, Evidence::Flowed { .. }));
    }
}
