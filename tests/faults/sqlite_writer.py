"""One writer of scenario 12: a process that runs `hedgeops` commands as the entry point
does (`workers.cli.main` with the command's argv), one round at a time.

Each line on stdin is a round: a JSON list of argv lists. The writer runs them in turn,
letting their output go where the CLI sends it, and ends the round with one line
`@@round {"codes": [...]}` on stdout. An empty line or end of input ends the process.
One interpreter for the thirty commands of ten rounds: a process per command would spend
most of the scenario's minute importing (1.6 s each on this machine). Each command reads
its settings and makes its app as a fresh process does; the engine is the process's one
(db.engine: one per process), as a worker keeps it. An exception a `hedgeops` process
would die of is printed as its traceback and counts exit 1."""

from __future__ import annotations

import json
import sys
import traceback


def run_command(argv: list[str]) -> int:
    from workers.cli import main

    sys.argv = ["hedgeops", *argv]
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except Exception:  # what a `hedgeops` process would die of: its traceback, exit 1, the next command
        traceback.print_exc()
        return 1
    return 0


def serve() -> None:
    for line in sys.stdin:
        if not line.strip():
            return
        codes = [run_command(argv) for argv in json.loads(line)]
        sys.stderr.flush()
        print("@@round " + json.dumps({"codes": codes}), flush=True)


if __name__ == "__main__":
    serve()
