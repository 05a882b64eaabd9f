"""A pipeline's durable records in DynamoDB, so that they outlive the Dagster host: the current
driver (its handle and generation), the operator's intent, the restart history and the reshard
ledger. They live in the fence table, which becomes the pipelines' control table: one item per
record, keyed `<application>#<record>` beside the application's fence item (a KCL application
name holds no '#', so the keys never meet).

The first item, `<application>#owner`, names the pipeline and stream the application belongs to:
a second pipeline that names the same application is refused before anything is created."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kinesis_pipelines.aws import fence
from kinesis_pipelines.errors import AwsError, ControlTableConflictError

OWNER = "owner"


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

    def ensure(self) -> None:
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
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                self._ready = False
                return self.ensure()  # another host registered it at the same moment: check again
            raise AwsError(f"the control table {self.table!r} cannot be used: {exc}") from exc
        except BotoCoreError as exc:
            raise AwsError(f"the control table {self.table!r} cannot be reached: {exc}") from exc
        self._ready = True
        _VERIFIED.add(self._identity())

    def _identity(self) -> tuple[str, str, str, str, str]:
        endpoint = str(getattr(getattr(self.client, "meta", None), "endpoint_url", ""))
        return (endpoint, self.table, self.application, self.pipeline, self.stream)

    def read(self, name: str) -> str | None:
        self.ensure()
        try:
            item = self._call(
                lambda: self.client.get_item(TableName=self.table, Key=self._key(name), ConsistentRead=True)
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(f"reading {name} of {self.pipeline} from {self.table!r} failed: {exc}") from exc
        return item["document"]["S"] if item else None

    def read_many(self, names: tuple[str, ...]) -> dict[str, str | None]:
        """Several records in one BatchGetItem (strongly consistent, like `read`)."""
        self.ensure()
        request = {self.table: {"Keys": [self._key(name) for name in names], "ConsistentRead": True}}
        found: dict[str, str | None] = dict.fromkeys(names)
        try:
            while request:
                page = self._call(partial(self.client.batch_get_item, RequestItems=request))
                for item in page.get("Responses", {}).get(self.table, []):
                    found[item["application"]["S"].split("#", 1)[1]] = item["document"]["S"]
                request = page.get("UnprocessedKeys") or {}
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(
                f"reading {', '.join(names)} of {self.pipeline} from {self.table!r} failed: {exc}"
            ) from exc
        return found

    def _call(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """`call`; if the table is gone since this process checked it, check (and create) again."""
        try:
            return call()
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            _VERIFIED.discard(self._identity())
            self._ready = False
            self.ensure()
            return call()

    def write(self, name: str, document: str) -> None:
        self.ensure()
        item = {**self._key(name), "document": {"S": document}, "updated_at": {"N": f"{time.time():.3f}"}}
        try:
            self._call(lambda: self.client.put_item(TableName=self.table, Item=item))
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(f"writing {name} of {self.pipeline} to {self.table!r} failed: {exc}") from exc
