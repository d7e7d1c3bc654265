"""Fixtures for the channel adapters' tests: the real peers they publish to."""

from __future__ import annotations

from tests.peers.bluesky import bluesky_pds, pytest_collection_modifyitems

__all__ = ["bluesky_pds", "pytest_collection_modifyitems"]
