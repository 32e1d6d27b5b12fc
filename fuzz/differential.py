"""Hold our parsers against h11, an independent HTTP/1.1 implementation, input by input.

    differential.py VERDICTS TARGET DIR...

VERDICTS is the fuzz crate's `verdicts` binary: it prints what our parser made of each file
(the first byte of a corpus file is the fuzzer's split seed and is skipped, as here). h11
parses the same bytes: a client's view of a response (`response`), a server's view of a
request (`request`). They must agree on accept or reject and on the fields: the body, the
status, the route, keep-alive, the HTTP version and the request's length.

Some differences are the contract's, not bugs: `KNOWN` names each with its reason, and the
input's verdict is then "known" instead of "open". Prints one JSON object: counts, and the
first few inputs of each kind of difference.
"""

import json
import re
import subprocess
import sys

import h11

MAX_HEAD_RESPONSE = 16 * 1024
MAX_HEAD_REQUEST = 8 * 1024

# Differences that the contract chooses (CONTRACT.md, "Serving"); each is checked before an
# input may be called known.
KNOWN = {
    "only GET": "conclab's server answers GET alone; other methods get 400",
    "no request body": "no route takes a body; a request that announces one gets 400 and the "
    "connection closes, so its body is never read as the next request",
    "Host not read": "conclab's server routes by path alone and never reads Host, so it does "
    "not refuse a request with no Host or with two (RFC 9112 §3.2 asks a server to); h11 does",
    "HTTP/1.0 keep-alive": "HTTP/1.0 with `Connection: keep-alive` keeps the connection "
    "(RFC 9112 §9.3, appendix C.2.2); h11 never keeps an HTTP/1.0 connection",
    "control bytes": "httparse refuses control bytes in a head (RFC 9110 §5.5, RFC 9112 §4: "
    "not VCHAR, SP or HTAB); h11 takes them",
    "leading empty line": "httparse skips empty lines before the first line, as RFC 9112 §2.2 "
    "asks of a server; h11 does not",
    "head over the bound": "a head longer than the bound (16 KiB a response, 8 KiB a request) "
    "is refused however it arrives, so that the answer never depends on the reads; h11 bounds "
    "only a head still incomplete, and takes a long one that came whole",
    "header count": "the server reads at most 32 header fields and answers 431 past them "
    "(RFC 6585 §5); h11 takes any number",
    "one length, other spellings": "Content-Length fields that all give the same decimal value "
    "(`0` and `000`, or a list `0, 00`) are one length (RFC 9110 §8.6); h11 compares their text",
}

MAX_HEADERS_REQUEST = 32

CTL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def head_of(data):
    """The bytes up to the first empty line (the whole input if there is none)."""
    ends = [i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n"), data.find(b"\n\r\n")) if i >= 0]
    return data[: min(ends) + 2] if ends else data


def header_lines(data):
    """The head's field lines, after the start line."""
    return [l.rstrip(b"\r") for l in head_of(data).split(b"\n")[1:] if l.rstrip(b"\r")]


def one_length_other_spellings(data):
    """Every Content-Length value is digits, they all give one number, in more than one text."""
    values = [v.strip(b" \t") for l in header_lines(data) if l.lower().startswith(b"content-length:")
              for v in l.split(b":", 1)[1].split(b",")]
    digits = [v for v in values if v.isdigit()]
    return len(digits) == len(values) > 1 and len({int(v) for v in digits}) == 1 and len(set(digits)) > 1


def without_host(data):
    """The request with every Host line removed and one put after the request line."""
    first, sep, rest = data.partition(b"\n")
    lines = rest.split(b"\n")
    end = next((i for i, l in enumerate(lines) if l in (b"", b"\r")), len(lines))
    kept = [l for l in lines[:end] if not l.lower().startswith(b"host:")]
    return first + sep + b"Host: h\r\n" + b"\n".join(kept + lines[end:])


def h11_response(data):
    c = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_RESPONSE)
    c.send(h11.Request(method="GET", target="/query?id=1", headers=[("Host", "h"), ("Connection", "close")]))
    c.send(h11.EndOfMessage())
    c.receive_data(data)
    c.receive_data(b"")  # the server closed after these bytes
    status, body = None, b""
    try:
        while True:
            e = c.next_event()
            if isinstance(e, h11.InformationalResponse):
                continue
            if isinstance(e, h11.Response):
                status = e.status_code
                if status != 200:
                    return {"framed": False, "status": status}
            elif isinstance(e, h11.Data):
                body += e.data
            elif isinstance(e, h11.EndOfMessage):
                return {"framed": True, "status": 200, "body": body.hex()}
            else:
                return {"framed": False, "status": status, "error": repr(e)}
    except h11.RemoteProtocolError as err:
        return {"framed": False, "status": status, "error": str(err)}


def compare_response(ours, data):
    theirs = h11_response(data)
    if ours["framed"] or theirs["framed"]:
        same = ours["framed"] == theirs["framed"] and ours.get("body") == theirs.get("body")
    else:
        # Neither has a whole 200. A non-200 head ends the response for our client, so
        # either both read the same non-200 status, or both refused the bytes.
        def other(v):
            return v.get("status") if v.get("status") not in (None, 200) else None

        # Otherwise both refused: the client's task fails either way.
        same = other(ours) == other(theirs) or None in (other(ours), other(theirs))
    if same:
        return "agree", None
    if not ours["framed"] and theirs["framed"] and len(head_of(data)) > MAX_HEAD_RESPONSE \
            and f"over {MAX_HEAD_RESPONSE} bytes" in (ours.get("error") or ""):
        return "known", "head over the bound"
    if ours["framed"] and "conflicting Content-Length" in (theirs.get("error") or "") \
            and one_length_other_spellings(data):
        return "known", "one length, other spellings"
    trailers = data[data.rfind(b"\n0\r\n") :] if b"\n0\r\n" in data else b""
    if not ours["framed"] and theirs["framed"] and CTL.search(head_of(data) + trailers):
        return "known", "control bytes"
    if data[:1] in (b"\r", b"\n") and compare_response(ours, data.lstrip(b"\r\n"))[0] != "open":
        return "known", "leading empty line"
    return "open", {"ours": ours, "h11": theirs}


NUMBER = re.compile(r"^\+?[0-9]+$")


def route(target):
    """The route a target names, as the contract defines it; (None, status) if refused."""
    path, _, query = target.partition("?")
    params = [kv.split("=", 1) for kv in query.split("&") if "=" in kv]

    def number(name, default, most):
        value = next((v for k, v in params if k == name), None)
        if value is None:
            return default
        return int(value) if NUMBER.match(value) and int(value) <= most else None

    u32 = 2**32 - 1
    if path == "/health":
        return ["health"], 200
    if path in ("/query", "/cpu"):
        rid = number("id", None, u32)
        if path == "/query":
            extra = number("delay_ms", 0, 60_000)
        else:
            extra = number("work", 100_000, 10_000_000)
        if rid is None or extra is None:
            return None, 400
        return [path[1:], rid, extra], 200
    return None, 404


def h11_request(data):
    c = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_REQUEST)
    c.receive_data(data)
    try:
        e = c.next_event()
    except h11.RemoteProtocolError as err:
        return {"parsed": "bad", "error": str(err)}
    if not isinstance(e, h11.Request):  # NEED_DATA, or the close of an empty input
        return {"parsed": "partial"}
    headers = {}
    for name, value in e.headers:
        headers.setdefault(name.decode().lower(), []).append(value.decode("latin-1"))
    http10 = e.http_version == b"1.0"
    tokens = [t.strip().lower() for v in headers.get("connection", []) for t in v.split(",")]
    body = "transfer-encoding" in headers or any(v.strip() != "0" for v in headers.get("content-length", []))
    consumed = None
    if not body:
        end = c.next_event()
        if isinstance(end, h11.EndOfMessage):
            consumed = len(data) - len(c.trailing_data[0])
    r, status = route(e.target.decode("latin-1"))
    return {
        "parsed": "request",
        "method": e.method.decode("latin-1"),
        "body": body,
        "route": r,
        "status": status,
        "http10": http10,
        # RFC 9112 §9.3: 1.1 keeps unless `close`; 1.0 only with `keep-alive`.
        "keep_alive": ("keep-alive" in tokens) if http10 else ("close" not in tokens),
        "h11_keep_alive": h11._connection._keep_alive(e),
        "len": consumed,
    }


def compare_request(ours, data, changed=None):
    """Agree, known (with the KNOWN reason) or open. `changed` names how `data` was altered
    to get past a known difference; the request's length is then not compared."""
    theirs = h11_request(data)
    kinds = (ours["parsed"], theirs["parsed"])
    if kinds in (("partial", "partial"), ("bad", "bad")):
        return ("known", changed) if changed else ("agree", None)
    if kinds == ("bad", "partial"):
        # httparse refuses a bad byte as soon as it sees it; h11 waits for the whole head.
        return compare_request(ours, data + b"\r\n\r\n", changed)
    if kinds == ("bad", "request"):
        if theirs["method"] != "GET":
            return "known", "only GET"
        if theirs["body"]:
            return "known", "no request body"
        if CTL.search(head_of(data)):
            return "known", "control bytes"
        if ours.get("status") == 431 and len(head_of(data)) > MAX_HEAD_REQUEST:
            return "known", "head over the bound"
        if ours.get("status") == 431 and len(header_lines(data)) > MAX_HEADERS_REQUEST:
            return "known", "header count"
    if ours["parsed"] != "bad" and theirs["parsed"] == "bad":
        if data[:1] in (b"\r", b"\n") and not changed:
            return compare_request(ours, data.lstrip(b"\r\n"), "leading empty line")
        if "Host" in theirs["error"] and changed in (None, "leading empty line"):
            return compare_request(ours, without_host(data), changed or "Host not read")
    if kinds == ("request", "request"):
        fields = ["route", "status", "http10", "keep_alive"]
        same = all(ours.get(f) == theirs.get(f) for f in fields)
        same = same and (changed or theirs["len"] is None or ours["len"] == theirs["len"])
        if same:
            if ours["keep_alive"] != theirs["h11_keep_alive"]:
                return "known", "HTTP/1.0 keep-alive"
            return ("known", changed) if changed else ("agree", None)
    return "open", {"ours": ours, "h11": theirs, "changed": changed}


def main():
    verdicts, target, *dirs = sys.argv[1:]
    compare = {"response": compare_response, "request": compare_request}[target]
    files = sorted(f"{d}/{name}" for d in dirs for name in __import__("os").listdir(d))
    counts = {"inputs": 0, "agree": 0, "known": 0, "open": 0}
    known, open_ = {}, []
    for start in range(0, len(files), 500):
        batch = files[start : start + 500]
        out = subprocess.run([verdicts, target, *batch], capture_output=True, check=True, text=True)
        for line in out.stdout.splitlines():
            v = json.loads(line)
            data = open(v["file"], "rb").read()[1:]
            kind, detail = compare(v["ours"], data)
            counts["inputs"] += 1
            counts[kind] += 1
            if kind == "known":
                known[detail] = known.get(detail, 0) + 1
            elif kind == "open" and len(open_) < 10:
                open_.append({"file": v["file"], "input": data[:300].decode("latin-1"), **detail})
    reasons = {k: KNOWN[k] for k in known}
    print(json.dumps({"target": target, **counts, "known_by_reason": known, "reasons": reasons, "open_examples": open_}))


if __name__ == "__main__":
    main()
