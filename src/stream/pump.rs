//! One input read on its own thread: its packets and its wrapped chatter
//! go, as whole packets in batches, to the one thread that writes the
//! output. Used by subunit-wrap's command mode and by subunit-mux.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, SyncSender};

use crate::codec::reroute::Rerouter;
use crate::stream::reader::{Damage, Item, StreamReader};
use crate::stream::wrap::Wrapper;

/// Bytes of packets gathered before they are handed over.
pub const BATCH: usize = 64 * 1024;

/// Written batches kept to be filled again, so that a batch's buffer is
/// not allocated, grown and faulted in anew each time (it was 5% of
/// subunit-mux's time): at most [`SPARE_BATCHES`], each of the usual size.
static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// How many written batches are kept.
const SPARE_BATCHES: usize = 16;

/// The room a batch is made with: a full batch and a packet of up to
/// [`BATCH`] bytes more, so that it does not grow.
const BATCH_ROOM: usize = 2 * BATCH + 64;

/// An empty batch to fill: a kept one, or a new one.
fn empty_batch() -> Vec<u8> {
    let kept = SPARE.lock().ok().and_then(|mut spare| spare.pop());
    kept.unwrap_or_else(|| Vec::with_capacity(BATCH_ROOM))
}

/// Keeps a written batch to be filled again, unless enough are kept or it
/// is not of the usual size: grown by a large packet, or made elsewhere
/// (a failure report) and small, which would grow again.
fn keep_batch(mut batch: Vec<u8>) {
    if batch.capacity() != BATCH_ROOM {
        return;
    }
    batch.clear();
    if let Ok(mut spare) = SPARE.lock() {
        if spare.len() < SPARE_BATCHES {
            spare.push(batch);
        }
    }
}

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
    let mut batch = empty_batch();
    let mut rerouter = match routing {
        Routing::Keep => None,
        Routing::Under(prefix) => Some(Rerouter::new(prefix)),
    };
    // A send fails only when the writer has stopped: then reading on
    // would be pointless.
    let send = |batch: &mut Vec<u8>| {
        batch.is_empty() || tx.send(std::mem::replace(batch, empty_batch())).is_ok()
    };
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
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
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
        keep_batch(batch);
    }
    out.flush()
}
