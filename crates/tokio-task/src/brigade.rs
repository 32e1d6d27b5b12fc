//! A link of the bucket brigade on pipes whose reads and writes move owned buffers, as an
//! io_uring's do: `uring`'s and `monoio`'s, each naming its pipe's two operations ([`Pipe`]).

use std::io;

use workload::brigade::Circle;
use workload::TaskError;

/// One end of a pipe on a runtime's ring.
#[allow(async_fn_in_trait)] // each model awaits its own pipe: no bound on Send is needed
pub trait Pipe {
    /// Read exactly `buf.len()` bytes; `buf` comes back with them.
    async fn read_exact(&self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>);
    /// Write `bytes`, at most PIPE_BUF of them, so in one piece.
    async fn write(&self, bytes: Vec<u8>) -> io::Result<()>;
}

/// One link: receive `--laps` tokens on the circle, each written on plus one but the last.
pub async fn link<P: Pipe>(circle: Circle, from: &P, next: &P) -> Result<u64, TaskError> {
    let (mut value, mut buf) = (0u64, vec![0u8; 8]);
    for _ in 0..circle.laps {
        let (read, returned) = from.read_exact(buf).await;
        read.map_err(|e| TaskError::starting("receiving the token", &e))?;
        let c = u64::from_ne_bytes(returned[..8].try_into().expect("8 bytes"));
        buf = returned;
        value = value.wrapping_add(c);
        if let Some(c) = circle.pass_on(c) {
            let wrote = next.write(c.to_ne_bytes().to_vec()).await;
            wrote.map_err(|e| TaskError::starting("passing the token", &e))?;
        }
    }
    Ok(value)
}
