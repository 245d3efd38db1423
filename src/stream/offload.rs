//! Work handed to a second thread in batches: for a command whose work
//! on each packet takes about as long as reading and decoding it, the two
//! halves run side by side on two cores.
//!
//! The reading thread fills a batch ([`Offload::batch`], or
//! [`Offload::push`] for packets) and sends it when it is full; the
//! channel holds two, so the reader is at most that far ahead and memory
//! stays bounded. The worker is lent each batch in turn
//! ([`Batches::next_batch`]) and sends it back as it is, for the reader to
//! empty (handing what it held back to be reused, see
//! [`Offload::send_with`]) and fill again: no batch is allocated after the
//! first few.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::{self, JoinHandle};

use crate::codec::batch::PacketBatch;
use crate::codec::packet::Packet;

/// The bytes of packets sent to the worker at once by [`Offload::push`].
pub const BATCH_BYTES: usize = 256 * 1024;

/// What can be sent: a batch that may be empty (an empty one is not sent
/// at the end).
pub trait Batch: Default + Send + 'static {
    /// Whether it holds nothing.
    fn is_empty(&self) -> bool;
}

impl Batch for PacketBatch {
    fn is_empty(&self) -> bool {
        PacketBatch::is_empty(self)
    }
}

impl<I: Send + 'static> Batch for Vec<I> {
    fn is_empty(&self) -> bool {
        <[I]>::is_empty(self)
    }
}

/// The reading side: batches sent here reach the worker in order.
#[derive(Debug)]
pub struct Offload<B, T> {
    batch: B,
    full: SyncSender<B>,
    empty: Receiver<B>,
    worker: JoinHandle<T>,
}

/// The worker has returned (with an error of its own, say): what is
/// sent now goes nowhere, and [`Offload::finish`] gives its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerGone;

impl<B: Batch, T: Send + 'static> Offload<B, T> {
    /// Starts `work` on a thread called `name`, with the batches to come.
    pub fn spawn(
        name: &str,
        work: impl FnOnce(&mut Batches<B>) -> T + Send + 'static,
    ) -> std::io::Result<Offload<B, T>> {
        let (full, full_rx) = mpsc::sync_channel::<B>(2);
        let (empty_tx, empty) = mpsc::channel::<B>();
        let worker = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut batches = Batches {
                    full: full_rx,
                    empty: empty_tx,
                    lent: None,
                };
                work(&mut batches)
            })?;
        Ok(Offload {
            batch: B::default(),
            full,
            empty,
            worker,
        })
    }

    /// The batch being filled.
    #[inline]
    pub fn batch(&mut self) -> &mut B {
        &mut self.batch
    }

    /// Sends the batch being filled, and goes on with one the worker is
    /// done with (or a new one), which `empty` empties first.
    pub fn send_with(&mut self, empty: impl FnOnce(&mut B)) -> Result<(), WorkerGone> {
        let next = match self.empty.try_recv() {
            Ok(mut done) => {
                empty(&mut done);
                done
            }
            Err(_) => B::default(),
        };
        let full = std::mem::replace(&mut self.batch, next);
        self.full.send(full).map_err(|_| WorkerGone)
    }

    /// Waits for the worker's result, once the batch being filled is sent
    /// (a panic on the worker goes on here).
    pub fn finish(self) -> T {
        if !self.batch.is_empty() {
            let _ = self.full.send(self.batch);
        }
        drop(self.full);
        self.worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl<T: Send + 'static> Offload<PacketBatch, T> {
    /// Adds a copy of `packet` to the batch being filled, and sends the
    /// batch when it holds [`BATCH_BYTES`].
    #[inline]
    pub fn push(&mut self, packet: &Packet<'_>) -> Result<(), WorkerGone> {
        self.batch.push(packet);
        if self.batch.byte_len() >= BATCH_BYTES {
            return self.send();
        }
        Ok(())
    }

    /// Sends the packets pushed so far, if any: for when the input pauses
    /// (a live stream), so that the worker is not a batch behind.
    pub fn send(&mut self) -> Result<(), WorkerGone> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.send_with(PacketBatch::clear)
    }
}

/// The worker's side: the batches in the order they were sent.
#[derive(Debug)]
pub struct Batches<B> {
    full: Receiver<B>,
    empty: Sender<B>,
    lent: Option<B>,
}

impl<B> Batches<B> {
    /// The next batch, `None` when the reader is done; the one lent before
    /// goes back to the reader.
    pub fn next_batch(&mut self) -> Option<&mut B> {
        if let Some(done) = self.lent.take() {
            // The reader may have finished already; then the batch goes.
            let _ = self.empty.send(done);
        }
        self.lent = Some(self.full.recv().ok()?);
        self.lent.as_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, decode, encode};

    fn packet_bytes(id: &str) -> Vec<u8> {
        let mut wire = Vec::new();
        let event = Event {
            test_id: Some(id),
            ..Event::default()
        };
        encode(&event, &mut wire).unwrap();
        wire
    }

    #[test]
    fn the_worker_sees_every_packet_in_order_across_batches() {
        let mut offload = Offload::spawn("test", |batches: &mut Batches<PacketBatch>| {
            let mut ids = Vec::new();
            let mut sizes = Vec::new();
            while let Some(batch) = batches.next_batch() {
                sizes.push(batch.len());
                ids.extend(batch.iter().map(|p| p.test_id().unwrap().to_owned()));
            }
            (ids, sizes)
        })
        .unwrap();
        // Enough packets for several full batches, then a partial one sent
        // early, then the rest.
        let n = 3 * BATCH_BYTES / packet_bytes("t-00000").len();
        let mut sent = Vec::new();
        for i in 0..n {
            let id = format!("t-{i:05}");
            let wire = packet_bytes(&id);
            offload.push(&decode(&wire).unwrap().unwrap()).unwrap();
            sent.push(id);
            if i == 10 {
                offload.send().unwrap();
            }
        }
        offload.send().unwrap();
        offload.send().unwrap();
        let (ids, sizes) = offload.finish();
        assert_eq!(ids, sent);
        assert_eq!(sizes[0], 11, "the batch sent early");
        assert!(sizes.len() >= 4, "{sizes:?}");
        assert!(
            sizes.iter().all(|&n| n > 0),
            "no empty batch is sent, and none comes back unemptied: {sizes:?}"
        );
    }

    #[test]
    fn a_worker_that_returns_early_is_told_to_the_reader() {
        let mut offload = Offload::spawn("test", |batches: &mut Batches<PacketBatch>| {
            batches.next_batch().map(|b| b.len())
        })
        .unwrap();
        let wire = packet_bytes("t");
        let packet = decode(&wire).unwrap().unwrap();
        let mut gone = false;
        for _ in 0..100_000 {
            if offload.push(&packet).is_err() {
                gone = true;
                break;
            }
        }
        assert!(gone, "pushing to a worker that returned fails");
        assert!(offload.finish().unwrap() > 0);
    }

    #[test]
    fn batches_come_back_to_be_emptied_as_the_reader_wants() {
        // Batches of numbers; the reader keeps what comes back (as a
        // recorder keeps records to reuse their buffers).
        let mut offload = Offload::spawn("test", |batches: &mut Batches<Vec<u32>>| {
            let mut sum = 0;
            while let Some(batch) = batches.next_batch() {
                sum += batch.iter().sum::<u32>();
            }
            sum
        })
        .unwrap();
        let mut reused = Vec::new();
        for i in 0..1000 {
            offload.batch().push(i);
            if offload.batch().len() == 10 {
                offload.send_with(|done| reused.append(done)).unwrap();
            }
        }
        assert_eq!(offload.finish(), (0..1000u32).sum::<u32>());
        assert!(!reused.is_empty(), "batches came back");
        assert!(
            reused.windows(2).all(|w| w[0] < w[1]),
            "in order, each once"
        );
    }
}
