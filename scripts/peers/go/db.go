// The db workload (CONTRACT.md, "db") for go-goroutines, on the standard library alone.
//
// Go's standard library has no PostgreSQL driver, and the module proxy (pgx, lib/pq) is
// out of reach here, so this file speaks the small part of the protocol the workload needs
// over net.Conn: the startup message, trust, password, MD5 and SCRAM-SHA-256 logins, and the
// extended protocol — Parse once per connection, then Bind, Execute and Sync per query, with
// the parameters bound in binary. About what pgx does for this one statement, minus its
// type system.
//
// Without --workers a goroutine per task opens its own connection; with --workers W the W
// goroutines share W connections through a buffered channel, the Go way to write a pool.
package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

type dbURL struct {
	user, password, addr, dbname string
	hasPassword                  bool
}

// mask is text masked as CONTRACT.md says: from its first ':' after the scheme's "//" (or
// after its start) to its last '@', "***"; with no '@', everything after that ':'.
func mask(text string) string {
	at := strings.LastIndex(text, "@")
	head := text
	if at >= 0 {
		head = text[:at]
	}
	start := 0
	if i := strings.Index(head, "://"); i >= 0 {
		start = i + 3
	}
	colon := strings.Index(head[start:], ":")
	if colon < 0 {
		return text
	}
	tail := ""
	if at >= 0 {
		tail = text[at:]
	}
	return text[:start+colon] + ":***" + tail
}

// parseDbURL takes postgres://user[:password]@host[:port]/dbname; a reason for a refusal
// never shows the password.
func parseDbURL(text string) (*dbURL, string) {
	shown := mask(text)
	bad := func(why string) (*dbURL, string) {
		return nil, fmt.Sprintf("'%s' is not a PostgreSQL URL: %s", shown, why)
	}
	u, err := url.Parse(text)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.User == nil {
		return bad("say postgres://user[:password]@host[:port]/dbname")
	}
	for key, values := range u.Query() {
		if key != "sslmode" || len(values) != 1 || (values[0] != "disable" && values[0] != "prefer") {
			return bad(fmt.Sprintf("'%s' is not taken (only sslmode=disable)", key))
		}
	}
	d := &dbURL{user: u.User.Username(), dbname: strings.TrimPrefix(u.Path, "/")}
	d.password, d.hasPassword = u.User.Password()
	if !d.hasPassword {
		d.password, d.hasPassword = os.LookupEnv("PGPASSWORD")
	}
	if d.user == "" || d.dbname == "" || u.Hostname() == "" {
		return bad("the user, the host and the database must not be empty")
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return bad(fmt.Sprintf("'%s' is not a port", port))
	}
	d.addr = net.JoinHostPort(u.Hostname(), port)
	return d, ""
}

func defaultDbURL() string {
	if b, err := os.ReadFile("data/db/url"); err == nil {
		return strings.TrimSpace(string(b))
	}
	user := os.Getenv("USER")
	if user == "" {
		user = "postgres"
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:5432/%s", user, user)
}

func dbStatement(a *args) string {
	wait := a.ms > 0
	switch {
	case a.write && wait:
		return "UPDATE items SET hits = hits + 1 FROM pg_sleep($2) AS s WHERE id = $1 RETURNING value"
	case a.write:
		return "UPDATE items SET hits = hits + 1 WHERE id = $1 RETURNING value"
	case wait:
		return "SELECT value FROM items, pg_sleep($2) WHERE id = $1"
	}
	return "SELECT value FROM items WHERE id = $1"
}

// pgConn is one logged-in connection.
type pgConn struct {
	c        net.Conn
	r        *bufio.Reader
	prepared bool
	broken   bool // an exchange failed midway: the connection is lost
}

// message appends a frontend message: its type byte (none for the startup), its length, body.
func message(out []byte, kind byte, body []byte) []byte {
	if kind != 0 {
		out = append(out, kind)
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(body)+4))
	return append(out, body...)
}

func cstr(b []byte, s string) []byte { return append(append(b, s...), 0) }

// read returns the next backend message's type and body.
func (p *pgConn) read() (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(p.r, head[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n < 4 || n > 1<<20 {
		return 0, nil, fmt.Errorf("a message of %d bytes: not the protocol", n)
	}
	body := make([]byte, n-4)
	_, err := io.ReadFull(p.r, body)
	return head[0], body, err
}

// serverError is an ErrorResponse said the contract's way.
func serverError(a *args, body []byte) error {
	fields := map[byte]string{}
	for len(body) > 1 {
		end := strings.IndexByte(string(body[1:]), 0)
		if end < 0 {
			break
		}
		fields[body[0]] = string(body[1 : 1+end])
		body = body[2+end:]
	}
	severity := fields['V']
	if severity == "" {
		severity = fields['S']
	}
	text := fmt.Sprintf("PostgreSQL at %s: %s %s: %s", a.db.addr, severity, fields['C'], fields['M'])
	if fields['C'] == "53300" {
		text += " — limit to raise: max_connections on the server; or share fewer connections: a pool, --workers W"
	}
	return errors.New(text)
}

func dbIOError(a *args, err error) error {
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("the query timed out after %d ms (--timeout-ms)", a.timeoutMs)
	case strings.Contains(err.Error(), "connection refused"):
		return fmt.Errorf("connection refused by %s (is PostgreSQL running? `make db`, or --db-url)", a.db.addr)
	}
	return fmt.Errorf("PostgreSQL at %s: %v", a.db.addr, err)
}

// pgConnect dials and logs in.
func pgConnect(a *args) (*pgConn, error) {
	timeout := time.Duration(a.timeoutMs) * time.Millisecond
	c, err := net.DialTimeout("tcp", a.db.addr, timeout)
	if err != nil {
		return nil, dbIOError(a, err)
	}
	p := &pgConn{c: c, r: bufio.NewReader(c)}
	c.SetDeadline(time.Now().Add(timeout))
	if err := p.login(a); err != nil {
		c.Close()
		return nil, err
	}
	return p, nil
}

func (p *pgConn) login(a *args) error {
	body := binary.BigEndian.AppendUint32(nil, 196608) // protocol 3.0
	body = cstr(cstr(body, "user"), a.db.user)
	body = cstr(cstr(body, "database"), a.db.dbname)
	body = cstr(cstr(body, "application_name"), "conclab")
	if a.write {
		body = cstr(cstr(body, "options"), "-c synchronous_commit=on")
	}
	if _, err := p.c.Write(message(nil, 0, append(body, 0))); err != nil {
		return dbIOError(a, err)
	}
	var scram *scramState
	for {
		kind, body, err := p.read()
		if err != nil {
			return dbIOError(a, err)
		}
		switch kind {
		case 'E':
			return serverError(a, body)
		case 'Z':
			return nil
		case 'R':
			if len(body) < 4 {
				return errors.New("a short authentication message: not the protocol")
			}
			code := binary.BigEndian.Uint32(body)
			if code != 0 && !a.db.hasPassword {
				return fmt.Errorf("PostgreSQL at %s asks for a password: give one in --db-url or PGPASSWORD", a.db.addr)
			}
			var out []byte
			switch code {
			case 0: // trust, or the end of an exchange
			case 3:
				out = message(nil, 'p', cstr(nil, a.db.password))
			case 5:
				inner := fmt.Sprintf("%x", md5.Sum([]byte(a.db.password+a.db.user)))
				outer := fmt.Sprintf("md5%x", md5.Sum(append([]byte(inner), body[4:8]...)))
				out = message(nil, 'p', cstr(nil, outer))
			case 10:
				if !strings.Contains(string(body[4:]), "SCRAM-SHA-256\x00") {
					return errors.New("the server asks for a SASL mechanism other than SCRAM-SHA-256")
				}
				scram = newScram(a.db.password)
				first := cstr(nil, "SCRAM-SHA-256")
				first = binary.BigEndian.AppendUint32(first, uint32(len(scram.clientFirst)))
				out = message(nil, 'p', append(first, scram.clientFirst...))
			case 11, 12:
				if scram == nil {
					return errors.New("SASL out of turn")
				}
				reply, err := scram.step(code, string(body[4:]))
				if err != nil {
					return err
				}
				if reply != "" {
					out = message(nil, 'p', []byte(reply))
				}
			default:
				return fmt.Errorf("the server asks for an authentication (%d) this client does not speak", code)
			}
			if out != nil {
				if _, err := p.c.Write(out); err != nil {
					return dbIOError(a, err)
				}
			}
		}
	}
}

// query runs task id's statement: Parse the first time, then Bind, Execute, Sync.
func (p *pgConn) query(a *args, id int) (uint64, error) {
	p.c.SetDeadline(time.Now().Add(time.Duration(a.timeoutMs) * time.Millisecond))
	var out []byte
	if !p.prepared {
		parse := cstr(cstr(nil, "conclab"), dbStatement(a))
		types := []uint32{23}
		if a.ms > 0 {
			types = append(types, 701)
		}
		parse = binary.BigEndian.AppendUint16(parse, uint16(len(types)))
		for _, t := range types {
			parse = binary.BigEndian.AppendUint32(parse, t)
		}
		out = message(out, 'P', parse)
		p.prepared = true
	}
	bind := cstr(cstr(nil, ""), "conclab")
	bind = binary.BigEndian.AppendUint16(bind, 1)
	bind = binary.BigEndian.AppendUint16(bind, 1) // every parameter binary
	params := [][]byte{binary.BigEndian.AppendUint32(nil, uint32(id%a.rows+1))}
	if a.ms > 0 {
		params = append(params, binary.BigEndian.AppendUint64(nil, math.Float64bits(float64(a.ms)/1000)))
	}
	bind = binary.BigEndian.AppendUint16(bind, uint16(len(params)))
	for _, v := range params {
		bind = append(binary.BigEndian.AppendUint32(bind, uint32(len(v))), v...)
	}
	bind = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(bind, 1), 1) // the result binary
	out = message(out, 'B', bind)
	out = message(out, 'E', binary.BigEndian.AppendUint32(cstr(nil, ""), 0))
	out = message(out, 'S', nil)
	if _, err := p.c.Write(out); err != nil {
		p.broken = true
		return 0, dbIOError(a, err)
	}
	var value uint64
	var found bool
	var failed error
	for {
		kind, body, err := p.read()
		if err != nil {
			p.broken = true
			return 0, dbIOError(a, err)
		}
		switch kind {
		case 'D':
			// One column: its length, then an int8 in 8 big-endian bytes.
			if len(body) != 2+4+8 {
				p.broken = true
				return 0, errors.New("a row that is not one bigint: not the protocol")
			}
			value, found = binary.BigEndian.Uint64(body[6:]), true
		case 'E':
			failed = serverError(a, body)
		case 'Z':
			if failed != nil {
				return 0, failed
			}
			if !found {
				return 0, errors.New("no such row in items: --rows is more than the table holds")
			}
			return value, nil
		}
	}
}

func (p *pgConn) close() {
	p.c.Write(message(nil, 'X', nil)) // goodbye: the backend ends now
	p.c.Close()
}

// dbPool hands out --workers connections, opened as first needed; nil without --workers.
type dbPool chan *pgConn

func newDbPool(a *args) dbPool {
	if a.workers == 0 {
		return nil
	}
	pool := make(dbPool, a.workers)
	for i := 0; i < a.workers; i++ {
		pool <- nil // a slot whose connection is not open yet
	}
	return pool
}

// dbTask is task id's query, on a connection of its own or on one of the pool's.
func dbTask(a *args, pool dbPool, id int) (uint64, error) {
	if pool == nil {
		p, err := pgConnect(a)
		if err != nil {
			return 0, err
		}
		defer p.close()
		return p.query(a, id)
	}
	p := <-pool
	var err error
	if p == nil {
		if p, err = pgConnect(a); err != nil {
			pool <- nil
			return 0, err
		}
	}
	value, err := p.query(a, id)
	if p.broken {
		p.c.Close()
		p = nil // lost: the slot opens a new one next time
	}
	pool <- p
	return value, err
}

// scramState is the client's side of SCRAM-SHA-256 (RFC 5802, RFC 7677), without channel
// binding.
type scramState struct {
	password, nonce, clientFirst, authMessage string
	salted                                    []byte
}

func newScram(password string) *scramState {
	raw := make([]byte, 18)
	rand.Read(raw)
	nonce := base64.StdEncoding.EncodeToString(raw)
	return &scramState{password: password, nonce: nonce, clientFirst: "n,,n=,r=" + nonce}
}

func hmacSum(key []byte, text string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(text))
	return m.Sum(nil)
}

// step takes the server-first (11) or server-final (12) message; the reply to send, if any.
func (s *scramState) step(code uint32, server string) (string, error) {
	attrs := map[string]string{}
	for _, part := range strings.Split(server, ",") {
		if k, v, ok := strings.Cut(part, "="); ok {
			attrs[k] = v
		}
	}
	if code == 12 {
		want := hmacSum(hmacSum(s.salted, "Server Key"), s.authMessage)
		if attrs["v"] != base64.StdEncoding.EncodeToString(want) {
			return "", errors.New("SCRAM: the server's signature is wrong")
		}
		return "", nil
	}
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	var iterations int
	fmt.Sscanf(attrs["i"], "%d", &iterations)
	if err != nil || iterations < 1 || !strings.HasPrefix(attrs["r"], s.nonce) {
		return "", errors.New("SCRAM: a malformed server-first message")
	}
	if s.salted, err = pbkdf2.Key(sha256.New, s.password, salt, iterations, 32); err != nil {
		return "", err
	}
	clientKey := hmacSum(s.salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	final := "c=biws,r=" + attrs["r"]
	s.authMessage = s.clientFirst[3:] + "," + server + "," + final
	signature := hmacSum(stored[:], s.authMessage)
	for i := range clientKey {
		clientKey[i] ^= signature[i]
	}
	return final + ",p=" + base64.StdEncoding.EncodeToString(clientKey), nil
}
