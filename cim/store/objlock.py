"""One writer at a time on an object-store store: a lock object taken with a conditional PUT.

A local store locks ``_cim/write.lock`` with ``fcntl``; an object store has no such lock, so the writer
creates ``_cim/write.lock`` with ``If-None-Match: *``: S3 (and S3-compatible servers) let exactly one of
two concurrent creators succeed. The object names its holder (host, pid, a random token) and an expiry.

- **Waiting**: a second writer polls until the lock is gone, for ``CIM_STORE_LOCK_WAIT_S`` seconds (default
  600), then is refused with one line naming the holder and when its lock expires. Never do both write.
- **Expiry and a dead writer**: the holder renews its lock every third of ``CIM_STORE_LOCK_TTL_S`` (default
  300 s) with ``If-Match`` on the object's ETag, so a live writer's lock never expires however long its commit
  takes. A writer that died (kill -9, a lost machine) stops renewing; once its expiry has passed, the next
  writer breaks the lock and takes it, then the journal protocol (``Store.recover``) rolls back what the dead
  writer left half-written. Breaking is itself exclusive: the breaker must first create
  ``_cim/write.lock.break-<etag>`` (again ``If-None-Match``), so two waiters cannot both break one lock and
  delete each other's fresh one. Expiries compare wall clocks of different machines: keep them in sync (NTP).
- To clear a lock by hand (the writer is known to be dead and waiting for the expiry is not wanted), delete
  the object named in the error line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from cim.errors import StoreError
from cim.store.objects import ObjectPath

log = logging.getLogger(__name__)

TTL_ENV, WAIT_ENV = "CIM_STORE_LOCK_TTL_S", "CIM_STORE_LOCK_WAIT_S"
POLL_S = 0.5


def _seconds(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        raise StoreError(None, f"{name}={os.environ.get(name)!r} is not a number of seconds",
                         f"set {name} to seconds, e.g. {int(default)}") from None


class ObjectLock:
    """The writer lock of one store on an object store; ``with lock.held():`` around every write."""

    def __init__(self, path: ObjectPath):
        self.path = path
        self.ttl_s = _seconds(TTL_ENV, 300)
        self.wait_s = _seconds(WAIT_ENV, 600)
        self._etag: str | None = None
        self._stop = threading.Event()

    def _body(self) -> bytes:
        now = datetime.now(UTC)
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex,
                           "acquired_at": now.isoformat(),
                           "expires_at": (now + timedelta(seconds=self.ttl_s)).isoformat()}).encode()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self._acquire()
        renewer = threading.Thread(target=self._renew, name="cim-store-lock", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            self._stop.set()
            renewer.join()
            self._release()

    def _acquire(self) -> None:
        from obstore.exceptions import AlreadyExistsError

        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                self._etag = self.path.write_bytes(self._body(), mode="create")["e_tag"]
                self._stop.clear()
                return
            except StoreError as exc:
                if not isinstance(exc.__cause__, AlreadyExistsError):
                    raise
            holder = self._holder()
            if holder is not None and self._expired(holder[0]):
                self._break(holder)
                continue
            if time.monotonic() >= deadline:
                raise self._busy(holder[0] if holder else {})
            time.sleep(POLL_S)

    def _holder(self) -> tuple[dict, str] | None:
        """The lock's content and ETag, or None when it went meanwhile."""
        import obstore

        try:
            got = obstore.get(self.path.bucket.client, self.path.key)
            data = json.loads(bytes(got.bytes()))
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError):
            data = {}  # a damaged lock object: treated as expired
        except Exception as exc:
            raise self.path.bucket.fail(exc, self.path.key, "read") from exc
        return (data if isinstance(data, dict) else {}), got.meta["e_tag"]

    @staticmethod
    def _expired(holder: dict) -> bool:
        try:
            return datetime.fromisoformat(holder["expires_at"]) < datetime.now(UTC)
        except (KeyError, TypeError, ValueError):
            return True

    def _break(self, holder: tuple[dict, str]) -> None:
        """Remove an expired lock; only the one writer whose break marker was created does."""
        from obstore.exceptions import AlreadyExistsError

        content, etag = holder
        marker = self.path.with_suffix(f".lock.break-{etag.strip(chr(34))}")
        try:
            marker.write_bytes(b"", mode="create")
        except StoreError as exc:
            if isinstance(exc.__cause__, AlreadyExistsError):
                return  # another writer is breaking it
            raise
        current = self._holder()
        if current is not None and current[1] == etag:
            log.warning("store %s: the writer lock of %s (pid %s) expired at %s; taken over", self.path.parent.parent,
                        content.get("host"), content.get("pid"), content.get("expires_at"))
            self.path.unlink()
        marker.unlink()

    def _renew(self) -> None:
        while not self._stop.wait(max(self.ttl_s / 3, 0.1)):
            try:
                self._etag = self.path.write_bytes(self._body(), mode={"e_tag": self._etag})["e_tag"]
            except StoreError as exc:  # broken by another writer (we were presumed dead) or the store is gone
                log.error("store writer lock %s could not be renewed: %s", self.path, exc.one_line())
                return

    def _release(self) -> None:
        holder = self._holder()
        if holder is not None and holder[1] == self._etag:
            self.path.unlink()
        self._etag = None

    def _busy(self, holder: dict) -> StoreError:
        who = f"{holder.get('host', '?')} pid {holder.get('pid', '?')} since {holder.get('acquired_at', '?')}"
        return StoreError(self.path, f"another cim writer holds the store's lock ({who}); waited {self.wait_s:g} s",
                          f"run again when it has finished; if that writer is dead its lock expires at "
                          f"{holder.get('expires_at', '?')} (or delete {self.path} once you are sure)")
