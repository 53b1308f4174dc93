"""The resumable transfer of one object, in any direction: upload, download, or bucket-to-bucket copy.

Small objects (under the threshold) move in one request. Larger ones move as parts: the part record is
written before the first byte moves and gains a line each time the destination confirms a part, so a run
cut short at any moment — SIGKILL included — is resumed by running the same transfer again: parts already
confirmed are not sent again. What a record says is checked before it is trusted: a damaged record, a
source that changed, or an upload the server no longer has each discard the record (aborting the stale
upload, so nothing is left behind and billed) and start the object again.

Verification happens before a local destination appears (the temporary file is checked, then renamed);
a remote destination that fails verification is deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar, cast

from ferry.errors import (
    FerryError,
    InterruptedTransfer,
    NotFoundError,
    RecordDamagedError,
    RetryableError,
    SourceChangedError,
    TransferError,
    UnsupportedError,
    UploadGoneError,
    VerificationError,
)
from ferry.storage.base import (
    MD5_METADATA_KEY,
    ChunkWriter,
    ObjectInfo,
    PartResult,
    SequentialStore,
    Store,
    WriteOptions,
    md5_hex_to_b64,
)
from ferry.transfer.chunks import ChunkFeed
from ferry.transfer.events import TransferListener
from ferry.transfer.options import TransferOptions
from ferry.transfer.parts import (
    COPY_AUTO_PART_SIZE,
    STREAM_RUN,
    Span,
    align_part_size,
    choose_part_size,
    multipart_etag,
    runs,
    split,
)
from ferry.transfer.ratelimit import RateLimiter
from ferry.transfer.retry import call_with_retry

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ferry.transfer.record import PartRecord, RecordHeader, RecordSlot

T = TypeVar("T")
W = TypeVar("W")

MAX_RESTARTS = 2
HASH_CHUNK = 8 * 1024 * 1024


@dataclass
class TransferResult:
    """What one object's transfer did. ``transferred`` counts only the bytes THIS run moved."""

    kind: str
    source: str
    destination: str
    size: int
    transferred: int = 0
    multipart: bool = False
    server_side: bool = False
    part_size: int | None = None
    parts_total: int = 0
    parts_resumed: int = 0
    elapsed: float = 0.0
    md5: str | None = None
    verified: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    dry_run: bool = False
    skipped: str | None = None
    """Why nothing was moved although nothing failed: with ``incremental``, the destination is current."""

    @property
    def resumed(self) -> bool:
        return self.parts_resumed > 0


UP_TO_DATE = "the destination is up to date (same size, not older)"


def destination_is_current(source: ObjectInfo, destination: ObjectInfo) -> bool:
    """obsutil's incremental rule: transfer only when the destination lacks the object, its size differs,
    or the source is newer. Times are compared to the second: filesystems and S3 keep different
    precision, and a copy made in the same second as its source is not older than it."""
    return destination.size == source.size and int(destination.mtime) >= int(source.mtime)


def transfer_kind(source: Store, destination: Store) -> str:
    src_local, dst_local = source.capabilities.is_local, destination.capabilities.is_local
    if src_local and dst_local:
        raise UnsupportedError("both locations are local: ferry moves data into, out of and between buckets")
    return "upload" if src_local else "download" if dst_local else "copy"


class ObjectTransfer:
    """Moves ``source_key`` of ``source`` to ``dest_key`` of ``dest``. Create, then :meth:`run` once."""

    def __init__(
        self,
        source: Store,
        source_key: str,
        dest: Store,
        dest_key: str,
        options: TransferOptions,
        listener: TransferListener | None = None,
        stop: threading.Event | None = None,
        limiter: RateLimiter | None = None,
        listed: ObjectInfo | None = None,
    ) -> None:
        """``limiter`` shares one bandwidth limit among several transfers (a task's objects); without it,
        ``options.bwlimit`` applies to this transfer alone. ``listed`` is what a listing said of the
        source: a small download trusts it instead of asking the server again (see :meth:`_source_info`)."""
        self._listed = listed
        self.src, self.src_key = source, source_key
        self.dst, self.dst_key = dest, dest_key
        self.options = options
        self.listener = listener or TransferListener()
        self.stop = stop or threading.Event()
        self.kind = transfer_kind(source, dest)
        self.server_side = (
            self.kind == "copy"
            and not options.stream_copy
            and source.capabilities.server_side_copy
            and dest.capabilities.server_side_copy
            and source.identity() == dest.identity()
        )
        self.result = TransferResult(
            kind=self.kind,
            source=source.url(source_key),
            destination=dest.url(dest_key),
            size=0,
            server_side=self.server_side,
            dry_run=options.dry_run,
        )
        self._limiter = limiter or (RateLimiter(options.bwlimit) if options.bwlimit else None)
        self._count_lock = threading.Lock()
        self._halt = Halt(self.stop, threading.Event())
        self._md5_of_source: tuple[str | None] | None = None  # worked out at most once per attempt

    # --- plumbing ----------------------------------------------------------------------------------------

    def _retry(self, operation: Callable[[], T]) -> T:
        def on_retry(exc: RetryableError, failures: int, wait_s: float) -> None:
            self.listener.notice(f"retrying in {wait_s:.1f}s (attempt {failures + 1}): {exc}")

        return call_with_retry(operation, self.options.retry, stop=self._halt, on_retry=on_retry)

    def _notice(self, message: str) -> None:
        self.result.notices.append(message)
        self.listener.notice(message)

    def _moved(self, n: int) -> None:
        with self._count_lock:
            self.result.transferred += n
        self.listener.advanced(n)

    def _throttle(self, n: int) -> None:
        if self._limiter is not None:
            wait_s = self._limiter.reserve(n)
            if wait_s > 0 and self._halt.wait(wait_s):
                raise InterruptedTransfer("interrupted")

    def _check_stop(self) -> None:
        if self._halt.is_set():
            raise InterruptedTransfer("interrupted")

    # --- the plan ----------------------------------------------------------------------------------------

    def _write_options(self, info: ObjectInfo, source_md5: str | None) -> WriteOptions:
        """The destination's metadata: the source's (for copies) and content type, the user's on top, and
        ``md5chksum`` where the whole object's MD5 is known."""
        user = self.options.write
        metadata: dict[str, str] = {}
        content_type = user.content_type
        if self.kind == "copy":
            if self.options.copy_user_metadata:
                metadata.update(info.metadata)
            content_type = content_type or info.content_type
        elif self.kind == "upload":
            content_type = content_type or mimetypes.guess_type(self.src_key)[0]
        metadata.update(user.metadata)
        if source_md5:
            metadata[MD5_METADATA_KEY] = md5_hex_to_b64(source_md5)
        return user.merged(metadata=metadata, content_type=content_type)

    def _source_md5(self, info: ObjectInfo) -> str | None:
        """The whole source's MD5 when verification asks for it: computed for a local file, read from the
        store otherwise (``None`` if the store cannot tell). Worked out once per attempt."""
        if not self.options.verify_md5:
            return None
        if self._md5_of_source is None:
            known: str | None
            if self.kind == "upload":
                known = _md5_of(self.src, self.src_key, info.size, self._halt)
            else:
                known = info.md5_hex()
                if known is None:
                    self._notice(
                        f"cannot verify the MD5 of {self.result.source}: it has no {MD5_METADATA_KEY} "
                        "metadata and its ETag is not an MD5 (multipart or encrypted): no MD5 was compared"
                    )
            self._md5_of_source = (known,)
        return self._md5_of_source[0]

    def run(self) -> TransferResult:
        started = time.monotonic()
        try:
            for restart in range(MAX_RESTARTS + 1):
                self._halt = Halt(self.stop, threading.Event())
                self._md5_of_source = None
                info = self._source_info(first=restart == 0)
                self.result.size = info.size
                if self.options.incremental and restart == 0:
                    self.result.skipped = self._up_to_date(info)
                    if self.result.skipped:
                        break
                try:
                    threshold = self.options.copy_threshold if self.server_side else self.options.threshold
                    if info.size < threshold or info.size == 0:
                        self._single(info)
                    else:
                        self._multipart(info)
                    break
                except (SourceChangedError, UploadGoneError) as exc:
                    if restart == MAX_RESTARTS:
                        raise TransferError(f"{exc}; gave up after {MAX_RESTARTS + 1} tries") from exc
                    self._notice(f"{exc}; starting this object again")
        finally:
            self.result.elapsed = time.monotonic() - started
        return self.result

    def _source_info(self, first: bool) -> ObjectInfo:
        """The source's size, time and ETag. A download below the threshold without MD5 verification
        needs nothing a listing did not already say, nor does a server-side copy below the copy threshold
        that keeps the source's metadata: their one request is pinned to the listed ETag — a changed
        source is still caught, and the retry asks the server. Saving the HEAD request halves the
        requests of a task of small objects."""
        listed = self._listed
        if first and listed is not None and listed.etag and not self.options.verify_md5:
            if self.kind == "download" and listed.size < self.options.threshold:
                return listed
            if self.server_side and listed.size < self.options.copy_threshold and not self._copy_rewrites():
                return listed
        return self._retry(lambda: self.src.stat(self.src_key))

    def _copy_rewrites(self) -> bool:
        """A server-side copy writes the destination's metadata itself (rather than keeping the source's)."""
        return (
            self.options.write != WriteOptions()
            or self.options.verify_md5
            or not self.options.copy_user_metadata
        )

    def _up_to_date(self, info: ObjectInfo) -> str | None:
        """Why the destination needs nothing (same size, and no older than the source), or ``None``."""
        try:
            current = self._retry(lambda: self.dst.stat(self.dst_key))
        except NotFoundError:
            return None
        if destination_is_current(info, current):
            return UP_TO_DATE
        return None

    # --- one request -------------------------------------------------------------------------------------

    def _single(self, info: ObjectInfo) -> None:
        result = self.result
        if self.options.dry_run:
            return
        self.listener.started(result.source, info.size, 0)
        self._throttle(info.size)
        if self.server_side:
            options = self._write_options(info, info.md5_hex()) if self._copy_rewrites() else None
            self._retry(
                lambda: self.dst.copy_object(self.dst_key, self.src, self.src_key, options, info.etag)
            )
            if self.options.verify_md5:
                self._moved(info.size)
                self._verify_copy_md5(info, self._verify_remote_length(info))
                return
        else:
            data = self._retry(lambda: self.src.read_range(self.src_key, 0, info.size, if_match=info.etag))
            md5 = hashlib.md5(data, usedforsecurity=False).hexdigest() if self.options.verify_md5 else None
            expected = self._source_md5(info) if self.kind != "upload" else md5
            if expected is not None and expected != md5:
                raise VerificationError(
                    f"{result.source}: MD5 mismatch: the source says {expected}, the bytes read give {md5}; "
                    "nothing was written"
                )
            options = self._write_options(info, md5)
            send_md5 = md5 if not self.dst.capabilities.is_local else None  # the server checks it too
            etag = self._retry(lambda: self.dst.put(self.dst_key, data, options, md5_hex=send_md5))
            if md5 is not None:
                if etag and len(etag) == 32 and etag != md5:
                    self._discard_destination()
                    raise VerificationError(
                        f"{result.destination}: the destination's MD5 {etag} is not {md5}"
                    )
                result.md5 = md5
                result.verified.append("md5")
        self._moved(info.size)
        self._verify_remote_length(info)

    # --- parts -------------------------------------------------------------------------------------------

    def _record_slot(self) -> RecordSlot:
        return self.options.record_store().slot(
            self.kind,
            f"{self.src.identity()!r}|{self.result.source}",
            f"{self.dst.identity()!r}|{self.result.destination}",
        )

    def _multipart(self, info: ObjectInfo) -> None:
        result = self.result
        result.multipart = True
        slot = self._record_slot()
        if self.options.dry_run:
            self._plan_only(slot, info)
            return
        slot.lock()
        finished = False
        try:
            record = self._open_record(slot, info)
            if record is None:  # the destination already holds the finished object
                finished = True
                return
            try:
                self._send_parts(record, info)
                self._finish(record, info)
            finally:
                record.close()
            record.discard()
            finished = True
        finally:
            slot.release(finished=finished)

    def _plan_only(self, slot: RecordSlot, info: ObjectInfo) -> None:
        try:
            record = slot.load()
        except RecordDamagedError:
            record = None
        if record is not None and record.header.fingerprint != info.fingerprint():
            record = None  # a run would discard it
        part_size = record.header.part_size if record else self._part_size(info)
        self.result.part_size = part_size
        self.result.parts_total = len(split(info.size, part_size))
        self.result.parts_resumed = len(record.parts) if record else 0

    def _discard_record(self, slot: RecordSlot, upload_id: str | None, why: str) -> None:
        """Drop a record that cannot be trusted, aborting its upload so no stale parts stay on the server."""
        self._notice(why)
        if upload_id:
            with contextlib.suppress(FerryError):
                self.dst.abort_multipart(self.dst_key, upload_id)
        slot.discard()

    def _abort_orphans(self, slot: RecordSlot) -> None:
        """A damaged record may have lost its upload id. Abort the unfinished uploads of exactly this key
        that were started no later than the record was last written: the record's own upload is among
        them, and an upload another client starts from now on is not."""
        written = slot.written_at()
        if written is None:
            return
        with contextlib.suppress(FerryError):
            for key, upload_id, started in list(self.dst.list_uploads(self.dst_key)):
                if key == self.dst_key and started <= written + 1:
                    self.dst.abort_multipart(key, upload_id)

    def _abort_unrecorded(self, since: float | None, keep: str | None) -> None:
        """Abort the unfinished uploads of exactly this key started since ``since`` (when the intent to
        start one was recorded; 2 s of clock difference allowed), but ``keep``: uploads this object's runs
        started and never recorded. An upload started before the intent is not ours and stays."""
        if since is None:
            return
        with contextlib.suppress(FerryError):
            for key, upload_id, started in list(self.dst.list_uploads(self.dst_key)):
                if key == self.dst_key and upload_id != keep and started >= since - 2:
                    self.dst.abort_multipart(key, upload_id)

    def _open_record(self, slot: RecordSlot, info: ObjectInfo) -> PartRecord | None:
        """Resume from a trustworthy record, or start a new upload with a new record. ``None`` when the
        record shows the object was completed before the last run ended."""
        from ferry.transfer.record import PENDING_UPLOAD  # loaded by multipart transfers alone

        try:
            record = slot.load()
        except RecordDamagedError as exc:
            self._abort_orphans(slot)
            self._discard_record(slot, slot.peek_upload_id(), f"{exc}; starting this object again")
            record = None
        if record is not None and record.header.upload_id == PENDING_UPLOAD:
            self._abort_unrecorded(slot.written_at(), keep=None)
            slot.discard()
            record = None
        if record is not None:
            header = record.header
            if header.fingerprint != info.fingerprint() or header.size != info.size:
                self._discard_record(
                    slot,
                    header.upload_id,
                    f"{self.result.source} changed since the last run "
                    f"({_describe_change(header.fingerprint, info)}); starting this object again",
                )
                record = None
            elif header.server_side != self.server_side:
                self._discard_record(
                    slot, header.upload_id, "the copy method changed; starting this object again"
                )
                record = None
        if record is not None:
            try:
                on_server = self._retry(
                    lambda: self._parts_on_server(record.header)  # type: ignore[union-attr]
                )
            except UploadGoneError:
                if len(record.parts) == len(
                    split(info.size, record.header.part_size)
                ) and self._already_complete(record):
                    self._notice(f"{self.result.destination} was completed by an earlier run")
                    self._fill_result(record)
                    self.result.parts_resumed = self.result.parts_total
                    record.discard()
                    return None
                self._discard_record(
                    slot,
                    None,
                    "the upload recorded by an earlier run no longer exists; starting this object again",
                )
                record = None
            else:
                if on_server is not None:
                    record.parts = {
                        n: p
                        for n, p in record.parts.items()
                        if n in on_server and on_server[n].etag == p.etag
                    }
        if record is None:
            record = self._new_record(slot, info)
        self._fill_result(record)
        self.result.parts_resumed = len(record.parts)
        return record

    def _part_size(self, info: ObjectInfo) -> int:
        """The part size for a new upload: the requested or automatic one, within the destination's part
        limit, rounded up to its part granularity."""
        caps = self.dst.capabilities
        requested = self.options.part_size
        if requested is None and self.server_side:
            requested = COPY_AUTO_PART_SIZE
        size = choose_part_size(info.size, requested, max_parts=caps.max_parts)
        return align_part_size(size, caps.part_granularity)

    def _parts_on_server(self, header: RecordHeader) -> dict[int, PartResult] | None:
        """What the destination holds of the recorded upload. A store that takes parts in sequence knows a
        byte count, not parts, so it is told the part size."""
        if self.dst.capabilities.sequential_parts:
            store = cast(SequentialStore, self.dst)
            return store.list_parts(self.dst_key, header.upload_id, header.size, header.part_size)
        return self.dst.list_parts(self.dst_key, header.upload_id, header.size)

    def _new_record(self, slot: RecordSlot, info: ObjectInfo) -> PartRecord:
        from ferry.transfer.record import PENDING_UPLOAD, RecordHeader

        source_md5 = self._source_md5(info)
        part_size = self._part_size(info)
        options = self._write_options(info, source_md5)
        header = RecordHeader(
            kind=self.kind,
            source=self.result.source,
            destination=self.result.destination,
            upload_id=PENDING_UPLOAD,
            size=info.size,
            part_size=part_size,
            fingerprint=info.fingerprint(),
            server_side=self.server_side,
            source_md5=source_md5,
        )
        # The intent is recorded before the server holds anything: a run killed before it records the
        # upload's id, or a creation whose answer was lost, leaves an upload that only this key's
        # listing can find.
        slot.create(header)
        since = slot.written_at()
        calls = 0

        def create() -> str:
            nonlocal calls
            calls += 1
            return self.dst.create_multipart(self.dst_key, info.size, options)

        upload_id = self._retry(create)
        if calls > 1:  # an earlier try may have started an upload whose answer never came
            self._abort_unrecorded(since, keep=upload_id)
        header = replace(header, upload_id=upload_id)
        try:
            return slot.create(header)
        except BaseException:
            with contextlib.suppress(FerryError):
                self.dst.abort_multipart(self.dst_key, upload_id)
            raise

    def _fill_result(self, record: PartRecord) -> None:
        self.result.part_size = record.header.part_size
        self.result.parts_total = len(split(record.header.size, record.header.part_size))

    def _already_complete(self, record: PartRecord) -> bool:
        """Whether the destination holds exactly the object these recorded parts make (a run that died
        between completing the upload and deleting its record)."""
        try:
            info = self.dst.stat(self.dst_key)
        except FerryError:
            return False
        if info.size != record.header.size:
            return False
        if self.dst.capabilities.lists_parts:
            parts = [record.parts[n].etag for n in sorted(record.parts)]
            return info.etag == multipart_etag(parts)
        return info.mtime >= record.header.created

    def _send_parts(self, record: PartRecord, info: ObjectInfo) -> None:
        caps = self.dst.capabilities
        spans = split(info.size, record.header.part_size)
        todo = [s for s in spans if s.number not in record.parts]
        parallel = self.options.parallel
        if caps.sequential_parts:  # one at a time, in order, from the first part the store lacks
            parallel = 1
            todo = [s for s in spans if todo and s.number >= todo[0].number]
        already = info.size - sum(s.length for s in todo)
        self.listener.started(self.result.source, info.size, already)
        record_lock = threading.Lock()
        check_md5 = (
            self.options.verify_md5 and not self.server_side and not caps.is_local and caps.part_etags_are_md5
        )

        def landed(part: PartResult, span: Span) -> None:
            with record_lock:
                record.add(part)
            self._moved(span.length)

        def send(span: Span) -> None:
            self._check_stop()
            self._throttle(span.length)
            landed(self._retry(lambda: self._send_one(record.header.upload_id, span, info, check_md5)), span)

        if caps.writes_chunks and not self.server_side:
            writer = cast(ChunkWriter, self.dst)

            def stream(run: list[Span]) -> None:
                """One ranged read for the run; each part recorded as it lands, so a retry (or a later run)
                reads only from the first part still missing."""
                left = list(run)

                def attempt() -> None:
                    first = left[0]
                    chunks = self.src.read_range_chunks(
                        self.src_key, first.offset, left[-1].end - first.offset, if_match=info.etag
                    )
                    with contextlib.closing(chunks):
                        feed = ChunkFeed(chunks)
                        while left:
                            span = left[0]
                            self._check_stop()
                            self._throttle(span.length)
                            part = writer.upload_part_chunks(
                                self.dst_key, record.header.upload_id, span, feed.take(span.length)
                            )
                            landed(part, span)
                            left.pop(0)

                self._retry(attempt)

            # Runs small enough that every worker has one, and never under a part.
            per_worker = -(-sum(s.length for s in todo) // max(1, parallel))
            run_bytes = max(record.header.part_size, min(STREAM_RUN, per_worker))
            _run_all(stream, runs(todo, run_bytes), parallel, self._halt)
            return
        _run_all(send, todo, parallel, self._halt)

    def _send_one(self, upload_id: str, span: Span, info: ObjectInfo, check_md5: bool) -> PartResult:
        if self.server_side:
            return self.dst.copy_part(self.dst_key, upload_id, span, self.src, self.src_key, info.etag)
        data = self.src.read_range(self.src_key, span.offset, span.length, if_match=info.etag)
        part = self.dst.upload_part(self.dst_key, upload_id, span, data)
        if check_md5:
            md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            if part.etag.lower() != md5:
                raise RetryableError(
                    f"{self.result.destination}: part {span.number} arrived damaged (MD5 differs)"
                )
        return part

    def _finish(self, record: PartRecord, info: ObjectInfo) -> None:
        header = record.header
        if self.kind == "upload":  # a local file has no ETag to pin: look again before committing
            now = self._retry(lambda: self.src.stat(self.src_key))
            if now.fingerprint() != header.fingerprint:
                raise SourceChangedError(f"{self.result.source} changed during the transfer")
        parts = [record.parts[n] for n in sorted(record.parts)]
        staged = self.dst.staged_key(self.dst_key, header.upload_id)
        if staged is not None:
            self._verify_staged(staged, header, info)
        try:
            self._retry(lambda: self.dst.complete_multipart(self.dst_key, header.upload_id, parts))
        except UploadGoneError:
            if not self._already_complete(record):  # a completion whose answer was lost, then retried
                raise
        if staged is None:
            self._verify_remote(header, info)

    # --- verification ------------------------------------------------------------------------------------

    def _verify_staged(self, staged: str, header: RecordHeader, info: ObjectInfo) -> None:
        """Check a local temporary file before it is renamed into place."""
        size = self.dst.stat(staged).size
        if size != info.size:
            self.dst.abort_multipart(self.dst_key, header.upload_id)
            raise VerificationError(
                f"{self.result.destination}: length {size} is not {info.size}; nothing written"
            )
        self.result.verified.append("length")
        if self.options.verify_md5:
            expected = self._source_md5(info)
            if expected is None:
                return
            actual = _md5_of(self.dst, staged, size, self._halt)
            if actual != expected:
                self.dst.abort_multipart(self.dst_key, header.upload_id)
                raise VerificationError(
                    f"{self.result.destination}: MD5 mismatch (source {expected}, received {actual}); "
                    "nothing written"
                )
            self.result.md5 = actual
            self.result.verified.append("md5")

    def _verify_copy_md5(self, info: ObjectInfo, written: ObjectInfo | None) -> None:
        """A copy's MD5 check: the source's MD5 (its ``md5chksum``, or a one-part ETag) against the
        destination's content MD5 — its ETag where that is one, else the MD5 of its bytes read back (the
        ``md5chksum`` ferry just wrote proves nothing). Nothing to compare is a notice, not a pass."""
        expected = self._source_md5(info)
        if expected is None:
            return
        written = written or self._retry(lambda: self.dst.stat(self.dst_key))
        actual = written.etag_md5()
        if actual is None:
            actual = _md5_of(self.dst, self.dst_key, written.size, self._halt)
        if actual != expected:
            self._discard_destination()
            raise VerificationError(
                f"{self.result.destination}: MD5 mismatch (source {expected}, destination {actual}); "
                "the destination was deleted"
            )
        self.result.md5 = actual
        self.result.verified.append("md5")

    def _verify_remote(self, header: RecordHeader, info: ObjectInfo) -> None:
        written = self._verify_remote_length(info)
        if self.options.verify_md5 and self.kind == "copy":
            self._verify_copy_md5(info, written)
            return
        if self.options.verify_md5 and header.source_md5 is not None:
            written = written or self._retry(lambda: self.dst.stat(self.dst_key))
            if written.md5_hex() != header.source_md5:
                self._discard_destination()
                raise VerificationError(
                    f"{self.result.destination}: MD5 mismatch (source {header.source_md5}, "
                    f"destination {written.md5_hex()}); the destination was deleted"
                )
            self.result.md5 = header.source_md5
            self.result.verified.append("md5")

    def _verify_remote_length(self, info: ObjectInfo) -> ObjectInfo | None:
        if not self.options.verify_length or self.options.dry_run:
            return None
        written = self._retry(lambda: self.dst.stat(self.dst_key))
        if written.size != info.size:
            self._discard_destination()
            raise VerificationError(
                f"{self.result.destination}: length {written.size} is not {info.size}; "
                "the destination was deleted"
            )
        self.result.verified.append("length")
        return written

    def _discard_destination(self) -> None:
        with contextlib.suppress(FerryError):
            self.dst.delete(self.dst_key)


class Halt:
    """Set when the user stops the transfer (``stop``) or when one part failed and the rest should stop
    (``failed``, fresh for every attempt at the object). Waits end early on either."""

    def __init__(self, stop: threading.Event, failed: threading.Event) -> None:
        self.stop, self.failed = stop, failed

    def is_set(self) -> bool:
        return self.stop.is_set() or self.failed.is_set()

    def set(self) -> None:
        self.failed.set()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.failed.wait(min(left, 0.05)) or self.stop.wait(0)
        return True


def _run_all(work: Callable[[W], None], spans: list[W], parallel: int, stop: Halt) -> None:
    """Run ``work`` over ``spans`` (parts, or runs of parts) with ``parallel`` threads. The first failure
    stops the rest (parts in flight finish or fail on their own; nothing new starts) and is raised; a stop
    request raises InterruptedTransfer."""
    if not spans:
        return
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait  # parts: not every command

    pool = ThreadPoolExecutor(max_workers=max(1, min(parallel, len(spans))), thread_name_prefix="ferry-part")
    futures: list[Future[None]] = [pool.submit(work, s) for s in spans]
    try:
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in done if f.exception() is not None]
        if failed:
            stop.set()
            for f in futures:
                f.cancel()
            wait(futures)
            errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
            first = next((e for e in errors if not isinstance(e, InterruptedTransfer)), errors[0])
            assert first is not None
            raise first
    except KeyboardInterrupt:
        stop.set()
        for f in futures:
            f.cancel()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _md5_of(store: Store, key: str, size: int, stop: Halt) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for offset in range(0, size, HASH_CHUNK):
        if stop.is_set():
            raise InterruptedTransfer("interrupted")
        digest.update(store.read_range(key, offset, min(HASH_CHUNK, size - offset)))
    return digest.hexdigest()


def _describe_change(before: dict[str, object], now: ObjectInfo) -> str:
    after = now.fingerprint()
    changed = [
        f"{k} {before.get(k)!r} -> {after[k]!r}"
        for k in ("size", "etag", "mtime")
        if before.get(k) != after[k]
    ]
    return ", ".join(changed) or "fingerprint differs"
