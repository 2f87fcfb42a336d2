//! Batched UDP I/O on the media port: `recvmmsg` (and GRO where the kernel offers it) in,
//! GSO out for runs of equal-sized datagrams to one receiver (the packets of one video frame).
//! The destination address of each received datagram is read with IP_PKTINFO so a socket bound
//! to 0.0.0.0 still tells the ICE agent which local candidate a check arrived on.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};

use quinn_udp::{RecvMeta, Transmit, UdpSocketState, BATCH_SIZE};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Largest datagram we accept; WebRTC stays well under the path MTU.
const MAX_DATAGRAM: usize = 2048;

pub struct MediaSocket {
    socket: UdpSocket,
    state: UdpSocketState,
    local: SocketAddr,
    bufs: Vec<Vec<u8>>,
    metas: Vec<RecvMeta>,
    gso_buf: Vec<u8>,
}

/// One received datagram, borrowed from the socket's buffers.
pub struct Received<'a> {
    pub source: SocketAddr,
    /// The local address it was sent to, when the platform reports it.
    pub destination: Option<IpAddr>,
    pub data: &'a [u8],
}

impl MediaSocket {
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let std = std::net::UdpSocket::bind(addr)?;
        std.set_nonblocking(true)?;
        let state = UdpSocketState::new((&std).into())?;
        // Bursts of key frames to many receivers need room in the kernel's queues.
        let _ = state.set_recv_buffer_size((&std).into(), 4 << 20);
        let _ = state.set_send_buffer_size((&std).into(), 4 << 20);
        let local = std.local_addr()?;
        let slot = MAX_DATAGRAM * state.gro_segments().max(1);
        Ok(Self {
            socket: UdpSocket::from_std(std)?,
            state,
            local,
            bufs: (0..BATCH_SIZE).map(|_| vec![0; slot]).collect(),
            metas: vec![RecvMeta::default(); BATCH_SIZE],
            gso_buf: Vec::with_capacity(64 * 1024),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub async fn readable(&self) -> io::Result<()> {
        self.socket.readable().await
    }

    /// Read one batch without waiting. `Ok(0)` when nothing is queued.
    pub fn try_recv_batch(&mut self) -> io::Result<usize> {
        let mut iovs: Vec<IoSliceMut<'_>> =
            self.bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        let (socket, state, metas) = (&self.socket, &self.state, &mut self.metas);
        match socket.try_io(Interest::READABLE, || state.recv(socket.into(), &mut iovs, metas)) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Walk the datagrams of the last batch, splitting GRO super-buffers by stride.
    pub fn received(&self, count: usize, mut f: impl FnMut(Received<'_>)) {
        for (meta, buf) in self.metas.iter().zip(&self.bufs).take(count) {
            let stride = meta.stride.max(1);
            for data in buf[..meta.len].chunks(stride) {
                f(Received { source: meta.addr, destination: meta.dst_ip, data });
            }
        }
    }

    /// Send a run of datagrams that share source and destination. Equal-sized ones go out
    /// in one GSO call; errors other than a full queue are returned.
    pub async fn send_run(&mut self, destination: SocketAddr, datagrams: &[&[u8]]) -> io::Result<()> {
        let max_segments = self.state.max_gso_segments();
        let mut i = 0;
        while i < datagrams.len() {
            let size = datagrams[i].len();
            // GSO needs equal segments; only the last may be shorter.
            let mut j = i + 1;
            while j < datagrams.len()
                && j - i < max_segments
                && datagrams[j - 1].len() == size
                && datagrams[j].len() <= size
            {
                j += 1;
            }
            let contents: &[u8] = if j - i == 1 {
                datagrams[i]
            } else {
                self.gso_buf.clear();
                for d in &datagrams[i..j] {
                    self.gso_buf.extend_from_slice(d);
                }
                &self.gso_buf
            };
            let transmit = Transmit {
                destination,
                ecn: None,
                contents,
                segment_size: (j - i > 1).then_some(size),
                // The kernel picks the source by route: an advertised public address behind
                // 1:1 NAT is not ours to bind.
                src_ip: None,
            };
            let (socket, state) = (&self.socket, &self.state);
            socket
                .async_io(Interest::WRITABLE, || state.try_send(socket.into(), &transmit))
                .await?;
            i = j;
        }
        Ok(())
    }
}
