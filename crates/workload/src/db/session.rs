//! One connection's side of PostgreSQL's protocol (version 3), sans I/O.
//!
//! The model writes [`Session::to_send`] and reports what went with [`Session::sent`]; it
//! hands whatever it reads to [`Session::feed`], which says when the session is ready for
//! a query and what a query answered. Nothing here blocks, waits or owns a socket.

use bytes::{Buf, BytesMut};
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::{backend::Message, frontend};
use postgres_protocol::types;

use crate::db_url::DbUrl;
use crate::error::TaskError;

/// The statement's name on every connection: prepared once, bound per task.
const STATEMENT: &str = "conclab";
/// OIDs of the parameters' types: `$1` int4, `$2` float8.
const INT4: u32 = 23;
const FLOAT8: u32 = 701;
/// The longest message the session takes. Its own answers are a few dozen bytes and a
/// server's errors a few hundred; a length past this is a broken or hostile peer, refused
/// before it is buffered.
pub const MAX_MESSAGE: usize = 1 << 20;

/// What the bytes fed so far amount to.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Nothing yet: read more.
    More,
    /// Logged in and idle: a query may be sent.
    Ready,
    /// A query's answer, the row's value, or the server's error with its SQLSTATE. The
    /// session is idle again either way.
    Answer(Result<u64, TaskError>),
}

/// A bound parameter: `$1`, the row, and `$2`, the seconds to wait.
enum Param {
    Row(i32),
    Seconds(f64),
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    LoggingIn,
    Idle,
    Querying,
}

/// One connection's protocol state.
pub struct Session {
    url: &'static DbUrl,
    phase: Phase,
    input: BytesMut,
    output: BytesMut,
    scram: Option<sasl::ScramSha256>,
    /// The statement is prepared once per connection, with its first query.
    prepared: bool,
    /// What the query in flight has answered so far.
    value: Option<u64>,
    failed: Option<TaskError>,
}

impl Session {
    /// A session whose startup message is ready to send. A writer asks the server to commit
    /// durably (`synchronous_commit=on`) whatever its configuration says.
    pub fn new(url: &'static DbUrl, write: bool) -> Session {
        let mut output = BytesMut::with_capacity(256);
        let mut params = vec![
            ("user", url.user.as_str()),
            ("database", url.dbname.as_str()),
            ("application_name", "conclab"),
        ];
        if write {
            params.push(("options", "-c synchronous_commit=on"));
        }
        frontend::startup_message(params, &mut output).expect("names hold no NUL");
        Session {
            url,
            phase: Phase::LoggingIn,
            input: BytesMut::with_capacity(512),
            output,
            scram: None,
            prepared: false,
            value: None,
            failed: None,
        }
    }

    /// Bytes read and not yet taken as whole messages: at most [`MAX_MESSAGE`] and a
    /// header, plus the last read (the fuzz targets hold it to that).
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// The bytes to write now (empty when the session waits for the server).
    pub fn to_send(&self) -> &[u8] {
        &self.output
    }

    /// `n` bytes of [`to_send`](Session::to_send) were written.
    pub fn sent(&mut self, n: usize) {
        self.output.advance(n);
    }

    /// Queue the query for row `row`, waiting `ms` in the server; prepare the statement
    /// first if this connection has not. Only when idle.
    pub fn query(&mut self, statement: &str, row: u32, ms: u64) {
        assert_eq!(self.phase, Phase::Idle, "one query at a time, once logged in");
        let out = &mut self.output;
        let types: &[u32] = if ms > 0 { &[INT4, FLOAT8] } else { &[INT4] };
        if !self.prepared {
            frontend::parse(STATEMENT, statement, types.iter().copied(), out).expect("no NUL");
            self.prepared = true;
        }
        let row = Param::Row(row as i32);
        let params = if ms > 0 { vec![row, Param::Seconds(ms as f64 / 1000.0)] } else { vec![row] };
        frontend::bind(
            "",
            STATEMENT,
            [1], // every parameter binary
            params,
            |param, buf| {
                match param {
                    Param::Row(row) => types::int4_to_sql(row, buf),
                    Param::Seconds(s) => types::float8_to_sql(s, buf),
                }
                Ok(postgres_protocol::IsNull::No)
            },
            [1], // the result binary: an int8 is 8 bytes, big-endian
            out,
        )
        .map_err(|_| ())
        .expect("two parameters bind");
        frontend::execute("", 0, out).expect("no NUL");
        frontend::sync(out);
        self.phase = Phase::Querying;
        self.value = None;
        self.failed = None;
    }

    /// Queue the goodbye: the server ends the backend at once rather than at the socket's
    /// close.
    pub fn terminate(&mut self) {
        frontend::terminate(&mut self.output);
    }

    /// Whether a query is in flight.
    pub fn busy(&self) -> bool {
        self.phase == Phase::Querying
    }

    /// The server closed the connection.
    pub fn eof(&self) -> TaskError {
        let during = if self.phase == Phase::LoggingIn { "logging in" } else { "a query" };
        TaskError::new(format!(
            "PostgreSQL at {} closed the connection during {during}",
            self.url.host
        ))
    }

    /// Take bytes the server sent. An `Err` is fatal to the connection: a login refused, a
    /// server shutting down, bytes that are not the protocol.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Progress, TaskError> {
        self.input.extend_from_slice(bytes);
        loop {
            if self.input.len() >= 5 {
                let len = u32::from_be_bytes(self.input[1..5].try_into().expect("4 bytes"));
                if len as usize > MAX_MESSAGE {
                    return Err(self.broken(&format!("a message of {len} bytes")));
                }
            }
            let message = match Message::parse(&mut self.input) {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(Progress::More),
                Err(e) => return Err(self.broken(&e.to_string())),
            };
            if let Some(progress) = self.take(message)? {
                return Ok(progress);
            }
        }
    }

    /// One message; `Some` when it ends a phase.
    fn take(&mut self, message: Message) -> Result<Option<Progress>, TaskError> {
        let url = self.url;
        let password = || url.password.as_deref().unwrap_or("").as_bytes();
        match message {
            Message::AuthenticationOk => {}
            Message::AuthenticationCleartextPassword => {
                self.needs_password()?;
                frontend::password_message(password(), &mut self.output).expect("no NUL");
            }
            Message::AuthenticationMd5Password(body) => {
                self.needs_password()?;
                let hash = md5_hash(self.url.user.as_bytes(), password(), body.salt());
                frontend::password_message(hash.as_bytes(), &mut self.output).expect("no NUL");
            }
            Message::AuthenticationSasl(body) => {
                self.needs_password()?;
                let mut mechanisms = body.mechanisms();
                let mut scram = false;
                while let Some(m) = mechanisms.next().map_err(|e| self.broken(&e.to_string()))? {
                    scram |= m == sasl::SCRAM_SHA_256;
                }
                if !scram {
                    return Err(self.refused("asks for a SASL mechanism other than SCRAM-SHA-256"));
                }
                let s = sasl::ScramSha256::new(password(), sasl::ChannelBinding::unsupported());
                frontend::sasl_initial_response(sasl::SCRAM_SHA_256, s.message(), &mut self.output)
                    .expect("no NUL");
                self.scram = Some(s);
            }
            Message::AuthenticationSaslContinue(body) => {
                let scram =
                    self.scram.as_mut().ok_or_else(|| TaskError::new("SASL out of turn"))?;
                scram.update(body.data()).map_err(|e| TaskError::new(format!("SCRAM: {e}")))?;
                frontend::sasl_response(scram.message(), &mut self.output).expect("no NUL");
            }
            Message::AuthenticationSaslFinal(body) => {
                let scram =
                    self.scram.as_mut().ok_or_else(|| TaskError::new("SASL out of turn"))?;
                scram.finish(body.data()).map_err(|e| TaskError::new(format!("SCRAM: {e}")))?;
            }
            Message::ParameterStatus(_)
            | Message::BackendKeyData(_)
            | Message::NoticeResponse(_)
            | Message::ParseComplete
            | Message::BindComplete
            | Message::CommandComplete(_) => {}
            Message::DataRow(row) => {
                let mut ranges = row.ranges();
                let first = ranges.next().map_err(|e| self.broken(&e.to_string()))?;
                let bytes = first.flatten().map(|r| &row.buffer()[r]);
                let value = bytes.and_then(|b| types::int8_from_sql(b).ok());
                match value {
                    Some(v) if self.phase == Phase::Querying && v >= 0 => {
                        self.value = Some(v as u64)
                    }
                    _ => return Err(self.broken("a row that is not one bigint")),
                }
            }
            Message::ErrorResponse(body) => {
                let error = self.server_error(&body)?;
                if self.phase == Phase::LoggingIn {
                    return Err(error); // FATAL: the server closes the connection
                }
                self.failed = Some(error);
            }
            Message::ReadyForQuery(_) => {
                let ended = std::mem::replace(&mut self.phase, Phase::Idle);
                return Ok(Some(match ended {
                    Phase::LoggingIn => Progress::Ready,
                    Phase::Querying => Progress::Answer(self.answer()),
                    Phase::Idle => return Err(self.broken("ReadyForQuery out of turn")),
                }));
            }
            _ => return Err(self.broken("a message this client never asks for")),
        }
        Ok(None)
    }

    /// The query's answer: its error, its value, or no row at all.
    fn answer(&mut self) -> Result<u64, TaskError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.value.take().ok_or_else(|| {
            TaskError::new("no such row in items: --rows is more than the table holds")
        })
    }

    /// A password exchange with no password to give.
    fn needs_password(&self) -> Result<(), TaskError> {
        if self.url.password.is_none() {
            return Err(self.refused("asks for a password: give one in --db-url or PGPASSWORD"));
        }
        Ok(())
    }

    fn refused(&self, why: &str) -> TaskError {
        TaskError::new(format!("PostgreSQL at {} {why}", self.url.host))
    }

    fn broken(&self, what: &str) -> TaskError {
        TaskError::new(format!("PostgreSQL at {} sent {what}: not the protocol", self.url.host))
    }

    /// The server's error, with its severity, SQLSTATE and message; at max_connections, the
    /// limit and the pool that keeps under it.
    fn server_error(
        &self,
        body: &postgres_protocol::message::backend::ErrorResponseBody,
    ) -> Result<TaskError, TaskError> {
        let (mut severity, mut code, mut message) = (String::new(), String::new(), String::new());
        let mut fields = body.fields();
        while let Some(field) = fields.next().map_err(|e| self.broken(&e.to_string()))? {
            let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
            match field.type_() {
                b'V' => severity = value,
                b'S' if severity.is_empty() => severity = value,
                b'C' => code = value,
                b'M' => message = value,
                _ => {}
            }
        }
        let mut error = TaskError::new(format!(
            "PostgreSQL at {}: {severity} {code}: {message}",
            self.url.host
        ));
        if code == "53300" {
            error.limit = Some(
                "max_connections on the server; or share fewer connections: a pool, --workers W"
                    .into(),
            );
        }
        Ok(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    fn url() -> &'static DbUrl {
        DbUrl::parse_static("postgres://u@127.0.0.1:1/d").unwrap()
    }

    /// A backend message: tag, length, body.
    fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut b = BytesMut::new();
        b.put_u8(tag);
        b.put_u32(body.len() as u32 + 4);
        b.put_slice(body);
        b.to_vec()
    }

    fn logged_in() -> Session {
        let mut s = Session::new(url(), false);
        let n = s.to_send().len();
        s.sent(n);
        let mut bytes = msg(b'R', &0u32.to_be_bytes());
        bytes.extend(msg(b'Z', b"I"));
        assert_eq!(s.feed(&bytes).unwrap(), Progress::Ready);
        s
    }

    #[test]
    fn a_query_answers_its_value_whatever_the_split() {
        let mut answer = msg(b'1', b"");
        answer.extend(msg(b'2', b""));
        let mut row = 1u16.to_be_bytes().to_vec();
        row.extend(8i32.to_be_bytes());
        row.extend(42i64.to_be_bytes());
        answer.extend(msg(b'D', &row));
        answer.extend(msg(b'C', b"SELECT 1\0"));
        answer.extend(msg(b'Z', b"I"));
        for split in 0..=answer.len() {
            let mut s = logged_in();
            s.query(super::super::statement(0, false), 7, 0);
            assert!(s.busy());
            let first = s.feed(&answer[..split]).unwrap();
            let progress =
                if split == answer.len() { first } else { s.feed(&answer[split..]).unwrap() };
            assert_eq!(progress, Progress::Answer(Ok(42)), "split at {split}");
        }
    }

    #[test]
    fn an_error_carries_its_sqlstate_and_the_limit() {
        let mut s = Session::new(url(), false);
        let e = s.feed(&msg(b'E', b"SFATAL\0VFATAL\0C53300\0Msorry, too many clients already\0\0"));
        let e = e.unwrap_err().to_string();
        assert!(
            e.contains("53300") && e.contains("max_connections") && e.contains("--workers"),
            "{e}"
        );
    }

    #[test]
    fn an_oversized_or_unknown_message_is_refused() {
        let mut s = logged_in();
        let mut huge = vec![b'D'];
        huge.extend(((MAX_MESSAGE + 1) as u32).to_be_bytes());
        assert!(s.feed(&huge).is_err());
        let mut s = logged_in();
        assert!(s.feed(&msg(b'G', b"\0\0\0")).is_err()); // CopyInResponse: never asked for
    }
}
