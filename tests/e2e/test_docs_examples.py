"""Every Python and shell example in README.md and docs/*.md runs as written, against the emulators.

A fenced block whose info string is exactly `python`, `sh` or `bash` (also indented, inside a list) is run:

- Python blocks of one doc run in order in one namespace, in a subprocess, with the emulators started as the README
  says (`--armada-queue my-queue --ready-file ...`), the `AIRFLOW_CONN_*` variables their `connections` command
  prints, and a temporary AIRFLOW_HOME. A block that defines a DAG (`@dag`, `with DAG`) is also saved in a temporary
  dags folder, and a DagBag of that folder must have no import errors.
- Shell blocks of one doc are joined into one `set -e` bash script, run in a temporary folder (with a `.venv` link to
  the venv running the tests, normally the repository's, so documented `.venv/bin/...` paths work) with its own
  HOME, a time limit, in a process group killed at the end (a walk-through may leave emulators in the background).
  The README's walk-through saves its Armada example as `.try/dags/armada_hello.py`, and `airflow dags test` must
  end in success.
- A block fenced `python no-run` or `sh no-run` (or `bash no-run`) is not run; the sentence saying why must stand in
  the 3 non-blank lines before it, or be its first comment line, and mention the docs test (`not run by the docs
  test`, `the docs test does not run this block`, ...). The skipped blocks are printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.wire, pytest.mark.timeout(400)]

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUN_LANGS = {"python", "sh", "bash"}
REASON_RE = re.compile(r"docs test|not run|not executed", re.IGNORECASE)
PYTHON_TIMEOUT = 120.0
SHELL_TIMEOUT = 180.0

# the venv running the tests (the repository's .venv under `make test`), for documented `.venv/bin/...` paths
VENV = Path(sys.prefix)
EMULATORS = [sys.executable, "-m", "airflow_provider_batch.emulators"]
SECRET_RE = re.compile(r'("(?:password|token)": )"[^"]*"')
FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a markdown file."""

    doc: str  # path relative to the repository
    line: int  # 1-based line of the opening fence
    lang: str  # python | sh | bash (the first word of the info string)
    no_run: bool
    code: str  # dedented by the fence's indentation
    before: tuple[str, ...]  # the 3 non-blank lines before the fence

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def defines_dag(self) -> bool:
        return self.lang == "python" and ("@dag" in self.code or "with DAG(" in self.code)

    @property
    def reason(self) -> str | None:
        """The sentence that says why a no-run block is not run, or None."""
        for text in self.before:
            if REASON_RE.search(text):
                return text.strip()
        first = next((ln.strip() for ln in self.code.splitlines() if ln.strip()), "")
        if first.startswith("#") and REASON_RE.search(first):
            return first
        return None


def parse_blocks(text: str, doc: str) -> list[Block]:
    """The `python`, `sh` and `bash` blocks of a markdown text, run or `no-run`; other info strings are ignored."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m["indent"], m["fence"], m["info"].strip()
        j = i + 1
        body: list[str] = []
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and stripped.strip(fence[0]) == "":
                break
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            j += 1
        words = info.split()
        if words and words[0] in RUN_LANGS and (len(words) == 1 or words[1:] == ["no-run"]):
            before = tuple(ln for ln in lines[:i] if ln.strip())[-3:]
            blocks.append(Block(doc, i + 1, words[0], len(words) == 2, "\n".join(body) + "\n", before))
        i = j + 1
    return blocks


def doc_blocks() -> dict[str, list[Block]]:
    return {
        str(p.relative_to(REPO)): parse_blocks(p.read_text(encoding="utf-8"), str(p.relative_to(REPO))) for p in DOCS
    }


ALL = doc_blocks()
PY_DOCS = [d for d, bs in ALL.items() if any(b.lang == "python" and not b.no_run for b in bs)]
SH_DOCS = [d for d, bs in ALL.items() if any(b.lang in ("sh", "bash") and not b.no_run for b in bs)]


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any Airflow setting or connection, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(extra)
    return env


# --- the parser and the no-run convention -------------------------------------------------------------------------


def test_parser_finds_indented_and_no_run_blocks_only_of_the_run_languages() -> None:
    text = textwrap.dedent(
        """\
        Intro.

        ```python
        x = 1
        ```

        - a list item:

          ```sh
          echo "$HOME"
          ```

        The docs test does not run this: it needs a real cluster.

        ```sh no-run
        kubectl get pods
        ```

        ```text
        output
        ```

        ```python title
        ignored = True
        ```
        """
    )
    blocks = parse_blocks(text, "x.md")
    assert [(b.lang, b.no_run, b.line, b.code) for b in blocks] == [
        ("python", False, 3, "x = 1\n"),
        ("sh", False, 9, 'echo "$HOME"\n'),
        ("sh", True, 15, "kubectl get pods\n"),
    ]
    assert blocks[2].reason == "The docs test does not run this: it needs a real cluster."
    assert parse_blocks("Nothing said.\n\n```python no-run\nimport os\n```\n", "y.md")[0].reason is None
    commented = parse_blocks("```sh no-run\n# not run by the docs test: it serves forever\nserve\n```\n", "z.md")
    assert commented[0].reason == "# not run by the docs test: it serves forever"


def test_every_no_run_block_says_why() -> None:
    skipped = [b for bs in ALL.values() for b in bs if b.no_run]
    missing = [b.where for b in skipped if b.reason is None]
    for b in skipped:
        print(f"not run: {b.where} ({b.lang}): {b.reason}")
    assert not missing, (
        "no-run blocks without a reason: put a sentence saying why the docs test does not run the block in the "
        f"3 lines before it (or as its first comment line): {missing}"
    )
    assert skipped, "expected some no-run blocks (the README's install block at least)"


# --- Python blocks --------------------------------------------------------------------------------------------------


@dataclass
class Emulators:
    env: dict[str, str]
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    """The emulators as the README starts them, and the AIRFLOW_CONN_* variables their `connections` command prints."""
    base = tmp_path_factory.mktemp("docs_emulators")
    ready = base / "emulators.json"
    log = (base / "emulators.log").open("wb")
    proc = subprocess.Popen(
        [*EMULATORS, "--armada-queue", "my-queue", "--ready-file", str(ready), "--step-ms", "20"],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=clean_env(TMPDIR=str(base)),
        start_new_session=True,
    )
    try:
        out = subprocess.run(
            [*EMULATORS, "connections", "--ready-file", str(ready), "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        conns = json.loads(out)
        env = {"AIRFLOW_CONN_" + conn_id.upper(): json.dumps(conn) for conn_id, conn in conns.items()}
        yield Emulators(env, proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


RUNNER = """\
import json, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for b in blocks:
    print(f"--- running {b['where']}", flush=True)
    exec(compile(b["code"], b["where"], "exec"), namespace)
dags = sys.argv[2]
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=dags)
print("DAGBAG", json.dumps({"dags": sorted(bag.dag_ids), "errors": {k: str(v) for k, v in bag.import_errors.items()}}))
"""


@pytest.mark.parametrize("doc", PY_DOCS)
def test_python_examples_run(doc: str, emulators: Emulators, tmp_path: Path) -> None:
    blocks = [b for b in ALL[doc] if b.lang == "python" and not b.no_run]
    dags = tmp_path / "dags"
    dags.mkdir()
    dag_files = []
    for b in blocks:
        if b.defines_dag:
            path = dags / f"{Path(doc).stem.lower()}_{b.line}.py"
            path.write_text(b.code, encoding="utf-8")
            dag_files.append(path)
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps([{"where": b.where, "code": b.code} for b in blocks]), encoding="utf-8")
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = clean_env(
        **emulators.env,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        HOME=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, str(runner), str(spec), str(dags)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=PYTHON_TIMEOUT,
    )
    output = result.stdout + result.stderr
    print(f"{doc}: Python examples:\n{result.stdout[-3000:]}")
    assert result.returncode == 0, f"a Python example of {doc} failed:\n{output[-6000:]}"
    bag = json.loads(next(ln for ln in result.stdout.splitlines() if ln.startswith("DAGBAG "))[len("DAGBAG ") :])
    assert bag["errors"] == {}, f"DAG examples of {doc} do not import: {bag['errors']}"
    assert len(bag["dags"]) >= len(dag_files), f"{doc}: {len(dag_files)} DAG blocks, DagBag found {bag['dags']}"


# --- shell blocks ---------------------------------------------------------------------------------------------------


def armada_example() -> str:
    """The README's Armada DAG, which its walk-through saves as .try/dags/armada_hello.py."""
    return next(b.code for b in ALL["README.md"] if b.lang == "python" and "def armada_hello" in b.code)


@pytest.mark.parametrize("doc", SH_DOCS)
def test_shell_examples_run(doc: str, tmp_path: Path) -> None:
    blocks = [b for b in ALL[doc] if b.lang in ("sh", "bash") and not b.no_run]
    work = tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(VENV)
    home = tmp_path / "home"
    home.mkdir()
    if doc == "README.md":
        # "save the Armada example above as .try/dags/armada_hello.py after step 1 creates the folder"
        (work / ".try" / "dags").mkdir(parents=True)
        (work / ".try" / "dags" / "armada_hello.py").write_text(armada_example(), encoding="utf-8")
    script = "set -e\n" + "".join(f"# --- {b.where}\n{b.code}" for b in blocks)
    (tmp_path / "script.sh").write_text(script, encoding="utf-8")
    env = clean_env(HOME=str(home), TMPDIR=str(tmp_path))
    started = time.monotonic()
    proc = subprocess.Popen(
        ["bash", str(tmp_path / "script.sh")],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    ready_left = False
    try:
        output, _ = proc.communicate(timeout=SHELL_TIMEOUT)
        # a stopped emulator removes its ready file; give the documented `kill` a moment to land
        deadline = time.monotonic() + 15
        while (ready_left := (work / ".try" / "emulators.json").exists()) and time.monotonic() < deadline:
            time.sleep(0.2)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"the shell examples of {doc} ran over {SHELL_TIMEOUT:.0f} s:\n{output[-6000:]}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever the script left in the background
    shown = SECRET_RE.sub(r'\1"***"', output[-3000:])  # the emulators' tokens, printed by `connections`
    print(f"{doc}: shell examples took {time.monotonic() - started:.0f} s:\n{shown}")
    assert proc.returncode == 0, f"the shell examples of {doc} failed (exit {proc.returncode}):\n{output[-8000:]}"
    if doc == "README.md":
        assert "hello from manual__" in output, f"the Armada example's job output is not in the log:\n{output[-6000:]}"
        assert re.search(r"DagRun Finished: dag_id=armada_hello,.*\bstate=success\b", output), (
            f"`airflow dags test armada_hello` did not end in success:\n{output[-6000:]}"
        )
        assert not ready_left, "the walk-through's emulators were not stopped by its last block"
