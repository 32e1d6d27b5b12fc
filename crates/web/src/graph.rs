//! The web as a graph, fully determined by its [`Shape`]: which page lives where, what it
//! links to and how each link is written, how large it is, how late each host answers — and
//! the answer sheet, what a full crawl must find, computed from the graph itself (by
//! resource, not by parsing hrefs), so that it checks the crawlers rather than agreeing with
//! them.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use serde::Serialize;
use workload::crawl::page::value;
use workload::disk::splitmix64;

/// What the web is made of (`CONTRACT.md`, "The web").
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub pages: u32,
    pub hosts: u32,
    pub links: u32,
    /// The graph's seed: another value, another web of the same shape.
    pub graph: u64,
    pub latency: Latency,
    pub faults: bool,
}

/// How late a host answers: the same everywhere, or a log-normal spread across the hosts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    Fixed(Duration),
    LogNormal { p50: Duration, p99: Duration },
}

/// The origins beside the web's own hosts, each with a role in the fault profile or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    /// An origin the crawl must not enter: its pages are never fetched.
    Foreign,
    /// Accepts and never answers.
    Blackhole,
    /// Answers a byte every 100 ms, without end.
    Drip,
    /// Its port is closed: connections are refused.
    Closed,
    /// Every page links to new pages, without end.
    Trap,
}

impl Extra {
    /// The extra origins, in the order of their ports after the web's hosts.
    pub const ALL: [Extra; 5] =
        [Extra::Foreign, Extra::Blackhole, Extra::Drip, Extra::Closed, Extra::Trap];
}

/// The kinds of a link, as a page writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Absolute,
    Root,
    Relative,
    Dot,
    Fragment,
    Query,
    Upper,
    Single,
    Unquoted,
    Repeat,
    Image,
    Redirect,
    Missing,
    Foreign,
}

/// The forms of an ordinary link, drawn alike; a redirect and a page not there are rarer.
const FORMS: [Form; 12] = [
    Form::Absolute,
    Form::Root,
    Form::Relative,
    Form::Dot,
    Form::Fragment,
    Form::Query,
    Form::Upper,
    Form::Single,
    Form::Unquoted,
    Form::Repeat,
    Form::Image,
    Form::Foreign,
];

/// One link in `FEW` is a redirect, and one a page that is not there: a few of each, as on a
/// real web, so that most requests a crawl makes are pages.
const FEW: u64 = 32;

/// What a request names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    Page(u32),
    Image,
    /// A redirect to page `t`.
    Redirect(u32),
    Missing,
}

/// The web: its shape, and each page's host and path.
pub struct Graph {
    pub shape: Shape,
    host_of: Vec<u32>,
    path_of: Vec<String>,
    /// Each page by its host and path.
    by_place: std::collections::HashMap<(u32, String), u32>,
}

/// A uniform value in (0, 1) from `key`.
fn unit(key: u64) -> f64 {
    ((splitmix64(key) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// The standard normal quantile (Acklam's approximation, relative error under 1.2e-9).
fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] =
        [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

impl Graph {
    pub fn new(shape: Shape) -> Graph {
        let key = |j: u32, salt: u64| splitmix64(shape.graph ^ (u64::from(j) << 8) ^ salt);
        let mut host_of = Vec::with_capacity(shape.pages as usize);
        let mut path_of = Vec::with_capacity(shape.pages as usize);
        for j in 0..shape.pages {
            if j == 0 {
                host_of.push(0);
                path_of.push("/".to_string());
                continue;
            }
            host_of.push((key(j, 1) % u64::from(shape.hosts)) as u32);
            let folders: Vec<String> =
                (0..key(j, 2) % 3).map(|d| format!("d{}", key(j, 3 + d) % 4)).collect();
            let name = match key(j, 9) % 3 {
                0 => format!("p{j}.html"),
                1 => format!("page-{j}"),
                _ => format!("P{j}.htm"),
            };
            path_of.push(format!(
                "/{}",
                folders.into_iter().chain([name]).collect::<Vec<_>>().join("/")
            ));
        }
        let by_place = (0..shape.pages)
            .map(|j| ((host_of[j as usize], path_of[j as usize].clone()), j))
            .collect();
        Graph { shape, host_of, path_of, by_place }
    }

    fn key(&self, j: u32, k: u32, salt: u64) -> u64 {
        splitmix64(self.shape.graph ^ (u64::from(j) << 24) ^ (u64::from(k) << 4) ^ salt)
    }

    pub fn host_of(&self, j: u32) -> u32 {
        self.host_of[j as usize]
    }

    pub fn path_of(&self, j: u32) -> &str {
        &self.path_of[j as usize]
    }

    /// How long host `h` waits before it answers.
    pub fn delay(&self, h: u32) -> Duration {
        match self.shape.latency {
            Latency::Fixed(d) => d,
            Latency::LogNormal { p50, p99 } => {
                let sigma = (p99.as_secs_f64() / p50.as_secs_f64()).ln() / 2.326_347_874;
                let z = probit(unit(self.shape.graph ^ 0x6c61_7465 ^ u64::from(h)));
                Duration::from_secs_f64(p50.as_secs_f64() * (sigma * z).exp())
            }
        }
    }

    /// Page `j`'s size in bytes: a median of about 16 KiB, a tail past 100 KiB.
    pub fn size_of(&self, j: u32) -> usize {
        let z = probit(unit(self.key(j, 0, 0x7369_7a65)));
        (16_384.0 * (0.9 * z).exp()).clamp(2_048.0, 1_048_576.0) as usize
    }

    /// Page `j`'s links: (form, target page), each drawn from the page and the link's index.
    fn links_of(&self, j: u32) -> Vec<(Form, u32)> {
        (0..self.shape.links)
            .map(|k| {
                let draw = self.key(j, k, 1);
                let form = match draw % FEW {
                    0 => Form::Redirect,
                    1 => Form::Missing,
                    _ => FORMS[(draw / FEW % FORMS.len() as u64) as usize],
                };
                let target = (self.key(j, k, 2) % u64::from(self.shape.pages)) as u32;
                (form, target)
            })
            .collect()
    }

    /// What `path` (without its query) names on host `h`.
    pub fn resource(&self, h: u32, path: &str) -> Resource {
        let number = |prefix: &str, suffix: &str| -> Option<u32> {
            path.strip_prefix(prefix)?.strip_suffix(suffix)?.parse().ok()
        };
        if number("/img/", ".png").is_some() {
            return Resource::Image;
        }
        if let Some(t) = number("/r/", "").filter(|&t| t < self.shape.pages) {
            return Resource::Redirect(t);
        }
        match self.by_place.get(&(h, path.to_string())) {
            Some(&j) => Resource::Page(j),
            None => Resource::Missing,
        }
    }

    /// The relative reference from page `from`'s folder to `to` (same host).
    fn relative(from: &str, to: &str) -> String {
        let dir: Vec<&str> = from
            .rsplit_once('/')
            .map_or("", |(d, _)| d)
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let target: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
        let (to_dirs, name) = match to.ends_with('/') {
            true => (&target[..], ""),
            false => target.split_last().map_or((&target[..], ""), |(n, d)| (d, *n)),
        };
        let common = dir.iter().zip(to_dirs).take_while(|(a, b)| a == b).count();
        let mut rel: Vec<String> = vec!["..".into(); dir.len() - common];
        rel.extend(to_dirs[common..].iter().map(|s| s.to_string()));
        let joined = rel.join("/");
        match (joined.is_empty(), name.is_empty()) {
            (true, true) => "./".into(),
            (true, false) => name.to_string(),
            (false, true) => format!("{joined}/"),
            (false, false) => format!("{joined}/{name}"),
        }
    }
}

/// Where the web is served: the port of each host, then of each extra origin.
#[derive(Clone, Debug)]
pub struct Ports {
    pub hosts: Vec<u16>,
    pub extras: Vec<(Extra, u16)>,
}

impl Ports {
    pub fn origin(&self, h: u32) -> String {
        format!("http://127.0.0.1:{}", self.hosts[h as usize])
    }

    pub fn extra(&self, which: Extra) -> String {
        let port = self.extras.iter().find(|(e, _)| *e == which).map_or(0, |(_, p)| *p);
        format!("http://127.0.0.1:{port}")
    }
}

/// A page's HTML, with its links written in their forms and, around them, what only a
/// regular expression would take for links.
pub fn page_html(g: &Graph, ports: &Ports, j: u32) -> String {
    let h = g.host_of(j);
    let here = g.path_of(j);
    let mut links = Vec::new();
    let mut last = String::new();
    for (k, (form, t)) in g.links_of(j).into_iter().enumerate() {
        let same = g.host_of(t) == h;
        let there = g.path_of(t);
        let abs = format!("{}{there}", ports.origin(g.host_of(t)));
        let root = if same { there.to_string() } else { abs.clone() };
        let href = match form {
            Form::Absolute => abs,
            Form::Root | Form::Upper | Form::Single | Form::Unquoted => root,
            Form::Relative if same => Graph::relative(here, there),
            Form::Dot if same => {
                let rel = Graph::relative(here, there);
                if rel.starts_with("..") || rel.starts_with("./") {
                    rel
                } else {
                    format!("./{rel}")
                }
            }
            Form::Relative | Form::Dot => abs,
            Form::Fragment => format!("{root}#part-{}", k % 3),
            Form::Query => format!("{root}?from={j}&amp;k={}", k % 3),
            Form::Repeat => {
                if last.is_empty() {
                    root
                } else {
                    last.clone()
                }
            }
            Form::Image => format!("/img/{t}.png"),
            Form::Redirect => format!("/r/{t}"),
            Form::Missing => format!("/missing/{t}"),
            Form::Foreign => format!("{}/elsewhere/{t}", ports.extra(Extra::Foreign)),
        };
        last.clone_from(&href);
        let a = match form {
            Form::Upper => format!(r#"<A HREF="{href}">Page {t}</A>"#),
            Form::Single => format!("<a class='x' href='{href}'>page {t}</a>"),
            Form::Unquoted => format!("<a href={href} rel=next>page {t}</a>"),
            Form::Image => format!(r#"<a href="{href}"><img src="{href}" alt=""></a>"#),
            _ => format!(r#"<a href="{href}">page {t}</a>"#),
        };
        links.push(a);
    }
    if g.shape.faults && j == 0 {
        for extra in [Extra::Blackhole, Extra::Drip, Extra::Closed] {
            links.push(format!(r#"<a href="{}/">{extra:?}</a>"#, ports.extra(extra)));
        }
        links.push(format!(r#"<a href="{}/trap/0">more</a>"#, ports.extra(Extra::Trap)));
    }
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>Page {j}</title>\n\
         <link rel=stylesheet href=\"/style/{j}.css\">\n\
         <script>var next = '<a href=\"/hidden/script/{j}.html\">x</a>'; if (a < b && c > d) {{ go(); }}</script>\n\
         <style>/* <a href=\"/hidden/style/{j}.html\"> */ p {{ margin: 0 }}</style>\n\
         </head><body><h1>Page {j} &mdash; a page of the web</h1>\n\
         <!-- <a href=\"/hidden/comment/{j}.html\">an old link</a> -->\n\
         <p><a href=\"mailto:someone{j}@example.org\">mail</a> <a href=\"javascript:void(0)\">nothing</a></p>\n"
    );
    let size = g.size_of(j);
    let words = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ";
    let mut p = 0usize;
    for a in &links {
        html.push_str(&format!("<p>{} {a} {}</p>\n", &words[..40 + p % 60], &words[p % 50..]));
        p += 37;
    }
    while html.len() < size {
        html.push_str("<p class=filler>");
        html.push_str(words);
        html.push_str(&words[..(p % 90) + 10]);
        html.push_str("</p>\n");
        p += 13;
    }
    html.push_str("</body></html>\n");
    html
}

/// A page of the trap: `K` links to new pages, without end.
pub fn trap_html(g: &Graph, n: u64) -> String {
    let links: String = (1..=u64::from(g.shape.links))
        .map(|i| format!("<a href=\"/trap/{}\">more</a>\n", n * u64::from(g.shape.links) + i))
        .collect();
    format!("<!DOCTYPE html>\n<html><body><h1>Trap {n}</h1>\n{links}</body></html>\n")
}

/// What a full crawl from the root, entering `allow`, must find.
#[derive(Debug, Serialize)]
pub struct Sheet {
    #[serde(flatten)]
    pub found: Found,
    pub seed: String,
    pub allow: Vec<String>,
    pub trap: Option<String>,
}

/// What a crawl finds, in the figures of its report (`CONTRACT.md`, "crawl").
#[derive(Debug, Default, Serialize)]
pub struct Found {
    pub pages: u32,
    pub failed: u32,
    pub redirects: u32,
    /// Failed URLs by kind: "status", "timeout", "refused".
    pub failures: std::collections::BTreeMap<String, u32>,
    /// The sum of the pages' values (`value`), wrapping.
    pub checksum: u64,
}

impl Found {
    fn page(&mut self, url: &str) {
        self.pages += 1;
        self.checksum = self.checksum.wrapping_add(value(url));
    }

    fn failure(&mut self, kind: &str) {
        self.failed += 1;
        *self.failures.entry(kind.to_string()).or_default() += 1;
    }
}

/// A URL of the web, by its parts: a host's index, a path and a query (empty for none).
#[derive(Clone)]
struct Place {
    host: u32,
    path: String,
    query: String,
}

impl Place {
    fn new(host: u32, path: String) -> Place {
        Place { host, path, query: String::new() }
    }

    /// Page `t`, with no query.
    fn page(g: &Graph, t: u32) -> Place {
        Place::new(g.host_of(t), g.path_of(t).to_string())
    }

    /// Its URL, normalized as a crawler normalizes it.
    fn url(&self, ports: &Ports) -> String {
        match self.query.is_empty() {
            true => format!("{}{}", ports.origin(self.host), self.path),
            false => format!("{}{}?{}", ports.origin(self.host), self.path, self.query),
        }
    }
}

/// The URLs page `j`'s links lead a crawl to, in the order
/// `page_html` writes them: what a crawler's tokenizer finds there, without the foreign ones.
fn links_found(g: &Graph, j: u32) -> Vec<Place> {
    let h = g.host_of(j);
    let mut found = Vec::new();
    // The link before this one, as `page_html` repeats it: none before the first, and a
    // foreign link, repeated, is still foreign.
    let mut last: Option<Option<Place>> = None;
    for (k, (form, t)) in g.links_of(j).into_iter().enumerate() {
        let page = Place::page(g, t);
        let link = match form {
            Form::Query => Some(Place { query: format!("from={j}&k={}", k % 3), ..page }),
            Form::Repeat => last.clone().unwrap_or(Some(page)),
            Form::Image => Some(Place::new(h, format!("/img/{t}.png"))),
            Form::Redirect => Some(Place::new(h, format!("/r/{t}"))),
            Form::Missing => Some(Place::new(h, format!("/missing/{t}"))),
            Form::Foreign => None,
            _ => Some(page),
        };
        last = Some(link.clone());
        found.extend(link);
    }
    found
}

/// The answer sheet, by a breadth-first walk of the graph from the root.
pub fn answer(g: &Graph, ports: &Ports) -> Sheet {
    let mut allow: Vec<String> = (1..g.shape.hosts).map(|h| ports.origin(h)).collect();
    if g.shape.faults {
        allow.extend([Extra::Blackhole, Extra::Drip, Extra::Closed].map(|e| ports.extra(e)));
    }
    let seed = format!("{}/", ports.origin(0));
    let mut sheet = Sheet {
        found: Found::default(),
        seed: seed.clone(),
        allow,
        trap: g.shape.faults.then(|| ports.extra(Extra::Trap)),
    };
    // A URL is known by (host, path, query); its value by its string.
    let mut seen: HashSet<String> = HashSet::from([seed.clone()]);
    let mut queue = VecDeque::from([Place::new(0, "/".to_string())]);
    while let Some(place) = queue.pop_front() {
        let url = place.url(ports);
        let mut found: Vec<Place> = Vec::new();
        match g.resource(place.host, &place.path) {
            Resource::Missing => sheet.found.failure("status"),
            Resource::Image => sheet.found.page(&url),
            Resource::Redirect(t) => {
                sheet.found.redirects += 1;
                found.push(Place::page(g, t));
            }
            Resource::Page(j) => {
                sheet.found.page(&url);
                found = links_found(g, j);
                if g.shape.faults && j == 0 {
                    for (extra, kind) in [
                        (Extra::Blackhole, "timeout"),
                        (Extra::Drip, "timeout"),
                        (Extra::Closed, "refused"),
                    ] {
                        let url = format!("{}/", ports.extra(extra));
                        if seen.insert(url) {
                            sheet.found.failure(kind);
                        }
                    }
                }
            }
        }
        for place in found {
            if seen.insert(place.url(ports)) {
                queue.push_back(place);
            }
        }
    }
    sheet
}

#[cfg(test)]
mod tests {
    use super::*;
    use workload::crawl::page;

    #[test]
    fn a_relative_reference_resolves_to_its_target() {
        let base = url::Url::parse("http://h/d1/d2/p.html").unwrap();
        for (from, to) in [
            ("/d1/d2/p.html", "/d1/x/q.html"),
            ("/d1/d2/p.html", "/"),
            ("/", "/"),
            ("/", "/a/b.htm"),
            ("/p.html", "/q"),
            ("/d1/p", "/d1/d2/"),
        ] {
            let base = base.join(from).unwrap();
            let rel = Graph::relative(from, to);
            assert_eq!(base.join(&rel).unwrap().path(), to, "{from} -> {to} via {rel:?}");
        }
    }

    #[test]
    fn latency_spreads_as_asked_and_sizes_have_their_median() {
        let shape = Shape {
            pages: 2000,
            hosts: 200,
            links: 8,
            graph: 1,
            latency: Latency::LogNormal {
                p50: Duration::from_millis(20),
                p99: Duration::from_millis(200),
            },
            faults: false,
        };
        let g = Graph::new(shape);
        let mut delays: Vec<f64> = (0..200).map(|h| g.delay(h).as_secs_f64() * 1000.0).collect();
        delays.sort_by(f64::total_cmp);
        assert!((12.0..30.0).contains(&delays[100]), "median {}", delays[100]);
        assert!(delays[199] > 80.0, "slowest {}", delays[199]);
        let mut sizes: Vec<usize> = (0..2000).map(|j| g.size_of(j)).collect();
        sizes.sort_unstable();
        assert!((13_000..20_000).contains(&sizes[1000]), "median {}", sizes[1000]);
        assert!(sizes[1990] > 100_000, "p99.5 {}", sizes[1990]);
    }

    /// What the sheet follows from a page is what a crawler's tokenizer finds in its HTML:
    /// every form of link, repeated ones after a foreign link among them.
    #[test]
    fn the_sheet_follows_the_links_a_page_shows() {
        for graph in 1..=6 {
            let shape = Shape {
                pages: 400,
                hosts: 3,
                links: 8,
                graph,
                latency: Latency::Fixed(Duration::ZERO),
                faults: true,
            };
            let g = Graph::new(shape);
            let ports = Ports {
                hosts: vec![7880, 7881, 7882],
                extras: Extra::ALL.iter().zip(7883..).map(|(&e, p)| (e, p)).collect(),
            };
            let web: Vec<String> = (0..3).map(|h| ports.origin(h)).collect();
            for j in 0..400 {
                let base =
                    url::Url::parse(&format!("{}{}", ports.origin(g.host_of(j)), g.path_of(j)))
                        .unwrap();
                let shown: Vec<String> = page::links(page_html(&g, &ports, j).as_bytes())
                    .iter()
                    .filter_map(|href| page::resolve(&base, href))
                    .filter(|u| web.contains(&page::origin(u)))
                    .map(page::normalize)
                    .collect();
                let followed: Vec<String> =
                    links_found(&g, j).iter().map(|place| place.url(&ports)).collect();
                assert_eq!(shown, followed, "graph {graph}, page {j}");
            }
        }
    }
}
