"""Where AWS is for a pipeline, and the one boto3 client factory.

Endpoints in a spec are a URL, `embedded` (the embedded local AWS, resolved late from its state
file) or absent (AWS itself). Credentials always come from the default chain or an assumed role.
The CLI, the Dagster resources and the driver all build their clients here, from one
`AwsConnection`, so they reach the same endpoints with the same credentials. A Dagster resource
may also name a profile of the AWS config files and turn off TLS or its certificate checks for its
own clients (dagster-aws's boto3 options); a spec's connection, which the driver gets, never does.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Literal

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.spec import EMBEDDED, PipelineSpec

Service = Literal["kinesis", "dynamodb", "cloudwatch"]
SERVICES: tuple[Service, ...] = ("kinesis", "dynamodb", "cloudwatch")

# Emulators accept any credentials; these are used only for an embedded endpoint and only when
# the environment has none, so nothing real is ever replaced.
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class AwsConnection(BaseModel):
    """Where each AWS service is for one pipeline, and how to trust and authenticate to it.
    Holds no secret: safe to write into a driver's job file."""

    model_config = ConfigDict(frozen=True)

    region: str
    endpoints: dict[Service, str] = {}
    ca_bundle: str | None = None
    java_truststore: str | None = None
    role_arn: str | None = None
    session_name: str = "kinesis-pipelines"
    session_duration_seconds: int = 3600
    external_id_env: str | None = None
    sts_endpoint: str | None = None  # an emulator's STS; AWS's regional one otherwise
    embedded: bool = False
    max_attempts: int = 8
    profile_name: str | None = None  # a profile of the AWS config files; none: the default chain
    use_ssl: bool = True
    verify: bool = True  # False: no certificate checks; True: boto3's (AWS_CA_BUNDLE) or ca_bundle

    def tls_verify(self) -> str | bool | None:
        """boto3's `verify`: off when asked, the embedded AWS's CA bundle, or None (boto3's own:
        the system's certificates, or AWS_CA_BUNDLE)."""
        if not self.verify:
            return False
        return self.ca_bundle

    def endpoint(self, service: Service) -> str | None:
        """The overridden endpoint of `service`, or None for AWS itself."""
        return self.endpoints.get(service)

    def kinesis_url(self) -> str:
        """The Kinesis endpoint the receivers are given (the connector needs a URL)."""
        return self.endpoint("kinesis") or aws_endpoint("kinesis", self.region)

    def sts_url(self) -> str:
        """Where roles are assumed: the emulator's STS, or AWS's regional (partition-aware) one."""
        return self.sts_endpoint or aws_endpoint("sts", self.region)

    def external_id(self) -> str | None:
        """The external id, read from the environment variable the spec names (never stored)."""
        if self.external_id_env is None:
            return None
        value = os.environ.get(self.external_id_env)
        if not value:
            raise SpecError(
                f"credentials.external_id_env names {self.external_id_env}, which is not set: set it to "
                f"the external id that the trust policy of {self.role_arn} requires"
            )
        return value

    @property
    def kinesis_emulated(self) -> bool:
        """Kinesis is an emulator (an overridden endpoint): KCL must speak JSON, not CBOR."""
        return self.endpoint("kinesis") is not None

    def credentials_source(self) -> str:
        """Where the driver's and receivers' credentials come from, in words (never a value)."""
        if self.credential_env():
            return (
                "the embedded emulators' fixed test keys (AWS_ACCESS_KEY_ID=local, "
                "AWS_SECRET_ACCESS_KEY=local: not secrets)"
            )
        chain = (
            "the AWS default chain where the driver and executors run (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the instance profile)"
        )
        if self.role_arn:
            external = f", external id from ${self.external_id_env}" if self.external_id_env else ""
            return f"{chain}, then role {self.role_arn} assumed by the receivers{external}"
        return chain

    def credential_env(self) -> dict[str, str]:
        """Env vars a child process needs for the default chain: only the emulators' fakes."""
        if self.embedded and not os.environ.get("AWS_ACCESS_KEY_ID"):
            return dict(EMULATOR_CREDENTIALS)
        return {}


@functools.lru_cache(maxsize=64)
def aws_endpoint(service: str, region: str) -> str:
    """AWS's own endpoint of a service in a region, from botocore's endpoint rules: partition-aware
    (amazonaws.com.cn in China, the GovCloud hosts in GovCloud). No call is made."""
    client = boto3.session.Session().client(
        service, region_name=region, aws_access_key_id="unused", aws_secret_access_key="unused"
    )
    return str(client.meta.endpoint_url)


def spec_endpoints(spec: PipelineSpec) -> dict[Service, str | None]:
    """The endpoint each service has in the spec: a URL, `embedded` or None (AWS)."""
    return {
        "kinesis": spec.stream.endpoint_url,
        "dynamodb": spec.app_table.endpoint_url,
        "cloudwatch": spec.cloudwatch_endpoint_url,
    }


def resolve_connection(spec: PipelineSpec) -> AwsConnection:
    """Every service's endpoint, the region and the credentials source of a pipeline."""
    return connect(
        spec.stream.region,
        spec_endpoints(spec),
        role_arn=spec.credentials.role_arn,
        session_name=spec.credentials.session_name,
        session_duration_seconds=spec.credentials.session_duration_seconds,
        external_id_env=spec.credentials.external_id_env,
    )


def connect(
    region: str,
    endpoints: dict[Service, str | None],
    *,
    role_arn: str | None = None,
    session_name: str = "kinesis-pipelines",
    session_duration_seconds: int = 3600,
    external_id_env: str | None = None,
    max_attempts: int = 8,
    profile_name: str | None = None,
    use_ssl: bool = True,
    verify: bool = True,
) -> AwsConnection:
    """The one resolver: endpoints are URLs, `embedded` (read from the running embedded AWS's
    state, with the CA bundle and Java trust store that go with it) or None (AWS itself)."""
    resolved = {service: url for service, url in endpoints.items() if url}
    embedded = EMBEDDED in resolved.values()
    ca_bundle = truststore = sts = None
    if embedded:
        from kinesis_pipelines.emulators.local_aws import running_state

        state = running_state()
        resolved = {s: state.endpoint(s) if url == EMBEDDED else url for s, url in resolved.items()}
        ca_bundle, truststore = state.ca_bundle, state.java_truststore
        # moto's server, which is the embedded CloudWatch, serves STS too
        sts = resolved.get("cloudwatch") or state.cloudwatch_endpoint
    return AwsConnection(
        region=region,
        endpoints=resolved,
        ca_bundle=ca_bundle,
        java_truststore=truststore,
        role_arn=role_arn,
        session_name=session_name,
        session_duration_seconds=session_duration_seconds,
        external_id_env=external_id_env,
        sts_endpoint=sts,
        embedded=embedded,
        max_attempts=max_attempts,
        profile_name=profile_name,
        use_ssl=use_ssl,
        verify=verify,
    )


Component = Literal["orchestrator", "driver"]


def make_client(
    service: Service, connection: AwsConnection, component: Component = "orchestrator", *, quick: bool = False
) -> Any:
    """A boto3 client for `service` with the connection's region, endpoint, trust, credentials,
    and adaptive retries that back off (throttling included). Cached per connection, so one
    pipeline's operations share one client per service (and one assumed-role session).

    `quick`: short timeouts and at most two attempts, for calls that must end well within a
    deadline (the driver's fence, renewed within its TTL).

    Its user agent names the component (`kinesis-pipelines/<version> (orchestrator)`), so CloudTrail
    and the IAM proof test tell the orchestrator's calls from the driver's."""
    return _cached_client(service, connection.model_dump_json(), component, quick)


def user_agent(component: Component) -> str:
    from kinesis_pipelines import __version__

    return f"kinesis-pipelines/{__version__} ({component})"


@functools.lru_cache(maxsize=256)
def _cached_client(
    service: Service, connection_json: str, component: Component = "orchestrator", quick: bool = False
) -> Any:
    connection = AwsConnection.model_validate_json(connection_json)
    config = Config(
        retries={"mode": "standard", "max_attempts": 2}
        if quick
        else {"mode": "adaptive", "max_attempts": connection.max_attempts},
        connect_timeout=2 if quick else 5,
        read_timeout=3 if quick else 30,
        user_agent_extra=user_agent(component),
    )
    session = _session(connection, component)
    kwargs: dict[str, Any] = {"config": config}
    endpoint = connection.endpoint(service)
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    return session.client(service, verify=connection.tls_verify(), use_ssl=connection.use_ssl, **kwargs)


def session_for(connection: AwsConnection) -> boto3.session.Session:
    """The orchestrator's boto3 session for a connection (its credentials, assumed role included)."""
    return _session(connection)


def _session(connection: AwsConnection, component: Component = "orchestrator") -> boto3.session.Session:
    """A session with the right credentials: the emulators' fakes, an assumed role that
    refreshes itself before it expires, or the default chain."""
    if connection.embedded and not os.environ.get("AWS_ACCESS_KEY_ID"):
        return boto3.session.Session(
            region_name=connection.region,
            aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
    if connection.role_arn is None:
        return boto3.session.Session(region_name=connection.region, profile_name=connection.profile_name)
    from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
    from botocore.session import Session as BotocoreSession

    source = boto3.session.Session(region_name=connection.region, profile_name=connection.profile_name)
    extra: dict[str, Any] = {
        "RoleSessionName": connection.session_name,
        "DurationSeconds": connection.session_duration_seconds,
    }
    external_id = connection.external_id()
    if external_id:
        extra["ExternalId"] = external_id

    def sts_client(service: str, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", connection.sts_url())
        kwargs.setdefault("verify", connection.tls_verify())
        kwargs.setdefault("config", Config(user_agent_extra=user_agent(component)))
        return source.client(service, **kwargs)

    fetcher = AssumeRoleCredentialFetcher(
        client_creator=sts_client,
        source_credentials=source.get_credentials(),
        role_arn=connection.role_arn,
        extra_args=extra,
    )
    core = BotocoreSession()
    # botocore has no public setter for a session's refreshing credentials
    core._credentials = DeferredRefreshableCredentials(
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    core.set_config_variable("region", connection.region)
    return boto3.session.Session(botocore_session=core)


def check_credentials(connection: AwsConnection) -> None:
    """Before anything is created: the role to assume can be assumed, with its external id.
    SpecError for a missing external id, AwsError naming the role otherwise."""
    if connection.role_arn is None:
        return
    from botocore.exceptions import BotoCoreError, ClientError

    from kinesis_pipelines.errors import AwsError

    try:
        sts = _session(connection).client(
            "sts", endpoint_url=connection.sts_url(), verify=connection.tls_verify()
        )
        sts.get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        needs = (
            f" and the external id in {connection.external_id_env}"
            if connection.external_id_env
            else " (a trust policy that requires an external id needs credentials.external_id_env)"
        )
        raise AwsError(
            f"cannot assume the role {connection.role_arn} ({exc}); check that its trust policy allows "
            f"this host's identity{needs}, and that this identity may call sts:AssumeRole on it "
            "(`kinesis-pipelines iam` writes that policy as <pipeline>.assumer.json)"
        ) from exc
