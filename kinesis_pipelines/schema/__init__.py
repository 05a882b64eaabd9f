"""What is generated from the pipeline spec: the JSON schema editors use (defs.schema.json, written
by kinesis_pipelines.components.schema) and the spec reference (docs/spec-reference.md, written by
kinesis_pipelines.schema.reference)."""
