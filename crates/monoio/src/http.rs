//! http on monoio: connect, write the request and read the answer, each an io_uring entry on
//! the task's core, with owned buffers (the kernel holds each while its entry is in flight);
//! the whole request bounded by `--timeout-ms` on monoio's timer.

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use workload::error::io_error;
use workload::http::{self, Progress, ResponseParser};
use workload::{Args, TaskError};

pub async fn get(args: &'static Args, id: u32) -> Result<u64, TaskError> {
    match monoio::time::timeout(args.timeout(), exchange(args, id)).await {
        Ok(result) => result,
        Err(_) => Err(TaskError::timed_out("the request", args.timeout())),
    }
}

async fn exchange(args: &'static Args, id: u32) -> Result<u64, TaskError> {
    let addr = args.addr;
    let mut stream =
        TcpStream::connect_addr(addr).await.map_err(|e| io_error(addr, "connect to", &e))?;
    let (written, _) = stream.write_all(http::request(addr, id, args.ms)).await;
    written.map_err(|e| io_error(addr, "write to", &e))?;
    let mut parser = ResponseParser::new();
    let mut buf = Vec::with_capacity(512);
    loop {
        // The read fills the Vec's spare capacity, so it goes in empty.
        let (read, mut returned) = stream.read(buf).await;
        let n = read.map_err(|e| io_error(addr, "read from", &e))?;
        if n == 0 {
            return Ok(parser.eof()?);
        }
        if let Progress::Done(value) = parser.feed(&returned)? {
            return Ok(value);
        }
        returned.clear();
        buf = returned;
    }
}
