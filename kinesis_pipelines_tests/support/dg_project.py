"""A throwaway dg project (a package whose defs folder holds pipeline defs.yaml files), as a user's
project is laid out: for code-location loads and `dg check defs` in tests."""

from __future__ import annotations

import shutil
import textwrap
import uuid
from pathlib import Path


def make_project(tmp_path: Path, pipelines: dict[str, Path]) -> tuple[Path, str]:
    """A throwaway dg project whose defs folder holds the given defs.yaml files."""
    package = f"kp_corpus_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "project"
    (root / package / "defs").mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / package / "defs" / "__init__.py").write_text("")
    (root / package / "definitions.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            import dagster as dg
            from kinesis_pipelines.definitions import load_project_definitions

            @dg.definitions
            def defs() -> dg.Definitions:
                return load_project_definitions(Path(__file__).resolve().parent.parent)
            """
        )
    )
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "{package}"
            version = "0"
            [tool.dg]
            directory_type = "project"
            [tool.dg.project]
            root_module = "{package}"
            defs_module = "{package}.defs"
            [tool.dg.cli]
            suppress_warnings = ["project_and_activated_venv_mismatch"]
            """
        )
    )
    for name, source in pipelines.items():
        (root / package / "defs" / name).mkdir()
        shutil.copyfile(source, root / package / "defs" / name / "defs.yaml")
    return root, package


def print_asset_keys(root: Path) -> str:
    """A Python script that loads the project at `root` through the package, as a user's
    definitions.py does, and prints its asset keys (for `python -c` in another environment)."""
    return textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(root)!r})
        from pathlib import Path
        from kinesis_pipelines.definitions import load_project_definitions
        repo = load_project_definitions(Path({str(root)!r})).get_repository_def()
        print(sorted("/".join(key.path) for key in repo.asset_graph.get_all_asset_keys()))
        """
    )
