"""The poller: feeds (``newswatch.feeds.v1``) → raw articles (``newswatch.articles.raw.v1``).

One module per step, after the "when / fetch / parse / what to do with it" split:

- :mod:`~newswatch.poller.scheduler` — when each feed is checked (pure timing rules + the loop);
- :mod:`~newswatch.poller.fetcher` — HTTP download with caps, conditional GET and the SSRF guard;
- :mod:`~newswatch.poller.parser` — bytes → entries (hostile bodies refused before feedparser);
- :mod:`~newswatch.poller.identity` — canonical URLs and stable article ids;
- :mod:`~newswatch.poller.fulltext` — full-text feeds: article pages fetched, main text extracted
  (:mod:`~newswatch.poller.extract`);
- :mod:`~newswatch.poller.publisher` — entries → ``Article`` protos on Kafka, once per process;
- :mod:`~newswatch.poller.assignment` — the pollers' consumer group: which feed partitions are this poller's;
- :mod:`~newswatch.poller.ownership` — catalogue + assignment → the feeds this poller schedules;
- :mod:`~newswatch.poller.metrics` — every poller metric, built from an injected registry;
- :mod:`~newswatch.poller.service` — wires them into a :class:`~newswatch.lifecycle.Service`.

Importing this package is cheap; import the submodules you need.
"""
