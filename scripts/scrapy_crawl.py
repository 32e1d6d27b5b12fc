#!/usr/bin/env python3
"""The crawl benchmark's anchor: Scrapy, the crawler Python users reach for, crawling the web
the models crawl, in the same run — as fio is beside disk and pgbench beside db.

    .venv/bin/python scripts/scrapy_crawl.py --seed URL [--allow ORIGIN]... --workers W \
        --per-host C [--tasks N] [--timeout-ms T]

A spider in Scrapy's own idiom: each 200 HTML page's `a::attr(href)` followed with
response.follow, deduplicated by Scrapy's request fingerprints (which canonicalize a URL:
its query's arguments sorted), on the asyncio reactor Scrapy installs by default.
CONCURRENT_REQUESTS is W; CONCURRENT_REQUESTS_PER_DOMAIN is C, each origin its own slot
(every host of the web is 127.0.0.1, so by its host alone Scrapy would put them all in one);
no robots.txt, no throttling, no delay; 503 retried twice, 5 redirects at most, Scrapy's own
rules for both. Only the links of the seeds' and --allow's origins are followed.

It prints one JSON line in the contract's report shape, the figures Scrapy cannot tell as
null, and its checksum over the URLs it got 200 for, normalized as the contract says: what
the benchmark holds against the web's answer sheet.
"""
import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))

import crawl  # noqa: E402  the contract's URL normalization and page value

import scrapy  # noqa: E402
from scrapy import signals  # noqa: E402
from scrapy.crawler import CrawlerProcess  # noqa: E402

REDIRECTS = (301, 302, 303, 307, 308)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", action="append", required=True)
    p.add_argument("--allow", action="append", default=[])
    p.add_argument("--workers", type=int, default=crawl.DEFAULT_WORKERS)
    p.add_argument("--per-host", type=int, default=6)
    p.add_argument("--tasks", type=int, default=crawl.TASKS)
    p.add_argument("--timeout-ms", type=int, default=30_000)
    return p.parse_args()


class Web(scrapy.Spider):
    name = "web"
    # Every status but the redirects reaches parse (503 after its retries): a 404 is a finding.
    handle_httpstatus_list = [s for s in range(300, 600) if s not in REDIRECTS]

    def __init__(self, seeds, scope, most, **kw):
        super().__init__(**kw)
        self.seeds, self.scope, self.most = seeds, scope, most
        self.figures = {"pages": 0, "failures": {}, "bytes": 0,
                        "links": 0, "requested": 0, "checksum": 0}
        self.seen = set()

    @classmethod
    def from_crawler(cls, crawler, *args, **kw):
        spider = super().from_crawler(crawler, *args, **kw)
        crawler.signals.connect(spider.scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(spider.dropped, signal=signals.request_dropped)
        return spider

    def scheduled(self, request, spider):
        """A URL Scrapy will request (past its duplicate filter); a retry is the same URL."""
        if not request.meta.get("retry_times"):
            self.figures["requested"] += 1

    def dropped(self, request, spider):
        """A URL its duplicate filter turned away, after all."""
        if not request.meta.get("retry_times"):
            self.figures["requested"] -= 1

    def request(self, url, response=None):
        slot = crawl.origin(crawl.resolve(url, "") or url)
        meta = {"download_slot": slot}
        if response is None:
            return scrapy.Request(url, meta=meta, errback=self.failed)
        return response.follow(url, meta=meta, errback=self.failed)

    async def start(self):
        for seed in self.seeds:
            yield self.request(seed)

    def parse(self, response):
        url = crawl.resolve(response.url, "")
        self.figures["bytes"] += len(response.body)
        if response.status != 200:
            self.fail("status")
            return
        self.figures["pages"] += 1
        self.figures["checksum"] = (self.figures["checksum"] + crawl.value(url)) & crawl.MASK
        if not isinstance(response, scrapy.http.HtmlResponse):
            return
        for href in response.css("a::attr(href)").getall():
            self.figures["links"] += 1
            link = crawl.resolve(response.url, href)
            if link is None or crawl.origin(link) not in self.scope:
                continue
            if self.figures["requested"] >= self.most:
                self.figures["limited"] = True
                continue
            yield self.request(href, response)

    def failed(self, failure):
        from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TCPTimedOutError
        from twisted.internet.error import TimeoutError as Timeout
        if failure.check(Timeout, TCPTimedOutError):
            self.fail("timeout")
        elif failure.check(ConnectionRefusedError, DNSLookupError):
            self.fail("refused")
        else:
            self.fail("reset")

    def fail(self, kind):
        self.figures["failures"][kind] = self.figures["failures"].get(kind, 0) + 1


def main():
    a = parse_args()
    seeds = [crawl.resolve(s, "") for s in a.seed]
    scope = {crawl.origin(s) for s in seeds} | {crawl.origin(crawl.resolve(o, "")) for o in a.allow}
    process = CrawlerProcess(settings={
        "CONCURRENT_REQUESTS": a.workers,
        "CONCURRENT_REQUESTS_PER_DOMAIN": a.per_host,
        "ROBOTSTXT_OBEY": False,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "RANDOMIZE_DOWNLOAD_DELAY": False,
        "DOWNLOAD_TIMEOUT": a.timeout_ms / 1000,
        "DOWNLOAD_MAXSIZE": crawl.MAX_BODY,
        "RETRY_TIMES": crawl.RETRIES,
        "RETRY_HTTP_CODES": [503],
        "REDIRECT_MAX_TIMES": crawl.MOST_HOPS,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "USER_AGENT": "conclab",
        "REACTOR_THREADPOOL_MAXSIZE": 1,
    })
    process.crawl(Web, seeds=seeds, scope=scope, most=a.tasks)
    spider_of = list(process.crawlers)[0]
    started = time.monotonic()
    process.start()
    wall = time.monotonic() - started
    f = spider_of.spider.figures
    stats = spider_of.stats.get_stats()
    f["retries"] = stats.get("retry/count", 0)
    f["redirects"] = sum(stats.get(f"downloader/response_status_count/{s}", 0) for s in REDIRECTS)
    me = resource.getrusage(resource.RUSAGE_SELF)
    failed = sum(f["failures"].values())
    print(json.dumps({
        "model": "scrapy", "workload": "crawl", "tasks": f["requested"], "workers": a.workers,
        "ok": f["pages"], "failed": failed, "checksum": f["checksum"], "wall_s": wall,
        "user_s": me.ru_utime, "sys_s": me.ru_stime, "max_rss_kib": me.ru_maxrss,
        "voluntary_ctx_switches": me.ru_nvcsw, "involuntary_ctx_switches": me.ru_nivcsw,
        "peak_threads": None, "first_error": None,
        "crawl": {"pages": f["pages"], "failures": f["failures"], "retries": f["retries"],
                  "redirects": f["redirects"], "bytes": f["bytes"], "links": f["links"],
                  "unique": None, "peak_frontier": None, "peak_connections": None,
                  "limited": f.get("limited", False), "pages_per_s": f["pages"] / wall,
                  "latency_ms": None},
    }, separators=(",", ":")))


if __name__ == "__main__":
    main()
