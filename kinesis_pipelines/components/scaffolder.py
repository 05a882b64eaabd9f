"""`dg scaffold defs kinesis_pipelines.components.KinesisPipeline <name>` writes a defs.yaml that
validates and runs on the embedded AWS as it is."""

import os
import re
from pathlib import Path

from dagster.components import Scaffolder, ScaffoldRequest

TEMPLATE = """\
# yaml-language-server: $schema={schema}
type: {type_name}
attributes:
  name: {name}
  description: A Kinesis stream read by Spark Streaming receivers.
  owners: []
  stream:
    name: {stream}
    region: "{{{{ env('KP_REGION', 'us-east-1') }}}}"
    endpoint_url: "{{{{ env('KP_KINESIS_ENDPOINT', 'embedded') }}}}"
    shards: 1
  app_table:
    application_name: {stream}-app
    endpoint_url: "{{{{ env('KP_DYNAMODB_ENDPOINT', 'embedded') }}}}"
  cloudwatch_endpoint_url: "{{{{ env('KP_CLOUDWATCH_ENDPOINT', 'embedded') }}}}"
  job:
    master: "{{{{ env('KP_SPARK_MASTER', 'local') }}}}"
    batch_interval_seconds: 2
    kcl_checkpoint_interval_seconds: 2
    initial_position: TRIM_HORIZON
    max_receivers: 8
    executor_cores: 3
    processing_cores: 1
    checkpoint_dir: checkpoints
    processor: kinesis_pipelines.app.processors:passthrough
    sink:
      path: output/{name}
"""


def pipeline_name(directory_name: str) -> str:
    name = re.sub(r"[^a-z0-9_]", "_", directory_name.lower()).strip("_") or "pipeline"
    return name if name[0].isalpha() else f"p_{name}"


PROJECT_SCHEMA = Path("schemas") / "kinesis_pipeline.schema.json"
"""Where, under the project's root, the scaffolder keeps the schema editors read: in the project,
so the reference in each defs.yaml is relative and works wherever the project is checked out."""


class KinesisPipelineScaffolder(Scaffolder):
    def scaffold(self, request: ScaffoldRequest) -> None:
        from kinesis_pipelines.components.schema import write_schema

        name = pipeline_name(request.target_path.name)
        request.target_path.mkdir(parents=True, exist_ok=True)
        root = request.project_root or request.target_path
        schema = write_schema(root / PROJECT_SCHEMA)  # the installed package's, refreshed
        (request.target_path / "defs.yaml").write_text(
            TEMPLATE.format(
                schema=Path(os.path.relpath(schema, request.target_path)).as_posix(),
                type_name=request.type_name,
                name=name,
                stream=name.replace("_", "-"),
            )
        )
