"""What the operations act on for one pipeline, built once: the stream, the lease table, the
fence and metrics clients, the launcher chosen from the spec, and the pipeline's stored state.
Clients are made on first use, so planning works while AWS is unreachable."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from kinesis_pipelines.aws.connection import AwsConnection, make_client, resolve_connection
from kinesis_pipelines.aws.control import ControlTable
from kinesis_pipelines.aws.dynamodb import AppTable
from kinesis_pipelines.aws.kinesis import KinesisStream
from kinesis_pipelines.launch import Launcher, launcher_for
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.state import PipelineStore

Progress = Callable[[str], None]

STOP_TIMEOUT_SECONDS = 90.0
START_TIMEOUT_SECONDS = 180.0


def quiet(_message: str) -> None:
    """A progress callback that says nothing."""


class Backends:
    """One pipeline's backends. Pass your own to replace any of them (tests, other hosts)."""

    def __init__(
        self,
        spec: PipelineSpec,
        *,
        connection: AwsConnection | None = None,
        launcher: Launcher | None = None,
        store: PipelineStore | None = None,
        stream: KinesisStream | None = None,
        app_table: AppTable | None = None,
        stop_timeout_seconds: float = STOP_TIMEOUT_SECONDS,
        start_timeout_seconds: float = START_TIMEOUT_SECONDS,
    ) -> None:
        self.spec = spec
        self._connection = connection
        if stream is not None:
            self.stream = stream
        if app_table is not None:
            self.app_table = app_table
        self.launcher = launcher or launcher_for(spec)
        self.store = store or PipelineStore(spec.name, durable=self._control_table)
        self.stop_timeout_seconds = stop_timeout_seconds
        self.start_timeout_seconds = start_timeout_seconds

    @cached_property
    def connection(self) -> AwsConnection:
        return self._connection or resolve_connection(self.spec)

    @cached_property
    def stream(self) -> KinesisStream:
        return KinesisStream.for_spec(self.spec, make_client("kinesis", self.connection))

    @cached_property
    def app_table(self) -> AppTable:
        return AppTable(make_client("dynamodb", self.connection), self.spec.app_table.application_name)

    def _control_table(self) -> ControlTable:
        """The pipeline's durable records in DynamoDB, beside its fence (made on first use)."""
        spec = self.spec
        return ControlTable(
            self.dynamodb,
            spec.supervision.fence_table,
            spec.app_table.application_name,
            spec.name,
            spec.stream.name,
        )

    @property
    def dynamodb(self) -> Any:
        """The DynamoDB client of the lease table and the fence."""
        return self.app_table.client

    @property
    def cloudwatch(self) -> Any:
        return make_client("cloudwatch", self.connection)


def backends_for(spec: PipelineSpec, **overrides: Any) -> Backends:
    return Backends(spec, **overrides)
