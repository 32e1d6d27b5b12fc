//! `--db-url postgres://user[:password]@host[:port]/dbname`: where the db workload's
//! PostgreSQL is, parsed once and refused (exit 2) when malformed.
//!
//! The password is the one secret the command line carries. It comes from the URL or from
//! `PGPASSWORD`, as libpq takes it, and nothing prints it: [`DbUrl`]'s `Display` and `Debug`
//! show `***` in its place, and the errors quote the URL only through them.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

/// A PostgreSQL server, the role to log in as and the database to use.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    pub user: String,
    pub password: Option<String>,
    /// As written, for messages: `127.0.0.1:5432`, `localhost:5433`.
    pub host: String,
    pub addr: SocketAddr,
    pub dbname: String,
}

/// Where `make db` writes its cluster's URL, read when `--db-url` is not given.
pub const MANAGED_URL_FILE: &str = "data/db/url";

/// The rows the managed cluster is seeded with, and `--rows`' default.
pub const DEFAULT_ROWS: u32 = 100_000;

/// The port PostgreSQL listens on when the URL names none.
pub const DEFAULT_PORT: u16 = 5432;

impl DbUrl {
    /// Parse `postgres://` or `postgresql://` URLs with a user, a host, an optional port and
    /// a database; `%XX` escapes are decoded in the user, password and database. The only
    /// query parameter taken is `sslmode=disable` or `sslmode=prefer` (this client speaks no
    /// TLS); any other is refused rather than ignored.
    pub fn parse(s: &str) -> Result<DbUrl, UrlError> {
        let bad = |why: &str| {
            UrlError::Malformed(format!("'{}' is not a PostgreSQL URL: {why}", mask(s)))
        };
        let rest = s
            .strip_prefix("postgres://")
            .or_else(|| s.strip_prefix("postgresql://"))
            .ok_or_else(|| bad("it starts with postgres:// (postgres://user@host:port/db)"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        for param in query.split('&').filter(|p| !p.is_empty()) {
            if param != "sslmode=disable" && param != "sslmode=prefer" {
                return Err(bad(&format!("'{param}' is not taken (only sslmode=disable)")));
            }
        }
        let (credentials, rest) =
            rest.rsplit_once('@').ok_or_else(|| bad("no user@ before the host"))?;
        let (user, password) = match credentials.split_once(':') {
            Some((user, password)) => (user, Some(decode(password).map_err(|e| bad(&e))?)),
            None => (credentials, None),
        };
        let user = decode(user).map_err(|e| bad(&e))?;
        if user.is_empty() {
            return Err(bad("the user is empty"));
        }
        let (host_port, dbname) = rest.split_once('/').ok_or_else(|| bad("no /dbname"))?;
        let dbname = decode(dbname).map_err(|e| bad(&e))?;
        if dbname.is_empty() {
            return Err(bad("the database name is empty"));
        }
        let (host, port) = split_host_port(host_port).map_err(|e| bad(&e))?;
        // A name may have several addresses (`localhost`: ::1 and 127.0.0.1); a server
        // listening on loopback alone most often has the IPv4 one, so it comes first.
        let unresolved = |why: String| {
            UrlError::Unresolved(format!("PostgreSQL at {host_port}: cannot resolve '{host}': {why} — is the host's name right?"))
        };
        let addrs: Vec<SocketAddr> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| unresolved(e.to_string()))?
            .collect();
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| unresolved("it has no address".into()))?;
        let password = password.or_else(|| std::env::var("PGPASSWORD").ok());
        Ok(DbUrl { user, password, host: host_port.to_string(), addr, dbname })
    }

    /// Leaked for the life of the process, so that `Args` stays `Copy`.
    pub fn parse_static(s: &str) -> Result<&'static DbUrl, UrlError> {
        DbUrl::parse(s).map(|url| &*Box::leak(Box::new(url)))
    }
}

/// Why a `--db-url` was not taken: bad input (exit 2), or a host no resolver knows, which
/// is a connection failure (exit 1), as a refused connection is.
#[derive(Debug)]
pub enum UrlError {
    Malformed(String),
    Unresolved(String),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Malformed(why) | UrlError::Unresolved(why) => f.write_str(why),
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("an IPv6 host lacks its ']'")?;
        (host, after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p.parse().map_err(|_| format!("'{p}' is not a port"))?,
    };
    Ok((host.to_string(), port))
}

/// Decode `%XX` escapes.
fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("a '%' escape is cut short")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("'%{hex}' is no escape"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "an escape is not UTF-8".into())
}

/// `s` masked as CONTRACT.md says: from its first `:` after the scheme's `//` (or after its
/// start) to its last `@`, `***`; with no `@`, everything after that `:`. A URL mistyped
/// every way (no scheme, no `//`, an `@` or `%40` in the password) so never shows its secret.
pub fn mask(s: &str) -> String {
    let at = s.rfind('@');
    let head = &s[..at.unwrap_or(s.len())];
    let start = head.find("://").map_or(0, |i| i + 3);
    match head[start..].find(':') {
        Some(colon) => format!("{}:***{}", &s[..start + colon], at.map_or("", |at| &s[at..])),
        None => s.to_string(),
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let password = if self.password.is_some() { ":***" } else { "" };
        write!(f, "postgres://{}{password}@{}/{}", self.user, self.host, self.dbname)
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_never_show_the_password() {
        let u = DbUrl::parse("postgres://bob:s%40cret@127.0.0.1:5433/lab").unwrap();
        assert_eq!((u.user.as_str(), u.dbname.as_str()), ("bob", "lab"));
        assert_eq!(u.password.as_deref(), Some("s@cret"));
        assert_eq!(u.addr, "127.0.0.1:5433".parse().unwrap());
        assert_eq!(u.to_string(), "postgres://bob:***@127.0.0.1:5433/lab");
        assert!(!format!("{u:?}").contains("cret"));
        let u = DbUrl::parse("postgresql://bob@[::1]/lab?sslmode=disable").unwrap();
        assert_eq!(u.addr.port(), DEFAULT_PORT);
        // localhost is ::1 and 127.0.0.1: a loopback server most often listens on the latter.
        let u = DbUrl::parse("postgres://bob@localhost:5433/lab").unwrap();
        assert_eq!(u.addr, "127.0.0.1:5433".parse().unwrap());
    }

    #[test]
    fn a_host_no_resolver_knows_is_a_connection_failure() {
        let e = DbUrl::parse("postgres://bob:hush@nosuchhost.invalid/db").unwrap_err();
        assert!(matches!(e, UrlError::Unresolved(_)), "{e}");
        assert!(e.to_string().contains("nosuchhost.invalid") && !e.to_string().contains("hush"));
    }

    #[test]
    fn malformed_urls_are_refused_without_the_password() {
        for bad in [
            "mysql://bob@h/db",
            "postgres://h:5432/db",
            "postgres://bob@h:port/db",
            "postgres://bob@127.0.0.1:5432",
            "postgres://bob@127.0.0.1:5432/",
            "postgres://bob:hush@127.0.0.1:99999/db",
            "postgres://bob@127.0.0.1/db?sslmode=require",
            "postgres://bob@127.0.0.1/d%zzb",
            "bob:hush@127.0.0.1/app",
            "postgres//bob:hush@127.0.0.1/app",
            "postgres:/bob:hush@127.0.0.1/app",
            "postgres:bob:hush@127.0.0.1/app",
            "mysql://bob:hush@h/db",
            "postgres://bob:hu@sh@127.0.0.1:99999/db",
            "postgres://bob:hu%40sh@127.0.0.1:99999/db",
            "postgres://bob:hu%4sh@127.0.0.1/db",
            "postgres://bob:hush/127.0.0.1/db",
            "postgres://bob:hu/sh@127.0.0.1:x/db",
        ] {
            let e = DbUrl::parse(bad).unwrap_err();
            assert!(matches!(e, UrlError::Malformed(_)), "{bad}: {e}");
            let e = e.to_string();
            assert!(e.contains("is not a PostgreSQL URL"), "{bad}: {e}");
            for secret in ["hush", "hu@sh", "hu%40sh", "sh@", "%4sh", "hu/sh"] {
                assert!(!e.contains(secret), "{bad}: {e}");
            }
        }
    }
}
