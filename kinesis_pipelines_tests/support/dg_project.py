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

            @dg.definitions
            def defs() -> dg.Definitions:
                return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
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
    """A Python script that loads the project at `root` as a stock dg project's definitions.py
    does, and prints its asset keys (for `python -c` in another environment)."""
    return textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(root)!r})
        from pathlib import Path
        import dagster as dg
        repo = dg.load_from_defs_folder(project_root=Path({str(root)!r})).get_repository_def()
        print(sorted("/".join(key.path) for key in repo.asset_graph.get_all_asset_keys()))
        """
    )
