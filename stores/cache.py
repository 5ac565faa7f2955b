"""Cache of the brand-wide part of the menu (categories, dishes, option groups), and its versions.

Every store of a brand serves the same categories, dishes, tags, allergens and option groups;
only its overrides (price, availability, stock) differ, and those are read on every request
and never cached. The brand-wide part is cached per brand and language under a key that holds
two version tokens: one per brand and one for the shared vocabulary (tags, allergens).

A menu change bumps the version when its transaction commits (``menu_changed``); the signal
receivers in ``stores.signals`` call it for every save, delete and M2M change of a menu row,
whichever code made it (admin, import, services, shell). Writes that send no signals
(``QuerySet.update()``, ``bulk_create``) must call ``menu_changed`` themselves; if they do
not, the entry still expires after ``MENU_CACHE_SECONDS``.

The versions live in Django's default cache. With a cache shared by every process (Redis), a
change reaches every process at once; with the default per-process LocMemCache only the
process that made the change sees it at once, the others after ``MENU_CACHE_SECONDS``.
"""

import secrets
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

MENU_CACHE_SECONDS = 60
VOCABULARY = "vocabulary"  # the version shared by every brand: tag and allergen names

T = TypeVar("T")


def _version_key(scope: int | str) -> str:
    return f"stores:menu-version:{scope}"


def _new_token() -> int:
    # Random, not 1: a version key that was evicted and is created again must not bring back
    # entries cached under an earlier token.
    return secrets.randbits(48)


def _versions(brand_id: int) -> tuple[int, int]:
    keys = [_version_key(brand_id), _version_key(VOCABULARY)]
    found = cache.get_many(keys)
    tokens = []
    for key in keys:
        token = found.get(key)
        if token is None:
            cache.add(key, _new_token(), timeout=None)
            token = cache.get(key)
        tokens.append(token)
    return tokens[0], tokens[1]


def _bump(scope: int | str) -> None:
    # No version yet (ValueError): the next read starts a new token, so nothing stale is reachable.
    with suppress(ValueError):
        cache.incr(_version_key(scope))


class _MenuBump:
    """The on_commit callback of a menu change; the cache recognises it while it is queued."""

    __slots__ = ("done", "scope")

    def __init__(self, scope: int | str):
        self.scope = scope
        self.done = False

    def __call__(self) -> None:
        _bump(self.scope)
        self.done = True  # run by a test's captureOnCommitCallbacks(execute=True), which keeps it queued


def _queued_bumps() -> list[_MenuBump]:
    """Bumps waiting for the current transaction to commit (Django empties the queue on commit
    and on rollback, so a rolled-back change leaves nothing behind)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return []
    return [
        func
        for _sids, func, _robust in connection.run_on_commit
        if isinstance(func, _MenuBump) and not func.done
    ]


def menu_changed(brand_id: int | None) -> None:
    """Record that menu rows of a brand (``None``: the shared vocabulary) changed.

    The version moves when the transaction commits, at once outside a transaction. Until then
    reads of that brand in this transaction bypass the cache (they see the uncommitted change
    and must not store it: a rollback would leave it cached).
    """
    scope = VOCABULARY if brand_id is None else brand_id
    if any(bump.scope == scope for bump in _queued_bumps()):
        return
    transaction.on_commit(_MenuBump(scope))


def brand_menu_cached(brand_id: int, language: str, build: Callable[[], T]) -> T:
    """The cached brand-wide menu, or ``build()`` stored for the next request."""
    if any(bump.scope in (brand_id, VOCABULARY) for bump in _queued_bumps()):
        return build()
    brand_version, vocabulary_version = _versions(brand_id)
    key = f"stores:menu:{brand_id}:{language}:{brand_version}:{vocabulary_version}"
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, MENU_CACHE_SECONDS)
    return value
