"""The exceptions ferry raises, and what each means to a user.

Every error a user can cause or meet in normal operation is a :class:`FerryError`: it carries a short
one-line message meant for people (never a secret, never a traceback) and an exit code that mirrors
obsutil's, so scripts written for it keep working::

    FerryError                      exit 6   a transfer failed
    ├── UsageError                  exit 3   a bad flag, URL or config value
    ├── NotFoundError               exit 1   a local file or an object does not exist
    ├── TaskNotFoundError           exit 2   no task with that id
    ├── BucketError                 exit 4   the bucket is missing, or access to it is denied
    ├── CredentialsError            exit 5   no usable credentials / endpoint
    ├── UnsupportedError            exit 7   the store cannot do what was asked
    ├── IncompleteError             exit 8   some objects of a task failed
    ├── InterruptedTransfer         exit 9   stopped by the user; resumable
    └── TransferError               exit 6   one object failed (after retries)
        ├── VerificationError                lengths or checksums differ
        ├── SourceChangedError               the source changed under a transfer: restart the object
        ├── UploadGoneError                  the multipart upload vanished: restart the object
        └── RetryableError                   throttling, 5xx, a reset or a timeout: try the request again

Retry decisions use :func:`ferry.transfer.retry.classify`, not this tree: the tree is about what the user
sees, the classification about what the engine does next.
"""

from __future__ import annotations


class FerryError(Exception):
    """An error with a message fit for a user and an exit code."""

    exit_code = 6
    stops_task = False
    """True for errors every other object of a task would meet too (no such bucket, refused credentials):
    a task stops starting objects at the first one, and a recover continues once the cause is fixed."""
    opaque = False
    """The message is the service's one reason for an endpoint it could not reach (see
    :func:`ferry.storage.netguard.unreachable`): it is passed on as it is, whatever happened on the way
    (no retry count appended), so that no two causes can be told apart by it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(FerryError):
    exit_code = 3


class NotFoundError(FerryError):
    exit_code = 1


class TaskNotFoundError(FerryError):
    exit_code = 2


class BucketError(FerryError):
    exit_code = 4


class BucketMissingError(BucketError):
    stops_task = True


class CredentialsError(FerryError):
    exit_code = 5
    stops_task = True


class UnsupportedError(FerryError):
    exit_code = 7


class IncompleteError(FerryError):
    exit_code = 8


class InterruptedTransfer(FerryError):
    exit_code = 9


class TransferError(FerryError):
    exit_code = 6


class VerificationError(TransferError):
    pass


class SourceChangedError(TransferError):
    pass


class UploadGoneError(TransferError):
    pass


class RetryableError(TransferError):
    pass


class RecordDamagedError(FerryError):
    """A part record failed its checksum or could not be parsed; the engine discards it and starts over."""
