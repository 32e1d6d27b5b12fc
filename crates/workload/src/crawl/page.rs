//! What a page is to the crawl (`CONTRACT.md`, "crawl"): one normalized URL string, its
//! origin, and its value; and the links an HTML page holds.
//!
//! Two URLs are the same page when their normalized strings are equal: resolved against the
//! page they were found on (RFC 3986 §5, by the `url` crate), the fragment dropped, the
//! scheme and the host lower-cased, port 80 left out, an empty path `/`, the query kept. The
//! links are the `href`s of `<a>` elements, found by a real HTML tokenizer (`html5gum`, with
//! the states a `<script>`, a `<style>` or a comment switch it to), never by a pattern.

use html5gum::{Token, Tokenizer};
use url::Url;

use crate::disk::splitmix64;

/// A page's URL, normalized: what the seen set, the checksum and the report hold.
pub fn normalize(mut url: Url) -> String {
    url.set_fragment(None);
    url.into()
}

/// `href` resolved against `base`, if it names an `http://` page.
pub fn resolve(base: &Url, href: &str) -> Option<Url> {
    let url = base.join(href.trim()).ok()?;
    (url.scheme() == "http" && url.host().is_some()).then_some(url)
}

/// `http://host[:port]`, the origin a page belongs to (port 80 left out).
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A page's value: `splitmix64(fnv1a64(url))`, over the normalized URL's bytes.
pub fn value(normalized: &str) -> u64 {
    splitmix64(fnv1a64(normalized.as_bytes()))
}

/// The standard 64-bit FNV-1a.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The `href` of every `<a>` element of an HTML body, in order, with its character references
/// decoded; nothing inside `<script>`, `<style>` or a comment.
pub fn links(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let mut emitter = html5gum::emitters::default::DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut hrefs = Vec::new();
    for token in Tokenizer::new_with_emitter(text.as_ref(), emitter).flatten() {
        if let Token::StartTag(tag) = token {
            if &*tag.name == b"a" {
                if let Some(href) = tag.attributes.get(&b"href"[..]) {
                    hrefs.push(String::from_utf8_lossy(href).into_owned());
                }
            }
        }
    }
    hrefs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: &str, href: &str) -> Option<String> {
        resolve(&Url::parse(base).unwrap(), href).map(normalize)
    }

    #[test]
    fn urls_are_resolved_and_normalized_as_the_contract_says() {
        let page = "http://Example.COM:80/d1/d2/p.html?x=1";
        assert_eq!(at(page, "q.html#part").as_deref(), Some("http://example.com/d1/d2/q.html"));
        assert_eq!(at(page, "../a").as_deref(), Some("http://example.com/d1/a"));
        assert_eq!(
            at(page, "./b?from=3&n=1").as_deref(),
            Some("http://example.com/d1/d2/b?from=3&n=1")
        );
        assert_eq!(at(page, "/").as_deref(), Some("http://example.com/"));
        assert_eq!(at(page, "HTTP://OTHER:8080").as_deref(), Some("http://other:8080/"));
        assert_eq!(at(page, "#top").as_deref(), Some("http://example.com/d1/d2/p.html?x=1"));
        assert_eq!(at(page, "mailto:a@b.c"), None);
        assert_eq!(at(page, "https://example.com/"), None);
        assert_eq!(origin(&Url::parse("http://H:81/x").unwrap()), "http://h:81");
        assert_eq!(origin(&Url::parse("http://h:80/x").unwrap()), "http://h");
    }

    #[test]
    fn a_value_is_the_mix_of_the_url_s_fnv() {
        // FNV-1a's published test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
        assert_eq!(value("http://h/"), splitmix64(fnv1a64(b"http://h/")));
    }

    #[test]
    fn only_what_a_browser_would_follow_is_a_link() {
        let html = br#"<!DOCTYPE html><html><head><link rel=stylesheet href="/s.css">
            <script>var s = '<a href="/in-script">x</a>';</script>
            <style>/* <a href="/in-style"> */ p { color: red }</style></head>
            <body><!-- <a href="/in-comment">old</a> -->
            <A HREF="/upper">U</A> <a class='x' href='/single?a=1&amp;b=2'>s</a>
            <a href=/unquoted rel=next>u</a> <a name="no-href">n</a> <img src="/i.png"></body>"#;
        assert_eq!(links(html), ["/upper", "/single?a=1&b=2", "/unquoted"]);
    }
}
