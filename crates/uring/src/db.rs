//! db on tokio-uring: the shared task and pool of `tokio_task::db`, over sockets whose
//! reads and writes are io_uring entries. The ring owns a buffer while its operation is in
//! flight and hands it back with the result, which is why [`Wire`] moves owned `Vec`s.

use std::cell::OnceCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use tokio_task::db::{Pool, Wire};
use workload::{Args, TaskError};

/// A tokio-uring socket, as the shared db task moves bytes.
pub struct Uring(tokio_uring::net::TcpStream);

impl Wire for Uring {
    type Timer = tokio_task::TokioTimer;

    async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = tokio_uring::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Uring(stream))
    }

    async fn write(&mut self, bytes: Vec<u8>) -> io::Result<usize> {
        let (written, bytes) = self.0.write_all(bytes).await;
        written.map(|()| bytes.len())
    }

    async fn read(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        // The read fills the Vec's spare capacity: hand it over empty, with the room kept.
        let room = buf.len();
        buf.clear();
        let (n, mut buf) = self.0.read(buf).await;
        buf.resize(room.max(buf.len()), 0);
        (n, buf)
    }
}

thread_local! {
    /// `--workers W`'s connections, on the runtime's one thread.
    static POOL: OnceCell<Option<Rc<Pool<Uring>>>> = const { OnceCell::new() };
}

/// Task `id`'s query: a connection of its own, or one of the pool's.
pub async fn query(args: &'static Args, id: u32) -> Result<u64, TaskError> {
    let pool = POOL.with(|p| p.get_or_init(|| args.workers.map(|w| Rc::new(Pool::new(w)))).clone());
    tokio_task::db::query(pool.as_deref(), args, id).await
}
