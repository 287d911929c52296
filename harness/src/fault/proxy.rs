//! [`FaultProxy`]: an in-process TCP proxy the harness puts on one link (JanusGraph → HCD CQL,
//! clients → Gremlin Server) to partition it, slow it down or make it lossy, and heal it.
//!
//! The proxy forwards bytes and never looks at them, so TLS passes through untouched. Every
//! [`LinkMode`] applies to connections already open as well as to new ones, and a mode change
//! takes effect on held data at once.
//!
//! What each mode shows the two ends, and why:
//!
//! - [`LinkMode::Pass`]: bytes are forwarded as they arrive.
//! - [`LinkMode::Partition`] is a blackhole, not a refusal, because that is what a network
//!   partition looks like to TCP: nothing moves in either direction, nobody gets a reset. Data
//!   already read from a socket is held in the proxy (up to [`QUEUE_CHUNKS`] ×
//!   [`CHUNK_BYTES`] per direction, then the kernel's buffers fill and the sender blocks, as it
//!   would while TCP retransmits). New connections are accepted by the kernel (the listening
//!   socket completes the handshake; the proxy cannot prevent that), but the proxy does not
//!   connect upstream until the link is healed. When a peer closes its side during a partition,
//!   the close is held like data and reaches the other side only after the heal, behind the data
//!   sent before it. On heal ([`LinkMode::Pass`] or any other mode) the held bytes flow in order
//!   and nothing is lost.
//! - [`LinkMode::Latency`] delays each chunk, per direction, until `delay ± jitter` after it was
//!   read. Chunks of one direction are written in the order they were read (a later chunk whose
//!   jitter draws a shorter delay waits behind the earlier one, as in-order TCP delivery does).
//!   Connection set-up is not delayed.
//! - [`LinkMode::Loss`] cannot drop bytes: a byte stream that lost bytes would be corrupt, and
//!   TCP never shows that to an application. What an application does see under packet loss is
//!   stalls: a lost segment is delivered after a retransmission timeout. So each chunk is "lost"
//!   with probability `percent` and then held for a retransmission timeout that starts at
//!   [`RTO_INITIAL`] and doubles on each consecutive loss of the same chunk, capped at
//!   [`RTO_MAX`]; the retransmission can be lost again. This models the stall pattern, not
//!   segment-level loss (a chunk is whatever one `read` returned, not an MSS-sized segment), and
//!   not the congestion window's reaction to loss.
//!
//! [`FaultProxy::confirm`] proves that the current mode is in effect on the proxy's real data
//! path; a fault the runner cannot confirm makes the run's verdict `unknown`.
//!
//! Addresses must be loopback: the harness never sends traffic anywhere else.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::link::LinkName;

/// The largest chunk read from one socket at a time.
pub const CHUNK_BYTES: usize = 16 * 1024;
/// How many chunks one direction of one connection may hold before it stops reading. Large
/// enough that a latency fault does not also throttle bandwidth much (1 MiB in flight per
/// direction), small enough that a partition cannot pile up unbounded memory.
pub const QUEUE_CHUNKS: usize = 64;
/// The first retransmission timeout of a lost chunk (Linux's minimum RTO).
pub const RTO_INITIAL: Duration = Duration::from_millis(200);
/// The largest retransmission timeout of a lost chunk.
pub const RTO_MAX: Duration = Duration::from_secs(3);
/// The largest latency accepted; longer than this is an outage, which is [`LinkMode::Partition`].
pub const MAX_DELAY: Duration = Duration::from_secs(600);
/// How long the proxy waits for the upstream to accept a connection, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many round trips [`FaultProxy::confirm`] tries at most to observe a loss.
const MAX_LOSS_PROBES: u32 = 200;
/// How long the accept loop pauses after an accept error (such as running out of file
/// descriptors) so a persistent error does not spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What a link does to the bytes crossing it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum LinkMode {
    /// Forward everything as it comes.
    #[default]
    Pass,
    /// Blackhole both directions, holding the data until the link is healed.
    Partition,
    /// Delay each chunk by `delay ± jitter` (uniform), per direction.
    Latency {
        /// The mean one-way delay added.
        delay: Duration,
        /// The largest deviation from `delay`; at most `delay`.
        jitter: Duration,
    },
    /// Hold each chunk, with probability `percent` / 100, for a retransmission timeout.
    Loss {
        /// The chance, 0 to 100, that a chunk is lost (and retransmitted later).
        percent: f64,
    },
}

impl LinkMode {
    /// Checks the mode's parameters; the reason reads after "invalid link mode …: ".
    pub fn validate(&self) -> Result<(), &'static str> {
        match *self {
            Self::Pass | Self::Partition => Ok(()),
            Self::Latency { delay, jitter } => {
                if jitter > delay {
                    Err("jitter must not exceed delay (a delay cannot be negative)")
                } else if delay.saturating_add(jitter) > MAX_DELAY {
                    Err(
                        "delay + jitter must be at most 10 minutes (hint: use a partition for an outage)",
                    )
                } else {
                    Ok(())
                }
            }
            Self::Loss { percent } => {
                if percent.is_finite() && (0.0..=100.0).contains(&percent) {
                    Ok(())
                } else {
                    Err("loss percent must be a number from 0 to 100")
                }
            }
        }
    }
}

impl fmt::Display for LinkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pass => f.write_str("pass"),
            Self::Partition => f.write_str("partition"),
            Self::Latency { delay, jitter } if jitter.is_zero() => write!(f, "latency {delay:?}"),
            Self::Latency { delay, jitter } => write!(f, "latency {delay:?} ± {jitter:?}"),
            Self::Loss { percent } => write!(f, "loss {percent}%"),
        }
    }
}

/// Counters of one proxy since it started. Confirmation probes are not counted, except in
/// [`LinkStats::probe_connections`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    /// Connections accepted from clients.
    pub connections_accepted: u64,
    /// Connections currently open (accepted and not yet closed on both sides).
    pub active_connections: u64,
    /// Connections the proxy opened to the upstream.
    pub upstream_connects: u64,
    /// Connections closed because the upstream did not accept in time or refused.
    pub upstream_connect_failures: u64,
    /// Bytes delivered from clients to the upstream.
    pub bytes_to_upstream: u64,
    /// Bytes delivered from the upstream to clients.
    pub bytes_to_client: u64,
    /// Chunks held back by the mode (partition, latency or loss) before delivery.
    pub chunks_delayed: u64,
    /// Simulated losses (each one held a chunk for a retransmission timeout).
    pub loss_events: u64,
    /// Connections opened by [`FaultProxy::confirm`].
    pub probe_connections: u64,
}

/// A failure of a [`FaultProxy`].
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// An address is not loopback.
    #[error(
        "use {addr} as the {role} address of link {link}: not a loopback address \
         (hint: stackdrill only sends traffic to 127.0.0.0/8 and ::1)"
    )]
    NotLoopback {
        /// The link.
        link: LinkName,
        /// `listen` or `upstream`.
        role: &'static str,
        /// The address given.
        addr: SocketAddr,
    },
    /// The listening socket could not be opened.
    #[error("listen on {addr} for link {link}")]
    Bind {
        /// The link.
        link: LinkName,
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A mode's parameters are out of range.
    #[error("set link {link} to {mode}: {reason}")]
    InvalidMode {
        /// The link.
        link: LinkName,
        /// The mode refused.
        mode: LinkMode,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The confirmation probe could not be set up (a local socket failed).
    #[error("set up the confirmation probe of link {link}")]
    Probe {
        /// The link.
        link: LinkName,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The probe ran, and what it saw does not prove the mode is in effect.
    #[error("confirm {mode} on link {link}")]
    Unconfirmed {
        /// The link.
        link: LinkName,
        /// The mode that was to be confirmed.
        mode: LinkMode,
        /// What the probe saw instead.
        #[source]
        reason: Unconfirmed,
    },
}

/// Why a mode could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum Unconfirmed {
    /// Bytes crossed a link that should be partitioned.
    #[error("a probe round trip completed in {round_trip:?} through the partition")]
    NotHeld {
        /// How long the round trip took.
        round_trip: Duration,
    },
    /// The upstream cannot be reached directly, so a silent link proves nothing.
    #[error(
        "the upstream {upstream} is not reachable directly, so a silent link does not show a \
         partition (hint: is the service up?)"
    )]
    UpstreamUnreachable {
        /// The upstream address.
        upstream: SocketAddr,
        /// The direct connection's error, if it failed rather than timed out.
        #[source]
        source: Option<io::Error>,
    },
    /// Bytes did not come back in time.
    #[error("no probe bytes came back within {waited:?}")]
    NoFlow {
        /// How long the probe waited.
        waited: Duration,
    },
    /// A round trip was faster than the latency allows.
    #[error("a probe round trip took {round_trip:?}, less than the {at_least:?} the latency adds")]
    TooFast {
        /// The measured round trip.
        round_trip: Duration,
        /// The least a round trip takes under this latency.
        at_least: Duration,
    },
    /// No simulated loss happened on the probe's connection.
    #[error("no loss in {round_trips} probe round trips within {waited:?}")]
    NoLossObserved {
        /// Round trips completed.
        round_trips: u32,
        /// How long the probe tried.
        waited: Duration,
    },
    /// Someone changed the mode while it was being confirmed.
    #[error("the mode changed to {now} during the confirmation")]
    ModeChanged {
        /// The mode at the end.
        now: LinkMode,
    },
    /// The probe connection failed.
    #[error("the probe connection failed")]
    ProbeIo(#[source] io::Error),
}

impl ProxyError {
    /// Whether the error says "the fault is not shown to be in effect" rather than "the proxy
    /// could not do what was asked" (the runner turns both into `unknown`, with different words).
    pub fn is_unconfirmed(&self) -> bool {
        matches!(self, Self::Unconfirmed { .. })
    }
}

/// What [`FaultProxy::confirm`] observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    /// The link.
    pub link: LinkName,
    /// The mode confirmed.
    pub mode: LinkMode,
    /// The observation that proves it.
    pub evidence: Evidence,
    /// How long the confirmation took.
    pub took: Duration,
}

/// The observation behind a [`Confirmation`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Evidence {
    /// A probe's bytes went through and came back.
    Flowed {
        /// The probe's round trip.
        round_trip: Duration,
    },
    /// Nothing crossed the link for `window`, while the upstream accepted a direct connection.
    Held {
        /// How long the probe waited.
        window: Duration,
    },
    /// The probe's round trip took at least the latency's lower bound.
    Delayed {
        /// The probe's round trip.
        round_trip: Duration,
        /// `2 × (delay − jitter)`: the least a round trip can take.
        at_least: Duration,
    },
    /// The proxy simulated losses on the probe's own connection.
    LossObserved {
        /// Simulated losses on the probe's connection.
        loss_events: u64,
        /// Round trips attempted until then.
        round_trips: u32,
    },
}

/// Options of a [`FaultProxy`] beyond its addresses.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// The link's name, used in logs and errors.
    pub link: LinkName,
    /// Seeds the jitter and loss draws (each connection and direction derives its own stream).
    /// Draws are reproducible per chunk, but chunk boundaries depend on timing, so a run as a
    /// whole is not.
    pub seed: u64,
    /// How long to wait for the upstream to accept a connection.
    pub connect_timeout: Duration,
}

impl ProxyOptions {
    /// Default options for `link`: seed 0, [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn new(link: LinkName) -> Self {
        Self {
            link,
            seed: 0,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// An in-process TCP proxy on one link. Dropping it stops it (as [`FaultProxy::shutdown`] does,
/// without waiting).
pub struct FaultProxy {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    accept_task: Option<JoinHandle<()>>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("link", &self.shared.link)
            .field("local_addr", &self.local_addr)
            .field("upstream", &self.shared.upstream)
            .field("mode", &self.mode())
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts a proxy for `link` listening on `listen` (`127.0.0.1:0` picks a free port) and
    /// forwarding to `upstream`, in [`LinkMode::Pass`].
    pub async fn start(
        link: LinkName,
        listen: SocketAddr,
        upstream: SocketAddr,
    ) -> Result<Self, ProxyError> {
        Self::start_with(ProxyOptions::new(link), listen, upstream).await
    }

    /// [`FaultProxy::start`] with explicit options.
    pub async fn start_with(
        options: ProxyOptions,
        listen: SocketAddr,
        upstream: SocketAddr,
    ) -> Result<Self, ProxyError> {
        let ProxyOptions {
            link,
            seed,
            connect_timeout,
        } = options;
        for (role, addr) in [("listen", listen), ("upstream", upstream)] {
            if !addr.ip().is_loopback() {
                return Err(ProxyError::NotLoopback { link, role, addr });
            }
        }
        let bind_err = |source| ProxyError::Bind {
            link: link.clone(),
            addr: listen,
            source,
        };
        let listener = TcpListener::bind(listen).await.map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        let (mode, _) = watch::channel(ModeState {
            mode: LinkMode::Pass,
            generation: 0,
        });
        let shared = Arc::new(Shared {
            link,
            upstream,
            connect_timeout,
            seed,
            mode,
            counters: Arc::default(),
            probes: Mutex::default(),
            next_connection: AtomicU64::new(0),
        });
        let (stop, stop_rx) = oneshot::channel();
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stop_rx));
        tracing::debug!(link = %shared.link, %local_addr, %upstream, "fault proxy started");
        Ok(Self {
            shared,
            local_addr,
            stop: Some(stop),
            accept_task: Some(accept_task),
        })
    }

    /// The address clients connect to instead of the upstream.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address the proxy forwards to.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// The link's name.
    pub fn link(&self) -> &LinkName {
        &self.shared.link
    }

    /// Switches the link to `mode`, for open connections and data already held too.
    pub fn set(&self, mode: LinkMode) -> Result<(), ProxyError> {
        mode.validate().map_err(|reason| ProxyError::InvalidMode {
            link: self.shared.link.clone(),
            mode,
            reason,
        })?;
        self.shared.mode.send_modify(|state| {
            state.mode = mode;
            state.generation += 1;
        });
        tracing::info!(link = %self.shared.link, %mode, "link mode set");
        Ok(())
    }

    /// The current mode.
    pub fn mode(&self) -> LinkMode {
        self.shared.mode.borrow().mode
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> LinkStats {
        self.shared.counters.snapshot()
    }

    /// Proves that the current mode is in effect, spending about `window` (longer for latency
    /// and loss, which need their delays to show).
    ///
    /// The probe opens a connection through the proxy's listener and data path, exactly like a
    /// client's, except that the proxy routes it to a throw-away echo server on loopback
    /// instead of the upstream, so the real service never sees probe bytes. Then:
    ///
    /// - pass (and loss 0%): an 8-byte round trip completes within `window`;
    /// - partition: the upstream accepts a direct TCP connection (so it is up), and the probe's
    ///   round trip does not complete within `window`;
    /// - latency: the round trip completes and takes at least `2 × (delay − jitter)` (a lower
    ///   bound only: a loaded machine is slower, never faster);
    /// - loss: round trips are repeated until the proxy records a simulated loss on the probe's
    ///   own connection, for at most `window` plus one maximal retransmission timeout. At a low
    ///   percentage this can fail by chance; that is reported as unconfirmed, not hidden.
    ///
    /// The mode must not change meanwhile.
    pub async fn confirm(&self, window: Duration) -> Result<Confirmation, ProxyError> {
        let started = Instant::now();
        let before = *self.shared.mode.borrow();
        let unconfirmed = |reason| ProxyError::Unconfirmed {
            link: self.shared.link.clone(),
            mode: before.mode,
            reason,
        };
        let mut probe = Probe::open(&self.shared, self.local_addr, window)
            .await
            .map_err(|source| ProxyError::Probe {
                link: self.shared.link.clone(),
                source,
            })?;
        let evidence = match before.mode {
            LinkMode::Pass => flowed(&mut probe, window).await.map_err(unconfirmed)?,
            LinkMode::Loss { percent } if percent <= 0.0 => {
                flowed(&mut probe, window).await.map_err(unconfirmed)?
            }
            LinkMode::Partition => {
                let upstream = self.shared.upstream;
                match tokio::time::timeout(window, TcpStream::connect(upstream)).await {
                    Ok(Ok(_direct)) => {}
                    Ok(Err(source)) => {
                        return Err(unconfirmed(Unconfirmed::UpstreamUnreachable {
                            upstream,
                            source: Some(source),
                        }));
                    }
                    Err(_) => {
                        return Err(unconfirmed(Unconfirmed::UpstreamUnreachable {
                            upstream,
                            source: None,
                        }));
                    }
                }
                match probe.round_trip(window).await {
                    Ok(None) => Evidence::Held { window },
                    Ok(Some(round_trip)) => {
                        return Err(unconfirmed(Unconfirmed::NotHeld { round_trip }));
                    }
                    Err(e) => return Err(unconfirmed(Unconfirmed::ProbeIo(e))),
                }
            }
            LinkMode::Latency { delay, jitter } => {
                let at_least = delay.saturating_sub(jitter).saturating_mul(2);
                let limit = window.saturating_add(delay.saturating_add(jitter).saturating_mul(2));
                match probe.round_trip(limit).await {
                    Ok(Some(round_trip)) if round_trip >= at_least => Evidence::Delayed {
                        round_trip,
                        at_least,
                    },
                    Ok(Some(round_trip)) => {
                        return Err(unconfirmed(Unconfirmed::TooFast {
                            round_trip,
                            at_least,
                        }));
                    }
                    Ok(None) => return Err(unconfirmed(Unconfirmed::NoFlow { waited: limit })),
                    Err(e) => return Err(unconfirmed(Unconfirmed::ProbeIo(e))),
                }
            }
            LinkMode::Loss { .. } => {
                let deadline = started + window.saturating_add(RTO_MAX);
                let mut round_trips = 0;
                let mut observed = None;
                while round_trips < MAX_LOSS_PROBES {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    round_trips += 1;
                    // A stalled round trip still counts once its loss is recorded, so each waits at
                    // most `window`.
                    let done = probe.round_trip(left.min(window)).await;
                    let loss_events = probe.counters.loss_events.load(Ordering::Relaxed);
                    if loss_events > 0 {
                        observed = Some(Evidence::LossObserved {
                            loss_events,
                            round_trips,
                        });
                        break;
                    }
                    match done {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => return Err(unconfirmed(Unconfirmed::ProbeIo(e))),
                    }
                }
                observed.ok_or_else(|| {
                    unconfirmed(Unconfirmed::NoLossObserved {
                        round_trips,
                        waited: started.elapsed(),
                    })
                })?
            }
        };
        let after = *self.shared.mode.borrow();
        if after.generation != before.generation {
            return Err(unconfirmed(Unconfirmed::ModeChanged { now: after.mode }));
        }
        Ok(Confirmation {
            link: self.shared.link.clone(),
            mode: before.mode,
            evidence,
            took: started.elapsed(),
        })
    }

    /// Stops accepting, closes every connection (held data is discarded) and waits until all
    /// of the proxy's tasks have ended. Returns the final counters.
    pub async fn shutdown(mut self) -> LinkStats {
        self.stop.take();
        if let Some(task) = self.accept_task.take()
            && let Err(e) = task.await
            && e.is_panic()
        {
            tracing::error!(link = %self.shared.link, error = %e, "fault proxy accept loop panicked");
        }
        self.stats()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Dropping the sender ends the accept loop, which aborts every connection task.
        self.stop.take();
    }
}

/// The mode and a counter of changes, so a confirmation can tell that the mode changed and
/// changed back.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ModeState {
    mode: LinkMode,
    generation: u64,
}

#[derive(Debug)]
struct Shared {
    link: LinkName,
    upstream: SocketAddr,
    connect_timeout: Duration,
    seed: u64,
    mode: watch::Sender<ModeState>,
    counters: Arc<Counters>,
    /// Confirmation probes by their source address: where to route them and what to count.
    probes: Mutex<HashMap<SocketAddr, ProbeRoute>>,
    next_connection: AtomicU64,
}

impl Shared {
    fn probes(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, ProbeRoute>> {
        // The map stays consistent even if a holder panicked: every operation is one insert or
        // remove.
        self.probes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Clone)]
struct ProbeRoute {
    upstream: SocketAddr,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    connections_accepted: AtomicU64,
    active_connections: AtomicU64,
    upstream_connects: AtomicU64,
    upstream_connect_failures: AtomicU64,
    bytes_to_upstream: AtomicU64,
    bytes_to_client: AtomicU64,
    chunks_delayed: AtomicU64,
    loss_events: AtomicU64,
    probe_connections: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> LinkStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LinkStats {
            connections_accepted: get(&self.connections_accepted),
            active_connections: get(&self.active_connections),
            upstream_connects: get(&self.upstream_connects),
            upstream_connect_failures: get(&self.upstream_connect_failures),
            bytes_to_upstream: get(&self.bytes_to_upstream),
            bytes_to_client: get(&self.bytes_to_client),
            chunks_delayed: get(&self.chunks_delayed),
            loss_events: get(&self.loss_events),
            probe_connections: get(&self.probe_connections),
        }
    }

    fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}

/// Counts a connection as active while alive, including when its task is aborted.
struct ActiveGuard(Arc<Counters>);

impl ActiveGuard {
    fn new(counters: Arc<Counters>) -> Self {
        Counters::bump(&counters.active_connections, 1);
        Self(counters)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    ToUpstream,
    ToClient,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((client, peer)) => {
                    let route = shared.probes().remove(&peer);
                    let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
                    connections.spawn(serve(Arc::clone(&shared), client, route, id));
                }
                Err(e) => {
                    tracing::warn!(link = %shared.link, error = %e, "fault proxy accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done && e.is_panic() {
                    tracing::error!(link = %shared.link, error = %e, "fault proxy connection panicked");
                }
            }
        }
    }
    drop(listener);
    connections.shutdown().await;
    tracing::debug!(link = %shared.link, "fault proxy stopped");
}

async fn serve(shared: Arc<Shared>, client: TcpStream, route: Option<ProbeRoute>, id: u64) {
    let (upstream, counters) = match route {
        Some(route) => {
            Counters::bump(&shared.counters.probe_connections, 1);
            (route.upstream, route.counters)
        }
        None => (shared.upstream, Arc::clone(&shared.counters)),
    };
    Counters::bump(&counters.connections_accepted, 1);
    let _active = ActiveGuard::new(Arc::clone(&counters));

    // A partition blackholes connection set-up too: the client's connection sits accepted but
    // unanswered until the heal.
    let mut mode = shared.mode.subscribe();
    if !wait_unpartitioned(&mut mode).await {
        return;
    }
    let upstream = match tokio::time::timeout(shared.connect_timeout, TcpStream::connect(upstream))
        .await
    {
        Ok(Ok(stream)) => stream,
        failed => {
            Counters::bump(&counters.upstream_connect_failures, 1);
            let error = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => format!("no answer within {:?}", shared.connect_timeout),
            };
            tracing::warn!(link = %shared.link, %upstream, %error, "fault proxy could not connect upstream; closing the client");
            return;
        }
    };
    Counters::bump(&counters.upstream_connects, 1);
    // Small writes must not wait for Nagle's algorithm, or latency measurements would include it.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);

    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let seed = shared.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    tokio::join!(
        pump(
            client_read,
            upstream_write,
            shared.mode.subscribe(),
            Arc::clone(&counters),
            Direction::ToUpstream,
            StdRng::seed_from_u64(seed),
        ),
        pump(
            upstream_read,
            client_write,
            shared.mode.subscribe(),
            counters,
            Direction::ToClient,
            StdRng::seed_from_u64(seed ^ 1),
        ),
    );
}

/// Waits until the link is not partitioned. Returns `false` if the proxy is stopping.
async fn wait_unpartitioned(mode: &mut watch::Receiver<ModeState>) -> bool {
    while mode.borrow_and_update().mode == LinkMode::Partition {
        if mode.changed().await.is_err() {
            return false;
        }
    }
    true
}

#[derive(Debug)]
struct Chunk {
    data: Vec<u8>,
    read_at: Instant,
}

/// One direction of one connection: a reader that queues chunks as they arrive and a writer
/// that lets each through when the mode allows, so a delayed chunk does not stop the next ones
/// being read (latency is pipelined, not serialized).
async fn pump<R, W>(
    from: R,
    to: W,
    mode: watch::Receiver<ModeState>,
    counters: Arc<Counters>,
    direction: Direction,
    rng: StdRng,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, rx) = mpsc::channel(QUEUE_CHUNKS);
    tokio::join!(
        read_side(from, tx),
        write_side(rx, to, mode, counters, direction, rng)
    );
}

async fn read_side<R: AsyncRead + Unpin>(mut from: R, tx: mpsc::Sender<Chunk>) {
    let mut buf = vec![0u8; CHUNK_BYTES];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // The writer gave up (its peer is gone): stop reading so the connection can end.
            () = tx.closed() => return,
        };
        let chunk = Chunk {
            data: buf[..n].to_vec(),
            read_at: Instant::now(),
        };
        if tx.send(chunk).await.is_err() {
            return;
        }
    }
}

async fn write_side<W: AsyncWrite + Unpin>(
    mut rx: mpsc::Receiver<Chunk>,
    mut to: W,
    mut mode: watch::Receiver<ModeState>,
    counters: Arc<Counters>,
    direction: Direction,
    mut rng: StdRng,
) {
    let delivered = match direction {
        Direction::ToUpstream => &counters.bytes_to_upstream,
        Direction::ToClient => &counters.bytes_to_client,
    };
    while let Some(chunk) = rx.recv().await {
        match gate(&mut mode, chunk.read_at, &counters, &mut rng).await {
            Gate::Open { held } => {
                if held {
                    Counters::bump(&counters.chunks_delayed, 1);
                }
            }
            Gate::Stopping => return,
        }
        if to.write_all(&chunk.data).await.is_err() {
            return;
        }
        Counters::bump(delivered, chunk.data.len() as u64);
    }
    // The source closed (or failed): forward the close, which a partition holds like data.
    if wait_unpartitioned(&mut mode).await {
        let _ = to.shutdown().await;
    }
}

enum Gate {
    Open { held: bool },
    Stopping,
}

/// Waits until the mode lets a chunk read at `read_at` through. Re-evaluates whenever the mode
/// changes, so a heal releases held chunks at once.
async fn gate(
    mode: &mut watch::Receiver<ModeState>,
    read_at: Instant,
    counters: &Counters,
    rng: &mut StdRng,
) -> Gate {
    let mut held = false;
    let mut rto = RTO_INITIAL;
    loop {
        let current = mode.borrow_and_update().mode;
        let until = match current {
            LinkMode::Pass => return Gate::Open { held },
            LinkMode::Partition => None,
            LinkMode::Latency { delay, jitter } => {
                let due = read_at + sample_delay(delay, jitter, rng);
                if Instant::now() >= due {
                    return Gate::Open { held };
                }
                Some(due)
            }
            LinkMode::Loss { percent } => {
                if !rng.random_bool(loss_probability(percent)) {
                    return Gate::Open { held };
                }
                Counters::bump(&counters.loss_events, 1);
                let retransmit_at = Instant::now() + rto;
                rto = rto.saturating_mul(2).min(RTO_MAX);
                Some(retransmit_at)
            }
        };
        held = true;
        match until {
            None => {
                if mode.changed().await.is_err() {
                    return Gate::Stopping;
                }
            }
            Some(at) => tokio::select! {
                () = tokio::time::sleep_until(at) => {
                    // A delayed chunk is due; a lost one is retransmitted, and the retransmission
                    // draws again.
                    if matches!(current, LinkMode::Latency { .. }) {
                        return Gate::Open { held };
                    }
                }
                changed = mode.changed() => {
                    if changed.is_err() {
                        return Gate::Stopping;
                    }
                }
            },
        }
    }
}

/// `delay ± jitter`, uniform. `jitter <= delay` is checked by [`LinkMode::validate`]; the
/// arithmetic saturates anyway rather than trust that.
fn sample_delay(delay: Duration, jitter: Duration, rng: &mut StdRng) -> Duration {
    if jitter.is_zero() {
        return delay;
    }
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let (delay, jitter) = (nanos(delay), nanos(jitter));
    let offset = rng.random_range(0..=jitter.saturating_mul(2));
    Duration::from_nanos(delay.saturating_add(offset).saturating_sub(jitter))
}

/// `percent` as a probability that [`Rng::random_bool`] accepts (it panics outside 0..=1).
fn loss_probability(percent: f64) -> f64 {
    if percent.is_finite() {
        (percent / 100.0).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// The evidence that bytes flow: a round trip within `window`.
async fn flowed(probe: &mut Probe, window: Duration) -> Result<Evidence, Unconfirmed> {
    match probe.round_trip(window).await {
        Ok(Some(round_trip)) => Ok(Evidence::Flowed { round_trip }),
        Ok(None) => Err(Unconfirmed::NoFlow { waited: window }),
        Err(e) => Err(Unconfirmed::ProbeIo(e)),
    }
}

/// A confirmation probe: a connection through the proxy, routed to a private echo server.
#[derive(Debug)]
struct Probe {
    stream: TcpStream,
    counters: Arc<Counters>,
    nonce: u64,
    _echo: AbortOnDrop,
    _route: RouteGuard,
}

impl Probe {
    async fn open(shared: &Arc<Shared>, proxy: SocketAddr, window: Duration) -> io::Result<Self> {
        let loopback = SocketAddr::new(proxy.ip(), 0);
        let echo_listener = TcpListener::bind(loopback).await?;
        let echo_addr = echo_listener.local_addr()?;
        let echo = AbortOnDrop(tokio::spawn(async move {
            if let Ok((mut stream, _)) = echo_listener.accept().await {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        }));

        // Bind first so the proxy can recognize the probe by its source address on accept.
        let socket = if proxy.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.bind(loopback)?;
        let source = socket.local_addr()?;
        let counters = Arc::new(Counters::default());
        shared.probes().insert(
            source,
            ProbeRoute {
                upstream: echo_addr,
                counters: Arc::clone(&counters),
            },
        );
        let route = RouteGuard {
            shared: Arc::clone(shared),
            source,
        };
        let stream = tokio::time::timeout(window, socket.connect(proxy))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the proxy's listener at {proxy} did not accept within {window:?}"),
                )
            })??;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            counters,
            nonce: 0,
            _echo: echo,
            _route: route,
        })
    }

    /// Sends 8 bytes and waits up to `limit` for them to come back. `None`: nothing came back
    /// in time (the probe is then unusable, and the caller stops).
    async fn round_trip(&mut self, limit: Duration) -> io::Result<Option<Duration>> {
        self.nonce += 1;
        let sent = self.nonce.to_be_bytes();
        let started = Instant::now();
        let exchange = async {
            self.stream.write_all(&sent).await?;
            let mut back = [0u8; 8];
            self.stream.read_exact(&mut back).await?;
            if back == sent {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the probe's echo came back altered or out of order",
                ))
            }
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(())) => Ok(Some(started.elapsed())),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }
}

#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Removes a probe's route if the proxy never accepted the probe.
#[derive(Debug)]
struct RouteGuard {
    shared: Arc<Shared>,
    source: SocketAddr,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        self.shared.probes().remove(&self.source);
    }
}

#[cfg(test)]
mod tests;
