//! monoio's socket, as the shared tasks move bytes (`tokio_task::wire`): the http request,
//! the crawl's exchange and the db's. Each read and write is an io_uring entry on the task's
//! core; monoio owns the buffer while it is in flight and hands it back with the result,
//! which is the contract [`Wire`] is written to.

use std::io;
use std::net::SocketAddr;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use tokio_task::wire::Wire;

use crate::cores::MonoioTimer;

pub struct Monoio(TcpStream);

impl Monoio {
    /// A connection a server accepted, with TCP_NODELAY: an answer is written whole.
    pub fn accepted(stream: TcpStream) -> Monoio {
        let _ = stream.set_nodelay(true);
        Monoio(stream)
    }
}

impl Wire for Monoio {
    type Timer = MonoioTimer;

    async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_addr(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Monoio(stream))
    }

    async fn write_all(&mut self, bytes: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        let (written, bytes) = self.0.write_all(bytes).await;
        (written.map(|_| ()), bytes)
    }

    async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        self.0.read(buf).await
    }
}
