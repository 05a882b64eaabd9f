"""The package's errors, one small tree. Every message says what was attempted and how to fix it.

KinesisPipelinesError
├── SpecError              a pipeline spec is malformed or breaks a rule (file, field, what is allowed)
├── PlanError              the spec is valid but cannot run as asked (too few cores, ...)
├── ToolMissingError       Java, Maven, Node.js or spark-submit is not installed
│   └── ExtraMissingError      a feature's Python packages (an extra: [local], [iam]...) are not installed
├── AssemblyError          the Maven build of the kinesis-asl assembly failed
├── AwsError               an AWS call failed (boto errors are chained)
│   ├── AwsAccessDeniedError   the credentials may not make the call, or are not valid
│   ├── AwsThrottledError      AWS throttled the call past boto3's retries
│   ├── AwsUnreachableError    the endpoint did not answer (aws/errors.py maps botocore's failures)
│   ├── StreamMissingError     the pipeline's stream does not exist (not deployed yet)
│   ├── AppTableConflictError  the lease table belongs to another stream or is stale
│   ├── ControlTableConflictError  the control table's records belong to another pipeline
│   └── ControlRecordConflictError another operation changed a control record first
├── EmulatorError          the embedded local AWS did not start or is not running
└── LaunchError            spark-submit, stop or status of a streaming driver failed
    └── OperationLockedError   another operation (on any host) holds the pipeline's lock
"""

from __future__ import annotations


class KinesisPipelinesError(Exception):
    """Base of every error this package raises on purpose."""


class SpecError(KinesisPipelinesError):
    """A pipeline spec is malformed or breaks a rule."""


class PlanError(KinesisPipelinesError):
    """A valid spec that cannot run as asked."""


class ToolMissingError(KinesisPipelinesError):
    """A program the package needs is not installed."""


class ExtraMissingError(ToolMissingError):
    """A feature's Python packages, an optional part of the install (an extra), are not installed."""


class AssemblyError(KinesisPipelinesError):
    """Building the kinesis-asl assembly jar failed."""


class AwsError(KinesisPipelinesError):
    """An AWS call failed."""


class AwsAccessDeniedError(AwsError):
    """AWS refused the call: the credentials may not do it, or are not valid."""


class AwsThrottledError(AwsError):
    """AWS throttled the call, and boto3's retries did not get through."""


class AwsUnreachableError(AwsError):
    """No answer from the AWS endpoint (down, wrong address, network cut, TLS refused)."""


class StreamMissingError(AwsError):
    """The pipeline's stream does not exist: the pipeline was never deployed, or was deleted."""


class AppTableConflictError(AwsError):
    """The KCL application table holds state that does not belong to this stream."""


class ControlTableConflictError(AwsError):
    """The control table holds this KCL application's records for another pipeline."""


class ControlRecordConflictError(AwsError):
    """A control record's conditional write lost to another writer (optimistic concurrency)."""


class EmulatorError(KinesisPipelinesError):
    """The embedded local AWS could not be started or reached."""


class LaunchError(KinesisPipelinesError):
    """Submitting, stopping or inspecting a streaming driver failed."""


class OperationLockedError(LaunchError):
    """Another deploy, restart, roll or stop of the pipeline holds its lock, on this host or another."""
