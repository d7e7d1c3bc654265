"""Loopback fakes of SaaS platforms (X, LinkedIn, Facebook, Threads, Telegram), built on
``server.FakeServer``; each follows ../shared/reference/platform-apis.md for its platform."""

from tests.peers.fakes.server import FakeServer, Reply, Request, route, running, wait_for

__all__ = ["FakeServer", "Reply", "Request", "route", "running", "wait_for"]
