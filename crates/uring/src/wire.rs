//! tokio-uring's socket, as the shared tasks move bytes (`tokio_task::wire`): the http
//! request, the crawl's exchange and the db's. Each read and write is an io_uring entry; the
//! ring owns the buffer while it is in flight and hands it back with the result, which is the
//! contract [`Wire`] is written to.

use std::io;
use std::net::SocketAddr;

use tokio_task::wire::Wire;

pub struct Uring(tokio_uring::net::TcpStream);

impl Uring {
    /// A connection a server accepted, with TCP_NODELAY: an answer is written whole.
    pub fn accepted(stream: tokio_uring::net::TcpStream) -> Uring {
        let _ = stream.set_nodelay(true);
        Uring(stream)
    }
}

impl Wire for Uring {
    type Timer = tokio_task::TokioTimer;

    async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = tokio_uring::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Uring(stream))
    }

    async fn write_all(&mut self, bytes: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        self.0.write_all(bytes).await
    }

    async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        self.0.read(buf).await
    }

    /// A cancelled read still holds the socket in the kernel, and tokio-uring closes it only
    /// when that read completes: shutting it down completes it.
    fn shut_down(&self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}
