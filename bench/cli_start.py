"""How fast the ``modax`` command line answers ``--help`` and ``--version``.

Peers in the same run: a bare typer app with one command (the floor any typer CLI pays), and
the import of the data stack the CLI used to load first (numba, Delta Lake, DuckDB, pandas,
Arrow, scikit-learn), which each command now loads only when it runs. Wall time of a fresh
interpreter, best of N (a shared machine only ever adds time), and its CPU time. Prints one
JSON object on its last line.

    .venv/bin/python bench/cli_start.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

BARE_TYPER = (
    "import typer\n"
    "app = typer.Typer()\n"
    "@app.command()\n"
    "def hello() -> None:\n"
    "    'Say hello.'\n"
    "app(['--help'])\n"
)
DATA_STACK = (
    "import numba, deltalake, duckdb, pandas, pyarrow.dataset, sklearn.base, modax.lake, "
    "modax.pipeline"
)


def best(command: list[str], repeat: int) -> dict[str, float]:
    """Best wall time and CPU time (user + system) of ``command`` in s, over ``repeat`` runs."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        elapsed = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        wall, cpu = min(wall, elapsed), min(cpu, used)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    figures = {
        "help": best([python, "-m", "modax", "--help"], args.repeat),
        "version": best([python, "-m", "modax", "--version"], args.repeat),
        "peer_bare_typer_help": best([python, "-c", BARE_TYPER], args.repeat),
        "peer_data_stack_import": best([python, "-c", DATA_STACK], args.repeat),
    }
    figures["help_over_bare_typer"] = round(
        figures["help"]["wall_s"] / figures["peer_bare_typer_help"]["wall_s"], 2
    )
    figures["data_stack_over_help"] = round(
        figures["peer_data_stack_import"]["wall_s"] / figures["help"]["wall_s"], 1
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
