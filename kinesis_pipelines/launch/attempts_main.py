"""`python -m kinesis_pipelines.launch.attempts_main`: the attempts runner's entry point.

A module of its own because `kinesis_pipelines.launch` imports `attempts` (for its records), and
running an already-imported module with -m makes Python warn in every driver log."""

import sys

from kinesis_pipelines.launch.attempts import main

sys.exit(main())
