"""The ``newswatch`` command: argument parsing and dispatch only.

Exit codes: 0 success, 1 failure at run time, 2 bad usage or a bad setting (the message names it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf.json_format import MessageToDict

from newswatch import __version__
from newswatch.errors import NewswatchError, SettingsError
from newswatch.observability import setup_logging
from newswatch.settings import Settings, describe, is_secret, load_settings

__all__ = ["build_parser", "main"]

log = logging.getLogger("newswatch.cli")

Handler = Callable[[argparse.Namespace, Settings], int]
T = TypeVar("T")


def _await(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion in a fresh event loop (each CLI verb does one thing)."""
    return asyncio.run(coro)


def _emit(line: str) -> None:
    print(line, flush=True)


# ---------------------------------------------------------------- run


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    service: str = args.service
    if service == "all":
        from newswatch.supervisor import supervise

        return _await(supervise(settings.shutdown_deadline_seconds, args.config))
    if service == "processor":
        from newswatch.processor.app import run_worker

        return run_worker(settings)
    from newswatch.lifecycle import Service, run_until_signalled

    svc: Service
    if service == "poller":
        from newswatch.poller.service import PollerService

        svc = PollerService(settings)
    else:
        from newswatch.alerter.service import AlerterService

        svc = AlerterService(settings)
    return _await(run_until_signalled(svc, settings.shutdown_deadline_seconds))


# ---------------------------------------------------------------- feeds


def _feed_row(feed: Any) -> str:
    """One feed per line: id, enabled, health state, interval, language, text source (``full`` = article
    pages fetched, ``feed`` = the feed's own text), last success (UTC), next check (UTC), URL, title, then
    the last error when there is one. ``-`` = not known yet."""

    def when(field: str) -> str:
        if not feed.health.HasField(field):
            return "-"
        return str(getattr(feed.health, field).ToDatetime().strftime("%Y-%m-%dT%H:%MZ"))

    interval = f"{feed.poll_interval_seconds}s" if feed.poll_interval_seconds else "default"
    enabled = "enabled" if feed.enabled else "disabled"
    health = {1: "ok", 2: "degraded", 3: "failing"}.get(feed.health.state, "-")
    text = "full" if feed.full_text else "feed"
    row = (
        f"{feed.feed_id}  {enabled:8}  {health:8}  every={interval}  {feed.language or '-':3}  text={text}  "
        f"last_ok={when('last_success_at')}  next={when('next_check_at')}  {feed.url}  {feed.title}"
    )
    return f"{row}  error={feed.health.last_error!r}" if feed.health.last_error else row


def _cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from newswatch import feeds

    if args.feeds_cmd == "add":
        feeds.validate_feed_url(args.url, settings.allow_private_networks)
        feed = feeds.make_feed(
            args.url,
            title=args.title or "",
            language=args.language or "",
            poll_interval_seconds=args.interval or 0,
            tags=args.tag or (),
            full_text=args.full_text,
        )
        for stored in _await(feeds.add_feeds(settings, [feed])):
            _emit(f"added {stored.feed_id} {stored.url}")
        return 0
    if args.feeds_cmd == "import":
        loaded = feeds.load_feeds_yaml(Path(args.file))
        for item in loaded:
            feeds.validate_feed_url(item.url, settings.allow_private_networks)
        imported = _await(feeds.add_feeds(settings, loaded))
        _emit(f"imported {len(imported)} feeds from {args.file}")
        return 0
    if args.feeds_cmd == "remove":
        removed = _await(feeds.remove_feed(settings, args.feed))
        if not removed:
            print(f"newswatch: no feed {args.feed!r}", file=sys.stderr)
            return 1
        _emit(f"removed {args.feed}")
        return 0
    listed = _await(feeds.list_feeds(settings))
    for feed in sorted(listed, key=lambda f: f.url):
        _emit(_to_json(feed) if args.json else _feed_row(feed))
    return 0


def _to_json(message: Any) -> str:
    return json.dumps(MessageToDict(message, preserving_proto_field_name=True), ensure_ascii=False)


# ---------------------------------------------------------------- watch lists


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _cmd_watchlists_backtest(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 2 for a bad FILE or --since (before any Kafka or gazetteer work), 0 after the summary."""
    from newswatch.backtest import backtest, load_backtest_watchlists
    from newswatch.processor.watchlist import WatchlistError
    from newswatch.stored import parse_since

    since = parse_since(args.since)
    try:
        lists = load_backtest_watchlists(Path(args.file))
    except WatchlistError as exc:
        print(f"newswatch: bad watch-list file: {exc}", file=sys.stderr)
        return 2
    _await(backtest(settings, lists, since, _emit, as_json=args.json, limit=args.limit))
    return 0


def _cmd_watchlists(args: argparse.Namespace, settings: Settings) -> int:
    from newswatch.processor import watchlist

    if args.wl_cmd == "backtest":
        return _cmd_watchlists_backtest(args, settings)
    if args.wl_cmd == "apply":
        lists = watchlist.load_watchlists_yaml(Path(args.file))
        _await(watchlist.apply_watchlists(settings, lists))
        for wl in lists:
            _emit(f"applied {wl.watchlist_id} ({len(wl.terms)} terms, threshold {wl.threshold:g})")
        return 0
    from newswatch.kafka import ensure_topics, read_compacted
    from newswatch.topics import WATCHLISTS
    from newswatch.v1.watchlist_pb2 import Watchlist

    async def _list() -> dict[str, Watchlist]:
        await ensure_topics(settings, [WATCHLISTS])
        return await read_compacted(settings, WATCHLISTS, Watchlist)

    stored = _await(_list())
    default = watchlist.default_watchlist()
    everything = {default.watchlist_id: default, **stored}
    for wl in everything.values():
        if args.json:
            _emit(_to_json(wl))
        else:
            origin = "stored" if wl.watchlist_id in stored else "built-in"
            terms = ", ".join(t.label for t in wl.terms)
            _emit(f"{wl.watchlist_id}  {origin:8}  threshold={wl.threshold:g}  terms: {terms}")
    return 0


# ---------------------------------------------------------------- subscriptions


def _subscription_from_args(args: argparse.Namespace, settings: Settings) -> Any:
    """The subscription ``subscriptions add`` describes (checked again when stored)."""
    from newswatch.alerter import subscriptions as subs
    from newswatch.alerter.validation import InvalidSubscriptionError, parse_quiet_hours

    sub = subs.new_subscription(
        args.name,
        webhook_url=args.webhook,
        slack_url=args.slack,
        email_to=args.email or (),
        subject_prefix=args.subject_prefix or "",
        console=args.console,
        stream=args.stream,
        secret=args.secret,
        watchlists=args.watchlist or (),
        terms=args.term or (),
        regions=args.region or (),
        countries=args.country or (),
        languages=args.language or (),
        min_score=args.min_score,
        allow_private=settings.allow_private_networks,
    )
    if args.id:
        sub.subscription_id = args.id
    sub.rate_limit_per_hour = args.rate_limit_per_hour
    if args.digest_every_alerts or args.digest_every_seconds:
        sub.digest.every_alerts = args.digest_every_alerts
        sub.digest.every_seconds = args.digest_every_seconds
    if args.quiet_hours:
        sub.quiet_hours.start, sub.quiet_hours.end = parse_quiet_hours(args.quiet_hours)
        sub.quiet_hours.timezone = args.timezone or ""
    elif args.timezone:
        raise InvalidSubscriptionError("--timezone applies to --quiet-hours", field="quiet_hours.timezone")
    sub.owner_email = args.owner_email or ""
    return sub


def _subscription_row(sub: Any) -> str:
    channel = sub.WhichOneof("channel") or "-"
    target = {"webhook": sub.webhook.url, "slack": sub.slack.url, "email": ",".join(sub.email.to)}
    filters = []
    for name in ("watchlists", "terms", "regions", "countries", "languages"):
        values = list(getattr(sub, name))
        if values:
            filters.append(f"{name}={','.join(values)}")
    if sub.min_score:
        filters.append(f"min_score={sub.min_score:g}")
    if sub.rate_limit_per_hour:
        filters.append(f"rate_limit={sub.rate_limit_per_hour}/h")
    if sub.HasField("digest"):
        filters.append(f"digest={sub.digest.every_alerts}alerts/{sub.digest.every_seconds}s")
    if sub.HasField("quiet_hours"):
        q = sub.quiet_hours
        filters.append(f"quiet={q.start}-{q.end}@{q.timezone or 'UTC'}")
    state = (
        "enabled" if sub.enabled else f"disabled{f' ({sub.disabled_reason})' if sub.disabled_reason else ''}"
    )
    shown = " ".join(filters) or "all alerts"
    return f"{sub.subscription_id}  {state}  {sub.name}  {channel} {target.get(channel, '')}  {shown}"


def _cmd_subscriptions(args: argparse.Namespace, settings: Settings) -> int:
    from newswatch.alerter import subscriptions as subs

    if args.sub_cmd == "add":
        sub = _subscription_from_args(args, settings)
        # The same validation as the HTTP API's, including the DNS check of a webhook or Slack host.
        sub = _await(subs.add_subscription(settings, sub))
        _emit(f"added subscription {sub.subscription_id} ({sub.name})")
        if args.webhook and not args.secret:
            # Shown once, here; never stored anywhere else than the subscriptions topic, never logged.
            _emit(f"webhook secret (keep it; it is not shown again): {sub.webhook.secret}")
        return 0
    if args.sub_cmd == "remove":
        if not _await(subs.remove_subscription(settings, args.subscription_id)):
            print(f"newswatch: no subscription {args.subscription_id!r}", file=sys.stderr)
            return 1
        _emit(f"removed {args.subscription_id}")
        return 0
    for sub in _await(subs.list_subscriptions(settings)):
        _emit(_to_json(sub) if args.json else _subscription_row(sub))
    return 0


# ---------------------------------------------------------------- deliveries


def _cmd_deliveries(args: argparse.Namespace, settings: Settings) -> int:
    from newswatch.alerter.replay import replay_dead_letters
    from newswatch.stored import parse_since

    since = parse_since(args.since)
    report = _await(
        replay_dead_letters(settings, since, subscription_id=args.subscription, dry_run=args.dry_run)
    )
    _emit(f"{report.summary(args.dry_run)} since {since.isoformat()}")
    return 0


# ---------------------------------------------------------------- tail, check-feed, replay


def _cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    from newswatch.tail import tail_alerts

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            tail_alerts(
                settings,
                _emit,
                last=args.last,
                as_json=args.json,
                watchlist=args.watchlist,
                max_alerts=args.max_alerts,
                timeout_seconds=args.timeout_seconds,
                api_url=args.api_url,
                source=args.source,
            )
        )
    return 0


def _cmd_check_feed(args: argparse.Namespace, settings: Settings) -> int:
    from newswatch.checkfeed import check_feed_report

    wl_file = Path(args.watchlists) if args.watchlists else None
    report = _await(check_feed_report(settings, args.url, wl_file, full_text=args.full_text))
    for line in report.lines(as_json=args.json):
        _emit(line)
    return 0


def _cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from newswatch.replay import parse_since, replay_articles

    since = parse_since(args.since)
    report = _await(replay_articles(settings, since, feed_id=args.feed, dry_run=args.dry_run))
    verb = "would re-publish" if args.dry_run else "re-published"
    _emit(
        f"{verb} {report.republished} articles since {since.isoformat()} "
        f"(replay {report.replay_id}; {report.skipped_invalid} undecodable skipped)"
    )
    return 0


def _cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    for env, default, text in describe():
        name = env.removeprefix("NEWSWATCH_").lower()
        current = getattr(settings, name)
        if is_secret(name) and current:
            current = "<set>"
        _emit(f"{env}={current}    # {text} (default {default})")
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newswatch",
        description="Streaming news monitoring on Apache Kafka: poll feeds, flag watch-list terms and "
        "regions, deliver alerts.",
        epilog="Settings come from NEWSWATCH_* environment variables and an optional YAML file "
        "(`newswatch settings` lists them).",
    )
    parser.add_argument("--version", action="version", version=f"newswatch {__version__}")
    parser.add_argument("--config", metavar="FILE", help="YAML settings file (keys are setting names)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    run = verbs.add_parser("run", help="run the pipeline or one of its services")
    run.add_argument("service", choices=["all", "poller", "processor", "alerter"])
    run.set_defaults(handler=_cmd_run)

    feeds = verbs.add_parser("feeds", help="manage watched feeds (newswatch.feeds.v1)")
    fv = feeds.add_subparsers(dest="feeds_cmd", required=True, metavar="ACTION")
    add = fv.add_parser("add", help="watch a feed")
    add.add_argument("url")
    add.add_argument("--title")
    add.add_argument("--language", help="language hint, e.g. fr or en")
    add.add_argument("--interval", type=int, metavar="SECONDS", help="poll interval (default: the poller's)")
    add.add_argument("--tag", action="append", help="a tag (repeatable)")
    add.add_argument(
        "--full-text",
        action="store_true",
        help="fetch each new article's page and keep its main text (for feeds that carry only summaries)",
    )
    lst = fv.add_parser("list", help="list watched feeds")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    rm = fv.add_parser("remove", help="stop watching a feed")
    rm.add_argument("feed", metavar="FEED_ID_OR_URL")
    imp = fv.add_parser("import", help="add every feed of a YAML file")
    imp.add_argument("file", metavar="FILE")
    feeds.set_defaults(handler=_cmd_feeds)

    wl = verbs.add_parser("watchlists", help="manage watch lists (newswatch.watchlists.v1)")
    wv = wl.add_subparsers(dest="wl_cmd", required=True, metavar="ACTION")
    apply = wv.add_parser("apply", help="store the watch lists of a YAML file; workers reload them")
    apply.add_argument("file", metavar="FILE")
    wlist = wv.add_parser("list", help="list the built-in and stored watch lists")
    wlist.add_argument("--json", action="store_true")
    wbt = wv.add_parser(
        "backtest",
        help="run the watch lists of a YAML file over stored raw articles; print what they would flag "
        "(publishes nothing)",
    )
    wbt.add_argument("file", metavar="FILE")
    wbt.add_argument("--since", default="7d", help="a duration such as 7d, 12h, or an ISO time (default 7d)")
    wbt.add_argument("--json", action="store_true", help="one JSON object per line")
    wbt.add_argument("--limit", type=_positive_int, metavar="N", help="stop after printing N alerts")
    wl.set_defaults(handler=_cmd_watchlists)

    sb = verbs.add_parser("subscriptions", help="manage alert subscriptions (newswatch.subscriptions.v1)")
    sv = sb.add_subparsers(dest="sub_cmd", required=True, metavar="ACTION")
    sadd = sv.add_parser("add", help="subscribe a channel to alerts")
    sadd.add_argument("--name", required=True)
    sadd.add_argument("--id", help="subscription id (default: generated)")
    channel = sadd.add_mutually_exclusive_group(required=True)
    channel.add_argument("--webhook", metavar="URL", help="POST alerts here (Standard Webhooks signature)")
    channel.add_argument("--slack", metavar="URL", help="a Slack-compatible incoming webhook (a secret)")
    channel.add_argument("--email", metavar="ADDR", action="append", help="email alerts here (repeatable)")
    channel.add_argument("--console", action="store_true", help="write alerts to the alerter's log")
    channel.add_argument(
        "--stream", action="store_true", help="read alerts live at /v1/subscriptions/<id>/stream"
    )
    sadd.add_argument("--secret", help="webhook secret whsec_... (default: generated and shown once)")
    sadd.add_argument("--subject-prefix", help="email subject prefix (default [newswatch])")
    sadd.add_argument("--watchlist", action="append", help="only these watch lists (repeatable)")
    sadd.add_argument("--term", action="append", help="only alerts naming this term (repeatable)")
    sadd.add_argument("--region", action="append", help="only these regions, e.g. mena (repeatable)")
    sadd.add_argument("--country", action="append", help="only these ISO country codes (repeatable)")
    sadd.add_argument("--language", action="append", help="only these languages (repeatable)")
    sadd.add_argument("--min-score", type=float, default=0.0)
    sadd.add_argument(
        "--rate-limit-per-hour", type=_nonnegative_int, default=0, metavar="N", help="0 = no limit"
    )
    sadd.add_argument(
        "--digest-every-alerts",
        type=_nonnegative_int,
        default=0,
        metavar="N",
        help="deliver N alerts at once",
    )
    sadd.add_argument(
        "--digest-every-seconds",
        type=_nonnegative_int,
        default=0,
        metavar="S",
        help="deliver what is pending S seconds after the first",
    )
    sadd.add_argument("--quiet-hours", metavar="HH:MM-HH:MM", help="hold alerts then, e.g. 22:00-07:00")
    sadd.add_argument("--timezone", help="IANA time zone of --quiet-hours, e.g. Europe/Paris (default UTC)")
    sadd.add_argument("--owner-email", metavar="ADDR", help="told when the endpoint gets disabled")
    slist = sv.add_parser("list", help="list subscriptions (secrets are never shown)")
    slist.add_argument("--json", action="store_true")
    srm = sv.add_parser("remove", help="remove a subscription")
    srm.add_argument("subscription_id")
    sb.set_defaults(handler=_cmd_subscriptions)

    dl = verbs.add_parser("deliveries", help="alert deliveries (newswatch.alerts.dlq.v1)")
    dv = dl.add_subparsers(dest="deliveries_cmd", required=True, metavar="ACTION")
    dre = dv.add_parser("replay", help="re-send dead-lettered alerts (same webhook-id) via the alerter")
    dre.add_argument("--subscription", metavar="ID", help="only this subscription's dead letters")
    dre.add_argument("--since", default="7d", help="a duration such as 7d, 12h, or an ISO time")
    dre.add_argument("--dry-run", action="store_true", help="count what would be re-sent")
    dl.set_defaults(handler=_cmd_deliveries)

    tail = verbs.add_parser("tail", help="print alerts as they arrive")
    tail.add_argument("-n", "--last", type=int, default=10, help="print the last N stored alerts first")
    tail.add_argument("--json", action="store_true", help="one JSON object per alert")
    tail.add_argument("--watchlist", help="only this watch list")
    tail.add_argument("--max-alerts", type=int, help="exit after printing this many")
    tail.add_argument("--timeout-seconds", type=float, help="exit after this long")
    tail.add_argument(
        "--api-url",
        metavar="URL",
        help="the alerter API (default http://NEWSWATCH_API_HOST:NEWSWATCH_API_PORT; token from "
        "NEWSWATCH_API_TOKEN)",
    )
    tail.add_argument(
        "--source",
        choices=["auto", "api", "kafka"],
        default="auto",
        help="the alerter's live stream, or newswatch.alerts.v1 read directly (auto: the stream when "
        "NEWSWATCH_API_TOKEN is set)",
    )
    tail.set_defaults(handler=_cmd_tail)

    check = verbs.add_parser(
        "check-feed", help="fetch, parse and match one feed; print what would be flagged"
    )
    check.add_argument("url")
    check.add_argument("--json", action="store_true", help="one JSON object per entry")
    check.add_argument("--watchlists", metavar="FILE", help="also match the watch lists of this YAML file")
    check.add_argument(
        "--full-text", action="store_true", help="fetch each entry's page and match its main text"
    )
    check.set_defaults(handler=_cmd_check_feed)

    replay = verbs.add_parser("replay", help="re-publish stored raw articles through the processor")
    replay.add_argument("--since", default="1d", help="a duration such as 7d, 12h, or an ISO time")
    replay.add_argument("--feed", help="only this feed id")
    replay.add_argument("--dry-run", action="store_true", help="count what would be re-published")
    replay.set_defaults(handler=_cmd_replay)

    st = verbs.add_parser("settings", help="print every setting with its value and meaning")
    st.set_defaults(handler=_cmd_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(config_file=args.config)
    except SettingsError as exc:
        print(f"newswatch: bad setting {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_format, settings.log_level)
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except SettingsError as exc:
        print(f"newswatch: bad setting {exc}", file=sys.stderr)
        return 2
    except NewswatchError as exc:
        print(f"newswatch: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"newswatch: {exc}", file=sys.stderr)
        return 2
