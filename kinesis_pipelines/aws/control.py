"""A pipeline's durable records in DynamoDB, so that they outlive the Dagster host: the current
driver (its handle and generation), the current generation and how to launch it again, the
operator's intent, the restart history, the reshard ledger, and the lock of the pipeline's
operations (aws/oplock.py). They live in the fence table, which becomes the pipelines' control
table: one item per record, keyed `<application>#<record>` beside the application's fence item
(a KCL application name holds no '#', so the keys never meet).

The first item, `<application>#owner`, names the pipeline and stream the application belongs to:
a second pipeline that names the same application is refused before anything is created.

Every record carries a version, and every write is conditional on the version it replaces
(optimistic concurrency): two hosts that read a record and write it back cannot both succeed."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.errors import AWS_FAILURES, aws_error, has_code
from kinesis_pipelines.aws.oplock import OperationLock
from kinesis_pipelines.errors import ControlRecordConflictError, ControlTableConflictError

OWNER = "owner"
BLIND_WRITE_ATTEMPTS = 20
TABLE_WAIT_ATTEMPTS = 20


# control tables whose owner item this process has checked: (endpoint, table, application,
# pipeline, stream)
_VERIFIED: set[tuple[str, str, str, str, str]] = set()


class ControlTable:
    def __init__(self, client: Any, table: str, application: str, pipeline: str, stream: str) -> None:
        self.client, self.table, self.application = client, table, application
        self.pipeline, self.stream = pipeline, stream
        self._ready = False

    def _key(self, name: str) -> dict[str, Any]:
        return {"application": {"S": f"{self.application}#{name}"}}

    def ensure(self, _attempt: int = 0) -> None:
        """The table exists and this application's records belong to this pipeline and stream;
        ControlTableConflictError (nothing written) if another pipeline's do. Checked once per
        process (a sensor builds its backends every tick; the owner does not change)."""
        if self._ready or self._identity() in _VERIFIED:
            return
        try:
            fence.ensure_fence_table(self.client, self.table)
            found = self.client.get_item(TableName=self.table, Key=self._key(OWNER), ConsistentRead=True).get(
                "Item"
            )
            if found is None:
                self.client.put_item(
                    TableName=self.table,
                    Item={**self._key(OWNER), "pipeline": {"S": self.pipeline}, "stream": {"S": self.stream},
                          "created_at": {"N": f"{time.time():.3f}"}},
                    ConditionExpression="attribute_not_exists(application)",
                )  # fmt: skip
            elif (found["pipeline"]["S"], found["stream"]["S"]) != (self.pipeline, self.stream):
                raise ControlTableConflictError(
                    f"{self.pipeline}: the control table {self.table!r} holds the records of KCL "
                    f"application {self.application!r} for pipeline {found['pipeline']['S']!r} on stream "
                    f"{found['stream']['S']!r}; give this pipeline its own app_table.application_name, "
                    f"or delete the item {self.application}#{OWNER} if that pipeline is gone"
                )
        except AWS_FAILURES as exc:
            if has_code(exc, "ConditionalCheckFailedException"):
                self._ready = False
                return self.ensure()  # another host registered it at the same moment: check again
            if has_code(exc, "ResourceNotFoundException") and _attempt < TABLE_WAIT_ATTEMPTS:
                # another host created the table at the same moment: it is not answering yet
                time.sleep(0.5)
                return self.ensure(_attempt + 1)
            raise aws_error(exc, f"checking the control table {self.table!r}", "dynamodb") from exc
        self._ready = True
        _VERIFIED.add(self._identity())

    def _identity(self) -> tuple[str, str, str, str, str]:
        endpoint = str(getattr(getattr(self.client, "meta", None), "endpoint_url", ""))
        return (endpoint, self.table, self.application, self.pipeline, self.stream)

    def read(self, name: str) -> str | None:
        return self.read_versioned(name)[0]

    def read_versioned(self, name: str) -> tuple[str | None, int]:
        """A record's document and version (0: never written, or written before versions)."""
        self.ensure()
        try:
            item = self._call(
                lambda: self.client.get_item(TableName=self.table, Key=self._key(name), ConsistentRead=True)
            ).get("Item")
        except AWS_FAILURES as exc:
            raise aws_error(
                exc, f"reading {name} of {self.pipeline} from {self.table!r}", "dynamodb"
            ) from exc
        return _document(item)

    def read_many(self, names: tuple[str, ...]) -> dict[str, tuple[str | None, int]]:
        """Several records and their versions in one BatchGetItem (strongly consistent)."""
        self.ensure()
        request = {self.table: {"Keys": [self._key(name) for name in names], "ConsistentRead": True}}
        found: dict[str, tuple[str | None, int]] = dict.fromkeys(names, (None, 0))
        try:
            while request:
                page = self._call(partial(self.client.batch_get_item, RequestItems=request))
                for item in page.get("Responses", {}).get(self.table, []):
                    found[item["application"]["S"].split("#", 1)[1]] = _document(item)
                request = page.get("UnprocessedKeys") or {}
        except AWS_FAILURES as exc:
            doing = f"reading {', '.join(names)} of {self.pipeline} from {self.table!r}"
            raise aws_error(exc, doing, "dynamodb") from exc
        return found

    def _call(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """`call`; if the table is gone since this process checked it, check (and create) again."""
        try:
            return call()
        except AWS_FAILURES as exc:
            if not has_code(exc, "ResourceNotFoundException"):
                raise  # the caller says what it was doing
            _VERIFIED.discard(self._identity())
            self._ready = False
            self.ensure()
            return call()

    def write(self, name: str, document: str, expected_version: int | None = None) -> int:
        """Write a record as version `expected_version + 1`, only if its version is still
        `expected_version` (ControlRecordConflictError if another writer came first). Without an
        expected version, whatever version is there now is replaced (read, then the same
        conditional write, again on a conflict). Returns the version written."""
        self.ensure()
        for _ in range(BLIND_WRITE_ATTEMPTS):
            expected = self.read_versioned(name)[1] if expected_version is None else expected_version
            if self._put_if(name, document, expected):
                return expected + 1
            if expected_version is not None:
                raise ControlRecordConflictError(
                    f"{self.pipeline}: the {name} record in {self.table!r} was changed by another "
                    f"operation (it is no longer version {expected}); nothing was written. Read it "
                    "again and retry; if this repeats, another host is operating this pipeline at "
                    "the same time"
                )
        raise ControlRecordConflictError(
            f"{self.pipeline}: the {name} record in {self.table!r} changed under every one of "
            f"{BLIND_WRITE_ATTEMPTS} attempts to write it; another host keeps writing it"
        )

    def _put_if(self, name: str, document: str, expected: int) -> bool:
        item = {
            **self._key(name),
            "document": {"S": document},
            "version": {"N": str(expected + 1)},
            "updated_at": {"N": f"{time.time():.3f}"},
        }
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(#v)", "ExpressionAttributeNames": {"#v": "version"}}
            if expected == 0
            else {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": {"N": str(expected)}},
            }
        )
        try:
            self._call(lambda: self.client.put_item(TableName=self.table, Item=item, **condition))
            return True
        except AWS_FAILURES as exc:
            if has_code(exc, "ConditionalCheckFailedException"):
                return False
            raise aws_error(exc, f"writing {name} of {self.pipeline} to {self.table!r}", "dynamodb") from exc

    def operation_lock(self) -> OperationLock:
        """The lock every deploy, restart, roll and stop of this pipeline takes (aws/oplock.py)."""
        self.ensure()
        return OperationLock(self.client, self.table, self.application, self.pipeline)


def _document(item: dict[str, Any] | None) -> tuple[str | None, int]:
    if not item:
        return None, 0
    return item["document"]["S"], int(item.get("version", {}).get("N", "0"))
