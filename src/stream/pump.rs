//! One input read on its own thread: its packets and its wrapped chatter
//! go, as whole packets in batches, to the one thread that writes the
//! output. Used by subunit-wrap's command mode and by subunit-mux.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc::{self, Receiver, SyncSender};

use crate::codec::reroute::Rerouter;
use crate::stream::reader::{Damage, Item, StreamReader};
use crate::stream::wrap::Wrapper;

/// Bytes of packets gathered before they are handed over.
pub const BATCH: usize = 64 * 1024;

/// What happens to the route code of the input's own packets.
#[derive(Debug, Clone)]
pub enum Routing {
    /// Left as it is.
    Keep,
    /// Replaced by this route code, or prefixed by it (`CODE/OLD`).
    Under(String),
}

/// What an input's reading saw.
#[derive(Debug, Default)]
pub struct Pumped {
    /// Damaged packets, kept as chatter.
    pub damage: Option<Damage>,
    /// Packets that could not take their new route code (too large, with
    /// no file content to split), wrapped as chatter so nothing is lost.
    pub unroutable: u64,
    /// No packet came and the chatter looked like subunit v1 text.
    pub looks_like_v1: bool,
}

/// Reads `source` to its end, sending whole packets to `tx`: a batch
/// whenever the input pauses or a batch is full. Stops early, without an
/// error, when the receiver is gone (the output was closed).
pub fn pump<R: Read + AsFd>(
    source: R,
    mut wrapper: Wrapper,
    routing: &Routing,
    tx: &SyncSender<Vec<u8>>,
) -> io::Result<Pumped> {
    let mut unroutable = 0;
    let mut reader = StreamReader::live(source);
    let mut batch = Vec::new();
    let mut rerouter = match routing {
        Routing::Keep => None,
        Routing::Under(prefix) => Some(Rerouter::new(prefix)),
    };
    // A send fails only when the writer has stopped: then reading on
    // would be pointless.
    let send = |batch: &mut Vec<u8>| batch.is_empty() || tx.send(std::mem::take(batch)).is_ok();
    while let Some(item) = reader.next()? {
        match item {
            Item::Packet(packet) => {
                wrapper.before_packet(&mut batch);
                match &mut rerouter {
                    None => batch.extend_from_slice(packet.raw()),
                    Some(rerouter) => {
                        if rerouter.reroute(&packet, &mut batch).is_err() {
                            // It cannot carry the route code: its bytes
                            // become chatter of this input rather than go
                            // out without their origin.
                            unroutable += 1;
                            wrapper.chatter(packet.raw(), &mut batch);
                            wrapper.flush(&mut batch);
                        }
                    }
                }
            }
            Item::Chatter(chatter) => wrapper.chatter(chatter.bytes, &mut batch),
            Item::Idle => {
                wrapper.flush(&mut batch);
                if !send(&mut batch) {
                    break;
                }
            }
        }
        if batch.len() >= BATCH && !send(&mut batch) {
            break;
        }
    }
    wrapper.finish(&mut batch);
    send(&mut batch);
    Ok(Pumped {
        damage: reader.damage(),
        unroutable,
        looks_like_v1: reader.looks_like_v1(),
    })
}

/// Writes the batches the pumps send, as they come, flushing whenever none
/// is ready (SPEC section 3); returns when every sender is gone.
pub fn write_batches(rx: &Receiver<Vec<u8>>, out: &mut impl Write) -> io::Result<()> {
    loop {
        let batch = match rx.try_recv() {
            Ok(batch) => batch,
            Err(mpsc::TryRecvError::Empty) => {
                out.flush()?;
                match rx.recv() {
                    Ok(batch) => batch,
                    Err(mpsc::RecvError) => break,
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => break,
        };
        out.write_all(&batch)?;
    }
    out.flush()
}
