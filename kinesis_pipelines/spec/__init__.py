"""The pipeline spec, in one place: the model (`model`), reading it from YAML (`reading`), checking
a file completely (`validation`), and what it runs with, resolved once (`runtime`: the Spark
installation, its line and connector profile, the driver's Python).

The model and the reader are imported from here; `validation` and `runtime` are imported by name
(they ask the file system and other interpreters, which the model's users need not pay for).
"""

from kinesis_pipelines.spec.model import (
    AWS_ITSELF,
    EMBEDDED,
    JOB_FS_SCHEMES,
    AppTableSpec,
    BadRecordsSpec,
    CapacityMode,
    CredentialsSpec,
    DirectorySink,
    DriverLogSpec,
    InitialPosition,
    JobSpec,
    PipelineSpec,
    StorageLevel,
    StreamSpec,
    SupervisionSpec,
    check_job_path,
    is_host_path,
)
from kinesis_pipelines.spec.reading import (
    COMPONENT_TYPE,
    format_validation_error,
    load_spec,
    parse_spec,
    resolve_templates,
    validate_spec_data,
)

__all__ = [
    "AWS_ITSELF",
    "COMPONENT_TYPE",
    "EMBEDDED",
    "JOB_FS_SCHEMES",
    "AppTableSpec",
    "BadRecordsSpec",
    "CapacityMode",
    "CredentialsSpec",
    "DirectorySink",
    "DriverLogSpec",
    "InitialPosition",
    "JobSpec",
    "PipelineSpec",
    "StorageLevel",
    "StreamSpec",
    "SupervisionSpec",
    "check_job_path",
    "format_validation_error",
    "is_host_path",
    "load_spec",
    "parse_spec",
    "resolve_templates",
    "validate_spec_data",
]
