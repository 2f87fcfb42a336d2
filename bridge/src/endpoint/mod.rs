//! One endpoint: a participant's WebRTC session on the bridge, wrapping one str0m [`Rtc`].
//!
//! The endpoint owns SDP negotiation with its client. The client offers first (its own
//! tracks); afterwards the bridge offers whenever other participants' tracks come or go, one
//! offer at a time. The bridge is the impolite peer: a client offer that arrives while a
//! bridge offer is outstanding is refused with [`EndpointError::Glare`].

pub mod tracks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use rand::distr::{Alphanumeric, SampleString};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, Mid};
use str0m::{Candidate, IceCreds, Rtc, RtcError};

use ponte_proto::link::EndpointRef;

use crate::forwarding::frame::Frame;
use ponte_proto::{MediaKind, TrackInfo};
use tracks::{OutState, TrackIn, TrackKey, TrackOut};

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("invalid SDP: {0}")]
    Sdp(String),
    #[error("the bridge has an offer outstanding; answer it, then offer again")]
    Glare,
    #[error("no offer from the bridge is outstanding")]
    NoPendingOffer,
    #[error("WebRTC: {0}")]
    Rtc(#[from] RtcError),
    #[error(transparent)]
    Panicked(#[from] Panicked),
}

/// An offer of ours awaiting the client's answer, and what we sent, to send it again if the
/// client may have missed it (its signaling was down).
struct Outstanding {
    offer: SdpPendingOffer,
    sent: (String, Vec<TrackInfo>),
}

/// A panic inside one endpoint's WebRTC stack, caught so the others keep running.
#[derive(Debug, thiserror::Error)]
#[error("panic in endpoint: {0}")]
pub struct Panicked(pub String);

/// Run `f`, turning a panic into an error. str0m documents a panic as a bug in itself and asks
/// callers to contain it per `Rtc`; the endpoint that panicked is then ended, the rest go on.
///
/// A contained panic is the caller's to report (it ends an endpoint, drops a datagram), so the
/// process's panic hook stays quiet about it: printing (and, with `RUST_BACKTRACE`, capturing a
/// backtrace) for every hostile datagram would hand a sender a log flood and a CPU lever.
pub fn contain<R>(f: impl FnOnce() -> R) -> Result<R, Panicked> {
    quiet_hook::install();
    let _containing = quiet_hook::Containing::enter();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Panicked(msg)
    })
}

/// A panic hook that hands panics inside [`contain`] to `tracing` (debug) and every other one to
/// the hook that was there before.
mod quiet_hook {
    use std::cell::Cell;
    use std::sync::Once;

    thread_local! {
        static DEPTH: Cell<u32> = const { Cell::new(0) };
    }

    /// Marks this thread as inside [`super::contain`] while it lives.
    pub struct Containing;

    impl Containing {
        pub fn enter() -> Self {
            DEPTH.with(|d| d.set(d.get() + 1));
            Containing
        }
    }

    impl Drop for Containing {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        }
    }

    pub fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if DEPTH.with(Cell::get) > 0 {
                    let payload = info.payload();
                    let msg = payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str));
                    tracing::debug!(location = ?info.location(), "contained panic: {}", msg.unwrap_or("(not a string)"));
                } else {
                    previous(info);
                }
            }));
        });
    }
}

/// What happened when a frame was handed to an outgoing track.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Sent,
    /// A video delta before the first key frame; the caller should ask for one.
    AwaitingKeyframe,
    /// No open track for that source, or the codec is not negotiated with this client.
    Skipped,
}

pub struct Endpoint {
    pub id: u64,
    pub target: EndpointRef,
    pub display_name: String,
    /// `ponte_proto::resume::proof_hash` of the ICE password in the client's last offer:
    /// reported when re-registering, so that the client can resume through a new focus.
    pub resume_hash: Option<String>,
    pub rtc: Rtc,
    pub ufrag: String,
    /// Remote addresses ICE checks came from; the demux maps each to this endpoint.
    pub addrs: Vec<SocketAddr>,
    /// The timeout this endpoint is scheduled for in the engine's timer heap.
    pub scheduled: Option<Instant>,
    /// Our offer the client has not answered yet.
    pending: Option<Outstanding>,
    pub tracks_in: Vec<TrackIn>,
    tracks_out: HashMap<TrackKey, TrackOut>,
    /// Fault injection for tests: panic inside the next contained call.
    pub(crate) fault: bool,
}

impl Endpoint {
    /// `bwe`: the initial downlink estimate, when bandwidth estimation is on.
    pub fn new(
        id: u64,
        target: EndpointRef,
        display_name: String,
        now: Instant,
        candidates: &[SocketAddr],
        bwe: Option<str0m::bwe::Bitrate>,
    ) -> Self {
        let mut rng = rand::rng();
        let ufrag = Alphanumeric.sample_string(&mut rng, 16);
        let pass = Alphanumeric.sample_string(&mut rng, 32);
        // Audio is forwarded as it arrives, reordered packets included: str0m's default holds
        // back up to 15 packets after a loss, which stalls every subscriber's audio for up to
        // 300 ms (tests/tests/lossy_network.rs); receivers' jitter buffers put audio in order.
        let mut rtc = Rtc::builder()
            .set_reordering_size_audio(0)
            .set_ice_lite(true)
            .enable_bwe(bwe)
            // Egress stats carry the NACK counts the bridge exports.
            .set_stats_interval(Some(std::time::Duration::from_secs(1)))
            .set_local_ice_credentials(IceCreds { ufrag: ufrag.clone(), pass })
            .build(now);
        for addr in candidates {
            match Candidate::host(*addr, "udp") {
                Ok(c) => {
                    rtc.add_local_candidate(c);
                }
                Err(e) => tracing::warn!(%addr, "skipping ICE candidate: {e}"),
            }
        }
        Self {
            id,
            target,
            display_name,
            resume_hash: None,
            rtc,
            ufrag,
            addrs: Vec::new(),
            scheduled: None,
            pending: None,
            tracks_in: Vec::new(),
            tracks_out: HashMap::new(),
            fault: false,
        }
    }

    /// Accept the client's offer and return the answer.
    pub fn accept_offer(&mut self, sdp: &str) -> Result<String, EndpointError> {
        if self.pending.is_some() {
            return Err(EndpointError::Glare);
        }
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| EndpointError::Sdp(e.to_string()))?;
        let answer = self.rtc.sdp_api().accept_offer(offer)?;
        Ok(answer.to_sdp_string())
    }

    /// Accept the client's answer to our offer. Returns the tracks that just opened.
    pub fn accept_answer(&mut self, sdp: &str) -> Result<Vec<TrackKey>, EndpointError> {
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| EndpointError::Sdp(e.to_string()))?;
        let pending = self.pending.take().ok_or(EndpointError::NoPendingOffer)?;
        self.rtc.sdp_api().accept_answer(pending.offer, answer)?;
        let mut opened = Vec::new();
        self.tracks_out.retain(|_, t| !matches!(t.state, OutState::NegotiatingStop(_)));
        for t in self.tracks_out.values_mut() {
            if let OutState::Negotiating(mid) = t.state {
                t.state = if t.orphaned { OutState::ToStop(mid) } else { OutState::Open(mid) };
                if !t.orphaned {
                    opened.push(t.source);
                }
            }
        }
        Ok(opened)
    }

    /// A published track of this endpoint appeared (from the client's SDP).
    pub fn add_track_in(&mut self, mid: Mid, kind: MediaKind) {
        if !self.tracks_in.iter().any(|t| t.mid == mid) {
            self.tracks_in.push(TrackIn { mid, kind, keyframes: Default::default() });
        }
    }

    pub fn track_in(&mut self, mid: Mid) -> Option<&mut TrackIn> {
        self.tracks_in.iter_mut().find(|t| t.mid == mid)
    }

    /// Start sending another endpoint's track to this one (after the next negotiation).
    pub fn subscribe(&mut self, source: TrackKey, publisher: &str, kind: MediaKind) {
        self.tracks_out
            .entry(source)
            .or_insert_with(|| TrackOut::new(source, publisher.to_owned(), kind));
    }

    /// The source track is gone: stop its m-line (now, or once the offer in flight settles).
    pub fn unsubscribe(&mut self, source: TrackKey) {
        let Some(t) = self.tracks_out.get_mut(&source) else { return };
        match t.state {
            OutState::ToOpen => {
                self.tracks_out.remove(&source);
            }
            OutState::Negotiating(_) => t.orphaned = true,
            OutState::Open(mid) => t.state = OutState::ToStop(mid),
            OutState::ToStop(_) | OutState::NegotiatingStop(_) => {}
        }
    }

    /// Make an offer if tracks changed and none is outstanding: `(sdp, tracks sent to this client)`.
    pub fn negotiate(&mut self) -> Option<(String, Vec<TrackInfo>)> {
        if self.pending.is_some() || !self.rtc.is_alive() {
            return None;
        }
        let mut api = self.rtc.sdp_api();
        for t in self.tracks_out.values_mut() {
            match t.state {
                OutState::ToOpen => {
                    let kind = match t.kind {
                        MediaKind::Audio => str0m::media::MediaKind::Audio,
                        MediaKind::Video => str0m::media::MediaKind::Video,
                    };
                    let track_id = format!("{}-{}", t.publisher, t.source.mid);
                    let mid = api.add_media(kind, Direction::SendOnly, Some(t.publisher.clone()), Some(track_id), None);
                    t.state = OutState::Negotiating(mid);
                }
                OutState::ToStop(mid) => {
                    api.stop_media(mid);
                    t.state = OutState::NegotiatingStop(mid);
                }
                _ => {}
            }
        }
        let (offer, pending) = api.apply()?;
        let sent = (offer.to_sdp_string(), self.track_list());
        self.pending = Some(Outstanding { offer: pending, sent: sent.clone() });
        Some(sent)
    }

    /// Our offer that the client has not answered yet, if any: `(sdp, tracks)` as sent.
    pub fn unanswered_offer(&self) -> Option<&(String, Vec<TrackInfo>)> {
        self.pending.as_ref().map(|p| &p.sent)
    }

    /// Tracks this client is (about to be) sent, sorted by mid.
    fn track_list(&self) -> Vec<TrackInfo> {
        let mut list: Vec<TrackInfo> = self
            .tracks_out
            .values()
            .filter(|t| !t.orphaned)
            .filter_map(|t| {
                t.live_mid().map(|mid| TrackInfo {
                    mid: mid.to_string(),
                    participant_id: t.publisher.clone(),
                    kind: t.kind,
                })
            })
            .collect();
        list.sort_by(|a, b| a.mid.cmp(&b.mid));
        list
    }

    /// Send a publisher's frame on the matching outgoing track, without copying the payload.
    pub fn write(&mut self, source: TrackKey, frame: &Frame<'_>) -> Result<Written, RtcError> {
        let Some(t) = self.tracks_out.get_mut(&source) else { return Ok(Written::Skipped) };
        let OutState::Open(mid) = t.state else { return Ok(Written::Skipped) };
        if t.needs_keyframe {
            if !frame.keyframe {
                return Ok(Written::AwaitingKeyframe);
            }
            t.needs_keyframe = false;
        }
        let Some(writer) = self.rtc.writer(mid) else { return Ok(Written::Skipped) };
        let Some(pt) = writer.match_params(frame.params) else { return Ok(Written::Skipped) };
        writer.write(pt, frame.network_time, frame.time, frame.data.clone())?;
        Ok(Written::Sent)
    }

    /// The publisher's track behind one of our outgoing m-lines (for key-frame requests).
    pub fn source_of(&self, mid: Mid) -> Option<TrackKey> {
        self.tracks_out.values().find(|t| t.live_mid() == Some(mid)).map(|t| t.source)
    }

    /// An open video track from `source` that has not had its first key frame yet.
    pub fn awaits_keyframe(&self, source: TrackKey) -> bool {
        self.tracks_out.get(&source).is_some_and(|t| t.needs_keyframe && matches!(t.state, OutState::Open(_)))
    }

    pub fn has_open_tracks_from(&self, source: TrackKey) -> bool {
        self.tracks_out.get(&source).is_some_and(|t| matches!(t.state, OutState::Open(_)))
    }
}
